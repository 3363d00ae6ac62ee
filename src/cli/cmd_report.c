/* cmd_report.c: `sweep report`, one self-contained HTML page of a sweep:
 * the question, the comparison (compare_table.c's, the numbers of `sweep
 * compare`), learning curves and layer statistics per group of seeds, and
 * every run. Like compare, the runs of the sweep's current grid unless
 * --all. Reads the store, fills report.h's plain structs, and report_save
 * writes them. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "cli.h"
#include "compare_table.h"
#include "groups.h"
#include "report.h"
#include "report/report.h"
#include "sweep/config.h"

#define MAX_LAYERS 64

static const char report_help[] =
    "usage: sweep report [--db PATH] [--sweep NAME] [--by AXIS] [--metric M] [--all]\n"
    "                    -o FILE.html\n\n"
    "Writes one self-contained HTML page (styles and SVG charts inline, no\n"
    "scripts, nothing loaded from the network): the question (config, grid,\n"
    "run states, dataset, machine, time spent), the comparison of sweep compare\n"
    "with its sentences, learning curves and layer statistics per group of\n"
    "seeds (mean with a min-max band), and every run with its error if any.\n"
    "The comparison is the table of sweep compare --by AXIS, the same numbers.\n"
    "The file is written atomically.\n\n"
    "  --db PATH      database (default " DEFAULT_DB ")\n"
    "  --sweep NAME   the sweep (default: the only one in the database)\n"
    "  --by AXIS      the compared axis (default: the grid's first axis with\n"
    "                 several values): any setting (activation, alpha, model,\n"
    "                 init, dropout, epochs, batch_size, learning_rate,\n"
    "                 optimizer, seed, validation_split, train_limit, ...)\n"
    "  --metric M     test_accuracy (default), test_loss, best_val_accuracy,\n"
    "                 best_val_loss or seconds_per_epoch\n"
    "  --all          every recorded run, also those no longer in the sweep's\n"
    "                 current grid (after the YAML was edited)\n"
    "  -o FILE        the page (required); an -o that is the database is refused\n";

/* ---- the runs of the sweep, any status ---- */

typedef struct {
    long long id;
    char *text[STORE_SETTING_COUNT];   /* "-" for NULL */
    int status;
    int best_epoch, stopped_epoch;
    double test_loss, test_accuracy, seconds;
    char *error;
} any_run;

typedef struct {
    any_run *runs;
    int n, cap;
    char hosts[256];
    int threads;
    int oom;
} any_runs;

static char *dup_or(const char *s, const char *dflt)
{
    return strdup(s ? s : dflt);
}

static int collect_any(void *ctx, const store_any_run *r)
{
    any_runs *a = ctx;
    if (a->n == a->cap) {
        int cap = a->cap ? 2 * a->cap : 64;
        any_run *p = realloc(a->runs, (size_t)cap * sizeof *p);
        if (!p)
            return a->oom = 1;
        a->runs = p, a->cap = cap;
    }
    any_run *x = &a->runs[a->n];
    memset(x, 0, sizeof *x);
    a->n++;
    x->id = r->run_id;
    for (int i = 0; i < STORE_SETTING_COUNT; i++)
        if (!(x->text[i] = dup_or(r->setting[i].is_null ? NULL : r->setting[i].text, "-")))
            return a->oom = 1;
    x->status = r->status;
    x->best_epoch = r->best_epoch, x->stopped_epoch = r->stopped_epoch;
    x->test_loss = r->test_loss, x->test_accuracy = r->test_accuracy;
    x->seconds = r->wall_seconds;
    if (r->error && !(x->error = strdup(r->error)))
        return a->oom = 1;
    /* the hosts the runs were trained on, each once */
    if (r->host && *r->host && !strstr(a->hosts, r->host)) {
        size_t len = strlen(a->hosts);
        snprintf(a->hosts + len, sizeof a->hosts - len, "%s%s", len ? ", " : "", r->host);
    }
    if (r->threads > a->threads)
        a->threads = r->threads;
    return 0;
}

static void any_free(any_runs *a)
{
    for (int i = 0; i < a->n; i++) {
        for (int k = 0; k < STORE_SETTING_COUNT; k++)
            free(a->runs[i].text[k]);
        free(a->runs[i].error);
    }
    free(a->runs);
}

/* ---- epochs and layer statistics of the done runs ---- */

typedef struct {
    const rep_data *d;
    int max_epoch;
    /* dense, NAN where missing; filled in a second pass */
    double *epochs;    /* [run][epoch-1][STORE_EPOCH_METRIC_COUNT] */
    double *layers;    /* [run][layer][epoch-1][2] */
    char *layer_name[MAX_LAYERS];
    int n_layers;
    int oom;
} series_data;

static int run_index(const rep_data *d, long long id)
{
    int lo = 0, hi = d->n_runs - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (d->runs[mid].run_id == id)
            return mid;
        if (d->runs[mid].run_id < id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

static int layer_index(series_data *s, const char *name, int add)
{
    for (int i = 0; i < s->n_layers; i++)
        if (strcmp(s->layer_name[i], name) == 0)
            return i;
    if (!add || s->n_layers == MAX_LAYERS)
        return -1;
    if (!(s->layer_name[s->n_layers] = strdup(name))) {
        s->oom = 1;
        return -1;
    }
    return s->n_layers++;
}

/* First pass: the last epoch and the layers' names. */
static int scan_epoch(void *ctx, long long run_id, int epoch, const double *m)
{
    series_data *s = ctx;
    (void)run_id, (void)m;
    if (epoch > s->max_epoch)
        s->max_epoch = epoch;
    return 0;
}

static int scan_layer(void *ctx, long long run_id, int epoch, const char *layer, double a,
                      double dead)
{
    series_data *s = ctx;
    (void)run_id, (void)a, (void)dead;
    if (epoch > s->max_epoch)
        s->max_epoch = epoch;
    layer_index(s, layer, 1);
    return s->oom;
}

static int put_epoch(void *ctx, long long run_id, int epoch, const double *m)
{
    series_data *s = ctx;
    int r = run_index(s->d, run_id);
    if (r >= 0 && epoch >= 1 && epoch <= s->max_epoch)
        memcpy(s->epochs + ((size_t)r * s->max_epoch + epoch - 1) * STORE_EPOCH_METRIC_COUNT, m,
               STORE_EPOCH_METRIC_COUNT * sizeof *m);
    return 0;
}

static int put_layer(void *ctx, long long run_id, int epoch, const char *layer, double a,
                     double dead)
{
    series_data *s = ctx;
    int r = run_index(s->d, run_id), l = layer_index(s, layer, 0);
    if (r >= 0 && l >= 0 && epoch >= 1 && epoch <= s->max_epoch) {
        double *p = s->layers + (((size_t)r * s->n_layers + l) * s->max_epoch + epoch - 1) * 2;
        p[0] = a, p[1] = dead;
    }
    return 0;
}

static double *nan_array(size_t n)
{
    double *p = malloc(sizeof *p * (n ? n : 1));
    for (size_t i = 0; p && i < n; i++)
        p[i] = NAN;
    return p;
}

static int load_series(store *db, const char *sweep, int all, series_data *s, sw_error *err)
{
    if (store_done_epochs_all(db, sweep, all, scan_epoch, s, err) != SW_OK ||
        store_done_layers(db, sweep, all, scan_layer, s, err) != SW_OK)
        return err->code;
    if (s->oom)
        return sw_oom(err, "sweep report");
    size_t n_runs = (size_t)s->d->n_runs, e = (size_t)s->max_epoch;
    s->epochs = nan_array(n_runs * e * STORE_EPOCH_METRIC_COUNT);
    s->layers = nan_array(n_runs * (size_t)s->n_layers * e * 2);
    if (!s->epochs || !s->layers)
        return sw_oom(err, "sweep report");
    if (store_done_epochs_all(db, sweep, all, put_epoch, s, err) != SW_OK ||
        store_done_layers(db, sweep, all, put_layer, s, err) != SW_OK)
        return err->code;
    return SW_OK;
}

static void series_free(series_data *s)
{
    free(s->epochs);
    free(s->layers);
    for (int i = 0; i < s->n_layers; i++)
        free(s->layer_name[i]);
}

/* ---- the page ---- */

/* Everything the page points into, freed together. */
typedef struct {
    rep_data d;
    any_runs all;
    series_data s;
    run_groups rg;
    cmp_table table;              /* compare's table, the rows' numbers */
    report_compare_row *rows;
    int n_rows;
    report_comparison cmp;
    report_group *groups;
    char **group_names;
    double *curve_buf;
    report_curve *layer_curves;   /* [layer][2][group] */
    report_layer layers[MAX_LAYERS];
    report_count status[RUN_STATUS_COUNT];
    const char *axes[STORE_SETTING_COUNT];
    int axis_setting[STORE_SETTING_COUNT];
    const char **values;          /* [run][n_axes] */
    report_run *runs;
    char *config, *config_path;
    char **classes;               /* the data's class names, if stored */
    int n_classes;
    char dataset[4096], machine[512], generated[128];
    report_page page;
} built;

static void built_free(built *b)
{
    if (b->group_names)
        for (int g = 0; g < b->rg.n_groups; g++)
            free(b->group_names[g]);
    free(b->group_names);
    free(b->groups), free(b->curve_buf), free(b->layer_curves), free(b->rows);
    free(b->values), free(b->runs), free(b->config), free(b->config_path);
    groups_free(&b->rg);
    cmp_free(&b->table);
    store_names_free(b->classes, b->n_classes);
    series_free(&b->s);
    any_free(&b->all);
    rep_free(&b->d);
}

/* Mean and min-max band over group g's runs of the value at
 * base[r * run_stride + (e - 1) * epoch_stride], epochs 1..n. */
static void fill_curve(report_curve *c, double *buf, int n, const run_groups *rg, int g,
                       const double *base, size_t run_stride, size_t epoch_stride)
{
    double *mean = buf, *lo = buf + n, *hi = buf + 2 * n;
    for (int e = 0; e < n; e++) {
        double sum = 0, mn = INFINITY, mx = -INFINITY;
        int k = 0;
        for (int i = rg->start[g]; i < rg->start[g + 1]; i++) {
            double v = base[(size_t)rg->idx[i] * run_stride + (size_t)e * epoch_stride];
            if (isnan(v))
                continue;
            sum += v, k++;
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
        }
        mean[e] = k ? sum / k : NAN;
        lo[e] = k ? mn : NAN;
        hi[e] = k ? mx : NAN;
    }
    *c = (report_curve){.n = n, .mean = mean, .lo = lo, .hi = hi};
}

/* A group's name: the levels of the axes that vary among the done runs
 * (the seed aside), "elu" for one axis, "activation=elu, init=he" for more. */
/* Whether alpha follows the activation (one alpha per activation): then
 * the activation names the group alone. */
static int alpha_follows(const rep_data *d)
{
    int n = d->n_levels[RA_ACTIVATION], follows = 1;
    int *alpha = malloc(sizeof *alpha * (size_t)(n ? n : 1));
    if (!alpha)
        return 0;
    for (int i = 0; i < n; i++)
        alpha[i] = -1;
    for (int r = 0; r < d->n_runs && follows; r++) {
        int *a = &alpha[d->runs[r].level[RA_ACTIVATION]];
        follows = *a < 0 || *a == d->runs[r].level[STORE_ALPHA];
        *a = d->runs[r].level[STORE_ALPHA];
    }
    free(alpha);
    return follows;
}

static int names_group(const rep_data *d, int a, int alpha_silent)
{
    return a != RA_SEED && d->n_levels[a] > 1 && !(a == STORE_ALPHA && alpha_silent);
}

static char *group_name(const rep_data *d, int run, int alpha_silent)
{
    char buf[512];
    size_t len = 0;
    int varying = 0;
    for (int a = 0; a < RA_COUNT; a++)
        varying += names_group(d, a, alpha_silent);
    buf[0] = 0;
    for (int a = 0; a < RA_COUNT && len + 1 < sizeof buf; a++) {
        if (!names_group(d, a, alpha_silent))
            continue;
        const rep_level *l = &d->levels[a][d->runs[run].level[a]];
        const char *t = l->is_null ? "none" : l->text;
        if (varying == 1)
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%s", t);
        else
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s=%s", len ? ", " : "",
                                    rep_axis_name((rep_axis)a), t);
    }
    return strdup(varying ? buf : "all runs");
}

/* Groups of runs that differ only in seed, with their curves. */
static int build_groups(built *b, sw_error *err)
{
    int axes[RA_COUNT], n_axes = 0;
    for (int a = 0; a < RA_COUNT; a++)
        if (a != RA_SEED)
            axes[n_axes++] = a;
    if (groups_make(&b->rg, &b->d, axes, n_axes, 0) != 0)
        return sw_oom(err, "sweep report");
    int ng = b->rg.n_groups, nl = b->s.n_layers, e = b->s.max_epoch;
    size_t per_group = (size_t)(REPORT_N_CURVES + 2 * nl) * 3 * (size_t)(e ? e : 1);
    b->groups = calloc((size_t)(ng ? ng : 1), sizeof *b->groups);
    b->group_names = calloc((size_t)(ng ? ng : 1), sizeof *b->group_names);
    b->curve_buf = malloc(sizeof *b->curve_buf * per_group * (size_t)(ng ? ng : 1));
    b->layer_curves = calloc((size_t)(nl * 2 * ng) + 1, sizeof *b->layer_curves);
    if (!b->groups || !b->group_names || !b->curve_buf || !b->layer_curves)
        return sw_oom(err, "sweep report");
    size_t ee = (size_t)e, L = (size_t)nl;
    int alpha_silent = alpha_follows(&b->d);
    for (int g = 0; g < ng; g++) {
        double *buf = b->curve_buf + per_group * (size_t)g;
        if (!(b->group_names[g] = group_name(&b->d, group_first(&b->rg, g), alpha_silent)))
            return sw_oom(err, "sweep report");
        report_group *gr = &b->groups[g];
        gr->name = b->group_names[g];
        gr->n_runs = group_size(&b->rg, g);
        /* report.h's curve order against the store's metric order */
        static const int metric_of[REPORT_N_CURVES] = {
            [REPORT_TRAIN_LOSS] = STORE_EPOCH_TRAIN_LOSS, [REPORT_VAL_LOSS] = STORE_EPOCH_VAL_LOSS,
            [REPORT_TRAIN_ACC] = STORE_EPOCH_TRAIN_ACCURACY,
            [REPORT_VAL_ACC] = STORE_EPOCH_VAL_ACCURACY};
        for (int k = 0; k < REPORT_N_CURVES; k++, buf += 3 * e)
            fill_curve(&gr->curve[k], buf, e, &b->rg, g, b->s.epochs + metric_of[k],
                       ee * STORE_EPOCH_METRIC_COUNT, STORE_EPOCH_METRIC_COUNT);
        for (int l = 0; l < nl; l++)
            for (int w = 0; w < 2; w++, buf += 3 * e)
                fill_curve(&b->layer_curves[((size_t)l * 2 + w) * ng + g], buf, e, &b->rg, g,
                           b->s.layers + (size_t)l * ee * 2 + w, L * ee * 2, 2);
    }
    for (int l = 0; l < nl; l++)
        b->layers[l] = (report_layer){.name = b->s.layer_name[l],
                                      .mean_activation = b->layer_curves + (size_t)l * 2 * ng,
                                      .dead_fraction = b->layer_curves + ((size_t)l * 2 + 1) * ng};
    return SW_OK;
}

/* The settings that differ among the runs shown, and the seed. */
static void pick_run_axes(built *b)
{
    int n = 0;
    for (int k = 0; k < STORE_SETTING_COUNT; k++) {
        int varies = k == STORE_SEED;
        for (int i = 1; i < b->all.n && !varies; i++)
            varies = strcmp(b->all.runs[i].text[k], b->all.runs[0].text[k]) != 0;
        if (varies) {
            b->axes[n] = store_setting_name((store_setting)k);
            b->axis_setting[n++] = k;
        }
    }
    b->page.n_axes = n;
    b->page.axes = b->axes;
}

static int build_runs(built *b, sw_error *err)
{
    pick_run_axes(b);
    int n = b->all.n, na = b->page.n_axes;
    b->runs = calloc((size_t)(n ? n : 1), sizeof *b->runs);
    b->values = calloc((size_t)(n * na) + 1, sizeof *b->values);
    if (!b->runs || !b->values)
        return sw_oom(err, "sweep report");
    double seconds = 0;
    int timed = 0;
    for (int i = 0; i < n; i++) {
        const any_run *a = &b->all.runs[i];
        for (int k = 0; k < na; k++)
            b->values[(size_t)i * na + k] = a->text[b->axis_setting[k]];
        b->runs[i] = (report_run){
            .id = a->id, .values = b->values + (size_t)i * na,
            .status = a->status >= 0 ? run_status_name((run_status)a->status) : "unknown",
            .best_epoch = a->best_epoch, .stopped_epoch = a->stopped_epoch,
            .test_loss = a->test_loss, .test_accuracy = a->test_accuracy, .seconds = a->seconds,
            .error = a->status == RUN_FAILED || a->status == RUN_DIVERGED ||
                             a->status == RUN_INTERRUPTED ? a->error : NULL};
        if (!isnan(a->seconds))
            seconds += a->seconds, timed++;
        if (a->status >= 0 && a->status < RUN_STATUS_COUNT)
            b->status[a->status].count++;
    }
    int ns = 0;
    for (int st = 0; st < RUN_STATUS_COUNT; st++)
        if (b->status[st].count)
            b->status[ns++] = (report_count){run_status_name((run_status)st), b->status[st].count};
    b->page.n_status = ns;
    b->page.status = b->status;
    b->page.grid_size = n;
    b->page.seconds = timed ? seconds : NAN;
    b->page.n_runs = n;
    b->page.runs = b->runs;
    return SW_OK;
}

/* Setting k's text when every run shown has the same one, else NULL. */
static const char *shared_text(const built *b, int k)
{
    if (b->all.n == 0)
        return NULL;
    for (int i = 1; i < b->all.n; i++)
        if (strcmp(b->all.runs[i].text[k], b->all.runs[0].text[k]) != 0)
            return NULL;
    return b->all.runs[0].text[k];
}

/* Appends to the page's dataset text, which stays NUL-terminated when full. */
__attribute__((format(printf, 3, 4))) static void data_add(built *b, size_t *len,
                                                           const char *fmt, ...)
{
    size_t size = sizeof b->dataset;
    if (*len + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->dataset + *len, size - *len, fmt, ap);
    va_end(ap);
    if (k > 0)
        *len = *len + (size_t)k < size ? *len + (size_t)k : size - 1;
}

/* The data: its folder, format (and CIFAR-100's labels) as the runs
 * loaded it, limits and validation share from the stored config, and the
 * class names the sweep recorded. */
static void describe_data(built *b, const char *db_path)
{
    sweep_config cfg;
    sw_error ignored = {0};
    size_t len = 0;
    if (!b->config || config_parse(&cfg, b->config, strlen(b->config), "<stored config>",
                                   &ignored) != SW_OK) {
        snprintf(b->dataset, sizeof b->dataset, "not recorded in %s", db_path);
        return;
    }
    const char *format = shared_text(b, STORE_DATA_FORMAT), *label = shared_text(b, STORE_LABEL);
    data_add(b, &len, "%s (", cfg.data_dir);
    if (format && strcmp(format, "-") != 0)
        data_add(b, &len, "format %s, ", format);
    if (label && strcmp(label, "-") != 0)
        data_add(b, &len, "%s labels, ", label);
    if (cfg.train_limit > 0)
        data_add(b, &len, "first %ld training images, ", cfg.train_limit);
    else
        data_add(b, &len, "all training images, ");
    data_add(b, &len, "last %g%% for validation", 100 * cfg.validation_split);
    if (cfg.val_limit > 0)
        data_add(b, &len, ", first %ld of them", cfg.val_limit);
    if (cfg.test_limit > 0)
        data_add(b, &len, ", first %ld test images", cfg.test_limit);
    data_add(b, &len, ")");
    config_free(&cfg);
    /* CIFAR's class names, as the sweep's data file named them */
    if (b->n_classes > 0)
        data_add(b, &len, "; %d classes: ", b->n_classes);
    for (int k = 0; k < b->n_classes; k++) {
        if (b->classes[k])
            data_add(b, &len, "%s%s", k ? ", " : "", b->classes[k]);
        else
            data_add(b, &len, "%sclass %d", k ? ", " : "", k);
    }
}

/* Dataset and machine, from the stored config, the runs and their hosts. */
static void describe_setup(built *b, const char *db_path)
{
    describe_data(b, db_path);
    struct utsname u;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    char here[300] = "";
    if (uname(&u) == 0)
        snprintf(here, sizeof here, "%s %s %s, %ld cores", u.nodename, u.sysname, u.machine,
                 cores);
    if (b->all.hosts[0] && strcmp(b->all.hosts, uname(&u) == 0 ? u.nodename : "") != 0)
        snprintf(b->machine, sizeof b->machine, "trained on %s (threads per run: %d); "
                 "report made on %s", b->all.hosts, b->all.threads, here);
    else if (b->all.hosts[0])
        snprintf(b->machine, sizeof b->machine, "%s; threads per run: %d", here,
                 b->all.threads);
    else
        snprintf(b->machine, sizeof b->machine, "%s", here);
    b->page.dataset = b->dataset;
    b->page.machine = b->machine;
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm))
        strftime(b->generated, sizeof b->generated, "%Y-%m-%d %H:%M UTC by sweep " SWEEP_VERSION,
                 &tm);
    b->page.generated = b->generated;
}

/* The default axis: the first setting, in store_setting's order, with
 * several levels among the done runs (the seed aside); activation when
 * none varies. */
static int default_axis(const rep_data *d)
{
    for (int a = 0; a < STORE_SETTING_COUNT; a++)
        if (a != RA_SEED && d->n_levels[a] > 1)
            return a;
    return RA_ACTIVATION;
}

/* The comparison: cmp_build's table, the one `sweep compare --by AXIS`
 * prints, as report.h's rows. No run with the metric: none (the page
 * says so). */
static int build_comparison(built *b, store *db, const cmp_request *q, sw_error *err)
{
    int valued = 0;
    for (int r = 0; r < b->d.n_runs && !valued; r++)
        valued = b->d.runs[r].has_value;
    if (!valued)
        return SW_OK;
    if (cmp_build(&b->table, db, &b->d, q, err) != SW_OK)
        return err->code;
    const cmp_table *t = &b->table;
    char pooled[1024];   /* as compare warns: the page's table pools them too */
    int n_pooled = rep_pooled(&b->d, t->by, t->n_by, 1, pooled, sizeof pooled);
    if (n_pooled)
        fprintf(stderr, "sweep report: warning: the comparison pools over %s; runs that "
                "differ there count as replicates\n", pooled);
    b->rows = calloc((size_t)t->n_groups, sizeof *b->rows);
    if (!b->rows)
        return sw_oom(err, "sweep report");
    const char *base = "";
    for (int k = 0; k < t->n_groups; k++) {
        const cmp_group *g = &t->gs[k];
        const rep_level *l = &b->d.levels[t->by[0]][g->level[0]];
        report_compare_row *row = &b->rows[k];
        *row = (report_compare_row){
            .level = l->is_null ? "none" : l->text, .s = g->s,
            .is_baseline = g->level[0] == t->base_level, .c = g->c,
            .decision = t->has_rule && g->compared ? stats_decision_name(g->decision) : NULL};
        if (row->is_baseline)
            base = row->level;
    }
    b->n_rows = t->n_groups;
    const char *metric = store_run_metric_name(q->metric);
    b->cmp = (report_comparison){
        .metric = metric, .axis = rep_axis_name(t->by[0]), .baseline = base,
        .units = strstr(metric, "accuracy") ? STATS_UNITS_POINTS : STATS_UNITS_PLAIN,
        .n_rows = b->n_rows, .rows = b->rows};
    b->page.n_comparisons = 1;
    b->page.comparisons = &b->cmp;
    return SW_OK;
}

static int build(built *b, store *db, char *sweep, const char *db_path, cmp_request *q,
                 sw_error *err)
{
    b->page.sweep = sweep;
    if (rep_load(db, &sweep, 1, q->all, q->metric, &b->d, err) != SW_OK ||
        store_all_runs(db, sweep, q->all, collect_any, &b->all, err) != SW_OK ||
        store_sweep_config(db, sweep, &b->config, &b->config_path, err) != SW_OK ||
        store_class_names(db, sweep, &b->classes, &b->n_classes, err) != SW_OK)
        return err->code;
    if (b->all.oom)
        return sw_oom(err, "sweep report");
    b->s.d = &b->d;
    if (load_series(db, sweep, q->all, &b->s, err) != SW_OK)
        return err->code;
    if (q->n_by == 0) {
        q->by[0] = default_axis(&b->d);
        q->n_by = 1;
    }
    b->page.config = b->config;
    describe_setup(b, db_path);
    if (build_comparison(b, db, q, err) != SW_OK || build_groups(b, err) != SW_OK ||
        build_runs(b, err) != SW_OK)
        return err->code;
    b->page.band_note = "band: min to max over seeds";
    b->page.n_groups = b->rg.n_groups;
    b->page.groups = b->groups;
    b->page.n_layers = b->s.n_layers;
    b->page.layers = b->layers;
    return SW_OK;
}

static const char *run_metric(int m)
{
    return store_run_metric_name((store_run_metric)m);
}

int cmd_report(int argc, char **argv, sw_error *err)
{
    const char *db_path = DEFAULT_DB, *sweep = NULL, *by_spec = NULL,
               *metric_name = "test_accuracy", *out = NULL, *pos[1];
    int help, n_pos;
    cmp_request q = {0};
    const cli_option opts[] = {
        {"--db", NULL, OPT_STRING, &db_path},  {"--sweep", NULL, OPT_STRING, &sweep},
        {"--by", NULL, OPT_STRING, &by_spec},  {"--metric", NULL, OPT_STRING, &metric_name},
        {"--all", NULL, OPT_FLAG, &q.all},     {"--output", "-o", OPT_STRING, &out},
        {NULL, NULL, 0, NULL},
    };
    if (cli_parse("report", argc, argv, opts, pos, 0, &n_pos, &help, err) != SW_OK)
        return err->code;
    if (help) {
        fputs(report_help, stdout);
        return 0;
    }
    if (!out || !*out)
        return sw_err(err, SW_EINPUT, "sweep report: -o FILE.html is required");
    if (by_spec && rep_parse_by("report", by_spec, q.by, &q.n_by, 1, err) != SW_OK)
        return err->code;
    int metric = rep_pick_metric("report", metric_name, run_metric, STORE_RUN_METRIC_COUNT, err);
    if (metric < 0 || cli_refuse_db_output("report", out, db_path, err) != SW_OK)
        return err->code;
    q.metric = (store_run_metric)metric;
    store *db;
    char **names;
    int n_names;
    if (rep_open("report", db_path, sweep, &db, &names, &n_names, err) != SW_OK)
        return err->code;
    built *b = NULL;
    int rc = n_names == 1 ? SW_OK
                          : sw_err(err, SW_EINPUT, "sweep report: --sweep %s: one sweep per "
                                   "page (sweep compare takes several)", sweep);
    if (rc == SW_OK)
        rc = (b = calloc(1, sizeof *b)) ? build(b, db, names[0], db_path, &q, err)
                                        : sw_oom(err, "sweep report");
    store_close(db);
    if (rc == SW_OK)
        rc = report_save(&b->page, out, err);
    if (rc == SW_OK)
        printf("sweep report: wrote %s (%d runs of sweep '%s')\n", out, b->page.n_runs,
               names[0]);
    if (b)
        built_free(b);
    store_names_free(names, n_names);
    return rc;
}
