/* config.h: the YAML grid of SPEC §3, parsed with libyaml into typed
 * settings. The only file that includes yaml.h is config.c. */
#ifndef SWEEP_CONFIG_H
#define SWEEP_CONFIG_H

#include <stddef.h>

#include "base/error.h"
#include "nn/activation.h"
#include "train/model.h"
#include "train/optim.h"

/* Grid axes, in expansion order (the first varies slowest, seed fastest). */
typedef enum {
    AXIS_ACTIVATION, AXIS_ALPHA, AXIS_INIT, AXIS_DROPOUT, AXIS_EPOCHS,
    AXIS_BATCH_SIZE, AXIS_LEARNING_RATE, AXIS_SEED, AXIS_COUNT
} axis_id;

/* Name as written in YAML and in the database ("activation", "alpha", ...). */
const char *axis_name(axis_id a);

/* Most runs one grid may expand to; larger grids are refused. */
#define GRID_MAX_RUNS 100000

/* Longest list allowed on one axis (also bounds seed ranges). */
#define AXIS_MAX_VALUES 100000

/* Values of one axis; every axis stored as doubles (activation and init as
 * their enum values, integers exactly). */
typedef struct {
    int n;
    double *v;
    int line, col;        /* where the axis was given, for messages */
} axis_values;

/* One exclude rule: a run matching every key in mask is dropped. */
typedef struct {
    unsigned mask;        /* bit (1u << axis_id) per key given */
    double v[AXIS_COUNT];
} exclude_rule;

typedef struct {
    char *path;           /* as given on the command line */
    char *text;           /* the file's bytes, NUL-terminated */
    char *name;
    char *data_dir;       /* data.dir, else $SWEEP_DATA, else the Debian path */
    double validation_split;   /* default 0.2 */
    long train_limit;          /* default 0 = all */
    optim_kind optimizer;      /* default adam */
    axis_values axis[AXIS_COUNT];  /* defaults fill axes not given */
    int n_exclude;
    exclude_rule *exclude;
} sweep_config;

#define DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"

/* Reads and parses path. Errors are "path:line:col: message". */
int config_load(sweep_config *c, const char *path, sw_error *err);
/* Parses text (len bytes, need not be NUL-terminated); path only names the
 * place in messages. */
int config_parse(sweep_config *c, const char *text, size_t len,
                 const char *path, sw_error *err);
void config_free(sweep_config *c);

#endif
