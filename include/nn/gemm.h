/* gemm.h: the one matrix product every layer is built on.
 *
 * Deterministic: each element of C is summed over k in one fixed order that
 * does not depend on the thread count, so results are bit-identical with 1,
 * 2 or 3 OpenMP threads. Parallel over tiles of C, never over k. */
#ifndef SWEEP_GEMM_H
#define SWEEP_GEMM_H

/* C (M,N) = [C +] op(A) (M,K) * op(B) (K,N), all row-major.
 * trans_a: A is stored (K,M) with leading dimension lda; else (M,K).
 * trans_b: B is stored (N,K) with leading dimension ldb; else (K,N).
 * accumulate: add into C instead of overwriting it. */
void gemm(int trans_a, int trans_b, int M, int N, int K,
          const float *A, int lda, const float *B, int ldb,
          int accumulate, float *C, int ldc);

/* Plain triple loop with the same contract, for tests. */
void gemm_reference(int trans_a, int trans_b, int M, int N, int K,
                    const float *A, int lda, const float *B, int ldb,
                    int accumulate, float *C, int ldc);

#endif
