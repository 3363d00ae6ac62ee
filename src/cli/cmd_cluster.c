/* cmd_cluster.c: `sweep merge` and `sweep slurm`, for sweeps split over
 * machines. sweep drives Slurm (writes and submits sbatch scripts) and is
 * not a scheduler itself. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/spawn.h"
#include "cli.h"
#include "sweep/config.h"
#include "sweep/grid.h"
#include "sweep/slurm.h"
#include "sweep/store.h"

/* ---- merge ---- */

static const char merge_help[] =
    "usage: sweep merge OUT.db IN.db...\n\n"
    "Unites shard databases (from sweep run --shard or sweep slurm) into OUT,\n"
    "created if missing, in one transaction. Sweeps match by name, runs by run_key;\n"
    "of two copies of a run the better state stays (done, diverged, failed,\n"
    "interrupted, pending), with its epochs. Merging again adds nothing. A sweep\n"
    "with the same name as one in OUT but another config is refused, and OUT is\n"
    "left as it was; so is an input that is not a sweep database.\n\n"
    "Prints per sweep the runs merged, and those not done: failed, diverged,\n"
    "interrupted, or missing (pending, or never recorded in any input);\n"
    "'sweep run CONFIG --db OUT' runs them.\n\n"
    "Exit status: 0 merged, 2 usage or database error (OUT unchanged).\n";

/* Runs in the sweep's grid, from the config text kept in the database
 * (its dataset is not needed to count); -1 if it cannot be read. */
static int grid_size(store *db, const char *name)
{
    char *text = NULL, *path = NULL;
    sw_error err = {0};
    int n = -1;
    if (store_sweep_config(db, name, &text, &path, &err) == SW_OK && text) {
        sweep_config cfg;
        run_settings *runs = NULL;
        if (config_parse(&cfg, text, strlen(text), path ? path : "config", &err) == SW_OK) {
            if (grid_expand(&cfg, &runs, &n, &err) != SW_OK)
                n = -1;
            free(runs);
            config_free(&cfg);
        }
    }
    free(text);
    free(path);
    return n;
}

static void remove_db(const char *path)
{
    char buf[PATH_MAX + 8];
    unlink(path);
    snprintf(buf, sizeof buf, "%s-wal", path);
    unlink(buf);
    snprintf(buf, sizeof buf, "%s-shm", path);
    unlink(buf);
}

static void print_merge_report(const store_merge_report *r, int grid_n, const char *out)
{
    const int *c = r->count;
    int recorded = 0;
    for (int k = 0; k < RUN_STATUS_COUNT; k++)
        recorded += c[k];
    int never = grid_n > recorded ? grid_n - recorded : 0;
    int total = recorded + never;
    printf("%s: merged %d runs from %d input%s (%d new, %d better than the copy in %s), "
           "%d unchanged\n", r->name, r->added + r->replaced, r->inputs,
           r->inputs == 1 ? "" : "s", r->added, r->replaced, out, r->kept);
    printf("%s: %d of %d runs done; missing %d (%d pending, %d never run); failed %d, "
           "diverged %d, interrupted %d", r->name, c[RUN_DONE], total,
           c[RUN_PENDING] + never, c[RUN_PENDING], never, c[RUN_FAILED], c[RUN_DIVERGED],
           c[RUN_INTERRUPTED]);
    if (c[RUN_RUNNING])
        printf(", running %d", c[RUN_RUNNING]);
    printf("\n");
    if (r->differ)
        fprintf(stderr, "sweep: warning: %s: %d run%s done in several inputs with different "
                "metrics (the first: %s); kept the first copy\n", r->name, r->differ,
                r->differ == 1 ? "" : "s", r->differ_key);
}

int cmd_merge(int argc, char **argv, sw_error *err)
{
    const char **pos = calloc((size_t)argc + 1, sizeof *pos);
    if (!pos)
        return sw_oom(err, "sweep merge");
    int help, n_pos, rc = SW_EINPUT;
    const cli_option opts[] = {{NULL, NULL, 0, NULL}};
    if (cli_parse("merge", argc, argv, opts, pos, argc, &n_pos, &help, err) != SW_OK)
        goto out;
    if (help) {
        fputs(merge_help, stdout);
        rc = 0;
        goto out;
    }
    if (n_pos < 2) {
        sw_err(err, SW_EINPUT, "sweep merge: needs OUT.db and at least one IN.db (see sweep "
               "merge --help)");
        goto out;
    }
    struct stat st;
    int existed = stat(pos[0], &st) == 0;
    store *db = NULL;
    store_merge_report *rep = NULL;
    int n_rep = 0;
    if (store_open(&db, pos[0], 1, err) != SW_OK)
        goto out;
    if (store_merge(db, pos + 1, n_pos - 1, &rep, &n_rep, err) != SW_OK) {
        store_close(db);
        if (!existed)   /* refused: leave no trace, not even an empty OUT */
            remove_db(pos[0]);
        goto out;
    }
    if (n_rep == 0)
        printf("no sweeps in the input%s; %s unchanged\n", n_pos > 2 ? "s" : "", pos[0]);
    for (int i = 0; i < n_rep; i++)
        print_merge_report(&rep[i], grid_size(db, rep[i].name), pos[0]);
    free(rep);
    store_close(db);
    rc = 0;
out:
    free(pos);
    return rc;
}

/* ---- slurm ---- */

static const char slurm_help[] =
    "usage: sweep slurm CONFIG.yaml --array N [--max-parallel M] [--cpus-per-task C]\n"
    "                   [--sbatch-arg ARG]... [--db PATH] [--submit]\n\n"
    "Writes two sbatch scripts next to the database, DIR/NAME-array.sbatch and\n"
    "DIR/NAME-merge.sbatch (NAME: the sweep's name). The array has N tasks; task I\n"
    "runs 'sweep run CONFIG --shard I/N' into its own database\n"
    "DIR/NAME-JOB-shardIofN.db (JOB: the array's job id). The merge job then runs\n"
    "'sweep merge' of the N shards into the database. Job output goes to\n"
    "logs/NAME-JOB_I.out and logs/NAME-merge-JOB.out in this folder.\n\n"
    "  --array N           shards, one array task each (1..100000)\n"
    "  --max-parallel M    at most M tasks at once (#SBATCH --array=0-(N-1)%M)\n"
    "  --cpus-per-task C   CPUs per task (default 2); sweep run fills them\n"
    "  --sbatch-arg ARG    one more #SBATCH line in both scripts, e.g.\n"
    "                      --sbatch-arg=--time=02:00:00 (repeatable)\n"
    "  --db PATH           the merged database (default " DEFAULT_DB ")\n"
    "  --submit            submit both: the array, then the merge job with\n"
    "                      --dependency=afterok:ARRAY --kill-on-invalid-dep=yes;\n"
    "                      prints the two job ids\n\n"
    "Without --submit, prints both scripts and the commands that submit them.\n"
    "A task whose runs failed or diverged still succeeds (they are recorded and\n"
    "the merge reports them); a task that could not finish (killed, time limit,\n"
    "bad data) fails, and the merge job is cancelled.\n";

/* An absolute form of path (not resolving links), in buf. */
static int absolute(const char *path, char *buf, size_t size, sw_error *err)
{
    if (path[0] == '/') {
        if (snprintf(buf, size, "%s", path) < (int)size)
            return SW_OK;
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd))
            return sw_err(err, SW_EINPUT, "cannot read the current folder: %s",
                          strerror(errno));
        const char *p = path;
        while (p[0] == '.' && p[1] == '/')
            p += 2;
        if (snprintf(buf, size, "%s/%s", strcmp(cwd, "/") ? cwd : "", p) < (int)size)
            return SW_OK;
    }
    return sw_err(err, SW_EINPUT, "%s: path too long", path);
}

typedef int (*script_fn)(const slurm_job *j, FILE *out, sw_error *err);

/* Writes the script to path through a temporary file and a rename, so a
 * job never reads half a script; a new script is executable. */
static int write_script(const char *path, script_fn fn, const slurm_job *j, sw_error *err)
{
    sw_outfile o;
    if (sw_out_open(&o, path, 0777, 0, err) != SW_OK)
        return err->code;
    if (fn(j, o.f, err) != SW_OK) {
        sw_out_abort(&o);
        return err->code;
    }
    return sw_out_commit(&o, err);
}

static void cat_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, stdout);
    fclose(f);
}

/* Runs sbatch with args; its stdout (the job id, with --parsable) goes to
 * id, its stderr to ours. */
static int sbatch(char *const args[], char *id, size_t size, sw_error *err)
{
    sw_error e = {0};
    int status = 0;
    sw_spawn_io io = {.out = id, .out_size = size};
    if (sw_spawn(args, &io, &status, &e) != SW_OK) {
        if (status == 127)
            return sw_err(err, SW_EINPUT, "sbatch not found: --submit needs a Slurm login "
                          "node (without it the scripts are written for you to submit)");
        if (status == 126)
            return sw_err(err, e.code, "%s", e.msg);
        return sw_err(err, e.code, "sbatch %s failed (exit status %d)", args[2], status);
    }
    /* --parsable prints "ID" or "ID;CLUSTER" */
    size_t digits = strspn(id, "0123456789");
    if (!digits || (id[digits] && id[digits] != ';' && id[digits] != '\n'))
        return sw_err(err, SW_EINPUT, "sbatch printed no job id: '%.64s'", id);
    id[digits] = '\0';
    return SW_OK;
}

/* Splits the repeatable --sbatch-arg out of argv (cli_parse keeps one
 * value per flag); rest gets the other arguments. */
static int take_sbatch_args(int argc, char **argv, char **rest, int *n_rest,
                            const char **args, int *n_args, sw_error *err)
{
    static const char flag[] = "--sbatch-arg";
    size_t len = sizeof flag - 1;
    *n_rest = *n_args = 0;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && strncmp(argv[i], flag, len) == 0 &&
            (argv[i][len] == '\0' || argv[i][len] == '=')) {
            if (argv[i][len] == '=') {
                args[(*n_args)++] = argv[i] + len + 1;
            } else if (i + 1 < argc) {
                args[(*n_args)++] = argv[++i];
            } else {
                return sw_err(err, SW_EINPUT, "sweep slurm: --sbatch-arg needs a value");
            }
            continue;
        }
        rest[(*n_rest)++] = argv[i];
    }
    rest[*n_rest] = NULL;
    return SW_OK;
}

typedef struct {
    char config[PATH_MAX], bin[PATH_MAX], db[PATH_MAX], dir[PATH_MAX], logs[PATH_MAX];
    char array_file[PATH_MAX + 300], merge_file[PATH_MAX + 300];
} slurm_paths;

static int slurm_prepare(const char *config_path, const char *db_arg, const char *name,
                         slurm_paths *p, sw_error *err)
{
    if (!realpath(config_path, p->config))
        return sw_err(err, SW_EINPUT, "%s: %s", config_path, strerror(errno));
    ssize_t n = readlink("/proc/self/exe", p->bin, sizeof p->bin - 1);
    if (n <= 0)
        return sw_err(err, SW_EINPUT, "cannot find the sweep binary: %s", strerror(errno));
    p->bin[n] = '\0';
    if (absolute(db_arg, p->db, sizeof p->db, err))
        return err->code;
    snprintf(p->dir, sizeof p->dir, "%s", p->db);
    char *slash = strrchr(p->dir, '/');
    if (slash == p->dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    if (absolute("logs", p->logs, sizeof p->logs, err) || sw_mkdir_p(p->dir, err) ||
        sw_mkdir_p(p->logs, err))
        return err->code;
    char safe[256];
    slurm_safe_name(name, safe, sizeof safe);
    const char *sep = strcmp(p->dir, "/") ? "/" : "";
    snprintf(p->array_file, sizeof p->array_file, "%s%s%s-array.sbatch", p->dir, sep, safe);
    snprintf(p->merge_file, sizeof p->merge_file, "%s%s%s-merge.sbatch", p->dir, sep, safe);
    return SW_OK;
}

static int slurm_submit(const slurm_paths *p, const char *name, int shards, sw_error *err)
{
    char array_id[64], merge_id[64], dep[96];
    char *array_args[] = {"sbatch", "--parsable", (char *)p->array_file, NULL};
    if (sbatch(array_args, array_id, sizeof array_id, err) != SW_OK)
        return err->code;
    snprintf(dep, sizeof dep, "--dependency=afterok:%s", array_id);
    char *merge_args[] = {"sbatch", "--parsable", dep, "--kill-on-invalid-dep=yes",
                          (char *)p->merge_file, array_id, NULL};
    if (sbatch(merge_args, merge_id, sizeof merge_id, err) != SW_OK) {
        sw_error first = *err;
        err->code = SW_OK;
        return sw_err(err, first.code, "%s; the array job %s is submitted: merge it later "
                      "with 'sbatch --dependency=afterok:%s --kill-on-invalid-dep=yes %s %s'",
                      first.msg, array_id, array_id, p->merge_file, array_id);
    }
    char safe[256];
    slurm_safe_name(name, safe, sizeof safe);
    printf("array job %s: %d task%s, shard I of sweep '%s' in %s/%s-%s-shardIof%d.db, "
           "output in %s/%s-%s_I.out\n", array_id, shards, shards == 1 ? "" : "s", name,
           p->dir, safe, array_id, shards, p->logs, safe, array_id);
    printf("merge job %s: after the array succeeds, merges the shards into %s\n", merge_id,
           p->db);
    return SW_OK;
}

int cmd_slurm(int argc, char **argv, sw_error *err)
{
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    const char **extra = calloc((size_t)argc + 1, sizeof *extra);
    slurm_paths *p = calloc(1, sizeof *p);
    sweep_config cfg;
    memset(&cfg, 0, sizeof cfg);
    run_settings *runs = NULL;
    int rc = SW_EINPUT, n_rest, n_extra;
    if (!rest || !extra || !p) {
        rc = sw_oom(err, "sweep slurm");
        goto out;
    }
    const char *db_arg = DEFAULT_DB, *pos[1];
    int array = 0, max_parallel = 0, cpus = 2, submit = 0, help, n_pos;
    const cli_option opts[] = {
        {"--array", NULL, OPT_INT, &array},
        {"--max-parallel", NULL, OPT_INT, &max_parallel},
        {"--cpus-per-task", NULL, OPT_INT, &cpus},
        {"--db", NULL, OPT_STRING, &db_arg},
        {"--submit", NULL, OPT_FLAG, &submit},
        {NULL, NULL, 0, NULL},
    };
    if (take_sbatch_args(argc, argv, rest, &n_rest, extra, &n_extra, err) != SW_OK ||
        cli_parse("slurm", n_rest, rest, opts, pos, 1, &n_pos, &help, err) != SW_OK)
        goto out;
    if (help) {
        fputs(slurm_help, stdout);
        rc = 0;
        goto out;
    }
    if (n_pos != 1 || array < 1) {
        sw_err(err, SW_EINPUT, "sweep slurm: needs CONFIG.yaml and --array N with N >= 1 (see "
               "sweep slurm --help)");
        goto out;
    }
    /* Flags and config first: nothing is written for a bad one. */
    int n_runs;
    slurm_job j = {.name = "x", .sweep_bin = "/", .config = "/", .db = "/", .log_dir = "/",
                   .shards = array, .max_parallel = max_parallel, .cpus_per_task = cpus,
                   .sbatch_args = extra, .n_sbatch_args = n_extra};
    if (slurm_job_check(&j, err) != SW_OK || config_load(&cfg, pos[0], err) != SW_OK ||
        grid_expand(&cfg, &runs, &n_runs, err) != SW_OK ||
        slurm_prepare(pos[0], db_arg, cfg.name, p, err) != SW_OK)
        goto out;
    j.name = cfg.name;
    j.sweep_bin = p->bin;
    j.config = p->config;
    j.db = p->db;
    j.log_dir = p->logs;
    if (slurm_job_check(&j, err) != SW_OK ||
        write_script(p->array_file, slurm_array_script, &j, err) != SW_OK ||
        write_script(p->merge_file, slurm_merge_script, &j, err) != SW_OK)
        goto out;
    struct stat st;
    if (stat(cfg.data_dir, &st) != 0)
        fprintf(stderr, "sweep slurm: note: the data folder %s is not on this machine; the "
                "nodes need it\n", cfg.data_dir);
    if (array > n_runs)
        fprintf(stderr, "sweep slurm: note: %d shards for %d runs: some tasks have nothing "
                "to train\n", array, n_runs);
    if (submit) {
        rc = slurm_submit(p, cfg.name, array, err);
        goto out;
    }
    printf("# ---- %s\n", p->array_file);
    cat_file(p->array_file);
    printf("\n# ---- %s\n", p->merge_file);
    cat_file(p->merge_file);
    printf("\n# ---- submit both (or run this command with --submit):\n"
           "#   jid=$(sbatch --parsable %s)\n"
           "#   sbatch --dependency=afterok:${jid%%%%;*} --kill-on-invalid-dep=yes %s "
           "${jid%%%%;*}\n", p->array_file, p->merge_file);
    rc = 0;
out:
    free(runs);
    config_free(&cfg);
    free(rest);
    free(extra);
    free(p);
    return rc;
}
