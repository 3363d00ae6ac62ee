/* stream.c: non-temporal copies (include/nn/stream.h). */
#include "nn/stream.h"

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

enum { STREAM_MIN = 1024 };   /* shorter copies gain nothing */

__attribute__((target("avx512f"))) static void stream_copy_v4(char *d, const char *s, size_t n)
{
    size_t head = (size_t)(-(uintptr_t)d & 63);
    memcpy(d, s, head);
    d += head, s += head, n -= head;
    for (; n >= 64; n -= 64, d += 64, s += 64)
        _mm512_stream_si512((__m512i *)d, _mm512_loadu_si512(s));
    memcpy(d, s, n);
    _mm_sfence();
}
#endif

void stream_copy(void *dst, const void *src, size_t bytes)
{
#if defined(__x86_64__) || defined(__i386__)
    if (bytes >= STREAM_MIN && __builtin_cpu_supports("avx512f")) {
        stream_copy_v4(dst, src, bytes);
        return;
    }
#endif
    memcpy(dst, src, bytes);
}
