/* test_pool_rule.c: training's pooling before the activation
 * (act_pool_first_forward under act_pool_rule_of): for every activation
 * that pools first, each window's winner has the largest f of its window
 * (in double, up to the kernel's own few ulp), argmax names it, and pooled
 * and pooled_pre are act_forward_winners' f and x (or f') of it. gelu, silu and mish fall then rise
 * (POOL_AT_ENDS, with their mirror tables), prelu does so about 0 where its
 * learned slope is negative. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "nn/act_smooth.h"
#include "nn/activation.h"
#include "nn/pool.h"
#include "test.h"

static double sig(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }
static double softplus_d64(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

/* f in double for channel c (prelu: its slope). */
static double f_d64(const act_params *a, int c, double x)
{
    switch (a->kind) {
    case ACT_RELU: return x > 0 ? x : 0;
    case ACT_ELU: return x > 0 ? x : a->alpha * expm1(x);
    case ACT_LEAKY_RELU: return x > 0 ? x : a->alpha * x;
    case ACT_PRELU: return x > 0 ? x : a->prelu_alpha[c] * x;
    case ACT_SELU: return x > 0 ? ACT_SELU_SCALE * x : ACT_SELU_SCALE * ACT_SELU_ALPHA * expm1(x);
    case ACT_GELU: return 0.5 * x * erfc(-x / M_SQRT2);
    case ACT_SILU: return x * sig(x);
    case ACT_MISH: return x * tanh(softplus_d64(x));
    case ACT_TANH: return tanh(x);
    case ACT_SOFTPLUS: return softplus_d64(x);
    default: return NAN;
    }
}

/* Inputs that test the rule: planes of one level plus noise (neighbours
 * alike, as in a real conv output), levels around each turn, exact ties,
 * and far negative values. */
static void fill_planes(float *x, long planes, int H, int W, float turn, uint64_t seed)
{
    for (long p = 0; p < planes; p++) {
        float level = 4.0f * rng_uniform(seed, 1, 0, (uint64_t)p) - 3.0f;
        float spread = 2.0f * rng_uniform(seed, 2, 0, (uint64_t)p);
        if (p % 5 == 0)
            level = turn;   /* both sides of the turn in one window */
        for (int i = 0; i < H * W; i++) {
            float u = rng_uniform(seed, 3, (uint64_t)p, (uint64_t)i) - 0.5f;
            float v = level + spread * u;
            if (p % 7 == 3 && i % 3 == 0)
                v = level;   /* ties */
            if (p % 11 == 5 && i % 4 == 1)
                v = -30.0f - 100.0f * u;   /* f is (nearly) 0 there */
            x[p * H * W + i] = v;
        }
    }
}

/* One activation (with its channel slopes) on planes of (C, B, H, W). */
static void rule_case(act_params a, int C, int B, int H, int W, uint64_t seed)
{
    const long planes = (long)C * B, np = planes * (H / 2) * (W / 2);
    const long isz = (long)H * W, PH = H / 2, PW = W / 2;
    float *pre = malloc(sizeof(float) * (size_t)(planes * isz));
    float *pooled = malloc(sizeof(float) * (size_t)np), *pp = malloc(sizeof(float) * (size_t)np);
    uint8_t *am = malloc((size_t)np);
    if (!pre || !pooled || !pp || !am)
        goto out;
    const act_desc *d = act_info(a.kind);
    fill_planes(pre, planes, H, W, d->pool_order == POOL_AT_ENDS ? d->turn : 0.0f, seed);
    act_pool_first_forward(&a, pre, pooled, am, pp, C, B, H, W);
    int bad_index = 0, bad_value = 0, bad_f = 0;
    double worst = 0;
    for (long p = 0; p < planes; p++) {
        const int c = (int)(p / B);
        for (long y = 0; y < PH; y++)
            for (long x = 0; x < PW; x++) {
                const long i = (p * PH + y) * PW + x;
                const float *r0 = pre + p * isz + 2 * y * W + 2 * x;
                const float win[4] = {r0[0], r0[1], r0[W], r0[W + 1]};
                if (am[i] > 3) {
                    bad_index++;
                    continue;
                }
                /* pooled and pooled_pre as act_forward_winners leaves them */
                float f_win, kept = win[am[i]];
                act_forward_winners(&a, &f_win, &kept, 1, c);
                bad_value += memcmp(&pp[i], &kept, sizeof(float)) != 0;
                bad_f += memcmp(&f_win, &pooled[i], sizeof(float)) != 0;
                double best = -INFINITY, got = f_d64(&a, c, win[am[i]]);
                for (int k = 0; k < 4; k++)
                    best = fmax(best, f_d64(&a, c, win[k]));
                /* short of the best by the kernel's few ulp at most */
                double shortfall = (best - got) / fmax(fabs(best), 1e-30);
                worst = fmax(worst, shortfall);
            }
    }
    CHECK_MSG(bad_index == 0, "%s: %d argmax bytes past 3", act_name(a.kind), bad_index);
    CHECK_MSG(bad_value == 0, "%s: %d pooled_pre not x or f' of the argmax input",
              act_name(a.kind), bad_value);
    CHECK_MSG(bad_f == 0, "%s: %d pooled not f of the argmax input", act_name(a.kind), bad_f);
    CHECK_MSG(worst <= 3e-6, "%s: a winner's f is short of its window's best by %g",
              act_name(a.kind), worst);
out:
    free(pre), free(pooled), free(pp), free(am);
}

static void test_winners_have_the_largest_f(void)
{
    static const float slopes[4] = {0.25f, -0.5f, 0.0f, -2.0f};
    for (int k = 0; k < act_count(); k++) {
        act_params a = {(act_kind)k, (float)act_info((act_kind)k)->default_alpha, slopes};
        if (!act_pools_first(a.kind, a.alpha))
            continue;
        rule_case(a, 4, 7, 26, 26, 10 + (uint64_t)k);   /* conv1's planes */
        rule_case(a, 4, 5, 11, 11, 20 + (uint64_t)k);   /* conv2's: 5 outputs a row */
        rule_case(a, 4, 3, 9, 41, 30 + (uint64_t)k);    /* rows of two vectors */
    }
}

/* The bounds the mirror tables promise, checked on a fine grid of maxes in
 * each bin and its neighbours against f in double. */
static void test_mirror_bounds_hold(void)
{
    static const act_kind ends[] = {ACT_GELU, ACT_SILU, ACT_MISH};
    for (size_t e = 0; e < sizeof ends / sizeof ends[0]; e++) {
        act_params a = {ends[e], 0, NULL};
        act_pool_rule r = act_pool_rule_of(&a, 0);
        CHECK(r.mirror != NULL);
        if (!r.mirror)
            continue;
        int bad = 0;
        for (int s = 1; s < 4000; s++) {
            float mx = r.turn - r.turn * (float)s / 4000;   /* in (turn, 0) */
            int j = (int)((mx - r.turn) * r.scale);
            j = j < ACT_MIRROR_BINS - 1 ? j : ACT_MIRROR_BINS - 1;
            const double fmx = f_d64(&a, 0, mx);
            /* below the low bound f is larger; above the high one, smaller */
            float lo = r.mirror[j], hi = r.mirror[ACT_MIRROR_BINS + j];
            if (lo > -INFINITY && !(f_d64(&a, 0, lo) > fmx))
                bad++;
            if (!(f_d64(&a, 0, hi) <= fmx))
                bad++;
            if (!(lo <= hi && hi <= r.turn + 1e-6f))
                bad++;
        }
        CHECK_MSG(bad == 0, "%s: %d mirror bounds fail", act_name(ends[e]), bad);
    }
}

void suite_pool_rule(void)
{
    RUN_TEST(test_winners_have_the_largest_f);
    RUN_TEST(test_mirror_bounds_hold);
}
