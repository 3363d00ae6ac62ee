/* progress.c: see progress.h. Callbacks come from worker threads; one
 * mutex serialises them. */
#include "progress.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/clock.h"

#define LINE_MAX_CHARS 512

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

/* The terminal's columns, read at each draw (it may be resized); 80 when
 * the terminal does not say. */
static int term_width(FILE *out)
{
    struct winsize ws;
    if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

/* A line of the live block, cut to width - 1 columns: a line that filled
 * the last column would wrap on some terminals, and a wrapped line breaks
 * the count of lines to go back up. */
static void put_cut(progress *pr, int width, const char *fmt, ...)
{
    char line[LINE_MAX_CHARS];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    int room = width > 1 ? width - 1 : 1;
    if ((int)strlen(line) > room)
        line[room] = '\0';
    fprintf(pr->out, "\r%s\033[K\n", line);
}

/* Seconds per epoch: the mean of the epochs finished here, else the pace
 * of those in progress; < 0 while nothing is known. */
static double epoch_pace(const progress *pr)
{
    if (pr->epochs_seen > 0)
        return pr->epoch_seconds / pr->epochs_seen;
    double sum = 0;
    int n = 0;
    for (int s = 0; s < pr->slots; s++) {
        const train_progress *p = &pr->slot[s].p;
        if (pr->slot[s].run >= 0 && p->batch > 0 && p->batches > 0) {
            sum += p->epoch_seconds / p->batch * p->batches;
            n++;
        }
    }
    return n ? sum / n : -1;
}

/* Epochs left in a slot's run, the current one in part: its batches are
 * the share of an epoch that the finished ones spent training (the rest
 * validating). */
static double slot_epochs_left(const progress *pr, const progress_slot *sl)
{
    const train_progress *p = &sl->p;
    double share = pr->epochs_seen > 0 ? pr->train_share / pr->epochs_seen : 1;
    double part = p->batches > 0 ? share * p->batch / p->batches : 0;
    double left = (double)(p->epochs - p->epoch) + 1 - part;
    return left > 0 ? left : 0;
}

/* The sweep's seconds left: its epochs left at the pace so far, shared by
 * the jobs that have a run to do. */
static double sweep_eta(const progress *pr)
{
    double pace = epoch_pace(pr), left = (double)pr->epochs_waiting;
    int busy = 0;
    for (int s = 0; s < pr->slots; s++) {
        if (pr->slot[s].run >= 0) {
            left += slot_epochs_left(pr, &pr->slot[s]);
            busy++;
        }
    }
    int waiting_runs = pr->total - pr->finished - busy, jobs = busy + waiting_runs;
    if (jobs > pr->slots)
        jobs = pr->slots;
    if (pace < 0 || jobs < 1)
        return -1;
    return left * pace / jobs;
}

/* Seconds left in one run: at the pace of the epochs finished so far
 * (validation included), else of this epoch's batches. */
static double run_eta(const progress *pr, const progress_slot *sl)
{
    const train_progress *p = &sl->p;
    if (pr->epochs_seen > 0)
        return slot_epochs_left(pr, sl) * pr->epoch_seconds / pr->epochs_seen;
    if (p->batch < 1 || p->batches < 1)
        return -1;
    return p->epoch_seconds / p->batch * (slot_epochs_left(pr, sl) * p->batches);
}

/* Moves back to the top of the live block and clears it. */
static void clear_block(progress *pr)
{
    if (pr->lines_drawn > 0)
        fprintf(pr->out, "\033[%dA\r\033[J", pr->lines_drawn);
    pr->lines_drawn = 0;
}

static void draw(progress *pr)
{
    char label[128], eta[32];
    int width = term_width(pr->out);
    clear_block(pr);
    format_duration(eta, sizeof eta, sweep_eta(pr));
    put_cut(pr, width, "%s: %d of %d runs finished%s, ETA %s", pr->sweep, pr->finished,
            pr->total, pr->failed ? " (some failed)" : "", eta);
    int lines = 1;
    for (int s = 0; s < pr->slots; s++, lines++) {
        const progress_slot *sl = &pr->slot[s];
        if (sl->run < 0) {
            put_cut(pr, width, "  [%d] idle", s + 1);
            continue;
        }
        grid_run_label(&pr->runs[sl->run], label, sizeof label);
        if (sl->p.batches < 1) {   /* before its first batch: nothing to count yet */
            put_cut(pr, width, "  [%d] epoch %d/%d  starting  %s", s + 1, sl->p.epoch,
                    sl->p.epochs, label);
            continue;
        }
        format_duration(eta, sizeof eta, run_eta(pr, sl));
        if (sl->p.epoch > sl->p.epochs)
            put_cut(pr, width, "  [%d] testing  %s", s + 1, label);
        else if (sl->p.batch >= sl->p.batches)   /* the batches are done: validating */
            put_cut(pr, width, "  [%d] epoch %d/%d  validating  loss %.4f  ETA %s  %s", s + 1,
                    sl->p.epoch, sl->p.epochs, sl->p.loss, eta, label);
        else
            put_cut(pr, width, "  [%d] epoch %d/%d  batch %d/%d  loss %.4f  ETA %s  %s", s + 1,
                    sl->p.epoch, sl->p.epochs, sl->p.batch, sl->p.batches, sl->p.loss, eta,
                    label);
    }
    pr->lines_drawn = lines;
    fflush(pr->out);
    pr->last_draw = sw_now_seconds();
}

static void on_start(void *ctx, int slot, int run)
{
    progress *pr = ctx;
    pthread_mutex_lock(&pr->lock);
    pr->epochs_waiting -= pr->runs[run].epochs;
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

/* A finished epoch: one line that stays (above the live block on a
 * terminal, where the sweep's name is in the block's first line). */
static void on_epoch(void *ctx, int slot, int run, int epoch, const epoch_metrics *m)
{
    progress *pr = ctx;
    char label[128];
    grid_run_label(&pr->runs[run], label, sizeof label);
    pthread_mutex_lock(&pr->lock);
    pr->epoch_seconds += m->seconds;
    pr->epochs_seen++;
    /* the slot still holds the epoch's last batch: its training time */
    const train_progress *last = slot < pr->slots ? &pr->slot[slot].p : NULL;
    double share = last && m->seconds > 0 ? last->epoch_seconds / m->seconds : 1;
    pr->train_share += share > 0 && share <= 1 ? share : 1;
    if (pr->tty) {   /* the metrics first: a narrow terminal cuts the label */
        clear_block(pr);
        put_cut(pr, term_width(pr->out), "[%d] epoch %d/%d  loss %.4f  acc %.4f  val_loss %.4f  "
                "val_acc %.4f  %.1fs  %s", slot + 1, epoch, pr->runs[run].epochs,
                m->train_loss, m->train_accuracy, m->val_loss, m->val_accuracy, m->seconds, label);
        if (last) {   /* until the next batch: the next epoch, or the test */
            progress_slot *sl = &pr->slot[slot];
            sl->p.epoch = epoch + 1;
            sl->p.batch = 0;
            sl->p.epoch_seconds = 0;
        }
        draw(pr);
    } else {
        fprintf(pr->out,
                "%s: %s: epoch %d/%d  loss %.4f  acc %.4f  val_loss %.4f  val_acc %.4f  %.1fs\n",
                pr->sweep, label, epoch, pr->runs[run].epochs, m->train_loss,
                m->train_accuracy, m->val_loss, m->val_accuracy, m->seconds);
    }
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
    if (pr->tty)
        clear_block(pr);   /* the finished line goes above the live block */
    if (st == RUN_DONE && pr->tty)   /* the scores first: a narrow terminal cuts the label */
        put_cut(pr, term_width(pr->out), "[%d/%d] done  test_accuracy %.4f  test_loss %.4f  %s",
                pr->finished, pr->total, res->test_accuracy, res->test_loss, label);
    else if (st == RUN_DONE)
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
                   const unsigned char *todo, int n, int jobs)
{
    memset(pr, 0, sizeof *pr);
    pthread_mutex_init(&pr->lock, NULL);
    pr->out = out;
    pr->tty = isatty(fileno(out)) && getenv("TERM") && strcmp(getenv("TERM"), "dumb") != 0;
    pr->sweep = sweep;
    pr->runs = runs;
    for (int i = 0; i < n; i++) {
        if (todo[i]) {
            pr->total++;
            pr->epochs_waiting += runs[i].epochs;
        }
    }
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
    if (pr->tty) {
        clear_block(pr);   /* leave the log of epochs and runs */
        fflush(pr->out);
    }
    pthread_mutex_unlock(&pr->lock);
    pthread_mutex_destroy(&pr->lock);
}
