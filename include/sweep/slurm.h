/* slurm.h: what sweep needs to work under Slurm, which it drives but does
 * not replace: the shard and CPU count a process was given (read from
 * Slurm's environment), the names of shard databases, and the two sbatch
 * scripts of `sweep slurm`. Nothing here runs a Slurm command. */
#ifndef SWEEP_SLURM_H
#define SWEEP_SLURM_H

#include <stddef.h>
#include <stdio.h>

#include "base/error.h"

/* Most shards one sweep may be split into (as --shard allows). */
#define SLURM_MAX_SHARDS 100000

/* Reads one environment variable; NULL (or "") when unset. */
typedef const char *(*slurm_getenv_fn)(void *ctx, const char *name);

/* The process's shard as Slurm tells it. An array task is shard
 * (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP of
 * SLURM_ARRAY_TASK_COUNT (STEP defaults to 1); otherwise a task of an srun
 * step (SLURM_STEP_ID set) with SLURM_NTASKS > 1 is shard SLURM_PROCID of
 * SLURM_NTASKS. The batch script itself is not sharded by PROCID: Slurm
 * gives it PROCID 0 of NTASKS, which would run shard 0 only.
 * *shards = 0 when Slurm does not shard us; from names the variable used.
 * get NULL reads the real environment. A bad value is an error naming the
 * variable (SW_EINPUT). */
int slurm_shard_from_env(slurm_getenv_fn get, void *ctx, int *shard, int *shards,
                         const char **from, sw_error *err);

/* CPUs Slurm gave us: SLURM_CPUS_PER_TASK, else SLURM_CPUS_ON_NODE;
 * *cpus = 0 when neither is set. */
int slurm_cpus_from_env(slurm_getenv_fn get, void *ctx, int *cpus, const char **from,
                        sw_error *err);

/* The job id shared by all shards: SLURM_ARRAY_JOB_ID, else SLURM_JOB_ID,
 * else "local". Ids must be decimal numbers. */
int slurm_job_from_env(slurm_getenv_fn get, void *ctx, char *buf, size_t size,
                       sw_error *err);

/* name with every byte other than letters, digits, '.', '_' and '-' turned
 * into '_' ("sweep" if empty): safe in file and job names. */
void slurm_safe_name(const char *name, char *buf, size_t size);

/* "DIR/NAME-JOB-shardIofN.db", NAME made safe; DIR NULL or "" is ".". */
int slurm_shard_db(char *buf, size_t size, const char *dir, const char *name,
                   const char *job, int shard, int shards, sw_error *err);

/* What `sweep slurm` submits. Paths are absolute (the scripts run on other
 * nodes, in any folder). */
typedef struct {
    const char *name;          /* the sweep's name */
    const char *sweep_bin;     /* the sweep binary */
    const char *config;        /* the YAML grid */
    const char *db;            /* the merged database; shards go next to it */
    const char *log_dir;       /* the jobs' output files */
    int shards;                /* array tasks, one shard each */
    int max_parallel;          /* tasks at once, 0 for Slurm's limit */
    int cpus_per_task;
    const char *const *sbatch_args;   /* extra #SBATCH lines, verbatim */
    int n_sbatch_args;
} slurm_job;

/* Checks j: counts in range, no line breaks anywhere, sbatch args that
 * start with '-' and leave --array and --dependency to us. */
int slurm_job_check(const slurm_job *j, sw_error *err);

/* The array script: task I runs `sweep run CONFIG --shard I/N` into the
 * shard database DIR/NAME-JOB-shardIofN.db, JOB being $SWEEP_SHARD_JOB if
 * set (to resume an earlier array's shard), else $SLURM_ARRAY_JOB_ID.
 * Exit 1 of sweep run (runs failed or diverged, all recorded) becomes 0,
 * so the merge still runs and reports them. */
int slurm_array_script(const slurm_job *j, FILE *out, sw_error *err);

/* The merge script: `sweep merge DB` the N shard databases of the array
 * job given as its first argument. */
int slurm_merge_script(const slurm_job *j, FILE *out, sw_error *err);

#endif
