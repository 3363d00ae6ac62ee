/* cmd_plot.c: `sweep plot`, the blog's figures: a metric per epoch, one
 * line per setting (mean over seeds) with a min-max band. Drawn by gnuplot
 * in a child process: we write the numbers and a script to a private temp
 * folder; user text reaches the script only inside single-quoted gnuplot
 * strings, where neither `backquotes` nor @macros are expanded. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/spawn.h"
#include "cli.h"
#include "groups.h"
#include "report.h"

static const char plot_help[] =
    "usage: sweep plot [--db PATH] [--sweep NAME[,NAME]] [--metric M] [--by AXIS] [--all]\n"
    "                  -o FILE.png|FILE.svg\n\n"
    "Draws a metric per epoch: one line per setting, the mean over its seeds,\n"
    "with a shaded band from the lowest to the highest run at each epoch.\n"
    "Needs gnuplot (Debian: apt-get install gnuplot-nox).\n\n"
    "  --db PATH      database (default " DEFAULT_DB ")\n"
    "  --sweep NAMES  the sweep (default: the only one in the database); several,\n"
    "                 comma-separated, are drawn side by side (a line per sweep)\n"
    "  --metric M     val_accuracy (default), val_loss, train_accuracy or train_loss\n"
    "  --by AXIS      one line per level of AXIS (any setting: activation, alpha,\n"
    "                 init, train_limit, ...; or sweep), pooling the runs that\n"
    "                 differ in other axes (a warning names them);\n"
    "                 default: one line per setting without the seed\n"
    "  --all          every recorded run, also those no longer in the sweep's\n"
    "                 current grid (default: the current grid's runs only)\n"
    "  -o FILE        .png (pngcairo) or .svg; replaced atomically\n";

/* Okabe-Ito colours, told apart with colour blindness too */
static const char *const COLORS[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                     "#E69F00", "#56B4E9", "#000000", "#999999"};
#define N_COLORS (int)(sizeof COLORS / sizeof COLORS[0])
/* each colour with 8 dash patterns: every line its own look */
#define MAX_SERIES (8 * N_COLORS)

/* ---- gnuplot, found and run ---- */

static int find_gnuplot(char *out, size_t size)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t len = strcspn(path, ":");
        struct stat st;
        snprintf(out, size, "%.*s/gnuplot", len ? (int)len : 1, len ? path : ".");
        if (stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0)
            return 1;
        path += len + (path[len] == ':');
    }
    return 0;
}

/* The line of gnuplot's stderr that says what failed ("" if none): it
 * echoes the failing command first; its message follows. */
static void gnuplot_message(const char *errfile, char *line, size_t size)
{
    line[0] = 0;
    FILE *f = fopen(errfile, "r");
    while (f && fgets(line, (int)size, f)) {
        line[strcspn(line, "\n")] = 0;
        if (strstr(line, "line ") || strstr(line, "rror"))
            break;
    }
    if (f)
        fclose(f);
}

/* Runs gnuplot on script, its stdin and stdout on /dev/null and its stderr
 * in errfile, whose telling line becomes the error message if it fails. */
static int run_gnuplot(const char *gnuplot, const char *script, const char *errfile,
                       sw_error *err)
{
    char *argv[] = {(char *)gnuplot, (char *)script, NULL};
    sw_spawn_io io = {.quiet_out = 1, .err_file = errfile};
    sw_error e = {0};
    int status;
    if (sw_spawn(argv, &io, &status, &e) == SW_OK)
        return SW_OK;
    if (status > 128)
        return sw_err(err, SW_EINPUT, "sweep plot: gnuplot killed by signal %d", status - 128);
    char line[300];
    gnuplot_message(errfile, line, sizeof line);
    if (status >= 126 && !line[0])   /* it did not start */
        return sw_err(err, SW_EINPUT, "sweep plot: %s", e.msg);
    return sw_err(err, SW_EINPUT, "sweep plot: gnuplot failed (exit %d)%s%s", status,
                  line[0] ? ": " : "", line);
}

/* A gnuplot string expression holding s: single-quoted pieces, where
 * neither `backquotes` nor @macros are expanded, joined by "'" for each
 * quote (gnuplot's lexer fails on a doubled quote repeated inside one
 * string, as in a sweep named it''s), in parentheses so that it serves
 * wherever an expression does. Control characters (which would end the
 * command) become spaces. */
static void put_quoted(FILE *f, const char *s)
{
    fputs("('", f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\'')
            fputs("' . \"'\" . '", f);
        else
            fputc(c < 0x20 || c == 0x7f ? ' ' : c, f);
    }
    fputs("')", f);
}

/* ---- the numbers ---- */

typedef struct {
    int key[RA_COUNT];   /* the levels that name the series */
    int n_runs;
    char label[256];
    double *sum, *lo, *hi;
    int *count;
} series;

typedef struct {
    int *run_series;     /* per run index: its series */
    const rep_data *d;
    int max_epoch, n_points;
    int cap, oom;
    struct point {
        int run, epoch;
        double v;
    } *pts;
} epoch_ctx;

static int run_index(const rep_data *d, long long run_id)
{
    int lo = 0, hi = d->n_runs - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (d->runs[mid].run_id == run_id)
            return mid;
        if (d->runs[mid].run_id < run_id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

static int collect_epoch(void *ctx, long long run_id, int epoch, double value)
{
    epoch_ctx *c = ctx;
    int r = run_index(c->d, run_id);
    if (r < 0 || epoch < 1 || !isfinite(value))
        return 0;
    if (c->n_points == c->cap) {
        int cap = c->cap ? 2 * c->cap : 256;
        struct point *p = realloc(c->pts, (size_t)cap * sizeof *p);
        if (!p)
            return c->oom = 1;
        c->pts = p;
        c->cap = cap;
    }
    c->pts[c->n_points++] = (struct point){r, epoch, value};
    if (epoch > c->max_epoch)
        c->max_epoch = epoch;
    return 0;
}

/* "relu", "elu alpha=1.0 init=glorot": the axes that tell series apart. */
static void make_label(const rep_data *d, const series *s, const int *axes, int n_axes,
                       const int *varies, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < n_axes && len + 1 < size; i++) {
        int a = axes[i];
        const rep_level *l = &d->levels[a][s->key[a]];
        if (!varies[i] || l->is_null)
            continue;
        if (a == RA_ACTIVATION)
            len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? " " : "", l->text);
        else
            len += (size_t)snprintf(buf + len, size - len, "%s%s=%s", len ? " " : "",
                                    rep_axis_name((rep_axis)a), l->text);
    }
    if (!buf[0])
        snprintf(buf, size, "all runs");
    if (len + 1 < size)
        snprintf(buf + strlen(buf), size - strlen(buf), " (n=%d)", s->n_runs);
}

/* ---- the plot ---- */

/* gnuplot's files, in a private temp folder: the numbers, the script,
 * its stderr and the figure it draws. */
typedef struct {
    char dir[512], data[600], script[600], errfile[600], figure[600];
} temp_files;

static void temp_cleanup(temp_files *t)
{
    if (t->data[0])
        unlink(t->data);
    if (t->script[0])
        unlink(t->script);
    if (t->errfile[0])
        unlink(t->errfile);
    if (t->figure[0])
        unlink(t->figure);
    if (t->dir[0])
        rmdir(t->dir);
}

static int write_data(const char *path, series *ss, int n_series, int max_epoch)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int block = 0;
    for (int i = 0; i < n_series; i++) {
        series *s = &ss[i];
        if (s->n_runs == 0)
            continue;
        fprintf(f, "%s# series %d\n", block++ ? "\n\n" : "", i);
        for (int e = 1; e <= max_epoch; e++)
            if (s->count[e])
                fprintf(f, "%d %.10g %.10g %.10g %d\n", e, s->sum[e] / s->count[e], s->lo[e],
                        s->hi[e], s->count[e]);
    }
    return fclose(f) == 0 ? 0 : -1;
}

static int write_script(const char *path, const temp_files *t, int svg, const char *title,
                        const char *subtitle, const char *metric, series *ss, int n_series,
                        int max_epoch)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    if (svg)
        fputs("set terminal svg noenhanced size 1000,640 dynamic font 'sans,12' "
              "background '#ffffff'\n", f);
    else
        fputs("set terminal pngcairo noenhanced size 1000,640 font 'sans,11'\n", f);
    fputs("set encoding utf8\nset output ", f);
    put_quoted(f, t->figure);
    fputs("\nset title ", f);
    put_quoted(f, title);
    fputs(" . \"\\n\" . ", f);
    put_quoted(f, subtitle);
    fputs("\nset xlabel 'epoch'\nset ylabel ", f);
    put_quoted(f, metric);
    fputs("\nset grid\nset key outside right top vertical Left reverse box\n"
          "set style fill transparent solid 0.2 noborder\n", f);
    /* a margin around the first and last epochs keeps their points inside */
    double pad = 0.1 + 0.02 * (max_epoch - 1);
    fprintf(f, "set xrange [%g:%g]\n%s", 1 - pad, max_epoch + pad,
            max_epoch <= 30 ? "set xtics 1\n" : "");
    /* after plot, a data file is named by a string or a variable */
    fputs("sweep_data = ", f);
    put_quoted(f, t->data);
    fputs("\nplot ", f);
    int block = 0;
    for (int i = 0; i < n_series; i++) {
        if (ss[i].n_runs == 0)
            continue;
        const char *color = COLORS[block % N_COLORS];
        int dash = 1 + block / N_COLORS;
        fprintf(f, "%s", block ? ", \\\n     " : "");
        /* points mark the epochs while they can be told apart */
        fprintf(f, "sweep_data index %d using 1:3:4 with filledcurves lc rgb '%s' notitle, \\\n     ''"
                   " index %d using 1:2 with %s lw 2 dt %d lc rgb '%s' title ",
                block, color, block, max_epoch <= 30 ? "linespoints pt 7 ps 0.6" : "lines",
                dash, color);
        put_quoted(f, ss[i].label);
        block++;
    }
    fputs("\n", f);
    return fclose(f) == 0 ? 0 : -1;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcasecmp(s + n - m, suffix) == 0;
}

/* What a figure is drawn from: the series and the epochs' points. */
typedef struct {
    int axes[RA_COUNT], n_axes;   /* the axes that name a series */
    int varies[RA_COUNT];         /* per axes[i]: whether series differ there */
    series *ss;
    int n_series;
    epoch_ctx ec;
} figure;

static void figure_free(figure *f)
{
    for (int k = 0; k < f->n_series; k++) {
        free(f->ss[k].sum);
        free(f->ss[k].lo);
        free(f->ss[k].hi);
        free(f->ss[k].count);
    }
    free(f->ss);
    free(f->ec.run_series);
    free(f->ec.pts);
}

/* One series per combination of levels on the axes (--by's, or every
 * setting but the seed), in grid order: runs sorted by their levels, the
 * first axis slowest. */
static int build_series(figure *f, const rep_data *d, int by, sw_error *err)
{
    if (by >= 0) {
        f->axes[f->n_axes++] = by;
        if (d->n_sweeps > 1 && by != RA_SWEEP)   /* sweeps side by side, never pooled */
            f->axes[f->n_axes++] = RA_SWEEP;
    } else
        for (int a = 0; a < RA_COUNT; a++)
            if (a != RA_SEED)
                f->axes[f->n_axes++] = a;
    f->ec.d = d;
    f->ec.run_series = malloc(sizeof(int) * (size_t)d->n_runs);
    f->ss = calloc((size_t)d->n_runs, sizeof *f->ss);   /* at most one series per run */
    run_groups g;
    if (!f->ec.run_series || !f->ss || groups_make(&g, d, f->axes, f->n_axes, 0) != 0)
        return sw_oom(err, "sweep plot");
    for (int k = 0; k < g.n_groups; k++) {
        for (int i = 0; i < f->n_axes; i++)
            f->ss[k].key[f->axes[i]] = d->runs[group_first(&g, k)].level[f->axes[i]];
        for (int i = g.start[k]; i < g.start[k + 1]; i++)
            f->ec.run_series[g.idx[i]] = k;
    }
    f->n_series = g.n_groups;
    groups_free(&g);
    if (f->n_series > MAX_SERIES)
        return sw_err(err, SW_EINPUT,
                      "sweep plot: %d lines would be unreadable (at most %d); choose --by AXIS",
                      f->n_series, MAX_SERIES);
    for (int i = 0; i < f->n_axes; i++)
        for (int k = 1; k < f->n_series; k++)
            f->varies[i] |= f->ss[k].key[f->axes[i]] != f->ss[0].key[f->axes[i]];
    return SW_OK;
}

/* Per series and epoch: the sum, min and max over its runs' points; each
 * series counts its runs that have points, and gets its label. */
static int aggregate(figure *f, const rep_data *d, sw_error *err)
{
    const epoch_ctx *ec = &f->ec;
    size_t m = (size_t)ec->max_epoch + 1;
    for (int k = 0; k < f->n_series; k++) {
        series *s = &f->ss[k];
        s->sum = calloc(m, sizeof(double));
        s->lo = calloc(m, sizeof(double));
        s->hi = calloc(m, sizeof(double));
        s->count = calloc(m, sizeof(int));
        if (!s->sum || !s->lo || !s->hi || !s->count)
            return sw_oom(err, "sweep plot");
    }
    char *has = calloc((size_t)d->n_runs, 1);
    if (!has)
        return sw_oom(err, "sweep plot");
    for (int i = 0; i < ec->n_points; i++) {
        series *s = &f->ss[ec->run_series[ec->pts[i].run]];
        int e = ec->pts[i].epoch;
        double v = ec->pts[i].v;
        s->lo[e] = s->count[e] && s->lo[e] < v ? s->lo[e] : v;
        s->hi[e] = s->count[e] && s->hi[e] > v ? s->hi[e] : v;
        s->sum[e] += v;
        s->count[e]++;
        has[ec->pts[i].run] = 1;
    }
    for (int r = 0; r < d->n_runs; r++)
        f->ss[ec->run_series[r]].n_runs += has[r];
    free(has);
    for (int k = 0; k < f->n_series; k++)
        make_label(d, &f->ss[k], f->axes, f->n_axes, f->varies, f->ss[k].label,
                   sizeof f->ss[k].label);
    return SW_OK;
}

/* The title and subtitle; with --by, a warning names the axes pooled. */
static void make_titles(const rep_data *d, const char *metric, int by, char *title,
                        char *subtitle, size_t size)
{
    char pooled[200];
    int by_axes[2] = {by, RA_SWEEP};
    int n_pooled = by >= 0 ? rep_pooled(d, by_axes, 1 + (d->n_sweeps > 1 && by != RA_SWEEP), 0,
                                        pooled, sizeof pooled)
                           : 0;
    if (n_pooled)
        fprintf(stderr,
                "sweep plot: warning: pooled over %s; runs that differ there share a line\n",
                pooled);
    snprintf(title, size, "sweep %s: %s per epoch", d->sweep, metric);
    if (n_pooled)
        snprintf(subtitle, size,
                 "line: mean over the runs of each %s (seeds, pooled over %s); band: min to max",
                 rep_axis_name((rep_axis)by), pooled);
    else
        snprintf(subtitle, size, "line: mean over seeds; band: min to max over seeds");
}

static int make_temp_files(temp_files *t, int svg, sw_error *err)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(t->dir, sizeof t->dir, "%s/sweep-plot-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(t->dir)) {
        t->dir[0] = 0;
        return sw_err(err, SW_EINPUT, "sweep plot: cannot make a temp folder: %s",
                      strerror(errno));
    }
    snprintf(t->data, sizeof t->data, "%s/data.txt", t->dir);
    snprintf(t->script, sizeof t->script, "%s/plot.gp", t->dir);
    snprintf(t->errfile, sizeof t->errfile, "%s/gnuplot.err", t->dir);
    snprintf(t->figure, sizeof t->figure, "%s/figure.%s", t->dir, svg ? "svg" : "png");
    return SW_OK;
}

/* Copies the figure gnuplot drew into the output file. */
static int copy_figure(const char *drawn, FILE *out, const char *out_path, sw_error *err)
{
    FILE *in = fopen(drawn, "rb");
    char buf[65536];
    size_t n, total = 0;
    while (in && (n = fread(buf, 1, sizeof buf, in)) > 0) {
        total += n;
        if (fwrite(buf, 1, n, out) != n) {
            fclose(in);
            return sw_err(err, SW_EINPUT, "sweep plot: cannot write %s: %s", out_path,
                          strerror(errno));
        }
    }
    int bad = !in || ferror(in);
    if (in)
        fclose(in);
    if (bad || total == 0)
        return sw_err(err, SW_EINPUT, "sweep plot: gnuplot wrote nothing to %s", out_path);
    return SW_OK;
}

/* gnuplot draws the figure in the temp folder; it reaches out_path through
 * an output file: a temp beside it, renamed over it when complete. */
static int draw(const figure *f, const char *metric, const char *title, const char *subtitle,
                const char *out_path, int svg, const char *gnuplot, sw_error *err)
{
    temp_files t = {0};
    sw_outfile out = {0};
    sw_error e = {0};
    int rc = sw_out_open(&out, out_path, 0666, 0, &e);
    if (rc != SW_OK)
        rc = sw_err(err, e.code, "sweep plot: %s", e.msg);
    if (rc == SW_OK)
        rc = make_temp_files(&t, svg, err);
    if (rc == SW_OK &&
        (write_data(t.data, f->ss, f->n_series, f->ec.max_epoch) != 0 ||
         write_script(t.script, &t, svg, title, subtitle, metric, f->ss, f->n_series,
                      f->ec.max_epoch) != 0))
        rc = sw_err(err, SW_EINPUT, "sweep plot: cannot write in %s", t.dir);
    if (rc == SW_OK)
        rc = run_gnuplot(gnuplot, t.script, t.errfile, err);
    if (rc == SW_OK)
        rc = copy_figure(t.figure, out.f, out_path, err);
    if (rc == SW_OK)
        rc = sw_out_commit(&out, err);
    else
        sw_out_abort(&out);
    temp_cleanup(&t);
    return rc;
}

/* The epochs of every sweep's runs. */
static int load_epochs(store *db, char *const *sweeps, int n_sweeps, int all,
                       store_epoch_metric metric, figure *f, sw_error *err)
{
    for (int i = 0; i < n_sweeps; i++)
        if (store_done_epochs(db, sweeps[i], all, metric, collect_epoch, &f->ec, err) != SW_OK)
            return err->code;
    return SW_OK;
}

static int plot(store *db, char *const *sweeps, int n_sweeps, int all, store_epoch_metric metric,
                int by, const char *out_path, int svg, const char *gnuplot, sw_error *err)
{
    rep_data d;
    figure f = {0};
    const char *metric_name = store_epoch_metric_name(metric);
    const char *sweep = sweeps[0];
    if (rep_load(db, sweeps, n_sweeps, all, STORE_RUN_NO_METRIC, &d, err) != SW_OK) {
        rep_free(&d);
        return err->code;
    }
    int rc = SW_OK;
    if (d.n_runs == 0)
        rc = sw_err(err, SW_EINPUT, "sweep plot: sweep '%s' has no done runs%s", d.sweep,
                    d.not_done ? " yet (see sweep status)" : "");
    if (rc == SW_OK)
        rc = build_series(&f, &d, by, err);
    if (rc == SW_OK)
        rc = load_epochs(db, sweeps, n_sweeps, all, metric, &f, err);
    if (rc == SW_OK && f.ec.oom)
        rc = sw_oom(err, "sweep plot");
    if (rc == SW_OK && f.ec.n_points == 0)
        rc = sw_err(err, SW_EINPUT, "sweep plot: sweep '%s' has no epochs with %s",
                    n_sweeps > 1 ? d.sweep : sweep, metric_name);
    if (rc == SW_OK)
        rc = aggregate(&f, &d, err);
    if (rc == SW_OK) {
        char title[400], subtitle[400];
        make_titles(&d, metric_name, by, title, subtitle, sizeof title);
        rc = draw(&f, metric_name, title, subtitle, out_path, svg, gnuplot, err);
    }
    figure_free(&f);
    rep_free(&d);
    return rc;
}

static const char *epoch_metric(int m)
{
    return store_epoch_metric_name((store_epoch_metric)m);
}

int cmd_plot(int argc, char **argv, sw_error *err)
{
    const char *db_path = DEFAULT_DB, *sweep = NULL, *metric_name = "val_accuracy",
               *by_name = NULL, *out_path = NULL, *pos[1];
    int help, n_pos, all = 0;
    const cli_option opts[] = {
        {"--db", NULL, OPT_STRING, &db_path},          {"--sweep", NULL, OPT_STRING, &sweep},
        {"--metric", NULL, OPT_STRING, &metric_name},  {"--by", NULL, OPT_STRING, &by_name},
        {"--output", "-o", OPT_STRING, &out_path},     {"--all", NULL, OPT_FLAG, &all},
        {NULL, NULL, 0, NULL},
    };
    if (cli_parse("plot", argc, argv, opts, pos, 0, &n_pos, &help, err) != SW_OK)
        return err->code;
    if (help) {
        fputs(plot_help, stdout);
        return 0;
    }
    if (!out_path)
        return sw_err(err, SW_EINPUT, "sweep plot: -o FILE.png or -o FILE.svg is required");
    int svg = ends_with(out_path, ".svg");
    if (!svg && !ends_with(out_path, ".png"))
        return sw_err(err, SW_EINPUT, "sweep plot: -o must name a .png or .svg file, got '%s'",
                      out_path);
    int metric = rep_pick_metric("plot", metric_name, epoch_metric, STORE_EPOCH_METRIC_COUNT, err);
    if (metric < 0)
        return err->code;
    int by = -1, n_by = 0;
    if (by_name && strchr(by_name, ','))
        return sw_err(err, SW_EINPUT, "sweep plot: --by takes one axis, got '%s'", by_name);
    if (by_name && rep_parse_by("plot", by_name, &by, &n_by, 1, err) != SW_OK)
        return err->code;
    char gnuplot[4096];
    if (!find_gnuplot(gnuplot, sizeof gnuplot))
        return sw_err(err, SW_EINPUT, "sweep plot: gnuplot not found; apt-get install gnuplot-nox");
    store *db;
    char **names;
    int n_names;
    if (rep_open("plot", db_path, sweep, &db, &names, &n_names, err) != SW_OK)
        return err->code;
    int rc = cli_refuse_db_output("plot", out_path, db_path, err);
    if (rc == SW_OK)
        rc = plot(db, names, n_names, all, (store_epoch_metric)metric, by, out_path, svg,
                  gnuplot, err);
    store_names_free(names, n_names);
    store_close(db);
    return rc;
}
