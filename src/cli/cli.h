/* cli.h: the commands of the `sweep` CLI. Each cmd_* parses its own flags
 * and returns an exit status with err set on failure; only main prints
 * errors and exits, with err's code when it is set. */
#ifndef SWEEP_CLI_H
#define SWEEP_CLI_H

#include <stdio.h>

#include "base/error.h"
#include "sweep/store.h"

#define SWEEP_VERSION "0.1.0"
#define DEFAULT_DB "results/sweep.db"

/* The program as the user typed it ("sweep", or a path such as
 * build/sweep), for hints that must work as printed. Set by main. */
extern const char *cli_program;

int cmd_run(int argc, char **argv, sw_error *err);
int cmd_plan(int argc, char **argv, sw_error *err);
int cmd_status(int argc, char **argv, sw_error *err);
int cmd_export(int argc, char **argv, sw_error *err);
int cmd_train(int argc, char **argv, sw_error *err);
int cmd_compare(int argc, char **argv, sw_error *err);   /* cmd_compare.c */
int cmd_plot(int argc, char **argv, sw_error *err);      /* cmd_plot.c */
int cmd_report(int argc, char **argv, sw_error *err);    /* cmd_report.c */
int cmd_delete(int argc, char **argv, sw_error *err);     /* cmd_delete.c */
int cmd_merge(int argc, char **argv, sw_error *err);     /* cmd_cluster.c */
int cmd_slurm(int argc, char **argv, sw_error *err);     /* cmd_cluster.c */

/* ---- flag parsing shared by the commands ---- */

/* OPT_INT: 0 or more; OPT_POSITIVE: 1 or more (--jobs, --threads) */
typedef enum { OPT_FLAG, OPT_STRING, OPT_INT, OPT_POSITIVE, OPT_DOUBLE } opt_type;

typedef struct {
    const char *name;     /* "--jobs" */
    const char *alias;    /* "-o" or NULL */
    opt_type type;
    void *target;         /* int* for FLAG, INT and POSITIVE, const char** for STRING, double* */
} cli_option;

/* Parses argv[1..] against opts; positional arguments go to pos (at most
 * max_pos). "--help" or "-h" sets *help. Errors name the command. */
int cli_parse(const char *cmd, int argc, char **argv, const cli_option *opts,
              const char **pos, int max_pos, int *n_pos, int *help, sw_error *err);

/* Prints CSV text (RFC 4180, as store_export_csv writes it) as an aligned
 * table; numbers with 4 significant digits (compare's rounding too).
 * fold_constant: the settings (the columns before one named "n") that have
 * one value in every row are printed once as name=value above the table,
 * and left out when empty (NULL) in every row. Returns SW_OK, or SW_ERUN
 * when memory runs out (then nothing is printed). */
int cli_print_table(FILE *out, const char *csv, int fold_constant);

/* The error for a sweep name the database does not hold, listing those it
 * does. Returns SW_EINPUT (or the store's error). */
int cli_unknown_sweep(store *db, const char *name, const char *db_path, sw_error *err);

/* Removes the checkpoint folder dir when it is empty and no run of db is
 * running in a live process (one could be about to write there). */
void cli_drop_checkpoint_dir(store *db, const char *dir);

/* One line on stderr when jobs x threads, given explicitly, is more than
 * cores: oversubscribed threads only slow each other down. */
void cli_warn_threads(int jobs, int threads, int cores);
/* SW_EINPUT (naming cmd) when out_path is the database at db_path or its
 * -wal, -shm or -journal file (by device and inode, through links, or by
 * name): writing there would destroy the results. */
int cli_refuse_db_output(const char *cmd, const char *out_path, const char *db_path,
                         sw_error *err);

#endif
