/* dataset.h: image classification datasets held in memory as bytes.
 *
 * Formats: IDX folders (MNIST, Fashion-MNIST, KMNIST, EMNIST; each file gzip
 * or raw) and the binary versions of CIFAR-10 and CIFAR-100. Every set is
 * read once into one byte array of (n, channels * rows * cols), each image
 * planar (a whole rows x cols plane per channel, red then green then blue
 * for CIFAR); concurrent trainings share that copy, and batches are scaled
 * to [0,1] floats on the fly.
 *
 * Every error is SW_EINPUT with one line that names the file and, where the
 * fault is inside it, the record or byte offset. */
#ifndef SWEEP_DATASET_H
#define SWEEP_DATASET_H

#include <stdint.h>

#include "base/error.h"

/* ---- formats ---- */

typedef enum {
    DATA_AUTO,       /* decided by the file names in the folder */
    DATA_IDX,        /* {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] */
    DATA_CIFAR10,    /* data_batch_1.bin ... data_batch_5.bin, test_batch.bin */
    DATA_CIFAR100,   /* train.bin, test.bin */
    DATA_N_FORMATS
} dataset_format;

/* CIFAR-100's two labellings: 100 fine classes or 20 coarse superclasses. */
typedef enum { CIFAR_FINE, CIFAR_COARSE, CIFAR_N_LABELS } cifar_label;

/* The names as users spell them ("auto", "idx", "cifar10", "cifar100";
 * "fine", "coarse"); NULL for a value out of range. */
const char *dataset_format_name(dataset_format f);
const char *cifar_label_name(cifar_label l);
/* The value of a name, or -1 when it is none of them. */
int dataset_format_parse(const char *name);
int cifar_label_parse(const char *name);

/* ---- files ---- */

/* Reads one IDX file of unsigned bytes (type 0x08), gzip or raw (detected by
 * the gzip magic, whatever the file name). expect_dims is 3 for images,
 * 1 for labels. On success *data is malloc'd (caller frees), dims[] gets the
 * sizes (unused ones 1). Errors name the file: missing, not a regular file,
 * wrong magic, wrong type or dimension count, truncated, trailing data,
 * corrupt gzip, more than 2 GiB. */
int idx_read(const char *path, int expect_dims, uint8_t **data, long dims[3],
             sw_error *err);

/* CIFAR records: the label byte(s), then 3 planes of 32x32 bytes (R, G, B). */
enum { CIFAR_CHANNELS = 3, CIFAR_SIZE = 32, CIFAR_PIXELS = 3 * 32 * 32 };

/* Reads one CIFAR binary batch file of fmt (DATA_CIFAR10: records of 1 label
 * byte, labels 0..9; DATA_CIFAR100: coarse then fine label byte, 0..19 and
 * 0..99, both checked) keeping the label chosen by `label` (ignored for
 * CIFAR-10). On success *images is (n, 3072) and *labels (n), both malloc'd.
 * Errors name the file and the record: missing, not a regular file, empty,
 * a size that is not a whole number of records, a label out of range,
 * gzip-compressed, more than 2 GiB. */
int cifar_read(const char *path, dataset_format fmt, cifar_label label,
               uint8_t **images, uint8_t **labels, long *n, sw_error *err);

/* ---- datasets ---- */

typedef struct {
    char dir[4096];
    dataset_format format;          /* what was read; never DATA_AUTO */
    char found[128];                /* what was read, for the CLI to print:
                                     * "cifar10 (6 files, class names)" */
    int channels, rows, cols;       /* 1x28x28 for MNIST, 3x32x32 for CIFAR */
    int n_classes;                  /* every label is in 0..n_classes-1 */
    char **class_names;             /* n_classes names, or NULL if unknown */
    long n_train;                   /* the whole training set (e.g. 60000) */
    uint8_t *train_images;          /* (n_train, channels*rows*cols) */
    uint8_t *train_labels;          /* (n_train) */
    long n_test;
    uint8_t *test_images;
    uint8_t *test_labels;
    uint64_t identity;              /* hash of the decoded data, see below */
} dataset;

/* Loads the dataset in dir as fmt; DATA_AUTO picks the format whose file
 * names are present (refusing a folder that holds several). `label` picks
 * CIFAR-100's labels; CIFAR_COARSE with another format is an error.
 *
 * IDX: the four files, .gz preferred when both spellings exist, image and
 *   label counts equal, train and test images the same size. n_classes is
 *   one more than the largest training label (10 for MNIST and its kin,
 *   27 for EMNIST letters, whose labels are 1..26), at least 2; a test label
 *   outside the training labels is an error. No class names.
 * CIFAR-10: the six batch files, 10 classes; names from batches.meta.txt.
 * CIFAR-100: train.bin and test.bin; 100 fine or 20 coarse classes; names
 *   from fine_label_names.txt or coarse_label_names.txt.
 * A names file is optional; when present it must hold exactly n_classes
 * non-empty lines of printable UTF-8 (blank lines may follow), each at most
 * 63 bytes.
 *
 * identity: IDX keeps its historical value (stored results refer to it):
 * each file hashed with its rebuilt header. CIFAR hashes the training
 * images, training labels, test images and test labels (the chosen CIFAR-100
 * labels) under a seed naming the format and labelling; how the records
 * are spread over batch files and the names files do not count.
 *
 * Every format needs at least 2 training images and 1 test image.
 *
 * On failure *d is all zeros. */
int dataset_load(dataset *d, const char *dir, dataset_format fmt,
                 cifar_label label, sw_error *err);
void dataset_free(dataset *d);

/* Name of class k, or NULL when the dataset has no names or k is out of
 * range. */
const char *dataset_class_name(const dataset *d, int k);

/* ---- splits and batches ---- */

/* A view of consecutive examples; never owns memory. */
typedef struct {
    const uint8_t *images;          /* (n, pixels) */
    const uint8_t *labels;          /* (n) */
    long n;
    int pixels;                     /* bytes per image: channels*rows*cols */
    int channels, rows, cols;       /* 0 when unknown (no augmentation then) */
} data_split;

/* How a dataset is cut into training, validation and test examples. */
typedef struct {
    double validation_split;   /* Keras: the last fraction of the training set */
    long train_limit;          /* > 0: only the first N training examples */
    long val_limit;            /* > 0: only the first N validation examples */
    long test_limit;           /* > 0: only the first N test examples */
} data_split_opts;

/* Keras' validation_split: training is the first
 * floor(n_train * (1 - validation_split)) examples, as Keras computes it,
 * validation the rest of the training set. The limits then keep a prefix of
 * each part; limits of 0 (or less) keep everything. Validation is always
 * taken from the whole training set, never from the limited one: runs that
 * differ only in train_limit are measured on the same validation examples,
 * and a quick run with train_limit and val_limit still sees held-out images.
 * Any of train, val, test may be NULL.
 *
 * Refuses (SW_EINPUT, naming the folder and the numbers) a split that leaves
 * no training example (one image with validation_split 0.2) or, when
 * validation_split > 0, no validation example; the views are still filled.
 * Callers check this before anything trains or is stored. */
int dataset_split(const dataset *d, const data_split_opts *o, data_split *train,
                  data_split *val, data_split *test, sw_error *err);

/* Scales images[order[i]] (or images[start + i] when order is NULL) for
 * i in [start, start + count) to floats in [0,1]: out is (count, pixels),
 * planar like the bytes. */
void data_batch_floats(float *out, uint8_t *labels_out, const data_split *s,
                       const long *order, long start, int count);

/* ---- augmentation (training only) ---- */

typedef struct {
    int crop;   /* > 0: zero-pad by crop pixels on every side, then cut the
                 * image back out at a random offset in [0, 2*crop]^2 */
    int flip;   /* nonzero: mirror left-right with probability 1/2 */
} data_augment;

/* Whether a is set and does something. */
int data_augment_active(const data_augment *a);

/* The draw for example `index` of a split in `epoch`: *dy, *dx in
 * [0, 2*crop] (crop == dy == dx means no shift) and *flip in {0, 1}. A pure
 * function of (seed, epoch, index), so the same at any thread count, in any
 * order and after a resume. */
void data_augment_draw(const data_augment *a, uint64_t seed, int epoch, long index,
                       int *dy, int *dx, int *flip);

/* data_batch_floats with each example transformed by its draw (index =
 * the example's index in the split, i.e. order[start + i]). With a NULL or
 * inactive augment, or a split without its geometry, exactly
 * data_batch_floats: no extra work and no copy. */
void data_batch_floats_augmented(float *out, uint8_t *labels_out, const data_split *s,
                                 const long *order, long start, int count,
                                 const data_augment *a, uint64_t seed, int epoch);

#endif
