/* html.c: the page of `sweep report` (report.h). One pass of fprintf over
 * the structs; charts come from svg.c. Nothing here reads a clock, the
 * environment or a file, so the page is a pure function of its input. */
#include "report/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/fsutil.h"
#include "report/svg.h"

#define esc svg_escape

static const char STYLE[] =
    ":root{color-scheme:light}\n"
    "body{font-family:\"DejaVu Sans\",\"Liberation Sans\",Arial,Helvetica,sans-serif;"
    "font-size:15px;line-height:1.45;color:#222;background:#fff;margin:0}\n"
    "header,main{max-width:1120px;margin:0 auto;padding:0 24px}\n"
    "h1{font-size:1.7em;margin:.8em 0 .2em}\n"
    "h2{font-size:1.3em;border-bottom:2px solid #ccc;padding-bottom:.2em;margin:1.8em 0 .6em}\n"
    "h3{font-size:1.08em;margin:1.2em 0 .4em}\n"
    ".sub{color:#555;margin:0}\n"
    "nav ol{display:flex;flex-wrap:wrap;gap:.2em 1.4em;padding:0;margin:.6em 0;list-style:none}\n"
    "nav a{color:#0a5a9c}\n"
    "dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1.2em;margin:.5em 0}\n"
    "dl.facts dt{font-weight:bold}dl.facts dd{margin:0}\n"
    "pre{background:#f6f6f6;border:1px solid #ddd;padding:.6em .8em;font-size:13px;"
    "white-space:pre-wrap;overflow-wrap:anywhere}\n"
    ".scroll{overflow-x:auto}\n"
    "table{border-collapse:collapse;font-size:13px;margin:.4em 0 .8em}\n"
    "th,td{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top;"
    "white-space:nowrap}\n"
    "th{background:#f0f0f0;border-bottom:2px solid #bbb}\n"
    ".num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    "tr.base td{background:#f7f7f7}tr.bad td{background:#fdeceb}\n"
    "td.err{font-family:\"DejaVu Sans Mono\",monospace;font-size:12px;min-width:16em;"
    "white-space:normal;overflow-wrap:anywhere}\n"
    ".d-better{color:#006d2c;font-weight:bold}.d-worse{color:#b30000;font-weight:bold}\n"
    ".d-equivalent{color:#0a5a9c;font-weight:bold}\n"
    "ul.sentences li{margin:.25em 0}\n"
    ".charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,460px));"
    "gap:14px 28px}\n"
    "figure{margin:0 0 14px;break-inside:avoid}\n"
    "svg.chart{display:block;width:100%;height:auto}\n"
    ".wide{max-width:640px}.multiples{max-width:960px}\n"
    ".none{color:#777;font-style:italic}\n"
    "@media print{@page{margin:14mm}body{font-size:10pt}nav{display:none}"
    "header,main{max-width:none;padding:0}h2{break-after:avoid}"
    ".charts{grid-template-columns:1fr 1fr;gap:8px 16px}.scroll{overflow:visible}"
    "table{font-size:7.5pt}th,td,.num{white-space:normal;padding:2px 4px}tr{break-inside:avoid}"
    ".wide{max-width:75%}"
    "a{color:inherit;text-decoration:none}pre{font-size:8.5pt}}\n";

static const struct {
    const char *id, *title;
} SECTIONS[] = {
    {"question", "The question"},
    {"comparison", "The comparison"},
    {"curves", "Learning curves"},
    {"layers", "Layer statistics"},
    {"runs", "Every run"},
};
#define N_SECTIONS (int)(sizeof SECTIONS / sizeof SECTIONS[0])

/* ==== Small writers ======================================================== */

/* A number in a fixed format, or "-" for NAN and infinities. */
static void put_num(FILE *f, const char *fmt, double v)
{
    if (isfinite(v))
        fprintf(f, fmt, v);
    else
        fputs("-", f);
}

static void td_num(FILE *f, const char *fmt, double v)
{
    fputs("<td class=\"num\">", f);
    put_num(f, fmt, v);
    fputs("</td>", f);
}

static void td_text(FILE *f, const char *s)
{
    fputs("<td>", f);
    if (s && *s)
        esc(f, s);
    else
        fputs("-", f);
    fputs("</td>", f);
}

static void td_interval(FILE *f, double lo, double hi, const char *fmt)
{
    fputs("<td class=\"num\">", f);
    if (isfinite(lo) && isfinite(hi)) {
        fputc('[', f);
        fprintf(f, fmt, lo);
        fputs(", ", f);
        fprintf(f, fmt, hi);
        fputc(']', f);
    } else {
        fputs("-", f);
    }
    fputs("</td>", f);
}

static void section_open(FILE *f, int i)
{
    fprintf(f, "<section id=\"%s\">\n<h2>%s</h2>\n", SECTIONS[i].id, SECTIONS[i].title);
}

void report_duration(char *buf, size_t size, double s)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, size, "-");
    else if (s < 60)
        snprintf(buf, size, "%.1f s", s);
    else if (s < 3600)
        snprintf(buf, size, "%d min %02d s", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(buf, size, "%.0f h %02d min", floor(s / 3600), (int)fmod(s / 60, 60));
}

/* ==== Head, the question ===================================================== */

static void put_head(FILE *f, const report_page *p)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<title>sweep report: ", f);
    esc(f, p->sweep);
    fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<header>\n<h1>Sweep ", STYLE);
    esc(f, p->sweep);
    fputs("</h1>\n", f);
    if (p->generated) {
        fputs("<p class=\"sub\">", f);
        esc(f, p->generated);
        fputs("</p>\n", f);
    }
    fputs("<nav aria-label=\"Contents\"><ol>\n", f);
    for (int i = 0; i < N_SECTIONS; i++)
        fprintf(f, "<li><a href=\"#%s\">%s</a></li>\n", SECTIONS[i].id, SECTIONS[i].title);
    fputs("</ol></nav>\n</header>\n<main>\n", f);
}

static void put_question(FILE *f, const report_page *p)
{
    char dur[64];
    section_open(f, 0);
    fputs("<dl class=\"facts\">\n<dt>Sweep</dt><dd>", f);
    esc(f, p->sweep);
    fprintf(f, "</dd>\n<dt>Grid</dt><dd>%d run%s</dd>\n<dt>Status</dt><dd>", p->grid_size,
            p->grid_size == 1 ? "" : "s");
    for (int i = 0; i < p->n_status; i++) {
        fprintf(f, "%s%d ", i ? ", " : "", p->status[i].count);
        esc(f, p->status[i].name);
    }
    if (p->n_status == 0)
        fputs("-", f);
    fputs("</dd>\n<dt>Dataset</dt><dd>", f);
    esc(f, p->dataset ? p->dataset : "-");
    fputs("</dd>\n<dt>Machine</dt><dd>", f);
    esc(f, p->machine ? p->machine : "-");
    report_duration(dur, sizeof dur, p->seconds);
    fprintf(f, "</dd>\n<dt>Time spent</dt><dd>%s</dd>\n</dl>\n", dur);
    if (p->config) {
        fputs("<h3>Configuration</h3>\n<pre>", f);
        esc(f, p->config);
        fputs("</pre>\n", f);
    }
    fputs("</section>\n", f);
}

/* ==== The comparison ========================================================== */

static void compare_row(FILE *f, const report_comparison *c, const report_compare_row *r)
{
    fprintf(f, "<tr%s>", r->is_baseline ? " class=\"base\"" : "");
    td_text(f, c->metric);
    fputs("<td>", f);
    esc(f, r->level);
    fputs(r->is_baseline ? " <em>(baseline)</em></td>" : "</td>", f);
    fprintf(f, "<td class=\"num\">%d</td>", r->s.n);
    td_num(f, "%.4f", r->s.mean);
    td_num(f, "%.4f", r->s.sd);
    td_interval(f, r->s.ci_low, r->s.ci_high, "%.4f");
    if (r->is_baseline) {
        fputs("<td class=\"num\">-</td><td>-</td><td class=\"num\">-</td><td class=\"num\">-</td>"
              "<td class=\"num\">-</td><td class=\"num\">-</td><td>-</td></tr>\n", f);
        return;
    }
    td_num(f, "%+.4f", r->c.diff);
    td_text(f, stats_test_name(r->c.test));
    td_num(f, "%.3g", r->c.p);
    td_num(f, "%.3g", r->c.p_holm);
    td_interval(f, r->c.ci_low, r->c.ci_high, "%+.4f");
    td_num(f, "%+.2f", r->c.g);
    if (r->decision && *r->decision) {
        fputs("<td class=\"d-", f);
        esc(f, r->decision);
        fputs("\">", f);
        esc(f, r->decision);
        fputs("</td></tr>\n", f);
    } else {
        fputs("<td>-</td></tr>\n", f);
    }
}

/* The sentences of stats_sentence, one per non-baseline row. */
static int compare_sentences(FILE *f, const report_comparison *c)
{
    char small[512];
    fputs("<ul class=\"sentences\">\n", f);
    for (int i = 0; i < c->n_rows; i++) {
        const report_compare_row *r = &c->rows[i];
        if (r->is_baseline)
            continue;
        size_t need = stats_sentence(small, sizeof small, r->level, c->baseline, &r->c, c->units);
        char *s = small;
        if (need >= sizeof small) {
            if (!(s = malloc(need + 1)))
                return -1;
            stats_sentence(s, need + 1, r->level, c->baseline, &r->c, c->units);
        }
        fputs("<li>", f);
        esc(f, s);
        fputs("</li>\n", f);
        if (s != small)
            free(s);
    }
    fputs("</ul>\n", f);
    return 0;
}

/* Mean and 95% CI per level, the baseline's mean as the reference line. */
static int compare_chart(FILE *f, const report_comparison *c)
{
    int n = c->n_rows;
    const char **labels = calloc((size_t)n + 1, sizeof *labels);
    double *v = calloc(3 * (size_t)n + 1, sizeof *v);
    if (!labels || !v) {
        free(labels);
        free(v);
        return -1;
    }
    double ref = NAN;
    for (int i = 0; i < n; i++) {
        labels[i] = c->rows[i].level;
        v[i] = c->rows[i].s.mean;
        v[n + i] = c->rows[i].s.ci_low;
        v[2 * n + i] = c->rows[i].s.ci_high;
        if (c->rows[i].is_baseline)
            ref = c->rows[i].s.mean;
    }
    char title[300], ref_label[300];
    snprintf(title, sizeof title, "%s by %s", c->metric ? c->metric : "", c->axis ? c->axis : "");
    snprintf(ref_label, sizeof ref_label, "baseline %s", c->baseline ? c->baseline : "");
    svg_intervals ch = {.title = title, .x_label = c->metric, .note = "point: mean; bar: 95% CI "
                        "of the mean (Student t)", .n = n, .labels = labels, .mean = v,
                        .lo = v + n, .hi = v + 2 * n, .ref = ref,
                        .ref_label = isfinite(ref) ? ref_label : NULL, .width = 520};
    fputs("<figure class=\"wide\">\n", f);
    svg_interval_chart(f, &ch);
    fputs("</figure>\n", f);
    free(labels);
    free(v);
    return 0;
}

static int put_comparison(FILE *f, const report_page *p)
{
    static const char *const head[] = {"metric", "level", "n", "mean", "sd", "ci95", "diff",
                                       "test", "p", "p_holm", "diff CI", "effect size (g)",
                                       "decision"};
    section_open(f, 1);
    if (p->n_comparisons == 0)
        fputs("<p class=\"none\">No comparison: the sweep varies no axis, or no run is done."
              "</p>\n", f);
    for (int k = 0; k < p->n_comparisons; k++) {
        const report_comparison *c = &p->comparisons[k];
        fputs("<h3>", f);
        esc(f, c->metric);
        fputs(" by ", f);
        esc(f, c->axis);
        fputs(", against ", f);
        esc(f, c->baseline);
        fputs("</h3>\n<div class=\"scroll\"><table>\n<thead><tr>", f);
        for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
            fprintf(f, "<th%s>%s</th>", i <= 1 || i == 7 || i == 12 ? "" : " class=\"num\"",
                    head[i]);
        fputs("</tr></thead>\n<tbody>\n", f);
        for (int i = 0; i < c->n_rows; i++)
            compare_row(f, c, &c->rows[i]);
        fputs("</tbody>\n</table></div>\n", f);
        if (compare_sentences(f, c) != 0 || compare_chart(f, c) != 0)
            return -1;
    }
    fputs("</section>\n", f);
    return 0;
}

/* ==== Curves ==================================================================== */

static svg_series curve_series(const char *name, const report_curve *c)
{
    svg_series s = {.name = name, .n = c->n, .y = c->mean, .lo = c->lo, .hi = c->hi};
    return s;
}

/* One chart per curve kind, a line per group (few groups). */
static int curves_lines(FILE *f, const report_page *p)
{
    static const char *const titles[REPORT_N_CURVES] = {"Training loss", "Validation loss",
                                                        "Training accuracy",
                                                        "Validation accuracy"};
    svg_series *s = calloc((size_t)p->n_groups, sizeof *s);
    if (!s)
        return -1;
    fputs("<div class=\"charts\">\n", f);
    for (int k = 0; k < REPORT_N_CURVES; k++) {
        for (int g = 0; g < p->n_groups; g++)
            s[g] = curve_series(p->groups[g].name, &p->groups[g].curve[k]);
        svg_chart c = {.title = titles[k], .x_label = "epoch",
                       .y_label = k < REPORT_VAL_LOSS + 1 ? "loss" : "accuracy",
                       .note = p->band_note, .n_series = p->n_groups, .series = s,
                       .y_min = NAN, .y_max = NAN};
        fputs("<figure>\n", f);
        svg_line_chart(f, &c);
        fputs("</figure>\n", f);
    }
    fputs("</div>\n", f);
    free(s);
    return 0;
}

/* Many groups: a panel per group with its training and validation line,
 * once for the loss and once for the accuracy, on shared axes. */
static int curves_multiples(FILE *f, const report_page *p)
{
    int n = p->n_groups;
    svg_series *s = calloc(2 * (size_t)n, sizeof *s);
    svg_chart *panels = calloc((size_t)n, sizeof *panels);
    if (!s || !panels) {
        free(s);
        free(panels);
        return -1;
    }
    for (int m = 0; m < 2; m++) {
        int train = m == 0 ? REPORT_TRAIN_LOSS : REPORT_TRAIN_ACC;
        for (int g = 0; g < n; g++) {
            s[2 * g] = curve_series("training", &p->groups[g].curve[train]);
            s[2 * g + 1] = curve_series("validation", &p->groups[g].curve[train + 1]);
            panels[g] = (svg_chart){.title = p->groups[g].name, .n_series = 2, .series = s + 2 * g};
        }
        svg_multiples mm = {.title = m == 0 ? "Loss per group" : "Accuracy per group",
                            .x_label = "epoch", .y_label = m == 0 ? "loss" : "accuracy",
                            .note = p->band_note, .n_panels = n, .panels = panels, .cols = 3,
                            .y_min = NAN, .y_max = NAN};
        fputs("<figure class=\"multiples\">\n", f);
        svg_small_multiples(f, &mm);
        fputs("</figure>\n", f);
    }
    free(s);
    free(panels);
    return 0;
}

static int put_curves(FILE *f, const report_page *p)
{
    section_open(f, 2);
    int rc = 0;
    if (p->n_groups == 0)
        fputs("<p class=\"none\">No epochs recorded yet.</p>\n", f);
    else
        rc = p->n_groups <= REPORT_MAX_LINES ? curves_lines(f, p) : curves_multiples(f, p);
    fputs("</section>\n", f);
    return rc;
}

/* ==== Layer statistics ============================================================ */

/* Few groups: per layer, a chart of each statistic with a line per group. */
static int layers_lines(FILE *f, const report_page *p)
{
    svg_series *s = calloc((size_t)p->n_groups, sizeof *s);
    if (!s)
        return -1;
    fputs("<div class=\"charts\">\n", f);
    for (int l = 0; l < p->n_layers; l++) {
        const report_layer *L = &p->layers[l];
        for (int k = 0; k < 2; k++) {
            const report_curve *cv = k == 0 ? L->mean_activation : L->dead_fraction;
            for (int g = 0; g < p->n_groups; g++)
                s[g] = curve_series(p->groups[g].name, &cv[g]);
            char title[128];
            snprintf(title, sizeof title, "%s: %s", L->name ? L->name : "",
                     k == 0 ? "mean activation" : "dead fraction");
            svg_chart c = {.title = title, .x_label = "epoch",
                           .y_label = k == 0 ? "mean activation" : "dead fraction",
                           .note = p->band_note, .n_series = p->n_groups, .series = s,
                           .y_min = k == 0 ? NAN : 0, .y_max = NAN};
            fputs("<figure>\n", f);
            svg_line_chart(f, &c);
            fputs("</figure>\n", f);
        }
    }
    fputs("</div>\n", f);
    free(s);
    return 0;
}

/* Many groups: per statistic, a panel per group with a line per layer. */
static int layers_multiples(FILE *f, const report_page *p)
{
    int n = p->n_groups, nl = p->n_layers;
    svg_series *s = calloc((size_t)n * (size_t)nl, sizeof *s);
    svg_chart *panels = calloc((size_t)n, sizeof *panels);
    if (!s || !panels) {
        free(s);
        free(panels);
        return -1;
    }
    for (int k = 0; k < 2; k++) {
        for (int g = 0; g < n; g++) {
            for (int l = 0; l < nl; l++) {
                const report_layer *L = &p->layers[l];
                s[g * nl + l] = curve_series(L->name, k == 0 ? &L->mean_activation[g]
                                                             : &L->dead_fraction[g]);
            }
            panels[g] = (svg_chart){.title = p->groups[g].name, .n_series = nl,
                                    .series = s + g * nl};
        }
        svg_multiples mm = {.title = k == 0 ? "Mean activation per group, a line per layer"
                                            : "Dead fraction per group, a line per layer",
                            .x_label = "epoch",
                            .y_label = k == 0 ? "mean activation" : "dead fraction",
                            .note = p->band_note, .n_panels = n, .panels = panels, .cols = 3,
                            .y_min = k == 0 ? NAN : 0, .y_max = NAN};
        fputs("<figure class=\"multiples\">\n", f);
        svg_small_multiples(f, &mm);
        fputs("</figure>\n", f);
    }
    free(s);
    free(panels);
    return 0;
}

static int put_layers(FILE *f, const report_page *p)
{
    section_open(f, 3);
    int rc = 0;
    if (p->n_layers == 0 || p->n_groups == 0)
        fputs("<p class=\"none\">No layer statistics recorded.</p>\n", f);
    else
        rc = p->n_groups <= REPORT_MAX_LINES ? layers_lines(f, p) : layers_multiples(f, p);
    fputs("</section>\n", f);
    return rc;
}

/* ==== Every run ===================================================================== */

static void put_runs(FILE *f, const report_page *p)
{
    section_open(f, 4);
    if (p->n_runs == 0) {
        fputs("<p class=\"none\">No runs.</p>\n</section>\n", f);
        return;
    }
    fputs("<div class=\"scroll\"><table>\n<thead><tr><th class=\"num\">run</th>", f);
    for (int a = 0; a < p->n_axes; a++) {
        fputs("<th>", f);
        esc(f, p->axes[a]);
        fputs("</th>", f);
    }
    fputs("<th>status</th><th class=\"num\">best epoch</th><th class=\"num\">stopped epoch</th>"
          "<th class=\"num\">test loss</th><th class=\"num\">test accuracy</th>"
          "<th class=\"num\">seconds</th><th>error</th></tr></thead>\n<tbody>\n", f);
    for (int i = 0; i < p->n_runs; i++) {
        const report_run *r = &p->runs[i];
        int bad = r->status && (strcmp(r->status, "failed") == 0 ||
                                strcmp(r->status, "diverged") == 0);
        fprintf(f, "<tr%s><td class=\"num\">%lld</td>", bad ? " class=\"bad\"" : "", r->id);
        for (int a = 0; a < p->n_axes; a++)
            td_text(f, r->values ? r->values[a] : NULL);
        td_text(f, r->status);
        td_num(f, "%.0f", r->best_epoch > 0 ? r->best_epoch : NAN);
        td_num(f, "%.0f", r->stopped_epoch > 0 ? r->stopped_epoch : NAN);
        td_num(f, "%.4f", r->test_loss);
        td_num(f, "%.4f", r->test_accuracy);
        td_num(f, "%.1f", r->seconds);
        fputs("<td class=\"err\">", f);
        esc(f, r->error ? r->error : "");
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody>\n</table></div>\n</section>\n", f);
}

/* ==== The page ========================================================================= */

int report_html(FILE *f, const report_page *p)
{
    put_head(f, p);
    put_question(f, p);
    if (put_comparison(f, p) != 0 || put_curves(f, p) != 0 || put_layers(f, p) != 0)
        return -1;
    put_runs(f, p);
    fputs("</main>\n</body>\n</html>\n", f);
    return ferror(f) ? -1 : 0;
}

int report_save(const report_page *p, const char *path, sw_error *err)
{
    sw_outfile o;
    if (sw_out_open(&o, path, 0666, 0, err) != SW_OK)
        return err->code;
    if (report_html(o.f, p) != 0) {
        int full = ferror(o.f);
        sw_out_abort(&o);
        if (!full)
            return sw_oom(err, "writing the report");
        return sw_err(err, SW_EINPUT, "%s: cannot write the report", path);
    }
    return sw_out_commit(&o, err);
}
