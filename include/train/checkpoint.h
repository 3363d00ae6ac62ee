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
 * key, another parameter count, a damaged file or one with NaN or
 * infinite values, a link or a special file (the run then starts over; a
 * damaged checkpoint is never trusted). SW_ERUN when memory for
 * the weights runs out. */
int checkpoint_read(const char *path, const char *key, long n_params, int states,
                    train_state *st, int *found, sw_error *err);

/* The same, and when there is a file that is not used, why (one short
 * phrase: "it belongs to another run", "it holds weights that are NaN or
 * infinite", "it is a symbolic link, not a plain file"...) in why; "" when
 * there is no file or it was read. A link is never followed, a FIFO never
 * waited on. why may be NULL. */
int checkpoint_load(const char *path, const char *key, long n_params, int states,
                    train_state *st, int *found, char *why, size_t why_size, sw_error *err);

/* SW_EINPUT unless dir is a folder (not a link to one) of ours that no
 * one else may write in: another local user could plant links or forged
 * checkpoints there. */
int checkpoint_dir_check(const char *dir, sw_error *err);

void train_state_free(train_state *st);

#endif
