/* Tests of gemm's caller-shaped operands (issue #19): gemm_packed, whose
 * op(B) comes from a packer, and gemm_rows, whose op(A) is read in place
 * through row pointers and offsets. Each must give gemm's own bits (the
 * same sums in the same order) and the same bits at 1, 2 and 3 threads,
 * and its extras (a row bias, column sums of op(B)) the bits of the plain
 * passes they replace. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "nn/gemm.h"
#include "test.h"

static float *gfill(long n, uint64_t seed)
{
    float *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
    for (long i = 0; i < n; i++)
        x[i] = 2 * rng_uniform(seed, 0x9e33, 0, (uint64_t)i) - 1;
    return x;
}

/* A packer over a stored B: op(B) (K,N) = B, or B^T when trans. */
typedef struct {
    const float *B;
    int ldb, trans;
} stored_b;

static void pack_stored(void *ctx, float *dst, int k0, int kc, int j0, int nc)
{
    const stored_b *s = ctx;
    for (int p = 0; p * GEMM_NR < nc; p++)
        for (int k = 0; k < kc; k++)
            for (int l = 0; l < GEMM_NR; l++) {
                const int j = j0 + p * GEMM_NR + l, kk = k0 + k;
                float v = 0;
                if (p * GEMM_NR + l < nc)
                    v = s->trans ? s->B[(long)j * s->ldb + kk] : s->B[(long)kk * s->ldb + j];
                dst[((long)p * kc + k) * GEMM_NR + l] = v;
            }
}

static int same_bits(const float *a, const float *b, long n)
{
    return memcmp(a, b, (size_t)n * sizeof *a) == 0;
}

/* gemm_packed (with and without a bias) against gemm and a bias pass, at
 * 1, 2 and 3 threads; and near the plain loops. */
static void packed_case(int ta, int tb, int M, int N, int K, int acc)
{
    const int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 5;
    const float *A = gfill((long)lda * (ta ? K : M), 1), *B = gfill((long)ldb * (tb ? N : K), 2);
    float *bias = gfill(M, 3), *C0 = gfill((long)ldc * M, 4);
    float *want = malloc((size_t)ldc * M * sizeof *want), *wantb = malloc((size_t)ldc * M * 4);
    float *got = malloc((size_t)ldc * M * sizeof *got), *ref = malloc((size_t)ldc * M * 4);
    const long n = (long)ldc * M;
    memcpy(want, C0, (size_t)n * 4);
    gemm(ta, tb, M, N, K, A, lda, B, ldb, acc, want, ldc);
    memcpy(wantb, want, (size_t)n * 4);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            wantb[(long)i * ldc + j] += bias[i];
    memcpy(ref, C0, (size_t)n * 4);
    gemm_reference(ta, tb, M, N, K, A, lda, B, ldb, acc, ref, ldc);
    stored_b sb = {B, ldb, tb};
    const int saved = test_max_threads();
    for (int t = 1; t <= 3; t++) {
        test_set_threads(t);
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            memcpy(got, C0, (size_t)n * 4);
            gemm_packed(ta, M, N, K, A, lda, pack_stored, &sb, acc, with_bias ? bias : NULL,
                        got, ldc);
            CHECK_MSG(same_bits(got, with_bias ? wantb : want, n),
                      "gemm_packed ta=%d tb=%d %dx%dx%d acc=%d bias=%d threads=%d: not gemm's bits",
                      ta, tb, M, N, K, acc, with_bias, t);
        }
    }
    test_set_threads(saved);
    for (long i = 0; i < n; i++)
        CHECK_NEAR(want[i], ref[i], 1e-4 * (1 + fabs(ref[i])) * (1 + K / 64.0));
    free((void *)A), free((void *)B), free(bias), free(C0);
    free(want), free(wantb), free(got), free(ref);
}

static void test_gemm_packed(void)
{
    packed_case(0, 0, 64, 847, 288, 0);   /* conv2's forward chunk */
    packed_case(0, 1, 13, 45, 600, 1);    /* three depth blocks, edges */
    packed_case(1, 0, 37, 70, 33, 0);
    packed_case(1, 1, 8, 1100, 20, 1);    /* two column groups */
    packed_case(0, 0, 1, 1, 1, 0);
    packed_case(0, 0, 200, 3, 9, 1);      /* fewer panels than threads */
}

/* gemm_rows over a stored A (as rows of A, or of A^T through offsets)
 * against gemm; bsum against column sums taken in k order. */
static void rows_case(int ta, int tb, int M, int N, int K, int acc)
{
    const int lda = (ta ? M : K) + 1, ldb = (tb ? K : N) + 3, ldc = N + 2;
    const float *A = gfill((long)lda * (ta ? K : M), 5), *B = gfill((long)ldb * (tb ? N : K), 6);
    float *C0 = gfill((long)ldc * M, 7), *bs0 = gfill(N, 8);
    const long n = (long)ldc * M;
    float *want = malloc((size_t)n * 4), *got = malloc((size_t)n * 4);
    float *bwant = malloc((size_t)N * 4), *bgot = malloc((size_t)N * 4);
    const float **rows = malloc((size_t)M * sizeof *rows);
    int32_t *koff = malloc((size_t)K * sizeof *koff);
    for (int i = 0; i < M; i++)
        rows[i] = ta ? A + i : A + (long)i * lda;
    for (int k = 0; k < K; k++)
        koff[k] = ta ? k * lda : k;
    memcpy(want, C0, (size_t)n * 4);
    gemm(ta, tb, M, N, K, A, lda, B, ldb, acc, want, ldc);
    for (int j = 0; j < N; j++) {
        float s = bs0[j];
        for (int k = 0; k < K; k++)
            s += tb ? B[(long)j * ldb + k] : B[(long)k * ldb + j];
        bwant[j] = s;
    }
    const int saved = test_max_threads();
    for (int t = 1; t <= 3; t++) {
        test_set_threads(t);
        memcpy(got, C0, (size_t)n * 4);
        memcpy(bgot, bs0, (size_t)N * 4);
        gemm_rows(M, N, K, rows, koff, tb, B, ldb, acc, bgot, got, ldc);
        CHECK_MSG(same_bits(got, want, n),
                  "gemm_rows ta=%d tb=%d %dx%dx%d acc=%d threads=%d: not gemm's bits", ta, tb,
                  M, N, K, acc, t);
        CHECK_MSG(same_bits(bgot, bwant, N),
                  "gemm_rows bsum tb=%d %dx%dx%d threads=%d: not the sums in k order", tb, M, N,
                  K, t);
    }
    test_set_threads(saved);
    free((void *)A), free((void *)B), free(C0), free(bs0), free(want), free(got);
    free(bwant), free(bgot), free(rows), free(koff);
}

static void test_gemm_rows(void)
{
    rows_case(0, 1, 288, 64, 847, 0);   /* conv2's dW^T chunk */
    rows_case(1, 1, 29, 70, 530, 1);    /* A^T through offsets, edges */
    rows_case(0, 0, 9, 33, 17, 1);
    rows_case(1, 0, 300, 5, 40, 0);     /* fewer panels than threads */
    rows_case(0, 1, 1, 1, 1, 0);
}

void suite_gemm(void)
{
    RUN_TEST(test_gemm_packed);
    RUN_TEST(test_gemm_rows);
}
