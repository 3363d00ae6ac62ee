/* fuzz_dataset: a dataset folder carved out of the input, for dataset_load.
 *
 * Input layout (so the fuzzer reaches the cross-file checks: counts, image
 * sizes, labels, without having to write gzip itself):
 *   bytes 0-3  one mode byte per file: train images, train labels, test
 *              images, test labels
 *                bits 0-1  0 bytes as given, plain name; 1 gzip-compressed
 *                          here, ".gz" name; 2 bytes as given, ".gz" name;
 *                          3 no file
 *                bit 2     the dotted spelling ("train-images.idx3-ubyte")
 *                bit 3     also junk under a name that must lose (the plain
 *                          name beside a .gz, or the dotted spelling)
 *   bytes 4-9  lengths of the first three files, 16-bit little-endian
 *   the rest   the four files' bytes; the last takes what remains
 * A loaded dataset must hold what dataset.h promises; when only compression,
 * spelling or losing junk differ from plain files, the outcome and identity
 * must be those of the plain files. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "fuzz_util.h"

enum { N_FILES = 4, HEAD = 10 };

static const char *const names[2][N_FILES] = {
    {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
     "t10k-labels-idx1-ubyte"},
    {"train-images.idx3-ubyte", "train-labels.idx1-ubyte", "t10k-images.idx3-ubyte",
     "t10k-labels.idx1-ubyte"}};

static int fd_file[N_FILES], fd_junk;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init_dir();
    for (int f = 0; f < N_FILES; f++)
        fd_file[f] = fz_memfd("idx");
    fd_junk = fz_memfd("junk");
    fz_fill(fd_junk, "junk", 4);
    return 0;
}

static void link_as(int fd, int dotted, int f, int gz)
{
    char name[64];
    snprintf(name, sizeof name, "%s%s", names[dotted][f], gz ? ".gz" : "");
    fz_link(fd, name);
}

/* Lays out the folder: file f holds part[f] as mode[f] says. */
static void make_folder(const uint8_t *const part[N_FILES], const size_t len[N_FILES],
                        const uint8_t mode[N_FILES])
{
    for (int f = 0; f < N_FILES; f++)
        for (int s = 0; s < 2; s++)
            for (int gz = 0; gz < 2; gz++) {
                char name[64];
                snprintf(name, sizeof name, "%s%s", names[s][f], gz ? ".gz" : "");
                fz_unlink(name);
            }
    for (int f = 0; f < N_FILES; f++) {
        int kind = mode[f] & 3, dotted = (mode[f] >> 2) & 1, junk = (mode[f] >> 3) & 1;
        if (kind == 3)
            continue;
        if (kind == 1) {
            uint8_t *packed;
            size_t n = fz_gzip(part[f], len[f], &packed);
            fz_fill(fd_file[f], packed, n);
            free(packed);
        } else {
            fz_fill(fd_file[f], part[f], len[f]);
        }
        link_as(fd_file[f], dotted, f, kind != 0);
        if (junk && kind != 0)
            link_as(fd_junk, dotted, f, 0);   /* .gz is preferred */
        else if (junk && !dotted)
            link_as(fd_junk, 1, f, 1);        /* the usual spelling first */
    }
}

static void check_split(const data_split *s, long n_max, int pixels, int classes)
{
    FUZZ_CHECK(s->n >= 0 && s->n <= n_max && s->pixels == pixels, "split of %ld", s->n);
    if (s->n == 0)
        return;
    enum { B = 3 };
    float out[B * 1024];
    uint8_t labels[B];
    int count = s->n < B ? (int)s->n : B;
    if ((long)count * pixels > (long)(sizeof out / sizeof *out))
        return;
    long order[B];
    for (int i = 0; i < count; i++)
        order[i] = s->n - 1 - i;   /* the last examples, through an order */
    for (int pass = 0; pass < 2; pass++) {
        data_batch_floats(out, labels, s, pass ? order : NULL, 0, count);
        for (int i = 0; i < count * pixels; i++)
            FUZZ_CHECK(out[i] >= 0.0f && out[i] <= 1.0f, "pixel %g", out[i]);
        for (int i = 0; i < count; i++)
            FUZZ_CHECK(labels[i] < classes, "label %d in a batch", labels[i]);
    }
}

static void check_dataset(const dataset *d)
{
    FUZZ_CHECK(strcmp(d->dir, fz_dir) == 0, "dir '%s'", d->dir);
    FUZZ_CHECK(d->n_train >= 1 && d->n_test >= 1, "%ld train, %ld test", d->n_train,
               d->n_test);
    FUZZ_CHECK(d->rows >= 1 && d->cols >= 1 && d->channels == 1, "%dx%dx%d images",
               d->channels, d->rows, d->cols);
    FUZZ_CHECK(d->format == DATA_IDX && d->n_classes >= 2 && d->n_classes <= 256,
               "format %d, %d classes", d->format, d->n_classes);
    FUZZ_CHECK(d->train_images && d->train_labels && d->test_images && d->test_labels,
               "missing arrays");
    long pixels = (long)d->rows * d->cols;
    volatile uint8_t sink = 0;
    for (long i = 0; i < d->n_train * pixels; i++)
        sink ^= d->train_images[i];
    for (long i = 0; i < d->n_test * pixels; i++)
        sink ^= d->test_images[i];
    (void)sink;
    for (long i = 0; i < d->n_train; i++)
        FUZZ_CHECK(d->train_labels[i] < d->n_classes, "train label %d", d->train_labels[i]);
    for (long i = 0; i < d->n_test; i++)
        FUZZ_CHECK(d->test_labels[i] < d->n_classes, "test label %d", d->test_labels[i]);

    static const double splits[] = {0.0, 0.2, 0.5, 0.999, 1.0, NAN};
    for (size_t k = 0; k < sizeof splits / sizeof *splits; k++) {
        for (long limit = 0; limit <= 2; limit++) {
            data_split tr, va, te;
            sw_error err = {0};
            data_split_opts o = {splits[k], limit, limit, limit};
            int rc = dataset_split(d, &o, &tr, &va, &te, &err);
            if (rc != SW_OK)
                fz_check_error(rc, &err, d->dir);
            FUZZ_CHECK((rc == SW_OK) == (tr.n >= 1 && (va.n >= 1 || !(splits[k] > 0))),
                       "split %g of %ld: %ld + %ld, %s", splits[k], d->n_train, tr.n, va.n,
                       rc ? "refused" : "accepted");
            check_split(&tr, d->n_train, (int)pixels, d->n_classes);
            check_split(&va, d->n_train, (int)pixels, d->n_classes);
            check_split(&te, d->n_test, (int)pixels, d->n_classes);
            if (limit == 0)
                FUZZ_CHECK(tr.n + va.n == d->n_train, "split %g: %ld + %ld of %ld",
                           splits[k], tr.n, va.n, d->n_train);
            else
                FUZZ_CHECK(tr.n <= limit && va.n <= limit && te.n <= limit,
                           "limit %ld gave %ld, %ld, %ld", limit, tr.n, va.n, te.n);
            FUZZ_CHECK(te.n == (limit && limit < d->n_test ? limit : d->n_test),
                       "test split of %ld", te.n);
        }
    }
}

/* Loads the folder; checks the outcome's shape. Keeps *d on success. */
static int load(dataset *d)
{
    sw_error err = {0};
    int rc = dataset_load(d, fz_dir, DATA_AUTO, CIFAR_FINE, &err);
    if (rc != SW_OK) {
        fz_check_error(rc, &err, fz_dir);
        FUZZ_CHECK(!d->train_images && !d->test_labels && d->n_train == 0,
                   "a refused folder still holds data");
        return rc;
    }
    check_dataset(d);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEAD)
        return 0;
    uint8_t mode[N_FILES];
    const uint8_t *part[N_FILES];
    size_t len[N_FILES], at = HEAD;
    memcpy(mode, data, N_FILES);
    for (int f = 0; f < N_FILES; f++) {
        size_t want = f < 3 ? (size_t)(data[4 + 2 * f] | data[5 + 2 * f] << 8) : size;
        part[f] = data + at;
        len[f] = want < size - at ? want : size - at;
        at += len[f];
    }

    dataset d;
    make_folder(part, len, mode);
    int rc = load(&d);

    /* The same decoded files, plain: must give the same outcome. Not when
     * a file is missing or not compressed here under a .gz name, or when
     * gzip bytes were compressed again (then they are not the same file). */
    int differs = 0, comparable = 1;
    for (int f = 0; f < N_FILES; f++) {
        int kind = mode[f] & 3;
        differs |= (mode[f] & 0x0f) != 0;
        if (kind >= 2 || (kind == 1 && len[f] >= 2 && part[f][0] == 0x1f && part[f][1] == 0x8b))
            comparable = 0;
    }
    if (differs && comparable) {
        static const uint8_t plain[N_FILES] = {0, 0, 0, 0};
        dataset e;
        make_folder(part, len, plain);
        int rc2 = load(&e);
        FUZZ_CHECK((rc == SW_OK) == (rc2 == SW_OK), "modes %02x %02x %02x %02x %s, plain %s",
                   mode[0], mode[1], mode[2], mode[3], rc ? "refused" : "loaded",
                   rc2 ? "refused" : "loaded");
        if (rc == SW_OK)
            FUZZ_CHECK(d.identity == e.identity && d.n_train == e.n_train &&
                           d.n_test == e.n_test && d.rows == e.rows && d.cols == e.cols,
                       "identity or sizes depend on compression or spelling");
        if (rc2 == SW_OK)
            dataset_free(&e);
    }
    if (rc == SW_OK)
        dataset_free(&d);
    return 0;
}
