/* activation.h: the activations, one table row each, and their kernels on
 * channel-major tensors. Tensors are (C, n): channel c is the contiguous
 * run [c*n, (c+1)*n), n = B*H*W for conv layers and n = B for dense layers.
 *
 * Adding an activation: one act_kind value, one row in activation.c's
 * table, one forward/backward kernel pair, its live interval for
 * layer_stats (live_range in train/model.c), and their tests (gradient
 * check, bit-identity across thread counts) in tests/unit/test_nn.c; see
 * ARCHITECTURE.md. */
#ifndef SWEEP_ACTIVATION_H
#define SWEEP_ACTIVATION_H

typedef enum {
    ACT_RELU, ACT_ELU, ACT_LEAKY_RELU, ACT_PRELU,
    ACT_SELU, ACT_GELU, ACT_SILU, ACT_MISH, ACT_TANH, ACT_SOFTPLUS,   /* act_smooth.h */
    ACT_COUNT
} act_kind;

/* Kernels over one run of n elements with one alpha (a parameter-free
 * activation ignores it). Forward: out may alias in. Backward: din from
 * dout, the forward's input x (in) and output y (out); din may alias dout,
 * in and out must not alias each other unless the row says in_place. */
typedef void act_forward_fn(float *out, const float *in, long n, float alpha);
typedef void act_backward_fn(float *din, const float *dout, const float *in,
                             const float *out, long n, float alpha);
/* f and f' of n elements in one pass (deriv may alias in). */
typedef void act_forward_grad_fn(float *out, float *deriv, const float *in, long n);
/* Backward of one channel whose alpha is learned: din as act_backward_fn,
 * and returns the gradient of that alpha, summed in a fixed order. */
typedef float act_alpha_grad_fn(float *din, const float *dout, const float *in,
                                long n, float alpha);

/* Where a conv block's max pooling may run in training. Finding each
 * window's winner from x and then applying f to the winners only touches a
 * quarter of the elements (act_pool_rule says how the winner is found). */
typedef enum {
    POOL_AFTER,    /* pool f(x), the layers' own order */
    POOL_BEFORE,   /* f increasing: max f(x) = f(max x) */
    POOL_AT_ENDS   /* f falls to its minimum at `turn`, then rises, and is
                      negative exactly below 0 (gelu, silu, mish): the
                      largest f of a window is at its max or its min x */
} act_pool_order;

/* One activation: its name and the properties the other modules ask for. */
typedef struct {
    act_kind kind;
    const char *name;        /* as written in YAML, on the CLI, in the database */
    const char *alias;       /* another name accepted on input; NULL if none */
    int takes_alpha;         /* alpha is a setting; else the run has none (NULL) */
    double default_alpha;    /* the usual alpha (elu 1.0, leaky_relu 0.3 as
                                Keras, prelu 0.25); 0 without alpha */
    int in_place;            /* backward reads x only for its sign, and y > 0
                                exactly when x > 0 (given alpha > 0 when it
                                takes one): so forward may overwrite its input
                                and backward be handed y as x, and the model
                                keeps no pre-activation copy */
    act_forward_fn *forward;
    act_backward_fn *backward;
    act_alpha_grad_fn *alpha_grad;   /* alpha learned per channel (prelu):
                                        act_params.prelu_alpha holds it; NULL
                                        for a fixed alpha */
    act_pool_order pool_order;       /* POOL_BEFORE for every f that never
                                        decreases (relu, elu and leaky_relu
                                        when alpha >= 0: act_pools_first;
                                        prelu per channel: act_pool_rule) */
    float turn;                      /* POOL_AT_ENDS: the x where f is least */
    act_forward_grad_fn *forward_grad;   /* the smooth rows: training keeps
                                            f' at the pooling winners, not x
                                            (act_forward_winners); NULL else */
} act_desc;

/* The row of kind; NULL if kind is not an activation. */
const act_desc *act_info(act_kind kind);
/* Number of activations: kinds are 0 .. act_count() - 1. */
int act_count(void);
/* Kind of a name or alias; -1 if unknown (or NULL). Case-sensitive. */
int act_from_name(const char *name);
/* Name of kind; "?" if kind is not an activation. */
const char *act_name(act_kind kind);
/* Whether a model may run kind in place at this alpha (see in_place). */
int act_runs_in_place(act_kind kind, float alpha);

/* Whether training may find the pooling winners from x and apply f to them
 * only, at this alpha: pool_order POOL_BEFORE (with alpha >= 0 for a fixed
 * alpha; a learned one is ruled per channel) or POOL_AT_ENDS. */
int act_pools_first(act_kind kind, float alpha);

typedef struct {
    act_kind kind;
    float alpha;              /* elu alpha, leaky slope; unused without alpha
                                 and by prelu */
    const float *prelu_alpha; /* (C) learned slopes, when the row has alpha_grad */
} act_params;

/* How training finds a 2x2 window's winner from x for channel c (when
 * act_pools_first): its max x, or its min x where the max is at most turn
 * (f falls there); where the max lies in (turn, settle) and the min below
 * turn, the larger f of the two ends (the max on ties). POOL_BEFORE: turn
 * = settle = -inf (the max always); POOL_AT_ENDS: the row's turn, settle 0
 * (f(max) >= 0 > f(min) past it); prelu with a negative learned slope
 * falls then rises about 0: turn 0, settle +inf.
 *
 * mirror (POOL_AT_ENDS, else NULL) spares most evaluations of f in that
 * comparison: the max's bin is j = (int)((max - turn) * scale), 0..31, and
 * f(min) > f(max) wherever min < mirror[j], f(min) < f(max) wherever min >
 * mirror[32 + j] (bounds that hold in exact arithmetic for every max that
 * rounds into bin j or its neighbours); only between them is f evaluated. */
enum { ACT_MIRROR_BINS = 32 };

typedef struct {
    float turn, settle;
    const float *mirror;   /* 2 * ACT_MIRROR_BINS floats, or NULL */
    float scale;
} act_pool_rule;

act_pool_rule act_pool_rule_of(const act_params *a, int c);

/* out may alias in. */
void act_forward(const act_params *a, float *out, const float *in, int C, long n);

/* One channel's n elements, on the calling thread: the same bits as
 * act_forward gives that channel. */
void act_forward_channel(const act_params *a, float *out, const float *in, long n, int c);

/* Training's activation of the pooling winners of channel c, on the
 * calling thread: out = f(saved), and where the row has forward_grad,
 * saved = f'(saved) (which backward then needs instead of x). out may be
 * saved for a row without forward_grad (an in-place f). */
void act_forward_winners(const act_params *a, float *out, float *saved, long n, int c);

/* act_backward for the winners act_forward_winners left: din = dout * f'
 * where it kept f', else act_backward with in = saved. */
void act_backward_winners(const act_params *a, float *din, float *dprelu_alpha,
                          const float *dout, const float *saved, const float *out, int C,
                          long n);

/* din (C,n) overwritten (may alias dout); in and out from the forward pass
 * (must not alias each other, unless act_runs_in_place). dprelu_alpha (C)
 * accumulates (+=) for a learned alpha (NULL: not wanted). Per-channel sums
 * in a fixed order. */
void act_backward(const act_params *a, float *din, float *dprelu_alpha,
                  const float *dout, const float *in, const float *out,
                  int C, long n);

#endif
