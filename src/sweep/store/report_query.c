/* report_query.c: the typed reads behind `sweep report`: every epoch of a
 * sweep's done runs with its four metrics, their layer statistics, and
 * every run of the sweep whatever its state. Prepared per call (a report
 * reads each once), always with bound values. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

static double column_num(sqlite3_stmt *st, int c)
{
    return sqlite3_column_type(st, c) == SQLITE_NULL ? NAN : sqlite3_column_double(st, c);
}

static store_value column_val(sqlite3_stmt *st, int c)
{
    store_value v;
    v.is_null = sqlite3_column_type(st, c) == SQLITE_NULL;
    v.num = sqlite3_column_double(st, c);
    v.text = (const char *)sqlite3_column_text(st, c);
    return v;
}

typedef int (*report_row_fn)(sqlite3_stmt *st, void *ctx);

/* Prepares sql, binds the sweep (:sweep), the done status (:done) and
 * whether runs that left the grid count (:all), those the statement has,
 * and calls row per row until it returns nonzero. */
static int each_row(store *s, const char *sql, const char *sweep, int all, const char *what,
                    report_row_fn row, void *ctx, sw_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = SW_OK;
    pthread_mutex_lock(&s->lock);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(s, what, err);
        goto out;
    }
    int i_done = sqlite3_bind_parameter_index(st, ":done");
    int i_all = sqlite3_bind_parameter_index(st, ":all");
    if (db_bind_text(st, sqlite3_bind_parameter_index(st, ":sweep"), sweep) != SQLITE_OK ||
        (i_done && db_bind_text(st, i_done, run_status_name(RUN_DONE)) != SQLITE_OK) ||
        (i_all && sqlite3_bind_int(st, i_all, all != 0) != SQLITE_OK)) {
        rc = db_fail(s, what, err);
        goto out;
    }
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        if (row(st, ctx) != 0)
            break;
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = db_fail(s, what, err);
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---- epochs ---- */

typedef struct {
    store_epochs_fn fn;
    void *ctx;
} epochs_visit;

static int epochs_row(sqlite3_stmt *st, void *ctx)
{
    const epochs_visit *v = ctx;
    double m[STORE_EPOCH_METRIC_COUNT];
    for (int i = 0; i < STORE_EPOCH_METRIC_COUNT; i++)
        m[i] = column_num(st, 2 + i);
    return v->fn(v->ctx, sqlite3_column_int64(st, 0), sqlite3_column_int(st, 1), m);
}

int store_done_epochs_all(store *s, const char *sweep, int all, store_epochs_fn fn,
                          void *ctx, sw_error *err)
{
    /* columns in store_epoch_metric's order */
    static const char sql[] =
        "SELECT e.run_id, e.epoch, e.val_accuracy, e.val_loss, e.train_accuracy, "
        "e.train_loss FROM epochs e JOIN runs r ON r.run_id = e.run_id "
        "JOIN sweeps s ON s.sweep_id = r.sweep_id "
        "WHERE s.name = :sweep AND r.status = :done AND (:all OR r.in_grid = 1) "
        "ORDER BY e.run_id, e.epoch";
    epochs_visit v = {fn, ctx};
    return each_row(s, sql, sweep, all, "reading the epochs", epochs_row, &v, err);
}

/* ---- layer statistics ---- */

typedef struct {
    store_layer_fn fn;
    void *ctx;
} layer_visit;

static int layer_row(sqlite3_stmt *st, void *ctx)
{
    const layer_visit *v = ctx;
    const char *layer = (const char *)sqlite3_column_text(st, 2);
    return v->fn(v->ctx, sqlite3_column_int64(st, 0), sqlite3_column_int(st, 1),
                 layer ? layer : "", column_num(st, 3), column_num(st, 4));
}

int store_done_layers(store *s, const char *sweep, int all, store_layer_fn fn, void *ctx,
                      sw_error *err)
{
    /* rowid order within an epoch is the order the trainer wrote the
     * layers: the network's order */
    static const char sql[] =
        "SELECT l.run_id, l.epoch, l.layer, l.mean_activation, l.dead_fraction "
        "FROM layer_stats l JOIN runs r ON r.run_id = l.run_id "
        "JOIN sweeps s ON s.sweep_id = r.sweep_id "
        "WHERE s.name = :sweep AND r.status = :done AND (:all OR r.in_grid = 1) "
        "ORDER BY l.run_id, l.epoch, l.rowid";
    layer_visit v = {fn, ctx};
    return each_row(s, sql, sweep, all, "reading the layer statistics", layer_row, &v, err);
}

/* ---- every run ---- */

typedef struct {
    store_any_run_fn fn;
    void *ctx;
} any_visit;

static int any_row(sqlite3_stmt *st, void *ctx)
{
    const any_visit *v = ctx;
    store_any_run r;
    r.run_id = sqlite3_column_int64(st, 0);
    for (int i = 0; i < STORE_SETTING_COUNT; i++)
        r.setting[i] = column_val(st, 1 + i);
    int c = 1 + STORE_SETTING_COUNT;
    const char *status = (const char *)sqlite3_column_text(st, c);
    r.status = status ? run_status_from_name(status) : -1;
    r.best_epoch = sqlite3_column_int(st, c + 1);
    r.stopped_epoch = sqlite3_column_int(st, c + 2);
    r.test_loss = column_num(st, c + 3);
    r.test_accuracy = column_num(st, c + 4);
    r.wall_seconds = column_num(st, c + 5);
    r.error = (const char *)sqlite3_column_text(st, c + 6);
    r.host = (const char *)sqlite3_column_text(st, c + 7);
    r.threads = sqlite3_column_int(st, c + 8);
    return v->fn(v->ctx, &r);
}

int store_all_runs(store *s, const char *sweep, int all, store_any_run_fn fn, void *ctx,
                   sw_error *err)
{
    /* settings in store_setting's order, from query.c's table as
     * store_done_runs reads them, so a new setting comes along */
    char sql[4096];
    size_t len = (size_t)snprintf(sql, sizeof sql, "SELECT r.run_id");
    for (int i = 0; i < STORE_SETTING_COUNT && len < sizeof sql; i++)
        len += (size_t)snprintf(sql + len, sizeof sql - len, ", %s",
                                db_setting_sql((store_setting)i));
    if (len < sizeof sql)
        len += (size_t)snprintf(sql + len, sizeof sql - len,
                                ", r.status, r.best_epoch, r.stopped_epoch, r.test_loss, "
                                "r.test_accuracy, r.wall_seconds, r.error, r.host, r.threads "
                                "FROM runs r JOIN sweeps s ON s.sweep_id = r.sweep_id "
                                "WHERE s.name = :sweep AND (:all OR r.in_grid = 1) "
                                "ORDER BY r.run_id");
    if (len >= sizeof sql)   /* the table outgrew the buffer: a bug, not input */
        return sw_err(err, SW_ERUN, "%s: reading the runs: query too long", s->path);
    any_visit v = {fn, ctx};
    return each_row(s, sql, sweep, all, "reading the runs", any_row, &v, err);
}
