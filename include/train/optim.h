/* optim.h: the optimizers, one table row each, over one flat parameter
 * buffer. The update rules are optim_rules.h's (torch.optim's arithmetic);
 * this table names them and owns their state.
 *
 *   adam     Kingma & Ba (PyTorch's form); weight_decay as L2 (g + wd*p)
 *   adamw    Adam with decoupled weight decay (torch.optim.AdamW)
 *   sgd      plain, or with momentum (and Nesterov); weight_decay as L2
 *   rmsprop  Keras' rho 0.9, eps 1e-7; optional momentum; weight_decay as L2
 *
 * Weight decay applies to every parameter tensor (biases, PReLU slopes and
 * batch norm's gamma and beta included), as torch.optim does when given
 * model.parameters().
 *
 * Adding an optimizer: one optim_kind value, one rule in optim_rules.c,
 * one row in optim.c, and a step test in tests/unit. */
#ifndef SWEEP_OPTIM_H
#define SWEEP_OPTIM_H

#include "base/error.h"
#include "train/optim_rules.h"

typedef enum { OPT_ADAM, OPT_SGD, OPT_ADAMW, OPT_RMSPROP, OPT_COUNT } optim_kind;

typedef struct {
    optim_kind kind;
    optim_hyper h;                 /* h.lr is this epoch's rate (schedule applied) */
    long n;
    long t;                        /* steps taken */
    float *s0, *s1;                /* the rule's state buffers (n each) where
                                      optim_states says, else NULL; kept in
                                      checkpoints. adam: m, v; sgd: momentum
                                      buffer; rmsprop: mean square, momentum */
} optimizer;

/* One optimizer: its name and its rule. */
typedef struct {
    optim_kind kind;
    const char *name;   /* as written in YAML, on the CLI, in the database */
    const optim_rule *rule;
} optim_desc;

/* The row of kind; NULL if kind is not an optimizer. */
const optim_desc *optim_info(optim_kind kind);
/* Number of optimizers: kinds are 0 .. optim_count() - 1. */
int optim_count(void);
/* Kind of a name; -1 if unknown (or NULL). Case-sensitive. */
int optim_from_name(const char *name);
/* Name of kind; "?" if kind is not an optimizer. */
const char *optim_name(optim_kind kind);
/* Which state buffers kind keeps with h: bit 0 s0, bit 1 s1. */
int optim_states(optim_kind kind, const optim_hyper *h);

/* Keras' defaults (optim_hyper_default) with learning rate lr. */
int optim_init(optimizer *o, optim_kind kind, float lr, long n, sw_error *err);
/* With every hyper-parameter given. */
int optim_init_hyper(optimizer *o, optim_kind kind, const optim_hyper *h, long n,
                     sw_error *err);
void optim_free(optimizer *o);

/* One update of params from grads at rate o->h.lr, as the row's rule says;
 * element-wise, so deterministic. */
void optim_step(optimizer *o, float *params, const float *grads);

#endif
