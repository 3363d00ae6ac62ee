/* config.h: the YAML grid of SPEC §3, parsed with libyaml into typed
 * settings. The only file that includes yaml.h is config.c. */
#ifndef SWEEP_CONFIG_H
#define SWEEP_CONFIG_H

#include <stddef.h>

#include "base/error.h"
#include "nn/activation.h"
#include "train/early_stop.h"
#include "train/model.h"
#include "train/optim.h"

/* Grid axes, in expansion order (the first varies slowest, seed fastest).
 * The model axis holds indices into sweep_config.models. */
typedef enum {
    AXIS_ACTIVATION, AXIS_ALPHA, AXIS_MODEL, AXIS_INIT, AXIS_DROPOUT, AXIS_EPOCHS,
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
    double v[AXIS_COUNT]; /* model: an index into models, -1 if not in the grid */
} exclude_rule;

/* The layer sizes of a model (model.h's spec without its activation, init
 * and dropout): `model: {conv: [32, 64], dense: [256]}` is 3x3 conv + 2x2
 * pool blocks of 32 and 64 channels, then a hidden dense layer of 256. */
typedef struct {
    int n_conv, conv[MODEL_MAX_CONV];     /* 1..MODEL_MAX_CONV blocks */
    int n_dense, dense[MODEL_MAX_DENSE];  /* 0..MODEL_MAX_DENSE layers */
} model_shape;

#define MODEL_AXIS_MAX 1000           /* models in one grid */
#define MODEL_MAX_CHANNELS 4096
#define MODEL_MAX_WIDTH 65536
#define MODEL_MAX_PARAMS 100000000L   /* 400 MB of weights, times 4 with Adam */

/* One model of the config, with the place of its conv list items for
 * messages (line 0: the default model, given nowhere). */
typedef struct {
    model_shape shape;
    int line, col;                                 /* the model mapping */
    int conv_line[MODEL_MAX_CONV], conv_col[MODEL_MAX_CONV];
} config_model;

/* The blog's model: conv [32, 64], dense [256]. */
void model_shape_default(model_shape *m);
int model_shape_equal(const model_shape *a, const model_shape *b);
int model_shape_is_default(const model_shape *m);
/* "conv=32-64;dense=256" (the runs.model column; no commas, so CSV needs
 * no quotes); "dense=none" without hidden dense layers. */
void model_shape_text(const model_shape *m, char *buf, size_t size);
/* Whether the model fits h x w images: each conv block needs at least 4x4
 * (3x3 conv, then 2x2 pool). Else *block is the first conv block
 * (1-based) that does not fit and *bh x *bw its input. */
int model_shape_fits(const model_shape *m, int h, int w, int *block, int *bh, int *bw);
/* Parameters of the model on h x w images, n_classes outputs (without
 * PReLU slopes); -1 if it does not fit. */
double model_shape_params(const model_shape *m, int h, int w, int n_classes);

typedef struct {
    char *path;           /* as given on the command line */
    char *text;           /* the file's bytes, NUL-terminated */
    char *name;
    char *data_dir;       /* data.dir, else $SWEEP_DATA, else the Debian path */
    double validation_split;   /* default 0.2 */
    long train_limit;          /* default 0 = all */
    optim_kind optimizer;      /* default adam */
    es_settings early_stopping;    /* train.early_stopping; default off */
    int n_models;                  /* at least 1 after a parse */
    config_model *models;          /* model: or grid.model; default the blog's */
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

/* Checks every model of c against the data's rows x cols images (the parse
 * checked them against 28x28). Errors name the model's place in the
 * config: "path:line:col: model conv [...] does not fit 20x20 images: ...". */
int config_check_models(const sweep_config *c, int rows, int cols, sw_error *err);

#endif
