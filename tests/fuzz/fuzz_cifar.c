/* fuzz_cifar: the CIFAR-10 and CIFAR-100 binary readers.
 *
 * Input layout:
 *   byte 0     flags: bit 0 CIFAR-100 (else CIFAR-10); bit 1 coarse labels;
 *              bit 2 load as DATA_AUTO (else the format itself); bit 3 a
 *              names file; bit 7 leave out batch file number (bits 4-6)
 *   bytes 1-2  length of the names file's text, 16-bit little-endian
 *   then       the names file's text, then the records: every batch file of
 *              the folder holds these same record bytes, except CIFAR-100's
 *              train.bin, which holds them twice (a folder needs 2 training
 *              images and one record nearly fills the input)
 * The record bytes are also read alone with cifar_read as both formats: a
 * file is accepted exactly when it is a non-empty whole number of records
 * whose label bytes are in range, and then gives back those bytes. A loaded
 * folder must hold what dataset.h promises, with the same identity whether
 * the format was named or detected. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "fuzz_util.h"

enum { HEAD = 3 };

static const char *const c10_files[6] = {"data_batch_1.bin", "data_batch_2.bin",
                                         "data_batch_3.bin", "data_batch_4.bin",
                                         "data_batch_5.bin", "test_batch.bin"};
static const char *const c100_files[2] = {"train.bin", "test.bin"};
static const char *const names_files[3] = {"batches.meta.txt", "fine_label_names.txt",
                                           "coarse_label_names.txt"};

static int fd_rec, fd_twice, fd_names;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init_dir();
    fd_rec = fz_memfd("records");
    fd_twice = fz_memfd("twice");
    fd_names = fz_memfd("names");
    fz_link(fd_rec, "records");
    return 0;
}

/* The format read directly: whole records, label bytes in range. */
static int records_valid(const uint8_t *p, size_t n, int cifar100)
{
    size_t rec = (size_t)(cifar100 ? 2 : 1) + CIFAR_PIXELS;
    if (n == 0 || n % rec)
        return 0;
    for (size_t at = 0; at < n; at += rec)
        if (cifar100 ? p[at] > 19 || p[at + 1] > 99 : p[at] > 9)
            return 0;
    return 1;
}

/* cifar_read of the records alone, checked against records_valid. */
static void check_one_file(const uint8_t *p, size_t n, int cifar100, cifar_label label)
{
    char path[1200];
    fz_path(path, sizeof path, "records");
    uint8_t *im, *lab;
    long count;
    sw_error err = {0};
    int rc = cifar_read(path, cifar100 ? DATA_CIFAR100 : DATA_CIFAR10, label, &im, &lab, &count,
                        &err);
    int ok = records_valid(p, n, cifar100);
    FUZZ_CHECK(ok == (rc == SW_OK), "%s %zu bytes as %s", ok ? "refused" : "accepted", n,
               cifar100 ? "cifar100" : "cifar10");
    if (rc != SW_OK) {
        fz_check_error(rc, &err, path);
        FUZZ_CHECK(!im && !lab && count == 0, "a refused file still returns data");
        return;
    }
    size_t lb = cifar100 ? 2 : 1, rec = lb + CIFAR_PIXELS;
    FUZZ_CHECK((size_t)count == n / rec, "%ld records from %zu bytes", count, n);
    for (long i = 0; i < count; i++) {
        const uint8_t *r = p + (size_t)i * rec;
        uint8_t want = cifar100 ? r[label == CIFAR_COARSE ? 0 : 1] : r[0];
        FUZZ_CHECK(lab[i] == want, "record %ld: label %d, file says %d", i, lab[i], want);
        FUZZ_CHECK(memcmp(im + (size_t)i * CIFAR_PIXELS, r + lb, CIFAR_PIXELS) == 0,
                   "record %ld: pixels differ from the file", i);
    }
    free(im);
    free(lab);
}

/* Lays out the folder: every batch file of the format holds the records. */
static void make_folder(int cifar100, int label_coarse, int names, int drop)
{
    for (int f = 0; f < 6; f++)
        fz_unlink(c10_files[f]);
    for (int f = 0; f < 2; f++)
        fz_unlink(c100_files[f]);
    for (int f = 0; f < 3; f++)
        fz_unlink(names_files[f]);
    int nf = cifar100 ? 2 : 6;
    for (int f = 0; f < nf; f++)
        if (f != drop)
            fz_link(cifar100 && f == 0 ? fd_twice : fd_rec,
                    cifar100 ? c100_files[f] : c10_files[f]);
    if (names)
        fz_link(fd_names, names_files[cifar100 ? 1 + label_coarse : 0]);
}

static void check_dataset(const dataset *d, int cifar100, cifar_label label, long n)
{
    FUZZ_CHECK(d->format == (cifar100 ? DATA_CIFAR100 : DATA_CIFAR10), "format %d", d->format);
    FUZZ_CHECK(d->channels == 3 && d->rows == 32 && d->cols == 32, "%dx%dx%d images",
               d->channels, d->rows, d->cols);
    FUZZ_CHECK(d->n_train == (cifar100 ? 2 : 5) * n && d->n_test == n, "%ld train, %ld test",
               d->n_train, d->n_test);
    int classes = !cifar100 ? 10 : label == CIFAR_COARSE ? 20 : 100;
    FUZZ_CHECK(d->n_classes == classes, "%d classes", d->n_classes);
    for (long i = 0; i < d->n_train; i++)
        FUZZ_CHECK(d->train_labels[i] < classes, "train label %d", d->train_labels[i]);
    for (long i = 0; i < d->n_test; i++)
        FUZZ_CHECK(d->test_labels[i] < classes, "test label %d", d->test_labels[i]);
    for (int k = 0; d->class_names && k < classes; k++) {
        const char *s = dataset_class_name(d, k);
        size_t len = strlen(s);
        FUZZ_CHECK(len >= 1 && len <= 63, "class name %d of %zu bytes", k, len);
        for (size_t i = 0; i < len; i++)
            FUZZ_CHECK((unsigned char)s[i] >= 0x20 && s[i] != 0x7f, "control byte in a name");
    }
    data_split tr, va, te;
    data_split_opts o = {0.2, 0, 1, 1};
    dataset_split(d, &o, &tr, &va, &te, NULL);
    FUZZ_CHECK(tr.n + va.n <= d->n_train && te.n == 1, "split %ld + %ld, test %ld", tr.n, va.n,
               te.n);
    float out[2 * CIFAR_PIXELS];
    uint8_t labels[2];
    long order[2] = {d->n_train - 1, 0};
    data_split all = {d->train_images, d->train_labels, d->n_train, CIFAR_PIXELS, 3, 32, 32};
    int count = d->n_train < 2 ? 1 : 2;
    data_batch_floats_augmented(out, labels, &all, order, 0, count, &(data_augment){4, 1}, 1, 1);
    for (int i = 0; i < count * CIFAR_PIXELS; i++)
        FUZZ_CHECK(out[i] >= 0.0f && out[i] <= 1.0f, "pixel %g", out[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEAD)
        return 0;
    uint8_t flags = data[0];
    size_t name_len = (size_t)(data[1] | data[2] << 8);
    if (name_len > size - HEAD)
        name_len = size - HEAD;
    const uint8_t *rec = data + HEAD + name_len;
    size_t rec_len = size - HEAD - name_len;
    int cifar100 = flags & 1, coarse = (flags >> 1) & 1, names = (flags >> 3) & 1;
    int drop = flags & 0x80 ? (flags >> 4) & 7 : -1;
    cifar_label label = coarse ? CIFAR_COARSE : CIFAR_FINE;

    fz_fill(fd_rec, rec, rec_len);
    fz_fill(fd_names, data + HEAD, name_len);
    uint8_t *twice = malloc(2 * rec_len + 1);
    if (!twice)
        abort();
    memcpy(twice, rec, rec_len);
    memcpy(twice + rec_len, rec, rec_len);
    fz_fill(fd_twice, twice, 2 * rec_len);
    free(twice);
    check_one_file(rec, rec_len, 0, CIFAR_FINE);
    check_one_file(rec, rec_len, 1, label);

    make_folder(cifar100, coarse, names, drop);
    dataset_format fmt = cifar100 ? DATA_CIFAR100 : DATA_CIFAR10;
    dataset d, e;
    sw_error err = {0};
    int rc = dataset_load(&d, fz_dir, flags & 4 ? DATA_AUTO : fmt, label, &err);
    int nf = cifar100 ? 2 : 6;
    int must_fail = (coarse && !cifar100) || (drop >= 0 && drop < nf) ||
                    !records_valid(rec, rec_len, cifar100);
    if (rc != SW_OK) {
        fz_check_error(rc, &err, fz_dir);
        FUZZ_CHECK(!d.train_images && !d.class_names && d.n_train == 0,
                   "a refused folder still holds data");
        FUZZ_CHECK(must_fail || names, "a good folder without names refused: %s", err.msg);
        return 0;
    }
    FUZZ_CHECK(!must_fail, "a bad folder accepted (flags %02x)", flags);
    size_t rsize = (size_t)(cifar100 ? 2 : 1) + CIFAR_PIXELS;
    check_dataset(&d, cifar100, label, (long)(rec_len / rsize));
    FUZZ_CHECK(!d.class_names == !names, "names %s", d.class_names ? "invented" : "lost");
    /* the other way of naming the format: the same dataset */
    sw_error err2 = {0};
    int rc2 = dataset_load(&e, fz_dir, flags & 4 ? fmt : DATA_AUTO, label, &err2);
    FUZZ_CHECK(rc2 == SW_OK, "detected and named formats disagree: %s", err2.msg);
    if (rc2 == SW_OK) {
        FUZZ_CHECK(d.identity == e.identity, "identity depends on detection");
        dataset_free(&e);
    }
    dataset_free(&d);
    return 0;
}
