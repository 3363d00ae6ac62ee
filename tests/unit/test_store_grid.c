/* Tests of the store's grid binding (schema 3): a config text new to a
 * sweep joins sweep_configs and takes every run out of the grid until
 * store_runs_ensure names it again; the typed reads see the current grid
 * unless asked for all; the table of settings names every setting; runs
 * record their data's identity (issue #16 item 5). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep/store.h"
#include "test.h"
#include "../../src/sweep/store/store_sql.h"

static const char *grid_path(const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", test_tmpdir(), name);
    return buf;
}

static run_settings grid_run(act_kind act, long limit, long long seed)
{
    run_settings r;
    memset(&r, 0, sizeof r);
    r.activation = act;
    r.alpha = act == ACT_RELU ? NAN : 1.0;
    r.init = INIT_HE;
    r.dropout = 0.25;
    r.epochs = 1;
    r.seed = seed;
    r.batch_size = 50;
    r.learning_rate = 0.001;
    r.optimizer = OPT_ADAM;
    r.validation_split = 0.2;
    r.train_limit = limit;
    return r;
}

static void run_done(store *s, long long id, double acc)
{
    sw_error err = {0};
    int claimed = 0;
    train_result res = {TRAIN_DONE, 1, 0, 0.5, acc, 0, 0};
    CHECK(store_run_claim(s, id, 1, &claimed, &err) == SW_OK && claimed);
    CHECK_MSG(store_run_finish(s, id, RUN_DONE, &res, 1.0, NULL, &err) == SW_OK, "%s", err.msg);
}

typedef struct {
    int n;
    long long id[8];
    char text[8][64];
} seen;

static int see(void *ctx, const store_run_row *r)
{
    seen *c = ctx;
    c->id[c->n++] = r->run_id;
    return 0;
}

static int see_config(void *ctx, const char *text, const char *path, const char *at)
{
    seen *c = ctx;
    snprintf(c->text[c->n++], 64, "%s|%s|%d", text, path ? path : "-", at && strlen(at) == 20);
    return 0;
}

static int see_recorded(void *ctx, const char *key, const char *status, const char *settings)
{
    seen *c = ctx;
    snprintf(c->text[c->n++], 64, "%s %s %d", key, status,
             settings && strstr(settings, "train_limit=300") != NULL);
    return 0;
}

static int count_rows(void *ctx, int ncols, const char *const *names, const store_value *v)
{
    (void)ncols, (void)names, (void)v;
    ++*(int *)ctx;
    return 0;
}

/* One grid of two runs (train_limit 300), done; then the config edited to
 * train_limit 100: two new runs, the old ones out of the grid. */
static void test_grid_binding(void)
{
    sw_error err = {0};
    store *s = NULL;
    CHECK_MSG(store_open(&s, grid_path("grid.db"), 1, &err) == SW_OK, "%s", err.msg);
    if (!s)
        return;
    sweep_config c;
    memset(&c, 0, sizeof c);
    c.name = (char *)"g";
    c.path = (char *)"g.yaml";
    c.text = (char *)"limit 300";
    run_settings runs[2] = {grid_run(ACT_RELU, 300, 1), grid_run(ACT_ELU, 300, 1)};
    char keys[2][RUN_KEY_LEN + 1] = {"00000000000000a1", "00000000000000a2"};
    long long sid, old[2], cur[2];
    CHECK(store_sweep_upsert(s, &c, &sid, &err) == SW_OK);
    CHECK(store_runs_ensure(s, sid, runs, keys, 2, old, &err) == SW_OK);
    run_done(s, old[0], 0.5);
    run_done(s, old[1], 0.6);

    c.text = (char *)"limit 100";
    runs[0].train_limit = runs[1].train_limit = 100;
    memcpy(keys[0], "00000000000000b1", RUN_KEY_LEN + 1);
    memcpy(keys[1], "00000000000000b2", RUN_KEY_LEN + 1);
    CHECK(store_sweep_upsert(s, &c, &sid, &err) == SW_OK);
    CHECK(store_runs_ensure(s, sid, runs, keys, 2, cur, &err) == SW_OK);
    run_done(s, cur[0], 0.7);

    seen now = {0}, all = {0};
    CHECK(store_done_runs(s, "g", 0, STORE_RUN_TEST_ACCURACY, see, &now, &err) == SW_OK);
    CHECK(now.n == 1 && now.id[0] == cur[0]);   /* the current grid's done run */
    CHECK(store_done_runs(s, "g", 1, STORE_RUN_TEST_ACCURACY, see, &all, &err) == SW_OK);
    CHECK_INT(all.n, 3);
    int not_done = -1;
    CHECK(store_count_not_done(s, "g", 0, &not_done, &err) == SW_OK);
    CHECK_INT(not_done, 1);

    /* the same text again: no new history entry, the grid stays */
    CHECK(store_sweep_upsert(s, &c, &sid, &err) == SW_OK);
    seen again = {0}, cfgs = {0}, rec = {0};
    CHECK(store_done_runs(s, "g", 0, STORE_RUN_TEST_ACCURACY, see, &again, &err) == SW_OK);
    CHECK_INT(again.n, 1);
    CHECK(store_sweep_configs(s, "g", see_config, &cfgs, &err) == SW_OK);
    CHECK_INT(cfgs.n, 2);
    CHECK_STR(cfgs.text[0], "limit 300|g.yaml|1");   /* oldest first, with its time */
    CHECK_STR(cfgs.text[1], "limit 100|g.yaml|1");
    CHECK(store_recorded_runs(s, "g", see_recorded, &rec, &err) == SW_OK);
    CHECK_INT(rec.n, 4);
    CHECK_STR(rec.text[0], "00000000000000a1 done 1");
    CHECK_STR(rec.text[3], "00000000000000b2 pending 0");

    /* summary: the current grid; summary_all: every run */
    int rows = 0, rows_all = 0;
    CHECK(store_select(s, "SELECT * FROM summary", NULL, 0, count_rows, &rows, &err) == SW_OK);
    CHECK(store_select(s, "SELECT * FROM summary_all", NULL, 0, count_rows, &rows_all, &err) ==
          SW_OK);
    CHECK_INT(rows, 1);
    CHECK_INT(rows_all, 3);

    /* one run's value: done only */
    double v = 0;
    CHECK(store_run_value(s, cur[0], STORE_RUN_TEST_ACCURACY, &v, &err) == SW_OK);
    CHECK(v == 0.7);
    CHECK(store_run_value(s, cur[1], STORE_RUN_TEST_ACCURACY, &v, &err) == SW_OK);
    CHECK(isnan(v));
    CHECK_INT(store_run_value(s, cur[0], STORE_RUN_NO_METRIC, &v, &err), SW_EINPUT);
    CHECK_MSG(err.code == SW_OK || err.code == SW_EINPUT, "%s", err.msg);
    store_close(s);
}

/* Every setting has a name, unique; each but the seed is a column of the
 * summary views, so the SQL user and compare --by see the same settings. */
static void test_setting_names(void)
{
    sw_error err = {0};
    store *s = NULL;
    CHECK(store_open(&s, grid_path("names.db"), 1, &err) == SW_OK);
    for (int i = 0; i < STORE_SETTING_COUNT; i++) {
        const char *name = store_setting_name((store_setting)i);
        CHECK_MSG(name != NULL, "setting %d has no name", i);
        if (!name)
            continue;
        for (int j = 0; j < i; j++)
            CHECK(strcmp(name, store_setting_name((store_setting)j)) != 0);
        if (i == STORE_SEED || !s)
            continue;
        char sql[128];
        int rows = 0;
        snprintf(sql, sizeof sql, "SELECT %s FROM summary_all", name);
        CHECK_MSG(store_select(s, sql, NULL, 0, count_rows, &rows, &err) == SW_OK,
                  "%s is not a column of summary_all: %s", name, err.msg);
    }
    CHECK(store_setting_name(STORE_SETTING_COUNT) == NULL);
    CHECK_STR(store_setting_name(STORE_EARLY_STOPPING), "early_stopping");
    CHECK_STR(store_setting_name(STORE_TRAIN_LIMIT), "train_limit");
    store_close(s);
}

/* The texts of a query's first column, comma-joined ("-" for NULL). */
static int join_first(void *ctx, int ncols, const char *const *names, const store_value *v)
{
    char *buf = ctx;
    (void)ncols, (void)names;
    size_t len = strlen(buf);
    snprintf(buf + len, 256 - len, "%s%s", len ? "," : "", v[0].is_null ? "-" : v[0].text);
    return 0;
}

static void query_first(store *s, const char *sql, char out[256])
{
    sw_error err = {0};
    out[0] = '\0';
    CHECK_MSG(store_select(s, sql, NULL, 0, join_first, out, &err) == SW_OK, "%s", err.msg);
}

/* Two datasets under one sweep name (SWEEP_DATA changed): the runs record
 * each one's identity and summary keeps them apart. A run recorded without
 * it (before version 3) gets it when named again, never a different one;
 * merge does not erase it with an input's NULL. */
static void test_dataset_column(void)
{
    sw_error err = {0};
    store *s = NULL, *in = NULL;
    CHECK_MSG(store_open(&s, grid_path("data.db"), 1, &err) == SW_OK, "%s", err.msg);
    CHECK_MSG(store_open(&in, grid_path("data_in.db"), 1, &err) == SW_OK, "%s", err.msg);
    if (!s || !in)
        goto out;
    sweep_config c;
    memset(&c, 0, sizeof c);
    c.name = (char *)"d";
    c.text = (char *)"data";
    run_settings runs[3] = {grid_run(ACT_RELU, 0, 1), grid_run(ACT_RELU, 0, 1),
                            grid_run(ACT_RELU, 0, 1)};
    runs[0].data_identity = 0x0123456789abcdefULL;
    runs[1].data_identity = 0xfedcba9876543210ULL;
    char keys[3][RUN_KEY_LEN + 1] = {"00000000000000d1", "00000000000000d2", "00000000000000d3"};
    long long sid, ids[3], in_sid, in_id;
    CHECK(store_sweep_upsert(s, &c, &sid, &err) == SW_OK);
    CHECK(store_runs_ensure(s, sid, runs, keys, 3, ids, &err) == SW_OK);
    char got[256];
    query_first(s, "SELECT coalesce(dataset, '-') FROM runs ORDER BY run_id", got);
    CHECK_STR(got, "0123456789abcdef,fedcba9876543210,-");
    run_done(s, ids[0], 0.5);
    run_done(s, ids[1], 0.9);
    query_first(s, "SELECT n || ' ' || dataset FROM summary", got);
    CHECK_STR(got, "1 0123456789abcdef,1 fedcba9876543210");   /* never pooled */

    runs[2].data_identity = 0xabcULL;   /* named again, now with the identity */
    CHECK(store_runs_ensure(s, sid, &runs[2], &keys[2], 1, &ids[2], &err) == SW_OK);
    runs[2].data_identity = 0xdefULL;   /* the key vouches for the first */
    CHECK(store_runs_ensure(s, sid, &runs[2], &keys[2], 1, &ids[2], &err) == SW_OK);
    query_first(s, "SELECT dataset FROM runs WHERE run_key = '00000000000000d3'", got);
    CHECK_STR(got, "0000000000000abc");

    runs[2].data_identity = 0;   /* a done copy that does not know it */
    CHECK(store_sweep_upsert(in, &c, &in_sid, &err) == SW_OK);
    CHECK(store_runs_ensure(in, in_sid, &runs[2], &keys[2], 1, &in_id, &err) == SW_OK);
    run_done(in, in_id, 0.7);
    store_close(in);
    in = NULL;
    const char *paths[1] = {grid_path("data_in.db")};
    store_merge_report *rep = NULL;
    int n_rep = 0;
    CHECK_MSG(store_merge(s, paths, 1, &rep, &n_rep, &err) == SW_OK, "%s", err.msg);
    CHECK(n_rep == 1 && rep[0].replaced == 1);
    free(rep);
    query_first(s, "SELECT status || ' ' || dataset FROM runs WHERE run_key = "
                   "'00000000000000d3'", got);
    CHECK_STR(got, "done 0000000000000abc");
out:
    store_close(in);
    store_close(s);
}

void suite_store_grid(void)
{
    RUN_TEST(test_grid_binding);
    RUN_TEST(test_setting_names);
    RUN_TEST(test_dataset_column);
}
