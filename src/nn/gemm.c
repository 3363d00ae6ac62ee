/* gemm.c: packed, cache-blocked single-precision gemm.
 *
 * C (M,N) = [C +] op(A) (M,K) * op(B) (K,N), row-major.
 *
 * C is cut into units of whole column panels (and of row tiles when there
 * are fewer panels than threads); each unit belongs to one thread:
 *   for each group of up to NC columns of the unit:
 *     for each depth block of at most KC_MAX (sizes fixed by K alone):
 *       pack op(B) into NR-wide panels (k-major, zero padded, private to
 *         the thread, so no barrier anywhere);
 *       for each MR-row tile: pack op(A) (MR interleaved), then one
 *         micro-kernel call per panel adds the tile's partial sum to C.
 * Each element of C is therefore summed as C + p1 + p2 + ..., each partial
 * p_i over its k in increasing order: the same bits for any thread count,
 * any split into units, any order of units. Threads share tiles of C,
 * never a k range.
 *
 * gemm_packed takes op(B)'s panels from the caller's packer instead, and
 * gemm_rows broadcasts op(A) from where it lies (row pointers and k
 * offsets) instead of packing it: both keep every sum above.
 *
 * A second path for C = A B^T with a tiny C and a very long K (the weight
 * gradient of a layer with one input channel) keeps vectors along k
 * instead; see gemm_dot. */
#include "nn/gemm.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

enum {
    MR = 8,          /* rows of a micro-tile */
    NR = GEMM_NR,    /* columns of a micro-tile = width of a packed panel */
    KC_MAX = 256,    /* depth block: a packed panel (KC*NR floats) fits L1 */
    NC = 1024,       /* column block: the packed block (KC*NC floats) fits L2 */
};

/* GCC vector extensions (not intrinsics): every clone compiles them, each
 * to its own register width. */
typedef float v16f __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4), may_alias));

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_CLONES 1
#define TARGET_V4 __attribute__((target("arch=x86-64-v4")))
#define TARGET_V3 __attribute__((target("arch=x86-64-v3")))
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define HAVE_CLONES 0
#define CLONES
#endif

/* ---------------------------------------------------------------------------
 * Reference */

void gemm_reference(int trans_a, int trans_b, int M, int N, int K,
                    const float *A, int lda, const float *B, int ldb,
                    int accumulate, float *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = 0;
            for (int k = 0; k < K; k++) {
                float a = trans_a ? A[(long)k * lda + i] : A[(long)i * lda + k];
                float b = trans_b ? B[(long)j * ldb + k] : B[(long)k * ldb + j];
                s += a * b;
            }
            float *c = &C[(long)i * ldc + j];
            *c = accumulate ? *c + s : s;
        }
}

/* ---------------------------------------------------------------------------
 * Packing buffer: one per thread, allocated on its first gemm, kept for the
 * thread's life (no malloc per call) and freed when the thread exits. */

static pthread_key_t buf_key;
static pthread_once_t buf_once = PTHREAD_ONCE_INIT;
static _Thread_local float *buf_mine;

static void buf_free(void *p) { free(p); }
static void buf_key_init(void) { (void)pthread_key_create(&buf_key, buf_free); }

static float *pack_buffer(void)
{
    if (!buf_mine) {
        (void)pthread_once(&buf_once, buf_key_init);
        buf_mine = aligned_alloc(64, (size_t)KC_MAX * NC * sizeof(float));
        if (buf_mine)
            (void)pthread_setspecific(buf_key, buf_mine);
    }
    return buf_mine;
}

/* ---------------------------------------------------------------------------
 * Packing of op(B): panel element (k, j) goes to dst[k*NR + j]. */

/* B row-major (K,N): panels p0.. of a column group, nc columns from b.
 * Row by row over the whole group, so that reads run along a k row
 * (one long stream per row) instead of hopping a page per panel row. */
CLONES static void pack_rows(float *restrict dst, const float *restrict b,
                             long ldb, int kc, int nc)
{
    const int np = (nc + NR - 1) / NR, full = nc / NR;
    for (int k = 0; k < kc; k++) {
        const float *s = b + k * ldb;
        for (int p = 0; p < full; p++) {
            float *d = dst + ((long)p * kc + k) * NR;
            for (int j = 0; j < NR; j++)
                d[j] = s[p * NR + j];
        }
        if (full < np) {
            float *d = dst + ((long)full * kc + k) * NR;
            for (int j = 0; j < NR; j++)
                d[j] = full * NR + j < nc ? s[full * NR + j] : 0.0f;
        }
    }
}

typedef int v16i __attribute__((vector_size(64)));

/* In-register transpose of 16 rows of 16: four rounds of interleaving row
 * i with row i+8 (a perfect shuffle) transpose the block. */
static inline __attribute__((always_inline)) void transpose16(v16f r[16])
{
    const v16i lo = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23};
    const v16i hi = {8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
    for (int round = 0; round < 4; round++) {
        v16f t[16];
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) {
            t[2 * i] = __builtin_shuffle(r[i], r[i + 8], lo);
            t[2 * i + 1] = __builtin_shuffle(r[i], r[i + 8], hi);
        }
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++)
            r[i] = t[i];
    }
}

/* B stored (N,K): the panel is a transpose, done 16x16 in registers. */
CLONES static void pack_cols(float *restrict dst, const float *restrict b,
                             long ldb, int kc, int nr)
{
    const int k16 = kc / 16 * 16, j16 = nr / 16 * 16;
    for (int j0 = 0; j0 < j16; j0 += 16)
        for (int k0 = 0; k0 < k16; k0 += 16) {
            v16f r[16];
#pragma GCC unroll 16
            for (int j = 0; j < 16; j++)
                r[j] = *(const v16u *)(b + (j0 + j) * ldb + k0);
            transpose16(r);
#pragma GCC unroll 16
            for (int k = 0; k < 16; k++)
                *(v16f *)(dst + (k0 + k) * NR + j0) = r[k];
        }
    for (int k = 0; k < kc; k++) {
        for (int j = k < k16 ? j16 : 0; j < nr; j++)
            dst[k * NR + j] = b[j * ldb + k];
        for (int j = nr; j < NR; j++)
            dst[k * NR + j] = 0;
    }
}

/* ---------------------------------------------------------------------------
 * Micro-kernel: tile (MR,NR) of C = [C +] sum_k a[k*MR + i] * p[k*NR + j],
 * both operands packed. The tile is computed as sub-tiles of SR rows by SV
 * vectors of 16 floats so that the accumulators fit the registers of each
 * instruction set; every element is summed in k order either way. */

static inline __attribute__((always_inline)) void
kernel_body(const int SR, const int SV, long kc, const float *restrict q,
            const float *restrict p, float *restrict c, long ldc, int add)
{
    for (int r0 = 0; r0 < MR; r0 += SR)
        for (int v0 = 0; v0 < NR / 16; v0 += SV) {
            v16f acc[MR][NR / 16];
#pragma GCC unroll 8
            for (int r = 0; r < SR; r++)
#pragma GCC unroll 2
                for (int v = 0; v < SV; v++)
                    acc[r][v] = (v16f){0};
            const float *qk = q + r0;
            const float *pk = p + v0 * 16;
#pragma GCC unroll 2
            for (long k = 0; k < kc; k++) {
                v16f b[NR / 16];
#pragma GCC unroll 2
                for (int v = 0; v < SV; v++)
                    b[v] = *(const v16f *)(pk + v * 16);
#pragma GCC unroll 8
                for (int r = 0; r < SR; r++) {
                    float a = qk[r];
#pragma GCC unroll 2
                    for (int v = 0; v < SV; v++)
                        acc[r][v] += a * b[v];
                }
                qk += MR;
                pk += NR;
            }
#pragma GCC unroll 8
            for (int r = 0; r < SR; r++)
#pragma GCC unroll 2
                for (int v = 0; v < SV; v++) {
                    v16u *d = (v16u *)(c + (r0 + r) * ldc + (v0 + v) * 16);
                    v16f x = acc[r][v];
                    if (add)
                        x += *d;
                    *d = x;
                }
        }
}

typedef void kernel_fn(long kc, const float *q, const float *p, float *c,
                       long ldc, int add);

#if HAVE_CLONES
TARGET_V4 static void kernel_v4(long kc, const float *q, const float *p,
                                float *c, long ldc, int add)
{
    kernel_body(8, 2, kc, q, p, c, ldc, add);  /* 16 zmm acc */
}

TARGET_V3 static void kernel_v3(long kc, const float *q, const float *p,
                                float *c, long ldc, int add)
{
    kernel_body(4, 1, kc, q, p, c, ldc, add);  /* 8 ymm acc */
}
#endif

static void kernel_v1(long kc, const float *q, const float *p, float *c,
                      long ldc, int add)
{
    kernel_body(2, 1, kc, q, p, c, ldc, add);  /* 8 xmm acc */
}

static kernel_fn *pick_kernel(void)
{
#if HAVE_CLONES
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4"))
        return kernel_v4;
    if (__builtin_cpu_supports("x86-64-v3"))
        return kernel_v3;
#endif
    return kernel_v1;
}

/* The same tile with op(A) read in place: element (i, k) is
 * rows[i][koff[k]] (an im2col whose rows the caller names), broadcast
 * straight from there instead of from a packed tile. */
static inline __attribute__((always_inline)) void
kernel_rows_body(const int SR, const int SV, long kc, const float *const *rows,
                 const int32_t *restrict koff, const float *restrict p, float *restrict c,
                 long ldc, int add)
{
    for (int r0 = 0; r0 < MR; r0 += SR)
        for (int v0 = 0; v0 < NR / 16; v0 += SV) {
            v16f acc[MR][NR / 16];
            const float *rp[MR];
#pragma GCC unroll 8
            for (int r = 0; r < SR; r++) {
                rp[r] = rows[r0 + r];
#pragma GCC unroll 2
                for (int v = 0; v < SV; v++)
                    acc[r][v] = (v16f){0};
            }
            const float *pk = p + v0 * 16;
            for (long k = 0; k < kc; k++) {
                const long o = koff[k];
                v16f b[NR / 16];
#pragma GCC unroll 2
                for (int v = 0; v < SV; v++)
                    b[v] = *(const v16f *)(pk + v * 16);
#pragma GCC unroll 8
                for (int r = 0; r < SR; r++) {
                    float a = rp[r][o];
#pragma GCC unroll 2
                    for (int v = 0; v < SV; v++)
                        acc[r][v] += a * b[v];
                }
                pk += NR;
            }
#pragma GCC unroll 8
            for (int r = 0; r < SR; r++)
#pragma GCC unroll 2
                for (int v = 0; v < SV; v++) {
                    v16u *d = (v16u *)(c + (r0 + r) * ldc + (v0 + v) * 16);
                    v16f x = acc[r][v];
                    if (add)
                        x += *d;
                    *d = x;
                }
        }
}

typedef void kernel_rows_fn(long kc, const float *const *rows, const int32_t *koff,
                            const float *p, float *c, long ldc, int add);

#if HAVE_CLONES
TARGET_V4 static void kernel_rows_v4(long kc, const float *const *rows, const int32_t *koff,
                                     const float *p, float *c, long ldc, int add)
{
    kernel_rows_body(8, 2, kc, rows, koff, p, c, ldc, add);
}

TARGET_V3 static void kernel_rows_v3(long kc, const float *const *rows, const int32_t *koff,
                                     const float *p, float *c, long ldc, int add)
{
    kernel_rows_body(4, 1, kc, rows, koff, p, c, ldc, add);
}
#endif

static void kernel_rows_v1(long kc, const float *const *rows, const int32_t *koff,
                           const float *p, float *c, long ldc, int add)
{
    kernel_rows_body(2, 1, kc, rows, koff, p, c, ldc, add);
}

static kernel_rows_fn *pick_kernel_rows(void)
{
#if HAVE_CLONES
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4"))
        return kernel_rows_v4;
    if (__builtin_cpu_supports("x86-64-v3"))
        return kernel_rows_v3;
#endif
    return kernel_rows_v1;
}

/* Two row tiles of op(A), rows [0, m) of q (strides q_rs, q_cs), packed as
 * d0[k*MR + i] (rows 0..7) and d1[k*MR + i] (rows 8..15), rows past m
 * zero: the micro-kernel's broadcasts then come from one cache line per
 * two k. Rows of A in memory (q_cs == 1) are transposed 16x16 in registers. */
CLONES static void pack_a(float *restrict d0, float *restrict d1,
                          const float *restrict q, long q_rs, long q_cs, int m,
                          int kc)
{
    int k = 0;
    if (q_cs == 1) {
        static const float zeros[16];
        for (; k + 16 <= kc; k += 16) {
            v16f r[16];
#pragma GCC unroll 16
            for (int i = 0; i < 16; i++)
                r[i] = *(const v16u *)(i < m ? q + i * q_rs + k : zeros);
            transpose16(r);
#pragma GCC unroll 16
            for (int j = 0; j < 16; j++) {
                memcpy(d0 + (k + j) * MR, &r[j], MR * sizeof(float));
                memcpy(d1 + (k + j) * MR, (const float *)&r[j] + MR, MR * sizeof(float));
            }
        }
    }
    if (q_rs == 1 && m == 2 * MR)   /* op(A) = A^T: 16 floats per k */
        for (; k < kc; k++) {
            memcpy(d0 + k * MR, q + k * q_cs, MR * sizeof(float));
            memcpy(d1 + k * MR, q + k * q_cs + MR, MR * sizeof(float));
        }
    for (; k < kc; k++)
        for (int i = 0; i < 2 * MR; i++) {
            float v = i < m ? q[i * q_rs + k * q_cs] : 0.0f;
            if (i < MR)
                d0[k * MR + i] = v;
            else
                d1[k * MR + i - MR] = v;
        }
}

typedef struct gemm_job gemm_job;

/* One tile at (i0, j0) from a packed row tile qp, or from rows (when the
 * job's op(A) is given by rows, qp NULL) over depth [k0, k0 + kc);
 * columns past N are computed and dropped, as are the rows past M. */
static void do_tile(const gemm_job *g, int i0, int j0, int k0, int kc, const float *qp,
                    const float *panel, int add);

/* ---------------------------------------------------------------------------
 * Dot path: C (M,N) [+]= A (M,K) B^T, B stored (N,K), both rows contiguous
 * in k. Lane l of an accumulator sums k = l mod 16 within each depth block;
 * the lanes are then added in a fixed tree and the block sums in block
 * order. Threads own whole tiles of C for the entire K. */

enum { DT = 4, DKC = 4096 };   /* tile DT x DT of C, depth block */

static inline __attribute__((always_inline)) float hsum16(const v16f *pv)
{
    /* fixed pairwise order, the same in every clone */
    v16f v = *pv;
    float s8[8], s4[4], s2[2];
    for (int i = 0; i < 8; i++)
        s8[i] = v[i] + v[i + 8];
    for (int i = 0; i < 4; i++)
        s4[i] = s8[i] + s8[i + 4];
    for (int i = 0; i < 2; i++)
        s2[i] = s4[i] + s4[i + 2];
    return s2[0] + s2[1];
}

/* Sums of rows a[0..3] . b[0..3] over kc (a multiple of 16) into s[4][4]. */
static inline __attribute__((always_inline)) void
dot_body(long kc, const float *const a[DT], const float *const b[DT],
         float s[DT][DT])
{
    v16f acc[DT][DT];
#pragma GCC unroll 4
    for (int i = 0; i < DT; i++)
#pragma GCC unroll 4
        for (int j = 0; j < DT; j++)
            acc[i][j] = (v16f){0};
    for (long k = 0; k < kc; k += 16) {
        v16f va[DT];
#pragma GCC unroll 4
        for (int i = 0; i < DT; i++)
            va[i] = *(const v16u *)(a[i] + k);
#pragma GCC unroll 4
        for (int j = 0; j < DT; j++) {
            v16f vb = *(const v16u *)(b[j] + k);
#pragma GCC unroll 4
            for (int i = 0; i < DT; i++)
                acc[i][j] += va[i] * vb;
        }
    }
    for (int i = 0; i < DT; i++)
        for (int j = 0; j < DT; j++)
            s[i][j] = hsum16(&acc[i][j]);
}

typedef void dot_fn(long kc, const float *const a[DT], const float *const b[DT],
                    float s[DT][DT]);

#if HAVE_CLONES
TARGET_V4 static void dot_v4(long kc, const float *const a[DT],
                             const float *const b[DT], float s[DT][DT])
{
    dot_body(kc, a, b, s);
}
TARGET_V3 static void dot_v3(long kc, const float *const a[DT],
                             const float *const b[DT], float s[DT][DT])
{
    dot_body(kc, a, b, s);
}
#endif
static void dot_v1(long kc, const float *const a[DT], const float *const b[DT],
                   float s[DT][DT])
{
    dot_body(kc, a, b, s);
}

static dot_fn *pick_dot(void)
{
#if HAVE_CLONES
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4"))
        return dot_v4;
    if (__builtin_cpu_supports("x86-64-v3"))
        return dot_v3;
#endif
    return dot_v1;
}

static void gemm_dot(int M, int N, int K, const float *A, long lda,
                     const float *B, long ldb, int accumulate, float *C,
                     long ldc)
{
    dot_fn *dot = pick_dot();
    const int tn = (N + DT - 1) / DT, ntiles = (M + DT - 1) / DT * tn;
    const long kv = (long)K / 16 * 16;
    int serial = 2.0 * M * N * K < 4e6;
#ifdef _OPENMP
    serial = serial || omp_in_parallel();
#endif

    /* k blocks outside, tiles inside: a block of A and B stays in cache
     * while every tile reads it. C holds the running sums. Every k block
     * gives each thread the same tiles (static schedule, same count), so
     * no barrier is needed between blocks. */
#pragma omp parallel if (!serial)
    for (long k0 = 0; k0 < K; k0 += DKC) {
        const long kc = kv - k0 < DKC ? kv - k0 : DKC;
        const int last = k0 + DKC >= K;
#pragma omp for schedule(static) nowait
        for (int t = 0; t < ntiles; t++) {
            int i0 = t / tn * DT, j0 = t % tn * DT;
            /* rows past the edge repeat the last row; their sums are dropped */
            const float *a[DT], *b[DT];
            for (int i = 0; i < DT; i++)
                a[i] = A + (i0 + i < M ? i0 + i : M - 1) * lda + k0;
            for (int j = 0; j < DT; j++)
                b[j] = B + (j0 + j < N ? j0 + j : N - 1) * ldb + k0;
            float s[DT][DT] = {{0}};
            if (kc > 0)
                dot(kc, a, b, s);
            for (int i = 0; i < DT && i0 + i < M; i++)
                for (int j = 0; j < DT && j0 + j < N; j++) {
                    float *c = &C[(long)(i0 + i) * ldc + j0 + j];
                    float v = accumulate || k0 > 0 ? *c + s[i][j] : s[i][j];
                    if (last)   /* the k % 16 tail, in k order */
                        for (long k = kc; k < K - k0; k++)
                            v += a[i][k] * b[j][k];
                    *c = v;
                }
        }
    }
}

/* ---------------------------------------------------------------------------
 * Driver */

struct gemm_job {
    int trans_b, M, N, K, accumulate, kcb;
    const float *A, *B;
    long q_rs, q_cs, ldb, ldc;
    float *C;
    kernel_fn *kern;
    gemm_pack_fn *pack;   /* op(B) from the caller's packer, or NULL */
    void *ctx;
    const float *const *rows;   /* op(A) as in gemm_rows, or NULL */
    const int32_t *koff;
    kernel_rows_fn *kern_rows;
    const float *bias;   /* added to C's rows after the whole sum, or NULL */
    float *bsum;         /* += the column sums of op(B), or NULL */
};

/* c[i][0..nr) += bias[i] for the mr rows of a finished tile. */
CLONES static void add_row_bias(float *restrict c, long ldc, const float *restrict bias, int mr,
                                int nr)
{
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++)
            c[i * ldc + j] += bias[i];
}

/* sum[0..nr) += the panel's rows 0, 1, ..., kc-1, each column in k order. */
CLONES static void panel_col_sums(float *restrict sum, const float *restrict panel, int kc,
                                  int nr)
{
    float s[NR];
    for (int j = 0; j < NR; j++)
        s[j] = j < nr ? sum[j] : 0.0f;
    for (int k = 0; k < kc; k++)
        for (int j = 0; j < NR; j++)
            s[j] += panel[k * NR + j];
    for (int j = 0; j < nr; j++)
        sum[j] = s[j];
}

static void do_tile(const gemm_job *g, int i0, int j0, int k0, int kc, const float *qp,
                    const float *panel, int add)
{
    const int mr = g->M - i0 < MR ? g->M - i0 : MR;
    const int nr = g->N - j0 < NR ? g->N - j0 : NR;
    const long ldc = g->ldc;
    float *ct = g->C + i0 * ldc + j0;
    float tile[MR * NR] __attribute__((aligned(64)));
    const int whole = mr == MR && nr == NR;
    float *c = whole ? ct : tile;
    if (qp) {
        g->kern(kc, qp, panel, c, whole ? ldc : NR, whole && add);
    } else {
        const float *rp[MR];   /* rows past M repeat the last */
        for (int i = 0; i < MR; i++)
            rp[i] = g->rows[i0 + (i < mr ? i : mr - 1)];
        g->kern_rows(kc, rp, g->koff + k0, panel, c, whole ? ldc : NR, whole && add);
    }
    if (!whole)
        for (int i = 0; i < mr; i++)
            for (int j = 0; j < nr; j++)
                ct[i * ldc + j] = add ? ct[i * ldc + j] + tile[i * NR + j] : tile[i * NR + j];
    if (g->bias && k0 + kc == g->K)   /* while the tile is in L1 */
        add_row_bias(ct, ldc, g->bias + i0, mr, nr);
}

/* Rows [i0, i1) and panels [p0, p1) of C: the packed panels are private to
 * the thread, so no barrier is needed anywhere. */
static void gemm_part(const gemm_job *g, float *buf, int gp, int i0, int i1,
                      int p0, int p1)
{
    const int M = g->M, N = g->N, K = g->K;
    for (int pg = p0; pg < p1; pg += gp) {
        const int pe = p1 - pg < gp ? p1 : pg + gp;
        for (int pc = 0; pc < K; pc += g->kcb) {
            const int kc = K - pc < g->kcb ? K - pc : g->kcb;
            const int add = g->accumulate || pc > 0;
            if (g->pack)
                g->pack(g->ctx, buf, pc, kc, pg * NR, (N < pe * NR ? N : pe * NR) - pg * NR);
            else if (g->trans_b)
                for (int p = pg; p < pe; p++) {
                    int nr = N - p * NR < NR ? N - p * NR : NR;
                    pack_cols(buf + (long)(p - pg) * kc * NR,
                              g->B + (long)p * NR * g->ldb + pc, g->ldb, kc, nr);
                }
            else {
                int nc = (N < pe * NR ? N : pe * NR) - pg * NR;
                pack_rows(buf, g->B + (long)pc * g->ldb + pg * NR, g->ldb, kc, nc);
            }
            if (g->bsum && i0 == 0)   /* one unit sums each column */
                for (int p = pg; p < pe; p++)
                    panel_col_sums(g->bsum + p * NR, buf + (long)(p - pg) * kc * NR, kc,
                                   N - p * NR < NR ? N - p * NR : NR);
            /* rows outside, panels inside: the packed row tile of A stays
             * in L1, the packed group in L2, and C is written along its
             * rows */
            if (g->rows) {
                for (int i = i0; i < i1; i += MR)
                    for (int p = pg; p < pe; p++)
                        do_tile(g, i, p * NR, pc, kc, NULL, buf + (long)(p - pg) * kc * NR,
                                add);
                continue;
            }
            const float *q = g->A + pc * g->q_cs;
            float qp[2][MR * KC_MAX] __attribute__((aligned(64)));
            for (int i = i0; i < i1; i += 2 * MR) {
                pack_a(qp[0], qp[1], q + i * g->q_rs, g->q_rs, g->q_cs,
                       M - i < 2 * MR ? M - i : 2 * MR, kc);
                for (int t = 0; t < 2 && i + t * MR < i1; t++)
                    for (int p = pg; p < pe; p++)
                        do_tile(g, i + t * MR, p * NR, pc, kc, qp[t],
                                buf + (long)(p - pg) * kc * NR, add);
            }
        }
    }
}

/* C = 0 for an empty sum, when not accumulating; 1 when there is nothing
 * else to do. */
static int gemm_trivial(int M, int N, int K, int accumulate, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return 1;
    if (K > 0)
        return 0;
    if (!accumulate)
        for (int i = 0; i < M; i++)
            memset(C + (long)i * ldc, 0, (size_t)N * sizeof(float));
    return 1;
}

/* The job's fields that depend on the shape alone. Depth blocks of
 * near-equal size, fixed by K alone: they decide the order of the sums, so
 * nothing about threads may change them. */
static gemm_job gemm_setup(int trans_a, int M, int N, int K, const float *A,
                           int lda, int accumulate, float *C, int ldc)
{
    const int nkb = (K + KC_MAX - 1) / KC_MAX;
    return (gemm_job){
        .M = M, .N = N, .K = K, .accumulate = accumulate,
        .kcb = (K + nkb - 1) / nkb, .A = A,
        .q_rs = trans_a ? 1 : lda, .q_cs = trans_a ? lda : 1,
        .ldc = ldc, .C = C, .kern = pick_kernel(),
    };
}

/* Splits C into units and runs them: units of whole panels, or units of
 * row tiles when C has no more columns than rows or fewer panels than
 * threads. A unit of panels packs every row tile of A for its few panels;
 * a unit of rows packs B's panels once and runs each packed tile of A
 * along all of them (dense layers' 250-column products ran 1.5x, not
 * 1.8x, faster on 2 threads split by columns). How the units fall does
 * not change any sum, only the speed. */
static void gemm_run(const gemm_job *g)
{
    const int M = g->M, N = g->N, K = g->K;
    const int np = (N + NR - 1) / NR, nmt = (M + MR - 1) / MR;
    /* small products, and calls from inside a parallel region (a conv
     * layer hands whole chunks to threads), run on the calling thread */
    int serial = 2.0 * M * N * K < 4e6;
    int nt = 1;
#ifdef _OPENMP
    serial = serial || omp_in_parallel();
    if (!serial)
        nt = omp_get_max_threads();
#endif
    int ncu, nru = 1;
    if (N <= M && nmt >= nt) {
        ncu = 1;
        nru = nt;
    } else if (np >= nt) {
        ncu = (np + NC / NR - 1) / (NC / NR);
        ncu = ncu < nt ? nt : ncu;
    } else {
        ncu = np;
        nru = (nt + np - 1) / np;
        nru = nru > nmt ? nmt : nru;
    }
    const int units = ncu * nru;
#pragma omp parallel for schedule(dynamic, 1) if (!serial && units > 1)
    for (int u = 0; u < units; u++) {
        float *buf = pack_buffer();
        int cu = u / nru, ru = u % nru;
        int p0 = (int)((long)cu * np / ncu), p1 = (int)((long)(cu + 1) * np / ncu);
        int i0 = (int)((long)ru * nmt / nru) * MR;
        int i1 = (int)((long)(ru + 1) * nmt / nru) * MR;
        if (i1 > M)
            i1 = M;
        if (buf) {
            gemm_part(g, buf, NC / NR, i0, i1, p0, p1);
        } else {   /* no memory for a packing buffer: one panel at a time
                    * (slower, the same sums) */
            float panel[KC_MAX * NR] __attribute__((aligned(64)));
            gemm_part(g, panel, 1, i0, i1, p0, p1);
        }
    }
}

void gemm(int trans_a, int trans_b, int M, int N, int K,
          const float *A, int lda, const float *B, int ldb,
          int accumulate, float *C, int ldc)
{
    if (gemm_trivial(M, N, K, accumulate, C, ldc))
        return;
    /* A tiny C with a long K: vectors along k beat padded tiles. */
    if (!trans_a && trans_b && K >= 4 * DKC && (M < MR || N < 16)) {
        gemm_dot(M, N, K, A, lda, B, ldb, accumulate, C, ldc);
        return;
    }
    gemm_job g = gemm_setup(trans_a, M, N, K, A, lda, accumulate, C, ldc);
    g.trans_b = trans_b, g.B = B, g.ldb = ldb;
    gemm_run(&g);
}

void gemm_packed(int trans_a, int M, int N, int K, const float *A, int lda,
                 gemm_pack_fn *pack, void *ctx, int accumulate, const float *bias, float *C,
                 int ldc)
{
    if (gemm_trivial(M, N, K, accumulate, C, ldc)) {
        for (int i = 0; bias && i < M && N > 0; i++)   /* K = 0 */
            add_row_bias(C + (long)i * ldc, 0, bias + i, 1, N);
        return;
    }
    gemm_job g = gemm_setup(trans_a, M, N, K, A, lda, accumulate, C, ldc);
    g.pack = pack, g.ctx = ctx, g.bias = bias;
    gemm_run(&g);
}

void gemm_rows(int M, int N, int K, const float *const *rows, const int32_t *koff, int trans_b,
               const float *B, int ldb, int accumulate, float *bsum, float *C, int ldc)
{
    if (gemm_trivial(M, N, K, accumulate, C, ldc))
        return;
    gemm_job g = gemm_setup(0, M, N, K, NULL, 0, accumulate, C, ldc);
    g.trans_b = trans_b, g.B = B, g.ldb = ldb;
    g.rows = rows, g.koff = koff, g.kern_rows = pick_kernel_rows(), g.bsum = bsum;
    gemm_run(&g);
}
