/* stats.h: the statistics behind `sweep compare`: mean, sample standard
 * deviation, Student-t confidence intervals and Welch's t-test, in double,
 * with our own regularized incomplete beta function (no libraries beyond
 * libm). Undefined results are NAN, never garbage: callers test isnan(). */
#ifndef SWEEP_STATS_H
#define SWEEP_STATS_H

/* Mean of x[0..n); NAN when n < 1. */
double stats_mean(const double *x, int n);

/* Sample standard deviation (n - 1 in the denominator); NAN when n < 2. */
double stats_sd(const double *x, int n);

/* The regularized incomplete beta function I_x(a, b) for a, b > 0 and
 * x in [0, 1]; NAN outside that domain. */
double stats_betainc(double a, double b, double x);

/* Student's t distribution with dof > 0 degrees of freedom (dof may be
 * INFINITY: the standard normal; so is dof > 1e10, where the two agree to
 * ~1e-10). Relative accuracy about 1e-12 up to 1e6 dof, 1e-9 up to 1e10.
 * NAN for a bad dof or t. */
double stats_t_cdf(double t, double dof);
/* Two-sided tail P(|T| >= |t|), computed without the cancellation of
 * 2 * (1 - cdf) for large |t|. */
double stats_t_two_sided(double t, double dof);
/* The p-quantile, p in (0, 1): inverts stats_t_cdf (bisection-safeguarded
 * Newton). NAN for p outside (0, 1) or a bad dof. */
double stats_t_quantile(double p, double dof);

/* What `compare` reports for one group. */
typedef struct {
    int n;
    double mean;                /* NAN when n = 0 */
    double sd;                  /* sample sd; NAN when n < 2 */
    double ci_low, ci_high;     /* 95% CI of the mean, Student t with n - 1
                                   dof; NAN when n < 2 */
} stats_summary;

void stats_describe(const double *x, int n, stats_summary *out);

/* Welch's unequal-variance t-test of mean(a) = mean(b). */
typedef struct {
    double t;      /* (mean_a - mean_b) / sqrt(var_a/n_a + var_b/n_b) */
    double dof;    /* Welch–Satterthwaite */
    double p;      /* two-sided */
} stats_welch_result;

/* Returns 0 and fills out; -1 (and NANs) when either group has n < 2, as
 * its variance is unknown. Both variances zero: there is no noise to
 * measure against, so p = 1 when the means are equal and 0 when not
 * (t = 0 or +-INFINITY, dof = n_a + n_b - 2). */
int stats_welch(const stats_summary *a, const stats_summary *b,
                stats_welch_result *out);

#endif
