/* conv.c: 3x3 valid convolution, stride 1, as im2col + gemm over the batch.
 *
 * col (IC*9, P), P = B*OH*OW: row t = c*9 + dy*3 + dx holds, for every
 * output pixel p = (b, y, x), the input in[c][b][y+dy][x+dx]. Then
 *   out  (OC, P)    = W (OC, IC*9) x col + bias
 *   dW  (OC, IC*9) += dout (OC, P) x col^T
 *   dcol (IC*9, P)  = W^T x dout, folded back by col2im.
 * col is never built whole (35 MB for the second layer at B=250): the
 * workspace keeps a copy of the input and one chunk of col for a few
 * images, small enough to stay in L2 between im2col and the gemm that
 * reads it. Both passes walk the batch chunk by chunk. Chunks depend only
 * on the layer's shape, so dW = dW + chunk 1 + chunk 2 + ... is summed in
 * one fixed order whatever the thread count.
 * im2col and col2im run over (channel, image) planes: each thread owns whole
 * planes of col and of din, so no element is written by two threads and
 * each din element adds its 9 taps in the same order every time. */
#include "nn/conv.h"

#include <stddef.h>
#include <string.h>

#include "nn/gemm.h"

#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

enum {
    CHUNK_FLOATS = 1 << 18,  /* col floats per chunk: 1 MB, half an L2 */
    SMALL_K = 27,            /* up to 3 input channels: direct product */
    PIX_TASK = 4096,         /* pixels per task of the direct product */
};

typedef float v16f __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4), may_alias));
typedef int v16i __attribute__((vector_size(64)));

/* Images per chunk: as many as fit CHUNK_FLOATS of col, at least one. */
static int chunk_images(int IC, int OH, int OW)
{
    long per = (long)IC * 9 * OH * OW;
    long b = CHUNK_FLOATS / (per > 0 ? per : 1);
    return b < 1 ? 1 : (int)b;
}

/* Floats of one chunk of col. */
static long chunk_floats(int B, int IC, int OH, int OW)
{
    int cb = chunk_images(IC, OH, OW);
    return (long)IC * 9 * (cb < B ? cb : B) * OH * OW;
}

/* col: the saved input (IC,B,H,W), then scratch for chunks. dcol, of the
 * same size, holds a chunk of col and a chunk of dcol in the backward pass
 * (the second chunk of col's scratch is spare). */
long conv_col_size(int B, int IC, int H, int W)
{
    return (long)IC * B * H * W + 2 * chunk_floats(B, IC, H - 2, W - 2);
}

/* d[0..n) = s[0..n), 16 at a time. When room says 16 more floats may be
 * read at s and written at d past the row (they belong to the next row
 * of the same plane, rewritten later by this same thread), the tail is
 * one full vector too. */
static inline __attribute__((always_inline)) void
copy_row(float *restrict d, const float *restrict s, int n, int room)
{
    int x = 0;
    for (; x + 16 <= n; x += 16)
        *(v16u *)(d + x) = *(const v16u *)(s + x);
    if (x < n) {
        if (room)
            *(v16u *)(d + x) = *(const v16u *)(s + x);
        else
            for (; x < n; x++)
                d[x] = s[x];
    }
}

/* One (c, b) plane of the input into its 9 rows of col (row stride ldc). */
CLONES static void im2col_plane(float *restrict col, const float *restrict in,
                                long ldc, int H, int W)
{
    const int OH = H - 2, OW = W - 2;
    for (int t = 0; t < 9; t++) {
        const int dy = t / 3, dx = t % 3;
        float *d = col + t * ldc;
        for (int y = 0; y < OH; y++) {
            /* 16 floats past the row end stay inside both planes */
            int room = (OH - y) * OW - OW >= 16 && (H - y - dy) * W - W - dx >= 16;
            copy_row(d + y * OW, in + (y + dy) * W + dx, OW, room);
        }
    }
}

/* din plane (c, b) = sum over the 9 taps of the shifted dcol rows, taps in
 * order. Each din row is formed in a register, 16 columns at a time, from
 * the (up to) 9 dcol rows that reach it; lanes that fall outside a dcol
 * row are masked to +0. Loads may run on into the following dcol rows
 * while they stay below end; stores may run into the next din row of the
 * same plane, which is written after. The plain loops below give the same
 * sums where that is not possible, or without vector code. */
static inline __attribute__((always_inline)) float
col2im_one(const float *dcol, long ldc, int OH, int OW, int yi, int xi)
{
    float s = 0;
    for (int dy = 0; dy < 3; dy++)
        for (int dx = 0; dx < 3; dx++) {
            int y = yi - dy, x = xi - dx;
            if (y >= 0 && y < OH && x >= 0 && x < OW)
                s += dcol[(dy * 3 + dx) * ldc + y * OW + x];
        }
    return s;
}

static inline __attribute__((always_inline)) void
col2im_body(float *restrict din, const float *restrict dcol, long ldc, int H,
            int W, const float *end, int vec)
{
    const int OH = H - 2, OW = W - 2;
    enum { MAXV = 8 };   /* vector path for rows up to 128 floats */
    const int nv = (W + 15) / 16;
    if (!vec || nv > MAXV) {
        for (int yi = 0; yi < H; yi++)
            for (int xi = 0; xi < W; xi++)
                din[yi * W + xi] = col2im_one(dcol, ldc, OH, OW, yi, xi);
        return;
    }
    /* valid[v][dx]: lanes of vector v whose dcol column x0 + l - dx is in
     * [0, OW) */
    v16i valid[MAXV][3];
    for (int v = 0; v < nv; v++)
        for (int dx = 0; dx < 3; dx++)
            for (int l = 0; l < 16; l++) {
                int pos = v * 16 + l - dx;
                valid[v][dx][l] = pos >= 0 && pos < OW ? -1 : 0;
            }
    const v16i shift1 = {0, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30};
    const v16i shift2 = {0, 1, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29};
    const v16f zero = {0};
    for (int yi = 0; yi < H; yi++) {
        float *d = din + yi * W;
        for (int v = 0; v < nv; v++) {
            const int x0 = 16 * v;
            v16f acc = zero;
            int ok = 1;
            for (int dy = 0; dy < 3 && ok; dy++) {
                const int y = yi - dy;
                if (y < 0 || y >= OH)
                    continue;
                for (int dx = 0; dx < 3; dx++) {
                    const float *r = dcol + (dy * 3 + dx) * ldc + y * OW;
                    const float *p = r + (x0 > dx ? x0 - dx : 0);
                    if (p + 16 > end) {
                        ok = 0;
                        break;
                    }
                    v16f t = *(const v16u *)p;
                    if (x0 < dx)   /* only x0 = 0: lanes move up by dx */
                        t = __builtin_shuffle(zero, t, dx == 1 ? shift1 : shift2);
                    acc += (v16f)((v16i)t & valid[v][dx]);
                }
            }
            if (ok && x0 + 16 <= (H - yi) * W) {
                *(v16u *)(d + x0) = acc;
            } else {
                float lanes[16];
                *(v16u *)lanes = acc;
                for (int l = 0; l < 16 && x0 + l < W; l++)
                    d[x0 + l] = ok ? lanes[l] : col2im_one(dcol, ldc, OH, OW, yi, x0 + l);
            }
        }
    }
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("arch=x86-64-v4"))) static void
col2im_v4(float *din, const float *dcol, long ldc, int H, int W, const float *end)
{
    col2im_body(din, dcol, ldc, H, W, end, 1);
}
#endif

static void col2im_plane(float *din, const float *dcol, long ldc, int H, int W,
                         const float *end)
{
#if defined(__x86_64__) || defined(__i386__)
    if (__builtin_cpu_supports("x86-64-v4"))
        return col2im_v4(din, dcol, ldc, H, W, end);
#endif
    col2im_body(din, dcol, ldc, H, W, end, 0);
}

/* Im2col of images [b0, b0+nb) of in (IC,B,H,W) into col (IC*9, nb*OH*OW).
 * Tasks go image by image, so that each thread writes the columns the
 * gemm's split of the pixels then mostly gives back to it. */
static void im2col_chunk(float *col, const float *in, int B, int IC, int H,
                         int W, int b0, int nb)
{
    const long ohw = (long)(H - 2) * (W - 2), ldc = nb * ohw;
    const long tasks = (long)IC * nb;
#pragma omp parallel for schedule(static)
    for (long u = 0; u < tasks; u++) {
        const long b = u / IC, c = u % IC;
        im2col_plane(col + c * 9 * ldc + b * ohw,
                     in + ((c * B) + b0 + b) * H * W, ldc, H, W);
    }
}

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
                acc = k0 ? acc + *d : acc + bias[o];
                const float *wo = w + o * K + k0;
#pragma GCC unroll 9
                for (int t = 0; t < 9; t++)
                    acc += wo[t] * x[t];
                *d = acc;
            }
        }
    for (; i < n; i++)   /* the same sums, one pixel at a time */
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

static void small_k_block(float *out, long ldo, const float *col, long ldc,
                          const float *w, const float *bias, int K, int OC, long n)
{
#if defined(__x86_64__) || defined(__i386__)
    if (__builtin_cpu_supports("x86-64-v4"))
        return small_k_v4(out, ldo, col, ldc, w, bias, K, OC, n);
#endif
    small_k_body(out, ldo, col, ldc, w, bias, K, OC, n, 0);
}

void conv_forward(float *out, float *col, const float *in, const float *weight,
                  const float *bias, int B, int IC, int H, int W, int OC)
{
    const int OH = H - 2, OW = W - 2, K = IC * 9;
    const long ohw = (long)OH * OW, P = B * ohw, nin = (long)IC * B * H * W;
    float *chunk = col + nin;
    /* the copy of the input is what conv_backward rebuilds col from */
    const long copies = (nin + PIX_TASK - 1) / PIX_TASK;
#pragma omp parallel for schedule(static)
    for (long u = 0; u < copies; u++) {
        long i0 = u * PIX_TASK, n = nin - i0 < PIX_TASK ? nin - i0 : PIX_TASK;
        memcpy(col + i0, in + i0, (size_t)n * sizeof(float));
    }
    const int cb = chunk_images(IC, OH, OW);
    for (int b0 = 0; b0 < B; b0 += cb) {
        const int nb = B - b0 < cb ? B - b0 : cb;
        const long pc = nb * ohw;
        float *o = out + b0 * ohw;
        im2col_chunk(chunk, in, B, IC, H, W, b0, nb);
        if (K <= SMALL_K) {
            const long tasks = (pc + PIX_TASK - 1) / PIX_TASK;
#pragma omp parallel for schedule(static)
            for (long u = 0; u < tasks; u++) {
                long p0 = u * PIX_TASK, n = pc - p0 < PIX_TASK ? pc - p0 : PIX_TASK;
                small_k_block(o + p0, P, chunk + p0, pc, weight, bias, K, OC, n);
            }
        } else {
            /* bias first, then the gemm adds the product to it */
#pragma omp parallel for schedule(static)
            for (int r = 0; r < OC; r++)
                for (long i = 0; i < pc; i++)
                    o[r * P + i] = bias[r];
            gemm(0, 0, OC, (int)pc, K, weight, K, chunk, (int)pc, 1, o, (int)P);
        }
    }
}

/* s[r] += sum of row r of x (rows of n), each row summed in index order;
 * 8 rows at a time so that 8 dependent chains overlap. */
static void row_sums(float *s, const float *x, int rows, long n)
{
    const int groups = (rows + 7) / 8;
#pragma omp parallel for schedule(static)
    for (int g = 0; g < groups; g++) {
        const int r0 = g * 8;
        if (rows - r0 >= 8) {
            float acc[8] = {0};
            for (long i = 0; i < n; i++)
#pragma GCC unroll 8
                for (int r = 0; r < 8; r++)
                    acc[r] += x[(r0 + r) * n + i];
            for (int r = 0; r < 8; r++)
                s[r0 + r] += acc[r];
        } else {
            for (int r = r0; r < rows; r++) {
                float acc = 0;
                for (long i = 0; i < n; i++)
                    acc += x[r * n + i];
                s[r] += acc;
            }
        }
    }
}

void conv_backward(float *din, float *dcol, float *dweight, float *dbias,
                   const float *dout, const float *col, const float *weight,
                   int B, int IC, int H, int W, int OC)
{
    const int OH = H - 2, OW = W - 2, K = IC * 9;
    const long ohw = (long)OH * OW, P = B * ohw, nin = (long)IC * B * H * W;
    /* conv_forward left the input at the start of col. Chunks of col are
     * rebuilt in the dcol workspace, next to the chunks of dcol; when no
     * din is wanted (dcol is then unused) in the scratch part of col,
     * which conv_forward used the same way and which holds nothing the
     * caller reads: col is the caller's writable workspace. */
    const float *in = col;
    float *chunk = din ? dcol : (float *)col + nin;
    float *dchunk = din ? dcol + chunk_floats(B, IC, OH, OW) : NULL;
    row_sums(dbias, dout, OC, P);
    const int cb = chunk_images(IC, OH, OW);
    for (int b0 = 0; b0 < B; b0 += cb) {
        const int nb = B - b0 < cb ? B - b0 : cb;
        const long pc = nb * ohw;
        const float *g = dout + b0 * ohw;
        im2col_chunk(chunk, in, B, IC, H, W, b0, nb);
        gemm(0, 1, OC, K, (int)pc, g, (int)P, chunk, (int)pc, 1, dweight, K);
        if (!din)
            continue;
        gemm(1, 0, K, (int)pc, OC, weight, K, g, (int)P, 0, dchunk, (int)pc);
        const long tasks = (long)IC * nb;
#pragma omp parallel for schedule(static)
        for (long u = 0; u < tasks; u++) {
            const long b = u / IC, c = u % IC;
            col2im_plane(din + ((c * B) + b0 + b) * H * W,
                         dchunk + c * 9 * pc + b * ohw, pc, H, W, dchunk + K * pc);
        }
    }
}
