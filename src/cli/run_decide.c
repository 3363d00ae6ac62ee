/* run_decide.c: seeds added until each comparison is settled (see
 * run_decide.h and stats_decide). */
#include "run_decide.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static store_run_metric metric_of(const char *name)
{
    for (int m = 0; m < STORE_RUN_METRIC_COUNT; m++) {
        const char *n = store_run_metric_name((store_run_metric)m);
        if (n && strcmp(n, name) == 0)
            return (store_run_metric)m;
    }
    return STORE_RUN_NO_METRIC;
}

/* r with the decide axis set to v. */
static run_settings with_axis(const run_settings *r, axis_id a, double v)
{
    run_settings x = *r;
    switch (a) {
    case AXIS_ACTIVATION: x.activation = (act_kind)v; break;
    case AXIS_ALPHA: x.alpha = v; break;
    case AXIS_INIT: x.init = (init_kind)v; break;
    case AXIS_DROPOUT: x.dropout = v; break;
    case AXIS_EPOCHS: x.epochs = (int)v; break;
    case AXIS_BATCH_SIZE: x.batch_size = (int)v; break;
    case AXIS_LEARNING_RATE: x.learning_rate = v; break;
    default: break;
    }
    return x;
}

static int same_key(const run_settings *a, const run_settings *b, uint64_t identity)
{
    char ka[RUN_KEY_LEN + 1], kb[RUN_KEY_LEN + 1];
    grid_run_key(a, identity, ka);
    grid_run_key(b, identity, kb);
    return strcmp(ka, kb) == 0;
}

/* The seed-1 run that is r at the baseline: same key once the axis (and,
 * for the activation, the alpha, which follows it) is the baseline's. */
static int find_base(const decide_plan *p, const run_settings *r)
{
    const decide_settings *d = &p->cfg->decide;
    run_settings want = with_axis(r, d->axis, d->baseline);
    const axis_values *alphas = &p->cfg->axis[AXIS_ALPHA];
    for (int i = 0; i < p->n_first; i++) {
        if (same_key(&want, &p->first[i], p->identity))
            return i;
        if (d->axis != AXIS_ACTIVATION || p->first[i].activation != want.activation)
            continue;
        for (int k = -1; k < alphas->n; k++) {   /* -1: no alpha */
            run_settings w = want;
            w.alpha = k < 0 ? NAN : alphas->v[k];
            if (same_key(&w, &p->first[i], p->identity))
                return i;
        }
    }
    return -1;
}

static double axis_value(const run_settings *r, axis_id a)
{
    switch (a) {
    case AXIS_ACTIVATION: return r->activation;
    case AXIS_ALPHA: return r->alpha;
    case AXIS_INIT: return r->init;
    case AXIS_DROPOUT: return r->dropout;
    case AXIS_EPOCHS: return r->epochs;
    case AXIS_BATCH_SIZE: return r->batch_size;
    case AXIS_LEARNING_RATE: return r->learning_rate;
    default: return NAN;
    }
}

int decide_plan_make(decide_plan *p, const sweep_config *cfg, uint64_t identity,
                     const run_settings *runs, int n, sw_error *err)
{
    memset(p, 0, sizeof *p);
    const decide_settings *d = &cfg->decide;
    p->cfg = cfg;
    p->identity = identity;
    p->metric = metric_of(d->metric);
    p->rule = (stats_decide_rule){d->rope, d->seeds_min, d->seeds_max,
                                  strstr(d->metric, "accuracy") != NULL};
    p->first = malloc(sizeof *p->first * (size_t)(n ? n : 1));
    p->cmps = calloc((size_t)(n ? n : 1), sizeof *p->cmps);
    if (!p->first || !p->cmps)
        return sw_oom(err, "decide");
    for (int i = 0; i < n; i++)
        if (runs[i].seed == 1)
            p->first[p->n_first++] = runs[i];
    for (int i = 0; i < p->n_first; i++) {
        if (axis_value(&p->first[i], d->axis) == d->baseline)
            continue;
        int b = find_base(p, &p->first[i]);
        if (b >= 0)
            p->cmps[p->n_cmps++] = (decide_cmp){.setting = i, .base = b, .low = NAN, .high = NAN};
    }
    return SW_OK;
}

void decide_plan_free(decide_plan *p)
{
    free(p->first);
    free(p->cmps);
    memset(p, 0, sizeof *p);
}

/* The metric of run r at seed s; NAN when not recorded or not done. */
static int value_at(store *db, long long sweep_id, const decide_plan *p, const run_settings *r,
                    long long seed, double *v, sw_error *err)
{
    run_settings x = *r;
    char key[RUN_KEY_LEN + 1];
    long long run_id = 0;
    x.seed = seed;
    grid_run_key(&x, p->identity, key);
    *v = NAN;
    if (store_run_find(db, sweep_id, key, &run_id, err) != SW_OK)
        return err->code;
    return run_id ? store_run_value(db, run_id, p->metric, v, err) : SW_OK;
}

/* Decides c from seeds 1, 2, ... of both sides: the first look from
 * seeds_min on whose interval settles it; else going (or at the max). */
static int decide_one(decide_plan *p, decide_cmp *c, store *db, long long sweep_id,
                      sw_error *err)
{
    int max = p->rule.seeds_max, m = 0;
    double *d = malloc(sizeof *d * (size_t)max);
    if (!d)
        return sw_oom(err, "decide");
    for (; m < max; m++) {
        double x, b;
        if (value_at(db, sweep_id, p, &p->first[c->setting], m + 1, &x, err) != SW_OK ||
            value_at(db, sweep_id, p, &p->first[c->base], m + 1, &b, err) != SW_OK) {
            free(d);
            return err->code;
        }
        if (isnan(x) || isnan(b))
            break;
        d[m] = x - b;
    }
    c->seeds = m;
    c->state = m >= max ? DC_MAX : DC_GOING;
    c->decision = STATS_UNDECIDED;
    for (int n = p->rule.seeds_min; n <= m; n++) {
        stats_decide(&p->rule, d, n, &c->decision, &c->low, &c->high);
        if (c->decision != STATS_UNDECIDED) {
            c->look = n;
            c->state = DC_DECIDED;
            break;
        }
    }
    free(d);
    return SW_OK;
}

/* Appends r at seed unless the list holds its key already. */
static int add_run(const decide_plan *p, const run_settings *r, long long seed,
                   run_settings **runs, char (**keys)[RUN_KEY_LEN + 1], int *n, int *added)
{
    run_settings x = *r;
    char key[RUN_KEY_LEN + 1];
    x.seed = seed;
    grid_run_key(&x, p->identity, key);
    for (int i = 0; i < *n; i++)
        if (strcmp((*keys)[i], key) == 0)
            return 0;
    run_settings *nr = realloc(*runs, sizeof *nr * (size_t)(*n + 1));
    if (!nr)
        return -1;
    *runs = nr;
    char(*nk)[RUN_KEY_LEN + 1] = realloc(*keys, sizeof *nk * (size_t)(*n + 1));
    if (!nk)
        return -1;
    *keys = nk;
    nr[*n] = x;
    memcpy(nk[*n], key, sizeof key);
    (*n)++;
    (*added)++;
    return 0;
}

int decide_step(decide_plan *p, store *db, long long sweep_id, run_settings **runs,
                char (**keys)[RUN_KEY_LEN + 1], int *n, int *added, sw_error *err)
{
    *added = 0;
    for (int i = 0; i < p->n_cmps; i++) {
        decide_cmp *c = &p->cmps[i];
        if (decide_one(p, c, db, sweep_id, err) != SW_OK)
            return err->code;
        if (c->state != DC_GOING)
            continue;
        /* the next seed on both sides; when the first seeds did not all
         * finish (failed or diverged), more seeds cannot mend that */
        int before = *added;
        if (c->seeds < p->rule.seeds_min) {
            c->state = DC_BROKEN;
            continue;
        }
        if (add_run(p, &p->first[c->setting], c->seeds + 1, runs, keys, n, added) != 0 ||
            add_run(p, &p->first[c->base], c->seeds + 1, runs, keys, n, added) != 0)
            return sw_oom(err, "decide");
        if (*added == before)   /* both listed and trained already, yet not done */
            c->state = DC_BROKEN;
    }
    return SW_OK;
}

void decide_log(const decide_plan *p, FILE *out)
{
    char setting[128], base[128];
    for (int i = 0; i < p->n_cmps; i++) {
        const decide_cmp *c = &p->cmps[i];
        grid_run_label(&p->first[c->setting], setting, sizeof setting);
        grid_run_label(&p->first[c->base], base, sizeof base);
        /* the labels end in " s=1": the seed is what varies here */
        char *s1 = strstr(setting, " s=1"), *s2 = strstr(base, " s=1");
        if (s1)
            *s1 = 0;
        if (s2)
            *s2 = 0;
        int seeds = c->state == DC_DECIDED ? c->look : c->seeds;
        int added = seeds > p->rule.seeds_min ? seeds - p->rule.seeds_min : 0;
        fprintf(out, "sweep: decide: %s vs %s: %s after %d seeds (%d added beyond the first %d): ",
                setting, base, stats_decision_name(c->decision), seeds, added,
                p->rule.seeds_min);
        if (c->state == DC_DECIDED)
            fprintf(out, "the interval of the difference [%+.4g, %+.4g] lies %s +-%g (rope)\n",
                    c->low, c->high, c->decision == STATS_EQUIVALENT ? "within" : "beyond",
                    p->rule.rope);
        else if (c->state == DC_MAX)
            fprintf(out, "reached seeds.max = %d with [%+.4g, %+.4g] straddling the rope\n",
                    p->rule.seeds_max, c->low, c->high);
        else if (c->state == DC_BROKEN)
            fprintf(out, "stopped: a run of seed %d did not finish (failed or diverged)\n",
                    c->seeds + 1);
        else
            fprintf(out, "still going (interrupted)\n");
    }
}
