/* stats_ttest.c: descriptive statistics and the comparison of a group with its
 * baseline: the paired and Welch t-tests with the interval of the
 * difference, Hedges' g and Holm's adjustment over a table. */
#include "sweep/stats.h"

#include <math.h>
#include <stdlib.h>

double stats_mean(const double *x, int n)
{
    if (n < 1)
        return NAN;
    double s = 0;
    for (int i = 0; i < n; i++)
        s += x[i];
    double m = s / n;
    /* second pass removes most of the first pass's rounding error */
    double r = 0;
    for (int i = 0; i < n; i++)
        r += x[i] - m;
    return m + r / n;
}

double stats_sd(const double *x, int n)
{
    if (n < 2)
        return NAN;
    double m = stats_mean(x, n), ss = 0;
    for (int i = 0; i < n; i++)
        ss += (x[i] - m) * (x[i] - m);
    return sqrt(ss / (n - 1));
}

void stats_describe(const double *x, int n, stats_summary *out)
{
    out->n = n;
    out->mean = stats_mean(x, n);
    out->sd = stats_sd(x, n);
    out->ci_low = out->ci_high = NAN;
    if (n >= 2) {
        double half = stats_t_quantile(0.975, n - 1) * out->sd / sqrt((double)n);
        out->ci_low = out->mean - half;
        out->ci_high = out->mean + half;
    }
}

int stats_welch(const stats_summary *a, const stats_summary *b, stats_welch_result *out)
{
    out->t = out->dof = out->p = NAN;
    if (a->n < 2 || b->n < 2 || isnan(a->sd) || isnan(b->sd))
        return -1;
    double va = a->sd * a->sd / a->n, vb = b->sd * b->sd / b->n, se2 = va + vb;
    double diff = a->mean - b->mean;
    if (se2 == 0) {
        out->dof = a->n + b->n - 2;
        out->t = diff == 0 ? 0 : copysign(INFINITY, diff);
        out->p = diff == 0 ? 1 : 0;
        return 0;
    }
    /* shares of the variance, so that tiny variances cannot underflow */
    double wa = va / se2, wb = vb / se2;
    out->t = diff / sqrt(se2);
    out->dof = 1 / (wa * wa / (a->n - 1) + wb * wb / (b->n - 1));
    out->p = stats_t_two_sided(out->t, out->dof);
    return 0;
}

/* ---- Paired and Welch tests ------------------------------------------- */

static void comparison_clear(stats_comparison *out, stats_test test, int n, int n_base)
{
    out->test = test;
    out->n = n;
    out->n_base = n_base;
    out->diff = out->t = out->dof = out->p = NAN;
    out->ci_low = out->ci_high = out->g = out->seeds = out->p_holm = NAN;
}

/* t, p and the 95% interval from diff, its standard error and dof; se = 0
 * is the no-noise limit documented in stats.h. */
static void finish_test(stats_comparison *out, double se, double dof)
{
    out->dof = dof;
    if (se == 0) {
        out->t = out->diff == 0 ? 0 : copysign(INFINITY, out->diff);
        out->p = out->diff == 0 ? 1 : 0;
        out->ci_low = out->ci_high = out->diff;
        return;
    }
    out->t = out->diff / se;
    out->p = stats_t_two_sided(out->t, dof);
    double half = stats_t_quantile(1 - STATS_ALPHA / 2, dof) * se;
    out->ci_low = out->diff - half;
    out->ci_high = out->diff + half;
}

/* mean and sd of x[i] - b[i], the same arithmetic as stats_mean and
 * stats_sd on the differences (so the same bits as stats_decide's) */
static void diff_moments(const double *x, const double *b, int n, double *mean, double *sd)
{
    double s = 0, r = 0, ss = 0;
    for (int i = 0; i < n; i++)
        s += x[i] - b[i];
    double m = s / n;
    for (int i = 0; i < n; i++)
        r += (x[i] - b[i]) - m;
    *mean = m + r / n;
    for (int i = 0; i < n; i++)
        ss += ((x[i] - b[i]) - *mean) * ((x[i] - b[i]) - *mean);
    *sd = n < 2 ? NAN : sqrt(ss / (n - 1));
}

int stats_paired_test(const double *x, const double *b, int n, stats_comparison *out)
{
    comparison_clear(out, STATS_PAIRED_T, n, n);
    if (n < 1)
        return -1;
    double sd_d;
    diff_moments(x, b, n, &out->diff, &sd_d);
    if (n < 2 || isnan(sd_d))
        return -1;
    finish_test(out, sd_d / sqrt((double)n), n - 1);
    stats_summary sx, sb;
    stats_describe(x, n, &sx);
    stats_describe(b, n, &sb);
    out->g = stats_hedges_g(&sx, &sb);
    out->seeds = stats_seeds_paired(out->diff, sd_d, STATS_ALPHA, STATS_POWER);
    return 0;
}

int stats_welch_test(const double *x, int n, const double *b, int n_base,
                     stats_comparison *out)
{
    comparison_clear(out, STATS_WELCH, n, n_base);
    stats_summary sx, sb;
    stats_describe(x, n, &sx);
    stats_describe(b, n_base, &sb);
    out->diff = sx.mean - sb.mean;
    stats_welch_result w;
    if (stats_welch(&sx, &sb, &w) != 0)
        return -1;
    double se = sqrt(sx.sd * sx.sd / n + sb.sd * sb.sd / n_base);
    finish_test(out, se, w.dof);
    out->g = stats_hedges_g(&sx, &sb);
    out->seeds = stats_seeds_welch(out->diff, sx.sd, sb.sd, STATS_ALPHA, STATS_POWER);
    return 0;
}

double stats_hedges_g(const stats_summary *x, const stats_summary *b)
{
    if (x->n < 2 || b->n < 2 || isnan(x->sd) || isnan(b->sd))
        return NAN;
    double n = (double)x->n + b->n;
    double sp = sqrt(((x->n - 1) * x->sd * x->sd + (b->n - 1) * b->sd * b->sd) / (n - 2));
    if (!(sp > 0))
        return NAN;
    return (1 - 3 / (4 * n - 9)) * (x->mean - b->mean) / sp;
}

/* ---- Holm ------------------------------------------------------------- */

typedef struct {
    double p;
    int i;
} ranked_p;

/* by p, then by position, so that the order is the same on every libc */
static int ranked_cmp(const void *a, const void *b)
{
    const ranked_p *x = a, *y = b;
    if (x->p != y->p)
        return x->p < y->p ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

int stats_holm(const double *p, int m, double *out)
{
    ranked_p *r = m > 0 ? malloc((size_t)m * sizeof *r) : NULL;
    if (m > 0 && !r) {
        for (int i = 0; i < m; i++)
            out[i] = NAN;
        return -1;
    }
    int k = 0;
    for (int i = 0; i < m; i++)
        if (!isnan(p[i]))
            r[k++] = (ranked_p){p[i], i};
    for (int i = 0; i < m; i++)
        if (isnan(p[i]))
            out[i] = NAN;   /* before writing the others: out may be p */
    if (k > 1)
        qsort(r, (size_t)k, sizeof *r, ranked_cmp);
    double running = 0;
    for (int j = 0; j < k; j++) {
        double adj = (double)(k - j) * r[j].p;
        if (adj > 1)
            adj = 1;
        if (adj > running)
            running = adj;
        out[r[j].i] = running;
    }
    free(r);
    return 0;
}
