/* stats_dist.c: the distributions behind `sweep compare`: Student's t through the
 * regularized incomplete beta function, evaluated by its continued fraction
 * (modified Lentz), and the power of the t-test from the noncentral t. */
#include "sweep/stats.h"

#include <float.h>
#include <math.h>

#define BETA_MAX_ITER 1000000   /* terms grow like sqrt(max(a, b)) near the mean */
#define BETA_EPS 1e-16
#define TINY 1e-300
#define T_NORMAL_DOF 1e10     /* beyond this, Student's t is taken as normal */

/* Stirling's series of ln Gamma(z) minus its leading terms, for z >= 100
 * (the next term, 1/(1188 z^9), is below 1e-21 there). */
static double stirling_tail(double z)
{
    double r = 1 / (z * z);
    return (1.0 / 12 - r * (1.0 / 360 - r * (1.0 / 1260 - r / 1680))) / z;
}

/* ln Gamma(a + b) - ln Gamma(a) for a >= 100, without subtracting two
 * huge lgamma values (t with a million dof needs this). */
static double lgamma_diff(double a, double b)
{
    return (a - 0.5) * log1p(b / a) + b * log(a + b) - b + stirling_tail(a + b) -
           stirling_tail(a);
}

/* ln B(a, b) */
static double lbeta(double a, double b)
{
    double big = a > b ? a : b, small = a > b ? b : a;
    if (big >= 100)
        return lgamma(small) - lgamma_diff(big, small);
    return lgamma(a) + lgamma(b) - lgamma(a + b);
}

/* The continued fraction of I_x(a, b) = front * cf / a, y = 1 - x given
 * separately so that x near 1 keeps its precision. Converges quickly for
 * x < (a + 1) / (a + b + 2); NAN if it does not converge. */
static double beta_cf(double a, double b, double x, double y)
{
    /* 1 - (a + b) x / (a + 1), written with y: for x near 1 (t with huge
     * dof) the direct form cancels to a few digits */
    double c = 1, d = (1 - b + (a + b) * y) / (a + 1);
    if (fabs(d) < TINY)
        d = TINY;
    d = 1 / d;
    double f = d;
    for (int m = 1; m <= BETA_MAX_ITER; m++) {
        double m2 = 2.0 * m;
        /* even term d_2m */
        double num = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
        d = 1 + num * d;
        c = 1 + num / c;
        if (fabs(d) < TINY)
            d = TINY;
        if (fabs(c) < TINY)
            c = TINY;
        d = 1 / d;
        f *= d * c;
        /* odd term d_2m+1 */
        num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
        d = 1 + num * d;
        c = 1 + num / c;
        if (fabs(d) < TINY)
            d = TINY;
        if (fabs(c) < TINY)
            c = TINY;
        d = 1 / d;
        double delta = d * c;
        f *= delta;
        if (fabs(delta - 1) < BETA_EPS)
            return f;
    }
    return NAN;
}

/* I_x(a, b) with y = 1 - x. */
static double betainc_xy(double a, double b, double x, double y)
{
    if (x <= 0)
        return 0;
    if (y <= 0)
        return 1;
    double lx = x < 0.5 ? log(x) : log1p(-y), ly = y < 0.5 ? log(y) : log1p(-x);
    double front = exp(a * lx + b * ly - lbeta(a, b));
    /* the fraction converges fast below the distribution's bulk; above
     * it, use I_x(a, b) = 1 - I_y(b, a) */
    if (x < (a + 1) / (a + b + 2))
        return front * beta_cf(a, b, x, y) / a;
    return 1 - front * beta_cf(b, a, y, x) / b;
}

double stats_betainc(double a, double b, double x)
{
    if (!(a > 0) || !(b > 0) || !(x >= 0 && x <= 1) || isinf(a) || isinf(b))
        return NAN;
    return betainc_xy(a, b, x, 1 - x);
}

double stats_t_two_sided(double t, double dof)
{
    if (isnan(t) || !(dof > 0))
        return NAN;
    if (isinf(t))
        return 0;
    /* past 1e10 dof the fraction's terms cancel (x is within 1e-10 of 1)
     * while t and the normal agree to ~1e-10 in the bulk */
    if (dof > T_NORMAL_DOF)
        return erfc(fabs(t) / sqrt(2.0));
    /* P(|T| >= |t|) = I_x(dof/2, 1/2) with x = dof / (dof + t^2) */
    double t2 = t * t;
    return betainc_xy(dof / 2, 0.5, dof / (dof + t2), t2 / (dof + t2));
}

double stats_t_cdf(double t, double dof)
{
    double tail = stats_t_two_sided(t, dof) / 2;
    return t < 0 ? tail : 1 - tail;
}

/* The t density, for Newton's steps. */
static double t_pdf(double t, double dof)
{
    const double pi = 3.14159265358979323846;
    if (dof > T_NORMAL_DOF)
        return exp(-t * t / 2) / sqrt(2 * pi);
    double lnorm = (dof / 2 >= 100 ? lgamma_diff(dof / 2, 0.5)
                                   : lgamma((dof + 1) / 2) - lgamma(dof / 2)) -
                   0.5 * log(dof * pi);
    return exp(lnorm - (dof + 1) / 2 * log1p(t * t / dof));
}

double stats_t_quantile(double p, double dof)
{
    if (!(p > 0 && p < 1) || !(dof > 0))
        return NAN;
    if (p == 0.5)
        return 0;
    /* solve for t > 0 on the two-sided tail: precise far out, and the
     * lower half follows by symmetry */
    double target = p > 0.5 ? 2 * (1 - p) : 2 * p;
    double lo = 0, hi = 1;
    for (int i = 0; i < 2000 && stats_t_two_sided(hi, dof) > target; i++) {
        lo = hi;
        hi *= 2;
        if (isinf(hi))
            return p > 0.5 ? INFINITY : -INFINITY;
    }
    double t = (lo + hi) / 2;
    for (int i = 0; i < 400; i++) {
        double g = stats_t_two_sided(t, dof) - target;
        if (isnan(g))
            return NAN;
        if (g == 0)
            break;
        if (g > 0)
            lo = t;   /* tail too big: t too small */
        else
            hi = t;
        double next = t + g / (2 * t_pdf(t, dof));
        if (!(next > lo && next < hi))
            next = (lo + hi) / 2;   /* Newton left the bracket: bisect */
        if (fabs(next - t) <= 4 * DBL_EPSILON * t || hi - lo <= 4 * DBL_EPSILON * hi) {
            t = next;
            break;
        }
        t = next;
    }
    return p > 0.5 ? t : -t;
}


/* ---- The noncentral t, for power -------------------------------------- */

#define NCT_PANELS 4096   /* Simpson panels over ln S; even */

static double normal_cdf(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0));
}

/* The power's integrand at v = ln S: rejection probability given S. */
static double nct_reject(double crit, double nc, double v)
{
    double cs = crit * exp(v);
    return normal_cdf(nc - cs) + normal_cdf(-nc - cs);
}

double stats_nct_power(double crit, double dof, double nc)
{
    if (isnan(crit) || isnan(nc) || !(dof >= 1))
        return NAN;
    crit = fabs(crit);
    nc = fabs(nc);
    if (isinf(nc))
        return 1;
    if (isinf(crit))
        return 0;
    if (dof > T_NORMAL_DOF)
        return normal_cdf(nc - crit) + normal_cdf(-nc - crit);
    /* v = ln S has log density dof (v - (e^{2v} - 1) / 2) + const, mode 0
     * and curvature -2 dof there. The range keeps everything above e^-35
     * of the mode: the upper tail falls doubly exponentially, the lower
     * one like e^{dof v}. Dividing by the same rule's integral of the
     * density removes the normalising constant (and most of the rule's
     * error). */
    double sigma = 1 / sqrt(2 * dof);
    double lo = -fmax(14 * sigma, 40 / dof), hi = fmin(14 * sigma, 2.5);
    double h = (hi - lo) / NCT_PANELS, num = 0, den = 0;
    for (int i = 0; i <= NCT_PANELS; i++) {
        double v = lo + i * h;
        double w = (i == 0 || i == NCT_PANELS) ? 1 : (i % 2 ? 4 : 2);
        double dens = w * exp(dof * (v - expm1(2 * v) / 2));
        num += dens * nct_reject(crit, nc, v);
        den += dens;
    }
    double p = num / den;
    return p > 1 ? 1 : p;
}
