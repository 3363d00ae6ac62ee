/* model.c: the CNN as a fixed sequence of kernel calls over buffers sized
 * once for max_batch. Forward keeps what backward needs (im2col columns,
 * pre- and post-activation values, pooling winners, dropout masks). */
#include "train/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "nn/conv.h"
#include "nn/dense.h"
#include "nn/dropout.h"
#include "nn/loss.h"
#include "nn/pool.h"

#define MAX_TENSORS (3 * (MODEL_MAX_CONV + MODEL_MAX_DENSE + 1))

typedef struct {
    int ic, oc, h, w;           /* input channels and size */
    int oh, ow, ph, pw;         /* conv output size, pooled size */
    long w_off, b_off, a_off;   /* parameter offsets; a_off -1 unless prelu */
    float *col;                 /* (ic*9, B*oh*ow) */
    float *pre, *post;          /* (oc, B, oh, ow) before / after activation */
    float *pooled;              /* (oc, B, ph, pw), dropout applied in place */
    uint8_t *argmax, *mask;     /* (oc, B, ph, pw) */
} conv_block;

typedef struct {
    int in, out;
    long w_off, b_off, a_off;
    float *pre, *post;          /* (out, B); post unused by the output layer */
} dense_block;

struct model {
    model_spec spec;
    int max_batch;
    long n_params;
    float *params, *grads;
    int n_tensors;
    model_tensor tensors[MAX_TENSORS];
    int n_conv, n_dense;        /* n_dense counts the output layer */
    conv_block conv[MODEL_MAX_CONV];
    dense_block dense[MODEL_MAX_DENSE + 1];
    int flat_c, flat_s;         /* flatten input: channels and spatial size */
    float *flat;                /* (flat_c*flat_s, B) */
    const float *input;         /* last forward's input, (B, pixels) */
    float *grad_a, *grad_b;     /* backward ping-pong, largest activation */
    float *dcol;
    int batch;                  /* last forward's batch size */
    int dropped;                /* last forward applied dropout */
};

void model_spec_default(model_spec *s)
{
    memset(s, 0, sizeof *s);
    s->n_conv = 2;
    s->conv[0] = 32;
    s->conv[1] = 64;
    s->n_dense = 1;
    s->dense[0] = 256;
    s->in_c = 1;
    s->in_h = 28;
    s->in_w = 28;
    s->n_classes = 10;
    s->act = ACT_RELU;
    s->alpha = 1.0f;
    s->init = INIT_HE;
    s->dropout = 0.25f;
}

static float *alloc_floats(long n)
{
    size_t bytes = ((size_t)(n > 0 ? n : 1) * sizeof(float) + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

static long add_tensor(model *m, const char *name, long size, int fan_in, int fan_out)
{
    model_tensor *t = &m->tensors[m->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->offset = m->n_params;
    t->size = size;
    t->fan_in = fan_in;
    t->fan_out = fan_out;
    /* keep every tensor 64-byte aligned for the kernels */
    m->n_params += (size + 15) & ~15L;
    return t->offset;
}

/* Lays out parameters and checks that every block fits its input. */
static int plan_layers(model *m, sw_error *err)
{
    const model_spec *s = &m->spec;
    char name[32];
    int prelu = s->act == ACT_PRELU;
    if (s->in_c != 1 || s->in_h < 1 || s->in_w < 1 || s->n_classes < 2)
        return sw_err(err, SW_EINPUT, "model: input must be 1 channel and at least 2 classes");
    if (s->n_conv < 0 || s->n_conv > MODEL_MAX_CONV || s->n_dense < 0 ||
        s->n_dense > MODEL_MAX_DENSE)
        return sw_err(err, SW_EINPUT, "model: at most %d conv and %d dense layers",
                      MODEL_MAX_CONV, MODEL_MAX_DENSE);
    int c = s->in_c, h = s->in_h, w = s->in_w;
    for (int k = 0; k < s->n_conv; k++) {
        conv_block *b = &m->conv[k];
        if (s->conv[k] < 1 || s->conv[k] > 4096)
            return sw_err(err, SW_EINPUT, "model: conv block %d has %d channels", k + 1, s->conv[k]);
        if (h < 4 || w < 4)
            return sw_err(err, SW_EINPUT,
                          "model: conv block %d gets a %dx%d input; a 3x3 conv and a 2x2 pool need at least 4x4",
                          k + 1, h, w);
        b->ic = c;
        b->oc = s->conv[k];
        b->h = h;
        b->w = w;
        b->oh = h - 2;
        b->ow = w - 2;
        b->ph = b->oh / 2;
        b->pw = b->ow / 2;
        snprintf(name, sizeof name, "conv%d.weight", k + 1);
        b->w_off = add_tensor(m, name, (long)b->oc * c * 9, c * 9, b->oc * 9);
        snprintf(name, sizeof name, "conv%d.bias", k + 1);
        b->b_off = add_tensor(m, name, b->oc, 0, 0);
        b->a_off = -1;
        if (prelu) {
            snprintf(name, sizeof name, "conv%d.prelu", k + 1);
            b->a_off = add_tensor(m, name, b->oc, 0, 0);
        }
        c = b->oc;
        h = b->ph;
        w = b->pw;
    }
    m->n_conv = s->n_conv;
    m->flat_c = c;
    m->flat_s = h * w;
    int in = c * h * w;
    for (int k = 0; k <= s->n_dense; k++) {
        dense_block *d = &m->dense[k];
        int last = k == s->n_dense;
        d->in = in;
        d->out = last ? s->n_classes : s->dense[k];
        if (d->out < 1 || d->out > 65536)
            return sw_err(err, SW_EINPUT, "model: dense layer %d has %d units", k + 1, d->out);
        const char *base = last ? "out" : "dense";
        if (last)
            snprintf(name, sizeof name, "out.weight");
        else
            snprintf(name, sizeof name, "%s%d.weight", base, k + 1);
        d->w_off = add_tensor(m, name, (long)d->out * in, in, d->out);
        if (last)
            snprintf(name, sizeof name, "out.bias");
        else
            snprintf(name, sizeof name, "%s%d.bias", base, k + 1);
        d->b_off = add_tensor(m, name, d->out, 0, 0);
        d->a_off = -1;
        if (prelu && !last) {
            snprintf(name, sizeof name, "dense%d.prelu", k + 1);
            d->a_off = add_tensor(m, name, d->out, 0, 0);
        }
        in = d->out;
    }
    m->n_dense = s->n_dense + 1;
    return SW_OK;
}

static int alloc_buffers(model *m, sw_error *err)
{
    long B = m->max_batch, largest = (long)m->flat_c * m->flat_s, largest_col = 1;
    int ok = (m->params = alloc_floats(m->n_params)) && (m->grads = alloc_floats(m->n_params));
    for (int k = 0; ok && k < m->n_conv; k++) {
        conv_block *b = &m->conv[k];
        long n = (long)b->oc * B * b->oh * b->ow, np = (long)b->oc * B * b->ph * b->pw;
        long ncol = conv_col_size((int)B, b->ic, b->h, b->w);
        largest = n > largest ? n : largest;
        largest = (long)b->ic * B * b->h * b->w > largest ? (long)b->ic * B * b->h * b->w : largest;
        largest_col = ncol > largest_col ? ncol : largest_col;
        ok = (b->col = alloc_floats(ncol)) && (b->pre = alloc_floats(n)) &&
             (b->post = alloc_floats(n)) && (b->pooled = alloc_floats(np)) &&
             (b->argmax = malloc((size_t)np)) && (b->mask = malloc((size_t)np));
    }
    largest = largest > (long)m->flat_c * m->flat_s * B ? largest : (long)m->flat_c * m->flat_s * B;
    for (int k = 0; ok && k < m->n_dense; k++) {
        dense_block *d = &m->dense[k];
        long n = (long)d->out * B;
        largest = n > largest ? n : largest;
        ok = (d->pre = alloc_floats(n)) && (d->post = alloc_floats(n));
    }
    ok = ok && (m->flat = alloc_floats((long)m->flat_c * m->flat_s * B)) &&
         (m->grad_a = alloc_floats(largest)) && (m->grad_b = alloc_floats(largest)) &&
         (m->dcol = alloc_floats(largest_col));
    if (!ok)
        return sw_err(err, SW_ERUN, "model: out of memory");
    return SW_OK;
}

int model_create(model **out, const model_spec *spec, int max_batch, sw_error *err)
{
    *out = NULL;
    if (max_batch < 1)
        return sw_err(err, SW_EINPUT, "model: batch size must be positive");
    model *m = calloc(1, sizeof *m);
    if (!m)
        return sw_err(err, SW_ERUN, "model: out of memory");
    m->spec = *spec;
    m->max_batch = max_batch;
    if (plan_layers(m, err) != SW_OK || alloc_buffers(m, err) != SW_OK) {
        model_free(m);
        return err->code;
    }
    *out = m;
    return SW_OK;
}

void model_free(model *m)
{
    if (!m)
        return;
    for (int k = 0; k < m->n_conv; k++) {
        conv_block *b = &m->conv[k];
        free(b->col);
        free(b->pre);
        free(b->post);
        free(b->pooled);
        free(b->argmax);
        free(b->mask);
    }
    for (int k = 0; k < m->n_dense; k++) {
        free(m->dense[k].pre);
        free(m->dense[k].post);
    }
    free(m->flat);
    free(m->grad_a);
    free(m->grad_b);
    free(m->dcol);
    free(m->params);
    free(m->grads);
    free(m);
}

const model_spec *model_get_spec(const model *m) { return &m->spec; }
long model_num_params(const model *m) { return m->n_params; }
float *model_params(model *m) { return m->params; }
float *model_grads(model *m) { return m->grads; }
int model_num_tensors(const model *m) { return m->n_tensors; }
const model_tensor *model_tensor_at(const model *m, int i) { return &m->tensors[i]; }
const float *model_logits(const model *m) { return m->dense[m->n_dense - 1].pre; }

void model_init_params(model *m, uint64_t seed)
{
    memset(m->params, 0, sizeof(float) * (size_t)m->n_params);
    for (int t = 0; t < m->n_tensors; t++) {
        const model_tensor *mt = &m->tensors[t];
        float *p = m->params + mt->offset;
        uint64_t purpose = RNG_INIT + (uint64_t)t;
        if (strstr(mt->name, ".prelu")) {
            for (long i = 0; i < mt->size; i++)
                p[i] = m->spec.alpha;
        } else if (mt->fan_in > 0 && m->spec.init == INIT_HE) {
            double std = sqrt(2.0 / mt->fan_in);
            for (long i = 0; i < mt->size; i++)
                p[i] = (float)(std * rng_normal(seed, purpose, 0, (uint64_t)i));
        } else if (mt->fan_in > 0) {
            double limit = sqrt(6.0 / (mt->fan_in + mt->fan_out));
            for (long i = 0; i < mt->size; i++)
                p[i] = (float)(limit * (2.0 * rng_uniform(seed, purpose, 0, (uint64_t)i) - 1.0));
        }
        /* biases stay zero */
    }
}

static act_params layer_act(const model *m, long a_off)
{
    act_params a = {m->spec.act, m->spec.alpha, NULL};
    if (a_off >= 0)
        a.prelu_alpha = m->params + a_off;
    return a;
}

void model_forward(model *m, const float *x, int B, int training, uint64_t seed,
                   uint64_t step)
{
    const float *in = x;
    m->input = x;
    m->batch = B;
    m->dropped = training && m->spec.dropout > 0;
    for (int k = 0; k < m->n_conv; k++) {
        conv_block *b = &m->conv[k];
        long n = (long)B * b->oh * b->ow, np = (long)b->oc * B * b->ph * b->pw;
        act_params a = layer_act(m, b->a_off);
        conv_forward(b->pre, b->col, in, m->params + b->w_off, m->params + b->b_off, B,
                     b->ic, b->h, b->w, b->oc);
        act_forward(&a, b->post, b->pre, b->oc, n);
        maxpool_forward(b->pooled, b->argmax, b->post, (long)b->oc * B, b->oh, b->ow);
        if (m->dropped)
            dropout_forward(b->pooled, b->mask, b->pooled, np, m->spec.dropout, seed,
                            RNG_DROPOUT + (uint64_t)k, step);
        in = b->pooled;
    }
    flatten_forward(m->flat, in, m->flat_c, B, m->flat_s);
    in = m->flat;
    for (int k = 0; k < m->n_dense; k++) {
        dense_block *d = &m->dense[k];
        dense_forward(d->pre, in, m->params + d->w_off, m->params + d->b_off, B, d->in, d->out);
        if (k == m->n_dense - 1)
            break;
        act_params a = layer_act(m, d->a_off);
        act_forward(&a, d->post, d->pre, d->out, B);
        in = d->post;
    }
}

static void backward(model *m)
{
    int B = m->batch;
    float *g = m->grad_a, *g_next = m->grad_b, *tmp;
    /* g holds d(loss)/d(logits) on entry */
    for (int k = m->n_dense - 1; k >= 0; k--) {
        dense_block *d = &m->dense[k];
        if (k < m->n_dense - 1) {
            act_params a = layer_act(m, d->a_off);
            act_backward(&a, g, d->a_off >= 0 ? m->grads + d->a_off : NULL, g, d->pre,
                         d->post, d->out, B);
        }
        const float *in = k > 0 ? m->dense[k - 1].post : m->flat;
        dense_backward(g_next, m->grads + d->w_off, m->grads + d->b_off, g, in,
                       m->params + d->w_off, B, d->in, d->out);
        tmp = g, g = g_next, g_next = tmp;
    }
    if (m->n_conv == 0)
        return;
    flatten_backward(g_next, g, m->flat_c, B, m->flat_s);
    tmp = g, g = g_next, g_next = tmp;
    for (int k = m->n_conv - 1; k >= 0; k--) {
        conv_block *b = &m->conv[k];
        long n = (long)B * b->oh * b->ow, np = (long)b->oc * B * b->ph * b->pw;
        act_params a = layer_act(m, b->a_off);
        if (m->dropped)
            dropout_backward(g, g, b->mask, np, m->spec.dropout);
        maxpool_backward(g_next, g, b->argmax, (long)b->oc * B, b->oh, b->ow);
        tmp = g, g = g_next, g_next = tmp;
        act_backward(&a, g, b->a_off >= 0 ? m->grads + b->a_off : NULL, g, b->pre, b->post,
                     b->oc, n);
        conv_backward(k > 0 ? g_next : NULL, m->dcol, m->grads + b->w_off,
                      m->grads + b->b_off, g, b->col, m->params + b->w_off, B, b->ic, b->h,
                      b->w, b->oc);
        tmp = g, g = g_next, g_next = tmp;
    }
}

double model_loss(model *m, const uint8_t *labels, int B, int *correct, int backward_pass)
{
    const dense_block *out = &m->dense[m->n_dense - 1];
    double loss = softmax_xent(backward_pass ? m->grad_a : NULL, correct, out->pre, labels,
                               out->out, B, (float)B);
    if (backward_pass) {
        memset(m->grads, 0, sizeof(float) * (size_t)m->n_params);
        backward(m);
    }
    return loss;
}
