/* data_internal.h: what the files of src/data share and nobody else needs. */
#ifndef SWEEP_DATA_INTERNAL_H
#define SWEEP_DATA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "data/dataset.h"

/* Longest path built from a dataset folder and a file name. */
enum { DATA_PATH_MAX = 4096 + 64 };

/* One file's limit, for IDX and CIFAR alike. */
#define DATA_MAX_BYTES ((uint64_t)1 << 31)

/* Opens path for reading without ever blocking on it: non-blocking first,
 * so a FIFO or device cannot hang the open, then refused unless fstat says
 * it is a regular file; then back to blocking reads. Returns the descriptor
 * (st filled) or -1 with err naming the path. */
int data_open_regular(const char *path, struct stat *st, sw_error *err);

/* read(2) until n bytes or end of file; returns the count, or -1 with err
 * set (naming path). */
long data_read_full(int fd, void *buf, size_t n, const char *path, sw_error *err);

/* Whether path exists (stat succeeds, any file type). */
int data_exists(const char *path);

/* The identity hash, fixed forever (stored results refer to it): bytes as
 * little-endian 64-bit words in four lanes, h = rotl(h ^ w, 29) * M, the
 * tail padded with zeros, the length and lanes folded through splitmix64's
 * finaliser. Byte-order independent. */
uint64_t data_hash(const uint8_t *p, size_t n, uint64_t seed);
/* data_hash of the values as little-endian u64s, in order. */
uint64_t data_hash_u64s(const uint64_t *v, int n, uint64_t seed);

/* The format readers, called by dataset_load with d zeroed and d->dir set;
 * on failure they free what they allocated (dataset_load zeroes *d). */
int idx_load(dataset *d, sw_error *err);
int cifar_load(dataset *d, dataset_format fmt, cifar_label label, sw_error *err);
/* Whether dir holds a file of the format (used by DATA_AUTO). */
int idx_present(const char *dir);
int cifar_present(const char *dir, dataset_format fmt);

/* Reads an optional names file: n non-empty lines, printable UTF-8, each
 * under 64 bytes, blank lines allowed only at the end. A missing file gives
 * *names = NULL and SW_OK; *names is one malloc block (pointers, then text). */
int data_read_names(const char *path, int n, char ***names, sw_error *err);

#endif
