/* optim.h: the optimizers, one table row each, over one flat parameter
 * buffer.
 *
 * Adding an optimizer: one optim_kind value, one row in optim.c with its
 * step function, and a by-hand step test in tests/unit/test_train.c. */
#ifndef SWEEP_OPTIM_H
#define SWEEP_OPTIM_H

#include "base/error.h"

typedef enum { OPT_ADAM, OPT_SGD, OPT_COUNT } optim_kind;

typedef struct {
    optim_kind kind;
    float lr, beta1, beta2, eps;   /* Keras defaults: 1e-3, 0.9, 0.999, 1e-7 */
    long n;
    long t;                        /* steps taken */
    float *m, *v;                  /* moments (n each) when the row has them,
                                      else NULL; kept in checkpoints */
} optimizer;

/* One optimizer: its name, its state, its update. */
typedef struct {
    optim_kind kind;
    const char *name;   /* as written in YAML, on the CLI, in the database */
    int moments;        /* keeps m and v (Adam's first and second moments) */
    void (*step)(optimizer *o, float *params, const float *grads);
} optim_desc;

/* The row of kind; NULL if kind is not an optimizer. */
const optim_desc *optim_info(optim_kind kind);
/* Number of optimizers: kinds are 0 .. optim_count() - 1. */
int optim_count(void);
/* Kind of a name; -1 if unknown (or NULL). Case-sensitive. */
int optim_from_name(const char *name);
/* Name of kind; "?" if kind is not an optimizer. */
const char *optim_name(optim_kind kind);

int optim_init(optimizer *o, optim_kind kind, float lr, long n, sw_error *err);
void optim_free(optimizer *o);

/* One update of params from grads, as the row's step says; element-wise,
 * so deterministic. Adam in the form of Kingma & Ba's Algorithm 1
 * (PyTorch's): p -= lr * mhat / (sqrt(vhat) + eps). */
void optim_step(optimizer *o, float *params, const float *grads);

#endif
