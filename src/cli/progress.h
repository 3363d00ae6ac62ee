/* progress.h: progress of a running sweep on stderr. On a terminal a live
 * block (the sweep's runs finished and its ETA, then one line per job: its
 * run, epoch, batch, loss and ETA) is redrawn in place, each line cut to
 * the terminal's width so that it never wraps; each finished epoch and run
 * leaves one line above the block, as Keras does. Otherwise one line per
 * epoch and per finished run. */
#ifndef SWEEP_PROGRESS_H
#define SWEEP_PROGRESS_H

#include <pthread.h>
#include <stdio.h>

#include "sweep/scheduler.h"

#define PROGRESS_MAX_SLOTS 256

typedef struct {
    int run;                 /* -1 when idle */
    train_progress p;
} progress_slot;

typedef struct {
    pthread_mutex_t lock;
    FILE *out;
    int tty;
    const char *sweep;
    const run_settings *runs;
    int total, finished, failed;
    int slots;
    progress_slot slot[PROGRESS_MAX_SLOTS];
    long long epochs_waiting;    /* epochs of the runs not started yet */
    double epoch_seconds;        /* sum over the epochs finished here */
    int epochs_seen;
    double train_share;          /* sum over them of training time / epoch time */
    int lines_drawn;
    double last_draw;
} progress;

/* todo[i] (of n runs) marks the runs that will train, on jobs jobs. */
void progress_init(progress *pr, FILE *out, const char *sweep, const run_settings *runs,
                   const unsigned char *todo, int n, int jobs);
/* Points the scheduler's callbacks at pr. */
void progress_attach(progress *pr, sched_options *o);
/* Clears the live block, leaving the log of epochs and runs. */
void progress_end(progress *pr);

#endif
