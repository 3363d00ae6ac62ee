/* act_smooth.c: selu, gelu, silu, mish, tanh, softplus and their
 * derivatives (include/nn/act_smooth.h).
 *
 * Float arithmetic, sixteen lanes at a time with GCC vector types (one
 * AVX-512 register): each function is one exponential, at most one
 * division and a few products. A first version computed in double (eight
 * lanes, every result rounded once: 0.5 ulp) cost 3 to 7 times ELU's
 * kernel, a third of an epoch; this one stays within a few ulp (the
 * worst measured per function is in tests/unit/test_act_smooth.c).
 *
 * The exponential returns e^x = (1 + p) 2^n with n apart, so that results
 * that end in float's subnormal range (x e^x for x = -100) are formed in
 * the normal range and scaled by 2^n last, one exact step and one
 * rounding (lo64), never rounded twice. Beyond where a result is decided
 * in float, inputs are clamped, and where a clamp could leave a nonzero
 * result the true value is zero and it is masked; each clamp says so.
 * No libm calls; the tail runs through the same vector code from a padded
 * copy, so an element's result depends on nothing but its own input.
 *
 * With AVX-512, gelu, silu, mish, tanh and softplus take polynomial
 * tables on (-4.125, 3.875) instead (below): faster there (gelu three
 * times), and within 2.3 ulp. */
#include "nn/act_smooth.h"

#include <float.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "act_tables.h"

#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define VINLINE static inline __attribute__((always_inline))

/* The helpers pass 64-byte vectors by value but are always inlined: no ABI
 * is involved, whatever gcc warns for the baseline clone. */
#pragma GCC diagnostic ignored "-Wpsabi"

typedef float v16f __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4), may_alias));
typedef int v16i __attribute__((vector_size(64)));

/* ---------------------------------------------------------------------------
 * Lane helpers */

VINLINE v16f splat(float a) { return (v16f){a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a}; }
VINLINE v16f sel(v16i m, v16f a, v16f b) { return (v16f)((m & (v16i)a) | (~m & (v16i)b)); }
VINLINE v16f vmin(v16f a, v16f b) { return sel(a < b, a, b); }
VINLINE v16f vmax(v16f a, v16f b) { return sel(a > b, a, b); }
VINLINE v16f vabs(v16f x) { return (v16f)((v16i)x & 0x7fffffff); }
VINLINE v16f zero_where(v16i m, v16f v) { return (v16f)((v16i)v & ~m); }

/* 2^n for n in [-126, 127]. */
VINLINE v16f pow2(v16i n) { return (v16f)((n + 127) << 23); }

/* 2^(n + 64) for n in [-190, 63]. v 2^n is then lo64(v * pow2_64(n)):
 * the first product is exact (for |v| < 2^63, v not tiny), the second
 * rounds once, into the subnormals if the result is that small. */
VINLINE v16f pow2_64(v16i n) { return (v16f)((n + 191) << 23); }
VINLINE v16f lo64(v16f v) { return v * 0x1p-64f; }

/* Range reduction for e^x, x in [-180, 88]: x = n ln 2 + r, |r| <= 0.35,
 * n = round(x / ln 2) by the 1.5 * 2^23 trick (n is then kd's low bits).
 * ln 2 in two parts; k * LN2_HI (12 bits times at most 9) and x - k *
 * LN2_HI are exact. */
VINLINE v16f exp_reduce(v16f x, v16i *n)
{
    const float magic = 12582912.0f;
    v16f kd = x * 1.44269504f + magic;
    v16f k = kd - magic;
    *n = (v16i)kd - 0x4b400000;
    v16f r = x - k * 0.693359375f;
    return r - k * -2.12194440e-4f;
}

/* e^r - 1 for |r| <= 0.35 (Cephes' expf polynomial, about 1 ulp),
 * relative to r near 0: no cancellation. */
VINLINE v16f expm1_poly(v16f r)
{
    v16f q = r * 1.9875691500e-4f + 1.3981999507e-3f;
    q = q * r + 8.3334519073e-3f;
    q = q * r + 4.1665795894e-2f;
    q = q * r + 1.6666665459e-1f;
    q = q * r + 5.0000001201e-1f;
    return r + r * r * q;
}

/* ---------------------------------------------------------------------------
 * The functions, f (forward) and d (derivative), on sixteen floats */

#define SELU_SCALE_F 1.05070098735548049342f
#define SELU_SA_F 1.75809934084737685994f   /* scale * alpha */

/* expm1 = 2^n p + (2^n - 1): for n = 0, p itself (no cancellation near 0);
 * for n != 0, |x| > 0.34 and the terms do not cancel. Clamped at -87
 * (2^n stays normal; expm1 is -1 in float long before). */
VINLINE v16f selu_f(v16f x)
{
    v16i n;
    v16f p = expm1_poly(exp_reduce(vmax(vmin(x, splat(0)), splat(-87.0f)), &n));
    v16f s = pow2(n);
    v16f pos = vmin(x * SELU_SCALE_F, splat(FLT_MAX));   /* no inf */
    return sel(x > splat(0), pos, (s * p + (s - 1.0f)) * SELU_SA_F);
}

/* scale * alpha * e^x, 0 in float below x = -104: clamped at -110. */
VINLINE v16f selu_d(v16f x)
{
    v16i n;
    v16f p = expm1_poly(exp_reduce(vmax(vmin(x, splat(0)), splat(-110.0f)), &n));
    v16f neg = lo64((1.0f + p) * SELU_SA_F * pow2_64(n));
    return sel(x > splat(0), splat(SELU_SCALE_F), neg);
}

/* gelu: Phi(x) = 1 - Q(t) for x >= 0 and Q(t) for x < 0, t = |x|, with
 * Q(t) = Phi(-t) = e^(-t^2/2) s P(u): s = 3 / (t + 3), u = s mapped from
 * [3/17.75, 1] to [-1, 1], P a degree-9 least-squares fit of the Mills
 * ratio (times 1/(s sqrt(2 pi))) on [0, 14.75]. t^2 = hi + lo exactly:
 * t split into 12 high bits and the rest. e^(-t^2/2) = (1 + *p) 2^n, the
 * 1 + p left to the callers' products (one rounding less). Past t =
 * 14.75, x Q and t phi are zero in float: the callers mask them. */
VINLINE v16f gelu_parts(v16f t, v16f *p, v16i *n)
{
    v16f tc = vmin(t, splat(14.75f));
    v16f th = (v16f)((v16i)tc & (int)0xfffff000), tl = tc - th;
    v16f hi = th * th, lo = 2.0f * th * tl + tl * tl;
    *p = expm1_poly(exp_reduce(hi * -0.5f, n) + lo * -0.5f);
    v16f d = tc + 3.0f, s = 3.0f / d;
    v16f dl = vmin(tc, splat(3.0f)) - (d - vmax(tc, splat(3.0f)));   /* t + 3 - d */
    v16f rho = (3.0f - s * d) - s * dl;                               /* 3 - s (t + 3) */
    v16f u = s * 2.40677977f - 1.40677965f;
    v16f q = u * -3.310363809e-06f + -2.138053969e-05f;
    q = q * u + 5.643436816e-05f;
    q = q * u + 2.142752346e-04f;
    q = q * u + -7.131199236e-04f;
    q = q * u + -2.502067480e-03f;
    q = q * u + 7.331007160e-03f;
    q = q * u + 5.797442049e-02f;
    q = q * u + 1.636779606e-01f;
    q = q * u + 2.739857733e-01f;
    /* s is off by rho / 3 relative, which moves M by F(s) = (1/M - t)(t + 3)
     * times that (F to 3% by a line): corrected to first order */
    v16f sq = s * q;
    return sq + sq * ((s * 1.5251366f + 0.93231148f) * (rho * (1.0f / 3)));
}

#define INV_SQRT_2PI_F 0.398942280401432678f

VINLINE v16f gelu_f(v16f x)
{
    v16f p, t = vabs(x);
    v16i n;
    v16f sp = gelu_parts(t, &p, &n);
    v16f m = zero_where(t > splat(14.75f), sp + sp * p), pw = pow2_64(n);   /* Q = m 2^n */
    return sel(x > splat(0), x * (1.0f - lo64(m * pw)), lo64(x * m * pw));
}

/* Phi(x) + x phi(x): 1 - Q + t phi above 0, e^(-t^2/2) (s P - t / sqrt(2
 * pi)) below, which crosses zero near x = -0.75. */
VINLINE v16f gelu_d(v16f x)
{
    v16f p, t = vabs(x);
    v16i n;
    v16f sp = gelu_parts(t, &p, &n), pw = pow2_64(n), ec = lo64((1.0f + p) * pw);
    v16f pos = 1.0f - sp * ec + vmin(t, splat(14.75f)) * (ec * INV_SQRT_2PI_F);
    v16f v = sp - t * INV_SQRT_2PI_F;
    v = zero_where(t > splat(14.75f), v + v * p);
    return sel(x > splat(0), pos, lo64(v * pw));
}

/* e^-|x| = em 2^n with |x| clamped at 110 (e^-110 is zero in float, and so
 * is every result it feeds, unless multiplied by x itself: masked there).
 * Sets *pw = pow2_64(n) and *ec = e^-|x| (maybe subnormal or 0). */
VINLINE v16f exp_neg_abs(v16f x, v16f *pw, v16f *ec)
{
    v16i n;
    v16f em = 1.0f + expm1_poly(exp_reduce(-vmin(vabs(x), splat(110.0f)), &n));
    *pw = pow2_64(n);
    *ec = lo64(em * *pw);
    return em;
}

/* silu = x sigmoid(x): x / (1 + e) for x >= 0, x e / (1 + e) below, with
 * e = e^-|x|: neither cancels. */
VINLINE v16f silu_f(v16f x)
{
    v16i pos = x >= splat(0);
    v16f pw, ec, em = exp_neg_abs(x, &pw, &ec);
    v16f y = sel(pos, x, x * em) / (1.0f + ec);
    return zero_where(x < splat(-110.0f), sel(pos, y, lo64(y * pw)));
}

/* sigmoid(x) (1 + x sigmoid(-x)) = (1 + e (1 + x)) / (1 + e)^2 for x >= 0
 * and e (1 + e + x) / (1 + e)^2 below (zero near x = -1.28). */
VINLINE v16f silu_d(v16f x)
{
    v16i pos = x >= splat(0);
    v16f pw, ec, em = exp_neg_abs(x, &pw, &ec);
    v16f d = 1.0f + ec;
    v16f y = sel(pos, 1.0f + ec * (1.0f + x), em * (d + x)) / (d * d);
    return zero_where(x < splat(-110.0f), sel(pos, y, lo64(y * pw)));
}

/* softplus = max(x, 0) + log1p(e), e = e^-|x|: log1p(e) = 2 atanh(s), s =
 * e / (2 + e) <= 1/3, by its series to s^13 (the rest below 2e-9). s is
 * formed as (em / (2 + e)) 2^n so that it can be subnormal. No threshold:
 * PyTorch returns x for x > 20, where x + e^-x rounds to x in float
 * anyway (e^-20 < ulp(20) / 400), so the two agree. */
VINLINE v16f softplus_f(v16f x)
{
    v16f pw, ec, em = exp_neg_abs(x, &pw, &ec);
    v16f sm = em / (2.0f + ec), sc = lo64(sm * pw), z = sc * sc;
    v16f q = z * (1.0f / 15) + 1.0f / 13;
    q = q * z + 1.0f / 11;
    q = q * z + 1.0f / 9;
    q = q * z + 1.0f / 7;
    q = q * z + 1.0f / 5;
    q = q * z + 1.0f / 3;
    return vmax(x, splat(0)) + lo64(2.0f * (sm + sm * z * q) * pw);
}

/* sigmoid(x) = 1 / (1 + e) for x >= 0, e / (1 + e) below */
VINLINE v16f softplus_d(v16f x)
{
    v16i pos = x >= splat(0);
    v16f pw, ec, em = exp_neg_abs(x, &pw, &ec);
    v16f y = sel(pos, splat(1.0f), em) / (1.0f + ec);
    return sel(pos, y, lo64(y * pw));
}

/* mish: with w = e^x, tanh(softplus(x)) = w (w + 2) / (w (w + 2) + 2).
 * For x < 0 that is N / D with e = w; for x >= 0, dividing by w^2 with
 * e = 1/w: N = 1 + 2e, D = N + 2e^2. Sums of positive terms both ways.
 * Below 0, N = em (e + 2) 2^n. Sets *num (N, or N / 2^n below) and *den. */
VINLINE void mish_parts(v16f x, v16i pos, v16f *em, v16f *ec, v16f *pw, v16f *num,
                        v16f *den)
{
    *em = exp_neg_abs(x, pw, ec);
    v16f np = 1.0f + 2.0f * *ec, nm = *em * (*ec + 2.0f);
    *num = sel(pos, np, nm);
    *den = sel(pos, np + 2.0f * *ec * *ec, lo64(nm * *pw) + 2.0f);
}

VINLINE v16f mish_f(v16f x)
{
    v16i pos = x >= splat(0);
    v16f em, ec, pw, num, den;
    mish_parts(x, pos, &em, &ec, &pw, &num, &den);
    v16f y = x * (num / den);
    return zero_where(x < splat(-110.0f), sel(pos, y, lo64(y * pw)));
}

/* tanh(sp) + x sech^2(sp) sigmoid(x) = (N D + 4x K) / D^2 with K = e^2 (1 +
 * e) for x >= 0; below 0, e ((e + 2) D + 4x (1 + e)) / D^2, zero near
 * x = -1.19. */
VINLINE v16f mish_d(v16f x)
{
    v16i pos = x >= splat(0);
    v16f em, ec, pw, num, den;
    mish_parts(x, pos, &em, &ec, &pw, &num, &den);
    v16f k = sel(pos, ec * ec * (1.0f + ec), em * (1.0f + ec));
    v16f top = sel(pos, num * den, em * ((ec + 2.0f) * den)) + x * (4.0f * k);
    v16f y = top / (den * den);
    return zero_where(x < splat(-110.0f), sel(pos, y, lo64(y * pw)));
}

/* tanh(t) = -m / (2 + m), m = expm1(-2t) = 2^n p + (2^n - 1): no
 * cancellation near 0. t clamped at 10 (tanh is 1 in float past 9.1); the
 * sign is x's bit, so tanh(-0) = -0. */
VINLINE v16f tanh_f(v16f x)
{
    v16i n;
    v16f p = expm1_poly(exp_reduce(-2.0f * vmin(vabs(x), splat(10.0f)), &n));
    v16f s = pow2(n), m = s * p + (s - 1.0f);
    v16f t = -m / (2.0f + m);
    return (v16f)((v16i)t | ((v16i)x & (int)0x80000000));
}

/* sech^2 = 4e / (1 + e)^2, e = e^-2t = (1 + p) 2^n, t clamped at 60 (4e^-120
 * is zero in float). */
VINLINE v16f tanh_d(v16f x)
{
    v16i n;
    v16f em = 1.0f + expm1_poly(exp_reduce(-2.0f * vmin(vabs(x), splat(60.0f)), &n));
    v16f pw = pow2_64(n), d = 1.0f + lo64(em * pw);
    return lo64(4.0f * em / (d * d) * pw);
}

/* ---------------------------------------------------------------------------
 * The kernels: whole vectors, then the tail through a zero-padded copy.
 * din = dout f'(x), saturated at +-FLT_MAX (selu's scale and the other
 * peaks above 1 could overflow a huge dout). */

VINLINE v16f times_grad(v16f g, v16f d)
{
    return vmax(vmin(g * d, splat(FLT_MAX)), splat(-FLT_MAX));
}

#define SMOOTH_KERNELS(fn, f_of, d_of, attrs)                                  \
    attrs void fn##_forward(float *out, const float *in, long n)               \
    {                                                                          \
        long i = 0;                                                            \
        for (; i + 16 <= n; i += 16)                                           \
            *(v16u *)(out + i) = f_of(*(const v16u *)(in + i));                \
        if (i < n) {                                                           \
            float x[16] = {0};                                                 \
            memcpy(x, in + i, sizeof(float) * (size_t)(n - i));                \
            v16f y = f_of(*(const v16u *)x);                                   \
            memcpy(out + i, &y, sizeof(float) * (size_t)(n - i));              \
        }                                                                      \
    }                                                                          \
    attrs void fn##_backward(float *din, const float *dout, const float *in,   \
                             const float *out, long n)                         \
    {                                                                          \
        (void)out;                                                             \
        long i = 0;                                                            \
        for (; i + 16 <= n; i += 16)                                           \
            *(v16u *)(din + i) = times_grad(*(const v16u *)(dout + i),         \
                                            d_of(*(const v16u *)(in + i)));    \
        if (i < n) {                                                           \
            float g[16] = {0}, x[16] = {0};                                    \
            memcpy(g, dout + i, sizeof(float) * (size_t)(n - i));              \
            memcpy(x, in + i, sizeof(float) * (size_t)(n - i));                \
            v16f y = times_grad(*(const v16u *)g, d_of(*(const v16u *)x));     \
            memcpy(din + i, &y, sizeof(float) * (size_t)(n - i));              \
        }                                                                      \
    }

/* The first k < 16 floats of src to dst: a loop that gcc keeps inline (a
 * variable memcpy is a libc call, dear on the short runs of the pooling
 * winners). */
VINLINE void copy_tail(float *dst, const float *src, long k)
{
    for (int l = 0; l < 16; l++)
        if (l < k)
            dst[l] = src[l];
}

/* f and f' of the same inputs in one pass: the two share their exponential
 * and more (gcc computes the common parts once), and each result has the
 * bits of the separate kernels. deriv may alias in (exactly). */
#define SMOOTH_FORWARD_GRAD(fn, f_of, d_of, attrs)                             \
    attrs void fn##_forward_grad(float *out, float *deriv, const float *in,    \
                                 long n)                                       \
    {                                                                          \
        long i = 0;                                                            \
        for (; i + 16 <= n; i += 16) {                                         \
            v16f x = *(const v16u *)(in + i);                                  \
            *(v16u *)(out + i) = f_of(x);                                      \
            *(v16u *)(deriv + i) = d_of(x);                                    \
        }                                                                      \
        if (i < n) {                                                           \
            float x[16] = {0}, y[16], d[16];                                   \
            copy_tail(x, in + i, n - i);                                       \
            *(v16u *)y = f_of(*(const v16u *)x);                               \
            *(v16u *)d = d_of(*(const v16u *)x);                               \
            copy_tail(out + i, y, n - i);                                      \
            copy_tail(deriv + i, d, n - i);                                    \
        }                                                                      \
    }

#define EXP_KERNELS(fn, name, attrs)                                           \
    SMOOTH_KERNELS(fn, name##_f, name##_d, attrs)                              \
    SMOOTH_FORWARD_GRAD(fn, name##_f, name##_d, attrs)

EXP_KERNELS(act_selu, selu, CLONES)
EXP_KERNELS(exp_gelu, gelu, static CLONES)
EXP_KERNELS(exp_silu, silu, static CLONES)
EXP_KERNELS(exp_mish, mish, static CLONES)
EXP_KERNELS(exp_tanh, tanh, static CLONES)
EXP_KERNELS(exp_softplus, softplus, static CLONES)

/* ---------------------------------------------------------------------------
 * gelu, silu, mish, tanh and softplus from tables, with AVX-512. The first
 * three are x F(x), the others F itself; on (-4.125, 3.875), where nearly
 * all of a network's inputs lie, F and f' are polynomials in u = x - c
 * about the nearest centre c = k/4 (tools/act_tables.py: |u| <= 1/8, u
 * exact, degree 5 to 7), their coefficients picked lane by lane with one
 * permute each: 20 to 30 operations a vector where the exponential forms
 * above take 30 to 70 and a division. Lanes outside take name_f and
 * name_d, computed only for the vectors that have such a lane, so that an
 * element's result still depends on its own input alone. */

#if defined(__x86_64__) || defined(__i386__)
#define V4 __attribute__((target("arch=x86-64-v4")))

typedef unsigned v16w __attribute__((vector_size(64)));

/* u = x - c and k = c's table index (the integer 4c, rounded to nearest
 * as in exp_reduce). Unsigned: for lanes outside the span, whose k is
 * garbage the permutes mask to 5 bits, the difference may wrap. */
VINLINE v16f table_u(v16f x, v16i *k)
{
    const float magic = 12582912.0f;
    v16f kd = x * 4.0f + magic;
    *k = (v16i)((v16w)kd - (0x4b400000u - 16u));
    return x - (kd - magic) * 0.25f;
}

/* Horner's rule on a table's rows degree .. 0. */
VINLINE v16f table_poly(const float (*t)[32], int degree, v16i k, v16f u)
{
    v16f p = __builtin_shuffle(*(const v16f *)t[degree], *(const v16f *)(t[degree] + 16), k);
    for (int d = degree - 1; d >= 0; d--)
        p = p * u + __builtin_shuffle(*(const v16f *)t[d], *(const v16f *)(t[d] + 16), k);
    return p;
}

/* The lanes of x inside the tables' span (NaN is not). (Constants from
 * intrinsics: gcc 12 builds splat()'s vectors lane by lane here.) */
V4 static inline v16i in_tables(v16f x)
{
    return (x > (v16f)_mm512_set1_ps(-4.125f)) & (x < (v16f)_mm512_set1_ps(3.875f));
}

V4 static inline int all_lanes(v16i m)
{
    return _mm512_cmpneq_epi32_mask((__m512i)m, _mm512_setzero_si512()) == 0xffff;
}

/* f from F: x F(x); F itself, with tanh's sign of zero (Horner's last
 * step adds F(0) = +0 to -0). */
VINLINE v16f times_x(v16f x, v16f F) { return x * F; }
VINLINE v16f as_is(v16f x, v16f F)
{
    (void)x;
    return F;
}
VINLINE v16f odd_zero(v16f x, v16f F) { return sel(x == splat(0), x, F); }

#define TABLE_KERNELS(name, NAME, f_from)                                      \
    V4 static inline v16f name##_table_f(v16f x)                               \
    {                                                                          \
        v16i k, in = in_tables(x);                                             \
        v16f y = f_from(x, table_poly(NAME##_F, NAME##_DEGREE, k, table_u(x, &k))); \
        return all_lanes(in) ? y : sel(in, y, name##_f(x));                    \
    }                                                                          \
    V4 static inline v16f name##_table_d(v16f x)                               \
    {                                                                          \
        v16i k, in = in_tables(x);                                             \
        v16f y = table_poly(NAME##_D, NAME##_DEGREE, k, table_u(x, &k));       \
        return all_lanes(in) ? y : sel(in, y, name##_d(x));                    \
    }                                                                          \
    SMOOTH_KERNELS(table_##name, name##_table_f, name##_table_d, V4 static)    \
    SMOOTH_FORWARD_GRAD(table_##name, name##_table_f, name##_table_d, V4 static)

TABLE_KERNELS(gelu, GELU, times_x)
TABLE_KERNELS(silu, SILU, times_x)
TABLE_KERNELS(mish, MISH, times_x)
TABLE_KERNELS(tanh, TANH, odd_zero)
TABLE_KERNELS(softplus, SOFTPLUS, as_is)

int act_smooth_tables(void)
{
    return __builtin_cpu_supports("x86-64-v4");
}
#define TABLE_OR_EXP(name)                                                     \
    void act_##name##_forward(float *out, const float *in, long n)             \
    {                                                                          \
        if (act_smooth_tables())                                               \
            return table_##name##_forward(out, in, n);                         \
        exp_##name##_forward(out, in, n);                                      \
    }                                                                          \
    void act_##name##_backward(float *din, const float *dout, const float *in, \
                               const float *out, long n)                       \
    {                                                                          \
        if (act_smooth_tables())                                               \
            return table_##name##_backward(din, dout, in, out, n);             \
        exp_##name##_backward(din, dout, in, out, n);                          \
    }                                                                          \
    void act_##name##_forward_grad(float *out, float *deriv, const float *in,  \
                                   long n)                                     \
    {                                                                          \
        if (act_smooth_tables())                                               \
            return table_##name##_forward_grad(out, deriv, in, n);             \
        exp_##name##_forward_grad(out, deriv, in, n);                          \
    }
#else
#define TABLE_OR_EXP(name)                                                     \
    void act_##name##_forward(float *out, const float *in, long n)             \
    {                                                                          \
        exp_##name##_forward(out, in, n);                                      \
    }                                                                          \
    void act_##name##_backward(float *din, const float *dout, const float *in, \
                               const float *out, long n)                       \
    {                                                                          \
        exp_##name##_backward(din, dout, in, out, n);                          \
    }                                                                          \
    void act_##name##_forward_grad(float *out, float *deriv, const float *in,  \
                                   long n)                                     \
    {                                                                          \
        exp_##name##_forward_grad(out, deriv, in, n);                          \
    }
#endif

TABLE_OR_EXP(gelu)
TABLE_OR_EXP(silu)
TABLE_OR_EXP(mish)
TABLE_OR_EXP(tanh)
TABLE_OR_EXP(softplus)

#if !defined(__x86_64__) && !defined(__i386__)
int act_smooth_tables(void) { return 0; }
#endif

/* din = dout * deriv, saturated as the backward kernels' (their bits, given
 * the deriv of act_*_forward_grad). din may alias dout. */
CLONES void act_times_derivative(float *din, const float *dout, const float *deriv, long n)
{
    long i = 0;
    for (; i + 16 <= n; i += 16)
        *(v16u *)(din + i) = times_grad(*(const v16u *)(dout + i), *(const v16u *)(deriv + i));
    if (i < n) {
        float g[16] = {0}, d[16] = {0};
        memcpy(g, dout + i, sizeof(float) * (size_t)(n - i));
        memcpy(d, deriv + i, sizeof(float) * (size_t)(n - i));
        v16f y = times_grad(*(const v16u *)g, *(const v16u *)d);
        memcpy(din + i, &y, sizeof(float) * (size_t)(n - i));
    }
}
