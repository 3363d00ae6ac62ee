/* act_smooth_stub.c: the smooth activations' kernels for the fuzz build
 * only. act_smooth.c needs GCC (AVX-512 vector arguments that clang refuses
 * without -mavx512f), and the fuzz targets parse input, never running a
 * kernel; activation.c's table still needs the symbols. Each aborts, so a
 * target that did run one would show up as a crash. */
#include <stdlib.h>

#include "nn/act_smooth.h"

#define STUB(f)                                                                        \
    void act_##f##_forward(float *out, const float *in, long n)                        \
    {                                                                                  \
        (void)out, (void)in, (void)n;                                                  \
        abort();                                                                       \
    }                                                                                  \
    void act_##f##_backward(float *din, const float *dout, const float *in,            \
                            const float *out, long n)                                  \
    {                                                                                  \
        (void)din, (void)dout, (void)in, (void)out, (void)n;                           \
        abort();                                                                       \
    }                                                                                  \
    void act_##f##_forward_grad(float *out, float *deriv, const float *in, long n)     \
    {                                                                                  \
        (void)out, (void)deriv, (void)in, (void)n;                                     \
        abort();                                                                       \
    }

STUB(selu)
STUB(gelu)
STUB(silu)
STUB(mish)
STUB(tanh)
STUB(softplus)

void act_times_derivative(float *din, const float *dout, const float *deriv, long n)
{
    (void)din, (void)dout, (void)deriv, (void)n;
    abort();
}
