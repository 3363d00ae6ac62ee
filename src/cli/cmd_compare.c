/* cmd_compare.c: `sweep compare`, the question answered with numbers: per
 * level of the named axes, n, mean, sample sd, a 95% confidence interval of
 * the mean, and against a baseline level the difference with its interval,
 * the paired t-test (when both share all their seeds) or Welch's, Holm's
 * adjustment over the table, Hedges' g, and with `decide` the decision;
 * then one sentence per comparison. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/csv.h"
#include "cli.h"
#include "compare_table.h"

static const char compare_help[] =
    "usage: sweep compare [--db PATH] [--sweep NAME[,NAME]] --by AXIS[,AXIS] [--metric M]\n"
    "                     [--baseline LEVEL] [--all] [--csv]\n\n"
    "One row per level (or combination of levels) of the axes, over the sweep's\n"
    "done runs of its current grid: n, mean, sample standard deviation and the\n"
    "95% confidence interval of the mean (Student t, n-1 dof); against the\n"
    "baseline: the difference of the means (diff) with its 95% interval, the\n"
    "test (paired t when both groups hold the same seeds, each once, as runs\n"
    "with one seed share initial weights, data order and dropout masks; else\n"
    "Welch's), its two-sided p-value, p_holm (Holm's adjustment over the\n"
    "table's comparisons), Hedges' g (effect_size), and with a `decide:`\n"
    "section the decision (better, worse, equivalent, undecided). Then one\n"
    "sentence per comparison.\n\n"
    "Runs that differ only in seed are the replicates. Runs that differ in an\n"
    "axis not named in --by are pooled as replicates too; a warning on stderr\n"
    "names such axes (add them to --by to split them).\n\n"
    "  --db PATH         database (default " DEFAULT_DB ")\n"
    "  --sweep NAMES     the sweep (default: the only one in the database);\n"
    "                    several, comma-separated, side by side: the sweep is\n"
    "                    then an axis too (blocks per sweep unless --by names it)\n"
    "  --by AXES         any setting (activation, alpha, model, init, dropout,\n"
    "                    epochs, batch_size, learning_rate, optimizer, seed,\n"
    "                    validation_split, train_limit, early_stopping, ...) or\n"
    "                    sweep; up to 4, comma-separated\n"
    "  --metric M        test_accuracy (default), test_loss, best_val_accuracy\n"
    "                    (max over epochs), best_val_loss (min over epochs) or\n"
    "                    seconds_per_epoch (mean over the run's epochs)\n"
    "  --baseline LEVEL  a level of the first axis (default: its first level in\n"
    "                    the grid's order); with several axes each row is tested\n"
    "                    against the baseline at the same levels of the others.\n"
    "                    relu's missing alpha is the level 'none'\n"
    "  --all             every recorded run, also those no longer in the sweep's\n"
    "                    current grid (after the YAML was edited)\n"
    "  --csv             RFC 4180 CSV instead of a table\n\n"
    "Empty (-) cells: sd and CI need n >= 2; a test needs n >= 2 in both groups.\n"
    "When both groups have zero variance, p is 1 if their means are equal and\n"
    "0 if not.\n";

static void put_num(FILE *f, double v, const char *missing)
{
    if (isnan(v))
        fputs(missing, f);
    else
        fprintf(f, "%.10g", v);
}

static void put_nums(FILE *f, const double *v, int n, const char *missing)
{
    for (int i = 0; i < n; i++) {
        fputc(',', f);
        put_num(f, v[i], missing);
    }
}

/* The table as CSV. For --csv, missing is "" and metric (constant, but it
 * names the numbers once the file is on its own) is a column; for the
 * terminal, missing is "-", the title line names the metric and the
 * interval and effect size are left to the sentences. */
static void write_csv(FILE *f, const cmp_table *t, const rep_data *d, const char *metric,
                      const char *missing)
{
    int full = metric != NULL;
    for (int i = 0; i < t->n_by; i++)
        fprintf(f, "%s,", rep_axis_name(t->by[i]));
    fputs(metric ? "metric,n,mean,sd,ci95_low,ci95_high,diff,p_value,test,p_holm"
                 : "n,mean,sd,ci95_low,ci95_high,diff,p_value,test,p_holm", f);
    if (full)
        fputs(",diff_ci95_low,diff_ci95_high,effect_size", f);
    fputs(t->has_rule ? ",decision\r\n" : "\r\n", f);
    for (int k = 0; k < t->n_groups; k++) {
        const cmp_group *g = &t->gs[k];
        for (int i = 0; i < t->n_by; i++) {
            const rep_level *l = &d->levels[t->by[i]][g->level[i]];
            sw_csv_str(f, l->is_null ? (*missing ? "none" : "") : l->text);
            fputc(',', f);
        }
        if (metric)
            fprintf(f, "%s,", metric);
        fprintf(f, "%d", g->s.n);
        double desc[4] = {g->s.mean, g->s.sd, g->s.ci_low, g->s.ci_high};
        put_nums(f, desc, 4, missing);
        const stats_comparison *c = &g->c;
        int tested = g->compared && !isnan(c->p);
        double head[2] = {g->compared ? c->diff : NAN, tested ? c->p : NAN};
        put_nums(f, head, 2, missing);
        fprintf(f, ",%s", tested ? stats_test_name(c->test) : missing);
        put_nums(f, &c->p_holm, 1, missing);
        if (full) {
            double tail[3] = {tested ? c->ci_low : NAN, tested ? c->ci_high : NAN,
                              g->compared ? c->g : NAN};
            put_nums(f, tail, 3, missing);
        }
        if (t->has_rule)
            fprintf(f, ",%s", g->compared ? stats_decision_name(g->decision) : missing);
        fputs("\r\n", f);
    }
}

/* What was pooled or left out goes to stderr: the table stays clean. */
static void warn_pooled(const rep_data *d, const cmp_table *t)
{
    char pooled[1024];
    int n_pooled = rep_pooled(d, t->by, t->n_by, 1, pooled, sizeof pooled);
    if (n_pooled)
        fprintf(stderr,
                "sweep compare: warning: pooled over %s; runs that differ there count as "
                "replicates (add %s to --by to split them)\n",
                pooled, n_pooled > 1 ? "them" : "it");
    if (d->not_done)
        fprintf(stderr, "sweep compare: %d run%s not done left out\n", d->not_done,
                d->not_done > 1 ? "s" : "");
}

/* "elu", or "elu (init=he)" with more axes: a group's name in a sentence. */
static void group_name(const cmp_table *t, const rep_data *d, const int *level, char *buf,
                       size_t size)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < t->n_by && len + 1 < size; i++) {
        const rep_level *l = &d->levels[t->by[i]][level[i]];
        const char *text = l->is_null ? "none" : l->text;
        if (i == 0)
            len += (size_t)snprintf(buf, size, "%s", text);
        else
            len += (size_t)snprintf(buf + len, size - len, "%s%s=%s", i == 1 ? " (" : ", ",
                                    rep_axis_name(t->by[i]), text);
    }
    if (t->n_by > 1 && len + 1 < size)
        snprintf(buf + len, size - len, ")");
}

/* One sentence per comparison, after the table. */
static void print_sentences(const cmp_table *t, const rep_data *d, stats_units units)
{
    int first = 1;
    for (int k = 0; k < t->n_groups; k++) {
        const cmp_group *g = &t->gs[k];
        if (!g->compared)
            continue;
        char name[256], base[256], line[1024];
        int bl[CMP_MAX_BY];
        memcpy(bl, g->level, sizeof bl);
        bl[0] = t->base_level;
        group_name(t, d, g->level, name, sizeof name);
        group_name(t, d, bl, base, sizeof base);
        stats_sentence(line, sizeof line, name, base, &g->c, units);
        printf("%s%s", first ? "\n" : "", line);
        if (t->has_rule)
            printf(" [decide: %s]", stats_decision_name(g->decision));
        putchar('\n');
        first = 0;
    }
}

/* The table on stdout: CSV, or aligned under a title that names the tests,
 * then the sentences. */
static int print_table(const cmp_table *t, const rep_data *d, const char *metric, int csv,
                       sw_error *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem)
        return sw_oom(err, "sweep compare");
    write_csv(mem, t, d, csv ? metric : NULL, csv ? "" : "-");
    if (fclose(mem) != 0) {
        free(buf);
        return sw_oom(err, "sweep compare");
    }
    if (csv) {
        fwrite(buf, 1, len, stdout);
    } else {
        const rep_level *bl = &d->levels[t->by[0]][t->base_level];
        printf("sweep %s: %s by ", d->sweep, metric);
        for (int i = 0; i < t->n_by; i++)
            printf("%s%s", i ? ", " : "", rep_axis_name(t->by[i]));
        printf("; 95%% CI of the mean (Student t, n-1 dof)\n"
               "test against %s=%s%s: paired t where both share all seeds, else Welch; "
               "two-sided; p_holm: Holm over the table's %d comparison%s\n",
               rep_axis_name(t->by[0]), bl->is_null ? "none" : bl->text,
               t->n_by > 1 ? " at the same levels of the other axes" : "", t->n_tests,
               t->n_tests == 1 ? "" : "s");
        /* no folding: a column of equal means or n still shows in each row */
        cli_print_table(stdout, buf, 0);
        int acc = strstr(metric, "accuracy") != NULL;
        print_sentences(t, d, acc ? STATS_UNITS_POINTS : STATS_UNITS_PLAIN);
    }
    free(buf);
    if (fflush(stdout) != 0 || ferror(stdout))
        return sw_err(err, SW_EINPUT, "sweep compare: cannot write the output");
    return SW_OK;
}

static int compare(store *db, char **sweeps, int n_sweeps, const cmp_request *q, int csv,
                   sw_error *err)
{
    rep_data d;
    cmp_table t = {0};
    const char *metric_name = store_run_metric_name(q->metric);
    if (rep_load(db, sweeps, n_sweeps, q->all, q->metric, &d, err) != SW_OK) {
        rep_free(&d);
        return err->code;
    }
    int rc = cmp_build(&t, db, &d, q, err);
    if (rc == SW_OK) {
        warn_pooled(&d, &t);
        rc = print_table(&t, &d, metric_name, csv, err);
    }
    cmp_free(&t);
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
               *pos[1];
    int csv = 0, help, n_pos;
    cmp_request q = {0};
    const cli_option opts[] = {
        {"--db", NULL, OPT_STRING, &db_path},         {"--sweep", NULL, OPT_STRING, &sweep},
        {"--by", NULL, OPT_STRING, &by_spec},         {"--metric", NULL, OPT_STRING, &metric_name},
        {"--baseline", NULL, OPT_STRING, &q.baseline}, {"--csv", NULL, OPT_FLAG, &csv},
        {"--all", NULL, OPT_FLAG, &q.all},            {NULL, NULL, 0, NULL},
    };
    if (cli_parse("compare", argc, argv, opts, pos, 0, &n_pos, &help, err) != SW_OK)
        return err->code;
    if (help) {
        fputs(compare_help, stdout);
        return 0;
    }
    if (!by_spec)
        return sw_err(err, SW_EINPUT, "sweep compare: --by AXIS is required (e.g. --by activation)");
    if (rep_parse_by("compare", by_spec, q.by, &q.n_by, CMP_MAX_BY - 1, err) != SW_OK)
        return err->code;
    int metric = rep_pick_metric("compare", metric_name, run_metric, STORE_RUN_METRIC_COUNT, err);
    if (metric < 0)
        return err->code;
    q.metric = (store_run_metric)metric;
    store *db;
    char **names;
    int n_names;
    if (rep_open("compare", db_path, sweep, &db, &names, &n_names, err) != SW_OK)
        return err->code;
    int rc = compare(db, names, n_names, &q, csv, err);
    store_names_free(names, n_names);
    store_close(db);
    return rc;
}
