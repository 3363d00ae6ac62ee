/* main.c: the command table. Prints errors and picks the exit status;
 * nothing else in sweep exits. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv, sw_error *err);
    const char *summary;
} commands[] = {
    {"run", cmd_run, "train every run of a YAML grid, recording each epoch"},
    {"plan", cmd_plan, "list every run of a grid and its state; trains nothing"},
    {"status", cmd_status, "per sweep: runs done, running, failed, pending; ETA"},
    {"export", cmd_export, "write summary, runs or epochs as CSV"},
    {"compare", cmd_compare, "mean, std, 95% CI and Welch's p per level of an axis"},
    {"plot", cmd_plot, "per-epoch curves, mean over seeds with a band, as PNG or SVG"},
    {"report", cmd_report, "one self-contained HTML page: question, comparison, curves, runs"},
    {"merge", cmd_merge, "unite shard databases into one, without duplicates"},
    {"slurm", cmd_slurm, "write (or submit) a Slurm array job running the shards"},
    {"train", cmd_train, "train one model with settings given as flags"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: sweep COMMAND [ARGS]\n\n"
                 "Trains grids of CNNs on every core and records every epoch in SQLite.\n\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'sweep COMMAND --help' for a command's flags; 'sweep --version'.\n");
}

int main(int argc, char **argv)
{
    sw_error err = {0};
    if (argc < 2) {
        usage(stderr);
        return SW_EINPUT;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("sweep %s\n", SWEEP_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
        int rc = commands[i].fn(argc - 1, argv + 1, &err);
        if (err.code == SW_OK)
            return rc;
        /* the error's own code: the message and the status always agree */
        fprintf(stderr, "sweep: error: %s\n", err.msg);
        return err.code;
    }
    fprintf(stderr, "sweep: error: unknown command '%s' (see sweep --help)\n", argv[1]);
    return SW_EINPUT;
}
