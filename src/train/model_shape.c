/* model_shape.c: the default model, a model's layer sizes as text, its
 * fit and its size. Needs no kernel code, so the config loader (and its
 * fuzz target) can link it without the model. */
#include "train/model_shape.h"

#include <stdio.h>
#include <string.h>

#include "train/model.h"

void model_shape_default(model_shape *m)
{
    memset(m, 0, sizeof *m);
    m->n_conv = 2;
    m->conv[0] = 32;
    m->conv[1] = 64;
    m->n_dense = 1;
    m->dense[0] = 256;
}

/* Declared in model.h; here so that grid and config need no kernels. */
void model_spec_default(model_spec *s)
{
    memset(s, 0, sizeof *s);
    model_shape_default(&s->shape);
    s->in_c = 1;
    s->in_h = 28;
    s->in_w = 28;
    s->n_classes = 10;
    s->act = ACT_RELU;
    s->alpha = 1.0f;
    s->init = INIT_HE;
    s->dropout = 0.25f;
}

int model_shape_equal(const model_shape *a, const model_shape *b)
{
    if (a->n_conv != b->n_conv || a->n_dense != b->n_dense)
        return 0;
    for (int i = 0; i < a->n_conv; i++)
        if (a->conv[i] != b->conv[i])
            return 0;
    for (int i = 0; i < a->n_dense; i++)
        if (a->dense[i] != b->dense[i])
            return 0;
    return !a->same == !b->same;
}

int model_shape_is_default(const model_shape *m)
{
    model_shape d;
    model_shape_default(&d);
    return model_shape_equal(m, &d);
}

/* Appends the sizes, sep between them; returns the new length. */
static size_t put_sizes(char *buf, size_t size, size_t o, const int *v, int n, int max,
                        const char *sep)
{
    for (int i = 0; i < n && i < max; i++)
        o += (size_t)snprintf(buf + o, o < size ? size - o : 0, "%s%d", i ? sep : "", v[i]);
    return o;
}

void model_shape_text(const model_shape *m, char *buf, size_t size)
{
    size_t o = 0;
    if (!size)
        return;
    buf[0] = '\0';
    o += (size_t)snprintf(buf + o, o < size ? size - o : 0, "conv=");
    o = put_sizes(buf, size, o, m->conv, m->n_conv, MODEL_MAX_CONV, "-");
    o += (size_t)snprintf(buf + o, o < size ? size - o : 0, ";dense=");
    if (m->n_dense == 0)
        o += (size_t)snprintf(buf + o, o < size ? size - o : 0, "none");
    o = put_sizes(buf, size, o, m->dense, m->n_dense, MODEL_MAX_DENSE, "-");
    if (m->same)
        snprintf(buf + o, o < size ? size - o : 0, ";padding=same");
}

void model_shape_yaml(const model_shape *m, char *buf, size_t size)
{
    size_t o = 0;
    if (!size)
        return;
    buf[0] = '\0';
    o += (size_t)snprintf(buf + o, o < size ? size - o : 0, "{conv: [");
    o = put_sizes(buf, size, o, m->conv, m->n_conv, MODEL_MAX_CONV, ", ");
    o += (size_t)snprintf(buf + o, o < size ? size - o : 0, "], dense: [");
    o = put_sizes(buf, size, o, m->dense, m->n_dense, MODEL_MAX_DENSE, ", ");
    snprintf(buf + o, o < size ? size - o : 0, "]%s}", m->same ? ", padding: same" : "");
}

int model_shape_fits(const model_shape *m, int h, int w, int *block, int *bh, int *bw)
{
    int pad = model_pad(m);
    for (int k = 0; k < m->n_conv; k++) {
        if (h < model_min_input(pad) || w < model_min_input(pad)) {
            *block = k + 1;
            *bh = h;
            *bw = w;
            return 0;
        }
        h = model_block_out(h, pad);
        w = model_block_out(w, pad);
    }
    return 1;
}

double model_shape_params(const model_shape *m, int h, int w, int n_classes)
{
    int block, bh, bw;
    if (!model_shape_fits(m, h, w, &block, &bh, &bw))
        return -1;
    double total = 0, c = 1;
    for (int k = 0; k < m->n_conv; k++) {
        total += (double)m->conv[k] * c * 9 + m->conv[k];
        c = m->conv[k];
        h = model_block_out(h, model_pad(m));
        w = model_block_out(w, model_pad(m));
    }
    double in = c * h * w;
    for (int k = 0; k <= m->n_dense; k++) {
        double out = k < m->n_dense ? m->dense[k] : n_classes;
        total += out * in + out;
        in = out;
    }
    return total;
}
