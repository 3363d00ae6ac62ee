/* main.c: the command table. Prints errors and picks the exit status;
 * nothing else in sweep exits. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

const char *cli_program = "sweep";

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
    {"delete", cmd_delete, "remove a sweep with its runs, epochs and checkpoints"},
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

/* The message without a leading "sweep CMD: " (or "sweep: "): main adds
 * the one prefix, so a command's own name in its message is not doubled. */
static const char *bare_message(const char *msg, const char *cmd)
{
    size_t n = strlen(cmd);
    if (strncmp(msg, "sweep ", 6) == 0 && strncmp(msg + 6, cmd, n) == 0 &&
        strncmp(msg + 6 + n, ": ", 2) == 0)
        return msg + 8 + n;
    if (strncmp(msg, "sweep: ", 7) == 0)
        return msg + 7;
    return msg;
}

/* Results go to stdout: a write that failed (a full disk, a closed pipe)
 * is an error with its reason, not a silent exit 0. */
static int flush_stdout(int rc)
{
    errno = 0;
    if (fflush(stdout) == 0 && !ferror(stdout))
        return rc;
    int e = errno;
    if (e == EPIPE)   /* the reader left: as an interruption (cmd_run marks runs) */
        return rc ? rc : SW_EINTR;
    fprintf(stderr, "sweep: error: writing the output: %s\n", e ? strerror(e) : "write error");
    return rc ? rc : SW_ERUN;
}

int main(int argc, char **argv)
{
    sw_error err = {0};
    if (argv[0] && strchr(argv[0], '/'))   /* else found on PATH as sweep */
        cli_program = argv[0];
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
            return flush_stdout(rc);
        /* the error's own code: the message and the status always agree */
        fflush(stdout);
        fprintf(stderr, "sweep: error: %s\n", bare_message(err.msg, commands[i].name));
        return err.code;
    }
    fprintf(stderr, "sweep: error: unknown command '%s' (see sweep --help)\n", argv[1]);
    return SW_EINPUT;
}
