/* trainer.h: one training run, start to finish, with hooks for progress,
 * per-epoch commits and interruption. No global state: several trainings
 * may run at once in one process, each on its own OpenMP thread team. */
#ifndef SWEEP_TRAINER_H
#define SWEEP_TRAINER_H

#include <signal.h>
#include <stdint.h>

#include "base/error.h"
#include "data/dataset.h"
#include "train/early_stop.h"
#include "train/model.h"
#include "train/optim.h"
#include "train/schedule.h"

/* Everything a run needs to go on after an epoch: the RNG needs no state,
 * since every draw is keyed on (seed, purpose, epoch or step, index). */
typedef struct {
    int epoch;            /* epochs completed */
    long n;               /* parameters */
    float *params;        /* (n) */
    float *opt_s0, *opt_s1; /* (n) each: the optimizer's state buffers, NULL
                             where it keeps none (optim.h) */
    long t;               /* optimizer steps taken */
    es_state es;          /* early stopping after epoch (zeroed when off) */
    float *best_params;   /* (n) weights of es.best_epoch; NULL unless restore_best */
    long n_bn;            /* batch norm's moving statistics (0 without) */
    float *bn_state;      /* (n_bn) */
    float *best_bn;       /* (n_bn) of es.best_epoch, with best_params */
} train_state;

typedef struct {
    model_spec model;
    optim_kind optimizer;
    float learning_rate;         /* the base rate; schedule scales it per epoch */
    float momentum;              /* sgd, rmsprop (0: none) */
    float weight_decay;          /* 0: none (optim.h says how each applies it) */
    int nesterov;                /* sgd with momentum */
    lr_schedule schedule;        /* zeroed: constant */
    int batch_size;
    int epochs;
    uint64_t seed;
    es_settings early_stopping;  /* zeroed: off */
    data_augment augment;        /* training batches only; keyed on (seed,
                                    epoch, image index); zeroed: off */
    int skip_layer_stats;        /* 1: no layer statistics (no on_layers calls) */
    const train_state *resume;   /* NULL: start from scratch */
} train_config;

typedef struct {
    double train_loss, train_accuracy;   /* mean over the epoch's batches, as Keras prints */
    double val_loss, val_accuracy;
    double seconds;                      /* training + validation wall time */
} epoch_metrics;

typedef struct {
    int epoch, epochs;      /* epoch counted from 1 */
    int batch, batches;     /* batches done in this epoch */
    double loss;            /* running mean train loss of this epoch */
    double epoch_seconds;   /* elapsed in this epoch */
} train_progress;

typedef struct {
    void *ctx;
    /* After each batch; may be NULL. */
    void (*on_batch)(void *ctx, const train_progress *p);
    /* After each epoch's validation, just before on_epoch: the statistics of
     * each activation layer (model.h), activations over the validation set
     * and weight-gradient norms over the epoch's batches; layers is valid
     * during the call only. Not called with skip_layer_stats. May be NULL. */
    void (*on_layers)(void *ctx, int epoch, const layer_stat *layers, int n_layers);
    /* After each epoch's validation; returns SW_OK or an error (stops the run). May be NULL. */
    int (*on_epoch)(void *ctx, int epoch, const epoch_metrics *m, sw_error *err);
    /* After on_epoch: the state to save for a resume. May be NULL. */
    int (*on_checkpoint)(void *ctx, const train_state *st, sw_error *err);
    /* Polled between batches: nonzero stops the run as interrupted. May be NULL. */
    volatile sig_atomic_t *stop;
} train_hooks;

typedef enum { TRAIN_DONE, TRAIN_DIVERGED, TRAIN_INTERRUPTED } train_status;

typedef struct {
    train_status status;
    int epochs_done;
    int diverged_epoch;            /* epoch whose loss was NaN/inf, else 0 */
    double test_loss, test_accuracy;   /* with restore_best: of best_epoch's weights */
    /* Early stopping (0 when it is off): the best epoch of the monitored
     * metric, and the last epoch trained (= epochs when it ran to the end). */
    int best_epoch, stopped_epoch;
} train_result;

/* The optimizer's hyper-parameters for cfg: Keras' defaults with cfg's
 * base rate, momentum, weight decay and Nesterov. */
void train_config_hyper(const train_config *cfg, optim_hyper *h);
/* The optimizer state buffers a run of cfg keeps (for checkpoint_read). */
int train_config_states(const train_config *cfg);

/* Trains cfg on train, validates on val after each epoch, tests on test at
 * the end. With early stopping the run ends after the epoch that makes
 * patience epochs without improvement (see early_stop.h); a resumed state
 * that has already stopped trains no more and goes straight to the test. threads: OpenMP threads for this run (0 = leave as is).
 * Returns SW_OK (see res->status) or an error code with err set. */
int train_run(const train_config *cfg, const data_split *train,
              const data_split *val, const data_split *test, int threads,
              const train_hooks *hooks, train_result *res, sw_error *err);

/* Mean loss and accuracy over a split, batches of batch_size, no dropout. */
void evaluate(model *m, const data_split *s, int batch_size, float *xbuf,
              uint8_t *ybuf, double *loss, double *accuracy);

#endif
