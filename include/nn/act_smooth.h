/* act_smooth.h: the smooth activations of issue 12, element by element:
 *
 *   selu      scale * (x > 0 ? x : alpha * (e^x - 1)), Klambauer et al.'s
 *             alpha = 1.6732632423543772848, scale = 1.0507009873554804934
 *   gelu      x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))   (exact, not tanh)
 *   silu      x * sigmoid(x)   ("swish" with beta 1)
 *   mish      x * tanh(softplus(x))
 *   tanh      tanh(x)
 *   softplus  log(1 + e^x)   (beta 1, no threshold: see act_smooth.c)
 *
 * Each result is within a few ulp of the true value for every finite float,
 * subnormals and -0 included (worst measured with AVX-512: selu 1.7,
 * softplus 2.2, tanh 3.2, gelu 3.4, silu 3.5, mish 3.7 ulp, and on
 * (-4.125, 3.875), where all but selu take tables, 2.3; gelu 5.4 without
 * FMA; derivatives near their zeros in ulps of the terms that cancel), and
 * is finite (saturating at FLT_MAX).
 * Results do not depend on n, alignment or the position in the buffer; the
 * same machine gives the same bits every time.
 *
 * forward:  out[i] = f(in[i]), i < n. out may alias in (exactly).
 * backward: din[i] = dout[i] * f'(in[i]) (f' rounded to float first, which
 *           matters only where it is subnormal). din may alias dout
 *           (exactly); in is the pre-activation. out (the forward output)
 *           is not read by these functions (every derivative here is
 *           computed from in, which is the accurate way) and may be NULL;
 *           it is in the signature so that all activations share one. */
#ifndef SWEEP_ACT_SMOOTH_H
#define SWEEP_ACT_SMOOTH_H

void act_selu_forward(float *out, const float *in, long n);
void act_selu_backward(float *din, const float *dout, const float *in, const float *out,
                       long n);
void act_gelu_forward(float *out, const float *in, long n);
void act_gelu_backward(float *din, const float *dout, const float *in, const float *out,
                       long n);
void act_silu_forward(float *out, const float *in, long n);
void act_silu_backward(float *din, const float *dout, const float *in, const float *out,
                       long n);
void act_mish_forward(float *out, const float *in, long n);
void act_mish_backward(float *din, const float *dout, const float *in, const float *out,
                       long n);
void act_tanh_forward(float *out, const float *in, long n);
void act_tanh_backward(float *din, const float *dout, const float *in, const float *out,
                       long n);
void act_softplus_forward(float *out, const float *in, long n);
void act_softplus_backward(float *din, const float *dout, const float *in, const float *out,
                           long n);

/* forward and the derivative together: out[i] = f(in[i]) and deriv[i] =
 * f'(in[i]), with the bits of the two kernels above; deriv may alias in. */
void act_selu_forward_grad(float *out, float *deriv, const float *in, long n);
void act_gelu_forward_grad(float *out, float *deriv, const float *in, long n);
void act_silu_forward_grad(float *out, float *deriv, const float *in, long n);
void act_mish_forward_grad(float *out, float *deriv, const float *in, long n);
void act_tanh_forward_grad(float *out, float *deriv, const float *in, long n);
void act_softplus_forward_grad(float *out, float *deriv, const float *in, long n);

/* din[i] = dout[i] * deriv[i] (saturated at +-FLT_MAX): the backward
 * kernels' result from a deriv of act_*_forward_grad. din may alias dout. */
void act_times_derivative(float *din, const float *dout, const float *deriv, long n);

/* 1 when gelu, silu, mish, tanh and softplus take their tables
 * (act_smooth.c: on CPUs with AVX-512), which changes their results by a
 * few ulp. */
int act_smooth_tables(void);

/* The SELU constants (as doubles; the kernels use them in double). */
#define ACT_SELU_ALPHA 1.6732632423543772848170429916717
#define ACT_SELU_SCALE 1.0507009873554804934193349852946

#endif
