/* activation.h: relu, elu(alpha), leaky_relu(alpha), prelu (learnable alpha
 * per channel). Tensors are (C, n): channel c is the contiguous run
 * [c*n, (c+1)*n), n = B*H*W for conv layers and n = B for dense layers. */
#ifndef SWEEP_ACTIVATION_H
#define SWEEP_ACTIVATION_H

typedef enum { ACT_RELU, ACT_ELU, ACT_LEAKY_RELU, ACT_PRELU } act_kind;

typedef struct {
    act_kind kind;
    float alpha;              /* elu alpha, leaky slope; unused by relu/prelu */
    const float *prelu_alpha; /* (C) learnable slopes, prelu only */
} act_params;

/* out may alias in. */
void act_forward(const act_params *a, float *out, const float *in, int C, long n);

/* din (C,n) overwritten (may alias dout); in and out from the forward pass
 * (must not alias each other). dprelu_alpha (C) accumulates (+=), prelu
 * only (NULL otherwise). Per-channel sums in a fixed order. */
void act_backward(const act_params *a, float *din, float *dprelu_alpha,
                  const float *dout, const float *in, const float *out,
                  int C, long n);

/* Name <-> kind ("relu", "elu", "leaky_relu", "prelu"); -1 if unknown. */
int act_from_name(const char *name);
const char *act_name(act_kind kind);

#endif
