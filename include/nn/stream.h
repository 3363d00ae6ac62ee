/* stream.h: copies of tensors that are read again only much later (in
 * backward), with non-temporal stores: they skip the caches, so they
 * neither read the destination first nor evict the working set. */
#ifndef SWEEP_NN_STREAM_H
#define SWEEP_NN_STREAM_H

#include <stddef.h>

/* A tensor this large is streamed when it is read only in backward. Below
 * it the last-level cache holds it until then, and streaming made the copy
 * slower: on the AMD EPYC of BENCHMARKS.md a 5 MB copy took 0.14 ms
 * streamed against 0.11 ms, a 16 MB one 0.46 against 0.40, while 32 MB
 * took 1.18 against 1.35 and 64 MB 2.8 against 3.2. */
#define STREAM_MIN_TENSOR_BYTES ((size_t)32 << 20)

/* memcpy's result; whole 64-byte lines of dst are streamed, its partial
 * first and last lines stored as usual (another copy may share them).
 * Ends with a store fence: the data is visible to any thread after. */
void stream_copy(void *dst, const void *src, size_t bytes);

#endif
