/* optim.c: the optimizer table, Adam and SGD. Element-wise updates, so any
 * thread split gives the same bits. */
#include "train/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void sgd_step(optimizer *o, float *restrict params, const float *restrict grads)
{
    long n = o->n;
    float lr = o->lr;
    #pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++)
        params[i] -= lr * grads[i];
}

static void adam_step(optimizer *o, float *restrict params, const float *restrict grads)
{
    long n = o->n;
    float b1 = o->beta1, b2 = o->beta2, eps = o->eps;
    /* bias corrections in double, once per step */
    float step = (float)(o->lr / (1.0 - pow(o->beta1, (double)o->t)));
    float inv_sqrt_bc2 = (float)(1.0 / sqrt(1.0 - pow(o->beta2, (double)o->t)));
    float *restrict m = o->m, *restrict v = o->v;
    #pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        float g = grads[i];
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * g * g;
        params[i] -= step * m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + eps);
    }
}

static const optim_desc table[] = {
    [OPT_ADAM] = {OPT_ADAM, "adam", 1, adam_step},
    [OPT_SGD] = {OPT_SGD, "sgd", 0, sgd_step},
};
_Static_assert(sizeof table / sizeof table[0] == OPT_COUNT, "one row per optim_kind");

const optim_desc *optim_info(optim_kind kind)
{
    return (unsigned)kind < OPT_COUNT ? &table[kind] : NULL;
}

int optim_count(void) { return OPT_COUNT; }

int optim_from_name(const char *name)
{
    if (!name)
        return -1;
    for (int k = 0; k < OPT_COUNT; k++)
        if (strcmp(name, table[k].name) == 0)
            return k;
    return -1;
}

const char *optim_name(optim_kind kind)
{
    return (unsigned)kind < OPT_COUNT ? table[kind].name : "?";
}

int optim_init(optimizer *o, optim_kind kind, float lr, long n, sw_error *err)
{
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->lr = lr;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-7f;
    o->n = n;
    if (table[kind].moments) {
        o->m = calloc((size_t)n, sizeof(float));
        o->v = calloc((size_t)n, sizeof(float));
        if (!o->m || !o->v) {
            optim_free(o);
            return sw_oom(err, "optimizer");
        }
    }
    return SW_OK;
}

void optim_free(optimizer *o)
{
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
}

void optim_step(optimizer *o, float *params, const float *grads)
{
    o->t++;
    table[o->kind].step(o, params, grads);
}
