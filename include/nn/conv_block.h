/* conv_block.h: a first conv block (up to 3 input channels, K = IC*9 <= 27)
 * fused for training: conv, batch norm (optional), activation and 2x2 max
 * pool over groups of images whose conv output stays in L2, so the
 * full-batch conv output is never written; backward unpools a group's
 * gradient and takes its weight and bias gradients in L2 too.
 *
 * With batch norm, whose statistics span the whole batch, the forward
 * makes two passes over the groups: the mean and covariance of the conv's
 * K inputs (the conv output's mean and variance follow from them and the
 * weights), then the conv, the normalisation, activation, pool and
 * dropout. Its backward takes batch norm's input gradient through to the
 * weights from those moments too, without the conv output.
 *
 * Layouts as conv.h and pool.h: in (IC,B,H,W), weight (OC,IC*9), pooled,
 * argmax, pooled_pre (OC,B,PH,PW), PH = OH/2, PW = OW/2. */
#ifndef SWEEP_CONV_BLOCK_H
#define SWEEP_CONV_BLOCK_H

#include <stdint.h>

#include "nn/activation.h"

enum { CONV_BLOCK_MAX_K = 27 };   /* up to 3 input channels */

/* out[o][0..n) (row stride ldo) = bias[o] + sum_k w[o][k] col[k][0..n)
 * (row stride ldc), taps added in order, K <= CONV_BLOCK_MAX_K and a
 * multiple of 9. A pixel gets the same bits wherever a call's range of
 * pixels starts or ends. On the calling thread. */
void conv_small_k(float *out, long ldo, const float *col, long ldc, const float *w,
                  const float *bias, int K, int OC, long n);

/* Images per group (fixed by the shape alone: the weight gradient's sums,
 * and so its bits, follow the groups). */
int conv_block_group(int OC, int OH, int OW, int B);

/* Scratch floats for that many threads at batch B (never more for a
 * smaller B); bn: with batch norm (more). */
long conv_block_scratch(int workers, int B, int IC, int OH, int OW, int OC, int bn);

/* Threads whose scratch fits in scratch_n floats (0: the block cannot run
 * fused with that scratch). OH, OW: the conv output size. */
int conv_block_workers(long scratch_n, int B, int IC, int OH, int OW, int OC, int bn);

/* xw (np,OH/2,OW/2) = x (np,OH,OW) at each pooled output's winner (argmax,
 * as the pool gives it). On the calling thread. */
void conv_block_winners(float *xw, const float *x, const uint8_t *argmax, long np, int OH,
                        int OW);

/* Batch norm between the conv and the activation, with bn_forward_train's
 * and bn_backward's maths (batchnorm.h) on the conv output x, taken
 * through x = b + w . col: the batch statistics from col's moments (so
 * they may differ from bn_forward_train's on the rounded x in the last
 * places), sums per group added in group order (the same at any thread
 * count). */
typedef struct {
    const float *gamma, *beta;   /* (OC) */
    float *saved;                /* (2*OC): forward writes the batch mean, then
                                    1/sqrt(var + eps), as bn_forward_train;
                                    backward reads them */
    float *moving_mean, *moving_var;   /* (OC), updated by forward; NULL: not */
    float *xw;                   /* (OC,B,PH,PW): forward writes x at the pool's
                                    winners; backward reads it */
    float *dgamma, *dbeta;       /* (OC), backward accumulates (+=) */
    double *moments;             /* (conv_block_bn_moments(IC)): forward writes
                                    col's mean and covariance; backward reads
                                    them */
    double momentum, eps;
} conv_block_bn;

/* Doubles of conv_block_bn's moments for IC input channels. */
long conv_block_bn_moments(int IC);

/* Dropout folded into the forward pass: out and mask get the bits of
 * dropout_forward(out, mask, pooled, OC*B*PH*PW, rate, seed, purpose,
 * step) (its mask is a pure function of the element index). */
typedef struct {
    float *out;       /* (OC,B,PH,PW) */
    uint8_t *mask;    /* (OC,B,PH,PW) */
    float rate;
    uint64_t seed, purpose, step;
} conv_block_dropout;

/* Training forward. saved: (IC,B,H+2pad,W+2pad) floats, gets the (zero
 * bordered) input that conv_block_backward reads, as conv_forward leaves
 * it at the start of its col. Outputs have the bits of conv_forward then
 * act_pool_first_forward (when act_pools_first(kind, alpha); with pooled
 * as its pooled_pre when pooled_pre is NULL) or act_maxpool_forward
 * (otherwise); pooled_pre NULL: the activation runs in place. bn: batch
 * norm, NULL for none (with it, the outputs are those of bn_forward_train
 * between the two, but for its statistics, taken from col's moments, and
 * so the outputs' last places). drop:
 * dropout of pooled, NULL for none.
 * scratch: scratch_n floats with conv_block_workers(.., bn != NULL) > 0;
 * its content is left undefined. */
void conv_block_forward(const act_params *a, const conv_block_bn *bn, float *saved,
                        float *pooled, uint8_t *argmax, float *pooled_pre,
                        const conv_block_dropout *drop, float *scratch, long scratch_n,
                        const float *in, const float *weight, const float *bias, int B, int IC,
                        int H, int W, int OC, int pad);

/* Training backward: dpooled (OC,B,PH,PW) is the gradient at the pool's
 * outputs (after the activation's derivative); argmax and saved from
 * conv_block_forward (or conv_forward's col and the pool's argmax).
 * dweight (OC,IC*9) and dbias (OC) are accumulated (+=): per group in a
 * fixed order, then the groups in order, so any thread count gives the
 * same bits. bn: as given to the forward (its dgamma, dbeta accumulated
 * as bn_backward does), NULL for none; with it weight (the forward's)
 * is read, and dbias is left as it is: batch norm's mean takes away any
 * change of the bias, whose gradient is 0. scratch as for the forward.
 * No input gradient. */
void conv_block_backward(float *dweight, float *dbias, const conv_block_bn *bn, float *scratch,
                         long scratch_n, const float *dpooled, const uint8_t *argmax,
                         const float *saved, const float *weight, int B, int IC, int H, int W,
                         int OC, int pad);

#endif
