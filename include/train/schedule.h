/* schedule.h: learning-rate schedules, applied per epoch: every batch of
 * epoch e (0-based) uses lr_at(s, base_lr, e, epochs). A pure function of
 * the epoch index, so a resumed run picks up the same rates with no state
 * to save. */
#ifndef SWEEP_SCHEDULE_H
#define SWEEP_SCHEDULE_H

#include <stddef.h>

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
/* Number of kinds: 0 .. sched_count() - 1. */
int sched_count(void);

/* The runs.lr_schedule text: "constant", "cosine",
 * "step:every=10,gamma=0.5" (gamma as %.15g, or %.17g where that is
 * needed to read back exactly). */
void sched_text(const lr_schedule *s, char *buf, size_t size);
/* The command-line form: "constant", "cosine", "step:EVERY:GAMMA"
 * ("step:10:0.5"). 0, or -1 when text is not one of them or a value is
 * out of range (every >= 1, gamma in (0, 1]). */
int sched_parse_flag(const char *text, lr_schedule *s);
/* Same kind and, for step, the same every and gamma. */
int sched_equal(const lr_schedule *a, const lr_schedule *b);

#endif
