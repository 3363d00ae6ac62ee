/* dropout.h: inverted dropout, training only. The mask is drawn from the
 * counter-based RNG keyed on (seed, purpose, step, element index), so it is
 * the same whatever the thread count. */
#ifndef SWEEP_DROPOUT_H
#define SWEEP_DROPOUT_H

#include <stdint.h>

/* out = in * mask / (1 - rate); mask[i] = 1 keeps element i. out may alias
 * in. rate 0 copies and sets every mask byte to 1. */
void dropout_forward(float *out, uint8_t *mask, const float *in, long n,
                     float rate, uint64_t seed, uint64_t purpose, uint64_t step);

/* Elements [i0, i0+n) of dropout_forward over a larger tensor (out, mask
 * and in point at element i0), on the calling thread: the same bits. */
void dropout_range(float *out, uint8_t *mask, const float *in, long n, float rate,
                   uint64_t seed, uint64_t purpose, uint64_t step, long i0);

/* din = dout * mask / (1 - rate); din may alias dout. */
void dropout_backward(float *din, const float *dout, const uint8_t *mask,
                      long n, float rate);

#endif
