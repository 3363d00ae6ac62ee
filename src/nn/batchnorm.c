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

#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

enum { LANES = 8 };

static double lanes_total(const double *acc)
{
    double s = 0;
    for (int l = 0; l < LANES; l++)
        s += acc[l];
    return s;
}

/* *s = sum (x - k), *q = sum (x - k)^2 */
CLONES static void sums_forward(const float *x, long n, double k, double *s, double *q)
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

/* *sdy = sum dy, *sdyx = sum dy * (x - mean) */
CLONES static void sums_backward(const float *dy, const float *x, long n, float mean, double *sdy,
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

/* y[0..n) = (x - mean) * scale + shift; y may alias x */
CLONES static void affine(float *y, const float *x, long n, float mean, float scale, float shift)
{
    for (long i = 0; i < n; i++)
        y[i] = (x[i] - mean) * scale + shift;
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
        sums_forward(xc, n, k, &s, &q);
        const double mean = k + s / (double)n;
        double var = (q - s * (s / (double)n)) / (double)n;
        var = var > 0 ? var : 0;
        double inv = 1.0 / sqrt(var + eps);
        saved[c] = (float)mean;
        saved[C + c] = (float)inv;
        if (moving_mean && moving_var) {
            double unbiased = n > 1 ? var * (double)n / (double)(n - 1) : var;
            moving_mean[c] = (float)(momentum * moving_mean[c] + (1.0 - momentum) * mean);
            moving_var[c] = (float)(momentum * moving_var[c] + (1.0 - momentum) * unbiased);
        }
        affine(y + (long)c * n, xc, n, saved[c], gamma[c] * saved[C + c], beta[c]);
    }
}

void bn_forward_eval(float *y, const float *x, const float *gamma, const float *beta,
                     const float *moving_mean, const float *moving_var, int C, long n,
                     double eps)
{
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        float scale = (float)(gamma[c] / sqrt((double)moving_var[c] + eps));
        affine(y + (long)c * n, x + (long)c * n, n, moving_mean[c], scale, beta[c]);
    }
}

/* dx[i] = a * (dy[i] - mdy - (x[i] - mean) * k); dx may alias dy */
CLONES static void dx_row(float *dx, const float *dy, const float *x, long n, float a,
                          float mdy, float mean, float k)
{
    for (long i = 0; i < n; i++)
        dx[i] = a * (dy[i] - mdy - (x[i] - mean) * k);
}

/* With x_hat = (x - mean) * inv and the sums over the channel,
 *   dbeta = sum dy, dgamma = sum dy * x_hat,
 *   dx = gamma * inv * (dy - sum dy / n - x_hat * (sum dy * x_hat) / n). */
void bn_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                 const float *gamma, const float *saved, int C, long n)
{
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        const long o = (long)c * n;
        const float mean = saved[c], inv = saved[C + c];
        double sdy, sdyx;
        sums_backward(dy + o, x + o, n, mean, &sdy, &sdyx);
        dbeta[c] += (float)sdy;
        dgamma[c] += (float)(sdyx * inv);
        const float a = gamma[c] * inv, mdy = (float)(sdy / (double)n);
        const float k = (float)(sdyx * inv * inv / (double)n);
        dx_row(dx + o, dy + o, x + o, n, a, mdy, mean, k);
    }
}
