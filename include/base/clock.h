/* clock.h: a monotonic clock for durations and paces (never for dates). */
#ifndef SWEEP_CLOCK_H
#define SWEEP_CLOCK_H

/* Seconds since an arbitrary fixed point; only differences mean anything.
 * Never goes back, whatever happens to the wall clock. */
double sw_now_seconds(void);

#endif
