/* pool.h: 2x2 max pooling, stride 2, floor (an odd last row/column is
 * dropped, as Keras' 'valid' and PyTorch's default do). */
#ifndef SWEEP_POOL_H
#define SWEEP_POOL_H

#include <stdint.h>

/* in (planes,H,W) -> out (planes,H/2,W/2); argmax (planes,H/2,W/2) keeps
 * which of the 4 inputs won (0..3, row-major; the first on ties). */
void maxpool_forward(float *out, uint8_t *argmax, const float *in,
                     long planes, int H, int W);

/* din (planes,H,W) is overwritten: dout at each winner, zero elsewhere. */
void maxpool_backward(float *din, const float *dout, const uint8_t *argmax,
                      long planes, int H, int W);

#endif
