/* scheduler.h: trains a list of runs on --jobs worker threads of --threads
 * OpenMP threads each, claiming every run in the database first so that
 * several processes can share one sweep. Progress is reported through
 * callbacks (called from worker threads; the caller serialises). */
#ifndef SWEEP_SCHEDULER_H
#define SWEEP_SCHEDULER_H

#include <signal.h>

#include "base/error.h"
#include "data/dataset.h"
#include "sweep/grid.h"
#include "sweep/store.h"
#include "train/trainer.h"

typedef struct {
    const char *db_path;
    long long sweep_id;
    const char (*keys)[RUN_KEY_LEN + 1];   /* run keys, parallel to runs */
    const char *checkpoint_dir;   /* a checkpoint per run after each epoch */
    int keep_checkpoints;         /* else removed once a run is done */
    int jobs, threads;
    volatile sig_atomic_t *stop;      /* set by a signal handler */
    void *ctx;
    void (*on_start)(void *ctx, int slot, int run);
    void (*on_batch)(void *ctx, int slot, int run, const train_progress *p);
    void (*on_epoch)(void *ctx, int slot, int run, int epoch, const epoch_metrics *m);
    void (*on_finish)(void *ctx, int slot, int run, run_status st,
                      const train_result *res, const char *error);
    /* a note the user should read (a checkpoint not used, and why) */
    void (*on_notice)(void *ctx, int slot, int run, const char *msg);
} sched_options;

typedef struct {
    int trained, done, failed, diverged, interrupted;
    int skipped;          /* claimed elsewhere or already done */
    int jobs_started;     /* worker threads that ran; fewer than asked when */
    int thread_errno;     /* pthread_create failed (its error); the others */
                          /* still train every run, only slower */
} sched_tally;

/* Default split of cores: one job per run while runs outnumber cores, the
 * spare cores as threads otherwise; never more than cores in all. */
void sched_default_split(int cores, int runs, int *jobs, int *threads);

/* The checkpoint folder beside a database: "<db>-checkpoints". */
void sched_checkpoint_dir(const char *db_path, char *buf, size_t size);

/* A run's checkpoint file in that folder. */
void sched_checkpoint_path(const char *dir, long long sweep_id, const char *key, char *buf,
                           size_t size);

/* Removes what a done run no longer needs: its checkpoint, unless kept, and
 * temp files left by a process killed while writing one. */
void sched_clean_checkpoint(const char *path, int keep);

/* SW_EINPUT, naming the run, when a run cannot train on d: its split
 * leaves no training (or validation) example, or its batch_size exceeds
 * the training set (memory follows the batch, so an oversized batch could
 * take gigabytes for nothing). For before the database is touched. */
int sched_check_runs(const dataset *d, const run_settings *runs, int n, sw_error *err);

/* Number of cores this process may use. */
int sched_cores(void);

/* Trains runs[i] (row run_ids[i]) for every i with todo[i] set. Returns
 * SW_OK unless the checkpoint folder or the database could not be used,
 * no worker thread started, or memory ran out (the error's own code);
 * per-run failures are recorded in the database and counted in tally. */
int sched_run(const sched_options *o, const dataset *d, const run_settings *runs,
              const long long *run_ids, const unsigned char *todo, int n,
              sched_tally *tally, sw_error *err);

#endif
