/* report.c: the sweep, runs and levels behind `compare` and `plot`, read
 * through the store's typed queries. */
#include "report.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sweep/config.h"
#include "train/model.h"

const char *rep_axis_name(rep_axis a)
{
    if (a == RA_SWEEP)
        return "sweep";
    const char *name = store_setting_name((store_setting)a);
    return name ? name : "?";
}

/* The config axis that lists axis a's levels (by name); -1: none. */
static int config_axis(rep_axis a)
{
    for (int ca = 0; ca < AXIS_COUNT; ca++)
        if (strcmp(axis_name((axis_id)ca), rep_axis_name(a)) == 0)
            return ca;
    return -1;
}

/* ---- the sweep ---- */

static void join_names(char *const *names, int n, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < n && len + 1 < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "", names[i]);
    if (len >= size && size > 4)
        strcpy(buf + size - 4, "...");
}

/* Splits want at commas into names that must all be among have. */
static int pick_names(const char *cmd, const char *db_path, const char *want, char **have,
                      int n_have, const char *list, char ***out, int *n_out, sw_error *err)
{
    int cap = 1;
    for (const char *p = want; *p; p++)
        cap += *p == ',';
    char **v = calloc((size_t)cap, sizeof *v);
    if (!v)
        return sw_oom(err, cmd);
    int n = 0;
    for (const char *p = want;; p++) {
        size_t len = strcspn(p, ",");
        int found = -1;
        for (int i = 0; i < n_have; i++)
            if (strlen(have[i]) == len && strncmp(have[i], p, len) == 0)
                found = i;
        for (int i = 0; i < n && found >= 0; i++)
            if (strcmp(v[i], have[found]) == 0) {
                store_names_free(v, n);
                return sw_err(err, SW_EINPUT, "sweep %s: sweep '%s' named twice", cmd,
                              have[found]);
            }
        if (found < 0) {
            store_names_free(v, n);
            return sw_err(err, SW_EINPUT, "sweep %s: no sweep '%.*s' in %s (sweeps: %s)", cmd,
                          (int)len, p, db_path, list);
        }
        if (!(v[n++] = strdup(have[found]))) {
            store_names_free(v, n);
            return sw_oom(err, cmd);
        }
        p += len;
        if (!*p)
            break;
    }
    *out = v;
    *n_out = n;
    return SW_OK;
}

int rep_open(const char *cmd, const char *db_path, const char *want, store **db,
             char ***names_out, int *n_names, sw_error *err)
{
    char **names = NULL, list[512];
    int n = 0;
    *db = NULL;
    *names_out = NULL;
    *n_names = 0;
    if (store_open(db, db_path, 0, err) != SW_OK)
        return err->code;
    int rc = store_sweep_names(*db, &names, &n, err);
    if (rc == SW_OK) {
        join_names(names, n, list, sizeof list);
        if (n == 0)
            rc = sw_err(err, SW_EINPUT, "sweep %s: %s holds no sweep", cmd, db_path);
        else if (want)
            rc = pick_names(cmd, db_path, want, names, n, list, names_out, n_names, err);
        else if (n > 1)
            rc = sw_err(err, SW_EINPUT, "sweep %s: %s holds %d sweeps; choose one with --sweep (%s)",
                        cmd, db_path, n, list);
        else
            rc = pick_names(cmd, db_path, names[0], names, n, list, names_out, n_names, err);
    }
    store_names_free(names, n);
    if (rc != SW_OK) {
        store_close(*db);
        *db = NULL;
        return err->code;
    }
    return SW_OK;
}

int rep_parse_by(const char *cmd, const char *spec, int *axes, int *n, int max,
                 sw_error *err)
{
    *n = 0;
    const char *p = spec;
    for (;;) {
        size_t len = strcspn(p, ",");
        int found = -1;
        char list[512];
        size_t used = 0;
        for (int a = 0; a < RA_COUNT; a++) {
            const char *name = rep_axis_name(a);
            if (strlen(name) == len && strncmp(name, p, len) == 0)
                found = a;
            if (used < sizeof list)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", a ? ", " : "",
                                         name);
        }
        if (found < 0)
            return sw_err(err, SW_EINPUT, "sweep %s: unknown axis '%.*s' (axes: %s)", cmd,
                          (int)len, p, list);
        for (int i = 0; i < *n; i++)
            if (axes[i] == found)
                return sw_err(err, SW_EINPUT, "sweep %s: axis '%s' named twice", cmd,
                              rep_axis_name(found));
        if (*n == max)
            return sw_err(err, SW_EINPUT, "sweep %s: at most %d axes", cmd, max);
        axes[(*n)++] = found;
        if (!p[len])
            break;
        p += len + 1;
    }
    return SW_OK;
}

/* ---- the runs ---- */

typedef struct {
    rep_data *d;
    const char *sweep;     /* the sweep being read */
    int cap[RA_COUNT], run_cap;
    int *slot[RA_COUNT];   /* open-addressing hash of level texts: a
                              100,000-seed grid must not be quadratic */
    int n_slots[RA_COUNT];
    int oom;
} load_ctx;

static unsigned long text_hash(const char *s, int is_null)
{
    unsigned long h = is_null ? 7 : 5381;
    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h;
}

static int slot_insert(load_ctx *c, int a, int index)
{
    const rep_level *l = &c->d->levels[a][index];
    unsigned long mask = (unsigned long)c->n_slots[a] - 1, h = text_hash(l->text, l->is_null);
    while (c->slot[a][h & mask] >= 0)
        h++;
    c->slot[a][h & mask] = index;
    return 0;
}

/* Keeps the table at most half full. */
static int slots_grow(load_ctx *c, int a)
{
    int n = c->n_slots[a] ? 2 * c->n_slots[a] : 16;
    int *p = malloc(sizeof *p * (size_t)n);
    if (!p)
        return -1;
    free(c->slot[a]);
    c->slot[a] = p;
    c->n_slots[a] = n;
    for (int i = 0; i < n; i++)
        p[i] = -1;
    for (int i = 0; i < c->d->n_levels[a]; i++)
        slot_insert(c, a, i);
    return 0;
}

static int level_index(load_ctx *c, int a, const store_value *v)
{
    rep_data *d = c->d;
    const char *text = v->is_null ? "" : (v->text ? v->text : "");
    if (2 * (d->n_levels[a] + 1) > c->n_slots[a] && slots_grow(c, a) != 0)
        return -1;
    unsigned long mask = (unsigned long)c->n_slots[a] - 1, h = text_hash(text, v->is_null);
    for (int i; (i = c->slot[a][h & mask]) >= 0; h++)
        if (d->levels[a][i].is_null == v->is_null && strcmp(d->levels[a][i].text, text) == 0)
            return i;
    if (d->n_levels[a] == c->cap[a]) {
        int cap = c->cap[a] ? 2 * c->cap[a] : 4;
        rep_level *p = realloc(d->levels[a], (size_t)cap * sizeof *p);
        if (!p)
            return -1;
        d->levels[a] = p;
        c->cap[a] = cap;
    }
    rep_level *l = &d->levels[a][d->n_levels[a]];
    if (!(l->text = strdup(text)))
        return -1;
    l->num = v->num;
    l->is_null = v->is_null;
    slot_insert(c, a, d->n_levels[a]);
    return d->n_levels[a]++;
}

static int collect_run(void *ctx, const store_run_row *row)
{
    load_ctx *c = ctx;
    rep_data *d = c->d;
    if (d->n_runs == c->run_cap) {
        int cap = c->run_cap ? 2 * c->run_cap : 64;
        rep_run *p = realloc(d->runs, (size_t)cap * sizeof *p);
        if (!p)
            return c->oom = 1;
        d->runs = p;
        c->run_cap = cap;
    }
    rep_run *r = &d->runs[d->n_runs];
    r->run_id = row->run_id;
    store_value sweep = {.text = c->sweep};
    for (int a = 0; a < RA_COUNT; a++)
        if ((r->level[a] = level_index(c, a, a == RA_SWEEP ? &sweep : &row->setting[a])) < 0)
            return c->oom = 1;
    r->has_value = !row->metric.is_null;
    r->value = row->metric.num;
    d->n_runs++;
    return 0;
}

/* A config axis' values with their places, sorted by value for bsearch. */
typedef struct {
    double v;
    int place;
} ranked;

static int ranked_cmp(const void *pa, const void *pb)
{
    const ranked *a = pa, *b = pb;
    return (a->v > b->v) - (a->v < b->v);
}

/* Where level l sits in the config's list for axis a; INT_MAX if absent.
 * sorted: the config values of a numeric axis, by value. */
static int config_rank(const sweep_config *cfg, int a, const rep_level *l, const ranked *sorted)
{
    int ca = config_axis(a);
    if (!cfg || ca < 0)
        return INT_MAX;
    const axis_values *av = &cfg->axis[ca];
    if (ca == AXIS_MODEL) {   /* runs.model text against the config's models */
        for (int i = 0; i < av->n; i++) {
            char text[256];
            int k = (int)av->v[i];
            if (k < 0 || k >= cfg->n_models)
                continue;
            model_shape_text(&cfg->models[k].shape, text, sizeof text);
            if (strcmp(l->text, text) == 0)
                return i;
        }
        return INT_MAX;
    }
    if (ca == AXIS_ACTIVATION || ca == AXIS_INIT) {
        for (int i = 0; i < av->n; i++) {
            const char *name = ca == AXIS_ACTIVATION ? act_name((act_kind)av->v[i])
                                                     : init_name((init_kind)av->v[i]);
            if (strcmp(l->text, name) == 0)
                return i;
        }
        return INT_MAX;
    }
    if (l->is_null || !sorted)
        return INT_MAX;
    ranked key = {l->num, 0};
    const ranked *hit = bsearch(&key, sorted, (size_t)av->n, sizeof *sorted, ranked_cmp);
    return hit ? hit->place : INT_MAX;
}

static const long long *sort_keys;
static int key_cmp(const void *pa, const void *pb)
{
    long long a = sort_keys[*(const int *)pa], b = sort_keys[*(const int *)pb];
    return (a > b) - (a < b);
}

/* Sorts each axis' levels and remaps the runs. Runs come in run_id order,
 * so a level's index before sorting is its order of first appearance, the
 * tie-break. */
static int order_levels(rep_data *d, const sweep_config *cfg)
{
    for (int a = 0; a < RA_COUNT; a++) {
        int n = d->n_levels[a], ca = config_axis(a), nv = cfg && ca >= 0 ? cfg->axis[ca].n : 0;
        size_t m = (size_t)(n > nv ? n : nv) + 1;
        int *order = malloc(m * sizeof *order), *where = malloc(m * sizeof *where);
        long long *key = malloc(m * sizeof *key);
        rep_level *sorted = malloc(m * sizeof *sorted);
        ranked *values = malloc(m * sizeof *values);
        if (!order || !key || !where || !sorted || !values) {
            free(order), free(key), free(where), free(sorted), free(values);
            return -1;
        }
        for (int i = 0; i < nv; i++)
            values[i] = (ranked){cfg->axis[ca].v[i], i};
        qsort(values, (size_t)nv, sizeof *values, ranked_cmp);
        for (int i = 0; i < n; i++) {
            const rep_level *l = &d->levels[a][i];
            long long rank = l->is_null ? -1 : config_rank(cfg, a, l, nv ? values : NULL);
            key[i] = (rank + 1) * ((long long)n + 1) + i;
            order[i] = i;
        }
        sort_keys = key;
        qsort(order, (size_t)n, sizeof *order, key_cmp);
        for (int i = 0; i < n; i++) {
            sorted[i] = d->levels[a][order[i]];
            where[order[i]] = i;
        }
        if (n)
            memcpy(d->levels[a], sorted, (size_t)n * sizeof *sorted);
        for (int r = 0; r < d->n_runs; r++)
            d->runs[r].level[a] = where[d->runs[r].level[a]];
        free(order), free(key), free(where), free(sorted), free(values);
    }
    return 0;
}

static int run_id_cmp(const void *pa, const void *pb)
{
    long long a = ((const rep_run *)pa)->run_id, b = ((const rep_run *)pb)->run_id;
    return (a > b) - (a < b);
}

/* The runs of every sweep, then their counts of runs not done. */
static int load_runs(store *db, char *const *sweeps, int n_sweeps, int all,
                     store_run_metric metric, rep_data *d, sw_error *err)
{
    load_ctx c = {.d = d};
    int rc = SW_OK;
    for (int i = 0; i < n_sweeps && rc == SW_OK && !c.oom; i++) {
        c.sweep = sweeps[i];
        rc = store_done_runs(db, sweeps[i], all, metric, collect_run, &c, err);
    }
    for (int a = 0; a < RA_COUNT; a++)
        free(c.slot[a]);
    if (rc != SW_OK)
        return err->code;
    if (c.oom)
        return sw_oom(err, "reading the runs");
    for (int i = 0; i < n_sweeps; i++) {
        int n;
        if (store_count_not_done(db, sweeps[i], all, &n, err) != SW_OK)
            return err->code;
        d->not_done += n;
    }
    return SW_OK;
}

int rep_load(store *db, char *const *sweeps, int n_sweeps, int all, store_run_metric metric,
             rep_data *d, sw_error *err)
{
    memset(d, 0, sizeof *d);
    size_t len = 1;
    for (int i = 0; i < n_sweeps; i++)
        len += strlen(sweeps[i]) + 1;
    if (!(d->sweep = malloc(len)))
        return sw_oom(err, "reading the runs");
    d->sweep[0] = 0;
    for (int i = 0; i < n_sweeps; i++)
        strcat(strcat(d->sweep, i ? "," : ""), sweeps[i]);
    d->n_sweeps = n_sweeps;
    if (load_runs(db, sweeps, n_sweeps, all, metric, d, err) != SW_OK)
        return err->code;
    /* by run_id, as rep_data promises (the sweeps came one after another) */
    qsort(d->runs, (size_t)d->n_runs, sizeof *d->runs, run_id_cmp);

    /* the first sweep's stored config gives the grid's order; without it
     * (or if it no longer parses) the order the runs were recorded in */
    char *text = NULL, *path = NULL;
    if (store_sweep_config(db, sweeps[0], &text, &path, err) != SW_OK)
        return err->code;
    free(path);
    sweep_config cfg;
    sw_error ignored = {0};
    int have_cfg = text && config_parse(&cfg, text, strlen(text), "<stored config>",
                                        &ignored) == SW_OK;
    free(text);
    int rc = order_levels(d, have_cfg ? &cfg : NULL);
    if (have_cfg)
        config_free(&cfg);
    if (rc != 0)
        return sw_oom(err, "reading the runs");
    return SW_OK;
}

void rep_free(rep_data *d)
{
    for (int a = 0; a < RA_COUNT; a++) {
        for (int i = 0; i < d->n_levels[a]; i++)
            free(d->levels[a][i].text);
        free(d->levels[a]);
    }
    free(d->runs);
    free(d->sweep);
    memset(d, 0, sizeof *d);
}

/* qsort has no context argument, hence the statics (one thread). */
static const rep_data *sort_d;
static const int *sort_axes;
static int sort_n_axes;

static int runs_cmp(const void *pa, const void *pb)
{
    int ia = *(const int *)pa, ib = *(const int *)pb;
    const rep_run *a = &sort_d->runs[ia], *b = &sort_d->runs[ib];
    for (int i = 0; i < sort_n_axes; i++) {
        int x = a->level[sort_axes[i]], y = b->level[sort_axes[i]];
        if (x != y)
            return x < y ? -1 : 1;
    }
    return (ia > ib) - (ia < ib);
}

int *rep_sort_runs(const rep_data *d, const int *axes, int n_axes, int only_valued, int *n)
{
    int *idx = malloc(sizeof *idx * (size_t)(d->n_runs ? d->n_runs : 1));
    *n = 0;
    if (!idx)
        return NULL;
    for (int r = 0; r < d->n_runs; r++)
        if (!only_valued || d->runs[r].has_value)
            idx[(*n)++] = r;
    sort_d = d, sort_axes = axes, sort_n_axes = n_axes;
    qsort(idx, (size_t)*n, sizeof *idx, runs_cmp);
    return idx;
}

int rep_same_levels(const rep_data *d, int ra, int rb, const int *axes, int n_axes)
{
    for (int i = 0; i < n_axes; i++)
        if (d->runs[ra].level[axes[i]] != d->runs[rb].level[axes[i]])
            return 0;
    return 1;
}

int rep_pooled(const rep_data *d, const int *by, int n_by, int only_valued, char *buf,
               size_t size)
{
    int count = 0, n = 0;
    size_t len = 0;
    buf[0] = 0;
    int *idx = rep_sort_runs(d, by, n_by, only_valued, &n);
    if (!idx)
        return 0;
    for (int a = 0; a < RA_COUNT; a++) {
        int named = a == RA_SEED;
        for (int i = 0; i < n_by; i++)
            named |= by[i] == a;
        if (named)
            continue;
        /* pooled: some group of equal named levels holds two values of a
         * (alpha follows activation, so --by activation pools no alpha) */
        int varies = 0;
        for (int i = 1; i < n && !varies; i++)
            varies = rep_same_levels(d, idx[i - 1], idx[i], by, n_by) &&
                     d->runs[idx[i - 1]].level[a] != d->runs[idx[i]].level[a];
        if (!varies)
            continue;
        char *used = calloc((size_t)d->n_levels[a] + 1, 1);
        if (!used)
            continue;
        for (int i = 0; i < n; i++)
            used[d->runs[idx[i]].level[a]] = 1;
        if (len + 1 < size)
            len += (size_t)snprintf(buf + len, size - len, "%s%s (", count ? ", " : "",
                                    rep_axis_name(a));
        int first = 1;
        for (int i = 0; i < d->n_levels[a] && len + 1 < size; i++)
            if (used[i]) {
                len += (size_t)snprintf(buf + len, size - len, "%s%s", first ? "" : ", ",
                                        d->levels[a][i].is_null ? "none" : d->levels[a][i].text);
                first = 0;
            }
        if (len + 1 < size)
            len += (size_t)snprintf(buf + len, size - len, ")");
        count++;
        free(used);
    }
    free(idx);
    if (len >= size && size > 4)
        strcpy(buf + size - 4, "...");
    return count;
}

int rep_pick_metric(const char *cmd, const char *name, const char *(*name_of)(int), int n,
                    sw_error *err)
{
    char list[256];
    size_t len = 0;
    list[0] = 0;
    for (int i = 0; i < n; i++) {
        const char *m = name_of(i);
        if (m && strcmp(m, name) == 0)
            return i;
        if (m && len + 1 < sizeof list)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", len ? ", " : "", m);
    }
    sw_err(err, SW_EINPUT, "sweep %s: unknown metric '%s' (metrics: %s)", cmd, name, list);
    return -1;
}

int rep_find_level(const rep_data *d, rep_axis a, const char *text)
{
    char *end;
    double v = strtod(text, &end);
    int numeric = *text && !*end;
    for (int i = 0; i < d->n_levels[a]; i++) {
        const rep_level *l = &d->levels[a][i];
        if (l->is_null) {
            if (!*text || strcasecmp(text, "none") == 0 || strcasecmp(text, "null") == 0)
                return i;
        } else if (strcmp(l->text, text) == 0) {
            return i;
        } else if (numeric) {   /* "1" finds alpha 1.0; "0" must not find relu */
            double lv = strtod(l->text, &end);
            if (*l->text && !*end && lv == v)
                return i;
        }
    }
    return -1;
}

void rep_list_levels(const rep_data *d, rep_axis a, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < d->n_levels[a] && len + 1 < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "",
                                d->levels[a][i].is_null ? "none" : d->levels[a][i].text);
    if (len >= size && size > 4)
        strcpy(buf + size - 4, "...");
}
