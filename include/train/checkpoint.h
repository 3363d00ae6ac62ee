/* checkpoint.h: a run's state after an epoch, on disk, so that an
 * interrupted or killed run resumes where it stopped and ends bit-identical
 * to an unbroken one. Written atomically: temp file, fsync, rename, fsync
 * of the folder. */
#ifndef SWEEP_CHECKPOINT_H
#define SWEEP_CHECKPOINT_H

#include "base/error.h"
#include "train/trainer.h"

/* Writes st for the run named key (any short string) to path, with its
 * early-stopping state and, when st->best_params is set, the best weights.
 * A link at path is replaced, not followed. SW_ERUN on failure. */
int checkpoint_write(const char *path, const char *key, const train_state *st,
                     sw_error *err);

/* Reads path into st (buffers malloc'd; free with train_state_free);
 * n_params <= 0 accepts any parameter count. states: the optimizer's state
 * buffers the run keeps (optim_states: bit 0 s0, bit 1 s1); a checkpoint
 * with others is not usable. The batch norm statistics come as saved
 * (st->n_bn floats, 0 without batch norm); the trainer checks their size.
 * *found = 0, SW_OK, when there is no usable checkpoint: no file, another
 * key, another parameter count, or a damaged file (the run then starts
 * over; a damaged checkpoint is never trusted). SW_ERUN when memory for
 * the weights runs out. */
int checkpoint_read(const char *path, const char *key, long n_params, int states,
                    train_state *st, int *found, sw_error *err);

void train_state_free(train_state *st);

#endif
