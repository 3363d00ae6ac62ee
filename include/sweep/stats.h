/* stats.h: the statistics behind `sweep compare` and `decide`: descriptive
 * statistics, Student's t, the paired and Welch t-tests with the interval
 * of the difference, Holm's adjustment, Hedges' g, the seeds a t-test needs
 * for a given power, a sequential decision rule, and the sentence that says
 * it all. Everything in double with our own special functions (no library
 * beyond libm), deterministic, sums in index order. Undefined results are
 * NAN, never garbage: callers test isnan(). */
#ifndef SWEEP_STATS_H
#define SWEEP_STATS_H

#include <stddef.h>

#define STATS_ALPHA 0.05       /* two-sided level of every test and decision */
#define STATS_POWER 0.80       /* power the seed count in a comparison aims at */
#define STATS_SEEDS_MAX 1e6    /* seed counts beyond this are reported as INFINITY */

/* ---- Descriptive statistics and distributions -------------------------- */

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

/* P(|T'| > crit) for T' noncentral t with dof >= 1 degrees of freedom and
 * noncentrality nc: the power of a two-sided t-test whose critical value
 * is crit. Exact up to quadrature: T' = (Z + nc) / S with S^2 = chi2/dof,
 * so the power is E_S[Phi(nc - crit S) + Phi(-nc - crit S)], integrated
 * over ln S by Simpson's rule (4096 panels over the density's mass).
 * Agrees with scipy.stats.nct (Boost) to 1e-14 for dof 1..1e7 and nc
 * 0..40. NAN for dof < 1 or NAN arguments. */
double stats_nct_power(double crit, double dof, double nc);

/* What `compare` reports for one group. */
typedef struct {
    int n;
    double mean;                /* NAN when n = 0 */
    double sd;                  /* sample sd; NAN when n < 2 */
    double ci_low, ci_high;     /* 95% CI of the mean, Student t with n - 1
                                   dof; NAN when n < 2 */
} stats_summary;

void stats_describe(const double *x, int n, stats_summary *out);

/* ---- Comparing a group with its baseline ------------------------------- */

/* Welch's unequal-variance t-test of mean(a) = mean(b), from summaries. */
typedef struct {
    double t;      /* (mean_a - mean_b) / sqrt(var_a/n_a + var_b/n_b) */
    double dof;    /* Welch–Satterthwaite */
    double p;      /* two-sided */
} stats_welch_result;

/* Returns 0 and fills out; -1 (and NANs) when either group has n < 2, as
 * its variance is unknown. Both variances zero: there is no noise to
 * measure against, so p = 1 when the means are equal and 0 when not
 * (t = 0 or +-INFINITY, dof = n_a + n_b - 2): the limit as the spread
 * shrinks. The paired test below keeps the same convention. */
int stats_welch(const stats_summary *a, const stats_summary *b,
                stats_welch_result *out);

typedef enum { STATS_PAIRED_T, STATS_WELCH } stats_test;

/* One row of `compare`: a group x against its baseline b. */
typedef struct {
    stats_test test;
    int n, n_base;           /* runs in x and in b (the pairs when paired) */
    double diff;             /* mean(x) - mean(b); NAN when a side is empty */
    double t, dof, p;        /* statistic, degrees of freedom, two-sided p */
    double ci_low, ci_high;  /* 95% t-interval of diff under the test */
    double g;                /* Hedges' g, stats_hedges_g */
    double seeds;            /* seeds per group for STATS_POWER at STATS_ALPHA
                                against a true difference of diff (the
                                sd's as observed): stats_seeds_paired or
                                _welch; INFINITY when diff = 0 or beyond
                                STATS_SEEDS_MAX */
    double p_holm;           /* NAN here; the caller fills it from
                                stats_holm over its table's p values */
} stats_comparison;

/* The paired t-test on x[i] - b[i], i < n: the runs x[i] and b[i] share a
 * seed (so initial weights, data order and dropout masks). t = mean(d) /
 * (sd(d)/sqrt(n)), dof = n - 1, interval mean(d) -+ t_{0.975,n-1} sd(d) /
 * sqrt(n). All differences equal: sd(d) = 0, and as in stats_welch p = 1
 * (t = 0) when they are 0, else p = 0 (t = +-INFINITY); the interval is the
 * point [diff, diff]. Returns 0; -1 when n < 2 or a value is NAN (diff
 * still set when n >= 1, everything else NAN). */
int stats_paired_test(const double *x, const double *b, int n, stats_comparison *out);

/* Welch's test of x[0..n) against b[0..n_base): dof by Welch–Satterthwaite,
 * interval diff -+ t_{0.975,dof} sqrt(sd_x^2/n + sd_b^2/n_base). Same
 * conventions and returns as stats_paired_test (-1 when n or n_base < 2). */
int stats_welch_test(const double *x, int n, const double *b, int n_base,
                     stats_comparison *out);

/* Hedges' g of x against b: g = J (mean_x - mean_b) / s_p with the pooled
 * sd s_p = sqrt(((n_x - 1) sd_x^2 + (n_b - 1) sd_b^2) / (n_x + n_b - 2))
 * and the small-sample correction J = 1 - 3 / (4 (n_x + n_b) - 9). The
 * paired test uses the same g (the groups' own sds, not the sd of the
 * differences), so that g means one thing in every row. NAN when either
 * n < 2 or s_p = 0 (no spread to measure the difference in). */
double stats_hedges_g(const stats_summary *x, const stats_summary *b);

/* Holm's step-down adjustment of p[0..m) into out[0..m) (out may be p):
 * with the k non-NAN values sorted p_(1) <= ... <= p_(k), the adjusted
 * p_(i) is max over j <= i of min(1, (k - j + 1) p_(j)), so it is
 * monotone, capped at 1, and ties get equal values. NAN values stay NAN
 * and do not count in k. Returns 0; -1 if memory runs out (out all NAN). */
int stats_holm(const double *p, int m, double *out);

/* ---- Power: how many seeds ---------------------------------------------- */

/* Power of the two-sided paired t-test at level alpha with n pairs when
 * the true mean difference is diff and the differences' sd is sd_d:
 * stats_nct_power(t_{1-alpha/2,n-1}, n - 1, diff sqrt(n) / sd_d). sd_d = 0
 * with diff != 0 gives 1. NAN for n < 2 or bad arguments. */
double stats_power_paired(double diff, double sd_d, double n, double alpha);

/* Power of Welch's test with n runs in each group of sds sd_x and sd_b:
 * noncentrality diff / sqrt((sd_x^2 + sd_b^2) / n) and the Welch–
 * Satterthwaite dof (sd_x^2 + sd_b^2)^2 (n - 1) / (sd_x^4 + sd_b^4), the
 * usual approximation (Welch's statistic is only nearly noncentral t). */
double stats_power_welch(double diff, double sd_x, double sd_b, double n, double alpha);

/* The smallest n >= 2 (pairs, or runs per group) whose power reaches
 * `power` at level alpha: exact search over n (power rises with n).
 * INFINITY when diff = 0 or more than STATS_SEEDS_MAX would be needed; NAN
 * for NAN or negative sds or alpha, power outside (0, 1). */
double stats_seeds_paired(double diff, double sd_d, double alpha, double power);
double stats_seeds_welch(double diff, double sd_x, double sd_b, double alpha, double power);

/* ---- Sequential decision (`decide:` in a sweep) ------------------------- */

/* `decide` looks after n = min, min + 1, ..., max pairs of seeds (K = max -
 * min + 1 looks) at the paired t-interval of the mean difference, each at
 * level 1 - 0.05/K: alpha split evenly over the looks (Bonferroni, a
 * conservative Pocock-style design). Then all K intervals hold the true
 * difference together with probability >= 95% whenever the sweep stops, so
 * a decision is wrong at most 5% of the time. Better or worse: the interval
 * lies beyond +-rope; equivalent: within it; neither by max: undecided.
 * Chosen over an anytime-valid confidence sequence because for the few
 * looks a seed budget allows its intervals are narrower, and each is an
 * ordinary t-interval with the t-test's assumptions only. */
typedef enum {
    STATS_UNDECIDED = 0,
    STATS_BETTER,
    STATS_WORSE,
    STATS_EQUIVALENT,
} stats_decision;

typedef struct {
    double rope;           /* >= 0, in the metric's units: a practically
                              null difference */
    int seeds_min, seeds_max;   /* 2 <= seeds_min <= seeds_max */
    int higher_is_better;  /* accuracy 1, loss 0 */
} stats_decide_rule;

/* The decision after n pairs with differences d[0..n) (the setting minus
 * the baseline, by seed). Sets *decision and, unless NULL, the look's
 * interval [*low, *high] (NAN when none). n < seeds_min, or NAN in d:
 * undecided (and no interval before seeds_min). A pure function of d, so
 * a resumed sweep decides as an unbroken one. Returns 0; -1 when the rule
 * is invalid (then undecided). */
int stats_decide(const stats_decide_rule *rule, const double *d, int n,
                 stats_decision *decision, double *low, double *high);

/* ---- Words ---------------------------------------------------------------- */

/* "paired t" or "welch", as in the CSV's `test` column. */
const char *stats_test_name(stats_test test);
/* "better", "worse", "equivalent", "undecided". */
const char *stats_decision_name(stats_decision decision);

typedef enum {
    STATS_UNITS_PLAIN,   /* the metric's own units (losses) */
    STATS_UNITS_POINTS,  /* a fraction shown as percentage points (x 100) */
} stats_units;

/* One comparison as a sentence a reader acts on, for example
 *   elu vs relu: -0.41 points [-0.90, +0.08], paired t p=0.09 (Holm 0.18),
 *   g=-0.6: not significant at 5%; about 14 seeds would detect a difference
 *   this size with 80% power
 * Significant at 5% means p_holm < 0.05 (p when p_holm is NAN). Numbers
 * keep two significant digits of the interval's half-width, and a p value
 * enough digits to show which side of 0.05 it is on. Writes at most size
 * bytes with a terminating NUL (like snprintf) and returns the length the
 * whole sentence needs. */
size_t stats_sentence(char *buf, size_t size, const char *name, const char *base_name,
                      const stats_comparison *c, stats_units units);

#endif
