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
#include "train/trainer.h"

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
    printf("  --alpha X               elu/leaky_relu alpha, prelu initial alpha (default 1.0)\n");
    help_names("--init NAME", init_count(), init_at, init_name(def.init));
    printf("  --dropout X             dropout rate after each conv block (default 0.25)\n"
           "  --epochs N              (default 2)\n"
           "  --seed N                (default 1)\n"
           "  --batch-size N          (default 250)\n"
           "  --learning-rate X       (default 0.001)\n");
    help_names("--optimizer NAME", optim_count(), optim_at, optim_name(OPT_ADAM));
    printf("  --validation-split X    last fraction of the training set (default 0.2)\n"
           "  --train-limit N         train on the first N training images (0 = all)\n"
           "  --val-limit N           validate on the first N validation images (0 = all)\n"
           "  --test-limit N          test on the first N test images (0 = all)\n"
           "  --augment WHAT          training only: crop=P (zero-pad by P <= 16, crop back\n"
           "                          at a random offset), flip (mirror half the images),\n"
           "                          or both as crop=4,flip (default none)\n"
           "  --threads N             OpenMP threads (default: all cores)\n");
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
                return sw_err(err, SW_EINPUT, "sweep train: --augment crop must be 1..%d "
                              "pixels, got '%.*s'", AUGMENT_MAX_CROP, (int)len, p);
            a->crop = (int)v;
        } else {
            return sw_err(err, SW_EINPUT, "sweep train: --augment must be crop=P, flip, "
                          "crop=P,flip or none, got '%s'", spec);
        }
        if (!p[len])
            return SW_OK;
        p += len + 1;
    }
}

static void print_epoch(void *ctx, int epoch, const epoch_metrics *m)
{
    const data_split *train = ctx;
    printf("epoch %d  train_loss %.4f  train_acc %.4f  val_loss %.4f  val_acc %.4f  %.2fs  %.0f img/s\n",
           epoch, m->train_loss, m->train_accuracy, m->val_loss, m->val_accuracy, m->seconds,
           (double)train->n / m->seconds);
    fflush(stdout);
}

static int hook_epoch(void *ctx, int epoch, const epoch_metrics *m, sw_error *err)
{
    (void)err;
    print_epoch(ctx, epoch, m);
    return SW_OK;
}

/* The data flags, as given. */
typedef struct {
    const char *dir, *format, *label, *augment;
    double split;
    int train_limit, val_limit, test_limit;
} data_flags;

/* Checks the data flags, loads the data and splits it; says on stderr what
 * was found. On success d holds the data (dataset_free it). */
static int load_data(const data_flags *f, data_augment *aug, dataset *d, data_split *train,
                     data_split *val, data_split *test, sw_error *err)
{
    int fmt = dataset_format_parse(f->format);
    int lab = f->label ? cifar_label_parse(f->label) : CIFAR_FINE;
    if (fmt < 0)
        return sw_err(err, SW_EINPUT, "sweep train: --format must be auto, idx, cifar10 or "
                      "cifar100, got '%s'", f->format);
    if (lab < 0)
        return sw_err(err, SW_EINPUT, "sweep train: --label must be fine or coarse, got '%s'",
                      f->label);
    if (f->label && fmt != DATA_AUTO && fmt != DATA_CIFAR100)
        return sw_err(err, SW_EINPUT, "sweep train: --label is for CIFAR-100, but --format is "
                      "%s", f->format);
    if (f->train_limit < 0 || f->val_limit < 0 || f->test_limit < 0)
        return sw_err(err, SW_EINPUT, "sweep train: --train-limit, --val-limit and "
                      "--test-limit must be >= 0");
    if (parse_augment(f->augment, aug, err) != SW_OK)
        return err->code;
    if (dataset_load(d, f->dir ? f->dir : DEFAULT_DATA_DIR, (dataset_format)fmt,
                     (cifar_label)lab, err) != SW_OK)
        return err->code;
    if (f->label && d->format != DATA_CIFAR100)
        sw_err(err, SW_EINPUT, "sweep train: --label is for CIFAR-100, but %s holds %s", d->dir,
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

int cmd_train(int argc, char **argv, sw_error *err)
{
    train_config cfg = {0};
    model_spec_default(&cfg.model);   /* the defaults of the flags */
    const char *act = act_name(cfg.model.act), *init = init_name(cfg.model.init),
               *optim = optim_name(OPT_ADAM), *pos[1];
    double alpha = 1.0, dropout = 0.25, lr = 0.001;
    int epochs = 2, seed = 1, batch = 250, threads = 0, help = 0, n_pos;
    data_flags df = {getenv("SWEEP_DATA"), "auto", NULL, "none", 0.2, 0, 0, 0};
    const cli_option opts[] = {
        {"--data", NULL, OPT_STRING, &df.dir},
        {"--activation", NULL, OPT_STRING, &act},
        {"--alpha", NULL, OPT_DOUBLE, &alpha},
        {"--init", NULL, OPT_STRING, &init},
        {"--dropout", NULL, OPT_DOUBLE, &dropout},
        {"--epochs", NULL, OPT_INT, &epochs},
        {"--seed", NULL, OPT_INT, &seed},
        {"--batch-size", NULL, OPT_INT, &batch},
        {"--learning-rate", "--lr", OPT_DOUBLE, &lr},
        {"--optimizer", NULL, OPT_STRING, &optim},
        {"--validation-split", NULL, OPT_DOUBLE, &df.split},
        {"--train-limit", NULL, OPT_INT, &df.train_limit},
        {"--val-limit", NULL, OPT_INT, &df.val_limit},
        {"--test-limit", NULL, OPT_INT, &df.test_limit},
        {"--format", NULL, OPT_STRING, &df.format},
        {"--label", NULL, OPT_STRING, &df.label},
        {"--augment", NULL, OPT_STRING, &df.augment},
        {"--threads", NULL, OPT_INT, &threads},
        {NULL, NULL, 0, NULL},
    };
    if (cli_parse("train", argc, argv, opts, pos, 0, &n_pos, &help, err) != SW_OK)
        return err->code;
    if (help) {
        train_help();
        return 0;
    }
    int a = act_from_name(act), in = init_from_name(init), o = optim_from_name(optim);
    char names[400];
    if (a < 0) {
        join_table(names, sizeof names, act_count(), act_at, ", ", " or ");
        return sw_err(err, SW_EINPUT, "sweep train: --activation must be %s, got '%s'", names, act);
    }
    if (in < 0) {
        join_table(names, sizeof names, init_count(), init_at, ", ", " or ");
        return sw_err(err, SW_EINPUT, "sweep train: --init must be %s, got '%s'", names, init);
    }
    if (o < 0) {
        join_table(names, sizeof names, optim_count(), optim_at, ", ", " or ");
        return sw_err(err, SW_EINPUT, "sweep train: --optimizer must be %s, got '%s'", names,
                      optim);
    }
    if (!(dropout >= 0 && dropout < 1))
        return sw_err(err, SW_EINPUT, "sweep train: --dropout must be in [0, 1), got %g", dropout);
    if (!(alpha > 0) && act_info((act_kind)a)->takes_alpha)
        return sw_err(err, SW_EINPUT, "sweep train: --alpha must be > 0, got %g", alpha);
    if (epochs < 1 || batch < 1 || !(lr > 0) || !(df.split > 0 && df.split < 1))
        return sw_err(err, SW_EINPUT, "sweep train: --epochs and --batch-size must be positive, "
                                      "--learning-rate > 0, --validation-split in (0, 1)");
    cfg.model.act = (act_kind)a;
    cfg.model.alpha = (float)alpha;
    cfg.model.init = (init_kind)in;
    cfg.model.dropout = (float)dropout;
    cfg.optimizer = (optim_kind)o;
    cfg.learning_rate = (float)lr;
    cfg.batch_size = batch;
    cfg.epochs = epochs;
    cfg.seed = (uint64_t)seed;

    dataset d;
    data_split train, val, test;
    if (load_data(&df, &cfg.augment, &d, &train, &val, &test, err) != SW_OK)
        return err->code;
    cfg.model.in_h = d.rows;
    cfg.model.in_w = d.cols;
    cfg.model.in_c = d.channels;
    cfg.model.n_classes = d.n_classes;
    printf("# %s alpha=%g init=%s dropout=%g epochs=%d seed=%d batch=%d lr=%g %s%s%s; "
           "train %ld, validation %ld, test %ld\n",
           act, alpha, init, dropout, epochs, seed, batch, lr, optim,
           data_augment_active(&cfg.augment) ? " augment=" : "",
           data_augment_active(&cfg.augment) ? df.augment : "", train.n, val.n, test.n);
    fflush(stdout);

    train_hooks hooks = {.ctx = &train, .on_epoch = hook_epoch};
    train_result res;
    int rc = train_run(&cfg, &train, &val, &test, threads, &hooks, &res, err);
    dataset_free(&d);
    if (rc != SW_OK)
        return err->code;
    if (res.status == TRAIN_DIVERGED) {
        printf("diverged in epoch %d\n", res.diverged_epoch);
        return SW_ERUN;
    }
    printf("test_loss %.4f  test_accuracy %.4f\n", res.test_loss, res.test_accuracy);
    return 0;
}
