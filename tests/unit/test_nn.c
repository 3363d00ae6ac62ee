/* Tests of the nn kernels: golden hand-computed cases, finite-difference
 * gradient checks against plain double-precision references written here,
 * the optimised gemm against plain loops, and bit-identity of every kernel
 * across 1, 2 and 3 OpenMP threads. All data is small and synthetic. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "nn/act_smooth.h"
#include "nn/activation.h"
#include "nn/conv.h"
#include "nn/dense.h"
#include "nn/dropout.h"
#include "nn/gemm.h"
#include "nn/loss.h"
#include "nn/pool.h"
#include "test.h"

/* ---------------------------------------------------------------------------
 * Helpers */

enum { TEST_PURPOSE = 0x7e57 };

/* Uniform in [lo, hi), a pure function of (seed, i). */
static void fill(float *x, long n, uint64_t seed, float lo, float hi)
{
    for (long i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * rng_uniform(seed, TEST_PURPOSE, 0, (uint64_t)i);
}

static double *to_double(const float *x, long n)
{
    double *d = malloc((size_t)n * sizeof *d);
    for (long i = 0; i < n; i++)
        d[i] = x[i];
    return d;
}

static float *falloc(long n) { return calloc((size_t)(n > 0 ? n : 1), sizeof(float)); }

static double dot(const double *a, const double *b, long n)
{
    double s = 0;
    for (long i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* |float result - double reference| <= rtol * (1 + |ref|), first few misses
 * reported. */
static void check_close(const char *what, const float *got, const double *want,
                        long n, double rtol)
{
    int shown = 0;
    for (long i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= rtol * (1 + fabs(want[i])))) {
            if (shown++ < 5)
                test_fail(__FILE__, __LINE__, "%s[%ld]: %.9g vs %.9g", what, i,
                          (double)got[i], want[i]);
        }
}

/* Central differences of a double loss against an analytic gradient. */
typedef double loss_fn(void *ctx);

static void check_fd(const char *what, double *x, long n, const float *grad,
                     loss_fn *loss, void *ctx, double h, double tol)
{
    int shown = 0;
    for (long i = 0; i < n; i++) {
        double save = x[i];
        x[i] = save + h;
        double lp = loss(ctx);
        x[i] = save - h;
        double lm = loss(ctx);
        x[i] = save;
        double num = (lp - lm) / (2 * h);
        if (!(fabs(num - grad[i]) <= tol * (1 + fabs(num)))) {
            if (shown++ < 5)
                test_fail(__FILE__, __LINE__, "%s[%ld]: analytic %.9g, numeric %.9g",
                          what, i, (double)grad[i], num);
        }
    }
}

/* ---------------------------------------------------------------------------
 * gemm */

/* Double-precision product and the bound sum |a||b| for each element. */
static void ref_gemm(int ta, int tb, int M, int N, int K, const float *A, int lda,
                     const float *B, int ldb, int acc, const float *C0, int ldc,
                     double *out, double *bound)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = acc ? C0[(long)i * ldc + j] : 0, m = fabs(s);
            for (int k = 0; k < K; k++) {
                double a = ta ? A[(long)k * lda + i] : A[(long)i * lda + k];
                double b = tb ? B[(long)j * ldb + k] : B[(long)k * ldb + j];
                s += a * b;
                m += fabs(a * b);
            }
            out[(long)i * N + j] = s;
            bound[(long)i * N + j] = m;
        }
}

/* gemm and gemm_reference against double loops, with padded leading
 * dimensions so that strides are exercised too. */
static void gemm_case(int ta, int tb, int M, int N, int K, int acc)
{
    const int pad = 3;
    int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    long na = (long)(ta ? K : M) * lda, nb = (long)(tb ? N : K) * ldb;
    long nc = (long)M * ldc;
    float *A = falloc(na), *B = falloc(nb), *C = falloc(nc), *R = falloc(nc);
    double *want = malloc((size_t)M * N * sizeof(double) + 8);
    double *bound = malloc((size_t)M * N * sizeof(double) + 8);
    fill(A, na, 1, -1, 1);
    fill(B, nb, 2, -1, 1);
    fill(C, nc, 3, -1, 1);
    memcpy(R, C, (size_t)nc * sizeof(float));
    ref_gemm(ta, tb, M, N, K, A, lda, B, ldb, acc, C, ldc, want, bound);
    gemm(ta, tb, M, N, K, A, lda, B, ldb, acc, C, ldc);
    gemm_reference(ta, tb, M, N, K, A, lda, B, ldb, acc, R, ldc);
    int shown = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < ldc; j++) {
            long o = (long)i * ldc + j;
            if (j >= N) {   /* padding must be untouched */
                if (C[o] != R[o] && shown++ < 3)
                    test_fail(__FILE__, __LINE__, "gemm wrote padding at (%d,%d)", i, j);
                continue;
            }
            double w = want[(long)i * N + j], tol = 1e-6 * (bound[(long)i * N + j] + 1);
            if ((fabs(C[o] - w) > tol || fabs(R[o] - w) > tol) && shown++ < 3)
                test_fail(__FILE__, __LINE__,
                          "ta=%d tb=%d M=%d N=%d K=%d acc=%d (%d,%d): gemm %.9g ref %.9g want %.9g",
                          ta, tb, M, N, K, acc, i, j, (double)C[o], (double)R[o], w);
        }
    free(A), free(B), free(C), free(R), free(want), free(bound);
}

static void test_gemm_against_loops(void)
{
    static const int shapes[][3] = {
        {1, 1, 1},   {2, 3, 4},   {8, 32, 16},   {9, 33, 17},  {17, 33, 5},
        {7, 31, 300}, {70, 300, 129}, {33, 65, 600},
        /* the real shapes, scaled down */
        {32, 2100, 9},  /* conv1 forward; more than one column block */
        {64, 242, 288}, /* conv2 forward */
        {288, 242, 64}, /* conv2 data gradient (used with ta) */
        {256, 25, 160}, /* dense1 forward */
        {160, 256, 25}, /* dense1 weight gradient (used with tb) */
        {300, 20, 700}, /* one panel: threads split the rows */
    };
    for (unsigned s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int acc = 0; acc < 2; acc++)
                    gemm_case(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], acc);
}

/* The weight-gradient shapes: a small C and a long K, including the
 * vectors-along-k path (K >= 16384 with few rows or columns). */
static void test_gemm_long_k(void)
{
    gemm_case(0, 1, 64, 288, 2000, 1);   /* conv2 dW, scaled */
    gemm_case(0, 1, 32, 9, 20000, 1);    /* conv1 dW */
    gemm_case(0, 1, 32, 9, 20000, 0);
    gemm_case(0, 1, 5, 40, 16390, 0);    /* k tail of 6 */
    gemm_case(0, 1, 3, 2, 16384, 1);
}

static void test_gemm_zero_k(void)
{
    float C[6] = {1, 2, 3, 4, 5, 6}, A[1] = {0}, B[1] = {0};
    gemm(0, 0, 2, 3, 0, A, 1, B, 3, 1, C, 3);
    CHECK(C[0] == 1 && C[5] == 6);
    gemm(0, 0, 2, 3, 0, A, 1, B, 3, 0, C, 3);
    for (int i = 0; i < 6; i++)
        CHECK(C[i] == 0);
}

/* Trainings run concurrently, each from its own pthread: every thread gets
 * its own packing buffer (freed at thread exit) and the same answer. */
typedef struct {
    const float *A, *B;
    float *C;
    int M, N, K;
} gemm_thread_arg;

static void *gemm_thread(void *p)
{
    gemm_thread_arg *g = p;
    test_set_threads(2);
    for (int r = 0; r < 3; r++)
        gemm(0, 1, g->M, g->N, g->K, g->A, g->K, g->B, g->K, 0, g->C, g->N);
    return NULL;
}

static void test_gemm_concurrent_callers(void)
{
    const int M = 96, N = 200, K = 300;
    float *A = falloc((long)M * K), *B = falloc((long)N * K);
    float *C[3];
    fill(A, (long)M * K, 4, -1, 1);
    fill(B, (long)N * K, 5, -1, 1);
    for (int t = 0; t < 3; t++)
        C[t] = falloc((long)M * N);
    gemm(0, 1, M, N, K, A, K, B, K, 0, C[0], N);
    pthread_t th[2];
    gemm_thread_arg args[2];
    for (int t = 0; t < 2; t++) {
        args[t] = (gemm_thread_arg){A, B, C[t + 1], M, N, K};
        CHECK(pthread_create(&th[t], NULL, gemm_thread, &args[t]) == 0);
    }
    for (int t = 0; t < 2; t++)
        pthread_join(th[t], NULL);
    CHECK(memcmp(C[0], C[1], (size_t)M * N * sizeof(float)) == 0);
    CHECK(memcmp(C[0], C[2], (size_t)M * N * sizeof(float)) == 0);
    free(A), free(B);
    for (int t = 0; t < 3; t++)
        free(C[t]);
}

/* ---------------------------------------------------------------------------
 * Convolution */

static void ref_conv(double *out, const double *in, const double *w,
                     const double *bias, int B, int IC, int H, int W, int OC)
{
    const int OH = H - 2, OW = W - 2;
    for (int o = 0; o < OC; o++)
        for (int b = 0; b < B; b++)
            for (int y = 0; y < OH; y++)
                for (int x = 0; x < OW; x++) {
                    double s = bias[o];
                    for (int c = 0; c < IC; c++)
                        for (int t = 0; t < 9; t++)
                            s += w[(o * IC + c) * 9 + t] *
                                 in[((long)(c * B + b) * H + y + t / 3) * W + x + t % 3];
                    out[((long)(o * B + b) * OH + y) * OW + x] = s;
                }
}

static void test_conv_golden(void)
{
    /* in = 1..16 on a 4x4 grid, w = 1..9, bias 0.5: out(0,0) is
     * 1*1+2*2+3*3 + 4*5+5*6+6*7 + 7*9+8*10+9*11 = 348; one step right adds
     * sum(w) = 45, one step down 4*45 = 180. */
    float in[16], w[9], bias[1] = {0.5f}, out[4];
    for (int i = 0; i < 16; i++)
        in[i] = (float)(i + 1);
    for (int i = 0; i < 9; i++)
        w[i] = (float)(i + 1);
    long ncol = conv_col_size(1, 1, 4, 4, 0);
    CHECK(ncol >= 36);
    float *col = falloc(ncol), *dcol = falloc(ncol);
    conv_forward(out, col, in, w, bias, 1, 1, 4, 4, 1, 0);
    CHECK(out[0] == 348.5f && out[1] == 393.5f && out[2] == 528.5f && out[3] == 573.5f);

    /* dout = 1 everywhere: dbias = 4; dW(i,j) = the 2x2 input block at
     * (i,j), e.g. dW(0,0) = 1+2+5+6 = 14, dW(2,2) = 11+12+15+16 = 54;
     * din(0,0) = w(0,0) = 1, din(1,1) = 1+2+4+5 = 12, din(3,3) = 9. */
    float dout[4] = {1, 1, 1, 1}, dw[9] = {0}, db[1] = {0}, din[16];
    conv_backward(din, dcol, dw, db, dout, col, w, 1, 1, 4, 4, 1, 0);
    CHECK(db[0] == 4);
    CHECK(dw[0] == 14 && dw[1] == 18 && dw[8] == 54);
    CHECK(din[0] == 1 && din[5] == 12 && din[15] == 9 && din[3] == 3);
    free(col), free(dcol);
}

typedef struct {
    int B, IC, H, W, OC;
    double *in, *w, *b, *r, *out;
} conv_ctx;

static double conv_loss(void *p)
{
    conv_ctx *c = p;
    ref_conv(c->out, c->in, c->w, c->b, c->B, c->IC, c->H, c->W, c->OC);
    return dot(c->out, c->r, (long)c->OC * c->B * (c->H - 2) * (c->W - 2));
}

static void test_conv_gradients(void)
{
    const int B = 2, IC = 2, H = 6, W = 6, OC = 3;
    const long nin = (long)IC * B * H * W, nw = OC * IC * 9;
    const long nout = (long)OC * B * (H - 2) * (W - 2);
    const long ncol = conv_col_size(B, IC, H, W, 0);
    float *in = falloc(nin), *w = falloc(nw), *b = falloc(OC), *r = falloc(nout);
    float *out = falloc(nout), *col = falloc(ncol), *dcol = falloc(ncol);
    float *din = falloc(nin), *dw = falloc(nw), *db = falloc(OC);
    fill(in, nin, 10, -1, 1);
    fill(w, nw, 11, -0.5f, 0.5f);
    fill(b, OC, 12, -0.5f, 0.5f);
    fill(r, nout, 13, -1, 1);
    conv_ctx c = {B, IC, H, W, OC, to_double(in, nin), to_double(w, nw),
                  to_double(b, OC), to_double(r, nout), malloc(nout * sizeof(double))};
    conv_forward(out, col, in, w, b, B, IC, H, W, OC, 0);
    conv_loss(&c);
    check_close("conv out", out, c.out, nout, 1e-6);
    /* gradients accumulate: start from a known value and subtract it */
    for (long i = 0; i < nw; i++)
        dw[i] = 1;
    db[0] = db[1] = db[2] = 1;
    conv_backward(din, dcol, dw, db, r, col, w, B, IC, H, W, OC, 0);
    for (long i = 0; i < nw; i++)
        dw[i] -= 1;
    for (int i = 0; i < OC; i++)
        db[i] -= 1;
    check_fd("conv dW", c.w, nw, dw, conv_loss, &c, 1e-4, 1e-5);
    check_fd("conv db", c.b, OC, db, conv_loss, &c, 1e-4, 1e-5);
    check_fd("conv din", c.in, nin, din, conv_loss, &c, 1e-4, 1e-5);
    /* din = NULL skips the data gradient but still accumulates the rest */
    float *dw2 = falloc(nw), *db2 = falloc(OC);
    conv_backward(NULL, NULL, dw2, db2, r, col, w, B, IC, H, W, OC, 0);
    check_fd("conv dW (no din)", c.w, nw, dw2, conv_loss, &c, 1e-4, 1e-5);
    check_fd("conv db (no din)", c.b, OC, db2, conv_loss, &c, 1e-4, 1e-5);
    /* the scratch conv_backward uses in col leaves what it needs intact:
     * a second call adds the same again (one chunk here, so exactly) */
    float first = dw2[5];
    conv_backward(NULL, NULL, dw2, db2, r, col, w, B, IC, H, W, OC, 0);
    CHECK(dw2[5] == 2 * first);
    free(in), free(w), free(b), free(r), free(out), free(col), free(dcol);
    free(din), free(dw), free(db), free(dw2), free(db2);
    free(c.in), free(c.w), free(c.b), free(c.r), free(c.out);
}

/* Forward and all gradients against double loops on shapes that take
 * every path: several chunks of images, the gemm and the direct product
 * (K <= 27), rows of 16 floats and more, planes too big for col2im's local
 * buffer, and no din / no dcol. Tolerance scales with sum |terms|. */
static void conv_reference_case(int B, int IC, int H, int W, int OC, int with_din)
{
    const int OH = H - 2, OW = W - 2, K = IC * 9;
    const long nin = (long)IC * B * H * W, nw = (long)OC * K, ohw = (long)OH * OW;
    const long nout = OC * B * ohw, ncol = conv_col_size(B, IC, H, W, 0);
    float *in = falloc(nin), *w = falloc(nw), *b = falloc(OC), *g = falloc(nout);
    float *out = falloc(nout), *col = falloc(ncol), *dcol = with_din ? falloc(ncol) : NULL;
    float *din = falloc(nin), *dw = falloc(nw), *db = falloc(OC);
    fill(in, nin, 14, -1, 1);
    fill(w, nw, 15, -0.5f, 0.5f);
    fill(b, OC, 16, -0.5f, 0.5f);
    fill(g, nout, 17, -1, 1);
    conv_forward(out, col, in, w, b, B, IC, H, W, OC, 0);
    conv_backward(with_din ? din : NULL, dcol, dw, db, g, col, w, B, IC, H, W, OC, 0);
    double *want = calloc((size_t)(nin > nout ? nin : nout) + nw, sizeof(double));
    double *mag = calloc((size_t)(nin > nout ? nin : nout) + nw, sizeof(double));
    int shown = 0;
#define CONV_CHECK(what, got, n)                                                    \
    for (long i_ = 0; i_ < (n); i_++)                                               \
        if (fabs((got)[i_] - want[i_]) > 2e-6 * mag[i_] + 1e-6 && shown++ < 5)      \
            test_fail(__FILE__, __LINE__, "conv %dx%dx%dx%d->%d %s[%ld]: %.9g vs %.9g", \
                      B, IC, H, W, OC, what, i_, (double)(got)[i_], want[i_]);
    /* out */
    for (int o = 0; o < OC; o++)
        for (long p = 0; p < B * ohw; p++) {
            long bb = p / ohw, y = p % ohw / OW, x = p % OW;
            double sum = b[o], m = fabs(b[o]);
            for (int c = 0; c < IC; c++)
                for (int t = 0; t < 9; t++) {
                    double v = (double)w[o * K + c * 9 + t] *
                               in[((c * B + bb) * H + y + t / 3) * W + x + t % 3];
                    sum += v, m += fabs(v);
                }
            want[o * B * ohw + p] = sum, mag[o * B * ohw + p] = m;
        }
    CONV_CHECK("out", out, nout);
    /* dW and db */
    for (int o = 0; o < OC; o++)
        for (int k = 0; k < K; k++) {
            int c = k / 9, t = k % 9;
            double sum = 0, m = 0;
            for (long p = 0; p < B * ohw; p++) {
                long bb = p / ohw, y = p % ohw / OW, x = p % OW;
                double v = (double)g[o * B * ohw + p] *
                           in[((c * B + bb) * H + y + t / 3) * W + x + t % 3];
                sum += v, m += fabs(v);
            }
            want[o * K + k] = sum, mag[o * K + k] = m;
        }
    CONV_CHECK("dW", dw, nw);
    for (int o = 0; o < OC; o++) {
        double sum = 0, m = 0;
        for (long p = 0; p < B * ohw; p++)
            sum += g[o * B * ohw + p], m += fabs(g[o * B * ohw + p]);
        want[o] = sum, mag[o] = m;
    }
    CONV_CHECK("db", db, OC);
    if (with_din) {
        for (int c = 0; c < IC; c++)
            for (int bb = 0; bb < B; bb++)
                for (int yi = 0; yi < H; yi++)
                    for (int xi = 0; xi < W; xi++) {
                        double sum = 0, m = 0;
                        for (int o = 0; o < OC; o++)
                            for (int t = 0; t < 9; t++) {
                                int y = yi - t / 3, x = xi - t % 3;
                                if (y < 0 || x < 0 || y >= OH || x >= OW)
                                    continue;
                                double v = (double)w[o * K + c * 9 + t] *
                                           g[((long)o * B + bb) * ohw + y * OW + x];
                                sum += v, m += fabs(v);
                            }
                        long i = (((long)c * B + bb) * H + yi) * W + xi;
                        want[i] = sum, mag[i] = m;
                    }
        CONV_CHECK("din", din, nin);
    }
#undef CONV_CHECK
    free(in), free(w), free(b), free(g), free(out), free(col), free(dcol);
    free(din), free(dw), free(db), free(want), free(mag);
}

static void test_conv_against_loops(void)
{
    conv_reference_case(40, 16, 12, 12, 4, 1);  /* 3 chunks, gemm path */
    conv_reference_case(3, 2, 9, 21, 3, 1);     /* direct path, rows of 19 */
    conv_reference_case(2, 4, 20, 40, 2, 1);    /* gemm path, rows of 38 */
    conv_reference_case(1, 1, 92, 92, 2, 1);    /* col2im without its buffer */
    conv_reference_case(5, 4, 8, 8, 3, 0);      /* no din, no dcol */
    conv_reference_case(60, 1, 28, 28, 3, 0);   /* like conv1: 2 chunks */
    conv_reference_case(2, 3, 3, 3, 2, 1);      /* 1x1 output */
    conv_reference_case(40, 64, 6, 6, 128, 1);  /* dW's partials do not fit: chunks split */
}

/* ---------------------------------------------------------------------------
 * Pooling */

static void test_pool_golden(void)
{
    /* 5x5 plane: the last row and column are dropped. Ties keep the first
     * in row-major order (the top-left 2x2 block is all 7s). */
    const float in[25] = {
        7, 7, 1, 2, 99,
        7, 7, 3, 2, 99,
        -1, -2, 0, 5, 99,
        -3, -4, 5, 5, 99,
        99, 99, 99, 99, 99,
    };
    float out[4], dout[4] = {10, 20, 30, 40}, din[25];
    uint8_t am[4];
    maxpool_forward(out, am, in, 1, 5, 5);
    CHECK(out[0] == 7 && out[1] == 3 && out[2] == -1 && out[3] == 5);
    CHECK(am[0] == 0 && am[1] == 2 && am[2] == 0 && am[3] == 1);
    maxpool_backward(din, dout, am, 1, 5, 5);
    const float want[25] = {
        10, 0, 0, 0, 0,
        0, 0, 20, 0, 0,
        30, 0, 0, 40, 0,
        0, 0, 0, 0, 0,
        0, 0, 0, 0, 0,
    };
    CHECK(memcmp(din, want, sizeof want) == 0);
}

typedef struct {
    long planes;
    int H, W;
    double *in, *r, *out;
} pool_ctx;

static double pool_loss(void *p)
{
    pool_ctx *c = p;
    const int OH = c->H / 2, OW = c->W / 2;
    for (long pl = 0; pl < c->planes; pl++)
        for (int y = 0; y < OH; y++)
            for (int x = 0; x < OW; x++) {
                const double *s = c->in + (pl * c->H + 2 * y) * c->W + 2 * x;
                double m = fmax(fmax(s[0], s[1]), fmax(s[c->W], s[c->W + 1]));
                c->out[(pl * OH + y) * OW + x] = m;
            }
    return dot(c->out, c->r, c->planes * OH * OW);
}

static void pool_gradient_case(long planes, int H, int W)
{
    const long nin = planes * H * W, nout = planes * (H / 2) * (W / 2);
    float *in = falloc(nin), *r = falloc(nout), *out = falloc(nout), *din = falloc(nin);
    uint8_t *am = malloc((size_t)nout);
    /* distinct values (a shuffled ramp), so the max is never a tie */
    for (long i = 0; i < nin; i++)
        in[i] = (float)((i * 7919) % nin) / (float)nin - 0.5f;
    fill(r, nout, 20, -1, 1);
    pool_ctx c = {planes, H, W, to_double(in, nin), to_double(r, nout),
                  malloc(nout * sizeof(double))};
    maxpool_forward(out, am, in, planes, H, W);
    pool_loss(&c);
    check_close("pool out", out, c.out, nout, 0);
    for (long i = 0; i < nin; i++)
        din[i] = 12345;   /* must be overwritten, zeros included */
    maxpool_backward(din, r, am, planes, H, W);
    check_fd("pool din", c.in, nin, din, pool_loss, &c, 1e-6, 1e-6);
    free(in), free(r), free(out), free(din), free(am);
    free(c.in), free(c.r), free(c.out);
}

static void test_pool_gradients(void)
{
    pool_gradient_case(4, 4, 6);
    pool_gradient_case(3, 5, 7);   /* odd: last row and column dropped */
    pool_gradient_case(2, 1, 3);   /* no output at all */
    pool_gradient_case(3, 9, 41);  /* rows of 20 outputs: two vectors */
    pool_gradient_case(40, 6, 27); /* several groups of planes */
}

/* Many ties (values from {0, 1, 2}): the winner is the first maximum in
 * row-major order, on every path (vector or not). */
static void pool_ties_case(long planes, int H, int W)
{
    const int OH = H / 2, OW = W / 2;
    const long nin = planes * H * W, nout = planes * OH * OW;
    float *in = falloc(nin), *out = falloc(nout), *g = falloc(nout), *din = falloc(nin);
    uint8_t *am = malloc((size_t)nout);
    for (long i = 0; i < nin; i++)
        in[i] = floorf(3 * rng_uniform(21, TEST_PURPOSE, 0, (uint64_t)i));
    fill(g, nout, 22, 1, 2);
    maxpool_forward(out, am, in, planes, H, W);
    maxpool_backward(din, g, am, planes, H, W);
    int bad = 0;
    float *want = falloc(nin);
    for (long pl = 0; pl < planes; pl++)
        for (int y = 0; y < OH; y++)
            for (int x = 0; x < OW; x++) {
                const float *s = in + (pl * H + 2 * y) * W + 2 * x;
                float v[4] = {s[0], s[1], s[W], s[W + 1]};
                int k = 0;
                for (int j = 1; j < 4; j++)
                    if (v[j] > v[k])
                        k = j;
                long o = (pl * OH + y) * OW + x;
                bad += am[o] != k || out[o] != v[k];
                want[(pl * H + 2 * y + k / 2) * W + 2 * x + k % 2] = g[o];
            }
    CHECK_MSG(bad == 0, "%ld planes of %dx%d: %d windows", planes, H, W, bad);
    CHECK(memcmp(din, want, (size_t)nin * sizeof(float)) == 0);
    free(in), free(out), free(g), free(din), free(am), free(want);
}

static void test_pool_ties(void)
{
    pool_ties_case(37, 7, 37);    /* rows of 18 outputs */
    pool_ties_case(37, 11, 11);   /* conv2's rows of 5: vectors across rows and planes */
    pool_ties_case(9, 5, 17);     /* the longest short rows, 8 */
    pool_ties_case(13, 13, 13);   /* 6 a row, the CIFAR conv2's */
    pool_ties_case(5, 3, 3);      /* one output a plane */
}

/* ---------------------------------------------------------------------------
 * Dense and flatten */

typedef struct {
    int B, IN, OUT;
    double *in, *w, *b, *r, *out;
} dense_ctx;

static double dense_loss(void *p)
{
    dense_ctx *c = p;
    for (int o = 0; o < c->OUT; o++)
        for (int b = 0; b < c->B; b++) {
            double s = c->b[o];
            for (int i = 0; i < c->IN; i++)
                s += c->w[o * c->IN + i] * c->in[i * c->B + b];
            c->out[o * c->B + b] = s;
        }
    return dot(c->out, c->r, (long)c->OUT * c->B);
}

static void test_dense_gradients(void)
{
    const int B = 3, IN = 5, OUT = 4;
    float *in = falloc(IN * B), *w = falloc(OUT * IN), *b = falloc(OUT);
    float *r = falloc(OUT * B), *out = falloc(OUT * B);
    float *din = falloc(IN * B), *dw = falloc(OUT * IN), *db = falloc(OUT);
    fill(in, IN * B, 30, -1, 1);
    fill(w, OUT * IN, 31, -1, 1);
    fill(b, OUT, 32, -1, 1);
    fill(r, OUT * B, 33, -1, 1);
    dense_ctx c = {B, IN, OUT, to_double(in, IN * B), to_double(w, OUT * IN),
                   to_double(b, OUT), to_double(r, OUT * B),
                   malloc(OUT * B * sizeof(double))};
    dense_forward(out, in, w, b, B, IN, OUT);
    dense_loss(&c);
    check_close("dense out", out, c.out, OUT * B, 1e-6);
    dense_backward(din, dw, db, r, in, w, B, IN, OUT);
    check_fd("dense dW", c.w, OUT * IN, dw, dense_loss, &c, 1e-4, 1e-5);
    check_fd("dense db", c.b, OUT, db, dense_loss, &c, 1e-4, 1e-5);
    check_fd("dense din", c.in, IN * B, din, dense_loss, &c, 1e-4, 1e-5);
    /* accumulation: a second backward doubles dW and db */
    float dw1 = dw[7], db1 = db[2];
    dense_backward(NULL, dw, db, r, in, w, B, IN, OUT);
    CHECK(dw[7] == 2 * dw1 && db[2] == 2 * db1);
    free(in), free(w), free(b), free(r), free(out), free(din), free(dw), free(db);
    free(c.in), free(c.w), free(c.b), free(c.r), free(c.out);
}

static void test_flatten(void)
{
    const int C = 3, B = 2, S = 4;
    float in[24], out[24], back[24];
    for (int i = 0; i < 24; i++)
        in[i] = (float)i;
    flatten_forward(out, in, C, B, S);
    /* feature c*S+s of image b is in[(c*B+b)*S+s] (PyTorch's NCHW order) */
    for (int c = 0; c < C; c++)
        for (int b = 0; b < B; b++)
            for (int s = 0; s < S; s++)
                CHECK(out[(c * S + s) * B + b] == in[(c * B + b) * S + s]);
    flatten_backward(back, out, C, B, S);
    CHECK(memcmp(back, in, sizeof in) == 0);
}

/* ---------------------------------------------------------------------------
 * Activations */

static double ref_act(const act_params *a, int c, double x)
{
    switch (a->kind) {
    case ACT_RELU: return x > 0 ? x : 0;
    case ACT_ELU: return x > 0 ? x : a->alpha * expm1(x);
    case ACT_LEAKY_RELU: return x > 0 ? x : a->alpha * x;
    case ACT_PRELU: return x > 0 ? x : a->prelu_alpha[c] * x;
    default: break;   /* the smooth ones: test_act_smooth.c */
    }
    return 0;
}

typedef struct {
    act_params a;
    int C;
    long n;
    double *in, *alpha, *r;
} act_ctx;

static double act_loss(void *p)
{
    act_ctx *c = p;
    double s = 0;
    for (int ch = 0; ch < c->C; ch++) {
        double a = c->alpha[ch];
        for (long i = 0; i < c->n; i++) {
            double x = c->in[ch * c->n + i];
            double y = c->a.kind == ACT_PRELU ? (x > 0 ? x : a * x)
                                              : ref_act(&c->a, ch, x);
            s += y * c->r[ch * c->n + i];
        }
    }
    return s;
}

static void act_case(act_kind kind, float alpha)
{
    const int C = 3;
    const long n = 37, N = C * n;
    float prelu_alpha[3] = {0.25f, -0.1f, 1.5f};
    act_params a = {kind, alpha, kind == ACT_PRELU ? prelu_alpha : NULL};
    float *in = falloc(N), *out = falloc(N), *r = falloc(N), *din = falloc(N);
    float dalpha[3] = {0.5f, 0.5f, 0.5f};
    fill(in, N, 40, -3, 3);
    fill(r, N, 41, -1, 1);
    act_ctx c = {a, C, n, to_double(in, N), to_double(prelu_alpha, C), to_double(r, N)};
    act_forward(&a, out, in, C, n);
    double *want = malloc(N * sizeof(double));
    for (long i = 0; i < N; i++)
        want[i] = ref_act(&a, (int)(i / n), in[i]);
    check_close(act_name(kind), out, want, N, 2e-7);
    act_backward(&a, din, kind == ACT_PRELU ? dalpha : NULL, r, in, out, C, n);
    check_fd(act_name(kind), c.in, N, din, act_loss, &c, 1e-5, 2e-6);
    if (kind == ACT_PRELU) {
        for (int i = 0; i < C; i++)
            dalpha[i] -= 0.5f;
        check_fd("prelu dalpha", c.alpha, C, dalpha, act_loss, &c, 1e-5, 2e-6);
    }
    /* in place: out may alias in, din may alias dout */
    float *io = falloc(N), *g = falloc(N);
    memcpy(io, in, N * sizeof(float));
    act_forward(&a, io, io, C, n);
    CHECK(memcmp(io, out, N * sizeof(float)) == 0);
    memcpy(g, r, N * sizeof(float));
    float dalpha2[3] = {0.5f, 0.5f, 0.5f};
    act_backward(&a, g, kind == ACT_PRELU ? dalpha2 : NULL, g, in, out, C, n);
    CHECK(memcmp(g, din, N * sizeof(float)) == 0);
    free(in), free(out), free(r), free(din), free(want), free(io), free(g);
    free(c.in), free(c.alpha), free(c.r);
}

static void test_activation_gradients(void)
{
    act_case(ACT_RELU, 0);
    act_case(ACT_ELU, 1.0f);
    act_case(ACT_ELU, 0.5f);
    act_case(ACT_LEAKY_RELU, 0.1f);
    act_case(ACT_PRELU, 0);
}

/* ELU's exp must stay accurate: within 2 ulp of expm1 in double over the
 * whole negative range, tiny inputs included (no cancellation near 0). */
static void test_elu_accuracy(void)
{
    enum { N = 4000 };
    float *x = falloc(N), *y = falloc(N);
    for (int i = 0; i < N; i++)
        x[i] = -20.0f * (float)i / N;
    x[1] = -1e-7f, x[2] = -1e-3f, x[3] = -0.34657f, x[4] = -0.34658f;
    x[5] = -100.0f, x[6] = -87.5f, x[7] = -0.0f, x[8] = NAN, x[9] = -INFINITY;
    act_params a = {ACT_ELU, 1.0f, NULL};
    act_forward(&a, y, x, 1, N);
    double worst = 0;
    for (int i = 0; i < N; i++) {
        if (isnan(x[i]))
            continue;
        double want = expm1((double)x[i]);
        double ulp = nextafterf((float)fabs(want), INFINITY) - (float)fabs(want);
        double err = fabs(y[i] - want) / ulp;
        worst = err > worst ? err : worst;
    }
    CHECK_MSG(worst <= 2, "elu error %.2f ulp", worst);
    CHECK(y[7] == 0 && y[5] == -1 && y[9] == -1);
    CHECK(isnan(y[8]));   /* a diverged run must stay visible */
    free(x), free(y);
}

static void test_act_names(void)
{
    const char *names[] = {"relu", "elu",  "leaky_relu", "prelu", "selu",
                           "gelu", "silu", "mish",       "tanh",  "softplus"};
    CHECK_INT(act_count(), 10);
    for (int k = 0; k < 10; k++) {
        CHECK_INT(act_from_name(names[k]), k);
        CHECK_STR(act_name((act_kind)k), names[k]);
    }
    CHECK_INT(act_from_name("swish"), ACT_SILU);
    CHECK_STR(act_name(ACT_SILU), "silu");   /* the alias is accepted, never stored */
    CHECK_INT(act_from_name("Swish"), -1);
    CHECK_INT(act_from_name("relu6"), -1);
    CHECK_INT(act_from_name("ELU"), -1);
    CHECK_INT(act_from_name(""), -1);
    CHECK_INT(act_from_name(NULL), -1);
}

/* Every row of the table is whole and names its own kind; the names and
 * aliases are distinct; the properties are those of the contract. */
static void test_act_table(void)
{
    CHECK_INT(act_count(), ACT_COUNT);
    for (int k = 0; k < act_count(); k++) {
        const act_desc *d = act_info((act_kind)k);
        CHECK(d != NULL);
        if (!d)
            continue;
        CHECK_INT(d->kind, k);
        CHECK(d->name && d->forward && d->backward);
        CHECK_STR(act_name((act_kind)k), d->name);
        CHECK_INT(act_from_name(d->name), k);
        if (d->alias)
            CHECK_INT(act_from_name(d->alias), k);
        CHECK(!d->alpha_grad || d->takes_alpha);   /* a learned alpha starts somewhere */
        CHECK(d->takes_alpha ? d->default_alpha > 0 : d->default_alpha == 0);
        for (int j = 0; j < k; j++) {
            const act_desc *e = act_info((act_kind)j);
            CHECK_MSG(strcmp(d->name, e->name) != 0, "%s twice", d->name);
            CHECK_MSG(!d->alias || strcmp(d->alias, e->name) != 0, "alias %s taken", d->alias);
            CHECK_MSG(!e->alias || strcmp(d->name, e->alias) != 0, "%s taken", d->name);
        }
    }
    CHECK(act_info(ACT_COUNT) == NULL);
    CHECK(act_info((act_kind)-1) == NULL);
    CHECK_STR(act_name(ACT_COUNT), "?");
    CHECK(!act_info(ACT_RELU)->takes_alpha);
    CHECK(act_info(ACT_ELU)->default_alpha == 1.0);
    CHECK(act_info(ACT_LEAKY_RELU)->default_alpha == 0.3);
    CHECK(act_info(ACT_PRELU)->default_alpha == 0.25);
    CHECK(act_info(ACT_PRELU)->alpha_grad != NULL && act_info(ACT_ELU)->alpha_grad == NULL);
    CHECK(act_runs_in_place(ACT_RELU, 0));
    CHECK(act_runs_in_place(ACT_ELU, 1.0f));
    CHECK(act_runs_in_place(ACT_LEAKY_RELU, 0.3f));
    CHECK(!act_runs_in_place(ACT_LEAKY_RELU, -0.3f));
    CHECK(!act_runs_in_place(ACT_LEAKY_RELU, 0));
    CHECK(!act_runs_in_place(ACT_PRELU, 0.25f));
    CHECK(!act_runs_in_place(ACT_COUNT, 1.0f));
    /* the smooth ones take no alpha, and their backward needs x */
    for (int k = ACT_SELU; k <= ACT_SOFTPLUS; k++) {
        CHECK(!act_info((act_kind)k)->takes_alpha && !act_info((act_kind)k)->alpha_grad);
        CHECK(!act_runs_in_place((act_kind)k, 1.0f));
    }
}

/* The table's rows of the smooth activations run act_smooth.c's kernels:
 * through act_forward/act_backward (several channels, a channel longer than
 * one task, alpha ignored) the same bits as the kernels called directly. */
static void test_act_table_smooth_rows(void)
{
    typedef void fwd_fn(float *, const float *, long);
    typedef void bwd_fn(float *, const float *, const float *, const float *, long);
    static const struct { act_kind kind; fwd_fn *f; bwd_fn *b; } rows[] = {
        {ACT_SELU, act_selu_forward, act_selu_backward},
        {ACT_GELU, act_gelu_forward, act_gelu_backward},
        {ACT_SILU, act_silu_forward, act_silu_backward},
        {ACT_MISH, act_mish_forward, act_mish_backward},
        {ACT_TANH, act_tanh_forward, act_tanh_backward},
        {ACT_SOFTPLUS, act_softplus_forward, act_softplus_backward},
    };
    const int C = 3;
    const long n = 20000, N = C * n;
    float *x = falloc(N), *g = falloc(N), *y1 = falloc(N), *y2 = falloc(N);
    float *d1 = falloc(N), *d2 = falloc(N);
    fill(x, N, 50, -9, 9);
    fill(g, N, 51, -1, 1);
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        act_params a = {rows[k].kind, 0.7f, NULL};
        act_forward(&a, y1, x, C, n);
        act_backward(&a, d1, NULL, g, x, y1, C, n);
        rows[k].f(y2, x, N);
        rows[k].b(d2, g, x, NULL, N);
        CHECK_MSG(memcmp(y1, y2, N * sizeof(float)) == 0, "%s forward", act_name(rows[k].kind));
        CHECK_MSG(memcmp(d1, d2, N * sizeof(float)) == 0, "%s backward", act_name(rows[k].kind));
    }
    free(x), free(g), free(y1), free(y2), free(d1), free(d2);
}

/* Backward handed y as x (the in-place case) gives din bit for bit as
 * handed x: din1 from (x, y), din2 from (y, y). */
static int in_place_backward_agrees(act_kind kind, float alpha)
{
    const int C = 3;
    const long n = 4099, N = C * n;
    float *in = falloc(N), *out = falloc(N), *g = falloc(N), *d1 = falloc(N), *d2 = falloc(N);
    fill(in, N, 61, -4, 4);
    fill(g, N, 62, -1, 1);
    in[0] = 0.0f;
    in[1] = -1e-40f;   /* subnormal: its output may round to -0 */
    in[2] = 1e-40f;
    act_params a = {kind, alpha, NULL};
    act_forward(&a, out, in, C, n);
    act_backward(&a, d1, NULL, g, in, out, C, n);
    act_backward(&a, d2, NULL, g, out, out, C, n);
    int same = memcmp(d1, d2, sizeof(float) * (size_t)N) == 0;
    free(in), free(out), free(g), free(d1), free(d2);
    return same;
}

/* Every row that says in_place holds to it at its default alpha; the check
 * can fail: a leaky slope below zero flips the sign. */
static void test_act_in_place_rows(void)
{
    for (int k = 0; k < act_count(); k++) {
        const act_desc *d = act_info((act_kind)k);
        if (d->in_place)
            CHECK_MSG(in_place_backward_agrees((act_kind)k, (float)d->default_alpha),
                      "%s says in_place, but its backward needs x", d->name);
    }
    CHECK(!in_place_backward_agrees(ACT_LEAKY_RELU, -0.5f));
}

/* ---------------------------------------------------------------------------
 * Dropout */

static void test_dropout(void)
{
    const long n = 100000;
    const float rate = 0.25f;
    float *in = falloc(n), *out = falloc(n), *g = falloc(n), *din = falloc(n);
    uint8_t *mask = malloc(n);
    fill(in, n, 50, -1, 1);
    fill(g, n, 51, -1, 1);
    dropout_forward(out, mask, in, n, rate, 9, RNG_DROPOUT + 1, 17);
    long kept = 0;
    int bad = 0;
    const float scale = 1.0f / (1.0f - rate);
    for (long i = 0; i < n; i++) {
        int want = rng_uniform(9, RNG_DROPOUT + 1, 17, (uint64_t)i) >= rate;
        kept += mask[i];
        bad += mask[i] != want || out[i] != (want ? in[i] * scale : 0.0f);
    }
    CHECK_INT(bad, 0);
    /* kept fraction 0.75, standard deviation 0.0014: allow 4 of them */
    CHECK_NEAR((double)kept / n, 0.75, 0.0055);
    /* backward is the same linear map: d(sum out*g)/d in = g*mask*scale */
    dropout_backward(din, g, mask, n, rate);
    bad = 0;
    for (long i = 0; i < n; i++) {
        double h = 1e-3, lp = (in[i] + h) * mask[i] * scale * g[i],
               lm = (in[i] - h) * mask[i] * scale * g[i];
        bad += fabs((lp - lm) / (2 * h) - din[i]) > 1e-6;
    }
    CHECK_INT(bad, 0);
    /* in place gives the same; another step gives another mask */
    float *io = falloc(n);
    uint8_t *mask2 = malloc(n);
    memcpy(io, in, n * sizeof(float));
    dropout_forward(io, mask2, io, n, rate, 9, RNG_DROPOUT + 1, 17);
    CHECK(memcmp(io, out, n * sizeof(float)) == 0);
    memcpy(io, g, n * sizeof(float));
    dropout_backward(io, io, mask, n, rate);
    CHECK(memcmp(io, din, n * sizeof(float)) == 0);
    dropout_forward(io, mask2, in, n, rate, 9, RNG_DROPOUT + 1, 18);
    CHECK(memcmp(mask, mask2, n) != 0);
    /* rate 0 copies */
    dropout_forward(io, mask2, in, n, 0, 9, RNG_DROPOUT + 1, 17);
    CHECK(memcmp(io, in, n * sizeof(float)) == 0);
    long ones = 0;
    for (long i = 0; i < n; i++)
        ones += mask2[i] == 1;
    CHECK_INT(ones, n);
    free(in), free(out), free(g), free(din), free(mask), free(io), free(mask2);
}

/* ---------------------------------------------------------------------------
 * Softmax cross-entropy */

static void test_softmax_golden(void)
{
    /* sample 0: logits (1,2,3), label 2: loss = log(e+e^2+e^3) - 3
     *   = log(1 + e^-1 + e^-2) = 0.4076059644; p = (0.0900306, 0.2447285,
     *   0.6652410). sample 1: logits (0,0,0), label 0: loss = log 3, and
     *   the first of the tied maxima (class 0) counts as correct. */
    const float logits[6] = {1, 0, 2, 0, 3, 0};   /* (K=3, B=2) */
    const uint8_t labels[2] = {2, 0};
    float d[6];
    int correct = -1;
    double loss = softmax_xent(d, &correct, logits, labels, 3, 2, 2.0f);
    CHECK_NEAR(loss, 0.40760596444438013 + 1.0986122886681098, 1e-12);
    CHECK_INT(correct, 2);
    CHECK_NEAR(d[0], 0.09003057317038046 / 2, 1e-7);
    CHECK_NEAR(d[2], 0.24472847105479767 / 2, 1e-7);
    CHECK_NEAR(d[4], (0.6652409557748219 - 1) / 2, 1e-7);
    CHECK_NEAR(d[1], (1.0 / 3 - 1) / 2, 1e-7);
    CHECK_NEAR(d[3], 1.0 / 6, 1e-7);
    /* huge logits stay finite; no gradient requested is fine */
    const float big[2] = {1000, -1000};
    const uint8_t l1[1] = {1};
    loss = softmax_xent(NULL, &correct, big, l1, 2, 1, 1);
    CHECK_NEAR(loss, 2000, 1e-9);
    CHECK_INT(correct, 0);
}

typedef struct {
    int K, B;
    float scale;
    double *logits;
    const uint8_t *labels;
} xent_ctx;

static double xent_loss(void *p)
{
    xent_ctx *c = p;
    double s = 0;
    for (int b = 0; b < c->B; b++) {
        double z = 0;
        for (int k = 0; k < c->K; k++)
            z += exp(c->logits[k * c->B + b]);
        s += log(z) - c->logits[c->labels[b] * c->B + b];
    }
    return s / c->scale;
}

static void test_softmax_gradients(void)
{
    const int K = 5, B = 4;
    float logits[20], d[20];
    const uint8_t labels[4] = {0, 4, 2, 2};
    fill(logits, K * B, 60, -3, 3);
    xent_ctx c = {K, B, 4.0f, to_double(logits, K * B), labels};
    int correct;
    double loss = softmax_xent(d, &correct, logits, labels, K, B, 4.0f);
    CHECK_NEAR(loss / 4, xent_loss(&c), 1e-6);
    check_fd("xent dlogits", c.logits, K * B, d, xent_loss, &c, 1e-5, 1e-6);
    int hits = 0;
    for (int b = 0; b < B; b++) {
        int best = 0;
        for (int k = 1; k < K; k++)
            if (logits[k * B + b] > logits[best * B + b])
                best = k;
        hits += best == labels[b];
    }
    CHECK_INT(correct, hits);
    free(c.logits);
}

/* ---------------------------------------------------------------------------
 * Bit-identity across thread counts. Sizes are chosen to pass the
 * kernels' "big enough to go parallel" thresholds. */

typedef struct {
    float *out[16];
    long n[16];
    int count;
} outputs;

static void keep(outputs *o, const float *x, long n)
{
    if (o->count == (int)(sizeof o->n / sizeof o->n[0])) {
        test_fail(__FILE__, __LINE__, "too many outputs kept");
        return;
    }
    o->out[o->count] = malloc((size_t)n * sizeof(float));
    memcpy(o->out[o->count], x, (size_t)n * sizeof(float));
    o->n[o->count++] = n;
}

static void compare_runs(const char *what, outputs *runs, int nruns)
{
    for (int r = 1; r < nruns; r++)
        for (int i = 0; i < runs[0].count; i++)
            CHECK_MSG(memcmp(runs[0].out[i], runs[r].out[i],
                             (size_t)runs[0].n[i] * sizeof(float)) == 0,
                      "%s: output %d differs between 1 and %d threads", what, i, r + 1);
    for (int r = 0; r < nruns; r++)
        for (int i = 0; i < runs[r].count; i++)
            free(runs[r].out[i]);
}

static void conv_run(outputs *o, int B, int IC, int H, int W, int OC)
{
    const long nin = (long)IC * B * H * W, nw = OC * IC * 9;
    const long nout = (long)OC * B * (H - 2) * (W - 2), ncol = conv_col_size(B, IC, H, W, 0);
    float *in = falloc(nin), *w = falloc(nw), *b = falloc(OC), *out = falloc(nout);
    float *col = falloc(ncol), *dcol = falloc(ncol), *din = falloc(nin);
    float *dw = falloc(nw), *db = falloc(OC), *g = falloc(nout);
    fill(in, nin, 70, -1, 1);
    fill(w, nw, 71, -0.3f, 0.3f);
    fill(b, OC, 72, -0.1f, 0.1f);
    fill(g, nout, 73, -1, 1);
    conv_forward(out, col, in, w, b, B, IC, H, W, OC, 0);
    conv_backward(IC > 1 ? din : NULL, dcol, dw, db, g, col, w, B, IC, H, W, OC, 0);
    keep(o, out, nout);
    keep(o, din, nin);
    keep(o, dw, nw);
    keep(o, db, OC);
    free(in), free(w), free(b), free(out), free(col), free(dcol), free(din);
    free(dw), free(db), free(g);
}

static void test_conv_bit_identical(void)
{
    const int saved = test_max_threads();
    outputs runs[3] = {0};
    for (int t = 0; t < 3; t++) {
        test_set_threads(t + 1);
        conv_run(&runs[t], 16, 8, 16, 16, 32);
    }
    compare_runs("conv", runs, 3);
    outputs first[3] = {0};   /* one input channel: the dot-path dW */
    for (int t = 0; t < 3; t++) {
        test_set_threads(t + 1);
        conv_run(&first[t], 100, 1, 16, 16, 8);
    }
    compare_runs("conv IC=1", first, 3);
    test_set_threads(saved);
}

static void test_gemm_bit_identical(void)
{
    static const int shapes[][5] = {
        /* ta, tb, M, N, K */
        {0, 0, 64, 1000, 150}, {0, 1, 64, 290, 3000}, {1, 0, 290, 1000, 64},
        {1, 1, 100, 200, 300}, {0, 1, 32, 9, 20000},  {0, 0, 256, 25, 1600},
        {0, 0, 512, 20, 400},   /* one panel: threads split the rows */
    };
    const int saved = test_max_threads();
    for (unsigned s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int ta = shapes[s][0], tb = shapes[s][1], M = shapes[s][2],
                  N = shapes[s][3], K = shapes[s][4];
        float *A = falloc((long)M * K), *B = falloc((long)K * N), *C = falloc((long)M * N);
        fill(A, (long)M * K, 80, -1, 1);
        fill(B, (long)K * N, 81, -1, 1);
        outputs runs[3] = {0};
        for (int t = 0; t < 3; t++) {
            test_set_threads(t + 1);
            fill(C, (long)M * N, 82, -1, 1);
            gemm(ta, tb, M, N, K, A, ta ? M : K, B, tb ? K : N, 1, C, N);
            keep(&runs[t], C, (long)M * N);
        }
        compare_runs("gemm", runs, 3);
        free(A), free(B), free(C);
    }
    test_set_threads(saved);
}

static void elementwise_run(outputs *o)
{
    const int C = 8;
    const long n = 50000, N = C * n;   /* several chunks per channel */
    float *in = falloc(N), *out = falloc(N), *g = falloc(N), *din = falloc(N);
    float prelu_alpha[8] = {0.1f, 0.2f, 0.3f, 0.4f, -0.5f, 0.6f, 0.7f, 0.8f};
    float dalpha[8] = {0};
    uint8_t *am = malloc(N), *mask = malloc(N);
    fill(in, N, 90, -3, 3);
    fill(g, N, 91, -1, 1);
    for (int k = 0; k < 4; k++) {
        act_params a = {(act_kind)k, k == ACT_ELU ? 0.7f : 0.1f, prelu_alpha};
        act_forward(&a, out, in, C, n);
        act_backward(&a, din, k == ACT_PRELU ? dalpha : NULL, g, in, out, C, n);
        keep(o, out, N);
        keep(o, din, N);
    }
    keep(o, dalpha, C);
    /* pool: planes of 26x26 as after conv1 */
    const long planes = N / (26 * 26);
    maxpool_forward(out, am, in, planes, 26, 26);
    maxpool_backward(din, out, am, planes, 26, 26);
    keep(o, din, planes * 26 * 26);
    dropout_forward(out, mask, in, N, 0.25f, 3, RNG_DROPOUT, 5);
    dropout_backward(din, g, mask, N, 0.25f);
    keep(o, out, N);
    keep(o, din, N);
    free(in), free(out), free(g), free(din), free(am), free(mask);
}

static void test_elementwise_bit_identical(void)
{
    const int saved = test_max_threads();
    outputs runs[3] = {0};
    for (int t = 0; t < 3; t++) {
        test_set_threads(t + 1);
        elementwise_run(&runs[t]);
    }
    compare_runs("act/pool/dropout", runs, 3);
    test_set_threads(saved);
}

void suite_nn(void)
{
    RUN_TEST(test_gemm_against_loops);
    RUN_TEST(test_gemm_long_k);
    RUN_TEST(test_gemm_zero_k);
    RUN_TEST(test_gemm_concurrent_callers);
    RUN_TEST(test_conv_golden);
    RUN_TEST(test_conv_gradients);
    RUN_TEST(test_conv_against_loops);
    RUN_TEST(test_pool_golden);
    RUN_TEST(test_pool_gradients);
    RUN_TEST(test_pool_ties);
    RUN_TEST(test_dense_gradients);
    RUN_TEST(test_flatten);
    RUN_TEST(test_activation_gradients);
    RUN_TEST(test_elu_accuracy);
    RUN_TEST(test_act_names);
    RUN_TEST(test_act_table);
    RUN_TEST(test_act_table_smooth_rows);
    RUN_TEST(test_act_in_place_rows);
    RUN_TEST(test_dropout);
    RUN_TEST(test_softmax_golden);
    RUN_TEST(test_softmax_gradients);
    RUN_TEST(test_gemm_bit_identical);
    RUN_TEST(test_conv_bit_identical);
    RUN_TEST(test_elementwise_bit_identical);
}
