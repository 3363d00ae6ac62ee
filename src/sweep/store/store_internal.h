/* store_internal.h: what the files of the store share. Only the store's
 * files include this header, and so sqlite3.h.
 *
 * Every value travels through a bound parameter of a prepared statement;
 * statements of the table below are prepared once per store and reused.
 * Every write is a BEGIN IMMEDIATE transaction, so it takes the write lock
 * up front and never fails half-way when upgrading a read lock. A mutex
 * serializes the public functions, so one store may be shared by the jobs
 * of one process: a public function locks and calls the db_ or static
 * helpers, which never lock.
 *
 *   db.c      statements, binding, transactions, time stamps
 *   schema.c  the schema, its upgrade, the statement table
 *   open.c    open and close, the checks before SQLite touches a file
 *   runs.c    sweeps, runs, leases and claims, a run's end
 *   epochs.c  epochs with their layer statistics, the status counts
 *   export.c  CSV export
 *   query.c   the typed reads behind compare, plot and merge's report
 *   report_query.c  the reads behind sweep report: epochs, layers, all runs
 *   classes.c the class names of a sweep's data
 *   merge.c   uniting shard databases
 *   delete.c  what a sweep holds, and deleting it */
#ifndef SWEEP_STORE_INTERNAL_H
#define SWEEP_STORE_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <sys/types.h>
#include <time.h>

#include <sqlite3.h>

#include "sweep/store.h"

#define BUSY_TIMEOUT_MS 10000
/* How long a write waits for another process's lock, with backoff, on top
 * of the busy timeout: as long as a lease lasts, so that a computed epoch
 * is not dropped while a reader (a backup, the sqlite3 shell) holds the
 * lock; a stop request (store_set_stop) ends the wait early. */
#define BUSY_RETRY_SECONDS ((double)STORE_LEASE_SECONDS)

/* The statements a store prepares once (schema.c holds their text). */
enum {
    Q_OBJECTS, Q_USER_VERSION, Q_SWEEP_UPSERT, Q_SWEEP_FIND, Q_RUN_INSERT,
    Q_RUN_ID, Q_RUN_OWNER, Q_RUN_TAKE, Q_EPOCHS_CLEAR, Q_EPOCH_PUT,
    Q_HEARTBEAT, Q_RUN_FINISH, Q_STATUS, Q_EXPORT_SUMMARY, Q_EXPORT_RUNS,
    Q_EXPORT_EPOCHS, Q_LAYER_PUT, Q_EXPORT_LAYERS,
    Q_SWEEP_NAMES, Q_SWEEP_CONFIG, Q_NOT_DONE,
    /* version 3: the grid a sweep's name is bound to */
    Q_EXPORT_SUMMARY_ALL, Q_CONFIG_LATEST, Q_CONFIG_CHECKED, Q_CONFIG_ADD, Q_GRID_CLEAR, Q_GRID_MARK,
    Q_LEFT_GRID, Q_SWEEP_CONFIGS,
    Q_CLASSES_CLEAR, Q_CLASS_PUT, Q_CLASS_NAMES,
    /* a sweep's done runs, one statement per store_run_metric (query.c
     * writes their text from its table of settings; DB_SQL has none) */
    Q_DONE_RUNS,
    /* the epochs of a sweep's done runs, one per store_epoch_metric */
    Q_DONE_EPOCHS = Q_DONE_RUNS + STORE_RUN_METRIC_COUNT,
    /* one done run's metric, one per store_run_metric (query.c's text) */
    Q_RUN_VALUE = Q_DONE_EPOCHS + STORE_EPOCH_METRIC_COUNT,
    Q_COUNT = Q_RUN_VALUE + STORE_RUN_METRIC_COUNT
};
extern const char *const DB_SQL[Q_COUNT];

struct store {
    sqlite3 *db;
    char *path;
    char host[256];
    pthread_mutex_t lock;
    sqlite3_stmt *st[Q_COUNT];
    int read_only;   /* store_open_read: SQLite opens it read-only */
    dev_t dev;        /* the file opened, to notice it deleted or replaced */
    ino_t ino;
    int watch;        /* dev and ino are set */
    volatile sig_atomic_t *stop;   /* ends waits for a lock; NULL: none */
};

/* ---- db.c: statements and transactions ----
 * Each returns SW_OK or err->code, with err naming s->path and `what`. */

/* Sets err from SQLite's last message; returns err->code. */
int db_fail(store *s, const char *what, sw_error *err);
/* Statement id, prepared on first use; NULL (err set) if it cannot be. */
sqlite3_stmt *db_stmt(store *s, int id, const char *what, sw_error *err);
/* Resets st right away: a statement left mid-way holds a read snapshot. */
void db_stmt_done(sqlite3_stmt *st);
/* Steps a statement that returns no rows, then resets it. */
int db_step_done(store *s, sqlite3_stmt *st, const char *what, sw_error *err);
/* db_fail, and resets st. */
int db_bind_fail(store *s, sqlite3_stmt *st, const char *what, sw_error *err);
/* NULL text and NaN bind as NULL. SQLite's result code. */
int db_bind_text(sqlite3_stmt *st, int i, const char *text);
int db_bind_real(sqlite3_stmt *st, int i, double v);
/* Runs sql, retrying while the database is busy. */
int db_exec_retry(store *s, const char *sql, const char *what, sw_error *err);
int db_tx_begin(store *s, const char *what, sw_error *err);
/* Commits; on failure rolls back. Then checks that s->path is still the
 * file opened (db_check_file). */
int db_tx_commit(store *s, const char *what, sw_error *err);
/* Rolls back (if a transaction is open), keeping the first error. */
int db_tx_fail(store *s, sw_error *err);
void db_tx_rollback(store *s);
/* SW_EINPUT when the file at s->path is gone or is another file than the
 * one opened: what is committed is then lost to the user. */
int db_check_file(store *s, sw_error *err);

/* ISO-8601 UTC at second resolution: sorts as text, and SQLite's date
 * functions read it. */
void db_iso_utc(time_t t, char buf[32]);
/* Out of memory while doing what: SW_ERUN, naming the database. */
int db_oom(const store *s, const char *what, sw_error *err);
/* Text column c of st copied into buf ("" when NULL). */
void db_column_copy(sqlite3_stmt *st, int c, char *buf, size_t size);

/* ---- schema.c ---- */

/* runs.early_stopping as the summary view and the typed reads show it:
 * "val_loss;patience=3;restore_best", NULL without early stopping. */
#define SQL_EARLY_STOPPING(r)                                                \
    "CASE WHEN " r ".es_monitor IS NOT NULL THEN " r ".es_monitor || "       \
    "';patience=' || " r ".es_patience || CASE WHEN " r ".es_restore_best "  \
    "THEN ';restore_best' ELSE '' END END"

typedef struct {
    int version;
    int objects;   /* tables, views, indexes and triggers not SQLite's own */
    int ours;      /* how many of sweeps, runs, epochs exist */
    int view;      /* summary exists */
    int layers;    /* layer_stats exists */
} schema_state;

/* Reads the schema's state in one read snapshot. *notadb: SQLite said the
 * file is not a database. */
int db_read_schema(store *s, schema_state *ss, int *notadb, sw_error *err);
/* SW_OK when the database is ours, of this version or an older one to
 * upgrade (*empty = 0), or holds nothing at all (*empty = 1); otherwise
 * the reason it is refused. */
int db_check_schema(store *s, const schema_state *ss, int *empty, sw_error *err);
/* Creates the schema or upgrades an older one, in one transaction. */
int db_create_schema(store *s, sw_error *err);

/* ---- query.c ---- */

/* How the run r gives setting st: a column ("r.activation") or an
 * expression; NULL for a bad value. query.c's one table of settings. */
const char *db_setting_sql(store_setting st);

/* ---- runs.c ---- */

/* Who holds a run, as read from its row. */
typedef struct {
    run_status status;
    char host[256];   /* "" when NULL */
    long long pid;    /* 0 when NULL */
    char heartbeat[40];
} run_owner;

/* *sweep_id = 0 if there is no sweep of that name. */
int db_sweep_find(store *s, const char *name, long long *sweep_id, sw_error *err);
/* The owner of a run (an error if there is no such run). */
int db_read_owner(store *s, long long run_id, run_owner *o, const char *what,
                  sw_error *err);
/* Whether a running row's owner is gone (see STORE_LEASE_SECONDS). */
int db_owner_gone(const store *s, const run_owner *o);

#endif
