/* schedule.h: learning-rate schedules, applied per epoch: every batch of
 * epoch e (0-based) uses lr_at(s, base_lr, e, epochs). A pure function of
 * the epoch index, so a resumed run picks up the same rates with no state
 * to save. */
#ifndef SWEEP_SCHEDULE_H
#define SWEEP_SCHEDULE_H

typedef enum { SCHED_CONSTANT, SCHED_STEP, SCHED_COSINE } sched_kind;

typedef struct {
    sched_kind kind;
    int every;      /* step: epochs per decay, >= 1 */
    double gamma;   /* step: factor per decay, in (0, 1] */
} lr_schedule;

/* The rate of epoch `epoch` (0-based) of a run of `epochs` epochs:
 *   constant: base_lr
 *   step:     base_lr * gamma^floor(epoch / every)
 *             (torch.optim.lr_scheduler.StepLR(step_size=every, gamma))
 *   cosine:   base_lr * (1 + cos(pi * epoch / epochs)) / 2
 *             (CosineAnnealingLR(T_max=epochs, eta_min=0), stepped once
 *             per epoch; the last epoch's rate is small but not 0)
 * Epochs past the run go on by the same formula. */
double lr_at(const lr_schedule *s, double base_lr, int epoch, int epochs);

/* "constant" | "step" | "cosine" <-> kind; -1 if unknown. */
int sched_from_name(const char *name);
const char *sched_name(sched_kind kind);

#endif
