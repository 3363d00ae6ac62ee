/* Tests of the CIFAR readers, format detection, files that are not regular,
 * split limits and augmentation; run as part of the data suite. Every
 * folder is written here, tiny. */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "data/dataset.h"
#include "test.h"

void suite_data_formats(void);

enum { REC10 = 1 + CIFAR_PIXELS, REC100 = 2 + CIFAR_PIXELS };

/* The tiny folders: CIFAR-10 batches of 3, 2, 1, 2, 2 records and a test
 * batch of 4; CIFAR-100 train.bin of 7, test.bin of 3. */
static const long c10_counts[6] = {3, 2, 1, 2, 2, 4};
static const char *const c10_files[6] = {"data_batch_1.bin", "data_batch_2.bin",
                                         "data_batch_3.bin", "data_batch_4.bin",
                                         "data_batch_5.bin", "test_batch.bin"};
static const long c100_counts[2] = {7, 3};

static uint8_t pix(int test, long i, long j) { return (uint8_t)(i * 31 + j * 7 + test * 101); }
static uint8_t lab10(int test, long i) { return (uint8_t)((i * 3 + test) % 10); }
static uint8_t fine(int test, long i) { return (uint8_t)((i * 37 + test * 11) % 100); }

static const char *fresh(const char *name)
{
    static char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", test_tmpdir(), name);
    CHECK_INT(mkdir(dir, 0755), 0);
    return dir;
}

static void put(const char *dir, const char *name, const void *bytes, size_t len)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK_INT(fwrite(bytes, 1, len, f), (long)len);
    CHECK_INT(fclose(f), 0);
}

/* n records of a set, from record `first` on, as the file's bytes. */
static uint8_t *records(int cifar100, int test, long first, long n, size_t *len)
{
    size_t rec = cifar100 ? REC100 : REC10, lb = rec - CIFAR_PIXELS;
    uint8_t *b = malloc((size_t)n * rec + 1);
    for (long r = 0; r < n; r++) {
        uint8_t *p = b + (size_t)r * rec;
        long i = first + r;
        if (cifar100) {
            p[0] = (uint8_t)(fine(test, i) / 5);
            p[1] = fine(test, i);
        } else {
            p[0] = lab10(test, i);
        }
        for (long j = 0; j < CIFAR_PIXELS; j++)
            p[lb + j] = pix(test, i, j);
    }
    *len = (size_t)n * rec;
    return b;
}

static const char *cifar10_dir(const char *name, int names)
{
    const char *dir = fresh(name);
    long first = 0;
    for (int f = 0; f < 6; f++) {
        size_t len;
        if (f == 5)
            first = 0;
        uint8_t *b = records(0, f == 5, first, c10_counts[f], &len);
        put(dir, c10_files[f], b, len);
        free(b);
        first += c10_counts[f];
    }
    if (names) {
        const char *text = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\n"
                           "truck\n\n\n";
        put(dir, "batches.meta.txt", text, strlen(text));
    }
    return dir;
}

static const char *cifar100_dir(const char *name, int names)
{
    const char *dir = fresh(name);
    const char *files[2] = {"train.bin", "test.bin"};
    for (int f = 0; f < 2; f++) {
        size_t len;
        uint8_t *b = records(1, f, 0, c100_counts[f], &len);
        put(dir, files[f], b, len);
        free(b);
    }
    if (names) {
        char text[2000] = "";
        for (int k = 0; k < 100; k++)
            snprintf(text + strlen(text), sizeof text - strlen(text), "fine%d\r\n", k);
        put(dir, "fine_label_names.txt", text, strlen(text));
        text[0] = '\0';
        for (int k = 0; k < 20; k++)
            snprintf(text + strlen(text), sizeof text - strlen(text), "  coarse %d \n", k);
        put(dir, "coarse_label_names.txt", text, strlen(text));
    }
    return dir;
}

/* Loading dir as fmt fails with SW_EINPUT, a message holding both needles,
 * and an all-zero dataset. */
static void check_fails(const char *dir, dataset_format fmt, cifar_label label, const char *needle,
                        const char *needle2)
{
    dataset d, zero;
    memset(&d, 0xab, sizeof d);
    memset(&zero, 0, sizeof zero);
    sw_error err = {0};
    CHECK_INT(dataset_load(&d, dir, fmt, label, &err), SW_EINPUT);
    CHECK_INT(err.code, SW_EINPUT);
    CHECK_MSG(strstr(err.msg, needle), "\"%s\" lacks \"%s\"", err.msg, needle);
    if (needle2)
        CHECK_MSG(strstr(err.msg, needle2), "\"%s\" lacks \"%s\"", err.msg, needle2);
    CHECK(strchr(err.msg, '\n') == NULL);
    CHECK(memcmp(&d, &zero, sizeof d) == 0);
}

/* ---- good folders ---- */

static void test_data_cifar10_loads(void)
{
    const char *dir = cifar10_dir("c10", 1);
    dataset d;
    sw_error err = {0};
    CHECK_INT(dataset_load(&d, dir, DATA_AUTO, CIFAR_FINE, &err), SW_OK);
    CHECK_MSG(err.code == SW_OK, "%s", err.msg);
    CHECK_INT(d.format, DATA_CIFAR10);
    CHECK_STR(d.found, "cifar10 (6 files, class names)");
    CHECK_INT(d.channels, 3);
    CHECK_INT(d.rows, 32);
    CHECK_INT(d.cols, 32);
    CHECK_INT(d.n_classes, 10);
    CHECK_INT(d.n_train, 10);
    CHECK_INT(d.n_test, 4);
    if (!d.train_images || !d.test_labels)
        return;
    /* batches in order: record 0 of data_batch_3 is training image 5 */
    long bad = 0;
    for (long i = 0; i < 10; i++) {
        bad += d.train_labels[i] != lab10(0, i);
        for (long j = 0; j < CIFAR_PIXELS; j++)
            bad += d.train_images[i * CIFAR_PIXELS + j] != pix(0, i, j);
    }
    for (long i = 0; i < 4; i++)
        bad += d.test_labels[i] != lab10(1, i) ||
               d.test_images[i * CIFAR_PIXELS + 2047] != pix(1, i, 2047);
    CHECK_INT(bad, 0);
    /* the planes: red at 0, green at 1024, blue at 2048 of each image */
    CHECK_INT(d.train_images[5 * CIFAR_PIXELS + 1024 + 33], pix(0, 5, 1024 + 33));
    CHECK_STR(dataset_class_name(&d, 0), "airplane");
    CHECK_STR(dataset_class_name(&d, 9), "truck");
    CHECK(dataset_class_name(&d, 10) == NULL && dataset_class_name(&d, -1) == NULL);
    uint64_t id = d.identity;
    CHECK(id != 0);
    dataset_free(&d);

    /* explicit format, no names file: same identity, no names */
    dir = cifar10_dir("c10_nonames", 0);
    CHECK_INT(dataset_load(&d, dir, DATA_CIFAR10, CIFAR_FINE, &err), SW_OK);
    CHECK(d.identity == id);
    CHECK(d.class_names == NULL);
    CHECK_STR(d.found, "cifar10 (6 files)");
    /* pinned: stored results will refer to it (the value was checked against
     * an independent Python implementation of the definition) */
    CHECK_MSG(d.identity == 0x974ab484c0d387deULL, "identity 0x%016llx",
              (unsigned long long)d.identity);
    dataset_free(&d);
}

static void test_data_cifar100_loads(void)
{
    const char *dir = cifar100_dir("c100", 1);
    dataset d;
    sw_error err = {0};
    CHECK_INT(dataset_load(&d, dir, DATA_AUTO, CIFAR_FINE, &err), SW_OK);
    CHECK_MSG(err.code == SW_OK, "%s", err.msg);
    CHECK_INT(d.format, DATA_CIFAR100);
    CHECK_STR(d.found, "cifar100 (2 files, fine labels, class names)");
    CHECK_INT(d.n_classes, 100);
    CHECK_INT(d.n_train, 7);
    CHECK_INT(d.n_test, 3);
    CHECK_INT(d.channels, 3);
    for (long i = 0; d.train_labels && i < 7; i++)
        CHECK_INT(d.train_labels[i], fine(0, i));
    if (d.test_images)
        CHECK_INT(d.test_images[2 * CIFAR_PIXELS + 3000], pix(1, 2, 3000));
    CHECK_STR(dataset_class_name(&d, 99), "fine99");   /* CR stripped */
    uint64_t fine_id = d.identity;
    dataset_free(&d);

    CHECK_INT(dataset_load(&d, dir, DATA_CIFAR100, CIFAR_COARSE, &err), SW_OK);
    CHECK_MSG(err.code == SW_OK, "%s", err.msg);
    CHECK_STR(d.found, "cifar100 (2 files, coarse labels, class names)");
    CHECK_INT(d.n_classes, 20);
    for (long i = 0; d.test_labels && i < 3; i++)
        CHECK_INT(d.test_labels[i], fine(1, i) / 5);
    CHECK_STR(dataset_class_name(&d, 19), "coarse 19");   /* spaces trimmed */
    CHECK(d.identity != fine_id);   /* another task, another identity */
    dataset_free(&d);
}

/* The identity follows the content, not the file layout. */
static void test_data_cifar_identity(void)
{
    dataset a, b;
    sw_error err = {0};
    const char *dir = cifar10_dir("c10_id_a", 0);
    CHECK_INT(dataset_load(&a, dir, DATA_AUTO, CIFAR_FINE, &err), SW_OK);
    dir = cifar10_dir("c10_id_b", 0);
    char path[700];
    snprintf(path, sizeof path, "%s/test_batch.bin", dir);
    FILE *f = fopen(path, "r+b");
    CHECK(f && fseek(f, 3 * REC10 + 77, SEEK_SET) == 0 && fputc(pix(1, 3, 76) ^ 1, f) != EOF &&
          fclose(f) == 0);
    CHECK_INT(dataset_load(&b, dir, DATA_AUTO, CIFAR_FINE, &err), SW_OK);
    CHECK_MSG(err.code == SW_OK, "%s", err.msg);
    CHECK(a.identity != b.identity);
    dataset_free(&a);
    dataset_free(&b);
}

static void test_data_cifar_read_one_file(void)
{
    const char *dir = cifar100_dir("c100_one", 0);
    char path[700];
    snprintf(path, sizeof path, "%s/train.bin", dir);
    uint8_t *im, *lab;
    long n;
    sw_error err = {0};
    CHECK_INT(cifar_read(path, DATA_CIFAR100, CIFAR_COARSE, &im, &lab, &n, &err), SW_OK);
    CHECK_INT(n, 7);
    CHECK(lab && lab[6] == fine(0, 6) / 5);
    CHECK(im && im[6 * CIFAR_PIXELS] == pix(0, 6, 0));
    free(im);
    free(lab);
    /* the same file read as CIFAR-10 is 7 * 3074 bytes: not whole records */
    CHECK_INT(cifar_read(path, DATA_CIFAR10, CIFAR_FINE, &im, &lab, &n, &err), SW_EINPUT);
    CHECK(im == NULL && lab == NULL && n == 0);
    CHECK_MSG(strstr(err.msg, "train.bin") && strstr(err.msg, "whole number"), "%s", err.msg);
}

/* ---- choosing the format ---- */

static void test_data_auto_detection(void)
{
    dataset d;
    sw_error err = {0};
    const char *dir = cifar100_dir("auto_mixed", 0);
    size_t len;
    uint8_t *b = records(0, 1, 0, 1, &len);
    put(dir, "test_batch.bin", b, len);   /* a CIFAR-10 file beside CIFAR-100 */
    free(b);
    check_fails(dir, DATA_AUTO, CIFAR_FINE, "several formats", "cifar10, cifar100");
    /* an explicit format settles it */
    CHECK_INT(dataset_load(&d, dir, DATA_CIFAR100, CIFAR_FINE, &err), SW_OK);
    dataset_free(&d);

    check_fails(fresh("auto_empty"), DATA_AUTO, CIFAR_FINE, "no dataset found",
                "auto_empty/train-images-idx3-ubyte");
    check_fails("/nonexistent/sweep-cifar", DATA_AUTO, CIFAR_FINE,
                "/nonexistent/sweep-cifar/train-images-idx3-ubyte", NULL);
    /* the wrong explicit format names the file it lacks */
    dir = cifar10_dir("auto_wrong", 0);
    check_fails(dir, DATA_CIFAR100, CIFAR_FINE, "auto_wrong/train.bin", "not found");
    check_fails(dir, DATA_IDX, CIFAR_FINE, "train-images-idx3-ubyte", "not found");
    check_fails(dir, DATA_AUTO, CIFAR_COARSE, "coarse", "cifar10");
}

static void test_data_format_names(void)
{
    CHECK_STR(dataset_format_name(DATA_CIFAR100), "cifar100");
    CHECK(dataset_format_name(DATA_N_FORMATS) == NULL);
    CHECK_INT(dataset_format_parse("auto"), DATA_AUTO);
    CHECK_INT(dataset_format_parse("idx"), DATA_IDX);
    CHECK_INT(dataset_format_parse("cifar10"), DATA_CIFAR10);
    CHECK_INT(dataset_format_parse("CIFAR10"), -1);
    CHECK_INT(dataset_format_parse(NULL), -1);
    CHECK_INT(cifar_label_parse("coarse"), CIFAR_COARSE);
    CHECK_INT(cifar_label_parse("fine"), CIFAR_FINE);
    CHECK_INT(cifar_label_parse("both"), -1);
    CHECK_STR(cifar_label_name(CIFAR_COARSE), "coarse");
}

/* ---- broken folders ---- */

static void test_data_cifar_truncated(void)
{
    const char *dir = cifar10_dir("c10_cut", 0);
    char path[700];
    snprintf(path, sizeof path, "%s/data_batch_4.bin", dir);
    CHECK_INT(truncate(path, 2 * REC10 - 100), 0);
    check_fails(dir, DATA_AUTO, CIFAR_FINE, "data_batch_4.bin",
                "record 1 (byte offset 3073) has only 2973 bytes");
    CHECK_INT(truncate(path, 0), 0);
    check_fails(dir, DATA_AUTO, CIFAR_FINE, "data_batch_4.bin", "empty");
    dir = cifar100_dir("c100_long", 0);
    snprintf(path, sizeof path, "%s/test.bin", dir);
    CHECK_INT(truncate(path, 3 * REC100 + 1), 0);
    check_fails(dir, DATA_AUTO, CIFAR_FINE, "test.bin", "record 3");
}

static void test_data_cifar_label_out_of_range(void)
{
    const char *dir = cifar10_dir("c10_label", 0);
    size_t len;
    uint8_t *b = records(0, 1, 0, 4, &len);
    b[2 * REC10] = 10;
    put(dir, "test_batch.bin", b, len);
    check_fails(dir, DATA_AUTO, CIFAR_FINE, "test_batch.bin",
                "record 2 (byte offset 6146): label 10 is outside 0..9");
    free(b);

    dir = cifar100_dir("c100_fine", 0);
    b = records(1, 0, 0, 7, &len);
    b[5 * REC100 + 1] = 100;
    put(dir, "train.bin", b, len);
    /* both labels are checked, whichever is used */
    check_fails(dir, DATA_AUTO, CIFAR_COARSE, "train.bin", "record 5 (byte offset 15371): fine");
    b[5 * REC100 + 1] = 1;
    b[6 * REC100] = 20;
    put(dir, "train.bin", b, len);
    check_fails(dir, DATA_AUTO, CIFAR_FINE, "train.bin", "record 6 (byte offset 18444): coarse");
    /* a gzip file says so */
    b[0] = 0x1f;
    b[1] = 0x8b;
    put(dir, "train.bin", b, len);
    check_fails(dir, DATA_AUTO, CIFAR_FINE, "train.bin", "gzip");
    free(b);
}

static void test_data_cifar_missing_file(void)
{
    const char *dir = cifar10_dir("c10_missing", 1);
    char path[700];
    snprintf(path, sizeof path, "%s/data_batch_4.bin", dir);
    CHECK_INT(unlink(path), 0);
    check_fails(dir, DATA_AUTO, CIFAR_FINE, "c10_missing/data_batch_4.bin", "not found");
    snprintf(path, sizeof path, "%s/data_batch_1.bin", dir);
    CHECK_INT(unlink(path), 0);   /* first in order is reported */
    check_fails(dir, DATA_AUTO, CIFAR_FINE, "c10_missing/data_batch_1.bin", "not found");
}

static void test_data_cifar_bad_names(void)
{
    struct {
        const char *text, *needle;
    } cases[] = {
        {"a\nb\nc\n", "3 class names, expected 10"},
        {"a\nb\nc\nd\ne\n\nf\ng\nh\ni\nj\n", "line 6 is empty"},
        {"a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\n", "11 class names"},
        {"a\nb\nc\nd\ne\nf\ng\nh\ni\nj\x01\n", "line 10"},
        {"a\nb\nc\nd\ne\nf\ng\nh\ni\n\xff\n", "UTF-8"},
        {"a\nb\nc\nd\ne\nf\ng\nh\ni\n"
         "0123456789012345678901234567890123456789012345678901234567890123\n",
         "longer than 63"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        char name[32];
        snprintf(name, sizeof name, "c10_names%zu", c);
        const char *dir = cifar10_dir(name, 0);
        put(dir, "batches.meta.txt", cases[c].text, strlen(cases[c].text));
        check_fails(dir, DATA_AUTO, CIFAR_FINE, "batches.meta.txt", cases[c].needle);
    }
    /* UTF-8 names are fine */
    const char *dir = cifar10_dir("c10_utf8", 0);
    const char *text = "avi\xc3\xb3n\nb\nc\nd\ne\nf\ng\nh\ni\nj";
    put(dir, "batches.meta.txt", text, strlen(text));
    dataset d;
    sw_error err = {0};
    CHECK_INT(dataset_load(&d, dir, DATA_AUTO, CIFAR_FINE, &err), SW_OK);
    CHECK_STR(dataset_class_name(&d, 0), "avi\xc3\xb3n");
    CHECK_STR(dataset_class_name(&d, 9), "j");
    dataset_free(&d);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "FAIL: opening a FIFO as a data file hangs\n";
    if (write(2, msg, sizeof msg - 1) < 0)
        _exit(3);
    _exit(3);
}

/* A FIFO where a data file should be is refused at once (a hang here is
 * ended by the alarm, failing the whole run). */
static void test_data_fifo_refused(void)
{
    signal(SIGALRM, on_alarm);
    alarm(20);
    const char *dir = cifar10_dir("fifo_c10", 0);
    char path[700];
    snprintf(path, sizeof path, "%s/data_batch_2.bin", dir);
    CHECK_INT(unlink(path), 0);
    CHECK_INT(mkfifo(path, 0600), 0);
    check_fails(dir, DATA_AUTO, CIFAR_FINE, "data_batch_2.bin", "not a regular file (a FIFO)");
    uint8_t *im, *lab;
    long n;
    sw_error err = {0};
    CHECK_INT(cifar_read(path, DATA_CIFAR10, CIFAR_FINE, &im, &lab, &n, &err), SW_EINPUT);

    dir = cifar10_dir("fifo_names", 0);
    snprintf(path, sizeof path, "%s/batches.meta.txt", dir);
    CHECK_INT(mkfifo(path, 0600), 0);
    check_fails(dir, DATA_AUTO, CIFAR_FINE, "batches.meta.txt", "FIFO");

    dir = fresh("fifo_idx");
    const char *idx[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                          "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    for (int f = 0; f < 4; f++) {
        snprintf(path, sizeof path, "%s/%s", dir, idx[f]);
        CHECK_INT(mkfifo(path, 0600), 0);
    }
    check_fails(dir, DATA_AUTO, CIFAR_FINE, "train-images-idx3-ubyte", "FIFO");
    long dims[3];
    err.code = SW_OK;
    CHECK_INT(idx_read(path, 1, &im, dims, &err), SW_EINPUT);
    CHECK_MSG(strstr(err.msg, "not a regular file"), "%s", err.msg);
    /* a folder in a file's place */
    dir = fresh("dir_idx");
    for (int f = 0; f < 4; f++) {
        snprintf(path, sizeof path, "%s/%s", dir, idx[f]);
        CHECK_INT(mkdir(path, 0755), 0);
    }
    check_fails(dir, DATA_IDX, CIFAR_FINE, "train-images-idx3-ubyte", "a folder");
    alarm(0);
    signal(SIGALRM, SIG_DFL);
}

/* ---- splits ---- */

/* A one-image training file is refused when loading, naming the file. */
static void test_data_one_training_image(void)
{
    const char *dir = cifar100_dir("c100_one_image", 0);
    char path[700];
    snprintf(path, sizeof path, "%s/train.bin", dir);
    CHECK_INT(truncate(path, REC100), 0);
    check_fails(dir, DATA_AUTO, CIFAR_FINE, "c100_one_image/train.bin", "only 1 training image");
}

static void test_data_split_too_small(void)
{
    dataset d;
    sw_error err = {0};
    CHECK_INT(dataset_load(&d, cifar100_dir("c100_split", 0), DATA_AUTO, CIFAR_FINE, &err),
              SW_OK);
    d.n_train = 1;   /* a one-image training file */
    data_split tr, va;
    data_split_opts o = {0.2, 0, 0, 0};
    CHECK_INT(dataset_split(&d, &o, &tr, &va, NULL, &err), SW_EINPUT);
    CHECK_MSG(strstr(err.msg, "c100_split: 1 training image and validation_split 0.2 leave "
                              "none to train on"),
              "%s", err.msg);
    CHECK_INT(tr.n, 0);
    CHECK_INT(va.n, 1);
    /* without validation, one image is a (tiny) training set */
    sw_error ok = {0};
    o.validation_split = 0.0;
    CHECK_INT(dataset_split(&d, &o, &tr, &va, NULL, &ok), SW_OK);
    CHECK_INT(tr.n, 1);
    /* a split so small that nothing is held out */
    d.n_train = 7;
    o.validation_split = 1e-20;
    err.code = SW_OK;
    CHECK_INT(dataset_split(&d, &o, &tr, &va, NULL, &err), SW_EINPUT);
    CHECK_MSG(strstr(err.msg, "no validation image"), "%s", err.msg);
    dataset_free(&d);
}

static void test_data_split_limits(void)
{
    dataset d;
    sw_error err = {0};
    CHECK_INT(dataset_load(&d, cifar10_dir("c10_limits", 0), DATA_AUTO, CIFAR_FINE, &err), SW_OK);
    data_split tr, va, te;
    data_split_opts o = {0.2, 0, 0, 0};   /* 10 training images: 8 + 2 */
    CHECK_INT(dataset_split(&d, &o, &tr, &va, &te, &err), SW_OK);
    CHECK_INT(tr.n, 8);
    CHECK_INT(va.n, 2);
    CHECK_INT(te.n, 4);
    CHECK_INT(tr.pixels, CIFAR_PIXELS);
    CHECK(tr.channels == 3 && tr.rows == 32 && tr.cols == 32);
    o = (data_split_opts){0.2, 3, 1, 2};
    CHECK_INT(dataset_split(&d, &o, &tr, &va, &te, &err), SW_OK);
    CHECK_INT(tr.n, 3);
    CHECK_INT(va.n, 1);
    CHECK_INT(te.n, 2);
    /* prefixes of the full parts: validation stays the held-out images */
    CHECK(tr.images == d.train_images);
    CHECK(va.images == d.train_images + 8 * CIFAR_PIXELS && va.labels == d.train_labels + 8);
    CHECK(te.images == d.test_images && te.labels == d.test_labels);
    /* limits past the sets, and negative ones, keep everything */
    o = (data_split_opts){0.2, 100, 100, -1};
    CHECK_INT(dataset_split(&d, &o, &tr, &va, &te, &err), SW_OK);
    CHECK(tr.n == 8 && va.n == 2 && te.n == 4);
    CHECK_INT(err.code, SW_OK);
    dataset_free(&d);
}

/* ---- augmentation ---- */

/* A split of n random 3-channel h x w images (owned by the caller). */
static data_split aug_split(long n, int h, int w)
{
    size_t px = (size_t)3 * h * w;
    uint8_t *im = malloc((size_t)n * px), *lab = malloc((size_t)n);
    for (size_t k = 0; k < (size_t)n * px; k++)
        im[k] = (uint8_t)(k * 2654435761u >> 13);
    for (long i = 0; i < n; i++)
        lab[i] = (uint8_t)(i % 10);
    return (data_split){im, lab, n, (int)px, 3, h, w};
}

static void aug_free(data_split *s)
{
    free((void *)s->images);
    free((void *)s->labels);
}

/* The expected value of output pixel (c, y, x), from the definition: pad
 * by p with zeros, take the window at (dy, dx), then mirror. */
static float expect(const data_split *s, long e, int p, int dy, int dx, int flip, int c, int y,
                    int x)
{
    int h = s->rows, w = s->cols;
    int px = flip ? w - 1 - x : x;   /* in the window */
    int sy = y + dy - p, sx = px + dx - p;
    if (sy < 0 || sy >= h || sx < 0 || sx >= w)
        return 0.0f;
    return (float)s->images[(size_t)e * s->pixels + ((size_t)c * h + sy) * w + sx] / 255.0f;
}

static void test_data_augment_matches_definition(void)
{
    data_split s = aug_split(40, 5, 7);
    data_augment a = {2, 1};
    long order[40];
    for (int i = 0; i < 40; i++)
        order[i] = (i * 17) % 40;
    float *out = malloc(sizeof(float) * 40 * s.pixels);
    uint8_t labels[40];
    data_batch_floats_augmented(out, labels, &s, order, 0, 40, &a, 7, 3);
    long bad = 0;
    for (int i = 0; i < 40; i++) {
        int dy, dx, flip;
        data_augment_draw(&a, 7, 3, order[i], &dy, &dx, &flip);
        bad += labels[i] != s.labels[order[i]];
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 5; y++)
                for (int x = 0; x < 7; x++)
                    bad += out[(size_t)i * s.pixels + ((size_t)c * 5 + y) * 7 + x] !=
                           expect(&s, order[i], 2, dy, dx, flip, c, y, x);
    }
    CHECK_INT(bad, 0);
    free(out);
    aug_free(&s);
}

static void test_data_augment_draws_vary(void)
{
    data_augment a = {4, 1};
    int seen_dy[9] = {0}, seen_dx[9] = {0}, flips = 0, moved = 0;
    for (long i = 0; i < 400; i++) {
        int dy, dx, flip, dy2, dx2, flip2;
        data_augment_draw(&a, 1, 1, i, &dy, &dx, &flip);
        CHECK(dy >= 0 && dy <= 8 && dx >= 0 && dx <= 8 && (flip == 0 || flip == 1));
        if (dy < 0 || dy > 8 || dx < 0 || dx > 8)
            return;
        seen_dy[dy] = seen_dx[dx] = 1;
        flips += flip;
        data_augment_draw(&a, 1, 2, i, &dy2, &dx2, &flip2);   /* next epoch */
        moved += dy2 != dy || dx2 != dx || flip2 != flip;
    }
    for (int k = 0; k <= 8; k++)
        CHECK_MSG(seen_dy[k] && seen_dx[k], "offset %d never drawn", k);
    CHECK_MSG(flips > 150 && flips < 250, "%d flips in 400", flips);
    CHECK_MSG(moved > 350, "only %d of 400 draws change with the epoch", moved);
    /* another seed, other draws; flip off, never flipped; crop off, centred */
    int diff = 0, dy, dx, flip, dy2, dx2, flip2;
    for (long i = 0; i < 50; i++) {
        data_augment_draw(&a, 1, 1, i, &dy, &dx, &flip);
        data_augment_draw(&a, 2, 1, i, &dy2, &dx2, &flip2);
        diff += dy != dy2 || dx != dx2 || flip != flip2;
        data_augment_draw(&(data_augment){3, 0}, 1, 1, i, &dy, &dx, &flip);
        CHECK_INT(flip, 0);
        data_augment_draw(&(data_augment){0, 1}, 1, 1, i, &dy, &dx, &flip);
        CHECK(dy == 0 && dx == 0);
    }
    CHECK(diff > 40);
}

/* Off: exactly data_batch_floats, bit for bit, for NULL and {0, 0}. */
static void test_data_augment_off_is_identity(void)
{
    data_split s = aug_split(6, 4, 4);
    s.channels = 3;
    float plain[6 * 48], aug[6 * 48];
    data_batch_floats(plain, NULL, &s, NULL, 0, 6);
    data_batch_floats_augmented(aug, NULL, &s, NULL, 0, 6, NULL, 1, 1);
    CHECK(memcmp(plain, aug, sizeof plain) == 0);
    memset(aug, 0xff, sizeof aug);
    data_batch_floats_augmented(aug, NULL, &s, NULL, 0, 6, &(data_augment){0, 0}, 1, 1);
    CHECK(memcmp(plain, aug, sizeof plain) == 0);
    CHECK(!data_augment_active(NULL) && !data_augment_active(&(data_augment){0, 0}) &&
          !data_augment_active(&(data_augment){-3, 0}) &&
          data_augment_active(&(data_augment){0, 1}));
    /* a split without geometry is not augmented */
    data_split flat = s;
    flat.channels = flat.rows = flat.cols = 0;
    data_batch_floats_augmented(aug, NULL, &flat, NULL, 0, 6, &(data_augment){4, 1}, 1, 1);
    CHECK(memcmp(plain, aug, sizeof plain) == 0);
    aug_free(&s);
}

/* The same bits whatever the batch order, batch cut or thread count. */
static void test_data_augment_deterministic(void)
{
    enum { N = 400 };   /* N * 3072 values: the threaded path */
    data_split s = aug_split(N, 32, 32);
    data_augment a = {4, 1};
    size_t px = (size_t)s.pixels;
    float *one = malloc(sizeof(float) * N * px), *two = malloc(sizeof(float) * N * px);
    float *single = malloc(sizeof(float) * px);
    long *order = malloc(sizeof(long) * N);
    for (long i = 0; i < N; i++)
        order[i] = (i * 7 + 3) % N;
#ifdef _OPENMP
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
#endif
    data_batch_floats_augmented(one, NULL, &s, order, 0, N, &a, 9, 5);
#ifdef _OPENMP
    omp_set_num_threads(2);
#endif
    data_batch_floats_augmented(two, NULL, &s, order, 0, N, &a, 9, 5);
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    CHECK(memcmp(one, two, sizeof(float) * N * px) == 0);
    /* example order[i] alone, in a batch of one, gives the same image */
    long bad = 0;
    for (long i = 0; i < N; i += 37) {
        data_batch_floats_augmented(single, NULL, &s, &order[i], 0, 1, &a, 9, 5);
        bad += memcmp(single, one + (size_t)i * px, sizeof(float) * px) != 0;
    }
    CHECK_INT(bad, 0);
    /* another epoch changes the batch */
    data_batch_floats_augmented(two, NULL, &s, order, 0, N, &a, 9, 6);
    CHECK(memcmp(one, two, sizeof(float) * N * px) != 0);
    free(one);
    free(two);
    free(single);
    free(order);
    aug_free(&s);
}

void suite_data_formats(void)
{
    RUN_TEST(test_data_cifar10_loads);
    RUN_TEST(test_data_cifar100_loads);
    RUN_TEST(test_data_cifar_identity);
    RUN_TEST(test_data_cifar_read_one_file);
    RUN_TEST(test_data_auto_detection);
    RUN_TEST(test_data_format_names);
    RUN_TEST(test_data_cifar_truncated);
    RUN_TEST(test_data_cifar_label_out_of_range);
    RUN_TEST(test_data_cifar_missing_file);
    RUN_TEST(test_data_cifar_bad_names);
    RUN_TEST(test_data_fifo_refused);
    RUN_TEST(test_data_one_training_image);
    RUN_TEST(test_data_split_too_small);
    RUN_TEST(test_data_split_limits);
    RUN_TEST(test_data_augment_matches_definition);
    RUN_TEST(test_data_augment_draws_vary);
    RUN_TEST(test_data_augment_off_is_identity);
    RUN_TEST(test_data_augment_deterministic);
}
