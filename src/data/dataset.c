/* dataset.c: IDX files (gzip or raw) and MNIST-format datasets.
 *
 * IDX policy: the decoded stream must be exactly the header plus the data it
 * promises. Fewer bytes is "truncated"; more decoded bytes is an error too
 * ("trailing data"), since a longer file is not the file we think it is.
 * Non-gzip bytes after a complete gzip stream are ignored, as gunzip does
 * (zlib's gzread behaves so). */
#include "data/dataset.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define IDX_MAX_BYTES ((uint64_t)1 << 31)
#define GZ_FIRST_CHUNK ((size_t)1 << 20)

/* One open IDX file: stdio for raw files, zlib for gzip. */
typedef struct {
    const char *path;
    FILE *f;
    gzFile gz;
} idx_file;

/* Reads up to n bytes; returns the count (short only at end of stream), or
 * -1 with err set. A gzip stream cut short is reported as truncation. */
static long idx_file_read(idx_file *x, void *buf, size_t n, sw_error *err)
{
    size_t got = 0;
    while (got < n) {
        size_t want = n - got;
        if (x->gz) {
            unsigned chunk = want > (1u << 30) ? 1u << 30 : (unsigned)want;
            int r = gzread(x->gz, (char *)buf + got, chunk);
            int zerr;
            const char *zmsg = gzerror(x->gz, &zerr);
            /* Z_BUF_ERROR is zlib's "unexpected end of file": a cut file */
            if (zerr != Z_OK && zerr != Z_BUF_ERROR) {
                if (zerr == Z_ERRNO)
                    sw_err(err, SW_EINPUT, "%s: read error: %s", x->path,
                           strerror(errno));
                else {
                    /* zlib prefixes the path; we already name it */
                    size_t pl = strlen(x->path);
                    if (strncmp(zmsg, x->path, pl) == 0 &&
                        strncmp(zmsg + pl, ": ", 2) == 0)
                        zmsg += pl + 2;
                    sw_err(err, SW_EINPUT, "%s: corrupt gzip data (%s)",
                           x->path, zmsg);
                }
                return -1;
            }
            if (r <= 0)
                break;
            got += (size_t)r;
        } else {
            size_t r = fread((char *)buf + got, 1, want, x->f);
            got += r;
            if (r < want) {
                if (ferror(x->f)) {
                    sw_err(err, SW_EINPUT, "%s: read error: %s", x->path,
                           strerror(errno));
                    return -1;
                }
                break;
            }
        }
    }
    return (long)got;
}

static void idx_file_close(idx_file *x)
{
    if (x->gz)
        gzclose(x->gz);
    if (x->f)
        fclose(x->f);
    x->gz = NULL;
    x->f = NULL;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Opens path, choosing gzip by its magic rather than its name. For raw files
 * *raw_size gets the file size (so sizes can be checked before allocating),
 * for gzip it is -1. */
static int idx_file_open(idx_file *x, const char *path, long long *raw_size,
                         sw_error *err)
{
    memset(x, 0, sizeof *x);
    x->path = path;
    x->f = fopen(path, "rb");
    if (!x->f)
        return sw_err(err, SW_EINPUT, "%s: cannot open: %s", path,
                      strerror(errno));
    struct stat st;
    if (fstat(fileno(x->f), &st) != 0 || !S_ISREG(st.st_mode)) {
        idx_file_close(x);
        return sw_err(err, SW_EINPUT, "%s: not a regular file", path);
    }
    unsigned char magic[2] = {0, 0};
    size_t n = fread(magic, 1, 2, x->f);
    int is_gz = n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    if (!is_gz && ends_with(path, ".gz")) {
        idx_file_close(x);
        return sw_err(err, SW_EINPUT, "%s: not a gzip file", path);
    }
    if (!is_gz) {
        rewind(x->f);
        *raw_size = (long long)st.st_size;
        return SW_OK;
    }
    fclose(x->f);
    x->f = NULL;
    *raw_size = -1;
    x->gz = gzopen(path, "rb");
    if (!x->gz)
        return sw_err(err, SW_EINPUT, "%s: cannot open: %s", path,
                      errno ? strerror(errno) : "out of memory");
    gzbuffer(x->gz, 1u << 17);   /* fewer, larger reads than the 8 KiB default */
    return SW_OK;
}

int idx_read(const char *path, int expect_dims, uint8_t **data, long dims[3],
             sw_error *err)
{
    sw_error spare = {0};
    if (!err)
        err = &spare;
    *data = NULL;
    dims[0] = dims[1] = dims[2] = 1;
    if (expect_dims < 1 || expect_dims > 3)
        return sw_err(err, SW_EINPUT, "%s: cannot read %d-dimensional IDX",
                      path, expect_dims);

    idx_file x;
    long long raw_size;
    if (idx_file_open(&x, path, &raw_size, err))
        return err->code;

    uint8_t *buf = NULL;
    unsigned char head[4 + 4 * 3];
    long r = idx_file_read(&x, head, 4, err);
    if (r < 0)
        goto fail;
    if (r < 4) {
        sw_err(err, SW_EINPUT, "%s: truncated IDX header", path);
        goto fail;
    }
    if (head[0] != 0 || head[1] != 0) {
        sw_err(err, SW_EINPUT,
               "%s: not an IDX file (magic %02x %02x %02x %02x)", path,
               head[0], head[1], head[2], head[3]);
        goto fail;
    }
    if (head[2] != 0x08) {
        sw_err(err, SW_EINPUT,
               "%s: IDX type 0x%02x, expected 0x08 (unsigned bytes)", path,
               head[2]);
        goto fail;
    }
    if (head[3] != expect_dims) {
        sw_err(err, SW_EINPUT, "%s: %d dimensions, expected %d", path,
               head[3], expect_dims);
        goto fail;
    }
    size_t head_len = 4 + 4 * (size_t)expect_dims;
    r = idx_file_read(&x, head + 4, head_len - 4, err);
    if (r < 0)
        goto fail;
    if ((size_t)r < head_len - 4) {
        sw_err(err, SW_EINPUT, "%s: truncated IDX header", path);
        goto fail;
    }

    /* Each size < 2^32 and the running product is capped at 2^31 before the
     * next multiply, so the uint64 product cannot overflow. */
    uint64_t total = 1;
    int too_big = 0;
    for (int i = 0; i < expect_dims; i++) {
        const unsigned char *p = head + 4 + 4 * i;
        uint64_t s = (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 |
                     (uint64_t)p[2] << 8 | p[3];
        dims[i] = (long)s;
        total *= s;
        if (total > IDX_MAX_BYTES)
            too_big = 1;
        if (too_big)
            total = IDX_MAX_BYTES + 1;
    }
    if (too_big) {
        sw_err(err, SW_EINPUT, "%s: sizes %ldx%ldx%ld exceed 2 GiB", path,
               dims[0], dims[1], dims[2]);
        goto fail;
    }

    if (raw_size >= 0) {
        /* Raw: the file size says everything before any allocation. */
        long long have = raw_size - (long long)head_len;
        if (have < (long long)total) {
            sw_err(err, SW_EINPUT,
                   "%s: truncated: %lld data bytes, header promises %llu",
                   path, have, (unsigned long long)total);
            goto fail;
        }
        if (have > (long long)total) {
            sw_err(err, SW_EINPUT,
                   "%s: trailing data: %lld bytes after the %llu promised",
                   path, have - (long long)total, (unsigned long long)total);
            goto fail;
        }
    }

    /* Gzip sizes are unknown until read: grow as data arrives, never past the
     * header's promise, so a lying header costs no more than the real data. */
    size_t cap = raw_size >= 0 || total < GZ_FIRST_CHUNK ? (size_t)total
                                                         : GZ_FIRST_CHUNK;
    buf = malloc(cap ? cap : 1);
    if (!buf) {
        sw_err(err, SW_EINPUT, "%s: out of memory for %zu bytes", path, cap);
        goto fail;
    }
    size_t got = 0;
    for (;;) {
        r = idx_file_read(&x, buf + got, cap - got, err);
        if (r < 0)
            goto fail;
        got += (size_t)r;
        if (got < cap || cap == total)
            break;
        size_t next = cap * 2 < total ? cap * 2 : (size_t)total;
        uint8_t *grown = realloc(buf, next);
        if (!grown) {
            sw_err(err, SW_EINPUT, "%s: out of memory for %zu bytes", path,
                   next);
            goto fail;
        }
        buf = grown;
        cap = next;
    }
    if (got < total) {
        sw_err(err, SW_EINPUT,
               "%s: truncated: %zu data bytes, header promises %llu", path,
               got, (unsigned long long)total);
        goto fail;
    }
    /* One more byte: must be end of stream. For gzip this also makes zlib
     * check the stream's CRC and length trailer. */
    unsigned char extra;
    r = idx_file_read(&x, &extra, 1, err);
    if (r < 0)
        goto fail;
    if (r > 0) {
        sw_err(err, SW_EINPUT, "%s: trailing data after the %llu promised bytes",
               path, (unsigned long long)total);
        goto fail;
    }
    if (x.gz) {
        int zerr;
        gzerror(x.gz, &zerr);
        if (zerr == Z_BUF_ERROR) {
            sw_err(err, SW_EINPUT, "%s: truncated gzip stream", path);
            goto fail;
        }
    }
    idx_file_close(&x);
    *data = buf;
    return SW_OK;

fail:
    idx_file_close(&x);
    free(buf);
    dims[0] = dims[1] = dims[2] = 1;
    return err->code;
}

/* ---- identity hash ----
 * Fixed forever (stored results refer to it): bytes are read as little-endian
 * 64-bit words into four lanes, h = rotl(h ^ w, 29) * M; the tail is padded
 * with zeros; the length and lanes are folded through splitmix64's finalizer.
 * Word-at-a-time so hashing stays a small part of loading; byte-order
 * independent. A file's hash is H(data, seed = H(header, 0)); the identity is
 * H(the four file hashes as little-endian u64s in the order train images,
 * train labels, test images, test labels, 0). */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl64(uint64_t x, int k) { return x << k | x >> (64 - k); }

static uint64_t load_le64(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
           (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
           (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

#define HASH_M 0x9e3779b97f4a7c15ULL

static uint64_t hash_bytes(const uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t h[4] = {seed ^ 0x243f6a8885a308d3ULL, seed ^ 0x13198a2e03707344ULL,
                     seed ^ 0xa4093822299f31d0ULL, seed ^ 0x082efa98ec4e6c89ULL};
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int l = 0; l < 4; l++)
            h[l] = rotl64(h[l] ^ load_le64(p + i + 8 * l), 29) * HASH_M;
    uint8_t tail[32] = {0};
    if (i < n) {
        memcpy(tail, p + i, n - i);
        for (int l = 0; l < 4; l++)
            h[l] = rotl64(h[l] ^ load_le64(tail + 8 * l), 29) * HASH_M;
    }
    uint64_t out = mix64(seed ^ (uint64_t)n);
    for (int l = 0; l < 4; l++)
        out = mix64(out ^ h[l]);
    return out;
}

/* ---- datasets ---- */

enum { TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS, N_FILES };

static const char *const file_names[N_FILES] = {
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
/* The dotted spelling some mirrors use. */
static const char *const file_names_dotted[N_FILES] = {
    "train-images.idx3-ubyte", "train-labels.idx1-ubyte",
    "t10k-images.idx3-ubyte", "t10k-labels.idx1-ubyte"};

/* Finds the file to read, .gz first; returns 0 when none exists. */
static int find_file(char *out, size_t size, const char *dir, int which)
{
    const char *bases[2] = {file_names[which], file_names_dotted[which]};
    for (int b = 0; b < 2; b++)
        for (int gz = 1; gz >= 0; gz--) {
            snprintf(out, size, "%s/%s%s", dir, bases[b], gz ? ".gz" : "");
            struct stat st;
            if (stat(out, &st) == 0)
                return 1;
        }
    snprintf(out, size, "%s/%s", dir, file_names[which]);
    return 0;
}

void dataset_free(dataset *d)
{
    free(d->train_images);
    free(d->train_labels);
    free(d->test_images);
    free(d->test_labels);
    memset(d, 0, sizeof *d);
}

static int check_labels(const char *path, const uint8_t *labels, long n,
                        sw_error *err)
{
    for (long i = 0; i < n; i++)
        if (labels[i] > 9)
            return sw_err(err, SW_EINPUT,
                          "%s: label %d at index %ld is outside 0..9", path,
                          labels[i], i);
    return SW_OK;
}

int dataset_load(dataset *d, const char *dir, sw_error *err)
{
    sw_error spare = {0};
    if (!err)
        err = &spare;
    memset(d, 0, sizeof *d);
    if (strlen(dir) >= sizeof d->dir)
        return sw_err(err, SW_EINPUT, "%s: folder name too long", dir);

    enum { PATH_MAX_ = sizeof d->dir + 64 };
    static const int want_dims[N_FILES] = {3, 1, 3, 1};
    char paths[N_FILES][PATH_MAX_];
    uint8_t *data[N_FILES] = {0};
    long dims[N_FILES][3];
    uint64_t hashes[N_FILES] = {0};
    sw_error errs[N_FILES];
    memset(errs, 0, sizeof errs);

    for (int f = 0; f < N_FILES; f++)
        if (!find_file(paths[f], sizeof paths[f], dir, f))
            return sw_err(err, SW_EINPUT, "%s[.gz]: file not found",
                          paths[f]);

    /* The four files decode independently; train images dominate, so with
     * two threads the other three ride along for free. */
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1)
#endif
    for (int f = 0; f < N_FILES; f++) {
        if (idx_read(paths[f], want_dims[f], &data[f], dims[f], &errs[f]))
            continue;
        /* Hash the decoded file: its header (rebuilt exactly) seeds the
         * hash of its data. */
        uint8_t head[16] = {0, 0, 0x08, (uint8_t)want_dims[f]};
        uint64_t n = 1;
        for (int i = 0; i < want_dims[f]; i++) {
            uint32_t s = (uint32_t)dims[f][i];
            head[4 + 4 * i] = (uint8_t)(s >> 24);
            head[5 + 4 * i] = (uint8_t)(s >> 16);
            head[6 + 4 * i] = (uint8_t)(s >> 8);
            head[7 + 4 * i] = (uint8_t)s;
            n *= s;
        }
        hashes[f] = hash_bytes(data[f], (size_t)n,
                               hash_bytes(head, 4 + 4 * (size_t)want_dims[f], 0));
    }

    for (int f = 0; f < N_FILES; f++)
        if (errs[f].code) {
            sw_err(err, errs[f].code, "%s", errs[f].msg);
            goto fail;
        }

    long n_train = dims[TRAIN_IMAGES][0], n_test = dims[TEST_IMAGES][0];
    long rows = dims[TRAIN_IMAGES][1], cols = dims[TRAIN_IMAGES][2];
    if (dims[TRAIN_LABELS][0] != n_train) {
        sw_err(err, SW_EINPUT, "%s has %ld images but %s has %ld labels",
               paths[TRAIN_IMAGES], n_train, paths[TRAIN_LABELS],
               dims[TRAIN_LABELS][0]);
        goto fail;
    }
    if (dims[TEST_LABELS][0] != n_test) {
        sw_err(err, SW_EINPUT, "%s has %ld images but %s has %ld labels",
               paths[TEST_IMAGES], n_test, paths[TEST_LABELS],
               dims[TEST_LABELS][0]);
        goto fail;
    }
    if (dims[TEST_IMAGES][1] != rows || dims[TEST_IMAGES][2] != cols) {
        sw_err(err, SW_EINPUT, "%s: images are %ldx%ld but %s has %ldx%ld",
               paths[TEST_IMAGES], dims[TEST_IMAGES][1], dims[TEST_IMAGES][2],
               paths[TRAIN_IMAGES], rows, cols);
        goto fail;
    }
    /* Training needs examples and pixels; pixels must fit an int. */
    if (n_train < 1 || n_test < 1) {
        sw_err(err, SW_EINPUT, "%s: no examples",
               paths[n_train < 1 ? TRAIN_IMAGES : TEST_IMAGES]);
        goto fail;
    }
    if (rows < 1 || cols < 1 || rows > INT_MAX / cols) {
        sw_err(err, SW_EINPUT, "%s: unusable image size %ldx%ld",
               paths[TRAIN_IMAGES], rows, cols);
        goto fail;
    }
    if (check_labels(paths[TRAIN_LABELS], data[TRAIN_LABELS], n_train, err) ||
        check_labels(paths[TEST_LABELS], data[TEST_LABELS], n_test, err))
        goto fail;

    uint8_t folded[8 * N_FILES];
    for (int f = 0; f < N_FILES; f++)
        for (int b = 0; b < 8; b++)
            folded[8 * f + b] = (uint8_t)(hashes[f] >> (8 * b));

    memcpy(d->dir, dir, strlen(dir) + 1);
    d->rows = (int)rows;
    d->cols = (int)cols;
    d->n_train = n_train;
    d->train_images = data[TRAIN_IMAGES];
    d->train_labels = data[TRAIN_LABELS];
    d->n_test = n_test;
    d->test_images = data[TEST_IMAGES];
    d->test_labels = data[TEST_LABELS];
    d->identity = hash_bytes(folded, sizeof folded, 0);
    return SW_OK;

fail:
    for (int f = 0; f < N_FILES; f++)
        free(data[f]);
    memset(d, 0, sizeof *d);
    return err->code;
}

void dataset_split(const dataset *d, double validation_split, long train_limit,
                   data_split *train, data_split *val, data_split *test)
{
    long n = d->n_train;
    int pixels = d->rows * d->cols;
    /* Keras: split_at = int(n * (1 - validation_split)), truncated. The
     * guards keep the cast defined for out-of-range or NaN splits. */
    long split_at = n;
    if (validation_split >= 1.0)
        split_at = 0;
    else if (validation_split > 0.0)
        split_at = (long)((double)n * (1.0 - validation_split));
    long n_fit = train_limit > 0 && train_limit < split_at ? train_limit
                                                           : split_at;
    if (train)
        *train = (data_split){d->train_images, d->train_labels, n_fit, pixels};
    if (val)
        *val = (data_split){
            d->train_images ? d->train_images + (size_t)split_at * pixels : NULL,
            d->train_labels ? d->train_labels + split_at : NULL, n - split_at,
            pixels};
    if (test)
        *test = (data_split){d->test_images, d->test_labels, d->n_test, pixels};
}

void data_batch_floats(float *out, uint8_t *labels_out, const data_split *s,
                       const long *order, long start, int count)
{
    const int pixels = s->pixels;
    /* Threads only pay off for big batches (e.g. a whole evaluation set);
     * every element is computed the same way, so results never depend on it. */
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if ((long)count * pixels >= (1L << 20))
#endif
    for (int i = 0; i < count; i++) {
        long e = order ? order[start + i] : start + i;
        const uint8_t *src = s->images + (size_t)e * pixels;
        float *dst = out + (size_t)i * pixels;
        for (int j = 0; j < pixels; j++)
            dst[j] = (float)src[j] / 255.0f;
        if (labels_out)
            labels_out[i] = s->labels[e];
    }
}
