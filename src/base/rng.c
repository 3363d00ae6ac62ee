#include "base/rng.h"

#include <math.h>

double rng_normal(uint64_t seed, uint64_t purpose, uint64_t step, uint64_t index)
{
    uint64_t r = rng_u64(seed, purpose, step, index);
    /* two 32-bit uniforms; u1 in (0, 1] so log() is finite */
    double u1 = ((double)(r >> 32) + 1.0) / 4294967296.0;
    double u2 = (double)(r & 0xffffffffu) / 4294967296.0;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
