/* comparison.c: the table of a metric across one axis' levels (see
 * comparison.h). */
#include "comparison.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One level's runs: values and seed levels, sorted by seed. */
typedef struct {
    int n;
    double *x;
    int *seed;
} level_runs;

static const rep_data *sort_data;
static int by_seed(const void *pa, const void *pb)
{
    const rep_run *a = &sort_data->runs[*(const int *)pa], *b = &sort_data->runs[*(const int *)pb];
    if (a->level[RA_SEED] != b->level[RA_SEED])
        return a->level[RA_SEED] < b->level[RA_SEED] ? -1 : 1;
    return (a->run_id > b->run_id) - (a->run_id < b->run_id);
}

/* Whether a and b hold one run per seed, the same seeds. */
static int same_seeds(const level_runs *a, const level_runs *b)
{
    if (a->n != b->n || a->n < 2)
        return 0;
    for (int i = 0; i < a->n; i++)
        if (a->seed[i] != b->seed[i] || (i && a->seed[i] == a->seed[i - 1]))
            return 0;
    return 1;
}

static void free_levels(level_runs *l, int n)
{
    for (int i = 0; l && i < n; i++)
        free(l[i].x), free(l[i].seed);
    free(l);
}

/* Each level's valued runs, sorted by seed; NULL when out of memory. */
static level_runs *collect(const rep_data *d, rep_axis axis)
{
    int nl = d->n_levels[axis];
    level_runs *l = calloc((size_t)(nl ? nl : 1), sizeof *l);
    int *idx = malloc(sizeof *idx * (size_t)(d->n_runs ? d->n_runs : 1));
    if (!l || !idx) {
        free(idx), free(l);
        return NULL;
    }
    int n = 0;
    for (int r = 0; r < d->n_runs; r++)
        if (d->runs[r].has_value && !isnan(d->runs[r].value))
            idx[n++] = r;
    sort_data = d;
    qsort(idx, (size_t)n, sizeof *idx, by_seed);
    for (int i = 0; i < nl; i++) {
        l[i].x = malloc(sizeof *l[i].x * (size_t)(n ? n : 1));
        l[i].seed = malloc(sizeof *l[i].seed * (size_t)(n ? n : 1));
        if (!l[i].x || !l[i].seed) {
            free(idx);
            free_levels(l, nl);
            return NULL;
        }
    }
    for (int i = 0; i < n; i++) {
        const rep_run *r = &d->runs[idx[i]];
        level_runs *g = &l[r->level[axis]];
        g->x[g->n] = r->value;
        g->seed[g->n++] = r->level[RA_SEED];
    }
    free(idx);
    return l;
}

static void compare_row(report_compare_row *row, const level_runs *x, const level_runs *b)
{
    if (same_seeds(x, b))
        stats_paired_test(x->x, b->x, x->n, &row->c);
    else
        stats_welch_test(x->x, x->n, b->x, b->n, &row->c);
    stats_summary sb;
    stats_describe(b->x, b->n, &sb);
    row->c.g = stats_hedges_g(&row->s, &sb);
}

int comparison_rows(const rep_data *d, rep_axis axis, int base, report_compare_row **rows,
                    int *n, sw_error *err)
{
    *rows = NULL;
    *n = 0;
    int nl = d->n_levels[axis];
    level_runs *l = collect(d, axis);
    report_compare_row *out = calloc((size_t)(nl ? nl : 1), sizeof *out);
    double *p = malloc(sizeof *p * (size_t)(nl ? nl : 1));
    if (!l || !out || !p) {
        free_levels(l, nl), free(out), free(p);
        return sw_oom(err, "comparing");
    }
    if (base < 0 || base >= nl || l[base].n == 0)
        for (base = 0; base < nl && l[base].n == 0; base++)
            ;
    int k = 0;
    for (int i = 0; i < nl; i++) {
        if (l[i].n == 0)
            continue;
        report_compare_row *row = &out[k];
        const rep_level *lv = &d->levels[axis][i];
        row->level = lv->is_null ? "none" : lv->text;
        row->is_baseline = i == base;
        stats_describe(l[i].x, l[i].n, &row->s);
        row->c.p = row->c.p_holm = NAN;
        if (!row->is_baseline)
            compare_row(row, &l[i], &l[base]);
        p[k++] = row->is_baseline ? NAN : row->c.p;
    }
    free_levels(l, nl);
    if (k == 0) {
        free(out), free(p);
        return sw_err(err, SW_EINPUT, "no done run has a value to compare");
    }
    if (stats_holm(p, k, p) == 0)
        for (int i = 0; i < k; i++)
            if (!out[i].is_baseline)
                out[i].c.p_holm = p[i];
    free(p);
    *rows = out;
    *n = k;
    return SW_OK;
}
