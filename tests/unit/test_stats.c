/* test_stats.c: the statistics of `sweep compare` against reference values
 * computed independently with mpmath at 40 digits (betainc, quad over the
 * t density, findroot), closed forms, and the standard t tables. */
#include <math.h>

#include "sweep/stats.h"
#include "test.h"

/* Relative tolerance check. */
#define CHECK_REL(a, b, rel) CHECK_NEAR(a, b, (rel) * fabs((double)(b)))

static void test_mean_sd(void)
{
    const double x[] = {2, 4, 4, 4, 5, 5, 7, 9};
    CHECK_NEAR(stats_mean(x, 8), 5.0, 1e-15);
    /* sum of squares 32, over n - 1 = 7 */
    CHECK_NEAR(stats_sd(x, 8), sqrt(32.0 / 7), 1e-15);
    /* a large offset must not swamp the spread */
    const double y[] = {1e9 + 0.1, 1e9 + 0.2, 1e9 + 0.3};
    CHECK_NEAR(stats_sd(y, 3), 0.1, 1e-7);
    CHECK(isnan(stats_mean(x, 0)));
    CHECK(isnan(stats_sd(x, 1)));
}

static void test_betainc_closed_forms(void)
{
    CHECK_NEAR(stats_betainc(1, 1, 0.37), 0.37, 1e-15);
    CHECK_NEAR(stats_betainc(3, 1, 0.6), pow(0.6, 3), 1e-15);
    CHECK_NEAR(stats_betainc(1, 4, 0.2), 1 - pow(0.8, 4), 1e-15);
    CHECK_NEAR(stats_betainc(7.5, 7.5, 0.5), 0.5, 1e-14);
    /* I_x(1/2, 1/2) = (2/pi) asin(sqrt(x)) */
    CHECK_NEAR(stats_betainc(0.5, 0.5, 0.2), 2 / 3.14159265358979323846 * asin(sqrt(0.2)),
               1e-14);
    CHECK(stats_betainc(2, 3, 0) == 0);
    CHECK(stats_betainc(2, 3, 1) == 1);
    CHECK(isnan(stats_betainc(0, 3, 0.5)));
    CHECK(isnan(stats_betainc(2, -1, 0.5)));
    CHECK(isnan(stats_betainc(2, 3, 1.5)));
    CHECK(isnan(stats_betainc(2, 3, NAN)));
}

static void test_betainc_reference(void)
{
    /* mpmath.betainc(a, b, 0, x, regularized=True) */
    CHECK_REL(stats_betainc(2.5, 4.0, 0.3), 0.35219758590676721388, 1e-13);
    CHECK_REL(stats_betainc(10, 0.5, 0.9), 0.15164090963470996856, 1e-13);
    CHECK_REL(stats_betainc(0.5, 50, 0.001), 0.24763098003462321468, 1e-13);
    CHECK_REL(stats_betainc(200, 300, 0.41), 0.67762816477217894864, 1e-11);
    /* near the bulk of a very lopsided beta: the t tail at 10^6 dof */
    CHECK_REL(stats_betainc(5e5, 0.5, 1 - 3.84e-6), 0.050043358500071347242, 1e-7);
}

static void test_t_quantile(void)
{
    CHECK_NEAR(stats_t_quantile(0.975, 1), 12.706204736174704646, 1e-11);
    CHECK_NEAR(stats_t_quantile(0.975, 2), 4.302652729749464, 1e-12);
    CHECK_NEAR(stats_t_quantile(0.975, 10), 2.228138851986274, 1e-12);
    CHECK_NEAR(stats_t_quantile(0.975, 30), 2.04227245630123831, 1e-12);
    CHECK_NEAR(stats_t_quantile(0.975, 1e6), 1.9599663568141070353, 1e-9);
    CHECK_NEAR(stats_t_quantile(0.975, INFINITY), 1.959963984540054, 1e-12);
    CHECK_NEAR(stats_t_quantile(0.975, 1e12), 1.959963984540054, 1e-8);
    CHECK_NEAR(stats_t_quantile(0.01, 3), -4.5407028585681335553, 1e-11);
    CHECK(stats_t_quantile(0.5, 4) == 0);
    CHECK_NEAR(stats_t_quantile(0.025, 10), -stats_t_quantile(0.975, 10), 1e-14);
    CHECK(isnan(stats_t_quantile(0, 3)));
    CHECK(isnan(stats_t_quantile(1, 3)));
    CHECK(isnan(stats_t_quantile(0.9, 0)));
    /* the quantile inverts the CDF */
    const double dofs[] = {0.5, 1, 3.7, 25, 400};
    for (int i = 0; i < 5; i++)
        for (double p = 0.001; p < 1; p += 0.0997)
            CHECK_NEAR(stats_t_cdf(stats_t_quantile(p, dofs[i]), dofs[i]), p, 1e-12);
}

static void test_t_cdf(void)
{
    CHECK_REL(stats_t_cdf(-2.5, 7), 0.020496109292876448445, 1e-12);
    CHECK_REL(1 - stats_t_cdf(2.5, 7), 0.020496109292876448445, 1e-10);
    CHECK_NEAR(stats_t_cdf(0, 5), 0.5, 1e-15);
    /* a far tail keeps its relative precision */
    CHECK_REL(stats_t_two_sided(30, 5), 7.7186486204960519859e-7, 1e-11);
    CHECK(stats_t_two_sided(INFINITY, 5) == 0);
    /* a million dof, where x = dof / (dof + t^2) is within 4e-6 of 1 */
    CHECK_REL(stats_t_two_sided(1.959963984540054, 1e6), 0.050000277295221666, 1e-10);
    CHECK_REL(stats_t_two_sided(5, 1e6), 5.7339978708907416e-7, 1e-10);
    /* Cauchy: P(|T| >= 1) = 1/2 */
    CHECK_NEAR(stats_t_two_sided(1, 1), 0.5, 1e-14);
}

static void test_welch_worked(void)
{
    /* relu vs elu test accuracies, 3 and 4 seeds. By hand:
     * means 0.891433.., 0.89705; sd 0.0018610033, 0.0017368554;
     * t = -4.0655558, Welch-Satterthwaite dof = 4.2558016; p from mpmath
     * (both as betainc and as quad over the t density). */
    const double a[] = {0.8912, 0.8934, 0.8897}, b[] = {0.8951, 0.8979, 0.8962, 0.8990};
    stats_summary sa, sb;
    stats_describe(a, 3, &sa);
    stats_describe(b, 4, &sb);
    CHECK_INT(sa.n, 3);
    CHECK_NEAR(sa.mean, 0.89143333333333333333, 1e-15);
    CHECK_NEAR(sb.mean, 0.89705, 1e-15);
    CHECK_NEAR(sa.sd, 0.0018610033136277144559, 1e-15);
    CHECK_NEAR(sb.sd, 0.0017368553960150702962, 1e-15);
    /* mean -+ t_{0.975, 2} sd / sqrt(3) */
    CHECK_NEAR(sa.ci_low, 0.88681034482025839903, 1e-13);
    CHECK_NEAR(sa.ci_high, 0.89605632184640826764, 1e-13);
    stats_welch_result w;
    CHECK_INT(stats_welch(&sa, &sb, &w), 0);
    CHECK_REL(w.t, -4.0655558041314669246, 1e-10);
    CHECK_REL(w.dof, 4.2558015721822734795, 1e-10);
    CHECK_REL(w.p, 0.013477054618611585697, 1e-9);
    /* symmetric in the groups, up to the sign of t */
    stats_welch_result w2;
    stats_welch(&sb, &sa, &w2);
    CHECK_NEAR(w2.p, w.p, 1e-15);
    CHECK_NEAR(w2.t, -w.t, 1e-12);
}

static void test_welch_equal_groups(void)
{
    /* identical samples: t = 0, p = 1 */
    const double a[] = {1, 2, 3, 4};
    stats_summary sa;
    stats_describe(a, 4, &sa);
    stats_welch_result w;
    CHECK_INT(stats_welch(&sa, &sa, &w), 0);
    CHECK_NEAR(w.t, 0, 0);
    CHECK_NEAR(w.p, 1, 1e-15);
    /* equal variances and sizes: dof = 2n - 2 */
    CHECK_NEAR(w.dof, 6, 1e-12);
}

static void test_n1_undefined(void)
{
    const double a[] = {0.9}, b[] = {0.8, 0.85, 0.82};
    stats_summary sa, sb;
    stats_describe(a, 1, &sa);
    stats_describe(b, 3, &sb);
    CHECK_INT(sa.n, 1);
    CHECK_NEAR(sa.mean, 0.9, 0);
    CHECK(isnan(sa.sd));
    CHECK(isnan(sa.ci_low) && isnan(sa.ci_high));
    stats_welch_result w;
    CHECK_INT(stats_welch(&sa, &sb, &w), -1);
    CHECK(isnan(w.p) && isnan(w.t) && isnan(w.dof));
    CHECK_INT(stats_welch(&sb, &sa, &w), -1);
    stats_summary s0;
    stats_describe(a, 0, &s0);
    CHECK(isnan(s0.mean));
}

static void test_zero_variance(void)
{
    const double a[] = {0.5, 0.5, 0.5}, b[] = {0.5, 0.5}, c[] = {0.7, 0.7, 0.7};
    stats_summary sa, sb, sc;
    stats_describe(a, 3, &sa);
    stats_describe(b, 2, &sb);
    stats_describe(c, 3, &sc);
    CHECK_NEAR(sa.sd, 0, 0);
    CHECK_NEAR(sa.ci_low, 0.5, 0);
    CHECK_NEAR(sa.ci_high, 0.5, 0);
    stats_welch_result w;
    CHECK_INT(stats_welch(&sa, &sb, &w), 0);
    CHECK(w.p == 1);
    CHECK(w.t == 0);
    CHECK_INT(stats_welch(&sa, &sc, &w), 0);
    CHECK(w.p == 0);
    CHECK(isinf(w.t) && w.t < 0);
    /* one group without spread: Welch's dof is the other's n - 1 */
    const double d[] = {0.6, 0.7, 0.8, 0.9};
    stats_summary sd;
    stats_describe(d, 4, &sd);
    CHECK_INT(stats_welch(&sa, &sd, &w), 0);
    CHECK_NEAR(w.dof, 3, 1e-12);
    CHECK(w.p > 0 && w.p < 1);
    /* tiny variances must not underflow into 0/0 */
    const double e[] = {1, 1 + 1e-12, 1 - 1e-12}, f[] = {2, 2 + 1e-12, 2 - 2e-12};
    stats_summary se, sf;
    stats_describe(e, 3, &se);
    stats_describe(f, 3, &sf);
    CHECK_INT(stats_welch(&se, &sf, &w), 0);
    CHECK(!isnan(w.dof) && w.dof > 0);
    CHECK(w.p >= 0 && w.p < 1e-10);
}

void suite_stats(void)
{
    RUN_TEST(test_mean_sd);
    RUN_TEST(test_betainc_closed_forms);
    RUN_TEST(test_betainc_reference);
    RUN_TEST(test_t_quantile);
    RUN_TEST(test_t_cdf);
    RUN_TEST(test_welch_worked);
    RUN_TEST(test_welch_equal_groups);
    RUN_TEST(test_n1_undefined);
    RUN_TEST(test_zero_variance);
}
