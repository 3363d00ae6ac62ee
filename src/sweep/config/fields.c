/* fields.c: typed values. Numbers are decimal ("0.25", "1e-3"; integers
 * as digits only, so "2.5" or "1e3" epochs are errors); quoted numbers are
 * read as numbers too (as OmegaConf does for typed fields); nan, inf, hex
 * and YAML tags are refused; ~, null and an empty value are "nothing".
 * Names (activation, init, optimizer, monitor) come from the tables of the
 * modules that own them. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

/* ------------------------------------------------------------------ */
/* Enumerations, named by the tables of the modules that own them.     */

static const char *act_at(int k) { return act_name((act_kind)k); }
static int act_n(void) { return act_count(); }
static const char *init_at(int k) { return init_name((init_kind)k); }
static int init_n(void) { return init_count(); }
static const char *optim_at(int k) { return optim_name((optim_kind)k); }
static int optim_n(void) { return optim_count(); }

/* es_monitor counts from 1 (ES_OFF has no name); read here from 0. */
static const char *monitor_at(int k) { return es_monitor_name((es_monitor)(k + 1)); }
static int monitor_n(void) { return ES_VAL_ACCURACY; }
static int monitor_from(const char *name)
{
    int m = es_monitor_from_name(name);
    return m > 0 ? m - 1 : -1;
}

/* batchnorm: false, true (YAML 1.2's spellings) */
static const char *bool_at(int k) { return k ? "true" : "false"; }
static int bool_n(void) { return 2; }
static int bool_from(const char *name)
{
    static const char *const t[] = {"true", "True", "TRUE"}, *const f[] = {"false", "False", "FALSE"};
    for (int i = 0; i < 3; i++) {
        if (strcmp(name, t[i]) == 0)
            return 1;
        if (strcmp(name, f[i]) == 0)
            return 0;
    }
    return -1;
}

static const char *sched_at(int k) { return sched_name((sched_kind)k); }

/* padding: valid, same */
static const char *pad_at(int k) { return k ? "same" : "valid"; }
static int pad_from(const char *name)
{
    return strcmp(name, "valid") == 0 ? 0 : strcmp(name, "same") == 0 ? 1 : -1;
}

static const enum_names act_enum = {act_n, act_at, act_from_name};
static const enum_names pad_enum = {bool_n, pad_at, pad_from};
static const enum_names bool_enum = {bool_n, bool_at, bool_from};
static const enum_names sched_enum = {sched_count, sched_at, sched_from_name};
static const enum_names init_enum = {init_n, init_at, init_from_name};
static const enum_names optim_enum = {optim_n, optim_at, optim_from_name};
static const enum_names monitor_enum = {monitor_n, monitor_at, monitor_from};

#define STR(x) #x
#define XSTR(x) STR(x)

const field cfg_axis_fields[AXIS_COUNT] = {
    [AXIS_ACTIVATION] = {"activation", F_ENUM, 0, 0, 0, 0, &act_enum, NULL},
    [AXIS_ALPHA] = {"alpha", F_REAL, 0, INFINITY, 1, 1, NULL, NULL},
    [AXIS_MODEL] = {"model", F_INT, 0, 0, 0, 0, NULL, "a model"},   /* cfg_parse_models */
    [AXIS_INIT] = {"init", F_ENUM, 0, 0, 0, 0, &init_enum, NULL},
    [AXIS_DROPOUT] = {"dropout", F_REAL, 0, 1, 0, 1, NULL, NULL},
    [AXIS_EPOCHS] = {"epochs", F_INT, 1, EPOCHS_MAX, 0, 0, NULL, "a positive integer"},
    [AXIS_BATCH_SIZE] = {"batch_size", F_INT, 1, BATCH_MAX, 0, 0, NULL, "a positive integer"},
    [AXIS_LEARNING_RATE] = {"learning_rate", F_REAL, 0, INFINITY, 1, 1, NULL, NULL},
    [AXIS_BATCHNORM] = {"batchnorm", F_ENUM, 0, 0, 0, 0, &bool_enum, NULL},
    [AXIS_OPTIMIZER] = {"optimizer", F_ENUM, 0, 0, 0, 0, &optim_enum, NULL},
    /* Keras' SGD wants [0, 1]; at 1 nothing decays and the steps only grow */
    [AXIS_MOMENTUM] = {"momentum", F_REAL, 0, 1, 0, 1, NULL, NULL},
    [AXIS_WEIGHT_DECAY] = {"weight_decay", F_REAL, 0, INFINITY, 0, 1, NULL, NULL},
    [AXIS_LR_SCHEDULE] = {"lr_schedule", F_INT, 0, 0, 0, 0, NULL, "a schedule"},   /* schedules.c */
    [AXIS_SEED] = {"seed", F_INT, 0, TWO_POW_53, 0, 0, NULL,
                   "an integer in [0, 9007199254740992]"},
};
const field cfg_f_validation_split = {"validation_split", F_REAL, 0, 1, 1, 1, NULL, NULL};
const field cfg_f_train_limit = {"train_limit", F_INT, 0, TWO_POW_53, 0, 0, NULL,
                                 "an integer >= 0"};
const field cfg_f_optimizer = {"optimizer", F_ENUM, 0, 0, 0, 0, &optim_enum, NULL};
const field cfg_f_padding = {"padding", F_ENUM, 0, 0, 0, 0, &pad_enum, NULL};
const field cfg_f_sched_kind = {"kind", F_ENUM, 0, 0, 0, 0, &sched_enum, NULL};
const field cfg_f_sched_every = {"every", F_INT, 1, EPOCHS_MAX, 0, 0, NULL,
                                 "a positive integer (epochs)"};
const field cfg_f_sched_gamma = {"gamma", F_REAL, 0, 1, 1, 0, NULL, NULL};
const field cfg_f_monitor = {"monitor", F_ENUM, 0, 0, 0, 0, &monitor_enum, NULL};
const field cfg_f_patience = {"patience", F_INT, 1, EPOCHS_MAX, 0, 0, NULL, "a positive integer"};
const field cfg_f_conv = {"conv", F_INT, 1, MODEL_MAX_CHANNELS, 0, 0, NULL,
                          "a channel count in [1, " XSTR(MODEL_MAX_CHANNELS) "]"};
const field cfg_f_dense = {"dense", F_INT, 1, MODEL_MAX_WIDTH, 0, 0, NULL,
                           "a width in [1, " XSTR(MODEL_MAX_WIDTH) "]"};

/* ------------------------------------------------------------------ */
/* Readers.                                                            */

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

/* One of an enumeration's names: *out is its kind. The message lists the
 * names from the owner's table. */
static int parse_enum(parser *p, const field *f, const ynode *n, double *out)
{
    const char *names[ENUM_MAX_NAMES];
    char b[200], list[400];
    int count = f->names->count();
    if (count > ENUM_MAX_NAMES)
        count = ENUM_MAX_NAMES;
    for (int i = 0; i < count; i++)
        names[i] = f->names->name(i);
    cfg_join_names(names, count, list, sizeof list);
    if (n->type == Y_SCALAR && !cfg_is_null(n)) {
        int k = strlen(n->s) == n->len ? f->names->from_name(n->s) : -1;
        if (k >= 0) {
            *out = k;
            return 0;
        }
        const char *s = cfg_suggest(n->s, n->len, names, count);
        if (s)
            return cfg_fail(p, n, "%s must be one of %s, got %s (did you mean '%s'?)", f->name,
                            list, cfg_show(n, b, sizeof b), s);
    }
    return cfg_fail(p, n, "%s must be one of %s, got %s", f->name, list, cfg_show(n, b, sizeof b));
}

int cfg_parse_value(parser *p, const field *f, const ynode *n, double *out, int elu_note)
{
    char b[200], t[200], r[64];
    if (f->kind == F_ENUM)
        return parse_enum(p, f, n, out);

    if (f->kind == F_INT) {
        long long v = 0;
        int rc = n->type == Y_SCALAR && !cfg_is_null(n) ? parse_int(n->s, n->len, &v) : 1;
        if (rc == 1)
            return cfg_fail(p, n, "%s must be %s, got %s", f->name, f->want, cfg_show(n, b, sizeof b));
        cfg_clip(n, t, sizeof t);
        /* compared as integers: 2^53 + 1 is 2^53 as a double */
        if ((rc == 2 && n->s[0] == '-') || (rc == 0 && v < (long long)f->lo))
            return cfg_fail(p, n, "%s must be %s, got %s", f->name, f->want, t);
        if (rc == 2 || v > (long long)f->hi)
            return cfg_fail(p, n, "%s must be at most %.0f, got %s", f->name, f->hi, t);
        *out = (double)v;
        return 0;
    }

    double v = 0;
    int rc = n->type == Y_SCALAR && !cfg_is_null(n) ? parse_real(n->s, n->len, &v) : 1;
    range_text(f, r, sizeof r);
    if (rc == 1)
        return cfg_fail(p, n, "%s must be a number %s, got %s", f->name, r, cfg_show(n, b, sizeof b));
    cfg_clip(n, t, sizeof t);
    if (rc == 2)
        return cfg_fail(p, n, "%s must be a finite number %s, got %s", f->name, r, t);
    if (v < f->lo || (f->lo_open && v == f->lo) || v > f->hi || (f->hi_open && v == f->hi))
        return cfg_fail(p, n, "%s must be %s, got %s%s", f->name, r, t,
                    elu_note ? " (ELU needs alpha > 0, Clevert et al.)" : "");
    /* training computes in float: a value that becomes 0, subnormal or
     * infinite there (1e-50, 1e39), or leaves the range, trains as
     * something else than written */
    float fv = (float)v;
    if (v != 0 && (!isnormal(fv) || fv < f->lo || (f->lo_open && fv == f->lo) || fv > f->hi ||
                   (f->hi_open && fv == f->hi)))
        return cfg_fail(p, n, "%s must be %s and representable as a 32-bit float (magnitude "
                        "%g to %g), got %s", f->name, r, (double)FLT_MIN, (double)FLT_MAX, t);
    *out = v;
    return 0;
}

int cfg_parse_string(parser *p, const char *name, const ynode *n, char **out)
{
    char b[200];
    if (n->type != Y_SCALAR || cfg_is_null(n) || n->len == 0)
        return cfg_fail(p, n, "%s must be a non-empty string, got %s", name, cfg_show(n, b, sizeof b));
    if (strlen(n->s) != n->len)
        return cfg_fail(p, n, "%s must not contain NUL characters", name);
    *out = strdup(n->s);
    return *out ? 0 : cfg_oom(p);
}

int cfg_parse_bool(parser *p, const char *name, const ynode *n, int *out)
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
    return cfg_fail(p, n, "%s must be true or false, got %s", name, cfg_show(n, b, sizeof b));
}
