/* progress.c: see progress.h. Callbacks come from worker threads; one
 * mutex serialises them. */
#include "progress.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"

static void format_duration(char *buf, size_t size, double s)
{
    if (!(s >= 0) || s > 1e7)
        snprintf(buf, size, "?");
    else if (s < 60)
        snprintf(buf, size, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, size, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, size, "%dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
}

/* Seconds left in a run, from this epoch's pace. */
static double run_eta(const train_progress *p)
{
    if (p->batch < 1 || p->batches < 1)
        return -1;
    double per_batch = p->epoch_seconds / p->batch;
    long left = (long)(p->batches - p->batch) + (long)(p->epochs - p->epoch) * p->batches;
    return per_batch * (double)left;
}

static void draw(progress *pr)
{
    char label[128], eta[32];
    if (pr->lines_drawn > 0)
        fprintf(pr->out, "\033[%dA", pr->lines_drawn);
    fprintf(pr->out, "\r\033[K%s: %d of %d runs finished%s\n", pr->sweep, pr->finished, pr->total,
            pr->failed ? " (some failed)" : "");
    int lines = 1;
    for (int s = 0; s < pr->slots; s++) {
        const progress_slot *sl = &pr->slot[s];
        fprintf(pr->out, "\r\033[K");
        if (sl->run >= 0) {
            grid_run_label(&pr->runs[sl->run], label, sizeof label);
            format_duration(eta, sizeof eta, run_eta(&sl->p));
            fprintf(pr->out, "  [%d] %-32s epoch %d/%d  batch %d/%d  loss %.4f  ETA %s", s + 1,
                    label, sl->p.epoch, sl->p.epochs, sl->p.batch, sl->p.batches, sl->p.loss,
                    eta);
        } else {
            fprintf(pr->out, "  [%d] idle", s + 1);
        }
        fputc('\n', pr->out);
        lines++;
    }
    pr->lines_drawn = lines;
    fflush(pr->out);
    pr->last_draw = sw_now_seconds();
}

static void on_start(void *ctx, int slot, int run)
{
    progress *pr = ctx;
    pthread_mutex_lock(&pr->lock);
    if (slot < pr->slots) {
        pr->slot[slot].run = run;
        memset(&pr->slot[slot].p, 0, sizeof pr->slot[slot].p);
        pr->slot[slot].p.epochs = pr->runs[run].epochs;
        pr->slot[slot].p.epoch = 1;
    }
    if (pr->tty)
        draw(pr);
    pthread_mutex_unlock(&pr->lock);
}

static void on_batch(void *ctx, int slot, int run, const train_progress *p)
{
    progress *pr = ctx;
    (void)run;
    pthread_mutex_lock(&pr->lock);
    if (slot < pr->slots)
        pr->slot[slot].p = *p;
    if (pr->tty && sw_now_seconds() - pr->last_draw > 0.2)
        draw(pr);
    pthread_mutex_unlock(&pr->lock);
}

static void on_epoch(void *ctx, int slot, int run, int epoch, const epoch_metrics *m)
{
    progress *pr = ctx;
    char label[128];
    (void)slot;
    if (pr->tty)
        return;
    grid_run_label(&pr->runs[run], label, sizeof label);
    pthread_mutex_lock(&pr->lock);
    fprintf(pr->out,
            "%s: %s: epoch %d/%d  loss %.4f  acc %.4f  val_loss %.4f  val_acc %.4f  %.1fs\n",
            pr->sweep, label, epoch, pr->runs[run].epochs, m->train_loss, m->train_accuracy,
            m->val_loss, m->val_accuracy, m->seconds);
    fflush(pr->out);
    pthread_mutex_unlock(&pr->lock);
}

static void on_finish(void *ctx, int slot, int run, run_status st, const train_result *res,
                      const char *error)
{
    progress *pr = ctx;
    char label[128];
    grid_run_label(&pr->runs[run], label, sizeof label);
    pthread_mutex_lock(&pr->lock);
    pr->finished++;
    pr->failed += st == RUN_FAILED || st == RUN_DIVERGED;
    if (slot < pr->slots)
        pr->slot[slot].run = -1;
    if (pr->tty && pr->lines_drawn > 0) {
        /* the finished line scrolls up above the live block */
        fprintf(pr->out, "\033[%dA\r\033[K", pr->lines_drawn);
        pr->lines_drawn = 0;
    }
    if (st == RUN_DONE)
        fprintf(pr->out, "%s: [%d/%d] %s: done, test_accuracy %.4f  test_loss %.4f\n", pr->sweep,
                pr->finished, pr->total, label, res->test_accuracy, res->test_loss);
    else
        fprintf(pr->out, "%s: [%d/%d] %s: %s%s%s\n", pr->sweep, pr->finished, pr->total, label,
                run_status_name(st), error ? ": " : "", error ? error : "");
    if (pr->tty)
        draw(pr);
    fflush(pr->out);
    pthread_mutex_unlock(&pr->lock);
}

static void on_notice(void *ctx, int slot, int run, const char *msg)
{
    progress *pr = ctx;
    char label[128];
    (void)slot;
    grid_run_label(&pr->runs[run], label, sizeof label);
    pthread_mutex_lock(&pr->lock);
    if (pr->tty && pr->lines_drawn > 0) {   /* the note scrolls up above the live block */
        fprintf(pr->out, "\033[%dA\r\033[K", pr->lines_drawn);
        pr->lines_drawn = 0;
    }
    fprintf(pr->out, "%s: %s: %s\n", pr->sweep, label, msg);
    if (pr->tty)
        draw(pr);
    fflush(pr->out);
    pthread_mutex_unlock(&pr->lock);
}

void progress_init(progress *pr, FILE *out, const char *sweep, const run_settings *runs,
                   int total, int jobs)
{
    memset(pr, 0, sizeof *pr);
    pthread_mutex_init(&pr->lock, NULL);
    pr->out = out;
    pr->tty = isatty(fileno(out)) && getenv("TERM") && strcmp(getenv("TERM"), "dumb") != 0;
    pr->sweep = sweep;
    pr->runs = runs;
    pr->total = total;
    pr->slots = jobs < PROGRESS_MAX_SLOTS ? jobs : PROGRESS_MAX_SLOTS;
    for (int s = 0; s < pr->slots; s++)
        pr->slot[s].run = -1;
}

void progress_attach(progress *pr, sched_options *o)
{
    o->ctx = pr;
    o->on_start = on_start;
    o->on_batch = on_batch;
    o->on_epoch = on_epoch;
    o->on_finish = on_finish;
    o->on_notice = on_notice;
}

void progress_end(progress *pr)
{
    pthread_mutex_lock(&pr->lock);
    if (pr->tty && pr->lines_drawn > 0) {
        /* leave the finished-runs log, drop the live block */
        fprintf(pr->out, "\033[%dA", pr->lines_drawn);
        for (int i = 0; i < pr->lines_drawn; i++)
            fprintf(pr->out, "\r\033[K\n");
        fprintf(pr->out, "\033[%dA", pr->lines_drawn);
        fflush(pr->out);
    }
    pthread_mutex_unlock(&pr->lock);
    pthread_mutex_destroy(&pr->lock);
}
