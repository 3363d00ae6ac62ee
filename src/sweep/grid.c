/* grid.c: a config's cartesian product of runs, and their keys.
 *
 * Alpha: each activation walks its own alphas (config_alphas: the one list,
 * its entry in grid.alpha's map, or its default); an activation without
 * alpha walks one, which the run does not keep.
 *
 * Exclude rules and alpha: a run whose activation takes no alpha (relu) has
 * none (NAN here, NULL in the database), so a rule that names alpha never
 * matches it, just as "WHERE alpha = 0.5" never selects one. {alpha: 0.5}
 * thus drops the elu, leaky_relu and prelu runs at 0.5 and leaves relu
 * alone; the config refuses {activation: relu, alpha: X} since it could
 * never match. */
#include "sweep/grid.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether a run's activation takes an alpha (else its alpha is NAN). */
static int takes_alpha(act_kind k)
{
    const act_desc *d = act_info(k);
    return d && d->takes_alpha;
}

/* Names from the tables; "unknown" for a kind outside them. */
static const char *act_text(act_kind k)
{
    const act_desc *d = act_info(k);
    return d ? d->name : "unknown";
}

static const char *init_text(init_kind k)
{
    const init_desc *d = init_info(k);
    return d ? d->name : "unknown";
}

static const char *optim_text(optim_kind k)
{
    const optim_desc *d = optim_info(k);
    return d ? d->name : "unknown";
}

static uint64_t mix64(uint64_t z)
{
    /* splitmix64's finaliser: every input bit reaches every output bit */
    z ^= z >> 30;
    z *= 0xbf58476d1ce4e5b9ULL;
    z ^= z >> 27;
    z *= 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* ------------------------------------------------------------------ */
/* Expansion.                                                          */

/* A run's value on an axis, as config stores axis values (not for the
 * model and lr_schedule axes, whose values are indices: see same_model,
 * same_schedule). */
static double run_axis(const run_settings *r, int a)
{
    switch (a) {
    case AXIS_ACTIVATION: return r->activation;
    case AXIS_ALPHA: return r->alpha;
    case AXIS_MODEL: return 0;
    case AXIS_LR_SCHEDULE: return 0;
    case AXIS_BATCHNORM: return r->batchnorm;
    case AXIS_OPTIMIZER: return r->optimizer;
    case AXIS_MOMENTUM: return r->momentum;
    case AXIS_WEIGHT_DECAY: return r->weight_decay;
    case AXIS_INIT: return r->init;
    case AXIS_DROPOUT: return r->dropout;
    case AXIS_EPOCHS: return r->epochs;
    case AXIS_BATCH_SIZE: return r->batch_size;
    case AXIS_LEARNING_RATE: return r->learning_rate;
    default: return (double)r->seed;
    }
}

/* The run's model, the default one for a zeroed shape. */
static model_shape run_model(const run_settings *r)
{
    model_shape m = r->model;
    if (m.n_conv == 0) {
        int same = m.same;
        model_shape_default(&m);
        m.same = same;
    }
    return m;
}

static int same_model(const run_settings *a, const run_settings *b)
{
    model_shape x = run_model(a), y = run_model(b);
    return model_shape_equal(&x, &y);
}

/* NAN never compares equal, so relu runs never match an alpha key; a model
 * key holds an index into c->models (-1: not in the grid, never matches). */
static int excluded(const sweep_config *c, const run_settings *r)
{
    for (int i = 0; i < c->n_exclude; i++) {
        const exclude_rule *x = &c->exclude[i];
        int match = 1;
        for (int a = 0; a < AXIS_COUNT && match; a++) {
            if (!(x->mask & (1u << a)))
                continue;
            if (a == AXIS_MODEL) {
                int k = (int)x->v[a];
                model_shape m = run_model(r);
                match = k >= 0 && k < c->n_models && model_shape_equal(&m, &c->models[k].shape);
            } else if (a == AXIS_LR_SCHEDULE) {
                int k = (int)x->v[a];
                match = k >= 0 && k < c->n_schedules &&
                        sched_equal(&r->lr_schedule, &c->schedules[k].s);
            } else if (run_axis(r, a) != x->v[a]) {
                match = 0;
            }
        }
        if (match)
            return 1;
    }
    return 0;
}

static int same_run(const run_settings *a, const run_settings *b)
{
    for (int k = 0; k < AXIS_COUNT; k++) {
        double x = run_axis(a, k), y = run_axis(b, k);
        if (x != y && !(isnan(x) && isnan(y)))
            return 0;
    }
    return same_model(a, b) && sched_equal(&a->lr_schedule, &b->lr_schedule) &&
           a->nesterov == b->nesterov;
}

static uint64_t run_hash(const run_settings *r)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    for (int k = 0; k < AXIS_COUNT; k++) {
        double x = run_axis(r, k);
        uint64_t bits;
        if (isnan(x))
            x = NAN;
        x += 0.0;
        memcpy(&bits, &x, sizeof bits);
        h = mix64(h ^ bits) + (uint64_t)k;
    }
    model_shape m = run_model(r);
    for (int i = 0; i < m.n_conv; i++)
        h = mix64(h ^ (uint64_t)m.conv[i]) + 1;
    for (int i = 0; i < m.n_dense; i++)
        h = mix64(h ^ (uint64_t)m.dense[i]) + 2;
    h = mix64(h ^ (uint64_t)m.same) + 3;
    /* a schedule's kind and every: equal schedules hash alike */
    h = mix64(h ^ ((uint64_t)r->lr_schedule.kind << 32 | (uint32_t)r->lr_schedule.every)) + 4;
    return h;
}


/* The run at the odometer's position idx, with the settings its
 * activation or optimizer ignores set to none (as alpha for relu). */
static run_settings make_run(const sweep_config *c, const int *idx)
{
    act_kind act = (act_kind)c->axis[AXIS_ACTIVATION].v[idx[AXIS_ACTIVATION]];
    run_settings r = {
        .activation = act,
        .alpha = config_alphas(c, act)->v[idx[AXIS_ALPHA]],
        .init = (init_kind)c->axis[AXIS_INIT].v[idx[AXIS_INIT]],
        .dropout = c->axis[AXIS_DROPOUT].v[idx[AXIS_DROPOUT]],
        .epochs = (int)c->axis[AXIS_EPOCHS].v[idx[AXIS_EPOCHS]],
        .seed = (long long)c->axis[AXIS_SEED].v[idx[AXIS_SEED]],
        .batch_size = (int)c->axis[AXIS_BATCH_SIZE].v[idx[AXIS_BATCH_SIZE]],
        .learning_rate = c->axis[AXIS_LEARNING_RATE].v[idx[AXIS_LEARNING_RATE]],
        .optimizer = (optim_kind)c->axis[AXIS_OPTIMIZER].v[idx[AXIS_OPTIMIZER]],
        .momentum = c->axis[AXIS_MOMENTUM].v[idx[AXIS_MOMENTUM]],
        .weight_decay = c->axis[AXIS_WEIGHT_DECAY].v[idx[AXIS_WEIGHT_DECAY]],
        .lr_schedule = c->schedules[(int)c->axis[AXIS_LR_SCHEDULE].v[idx[AXIS_LR_SCHEDULE]]].s,
        .batchnorm = c->axis[AXIS_BATCHNORM].v[idx[AXIS_BATCHNORM]] != 0,
        .validation_split = c->validation_split,
        .train_limit = c->train_limit,
        .val_limit = c->val_limit,
        .test_limit = c->test_limit,
        .augment = c->augment,
        .data_format = c->data_format,
        .data_label = -1,
        .model = c->models[(int)c->axis[AXIS_MODEL].v[idx[AXIS_MODEL]]].shape,
        .early_stopping = c->early_stopping,
    };
    if (!takes_alpha(r.activation))
        r.alpha = NAN;
    /* as alpha for relu: a setting the optimizer ignores is none */
    if (r.optimizer != OPT_SGD && r.optimizer != OPT_RMSPROP)
        r.momentum = 0;
    r.nesterov = c->nesterov && r.optimizer == OPT_SGD && r.momentum > 0;
    return r;
}

int grid_expand(const sweep_config *c, run_settings **runs, int *n, sw_error *err)
{
    const char *path = c->path ? c->path : "<config>";
    *runs = NULL;
    *n = 0;
    for (int a = 0; a < AXIS_COUNT; a++)
        if (c->axis[a].n < 1 || !c->axis[a].v)
            return sw_err(err, SW_EINPUT, "%s: the grid axis %s has no values", path,
                          axis_name((axis_id)a));
    for (int i = 0; i < c->axis[AXIS_MODEL].n; i++)
        if (!(c->axis[AXIS_MODEL].v[i] >= 0 && c->axis[AXIS_MODEL].v[i] < c->n_models))
            return sw_err(err, SW_EINPUT, "%s: the grid's model %d is not among its %d models",
                          path, i + 1, c->n_models);
    for (int i = 0; i < c->axis[AXIS_LR_SCHEDULE].n; i++)
        if (!(c->axis[AXIS_LR_SCHEDULE].v[i] >= 0 &&
              c->axis[AXIS_LR_SCHEDULE].v[i] < c->n_schedules))
            return sw_err(err, SW_EINPUT, "%s: the grid's lr_schedule %d is not among its %d",
                          path, i + 1, c->n_schedules);
    double total = config_grid_count(c);
    if (total > GRID_MAX_RUNS)
        return sw_err(err, SW_EINPUT, "%s: the grid expands to %.0f runs, more than the limit of %d",
                      path, total, GRID_MAX_RUNS);

    /* Open addressing over indices into out; at most half full. */
    size_t cap = 2;
    while (cap < 2 * (size_t)total)
        cap *= 2;
    run_settings *out = malloc((size_t)total * sizeof *out);
    int *table = malloc(cap * sizeof *table);
    if (!out || !table) {
        free(out);
        free(table);
        char what[300];
        snprintf(what, sizeof what, "%s: expanding the grid", path);
        return sw_oom(err, what);
    }
    for (size_t i = 0; i < cap; i++)
        table[i] = -1;

    for (int i = 0; i < c->axis[AXIS_ACTIVATION].n; i++)
        if (config_alphas(c, (act_kind)c->axis[AXIS_ACTIVATION].v[i])->n < 1)
            return sw_err(err, SW_EINPUT, "%s: the grid's activation %s has no alphas", path,
                          act_text((act_kind)c->axis[AXIS_ACTIVATION].v[i]));

    int idx[AXIS_COUNT] = {0}, count = 0;
    for (;;) {
        run_settings r = make_run(c, idx);
        if (!excluded(c, &r)) {
            /* Duplicates keep their first occurrence. The alphas of an
             * activation without alpha never get here (the odometer skips
             * them); this catches repeated values in a config built by
             * hand. */
            size_t h = (size_t)run_hash(&r) & (cap - 1);
            while (table[h] >= 0 && !same_run(&out[table[h]], &r))
                h = (h + 1) & (cap - 1);
            if (table[h] < 0) {
                table[h] = count;
                out[count++] = r;
            }
        }
        /* Advance the odometer, seed fastest; an activation without
         * alpha walks one alpha only, so the loop runs at most
         * GRID_MAX_RUNS times. */
        int a = AXIS_COUNT - 1;
        for (; a >= 0; a--) {
            int len = a != AXIS_ALPHA         ? c->axis[a].n
                      : takes_alpha(r.activation) ? config_alphas(c, r.activation)->n
                                                  : 1;
            if (++idx[a] < len)
                break;
            idx[a] = 0;
        }
        if (a < 0)
            break;
    }
    free(table);
    if (count == 0) {
        free(out);
        return sw_err(err, SW_EINPUT, "%s: every run is excluded", path);
    }
    run_settings *shrunk = realloc(out, (size_t)count * sizeof *out);
    *runs = shrunk ? shrunk : out;
    *n = count;
    return SW_OK;
}

/* ------------------------------------------------------------------ */
/* Keys and labels.                                                    */

/* "%.17g" reads back as the same double; -0 prints as 0, and a locale's
 * decimal comma as a point, so the text depends on the value alone. */
static void put_real(char *buf, size_t size, double v)
{
    snprintf(buf, size, "%.17g", v + 0.0);
    for (char *s = buf; *s; s++)
        if (*s == ',')
            *s = '.';
}

/* The settings of issue #13 in the key text, each only where it differs
 * from what every run had before them. Returns the new length. */
static int put_train_extras(const run_settings *r, char *text, size_t size, int len)
{
    char v[64];
    if (r->batchnorm)
        len += snprintf(text + len, len < (int)size ? size - (size_t)len : 0, ";batchnorm=1");
    if (r->momentum != 0) {
        put_real(v, sizeof v, r->momentum);
        len += snprintf(text + len, len < (int)size ? size - (size_t)len : 0, ";momentum=%s", v);
    }
    if (r->nesterov)
        len += snprintf(text + len, len < (int)size ? size - (size_t)len : 0, ";nesterov=1");
    if (r->weight_decay != 0) {
        put_real(v, sizeof v, r->weight_decay);
        len += snprintf(text + len, len < (int)size ? size - (size_t)len : 0,
                        ";weight_decay=%s", v);
    }
    if (r->lr_schedule.kind != SCHED_CONSTANT) {
        sched_text(&r->lr_schedule, v, sizeof v);
        len += snprintf(text + len, len < (int)size ? size - (size_t)len : 0,
                        ";lr_schedule=%s", v);
    }
    return len;
}

/* The canonical text, version 1. Changing anything here changes every run
 * key, so runs already in a database would be run again: a new form needs a
 * new version tag. Fields in this order, ';'-separated:
 *   v1;activation=NAME;alpha=REAL|null;init=NAME;dropout=REAL;epochs=INT;
 *   seed=INT;batch_size=INT;learning_rate=REAL;optimizer=NAME;
 *   validation_split=REAL;train_limit=INT;data=16 lowercase hex digits
 * REAL is "%.17g" (see put_real), alpha is null for an activation without
 * alpha (relu), INT is decimal; NAME is the name in the table of the
 * activation, init or optimizer ("unknown" for a value outside it).
 * Settings added later are appended only when they differ from what every
 * run had before them, so the keys of existing runs never change:
 *   ;model=conv=INT-INT...;dense=INT-...|none[;padding=same]   a model
 *                                           other than the default (the
 *                                           runs.model text)
 *   ;early_stopping=NAME,INT,INT            monitor, patience, restore_best
 *                                           (0/1), when early stopping is on
 *   ;augment=crop=INT[,flip] | ;augment=flip   when augmentation is on
 *   ;val_limit=INT  ;test_limit=INT         when > 0
 * The data format and CIFAR-100 labelling are part of the data identity.
 *   ;batchnorm=1                            with batch norm
 *   ;momentum=REAL                          momentum > 0
 *   ;nesterov=1                             Nesterov momentum
 *   ;weight_decay=REAL                      weight decay > 0
 *   ;lr_schedule=TEXT                       a schedule other than constant
 *                                           (the runs.lr_schedule text)
 * Hashed with FNV-1a 64 then the splitmix64 finaliser, printed as 16
 * lowercase hex digits. */
void grid_run_key(const run_settings *r, uint64_t data_identity, char key[RUN_KEY_LEN + 1])
{
    char text[768], alpha[32], dropout[32], lr[32], split[32];
    if (!takes_alpha(r->activation) || isnan(r->alpha))
        snprintf(alpha, sizeof alpha, "null");
    else
        put_real(alpha, sizeof alpha, r->alpha);
    put_real(dropout, sizeof dropout, r->dropout);
    put_real(lr, sizeof lr, r->learning_rate);
    put_real(split, sizeof split, r->validation_split);
    int len = snprintf(text, sizeof text,
                       "v1;activation=%s;alpha=%s;init=%s;dropout=%s;epochs=%d;seed=%lld;"
                       "batch_size=%d;learning_rate=%s;optimizer=%s;validation_split=%s;"
                       "train_limit=%ld;data=%016llx",
                       act_text(r->activation), alpha,
                       init_text(r->init), dropout, r->epochs, r->seed,
                       r->batch_size, lr, optim_text(r->optimizer), split,
                       r->train_limit, (unsigned long long)data_identity);
    if (len < 0)
        len = 0;
    model_shape m = run_model(r);
    if (!model_shape_is_default(&m) && (size_t)len < sizeof text) {
        char shape[256];
        model_shape_text(&m, shape, sizeof shape);
        len += snprintf(text + len, sizeof text - (size_t)len, ";model=%s", shape);
    }
    const es_settings *es = &r->early_stopping;
    const char *monitor = es_monitor_name(es->monitor);
    if (es->monitor != ES_OFF && (size_t)len < sizeof text)
        len += snprintf(text + len, sizeof text - (size_t)len, ";early_stopping=%s,%d,%d",
                        monitor ? monitor : es_monitor_name(ES_VAL_LOSS),
                        es->patience, es->restore_best ? 1 : 0);
    if (data_augment_active(&r->augment) && (size_t)len < sizeof text) {
        char aug[64];
        grid_augment_text(&r->augment, aug, sizeof aug);
        len += snprintf(text + len, sizeof text - (size_t)len, ";augment=%s", aug);
    }
    if (r->val_limit > 0 && (size_t)len < sizeof text)
        len += snprintf(text + len, sizeof text - (size_t)len, ";val_limit=%ld", r->val_limit);
    if (r->test_limit > 0 && (size_t)len < sizeof text)
        len += snprintf(text + len, sizeof text - (size_t)len, ";test_limit=%ld", r->test_limit);
    if ((size_t)len < sizeof text)
        len = put_train_extras(r, text, sizeof text, len);
    if ((size_t)len >= sizeof text)
        len = (int)sizeof text - 1;   /* cannot happen: fields are bounded */
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < len; i++) {
        h ^= (unsigned char)text[i];
        h *= 0x100000001b3ULL;
    }
    snprintf(key, RUN_KEY_LEN + 1, "%016llx", (unsigned long long)mix64(h));
}

size_t grid_train_text(const run_settings *r, char *buf, size_t size)
{
    size_t o = 0;
    if (size)
        buf[0] = '\0';
    if (r->optimizer != OPT_ADAM && o < size)
        o += (size_t)snprintf(buf + o, size - o, " %s", optim_text(r->optimizer));
    if (r->momentum != 0 && o < size)
        o += (size_t)snprintf(buf + o, size - o, " m=%g%s", r->momentum,
                              r->nesterov ? " nesterov" : "");
    if (r->weight_decay != 0 && o < size)
        o += (size_t)snprintf(buf + o, size - o, " wd=%g", r->weight_decay);
    if (r->lr_schedule.kind != SCHED_CONSTANT && o < size) {
        char t[64];
        sched_text(&r->lr_schedule, t, sizeof t);
        o += (size_t)snprintf(buf + o, size - o, " %s", t);
    }
    if (r->batchnorm && o < size)
        o += (size_t)snprintf(buf + o, size - o, " bn");
    return o < size ? o : size ? size - 1 : 0;
}

/* "elu a=1 he d=0.25 e=25 s=3"; no alpha for an activation without one; bs= and lr= only when
 * they differ from the train defaults (250, 0.001), and the model (as
 * "conv=32-64-128;dense=256") only when it is not the default, to keep it
 * short. */
void grid_run_label(const run_settings *r, char *buf, size_t size)
{
    char alpha[40] = "", extra[320] = "";
    if (!size)
        return;
    if (takes_alpha(r->activation))
        snprintf(alpha, sizeof alpha, " a=%g", r->alpha);
    size_t o = 0;
    if (r->batch_size != 250)
        o += (size_t)snprintf(extra + o, sizeof extra - o, " bs=%d", r->batch_size);
    if (r->learning_rate != 0.001)
        o += (size_t)snprintf(extra + o, sizeof extra - o, " lr=%g", r->learning_rate);
    if (o < sizeof extra)
        o += grid_train_text(r, extra + o, sizeof extra - o);
    model_shape m = run_model(r);
    if (!model_shape_is_default(&m) && o < sizeof extra) {
        char shape[256];
        model_shape_text(&m, shape, sizeof shape);
        snprintf(extra + o, sizeof extra - o, " %s", shape);
    }
    snprintf(buf, size, "%s%s %s d=%g e=%d s=%lld%s", act_text(r->activation), alpha,
             init_text(r->init), r->dropout, r->epochs, r->seed, extra);
}

void grid_augment_text(const data_augment *a, char *buf, size_t size)
{
    if (!size)
        return;
    buf[0] = '\0';
    if (!data_augment_active(a))
        return;
    if (a->crop > 0)
        snprintf(buf, size, "crop=%d%s", a->crop, a->flip ? ",flip" : "");
    else
        snprintf(buf, size, "flip");
}

void grid_model_spec(const run_settings *r, model_spec *spec)
{
    model_spec_default(spec);   /* the input and the classes */
    spec->shape = run_model(r);
    spec->act = r->activation;
    spec->alpha = takes_alpha(r->activation) ? (float)r->alpha : 0.0f;
    spec->init = r->init;
    spec->dropout = (float)r->dropout;
    spec->batchnorm = r->batchnorm;
}

int grid_shard_of(const char *key, int n)
{
    if (n <= 1 || !key)
        return 0;
    return (int)(strtoull(key, NULL, 16) % (unsigned long long)n);
}
