/* cmd_train.c: `sweep train`, one training with its settings as flags, one
 * line per epoch on stdout. Records nothing: for trying a setting, or for
 * comparing against the PyTorch reference. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "data/dataset.h"
#include "sweep/config.h"
#include "sweep/scheduler.h"
#include "train/early_stop.h"
#include "train/trainer.h"

/* The grid's default epochs (a grid without an epochs axis trains 25). */
#define TRAIN_DEFAULT_EPOCHS 25

/* The names of one table: "relu | elu | ..." (sep " | ") for the help,
 * "relu, elu or prelu" (sep ", ", last " or ") for messages. */
static void join_table(char *buf, size_t size, int n, const char *(*name)(int),
                       const char *sep, const char *last)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int k = 0; k < n && o < size; k++)
        o += (size_t)snprintf(buf + o, size - o, "%s%s",
                              k == 0 ? "" : k == n - 1 ? last : sep, name(k));
}

static const char *act_at(int k) { return act_name((act_kind)k); }
static const char *init_at(int k) { return init_name((init_kind)k); }
static const char *optim_at(int k) { return optim_name((optim_kind)k); }
static const char *monitor_at(int k) { return es_monitor_name((es_monitor)(k + 1)); }

/* One flag of the help: its names from a table, wrapped under the text
 * column when they do not fit one line. */
static void help_names(const char *flag, int n, const char *(*name)(int), const char *dflt)
{
    int col = printf("  %-23s", flag);
    for (int k = 0; k < n; k++) {
        const char *s = name(k);
        int len = (int)strlen(s) + (k ? 3 : 0);
        if (k && col + len > 64)   /* room for " (default ...)" */
            col = printf(" |\n%26s%s", "", s) - 3;   /* the new line's column */
        else
            col += printf("%s%s", k ? " | " : " ", s);
    }
    printf(" (default %s)\n", dflt);
}

static void train_help(void)
{
    printf("usage: sweep train [FLAGS]\n\n"
           "Trains one model (the blog's CNN: conv [32, 64], dense [256]) and prints\n"
           "one line per epoch, then the test scores. Nothing is recorded.\n\n"
           "  --data DIR              data folder: IDX (MNIST-format) or CIFAR binary batches\n"
           "                          (default $SWEEP_DATA, else " DEFAULT_DATA_DIR ")\n"
           "  --format NAME           auto | idx | cifar10 | cifar100 (default auto: by the\n"
           "                          file names)\n"
           "  --label NAME            fine | coarse: CIFAR-100's 100 classes or 20\n"
           "                          superclasses (default fine)\n");
    model_spec def;
    model_spec_default(&def);
    help_names("--activation NAME", act_count(), act_at, act_name(def.act));
    printf("  --alpha X               elu/leaky_relu alpha, prelu initial alpha (default:\n"
           "                          the activation's own, elu 1.0, leaky_relu 0.3, prelu 0.25)\n");
    help_names("--init NAME", init_count(), init_at, init_name(def.init));
    printf("  --dropout X             dropout rate after each conv block (default 0.25)\n"
           "  --conv LIST             conv blocks' channels, e.g. 32,64 (default 32,64)\n"
           "  --dense LIST            hidden dense layers' widths, e.g. 256, or none\n"
           "                          (default 256)\n"
           "  --epochs N              (default %d, as a grid without an epochs axis)\n",
           TRAIN_DEFAULT_EPOCHS);
    printf(
           "  --seed N                (default 1)\n"
           "  --batch-size N          (default 250)\n"
           "  --learning-rate X       (default 0.001)\n");
    help_names("--optimizer NAME", optim_count(), optim_at, optim_name(OPT_ADAM));
    printf("  --momentum X            sgd, rmsprop: momentum in [0, 1) (default 0)\n"
           "  --nesterov              sgd: Nesterov momentum (needs --momentum)\n"
           "  --weight-decay X        adamw: decoupled; others: L2 (default 0)\n"
           "  --lr-schedule S         constant | cosine | step:EVERY:GAMMA, per epoch\n"
           "                          (default constant)\n"
           "  --batchnorm             batch norm after each conv and hidden dense layer\n"
           "  --padding P             valid | same: 3x3 convs padded by 1 (default valid)\n"

           "  --validation-split X    last fraction of the training set (default 0.2)\n"
           "  --train-limit N         train on the first N training images (0 = all)\n"
           "  --val-limit N           validate on the first N validation images (0 = all)\n"
           "  --test-limit N          test on the first N test images (0 = all)\n"
           "  --augment WHAT          training only: crop=P (zero-pad by P <= 16, crop back\n"
           "                          at a random offset), flip (mirror half the images),\n"
           "                          or both as crop=4,flip (default none)\n");
    help_names("--early-stopping NAME", 2, monitor_at, "off");
    printf("  --patience N            with --early-stopping: epochs without improvement\n"
           "                          before the run stops (required with it)\n"
           "  --restore-best          with --early-stopping: test the best epoch's weights\n"
           "  --threads N             OpenMP threads, N >= 1 (default: all cores)\n\n"
           "img/s counts the training images over the training time of the epoch\n"
           "(validation not included).\n");
}

/* What the epoch hooks share: the training images, and the training time
 * of the epoch (its last batch's elapsed time, before validation). */
typedef struct {
    const data_split *train;
    double train_seconds;
} epoch_ctx;

static void hook_batch(void *ctx, const train_progress *p)
{
    epoch_ctx *e = ctx;
    if (p->batch == p->batches)
        e->train_seconds = p->epoch_seconds;
}

static int hook_epoch(void *ctx, int epoch, const epoch_metrics *m, sw_error *err)
{
    epoch_ctx *e = ctx;
    (void)err;
    double secs = e->train_seconds > 0 ? e->train_seconds : m->seconds;
    printf("epoch %d  train_loss %.4f  train_acc %.4f  val_loss %.4f  val_acc %.4f  %.2fs  "
           "%.0f img/s\n", epoch, m->train_loss, m->train_accuracy, m->val_loss,
           m->val_accuracy, m->seconds, (double)e->train->n / secs);
    fflush(stdout);
    e->train_seconds = 0;
    return SW_OK;
}

/* "32,64" into sizes (at most max of them, each 1..limit); "none" is no
 * layer where none_ok. */
static int parse_sizes(const char *flag, const char *spec, int *sizes, int *n, int max,
                       int limit, int none_ok, sw_error *err)
{
    *n = 0;
    if (none_ok && strcmp(spec, "none") == 0)
        return SW_OK;
    for (const char *p = spec;;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > limit || (*end && *end != ',') || *n == max)
            return sw_err(err, SW_EINPUT, "%s must be up to %d sizes 1..%d separated by commas%s, "
                          "got '%s'", flag, max, limit, none_ok ? " (or none)" : "", spec);
        sizes[(*n)++] = (int)v;
        if (!*end)
            return SW_OK;
        p = end + 1;
    }
}

/* The flags' values, before they are checked. */
typedef struct {
    const char *data_dir, *format, *label, *augment, *act, *init, *optim, *conv, *dense, *monitor;
    const char *schedule, *padding;
    double alpha, dropout, lr, split, momentum, weight_decay;
    int epochs, seed, batch, train_limit, val_limit, test_limit, threads, patience, restore_best;
    int batchnorm, nesterov;
} train_flags;

/* A name of a table, or the error listing them all. */
static int pick(const char *flag, const char *value, int (*from)(const char *), int n,
                const char *(*name)(int), int *out, sw_error *err)
{
    char names[400];
    if ((*out = from(value)) >= 0)
        return SW_OK;
    join_table(names, sizeof names, n, name, ", ", " or ");
    return sw_err(err, SW_EINPUT, "%s must be %s, got '%s'", flag, names, value);
}

static int es_from(const char *name)
{
    int m = es_monitor_from_name(name);
    return m > 0 ? m - 1 : -1;
}

/* The optimizer's settings, the schedule and the model's padding from
 * their flags into cfg; a bad value is a usage error naming the flag. */
static int optim_flags(train_config *cfg, const char *optim, double momentum, int nesterov,
                       double wd, const char *schedule, const char *padding, sw_error *err)
{
    int o = optim_from_name(optim);
    if (o < 0) {
        char names[400];
        join_table(names, sizeof names, optim_count(), optim_at, ", ", " or ");
        return sw_err(err, SW_EINPUT, "--optimizer must be %s, got '%s'", names,
                      optim);
    }
    cfg->optimizer = (optim_kind)o;
    int takes = cfg->optimizer == OPT_SGD || cfg->optimizer == OPT_RMSPROP;
    if (!(momentum >= 0 && momentum < 1))
        return sw_err(err, SW_EINPUT, "--momentum must be in [0, 1), got %g",
                      momentum);
    if (momentum > 0 && !takes)
        return sw_err(err, SW_EINPUT, "--momentum applies to sgd and rmsprop, not "
                                      "%s", optim_name(cfg->optimizer));
    if (nesterov && !(cfg->optimizer == OPT_SGD && momentum > 0))
        return sw_err(err, SW_EINPUT, "--nesterov needs --optimizer sgd and "
                                      "--momentum > 0");
    if (!(wd >= 0) || isinf(wd))
        return sw_err(err, SW_EINPUT, "--weight-decay must be >= 0, got %g", wd);
    if (sched_parse_flag(schedule, &cfg->schedule) != 0)
        return sw_err(err, SW_EINPUT, "--lr-schedule must be constant, cosine or "
                                      "step:EVERY:GAMMA (EVERY >= 1, GAMMA in (0, 1]), got '%s'",
                      schedule);
    if (strcmp(padding, "valid") != 0 && strcmp(padding, "same") != 0)
        return sw_err(err, SW_EINPUT, "--padding must be valid or same, got '%s'",
                      padding);
    cfg->momentum = (float)momentum;
    cfg->nesterov = nesterov;
    cfg->weight_decay = (float)wd;
    cfg->model.shape.same = strcmp(padding, "same") == 0;
    return SW_OK;
}

/* The settings of batch norm, padding and the optimizer, when any is set. */
static void print_train_settings(const train_config *cfg)
{
    char sched[64];
    sched_text(&cfg->schedule, sched, sizeof sched);
    if (cfg->model.batchnorm || cfg->model.shape.same || cfg->momentum > 0 ||
        cfg->weight_decay > 0 || cfg->schedule.kind != SCHED_CONSTANT)
        printf("# batchnorm=%d padding=%s momentum=%g%s weight_decay=%g lr_schedule=%s\n",
               cfg->model.batchnorm, cfg->model.shape.same ? "same" : "valid",
               (double)cfg->momentum, cfg->nesterov ? " nesterov" : "",
               (double)cfg->weight_decay, sched);
}

/* Checks the flags and fills cfg (without the data's shape); a missing
 * alpha becomes the activation's usual one. */
static int flags_to_config(train_flags *f, train_config *cfg, sw_error *err)
{
    int a, in, o, es = -1;
    if (pick("--activation", f->act, act_from_name, act_count(), act_at, &a, err) ||
        pick("--init", f->init, init_from_name, init_count(), init_at, &in, err) ||
        pick("--optimizer", f->optim, optim_from_name, optim_count(), optim_at, &o, err) ||
        (f->monitor && pick("--early-stopping", f->monitor, es_from, 2, monitor_at, &es, err)))
        return err->code;
    if (!(f->dropout >= 0 && f->dropout < 1))
        return sw_err(err, SW_EINPUT, "--dropout must be in [0, 1), got %g", f->dropout);
    const act_desc *ad = act_info((act_kind)a);
    if (isnan(f->alpha))   /* not given: the activation's usual one (0 without alpha) */
        f->alpha = ad->default_alpha;
    if (!(f->alpha > 0) && ad->takes_alpha)
        return sw_err(err, SW_EINPUT, "--alpha must be > 0, got %g", f->alpha);
    if (a == ACT_LEAKY_RELU && f->alpha == 1.0)
        fprintf(stderr, "sweep: warning: --alpha 1: leaky_relu with slope 1 is linear\n");
    if (f->epochs < 1 || f->batch < 1 || !(f->lr > 0) || !(f->split > 0 && f->split < 1))
        return sw_err(err, SW_EINPUT, "--epochs and --batch-size must be positive, "
                                      "--learning-rate > 0, --validation-split in (0, 1)");
    if ((f->patience || f->restore_best) && !f->monitor)
        return sw_err(err, SW_EINPUT, "--patience and --restore-best go with --early-stopping");
    if (f->monitor && f->patience < 1)
        return sw_err(err, SW_EINPUT, "--early-stopping needs --patience N (N >= 1): the epochs "
                                      "without improvement before the run stops");
    model_shape *m = &cfg->model.shape;
    if (parse_sizes("--conv", f->conv, m->conv, &m->n_conv, MODEL_MAX_CONV, MODEL_MAX_CHANNELS,
                    0, err) ||
        parse_sizes("--dense", f->dense, m->dense, &m->n_dense, MODEL_MAX_DENSE,
                    MODEL_MAX_WIDTH, 1, err))
        return err->code;
    cfg->model.act = (act_kind)a;
    cfg->model.alpha = (float)f->alpha;
    cfg->model.init = (init_kind)in;
    cfg->model.dropout = (float)f->dropout;
    cfg->model.batchnorm = f->batchnorm;
    if (optim_flags(cfg, f->optim, f->momentum, f->nesterov, f->weight_decay, f->schedule,
                    f->padding, err) != SW_OK)
        return err->code;
    cfg->learning_rate = (float)f->lr;
    cfg->batch_size = f->batch;
    cfg->epochs = f->epochs;
    cfg->seed = (uint64_t)f->seed;
    if (f->monitor)
        cfg->early_stopping = (es_settings){(es_monitor)(es + 1), f->patience, f->restore_best};
    return SW_OK;
}

/* --augment: "crop=P", "flip", "crop=P,flip" (either order) or "none". */
static int parse_augment(const char *spec, data_augment *a, sw_error *err)
{
    memset(a, 0, sizeof *a);
    if (strcmp(spec, "none") == 0)
        return SW_OK;
    for (const char *p = spec;;) {
        size_t len = strcspn(p, ",");
        char *end;
        if (len == 4 && strncmp(p, "flip", 4) == 0 && !a->flip) {
            a->flip = 1;
        } else if (len > 5 && strncmp(p, "crop=", 5) == 0 && !a->crop &&
                   p[5] >= '0' && p[5] <= '9') {
            long v = strtol(p + 5, &end, 10);
            if (end != p + len || v < 1 || v > AUGMENT_MAX_CROP)
                return sw_err(err, SW_EINPUT, "--augment crop must be 1..%d "
                              "pixels, got '%.*s'", AUGMENT_MAX_CROP, (int)len, p);
            a->crop = (int)v;
        } else {
            return sw_err(err, SW_EINPUT, "--augment must be crop=P, flip, "
                          "crop=P,flip or none, got '%s'", spec);
        }
        if (!p[len])
            return SW_OK;
        p += len + 1;
    }
}

/* Checks the data flags, loads the data and splits it; says on stderr what
 * was found. On success d holds the data (dataset_free it). */
static int load_data(const train_flags *f, data_augment *aug, dataset *d, data_split *train,
                     data_split *val, data_split *test, sw_error *err)
{
    int fmt = dataset_format_parse(f->format);
    int lab = f->label ? cifar_label_parse(f->label) : CIFAR_FINE;
    if (fmt < 0)
        return sw_err(err, SW_EINPUT, "--format must be auto, idx, cifar10 or "
                      "cifar100, got '%s'", f->format);
    if (lab < 0)
        return sw_err(err, SW_EINPUT, "--label must be fine or coarse, got '%s'",
                      f->label);
    if (f->label && fmt != DATA_AUTO && fmt != DATA_CIFAR100)
        return sw_err(err, SW_EINPUT, "--label is for CIFAR-100, but --format is "
                      "%s", f->format);
    if (f->train_limit < 0 || f->val_limit < 0 || f->test_limit < 0)
        return sw_err(err, SW_EINPUT, "--train-limit, --val-limit and "
                      "--test-limit must be >= 0");
    if (parse_augment(f->augment, aug, err) != SW_OK)
        return err->code;
    if (dataset_load(d, f->data_dir ? f->data_dir : DEFAULT_DATA_DIR, (dataset_format)fmt,
                     (cifar_label)lab, err) != SW_OK)
        return err->code;
    if (f->label && d->format != DATA_CIFAR100)
        sw_err(err, SW_EINPUT, "--label is for CIFAR-100, but %s holds %s", d->dir,
               dataset_format_name(d->format));
    else if (dataset_split(d, &(data_split_opts){f->split, f->train_limit, f->val_limit,
                                                 f->test_limit},
                           train, val, test, err) == SW_OK)
        fprintf(stderr, "sweep: data: %s: %s, %dx%dx%d, %d classes\n", d->dir, d->found,
                d->channels, d->rows, d->cols, d->n_classes);
    if (err->code != SW_OK)
        dataset_free(d);
    return err->code;
}

/* Loads the data, trains, prints; the exit status. */
static int train_and_print(const train_flags *f, train_config *cfg, sw_error *err)
{
    dataset d;
    data_split train, val, test;
    if (load_data(f, &cfg->augment, &d, &train, &val, &test, err) != SW_OK)
        return err->code;
    cfg->model.in_h = d.rows;
    cfg->model.in_w = d.cols;
    cfg->model.in_c = d.channels;
    cfg->model.n_classes = d.n_classes;
    char shape[256];
    model_shape_text(&cfg->model.shape, shape, sizeof shape);
    char alpha_txt[32] = "";
    if (act_info(cfg->model.act)->takes_alpha)
        snprintf(alpha_txt, sizeof alpha_txt, " alpha=%g", f->alpha);
    int aug = data_augment_active(&cfg->augment);
    printf("# %s%s init=%s dropout=%g epochs=%d seed=%d batch=%d lr=%g %s %s%s%s; "
           "train %ld, validation %ld, test %ld\n",
           f->act, alpha_txt, f->init, f->dropout, f->epochs, f->seed, f->batch, f->lr, f->optim,
           shape, aug ? " augment=" : "", aug ? f->augment : "", train.n, val.n, test.n);
    print_train_settings(cfg);
    fflush(stdout);

    epoch_ctx ec = {.train = &train};
    train_hooks hooks = {.ctx = &ec, .on_batch = hook_batch, .on_epoch = hook_epoch};
    train_result res;
    int rc = train_run(cfg, &train, &val, &test, f->threads, &hooks, &res, err);
    dataset_free(&d);
    if (rc != SW_OK)
        return err->code;
    if (res.status == TRAIN_DIVERGED) {
        printf("diverged in epoch %d\n", res.diverged_epoch);
        return SW_ERUN;
    }
    if (res.best_epoch)
        printf("early stopping: best epoch %d, stopped after epoch %d\n", res.best_epoch,
               res.stopped_epoch);
    printf("test_loss %.4f  test_accuracy %.4f\n", res.test_loss, res.test_accuracy);
    return 0;
}

int cmd_train(int argc, char **argv, sw_error *err)
{
    train_config cfg = {0};
    model_spec_default(&cfg.model);   /* the defaults of the flags */
    train_flags f = {.data_dir = getenv("SWEEP_DATA"), .format = "auto", .augment = "none",
                     .schedule = "constant", .padding = "valid",
                     .act = act_name(cfg.model.act),
                     .init = init_name(cfg.model.init), .optim = optim_name(OPT_ADAM),
                     .conv = "32,64", .dense = "256", .alpha = NAN, .dropout = 0.25,
                     .lr = 0.001, .split = 0.2, .epochs = TRAIN_DEFAULT_EPOCHS, .seed = 1,
                     .batch = 250};
    int help = 0, n_pos;
    const char *pos[1];
    const cli_option opts[] = {
        {"--data", NULL, OPT_STRING, &f.data_dir},
        {"--activation", NULL, OPT_STRING, &f.act},
        {"--alpha", NULL, OPT_DOUBLE, &f.alpha},
        {"--init", NULL, OPT_STRING, &f.init},
        {"--dropout", NULL, OPT_DOUBLE, &f.dropout},
        {"--conv", NULL, OPT_STRING, &f.conv},
        {"--dense", NULL, OPT_STRING, &f.dense},
        {"--epochs", NULL, OPT_POSITIVE, &f.epochs},
        {"--seed", NULL, OPT_INT, &f.seed},
        {"--batch-size", NULL, OPT_POSITIVE, &f.batch},
        {"--learning-rate", "--lr", OPT_DOUBLE, &f.lr},
        {"--optimizer", NULL, OPT_STRING, &f.optim},
        {"--momentum", NULL, OPT_DOUBLE, &f.momentum},
        {"--nesterov", NULL, OPT_FLAG, &f.nesterov},
        {"--weight-decay", NULL, OPT_DOUBLE, &f.weight_decay},
        {"--lr-schedule", NULL, OPT_STRING, &f.schedule},
        {"--batchnorm", NULL, OPT_FLAG, &f.batchnorm},
        {"--padding", NULL, OPT_STRING, &f.padding},
        {"--validation-split", NULL, OPT_DOUBLE, &f.split},
        {"--train-limit", NULL, OPT_INT, &f.train_limit},
        {"--val-limit", NULL, OPT_INT, &f.val_limit},
        {"--test-limit", NULL, OPT_INT, &f.test_limit},
        {"--format", NULL, OPT_STRING, &f.format},
        {"--label", NULL, OPT_STRING, &f.label},
        {"--augment", NULL, OPT_STRING, &f.augment},
        {"--early-stopping", NULL, OPT_STRING, &f.monitor},
        {"--patience", NULL, OPT_POSITIVE, &f.patience},
        {"--restore-best", NULL, OPT_FLAG, &f.restore_best},
        {"--threads", NULL, OPT_POSITIVE, &f.threads},
        {NULL, NULL, 0, NULL},
    };
    if (cli_parse("train", argc, argv, opts, pos, 0, &n_pos, &help, err) != SW_OK)
        return err->code;
    if (help) {
        train_help();
        return 0;
    }
    if (flags_to_config(&f, &cfg, err) != SW_OK)
        return err->code;
    if (f.threads)
        cli_warn_threads(1, f.threads, sched_cores());
    return train_and_print(&f, &cfg, err);
}
