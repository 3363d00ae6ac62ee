/* stats_plan.c: what to do next: the seeds a t-test needs for a given power, and
 * the sequential rule of `decide:` that adds seeds until a comparison is
 * settled. */
#include "sweep/stats.h"

#include <math.h>

/* ---- Power and seeds -------------------------------------------------- */

/* Both tests have noncentrality e sqrt(n) and dof (n - 1) k: e = |diff| /
 * sd_d and k = 1 when paired; e = |diff| / sqrt(sd_x^2 + sd_b^2) and k =
 * 1 / (w_x^2 + w_b^2) with the variance shares w for Welch (k in [1, 2]). */
static double power_at(double e, double k, double n, double alpha)
{
    double dof = (n - 1) * k;
    return stats_nct_power(stats_t_quantile(1 - alpha / 2, dof), dof, e * sqrt(n));
}

static int bad_level(double alpha)
{
    return !(alpha > 0 && alpha < 1);
}

double stats_power_paired(double diff, double sd_d, double n, double alpha)
{
    if (isnan(diff) || !(sd_d >= 0) || !(n >= 2) || bad_level(alpha))
        return NAN;
    if (sd_d == 0)   /* the test then rejects exactly when diff != 0 */
        return diff == 0 ? 0 : 1;
    return power_at(fabs(diff) / sd_d, 1, n, alpha);
}

/* e and k of Welch's test, from the variance shares (no underflow) */
static void welch_effect(double diff, double sd_x, double sd_b, double *e, double *k)
{
    double vx = sd_x * sd_x, vb = sd_b * sd_b, v = vx + vb;
    double wx = vx / v, wb = vb / v;
    *e = fabs(diff) / sqrt(v);
    *k = 1 / (wx * wx + wb * wb);
}

double stats_power_welch(double diff, double sd_x, double sd_b, double n, double alpha)
{
    if (isnan(diff) || !(sd_x >= 0) || !(sd_b >= 0) || !(n >= 2) || bad_level(alpha))
        return NAN;
    if (sd_x == 0 && sd_b == 0)
        return diff == 0 ? 0 : 1;
    double e, k;
    welch_effect(diff, sd_x, sd_b, &e, &k);
    return power_at(e, k, n, alpha);
}

/* The least n >= 2 with power_at(n) >= power. Starts from the normal
 * approximation n0 = ((z_{1-alpha/2} + z_power) / e)^2, doubles until the
 * power is reached, then bisects: power rises with n. */
static double seeds_search(double e, double k, double alpha, double power)
{
    if (e == 0)
        return INFINITY;
    if (isinf(e))
        return 2;
    double z = stats_t_quantile(1 - alpha / 2, INFINITY) + stats_t_quantile(power, INFINITY);
    double lo = 1, hi = ceil(z * z / (e * e));   /* lo: below every valid n */
    if (!(hi >= 2))
        hi = 2;
    if (hi > STATS_SEEDS_MAX)
        hi = STATS_SEEDS_MAX;
    while (power_at(e, k, hi, alpha) < power) {
        if (hi >= STATS_SEEDS_MAX)
            return INFINITY;
        lo = hi;
        hi = fmin(2 * hi, STATS_SEEDS_MAX);
    }
    while (hi - lo > 1) {
        double mid = floor((lo + hi) / 2);
        if (power_at(e, k, mid, alpha) >= power)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

static int bad_power(double alpha, double power)
{
    return bad_level(alpha) || !(power > 0 && power < 1);
}

double stats_seeds_paired(double diff, double sd_d, double alpha, double power)
{
    if (isnan(diff) || !(sd_d >= 0) || bad_power(alpha, power))
        return NAN;
    if (sd_d == 0)
        return diff == 0 ? INFINITY : 2;
    return seeds_search(fabs(diff) / sd_d, 1, alpha, power);
}

double stats_seeds_welch(double diff, double sd_x, double sd_b, double alpha, double power)
{
    if (isnan(diff) || !(sd_x >= 0) || !(sd_b >= 0) || bad_power(alpha, power))
        return NAN;
    if (sd_x == 0 && sd_b == 0)
        return diff == 0 ? INFINITY : 2;
    double e, k;
    welch_effect(diff, sd_x, sd_b, &e, &k);
    return seeds_search(e, k, alpha, power);
}

/* ---- Sequential decision ---------------------------------------------- */

int stats_decide(const stats_decide_rule *rule, const double *d, int n,
                 stats_decision *decision, double *low, double *high)
{
    *decision = STATS_UNDECIDED;
    if (low)
        *low = NAN;
    if (high)
        *high = NAN;
    if (!rule || !(rule->rope >= 0) || rule->seeds_min < 2 ||
        rule->seeds_max < rule->seeds_min)
        return -1;
    if (n < rule->seeds_min)
        return 0;   /* not one of the planned looks */
    for (int i = 0; i < n; i++)
        if (isnan(d[i]))
            return 0;
    /* Bonferroni over the K planned looks: each interval at 1 - alpha/K */
    double looks = (double)rule->seeds_max - rule->seeds_min + 1;
    double q = stats_t_quantile(1 - STATS_ALPHA / (2 * looks), n - 1);
    double mean = stats_mean(d, n), half = q * stats_sd(d, n) / sqrt((double)n);
    double lo = mean - half, hi = mean + half;
    if (low)
        *low = lo;
    if (high)
        *high = hi;
    double rope = rule->rope;
    if (lo > rope)
        *decision = rule->higher_is_better ? STATS_BETTER : STATS_WORSE;
    else if (hi < -rope)
        *decision = rule->higher_is_better ? STATS_WORSE : STATS_BETTER;
    else if (lo >= -rope && hi <= rope)
        *decision = STATS_EQUIVALENT;
    return 0;
}
