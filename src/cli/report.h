/* report.h: what `sweep compare` and `sweep plot` share: choosing the
 * sweep, naming axes, loading the done runs with their settings, and
 * ordering each axis' levels as the grid lists them. */
#ifndef SWEEP_CLI_REPORT_H
#define SWEEP_CLI_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "base/error.h"
#include "sweep/store.h"

/* The settings of a run. The first REP_BY_AXES may be named in --by; the
 * rest are only checked for variation (pooling warnings). */
typedef enum {
    RA_ACTIVATION, RA_ALPHA, RA_MODEL, RA_INIT, RA_DROPOUT, RA_EPOCHS, RA_BATCH_SIZE,
    RA_LEARNING_RATE, RA_OPTIMIZER, RA_SEED, RA_VALIDATION_SPLIT, RA_TRAIN_LIMIT,
    RA_DATA_FORMAT, RA_LABEL, RA_AUGMENT, RA_VAL_LIMIT, RA_TEST_LIMIT,
    RA_COUNT
} rep_axis;
#define REP_BY_AXES RA_COUNT

const char *rep_axis_name(rep_axis a);

/* One value an axis takes; text is its stored text form, "" for NULL (the
 * alpha of relu). */
typedef struct {
    char *text;
    double num;
    int is_null;
} rep_level;

typedef struct {
    long long run_id;
    int level[RA_COUNT];   /* index into rep_data.levels[axis] */
    int has_value;
    double value;          /* the metric asked of rep_load, if not NULL */
} rep_run;

typedef struct {
    char *sweep;
    int n_runs;
    rep_run *runs;         /* done runs, by run_id */
    int n_levels[RA_COUNT];
    rep_level *levels[RA_COUNT];   /* in grid order (see rep_load) */
    int not_done;          /* runs of the sweep left out as not done */
} rep_data;

/* Opens db_path (never creates it) and picks the sweep: `want` if given
 * (must exist), else the only one; errors list the names. *name malloc'd. */
int rep_open(const char *cmd, const char *db_path, const char *want, store **db,
             char **name, sw_error *err);

/* Parses "activation,init" into axes (at most max, no repeats). */
int rep_parse_by(const char *cmd, const char *spec, int *axes, int *n, int max,
                 sw_error *err);

/* Loads the sweep's done runs, each with metric (STORE_RUN_NO_METRIC for
 * none) as its value. Levels are ordered
 * as the sweep's stored config lists them; relu's empty alpha first; values
 * the config no longer lists after, in the order first recorded. */
int rep_load(store *db, const char *sweep, store_run_metric metric, rep_data *d,
             sw_error *err);
void rep_free(rep_data *d);

/* Writes "init (he, glorot), dropout (0.25, 0.5)": the axes, other than
 * the seed and those in by, that take several values among runs with the
 * same levels of the by axes (the runs with has_value, or all runs if
 * !only_valued): what averaging per by-level pools. Returns how many. */
int rep_pooled(const rep_data *d, const int *by, int n_by, int only_valued, char *buf,
               size_t size);

/* The indices of the runs (those with has_value, or all if !only_valued),
 * sorted by their levels on axes (the first slowest), then by run_id.
 * malloc'd; NULL when out of memory. *n: how many. */
int *rep_sort_runs(const rep_data *d, const int *axes, int n_axes, int only_valued, int *n);
/* Whether runs ra and rb have the same levels on axes. */
int rep_same_levels(const rep_data *d, int ra, int rb, const int *axes, int n_axes);

/* The index among n names (name_of(i); NULL ones are not choices) of
 * name; -1 with an error that lists the choices if it is none of them. */
int rep_pick_metric(const char *cmd, const char *name, const char *(*name_of)(int), int n,
                    sw_error *err);

/* Finds level text (numbers compare by value; "none" or "" is the empty
 * level) among an axis' levels; -1 if absent. */
int rep_find_level(const rep_data *d, rep_axis a, const char *text);

/* "relu, elu" into buf. */
void rep_list_levels(const rep_data *d, rep_axis a, char *buf, size_t size);

#endif
