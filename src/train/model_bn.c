/* model_bn.c: batch norm in the model (model_internal.h): its moving and
 * batch statistics, the buffers its backward needs, and its steps in
 * forward and backward. Each layer keeps its output before batch norm, x,
 * for backward; the fused first block (conv_block.h) keeps x only at the
 * pooling winners, and the moments of its conv's inputs, from which its
 * backward takes the rest. */
#include <assert.h>
#include <stddef.h>

#include "model_internal.h"
#include "nn/batchnorm.h"
#include "nn/pool.h"

/* With batch norm, 4C floats of statistics per layer and x: the layer's
 * output size; for a block that runs fused the pooled size at the end of
 * its post (alloc_buffers leaves it room); for a later conv block that is
 * not the largest, its pre, which holds x from the conv to the backward
 * while training normalises into big (block_forward; big is free then,
 * below the fused block's kept values). Without it nothing is allocated.
 * 0 or -1. */
int model_bn_alloc(model *m)
{
    long B = m->max_batch, st = 0;
    if (!m->spec.batchnorm)
        return 0;
    if (!(m->bn_state = model_alloc_floats(m->n_bn)) ||
        !(m->bn_saved = model_alloc_floats(m->n_bn)))
        return -1;
    for (int k = 0; k < m->n_conv; k++) {
        conv_block *b = &m->conv[k];
        b->bn.moving = m->bn_state + st;
        b->bn.saved = m->bn_saved + st;
        st += 2L * b->oc;
        if (model_block_fusable(m, k)) {   /* the end of post, kept for it */
            b->bn.xw = b->post + b->scratch_n;
            b->bn.moments = (double *)(void *)model_alloc_floats(2 * conv_block_bn_moments(b->ic));
            if (!b->bn.moments)
                return -1;
        } else if (b->post != m->big)   /* x in pre; training's y goes to big */
            b->bn.x = b->pre;
        else if (!(b->bn.x = model_alloc_floats((long)b->oc * B * b->oh * b->ow)))
            return -1;
    }
    for (int k = 0; k < m->n_dense - 1; k++) {
        dense_block *d = &m->dense[k];
        d->bn.moving = m->bn_state + st;
        d->bn.saved = m->bn_saved + st;
        st += 2L * d->out;
        if (!(d->bn.x = model_alloc_floats((long)d->out * B)))
            return -1;
    }
    model_bn_reset(m);
    return 0;
}

long model_bn_state_size(const model *m) { return m->n_bn; }
float *model_bn_state(model *m) { return m->bn_state; }

void model_bn_reset(model *m)
{
    /* each layer: mean 0 (C floats), then variance 1 (C floats) */
    for (int k = 0; k < m->n_conv + m->n_dense - 1; k++) {
        bn_layer *bn = k < m->n_conv ? &m->conv[k].bn : &m->dense[k - m->n_conv].bn;
        int C = k < m->n_conv ? m->conv[k].oc : m->dense[k - m->n_conv].out;
        if (!bn->moving)
            continue;
        for (int c = 0; c < C; c++) {
            bn->moving[c] = 0.0f;
            bn->moving[C + c] = 1.0f;
        }
    }
}

void model_bn_forward(model *m, const bn_layer *bn, float *y, int C, long n, int training)
{
    if (bn->gamma_off < 0)
        return;
    /* without x (a fused block) only evaluation comes here: in place */
    assert(bn->x || !training);
    const float *x = bn->x ? bn->x : y;
    const float *gamma = m->params + bn->gamma_off, *beta = m->params + bn->beta_off;
    if (training)
        bn_forward_train(y, bn->saved, bn->moving, bn->moving + C, x, gamma, beta, C, n,
                         BN_MOMENTUM, BN_EPSILON);
    else
        bn_forward_eval(y, x, gamma, beta, bn->moving, bn->moving + C, C, n, BN_EPSILON);
}

void model_bn_backward(model *m, const bn_layer *bn, float *dy, int C, long n)
{
    if (bn->gamma_off < 0)
        return;
    bn_backward(dy, m->grads + bn->gamma_off, m->grads + bn->beta_off, dy, bn->x,
                m->params + bn->gamma_off, bn->saved, C, n);
}

/* Per channel: x at the winners gathered into the start of dx's row (its
 * pooled size fits there), the sums over the winners (dy is 0 elsewhere)
 * as the fused block takes them (bn_grad_sums), then dy unpooled into dx
 * and batch norm's dx in place: in cache, one channel at a time, where
 * maxpool_backward then bn_backward would stream the tensor three times. */
void model_bn_pool_backward(model *m, const conv_block *b, float *dx, const float *g, int B)
{
    const int C = b->oc, H = b->oh, W = b->ow;
    const long n = (long)B * H * W, np = (long)B * b->ph * b->pw;
    const bn_layer *bn = &b->bn;
    const float *gamma = m->params + bn->gamma_off;
    float *dgamma = m->grads + bn->gamma_off, *dbeta = m->grads + bn->beta_off;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        const float *xc = bn->x + (long)c * n, *gc = g + (long)c * np;
        const uint8_t *am = b->argmax + (long)c * np;
        float *dxc = dx + (long)c * n;
        double sdy, sdyx;
        conv_block_winners(dxc, xc, am, B, H, W);
        bn_grad_sums(gc, dxc, np, bn->saved[c], &sdy, &sdyx);
        bn_grad_coef k = bn_grad_coefs(sdy, sdyx, gamma[c], bn->saved[c], bn->saved[C + c], n,
                                       dgamma + c, dbeta + c);
        maxpool_backward_planes(dxc, gc, am, B, H, W);
        bn_dx(dxc, dxc, xc, n, k);
    }
}

const conv_block_bn *model_bn_block(model *m, const conv_block *b, conv_block_bn *out)
{
    const bn_layer *bn = &b->bn;
    if (bn->gamma_off < 0)
        return NULL;
    *out = (conv_block_bn){m->params + bn->gamma_off, m->params + bn->beta_off, bn->saved,
                           bn->moving, bn->moving + b->oc, bn->xw, m->grads + bn->gamma_off,
                           m->grads + bn->beta_off, bn->moments, BN_MOMENTUM, BN_EPSILON};
    return out;
}
