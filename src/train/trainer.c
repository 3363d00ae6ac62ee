/* trainer.c: the training loop. Everything random is keyed on (seed,
 * purpose, epoch or step, index), so a run is a pure function of its
 * settings, whatever the thread count. */
#include "train/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "base/clock.h"
#include "base/rng.h"

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
        if (stats)
            model_forward_stats(m, xbuf, count);
        else
            model_forward(m, xbuf, count, 0, 0, 0);
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

void train_config_hyper(const train_config *cfg, optim_hyper *h)
{
    optim_hyper_default(h);
    h->lr = cfg->learning_rate;
    h->momentum = cfg->momentum;
    h->weight_decay = cfg->weight_decay;
    h->nesterov = cfg->nesterov;
}

int train_config_states(const train_config *cfg)
{
    optim_hyper h;
    train_config_hyper(cfg, &h);
    return optim_states(cfg->optimizer, &h);
}

/* Whether a saved state can go on as this run: the same parameter count,
 * the optimizer's state, batch norm's statistics, and the early-stopping
 * state it needs. */
static int resumable(const train_state *r, long n, const optimizer *opt, long n_bn,
                     const es_settings *es)
{
    if (!r || r->epoch <= 0 || r->n != n || !r->params || (opt->s0 && !r->opt_s0) ||
        (opt->s1 && !r->opt_s1) || r->n_bn != n_bn || (n_bn && !r->bn_state))
        return 0;
    if (es->monitor != ES_OFF && (r->es.best_epoch < 1 || r->es.best_epoch > r->epoch ||
                                  r->es.wait < 0 || (es->restore_best && !r->best_params) ||
                                  (es->restore_best && n_bn && !r->best_bn)))
        return 0;
    return 1;
}

/* One training's working set. */
typedef struct {
    const train_config *cfg;
    const data_split *train, *val;
    const train_hooks *hooks;
    model *m;
    optimizer opt;
    long n;                  /* parameters */
    size_t param_bytes;
    long *order;             /* the epoch's image order, train->n */
    float *xbuf, *best;      /* a batch of images; the best weights or NULL */
    long n_bn;               /* batch norm's moving statistics */
    float *best_bn;          /* those of the best weights, or NULL */
    uint8_t *ybuf;           /* a batch of labels */
    int stats;               /* layer statistics wanted */
    es_state es;
    layer_stat layers[MODEL_MAX_ACT_LAYERS];
} trainer;

static void trainer_free(trainer *t)
{
    free(t->order);
    free(t->xbuf);
    free(t->ybuf);
    free(t->best);
    free(t->best_bn);
    optim_free(&t->opt);
    model_free(t->m);
}

/* Goes on from a saved state, when it fits this run; a state that does
 * not (another model) is ignored and the run starts over. Returns the
 * first epoch to train. */
static int trainer_resume(trainer *t, const train_state *r, train_result *res, int *stopped)
{
    const es_settings *es_cfg = &t->cfg->early_stopping;
    if (!resumable(r, t->n, &t->opt, t->n_bn, es_cfg))
        return 1;
    memcpy(model_params(t->m), r->params, t->param_bytes);
    if (t->opt.s0)
        memcpy(t->opt.s0, r->opt_s0, t->param_bytes);
    if (t->opt.s1)
        memcpy(t->opt.s1, r->opt_s1, t->param_bytes);
    if (t->n_bn)
        memcpy(model_bn_state(t->m), r->bn_state, sizeof(float) * (size_t)t->n_bn);
    if (t->best_bn)
        memcpy(t->best_bn, r->best_bn, sizeof(float) * (size_t)t->n_bn);
    t->opt.t = r->t;
    if (es_cfg->monitor != ES_OFF)
        t->es = r->es;
    if (t->best)
        memcpy(t->best, r->best_params, t->param_bytes);
    res->epochs_done = r->epoch;
    *stopped = es_stopped(es_cfg, &t->es);   /* it stopped, then the process died */
    return r->epoch + 1;
}

/* The model, its optimizer and the buffers; initial weights from the seed. */
static int trainer_setup(trainer *t, sw_error *err)
{
    const train_config *cfg = t->cfg;
    int bs = cfg->batch_size;
    if (model_create(&t->m, &cfg->model, bs, err) != SW_OK)
        return err->code;
    model_init_params(t->m, cfg->seed);
    t->n = model_num_params(t->m);
    t->n_bn = model_bn_state_size(t->m);
    t->param_bytes = sizeof(float) * (size_t)t->n;
    optim_hyper h;
    train_config_hyper(cfg, &h);
    if (optim_init_hyper(&t->opt, cfg->optimizer, &h, t->n, err) != SW_OK)
        return err->code;
    if (cfg->early_stopping.monitor != ES_OFF && cfg->early_stopping.restore_best &&
        (!(t->best = malloc(t->param_bytes)) ||
         (t->n_bn && !(t->best_bn = malloc(sizeof(float) * (size_t)t->n_bn)))))
        return sw_oom(err, "train: the best weights");
    t->order = malloc(sizeof(long) * (size_t)t->train->n);
    t->xbuf = malloc(sizeof(float) * (size_t)bs * (size_t)t->train->pixels);
    t->ybuf = malloc((size_t)bs);
    if (!t->order || !t->xbuf || !t->ybuf)
        return sw_oom(err, "train: the batch buffers");
    return SW_OK;
}

/* The batches of one epoch; the training loss and accuracy go to em.
 * Returns 0, or 1 when the run ends here (res->status says why). */
static int train_epoch(trainer *t, int epoch, double t0, epoch_metrics *em, train_result *res)
{
    const train_config *cfg = t->cfg;
    const data_split *train = t->train;
    const train_hooks *hooks = t->hooks;
    int bs = cfg->batch_size;
    long batches = (train->n + bs - 1) / bs, hits = 0;
    double loss_sum = 0;
    if (t->stats)
        model_stats_reset(t->m);
    /* per epoch, a function of the epoch alone: a resumed run gets the
     * same rate (the float rounding of a constant schedule is the base
     * rate itself, so runs without a schedule keep their bits) */
    t->opt.h.lr = (float)lr_at(&cfg->schedule, cfg->learning_rate, epoch - 1, cfg->epochs);
    shuffle_order(t->order, train->n, cfg->seed, epoch);
    for (long b = 0; b < batches; b++) {
        long start = b * bs;
        int count = (int)(train->n - start < bs ? train->n - start : bs), correct = 0;
        uint64_t step = (uint64_t)(epoch - 1) * (uint64_t)batches + (uint64_t)b;
        data_batch_floats_augmented(t->xbuf, t->ybuf, train, t->order, start, count,
                                    &cfg->augment, cfg->seed, epoch);
        model_forward(t->m, t->xbuf, count, 1, cfg->seed, step);
        double loss = model_loss(t->m, t->ybuf, count, &correct, 1);
        if (!isfinite(loss)) {
            res->status = TRAIN_DIVERGED;
            res->diverged_epoch = epoch;
            return 1;
        }
        if (t->stats)
            model_stats_add_grads(t->m);
        optim_step(&t->opt, model_params(t->m), model_grads(t->m));
        loss_sum += loss;
        hits += correct;
        if (hooks->on_batch) {
            train_progress p = {epoch, cfg->epochs, (int)b + 1, (int)batches,
                                loss_sum / (double)(start + count), sw_now_seconds() - t0};
            hooks->on_batch(hooks->ctx, &p);
        }
        if (hooks->stop && *hooks->stop) {
            res->status = TRAIN_INTERRUPTED;
            return 1;
        }
    }
    em->train_loss = loss_sum / (double)train->n;
    em->train_accuracy = (double)hits / (double)train->n;
    return 0;
}

/* After the batches: validation, early stopping, the hooks that record the
 * epoch and save the checkpoint. Returns 0, 1 when the run ends here
 * (diverged: res->status), or -1 when a hook failed (err set). */
static int end_epoch(trainer *t, int epoch, double t0, epoch_metrics *em, train_result *res,
                     int *stopped, sw_error *err)
{
    const es_settings *es_cfg = &t->cfg->early_stopping;
    const train_hooks *hooks = t->hooks;
    evaluate_split(t->m, t->val, t->cfg->batch_size, t->xbuf, t->ybuf, &em->val_loss,
                   &em->val_accuracy, t->stats);
    if (t->stats)
        model_stats_read(t->m, t->layers);
    em->seconds = sw_now_seconds() - t0;
    if (!isfinite(em->val_loss)) {
        res->status = TRAIN_DIVERGED;
        res->diverged_epoch = epoch;
        return 1;
    }
    int improved = 0;
    *stopped = es_update(es_cfg, &t->es, epoch,
                         es_cfg->monitor == ES_VAL_ACCURACY ? em->val_accuracy : em->val_loss,
                         &improved);
    if (improved && t->best)
        memcpy(t->best, model_params(t->m), t->param_bytes);
    if (improved && t->best_bn)
        memcpy(t->best_bn, model_bn_state(t->m), sizeof(float) * (size_t)t->n_bn);
    if (t->stats && hooks->on_layers)
        hooks->on_layers(hooks->ctx, epoch, t->layers, model_num_act_layers(t->m));
    if (hooks->on_epoch && hooks->on_epoch(hooks->ctx, epoch, em, err) != SW_OK)
        return -1;
    res->epochs_done = epoch;
    if (hooks->on_checkpoint) {
        train_state st = {epoch, t->n, model_params(t->m), t->opt.s0, t->opt.s1, t->opt.t,
                          t->es, t->best, t->n_bn, model_bn_state(t->m), t->best_bn};
        if (hooks->on_checkpoint(hooks->ctx, &st, err) != SW_OK)
            return -1;
    }
    return 0;
}

int train_run(const train_config *cfg, const data_split *train, const data_split *val,
              const data_split *test, int threads, const train_hooks *hooks,
              train_result *res, sw_error *err)
{
    static const train_hooks no_hooks;
    const es_settings *es_cfg = &cfg->early_stopping;
    int es_on = es_cfg->monitor != ES_OFF, stopped = 0;
    trainer t = {.cfg = cfg, .train = train, .val = val, .hooks = hooks ? hooks : &no_hooks,
                 .stats = !cfg->skip_layer_stats};

    memset(res, 0, sizeof *res);
    es_init(&t.es);
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
    if (trainer_setup(&t, err) != SW_OK)
        goto done;
    int first_epoch = trainer_resume(&t, cfg->resume, res, &stopped);
    res->status = TRAIN_DONE;
    for (int epoch = first_epoch; !stopped && epoch <= cfg->epochs; epoch++) {
        double t0 = sw_now_seconds();
        epoch_metrics em;
        if (train_epoch(&t, epoch, t0, &em, res) != 0 ||
            end_epoch(&t, epoch, t0, &em, res, &stopped, err) != 0)
            goto done;
    }
    if (es_on) {
        res->best_epoch = t.es.best_epoch;
        res->stopped_epoch = res->epochs_done;
    }
    if (t.best && t.es.best_epoch > 0)
        memcpy(model_params(t.m), t.best, t.param_bytes);
    if (t.best_bn && t.es.best_epoch > 0)
        memcpy(model_bn_state(t.m), t.best_bn, sizeof(float) * (size_t)t.n_bn);
    evaluate(t.m, test, cfg->batch_size, t.xbuf, t.ybuf, &res->test_loss, &res->test_accuracy);

done:
    trainer_free(&t);
    return err->code;
}
