/* optim.h: Adam and plain SGD over one flat parameter buffer. */
#ifndef SWEEP_OPTIM_H
#define SWEEP_OPTIM_H

#include "base/error.h"

typedef enum { OPT_ADAM, OPT_SGD } optim_kind;

typedef struct {
    optim_kind kind;
    float lr, beta1, beta2, eps;   /* Keras defaults: 1e-3, 0.9, 0.999, 1e-7 */
    long n;
    long t;                        /* steps taken */
    float *m, *v;                  /* Adam moments (n each); NULL for SGD */
} optimizer;

int optim_init(optimizer *o, optim_kind kind, float lr, long n, sw_error *err);
void optim_free(optimizer *o);

/* Adam in the form of Kingma & Ba's Algorithm 1 (PyTorch's):
 * p -= lr * mhat / (sqrt(vhat) + eps). Element-wise, so deterministic. */
void optim_step(optimizer *o, float *params, const float *grads);

/* "adam" | "sgd"; -1 if unknown. */
int optim_from_name(const char *name);
const char *optim_name(optim_kind kind);

#endif
