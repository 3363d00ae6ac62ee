/* loss.c: softmax + cross-entropy over feature-major logits (K,B). */
#include "nn/loss.h"

#include <assert.h>
#include <math.h>

double softmax_xent(float *dlogits, int *correct, const float *logits,
                    const uint8_t *labels, int K, int B, float grad_scale)
{
    double loss = 0;
    int hits = 0;
    for (int b = 0; b < B; b++) {
        /* first maximum: the prediction, and the shift that keeps exp finite */
        int best = 0;
        float m = logits[b];
        for (int k = 1; k < K; k++)
            if (logits[(long)k * B + b] > m) {
                m = logits[(long)k * B + b];
                best = k;
            }
        double z = 0;
        for (int k = 0; k < K; k++)
            z += exp((double)logits[(long)k * B + b] - m);
        const int y = labels[b];
        assert(y < K);   /* the data module checks labels on load */
        hits += best == y;
        loss += log(z) - ((double)logits[(long)y * B + b] - m);
        if (dlogits)
            for (int k = 0; k < K; k++) {
                double p = exp((double)logits[(long)k * B + b] - m) / z;
                dlogits[(long)k * B + b] = (float)((p - (k == y)) / grad_scale);
            }
    }
    if (correct)
        *correct = hits;
    return loss;
}
