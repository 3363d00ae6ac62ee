/* store.h: the SQLite database of a sweep's runs and epochs, which users
 * also read with their own tools (the sqlite3 shell, CSV export). Only the
 * files of src/sweep/store/ include sqlite3.h. Every statement is prepared
 * with bound values; WAL, a busy timeout and foreign keys are on; each
 * epoch is committed in its own transaction. Callers ask typed questions:
 * no SQL crosses this header. */
#ifndef SWEEP_STORE_H
#define SWEEP_STORE_H

#include <signal.h>
#include <stdio.h>

#include "base/error.h"
#include "sweep/config.h"
#include "sweep/grid.h"
#include "train/trainer.h"

/* 2: layer_stats; runs.model, es_monitor, es_patience, es_restore_best,
 * best_epoch, stopped_epoch. 3: sweep_configs (every config a sweep was
 * run with, and when), runs.in_grid (1: the run is in the current grid);
 * runs.data_format, label, augment, val_limit, test_limit, dataset and the
 * classes table; triggers that delete a sweep's runs, configs and classes, a run's
 * epochs and an epoch's layer_stats with it, foreign keys on or off.
 * An older database is upgraded in place when it is opened with write
 * access. */
#define STORE_SCHEMA_VERSION 3

typedef struct store store;

/* Opens path. create: make the file (and its folder) and the schema if
 * missing; otherwise a missing file is an error. A file that is not SQLite,
 * or has a newer schema version, is an error (SW_EINPUT) and is not touched.
 * An older version is upgraded in one transaction (an error if the file
 * cannot be written). */
int store_open(store **out, const char *path, int create, sw_error *err);
/* Opens an existing database read-only, for questions that write nothing
 * (plan, run --dry-run): not even the journal mode or a schema upgrade;
 * an older schema is read as it is. */
int store_open_read(store **out, const char *path, sw_error *err);
void store_close(store *s);

/* Every commit checks that the database's path still names the file that
 * was opened; one deleted or replaced meanwhile fails the commit with
 * SW_EINPUT (what it holds is lost to the user, so nothing more is
 * recorded). A write waits for another process's lock for up to
 * STORE_LEASE_SECONDS, with backoff; once *stop is set (a signal), it
 * gives up at once. stop may be NULL. */
void store_set_stop(store *s, volatile sig_atomic_t *stop);

/* Inserts the sweep (or finds it by name; config_path and config_text are
 * updated to the latest). A config text new to the sweep is added to
 * sweep_configs with its time, and the sweep's runs all leave the grid
 * (in_grid = 0) until store_runs_ensure names them again: a sweep's name
 * is bound to its current grid. The first upsert of a sweep after the
 * upgrade from version 2 does the same (without a new history entry when
 * the text is the one recorded): its runs may come from several grids. */
int store_sweep_upsert(store *s, const sweep_config *c, long long *sweep_id,
                       sw_error *err);
/* Replaces the sweep's class names with names[0..n-1] (n 0 or names NULL:
 * none), in one transaction. */
int store_classes_put(store *s, long long sweep_id, const char *const *names, int n,
                      sw_error *err);

/* Finds a sweep by name; *sweep_id = 0 if absent. */
int store_sweep_find(store *s, const char *name, long long *sweep_id,
                     sw_error *err);

/* Inserts each run as pending unless (sweep_id, key) exists; run_ids[i]
 * gets the row id either way, and the run is marked in the current grid.
 * One transaction. */
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
/* The status' name as stored and shown ("pending", ...); "unknown" if st
 * is not a status. The one table of these names. */
const char *run_status_name(run_status st);
/* The status of a name; -1 if none. */
int run_status_from_name(const char *name);

/* Current status of a run; for 'running' rows, *stale says whether the
 * owner is gone: on the same host, its pid dead or now another process
 * (one started after the run's last heartbeat: a reused pid); elsewhere,
 * a lease older than STORE_LEASE_SECONDS. */
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

/* How many of the run's epochs 1..upto the database holds (*held ==
 * upto: a checkpoint after epoch upto continues exactly what is stored). */
int store_epochs_held(store *s, long long run_id, int upto, int *held, sw_error *err);

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
    int unknown;                     /* runs whose status is none of ours */
    char unknown_status[64];         /* the first such status */
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
/* The same; all: the summary over every recorded run (the view
 * summary_all) instead of the current grids' (summary). */
int store_export_csv_scope(store *s, const char *what, const char *sweep, int all,
                           FILE *out, sw_error *err);

/* ---- typed reads, for reports ---- */

/* The names of all sweeps, sorted; *names and each name malloc'd (free
 * with store_names_free). */
int store_sweep_names(store *s, char ***names, int *n, sw_error *err);
void store_names_free(char **names, int n);

/* The config the sweep was last recorded with: *text and *path malloc'd,
 * NULL where not stored; both NULL when there is no such sweep. */
int store_sweep_config(store *s, const char *sweep, char **text, char **path,
                       sw_error *err);

/* The class names of the sweep's data, recorded by store_classes_put:
 * (*names)[k] is class k's name, NULL for a class without one; *n is 0
 * (and *names NULL) when none are stored or there is no such sweep.
 * Free with store_names_free. */
int store_class_names(store *s, const char *sweep, char ***names, int *n, sw_error *err);

/* How many of the sweep's runs are not done (all: also those that left
 * the grid). */
int store_count_not_done(store *s, const char *sweep, int all, int *n, sw_error *err);

/* Every recorded run of a sweep, by run_id: fn gets its key, status and
 * settings as text ("activation=elu alpha=1 ..."); `sweep plan` lists
 * those whose key the grid no longer expands to. */
typedef int (*store_recorded_fn)(void *ctx, const char *run_key, const char *status,
                                 const char *settings);
int store_recorded_runs(store *s, const char *sweep, store_recorded_fn fn, void *ctx,
                        sw_error *err);

/* The config texts a sweep was run with, oldest first: fn gets each
 * one's text, path (NULL when not stored) and time (ISO-8601 UTC). */
typedef int (*store_config_fn)(void *ctx, const char *text, const char *path,
                               const char *recorded_at);
int store_sweep_configs(store *s, const char *sweep, store_config_fn fn, void *ctx,
                        sw_error *err);

/* One stored value: text is SQLite's text form, as the sqlite3 shell shows
 * it (NULL when is_null), num its numeric value. */
typedef struct {
    int is_null;
    double num;
    const char *text;
} store_value;

/* A run's settings, in the order reports list them: every column of runs
 * that is a setting (query.c's one table names each and reads it). A new
 * setting column is one entry here and one row there; compare, plot and
 * report then offer it as an axis. */
typedef enum {
    STORE_ACTIVATION, STORE_ALPHA, STORE_MODEL, STORE_INIT, STORE_DROPOUT,
    STORE_EPOCHS, STORE_BATCH_SIZE, STORE_LEARNING_RATE, STORE_OPTIMIZER,
    STORE_BATCHNORM, STORE_MOMENTUM, STORE_NESTEROV, STORE_WEIGHT_DECAY, STORE_LR_SCHEDULE,
    STORE_SEED, STORE_VALIDATION_SPLIT, STORE_TRAIN_LIMIT, STORE_EARLY_STOPPING,
    STORE_DATA_FORMAT, STORE_LABEL, STORE_AUGMENT, STORE_VAL_LIMIT, STORE_TEST_LIMIT,
    STORE_DATASET, STORE_SETTING_COUNT
} store_setting;
/* "activation", ..., as the columns of runs and summary; NULL for a bad
 * value. */
const char *store_setting_name(store_setting st);

/* A number per run. */
typedef enum {
    STORE_RUN_NO_METRIC,
    STORE_RUN_TEST_ACCURACY,
    STORE_RUN_TEST_LOSS,
    STORE_RUN_BEST_VAL_ACCURACY,   /* max over its epochs */
    STORE_RUN_BEST_VAL_LOSS,       /* min over its epochs */
    STORE_RUN_SECONDS_PER_EPOCH,   /* mean over its epochs */
    STORE_RUN_METRIC_COUNT
} store_run_metric;
/* "test_accuracy", ...; NULL for STORE_RUN_NO_METRIC or a bad value. */
const char *store_run_metric_name(store_run_metric m);

typedef struct {
    long long run_id;
    store_value setting[STORE_SETTING_COUNT];
    store_value metric;   /* is_null without one */
} store_run_row;

/* Called per row, the row valid during the call; nonzero stops early.
 * The store is busy meanwhile: fn must not call it. */
typedef int (*store_run_fn)(void *ctx, const store_run_row *row);

/* Calls fn for each done run of the sweep in its current grid (all: also
 * the runs that left it), by run_id, with metric. */
int store_done_runs(store *s, const char *sweep, int all, store_run_metric metric,
                    store_run_fn fn, void *ctx, sw_error *err);

/* One run's metric: *value NAN unless the run is done and has it. Reads
 * the database afresh, so several processes see each other's results. */
int store_run_value(store *s, long long run_id, store_run_metric metric, double *value,
                    sw_error *err);

/* A number per epoch. */
typedef enum {
    STORE_EPOCH_VAL_ACCURACY, STORE_EPOCH_VAL_LOSS, STORE_EPOCH_TRAIN_ACCURACY,
    STORE_EPOCH_TRAIN_LOSS, STORE_EPOCH_METRIC_COUNT
} store_epoch_metric;
/* "val_accuracy", ...; NULL for a bad value. */
const char *store_epoch_metric_name(store_epoch_metric m);

/* Called per epoch (value NaN when not recorded); nonzero stops early.
 * fn must not call the store. */
typedef int (*store_epoch_fn)(void *ctx, long long run_id, int epoch, double value);

/* Calls fn for each epoch of the sweep's done runs (all as in
 * store_done_runs), by run_id and epoch. */
int store_done_epochs(store *s, const char *sweep, int all, store_epoch_metric metric,
                      store_epoch_fn fn, void *ctx, sw_error *err);

/* ---- delete (delete.c) ---- */

/* What a sweep holds, as deleting it would remove it. */
typedef struct {
    long long sweep_id;                 /* 0: no sweep of that name */
    int runs, count[RUN_STATUS_COUNT];
    int live;                           /* running in a process that is alive */
    long long epochs, layer_stats;
    char (*keys)[RUN_KEY_LEN + 1];      /* the runs' keys (malloc'd) */
} store_sweep_held;

/* Reads the sweep's contents in one snapshot; c->sweep_id = 0 (and no
 * error) when there is no sweep of that name. Free with
 * store_sweep_contents_free. */
int store_sweep_contents(store *s, const char *name, store_sweep_held *c, sw_error *err);
void store_sweep_contents_free(store_sweep_held *c);

/* Deletes the sweep, its runs, their epochs and layer statistics in one
 * transaction (checkpoint files are the caller's). */
int store_sweep_delete(store *s, long long sweep_id, sw_error *err);
/* ---- typed reads for `sweep report` (report_query.c) ---- */

/* Called per epoch of a done run with its four metrics, indexed by
 * store_epoch_metric (NaN when not recorded); nonzero stops early. fn
 * must not call the store. */
typedef int (*store_epochs_fn)(void *ctx, long long run_id, int epoch, const double *m);
/* Calls fn for each epoch of the sweep's done runs (all as in
 * store_done_runs), by run_id and epoch. */
int store_done_epochs_all(store *s, const char *sweep, int all, store_epochs_fn fn,
                          void *ctx, sw_error *err);

/* Called per layer_stats row (layer valid during the call; NaN for NULL). */
typedef int (*store_layer_fn)(void *ctx, long long run_id, int epoch, const char *layer,
                              double mean_activation, double dead_fraction);
/* Calls fn for each layer statistic of the sweep's done runs (all as in
 * store_done_runs), by run_id, epoch and the order the layers were
 * written (the network's). */
int store_done_layers(store *s, const char *sweep, int all, store_layer_fn fn, void *ctx,
                      sw_error *err);

/* One run of any status; texts valid during the call only. */
typedef struct {
    long long run_id;
    store_value setting[STORE_SETTING_COUNT];
    int status;                  /* run_status, -1 if unknown */
    int best_epoch, stopped_epoch;    /* 0: none */
    double test_loss, test_accuracy;  /* NaN: none */
    double wall_seconds;         /* NaN: unknown */
    const char *error, *host;    /* NULL: none */
    int threads;                 /* 0: unknown */
} store_any_run;
typedef int (*store_any_run_fn)(void *ctx, const store_any_run *run);
/* Calls fn for every run of the sweep in its current grid (all: also the
 * runs that left it), whatever its status, by run_id. */
int store_all_runs(store *s, const char *sweep, int all, store_any_run_fn fn, void *ctx,
                   sw_error *err);

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
 * same inputs again changes nothing. A sweep's class names come along
 * where the output has none for that class. *rep (malloc'd) gets one entry per
 * sweep of the inputs. */
int store_merge(store *out, const char *const *in_paths, int n_in,
                store_merge_report **rep, int *n_rep, sw_error *err);

#endif
