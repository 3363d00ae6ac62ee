/* test_bn.c: batch norm, the padded ("same") conv, the optimizer rules and
 * the learning-rate schedules of issue #13: finite-difference gradient
 * checks against double-precision references written here, bit-identity at
 * 1 and 2 OpenMP threads, the moving statistics over several steps, and
 * the rules' agreement with optim.c and the schedules' closed forms; and
 * the model with batch norm and same padding: its layout, a whole-model
 * gradient check, its moving statistics, its bits at 1 and 2 threads. */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "nn/batchnorm.h"
#include "nn/conv.h"
#include "train/model.h"
#include "train/optim.h"
#include "train/optim_rules.h"
#include "train/schedule.h"
#include "test.h"

/* ---------------------------------------------------------------- helpers */

enum { BN_PURPOSE = 0xb17 };

static void fill(float *x, long n, uint64_t seed, float lo, float hi)
{
    for (long i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * rng_uniform(seed, BN_PURPOSE, 0, (uint64_t)i);
}

static float *fa(long n)
{
    float *p = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    if (!p)
        abort();
    return p;
}

static double *da(long n)
{
    double *p = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
    if (!p)
        abort();
    return p;
}

typedef double loss_fn(void *ctx);

/* Central differences of a double loss against an analytic (float)
 * gradient: |num - grad| <= tol * (1 + |num|). */
static void fd_check(const char *what, double *x, long n, const float *grad, loss_fn *loss,
                     void *ctx, double h, double tol)
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
        if (!(fabs(num - grad[i]) <= tol * (1 + fabs(num))) && shown++ < 5)
            test_fail(__FILE__, __LINE__, "%s[%ld]: analytic %.9g, numeric %.9g", what, i,
                      (double)grad[i], num);
    }
}

static void to_d(double *d, const float *x, long n)
{
    for (long i = 0; i < n; i++)
        d[i] = x[i];
}

/* ------------------------------------------------------------ batch norm */

/* Double reference of the training forward: y (C,n), mean, biased var. */
static void ref_bn(double *y, double *mean, double *var, const double *x, const double *gamma,
                   const double *beta, int C, long n)
{
    for (int c = 0; c < C; c++) {
        double s = 0, q = 0;
        for (long i = 0; i < n; i++)
            s += x[c * n + i];
        double m = s / n;
        for (long i = 0; i < n; i++)
            q += (x[c * n + i] - m) * (x[c * n + i] - m);
        double v = q / n, inv = 1 / sqrt(v + BN_EPSILON);
        for (long i = 0; i < n; i++)
            y[c * n + i] = gamma[c] * (x[c * n + i] - m) * inv + beta[c];
        if (mean)
            mean[c] = m, var[c] = v;
    }
}

typedef struct {
    int C;
    long n;
    double *x, *gamma, *beta, *r, *y;
} bn_ctx;

static double bn_loss(void *p)
{
    bn_ctx *c = p;
    ref_bn(c->y, NULL, NULL, c->x, c->gamma, c->beta, c->C, c->n);
    double s = 0;
    for (long i = 0; i < c->C * c->n; i++)
        s += c->r[i] * c->y[i];
    return s;
}

static void test_bn_gradients(void)
{
    const int C = 3;
    const long n = 37, N = C * n;   /* n not a multiple of the 8 lanes */
    float *x = fa(N), *y = fa(N), *r = fa(N), *dx = fa(N), *g = fa(C), *b = fa(C);
    float *saved = fa(2 * C), *dg = fa(C), *db = fa(C);
    fill(x, N, 1, -2, 3);
    fill(r, N, 2, -1, 1);
    fill(g, C, 3, 0.5f, 1.5f);
    fill(b, C, 4, -0.5f, 0.5f);
    bn_ctx c = {C, n, da(N), da(C), da(C), da(N), da(N)};
    to_d(c.x, x, N), to_d(c.gamma, g, C), to_d(c.beta, b, C), to_d(c.r, r, N);

    bn_forward_train(y, saved, NULL, NULL, x, g, b, C, n, BN_MOMENTUM, BN_EPSILON);
    bn_loss(&c);
    for (long i = 0; i < N; i++)
        CHECK_MSG(fabs(y[i] - c.y[i]) <= 1e-5 * (1 + fabs(c.y[i])), "y[%ld] %.9g vs %.9g", i,
                  (double)y[i], c.y[i]);
    dg[0] = 1;   /* accumulated: starts from 1 here */
    bn_backward(dx, dg, db, r, x, g, saved, C, n);
    dg[0] -= 1;
    fd_check("bn dx", c.x, N, dx, bn_loss, &c, 1e-5, 1e-4);
    fd_check("bn dgamma", c.gamma, C, dg, bn_loss, &c, 1e-5, 1e-4);
    fd_check("bn dbeta", c.beta, C, db, bn_loss, &c, 1e-5, 1e-4);
    /* dx in place over dy gives the same values */
    float *dy = fa(N);
    memcpy(dy, r, sizeof(float) * N);
    bn_backward(dy, dg, db, dy, x, g, saved, C, n);
    CHECK(memcmp(dy, dx, sizeof(float) * N) == 0);
    free(x), free(y), free(r), free(dx), free(g), free(b), free(saved), free(dg), free(db);
    free(dy), free(c.x), free(c.gamma), free(c.beta), free(c.r), free(c.y);
}

/* A large mean against a small spread: the two-pass variance keeps it. */
static void test_bn_large_mean(void)
{
    const int C = 2;
    const long n = 1000, N = C * n;
    float *x = fa(N), *y = fa(N), *g = fa(C), *b = fa(C), *saved = fa(2 * C);
    fill(x, N, 5, -0.01f, 0.01f);
    for (long i = 0; i < N; i++)
        x[i] += 1000.0f;
    g[0] = g[1] = 1;
    double *xd = da(N), *yd = da(N), gd[2] = {1, 1}, bd[2] = {0, 0}, mean[2], var[2];
    to_d(xd, x, N);
    bn_forward_train(y, saved, NULL, NULL, x, g, b, C, n, BN_MOMENTUM, BN_EPSILON);
    ref_bn(yd, mean, var, xd, gd, bd, C, n);
    for (int c = 0; c < C; c++) {
        CHECK_NEAR(saved[C + c], 1 / sqrt(var[c] + BN_EPSILON), 1e-6 / sqrt(BN_EPSILON));
        CHECK_NEAR(saved[c], mean[c], 1e-4);
    }
    free(x), free(y), free(g), free(b), free(saved), free(xd), free(yd);
}

/* Moving statistics after several steps, against the recursion in double
 * (unbiased batch variance, as PyTorch); then evaluation with them. */
static void test_bn_moving_stats(void)
{
    const int C = 4, steps = 5;
    const long n = 50, N = C * n;
    float *x = fa(N), *y = fa(N), *g = fa(C), *b = fa(C), *saved = fa(2 * C);
    float mm[4] = {0}, mv[4] = {1, 1, 1, 1};
    double rm[4] = {0}, rv[4] = {1, 1, 1, 1}, mean[4], var[4];
    double *xd = da(N), *yd = da(N), gd[4], bd[4];
    fill(g, C, 6, 0.5f, 2);
    fill(b, C, 7, -1, 1);
    to_d(gd, g, C), to_d(bd, b, C);
    for (int s = 0; s < steps; s++) {
        fill(x, N, 100 + (uint64_t)s, -1.0f + s, 2.0f + 2 * s);
        to_d(xd, x, N);
        bn_forward_train(y, saved, mm, mv, x, g, b, C, n, BN_MOMENTUM, BN_EPSILON);
        ref_bn(yd, mean, var, xd, gd, bd, C, n);
        for (int c = 0; c < C; c++) {
            rm[c] = 0.99 * rm[c] + 0.01 * mean[c];
            rv[c] = 0.99 * rv[c] + 0.01 * var[c] * n / (n - 1);
        }
    }
    for (int c = 0; c < C; c++) {
        CHECK_NEAR(mm[c], rm[c], 1e-6 * (1 + fabs(rm[c])));
        CHECK_NEAR(mv[c], rv[c], 1e-6 * (1 + fabs(rv[c])));
    }
    /* the batch statistics moved them away from 0 and 1 */
    CHECK(fabs(mm[0]) > 1e-3 && fabs(mv[0] - 1) > 1e-3);
    bn_forward_eval(y, x, g, b, mm, mv, C, n, BN_EPSILON);
    for (int c = 0; c < C; c++)
        for (long i = 0; i < n; i++) {
            double want = gd[c] * (xd[c * n + i] - rm[c]) / sqrt(rv[c] + BN_EPSILON) + bd[c];
            CHECK_NEAR(y[c * n + i], want, 1e-5 * (1 + fabs(want)));
        }
    /* n == 1: no unbiased variance; the biased 0 is taken, nothing NaN */
    float one[1] = {3}, o1[1], sv[2], m1[1] = {0}, v1[1] = {1}, g1[1] = {1}, b1[1] = {0};
    bn_forward_train(o1, sv, m1, v1, one, g1, b1, 1, 1, BN_MOMENTUM, BN_EPSILON);
    CHECK(o1[0] == 0 && isfinite(v1[0]) && fabs(v1[0] - 0.99) < 1e-6);
    free(x), free(y), free(g), free(b), free(saved), free(xd), free(yd);
}

/* Forward (train and eval) and backward give the same bits at 1 and 2
 * threads. */
static void test_bn_threads(void)
{
    const int C = 6;
    const long n = 10007, N = C * n;
    const int saved_threads = test_max_threads();
    float *x = fa(N), *r = fa(N), *g = fa(C), *b = fa(C);
    float *out[2][4];
    fill(x, N, 8, -3, 5);
    fill(r, N, 9, -1, 1);
    fill(g, C, 10, 0.5f, 1.5f);
    fill(b, C, 11, -1, 1);
    for (int t = 0; t < 2; t++) {
        test_set_threads(t + 1);
        float *y = out[t][0] = fa(N), *dx = out[t][1] = fa(N), *st = out[t][2] = fa(6 * C);
        float *ye = out[t][3] = fa(N);
        float *mm = st + 2 * C, *mv = st + 3 * C, *dg = st + 4 * C, *db = st + 5 * C;
        for (int c = 0; c < C; c++)
            mv[c] = 1;
        bn_forward_train(y, st, mm, mv, x, g, b, C, n, BN_MOMENTUM, BN_EPSILON);
        bn_backward(dx, dg, db, r, x, g, st, C, n);
        bn_forward_eval(ye, x, g, b, mm, mv, C, n, BN_EPSILON);
    }
    test_set_threads(saved_threads);
    CHECK(memcmp(out[0][0], out[1][0], sizeof(float) * N) == 0);
    CHECK(memcmp(out[0][1], out[1][1], sizeof(float) * N) == 0);
    CHECK(memcmp(out[0][2], out[1][2], sizeof(float) * 6 * C) == 0);
    CHECK(memcmp(out[0][3], out[1][3], sizeof(float) * N) == 0);
    for (int t = 0; t < 2; t++)
        for (int k = 0; k < 4; k++)
            free(out[t][k]);
    free(x), free(r), free(g), free(b);
}

/* ------------------------------------------------------- same-padded conv */

/* Double reference, padding pad: out (OC,B,OH,OW). */
static void ref_conv_pad(double *out, const double *in, const double *w, const double *bias,
                         int B, int IC, int H, int W, int OC, int pad)
{
    const int OH = H + 2 * pad - 2, OW = W + 2 * pad - 2;
    for (int o = 0; o < OC; o++)
        for (int b = 0; b < B; b++)
            for (int y = 0; y < OH; y++)
                for (int x = 0; x < OW; x++) {
                    double s = bias[o];
                    for (int c = 0; c < IC; c++)
                        for (int t = 0; t < 9; t++) {
                            int yy = y + t / 3 - pad, xx = x + t % 3 - pad;
                            if (yy >= 0 && yy < H && xx >= 0 && xx < W)
                                s += w[(o * IC + c) * 9 + t] *
                                     in[((long)(c * B + b) * H + yy) * W + xx];
                        }
                    out[((long)(o * B + b) * OH + y) * OW + x] = s;
                }
}

typedef struct {
    int B, IC, H, W, OC;
    double *in, *w, *b, *r, *out;
} conv_ctx;

static double conv_loss(void *p)
{
    conv_ctx *c = p;
    ref_conv_pad(c->out, c->in, c->w, c->b, c->B, c->IC, c->H, c->W, c->OC, 1);
    double s = 0;
    for (long i = 0; i < (long)c->OC * c->B * c->H * c->W; i++)
        s += c->r[i] * c->out[i];
    return s;
}

/* Finite differences of the padded conv (IC = 3: the small-K path). */
static void test_conv_same_gradients(void)
{
    const int B = 2, IC = 3, H = 5, W = 6, OC = 2;
    const long nin = (long)IC * B * H * W, nout = (long)OC * B * H * W, nw = OC * IC * 9;
    const long ncol = conv_col_size(B, IC, H, W, 1);
    float *in = fa(nin), *w = fa(nw), *b = fa(OC), *r = fa(nout), *out = fa(nout);
    float *col = fa(ncol), *dcol = fa(ncol), *din = fa(nin), *dw = fa(nw), *db = fa(OC);
    fill(in, nin, 20, -1, 1);
    fill(w, nw, 21, -0.5f, 0.5f);
    fill(b, OC, 22, -0.5f, 0.5f);
    fill(r, nout, 23, -1, 1);
    conv_ctx c = {B, IC, H, W, OC, da(nin), da(nw), da(OC), da(nout), da(nout)};
    to_d(c.in, in, nin), to_d(c.w, w, nw), to_d(c.b, b, OC), to_d(c.r, r, nout);
    conv_forward(out, col, in, w, b, B, IC, H, W, OC, 1);
    conv_loss(&c);
    for (long i = 0; i < nout; i++)
        CHECK_MSG(fabs(out[i] - c.out[i]) <= 1e-5 * (1 + fabs(c.out[i])), "out[%ld]", i);
    conv_backward(din, dcol, dw, db, r, col, w, B, IC, H, W, OC, 1);
    fd_check("same conv dW", c.w, nw, dw, conv_loss, &c, 1e-4, 1e-5);
    fd_check("same conv db", c.b, OC, db, conv_loss, &c, 1e-4, 1e-5);
    fd_check("same conv din", c.in, nin, din, conv_loss, &c, 1e-4, 1e-5);
    free(in), free(w), free(b), free(r), free(out), free(col), free(dcol), free(din), free(dw);
    free(db), free(c.in), free(c.w), free(c.b), free(c.r), free(c.out);
}

/* The padded conv is the valid conv of the zero-bordered input, bit for
 * bit: out, dW, db, and din as the interior of the bordered din; at 1 and
 * 2 threads (same bits again). Shapes cover the small-K path (IC 1, 3),
 * the gemm (IC 4), and rows of more than 16 floats (the vector col2im). */
static void conv_same_vs_valid(int B, int IC, int H, int W, int OC)
{
    const int Hp = H + 2, Wp = W + 2, saved_threads = test_max_threads();
    const long nin = (long)IC * B * H * W, ninp = (long)IC * B * Hp * Wp;
    const long nout = (long)OC * B * H * W, nw = OC * IC * 9;
    const long c1 = conv_col_size(B, IC, H, W, 1), c0 = conv_col_size(B, IC, Hp, Wp, 0);
    float *in = fa(nin), *inp = fa(ninp), *w = fa(nw), *b = fa(OC), *g = fa(nout);
    fill(in, nin, 30, -1, 1);
    fill(w, nw, 31, -0.5f, 0.5f);
    fill(b, OC, 32, -0.5f, 0.5f);
    fill(g, nout, 33, -1, 1);
    for (long p = 0; p < (long)IC * B; p++)
        for (int y = 0; y < H; y++)
            memcpy(inp + p * Hp * Wp + (y + 1) * Wp + 1, in + p * H * W + y * W,
                   sizeof(float) * W);
    float *res[3][4];   /* same at 1 thread, same at 2 threads, valid on inp */
    for (int k = 0; k < 3; k++) {
        const int pad = k < 2, nc = pad ? c1 : c0;
        test_set_threads(k == 1 ? 2 : 1);
        float *col = fa(nc), *dcol = fa(nc);
        float *out = res[k][0] = fa(nout), *din = res[k][1] = fa(pad ? nin : ninp);
        float *dw = res[k][2] = fa(nw), *db = res[k][3] = fa(OC);
        if (pad) {
            conv_forward(out, col, in, w, b, B, IC, H, W, OC, 1);
            conv_backward(din, dcol, dw, db, g, col, w, B, IC, H, W, OC, 1);
        } else {
            conv_forward(out, col, inp, w, b, B, IC, Hp, Wp, OC, 0);
            conv_backward(din, dcol, dw, db, g, col, w, B, IC, Hp, Wp, OC, 0);
        }
        free(col), free(dcol);
    }
    test_set_threads(saved_threads);
    /* the interior of the bordered din */
    float *inner = fa(nin);
    for (long p = 0; p < (long)IC * B; p++)
        for (int y = 0; y < H; y++)
            memcpy(inner + p * H * W + y * W, res[2][1] + p * Hp * Wp + (y + 1) * Wp + 1,
                   sizeof(float) * W);
    for (int k = 0; k < 2; k++) {
        CHECK_MSG(memcmp(res[k][0], res[2][0], sizeof(float) * nout) == 0,
                  "out, %dx%d IC %d, %d thread(s)", H, W, IC, k + 1);
        CHECK_MSG(memcmp(res[k][1], inner, sizeof(float) * nin) == 0,
                  "din, %dx%d IC %d, %d thread(s)", H, W, IC, k + 1);
        CHECK_MSG(memcmp(res[k][2], res[2][2], sizeof(float) * nw) == 0, "dW, %dx%d IC %d",
                  H, W, IC);
        CHECK_MSG(memcmp(res[k][3], res[2][3], sizeof(float) * OC) == 0, "db, %dx%d IC %d",
                  H, W, IC);
    }
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < 4; j++)
            free(res[k][j]);
    free(in), free(inp), free(w), free(b), free(g), free(inner);
}

static void test_conv_same_vs_valid(void)
{
    conv_same_vs_valid(3, 1, 28, 28, 4);
    conv_same_vs_valid(2, 3, 32, 32, 5);
    conv_same_vs_valid(4, 4, 14, 14, 6);
    conv_same_vs_valid(2, 2, 7, 37, 3);
    conv_same_vs_valid(1, 5, 3, 3, 2);
}

/* pad 1 keeps H x W: the output agrees with the double reference on every
 * pixel, borders included (an output of H-2 x W-2 would fail it). */
static void test_conv_same_size(void)
{
    const int B = 2, IC = 3, H = 9, W = 11, OC = 3;
    const long nin = (long)IC * B * H * W, nout = (long)OC * B * H * W, nw = OC * IC * 9;
    float *in = fa(nin), *w = fa(nw), *b = fa(OC), *out = fa(nout + 1);
    float *col = fa(conv_col_size(B, IC, H, W, 1));
    double *ind = da(nin), *wd = da(nw), *bd = da(OC), *ref = da(nout);
    fill(in, nin, 40, -1, 1);
    fill(w, nw, 41, -1, 1);
    fill(b, OC, 42, -1, 1);
    to_d(ind, in, nin), to_d(wd, w, nw), to_d(bd, b, OC);
    out[nout] = 12345.0f;   /* guard: nothing written past H x W */
    conv_forward(out, col, in, w, b, B, IC, H, W, OC, 1);
    ref_conv_pad(ref, ind, wd, bd, B, IC, H, W, OC, 1);
    for (long i = 0; i < nout; i++)
        CHECK_MSG(fabs(out[i] - ref[i]) <= 1e-5 * (1 + fabs(ref[i])), "out[%ld] %.9g vs %.9g",
                  i, (double)out[i], ref[i]);
    CHECK(out[nout] == 12345.0f);
    CHECK(conv_col_size(B, IC, H, W, 1) > conv_col_size(B, IC, H, W, 0));
    free(in), free(w), free(b), free(out), free(col), free(ind), free(wd), free(bd), free(ref);
}

/* ------------------------------------------------------------ optimizers */

/* adam without weight decay and plain sgd give optim.c's bits. */
static void test_rules_match_optim(void)
{
    const long n = 1000;
    float *p1 = fa(n), *p2 = fa(n), *g = fa(n), *s0 = fa(n), *s1 = fa(n);
    fill(p1, n, 50, -1, 1);
    memcpy(p2, p1, sizeof(float) * n);
    for (int kind = 0; kind < 2; kind++) {
        optimizer o;
        sw_error err = {0};
        optim_hyper h;
        optim_hyper_default(&h);
        h.lr = kind ? 0.05f : 2e-3f;
        CHECK(optim_init(&o, kind ? OPT_SGD : OPT_ADAM, h.lr, n, &err) == SW_OK);
        memset(s0, 0, sizeof(float) * n), memset(s1, 0, sizeof(float) * n);
        for (long t = 1; t <= 4; t++) {
            fill(g, n, 60 + (uint64_t)t, -1, 1);
            optim_step(&o, p1, g);
            optim_rule_find(kind ? "sgd" : "adam")->step(p2, s0, s1, g, n, &h, t);
        }
        CHECK_MSG(memcmp(p1, p2, sizeof(float) * n) == 0, "%s differs from optim.c",
                  kind ? "sgd" : "adam");
        if (!kind)
            CHECK(memcmp(o.s0, s0, sizeof(float) * n) == 0 &&
                  memcmp(o.s1, s1, sizeof(float) * n) == 0);
        optim_free(&o);
    }
    free(p1), free(p2), free(g), free(s0), free(s1);
}

/* Hand-computed single steps: adamw's decoupled decay, sgd's momentum and
 * Nesterov, rmsprop; the table. */
static void test_rules_by_hand(void)
{
    optim_hyper h;
    optim_hyper_default(&h);
    float p, m, v, g = 0.5f;
    /* adamw, wd 0.1, lr 0.01: p = 2*(1 - 0.001) - 0.01*sign-ish Adam step */
    h.lr = 0.01f, h.weight_decay = 0.1f;
    p = 2, m = 0, v = 0;
    optim_rule_adamw(&p, &m, &v, &g, 1, &h, 1);
    CHECK_NEAR(p, 2 * (1 - 0.001) - 0.01 * 0.5 / (0.5 + 1e-7), 1e-6);
    /* adam with L2: the gradient is 0.5 + 0.1*2 = 0.7 */
    p = 2, m = 0, v = 0;
    optim_rule_adam(&p, &m, &v, &g, 1, &h, 1);
    CHECK_NEAR(m, 0.1 * 0.7, 1e-7);
    CHECK_NEAR(p, 2 - 0.01, 1e-6);
    /* sgd momentum 0.9, two steps of g = 0.5, no decay */
    h.weight_decay = 0, h.momentum = 0.9f, h.lr = 0.1f;
    p = 1, m = 0;
    optim_rule_sgd(&p, &m, NULL, &g, 1, &h, 1);
    optim_rule_sgd(&p, &m, NULL, &g, 1, &h, 2);
    CHECK_NEAR(m, 0.5 * 1.9, 1e-6);
    CHECK_NEAR(p, 1 - 0.1 * 0.5 - 0.1 * 0.95, 1e-6);
    h.nesterov = 1;   /* steps of g + 0.9*buf: 0.95, then 0.5 + 0.9*0.95 */
    p = 1, m = 0;
    optim_rule_sgd(&p, &m, NULL, &g, 1, &h, 1);
    optim_rule_sgd(&p, &m, NULL, &g, 1, &h, 2);
    CHECK_NEAR(p, 1 - 0.1 * 0.95 - 0.1 * (0.5 + 0.9 * 0.95), 1e-6);
    /* rmsprop, rho 0.9: sq = 0.1*0.25, step lr*g/sqrt(sq) */
    h.momentum = 0, h.nesterov = 0, h.lr = 0.01f;
    p = 1, v = 0;
    optim_rule_rmsprop(&p, &v, NULL, &g, 1, &h, 1);
    CHECK_NEAR(v, 0.025, 1e-8);
    CHECK_NEAR(p, 1 - 0.01 * 0.5 / sqrt(0.025), 1e-6);
    /* the table: names, and which buffers each needs */
    CHECK(optim_rule_find("adamw") && optim_rule_find("rmsprop") && !optim_rule_find("nadam"));
    CHECK_INT(optim_rule_find("adam")->states(&h), 3);
    CHECK_INT(optim_rule_find("sgd")->states(&h), 0);
    CHECK_INT(optim_rule_find("rmsprop")->states(&h), 1);
    h.momentum = 0.9f;
    CHECK_INT(optim_rule_find("sgd")->states(&h), 1);
    CHECK_INT(optim_rule_find("rmsprop")->states(&h), 3);
}

/* The step of element i as torch.optim's single-tensor code writes it,
 * one float operation at a time (this file has no FMA contraction): the
 * vectorized rules must give exactly these bits. */
static void scalar_step(const char *rule, float *p, float *s0, float *s1, float g,
                        const optim_hyper *h, long t)
{
    const float lr = h->lr, wd = h->weight_decay, mu = h->momentum;
    if (strcmp(rule, "adam") == 0 || strcmp(rule, "adamw") == 0) {
        float step = (float)(h->lr / (1.0 - pow(h->beta1, (double)t)));
        float inv = (float)(1.0 / sqrt(1.0 - pow(h->beta2, (double)t)));
        if (rule[4] == 'w')
            *p *= (float)(1.0 - (double)h->lr * h->weight_decay);
        else
            g = g + wd * *p;
        *s0 = h->beta1 * *s0 + (1.0f - h->beta1) * g;
        *s1 = h->beta2 * *s1 + (1.0f - h->beta2) * g * g;
        *p -= step * *s0 / (sqrtf(*s1) * inv + h->eps);
    } else if (strcmp(rule, "sgd") == 0) {
        float d = g + wd * *p;
        *s0 = mu * *s0 + d;
        d = h->nesterov ? d + mu * *s0 : *s0;
        *p -= lr * d;
    } else {   /* rmsprop with momentum */
        float gi = g + wd * *p;
        *s0 = h->rho * *s0 + (1.0f - h->rho) * gi * gi;
        float d = gi / (sqrtf(*s0) + h->eps);
        *s1 = mu * *s1 + d;
        *p -= lr * *s1;
    }
}

/* Each rule (vectorized for the machine) against scalar_step, to the bit,
 * on a length that leaves a tail after every vector width. */
static void test_rules_vector_bits(void)
{
    const long n = 1037;
    float *p = fa(n), *s0 = fa(n), *s1 = fa(n), *g = fa(n);
    float *q = fa(n), *r0 = fa(n), *r1 = fa(n);
    optim_hyper h;
    optim_hyper_default(&h);
    h.weight_decay = 0.01f, h.momentum = 0.9f, h.nesterov = 1;
    for (int r = 0; r < optim_rules_count; r++) {
        fill(p, n, 80, -1, 1);
        memcpy(q, p, sizeof(float) * n);
        memset(s0, 0, sizeof(float) * n), memset(s1, 0, sizeof(float) * n);
        memset(r0, 0, sizeof(float) * n), memset(r1, 0, sizeof(float) * n);
        for (long k = 1; k <= 3; k++) {
            fill(g, n, 80 + (uint64_t)k, -1, 1);
            optim_rules[r].step(p, s0, s1, g, n, &h, k);
            for (long i = 0; i < n; i++)
                scalar_step(optim_rules[r].name, &q[i], &r0[i], &r1[i], g[i], &h, k);
        }
        CHECK_MSG(memcmp(p, q, sizeof(float) * n) == 0 && memcmp(s0, r0, sizeof(float) * n) == 0,
                  "%s differs from its scalar step", optim_rules[r].name);
    }
    free(p), free(s0), free(s1), free(g), free(q), free(r0), free(r1);
}

/* Every rule gives the same bits at 1 and 2 threads. */
static void test_rules_threads(void)
{
    const long n = 100003;
    const int saved_threads = test_max_threads();
    float *g = fa(n), *res[2][3];
    optim_hyper h;
    optim_hyper_default(&h);
    h.weight_decay = 0.01f, h.momentum = 0.9f, h.nesterov = 1;
    for (int r = 0; r < optim_rules_count; r++) {
        for (int t = 0; t < 2; t++) {
            test_set_threads(t + 1);
            float *p = res[t][0] = fa(n), *s0 = res[t][1] = fa(n), *s1 = res[t][2] = fa(n);
            fill(p, n, 70, -1, 1);
            for (long k = 1; k <= 3; k++) {
                fill(g, n, 70 + (uint64_t)k, -1, 1);
                optim_rules[r].step(p, s0, s1, g, n, &h, k);
            }
        }
        for (int j = 0; j < 3; j++) {
            CHECK_MSG(memcmp(res[0][j], res[1][j], sizeof(float) * n) == 0, "%s buffer %d",
                      optim_rules[r].name, j);
            free(res[0][j]), free(res[1][j]);
        }
    }
    test_set_threads(saved_threads);
    free(g);
}

/* ------------------------------------------------------------- schedules */

static void test_schedules(void)
{
    lr_schedule c = {SCHED_CONSTANT, 0, 0}, s = {SCHED_STEP, 3, 0.5}, k = {SCHED_COSINE, 0, 0};
    CHECK(lr_at(&c, 0.01, 7, 10) == 0.01);
    CHECK(lr_at(&s, 0.1, 0, 10) == 0.1 && lr_at(&s, 0.1, 2, 10) == 0.1);
    CHECK(lr_at(&s, 0.1, 3, 10) == 0.05 && lr_at(&s, 0.1, 9, 10) == 0.0125);
    CHECK(lr_at(&k, 0.1, 0, 10) == 0.1);
    CHECK_NEAR(lr_at(&k, 0.1, 5, 10), 0.05, 1e-15);
    CHECK_NEAR(lr_at(&k, 0.1, 9, 10), 0.05 * (1 + cos(M_PI * 0.9)), 1e-15);
    CHECK(lr_at(&k, 0.1, 9, 10) > 0);
    s.gamma = 1;   /* gamma 1: constant */
    CHECK(lr_at(&s, 0.1, 9, 10) == 0.1);
    /* resume-safe: a pure function, the same value however it is reached */
    double a = lr_at(&k, 0.003, 4, 25);
    for (int e = 0; e < 25; e++)
        (void)lr_at(&k, 0.003, e, 25);
    CHECK(lr_at(&k, 0.003, 4, 25) == a);
    CHECK_INT(sched_from_name("cosine"), SCHED_COSINE);
    CHECK_INT(sched_from_name("step"), SCHED_STEP);
    CHECK_INT(sched_from_name("linear"), -1);
    CHECK_STR(sched_name(SCHED_CONSTANT), "constant");
}

/* ------------------------------------------------------------ the model */

/* 12x12 inputs, conv [3, 4], dense [6], batch norm; same: conv [3, 4, 5]
 * padded (12 -> 6 -> 3 -> 1). */
static void bn_spec(model_spec *s, act_kind act, int same)
{
    model_spec_default(s);
    s->in_h = s->in_w = 12;
    s->shape.conv[0] = 3;
    s->shape.conv[1] = 4;
    s->shape.dense[0] = 6;
    if (same) {
        s->shape.n_conv = 3;
        s->shape.conv[2] = 5;
        s->shape.same = 1;
    }
    s->act = act;
    s->alpha = 1.0f;
    s->dropout = 0.3f;
    s->batchnorm = 1;
}

/* The bn tensors come last, gamma 1 and beta 0; the other tensors and
 * their initial values are those of the model without batch norm. */
static void test_bn_model_layout(void)
{
    model_spec s;
    model *on = NULL, *off = NULL;
    sw_error err = {0};
    model_spec_default(&s);
    s.batchnorm = 1;
    CHECK_INT(model_create(&on, &s, 4, &err), SW_OK);
    s.batchnorm = 0;
    CHECK_INT(model_create(&off, &s, 4, &err), SW_OK);
    if (!on || !off)
        return;
    CHECK_INT(model_num_tensors(off), 8);
    CHECK_INT(model_num_tensors(on), 14);
    CHECK_INT(model_bn_state_size(off), 0);
    CHECK(model_bn_state(off) == NULL);
    CHECK_INT(model_bn_state_size(on), 2 * (32 + 64 + 256));
    static const char *const names[] = {"conv1.bn.gamma", "conv1.bn.beta", "conv2.bn.gamma",
                                        "conv2.bn.beta", "dense1.bn.gamma", "dense1.bn.beta"};
    for (int i = 0; i < 6; i++)
        CHECK_STR(model_tensor_at(on, 8 + i)->name, names[i]);
    model_init_params(on, 5);
    model_init_params(off, 5);
    for (int i = 0; i < 8; i++) {
        const model_tensor *a = model_tensor_at(on, i), *b = model_tensor_at(off, i);
        CHECK(a->offset == b->offset && a->size == b->size);
        CHECK(memcmp(model_params(on) + a->offset, model_params(off) + b->offset,
                     sizeof(float) * (size_t)a->size) == 0);
    }
    const model_tensor *g = model_tensor_at(on, 8), *b = model_tensor_at(on, 9);
    CHECK(model_params(on)[g->offset] == 1.0f && model_params(on)[g->offset + 31] == 1.0f);
    CHECK(model_params(on)[b->offset] == 0.0f && model_params(on)[b->offset + 31] == 0.0f);
    const float *st = model_bn_state(on);
    CHECK(st[0] == 0.0f && st[31] == 0.0f && st[32] == 1.0f && st[63] == 1.0f);
    model_free(on);
    model_free(off);

    /* same padding: four 3x3 blocks fit 28x28, five do not */
    model_spec_default(&s);
    s.shape.n_conv = 4;
    s.shape.conv[2] = s.shape.conv[3] = 8;
    s.shape.same = 1;
    CHECK_INT(model_create(&on, &s, 2, &err), SW_OK);
    model_free(on);
    s.shape.n_conv = 5;
    s.shape.conv[4] = 8;
    CHECK_INT(model_create(&on, &s, 2, &err), SW_EINPUT);
    CHECK(strstr(err.msg, "conv block 5 gets a 1x1 input") != NULL);
}

static double bn_batch_loss(model *m, const float *x, const uint8_t *y, int B)
{
    int correct;
    model_forward(m, x, B, 1, 7, 3);
    return model_loss(m, y, B, &correct, 0);
}

/* The model's gradient (batch statistics, dropout on) against a central
 * difference of its loss along 3 random directions. */
static void bn_check_model(const model_spec *s, int B, uint64_t seed, double h, const char *what)
{
    model *m = NULL;
    sw_error err = {0};
    CHECK_INT(model_create(&m, s, B, &err), SW_OK);
    if (!m)
        return;
    const long nx = (long)B * s->in_c * s->in_h * s->in_w, n = model_num_params(m);
    float *x = fa(nx), *p = model_params(m), *g = fa(n), *p0 = fa(n), *u = fa(n);
    uint8_t *y = calloc((size_t)B, 1);
    fill(x, nx, seed, 0, 1);
    for (int i = 0; i < B; i++)
        y[i] = (uint8_t)(i * 3 % 10);
    model_init_params(m, 11);
    int correct;
    model_forward(m, x, B, 1, 7, 3);
    model_loss(m, y, B, &correct, 1);
    memcpy(g, model_grads(m), sizeof(float) * (size_t)n);
    memcpy(p0, p, sizeof(float) * (size_t)n);
    for (int dir = 0; dir < 3; dir++) {
        double gd = 0;
        for (long i = 0; i < n; i++) {
            u[i] = (float)rng_normal(98, (uint64_t)dir, 0, (uint64_t)i) * 0.05f;
            gd += (double)g[i] * u[i];
        }
        for (long i = 0; i < n; i++)
            p[i] = p0[i] + (float)h * u[i];
        double lp = bn_batch_loss(m, x, y, B) / B;
        for (long i = 0; i < n; i++)
            p[i] = p0[i] - (float)h * u[i];
        double lm = bn_batch_loss(m, x, y, B) / B;
        memcpy(p, p0, sizeof(float) * (size_t)n);
        double fd = (lp - lm) / (2 * h);
        CHECK_MSG(fabs(fd - gd) <= 2e-2 * fabs(gd) + 1e-4, "%s dir %d: fd %g vs grad %g", what,
                  dir, fd, gd);
    }
    /* gamma and beta get gradients */
    const model_tensor *gt = model_tensor_at(m, model_num_tensors(m) - 2);
    double gsum = 0;
    for (long i = 0; i < gt->size; i++)
        gsum += fabs(g[gt->offset + i]);
    CHECK(gsum > 0);
    free(x), free(g), free(p0), free(u), free(y);
    model_free(m);
}

/* The whole model's gradient with batch norm; 1 and 3 input channels (the
 * fused first block's K = 9 and 27). */
static void test_bn_model_gradient_check(void)
{
    for (int c = 0; c < 6; c++) {
        act_kind act = c % 2 ? ACT_ELU : ACT_RELU;
        model_spec s;
        char what[64];
        bn_spec(&s, act, c / 2 == 1);
        s.in_c = c < 4 ? 1 : 3;
        snprintf(what, sizeof what, "%s same=%d in_c=%d", act_name(act), c / 2 == 1, s.in_c);
        bn_check_model(&s, 6, 70 + (uint64_t)c, s.in_c == 3 ? 3e-3 : 1e-2, what);
    }
    /* activations that keep their input (pooled_pre; the later blocks'
     * post apart from x), pooling first or not */
    static const act_kind keep[] = {ACT_SELU, ACT_GELU, ACT_PRELU};
    for (int i = 0; i < 3; i++) {
        model_spec s;
        bn_spec(&s, keep[i], 0);
        s.alpha = 0.25f;
        bn_check_model(&s, 6, 80 + (uint64_t)i, 3e-3, act_name(keep[i]));
    }
    /* the second block the largest: the third normalises into its post */
    model_spec s;
    bn_spec(&s, ACT_RELU, 1);
    s.shape.conv[0] = 1, s.shape.conv[1] = 16, s.shape.conv[2] = 4;
    bn_check_model(&s, 6, 90, 1e-3, "conv2 largest");   /* bn over 6 values: kinks near */
}

/* Training forwards move the moving statistics (PyTorch's update with
 * Keras' momentum); evaluation reads them and moves nothing. */
static void test_bn_model_moving_stats(void)
{
    model_spec s;
    model *m = NULL;
    sw_error err = {0};
    bn_spec(&s, ACT_RELU, 0);
    s.dropout = 0;
    CHECK_INT(model_create(&m, &s, 4, &err), SW_OK);
    if (!m)
        return;
    model_init_params(m, 3);
    float x[4 * 144], l1[40], l2[40];
    fill(x, 4 * 144, 90, 0, 1);
    long ns = model_bn_state_size(m);
    float *before = fa(ns);
    memcpy(before, model_bn_state(m), sizeof(float) * (size_t)ns);
    model_forward(m, x, 4, 0, 0, 0);
    memcpy(l1, model_logits(m), sizeof l1);
    CHECK(memcmp(before, model_bn_state(m), sizeof(float) * (size_t)ns) == 0);
    model_forward(m, x, 4, 1, 0, 0);
    CHECK(memcmp(before, model_bn_state(m), sizeof(float) * (size_t)ns) != 0);
    /* conv1 channel 0: var moved from 1 toward the batch's unbiased one */
    CHECK(model_bn_state(m)[3] != 1.0f);
    memcpy(before, model_bn_state(m), sizeof(float) * (size_t)ns);
    model_forward(m, x, 4, 0, 0, 0);
    memcpy(l2, model_logits(m), sizeof l2);
    CHECK(memcmp(before, model_bn_state(m), sizeof(float) * (size_t)ns) == 0);
    CHECK(memcmp(l1, l2, sizeof l1) != 0);   /* evaluation uses the moved statistics */
    model_bn_reset(m);
    CHECK(model_bn_state(m)[0] == 0.0f && model_bn_state(m)[3] == 1.0f);
    free(before);
    model_free(m);
}

/* Steps of a same-padded bn model with AdamW: the same parameters and
 * moving statistics at 1 and 2 threads. */
static float *bn_steps(int threads, long *n)
{
    model_spec s;
    model *m = NULL;
    optimizer o;
    optim_hyper h;
    sw_error err = {0};
    bn_spec(&s, ACT_ELU, 1);
    s.in_h = s.in_w = 28;
    s.shape.conv[0] = 8, s.shape.conv[1] = 16, s.shape.conv[2] = 16, s.shape.dense[0] = 32;
    test_set_threads(threads);
    if (model_create(&m, &s, 32, &err) != SW_OK)
        return NULL;
    model_init_params(m, 3);
    optim_hyper_default(&h);
    h.weight_decay = 0.01f;
    optim_init_hyper(&o, OPT_ADAMW, &h, model_num_params(m), &err);
    float *x = fa(32 * 784);
    uint8_t y[32];
    for (int step = 0; step < 3; step++) {
        int correct;
        fill(x, 32 * 784, 200 + (uint64_t)step, 0, 1);
        for (int i = 0; i < 32; i++)
            y[i] = (uint8_t)((i + step) % 10);
        model_forward(m, x, 32, 1, 3, (uint64_t)step);
        model_loss(m, y, 32, &correct, 1);
        optim_step(&o, model_params(m), model_grads(m));
    }
    long np = model_num_params(m), nb = model_bn_state_size(m);
    *n = np + nb;
    float *out = fa(*n);
    memcpy(out, model_params(m), sizeof(float) * (size_t)np);
    memcpy(out + np, model_bn_state(m), sizeof(float) * (size_t)nb);
    free(x);
    optim_free(&o);
    model_free(m);
    return out;
}

static void test_bn_model_threads(void)
{
    long n1 = 0, n2 = 0, n3 = 0;
    const int saved_threads = test_max_threads();
    float *p1 = bn_steps(1, &n1), *p2 = bn_steps(2, &n2), *p3 = bn_steps(3, &n3);
    CHECK(p1 && p2 && p3 && n1 == n2 && n1 == n3);
    if (p1 && p2 && p3)
        CHECK(memcmp(p1, p2, sizeof(float) * (size_t)n1) == 0 &&
              memcmp(p1, p3, sizeof(float) * (size_t)n1) == 0);
    test_set_threads(saved_threads);
    free(p1);
    free(p2);
    free(p3);
}

void suite_bn(void)
{
    RUN_TEST(test_bn_gradients);
    RUN_TEST(test_bn_large_mean);
    RUN_TEST(test_bn_moving_stats);
    RUN_TEST(test_bn_threads);
    RUN_TEST(test_conv_same_gradients);
    RUN_TEST(test_conv_same_vs_valid);
    RUN_TEST(test_conv_same_size);
    RUN_TEST(test_rules_match_optim);
    RUN_TEST(test_rules_vector_bits);
    RUN_TEST(test_rules_by_hand);
    RUN_TEST(test_rules_threads);
    RUN_TEST(test_schedules);
    RUN_TEST(test_bn_model_layout);
    RUN_TEST(test_bn_model_gradient_check);
    RUN_TEST(test_bn_model_moving_stats);
    RUN_TEST(test_bn_model_threads);
}
