/* models.c: model mappings ({conv: [...], dense: [...], padding: same}), alone or as a
 * grid axis, and their fit to the images; the geometry and the limits are
 * model_shape.h's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

/* Checks m against h x w images; what names them in messages. */
static int check_model_fits(parser *p, const config_model *m, int h, int w, const char *what)
{
    char t[400];
    int block, bh, bw;
    model_shape_yaml(&m->shape, t, sizeof t);
    const char *dflt = m->line ? "" : "the default ";
    if (!model_shape_fits(&m->shape, h, w, &block, &bh, &bw)) {
        int line = m->line ? m->conv_line[block - 1] : 0, col = m->line ? m->conv_col[block - 1] : 0;
        char msg[800];
        snprintf(msg, sizeof msg,
                 "%smodel %s does not fit %s%dx%d images: conv block %d gets a %dx%d input, and "
                 "a 3x3 conv then a 2x2 pool need at least %dx%d (at most %d conv block%s)",
                 dflt, t, what, h, w, block, bh, bw, model_min_input(model_pad(&m->shape)),
                 model_min_input(model_pad(&m->shape)),
                 block - 1, block == 2 ? " fits" : "s fit");
        if (line)
            return cfg_fail_at(p, line, col, "%s", msg);
        sw_err(p->err, SW_EINPUT, "%s: %s", p->path, msg);
        return SW_EINPUT;
    }
    double params = model_shape_params(&m->shape, h, w, 10);
    if (params > MODEL_MAX_PARAMS) {
        char msg[800];
        snprintf(msg, sizeof msg,
                 "%smodel %s has %.0f parameters on %s%dx%d images, more than the limit of %ld",
                 dflt, t, params, what, h, w, MODEL_MAX_PARAMS);
        if (m->line)
            return cfg_fail_at(p, m->line, m->col, "%s", msg);
        sw_err(p->err, SW_EINPUT, "%s: %s", p->path, msg);
        return SW_EINPUT;
    }
    return 0;
}

/* A list of layer sizes (or one size): conv or dense of a model. */
static int parse_sizes(parser *p, const field *f, const ynode *n, int max, int allow_empty,
                       int *out, int *count, int *lines, int *cols)
{
    char b[200];
    const ynode *const *items = (const ynode *const *)&n;
    int len = 1;
    if (n->type == Y_MAP || cfg_is_null(n))
        return cfg_fail(p, n, "%s must be a list of sizes like [32, 64], got %s", f->name,
                    cfg_show(n, b, sizeof b));
    if (n->type == Y_SEQ) {
        items = (const ynode *const *)n->kid;
        len = n->n;
    }
    if (len == 0 && !allow_empty)
        return cfg_fail(p, n, "%s must list at least one %s block", f->name, f->name);
    if (len > max)
        return cfg_fail(p, n, "%s has %d layers, more than the limit of %d", f->name, len, max);
    for (int i = 0; i < len; i++) {
        double v;
        int rc;
        if (items[i]->type != Y_SCALAR)
            return cfg_fail(p, items[i], "%s sizes must be single values, got %s", f->name,
                        cfg_show(items[i], b, sizeof b));
        if ((rc = cfg_parse_value(p, f, items[i], &v, 0)))
            return rc;
        out[i] = (int)v;
        if (lines) {
            lines[i] = items[i]->line;
            cols[i] = items[i]->col;
        }
    }
    *count = len;
    return 0;
}

/* One model mapping, {conv: [...], dense: [...], padding: valid | same}; a
 * key left out keeps the default model's layers (and valid padding). fit: check it against 28x28 images. */
int cfg_parse_model(parser *p, const ynode *n, config_model *m, int fit)
{
    static const char *const names[] = {"conv", "dense", "padding"};
    const ynode *k[3], *v[3];
    double pad;
    char b[200];
    int rc;
    memset(m, 0, sizeof *m);
    model_shape_default(&m->shape);
    m->line = n->line;
    m->col = n->col;
    for (int i = 0; i < m->shape.n_conv; i++) {
        m->conv_line[i] = n->line;
        m->conv_col[i] = n->col;
    }
    if (n->type != Y_MAP)
        return cfg_fail(p, n, "a model must be a mapping like {conv: [32, 64], dense: [256]}, got %s",
                    cfg_show(n, b, sizeof b));
    if ((rc = cfg_map_fields(p, n, "model", names, 3, k, v)))
        return rc;
    if (v[2]) {
        if ((rc = cfg_parse_value(p, &cfg_f_padding, v[2], &pad, 0)))
            return rc;
        m->shape.same = pad > 0;
    }
    if (v[0] && (rc = parse_sizes(p, &cfg_f_conv, v[0], MODEL_MAX_CONV, 0, m->shape.conv,
                                  &m->shape.n_conv, m->conv_line, m->conv_col)))
        return rc;
    if (v[1] && (rc = parse_sizes(p, &cfg_f_dense, v[1], MODEL_MAX_DENSE, 1, m->shape.dense,
                                  &m->shape.n_dense, NULL, NULL)))
        return rc;
    return fit ? check_model_fits(p, m, 28, 28, "") : 0;
}

/* model: at the top level (one model) or as a grid axis (one or a list). */
int cfg_parse_models(parser *p, const ynode *key, const ynode *val, sweep_config *c)
{
    char b[200];
    const ynode *const *items = (const ynode *const *)&val;
    int n = 1;
    if (cfg_is_null(val))
        return cfg_fail(p, val, "model has no value: give a mapping like {conv: [32, 64], "
                            "dense: [256]} or a list of them, or leave the key out");
    if (val->type == Y_SEQ) {
        items = (const ynode *const *)val->kid;
        n = val->n;
        if (n == 0)
            return cfg_fail(p, val, "model must not be an empty list");
        /* the duplicate check below is quadratic; a thousand architectures
         * in one grid is already far past a study anyone runs */
        if (n > MODEL_AXIS_MAX)
            return cfg_fail(p, val, "model has %d values, more than the limit of %d", n,
                        MODEL_AXIS_MAX);
    }
    c->models = calloc((size_t)n, sizeof *c->models);
    c->axis[AXIS_MODEL].v = malloc((size_t)n * sizeof *c->axis[AXIS_MODEL].v);
    if (!c->models || !c->axis[AXIS_MODEL].v)
        return cfg_oom(p);
    c->axis[AXIS_MODEL].line = key->line;
    c->axis[AXIS_MODEL].col = key->col;
    for (int i = 0; i < n; i++) {
        int rc = cfg_parse_model(p, items[i], &c->models[i], 1);
        if (rc)
            return rc;
        for (int j = 0; j < i; j++)
            if (model_shape_equal(&c->models[j].shape, &c->models[i].shape)) {
                model_shape_yaml(&c->models[i].shape, b, sizeof b);
                return cfg_fail(p, items[i], "duplicate model %s in model (first given at line %d)",
                            b, c->models[j].line);
            }
        c->axis[AXIS_MODEL].v[i] = i;
        c->n_models = c->axis[AXIS_MODEL].n = i + 1;
    }
    return 0;
}

int config_check_models(const sweep_config *c, int rows, int cols, sw_error *err)
{
    parser p = {c->path ? c->path : "<config>", err, 0};
    for (int i = 0; i < c->n_models; i++) {
        int rc = check_model_fits(&p, &c->models[i], rows, cols, "the data's ");
        if (rc)
            return rc;
    }
    return 0;
}
