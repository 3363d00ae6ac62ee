/* fuzz_util.h: helpers shared by the libFuzzer targets.
 *
 * Inputs become files held in memfds (no disk writes per execution), named
 * through symlinks in a private temporary folder, so the library opens them
 * by path exactly as it opens real data files. */
#ifndef SWEEP_FUZZ_UTIL_H
#define SWEEP_FUZZ_UTIL_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "base/error.h"

/* A broken invariant aborts, which libFuzzer reports as a crash and saves
 * the input. */
#define FUZZ_CHECK(cond, ...)                                                \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "\nfuzz invariant failed (%s:%d: %s): ",         \
                    __FILE__, __LINE__, #cond);                              \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
            abort();                                                         \
        }                                                                    \
    } while (0)

static char fz_dir[1024];

static inline void fz_die(const char *what)
{
    perror(what);
    exit(1);
}

/* Removes the folder's symlinks and the folder, at exit. */
static inline void fz_cleanup(void)
{
    DIR *d = opendir(fz_dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
    rmdir(fz_dir);
}

static inline void fz_init_dir(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(fz_dir, sizeof fz_dir, "%s/sweep-fuzz.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(fz_dir))
        fz_die("mkdtemp");
    atexit(fz_cleanup);
}

static inline int fz_memfd(const char *name)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0)
        fz_die("memfd_create");
    return fd;
}

/* Makes the memfd's contents exactly p[0..n). */
static inline void fz_fill(int fd, const void *p, size_t n)
{
    if (ftruncate(fd, 0) != 0)
        fz_die("ftruncate");
    size_t done = 0;
    while (done < n) {
        ssize_t w = pwrite(fd, (const char *)p + done, n - done, (off_t)done);
        if (w <= 0)
            fz_die("pwrite");
        done += (size_t)w;
    }
}

static inline void fz_path(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", fz_dir, name);
}

/* fz_dir/name -> /proc/self/fd/fd: opening it reopens the memfd. */
static inline void fz_link(int fd, const char *name)
{
    char target[64], path[1200];
    snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
    fz_path(path, sizeof path, name);
    unlink(path);
    if (symlink(target, path) != 0)
        fz_die("symlink");
}

static inline void fz_unlink(const char *name)
{
    char path[1200];
    fz_path(path, sizeof path, name);
    unlink(path);
}

/* in as one gzip member, into *out (malloc'd); returns its length. A small
 * memLevel keeps deflate's per-call allocation down; the format is the same. */
static inline size_t fz_gzip(const uint8_t *in, size_t n, uint8_t **out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 1,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        fz_die("deflateInit2");
    size_t cap = deflateBound(&z, (uLong)n) + 64;
    *out = malloc(cap);
    if (!*out)
        fz_die("malloc");
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = *out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        fz_die("deflate");
    size_t len = cap - z.avail_out;
    deflateEnd(&z);
    return len;
}

/* The error contract of base/error.h: a refusal has code SW_EINPUT and one
 * line of message that starts by naming the place (prefix). */
static inline void fz_check_error(int rc, const sw_error *err, const char *prefix)
{
    /* Out of memory is the one run error (sw_oom); all else is bad input. */
    FUZZ_CHECK(rc == SW_EINPUT || (rc == SW_ERUN && strstr(err->msg, "out of memory")),
               "code %d, expected SW_EINPUT (%d): %s", rc, SW_EINPUT, err->msg);
    FUZZ_CHECK(err->code == rc, "err.code %d but returned %d", err->code, rc);
    size_t len = strnlen(err->msg, sizeof err->msg);
    FUZZ_CHECK(len > 0 && len < sizeof err->msg, "empty or unterminated message");
    FUZZ_CHECK(strncmp(err->msg, prefix, strlen(prefix)) == 0,
               "message does not start with '%s': %s", prefix, err->msg);
    for (size_t i = 0; i < len; i++)
        FUZZ_CHECK((unsigned char)err->msg[i] >= 0x20 && err->msg[i] != 0x7f,
                   "control byte 0x%02x at %zu in message: %s",
                   (unsigned char)err->msg[i], i, err->msg);
}

#endif
