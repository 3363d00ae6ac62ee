/* early_stop.h: stopping a run when its validation metric stops improving,
 * as Keras' EarlyStopping does, as a pure function of the metric sequence
 * (so that it can be tested on a scripted sequence, and resumed from a
 * checkpoint that holds its state). */
#ifndef SWEEP_EARLY_STOP_H
#define SWEEP_EARLY_STOP_H

typedef enum { ES_OFF, ES_VAL_LOSS, ES_VAL_ACCURACY } es_monitor;

typedef struct {
    es_monitor monitor;   /* ES_OFF: train every epoch */
    int patience;         /* >= 1: epochs without improvement before stopping */
    int restore_best;     /* test with the best epoch's weights */
} es_settings;

/* What the decision needs to go on after an epoch (kept in checkpoints). */
typedef struct {
    double best;          /* best monitored value so far (NAN before the first) */
    int best_epoch;       /* its epoch; 0: none yet (a zeroed state is fresh) */
    int wait;             /* epochs since best_epoch */
} es_state;

void es_init(es_state *st);

/* Feeds epoch's value of the monitored metric (val_loss or val_accuracy).
 * It improves when strictly better than the best so far (lower loss,
 * higher accuracy; the first finite value always does; NaN never does).
 * *improved says whether it did (the caller then keeps the weights).
 * Returns 1 when the run should stop after this epoch: patience epochs in
 * a row without improvement. With ES_OFF it records nothing and returns 0. */
int es_update(const es_settings *cfg, es_state *st, int epoch, double value, int *improved);

/* Whether a state (e.g. read from a checkpoint) says the run has stopped. */
int es_stopped(const es_settings *cfg, const es_state *st);

/* "val_loss" | "val_accuracy" (NULL for ES_OFF); from name: -1 if unknown. */
const char *es_monitor_name(es_monitor m);
int es_monitor_from_name(const char *name);

#endif
