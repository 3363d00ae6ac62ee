/* spawn.h: running a helper program (gnuplot, sbatch) and waiting for it. */
#ifndef SWEEP_SPAWN_H
#define SWEEP_SPAWN_H

#include <stddef.h>

#include "base/error.h"

typedef struct {
    const char *in;      /* the child's stdin; NULL: /dev/null */
    size_t in_len;       /* bytes of in; 0 with in set: strlen(in) */
    char *out;           /* the child's stdout, NUL-terminated, cut to  */
    size_t out_size;     /* out_size - 1 bytes (the rest is read and dropped); */
                         /* out NULL: our stdout */
    int quiet_out;       /* with out NULL: the child's stdout to /dev/null */
    const char *err_file;/* the child's stderr to this file (made 0600); NULL: ours */
} sw_spawn_io;

/* Runs argv[0] (looked up in PATH when it has no slash) with argv, io as
 * given (NULL: inherit everything), and waits for it. *status (when not
 * NULL) gets its exit status: N for exit N, 128 + the signal that killed
 * it, 127 when it could not be started. Returns SW_OK for exit 0, else
 * SW_EINPUT with "NAME: not found", "NAME: killed by signal N" or
 * "NAME: exit N" (NAME is argv[0]). */
int sw_spawn(char *const argv[], const sw_spawn_io *io, int *status, sw_error *err);

#endif
