/* dense.c: fully connected layer, feature-major (features, B), on gemm. */
#include "nn/dense.h"

#include "nn/gemm.h"

void dense_forward(float *out, const float *in, const float *weight,
                   const float *bias, int B, int IN, int OUT)
{
    gemm(0, 0, OUT, B, IN, weight, IN, in, B, 0, out, B);
#pragma omp parallel for schedule(static) if ((long)OUT * B > 65536)
    for (int o = 0; o < OUT; o++)
        for (int b = 0; b < B; b++)
            out[(long)o * B + b] += bias[o];
}

void dense_backward(float *din, float *dweight, float *dbias,
                    const float *dout, const float *in, const float *weight,
                    int B, int IN, int OUT)
{
    /* bias: each row summed in index order */
#pragma omp parallel for schedule(static) if ((long)OUT * B > 65536)
    for (int o = 0; o < OUT; o++) {
        float s = 0;
        for (int b = 0; b < B; b++)
            s += dout[(long)o * B + b];
        dbias[o] += s;
    }
    gemm(0, 1, OUT, IN, B, dout, B, in, B, 1, dweight, IN);
    if (din)
        gemm(1, 0, IN, B, OUT, weight, IN, dout, B, 0, din, B);
}

/* (C,B,S) -> (C*S,B): per channel a (B,S) -> (S,B) transpose. */
/* Blocks of 16 images: the (B, S) side runs along memory, and the 16
 * floats of each row of the (S, B) side stay in one or two cache lines
 * while the block needs them. */
enum { FLAT_BLOCK = 16 };

void flatten_forward(float *out, const float *in, int C, int B, int S)
{
#pragma omp parallel for schedule(static) if ((long)C * B * S > 65536)
    for (int c = 0; c < C; c++) {
        const float *src = in + (long)c * B * S;
        float *dst = out + (long)c * S * B;
        for (int b0 = 0; b0 < B; b0 += FLAT_BLOCK) {
            const int b1 = B - b0 < FLAT_BLOCK ? B : b0 + FLAT_BLOCK;
            for (int s = 0; s < S; s++)
                for (int b = b0; b < b1; b++)
                    dst[(long)s * B + b] = src[(long)b * S + s];
        }
    }
}

void flatten_backward(float *din, const float *dout, int C, int B, int S)
{
#pragma omp parallel for schedule(static) if ((long)C * B * S > 65536)
    for (int c = 0; c < C; c++) {
        const float *src = dout + (long)c * S * B;
        float *dst = din + (long)c * B * S;
        for (int b0 = 0; b0 < B; b0 += FLAT_BLOCK) {
            const int b1 = B - b0 < FLAT_BLOCK ? B : b0 + FLAT_BLOCK;
            for (int b = b0; b < b1; b++)
                for (int s = 0; s < S; s++)
                    dst[(long)b * S + s] = src[(long)s * B + b];
        }
    }
}
