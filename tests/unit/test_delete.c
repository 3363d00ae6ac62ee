/* Tests of deleting a sweep (store/delete.c) and of opening a database
 * read-only (store_open_read): what a sweep holds is counted in one
 * snapshot, deleting it takes its runs, epochs and layer statistics and
 * nothing of another sweep, and a read-only open changes no byte. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep/store.h"
#include "test.h"
#include "../../src/sweep/store/store_sql.h"

static const char *path_of(const char *name)
{
    static char buf[4][512];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", test_tmpdir(), name);
    return p;
}

static run_settings run_of(long long seed)
{
    run_settings r;
    memset(&r, 0, sizeof r);
    r.activation = ACT_RELU;
    r.alpha = NAN;
    r.init = INIT_HE;
    r.dropout = 0.25;
    r.epochs = 2;
    r.seed = seed;
    r.batch_size = 250;
    r.learning_rate = 0.001;
    r.optimizer = OPT_ADAM;
    r.validation_split = 0.2;
    return r;
}

/* A sweep of n runs, each with `epochs` epochs of two layers' statistics;
 * the first run is left running, the others done. */
static long long add_sweep(store *s, const char *name, int n, int epochs)
{
    sw_error err = {0};
    sweep_config c = {0};
    c.name = (char *)name;
    c.text = (char *)"name: x\n";
    long long sweep_id = 0, run_ids[8];
    char keys[8][RUN_KEY_LEN + 1];
    run_settings runs[8];
    for (int i = 0; i < n; i++) {
        runs[i] = run_of(i + 1);
        snprintf(keys[i], sizeof keys[i], "%s%015d", name, i);
        keys[i][RUN_KEY_LEN] = '\0';
    }
    CHECK_MSG(store_sweep_upsert(s, &c, &sweep_id, &err) == SW_OK, "%s", err.msg);
    CHECK_MSG(store_runs_ensure(s, sweep_id, runs, keys, n, run_ids, &err) == SW_OK, "%s",
              err.msg);
    layer_stat layers[2] = {{"conv1", 0.5, 0.1, 1.0}, {"dense1", 0.4, 0.2, 2.0}};
    for (int i = 0; i < n; i++) {
        int claimed = 0;
        CHECK(store_run_claim(s, run_ids[i], 1, &claimed, &err) == SW_OK && claimed);
        for (int e = 1; e <= epochs; e++) {
            epoch_metrics m = {0.5, 0.8, 0.45, 0.8, 1.0};
            CHECK_MSG(store_epoch_add_layers(s, run_ids[i], e, &m, layers, 2, &err) == SW_OK,
                      "%s", err.msg);
        }
        train_result res = {TRAIN_DONE, epochs, 0, 0.4, 0.8, 0, 0};
        if (i > 0)
            CHECK(store_run_finish(s, run_ids[i], RUN_DONE, &res, 1.0, NULL, &err) == SW_OK);
    }
    return sweep_id;
}

static int take_int(void *ctx, int ncols, const char *const *names, const store_value *v)
{
    (void)ncols;
    (void)names;
    *(long long *)ctx = (long long)v[0].num;
    return 0;
}

/* Rows of the whole database, every table: sweeps runs epochs layer_stats. */
static long long all_rows(store *s)
{
    long long n = -1;
    sw_error err = {0};
    CHECK_MSG(store_select(s, "SELECT (SELECT count(*) FROM sweeps) * 1000000 + "
                              "(SELECT count(*) FROM runs) * 10000 + "
                              "(SELECT count(*) FROM epochs) * 100 + "
                              "(SELECT count(*) FROM layer_stats)",
                           NULL, 0, take_int, &n, &err) == SW_OK, "%s", err.msg);
    return n;
}

static void test_delete_counts_and_removes(void)
{
    sw_error err = {0};
    store *s = NULL;
    CHECK_MSG(store_open(&s, path_of("del.db"), 1, &err) == SW_OK, "%s", err.msg);
    if (!s)
        return;
    add_sweep(s, "a", 3, 2);
    add_sweep(s, "b", 2, 1);
    store_sweep_held h;
    CHECK_MSG(store_sweep_contents(s, "a", &h, &err) == SW_OK, "%s", err.msg);
    CHECK(h.sweep_id > 0);
    CHECK_INT(h.runs, 3);
    CHECK_INT(h.count[RUN_DONE], 2);
    CHECK_INT(h.count[RUN_RUNNING], 1);
    CHECK_INT(h.live, 1);   /* running in this process, which is alive */
    CHECK_INT((int)h.epochs, 6);
    CHECK_INT((int)h.layer_stats, 12);
    CHECK(h.keys && strncmp(h.keys[0], "a0000", 5) == 0);
    CHECK_MSG(store_sweep_delete(s, h.sweep_id, &err) == SW_OK, "%s", err.msg);
    store_sweep_contents_free(&h);

    CHECK(store_sweep_contents(s, "a", &h, &err) == SW_OK && h.sweep_id == 0);
    store_sweep_contents_free(&h);
    CHECK(store_sweep_contents(s, "b", &h, &err) == SW_OK);
    CHECK_INT(h.runs, 2);
    CHECK_INT((int)h.epochs, 2);
    CHECK_INT((int)h.layer_stats, 4);
    store_sweep_contents_free(&h);
    CHECK(all_rows(s) == 1000000 + 2 * 10000 + 2 * 100 + 4);   /* only b's rows are left */
    store_close(s);
}

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static void test_open_read_writes_nothing(void)
{
    sw_error err = {0};
    store *s = NULL;
    const char *path = path_of("ro.db");
    CHECK(store_open(&s, path, 1, &err) == SW_OK);
    if (!s)
        return;
    add_sweep(s, "r", 2, 1);
    store_close(s);
    long size = file_size(path);
    CHECK_MSG(store_open_read(&s, path, &err) == SW_OK, "%s", err.msg);
    if (!s)
        return;
    long long id = 0;
    CHECK(store_sweep_find(s, "r", &id, &err) == SW_OK && id > 0);
    sweep_config c = {0};
    c.name = (char *)"new";
    c.text = (char *)"name: new\n";
    sw_error werr = {0};
    CHECK(store_sweep_upsert(s, &c, &id, &werr) != SW_OK);   /* refused: read-only */
    store_close(s);
    CHECK(file_size(path) == size);
    CHECK_INT(store_open_read(&s, path_of("missing.db"), &err), SW_EINPUT);
    CHECK(s == NULL && file_size(path_of("missing.db")) < 0);
}

void suite_store_delete(void)
{
    test_run("test_delete_counts_and_removes", test_delete_counts_and_removes);
    test_run("test_open_read_writes_nothing", test_open_read_writes_nothing);
}
