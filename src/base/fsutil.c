/* fsutil.c: see fsutil.h. */
#include "base/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- folders */

int sw_mkdir_p(const char *dir, sw_error *err)
{
    size_t len = strlen(dir);
    char *buf = malloc(len + 1);
    if (!buf)
        return sw_oom(err, dir);
    memcpy(buf, dir, len + 1);
    int rc = SW_OK;
    for (char *p = buf + 1; rc == SW_OK && len > 0; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        struct stat st;
        if (p[-1] != '/' && mkdir(buf, 0777) != 0 &&
            (errno != EEXIST || stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))) {
            int e = errno == EEXIST ? ENOTDIR : errno;
            rc = sw_err(err, SW_EINPUT, "cannot create folder %s: %s", buf, strerror(e));
        }
        *p = c;
        if (c == '\0')
            break;
    }
    free(buf);
    return rc;
}

int sw_mkdir_parent(const char *path, sw_error *err)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return SW_OK;
    size_t len = (size_t)(slash - path);
    char *dir = malloc(len + 1);
    if (!dir)
        return sw_oom(err, path);
    memcpy(dir, path, len);
    dir[len] = '\0';
    int rc = sw_mkdir_p(dir, err);
    free(dir);
    return rc;
}

/* ------------------------------------------------------------- out files */

static char *str_dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

/* "dir/name" -> "dir/" (with the slash; "" when there is none). */
static size_t dir_len(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? (size_t)(slash - path) + 1 : 0;
}

/* Follows a chain of links to a name that does not exist yet (a dangling
 * link: its target is what the user means to create). Returns a malloc'd
 * path, or NULL with errno set. */
static char *resolve_new(const char *path)
{
    char *cur = str_dup(path);
    for (int hops = 0; cur && hops < 40; hops++) {
        struct stat st;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode))
            return cur;
        char link[PATH_MAX];
        ssize_t n = readlink(cur, link, sizeof link - 1);
        if (n < 0) {
            free(cur);
            return NULL;
        }
        link[n] = '\0';
        size_t d = link[0] == '/' ? 0 : dir_len(cur);
        char *next = malloc(d + (size_t)n + 1);
        if (next) {
            memcpy(next, cur, d);
            memcpy(next + d, link, (size_t)n + 1);
        }
        free(cur);
        cur = next;
    }
    if (cur) {
        free(cur);
        errno = ELOOP;
    } else {
        errno = ENOMEM;
    }
    return NULL;
}

/* Special places: /dev/stdout and its kin are written where they lead,
 * never renamed over. */
static int is_special_path(const char *path)
{
    return strncmp(path, "/dev/", 5) == 0 || strncmp(path, "/proc/", 6) == 0;
}

/* A random [A-Za-z0-9]{6}: the temp's name cannot be guessed in advance. */
static void random_suffix(char out[7])
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char r[6];
    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)out;
        for (int i = 0; i < 6; i++, x = x * 6364136223846793005ULL + 1442695040888963407ULL)
            r[i] = (unsigned char)(x >> 56);
    }
    for (int i = 0; i < 6; i++)
        out[i] = abc[r[i] % (sizeof abc - 1)];
    out[6] = '\0';
}

/* Creates "<path>.tmp.XXXXXX" with O_EXCL|O_NOFOLLOW; returns its fd. */
static int create_temp(sw_outfile *o, mode_t mode)
{
    size_t len = strlen(o->path) + 16;
    if (!(o->tmp = malloc(len))) {
        errno = ENOMEM;
        return -1;
    }
    for (int tries = 0; tries < 100; tries++) {
        char sfx[7];
        random_suffix(sfx);
        snprintf(o->tmp, len, "%s.tmp.%s", o->path, sfx);
        int fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

/* Decides where the bytes go: o->path, and whether through a temp
 * (returns 1) or directly (0); -1 with errno on failure. *st_out gets the
 * existing regular target's stat, st_mode 0 when there is none. */
static int choose_target(sw_outfile *o, const char *path, int flags, struct stat *st_out)
{
    struct stat st;
    memset(st_out, 0, sizeof *st_out);
    if (flags & SW_OUT_REPLACE) {
        if (lstat(path, &st) == 0) {
            if (S_ISREG(st.st_mode))
                *st_out = st;
        } else if (errno != ENOENT) {
            return -1;
        }
        return (o->path = str_dup(path)) ? 1 : -1;
    }
    if (is_special_path(path))
        return (o->path = str_dup(path)) ? 0 : -1;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            errno = EISDIR;
            return -1;
        }
        if (!S_ISREG(st.st_mode))
            return (o->path = str_dup(path)) ? 0 : -1;
        *st_out = st;
        return (o->path = realpath(path, NULL)) ? 1 : -1;
    }
    if (errno != ENOENT)
        return -1;
    return (o->path = resolve_new(path)) ? 1 : -1;
}

/* The replaced file's owner and group, where we may (root; or a group we
 * are in); else the new file is ours, as after any editor's save. */
static void keep_owner(int fd, const struct stat *st)
{
    if (st->st_uid == geteuid() && st->st_gid == getegid())
        return;
    if (fchown(fd, st->st_uid, st->st_gid) != 0)
        (void)!fchown(fd, (uid_t)-1, st->st_gid);
}

int sw_out_open(sw_outfile *o, const char *path, mode_t new_mode, int flags, sw_error *err)
{
    memset(o, 0, sizeof *o);
    o->code = flags & SW_OUT_RUN ? SW_ERUN : SW_EINPUT;
    struct stat st;
    errno = 0;
    int via_temp = choose_target(o, path, flags, &st);
    int fd = -1;
    if (via_temp == 1) {
        /* an existing file keeps its mode; the temp is private until then */
        fd = create_temp(o, st.st_mode ? 0600 : new_mode);
        if (fd >= 0 && st.st_mode)
            keep_owner(fd, &st);
        if (fd >= 0 && st.st_mode && fchmod(fd, st.st_mode & 07777) != 0) {
            int e = errno;
            close(fd);
            unlink(o->tmp);
            errno = e;
            fd = -1;
        }
    } else if (via_temp == 0) {
        fd = open(o->path, O_WRONLY | O_CREAT | O_TRUNC | O_NOCTTY | O_CLOEXEC, new_mode);
    }
    if (fd >= 0 && !(o->f = fdopen(fd, "w"))) {
        int e = errno;
        close(fd);
        if (o->tmp)
            unlink(o->tmp);
        errno = e;
        fd = -1;
    }
    if (fd < 0) {
        int e = errno ? errno : EIO;
        free(o->tmp);
        o->tmp = NULL;
        int code = o->code;
        sw_out_abort(o);
        return sw_err(err, code, "%s: cannot write: %s", path, strerror(e));
    }
    return SW_OK;
}

static int fsync_dir_of(const char *path)
{
    size_t d = dir_len(path);
    char *dir = malloc(d + 2);
    if (!dir)
        return -1;
    if (d)
        memcpy(dir, path, d);
    else
        dir[d++] = '.';
    dir[d] = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int sw_out_commit(sw_outfile *o, sw_error *err)
{
    if (!o->f) {
        sw_out_abort(o);
        return sw_err(err, o->code ? o->code : SW_EINPUT, "output file not open");
    }
    const char *step = "cannot write";
    int ok = fflush(o->f) == 0;
    /* devices and FIFOs cannot be synced; a direct write ends at the flush */
    if (ok && o->tmp && fsync(fileno(o->f)) != 0)
        ok = 0;
    int e = errno;
    if (fclose(o->f) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    o->f = NULL;
    if (ok && o->tmp) {
        step = "cannot replace";
        if (rename(o->tmp, o->path) != 0 || fsync_dir_of(o->path) != 0) {
            ok = 0;
            e = errno;
        }
    }
    int code = o->code;
    char *path = o->path;
    o->path = NULL;
    sw_out_abort(o);
    int rc = SW_OK;
    if (!ok)
        rc = sw_err(err, code, "%s: %s: %s", path ? path : "?", step, strerror(e));
    free(path);
    return rc;
}

void sw_out_abort(sw_outfile *o)
{
    if (o->f)
        fclose(o->f);
    if (o->tmp)
        unlink(o->tmp);
    free(o->tmp);
    free(o->path);
    o->f = NULL;
    o->tmp = o->path = NULL;
}

/* The part after "<name>.tmp.": six letters or digits (ours), or a pid of
 * earlier versions. */
static int is_temp_suffix(const char *s)
{
    size_t n = strlen(s), alnum = 0, digits = strspn(s, "0123456789");
    for (size_t i = 0; i < n; i++)
        alnum += (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
                 (s[i] >= '0' && s[i] <= '9');
    return (n == 6 && alnum == 6) || (n > 0 && n <= 10 && digits == n);
}

int sw_out_remove_temps(const char *target)
{
    size_t d = dir_len(target);
    const char *base = target + d;
    size_t blen = strlen(base);
    char *dir = malloc(d + 2);
    if (!dir || !blen) {
        free(dir);
        return 0;
    }
    memcpy(dir, d ? target : ".", d ? d : 1);
    dir[d ? d : 1] = '\0';
    DIR *dh = opendir(dir);
    free(dir);
    if (!dh)
        return 0;
    int removed = 0;
    for (struct dirent *e; (e = readdir(dh));) {
        if (strncmp(e->d_name, base, blen) == 0 && strncmp(e->d_name + blen, ".tmp.", 5) == 0 &&
            is_temp_suffix(e->d_name + blen + 5))
            removed += unlinkat(dirfd(dh), e->d_name, 0) == 0;
    }
    closedir(dh);
    return removed;
}

int sw_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}
