/* groups.h: a sweep's runs sorted by their levels on some axes and cut
 * where those levels change: the lines of `sweep plot`, the rows of
 * `sweep compare`. */
#ifndef SWEEP_CLI_GROUPS_H
#define SWEEP_CLI_GROUPS_H

#include "report.h"

typedef struct {
    int *idx;       /* run indices (into rep_data.runs), sorted */
    int n_idx;
    int *start;     /* group k is idx[start[k]] .. idx[start[k + 1] - 1] */
    int n_groups;
} run_groups;

/* Sorts the runs (those with has_value, or all if !only_valued) by their
 * levels on axes, the first slowest, then by run_id, and opens a group
 * wherever a level on axes changes. Returns 0, or -1 when out of memory
 * (g then holds nothing). */
int groups_make(run_groups *g, const rep_data *d, const int *axes, int n_axes,
                int only_valued);
void groups_free(run_groups *g);

/* The number of runs in group k, and the first of them. */
static inline int group_size(const run_groups *g, int k)
{
    return g->start[k + 1] - g->start[k];
}
static inline int group_first(const run_groups *g, int k)
{
    return g->idx[g->start[k]];
}

#endif
