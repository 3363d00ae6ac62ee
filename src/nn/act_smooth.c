/* act_smooth.c: selu, gelu, silu, mish, tanh, softplus and their
 * derivatives (include/nn/act_smooth.h).
 *
 * Computed in double from the float input, eight lanes at a time with GCC
 * vector types: each function is a few exponentials, at most one
 * reciprocal and some products, and with approximations good to about
 * 1e-10 in double the only sizeable error left is the one final rounding to
 * float (0.5 ulp). Double's range also absorbs what float's could not:
 * x e^x for x = -100 is a float subnormal but a plain double, and
 * intermediate e^200 would overflow float. No libm calls; the tail runs
 * through the same vector code from a padded copy, so an element's result
 * depends on nothing but its own input.
 *
 * Beyond where a result is exactly decided in float, inputs are clamped
 * (|x| <= 200 in exponentials: e^-200 is far below float's smallest
 * subnormal); each clamp says so where it is made. */
#include "nn/act_smooth.h"

#include <float.h>
#include <string.h>

#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define VINLINE static inline __attribute__((always_inline))

/* The helpers pass 64-byte vectors by value but are always inlined: no ABI
 * is involved, whatever gcc warns for the baseline clone. */
#pragma GCC diagnostic ignored "-Wpsabi"

typedef float v4f __attribute__((vector_size(16)));
typedef float v8f __attribute__((vector_size(32)));
typedef float v8fu __attribute__((vector_size(32), aligned(4), may_alias));
typedef double v4d __attribute__((vector_size(32)));
typedef double v8d __attribute__((vector_size(64)));
typedef long long v8l __attribute__((vector_size(64)));

/* ---------------------------------------------------------------------------
 * Lane helpers */

VINLINE v8d splat(double a) { return (v8d){a, a, a, a, a, a, a, a}; }
VINLINE v8d sel(v8l m, v8d a, v8d b) { return (v8d)((m & (v8l)a) | (~m & (v8l)b)); }
VINLINE v8d vmin(v8d a, v8d b) { return sel(a < b, a, b); }
VINLINE v8d vmax(v8d a, v8d b) { return sel(a > b, a, b); }
VINLINE v8d vabs(v8d x) { return (v8d)((v8l)x & 0x7fffffffffffffffLL); }
/* float <-> double in two halves: gcc 12 crashes converting whole
 * 512-bit vectors for the AVX2 clone (internal compiler error in
 * convert_mode_scalar). */
VINLINE v8d load8(const float *p)
{
    v8f x = *(const v8fu *)p;
    v4f lo = __builtin_shufflevector(x, x, 0, 1, 2, 3);
    v4f hi = __builtin_shufflevector(x, x, 4, 5, 6, 7);
    return __builtin_shufflevector(__builtin_convertvector(lo, v4d),
                                   __builtin_convertvector(hi, v4d), 0, 1, 2, 3, 4, 5, 6, 7);
}

VINLINE v8f narrow(v8d x)
{
    v4d lo = __builtin_shufflevector(x, x, 0, 1, 2, 3);
    v4d hi = __builtin_shufflevector(x, x, 4, 5, 6, 7);
    return __builtin_shufflevector(__builtin_convertvector(lo, v4f),
                                   __builtin_convertvector(hi, v4f), 0, 1, 2, 3, 4, 5, 6, 7);
}

/* Rounds to float, saturating at +-FLT_MAX: no finite input gives inf
 * (selu's scale and the derivatives' peaks above 1 could overflow). */
VINLINE v8f to_f(v8d x)
{
    return narrow(vmax(vmin(x, splat(FLT_MAX)), splat(-FLT_MAX)));
}

/* 1/d for 2^-100 < |d| < 2^100: float's quotient (relative error at most
 * 2^-23 counting the rounding of d) and one Newton step, error <= 2^-45.
 * A double division costs several times as much. */
VINLINE v8d rcp(v8d d)
{
    v8f q = 1.0f / narrow(d);
    v8d r = load8((const float *)&q);
    return r + r * (1.0 - d * r);
}

/* e^x = 2^k (1 + p) for |x| <= 700; returns 2^k and sets *p. k = round(x /
 * ln 2) by the 1.5 * 2^52 trick (k sits in kd's low mantissa bits, then
 * shifted into an exponent field); r = x - k ln 2 with ln 2 in two parts
 * (k * LN2_HI is exact); p = e^r - 1 by its Taylor series to r^9: |r| <=
 * 0.347, so the rest is below 2e-11 of p. */
VINLINE v8d exp_split(v8d x, v8d *p)
{
    const double shift = 0x1.8p52;
    v8d kd = x * 0x1.71547652b82fep0 + shift;
    v8d k = kd - shift;
    v8d r = x - k * 0x1.62e42feep-1;
    r = r - k * 0x1.a39ef35793c76p-33;
    v8d q = r * (1.0 / 362880) + 1.0 / 40320;
    q = q * r + 1.0 / 5040;
    q = q * r + 1.0 / 720;
    q = q * r + 1.0 / 120;
    q = q * r + 1.0 / 24;
    q = q * r + 1.0 / 6;
    q = q * r + 0.5;
    *p = r + r * r * q;
    return (v8d)(((v8l)kd << 52) + (1023LL << 52));
}

VINLINE v8d exp_d(v8d x)
{
    v8d p, s = exp_split(x, &p);
    return s * p + s;
}

/* e^-|x|, clamped at e^-200 (below every float result it feeds). */
VINLINE v8d exp_neg_abs(v8d x)
{
    return exp_d(-vmin(vabs(x), splat(200.0)));
}

/* ---------------------------------------------------------------------------
 * The functions, f (forward) and d (derivative), on eight doubles */

#define SELU_SA (ACT_SELU_SCALE * ACT_SELU_ALPHA)

/* expm1 for x <= 0 as 2^k p + (2^k - 1): for k = 0 that is p itself, with
 * no cancellation near 0; for k != 0, |x| > 0.34 and the terms do not
 * cancel. Clamped at -200 (expm1 = -1 in double long before). */
VINLINE v8d selu_f(v8d x)
{
    v8d p, s = exp_split(vmax(vmin(x, splat(0)), splat(-200.0)), &p);
    v8d em1 = s * p + (s - 1.0);
    return sel(x > splat(0), x * ACT_SELU_SCALE, em1 * SELU_SA);
}

VINLINE v8d selu_d(v8d x)
{
    v8d e = exp_d(vmax(vmin(x, splat(0)), splat(-200.0)));
    return sel(x > splat(0), splat(ACT_SELU_SCALE), e * SELU_SA);
}

/* gelu: Phi(x) = 1 - Q(t) for x >= 0 and Q(t) for x < 0, t = |x|, where
 * Q(t) = Phi(-t) = phi(t) M(t), M the Mills ratio, evaluated as
 * e^(-t^2/2) s P(u): s = 4 / (t + 4), u = s mapped from [1/6, 1] to
 * [-1, 1], P a degree-12 least-squares fit (relative error 7e-11 on
 * [0, 20]; constant 1/(4 sqrt(2 pi)) folded in). t^2 is exact in double.
 * Past t = 20, t phi(t) < 1e-85: zero in float even times FLT_MAX (a huge
 * dout), so e is set to 0 there (Q = phi = 0). Sets *phi = phi(t). */
VINLINE v8d gelu_q(v8d t, v8d *phi)
{
    v8d tc = vmin(t, splat(20.0));
    v8d e = exp_d(tc * tc * -0.5);
    e = (v8d)((v8l)e & ~(t > splat(20.0)));
    v8d r = rcp(tc + 4.0);
    v8d u = r * 9.6 - 1.4;
    v8d q = u * 1.6402996996384749e-07 + -6.0360835447092073e-07;
    q = q * u + -2.1554863088898694e-06;
    q = q * u + 8.4280035327537417e-06;
    q = q * u + 2.6130506221642457e-05;
    q = q * u + -8.5823092206522292e-05;
    q = q * u + -0.00043456044820075501;
    q = q * u + 0.00031803780802344586;
    q = q * u + 0.0078338083731977967;
    q = q * u + 0.033060749223996315;
    q = q * u + 0.085202941752411859;
    q = q * u + 0.15700636470398502;
    q = q * u + 0.21706651821005574;
    *phi = e * 0.39894228040143267794;
    return e * (4.0 * r) * q;
}

VINLINE v8d gelu_f(v8d x)
{
    v8d phi, q = gelu_q(vabs(x), &phi);
    return x * sel(x > splat(0), 1.0 - q, q);
}

/* Phi(x) + x phi(x) */
VINLINE v8d gelu_d(v8d x)
{
    v8d t = vabs(x), phi, q = gelu_q(t, &phi);
    return sel(x > splat(0), (1.0 - q) + t * phi, q - t * phi);
}

/* sigmoid from e = e^-|x| and r = 1 / (1 + e): r for x >= splat(0), e r below;
 * sigmoid(x) sigmoid(-x) = e r^2 for both signs. Neither cancels. */
VINLINE v8d sigmoid_parts(v8d x, v8d *e, v8d *r)
{
    *e = exp_neg_abs(x);
    *r = rcp(1.0 + *e);
    return sel(x >= splat(0), *r, *e * *r);
}

VINLINE v8d silu_f(v8d x)
{
    v8d e, r;
    return x * sigmoid_parts(x, &e, &r);
}

/* sigmoid(x) + x sigmoid(x) sigmoid(-x) */
VINLINE v8d silu_d(v8d x)
{
    v8d e, r, s = sigmoid_parts(x, &e, &r);
    return s + x * e * r * r;
}

/* softplus = max(x, 0) + log1p(e^-|x|); log1p(e) = 2 atanh(s) with s = e /
 * (2 + e) <= 1/3, by its series to s^19 (the rest is below 2e-11). No
 * threshold: PyTorch returns x for x > 20, where the true value x + e^-x
 * rounds to x in float anyway (e^-20 < ulp(20) / 2000), so the two agree. */
VINLINE v8d softplus_f(v8d x)
{
    v8d e = exp_neg_abs(x);
    v8d s = e * rcp(2.0 + e), z = s * s;
    v8d q = z * (1.0 / 19) + 1.0 / 17;
    q = q * z + 1.0 / 15;
    q = q * z + 1.0 / 13;
    q = q * z + 1.0 / 11;
    q = q * z + 1.0 / 9;
    q = q * z + 1.0 / 7;
    q = q * z + 1.0 / 5;
    q = q * z + 1.0 / 3;
    return vmax(x, splat(0)) + 2.0 * (s + s * z * q);
}

VINLINE v8d softplus_d(v8d x)
{
    v8d e, r;
    return sigmoid_parts(x, &e, &r);
}

/* mish: with w = e^x, tanh(softplus(x)) = w (w + 2) / (w (w + 2) + 2).
 * For x < 0 that is N / D with e = w; for x >= splat(0), dividing by w^2 with
 * e = 1/w: N = 1 + 2e, D = N + 2e^2. Sums of positive terms both ways.
 * The derivative tanh(sp) + x sech^2(sp) sigmoid(x) = N/D + 4x K / D^2,
 * K = w (1 + w) (x < 0) or e^2 (1 + e) (x >= 0). */
VINLINE v8d mish_parts(v8d x, v8d *e, v8d *n, v8d *d)
{
    v8l pos = x >= splat(0);
    *e = exp_neg_abs(x);
    *n = sel(pos, 1.0 + 2.0 * *e, *e * (*e + 2.0));
    *d = *n + sel(pos, 2.0 * *e * *e, splat(2.0));
    return rcp(*d);
}

VINLINE v8d mish_f(v8d x)
{
    v8d e, n, d, r = mish_parts(x, &e, &n, &d);
    return x * n * r;
}

VINLINE v8d mish_d(v8d x)
{
    v8d e, n, d, r = mish_parts(x, &e, &n, &d);
    v8d k = sel(x >= splat(0), e, splat(1.0)) * e * (1.0 + e);
    return n * r + 4.0 * x * k * r * r;
}

/* tanh(t) = -m / (2 + m) with m = expm1(-2t) (no cancellation near 0), and
 * tanh' = 4 e / (2 + m)^2 with e = e^-2t: both from one reduction. The
 * sign comes from x's bit, so tanh(-0) = -0. Clamped at t = 60: tanh is
 * 1 in float past 9.1, tanh' = 4 e^-120 is below float's range. */
VINLINE v8d tanh_parts(v8d x, v8d *e, v8d *r)
{
    v8d p, s = exp_split(-2.0 * vmin(vabs(x), splat(60.0)), &p);
    v8d m = s * p + (s - 1.0);
    *e = s * p + s;
    *r = rcp(2.0 + m);
    return m;
}

VINLINE v8d tanh_f(v8d x)
{
    v8d e, r, m = tanh_parts(x, &e, &r);
    v8d t = -m * r;
    return (v8d)((v8l)t | ((v8l)x & (long long)0x8000000000000000ULL));
}

VINLINE v8d tanh_d(v8d x)
{
    v8d e, r;
    tanh_parts(x, &e, &r);
    return 4.0 * e * r * r;
}

/* ---------------------------------------------------------------------------
 * The kernels: whole vectors, then the tail through a zero-padded copy. */

#define SMOOTH_KERNELS(name)                                                   \
    CLONES void act_##name##_forward(float *out, const float *in, long n)     \
    {                                                                          \
        long i = 0;                                                            \
        for (; i + 8 <= n; i += 8)                                             \
            *(v8fu *)(out + i) = to_f(name##_f(load8(in + i))); \
        if (i < n) {                                                           \
            float x[8] = {0};                                                  \
            memcpy(x, in + i, sizeof(float) * (size_t)(n - i));                \
            v8f y = to_f(name##_f(load8(x)));                    \
            memcpy(out + i, &y, sizeof(float) * (size_t)(n - i));              \
        }                                                                      \
    }                                                                          \
    CLONES void act_##name##_backward(float *din, const float *dout,          \
                                      const float *in, const float *out,      \
                                      long n)                                  \
    {                                                                          \
        (void)out;                                                             \
        long i = 0;                                                            \
        for (; i + 8 <= n; i += 8) {                                           \
            v8d g = load8(dout + i);                           \
            *(v8fu *)(din + i) = to_f(g * name##_d(load8(in + i))); \
        }                                                                      \
        if (i < n) {                                                           \
            float g[8] = {0}, x[8] = {0};                                      \
            memcpy(g, dout + i, sizeof(float) * (size_t)(n - i));              \
            memcpy(x, in + i, sizeof(float) * (size_t)(n - i));                \
            v8f y = to_f(load8(g) * name##_d(load8(x))); \
            memcpy(din + i, &y, sizeof(float) * (size_t)(n - i));             \
        }                                                                      \
    }

SMOOTH_KERNELS(selu)
SMOOTH_KERNELS(gelu)
SMOOTH_KERNELS(silu)
SMOOTH_KERNELS(mish)
SMOOTH_KERNELS(tanh)
SMOOTH_KERNELS(softplus)
