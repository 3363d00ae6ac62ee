/* gemm.h: the one matrix product every layer is built on.
 *
 * Deterministic: each element of C is summed over k in one fixed order that
 * does not depend on the thread count, so results are bit-identical with 1,
 * 2 or 3 OpenMP threads. Parallel over tiles of C, never over k. */
#ifndef SWEEP_GEMM_H
#define SWEEP_GEMM_H

#include <stdint.h>

/* C (M,N) = [C +] op(A) (M,K) * op(B) (K,N), all row-major.
 * trans_a: A is stored (K,M) with leading dimension lda; else (M,K).
 * trans_b: B is stored (N,K) with leading dimension ldb; else (K,N).
 * accumulate: add into C instead of overwriting it. */
void gemm(int trans_a, int trans_b, int M, int N, int K,
          const float *A, int lda, const float *B, int ldb,
          int accumulate, float *C, int ldc);

/* Width of the panels of op(B) that a gemm_pack_fn writes. */
enum { GEMM_NR = 32 };

/* Packs rows [k0, k0 + kc) and columns [j0, j0 + nc) of op(B) (K,N) into
 * panels of GEMM_NR columns: element (k, j) goes to
 *   dst[((j - j0) / GEMM_NR * kc + k - k0) * GEMM_NR + (j - j0) % GEMM_NR],
 * the columns of the last panel past nc set to 0. j0 is a multiple of
 * GEMM_NR. Called from any thread; dst is 64-byte aligned. */
typedef void gemm_pack_fn(void *ctx, float *dst, int k0, int kc, int j0, int nc);

/* gemm with op(B) given by a packer (for a B that is not stored as a
 * matrix, such as im2col's columns): the same sums, in the same order, as
 * gemm with that B (but for gemm's dot-product path: a C of under 8 rows
 * or 16 columns with K >= 16384). bias: NULL, or M floats, bias[i] added
 * to row i of C after its whole sum (the bits of a pass C[i][j] += bias[i]
 * after the gemm). */
void gemm_packed(int trans_a, int M, int N, int K, const float *A, int lda,
                 gemm_pack_fn *pack, void *ctx, int accumulate, const float *bias, float *C,
                 int ldc);

/* gemm with op(A) (M,K) given in place by rows and offsets: element
 * (i, k) is rows[i][koff[k]] (im2col's columns as rows of an input, read
 * where they are). The same sums, in the same order, as gemm with that A
 * (but for gemm's dot-product path). bsum: NULL, or N floats, bsum[j] +=
 * op(B)[0][j] + op(B)[1][j] + ... in k order (a bias gradient, taken
 * while op(B) is packed). */
void gemm_rows(int M, int N, int K, const float *const *rows, const int32_t *koff, int trans_b,
               const float *B, int ldb, int accumulate, float *bsum, float *C, int ldc);

/* Plain triple loop with the same contract, for tests. */
void gemm_reference(int trans_a, int trans_b, int M, int N, int K,
                    const float *A, int lda, const float *B, int ldb,
                    int accumulate, float *C, int ldc);

#endif
