/* Tests of conv's im2col-free paths (issue #19): the forward's packer
 * (pixels in one, two or more windows of the input, taps from mid-row
 * depth blocks, the lane-by-lane tail near the end of the input), the
 * weight gradient read in place (gemm_rows) with its bias sums and chunk
 * partials, and the fallback without room for the partials, for pad 0 and
 * 1: against double loops, and the same bits at 1, 2 and 3 threads; and
 * the streaming copy of a saved input read only in backward. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "nn/conv.h"
#include "nn/stream.h"
#include "test.h"

static float *cfill(long n, uint64_t seed, float scale)
{
    float *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
    for (long i = 0; i < n; i++)
        x[i] = scale * (2 * rng_uniform(seed, 0xc0de, 0, (uint64_t)i) - 1);
    return x;
}

typedef struct {
    int B, IC, H, W, OC, pad;
    long nin, nw, nout;
    float *out, *dw, *db, *din;   /* results of one run */
} conv_run;

/* in, w, b, g of the case, deterministic; one forward and backward into r. */
static void run_conv(conv_run *r, const float *in, const float *w, const float *b,
                     const float *g)
{
    const long ncol = conv_col_size(r->B, r->IC, r->H, r->W, r->pad);
    float *col = malloc((size_t)ncol * 4), *dcol = malloc((size_t)ncol * 4);
    r->out = malloc((size_t)r->nout * 4);
    r->din = malloc((size_t)r->nin * 4);
    r->dw = calloc((size_t)r->nw, 4);
    r->db = calloc((size_t)r->OC, 4);
    conv_forward(r->out, col, in, w, b, r->B, r->IC, r->H, r->W, r->OC, r->pad);
    conv_backward(r->din, dcol, r->dw, r->db, g, col, w, r->B, r->IC, r->H, r->W, r->OC, r->pad);
    free(col), free(dcol);
}

static void free_run(conv_run *r) { free(r->out), free(r->dw), free(r->db), free(r->din); }

/* |got - want| within a bound that scales with sum |terms|. */
static int near(double got, double want, double mag)
{
    return fabs(got - want) <= 2e-6 * mag + 1e-6;
}

static float in_at(const float *in, const conv_run *r, int c, int b, int y, int x)
{
    if (y < 0 || x < 0 || y >= r->H || x >= r->W)
        return 0;   /* the zero border of pad 1 */
    return in[(((long)c * r->B + b) * r->H + y) * r->W + x];
}

/* out, dW and db against double loops; din too (by the adjoint). */
static void check_reference(const conv_run *r, const float *in, const float *w, const float *b,
                            const float *g)
{
    const int OH = r->H + 2 * r->pad - 2, OW = r->W + 2 * r->pad - 2, K = r->IC * 9;
    const long ohw = (long)OH * OW, P = r->B * ohw;
    int bad = 0;
    for (int o = 0; o < r->OC; o++)
        for (long p = 0; p < P; p++) {
            const int bb = (int)(p / ohw), y = (int)(p % ohw / OW) - r->pad, x = (int)(p % OW) - r->pad;
            double s = b[o], m = fabs(b[o]);
            for (int k = 0; k < K; k++) {
                double v = (double)w[o * K + k] * in_at(in, r, k / 9, bb, y + k % 9 / 3, x + k % 3);
                s += v, m += fabs(v);
            }
            bad += !near(r->out[o * P + p], s, m);
        }
    CHECK_MSG(bad == 0, "conv %dx%dx%dx%d->%d pad %d: %d outputs off", r->B, r->IC, r->H, r->W,
              r->OC, r->pad, bad);
    bad = 0;
    for (int o = 0; o < r->OC; o++) {
        double sb = 0, mb = 0;
        for (long p = 0; p < P; p++)
            sb += g[o * P + p], mb += fabs(g[o * P + p]);
        bad += !near(r->db[o], sb, mb);
        for (int k = 0; k < K; k++) {
            double s = 0, m = 0;
            for (long p = 0; p < P; p++) {
                const int bb = (int)(p / ohw), y = (int)(p % ohw / OW) - r->pad;
                const int x = (int)(p % OW) - r->pad;
                double v = (double)g[o * P + p] * in_at(in, r, k / 9, bb, y + k % 9 / 3, x + k % 3);
                s += v, m += fabs(v);
            }
            bad += !near(r->dw[o * K + k], s, m);
        }
    }
    CHECK_MSG(bad == 0, "conv %dx%dx%dx%d->%d pad %d: %d of dW, db off", r->B, r->IC, r->H, r->W,
              r->OC, r->pad, bad);
    /* din: each input pixel from the outputs its taps reach */
    bad = 0;
    for (int c = 0; c < r->IC; c++)
        for (int bb = 0; bb < r->B; bb++)
            for (int yi = 0; yi < r->H; yi++)
                for (int xi = 0; xi < r->W; xi++) {
                    double s = 0, m = 0;
                    for (int o = 0; o < r->OC; o++)
                        for (int t = 0; t < 9; t++) {
                            const int y = yi + r->pad - t / 3, x = xi + r->pad - t % 3;
                            if (y < 0 || x < 0 || y >= OH || x >= OW)
                                continue;
                            double v = (double)w[o * K + c * 9 + t] * g[o * P + bb * ohw + y * OW + x];
                            s += v, m += fabs(v);
                        }
                    bad += !near(r->din[(((long)c * r->B + bb) * r->H + yi) * r->W + xi], s, m);
                }
    CHECK_MSG(bad == 0, "conv %dx%dx%dx%d->%d pad %d: %d of din off", r->B, r->IC, r->H, r->W,
              r->OC, r->pad, bad);
}

static void conv_case(int B, int IC, int H, int W, int OC, int pad)
{
    const int OH = H + 2 * pad - 2, OW = W + 2 * pad - 2;
    conv_run base = {B, IC, H, W, OC, pad, (long)IC * B * H * W, (long)OC * IC * 9,
                     (long)OC * B * OH * OW, NULL, NULL, NULL, NULL};
    float *in = cfill(base.nin, 1, 1), *w = cfill(base.nw, 2, 0.3f), *b = cfill(OC, 3, 0.5f);
    float *g = cfill(base.nout, 4, 1);
    const int saved = test_max_threads();
    conv_run r[3];
    for (int t = 0; t < 3; t++) {
        test_set_threads(t + 1);
        r[t] = base;
        run_conv(&r[t], in, w, b, g);
    }
    test_set_threads(saved);
    for (int t = 1; t < 3; t++)
        CHECK_MSG(!memcmp(r[t].out, r[0].out, (size_t)base.nout * 4) &&
                      !memcmp(r[t].dw, r[0].dw, (size_t)base.nw * 4) &&
                      !memcmp(r[t].db, r[0].db, (size_t)OC * 4) &&
                      !memcmp(r[t].din, r[0].din, (size_t)base.nin * 4),
                  "conv %dx%dx%dx%d->%d pad %d: %d threads change bits", B, IC, H, W, OC, pad,
                  t + 1);
    check_reference(&r[0], in, w, b, g);
    for (int t = 0; t < 3; t++)
        free_run(&r[t]);
    free(in), free(w), free(b), free(g);
}

static void test_conv_packer_paths(void)
{
    conv_case(9, 32, 13, 13, 64, 0);   /* conv2: two chunks, two windows at images' ends */
    conv_case(5, 8, 10, 10, 16, 1);    /* pad 1 */
    conv_case(20, 4, 4, 4, 8, 0);      /* 2x2 outputs: lanes beyond two windows */
    conv_case(2, 4, 20, 40, 8, 1);     /* rows of 40: a window per row */
    conv_case(3, 37, 7, 7, 20, 0);     /* K = 333: a depth block starts mid-row */
}

static void test_conv_partials_do_not_fit(void)
{
    conv_case(2, 64, 6, 6, 300, 0);    /* dW split by tiles instead of chunks */
}

/* stream_copy is memcpy: every length around its vector and minimum
 * sizes, from every alignment of either side, and no byte past the end. */
static void test_stream_copy_is_memcpy(void)
{
    enum { MAX = 2300, SLACK = 64 };
    unsigned char *src = malloc(MAX + 2 * SLACK), *dst = malloc(MAX + 2 * SLACK);
    unsigned char *want = malloc(MAX + 2 * SLACK);
    for (int i = 0; i < MAX + 2 * SLACK; i++)
        src[i] = (unsigned char)(rng_u64(5, 1, 0, (uint64_t)i) | 1);   /* never 0 */
    int bad = 0;
    const int lengths[] = {0, 1, 63, 64, 65, 127, 1023, 1024, 1025, 1088, 1100, 2047, 2112, MAX};
    for (size_t l = 0; l < sizeof lengths / sizeof *lengths; l++)
        for (int so = 0; so < SLACK; so += 7)
            for (int d_off = 0; d_off < SLACK; d_off += 5) {
                memset(dst, 0, MAX + 2 * SLACK);
                memset(want, 0, MAX + 2 * SLACK);
                memcpy(want + d_off, src + so, (size_t)lengths[l]);
                stream_copy(dst + d_off, src + so, (size_t)lengths[l]);
                bad += memcmp(dst, want, MAX + 2 * SLACK) != 0;
            }
    CHECK_INT(bad, 0);
    free(src), free(dst), free(want);
}

/* A saved input big enough to be streamed (one kept for backward only) is
 * the input's copy, tasks and tail included. */
static void test_save_input_streamed_is_a_copy(void)
{
    const int H = 13, W = 13;
    const long planes = (long)(STREAM_MIN_TENSOR_BYTES / sizeof(float)) / (H * W) + 3;
    const long n = planes * H * W;
    float *in = cfill(n, 11, 1.0f), *saved = malloc((size_t)n * sizeof(float));
    CHECK(n * (long)sizeof(float) >= (long)STREAM_MIN_TENSOR_BYTES);
    conv_save_input(saved, in, planes, H, W, 0, 1);
    CHECK(memcmp(saved, in, (size_t)n * sizeof(float)) == 0);
    free(in), free(saved);
}

void suite_conv(void)
{
    RUN_TEST(test_stream_copy_is_memcpy);
    RUN_TEST(test_save_input_streamed_is_a_copy);
    RUN_TEST(test_conv_packer_paths);
    RUN_TEST(test_conv_partials_do_not_fit);
}
