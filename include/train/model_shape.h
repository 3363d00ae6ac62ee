/* model_shape.h: the layer sizes of a model, its geometry and its limits,
 * in one place for config validation and for the model itself.
 *
 *   [conv 3x3 -> act -> maxpool 2x2 (floor) -> dropout] x n_conv
 *   -> flatten -> [dense -> act] x n_dense -> dense n_classes
 *
 * `model: {conv: [32, 64], dense: [256]}` is conv blocks of 32 and 64
 * channels, then a hidden dense layer of 256. The convs are "valid" (no
 * padding: 28 -> 26) unless `padding: same` (pad 1: 28 -> 28), with which
 * four conv blocks fit 28x28 (28 -> 14 -> 7 -> 3 -> 1). */
#ifndef SWEEP_MODEL_SHAPE_H
#define SWEEP_MODEL_SHAPE_H

#include <stddef.h>

#define MODEL_MAX_CONV 8               /* conv blocks */
#define MODEL_MAX_DENSE 8              /* hidden dense layers */
#define MODEL_MAX_CHANNELS 4096        /* channels of one conv block */
#define MODEL_MAX_WIDTH 65536          /* units of one dense layer */
#define MODEL_MAX_PARAMS 100000000L    /* 400 MB of weights, times 4 with Adam */
#define MODEL_MIN_CONV_INPUT 4         /* a valid 3x3 conv then a 2x2 pool */
#define MODEL_MIN_CONV_INPUT_SAME 2    /* a same 3x3 conv then a 2x2 pool */

typedef struct {
    int n_conv, conv[MODEL_MAX_CONV];     /* 1..MODEL_MAX_CONV blocks (0 in a
                                             zeroed shape: "the default") */
    int n_dense, dense[MODEL_MAX_DENSE];  /* 0..MODEL_MAX_DENSE layers */
    int same;                             /* 1: padding same (pad 1); 0: valid */
} model_shape;

/* The convs' padding: 0 (valid) or 1 (same). */
static inline int model_pad(const model_shape *m) { return m->same ? 1 : 0; }
/* Side of a conv block's output: 3x3 conv padded by pad. */
static inline int model_conv_out(int side, int pad) { return side + 2 * pad - 2; }
/* Side of a conv block's pooled output: conv, then 2x2 pool (floor). */
static inline int model_block_out(int side, int pad) { return (side + 2 * pad - 2) / 2; }
/* Smallest input side a conv block takes. */
static inline int model_min_input(int pad)
{
    return pad ? MODEL_MIN_CONV_INPUT_SAME : MODEL_MIN_CONV_INPUT;
}

/* The blog's model: conv [32, 64], dense [256]. */
void model_shape_default(model_shape *m);
int model_shape_equal(const model_shape *a, const model_shape *b);
int model_shape_is_default(const model_shape *m);
/* "conv=32-64;dense=256" (the runs.model column; no commas, so CSV needs
 * no quotes); "dense=none" without hidden dense layers; ";padding=same"
 * appended for same padding only, so valid models keep their text. */
void model_shape_text(const model_shape *m, char *buf, size_t size);
/* As written in YAML: "{conv: [32, 64], dense: [256]}" (", padding: same"
 * before the brace when same). */
void model_shape_yaml(const model_shape *m, char *buf, size_t size);
/* Whether the model fits h x w images: each conv block needs at least
 * model_min_input(pad) on each side. Else *block is the first conv block
 * (1-based) that does not fit and *bh x *bw its input. */
int model_shape_fits(const model_shape *m, int h, int w, int *block, int *bh, int *bw);
/* Parameters of the model on 1-channel h x w images, n_classes outputs
 * (without PReLU slopes); -1 if it does not fit. */
double model_shape_params(const model_shape *m, int h, int w, int n_classes);

#endif
