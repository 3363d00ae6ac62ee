/* error.h: errors travel as values; only main prints them and exits. */
#ifndef SWEEP_ERROR_H
#define SWEEP_ERROR_H

/* Error codes, each the exit status main gives it. */
enum {
    SW_OK = 0,
    SW_ERUN = 1,     /* a run failed or diverged; also out of memory */
    SW_EINPUT = 2,   /* usage, config, data file or database error */
    SW_EINTR = 130,  /* interrupted by SIGINT, SIGTERM or SIGHUP */
};

typedef struct {
    int code;        /* SW_OK when no error */
    char msg[1024];  /* one line, no trailing newline, names the place */
} sw_error;

/* Records the first error only; later calls keep it. Returns code. */
int sw_err(sw_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Out of memory while doing what ("loading the dataset"): SW_ERUN, since
 * nothing in the input is wrong; the same settings may run on a larger
 * machine or with fewer jobs. Returns SW_ERUN. */
int sw_oom(sw_error *err, const char *what);

#endif
