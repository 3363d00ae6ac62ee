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

/* Mean loss and accuracy over a split; with stats, the activations of
 * every image also go into the model's layer statistics. */
static void evaluate_split(model *m, const data_split *s, int batch_size, float *xbuf,
                           uint8_t *ybuf, double *loss, double *accuracy, int stats)
{
    double sum = 0;
    long hits = 0;
    for (long start = 0; start < s->n; start += batch_size) {
        int count = (int)(s->n - start < batch_size ? s->n - start : batch_size);
        int correct = 0;
        data_batch_floats(xbuf, ybuf, s, NULL, start, count);
        model_forward(m, xbuf, count, 0, 0, 0);
        if (stats)
            model_stats_add_forward(m);
        sum += model_loss(m, ybuf, count, &correct, 0);
        hits += correct;
    }
    *loss = s->n ? sum / (double)s->n : NAN;
    *accuracy = s->n ? (double)hits / (double)s->n : NAN;
}

void evaluate(model *m, const data_split *s, int batch_size, float *xbuf, uint8_t *ybuf,
              double *loss, double *accuracy)
{
    evaluate_split(m, s, batch_size, xbuf, ybuf, loss, accuracy, 0);
}

/* Whether a saved state can go on as this run: the same parameter count,
 * the optimizer's moments, and the early-stopping state it needs. */
static int resumable(const train_state *r, long n, const optimizer *opt, const es_settings *es)
{
    if (!r || r->epoch <= 0 || r->n != n || !r->params || (opt->m && (!r->adam_m || !r->adam_v)))
        return 0;
    if (es->monitor != ES_OFF && (r->es.best_epoch < 1 || r->es.best_epoch > r->epoch ||
                                  r->es.wait < 0 || (es->restore_best && !r->best_params)))
        return 0;
    return 1;
}

int train_run(const train_config *cfg, const data_split *train, const data_split *val,
              const data_split *test, int threads, const train_hooks *hooks,
              train_result *res, sw_error *err)
{
    static const train_hooks no_hooks;
    model *m = NULL;
    optimizer opt = {0};
    long *order = NULL;
    float *xbuf = NULL, *best = NULL;
    uint8_t *ybuf = NULL;
    int bs = cfg->batch_size, stats = !cfg->skip_layer_stats;
    const es_settings *es_cfg = &cfg->early_stopping;
    int es_on = es_cfg->monitor != ES_OFF, stopped = 0;
    es_state es;
    layer_stat layers[MODEL_MAX_ACT_LAYERS];

    if (!hooks)
        hooks = &no_hooks;
    memset(res, 0, sizeof *res);
    es_init(&es);
    if (train->n < 1 || val->n < 1 || test->n < 1)
        return sw_err(err, SW_EINPUT, "train: empty training, validation or test set");
    if (es_on && es_cfg->patience < 1)
        return sw_err(err, SW_EINPUT, "train: early stopping needs a patience of at least 1");
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
    size_t param_bytes = sizeof(float) * (size_t)n;
    if (es_on && es_cfg->restore_best && !(best = malloc(param_bytes))) {
        sw_err(err, SW_ERUN, "train: out of memory");
        goto done;
    }
    /* a state that does not fit (another model) is ignored: start over */
    if (resumable(r, n, &opt, es_cfg)) {
        memcpy(model_params(m), r->params, param_bytes);
        if (opt.m) {
            memcpy(opt.m, r->adam_m, param_bytes);
            memcpy(opt.v, r->adam_v, param_bytes);
        }
        opt.t = r->t;
        if (es_on)
            es = r->es;
        if (best)
            memcpy(best, r->best_params, param_bytes);
        first_epoch = r->epoch + 1;
        res->epochs_done = r->epoch;
        stopped = es_stopped(es_cfg, &es);   /* it stopped, then the process died */
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
    for (int epoch = first_epoch; !stopped && epoch <= cfg->epochs; epoch++) {
        double t0 = now_seconds(), loss_sum = 0;
        long hits = 0;
        if (stats)
            model_stats_reset(m);
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
            if (stats)
                model_stats_add_grads(m);
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
        evaluate_split(m, val, bs, xbuf, ybuf, &em.val_loss, &em.val_accuracy, stats);
        if (stats)
            model_stats_read(m, layers);
        em.seconds = now_seconds() - t0;
        if (!isfinite(em.val_loss)) {
            res->status = TRAIN_DIVERGED;
            res->diverged_epoch = epoch;
            goto done;
        }
        int improved = 0;
        stopped = es_update(es_cfg, &es, epoch,
                            es_cfg->monitor == ES_VAL_ACCURACY ? em.val_accuracy : em.val_loss,
                            &improved);
        if (improved && best)
            memcpy(best, model_params(m), param_bytes);
        if (stats && hooks->on_layers)
            hooks->on_layers(hooks->ctx, epoch, layers, model_num_act_layers(m));
        if (hooks->on_epoch && hooks->on_epoch(hooks->ctx, epoch, &em, err) != SW_OK)
            goto done;
        res->epochs_done = epoch;
        if (hooks->on_checkpoint) {
            train_state st = {epoch, n, model_params(m), opt.m, opt.v, opt.t, es, best};
            if (hooks->on_checkpoint(hooks->ctx, &st, err) != SW_OK)
                goto done;
        }
    }
    if (es_on) {
        res->best_epoch = es.best_epoch;
        res->stopped_epoch = res->epochs_done;
    }
    if (best && es.best_epoch > 0)
        memcpy(model_params(m), best, param_bytes);
    evaluate(m, test, bs, xbuf, ybuf, &res->test_loss, &res->test_accuracy);

done:
    free(order);
    free(xbuf);
    free(ybuf);
    free(best);
    optim_free(&opt);
    model_free(m);
    return err->code;
}
