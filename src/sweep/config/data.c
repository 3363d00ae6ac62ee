/* data.c: the data section of a config: where the images are, their format
 * and labelling, how they are split and limited, and the augmentation.
 *
 *   data:
 *     dir: PATH                   default $SWEEP_DATA, else DEFAULT_DATA_DIR
 *     format: auto | idx | cifar10 | cifar100
 *     label: fine | coarse        CIFAR-100 only
 *     validation_split: 0.2
 *     train_limit: 0              first N training images (0 = all)
 *     val_limit: 0                first N validation images (0 = all)
 *     test_limit: 0               first N test images (0 = all)
 *     augment: {crop: P, flip: true}   training only; P in [0, 16] */
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

static const char *format_at(int k) { return dataset_format_name((dataset_format)k); }
static int format_n(void) { return DATA_N_FORMATS; }
static const char *label_at(int k) { return cifar_label_name((cifar_label)k); }
static int label_n(void) { return CIFAR_N_LABELS; }

static const enum_names format_enum = {format_n, format_at, dataset_format_parse};
static const enum_names label_enum = {label_n, label_at, cifar_label_parse};

static const field f_format = {"format", F_ENUM, 0, 0, 0, 0, &format_enum, NULL};
static const field f_label = {"label", F_ENUM, 0, 0, 0, 0, &label_enum, NULL};
static const field f_val_limit = {"val_limit", F_INT, 0, TWO_POW_53, 0, 0, NULL,
                                  "an integer >= 0"};
static const field f_test_limit = {"test_limit", F_INT, 0, TWO_POW_53, 0, 0, NULL,
                                   "an integer >= 0"};
static const field f_crop = {"crop", F_INT, 0, AUGMENT_MAX_CROP, 0, 0, NULL,
                             "an integer in [0, 16] (pixels of zero padding)"};

/* augment: {crop: P, flip: true | false}; null or {} is no augmentation. */
static int parse_augment(parser *p, const ynode *map, sweep_config *c)
{
    static const char *const names[] = {"crop", "flip"};
    const ynode *k[2], *v[2];
    char b[200];
    double d;
    int rc;
    if (cfg_is_null(map))
        return 0;
    if (map->type != Y_MAP)
        return cfg_fail(p, map, "augment must be a mapping like {crop: 4, flip: true}, got %s",
                        cfg_show(map, b, sizeof b));
    if ((rc = cfg_map_fields(p, map, "augment", names, 2, k, v)))
        return rc;
    if (v[0]) {
        if ((rc = cfg_parse_value(p, &f_crop, v[0], &d, 0)))
            return rc;
        c->augment.crop = (int)d;
    }
    if (v[1] && (rc = cfg_parse_bool(p, "flip", v[1], &c->augment.flip)))
        return rc;
    return 0;
}

/* A limit (train_limit, val_limit, test_limit): an integer >= 0. */
static int parse_limit(parser *p, const field *f, const ynode *n, long *out)
{
    double d;
    int rc = cfg_parse_value(p, f, n, &d, 0);
    if (!rc)
        *out = (long)d;
    return rc;
}

int cfg_parse_data(parser *p, const ynode *map, sweep_config *c)
{
    static const char *const names[] = {"dir", "format", "label", "validation_split",
                                        "train_limit", "val_limit", "test_limit", "augment"};
    enum { K_DIR, K_FORMAT, K_LABEL, K_SPLIT, K_TRAIN, K_VAL, K_TEST, K_AUGMENT, K_N };
    const ynode *k[K_N], *v[K_N];
    char b[200];
    double d;
    int rc;
    if (map->type != Y_MAP)
        return cfg_fail(p, map, "data must be a mapping of settings, got %s",
                        cfg_show(map, b, sizeof b));
    if ((rc = cfg_map_fields(p, map, "data", names, K_N, k, v)))
        return rc;
    if (v[K_DIR]) {
        char *dir = NULL;
        if ((rc = cfg_parse_string(p, "dir", v[K_DIR], &dir)))
            return rc;
        free(c->data_dir);
        c->data_dir = dir;
    }
    if (v[K_FORMAT]) {
        if ((rc = cfg_parse_value(p, &f_format, v[K_FORMAT], &d, 0)))
            return rc;
        c->data_format = (int)d;
    }
    if (v[K_LABEL]) {
        if ((rc = cfg_parse_value(p, &f_label, v[K_LABEL], &d, 0)))
            return rc;
        c->data_label = (int)d;
        c->label_line = v[K_LABEL]->line;
        c->label_col = v[K_LABEL]->col;
        if (c->data_format != DATA_AUTO && c->data_format != DATA_CIFAR100)
            return cfg_fail(p, v[K_LABEL], "label is for CIFAR-100 (fine or coarse classes), "
                            "but format is %s; remove it",
                            dataset_format_name((dataset_format)c->data_format));
    }
    if (v[K_SPLIT]) {
        if ((rc = cfg_parse_value(p, &cfg_f_validation_split, v[K_SPLIT], &d, 0)))
            return rc;
        c->validation_split = d;
    }
    if ((v[K_TRAIN] && (rc = parse_limit(p, &cfg_f_train_limit, v[K_TRAIN], &c->train_limit))) ||
        (v[K_VAL] && (rc = parse_limit(p, &f_val_limit, v[K_VAL], &c->val_limit))) ||
        (v[K_TEST] && (rc = parse_limit(p, &f_test_limit, v[K_TEST], &c->test_limit))))
        return rc;
    if (v[K_AUGMENT] && (rc = parse_augment(p, v[K_AUGMENT], c)))
        return rc;
    return 0;
}

int config_check_data(const sweep_config *c, const dataset *d, sw_error *err)
{
    if (c->label_line > 0 && d->format != DATA_CIFAR100)
        return sw_err(err, SW_EINPUT,
                      "%s:%d:%d: label is for CIFAR-100 (fine or coarse classes), but %s holds "
                      "%s; remove it", c->path ? c->path : "<config>", c->label_line,
                      c->label_col, d->dir, dataset_format_name(d->format));
    return SW_OK;
}
