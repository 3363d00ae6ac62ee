/* Tests of the fused first conv block (nn/conv_block.h): its forward has the
 * bits of the unfused kernels (conv_forward, then act_pool_first_forward or
 * act_maxpool_forward as model.c picks them) for every activation kind,
 * both paddings, 1 and 3 input channels, odd sizes and 1 or 2 threads; its
 * weight and bias gradients are the same bits at 1, 2 and 3 threads and
 * agree with maxpool_backward + conv_backward; its scratch sizes hold. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "nn/activation.h"
#include "nn/conv.h"
#include "nn/conv_block.h"
#include "nn/dropout.h"
#include "nn/pool.h"
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

/* The unfused training forward, as model.c ran it for every block. */
static void reference_forward(const block *b, const act_params *a, outs *o, float *col,
                              float rate)
{
    const shape *s = &b->s;
    float *pre = fbuf(b->n), *post = o->pooled_pre ? fbuf(b->n) : pre;
    conv_forward(pre, col, b->in, b->w, b->bias, s->B, s->IC, s->H, s->W, s->OC, s->pad);
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

static void fused_forward(block *b, const act_params *a, outs *o, float rate)
{
    const shape *s = &b->s;
    conv_block_dropout d = {o->dropped, o->mask, rate, DROP_SEED, 3, DROP_STEP};
    conv_block_forward(a, NULL, b->col, o->pooled, o->argmax, o->pooled_pre, &d, b->scratch, b->nscr,
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
            reference_forward(&b, &a, &want, ref_col, rate);
            for (int t = 1; t <= 2; t++) {
                outs_make(&got, b.np, keep);
                test_set_threads(t);
                fused_forward(&b, &a, &got, rate);
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
        fused_forward(&b, &a, &o, 0.3f);
        float *dp = fbuf(b.np), *dw[3], *db[3];
        fill(dp, b.np, 300 + (uint64_t)si, -1.0f, 1.0f);
        for (int t = 0; t < 3; t++) {
            dw[t] = fbuf(nw);
            db[t] = fbuf(s->OC);
            fill(dw[t], nw, 7, -1.0f, 1.0f);   /* accumulated onto */
            fill(db[t], s->OC, 8, -1.0f, 1.0f);
            test_set_threads(t + 1);
            conv_block_backward(dw[t], db[t], NULL, b.scratch, b.nscr, dp, o.argmax, b.col, NULL,
                                NULL, s->B, s->IC, s->H, s->W, s->OC, s->pad);
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
}

void suite_conv_block(void)
{
    RUN_TEST(test_forward_is_the_unfused_bits);
    RUN_TEST(test_backward_threads_and_reference);
    RUN_TEST(test_groups_and_scratch);
}
