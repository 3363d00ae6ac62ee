/* optim.c: the optimizer table over optim_rules.c's update rules, and
 * each optimizer's state. Adam and plain SGD give the bits they gave
 * before the rules existed (tests/unit/test_bn.c holds them together). */
#include "train/optim.h"

#include <stdlib.h>
#include <string.h>

static const optim_desc table[] = {
    [OPT_ADAM] = {OPT_ADAM, "adam", &optim_rules[0]},
    [OPT_SGD] = {OPT_SGD, "sgd", &optim_rules[2]},
    [OPT_ADAMW] = {OPT_ADAMW, "adamw", &optim_rules[1]},
    [OPT_RMSPROP] = {OPT_RMSPROP, "rmsprop", &optim_rules[3]},
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

int optim_states(optim_kind kind, const optim_hyper *h)
{
    return (unsigned)kind < OPT_COUNT ? table[kind].rule->states(h) : 0;
}

int optim_init_hyper(optimizer *o, optim_kind kind, const optim_hyper *h, long n,
                     sw_error *err)
{
    memset(o, 0, sizeof *o);
    if ((unsigned)kind >= OPT_COUNT)
        return sw_err(err, SW_EINPUT, "optimizer: unknown kind %d", (int)kind);
    o->kind = kind;
    o->h = *h;
    o->n = n;
    int states = optim_states(kind, h);
    if (((states & 1) && !(o->s0 = calloc((size_t)n, sizeof(float)))) ||
        ((states & 2) && !(o->s1 = calloc((size_t)n, sizeof(float))))) {
        optim_free(o);
        return sw_oom(err, "optimizer");
    }
    return SW_OK;
}

int optim_init(optimizer *o, optim_kind kind, float lr, long n, sw_error *err)
{
    optim_hyper h;
    optim_hyper_default(&h);
    h.lr = lr;
    return optim_init_hyper(o, kind, &h, n, err);
}

void optim_free(optimizer *o)
{
    free(o->s0);
    free(o->s1);
    o->s0 = o->s1 = NULL;
}

void optim_step(optimizer *o, float *params, const float *grads)
{
    o->t++;
    table[o->kind].rule->step(params, o->s0, o->s1, grads, o->n, &o->h, o->t);
}
