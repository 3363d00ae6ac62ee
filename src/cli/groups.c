/* groups.c: runs grouped by their levels (see groups.h). */
#include "groups.h"

#include <stdlib.h>
#include <string.h>

int groups_make(run_groups *g, const rep_data *d, const int *axes, int n_axes,
                int only_valued)
{
    memset(g, 0, sizeof *g);
    g->idx = rep_sort_runs(d, axes, n_axes, only_valued, &g->n_idx);
    g->start = malloc(sizeof *g->start * (size_t)(g->n_idx + 1));
    if (!g->idx || !g->start) {
        groups_free(g);
        return -1;
    }
    for (int i = 0; i < g->n_idx; i++)
        if (i == 0 || !rep_same_levels(d, g->idx[i - 1], g->idx[i], axes, n_axes))
            g->start[g->n_groups++] = i;
    g->start[g->n_groups] = g->n_idx;
    return 0;
}

void groups_free(run_groups *g)
{
    free(g->idx);
    free(g->start);
    memset(g, 0, sizeof *g);
}
