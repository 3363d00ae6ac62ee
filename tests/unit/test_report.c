/* test_report.c: the SVG charts and the HTML page of `sweep report`:
 * escaping of hostile names, nice ticks, deterministic bytes, charts with
 * no data, and a page that holds its sections and the numbers given. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report/report.h"
#include "report/svg.h"
#include "test.h"

/* ---- Capturing output ---------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len;
    FILE *f;
} capture;

static FILE *cap_open(capture *c)
{
    c->buf = NULL;
    c->len = 0;
    c->f = open_memstream(&c->buf, &c->len);
    return c->f;
}

/* Closes the stream; the text stays in c->buf (free it). */
static char *cap_close(capture *c)
{
    fclose(c->f);
    return c->buf;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static char *escaped(const char *s)
{
    capture c;
    svg_escape(cap_open(&c), s);
    return cap_close(&c);
}

/* ---- Escaping ---------------------------------------------------------------- */

static void test_escape_hostile(void)
{
    char *s = escaped("<script>alert('x')</script> & \"q\"");
    CHECK_STR(s, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
    free(s);
    /* control bytes, invalid and overlong UTF-8 become U+FFFD; text stays */
    s = escaped("a\x01" "b\xff" "c\xc0\xaf" "d\xc3\xa9\t\n");
    CHECK_STR(s, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD\xEF\xBF\xBD" "d\xc3\xa9\t\n");
    free(s);
    /* a cut multibyte sequence at the end, a surrogate */
    s = escaped("x\xe2\x82");
    CHECK_STR(s, "x\xEF\xBF\xBD\xEF\xBF\xBD");
    free(s);
    s = escaped("\xed\xa0\x80");
    CHECK(count(s, "\xEF\xBF\xBD") == 3);
    free(s);
    s = escaped(NULL);
    CHECK_STR(s, "");
    free(s);
}

/* ---- Ticks ---------------------------------------------------------------------- */

static void test_nice_ticks(void)
{
    svg_ticks t;
    CHECK(svg_nice_ticks(0.13, 0.92, 5, 0, &t) == 0);
    CHECK_NEAR(t.lo, 0, 1e-12);
    CHECK_NEAR(t.hi, 1.0, 1e-12);
    CHECK_NEAR(t.step, 0.2, 1e-12);
    CHECK_INT(t.n, 6);
    CHECK_INT(t.decimals, 1);

    CHECK(svg_nice_ticks(0.3, 2.3, 5, 0, &t) == 0);
    CHECK_NEAR(t.step, 0.5, 1e-12);
    CHECK_NEAR(t.hi, 2.5, 1e-12);
    CHECK_INT(t.decimals, 1);

    CHECK(svg_nice_ticks(0.01, 0.08, 4, 0, &t) == 0);   /* raw 0.0233: 2.5e-2 */
    CHECK_NEAR(t.step, 0.025, 1e-12);
    CHECK_INT(t.decimals, 3);

    CHECK(svg_nice_ticks(-3.2, -0.1, 5, 0, &t) == 0);
    CHECK_NEAR(t.lo, -4, 1e-12);
    CHECK_NEAR(t.hi, 0, 1e-12);
    CHECK(t.lo <= -3.2 && t.hi >= -0.1);

    /* epochs: integer steps, never 2.5 */
    CHECK(svg_nice_ticks(1, 12, 8, 1, &t) == 0);
    CHECK_NEAR(t.step, 2, 1e-12);
    CHECK_INT(t.decimals, 0);
    CHECK(svg_nice_ticks(1, 3, 8, 1, &t) == 0);
    CHECK_NEAR(t.step, 1, 1e-12);
    CHECK(svg_nice_ticks(1, 40, 4, 1, &t) == 0);
    CHECK(fmod(t.step, 1) == 0 && t.step != 25);

    /* one value: widened around it */
    CHECK(svg_nice_ticks(5, 5, 5, 0, &t) == 0);
    CHECK(t.lo < 5 && t.hi > 5 && t.n >= 2);
    CHECK(svg_nice_ticks(0, 0, 5, 0, &t) == 0);
    CHECK(t.lo < 0 && t.hi > 0);

    /* never more than SVG_MAX_TICKS, even for a wide range */
    CHECK(svg_nice_ticks(-1e300, 1e300, 15, 0, &t) == -1 || t.n <= SVG_MAX_TICKS);
    CHECK(svg_nice_ticks(0, 1e9, 15, 0, &t) == 0);
    CHECK(t.n <= SVG_MAX_TICKS && t.n >= 2);

    CHECK(svg_nice_ticks(NAN, 1, 5, 0, &t) == -1);
    CHECK_INT(t.n, 0);
    CHECK(svg_nice_ticks(0, INFINITY, 5, 0, &t) == -1);
    CHECK(svg_nice_ticks(2, 1, 5, 0, &t) == -1);
}

/* ---- Charts ------------------------------------------------------------------------ */

static const double Y1[] = {1.5, 1.0, 0.7, 0.6}, L1[] = {1.4, 0.9, 0.65, 0.55},
                    H1[] = {1.6, 1.1, 0.75, 0.65};
static const double Y2[] = {1.6, NAN, 0.8, 0.7};

static char *chart_text(const svg_chart *c)
{
    capture cap;
    svg_line_chart(cap_open(&cap), c);
    return cap_close(&cap);
}

static void test_chart_deterministic(void)
{
    const svg_series s[2] = {{"relu <&>", 4, Y1, L1, H1}, {"elu \"1\"", 4, Y2, NULL, NULL}};
    svg_chart c = {.title = "loss of <b>", .x_label = "epoch", .y_label = "loss",
                   .note = "band: min-max", .n_series = 2, .series = s, .y_min = NAN,
                   .y_max = NAN};
    char *a = chart_text(&c), *b = chart_text(&c);
    CHECK_STR(a, b);
    CHECK(strstr(a, "viewBox=\"0 0 360 ") != NULL);
    CHECK(strstr(a, "loss of &lt;b&gt;") != NULL);
    CHECK(strstr(a, "relu &lt;&amp;&gt;") != NULL);
    CHECK(strstr(a, "elu &quot;1&quot;") != NULL);
    CHECK(!strstr(a, "<b>") && !strstr(a, "nan") && !strstr(a, "inf"));
    CHECK(!strstr(a, "http"));   /* inline: no xmlns */
    /* the band once; the NAN splits series 2 into a dot and a 2-point line */
    CHECK_INT(count(a, "<polygon"), 1);
    CHECK_INT(count(a, "<polyline"), 2);
    CHECK_INT(count(a, "<svg"), 1);
    CHECK_INT(count(a, "</svg>"), 1);
    CHECK_INT(count(a, "<text"), count(a, "</text>"));
    free(a);
    free(b);
    c.standalone = 1;
    a = chart_text(&c);
    CHECK(strncmp(a, "<?xml", 5) == 0);
    CHECK(strstr(a, "xmlns=\"http://www.w3.org/2000/svg\"") != NULL);
    free(a);
}

static void test_chart_no_data(void)
{
    const double nan4[] = {NAN, NAN, NAN, NAN};
    const svg_series s[1] = {{"all NaN", 4, nan4, nan4, nan4}};
    svg_chart c = {.title = "t", .n_series = 1, .series = s, .y_min = NAN, .y_max = NAN};
    char *a = chart_text(&c);
    CHECK(strstr(a, "no data") != NULL);
    CHECK(!strstr(a, "<polyline") && !strstr(a, "nan"));
    free(a);
    c.n_series = 0;   /* no series at all */
    c.series = NULL;
    a = chart_text(&c);
    CHECK(strstr(a, "no data") != NULL && strstr(a, "</svg>") != NULL);
    free(a);
    const svg_series empty[1] = {{"empty", 0, NULL, NULL, NULL}};
    c.n_series = 1;
    c.series = empty;
    a = chart_text(&c);
    CHECK(strstr(a, "no data") != NULL);
    free(a);

    /* small multiples: no panels, and panels of NAN */
    capture cap;
    svg_multiples m = {.title = "none", .y_min = NAN, .y_max = NAN};
    svg_small_multiples(cap_open(&cap), &m);
    a = cap_close(&cap);
    CHECK(strstr(a, "</svg>") != NULL);
    free(a);
    svg_chart panels[2] = {{.title = "p1", .n_series = 1, .series = s},
                           {.title = "p2", .n_series = 1, .series = s}};
    m.n_panels = 2;
    m.panels = panels;
    svg_small_multiples(cap_open(&cap), &m);
    a = cap_close(&cap);
    CHECK_INT(count(a, "no data"), 2);
    free(a);

    /* intervals: a NAN row says so, the others are drawn */
    const char *labels[] = {"a", "b"};
    const double mean[] = {0.5, NAN}, lo[] = {0.4, NAN}, hi[] = {0.6, NAN};
    svg_intervals iv = {.title = "i", .n = 2, .labels = labels, .mean = mean, .lo = lo,
                        .hi = hi, .ref = NAN};
    svg_interval_chart(cap_open(&cap), &iv);
    a = cap_close(&cap);
    CHECK_INT(count(a, "no data"), 1);
    CHECK_INT(count(a, "<circle"), 1);
    free(a);
    iv.mean = iv.lo = iv.hi = (const double[]){NAN, NAN};
    svg_interval_chart(cap_open(&cap), &iv);
    a = cap_close(&cap);
    CHECK(strstr(a, "no data") != NULL && !strstr(a, "nan"));
    free(a);
}

/* Long names are cut with an ellipsis rather than running over. */
static void test_chart_long_names(void)
{
    char longname[400];
    memset(longname, 'w', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    const svg_series s[1] = {{longname, 4, Y1, NULL, NULL}};
    svg_chart c = {.title = longname, .n_series = 1, .series = s, .y_min = NAN, .y_max = NAN};
    char *a = chart_text(&c), tag[sizeof longname + 1];
    snprintf(tag, sizeof tag, ">%s", longname);
    CHECK(!strstr(a, tag));   /* the aria-label keeps it whole; no <text> does */
    CHECK(strstr(a, "\xE2\x80\xA6") != NULL);
    free(a);
}

/* ---- The page ------------------------------------------------------------------------ */

static const double TL[] = {1.2, 0.8, 0.6}, VL[] = {1.3, 0.9, 0.7}, TA[] = {0.6, 0.75, 0.8},
                    VA[] = {0.58, 0.7, 0.77}, MA[] = {0.3, 0.35, 0.4}, DF[] = {0.0, 0.01, 0.02};

static report_group group_of(const char *name)
{
    report_group g = {.name = name, .n_runs = 2};
    g.curve[REPORT_TRAIN_LOSS] = (report_curve){3, TL, TL, TL};
    g.curve[REPORT_VAL_LOSS] = (report_curve){3, VL, NULL, NULL};
    g.curve[REPORT_TRAIN_ACC] = (report_curve){3, TA, NULL, NULL};
    g.curve[REPORT_VAL_ACC] = (report_curve){3, VA, NULL, NULL};
    return g;
}

static char *page_text(const report_page *p, int *rc)
{
    capture cap;
    *rc = report_html(cap_open(&cap), p);
    return cap_close(&cap);
}

/* A page of n_groups groups; the comparison's numbers are fixed. */
static void fill_page(report_page *p, report_group *groups, int n_groups, report_layer *layer,
                      report_curve *act, report_curve *dead, report_compare_row rows[2],
                      report_comparison *cmp, report_run runs[2])
{
    static const char *const names[] = {"relu", "elu <i>", "g3", "g4", "g5", "g6", "g7", "g8"};
    static const report_count status[] = {{"done", 1}, {"failed", 1}};
    static const char *const axes[] = {"activation"};
    static const char *const v0[] = {"relu"}, *const v1[] = {"elu <i>"};
    for (int g = 0; g < n_groups; g++) {
        groups[g] = group_of(names[g]);
        act[g] = (report_curve){3, MA, NULL, NULL};
        dead[g] = (report_curve){3, DF, NULL, NULL};
    }
    *layer = (report_layer){"conv1", act, dead};
    rows[0] = (report_compare_row){.level = "relu", .is_baseline = 1,
                                   .s = {2, 0.8937, 0.0071, 0.8302, 0.9573}};
    rows[1] = (report_compare_row){.level = "elu <i>", .s = {2, 0.8815, 0.0071, 0.8180, 0.9450},
                                   .c = {.test = STATS_PAIRED_T, .n = 2, .n_base = 2,
                                         .diff = -0.0122, .t = -3.1, .dof = 1, .p = 0.0314,
                                         .ci_low = -0.0201, .ci_high = -0.0043, .g = -0.99,
                                         .seeds = 5, .p_holm = 0.0628},
                                   .decision = "worse"};
    *cmp = (report_comparison){"test_accuracy", "activation", "relu", STATS_UNITS_POINTS, 2, rows};
    runs[0] = (report_run){17, v0, "done", 3, 3, 0.4321, 0.8765, 61.25, NULL};
    runs[1] = (report_run){18, v1, "failed", 0, 0, NAN, NAN, NAN, "disk <full> & \"gone\""};
    *p = (report_page){.sweep = "act<&>\"sweep'", .config = "name: x # <b>\n", .grid_size = 2,
                       .n_status = 2, .status = status, .dataset = "fashion-mnist",
                       .machine = "host1, 2 cores", .seconds = 3725,
                       .n_comparisons = 1, .comparisons = cmp, .band_note = "band: min-max",
                       .n_groups = n_groups, .groups = groups, .n_layers = 1, .layers = layer,
                       .n_axes = 1, .axes = axes, .n_runs = 2, .runs = runs};
}

static void test_page_sections(void)
{
    report_page p;
    report_group groups[2];
    report_layer layer;
    report_curve act[2], dead[2];
    report_compare_row rows[2];
    report_comparison cmp;
    report_run runs[2];
    fill_page(&p, groups, 2, &layer, act, dead, rows, &cmp, runs);
    int rc;
    char *a = page_text(&p, &rc);
    CHECK_INT(rc, 0);
    CHECK(strncmp(a, "<!DOCTYPE html>\n<html lang=\"en\">", 31) == 0);
    CHECK_INT(count(a, "<h1>"), 1);
    CHECK(strstr(a, "<h1>Sweep act&lt;&amp;&gt;&quot;sweep&#39;</h1>") != NULL);
    const char *ids[] = {"question", "comparison", "curves", "layers", "runs"};
    for (int i = 0; i < 5; i++) {
        char want[64];
        snprintf(want, sizeof want, "<section id=\"%s\">", ids[i]);
        CHECK_MSG(strstr(a, want) != NULL, "no section %s", ids[i]);
        snprintf(want, sizeof want, "href=\"#%s\"", ids[i]);
        CHECK_MSG(strstr(a, want) != NULL, "no link to %s", ids[i]);
    }
    CHECK_INT(count(a, "<section"), count(a, "</section>"));
    CHECK_INT(count(a, "<svg"), count(a, "</svg>"));
    CHECK_INT(count(a, "<svg"), 4 + 2 + 1);   /* curves, layer, comparison */
    /* the numbers given, in their fixed formats */
    const char *nums[] = {"0.8937", "0.0071", "[0.8302, 0.9573]", "-0.0122", "0.0314", "0.0628",
                          "[-0.0201, -0.0043]", "-0.99", "paired t", "class=\"d-worse\"",
                          "0.4321", "0.8765", "61.2", "1 h 02 min", "2 runs", "1 done, 1 failed",
                          "host1, 2 cores", "<th class=\"num\">diff CI</th>", "<th class=\"num\">p_holm</th>"};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        CHECK_MSG(strstr(a, nums[i]) != NULL, "no \"%s\" in the page", nums[i]);
    /* the sentence of stats_sentence, escaped */
    char sentence[512];
    stats_sentence(sentence, sizeof sentence, "elu <i>", "relu", &rows[1].c, STATS_UNITS_POINTS);
    char *want = escaped(sentence);
    CHECK(strstr(a, want) != NULL);
    CHECK(strncmp(sentence, "elu <i> vs relu", 15) == 0);
    free(want);
    /* hostile text shows as text; nothing loads or runs */
    CHECK(strstr(a, "disk &lt;full&gt; &amp; &quot;gone&quot;") != NULL);
    CHECK(strstr(a, "# &lt;b&gt;") != NULL);
    CHECK(!strstr(a, "<i>") && !strstr(a, "<b>") && !strstr(a, "<script"));
    CHECK(!strstr(a, "http") && !strstr(a, "src=") && !strstr(a, "url(") && !strstr(a, "@import"));
    CHECK_INT(count(a, "href=\""), count(a, "href=\"#"));
    CHECK(strstr(a, "@media print") != NULL);
    CHECK(strstr(a, "<tr class=\"bad\">") != NULL);
    /* the same input, the same bytes */
    char *b = page_text(&p, &rc);
    CHECK_STR(a, b);
    free(a);
    free(b);
}

static void test_page_many_groups_and_empty(void)
{
    report_page p;
    report_group groups[8];
    report_layer layer;
    report_curve act[8], dead[8];
    report_compare_row rows[2];
    report_comparison cmp;
    report_run runs[2];
    fill_page(&p, groups, 8, &layer, act, dead, rows, &cmp, runs);
    int rc;
    char *a = page_text(&p, &rc);
    CHECK_INT(rc, 0);
    /* beyond REPORT_MAX_LINES groups: small multiples, a panel per group */
    CHECK(strstr(a, "Loss per group") != NULL && strstr(a, "Accuracy per group") != NULL);
    CHECK(strstr(a, "Dead fraction per group") != NULL);
    CHECK(strstr(a, ">g8</text>") != NULL);
    free(a);

    report_page empty = {.sweep = "empty", .seconds = NAN};
    a = page_text(&empty, &rc);
    CHECK_INT(rc, 0);
    CHECK(strstr(a, "No comparison") && strstr(a, "No epochs") && strstr(a, "No layer") &&
          strstr(a, "No runs"));
    CHECK(strstr(a, "<dt>Time spent</dt><dd>-</dd>") != NULL);
    CHECK(strstr(a, "</html>\n") != NULL);
    free(a);
}

static void test_page_save(void)
{
    report_page p = {.sweep = "saved", .seconds = 1.5};
    char path[512];
    snprintf(path, sizeof path, "%s/report.html", test_tmpdir());
    sw_error err = {0};
    CHECK_INT(report_save(&p, path, &err), SW_OK);
    int rc;
    char *want = page_text(&p, &rc);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (f) {
        char got[65536];
        size_t n = fread(got, 1, sizeof got - 1, f);
        got[n] = 0;
        fclose(f);
        CHECK_STR(got, want);
    }
    free(want);
    /* a folder that does not exist: an input error naming the path */
    snprintf(path, sizeof path, "%s/no/such/dir/r.html", test_tmpdir());
    sw_error e2 = {0};
    CHECK_INT(report_save(&p, path, &e2), SW_EINPUT);
    CHECK(strstr(e2.msg, "no/such/dir") != NULL);
}

static void test_duration(void)
{
    char b[64];
    report_duration(b, sizeof b, 4.25);
    CHECK_STR(b, "4.2 s");
    report_duration(b, sizeof b, 192);
    CHECK_STR(b, "3 min 12 s");
    report_duration(b, sizeof b, 7325);
    CHECK_STR(b, "2 h 02 min");
    report_duration(b, sizeof b, NAN);
    CHECK_STR(b, "-");
}

void suite_report(void)
{
    RUN_TEST(test_escape_hostile);
    RUN_TEST(test_nice_ticks);
    RUN_TEST(test_chart_deterministic);
    RUN_TEST(test_chart_no_data);
    RUN_TEST(test_chart_long_names);
    RUN_TEST(test_page_sections);
    RUN_TEST(test_page_many_groups_and_empty);
    RUN_TEST(test_page_save);
    RUN_TEST(test_duration);
}
