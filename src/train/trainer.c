/* trainer.c: the training loop. Everything random is keyed on (seed,
 * purpose, epoch or step, index), so a run is a pure function of its
 * settings, whatever the thread count. */
#include "train/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "base/rng.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The epoch's order: Fisher-Yates from the identity, keyed on the epoch, so
 * epoch e's order does not depend on earlier epochs (resumable). */
static void shuffle_order(long *order, long n, uint64_t seed, int epoch)
{
    for (long i = 0; i < n; i++)
        order[i] = i;
    for (long i = n - 1; i > 0; i--) {
        long j = (long)(rng_u64(seed, RNG_SHUFFLE, (uint64_t)epoch, (uint64_t)i) % (uint64_t)(i + 1));
        long t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

void evaluate(model *m, const data_split *s, int batch_size, float *xbuf, uint8_t *ybuf,
              double *loss, double *accuracy)
{
    double sum = 0;
    long hits = 0;
    for (long start = 0; start < s->n; start += batch_size) {
        int count = (int)(s->n - start < batch_size ? s->n - start : batch_size);
        int correct = 0;
        data_batch_floats(xbuf, ybuf, s, NULL, start, count);
        model_forward(m, xbuf, count, 0, 0, 0);
        sum += model_loss(m, ybuf, count, &correct, 0);
        hits += correct;
    }
    *loss = s->n ? sum / (double)s->n : NAN;
    *accuracy = s->n ? (double)hits / (double)s->n : NAN;
}

int train_run(const train_config *cfg, const data_split *train, const data_split *val,
              const data_split *test, int threads, const train_hooks *hooks,
              train_result *res, sw_error *err)
{
    static const train_hooks no_hooks;
    model *m = NULL;
    optimizer opt = {0};
    long *order = NULL;
    float *xbuf = NULL;
    uint8_t *ybuf = NULL;
    int bs = cfg->batch_size;

    if (!hooks)
        hooks = &no_hooks;
    memset(res, 0, sizeof *res);
    if (train->n < 1 || val->n < 1 || test->n < 1)
        return sw_err(err, SW_EINPUT, "train: empty training, validation or test set");
#ifdef _OPENMP
    if (threads > 0)
        omp_set_num_threads(threads);
#else
    (void)threads;
#endif
    if (model_create(&m, &cfg->model, bs, err) != SW_OK)
        return err->code;
    model_init_params(m, cfg->seed);
    if (optim_init(&opt, cfg->optimizer, cfg->learning_rate, model_num_params(m), err) != SW_OK)
        goto done;
    int first_epoch = 1;
    const train_state *r = cfg->resume;
    long n = model_num_params(m);
    /* a state that does not fit (another model) is ignored: start over */
    if (r && r->epoch > 0 && r->n == n && r->params && (!opt.m || (r->adam_m && r->adam_v))) {
        memcpy(model_params(m), r->params, sizeof(float) * (size_t)n);
        if (opt.m) {
            memcpy(opt.m, r->adam_m, sizeof(float) * (size_t)n);
            memcpy(opt.v, r->adam_v, sizeof(float) * (size_t)n);
        }
        opt.t = r->t;
        first_epoch = r->epoch + 1;
        res->epochs_done = r->epoch;
    }
    order = malloc(sizeof(long) * (size_t)train->n);
    xbuf = malloc(sizeof(float) * (size_t)bs * (size_t)train->pixels);
    ybuf = malloc((size_t)bs);
    if (!order || !xbuf || !ybuf) {
        sw_err(err, SW_ERUN, "train: out of memory");
        goto done;
    }

    long batches = (train->n + bs - 1) / bs;
    res->status = TRAIN_DONE;
    for (int epoch = first_epoch; epoch <= cfg->epochs; epoch++) {
        double t0 = now_seconds(), loss_sum = 0;
        long hits = 0;
        shuffle_order(order, train->n, cfg->seed, epoch);
        for (long b = 0; b < batches; b++) {
            long start = b * bs;
            int count = (int)(train->n - start < bs ? train->n - start : bs), correct = 0;
            uint64_t step = (uint64_t)(epoch - 1) * (uint64_t)batches + (uint64_t)b;
            data_batch_floats(xbuf, ybuf, train, order, start, count);
            model_forward(m, xbuf, count, 1, cfg->seed, step);
            double loss = model_loss(m, ybuf, count, &correct, 1);
            if (!isfinite(loss)) {
                res->status = TRAIN_DIVERGED;
                res->diverged_epoch = epoch;
                goto done;
            }
            optim_step(&opt, model_params(m), model_grads(m));
            loss_sum += loss;
            hits += correct;
            if (hooks->on_batch) {
                train_progress p = {epoch, cfg->epochs, (int)b + 1, (int)batches,
                                    loss_sum / (double)(start + count), now_seconds() - t0};
                hooks->on_batch(hooks->ctx, &p);
            }
            if (hooks->stop && *hooks->stop) {
                res->status = TRAIN_INTERRUPTED;
                goto done;
            }
        }
        epoch_metrics em;
        em.train_loss = loss_sum / (double)train->n;
        em.train_accuracy = (double)hits / (double)train->n;
        evaluate(m, val, bs, xbuf, ybuf, &em.val_loss, &em.val_accuracy);
        em.seconds = now_seconds() - t0;
        if (!isfinite(em.val_loss)) {
            res->status = TRAIN_DIVERGED;
            res->diverged_epoch = epoch;
            goto done;
        }
        if (hooks->on_epoch && hooks->on_epoch(hooks->ctx, epoch, &em, err) != SW_OK)
            goto done;
        res->epochs_done = epoch;
        if (hooks->on_checkpoint) {
            train_state st = {epoch, model_num_params(m), model_params(m), opt.m, opt.v, opt.t};
            if (hooks->on_checkpoint(hooks->ctx, &st, err) != SW_OK)
                goto done;
        }
    }
    evaluate(m, test, bs, xbuf, ybuf, &res->test_loss, &res->test_accuracy);

done:
    free(order);
    free(xbuf);
    free(ybuf);
    optim_free(&opt);
    model_free(m);
    return err->code;
}
