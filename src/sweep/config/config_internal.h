/* config_internal.h: what the files of the config loader share.
 *
 *   yaml_tree.c  libyaml's events into a tree of our own (the only file
 *                that includes yaml.h)
 *   diagnose.c   messages naming the place, "did you mean", known keys
 *   fields.c     typed values: enums from the owners' tables, integers,
 *                reals with bounds, strings, booleans
 *   axes.c       grid axes: lists, seed ranges, repeats, run count
 *   models.c     model mappings and their fit to the images
 *   alpha.c      alphas per activation, and warnings
 *   data.c       the data section: folder, format, label, limits, augment
 *   schedules.c  lr schedules ({kind: step, every: E, gamma: G}), alone or
 *                as a grid axis; the optimizer settings' consistency
 *   sections.c   the top level: name, data, train, model, grid, exclude
 *   decide.c     the decide: section (sequential seeds)
 *   config.c     the public API: load, parse, free */
#ifndef SWEEP_CONFIG_INTERNAL_H
#define SWEEP_CONFIG_INTERNAL_H

#include <stddef.h>

#include "sweep/config.h"

#define CONFIG_MAX_BYTES (4L << 20)
#define MAX_DEPTH 32
#define MAX_NODES 250000L   /* a legal grid needs about 120000 */
#define MAX_EXCLUDE 1000
#define NAME_MAX_CHARS 200
#define EPOCHS_MAX 100000
#define BATCH_MAX 65536
#define TWO_POW_53 9007199254740992.0

/* ------------------------------------------------------------------ */
/* The YAML tree (yaml_tree.c).                                        */

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

/* Parses text into *root (NULL when the stream holds no document). */
int cfg_load_tree(parser *p, const char *text, size_t len, ynode **root);
void cfg_tree_free(ynode *n);
/* ~, null, Null, NULL or nothing, unquoted. */
int cfg_is_null(const ynode *n);

/* ------------------------------------------------------------------ */
/* Diagnostics (diagnose.c). Each fail returns SW_EINPUT.              */

int cfg_fail_at(parser *p, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* At n's place (1:1 for NULL). */
int cfg_fail(parser *p, const ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Out of memory while reading p's file: SW_ERUN (sw_oom). */
int cfg_oom(parser *p);
/* Text for a one-line message: control bytes as '?', cut at 40
 * characters on a UTF-8 boundary. */
const char *cfg_clip_text(const char *s, size_t len, char *buf, size_t size);
const char *cfg_clip(const ynode *n, char *buf, size_t size);
/* What a node is, for "got ..." in messages: 'text', nothing, a list... */
const char *cfg_show(const ynode *n, char *buf, size_t size);
/* The closest of cands to word, or NULL. */
const char *cfg_suggest(const char *word, size_t len, const char *const *cands, int n);
/* "a, b, c" into buf. */
void cfg_join_names(const char *const *names, int n, char *buf, size_t size);
/* Checks map's keys against names and sets keys[i], vals[i] to the nodes
 * of names[i] (NULL when absent). where names the mapping in messages. */
int cfg_map_fields(parser *p, const ynode *map, const char *where,
                   const char *const *names, int n_names,
                   const ynode **keys, const ynode **vals);

/* ------------------------------------------------------------------ */
/* Typed values (fields.c).                                            */

/* An enumeration whose table another module owns. */
typedef struct {
    int (*count)(void);
    const char *(*name)(int k);          /* k in 0 .. count() - 1 */
    int (*from_name)(const char *name);  /* name or alias; -1 if unknown */
} enum_names;

#define ENUM_MAX_NAMES 64

typedef enum { F_ENUM, F_INT, F_REAL } fkind;

typedef struct {
    const char *name;
    fkind kind;
    double lo, hi;           /* bounds */
    int lo_open, hi_open;    /* F_REAL: bound excluded */
    const enum_names *names; /* F_ENUM: the value read is the kind */
    const char *want;        /* F_INT: "a positive integer" */
} field;

extern const field cfg_axis_fields[AXIS_COUNT];
extern const field cfg_f_validation_split, cfg_f_train_limit, cfg_f_optimizer, cfg_f_monitor,
    cfg_f_patience, cfg_f_conv, cfg_f_dense, cfg_f_padding, cfg_f_sched_kind, cfg_f_sched_every,
    cfg_f_sched_gamma;

/* Reads one scalar as field f. elu_note: explain alpha > 0 for ELU. */
int cfg_parse_value(parser *p, const field *f, const ynode *n, double *out, int elu_note);
/* A string setting: a non-null scalar without NUL bytes; *out malloc'd. */
int cfg_parse_string(parser *p, const char *name, const ynode *n, char **out);
/* A YAML 1.2 boolean: true or false (any case as YAML allows). */
int cfg_parse_bool(parser *p, const char *name, const ynode *n, int *out);

/* ------------------------------------------------------------------ */
/* Grid axes (axes.c).                                                 */

extern const char *const cfg_axis_names[AXIS_COUNT];

/* One axis under grid: a value, a list, or (seed) a {from, to} range. */
int cfg_parse_axis(parser *p, axis_id a, const ynode *key, const ynode *val,
                   axis_values *ax, int elu_note);
/* A one-value axis given at line:col (0:0 for a default). */
int cfg_set_single(parser *p, axis_values *ax, double v, int line, int col);
int cfg_has_value(const axis_values *ax, double v);

/* ------------------------------------------------------------------ */
/* Alphas per activation, warnings (alpha.c).                          */

/* Adds "path:line:col: message" (at n's place) to c->warnings; 0, or
 * SW_ERUN out of memory. */
int cfg_warn(parser *p, sweep_config *c, const ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* grid.alpha as a mapping {activation: value or list} (key: the alpha
 * key); the grid's activation axis must be parsed already. */
int cfg_parse_alpha_map(parser *p, const ynode *key, const ynode *map, sweep_config *c);
/* Once the activation axis has its default: each activation of the grid
 * that takes alpha gets its list (its own, the one list, or its
 * default_alpha), and axis[AXIS_ALPHA] every alpha of the grid. */
int cfg_finish_alphas(parser *p, sweep_config *c);
/* After the excludes: a warning at each place that runs leaky_relu at
 * alpha 1 (unless a rule of activation and alpha alone drops it).
 * alpha_val: grid.alpha's node (NULL if not given). */
int cfg_warn_alphas(parser *p, sweep_config *c, const ynode *alpha_val);

/* ------------------------------------------------------------------ */
/* Models (models.c).                                                  */

/* One model mapping; fit: check it against 28x28 images. */
int cfg_parse_model(parser *p, const ynode *n, config_model *m, int fit);
/* model: at the top level (one model) or as a grid axis (one or a list). */
int cfg_parse_models(parser *p, const ynode *key, const ynode *val, sweep_config *c);

/* ------------------------------------------------------------------ */
/* The data section (data.c).                                          */

/* data: into c (whose defaults are set); map is not null. */
int cfg_parse_data(parser *p, const ynode *map, sweep_config *c);

/* ------------------------------------------------------------------ */
/* Learning-rate schedules and optimizer settings (schedules.c).       */

/* One schedule: {kind: constant | cosine} or {kind: step, every: E,
 * gamma: G}, or the bare name constant or cosine. */
int cfg_parse_schedule(parser *p, const ynode *n, config_schedule *s);
/* lr_schedule in train (one) or as a grid axis (one or a list). */
int cfg_parse_schedules(parser *p, const ynode *key, const ynode *val, sweep_config *c);
/* After the axes are set: momentum only where an optimizer takes it,
 * nesterov only with sgd and some momentum > 0. nesterov_k: the
 * train.nesterov key, or NULL. */
int cfg_check_optimizer(parser *p, const sweep_config *c, const ynode *nesterov_k);

/* ------------------------------------------------------------------ */
/* Sections (sections.c).                                              */

/* The whole config from its root node (NULL: an empty stream). */
int cfg_parse_top(parser *p, const ynode *root, sweep_config *c);

/* ------------------------------------------------------------------ */
/* decide (decide.c).                                                  */

/* The decide: section, after the grid is complete: checks its keys, that
 * the grid has no seed axis (seed_key: the grid's seed key or NULL) and
 * that the baseline is a level of the first axis that varies; then sets
 * the seed axis to 1..seeds.min. */
int cfg_parse_decide(parser *p, const ynode *key, const ynode *val, const ynode *seed_key,
                     sweep_config *c);

#endif
