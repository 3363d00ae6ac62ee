/* cmd_run.c: `sweep run` and `sweep plan`: from a YAML grid to trained,
 * recorded runs. Everything that can be wrong with the input is checked
 * before the database is opened, so a bad config never touches it. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "data/dataset.h"
#include "progress.h"
#include "run_decide.h"
#include "sweep/config.h"
#include "sweep/grid.h"
#include "sweep/scheduler.h"
#include "sweep/slurm.h"
#include "sweep/store.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static const char run_help[] =
    "usage: sweep run CONFIG.yaml [--db PATH] [--jobs N] [--threads N] [--shard I/N] [--dry-run]\n"
    "                 [--retry LIST] [--keep-checkpoints]\n\n"
    "Trains every run of the grid that has no result yet, recording each epoch in\n"
    "the database, then prints the comparison (the summary view) on stdout.\n"
    "Done and diverged runs are results and are not trained again; pending,\n"
    "interrupted and failed runs, and running runs whose process is gone, are.\n\n"
    "  --db PATH      database (default " DEFAULT_DB ", created with its folder; for a\n"
    "                 shard results/NAME-JOB-shardIofN.db, JOB being $SLURM_ARRAY_JOB_ID,\n"
    "                 else $SLURM_JOB_ID, else 'local')\n"
    "  --jobs N       trainings at once, N >= 1 (default: fill the cores)\n"
    "  --threads N    OpenMP threads per training, N >= 1 (default: cores / jobs); values\n"
    "                 that put more threads than cores to work get a warning\n"
    "  --shard I/N    only the runs of shard I of N (0 <= I < N), by run key; by default\n"
    "                 from Slurm: an array task is shard (SLURM_ARRAY_TASK_ID - _MIN) / _STEP\n"
    "                 of SLURM_ARRAY_TASK_COUNT, an srun task SLURM_PROCID of SLURM_NTASKS\n"
    "                 (--shard 0/1 turns this off). Under Slurm, the default --jobs and\n"
    "                 --threads fill SLURM_CPUS_PER_TASK (else SLURM_CPUS_ON_NODE) CPUs\n"
    "  --dry-run      list every run with its state in the database (read, never\n"
    "                 written) and what would train; trains nothing\n"
    "  --retry LIST   which unsuccessful results to train again, comma-separated:\n"
    "                 failed, diverged, or none (default failed); e.g. --retry\n"
    "                 diverged,failed. Interrupted and pending runs always resume\n"
    "  --keep-checkpoints  keep each done run's last checkpoint (in DB-checkpoints/)\n\n"
    "After every epoch a run saves a checkpoint in the folder DB-checkpoints; an\n"
    "interrupted or killed run resumes from it and ends bit-identical to an\n"
    "unbroken one. The folder goes once nothing is in progress.\n\n"
    "Exit status: 0 every run trained this time is done, 1 a run trained this time\n"
    "failed or diverged, 2 usage, config, data or database error (nothing trained),\n"
    "130 interrupted (SIGINT, SIGTERM, SIGHUP, or stdout/stderr a closed pipe): the\n"
    "runs in progress are marked interrupted and the command printed resumes them.\n";

static const char plan_help[] =
    "usage: sweep plan CONFIG.yaml [--db PATH]\n\n"
    "Lists every run the grid expands to, in order, with its key and its state\n"
    "in the database (new when not yet recorded; stale: running in a process that\n"
    "is gone), then the counts and how many runs 'sweep run' would train.\n"
    "Trains nothing; the database is opened read-only.\n\n"
    "  --db PATH      database (default " DEFAULT_DB ")\n";

/* What run and plan share: the config, its runs and their keys. */
typedef struct {
    sweep_config cfg;
    dataset data;
    run_settings *runs;
    char (*keys)[RUN_KEY_LEN + 1];
    int n;
} sweep_input;

static void input_free(sweep_input *in)
{
    config_free(&in->cfg);
    dataset_free(&in->data);
    free(in->runs);
    free(in->keys);
    memset(in, 0, sizeof *in);
}

static int parse_shard(const char *s, int *index, int *count, sw_error *err)
{
    char *end;
    errno = 0;
    long i = strtol(s, &end, 10);
    if (end != s && *end == '/') {
        const char *c = end + 1;
        long n = strtol(c, &end, 10);
        if (!errno && end != c && !*end && n >= 1 && n <= 100000 && i >= 0 && i < n) {
            *index = (int)i;
            *count = (int)n;
            return SW_OK;
        }
    }
    return sw_err(err, SW_EINPUT, "--shard must be I/N with 0 <= I < N, got '%s'", s);
}

/* Every split the runs ask for, checked before anything is stored or
 * trained: one that leaves no training or validation image is an error.
 * The runs record the format, labelling and identity of the data read. */
static int check_splits(sweep_input *in, sw_error *err)
{
    const dataset *d = &in->data;
    for (int i = 0; i < in->n; i++) {
        run_settings *r = &in->runs[i];
        r->data_format = d->format;
        r->data_label = d->format == DATA_CIFAR100 ? in->cfg.data_label : -1;
        r->data_identity = d->identity;
        const run_settings *q = i > 0 ? &in->runs[i - 1] : NULL;
        if (q && q->validation_split == r->validation_split &&
            q->train_limit == r->train_limit && q->val_limit == r->val_limit &&
            q->test_limit == r->test_limit)
            continue;   /* the same split as the run before */
        data_split_opts o = {r->validation_split, r->train_limit, r->val_limit, r->test_limit};
        if (dataset_split(d, &o, NULL, NULL, NULL, err) != SW_OK)
            return err->code;
    }
    return SW_OK;
}

/* The data as the config asks. A coarse label on a folder that turns out
 * not to be CIFAR-100 fails in dataset_load before reading anything; it is
 * then loaded with fine labels so that config_check_data names the place
 * of the label in the config. */
static int load_data(sweep_input *in, sw_error *err)
{
    const sweep_config *c = &in->cfg;
    int rc = dataset_load(&in->data, c->data_dir, (dataset_format)c->data_format,
                          (cifar_label)c->data_label, err);
    if (rc == SW_EINPUT && c->label_line > 0 && c->data_label != CIFAR_FINE &&
        c->data_format == DATA_AUTO) {
        sw_error again = {0};
        if (dataset_load(&in->data, c->data_dir, DATA_AUTO, CIFAR_FINE, &again) == SW_OK &&
            in->data.format == DATA_CIFAR100)
            dataset_free(&in->data);   /* not the label's fault: keep the first error */
    }
    if (rc != SW_OK && in->data.n_train > 0)
        *err = (sw_error){0};   /* the placed message below replaces it */
    if (rc == SW_OK || in->data.n_train > 0)
        rc = config_check_data(c, &in->data, err);
    return rc;
}

/* Loads config, grid, data and keys; keeps only the shard's runs. Says on
 * stderr what was found in the data folder. */
static int load_input(sweep_input *in, const char *path, int shard, int shards, sw_error *err)
{
    memset(in, 0, sizeof *in);
    if (config_load(&in->cfg, path, err) != SW_OK)
        goto fail;
    for (int i = 0; i < in->cfg.n_warnings; i++)   /* legal, likely a mistake */
        fprintf(stderr, "sweep: warning: %s\n", in->cfg.warnings[i]);
    if (grid_expand(&in->cfg, &in->runs, &in->n, err) != SW_OK ||
        load_data(in, err) != SW_OK ||
        config_check_models(&in->cfg, in->data.rows, in->data.cols, err) != SW_OK ||
        check_splits(in, err) != SW_OK ||
        sched_check_runs(&in->data, in->runs, in->n, err) != SW_OK)
        goto fail;
    fprintf(stderr, "sweep: data: %s: %s, %dx%dx%d, %d classes, %ld training and %ld test "
            "images\n", in->data.dir, in->data.found, in->data.channels, in->data.rows,
            in->data.cols, in->data.n_classes, in->data.n_train, in->data.n_test);
    in->keys = malloc(sizeof *in->keys * (size_t)in->n);
    if (!in->keys) {
        sw_oom(err, "the run keys");
        goto fail;
    }
    int kept = 0;
    for (int i = 0; i < in->n; i++) {
        char key[RUN_KEY_LEN + 1];
        grid_run_key(&in->runs[i], in->data.identity, key);
        if (grid_shard_of(key, shards) != shard)
            continue;
        in->runs[kept] = in->runs[i];
        memcpy(in->keys[kept++], key, sizeof key);
    }
    in->n = kept;
    return SW_OK;
fail:
    input_free(in);
    return err->code;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void format_alpha(char *buf, size_t size, double alpha)
{
    if (isnan(alpha))
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%g", alpha);
}

/* The recorded runs that left the grid, for the plan. */
typedef struct {
    FILE *out;
    const sweep_input *in;
    int n;
} left_ctx;

/* Whether key is a seed decide: may add (seeds.min + 1 .. seeds.max). */
static int decide_seed(const sweep_input *in, const char *key)
{
    const decide_settings *d = &in->cfg.decide;
    for (int i = 0; d->on && i < in->n; i++) {
        if (in->runs[i].seed != 1)
            continue;
        run_settings r = in->runs[i];
        for (r.seed = d->seeds_min + 1; r.seed <= d->seeds_max; r.seed++) {
            char k[RUN_KEY_LEN + 1];
            grid_run_key(&r, in->data.identity, k);
            if (strcmp(k, key) == 0)
                return 1;
        }
    }
    return 0;
}

static int show_left(void *ctx, const char *key, const char *status, const char *settings)
{
    left_ctx *c = ctx;
    for (int i = 0; i < c->in->n; i++)
        if (strcmp(c->in->keys[i], key) == 0)
            return 0;
    if (decide_seed(c->in, key))
        return 0;
    if (c->n++ == 0)
        fprintf(c->out, "recorded runs that left the grid (kept; compare, plot and summary leave "
                        "them out unless --all):\n");
    fprintf(c->out, "       %-16s  %-11s  %s\n", key, status, settings ? settings : "");
    return 0;
}

/* The sweep's recorded runs whose keys this grid no longer expands to. */
static int print_left(FILE *out, const sweep_input *in, store *db, sw_error *err)
{
    left_ctx c = {out, in, 0};
    if (store_recorded_runs(db, in->cfg.name, show_left, &c, err) != SW_OK)
        return err->code;
    if (c.n)
        fprintf(out, "%s: %d recorded run%s left the grid\n", in->cfg.name, c.n,
                c.n == 1 ? "" : "s");
    return SW_OK;
}

/* ---- which runs train: one rule for plan, --dry-run and run ---- */

#define STATE_BIT(st) (1u << (st))
/* Unfinished work always resumes; --retry adds results to train again. */
#define RETRY_ALWAYS (STATE_BIT(RUN_PENDING) | STATE_BIT(RUN_INTERRUPTED))
#define RETRY_DEFAULT (RETRY_ALWAYS | STATE_BIT(RUN_FAILED))

/* --retry LIST: failed, diverged, none, comma-separated. */
static int parse_retry(const char *spec, unsigned *mask, sw_error *err)
{
    *mask = spec ? RETRY_ALWAYS : RETRY_DEFAULT;
    for (const char *p = spec; p && *p;) {
        size_t len = strcspn(p, ",");
        if (len == 6 && strncmp(p, "failed", len) == 0)
            *mask |= STATE_BIT(RUN_FAILED);
        else if (len == 8 && strncmp(p, "diverged", len) == 0)
            *mask |= STATE_BIT(RUN_DIVERGED);
        else if (!(len == 4 && strncmp(p, "none", len) == 0))
            return sw_err(err, SW_EINPUT, "--retry must be failed, diverged or none, got '%.*s'",
                          (int)len, p);
        p += len + (p[len] == ',');
    }
    return SW_OK;
}

/* A run's state in the database: known 0 for a run not recorded yet. */
typedef struct {
    int known, stale;
    run_status st;
} run_state;

static int would_train(run_state r, unsigned retry)
{
    if (!r.known)
        return 1;
    if (r.st == RUN_RUNNING)
        return r.stale;   /* its process is gone */
    return (retry >> r.st) & 1;
}

/* Counts of a grid's states; stale running runs apart from live ones. */
typedef struct {
    int count[RUN_STATUS_COUNT], stale, fresh, to_train;
} state_counts;

static void count_state(state_counts *c, run_state r, unsigned retry)
{
    if (!r.known)
        c->fresh++;
    else if (r.st == RUN_RUNNING && r.stale)
        c->stale++;
    else
        c->count[r.st]++;
    c->to_train += would_train(r, retry);
}

static const char *state_name(run_state r)
{
    return !r.known ? "new" : r.stale ? "stale" : run_status_name(r.st);
}

/* "PREFIX4 runs: 2 done, 1 diverged, 1 new; sweep run trains 1 (...)". */
static void print_counts(FILE *out, const char *prefix, int n, const state_counts *c,
                         unsigned retry)
{
    static const run_status order[] = {RUN_DONE, RUN_RUNNING, RUN_PENDING, RUN_INTERRUPTED,
                                       RUN_FAILED, RUN_DIVERGED};
    fprintf(out, "%s%d run%s", prefix, n, n == 1 ? "" : "s");
    const char *sep = ": ";
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        if (c->count[order[k]]) {
            /* a live owner's run is not done, and not this process's to train */
            fprintf(out, "%s%d %s", sep, c->count[order[k]], order[k] == RUN_RUNNING
                    ? "still running in another process" : run_status_name(order[k]));
            sep = ", ";
        }
        if (order[k] == RUN_RUNNING && c->stale) {
            fprintf(out, "%s%d stale (running in a process that is gone)", sep, c->stale);
            sep = ", ";
        }
    }
    if (c->fresh)
        fprintf(out, "%s%d new", sep, c->fresh);
    if (c->to_train)
        fprintf(out, "; sweep run trains %d", c->to_train);
    else
        fprintf(out, "; nothing to train");
    if (c->count[RUN_DIVERGED] && !(retry & STATE_BIT(RUN_DIVERGED)))
        fprintf(out, " (diverged runs are results: --retry diverged trains them again)");
    else if (c->count[RUN_FAILED] && !(retry & STATE_BIT(RUN_FAILED)))
        fprintf(out, " (--retry failed trains the failed runs again)");
    fprintf(out, "\n");
}

static int read_state(store *db, long long sweep_id, const char *key, run_state *r,
                      sw_error *err)
{
    long long run_id = 0;
    memset(r, 0, sizeof *r);
    if (!sweep_id || store_run_find(db, sweep_id, key, &run_id, err) != SW_OK || !run_id)
        return err->code;
    r->known = 1;
    return store_run_state(db, run_id, &r->st, &r->stale, err);
}

/* Prints the plan table and its counts; states from db when it has the
 * sweep (db may be NULL: every run new). */
static int print_plan(FILE *out, const sweep_input *in, store *db, unsigned retry,
                      state_counts *c, sw_error *err)
{
    long long sweep_id = 0;
    memset(c, 0, sizeof *c);
    if (db && store_sweep_find(db, in->cfg.name, &sweep_id, err) != SW_OK)
        return err->code;
    fprintf(out, "%5s  %-16s  %-11s  %-10s %5s %6s %7s %6s %5s %9s %6s  %s\n", "#", "run_key",
            "state", "activation", "alpha", "init", "dropout", "epochs", "batch", "lr", "seed",
            "model");
    for (int i = 0; i < in->n; i++) {
        const run_settings *r = &in->runs[i];
        run_state rs;
        if (read_state(db, sweep_id, in->keys[i], &rs, err) != SW_OK)
            return err->code;
        count_state(c, rs, retry);
        char alpha[32], model_text[256];
        format_alpha(alpha, sizeof alpha, r->alpha);
        model_shape shape = r->model;
        if (shape.n_conv == 0)
            model_shape_default(&shape);
        model_shape_text(&shape, model_text, sizeof model_text);
        char train_text[256];   /* batch norm, optimizer settings: only when set */
        grid_train_text(r, train_text, sizeof train_text);
        fprintf(out, "%5d  %-16s  %-11s  %-10s %5s %6s %7g %6d %5d %9g %6lld  %s%s\n", i + 1,
                in->keys[i], state_name(rs), act_name(r->activation), alpha,
                init_name(r->init), r->dropout, r->epochs, r->batch_size,
                r->learning_rate, r->seed, model_text, train_text);
    }
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%s: ", in->cfg.name);
    print_counts(out, prefix, in->n, c, retry);
    return sweep_id ? print_left(out, in, db, err) : SW_OK;
}

/* The database read-only, when it exists (*db NULL otherwise). */
static int open_to_read(const char *path, store **db, sw_error *err)
{
    *db = NULL;
    return file_exists(path) ? store_open_read(db, path, err) : SW_OK;
}

int cmd_plan(int argc, char **argv, sw_error *err)
{
    const char *db_path = DEFAULT_DB, *pos[1];
    int help, n_pos;
    const cli_option opts[] = {{"--db", NULL, OPT_STRING, &db_path}, {NULL, NULL, 0, NULL}};
    if (cli_parse("plan", argc, argv, opts, pos, 1, &n_pos, &help, err) != SW_OK)
        return err->code;
    if (help) {
        fputs(plan_help, stdout);
        return 0;
    }
    if (n_pos != 1)
        return sw_err(err, SW_EINPUT, "plan needs one CONFIG.yaml (see sweep plan --help)");
    sweep_input in;
    if (load_input(&in, pos[0], 0, 1, err) != SW_OK)
        return err->code;
    store *db = NULL;
    state_counts c;
    int rc = open_to_read(db_path, &db, err);
    if (rc == SW_OK)
        rc = print_plan(stdout, &in, db, RETRY_DEFAULT, &c, err);
    store_close(db);
    input_free(&in);
    return rc;
}

/* Prints the sweep's summary view as a table on stdout. */
static int print_summary(store *db, const char *name, sw_error *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem)
        return sw_oom(err, "the summary");
    int rc = store_export_csv(db, "summary", name, mem, err);
    if (fclose(mem) != 0 && rc == SW_OK)   /* the text did not fit in memory */
        rc = sw_oom(err, "the summary");
    if (rc == SW_OK && len > 0 && cli_print_table(stdout, buf, 1) != SW_OK)
        rc = sw_oom(err, "the summary");
    free(buf);
    return rc;
}

/* The default database: DEFAULT_DB, but a shard gets its own file,
 * results/NAME-JOB-shardIofN.db, as SQLite must not be written by many
 * nodes over NFS; `sweep merge` unites them. */
static int default_db(const char *name, int shard, int shards, char *buf, size_t size,
                      sw_error *err)
{
    if (shards <= 1) {
        snprintf(buf, size, "%s", DEFAULT_DB);
        return SW_OK;
    }
    char job[32];
    if (slurm_job_from_env(NULL, NULL, job, sizeof job, err) != SW_OK)
        return err->code;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", DEFAULT_DB);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    return slurm_shard_db(buf, size, dir, name, job, shard, shards, err);
}

/* The flags of `sweep run`, and what Slurm's environment adds to them. */
typedef struct {
    const char *db_path, *config, *shard_from, *shard_arg;
    int jobs, threads, dry_run, keep_checkpoints, help;
    unsigned retry;   /* STATE_BITs of the states that train */
    int shard, shards;
    int slurm_cpus;   /* this task's CPUs, not the node's; 0 outside Slurm */
} run_flags;

static int parse_run_flags(int argc, char **argv, run_flags *f, sw_error *err)
{
    const char *retry = NULL, *pos[1];
    int n_pos;
    *f = (run_flags){.shard_from = "--shard", .shards = 1};
    const cli_option opts[] = {
        {"--db", NULL, OPT_STRING, &f->db_path}, {"--jobs", "-j", OPT_POSITIVE, &f->jobs},
        {"--threads", NULL, OPT_POSITIVE, &f->threads},
        {"--shard", NULL, OPT_STRING, &f->shard_arg},
        {"--dry-run", NULL, OPT_FLAG, &f->dry_run}, {"--retry", NULL, OPT_STRING, &retry},
        {"--keep-checkpoints", NULL, OPT_FLAG, &f->keep_checkpoints},
        {NULL, NULL, 0, NULL},
    };
    if (cli_parse("run", argc, argv, opts, pos, 1, &n_pos, &f->help, err) != SW_OK)
        return err->code;
    if (f->help)
        return SW_OK;
    if (n_pos != 1)
        return sw_err(err, SW_EINPUT, "run needs one CONFIG.yaml (see sweep run --help)");
    f->config = pos[0];
    if (parse_retry(retry, &f->retry, err) != SW_OK)
        return err->code;
    if (f->shard_arg && parse_shard(f->shard_arg, &f->shard, &f->shards, err) != SW_OK)
        return err->code;
    if (!f->shard_arg) {
        if (slurm_shard_from_env(NULL, NULL, &f->shard, &f->shards, &f->shard_from, err) != SW_OK)
            return err->code;
        if (f->shards < 1)
            f->shards = 1;
    }
    const char *cpus_from;
    if ((!f->jobs || !f->threads) &&
        slurm_cpus_from_env(NULL, NULL, &f->slurm_cpus, &cpus_from, err) != SW_OK)
        return err->code;
    if (f->jobs > PROGRESS_MAX_SLOTS || f->threads > 1024)
        return sw_err(err, SW_EINPUT, "--jobs must be 1..%d and --threads 1..1024",
                      PROGRESS_MAX_SLOTS);
    return SW_OK;
}

/* The runs to train (todo[i], *n_todo of them) by f->retry, and the counts
 * of the states. A done run's leftover checkpoint goes. */
static int find_todo(store *db, const sweep_input *in, long long sweep_id,
                     const long long *run_ids, const char *checkpoint_dir, const run_flags *f,
                     unsigned char *todo, state_counts *c, sw_error *err)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < in->n; i++) {
        run_state r = {.known = 1};
        if (store_run_state(db, run_ids[i], &r.st, &r.stale, err) != SW_OK)
            return err->code;
        todo[i] = (unsigned char)would_train(r, f->retry);
        count_state(c, r, f->retry);
        if (r.st == RUN_DONE) {   /* a kill between finish and clean-up left these */
            char path[4096 + 64];
            sched_checkpoint_path(checkpoint_dir, sweep_id, in->keys[i], path, sizeof path);
            sched_clean_checkpoint(path, f->keep_checkpoints);
        }
    }
    return SW_OK;
}

/* Jobs and threads: the flags, filled in from the cores (Slurm's share).
 * Explicit values that put more threads than cores to work are warned of. */
static void split_cores(const run_flags *f, int n_todo, int *jobs, int *threads)
{
    int cores = sched_cores();
    if (f->slurm_cpus > 0 && f->slurm_cpus < cores)
        cores = f->slurm_cpus;
    *jobs = f->jobs;
    *threads = f->threads;
    if (!*jobs && !*threads)
        sched_default_split(cores, n_todo, jobs, threads);
    else if (!*threads)
        *threads = cores / *jobs > 0 ? cores / *jobs : 1;
    else if (!*jobs)
        *jobs = cores / *threads > 0 ? (cores / *threads < n_todo ? cores / *threads : n_todo)
                                     : 1;
    if (*jobs > n_todo)   /* a job without a run would only idle */
        *jobs = n_todo;
    if (*jobs < 1)
        *jobs = 1;
    if (f->jobs || f->threads)
        cli_warn_threads(*jobs, *threads, cores);
}

/* ---- signals: SIGINT, SIGTERM, SIGHUP and a closed pipe stop the sweep
 * after the batches in progress; their runs are marked interrupted ---- */

static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
#define N_STOP_SIGNALS ((int)(sizeof stop_signals / sizeof stop_signals[0]))

static int catch_signals(struct sigaction *old, sw_error *err)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int k = 0; k < N_STOP_SIGNALS; k++) {
        if (sigaction(stop_signals[k], &sa, &old[k]) != 0) {
            int e = errno, sig = stop_signals[k];
            while (k-- > 0)
                sigaction(stop_signals[k], &old[k], NULL);
            return sw_err(err, SW_ERUN, "cannot catch %s: %s", strsignal(sig), strerror(e));
        }
    }
    return SW_OK;
}

/* Restoring what we read cannot fail. A closed pipe stays ignored: what
 * is left to write would otherwise kill the process; main sees EPIPE. */
static void restore_signals(const struct sigaction *old)
{
    for (int k = 0; k < N_STOP_SIGNALS; k++)
        if (stop_signals[k] != SIGPIPE)
            sigaction(stop_signals[k], &old[k], NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Trains the todo runs with progress on stderr. */
static int train_todo(sched_options *so, const sweep_input *in, const long long *run_ids,
                      const unsigned char *todo, int n_todo, sched_tally *tally, sw_error *err)
{
    progress pr;
    fprintf(stderr, "sweep: %s: %d run%s, %d to train, %d job%s x %d thread%s, database %s\n",
            in->cfg.name, in->n, in->n == 1 ? "" : "s", n_todo, so->jobs, so->jobs == 1 ? "" : "s", so->threads,
            so->threads == 1 ? "" : "s", so->db_path);
    progress_init(&pr, stderr, in->cfg.name, in->runs, todo, in->n, so->jobs);
    progress_attach(&pr, so);
    int rc = sched_run(so, &in->data, in->runs, run_ids, todo, in->n, tally, err);
    progress_end(&pr);
    if (rc == SW_OK && tally->jobs_started < so->jobs)
        fprintf(stderr, "sweep: warning: only %d of %d jobs started (%s); they trained "
                "every run\n", tally->jobs_started, so->jobs, strerror(tally->thread_errno));
    return rc;
}

/* One word for the shell: as it is when it holds nothing the shell reads
 * specially, else in single quotes. */
static void shell_word(FILE *out, const char *s)
{
    int plain = *s != '\0';
    for (const char *c = s; *c; c++)
        plain &= isalnum((unsigned char)*c) || strchr("_./:=@%+,-", *c) != NULL;
    if (plain) {
        fputs(s, out);
        return;
    }
    fputc('\'', out);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", out);   /* close, an escaped quote, reopen */
        else
            fputc(*s, out);
    }
    fputc('\'', out);
}

/* The command that resumes this sweep, as the user can paste it: the
 * same config, database and shard. */
static void print_resume(const run_flags *f, const char *db_path)
{
    fprintf(stderr, "sweep: interrupted; finished epochs are saved. To resume: ");
    shell_word(stderr, cli_program);
    fputs(" run ", stderr);
    shell_word(stderr, f->config);
    if (strcmp(db_path, DEFAULT_DB) != 0) {
        fputs(" --db ", stderr);
        shell_word(stderr, db_path);
    }
    if (f->shards > 1)
        fprintf(stderr, " --shard %d/%d", f->shard, f->shards);
    fputc('\n', stderr);
}

/* What a run with nothing to train says. */
static void print_nothing(const sweep_input *in, const state_counts *c, const run_flags *f)
{
    char prefix[300];
    snprintf(prefix, sizeof prefix, "sweep: %s: ", in->cfg.name);
    print_counts(stderr, prefix, in->n, c, f->retry);
}

/* Records the sweep and its runs, trains those to train, prints the
 * summary. Returns the exit status. */
static int run_sweep(const run_flags *f, const sweep_input *in, const char *db_path,
                     int summary, sw_error *err)
{
    store *db = NULL;
    long long sweep_id = 0, *run_ids = calloc((size_t)in->n + 1, sizeof *run_ids);
    unsigned char *todo = calloc((size_t)in->n + 1, 1);
    char checkpoint_dir[4096];
    int jobs, threads;
    state_counts c = {0};
    sched_tally tally = {0};
    struct sigaction old[N_STOP_SIGNALS];
    sched_checkpoint_dir(db_path, checkpoint_dir, sizeof checkpoint_dir);
    if (!run_ids || !todo)
        sw_oom(err, "the run list");
    else if (store_open(&db, db_path, 1, err) == SW_OK &&
             store_sweep_upsert(db, &in->cfg, &sweep_id, err) == SW_OK &&
             store_classes_put(db, sweep_id, (const char *const *)in->data.class_names,
                               in->data.class_names ? in->data.n_classes : 0, err) == SW_OK &&
             store_runs_ensure(db, sweep_id, in->runs, in->keys, in->n, run_ids, err) == SW_OK)
        find_todo(db, in, sweep_id, run_ids, checkpoint_dir, f, todo, &c, err);
    if (err->code != SW_OK || catch_signals(old, err) != SW_OK)
        goto out;
    if (c.to_train > 0) {
        split_cores(f, c.to_train, &jobs, &threads);
        sched_options so = {.db_path = db_path, .sweep_id = sweep_id, .keys = in->keys,
                            .checkpoint_dir = checkpoint_dir,
                            .keep_checkpoints = f->keep_checkpoints, .jobs = jobs,
                            .threads = threads, .stop = &stop_requested};
        train_todo(&so, in, run_ids, todo, c.to_train, &tally, err);
    } else {
        print_nothing(in, &c, f);
    }
    cli_drop_checkpoint_dir(db, checkpoint_dir);
    if (summary && err->code == SW_OK)
        print_summary(db, in->cfg.name, err);
    if (fflush(stdout) != 0)   /* a closed pipe raises SIGPIPE: caught */
        stop_requested = 1;
    if (stop_requested && (tally.interrupted || tally.trained + tally.skipped < c.to_train))
        print_resume(f, db_path);
    restore_signals(old);
out:
    store_close(db);
    free(run_ids);
    free(todo);
    if (err->code != SW_OK)
        return err->code;
    if (stop_requested)
        return SW_EINTR;
    return tally.failed || tally.diverged ? SW_ERUN : 0;
}

/* decide: rounds of training, each followed by the decisions, recomputed
 * from the database, and the next seed of each undecided comparison. */
static int run_decided(const run_flags *f, sweep_input *in, const char *db_path, sw_error *err)
{
    decide_plan p;
    if (decide_plan_make(&p, &in->cfg, in->data.identity, in->runs, in->n, err) != SW_OK) {
        decide_plan_free(&p);
        return err->code;
    }
    int rc, added = 0, failed = 0;
    for (;;) {
        /* a failed run stops its own comparisons only (decide_step); the
         * others go on, and the exit status says it in the end */
        rc = run_sweep(f, in, db_path, 0, err);
        if (rc == SW_ERUN && err->code == SW_OK)
            failed = 1;
        else if (rc != 0)
            break;
        store *db = NULL;
        long long sweep_id = 0;
        if (store_open(&db, db_path, 0, err) != SW_OK ||
            store_sweep_find(db, in->cfg.name, &sweep_id, err) != SW_OK ||
            decide_step(&p, db, sweep_id, &in->runs, &in->keys, &in->n, &added, err) != SW_OK) {
            store_close(db);
            rc = err->code;
            break;
        }
        if (added == 0) {
            rc = print_summary(db, in->cfg.name, err);
            store_close(db);
            if (rc == SW_OK && failed)
                rc = SW_ERUN;
            break;
        }
        store_close(db);
        int going = 0;
        for (int i = 0; i < p.n_cmps; i++)
            going += p.cmps[i].state == DC_GOING;
        fprintf(stderr, "sweep: decide: %d of %d comparison%s undecided; adding the next seed "
                "(%d run%s)\n", going, p.n_cmps, p.n_cmps == 1 ? "" : "s", added,
                added == 1 ? "" : "s");
    }
    decide_log(&p, stderr);
    decide_plan_free(&p);
    return rc;
}

/* --dry-run: the plan by the database as it is (read-only), with what
 * would train and on how many jobs. */
static int dry_run(const run_flags *f, const sweep_input *in, const char *db_path,
                   sw_error *err)
{
    store *db = NULL;
    state_counts c;
    int jobs, threads;
    if (open_to_read(db_path, &db, err) != SW_OK ||
        print_plan(stdout, in, db, f->retry, &c, err) != SW_OK) {
        store_close(db);
        return err->code;
    }
    store_close(db);
    if (c.to_train)
        split_cores(f, c.to_train, &jobs, &threads);
    if (c.to_train)
        printf("dry run: would train %d run%s on %d job%s x %d thread%s, database %s%s\n",
               c.to_train, c.to_train == 1 ? "" : "s", jobs, jobs == 1 ? "" : "s", threads,
               threads == 1 ? "" : "s", db_path, file_exists(db_path) ? "" : " (not created yet)");
    else
        printf("dry run: nothing would train, database %s\n", db_path);
    return 0;
}

int cmd_run(int argc, char **argv, sw_error *err)
{
    run_flags f;
    if (parse_run_flags(argc, argv, &f, err) != SW_OK)
        return err->code;
    if (f.help) {
        fputs(run_help, stdout);
        return 0;
    }
    sweep_input in;
    if (load_input(&in, f.config, f.shard, f.shards, err) != SW_OK)
        return err->code;
    char shard_db[4096];
    const char *db_path = f.db_path;
    if (!db_path) {
        if (default_db(in.cfg.name, f.shard, f.shards, shard_db, sizeof shard_db, err) != SW_OK) {
            input_free(&in);
            return err->code;
        }
        db_path = shard_db;
    }
    if (f.shards > 1)
        fprintf(stderr, "sweep: %s: shard %d of %d (from %s): %d run%s, database %s\n",
                in.cfg.name, f.shard, f.shards, f.shard_from, in.n, in.n == 1 ? "" : "s",
                db_path);
    if (in.cfg.decide.on && f.shards > 1 && !f.dry_run) {
        input_free(&in);
        return sw_err(err, SW_EINPUT,
                      "sweep run: %s: decide: adds seeds as results come in, which one shard "
                      "cannot see; run it without --shard (or remove decide:)", f.config);
    }
    int rc = f.dry_run          ? dry_run(&f, &in, db_path, err)
             : in.cfg.decide.on ? run_decided(&f, &in, db_path, err)
                                : run_sweep(&f, &in, db_path, 1, err);
    input_free(&in);
    return rc;
}
