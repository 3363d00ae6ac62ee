/* grid.h: expanding a config into runs, and naming each run by a key. */
#ifndef SWEEP_GRID_H
#define SWEEP_GRID_H

#include <stdint.h>

#include "base/error.h"
#include "sweep/config.h"

/* One run's fully resolved settings. */
typedef struct {
    act_kind activation;
    double alpha;             /* NAN when the activation takes none (relu;
                                 stored as NULL) */
    init_kind init;
    double dropout;
    int epochs;
    long long seed;
    int batch_size;
    double learning_rate;     /* the base rate */
    optim_kind optimizer;
    double momentum;          /* 0 unless the optimizer takes it (sgd, rmsprop) */
    double weight_decay;
    int nesterov;             /* 0 unless sgd with momentum > 0 */
    lr_schedule lr_schedule;  /* zeroed: constant */
    int batchnorm;            /* 0 or 1 */
    double validation_split;
    long train_limit;
    long val_limit, test_limit;   /* 0: the whole validation / test set */
    data_augment augment;         /* training only; zeroed: none */
    int data_format;              /* dataset_format of the data loaded, for the
                                     store; DATA_AUTO before it is loaded */
    int data_label;               /* cifar_label; -1 unless CIFAR-100 */
    uint64_t data_identity;       /* dataset.identity of the data loaded, for
                                     the store (runs.dataset); 0: unknown */
    model_shape model;            /* n_conv 0 (a zeroed struct): the default model;
                                     its padding is model.same */
    es_settings early_stopping;   /* monitor ES_OFF: none */
} run_settings;

#define RUN_KEY_LEN 16   /* hex digits */

/* The cartesian product of the axes in axis_id order (activation slowest,
 * seed fastest), minus excluded runs, with duplicates (relu at several
 * alphas) collapsed to their first occurrence. *runs is malloc'd.
 * Refuses grids over GRID_MAX_RUNS before allocating them. */
int grid_expand(const sweep_config *c, run_settings **runs, int *n, sw_error *err);

/* Canonical text of the settings plus the dataset identity, hashed to
 * RUN_KEY_LEN hex digits + NUL. */
void grid_run_key(const run_settings *r, uint64_t data_identity,
                  char key[RUN_KEY_LEN + 1]);

/* The shard (0..n-1) a run belongs to when a sweep is split n ways: its key
 * read as a 64-bit number, modulo n. It depends on the key alone, so adding
 * runs to a grid never moves a run to another shard. n < 1 counts as 1. */
int grid_shard_of(const char *key, int n);

/* Short human label, e.g. "elu a=1 he d=0.25 e=25 s=3". */
void grid_run_label(const run_settings *r, char *buf, size_t size);

/* The augmentation as stored and keyed: "crop=4,flip", "crop=4", "flip";
 * "" when off. */
void grid_augment_text(const data_augment *a, char *buf, size_t size);
/* The settings of a run that differ from the defaults of batch norm and
 * the optimizer (" adamw wd=0.01 cosine bn", each with a leading space;
 * "" for none), into buf; returns its length. */
size_t grid_train_text(const run_settings *r, char *buf, size_t size);

/* The model spec for a run: its model's layers (28x28 input, 10 classes)
 * with its activation, alpha, init, dropout and batch norm. */
void grid_model_spec(const run_settings *r, model_spec *spec);

#endif
