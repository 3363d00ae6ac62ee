/* Tests of the model, the optimizers and the training loop, on small
 * synthetic data. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "base/rng.h"
#include "test.h"
#include "train/checkpoint.h"
#include "train/early_stop.h"
#include "train/trainer.h"
#include "../../src/train/model_internal.h"

/* A learnable synthetic set: class k is a bright bar in a class-specific
 * place over low noise (like tests/tools/synth_idx.c). */
typedef struct {
    uint8_t *images, *labels;
    data_split split;
} synth_set;

static void synth_make(synth_set *s, long n, int size, uint64_t seed)
{
    int pixels = size * size;
    s->images = malloc((size_t)n * (size_t)pixels);
    s->labels = malloc((size_t)n);
    for (long i = 0; i < n; i++) {
        int k = (int)(rng_u64(seed, 1, 0, (uint64_t)i) % 10);
        uint8_t *p = s->images + i * pixels;
        s->labels[i] = (uint8_t)k;
        for (int j = 0; j < pixels; j++)
            p[j] = (uint8_t)(rng_u64(seed, 2, (uint64_t)i, (uint64_t)j) % 40);
        int at = 2 + (k % 5) * (size - 4) / 5;
        for (int t = 0; t < size; t++)
            for (int w = 0; w < 2; w++) {
                int r = k < 5 ? at + w : t, c = k < 5 ? t : at + w;
                p[r * size + c] = 230;
            }
    }
    s->split = (data_split){s->images, s->labels, n, pixels, 1, size, size};
}

static void synth_free(synth_set *s)
{
    free(s->images);
    free(s->labels);
}

static void small_spec(model_spec *s, act_kind act)
{
    model_spec_default(s);
    s->in_h = s->in_w = 12;     /* 12 -> 10 -> 5 -> 3 -> 1 */
    s->shape.conv[0] = 3;
    s->shape.conv[1] = 4;
    s->shape.dense[0] = 6;
    s->act = act;
    s->alpha = act == ACT_LEAKY_RELU ? 0.1f : act == ACT_PRELU ? 0.25f : 1.0f;
    s->dropout = 0.3f;
}

static void test_default_model_layout(void)
{
    model_spec s;
    model *m = NULL;
    sw_error err = {0};
    model_spec_default(&s);
    CHECK_INT(model_create(&m, &s, 8, &err), SW_OK);
    if (!m)
        return;
    static const struct { const char *name; long size; } want[] = {
        {"conv1.weight", 32 * 9}, {"conv1.bias", 32},    {"conv2.weight", 64 * 32 * 9},
        {"conv2.bias", 64},       {"dense1.weight", 256 * 1600}, {"dense1.bias", 256},
        {"out.weight", 10 * 256}, {"out.bias", 10},
    };
    CHECK_INT(model_num_tensors(m), 8);
    long total = 0;
    for (int i = 0; i < 8 && i < model_num_tensors(m); i++) {
        CHECK_STR(model_tensor_at(m, i)->name, want[i].name);
        CHECK_INT(model_tensor_at(m, i)->size, want[i].size);
        CHECK(model_tensor_at(m, i)->offset % 16 == 0);
        total += want[i].size;
    }
    CHECK_INT(total, 431242);   /* the Keras model's parameter count */
    CHECK(model_num_params(m) >= total);
    model_free(m);

    s.act = ACT_PRELU;
    CHECK_INT(model_create(&m, &s, 8, &err), SW_OK);
    if (m) {
        CHECK_INT(model_num_tensors(m), 11);
        CHECK_STR(model_tensor_at(m, 2)->name, "conv1.prelu");
        CHECK_INT(model_tensor_at(m, 2)->size, 32);
        model_free(m);
    }
}

static void test_model_that_cannot_fit_is_refused(void)
{
    model_spec s;
    model *m = NULL;
    sw_error err = {0};
    model_spec_default(&s);
    s.shape.n_conv = 4;   /* 28 -> 13 -> 5 -> 1: a fourth block has nothing left */
    s.shape.conv[2] = s.shape.conv[3] = 64;
    CHECK_INT(model_create(&m, &s, 8, &err), SW_EINPUT);
    CHECK(m == NULL);
    CHECK(strstr(err.msg, "conv block 4") != NULL);
}

static void test_init_statistics(void)
{
    model_spec s;
    model *m = NULL;
    sw_error err = {0};
    model_spec_default(&s);
    s.act = ACT_PRELU;
    s.alpha = 0.2f;
    for (int init = 0; init < INIT_COUNT; init++) {
        s.init = (init_kind)init;
        CHECK_INT(model_create(&m, &s, 4, &err), SW_OK);
        if (!m)
            return;
        model_init_params(m, 42);
        for (int t = 0; t < model_num_tensors(m); t++) {
            const model_tensor *mt = model_tensor_at(m, t);
            const float *p = model_params(m) + mt->offset;
            double sum = 0, sum2 = 0, lim = 0;
            for (long i = 0; i < mt->size; i++) {
                sum += p[i];
                sum2 += (double)p[i] * p[i];
                lim = fabs(p[i]) > lim ? fabs(p[i]) : lim;
            }
            double mean = sum / mt->size, var = sum2 / mt->size;
            if (strstr(mt->name, ".prelu")) {
                CHECK_NEAR(mean, 0.2, 1e-7);
                CHECK_NEAR(var, 0.04, 1e-7);
            } else if (!mt->fan_in) {
                CHECK(var == 0);   /* biases zero */
            } else if (mt->size > 2000) {
                double want = init == INIT_HE      ? 2.0 / mt->fan_in
                              : init == INIT_LECUN ? 1.0 / mt->fan_in
                                                   : 2.0 / (mt->fan_in + mt->fan_out);
                CHECK_MSG(fabs(var / want - 1) < 0.1, "%s var %g want %g", mt->name, var, want);
                if (init == INIT_GLOROT)
                    CHECK(lim <= sqrt(6.0 / (mt->fan_in + mt->fan_out)));
            }
        }
        /* same seed, same weights; another seed, others */
        float first = model_params(m)[0];
        model_init_params(m, 42);
        CHECK(model_params(m)[0] == first);
        model_init_params(m, 43);
        CHECK(model_params(m)[0] != first);
        model_free(m);
    }
}

/* The init table: rows whole and named; each draws as its row says (He
 * normal on fan_in, Glorot uniform on fan_in + fan_out), bit for bit, and
 * the model draws each weight tensor with it. */
static void test_init_table(void)
{
    CHECK_INT(init_count(), INIT_COUNT);
    for (int k = 0; k < init_count(); k++) {
        const init_desc *d = init_info((init_kind)k);
        CHECK(d && d->kind == (init_kind)k && d->scale > 0);
        CHECK_INT(init_from_name(init_name((init_kind)k)), k);
    }
    CHECK_STR(init_name(INIT_HE), "he");
    CHECK_STR(init_name(INIT_GLOROT), "glorot");
    CHECK_STR(init_name(INIT_LECUN), "lecun");
    CHECK_INT(init_from_name("lecun"), INIT_LECUN);
    CHECK_STR(init_name(INIT_COUNT), "?");
    CHECK(init_info(INIT_COUNT) == NULL);
    CHECK_INT(init_from_name("xavier"), -1);
    CHECK_INT(init_from_name(NULL), -1);

    float w[300];
    init_fill(INIT_HE, w, 300, 9, 288, 5, 77);
    for (int i = 0; i < 300; i++)
        CHECK(w[i] == (float)(sqrt(2.0 / 9) * rng_normal(5, 77, 0, (uint64_t)i)));
    init_fill(INIT_GLOROT, w, 300, 9, 288, 5, 77);
    for (int i = 0; i < 300; i++)
        CHECK(w[i] == (float)(sqrt(6.0 / 297) * (2.0 * rng_uniform(5, 77, 0, (uint64_t)i) - 1.0)));
    init_fill(INIT_LECUN, w, 300, 9, 288, 5, 77);   /* LeCun normal: std sqrt(1/fan_in) */
    for (int i = 0; i < 300; i++)
        CHECK(w[i] == (float)(sqrt(1.0 / 9) * rng_normal(5, 77, 0, (uint64_t)i)));

    model_spec s;
    model *m = NULL;
    sw_error err = {0};
    model_spec_default(&s);
    s.init = INIT_GLOROT;
    CHECK_INT(model_create(&m, &s, 2, &err), SW_OK);
    if (!m)
        return;
    model_init_params(m, 9);
    const model_tensor *t = model_tensor_at(m, 2);   /* conv2.weight */
    float *want = malloc(sizeof(float) * (size_t)t->size);
    init_fill(INIT_GLOROT, want, t->size, t->fan_in, t->fan_out, 9, RNG_INIT + 2);
    CHECK(memcmp(want, model_params(m) + t->offset, sizeof(float) * (size_t)t->size) == 0);
    free(want);
    model_free(m);
}

/* The optimizer table: rows whole and named; moments where the row says. */
static void test_optim_table(void)
{
    CHECK_INT(optim_count(), OPT_COUNT);
    for (int k = 0; k < optim_count(); k++) {
        const optim_desc *d = optim_info((optim_kind)k);
        optimizer o;
        sw_error err = {0};
        CHECK(d && d->kind == (optim_kind)k && d->rule);
        CHECK_INT(optim_from_name(optim_name((optim_kind)k)), k);
        CHECK_INT(optim_init(&o, (optim_kind)k, 0.1f, 4, &err), SW_OK);
        int st = optim_states((optim_kind)k, &o.h);
        CHECK((o.s0 != NULL) == ((st & 1) != 0) && (o.s1 != NULL) == ((st & 2) != 0));
        CHECK(d->rule && optim_rule_find(d->name) == d->rule);
        optim_free(&o);
    }
    optim_hyper h;
    optim_hyper_default(&h);
    CHECK_INT(optim_states(OPT_ADAM, &h), 3);
    CHECK_INT(optim_states(OPT_ADAMW, &h), 3);
    CHECK_INT(optim_states(OPT_SGD, &h), 0);
    CHECK_INT(optim_states(OPT_RMSPROP, &h), 1);
    h.momentum = 0.9f;
    CHECK_INT(optim_states(OPT_SGD, &h), 1);
    CHECK_INT(optim_states(OPT_RMSPROP, &h), 3);
    CHECK(optim_info(OPT_COUNT) == NULL);
    CHECK_STR(optim_name(OPT_COUNT), "?");
    CHECK_INT(optim_from_name(NULL), -1);
}

/* One geometry for config and model: the default model, its text, its
 * fit, its parameter count (the model's tensors add up to it), and the
 * limits the model refuses past. */
static void test_model_shape(void)
{
    model_shape d;
    model_spec s;
    char text[128];
    int block = 0, bh = 0, bw = 0;
    model_shape_default(&d);
    model_spec_default(&s);
    CHECK(model_shape_equal(&d, &s.shape) && model_shape_is_default(&s.shape));
    model_shape_text(&d, text, sizeof text);
    CHECK_STR(text, "conv=32-64;dense=256");
    model_shape_yaml(&d, text, sizeof text);
    CHECK_STR(text, "{conv: [32, 64], dense: [256]}");
    CHECK(model_shape_params(&d, 28, 28, 10) == 431242);   /* 320 + 18496 + 409856 + 2570 */

    model *m = NULL;
    sw_error err = {0};
    CHECK_INT(model_create(&m, &s, 2, &err), SW_OK);
    if (m) {
        long sum = 0;
        for (int t = 0; t < model_num_tensors(m); t++)
            sum += model_tensor_at(m, t)->size;
        CHECK_INT(sum, 431242);
        model_free(m);
    }

    model_shape deep = d;
    deep.n_conv = 4;
    deep.conv[2] = deep.conv[3] = 8;
    CHECK(!model_shape_fits(&deep, 28, 28, &block, &bh, &bw));
    CHECK(block == 4 && bh == 1 && bw == 1);
    CHECK(model_shape_params(&deep, 28, 28, 10) < 0);
    deep.n_conv = 3;
    CHECK(model_shape_fits(&deep, 28, 28, &block, &bh, &bw));
    CHECK(!model_shape_fits(&deep, 20, 28, &block, &bh, &bw) && block == 3 && bh == 3);

    s.shape.conv[1] = MODEL_MAX_CHANNELS + 1;
    CHECK_INT(model_create(&m, &s, 2, &err), SW_EINPUT);
    CHECK(strstr(err.msg, "conv block 2 has 4097 channels") != NULL);
    model_spec_default(&s);
    s.shape.dense[0] = MODEL_MAX_WIDTH + 1;
    err = (sw_error){0};
    CHECK_INT(model_create(&m, &s, 2, &err), SW_EINPUT);
    CHECK(strstr(err.msg, "dense layer 1 has 65537 units") != NULL);
}

static double batch_loss(model *m, const float *x, const uint8_t *y, int B)
{
    int correct;
    model_forward(m, x, B, 1, 7, 3);
    return model_loss(m, y, B, &correct, 0);
}

/* The whole model's gradient against a central difference along random
 * directions, with dropout on (the same masks both ways). */
static void test_whole_model_gradient_check(void)
{
    for (int act = 0; act < ACT_COUNT; act++) {
        model_spec s;
        model *m = NULL;
        sw_error err = {0};
        synth_set d;
        small_spec(&s, (act_kind)act);
        CHECK_INT(model_create(&m, &s, 6, &err), SW_OK);
        if (!m)
            return;
        synth_make(&d, 6, 12, 5);
        float x[6 * 144];
        uint8_t y[6];
        data_batch_floats(x, y, &d.split, NULL, 0, 6);
        model_init_params(m, 11);
        long n = model_num_params(m);
        float *p = model_params(m), *g = malloc(sizeof(float) * n), *p0 = malloc(sizeof(float) * n);
        int correct;
        model_forward(m, x, 6, 1, 7, 3);
        model_loss(m, y, 6, &correct, 1);
        memcpy(g, model_grads(m), sizeof(float) * n);
        memcpy(p0, p, sizeof(float) * n);
        for (int dir = 0; dir < 3; dir++) {
            double gd = 0, h = 1e-2;
            float *u = malloc(sizeof(float) * n);
            for (long i = 0; i < n; i++) {
                u[i] = (float)rng_normal(99, (uint64_t)dir, 0, (uint64_t)i) * 0.05f;
                gd += (double)g[i] * u[i];
            }
            for (long i = 0; i < n; i++)
                p[i] = p0[i] + (float)h * u[i];
            double lp = batch_loss(m, x, y, 6) / 6;
            for (long i = 0; i < n; i++)
                p[i] = p0[i] - (float)h * u[i];
            double lm = batch_loss(m, x, y, 6) / 6;
            memcpy(p, p0, sizeof(float) * n);
            double fd = (lp - lm) / (2 * h);
            CHECK_MSG(fabs(fd - gd) <= 2e-2 * fabs(gd) + 1e-4, "%s dir %d: fd %g vs grad %g",
                      act_name((act_kind)act), dir, fd, gd);
            free(u);
        }
        free(g);
        free(p0);
        synth_free(&d);
        model_free(m);
    }
}

static void test_adam_first_step_by_hand(void)
{
    optimizer o;
    sw_error err = {0};
    float p[2] = {1.0f, -2.0f}, g[2] = {0.5f, -0.001f};
    CHECK_INT(optim_init(&o, OPT_ADAM, 1e-3f, 2, &err), SW_OK);
    optim_step(&o, p, g);
    /* m = 0.1 g, v = 0.001 g^2; mhat = g, vhat = g^2: p -= lr g / (|g| + eps) */
    CHECK_NEAR(p[0], 1.0 - 1e-3 * 0.5 / (0.5 + 1e-7), 1e-7);
    CHECK_NEAR(p[1], -2.0 + 1e-3 * 0.001 / (0.001 + 1e-7), 1e-7);
    /* second step with the same gradient moves by the same amount */
    optim_step(&o, p, g);
    CHECK_NEAR(p[0], 1.0 - 2e-3 * 0.5 / (0.5 + 1e-7), 2e-7);
    CHECK_INT(o.t, 2);
    optim_free(&o);

    CHECK_INT(optim_init(&o, OPT_SGD, 0.1f, 2, &err), SW_OK);
    p[0] = 1.0f;
    optim_step(&o, p, g);
    CHECK_NEAR(p[0], 0.95, 1e-7);
    optim_free(&o);
    CHECK_INT(optim_from_name("adam"), OPT_ADAM);
    CHECK_INT(optim_from_name("sgd"), OPT_SGD);
    CHECK_INT(optim_from_name("rmsprop"), OPT_RMSPROP);
    CHECK_INT(optim_from_name("adamw"), OPT_ADAMW);
    CHECK_INT(optim_from_name("nadam"), -1);
}

/* Three training steps of the full-size model; returns the parameters. */
static float *steps_with_threads(int threads, const data_split *d, act_kind act, long *n)
{
    model_spec s;
    model *m = NULL;
    optimizer o;
    sw_error err = {0};
    model_spec_default(&s);
    s.act = act;
    test_set_threads(threads);
    if (model_create(&m, &s, 32, &err) != SW_OK)
        return NULL;
    model_init_params(m, 3);
    optim_init(&o, OPT_ADAM, 1e-3f, model_num_params(m), &err);
    float *x = malloc(sizeof(float) * 32 * 784);
    uint8_t y[32];
    for (int step = 0; step < 3; step++) {
        int correct;
        data_batch_floats(x, y, d, NULL, step * 32 % (d->n - 32), 32);
        model_forward(m, x, 32, 1, 3, (uint64_t)step);
        model_loss(m, y, 32, &correct, 1);
        optim_step(&o, model_params(m), model_grads(m));
    }
    *n = model_num_params(m);
    float *out = malloc(sizeof(float) * *n);
    memcpy(out, model_params(m), sizeof(float) * *n);
    free(x);
    optim_free(&o);
    model_free(m);
    return out;
}

static void test_training_steps_bit_identical_across_threads(void)
{
    synth_set d;
    synth_make(&d, 128, 28, 9);
    for (int act = 0; act < ACT_COUNT; act++) {
        long n1 = 0, n2 = 0, n3 = 0;
        float *p1 = steps_with_threads(1, &d.split, (act_kind)act, &n1);
        float *p2 = steps_with_threads(2, &d.split, (act_kind)act, &n2);
        float *p3 = steps_with_threads(3, &d.split, (act_kind)act, &n3);
        CHECK(p1 && p2 && p3 && n1 == n2 && n2 == n3);
        if (p1 && p2 && p3) {
            CHECK_MSG(memcmp(p1, p2, sizeof(float) * n1) == 0, "%s: 1 vs 2 threads differ",
                      act_name((act_kind)act));
            CHECK_MSG(memcmp(p1, p3, sizeof(float) * n1) == 0, "%s: 1 vs 3 threads differ",
                      act_name((act_kind)act));
        }
        free(p1);
        free(p2);
        free(p3);
    }
    test_set_threads(1);
    synth_free(&d);
}

typedef struct {
    int epochs_seen;
    epoch_metrics last;
    int fail_at;
} hook_log;

static int log_epoch(void *ctx, int epoch, const epoch_metrics *m, sw_error *err)
{
    hook_log *h = ctx;
    h->epochs_seen = epoch;
    h->last = *m;
    if (h->fail_at == epoch)
        return sw_err(err, SW_ERUN, "store said no");
    return SW_OK;
}

static void tiny_config(train_config *c, act_kind act)
{
    memset(c, 0, sizeof *c);
    model_spec_default(&c->model);
    c->model.act = act;
    c->model.in_h = c->model.in_w = 16;
    c->model.shape.conv[0] = 8;
    c->model.shape.conv[1] = 8;
    c->model.shape.dense[0] = 32;
    c->optimizer = OPT_ADAM;
    c->learning_rate = 3e-3f;
    c->batch_size = 32;
    c->epochs = 3;
    c->seed = 1;
}

static void test_training_learns_and_reports_epochs(void)
{
    synth_set tr, va;
    synth_make(&tr, 400, 16, 1);
    synth_make(&va, 100, 16, 2);
    train_config c;
    tiny_config(&c, ACT_ELU);
    hook_log h = {0};
    train_hooks hooks = {.ctx = &h, .on_epoch = log_epoch};
    train_result r;
    sw_error err = {0};
    CHECK_INT(train_run(&c, &tr.split, &va.split, &va.split, 2, &hooks, &r, &err), SW_OK);
    CHECK_INT(r.status, TRAIN_DONE);
    CHECK_INT(r.epochs_done, 3);
    CHECK_INT(h.epochs_seen, 3);
    CHECK_MSG(h.last.val_accuracy > 0.8, "val accuracy %g", h.last.val_accuracy);
    CHECK(h.last.train_loss < 1.0 && h.last.seconds > 0);
    /* test set == validation set here, and test uses the final weights */
    CHECK(r.test_loss == h.last.val_loss);
    CHECK(r.test_accuracy == h.last.val_accuracy);

    /* an error from the epoch hook stops the run and comes back */
    hook_log fail = {.fail_at = 2};
    hooks.ctx = &fail;
    sw_error err2 = {0};
    CHECK_INT(train_run(&c, &tr.split, &va.split, &va.split, 1, &hooks, &r, &err2), SW_ERUN);
    CHECK_INT(fail.epochs_seen, 2);
    CHECK_STR(err2.msg, "store said no");
    synth_free(&tr);
    synth_free(&va);
}

static void test_divergence_and_interruption(void)
{
    synth_set tr;
    synth_make(&tr, 200, 16, 3);
    train_config c;
    tiny_config(&c, ACT_RELU);
    c.optimizer = OPT_SGD;
    c.learning_rate = 1e12f;
    train_result r;
    sw_error err = {0};
    CHECK_INT(train_run(&c, &tr.split, &tr.split, &tr.split, 1, NULL, &r, &err), SW_OK);
    CHECK_INT(r.status, TRAIN_DIVERGED);
    CHECK_INT(r.diverged_epoch, 1);

    volatile sig_atomic_t stop = 1;
    train_hooks hooks = {.stop = &stop};
    c.optimizer = OPT_ADAM;
    c.learning_rate = 1e-3f;
    CHECK_INT(train_run(&c, &tr.split, &tr.split, &tr.split, 1, &hooks, &r, &err), SW_OK);
    CHECK_INT(r.status, TRAIN_INTERRUPTED);
    CHECK_INT(r.epochs_done, 0);
    synth_free(&tr);
}

/* A whole run gives the same metrics, to the bit, with 1, 2 and 3 threads. */
static void test_run_metrics_bit_identical_across_threads(void)
{
    synth_set tr, va;
    synth_make(&tr, 150, 16, 4);
    synth_make(&va, 60, 16, 5);
    train_config c;
    tiny_config(&c, ACT_PRELU);
    c.epochs = 2;
    hook_log h[3] = {{0}};
    train_result r[3];
    for (int t = 0; t < 3; t++) {
        sw_error err = {0};
        train_hooks hooks = {.ctx = &h[t], .on_epoch = log_epoch};
        CHECK_INT(train_run(&c, &tr.split, &va.split, &va.split, t + 1, &hooks, &r[t], &err), SW_OK);
    }
    for (int t = 1; t < 3; t++) {
        CHECK(h[t].last.train_loss == h[0].last.train_loss);
        CHECK(h[t].last.val_loss == h[0].last.val_loss);
        CHECK(r[t].test_loss == r[0].test_loss);
    }
    test_set_threads(1);
    synth_free(&tr);
    synth_free(&va);
}

/* Keeps a copy of the state after a chosen epoch, then stops the run. */
typedef struct {
    int at;
    train_state saved;
    volatile sig_atomic_t stop;
} saver;

static int save_state(void *ctx, const train_state *st, sw_error *err)
{
    saver *sv = ctx;
    (void)err;
    if (st->epoch != sv->at)
        return SW_OK;
    size_t bytes = sizeof(float) * (size_t)st->n;
    sv->saved = *st;
    sv->saved.params = malloc(bytes);
    memcpy(sv->saved.params, st->params, bytes);
    sv->saved.opt_s0 = malloc(bytes);
    memcpy(sv->saved.opt_s0, st->opt_s0, bytes);
    sv->saved.opt_s1 = malloc(bytes);
    memcpy(sv->saved.opt_s1, st->opt_s1, bytes);
    sv->saved.best_params = NULL;
    if (st->best_params) {
        sv->saved.best_params = malloc(bytes);
        memcpy(sv->saved.best_params, st->best_params, bytes);
    }
    sv->stop = 1;
    return SW_OK;
}

/* Stopped after epoch 1, saved, written to disk and read back, resumed:
 * the same bits at the end as an unbroken run. */
static void test_resume_from_checkpoint_is_bit_identical(void)
{
    synth_set tr, va;
    synth_make(&tr, 160, 16, 6);
    synth_make(&va, 50, 16, 7);
    train_config c;
    tiny_config(&c, ACT_ELU);
    c.model.dropout = 0.25f;
    hook_log whole = {0}, resumed = {0};
    train_result r_whole, r_first, r_resumed;
    sw_error err = {0};
    train_hooks hooks = {.ctx = &whole, .on_epoch = log_epoch};
    CHECK_INT(train_run(&c, &tr.split, &va.split, &va.split, 2, &hooks, &r_whole, &err), SW_OK);

    saver sv = {.at = 1};
    train_hooks first = {.ctx = &sv, .on_checkpoint = save_state, .stop = &sv.stop};
    CHECK_INT(train_run(&c, &tr.split, &va.split, &va.split, 1, &first, &r_first, &err), SW_OK);
    CHECK_INT(r_first.status, TRAIN_INTERRUPTED);
    CHECK_INT(sv.saved.epoch, 1);

    char path[512];
    snprintf(path, sizeof path, "%s/resume.ckpt", test_tmpdir());
    CHECK_INT(checkpoint_write(path, "0123456789abcdef", &sv.saved, &err), SW_OK);
    train_state back;
    int found = 0;
    CHECK_INT(checkpoint_read(path, "0123456789abcdef", sv.saved.n, 3, &back, &found, &err), SW_OK);
    CHECK(found && back.epoch == 1 && back.t == sv.saved.t);
    if (found)
        CHECK(memcmp(back.opt_s1, sv.saved.opt_s1, sizeof(float) * (size_t)back.n) == 0);

    c.resume = found ? &back : &sv.saved;
    hooks.ctx = &resumed;
    CHECK_INT(train_run(&c, &tr.split, &va.split, &va.split, 3, &hooks, &r_resumed, &err), SW_OK);
    CHECK_INT(r_resumed.status, TRAIN_DONE);
    CHECK_INT(resumed.epochs_seen, c.epochs);
    CHECK(resumed.last.train_loss == whole.last.train_loss);
    CHECK(resumed.last.val_loss == whole.last.val_loss);
    CHECK(r_resumed.test_loss == r_whole.test_loss);
    CHECK(r_resumed.test_accuracy == r_whole.test_accuracy);
    train_state_free(&back);
    train_state_free(&sv.saved);
    synth_free(&tr);
    synth_free(&va);
}

static void test_checkpoint_refuses_damage_and_strangers(void)
{
    float p[5] = {1, 2, 3, 4, 5}, m[5] = {0}, v[5] = {0};
    train_state st = {.epoch = 3, .n = 5, .params = p, .opt_s0 = m, .opt_s1 = v, .t = 42}, back;
    char path[512];
    int found = 1;
    sw_error err = {0};
    snprintf(path, sizeof path, "%s/small.ckpt", test_tmpdir());
    CHECK_INT(checkpoint_write(path, "key-a", &st, &err), SW_OK);
    CHECK_INT(checkpoint_read(path, "key-a", 5, 3, &back, &found, &err), SW_OK);
    CHECK(found && back.epoch == 3 && back.t == 42 && back.params[4] == 5);
    train_state_free(&back);
    CHECK_INT(checkpoint_read(path, "key-b", 5, 3, &back, &found, &err), SW_OK);
    CHECK(!found && back.params == NULL);                 /* another run's */
    CHECK_INT(checkpoint_read(path, "key-a", 6, 3, &back, &found, &err), SW_OK);
    CHECK(!found);                                         /* another model */
    CHECK_INT(checkpoint_read(path, "key-a", 5, 0, &back, &found, &err), SW_OK);
    CHECK(!found);                                         /* SGD has no moments */
    FILE *f = fopen(path, "r+b");                          /* one flipped byte */
    if (f) {
        fseek(f, 70, SEEK_SET);
        int ch = fgetc(f);
        fseek(f, 70, SEEK_SET);
        fputc(ch ^ 0x10, f);
        fclose(f);
    }
    CHECK_INT(checkpoint_read(path, "key-a", 5, 3, &back, &found, &err), SW_OK);
    CHECK(!found);
    snprintf(path, sizeof path, "%s/none.ckpt", test_tmpdir());
    CHECK_INT(checkpoint_read(path, "key-a", 5, 3, &back, &found, &err), SW_OK);
    CHECK(!found);
    snprintf(path, sizeof path, "%s/no-such-folder/x.ckpt", test_tmpdir());
    CHECK_INT(checkpoint_write(path, "key-a", &st, &err), SW_ERUN);
    CHECK(strstr(err.msg, "no-such-folder") != NULL);
}

/* Issue 16: a checkpoint with a NaN or infinite value but a valid CRC is
 * refused like a damaged one; a link is not followed, a FIFO not waited
 * on; each says why. */
static void test_checkpoint_refuses_nonfinite_links_fifos(void)
{
    float p[5] = {1, 2, 3, 4, 5}, m[5] = {0}, v[5] = {0};
    train_state st = {.epoch = 2, .n = 5, .params = p, .opt_s0 = m, .opt_s1 = v, .t = 7}, back;
    char path[512], link[512], fifo[512], why[256];
    int found = 1;
    sw_error err = {0};
    const float bad[] = {NAN, INFINITY, -INFINITY};
    snprintf(path, sizeof path, "%s/nan.ckpt", test_tmpdir());
    for (int k = 0; k < 3; k++) {
        p[2] = bad[k];
        CHECK_INT(checkpoint_write(path, "key-n", &st, &err), SW_OK);
        CHECK_INT(checkpoint_load(path, "key-n", 5, 3, &back, &found, why, sizeof why, &err),
                  SW_OK);
        CHECK(!found && back.params == NULL);
        CHECK_MSG(strstr(why, "NaN or infinite") != NULL, "why: %s", why);
    }
    p[2] = 3;
    m[4] = NAN;   /* in the optimizer's moments too */
    CHECK_INT(checkpoint_write(path, "key-n", &st, &err), SW_OK);
    CHECK_INT(checkpoint_load(path, "key-n", 5, 3, &back, &found, why, sizeof why, &err), SW_OK);
    CHECK(!found);
    m[4] = 0;
    CHECK_INT(checkpoint_write(path, "key-n", &st, &err), SW_OK);
    CHECK_INT(checkpoint_load(path, "key-n", 5, 3, &back, &found, why, sizeof why, &err), SW_OK);
    CHECK(found && why[0] == '\0');
    train_state_free(&back);

    snprintf(link, sizeof link, "%s/link.ckpt", test_tmpdir());
    unlink(link);
    CHECK(symlink(path, link) == 0);
    CHECK_INT(checkpoint_load(link, "key-n", 5, 3, &back, &found, why, sizeof why, &err), SW_OK);
    CHECK(!found);
    CHECK_MSG(strstr(why, "symbolic link") != NULL, "why: %s", why);

    snprintf(fifo, sizeof fifo, "%s/fifo.ckpt", test_tmpdir());
    unlink(fifo);
    CHECK(mkfifo(fifo, 0600) == 0);
    CHECK_INT(checkpoint_load(fifo, "key-n", 5, 3, &back, &found, why, sizeof why, &err), SW_OK);
    CHECK(!found);
    CHECK_MSG(strstr(why, "not a plain file") != NULL, "why: %s", why);
    CHECK_INT(err.code, SW_OK);
}

/* The checkpoint folder must be ours, a real folder, closed to others. */
static void test_checkpoint_dir_check(void)
{
    char dir[512], link[512];
    sw_error err = {0};
    snprintf(dir, sizeof dir, "%s/ckdir", test_tmpdir());
    CHECK(mkdir(dir, 0700) == 0 || errno == EEXIST);
    chmod(dir, 0755);
    CHECK_INT(checkpoint_dir_check(dir, &err), SW_OK);
    chmod(dir, 0777);
    CHECK_INT(checkpoint_dir_check(dir, &err), SW_EINPUT);
    CHECK(strstr(err.msg, "others may write") != NULL);
    chmod(dir, 0775);
    sw_error e2 = {0};
    CHECK_INT(checkpoint_dir_check(dir, &e2), SW_EINPUT);
    chmod(dir, 0700);
    snprintf(link, sizeof link, "%s/ckdir-link", test_tmpdir());
    unlink(link);
    CHECK(symlink(dir, link) == 0);
    sw_error e3 = {0};
    CHECK_INT(checkpoint_dir_check(link, &e3), SW_EINPUT);
    CHECK(strstr(e3.msg, "symbolic link") != NULL);
}

/* ------------------------------------------------------------------ */
/* Looking inside: layer statistics.                                   */

static const model_tensor *tensor_named(const model *m, const char *name)
{
    for (int i = 0; i < model_num_tensors(m); i++)
        if (strcmp(model_tensor_at(m, i)->name, name) == 0)
            return model_tensor_at(m, i);
    return NULL;
}

/* ReLU with very negative conv1 biases: nothing fires, anywhere after. */
static void test_layer_stats_dead_layer(void)
{
    model_spec s;
    model *m = NULL;
    sw_error err = {0};
    synth_set d;
    small_spec(&s, ACT_RELU);
    CHECK_INT(model_create(&m, &s, 8, &err), SW_OK);
    if (!m)
        return;
    CHECK_INT(model_num_act_layers(m), 3);
    model_init_params(m, 5);
    const model_tensor *b = tensor_named(m, "conv1.bias");
    for (long i = 0; b && i < b->size; i++)
        model_params(m)[b->offset + i] = -1e6f;
    synth_make(&d, 8, 12, 3);
    float x[8 * 144];
    uint8_t y[8];
    data_batch_floats(x, y, &d.split, NULL, 0, 8);
    model_stats_reset(m);
    model_forward(m, x, 8, 0, 0, 0);
    model_stats_add_forward(m);
    layer_stat st[3];
    model_stats_read(m, st);
    static const char *const names[] = {"conv1", "conv2", "dense1"};
    for (int k = 0; k < 3; k++) {
        CHECK_STR(st[k].layer, names[k]);
        CHECK_MSG(st[k].dead_fraction == 1.0, "%s dead %g", names[k], st[k].dead_fraction);
        CHECK_MSG(st[k].mean_activation == 0.0, "%s mean %g", names[k], st[k].mean_activation);
        CHECK(isnan(st[k].grad_norm));   /* no backward seen */
    }
    /* the same model with its biases back: conv1 comes alive */
    model_init_params(m, 5);
    model_stats_reset(m);
    model_forward(m, x, 8, 0, 0, 0);
    model_stats_add_forward(m);
    model_stats_read(m, st);
    CHECK_MSG(st[0].dead_fraction < 1.0 && st[0].mean_activation > 0, "conv1 dead %g mean %g",
              st[0].dead_fraction, st[0].mean_activation);
    synth_free(&d);
    model_free(m);
}

/* Evaluation with the statistics taken in the forward (model_forward_stats,
 * as validation runs) gives the bits of model_forward, then
 * model_stats_add_forward: the loss, the statistics, at 1 and 2 threads,
 * for every activation, with and without batch norm, on a batch that is
 * not a whole number of the fused pass's planes, with the conv layers
 * really taken in the forward. */
static void test_forward_stats_same_bits(void)
{
    enum { B = 37 };
    synth_set d;
    synth_make(&d, B, 28, 3);
    float *x = malloc(sizeof(float) * B * 28 * 28);
    uint8_t y[B];
    if (!x)
        return;
    data_batch_floats(x, y, &d.split, NULL, 0, B);
    for (int act = 0; act < ACT_COUNT; act++)
        for (int bn = 0; bn < 2; bn++)
            for (int threads = 1; threads <= 2; threads++) {
                model_spec s;
                model *m = NULL;
                sw_error err = {0};
                small_spec(&s, (act_kind)act);
                s.in_h = s.in_w = 28;   /* rows of 26 and 11: vector bodies and tails */
                s.shape.conv[0] = 8;    /* room in grad_a for 2 threads' planes */
                s.batchnorm = bn;
                if (model_create(&m, &s, B, &err) != SW_OK) {
                    CHECK_MSG(0, "%s", err.msg);
                    break;
                }
                model_init_params(m, 7);
#ifdef _OPENMP
                omp_set_num_threads(threads);
#endif
                layer_stat want[3], got[3];
                int correct;
                model_stats_reset(m);
                model_forward(m, x, B, 0, 0, 0);
                model_stats_add_forward(m);
                double loss_want = model_loss(m, y, B, &correct, 0);
                model_stats_read(m, want);
                model_stats_reset(m);
                model_forward_stats(m, x, B);
                double loss_got = model_loss(m, y, B, &correct, 0);
                model_stats_read(m, got);
                int same = memcmp(&loss_want, &loss_got, sizeof loss_got) == 0;
                for (int k = 0; k < 3; k++)   /* the doubles' bits (not the names' padding) */
                    same &= memcmp(&want[k].mean_activation, &got[k].mean_activation,
                                   sizeof(double)) == 0 &&
                            memcmp(&want[k].dead_fraction, &got[k].dead_fraction,
                                   sizeof(double)) == 0;
                int taken = m->act[0].collected && m->act[1].collected && !m->act[2].collected;
                CHECK_MSG(taken && same,
                          "%s, batch norm %d, %d threads: convs taken in the forward %d, loss "
                          "%.17g / %.17g, conv1 mean %.17g / %.17g, dead %g / %g",
                          act_name((act_kind)act), bn, threads, taken, loss_want, loss_got,
                          want[0].mean_activation, got[0].mean_activation,
                          want[0].dead_fraction, got[0].dead_fraction);
                model_free(m);
            }
#ifdef _OPENMP
    omp_set_num_threads(omp_get_num_procs());
#endif
    free(x);
    synth_free(&d);
}

/* conv1 biases far out on a flat side: every conv1 unit dead (both ends
 * for tanh); leaky_relu's slope keeps it alive. */
static void test_layer_stats_dead_every_activation(void)
{
    for (int act = 0; act < ACT_COUNT; act++)
        for (int side = -1; side <= 1; side += 2) {
            model_spec s;
            model *m = NULL;
            sw_error err = {0};
            synth_set d;
            small_spec(&s, (act_kind)act);
            if (model_create(&m, &s, 4, &err) != SW_OK) {
                CHECK_MSG(0, "%s", err.msg);
                return;
            }
            model_init_params(m, 5);
            const model_tensor *b = tensor_named(m, "conv1.bias");
            for (long i = 0; b && i < b->size; i++)
                model_params(m)[b->offset + i] = side * 1e4f;
            synth_make(&d, 4, 12, 3);
            float x[4 * 144];
            uint8_t y[4];
            data_batch_floats(x, y, &d.split, NULL, 0, 4);
            model_stats_reset(m);
            model_forward(m, x, 4, 0, 0, 0);
            model_stats_add_forward(m);
            layer_stat st[3];
            model_stats_read(m, st);
            double want = side > 0 ? (act == ACT_TANH ? 1.0 : 0.0)
                                   : (act == ACT_LEAKY_RELU || act == ACT_PRELU ? 0.0 : 1.0);
            CHECK_MSG(st[0].dead_fraction == want, "%s, biases %+g: conv1 dead %g, want %g",
                      act_name((act_kind)act), side * 1e4, st[0].dead_fraction, want);
            synth_free(&d);
            model_free(m);
        }
}

/* One unit's activation at v, and whether it is live there (model.h: the
 * derivative at least 1e-3 in magnitude), from the kernels themselves on
 * one element: f(v) and f'(v) = the backward of a gradient of 1. */
static double unit_act(const act_params *a, double v, int *live)
{
    float x = (float)v, y, d, one = 1.0f;
    act_forward(a, &y, &x, 1, 1);
    act_backward(a, &d, NULL, &one, &x, &y, 1, 1);
    *live = fabsf(d) >= 1e-3f;
    return y;
}

/* The tiny model's statistics by hand, in double (each sum's activation by
 * its kernel), over its 5 images x: the sums of the conv1 and dense1
 * outputs, and which units were ever live. */
typedef struct {
    double conv_sum, dense_sum;
    int conv_dead, dense_dead, dense3_fired;
} hand_stats;

static hand_stats stats_by_hand(const float *p, const model_tensor *cw, const model_tensor *cb,
                                const model_tensor *dw, const model_tensor *db,
                                const act_params *conv_a, const act_params *dense_a,
                                const float *x)
{
    /* by hand, in double (the activation of each sum by its kernel), for all 5 images */
    double conv_sum = 0, dense_sum = 0;
    int conv_fired[3][16] = {{0}}, dense_fired[4] = {0};
    for (int b = 0; b < 5; b++) {
        double post[3][16], flat[12];
        for (int c = 0; c < 3; c++)
            for (int yy = 0; yy < 4; yy++)
                for (int xx = 0; xx < 4; xx++) {
                    double v = p[cb->offset + c];
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++)
                            v += (double)p[cw->offset + c * 9 + ky * 3 + kx] *
                                 x[b * 36 + (yy + ky) * 6 + xx + kx];
                    int live;
                    act_params one = *conv_a;
                    if (one.prelu_alpha)
                        one.prelu_alpha += c;
                    double a = unit_act(&one, v, &live);
                    post[c][yy * 4 + xx] = a;
                    conv_sum += a;
                    conv_fired[c][yy * 4 + xx] |= live;
                }
        for (int c = 0; c < 3; c++)
            for (int py = 0; py < 2; py++)
                for (int px = 0; px < 2; px++) {
                    double mx = -INFINITY;
                    for (int dy = 0; dy < 2; dy++)
                        for (int dx = 0; dx < 2; dx++) {
                            double v = post[c][(2 * py + dy) * 4 + 2 * px + dx];
                            mx = v > mx ? v : mx;
                        }
                    flat[c * 4 + py * 2 + px] = mx;
                }
        for (int j = 0; j < 4; j++) {
            double v = p[db->offset + j];
            for (int i = 0; i < 12; i++)
                v += (double)p[dw->offset + j * 12 + i] * flat[i];
            int live;
            act_params one = *dense_a;
            if (one.prelu_alpha)
                one.prelu_alpha += j;
            double a = unit_act(&one, v, &live);
            dense_sum += a;
            dense_fired[j] |= live;
        }
    }
    hand_stats h = {conv_sum, dense_sum, 0, 0, dense_fired[3]};
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 16; i++)
            h.conv_dead += !conv_fired[c][i];
    for (int j = 0; j < 4; j++)
        h.dense_dead += !dense_fired[j];
    return h;
}

/* A tiny model (6x6 -> conv 3 -> 4x4 -> pool 2x2 -> dense 4 -> 3 classes)
 * computed by hand for every activation: mean activation and dead units
 * over two batches, and the mean weight-gradient norm over two backward
 * passes. */
static void test_layer_stats_match_direct_computation(void)
{
    for (int act = 0; act < ACT_COUNT; act++) {
        model_spec s;
        model *m = NULL;
        sw_error err = {0};
        model_spec_default(&s);
        s.in_h = s.in_w = 6;
        s.shape.n_conv = 1;
        s.shape.conv[0] = 3;
        s.shape.n_dense = 1;
        s.shape.dense[0] = 4;
        s.n_classes = 3;
        s.act = (act_kind)act;
        s.alpha = act_info(s.act)->takes_alpha ? (float)act_info(s.act)->default_alpha : 0.0f;
        s.dropout = 0;
        CHECK_INT(model_create(&m, &s, 5, &err), SW_OK);
        if (!m)
            return;
        model_init_params(m, 17);
        float *p = model_params(m);
        const model_tensor *cw = tensor_named(m, "conv1.weight"), *cb = tensor_named(m, "conv1.bias"),
                           *dw = tensor_named(m, "dense1.weight"), *db = tensor_named(m, "dense1.bias");
        CHECK(cw && cb && dw && db);
        if (!cw || !cb || !dw || !db)
            return;
        const model_tensor *cp = tensor_named(m, "conv1.prelu"), *dp = tensor_named(m, "dense1.prelu");
        if (act == ACT_PRELU && cp && dp) {   /* one channel, one unit with a flat left side */
            p[cp->offset + 1] = 1e-4f;
            p[dp->offset + 3] = -5e-4f;
        }
        act_params conv_a = {s.act, s.alpha, cp ? p + cp->offset : NULL};
        act_params dense_a = {s.act, s.alpha, dp ? p + dp->offset : NULL};
        /* channel 0 alive, channel 1 deep in the left tail, channel 2 mixed
         * (for relu); dense unit 3 deep in the left tail */
        p[cb->offset + 0] = 0.1f;
        p[cb->offset + 1] = -12.0f;
        p[cb->offset + 2] = -0.05f;
        for (int j = 0; j < 4; j++)
            p[db->offset + j] = j == 3 ? -50.0f : 0.02f * (float)j;
        float x[5 * 36];
        for (int i = 0; i < 5 * 36; i++)
            x[i] = (float)rng_uniform(23, 1, 0, (uint64_t)i) * 2.0f - 0.5f;

        hand_stats h = stats_by_hand(p, cw, cb, dw, db, &conv_a, &dense_a, x);
        double conv_sum = h.conv_sum, dense_sum = h.dense_sum;
        int conv_dead = h.conv_dead, dense_dead = h.dense_dead;
        if (act == ACT_LEAKY_RELU) {   /* slope 0.3 on the left: never dead */
            CHECK_INT(conv_dead, 0);
        } else {
            CHECK_MSG(conv_dead >= 16 && conv_dead < 48, "%s: %d dead",   /* not trivial */
                      act_name((act_kind)act), conv_dead);
            CHECK_INT(h.dense3_fired, 0);
        }

        /* the model: the same 5 images in batches of 3 and 2 */
        model_stats_reset(m);
        model_forward(m, x, 3, 0, 0, 0);
        model_stats_add_forward(m);
        model_forward(m, x + 3 * 36, 2, 0, 0, 0);
        model_stats_add_forward(m);
        layer_stat st[2];
        model_stats_read(m, st);
        CHECK_STR(st[0].layer, "conv1");
        CHECK_STR(st[1].layer, "dense1");
        CHECK_NEAR(st[0].mean_activation, conv_sum / (5.0 * 48), 1e-5);
        CHECK_NEAR(st[1].mean_activation, dense_sum / (5.0 * 4), 2e-5);
        CHECK_MSG(st[0].dead_fraction == conv_dead / 48.0, "%s: conv1 dead %g, by hand %g",
                  act_name((act_kind)act), st[0].dead_fraction, conv_dead / 48.0);
        CHECK_MSG(st[1].dead_fraction == dense_dead / 4.0, "%s: dense1 dead %g, by hand %g",
                  act_name((act_kind)act), st[1].dead_fraction, dense_dead / 4.0);

        /* gradient norms: the mean over two backward passes */
        uint8_t y[5] = {0, 1, 2, 1, 0};
        double norm[2][2];
        for (int pass = 0; pass < 2; pass++) {
            int correct;
            model_forward(m, x + pass * 36, 3, 1, 1, (uint64_t)pass);
            model_loss(m, y + pass, 3, &correct, 1);
            model_stats_add_grads(m);
            const model_tensor *w[2] = {cw, dw};
            for (int k = 0; k < 2; k++) {
                double ss = 0;
                for (long i = 0; i < w[k]->size; i++)
                    ss += (double)model_grads(m)[w[k]->offset + i] * model_grads(m)[w[k]->offset + i];
                norm[pass][k] = sqrt(ss);
            }
        }
        model_stats_read(m, st);
        for (int k = 0; k < 2; k++) {
            double want = (norm[0][k] + norm[1][k]) / 2;
            CHECK_MSG(want > 0 && fabs(st[k].grad_norm - want) <= 1e-12 * want,
                      "%s: grad norm %.17g, by hand %.17g", st[k].layer, st[k].grad_norm, want);
        }
        model_free(m);
    }
}

typedef struct {
    int epochs;
    int n_layers;
    layer_stat layers[8][MODEL_MAX_ACT_LAYERS];
    epoch_metrics m[16];
} stat_log;

static void log_layers(void *ctx, int epoch, const layer_stat *layers, int n_layers)
{
    stat_log *l = ctx;
    if (epoch >= 1 && epoch <= 8 && n_layers <= MODEL_MAX_ACT_LAYERS) {
        memcpy(l->layers[epoch - 1], layers, sizeof *layers * (size_t)n_layers);
        l->n_layers = n_layers;
    }
}

static int log_metrics(void *ctx, int epoch, const epoch_metrics *m, sw_error *err)
{
    stat_log *l = ctx;
    (void)err;
    if (epoch >= 1 && epoch <= 16)
        l->m[epoch - 1] = *m;
    l->epochs = epoch;
    return SW_OK;
}

/* The statistics of a whole run, to the bit, with 1, 2 and 3 threads, on a
 * model big enough for the parallel paths (conv1 has 8 x 32 x 26 x 26
 * outputs per batch, dense1 25600 weights). */
/* elu runs in place (stats from y), gelu keeps its input (stats from x) */
static void layer_stats_bit_identical(act_kind act)
{
    synth_set tr, va;
    synth_make(&tr, 96, 28, 11);
    synth_make(&va, 70, 28, 12);
    train_config c;
    tiny_config(&c, act);
    c.model.in_h = c.model.in_w = 28;
    c.model.shape.conv[0] = 8;
    c.model.shape.conv[1] = 16;
    c.model.shape.dense[0] = 64;
    c.epochs = 2;
    stat_log *l = calloc(3, sizeof *l);
    if (!l)
        return;
    for (int t = 0; t < 3; t++) {
        sw_error err = {0};
        train_result r;
        train_hooks hooks = {.ctx = &l[t], .on_layers = log_layers, .on_epoch = log_metrics};
        CHECK_INT(train_run(&c, &tr.split, &va.split, &va.split, t + 1, &hooks, &r, &err), SW_OK);
        CHECK_INT(l[t].n_layers, 3);
        CHECK_INT(l[t].epochs, 2);
    }
    for (int t = 1; t < 3; t++)
        CHECK_MSG(memcmp(l[0].layers, l[t].layers, sizeof l[0].layers) == 0,
                  "%s: layer statistics differ between 1 and %d threads", act_name(act), t + 1);
    for (int e = 0; e < 2; e++)
        for (int k = 0; k < 3; k++) {
            const layer_stat *st = &l[0].layers[e][k];
            CHECK(st->dead_fraction >= 0 && st->dead_fraction <= 1);
            CHECK(isfinite(st->mean_activation) && st->grad_norm > 0);
        }
    /* skip_layer_stats: no calls, the same training */
    stat_log *none = calloc(1, sizeof *none);
    if (none) {
        sw_error err = {0};
        train_result r;
        c.skip_layer_stats = 1;
        train_hooks hooks = {.ctx = none, .on_layers = log_layers, .on_epoch = log_metrics};
        CHECK_INT(train_run(&c, &tr.split, &va.split, &va.split, 2, &hooks, &r, &err), SW_OK);
        CHECK_INT(none->n_layers, 0);
        CHECK(none->m[1].val_loss == l[0].m[1].val_loss);
        free(none);
    }
    test_set_threads(1);
    free(l);
    synth_free(&tr);
    synth_free(&va);
}

static void test_layer_stats_bit_identical_across_threads(void)
{
    layer_stats_bit_identical(ACT_ELU);
    layer_stats_bit_identical(ACT_GELU);
}

/* ------------------------------------------------------------------ */
/* Early stopping.                                                     */

/* Feeds a scripted sequence; returns the epoch it stops after (0: never),
 * with the improvement flags in improved[]. */
static int es_script(const es_settings *cfg, const double *v, int n, es_state *st,
                     int *improved)
{
    es_init(st);
    for (int e = 1; e <= n; e++)
        if (es_update(cfg, st, e, v[e - 1], &improved[e - 1]))
            return e;
    return 0;
}

static void test_early_stopping_decisions(void)
{
    es_state st;
    int imp[8];
    /* val_loss, patience 3: equal is not better; stops after 3 epochs without */
    es_settings loss3 = {ES_VAL_LOSS, 3, 0};
    const double a[] = {1.0, 0.8, 0.85, 0.8, 0.9, 0.1};
    CHECK_INT(es_script(&loss3, a, 6, &st, imp), 5);
    CHECK(imp[0] && imp[1] && !imp[2] && !imp[3] && !imp[4]);
    CHECK_INT(st.best_epoch, 2);
    CHECK(st.best == 0.8);
    CHECK_INT(st.wait, 3);
    CHECK(es_stopped(&loss3, &st));
    /* an improvement resets the count */
    const double b[] = {1.0, 1.1, 1.2, 0.9, 1.0, 1.1, 1.2};
    CHECK_INT(es_script(&loss3, b, 7, &st, imp), 7);
    CHECK_INT(st.best_epoch, 4);
    /* val_accuracy: higher is better */
    es_settings acc2 = {ES_VAL_ACCURACY, 2, 1};
    const double c[] = {0.5, 0.6, 0.6, 0.7, 0.65, 0.7};
    CHECK_INT(es_script(&acc2, c, 6, &st, imp), 6);
    CHECK_INT(st.best_epoch, 4);
    CHECK(st.best == 0.7);
    /* patience 1: the first epoch without improvement */
    es_settings acc1 = {ES_VAL_ACCURACY, 1, 0};
    CHECK_INT(es_script(&acc1, c, 6, &st, imp), 3);
    CHECK_INT(st.best_epoch, 2);
    /* NaN never improves, the first finite value always does */
    const double d[] = {NAN, 2.0, NAN, 3.0};
    CHECK_INT(es_script(&loss3, d, 4, &st, imp), 0);
    CHECK(!imp[0] && imp[1] && !imp[2] && !imp[3]);
    CHECK_INT(st.best_epoch, 2);
    /* never improving after the first: stops after 1 + patience */
    const double e[] = {1, 2, 3, 4, 5};
    CHECK_INT(es_script(&loss3, e, 5, &st, imp), 4);
    /* off: never stops, records nothing */
    es_settings off = {ES_OFF, 0, 0};
    CHECK_INT(es_script(&off, e, 5, &st, imp), 0);
    CHECK_INT(st.best_epoch, 0);
    CHECK(!es_stopped(&off, &st));
    /* a zeroed state is a fresh one */
    es_state zero = {0};
    int improved = 0;
    CHECK_INT(es_update(&loss3, &zero, 1, 5.0, &improved), 0);
    CHECK(improved && zero.best_epoch == 1 && zero.best == 5.0);
    CHECK_STR(es_monitor_name(ES_VAL_LOSS), "val_loss");
    CHECK_STR(es_monitor_name(ES_VAL_ACCURACY), "val_accuracy");
    CHECK(es_monitor_name(ES_OFF) == NULL);
    CHECK_INT(es_monitor_from_name("val_accuracy"), ES_VAL_ACCURACY);
    CHECK_INT(es_monitor_from_name("loss"), -1);
}

/* A real run with early stopping: it stops where the decision on its own
 * recorded metrics says, and with restore_best the test scores (test set =
 * validation set here) are exactly those of the best epoch. */
static void test_early_stopping_real_run(void)
{
    synth_set tr, va;
    synth_make(&tr, 200, 16, 21);
    synth_make(&va, 60, 16, 22);
    for (int restore = 0; restore <= 1; restore++) {
        train_config c;
        tiny_config(&c, ACT_RELU);
        c.epochs = 12;
        c.optimizer = OPT_SGD;
        c.learning_rate = 0.05f;
        c.early_stopping = (es_settings){ES_VAL_ACCURACY, 1, restore};
        stat_log l = {0};
        train_hooks hooks = {.ctx = &l, .on_epoch = log_metrics};
        train_result r;
        sw_error err = {0};
        CHECK_INT(train_run(&c, &tr.split, &va.split, &va.split, 2, &hooks, &r, &err), SW_OK);
        CHECK_INT(r.status, TRAIN_DONE);
        /* replay the decision on the recorded sequence */
        es_state st;
        es_init(&st);
        int stop_at = 0;
        for (int e = 1; e <= l.epochs && !stop_at; e++)
            if (es_update(&c.early_stopping, &st, e, l.m[e - 1].val_accuracy, NULL))
                stop_at = e;
        CHECK_MSG(stop_at > 0 && stop_at < c.epochs, "the run did not stop early (%d epochs)",
                  l.epochs);
        CHECK_INT(l.epochs, stop_at);
        CHECK_INT(r.epochs_done, stop_at);
        CHECK_INT(r.stopped_epoch, stop_at);
        CHECK_INT(r.best_epoch, st.best_epoch);
        CHECK(r.best_epoch >= 1 && r.best_epoch < r.stopped_epoch);
        int from = restore ? r.best_epoch : r.stopped_epoch;
        if (from >= 1 && from <= 16) {
            CHECK_MSG(r.test_loss == l.m[from - 1].val_loss,
                      "restore_best %d: test loss %.17g, epoch %d's val loss %.17g", restore,
                      r.test_loss, from, l.m[from - 1].val_loss);
            CHECK(r.test_accuracy == l.m[from - 1].val_accuracy);
        }
    }
    /* without early stopping: no best or stopped epoch */
    train_config c;
    tiny_config(&c, ACT_RELU);
    c.epochs = 1;
    train_result r;
    sw_error err = {0};
    CHECK_INT(train_run(&c, &tr.split, &va.split, &va.split, 1, NULL, &r, &err), SW_OK);
    CHECK(r.best_epoch == 0 && r.stopped_epoch == 0);
    /* patience 0 is refused (the config refuses it first) */
    c.early_stopping = (es_settings){ES_VAL_LOSS, 0, 0};
    CHECK_INT(train_run(&c, &tr.split, &va.split, &va.split, 1, NULL, &r, &err), SW_EINPUT);
    test_set_threads(1);
    synth_free(&tr);
    synth_free(&va);
}

/* Interrupted after epoch 2 with early stopping (restore_best) on, through
 * a checkpoint file, resumed: the same bits as an unbroken run. And a
 * state saved after the stopping epoch trains no more on resume. */
static void test_early_stopping_resume_is_bit_identical(void)
{
    synth_set tr, va;
    synth_make(&tr, 200, 16, 21);
    synth_make(&va, 60, 16, 22);
    train_config c;
    tiny_config(&c, ACT_RELU);
    c.epochs = 12;
    c.optimizer = OPT_ADAM;
    c.early_stopping = (es_settings){ES_VAL_ACCURACY, 1, 1};
    stat_log whole = {0}, resumed = {0};
    train_result r_whole, r_part, r_resumed;
    sw_error err = {0};
    train_hooks hooks = {.ctx = &whole, .on_epoch = log_metrics};
    CHECK_INT(train_run(&c, &tr.split, &va.split, &va.split, 2, &hooks, &r_whole, &err), SW_OK);
    CHECK_MSG(r_whole.stopped_epoch > 2 && r_whole.stopped_epoch < c.epochs,
              "stopped after %d epochs", r_whole.stopped_epoch);

    for (int at = 2; at <= r_whole.stopped_epoch; at += r_whole.stopped_epoch - 2) {
        saver sv = {.at = at};
        train_hooks part = {.on_checkpoint = save_state, .ctx = &sv, .stop = &sv.stop};
        CHECK_INT(train_run(&c, &tr.split, &va.split, &va.split, 1, &part, &r_part, &err), SW_OK);
        CHECK_INT(sv.saved.epoch, at);
        CHECK(sv.saved.best_params != NULL);
        CHECK(sv.saved.es.best_epoch >= 1);

        char path[512];
        snprintf(path, sizeof path, "%s/es.ckpt", test_tmpdir());
        CHECK_INT(checkpoint_write(path, "es-key", &sv.saved, &err), SW_OK);
        train_state back;
        int found = 0;
        CHECK_INT(checkpoint_read(path, "es-key", sv.saved.n, 3, &back, &found, &err), SW_OK);
        CHECK(found);
        if (!found) {
            train_state_free(&sv.saved);
            break;
        }
        CHECK(back.es.best_epoch == sv.saved.es.best_epoch && back.es.wait == sv.saved.es.wait &&
              back.es.best == sv.saved.es.best);
        CHECK(back.best_params &&
              memcmp(back.best_params, sv.saved.best_params, sizeof(float) * (size_t)back.n) == 0);

        memset(&resumed, 0, sizeof resumed);
        c.resume = &back;
        hooks.ctx = &resumed;
        CHECK_INT(train_run(&c, &tr.split, &va.split, &va.split, 3, &hooks, &r_resumed, &err),
                  SW_OK);
        c.resume = NULL;
        CHECK_INT(r_resumed.status, TRAIN_DONE);
        CHECK_INT(r_resumed.stopped_epoch, r_whole.stopped_epoch);
        CHECK_INT(r_resumed.best_epoch, r_whole.best_epoch);
        CHECK(r_resumed.test_loss == r_whole.test_loss);
        CHECK(r_resumed.test_accuracy == r_whole.test_accuracy);
        if (at < r_whole.stopped_epoch) {
            CHECK_INT(resumed.epochs, r_whole.stopped_epoch);
            int e = r_whole.stopped_epoch - 1;
            CHECK(resumed.m[e].val_loss == whole.m[e].val_loss);
            CHECK(resumed.m[e].train_loss == whole.m[e].train_loss);
        } else {
            CHECK_INT(resumed.epochs, 0);   /* it had stopped: straight to the test */
        }
        train_state_free(&back);
        train_state_free(&sv.saved);
        if (r_whole.stopped_epoch - 2 <= 0)
            break;
    }
    test_set_threads(1);
    synth_free(&tr);
    synth_free(&va);
}

/* Checkpoints of the earlier formats are not read: the run starts over. */
static void test_checkpoint_old_format_not_found(void)
{
    float p[5] = {1, 2, 3, 4, 5}, m[5] = {0}, v[5] = {0}, best[5] = {5, 4, 3, 2, 1};
    train_state st = {.epoch = 3, .n = 5, .params = p, .opt_s0 = m, .opt_s1 = v, .t = 42,
                      .es = {0.25, 2, 1}, .best_params = best}, back;
    char path[512];
    int found = 0;
    sw_error err = {0};
    snprintf(path, sizeof path, "%s/v2.ckpt", test_tmpdir());
    CHECK_INT(checkpoint_write(path, "key-a", &st, &err), SW_OK);
    CHECK_INT(checkpoint_read(path, "key-a", 5, 3, &back, &found, &err), SW_OK);
    CHECK(found && back.es.best == 0.25 && back.es.best_epoch == 2 && back.es.wait == 1);
    CHECK(back.best_params && back.best_params[0] == 5 && back.best_params[4] == 1);
    train_state_free(&back);
    /* the old magics: 01 (no early stopping), 02 (Adam only, no batch norm) */
    static const char *const old[] = {"SWCKPT01", "SWCKPT02"};
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(path, "r+b");
        if (f) {
            fwrite(old[i], 1, 8, f);
            fclose(f);
        }
        CHECK_INT(checkpoint_read(path, "key-a", 5, 3, &back, &found, &err), SW_OK);
        CHECK(!found && back.params == NULL);
    }
}

/* Training pools an increasing activation's input and applies it to the
 * winners (act_pool_order); evaluation applies it to every element and
 * pools the outputs. Without dropout and batch norm both are the same
 * function, for every activation. */
static void test_pool_before_activation_is_the_same_pooling(void)
{
    static const act_kind acts[] = {ACT_RELU, ACT_ELU, ACT_LEAKY_RELU, ACT_PRELU, ACT_SELU,
                                    ACT_GELU, ACT_SILU, ACT_MISH, ACT_TANH, ACT_SOFTPLUS};
    enum { B = 8 };
    float *x = malloc(sizeof(float) * B * 28 * 28), train_logits[10 * B];
    if (!x)
        return;
    for (int i = 0; i < B * 28 * 28; i++)
        x[i] = 2.0f * rng_uniform(5, 0, 0, (uint64_t)i) - 1.0f;
    for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++) {
        model_spec s;
        model *m = NULL;
        sw_error err = {0};
        model_spec_default(&s);
        s.act = acts[k];
        s.alpha = (float)act_info(acts[k])->default_alpha;
        s.dropout = 0;
        CHECK_INT(model_create(&m, &s, B, &err), SW_OK);
        if (!m)
            break;
        model_init_params(m, 11);
        model_forward(m, x, B, 1, 1, 1);
        memcpy(train_logits, model_logits(m), sizeof train_logits);
        model_forward(m, x, B, 0, 0, 0);
        const float *eval_logits = model_logits(m);
        double worst = 0;
        for (int i = 0; i < 10 * B; i++) {
            double d = fabs((double)train_logits[i] - eval_logits[i]) /
                       (fabs((double)eval_logits[i]) + 1e-3);
            worst = d > worst ? d : worst;
        }
        if (worst > 1e-5)
            printf("  %s: training and evaluation logits differ by %g\n", act_name(acts[k]),
                   worst);
        CHECK(worst <= 1e-5);
        model_free(m);
    }
    free(x);
}

void suite_train(void)
{
    RUN_TEST(test_default_model_layout);
    RUN_TEST(test_model_that_cannot_fit_is_refused);
    RUN_TEST(test_init_statistics);
    RUN_TEST(test_init_table);
    RUN_TEST(test_optim_table);
    RUN_TEST(test_model_shape);
    RUN_TEST(test_whole_model_gradient_check);
    RUN_TEST(test_adam_first_step_by_hand);
    RUN_TEST(test_training_steps_bit_identical_across_threads);
    RUN_TEST(test_training_learns_and_reports_epochs);
    RUN_TEST(test_divergence_and_interruption);
    RUN_TEST(test_run_metrics_bit_identical_across_threads);
    RUN_TEST(test_resume_from_checkpoint_is_bit_identical);
    RUN_TEST(test_checkpoint_refuses_damage_and_strangers);
    RUN_TEST(test_checkpoint_refuses_nonfinite_links_fifos);
    RUN_TEST(test_checkpoint_dir_check);
    RUN_TEST(test_layer_stats_dead_layer);
    RUN_TEST(test_forward_stats_same_bits);
    RUN_TEST(test_layer_stats_match_direct_computation);
    RUN_TEST(test_layer_stats_dead_every_activation);
    RUN_TEST(test_layer_stats_bit_identical_across_threads);
    RUN_TEST(test_early_stopping_decisions);
    RUN_TEST(test_early_stopping_real_run);
    RUN_TEST(test_early_stopping_resume_is_bit_identical);
    RUN_TEST(test_checkpoint_old_format_not_found);
    RUN_TEST(test_pool_before_activation_is_the_same_pooling);
}
