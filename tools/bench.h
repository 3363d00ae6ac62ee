/* bench.h: what tools/bench.c shares with its other subcommands' files
 * (bench_layers.c). */
#ifndef SWEEP_BENCH_H
#define SWEEP_BENCH_H

#include "data/dataset.h"
#include "train/model.h"

typedef struct {
    const char *dir;
    int act, threads, batches, warmup, bn;
    long eval_n;
} train_args;

double now_seconds(void);
/* "bench: msg" on stderr, exit 2 */
__attribute__((noreturn)) void die(const char *msg);
/* bench train's flags (and bench layers'): see the top of bench.c */
void parse_train_args(int argc, char **argv, train_args *t);
/* Sets the threads, loads a->dir (exits 2 on bad data) and splits it as
 * the trainer does (the last 20% validate). */
void bench_data(const train_args *a, dataset *d, data_split *train, data_split *val);
/* 0 .. n-1 shuffled, as the trainer gathers */
long *shuffled(long n);
/* The default model with act and bn on d's image shape (NULL: 1x28x28);
 * 0, or -1 after saying why. */
int default_model(model **m, act_kind act, int bn, const dataset *d, int batch);

/* bench layers (bench_layers.c) */
int cmd_layers(int argc, char **argv);

#endif
