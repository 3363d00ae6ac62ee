/* dense.h: fully connected layer in the library's feature-major layout:
 * activations are (features, B), weight (OUT, IN) as in PyTorch. */
#ifndef SWEEP_DENSE_H
#define SWEEP_DENSE_H

/* in (IN,B), weight (OUT,IN), bias (OUT) -> out (OUT,B). */
void dense_forward(float *out, const float *in, const float *weight,
                   const float *bias, int B, int IN, int OUT);

/* dweight and dbias accumulate (+=); din (IN,B) overwritten, NULL skips. */
void dense_backward(float *din, float *dweight, float *dbias,
                    const float *dout, const float *in, const float *weight,
                    int B, int IN, int OUT);

/* Flatten (C,B,S) -> (C*S,B), feature index c*S+s (PyTorch's NCHW order),
 * and its inverse for the backward pass. */
void flatten_forward(float *out, const float *in, int C, int B, int S);
void flatten_backward(float *din, const float *dout, int C, int B, int S);

#endif
