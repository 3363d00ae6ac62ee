/* query.c: the typed reads behind `sweep compare`, `plot` and `merge`'s
 * report: sweep names and configs, a sweep's done runs with their settings
 * and one metric, their epochs. Also the raw read-only query of
 * store_sql.h, for tests only. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "store_sql.h"

/* ---------------------------------------------------------------- names */

/* In enum order; also the column names of runs and epochs. */
static const char *const RUN_METRIC_NAMES[STORE_RUN_METRIC_COUNT] = {
    [STORE_RUN_NO_METRIC] = NULL,
    [STORE_RUN_TEST_ACCURACY] = "test_accuracy",
    [STORE_RUN_TEST_LOSS] = "test_loss",
    [STORE_RUN_BEST_VAL_ACCURACY] = "best_val_accuracy",
    [STORE_RUN_BEST_VAL_LOSS] = "best_val_loss",
    [STORE_RUN_SECONDS_PER_EPOCH] = "seconds_per_epoch",
};

static const char *const EPOCH_METRIC_NAMES[STORE_EPOCH_METRIC_COUNT] = {
    [STORE_EPOCH_VAL_ACCURACY] = "val_accuracy",
    [STORE_EPOCH_VAL_LOSS] = "val_loss",
    [STORE_EPOCH_TRAIN_ACCURACY] = "train_accuracy",
    [STORE_EPOCH_TRAIN_LOSS] = "train_loss",
};

/* Every setting of a run: its name (a column of runs and summary) and how
 * the run r gives it. The one list of settings: compare, plot and report
 * take their axes from here. */
static const struct {
    const char *name, *sql;
} SETTINGS[STORE_SETTING_COUNT] = {
    [STORE_ACTIVATION] = {"activation", "r.activation"},
    [STORE_ALPHA] = {"alpha", "r.alpha"},
    [STORE_MODEL] = {"model", "r.model"},
    [STORE_INIT] = {"init", "r.init"},
    [STORE_DROPOUT] = {"dropout", "r.dropout"},
    [STORE_EPOCHS] = {"epochs", "r.epochs"},
    [STORE_BATCH_SIZE] = {"batch_size", "r.batch_size"},
    [STORE_LEARNING_RATE] = {"learning_rate", "r.learning_rate"},
    [STORE_OPTIMIZER] = {"optimizer", "r.optimizer"},
    [STORE_BATCHNORM] = {"batchnorm", "r.batchnorm"},
    [STORE_MOMENTUM] = {"momentum", "r.momentum"},
    [STORE_NESTEROV] = {"nesterov", "r.nesterov"},
    [STORE_WEIGHT_DECAY] = {"weight_decay", "r.weight_decay"},
    [STORE_LR_SCHEDULE] = {"lr_schedule", "r.lr_schedule"},
    [STORE_SEED] = {"seed", "r.seed"},
    [STORE_VALIDATION_SPLIT] = {"validation_split", "r.validation_split"},
    [STORE_TRAIN_LIMIT] = {"train_limit", "r.train_limit"},
    [STORE_EARLY_STOPPING] = {"early_stopping", SQL_EARLY_STOPPING("r")},
    [STORE_DATA_FORMAT] = {"data_format", "r.data_format"},
    [STORE_LABEL] = {"label", "r.label"},
    [STORE_AUGMENT] = {"augment", "r.augment"},
    [STORE_VAL_LIMIT] = {"val_limit", "r.val_limit"},
    [STORE_TEST_LIMIT] = {"test_limit", "r.test_limit"},
    [STORE_DATASET] = {"dataset", "r.dataset"},
};

/* Each metric of a run as an expression over the run r. */
static const char *const RUN_METRIC_SQL[STORE_RUN_METRIC_COUNT] = {
    [STORE_RUN_NO_METRIC] = "NULL",
    [STORE_RUN_TEST_ACCURACY] = "r.test_accuracy",
    [STORE_RUN_TEST_LOSS] = "r.test_loss",
    [STORE_RUN_BEST_VAL_ACCURACY] =
        "(SELECT max(e.val_accuracy) FROM epochs e WHERE e.run_id = r.run_id)",
    [STORE_RUN_BEST_VAL_LOSS] =
        "(SELECT min(e.val_loss) FROM epochs e WHERE e.run_id = r.run_id)",
    [STORE_RUN_SECONDS_PER_EPOCH] =
        "(SELECT avg(e.seconds) FROM epochs e WHERE e.run_id = r.run_id)",
};

const char *store_setting_name(store_setting st)
{
    return (int)st >= 0 && st < STORE_SETTING_COUNT ? SETTINGS[st].name : NULL;
}

const char *db_setting_sql(store_setting st)
{
    return (int)st >= 0 && st < STORE_SETTING_COUNT ? SETTINGS[st].sql : NULL;
}

const char *store_run_metric_name(store_run_metric m)
{
    return (int)m >= 0 && m < STORE_RUN_METRIC_COUNT ? RUN_METRIC_NAMES[m] : NULL;
}

const char *store_epoch_metric_name(store_epoch_metric m)
{
    return (int)m >= 0 && m < STORE_EPOCH_METRIC_COUNT ? EPOCH_METRIC_NAMES[m] : NULL;
}

/* --------------------------------------------------------------- sweeps */

static int sweep_names(store *s, char ***out, int *n, sw_error *err)
{
    const char *what = "listing the sweeps";
    sqlite3_stmt *st = db_stmt(s, Q_SWEEP_NAMES, what, err);
    if (!st)
        return err->code;
    char **v = NULL;
    int len = 0, cap = 0, rc, failed = 0;
    while (!failed && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            int ncap = cap ? 2 * cap : 8;
            char **nv = realloc(v, (size_t)ncap * sizeof *nv);
            if (!nv) {
                failed = db_oom(s, what, err);
                break;
            }
            v = nv;
            cap = ncap;
        }
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (!(v[len] = strdup(name ? name : "")))
            failed = db_oom(s, what, err);
        else
            len++;
    }
    if (!failed && rc != SQLITE_DONE)
        failed = db_fail(s, what, err);
    db_stmt_done(st);
    if (failed) {
        store_names_free(v, len);
        return failed;
    }
    *out = v;
    *n = len;
    return SW_OK;
}

int store_sweep_names(store *s, char ***names, int *n, sw_error *err)
{
    *names = NULL;
    *n = 0;
    pthread_mutex_lock(&s->lock);
    int rc = sweep_names(s, names, n, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void store_names_free(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* A malloc'd copy of text column c; NULL when it is NULL. *failed when
 * out of memory. */
static char *column_dup(sqlite3_stmt *st, int c, int *failed)
{
    const char *t = (const char *)sqlite3_column_text(st, c);
    char *copy = t ? strdup(t) : NULL;
    if (t && !copy)
        *failed = 1;
    return copy;
}

static int read_config(store *s, const char *sweep, char **text, char **path,
                       sw_error *err)
{
    const char *what = "reading a sweep's config";
    sqlite3_stmt *st = db_stmt(s, Q_SWEEP_CONFIG, what, err);
    if (!st)
        return err->code;
    if (db_bind_text(st, 1, sweep) != SQLITE_OK)
        return db_bind_fail(s, st, what, err);
    int rc = sqlite3_step(st), failed = 0;
    if (rc == SQLITE_ROW) {
        *text = column_dup(st, 0, &failed);
        *path = column_dup(st, 1, &failed);
    } else if (rc != SQLITE_DONE) {
        return db_bind_fail(s, st, what, err);
    }
    db_stmt_done(st);
    if (failed) {
        free(*text), free(*path);
        *text = *path = NULL;
        return db_oom(s, what, err);
    }
    return SW_OK;
}

int store_sweep_config(store *s, const char *sweep, char **text, char **path,
                       sw_error *err)
{
    *text = *path = NULL;
    pthread_mutex_lock(&s->lock);
    int rc = read_config(s, sweep, text, path, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int count_not_done(store *s, const char *sweep, int all, int *n, sw_error *err)
{
    const char *what = "counting the runs not done";
    sqlite3_stmt *st = db_stmt(s, Q_NOT_DONE, what, err);
    if (!st)
        return err->code;
    if (db_bind_text(st, 1, sweep) || db_bind_text(st, 2, run_status_name(RUN_DONE)) ||
        sqlite3_bind_int(st, 3, all != 0))
        return db_bind_fail(s, st, what, err);
    if (sqlite3_step(st) != SQLITE_ROW)
        return db_bind_fail(s, st, what, err);
    *n = sqlite3_column_int(st, 0);
    db_stmt_done(st);
    return SW_OK;
}

int store_count_not_done(store *s, const char *sweep, int all, int *n, sw_error *err)
{
    *n = 0;
    pthread_mutex_lock(&s->lock);
    int rc = count_not_done(s, sweep, all, n, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ----------------------------------------------------------------- runs */

/* Column c of st as a store_value, valid until st steps again. The number
 * is read before the text, so a REAL's text form is SQLite's own. */
static store_value column_value(sqlite3_stmt *st, int c)
{
    store_value v;
    v.is_null = sqlite3_column_type(st, c) == SQLITE_NULL;
    v.num = sqlite3_column_double(st, c);
    v.text = (const char *)sqlite3_column_text(st, c);
    return v;
}

/* The statement of a sweep's done runs with one metric (id: Q_DONE_RUNS
 * + the metric), written from SETTINGS once per store: run_id, the
 * settings in store_setting's order, the metric. ?1 the sweep, ?2 the
 * done status, ?3 whether runs that left the grid count. */
static sqlite3_stmt *done_runs_stmt(store *s, int id, const char *what, sw_error *err)
{
    if (s->st[id])
        return s->st[id];
    char sql[4096];
    size_t len = (size_t)snprintf(sql, sizeof sql, "SELECT r.run_id");
    for (int i = 0; i < STORE_SETTING_COUNT && len < sizeof sql; i++)
        len += (size_t)snprintf(sql + len, sizeof sql - len, ", %s", SETTINGS[i].sql);
    if (len < sizeof sql)
        len += (size_t)snprintf(sql + len, sizeof sql - len,
                                ", %s FROM runs r JOIN sweeps s ON s.sweep_id = r.sweep_id "
                                "WHERE s.name = ?1 AND r.status = ?2 AND (?3 OR r.in_grid = 1) "
                                "ORDER BY r.run_id",
                                RUN_METRIC_SQL[id - Q_DONE_RUNS]);
    if (len >= sizeof sql) {   /* the table outgrew the buffer: a bug, not input */
        sw_err(err, SW_ERUN, "%s: %s: query too long", s->path, what);
        return NULL;
    }
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st[id], NULL) !=
        SQLITE_OK) {
        db_fail(s, what, err);
        s->st[id] = NULL;
    }
    return s->st[id];
}

/* Steps st, bound to the sweep and the done status, calling row for each
 * row until it returns nonzero. */
typedef int (*row_fn)(sqlite3_stmt *st, void *ctx);

static int each_done(store *s, int id, const char *sweep, int all, const char *what,
                     row_fn row, void *ctx, sw_error *err)
{
    sqlite3_stmt *st = id >= Q_DONE_RUNS && id < Q_DONE_EPOCHS ? done_runs_stmt(s, id, what, err)
                                                               : db_stmt(s, id, what, err);
    if (!st)
        return err->code;
    if (db_bind_text(st, 1, sweep) || db_bind_text(st, 2, run_status_name(RUN_DONE)) ||
        sqlite3_bind_int(st, 3, all != 0))
        return db_bind_fail(s, st, what, err);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (row(st, ctx) != 0)
            break;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_bind_fail(s, st, what, err);
    db_stmt_done(st);
    return SW_OK;
}

typedef struct {
    store_run_fn fn;
    void *ctx;
} run_visit;

static int run_row(sqlite3_stmt *st, void *ctx)
{
    const run_visit *v = ctx;
    store_run_row r;
    r.run_id = sqlite3_column_int64(st, 0);
    for (int i = 0; i < STORE_SETTING_COUNT; i++)
        r.setting[i] = column_value(st, 1 + i);
    r.metric = column_value(st, 1 + STORE_SETTING_COUNT);
    return v->fn(v->ctx, &r);
}

int store_done_runs(store *s, const char *sweep, int all, store_run_metric metric,
                    store_run_fn fn, void *ctx, sw_error *err)
{
    if ((int)metric < 0 || metric >= STORE_RUN_METRIC_COUNT)
        return sw_err(err, SW_EINPUT, "%s: no run metric %d", s->path, (int)metric);
    run_visit v = {fn, ctx};
    pthread_mutex_lock(&s->lock);
    int rc = each_done(s, Q_DONE_RUNS + metric, sweep, all, "reading the done runs", run_row,
                       &v, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

typedef struct {
    store_epoch_fn fn;
    void *ctx;
} epoch_visit;

static int epoch_row(sqlite3_stmt *st, void *ctx)
{
    const epoch_visit *v = ctx;
    double value = sqlite3_column_type(st, 2) == SQLITE_NULL ? NAN
                                                              : sqlite3_column_double(st, 2);
    return v->fn(v->ctx, sqlite3_column_int64(st, 0), sqlite3_column_int(st, 1), value);
}

int store_done_epochs(store *s, const char *sweep, int all, store_epoch_metric metric,
                      store_epoch_fn fn, void *ctx, sw_error *err)
{
    if ((int)metric < 0 || metric >= STORE_EPOCH_METRIC_COUNT)
        return sw_err(err, SW_EINPUT, "%s: no epoch metric %d", s->path, (int)metric);
    epoch_visit v = {fn, ctx};
    pthread_mutex_lock(&s->lock);
    int rc = each_done(s, Q_DONE_EPOCHS + metric, sweep, all, "reading the epochs", epoch_row,
                       &v, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int run_value(store *s, long long run_id, store_run_metric metric, double *value,
                     sw_error *err)
{
    const char *what = "reading a run's result";
    int id = Q_RUN_VALUE + metric;
    if (!s->st[id]) {
        char sql[512];
        snprintf(sql, sizeof sql, "SELECT %s FROM runs r WHERE r.run_id = ?1 AND r.status = ?2",
                 RUN_METRIC_SQL[metric]);
        if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st[id], NULL) !=
            SQLITE_OK) {
            s->st[id] = NULL;
            return db_fail(s, what, err);
        }
    }
    sqlite3_stmt *st = s->st[id];
    if (sqlite3_bind_int64(st, 1, run_id) || db_bind_text(st, 2, run_status_name(RUN_DONE)))
        return db_bind_fail(s, st, what, err);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *value = sqlite3_column_double(st, 0);
    else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_bind_fail(s, st, what, err);
    db_stmt_done(st);
    return SW_OK;
}

int store_run_value(store *s, long long run_id, store_run_metric metric, double *value,
                    sw_error *err)
{
    *value = NAN;
    if ((int)metric <= STORE_RUN_NO_METRIC || metric >= STORE_RUN_METRIC_COUNT)
        return sw_err(err, SW_EINPUT, "%s: no run metric %d", s->path, (int)metric);
    pthread_mutex_lock(&s->lock);
    int rc = run_value(s, run_id, metric, value, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ------------------------------------------------------------ the grid */

/* Steps statement id bound to the sweep's name, calling row per row. */
static int each_row(store *s, int id, const char *sweep, const char *what, row_fn row,
                    void *ctx, sw_error *err)
{
    sqlite3_stmt *st = db_stmt(s, id, what, err);
    if (!st)
        return err->code;
    if (db_bind_text(st, 1, sweep))
        return db_bind_fail(s, st, what, err);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (row(st, ctx) != 0)
            break;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_bind_fail(s, st, what, err);
    db_stmt_done(st);
    return SW_OK;
}

typedef struct {
    store_recorded_fn left;
    store_config_fn config;
    void *ctx;
} text_visit;

static const char *col_text(sqlite3_stmt *st, int c)
{
    return (const char *)sqlite3_column_text(st, c);
}

static int left_row(sqlite3_stmt *st, void *ctx)
{
    const text_visit *v = ctx;
    return v->left(v->ctx, col_text(st, 0), col_text(st, 1), col_text(st, 2));
}

static int config_row(sqlite3_stmt *st, void *ctx)
{
    const text_visit *v = ctx;
    return v->config(v->ctx, col_text(st, 0), col_text(st, 1), col_text(st, 2));
}

int store_recorded_runs(store *s, const char *sweep, store_recorded_fn fn, void *ctx,
                        sw_error *err)
{
    text_visit v = {.left = fn, .ctx = ctx};
    pthread_mutex_lock(&s->lock);
    int rc = each_row(s, Q_LEFT_GRID, sweep, "reading the recorded runs", left_row,
                      &v, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int store_sweep_configs(store *s, const char *sweep, store_config_fn fn, void *ctx,
                        sw_error *err)
{
    text_visit v = {.config = fn, .ctx = ctx};
    pthread_mutex_lock(&s->lock);
    int rc = each_row(s, Q_SWEEP_CONFIGS, sweep, "reading a sweep's configs", config_row,
                      &v, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ------------------------------------------------------ raw, for tests */

static int select_rows(store *s, const char *sql, const char *const *params,
                       int n_params, store_row_fn fn, void *ctx, sw_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "preparing a query", err);
    int rc = SW_OK;
    if (!sqlite3_stmt_readonly(st)) {
        rc = sw_err(err, SW_EINPUT, "%s: store_select runs read-only queries only", s->path);
        goto out;
    }
    for (int i = 0; i < n_params; i++)
        if (db_bind_text(st, i + 1, params[i]) != SQLITE_OK) {
            rc = db_fail(s, "binding a query", err);
            goto out;
        }
    int ncols = sqlite3_column_count(st);
    const char **names = calloc((size_t)ncols + 1, sizeof *names);
    store_value *vals = calloc((size_t)ncols + 1, sizeof *vals);
    if (!names || !vals) {
        rc = sw_oom(err, s->path);
    } else {
        for (int c = 0; c < ncols; c++)
            names[c] = sqlite3_column_name(st, c);
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            for (int c = 0; c < ncols; c++)
                vals[c] = column_value(st, c);
            if (fn(ctx, ncols, names, vals) != 0)
                break;
        }
        if (step != SQLITE_ROW && step != SQLITE_DONE)
            rc = db_fail(s, "running a query", err);
    }
    free(names);
    free(vals);
out:
    sqlite3_finalize(st);
    return rc;
}

int store_select(store *s, const char *sql, const char *const *params, int n_params,
                 store_row_fn fn, void *ctx, sw_error *err)
{
    pthread_mutex_lock(&s->lock);
    int rc = select_rows(s, sql, params, n_params, fn, ctx, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}
