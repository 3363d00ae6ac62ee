/* svg.h: charts as SVG text, for pages that must load nothing: line charts
 * (a mean line with a shaded band per series), small multiples sharing
 * axes, and points with intervals. Output is deterministic (numbers in
 * fixed formats, nothing from the clock or the locale's grouping) and every
 * user text is escaped, so a name like `<a & "b">` shows as written.
 * Sizes are in SVG user units; the root has a viewBox and width 100%, so
 * a chart scales to its container; fonts are >= 11 units. */
#ifndef REPORT_SVG_H
#define REPORT_SVG_H

#include <stdio.h>

/* ---- Text ------------------------------------------------------------- */

/* Writes s with & < > " ' escaped, control characters (except tab and
 * newline) and invalid UTF-8 bytes replaced by U+FFFD, so the result is
 * valid XML and HTML text or attribute value. NULL writes nothing. */
void svg_escape(FILE *f, const char *s);

/* ---- Axes --------------------------------------------------------------- */

#define SVG_MAX_TICKS 16

/* Ticks at multiples of a "nice" step (1, 2, 2.5 or 5 times a power of
 * ten) covering [lo, hi] with about `target` ticks (2..SVG_MAX_TICKS-1).
 * integer: steps of at least 1 (epochs). lo == hi is widened around the
 * value. */
typedef struct {
    double lo, hi;      /* the axis range: the outer ticks */
    double step;
    int n;              /* ticks: lo, lo + step, ..., hi */
    int decimals;       /* digits after the point that show the step */
} svg_ticks;

/* Returns 0; -1 (and n = 0) when lo or hi is not finite or hi < lo. */
int svg_nice_ticks(double lo, double hi, int target, int integer, svg_ticks *out);

/* ---- Line charts -------------------------------------------------------- */

/* One series: y[i] at x = i + 1 (epochs 1..n), with an optional band
 * [lo[i], hi[i]] (min-max or +-sd over seeds: the caller's choice, named in
 * the chart's note). NAN in y breaks the line; NAN in the band leaves a gap
 * in the band only. */
typedef struct {
    const char *name;          /* legend text */
    int n;
    const double *y;           /* n values */
    const double *lo, *hi;     /* n values each, or NULL: no band */
} svg_series;

typedef struct {
    const char *title;
    const char *x_label, *y_label;
    const char *note;          /* small text under the legend, or NULL */
    int n_series;
    const svg_series *series;  /* series i gets colour i of the palette */
    double y_min, y_max;       /* fixed y range; NAN: from the data */
    int width, height;         /* of the plot's box, 0: 360 x 250 */
    int standalone;            /* 1: an .svg file (XML prolog, xmlns);
                                  0: inline in HTML */
} svg_chart;

/* Writes one chart. No finite point at all: the frame says "no data". */
void svg_line_chart(FILE *f, const svg_chart *c);

/* Small multiples: one panel per chart (each its own title; the series
 * of every panel named as in panels[0], which sets the one legend), in
 * rows of `cols`, all on the same x and y ranges so the eye compares
 * shapes; title and axis labels once for the whole figure. */
typedef struct {
    const char *title;
    const char *x_label, *y_label;
    const char *note;
    int n_panels;
    const svg_chart *panels;   /* only title, n_series and series are read */
    int cols;                  /* 0: 3 */
    double y_min, y_max;       /* NAN: from all panels' data */
    int standalone;
} svg_multiples;

void svg_small_multiples(FILE *f, const svg_multiples *m);

/* ---- Points with intervals ------------------------------------------------ */

/* One row per level: its mean as a point and [lo, hi] as a bar, on a
 * horizontal value axis, with an optional dashed reference line (the
 * baseline's mean). NAN mean: the row says "no data"; NAN bounds: no bar. */
typedef struct {
    const char *title;
    const char *x_label;       /* the value axis */
    const char *note;
    int n;
    const char *const *labels;
    const double *mean, *lo, *hi;
    double ref;                /* NAN: no line */
    const char *ref_label;     /* e.g. "baseline relu", or NULL */
    int width;                 /* 0: 360 */
    int standalone;
} svg_intervals;

void svg_interval_chart(FILE *f, const svg_intervals *c);

/* The palette (Okabe-Ito, safe for colour blindness): colour i as "#rrggbb",
 * cycling; series past the palette's length are also dashed. */
const char *svg_color(int i);
#define SVG_PALETTE 7

#endif
