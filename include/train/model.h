/* model.h: the CNN (the blog's model by default, or deeper or wider
 * variants of it; model_shape.h has its layers and limits).
 *
 *   [conv 3x3 -> (bn) -> act -> maxpool 2 -> dropout] x n_conv
 *   -> flatten -> [dense -> (bn) -> act] x n_dense -> dense n_classes -> softmax
 *
 * Batch norm (batchnorm.h: Keras' defaults, momentum 0.99, epsilon 1e-3)
 * sits after each conv and hidden dense layer, before the activation; the
 * layers keep their biases, as the PyTorch reference does. Its scale and
 * shift are parameter tensors ("conv1.bn.gamma", "conv1.bn.beta", ...),
 * placed after every other tensor, so the initial weights of a seed are the
 * same with and without batch norm; gamma starts at 1, beta at 0. They are
 * parameters like any other: AdamW's decoupled decay (and the L2 of the
 * other optimizers) applies to them too, as torch.optim does with
 * model.parameters(). The moving statistics are state outside the
 * parameters (model_bn_state), kept in checkpoints.
 *
 * All parameters live in one buffer, gradients in another of the same
 * layout; activations are sized once for max_batch. Nothing is allocated
 * during forward or backward. */
#ifndef SWEEP_MODEL_H
#define SWEEP_MODEL_H

#include <stdint.h>

#include "base/error.h"
#include "nn/activation.h"
#include "train/init.h"
#include "train/model_shape.h"

typedef struct {
    model_shape shape;    /* conv blocks' channels, hidden dense widths */
    int in_c, in_h, in_w, n_classes;
    act_kind act;
    float alpha;    /* elu/leaky alpha; prelu initial alpha */
    init_kind init;
    float dropout;  /* rate after each conv block */
    int batchnorm;  /* 1: batch norm after each conv and hidden dense layer */
} model_spec;

/* The blog's model (model_shape_default) on 1x28x28 images, 10 classes,
 * relu (alpha 1), he, dropout 0.25. */
void model_spec_default(model_spec *s);

/* One parameter tensor inside the flat buffer. */
typedef struct {
    char name[32];     /* "conv1.weight", "conv1.bias", "conv1.prelu", "dense1.weight",
                          "conv1.bn.gamma", "conv1.bn.beta", ... */
    long offset, size;
    int fan_in, fan_out;  /* 0 for biases and prelu alphas */
} model_tensor;

typedef struct model model;

/* Checks the spec against model_shape.h's limits and that every conv block
 * fits its input. */
int model_create(model **out, const model_spec *spec, int max_batch, sw_error *err);
void model_free(model *m);

const model_spec *model_get_spec(const model *m);
long model_num_params(const model *m);
float *model_params(model *m);
float *model_grads(model *m);
int model_num_tensors(const model *m);
const model_tensor *model_tensor_at(const model *m, int i);

/* Weights as spec init says (init.h), from the counter RNG keyed on (seed,
 * RNG_INIT + tensor index, 0, element); biases 0; learned alphas (prelu)
 * set to spec alpha; batch norm's gamma 1 and beta 0, its moving
 * statistics reset. */
void model_init_params(model *m, uint64_t seed);

/* Batch norm's moving statistics: for each bn layer in forward order (conv
 * blocks, then hidden dense layers), C means then C variances. Size 0 and
 * NULL without batch norm. Updated by every training forward; read by
 * evaluation. */
long model_bn_state_size(const model *m);
float *model_bn_state(model *m);
/* Moving means 0, variances 1 (as Keras and PyTorch start). */
void model_bn_reset(model *m);

/* x: (B, in_c*in_h*in_w) floats, one image after another, each planar
 * (in_c planes of in_h x in_w: red, green, blue for CIFAR); in_c is 1 or 3.
 * For in_c = 1 this is already the (C,B,H,W) layout of the kernels; for 3
 * the planes are moved into it first (a copy of the batch). training
 * enables dropout, with masks keyed on (seed, RNG_DROPOUT + block, step,
 * element), and batch norm's batch statistics (each training forward
 * updates the moving ones once). Leaves the logits
 * (n_classes, B) in model_logits(). */
void model_forward(model *m, const float *x, int B, int training,
                   uint64_t seed, uint64_t step);
const float *model_logits(const model *m);

/* Softmax cross-entropy of the last forward against labels; returns the
 * batch's summed loss, *correct the hits. With backward, zeroes the
 * gradients and fills them for the mean loss over the batch. */
double model_loss(model *m, const uint8_t *labels, int B, int *correct, int backward);

/* ---- Looking inside: statistics of the activation layers ----
 *
 * The activation layers are the conv blocks ("conv1", "conv2", ...) and the
 * hidden dense layers ("dense1", ...), in forward order; the output layer
 * has no activation and no statistics. A unit is one neuron of a dense
 * layer, or one channel at one position (y, x) of a conv layer's output
 * (before pooling): conv1 of the blog's model has 32 x 26 x 26 units.
 *
 * Dead: a unit is live for an image when the activation's derivative at
 * its input x passes gradient, |f'(x)| >= 1e-3; dead for the epoch when it
 * was live for no image seen. For relu that is "output never > 0" (as
 * before issue 12); elu, selu and softplus: x always deep in the left tail
 * (elu 1.0 below ln 1e-3 = -6.91, selu -7.47, softplus -6.91); gelu, silu,
 * mish: the same for their left tails (-3.81, -8.99, -8.99; the isolated
 * zero of their derivatives, near x = -0.75, -1.28, -1.19, is not counted:
 * no unit sits on one point for every image); tanh: saturated at either
 * end (|x| > 4.15); leaky_relu and prelu only with a slope below 1e-3 in
 * magnitude (prelu per channel). The test is one comparison against the
 * tails' ends, on x, or on y = f(x) for an activation run in place.
 *
 * Every sum has a fixed order (an image's activations of one channel in 16
 * float lanes by position, added into a double per channel in image order,
 * channels in index order; gradient squares in double, in 16 lanes within
 * fixed blocks of 4096 elements added in block order), so the results are
 * bit-identical whatever the thread count. */
#define MODEL_MAX_ACT_LAYERS (MODEL_MAX_CONV + MODEL_MAX_DENSE)

typedef struct {
    char layer[16];           /* "conv1", "dense1" */
    double mean_activation;   /* mean output of the activation over every
                                 unit and every image seen; NAN if none */
    double dead_fraction;     /* units dead for every image seen (below) */
    double grad_norm;         /* L2 norm of the layer's weight gradient,
                                 mean over the batches seen; NAN if none */
} layer_stat;

/* Number of activation layers: n_conv + n_dense of the spec. */
int model_num_act_layers(const model *m);

/* Clears the activation and gradient accumulators. */
void model_stats_reset(model *m);

/* Adds the activations of the last model_forward (every image of it) to
 * the activation statistics. */
void model_stats_add_forward(model *m);

/* model_forward(m, x, B, 0, 0, 0) (evaluation), then
 * model_stats_add_forward(m), with the same bits, but the conv layers'
 * statistics taken while their outputs are in cache. */
void model_forward_stats(model *m, const float *x, int B);

/* Adds one batch's weight-gradient norms, from the gradients the last
 * model_loss(..., backward = 1) left. */
void model_stats_add_grads(model *m);

/* out: model_num_act_layers(m) entries, in forward order. */
void model_stats_read(const model *m, layer_stat *out);

#endif
