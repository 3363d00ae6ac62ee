/* run_decide.h: `decide:` in `sweep run`: after each round of training,
 * the decision of every setting against its baseline is recomputed from
 * the recorded results (a pure function of them, so resuming after any
 * interruption decides as an unbroken run would), and the next seed is
 * added to both sides of each comparison still undecided below the
 * maximum. */
#ifndef SWEEP_CLI_RUN_DECIDE_H
#define SWEEP_CLI_RUN_DECIDE_H

#include <stdint.h>
#include <stdio.h>

#include "sweep/grid.h"
#include "sweep/store.h"
#include "sweep/stats.h"

typedef struct {
    int setting, base;        /* their seed-1 runs in the first expansion */
    int seeds;                /* seeds 1..seeds done on both sides */
    int look;                 /* the look that decided (seeds then), 0: none */
    stats_decision decision;
    double low, high;         /* that look's interval (or the last one's) */
    enum { DC_GOING, DC_DECIDED, DC_MAX, DC_BROKEN } state;
} decide_cmp;

typedef struct {
    const sweep_config *cfg;
    uint64_t identity;        /* the dataset's, for the run keys */
    stats_decide_rule rule;
    store_run_metric metric;
    run_settings *first;      /* the seed-1 runs of the first expansion */
    int n_first;
    decide_cmp *cmps;
    int n_cmps;
} decide_plan;

/* The comparisons of cfg (which has decide on), from its expansion runs. */
int decide_plan_make(decide_plan *p, const sweep_config *cfg, uint64_t identity,
                     const run_settings *runs, int n, sw_error *err);
void decide_plan_free(decide_plan *p);

/* Reads the results and decides each comparison; appends to *runs and *keys
 * (realloc'd, *n grows) the next seed of both sides of each comparison
 * still going. *added: how many runs were appended (0: all settled). */
int decide_step(decide_plan *p, store *db, long long sweep_id, run_settings **runs,
                char (**keys)[RUN_KEY_LEN + 1], int *n, int *added, sw_error *err);

/* One line per comparison: how many seeds it took, and why it stopped
 * (or that it is still going). */
void decide_log(const decide_plan *p, FILE *out);

#endif
