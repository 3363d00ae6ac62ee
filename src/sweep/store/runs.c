/* runs.c: sweeps and their runs: recording them, leases (who holds a
 * running run, and whether it is gone), claiming a run, and its end. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_internal.h"

#include "nn/activation.h"
#include "train/early_stop.h"
#include "train/init.h"
#include "train/optim.h"

/* ---------------------------------------------------------------- names */

/* A run's names as the runs table holds them, from the tables of the
 * modules that own them; NULL for a kind that has no name (a name must
 * read back as its kind). */
static const char *activation_text(act_kind k)
{
    const char *name = act_name(k);
    return act_from_name(name) == (int)k ? name : NULL;
}

static const char *optimizer_text(optim_kind k)
{
    const char *name = optim_name(k);
    return optim_from_name(name) == (int)k ? name : NULL;
}

static const char *init_text(init_kind k)
{
    const char *name = init_name(k);
    return init_from_name(name) == (int)k ? name : NULL;
}

/* The run statuses, in enum order: the one table of their names. The
 * schema's CHECK constraint lists them too (a unit test holds the two
 * together). */
static const char *const STATUS_NAMES[RUN_STATUS_COUNT] = {
    [RUN_PENDING] = "pending", [RUN_RUNNING] = "running", [RUN_DONE] = "done",
    [RUN_FAILED] = "failed", [RUN_DIVERGED] = "diverged",
    [RUN_INTERRUPTED] = "interrupted"};

const char *run_status_name(run_status st)
{
    return (int)st >= 0 && st < RUN_STATUS_COUNT ? STATUS_NAMES[st] : "unknown";
}

int run_status_from_name(const char *name)
{
    for (int i = 0; name && i < RUN_STATUS_COUNT; i++)
        if (strcmp(name, STATUS_NAMES[i]) == 0)
            return i;
    return -1;
}

/* ---------------------------------------------------------------- sweeps */

int db_sweep_find(store *s, const char *name, long long *sweep_id,
                  sw_error *err)
{
    *sweep_id = 0;
    sqlite3_stmt *st = db_stmt(s, Q_SWEEP_FIND, "finding a sweep", err);
    if (!st)
        return err->code;
    if (db_bind_text(st, 1, name) != SQLITE_OK)
        return db_bind_fail(s, st, "finding a sweep", err);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *sweep_id = sqlite3_column_int64(st, 0);
    else if (rc != SQLITE_DONE)
        return db_bind_fail(s, st, "finding a sweep", err);
    db_stmt_done(st);
    return SW_OK;
}

/* A config text new to the sweep (not its latest) joins its history, and
 * every run leaves the grid until store_runs_ensure names it again; so do
 * the runs of a sweep whose latest config the upgrade to version 3 copied
 * (they may mix grids). */
static int config_record(store *s, long long sweep_id, const sweep_config *c,
                         const char *now, sw_error *err)
{
    const char *what = "recording the sweep's config";
    if (!c->text)
        return SW_OK;
    sqlite3_stmt *st = db_stmt(s, Q_CONFIG_LATEST, what, err);
    if (!st)
        return err->code;
    if (sqlite3_bind_int64(st, 1, sweep_id))
        return db_bind_fail(s, st, what, err);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_bind_fail(s, st, what, err);
    const char *latest = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    int same = latest && strcmp(latest, c->text) == 0;
    int upgraded = rc == SQLITE_ROW && sqlite3_column_int(st, 1) != 0;
    long long row = rc == SQLITE_ROW ? sqlite3_column_int64(st, 2) : 0;
    db_stmt_done(st);
    if (same && !upgraded)
        return SW_OK;
    /* new text: into the history; the same text as the upgrade copied:
     * the entry stays, its runs are sorted now */
    st = db_stmt(s, same ? Q_CONFIG_CHECKED : Q_CONFIG_ADD, what, err);
    if (!st)
        return err->code;
    if (same ? sqlite3_bind_int64(st, 1, row)
             : sqlite3_bind_int64(st, 1, sweep_id) || db_bind_text(st, 2, c->text) ||
                   db_bind_text(st, 3, c->path) || db_bind_text(st, 4, now))
        return db_bind_fail(s, st, what, err);
    if (db_step_done(s, st, what, err))
        return err->code;
    if (!(st = db_stmt(s, Q_GRID_CLEAR, what, err)))
        return err->code;
    if (sqlite3_bind_int64(st, 1, sweep_id))
        return db_bind_fail(s, st, what, err);
    return db_step_done(s, st, what, err);
}

static int sweep_upsert(store *s, const sweep_config *c, long long *sweep_id,
                        sw_error *err)
{
    const char *what = "recording the sweep";
    char now[32];
    db_iso_utc(time(NULL), now);
    if (db_tx_begin(s, what, err))
        return err->code;
    sqlite3_stmt *st = db_stmt(s, Q_SWEEP_UPSERT, what, err);
    if (!st)
        return db_tx_fail(s, err);
    if (db_bind_text(st, 1, c->name) || db_bind_text(st, 2, c->path) ||
        db_bind_text(st, 3, c->text) || db_bind_text(st, 4, now)) {
        db_bind_fail(s, st, what, err);
        return db_tx_fail(s, err);
    }
    if (db_step_done(s, st, what, err) || db_sweep_find(s, c->name, sweep_id, err) ||
        config_record(s, *sweep_id, c, now, err))
        return db_tx_fail(s, err);
    return db_tx_commit(s, what, err);
}

int store_sweep_upsert(store *s, const sweep_config *c, long long *sweep_id,
                       sw_error *err)
{
    *sweep_id = 0;
    if (!c->name || !*c->name)
        return sw_err(err, SW_EINPUT, "%s: a sweep needs a name", s->path);
    pthread_mutex_lock(&s->lock);
    int rc = sweep_upsert(s, c, sweep_id, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int store_sweep_find(store *s, const char *name, long long *sweep_id,
                     sw_error *err)
{
    pthread_mutex_lock(&s->lock);
    int rc = db_sweep_find(s, name, sweep_id, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ----------------------------------------------------------------- runs */

static int run_find(store *s, long long sweep_id, const char *run_key,
                    long long *run_id, sw_error *err)
{
    const char *what = "finding a run";
    sqlite3_stmt *st = db_stmt(s, Q_RUN_ID, what, err);
    if (!st)
        return err->code;
    if (sqlite3_bind_int64(st, 1, sweep_id) || db_bind_text(st, 2, run_key))
        return db_bind_fail(s, st, what, err);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *run_id = sqlite3_column_int64(st, 0);
    else if (rc != SQLITE_DONE)
        return db_bind_fail(s, st, what, err);
    db_stmt_done(st);
    return SW_OK;
}

int store_run_find(store *s, long long sweep_id, const char *run_key,
                   long long *run_id, sw_error *err)
{
    *run_id = 0;
    pthread_mutex_lock(&s->lock);
    int rc = run_find(s, sweep_id, run_key, run_id, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int bind_settings(sqlite3_stmt *st, long long sweep_id, const char *key,
                         const run_settings *r)
{
    int rc = sqlite3_bind_int64(st, 1, sweep_id);
    rc = rc ? rc : db_bind_text(st, 2, key);
    rc = rc ? rc : db_bind_text(st, 3, activation_text(r->activation));
    rc = rc ? rc : db_bind_real(st, 4, act_info(r->activation)->takes_alpha ? r->alpha : NAN);
    rc = rc ? rc : db_bind_text(st, 5, init_text(r->init));
    rc = rc ? rc : db_bind_real(st, 6, r->dropout);
    rc = rc ? rc : sqlite3_bind_int(st, 7, r->epochs);
    rc = rc ? rc : sqlite3_bind_int64(st, 8, r->seed);
    rc = rc ? rc : sqlite3_bind_int(st, 9, r->batch_size);
    rc = rc ? rc : db_bind_real(st, 10, r->learning_rate);
    rc = rc ? rc : db_bind_text(st, 11, optimizer_text(r->optimizer));
    rc = rc ? rc : db_bind_real(st, 12, r->validation_split);
    rc = rc ? rc : sqlite3_bind_int64(st, 13, r->train_limit);
    /* a zeroed model is the default one (grid.h), with its padding */
    model_shape m = r->model;
    char shape[256];
    if (m.n_conv == 0) {
        model_shape_default(&m);
        m.same = r->model.same;
    }
    model_shape_text(&m, shape, sizeof shape);
    rc = rc ? rc : db_bind_text(st, 14, shape);
    const es_settings *es = &r->early_stopping;
    const char *monitor = es_monitor_name(es->monitor);   /* NULL when off */
    int on = monitor != NULL;
    rc = rc ? rc : db_bind_text(st, 15, monitor);
    rc = rc ? rc : on ? sqlite3_bind_int(st, 16, es->patience) : sqlite3_bind_null(st, 16);
    rc = rc ? rc : on ? sqlite3_bind_int(st, 17, es->restore_best ? 1 : 0)
                      : sqlite3_bind_null(st, 17);
    /* the data: format and labelling as loaded, augmentation (NULL when
     * off), evaluation limits (0: whole sets) */
    const char *format = dataset_format_name((dataset_format)r->data_format);
    char augment[64];
    grid_augment_text(&r->augment, augment, sizeof augment);
    rc = rc ? rc : db_bind_text(st, 18, format && r->data_format != DATA_AUTO ? format : "idx");
    rc = rc ? rc : db_bind_text(st, 19, r->data_label >= 0
                                            ? cifar_label_name((cifar_label)r->data_label) : NULL);
    rc = rc ? rc : db_bind_text(st, 20, augment[0] ? augment : NULL);
    rc = rc ? rc : sqlite3_bind_int64(st, 21, r->val_limit);
    rc = rc ? rc : sqlite3_bind_int64(st, 22, r->test_limit);
    char sched[64];
    sched_text(&r->lr_schedule, sched, sizeof sched);
    rc = rc ? rc : sqlite3_bind_int(st, 23, r->batchnorm ? 1 : 0);
    rc = rc ? rc : db_bind_real(st, 24, r->momentum);
    rc = rc ? rc : sqlite3_bind_int(st, 25, r->nesterov ? 1 : 0);
    rc = rc ? rc : db_bind_real(st, 26, r->weight_decay);
    rc = rc ? rc : db_bind_text(st, 27, sched);
    char identity[17];   /* as the run key's text writes it */
    snprintf(identity, sizeof identity, "%016llx", (unsigned long long)r->data_identity);
    rc = rc ? rc : db_bind_text(st, 28, r->data_identity ? identity : NULL);
    return rc;
}

static int grid_mark(store *s, long long run_id, const char *what, sw_error *err)
{
    sqlite3_stmt *st = db_stmt(s, Q_GRID_MARK, what, err);
    if (!st)
        return err->code;
    if (sqlite3_bind_int64(st, 1, run_id))
        return db_bind_fail(s, st, what, err);
    return db_step_done(s, st, what, err);
}

static int runs_ensure(store *s, long long sweep_id, const run_settings *runs,
                       char (*keys)[RUN_KEY_LEN + 1], int n, long long *run_ids,
                       sw_error *err)
{
    const char *what = "recording the runs";
    for (int i = 0; i < n; i++) {
        const run_settings *r = &runs[i];
        if (!activation_text(r->activation) || !init_text(r->init) ||
            !optimizer_text(r->optimizer))
            return sw_err(err, SW_EINPUT, "%s: run %d has an unknown "
                          "activation, init or optimizer", s->path, i);
    }
    if (db_tx_begin(s, what, err))
        return err->code;
    sqlite3_stmt *ins = db_stmt(s, Q_RUN_INSERT, what, err);
    if (!ins)
        return db_tx_fail(s, err);
    for (int i = 0; i < n; i++) {
        if (bind_settings(ins, sweep_id, keys[i], &runs[i]) != SQLITE_OK) {
            db_bind_fail(s, ins, what, err);
            return db_tx_fail(s, err);
        }
        run_ids[i] = 0;
        if (db_step_done(s, ins, what, err) ||
            run_find(s, sweep_id, keys[i], &run_ids[i], err))
            return db_tx_fail(s, err);
        if (!run_ids[i]) {   /* only if the insert silently did nothing */
            sw_err(err, SW_EINPUT, "%s: %s: run %s was not recorded", s->path,
                   what, keys[i]);
            return db_tx_fail(s, err);
        }
        if (grid_mark(s, run_ids[i], what, err))
            return db_tx_fail(s, err);
    }
    return db_tx_commit(s, what, err);
}

int store_runs_ensure(store *s, long long sweep_id, const run_settings *runs,
                      char (*keys)[RUN_KEY_LEN + 1], int n, long long *run_ids,
                      sw_error *err)
{
    pthread_mutex_lock(&s->lock);
    int rc = runs_ensure(s, sweep_id, runs, keys, n, run_ids, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* --------------------------------------------------------------- leases */

static int iso_parse(const char *text, time_t *t)
{
    struct tm tm = {0};
    if (!text || sscanf(text, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon,
                        &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *t = timegm(&tm);
    return 0;
}

/* When process pid started, in seconds since the epoch: its start in clock
 * ticks after boot (field 22 of /proc/PID/stat) plus the boot time (btime
 * in /proc/stat). -1 when it cannot be told (no /proc). */
static double process_start(long long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%lld/stat", pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');   /* the name in parentheses may hold anything */
    unsigned long long ticks = 0;
    long hz = sysconf(_SC_CLK_TCK);
    if (!p || hz <= 0 ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
                      "%*d %*d %llu", &ticks) != 1)
        return -1;
    f = fopen("/proc/stat", "r");
    long long btime = -1;
    while (f && fgets(buf, sizeof buf, f))
        if (sscanf(buf, "btime %lld", &btime) == 1)
            break;
    if (f)
        fclose(f);
    return btime < 0 ? -1 : (double)btime + (double)ticks / (double)hz;
}

/* A running row whose owner is gone. On our host the pid answers for
 * itself (EPERM means it lives under another user), unless that pid now
 * names a process that started after the row's last heartbeat: the owner
 * claimed the run (and set the heartbeat) while it lived, so a later
 * process only reuses its pid (after a reboot, in another PID namespace).
 * Elsewhere only the heartbeat can tell, so a lease older than
 * STORE_LEASE_SECONDS is stale. */
int db_owner_gone(const store *s, const run_owner *o)
{
    if (o->status != RUN_RUNNING)
        return 0;
    time_t beat;
    int has_beat = iso_parse(o->heartbeat, &beat) == 0;
    if (o->host[0] && strcmp(o->host, s->host) == 0 && o->pid > 0 &&
        o->pid == (long long)(pid_t)o->pid) {
        if (kill((pid_t)o->pid, 0) != 0 && errno == ESRCH)
            return 1;
        double started = process_start(o->pid);
        /* the slack absorbs boot-time rounding and small clock steps */
        return has_beat && started >= 0 && started > (double)beat + 5.0;
    }
    if (!has_beat)
        return 1;     /* no lease at all: nobody to wait for */
    return difftime(time(NULL), beat) > STORE_LEASE_SECONDS;
}

int db_read_owner(store *s, long long run_id, run_owner *o, const char *what,
                  sw_error *err)
{
    memset(o, 0, sizeof *o);
    sqlite3_stmt *st = db_stmt(s, Q_RUN_OWNER, what, err);
    if (!st)
        return err->code;
    if (sqlite3_bind_int64(st, 1, run_id) != SQLITE_OK)
        return db_bind_fail(s, st, what, err);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        db_stmt_done(st);
        return sw_err(err, SW_EINPUT, "%s: %s: no run with id %lld", s->path,
                      what, run_id);
    }
    if (rc != SQLITE_ROW)
        return db_bind_fail(s, st, what, err);
    const char *status = (const char *)sqlite3_column_text(st, 0);
    int k = run_status_from_name(status);
    if (k < 0) {
        sw_err(err, SW_EINPUT, "%s: %s: unknown status '%s'", s->path, what,
               status ? status : "");
        db_stmt_done(st);
        return err->code;
    }
    o->status = (run_status)k;
    db_column_copy(st, 1, o->host, sizeof o->host);
    o->pid = sqlite3_column_int64(st, 2);
    db_column_copy(st, 3, o->heartbeat, sizeof o->heartbeat);
    db_stmt_done(st);
    return SW_OK;
}

int store_run_state(store *s, long long run_id, run_status *st, int *stale,
                    sw_error *err)
{
    char what[64];
    snprintf(what, sizeof what, "reading run %lld", run_id);
    run_owner o;
    pthread_mutex_lock(&s->lock);
    int rc = db_read_owner(s, run_id, &o, what, err);
    pthread_mutex_unlock(&s->lock);
    if (rc != SW_OK)
        return rc;
    *st = o.status;
    *stale = db_owner_gone(s, &o);
    return SW_OK;
}

/* How many of epochs 1..upto the database holds for the run: what it
 * vouches for when a checkpoint claims to continue them. */
static int epochs_held(store *s, long long run_id, int upto, int *held, sw_error *err)
{
    const char *what = "reading a run's epochs";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM epochs WHERE run_id = ?1 AND "
                           "epoch BETWEEN 1 AND ?2", -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, what, err);
    int rc = sqlite3_bind_int64(st, 1, run_id);
    rc = rc ? rc : sqlite3_bind_int(st, 2, upto);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        *held = sqlite3_column_int(st, 0);
    if (rc != SQLITE_ROW)
        db_fail(s, what, err);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? SW_OK : err->code;
}

int store_epochs_held(store *s, long long run_id, int upto, int *held, sw_error *err)
{
    *held = 0;
    pthread_mutex_lock(&s->lock);
    int rc = epochs_held(s, run_id, upto, held, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* --------------------------------------------------------------- claims */

static int run_claim(store *s, long long run_id, int threads, int *claimed,
                     sw_error *err)
{
    char what[64];
    snprintf(what, sizeof what, "claiming run %lld", run_id);
    if (db_tx_begin(s, what, err))
        return err->code;
    run_owner o;
    if (db_read_owner(s, run_id, &o, what, err))
        return db_tx_fail(s, err);
    int take = o.status != RUN_DONE &&
               (o.status != RUN_RUNNING || db_owner_gone(s, &o));
    if (take) {
        char now[32];
        db_iso_utc(time(NULL), now);
        sqlite3_stmt *up = db_stmt(s, Q_RUN_TAKE, what, err);
        if (!up)
            return db_tx_fail(s, err);
        if (sqlite3_bind_int64(up, 1, run_id) || db_bind_text(up, 2, now) ||
            db_bind_text(up, 3, s->host) || sqlite3_bind_int64(up, 4, getpid()) ||
            sqlite3_bind_int(up, 5, threads) ||
            db_bind_text(up, 6, run_status_name(RUN_RUNNING))) {
            db_bind_fail(s, up, what, err);
            return db_tx_fail(s, err);
        }
        if (db_step_done(s, up, what, err))
            return db_tx_fail(s, err);
    }
    if (db_tx_commit(s, what, err))
        return err->code;
    *claimed = take;
    return SW_OK;
}

int store_run_claim(store *s, long long run_id, int threads, int *claimed,
                    sw_error *err)
{
    *claimed = 0;
    pthread_mutex_lock(&s->lock);
    int rc = run_claim(s, run_id, threads, claimed, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ------------------------------------------------------------ a run's end */

static int run_finish(store *s, long long run_id, run_status st,
                      const train_result *res, double wall_seconds,
                      const char *error, sw_error *err)
{
    char what[64];
    snprintf(what, sizeof what, "finishing run %lld", run_id);
    char now[32], why[128];
    db_iso_utc(time(NULL), now);
    int diverged_at = st == RUN_DIVERGED && res ? res->diverged_epoch : 0;
    if (st == RUN_DIVERGED && !error) {
        snprintf(why, sizeof why, "loss is not finite at epoch %d", diverged_at);
        error = why;
    }
    if (db_tx_begin(s, what, err))
        return err->code;
    sqlite3_stmt *up = db_stmt(s, Q_RUN_FINISH, what, err);
    if (!up)
        return db_tx_fail(s, err);
    int done = st == RUN_DONE;
    int rc = sqlite3_bind_int64(up, 1, run_id);
    rc = rc ? rc : db_bind_text(up, 2, run_status_name(st));
    rc = rc ? rc : db_bind_text(up, 3, now);
    rc = rc ? rc : db_bind_real(up, 4, wall_seconds);
    rc = rc ? rc : db_bind_real(up, 5, done ? res->test_loss : NAN);
    rc = rc ? rc : db_bind_real(up, 6, done ? res->test_accuracy : NAN);
    rc = rc ? rc : diverged_at > 0 ? sqlite3_bind_int(up, 7, diverged_at)
                                   : sqlite3_bind_null(up, 7);
    rc = rc ? rc : db_bind_text(up, 8, done ? NULL : error);
    /* early stopping's epochs, for a run that finished */
    int best = done ? res->best_epoch : 0, stopped = done ? res->stopped_epoch : 0;
    rc = rc ? rc : best > 0 ? sqlite3_bind_int(up, 9, best) : sqlite3_bind_null(up, 9);
    rc = rc ? rc : stopped > 0 ? sqlite3_bind_int(up, 10, stopped) : sqlite3_bind_null(up, 10);
    if (rc != SQLITE_OK) {
        db_bind_fail(s, up, what, err);
        return db_tx_fail(s, err);
    }
    if (db_step_done(s, up, what, err))
        return db_tx_fail(s, err);
    if (sqlite3_changes(s->db) == 0) {
        sw_err(err, SW_EINPUT, "%s: %s: no run with id %lld", s->path, what,
               run_id);
        return db_tx_fail(s, err);
    }
    return db_tx_commit(s, what, err);
}

int store_run_finish(store *s, long long run_id, run_status st,
                     const train_result *res, double wall_seconds,
                     const char *error, sw_error *err)
{
    if (st != RUN_DONE && st != RUN_FAILED && st != RUN_DIVERGED &&
        st != RUN_INTERRUPTED)
        return sw_err(err, SW_EINPUT, "%s: finishing run %lld: '%s' is not a "
                      "final status", s->path, run_id, run_status_name(st));
    if (st == RUN_DONE && !res)
        return sw_err(err, SW_EINPUT, "%s: finishing run %lld: done without "
                      "test scores", s->path, run_id);
    pthread_mutex_lock(&s->lock);
    int rc = run_finish(s, run_id, st, res, wall_seconds, error, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}
