/* compare_table.c: the rows of `sweep compare` and their statistics (see
 * compare_table.h). */
#include "compare_table.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sweep/config.h"

void cmp_free(cmp_table *t)
{
    groups_free(&t->rg);
    free(t->values);
    free(t->seeds);
    free(t->gs);
    memset(t, 0, sizeof *t);
}

/* Sorts a group's values by seed level (insertion sort: groups are small
 * and mostly sorted already). */
static void sort_by_seed(cmp_group *g)
{
    for (int i = 1; i < g->n; i++) {
        double x = g->x[i];
        int s = g->seed[i], j = i;
        for (; j > 0 && g->seed[j - 1] > s; j--) {
            g->x[j] = g->x[j - 1];
            g->seed[j] = g->seed[j - 1];
        }
        g->x[j] = x;
        g->seed[j] = s;
    }
}

/* Groups the runs that have a value by their levels of by. Rows sort by
 * the later axes first, so that each block of the first axis (the
 * baseline and the levels tested against it) is together. */
static int make_groups(cmp_table *t, const rep_data *d)
{
    int order[CMP_MAX_BY];
    for (int i = 0; i < t->n_by; i++)
        order[i] = t->by[t->n_by - 1 - i];
    if (groups_make(&t->rg, d, order, t->n_by, 1) != 0)
        return -1;
    int n = t->rg.n_idx, ng = t->rg.n_groups;
    t->values = malloc(sizeof *t->values * (size_t)(n ? n : 1));
    t->seeds = malloc(sizeof *t->seeds * (size_t)(n ? n : 1));
    t->gs = calloc((size_t)(ng ? ng : 1), sizeof *t->gs);
    if (!t->values || !t->seeds || !t->gs)
        return -1;
    for (int i = 0; i < n; i++) {
        t->values[i] = d->runs[t->rg.idx[i]].value;
        t->seeds[i] = d->runs[t->rg.idx[i]].level[RA_SEED];
    }
    for (int k = 0; k < ng; k++) {
        cmp_group *g = &t->gs[k];
        for (int i = 0; i < t->n_by; i++)
            g->level[i] = d->runs[group_first(&t->rg, k)].level[t->by[i]];
        g->x = t->values + t->rg.start[k];
        g->seed = t->seeds + t->rg.start[k];
        g->n = group_size(&t->rg, k);
        sort_by_seed(g);
        stats_describe(g->x, g->n, &g->s);
    }
    t->n_groups = ng;
    return 0;
}

/* The baseline's level of the first axis: --baseline's, else the first
 * level, in grid order, that has runs to compare. */
static int pick_baseline(cmp_table *t, const rep_data *d, const char *baseline, sw_error *err)
{
    if (!baseline) {
        t->base_level = INT_MAX;
        for (int k = 0; k < t->n_groups; k++)
            if (t->gs[k].level[0] < t->base_level)
                t->base_level = t->gs[k].level[0];
        return SW_OK;
    }
    t->base_level = rep_find_level(d, t->by[0], baseline);
    if (t->base_level >= 0)
        return SW_OK;
    char levels[512];
    rep_list_levels(d, t->by[0], levels, sizeof levels);
    return sw_err(err, SW_EINPUT, "sweep compare: --baseline '%s' is not a level of %s (%s)",
                  baseline, rep_axis_name(t->by[0]), levels);
}

int cmp_paired(const cmp_group *a, const cmp_group *b)
{
    if (a->n != b->n)
        return 0;
    for (int i = 0; i < a->n; i++)
        if (a->seed[i] != b->seed[i] || (i && a->seed[i] == a->seed[i - 1]))
            return 0;
    return 1;
}

/* The decision of `decide:` for g against b, as `sweep run` reached it:
 * the differences on the seeds both hold (the baseline may have more,
 * added for other comparisons), looked at from seeds_min on; the first
 * look that settles it stands. A seed held twice on a side: undecided. */
static void decide_one(const cmp_table *t, cmp_group *g, const cmp_group *b)
{
    g->decision = STATS_UNDECIDED;
    g->pairs = 0;
    double *d = malloc(sizeof *d * (size_t)(g->n ? g->n : 1));
    if (!d)
        return;   /* undecided: the table still stands */
    for (int i = 0, j = 0; i < g->n && j < b->n;) {
        if ((i && g->seed[i] == g->seed[i - 1]) || (j && b->seed[j] == b->seed[j - 1])) {
            free(d);
            return;
        }
        if (g->seed[i] < b->seed[j])
            i++;
        else if (g->seed[i] > b->seed[j])
            j++;
        else
            d[g->pairs++] = g->x[i++] - b->x[j++];
    }
    for (int n = t->rule.seeds_min; n <= g->pairs; n++)
        if (stats_decide(&t->rule, d, n, &g->decision, NULL, NULL) == 0 &&
            g->decision != STATS_UNDECIDED)
            break;
    free(d);
}

/* Group g against its baseline b: the paired test when they share all
 * their seeds, else Welch's; with a rule, the decision. */
static void compare_one(cmp_table *t, cmp_group *g, const cmp_group *b)
{
    if (cmp_paired(g, b))
        stats_paired_test(g->x, b->x, g->n, &g->c);
    else
        stats_welch_test(g->x, g->n, b->x, b->n, &g->c);
    g->compared = 1;
    g->decision = STATS_UNDECIDED;
    if (t->has_rule)
        decide_one(t, g, b);
}

/* Each group against the baseline of its block (the groups with the same
 * levels of the other axes), then Holm over the table's p values. */
static int compare_all(cmp_table *t)
{
    cmp_group *gs = t->gs;
    for (int start = 0, end; start < t->n_groups; start = end) {
        int b = -1;
        for (end = start; end < t->n_groups && memcmp(gs[end].level + 1, gs[start].level + 1,
                                                      sizeof(int) * (size_t)(t->n_by - 1)) == 0;
             end++)
            if (gs[end].level[0] == t->base_level)
                b = end;
        for (int k = start; k < end && b >= 0; k++)
            if (k != b)
                compare_one(t, &gs[k], &gs[b]);
    }
    double *p = malloc(sizeof *p * (size_t)(t->n_groups ? t->n_groups : 1));
    if (!p)
        return -1;
    for (int k = 0; k < t->n_groups; k++) {
        p[k] = gs[k].compared ? gs[k].c.p : NAN;
        t->n_tests += !isnan(p[k]);
    }
    int rc = stats_holm(p, t->n_groups, p);
    for (int k = 0; k < t->n_groups; k++)
        gs[k].c.p_holm = gs[k].compared ? p[k] : NAN;
    free(p);
    return rc;
}

/* The `decide:` rule of the first sweep, when it decides on this metric
 * and its baseline is a level of the first axis. */
static int load_rule(cmp_table *t, store *db, const rep_data *d, const cmp_request *q,
                     sw_error *err)
{
    char *text = NULL, *path = NULL, *first = strdup(d->sweep);
    if (!first)
        return sw_oom(err, "sweep compare");
    first[strcspn(first, ",")] = 0;
    int rc = store_sweep_config(db, first, &text, &path, err);
    free(first);
    free(path);
    if (rc != SW_OK || !text)
        return rc;
    sweep_config cfg;
    sw_error ignored = {0};
    if (config_parse(&cfg, text, strlen(text), "<stored config>", &ignored) == SW_OK) {
        const decide_settings *ds = &cfg.decide;
        if (ds->on && strcmp(ds->metric, store_run_metric_name(q->metric)) == 0) {
            t->has_rule = 1;
            t->rule = (stats_decide_rule){ds->rope, ds->seeds_min, ds->seeds_max,
                                          strstr(ds->metric, "accuracy") != NULL};
        }
        config_free(&cfg);
    }
    free(text);
    return SW_OK;
}

int cmp_build(cmp_table *t, store *db, const rep_data *d, const cmp_request *q, sw_error *err)
{
    memset(t, 0, sizeof *t);
    memcpy(t->by, q->by, sizeof t->by);
    t->n_by = q->n_by;
    int named = 0;
    for (int i = 0; i < t->n_by; i++)
        named |= t->by[i] == RA_SWEEP;
    if (d->n_sweeps > 1 && !named && t->n_by < CMP_MAX_BY)
        t->by[t->n_by++] = RA_SWEEP;   /* sweeps side by side, never pooled */
    if (make_groups(t, d) != 0)
        return sw_oom(err, "sweep compare");
    if (t->n_groups <= 0)
        return sw_err(err, SW_EINPUT, "sweep compare: sweep '%s' has no done runs with %s%s",
                      d->sweep, store_run_metric_name(q->metric),
                      d->not_done ? " yet (see sweep status)" : "");
    if (pick_baseline(t, d, q->baseline, err) != SW_OK || load_rule(t, db, d, q, err) != SW_OK)
        return err->code;
    if (compare_all(t) != 0)
        return sw_oom(err, "sweep compare");
    return SW_OK;
}
