/* decide.c: the decide: section, which makes `sweep run` add seeds until
 * every setting's comparison with the baseline is settled. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

static const char *const METRICS[] = {"test_accuracy", "test_loss", "best_val_accuracy",
                                      "best_val_loss"};
#define N_METRICS (int)(sizeof METRICS / sizeof METRICS[0])

static const field F_ROPE = {"rope", F_REAL, 0, 1e300, 0, 0, NULL, NULL};
static const field F_SEEDS_MIN = {"seeds.min", F_INT, 2, DECIDE_SEEDS_MAX, 0, 0, NULL,
                                  "an integer >= 2"};
static const field F_SEEDS_MAX = {"seeds.max", F_INT, 2, DECIDE_SEEDS_MAX, 0, 0, NULL,
                                  "an integer >= 2"};

static int parse_metric(parser *p, const ynode *n, decide_settings *d)
{
    char *m = NULL, list[200], b[200];
    int rc = cfg_parse_string(p, "metric", n, &m);
    if (rc)
        return rc;
    for (int i = 0; i < N_METRICS; i++)
        if (strcmp(m, METRICS[i]) == 0) {
            snprintf(d->metric, sizeof d->metric, "%s", m);
            free(m);
            return 0;
        }
    free(m);
    cfg_join_names(METRICS, N_METRICS, list, sizeof list);
    return cfg_fail(p, n, "decide metric must be one of %s, got '%s'", list,
                    cfg_clip(n, b, sizeof b));
}

static int parse_seeds(parser *p, const ynode *n, decide_settings *d)
{
    static const char *const names[] = {"min", "max"};
    const ynode *k[2], *v[2];
    char b[200];
    double lo, hi;
    if (n->type != Y_MAP)
        return cfg_fail(p, n, "decide seeds must be a mapping {min: N, max: M}, got %s",
                        cfg_show(n, b, sizeof b));
    int rc = cfg_map_fields(p, n, "decide.seeds", names, 2, k, v);
    if (rc)
        return rc;
    if (!v[0] || !v[1])
        return cfg_fail(p, n, "decide seeds needs both min and max");
    if ((rc = cfg_parse_value(p, &F_SEEDS_MIN, v[0], &lo, 0)) ||
        (rc = cfg_parse_value(p, &F_SEEDS_MAX, v[1], &hi, 0)))
        return rc;
    if (hi < lo)
        return cfg_fail(p, v[1], "decide seeds.max (%.0f) must be at least seeds.min (%.0f)", hi,
                        lo);
    d->seeds_min = (int)lo;
    d->seeds_max = (int)hi;
    return 0;
}

/* The baseline is a value of the first axis that varies (other than the
 * seed, which decide sets). */
static int parse_baseline(parser *p, const ynode *n, sweep_config *c)
{
    decide_settings *d = &c->decide;
    char b[200];
    int a = 0;
    while (a < AXIS_SEED && c->axis[a].n < 2)
        a++;
    if (a == AXIS_SEED)
        return cfg_fail(p, n, "decide needs a grid axis with several values to compare "
                              "(e.g. activation: [relu, elu])");
    if (a == AXIS_MODEL)
        return cfg_fail(p, n, "decide cannot compare models yet; put another axis first");
    double v;
    int rc = cfg_parse_value(p, &cfg_axis_fields[a], n, &v, 0);
    if (rc)
        return rc;
    if (!cfg_has_value(&c->axis[a], v))
        return cfg_fail(p, n, "decide baseline '%s' is not a value of grid.%s, the first axis "
                              "that varies",
                        cfg_clip(n, b, sizeof b), cfg_axis_names[a]);
    d->axis = (axis_id)a;
    d->baseline = v;
    return 0;
}

int cfg_parse_decide(parser *p, const ynode *key, const ynode *val, const ynode *seed_key,
                     sweep_config *c)
{
    static const char *const names[] = {"metric", "baseline", "rope", "seeds"};
    const ynode *k[4], *v[4];
    char b[200];
    decide_settings *d = &c->decide;
    if (val->type != Y_MAP)
        return cfg_fail(p, val, "decide must be a mapping {metric, baseline, rope, seeds}, "
                                "got %s",
                        cfg_show(val, b, sizeof b));
    int rc = cfg_map_fields(p, val, "decide", names, 4, k, v);
    if (rc)
        return rc;
    for (int i = 0; i < 4; i++)
        if (!v[i])
            return cfg_fail(p, val, "decide needs '%s'", names[i]);
    if (seed_key)
        return cfg_fail(p, seed_key, "with decide, the grid has no seed axis: decide adds seeds "
                                     "1, 2, ... itself (see decide.seeds)");
    if ((rc = parse_metric(p, v[0], d)) || (rc = cfg_parse_value(p, &F_ROPE, v[2], &d->rope, 0)) ||
        (rc = parse_seeds(p, v[3], d)) || (rc = parse_baseline(p, v[1], c)))
        return rc;
    d->on = 1;
    d->line = key->line;
    d->col = key->col;
    /* the first look's seeds; sweep run adds the others one by one */
    axis_values *seeds = &c->axis[AXIS_SEED];
    double *sv = realloc(seeds->v, sizeof *sv * (size_t)d->seeds_min);
    if (!sv)
        return cfg_oom(p);
    seeds->v = sv;
    seeds->n = d->seeds_min;
    for (int i = 0; i < d->seeds_min; i++)
        sv[i] = i + 1;
    seeds->line = key->line;
    seeds->col = key->col;
    return 0;
}
