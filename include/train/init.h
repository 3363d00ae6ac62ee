/* init.h: the weight initialisations, one table row each.
 *
 * Adding an initialisation: one init_kind value, one row in init.c (its
 * distribution, fan and scale), and a statistics test in
 * tests/unit/test_train.c. */
#ifndef SWEEP_INIT_H
#define SWEEP_INIT_H

#include <stdint.h>

typedef enum { INIT_HE, INIT_GLOROT, INIT_LECUN, INIT_COUNT } init_kind;

typedef enum { INIT_NORMAL, INIT_UNIFORM } init_dist;
typedef enum { INIT_FAN_IN, INIT_FAN_SUM } init_fan;   /* fan_in, fan_in + fan_out */

typedef struct {
    init_kind kind;
    const char *name;   /* as written in YAML, on the CLI, in the database */
    init_dist dist;
    init_fan fan;
    double scale;       /* normal: std = sqrt(scale / fan); uniform over
                           [-limit, limit): limit = sqrt(scale / fan) */
} init_desc;

/* The row of kind; NULL if kind is not an initialisation. */
const init_desc *init_info(init_kind kind);
/* Number of initialisations: kinds are 0 .. init_count() - 1. */
int init_count(void);
/* Kind of a name; -1 if unknown (or NULL). Case-sensitive. */
int init_from_name(const char *name);
/* Name of kind; "?" if kind is not an initialisation. */
const char *init_name(init_kind kind);

/* Fills w (size weights of a tensor with fan_in inputs and fan_out outputs
 * per unit) as kind says, element i from the counter RNG keyed on (seed,
 * purpose, 0, i): the same bits whatever the thread count. */
void init_fill(init_kind kind, float *w, long size, int fan_in, int fan_out,
               uint64_t seed, uint64_t purpose);

#endif
