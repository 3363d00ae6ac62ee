/* model_internal.h: the model's layout, shared by model.c (layers,
 * forward, backward, statistics) and model_bn.c (batch norm's buffers and
 * its steps in forward and backward). Not a public header. */
#ifndef SWEEP_MODEL_INTERNAL_H
#define SWEEP_MODEL_INTERNAL_H

#include <stdint.h>

#include "nn/conv_block.h"
#include "train/model.h"

#define MAX_TENSORS (5 * (MODEL_MAX_CONV + MODEL_MAX_DENSE + 1))

/* Batch norm of one layer (all NULL / -1 without batch norm). */
typedef struct {
    long gamma_off, beta_off;   /* parameter offsets, -1 without batch norm */
    float *x;                   /* (C, n): the layer's output before batch norm;
                                   NULL for a block that runs fused in training;
                                   a later conv block's pre unless it is big
                                   (model_bn_alloc) */
    float *xw;                  /* a fused block's (C, B, ph, pw): its conv output
                                   at the pooling winners (conv_block.h), at the
                                   end of its post (alloc_buffers) */
    float *moving;              /* (2C) in the model's bn_state: mean, variance */
    float *saved;               /* (2C): the last training batch's mean, 1/std */
    double *moments;            /* a fused block's conv_block_bn moments */
} bn_layer;

typedef struct {
    int ic, oc, h, w;           /* input channels and size */
    int oh, ow, ph, pw;         /* conv output size, pooled size */
    long w_off, b_off, a_off;   /* parameter offsets; a_off -1 unless prelu */
    bn_layer bn;
    float *col;                 /* (ic*9, B*oh*ow) */
    float *pre, *post;          /* (oc, B, oh, ow) before / after activation */
    long post_n;                /* floats of post: more for big, or for the fused
                                   block's scratch (a tiny batch) */
    long scratch_n;             /* the fused block's scratch: post's first floats
                                   (bn.xw may follow) */
    float *pooled;              /* (oc, B, ph, pw) after activation, before dropout */
    float *pooled_pre;          /* the same winners before activation, when
                                   the activation keeps its input */
    uint8_t *argmax, *mask;     /* (oc, B, ph, pw) */
} conv_block;

typedef struct {
    int in, out;
    long w_off, b_off, a_off;
    bn_layer bn;                /* never on the output layer */
    float *pre, *post;          /* (out, B); post unused by the output layer */
} dense_block;

/* Statistics of one activation layer (see model.h). */
typedef struct {
    char name[16];
    int C;                      /* channels (conv) or units (dense) */
    long hw;                    /* positions per image: oh*ow, 1 for dense */
    long w_off, w_size;         /* the layer's weight tensor */
    uint8_t *fired;             /* (C, hw): output > 0 for some image seen */
    double *chan_sum;           /* (C) scratch: one channel's sum */
    double act_sum, act_count;  /* over every unit and image seen */
    double grad_sum;            /* sum of per-batch weight-gradient norms */
    long grad_batches;
    int collected;              /* model_forward_stats: taken in the forward */
} act_layer;

struct model {
    model_spec spec;
    int max_batch;
    long n_params;
    float *params, *grads;
    int n_tensors;
    model_tensor tensors[MAX_TENSORS];
    int n_conv, n_dense;        /* n_dense counts the output layer */
    int pad;                    /* the convs' padding, 0 or 1 */
    long n_bn;                  /* floats of bn_state */
    float *bn_state;            /* moving statistics of every bn layer, in order */
    float *bn_saved;            /* batch statistics of every bn layer, in order */
    conv_block conv[MODEL_MAX_CONV];
    dense_block dense[MODEL_MAX_DENSE + 1];
    int flat_c, flat_s;         /* flatten input: channels and spatial size */
    float *flat;                /* (flat_c*flat_s, B) */
    const float *input;         /* last forward's input, (B, pixels) */
    float *planes;              /* (in_c, B, in_h, in_w): the input transposed
                                   for the first conv; NULL when in_c is 1 */
    float *grad_a, *grad_b;     /* backward ping-pong: pooled, flat and dense sizes;
                                   grad_b also takes the forward's dropout output */
    long ping_n;                /* floats of each */
    float *big;                 /* the largest conv block's post: in backward, the
                                   full-size conv output gradient, then dcol */
    int batch;                  /* last forward's batch size */
    int dropped;                /* last forward applied dropout */
    int collecting;             /* in model_forward_stats */
    int n_act;                  /* activation layers: n_conv + hidden dense */
    act_layer act[MODEL_MAX_ACT_LAYERS];
    double *norm_part;          /* (blocks of the largest weight tensor) */
};


/* n floats, 64-byte aligned, zeroed; NULL when out of memory. */
float *model_alloc_floats(long n);

/* Block k may run fused in training (conv_block.h): the first, with at
 * most 3 input channels. */
int model_block_fusable(const model *m, int k);

/* ---- model_bn.c ---- */

/* Batch norm's state and buffers (none without it). 0 or -1. */
int model_bn_alloc(model *m);

/* y (C, n) from the layer's output (bn->x, or y itself when x is NULL:
 * evaluation of a fused block): batch statistics when training (updating
 * the moving ones), else the moving ones. No-op without bn. */
void model_bn_forward(model *m, const bn_layer *bn, float *y, int C, long n, int training);

/* dy (C, n) in place through batch norm; gamma's and beta's gradients added. */
void model_bn_backward(model *m, const bn_layer *bn, float *dy, int C, long n);

/* Max-pool's and batch norm's backward of an unfused conv block: g (C, B,
 * ph, pw) at the pooling winners in, dx (C, B, oh, ow) out. */
void model_bn_pool_backward(model *m, const conv_block *b, float *dx, const float *g, int B);

/* Conv block b's batch norm for conv_block.h; NULL without one. */
const conv_block_bn *model_bn_block(model *m, const conv_block *b, conv_block_bn *out);

#endif
