/* yaml_tree.c: libyaml's event parser builds a small tree of our own
 * (scalars keep their text and 1-based place), which the typed readers
 * walk. Building the tree from events rather than with yaml_parser_load
 * lets us refuse aliases (and so "billion laughs") at the first one, and
 * stop deep nesting before it costs stack or memory. The only file that
 * includes yaml.h. */
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config_internal.h"

void cfg_tree_free(ynode *n)
{
    if (!n)
        return;
    for (int i = 0; i < n->n; i++)
        cfg_tree_free(n->kid[i]);
    free(n->kid);
    free(n->s);
    free(n);
}

static int clamp_int(size_t v)
{
    return v >= 0x7fffffff ? 0x7fffffff : (int)v;
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
        return cfg_oom(p);
    case YAML_READER_ERROR:
        offset_place(text, len, yp->problem_offset, &line, &col);
        if (yp->problem_value >= 0)
            return cfg_fail_at(p, line, col, "%s (0x%X); the file must be UTF-8 text",
                           problem, (unsigned)yp->problem_value);
        return cfg_fail_at(p, line, col, "%s; the file must be UTF-8 text", problem);
    default:
        line = clamp_int(yp->problem_mark.line) + 1;
        col = clamp_int(yp->problem_mark.column) + 1;
        if (yp->context)
            return cfg_fail_at(p, line, col, "YAML syntax error: %s (%s at line %d, column %d)",
                           problem, yp->context,
                           clamp_int(yp->context_mark.line) + 1,
                           clamp_int(yp->context_mark.column) + 1);
        return cfg_fail_at(p, line, col, "YAML syntax error: %s", problem);
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
        return cfg_fail_at(p, line, col, "YAML tags are not supported (%s)",
                       cfg_clip_text((const char *)tag, strlen((const char *)tag), b, sizeof b));
    }
    if (p->nodes >= MAX_NODES)
        return cfg_fail_at(p, line, col, "too many YAML values (more than %ld)", MAX_NODES);
    if (t != Y_SCALAR && *depth >= MAX_DEPTH)
        return cfg_fail_at(p, line, col, "nesting is too deep (more than %d levels)", MAX_DEPTH);

    ynode *n = node_new(p, t, ev->start_mark);
    if (!n)
        return cfg_oom(p);
    if (t == Y_SCALAR) {
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        n->len = ev->data.scalar.length;
        n->s = malloc(n->len + 1);
        if (!n->s) {
            cfg_tree_free(n);
            return cfg_oom(p);
        }
        memcpy(n->s, ev->data.scalar.value, n->len);
        n->s[n->len] = '\0';
    }
    if (*depth == 0) {
        cfg_tree_free(*root);    /* cannot happen: one root per document */
        *root = n;
    } else if (node_add(stack[*depth - 1], n) != 0) {
        cfg_tree_free(n);
        return cfg_oom(p);
    }
    if (t != Y_SCALAR)
        stack[(*depth)++] = n;
    return 0;
}

int cfg_load_tree(parser *p, const char *text, size_t len, ynode **root)
{
    yaml_parser_t yp;
    ynode *stack[MAX_DEPTH];
    int depth = 0, docs = 0, done = 0, rc = 0;

    *root = NULL;
    if (!yaml_parser_initialize(&yp))
        return cfg_oom(p);
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
                rc = cfg_fail_at(p, line, col,
                             "a config holds one YAML document, found a second one");
            break;
        case YAML_ALIAS_EVENT: {
            /* Refusing aliases also defuses exponential "billion laughs". */
            char b[200];
            const char *a = (const char *)ev.data.alias.anchor;
            rc = cfg_fail_at(p, line, col, "aliases are not supported (*%s)",
                         cfg_clip_text(a, strlen(a), b, sizeof b));
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
        cfg_tree_free(*root);
        *root = NULL;
    }
    return rc;
}

int cfg_is_null(const ynode *n)
{
    if (!n || n->type != Y_SCALAR || !n->plain)
        return 0;
    return n->len == 0 || strcmp(n->s, "~") == 0 || strcmp(n->s, "null") == 0 ||
           strcmp(n->s, "Null") == 0 || strcmp(n->s, "NULL") == 0;
}
