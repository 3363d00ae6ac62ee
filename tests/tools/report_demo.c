/* report_demo: writes the `sweep report` page from fixed, made-up data, for
 * the browser test (tests/e2e/report.sh) and for looking at the layout.
 *   usage: report_demo OUT.html [GROUPS]
 * GROUPS activations (default 4; more than REPORT_MAX_LINES gives small
 * multiples), 2 seeds each, 12 epochs, 3 layers, plus a failed and a
 * diverged run whose errors hold markup that must show as text.
 * Deterministic: the same arguments give the same bytes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "report/report.h"
#include "sweep/stats.h"

#define EPOCHS 12
#define SEEDS 2
#define MAX_GROUPS 12
#define LAYERS 3

static const char *const ACTS[MAX_GROUPS] = {"relu", "elu", "leaky_relu", "prelu", "selu",
                                             "gelu", "swish", "tanh", "softplus", "mish",
                                             "celu", "sigmoid"};
static const char *const LAYER_NAMES[LAYERS] = {"conv1", "conv2", "dense1"};

static const char CONFIG[] =
    "name: elu_vs_relu\n"
    "# demo data: <b>not bold</b> & \"quoted\"\n"
    "data: {dir: /usr/share/datasets/fashion-mnist, validation_split: 0.2}\n"
    "grid:\n"
    "  activation: [relu, elu, leaky_relu, prelu]\n"
    "  epochs: 12\n"
    "  seed: [1, 2]\n";

/* Small fixed wiggles in [-0.01, 0.01]: seeds differ, runs repeat. */
static double wiggle(int g, int s, int e, int k)
{
    return ((((g + 1) * (s + 3) * 37 + e * 17 + k * 7) % 13) - 6) / 600.0;
}

/* Metric k (report.h's curve order) of group g, seed s at epoch e. */
static double metric(int k, int g, int s, int e)
{
    double rate = 2.0 + 0.45 * g;
    double loss = 0.28 + 0.03 * g + 1.9 * exp(-e / rate) + wiggle(g, s, e, k);
    double acc = 0.93 - 0.01 * g - 0.78 * exp(-e / rate) + wiggle(g, s, e, k);
    switch (k) {
    case REPORT_TRAIN_LOSS: return loss;
    case REPORT_VAL_LOSS: return loss + 0.04 + 0.004 * e;
    case REPORT_TRAIN_ACC: return acc;
    default: return acc - 0.02 - 0.001 * e;
    }
}

/* Layer statistic (0 mean activation, 1 dead fraction) of layer l. */
static double layer_stat(int which, int g, int l, int s, int e)
{
    int relu_like = g == 0 || g == 2;
    if (which == 0)
        return (relu_like ? 0.35 - 0.1 * g + 0.02 * e : 0.02 * g + 0.004 * e) * (1 + 0.3 * l) +
               wiggle(g, s, e, 9 + l);
    return relu_like ? fmax(0, 0.04 * l + 0.006 * e * (g == 0) + wiggle(g, s, e, 20 + l)) : 0;
}

/* A curve's mean and min-max band over seeds from the function's values. */
static void fill_curve(report_curve *c, double *buf, double (*v)(int, int, int, int, int),
                       int a, int b)
{
    double *mean = buf, *lo = buf + EPOCHS, *hi = buf + 2 * EPOCHS;
    for (int e = 0; e < EPOCHS; e++) {
        double x[SEEDS];
        for (int s = 0; s < SEEDS; s++)
            x[s] = v(a, b, s, e + 1, 0);
        mean[e] = stats_mean(x, SEEDS);
        lo[e] = fmin(x[0], x[1]);
        hi[e] = fmax(x[0], x[1]);
    }
    *c = (report_curve){.n = EPOCHS, .mean = mean, .lo = lo, .hi = hi};
}

static double metric5(int k, int g, int s, int e, int unused)
{
    (void)unused;
    return metric(k, g, s, e);
}

static double layer5(int which_l, int g, int s, int e, int unused)
{
    (void)unused;
    return layer_stat(which_l / LAYERS, g, which_l % LAYERS, s, e);
}

static double test_acc(int g, int s)
{
    return metric(REPORT_VAL_ACC, g, s, EPOCHS) - 0.004;
}

/* The comparison of test_accuracy against relu, paired by seed. */
static void fill_comparison(report_compare_row *rows, int n_groups)
{
    double base[SEEDS], p[MAX_GROUPS], holm[MAX_GROUPS];
    for (int s = 0; s < SEEDS; s++)
        base[s] = test_acc(0, s);
    for (int g = 0; g < n_groups; g++) {
        double x[SEEDS];
        for (int s = 0; s < SEEDS; s++)
            x[s] = test_acc(g, s);
        rows[g] = (report_compare_row){.level = ACTS[g], .is_baseline = g == 0};
        stats_describe(x, SEEDS, &rows[g].s);
        stats_paired_test(x, base, SEEDS, &rows[g].c);
        p[g] = g == 0 ? NAN : rows[g].c.p;
    }
    stats_holm(p, n_groups, holm);
    for (int g = 1; g < n_groups; g++) {
        rows[g].c.p_holm = holm[g];
        rows[g].decision = !(holm[g] < STATS_ALPHA) ? "undecided"
                           : rows[g].c.diff > 0       ? "better"
                                                      : "worse";
    }
}

int main(int argc, char **argv)
{
    int n_groups = argc > 2 ? atoi(argv[2]) : 4;
    if (argc < 2 || n_groups < 1 || n_groups > MAX_GROUPS) {
        fprintf(stderr, "usage: report_demo OUT.html [GROUPS (1..%d)]\n", MAX_GROUPS);
        return 2;
    }
    static double curve_buf[MAX_GROUPS][REPORT_N_CURVES + 2 * LAYERS][3 * EPOCHS];
    static report_group groups[MAX_GROUPS];
    static report_curve act[LAYERS][MAX_GROUPS], dead[LAYERS][MAX_GROUPS];
    for (int g = 0; g < n_groups; g++) {
        groups[g] = (report_group){.name = ACTS[g], .n_runs = SEEDS};
        for (int k = 0; k < REPORT_N_CURVES; k++)
            fill_curve(&groups[g].curve[k], curve_buf[g][k], metric5, k, g);
        for (int l = 0; l < LAYERS; l++) {
            fill_curve(&act[l][g], curve_buf[g][REPORT_N_CURVES + l], layer5, l, g);
            fill_curve(&dead[l][g], curve_buf[g][REPORT_N_CURVES + LAYERS + l], layer5,
                       LAYERS + l, g);
        }
    }
    report_layer layers[LAYERS];
    for (int l = 0; l < LAYERS; l++)
        layers[l] = (report_layer){.name = LAYER_NAMES[l], .mean_activation = act[l],
                                   .dead_fraction = dead[l]};

    static report_compare_row rows[MAX_GROUPS];
    fill_comparison(rows, n_groups);
    report_comparison cmp = {.metric = "test_accuracy", .axis = "activation", .baseline = "relu",
                             .units = STATS_UNITS_POINTS, .n_rows = n_groups, .rows = rows};

    static const char *values[MAX_GROUPS * SEEDS + 2][2];
    static char seed_text[MAX_GROUPS * SEEDS + 2][12];
    static report_run runs[MAX_GROUPS * SEEDS + 2];
    int n_runs = 0;
    for (int g = 0; g < n_groups; g++)
        for (int s = 0; s < SEEDS; s++, n_runs++) {
            snprintf(seed_text[n_runs], sizeof seed_text[0], "%d", s + 1);
            values[n_runs][0] = ACTS[g];
            values[n_runs][1] = seed_text[n_runs];
            runs[n_runs] = (report_run){
                .id = n_runs + 1, .values = values[n_runs], .status = "done",
                .best_epoch = EPOCHS - 1 - s, .stopped_epoch = EPOCHS,
                .test_loss = metric(REPORT_VAL_LOSS, g, s, EPOCHS) + 0.01,
                .test_accuracy = test_acc(g, s), .seconds = 41.5 + 3.25 * g + s};
        }
    values[n_runs][0] = "elu";
    values[n_runs][1] = "3";
    runs[n_runs] = (report_run){.id = n_runs + 1, .values = values[n_runs], .status = "failed",
                                .test_loss = NAN, .test_accuracy = NAN, .seconds = 3.5,
                                .error = "cannot open <script>alert(1)</script> & \"data\""};
    n_runs++;
    values[n_runs][0] = "relu";
    values[n_runs][1] = "3";
    runs[n_runs] = (report_run){.id = n_runs + 1, .values = values[n_runs],
                                .status = "diverged", .test_loss = NAN, .test_accuracy = NAN,
                                .seconds = 12.0, .error = "loss is NaN at epoch 3"};
    n_runs++;

    double seconds = 0;
    for (int i = 0; i < n_runs; i++)
        seconds += runs[i].seconds;
    const report_count status[] = {{"done", n_groups * SEEDS}, {"failed", 1}, {"diverged", 1}};
    static const char *const axes[] = {"activation", "seed"};
    report_page page = {
        .sweep = "elu_vs_relu", .config = CONFIG, .grid_size = n_runs, .n_status = 3,
        .status = status, .dataset = "fashion-mnist (48000 train, 12000 validation, 10000 test)",
        .machine = "demo-host, 2 cores", .seconds = seconds,
        .generated = "made-up data from tests/tools/report_demo",
        .n_comparisons = 1, .comparisons = &cmp, .band_note = "band: min to max over seeds",
        .n_groups = n_groups, .groups = groups, .n_layers = LAYERS, .layers = layers,
        .n_axes = 2, .axes = axes, .n_runs = n_runs, .runs = runs};
    sw_error err = {0};
    if (report_save(&page, argv[1], &err) != SW_OK) {
        fprintf(stderr, "report_demo: %s\n", err.msg);
        return err.code;
    }
    return 0;
}
