/* rng.h: counter-based random numbers keyed on (seed, purpose, step, index).
 * Every draw is a pure function of its key, so results do not depend on the
 * thread count, the job count or the order in which draws are made. */
#ifndef SWEEP_RNG_H
#define SWEEP_RNG_H

#include <stdint.h>

/* Purposes: one stream per use, so that e.g. adding dropout never changes
 * the initial weights. Layer-specific purposes add the layer index. */
enum {
    RNG_INIT = 1 << 8,      /* + parameter tensor index */
    RNG_SHUFFLE = 2 << 8,   /* step = epoch */
    RNG_DROPOUT = 3 << 8,   /* + dropout layer index; step = global batch */
    RNG_AUGMENT = 4 << 8,   /* step = epoch, index = example in its split */
};

static inline uint64_t rng_mix(uint64_t z)
{
    /* splitmix64 finaliser: a strong 64-bit bijection */
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rng_u64(uint64_t seed, uint64_t purpose, uint64_t step,
                               uint64_t index)
{
    uint64_t h = rng_mix(seed);
    h = rng_mix(h ^ purpose);
    h = rng_mix(h ^ step);
    return rng_mix(h ^ index);
}

/* Uniform in [0, 1) with 24 random bits. */
static inline float rng_uniform(uint64_t seed, uint64_t purpose, uint64_t step,
                                uint64_t index)
{
    return (float)(rng_u64(seed, purpose, step, index) >> 40) * (1.0f / 16777216.0f);
}

/* Standard normal (Box-Muller in double from one 64-bit draw's two halves). */
double rng_normal(uint64_t seed, uint64_t purpose, uint64_t step, uint64_t index);

#endif
