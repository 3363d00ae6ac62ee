/* cmd_run.c: `sweep run` and `sweep plan`: from a YAML grid to trained,
 * recorded runs. Everything that can be wrong with the input is checked
 * before the database is opened, so a bad config never touches it. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "data/dataset.h"
#include "progress.h"
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
    "                 [--keep-checkpoints]\n\n"
    "Trains every run of the grid that is not done yet, recording each epoch in\n"
    "the database, then prints the comparison (the summary view) on stdout.\n\n"
    "  --db PATH      database (default " DEFAULT_DB ", created with its folder; for a\n"
    "                 shard results/NAME-JOB-shardIofN.db, JOB being $SLURM_ARRAY_JOB_ID,\n"
    "                 else $SLURM_JOB_ID, else 'local')\n"
    "  --jobs N       trainings at once (default: fill the cores)\n"
    "  --threads N    OpenMP threads per training (default: cores / jobs)\n"
    "  --shard I/N    only the runs of shard I of N (0 <= I < N), by run key; by default\n"
    "                 from Slurm: an array task is shard (SLURM_ARRAY_TASK_ID - _MIN) / _STEP\n"
    "                 of SLURM_ARRAY_TASK_COUNT, an srun task SLURM_PROCID of SLURM_NTASKS\n"
    "                 (--shard 0/1 turns this off). Under Slurm, the default --jobs and\n"
    "                 --threads fill SLURM_CPUS_PER_TASK (else SLURM_CPUS_ON_NODE) CPUs\n"
    "  --dry-run      list what would run, train nothing, touch no database\n"
    "  --keep-checkpoints  keep each done run's last checkpoint (in DB-checkpoints/)\n\n"
    "After every epoch a run saves a checkpoint in the folder DB-checkpoints; an\n"
    "interrupted or killed run resumes from it and ends bit-identical to an\n"
    "unbroken one.\n\n"
    "Exit status: 0 all runs done, 1 a run failed or diverged, 2 usage, config\n"
    "or data error (nothing trained), 130 interrupted (SIGINT/SIGTERM).\n";

static const char plan_help[] =
    "usage: sweep plan CONFIG.yaml [--db PATH]\n\n"
    "Lists every run the grid expands to, in order, with its key and its state\n"
    "in the database (new when not yet recorded). Trains nothing, writes nothing.\n";

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

/* Loads config, grid, data and keys; keeps only the shard's runs. */
static int load_input(sweep_input *in, const char *path, int shard, int shards, sw_error *err)
{
    memset(in, 0, sizeof *in);
    if (config_load(&in->cfg, path, err) != SW_OK)
        goto fail;
    for (int i = 0; i < in->cfg.n_warnings; i++)   /* legal, likely a mistake */
        fprintf(stderr, "sweep: warning: %s\n", in->cfg.warnings[i]);
    if (grid_expand(&in->cfg, &in->runs, &in->n, err) != SW_OK ||
        dataset_load(&in->data, in->cfg.data_dir, DATA_AUTO, CIFAR_FINE, err) != SW_OK ||
        config_check_models(&in->cfg, in->data.rows, in->data.cols, err) != SW_OK)
        goto fail;
    in->keys = malloc(sizeof *in->keys * (size_t)in->n);
    if (!in->keys) {
        sw_err(err, SW_ERUN, "out of memory");
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
    return SW_EINPUT;
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

/* Prints the plan table; states from db when it has the sweep. */
static int print_plan(FILE *out, const sweep_input *in, store *db, sw_error *err)
{
    long long sweep_id = 0;
    int counts[RUN_STATUS_COUNT + 1] = {0};
    if (db && store_sweep_find(db, in->cfg.name, &sweep_id, err) != SW_OK)
        return err->code;
    fprintf(out, "%5s  %-16s  %-11s  %-10s %5s %6s %7s %6s %5s %9s %6s  %s\n", "#", "run_key",
            "state", "activation", "alpha", "init", "dropout", "epochs", "batch", "lr", "seed",
            "model");
    for (int i = 0; i < in->n; i++) {
        const run_settings *r = &in->runs[i];
        const char *state = "new";
        int idx = RUN_STATUS_COUNT;
        long long run_id = 0;
        if (sweep_id && store_run_find(db, sweep_id, in->keys[i], &run_id, err) != SW_OK)
            return err->code;
        if (run_id) {
            run_status st;
            int stale = 0;
            if (store_run_state(db, run_id, &st, &stale, err) != SW_OK)
                return err->code;
            state = stale ? "stale" : run_status_name(st);
            idx = st;
        }
        counts[idx]++;
        char alpha[32];
        format_alpha(alpha, sizeof alpha, r->alpha);
        char model_text[256];
        model_shape shape = r->model;
        if (shape.n_conv == 0)
            model_shape_default(&shape);
        model_shape_text(&shape, model_text, sizeof model_text);
        fprintf(out, "%5d  %-16s  %-11s  %-10s %5s %6s %7g %6d %5d %9g %6lld  %s\n", i + 1,
                in->keys[i], state, act_name(r->activation), alpha,
                init_name(r->init), r->dropout, r->epochs, r->batch_size,
                r->learning_rate, r->seed, model_text);
    }
    fprintf(out, "%s: %d runs", in->cfg.name, in->n);
    for (int s = 0; s <= RUN_STATUS_COUNT; s++)
        if (counts[s])
            fprintf(out, ", %d %s", counts[s], s == RUN_STATUS_COUNT ? "new" : run_status_name(s));
    fprintf(out, "\n");
    return SW_OK;
}

int cmd_plan(int argc, char **argv, sw_error *err)
{
    const char *db_path = DEFAULT_DB, *pos[1];
    int help, n_pos;
    const cli_option opts[] = {{"--db", NULL, OPT_STRING, &db_path}, {NULL, NULL, 0, NULL}};
    if (cli_parse("plan", argc, argv, opts, pos, 1, &n_pos, &help, err) != SW_OK)
        return SW_EINPUT;
    if (help) {
        fputs(plan_help, stdout);
        return 0;
    }
    if (n_pos != 1)
        return sw_err(err, SW_EINPUT, "sweep plan: needs one CONFIG.yaml (see sweep plan --help)");
    sweep_input in;
    if (load_input(&in, pos[0], 0, 1, err) != SW_OK)
        return SW_EINPUT;
    store *db = NULL;
    int rc = SW_OK;
    if (file_exists(db_path) && store_open(&db, db_path, 0, err) != SW_OK)
        rc = SW_EINPUT;
    if (rc == SW_OK && print_plan(stdout, &in, db, err) != SW_OK)
        rc = SW_EINPUT;
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
        return sw_err(err, SW_ERUN, "out of memory");
    int rc = store_export_csv(db, "summary", name, mem, err);
    fclose(mem);
    if (rc == SW_OK)
        cli_print_table(stdout, buf, 1);
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

int cmd_run(int argc, char **argv, sw_error *err)
{
    const char *db_path = NULL, *shard_arg = NULL, *shard_from = "--shard", *pos[1];
    int jobs = 0, threads = 0, dry_run = 0, keep_checkpoints = 0, help, n_pos, shard = 0,
        shards = 1;
    const cli_option opts[] = {
        {"--db", NULL, OPT_STRING, &db_path},   {"--jobs", "-j", OPT_INT, &jobs},
        {"--threads", NULL, OPT_INT, &threads}, {"--shard", NULL, OPT_STRING, &shard_arg},
        {"--dry-run", NULL, OPT_FLAG, &dry_run},
        {"--keep-checkpoints", NULL, OPT_FLAG, &keep_checkpoints},
        {NULL, NULL, 0, NULL},
    };
    if (cli_parse("run", argc, argv, opts, pos, 1, &n_pos, &help, err) != SW_OK)
        return SW_EINPUT;
    if (help) {
        fputs(run_help, stdout);
        return 0;
    }
    if (n_pos != 1)
        return sw_err(err, SW_EINPUT, "sweep run: needs one CONFIG.yaml (see sweep run --help)");
    if (shard_arg && parse_shard(shard_arg, &shard, &shards, err) != SW_OK)
        return SW_EINPUT;
    if (!shard_arg) {
        if (slurm_shard_from_env(NULL, NULL, &shard, &shards, &shard_from, err) != SW_OK)
            return SW_EINPUT;
        if (shards < 1)
            shards = 1;
    }
    int slurm_cpus = 0;   /* this task's CPUs, not the node's */
    const char *cpus_from;
    if ((!jobs || !threads) && slurm_cpus_from_env(NULL, NULL, &slurm_cpus, &cpus_from, err))
        return SW_EINPUT;
    if ((jobs < 0 || jobs > PROGRESS_MAX_SLOTS) || threads < 0 || threads > 1024)
        return sw_err(err, SW_EINPUT, "sweep run: --jobs must be 1..%d and --threads 1..1024",
                      PROGRESS_MAX_SLOTS);

    sweep_input in;
    if (load_input(&in, pos[0], shard, shards, err) != SW_OK)
        return SW_EINPUT;
    char shard_db[4096];
    if (!db_path && !dry_run) {
        if (default_db(in.cfg.name, shard, shards, shard_db, sizeof shard_db, err) != SW_OK) {
            input_free(&in);
            return SW_EINPUT;
        }
        db_path = shard_db;
    }
    if (shards > 1)
        fprintf(stderr, "sweep: %s: shard %d of %d (from %s): %d run%s%s%s\n", in.cfg.name,
                shard, shards, shard_from, in.n, in.n == 1 ? "" : "s",
                db_path ? ", database " : "", db_path ? db_path : "");
    if (dry_run) {
        int rc = print_plan(stdout, &in, NULL, err) == SW_OK ? 0 : SW_EINPUT;
        input_free(&in);
        return rc;
    }

    store *db = NULL;
    long long sweep_id = 0, *run_ids = calloc((size_t)in.n + 1, sizeof *run_ids);
    unsigned char *todo = calloc((size_t)in.n + 1, 1);
    int rc = SW_EINPUT, n_todo = 0;
    if (!run_ids || !todo) {
        sw_err(err, SW_ERUN, "out of memory");
        goto out;
    }
    if (store_open(&db, db_path, 1, err) != SW_OK ||
        store_sweep_upsert(db, &in.cfg, &sweep_id, err) != SW_OK ||
        store_runs_ensure(db, sweep_id, in.runs, in.keys, in.n, run_ids, err) != SW_OK)
        goto out;
    char checkpoint_dir[4096];
    sched_checkpoint_dir(db_path, checkpoint_dir, sizeof checkpoint_dir);
    for (int i = 0; i < in.n; i++) {
        run_status st;
        int stale = 0;
        if (store_run_state(db, run_ids[i], &st, &stale, err) != SW_OK)
            goto out;
        todo[i] = st != RUN_DONE && (st != RUN_RUNNING || stale);
        n_todo += todo[i];
        if (st == RUN_DONE) {   /* a kill between finish and clean-up left these */
            char path[4096 + 64];
            sched_checkpoint_path(checkpoint_dir, sweep_id, in.keys[i], path, sizeof path);
            sched_clean_checkpoint(path, keep_checkpoints);
        }
    }

    int cores = sched_cores();
    if (slurm_cpus > 0 && slurm_cpus < cores)
        cores = slurm_cpus;
    if (!jobs && !threads)
        sched_default_split(cores, n_todo, &jobs, &threads);
    else if (!threads)
        threads = cores / jobs > 0 ? cores / jobs : 1;
    else if (!jobs)
        jobs = cores / threads > 0 ? (cores / threads < n_todo ? cores / threads : n_todo) : 1;
    if (jobs < 1)
        jobs = 1;

    sched_tally tally = {0};
    if (n_todo > 0) {
        fprintf(stderr, "sweep: %s: %d runs, %d to train, %d job%s x %d thread%s, database %s\n",
                in.cfg.name, in.n, n_todo, jobs, jobs == 1 ? "" : "s", threads,
                threads == 1 ? "" : "s", db_path);
        progress pr;
        sched_options so = {.db_path = db_path, .sweep_id = sweep_id, .keys = in.keys,
                            .checkpoint_dir = checkpoint_dir,
                            .keep_checkpoints = keep_checkpoints, .jobs = jobs,
                            .threads = threads, .stop = &stop_requested};
        progress_init(&pr, stderr, in.cfg.name, in.runs, n_todo, jobs);
        progress_attach(&pr, &so);
        struct sigaction sa = {0}, old_int, old_term;
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        int src = sched_run(&so, &in.data, in.runs, run_ids, todo, in.n, &tally, err);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        progress_end(&pr);
        if (src != SW_OK) {
            rc = SW_ERUN;
            goto out;
        }
    } else {
        fprintf(stderr, "sweep: %s: all %d runs already done; nothing to train\n", in.cfg.name,
                in.n);
    }

    if (print_summary(db, in.cfg.name, err) != SW_OK)
        goto out;
    if (stop_requested) {
        fprintf(stderr, "sweep: interrupted; finished epochs are saved, 'sweep run %s' resumes\n",
                pos[0]);
        rc = SW_EINTR;
    } else {
        rc = tally.failed || tally.diverged ? SW_ERUN : 0;
    }
out:
    store_close(db);
    free(run_ids);
    free(todo);
    input_free(&in);
    return rc;
}
