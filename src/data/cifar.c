/* cifar.c: the binary versions of CIFAR-10 and CIFAR-100.
 *
 * A batch file is a run of fixed-size records: the label byte(s), then the
 * 3,072 bytes of one 32x32 image as three planes (red, green, blue), which
 * is exactly the planar layout the dataset keeps. There is no header, so
 * the file size must be a whole number of records, and every label byte is
 * checked against its range. */
#include "data_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { CHUNK_RECORDS = 256, MAX_FILES = 6 };

/* The files of each format: training batches first, the test batch last. */
static const char *const cifar10_files[] = {"data_batch_1.bin", "data_batch_2.bin",
                                            "data_batch_3.bin", "data_batch_4.bin",
                                            "data_batch_5.bin", "test_batch.bin"};
static const char *const cifar100_files[] = {"train.bin", "test.bin"};

static int n_files(dataset_format fmt) { return fmt == DATA_CIFAR10 ? 6 : 2; }

static const char *file_name(dataset_format fmt, int f)
{
    return fmt == DATA_CIFAR10 ? cifar10_files[f] : cifar100_files[f];
}

static int label_bytes(dataset_format fmt) { return fmt == DATA_CIFAR10 ? 1 : 2; }

static int record_size(dataset_format fmt) { return label_bytes(fmt) + CIFAR_PIXELS; }

int cifar_present(const char *dir, dataset_format fmt)
{
    char path[DATA_PATH_MAX];
    for (int f = 0; f < n_files(fmt); f++) {
        snprintf(path, sizeof path, "%s/%s", dir, file_name(fmt, f));
        if (data_exists(path))
            return 1;
    }
    return 0;
}

/* ---- one batch file ---- */

/* Records in path, from its size (stat only: a FIFO is refused unopened). */
static int cifar_count(const char *path, dataset_format fmt, long *n, sw_error *err)
{
    struct stat st;
    long long rec = record_size(fmt);
    if (stat(path, &st) != 0)
        return errno == ENOENT ? sw_err(err, SW_EINPUT, "%s: file not found", path)
                               : sw_err(err, SW_EINPUT, "%s: cannot open: %s", path,
                                        strerror(errno));
    if (!S_ISREG(st.st_mode))
        return sw_err(err, SW_EINPUT, "%s: not a regular file (%s)", path,
                      S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISDIR(st.st_mode) ? "a folder"
                                                                            : "a special file");
    long long size = (long long)st.st_size;
    if (size == 0)
        return sw_err(err, SW_EINPUT, "%s: empty file, expected %lld-byte records", path, rec);
    if ((uint64_t)size > DATA_MAX_BYTES)
        return sw_err(err, SW_EINPUT, "%s: %lld bytes, more than 2 GiB", path, size);
    if (size % rec)
        return sw_err(err, SW_EINPUT,
                      "%s: truncated: %lld bytes is not a whole number of %lld-byte records; "
                      "record %lld (byte offset %lld) has only %lld bytes",
                      path, size, rec, size / rec, size / rec * rec, size % rec);
    *n = (long)(size / rec);
    return SW_OK;
}

/* Checks record i's label bytes (p at its start); returns the one kept. */
static int record_label(const char *path, dataset_format fmt, cifar_label label,
                        const uint8_t *p, long i, uint8_t *out, sw_error *err)
{
    long long at = (long long)i * record_size(fmt);
    if (i == 0 && p[0] == 0x1f && p[1] == 0x8b)
        return sw_err(err, SW_EINPUT,
                      "%s: gzip-compressed; unpack the archive (tar xzf) to get the "
                      "binary batch files",
                      path);
    if (fmt == DATA_CIFAR10) {
        if (p[0] > 9)
            return sw_err(err, SW_EINPUT,
                          "%s: record %ld (byte offset %lld): label %d is outside 0..9", path, i,
                          at, p[0]);
        *out = p[0];
        return SW_OK;
    }
    if (p[0] > 19)
        return sw_err(err, SW_EINPUT,
                      "%s: record %ld (byte offset %lld): coarse label %d is outside 0..19",
                      path, i, at, p[0]);
    if (p[1] > 99)
        return sw_err(err, SW_EINPUT,
                      "%s: record %ld (byte offset %lld): fine label %d is outside 0..99", path,
                      i, at + 1, p[1]);
    *out = label == CIFAR_COARSE ? p[0] : p[1];
    return SW_OK;
}

/* Reads the n records of path into images (n, 3072) and labels (n). */
static int cifar_read_into(const char *path, dataset_format fmt, cifar_label label, long n,
                           uint8_t *images, uint8_t *labels, sw_error *err)
{
    struct stat st;
    int fd = data_open_regular(path, &st, err);
    if (fd < 0)
        return SW_EINPUT;
    const size_t rec = (size_t)record_size(fmt);
    const int lb = label_bytes(fmt);
    int rc = SW_OK;
    uint8_t *buf = malloc(CHUNK_RECORDS * rec);
    if (!buf)
        rc = sw_oom(err, path);
    else if ((long long)st.st_size != (long long)n * (long long)rec)
        rc = sw_err(err, SW_EINPUT, "%s: changed size while being read", path);
    for (long i = 0; i < n && !rc;) {
        long k = n - i < CHUNK_RECORDS ? n - i : CHUNK_RECORDS;
        long got = data_read_full(fd, buf, (size_t)k * rec, path, err);
        if (got < 0) {
            rc = SW_EINPUT;
            break;
        }
        if ((size_t)got < (size_t)k * rec) {
            rc = sw_err(err, SW_EINPUT, "%s: truncated while being read, at record %ld", path,
                        i + (long)((size_t)got / rec));
            break;
        }
        for (long r = 0; r < k && !rc; r++, i++) {
            const uint8_t *p = buf + (size_t)r * rec;
            rc = record_label(path, fmt, label, p, i, labels + i, err);
            memcpy(images + (size_t)i * CIFAR_PIXELS, p + lb, CIFAR_PIXELS);
        }
    }
    free(buf);
    close(fd);
    return rc;
}

static int check_format(const char *path, dataset_format fmt, cifar_label label, sw_error *err)
{
    if (fmt != DATA_CIFAR10 && fmt != DATA_CIFAR100)
        return sw_err(err, SW_EINPUT, "%s: not a CIFAR format", path);
    if (label != CIFAR_FINE && label != CIFAR_COARSE)
        return sw_err(err, SW_EINPUT, "%s: unknown CIFAR-100 labelling", path);
    return SW_OK;
}

int cifar_read(const char *path, dataset_format fmt, cifar_label label, uint8_t **images,
               uint8_t **labels, long *n, sw_error *err)
{
    sw_error spare = {0};
    if (!err)
        err = &spare;
    *images = *labels = NULL;
    *n = 0;
    long count = 0;
    if (check_format(path, fmt, label, err) || cifar_count(path, fmt, &count, err))
        return err->code;
    uint8_t *im = malloc((size_t)count * CIFAR_PIXELS), *lab = malloc((size_t)count);
    int rc = !im || !lab ? sw_oom(err, path)
                         : cifar_read_into(path, fmt, label, count, im, lab, err);
    if (rc) {
        free(im);
        free(lab);
        return rc;
    }
    *images = im;
    *labels = lab;
    *n = count;
    return SW_OK;
}

/* ---- a folder ---- */

typedef struct {
    char paths[MAX_FILES][DATA_PATH_MAX];
    long counts[MAX_FILES];
    long first[MAX_FILES];   /* the file's first record in its set */
} cifar_files;

/* Names, sizes and places of every file, checked before anything is read. */
static int plan_files(const dataset *d, dataset_format fmt, cifar_files *x, sw_error *err)
{
    int nf = n_files(fmt);
    long n[2] = {0, 0};   /* train, test */
    for (int f = 0; f < nf; f++) {
        int test = f == nf - 1;
        snprintf(x->paths[f], sizeof x->paths[f], "%s/%s", d->dir, file_name(fmt, f));
        if (cifar_count(x->paths[f], fmt, &x->counts[f], err))
            return err->code;
        x->first[f] = n[test];
        n[test] += x->counts[f];
    }
    return SW_OK;
}

/* The identity: the four arrays hashed under a seed naming the format and
 * the labelling. */
static uint64_t cifar_identity(const dataset *d, dataset_format fmt, cifar_label label)
{
    const char *tag = fmt == DATA_CIFAR10      ? "cifar10"
                      : label == CIFAR_COARSE ? "cifar100/coarse"
                                              : "cifar100/fine";
    uint64_t seed = data_hash((const uint8_t *)tag, strlen(tag), 0), h[4];
    h[0] = data_hash(d->train_images, (size_t)d->n_train * CIFAR_PIXELS, seed);
    h[1] = data_hash(d->train_labels, (size_t)d->n_train, seed);
    h[2] = data_hash(d->test_images, (size_t)d->n_test * CIFAR_PIXELS, seed);
    h[3] = data_hash(d->test_labels, (size_t)d->n_test, seed);
    return data_hash_u64s(h, 4, seed);
}

/* Reads every file into its place; the files are independent, so they are
 * read in parallel. The first error in file order wins. */
static int read_files(dataset *d, dataset_format fmt, cifar_label label, const cifar_files *x,
                      sw_error *err)
{
    int nf = n_files(fmt);
    sw_error errs[MAX_FILES];
    memset(errs, 0, sizeof errs);
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1)
#endif
    for (int f = 0; f < nf; f++) {
        int test = f == nf - 1;
        uint8_t *im = test ? d->test_images : d->train_images;
        uint8_t *lab = test ? d->test_labels : d->train_labels;
        cifar_read_into(x->paths[f], fmt, label, x->counts[f],
                        im + (size_t)x->first[f] * CIFAR_PIXELS, lab + x->first[f], &errs[f]);
    }
    for (int f = 0; f < nf; f++)
        if (errs[f].code)
            return sw_err(err, errs[f].code, "%s", errs[f].msg);
    return SW_OK;
}

int cifar_load(dataset *d, dataset_format fmt, cifar_label label, sw_error *err)
{
    if (check_format(d->dir, fmt, label, err))
        return err->code;
    cifar_files *x = calloc(1, sizeof *x);
    if (!x)
        return sw_oom(err, d->dir);
    int rc = plan_files(d, fmt, x, err), nf = n_files(fmt);
    if (!rc) {
        d->n_test = x->counts[nf - 1];
        d->n_train = x->first[nf - 2] + x->counts[nf - 2];
        if (d->n_train < 2)
            rc = sw_err(err, SW_EINPUT,
                        "%s: only 1 training image; training needs at least 2 (one to learn "
                        "from, one to validate on)",
                        x->paths[0]);
    }
    if (!rc) {
        d->train_images = malloc((size_t)d->n_train * CIFAR_PIXELS);
        d->train_labels = malloc((size_t)d->n_train);
        d->test_images = malloc((size_t)d->n_test * CIFAR_PIXELS);
        d->test_labels = malloc((size_t)d->n_test);
        if (!d->train_images || !d->train_labels || !d->test_images || !d->test_labels)
            rc = sw_oom(err, d->dir);
    }
    if (!rc)
        rc = read_files(d, fmt, label, x, err);
    free(x);
    if (rc)
        return rc;
    d->format = fmt;
    d->channels = CIFAR_CHANNELS;
    d->rows = d->cols = CIFAR_SIZE;
    d->n_classes = fmt == DATA_CIFAR10 ? 10 : label == CIFAR_COARSE ? 20 : 100;
    const char *names_file = fmt == DATA_CIFAR10      ? "batches.meta.txt"
                             : label == CIFAR_COARSE ? "coarse_label_names.txt"
                                                     : "fine_label_names.txt";
    char path[DATA_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", d->dir, names_file);
    if (data_read_names(path, d->n_classes, &d->class_names, err))
        return err->code;
    d->identity = cifar_identity(d, fmt, label);
    snprintf(d->found, sizeof d->found, "%s (%d files%s%s)", dataset_format_name(fmt), nf,
             fmt == DATA_CIFAR10 ? "" : label == CIFAR_COARSE ? ", coarse labels" : ", fine labels",
             d->class_names ? ", class names" : "");
    return SW_OK;
}
