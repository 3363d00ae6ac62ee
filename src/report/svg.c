/* svg.c: line charts, small multiples and interval charts as SVG text.
 * Layout is computed from estimated text widths (no font metrics here: a
 * glyph is taken as 0.62 of the font size, DejaVu Sans' average plus a
 * margin), so labels are sized and truncated before they could overlap. */
#include "report/svg.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define FONT_TICK 12
#define FONT_LABEL 13
#define FONT_TITLE 14
#define LEGEND_ROW 18
#define FONT_FAMILY "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif"

/* ==== Text ================================================================ */

/* Length of the valid UTF-8 sequence at s (1..4), 0 if invalid. */
static int utf8_len(const unsigned char *s, size_t avail)
{
    int n = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3
          : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || (size_t)n > avail)
        return 0;
    uint32_t cp = n == 1 ? s[0] : n == 2 ? s[0] & 0x1Fu : n == 3 ? s[0] & 0x0Fu : s[0] & 0x07u;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3Fu);
    }
    /* overlong forms, surrogates and values past U+10FFFF are not text */
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[n] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return 0;
    return n;
}

static void escape_n(FILE *f, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char ch = p[i];
        int n = utf8_len(p + i, len - i);
        if (n == 0 || (ch < 0x20 && ch != '\t' && ch != '\n') || ch == 0x7F) {
            fputs("\xEF\xBF\xBD", f);   /* U+FFFD */
            i++;
            continue;
        }
        switch (ch) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fwrite(p + i, 1, (size_t)n, f);
        }
        i += (size_t)n;
    }
}

void svg_escape(FILE *f, const char *s)
{
    if (s)
        escape_n(f, s, strlen(s));
}

/* Characters (code points, counting each invalid byte as one). */
static int text_chars(const char *s)
{
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++)
        n += (*p & 0xC0) != 0x80;
    return n;
}

static double text_width(const char *s, int font)
{
    return text_chars(s) * 0.62 * font;
}

/* Writes s escaped, cut to max_w units with an ellipsis when longer. */
static void put_fitted(FILE *f, const char *s, int font, double max_w)
{
    if (!s)
        return;
    int keep = (int)(max_w / (0.62 * font));
    if (text_chars(s) <= keep || keep < 2) {
        escape_n(f, s, strlen(s));
        return;
    }
    size_t len = 0;
    for (int c = 0; s[len] && c < keep - 1; c++)
        for (len++; ((unsigned char)s[len] & 0xC0) == 0x80; len++)
            ;
    escape_n(f, s, len);
    fputs("\xE2\x80\xA6", f);   /* U+2026 */
}

/* <text> at (x, y); anchor "start", "middle" or "end"; extra attributes or NULL. */
static void put_text(FILE *f, double x, double y, const char *anchor, int font,
                     const char *extra, const char *s, double max_w)
{
    if (!s)
        return;
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\"%s%s>", x, y,
            anchor, font, extra ? " " : "", extra ? extra : "");
    put_fitted(f, s, font, max_w);
    fputs("</text>\n", f);
}

/* ==== Axes ================================================================ */

int svg_nice_ticks(double lo, double hi, int target, int integer, svg_ticks *out)
{
    memset(out, 0, sizeof *out);
    if (!isfinite(lo) || !isfinite(hi) || hi < lo || !isfinite(hi - lo))
        return -1;
    if (target < 2)
        target = 2;
    if (target > SVG_MAX_TICKS - 1)
        target = SVG_MAX_TICKS - 1;
    if (hi - lo <= 1e-12 * fmax(fabs(lo), fabs(hi))) {
        double d = integer ? 1 : lo != 0 ? fabs(lo) * 0.1 : 1;
        lo -= d;
        hi += d;
    }
    double raw = (hi - lo) / (target - 1);
    double mag = pow(10, floor(log10(raw)));
    static const double nice[] = {1, 2, 2.5, 5, 10};
    double step = 10 * mag;
    for (int i = 0; i < 5; i++)
        if (nice[i] * mag >= raw * (1 - 1e-9)) {
            step = nice[i] * mag;
            break;
        }
    if (integer && step < 1)
        step = 1;
    if (integer && fabs(step - 2.5 * mag) < 1e-9 * step)
        step = 5 * mag;   /* 2.5 epochs is not a tick */
    double t_lo, t_hi;
    int n;
    for (;;) {
        t_lo = floor(lo / step + 1e-9) * step;
        t_hi = ceil(hi / step - 1e-9) * step;
        n = (int)lround((t_hi - t_lo) / step) + 1;
        if (n <= SVG_MAX_TICKS)
            break;
        step *= 2;
    }
    out->lo = t_lo;
    out->hi = t_hi;
    out->step = step;
    out->n = n;
    for (int d = 0; d <= 12; d++) {
        double s = step * pow(10, d);
        out->decimals = d;
        if (fabs(s - round(s)) < 1e-6 * s)
            break;
    }
    return 0;
}

/* The i-th tick's value, with -0 and rounding dust cleaned. */
static double tick_value(const svg_ticks *t, int i)
{
    double v = t->lo + i * t->step;
    return fabs(v) < t->step * 1e-9 ? 0 : v;
}

static void tick_label(char *buf, size_t size, const svg_ticks *t, int i)
{
    snprintf(buf, size, "%.*f", t->decimals, tick_value(t, i));
}

/* Widest tick label of t, in units. */
static double ticks_width(const svg_ticks *t)
{
    double w = 0;
    char buf[64];
    for (int i = 0; i < t->n; i++) {
        tick_label(buf, sizeof buf, t, i);
        w = fmax(w, text_width(buf, FONT_TICK));
    }
    return w;
}

/* ==== Plot boxes ============================================================ */

/* A plot area in user units and the data ranges it maps. */
typedef struct {
    double x0, y0, w, h;          /* top-left corner and size */
    double xlo, xhi;              /* data x range */
    svg_ticks xt, yt;             /* y range is yt.lo .. yt.hi */
} box;

static double map_x(const box *b, double x)
{
    return b->x0 + (x - b->xlo) / (b->xhi - b->xlo) * b->w;
}

static double map_y(const box *b, double y)
{
    double v = b->y0 + b->h - (y - b->yt.lo) / (b->yt.hi - b->yt.lo) * b->h;
    return fmin(fmax(v, b->y0), b->y0 + b->h);   /* a fixed range clips */
}

const char *svg_color(int i)
{
    static const char *pal[SVG_PALETTE] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                           "#E69F00", "#56B4E9", "#000000"};
    return pal[(i < 0 ? -i : i) % SVG_PALETTE];
}

static const char *dash_attr(int i)
{
    return i >= SVG_PALETTE ? " stroke-dasharray=\"6 3\"" : "";
}

/* Data ranges over series: x is 1..max n; y over values and bands. */
static void series_range(const svg_series *s, int n_series, double *ylo, double *yhi,
                         int *nmax, int *any)
{
    for (int k = 0; k < n_series; k++) {
        for (int i = 0; i < s[k].n; i++) {
            const double v[3] = {s[k].y ? s[k].y[i] : NAN, s[k].lo ? s[k].lo[i] : NAN,
                                 s[k].hi ? s[k].hi[i] : NAN};
            for (int j = 0; j < 3; j++)
                if (isfinite(v[j])) {
                    *ylo = fmin(*ylo, v[j]);
                    *yhi = fmax(*yhi, v[j]);
                }
            if (s[k].y && isfinite(s[k].y[i])) {
                *any = 1;
                if (i + 1 > *nmax)
                    *nmax = i + 1;
            }
        }
    }
}

/* Sets the box's ranges: x over epochs 1..nmax (ticks inside it), y from
 * the data or the fixed range. Returns 0, -1 when there is nothing to plot. */
static int box_ranges(box *b, double ylo, double yhi, int nmax, double fix_lo, double fix_hi)
{
    if (isfinite(fix_lo))
        ylo = fix_lo;
    if (isfinite(fix_hi))
        yhi = fix_hi;
    if (nmax < 1 || svg_nice_ticks(ylo, yhi, 5, 0, &b->yt) != 0)
        return -1;
    if (isfinite(fix_lo) && isfinite(fix_hi) && fix_hi > fix_lo) {
        b->yt.lo = fix_lo;   /* keep the asked range exactly; ticks inside */
        b->yt.hi = fix_hi;
    }
    svg_nice_ticks(1, nmax, 8, 1, &b->xt);
    if (nmax > 1) {
        b->xlo = 1;
        b->xhi = nmax;
    } else {
        b->xlo = b->xt.lo;
        b->xhi = b->xt.hi;
    }
    return 0;
}

/* Grid lines, axes and tick labels (x labels if xlabels, y if ylabels). */
static void draw_axes(FILE *f, const box *b, int xlabels, int ylabels)
{
    char buf[64];
    fputs("<g stroke=\"#dddddd\" stroke-width=\"1\">\n", f);
    for (int i = 0; i < b->yt.n; i++) {
        double v = tick_value(&b->yt, i);
        if (v < b->yt.lo - 1e-9 * b->yt.step || v > b->yt.hi + 1e-9 * b->yt.step)
            continue;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", b->x0,
                map_y(b, v), b->x0 + b->w, map_y(b, v));
    }
    fputs("</g>\n", f);
    fprintf(f, "<path d=\"M%.1f %.1fV%.1fH%.1f\" fill=\"none\" stroke=\"#444444\"/>\n", b->x0,
            b->y0, b->y0 + b->h, b->x0 + b->w);
    for (int i = 0; ylabels && i < b->yt.n; i++) {
        double v = tick_value(&b->yt, i);
        if (v < b->yt.lo - 1e-9 * b->yt.step || v > b->yt.hi + 1e-9 * b->yt.step)
            continue;
        tick_label(buf, sizeof buf, &b->yt, i);
        put_text(f, b->x0 - 5, map_y(b, v) + 4, "end", FONT_TICK, NULL, buf, 80);
    }
    for (int i = 0; i < b->xt.n; i++) {
        double v = tick_value(&b->xt, i);
        if (v < b->xlo - 1e-9 || v > b->xhi + 1e-9)
            continue;
        double x = map_x(b, v);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444444\"/>\n",
                x, b->y0 + b->h, x, b->y0 + b->h + 4);
        if (xlabels) {
            tick_label(buf, sizeof buf, &b->xt, i);
            put_text(f, x, b->y0 + b->h + 16, "middle", FONT_TICK, NULL, buf, 60);
        }
    }
}

/* The band of one series: a polygon per run of finite bounds. */
static void draw_band(FILE *f, const box *b, const svg_series *s, const char *col)
{
    if (!s->lo || !s->hi)
        return;
    for (int i = 0; i < s->n;) {
        if (!isfinite(s->lo[i]) || !isfinite(s->hi[i])) {
            i++;
            continue;
        }
        int j = i;
        while (j < s->n && isfinite(s->lo[j]) && isfinite(s->hi[j]))
            j++;
        if (j - i == 1) {   /* one point: a bar */
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                    "stroke-opacity=\"0.35\" stroke-width=\"5\"/>\n", map_x(b, i + 1),
                    map_y(b, s->lo[i]), map_x(b, i + 1), map_y(b, s->hi[i]), col);
        } else {
            fprintf(f, "<polygon fill=\"%s\" fill-opacity=\"0.18\" stroke=\"none\" points=\"", col);
            for (int k = i; k < j; k++)
                fprintf(f, "%s%.1f,%.1f", k > i ? " " : "", map_x(b, k + 1), map_y(b, s->hi[k]));
            for (int k = j - 1; k >= i; k--)
                fprintf(f, " %.1f,%.1f", map_x(b, k + 1), map_y(b, s->lo[k]));
            fputs("\"/>\n", f);
        }
        i = j;
    }
}

/* The mean line of series k: a polyline per run of finite values, and
 * dots at the points when they are few (a run of one shows as its dot). */
static void draw_line(FILE *f, const box *b, const svg_series *s, int k)
{
    const char *col = svg_color(k);
    int dots = s->n <= 15;
    for (int i = 0; s->y && i < s->n;) {
        if (!isfinite(s->y[i])) {
            i++;
            continue;
        }
        int j = i;
        while (j < s->n && isfinite(s->y[j]))
            j++;
        if (j - i > 1) {
            fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", col,
                    dash_attr(k));
            for (int m = i; m < j; m++)
                fprintf(f, "%s%.1f,%.1f", m > i ? " " : "", map_x(b, m + 1), map_y(b, s->y[m]));
            fputs("\"/>\n", f);
        }
        for (int m = i; m < j && (dots || j - i == 1); m++)
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n", map_x(b, m + 1),
                    map_y(b, s->y[m]), col);
        i = j;
    }
}

static void draw_series(FILE *f, const box *b, const svg_series *s, int n_series)
{
    for (int k = 0; k < n_series; k++)
        draw_band(f, b, &s[k], svg_color(k));
    for (int k = 0; k < n_series; k++)
        draw_line(f, b, &s[k], k);
}

/* ==== Legends and frames ==================================================== */

#define SWATCH 22

/* Rows the legend of the series needs in width w (entries packed left to
 * right); draws them from y when f is not NULL. */
static int legend(FILE *f, const svg_series *s, int n_series, double x0, double y, double w)
{
    int rows = n_series > 0;
    double x = x0, max_text = w - SWATCH - 8;
    for (int k = 0; k < n_series; k++) {
        double tw = fmin(text_width(s[k].name ? s[k].name : "", FONT_TICK), max_text);
        double ew = SWATCH + 5 + tw + 14;
        if (x > x0 && x + ew - 14 > x0 + w) {
            rows++;
            x = x0;
            y += LEGEND_ROW;
        }
        if (f) {
            const char *col = svg_color(k);
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"10\" fill=\"%s\" "
                    "fill-opacity=\"0.18\"/>\n", x, y - 9, SWATCH, col);
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                    "stroke-width=\"2\"%s/>\n", x, y - 4, x + SWATCH, y - 4, col, dash_attr(k));
            put_text(f, x + SWATCH + 5, y, "start", FONT_TICK, NULL, s[k].name, max_text);
        }
        x += ew;
    }
    return rows;
}

static void svg_open(FILE *f, int standalone, double w, double h, const char *title)
{
    if (standalone)
        fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
    fprintf(f, "<svg %sviewBox=\"0 0 %.0f %.0f\" width=\"100%%\" role=\"img\" aria-label=\"",
            standalone ? "xmlns=\"http://www.w3.org/2000/svg\" " : "", w, h);
    svg_escape(f, title);
    fprintf(f, "\" font-family=\"%s\" class=\"chart\">\n", FONT_FAMILY);
    fprintf(f, "<rect width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n", w, h);
}

static void no_data(FILE *f, const box *b)
{
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
            "stroke=\"#bbbbbb\"/>\n", b->x0, b->y0, b->w, b->h);
    put_text(f, b->x0 + b->w / 2, b->y0 + b->h / 2 + 5, "middle", FONT_LABEL,
             "fill=\"#777777\"", "no data", b->w);
}

/* y label rotated at x, centred on the box's height. */
static void y_label(FILE *f, double x, double ymid, double max_w, const char *s)
{
    if (!s)
        return;
    char attr[96];
    snprintf(attr, sizeof attr, "transform=\"rotate(-90 %.1f %.1f)\"", x, ymid);
    put_text(f, x, ymid, "middle", FONT_LABEL, attr, s, max_w);
}

/* ==== Line chart ============================================================= */

void svg_line_chart(FILE *f, const svg_chart *c)
{
    double W = c->width > 0 ? c->width : 360, H = c->height > 0 ? c->height : 250;
    double ylo = INFINITY, yhi = -INFINITY;
    int nmax = 0, any = 0;
    series_range(c->series, c->n_series, &ylo, &yhi, &nmax, &any);
    box b = {0};
    int ok = any && box_ranges(&b, ylo, yhi, nmax, c->y_min, c->y_max) == 0;
    double left = 22 + (ok ? ticks_width(&b.yt) : 20) + 8;
    double top = c->title ? 28 : 10;
    b.x0 = left;
    b.y0 = top;
    b.w = W - left - 14;
    b.h = H - top - 44;
    int rows = legend(NULL, c->series, c->n_series, 10, 0, W - 20);
    double total = H + rows * LEGEND_ROW + (c->note ? LEGEND_ROW : 0) + 4;

    svg_open(f, c->standalone, W, total, c->title);
    if (c->title)
        put_text(f, W / 2, 18, "middle", FONT_TITLE, "font-weight=\"bold\"", c->title, W - 10);
    if (ok) {
        draw_axes(f, &b, 1, 1);
        draw_series(f, &b, c->series, c->n_series);
    } else {
        no_data(f, &b);
    }
    put_text(f, b.x0 + b.w / 2, H - 10, "middle", FONT_LABEL, NULL, c->x_label, b.w);
    y_label(f, 14, b.y0 + b.h / 2, b.h, c->y_label);
    legend(f, c->series, c->n_series, 10, H + 12, W - 20);
    if (c->note)
        put_text(f, 10, H + rows * LEGEND_ROW + 12, "start", FONT_TICK, "fill=\"#555555\"",
                 c->note, W - 20);
    fputs("</svg>\n", f);
}

/* ==== Small multiples ======================================================== */

#define PANEL_W 230
#define PANEL_H 174

void svg_small_multiples(FILE *f, const svg_multiples *m)
{
    int cols = m->cols > 0 ? m->cols : 3;
    if (cols > m->n_panels && m->n_panels > 0)
        cols = m->n_panels;
    int rows_p = (m->n_panels + cols - 1) / cols;
    double ylo = INFINITY, yhi = -INFINITY;
    int nmax = 0, any = 0;
    for (int p = 0; p < m->n_panels; p++)
        series_range(m->panels[p].series, m->panels[p].n_series, &ylo, &yhi, &nmax, &any);
    box shared = {0};
    int ok = any && box_ranges(&shared, ylo, yhi, nmax, m->y_min, m->y_max) == 0;
    double tick_w = ok ? ticks_width(&shared.yt) : 20;
    double left = 24, top = m->title ? 30 : 8;
    double W = left + cols * PANEL_W + 6;
    double grid_h = top + rows_p * PANEL_H + 24;
    const svg_chart *first = m->n_panels > 0 ? &m->panels[0] : NULL;
    int n_series = first ? first->n_series : 0;
    int lrows = first ? legend(NULL, first->series, n_series, 10, 0, W - 20) : 0;
    double total = grid_h + lrows * LEGEND_ROW + (m->note ? LEGEND_ROW : 0) + 4;

    svg_open(f, m->standalone, W, total, m->title);
    if (m->title)
        put_text(f, W / 2, 20, "middle", FONT_TITLE, "font-weight=\"bold\"", m->title, W - 10);
    for (int p = 0; p < m->n_panels; p++) {
        const svg_chart *c = &m->panels[p];
        box b = shared;
        double px = left + (p % cols) * PANEL_W, py = top + (p / cols) * PANEL_H;
        b.x0 = px + tick_w + 9;
        b.y0 = py + 22;
        b.w = PANEL_W - (tick_w + 9) - 12;
        b.h = PANEL_H - 22 - 32;
        put_text(f, b.x0 + b.w / 2, py + 13, "middle", FONT_LABEL, "font-weight=\"bold\"",
                 c->title, PANEL_W - 8);
        if (ok) {
            draw_axes(f, &b, 1, 1);
            draw_series(f, &b, c->series, c->n_series);
        } else {
            no_data(f, &b);
        }
    }
    put_text(f, left + cols * PANEL_W / 2.0, grid_h - 20, "middle", FONT_LABEL, NULL,
             m->x_label, W - 40);
    y_label(f, 13, top + rows_p * PANEL_H / 2.0, rows_p * PANEL_H, m->y_label);
    if (first)
        legend(f, first->series, n_series, 10, grid_h + 8, W - 20);
    if (m->note)
        put_text(f, 10, grid_h + lrows * LEGEND_ROW + 8, "start", FONT_TICK, "fill=\"#555555\"",
                 m->note, W - 20);
    fputs("</svg>\n", f);
}

/* ==== Points with intervals ==================================================== */

#define ROW_H 26

static void interval_row(FILE *f, const box *b, const svg_intervals *c, int i, double y,
                         double label_w)
{
    put_text(f, b->x0 - 8, y + 4, "end", FONT_LABEL, NULL, c->labels ? c->labels[i] : "",
             label_w);
    double mean = c->mean ? c->mean[i] : NAN;
    if (!isfinite(mean)) {
        put_text(f, b->x0 + 6, y + 4, "start", FONT_TICK, "fill=\"#777777\"", "no data", b->w);
        return;
    }
    const char *col = svg_color(i);
    double lo = c->lo ? c->lo[i] : NAN, hi = c->hi ? c->hi[i] : NAN;
    if (isfinite(lo) && isfinite(hi)) {
        double x1 = map_x(b, lo), x2 = map_x(b, hi);
        fprintf(f, "<path d=\"M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f %.1fV%.1f\" stroke=\"%s\" "
                "stroke-width=\"2\" fill=\"none\"/>\n", x1, y - 5, y + 5, x1, y, x2, x2, y - 5,
                y + 5, col);
    }
    fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\"/>\n", map_x(b, mean), y,
            col);
}

void svg_interval_chart(FILE *f, const svg_intervals *c)
{
    double W = c->width > 0 ? c->width : 360;
    double lo = INFINITY, hi = -INFINITY, label_w = 0;
    const double *arrs[3] = {c->mean, c->lo, c->hi};
    for (int i = 0; i < c->n; i++) {
        for (int j = 0; j < 3; j++)
            if (arrs[j] && isfinite(arrs[j][i])) {
                lo = fmin(lo, arrs[j][i]);
                hi = fmax(hi, arrs[j][i]);
            }
        if (c->labels)
            label_w = fmax(label_w, text_width(c->labels[i], FONT_LABEL));
    }
    if (isfinite(c->ref) && isfinite(lo)) {
        lo = fmin(lo, c->ref);
        hi = fmax(hi, c->ref);
    }
    label_w = fmin(label_w, W * 0.4);
    box b = {0};
    int ok = svg_nice_ticks(lo, hi, 5, 0, &b.yt) == 0;
    b.xt = b.yt;   /* the value axis is horizontal: x ticks */
    b.xlo = b.xt.lo;
    b.xhi = b.xt.hi;
    b.yt.lo = 0;   /* rows map by hand; yt only for map_y's unused range */
    b.yt.hi = 1;
    b.x0 = 10 + label_w + 8;
    b.y0 = c->title ? 30 : 10;
    b.w = W - b.x0 - 18;
    b.h = (c->n > 0 ? c->n : 1) * ROW_H + (c->ref_label ? 14 : 0);
    double total = b.y0 + b.h + 44 + (c->note ? LEGEND_ROW : 0);

    svg_open(f, c->standalone, W, total, c->title);
    if (c->title)
        put_text(f, W / 2, 18, "middle", FONT_TITLE, "font-weight=\"bold\"", c->title, W - 10);
    if (!ok) {
        no_data(f, &b);
    } else {
        box axes = b;
        axes.yt.n = 0;   /* no horizontal grid lines */
        draw_axes(f, &axes, 1, 0);
        fputs("<g stroke=\"#eeeeee\">\n", f);
        for (int i = 0; i < b.xt.n; i++)
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                    map_x(&b, tick_value(&b.xt, i)), b.y0, map_x(&b, tick_value(&b.xt, i)),
                    b.y0 + b.h);
        fputs("</g>\n", f);
        double rows_y0 = b.y0 + (c->ref_label ? 14 : 0);
        if (isfinite(c->ref)) {
            double x = map_x(&b, c->ref);
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#777777\" "
                    "stroke-dasharray=\"4 3\"/>\n", x, rows_y0, x, b.y0 + b.h);
            if (c->ref_label)
                put_text(f, x, b.y0 + 10, x > b.x0 + b.w / 2 ? "end" : "start", FONT_TICK,
                         "fill=\"#555555\"", c->ref_label, b.w / 2);
        }
        for (int i = 0; i < c->n; i++)
            interval_row(f, &b, c, i, rows_y0 + (i + 0.5) * ROW_H, label_w);
    }
    put_text(f, b.x0 + b.w / 2, b.y0 + b.h + 34, "middle", FONT_LABEL, NULL, c->x_label, b.w);
    if (c->note)
        put_text(f, 10, b.y0 + b.h + 44 + 8, "start", FONT_TICK, "fill=\"#555555\"", c->note,
                 W - 20);
    fputs("</svg>\n", f);
}
