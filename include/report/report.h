/* report.h: the page of `sweep report`: one self-contained HTML5 file
 * (styles inline, charts as inline SVG, no scripts, nothing loaded from
 * anywhere) from plain structs the caller fills from the store. Sections:
 * the question, the comparison, learning curves, layer statistics, every
 * run. Deterministic: the same structs give the same bytes (the page holds
 * no clock; pass `generated` to show one). Every text is escaped. Missing
 * numbers are NAN (or 0 where said) and show as "-". */
#ifndef REPORT_REPORT_H
#define REPORT_REPORT_H

#include <stdio.h>

#include "base/error.h"
#include "sweep/stats.h"

/* A name and a count: the run status counts ("done", 12). */
typedef struct {
    const char *name;
    int count;
} report_count;

/* ---- The comparison -------------------------------------------------------- */

/* One level of the compared axis. The baseline's row shows only its own
 * statistics; every other row its comparison c against the baseline, with
 * c.p_holm filled by the caller (stats_holm over the table's p values). */
typedef struct {
    const char *level;         /* "elu" */
    stats_summary s;           /* n, mean, sd, 95% CI of the mean */
    int is_baseline;
    stats_comparison c;        /* ignored for the baseline */
    const char *decision;      /* "better", stats_decision_name(), or NULL: "-" */
} report_compare_row;

/* One metric compared across the levels of one axis. */
typedef struct {
    const char *metric;        /* "test_accuracy" */
    const char *axis;          /* "activation" */
    const char *baseline;      /* the baseline's level */
    stats_units units;         /* for the sentences: accuracy in points */
    int n_rows;
    const report_compare_row *rows;
} report_comparison;

/* ---- Curves ------------------------------------------------------------------ */

/* A metric over epochs 1..n: the mean over a group's seeds and a band (the
 * page's band_note says which: min-max or +-sd). NAN where no run of the
 * group reached the epoch; lo, hi NULL for no band. */
typedef struct {
    int n;
    const double *mean, *lo, *hi;
} report_curve;

enum {
    REPORT_TRAIN_LOSS,
    REPORT_VAL_LOSS,
    REPORT_TRAIN_ACC,
    REPORT_VAL_ACC,
    REPORT_N_CURVES
};

/* One group: the runs that differ only in seed. */
typedef struct {
    const char *name;          /* "elu", or "activation=elu, init=he" */
    int n_runs;                /* seeds behind its curves */
    report_curve curve[REPORT_N_CURVES];
} report_group;

/* One layer's statistics, a curve per group (indexed like report_page.groups). */
typedef struct {
    const char *name;                      /* "conv1" */
    const report_curve *mean_activation;   /* n_groups curves */
    const report_curve *dead_fraction;     /* n_groups curves */
} report_layer;

/* ---- Runs ------------------------------------------------------------------------ */

typedef struct {
    long long id;
    const char *const *values;   /* report_page.n_axes settings, as text */
    const char *status;          /* "done", "failed", "diverged", ... */
    int best_epoch, stopped_epoch;     /* 0: none */
    double test_loss, test_accuracy;   /* NAN: none */
    double seconds;              /* wall time; NAN: unknown */
    const char *error;           /* the error of a failed or diverged run, or NULL */
} report_run;

/* ---- The page ---------------------------------------------------------------------- */

typedef struct {
    /* the question */
    const char *sweep;           /* its name (required) */
    const char *config;          /* the YAML text, shown as written; NULL: none */
    int grid_size;               /* runs in the grid */
    int n_status;
    const report_count *status;
    const char *dataset;         /* "fashion-mnist (60000 train, 10000 test)" */
    const char *machine;         /* "host, 2 cores, 4 jobs of 1 thread" */
    double seconds;              /* time spent, summed over runs; NAN: unknown */
    const char *generated;       /* "2026-11-30 20:15 UTC by sweep 1.0", or NULL */

    int n_comparisons;           /* one per metric; 0: the section says none */
    const report_comparison *comparisons;

    const char *band_note;       /* "band: min to max over seeds" */
    int n_groups;
    const report_group *groups;
    int n_layers;
    const report_layer *layers;

    int n_axes;                  /* the settings shown per run (the varying axes) */
    const char *const *axes;     /* their names */
    int n_runs;
    const report_run *runs;
} report_page;

/* Groups beyond this many are drawn as small multiples (a panel per group)
 * rather than as lines in one chart. */
#define REPORT_MAX_LINES 6

/* Writes the page to f. Returns 0, or -1 when f reports a write error. */
int report_html(FILE *f, const report_page *p);

/* Writes the page to path atomically (base/fsutil.h: a temp beside it,
 * fsync, rename; a FIFO or /dev/stdout is written directly). Returns
 * SW_OK or the error, which names the path. */
int report_save(const report_page *p, const char *path, sw_error *err);

/* "1 h 02 min", "3 min 12 s", "4.2 s"; "-" for NAN. */
void report_duration(char *buf, size_t size, double seconds);

#endif
