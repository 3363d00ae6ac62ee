/* conv_block.c: the first conv block fused for training (conv_block.h).
 *
 * The batch is cut into groups of G images, G fixed by the shape so that a
 * group's conv output (OC x G x OH x OW) is about a quarter of a 1 MB L2.
 * A thread does a group whole in its own slot of scratch:
 *   forward:  col of the group (K x pixels, from the saved input), the
 *             small-K product into the slot (OC x pixels), then per
 *             channel the activation and the pool into the outputs;
 *   backward: the pooled gradient unpooled into the slot, col rebuilt,
 *             and the group's dW (OC x K) and db (OC) into its own
 *             partial; the partials are added in group order at the end.
 * Slot rows (ld floats) are the group's pixels rounded up to 16, the tail
 * zero in backward, so that every vector is whole. Nothing sums across
 * pixels in forward, so each output has the bits of the unfused path
 * (conv_forward, then the pool.c pass), whatever the thread count.
 *
 * With batch norm (its steps from batchnorm.h, so the maths is its own):
 *   forward:  a first pass over the groups takes each group's sums of
 *             col and of its rows' products into the group's partial (in
 *             the space of the backward's dW partials), added in group
 *             order into col's mean and covariance, from which each
 *             channel's batch mean and variance follow (bn_statistics);
 *             the second pass is the one above with the conv output
 *             normalised, channel by channel, into a spare row, and the
 *             conv output at the pool's winners kept (xw);
 *   backward: the sums over the winners (dy is 0 elsewhere) give each
 *             channel's dgamma, dbeta and dx coefficients first; then the
 *             groups take dy (col - mean)^T as without batch norm, and
 *             col's covariance turns it into dW (bn_weight_grads). */
#include "nn/conv_block.h"

#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "nn/batchnorm.h"
#include "nn/conv.h"
#include "nn/dropout.h"
#include "nn/pool.h"

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

enum {
    GROUP_FLOATS = 1 << 16,   /* conv output floats per group: 256 KB */
    MAX_WORKERS = 1024,
};

typedef float v16f __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4), may_alias));
typedef int v16i __attribute__((vector_size(64)));

/* ---------------------------------------------------------------------- */
/* The small-K direct product (conv_forward's too).                       */

/* out[o][0..n) (row stride ldo) = bias[o] + sum_k w[o][k] col[k][0..n),
 * taps added in order: for a tiny K (the first layer) one pass over the
 * pixels beats packing for a gemm, and the bias rides along. K is a
 * multiple of 9. Vectors of 16 pixels keep 9 rows of col in registers
 * while every output channel is formed from them. */
static inline __attribute__((always_inline)) void
small_k_body(float *restrict out, long ldo, const float *restrict col, long ldc,
             const float *restrict w, const float *restrict bias, int K, int OC,
             long n, int vec)
{
    long i = 0;
    for (; vec && i + 16 <= n; i += 16)
        for (int k0 = 0; k0 < K; k0 += 9) {
            v16f x[9];
#pragma GCC unroll 9
            for (int t = 0; t < 9; t++)
                x[t] = *(const v16u *)(col + (k0 + t) * ldc + i);
            for (int o = 0; o < OC; o++) {
                v16u *d = (v16u *)(out + o * ldo + i);
                v16f acc = {0};
                if (k0)
                    acc = *d;
                else
                    acc += bias[o];
                const float *wo = w + o * K + k0;
#pragma GCC unroll 9
                for (int t = 0; t < 9; t++)
                    acc += wo[t] * x[t];
                *d = acc;
            }
        }
    if (vec && i < n) {
        /* the last pixels through the same vector code (zero padded), so
         * that a pixel gets the same bits wherever a chunk ends */
        float xt[CONV_BLOCK_MAX_K][16] __attribute__((aligned(64)));
        for (int k = 0; k < K; k++)
            for (int l = 0; l < 16; l++)
                xt[k][l] = i + l < n ? col[k * ldc + i + l] : 0.0f;
        for (int o = 0; o < OC; o++) {
            v16f acc = {0};
            acc += bias[o];
            for (int k = 0; k < K; k++)
                acc += w[o * K + k] * *(const v16f *)xt[k];
            float lanes[16];
            *(v16u *)lanes = acc;
            for (int l = 0; i + l < n; l++)
                out[o * ldo + i + l] = lanes[l];
        }
        return;
    }
    for (; i < n; i++)   /* without vectors */
        for (int o = 0; o < OC; o++) {
            float acc = bias[o];
            for (int k = 0; k < K; k++)
                acc += w[o * K + k] * col[k * ldc + i];
            out[o * ldo + i] = acc;
        }
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("arch=x86-64-v4"))) static void
small_k_v4(float *out, long ldo, const float *col, long ldc, const float *w,
           const float *bias, int K, int OC, long n)
{
    small_k_body(out, ldo, col, ldc, w, bias, K, OC, n, 1);
}
#endif

void conv_small_k(float *out, long ldo, const float *col, long ldc, const float *w,
                  const float *bias, int K, int OC, long n)
{
#if defined(__x86_64__) || defined(__i386__)
    if (__builtin_cpu_supports("x86-64-v4"))
        return small_k_v4(out, ldo, col, ldc, w, bias, K, OC, n);
#endif
    small_k_body(out, ldo, col, ldc, w, bias, K, OC, n, 0);
}


/* ---------------------------------------------------------------------- */
/* Groups and scratch.                                                    */

int conv_block_group(int OC, int OH, int OW, int B)
{
    long per = (long)OC * OH * OW;
    long g = GROUP_FLOATS / (per > 0 ? per : 1);
    g = g < 1 ? 1 : g;
    return g < B ? (int)g : (B > 0 ? B : 1);
}

/* Floats of a slot row: a group's pixels rounded up to whole vectors. */
static long group_ld(int G, int OH, int OW)
{
    return ((long)G * OH * OW + 15) & ~15L;
}

/* Doubles of col's moments (batch norm's statistics): K sums, then the
 * K x K sums of products. */
long conv_block_bn_moments(int IC)
{
    const long K = IC * 9L;
    return K + K * K;
}

/* Floats of one group's partial: dW (OC*K), then db (OC); with batch norm
 * at least the forward's moments of col, in doubles. */
static long part_floats(int K, int OC, int bn)
{
    const long dw = (long)OC * (K + 1), mom = bn ? 2 * conv_block_bn_moments(K / 9) : 0;
    return dw > mom ? dw : mom;
}

/* Floats of the groups' partials, whole vectors. */
static long parts_dw(int B, int G, int K, int OC, int bn)
{
    long groups = (B + G - 1) / G;
    return (groups * part_floats(K, OC, bn) + 15) & ~15L;
}

/* With batch norm 6*OC more after the partials: the channels' gradient
 * coefficients (4 floats each), then their sums of dy (doubles). */
static long parts_floats(int B, int G, int K, int OC, int bn)
{
    return parts_dw(B, G, K, OC, bn) + (bn ? (6L * OC + 15) & ~15L : 0);
}

/* Rows of a slot: conv output or gradient (OC), col (K), post (1), and
 * with batch norm one more (forward: one channel's normalised row). */
static long slot_rows(int K, int OC, int bn)
{
    return OC + K + 1 + (bn ? 1 : 0);
}

/* A slot: its rows, then the group's pooled outputs (forward: pooled,
 * pooled_pre, argmax; backward: the pooled gradient and argmax) as OC runs
 * of G*PH*PW each, whole vectors each. */
static long slot_floats(int K, int OC, int G, int OH, int OW, int bn)
{
    const long runs = (long)OC * G * (OH / 2) * (OW / 2);
    return slot_rows(K, OC, bn) * group_ld(G, OH, OW) + 2 * ((runs + 15) & ~15L) +
           ((runs / 4 + 16) & ~15L);
}

long conv_block_scratch(int workers, int B, int IC, int OH, int OW, int OC, int bn)
{
    const int K = IC * 9, G = conv_block_group(OC, OH, OW, B);
    return parts_floats(B, G, K, OC, bn) + workers * slot_floats(K, OC, G, OH, OW, bn);
}

int conv_block_workers(long scratch_n, int B, int IC, int OH, int OW, int OC, int bn)
{
    const int K = IC * 9, G = conv_block_group(OC, OH, OW, B);
    if (K > CONV_BLOCK_MAX_K || B < 1)
        return 0;
    long room = scratch_n - parts_floats(B, G, K, OC, bn);
    long w = room / slot_floats(K, OC, G, OH, OW, bn);
    return w < 0 ? 0 : w > MAX_WORKERS ? MAX_WORKERS : (int)w;
}

/* Threads for a parallel region over the groups: at most the slots. */
static int team_size(int slots, int groups)
{
    int nt = slots < groups ? slots : groups;
#ifdef _OPENMP
    int mx = omp_get_max_threads();
    nt = nt < mx ? nt : mx;
#endif
    return nt > 0 ? nt : 1;
}

/* What the forward and the backward share: the saved planes' size, the
 * groups, the slots' row length and size, where a slot's runs start, the
 * batch norm room after the partials, where the slots start, and the
 * team. */
typedef struct {
    int Hs, Ws, G, groups, team;
    long ld, per, runs_at;
    float *extra, *base;
} block_plan;

static block_plan plan_block(float *scratch, long scratch_n, int B, int IC, int H, int W, int OC,
                             int pad, int bn)
{
    assert(pad == 0 || pad == 1);
    block_plan pl;
    pl.Hs = H + 2 * pad, pl.Ws = W + 2 * pad;
    const int OH = pl.Hs - 2, OW = pl.Ws - 2, K = IC * 9;
    pl.G = conv_block_group(OC, OH, OW, B), pl.groups = (B + pl.G - 1) / pl.G;
    const int slots = conv_block_workers(scratch_n, B, IC, OH, OW, OC, bn);
    assert(slots > 0);
    pl.team = team_size(slots, pl.groups);
    pl.ld = group_ld(pl.G, OH, OW), pl.per = slot_floats(K, OC, pl.G, OH, OW, bn);
    pl.runs_at = slot_rows(K, OC, bn) * pl.ld;
    pl.extra = scratch + parts_dw(B, pl.G, K, OC, bn);
    pl.base = scratch + parts_floats(B, pl.G, K, OC, bn);
    return pl;
}

static int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* col rows k = c*9 + dy*3 + dx (row stride ld): for images b0 .. b0+nb-1,
 * pixel b*OH*OW + y*OW + x holds saved[c][b0+b][y+dy][x+dx] (as conv.c's
 * im2col); each row's tail up to ld is zeroed. */
static void group_col(float *restrict col, long ld, const float *restrict saved, int B,
                      int IC, int Hs, int Ws, int b0, int nb)
{
    const int OH = Hs - 2, OW = Ws - 2;
    const long ohw = (long)OH * OW, n = nb * ohw;
    for (int c = 0; c < IC; c++)
        for (int t = 0; t < 9; t++) {
            float *row = col + (long)(c * 9 + t) * ld;
            for (int b = 0; b < nb; b++) {
                const float *s = saved + ((long)c * B + b0 + b) * Hs * Ws + (t / 3) * Ws + t % 3;
                float *d = row + b * ohw;
                for (int y = 0; y < OH; y++)
                    memcpy(d + (long)y * OW, s + (long)y * Ws, sizeof(float) * (size_t)OW);
            }
            memset(row + n, 0, sizeof(float) * (size_t)(ld - n));
        }
}

/* ---------------------------------------------------------------------- */
/* Forward.                                                               */

typedef struct {
    const act_params *a;
    const conv_block_bn *bn;
    float *pooled, *pooled_pre;
    uint8_t *argmax;
    const conv_block_dropout *drop;
    const float *saved, *weight, *bias;
    int B, IC, Hs, Ws, OC, G;
    long ld, runs_at;
    int before;   /* pool, then the activation on the winners */
} fwd_job;

/* The group's images b0 .. b0+nb-1: col from the saved input, then the
 * conv output into out (OC rows of ld); returns nb. */
static int group_conv(const fwd_job *j, float *out, float *col, int b0)
{
    const int OH = j->Hs - 2, OW = j->Ws - 2, K = j->IC * 9;
    const int nb = j->B - b0 < j->G ? j->B - b0 : j->G;
    group_col(col, j->ld, j->saved, j->B, j->IC, j->Hs, j->Ws, b0, nb);
    conv_small_k(out, j->ld, col, j->ld, j->weight, j->bias, K, j->OC, nb * (long)OH * OW);
    return nb;
}

/* The winners' x: per output row, vectors of 16 outputs from 32 inputs of
 * the row pair (as pool.c's), while they stay inside the planes; a vector
 * that runs past a row's end writes garbage lanes that the next row's
 * first vector overwrites. The plain loop takes the rest. */
#define select(m, a, b)                                                      \
    ({                                                                       \
        v16i m_ = (m);                                                       \
        v16f a_ = (a), b_ = (b);                                             \
        (v16f)((m_ & (v16i)a_) | (~m_ & (v16i)b_));                          \
    })

typedef void widen_fn(v16i *k, const uint8_t *a);

static inline __attribute__((always_inline)) void
winners_body(float *restrict xw, const float *restrict x, const uint8_t *restrict am, long nb,
             int OH, int OW, widen_fn *widen)
{
    static const v16i EVEN = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
    static const v16i ODD = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};
    const int PH = OH / 2, PW = OW / 2;
    const float *x_end = x + nb * OH * OW;
    const float *o_end = xw + nb * PH * PW;
    for (long plane = 0; plane < nb; plane++)
        for (int y = 0; y < PH; y++) {
            const float *r0 = x + (plane * OH + 2 * y) * OW, *r1 = r0 + OW;
            float *o = xw + (plane * PH + y) * PW;
            const uint8_t *a = am + (plane * PH + y) * PW;
            int c = 0;
            for (; widen && c < PW && r1 + 2 * c + 32 <= x_end && o + c + 16 <= o_end;
                 c += 16) {
                v16f p0 = *(const v16u *)(r0 + 2 * c), p1 = *(const v16u *)(r0 + 2 * c + 16);
                v16f q0 = *(const v16u *)(r1 + 2 * c), q1 = *(const v16u *)(r1 + 2 * c + 16);
                v16i k;
                widen(&k, a + c);
                v16i odd = (k & 1) == 1;
                v16f top = select(odd, __builtin_shuffle(p0, p1, ODD),
                                  __builtin_shuffle(p0, p1, EVEN));
                v16f bot = select(odd, __builtin_shuffle(q0, q1, ODD),
                                  __builtin_shuffle(q0, q1, EVEN));
                *(v16u *)(o + c) = select(k > 1, bot, top);
            }
            for (c = c < PW ? c : PW; c < PW; c++) {
                const float *r = a[c] & 2 ? r1 : r0;
                o[c] = r[2 * c + (a[c] & 1)];
            }
        }
}

#if defined(__x86_64__) || defined(__i386__)
static inline __attribute__((always_inline, target("arch=x86-64-v4"))) void
widen_v4(v16i *k, const uint8_t *a)
{
    *k = (v16i)_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)a));
}

__attribute__((target("arch=x86-64-v4"))) static void
winners_v4(float *xw, const float *x, const uint8_t *am, long nb, int OH, int OW)
{
    winners_body(xw, x, am, nb, OH, OW, widen_v4);
}
#endif

void conv_block_winners(float *xw, const float *x, const uint8_t *am, long nb, int OH, int OW)
{
#if defined(__x86_64__) || defined(__i386__)
    if (__builtin_cpu_supports("x86-64-v4"))
        return winners_v4(xw, x, am, nb, OH, OW);
#endif
    winners_body(xw, x, am, nb, OH, OW, NULL);
}

static void forward_group(const fwd_job *j, float *slot, int b0)
{
    const int OH = j->Hs - 2, OW = j->Ws - 2, K = j->IC * 9, B = j->B, OC = j->OC;
    const long ohw = (long)OH * OW, posz = (long)(OH / 2) * (OW / 2);
    const conv_block_bn *bn = j->bn;
    float *out = slot, *col = slot + OC * j->ld, *post = col + K * j->ld, *ybuf = post + j->ld;
    const int nb = group_conv(j, out, col, b0);
    const long run = nb * posz, rs = (OC * run + 15) & ~15L;
    float *lp = slot + j->runs_at, *lpp = j->pooled_pre ? lp + rs : NULL;
    uint8_t *la = (uint8_t *)(lp + 2 * rs);
    for (int o = 0; o < OC; o++) {
        const long p0 = (long)o * B + b0;
        float *pre = out + o * j->ld;
        if (bn) {   /* normalised into its own row: x stays for the winners' x */
            const float mean = bn->saved[o], inv = bn->saved[OC + o];
            bn_affine(ybuf, pre, nb * ohw, mean, bn->gamma[o] * inv, bn->beta[o]);
            pre = ybuf;
        }
        if (j->before)   /* in place: pooled made from the winners where it lies */
            act_pool_first_planes(j->a, pre, lp + o * run, la + o * run,
                                  (lpp ? lpp : lp) + o * run, p0, nb, B, OH, OW);
        else   /* in place unless the winners' input is kept */
            act_maxpool_planes(j->a, lpp ? post : pre, pre, lp + o * run, la + o * run,
                               lpp ? lpp + o * run : NULL, p0, nb, B, OH, OW);
        if (bn)
            conv_block_winners(bn->xw + p0 * posz, out + o * j->ld, la + o * run, nb, OH, OW);
    }
    /* out as OC runs far apart: written here, in straight copies */
    for (int o = 0; o < OC; o++) {
        const long p0 = ((long)o * B + b0) * posz;
        memcpy(j->pooled + p0, lp + o * run, sizeof(float) * (size_t)run);
        memcpy(j->argmax + p0, la + o * run, (size_t)run);
        if (lpp)
            memcpy(j->pooled_pre + p0, lpp + o * run, sizeof(float) * (size_t)run);
        if (!j->drop)
            continue;
        dropout_range(j->drop->out + p0, j->drop->mask + p0, lp + o * run, run, j->drop->rate,
                      j->drop->seed, j->drop->purpose, j->drop->step, p0);
    }
}

/* Sums over a group's n pixels of d_k = col_k - c_k and of d_k d_l, in
 * double, into part (K sums, then K x K): pixel i in lane i % 8 of its
 * pair's accumulator, the lanes added in order at the end; rows in
 * blocks of 3, so that each pixel's 6 loads feed 9 products. The order
 * is fixed by n alone. */
typedef double v8d __attribute__((vector_size(64)));
enum { MOM_CHUNK = 64, MOM_BLOCKS = CONV_BLOCK_MAX_K / 3 };

/* (by pointer and inlined: a 512-bit vector passed by value to a function
 * not compiled for AVX-512 does not arrive whole) */
static inline __attribute__((always_inline)) double lanes8(const v8d *v)
{
    double s = 0;
    for (int l = 0; l < 8; l++)
        s += (*v)[l];
    return s;
}

CLONES static void group_moments(double *restrict part, const float *restrict col, long ld,
                                 int K, long n, const double *restrict c)
{
    const int nb = K / 3;
    v8d acc[MOM_BLOCKS * (MOM_BLOCKS + 1) / 2][9], sum[CONV_BLOCK_MAX_K];
    double d[CONV_BLOCK_MAX_K][MOM_CHUNK] __attribute__((aligned(64)));
    memset(acc, 0, sizeof acc[0] * (size_t)(nb * (nb + 1) / 2));
    memset(sum, 0, sizeof sum);
    for (long i0 = 0; i0 < n; i0 += MOM_CHUNK) {
        const long len = n - i0 < MOM_CHUNK ? n - i0 : MOM_CHUNK;
        for (int k = 0; k < K; k++) {   /* past the end 0: adds nothing */
            const float *x = col + k * ld + i0;
            if (len == MOM_CHUNK)
                for (int i = 0; i < MOM_CHUNK; i++)
                    d[k][i] = (double)x[i] - c[k];
            else
                for (int i = 0; i < MOM_CHUNK; i++)
                    d[k][i] = i < len ? (double)x[i] - c[k] : 0.0;
            for (int v = 0; v < MOM_CHUNK; v += 8)
                sum[k] += *(const v8d *)&d[k][v];
        }
        for (int kb = 0, p = 0; kb < nb; kb++)
            for (int lb = 0; lb <= kb; lb++, p++) {
                v8d a[9];
                for (int r = 0; r < 9; r++)
                    a[r] = acc[p][r];
                for (int v = 0; v < MOM_CHUNK; v += 8)
#pragma GCC unroll 3
                    for (int r = 0; r < 3; r++) {
                        const v8d x = *(const v8d *)&d[3 * kb + r][v];
#pragma GCC unroll 3
                        for (int t = 0; t < 3; t++)
                            a[3 * r + t] += x * *(const v8d *)&d[3 * lb + t][v];
                    }
                for (int r = 0; r < 9; r++)
                    acc[p][r] = a[r];
            }
    }
    for (int k = 0; k < K; k++)
        part[k] = lanes8(&sum[k]);
    double *q = part + K;
    for (int kb = 0, p = 0; kb < nb; kb++)
        for (int lb = 0; lb <= kb; lb++, p++)
            for (int r = 0; r < 3; r++)
                for (int t = 0; t < 3; t++) {
                    const int k = 3 * kb + r, l = 3 * lb + t;
                    q[k * K + l] = q[l * K + k] = lanes8(&acc[p][3 * r + t]);
                }
}

/* sum over l of w[l] c[l * stride], l in order: (w^T C)[k] with c = C's
 * row k (stride 1) or column k (stride K). */
static double w_dot(const float *w, const double *c, long stride, int K)
{
    double s = 0;
    for (int l = 0; l < K; l++)
        s += w[l] * c[l * stride];
    return s;
}

/* Batch norm's statistics, the first pass, without the conv output: at
 * every pixel x_o = b_o + w_o . col, so over the batch x_o's mean is
 * b_o + w_o . m and its variance w_o^T C w_o, m and C the mean and
 * (biased) covariance of col's K rows. Those take K(K+1)/2 products a
 * pixel, where the conv and its sums took OC*(K+2). Each group's sums of
 * col shifted by image 0's first column (as batchnorm.c shifts) go to its
 * partial at the start of scratch, and are added in group order; m, then
 * C, stay in bn->moments for the backward. */
static void bn_statistics(const fwd_job *j, const block_plan *pl, float *scratch)
{
    const int OC = j->OC, K = j->IC * 9;
    const long ohw = (long)(j->Hs - 2) * (j->Ws - 2), n = j->B * ohw;
    const long per = conv_block_bn_moments(j->IC);
    const conv_block_bn *bn = j->bn;
    double *part = (double *)scratch, c[CONV_BLOCK_MAX_K];
    for (int k = 0; k < K; k++)
        c[k] = j->saved[(long)(k / 9) * j->B * j->Hs * j->Ws + (k % 9 / 3) * j->Ws + k % 3];
#pragma omp parallel num_threads(pl->team)
    {
        float *col = pl->base + thread_id() * pl->per + OC * j->ld;
#pragma omp for schedule(static)
        for (int g = 0; g < pl->groups; g++) {
            const int b0 = g * j->G, nb = j->B - b0 < j->G ? j->B - b0 : j->G;
            group_col(col, j->ld, j->saved, j->B, j->IC, j->Hs, j->Ws, b0, nb);
            group_moments(part + per * g, col, j->ld, K, nb * ohw, c);
        }
    }
    double *m = bn->moments, *C = m + K;
    for (long i = 0; i < per; i++) {
        double t = 0;
        for (int g = 0; g < pl->groups; g++)
            t += part[per * g + i];
        m[i] = t;
    }
    for (int k = 0; k < K; k++)   /* C from the shifted sums, then m */
        for (int l = 0; l < K; l++)
            C[k * K + l] = (C[k * K + l] - m[k] * (m[l] / (double)n)) / (double)n;
    for (int k = 0; k < K; k++)
        m[k] = c[k] + m[k] / (double)n;
    for (int o = 0; o < OC; o++) {
        const float *w = j->weight + (long)o * K;
        double mean = j->bias[o], var = 0;
        for (int k = 0; k < K; k++) {
            mean += w[k] * m[k];
            var += w[k] * w_dot(w, C + k * K, 1, K);
        }
        bn_stats_of(bn->saved + o, bn->saved + OC + o,
                    bn->moving_mean ? bn->moving_mean + o : NULL,
                    bn->moving_var ? bn->moving_var + o : NULL, mean, var, n, bn->momentum,
                    bn->eps);
    }
}

void conv_block_forward(const act_params *a, const conv_block_bn *bn, float *saved,
                        float *pooled, uint8_t *argmax, float *pooled_pre,
                        const conv_block_dropout *drop, float *scratch, long scratch_n,
                        const float *in, const float *weight, const float *bias, int B, int IC,
                        int H, int W, int OC, int pad)
{
    const block_plan pl = plan_block(scratch, scratch_n, B, IC, H, W, OC, pad, bn != NULL);
    fwd_job j = {a, bn, pooled, pooled_pre, argmax, drop, saved, weight, bias, B, IC, pl.Hs,
                 pl.Ws, OC, pl.G, pl.ld, pl.runs_at, act_pools_first(a->kind, a->alpha)};
    conv_save_input(saved, in, (long)IC * B, H, W, pad, 0);   /* the groups read it */
    if (bn)
        bn_statistics(&j, &pl, scratch);
#pragma omp parallel num_threads(pl.team)
    {
        float *slot = pl.base + thread_id() * pl.per;
#pragma omp for schedule(static)
        for (int g = 0; g < pl.groups; g++)
            forward_group(&j, slot, g * pl.G);
    }
}

/* ---------------------------------------------------------------------- */
/* Backward.                                                              */

/* The lanes of v summed as a tree of halves, in a fixed order (the same
 * on every target): four vector adds where lane by lane would chain 16. */
static inline __attribute__((always_inline)) float lane_sum(const v16f *p)
{
    v16f v = *p;
    const v16i h8 = {8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15};
    const v16i h4 = {4, 5, 6, 7, 4, 5, 6, 7, 4, 5, 6, 7, 4, 5, 6, 7};
    const v16i h2 = {2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3};
    const v16i h1 = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    v += __builtin_shuffle(v, h8);
    v += __builtin_shuffle(v, h4);
    v += __builtin_shuffle(v, h2);
    v += __builtin_shuffle(v, h1);
    return v[0];
}

/* dw (OC,K) = g (OC,ld) x col (K,ld)^T and db (OC) = the rows of g, each
 * a sum of 16 lanes over the row's vectors in order, then the lanes
 * (lane_sum). Three output channels at a time share the loads of col (27
 * accumulators: the loads, one a cycle, keep up with two FMAs a cycle);
 * a last one or two channels reuse the code on a repeated row. pin keeps
 * a loaded vector in a register: gcc otherwise folds the load of col into
 * each of the three FMAs, three loads where one does. */
typedef void pin_fn(v16f *v);

static inline __attribute__((always_inline)) void pin_none(v16f *v)
{
    (void)v;
}

static inline __attribute__((always_inline)) void
dw_body(float *restrict dw, float *restrict db, const float *restrict g,
        const float *restrict col, long ld, int K, int OC, pin_fn *pin)
{
    for (int o = 0; o < OC; o += 3) {
        const int nr = OC - o < 3 ? OC - o : 3;
        const float *g0 = g + o * ld, *g1 = g + (o + (nr > 1)) * ld;
        const float *g2 = g + (o + (nr > 2 ? 2 : nr - 1)) * ld;
        for (int k0 = 0; k0 < K; k0 += 9) {
            v16f a0[9] = {0}, a1[9] = {0}, a2[9] = {0};
            for (long i = 0; i < ld; i += 16) {
                v16f x0 = *(const v16u *)(g0 + i), x1 = *(const v16u *)(g1 + i);
                v16f x2 = *(const v16u *)(g2 + i);
#pragma GCC unroll 9
                for (int t = 0; t < 9; t++) {
                    v16f c = *(const v16u *)(col + (k0 + t) * ld + i);
                    pin(&c);
                    a0[t] += x0 * c;
                    a1[t] += x1 * c;
                    a2[t] += x2 * c;
                }
            }
            for (int t = 0; t < 9; t++) {
                dw[o * K + k0 + t] = lane_sum(&a0[t]);
                if (nr > 1)
                    dw[(o + 1) * K + k0 + t] = lane_sum(&a1[t]);
                if (nr > 2)
                    dw[(o + 2) * K + k0 + t] = lane_sum(&a2[t]);
            }
        }
    }
    for (int o = 0; o < OC; o++) {   /* db: vector v of the row into s[v % 4] */
        const float *r = g + o * ld;
        v16f s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
        long i = 0;
        for (; i + 64 <= ld; i += 64) {
            s0 += *(const v16u *)(r + i);
            s1 += *(const v16u *)(r + i + 16);
            s2 += *(const v16u *)(r + i + 32);
            s3 += *(const v16u *)(r + i + 48);
        }
        if (i < ld)
            s0 += *(const v16u *)(r + i);
        if (i + 16 < ld)
            s1 += *(const v16u *)(r + i + 16);
        if (i + 32 < ld)
            s2 += *(const v16u *)(r + i + 32);
        v16f s = (s0 + s1) + (s2 + s3);
        db[o] = lane_sum(&s);
    }
}

#if defined(__x86_64__) || defined(__i386__)
static inline __attribute__((always_inline, target("arch=x86-64-v4"))) void pin_v4(v16f *v)
{
    __asm__("" : "+v"(*v));
}

__attribute__((target("arch=x86-64-v4"))) static void
dw_v4(float *dw, float *db, const float *g, const float *col, long ld, int K, int OC)
{
    dw_body(dw, db, g, col, ld, K, OC, pin_v4);
}
#endif

static void group_dw(float *dw, float *db, const float *g, const float *col, long ld, int K,
                     int OC)
{
#if defined(__x86_64__) || defined(__i386__)
    if (__builtin_cpu_supports("x86-64-v4"))
        return dw_v4(dw, db, g, col, ld, K, OC);
#endif
    dw_body(dw, db, g, col, ld, K, OC, pin_none);
}

typedef struct {
    const float *dpooled, *saved;
    const uint8_t *argmax;
    const double *m;   /* with batch norm col's means (bn->moments), else NULL */
    int B, IC, Hs, Ws, OC, G;
    long ld, runs_at;
} bwd_job;

/* Group g's partial: dW (OC*K floats), then db (OC). */
static void backward_group(const bwd_job *j, float *part, float *slot, int b0)
{
    const int OH = j->Hs - 2, OW = j->Ws - 2, K = j->IC * 9, B = j->B, OC = j->OC;
    const int nb = B - b0 < j->G ? B - b0 : j->G;
    const long n = nb * (long)OH * OW, posz = (long)(OH / 2) * (OW / 2);
    const long run = nb * posz, runs = OC * run;
    float *g = slot, *col = slot + OC * j->ld;
    float *dp = slot + j->runs_at;
    uint8_t *am = (uint8_t *)(dp + 2 * ((runs + 15) & ~15L));
    /* the OC short runs far apart first copied whole: straight copies keep
     * many loads in flight, the unpooling's loop did not (it waited on
     * memory for a third of the backward) */
    for (int o = 0; o < OC; o++) {
        const long p0 = ((long)o * B + b0) * posz;
        memcpy(dp + o * run, j->dpooled + p0, sizeof(float) * (size_t)run);
        memcpy(am + o * run, j->argmax + p0, (size_t)run);
    }
    for (int o = 0; o < OC; o++) {
        float *row = g + o * j->ld;
        maxpool_backward_planes(row, dp + o * run, am + o * run, nb, OH, OW);
        memset(row + n, 0, sizeof(float) * (size_t)(j->ld - n));
    }
    group_col(col, j->ld, j->saved, B, j->IC, j->Hs, j->Ws, b0, nb);
    for (int k = 0; j->m && k < K; k++) {   /* batch norm: col less its mean */
        const float mk = (float)j->m[k];
        float *row = col + k * j->ld;
        for (long i = 0; i < n; i++)
            row[i] -= mk;
    }
    group_dw(part, part + (long)OC * K, g, col, j->ld, K, OC);
}

/* Batch norm's coefficients of dx per channel, into coef, and its sums of
 * dy, into sdy, from the sums over the pooling winners (dy is 0
 * elsewhere); dgamma, dbeta added. */
static void bn_coefs(bn_grad_coef *coef, double *sdy, const conv_block_bn *bn,
                     const float *dpooled, int team, int B, int OH, int OW, int OC)
{
    const long np = (long)B * (OH / 2) * (OW / 2), n = (long)B * OH * OW;
#pragma omp parallel for schedule(static) num_threads(team)
    for (int o = 0; o < OC; o++) {
        const float mean = bn->saved[o], inv = bn->saved[OC + o];
        double sdyx;
        bn_grad_sums(dpooled + o * np, bn->xw + o * np, np, mean, sdy + o, &sdyx);
        coef[o] = bn_grad_coefs(sdy[o], sdyx, bn->gamma[o], mean, inv, n, bn->dgamma + o,
                                bn->dbeta + o);
    }
}

/* dW through batch norm, from the groups' sums G = dy (col - m)^T (m
 * rounded to float, mf): with dx = a (dy - mdy - (x - mean) k) and x - mean
 * = w . (col - m) at every pixel,
 *   dW[o][k] = sum dx col_k
 *            = a (G[o][k] + sdy (mf_k - m_k) - k n (w_o^T C)[k]),
 * C col's covariance; the conv's bias, whose every change the mean takes
 * away, gets no gradient. */
static void bn_weight_grads(float *dweight, const float *parts, long psz, int groups,
                            const conv_block_bn *bn, const bn_grad_coef *coef,
                            const double *sdy, const float *weight, int K, int OC, long n)
{
    const double *m = bn->moments, *C = m + K;
    for (int o = 0; o < OC; o++) {
        const float *w = weight + (long)o * K;
        for (int k = 0; k < K; k++) {
            double G = 0;
            for (int g = 0; g < groups; g++)
                G += parts[g * psz + (long)o * K + k];
            const double mk = m[k], mf = (float)mk, wc = w_dot(w, C + k, K, K);
            dweight[(long)o * K + k] +=
                (float)(coef[o].a * (G + sdy[o] * (mf - mk) - (double)coef[o].k * n * wc));
        }
    }
}

void conv_block_backward(float *dweight, float *dbias, const conv_block_bn *bn, float *scratch,
                         long scratch_n, const float *dpooled, const uint8_t *argmax,
                         const float *saved, const float *weight, int B, int IC, int H, int W,
                         int OC, int pad)
{
    const block_plan pl = plan_block(scratch, scratch_n, B, IC, H, W, OC, pad, bn != NULL);
    const int K = IC * 9, groups = pl.groups;
    const long psz = (long)OC * (K + 1);
    float *parts = scratch;
    bn_grad_coef *coef = bn ? (bn_grad_coef *)pl.extra : NULL;
    double *sdy = bn ? (double *)(coef + OC) : NULL;
    if (bn)
        bn_coefs(coef, sdy, bn, dpooled, pl.team, B, pl.Hs - 2, pl.Ws - 2, OC);
    const bwd_job j = {dpooled, saved, argmax, bn ? bn->moments : NULL, B, IC, pl.Hs, pl.Ws,
                       OC, pl.G, pl.ld, pl.runs_at};
#pragma omp parallel num_threads(pl.team)
    {
        float *slot = pl.base + thread_id() * pl.per;
#pragma omp for schedule(static)
        for (int g = 0; g < groups; g++)
            backward_group(&j, parts + g * psz, slot, g * pl.G);
    }
    if (bn) {
        bn_weight_grads(dweight, parts, psz, groups, bn, coef, sdy, weight, K, OC,
                        (long)B * (pl.Hs - 2) * (pl.Ws - 2));
        return;
    }
    /* the groups' partials in group order: the same sums at any thread count */
    for (long i = 0; i < psz; i++) {
        float *d = i < (long)OC * K ? dweight + i : dbias + (i - (long)OC * K);
        float s = *d;
        for (int g = 0; g < groups; g++)
            s += parts[g * psz + i];
        *d = s;
    }
}
