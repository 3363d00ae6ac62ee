/* stats_text.c: a comparison in words: the sentence of `sweep compare`'s text
 * form, and the names of tests and decisions. */
#include "sweep/stats.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

const char *stats_test_name(stats_test test)
{
    return test == STATS_PAIRED_T ? "paired t" : "welch";
}

const char *stats_decision_name(stats_decision decision)
{
    switch (decision) {
    case STATS_BETTER:
        return "better";
    case STATS_WORSE:
        return "worse";
    case STATS_EQUIVALENT:
        return "equivalent";
    default:
        return "undecided";
    }
}

/* Appends to a snprintf-style buffer, counting what the whole needs. */
typedef struct {
    char *buf;
    size_t size, len;
} text;

__attribute__((format(printf, 2, 3))) static void put(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = t->len < t->size ? t->size - t->len : 0;
    int n = vsnprintf(room ? t->buf + t->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len += (size_t)n;
}

/* Decimals that keep two significant digits of x (> 0), within [0, 8]. */
static int decimals_for(double x, int fallback)
{
    if (!(x > 0) || isinf(x))
        return fallback;
    int d = 1 - (int)floor(log10(x));
    return d < 0 ? 0 : d > 8 ? 8 : d;
}

/* A p value with enough digits to show its side of alpha: 0.0496 is not
 * printed as "0.05". Below 0.001 it reads "<0.001". */
static void put_p(text *t, const char *eq, double p)
{
    if (isnan(p)) {
        put(t, "%sn/a", eq);
        return;
    }
    if (p < 0.001) {
        put(t, "%s<0.001", *eq == '=' ? "" : eq);
        return;
    }
    int dec = p >= 0.01 ? 2 : 3;
    char s[32];
    for (;; dec++) {
        snprintf(s, sizeof s, "%.*f", dec, p);
        if (dec >= 6 || (strtod(s, NULL) < STATS_ALPHA) == (p < STATS_ALPHA))
            break;
    }
    put(t, "%s%s", eq, s);
}

/* The clause after the verdict: how many seeds a difference this size
 * needs. */
static void put_seeds(text *t, const stats_comparison *c)
{
    if (isnan(c->seeds))
        return;
    if (c->diff == 0)
        put(t, "; the means are equal");
    else if (isinf(c->seeds))
        put(t, "; more than %.0f seeds would be needed to detect a difference this size "
               "with %.0f%% power", STATS_SEEDS_MAX, 100 * STATS_POWER);
    else
        put(t, "; about %.0f seeds would detect a difference this size with %.0f%% power",
            c->seeds, 100 * STATS_POWER);
}

size_t stats_sentence(char *buf, size_t size, const char *name, const char *base_name,
                      const stats_comparison *c, stats_units units)
{
    text t = {buf, size, 0};
    if (size)
        buf[0] = '\0';
    double scale = units == STATS_UNITS_POINTS ? 100 : 1;
    const char *unit = units == STATS_UNITS_POINTS ? " points" : "";
    put(&t, "%s vs %s: ", name, base_name);
    if (c->n < 1 || c->n_base < 1) {
        put(&t, "no runs to compare (%d and %d)", c->n, c->n_base);
        return t.len;
    }
    if (isnan(c->diff)) {
        put(&t, "no comparison, a run's value is not a number");
        return t.len;
    }
    double half = (c->ci_high - c->ci_low) / 2 * scale;
    int dec = decimals_for(half, decimals_for(fabs(c->diff) * scale, 2));
    put(&t, "%+.*f%s", dec, c->diff * scale, unit);
    if (isnan(c->p)) {
        if (c->n < 2 || c->n_base < 2)
            put(&t, ", too few seeds for a test (%d and %d; 2 each needed)", c->n,
                c->n_base);
        else
            put(&t, ", no test: a run's value is not a number");
        return t.len;
    }
    put(&t, " [%+.*f, %+.*f], %s p", dec, c->ci_low * scale, dec, c->ci_high * scale,
        c->test == STATS_PAIRED_T ? "paired t" : "Welch t");
    put_p(&t, "=", c->p);
    if (!isnan(c->p_holm)) {
        put(&t, " (Holm");
        put_p(&t, " ", c->p_holm);
        put(&t, ")");
    }
    if (isfinite(c->g))
        put(&t, ", g=%.*f", fabs(c->g) >= 10 ? 0 : 1, c->g);
    double p = isnan(c->p_holm) ? c->p : c->p_holm;
    if (p < STATS_ALPHA) {
        put(&t, ": significant at %.0f%%", 100 * STATS_ALPHA);
        return t.len;
    }
    put(&t, ": not significant at %.0f%%", 100 * STATS_ALPHA);
    if (c->p < STATS_ALPHA)
        put(&t, " after Holm's correction");
    put_seeds(&t, c);
    return t.len;
}
