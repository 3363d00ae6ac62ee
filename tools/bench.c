/* bench.c: the measurements behind `make bench` (tools/bench.sh prints and
 * records them). Uses the library directly, so the numbers are the kernels'
 * and the training loop's, without the CLI or the database.
 *
 *   bench flops                      FLOPs per image, per layer
 *   bench train [--act A] [--threads N] [--batches K] [--warmup W]
 *               [--eval N] [--data DIR] [--batchnorm 0|1]
 *                                    training and evaluation images/s of
 *                                    the default model, shaped by DIR's
 *                                    images (1x28x28, 3x32x32 for CIFAR)
 *   bench layers [--act A] [--batchnorm 0|1] [--data DIR] [--batches K]
 *               [--warmup W] [--threads N]
 *                                    milliseconds, GFLOP/s and bytes of
 *                                    each layer's forward and backward
 *                                    kernels in a training step (a line
 *                                    each), then their sum against the
 *                                    model's whole step
 *   bench rss -- CMD [ARGS...]       runs CMD, reports its peak RSS
 *   bench acts                       the activations' names, one per line
 *
 * Every result is one line of key=value pairs on stdout. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "base/rng.h"
#include "bench.h"
#include "data/dataset.h"
#include "sweep/config.h"
#include "train/model.h"
#include "train/optim.h"

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

__attribute__((noreturn)) void die(const char *msg)
{
    fprintf(stderr, "bench: %s\n", msg);
    exit(2);
}

/* ---------------------------------------------------------------------------
 * FLOPs per image, from the model's shapes.
 *
 * Forward: 2 * MACs of every conv (as im2col GEMM) and dense layer.
 * Backward, exactly: each layer's weight-gradient GEMM costs its forward
 * MACs again, and so does its input-gradient GEMM, except for the first
 * conv, whose input (the image) needs no gradient. Bias, activation, pool,
 * dropout, softmax and Adam are elementwise and not counted (about 1%;
 * a few % with ELU's exponentials).
 * "step" is the usual 3x forward (what the PyTorch reference quotes);
 * "exact" is the sum above. */

typedef struct {
    char name[16];
    double fwd;     /* FLOPs per image */
    int has_dx;     /* backward computes an input gradient */
} layer_flops;

typedef struct {
    int n;
    layer_flops l[MODEL_MAX_CONV + MODEL_MAX_DENSE + 1];
    double fwd, step, exact;
} flop_count;

/* Walks the shapes as model.c plans them (valid 3x3 conv, floor 2x2 pool),
 * then checks them against the model's weight tensors, so that a change to
 * model.c cannot silently skew the count. */
static void count_flops(const model *m, flop_count *fc)
{
    const model_spec *s = model_get_spec(m);
    const model_shape *sh = &s->shape;
    int c = s->in_c, h = s->in_h, w = s->in_w, in;
    memset(fc, 0, sizeof *fc);
    for (int k = 0; k < sh->n_conv; k++) {
        int oh = h - 2, ow = w - 2;
        layer_flops *l = &fc->l[fc->n++];
        snprintf(l->name, sizeof l->name, "conv%d", k + 1);
        l->fwd = 2.0 * sh->conv[k] * c * 9 * (double)oh * ow;
        l->has_dx = k > 0;
        c = sh->conv[k];
        h = oh / 2;
        w = ow / 2;
    }
    in = c * h * w;
    for (int k = 0; k <= sh->n_dense; k++) {
        int out = k == sh->n_dense ? s->n_classes : sh->dense[k];
        layer_flops *l = &fc->l[fc->n++];
        if (k == sh->n_dense)
            snprintf(l->name, sizeof l->name, "out");
        else
            snprintf(l->name, sizeof l->name, "dense%d", k + 1);
        l->fwd = 2.0 * in * out;
        l->has_dx = 1;
        in = out;
    }
    for (int i = 0; i < fc->n; i++) {
        const layer_flops *l = &fc->l[i];
        fc->fwd += l->fwd;
        fc->exact += l->fwd * (l->has_dx ? 3 : 2);
    }
    fc->step = 3 * fc->fwd;

    /* The weight tensors come in layer order; each one's size times the
     * output pixels (conv) must give the layer's MACs. */
    int layer = 0;
    h = s->in_h;
    w = s->in_w;
    for (int i = 0; i < model_num_tensors(m); i++) {
        const model_tensor *t = model_tensor_at(m, i);
        const char *dot = strchr(t->name, '.');
        if (!dot || strcmp(dot, ".weight") != 0)
            continue;
        double macs = (double)t->size;
        if (layer < sh->n_conv) {
            macs *= (double)(h - 2) * (w - 2);
            h = (h - 2) / 2;
            w = (w - 2) / 2;
        }
        if (layer >= fc->n || strlen(fc->l[layer].name) != (size_t)(dot - t->name) ||
            strncmp(t->name, fc->l[layer].name, (size_t)(dot - t->name)) != 0 ||
            fabs(2 * macs - fc->l[layer].fwd) > 0.5)
            die("the model's layers do not match the FLOP count's shapes");
        layer++;
    }
    if (layer != fc->n)
        die("the model's layers do not match the FLOP count's shapes");
}

/* The default model with activation act and batch norm bn, on d's image
 * shape and classes (the default's 1x28x28 and 10 without d). */
int default_model(model **m, act_kind act, int bn, const dataset *d, int batch)
{
    model_spec spec;
    sw_error err = {0};
    model_spec_default(&spec);
    spec.act = act;
    spec.batchnorm = bn;
    if (d) {
        spec.in_c = d->channels;
        spec.in_h = d->rows;
        spec.in_w = d->cols;
        spec.n_classes = d->n_classes;
    }
    if (model_create(m, &spec, batch, &err) != SW_OK) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int cmd_flops(void)
{
    model *m;
    flop_count fc;
    if (default_model(&m, ACT_RELU, 0, NULL, 1) != 0)
        return 2;
    count_flops(m, &fc);
    for (int i = 0; i < fc.n; i++)
        printf("layer=%s fwd_mflop=%.4f dx=%d\n", fc.l[i].name, fc.l[i].fwd * 1e-6, fc.l[i].has_dx);
    printf("fwd_mflop=%.4f step_mflop=%.4f exact_step_mflop=%.4f\n", fc.fwd * 1e-6,
           fc.step * 1e-6, fc.exact * 1e-6);
    model_free(m);
    return 0;
}

/* ---------------------------------------------------------------------------
 * Training and evaluation speed */

void parse_train_args(int argc, char **argv, train_args *t)
{
    const char *act_s = "relu";
    *t = (train_args){.dir = getenv("SWEEP_DATA"), .threads = 1, .batches = 20, .warmup = 3,
                      .eval_n = 4800};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            die("every train flag takes a value");
        if (!strcmp(a, "--act"))
            act_s = v;
        else if (!strcmp(a, "--threads"))
            t->threads = atoi(v);
        else if (!strcmp(a, "--batches"))
            t->batches = atoi(v);
        else if (!strcmp(a, "--warmup"))
            t->warmup = atoi(v);
        else if (!strcmp(a, "--eval"))
            t->eval_n = atol(v);
        else if (!strcmp(a, "--data"))
            t->dir = v;
        else if (!strcmp(a, "--batchnorm"))
            t->bn = strcmp(v, "1") == 0 ? 1 : strcmp(v, "0") == 0 ? 0 : -1;
        else
            die("unknown train flag (see the top of tools/bench.c)");
        i++;
    }
    t->act = act_from_name(act_s);
    if (t->act < 0 || t->threads < 1 || t->batches < 1 || t->warmup < 0 || t->eval_n < 1 ||
        t->bn < 0)
        die("bad --act, --threads, --batches, --warmup, --eval or --batchnorm");
    if (!t->dir || !*t->dir)
        t->dir = DEFAULT_DATA_DIR;
}

/* A shuffled order, as the trainer gathers: random rows, not a stream. */
long *shuffled(long n)
{
    long *order = malloc(sizeof(long) * (size_t)n);
    if (!order)
        die("out of memory");
    for (long i = 0; i < n; i++)
        order[i] = i;
    for (long i = n - 1; i > 0; i--) {
        long j = (long)(rng_u64(1, RNG_SHUFFLE, 1, (uint64_t)i) % (uint64_t)(i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    return order;
}

/* Evaluation as an epoch's validation: forward, the layer statistics and
 * the loss, no backward, over the first eval_n images of val, after one
 * untimed batch. Returns the seconds; *hits the correct answers. */
static double time_eval(model *m, const data_split *val, long eval_n, int bs, float *x,
                        uint8_t *y, long *hits)
{
    int correct;
    data_batch_floats(x, y, val, NULL, 0, bs);
    model_forward(m, x, bs, 0, 0, 0);
    model_loss(m, y, bs, &correct, 0);
    *hits = 0;
    double t0 = now_seconds();
    for (long start = 0; start < eval_n; start += bs) {
        int count = (int)(eval_n - start < bs ? eval_n - start : bs);
        data_batch_floats(x, y, val, NULL, start, count);
        model_forward_stats(m, x, count);
        model_loss(m, y, count, &correct, 0);
        *hits += correct;
    }
    return now_seconds() - t0;
}

void bench_data(const train_args *a, dataset *d, data_split *train, data_split *val)
{
#ifdef _OPENMP
    omp_set_num_threads(a->threads);
#else
    if (a->threads != 1)
        die("built without OpenMP: only --threads 1");
#endif
    sw_error err = {0};
    if (dataset_load(d, a->dir, DATA_AUTO, CIFAR_FINE, &err) != SW_OK)
        die(err.msg);
    data_split test;
    dataset_split(d, &(data_split_opts){0.2, 0, 0, 0}, train, val, &test, NULL);
}

static int cmd_train(int argc, char **argv)
{
    train_args a;
    int bs = 250;
    parse_train_args(argc, argv, &a);
    dataset d;
    data_split train, val;
    bench_data(&a, &d, &train, &val);
    long eval_n = a.eval_n > val.n ? val.n : a.eval_n, per_epoch = train.n / bs;
    if (per_epoch < 1 || eval_n < 1)
        die("the data has fewer training images than one batch of 250, or no validation");

    model *m;
    optimizer opt = {0};
    flop_count fc;
    if (default_model(&m, (act_kind)a.act, a.bn, &d, bs) != 0)
        return 2;
    count_flops(m, &fc);
    model_init_params(m, 1);
    sw_error err = {0};
    if (optim_init(&opt, OPT_ADAM, 1e-3f, model_num_params(m), &err) != SW_OK)
        die(err.msg);
    long *order = shuffled(train.n), hits;
    float *x = malloc(sizeof(float) * (size_t)bs * (size_t)train.pixels);
    uint8_t *y = malloc((size_t)bs);
    if (!x || !y)
        die("out of memory");

    /* Warm-up steps (first touch of the buffers, thread start-up) are not
     * timed; the timed steps go on where they stop. */
    double t0 = 0, loss_sum = 0;
    for (int b = 0; b < a.warmup + a.batches; b++) {
        if (b == a.warmup)
            t0 = now_seconds();
        int correct;
        data_batch_floats(x, y, &train, order, (b % per_epoch) * bs, bs);
        model_forward(m, x, bs, 1, 1, (uint64_t)b);
        double loss = model_loss(m, y, bs, &correct, 1);
        optim_step(&opt, model_params(m), model_grads(m));
        if (b >= a.warmup)
            loss_sum += loss;
    }
    double train_s = now_seconds() - t0;
    double train_loss = loss_sum / ((double)a.batches * bs);
    double eval_s = time_eval(m, &val, eval_n, bs, x, y, &hits);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double train_ips = (double)a.batches * bs / train_s, eval_ips = (double)eval_n / eval_s;
    printf("act=%s batchnorm=%d shape=%dx%dx%d threads=%d train_images=%ld train_s=%.3f "
           "train_img_s=%.1f train_loss=%.4f eval_images=%ld eval_s=%.3f eval_img_s=%.1f "
           "eval_acc=%.4f fwd_mflop=%.4f step_mflop=%.4f exact_step_mflop=%.4f "
           "train_gflops=%.2f eval_gflops=%.2f maxrss_mb=%.1f\n",
           act_name((act_kind)a.act), a.bn, d.channels, d.rows, d.cols, a.threads,
           (long)a.batches * bs, train_s, train_ips, train_loss, eval_n, eval_s, eval_ips,
           (double)hits / (double)eval_n, fc.fwd * 1e-6, fc.step * 1e-6, fc.exact * 1e-6,
           train_ips * fc.step * 1e-9, eval_ips * fc.fwd * 1e-9, (double)ru.ru_maxrss / 1024.0);
    free(order);
    free(x);
    free(y);
    optim_free(&opt);
    model_free(m);
    dataset_free(&d);
    return isfinite(train_loss) ? 0 : 1;
}

/* ---------------------------------------------------------------------------
 * Peak RSS of a command: wait4() gives the child's own rusage, so the
 * number is that process's high-water mark, not ours. */

static int cmd_rss(int argc, char **argv)
{
    if (argc < 1)
        die("usage: bench rss -- CMD [ARGS...]");
    double t0 = now_seconds();
    pid_t pid = fork();
    if (pid < 0)
        die("fork failed");
    if (pid == 0) {
        execvp(argv[0], argv);
        fprintf(stderr, "bench: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int st;
    struct rusage ru;
    while (wait4(pid, &st, 0, &ru) < 0)
        if (errno != EINTR)
            die("wait4 failed");
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    /* stderr: the command's stdout may be the same stream */
    fprintf(stderr, "bench-rss: rss_mb=%.1f wall_s=%.3f exit=%d\n", (double)ru.ru_maxrss / 1024.0,
            now_seconds() - t0, code);
    return code;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "flops"))
        return cmd_flops();
    if (argc >= 2 && !strcmp(argv[1], "train"))
        return cmd_train(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "layers"))
        return cmd_layers(argc - 2, argv + 2);
    if (argc >= 3 && !strcmp(argv[1], "rss") && !strcmp(argv[2], "--"))
        return cmd_rss(argc - 3, argv + 3);
    if (argc == 2 && !strcmp(argv[1], "acts")) {
        for (int a = 0; a < act_count(); a++)
            printf("%s\n", act_name((act_kind)a));
        return 0;
    }
    fprintf(stderr, "usage: bench flops | bench train [--act A] [--threads N] [--batches K] "
                    "[--warmup W] [--eval N] [--data DIR] [--batchnorm 0|1] | bench layers [--act A] "
                    "[--batchnorm 0|1] [--data DIR] [--batches K] [--warmup W] | bench rss -- CMD [ARGS...] | "
                    "bench acts\n");
    return 2;
}
