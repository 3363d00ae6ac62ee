/* cmd_query.c: `sweep status` and `sweep export`, read-only views of the
 * database. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "cli.h"
#include "status_decide.h"
#include "sweep/scheduler.h"
#include "sweep/store.h"

static const char status_help[] =
    "usage: sweep status [--db PATH]\n\n"
    "Per sweep in the database: runs done, running, pending, failed, diverged\n"
    "and interrupted, and an estimate of the time left at the recorded pace\n"
    "with one job per core. For a sweep with a decide: section, the\n"
    "comparisons with the baseline that are still undecided.\n\n"
    "  --db PATH   database (default " DEFAULT_DB ")\n";

static const char export_help[] =
    "usage: sweep export [--db PATH] [--what summary|runs|epochs|layer_stats] [--sweep NAME]\n"
    "                    [--all] [-o FILE]\n\n"
    "Writes RFC 4180 CSV with a header row to stdout or FILE:\n"
    "  summary  one row per sweep and setting (without the seed): n, mean and\n"
    "           std of test accuracy and loss, mean best val_accuracy, s/epoch\n"
    "  runs     one row per run: settings, status and test scores\n"
    "  epochs   one row per run and epoch, the run's settings repeated\n"
    "  layer_stats  one row per run, epoch and activation layer: mean activation\n"
    "           and dead fraction on the validation set, weight-gradient norm\n\n"
    "  --db PATH      database (default " DEFAULT_DB ")\n"
    "  --what WHAT    summary (default), runs, epochs or layer_stats\n"
    "  --sweep NAME   only this sweep (default: all)\n"
    "  --all          summary over every recorded run, also those that left the\n"
    "                 sweep's current grid (default: the current grid's runs)\n"
    "  -o FILE        write FILE (replaced atomically) instead of stdout\n";

static void format_eta(char *buf, size_t size, double s)
{
    if (s <= 0)
        snprintf(buf, size, "-");
    else if (s < 60)
        snprintf(buf, size, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, size, "%.0fm", s / 60);
    else
        snprintf(buf, size, "%.1fh", s / 3600);
}

int cmd_status(int argc, char **argv, sw_error *err)
{
    const char *db_path = DEFAULT_DB, *pos[1];
    int help, n_pos;
    const cli_option opts[] = {{"--db", NULL, OPT_STRING, &db_path}, {NULL, NULL, 0, NULL}};
    if (cli_parse("status", argc, argv, opts, pos, 0, &n_pos, &help, err) != SW_OK)
        return err->code;
    if (help) {
        fputs(status_help, stdout);
        return 0;
    }
    store *db = NULL;
    sweep_status *st = NULL;
    int n = 0;
    if (store_open(&db, db_path, 0, err) != SW_OK || store_status(db, &st, &n, err) != SW_OK) {
        store_close(db);
        return err->code;
    }
    int cores = sched_cores();
    printf("%-24s %6s %6s %8s %8s %7s %9s %12s %6s %8s\n", "sweep", "runs",
           run_status_name(RUN_DONE), run_status_name(RUN_RUNNING),
           run_status_name(RUN_PENDING), run_status_name(RUN_FAILED),
           run_status_name(RUN_DIVERGED), run_status_name(RUN_INTERRUPTED), "stale", "eta");
    for (int i = 0; i < n; i++) {
        int total = st[i].stale + st[i].unknown;
        if (st[i].unknown)
            fprintf(stderr, "sweep status: warning: %s: %d run%s of sweep '%s' %s an unknown "
                    "status ('%s'), counted under runs only; set it to one of %s, %s, %s, %s, "
                    "%s, %s\n", db_path, st[i].unknown, st[i].unknown == 1 ? "" : "s",
                    st[i].name, st[i].unknown == 1 ? "has" : "have", st[i].unknown_status,
                    run_status_name(RUN_PENDING), run_status_name(RUN_RUNNING),
                    run_status_name(RUN_DONE), run_status_name(RUN_FAILED),
                    run_status_name(RUN_DIVERGED), run_status_name(RUN_INTERRUPTED));
        for (int s = 0; s < RUN_STATUS_COUNT; s++)
            total += st[i].count[s];
        char eta[32];
        format_eta(eta, sizeof eta, (double)st[i].epochs_left * st[i].mean_seconds_per_epoch / cores);
        printf("%-24s %6d %6d %8d %8d %7d %9d %12d %6d %8s\n", st[i].name, total,
               st[i].count[RUN_DONE], st[i].count[RUN_RUNNING], st[i].count[RUN_PENDING],
               st[i].count[RUN_FAILED], st[i].count[RUN_DIVERGED], st[i].count[RUN_INTERRUPTED],
               st[i].stale, eta);
    }
    if (n == 0)
        printf("(no sweeps in %s)\n", db_path);
    for (int i = 0; i < n; i++)
        if (status_undecided(db, st[i].name, stdout, err) != SW_OK) {
            free(st);
            store_close(db);
            return err->code;
        }
    free(st);
    store_close(db);
    return 0;
}

int cmd_export(int argc, char **argv, sw_error *err)
{
    const char *db_path = DEFAULT_DB, *what = "summary", *sweep = NULL, *out_path = NULL, *pos[1];
    int help, n_pos, all = 0;
    const cli_option opts[] = {
        {"--db", NULL, OPT_STRING, &db_path},  {"--what", NULL, OPT_STRING, &what},
        {"--sweep", NULL, OPT_STRING, &sweep}, {"--output", "-o", OPT_STRING, &out_path},
        {"--all", NULL, OPT_FLAG, &all},       {NULL, NULL, 0, NULL},
    };
    if (cli_parse("export", argc, argv, opts, pos, 0, &n_pos, &help, err) != SW_OK)
        return err->code;
    if (help) {
        fputs(export_help, stdout);
        return 0;
    }
    if (strcmp(what, "summary") && strcmp(what, "runs") && strcmp(what, "epochs") &&
        strcmp(what, "layer_stats"))
        return sw_err(err, SW_EINPUT,
                      "--what must be summary, runs, epochs or layer_stats, got '%s'", what);
    store *db = NULL;
    if (store_open(&db, db_path, 0, err) != SW_OK)
        return err->code;
    int rc = out_path ? cli_refuse_db_output("export", out_path, db_path, err) : SW_OK;
    long long sweep_id = 0;
    if (rc == SW_OK && sweep && (rc = store_sweep_find(db, sweep, &sweep_id, err)) == SW_OK &&
        !sweep_id)
        rc = cli_unknown_sweep(db, sweep, db_path, err);
    if (rc != SW_OK) {
        store_close(db);
        return rc;
    }
    if (!out_path) {
        rc = store_export_csv_scope(db, what, sweep, all, stdout, err);
    } else {
        /* a temp beside the target, then rename: never a half-written file */
        sw_outfile o;
        rc = sw_out_open(&o, out_path, 0666, 0, err);
        if (rc == SW_OK && (rc = store_export_csv_scope(db, what, sweep, all, o.f, err)) != SW_OK)
            sw_out_abort(&o);
        else if (rc == SW_OK)
            rc = sw_out_commit(&o, err);
    }
    store_close(db);
    return rc;
}
