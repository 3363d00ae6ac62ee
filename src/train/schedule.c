/* schedule.c: learning-rate schedules as closed forms of the epoch index
 * (torch's schedulers step recursively; the closed forms agree with them
 * to rounding, checked in tests/golden). */
#include "train/schedule.h"

#include <math.h>
#include <string.h>

static const char *const names[] = {"constant", "step", "cosine"};

double lr_at(const lr_schedule *s, double base_lr, int epoch, int epochs)
{
    if (epoch < 0)
        epoch = 0;
    switch (s->kind) {
    case SCHED_STEP:
        return base_lr * pow(s->gamma, (double)(epoch / (s->every > 0 ? s->every : 1)));
    case SCHED_COSINE:
        if (epochs < 1)
            return base_lr;
        return base_lr * (1.0 + cos(M_PI * (double)epoch / (double)epochs)) / 2.0;
    case SCHED_CONSTANT:
    default:
        return base_lr;
    }
}

int sched_from_name(const char *name)
{
    for (int k = 0; k < (int)(sizeof names / sizeof names[0]); k++)
        if (strcmp(name, names[k]) == 0)
            return k;
    return -1;
}

const char *sched_name(sched_kind kind)
{
    return (unsigned)kind < sizeof names / sizeof names[0] ? names[kind] : "?";
}
