/* config.h: a sweep's YAML config (name, data, train, model, grid,
 * exclude), parsed with libyaml into typed settings. The loader lives in
 * src/sweep/config/; only its yaml_tree.c includes yaml.h. Names of
 * activations, inits and optimizers come from the tables of nn/activation.h,
 * train/init.h and train/optim.h; the model's limits from
 * train/model_shape.h. */
#ifndef SWEEP_CONFIG_H
#define SWEEP_CONFIG_H

#include <stddef.h>

#include "base/error.h"
#include "data/dataset.h"
#include "nn/activation.h"
#include "train/early_stop.h"
#include "train/model.h"
#include "train/optim.h"
#include "train/schedule.h"

/* Grid axes, in expansion order (the first varies slowest, seed fastest).
 * The model axis holds indices into sweep_config.models, the lr_schedule
 * axis indices into sweep_config.schedules; batchnorm is 0 or 1, optimizer
 * its optim_kind. */
typedef enum {
    AXIS_ACTIVATION, AXIS_ALPHA, AXIS_MODEL, AXIS_BATCHNORM, AXIS_INIT, AXIS_DROPOUT,
    AXIS_EPOCHS, AXIS_BATCH_SIZE, AXIS_OPTIMIZER, AXIS_LEARNING_RATE, AXIS_MOMENTUM,
    AXIS_WEIGHT_DECAY, AXIS_LR_SCHEDULE, AXIS_SEED, AXIS_COUNT
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
    double v[AXIS_COUNT]; /* model, lr_schedule: an index into models or
                             schedules, -1 if not in the grid */
} exclude_rule;

#define MODEL_AXIS_MAX 1000           /* models in one grid */

/* One model of the config, with the place of its conv list items for
 * messages (line 0: the default model, given nowhere). */
typedef struct {
    model_shape shape;
    int line, col;                                 /* the model mapping */
    int conv_line[MODEL_MAX_CONV], conv_col[MODEL_MAX_CONV];
} config_model;

/* decide: {metric, baseline, rope, seeds: {min, max}}: add seeds until
 * each setting's comparison with the baseline is settled (stats_decide). */
#define DECIDE_SEEDS_MAX 1000
typedef struct {
    int on;
    char metric[32];      /* test_accuracy, test_loss, best_val_accuracy,
                             best_val_loss */
    axis_id axis;         /* the first axis that varies */
    double baseline;      /* its baseline value, as the axis stores it */
    double rope;          /* >= 0, in the metric's units */
    int seeds_min, seeds_max;   /* 2 <= min <= max <= DECIDE_SEEDS_MAX */
    int line, col;        /* the decide key */
} decide_settings;
#define SCHEDULE_AXIS_MAX 100        /* lr schedules in one grid */

/* One lr schedule of the config and its place (line 0: the default). */
typedef struct {
    lr_schedule s;
    int line, col;
} config_schedule;

typedef struct {
    char *path;           /* as given on the command line */
    char *text;           /* the file's bytes, NUL-terminated */
    char *name;
    char *data_dir;       /* data.dir, else $SWEEP_DATA, else the Debian path */
    double validation_split;   /* default 0.2 */
    long train_limit;          /* default 0 = all */
    long val_limit, test_limit;    /* default 0 = all */
    int data_format;           /* dataset_format; default DATA_AUTO */
    int data_label;            /* cifar_label; default CIFAR_FINE */
    int label_line, label_col; /* where data.label was given; 0 if not */
    data_augment augment;      /* data.augment; default off */
    int nesterov;              /* train.nesterov; default false (sgd with momentum) */
    es_settings early_stopping;    /* train.early_stopping; default off */
    int n_models;                  /* at least 1 after a parse */
    config_model *models;          /* model: or grid.model; default the blog's */
    int n_schedules;               /* at least 1 after a parse */
    config_schedule *schedules;    /* train.lr_schedule or grid.lr_schedule;
                                      default constant */
    axis_values axis[AXIS_COUNT];  /* defaults fill axes not given; alpha: every
                                      alpha of the grid, in order of first
                                      appearance */
    axis_values alphas[ACT_COUNT]; /* the alphas the runs of each activation
                                      take (grid.alpha's one list, its entry in
                                      a map, else the row's default_alpha); n 0
                                      for an activation without alpha or not
                                      in the grid: see config_alphas */
    int n_exclude;
    exclude_rule *exclude;
    int n_warnings;
    char **warnings;               /* "path:line:col: message": legal settings
                                      that are likely mistakes (leaky_relu with
                                      alpha 1); the caller prints them */
    decide_settings decide;        /* on 0 without a decide: section; with
                                      one, the seed axis is 1..seeds_min */
} sweep_config;

#define DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"

/* Largest data.augment.crop (pixels of zero padding on each side). */
#define AUGMENT_MAX_CROP 16

/* Reads and parses path. Errors are "path:line:col: message". */
int config_load(sweep_config *c, const char *path, sw_error *err);
/* Parses text (len bytes, need not be NUL-terminated); path only names the
 * place in messages. */
int config_parse(sweep_config *c, const char *text, size_t len,
                 const char *path, sw_error *err);
void config_free(sweep_config *c);

/* The alphas that runs of activation k take: c->alphas[k], or the alpha
 * axis when that is empty (a config built by hand). */
const axis_values *config_alphas(const sweep_config *c, act_kind k);

/* Runs the grid expands to before excludes: an activation without alpha
 * (relu) counts once whatever the alphas. Exact in a double unless it is
 * far past GRID_MAX_RUNS. */
double config_grid_count(const sweep_config *c);

/* Checks the data settings of c against the dataset loaded with them:
 * data.label needs CIFAR-100 (with format auto, found only once loaded).
 * Errors name the place of the setting in the config. */
int config_check_data(const sweep_config *c, const dataset *d, sw_error *err);

/* Checks every model of c against the data's rows x cols images (the parse
 * checked them against 28x28). Errors name the model's place in the
 * config: "path:line:col: model conv [...] does not fit 20x20 images: ...". */
int config_check_models(const sweep_config *c, int rows, int cols, sw_error *err);

#endif
