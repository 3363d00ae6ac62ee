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
void flatten_forward(float *out, const float *in, int C, int B, int S)
{
#pragma omp parallel for schedule(static) if ((long)C * B * S > 65536)
    for (int c = 0; c < C; c++) {
        const float *src = in + (long)c * B * S;
        float *dst = out + (long)c * S * B;
        for (int b = 0; b < B; b++)
            for (int s = 0; s < S; s++)
                dst[(long)s * B + b] = src[(long)b * S + s];
    }
}

void flatten_backward(float *din, const float *dout, int C, int B, int S)
{
#pragma omp parallel for schedule(static) if ((long)C * B * S > 65536)
    for (int c = 0; c < C; c++) {
        const float *src = dout + (long)c * S * B;
        float *dst = din + (long)c * B * S;
        for (int b = 0; b < B; b++)
            for (int s = 0; s < S; s++)
                dst[(long)b * S + s] = src[(long)s * B + b];
    }
}
