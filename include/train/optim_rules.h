/* optim_rules.h: the update rules of Adam, AdamW, SGD (momentum, Nesterov)
 * and RMSprop over one flat buffer, as torch.optim computes them.
 * Element-wise, so any OpenMP split gives the same bits.
 *
 * Each rule updates params p (n) from grads g (n) and its state buffers
 * s0, s1 (n each, zero before the first step), at step t (1 for the first
 * step; Adam's bias corrections need it). What s0 and s1 hold, and which
 * may be NULL, is in optim_rules[] below; a checkpoint must keep them and t.
 *
 * weight_decay: decoupled for adamw (p -= lr*wd*p before the Adam step, as
 * torch.optim.AdamW); added to the gradient (g + wd*p) for adam, sgd and
 * rmsprop, as torch.optim.Adam / SGD / RMSprop do. */
#ifndef SWEEP_OPTIM_RULES_H
#define SWEEP_OPTIM_RULES_H

typedef struct {
    float lr;            /* this step's rate, schedule applied */
    float beta1, beta2;  /* adam, adamw: 0.9, 0.999 */
    float rho;           /* rmsprop: 0.9 (Keras; torch's alpha) */
    float eps;           /* 1e-7 (Keras) for adam, adamw, rmsprop */
    float momentum;      /* sgd, rmsprop; 0 = none */
    float weight_decay;  /* >= 0 */
    int nesterov;        /* sgd with momentum > 0 */
} optim_hyper;

/* Keras' defaults for the given rule ("adam", ...; lr 1e-3, betas
 * 0.9/0.999, rho 0.9, eps 1e-7, momentum 0, weight decay 0, no Nesterov). */
void optim_hyper_default(optim_hyper *h);

typedef void (*optim_rule_fn)(float *p, float *s0, float *s1, const float *g, long n,
                              const optim_hyper *h, long t);

/* adam: s0 = m, s1 = v. Kingma & Ba's Algorithm 1, PyTorch's form:
 * p -= lr/(1-beta1^t) * m / (sqrt(v)/sqrt(1-beta2^t) + eps). With
 * weight_decay 0 it gives the bits of optim.c's Adam. */
void optim_rule_adam(float *p, float *s0, float *s1, const float *g, long n,
                     const optim_hyper *h, long t);

/* adamw: s0 = m, s1 = v; p *= 1 - lr*wd, then the Adam step. */
void optim_rule_adamw(float *p, float *s0, float *s1, const float *g, long n,
                      const optim_hyper *h, long t);

/* sgd: s0 = momentum buffer (may be NULL when momentum is 0), s1 unused.
 * torch.optim.SGD with dampening 0: buf = momentum*buf + g;
 * p -= lr * (nesterov ? g + momentum*buf : buf). Momentum 0: p -= lr*g. */
void optim_rule_sgd(float *p, float *s0, float *s1, const float *g, long n,
                    const optim_hyper *h, long t);

/* rmsprop: s0 = mean square, s1 = momentum buffer (may be NULL when
 * momentum is 0). torch.optim.RMSprop(alpha=rho, eps), not centered:
 *   sq = rho*sq + (1-rho)*g^2;  d = g / (sqrt(sq) + eps);
 *   momentum 0: p -= lr*d;  else buf = momentum*buf + d, p -= lr*buf.
 * Keras differs in two places: eps inside the root, g / sqrt(sq + eps)
 * (the two agree unless sq is near eps^2 = 1e-14 or below, i.e. for
 * gradients under ~1e-7), and Keras' momentum buffer accumulates lr*d, so
 * with a schedule its old steps keep their old rate. */
void optim_rule_rmsprop(float *p, float *s0, float *s1, const float *g, long n,
                        const optim_hyper *h, long t);

/* The table: name, rule, and which state buffers it needs (bit 0: s0,
 * bit 1: s1) for the given hyper-parameters. */
typedef struct {
    const char *name;
    optim_rule_fn step;
    int (*states)(const optim_hyper *h);
} optim_rule;

extern const optim_rule optim_rules[];
extern const int optim_rules_count;

/* The rule called name, NULL if unknown. */
const optim_rule *optim_rule_find(const char *name);

#endif
