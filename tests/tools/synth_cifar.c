/* synth_cifar: writes a small CIFAR-10 or CIFAR-100 binary folder for tests.
 *
 * usage: synth_cifar DIR N_TRAIN N_TEST [--cifar100] [--names] [--from IDXDIR]
 *
 * Without --from, class k is a noisy bar in a class-specific place and
 * colour, so a CNN learns it in a few batches. With --from, the first N
 * images of an IDX folder (e.g. Fashion-MNIST) are zero-padded to 32x32 and
 * copied into the three planes (images larger than 32x32 are refused).
 * CIFAR-10: N_TRAIN is spread over data_batch_1..5.bin (each gets at least
 * one record), N_TEST goes to test_batch.bin, labels 0..9. CIFAR-100:
 * train.bin and test.bin, fine label k in 0..99 and coarse label k / 5.
 * --names also writes batches.meta.txt, or fine_label_names.txt and
 * coarse_label_names.txt (with a trailing blank line, as the real files).
 * Deterministic: the same arguments give the same bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"

enum { REC_PIXELS = 3 * 32 * 32 };

static uint64_t state = 0x9e3779b97f4a7c15ULL;

static uint32_t next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (uint32_t)(state >> 16);
}

/* A synthetic image of class k (0..classes-1) into p (3 planes of 32x32). */
static void synth_image(uint8_t *p, int k)
{
    for (int j = 0; j < REC_PIXELS; j++)
        p[j] = (uint8_t)(next() % 40);
    int place = k % 10, tint = k / 10;   /* tint 0..9 for CIFAR-100 */
    int at = 2 + (place % 5) * 28 / 5;
    for (int t = 0; t < 32; t++)
        for (int w = 0; w < 2; w++) {
            int r = place < 5 ? at + w : t, c = place < 5 ? t : at + w;
            for (int ch = 0; ch < 3; ch++) {
                int v = ch == tint % 3 ? 255 - 10 * (tint / 3) : 120 + 12 * tint;
                p[ch * 1024 + r * 32 + c] = (uint8_t)(v - (int)(next() % 20));
            }
        }
}

/* Image i of an IDX set, padded to 32x32, in three planes. */
static void idx_image(uint8_t *p, const uint8_t *src, int rows, int cols)
{
    memset(p, 0, REC_PIXELS);
    int top = (32 - rows) / 2, left = (32 - cols) / 2;
    for (int ch = 0; ch < 3; ch++)
        for (int r = 0; r < rows; r++)
            memcpy(p + ch * 1024 + (top + r) * 32 + left, src + r * cols, (size_t)cols);
}

typedef struct {
    int cifar100;
    const dataset *from;   /* NULL: synthetic */
} source;

/* Writes records [first, first + n) of a set to path. */
static int write_batch(const char *path, const source *s, int test, long first, long n)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return 1;
    }
    uint8_t rec[2 + REC_PIXELS];
    int lb = s->cifar100 ? 2 : 1;
    for (long i = first; i < first + n; i++) {
        int k;
        if (s->from) {
            const dataset *d = s->from;
            k = (test ? d->test_labels : d->train_labels)[i] % (s->cifar100 ? 100 : 10);
            idx_image(rec + lb, (test ? d->test_images : d->train_images) +
                                    (size_t)i * d->rows * d->cols, d->rows, d->cols);
        } else {
            k = (int)(next() % (s->cifar100 ? 100 : 10));
            synth_image(rec + lb, k);
        }
        rec[0] = (uint8_t)(s->cifar100 ? k / 5 : k);
        rec[1] = (uint8_t)k;   /* CIFAR-100's fine label; a pixel for CIFAR-10 */
        if (fwrite(rec, 1, (size_t)lb + REC_PIXELS, f) != (size_t)lb + REC_PIXELS) {
            perror(path);
            fclose(f);
            return 1;
        }
    }
    return fclose(f) != 0;
}

static int write_names(const char *dir, const char *file, int n, const char *prefix)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    for (int k = 0; k < n; k++)
        fprintf(f, "%s_%d\n", prefix, k);
    fputc('\n', f);
    return fclose(f) != 0;
}

static int write_folder(const char *dir, long n_train, long n_test, const source *s, int names)
{
    char path[4200];
    int rc = 0;
    if (s->cifar100) {
        snprintf(path, sizeof path, "%s/train.bin", dir);
        rc |= write_batch(path, s, 0, 0, n_train);
        snprintf(path, sizeof path, "%s/test.bin", dir);
        rc |= write_batch(path, s, 1, 0, n_test);
        if (names)
            rc |= write_names(dir, "fine_label_names.txt", 100, "fine") ||
                  write_names(dir, "coarse_label_names.txt", 20, "coarse");
        return rc;
    }
    for (int b = 0; b < 5; b++) {
        long first = n_train * b / 5, last = n_train * (b + 1) / 5;
        snprintf(path, sizeof path, "%s/data_batch_%d.bin", dir, b + 1);
        rc |= write_batch(path, s, 0, first, last - first);
    }
    snprintf(path, sizeof path, "%s/test_batch.bin", dir);
    rc |= write_batch(path, s, 1, 0, n_test);
    if (names)
        rc |= write_names(dir, "batches.meta.txt", 10, "class");
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: synth_cifar DIR N_TRAIN N_TEST [--cifar100] [--names] "
                        "[--from IDXDIR]\n");
        return 2;
    }
    source s = {0};
    int names = 0;
    const char *from = NULL;
    for (int a = 4; a < argc; a++) {
        if (strcmp(argv[a], "--cifar100") == 0)
            s.cifar100 = 1;
        else if (strcmp(argv[a], "--names") == 0)
            names = 1;
        else if (strcmp(argv[a], "--from") == 0 && a + 1 < argc)
            from = argv[++a];
        else {
            fprintf(stderr, "synth_cifar: unknown option '%s'\n", argv[a]);
            return 2;
        }
    }
    long n_train = atol(argv[2]), n_test = atol(argv[3]);
    if (n_train < (s.cifar100 ? 1 : 5) || n_test < 1) {
        fprintf(stderr, "synth_cifar: need at least %d training and 1 test image\n",
                s.cifar100 ? 1 : 5);
        return 2;
    }
    dataset d;
    if (from) {
        sw_error err = {0};
        if (dataset_load(&d, from, DATA_IDX, CIFAR_FINE, &err)) {
            fprintf(stderr, "synth_cifar: %s\n", err.msg);
            return 2;
        }
        if (d.rows > 32 || d.cols > 32 || n_train > d.n_train || n_test > d.n_test) {
            fprintf(stderr, "synth_cifar: %s has %ld/%ld images of %dx%d\n", from, d.n_train,
                    d.n_test, d.rows, d.cols);
            dataset_free(&d);
            return 2;
        }
        s.from = &d;
    }
    int rc = write_folder(argv[1], n_train, n_test, &s, names);
    if (from)
        dataset_free(&d);
    return rc;
}
