/* conv.c: 3x3 valid convolution, stride 1, as im2col + one gemm over the
 * whole batch.
 *
 * col (IC*9, B*OH*OW): row t = c*9 + dy*3 + dx holds, for every output
 * pixel p = (b, y, x), the input in[c][b][y+dy][x+dx]. Then
 *   out  (OC, P)   = W (OC, IC*9) x col
 *   dW  (OC, IC*9) += dout (OC, P) x col^T
 *   dcol (IC*9, P) = W^T x dout, folded back by col2im.
 * im2col and col2im run over (channel, image) planes: each thread owns whole
 * planes of col and of din, so no element is written by two threads and
 * each din element sums its 9 taps in the same order every time. */
#include "nn/conv.h"

#include "nn/gemm.h"

#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

long conv_col_size(int B, int IC, int H, int W)
{
    return (long)IC * 9 * B * (H - 2) * (W - 2);
}

/* One (c, b) plane of the input into its 9 rows of col. */
CLONES static void im2col_plane(float *restrict col, const float *restrict in,
                                long P, int H, int W)
{
    const int OH = H - 2, OW = W - 2;
    for (int t = 0; t < 9; t++) {
        const int dy = t / 3, dx = t % 3;
        float *d = col + t * P;
        for (int y = 0; y < OH; y++) {
            const float *s = in + (y + dy) * W + dx;
            for (int x = 0; x < OW; x++)
                d[y * OW + x] = s[x];
        }
    }
}

/* din plane = sum over the 9 taps of the shifted dcol rows, taps in order. */
CLONES static void col2im_plane(float *restrict din, const float *restrict dcol,
                                long P, int H, int W)
{
    const int OH = H - 2, OW = W - 2;
    for (int i = 0; i < H * W; i++)
        din[i] = 0;
    for (int t = 0; t < 9; t++) {
        const int dy = t / 3, dx = t % 3;
        const float *s = dcol + t * P;
        for (int y = 0; y < OH; y++) {
            float *d = din + (y + dy) * W + dx;
            for (int x = 0; x < OW; x++)
                d[x] += s[y * OW + x];
        }
    }
}

/* out (C, n) += bias per channel. */
CLONES static void add_bias(float *restrict out, const float *restrict bias,
                            int C, long n)
{
    enum { CHUNK = 16384 };
    const long nch = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static)
    for (long u = 0; u < C * nch; u++) {
        const int c = (int)(u / nch);
        const long i0 = u % nch * CHUNK, i1 = i0 + CHUNK < n ? i0 + CHUNK : n;
        float *o = out + c * n;
        const float b = bias[c];
        for (long i = i0; i < i1; i++)
            o[i] += b;
    }
}

void conv_forward(float *out, float *col, const float *in, const float *weight,
                  const float *bias, int B, int IC, int H, int W, int OC)
{
    const int OH = H - 2, OW = W - 2;
    const long P = (long)B * OH * OW;
    const long planes = (long)IC * B;
#pragma omp parallel for schedule(static)
    for (long u = 0; u < planes; u++) {
        const long c = u / B, b = u % B;
        im2col_plane(col + c * 9 * P + b * OH * OW, in + u * H * W, P, H, W);
    }
    gemm(0, 0, OC, (int)P, IC * 9, weight, IC * 9, col, (int)P, 0, out, (int)P);
    add_bias(out, bias, OC, P);
}

/* s[r] += sum of row r of x (rows of n), each row summed in index order;
 * 8 rows at a time so that the 8 dependent chains overlap. */
static void row_sums(float *s, const float *x, int rows, long n)
{
    const int groups = (rows + 7) / 8;
#pragma omp parallel for schedule(static)
    for (int g = 0; g < groups; g++) {
        const int r0 = g * 8, nr = rows - r0 < 8 ? rows - r0 : 8;
        float acc[8] = {0};
        for (long i = 0; i < n; i++)
            for (int r = 0; r < nr; r++)
                acc[r] += x[(r0 + r) * n + i];
        for (int r = 0; r < nr; r++)
            s[r0 + r] += acc[r];
    }
}

void conv_backward(float *din, float *dcol, float *dweight, float *dbias,
                   const float *dout, const float *col, const float *weight,
                   int B, int IC, int H, int W, int OC)
{
    const int OH = H - 2, OW = W - 2;
    const long P = (long)B * OH * OW;
    row_sums(dbias, dout, OC, P);
    gemm(0, 1, OC, IC * 9, (int)P, dout, (int)P, col, (int)P, 1, dweight, IC * 9);
    if (!din)
        return;
    gemm(1, 0, IC * 9, (int)P, OC, weight, IC * 9, dout, (int)P, 0, dcol, (int)P);
    const long planes = (long)IC * B;
#pragma omp parallel for schedule(static)
    for (long u = 0; u < planes; u++) {
        const long c = u / B, b = u % B;
        col2im_plane(din + u * H * W, dcol + c * 9 * P + b * OH * OW, P, H, W);
    }
}
