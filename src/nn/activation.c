/* activation.c: the activation table, its kernels, and the entry points
 * that run a row's kernels over channel-major tensors.
 *
 * Work is cut into fixed chunks of one channel (never by thread count);
 * every element is computed by the same expression whichever thread or
 * vector lane gets it, so the results are bit-identical for any number of
 * threads. Loops are written without calls so that gcc vectorises them;
 * ELU uses the vectorisable expm1 below instead of libm. */
#include "nn/activation.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "nn/act_smooth.h"

#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

enum { CHUNK = 16384 };   /* elements per task */

typedef float v16f __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4), may_alias));
typedef int v16i __attribute__((vector_size(64)));

/* ---------------------------------------------------------------------------
 * expm1 for x <= 0, within about 1 ulp, branch-free so that it vectorises.
 * x = n ln2 + r with |r| <= ln2/2; expm1(r) by its Taylor series to r^8
 * (the next term is below 1e-9 r); expm1(x) = 2^n expm1(r) + (2^n - 1), which
 * for n = 0 is expm1(r) itself: no cancellation near 0. */
static inline float expm1_neg(float x)
{
    const float magic = 12582912.0f;   /* 1.5 * 2^23: adding it rounds */
    /* clamp so that 2^n stays a normal float (expm1 = -1 below -87 anyway)
     * and nothing overflows when a vector loop evaluates x > 0 too; a NaN
     * is passed through at the end */
    float xc = x >= -87.0f ? x : -87.0f;
    xc = xc <= 0.0f ? xc : 0.0f;
    float n = (xc * 1.44269504f + magic) - magic;
    float r = xc - n * 0.693145751953125f;   /* exact: ln2_hi has 16 bits */
    r = r - n * 1.428606765330187e-06f;
    float p = 1.0f / 40320;
    p = p * r + 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = r + r * r * p;
    int bits = ((int)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    float y = scale * p + (scale - 1.0f);
    return x == x ? y : x;
}

/* ---------------------------------------------------------------------------
 * Element loops. Each has a restrict version and an in-place version, so
 * that neither needs gcc's runtime alias check (which refuses out == in). */

#define ELEMENTWISE(name, expr)                                               \
    CLONES static void name##_rr(float *restrict out, const float *restrict in, \
                                 long n, float alpha)                         \
    {                                                                         \
        for (long i = 0; i < n; i++) {                                        \
            float x = in[i];                                                  \
            out[i] = (expr);                                                  \
        }                                                                     \
    }                                                                         \
    CLONES static void name##_ip(float *io, long n, float alpha)              \
    {                                                                         \
        for (long i = 0; i < n; i++) {                                        \
            float x = io[i];                                                  \
            io[i] = (expr);                                                   \
        }                                                                     \
    }                                                                         \
    static void name(float *out, const float *in, long n, float alpha)        \
    {                                                                         \
        if (out == in)                                                        \
            name##_ip(out, n, alpha);                                         \
        else                                                                  \
            name##_rr(out, in, n, alpha);                                     \
    }

ELEMENTWISE(fwd_relu, ((void)alpha, x > 0 ? x : 0.0f))
ELEMENTWISE(fwd_elu, x > 0 ? x : alpha * expm1_neg(x))
ELEMENTWISE(fwd_leaky, x > 0 ? x : alpha * x)

/* Backward: g = dout, x = in, y = out. din may alias dout. */
#define BACKWARD(name, expr)                                                  \
    CLONES static void name##_rr(float *restrict din,                         \
                                 const float *restrict dout,                  \
                                 const float *restrict in,                    \
                                 const float *restrict out, long n,           \
                                 float alpha)                                 \
    {                                                                         \
        for (long i = 0; i < n; i++) {                                        \
            float g = dout[i], x = in[i], y = out[i];                         \
            (void)x, (void)y;                                                 \
            din[i] = (expr);                                                  \
        }                                                                     \
    }                                                                         \
    CLONES static void name##_ip(float *io, const float *restrict in,         \
                                 const float *restrict out, long n,           \
                                 float alpha)                                 \
    {                                                                         \
        for (long i = 0; i < n; i++) {                                        \
            float g = io[i], x = in[i], y = out[i];                           \
            (void)x, (void)y;                                                 \
            io[i] = (expr);                                                   \
        }                                                                     \
    }                                                                         \
    static void name(float *din, const float *dout, const float *in,          \
                     const float *out, long n, float alpha)                   \
    {                                                                         \
        if (din == dout)                                                      \
            name##_ip(din, in, out, n, alpha);                                \
        else                                                                  \
            name##_rr(din, dout, in, out, n, alpha);                          \
    }

/* relu and elu (alpha > 0) keep the sign, so out alone tells x > 0 and in
 * is not read: one stream less over memory. leaky and prelu slopes may be
 * negative. */
BACKWARD(bwd_relu, ((void)alpha, y > 0 ? g : 0.0f))
BACKWARD(bwd_elu, y > 0 ? g : g * (y + alpha))   /* d/dx a(e^x - 1) = y + a */
BACKWARD(bwd_leaky, x > 0 ? g : g * alpha)

/* PReLU backward over one channel, din (may alias g) and the gradient of
 * its alpha in one pass: sum of g * x where x <= 0, in 16 interleaved
 * partial sums (lane = index mod 16, each in index order) added pairwise
 * at the end: a fixed order, the same in every clone. */
CLONES static float prelu_channel(float *din, const float *g,
                                  const float *restrict x, long n, float a)
{
    v16f acc = {0};
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        v16f vg = *(const v16u *)(g + i), vx = *(const v16u *)(x + i);
        v16i pos = vx > (v16f){0};
        v16f neg = vg * vx;   /* no contraction: the mask sits between */
        acc += (v16f)((v16i)neg & ~pos);
        v16f scaled = vg * a;
        *(v16u *)(din + i) = (v16f)(((v16i)vg & pos) | ((v16i)scaled & ~pos));
    }
    float lane[16];
    for (int l = 0; l < 16; l++)
        lane[l] = acc[l];
    for (; i < n; i++) {
        float gi = g[i], xi = x[i];
        lane[i % 16] += xi > 0 ? 0.0f : gi * xi;
        din[i] = xi > 0 ? gi : gi * a;
    }
    for (int w = 8; w >= 1; w /= 2)
        for (int l = 0; l < w; l++)
            lane[l] += lane[l + w];
    return lane[0];
}

/* ---------------------------------------------------------------------------
 * The smooth activations (act_smooth.c) in the table's signatures: they take
 * no alpha, and their derivatives are computed from x (so none runs in place;
 * the model keeps the pre-activations, at the pooling winners for conv). */

#define SMOOTH(f)                                                             \
    static void fwd_##f(float *out, const float *in, long n, float alpha)     \
    {                                                                         \
        (void)alpha;                                                          \
        act_##f##_forward(out, in, n);                                        \
    }                                                                         \
    static void bwd_##f(float *din, const float *dout, const float *in,       \
                        const float *out, long n, float alpha)                \
    {                                                                         \
        (void)alpha;                                                          \
        act_##f##_backward(din, dout, in, out, n);                            \
    }

SMOOTH(selu)
SMOOTH(gelu)
SMOOTH(silu)
SMOOTH(mish)
SMOOTH(tanh)
SMOOTH(softplus)

/* ---------------------------------------------------------------------------
 * The table: every activation's name, properties and kernels. */

static const act_desc table[] = {
    [ACT_RELU] = {ACT_RELU, "relu", NULL, 0, 0.0, 1, fwd_relu, bwd_relu, NULL, POOL_BEFORE, 0,
                  NULL},
    [ACT_ELU] = {ACT_ELU, "elu", NULL, 1, 1.0, 1, fwd_elu, bwd_elu, NULL, POOL_BEFORE, 0, NULL},
    [ACT_LEAKY_RELU] = {ACT_LEAKY_RELU, "leaky_relu", NULL, 1, 0.3, 1, fwd_leaky, bwd_leaky,
                        NULL, POOL_BEFORE, 0, NULL},
    /* a learned slope may turn negative: act_pool_rule_of per channel */
    [ACT_PRELU] = {ACT_PRELU, "prelu", NULL, 1, 0.25, 0, fwd_leaky, bwd_leaky, prelu_channel,
                   POOL_BEFORE, 0, NULL},
    [ACT_SELU] = {ACT_SELU, "selu", NULL, 0, 0.0, 0, fwd_selu, bwd_selu, NULL, POOL_BEFORE, 0,
                  act_selu_forward_grad},
    /* the turns: the zeros of the derivatives, to float */
    [ACT_GELU] = {ACT_GELU, "gelu", NULL, 0, 0.0, 0, fwd_gelu, bwd_gelu, NULL, POOL_AT_ENDS,
                  -0.751791525f, act_gelu_forward_grad},
    [ACT_SILU] = {ACT_SILU, "silu", "swish", 0, 0.0, 0, fwd_silu, bwd_silu, NULL, POOL_AT_ENDS,
                  -1.27846454f, act_silu_forward_grad},
    [ACT_MISH] = {ACT_MISH, "mish", NULL, 0, 0.0, 0, fwd_mish, bwd_mish, NULL, POOL_AT_ENDS,
                  -1.19243121f, act_mish_forward_grad},
    [ACT_TANH] = {ACT_TANH, "tanh", NULL, 0, 0.0, 0, fwd_tanh, bwd_tanh, NULL, POOL_BEFORE, 0,
                  act_tanh_forward_grad},
    [ACT_SOFTPLUS] = {ACT_SOFTPLUS, "softplus", NULL, 0, 0.0, 0, fwd_softplus, bwd_softplus,
                      NULL, POOL_BEFORE, 0, act_softplus_forward_grad},
};
_Static_assert(sizeof table / sizeof table[0] == ACT_COUNT, "one row per act_kind");

const act_desc *act_info(act_kind kind)
{
    return (unsigned)kind < ACT_COUNT ? &table[kind] : NULL;
}

int act_count(void) { return ACT_COUNT; }

int act_from_name(const char *name)
{
    if (!name)
        return -1;
    for (int k = 0; k < ACT_COUNT; k++)
        if (strcmp(name, table[k].name) == 0 ||
            (table[k].alias && strcmp(name, table[k].alias) == 0))
            return k;
    return -1;
}

const char *act_name(act_kind kind)
{
    return (unsigned)kind < ACT_COUNT ? table[kind].name : "?";
}

int act_runs_in_place(act_kind kind, float alpha)
{
    const act_desc *d = act_info(kind);
    return d && d->in_place && (!d->takes_alpha || alpha > 0);
}

int act_pools_first(act_kind kind, float alpha)
{
    const act_desc *d = act_info(kind);
    if (!d)
        return 0;
    if (d->pool_order == POOL_AT_ENDS || d->alpha_grad)
        return 1;
    return d->pool_order == POOL_BEFORE && (!d->takes_alpha || alpha >= 0);
}

/* ---------------------------------------------------------------------------
 * Public entry points */

/* The alpha of channel c: learned per channel, or the layer's. */
static float slope(const act_params *a, const act_desc *d, int c)
{
    return d->alpha_grad ? a->prelu_alpha[c] : a->alpha;
}

/* ---------------------------------------------------------------------------
 * The mirror tables of the POOL_AT_ENDS rows (act_pool_rule). For a max a in
 * (turn, 0), its mirror m*(a) < turn has f(m*) = f(a); f falls below turn,
 * so f(min) > f(a) exactly when min < m*(a), and m* falls as a rises. Found
 * in double by bisection, far below a float's ulp, then rounded outwards. */

static double gelu_f64(double x) { return 0.5 * x * erfc(-x / sqrt(2.0)); }
static double silu_f64(double x) { return x / (1.0 + exp(-x)); }
static double mish_f64(double x) { return x * tanh(log1p(exp(x))); }

static double mirror_of(double (*f)(double), double turn, double a)
{
    if (a >= 0)
        return -INFINITY;
    double lo = -80.0, hi = turn, fa = f(a);   /* f(lo) > fa >= f(hi) */
    for (int i = 0; i < 200 && lo < hi; i++) {
        double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi)
            break;
        if (f(mid) > fa)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static float mirrors[ACT_COUNT][2 * ACT_MIRROR_BINS];
static pthread_once_t mirrors_once = PTHREAD_ONCE_INIT;

static void make_mirrors(void)
{
    static const struct {
        act_kind kind;
        double (*f)(double);
    } rows[] = {{ACT_GELU, gelu_f64}, {ACT_SILU, silu_f64}, {ACT_MISH, mish_f64}};
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        const double turn = table[rows[r].kind].turn, w = -turn / ACT_MIRROR_BINS;
        float *m = mirrors[rows[r].kind];
        for (int j = 0; j < ACT_MIRROR_BINS; j++) {
            /* bin j spans [turn + j w, turn + (j + 1) w); one bin more on
             * each side covers a max that rounds into the neighbour */
            double below = mirror_of(rows[r].f, turn, turn + (j + 2) * w);
            double above = mirror_of(rows[r].f, turn, turn + (j > 0 ? j - 1 : 0) * w);
            m[j] = nextafterf((float)below, -INFINITY);
            m[ACT_MIRROR_BINS + j] = nextafterf((float)above, INFINITY);
        }
    }
}

act_pool_rule act_pool_rule_of(const act_params *a, int c)
{
    const act_desc *d = &table[a->kind];
    if (d->pool_order == POOL_AT_ENDS) {
        pthread_once(&mirrors_once, make_mirrors);
        return (act_pool_rule){d->turn, 0.0f, mirrors[a->kind], ACT_MIRROR_BINS / -d->turn};
    }
    if (d->alpha_grad && a->prelu_alpha[c] < 0)
        return (act_pool_rule){0.0f, INFINITY, NULL, 0.0f};
    return (act_pool_rule){-INFINITY, -INFINITY, NULL, 0.0f};
}

void act_forward_channel(const act_params *a, float *out, const float *in, long n, int c)
{
    const act_desc *d = &table[a->kind];
    d->forward(out, in, n, slope(a, d, c));
}

void act_forward_winners(const act_params *a, float *out, float *saved, long n, int c)
{
    const act_desc *d = &table[a->kind];
    if (d->forward_grad)
        d->forward_grad(out, saved, saved, n);
    else
        d->forward(out, saved, n, slope(a, d, c));
}

void act_backward_winners(const act_params *a, float *din, float *dprelu_alpha,
                          const float *dout, const float *saved, const float *out, int C,
                          long n)
{
    if (!table[a->kind].forward_grad) {
        act_backward(a, din, dprelu_alpha, dout, saved, out, C, n);
        return;
    }
    const long total = C * n, nch = (total + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static)
    for (long u = 0; u < nch; u++) {
        const long off = u * CHUNK, len = total - off < CHUNK ? total - off : CHUNK;
        act_times_derivative(din + off, dout + off, saved + off, len);
    }
}

void act_forward(const act_params *a, float *out, const float *in, int C, long n)
{
    const act_desc *d = &table[a->kind];
    const long nch = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static)
    for (long u = 0; u < C * nch; u++) {
        const int c = (int)(u / nch);
        const long off = c * n + u % nch * CHUNK;
        const long len = n - u % nch * CHUNK < CHUNK ? n - u % nch * CHUNK : CHUNK;
        d->forward(out + off, in + off, len, slope(a, d, c));
    }
}

void act_backward(const act_params *a, float *din, float *dprelu_alpha,
                  const float *dout, const float *in, const float *out,
                  int C, long n)
{
    const act_desc *d = &table[a->kind];
    /* a learned alpha with its gradient: whole channels, so that each sum
     * has one owner */
    if (d->alpha_grad && dprelu_alpha) {
#pragma omp parallel for schedule(static)
        for (int c = 0; c < C; c++)
            dprelu_alpha[c] += d->alpha_grad(din + c * n, dout + c * n, in + c * n, n,
                                             a->prelu_alpha[c]);
        return;
    }
    const long nch = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static)
    for (long u = 0; u < C * nch; u++) {
        const int c = (int)(u / nch);
        const long off = c * n + u % nch * CHUNK;
        const long len = n - u % nch * CHUNK < CHUNK ? n - u % nch * CHUNK : CHUNK;
        d->backward(din + off, dout + off, in + off, out + off, len, slope(a, d, c));
    }
}
