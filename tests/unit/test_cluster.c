/* Tests of what runs a sweep on many machines: shard assignment, reading
 * Slurm's environment, the sbatch scripts (run with a stand-in sweep), and
 * merging shard databases. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sweep/config.h"
#include "sweep/grid.h"
#include "sweep/slurm.h"
#include "sweep/store.h"
#include "test.h"
#include "../../src/sweep/store/store_sql.h"

/* ------------------------------------------------------------- helpers */

static const char *tmp_path(const char *name)
{
    static char buf[8][512];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/cluster-%s", test_tmpdir(), name);
    return p;
}

/* The keys of a grid given as YAML, with a fixed dataset identity. */
static int grid_keys(const char *yaml, char (**keys)[RUN_KEY_LEN + 1])
{
    sweep_config c;
    sw_error err = {0};
    run_settings *runs = NULL;
    int n = 0;
    *keys = NULL;
    if (config_parse(&c, yaml, strlen(yaml), "grid.yaml", &err) != SW_OK) {
        CHECK_MSG(0, "%s", err.msg);
        return 0;
    }
    if (grid_expand(&c, &runs, &n, &err) != SW_OK) {
        CHECK_MSG(0, "%s", err.msg);
        config_free(&c);
        return 0;
    }
    *keys = calloc((size_t)n + 1, sizeof **keys);
    for (int i = 0; i < n; i++)
        grid_run_key(&runs[i], 0x5eedULL, (*keys)[i]);
    free(runs);
    config_free(&c);
    return n;
}

/* A fake environment: NULL-terminated name/value pairs. */
static const char *fake_env(void *ctx, const char *name)
{
    for (const char *const *kv = ctx; kv[0]; kv += 2)
        if (strcmp(kv[0], name) == 0)
            return kv[1];
    return NULL;
}

static int env_shard(const char *const *env, int *shard, int *shards, sw_error *err)
{
    const char *from;
    return slurm_shard_from_env(fake_env, (void *)env, shard, shards, &from, err);
}

/* ------------------------------------------------------- shard assignment */

static void test_shard_of_is_key_mod_n(void)
{
    CHECK_INT(grid_shard_of("ffffffffffffffff", 3), 0);   /* 2^64 - 1 = 3 * 6148914691236517205 */
    CHECK_INT(grid_shard_of("0000000000000005", 3), 2);
    CHECK_INT(grid_shard_of("000000000000000a", 4), 2);
    CHECK_INT(grid_shard_of("0123456789abcdef", 1), 0);
    CHECK_INT(grid_shard_of("0123456789abcdef", 0), 0);
}

static void test_every_run_in_one_shard(void)
{
    char (*keys)[RUN_KEY_LEN + 1];
    int n = grid_keys("name: g\ngrid:\n  activation: [relu, elu, leaky_relu]\n"
                      "  init: [he, glorot]\n  seed: {from: 1, to: 20}\n", &keys);
    CHECK_INT(n, 120);
    for (int shards = 1; shards <= 7; shards++) {
        int *count = calloc((size_t)shards, sizeof *count);
        for (int i = 0; i < n; i++) {
            int hits = 0;
            for (int s = 0; s < shards; s++)
                hits += grid_shard_of(keys[i], shards) == s;
            CHECK_INT(hits, 1);
            int s = grid_shard_of(keys[i], shards);
            CHECK(s >= 0 && s < shards);
            if (s >= 0 && s < shards)
                count[s]++;
        }
        int total = 0;
        for (int s = 0; s < shards; s++) {
            total += count[s];
            /* 120 hashed keys: no shard should be empty or hold nearly all */
            CHECK_MSG(count[s] > 0 && count[s] < n / shards * 3 + 1,
                      "%d shards: shard %d holds %d of %d", shards, s, count[s], n);
        }
        CHECK_INT(total, n);
        free(count);
    }
    free(keys);
}

/* Adding seeds (or another activation) adds runs and moves none. */
static void test_adding_seeds_moves_nothing(void)
{
    char (*small)[RUN_KEY_LEN + 1], (*big)[RUN_KEY_LEN + 1];
    int ns = grid_keys("name: g\ngrid:\n  activation: [relu, elu]\n  seed: [1, 2, 3]\n", &small);
    int nb = grid_keys("name: g\ngrid:\n  activation: [relu, elu, prelu]\n"
                       "  seed: {from: 1, to: 10}\n", &big);
    CHECK_INT(ns, 6);
    CHECK_INT(nb, 30);
    for (int i = 0; i < ns; i++) {
        int found = -1;
        for (int j = 0; j < nb && found < 0; j++)
            if (strcmp(small[i], big[j]) == 0)
                found = j;
        CHECK_MSG(found >= 0, "run %s of the small grid is not in the big one", small[i]);
        for (int shards = 2; found >= 0 && shards <= 5; shards++)
            CHECK_INT(grid_shard_of(small[i], shards), grid_shard_of(big[found], shards));
    }
    free(small);
    free(big);
}

/* ------------------------------------------------------- Slurm environment */

static void test_env_array_min_step_count(void)
{
    /* --array=3-7:2: ids 3, 5, 7 are shards 0, 1, 2 of 3 */
    const char *ids[] = {"3", "5", "7"};
    for (int i = 0; i < 3; i++) {
        const char *env[] = {"SLURM_ARRAY_TASK_ID", ids[i], "SLURM_ARRAY_TASK_MIN", "3",
                             "SLURM_ARRAY_TASK_STEP", "2", "SLURM_ARRAY_TASK_COUNT", "3",
                             "SLURM_ARRAY_TASK_MAX", "7", NULL};
        sw_error err = {0};
        int shard = -1, shards = -1;
        const char *from = NULL;
        CHECK_INT(slurm_shard_from_env(fake_env, env, &shard, &shards, &from, &err), SW_OK);
        CHECK_INT(shard, i);
        CHECK_INT(shards, 3);
        CHECK_STR(from, "SLURM_ARRAY_TASK_ID");
    }
    /* --array=0-3: the usual case; STEP missing means 1 */
    const char *env[] = {"SLURM_ARRAY_TASK_ID", "2", "SLURM_ARRAY_TASK_MIN", "0",
                         "SLURM_ARRAY_TASK_COUNT", "4", NULL};
    sw_error err = {0};
    int shard, shards;
    CHECK_INT(env_shard(env, &shard, &shards, &err), SW_OK);
    CHECK_INT(shard, 2);
    CHECK_INT(shards, 4);
    /* An array task wins over PROCID. */
    const char *both[] = {"SLURM_ARRAY_TASK_ID", "1", "SLURM_ARRAY_TASK_MIN", "1",
                          "SLURM_ARRAY_TASK_COUNT", "2", "SLURM_PROCID", "1",
                          "SLURM_NTASKS", "4", "SLURM_STEP_ID", "0", NULL};
    CHECK_INT(env_shard(both, &shard, &shards, &err), SW_OK);
    CHECK_INT(shard, 0);
    CHECK_INT(shards, 2);
}

static void test_env_procid_ntasks(void)
{
    sw_error err = {0};
    int shard, shards;
    const char *step[] = {"SLURM_PROCID", "2", "SLURM_NTASKS", "3", "SLURM_STEP_ID", "0", NULL};
    CHECK_INT(env_shard(step, &shard, &shards, &err), SW_OK);
    CHECK_INT(shard, 2);
    CHECK_INT(shards, 3);
    /* One task: not sharded. */
    const char *one[] = {"SLURM_PROCID", "0", "SLURM_NTASKS", "1", "SLURM_STEP_ID", "0", NULL};
    CHECK_INT(env_shard(one, &shard, &shards, &err), SW_OK);
    CHECK_INT(shards, 0);
    /* The batch script of a --ntasks=4 job (no step id, or Slurm's batch
     * step id): PROCID 0 of 4 there would run shard 0 alone. */
    const char *batch[] = {"SLURM_PROCID", "0", "SLURM_NTASKS", "4", NULL};
    CHECK_INT(env_shard(batch, &shard, &shards, &err), SW_OK);
    CHECK_INT(shards, 0);
    const char *batch_id[] = {"SLURM_PROCID", "0", "SLURM_NTASKS", "4", "SLURM_STEP_ID",
                              "4294967291", NULL};
    CHECK_INT(env_shard(batch_id, &shard, &shards, &err), SW_OK);
    CHECK_INT(shards, 0);
    /* Nothing from Slurm at all. */
    const char *none[] = {"HOME", "/root", NULL};
    CHECK_INT(env_shard(none, &shard, &shards, &err), SW_OK);
    CHECK_INT(shards, 0);
    CHECK_INT(err.code, SW_OK);
}

/* Bad values are errors that name the variable. */
static void test_env_bad_values(void)
{
    static const struct {
        const char *env[12];
        const char *names;   /* expected in the message */
    } cases[] = {
        {{"SLURM_ARRAY_TASK_ID", "x1", NULL}, "SLURM_ARRAY_TASK_ID"},
        {{"SLURM_ARRAY_TASK_ID", "1", "SLURM_ARRAY_TASK_MIN", "0", NULL},
         "SLURM_ARRAY_TASK_COUNT"},
        {{"SLURM_ARRAY_TASK_ID", "1", "SLURM_ARRAY_TASK_COUNT", "2", NULL},
         "SLURM_ARRAY_TASK_MIN"},
        {{"SLURM_ARRAY_TASK_ID", "1", "SLURM_ARRAY_TASK_MIN", "0", "SLURM_ARRAY_TASK_COUNT",
          "0", NULL}, "SLURM_ARRAY_TASK_COUNT"},
        {{"SLURM_ARRAY_TASK_ID", "1", "SLURM_ARRAY_TASK_MIN", "0", "SLURM_ARRAY_TASK_STEP",
          "0", "SLURM_ARRAY_TASK_COUNT", "2", NULL}, "SLURM_ARRAY_TASK_STEP"},
        {{"SLURM_ARRAY_TASK_ID", "4", "SLURM_ARRAY_TASK_MIN", "3", "SLURM_ARRAY_TASK_STEP",
          "2", "SLURM_ARRAY_TASK_COUNT", "3", NULL}, "SLURM_ARRAY_TASK_ID 4"},
        {{"SLURM_ARRAY_TASK_ID", "9", "SLURM_ARRAY_TASK_MIN", "3", "SLURM_ARRAY_TASK_STEP",
          "2", "SLURM_ARRAY_TASK_COUNT", "3", NULL}, "SLURM_ARRAY_TASK_ID 9"},
        {{"SLURM_ARRAY_TASK_ID", "-1", NULL}, "SLURM_ARRAY_TASK_ID"},
        {{"SLURM_PROCID", "3", "SLURM_NTASKS", "3", "SLURM_STEP_ID", "0", NULL},
         "SLURM_PROCID"},
        {{"SLURM_PROCID", "1", "SLURM_NTASKS", "two", "SLURM_STEP_ID", "0", NULL},
         "SLURM_NTASKS"},
        {{"SLURM_STEP_ID", "zero", NULL}, "SLURM_STEP_ID"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sw_error err = {0};
        int shard, shards;
        CHECK_INT(env_shard(cases[i].env, &shard, &shards, &err), SW_EINPUT);
        CHECK_MSG(strstr(err.msg, cases[i].names) != NULL, "case %zu: '%s' does not name %s",
                  i, err.msg, cases[i].names);
    }
    sw_error err = {0};
    int cpus;
    const char *from;
    const char *cpu_env[] = {"SLURM_CPUS_PER_TASK", "4x", NULL};
    CHECK_INT(slurm_cpus_from_env(fake_env, cpu_env, &cpus, &from, &err), SW_EINPUT);
    CHECK(strstr(err.msg, "SLURM_CPUS_PER_TASK") != NULL);
    char job[32];
    const char *job_env[] = {"SLURM_ARRAY_JOB_ID", "12;rm", NULL};
    err.code = SW_OK;
    CHECK_INT(slurm_job_from_env(fake_env, job_env, job, sizeof job, &err), SW_EINPUT);
    CHECK(strstr(err.msg, "SLURM_ARRAY_JOB_ID") != NULL);
}

static void test_env_cpus_and_job(void)
{
    sw_error err = {0};
    int cpus;
    const char *from;
    const char *both[] = {"SLURM_CPUS_PER_TASK", "3", "SLURM_CPUS_ON_NODE", "8", NULL};
    CHECK_INT(slurm_cpus_from_env(fake_env, both, &cpus, &from, &err), SW_OK);
    CHECK_INT(cpus, 3);
    CHECK_STR(from, "SLURM_CPUS_PER_TASK");
    const char *node[] = {"SLURM_CPUS_ON_NODE", "8", NULL};
    CHECK_INT(slurm_cpus_from_env(fake_env, node, &cpus, &from, &err), SW_OK);
    CHECK_INT(cpus, 8);
    const char *none[] = {NULL};
    CHECK_INT(slurm_cpus_from_env(fake_env, none, &cpus, &from, &err), SW_OK);
    CHECK_INT(cpus, 0);

    char job[32];
    const char *array[] = {"SLURM_ARRAY_JOB_ID", "1234", "SLURM_JOB_ID", "1237", NULL};
    CHECK_INT(slurm_job_from_env(fake_env, array, job, sizeof job, &err), SW_OK);
    CHECK_STR(job, "1234");
    const char *plain[] = {"SLURM_JOB_ID", "99", NULL};
    CHECK_INT(slurm_job_from_env(fake_env, plain, job, sizeof job, &err), SW_OK);
    CHECK_STR(job, "99");
    CHECK_INT(slurm_job_from_env(fake_env, none, job, sizeof job, &err), SW_OK);
    CHECK_STR(job, "local");
}

static void test_shard_db_names(void)
{
    sw_error err = {0};
    char buf[256];
    CHECK_INT(slurm_shard_db(buf, sizeof buf, "results", "elu_vs_relu", "1234", 1, 3, &err),
              SW_OK);
    CHECK_STR(buf, "results/elu_vs_relu-1234-shard1of3.db");
    CHECK_INT(slurm_shard_db(buf, sizeof buf, "", "my sweep/../x", "local", 0, 2, &err), SW_OK);
    CHECK_STR(buf, "./my_sweep_.._x-local-shard0of2.db");
    CHECK_INT(slurm_shard_db(buf, 10, "results", "x", "1", 0, 2, &err), SW_EINPUT);
}

/* ---------------------------------------------------------------- scripts */

static char *script_text(int (*fn)(const slurm_job *, FILE *, sw_error *), const slurm_job *j,
                         sw_error *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int rc = fn(j, f, err);
    fclose(f);
    if (rc != SW_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}

static void write_text(const char *path, const char *text, int mode)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
    chmod(path, (mode_t)mode);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_script_lines(void)
{
    const char *extra[] = {"--time=02:00:00", "--partition=gpu"};
    slurm_job j = {.name = "elu vs relu", .sweep_bin = "/opt/sweep/bin/sweep",
                   .config = "/home/u/elu.yaml", .db = "/home/u/results/all.db",
                   .log_dir = "/home/u/logs", .shards = 4, .max_parallel = 2,
                   .cpus_per_task = 8, .sbatch_args = extra, .n_sbatch_args = 2};
    sw_error err = {0};
    char *a = script_text(slurm_array_script, &j, &err);
    CHECK_MSG(a != NULL, "%s", err.msg);
    if (a) {
        CHECK(strncmp(a, "#!/bin/bash\n", 12) == 0);
        CHECK(strstr(a, "#SBATCH --job-name=elu_vs_relu\n") != NULL);
        CHECK(strstr(a, "#SBATCH --array=0-3%2\n") != NULL);
        CHECK(strstr(a, "#SBATCH --cpus-per-task=8\n") != NULL);
        CHECK(strstr(a, "#SBATCH --output=/home/u/logs/elu_vs_relu-%A_%a.out\n") != NULL);
        CHECK(strstr(a, "#SBATCH --time=02:00:00\n#SBATCH --partition=gpu\n") != NULL);
        CHECK(strstr(a, "--shard \"$shard/$shards\"") != NULL);
        CHECK(strstr(a, "SLURM_ARRAY_JOB_ID") != NULL);
    }
    char *m = script_text(slurm_merge_script, &j, &err);
    CHECK_MSG(m != NULL, "%s", err.msg);
    if (m) {
        CHECK(strstr(m, "#SBATCH --job-name=elu_vs_relu-merge\n") != NULL);
        CHECK(strstr(m, "#SBATCH --output=/home/u/logs/elu_vs_relu-merge-%j.out\n") != NULL);
        CHECK(strstr(m, "#SBATCH --partition=gpu\n") != NULL);
        CHECK(strstr(m, "--array") == NULL || strstr(m, "#SBATCH --array") == NULL);
        CHECK(strstr(m, " merge \"$db\"") != NULL);
    }
    free(a);
    free(m);
    /* No limit: no %M; a '%' in the log folder is doubled for sbatch. */
    j.max_parallel = 0;
    j.log_dir = "/home/u/100%/logs";
    a = script_text(slurm_array_script, &j, &err);
    CHECK(a && strstr(a, "#SBATCH --array=0-3\n") != NULL);
    CHECK(a && strstr(a, "--output=/home/u/100%%/logs/") != NULL);
    free(a);
}

static void test_script_refusals(void)
{
    const char *bad_args[][1] = {{"--time=1\n#SBATCH --wrap=evil"}, {"partition=x"},
                                 {"--array=0-9"}, {"-a 1"}, {"--dependency=afterok:1"}};
    slurm_job j = {.name = "x", .sweep_bin = "/s", .config = "/c.yaml", .db = "/r/x.db",
                   .log_dir = "/l", .shards = 2, .cpus_per_task = 1};
    sw_error err = {0};
    CHECK_INT(slurm_job_check(&j, &err), SW_OK);
    for (int i = 0; i < 5; i++) {
        slurm_job k = j;
        k.sbatch_args = bad_args[i];
        k.n_sbatch_args = 1;
        err.code = SW_OK;
        CHECK_MSG(slurm_job_check(&k, &err) == SW_EINPUT, "accepted '%s'", bad_args[i][0]);
    }
    slurm_job k = j;
    k.config = "relative.yaml";
    err.code = SW_OK;
    CHECK_INT(slurm_job_check(&k, &err), SW_EINPUT);
    k = j;
    k.db = "/r/x\n.db";
    err.code = SW_OK;
    CHECK_INT(slurm_job_check(&k, &err), SW_EINPUT);
    k = j;
    k.shards = 0;
    err.code = SW_OK;
    CHECK_INT(slurm_job_check(&k, &err), SW_EINPUT);
    CHECK(script_text(slurm_array_script, &k, &err) == NULL);
}

/* The scripts run by bash with a stand-in sweep that records its
 * arguments: quoting survives blanks and quotes in paths, and exit 1
 * (runs failed, all recorded) lets the merge go on while 2 does not. */
static void test_scripts_run(void)
{
    if (system("command -v bash >/dev/null 2>&1") != 0) {
        printf("# skip: no bash\n");
        return;
    }
    char dir[600], bin[700], args[700], cmd[2400];
    snprintf(dir, sizeof dir, "%s", tmp_path("it's a dir"));
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(bin, sizeof bin, "%s/sweep", dir);
    snprintf(args, sizeof args, "%s/args", dir);
    char fake[1200];
    snprintf(fake, sizeof fake, "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done > \"$(dirname "
             "\"$0\")/args\"\nexit ${FAKE_RC:-0}\n");
    write_text(bin, fake, 0755);
    char db[700], cfg[700];
    snprintf(db, sizeof db, "%s/out $1.db", dir);
    snprintf(cfg, sizeof cfg, "%s/g.yaml", dir);
    slurm_job j = {.name = "g", .sweep_bin = bin, .config = cfg, .db = db, .log_dir = dir,
                   .shards = 3, .cpus_per_task = 1};
    sw_error err = {0};
    char *a = script_text(slurm_array_script, &j, &err);
    char *m = script_text(slurm_merge_script, &j, &err);
    CHECK_MSG(a && m, "%s", err.msg);
    if (!a || !m) {
        free(a);
        free(m);
        return;
    }
    char array_file[700], merge_file[700];
    snprintf(array_file, sizeof array_file, "%s/array.sbatch", dir);
    snprintf(merge_file, sizeof merge_file, "%s/merge.sbatch", dir);
    write_text(array_file, a, 0755);
    write_text(merge_file, m, 0755);

    char want[4000];
    for (int rc_in = 0; rc_in <= 2; rc_in++) {
        /* the path has a quote: it goes through the environment */
        setenv("SWEEP_TEST_SCRIPT", array_file, 1);
        snprintf(cmd, sizeof cmd, "cd / && FAKE_RC=%d SLURM_ARRAY_JOB_ID=42 "
                 "SLURM_ARRAY_TASK_ID=2 bash \"$SWEEP_TEST_SCRIPT\"", rc_in);
        int st = system(cmd);
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        CHECK_INT(code, rc_in == 1 ? 0 : rc_in);
    }
    char *got = read_text(args);
    snprintf(want, sizeof want, "run\n%s\n--shard\n2/3\n--db\n%s/g-42-shard2of3.db\n", cfg, dir);
    CHECK_STR(got, want);
    free(got);

    /* An earlier array's shard: SWEEP_SHARD_JOB picks its database. */
    int st = system("cd / && SWEEP_SHARD_JOB=7 SLURM_ARRAY_JOB_ID=42 SLURM_ARRAY_TASK_ID=0 "
                    "bash \"$SWEEP_TEST_SCRIPT\"");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    got = read_text(args);
    snprintf(want, sizeof want, "run\n%s\n--shard\n0/3\n--db\n%s/g-7-shard0of3.db\n", cfg, dir);
    CHECK_STR(got, want);
    free(got);

    setenv("SWEEP_TEST_SCRIPT", merge_file, 1);
    st = system("cd / && bash \"$SWEEP_TEST_SCRIPT\" 42");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    got = read_text(args);
    snprintf(want, sizeof want, "merge\n%s\n%s/g-42-shard0of3.db\n%s/g-42-shard1of3.db\n"
             "%s/g-42-shard2of3.db\n", db, dir, dir, dir);
    CHECK_STR(got, want);
    free(got);
    /* Without the array's id the merge script refuses to guess. */
    st = system("cd / && bash \"$SWEEP_TEST_SCRIPT\" 2>/dev/null");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 0);
    unsetenv("SWEEP_TEST_SCRIPT");
    free(a);
    free(m);
}

/* ------------------------------------------------------------------ merge */

typedef struct {
    int key;          /* run key number */
    run_status st;    /* its state in this shard */
    double acc;       /* test accuracy when done */
} run_spec;

static void key_name(char key[RUN_KEY_LEN + 1], int k)
{
    snprintf(key, RUN_KEY_LEN + 1, "%016llx", 0xabc000ULL + (unsigned long long)k);
}

static run_settings settings_for(int k)
{
    run_settings r;
    memset(&r, 0, sizeof r);
    r.activation = k % 2 ? ACT_ELU : ACT_RELU;
    r.alpha = k % 2 ? 1.0 : NAN;
    r.init = INIT_HE;
    r.dropout = 0.25;
    r.epochs = 2;
    r.seed = k / 2 + 1;
    r.batch_size = 50;
    r.learning_rate = 0.001;
    r.optimizer = OPT_ADAM;
    r.validation_split = 0.2;
    return r;
}

/* A shard database holding the runs of rs in the given states: done runs
 * with 2 epochs whose metrics depend on the key only (as the same seed
 * gives the same bits), others with 1 epoch. */
static void make_shard(const char *path, const char *sweep, const char *text,
                       const run_spec *rs, int n)
{
    sw_error err = {0};
    store *s = NULL;
    sweep_config c;
    memset(&c, 0, sizeof c);
    c.name = (char *)sweep;
    c.path = (char *)"configs/g.yaml";
    c.text = (char *)text;
    long long sweep_id = 0, run_id = 0;
    int ok = store_open(&s, path, 1, &err) == SW_OK &&
             store_sweep_upsert(s, &c, &sweep_id, &err) == SW_OK;
    for (int i = 0; ok && i < n; i++) {
        char keys[1][RUN_KEY_LEN + 1];
        key_name(keys[0], rs[i].key);
        run_settings r = settings_for(rs[i].key);
        ok = store_runs_ensure(s, sweep_id, &r, keys, 1, &run_id, &err) == SW_OK;
        if (!ok || rs[i].st == RUN_PENDING)
            continue;
        int claimed = 0;
        ok = store_run_claim(s, run_id, 1, &claimed, &err) == SW_OK && claimed;
        int epochs = rs[i].st == RUN_DONE ? 2 : 1;
        for (int e = 1; ok && e <= epochs; e++) {
            epoch_metrics m = {1.0 / (rs[i].key + e), 0.5 + 0.01 * e, 0.9 / (rs[i].key + e),
                               0.6 + 0.01 * e + 0.001 * rs[i].key, 0.25 * e};
            ok = store_epoch_add(s, run_id, e, &m, &err) == SW_OK;
        }
        train_result res = {.status = TRAIN_DONE, .epochs_done = epochs,
                            .test_loss = 1.0 - rs[i].acc, .test_accuracy = rs[i].acc};
        if (ok && rs[i].st != RUN_RUNNING)
            ok = store_run_finish(s, run_id, rs[i].st, &res, 1.5,
                                  rs[i].st == RUN_FAILED ? "out of memory" : NULL,
                                  &err) == SW_OK;
    }
    CHECK_MSG(ok, "making %s: %s", path, err.msg);
    store_close(s);
}

static int count_cb(void *ctx, int ncols, const char *const *names, const store_value *vals)
{
    (void)names;
    if (ncols > 0)
        *(long long *)ctx = vals[0].is_null ? -1 : (long long)vals[0].num;
    return 1;
}

static long long q_count(store *s, const char *sql, const char *param)
{
    long long n = -2;
    sw_error err = {0};
    CHECK_MSG(store_select(s, sql, &param, param ? 1 : 0, count_cb, &n, &err) == SW_OK, "%s",
              err.msg);
    return n;
}

/* Everything a user can read: runs and epochs as CSV. */
static char *dump(store *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    sw_error err = {0};
    CHECK(store_export_csv(s, "runs", NULL, f, &err) == SW_OK);
    CHECK(store_export_csv(s, "epochs", NULL, f, &err) == SW_OK);
    fclose(f);
    return buf;
}

static store *open_out(const char *path)
{
    store *s = NULL;
    sw_error err = {0};
    CHECK_MSG(store_open(&s, path, 1, &err) == SW_OK, "%s", err.msg);
    return s;
}

static int merge(store *out, const char *a, const char *b, store_merge_report **rep, int *n,
                 sw_error *err)
{
    const char *in[] = {a, b};
    return store_merge(out, in, b ? 2 : 1, rep, n, err);
}

static const char GRID_TEXT[] = "name: g\ngrid: {seed: [1, 2]}\n";

static void test_merge_union_and_again(void)
{
    const char *a = tmp_path("u-a.db"), *b = tmp_path("u-b.db"), *o = tmp_path("u-out.db");
    run_spec ra[] = {{0, RUN_DONE, 0.9}, {1, RUN_DONE, 0.8}};
    run_spec rb[] = {{2, RUN_DONE, 0.7}, {3, RUN_DONE, 0.6}};
    make_shard(a, "g", GRID_TEXT, ra, 2);
    make_shard(b, "g", GRID_TEXT, rb, 2);
    store *out = open_out(o);
    if (!out)
        return;
    store_merge_report *rep = NULL;
    int n = 0;
    sw_error err = {0};
    CHECK_MSG(merge(out, a, b, &rep, &n, &err) == SW_OK, "%s", err.msg);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK_STR(rep[0].name, "g");
        CHECK_INT(rep[0].inputs, 2);
        CHECK_INT(rep[0].added, 4);
        CHECK_INT(rep[0].replaced, 0);
        CHECK_INT(rep[0].kept, 0);
        CHECK_INT(rep[0].differ, 0);
        CHECK_INT(rep[0].count[RUN_DONE], 4);
    }
    free(rep);
    CHECK_INT(q_count(out, "SELECT count(*) FROM sweeps", NULL), 1);
    CHECK_INT(q_count(out, "SELECT count(*) FROM runs WHERE status = 'done'", NULL), 4);
    CHECK_INT(q_count(out, "SELECT count(*) FROM epochs", NULL), 8);
    CHECK_INT(q_count(out, "SELECT count(*) FROM summary", NULL), 2);
    CHECK_INT(q_count(out, "SELECT count(DISTINCT run_key) FROM runs", NULL), 4);
    /* Bits kept: the test accuracy and an epoch's metric exactly as made. */
    CHECK_INT(q_count(out, "SELECT count(*) FROM runs WHERE run_key = '0000000000abc003' "
                      "AND test_accuracy = 0.6 AND test_loss = 1.0 - 0.6", NULL), 1);
    CHECK_INT(q_count(out, "SELECT count(*) FROM epochs e JOIN runs r USING (run_id) WHERE "
                      "r.run_key = '0000000000abc002' AND e.epoch = 2 AND "
                      "e.train_loss = 1.0 / 4 AND e.val_accuracy = 0.6 + 0.02 + 0.002",
                      NULL), 1);
    CHECK_INT(q_count(out, "SELECT count(*) FROM sweeps WHERE config_text = ?1", GRID_TEXT), 1);

    /* Again, in either order: nothing changes. */
    char *before = dump(out);
    rep = NULL;
    CHECK_MSG(merge(out, b, a, &rep, &n, &err) == SW_OK, "%s", err.msg);
    if (n == 1) {
        CHECK_INT(rep[0].added, 0);
        CHECK_INT(rep[0].replaced, 0);
        CHECK_INT(rep[0].kept, 4);
        CHECK_INT(rep[0].differ, 0);
    }
    free(rep);
    char *after = dump(out);
    CHECK_STR(after, before);
    free(before);
    free(after);
    store_close(out);
}

/* Same name, another config: refused, and the output as it was. */
static void test_merge_refuses_other_config(void)
{
    const char *a = tmp_path("c-a.db"), *b = tmp_path("c-b.db"), *o = tmp_path("c-out.db"),
               *o2 = tmp_path("c-out2.db");
    run_spec ra[] = {{0, RUN_DONE, 0.9}};
    run_spec rb[] = {{1, RUN_DONE, 0.8}};
    make_shard(a, "g", GRID_TEXT, ra, 1);
    make_shard(b, "g", "name: g\ngrid: {seed: [1, 2], dropout: 0.5}\n", rb, 1);
    store *out = open_out(o);
    if (!out)
        return;
    store_merge_report *rep = NULL;
    int n = 0;
    sw_error err = {0};
    CHECK_MSG(merge(out, a, NULL, &rep, &n, &err) == SW_OK, "%s", err.msg);
    free(rep);
    char *before = dump(out);
    rep = NULL;
    CHECK_INT(merge(out, b, NULL, &rep, &n, &err), SW_EINPUT);
    CHECK(rep == NULL);
    CHECK_MSG(strstr(err.msg, "sweep 'g' has another config") && strstr(err.msg, "unchanged"),
              "%s", err.msg);
    char *after = dump(out);
    CHECK_STR(after, before);
    free(before);
    free(after);
    store_close(out);

    /* Both in one call, into an empty output: the first input's rows are
     * rolled back too. */
    out = open_out(o2);
    if (!out)
        return;
    err.code = SW_OK;
    CHECK_INT(merge(out, a, b, &rep, &n, &err), SW_EINPUT);
    CHECK_INT(q_count(out, "SELECT count(*) FROM sweeps", NULL), 0);
    CHECK_INT(q_count(out, "SELECT count(*) FROM runs", NULL), 0);
    CHECK_INT(q_count(out, "SELECT count(*) FROM epochs", NULL), 0);
    store_close(out);
}

static void test_merge_keeps_the_best_state(void)
{
    const char *a = tmp_path("b-a.db"), *b = tmp_path("b-b.db"), *o1 = tmp_path("b-o1.db"),
               *o2 = tmp_path("b-o2.db");
    /* run 0: failed here, done there; run 1: interrupted here, diverged
     * there; run 2: done here, pending there; run 3: pending in both */
    run_spec ra[] = {{0, RUN_FAILED, 0}, {1, RUN_INTERRUPTED, 0}, {2, RUN_DONE, 0.7},
                     {3, RUN_PENDING, 0}};
    run_spec rb[] = {{0, RUN_DONE, 0.9}, {1, RUN_DIVERGED, 0}, {2, RUN_PENDING, 0},
                     {3, RUN_PENDING, 0}};
    make_shard(a, "g", GRID_TEXT, ra, 4);
    make_shard(b, "g", GRID_TEXT, rb, 4);
    for (int order = 0; order < 2; order++) {
        store *out = open_out(order ? o2 : o1);
        if (!out)
            return;
        store_merge_report *rep = NULL;
        int n = 0;
        sw_error err = {0};
        CHECK_MSG(merge(out, order ? b : a, order ? a : b, &rep, &n, &err) == SW_OK, "%s",
                  err.msg);
        CHECK_INT(n, 1);
        if (n == 1) {
            CHECK_INT(rep[0].added, 4);
            /* a then b: b's runs 0 and 1 improve on a's; b then a: a's run 2 */
            CHECK_INT(rep[0].replaced, order ? 1 : 2);
            CHECK_INT(rep[0].kept, order ? 3 : 2);
            CHECK_INT(rep[0].count[RUN_DONE], 2);
            CHECK_INT(rep[0].count[RUN_DIVERGED], 1);
            CHECK_INT(rep[0].count[RUN_PENDING], 1);
            CHECK_INT(rep[0].count[RUN_FAILED], 0);
        }
        free(rep);
        CHECK_INT(q_count(out, "SELECT count(*) FROM runs WHERE run_key = '0000000000abc000' "
                          "AND status = 'done' AND test_accuracy = 0.9 AND error IS NULL",
                          NULL), 1);
        /* the done copy's 2 epochs, not the failed copy's 1 */
        CHECK_INT(q_count(out, "SELECT count(*) FROM epochs JOIN runs USING (run_id) "
                          "WHERE run_key = '0000000000abc000'", NULL), 2);
        CHECK_INT(q_count(out, "SELECT count(*) FROM runs WHERE run_key = '0000000000abc001' "
                          "AND status = 'diverged'", NULL), 1);
        CHECK_INT(q_count(out, "SELECT count(*) FROM runs WHERE run_key = '0000000000abc002' "
                          "AND status = 'done' AND test_accuracy = 0.7", NULL), 1);
        CHECK_INT(q_count(out, "SELECT count(*) FROM epochs", NULL), 2 + 1 + 2);
        store_close(out);
    }
}

/* Not done anywhere: reported by state; running comes in as interrupted. */
static void test_merge_reports_missing(void)
{
    const char *a = tmp_path("m-a.db"), *b = tmp_path("m-b.db"), *o = tmp_path("m-out.db");
    run_spec ra[] = {{0, RUN_DONE, 0.9}, {1, RUN_PENDING, 0}, {2, RUN_RUNNING, 0}};
    run_spec rb[] = {{3, RUN_FAILED, 0}, {4, RUN_INTERRUPTED, 0}, {5, RUN_DIVERGED, 0}};
    make_shard(a, "g", GRID_TEXT, ra, 3);
    make_shard(b, "g", GRID_TEXT, rb, 3);
    run_spec other[] = {{9, RUN_DONE, 0.5}};
    const char *c = tmp_path("m-c.db");
    make_shard(c, "h", "name: h\n", other, 1);
    store *out = open_out(o);
    if (!out)
        return;
    const char *in[] = {a, b, c};
    store_merge_report *rep = NULL;
    int n = 0;
    sw_error err = {0};
    CHECK_MSG(store_merge(out, in, 3, &rep, &n, &err) == SW_OK, "%s", err.msg);
    CHECK_INT(n, 2);
    for (int i = 0; i < n; i++) {
        if (strcmp(rep[i].name, "h") == 0) {
            CHECK_INT(rep[i].count[RUN_DONE], 1);
            CHECK_INT(rep[i].inputs, 1);
            continue;
        }
        CHECK_STR(rep[i].name, "g");
        CHECK_INT(rep[i].inputs, 2);
        CHECK_INT(rep[i].added, 6);
        CHECK_INT(rep[i].count[RUN_DONE], 1);
        CHECK_INT(rep[i].count[RUN_PENDING], 1);
        CHECK_INT(rep[i].count[RUN_RUNNING], 0);
        CHECK_INT(rep[i].count[RUN_INTERRUPTED], 2);
        CHECK_INT(rep[i].count[RUN_FAILED], 1);
        CHECK_INT(rep[i].count[RUN_DIVERGED], 1);
    }
    free(rep);
    CHECK_INT(q_count(out, "SELECT count(*) FROM runs WHERE run_key = '0000000000abc002' AND "
                      "status = 'interrupted' AND error LIKE 'was running in %'", NULL), 1);
    CHECK_INT(q_count(out, "SELECT count(*) FROM runs WHERE status = 'failed' AND "
                      "error = 'out of memory'", NULL), 1);
    store_close(out);
}

/* Two done copies that differ: the first stays, the difference is told. */
static void test_merge_done_copies_differ(void)
{
    const char *a = tmp_path("d-a.db"), *b = tmp_path("d-b.db"), *o = tmp_path("d-out.db");
    run_spec ra[] = {{0, RUN_DONE, 0.9}, {1, RUN_DONE, 0.8}};
    run_spec rb[] = {{0, RUN_DONE, 0.9}, {1, RUN_DONE, 0.85}};
    make_shard(a, "g", GRID_TEXT, ra, 2);
    make_shard(b, "g", GRID_TEXT, rb, 2);
    store *out = open_out(o);
    if (!out)
        return;
    store_merge_report *rep = NULL;
    int n = 0;
    sw_error err = {0};
    CHECK_MSG(merge(out, a, b, &rep, &n, &err) == SW_OK, "%s", err.msg);
    if (n == 1) {
        CHECK_INT(rep[0].added, 2);
        CHECK_INT(rep[0].kept, 2);
        CHECK_INT(rep[0].differ, 1);
        CHECK_STR(rep[0].differ_key, "0000000000abc001");
    }
    free(rep);
    CHECK_INT(q_count(out, "SELECT count(*) FROM runs WHERE test_accuracy = 0.8", NULL), 1);
    store_close(out);
}

/* Inputs store_open would refuse are refused the same way; nothing is
 * written, and an input cannot be the output. */
static void test_merge_bad_inputs(void)
{
    const char *a = tmp_path("x-a.db"), *o = tmp_path("x-out.db"), *txt = tmp_path("x.txt"),
               *newer = tmp_path("x-newer.db");
    run_spec ra[] = {{0, RUN_DONE, 0.9}};
    make_shard(a, "g", GRID_TEXT, ra, 1);
    write_text(txt, "this is not a database, but it is long enough to look like one if "
               "nobody checked its first sixteen bytes at all\n", 0644);
    make_shard(newer, "g", GRID_TEXT, ra, 1);
    /* user_version (header offset 60, big-endian) to the next version */
    FILE *f = fopen(newer, "r+b");
    CHECK(f != NULL);
    if (f) {
        fseek(f, 63, SEEK_SET);
        fputc(STORE_SCHEMA_VERSION + 1, f);
        fclose(f);
    }
    store *out = open_out(o);
    if (!out)
        return;
    const char *bad[] = {txt, newer, tmp_path("x-missing.db"), o};
    const char *want[] = {"not a sweep database", "newer", "no such database",
                          "output database itself"};
    for (int i = 0; i < 4; i++) {
        store_merge_report *rep = NULL;
        int n = 0;
        sw_error err = {0};
        CHECK_INT(merge(out, a, bad[i], &rep, &n, &err), SW_EINPUT);
        CHECK_MSG(strstr(err.msg, want[i]) != NULL, "%s", err.msg);
        CHECK_INT(q_count(out, "SELECT count(*) FROM runs", NULL), 0);
    }
    char *t = read_text(txt);
    CHECK(t && strncmp(t, "this is not a database", 22) == 0);
    free(t);
    store_close(out);
}

void suite_cluster(void)
{
    RUN_TEST(test_shard_of_is_key_mod_n);
    RUN_TEST(test_every_run_in_one_shard);
    RUN_TEST(test_adding_seeds_moves_nothing);
    RUN_TEST(test_env_array_min_step_count);
    RUN_TEST(test_env_procid_ntasks);
    RUN_TEST(test_env_bad_values);
    RUN_TEST(test_env_cpus_and_job);
    RUN_TEST(test_shard_db_names);
    RUN_TEST(test_script_lines);
    RUN_TEST(test_script_refusals);
    RUN_TEST(test_scripts_run);
    RUN_TEST(test_merge_union_and_again);
    RUN_TEST(test_merge_refuses_other_config);
    RUN_TEST(test_merge_keeps_the_best_state);
    RUN_TEST(test_merge_reports_missing);
    RUN_TEST(test_merge_done_copies_differ);
    RUN_TEST(test_merge_bad_inputs);
}
