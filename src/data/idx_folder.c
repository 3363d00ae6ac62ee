/* idx_folder.c: an MNIST-format folder of four IDX files as a dataset. */
#include "data_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS, N_FILES };

static const char *const file_names[N_FILES] = {
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte"};
/* The dotted spelling some mirrors use. */
static const char *const file_names_dotted[N_FILES] = {
    "train-images.idx3-ubyte", "train-labels.idx1-ubyte", "t10k-images.idx3-ubyte",
    "t10k-labels.idx1-ubyte"};

static const int want_dims[N_FILES] = {3, 1, 3, 1};

/* Finds the file to read, .gz first; returns 0 when none exists (out then
 * holds the usual name). */
static int find_file(char *out, size_t size, const char *dir, int which)
{
    const char *bases[2] = {file_names[which], file_names_dotted[which]};
    for (int b = 0; b < 2; b++)
        for (int gz = 1; gz >= 0; gz--) {
            snprintf(out, size, "%s/%s%s", dir, bases[b], gz ? ".gz" : "");
            if (data_exists(out))
                return 1;
        }
    snprintf(out, size, "%s/%s", dir, file_names[which]);
    return 0;
}

int idx_present(const char *dir)
{
    char path[DATA_PATH_MAX];
    for (int f = 0; f < N_FILES; f++)
        if (find_file(path, sizeof path, dir, f))
            return 1;
    return 0;
}

/* The decoded files of a folder. */
typedef struct {
    char paths[N_FILES][DATA_PATH_MAX];
    uint8_t *data[N_FILES];
    long dims[N_FILES][3];
    uint64_t hashes[N_FILES];
} idx_files;

/* A file's hash: its header, rebuilt exactly, seeds the hash of its data. */
static uint64_t file_hash(const uint8_t *data, const long dims[3], int ndim)
{
    uint8_t head[16] = {0, 0, 0x08, (uint8_t)ndim};
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        uint32_t s = (uint32_t)dims[i];
        head[4 + 4 * i] = (uint8_t)(s >> 24);
        head[5 + 4 * i] = (uint8_t)(s >> 16);
        head[6 + 4 * i] = (uint8_t)(s >> 8);
        head[7 + 4 * i] = (uint8_t)s;
        n *= s;
    }
    return data_hash(data, (size_t)n, data_hash(head, 4 + 4 * (size_t)ndim, 0));
}

/* Reads and hashes the four files; the first error in file order wins. */
static int read_files(idx_files *x, sw_error *err)
{
    sw_error errs[N_FILES];
    memset(errs, 0, sizeof errs);
    /* The four files decode independently; train images dominate, so with
     * two threads the other three ride along for free. */
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1)
#endif
    for (int f = 0; f < N_FILES; f++)
        if (idx_read(x->paths[f], want_dims[f], &x->data[f], x->dims[f], &errs[f]) == SW_OK)
            x->hashes[f] = file_hash(x->data[f], x->dims[f], want_dims[f]);
    for (int f = 0; f < N_FILES; f++)
        if (errs[f].code)
            return sw_err(err, errs[f].code, "%s", errs[f].msg);
    return SW_OK;
}

/* Counts agree, sizes agree, both sets hold examples. */
static int check_shapes(const idx_files *x, sw_error *err)
{
    const long(*dims)[3] = x->dims;
    long n_train = dims[TRAIN_IMAGES][0], n_test = dims[TEST_IMAGES][0];
    long rows = dims[TRAIN_IMAGES][1], cols = dims[TRAIN_IMAGES][2];
    for (int set = 0; set < 2; set++) {
        int im = set ? TEST_IMAGES : TRAIN_IMAGES, lab = im + 1;
        if (dims[lab][0] != dims[im][0])
            return sw_err(err, SW_EINPUT, "%s has %ld images but %s has %ld labels",
                          x->paths[im], dims[im][0], x->paths[lab], dims[lab][0]);
    }
    if (dims[TEST_IMAGES][1] != rows || dims[TEST_IMAGES][2] != cols)
        return sw_err(err, SW_EINPUT, "%s: images are %ldx%ld but %s has %ldx%ld",
                      x->paths[TEST_IMAGES], dims[TEST_IMAGES][1], dims[TEST_IMAGES][2],
                      x->paths[TRAIN_IMAGES], rows, cols);
    /* Training needs examples and pixels; pixels must fit an int. */
    if (n_train < 1 || n_test < 1)
        return sw_err(err, SW_EINPUT, "%s: no examples",
                      x->paths[n_train < 1 ? TRAIN_IMAGES : TEST_IMAGES]);
    if (n_train < 2)
        return sw_err(err, SW_EINPUT,
                      "%s: only 1 training image; training needs at least 2 (one to learn "
                      "from, one to validate on)",
                      x->paths[TRAIN_IMAGES]);
    if (rows < 1 || cols < 1 || rows > INT_MAX / cols)
        return sw_err(err, SW_EINPUT, "%s: unusable image size %ldx%ld",
                      x->paths[TRAIN_IMAGES], rows, cols);
    return SW_OK;
}

/* n_classes from the training labels; test labels must be among them. */
static int check_labels(const idx_files *x, int *n_classes, sw_error *err)
{
    const uint8_t *train = x->data[TRAIN_LABELS], *test = x->data[TEST_LABELS];
    int top = 0;
    for (long i = 0; i < x->dims[TRAIN_LABELS][0]; i++)
        if (train[i] > top)
            top = train[i];
    if (top == 0)
        return sw_err(err, SW_EINPUT, "%s: every label is 0; a classifier needs two classes",
                      x->paths[TRAIN_LABELS]);
    for (long i = 0; i < x->dims[TEST_LABELS][0]; i++)
        if (test[i] > top)
            return sw_err(err, SW_EINPUT,
                          "%s: label %d at record %ld (byte offset %ld) is outside the "
                          "training labels 0..%d",
                          x->paths[TEST_LABELS], test[i], i, 8 + i, top);
    *n_classes = top + 1;
    return SW_OK;
}

int idx_load(dataset *d, sw_error *err)
{
    idx_files *x = calloc(1, sizeof *x);
    if (!x)
        return sw_oom(err, d->dir);
    int rc = SW_OK;
    for (int f = 0; f < N_FILES && !rc; f++)
        if (!find_file(x->paths[f], sizeof x->paths[f], d->dir, f))
            rc = sw_err(err, SW_EINPUT, "%s[.gz]: file not found", x->paths[f]);
    if (!rc)
        rc = read_files(x, err);
    if (!rc)
        rc = check_shapes(x, err);
    if (!rc)
        rc = check_labels(x, &d->n_classes, err);
    if (rc) {
        for (int f = 0; f < N_FILES; f++)
            free(x->data[f]);
        free(x);
        return rc;
    }
    int gz = 0;
    for (int f = 0; f < N_FILES; f++)
        gz += strlen(x->paths[f]) > 3 && strcmp(x->paths[f] + strlen(x->paths[f]) - 3, ".gz") == 0;
    snprintf(d->found, sizeof d->found, "idx (4 files%s)", gz == 4 ? ", gzip" : gz ? ", some gzip" : "");
    d->format = DATA_IDX;
    d->channels = 1;
    d->rows = (int)x->dims[TRAIN_IMAGES][1];
    d->cols = (int)x->dims[TRAIN_IMAGES][2];
    d->n_train = x->dims[TRAIN_IMAGES][0];
    d->train_images = x->data[TRAIN_IMAGES];
    d->train_labels = x->data[TRAIN_LABELS];
    d->n_test = x->dims[TEST_IMAGES][0];
    d->test_images = x->data[TEST_IMAGES];
    d->test_labels = x->data[TEST_LABELS];
    /* The four file hashes in the order train images, train labels, test
     * images, test labels. */
    d->identity = data_hash_u64s(x->hashes, N_FILES, 0);
    free(x);
    return SW_OK;
}
