/* options.c: flag parsing and table printing shared by the commands. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "cli.h"
#include "sweep/scheduler.h"

static const cli_option *find_option(const cli_option *opts, const char *name, size_t len)
{
    for (const cli_option *o = opts; o->name; o++) {
        if ((strlen(o->name) == len && strncmp(o->name, name, len) == 0) ||
            (o->alias && strlen(o->alias) == len && strncmp(o->alias, name, len) == 0))
            return o;
    }
    return NULL;
}

/* Edit distance of a[0..n) and b, with a swap of neighbours as one edit;
 * names are short (under 32 characters, else "far"). */
static int distance(const char *a, size_t n, const char *b)
{
    size_t m = strlen(b);
    int d[33][33];
    if (n > 32 || m > 32)
        return 99;
    for (size_t i = 0; i <= n; i++)
        for (size_t j = 0; j <= m; j++) {
            if (!i || !j) {
                d[i][j] = (int)(i + j);
                continue;
            }
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[n][m];
}

/* The option closest to a mistyped name, if it is close (2 edits). */
static const char *closest_option(const cli_option *opts, const char *name, size_t len)
{
    const char *best = NULL;
    int best_d = 3;
    for (const cli_option *o = opts; o->name; o++) {
        int dist = distance(name, len, o->name);
        if (dist < best_d) {
            best_d = dist;
            best = o->name;
        }
    }
    return best;
}

static int set_value(const char *cmd, const cli_option *o, const char *v, sw_error *err)
{
    char *end;
    errno = 0;
    switch (o->type) {
    case OPT_STRING:
        *(const char **)o->target = v;
        return SW_OK;
    case OPT_INT:
    case OPT_POSITIVE: {
        long n = strtol(v, &end, 10), least = o->type == OPT_POSITIVE;
        if (errno || end == v || *end || n < least || n > 1000000000)
            return sw_err(err, SW_EINPUT, "%s needs a %s integer, got '%s' (see sweep %s --help)",
                          o->name, least ? "positive" : "non-negative", v, cmd);
        *(int *)o->target = (int)n;
        return SW_OK;
    }
    case OPT_DOUBLE: {
        double d = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(d))
            return sw_err(err, SW_EINPUT, "%s needs a number, got '%s'", o->name, v);
        *(double *)o->target = d;
        return SW_OK;
    }
    case OPT_FLAG:
        break;
    }
    return SW_OK;
}

int cli_parse(const char *cmd, int argc, char **argv, const cli_option *opts,
              const char **pos, int max_pos, int *n_pos, int *help, sw_error *err)
{
    *n_pos = 0;
    *help = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = 1;
            return SW_OK;
        }
        if (a[0] != '-' || strcmp(a, "-") == 0) {
            if (*n_pos >= max_pos)
                return sw_err(err, SW_EINPUT, "unexpected argument '%s' (see sweep %s --help)",
                              a, cmd);
            pos[(*n_pos)++] = a;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const cli_option *o = find_option(opts, a, len);
        if (!o) {
            const char *near = closest_option(opts, a, len);
            return sw_err(err, SW_EINPUT, "unknown option '%.*s' (%s%s%ssee sweep %s --help)",
                          (int)len, a, near ? "did you mean " : "", near ? near : "",
                          near ? "? " : "", cmd);
        }
        if (o->type == OPT_FLAG) {
            if (eq)
                return sw_err(err, SW_EINPUT, "%s takes no value", o->name);
            *(int *)o->target = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v)
            return sw_err(err, SW_EINPUT, "%s needs a value (see sweep %s --help)", o->name, cmd);
        if (set_value(cmd, o, v, err) != SW_OK)
            return err->code;
    }
    return SW_OK;
}

/* ---- CSV to aligned table ---- */

#define MAX_COLS 64
#define MAX_ROWS 4096

typedef struct {
    char *cell[MAX_ROWS][MAX_COLS];
    int rows, cols[MAX_ROWS];
} table;

/* Parses one RFC 4180 field starting at *p; returns a malloc'd copy, or
 * NULL when memory runs out. */
static char *csv_field(const char **p)
{
    const char *s = *p;
    size_t cap = 16, n = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    int quoted = *s == '"';
    if (quoted)
        s++;
    for (; *s; s++) {
        if (quoted && *s == '"') {
            if (s[1] == '"') {
                s++;
            } else {
                quoted = 0;
                continue;
            }
        } else if (!quoted && (*s == ',' || *s == '\r' || *s == '\n')) {
            break;
        }
        if (n + 2 > cap) {
            char *grown = realloc(out, cap *= 2);
            if (!grown) {
                free(out);
                return NULL;
            }
            out = grown;
        }
        out[n++] = *s;
    }
    out[n] = 0;
    *p = s;
    return out;
}

static void format_cell(char *buf, size_t size, const char *v)
{
    char *end;
    double d = strtod(v, &end);
    if (*v && !*end && strchr(v, '.') && isfinite(d))
        snprintf(buf, size, "%.4g", d);
    else
        snprintf(buf, size, "%s", v);
}

/* Every cell that was set (the rest are NULL, as calloc left them). */
static void table_free(table *t)
{
    for (int r = 0; r <= t->rows && r < MAX_ROWS; r++)
        for (int c = 0; c < MAX_COLS; c++)
            free(t->cell[r][c]);
    free(t);
}

/* Reads the CSV text into cells; -1 when memory runs out. */
static int table_read(table *t, const char *csv)
{
    char buf[256];
    const char *p = csv;
    while (*p && t->rows < MAX_ROWS) {
        int c = 0;
        for (;;) {
            char *f = csv_field(&p);
            if (!f)
                return -1;
            if (c < MAX_COLS) {
                format_cell(buf, sizeof buf, f);
                if (!(t->cell[t->rows][c++] = strdup(buf))) {
                    free(f);
                    return -1;
                }
            }
            free(f);
            if (*p == ',') {
                p++;
                continue;
            }
            break;
        }
        t->cols[t->rows++] = c;
        while (*p == '\r' || *p == '\n')
            p++;
    }
    return 0;
}

int cli_print_table(FILE *out, const char *csv, int fold_constant)
{
    table *t = calloc(1, sizeof *t);
    int width[MAX_COLS] = {0}, shown[MAX_COLS];
    if (!t)
        return SW_ERUN;
    if (table_read(t, csv) != 0) {
        table_free(t);
        return SW_ERUN;
    }
    /* Settings equal in every data row are printed once, above the table:
     * the columns before "n" (the measures from it on always stay), and
     * those empty in every row (a setting that does not apply) not at all. */
    int ncols = t->rows ? t->cols[0] : 0, folded = 0, settings = ncols;
    for (int c = 0; c < ncols; c++)
        if (strcmp(t->cell[0][c], "n") == 0 && settings == ncols)
            settings = c;
    for (int c = 0; c < ncols; c++) {
        shown[c] = 1;
        if (fold_constant && c < settings && t->rows > 1) {
            int same = 1;
            for (int r = 2; r < t->rows && same; r++)
                same = c < t->cols[r] && strcmp(t->cell[r][c], t->cell[1][c]) == 0;
            shown[c] = !same;
        }
        if (!shown[c]) {
            if (t->cell[1][c][0])
                fprintf(out, "%s%s=%s", folded++ ? "  " : "", t->cell[0][c], t->cell[1][c]);
            continue;
        }
        for (int r = 0; r < t->rows; r++) {
            int w = c < t->cols[r] ? (int)strlen(t->cell[r][c]) : 0;
            width[c] = w > width[c] ? w : width[c];
        }
    }
    if (folded)
        fputc('\n', out);
    for (int r = 0; r < t->rows; r++) {
        int first = 1;
        for (int c = 0; c < t->cols[r]; c++) {
            if (c < ncols && shown[c]) {
                int last = 1;
                for (int k = c + 1; k < t->cols[r] && k < ncols; k++)
                    last &= !shown[k];
                fprintf(out, "%s%-*s", first ? "" : "  ", last ? 0 : width[c], t->cell[r][c]);
                first = 0;
            }
        }
        fputc('\n', out);
    }
    table_free(t);
    return SW_OK;
}

/* ---- sweeps by name, checkpoint folders ---- */

int cli_unknown_sweep(store *db, const char *name, const char *db_path, sw_error *err)
{
    char **names = NULL, list[1024] = "";
    int n = 0;
    if (store_sweep_names(db, &names, &n, err) != SW_OK)
        return err->code;
    size_t len = 0;
    for (int i = 0; i < n && len < sizeof list; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", names[i]);
    if (len >= sizeof list)
        strcpy(list + sizeof list - 4, "...");
    store_names_free(names, n);
    if (n == 0)
        return sw_err(err, SW_EINPUT, "no sweep '%s' in %s: it holds no sweep yet", name, db_path);
    return sw_err(err, SW_EINPUT, "no sweep '%s' in %s (sweeps: %s)", name, db_path, list);
}

void cli_drop_checkpoint_dir(store *db, const char *dir)
{
    sweep_status *st = NULL;
    int n = 0, live = 0;
    sw_error e = {0};
    if (store_status(db, &st, &n, &e) != SW_OK)
        return;
    for (int i = 0; i < n; i++)
        live += st[i].count[RUN_RUNNING];
    free(st);
    if (!live)
        rmdir(dir);   /* fails, as it should, while a checkpoint is in it */
}

void cli_warn_threads(int jobs, int threads, int cores)
{
    long all = (long)jobs * threads;
    if (all <= cores)
        return;
    if (jobs > 1)
        fprintf(stderr, "sweep: warning: %d jobs x %d thread%s = %ld threads on %d core%s: "
                "each training runs slower than it would alone\n", jobs, threads,
                threads == 1 ? "" : "s", all, cores, cores == 1 ? "" : "s");
    else
        fprintf(stderr, "sweep: warning: %d threads on %d core%s: the training runs slower "
                "than on %d\n", threads, cores, cores == 1 ? "" : "s", cores);
}

int cli_refuse_db_output(const char *cmd, const char *out_path, const char *db_path,
                         sw_error *err)
{
    static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
        char name[4200];
        snprintf(name, sizeof name, "%s%s", db_path, sfx[i]);
        if (strcmp(out_path, name) == 0 || sw_same_file(out_path, name))
            return sw_err(err, SW_EINPUT, "sweep %s: -o %s is the database%s%s; choose another "
                          "file", cmd, out_path, i ? "'s " : "", i ? sfx[i] + 1 : "");
    }
    return SW_OK;
}
