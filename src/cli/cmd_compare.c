/* cmd_compare.c: `sweep compare`, the question answered with numbers: per
 * level of the named axes, n, mean, sample sd, a 95% confidence interval of
 * the mean and Welch's p against a baseline level. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/csv.h"
#include "cli.h"
#include "groups.h"
#include "report.h"
#include "sweep/stats.h"

#define MAX_BY 4

static const char compare_help[] =
    "usage: sweep compare [--db PATH] [--sweep NAME] --by AXIS[,AXIS] [--metric M]\n"
    "                     [--baseline LEVEL] [--csv]\n\n"
    "One row per level (or combination of levels) of the axes, over the sweep's\n"
    "done runs: n, mean, sample standard deviation, the 95% confidence interval\n"
    "of the mean (Student t, n-1 dof), the difference from the baseline's mean\n"
    "and Welch's two-sided t-test p-value against the baseline level.\n\n"
    "Runs that differ only in seed are the replicates. Runs that differ in an\n"
    "axis not named in --by are pooled as replicates too; a warning on stderr\n"
    "names such axes (add them to --by to split them).\n\n"
    "  --db PATH         database (default " DEFAULT_DB ")\n"
    "  --sweep NAME      the sweep (default: the only one in the database)\n"
    "  --by AXES         activation, alpha, model, init, dropout, epochs, batch_size,\n"
    "                    learning_rate, optimizer, batchnorm, momentum, nesterov,\n"
    "                    weight_decay, lr_schedule or seed; up to 4, comma-separated\n"
    "  --metric M        test_accuracy (default), test_loss, best_val_accuracy\n"
    "                    (max over epochs), best_val_loss (min over epochs) or\n"
    "                    seconds_per_epoch (mean over the run's epochs)\n"
    "  --baseline LEVEL  a level of the first axis (default: its first level in\n"
    "                    the grid's order); with several axes each row is tested\n"
    "                    against the baseline at the same levels of the others.\n"
    "                    relu's missing alpha is the level 'none'\n"
    "  --csv             RFC 4180 CSV instead of a table\n\n"
    "Empty (-) cells: sd and CI need n >= 2; p needs n >= 2 in both groups.\n"
    "When both groups have zero variance, p is 1 if their means are equal and\n"
    "0 if not.\n";

typedef struct {
    int level[MAX_BY];
    int n;
    const double *x;   /* n values, in the sorted array */
    stats_summary s;
} group;

static void put_num(FILE *f, double v, const char *missing)
{
    if (isnan(v))
        fputs(missing, f);
    else
        fprintf(f, "%.10g", v);
}

/* The table as CSV. For --csv, missing is "" and metric (constant, but it
 * names the numbers once the file is on its own) is a column; for the
 * terminal, missing is "-" and the title line names the metric. */
static void write_csv(FILE *f, const rep_data *d, const int *by, int n_by, const char *metric,
                      const group *g, int n_groups, const int *base, const char *missing)
{
    for (int i = 0; i < n_by; i++)
        fprintf(f, "%s,", rep_axis_name((rep_axis)by[i]));
    fputs(metric ? "metric,n,mean,sd,ci95_low,ci95_high,diff,p_value\r\n"
                 : "n,mean,sd,ci95_low,ci95_high,diff,p_value\r\n", f);
    for (int k = 0; k < n_groups; k++) {
        for (int i = 0; i < n_by; i++) {
            const rep_level *l = &d->levels[by[i]][g[k].level[i]];
            sw_csv_str(f, l->is_null ? (*missing ? "none" : "") : l->text);
            fputc(',', f);
        }
        if (metric)
            fprintf(f, "%s,", metric);
        fprintf(f, "%d,", g[k].s.n);
        put_num(f, g[k].s.mean, missing);
        fputc(',', f);
        put_num(f, g[k].s.sd, missing);
        fputc(',', f);
        put_num(f, g[k].s.ci_low, missing);
        fputc(',', f);
        put_num(f, g[k].s.ci_high, missing);
        fputc(',', f);
        double diff = NAN, p = NAN;
        if (base[k] >= 0 && base[k] != k) {
            stats_welch_result w;
            diff = g[k].s.mean - g[base[k]].s.mean;
            if (stats_welch(&g[k].s, &g[base[k]].s, &w) == 0)
                p = w.p;
        }
        put_num(f, diff, missing);
        fputc(',', f);
        put_num(f, p, missing);
        fputs("\r\n", f);
    }
}

/* The table's rows: one group of runs per combination of levels. */
typedef struct {
    run_groups rg;
    double *values;   /* the runs' values, in rg.idx's order */
    group *gs;
    int n_groups;
    int *base;        /* per group: the group it is tested against, -1 none */
    int base_level;   /* the baseline's level of the first axis */
} table;

static void table_free(table *t)
{
    groups_free(&t->rg);
    free(t->values);
    free(t->gs);
    free(t->base);
}

/* Groups the runs that have a value by their levels of by. Rows sort by
 * the later axes first, so that each block of the first axis (the
 * baseline and the levels tested against it) is together. */
static int make_groups(table *t, const rep_data *d, const int *by, int n_by)
{
    int order[MAX_BY];
    for (int i = 0; i < n_by; i++)
        order[i] = by[n_by - 1 - i];
    if (groups_make(&t->rg, d, order, n_by, 1) != 0)
        return -1;
    int n = t->rg.n_idx, ng = t->rg.n_groups;
    t->values = malloc(sizeof *t->values * (size_t)(n ? n : 1));
    t->gs = calloc((size_t)(ng ? ng : 1), sizeof *t->gs);
    t->base = malloc(sizeof *t->base * (size_t)(ng ? ng : 1));
    if (!t->values || !t->gs || !t->base)
        return -1;
    for (int i = 0; i < n; i++)
        t->values[i] = d->runs[t->rg.idx[i]].value;
    for (int k = 0; k < ng; k++) {
        group *g = &t->gs[k];
        for (int i = 0; i < n_by; i++)
            g->level[i] = d->runs[group_first(&t->rg, k)].level[by[i]];
        g->x = t->values + t->rg.start[k];
        g->n = group_size(&t->rg, k);
    }
    t->n_groups = ng;
    return 0;
}

/* The baseline's level of the first axis: --baseline's, else the first
 * level, in grid order, that has runs to compare. */
static int pick_baseline(table *t, const rep_data *d, const int *by, const char *baseline,
                         sw_error *err)
{
    if (!baseline) {
        t->base_level = INT_MAX;
        for (int k = 0; k < t->n_groups; k++)
            if (t->gs[k].level[0] < t->base_level)
                t->base_level = t->gs[k].level[0];
        return SW_OK;
    }
    t->base_level = rep_find_level(d, (rep_axis)by[0], baseline);
    if (t->base_level >= 0)
        return SW_OK;
    char levels[512];
    rep_list_levels(d, (rep_axis)by[0], levels, sizeof levels);
    return sw_err(err, SW_EINPUT, "sweep compare: --baseline '%s' is not a level of %s (%s)",
                  baseline, rep_axis_name((rep_axis)by[0]), levels);
}

/* Each group's statistics, and its baseline: the group of the block (the
 * groups with the same levels of the other axes) at the baseline level. */
static void describe(table *t, int n_by)
{
    group *gs = t->gs;
    for (int start = 0, end; start < t->n_groups; start = end) {
        int b = -1;
        for (end = start; end < t->n_groups && memcmp(gs[end].level + 1, gs[start].level + 1,
                                                      sizeof(int) * (size_t)(n_by - 1)) == 0;
             end++)
            if (gs[end].level[0] == t->base_level)
                b = end;
        for (int k = start; k < end; k++) {
            stats_describe(gs[k].x, gs[k].n, &gs[k].s);
            t->base[k] = b;
        }
    }
}

/* What was pooled or left out goes to stderr: the table stays clean. */
static void warn_pooled(const rep_data *d, const int *by, int n_by)
{
    char pooled[1024];
    int n_pooled = rep_pooled(d, by, n_by, 1, pooled, sizeof pooled);
    if (n_pooled)
        fprintf(stderr,
                "sweep compare: warning: pooled over %s; runs that differ there count as "
                "replicates (add %s to --by to split them)\n",
                pooled, n_pooled > 1 ? "them" : "it");
    if (d->not_done)
        fprintf(stderr, "sweep compare: %d run%s not done left out\n", d->not_done,
                d->not_done > 1 ? "s" : "");
}

/* The table on stdout: CSV, or aligned under a title that names the test. */
static int print_table(const table *t, const rep_data *d, const int *by, int n_by,
                       const char *metric, int csv, sw_error *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem)
        return sw_oom(err, "sweep compare");
    write_csv(mem, d, by, n_by, csv ? metric : NULL, t->gs, t->n_groups, t->base,
              csv ? "" : "-");
    if (fclose(mem) != 0) {
        free(buf);
        return sw_oom(err, "sweep compare");
    }
    if (csv) {
        fwrite(buf, 1, len, stdout);
    } else {
        const rep_level *bl = &d->levels[by[0]][t->base_level];
        printf("sweep %s: %s by ", d->sweep, metric);
        for (int i = 0; i < n_by; i++)
            printf("%s%s", i ? ", " : "", rep_axis_name((rep_axis)by[i]));
        printf("; 95%% CI of the mean (Student t, n-1 dof)\n"
               "p: Welch's t-test, two-sided, against %s=%s",
               rep_axis_name((rep_axis)by[0]), bl->is_null ? "none" : bl->text);
        printf("%s\n", n_by > 1 ? " at the same levels of the other axes" : "");
        /* no folding: a column of equal means or n still shows in each row */
        cli_print_table(stdout, buf, 0);
    }
    free(buf);
    if (fflush(stdout) != 0 || ferror(stdout))
        return sw_err(err, SW_EINPUT, "sweep compare: cannot write the output");
    return SW_OK;
}

static int compare(store *db, const char *sweep, const int *by, int n_by,
                   store_run_metric metric, const char *baseline, int csv, sw_error *err)
{
    rep_data d;
    table t = {0};
    const char *metric_name = store_run_metric_name(metric);
    int rc = SW_OK;
    if (rep_load(db, sweep, metric, &d, err) != SW_OK) {
        rep_free(&d);
        return err->code;
    }
    if (make_groups(&t, &d, by, n_by) != 0)
        rc = sw_oom(err, "sweep compare");
    else if (t.n_groups <= 0)
        rc = sw_err(err, SW_EINPUT, "sweep compare: sweep '%s' has no done runs with %s%s",
                    sweep, metric_name, d.not_done ? " yet (see sweep status)" : "");
    else
        rc = pick_baseline(&t, &d, by, baseline, err);
    if (rc == SW_OK) {
        describe(&t, n_by);
        warn_pooled(&d, by, n_by);
        rc = print_table(&t, &d, by, n_by, metric_name, csv, err);
    }
    table_free(&t);
    rep_free(&d);
    return rc;
}

static const char *run_metric(int m)
{
    return store_run_metric_name((store_run_metric)m);
}

int cmd_compare(int argc, char **argv, sw_error *err)
{
    const char *db_path = DEFAULT_DB, *sweep = NULL, *by_spec = NULL, *metric_name = "test_accuracy",
               *baseline = NULL, *pos[1];
    int csv = 0, help, n_pos;
    const cli_option opts[] = {
        {"--db", NULL, OPT_STRING, &db_path},         {"--sweep", NULL, OPT_STRING, &sweep},
        {"--by", NULL, OPT_STRING, &by_spec},         {"--metric", NULL, OPT_STRING, &metric_name},
        {"--baseline", NULL, OPT_STRING, &baseline},  {"--csv", NULL, OPT_FLAG, &csv},
        {NULL, NULL, 0, NULL},
    };
    if (cli_parse("compare", argc, argv, opts, pos, 0, &n_pos, &help, err) != SW_OK)
        return err->code;
    if (help) {
        fputs(compare_help, stdout);
        return 0;
    }
    if (!by_spec)
        return sw_err(err, SW_EINPUT, "sweep compare: --by AXIS is required (e.g. --by activation)");
    int by[MAX_BY], n_by;
    if (rep_parse_by("compare", by_spec, by, &n_by, MAX_BY, err) != SW_OK)
        return err->code;
    int metric = rep_pick_metric("compare", metric_name, run_metric, STORE_RUN_METRIC_COUNT, err);
    if (metric < 0)
        return err->code;
    store *db;
    char *name;
    if (rep_open("compare", db_path, sweep, &db, &name, err) != SW_OK)
        return err->code;
    int rc = compare(db, name, by, n_by, (store_run_metric)metric, baseline, csv, err);
    free(name);
    store_close(db);
    return rc;
}
