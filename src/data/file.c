/* file.c: opening data files safely, the identity hash, and names files. */
#include "data_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- files ---- */

static const char *file_kind(mode_t m)
{
    if (S_ISDIR(m))
        return "a folder";
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISSOCK(m))
        return "a socket";
    if (S_ISCHR(m) || S_ISBLK(m))
        return "a device";
    return "not a plain file";
}

int data_open_regular(const char *path, struct stat *st, sw_error *err)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT)
            sw_err(err, SW_EINPUT, "%s: file not found", path);
        else
            sw_err(err, SW_EINPUT, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, st) != 0) {
        sw_err(err, SW_EINPUT, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        sw_err(err, SW_EINPUT, "%s: not a regular file (%s)", path, file_kind(st->st_mode));
        close(fd);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        sw_err(err, SW_EINPUT, "%s: cannot read: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

long data_read_full(int fd, void *buf, size_t n, const char *path, sw_error *err)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            sw_err(err, SW_EINPUT, "%s: read error: %s", path, strerror(errno));
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (long)got;
}

int data_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- identity hash ---- */

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

uint64_t data_hash(const uint8_t *p, size_t n, uint64_t seed)
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

uint64_t data_hash_u64s(const uint64_t *v, int n, uint64_t seed)
{
    uint8_t buf[8 * 8];
    if (n > 8)
        n = 8;
    for (int f = 0; f < n; f++)
        for (int b = 0; b < 8; b++)
            buf[8 * f + b] = (uint8_t)(v[f] >> (8 * b));
    return data_hash(buf, 8 * (size_t)n, seed);
}

/* ---- names files ---- */

#define NAMES_MAX_BYTES (64 * 1024)
#define NAME_MAX_LEN 63

/* Length of the valid UTF-8 sequence of printable characters at p (at most
 * n bytes), or 0 when it is a control byte or not UTF-8. */
static size_t utf8_char(const unsigned char *p, size_t n)
{
    if (p[0] >= 0x20 && p[0] < 0x7f)
        return 1;
    size_t len = p[0] >= 0xc2 && p[0] <= 0xdf ? 2 : p[0] >= 0xe0 && p[0] <= 0xef ? 3
                 : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t k = 1; k < len; k++)
        if ((p[k] & 0xc0) != 0x80)
            return 0;
    /* overlong 3- and 4-byte forms, surrogates, past U+10FFFF */
    if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0) ||
        (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))
        return 0;
    return len;
}

/* Checks line `line` (1-based) of path: the name between p and p + n. */
static int check_name(const char *path, int line, const unsigned char *p, size_t n,
                      sw_error *err)
{
    if (n > NAME_MAX_LEN)
        return sw_err(err, SW_EINPUT, "%s: line %d: a class name longer than %d bytes",
                      path, line, NAME_MAX_LEN);
    for (size_t i = 0; i < n;) {
        size_t c = utf8_char(p + i, n - i);
        if (!c)
            return sw_err(err, SW_EINPUT,
                          "%s: line %d, byte %zu: a control byte or invalid UTF-8 "
                          "(0x%02x) in a class name",
                          path, line, i + 1, p[i]);
        i += c;
    }
    return SW_OK;
}

/* Splits text into lines, trimming spaces and a CR at each end; fills
 * starts/lens for the first max lines and returns the count of non-blank
 * lines, checking each, or -1 with err set. */
static int split_names(const char *path, const unsigned char *text, size_t len, int max,
                       size_t *starts, size_t *lens, sw_error *err)
{
    int count = 0, line = 0, blank_seen = 0;
    for (size_t at = 0; at < len;) {
        const unsigned char *nl = memchr(text + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - text) : len, a = at, b = end;
        line++;
        while (a < b && (text[a] == ' ' || text[a] == '\t'))
            a++;
        while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\r'))
            b--;
        at = end + 1;
        if (a == b) {
            blank_seen = line;
            continue;
        }
        if (blank_seen) {
            sw_err(err, SW_EINPUT, "%s: line %d is empty; one class name per line", path,
                   blank_seen);
            return -1;
        }
        if (check_name(path, line, text + a, b - a, err))
            return -1;
        if (count < max) {
            starts[count] = a;
            lens[count] = b - a;
        }
        count++;
    }
    return count;
}

/* Builds the names block: n pointers, then the NUL-terminated names. */
static char **names_block(const unsigned char *text, const size_t *starts,
                          const size_t *lens, int n)
{
    size_t total = (size_t)n * sizeof(char *);
    for (int k = 0; k < n; k++)
        total += lens[k] + 1;
    char **names = malloc(total);
    if (!names)
        return NULL;
    char *s = (char *)(names + n);
    for (int k = 0; k < n; k++) {
        names[k] = s;
        memcpy(s, text + starts[k], lens[k]);
        s[lens[k]] = '\0';
        s += lens[k] + 1;
    }
    return names;
}

int data_read_names(const char *path, int n, char ***names, sw_error *err)
{
    *names = NULL;
    if (!data_exists(path))
        return SW_OK;
    struct stat st;
    int fd = data_open_regular(path, &st, err);
    if (fd < 0)
        return err->code;
    if (st.st_size > NAMES_MAX_BYTES) {
        close(fd);
        return sw_err(err, SW_EINPUT, "%s: %lld bytes, too large for a list of class names",
                      path, (long long)st.st_size);
    }
    unsigned char *text = malloc(NAMES_MAX_BYTES + 1);
    size_t *starts = malloc(2 * sizeof(size_t) * (size_t)(n > 0 ? n : 1));
    long len = text && starts ? data_read_full(fd, text, NAMES_MAX_BYTES + 1, path, err) : -1;
    close(fd);
    int rc = SW_OK;
    if (!text || !starts)
        rc = sw_oom(err, path);
    else if (len < 0)
        rc = err->code;
    else if (len > NAMES_MAX_BYTES)
        rc = sw_err(err, SW_EINPUT, "%s: too large for a list of class names", path);
    if (rc == SW_OK) {
        int count = split_names(path, text, (size_t)len, n, starts, starts + n, err);
        if (count < 0)
            rc = err->code;
        else if (count != n)
            rc = sw_err(err, SW_EINPUT, "%s: %d class names, expected %d (one per line)",
                        path, count, n);
        else if (!(*names = names_block(text, starts, starts + n, n)))
            rc = sw_oom(err, path);
    }
    free(text);
    free(starts);
    return rc;
}
