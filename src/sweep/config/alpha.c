/* alpha.c: the alphas of each activation. grid.alpha is one list for every
 * activation that takes alpha, or a mapping from activation to its own
 * list ({elu: [1.0], leaky_relu: [0.01, 0.3]}); an activation given no
 * alpha uses its table row's default_alpha (elu 1.0, leaky_relu 0.3,
 * prelu 0.25). Settings that are legal but degenerate (leaky_relu with
 * slope 1 is linear) become warnings for the caller to print. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

int cfg_warn(parser *p, sweep_config *c, const ynode *n, const char *fmt, ...)
{
    char msg[600], line[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(line, sizeof line, "%s:%d:%d: %s", p->path, n ? n->line : 1, n ? n->col : 1, msg);
    char **w = realloc(c->warnings, (size_t)(c->n_warnings + 1) * sizeof *w);
    if (!w)
        return cfg_oom(p);
    c->warnings = w;
    if (!(w[c->n_warnings] = strdup(line)))
        return cfg_oom(p);
    c->n_warnings++;
    return 0;
}

const axis_values *config_alphas(const sweep_config *c, act_kind k)
{
    if ((unsigned)k < ACT_COUNT && c->alphas[k].n > 0)
        return &c->alphas[k];
    return &c->axis[AXIS_ALPHA];
}

/* Whether a rule that names nothing but activation and alpha drops every
 * run of kind at alpha a. */
static int excluded_outright(const sweep_config *c, act_kind kind, double a)
{
    const unsigned keys = 1u << AXIS_ACTIVATION | 1u << AXIS_ALPHA;
    for (int i = 0; i < c->n_exclude; i++) {
        const exclude_rule *x = &c->exclude[i];
        if (x->mask && !(x->mask & ~keys) &&
            (!(x->mask & 1u << AXIS_ACTIVATION) || x->v[AXIS_ACTIVATION] == kind) &&
            (!(x->mask & 1u << AXIS_ALPHA) || x->v[AXIS_ALPHA] == a))
            return 1;
    }
    return 0;
}

/* leaky_relu at slope 1 is the identity: legal, never what is meant. val:
 * the value or list that gave ax's values, in order. */
static int warn_linear(parser *p, sweep_config *c, const ynode *val, const axis_values *ax)
{
    for (int i = 0; i < ax->n; i++) {
        if (ax->v[i] != 1.0 || excluded_outright(c, ACT_LEAKY_RELU, 1.0))
            continue;
        const ynode *at = val && val->type == Y_SEQ && i < val->n ? val->kid[i] : val;
        int rc = cfg_warn(p, c, at, "leaky_relu with alpha 1 is linear (slope 1 on both sides "
                                    "of 0); alpha is its negative slope, Keras' default 0.3");
        if (rc)
            return rc;
    }
    return 0;
}

/* "relu, elu" for messages: the grid's activations so far (relu, the
 * default, when none is given). */
static void grid_acts(const sweep_config *c, char *buf, size_t size)
{
    const char *names[ENUM_MAX_NAMES];
    const axis_values *ax = &c->axis[AXIS_ACTIVATION];
    int n = 0;
    for (int i = 0; i < ax->n && n < ENUM_MAX_NAMES; i++)
        names[n++] = act_name((act_kind)ax->v[i]);
    if (n == 0)
        snprintf(buf, size, "relu, the default");
    else
        cfg_join_names(names, n, buf, size);
}

int cfg_parse_alpha_map(parser *p, const ynode *key, const ynode *map, sweep_config *c)
{
    const char *names[2 * ACT_COUNT];
    int kind_of[2 * ACT_COUNT], n = 0;
    for (int k = 0; k < act_count(); k++) {   /* names, then aliases: any spelling */
        names[n] = act_name((act_kind)k);
        kind_of[n++] = k;
    }
    for (int k = 0; k < act_count(); k++)
        if (act_info((act_kind)k)->alias) {
            names[n] = act_info((act_kind)k)->alias;
            kind_of[n++] = k;
        }
    const ynode *keys[2 * ACT_COUNT], *vals[2 * ACT_COUNT];
    char list[300];
    int rc;
    if (map->n == 0)
        return cfg_fail(p, map, "alpha must not be an empty mapping: give {activation: alphas} "
                                "or one list for every activation that takes alpha");
    if ((rc = cfg_map_fields(p, map, "alpha", names, n, keys, vals)))
        return rc;
    c->axis[AXIS_ALPHA].line = key->line;   /* cfg_finish_alphas fills the values */
    c->axis[AXIS_ALPHA].col = key->col;
    for (int i = 0; i < n; i++) {
        if (!keys[i])
            continue;
        act_kind k = (act_kind)kind_of[i];
        if (c->alphas[k].n > 0)   /* its name and its alias both given */
            return cfg_fail(p, keys[i], "alpha for %s is given twice", act_name(k));
        if (!act_info(k)->takes_alpha) {
            const char *with[ACT_COUNT];
            int m = 0;
            for (int j = 0; j < act_count(); j++)
                if (act_info((act_kind)j)->takes_alpha)
                    with[m++] = act_name((act_kind)j);
            cfg_join_names(with, m, list, sizeof list);
            return cfg_fail(p, keys[i], "%s takes no alpha (only %s do)", names[i], list);
        }
        if (!cfg_has_value(&c->axis[AXIS_ACTIVATION], k)) {
            grid_acts(c, list, sizeof list);
            return cfg_fail(p, keys[i], "alpha is given for %s, which is not among the grid's "
                                        "activations (%s)", names[i], list);
        }
        if ((rc = cfg_parse_axis(p, AXIS_ALPHA, keys[i], vals[i], &c->alphas[k], k == ACT_ELU)))
            return rc;
    }
    return 0;
}

static int copy_axis(parser *p, axis_values *to, const axis_values *from)
{
    to->v = malloc((size_t)from->n * sizeof *to->v);
    if (!to->v)
        return cfg_oom(p);
    memcpy(to->v, from->v, (size_t)from->n * sizeof *to->v);
    to->n = from->n;
    to->line = from->line;
    to->col = from->col;
    return 0;
}

int cfg_finish_alphas(parser *p, sweep_config *c)
{
    const axis_values *acts = &c->axis[AXIS_ACTIVATION];
    axis_values *all = &c->axis[AXIS_ALPHA];
    int one_list = all->n > 0, rc;
    for (int i = 0; i < acts->n; i++) {
        act_kind k = (act_kind)acts->v[i];
        const act_desc *d = act_info(k);
        if (!d->takes_alpha || c->alphas[k].n > 0)
            continue;
        rc = one_list ? copy_axis(p, &c->alphas[k], all)
                      : cfg_set_single(p, &c->alphas[k], d->default_alpha, 0, 0);
        if (rc)
            return rc;
    }
    if (one_list)
        return 0;
    /* the alpha axis: every alpha of the grid, in order of first
     * appearance (compare and plot order levels by it); 1.0, unused, for a
     * grid whose activations take none */
    long total = 0;
    for (int k = 0; k < ACT_COUNT; k++)
        total += c->alphas[k].n;
    if (total == 0)
        return cfg_set_single(p, all, 1.0, 0, 0);
    if (!(all->v = malloc((size_t)total * sizeof *all->v)))
        return cfg_oom(p);
    for (int i = 0; i < acts->n; i++) {
        const axis_values *ax = &c->alphas[(int)acts->v[i]];
        for (int j = 0; j < ax->n; j++)
            if (!cfg_has_value(all, ax->v[j]))
                all->v[all->n++] = ax->v[j];
    }
    return 0;
}

int cfg_warn_alphas(parser *p, sweep_config *c, const ynode *alpha_val)
{
    if (!alpha_val || !cfg_has_value(&c->axis[AXIS_ACTIVATION], ACT_LEAKY_RELU))
        return 0;
    if (alpha_val->type != Y_MAP)
        return warn_linear(p, c, alpha_val, config_alphas(c, ACT_LEAKY_RELU));
    const char *name = act_name(ACT_LEAKY_RELU);
    for (int k = 0; k + 1 < alpha_val->n; k += 2) {
        const ynode *key = alpha_val->kid[k];
        if (key->len == strlen(name) && strcmp(key->s, name) == 0)
            return warn_linear(p, c, alpha_val->kid[k + 1], config_alphas(c, ACT_LEAKY_RELU));
    }
    return 0;
}
