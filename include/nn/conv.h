/* conv.h: 3x3 convolution, stride 1, "valid" (pad 0) or "same" (pad 1,
 * zeros around the border), as im2col + gemm.
 *
 * Layout of every activation tensor in this library: channel-major,
 * (C, B, H, W): channel c of the whole batch is one contiguous run of
 * B*H*W floats, which makes a convolution one large gemm over the batch and
 * lets activations treat each channel as one contiguous block.
 * Weights: (OC, IC, 3, 3) = (OC, IC*9), the same order as PyTorch.
 * Output size: OH = H + 2*pad - 2, OW = W + 2*pad - 2 (pad 1: H x W). */
#ifndef SWEEP_CONV_H
#define SWEEP_CONV_H

/* Workspace floats needed by conv_forward / conv_backward for col, for the
 * same pad (0 or 1). */
long conv_col_size(int B, int IC, int H, int W, int pad);

/* saved (planes, H+2pad, W+2pad) = in (planes, H, W), with a border of
 * zeros when pad is 1: the copy of its input a conv keeps at the start of
 * col for its backward pass. With later set, the copy is read only then
 * (not by this forward): an unpadded one of STREAM_MIN_TENSOR_BYTES or
 * more is streamed past the caches. */
void conv_save_input(float *saved, const float *in, long planes, int H, int W, int pad,
                     int later);

/* in (IC,B,H,W), weight (OC,IC*9), bias (OC) -> out (OC,B,OH,OW).
 * col: workspace of conv_col_size() floats; keep it for conv_backward. */
void conv_forward(float *out, float *col, const float *in, const float *weight,
                  const float *bias, int B, int IC, int H, int W, int OC, int pad);

/* dout (OC,B,OH,OW), col as left by conv_forward with the same pad.
 * dweight (OC,IC*9) and dbias (OC) are accumulated (+=).
 * din (IC,B,H,W) is overwritten; pass NULL to skip it (first layer).
 * dcol: workspace of conv_col_size() floats (unused when din is NULL). */
void conv_backward(float *din, float *dcol, float *dweight, float *dbias,
                   const float *dout, const float *col, const float *weight,
                   int B, int IC, int H, int W, int OC, int pad);

#endif
