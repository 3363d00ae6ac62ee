/* merge.c: uniting shard databases into one (see store_merge). Inputs are
 * read and the output written through statements of their own, prepared
 * for the merge and finalized after it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store_internal.h"

/* Which copy of a run a merge keeps: the better state. Done is a result,
 * and so is diverged (the same bits diverge again); failed keeps its error;
 * interrupted and running (its shard died) keep their epochs; pending has
 * nothing. Between equals the copy already in the output stays. */
static int merge_rank(int status)
{
    switch (status) {
    case RUN_DONE: return 5;
    case RUN_DIVERGED: return 4;
    case RUN_FAILED: return 3;
    case RUN_INTERRUPTED:
    case RUN_RUNNING: return 2;
    default: return 0;
    }
}

enum {
    M_IN_SWEEPS, M_IN_RUNS, M_IN_EPOCHS, M_IN_LAYERS, M_IN_CONFIGS, M_IN_CLASSES, M_SWEEP_GET,
    M_SWEEP_PUT, M_RUN_GET, M_RUN_PUT, M_RUN_SET, M_EPOCHS_DEL, M_EPOCH_PUT, M_EPOCH_GET,
    M_EPOCH_COUNT, M_COUNTS, M_LAYER_PUT, M_RUN_GRID, M_CONFIG_PUT, M_CLASS_PUT, M_COUNT
};

/* The first six read an input, the others the output. The runs columns
 * are read and written in this order: run_key (0), the settings (1-20),
 * then the state, status (21) to stopped_epoch (34), then the data
 * settings (35-40), copied with the state. */
#define MERGE_RUN_COLUMNS                                                    \
    "run_key, activation, alpha, init, dropout, epochs, seed, batch_size, "  \
    "learning_rate, optimizer, validation_split, train_limit, model, "       \
    "es_monitor, es_patience, es_restore_best, batchnorm, momentum, "        \
    "nesterov, weight_decay, lr_schedule, status, "                          \
    "started_at, finished_at, wall_seconds, threads, test_loss, "            \
    "test_accuracy, error, diverged_epoch, host, pid, heartbeat_at, "        \
    "best_epoch, stopped_epoch, data_format, label, augment, val_limit, "    \
    "test_limit, dataset"
#define MERGE_COL_STATUS 21
#define MERGE_COL_TEST_LOSS 26
#define MERGE_COL_ERROR 28
#define MERGE_COL_RUN_ID 41
#define MERGE_COL_IN_GRID 42   /* read, not copied: set apart (M_RUN_GRID) */
#define MERGE_N_COLS 41

static const char *const MERGE_SQL[M_COUNT] = {
    [M_IN_SWEEPS] = "SELECT sweep_id, name, config_path, config_text, created_at "
                    "FROM sweeps ORDER BY name",
    [M_IN_RUNS] = "SELECT " MERGE_RUN_COLUMNS ", run_id, in_grid FROM runs "
                  "WHERE sweep_id = ?1 ORDER BY run_id",
    [M_IN_EPOCHS] = "SELECT epoch, train_loss, train_accuracy, val_loss, val_accuracy, "
                    "seconds FROM epochs WHERE run_id = ?1 ORDER BY epoch",
    [M_IN_LAYERS] = "SELECT epoch, layer, mean_activation, dead_fraction, grad_norm "
                    "FROM layer_stats WHERE run_id = ?1 ORDER BY epoch, layer",
    [M_IN_CONFIGS] = "SELECT config_text, config_path, recorded_at, from_upgrade "
                     "FROM sweep_configs WHERE sweep_id = ?1 ORDER BY rowid",
    [M_IN_CLASSES] = "SELECT class, name FROM classes WHERE sweep_id = ?1 ORDER BY class",
    [M_SWEEP_GET] = "SELECT sweep_id, config_text FROM sweeps WHERE name = ?1",
    [M_SWEEP_PUT] = "INSERT INTO sweeps (name, config_path, config_text, created_at) "
                    "VALUES (?1, ?2, ?3, ?4)",
    [M_RUN_GET] = "SELECT run_id, status, test_loss, test_accuracy FROM runs "
                  "WHERE sweep_id = ?1 AND run_key = ?2",
    [M_RUN_PUT] = "INSERT INTO runs (sweep_id, " MERGE_RUN_COLUMNS ") VALUES (?1, "
                  "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
                  "?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, "
                  "?30, ?31, ?32, ?33, ?34, ?35, ?36, ?37, ?38, ?39, ?40, ?41, ?42)",
    [M_RUN_SET] = "UPDATE runs SET status = ?2, started_at = ?3, finished_at = ?4, "
                  "wall_seconds = ?5, threads = ?6, test_loss = ?7, test_accuracy = ?8, "
                  "error = ?9, diverged_epoch = ?10, host = ?11, pid = ?12, "
                  "heartbeat_at = ?13, best_epoch = ?14, stopped_epoch = ?15, "
                  "data_format = ?16, label = ?17, augment = ?18, val_limit = ?19, "
                  /* an input from before version 3 may not know the
                   * dataset; the key says it is the same */
                  "test_limit = ?20, dataset = coalesce(?21, dataset) WHERE run_id = ?1",
    [M_EPOCHS_DEL] = "DELETE FROM epochs WHERE run_id = ?1",
    [M_EPOCH_PUT] = "INSERT INTO epochs (run_id, epoch, train_loss, train_accuracy, "
                    "val_loss, val_accuracy, seconds) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [M_EPOCH_GET] = "SELECT train_loss, train_accuracy, val_loss, val_accuracy "
                    "FROM epochs WHERE run_id = ?1 AND epoch = ?2",
    [M_EPOCH_COUNT] = "SELECT count(*) FROM epochs WHERE run_id = ?1",
    [M_COUNTS] = "SELECT status, count(*) FROM runs WHERE sweep_id = ?1 GROUP BY status",
    /* the output's names stay: a sweep's data is the same in every shard */
    [M_CLASS_PUT] = "INSERT OR IGNORE INTO classes (sweep_id, class, name) VALUES (?1, ?2, ?3)",
    [M_LAYER_PUT] = "INSERT INTO layer_stats (run_id, epoch, layer, mean_activation, "
                    "dead_fraction, grad_norm) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [M_RUN_GRID] = "UPDATE runs SET in_grid = ?2 WHERE run_id = ?1",
    [M_CONFIG_PUT] = "INSERT INTO sweep_configs (sweep_id, config_text, config_path, "
                     "recorded_at, from_upgrade) VALUES (?1, ?2, ?3, ?4, ?5)",
};

typedef struct {
    store *out, *in;
    const char *what;
    sqlite3_stmt *st[M_COUNT];
    store_merge_report *rep;
    long long *rep_sweep;      /* the output's sweep_id per report */
    int n_rep, cap_rep;
    char note[160];            /* error = note when a run was running */
} merge_ctx;

static void merge_finalize(merge_ctx *m, int from, int to)
{
    for (int i = from; i < to; i++) {
        sqlite3_finalize(m->st[i]);
        m->st[i] = NULL;
    }
}

static int merge_prepare(merge_ctx *m, store *s, int from, int to, sw_error *err)
{
    for (int i = from; i < to; i++)
        if (sqlite3_prepare_v2(s->db, MERGE_SQL[i], -1, &m->st[i], NULL) != SQLITE_OK)
            return db_fail(s, m->what, err);
    return SW_OK;
}

/* Same type and the same bits (a double compared as its bytes). */
static int same_column(sqlite3_stmt *a, int ia, sqlite3_stmt *b, int ib)
{
    int t = sqlite3_column_type(a, ia);
    if (t != sqlite3_column_type(b, ib))
        return 0;
    switch (t) {
    case SQLITE_NULL:
        return 1;
    case SQLITE_INTEGER:
        return sqlite3_column_int64(a, ia) == sqlite3_column_int64(b, ib);
    case SQLITE_FLOAT: {
        double x = sqlite3_column_double(a, ia), y = sqlite3_column_double(b, ib);
        return memcmp(&x, &y, sizeof x) == 0;
    }
    default: {
        int n = sqlite3_column_bytes(a, ia);
        const void *p = sqlite3_column_blob(a, ia), *q = sqlite3_column_blob(b, ib);
        return n == sqlite3_column_bytes(b, ib) && (n == 0 || memcmp(p, q, (size_t)n) == 0);
    }
    }
}

/* Steps st expecting one row; *row = 0 when there is none. */
static int step_row(store *s, sqlite3_stmt *st, int *row, const char *what, sw_error *err)
{
    int rc = sqlite3_step(st);
    *row = rc == SQLITE_ROW;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(s, what, err);
    return SW_OK;
}

/* The report for sweep name (found or added); NULL when out of memory. */
static store_merge_report *merge_report_for(merge_ctx *m, const char *name, long long sweep_id)
{
    for (int i = 0; i < m->n_rep; i++)
        if (m->rep_sweep[i] == sweep_id)
            return &m->rep[i];
    if (m->n_rep == m->cap_rep) {
        int cap = m->cap_rep ? 2 * m->cap_rep : 4;
        store_merge_report *r = realloc(m->rep, (size_t)cap * sizeof *r);
        if (!r)
            return NULL;
        m->rep = r;
        long long *ids = realloc(m->rep_sweep, (size_t)cap * sizeof *ids);
        if (!ids)
            return NULL;
        m->rep_sweep = ids;
        m->cap_rep = cap;
    }
    store_merge_report *r = &m->rep[m->n_rep];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    m->rep_sweep[m->n_rep++] = sweep_id;
    return r;
}

/* Binds the input run's state columns (status .. heartbeat_at) from
 * column MERGE_COL_STATUS of runs to ?first and on. A run still running in
 * its shard is interrupted here: the output never sees its next epochs. */
static int bind_run_state(merge_ctx *m, sqlite3_stmt *dst, int first, sqlite3_stmt *runs)
{
    int running = run_status_from_name((const char *)sqlite3_column_text(
                      runs, MERGE_COL_STATUS)) == RUN_RUNNING;
    int rc = SQLITE_OK;
    for (int c = MERGE_COL_STATUS; c < MERGE_N_COLS && rc == SQLITE_OK; c++) {
        int i = first + c - MERGE_COL_STATUS;
        if (running && c == MERGE_COL_STATUS)
            rc = db_bind_text(dst, i, run_status_name(RUN_INTERRUPTED));
        else if (running && c == MERGE_COL_ERROR &&
                 sqlite3_column_type(runs, c) == SQLITE_NULL)
            rc = db_bind_text(dst, i, m->note);
        else
            rc = sqlite3_bind_value(dst, i, sqlite3_column_value(runs, c));
    }
    return rc;
}

/* Copies the input run's rows of get (ncols columns after run_id) to the
 * output run through put. */
static int merge_rows(merge_ctx *m, sqlite3_stmt *get, sqlite3_stmt *put, int ncols,
                      long long in_run, long long out_run, sw_error *err)
{
    if (sqlite3_bind_int64(get, 1, in_run))
        return db_bind_fail(m->in, get, m->what, err);
    int rc;
    while ((rc = sqlite3_step(get)) == SQLITE_ROW) {
        int b = sqlite3_bind_int64(put, 1, out_run);
        for (int c = 0; c < ncols && b == SQLITE_OK; c++)
            b = sqlite3_bind_value(put, c + 2, sqlite3_column_value(get, c));
        if (b != SQLITE_OK) {
            db_stmt_done(get);
            return db_bind_fail(m->out, put, m->what, err);
        }
        if (db_step_done(m->out, put, m->what, err)) {
            db_stmt_done(get);
            return err->code;
        }
    }
    if (rc != SQLITE_DONE)
        return db_bind_fail(m->in, get, m->what, err);
    db_stmt_done(get);
    return SW_OK;
}

/* Copies the input run's epochs and layer statistics to the output run,
 * replacing any (deleting its epochs deletes their layer_stats rows). */
static int merge_epochs(merge_ctx *m, long long in_run, long long out_run, sw_error *err)
{
    sqlite3_stmt *del = m->st[M_EPOCHS_DEL];
    if (sqlite3_bind_int64(del, 1, out_run))
        return db_bind_fail(m->out, del, m->what, err);
    if (db_step_done(m->out, del, m->what, err))
        return err->code;
    if (merge_rows(m, m->st[M_IN_EPOCHS], m->st[M_EPOCH_PUT], 6, in_run, out_run, err))
        return err->code;
    return merge_rows(m, m->st[M_IN_LAYERS], m->st[M_LAYER_PUT], 5, in_run, out_run, err);
}

/* Whether two done copies agree: test scores and every epoch's metrics
 * bit for bit (not the wall times, which always differ). out_run is the
 * output's row, whose test scores are in M_RUN_GET's current row. */
static int merge_same_result(merge_ctx *m, sqlite3_stmt *runs, long long in_run,
                             long long out_run, int *same, sw_error *err)
{
    sqlite3_stmt *old = m->st[M_RUN_GET], *get = m->st[M_IN_EPOCHS],
                 *cnt = m->st[M_EPOCH_COUNT], *oe = m->st[M_EPOCH_GET];
    *same = same_column(runs, MERGE_COL_TEST_LOSS, old, 2) &&
            same_column(runs, MERGE_COL_TEST_LOSS + 1, old, 3);
    long long n_out = 0, n_in = 0;
    int row;
    if (sqlite3_bind_int64(cnt, 1, out_run))
        return db_bind_fail(m->out, cnt, m->what, err);
    if (step_row(m->out, cnt, &row, m->what, err)) {
        db_stmt_done(cnt);
        return err->code;
    }
    n_out = row ? sqlite3_column_int64(cnt, 0) : 0;
    db_stmt_done(cnt);
    if (sqlite3_bind_int64(get, 1, in_run))
        return db_bind_fail(m->in, get, m->what, err);
    int rc = SQLITE_DONE;
    while (*same && (rc = sqlite3_step(get)) == SQLITE_ROW) {
        n_in++;
        if (sqlite3_bind_int64(oe, 1, out_run) ||
            sqlite3_bind_value(oe, 2, sqlite3_column_value(get, 0))) {
            db_stmt_done(get);
            return db_bind_fail(m->out, oe, m->what, err);
        }
        if (step_row(m->out, oe, &row, m->what, err)) {
            db_stmt_done(oe);
            db_stmt_done(get);
            return err->code;
        }
        for (int c = 0; c < 4 && row; c++)
            row = same_column(get, c + 1, oe, c);
        *same = row;
        db_stmt_done(oe);
    }
    if (*same && rc != SQLITE_DONE)
        return db_bind_fail(m->in, get, m->what, err);
    db_stmt_done(get);
    if (n_in != n_out)
        *same = 0;
    return SW_OK;
}

/* One run of the input: added, replaced by a better copy, or kept. */
static int merge_run(merge_ctx *m, store_merge_report *r, long long out_sweep,
                     sqlite3_stmt *runs, sw_error *err)
{
    sqlite3_stmt *get = m->st[M_RUN_GET];
    long long in_run = sqlite3_column_int64(runs, MERGE_COL_RUN_ID);
    if (sqlite3_bind_int64(get, 1, out_sweep) ||
        sqlite3_bind_value(get, 2, sqlite3_column_value(runs, 0)))
        return db_bind_fail(m->out, get, m->what, err);
    int row;
    if (step_row(m->out, get, &row, m->what, err)) {
        db_stmt_done(get);
        return err->code;
    }
    const char *status_text = (const char *)sqlite3_column_text(runs, MERGE_COL_STATUS);
    int in_status = run_status_from_name(status_text);
    if (in_status < 0) {   /* edited by hand past the CHECK constraint */
        db_stmt_done(get);
        return sw_err(err, SW_EINPUT, "%s: run %s of sweep '%s' has the unknown status '%s' "
                      "(statuses: pending, running, done, failed, diverged, interrupted); "
                      "correct it in that database, then merge again", m->in->path,
                      (const char *)sqlite3_column_text(runs, 0), r->name,
                      status_text ? status_text : "NULL");
    }
    if (!row) {
        db_stmt_done(get);
        sqlite3_stmt *put = m->st[M_RUN_PUT];
        int b = sqlite3_bind_int64(put, 1, out_sweep);
        for (int c = 0; c < MERGE_COL_STATUS && b == SQLITE_OK; c++)
            b = sqlite3_bind_value(put, c + 2, sqlite3_column_value(runs, c));
        if (b == SQLITE_OK)
            b = bind_run_state(m, put, MERGE_COL_STATUS + 2, runs);
        if (b != SQLITE_OK)
            return db_bind_fail(m->out, put, m->what, err);
        if (db_step_done(m->out, put, m->what, err))
            return err->code;
        r->added++;
        long long out_run = sqlite3_last_insert_rowid(m->out->db);
        if (sqlite3_column_int(runs, MERGE_COL_IN_GRID) == 0) {   /* it left the grid */
            sqlite3_stmt *grid = m->st[M_RUN_GRID];
            if (sqlite3_bind_int64(grid, 1, out_run) || sqlite3_bind_int(grid, 2, 0))
                return db_bind_fail(m->out, grid, m->what, err);
            if (db_step_done(m->out, grid, m->what, err))
                return err->code;
        }
        return merge_epochs(m, in_run, out_run, err);
    }
    long long out_run = sqlite3_column_int64(get, 0);
    int out_status = run_status_from_name((const char *)sqlite3_column_text(get, 1));
    if (in_status == RUN_DONE && out_status == RUN_DONE) {
        int same, rc = merge_same_result(m, runs, in_run, out_run, &same, err);
        db_stmt_done(get);
        if (rc)
            return rc;
        if (!same && r->differ++ == 0)
            snprintf(r->differ_key, sizeof r->differ_key, "%s",
                     (const char *)sqlite3_column_text(runs, 0));
        r->kept++;
        return SW_OK;
    }
    db_stmt_done(get);
    if (merge_rank(in_status) <= merge_rank(out_status)) {
        r->kept++;
        return SW_OK;
    }
    sqlite3_stmt *set = m->st[M_RUN_SET];
    if (sqlite3_bind_int64(set, 1, out_run) || bind_run_state(m, set, 2, runs))
        return db_bind_fail(m->out, set, m->what, err);
    if (db_step_done(m->out, set, m->what, err))
        return err->code;
    r->replaced++;
    return merge_epochs(m, in_run, out_run, err);
}

/* The input's sweep at the current row of sweeps: found in the output (the
 * same config, else refused) or added, then its runs. */
static int merge_sweep(merge_ctx *m, sqlite3_stmt *sw, sw_error *err)
{
    const char *name = (const char *)sqlite3_column_text(sw, 1);
    sqlite3_stmt *get = m->st[M_SWEEP_GET];
    if (db_bind_text(get, 1, name))
        return db_bind_fail(m->out, get, m->what, err);
    int row;
    if (step_row(m->out, get, &row, m->what, err)) {
        db_stmt_done(get);
        return err->code;
    }
    long long out_sweep = row ? sqlite3_column_int64(get, 0) : 0;
    int same = row && same_column(sw, 3, get, 1);
    db_stmt_done(get);
    if (row && !same)
        return sw_err(err, SW_EINPUT, "%s: sweep '%s' has another config than in %s (the "
                      "same name, a different config_text): merge refused, %s unchanged",
                      m->in->path, name, m->out->path, m->out->path);
    if (!row) {
        sqlite3_stmt *put = m->st[M_SWEEP_PUT];
        int b = SQLITE_OK;
        for (int c = 1; c <= 4 && b == SQLITE_OK; c++)
            b = sqlite3_bind_value(put, c, sqlite3_column_value(sw, c));
        if (b != SQLITE_OK)
            return db_bind_fail(m->out, put, m->what, err);
        if (db_step_done(m->out, put, m->what, err))
            return err->code;
        out_sweep = sqlite3_last_insert_rowid(m->out->db);
        /* a sweep new to the output brings its config history */
        if (merge_rows(m, m->st[M_IN_CONFIGS], m->st[M_CONFIG_PUT], 4,
                       sqlite3_column_int64(sw, 0), out_sweep, err))
            return err->code;
    }
    store_merge_report *r = merge_report_for(m, name, out_sweep);
    if (!r)
        return sw_oom(err, m->out->path);
    r->inputs++;
    sqlite3_stmt *runs = m->st[M_IN_RUNS];
    if (sqlite3_bind_int64(runs, 1, sqlite3_column_int64(sw, 0)))
        return db_bind_fail(m->in, runs, m->what, err);
    int rc;
    while ((rc = sqlite3_step(runs)) == SQLITE_ROW)
        if (merge_run(m, r, out_sweep, runs, err)) {
            db_stmt_done(runs);
            return err->code;
        }
    if (rc != SQLITE_DONE)
        return db_bind_fail(m->in, runs, m->what, err);
    db_stmt_done(runs);
    return merge_rows(m, m->st[M_IN_CLASSES], m->st[M_CLASS_PUT], 2, sqlite3_column_int64(sw, 0),
                      out_sweep, err);
}

/* One input, opened (and so checked) as store_open checks any database. */
static int merge_input(merge_ctx *m, const char *path, sw_error *err)
{
    struct stat a, b;
    if (stat(path, &a) == 0 && stat(m->out->path, &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino)
        return sw_err(err, SW_EINPUT, "%s: is the output database itself", path);
    if (store_open(&m->in, path, 0, err))
        return err->code;
    snprintf(m->note, sizeof m->note, "was running in %.120s when merged", path);
    int rc = merge_prepare(m, m->in, M_IN_SWEEPS, M_IN_CLASSES + 1, err);
    sqlite3_stmt *sw = m->st[M_IN_SWEEPS];
    while (rc == SW_OK) {
        int step = sqlite3_step(sw);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW)
            rc = db_fail(m->in, m->what, err);
        else
            rc = merge_sweep(m, sw, err);
    }
    merge_finalize(m, M_IN_SWEEPS, M_IN_CLASSES + 1);
    store_close(m->in);
    m->in = NULL;
    return rc;
}

/* Final counts per status of each reported sweep. */
static int merge_counts(merge_ctx *m, sw_error *err)
{
    sqlite3_stmt *st = m->st[M_COUNTS];
    for (int i = 0; i < m->n_rep; i++) {
        if (sqlite3_bind_int64(st, 1, m->rep_sweep[i]))
            return db_bind_fail(m->out, st, m->what, err);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            int k = run_status_from_name((const char *)sqlite3_column_text(st, 0));
            if (k >= 0)
                m->rep[i].count[k] += sqlite3_column_int(st, 1);
        }
        if (rc != SQLITE_DONE)
            return db_bind_fail(m->out, st, m->what, err);
        db_stmt_done(st);
    }
    return SW_OK;
}

static int merge_all(store *out, const char *const *in_paths, int n_in, merge_ctx *m,
                     sw_error *err)
{
    if (db_tx_begin(out, m->what, err))
        return err->code;
    int rc = merge_prepare(m, out, M_SWEEP_GET, M_COUNT, err);
    for (int i = 0; rc == SW_OK && i < n_in; i++)
        rc = merge_input(m, in_paths[i], err);
    if (rc == SW_OK)
        rc = merge_counts(m, err);
    merge_finalize(m, 0, M_COUNT);
    if (rc != SW_OK)
        return db_tx_fail(out, err);
    return db_tx_commit(out, m->what, err);
}

int store_merge(store *out, const char *const *in_paths, int n_in, store_merge_report **rep,
                int *n_rep, sw_error *err)
{
    *rep = NULL;
    *n_rep = 0;
    merge_ctx m = {.out = out, .what = "merging"};
    pthread_mutex_lock(&out->lock);
    int rc = merge_all(out, in_paths, n_in, &m, err);
    pthread_mutex_unlock(&out->lock);
    free(m.rep_sweep);
    if (rc != SW_OK) {
        free(m.rep);
        return rc;
    }
    *rep = m.rep;
    *n_rep = m.n_rep;
    return SW_OK;
}
