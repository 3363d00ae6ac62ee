/* checkpoint.c: see checkpoint.h. Layout (the machine's byte order and
 * struct padding, zeroed; checkpoints are not meant to move between
 * machines):
 *   magic "SWCKPT03", key[32], int32 epoch, int32 states, int64 n, int64 t,
 *   int32 es_best_epoch, int32 es_wait, double es_best, int32 has_best,
 *   int64 n_bn,
 *   float params[n], [float s0[n]], [float s1[n]], [float best[n]],
 *   float bn[n_bn], [float best_bn[n_bn]], uint32 crc32 of all before.
 * states: bit 0 the optimizer's s0, bit 1 its s1 (Adam: 3, plain SGD: 0).
 * Versions 01 (no early-stopping state) and 02 (Adam's moments only, no
 * batch norm) are not read: such a run starts over. */
#include "train/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/fsutil.h"

#define MAGIC "SWCKPT03"
#define KEY_BYTES 32

typedef struct {
    char magic[8];
    char key[KEY_BYTES];
    int32_t epoch, states;
    int64_t n, t;
    int32_t es_best_epoch, es_wait;
    double es_best;
    int32_t has_best;
    int64_t n_bn;
} header;

static int write_all(int fd, const void *buf, size_t len, uLong *crc)
{
    const char *p = buf;
    for (size_t done = 0; done < len;) {
        size_t chunk = len - done > (1u << 30) ? (1u << 30) : len - done;
        ssize_t w = write(fd, p + done, chunk);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        *crc = crc32(*crc, (const Bytef *)p + done, (uInt)w);
        done += (size_t)w;
    }
    return 0;
}

/* The header, the tensors and the CRC of all of them, to fd. */
static int write_body(int fd, const char *key, const train_state *st)
{
    header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, MAGIC, 8);
    snprintf(h.key, sizeof h.key, "%s", key);
    h.epoch = st->epoch;
    h.states = (st->opt_s0 != NULL) | (st->opt_s1 != NULL) << 1;
    h.n = st->n;
    h.t = st->t;
    h.es_best_epoch = st->es.best_epoch;
    h.es_wait = st->es.wait;
    h.es_best = st->es.best;
    h.has_best = st->best_params != NULL;
    h.n_bn = st->bn_state ? st->n_bn : 0;
    size_t bytes = sizeof(float) * (size_t)st->n, bn_bytes = sizeof(float) * (size_t)h.n_bn;
    uLong crc = crc32(0, NULL, 0), unused = 0;
    int ok = write_all(fd, &h, sizeof h, &crc) == 0 &&
             write_all(fd, st->params, bytes, &crc) == 0 &&
             (!(h.states & 1) || write_all(fd, st->opt_s0, bytes, &crc) == 0) &&
             (!(h.states & 2) || write_all(fd, st->opt_s1, bytes, &crc) == 0) &&
             (!h.has_best || write_all(fd, st->best_params, bytes, &crc) == 0) &&
             (!h.n_bn || write_all(fd, st->bn_state, bn_bytes, &crc) == 0) &&
             (!h.n_bn || !h.has_best || write_all(fd, st->best_bn, bn_bytes, &crc) == 0);
    uint32_t c32 = (uint32_t)crc;
    return ok && write_all(fd, &c32, sizeof c32, &unused) == 0 ? 0 : -1;
}

int checkpoint_write(const char *path, const char *key, const train_state *st, sw_error *err)
{
    /* our own folder: the name itself is replaced, never followed */
    sw_outfile o;
    if (sw_out_open(&o, path, 0644, SW_OUT_REPLACE | SW_OUT_RUN, err) != SW_OK)
        return err->code;
    if (write_body(fileno(o.f), key, st) != 0) {
        int e = errno;
        sw_out_abort(&o);
        return sw_err(err, SW_ERUN, "%s: cannot write the checkpoint: %s", path, strerror(e));
    }
    return sw_out_commit(&o, err);
}

void train_state_free(train_state *st)
{
    free(st->params);
    free(st->opt_s0);
    free(st->opt_s1);
    free(st->best_params);
    free(st->bn_state);
    free(st->best_bn);
    memset(st, 0, sizeof *st);
}

/* 0; -1 for a short file, -2 out of memory, -3 a value that is not finite
 * (a CRC does not vouch for sense: a diverged or forged state). */
static int read_floats(FILE *f, float **out, long n, uLong *crc)
{
    *out = malloc(sizeof(float) * (size_t)n);
    if (!*out)
        return -2;
    if (fread(*out, sizeof(float), (size_t)n, f) != (size_t)n)
        return -1;
    *crc = crc32(*crc, (const Bytef *)*out, (uInt)(sizeof(float) * (size_t)n));
    for (long i = 0; i < n; i++)
        if (!isfinite((*out)[i]))
            return -3;
    return 0;
}

/* Opens path for reading without following a link, and only if it is a
 * regular file (a FIFO would block, a device would be read). NULL with
 * *why set, or *why "" when there is no file. */
static FILE *open_plain(const char *path, const char **why)
{
    *why = "";
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ELOOP)
            *why = "it is a symbolic link, not a plain file";
        else if (errno != ENOENT)
            *why = strerror(errno);
        return NULL;
    }
    struct stat st;
    FILE *f = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        *why = "it is not a plain file";
    else if (!(f = fdopen(fd, "rb")))
        *why = strerror(errno);
    if (!f)
        close(fd);
    return f;
}

/* The header's own checks: "" when it may be read on, else the reason. */
static const char *check_header(const header *h, const char *key, long n_params, int states)
{
    if (memcmp(h->magic, MAGIC, 8) != 0)
        return "not a checkpoint of this version";
    if (strncmp(h->key, key, KEY_BYTES) != 0)
        return "it belongs to another run";
    if (h->n <= 0 || h->n >= (1L << 31) || (n_params > 0 && h->n != n_params))
        return "its parameter count does not fit the model";
    if (h->states != states)
        return "its optimizer state does not fit the optimizer";
    if (h->n_bn < 0 || h->n_bn > h->n)
        return "its batch norm state does not fit the model";
    if (h->epoch <= 0 || h->t < 0 || h->es_best_epoch < 0 || h->es_best_epoch > h->epoch ||
        h->es_wait < 0 || (h->has_best != 0 && h->has_best != 1) || isinf(h->es_best))
        return "its header is damaged";
    return "";
}

/* The tensors after the header, then the CRC and the end of the file. */
static const char *read_tensors(FILE *f, const header *h, train_state *st, uLong crc, int *oom)
{
    uint32_t stored;
    int r = read_floats(f, &st->params, st->n, &crc);
    if (r == 0 && (h->states & 1))
        r = read_floats(f, &st->opt_s0, st->n, &crc);
    if (r == 0 && (h->states & 2))
        r = read_floats(f, &st->opt_s1, st->n, &crc);
    if (r == 0 && h->has_best)
        r = read_floats(f, &st->best_params, st->n, &crc);
    if (r == 0 && st->n_bn)
        r = read_floats(f, &st->bn_state, st->n_bn, &crc);
    if (r == 0 && st->n_bn && h->has_best)
        r = read_floats(f, &st->best_bn, st->n_bn, &crc);
    *oom = r == -2;
    if (r == -1)
        return "it is truncated";
    if (r == -2)
        return "out of memory";
    if (r == -3)
        return "it holds weights that are NaN or infinite";
    if (fread(&stored, sizeof stored, 1, f) != 1)
        return "it is truncated";
    if (stored != (uint32_t)crc)
        return "it is damaged (its checksum does not match)";
    if (fgetc(f) != EOF)
        return "it has bytes after its end";
    return "";
}

int checkpoint_load(const char *path, const char *key, long n_params, int states,
                    train_state *st, int *found, char *why, size_t why_size, sw_error *err)
{
    memset(st, 0, sizeof *st);
    *found = 0;
    const char *reason;
    FILE *f = open_plain(path, &reason);
    if (f) {
        header h;
        uLong crc = crc32(0, NULL, 0);
        int oom = 0;
        reason = fread(&h, sizeof h, 1, f) != 1 ? "it is truncated"
                                                : check_header(&h, key, n_params, states);
        if (!*reason) {
            crc = crc32(crc, (const Bytef *)&h, sizeof h);
            st->epoch = h.epoch;
            st->n = (long)h.n;
            st->t = (long)h.t;
            st->es.best_epoch = h.es_best_epoch;
            st->es.wait = h.es_wait;
            st->es.best = h.es_best;
            st->n_bn = (long)h.n_bn;
            reason = read_tensors(f, &h, st, crc, &oom);
        }
        fclose(f);
        if (oom) {
            train_state_free(st);
            return sw_oom(err, path);
        }
    }
    if (why && why_size)
        snprintf(why, why_size, "%s", reason);
    if (*reason || !f) {
        train_state_free(st);
        return SW_OK;
    }
    *found = 1;
    return SW_OK;
}

int checkpoint_read(const char *path, const char *key, long n_params, int states,
                    train_state *st, int *found, sw_error *err)
{
    return checkpoint_load(path, key, n_params, states, st, found, NULL, 0, err);
}

int checkpoint_dir_check(const char *dir, sw_error *err)
{
    struct stat st;
    if (lstat(dir, &st) != 0)
        return sw_err(err, SW_EINPUT, "%s: checkpoint folder: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return sw_err(err, SW_EINPUT, "%s: the checkpoint folder is %s, not a folder; move it "
                      "away", dir, S_ISLNK(st.st_mode) ? "a symbolic link" : "a file");
    if (st.st_uid != geteuid())
        return sw_err(err, SW_EINPUT, "%s: the checkpoint folder belongs to another user "
                      "(uid %ld); move it away", dir, (long)st.st_uid);
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return sw_err(err, SW_EINPUT, "%s: others may write in the checkpoint folder (mode "
                      "%04o); chmod go-w it", dir, (unsigned)(st.st_mode & 07777));
    return SW_OK;
}
