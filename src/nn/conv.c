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
 * same size, holds a chunk of col and a chunk of dcol in the backward pass. */
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

/* din plane = sum over the 9 taps of the shifted dcol rows, taps in order,
 * accumulated in a local plane whose rows have 16 floats of slack so that
 * whole vectors can be added. */
CLONES static void col2im_plane(float *restrict din, const float *restrict dcol,
                                long ldc, int H, int W)
{
    const int OH = H - 2, OW = W - 2;
    enum { LOCAL = 8192 };
    const int ws = W + 16;
    if ((long)H * ws > LOCAL) {   /* large planes: plain loops */
        for (int i = 0; i < H * W; i++)
            din[i] = 0;
        for (int t = 0; t < 9; t++) {
            const float *s = dcol + t * ldc;
            for (int y = 0; y < OH; y++) {
                float *d = din + (y + t / 3) * W + t % 3;
                for (int x = 0; x < OW; x++)
                    d[x] += s[y * OW + x];
            }
        }
        return;
    }
    float acc[LOCAL];
    for (int i = 0; i < H * ws; i++)
        acc[i] = 0;
    /* the last vector of a row reads on into the next dcol row; its extra
     * lanes are masked to +0 before they are added */
    const int tail = OW % 16;
    v16i keep;
    for (int l = 0; l < 16; l++)
        keep[l] = l < tail ? -1 : 0;
    for (int t = 0; t < 9; t++) {
        const float *s = dcol + t * ldc;
        for (int y = 0; y < OH; y++) {
            float *d = acc + (y + t / 3) * ws + t % 3;
            const float *r = s + y * OW;
            int x = 0;
            for (; x + 16 <= OW; x += 16)
                *(v16u *)(d + x) += *(const v16u *)(r + x);
            if (x < OW) {
                if ((OH - y) * OW - OW >= 16) {
                    v16i v = (v16i) * (const v16u *)(r + x) & keep;
                    *(v16u *)(d + x) += (v16f)v;
                } else {
                    for (; x < OW; x++)
                        d[x] += r[x];
                }
            }
        }
    }
    for (int y = 0; y < H; y++)
        copy_row(din + y * W, acc + y * ws, W, (H - y - 1) * W >= 16);
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
 * pixels beats packing for a gemm, and the bias rides along. */
CLONES static void small_k_block(float *restrict out, long ldo,
                                 const float *restrict col, long ldc,
                                 const float *restrict w, const float *restrict bias,
                                 int K, int OC, long n)
{
    for (int o = 0; o < OC; o++) {
        float *restrict d = out + o * ldo;
        const float b = bias[o];
        for (long i = 0; i < n; i++)
            d[i] = b;
        for (int k = 0; k < K; k++) {
            const float wk = w[o * K + k];
            const float *restrict s = col + k * ldc;
            for (long i = 0; i < n; i++)
                d[i] += wk * s[i];
        }
    }
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
     * rebuilt in the dcol workspace; when there is none (no din wanted)
     * in the scratch part of col, which conv_forward used the same way
     * and which holds nothing the caller can see. */
    const float *in = col;
    float *chunk = dcol ? dcol : (float *)col + nin;
    float *dchunk = dcol ? dcol + chunk_floats(B, IC, OH, OW) : NULL;
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
                         dchunk + c * 9 * pc + b * ohw, pc, H, W);
        }
    }
}
