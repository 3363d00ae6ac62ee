/* fsutil.h: folders and files written for the user, never half-written.
 * Errors name the path and give strerror; their code is SW_EINPUT (the
 * user named a place that cannot be written) unless SW_OUT_RUN says
 * SW_ERUN. */
#ifndef SWEEP_FSUTIL_H
#define SWEEP_FSUTIL_H

#include <stdio.h>
#include <sys/types.h>

#include "base/error.h"

/* mkdir -p: makes dir and its missing parents (mode 0777 less the umask).
 * An existing folder is fine; an existing non-folder is an error. */
int sw_mkdir_p(const char *dir, sw_error *err);

/* The same for the folder that holds path ("a/b/c.db" makes "a/b"). */
int sw_mkdir_parent(const char *path, sw_error *err);

enum {
    /* Replace the path itself: a link or special file there is replaced,
     * not followed or written into (for files in our own folders). */
    SW_OUT_REPLACE = 1,
    /* Failures are SW_ERUN instead of SW_EINPUT. */
    SW_OUT_RUN = 2,
};

/* An output file being written. */
typedef struct {
    FILE *f;          /* write here */
    char *path;       /* the file that commit replaces (links resolved) */
    char *tmp;        /* the temp beside it; NULL when writing directly */
    int code;         /* the error code of failures */
} sw_outfile;

/* Starts writing path. A regular file (new or existing) is written to a
 * temp file with an unpredictable name in the same folder, created with
 * O_EXCL|O_NOFOLLOW, holding the existing file's mode and, where we may,
 * its owner and group (a new file gets new_mode less the umask: 0666 for
 * data, 0777 for scripts); commit renames it over path. Unless SW_OUT_REPLACE: a symlink is followed to
 * its target, which is replaced in its own folder (the link stays), and
 * an existing non-regular file (FIFO, device, /dev/stdout) or anything
 * under /dev or /proc is opened and written directly, with no temp.
 * On failure nothing is left behind and o->f is NULL.
 * A child program that writes the file itself (gnuplot's `set output`) is
 * given o->tmp, or o->path when tmp is NULL; commit then syncs and renames
 * what it wrote. */
int sw_out_open(sw_outfile *o, const char *path, mode_t new_mode, int flags,
                sw_error *err);

/* Flushes, fsyncs and closes the file, renames the temp over the target
 * and fsyncs the folder. On failure the temp is removed and the target is
 * as it was. Always releases o. */
int sw_out_commit(sw_outfile *o, sw_error *err);

/* Closes and removes the temp; the target is untouched. Safe on a zeroed
 * or already released o. */
void sw_out_abort(sw_outfile *o);

/* Removes temps that sw_out_open left for target (a process killed while
 * writing): the names "<target's name>.tmp.XXXXXX" in its folder, matched
 * exactly by listing the folder (target is never a pattern). Also removes
 * "<name>.tmp.<pid>" of earlier versions. Returns how many were removed. */
int sw_out_remove_temps(const char *target);

/* 1 when both paths name the same file (device and inode, following
 * links), 0 otherwise or when either does not exist. For refusing an
 * output that is the database or its -wal/-shm. */
int sw_same_file(const char *a, const char *b);

#endif
