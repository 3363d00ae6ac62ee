/* slurm.c: Slurm's environment as sweep reads it, shard database names and
 * the sbatch scripts of `sweep slurm`. */
#include "sweep/slurm.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const char *env_get(slurm_getenv_fn get, void *ctx, const char *name)
{
    const char *v = get ? get(ctx, name) : getenv(name);
    return v && *v ? v : NULL;
}

/* Reads a decimal integer in [lo, hi]; *present = 0 when unset. Only
 * digits: Slurm writes nothing else, so anything else is a mistake. */
static int env_int(slurm_getenv_fn get, void *ctx, const char *name, long long lo,
                   long long hi, long long *out, int *present, sw_error *err)
{
    const char *v = env_get(get, ctx, name);
    *present = v != NULL;
    if (!v)
        return SW_OK;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (*v < '0' || *v > '9' || *end || errno || n < lo || n > hi)
        return sw_err(err, SW_EINPUT, "%s must be an integer from %lld to %lld, got '%.64s'",
                      name, lo, hi, v);
    *out = n;
    return SW_OK;
}

int slurm_shard_from_env(slurm_getenv_fn get, void *ctx, int *shard, int *shards,
                         const char **from, sw_error *err)
{
    *shard = 0;
    *shards = 0;
    *from = NULL;
    long long id = 0, min = 0, step = 1, count = 0, procid = 0, ntasks = 0, stepid = 0;
    int has_id, has_min, has_step, has_count;
    if (env_int(get, ctx, "SLURM_ARRAY_TASK_ID", 0, INT_MAX, &id, &has_id, err))
        return err->code;
    if (has_id) {
        if (env_int(get, ctx, "SLURM_ARRAY_TASK_MIN", 0, INT_MAX, &min, &has_min, err) ||
            env_int(get, ctx, "SLURM_ARRAY_TASK_STEP", 1, INT_MAX, &step, &has_step, err) ||
            env_int(get, ctx, "SLURM_ARRAY_TASK_COUNT", 1, SLURM_MAX_SHARDS, &count, &has_count,
                    err))
            return err->code;
        if (!has_min || !has_count)
            return sw_err(err, SW_EINPUT, "SLURM_ARRAY_TASK_ID is set but %s is not: cannot "
                          "tell the shard (give --shard I/N)",
                          has_min ? "SLURM_ARRAY_TASK_COUNT" : "SLURM_ARRAY_TASK_MIN");
        long long k = (id - min) / step;
        if (id < min || (id - min) % step != 0 || k >= count)
            return sw_err(err, SW_EINPUT, "SLURM_ARRAY_TASK_ID %lld is not SLURM_ARRAY_TASK_MIN "
                          "%lld + k * SLURM_ARRAY_TASK_STEP %lld with k < SLURM_ARRAY_TASK_COUNT "
                          "%lld: an array of uneven ids cannot be sharded by its environment "
                          "(give --shard I/N)", id, min, step, count);
        *shard = (int)k;
        *shards = (int)count;
        *from = "SLURM_ARRAY_TASK_ID";
        return SW_OK;
    }
    int has_proc, has_ntasks, has_step_id;
    if (env_int(get, ctx, "SLURM_STEP_ID", 0, LLONG_MAX, &stepid, &has_step_id, err))
        return err->code;
    /* Slurm's own steps (batch 0xfffffffb, extern, interactive) are not
     * srun tasks; old versions set these ids in the batch script. */
    if (!has_step_id || stepid >= 0xfffffff0LL)
        return SW_OK;
    if (env_int(get, ctx, "SLURM_NTASKS", 1, SLURM_MAX_SHARDS, &ntasks, &has_ntasks, err) ||
        env_int(get, ctx, "SLURM_PROCID", 0, INT_MAX, &procid, &has_proc, err))
        return err->code;
    if (!has_ntasks || ntasks < 2 || !has_proc)
        return SW_OK;
    if (procid >= ntasks)
        return sw_err(err, SW_EINPUT, "SLURM_PROCID %lld is not below SLURM_NTASKS %lld", procid,
                      ntasks);
    *shard = (int)procid;
    *shards = (int)ntasks;
    *from = "SLURM_PROCID";
    return SW_OK;
}

int slurm_cpus_from_env(slurm_getenv_fn get, void *ctx, int *cpus, const char **from,
                        sw_error *err)
{
    static const char *const names[] = {"SLURM_CPUS_PER_TASK", "SLURM_CPUS_ON_NODE"};
    *cpus = 0;
    *from = NULL;
    for (int i = 0; i < 2; i++) {
        long long n = 0;
        int present;
        if (env_int(get, ctx, names[i], 1, 1 << 20, &n, &present, err))
            return err->code;
        if (present) {
            *cpus = (int)n;
            *from = names[i];
            return SW_OK;
        }
    }
    return SW_OK;
}

int slurm_job_from_env(slurm_getenv_fn get, void *ctx, char *buf, size_t size, sw_error *err)
{
    static const char *const names[] = {"SLURM_ARRAY_JOB_ID", "SLURM_JOB_ID"};
    for (int i = 0; i < 2; i++) {
        const char *v = env_get(get, ctx, names[i]);
        if (!v)
            continue;
        size_t len = strspn(v, "0123456789");
        if (len == 0 || v[len] || len > 20)
            return sw_err(err, SW_EINPUT, "%s must be a job number, got '%.64s'", names[i], v);
        snprintf(buf, size, "%s", v);
        return SW_OK;
    }
    snprintf(buf, size, "local");
    return SW_OK;
}

void slurm_safe_name(const char *name, char *buf, size_t size)
{
    if (!size)
        return;
    size_t n = 0;
    for (const char *c = name ? name : ""; *c && n + 1 < size; c++) {
        int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                 (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-';
        buf[n++] = ok ? *c : '_';
    }
    buf[n] = '\0';
    if (!n)
        snprintf(buf, size, "sweep");
}

int slurm_shard_db(char *buf, size_t size, const char *dir, const char *name, const char *job,
                   int shard, int shards, sw_error *err)
{
    char safe[256];
    slurm_safe_name(name, safe, sizeof safe);
    int len = snprintf(buf, size, "%s/%s-%s-shard%dof%d.db", dir && *dir ? dir : ".", safe,
                       job, shard, shards);
    if (len < 0 || (size_t)len >= size)
        return sw_err(err, SW_EINPUT, "shard database path too long (in %.200s)", dir);
    return SW_OK;
}

/* ---- scripts ---- */

static int has_line_break(const char *s)
{
    return s && strpbrk(s, "\n\r") != NULL;
}

int slurm_job_check(const slurm_job *j, sw_error *err)
{
    const char *paths[] = {j->sweep_bin, j->config, j->db, j->log_dir};
    const char *what[] = {"sweep binary", "config", "database", "log folder"};
    for (int i = 0; i < 4; i++) {
        if (!paths[i] || paths[i][0] != '/')
            return sw_err(err, SW_EINPUT, "slurm script: the %s path must be absolute", what[i]);
        if (has_line_break(paths[i]))
            return sw_err(err, SW_EINPUT, "slurm script: the %s path has a line break", what[i]);
    }
    /* sbatch reads --output itself: quotes and backslashes would change it */
    if (strpbrk(j->log_dir, "\"\\"))
        return sw_err(err, SW_EINPUT, "slurm script: the log folder '%s' has a quote or a "
                      "backslash", j->log_dir);
    if (j->shards < 1 || j->shards > SLURM_MAX_SHARDS)
        return sw_err(err, SW_EINPUT, "--array must be 1..%d, got %d", SLURM_MAX_SHARDS,
                      j->shards);
    if (j->max_parallel < 0)
        return sw_err(err, SW_EINPUT, "--max-parallel must be positive, got %d",
                      j->max_parallel);
    if (j->cpus_per_task < 1 || j->cpus_per_task > 1 << 20)
        return sw_err(err, SW_EINPUT, "--cpus-per-task must be positive, got %d",
                      j->cpus_per_task);
    for (int i = 0; i < j->n_sbatch_args; i++) {
        const char *a = j->sbatch_args[i];
        if (!a || a[0] != '-' || has_line_break(a))
            return sw_err(err, SW_EINPUT, "--sbatch-arg '%s' must be one sbatch option, "
                          "starting with '-', on one line", a ? a : "");
        size_t len = strcspn(a, "= ");
        if ((len == 7 && strncmp(a, "--array", len) == 0) ||
            (len == 2 && strncmp(a, "-a", len) == 0) ||
            (len == 12 && strncmp(a, "--dependency", len) == 0) ||
            (len == 2 && strncmp(a, "-d", len) == 0))
            return sw_err(err, SW_EINPUT, "--sbatch-arg '%s': sweep slurm sets the array and "
                          "the dependency itself (see --array, --max-parallel)", a);
    }
    return SW_OK;
}

/* The first len bytes of s, single-quoted for bash: nothing inside is
 * expanded. */
static void sh_quote_n(FILE *f, const char *s, size_t len)
{
    fputc('\'', f);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\'')
            fputs("'\\''", f);
        else
            fputc(s[i], f);
    }
    fputc('\'', f);
}

static void sh_quote(FILE *f, const char *s)
{
    sh_quote_n(f, s, strlen(s));
}

/* --output for sbatch: '%' doubled (it starts Slurm's file patterns), the
 * whole in double quotes when it has blanks. */
static void sbatch_output(FILE *f, const char *dir, const char *file)
{
    int blank = strpbrk(dir, " \t") != NULL;
    fputs("#SBATCH --output=", f);
    if (blank)
        fputc('"', f);
    for (const char *c = dir; *c; c++) {
        if (*c == '%')
            fputc('%', f);
        fputc(*c, f);
    }
    fprintf(f, "/%s", file);
    if (blank)
        fputc('"', f);
    fputc('\n', f);
}

/* The variables both scripts start with. */
static void script_vars(const slurm_job *j, const char *safe, int with_config, FILE *f)
{
    /* the database's folder: up to its last slash, "/" at the root */
    const char *slash = strrchr(j->db, '/'), *d = "/";
    size_t dlen = 1;
    if (slash && slash != j->db) {
        d = j->db;
        dlen = (size_t)(slash - j->db);
    }
    fputs("set -u\nsweep=", f);
    sh_quote(f, j->sweep_bin);
    if (with_config) {
        fputs("\nconfig=", f);
        sh_quote(f, j->config);
    }
    fputs("\ndb=", f);
    sh_quote(f, j->db);
    fputs("\ndir=", f);
    sh_quote_n(f, d, dlen);
    fprintf(f, "   # the shard databases\nname=%s\nshards=%d\n", safe, j->shards);
}

static void sbatch_extra(const slurm_job *j, FILE *f)
{
    for (int i = 0; i < j->n_sbatch_args; i++)
        fprintf(f, "#SBATCH %s\n", j->sbatch_args[i]);
}

static int finish(FILE *f, sw_error *err)
{
    if (fflush(f) != 0 || ferror(f))
        return sw_err(err, SW_EINPUT, "cannot write the script: %s", strerror(errno));
    return SW_OK;
}

int slurm_array_script(const slurm_job *j, FILE *f, sw_error *err)
{
    if (slurm_job_check(j, err))
        return err->code;
    char safe[256], log[300];
    slurm_safe_name(j->name, safe, sizeof safe);
    fprintf(f, "#!/bin/bash\n#SBATCH --job-name=%s\n#SBATCH --array=0-%d", safe, j->shards - 1);
    if (j->max_parallel > 0)
        fprintf(f, "%%%d", j->max_parallel);
    fprintf(f, "\n#SBATCH --cpus-per-task=%d\n", j->cpus_per_task);
    snprintf(log, sizeof log, "%s-%%A_%%a.out", safe);
    sbatch_output(f, j->log_dir, log);
    sbatch_extra(j, f);
    fprintf(f,
            "#\n"
            "# Written by `sweep slurm`. Array task I trains shard I of %d of the sweep\n"
            "# '%s' into its own database (SQLite must not be written by many nodes\n"
            "# over NFS); the merge job then unites them. To rerun shard I of array\n"
            "# job J into its database (done runs are kept, the rest run again):\n"
            "#   sbatch --array=I --export=ALL,SWEEP_SHARD_JOB=J THIS_FILE\n",
            j->shards, safe);
    script_vars(j, safe, 1, f);
    fputs("job=${SWEEP_SHARD_JOB:-${SLURM_ARRAY_JOB_ID:?submit this script with sbatch}}\n"
          "shard=$SLURM_ARRAY_TASK_ID\n"
          "\"$sweep\" run \"$config\" --shard \"$shard/$shards\" "
          "--db \"$dir/$name-$job-shard${shard}of$shards.db\"\n"
          "rc=$?\n"
          "# 1: every run ran and is recorded, some failed or diverged; the merge\n"
          "# reports them, so it must still run.\n"
          "[ $rc -eq 1 ] && rc=0\n"
          "exit $rc\n",
          f);
    return finish(f, err);
}

int slurm_merge_script(const slurm_job *j, FILE *f, sw_error *err)
{
    if (slurm_job_check(j, err))
        return err->code;
    char safe[256], log[300];
    slurm_safe_name(j->name, safe, sizeof safe);
    fprintf(f, "#!/bin/bash\n#SBATCH --job-name=%s-merge\n#SBATCH --cpus-per-task=1\n", safe);
    snprintf(log, sizeof log, "%s-merge-%%j.out", safe);
    sbatch_output(f, j->log_dir, log);
    sbatch_extra(j, f);
    fprintf(f,
            "#\n"
            "# Written by `sweep slurm`. Unites the %d shard databases of the sweep '%s'\n"
            "# from array job ARRAY_JOB (the first argument) into the database below.\n"
            "# Submit it after the array:\n"
            "#   sbatch --dependency=afterok:ARRAY_JOB --kill-on-invalid-dep=yes THIS_FILE "
            "ARRAY_JOB\n",
            j->shards, safe);
    script_vars(j, safe, 0, f);
    fputs("job=${1:?usage: sbatch --dependency=afterok:ARRAY_JOB --kill-on-invalid-dep=yes "
          "THIS_FILE ARRAY_JOB}\n"
          "dbs=()\n"
          "for ((i = 0; i < shards; i++)); do\n"
          "    dbs+=(\"$dir/$name-$job-shard${i}of$shards.db\")\n"
          "done\n"
          "exec \"$sweep\" merge \"$db\" \"${dbs[@]}\"\n",
          f);
    return finish(f, err);
}
