/* Tests of the fused first conv block (nn/conv_block.h): its forward has the
 * bits of the unfused kernels (conv_forward, then act_pool_first_forward or
 * act_maxpool_forward as model.c picks them) for every activation kind,
 * both paddings, 1 and 3 input channels, odd sizes and 1 or 2 threads; its
 * weight and bias gradients are the same bits at 1, 2 and 3 threads and
 * agree with maxpool_backward + conv_backward; its scratch sizes hold.
 * With batch norm: forward outputs, batch and moving statistics and the
 * gradients (dW, db, dgamma, dbeta) agree with conv_forward +
 * bn_forward_train + act/pool and maxpool_backward + bn_backward +
 * conv_backward to float rounding, and are the same bits at 1, 2 and 3
 * threads. In the model: its statistics, and its buffer shared with the
 * later blocks' backward. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "nn/activation.h"
#include "nn/batchnorm.h"
#include "nn/conv.h"
#include "nn/conv_block.h"
#include "nn/dropout.h"
#include "nn/pool.h"
#include "train/model.h"
#include "test.h"

void suite_conv_block(void);

enum { CB_PURPOSE = 0xc0b1 };

static void fill(float *x, long n, uint64_t seed, float lo, float hi)
{
    for (long i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * rng_uniform(seed, CB_PURPOSE, 0, (uint64_t)i);
}

/* 64-byte aligned and zeroed, as the model's buffers. */
static float *fbuf(long n)
{
    size_t bytes = ((size_t)(n > 0 ? n : 1) * sizeof(float) + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes);
    memset(p, 0, bytes);
    return p;
}

/* One shape of a first conv block. */
typedef struct {
    int B, IC, H, W, OC, pad;
} shape;

/* Its sizes and buffers, inputs filled from seed. */
typedef struct {
    shape s;
    int OH, OW, K;
    long n, np, ncol, nscr;
    float *in, *w, *bias, *alpha, *col, *scratch;
} block;

static void block_make(block *b, shape s, uint64_t seed)
{
    b->s = s;
    b->OH = s.H + 2 * s.pad - 2;
    b->OW = s.W + 2 * s.pad - 2;
    b->K = s.IC * 9;
    b->n = (long)s.OC * s.B * b->OH * b->OW;
    b->np = (long)s.OC * s.B * (b->OH / 2) * (b->OW / 2);
    b->ncol = conv_col_size(s.B, s.IC, s.H, s.W, s.pad);
    b->nscr = conv_block_scratch(3, s.B, s.IC, b->OH, b->OW, s.OC, 1);
    b->in = fbuf((long)s.IC * s.B * s.H * s.W);
    b->w = fbuf((long)s.OC * b->K);
    b->bias = fbuf(s.OC);
    b->alpha = fbuf(s.OC);
    b->col = fbuf(b->ncol);
    b->scratch = fbuf(b->nscr);
    fill(b->in, (long)s.IC * s.B * s.H * s.W, seed, -1.0f, 1.0f);
    fill(b->w, (long)s.OC * b->K, seed + 1, -0.5f, 0.5f);
    fill(b->bias, s.OC, seed + 2, -0.3f, 0.3f);
    fill(b->alpha, s.OC, seed + 3, 0.05f, 0.4f);
}

static void block_free(block *b)
{
    float *f[] = {b->in, b->w, b->bias, b->alpha, b->col, b->scratch};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++)
        free(f[i]);
}

static act_params params_of(const block *b, act_kind kind)
{
    const act_desc *d = act_info(kind);
    act_params a = {kind, (float)d->default_alpha, NULL};
    if (d->alpha_grad)
        a.prelu_alpha = b->alpha;
    return a;
}

/* The forward outputs of one path, the dropout's included. */
typedef struct {
    float *pooled, *pooled_pre, *dropped;
    uint8_t *argmax, *mask;
} outs;

static void outs_make(outs *o, long np, int keep_pre)
{
    o->pooled = fbuf(np);
    o->pooled_pre = keep_pre ? fbuf(np) : NULL;
    o->dropped = fbuf(np);
    o->argmax = calloc((size_t)np, 1);
    o->mask = calloc((size_t)np, 1);
}

static void outs_free(outs *o)
{
    free(o->pooled);
    free(o->pooled_pre);
    free(o->dropped);
    free(o->argmax);
    free(o->mask);
}

enum { DROP_SEED = 11, DROP_STEP = 5 };

/* Every output of got as in want (n pooled elements). */
static int outs_same(const outs *got, const outs *want, long n)
{
    const size_t f = sizeof(float) * (size_t)n;
    return !memcmp(got->pooled, want->pooled, f) && !memcmp(got->argmax, want->argmax, (size_t)n) &&
           (!want->pooled_pre || !memcmp(got->pooled_pre, want->pooled_pre, f)) &&
           !memcmp(got->dropped, want->dropped, f) && !memcmp(got->mask, want->mask, (size_t)n);
}

/* Batch norm's parameters, statistics and gradients for one block. */
typedef struct {
    float *gamma, *beta, *saved, *moving, *xw, *dgamma, *dbeta;
    double *moments;
} bn_bufs;

/* gamma in [0.5, 1.5] but one negative (the pool then takes the smallest
 * x), beta in [-0.5, 0.5], moving statistics (0, 1), the gradients
 * random (they are accumulated onto). */
static void bn_make(bn_bufs *n, const block *b, uint64_t seed)
{
    const int OC = b->s.OC;
    n->gamma = fbuf(OC), n->beta = fbuf(OC), n->saved = fbuf(2L * OC);
    n->moving = fbuf(2L * OC), n->xw = fbuf(b->np), n->dgamma = fbuf(OC), n->dbeta = fbuf(OC);
    n->moments = (double *)(void *)fbuf(2 * conv_block_bn_moments(b->s.IC));
    fill(n->gamma, OC, seed, 0.5f, 1.5f);
    n->gamma[OC / 2] = -0.8f;
    fill(n->beta, OC, seed + 1, -0.5f, 0.5f);
    fill(n->dgamma, OC, seed + 2, -1.0f, 1.0f);
    fill(n->dbeta, OC, seed + 3, -1.0f, 1.0f);
    for (int c = 0; c < OC; c++)
        n->moving[OC + c] = 1.0f;
}

static void bn_free(bn_bufs *n)
{
    float *f[] = {n->gamma, n->beta, n->saved, n->moving, n->xw, n->dgamma, n->dbeta};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++)
        free(f[i]);
    free(n->moments);
}

static conv_block_bn bn_of(const bn_bufs *n, int OC)
{
    conv_block_bn c = {n->gamma, n->beta, n->saved, n->moving, n->moving + OC, n->xw,
                       n->dgamma, n->dbeta, n->moments, BN_MOMENTUM, BN_EPSILON};
    return c;
}

/* The unfused training forward, as model.c ran it for every block; with
 * bn, the conv output goes to x and bn_forward_train between. */
static void reference_forward(const block *b, const act_params *a, outs *o, float *col,
                              float rate, bn_bufs *bn, float *x)
{
    const shape *s = &b->s;
    float *pre = fbuf(b->n), *post = o->pooled_pre ? fbuf(b->n) : pre;
    conv_forward(bn ? x : pre, col, b->in, b->w, b->bias, s->B, s->IC, s->H, s->W, s->OC,
                 s->pad);
    if (bn)
        bn_forward_train(pre, bn->saved, bn->moving, bn->moving + s->OC, x, bn->gamma, bn->beta,
                         s->OC, b->n / s->OC, BN_MOMENTUM, BN_EPSILON);
    if (act_pools_first(a->kind, a->alpha))
        act_pool_first_forward(a, pre, o->pooled, o->argmax,
                               o->pooled_pre ? o->pooled_pre : o->pooled, s->OC, s->B, b->OH,
                               b->OW);
    else
        act_maxpool_forward(a, post, pre, o->pooled, o->argmax, o->pooled_pre, s->OC, s->B,
                            b->OH, b->OW);
    dropout_forward(o->dropped, o->mask, o->pooled, b->np, rate, DROP_SEED, 3, DROP_STEP);
    if (post != pre)
        free(post);
    free(pre);
}

static void fused_forward(block *b, const act_params *a, outs *o, float rate,
                          const conv_block_bn *bn)
{
    const shape *s = &b->s;
    conv_block_dropout d = {o->dropped, o->mask, rate, DROP_SEED, 3, DROP_STEP};
    conv_block_forward(a, bn, b->col, o->pooled, o->argmax, o->pooled_pre, &d, b->scratch, b->nscr,
                       b->in, b->w, b->bias, s->B, s->IC, s->H, s->W, s->OC, s->pad);
}

static const shape SHAPES[] = {
    {3, 1, 9, 11, 5, 0},  {3, 1, 9, 11, 5, 1},  {3, 3, 9, 11, 5, 0},
    {3, 3, 9, 11, 5, 1},  {5, 1, 27, 29, 40, 0}, {5, 1, 27, 29, 40, 1},
    {7, 3, 28, 28, 32, 1}, {7, 1, 28, 28, 32, 0},
};
#define N_SHAPES ((int)(sizeof SHAPES / sizeof SHAPES[0]))

/* Every activation kind, every shape, 1 and 2 threads: the pooled values,
 * winners, winners' inputs, dropout output and mask (rate 0.3, and 0 for
 * the first shape) and the saved input are the unfused bits. */
static void test_forward_is_the_unfused_bits(void)
{
    const int saved_threads = test_max_threads();
    for (int si = 0; si < N_SHAPES; si++) {
        block b;
        block_make(&b, SHAPES[si], 100 + (uint64_t)si);
        const long nsave = (long)b.s.IC * b.s.B * (b.s.H + 2 * b.s.pad) * (b.s.W + 2 * b.s.pad);
        float *ref_col = fbuf(b.ncol);
        for (int k = 0; k < act_count(); k++) {
            act_params a = params_of(&b, (act_kind)k);
            const int keep = !act_runs_in_place(a.kind, a.alpha);
            outs want, got;
            outs_make(&want, b.np, keep);
            const float rate = si == 0 && k % 2 ? 0.0f : 0.3f;
            test_set_threads(1);
            reference_forward(&b, &a, &want, ref_col, rate, NULL, NULL);
            for (int t = 1; t <= 2; t++) {
                outs_make(&got, b.np, keep);
                test_set_threads(t);
                fused_forward(&b, &a, &got, rate, NULL);
                int same = outs_same(&got, &want, b.np) &&
                           !memcmp(b.col, ref_col, sizeof(float) * (size_t)nsave);
                CHECK_MSG(same, "shape %d (%dx%dx%d pad %d) act %s threads %d: not the bits",
                          si, b.s.IC, b.s.H, b.s.W, b.s.pad, act_name(a.kind), t);
                outs_free(&got);
            }
            outs_free(&want);
        }
        free(ref_col);
        block_free(&b);
    }
    test_set_threads(saved_threads);
}

/* The backward of every shape: the same dW and db bits at 1, 2 and 3
 * threads, added to what was there, and within 1e-5 (relative to the
 * largest) of the unfused maxpool_backward + conv_backward. */
static void test_backward_threads_and_reference(void)
{
    const int saved_threads = test_max_threads();
    for (int si = 0; si < N_SHAPES; si++) {
        block b;
        block_make(&b, SHAPES[si], 200 + (uint64_t)si);
        const shape *s = &b.s;
        const long nw = (long)s->OC * b.K;
        act_params a = params_of(&b, ACT_RELU);
        outs o;
        outs_make(&o, b.np, 0);
        test_set_threads(1);
        fused_forward(&b, &a, &o, 0.3f, NULL);
        float *dp = fbuf(b.np), *dw[3], *db[3];
        fill(dp, b.np, 300 + (uint64_t)si, -1.0f, 1.0f);
        for (int t = 0; t < 3; t++) {
            dw[t] = fbuf(nw);
            db[t] = fbuf(s->OC);
            fill(dw[t], nw, 7, -1.0f, 1.0f);   /* accumulated onto */
            fill(db[t], s->OC, 8, -1.0f, 1.0f);
            test_set_threads(t + 1);
            conv_block_backward(dw[t], db[t], NULL, b.scratch, b.nscr, dp, o.argmax, b.col, NULL,
                                s->B, s->IC, s->H, s->W, s->OC, s->pad);
        }
        for (int t = 1; t < 3; t++)
            CHECK_MSG(!memcmp(dw[t], dw[0], sizeof(float) * (size_t)nw) &&
                          !memcmp(db[t], db[0], sizeof(float) * (size_t)s->OC),
                      "shape %d: %d threads give other bits than 1", si, t + 1);
        /* the unfused path from the same start */
        float *rw = fbuf(nw), *rb = fbuf(s->OC), *gout = fbuf(b.n), *dcol = fbuf(b.ncol);
        fill(rw, nw, 7, -1.0f, 1.0f);
        fill(rb, s->OC, 8, -1.0f, 1.0f);
        test_set_threads(1);
        maxpool_backward(gout, dp, o.argmax, (long)s->OC * s->B, b.OH, b.OW);
        conv_backward(NULL, dcol, rw, rb, gout, b.col, b.w, s->B, s->IC, s->H, s->W, s->OC,
                      s->pad);
        double big = 0, err = 0;
        for (long i = 0; i < nw + s->OC; i++) {
            double r = i < nw ? rw[i] : rb[i - nw], g = i < nw ? dw[0][i] : db[0][i - nw];
            big = fabs(r) > big ? fabs(r) : big;
            err = fabs(g - r) > err ? fabs(g - r) : err;
        }
        CHECK_MSG(err <= 1e-5 * big, "shape %d: fused dW/db off by %g (largest %g)", si, err,
                  big);
        for (int t = 0; t < 3; t++) {
            free(dw[t]);
            free(db[t]);
        }
        float *f[] = {dp, rw, rb, gout, dcol};
        for (size_t i = 0; i < sizeof f / sizeof *f; i++)
            free(f[i]);
        outs_free(&o);
        block_free(&b);
    }
    test_set_threads(saved_threads);
}

/* Groups depend on the shape alone; scratch for n threads gives n
 * workers, never more for a smaller batch; K over 27 is refused. */
static void test_groups_and_scratch(void)
{
    CHECK_INT(conv_block_group(32, 26, 26, 250), 3);   /* ~256 KB of conv output */
    CHECK_INT(conv_block_group(32, 26, 26, 2), 2);
    CHECK_INT(conv_block_group(4, 7, 9, 5), 5);
    for (int w = 1; w <= 4; w++) {
        long n = conv_block_scratch(w, 250, 1, 26, 26, 32, 0);
        CHECK_INT(conv_block_workers(n, 250, 1, 26, 26, 32, 0), w);
        CHECK_INT(conv_block_workers(n - 1, 250, 1, 26, 26, 32, 0), w - 1);
    }
    long prev = 0;
    for (int B = 1; B <= 40; B++) {
        long n = conv_block_scratch(1, B, 3, 32, 32, 32, 0);
        CHECK(n >= prev);
        prev = n;
    }
    CHECK_INT(conv_block_workers(1L << 30, 250, 4, 26, 26, 32, 0), 0);
    /* batch norm: bigger slots and room for its per-channel values */
    for (int w = 1; w <= 4; w++) {
        long n = conv_block_scratch(w, 250, 3, 32, 32, 32, 1);
        CHECK(n > conv_block_scratch(w, 250, 3, 32, 32, 32, 0));
        CHECK_INT(conv_block_workers(n, 250, 3, 32, 32, 32, 1), w);
        CHECK_INT(conv_block_workers(n - 1, 250, 3, 32, 32, 32, 1), w - 1);
    }
}

/* ------------------------------------------------------------ batch norm */

/* The worst |got - want| / (scale + |want|) over n floats. */
static double worst(const float *got, const float *want, long n, double scale)
{
    double w = 0;
    for (long i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]) / (scale + fabs(want[i]));
        w = e > w ? e : w;
    }
    return w;
}

/* Winners (of np pooled outputs) whose x in xw is not the bits of x (the
 * conv output, OC*B planes of OH x OW) there; where the winner differs
 * from want's, no check. */
static long winners_off(const float *xw, const uint8_t *am, const uint8_t *want_am,
                        const float *x, long np, int OH, int OW)
{
    const long pp = (long)(OH / 2) * (OW / 2);
    long bad = 0;
    for (long i = 0; i < np; i++) {
        if (am[i] != want_am[i])
            continue;
        const long r = i % pp, y = r / (OW / 2), c = r % (OW / 2);
        const long at = (i / pp) * OH * OW + (2 * y + am[i] / 2) * OW + 2 * c + am[i] % 2;
        bad += memcmp(&xw[i], &x[at], sizeof(float)) != 0;
    }
    return bad;
}

/* Every shape and activation kind, 1 thread: the batch and moving
 * statistics within 1e-6, the pooled values (and the winners' input) and
 * the dropout's output within 1e-5 of conv_forward + bn_forward_train +
 * act/pool + dropout (whose sums run in another order); the dropout mask
 * the same; the winners the same but for a rare near-tie, and the
 * winners' x the bits of conv_forward's. */
static void test_bn_forward_against_unfused(void)
{
    const int saved_threads = test_max_threads();
    test_set_threads(1);
    for (int si = 0; si < N_SHAPES; si++) {
        block b;
        block_make(&b, SHAPES[si], 400 + (uint64_t)si);
        const int OC = b.s.OC;
        float *ref_col = fbuf(b.ncol), *x = fbuf(b.n);
        for (int k = 0; k < act_count(); k++) {
            act_params a = params_of(&b, (act_kind)k);
            const int keep = !act_runs_in_place(a.kind, a.alpha);
            outs want, got;
            bn_bufs rn, fn;
            outs_make(&want, b.np, keep);
            outs_make(&got, b.np, keep);
            bn_make(&rn, &b, 500 + (uint64_t)si);
            bn_make(&fn, &b, 500 + (uint64_t)si);
            reference_forward(&b, &a, &want, ref_col, 0.3f, &rn, x);
            conv_block_bn cb = bn_of(&fn, OC);
            fused_forward(&b, &a, &got, 0.3f, &cb);
            long ties = 0;
            for (long i = 0; i < b.np; i++)
                ties += got.argmax[i] != want.argmax[i];
            const double e_stat = fmax(worst(fn.saved, rn.saved, 2L * OC, 1.0),
                                       worst(fn.moving, rn.moving, 2L * OC, 1.0));
            double e_out = fmax(worst(got.pooled, want.pooled, b.np, 1.0),
                                worst(got.dropped, want.dropped, b.np, 1.0));
            if (keep)
                e_out = fmax(e_out, worst(got.pooled_pre, want.pooled_pre, b.np, 1.0));
            CHECK_MSG(e_stat <= 1e-6 && e_out <= 1e-5 && ties <= b.np / 1000 &&
                          !memcmp(got.mask, want.mask, (size_t)b.np) &&
                          winners_off(fn.xw, got.argmax, want.argmax, x, b.np, b.OH, b.OW) == 0,
                      "shape %d act %s: statistics off by %g, outputs by %g, %ld winners moved",
                      si, act_name(a.kind), e_stat, e_out, ties);
            outs_free(&want);
            outs_free(&got);
            bn_free(&rn);
            bn_free(&fn);
        }
        free(ref_col);
        free(x);
        block_free(&b);
    }
    test_set_threads(saved_threads);
}

/* One fused training step with batch norm at t threads: forward, then
 * backward from a fixed pooled gradient onto random dW, db, dgamma,
 * dbeta. */
typedef struct {
    outs o;
    bn_bufs n;
    float *dw, *db;
} bn_step;

static void bn_step_run(bn_step *r, block *b, act_kind kind, int threads)
{
    const shape *s = &b->s;
    act_params a = params_of(b, kind);
    outs_make(&r->o, b->np, !act_runs_in_place(a.kind, a.alpha));
    bn_make(&r->n, b, 600);
    r->dw = fbuf((long)s->OC * b->K);
    r->db = fbuf(s->OC);
    fill(r->dw, (long)s->OC * b->K, 7, -1.0f, 1.0f);
    fill(r->db, s->OC, 8, -1.0f, 1.0f);
    float *dp = fbuf(b->np);
    fill(dp, b->np, 601, -1.0f, 1.0f);
    conv_block_bn cb = bn_of(&r->n, s->OC);
    test_set_threads(threads);
    fused_forward(b, &a, &r->o, 0.3f, &cb);
    conv_block_backward(r->dw, r->db, &cb, b->scratch, b->nscr, dp, r->o.argmax, b->col, b->w,
                        s->B, s->IC, s->H, s->W, s->OC, s->pad);
    free(dp);
}

static void bn_step_free(bn_step *r)
{
    outs_free(&r->o);
    bn_free(&r->n);
    free(r->dw);
    free(r->db);
}

static int floats_same(const float *a, const float *b, long n)
{
    return !memcmp(a, b, sizeof(float) * (size_t)n);
}

/* With batch norm, 1, 2 and 3 threads: every output, statistic and
 * gradient the same bits (shapes of 3, 4 and 7 groups, the last short). */
static void test_bn_threads_bits(void)
{
    const int saved_threads = test_max_threads();
    static const act_kind kinds[] = {ACT_RELU, ACT_ELU, ACT_GELU};
    const shape shapes[] = {SHAPES[4], SHAPES[6], {20, 1, 28, 28, 32, 0}};
    for (int si = 0; si < 3; si++)
        for (int ki = 0; ki < 3; ki++) {
            block b;
            block_make(&b, shapes[si], 700 + (uint64_t)si);
            const int OC = b.s.OC;
            bn_step r[3];
            for (int t = 0; t < 3; t++)
                bn_step_run(&r[t], &b, kinds[ki], t + 1);
            for (int t = 1; t < 3; t++) {
                int same = outs_same(&r[t].o, &r[0].o, b.np) &&
                           floats_same(r[t].n.saved, r[0].n.saved, 2L * OC) &&
                           floats_same(r[t].n.moving, r[0].n.moving, 2L * OC) &&
                           floats_same(r[t].n.xw, r[0].n.xw, b.np) &&
                           floats_same(r[t].n.dgamma, r[0].n.dgamma, OC) &&
                           floats_same(r[t].n.dbeta, r[0].n.dbeta, OC) &&
                           floats_same(r[t].dw, r[0].dw, (long)OC * b.K) &&
                           floats_same(r[t].db, r[0].db, OC);
                CHECK_MSG(same, "shape %d act %s: %d threads give other bits than 1", si,
                          act_name(kinds[ki]), t + 1);
            }
            for (int t = 0; t < 3; t++)
                bn_step_free(&r[t]);
            block_free(&b);
        }
    test_set_threads(saved_threads);
}

/* The backward with batch norm against maxpool_backward + bn_backward +
 * conv_backward from the same forward (the fused winners and statistics,
 * conv_forward's x) and the same starting gradients: what is added to dW
 * and db within 1e-5 of its largest, dgamma and dbeta within 1e-5 of
 * theirs. */
static void test_bn_backward_against_unfused(void)
{
    const int saved_threads = test_max_threads();
    for (int si = 0; si < N_SHAPES; si++) {
        block b;
        block_make(&b, SHAPES[si], 800 + (uint64_t)si);
        const shape *s = &b.s;
        const int OC = s->OC;
        const long nw = (long)OC * b.K;
        bn_step r;
        bn_step_run(&r, &b, ACT_RELU, 1);
        bn_bufs rn;   /* its dgamma, dbeta: the fused run's starting values */
        bn_make(&rn, &b, 600);
        float *rw = fbuf(nw), *rb = fbuf(OC), *x = fbuf(b.n), *g = fbuf(b.n);
        float *col = fbuf(b.ncol), *dcol = fbuf(b.ncol), *dp = fbuf(b.np);
        fill(rw, nw, 7, -1.0f, 1.0f);
        fill(rb, OC, 8, -1.0f, 1.0f);
        fill(dp, b.np, 601, -1.0f, 1.0f);
        conv_forward(x, col, b.in, b.w, b.bias, s->B, s->IC, s->H, s->W, OC, s->pad);
        maxpool_backward(g, dp, r.o.argmax, (long)OC * s->B, b.OH, b.OW);
        bn_backward(g, rn.dgamma, rn.dbeta, g, x, r.n.gamma, r.n.saved, OC, b.n / OC);
        conv_backward(NULL, dcol, rw, rb, g, col, b.w, s->B, s->IC, s->H, s->W, OC, s->pad);
        /* the gradients added, without the starting values they were added to */
        float *w0 = fbuf(nw), *b0 = fbuf(OC);
        fill(w0, nw, 7, -1.0f, 1.0f);
        fill(b0, OC, 8, -1.0f, 1.0f);
        double big = 0, err = 0, bigg = 0, errg = 0;
        for (long i = 0; i < nw + OC; i++) {
            double want = i < nw ? (double)rw[i] - w0[i] : (double)rb[i - nw] - b0[i - nw];
            double got = i < nw ? (double)r.dw[i] - w0[i] : (double)r.db[i - nw] - b0[i - nw];
            big = fmax(big, fabs(want));
            err = fmax(err, fabs(got - want));
        }
        free(w0);
        free(b0);
        for (int c = 0; c < 2 * OC; c++) {
            double want = c < OC ? rn.dgamma[c] : rn.dbeta[c - OC];
            double got = c < OC ? r.n.dgamma[c] : r.n.dbeta[c - OC];
            bigg = fmax(bigg, fabs(want));
            errg = fmax(errg, fabs(got - want));
        }
        CHECK_MSG(err <= 1e-5 * big && errg <= 1e-5 * bigg,
                  "shape %d: dW/db off by %g (largest %g), dgamma/dbeta by %g (largest %g)", si,
                  err, big, errg, bigg);
        float *f[] = {rw, rb, x, g, col, dcol, dp};
        for (size_t i = 0; i < sizeof f / sizeof *f; i++)
            free(f[i]);
        bn_free(&rn);
        bn_step_free(&r);
        block_free(&b);
    }
    test_set_threads(saved_threads);
}

/* ------------------------------------------------- in the model (model.c) */

/* 28x28, conv [16, 8], dense [6], batch norm, dropout 0.3. */
static void bn_model_spec(model_spec *s, act_kind act)
{
    model_spec_default(s);
    s->in_h = s->in_w = 28;
    s->shape.conv[0] = 16, s->shape.conv[1] = 8, s->shape.dense[0] = 6;
    s->act = act;
    s->alpha = 1.0f;
    s->dropout = 0.3f;
    s->batchnorm = 1;
}

/* The model's first block runs fused in training: after one training
 * forward its moving statistics and the batch statistics its evaluation
 * then reads agree (to float rounding) with bn_forward_train on
 * conv_forward's output from the same parameters; 1 and 3 channels. */
static void test_bn_model_fused_first_block(void)
{
    for (int in_c = 1; in_c <= 3; in_c += 2) {
        model_spec s;
        model *m = NULL;
        sw_error err = {0};
        bn_model_spec(&s, ACT_RELU);
        s.in_c = in_c;
        enum { B = 20 };
        CHECK_INT(model_create(&m, &s, B, &err), SW_OK);
        if (!m)
            return;
        model_init_params(m, 9);
        const long pix = 28 * 28, n = (long)B * 26 * 26, C = 16;
        float *x = fbuf(B * in_c * pix), *planes = fbuf(B * in_c * pix);
        float *col = fbuf(conv_col_size(B, in_c, 28, 28, 0));
        float *out = fbuf(C * n), *y = fbuf(C * n), *saved = fbuf(2 * C), *mv = fbuf(2 * C);
        fill(x, B * in_c * pix, 120 + (uint64_t)in_c, 0, 1);
        for (int b = 0; b < B; b++)   /* (B, C, HW) into the conv's (C, B, HW) */
            for (int c = 0; c < in_c; c++)
                memcpy(planes + ((long)c * B + b) * pix, x + ((long)b * in_c + c) * pix,
                       sizeof(float) * pix);
        const float *p = model_params(m);
        const model_tensor *w = model_tensor_at(m, 0), *bias = model_tensor_at(m, 1);
        const long ngb = model_num_tensors(m);
        const float *gamma = p + model_tensor_at(m, (int)ngb - 6)->offset;
        const float *beta = p + model_tensor_at(m, (int)ngb - 5)->offset;
        CHECK_STR(model_tensor_at(m, (int)ngb - 6)->name, "conv1.bn.gamma");
        for (int c = 0; c < C; c++)
            mv[C + c] = 1;
        conv_forward(out, col, planes, p + w->offset, p + bias->offset, B, in_c, 28, 28, (int)C,
                     0);
        bn_forward_train(y, saved, mv, mv + C, out, gamma, beta, (int)C, n, BN_MOMENTUM,
                         BN_EPSILON);
        model_forward(m, x, B, 1, 5, 0);
        const float *st = model_bn_state(m);
        for (int i = 0; i < 2 * C; i++)
            CHECK_NEAR(st[i], mv[i], 1e-6 * (1 + fabs(mv[i])));
        free(x), free(planes), free(col), free(out), free(y), free(saved), free(mv);
        model_free(m);
    }
}

/* Gradients and moving statistics of one training step on a batch of 40
 * (28x28, conv [16, 8]) of a model made for max_batch images. */
static float *bn_step_bits(int max_batch, long *n)
{
    model_spec s;
    model *m = NULL;
    sw_error err = {0};
    bn_model_spec(&s, ACT_ELU);
    if (model_create(&m, &s, max_batch, &err) != SW_OK)
        return NULL;
    model_init_params(m, 13);
    enum { B = 40 };
    float *x = fbuf(B * 784);
    uint8_t y[B];
    fill(x, B * 784, 140, 0, 1);
    for (int i = 0; i < B; i++)
        y[i] = (uint8_t)(i % 10);
    int correct;
    model_forward(m, x, B, 1, 3, 1);
    model_loss(m, y, B, &correct, 1);
    const long np = model_num_params(m), nb = model_bn_state_size(m);
    *n = np + nb;
    float *out = fbuf(*n);
    memcpy(out, model_grads(m), sizeof(float) * (size_t)np);
    memcpy(out + np, model_bn_state(m), sizeof(float) * (size_t)nb);
    free(x);
    model_free(m);
    return out;
}

/* The first block's winners' conv output shares its buffer with the later
 * blocks' backward (model.c's alloc_buffers) at an offset that follows
 * max_batch: models made for 40 and for 250 images give the same bits for
 * a batch of 40 (an overlap would corrupt one of them). */
static void test_bn_model_buffer_layout(void)
{
    long n1 = 0, n2 = 0;
    float *a = bn_step_bits(40, &n1), *b = bn_step_bits(250, &n2);
    CHECK(a && b && n1 == n2);
    if (a && b)
        CHECK(memcmp(a, b, sizeof(float) * (size_t)n1) == 0);
    free(a);
    free(b);
}

void suite_conv_block(void)
{
    RUN_TEST(test_forward_is_the_unfused_bits);
    RUN_TEST(test_backward_threads_and_reference);
    RUN_TEST(test_groups_and_scratch);
    RUN_TEST(test_bn_forward_against_unfused);
    RUN_TEST(test_bn_threads_bits);
    RUN_TEST(test_bn_backward_against_unfused);
    RUN_TEST(test_bn_model_fused_first_block);
    RUN_TEST(test_bn_model_buffer_layout);
}
