/* store.h: the SQLite database of SPEC §4, the user's query interface.
 * The only file that includes sqlite3.h is store.c. Every statement is
 * prepared with bound values; WAL, a busy timeout and foreign keys are on;
 * each epoch is committed in its own transaction. */
#ifndef SWEEP_STORE_H
#define SWEEP_STORE_H

#include <stdio.h>

#include "base/error.h"
#include "sweep/config.h"
#include "sweep/grid.h"
#include "train/trainer.h"

/* 2: layer_stats; runs.model, es_monitor, es_patience, es_restore_best,
 * best_epoch, stopped_epoch. A version 1 database is upgraded in place
 * when it is opened with write access. */
#define STORE_SCHEMA_VERSION 2

typedef struct store store;

/* Opens path. create: make the file (and its folder) and the schema if
 * missing; otherwise a missing file is an error. A file that is not SQLite,
 * or has a newer schema version, is an error (SW_EINPUT) and is not touched.
 * An older version is upgraded in one transaction (an error if the file
 * cannot be written). */
int store_open(store **out, const char *path, int create, sw_error *err);
void store_close(store *s);

/* Inserts the sweep (or finds it by name; config_path and config_text are
 * updated to the latest). */
int store_sweep_upsert(store *s, const sweep_config *c, long long *sweep_id,
                       sw_error *err);
/* Finds a sweep by name; *sweep_id = 0 if absent. */
int store_sweep_find(store *s, const char *name, long long *sweep_id,
                     sw_error *err);

/* Inserts each run as pending unless (sweep_id, key) exists; run_ids[i]
 * gets the row id either way. One transaction. */
int store_runs_ensure(store *s, long long sweep_id, const run_settings *runs,
                      char (*keys)[RUN_KEY_LEN + 1], int n, long long *run_ids,
                      sw_error *err);

/* Finds a run by key; *run_id = 0 if absent. Writes nothing. */
int store_run_find(store *s, long long sweep_id, const char *run_key,
                   long long *run_id, sw_error *err);

typedef enum {
    RUN_PENDING, RUN_RUNNING, RUN_DONE, RUN_FAILED, RUN_DIVERGED,
    RUN_INTERRUPTED, RUN_STATUS_COUNT
} run_status;
const char *run_status_name(run_status st);

/* Current status of a run; for 'running' rows, *stale says whether the
 * owner is gone (same host and its pid dead, or lease older than
 * STORE_LEASE_SECONDS). */
#define STORE_LEASE_SECONDS 600
int store_run_state(store *s, long long run_id, run_status *st, int *stale,
                    sw_error *err);

/* Atomically (BEGIN IMMEDIATE) takes a run that is pending, failed,
 * diverged, interrupted or stale-running: sets running, started_at, host,
 * pid, threads, heartbeat and clears results. Its epochs stay: the caller
 * keeps those its checkpoint covers (store_epochs_truncate).
 * *claimed = 0 if another process holds it or it is done. */
int store_run_claim(store *s, long long run_id, int threads, int *claimed,
                    sw_error *err);

/* Deletes the run's epochs after epoch keep (0: all). */
int store_epochs_truncate(store *s, long long run_id, int keep, sw_error *err);

/* One transaction: the epoch row and the run's heartbeat. */
int store_epoch_add(store *s, long long run_id, int epoch,
                    const epoch_metrics *m, sw_error *err);

/* The same, with the epoch's layer_stats rows (n_layers of them, replacing
 * any the epoch had) in the same transaction. */
int store_epoch_add_layers(store *s, long long run_id, int epoch, const epoch_metrics *m,
                           const layer_stat *layers, int n_layers, sw_error *err);

/* Final state: done (with test scores, and best_epoch and stopped_epoch
 * when res has them, i.e. with early stopping), diverged (diverged_epoch),
 * interrupted or failed (error text). Sets finished_at and wall_seconds. */
int store_run_finish(store *s, long long run_id, run_status st,
                     const train_result *res, double wall_seconds,
                     const char *error, sw_error *err);

/* Counts per status for one sweep (by id), stale running counted apart. */
typedef struct {
    long long sweep_id;
    char name[256];
    int count[RUN_STATUS_COUNT];
    int stale;
    double mean_seconds_per_epoch;   /* over done runs' epochs, 0 if none */
    long long epochs_left;           /* epochs not yet committed */
} sweep_status;

/* Fills *out (malloc'd) with one entry per sweep, by name. */
int store_status(store *s, sweep_status **out, int *n, sw_error *err);

/* RFC 4180 CSV with a header row: what is "summary", "runs", "epochs" or
 * "layer_stats" (one row per run, epoch and layer, settings repeated);
 * sweep NULL for all sweeps, else only that one (unknown name: error). */
int store_export_csv(store *s, const char *what, const char *sweep,
                     FILE *out, sw_error *err);

/* One column of a row from store_select: text is SQLite's text form
 * (NULL when is_null), num its numeric value. Valid during the callback. */
typedef struct {
    int is_null;
    double num;
    const char *text;
} store_value;

/* Called per row; a nonzero return stops the query early. */
typedef int (*store_row_fn)(void *ctx, int ncols, const char *const *names,
                            const store_value *vals);

/* Runs one read-only SQL statement (a constant string written by us: values
 * travel only as the bound text params ?1..?n). For reports that need more
 * than the fixed queries above. A statement that writes is refused. */
int store_select(store *s, const char *sql, const char *const *params, int n_params,
                 store_row_fn fn, void *ctx, sw_error *err);

/* ---- merge ---- */

/* What store_merge did to one sweep (by name) of its inputs. */
typedef struct {
    char name[256];
    int inputs;        /* inputs that hold the sweep */
    int added;         /* runs new to the output */
    int replaced;      /* runs whose output copy gave way to a better state */
    int kept;          /* runs the output already had in as good a state */
    int differ;        /* runs done in two copies with different metrics */
    char differ_key[RUN_KEY_LEN + 1];   /* the first of those */
    int count[RUN_STATUS_COUNT];        /* the sweep's runs in out, after */
} store_merge_report;

/* Unites the databases at in_paths into out, in one transaction: any error
 * (an input that is not a sweep database or has a newer schema, a sweep of
 * the same name with a different config_text, SQLite failing) leaves out
 * as it was. Sweeps match by name, runs by (sweep, run_key). Of two copies
 * of a run the better state stays (done, diverged, failed, interrupted,
 * pending, in that order; the output's copy between equals) with its
 * epochs; a run running in an input comes in as interrupted. Two done
 * copies should agree bit for bit: the first stays, and a difference in
 * the test scores or any epoch's metrics is counted in differ. Merging the
 * same inputs again changes nothing. *rep (malloc'd) gets one entry per
 * sweep of the inputs. */
int store_merge(store *out, const char *const *in_paths, int n_in,
                store_merge_report **rep, int *n_rep, sw_error *err);

#endif
