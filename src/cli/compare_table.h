/* compare_table.h: the table behind `sweep compare`: the runs grouped by
 * the levels of the --by axes, each group described and compared with the
 * baseline of its block (paired t or Welch), Holm over the table, and the
 * `decide:` rule's decision when the sweep has one. */
#ifndef SWEEP_CLI_COMPARE_TABLE_H
#define SWEEP_CLI_COMPARE_TABLE_H

#include "groups.h"
#include "report.h"
#include "sweep/stats.h"

#define CMP_MAX_BY 5   /* four named axes, and the sweep with several sweeps */

typedef struct {
    int by[CMP_MAX_BY], n_by;
    store_run_metric metric;
    const char *baseline;   /* a level of by[0]; NULL: its first */
    int all;                /* runs that left the grid too */
} cmp_request;

typedef struct {
    int level[CMP_MAX_BY];
    int n;
    double *x;              /* n values, by seed (then run_id) */
    int *seed;              /* their seed levels */
    stats_summary s;
    int compared;           /* c (and decision) hold a comparison */
    stats_comparison c;
    stats_decision decision;
    int pairs;              /* seeds shared with the baseline (decide) */
} cmp_group;

typedef struct {
    int by[CMP_MAX_BY], n_by;   /* the request's, and the sweep with several */
    run_groups rg;
    double *values;
    int *seeds;
    cmp_group *gs;
    int n_groups;
    int base_level;         /* the baseline's level of by[0] */
    int n_tests;            /* comparisons with a p value (Holm's m) */
    int has_rule;           /* the sweep decides on this metric */
    stats_decide_rule rule;
} cmp_table;

/* Builds the table of d's runs (loaded with q->metric). The rule comes from
 * the first sweep's stored config. Errors: no runs, an unknown baseline. */
int cmp_build(cmp_table *t, store *db, const rep_data *d, const cmp_request *q, sw_error *err);
void cmp_free(cmp_table *t);

/* Whether the two groups hold the same seeds, each once: then the
 * comparison is paired, seed by seed. */
int cmp_paired(const cmp_group *a, const cmp_group *b);

#endif
