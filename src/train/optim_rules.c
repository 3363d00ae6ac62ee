/* optim_rules.c: update rules, element-wise (any thread split gives the
 * same bits). Each loop reads and writes element i only. The arithmetic
 * follows torch.optim's single-tensor code step by step in float; the
 * per-step scalars (bias corrections, 1 - lr*wd) are formed in double as
 * Python forms them, then rounded once. */
#include "train/optim_rules.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

/* Element-wise loops, vectorized per instruction set: no FMA contraction
 * outside src/nn, and sqrtf without errno (Makefile), so every clone
 * rounds each operation as the scalar code does. */
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

void optim_hyper_default(optim_hyper *h)
{
    memset(h, 0, sizeof *h);
    h->lr = 1e-3f;
    h->beta1 = 0.9f;
    h->beta2 = 0.999f;
    h->rho = 0.9f;
    h->eps = 1e-7f;
}

/* The Adam step shared by adam and adamw; wd > 0 adds wd*p to the gradient
 * (adam's L2). The loop without weight decay is optim.c's, to the bit. */
CLONES static void adam_core(float *restrict p, float *restrict m, float *restrict v,
                      const float *restrict grads, long n, const optim_hyper *h, long t,
                      float wd)
{
    float b1 = h->beta1, b2 = h->beta2, eps = h->eps;
    float step = (float)(h->lr / (1.0 - pow(h->beta1, (double)t)));
    float inv_sqrt_bc2 = (float)(1.0 / sqrt(1.0 - pow(h->beta2, (double)t)));
    if (wd == 0) {
#pragma omp parallel for schedule(static)
        for (long i = 0; i < n; i++) {
            float g = grads[i];
            m[i] = b1 * m[i] + (1.0f - b1) * g;
            v[i] = b2 * v[i] + (1.0f - b2) * g * g;
            p[i] -= step * m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + eps);
        }
        return;
    }
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        float g = grads[i] + wd * p[i];
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * g * g;
        p[i] -= step * m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + eps);
    }
}

void optim_rule_adam(float *p, float *s0, float *s1, const float *g, long n,
                     const optim_hyper *h, long t)
{
    adam_core(p, s0, s1, g, n, h, t, h->weight_decay);
}

CLONES void optim_rule_adamw(float *p, float *s0, float *s1, const float *g, long n,
                      const optim_hyper *h, long t)
{
    if (h->weight_decay != 0) {
        /* torch: param.mul_(1 - lr * weight_decay), the factor in double */
        const float keep = (float)(1.0 - (double)h->lr * h->weight_decay);
#pragma omp parallel for schedule(static)
        for (long i = 0; i < n; i++)
            p[i] *= keep;
    }
    adam_core(p, s0, s1, g, n, h, t, 0);
}

CLONES void optim_rule_sgd(float *restrict p, float *restrict s0, float *s1, const float *restrict g,
                    long n, const optim_hyper *h, long t)
{
    (void)s1, (void)t;
    const float lr = h->lr, wd = h->weight_decay, mu = h->momentum;
    if (mu == 0 && wd == 0) {   /* optim.c's SGD, to the bit */
#pragma omp parallel for schedule(static)
        for (long i = 0; i < n; i++)
            p[i] -= lr * g[i];
        return;
    }
    if (mu == 0) {
#pragma omp parallel for schedule(static)
        for (long i = 0; i < n; i++)
            p[i] -= lr * (g[i] + wd * p[i]);
        return;
    }
    const int nesterov = h->nesterov;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        float d = g[i] + wd * p[i];
        /* torch starts buf at d; from a zero buffer this gives the same */
        s0[i] = mu * s0[i] + d;
        if (nesterov)
            d = d + mu * s0[i];
        else
            d = s0[i];
        p[i] -= lr * d;
    }
}

CLONES void optim_rule_rmsprop(float *restrict p, float *restrict s0, float *restrict s1,
                        const float *restrict g, long n, const optim_hyper *h, long t)
{
    (void)t;
    const float lr = h->lr, wd = h->weight_decay, mu = h->momentum;
    const float rho = h->rho, eps = h->eps;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        float gi = g[i] + wd * p[i];
        s0[i] = rho * s0[i] + (1.0f - rho) * gi * gi;
        float d = gi / (sqrtf(s0[i]) + eps);
        if (mu != 0) {
            s1[i] = mu * s1[i] + d;
            d = s1[i];
        }
        p[i] -= lr * d;
    }
}

static int states_two(const optim_hyper *h)
{
    (void)h;
    return 3;
}

static int states_sgd(const optim_hyper *h) { return h->momentum != 0 ? 1 : 0; }

static int states_rmsprop(const optim_hyper *h) { return h->momentum != 0 ? 3 : 1; }

const optim_rule optim_rules[] = {
    {"adam", optim_rule_adam, states_two},
    {"adamw", optim_rule_adamw, states_two},
    {"sgd", optim_rule_sgd, states_sgd},
    {"rmsprop", optim_rule_rmsprop, states_rmsprop},
};
const int optim_rules_count = (int)(sizeof optim_rules / sizeof optim_rules[0]);

const optim_rule *optim_rule_find(const char *name)
{
    for (int i = 0; i < optim_rules_count; i++)
        if (strcmp(optim_rules[i].name, name) == 0)
            return &optim_rules[i];
    return NULL;
}
