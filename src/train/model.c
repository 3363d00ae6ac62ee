/* model.c: the CNN as a fixed sequence of kernel calls over buffers sized
 * once for max_batch. Forward keeps what backward needs (im2col columns,
 * pre- and post-activation values, pooling winners, dropout masks, and
 * with batch norm each layer's input to it and its batch statistics:
 * model_bn.c). */
#include "train/model.h"
#include "model_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "base/rng.h"
#include "nn/conv.h"
#include "nn/conv_block.h"
#include "nn/dense.h"
#include "nn/dropout.h"
#include "nn/loss.h"
#include "nn/pool.h"

#define NORM_BLOCK 4096         /* gradient squares summed in blocks of this */
#define STAT_LANES 16           /* partial sums of a row of activations */

float *model_alloc_floats(long n)
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

/* Checks the spec against the limits of model_shape.h. */
static int check_spec(const model_spec *s, sw_error *err)
{
    const model_shape *sh = &s->shape;
    int block, bh, bw;
    if ((s->in_c != 1 && s->in_c != 3) || s->in_h < 1 || s->in_w < 1 || s->n_classes < 2)
        return sw_err(err, SW_EINPUT, "model: input must be 1 or 3 channels (got %d) and at "
                      "least 2 classes", s->in_c);
    if (!act_info(s->act) || !init_info(s->init))
        return sw_err(err, SW_EINPUT, "model: unknown activation or initialisation");
    if (sh->n_conv < 0 || sh->n_conv > MODEL_MAX_CONV || sh->n_dense < 0 ||
        sh->n_dense > MODEL_MAX_DENSE)
        return sw_err(err, SW_EINPUT, "model: at most %d conv and %d dense layers",
                      MODEL_MAX_CONV, MODEL_MAX_DENSE);
    for (int k = 0; k < sh->n_conv; k++)
        if (sh->conv[k] < 1 || sh->conv[k] > MODEL_MAX_CHANNELS)
            return sw_err(err, SW_EINPUT, "model: conv block %d has %d channels", k + 1,
                          sh->conv[k]);
    if (!model_shape_fits(sh, s->in_h, s->in_w, &block, &bh, &bw))
        return sw_err(err, SW_EINPUT,
                      "model: conv block %d gets a %dx%d input; a 3x3 conv and a 2x2 pool need "
                      "at least %dx%d", block, bh, bw, model_min_input(model_pad(sh)),
                      model_min_input(model_pad(sh)));
    for (int k = 0; k <= sh->n_dense; k++) {
        int out = k == sh->n_dense ? s->n_classes : sh->dense[k];
        if (out < 1 || out > MODEL_MAX_WIDTH)
            return sw_err(err, SW_EINPUT, "model: dense layer %d has %d units", k + 1, out);
    }
    return SW_OK;
}

/* One layer's gamma and beta, and its share of the moving statistics. */
static void add_bn(model *m, bn_layer *bn, const char *layer, int C)
{
    char name[32];
    snprintf(name, sizeof name, "%s.bn.gamma", layer);
    bn->gamma_off = add_tensor(m, name, C, 0, 0);
    snprintf(name, sizeof name, "%s.bn.beta", layer);
    bn->beta_off = add_tensor(m, name, C, 0, 0);
    m->n_bn += 2L * C;
}

/* Batch norm's tensors come after every other one: the weights' tensor
 * indices (and so their initial values) are the same with and without it. */
static void plan_bn(model *m)
{
    char layer[16];
    for (int k = 0; k < m->n_conv; k++)
        m->conv[k].bn.gamma_off = m->conv[k].bn.beta_off = -1;
    for (int k = 0; k < m->n_dense; k++)
        m->dense[k].bn.gamma_off = m->dense[k].bn.beta_off = -1;
    if (!m->spec.batchnorm)
        return;
    for (int k = 0; k < m->n_conv; k++) {
        snprintf(layer, sizeof layer, "conv%d", k + 1);
        add_bn(m, &m->conv[k].bn, layer, m->conv[k].oc);
    }
    for (int k = 0; k < m->n_dense - 1; k++) {
        snprintf(layer, sizeof layer, "dense%d", k + 1);
        add_bn(m, &m->dense[k].bn, layer, m->dense[k].out);
    }
}

/* Lays out the parameters of a checked spec, and each block's sizes. */
static void plan_layers(model *m)
{
    const model_spec *s = &m->spec;
    char name[32];
    int learned = act_info(s->act)->alpha_grad != NULL;   /* one alpha per channel */
    int c = s->in_c, h = s->in_h, w = s->in_w;
    m->pad = model_pad(&s->shape);
    for (int k = 0; k < s->shape.n_conv; k++) {
        conv_block *b = &m->conv[k];
        b->ic = c;
        b->oc = s->shape.conv[k];
        b->h = h;
        b->w = w;
        b->oh = model_conv_out(h, m->pad);
        b->ow = model_conv_out(w, m->pad);
        b->ph = model_block_out(h, m->pad);
        b->pw = model_block_out(w, m->pad);
        snprintf(name, sizeof name, "conv%d.weight", k + 1);
        b->w_off = add_tensor(m, name, (long)b->oc * c * 9, c * 9, b->oc * 9);
        snprintf(name, sizeof name, "conv%d.bias", k + 1);
        b->b_off = add_tensor(m, name, b->oc, 0, 0);
        b->a_off = -1;
        if (learned) {
            snprintf(name, sizeof name, "conv%d.prelu", k + 1);
            b->a_off = add_tensor(m, name, b->oc, 0, 0);
        }
        c = b->oc;
        h = b->ph;
        w = b->pw;
    }
    m->n_conv = s->shape.n_conv;
    m->flat_c = c;
    m->flat_s = h * w;
    int in = c * h * w;
    for (int k = 0; k <= s->shape.n_dense; k++) {
        dense_block *d = &m->dense[k];
        int last = k == s->shape.n_dense;
        d->in = in;
        d->out = last ? s->n_classes : s->shape.dense[k];
        if (last)
            snprintf(name, sizeof name, "out.weight");
        else
            snprintf(name, sizeof name, "dense%d.weight", k + 1);
        d->w_off = add_tensor(m, name, (long)d->out * in, in, d->out);
        if (last)
            snprintf(name, sizeof name, "out.bias");
        else
            snprintf(name, sizeof name, "dense%d.bias", k + 1);
        d->b_off = add_tensor(m, name, d->out, 0, 0);
        d->a_off = -1;
        if (learned && !last) {
            snprintf(name, sizeof name, "dense%d.prelu", k + 1);
            d->a_off = add_tensor(m, name, d->out, 0, 0);
        }
        in = d->out;
    }
    m->n_dense = s->shape.n_dense + 1;
    plan_bn(m);
}

int model_block_fusable(const model *m, int k)
{
    return k == 0 && m->conv[k].ic * 9 <= CONV_BLOCK_MAX_K;
}

/* Backward needs the full-size activations only at the pooling winners,
 * whose values the pooled tensors keep; so once forward is over, the
 * largest conv output buffer is free, and backward uses it for the
 * gradient of each conv output followed by that layer's dcol. The fused
 * block's post (in training only its scratch) keeps, with batch norm, the
 * winners' conv output at its end, past what the later blocks' backward
 * use of it (when it is the largest) and its scratch reach. */
static void size_fused(model *m, conv_block *b, int is_big, long later_n)
{
    const long np = (long)b->oc * m->max_batch * b->ph * b->pw;
    long head = conv_block_scratch(1, m->max_batch, b->ic, b->oh, b->ow, b->oc,
                                   m->spec.batchnorm);   /* more only for a tiny batch */
    head = is_big && later_n > head ? later_n : head;
    const long tail = m->spec.batchnorm ? np : 0;
    b->post_n = head + tail > b->post_n ? head + tail : b->post_n;
    b->scratch_n = b->post_n - tail;
}

static int alloc_buffers(model *m, sw_error *err)
{
    long B = m->max_batch, flat = (long)m->flat_c * m->flat_s * B;
    long ping = flat, big_n = 1, later_n = 0;
    /* an activation that keeps the sign runs in place: no pre-activation copy */
    int in_place = act_runs_in_place(m->spec.act, m->spec.alpha), big_k = 0;
    for (int k = 0; k < m->n_conv; k++) {
        conv_block *b = &m->conv[k];
        long n = (long)b->oc * B * b->oh * b->ow;
        long need = n + (k > 0 ? conv_col_size((int)B, b->ic, b->h, b->w, m->pad) : 0);
        big_n = need > big_n ? need : big_n;
        later_n = k > 0 && need > later_n ? need : later_n;
        if (n > (long)m->conv[big_k].oc * B * m->conv[big_k].oh * m->conv[big_k].ow)
            big_k = k;
    }
    int ok = (m->params = model_alloc_floats(m->n_params)) &&
             (m->grads = model_alloc_floats(m->n_params));
    for (int k = 0; ok && k < m->n_conv; k++) {
        conv_block *b = &m->conv[k];
        long n = (long)b->oc * B * b->oh * b->ow, np = (long)b->oc * B * b->ph * b->pw;
        ping = np > ping ? np : ping;
        b->post_n = b->scratch_n = k == big_k && big_n > n ? big_n : n;
        if (model_block_fusable(m, k))
            size_fused(m, b, k == big_k, later_n);
        ok = (b->col = model_alloc_floats(conv_col_size((int)B, b->ic, b->h, b->w, m->pad))) &&
             (b->post = model_alloc_floats(b->post_n)) &&
             (b->pre = in_place ? b->post : model_alloc_floats(n)) &&
             (b->pooled = model_alloc_floats(np)) &&
             (in_place || (b->pooled_pre = model_alloc_floats(np))) &&
             (b->argmax = malloc((size_t)np)) && (b->mask = malloc((size_t)np));
    }
    for (int k = 0; ok && k < m->n_dense; k++) {
        dense_block *d = &m->dense[k];
        long n = (long)d->out * B;
        int last = k == m->n_dense - 1;
        ping = n > ping ? n : ping;
        ok = (d->pre = model_alloc_floats(n)) != NULL;
        if (ok && !last)   /* the output layer's pre is the logits; it has no post */
            ok = (d->post = in_place ? d->pre : model_alloc_floats(n)) != NULL;
    }
    m->ping_n = ping;
    ok = ok && (m->flat = model_alloc_floats(flat)) && (m->grad_a = model_alloc_floats(ping)) &&
         (m->grad_b = model_alloc_floats(ping));
    if (ok && m->spec.in_c > 1)
        ok = (m->planes = model_alloc_floats((long)m->spec.in_c * B * m->spec.in_h *
                                             m->spec.in_w)) != NULL;
    m->big = m->n_conv ? m->conv[big_k].post : NULL;
    if (!ok || model_bn_alloc(m) != 0)
        return sw_oom(err, "model");
    return SW_OK;
}

/* Names, sizes and buffers of the activation layers' statistics. */
static int alloc_stats(model *m, sw_error *err)
{
    long blocks = 1;
    int ok = 1;
    m->n_act = 0;
    for (int k = 0; k < m->n_conv + m->n_dense - 1; k++) {
        act_layer *a = &m->act[m->n_act++];
        if (k < m->n_conv) {
            const conv_block *b = &m->conv[k];
            snprintf(a->name, sizeof a->name, "conv%d", k + 1);
            a->C = b->oc;
            a->hw = (long)b->oh * b->ow;
            a->w_off = b->w_off;
            a->w_size = (long)b->oc * b->ic * 9;
        } else {
            const dense_block *d = &m->dense[k - m->n_conv];
            snprintf(a->name, sizeof a->name, "dense%d", k - m->n_conv + 1);
            a->C = d->out;
            a->hw = 1;
            a->w_off = d->w_off;
            a->w_size = (long)d->out * d->in;
        }
        long nb = (a->w_size + NORM_BLOCK - 1) / NORM_BLOCK;
        blocks = nb > blocks ? nb : blocks;
        ok = ok && (a->fired = calloc((size_t)a->C * (size_t)a->hw, 1)) &&
             (a->chan_sum = calloc((size_t)a->C, sizeof(double)));
    }
    ok = ok && (m->norm_part = calloc((size_t)blocks, sizeof(double)));
    if (!ok)
        return sw_oom(err, "model");
    return SW_OK;
}

int model_create(model **out, const model_spec *spec, int max_batch, sw_error *err)
{
    *out = NULL;
    if (max_batch < 1)
        return sw_err(err, SW_EINPUT, "model: batch size must be positive");
    model *m = calloc(1, sizeof *m);
    if (!m)
        return sw_oom(err, "model");
    m->spec = *spec;
    m->max_batch = max_batch;
    int rc = check_spec(spec, err);
    if (rc == SW_OK) {
        plan_layers(m);
        rc = alloc_buffers(m, err);
    }
    if (rc == SW_OK)
        rc = alloc_stats(m, err);
    if (rc != SW_OK) {
        model_free(m);
        return rc;
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
        if (b->pre != b->post)
            free(b->pre);
        free(b->post);
        free(b->pooled);
        free(b->pooled_pre);
        free(b->argmax);
        free(b->mask);
        if (b->bn.x != b->pre)   /* (else it is pre; bn.xw lies in post) */
            free(b->bn.x);
        free(b->bn.moments);
    }
    for (int k = 0; k < m->n_dense; k++) {
        free(m->dense[k].bn.x);
        if (m->dense[k].post != m->dense[k].pre)
            free(m->dense[k].post);
        free(m->dense[k].pre);
    }
    for (int k = 0; k < m->n_act; k++) {
        free(m->act[k].fired);
        free(m->act[k].chan_sum);
    }
    free(m->norm_part);
    free(m->planes);
    free(m->bn_state);
    free(m->bn_saved);
    free(m->flat);
    free(m->grad_a);
    free(m->grad_b);
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
        if (strstr(mt->name, ".prelu")) {
            for (long i = 0; i < mt->size; i++)
                p[i] = m->spec.alpha;
        } else if (strstr(mt->name, ".bn.gamma")) {
            for (long i = 0; i < mt->size; i++)
                p[i] = 1.0f;
        } else if (mt->fan_in > 0) {
            init_fill(m->spec.init, p, mt->size, mt->fan_in, mt->fan_out, seed,
                      RNG_INIT + (uint64_t)t);
        }
        /* biases and batch norm's beta stay zero */
    }
    model_bn_reset(m);
}

static act_params layer_act(const model *m, long a_off)
{
    act_params a = {m->spec.act, m->spec.alpha, NULL};
    if (a_off >= 0)
        a.prelu_alpha = m->params + a_off;
    return a;
}

/* x (B, C, HW), one image after another, into out (C, B, HW): whole planes
 * of HW floats moved, each by one thread. */
static void to_planes(float *out, const float *x, int B, int C, long HW)
{
#pragma omp parallel for schedule(static) if ((long)B * C * HW > 65536)
    for (long i = 0; i < (long)C * B; i++) {
        long c = i / B, b = i % B;
        memcpy(out + i * HW, x + (b * C + c) * HW, sizeof(float) * (size_t)HW);
    }
}

/* model_block_fusable, with its post (read only by evaluation's
 * statistics) big enough for one thread's scratch (alloc_buffers sees to
 * it): the same answer in forward and backward. */
static int block_fused(const model *m, int k, int B)
{
    const conv_block *b = &m->conv[k];
    return model_block_fusable(m, k) &&
           conv_block_workers(b->scratch_n, B, b->ic, b->oh, b->ow, b->oc, m->spec.batchnorm) > 0;
}

static int pool_with_stats(model *m, int k, const act_params *a, const float *y, int B);

/* Conv block k's conv, batch norm, activation and pooling; returns 1 when
 * it ran fused, which does the dropout (if any) into grad_b too. */
static int block_forward(model *m, int k, const float *in, int B, int training, uint64_t seed,
                         uint64_t step)
{
    conv_block *b = &m->conv[k];
    long n = (long)B * b->oh * b->ow;
    act_params a = layer_act(m, b->a_off);
    if (training && block_fused(m, k, B)) {
        conv_block_dropout d = {m->grad_b, b->mask, m->spec.dropout, seed,
                                RNG_DROPOUT + (uint64_t)k, step};
        conv_block_bn bn;
        conv_block_forward(&a, model_bn_block(m, b, &bn), b->col, b->pooled, b->argmax,
                           b->pooled_pre, m->dropped ? &d : NULL, b->post, b->scratch_n, in,
                           m->params + b->w_off, m->params + b->b_off, B, b->ic, b->h, b->w,
                           b->oc, m->pad);
        return 1;
    }
    conv_forward(b->bn.x ? b->bn.x : b->pre, b->col, in, m->params + b->w_off,
                 m->params + b->b_off, B, b->ic, b->h, b->w, b->oc, m->pad);
    /* batch norm's x kept in pre (model_bn_alloc): y in big, free until backward */
    float *y = training && b->bn.x == b->pre ? m->big : b->pre;
    float *post = b->post == b->pre ? y : b->post;
    model_bn_forward(m, &b->bn, y, b->oc, n, training);
    if (training && act_pools_first(a.kind, a.alpha)) {
        /* f on the winners only (act_pool_order); post is left to evaluation;
         * run in place, pooled is made from the winners where it lies */
        act_pool_first_forward(&a, y, b->pooled, b->argmax,
                               b->pooled_pre ? b->pooled_pre : b->pooled, b->oc, B, b->oh, b->ow);
    } else if (training || !m->collecting || !pool_with_stats(m, k, &a, y, B)) {
        /* pooled_pre serves backward only */
        act_maxpool_forward(&a, post, y, b->pooled, b->argmax, training ? b->pooled_pre : NULL,
                            b->oc, B, b->oh, b->ow);
    }
    return 0;
}

void model_forward(model *m, const float *x, int B, int training, uint64_t seed,
                   uint64_t step)
{
    const float *in = x;
    if (m->planes) {
        to_planes(m->planes, x, B, m->spec.in_c, (long)m->spec.in_h * m->spec.in_w);
        in = m->planes;
    }
    m->input = x;
    m->batch = B;
    m->dropped = training && m->spec.dropout > 0;
    for (int k = 0; k < m->n_conv; k++) {
        conv_block *b = &m->conv[k];
        long np = (long)b->oc * B * b->ph * b->pw;
        int dropped = block_forward(m, k, in, B, training, seed, step);
        in = b->pooled;
        if (m->dropped) {
            /* pooled stays as backward needs it; the next layer copies its
             * input (conv into its col, flatten into flat), so the dropped
             * values only pass through grad_b, free until backward */
            if (!dropped)
                dropout_forward(m->grad_b, b->mask, b->pooled, np, m->spec.dropout, seed,
                                RNG_DROPOUT + (uint64_t)k, step);
            in = m->grad_b;
        }
    }
    flatten_forward(m->flat, in, m->flat_c, B, m->flat_s);
    in = m->flat;
    for (int k = 0; k < m->n_dense; k++) {
        dense_block *d = &m->dense[k];
        dense_forward(d->bn.x ? d->bn.x : d->pre, in, m->params + d->w_off,
                      m->params + d->b_off, B, d->in, d->out);
        if (k == m->n_dense - 1)
            break;
        model_bn_forward(m, &d->bn, d->pre, d->out, B, training);
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
            model_bn_backward(m, &d->bn, g, d->out, B);
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
        float *g_out = m->big, *dcol = m->big + n * b->oc;   /* see alloc_buffers */
        if (m->dropped)
            dropout_backward(g, g, b->mask, np, m->spec.dropout);
        /* the activation's derivative is needed at the pooling winners
         * only (elsewhere the gradient is zero): pooled_pre keeps x or f' */
        act_backward_winners(&a, g, b->a_off >= 0 ? m->grads + b->a_off : NULL, g,
                             b->pooled_pre ? b->pooled_pre : b->pooled, b->pooled, b->oc,
                             (long)B * b->ph * b->pw);
        if (block_fused(m, k, B)) {
            conv_block_bn bn;
            conv_block_backward(m->grads + b->w_off, m->grads + b->b_off, model_bn_block(m, b, &bn),
                                b->post, b->scratch_n, g, b->argmax, b->col, m->params + b->w_off,
                                B, b->ic, b->h, b->w, b->oc, m->pad);
            tmp = g, g = g_next, g_next = tmp;
            continue;
        }
        if (b->bn.x)
            model_bn_pool_backward(m, b, g_out, g, B);
        else
            maxpool_backward(g_out, g, b->argmax, (long)b->oc * B, b->oh, b->ow);
        conv_backward(k > 0 ? g_next : NULL, dcol, m->grads + b->w_off, m->grads + b->b_off,
                      g_out, b->col, m->params + b->w_off, B, b->ic, b->h, b->w, b->oc,
                      m->pad);
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

/* ---------------------------------------------------------------------- */
/* Looking inside: activation statistics.                                 */

int model_num_act_layers(const model *m) { return m->n_act; }

void model_stats_reset(model *m)
{
    for (int k = 0; k < m->n_act; k++) {
        act_layer *a = &m->act[k];
        memset(a->fired, 0, (size_t)a->C * (size_t)a->hw);
        a->act_sum = a->act_count = a->grad_sum = 0;
        a->grad_batches = 0;
    }
}

/* The output of activation layer k of the last forward, (C, B, hw); its
 * input, the same for a layer that ran in place (pre is post). */
static const float *act_output(const model *m, int k)
{
    return k < m->n_conv ? m->conv[k].post : m->dense[k - m->n_conv].post;
}

static const float *act_input(const model *m, int k)
{
    return k < m->n_conv ? m->conv[k].pre : m->dense[k - m->n_conv].pre;
}

/* Dead units (model.h): a unit is live for an image when |f'(x)| >=
 * DEAD_SLOPE at its input x. Where that holds is an interval (lo, hi) of x
 * (x on a saturated tail gives less), which for an activation run in place
 * (its input overwritten) is tested on y = f(x) instead, f being increasing
 * there. The tails' ends, solved in double for |f'| = 1e-3: */
#define DEAD_SLOPE 1e-3
#define SELU_LIVE_LO -7.4719885845251985f      /* ln(1e-3 / (scale alpha)) */
#define GELU_LIVE_LO -3.8103714360016436f
#define SILU_LIVE_LO -8.985061564075503f
#define MISH_LIVE_LO -8.985213726840746f
#define TANH_LIVE -4.146774726248986f          /* and its negation */
#define SOFTPLUS_LIVE_LO -6.906754778648553f   /* ln(1e-3 / (1 - 1e-3)) */

/* Channel c's live interval for the values src holds (on_post: y, else x). */
static void live_range(const model *m, int k, int c, int on_post, float *lo, float *hi)
{
    const act_kind kind = m->spec.act;
    const float a = m->spec.alpha;
    *lo = -INFINITY;
    *hi = INFINITY;
    switch (kind) {
    case ACT_RELU: *lo = 0.0f; break;
    case ACT_ELU:   /* a e^x on the left; x > ln(1e-3/a), y > a (e^that - 1) */
        if (a <= DEAD_SLOPE)
            *lo = 0.0f;
        else
            *lo = on_post ? (float)(a * expm1(log(DEAD_SLOPE / a))) : (float)log(DEAD_SLOPE / a);
        break;
    case ACT_LEAKY_RELU:   /* slope a on the left; y > 0 exactly when x > 0 */
        if (fabsf(a) < DEAD_SLOPE)
            *lo = 0.0f;
        break;
    case ACT_PRELU: {      /* the channel's learned slope; never in place */
        long off = k < m->n_conv ? m->conv[k].a_off : m->dense[k - m->n_conv].a_off;
        if (off >= 0 && fabsf(m->params[off + c]) < DEAD_SLOPE)
            *lo = 0.0f;
        break;
    }
    case ACT_SELU: *lo = SELU_LIVE_LO; break;
    case ACT_GELU: *lo = GELU_LIVE_LO; break;
    case ACT_SILU: *lo = SILU_LIVE_LO; break;
    case ACT_MISH: *lo = MISH_LIVE_LO; break;
    case ACT_TANH: *lo = TANH_LIVE, *hi = -TANH_LIVE; break;
    case ACT_SOFTPLUS: *lo = SOFTPLUS_LIVE_LO; break;
    case ACT_COUNT: break;
    }
}

/* Lanes [i % STAT_LANES] += q[i] and fired[i] = 1 where lo < x[i] <= hi,
 * for i from 0 while a whole vector fits; returns where it stopped. In
 * AVX-512 intrinsics: gcc 12 scalarises the generic vector version (its
 * comparisons feed a byte store), and at the baseline's four lanes this
 * pass was a tenth of a validation epoch. */
#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx512f,avx512bw,avx512vl"))) static long
stats_vectors_v4(float *lane, uint8_t *fired, const float *q, const float *x, long hw, float lo,
                 float hi)
{
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    const __m128i one = _mm_set1_epi8(1);
    __m512 acc = _mm512_loadu_ps(lane);
    long i = 0;
    for (; i + STAT_LANES <= hw; i += STAT_LANES) {
        const __m512 xv = _mm512_loadu_ps(x + i);
        acc = _mm512_add_ps(acc, _mm512_loadu_ps(q + i));
        _mm_mask_storeu_epi8(fired + i, _mm512_cmp_ps_mask(xv, vlo, _CMP_GT_OQ) &
                                            _mm512_cmp_ps_mask(xv, vhi, _CMP_LE_OQ), one);
    }
    _mm512_storeu_ps(lane, acc);
    return i;
}
#endif

/* One channel of one layer, images in order: the sum of their outputs
 * added to *s (each image's row in STAT_LANES float lanes by position; the
 * lanes in order into a double, the rows one by one into *s), and its
 * units that were live. */
static void channel_stats(double *s, const float *post, const float *src, uint8_t *fired, int B,
                          long hw, float lo, float hi)
{
#if defined(__x86_64__) || defined(__i386__)
    /* (feature names clang knows too: the fuzz build compiles this file) */
    const int v4 = STAT_LANES == 16 && __builtin_cpu_supports("avx512f") &&
                   __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
#else
    const int v4 = 0;
#endif
    for (int b = 0; b < B; b++) {
        const float *q = post + (long)b * hw, *x = src + (long)b * hw;
        float lane[STAT_LANES] = {0};
        long i = 0;
#if defined(__x86_64__) || defined(__i386__)
        if (v4)
            i = stats_vectors_v4(lane, fired, q, x, hw, lo, hi);
#endif
        for (; i + STAT_LANES <= hw; i += STAT_LANES)
            for (int j = 0; j < STAT_LANES; j++) {
                lane[j] += q[i + j];
                fired[i + j] |= x[i + j] > lo && x[i + j] <= hi;
            }
        for (; i < hw; i++) {
            lane[i % STAT_LANES] += q[i];
            fired[i] |= x[i] > lo && x[i] <= hi;
        }
        double row = 0;   /* lanes past hw hold +0, which adds nothing */
        for (int j = 0; j < STAT_LANES && j < hw; j++)
            row += lane[j];
        *s += row;
    }
}

/* The channels' sums into layer k's, in channel order. */
static void add_channel_sums(act_layer *a, int B)
{
    for (int c = 0; c < a->C; c++)
        a->act_sum += a->chan_sum[c];
    a->act_count += (double)a->C * (double)B * (double)a->hw;
}

static void stats_add_layer(model *m, int k)
{
    const int B = m->batch;
    act_layer *a = &m->act[k];
    const float *post = act_output(m, k), *src = act_input(m, k);
    const int on_post = src == post;   /* ran in place: only y is left */
    const long hw = a->hw;
    /* one thread per channel */
#pragma omp parallel for schedule(static) if ((long)a->C * B * hw > 65536)
    for (int c = 0; c < a->C; c++) {
        float lo, hi;
        live_range(m, k, c, on_post, &lo, &hi);
        a->chan_sum[c] = 0;
        channel_stats(&a->chan_sum[c], post + (long)c * B * hw, src + (long)c * B * hw,
                      a->fired + (long)c * hw, B, hw, lo, hi);
    }
    add_channel_sums(a, B);
}

void model_stats_add_forward(model *m)
{
    for (int k = 0; k < m->n_act; k++)
        stats_add_layer(m, k);
}

/* Evaluation's activation and pooling of conv block k, y its input, with
 * the layer's statistics taken on the way: per channel (one thread each),
 * POOL_PLANES images at a time through a thread's slice of grad_a (free in
 * evaluation), where f, the pooling and the statistics read them in cache
 * instead of post going to memory and back. The same bits as
 * act_maxpool_forward, then stats_add_layer (the rows in the same order,
 * the live test on y where that ran in place). Returns 0, doing nothing,
 * when grad_a has too little room for the threads. */
enum { POOL_PLANES = 16 };

static int pool_with_stats(model *m, int k, const act_params *a, const float *y, int B)
{
    conv_block *b = &m->conv[k];
    act_layer *al = &m->act[k];
    const long hw = (long)b->oh * b->ow, osz = (long)b->ph * b->pw;
    const long slice = POOL_PLANES * hw;
    const int on_post = b->post == b->pre;
#ifdef _OPENMP
    const int team = omp_get_max_threads() < b->oc ? omp_get_max_threads() : b->oc;
#else
    const int team = 1;
#endif
    if ((long)team * slice > m->ping_n)
        return 0;
#pragma omp parallel for schedule(static) num_threads(team)
    for (int c = 0; c < b->oc; c++) {
#ifdef _OPENMP
        float *post = m->grad_a + (long)omp_get_thread_num() * slice;
#else
        float *post = m->grad_a;
#endif
        float lo, hi;
        live_range(m, k, c, on_post, &lo, &hi);
        al->chan_sum[c] = 0;
        for (int b0 = 0; b0 < B; b0 += POOL_PLANES) {
            const int nb = B - b0 < POOL_PLANES ? B - b0 : POOL_PLANES;
            const long p0 = (long)c * B + b0;
            const float *x = y + p0 * hw;
            act_maxpool_planes(a, post, x, b->pooled + p0 * osz, b->argmax + p0 * osz, NULL, p0,
                               nb, B, b->oh, b->ow);
            channel_stats(&al->chan_sum[c], post, on_post ? post : x, al->fired + (long)c * hw,
                          nb, hw, lo, hi);
        }
    }
    add_channel_sums(al, B);
    al->collected = 1;
    return 1;
}

void model_forward_stats(model *m, const float *x, int B)
{
    for (int k = 0; k < m->n_act; k++)
        m->act[k].collected = 0;
    m->collecting = 1;
    model_forward(m, x, B, 0, 0, 0);
    m->collecting = 0;
    for (int k = 0; k < m->n_act; k++)
        if (!m->act[k].collected)
            stats_add_layer(m, k);
}

void model_stats_add_grads(model *m)
{
    for (int k = 0; k < m->n_act; k++) {
        act_layer *a = &m->act[k];
        const float *g = m->grads + a->w_off;
        long size = a->w_size, blocks = (size + NORM_BLOCK - 1) / NORM_BLOCK;
        double *part = m->norm_part;
        /* fixed blocks, each summed in index order by one thread */
#pragma omp parallel for schedule(static) if (blocks > 4)
        for (long blk = 0; blk < blocks; blk++) {
            long from = blk * NORM_BLOCK, to = from + NORM_BLOCK < size ? from + NORM_BLOCK : size;
            double lane[STAT_LANES] = {0}, s = 0;   /* i in lane i % STAT_LANES */
            long i = from;
            for (; i + STAT_LANES <= to; i += STAT_LANES)
                for (int j = 0; j < STAT_LANES; j++)
                    lane[j] += (double)g[i + j] * (double)g[i + j];
            for (; i < to; i++)
                lane[(i - from) % STAT_LANES] += (double)g[i] * (double)g[i];
            for (int j = 0; j < STAT_LANES; j++)
                s += lane[j];
            part[blk] = s;
        }
        double total = 0;
        for (long blk = 0; blk < blocks; blk++)
            total += part[blk];
        a->grad_sum += sqrt(total);
        a->grad_batches++;
    }
}

void model_stats_read(const model *m, layer_stat *out)
{
    for (int k = 0; k < m->n_act; k++) {
        const act_layer *a = &m->act[k];
        long units = (long)a->C * a->hw, dead = 0;
        for (long i = 0; i < units; i++)
            dead += !a->fired[i];
        snprintf(out[k].layer, sizeof out[k].layer, "%s", a->name);
        out[k].mean_activation = a->act_count > 0 ? a->act_sum / a->act_count : NAN;
        out[k].dead_fraction = a->act_count > 0 ? (double)dead / (double)units : NAN;
        out[k].grad_norm = a->grad_batches > 0 ? a->grad_sum / (double)a->grad_batches : NAN;
    }
}
