/* loss.h: softmax + cross-entropy, numerically stable (max subtracted). */
#ifndef SWEEP_LOSS_H
#define SWEEP_LOSS_H

#include <stdint.h>

/* logits (K,B) feature-major, labels (B) in 0..K-1.
 * Returns the SUM over the batch of -log softmax[label] (in double, summed
 * in index order). *correct gets the number of argmax hits (first max on
 * ties). dlogits (K,B), if not NULL, gets (softmax - onehot) / grad_scale,
 * grad_scale being the batch size for a mean loss. */
double softmax_xent(float *dlogits, int *correct, const float *logits,
                    const uint8_t *labels, int K, int B, float grad_scale);

#endif
