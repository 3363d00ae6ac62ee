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
           "  --data DIR              MNIST-format folder (default $SWEEP_DATA, else\n"
           "                          " DEFAULT_DATA_DIR ")\n");
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
    printf("  --momentum X            sgd, rmsprop: momentum in [0, 1) (default 0)\n"
           "  --nesterov              sgd: Nesterov momentum (needs --momentum)\n"
           "  --weight-decay X        adamw: decoupled; others: L2 (default 0)\n"
           "  --lr-schedule S         constant | cosine | step:EVERY:GAMMA, per epoch\n"
           "                          (default constant)\n"
           "  --batchnorm             batch norm after each conv and hidden dense layer\n"
           "  --padding P             valid | same: 3x3 convs padded by 1 (default valid)\n"

           "  --validation-split X    last fraction of the training set (default 0.2)\n"
           "  --train-limit N         train on the first N training images (0 = all)\n"
           "  --threads N             OpenMP threads (default: all cores)\n");
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

/* The optimizer's settings, the schedule and the model's padding from
 * their flags into cfg; a bad value is a usage error naming the flag. */
static int train_flags(train_config *cfg, const char *optim, double momentum, int nesterov,
                       double wd, const char *schedule, const char *padding, sw_error *err)
{
    int o = optim_from_name(optim);
    if (o < 0) {
        char names[400];
        join_table(names, sizeof names, optim_count(), optim_at, ", ", " or ");
        return sw_err(err, SW_EINPUT, "sweep train: --optimizer must be %s, got '%s'", names,
                      optim);
    }
    cfg->optimizer = (optim_kind)o;
    int takes = cfg->optimizer == OPT_SGD || cfg->optimizer == OPT_RMSPROP;
    if (!(momentum >= 0 && momentum < 1))
        return sw_err(err, SW_EINPUT, "sweep train: --momentum must be in [0, 1), got %g",
                      momentum);
    if (momentum > 0 && !takes)
        return sw_err(err, SW_EINPUT, "sweep train: --momentum applies to sgd and rmsprop, not "
                                      "%s", optim_name(cfg->optimizer));
    if (nesterov && !(cfg->optimizer == OPT_SGD && momentum > 0))
        return sw_err(err, SW_EINPUT, "sweep train: --nesterov needs --optimizer sgd and "
                                      "--momentum > 0");
    if (!(wd >= 0) || isinf(wd))
        return sw_err(err, SW_EINPUT, "sweep train: --weight-decay must be >= 0, got %g", wd);
    if (sched_parse_flag(schedule, &cfg->schedule) != 0)
        return sw_err(err, SW_EINPUT, "sweep train: --lr-schedule must be constant, cosine or "
                                      "step:EVERY:GAMMA (EVERY >= 1, GAMMA in (0, 1]), got '%s'",
                      schedule);
    if (strcmp(padding, "valid") != 0 && strcmp(padding, "same") != 0)
        return sw_err(err, SW_EINPUT, "sweep train: --padding must be valid or same, got '%s'",
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

int cmd_train(int argc, char **argv, sw_error *err)
{
    train_config cfg = {0};
    model_spec_default(&cfg.model);   /* the defaults of the flags */
    const char *data_dir = getenv("SWEEP_DATA"), *act = act_name(cfg.model.act),
               *init = init_name(cfg.model.init), *optim = optim_name(OPT_ADAM);
    const char *schedule = "constant", *padding = "valid";
    double alpha = 1.0, dropout = 0.25, lr = 0.001, split = 0.2, momentum = 0, wd = 0;
    int epochs = 2, seed = 1, batch = 250, train_limit = 0, threads = 0, help = 0, n_pos;
    int batchnorm = 0, nesterov = 0;
    const char *pos[1];
    const cli_option opts[] = {
        {"--data", NULL, OPT_STRING, &data_dir},
        {"--activation", NULL, OPT_STRING, &act},
        {"--alpha", NULL, OPT_DOUBLE, &alpha},
        {"--init", NULL, OPT_STRING, &init},
        {"--dropout", NULL, OPT_DOUBLE, &dropout},
        {"--epochs", NULL, OPT_INT, &epochs},
        {"--seed", NULL, OPT_INT, &seed},
        {"--batch-size", NULL, OPT_INT, &batch},
        {"--learning-rate", "--lr", OPT_DOUBLE, &lr},
        {"--optimizer", NULL, OPT_STRING, &optim},
        {"--momentum", NULL, OPT_DOUBLE, &momentum},
        {"--nesterov", NULL, OPT_FLAG, &nesterov},
        {"--weight-decay", NULL, OPT_DOUBLE, &wd},
        {"--lr-schedule", NULL, OPT_STRING, &schedule},
        {"--batchnorm", NULL, OPT_FLAG, &batchnorm},
        {"--padding", NULL, OPT_STRING, &padding},
        {"--validation-split", NULL, OPT_DOUBLE, &split},
        {"--train-limit", NULL, OPT_INT, &train_limit},
        {"--threads", NULL, OPT_INT, &threads},
        {NULL, NULL, 0, NULL},
    };
    if (cli_parse("train", argc, argv, opts, pos, 0, &n_pos, &help, err) != SW_OK)
        return err->code;
    if (help) {
        train_help();
        return 0;
    }
    int a = act_from_name(act), in = init_from_name(init);
    char names[400];
    if (a < 0) {
        join_table(names, sizeof names, act_count(), act_at, ", ", " or ");
        return sw_err(err, SW_EINPUT, "sweep train: --activation must be %s, got '%s'", names, act);
    }
    if (in < 0) {
        join_table(names, sizeof names, init_count(), init_at, ", ", " or ");
        return sw_err(err, SW_EINPUT, "sweep train: --init must be %s, got '%s'", names, init);
    }
    if (!(dropout >= 0 && dropout < 1))
        return sw_err(err, SW_EINPUT, "sweep train: --dropout must be in [0, 1), got %g", dropout);
    if (!(alpha > 0) && act_info((act_kind)a)->takes_alpha)
        return sw_err(err, SW_EINPUT, "sweep train: --alpha must be > 0, got %g", alpha);
    if (epochs < 1 || batch < 1 || !(lr > 0) || !(split > 0 && split < 1))
        return sw_err(err, SW_EINPUT, "sweep train: --epochs and --batch-size must be positive, "
                                      "--learning-rate > 0, --validation-split in (0, 1)");
    cfg.model.act = (act_kind)a;
    cfg.model.alpha = (float)alpha;
    cfg.model.init = (init_kind)in;
    cfg.model.dropout = (float)dropout;
    cfg.learning_rate = (float)lr;
    cfg.batch_size = batch;
    cfg.epochs = epochs;
    cfg.seed = (uint64_t)seed;
    cfg.model.batchnorm = batchnorm;
    if (train_flags(&cfg, optim, momentum, nesterov, wd, schedule, padding, err) != SW_OK)
        return err->code;

    dataset d;
    if (dataset_load(&d, data_dir ? data_dir : DEFAULT_DATA_DIR, DATA_AUTO, CIFAR_FINE, err) != SW_OK)
        return err->code;
    data_split train, val, test;
    dataset_split(&d, &(data_split_opts){split, train_limit, 0, 0}, &train, &val, &test, NULL);
    cfg.model.in_h = d.rows;
    cfg.model.in_w = d.cols;
    cfg.model.in_c = d.channels;
    cfg.model.n_classes = d.n_classes;
    printf("# %s alpha=%g init=%s dropout=%g epochs=%d seed=%d batch=%d lr=%g %s; "
           "train %ld, validation %ld, test %ld\n",
           act, alpha, init, dropout, epochs, seed, batch, lr, optim, train.n, val.n, test.n);
    print_train_settings(&cfg);
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
