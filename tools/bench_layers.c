/* bench_layers.c: `bench layers`, the time of each layer of a training
 * step (see bench.c's usage and BENCHMARKS.md). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "base/rng.h"
#include "bench.h"
#include "data/dataset.h"
#include "nn/batchnorm.h"
#include "nn/conv.h"
#include "nn/conv_block.h"
#include "nn/dense.h"
#include "nn/dropout.h"
#include "nn/loss.h"
#include "nn/pool.h"
#include "train/model.h"
#include "train/optim.h"

/* ---------------------------------------------------------------------------
 * Per layer: the kernels of one training step called one at a time, in
 * model.c's order, on buffers of the model's shapes, each call timed.
 * The first conv block runs fused as in model.c (conv_block.h): one row
 * "conv1.block" for its conv, batch norm (if any), activation, pool and
 * dropout (forward) and its pool's, batch norm's and conv's backward,
 * "conv1.act" for the activation's derivative at the winners,
 * "conv1.dropout" for the dropout's backward.
 * Two differences from model.c, both said in BENCHMARKS.md: with batch norm
 * a later conv block's pool and batch norm backward run as the public
 * kernels (maxpool_backward, then bn_backward) where model.c fuses them
 * into one pass per channel; and every block has its own buffers where
 * model.c reuses some.
 *
 * Bytes per kernel: every tensor of the whole batch it reads counted once,
 * and every one it writes once (4 bytes a float, 1 a mask or argmax byte);
 * re-reads inside a kernel, and the L2-sized im2col chunks, not counted.
 * So it is the traffic of a kernel that streams each operand once. */

enum { MAX_ROWS = 6 * (MODEL_MAX_CONV + MODEL_MAX_DENSE + 1) + 4 };

typedef struct {
    char name[32];
    double s[2];       /* seconds over the timed steps: forward, backward */
    double flop[2];    /* per step; 0: not a GEMM */
    double bytes[2];   /* per step, estimated as above; < 0: no kernel */
} lrow;

typedef struct {
    int ic, oc, h, w, oh, ow, ph, pw;
    long n, np, nin;   /* conv output, pooled, input floats (whole batch) */
    const float *wt, *bias, *gamma, *beta;
    float *dw, *db, *dgamma, *dbeta, *dalpha;
    act_params a;
    float *col, *dcol, *bn_x, *bn_xw, *pre, *post, *pooled, *pooled_pre, *dropped, *g_out;
    double *bn_moments;
    float *saved, *moving;
    uint8_t *argmax, *mask;
    long post_n;       /* floats of post: also the fused block's scratch */
    int fused;         /* run as conv_block.h */
    int r_conv, r_bn, r_act, r_pool, r_drop;
} lconv;

typedef struct {
    int in, out;
    const float *wt, *bias, *gamma, *beta;
    float *dw, *db, *dgamma, *dbeta, *dalpha;
    act_params a;
    float *bn_x, *pre, *post, *saved, *moving;
    int r_dense, r_bn, r_act;
} ldense;

typedef struct {
    model *m;
    int B, nc, nd, bn, in_place, pad, in_c, flat_c, flat_s;
    long in_hw;
    float dropout;
    lconv c[MODEL_MAX_CONV];
    ldense d[MODEL_MAX_DENSE + 1];
    float *planes, *flat, *ga, *gb;
    int r_input, r_flat, r_zero, r_opt;
    optimizer opt;
    int n_rows;
    lrow rows[MAX_ROWS];
} lnet;

#define F4 4.0   /* bytes of a float */
#define TIMED(L, row, dir, call)                               \
    do {                                                       \
        double t0_ = now_seconds();                            \
        call;                                                  \
        (L)->rows[row].s[dir] += now_seconds() - t0_;          \
    } while (0)

static float *fbuf(long n)
{
    size_t bytes = ((size_t)(n > 0 ? n : 1) * sizeof(float) + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes);
    if (!p)
        die("out of memory");
    memset(p, 0, bytes);
    return p;
}

static uint8_t *bbuf(long n)
{
    uint8_t *p = calloc((size_t)(n > 0 ? n : 1), 1);
    if (!p)
        die("out of memory");
    return p;
}

/* The tensor layer.what of m inside base (params or grads); NULL if none. */
static float *tensor_in(model *m, float *base, const char *layer, const char *what)
{
    char name[40];
    snprintf(name, sizeof name, "%s.%s", layer, what);
    for (int i = 0; i < model_num_tensors(m); i++)
        if (!strcmp(model_tensor_at(m, i)->name, name))
            return base + model_tensor_at(m, i)->offset;
    return NULL;
}

static int add_row(lnet *L, const char *name, const double flop[2], const double bytes[2])
{
    if (L->n_rows >= MAX_ROWS)
        die("too many layers for the per-layer table");
    lrow *r = &L->rows[L->n_rows];
    snprintf(r->name, sizeof r->name, "%s", name);
    r->s[0] = r->s[1] = 0;
    for (int i = 0; i < 2; i++) {
        r->flop[i] = flop ? flop[i] : 0;
        r->bytes[i] = bytes[i];
    }
    return L->n_rows++;
}

/* Row name "layer.part" ("conv1.bn"); part NULL: the layer alone. */
static int add_named(lnet *L, const char *layer, const char *part, const double flop[2],
                     double fwd_bytes, double bwd_bytes)
{
    char name[32];
    snprintf(name, sizeof name, "%.15s%s%.15s", layer, part ? "." : "", part ? part : "");
    return add_row(L, name, flop, (double[2]){fwd_bytes, bwd_bytes});
}

/* Weights, gradients and activation parameters of a layer from the model. */
static void layer_params(lnet *L, const char *layer, const float **wt, const float **bias,
                         float **dw, float **db, act_params *a)
{
    model *m = L->m;
    const model_spec *s = model_get_spec(m);
    *wt = tensor_in(m, model_params(m), layer, "weight");
    *bias = tensor_in(m, model_params(m), layer, "bias");
    *dw = tensor_in(m, model_grads(m), layer, "weight");
    *db = tensor_in(m, model_grads(m), layer, "bias");
    *a = (act_params){s->act, s->alpha, tensor_in(m, model_params(m), layer, "prelu")};
    if (!*wt || !*bias)
        die("the model has no tensors for a layer of the per-layer table");
}

static void plan_conv_bufs(lnet *L, lconv *c)
{
    const int B = L->B;
    c->col = fbuf(conv_col_size(B, c->ic, c->h, c->w, L->pad));
    c->dcol = fbuf(conv_col_size(B, c->ic, c->h, c->w, L->pad));
    c->post_n = c->n;
    if (c->fused) {
        long one = conv_block_scratch(1, B, c->ic, c->oh, c->ow, c->oc, L->bn);
        c->post_n = one > c->n ? one : c->n;
    }
    c->post = fbuf(c->post_n);
    c->pre = L->in_place ? c->post : fbuf(c->n);
    c->bn_x = L->bn && !c->fused ? fbuf(c->n) : NULL;
    c->bn_xw = L->bn && c->fused ? fbuf(c->np) : NULL;
    c->bn_moments = c->bn_xw ? (double *)(void *)fbuf(2 * conv_block_bn_moments(c->ic)) : NULL;
    c->pooled = fbuf(c->np);
    c->pooled_pre = L->in_place ? NULL : fbuf(c->np);
    c->dropped = fbuf(c->np);
    c->g_out = fbuf(c->n);
    c->saved = fbuf(2L * c->oc);
    c->moving = fbuf(2L * c->oc);
    for (int i = 0; i < c->oc; i++)
        c->moving[c->oc + i] = 1;
    c->argmax = bbuf(c->np);
    c->mask = bbuf(c->np);
}

/* Conv block k on c x h x w inputs: its sizes, buffers and rows. */
static void plan_conv(lnet *L, int k, int c_in, int h, int w)
{
    lconv *c = &L->c[k];
    const model_spec *s = model_get_spec(L->m);
    char layer[16];
    snprintf(layer, sizeof layer, "conv%d", k + 1);
    *c = (lconv){.ic = c_in, .oc = s->shape.conv[k], .h = h, .w = w};
    c->oh = model_conv_out(h, L->pad);
    c->ow = model_conv_out(w, L->pad);
    c->ph = model_block_out(h, L->pad);
    c->pw = model_block_out(w, L->pad);
    c->n = (long)c->oc * L->B * c->oh * c->ow;
    c->np = (long)c->oc * L->B * c->ph * c->pw;
    c->nin = (long)c->ic * L->B * h * w;
    layer_params(L, layer, &c->wt, &c->bias, &c->dw, &c->db, &c->a);
    c->dalpha = tensor_in(L->m, model_grads(L->m), layer, "prelu");
    c->gamma = tensor_in(L->m, model_params(L->m), layer, "bn.gamma");
    c->beta = tensor_in(L->m, model_params(L->m), layer, "bn.beta");
    c->dgamma = tensor_in(L->m, model_grads(L->m), layer, "bn.gamma");
    c->dbeta = tensor_in(L->m, model_grads(L->m), layer, "bn.beta");
    c->fused = k == 0 && c->ic * 9 <= CONV_BLOCK_MAX_K;
    plan_conv_bufs(L, c);

    const long saved = (long)c->ic * L->B * (h + 2 * L->pad) * (w + 2 * L->pad);
    const double wsz = (double)c->oc * c->ic * 9, n = (double)c->n, np = (double)c->np;
    const double fwd = 2.0 * wsz * c->oh * c->ow * L->B;
    const int pp = c->pooled_pre != NULL;
    if (c->fused) {
        /* forward: the input in, its saved copy, the pool's outputs; backward:
         * the pooled gradient, argmax and the saved input in, dW and db. With
         * batch norm: the saved input read once more, and the conv done
         * again, in each; the winners' x written, then read back */
        const int dr = L->dropout > 0, bn = L->bn;   /* the dropout's output and mask too */
        c->r_conv = add_named(L, layer, "block", (double[2]){fwd * (1 + bn), fwd * (1 + bn)},
                              F4 * (c->nin + saved * (1 + bn) + wsz + c->oc +
                                    np * (1 + pp + dr + bn)) +
                                  np * (1 + dr),
                              F4 * (np * (1 + bn) + saved + 2 * (wsz + c->oc)) + np);
        c->r_bn = c->r_pool = -1;
        c->r_act = add_named(L, layer, "act", NULL, -1, F4 * np * (3 + pp));
        c->r_drop = dr ? add_named(L, layer, "dropout", NULL, -1, F4 * 2 * np + np) : -1;
        return;
    }
    c->r_conv = add_named(L, layer, NULL, (double[2]){fwd, k > 0 ? 2 * fwd : fwd},
                          F4 * (c->nin + saved + wsz + c->oc + n),
                          F4 * ((k > 0 ? 2 : 1) * n + saved + 2 * wsz + (k > 0 ? wsz + c->nin : 0)));
    c->r_bn = L->bn ? add_named(L, layer, "bn", NULL, F4 * 2 * n, F4 * 3 * n) : -1;
    /* forward: activation and pooling fused; backward: the activation's
     * derivative at the winners only, then the pooling's */
    c->r_act = add_named(L, layer, "act+pool", NULL, F4 * (2 * n + np * (1 + pp)) + np,
                         F4 * np * (3 + pp));
    c->r_pool = add_named(L, layer, "pool", NULL, -1, F4 * (np + n) + np);
    c->r_drop = L->dropout > 0 ? add_named(L, layer, "dropout", NULL, F4 * 2 * np + np,
                                           F4 * 2 * np + np)
                               : -1;
}

/* Dense layer k (the last is the output layer) on `in` inputs. */
static void plan_dense(lnet *L, int k, int in)
{
    ldense *d = &L->d[k];
    const model_spec *s = model_get_spec(L->m);
    const int last = k == L->nd - 1, B = L->B;
    char layer[16];
    if (last)
        snprintf(layer, sizeof layer, "out");
    else
        snprintf(layer, sizeof layer, "dense%d", k + 1);
    *d = (ldense){.in = in, .out = last ? s->n_classes : s->shape.dense[k]};
    layer_params(L, layer, &d->wt, &d->bias, &d->dw, &d->db, &d->a);
    d->dalpha = tensor_in(L->m, model_grads(L->m), layer, "prelu");
    d->gamma = tensor_in(L->m, model_params(L->m), layer, "bn.gamma");
    d->beta = tensor_in(L->m, model_params(L->m), layer, "bn.beta");
    d->dgamma = tensor_in(L->m, model_grads(L->m), layer, "bn.gamma");
    d->dbeta = tensor_in(L->m, model_grads(L->m), layer, "bn.beta");
    const long n = (long)d->out * B;
    d->pre = fbuf(n);
    d->post = last ? NULL : L->in_place ? d->pre : fbuf(n);
    d->bn_x = L->bn && !last ? fbuf(n) : NULL;
    d->saved = fbuf(2L * d->out);
    d->moving = fbuf(2L * d->out);
    for (int i = 0; i < d->out; i++)
        d->moving[d->out + i] = 1;

    const double wsz = (double)d->out * in, fwd = 2.0 * wsz * B;
    const double x = (double)in * B, y = (double)n;
    /* the output layer's row carries softmax cross-entropy (logits in,
     * their gradient out) in its forward time */
    d->r_dense = add_named(L, last ? "out+loss" : layer, NULL, (double[2]){fwd, 2 * fwd},
                           F4 * (x + wsz + d->out + y + (last ? 2 * y : 0)),
                           F4 * (y + x + wsz + 2 * wsz + x));
    d->r_bn = d->bn_x ? add_named(L, layer, "bn", NULL, F4 * 2 * y, F4 * 3 * y) : -1;
    d->r_act = last ? -1 : add_named(L, layer, "act", NULL, F4 * 2 * y, F4 * 4 * y);
}

/* The layers of m (created for batch B), in forward order. */
static void lnet_plan(lnet *L, model *m, int B)
{
    const model_spec *s = model_get_spec(m);
    memset(L, 0, sizeof *L);
    L->m = m;
    L->B = B;
    L->nc = s->shape.n_conv;
    L->nd = s->shape.n_dense + 1;
    L->bn = s->batchnorm;
    L->in_place = act_runs_in_place(s->act, s->alpha);
    L->pad = model_pad(&s->shape);
    L->dropout = s->dropout;
    L->in_c = s->in_c;
    L->in_hw = (long)s->in_h * s->in_w;
    const double pixels = (double)B * s->in_c * L->in_hw;
    L->r_input = s->in_c > 1 ? add_row(L, "input_planes", NULL, (double[2]){F4 * 2 * pixels, -1})
                             : -1;
    if (L->r_input >= 0)
        L->planes = fbuf((long)pixels);
    int c = s->in_c, h = s->in_h, w = s->in_w;
    long ping = 1;
    for (int k = 0; k < L->nc; k++) {
        plan_conv(L, k, c, h, w);
        c = L->c[k].oc;
        h = L->c[k].ph;
        w = L->c[k].pw;
        ping = L->c[k].np > ping ? L->c[k].np : ping;
    }
    L->flat_c = c;
    L->flat_s = h * w;
    const double flat = (double)c * h * w * B;
    L->flat = fbuf((long)flat);
    L->r_flat = add_row(L, "flatten", NULL, (double[2]){F4 * 2 * flat, F4 * 2 * flat});
    ping = (long)flat > ping ? (long)flat : ping;
    for (int k = 0, in = c * h * w; k < L->nd; in = L->d[k].out, k++) {
        plan_dense(L, k, in);
        ping = (long)L->d[k].out * B > ping ? (long)L->d[k].out * B : ping;
    }
    L->ga = fbuf(ping);
    L->gb = fbuf(ping);
    const double P = (double)model_num_params(m);
    L->r_zero = add_row(L, "zero_grads", NULL, (double[2]){-1, F4 * P});
    L->r_opt = add_row(L, "adam_step", NULL, (double[2]){-1, F4 * 7 * P});
}

/* Conv block c's conv, batch norm, activation and pooling, unfused. */
static void lconv_conv_pool(lnet *L, lconv *c, const float *in)
{
    const int B = L->B;
    const long n = (long)B * c->oh * c->ow;
    TIMED(L, c->r_conv, 0,
          conv_forward(c->bn_x ? c->bn_x : c->pre, c->col, in, c->wt, c->bias, B, c->ic, c->h,
                       c->w, c->oc, L->pad));
    if (c->bn_x)
        TIMED(L, c->r_bn, 0,
              bn_forward_train(c->pre, c->saved, c->moving, c->moving + c->oc, c->bn_x,
                               c->gamma, c->beta, c->oc, n, BN_MOMENTUM, BN_EPSILON));
    if (act_pools_first(c->a.kind, c->a.alpha))
        TIMED(L, c->r_act, 0,
              act_pool_first_forward(&c->a, c->pre, c->pooled, c->argmax,
                                     c->pooled_pre ? c->pooled_pre : c->pooled, c->oc, B, c->oh,
                                     c->ow));
    else
        TIMED(L, c->r_act, 0,
              act_maxpool_forward(&c->a, c->post, c->pre, c->pooled, c->argmax, c->pooled_pre,
                                  c->oc, B, c->oh, c->ow));
}

/* The fused block's batch norm (NULL: none), as model_bn_block. */
static const conv_block_bn *lconv_bn(lconv *c, conv_block_bn *bn)
{
    if (!c->bn_xw)
        return NULL;
    *bn = (conv_block_bn){c->gamma, c->beta, c->saved, c->moving, c->moving + c->oc, c->bn_xw,
                          c->dgamma, c->dbeta, c->bn_moments, BN_MOMENTUM, BN_EPSILON};
    return bn;
}

/* Conv block k's forward, as model_forward (training); returns its output. */
static const float *lconv_forward(lnet *L, int k, const float *in, uint64_t step)
{
    lconv *c = &L->c[k];
    conv_block_dropout drop = {c->dropped, c->mask, L->dropout, 1, RNG_DROPOUT + (uint64_t)k,
                               step};
    conv_block_bn bn;
    if (c->fused)
        TIMED(L, c->r_conv, 0,
              conv_block_forward(&c->a, lconv_bn(c, &bn), c->col, c->pooled, c->argmax,
                                 c->pooled_pre, c->r_drop >= 0 ? &drop : NULL, c->post, c->post_n,
                                 in, c->wt, c->bias, L->B, c->ic, c->h, c->w, c->oc, L->pad));
    else
        lconv_conv_pool(L, c, in);
    if (c->r_drop < 0)
        return c->pooled;
    if (c->fused)
        return c->dropped;
    TIMED(L, c->r_drop, 0,
          dropout_forward(c->dropped, c->mask, c->pooled, c->np, L->dropout, 1,
                          RNG_DROPOUT + (uint64_t)k, step));
    return c->dropped;
}

/* x (B, in_c*HW) into (in_c, B, HW), as model.c's to_planes. */
static void lnet_planes(lnet *L, const float *x)
{
    for (long i = 0; i < (long)L->in_c * L->B; i++) {
        long c = i / L->B, b = i % L->B;
        memcpy(L->planes + i * L->in_hw, x + (b * L->in_c + c) * L->in_hw,
               sizeof(float) * (size_t)L->in_hw);
    }
}

/* Forward and loss: leaves d(loss)/d(logits) in L->ga; returns the loss. */
static double lnet_forward(lnet *L, const float *x, const uint8_t *y, uint64_t step)
{
    const float *in = x;
    const int B = L->B;
    if (L->planes) {
        TIMED(L, L->r_input, 0, lnet_planes(L, x));
        in = L->planes;
    }
    for (int k = 0; k < L->nc; k++)
        in = lconv_forward(L, k, in, step);
    TIMED(L, L->r_flat, 0, flatten_forward(L->flat, in, L->flat_c, B, L->flat_s));
    in = L->flat;
    double loss = 0;
    int correct;
    for (int k = 0; k < L->nd; k++) {
        ldense *d = &L->d[k];
        if (k == L->nd - 1) {
            TIMED(L, d->r_dense, 0, dense_forward(d->pre, in, d->wt, d->bias, B, d->in, d->out);
                  loss = softmax_xent(L->ga, &correct, d->pre, y, d->out, B, (float)B));
            break;
        }
        TIMED(L, d->r_dense, 0,
              dense_forward(d->bn_x ? d->bn_x : d->pre, in, d->wt, d->bias, B, d->in, d->out));
        if (d->bn_x)
            TIMED(L, d->r_bn, 0,
                  bn_forward_train(d->pre, d->saved, d->moving, d->moving + d->out, d->bn_x,
                                   d->gamma, d->beta, d->out, B, BN_MOMENTUM, BN_EPSILON));
        TIMED(L, d->r_act, 0, act_forward(&d->a, d->post, d->pre, d->out, B));
        in = d->post;
    }
    return loss;
}

/* Conv block k's backward: g (oc, B, ph, pw) in; its input gradient into
 * g_next (none for the first block). */
static void lconv_backward(lnet *L, int k, float *g, float *g_next)
{
    lconv *c = &L->c[k];
    const int B = L->B;
    if (c->r_drop >= 0)
        TIMED(L, c->r_drop, 1, dropout_backward(g, g, c->mask, c->np, L->dropout));
    TIMED(L, c->r_act, 1,
          act_backward_winners(&c->a, g, c->dalpha, g,
                               c->pooled_pre ? c->pooled_pre : c->pooled, c->pooled, c->oc,
                               (long)B * c->ph * c->pw));
    if (c->fused) {
        conv_block_bn bn;
        TIMED(L, c->r_conv, 1,
              conv_block_backward(c->dw, c->db, lconv_bn(c, &bn), c->post, c->post_n, g,
                                  c->argmax, c->col, c->wt, B, c->ic, c->h, c->w, c->oc, L->pad));
        return;
    }
    TIMED(L, c->r_pool, 1, maxpool_backward(c->g_out, g, c->argmax, (long)c->oc * B, c->oh, c->ow));
    if (c->bn_x)
        TIMED(L, c->r_bn, 1,
              bn_backward(c->g_out, c->dgamma, c->dbeta, c->g_out, c->bn_x, c->gamma, c->saved,
                          c->oc, (long)B * c->oh * c->ow));
    TIMED(L, c->r_conv, 1,
          conv_backward(k > 0 ? g_next : NULL, c->dcol, c->dw, c->db, c->g_out, c->col, c->wt, B,
                        c->ic, c->h, c->w, c->oc, L->pad));
}

/* Gradients zeroed, backward from L->ga, then the optimizer's step. */
static void lnet_backward(lnet *L)
{
    const int B = L->B;
    float *g = L->ga, *g_next = L->gb, *tmp;
    TIMED(L, L->r_zero, 1,
          memset(model_grads(L->m), 0, sizeof(float) * (size_t)model_num_params(L->m)));
    for (int k = L->nd - 1; k >= 0; k--) {
        ldense *d = &L->d[k];
        if (k < L->nd - 1) {
            TIMED(L, d->r_act, 1, act_backward(&d->a, g, d->dalpha, g, d->pre, d->post, d->out, B));
            if (d->bn_x)
                TIMED(L, d->r_bn, 1,
                      bn_backward(g, d->dgamma, d->dbeta, g, d->bn_x, d->gamma, d->saved, d->out,
                                  B));
        }
        const float *in = k > 0 ? L->d[k - 1].post : L->flat;
        TIMED(L, d->r_dense, 1,
              dense_backward(g_next, d->dw, d->db, g, in, d->wt, B, d->in, d->out));
        tmp = g, g = g_next, g_next = tmp;
    }
    TIMED(L, L->r_flat, 1, flatten_backward(g_next, g, L->flat_c, B, L->flat_s));
    tmp = g, g = g_next, g_next = tmp;
    for (int k = L->nc - 1; k >= 0; k--) {
        lconv_backward(L, k, g, g_next);
        tmp = g, g = g_next, g_next = tmp;
    }
    TIMED(L, L->r_opt, 1, optim_step(&L->opt, model_params(L->m), model_grads(L->m)));
}

static void lnet_free(lnet *L)
{
    for (int k = 0; k < L->nc; k++) {
        lconv *c = &L->c[k];
        if (c->pre != c->post)
            free(c->pre);
        free(c->post);
        float *f[] = {c->col, c->dcol, c->bn_x, c->bn_xw, c->pooled, c->pooled_pre, c->dropped,
                      c->g_out, c->saved, c->moving};
        for (size_t i = 0; i < sizeof f / sizeof *f; i++)
            free(f[i]);
        free(c->argmax);
        free(c->bn_moments);
        free(c->mask);
    }
    for (int k = 0; k < L->nd; k++) {
        ldense *d = &L->d[k];
        if (d->post != d->pre)
            free(d->post);
        free(d->pre);
        free(d->bn_x);
        free(d->saved);
        free(d->moving);
    }
    free(L->planes);
    free(L->flat);
    free(L->ga);
    free(L->gb);
    optim_free(&L->opt);
}

/* Seconds of one whole training step through the model's own API
 * (model_forward, model_loss with backward, optim_step) on batch x, y. */
static double model_step(model *m, optimizer *opt, const float *x, const uint8_t *y, int bs,
                         uint64_t step)
{
    int correct;
    double t0 = now_seconds();
    model_forward(m, x, bs, 1, 1, step);
    model_loss(m, y, bs, &correct, 1);
    optim_step(opt, model_params(m), model_grads(m));
    return now_seconds() - t0;
}

/* "-" or the number, for one key=value field */
static void put_num(const char *key, double v, int ok, const char *fmt)
{
    printf(" %s=", key);
    if (ok)
        printf(fmt, v);
    else
        printf("-");
}

/* One line per row, then the totals against the model's whole step. */
static void print_layers(const lnet *L, const train_args *a, const dataset *d, double model_s,
                         double gather_s)
{
    const double K = a->batches;
    double sum = 0, gemm_s = 0, gemm_flop = 0;
    for (int i = 0; i < L->n_rows; i++) {
        const lrow *r = &L->rows[i];
        printf("layer=%s", r->name);
        for (int dir = 0; dir < 2; dir++) {
            const char *p = dir ? "bwd" : "fwd";
            char key[16];
            int has = r->bytes[dir] >= 0;
            snprintf(key, sizeof key, "%s_ms", p);
            put_num(key, r->s[dir] / K * 1e3, has, "%.3f");
            snprintf(key, sizeof key, "%s_gflops", p);
            put_num(key, r->flop[dir] * K / r->s[dir] * 1e-9, has && r->flop[dir] > 0, "%.2f");
            snprintf(key, sizeof key, "%s_mb", p);
            put_num(key, r->bytes[dir] * 1e-6, has, "%.2f");
            sum += r->s[dir];
            if (r->flop[dir] > 0) {
                gemm_s += r->s[dir];
                gemm_flop += r->flop[dir] * K;
            }
        }
        printf("\n");
    }
    printf("act=%s batchnorm=%d shape=%dx%dx%d threads=%d batch=%d batches=%d sum_ms=%.3f "
           "model_step_ms=%.3f gather_ms=%.3f gemm_ms=%.3f gemm_gflops=%.2f other_ms=%.3f\n",
           act_name((act_kind)a->act), a->bn, d->channels, d->rows, d->cols, a->threads, L->B,
           a->batches, sum / K * 1e3, model_s / K * 1e3, gather_s / K * 1e3, gemm_s / K * 1e3,
           gemm_flop / gemm_s * 1e-9, (sum - gemm_s) / K * 1e3);
}

/* Warm-up and timed steps of the per-layer pipeline, each followed by the
 * model's own step on the same batch (alternating, so a change in the
 * machine's load hits both alike; each has its own Adam state). *gather_s
 * and *model_s: the timed steps' gathers and model steps. */
static void run_layers(lnet *L, const train_args *a, const data_split *train, const long *order,
                       long per_epoch, float *x, uint8_t *y, double *gather_s, double *model_s)
{
    optimizer opt = {0};
    sw_error err = {0};
    double loss_sum = 0;
    if (optim_init(&opt, OPT_ADAM, 1e-3f, model_num_params(L->m), &err) != SW_OK)
        die(err.msg);
    *gather_s = *model_s = 0;
    for (int b = 0; b < a->warmup + a->batches; b++) {
        if (b == a->warmup)
            for (int i = 0; i < L->n_rows; i++)
                L->rows[i].s[0] = L->rows[i].s[1] = 0;
        double t0 = now_seconds();
        data_batch_floats(x, y, train, order, (b % per_epoch) * L->B, L->B);
        double t_gather = now_seconds() - t0;
        loss_sum += lnet_forward(L, x, y, (uint64_t)b);
        lnet_backward(L);
        double t_model = model_step(L->m, &opt, x, y, L->B, (uint64_t)b);
        if (b >= a->warmup) {
            *gather_s += t_gather;
            *model_s += t_model;
        }
    }
    optim_free(&opt);
    if (!isfinite(loss_sum))
        die("the per-layer run's loss is not finite");
}

int cmd_layers(int argc, char **argv)
{
    train_args a;
    const int bs = 250;
    parse_train_args(argc, argv, &a);
    dataset d;
    data_split train, val;
    bench_data(&a, &d, &train, &val);
    long per_epoch = train.n / bs;
    if (per_epoch < 1)
        die("the data has fewer training images than one batch of 250");
    model *m;
    if (default_model(&m, (act_kind)a.act, a.bn, &d, bs) != 0)
        return 2;
    model_init_params(m, 1);
    lnet *L = malloc(sizeof *L);
    if (!L)
        die("out of memory");
    lnet_plan(L, m, bs);
    sw_error err = {0};
    if (optim_init(&L->opt, OPT_ADAM, 1e-3f, model_num_params(m), &err) != SW_OK)
        die(err.msg);
    long *order = shuffled(train.n);
    float *x = malloc(sizeof(float) * (size_t)bs * (size_t)train.pixels);
    uint8_t *y = malloc((size_t)bs);
    if (!x || !y)
        die("out of memory");
    double gather_s, model_s;
    run_layers(L, &a, &train, order, per_epoch, x, y, &gather_s, &model_s);
    print_layers(L, &a, &d, model_s, gather_s);
    lnet_free(L);
    free(L);
    free(order);
    free(x);
    free(y);
    model_free(m);
    dataset_free(&d);
    return 0;
}
