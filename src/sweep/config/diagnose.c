/* diagnose.c: messages that name the place in the file ("path:line:col:
 * ..."), and suggestions for misspelt keys and names. Each failure is
 * SW_EINPUT, except running out of memory (SW_ERUN, as sw_oom says). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config_internal.h"

int cfg_fail_at(parser *p, int line, int col, const char *fmt, ...)
{
    char msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sw_err(p->err, SW_EINPUT, "%s:%d:%d: %s", p->path, line, col, msg);
    return SW_EINPUT;
}

int cfg_fail(parser *p, const ynode *n, const char *fmt, ...)
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

int cfg_oom(parser *p)
{
    char what[300];
    snprintf(what, sizeof what, "%s: reading the config", p->path);
    return sw_oom(p->err, what);
}

const char *cfg_clip_text(const char *s, size_t len, char *buf, size_t size)
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

const char *cfg_clip(const ynode *n, char *buf, size_t size)
{
    return cfg_clip_text(n->s, n->len, buf, size);
}

const char *cfg_show(const ynode *n, char *buf, size_t size)
{
    if (n->type == Y_SEQ)
        return "a list";
    if (n->type == Y_MAP)
        return "a mapping";
    if (cfg_is_null(n))
        return "nothing";
    buf[0] = '\'';
    cfg_clip(n, buf + 1, size - 2);
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
const char *cfg_suggest(const char *word, size_t len, const char *const *cands, int n)
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

void cfg_join_names(const char *const *names, int n, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : "", names[i]);
}

/* ------------------------------------------------------------------ */
/* Mappings with a known set of keys.                                  */

int cfg_map_fields(parser *p, const ynode *map, const char *where,
                      const char *const *names, int n_names,
                      const ynode **keys, const ynode **vals)
{
    char b[200], list[300];
    for (int i = 0; i < n_names; i++)
        keys[i] = vals[i] = NULL;
    for (int k = 0; k + 1 < map->n; k += 2) {
        const ynode *key = map->kid[k];
        if (key->type != Y_SCALAR)
            return cfg_fail(p, key, "keys must be names, got %s", cfg_show(key, b, sizeof b));
        int i = 0;
        while (i < n_names && !(strlen(names[i]) == key->len && strcmp(names[i], key->s) == 0))
            i++;
        if (i == n_names) {
            const char *s = cfg_suggest(key->s, key->len, names, n_names);
            char t[200];
            cfg_clip(key, t, sizeof t);
            cfg_join_names(names, n_names, list, sizeof list);
            if (s)
                return cfg_fail(p, key, "unknown key '%s'%s%s (did you mean '%s'?)", t,
                            *where ? " in " : "", where, s);
            return cfg_fail(p, key, "unknown key '%s'%s%s (expected one of: %s)", t,
                        *where ? " in " : "", where, list);
        }
        if (keys[i])
            return cfg_fail(p, key, "duplicate key '%s' (first given at line %d)",
                        names[i], keys[i]->line);
        keys[i] = key;
        vals[i] = map->kid[k + 1];
    }
    return 0;
}
