/* fuzz_idx: any bytes as one IDX file, read with idx_read.
 *
 * The input is read as a file (raw, or gzip when it starts with the gzip
 * magic) with 1, 2 and 3 expected dimensions, and under a ".gz" name. When
 * it is not gzip itself, the raw verdict is checked against a direct reading
 * of the format, and the input is also gzip-compressed here so the gzip path
 * sees the same IDX headers: the compressed file must give the same verdict
 * and bytes, a cut or corrupted one must be refused, and non-gzip bytes after
 * the stream are ignored (as gunzip does). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "fuzz_util.h"

static int fd_in, fd_pack;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_init_dir();
    fd_in = fz_memfd("in");
    fd_pack = fz_memfd("pack");
    fz_link(fd_in, "input");
    fz_link(fd_in, "input.gz");     /* the same bytes under a gzip name */
    fz_link(fd_pack, "packed.gz");
    return 0;
}

/* Reads fz_dir/name; checks the result's shape; *out is malloc'd or NULL. */
static int read_as(const char *name, int dims, uint8_t **out, long d[3])
{
    char path[1200];
    sw_error err = {0};
    fz_path(path, sizeof path, name);
    int rc = idx_read(path, dims, out, d, &err);
    if (rc != SW_OK) {
        fz_check_error(rc, &err, path);
        FUZZ_CHECK(!*out && d[0] == 1 && d[1] == 1 && d[2] == 1,
                   "a refused file still returns data or sizes");
        return rc;
    }
    FUZZ_CHECK(*out, "no data");
    uint64_t total = 1;
    for (int i = 0; i < 3; i++) {
        FUZZ_CHECK(d[i] >= 0 && (i < dims || d[i] == 1), "dims[%d] = %ld", i, d[i]);
        total *= (uint64_t)d[i];
    }
    FUZZ_CHECK(total <= (uint64_t)1 << 31, "%llu bytes accepted",
               (unsigned long long)total);
    /* touch every byte: ASan catches a buffer shorter than the sizes */
    volatile uint8_t sink = 0;
    for (uint64_t i = 0; i < total; i++)
        sink ^= (*out)[i];
    (void)sink;
    return rc;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The format read directly: header, sizes whose running product stays
 * within 2 GiB (as src/data/idx.c caps it), then exactly that many bytes. */
static int raw_valid(const uint8_t *p, size_t n, int dims, size_t *head, uint64_t *total)
{
    *head = 4 + 4 * (size_t)dims;
    *total = 1;
    if (n < *head || p[0] || p[1] || p[2] != 0x08 || p[3] != dims)
        return 0;
    for (int i = 0; i < dims; i++) {
        *total *= be32(p + 4 + 4 * i);
        if (*total > (uint64_t)1 << 31)
            return 0;
    }
    return n - *head == *total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *out = NULL;
    long d[3];
    int is_gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    int raw_rc[4] = {0};

    fz_fill(fd_in, data, size);
    for (int dims = 1; dims <= 3; dims++) {
        raw_rc[dims] = read_as("input", dims, &out, d);
        if (!is_gz) {
            size_t head;
            uint64_t total;
            int ok = raw_valid(data, size, dims, &head, &total);
            FUZZ_CHECK(ok == (raw_rc[dims] == SW_OK), "raw file %s with %d dims",
                       ok ? "refused" : "accepted", dims);
            if (ok)
                FUZZ_CHECK(memcmp(out, data + head, (size_t)total) == 0,
                           "raw data differ from the file");
        }
        free(out);
    }
    int rc = read_as("input.gz", 3, &out, d);
    free(out);
    if (is_gz)
        return 0;   /* gzip made by the fuzzer: no raw reading to compare */
    FUZZ_CHECK(rc != SW_OK, "non-gzip bytes accepted under a .gz name");

    /* The same bytes through gzip. */
    uint8_t *packed;
    size_t plen = fz_gzip(data, size, &packed);
    int dims = size >= 4 && data[3] >= 1 && data[3] <= 3 ? data[3] : 3;
    fz_fill(fd_pack, packed, plen);
    rc = read_as("packed.gz", dims, &out, d);
    FUZZ_CHECK((rc == SW_OK) == (raw_rc[dims] == SW_OK), "gzip %s what raw %s",
               rc ? "refused" : "accepted", raw_rc[dims] ? "refused" : "accepted");
    if (rc == SW_OK) {
        size_t head = 4 + 4 * (size_t)dims;
        FUZZ_CHECK(memcmp(out, data + head, size - head) == 0,
                   "gzip data differ from the raw file");
    }
    free(out);

    if (raw_rc[dims] == SW_OK) {
        /* The last trailer byte (length) cut: truncated. */
        fz_fill(fd_pack, packed, plen - 1);
        rc = read_as("packed.gz", dims, &out, d);
        free(out);
        FUZZ_CHECK(rc != SW_OK, "gzip without its last byte accepted");
        /* A CRC bit flipped: corrupt. */
        packed[plen - 8] ^= 0x01;
        fz_fill(fd_pack, packed, plen);
        rc = read_as("packed.gz", dims, &out, d);
        free(out);
        FUZZ_CHECK(rc != SW_OK, "gzip with a wrong CRC accepted");
        packed[plen - 8] ^= 0x01;
        /* Non-gzip bytes after the stream: ignored, as gunzip does. */
        uint8_t *more = malloc(plen + 3);
        if (!more)
            abort();
        memcpy(more, packed, plen);
        memcpy(more + plen, "xyz", 3);
        fz_fill(fd_pack, more, plen + 3);
        rc = read_as("packed.gz", dims, &out, d);
        free(out);
        free(more);
        FUZZ_CHECK(rc == SW_OK, "gzip with trailing non-gzip bytes refused");
    }
    free(packed);
    return 0;
}
