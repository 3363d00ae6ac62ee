/* config.c: the YAML grid of SPEC §3.
 *
 * libyaml's event parser builds a small tree of our own (scalars keep their
 * text and 1-based place), then typed readers walk it. Building the tree from
 * events rather than with yaml_parser_load lets us refuse aliases (and so
 * "billion laughs") at the first one, and stop deep nesting before it costs
 * stack or memory. The only file that includes yaml.h.
 *
 * Values: numbers are decimal ("0.25", "1e-3"; integers as digits only, so
 * "2.5" or "1e3" epochs are errors); quoted numbers are read as numbers too
 * (as OmegaConf does for typed fields); nan, inf, hex and YAML tags are
 * refused; ~, null and an empty value are "nothing".
 *
 * Limits: files up to CONFIG_MAX_BYTES, nesting up to MAX_DEPTH, at most
 * MAX_NODES YAML nodes, AXIS_MAX_VALUES values per axis, GRID_MAX_RUNS runs
 * (counted before excludes, relu once whatever the alphas), MAX_EXCLUDE
 * exclude rules (which bounds grid_expand's matching to ~0.5 s). */
#include "sweep/config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#define CONFIG_MAX_BYTES (4L << 20)
#define MAX_DEPTH 32
#define MAX_NODES 250000L   /* a legal grid needs about 120000 */
#define MAX_EXCLUDE 1000
#define NAME_MAX_CHARS 200
#define EPOCHS_MAX 100000
#define BATCH_MAX 65536
#define TWO_POW_53 9007199254740992.0

/* ------------------------------------------------------------------ */
/* Name tables (our own, so config does not depend on nn/ or train/).   */

static const char *const axis_names[AXIS_COUNT] = {
    "activation", "alpha", "model", "init", "dropout", "epochs", "batch_size",
    "learning_rate", "seed",
};
/* Indexed by act_kind, init_kind and optim_kind. */
static const char *const act_names[] = {"relu", "elu", "leaky_relu", "prelu"};
static const char *const init_names[] = {"he", "glorot"};
static const char *const optim_names[] = {"adam", "sgd"};
/* Indexed by es_monitor - 1. */
static const char *const monitor_names[] = {"val_loss", "val_accuracy"};

const char *axis_name(axis_id a)
{
    return a >= 0 && a < AXIS_COUNT ? axis_names[a] : "?";
}

/* ------------------------------------------------------------------ */
/* The YAML tree.                                                      */

typedef enum { Y_SCALAR, Y_SEQ, Y_MAP } ytype;

typedef struct ynode {
    ytype type;
    int line, col;          /* 1-based */
    int plain;              /* plain scalar (only those can be null) */
    char *s;                /* scalar text, NUL-terminated (may hold NULs) */
    size_t len;
    struct ynode **kid;     /* items; for maps key, value, key, value... */
    int n, cap;
} ynode;

typedef struct {
    const char *path;
    sw_error *err;
    long nodes;
} parser;

static void tree_free(ynode *n)
{
    if (!n)
        return;
    for (int i = 0; i < n->n; i++)
        tree_free(n->kid[i]);
    free(n->kid);
    free(n->s);
    free(n);
}

static int clamp_int(size_t v)
{
    return v >= 0x7fffffff ? 0x7fffffff : (int)v;
}

static int fail_at(parser *p, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_at(parser *p, int line, int col, const char *fmt, ...)
{
    char msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sw_err(p->err, SW_EINPUT, "%s:%d:%d: %s", p->path, line, col, msg);
    return SW_EINPUT;
}

static int fail(parser *p, const ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(parser *p, const ynode *n, const char *fmt, ...)
{
    char msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sw_err(p->err, SW_EINPUT, "%s:%d:%d: %s", p->path, n ? n->line : 1,
           n ? n->col : 1, msg);
    return SW_EINPUT;
}

static int oom(parser *p)
{
    sw_err(p->err, SW_EINPUT, "%s: out of memory reading the config", p->path);
    return SW_EINPUT;
}

/* Line and column (1-based, counting characters) of a byte offset; libyaml
 * gives reader errors (bad UTF-8, control characters) only as offsets. */
static void offset_place(const char *text, size_t len, size_t off, int *line, int *col)
{
    int l = 1, c = 1;
    if (off > len)
        off = len;
    for (size_t i = 0; i < off; i++) {
        unsigned char b = (unsigned char)text[i];
        if (b == '\n' || (b == '\r' && (i + 1 >= len || text[i + 1] != '\n'))) {
            l++;
            c = 1;
        } else if (b != '\r' && (b & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

static int yaml_failure(parser *p, const yaml_parser_t *yp, const char *text, size_t len)
{
    const char *problem = yp->problem ? yp->problem : "invalid YAML";
    int line, col;
    switch (yp->error) {
    case YAML_MEMORY_ERROR:
        return oom(p);
    case YAML_READER_ERROR:
        offset_place(text, len, yp->problem_offset, &line, &col);
        if (yp->problem_value >= 0)
            return fail_at(p, line, col, "%s (0x%X); the file must be UTF-8 text",
                           problem, (unsigned)yp->problem_value);
        return fail_at(p, line, col, "%s; the file must be UTF-8 text", problem);
    default:
        line = clamp_int(yp->problem_mark.line) + 1;
        col = clamp_int(yp->problem_mark.column) + 1;
        if (yp->context)
            return fail_at(p, line, col, "YAML syntax error: %s (%s at line %d, column %d)",
                           problem, yp->context,
                           clamp_int(yp->context_mark.line) + 1,
                           clamp_int(yp->context_mark.column) + 1);
        return fail_at(p, line, col, "YAML syntax error: %s", problem);
    }
}

static ynode *node_new(parser *p, ytype t, yaml_mark_t m)
{
    ynode *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->type = t;
    n->line = clamp_int(m.line) + 1;
    n->col = clamp_int(m.column) + 1;
    p->nodes++;
    return n;
}

static int node_add(ynode *parent, ynode *child)
{
    if (parent->n == parent->cap) {
        int cap = parent->cap ? parent->cap * 2 : 4;
        ynode **k = realloc(parent->kid, (size_t)cap * sizeof *k);
        if (!k)
            return -1;
        parent->kid = k;
        parent->cap = cap;
    }
    parent->kid[parent->n++] = child;
    return 0;
}

/* Text for a one-line message: control bytes as '?', cut at 40
 * characters on a UTF-8 boundary. */
static const char *clip_text(const char *s, size_t len, char *buf, size_t size)
{
    size_t o = 0, chars = 0;
    for (size_t i = 0; i < len && o + 8 < size; i++) {
        unsigned char b = (unsigned char)s[i];
        if ((b & 0xC0) != 0x80 && chars++ == 40) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        buf[o++] = (char)(b < 0x20 || b == 0x7f ? '?' : b);
    }
    buf[o] = '\0';
    return buf;
}

static const char *clip(const ynode *n, char *buf, size_t size)
{
    return clip_text(n->s, n->len, buf, size);
}

/* Handles one node event: makes the node, hangs it on its parent. */
static int on_node(parser *p, const yaml_event_t *ev, ynode **stack, int *depth,
                   ynode **root)
{
    const yaml_char_t *tag = NULL;
    ytype t;
    if (ev->type == YAML_SCALAR_EVENT) {
        t = Y_SCALAR;
        tag = ev->data.scalar.tag;
    } else if (ev->type == YAML_SEQUENCE_START_EVENT) {
        t = Y_SEQ;
        tag = ev->data.sequence_start.tag;
    } else {
        t = Y_MAP;
        tag = ev->data.mapping_start.tag;
    }
    int line = clamp_int(ev->start_mark.line) + 1;
    int col = clamp_int(ev->start_mark.column) + 1;
    /* Tags could ask for types we do not have; plain values are enough. */
    if (tag) {
        char b[200];
        return fail_at(p, line, col, "YAML tags are not supported (%s)",
                       clip_text((const char *)tag, strlen((const char *)tag), b, sizeof b));
    }
    if (p->nodes >= MAX_NODES)
        return fail_at(p, line, col, "too many YAML values (more than %ld)", MAX_NODES);
    if (t != Y_SCALAR && *depth >= MAX_DEPTH)
        return fail_at(p, line, col, "nesting is too deep (more than %d levels)", MAX_DEPTH);

    ynode *n = node_new(p, t, ev->start_mark);
    if (!n)
        return oom(p);
    if (t == Y_SCALAR) {
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        n->len = ev->data.scalar.length;
        n->s = malloc(n->len + 1);
        if (!n->s) {
            tree_free(n);
            return oom(p);
        }
        memcpy(n->s, ev->data.scalar.value, n->len);
        n->s[n->len] = '\0';
    }
    if (*depth == 0) {
        tree_free(*root);    /* cannot happen: one root per document */
        *root = n;
    } else if (node_add(stack[*depth - 1], n) != 0) {
        tree_free(n);
        return oom(p);
    }
    if (t != Y_SCALAR)
        stack[(*depth)++] = n;
    return 0;
}

/* Parses text into *root (NULL when the stream holds no document). */
static int load_tree(parser *p, const char *text, size_t len, ynode **root)
{
    yaml_parser_t yp;
    ynode *stack[MAX_DEPTH];
    int depth = 0, docs = 0, done = 0, rc = 0;

    *root = NULL;
    if (!yaml_parser_initialize(&yp))
        return oom(p);
    yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
    /* Forced, so that a UTF-16 or UTF-32 byte order mark is an error
     * rather than a silent change of encoding. */
    yaml_parser_set_encoding(&yp, YAML_UTF8_ENCODING);
    while (!done && rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&yp, &ev)) {
            rc = yaml_failure(p, &yp, text, len);
            break;
        }
        int line = clamp_int(ev.start_mark.line) + 1;
        int col = clamp_int(ev.start_mark.column) + 1;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (docs++)
                rc = fail_at(p, line, col,
                             "a config holds one YAML document, found a second one");
            break;
        case YAML_ALIAS_EVENT: {
            /* Refusing aliases also defuses exponential "billion laughs". */
            char b[200];
            const char *a = (const char *)ev.data.alias.anchor;
            rc = fail_at(p, line, col, "aliases are not supported (*%s)",
                         clip_text(a, strlen(a), b, sizeof b));
            break;
        }
        case YAML_SCALAR_EVENT:
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            rc = on_node(p, &ev, stack, &depth, root);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (depth > 0)
                depth--;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&yp);
    if (rc) {
        tree_free(*root);
        *root = NULL;
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Node helpers.                                                       */

static int is_null(const ynode *n)
{
    if (!n || n->type != Y_SCALAR || !n->plain)
        return 0;
    return n->len == 0 || strcmp(n->s, "~") == 0 || strcmp(n->s, "null") == 0 ||
           strcmp(n->s, "Null") == 0 || strcmp(n->s, "NULL") == 0;
}

/* What a node is, for "got ..." in messages: 'text', nothing, a list... */
static const char *show(const ynode *n, char *buf, size_t size)
{
    if (n->type == Y_SEQ)
        return "a list";
    if (n->type == Y_MAP)
        return "a mapping";
    if (is_null(n))
        return "nothing";
    buf[0] = '\'';
    clip(n, buf + 1, size - 2);
    strcat(buf, "'");
    return buf;
}

/* ------------------------------------------------------------------ */
/* Suggestions for misspelt keys and names.                            */

/* Optimal string alignment distance (a swap of neighbours costs 1);
 * both strings at most 64 bytes. */
static int osa_distance(const char *a, int na, const char *b, int nb)
{
    int rows[3][66];
    int *r2 = rows[0], *r1 = rows[1], *r0 = rows[2];   /* rows i-2, i-1, i */
    for (int j = 0; j <= nb; j++)
        r1[j] = j;
    for (int i = 1; i <= na; i++) {
        r0[0] = i;
        for (int j = 1; j <= nb; j++) {
            int v = r1[j - 1] + (a[i - 1] != b[j - 1]);
            if (r1[j] + 1 < v)
                v = r1[j] + 1;
            if (r0[j - 1] + 1 < v)
                v = r0[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                r2[j - 2] + 1 < v)
                v = r2[j - 2] + 1;
            r0[j] = v;
        }
        int *t = r2;
        r2 = r1;
        r1 = r0;
        r0 = t;
    }
    return r1[nb];
}

/* The closest of cands to word, or NULL: a case variant, an edit distance
 * of at most 2 (1 for short names), or a prefix of at least 3 letters. */
static const char *suggest(const char *word, size_t len, const char *const *cands, int n)
{
    char w[65];
    if (len == 0 || len > 64)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        char ch = word[i];
        w[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
    }
    w[len] = '\0';
    const char *best = NULL;
    int best_d = 1000;
    for (int k = 0; k < n; k++) {
        int cl = (int)strlen(cands[k]);
        int dist = osa_distance(w, (int)len, cands[k], cl);
        int limit = cl / 3 < 1 ? 1 : cl / 3 > 2 ? 2 : cl / 3;
        if (dist > limit) {
            int prefix = (len >= 3 && strncmp(w, cands[k], len) == 0) ||
                         ((size_t)cl >= 3 && strncmp(w, cands[k], (size_t)cl) == 0);
            if (!prefix)
                continue;
            dist = 3;   /* after any close spelling */
        }
        if (dist < best_d) {
            best_d = dist;
            best = cands[k];
        }
    }
    return best;
}

static void join_names(const char *const *names, int n, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : "", names[i]);
}

/* ------------------------------------------------------------------ */
/* Mappings with a known set of keys.                                  */

/* Checks map's keys against names and sets keys[i], vals[i] to the nodes
 * of names[i] (NULL when absent). where names the mapping in messages. */
static int map_fields(parser *p, const ynode *map, const char *where,
                      const char *const *names, int n_names,
                      const ynode **keys, const ynode **vals)
{
    char b[200], list[300];
    for (int i = 0; i < n_names; i++)
        keys[i] = vals[i] = NULL;
    for (int k = 0; k + 1 < map->n; k += 2) {
        const ynode *key = map->kid[k];
        if (key->type != Y_SCALAR)
            return fail(p, key, "keys must be names, got %s", show(key, b, sizeof b));
        int i = 0;
        while (i < n_names && !(strlen(names[i]) == key->len && strcmp(names[i], key->s) == 0))
            i++;
        if (i == n_names) {
            const char *s = suggest(key->s, key->len, names, n_names);
            char t[200];
            clip(key, t, sizeof t);
            join_names(names, n_names, list, sizeof list);
            if (s)
                return fail(p, key, "unknown key '%s'%s%s (did you mean '%s'?)", t,
                            *where ? " in " : "", where, s);
            return fail(p, key, "unknown key '%s'%s%s (expected one of: %s)", t,
                        *where ? " in " : "", where, list);
        }
        if (keys[i])
            return fail(p, key, "duplicate key '%s' (first given at line %d)",
                        names[i], keys[i]->line);
        keys[i] = key;
        vals[i] = map->kid[k + 1];
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Typed values.                                                       */

typedef enum { F_ENUM, F_INT, F_REAL } fkind;

typedef struct {
    const char *name;
    fkind kind;
    double lo, hi;           /* bounds */
    int lo_open, hi_open;    /* F_REAL: bound excluded */
    const char *const *names;
    int n_names;             /* F_ENUM */
    const char *want;        /* F_INT: "a positive integer" */
} field;

static const field axis_fields[AXIS_COUNT] = {
    [AXIS_ACTIVATION] = {"activation", F_ENUM, 0, 0, 0, 0, act_names, 4, NULL},
    [AXIS_ALPHA] = {"alpha", F_REAL, 0, INFINITY, 1, 1, NULL, 0, NULL},
    [AXIS_MODEL] = {"model", F_INT, 0, 0, 0, 0, NULL, 0, "a model"},   /* parse_models */
    [AXIS_INIT] = {"init", F_ENUM, 0, 0, 0, 0, init_names, 2, NULL},
    [AXIS_DROPOUT] = {"dropout", F_REAL, 0, 1, 0, 1, NULL, 0, NULL},
    [AXIS_EPOCHS] = {"epochs", F_INT, 1, EPOCHS_MAX, 0, 0, NULL, 0, "a positive integer"},
    [AXIS_BATCH_SIZE] = {"batch_size", F_INT, 1, BATCH_MAX, 0, 0, NULL, 0,
                         "a positive integer"},
    [AXIS_LEARNING_RATE] = {"learning_rate", F_REAL, 0, INFINITY, 1, 1, NULL, 0, NULL},
    [AXIS_SEED] = {"seed", F_INT, 0, TWO_POW_53, 0, 0, NULL, 0,
                   "an integer in [0, 9007199254740992]"},
};
static const field f_validation_split = {"validation_split", F_REAL, 0, 1, 1, 1, NULL, 0, NULL};
static const field f_train_limit = {"train_limit", F_INT, 0, TWO_POW_53, 0, 0, NULL, 0,
                                    "an integer >= 0"};
static const field f_optimizer = {"optimizer", F_ENUM, 0, 0, 0, 0, optim_names, 2, NULL};
static const field f_monitor = {"monitor", F_ENUM, 0, 0, 0, 0, monitor_names, 2, NULL};
static const field f_patience = {"patience", F_INT, 1, EPOCHS_MAX, 0, 0, NULL, 0,
                                 "a positive integer"};
static const field f_conv = {"conv", F_INT, 1, MODEL_MAX_CHANNELS, 0, 0, NULL, 0,
                             "a channel count in [1, 4096]"};
static const field f_dense = {"dense", F_INT, 1, MODEL_MAX_WIDTH, 0, 0, NULL, 0,
                              "a width in [1, 65536]"};

/* "in [0, 1)" or "> 0". */
static const char *range_text(const field *f, char *buf, size_t size)
{
    if (isinf(f->hi))
        snprintf(buf, size, "%s %g", f->lo_open ? ">" : ">=", f->lo);
    else
        snprintf(buf, size, "in %c%g, %g%c", f->lo_open ? '(' : '[', f->lo, f->hi,
                 f->hi_open ? ')' : ']');
    return buf;
}

/* Decimal integer, optional sign, nothing else. 0 ok, 1 not an integer,
 * 2 out of the range of long long. */
static int parse_int(const char *s, size_t len, long long *out)
{
    size_t i = s[0] == '+' || s[0] == '-';
    if (len == 0 || strlen(s) != len || i == len)
        return 1;
    for (size_t k = i; k < len; k++)
        if (s[k] < '0' || s[k] > '9')
            return 1;
    if (len > 1000)
        return 2;
    errno = 0;
    *out = strtoll(s, NULL, 10);
    return errno == ERANGE ? 2 : 0;
}

/* Decimal number ("0.25", "1e-3", "5"), no hex, nan, inf or spaces. 0 ok,
 * 1 not a number, 2 too large for a double. */
static int parse_real(const char *s, size_t len, double *out)
{
    if (len == 0 || strlen(s) != len || len > 1000)   /* no one writes more */
        return 1;
    for (size_t k = 0; k < len; k++)
        if (!strchr("0123456789+-.eE", s[k]))
            return 1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end != s + len)
        return 1;
    if (isinf(v))
        return 2;
    *out = v + 0.0;   /* -0 becomes 0, so equal settings print alike */
    return 0;
}

/* Reads one scalar as field f. elu_note: explain alpha > 0 for ELU. */
static int parse_value(parser *p, const field *f, const ynode *n, double *out, int elu_note)
{
    char b[200], t[200], r[64], list[200];
    if (f->kind == F_ENUM) {
        join_names(f->names, f->n_names, list, sizeof list);
        if (n->type == Y_SCALAR && !is_null(n)) {
            for (int i = 0; i < f->n_names; i++)
                if (strlen(f->names[i]) == n->len && strcmp(f->names[i], n->s) == 0) {
                    *out = i;
                    return 0;
                }
            const char *s = suggest(n->s, n->len, f->names, f->n_names);
            if (s)
                return fail(p, n, "%s must be one of %s, got %s (did you mean '%s'?)",
                            f->name, list, show(n, b, sizeof b), s);
        }
        return fail(p, n, "%s must be one of %s, got %s", f->name, list, show(n, b, sizeof b));
    }

    if (f->kind == F_INT) {
        long long v = 0;
        int rc = n->type == Y_SCALAR && !is_null(n) ? parse_int(n->s, n->len, &v) : 1;
        if (rc == 1)
            return fail(p, n, "%s must be %s, got %s", f->name, f->want, show(n, b, sizeof b));
        clip(n, t, sizeof t);
        /* compared as integers: 2^53 + 1 is 2^53 as a double */
        if ((rc == 2 && n->s[0] == '-') || (rc == 0 && v < (long long)f->lo))
            return fail(p, n, "%s must be %s, got %s", f->name, f->want, t);
        if (rc == 2 || v > (long long)f->hi)
            return fail(p, n, "%s must be at most %.0f, got %s", f->name, f->hi, t);
        *out = (double)v;
        return 0;
    }

    double v = 0;
    int rc = n->type == Y_SCALAR && !is_null(n) ? parse_real(n->s, n->len, &v) : 1;
    range_text(f, r, sizeof r);
    if (rc == 1)
        return fail(p, n, "%s must be a number %s, got %s", f->name, r, show(n, b, sizeof b));
    clip(n, t, sizeof t);
    if (rc == 2)
        return fail(p, n, "%s must be a finite number %s, got %s", f->name, r, t);
    if (v < f->lo || (f->lo_open && v == f->lo) || v > f->hi || (f->hi_open && v == f->hi))
        return fail(p, n, "%s must be %s, got %s%s", f->name, r, t,
                    elu_note ? " (ELU needs alpha > 0, Clevert et al.)" : "");
    *out = v;
    return 0;
}

/* A string setting: a non-null scalar without NUL bytes. */
static int parse_string(parser *p, const char *name, const ynode *n, char **out)
{
    char b[200];
    if (n->type != Y_SCALAR || is_null(n) || n->len == 0)
        return fail(p, n, "%s must be a non-empty string, got %s", name, show(n, b, sizeof b));
    if (strlen(n->s) != n->len)
        return fail(p, n, "%s must not contain NUL characters", name);
    *out = strdup(n->s);
    return *out ? 0 : oom(p);
}

/* ------------------------------------------------------------------ */
/* Grid axes.                                                          */

typedef struct {
    double v;
    int i;
} value_at;

static int cmp_value_at(const void *pa, const void *pb)
{
    const value_at *a = pa, *b = pb;
    if (a->v != b->v)
        return a->v < b->v ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

/* Refuses repeated values (they would be silently repeated runs); sorts a
 * copy so that 100000 seeds stay fast, and names the first repeat in the
 * file. */
static int check_repeats(parser *p, const field *f, const ynode *const *items,
                         const double *v, int n)
{
    if (n < 2)
        return 0;
    value_at *s = malloc((size_t)n * sizeof *s);
    if (!s)
        return oom(p);
    for (int i = 0; i < n; i++)
        s[i] = (value_at){v[i], i};
    qsort(s, (size_t)n, sizeof *s, cmp_value_at);
    int first = -1;
    for (int i = 1; i < n; i++)
        if (s[i].v == s[i - 1].v && (first < 0 || s[i].i < first))
            first = s[i].i;
    free(s);
    if (first < 0)
        return 0;
    char t[200];
    return fail(p, items[first], "duplicate value %s in %s", clip(items[first], t, sizeof t),
                f->name);
}

/* seed: {from: A, to: B}, inclusive. */
static int parse_seed_range(parser *p, const ynode *map, axis_values *ax)
{
    static const char *const names[] = {"from", "to"};
    const ynode *k[2], *v[2];
    double from, to;
    int rc = map_fields(p, map, "seed range", names, 2, k, v);
    if (rc)
        return rc;
    if (!v[0] || !v[1])
        return fail(p, map, "a seed range needs 'from' and 'to', like {from: 1, to: 10}");
    if ((rc = parse_value(p, &axis_fields[AXIS_SEED], v[0], &from, 0)) ||
        (rc = parse_value(p, &axis_fields[AXIS_SEED], v[1], &to, 0)))
        return rc;
    if (from > to)
        return fail(p, v[1], "the seed range is empty: 'to' (%.0f) is less than 'from' (%.0f)",
                    to, from);
    if (to - from + 1 > AXIS_MAX_VALUES)
        return fail(p, map, "the seed range has %.0f values, more than the limit of %d",
                    to - from + 1, AXIS_MAX_VALUES);
    int n = (int)(to - from) + 1;
    ax->v = malloc((size_t)n * sizeof *ax->v);
    if (!ax->v)
        return oom(p);
    ax->n = n;
    for (int i = 0; i < n; i++)
        ax->v[i] = from + i;
    return 0;
}

static int parse_axis(parser *p, axis_id a, const ynode *key, const ynode *val,
                      axis_values *ax, int elu_note)
{
    const field *f = &axis_fields[a];
    char b[200];
    ax->line = key->line;
    ax->col = key->col;
    if (val->type == Y_MAP) {
        if (a == AXIS_SEED)
            return parse_seed_range(p, val, ax);
        return fail(p, val, "%s must be a value or a list of values, got a mapping", f->name);
    }
    if (is_null(val))
        return fail(p, val, "%s has no value: give a value or a list, or leave the key out",
                    f->name);
    const ynode *const *items = (const ynode *const *)&val;
    int n = 1;
    if (val->type == Y_SEQ) {
        items = (const ynode *const *)val->kid;
        n = val->n;
        if (n == 0)
            return fail(p, val, "%s must not be an empty list", f->name);
        if (n > AXIS_MAX_VALUES)
            return fail(p, val, "%s has %d values, more than the limit of %d", f->name, n,
                        AXIS_MAX_VALUES);
    }
    ax->v = malloc((size_t)n * sizeof *ax->v);
    if (!ax->v)
        return oom(p);
    ax->n = n;
    for (int i = 0; i < n; i++) {
        int rc;
        if (items[i]->type != Y_SCALAR)
            return fail(p, items[i], "%s values must be single values, got %s", f->name,
                        show(items[i], b, sizeof b));
        if ((rc = parse_value(p, f, items[i], &ax->v[i], elu_note)))
            return rc;
    }
    return check_repeats(p, f, items, ax->v, n);
}

static int set_single(parser *p, axis_values *ax, double v, int line, int col)
{
    ax->v = malloc(sizeof *ax->v);
    if (!ax->v)
        return oom(p);
    ax->n = 1;
    ax->v[0] = v;
    ax->line = line;
    ax->col = col;
    return 0;
}

static int has_value(const axis_values *ax, double v)
{
    for (int i = 0; i < ax->n; i++)
        if (ax->v[i] == v)
            return 1;
    return 0;
}

/* Runs before excludes: relu ignores alpha, so it counts once. Doubles hold
 * the product exactly up to 2^53 and cannot overflow (9 axes of <= 1e5). */
static double grid_count(const sweep_config *c)
{
    const axis_values *act = &c->axis[AXIS_ACTIVATION];
    double relu = has_value(act, ACT_RELU);
    double total = relu + (act->n - relu) * c->axis[AXIS_ALPHA].n;
    for (int a = 0; a < AXIS_COUNT; a++)
        if (a != AXIS_ACTIVATION && a != AXIS_ALPHA)
            total *= c->axis[a].n;
    return total;
}

/* ------------------------------------------------------------------ */
/* Models.                                                             */

void model_shape_default(model_shape *m)
{
    memset(m, 0, sizeof *m);
    m->n_conv = 2;
    m->conv[0] = 32;
    m->conv[1] = 64;
    m->n_dense = 1;
    m->dense[0] = 256;
}

int model_shape_equal(const model_shape *a, const model_shape *b)
{
    if (a->n_conv != b->n_conv || a->n_dense != b->n_dense)
        return 0;
    for (int i = 0; i < a->n_conv; i++)
        if (a->conv[i] != b->conv[i])
            return 0;
    for (int i = 0; i < a->n_dense; i++)
        if (a->dense[i] != b->dense[i])
            return 0;
    return 1;
}

int model_shape_is_default(const model_shape *m)
{
    model_shape d;
    model_shape_default(&d);
    return model_shape_equal(m, &d);
}

void model_shape_text(const model_shape *m, char *buf, size_t size)
{
    size_t o = 0;
    if (!size)
        return;
    buf[0] = '\0';
    o += (size_t)snprintf(buf + o, o < size ? size - o : 0, "conv=");
    for (int i = 0; i < m->n_conv && i < MODEL_MAX_CONV; i++)
        o += (size_t)snprintf(buf + o, o < size ? size - o : 0, "%s%d", i ? "-" : "", m->conv[i]);
    o += (size_t)snprintf(buf + o, o < size ? size - o : 0, ";dense=");
    if (m->n_dense == 0)
        snprintf(buf + o, o < size ? size - o : 0, "none");
    for (int i = 0; i < m->n_dense && i < MODEL_MAX_DENSE; i++)
        o += (size_t)snprintf(buf + o, o < size ? size - o : 0, "%s%d", i ? "-" : "", m->dense[i]);
}

/* As written in YAML: "{conv: [32, 64], dense: [256]}". */
static void model_yaml_text(const model_shape *m, char *buf, size_t size)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, o < size ? size - o : 0, "{conv: [");
    for (int i = 0; i < m->n_conv && i < MODEL_MAX_CONV; i++)
        o += (size_t)snprintf(buf + o, o < size ? size - o : 0, "%s%d", i ? ", " : "", m->conv[i]);
    o += (size_t)snprintf(buf + o, o < size ? size - o : 0, "], dense: [");
    for (int i = 0; i < m->n_dense && i < MODEL_MAX_DENSE; i++)
        o += (size_t)snprintf(buf + o, o < size ? size - o : 0, "%s%d", i ? ", " : "", m->dense[i]);
    snprintf(buf + o, o < size ? size - o : 0, "]}");
}

int model_shape_fits(const model_shape *m, int h, int w, int *block, int *bh, int *bw)
{
    for (int k = 0; k < m->n_conv; k++) {
        if (h < 4 || w < 4) {
            *block = k + 1;
            *bh = h;
            *bw = w;
            return 0;
        }
        h = (h - 2) / 2;
        w = (w - 2) / 2;
    }
    return 1;
}

double model_shape_params(const model_shape *m, int h, int w, int n_classes)
{
    int block, bh, bw;
    if (!model_shape_fits(m, h, w, &block, &bh, &bw))
        return -1;
    double total = 0, c = 1;
    for (int k = 0; k < m->n_conv; k++) {
        total += (double)m->conv[k] * c * 9 + m->conv[k];
        c = m->conv[k];
        h = (h - 2) / 2;
        w = (w - 2) / 2;
    }
    double in = c * h * w;
    for (int k = 0; k <= m->n_dense; k++) {
        double out = k < m->n_dense ? m->dense[k] : n_classes;
        total += out * in + out;
        in = out;
    }
    return total;
}

/* Checks m against h x w images; what names them in messages. */
static int check_model_fits(parser *p, const config_model *m, int h, int w, const char *what)
{
    char t[400];
    int block, bh, bw;
    model_yaml_text(&m->shape, t, sizeof t);
    const char *dflt = m->line ? "" : "the default ";
    if (!model_shape_fits(&m->shape, h, w, &block, &bh, &bw)) {
        int line = m->line ? m->conv_line[block - 1] : 0, col = m->line ? m->conv_col[block - 1] : 0;
        char msg[800];
        snprintf(msg, sizeof msg,
                 "%smodel %s does not fit %s%dx%d images: conv block %d gets a %dx%d input, and "
                 "a 3x3 conv then a 2x2 pool need at least 4x4 (at most %d conv block%s)",
                 dflt, t, what, h, w, block, bh, bw, block - 1, block == 2 ? " fits" : "s fit");
        if (line)
            return fail_at(p, line, col, "%s", msg);
        sw_err(p->err, SW_EINPUT, "%s: %s", p->path, msg);
        return SW_EINPUT;
    }
    double params = model_shape_params(&m->shape, h, w, 10);
    if (params > MODEL_MAX_PARAMS) {
        char msg[800];
        snprintf(msg, sizeof msg,
                 "%smodel %s has %.0f parameters on %s%dx%d images, more than the limit of %ld",
                 dflt, t, params, what, h, w, MODEL_MAX_PARAMS);
        if (m->line)
            return fail_at(p, m->line, m->col, "%s", msg);
        sw_err(p->err, SW_EINPUT, "%s: %s", p->path, msg);
        return SW_EINPUT;
    }
    return 0;
}

/* A list of layer sizes (or one size): conv or dense of a model. */
static int parse_sizes(parser *p, const field *f, const ynode *n, int max, int allow_empty,
                       int *out, int *count, int *lines, int *cols)
{
    char b[200];
    const ynode *const *items = (const ynode *const *)&n;
    int len = 1;
    if (n->type == Y_MAP || is_null(n))
        return fail(p, n, "%s must be a list of sizes like [32, 64], got %s", f->name,
                    show(n, b, sizeof b));
    if (n->type == Y_SEQ) {
        items = (const ynode *const *)n->kid;
        len = n->n;
    }
    if (len == 0 && !allow_empty)
        return fail(p, n, "%s must list at least one %s block", f->name, f->name);
    if (len > max)
        return fail(p, n, "%s has %d layers, more than the limit of %d", f->name, len, max);
    for (int i = 0; i < len; i++) {
        double v;
        int rc;
        if (items[i]->type != Y_SCALAR)
            return fail(p, items[i], "%s sizes must be single values, got %s", f->name,
                        show(items[i], b, sizeof b));
        if ((rc = parse_value(p, f, items[i], &v, 0)))
            return rc;
        out[i] = (int)v;
        if (lines) {
            lines[i] = items[i]->line;
            cols[i] = items[i]->col;
        }
    }
    *count = len;
    return 0;
}

/* One model mapping, {conv: [...], dense: [...]}; a key left out keeps the
 * default model's layers. fit: check it against 28x28 images. */
static int parse_model(parser *p, const ynode *n, config_model *m, int fit)
{
    static const char *const names[] = {"conv", "dense"};
    const ynode *k[2], *v[2];
    char b[200];
    int rc;
    memset(m, 0, sizeof *m);
    model_shape_default(&m->shape);
    m->line = n->line;
    m->col = n->col;
    for (int i = 0; i < m->shape.n_conv; i++) {
        m->conv_line[i] = n->line;
        m->conv_col[i] = n->col;
    }
    if (n->type != Y_MAP)
        return fail(p, n, "a model must be a mapping like {conv: [32, 64], dense: [256]}, got %s",
                    show(n, b, sizeof b));
    if ((rc = map_fields(p, n, "model", names, 2, k, v)))
        return rc;
    if (v[0] && (rc = parse_sizes(p, &f_conv, v[0], MODEL_MAX_CONV, 0, m->shape.conv,
                                  &m->shape.n_conv, m->conv_line, m->conv_col)))
        return rc;
    if (v[1] && (rc = parse_sizes(p, &f_dense, v[1], MODEL_MAX_DENSE, 1, m->shape.dense,
                                  &m->shape.n_dense, NULL, NULL)))
        return rc;
    return fit ? check_model_fits(p, m, 28, 28, "") : 0;
}

/* model: at the top level (one model) or as a grid axis (one or a list). */
static int parse_models(parser *p, const ynode *key, const ynode *val, sweep_config *c)
{
    char b[200];
    const ynode *const *items = (const ynode *const *)&val;
    int n = 1;
    if (is_null(val))
        return fail(p, val, "model has no value: give a mapping like {conv: [32, 64], "
                            "dense: [256]} or a list of them, or leave the key out");
    if (val->type == Y_SEQ) {
        items = (const ynode *const *)val->kid;
        n = val->n;
        if (n == 0)
            return fail(p, val, "model must not be an empty list");
        /* the duplicate check below is quadratic; a thousand architectures
         * in one grid is already far past a study anyone runs */
        if (n > MODEL_AXIS_MAX)
            return fail(p, val, "model has %d values, more than the limit of %d", n,
                        MODEL_AXIS_MAX);
    }
    c->models = calloc((size_t)n, sizeof *c->models);
    c->axis[AXIS_MODEL].v = malloc((size_t)n * sizeof *c->axis[AXIS_MODEL].v);
    if (!c->models || !c->axis[AXIS_MODEL].v)
        return oom(p);
    c->axis[AXIS_MODEL].line = key->line;
    c->axis[AXIS_MODEL].col = key->col;
    for (int i = 0; i < n; i++) {
        int rc = parse_model(p, items[i], &c->models[i], 1);
        if (rc)
            return rc;
        for (int j = 0; j < i; j++)
            if (model_shape_equal(&c->models[j].shape, &c->models[i].shape)) {
                model_yaml_text(&c->models[i].shape, b, sizeof b);
                return fail(p, items[i], "duplicate model %s in model (first given at line %d)",
                            b, c->models[j].line);
            }
        c->axis[AXIS_MODEL].v[i] = i;
        c->n_models = c->axis[AXIS_MODEL].n = i + 1;
    }
    return 0;
}

int config_check_models(const sweep_config *c, int rows, int cols, sw_error *err)
{
    parser p = {c->path ? c->path : "<config>", err, 0};
    for (int i = 0; i < c->n_models; i++) {
        int rc = check_model_fits(&p, &c->models[i], rows, cols, "the data's ");
        if (rc)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Sections.                                                           */

static int need_map(parser *p, const ynode *n, const char *name)
{
    char b[200];
    if (n->type == Y_MAP)
        return 0;
    return fail(p, n, "%s must be a mapping of settings, got %s", name, show(n, b, sizeof b));
}

static int parse_data(parser *p, const ynode *map, sweep_config *c)
{
    static const char *const names[] = {"dir", "validation_split", "train_limit"};
    const ynode *k[3], *v[3];
    double d;
    int rc = need_map(p, map, "data");
    if (rc || (rc = map_fields(p, map, "data", names, 3, k, v)))
        return rc;
    if (v[0]) {
        char *dir = NULL;
        if ((rc = parse_string(p, "dir", v[0], &dir)))
            return rc;
        free(c->data_dir);
        c->data_dir = dir;
    }
    if (v[1]) {
        if ((rc = parse_value(p, &f_validation_split, v[1], &d, 0)))
            return rc;
        c->validation_split = d;
    }
    if (v[2]) {
        if ((rc = parse_value(p, &f_train_limit, v[2], &d, 0)))
            return rc;
        c->train_limit = (long)d;
    }
    return 0;
}

/* A YAML 1.2 boolean: true or false (any case as YAML allows). */
static int parse_bool(parser *p, const char *name, const ynode *n, int *out)
{
    static const char *const t[] = {"true", "True", "TRUE"}, *const f[] = {"false", "False", "FALSE"};
    char b[200];
    if (n->type == Y_SCALAR && n->plain)
        for (int i = 0; i < 3; i++) {
            if (strcmp(n->s, t[i]) == 0 && strlen(t[i]) == n->len) {
                *out = 1;
                return 0;
            }
            if (strcmp(n->s, f[i]) == 0 && strlen(f[i]) == n->len) {
                *out = 0;
                return 0;
            }
        }
    return fail(p, n, "%s must be true or false, got %s", name, show(n, b, sizeof b));
}

/* train.early_stopping: {monitor: val_loss | val_accuracy, patience: N,
 * restore_best: true | false}; monitor defaults to val_loss and
 * restore_best to false, as in Keras; patience has no default. */
static int parse_early_stopping(parser *p, const ynode *map, sweep_config *c)
{
    static const char *const names[] = {"monitor", "patience", "restore_best"};
    const ynode *k[3], *v[3];
    double d;
    char b[200];
    int rc;
    if (is_null(map))
        return 0;
    if (map->type != Y_MAP)
        return fail(p, map, "early_stopping must be a mapping like {monitor: val_loss, "
                            "patience: 3, restore_best: true}, got %s", show(map, b, sizeof b));
    if ((rc = map_fields(p, map, "early_stopping", names, 3, k, v)))
        return rc;
    es_settings es = {ES_VAL_LOSS, 0, 0};
    for (int i = 0; i < 2; i++)
        if (v[i] && v[i]->type != Y_SCALAR)
            return fail(p, v[i], "early_stopping.%s must be a single value, got %s", names[i],
                        show(v[i], b, sizeof b));
    if (v[0]) {
        if ((rc = parse_value(p, &f_monitor, v[0], &d, 0)))
            return rc;
        es.monitor = (es_monitor)((int)d + 1);
    }
    if (!v[1])
        return fail(p, map, "early_stopping needs 'patience': the epochs without improvement "
                            "before a run stops, like {monitor: val_loss, patience: 3}");
    if ((rc = parse_value(p, &f_patience, v[1], &d, 0)))
        return rc;
    es.patience = (int)d;
    if (v[2] && (rc = parse_bool(p, "restore_best", v[2], &es.restore_best)))
        return rc;
    c->early_stopping = es;
    return 0;
}

/* train: batch_size and learning_rate become one-value axes, unless the
 * grid gives them (then both places is an error, found in parse_grid). */
static int parse_train(parser *p, const ynode *map, sweep_config *c, const ynode **k,
                       const ynode **v)
{
    static const char *const names[] = {"batch_size", "optimizer", "learning_rate",
                                        "early_stopping"};
    const field *fs[3] = {&axis_fields[AXIS_BATCH_SIZE], &f_optimizer,
                          &axis_fields[AXIS_LEARNING_RATE]};
    const ynode *kk[4], *vv[4];
    double d[3];
    char b[200];
    int rc = need_map(p, map, "train");
    if (rc || (rc = map_fields(p, map, "train", names, 4, kk, vv)))
        return rc;
    for (int i = 0; i < 3; i++) {
        k[i] = kk[i];
        v[i] = vv[i];
    }
    if (vv[3] && (rc = parse_early_stopping(p, vv[3], c)))
        return rc;
    for (int i = 0; i < 3; i++) {
        if (!v[i])
            continue;
        if (v[i]->type != Y_SCALAR)
            return fail(p, v[i], "train.%s must be a single value, got %s%s", names[i],
                        show(v[i], b, sizeof b),
                        i != 1 ? " (to try several, put it under grid:)" : "");
        if ((rc = parse_value(p, fs[i], v[i], &d[i], 0)))
            return rc;
    }
    if (v[1])
        c->optimizer = (optim_kind)d[1];
    if (v[0] && (rc = set_single(p, &c->axis[AXIS_BATCH_SIZE], d[0], k[0]->line, k[0]->col)))
        return rc;
    if (v[2] &&
        (rc = set_single(p, &c->axis[AXIS_LEARNING_RATE], d[2], k[2]->line, k[2]->col)))
        return rc;
    return 0;
}

static int parse_grid(parser *p, const ynode *map, sweep_config *c, const ynode **train_k,
                      const ynode *model_k)
{
    const ynode *k[AXIS_COUNT], *v[AXIS_COUNT];
    int rc = need_map(p, map, "grid");
    if (rc || (rc = map_fields(p, map, "grid", axis_names, AXIS_COUNT, k, v)))
        return rc;
    /* axis order: activation comes before alpha, whose message reads it */
    for (int a = 0; a < AXIS_COUNT; a++) {
        if (!v[a])
            continue;
        const ynode *tk = a == AXIS_BATCH_SIZE ? train_k[0]
                          : a == AXIS_LEARNING_RATE ? train_k[2] : NULL;
        if (tk)
            return fail(p, k[a], "%s is set in both train (line %d) and grid; keep one",
                        axis_names[a], tk->line);
        if (a == AXIS_MODEL) {
            if (model_k)
                return fail(p, k[a], "model is set both at the top level (line %d) and in "
                                     "grid; keep one", model_k->line);
            if ((rc = parse_models(p, k[a], v[a], c)))
                return rc;
            continue;
        }
        int elu = a == AXIS_ALPHA && has_value(&c->axis[AXIS_ACTIVATION], ACT_ELU);
        if ((rc = parse_axis(p, (axis_id)a, k[a], v[a], &c->axis[a], elu)))
            return rc;
    }
    return 0;
}

static int parse_exclude(parser *p, const ynode *list, sweep_config *c)
{
    char b[200];
    if (is_null(list))
        return 0;
    if (list->type != Y_SEQ)
        return fail(p, list, "exclude must be a list of rules like "
                             "'- {activation: prelu, init: glorot}', got %s",
                    show(list, b, sizeof b));
    if (list->n > MAX_EXCLUDE)
        return fail(p, list, "exclude has %d rules, more than the limit of %d", list->n,
                    MAX_EXCLUDE);
    if (list->n == 0)
        return 0;
    c->exclude = calloc((size_t)list->n, sizeof *c->exclude);
    if (!c->exclude)
        return oom(p);
    c->n_exclude = list->n;
    int elu = has_value(&c->axis[AXIS_ACTIVATION], ACT_ELU);
    for (int r = 0; r < list->n; r++) {
        const ynode *rule = list->kid[r], *k[AXIS_COUNT], *v[AXIS_COUNT];
        exclude_rule *x = &c->exclude[r];
        int rc;
        if (rule->type != Y_MAP)
            return fail(p, rule, "each exclude rule must be a mapping like "
                                 "{activation: prelu, init: glorot}, got %s",
                        show(rule, b, sizeof b));
        if (rule->n == 0)
            return fail(p, rule, "an empty exclude rule would exclude every run");
        if ((rc = map_fields(p, rule, "exclude", axis_names, AXIS_COUNT, k, v)))
            return rc;
        for (int a = 0; a < AXIS_COUNT; a++) {
            if (!v[a])
                continue;
            if (a == AXIS_MODEL) {
                /* a model not in the grid matches nothing, like any value */
                config_model m;
                if ((rc = parse_model(p, v[a], &m, 0)))
                    return rc;
                x->v[a] = -1;
                for (int i = 0; i < c->n_models; i++)
                    if (model_shape_equal(&m.shape, &c->models[i].shape))
                        x->v[a] = i;
                x->mask |= 1u << a;
                continue;
            }
            if (v[a]->type != Y_SCALAR)
                return fail(p, v[a], "exclude values must be single values, got %s",
                            show(v[a], b, sizeof b));
            if ((rc = parse_value(p, &axis_fields[a], v[a], &x->v[a], a == AXIS_ALPHA && elu)))
                return rc;
            x->mask |= 1u << a;
        }
        /* relu runs have no alpha (NULL in the database), so such a rule
         * could never match: say so rather than silently keep the runs. */
        if ((x->mask & (1u << AXIS_ACTIVATION)) && (x->mask & (1u << AXIS_ALPHA)) &&
            x->v[AXIS_ACTIVATION] == ACT_RELU)
            return fail(p, k[AXIS_ALPHA], "this rule can never match: relu runs have no alpha");
    }
    return 0;
}

static int parse_name(parser *p, const ynode *n, sweep_config *c)
{
    int rc = parse_string(p, "name", n, &c->name);
    if (rc)
        return rc;
    size_t chars = 0;
    for (size_t i = 0; i < n->len; i++) {
        unsigned char b = (unsigned char)n->s[i];
        if (b < 0x20 || b == 0x7f)
            return fail(p, n, "name must be one line without control characters");
        chars += (b & 0xC0) != 0x80;
    }
    if (chars > NAME_MAX_CHARS)
        return fail(p, n, "name is %zu characters long, more than the limit of %d", chars,
                    NAME_MAX_CHARS);
    return 0;
}

static int parse_top(parser *p, const ynode *root, sweep_config *c)
{
    static const char *const names[] = {"name", "data", "train", "model", "grid", "exclude"};
    enum { K_NAME, K_DATA, K_TRAIN, K_MODEL, K_GRID, K_EXCLUDE };
    const ynode *k[6], *v[6], *tk[3] = {NULL, NULL, NULL}, *tv[3];
    char b[200];
    int rc;

    if (!root)
        return fail_at(p, 1, 1, "the config is empty (it needs at least a 'name')");
    if (is_null(root))
        return fail(p, root, "the config is empty (it needs at least a 'name')");
    if (root->type != Y_MAP)
        return fail(p, root, "the config must be a mapping of settings "
                             "(name, data, train, model, grid, exclude), got %s",
                    show(root, b, sizeof b));
    if ((rc = map_fields(p, root, "", names, 6, k, v)))
        return rc;
    if (!v[K_NAME])
        return fail(p, root, "missing required key 'name'");
    if ((rc = parse_name(p, v[K_NAME], c)))
        return rc;

    const char *env = getenv("SWEEP_DATA");
    c->data_dir = strdup(env && *env ? env : DEFAULT_DATA_DIR);
    if (!c->data_dir)
        return oom(p);
    c->validation_split = 0.2;
    c->train_limit = 0;
    c->optimizer = OPT_ADAM;
    if (v[K_DATA] && !is_null(v[K_DATA]) && (rc = parse_data(p, v[K_DATA], c)))
        return rc;
    if (v[K_TRAIN] && !is_null(v[K_TRAIN]) && (rc = parse_train(p, v[K_TRAIN], c, tk, tv)))
        return rc;

    const ynode *model_k = v[K_MODEL] && !is_null(v[K_MODEL]) ? k[K_MODEL] : NULL;
    if (model_k) {
        if (v[K_MODEL]->type == Y_SEQ)
            return fail(p, v[K_MODEL], "model at the top level is one model; to try several, "
                                       "put the list under grid:");
        if ((rc = parse_models(p, k[K_MODEL], v[K_MODEL], c)))
            return rc;
    }
    if (v[K_GRID] && !is_null(v[K_GRID]) && (rc = parse_grid(p, v[K_GRID], c, tk, model_k)))
        return rc;
    if (c->n_models == 0) {
        c->models = calloc(1, sizeof *c->models);
        if (!c->models)
            return oom(p);
        model_shape_default(&c->models[0].shape);
        c->n_models = 1;
    }
    static const double defaults[AXIS_COUNT] = {
        [AXIS_ACTIVATION] = ACT_RELU, [AXIS_ALPHA] = 1.0, [AXIS_MODEL] = 0, [AXIS_INIT] = INIT_HE,
        [AXIS_DROPOUT] = 0.25, [AXIS_EPOCHS] = 25, [AXIS_BATCH_SIZE] = 250,
        [AXIS_LEARNING_RATE] = 0.001, [AXIS_SEED] = 1,
    };
    for (int a = 0; a < AXIS_COUNT; a++)
        if (c->axis[a].n == 0 && (rc = set_single(p, &c->axis[a], defaults[a], 0, 0)))
            return rc;

    if (v[K_EXCLUDE] && (rc = parse_exclude(p, v[K_EXCLUDE], c)))
        return rc;

    double runs = grid_count(c);
    if (runs > GRID_MAX_RUNS)
        return fail(p, k[K_GRID], "the grid expands to %.0f runs, more than the limit of %d",
                    runs, GRID_MAX_RUNS);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Public API.                                                         */

int config_parse(sweep_config *c, const char *text, size_t len, const char *path,
                 sw_error *err)
{
    parser p = {path ? path : "<config>", err, 0};
    ynode *root = NULL;
    int rc;

    memset(c, 0, sizeof *c);
    if (!text)
        len = 0;
    if (len > (size_t)CONFIG_MAX_BYTES)
        return sw_err(err, SW_EINPUT, "%s: the config is larger than %ld MiB", p.path,
                      CONFIG_MAX_BYTES >> 20);
    c->path = strdup(p.path);
    c->text = malloc(len + 1);
    if (!c->path || !c->text) {
        rc = oom(&p);
        goto done;
    }
    if (len)
        memcpy(c->text, text, len);
    c->text[len] = '\0';
    rc = load_tree(&p, c->text, len, &root);
    if (rc == 0)
        rc = parse_top(&p, root, c);
done:
    tree_free(root);
    if (rc)
        config_free(c);
    return rc;
}

int config_load(sweep_config *c, const char *path, sw_error *err)
{
    memset(c, 0, sizeof *c);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sw_err(err, SW_EINPUT, "%s: cannot read: %s", path, strerror(errno));
    /* Read one byte past the limit so that config_parse can refuse it. */
    size_t len = 0, cap = 0;
    char *buf = NULL;
    int rc = 0;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            char *nb = len > (size_t)CONFIG_MAX_BYTES ? NULL : realloc(buf, ncap);
            if (!nb) {
                if (len > (size_t)CONFIG_MAX_BYTES)
                    break;
                rc = sw_err(err, SW_EINPUT, "%s: out of memory reading the config", path);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t got = read(fd, buf + len, cap - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = sw_err(err, SW_EINPUT, "%s: cannot read: %s", path, strerror(errno));
            break;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    if (rc == 0)
        rc = config_parse(c, buf, len, path, err);
    free(buf);
    return rc;
}

void config_free(sweep_config *c)
{
    if (!c)
        return;
    for (int a = 0; a < AXIS_COUNT; a++)
        free(c->axis[a].v);
    free(c->exclude);
    free(c->models);
    free(c->name);
    free(c->data_dir);
    free(c->path);
    free(c->text);
    memset(c, 0, sizeof *c);
}
