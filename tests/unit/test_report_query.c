/* Tests of the store's reads for `sweep report` (report_query.c): every
 * epoch with its four metrics, the layer statistics in the network's
 * order, and every run whatever its status, all of one sweep only, of its
 * current grid unless asked for all; every setting as compare reads it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep/store.h"
#include "test.h"

static run_settings settings_of(act_kind act, long long seed)
{
    run_settings r;
    memset(&r, 0, sizeof r);
    r.activation = act;
    r.alpha = act == ACT_RELU ? NAN : 1.0;
    r.init = INIT_HE;
    r.dropout = 0.25;
    r.epochs = 2;
    r.seed = seed;
    r.batch_size = 50;
    r.learning_rate = 0.001;
    r.optimizer = OPT_ADAM;
    r.validation_split = 0.2;
    return r;
}

/* A database with sweep "a" (3 runs: done with 2 epochs and layers, done
 * with 1 epoch, failed) and sweep "b" (1 done run), to see that a read
 * stays inside its sweep. */
static store *setup(long long ids[4])
{
    sw_error err = {0};
    store *s = NULL;
    char path[512];
    snprintf(path, sizeof path, "%s/report_query.db", test_tmpdir());
    remove(path);
    run_settings runs[3] = {settings_of(ACT_RELU, 1), settings_of(ACT_ELU, 1),
                            settings_of(ACT_ELU, 2)};
    char keys[3][RUN_KEY_LEN + 1] = {"a0", "a1", "a2"}, bkey[1][RUN_KEY_LEN + 1] = {"b0"};
    long long sa, sb;
    sweep_config ca = {.name = "a", .path = "a.yaml", .text = "name: a\n"};
    sweep_config cb = {.name = "b", .path = "b.yaml", .text = "name: b\n"};
    int rc = store_open(&s, path, 1, &err);
    rc = rc ? rc : store_sweep_upsert(s, &ca, &sa, &err);
    rc = rc ? rc : store_sweep_upsert(s, &cb, &sb, &err);
    rc = rc ? rc : store_runs_ensure(s, sa, runs, keys, 3, ids, &err);
    rc = rc ? rc : store_runs_ensure(s, sb, runs, bkey, 1, ids + 3, &err);
    for (int i = 0; rc == SW_OK && i < 4; i++) {
        int claimed = 0;
        rc = store_run_claim(s, ids[i], 2, &claimed, &err);
    }
    layer_stat ls[2] = {{"dense1", 0.5, 0.25, 1.0}, {"conv1", -0.1, NAN, 2.0}};
    for (int e = 1; rc == SW_OK && e <= 2; e++) {
        epoch_metrics m = {1.0 / e, 0.5 + 0.1 * e, 1.5 / e, 0.4 + 0.1 * e, 3.0};
        ls[0].mean_activation = 0.5 * e;
        rc = store_epoch_add_layers(s, ids[0], e, &m, ls, 2, &err);
    }
    epoch_metrics m1 = {0.9, 0.6, NAN, 0.55, 2.0};
    rc = rc ? rc : store_epoch_add(s, ids[1], 1, &m1, &err);
    rc = rc ? rc : store_epoch_add(s, ids[3], 1, &m1, &err);
    train_result res = {TRAIN_DONE, 2, 0, 0.4, 0.875, 0, 0};
    rc = rc ? rc : store_run_finish(s, ids[0], RUN_DONE, &res, 10.0, NULL, &err);
    rc = rc ? rc : store_run_finish(s, ids[1], RUN_DONE, &res, 5.0, NULL, &err);
    rc = rc ? rc : store_run_finish(s, ids[2], RUN_FAILED, NULL, 1.5, "cannot <read>", &err);
    rc = rc ? rc : store_run_finish(s, ids[3], RUN_DONE, &res, 7.0, NULL, &err);
    CHECK_MSG(rc == SW_OK, "setting up: %s", err.msg);
    return s;
}

typedef struct {
    int n;
    long long run[8];
    int epoch[8];
    double m[8][STORE_EPOCH_METRIC_COUNT];
} epochs_seen;

static int on_epochs(void *ctx, long long run_id, int epoch, const double *m)
{
    epochs_seen *e = ctx;
    if (e->n < 8) {
        e->run[e->n] = run_id, e->epoch[e->n] = epoch;
        memcpy(e->m[e->n], m, sizeof e->m[0]);
    }
    e->n++;
    return 0;
}

static void test_epochs_all(void)
{
    long long ids[4];
    store *s = setup(ids);
    sw_error err = {0};
    epochs_seen e = {0};
    CHECK(store_done_epochs_all(s, "a", 0, on_epochs, &e, &err) == SW_OK);
    CHECK_INT(e.n, 3);   /* the failed run's and sweep b's epochs are not a's */
    CHECK(e.run[0] == ids[0] && e.epoch[0] == 1 && e.run[1] == ids[0] && e.epoch[1] == 2);
    CHECK(e.run[2] == ids[1] && e.epoch[2] == 1);
    CHECK_NEAR(e.m[1][STORE_EPOCH_TRAIN_LOSS], 0.5, 1e-12);
    CHECK_NEAR(e.m[1][STORE_EPOCH_TRAIN_ACCURACY], 0.7, 1e-12);
    CHECK_NEAR(e.m[1][STORE_EPOCH_VAL_LOSS], 0.75, 1e-12);
    CHECK_NEAR(e.m[1][STORE_EPOCH_VAL_ACCURACY], 0.6, 1e-12);
    CHECK(isnan(e.m[2][STORE_EPOCH_VAL_LOSS]));   /* not recorded: NaN */
    epochs_seen none = {0};
    CHECK(store_done_epochs_all(s, "nope", 0, on_epochs, &none, &err) == SW_OK);
    CHECK_INT(none.n, 0);
    store_close(s);
}

typedef struct {
    int n;
    char layer[8][16];
    int epoch[8];
    double act[8], dead[8];
} layers_seen;

static int on_layer(void *ctx, long long run_id, int epoch, const char *layer, double a,
                    double dead)
{
    layers_seen *l = ctx;
    (void)run_id;
    if (l->n < 8) {
        snprintf(l->layer[l->n], sizeof l->layer[0], "%s", layer);
        l->epoch[l->n] = epoch, l->act[l->n] = a, l->dead[l->n] = dead;
    }
    return ++l->n >= 3;   /* nonzero stops early */
}

static void test_layers(void)
{
    long long ids[4];
    store *s = setup(ids);
    sw_error err = {0};
    layers_seen l = {0};
    CHECK(store_done_layers(s, "a", 0, on_layer, &l, &err) == SW_OK);
    CHECK_INT(l.n, 3);   /* stopped after three of four */
    /* the order the trainer wrote them, not by name */
    CHECK_STR(l.layer[0], "dense1");
    CHECK_STR(l.layer[1], "conv1");
    CHECK_STR(l.layer[2], "dense1");
    CHECK(l.epoch[0] == 1 && l.epoch[2] == 2);
    CHECK_NEAR(l.act[0], 0.5, 1e-12);
    CHECK_NEAR(l.act[2], 1.0, 1e-12);
    CHECK_NEAR(l.dead[0], 0.25, 1e-12);
    CHECK(isnan(l.dead[1]));
    store_close(s);
}

typedef struct {
    int n;
    long long id[8];
    int status[8], best[8];
    double acc[8], secs[8];
    char error[8][32], act[8][16], alpha[8][16], host[64];
    int threads;
} runs_seen;

static int on_run(void *ctx, const store_any_run *r)
{
    runs_seen *v = ctx;
    if (v->n < 8) {
        int i = v->n;
        v->id[i] = r->run_id, v->status[i] = r->status, v->best[i] = r->best_epoch;
        v->acc[i] = r->test_accuracy, v->secs[i] = r->wall_seconds;
        snprintf(v->error[i], sizeof v->error[0], "%s", r->error ? r->error : "(none)");
        snprintf(v->act[i], sizeof v->act[0], "%s", r->setting[STORE_ACTIVATION].text);
        snprintf(v->alpha[i], sizeof v->alpha[0], "%s",
                 r->setting[STORE_ALPHA].is_null ? "NULL" : r->setting[STORE_ALPHA].text);
        snprintf(v->host, sizeof v->host, "%s", r->host ? r->host : "");
        v->threads = r->threads;
    }
    v->n++;
    return 0;
}

static void test_all_runs(void)
{
    long long ids[4];
    store *s = setup(ids);
    sw_error err = {0};
    runs_seen v = {0};
    CHECK(store_all_runs(s, "a", 0, on_run, &v, &err) == SW_OK);
    CHECK_INT(v.n, 3);   /* the failed run too; not b's */
    CHECK(v.id[0] == ids[0] && v.id[2] == ids[2]);
    CHECK_INT(v.status[0], RUN_DONE);
    CHECK_INT(v.status[2], RUN_FAILED);
    CHECK_STR(v.act[0], "relu");
    CHECK_STR(v.alpha[0], "NULL");
    CHECK_STR(v.act[1], "elu");
    CHECK_STR(v.alpha[1], "1.0");
    CHECK_NEAR(v.acc[0], 0.875, 1e-12);
    CHECK(isnan(v.acc[2]));
    CHECK_NEAR(v.secs[1], 5.0, 1e-12);
    CHECK_NEAR(v.secs[2], 1.5, 1e-12);
    CHECK_STR(v.error[0], "(none)");
    CHECK_STR(v.error[2], "cannot <read>");
    CHECK(v.host[0] != 0);
    CHECK_INT(v.threads, 2);
    store_close(s);
}

/* Every setting of a run as text, from store_all_runs or store_done_runs. */
typedef struct {
    long long id;
    char text[STORE_SETTING_COUNT][64];
} settings_seen;

static void keep_settings(settings_seen *v, long long id, const store_value *setting)
{
    if (id != v->id)
        return;
    for (int k = 0; k < STORE_SETTING_COUNT; k++)
        snprintf(v->text[k], sizeof v->text[k], "%s",
                 setting[k].is_null ? "NULL" : setting[k].text);
}

static int on_any_settings(void *ctx, const store_any_run *r)
{
    keep_settings(ctx, r->run_id, r->setting);
    return 0;
}

static int on_done_settings(void *ctx, const store_run_row *r)
{
    keep_settings(ctx, r->run_id, r->setting);
    return 0;
}

static void test_all_runs_settings(void)
{
    long long ids[4];
    store *s = setup(ids);
    sw_error err = {0};
    settings_seen any = {.id = ids[1]}, done = {.id = ids[1]};
    CHECK(store_all_runs(s, "a", 0, on_any_settings, &any, &err) == SW_OK);
    CHECK(store_done_runs(s, "a", 0, STORE_RUN_NO_METRIC, on_done_settings, &done, &err) ==
          SW_OK);
    /* every setting compare reads, the new ones too, the same */
    for (int k = 0; k < STORE_SETTING_COUNT; k++)
        CHECK_MSG(any.text[k][0] && strcmp(any.text[k], done.text[k]) == 0, "%s: %s vs %s",
                  store_setting_name((store_setting)k), any.text[k], done.text[k]);
    CHECK_STR(any.text[STORE_DATA_FORMAT], "idx");
    CHECK_STR(any.text[STORE_DROPOUT], "0.25");
    store_close(s);
}

/* A new config takes the runs out of the grid; naming one again brings
 * it back: the reads see it alone, and every run with all. */
static void test_grid_binding(void)
{
    long long ids[4];
    store *s = setup(ids);
    sw_error err = {0};
    sweep_config ca = {.name = "a", .path = "a.yaml", .text = "name: a\n# edited\n"};
    run_settings r1 = settings_of(ACT_ELU, 1);
    char key[1][RUN_KEY_LEN + 1] = {"a1"};
    long long sa, id1;
    CHECK(store_sweep_upsert(s, &ca, &sa, &err) == SW_OK);
    CHECK(store_runs_ensure(s, sa, &r1, key, 1, &id1, &err) == SW_OK);
    CHECK(id1 == ids[1]);
    runs_seen v = {0}, va = {0};
    CHECK(store_all_runs(s, "a", 0, on_run, &v, &err) == SW_OK);
    CHECK_INT(v.n, 1);
    CHECK(v.id[0] == ids[1]);
    CHECK(store_all_runs(s, "a", 1, on_run, &va, &err) == SW_OK);
    CHECK_INT(va.n, 3);
    epochs_seen e = {0}, ea = {0};
    CHECK(store_done_epochs_all(s, "a", 0, on_epochs, &e, &err) == SW_OK);
    CHECK_INT(e.n, 1);
    CHECK(e.run[0] == ids[1]);
    CHECK(store_done_epochs_all(s, "a", 1, on_epochs, &ea, &err) == SW_OK);
    CHECK_INT(ea.n, 3);
    layers_seen l = {0}, la = {0};
    CHECK(store_done_layers(s, "a", 0, on_layer, &l, &err) == SW_OK);
    CHECK_INT(l.n, 0);   /* only run ids[0] has layer statistics */
    CHECK(store_done_layers(s, "a", 1, on_layer, &la, &err) == SW_OK);
    CHECK_INT(la.n, 3);
    store_close(s);
}

void suite_report_query(void)
{
    RUN_TEST(test_epochs_all);
    RUN_TEST(test_layers);
    RUN_TEST(test_all_runs);
    RUN_TEST(test_all_runs_settings);
    RUN_TEST(test_grid_binding);
}
