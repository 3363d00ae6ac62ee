/* batchnorm.h: batch normalisation over (C, n) tensors, channel-major as in
 * activation.h: channel c is the contiguous run [c*n, (c+1)*n), n = B*H*W
 * after a conv layer and n = B after a dense layer.
 *
 * Keras' BatchNormalization defaults (momentum 0.99, epsilon 1e-3), which
 * are torch.nn.BatchNorm{1,2}d(eps=1e-3, momentum=0.01):
 *   training:   y = gamma * (x - mean_B) / sqrt(var_B + eps) + beta, with
 *               the batch mean and the biased batch variance (1/n);
 *               moving = momentum * moving + (1 - momentum) * batch, where
 *               the batch variance is the UNBIASED one (1/(n-1)) as PyTorch
 *               updates running_var (Keras would take the biased one; the
 *               PyTorch reference is our yardstick; after 100s of steps the
 *               two differ by a factor n/(n-1), 1 + 6e-6 for a conv layer).
 *   evaluation: y = gamma * (x - moving_mean) / sqrt(moving_var + eps) + beta.
 * Per-channel sums run in double, over one channel on one thread, in an
 * order fixed by n alone: the same bits at any thread count.
 *
 * Memory: backward recomputes x_hat from the layer's input x and the saved
 * per-channel mean and 1/std (2C floats) rather than keeping x_hat (C*n
 * floats); the caller keeps x (the conv or dense output) until backward. */
#ifndef SWEEP_BATCHNORM_H
#define SWEEP_BATCHNORM_H

#define BN_MOMENTUM 0.99   /* Keras' momentum (PyTorch's 0.01) */
#define BN_EPSILON 1e-3

/* Training forward. x, y (C,n), y may alias x; gamma, beta (C).
 * saved (2C) receives the batch mean [0, C) and 1/sqrt(var + eps) [C, 2C),
 * for bn_backward. moving_mean, moving_var (C) are updated in place (pass
 * NULL for both to leave them out). With n == 1 the unbiased variance is
 * undefined (PyTorch refuses); the biased one, 0, is taken. */
void bn_forward_train(float *y, float *saved, float *moving_mean, float *moving_var,
                      const float *x, const float *gamma, const float *beta, int C, long n,
                      double momentum, double eps);

/* Evaluation forward with the moving statistics. y may alias x. */
void bn_forward_eval(float *y, const float *x, const float *gamma, const float *beta,
                     const float *moving_mean, const float *moving_var, int C, long n,
                     double eps);

/* Backward of the training forward. dy (C,n); x the forward's input;
 * saved as left by bn_forward_train. dx (C,n) is overwritten (may alias
 * dy); dgamma, dbeta (C) are accumulated (+=). */
void bn_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                 const float *gamma, const float *saved, int C, long n);

/* The per-channel steps of the above, for callers that walk a channel in
 * parts (the fused first conv block, conv_block.h; model.c's pooling and
 * batch norm backward): the same maths, written once. On the calling
 * thread. */

/* A channel's batch statistics from the mean m and biased variance var
 * (clamped at 0) of its n values: *mean and *inv = 1/sqrt(var + eps) as
 * bn_forward_train saves them; *moving_mean, *moving_var updated as there
 * (both NULL: left out). */
void bn_stats_of(float *mean, float *inv, float *moving_mean, float *moving_var, double m,
                 double var, long n, double momentum, double eps);
/* y[0..n) = (x - mean) * scale + shift; y may alias x. The training
 * forward's step with scale = gamma * inv, shift = beta. */
void bn_affine(float *y, const float *x, long n, float mean, float scale, float shift);

/* *sdy = sum dy, *sdyx = sum dy * (x - mean) over [0..n), in double,
 * element i in lane i % 32, the lanes added in order. */
void bn_grad_sums(const float *dy, const float *x, long n, float mean, double *sdy,
                  double *sdyx);

/* A channel's input gradient dx = a * (dy - mdy - (x - mean) * k). */
typedef struct {
    float a, mdy, mean, k;
} bn_grad_coef;

/* The coefficients from a channel's sums (bn_grad_sums) over its n values,
 * gamma, and the saved mean and 1/std; *dgamma, *dbeta accumulated (+=). */
bn_grad_coef bn_grad_coefs(double sdy, double sdyx, float gamma, float mean, float inv, long n,
                           float *dgamma, float *dbeta);

/* dx[0..n) from dy and x with c; dx may alias dy. */
void bn_dx(float *dx, const float *dy, const float *x, long n, bn_grad_coef c);

#endif
