/* batchnorm.c: batch normalisation, one channel per OpenMP task.
 *
 * Every per-channel sum is taken by the one thread that owns the channel,
 * in double, in LANES interleaved partial sums (element i goes to lane
 * i % LANES) added in lane order at the end: an order fixed by n alone, so
 * the thread count changes no bit, and independent lanes let the loop run
 * at the adder's throughput instead of its latency (and as vectors, in
 * the AVX clones). The mean and variance come from one pass of sums of
 * x - K and (x - K)^2, shifted by K = the channel's first value: without
 * the shift a large mean against a small spread would cancel; with it the
 * loss is about 1e-16 * ((mean - K) / std)^2, nothing for any K near the
 * data. Memory passes per channel: 2 forward, 2 backward. */
#include "nn/batchnorm.h"

#include <math.h>
#include <stddef.h>

#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

enum { LANES = 32 };   /* 4 AVX-512 vectors of doubles: the adds overlap */

static double lanes_total(const double *acc)
{
    double s = 0;
    for (int l = 0; l < LANES; l++)
        s += acc[l];
    return s;
}

/* *s = sum (x - k), *q = sum (x - k)^2 over x[0..n), in double, element i
 * in lane i % LANES. */
static CLONES void bn_sums(const float *x, long n, double k, double *s, double *q)
{
    double a[LANES] = {0}, b[LANES] = {0};
    long i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) {
            double d = x[i + l] - k;
            a[l] += d;
            b[l] += d * d;
        }
    for (int l = 0; i < n; i++, l++) {
        double d = x[i] - k;
        a[l] += d;
        b[l] += d * d;
    }
    *s = lanes_total(a);
    *q = lanes_total(b);
}

CLONES void bn_grad_sums(const float *dy, const float *x, long n, float mean, double *sdy,
                         double *sdyx)
{
    double a[LANES] = {0}, b[LANES] = {0};
    long i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) {
            a[l] += dy[i + l];
            b[l] += (double)dy[i + l] * (x[i + l] - mean);
        }
    for (int l = 0; i < n; i++, l++) {
        a[l] += dy[i];
        b[l] += (double)dy[i] * (x[i] - mean);
    }
    *sdy = lanes_total(a);
    *sdyx = lanes_total(b);
}

CLONES void bn_affine(float *y, const float *x, long n, float mean, float scale, float shift)
{
    for (long i = 0; i < n; i++)
        y[i] = (x[i] - mean) * scale + shift;
}

void bn_stats_of(float *mean, float *inv, float *moving_mean, float *moving_var, double m,
                 double var, long n, double momentum, double eps)
{
    var = var > 0 ? var : 0;
    *mean = (float)m;
    *inv = (float)(1.0 / sqrt(var + eps));
    if (moving_mean && moving_var) {
        double unbiased = n > 1 ? var * (double)n / (double)(n - 1) : var;
        *moving_mean = (float)(momentum * *moving_mean + (1.0 - momentum) * m);
        *moving_var = (float)(momentum * *moving_var + (1.0 - momentum) * unbiased);
    }
}

void bn_forward_train(float *y, float *saved, float *moving_mean, float *moving_var,
                      const float *x, const float *gamma, const float *beta, int C, long n,
                      double momentum, double eps)
{
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        const float *xc = x + (long)c * n;
        const double k = n > 0 ? xc[0] : 0;
        double s, q;
        bn_sums(xc, n, k, &s, &q);
        bn_stats_of(saved + c, saved + C + c, moving_mean ? moving_mean + c : NULL,
                    moving_var ? moving_var + c : NULL, k + s / (double)n,
                    (q - s * (s / (double)n)) / (double)n, n, momentum, eps);
        bn_affine(y + (long)c * n, xc, n, saved[c], gamma[c] * saved[C + c], beta[c]);
    }
}

void bn_forward_eval(float *y, const float *x, const float *gamma, const float *beta,
                     const float *moving_mean, const float *moving_var, int C, long n,
                     double eps)
{
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        float scale = (float)(gamma[c] / sqrt((double)moving_var[c] + eps));
        bn_affine(y + (long)c * n, x + (long)c * n, n, moving_mean[c], scale, beta[c]);
    }
}

CLONES void bn_dx(float *dx, const float *dy, const float *x, long n, bn_grad_coef c)
{
    for (long i = 0; i < n; i++)
        dx[i] = c.a * (dy[i] - c.mdy - (x[i] - c.mean) * c.k);
}

/* With x_hat = (x - mean) * inv and the sums over the channel,
 *   dbeta = sum dy, dgamma = sum dy * x_hat,
 *   dx = gamma * inv * (dy - sum dy / n - x_hat * (sum dy * x_hat) / n). */
bn_grad_coef bn_grad_coefs(double sdy, double sdyx, float gamma, float mean, float inv, long n,
                           float *dgamma, float *dbeta)
{
    *dbeta += (float)sdy;
    *dgamma += (float)(sdyx * inv);
    bn_grad_coef c = {gamma * inv, (float)(sdy / (double)n), mean,
                      (float)(sdyx * inv * inv / (double)n)};
    return c;
}

void bn_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                 const float *gamma, const float *saved, int C, long n)
{
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        const long o = (long)c * n;
        double sdy, sdyx;
        bn_grad_sums(dy + o, x + o, n, saved[c], &sdy, &sdyx);
        bn_grad_coef k = bn_grad_coefs(sdy, sdyx, gamma[c], saved[c], saved[C + c], n,
                                       dgamma + c, dbeta + c);
        bn_dx(dx + o, dy + o, x + o, n, k);
    }
}
