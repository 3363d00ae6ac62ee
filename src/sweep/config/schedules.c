/* schedules.c: learning-rate schedules ({kind: constant}, {kind: step,
 * every: E, gamma: G}, {kind: cosine}, or the bare names constant and
 * cosine), alone under train or as a grid axis; and the optimizer
 * settings that only make sense together (momentum, nesterov). */
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

static int one_value(parser *p, const char *name, const ynode *n)
{
    char b[200];
    if (n->type == Y_SCALAR && !cfg_is_null(n))
        return 0;
    return cfg_fail(p, n, "lr_schedule.%s must be a single value, got %s", name,
                    cfg_show(n, b, sizeof b));
}

int cfg_parse_schedule(parser *p, const ynode *n, config_schedule *s)
{
    static const char *const names[] = {"kind", "every", "gamma"};
    const ynode *k[3], *v[3];
    char b[200];
    double d;
    int rc;
    memset(s, 0, sizeof *s);
    s->line = n->line;
    s->col = n->col;
    if (n->type == Y_SCALAR && !cfg_is_null(n)) {
        /* a bare name: constant or cosine (step needs its numbers) */
        if ((rc = cfg_parse_value(p, &cfg_f_sched_kind, n, &d, 0)))
            return rc;
        if ((sched_kind)d == SCHED_STEP)
            return cfg_fail(p, n, "a step schedule needs its numbers: {kind: step, every: 10, "
                                  "gamma: 0.5}");
        s->s.kind = (sched_kind)d;
        return 0;
    }
    if (n->type != Y_MAP)
        return cfg_fail(p, n, "lr_schedule must be a mapping like {kind: cosine} or {kind: step, "
                              "every: 10, gamma: 0.5}, got %s", cfg_show(n, b, sizeof b));
    if ((rc = cfg_map_fields(p, n, "lr_schedule", names, 3, k, v)))
        return rc;
    if (!v[0])
        return cfg_fail(p, n, "lr_schedule needs 'kind': constant, step or cosine");
    if ((rc = one_value(p, "kind", v[0])) || (rc = cfg_parse_value(p, &cfg_f_sched_kind, v[0], &d, 0)))
        return rc;
    s->s.kind = (sched_kind)d;
    if (s->s.kind != SCHED_STEP) {
        for (int i = 1; i < 3; i++)
            if (k[i])
                return cfg_fail(p, k[i], "'%s' belongs to a step schedule, not to %s", names[i],
                                sched_name(s->s.kind));
        return 0;
    }
    if (!v[1] || !v[2])
        return cfg_fail(p, n, "a step schedule needs 'every' (epochs) and 'gamma' (the factor), "
                              "like {kind: step, every: 10, gamma: 0.5}");
    if ((rc = one_value(p, "every", v[1])) ||
        (rc = cfg_parse_value(p, &cfg_f_sched_every, v[1], &d, 0)))
        return rc;
    s->s.every = (int)d;
    if ((rc = one_value(p, "gamma", v[2])) ||
        (rc = cfg_parse_value(p, &cfg_f_sched_gamma, v[2], &s->s.gamma, 0)))
        return rc;
    return 0;
}

int cfg_parse_schedules(parser *p, const ynode *key, const ynode *val, sweep_config *c)
{
    const ynode *const *items = (const ynode *const *)&val;
    int n = 1;
    char t[64];
    if (cfg_is_null(val))
        return cfg_fail(p, val, "lr_schedule has no value: give {kind: constant}, {kind: cosine}, "
                                "{kind: step, every: E, gamma: G} or a list of them, or leave the "
                                "key out");
    if (val->type == Y_SEQ) {
        items = (const ynode *const *)val->kid;
        n = val->n;
        if (n == 0)
            return cfg_fail(p, val, "lr_schedule must not be an empty list");
        if (n > SCHEDULE_AXIS_MAX)
            return cfg_fail(p, val, "lr_schedule has %d values, more than the limit of %d", n,
                            SCHEDULE_AXIS_MAX);
    }
    c->schedules = calloc((size_t)n, sizeof *c->schedules);
    c->axis[AXIS_LR_SCHEDULE].v = malloc((size_t)n * sizeof *c->axis[AXIS_LR_SCHEDULE].v);
    if (!c->schedules || !c->axis[AXIS_LR_SCHEDULE].v)
        return cfg_oom(p);
    c->axis[AXIS_LR_SCHEDULE].line = key->line;
    c->axis[AXIS_LR_SCHEDULE].col = key->col;
    for (int i = 0; i < n; i++) {
        int rc = cfg_parse_schedule(p, items[i], &c->schedules[i]);
        if (rc)
            return rc;
        for (int j = 0; j < i; j++)
            if (sched_equal(&c->schedules[j].s, &c->schedules[i].s)) {
                sched_text(&c->schedules[i].s, t, sizeof t);
                return cfg_fail(p, items[i], "duplicate schedule %s in lr_schedule (first given "
                                             "at line %d)", t, c->schedules[j].line);
            }
        c->axis[AXIS_LR_SCHEDULE].v[i] = i;
        c->n_schedules = c->axis[AXIS_LR_SCHEDULE].n = i + 1;
    }
    return 0;
}

/* Whether an optimizer of the grid takes momentum (sgd, rmsprop). */
static int takes_momentum(double kind)
{
    return (optim_kind)kind == OPT_SGD || (optim_kind)kind == OPT_RMSPROP;
}

int cfg_check_optimizer(parser *p, const sweep_config *c, const ynode *nesterov_k)
{
    const axis_values *opt = &c->axis[AXIS_OPTIMIZER], *mom = &c->axis[AXIS_MOMENTUM];
    int any = 0, sgd = 0, some = 0;
    for (int i = 0; i < opt->n; i++) {
        any |= takes_momentum(opt->v[i]);
        sgd |= (optim_kind)opt->v[i] == OPT_SGD;
    }
    for (int i = 0; i < mom->n; i++)
        some |= mom->v[i] > 0;
    if (some && !any)
        return cfg_fail_at(p, mom->line, mom->col,
                           "momentum applies to sgd and rmsprop, and the optimizer here is %s "
                           "(Adam's beta1 plays that part)", optim_name((optim_kind)opt->v[0]));
    if (c->nesterov && !sgd)
        return cfg_fail(p, nesterov_k, "nesterov applies to sgd with momentum, and no run here "
                                       "uses sgd");
    if (c->nesterov && !some)
        return cfg_fail(p, nesterov_k, "nesterov needs momentum > 0, like momentum: 0.9");
    return 0;
}
