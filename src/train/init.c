/* init.c: the initialisation table and the one loop that draws from it. */
#include "train/init.h"

#include <math.h>
#include <string.h>

#include "base/rng.h"

static const init_desc table[] = {
    [INIT_HE] = {INIT_HE, "he", INIT_NORMAL, INIT_FAN_IN, 2.0},               /* He normal */
    [INIT_GLOROT] = {INIT_GLOROT, "glorot", INIT_UNIFORM, INIT_FAN_SUM, 6.0}, /* Glorot uniform */
    [INIT_LECUN] = {INIT_LECUN, "lecun", INIT_NORMAL, INIT_FAN_IN, 1.0},      /* LeCun normal: selu */
};
_Static_assert(sizeof table / sizeof table[0] == INIT_COUNT, "one row per init_kind");

const init_desc *init_info(init_kind kind)
{
    return (unsigned)kind < INIT_COUNT ? &table[kind] : NULL;
}

int init_count(void) { return INIT_COUNT; }

int init_from_name(const char *name)
{
    if (!name)
        return -1;
    for (int k = 0; k < INIT_COUNT; k++)
        if (strcmp(name, table[k].name) == 0)
            return k;
    return -1;
}

const char *init_name(init_kind kind)
{
    return (unsigned)kind < INIT_COUNT ? table[kind].name : "?";
}

void init_fill(init_kind kind, float *w, long size, int fan_in, int fan_out,
               uint64_t seed, uint64_t purpose)
{
    const init_desc *d = &table[kind];
    double fan = d->fan == INIT_FAN_IN ? fan_in : fan_in + fan_out;
    double s = sqrt(d->scale / fan);
    if (d->dist == INIT_NORMAL)
        for (long i = 0; i < size; i++)
            w[i] = (float)(s * rng_normal(seed, purpose, 0, (uint64_t)i));
    else
        for (long i = 0; i < size; i++)
            w[i] = (float)(s * (2.0 * rng_uniform(seed, purpose, 0, (uint64_t)i) - 1.0));
}
