/* axes.c: the grid's axes: a value or a list of values (seed also as a
 * {from, to} range), without repeats; and the number of runs they make. */
#include <stdlib.h>

#include "config_internal.h"

const char *const cfg_axis_names[AXIS_COUNT] = {
    "activation", "alpha", "model", "batchnorm", "init", "dropout", "epochs", "batch_size",
    "optimizer", "learning_rate", "momentum", "weight_decay", "lr_schedule", "seed",
};

const char *axis_name(axis_id a)
{
    return a >= 0 && a < AXIS_COUNT ? cfg_axis_names[a] : "?";
}

typedef struct {
    double v;
    int i;
} value_at;

static int cmp_value_at(const void *pa, const void *pb)
{
    const value_at *a = pa, *b = pb;
    if (a->v != b->v)
        return a->v < b->v ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

/* Refuses repeated values (they would be silently repeated runs); sorts a
 * copy so that 100000 seeds stay fast, and names the first repeat in the
 * file. */
static int check_repeats(parser *p, const field *f, const ynode *const *items,
                         const double *v, int n)
{
    if (n < 2)
        return 0;
    value_at *s = malloc((size_t)n * sizeof *s);
    if (!s)
        return cfg_oom(p);
    for (int i = 0; i < n; i++)
        s[i] = (value_at){v[i], i};
    qsort(s, (size_t)n, sizeof *s, cmp_value_at);
    int first = -1;
    for (int i = 1; i < n; i++)
        if (s[i].v == s[i - 1].v && (first < 0 || s[i].i < first))
            first = s[i].i;
    free(s);
    if (first < 0)
        return 0;
    char t[200];
    return cfg_fail(p, items[first], "duplicate value %s in %s", cfg_clip(items[first], t, sizeof t),
                f->name);
}

/* seed: {from: A, to: B}, inclusive. */
static int parse_seed_range(parser *p, const ynode *map, axis_values *ax)
{
    static const char *const names[] = {"from", "to"};
    const ynode *k[2], *v[2];
    double from, to;
    int rc = cfg_map_fields(p, map, "seed range", names, 2, k, v);
    if (rc)
        return rc;
    if (!v[0] || !v[1])
        return cfg_fail(p, map, "a seed range needs 'from' and 'to', like {from: 1, to: 10}");
    if ((rc = cfg_parse_value(p, &cfg_axis_fields[AXIS_SEED], v[0], &from, 0)) ||
        (rc = cfg_parse_value(p, &cfg_axis_fields[AXIS_SEED], v[1], &to, 0)))
        return rc;
    if (from > to)
        return cfg_fail(p, v[1], "the seed range is empty: 'to' (%.0f) is less than 'from' (%.0f)",
                    to, from);
    if (to - from + 1 > AXIS_MAX_VALUES)
        return cfg_fail(p, map, "the seed range has %.0f values, more than the limit of %d",
                    to - from + 1, AXIS_MAX_VALUES);
    int n = (int)(to - from) + 1;
    ax->v = malloc((size_t)n * sizeof *ax->v);
    if (!ax->v)
        return cfg_oom(p);
    ax->n = n;
    for (int i = 0; i < n; i++)
        ax->v[i] = from + i;
    return 0;
}

int cfg_parse_axis(parser *p, axis_id a, const ynode *key, const ynode *val,
                      axis_values *ax, int elu_note)
{
    const field *f = &cfg_axis_fields[a];
    char b[200];
    ax->line = key->line;
    ax->col = key->col;
    if (val->type == Y_MAP) {
        if (a == AXIS_SEED)
            return parse_seed_range(p, val, ax);
        return cfg_fail(p, val, "%s must be a value or a list of values, got a mapping", f->name);
    }
    if (cfg_is_null(val))
        return cfg_fail(p, val, "%s has no value: give a value or a list, or leave the key out",
                    f->name);
    const ynode *const *items = (const ynode *const *)&val;
    int n = 1;
    if (val->type == Y_SEQ) {
        items = (const ynode *const *)val->kid;
        n = val->n;
        if (n == 0)
            return cfg_fail(p, val, "%s must not be an empty list", f->name);
        if (n > AXIS_MAX_VALUES)
            return cfg_fail(p, val, "%s has %d values, more than the limit of %d", f->name, n,
                        AXIS_MAX_VALUES);
    }
    ax->v = malloc((size_t)n * sizeof *ax->v);
    if (!ax->v)
        return cfg_oom(p);
    ax->n = n;
    for (int i = 0; i < n; i++) {
        int rc;
        if (items[i]->type != Y_SCALAR)
            return cfg_fail(p, items[i], "%s values must be single values, got %s", f->name,
                        cfg_show(items[i], b, sizeof b));
        if ((rc = cfg_parse_value(p, f, items[i], &ax->v[i], elu_note)))
            return rc;
    }
    return check_repeats(p, f, items, ax->v, n);
}

int cfg_set_single(parser *p, axis_values *ax, double v, int line, int col)
{
    ax->v = malloc(sizeof *ax->v);
    if (!ax->v)
        return cfg_oom(p);
    ax->n = 1;
    ax->v[0] = v;
    ax->line = line;
    ax->col = col;
    return 0;
}

int cfg_has_value(const axis_values *ax, double v)
{
    for (int i = 0; i < ax->n; i++)
        if (ax->v[i] == v)
            return 1;
    return 0;
}

double config_grid_count(const sweep_config *c)
{
    const axis_values *act = &c->axis[AXIS_ACTIVATION];
    double total = 0;   /* activations without alpha: one run whatever the alphas */
    for (int i = 0; i < act->n; i++) {
        const act_desc *d = act_info((act_kind)act->v[i]);
        total += d && d->takes_alpha ? config_alphas(c, (act_kind)act->v[i])->n : 1;
    }
    for (int a = 0; a < AXIS_COUNT; a++)
        if (a != AXIS_ACTIVATION && a != AXIS_ALPHA)
            total *= c->axis[a].n;
    return total;
}
