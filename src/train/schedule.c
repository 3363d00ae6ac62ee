/* schedule.c: learning-rate schedules as closed forms of the epoch index
 * (torch's schedulers step recursively; the closed forms agree with them
 * to rounding, checked in tests/golden). */
#include "train/schedule.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

int sched_count(void) { return (int)(sizeof names / sizeof names[0]); }

void sched_text(const lr_schedule *s, char *buf, size_t size)
{
    if (!size)
        return;
    if (s->kind == SCHED_STEP) {
        char g[40];
        /* the shortest of %.15g and %.17g that reads back as gamma */
        snprintf(g, sizeof g, "%.15g", s->gamma + 0.0);
        if (strtod(g, NULL) != s->gamma)
            snprintf(g, sizeof g, "%.17g", s->gamma + 0.0);
        for (char *c = g; *c; c++)   /* a locale's decimal comma */
            if (*c == ',')
                *c = '.';
        snprintf(buf, size, "step:every=%d,gamma=%s", s->every, g);
    } else {
        snprintf(buf, size, "%s", sched_name(s->kind));
    }
}

int sched_parse_flag(const char *text, lr_schedule *s)
{
    memset(s, 0, sizeof *s);
    if (strcmp(text, "constant") == 0 || strcmp(text, "cosine") == 0) {
        s->kind = (sched_kind)sched_from_name(text);
        return 0;
    }
    if (strncmp(text, "step:", 5) != 0)
        return -1;
    char *end;
    long every = strtol(text + 5, &end, 10);
    if (end == text + 5 || *end != ':' || every < 1 || every > 1000000)
        return -1;
    const char *g = end + 1;
    double gamma = strtod(g, &end);
    if (end == g || *end || !(gamma > 0 && gamma <= 1))
        return -1;
    s->kind = SCHED_STEP;
    s->every = (int)every;
    s->gamma = gamma;
    return 0;
}

int sched_equal(const lr_schedule *a, const lr_schedule *b)
{
    if (a->kind != b->kind)
        return 0;
    return a->kind != SCHED_STEP || (a->every == b->every && a->gamma == b->gamma);
}
