/* dropout.c: inverted dropout with a counter-based mask. Element i keeps
 * iff rng_uniform(seed, purpose, step, i) >= rate: a pure function of i,
 * so any split of the work gives the same mask. */
#include "nn/dropout.h"

#include <string.h>

#include "base/rng.h"

#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

enum { CHUNK = 16384 };   /* elements per task */

/* Elements [i0, i0+n). h is the key hashed down to the index (the first
 * three rounds of rng_u64, the same for every element). Separate in-place
 * and out-of-place versions, so that neither needs gcc's runtime alias
 * check (which refuses out == in and falls back to scalar code). */
static inline __attribute__((always_inline)) uint8_t keep_bit(uint64_t h, long i,
                                                              float rate)
{
    float u = (float)(rng_mix(h ^ (uint64_t)i) >> 40) * (1.0f / 16777216.0f);
    return u >= rate;
}

CLONES static void drop_rr(float *restrict out, uint8_t *restrict mask,
                           const float *restrict in, long i0, long n, uint64_t h,
                           float rate, float scale)
{
    for (long i = 0; i < n; i++) {
        uint8_t keep = keep_bit(h, i0 + i, rate);
        mask[i] = keep;
        out[i] = keep ? in[i] * scale : 0.0f;
    }
}

CLONES static void drop_ip(float *restrict io, uint8_t *restrict mask, long i0,
                           long n, uint64_t h, float rate, float scale)
{
    for (long i = 0; i < n; i++) {
        uint8_t keep = keep_bit(h, i0 + i, rate);
        mask[i] = keep;
        io[i] = keep ? io[i] * scale : 0.0f;
    }
}

CLONES static void undrop_rr(float *restrict din, const float *restrict dout,
                             const uint8_t *restrict mask, long n, float scale)
{
    for (long i = 0; i < n; i++)
        din[i] = mask[i] ? dout[i] * scale : 0.0f;
}

CLONES static void undrop_ip(float *restrict io, const uint8_t *restrict mask,
                             long n, float scale)
{
    for (long i = 0; i < n; i++)
        io[i] = mask[i] ? io[i] * scale : 0.0f;
}

/* The key hashed down to the step: the first three rounds of rng_u64. */
static uint64_t step_key(uint64_t seed, uint64_t purpose, uint64_t step)
{
    return rng_mix(rng_mix(rng_mix(seed) ^ purpose) ^ step);
}

void dropout_range(float *out, uint8_t *mask, const float *in, long n, float rate,
                   uint64_t seed, uint64_t purpose, uint64_t step, long i0)
{
    if (rate <= 0) {
        memmove(out, in, (size_t)n * sizeof(float));
        memset(mask, 1, (size_t)n);
    } else if (out == in) {
        drop_ip(out, mask, i0, n, step_key(seed, purpose, step), rate, 1.0f / (1.0f - rate));
    } else {
        drop_rr(out, mask, in, i0, n, step_key(seed, purpose, step), rate,
                1.0f / (1.0f - rate));
    }
}

void dropout_forward(float *out, uint8_t *mask, const float *in, long n,
                     float rate, uint64_t seed, uint64_t purpose, uint64_t step)
{
    if (rate <= 0) {
        dropout_range(out, mask, in, n, rate, seed, purpose, step, 0);
        return;
    }
    const uint64_t h = step_key(seed, purpose, step);
    const float scale = 1.0f / (1.0f - rate);
    const long tasks = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static)
    for (long t = 0; t < tasks; t++) {
        long i0 = t * CHUNK, len = n - i0 < CHUNK ? n - i0 : CHUNK;
        if (out == in)
            drop_ip(out + i0, mask + i0, i0, len, h, rate, scale);
        else
            drop_rr(out + i0, mask + i0, in + i0, i0, len, h, rate, scale);
    }
}

void dropout_backward(float *din, const float *dout, const uint8_t *mask,
                      long n, float rate)
{
    const float scale = rate > 0 ? 1.0f / (1.0f - rate) : 1.0f;
    const long tasks = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static)
    for (long t = 0; t < tasks; t++) {
        long i0 = t * CHUNK, len = n - i0 < CHUNK ? n - i0 : CHUNK;
        if (din == dout)
            undrop_ip(din + i0, mask + i0, len, scale);
        else
            undrop_rr(din + i0, dout + i0, mask + i0, len, scale);
    }
}
