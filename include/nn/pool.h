/* pool.h: 2x2 max pooling, stride 2, floor (an odd last row/column is
 * dropped, as Keras' 'valid' and PyTorch's default do). */
#ifndef SWEEP_POOL_H
#define SWEEP_POOL_H

#include <stdint.h>

#include "nn/activation.h"

/* in (planes,H,W) -> out (planes,H/2,W/2); argmax (planes,H/2,W/2) keeps
 * which of the 4 inputs won (0..3, row-major; the first on ties). */
void maxpool_forward(float *out, uint8_t *argmax, const float *in,
                     long planes, int H, int W);

/* A conv block's activation and pooling in one pass over groups of planes
 * that stay in cache, with the bits of act_forward then maxpool_forward:
 * post = f(pre) (post may be pre), pooled and argmax from post, and, when
 * pooled_pre is not NULL, the winners' pre there. pre is (C, B, H, W):
 * plane p is of channel p / B. */
void act_maxpool_forward(const act_params *a, float *post, const float *pre, float *pooled,
                         uint8_t *argmax, float *pooled_pre, int C, int B, int H, int W);

/* Training's order (when act_pools_first): each window's winner found from
 * pre alone (act_pool_rule_of: its max, or for an f that falls then rises
 * its min where f is larger there), into argmax; then pooled = f of the
 * winners only, and pooled_pre = what backward needs of them
 * (act_forward_winners: x, or f'(x) for the smooth rows). For an
 * increasing f, the same pooling as act_maxpool_forward. pooled_pre may be
 * pooled for an in-place row. */
void act_pool_first_forward(const act_params *a, const float *pre, float *pooled,
                            uint8_t *argmax, float *pooled_pre, int C, int B, int H, int W);

/* The work of the two above on np planes, on the calling thread (a fused
 * caller's group of planes in its own scratch): post, pre, pooled, argmax
 * and pooled_pre point at the first of the planes, which is plane p0 of a
 * (C, B, H, W) tensor (its channel: p0 / B, and so on). The same bits as
 * the whole-tensor calls give those planes. */
void act_maxpool_planes(const act_params *a, float *post, const float *pre, float *pooled,
                        uint8_t *argmax, float *pooled_pre, long p0, long np, int B, int H,
                        int W);
void act_pool_first_planes(const act_params *a, const float *pre, float *pooled,
                           uint8_t *argmax, float *pooled_pre, long p0, long np, int B, int H,
                           int W);

/* maxpool_backward of np planes on the calling thread. */
void maxpool_backward_planes(float *din, const float *dout, const uint8_t *argmax, long np,
                             int H, int W);

/* din (planes,H,W) is overwritten: dout at each winner, zero elsewhere. */
void maxpool_backward(float *din, const float *dout, const uint8_t *argmax,
                      long planes, int H, int W);

#endif
