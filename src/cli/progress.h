/* progress.h: progress of a running sweep on stderr: redrawn in place on a
 * terminal, one line per epoch and per finished run otherwise. */
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
    int lines_drawn;
    double last_draw;
} progress;

void progress_init(progress *pr, FILE *out, const char *sweep, const run_settings *runs,
                   int total, int jobs);
/* Points the scheduler's callbacks at pr. */
void progress_attach(progress *pr, sched_options *o);
/* Final redraw and cleanup. */
void progress_end(progress *pr);

#endif
