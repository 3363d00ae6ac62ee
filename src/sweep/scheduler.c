/* scheduler.c: worker threads that claim runs and train them. Each worker
 * has its own database connection and its own OpenMP team; the dataset is
 * shared read-only. */
#include "sweep/scheduler.h"

#include <errno.h>
#include <sys/stat.h>

#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/fsutil.h"
#include "train/checkpoint.h"

typedef struct {
    const sched_options *o;
    const dataset *d;
    const run_settings *runs;
    const long long *run_ids;
    const unsigned char *todo;
    int n;
    pthread_mutex_t lock;   /* guards next, tally, err */
    int next;
    sched_tally tally;
    sw_error err;           /* first error that stopped a worker */
} shared_state;

typedef struct {
    shared_state *sh;
    int slot;
} worker_arg;

/* Context of one training's hooks. */
typedef struct {
    shared_state *sh;
    store *db;
    int slot, run;
    const char *checkpoint;
    int n_layers;                               /* this epoch's layer statistics, */
    layer_stat layers[MODEL_MAX_ACT_LAYERS];    /* recorded with its epoch row */
} run_ctx;

void sched_checkpoint_dir(const char *db_path, char *buf, size_t size)
{
    snprintf(buf, size, "%s-checkpoints", db_path);
}

void sched_checkpoint_path(const char *dir, long long sweep_id, const char *key, char *buf,
                           size_t size)
{
    snprintf(buf, size, "%s/%lld-%s.ckpt", dir, sweep_id, key);
}

int sched_check_runs(const dataset *d, const run_settings *runs, int n, sw_error *err)
{
    for (int i = 0; i < n; i++) {
        const run_settings *r = &runs[i];
        data_split train;
        if (i > 0 && r->validation_split == runs[i - 1].validation_split &&
            r->train_limit == runs[i - 1].train_limit && r->batch_size == runs[i - 1].batch_size)
            continue;   /* the grid's order repeats these; checked already */
        if (dataset_split(d, &(data_split_opts){r->validation_split, r->train_limit, 0, 0},
                          &train, NULL, NULL, err) != SW_OK)
            return err->code;
        /* memory grows with the batch: one larger than the data gains nothing */
        if (r->batch_size > train.n) {
            char label[128];
            grid_run_label(r, label, sizeof label);
            return sw_err(err, SW_EINPUT, "batch_size %d is larger than the training set (%ld "
                          "images after validation_split %g and train_limit %ld) of run %s; "
                          "use a batch_size of at most %ld", r->batch_size, train.n,
                          r->validation_split, r->train_limit, label, train.n);
        }
    }
    return SW_OK;
}

int sched_cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void sched_default_split(int cores, int runs, int *jobs, int *threads)
{
    if (cores < 1)
        cores = 1;
    if (runs < 1)
        runs = 1;
    *jobs = runs < cores ? runs : cores;
    *threads = cores / *jobs;
}

static void hook_layers(void *ctx, int epoch, const layer_stat *layers, int n_layers)
{
    run_ctx *rc = ctx;
    (void)epoch;
    rc->n_layers = n_layers < MODEL_MAX_ACT_LAYERS ? n_layers : MODEL_MAX_ACT_LAYERS;
    memcpy(rc->layers, layers, sizeof *layers * (size_t)rc->n_layers);
}

static void fail_worker(shared_state *sh, const sw_error *e);

static int stopping(const shared_state *sh)
{
    return sh->o->stop && *sh->o->stop;
}

/* The epoch row and its layer statistics, in one transaction. */
static int hook_epoch(void *ctx, int epoch, const epoch_metrics *m, sw_error *err)
{
    run_ctx *rc = ctx;
    int rcode = store_epoch_add_layers(rc->db, rc->sh->run_ids[rc->run], epoch, m, rc->layers,
                                       rc->n_layers, err);
    rc->n_layers = 0;
    if (rcode != SW_OK) {
        /* the database failed (gone, replaced, full): every worker stops;
         * a stop request that ended a wait for a lock is no failure */
        if (!stopping(rc->sh))
            fail_worker(rc->sh, err);
        return err->code;
    }
    if (rc->sh->o->on_epoch)
        rc->sh->o->on_epoch(rc->sh->o->ctx, rc->slot, rc->run, epoch, m);
    return SW_OK;
}

static int hook_checkpoint(void *ctx, const train_state *st, sw_error *err)
{
    run_ctx *rc = ctx;
    /* another process may have removed the folder while it was empty */
    mkdir(rc->sh->o->checkpoint_dir, 0755);
    return checkpoint_write(rc->checkpoint, rc->sh->o->keys[rc->run], st, err);
}

void sched_clean_checkpoint(const char *path, int keep)
{
    sw_out_remove_temps(path);   /* left by a process killed while writing */
    if (!keep)
        unlink(path);
}

static void hook_batch(void *ctx, const train_progress *p)
{
    run_ctx *rc = ctx;
    if (rc->sh->o->on_batch)
        rc->sh->o->on_batch(rc->sh->o->ctx, rc->slot, rc->run, p);
}

static int next_run(shared_state *sh)
{
    int i = -1;
    pthread_mutex_lock(&sh->lock);
    while (sh->next < sh->n && !sh->todo[sh->next])
        sh->next++;
    if (sh->next < sh->n && !(sh->o->stop && *sh->o->stop) && sh->err.code == SW_OK)
        i = sh->next++;
    pthread_mutex_unlock(&sh->lock);
    return i;
}

static void count(shared_state *sh, int *field)
{
    pthread_mutex_lock(&sh->lock);
    (*field)++;
    pthread_mutex_unlock(&sh->lock);
}

static void fail_worker(shared_state *sh, const sw_error *e)
{
    pthread_mutex_lock(&sh->lock);
    if (sh->err.code == SW_OK)
        sh->err = *e;
    pthread_mutex_unlock(&sh->lock);
}

static void notice(shared_state *sh, int slot, int run, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void notice(shared_state *sh, int slot, int run, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (sh->o->on_notice)
        sh->o->on_notice(sh->o->ctx, slot, run, msg);
}

/* The run's checkpoint, if it may be trusted: readable, its own, finite,
 * and continuing exactly the epochs the database holds for the run (a
 * checkpoint kept from another database, or newer than a restored backup,
 * or forged, would record epochs that never ran). Otherwise it is not
 * used, the reason goes to on_notice, and the run starts from scratch. */
static int trusted_checkpoint(shared_state *sh, store *db, int slot, int i, const char *path,
                              int states, train_state *st, int *found, sw_error *err)
{
    const run_settings *r = &sh->runs[i];
    char why[256];
    int held = 0;
    if (checkpoint_load(path, sh->o->keys[i], 0, states, st, found, why, sizeof why, err) !=
        SW_OK)
        return err->code;
    if (*found && st->epoch > r->epochs)
        snprintf(why, sizeof why, "it claims epoch %d of a %d-epoch run", st->epoch, r->epochs);
    else if (*found && store_epochs_held(db, sh->run_ids[i], st->epoch, &held, err) != SW_OK)
        return err->code;
    else if (*found && held != st->epoch)
        snprintf(why, sizeof why, "it continues epoch %d but the database holds %d of epochs "
                 "1..%d", st->epoch, held, st->epoch);
    if (why[0]) {
        train_state_free(st);
        *found = 0;
        notice(sh, slot, i, "checkpoint %s not used: %s; the run starts from epoch 1", path, why);
    }
    return SW_OK;
}

static void train_one(shared_state *sh, store *db, int slot, int i)
{
    const sched_options *o = sh->o;
    const run_settings *r = &sh->runs[i];
    sw_error err = {0};
    char msg[sizeof err.msg + 64] = "";
    train_config cfg = {0};
    data_split train, val, test;
    train_result res;
    run_status st;

    grid_model_spec(r, &cfg.model);
    cfg.model.in_h = sh->d->rows;   /* any MNIST-format image size */
    cfg.model.in_w = sh->d->cols;
    cfg.model.in_c = sh->d->channels;
    cfg.model.n_classes = sh->d->n_classes;
    cfg.optimizer = r->optimizer;
    cfg.learning_rate = (float)r->learning_rate;
    cfg.momentum = (float)r->momentum;
    cfg.weight_decay = (float)r->weight_decay;
    cfg.nesterov = r->nesterov;
    cfg.schedule = r->lr_schedule;
    cfg.batch_size = r->batch_size;
    cfg.epochs = r->epochs;
    cfg.seed = (uint64_t)r->seed;
    cfg.early_stopping = r->early_stopping;
    cfg.augment = r->augment;
    /* cmd_run checked every split setting before anything was stored */
    dataset_split(sh->d,
                  &(data_split_opts){r->validation_split, r->train_limit, r->val_limit,
                                     r->test_limit},
                  &train, &val, &test, NULL);

    /* Resume from the last checkpoint; epochs past it are trained again
     * (bit-identically), so their rows go. */
    char checkpoint[4096 + RUN_KEY_LEN + 32];
    train_state resume;
    int found = 0, rcode;
    sched_checkpoint_path(o->checkpoint_dir, o->sweep_id, o->keys[i], checkpoint,
                          sizeof checkpoint);
    sw_out_remove_temps(checkpoint);   /* the run is ours: a dead writer's leftovers go */
    rcode = trusted_checkpoint(sh, db, slot, i, checkpoint, train_config_states(&cfg), &resume,
                               &found, &err);
    cfg.resume = found ? &resume : NULL;
    double t0 = sw_now_seconds();
    if (o->on_start)
        o->on_start(o->ctx, slot, i);
    if (rcode == SW_OK)
        rcode = store_epochs_truncate(db, sh->run_ids[i], found ? resume.epoch : 0, &err);
    if (rcode == SW_OK) {
        run_ctx rc = {.sh = sh, .db = db, .slot = slot, .run = i, .checkpoint = checkpoint};
        train_hooks hooks = {.ctx = &rc, .on_batch = hook_batch, .on_layers = hook_layers,
                             .on_epoch = hook_epoch, .on_checkpoint = hook_checkpoint,
                             .stop = o->stop};
        rcode = train_run(&cfg, &train, &val, &test, o->threads, &hooks, &res, &err);
    }
    double wall = sw_now_seconds() - t0;
    train_state_free(&resume);

    if (rcode != SW_OK && stopping(sh)) {
        st = RUN_INTERRUPTED;   /* a wait for the database, ended by the stop */
    } else if (rcode != SW_OK) {
        st = RUN_FAILED;
        snprintf(msg, sizeof msg, "%s", err.msg);
    } else if (res.status == TRAIN_DIVERGED) {
        st = RUN_DIVERGED;
        snprintf(msg, sizeof msg, "loss became NaN or infinite in epoch %d", res.diverged_epoch);
    } else if (res.status == TRAIN_INTERRUPTED) {
        st = RUN_INTERRUPTED;
    } else {
        st = RUN_DONE;
    }
    sw_error ferr = {0};
    if (store_run_finish(db, sh->run_ids[i], st, &res, wall, msg[0] ? msg : NULL, &ferr) != SW_OK) {
        if (!stopping(sh))   /* else the run stays 'running', stale once we exit */
            fail_worker(sh, &ferr);
        st = RUN_FAILED;
        snprintf(msg, sizeof msg, "%s", ferr.msg);
    } else if (st == RUN_DONE) {
        sched_clean_checkpoint(checkpoint, o->keep_checkpoints);
    }
    pthread_mutex_lock(&sh->lock);
    sh->tally.trained++;
    sh->tally.done += st == RUN_DONE;
    sh->tally.failed += st == RUN_FAILED;
    sh->tally.diverged += st == RUN_DIVERGED;
    sh->tally.interrupted += st == RUN_INTERRUPTED;
    pthread_mutex_unlock(&sh->lock);
    if (o->on_finish)
        o->on_finish(o->ctx, slot, i, st, &res, msg[0] ? msg : NULL);
}

static void *worker(void *p)
{
    worker_arg *wa = p;
    shared_state *sh = wa->sh;
    store *db = NULL;
    sw_error err = {0};
    if (store_open(&db, sh->o->db_path, 0, &err) != SW_OK) {
        fail_worker(sh, &err);
        return NULL;
    }
    store_set_stop(db, sh->o->stop);
    for (int i; (i = next_run(sh)) >= 0;) {
        int claimed = 0;
        if (store_run_claim(db, sh->run_ids[i], sh->o->threads, &claimed, &err) != SW_OK) {
            if (!stopping(sh))
                fail_worker(sh, &err);
            break;
        }
        if (!claimed) {
            count(sh, &sh->tally.skipped);
            continue;
        }
        train_one(sh, db, wa->slot, i);
    }
    store_close(db);
    return NULL;
}

int sched_run(const sched_options *o, const dataset *d, const run_settings *runs,
              const long long *run_ids, const unsigned char *todo, int n,
              sched_tally *tally, sw_error *err)
{
    shared_state sh = {.o = o, .d = d, .runs = runs, .run_ids = run_ids, .todo = todo, .n = n};
    int jobs = o->jobs > 0 ? o->jobs : 1;
    pthread_t *tids = calloc((size_t)jobs, sizeof *tids);
    worker_arg *args = calloc((size_t)jobs, sizeof *args);
    int started = 0;

    memset(tally, 0, sizeof *tally);
    if (mkdir(o->checkpoint_dir, 0755) != 0 && errno != EEXIST) {
        free(tids);
        free(args);
        return sw_err(err, SW_EINPUT, "%s: cannot create the checkpoint folder: %s",
                      o->checkpoint_dir, strerror(errno));
    }
    if (checkpoint_dir_check(o->checkpoint_dir, err) != SW_OK) {
        free(tids);
        free(args);
        return err->code;
    }
    if (!tids || !args) {
        free(tids);
        free(args);
        return sw_oom(err, "scheduler");
    }
    pthread_mutex_init(&sh.lock, NULL);
    int thread_errno = 0;
    for (int j = 0; j < jobs && !thread_errno; j++) {
        args[j] = (worker_arg){&sh, j};
        thread_errno = pthread_create(&tids[j], NULL, worker, &args[j]);
        started += !thread_errno;
    }
    for (int j = 0; j < started; j++)
        pthread_join(tids[j], NULL);
    pthread_mutex_destroy(&sh.lock);
    free(tids);
    free(args);
    *tally = sh.tally;
    tally->jobs_started = started;
    tally->thread_errno = thread_errno;
    if (started == 0)
        return sw_err(err, SW_ERUN, "scheduler: cannot start worker threads: %s",
                      strerror(thread_errno));
    if (sh.err.code != SW_OK)
        return sw_err(err, sh.err.code, "%s", sh.err.msg);
    return SW_OK;
}
