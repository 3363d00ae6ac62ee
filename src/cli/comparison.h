/* comparison.h: a metric compared across the levels of one axis, as the
 * table of `sweep compare` holds it: per level n, mean, sd and 95% CI;
 * against the baseline the paired t-test when the two groups share all
 * their seeds (one run per seed), else Welch's; Holm over the table;
 * Hedges' g. Used by `sweep report`; written to be the one place compare
 * computes this too. */
#ifndef SWEEP_CLI_COMPARISON_H
#define SWEEP_CLI_COMPARISON_H

#include "report.h"
#include "report/report.h"

/* Fills *rows (malloc'd, *n of them) with one row per level of axis that
 * has runs with a value (rep_load's metric), in the grid's order. The
 * baseline is level base (an index into d->levels[axis]), or the first
 * such level when base < 0. Row levels point into d (valid while it is).
 * decision stays NULL. Returns SW_OK; SW_EINPUT when no run has a value. */
int comparison_rows(const rep_data *d, rep_axis axis, int base, report_compare_row **rows,
                    int *n, sw_error *err);

#endif
