/* idx.c: one IDX file of unsigned bytes, gzip or raw.
 *
 * Policy: the decoded stream must be exactly the header plus the data it
 * promises. Fewer bytes is "truncated"; more decoded bytes is an error too
 * ("trailing data"), since a longer file is not the file we think it is.
 * Non-gzip bytes after a complete gzip stream are ignored, as gunzip does
 * (zlib's gzread behaves so). */
#include "data_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define GZ_FIRST_CHUNK ((size_t)1 << 20)

/* One open IDX file: a descriptor for raw files, zlib for gzip. */
typedef struct {
    const char *path;
    int fd;
    gzFile gz;
    long long raw_size;   /* the file size when raw, -1 for gzip */
} idx_file;

/* zlib's message without the path it may prefix (we name the file). */
static const char *gz_message(const idx_file *x, const char *zmsg)
{
    size_t pl = strlen(x->path);
    if (strncmp(zmsg, x->path, pl) == 0 && strncmp(zmsg + pl, ": ", 2) == 0)
        return zmsg + pl + 2;
    return zmsg;
}

/* Reads up to n bytes; returns the count (short only at end of stream), or
 * -1 with err set. A gzip stream cut short is reported by idx_trailer. */
static long idx_file_read(idx_file *x, void *buf, size_t n, sw_error *err)
{
    if (!x->gz)
        return data_read_full(x->fd, buf, n, x->path, err);
    size_t got = 0;
    while (got < n) {
        size_t want = n - got;
        unsigned chunk = want > (1u << 30) ? 1u << 30 : (unsigned)want;
        int r = gzread(x->gz, (char *)buf + got, chunk);
        int zerr;
        const char *zmsg = gzerror(x->gz, &zerr);
        /* Z_BUF_ERROR is zlib's "unexpected end of file": a cut file */
        if (zerr == Z_ERRNO) {
            sw_err(err, SW_EINPUT, "%s: read error: %s", x->path, strerror(errno));
            return -1;
        }
        if (zerr != Z_OK && zerr != Z_BUF_ERROR) {
            sw_err(err, SW_EINPUT, "%s: corrupt gzip data (%s)", x->path, gz_message(x, zmsg));
            return -1;
        }
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return (long)got;
}

static void idx_file_close(idx_file *x)
{
    if (x->gz)
        gzclose(x->gz);   /* closes the descriptor too */
    else if (x->fd >= 0)
        close(x->fd);
    x->gz = NULL;
    x->fd = -1;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Opens path (a regular file only, never blocking on a FIFO), choosing gzip
 * by its magic rather than its name. */
static int idx_file_open(idx_file *x, const char *path, sw_error *err)
{
    memset(x, 0, sizeof *x);
    x->path = path;
    struct stat st;
    x->fd = data_open_regular(path, &st, err);
    if (x->fd < 0)
        return err->code;
    unsigned char magic[2] = {0, 0};
    long n = data_read_full(x->fd, magic, 2, path, err);
    int is_gz = n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    int rc = n < 0 ? SW_EINPUT : SW_OK;
    if (!rc && !is_gz && ends_with(path, ".gz"))
        rc = sw_err(err, SW_EINPUT, "%s: not a gzip file", path);
    else if (!rc && lseek(x->fd, 0, SEEK_SET) != 0)
        rc = sw_err(err, SW_EINPUT, "%s: cannot read: %s", path, strerror(errno));
    if (rc) {
        idx_file_close(x);
        return rc;
    }
    x->raw_size = is_gz ? -1 : (long long)st.st_size;
    if (!is_gz)
        return SW_OK;
    x->gz = gzdopen(x->fd, "rb");
    if (!x->gz) {
        idx_file_close(x);
        return sw_oom(err, path);
    }
    gzbuffer(x->gz, 1u << 17);   /* fewer, larger reads than the 8 KiB default */
    return SW_OK;
}

/* ---- the three parts of a file ---- */

/* Reads and checks the magic, the type and the sizes; *total gets the
 * number of data bytes. */
static int idx_header(idx_file *x, int expect_dims, long dims[3], uint64_t *total,
                      size_t *head_len, sw_error *err)
{
    const char *path = x->path;
    unsigned char head[4 + 4 * 3];
    long r = idx_file_read(x, head, 4, err);
    if (r < 0)
        return err->code;
    if (r < 4)
        return sw_err(err, SW_EINPUT, "%s: truncated IDX header", path);
    if (head[0] != 0 || head[1] != 0)
        return sw_err(err, SW_EINPUT, "%s: not an IDX file (magic %02x %02x %02x %02x)",
                      path, head[0], head[1], head[2], head[3]);
    if (head[2] != 0x08)
        return sw_err(err, SW_EINPUT, "%s: IDX type 0x%02x, expected 0x08 (unsigned bytes)",
                      path, head[2]);
    if (head[3] != expect_dims)
        return sw_err(err, SW_EINPUT, "%s: %d dimensions, expected %d", path, head[3],
                      expect_dims);
    *head_len = 4 + 4 * (size_t)expect_dims;
    r = idx_file_read(x, head + 4, *head_len - 4, err);
    if (r < 0)
        return err->code;
    if ((size_t)r < *head_len - 4)
        return sw_err(err, SW_EINPUT, "%s: truncated IDX header", path);

    /* Each size < 2^32 and the running product is capped at 2^31 before the
     * next multiply, so the uint64 product cannot overflow. */
    int too_big = 0;
    *total = 1;
    for (int i = 0; i < expect_dims; i++) {
        const unsigned char *p = head + 4 + 4 * i;
        uint64_t s = (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
        dims[i] = (long)s;
        *total *= s;
        if (*total > DATA_MAX_BYTES)
            too_big = 1;
        if (too_big)
            *total = DATA_MAX_BYTES + 1;
    }
    if (too_big)
        return sw_err(err, SW_EINPUT, "%s: sizes %ldx%ldx%ld exceed 2 GiB", path, dims[0],
                      dims[1], dims[2]);
    return SW_OK;
}

/* Reads the total data bytes into *out (malloc'd). */
static int idx_body(idx_file *x, uint64_t total, size_t head_len, uint8_t **out,
                    sw_error *err)
{
    const char *path = x->path;
    if (x->raw_size >= 0) {
        /* Raw: the file size says everything before any allocation. */
        long long have = x->raw_size - (long long)head_len;
        if (have < (long long)total)
            return sw_err(err, SW_EINPUT, "%s: truncated: %lld data bytes, header promises %llu",
                          path, have, (unsigned long long)total);
        if (have > (long long)total)
            return sw_err(err, SW_EINPUT, "%s: trailing data: %lld bytes after the %llu promised",
                          path, have - (long long)total, (unsigned long long)total);
    }
    /* Gzip sizes are unknown until read: grow as data arrives, never past the
     * header's promise, so a lying header costs no more than the real data. */
    size_t cap = x->raw_size >= 0 || total < GZ_FIRST_CHUNK ? (size_t)total : GZ_FIRST_CHUNK;
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf)
        return sw_oom(err, path);
    size_t got = 0;
    for (;;) {
        long r = idx_file_read(x, buf + got, cap - got, err);
        if (r < 0)
            goto fail;
        got += (size_t)r;
        if (got < cap || cap == total)
            break;
        size_t next = cap * 2 < total ? cap * 2 : (size_t)total;
        uint8_t *grown = realloc(buf, next);
        if (!grown) {
            sw_oom(err, path);
            goto fail;
        }
        buf = grown;
        cap = next;
    }
    if (got < total) {
        sw_err(err, SW_EINPUT, "%s: truncated: %zu data bytes, header promises %llu", path, got,
               (unsigned long long)total);
        goto fail;
    }
    *out = buf;
    return SW_OK;
fail:
    free(buf);
    return err->code;
}

/* After the data: the stream must end here. For gzip one more read also
 * makes zlib check the stream's CRC and length trailer. */
static int idx_trailer(idx_file *x, uint64_t total, sw_error *err)
{
    unsigned char extra;
    long r = idx_file_read(x, &extra, 1, err);
    if (r < 0)
        return err->code;
    if (r > 0)
        return sw_err(err, SW_EINPUT, "%s: trailing data after the %llu promised bytes",
                      x->path, (unsigned long long)total);
    if (x->gz) {
        int zerr;
        gzerror(x->gz, &zerr);
        if (zerr == Z_BUF_ERROR)
            return sw_err(err, SW_EINPUT, "%s: truncated gzip stream", x->path);
    }
    return SW_OK;
}

int idx_read(const char *path, int expect_dims, uint8_t **data, long dims[3], sw_error *err)
{
    sw_error spare = {0};
    if (!err)
        err = &spare;
    *data = NULL;
    dims[0] = dims[1] = dims[2] = 1;
    if (expect_dims < 1 || expect_dims > 3)
        return sw_err(err, SW_EINPUT, "%s: cannot read %d-dimensional IDX", path, expect_dims);

    idx_file x;
    if (idx_file_open(&x, path, err))
        return err->code;
    uint8_t *buf = NULL;
    uint64_t total = 0;
    size_t head_len = 0;
    if (idx_header(&x, expect_dims, dims, &total, &head_len, err) ||
        idx_body(&x, total, head_len, &buf, err) || idx_trailer(&x, total, err)) {
        idx_file_close(&x);
        free(buf);
        dims[0] = dims[1] = dims[2] = 1;
        return err->code;
    }
    idx_file_close(&x);
    *data = buf;
    return SW_OK;
}
