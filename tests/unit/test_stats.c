/* test_stats.c: the statistics of `sweep compare` against reference values
 * computed independently with mpmath at 40 digits (betainc, quad over the
 * t density, findroot), closed forms, and the standard t tables. The tests,
 * power, Holm and sequential values below were computed once by
 * tools/stats_reference.py (mpmath at 40 digits, checked against scipy
 * 1.10's ttest_rel, ttest_ind(equal_var=False) and nct) and pasted here. */
#include <math.h>
#include <string.h>

#include "base/rng.h"
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

/* ---- Paired and Welch tests against tools/stats_reference.py ----------- */

static const double RELU[] = {0.8912, 0.8934, 0.8897, 0.8921, 0.8908};
static const double ELU[] = {0.8951, 0.8979, 0.8962, 0.8990, 0.8944};

static void test_paired_reference(void)
{
    stats_comparison c;
    CHECK_INT(stats_paired_test(ELU, RELU, 5, &c), 0);
    CHECK(c.test == STATS_PAIRED_T);
    CHECK_INT(c.n, 5);
    CHECK_INT(c.n_base, 5);
    CHECK_REL(c.diff, 0.0050799999999999956302, 1e-12);
    CHECK_REL(c.t, 7.4705882352941088905, 1e-11);
    CHECK_NEAR(c.dof, 4, 0);
    CHECK_REL(c.p, 0.0017161543462722069169, 1e-10);
    CHECK_NEAR(c.ci_low, 0.0031920173284654948779, 1e-14);
    CHECK_NEAR(c.ci_high, 0.0069679826715344963824, 1e-14);
    CHECK_REL(c.g, 2.7396407476107706568, 1e-11);
    CHECK_NEAR(c.seeds, 3, 0);
    CHECK(isnan(c.p_holm));

    const double x2[] = {0.5, 0.61, 0.58}, b2[] = {0.52, 0.55, 0.57};
    CHECK_INT(stats_paired_test(x2, b2, 3, &c), 0);
    CHECK_REL(c.t, 0.71428571428571375164, 1e-11);
    CHECK_REL(c.p, 0.54916518266628412378, 1e-11);
    CHECK_NEAR(c.ci_low, -0.083728563694154120071, 1e-14);
    CHECK_NEAR(c.ci_high, 0.117061897027487409, 1e-14);
    CHECK_REL(c.g, 0.30323921743156106422, 1e-11);
    CHECK_NEAR(c.seeds, 49, 0);

    /* losses, 10 seeds */
    const double la[] = {0.312, 0.298, 0.305, 0.321, 0.290, 0.301, 0.315, 0.308, 0.299, 0.310};
    const double lb[] = {0.309, 0.301, 0.300, 0.318, 0.296, 0.297, 0.311, 0.310, 0.301, 0.305};
    CHECK_INT(stats_paired_test(la, lb, 10, &c), 0);
    CHECK_REL(c.diff, 0.001100000000000000977, 1e-11);
    CHECK_REL(c.t, 0.87914081548768512555, 1e-11);
    CHECK_NEAR(c.dof, 9, 0);
    CHECK_REL(c.p, 0.4021871815546445789, 1e-11);
    CHECK_NEAR(c.ci_low, -0.0017304599618636227533, 1e-14);
    CHECK_NEAR(c.ci_high, 0.0039304599618636247073, 1e-14);
    CHECK_REL(c.g, 0.12878820776275451272, 1e-10);
    CHECK_NEAR(c.seeds, 104, 0);
}

static void test_welch_reference(void)
{
    stats_comparison c;
    /* 3 against 4 runs: the same numbers as stats_welch above */
    const double a[] = {0.8912, 0.8934, 0.8897}, b[] = {0.8951, 0.8979, 0.8962, 0.8990};
    CHECK_INT(stats_welch_test(a, 3, b, 4, &c), 0);
    CHECK(c.test == STATS_WELCH);
    CHECK_INT(c.n, 3);
    CHECK_INT(c.n_base, 4);
    CHECK_REL(c.diff, -0.0056166666666666772064, 1e-12);
    CHECK_REL(c.t, -4.0655558041315117372, 1e-11);
    CHECK_REL(c.dof, 4.2558015721823494964, 1e-11);
    CHECK_REL(c.p, 0.013477054618610573621, 1e-10);
    CHECK_NEAR(c.ci_low, -0.0093631581587001282601, 1e-14);
    CHECK_NEAR(c.ci_high, -0.0018701751746332261527, 1e-14);
    CHECK_REL(c.g, -2.6459823763126626987, 1e-11);
    CHECK_NEAR(c.seeds, 3, 0);

    /* unequal n and very unequal variances: dof near the smaller group's */
    const double x[] = {0.71, 0.74, 0.69, 0.80, 0.66};
    const double y[] = {0.701, 0.703, 0.699, 0.702, 0.700, 0.704,
                        0.698, 0.701, 0.702, 0.700, 0.703, 0.699};
    CHECK_INT(stats_welch_test(x, 5, y, 12, &c), 0);
    CHECK_REL(c.diff, 0.01900000000000003908, 1e-11);
    CHECK_REL(c.t, 0.79562153658637395788, 1e-11);
    CHECK_REL(c.dof, 4.0040410529499723684, 1e-11);
    CHECK_REL(c.p, 0.47075517047394482955, 1e-11);
    CHECK_NEAR(c.ci_low, -0.047277073177877280905, 1e-13);
    CHECK_NEAR(c.ci_high, 0.085277073177877359064, 1e-13);
    CHECK_REL(c.g, 0.65307070022890539747, 1e-11);
    CHECK_NEAR(c.seeds, 64, 0);

    /* 2 against 6, dof just above 1 */
    const double u[] = {1.5, 2.5}, v[] = {0.1, 0.4, 0.2, 0.5, 0.3, 0.35};
    CHECK_INT(stats_welch_test(u, 2, v, 6, &c), 0);
    CHECK_REL(c.t, 3.3605402872451718934, 1e-12);
    CHECK_REL(c.dof, 1.0273694179942499347, 1e-12);
    CHECK_REL(c.p, 0.17880766674731836426, 1e-11);
    CHECK_NEAR(c.ci_low, -4.3155848085186198548, 1e-10);
    CHECK_NEAR(c.ci_high, 7.6989181418519531863, 1e-10);
    CHECK_REL(c.g, 4.6437012729663151815, 1e-12);
    CHECK_NEAR(c.seeds, 4, 0);
}

static void test_compare_edges(void)
{
    stats_comparison c;
    /* one pair: the difference, nothing else */
    CHECK_INT(stats_paired_test(ELU, RELU, 1, &c), -1);
    CHECK_NEAR(c.diff, ELU[0] - RELU[0], 1e-16);
    CHECK(isnan(c.t) && isnan(c.p) && isnan(c.ci_low) && isnan(c.g) && isnan(c.seeds));
    CHECK_INT(stats_paired_test(ELU, RELU, 0, &c), -1);
    CHECK(isnan(c.diff));
    CHECK_INT(stats_welch_test(ELU, 1, RELU, 5, &c), -1);
    CHECK(isnan(c.p) && !isnan(c.diff));
    CHECK_INT(stats_welch_test(ELU, 0, RELU, 5, &c), -1);
    CHECK(isnan(c.diff));
    /* a NAN value (a diverged run): no test */
    const double withnan[] = {0.89, NAN, 0.9};
    CHECK_INT(stats_paired_test(withnan, RELU, 3, &c), -1);
    CHECK(isnan(c.p) && isnan(c.ci_low) && isnan(c.seeds));
    CHECK_INT(stats_welch_test(withnan, 3, RELU, 5, &c), -1);
    CHECK(isnan(c.p) && isnan(c.ci_low) && isnan(c.seeds));

    /* the same runs on both sides: nothing to find */
    CHECK_INT(stats_paired_test(ELU, ELU, 5, &c), 0);
    CHECK(c.diff == 0 && c.t == 0 && c.p == 1);
    CHECK(c.ci_low == 0 && c.ci_high == 0);
    CHECK(c.g == 0);
    CHECK(isinf(c.seeds));

    /* every seed moves by the same amount: the limit p = 0, point interval */
    const double x[] = {1.5, 2.5, 3.5, 4.5}, b[] = {1, 2, 3, 4};
    CHECK_INT(stats_paired_test(x, b, 4, &c), 0);
    CHECK(c.diff == 0.5 && c.p == 0 && isinf(c.t) && c.t > 0);
    CHECK(c.ci_low == 0.5 && c.ci_high == 0.5);
    CHECK_NEAR(c.dof, 3, 0);
    CHECK(isfinite(c.g) && c.g > 0);   /* the groups themselves vary */
    CHECK_NEAR(c.seeds, 2, 0);

    /* Welch on two constant groups */
    const double k1[] = {0.5, 0.5, 0.5}, k2[] = {0.7, 0.7};
    CHECK_INT(stats_welch_test(k1, 3, k2, 2, &c), 0);
    CHECK(c.p == 0 && c.ci_low == c.diff && c.ci_high == c.diff);
    CHECK(isnan(c.g));   /* no spread to measure it in */
    CHECK_NEAR(c.seeds, 2, 0);

    /* a huge paired sample: d = 1e-4 + 0.01 (-1)^i, sd 0.01 sqrt(n / (n - 1)) */
    enum { BIG = 200000 };
    static double hx[BIG], hb[BIG];
    for (int i = 0; i < BIG; i++) {
        hb[i] = 0.5;
        hx[i] = 0.5 + 0.0001 + (i % 2 ? -0.01 : 0.01);
    }
    CHECK_INT(stats_paired_test(hx, hb, BIG, &c), 0);
    double se = 0.01 * sqrt((double)BIG / (BIG - 1)) / sqrt((double)BIG);
    /* x - b carries the rounding of 0.5 + 1e-4 +- 0.01 (~1e-17 of 1e-4) */
    CHECK_REL(c.diff, 0.0001, 1e-10);
    CHECK_REL(c.t, 4.4721247746457164341, 1e-9);
    CHECK_NEAR(c.dof, BIG - 1, 0);
    CHECK_REL(c.p, 7.748874983623062717e-6, 1e-8);
    CHECK_REL(c.ci_high - c.ci_low, 2 * 1.9599758460260762961 * se, 1e-9);
    CHECK_NEAR(c.seeds, 78491, 0);
}

static void test_hedges_g(void)
{
    stats_summary x, b;
    stats_describe(ELU, 5, &x);
    stats_describe(RELU, 5, &b);
    /* the formula by hand: J = 1 - 3/31, s_p from both sds */
    double sp = sqrt((x.sd * x.sd + b.sd * b.sd) / 2);
    CHECK_REL(stats_hedges_g(&x, &b), (1 - 3.0 / 31) * (x.mean - b.mean) / sp, 1e-14);
    CHECK_REL(stats_hedges_g(&x, &b), 2.7396407476107706568, 1e-11);
    CHECK_REL(stats_hedges_g(&b, &x), -2.7396407476107706568, 1e-11);
    stats_describe(ELU, 1, &x);
    CHECK(isnan(stats_hedges_g(&x, &b)));
    const double k[] = {0.3, 0.3, 0.3};
    stats_describe(k, 3, &x);
    stats_describe(k, 2, &b);
    CHECK(isnan(stats_hedges_g(&x, &b)));
}

/* ---- Holm -------------------------------------------------------------- */

static void test_holm(void)
{
    /* ties (0.04 twice) and a NAN, which does not count: k = 6 */
    const double p[] = {0.01, 0.04, 0.03, 0.04, NAN, 0.2, 0.005};
    const double want[] = {0.05, 0.12, 0.12, 0.12, NAN, 0.2, 0.03};
    double out[7];
    CHECK_INT(stats_holm(p, 7, out), 0);
    for (int i = 0; i < 7; i++) {
        if (isnan(want[i]))
            CHECK(isnan(out[i]));
        else
            CHECK_NEAR(out[i], want[i], 1e-15);
    }
    /* capped at 1, monotone in p; in place */
    double q[] = {0.5, 0.3, 0.9};
    CHECK_INT(stats_holm(q, 3, q), 0);
    CHECK_NEAR(q[0], 1, 0);
    CHECK_NEAR(q[1], 0.8999999999999999, 1e-15);
    CHECK_NEAR(q[2], 1, 0);
    /* one p: unchanged; none, or all NAN: fine */
    double one = 0.037;
    CHECK_INT(stats_holm(&one, 1, &one), 0);
    CHECK_NEAR(one, 0.037, 0);
    CHECK_INT(stats_holm(NULL, 0, NULL), 0);
    double nn[2] = {NAN, NAN};
    CHECK_INT(stats_holm(nn, 2, nn), 0);
    CHECK(isnan(nn[0]) && isnan(nn[1]));
}

/* ---- Power and seeds ---------------------------------------------------- */

static void test_nct_power(void)
{
    /* scipy.stats.nct sf(c) + cdf(-c), crit = t_{0.975, dof} from mpmath,
     * also checked by mpmath quadrature to 1e-9 */
    static const struct {
        double crit, dof, nc, power;
    } ref[] = {
        {12.706204736174705, 1, 4.242640687119286, 0.26077071422405057},
        {2.7764451051977943, 4, 2.23606797749979, 0.40138991737179386},
        {2.0452296421327043, 29, 2.7386127875258306, 0.7539647157437906},
        {2.1146963410178374, 16.5, 2.7712812921102037, 0.7412810831280173},
        {1.971956544251754, 199, 2.8284271247461903, 0.8036666605864372},
        {2.835035879321204, 3.8, 2.25166604983954, 0.3959653794000857},
    };
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        CHECK_NEAR(stats_nct_power(ref[i].crit, ref[i].dof, ref[i].nc), ref[i].power, 1e-9);
        CHECK_NEAR(stats_nct_power(ref[i].crit, ref[i].dof, -ref[i].nc), ref[i].power, 1e-9);
    }
    /* no effect: the power is the level */
    CHECK_NEAR(stats_nct_power(stats_t_quantile(0.975, 7), 7, 0), 0.05, 1e-9);
    CHECK_NEAR(stats_nct_power(1.959963984540054, INFINITY, 0), 0.05, 1e-12);
    CHECK(stats_nct_power(2, 5, INFINITY) == 1);
    CHECK(isnan(stats_nct_power(2, 0.5, 1)));
    CHECK(isnan(stats_nct_power(NAN, 5, 1)));
    /* the wrappers: e = diff / sd_d, n = 30 */
    CHECK_NEAR(stats_power_paired(0.5, 1, 30, 0.05), 0.7539647157437906, 1e-9);
    CHECK_NEAR(stats_power_paired(-0.5, 1, 30, 0.05), 0.7539647157437906, 1e-9);
    CHECK(stats_power_paired(0.1, 0, 3, 0.05) == 1);
    CHECK(stats_power_paired(0, 0, 3, 0.05) == 0);
    CHECK(isnan(stats_power_paired(0.1, 1, 1, 0.05)));
    CHECK(isnan(stats_power_paired(0.1, 1, 5, 1.5)));
}

static void test_seeds(void)
{
    /* least n with scipy nct power >= 0.8 at 5% two-sided; e = |diff|/sd */
    CHECK_NEAR(stats_seeds_paired(0.5, 1, 0.05, 0.8), 34, 0);
    CHECK_NEAR(stats_seeds_paired(-0.8, 1, 0.05, 0.8), 15, 0);
    CHECK_NEAR(stats_seeds_paired(1.5, 1, 0.05, 0.8), 6, 0);
    CHECK_NEAR(stats_seeds_paired(3, 1, 0.05, 0.8), 4, 0);
    CHECK_NEAR(stats_seeds_paired(0.01, 0.1, 0.05, 0.8), 787, 0);
    /* Welch: e = diff / sqrt(sd_x^2 + sd_b^2), k = 1 / (w_x^2 + w_b^2) */
    /* equal sds: k = 2, e = 2 */
    CHECK_NEAR(stats_seeds_welch(2 * sqrt(2.0), 1, 1, 0.05, 0.8), 4, 0);
    /* sds 1 and sqrt(2/3)... k = 1.4: w = 1/(1+r), r = var ratio solving
     * 1/(w^2 + (1-w)^2) = 1.4 -> w = (1 + sqrt(1/1.4*2 - 1)) / 2 */
    double w = (1 + sqrt(2 / 1.4 - 1)) / 2, sx = sqrt(w), sb = sqrt(1 - w);
    CHECK_NEAR(stats_seeds_welch(0.6, sx, sb, 0.05, 0.8), 24, 0);
    /* edges */
    CHECK(isinf(stats_seeds_paired(0, 1, 0.05, 0.8)));
    CHECK(isinf(stats_seeds_paired(1e-4, 1, 0.05, 0.8)));   /* ~8e8 > STATS_SEEDS_MAX */
    CHECK_NEAR(stats_seeds_paired(0.2, 0, 0.05, 0.8), 2, 0);
    CHECK(isinf(stats_seeds_welch(0, 0, 0, 0.05, 0.8)));
    CHECK(isnan(stats_seeds_paired(NAN, 1, 0.05, 0.8)));
    CHECK(isnan(stats_seeds_paired(0.5, -1, 0.05, 0.8)));
    CHECK(isnan(stats_seeds_welch(0.5, 1, NAN, 0.05, 0.8)));
    CHECK(isnan(stats_seeds_paired(0.5, 1, 0.05, 1)));
}

/* ---- The sequential rule ------------------------------------------------- */

/* Looks from rule->seeds_min up: the first decided one, its interval. */
static int first_decision(const stats_decide_rule *rule, const double *d, stats_decision *dec,
                          double *lo, double *hi)
{
    for (int n = rule->seeds_min; n <= rule->seeds_max; n++) {
        CHECK_INT(stats_decide(rule, d, n, dec, lo, hi), 0);
        if (*dec != STATS_UNDECIDED)
            return n;
    }
    return rule->seeds_max;
}

static void test_decide_sequences(void)
{
    /* looks at 3..10 seeds: K = 8, each interval at 1 - 0.05/8 */
    stats_decide_rule acc = {.rope = 0.002, .seeds_min = 3, .seeds_max = 10,
                             .higher_is_better = 1};
    stats_decision dec;
    double lo, hi;
    const double up[] = {0.0081, 0.0123, 0.0098, 0.0105, 0.0110,
                         0.0092, 0.0101, 0.0099, 0.0108, 0.0096};
    CHECK_INT(first_decision(&acc, up, &dec, &lo, &hi), 4);
    CHECK(dec == STATS_BETTER);
    CHECK_NEAR(lo, 0.0041812041182397649, 1e-14);
    CHECK_NEAR(hi, 0.016168795881760235, 1e-14);
    /* the look before: [-0.00529, 0.02542], undecided */
    CHECK_INT(stats_decide(&acc, up, 3, &dec, &lo, &hi), 0);
    CHECK(dec == STATS_UNDECIDED);
    CHECK_NEAR(lo, -0.0052896059838780746, 1e-14);
    CHECK_NEAR(hi, 0.025422939317211408, 1e-14);

    /* the same differences on a loss: lower is better */
    double down[10];
    for (int i = 0; i < 10; i++)
        down[i] = -up[i];
    stats_decide_rule loss = acc;
    loss.higher_is_better = 0;
    CHECK_INT(first_decision(&loss, down, &dec, &lo, &hi), 4);
    CHECK(dec == STATS_BETTER);
    CHECK_NEAR(lo, -0.016168795881760235, 1e-14);
    CHECK_INT(first_decision(&acc, down, &dec, &lo, &hi), 4);
    CHECK(dec == STATS_WORSE);

    const double eq[] = {0.0010, -0.0008, 0.0004, -0.0006, 0.0007,
                         -0.0003, 0.0002, -0.0005, 0.0006, -0.0001};
    CHECK_INT(first_decision(&acc, eq, &dec, &lo, &hi), 6);
    CHECK(dec == STATS_EQUIVALENT);
    CHECK_NEAR(lo, -0.001294396464787209, 1e-14);
    CHECK_NEAR(hi, 0.0014277297981205423, 1e-14);

    /* straddles the rope's edge to the end */
    const double un[] = {0.0050, -0.0010, 0.0040, 0.0005, 0.0030,
                         -0.0015, 0.0045, 0.0010, 0.0025, 0.0000};
    CHECK_INT(first_decision(&acc, un, &dec, &lo, &hi), 10);
    CHECK(dec == STATS_UNDECIDED);
    CHECK_NEAR(lo, -0.00080614085662110161, 1e-14);
    CHECK_NEAR(hi, 0.0044061408566211016, 1e-14);

    /* more looks, wider intervals: with K = 1 (min = max = 4) the same
     * data decide at 4 with a narrower interval */
    stats_decide_rule once = {.rope = 0.002, .seeds_min = 4, .seeds_max = 4,
                              .higher_is_better = 1};
    double lo1, hi1;
    CHECK_INT(stats_decide(&once, un, 4, &dec, &lo1, &hi1), 0);
    CHECK_INT(stats_decide(&acc, un, 4, &dec, &lo, &hi), 0);
    CHECK(hi1 - lo1 < hi - lo);
}

/* The guarantee by simulation: no true difference and rope 0, so every
 * "better" or "worse" is an error. Over looks at 3..10 the rule errs at
 * most 5% of the time, while the same data looked at with a plain 95%
 * interval each time errs far more often (why the looks are counted). */
static void test_decide_error_rate(void)
{
    enum { SIMS = 2000, MIN = 3, MAX = 10 };
    stats_decide_rule rule = {.rope = 0, .seeds_min = MIN, .seeds_max = MAX,
                              .higher_is_better = 1};
    int wrong = 0, wrong_naive = 0;
    for (int s = 0; s < SIMS; s++) {
        double d[MAX];
        for (int i = 0; i < MAX; i++)
            d[i] = rng_normal(1234, 15, (uint64_t)s, (uint64_t)i);
        stats_decision dec;
        int naive = 0;
        for (int n = MIN; n <= MAX; n++) {
            stats_decide_rule once = {.rope = 0, .seeds_min = n, .seeds_max = n,
                                      .higher_is_better = 1};
            stats_decide(&once, d, n, &dec, NULL, NULL);
            naive |= dec == STATS_BETTER || dec == STATS_WORSE;
        }
        wrong_naive += naive;
        for (int n = MIN; n <= MAX; n++) {
            stats_decide(&rule, d, n, &dec, NULL, NULL);
            if (dec != STATS_UNDECIDED) {
                wrong += dec == STATS_BETTER || dec == STATS_WORSE;
                break;
            }
        }
    }
    CHECK_MSG(wrong <= 0.05 * SIMS, "sequential rule wrong %d of %d", wrong, SIMS);
    CHECK_MSG(wrong_naive > 0.10 * SIMS, "naive looks wrong only %d of %d", wrong_naive, SIMS);
}

static void test_decide_edges(void)
{
    stats_decide_rule r = {.rope = 0.01, .seeds_min = 3, .seeds_max = 5,
                           .higher_is_better = 1};
    stats_decision dec = STATS_BETTER;
    double lo = 0, hi = 0;
    const double d[] = {0.02, 0.02, 0.02, NAN};
    /* before the first planned look */
    CHECK_INT(stats_decide(&r, d, 2, &dec, &lo, &hi), 0);
    CHECK(dec == STATS_UNDECIDED && isnan(lo) && isnan(hi));
    /* all equal: a point interval beyond the rope */
    CHECK_INT(stats_decide(&r, d, 3, &dec, &lo, &hi), 0);
    CHECK(dec == STATS_BETTER && lo == 0.02 && hi == 0.02);
    /* a NAN difference (a failed run) decides nothing */
    CHECK_INT(stats_decide(&r, d, 4, &dec, NULL, NULL), 0);
    CHECK(dec == STATS_UNDECIDED);
    /* bad rules */
    stats_decide_rule bad = r;
    bad.seeds_min = 1;
    CHECK_INT(stats_decide(&bad, d, 3, &dec, &lo, &hi), -1);
    CHECK(dec == STATS_UNDECIDED && isnan(lo));
    bad = r;
    bad.seeds_max = 2;
    CHECK_INT(stats_decide(&bad, d, 3, &dec, &lo, &hi), -1);
    bad = r;
    bad.rope = NAN;
    CHECK_INT(stats_decide(&bad, d, 3, &dec, &lo, &hi), -1);
    bad.rope = -0.1;
    CHECK_INT(stats_decide(&bad, d, 3, &dec, &lo, &hi), -1);
    CHECK_STR(stats_decision_name(STATS_BETTER), "better");
    CHECK_STR(stats_decision_name(STATS_WORSE), "worse");
    CHECK_STR(stats_decision_name(STATS_EQUIVALENT), "equivalent");
    CHECK_STR(stats_decision_name(STATS_UNDECIDED), "undecided");
    CHECK_STR(stats_test_name(STATS_PAIRED_T), "paired t");
    CHECK_STR(stats_test_name(STATS_WELCH), "welch");
}

/* ---- The sentence --------------------------------------------------------- */

static void test_sentence_example(void)
{
    /* the example of issue #15, from its numbers */
    stats_comparison c = {.test = STATS_PAIRED_T, .n = 5, .n_base = 5, .diff = -0.0041,
                          .t = -2.1, .dof = 4, .p = 0.09, .ci_low = -0.0090,
                          .ci_high = 0.0008, .g = -0.6, .seeds = 14, .p_holm = 0.18};
    char buf[512];
    size_t len = stats_sentence(buf, sizeof buf, "elu", "relu", &c, STATS_UNITS_POINTS);
    CHECK_STR(buf, "elu vs relu: -0.41 points [-0.90, +0.08], paired t p=0.09 (Holm 0.18), "
                   "g=-0.6: not significant at 5%; about 14 seeds would detect a "
                   "difference this size with 80% power");
    CHECK_INT(len, strlen(buf));
    /* a short buffer: cut, terminated, and the full length returned */
    char small[16];
    CHECK_INT(stats_sentence(small, sizeof small, "elu", "relu", &c, STATS_UNITS_POINTS), len);
    CHECK_STR(small, "elu vs relu: -0");
    CHECK_INT(stats_sentence(NULL, 0, "elu", "relu", &c, STATS_UNITS_POINTS), len);
}

static void test_sentence_computed(void)
{
    char buf[512];
    stats_comparison c;
    stats_paired_test(ELU, RELU, 5, &c);
    c.p_holm = 0.0034323086925444138;   /* two comparisons */
    stats_sentence(buf, sizeof buf, "elu", "relu", &c, STATS_UNITS_POINTS);
    CHECK_STR(buf, "elu vs relu: +0.51 points [+0.32, +0.70], paired t p=0.002 (Holm 0.003), "
                   "g=2.7: significant at 5%");

    /* a loss in its own units, no Holm */
    const double la[] = {0.312, 0.298, 0.305, 0.321, 0.290, 0.301, 0.315, 0.308, 0.299, 0.310};
    const double lb[] = {0.309, 0.301, 0.300, 0.318, 0.296, 0.297, 0.311, 0.310, 0.301, 0.305};
    stats_paired_test(la, lb, 10, &c);
    stats_sentence(buf, sizeof buf, "adam", "sgd", &c, STATS_UNITS_PLAIN);
    CHECK_STR(buf, "adam vs sgd: +0.0011 [-0.0017, +0.0039], paired t p=0.40, g=0.1: "
                   "not significant at 5%; about 104 seeds would detect a difference "
                   "this size with 80% power");

    /* Welch, wide interval: one decimal */
    const double x[] = {0.71, 0.74, 0.69, 0.80, 0.66};
    const double y[] = {0.701, 0.703, 0.699, 0.702, 0.700, 0.704,
                        0.698, 0.701, 0.702, 0.700, 0.703, 0.699};
    stats_welch_test(x, 5, y, 12, &c);
    stats_sentence(buf, sizeof buf, "0.5", "0.0", &c, STATS_UNITS_POINTS);
    CHECK_STR(buf, "0.5 vs 0.0: +1.9 points [-4.7, +8.5], Welch t p=0.47, g=0.7: "
                   "not significant at 5%; about 64 seeds would detect a difference "
                   "this size with 80% power");
}

static void test_sentence_edges(void)
{
    char buf[512];
    stats_comparison c = {.test = STATS_PAIRED_T, .n = 8, .n_base = 8, .diff = 0.012,
                          .t = 2.5, .dof = 7, .p = 0.03, .ci_low = 0.001,
                          .ci_high = 0.023, .g = 1.1, .seeds = 7, .p_holm = 0.06};
    stats_sentence(buf, sizeof buf, "a", "b", &c, STATS_UNITS_POINTS);
    CHECK_STR(buf, "a vs b: +1.2 points [+0.1, +2.3], paired t p=0.03 (Holm 0.06), g=1.1: "
                   "not significant at 5% after Holm's correction; about 7 seeds would "
                   "detect a difference this size with 80% power");
    /* a p just below 5% does not print as 0.05 */
    c.p = 0.0496;
    c.p_holm = NAN;
    stats_sentence(buf, sizeof buf, "a", "b", &c, STATS_UNITS_POINTS);
    CHECK(strstr(buf, "p=0.0496, g=1.1: significant at 5%") != NULL);
    c.p = 0.00002;
    c.p_holm = 0.00004;
    stats_sentence(buf, sizeof buf, "a", "b", &c, STATS_UNITS_POINTS);
    CHECK(strstr(buf, "p<0.001 (Holm <0.001)") != NULL);
    /* too few seeds */
    stats_paired_test(ELU, RELU, 1, &c);
    stats_sentence(buf, sizeof buf, "elu", "relu", &c, STATS_UNITS_POINTS);
    CHECK_STR(buf, "elu vs relu: +0.39 points, too few seeds for a test (1 and 1; 2 each needed)");
    stats_welch_test(ELU, 0, RELU, 3, &c);
    stats_sentence(buf, sizeof buf, "elu", "relu", &c, STATS_UNITS_POINTS);
    CHECK_STR(buf, "elu vs relu: no runs to compare (0 and 3)");
    const double withnan[] = {0.89, NAN, 0.9};
    stats_welch_test(withnan, 3, RELU, 3, &c);
    stats_sentence(buf, sizeof buf, "elu", "relu", &c, STATS_UNITS_POINTS);
    CHECK_STR(buf, "elu vs relu: no comparison, a run's value is not a number");
    /* identical groups */
    stats_paired_test(ELU, ELU, 5, &c);
    stats_sentence(buf, sizeof buf, "elu", "elu", &c, STATS_UNITS_POINTS);
    CHECK_STR(buf, "elu vs elu: +0.00 points [+0.00, +0.00], paired t p=1.00, g=0.0: "
                   "not significant at 5%; the means are equal");
    /* a tiny effect: beyond STATS_SEEDS_MAX */
    c = (stats_comparison){.test = STATS_WELCH, .n = 3, .n_base = 3, .diff = 1e-6,
                           .p = 0.9, .ci_low = -0.01, .ci_high = 0.01, .g = NAN,
                           .seeds = INFINITY, .p_holm = NAN};
    stats_sentence(buf, sizeof buf, "a", "b", &c, STATS_UNITS_PLAIN);
    CHECK_STR(buf, "a vs b: +0.000 [-0.010, +0.010], Welch t p=0.90: not significant at 5%; "
                   "more than 1000000 seeds would be needed to detect a difference this "
                   "size with 80% power");
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
    RUN_TEST(test_paired_reference);
    RUN_TEST(test_welch_reference);
    RUN_TEST(test_compare_edges);
    RUN_TEST(test_hedges_g);
    RUN_TEST(test_holm);
    RUN_TEST(test_nct_power);
    RUN_TEST(test_seeds);
    RUN_TEST(test_decide_sequences);
    RUN_TEST(test_decide_error_rate);
    RUN_TEST(test_decide_edges);
    RUN_TEST(test_sentence_example);
    RUN_TEST(test_sentence_computed);
    RUN_TEST(test_sentence_edges);
}
