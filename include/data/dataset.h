/* dataset.h: MNIST-format datasets (IDX files, gzip or raw).
 *
 * Images stay in memory once, as bytes; batches are scaled to [0,1] floats
 * on the fly, so concurrent trainings share one copy. */
#ifndef SWEEP_DATASET_H
#define SWEEP_DATASET_H

#include <stdint.h>

#include "base/error.h"

/* Reads one IDX file of unsigned bytes (type 0x08), gzip or raw (detected by
 * the gzip magic, whatever the file name). expect_dims is 3 for images,
 * 1 for labels. On success *data is malloc'd (caller frees), dims[] gets the
 * sizes (unused ones 1). Errors name the file: missing, wrong magic, wrong
 * type or dimension count, truncated, corrupt gzip, size overflow. */
int idx_read(const char *path, int expect_dims, uint8_t **data, long dims[3],
             sw_error *err);

typedef struct {
    char dir[4096];
    int rows, cols;                 /* 28 x 28 for MNIST */
    long n_train;                   /* the whole training file (60k) */
    uint8_t *train_images;          /* (n_train, rows*cols) */
    uint8_t *train_labels;          /* (n_train) in 0..9 */
    long n_test;
    uint8_t *test_images;
    uint8_t *test_labels;
    uint64_t identity;              /* hash of all four files' decoded bytes */
} dataset;

/* Loads {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] from dir
 * (.gz preferred when both exist). Checks image/label counts match, image
 * sizes agree between train and test, and every label is in 0..9. */
int dataset_load(dataset *d, const char *dir, sw_error *err);
void dataset_free(dataset *d);

/* A view of consecutive examples; never owns memory. */
typedef struct {
    const uint8_t *images;          /* (n, pixels) */
    const uint8_t *labels;          /* (n) */
    long n;
    int pixels;
} data_split;

/* Keras' validation_split: the LAST floor(n_train * split) examples... more
 * exactly, training is the first floor(n_train * (1 - split)) examples, as
 * Keras computes it, and validation the rest. train_limit > 0 keeps only the
 * first train_limit training examples (validation unchanged). */
void dataset_split(const dataset *d, double validation_split, long train_limit,
                   data_split *train, data_split *val, data_split *test);

/* Scales images[order[i]] (or images[start + i] when order is NULL) for
 * i in [start, start + count) to floats in [0,1]: out is (count, pixels). */
void data_batch_floats(float *out, uint8_t *labels_out, const data_split *s,
                       const long *order, long start, int count);

#endif
