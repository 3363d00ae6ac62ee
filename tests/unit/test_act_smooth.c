/* test_act_smooth.c: selu, gelu, silu, mish, tanh, softplus (nn/act_smooth.h)
 * against double-precision libm references over the whole float range,
 * finite-difference gradient checks on the float kernels, bit-identity
 * across n, offsets and aliasing, and a speed comparison with relu.
 *
 * Error unit: the float ulp of the reference value (2^-149 below 2^-126).
 * Derivatives that cross zero (gelu', silu', mish': Phi(x) + x phi(x) and
 * the like, a sum of two terms of opposite sign for x < 0) have no useful
 * relative error near their zero: there the unit is the ulp of the sum of
 * the terms' magnitudes, the size of the numbers that cancel. Everywhere
 * else that is the ulp of the reference itself.
 *
 * Each function's worst error, and the speeds, are printed as # lines. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "nn/act_smooth.h"
#include "nn/activation.h"
#include "test.h"


/* ---------------------------------------------------------------------------
 * References in double */

#define SELU_SA (ACT_SELU_SCALE * ACT_SELU_ALPHA)
#define INV_SQRT_2PI 0.39894228040143267794

static double sig(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }
static double softplus_ref(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

static double r_selu(double x) { return x > 0 ? ACT_SELU_SCALE * x : SELU_SA * expm1(x); }
static double d_selu(double x) { return x > 0 ? ACT_SELU_SCALE : SELU_SA * exp(x); }
static double r_gelu(double x) { return 0.5 * x * erfc(-x / M_SQRT2); }
static double d_gelu(double x)
{
    return 0.5 * erfc(-x / M_SQRT2) + x * exp(-0.5 * x * x) * INV_SQRT_2PI;
}
static double s_gelu(double x)
{
    return 0.5 * erfc(-x / M_SQRT2) + fabs(x) * exp(-0.5 * x * x) * INV_SQRT_2PI;
}
static double r_silu(double x) { return x * sig(x); }
static double d_silu(double x) { return sig(x) + x * sig(x) * sig(-x); }
static double s_silu(double x) { return sig(x) + fabs(x) * sig(x) * sig(-x); }
static double r_mish(double x) { return x * tanh(softplus_ref(x)); }
static double mish_term(double x)   /* x sigmoid(x) sech^2(softplus(x)) */
{
    double c = cosh(softplus_ref(x));
    return x * sig(x) / (c * c);
}
static double d_mish(double x) { return tanh(softplus_ref(x)) + mish_term(x); }
static double s_mish(double x) { return tanh(softplus_ref(x)) + fabs(mish_term(x)); }
static double r_tanh(double x) { return tanh(x); }
static double d_tanh(double x)
{
    double c = cosh(x);
    return 1 / (c * c);
}
static double r_softplus(double x) { return softplus_ref(x); }
static double d_softplus(double x) { return sig(x); }

typedef void (*fwd_fn)(float *, const float *, long);
typedef void (*bwd_fn)(float *, const float *, const float *, const float *, long);
typedef void (*fwd_grad_fn)(float *, float *, const float *, long);

typedef struct {
    const char *name;
    fwd_fn fwd;
    bwd_fn bwd;
    double (*f)(double), (*d)(double);
    double (*dscale)(double);   /* NULL: |d| (no cancellation) */
    double max_ulp;             /* forward and derivative */
    fwd_grad_fn fwd_grad;
} smooth_fn;

/* The tolerances: the worst measured on an AVX-512 machine (printed by
 * test_smooth_accuracy) plus about 1.5 ulp for clones without FMA. */
static const smooth_fn fns[] = {
    {"selu", act_selu_forward, act_selu_backward, r_selu, d_selu, NULL, 3, act_selu_forward_grad},
    {"gelu", act_gelu_forward, act_gelu_backward, r_gelu, d_gelu, s_gelu, 7, act_gelu_forward_grad},
    {"silu", act_silu_forward, act_silu_backward, r_silu, d_silu, s_silu, 5, act_silu_forward_grad},
    {"mish", act_mish_forward, act_mish_backward, r_mish, d_mish, s_mish, 5, act_mish_forward_grad},
    {"tanh", act_tanh_forward, act_tanh_backward, r_tanh, d_tanh, NULL, 5, act_tanh_forward_grad},
    {"softplus", act_softplus_forward, act_softplus_backward, r_softplus, d_softplus, NULL, 4,
     act_softplus_forward_grad},
};
enum { NFN = sizeof fns / sizeof fns[0] };

/* ---------------------------------------------------------------------------
 * Helpers */

static void *xalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "test_act_smooth: out of memory\n");
        exit(1);
    }
    return p;
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t to_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* The float ulp at |v| (2^-149 in the subnormal range). */
static double ulp_of(double v)
{
    v = fabs(v);
    if (v < 0x1p-126)
        return 0x1p-149;
    int e;
    frexp(v, &e);
    return ldexp(1.0, e - 24);
}

static double clamp_float(double v)
{
    return v > FLT_MAX ? FLT_MAX : v < -FLT_MAX ? -FLT_MAX : v;
}

/* Every 4097th float bit pattern (odd stride: every low-bit pattern
 * occurs), the 2048 smallest magnitudes of each sign (subnormals, +-0),
 * 256 floats either side of each place where a kernel switches branch or
 * clamp, or a result underflows, and [-20, 20] in steps of 2^-9. */
static long make_inputs(float **out)
{
    static const float marks[] = {0.0f, 0.34f, 0.75f, 1.0f, 1.19f, 1.278f, 9.1f, 14.6f, 15.0f,
                                  19.6f, 20.0f, 52.5f, 60.0f, 87.0f, 88.7f, 100.0f, 103.3f, 104.0f,
                                  200.0f, FLT_MAX};
    long cap = (1L << 32) / 4097 + 2 * 2048 + 40 * 514 + 20481 + 16, n = 0;
    float *x = xalloc(sizeof(float) * (size_t)cap);
    for (uint64_t u = 0; u < (1ULL << 32); u += 4097)
        if (((u >> 23) & 0xff) != 0xff)
            x[n++] = from_bits((uint32_t)u);
    for (uint32_t k = 0; k < 2048; k++) {
        x[n++] = from_bits(k);
        x[n++] = from_bits(k | 0x80000000u);
    }
    for (size_t m = 0; m < sizeof marks / sizeof marks[0]; m++)
        for (int s = 0; s < 2; s++) {
            uint32_t b = to_bits(s ? -marks[m] : marks[m]);
            for (int k = -256; k <= 256; k++) {
                uint32_t u = b + (uint32_t)k;
                if (((u >> 23) & 0xff) != 0xff && (k >= 0 || (b & 0x7fffffff) >= 256))
                    x[n++] = from_bits(u);
            }
        }
    for (int k = -10240; k <= 10240; k++)
        x[n++] = (float)k / 512.0f;
    *out = x;
    return n;
}

/* ---------------------------------------------------------------------------
 * Accuracy over the whole range */

typedef struct {
    double worst;
    float at;
    long bad, nonfinite;
} err_stat;

static void note_err(err_stat *s, double err, float x, float y, double max_ulp)
{
    if (!isfinite(y))
        s->nonfinite++;
    if (!(err <= max_ulp))
        s->bad++;
    if (!(err <= s->worst)) {
        s->worst = err;
        s->at = x;
    }
}

static void accuracy_one(const smooth_fn *fn, const float *x, long n, float *y, float *d,
                         float *ones)
{
    err_stat ef = {0, 0, 0, 0}, ed = {0, 0, 0, 0};
    fn->fwd(y, x, n);
    fn->bwd(d, ones, x, y, n);
    for (long i = 0; i < n; i++) {
        double rf = clamp_float(fn->f(x[i]));
        note_err(&ef, fabs(y[i] - rf) / ulp_of(rf), x[i], y[i], fn->max_ulp);
        double rd = fn->d(x[i]);
        double scale = fn->dscale ? fn->dscale(x[i]) : rd;
        note_err(&ed, fabs(d[i] - rd) / ulp_of(scale), x[i], d[i], fn->max_ulp);
    }
    CHECK_MSG(ef.bad == 0 && ef.nonfinite == 0,
              "%s forward: %ld results over %g ulp (worst %.3f at x = %a), %ld not finite",
              fn->name, ef.bad, fn->max_ulp, ef.worst, (double)ef.at, ef.nonfinite);
    CHECK_MSG(ed.bad == 0 && ed.nonfinite == 0,
              "%s derivative: %ld results over %g ulp (worst %.3f at x = %a), %ld not finite",
              fn->name, ed.bad, fn->max_ulp, ed.worst, (double)ed.at, ed.nonfinite);
    printf("# act_smooth %-8s worst ulp: forward %.3f (x = %.9g), derivative %.3f (x = %.9g)"
           " over %ld inputs\n", fn->name, ef.worst, (double)ef.at, ed.worst, (double)ed.at, n);
}

static void test_smooth_accuracy(void)
{
    float *x;
    long n = make_inputs(&x);
    float *y = xalloc(sizeof(float) * (size_t)n), *d = xalloc(sizeof(float) * (size_t)n);
    float *ones = xalloc(sizeof(float) * (size_t)n);
    for (long i = 0; i < n; i++)
        ones[i] = 1.0f;
    for (int k = 0; k < NFN; k++)
        accuracy_one(&fns[k], x, n, y, d, ones);
    free(x), free(y), free(d), free(ones);
}

/* gelu, silu, mish, tanh and softplus on their tables' span
 * (act_smooth.c), where nearly all of a network's inputs lie: every 257th
 * float of (-4.125, 3.875), at most 2.5 ulp where the tables run (2.3 is
 * the worst of every float in the span, measured), else the functions'
 * own bound; and tanh keeps the sign of zero. */
static void test_smooth_table_span(void)
{
    const uint32_t top[2] = {0x40780000u, 0xc0840000u};   /* 3.875, -4.125 */
    long cap = 0;
    for (int s = 0; s < 2; s++)
        cap += (top[s] & 0x7fffffff) / 257 + 1;
    float *x = xalloc(sizeof(float) * (size_t)cap), *y = xalloc(sizeof(float) * (size_t)cap);
    float *d = xalloc(sizeof(float) * (size_t)cap), *ones = xalloc(sizeof(float) * (size_t)cap);
    long n = 0;
    for (int s = 0; s < 2; s++)
        for (uint32_t u = 0; u < (top[s] & 0x7fffffff); u += 257)
            x[n++] = from_bits(u | (top[s] & 0x80000000u));
    for (long i = 0; i < n; i++)
        ones[i] = 1.0f;
    printf("# act_smooth tables %s\n", act_smooth_tables() ? "in use" : "not in use (no AVX-512)");
    for (int k = 0; k < NFN; k++) {
        smooth_fn fn = fns[k];
        if (fn.fwd == act_selu_forward)   /* no table */
            continue;
        if (act_smooth_tables())
            fn.max_ulp = 2.5;
        accuracy_one(&fn, x, n, y, d, ones);
    }
    float zeros[16] = {-0.0f, 0.0f}, t[16];
    act_tanh_forward(t, zeros, 16);   /* one whole vector: the table's path */
    CHECK(signbit(t[0]) && t[0] == 0 && !signbit(t[1]) && t[1] == 0);
    free(x), free(y), free(d), free(ones);
}

/* din = dout * f'(x), f' as accurate as above, finite even where the
 * product would pass FLT_MAX. f' is rounded to float first, so where it is
 * subnormal its absolute error (up to 2^-149) is multiplied by dout: that
 * much more is allowed. */
static void test_smooth_backward_scaled(void)
{
    enum { N = 4099 };
    float *x = xalloc(sizeof(float) * N), *g = xalloc(sizeof(float) * N);
    float *d = xalloc(sizeof(float) * N), *io = xalloc(sizeof(float) * N);
    for (long i = 0; i < N; i++) {
        x[i] = (float)((i * 7919) % N - N / 2) / 128.0f;   /* [-16, 16] */
        g[i] = (float)((i * 104729) % 2001 - 1000) / 125.0f;
        if (i % 97 == 0)
            g[i] = i % 2 ? FLT_MAX : -FLT_MAX;
    }
    for (int k = 0; k < NFN; k++) {
        const smooth_fn *fn = &fns[k];
        double worst = 0;
        long nonfinite = 0;
        fn->bwd(d, g, x, NULL, N);
        for (long i = 0; i < N; i++) {
            double want = clamp_float(g[i] * fn->d(x[i]));
            double scale = fabs(g[i]) * (fn->dscale ? fn->dscale(x[i]) : fn->d(x[i]));
            double sub = ldexp(fabs(g[i]), -149);
            double err = fmax(fabs(d[i] - want) - sub, 0) / ulp_of(scale);
            worst = err > worst ? err : worst;
            nonfinite += !isfinite(d[i]);
        }
        CHECK_MSG(worst <= fn->max_ulp + 0.5 && nonfinite == 0,
                  "%s: dout * f' off by %.3f ulp, %ld not finite", fn->name, worst, nonfinite);
        memcpy(io, g, sizeof(float) * N);   /* din aliasing dout */
        fn->bwd(io, io, x, NULL, N);
        CHECK_MSG(memcmp(io, d, sizeof(float) * N) == 0, "%s: backward in place differs",
                  fn->name);
    }
    free(x), free(g), free(d), free(io);
}

/* Every element's result depends on its input only: any n, any offset
 * (the vector tail), and out aliasing in, give the same bits. */
static void test_smooth_bit_identity(void)
{
    enum { N = 203 };
    float x[N], g[N], y[N], d[N], part[N], io[N];
    for (int i = 0; i < N; i++) {
        x[i] = (float)(i - 101) * 0.173f;
        g[i] = 1.0f - (float)(i % 7) * 0.31f;
    }
    for (int k = 0; k < NFN; k++) {
        const smooth_fn *fn = &fns[k];
        fn->fwd(y, x, N);
        fn->bwd(d, g, x, y, N);
        int same = 1;
        for (int off = 0; off < 9; off++)
            for (int len = 1; off + len <= N; len += 1 + len / 3) {
                fn->fwd(part, x + off, len);
                same &= memcmp(part, y + off, sizeof(float) * (size_t)len) == 0;
                fn->bwd(part, g + off, x + off, y + off, len);
                same &= memcmp(part, d + off, sizeof(float) * (size_t)len) == 0;
            }
        memcpy(io, x, sizeof io);
        fn->fwd(io, io, N);
        same &= memcmp(io, y, sizeof io) == 0;
        CHECK_MSG(same, "%s: results depend on n, offset or aliasing", fn->name);
        fn->fwd(part, x, 0);   /* n = 0 touches nothing */
    }
}

/* f and f' in one pass (training's pooling winners) give the bits of the
 * separate kernels, and act_times_derivative the backward's: any n, offset,
 * and with deriv on top of in. */
static void test_smooth_forward_grad_bits(void)
{
    enum { N = 203 };
    float x[N], g[N], y[N], d[N], out[N], deriv[N], din[N];
    for (int i = 0; i < N; i++) {
        x[i] = (float)(i - 101) * 0.173f;
        g[i] = i % 11 == 0 ? 3e38f : 1.0f - (float)(i % 7) * 0.31f;   /* some saturate */
    }
    x[5] = 1e-40f, x[6] = -0.0f, x[7] = -1e4f, x[8] = 1e4f;
    for (int k = 0; k < NFN; k++) {
        const smooth_fn *fn = &fns[k];
        fn->fwd(y, x, N);
        fn->bwd(d, g, x, y, N);
        int same = 1;
        for (int off = 0; off < 9; off++)
            for (int len = 1; off + len <= N; len += 1 + len / 3) {
                fn->fwd_grad(out, deriv, x + off, len);
                same &= memcmp(out, y + off, sizeof(float) * (size_t)len) == 0;
                act_times_derivative(din, g + off, deriv, len);
                same &= memcmp(din, d + off, sizeof(float) * (size_t)len) == 0;
            }
        memcpy(deriv, x, sizeof deriv);
        fn->fwd_grad(out, deriv, deriv, N);   /* in place */
        act_times_derivative(deriv, g, deriv, N);
        same &= memcmp(out, y, sizeof out) == 0 && memcmp(deriv, d, sizeof d) == 0;
        CHECK_MSG(same, "%s: forward_grad or act_times_derivative differ from the kernels",
                  fn->name);
    }
}

/* ---------------------------------------------------------------------------
 * Gradient check: central differences of the float forward kernel, in
 * double, Richardson-extrapolated (error O(h^4)); x on a 2^-6 grid so that
 * x +- h and x +- h/2 are exact floats. The rounding of f (half an ulp)
 * divided by h bounds the noise: the tolerance is 8 of those. */
static double fd_slope(const smooth_fn *fn, float x, float h)
{
    float in[4] = {x + h, x - h, x + h / 2, x - h / 2}, out[4];
    fn->fwd(out, in, 4);
    double d1 = ((double)out[0] - out[1]) / (2.0 * h);
    double d2 = ((double)out[2] - out[3]) / (double)h;
    return (4 * d2 - d1) / 3;
}

static void test_smooth_gradcheck(void)
{
    const float h = 0x1p-7f;
    for (int k = 0; k < NFN; k++) {
        const smooth_fn *fn = &fns[k];
        double worst = 0;
        for (int j = -640; j <= 640; j++) {   /* [-10, 10] */
            float x = (float)j / 64.0f, one = 1.0f, fx, dx;
            if (fn->f == r_selu && fabs(x) < 2 * h)
                continue;   /* selu's derivative jumps at 0 */
            fn->fwd(&fx, &x, 1);
            fn->bwd(&dx, &one, &x, &fx, 1);
            double fd = fd_slope(fn, x, h);
            double tol = 8 * ulp_of(fabs(fx) + 1e-30) / h + 1e-7;
            double err = fabs(fd - dx) / tol;
            worst = err > worst ? err : worst;
        }
        CHECK_MSG(worst <= 1, "%s: finite differences disagree with backward (%.3g of the "
                  "tolerance)", fn->name, worst);
    }
}

/* ---------------------------------------------------------------------------
 * Speed: forward + backward against relu's (act_forward/act_backward, one
 * channel of 2^18 elements, one thread: the OpenMP region's cost spread
 * thin) on the same buffer; best of several runs. Asserts only a generous
 * ratio (the machine is shared); prints elements/s. */
static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

enum { SPEED_N = 1 << 18, SPEED_REPS = 16, SPEED_RUNS = 5 };

typedef struct {
    float *x, *y, *g, *d;
} speed_bufs;

static double time_relu(const speed_bufs *b)
{
    act_params a = {ACT_RELU, 0, NULL};
    double best = INFINITY;
    for (int run = 0; run < SPEED_RUNS; run++) {
        double t0 = seconds();
        for (int r = 0; r < SPEED_REPS; r++) {
            act_forward(&a, b->y, b->x, 1, SPEED_N);
            act_backward(&a, b->d, NULL, b->g, b->x, b->y, 1, SPEED_N);
        }
        double t = seconds() - t0;
        best = t < best ? t : best;
    }
    return best;
}

static double time_smooth(const smooth_fn *fn, const speed_bufs *b, double *fwd_only)
{
    double best = INFINITY, bestf = INFINITY;
    for (int run = 0; run < SPEED_RUNS; run++) {
        double t0 = seconds();
        for (int r = 0; r < SPEED_REPS; r++)
            fn->fwd(b->y, b->x, SPEED_N);
        double t1 = seconds();
        for (int r = 0; r < SPEED_REPS; r++)
            fn->bwd(b->d, b->g, b->x, b->y, SPEED_N);
        double t2 = seconds();
        bestf = t1 - t0 < bestf ? t1 - t0 : bestf;
        best = t2 - t0 < best ? t2 - t0 : best;
    }
    *fwd_only = bestf;
    return best;
}

static void test_smooth_speed(void)
{
    speed_bufs b = {xalloc(sizeof(float) * SPEED_N), xalloc(sizeof(float) * SPEED_N),
                    xalloc(sizeof(float) * SPEED_N), xalloc(sizeof(float) * SPEED_N)};
    for (long i = 0; i < SPEED_N; i++) {
        b.x[i] = (float)((i * 7919) % 2001 - 1000) / 250.0f;   /* [-4, 4] */
        b.g[i] = (float)((i * 31) % 17 - 8) / 8.0f;
    }
#ifdef _OPENMP
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
#endif
    const double elems = (double)SPEED_N * SPEED_REPS;
    double relu = time_relu(&b);
    printf("# act_smooth speed   relu     fwd+bwd %7.0f M elements/s\n", elems / relu * 1e-6);
    for (int k = 0; k < NFN; k++) {
        double fwd, t = time_smooth(&fns[k], &b, &fwd);
        printf("# act_smooth speed   %-8s fwd+bwd %7.0f M elements/s (fwd %6.0f, bwd %6.0f): "
               "%.1fx relu's time\n", fns[k].name, elems / t * 1e-6, elems / fwd * 1e-6,
               elems / (t - fwd) * 1e-6, t / relu);
        CHECK_MSG(t / relu < 100, "%s: %.0f times slower than relu", fns[k].name, t / relu);
    }
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    free(b.x), free(b.y), free(b.g), free(b.d);
}

void suite_act_smooth(void)
{
    RUN_TEST(test_smooth_accuracy);
    RUN_TEST(test_smooth_table_span);
    RUN_TEST(test_smooth_backward_scaled);
    RUN_TEST(test_smooth_bit_identity);
    RUN_TEST(test_smooth_forward_grad_bits);
    RUN_TEST(test_smooth_gradcheck);
    RUN_TEST(test_smooth_speed);
}
