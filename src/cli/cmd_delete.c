/* cmd_delete.c: `sweep delete NAME`: a sweep goes with its runs, epochs,
 * layer statistics and checkpoints, after saying what will go. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "sweep/scheduler.h"
#include "sweep/store.h"

static const char delete_help[] =
    "usage: sweep delete NAME [--db PATH] [--yes]\n\n"
    "Removes the sweep NAME from the database with its runs, their epochs and\n"
    "layer statistics, and their checkpoints (in DB-checkpoints/). Prints what\n"
    "it will remove first, then asks on a terminal; without a terminal to ask\n"
    "on it removes nothing unless --yes is given. A sweep with a run in\n"
    "progress (in a live process) is not removed.\n\n"
    "  --db PATH   database (default " DEFAULT_DB ")\n"
    "  --yes, -y   remove without asking\n";

/* How many of the runs have a checkpoint file. */
static int count_checkpoints(const char *dir, const store_sweep_held *c)
{
    int n = 0;
    for (int i = 0; i < c->runs; i++) {
        char path[4096 + RUN_KEY_LEN + 64];
        struct stat st;
        sched_checkpoint_path(dir, c->sweep_id, c->keys[i], path, sizeof path);
        n += stat(path, &st) == 0;
    }
    return n;
}

static void print_contents(FILE *out, const char *name, const char *db_path,
                           const store_sweep_held *c, int checkpoints, const char *dir)
{
    fprintf(out, "sweep '%s' in %s: %d run%s", name, db_path, c->runs, c->runs == 1 ? "" : "s");
    const char *sep = " (";
    for (int s = 0; s < RUN_STATUS_COUNT; s++) {
        if (c->count[s]) {
            fprintf(out, "%s%d %s", sep, c->count[s], run_status_name((run_status)s));
            sep = ", ";
        }
    }
    fprintf(out, "%s, %lld epoch%s, %lld layer statistics row%s, %d checkpoint%s",
            c->runs ? ")" : "", c->epochs, c->epochs == 1 ? "" : "s", c->layer_stats, c->layer_stats == 1 ? "" : "s",
            checkpoints, checkpoints == 1 ? "" : "s");
    if (checkpoints)
        fprintf(out, " in %s", dir);
    fputc('\n', out);
}

/* Asks on the terminal; 1 when the answer is yes. */
static int confirm(const char *name)
{
    char line[64];
    fprintf(stderr, "Delete sweep '%s' and all of the above? [y/N] ", name);
    fflush(stderr);
    if (!fgets(line, sizeof line, stdin))
        return 0;
    return strcmp(line, "y\n") == 0 || strcmp(line, "yes\n") == 0 || strcmp(line, "Y\n") == 0;
}

/* After the rows: the checkpoints (and temps a killed writer left). */
static void remove_checkpoints(store *db, const char *dir, const store_sweep_held *c)
{
    for (int i = 0; i < c->runs; i++) {
        char path[4096 + RUN_KEY_LEN + 64];
        sched_checkpoint_path(dir, c->sweep_id, c->keys[i], path, sizeof path);
        sched_clean_checkpoint(path, 0);
    }
    cli_drop_checkpoint_dir(db, dir);
}

static int delete_sweep(store *db, const char *name, const char *db_path, int yes,
                        sw_error *err)
{
    store_sweep_held c;
    char dir[4096];
    if (store_sweep_contents(db, name, &c, err) != SW_OK)
        return err->code;
    if (!c.sweep_id)
        return cli_unknown_sweep(db, name, db_path, err);
    int rc = SW_OK;
    if (c.live) {
        rc = sw_err(err, SW_EINPUT, "sweep '%s' has %d run%s in progress in a live process; "
                    "stop %s first (sweep status --db %s)", name, c.live, c.live == 1 ? "" : "s",
                    c.live == 1 ? "it" : "them", db_path);
        goto out;
    }
    sched_checkpoint_dir(db_path, dir, sizeof dir);
    int checkpoints = count_checkpoints(dir, &c);
    printf("will remove ");
    print_contents(stdout, name, db_path, &c, checkpoints, dir);
    fflush(stdout);
    if (!yes && !isatty(STDIN_FILENO)) {
        rc = sw_err(err, SW_EINPUT, "nothing removed: no terminal to ask on (stdin is not one); "
                    "--yes removes without asking");
        goto out;
    }
    if (!yes && !confirm(name)) {
        printf("nothing removed\n");
        goto out;
    }
    if ((rc = store_sweep_delete(db, c.sweep_id, err)) != SW_OK)
        goto out;
    remove_checkpoints(db, dir, &c);
    printf("removed sweep '%s'\n", name);
out:
    store_sweep_contents_free(&c);
    return rc;
}

int cmd_delete(int argc, char **argv, sw_error *err)
{
    const char *db_path = DEFAULT_DB, *pos[1];
    int yes = 0, help, n_pos;
    const cli_option opts[] = {
        {"--db", NULL, OPT_STRING, &db_path},
        {"--yes", "-y", OPT_FLAG, &yes},
        {NULL, NULL, 0, NULL},
    };
    if (cli_parse("delete", argc, argv, opts, pos, 1, &n_pos, &help, err) != SW_OK)
        return err->code;
    if (help) {
        fputs(delete_help, stdout);
        return 0;
    }
    if (n_pos != 1)
        return sw_err(err, SW_EINPUT, "delete needs the NAME of a sweep (see sweep delete --help)");
    store *db = NULL;
    if (store_open(&db, db_path, 0, err) != SW_OK)
        return err->code;
    int rc = delete_sweep(db, pos[0], db_path, yes, err);
    store_close(db);
    return rc;
}
