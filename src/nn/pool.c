/* pool.c: 2x2 max pooling, stride 2, floor. Parallel over planes; each
 * output and each input gradient is written by the thread owning its plane. */
#include "nn/pool.h"

#include <string.h>

#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

enum { PLANES_PER_TASK = 16 };   /* fixed work units, not per thread */

CLONES static void pool_planes(float *restrict out, uint8_t *restrict argmax,
                               const float *restrict in, long np, int H, int W)
{
    const int OH = H / 2, OW = W / 2;
    for (long pl = 0; pl < np; pl++)
        for (int y = 0; y < OH; y++) {
            const float *r0 = in + (pl * H + 2 * y) * W, *r1 = r0 + W;
            float *o = out + (pl * OH + y) * OW;
            uint8_t *a = argmax + (pl * OH + y) * OW;
            for (int x = 0; x < OW; x++) {
                /* strict > keeps the first of equal values */
                float m = r0[2 * x];
                uint8_t k = 0;
                if (r0[2 * x + 1] > m) { m = r0[2 * x + 1]; k = 1; }
                if (r1[2 * x] > m) { m = r1[2 * x]; k = 2; }
                if (r1[2 * x + 1] > m) { m = r1[2 * x + 1]; k = 3; }
                o[x] = m;
                a[x] = k;
            }
        }
}

void maxpool_forward(float *out, uint8_t *argmax, const float *in,
                     long planes, int H, int W)
{
    const long tasks = (planes + PLANES_PER_TASK - 1) / PLANES_PER_TASK;
    const long osz = (long)(H / 2) * (W / 2), isz = (long)H * W;
#pragma omp parallel for schedule(static)
    for (long t = 0; t < tasks; t++) {
        long p0 = t * PLANES_PER_TASK;
        long np = planes - p0 < PLANES_PER_TASK ? planes - p0 : PLANES_PER_TASK;
        pool_planes(out + p0 * osz, argmax + p0 * osz, in + p0 * isz, np, H, W);
    }
}

CLONES static void unpool_planes(float *restrict din, const float *restrict dout,
                                 const uint8_t *restrict argmax, long np,
                                 int H, int W)
{
    const int OH = H / 2, OW = W / 2;
    memset(din, 0, (size_t)np * H * W * sizeof(float));
    for (long pl = 0; pl < np; pl++)
        for (int y = 0; y < OH; y++) {
            float *r0 = din + (pl * H + 2 * y) * W, *r1 = r0 + W;
            const float *g = dout + (pl * OH + y) * OW;
            const uint8_t *a = argmax + (pl * OH + y) * OW;
            for (int x = 0; x < OW; x++) {
                r0[2 * x] = a[x] == 0 ? g[x] : 0.0f;
                r0[2 * x + 1] = a[x] == 1 ? g[x] : 0.0f;
                r1[2 * x] = a[x] == 2 ? g[x] : 0.0f;
                r1[2 * x + 1] = a[x] == 3 ? g[x] : 0.0f;
            }
        }
}

void maxpool_backward(float *din, const float *dout, const uint8_t *argmax,
                      long planes, int H, int W)
{
    const long tasks = (planes + PLANES_PER_TASK - 1) / PLANES_PER_TASK;
    const long osz = (long)(H / 2) * (W / 2), isz = (long)H * W;
#pragma omp parallel for schedule(static)
    for (long t = 0; t < tasks; t++) {
        long p0 = t * PLANES_PER_TASK;
        long np = planes - p0 < PLANES_PER_TASK ? planes - p0 : PLANES_PER_TASK;
        unpool_planes(din + p0 * isz, dout + p0 * osz, argmax + p0 * osz, np, H, W);
    }
}
