/* epochs.c: a run's epochs with their layer statistics, dropping the
 * epochs a checkpoint does not cover, and the status counts per sweep. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_internal.h"

/* The epoch row, inside the caller's transaction. */
static int put_epoch(store *s, long long run_id, int epoch, const epoch_metrics *m,
                     const char *what, sw_error *err)
{
    sqlite3_stmt *put = db_stmt(s, Q_EPOCH_PUT, what, err);
    if (!put)
        return err->code;
    int rc = sqlite3_bind_int64(put, 1, run_id);
    rc = rc ? rc : sqlite3_bind_int(put, 2, epoch);
    rc = rc ? rc : db_bind_real(put, 3, m->train_loss);
    rc = rc ? rc : db_bind_real(put, 4, m->train_accuracy);
    rc = rc ? rc : db_bind_real(put, 5, m->val_loss);
    rc = rc ? rc : db_bind_real(put, 6, m->val_accuracy);
    rc = rc ? rc : db_bind_real(put, 7, m->seconds);
    if (rc != SQLITE_OK)
        return db_bind_fail(s, put, what, err);
    return db_step_done(s, put, what, err);
}

/* The epoch's layer rows, inside the caller's transaction, after the epoch
 * row (layer_stats references it). Replacing the epoch row dropped its old
 * layer rows (ON DELETE CASCADE). */
static int put_layers(store *s, long long run_id, int epoch, const layer_stat *layers,
                      int n_layers, const char *what, sw_error *err)
{
    sqlite3_stmt *lay = n_layers > 0 ? db_stmt(s, Q_LAYER_PUT, what, err) : NULL;
    if (n_layers > 0 && !lay)
        return err->code;
    for (int i = 0; i < n_layers; i++) {
        const layer_stat *l = &layers[i];
        int rc = sqlite3_bind_int64(lay, 1, run_id);
        rc = rc ? rc : sqlite3_bind_int(lay, 2, epoch);
        rc = rc ? rc : db_bind_text(lay, 3, l->layer);
        rc = rc ? rc : db_bind_real(lay, 4, l->mean_activation);
        rc = rc ? rc : db_bind_real(lay, 5, l->dead_fraction);
        rc = rc ? rc : db_bind_real(lay, 6, l->grad_norm);
        if (rc != SQLITE_OK)
            return db_bind_fail(s, lay, what, err);
        if (db_step_done(s, lay, what, err))
            return err->code;
    }
    return SW_OK;
}

static int epoch_add(store *s, long long run_id, int epoch, const epoch_metrics *m,
                     const layer_stat *layers, int n_layers, sw_error *err)
{
    char what[80];
    snprintf(what, sizeof what, "recording epoch %d of run %lld", epoch, run_id);
    char now[32];
    db_iso_utc(time(NULL), now);
    if (db_tx_begin(s, what, err))
        return err->code;
    /* The heartbeat first: it tells a missing run apart from a failed insert. */
    sqlite3_stmt *beat = db_stmt(s, Q_HEARTBEAT, what, err);
    if (!beat)
        return db_tx_fail(s, err);
    if (sqlite3_bind_int64(beat, 1, run_id) || db_bind_text(beat, 2, now)) {
        db_bind_fail(s, beat, what, err);
        return db_tx_fail(s, err);
    }
    if (db_step_done(s, beat, what, err))
        return db_tx_fail(s, err);
    if (sqlite3_changes(s->db) == 0) {
        sw_err(err, SW_EINPUT, "%s: %s: no run with id %lld", s->path, what,
               run_id);
        return db_tx_fail(s, err);
    }
    if (put_epoch(s, run_id, epoch, m, what, err) ||
        put_layers(s, run_id, epoch, layers, n_layers, what, err))
        return db_tx_fail(s, err);
    return db_tx_commit(s, what, err);
}

int store_epoch_add_layers(store *s, long long run_id, int epoch, const epoch_metrics *m,
                           const layer_stat *layers, int n_layers, sw_error *err)
{
    if (epoch < 1)
        return sw_err(err, SW_EINPUT, "%s: epoch %d of run %lld: epochs count "
                      "from 1", s->path, epoch, run_id);
    if (n_layers < 0 || (n_layers > 0 && !layers))
        return sw_err(err, SW_EINPUT, "%s: epoch %d of run %lld: %d layer statistics "
                      "without values", s->path, epoch, run_id, n_layers);
    pthread_mutex_lock(&s->lock);
    int rc = epoch_add(s, run_id, epoch, m, layers, n_layers, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int store_epoch_add(store *s, long long run_id, int epoch,
                    const epoch_metrics *m, sw_error *err)
{
    return store_epoch_add_layers(s, run_id, epoch, m, NULL, 0, err);
}

static int epochs_truncate(store *s, long long run_id, int keep, sw_error *err)
{
    char what[64];
    snprintf(what, sizeof what, "dropping epochs of run %lld", run_id);
    if (db_tx_begin(s, what, err))
        return err->code;
    sqlite3_stmt *del = db_stmt(s, Q_EPOCHS_CLEAR, what, err);
    if (!del)
        return db_tx_fail(s, err);
    if (sqlite3_bind_int64(del, 1, run_id) || sqlite3_bind_int(del, 2, keep)) {
        db_bind_fail(s, del, what, err);
        return db_tx_fail(s, err);
    }
    if (db_step_done(s, del, what, err))
        return db_tx_fail(s, err);
    return db_tx_commit(s, what, err) ? err->code : SW_OK;
}

int store_epochs_truncate(store *s, long long run_id, int keep, sw_error *err)
{
    pthread_mutex_lock(&s->lock);
    int rc = epochs_truncate(s, run_id, keep, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* --------------------------------------------------------------- status */

/* Adds the run at the current row of Q_STATUS to its sweep's counts.
 * Stale running runs count in `stale` only, not in count[RUN_RUNNING], so
 * "running" means a live process holds them. epochs_left is the work still
 * to do: a live running run has its committed epochs; any other run that is
 * not done starts again from epoch 1 when claimed (its old epochs are
 * deleted), so all its epochs are left. */
static void status_add_run(const store *s, sweep_status *w, sqlite3_stmt *st)
{
    const char *text = (const char *)sqlite3_column_text(st, 3);
    int k = run_status_from_name(text);
    if (k < 0 && text) {   /* edited by hand past the CHECK constraint */
        if (!w->unknown++)
            snprintf(w->unknown_status, sizeof w->unknown_status, "%s", text);
        w->epochs_left += sqlite3_column_int64(st, 7);
    }
    if (k < 0)
        return;   /* NULL: a sweep without runs */
    run_owner o;
    o.status = (run_status)k;
    db_column_copy(st, 4, o.host, sizeof o.host);
    o.pid = sqlite3_column_int64(st, 5);
    db_column_copy(st, 6, o.heartbeat, sizeof o.heartbeat);
    long long epochs = sqlite3_column_int64(st, 7);
    long long committed = sqlite3_column_int64(st, 8);
    int gone = db_owner_gone(s, &o);
    if (gone)
        w->stale++;
    else
        w->count[o.status]++;
    if (o.status == RUN_RUNNING && !gone)
        w->epochs_left += epochs > committed ? epochs - committed : 0;
    else if (o.status != RUN_DONE)
        w->epochs_left += epochs;
}

/* The entry for the sweep at the current row: the last one, or a new one
 * (rows come by sweep); NULL when out of memory. */
static sweep_status *status_entry(sweep_status **v, int *len, int *cap, sqlite3_stmt *st)
{
    long long id = sqlite3_column_int64(st, 0);
    if (*len > 0 && (*v)[*len - 1].sweep_id == id)
        return &(*v)[*len - 1];
    if (*len == *cap) {
        int ncap = *cap ? 2 * *cap : 8;
        sweep_status *nv = realloc(*v, (size_t)ncap * sizeof *nv);
        if (!nv)
            return NULL;
        *v = nv;
        *cap = ncap;
    }
    sweep_status *w = &(*v)[(*len)++];
    memset(w, 0, sizeof *w);
    w->sweep_id = id;
    db_column_copy(st, 1, w->name, sizeof w->name);
    w->mean_seconds_per_epoch = sqlite3_column_double(st, 2);
    return w;
}

static int status_all(store *s, sweep_status **out, int *n, sw_error *err)
{
    const char *what = "reading the status";
    sqlite3_stmt *st = db_stmt(s, Q_STATUS, what, err);
    if (!st)
        return err->code;
    if (db_bind_text(st, 1, run_status_name(RUN_DONE)) != SQLITE_OK)
        return db_bind_fail(s, st, what, err);
    sweep_status *v = NULL;
    int len = 0, cap = 0, rc, failed = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sweep_status *w = status_entry(&v, &len, &cap, st);
        if (!w) {
            failed = db_oom(s, what, err);
            break;
        }
        status_add_run(s, w, st);
    }
    if (!failed && rc != SQLITE_DONE)
        failed = db_fail(s, what, err);
    db_stmt_done(st);
    if (failed) {
        free(v);
        return failed;
    }
    *out = v;
    *n = len;
    return SW_OK;
}

int store_status(store *s, sweep_status **out, int *n, sw_error *err)
{
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&s->lock);
    int rc = status_all(s, out, n, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}
