/* status_decide.c: undecided comparisons for `sweep status` (see
 * status_decide.h): compare's table split on every axis that varies, with
 * the decide rule's baseline. */
#include "status_decide.h"

#include <stdlib.h>
#include <string.h>

#include "compare_table.h"
#include "sweep/config.h"

/* The request: the decide axis first, then every other axis that varies
 * (but the seed, and the alpha that follows the activation). */
static void make_request(const rep_data *d, const decide_settings *ds, cmp_request *q,
                         char *base, size_t size)
{
    const char *axis = axis_name(ds->axis);
    q->n_by = 0;
    for (int a = 0; a < RA_COUNT; a++)
        if (strcmp(rep_axis_name(a), axis) == 0)
            q->by[q->n_by++] = a;
    for (int a = 0; a < RA_COUNT && q->n_by < CMP_MAX_BY; a++) {
        int skip = a == RA_SEED || a == q->by[0] ||
                   (ds->axis == AXIS_ACTIVATION && strcmp(rep_axis_name(a), "alpha") == 0);
        if (!skip && d->n_levels[a] > 1)
            q->by[q->n_by++] = a;
    }
    if (ds->axis == AXIS_ACTIVATION)
        snprintf(base, size, "%s", act_name((act_kind)ds->baseline));
    else if (ds->axis == AXIS_INIT)
        snprintf(base, size, "%s", init_name((init_kind)ds->baseline));
    else
        snprintf(base, size, "%.17g", ds->baseline);
    q->baseline = base;
}

static void print_line(const cmp_table *t, const rep_data *d, const char *sweep,
                       const decide_settings *ds, FILE *out)
{
    int n = 0, open = 0, at_max = 0;
    char list[512];
    size_t len = 0;
    list[0] = 0;
    for (int k = 0; k < t->n_groups; k++) {
        const cmp_group *g = &t->gs[k];
        if (!g->compared)
            continue;
        n++;
        at_max += g->decision == STATS_UNDECIDED && g->pairs >= ds->seeds_max;
        if (g->decision != STATS_UNDECIDED || g->pairs >= ds->seeds_max)
            continue;
        open++;
        const rep_level *l = &d->levels[t->by[0]][g->level[0]];
        if (len + 1 < sizeof list)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s (%d seeds)",
                                    open > 1 ? ", " : "", l->is_null ? "none" : l->text, g->pairs);
    }
    fprintf(out, "%s: decide on %s: %d of %d comparison%s still undecided%s%s", sweep, ds->metric,
            open, n, n == 1 ? "" : "s", open ? ": " : "", list);
    if (at_max)
        fprintf(out, "; %d undecided at seeds.max = %d", at_max, ds->seeds_max);
    fputc('\n', out);
}

int status_undecided(store *db, const char *sweep, FILE *out, sw_error *err)
{
    char *text = NULL, *path = NULL;
    if (store_sweep_config(db, sweep, &text, &path, err) != SW_OK)
        return err->code;
    free(path);
    sweep_config cfg;
    sw_error ignored = {0};
    int ok = text && config_parse(&cfg, text, strlen(text), "<stored config>", &ignored) == SW_OK;
    free(text);
    if (!ok)
        return SW_OK;
    if (!cfg.decide.on) {
        config_free(&cfg);
        return SW_OK;
    }
    const decide_settings *ds = &cfg.decide;
    cmp_request q = {0};
    char base[64], *name = (char *)sweep;
    for (int m = 0; m < STORE_RUN_METRIC_COUNT; m++)
        if (store_run_metric_name((store_run_metric)m) &&
            strcmp(store_run_metric_name((store_run_metric)m), ds->metric) == 0)
            q.metric = (store_run_metric)m;
    rep_data d;
    cmp_table t = {0};
    int rc = rep_load(db, &name, 1, 0, q.metric, &d, err);
    if (rc == SW_OK && d.n_runs == 0) {
        fprintf(out, "%s: decide on %s: no results yet\n", sweep, ds->metric);
    } else if (rc == SW_OK) {
        make_request(&d, ds, &q, base, sizeof base);
        sw_error quiet = {0};   /* no baseline runs yet: nothing to say */
        if (cmp_build(&t, db, &d, &q, &quiet) == SW_OK)
            print_line(&t, &d, sweep, ds, out);
        else
            fprintf(out, "%s: decide on %s: no comparison yet\n", sweep, ds->metric);
    }
    cmp_free(&t);
    rep_free(&d);
    config_free(&cfg);
    return rc;
}
