/* status_decide.h: what `sweep status` says of a sweep with `decide:`:
 * the comparisons with the baseline still undecided, from the results
 * recorded so far. */
#ifndef SWEEP_CLI_STATUS_DECIDE_H
#define SWEEP_CLI_STATUS_DECIDE_H

#include <stdio.h>

#include "sweep/store.h"

/* Prints one line for the sweep when its stored config has decide: (none
 * otherwise). */
int status_undecided(store *db, const char *sweep, FILE *out, sw_error *err);

#endif
