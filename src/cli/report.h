/* report.h: what `sweep compare` and `sweep plot` share: choosing the
 * sweep, naming axes, loading the done runs with their settings, and
 * ordering each axis' levels as the grid lists them. */
#ifndef SWEEP_CLI_REPORT_H
#define SWEEP_CLI_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "base/error.h"
#include "sweep/store.h"

/* The axes of a run: every setting the store knows (store_setting, in its
 * order), then the sweep it belongs to (which varies only when several
 * sweeps are read together). Any of them may be named in --by. */
typedef int rep_axis;
#define RA_ACTIVATION STORE_ACTIVATION
#define RA_SEED STORE_SEED
#define RA_SWEEP STORE_SETTING_COUNT
#define RA_COUNT (STORE_SETTING_COUNT + 1)

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
    char *sweep;           /* the sweeps' names, joined with "," */
    int n_sweeps;
    int n_runs;
    rep_run *runs;         /* done runs, by run_id */
    int n_levels[RA_COUNT];
    rep_level *levels[RA_COUNT];   /* in grid order (see rep_load) */
    int not_done;          /* runs of the sweep left out as not done */
} rep_data;

/* Opens db_path (never creates it) and picks the sweeps: those of `want`
 * ("A" or "A,B": each must exist, none twice) if given, else the only
 * one; errors list the names. *names (and each) malloc'd: free with
 * store_names_free. */
int rep_open(const char *cmd, const char *db_path, const char *want, store **db,
             char ***names, int *n_names, sw_error *err);

/* Parses "activation,init" into axes (at most max, no repeats). */
int rep_parse_by(const char *cmd, const char *spec, int *axes, int *n, int max,
                 sw_error *err);

/* Loads the sweeps' done runs (those of their current grids; all: every
 * recorded run), each with metric (STORE_RUN_NO_METRIC for none) as its
 * value. Levels are ordered as the first sweep's stored config lists
 * them; relu's empty alpha first; values the config no longer lists
 * after, in the order first recorded; the sweeps as given. */
int rep_load(store *db, char *const *sweeps, int n_sweeps, int all, store_run_metric metric,
             rep_data *d, sw_error *err);
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
