/* dataset.c: the format table, choosing a format, loading, and splits. */
#include "data_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- names ---- */

static const char *const format_names[DATA_N_FORMATS] = {"auto", "idx", "cifar10", "cifar100"};
static const char *const label_names[CIFAR_N_LABELS] = {"fine", "coarse"};

const char *dataset_format_name(dataset_format f)
{
    return (unsigned)f < DATA_N_FORMATS ? format_names[f] : NULL;
}

const char *cifar_label_name(cifar_label l)
{
    return (unsigned)l < CIFAR_N_LABELS ? label_names[l] : NULL;
}

int dataset_format_parse(const char *name)
{
    for (int f = 0; name && f < DATA_N_FORMATS; f++)
        if (strcmp(name, format_names[f]) == 0)
            return f;
    return -1;
}

int cifar_label_parse(const char *name)
{
    for (int l = 0; name && l < CIFAR_N_LABELS; l++)
        if (strcmp(name, label_names[l]) == 0)
            return l;
    return -1;
}

/* ---- choosing the format ---- */

/* The one format whose files are in dir. */
static int detect_format(const char *dir, dataset_format *out, sw_error *err)
{
    const int present[3] = {idx_present(dir), cifar_present(dir, DATA_CIFAR10),
                            cifar_present(dir, DATA_CIFAR100)};
    const dataset_format kinds[3] = {DATA_IDX, DATA_CIFAR10, DATA_CIFAR100};
    int found = 0;
    char list[64] = "";
    for (int k = 0; k < 3; k++)
        if (present[k]) {
            *out = kinds[k];
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", found ? ", " : "",
                     format_names[kinds[k]]);
            found++;
        }
    if (found == 1)
        return SW_OK;
    if (found > 1)
        return sw_err(err, SW_EINPUT,
                      "%s: holds the files of several formats (%s); choose one with format", dir,
                      list);
    struct stat st;
    int missing = stat(dir, &st) != 0;
    if (missing || !S_ISDIR(st.st_mode))
        return sw_err(err, SW_EINPUT,
                      "%s: %s; expected a folder with %s/train-images-idx3-ubyte[.gz] and the "
                      "other IDX files, or CIFAR binary batches",
                      dir, missing ? strerror(errno) : "not a folder", dir);
    return sw_err(err, SW_EINPUT,
                  "%s: no dataset found: expected IDX files (%s/train-images-idx3-ubyte[.gz] "
                  "...), CIFAR-10 (data_batch_1.bin ... data_batch_5.bin, test_batch.bin) or "
                  "CIFAR-100 (train.bin, test.bin)",
                  dir, dir);
}

/* ---- loading ---- */

int dataset_load(dataset *d, const char *dir, dataset_format fmt, cifar_label label,
                 sw_error *err)
{
    sw_error spare = {0};
    if (!err)
        err = &spare;
    memset(d, 0, sizeof *d);
    if (strlen(dir) >= sizeof d->dir)
        return sw_err(err, SW_EINPUT, "%s: folder name too long", dir);
    if ((unsigned)fmt >= DATA_N_FORMATS || (unsigned)label >= CIFAR_N_LABELS)
        return sw_err(err, SW_EINPUT, "%s: unknown data format or labelling", dir);
    memcpy(d->dir, dir, strlen(dir) + 1);
    int rc = fmt == DATA_AUTO ? detect_format(dir, &fmt, err) : SW_OK;
    if (!rc && label == CIFAR_COARSE && fmt != DATA_CIFAR100)
        rc = sw_err(err, SW_EINPUT, "%s: label: coarse is for CIFAR-100, but this folder is %s",
                    dir, format_names[fmt]);
    if (!rc)
        rc = fmt == DATA_IDX ? idx_load(d, err) : cifar_load(d, fmt, label, err);
    if (rc)
        dataset_free(d);
    return rc;
}

void dataset_free(dataset *d)
{
    free(d->train_images);
    free(d->train_labels);
    free(d->test_images);
    free(d->test_labels);
    free(d->class_names);
    memset(d, 0, sizeof *d);
}

const char *dataset_class_name(const dataset *d, int k)
{
    return d->class_names && k >= 0 && k < d->n_classes ? d->class_names[k] : NULL;
}

/* ---- splits ---- */

static data_split view(const dataset *d, const uint8_t *images, const uint8_t *labels,
                       long first, long n, long limit)
{
    int pixels = d->channels * d->rows * d->cols;
    if (limit > 0 && limit < n)
        n = limit;
    return (data_split){images ? images + (size_t)first * (size_t)pixels : NULL,
                        labels ? labels + first : NULL,
                        n,
                        pixels,
                        d->channels,
                        d->rows,
                        d->cols};
}

int dataset_split(const dataset *d, const data_split_opts *o, data_split *train,
                  data_split *val, data_split *test, sw_error *err)
{
    long n = d->n_train;
    double vs = o->validation_split;
    /* Keras: split_at = int(n * (1 - validation_split)), truncated. The
     * guards keep the cast defined for out-of-range or NaN splits. */
    long split_at = n;
    if (vs >= 1.0)
        split_at = 0;
    else if (vs > 0.0)
        split_at = (long)((double)n * (1.0 - vs));
    data_split tr = view(d, d->train_images, d->train_labels, 0, split_at, o->train_limit);
    data_split va = view(d, d->train_images, d->train_labels, split_at, n - split_at,
                         o->val_limit);
    data_split te = view(d, d->test_images, d->test_labels, 0, d->n_test, o->test_limit);
    if (train)
        *train = tr;
    if (val)
        *val = va;
    if (test)
        *test = te;
    if (tr.n < 1)
        return sw_err(err, SW_EINPUT,
                      "%s: %ld training image%s and validation_split %g leave none to train on",
                      d->dir, n, n == 1 ? "" : "s", vs);
    if (vs > 0.0 && va.n < 1)
        return sw_err(err, SW_EINPUT,
                      "%s: validation_split %g of %ld training images leaves no validation "
                      "image",
                      d->dir, vs, n);
    return SW_OK;
}
