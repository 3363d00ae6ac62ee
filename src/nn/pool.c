/* pool.c: 2x2 max pooling, stride 2, floor. Parallel over fixed groups of
 * planes; each output and each input gradient is written by the thread
 * owning its plane group.
 *
 * Rows are short (26 inputs after conv1), too short for gcc's vectoriser,
 * and the tensors are too big for cache, so the loops are written with
 * GCC vector extensions: 32 inputs of a row pair give 16 outputs. A vector
 * may run past the end of a row into the next one (still inside the
 * group: the "room" tests); those lanes are garbage that the next row
 * overwrites, or are masked to zero where they would land in a real
 * element. Near the end of a group the plain loop takes over. */
#include "nn/pool.h"

#include <math.h>
#include <stddef.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

enum { PLANES_PER_TASK = 16 };   /* fixed work units, not per thread */

typedef float v16f __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4), may_alias));
typedef int v16i __attribute__((vector_size(64)));
typedef uint8_t v16b __attribute__((vector_size(16)));
typedef uint8_t v16bu __attribute__((vector_size(16), aligned(1), may_alias));

static const v16i EVEN = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
static const v16i ODD = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};
static const v16i LO = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23};
static const v16i HI = {8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};

/* m ? a : b lane by lane, m from a comparison (-1 or 0). A statement
 * expression, not a function (a v16f return is an ABI warning in the
 * baseline build) and not a plain macro (gcc 12 then scalarises the
 * loop); do not nest it (-Wshadow). */
#define select(m, a, b)                                                      \
    ({                                                                       \
        v16i m_ = (m);                                                       \
        v16f a_ = (a), b_ = (b);                                             \
        (v16f)((m_ & (v16i)a_) | (~m_ & (v16i)b_));                          \
    })

/* The max of one 2x2 window and which input won (0..3 row-major, the first
 * on ties: each pair keeps its first, the second pair must beat the first).
 * Branch-free: a data-dependent branch mispredicts half the time. */
static inline __attribute__((always_inline)) float
max4(float v0, float v1, float v2, float v3, uint8_t *k)
{
    int g01 = v1 > v0, g23 = v3 > v2;
    float m01 = g01 ? v1 : v0, m23 = g23 ? v3 : v2;
    int g = m23 > m01;
    *k = (uint8_t)(g ? 2 + g23 : g01);
    return g ? m23 : m01;
}

/* The min of one 2x2 window and which input it is, as max4. */
static inline __attribute__((always_inline)) float
min4(float v0, float v1, float v2, float v3, uint8_t *k)
{
    int l01 = v1 < v0, l23 = v3 < v2;
    float m01 = l01 ? v1 : v0, m23 = l23 ? v3 : v2;
    int l = m23 < m01;
    *k = (uint8_t)(l ? 2 + l23 : l01);
    return l ? m23 : m01;
}

/* An argmax byte of ends4: bits 0-1 the winner; UNSETTLED when f at the
 * window's min may beat f at its max, which it took, and then the min's
 * position in bits MIN_SHIFT.. (settle_windows decides and clears both). */
enum { UNSETTLED = 4, MIN_SHIFT = 3, WINNER_BITS = 3 };

/* The mirror bin of a max in (turn, settle) (act_pool_rule). */
static inline __attribute__((always_inline)) int mirror_bin(float mx, act_pool_rule r)
{
    int j = (int)((mx - r.turn) * r.scale);
    return j < ACT_MIRROR_BINS - 1 ? j : ACT_MIRROR_BINS - 1;
}

/* A window's winner under a pool rule (act_pool_rule): its min where the
 * max is at most turn, else its max; where the max lies in (turn, settle)
 * and the min below turn, the min when the mirror says f is larger there,
 * and when it cannot tell, the max flagged UNSETTLED. *mn gets the min. */
static inline __attribute__((always_inline)) float
ends4(float v0, float v1, float v2, float v3, act_pool_rule r, uint8_t *k, float *mn)
{
    uint8_t kmin;
    float mx = max4(v0, v1, v2, v3, k);
    *mn = min4(v0, v1, v2, v3, &kmin);
    int take_min = mx <= r.turn, open = !take_min && mx < r.settle && *mn < r.turn;
    if (open && r.mirror) {
        int j = mirror_bin(mx, r);
        take_min = *mn < r.mirror[j];
        open = !take_min && !(*mn > r.mirror[ACT_MIRROR_BINS + j]);
    }
    if (take_min) {
        *k = kmin;
        return *mn;
    }
    if (open)
        *k = (uint8_t)(*k | UNSETTLED | kmin << MIN_SHIFT);
    return mx;
}

/* nv vectors of 16 outputs of one row from input rows r0, r1. */
static inline __attribute__((always_inline)) void
pool_row_body(float *restrict o, float *restrict m, uint8_t *restrict a, const float *restrict r0,
              const float *restrict r1, int nv, act_pool_rule r)
{
    (void)r;
    (void)m;
    for (int x = 0; x < 16 * nv; x += 16) {
        v16f p0 = *(const v16u *)(r0 + 2 * x), p1 = *(const v16u *)(r0 + 2 * x + 16);
        v16f q0 = *(const v16u *)(r1 + 2 * x), q1 = *(const v16u *)(r1 + 2 * x + 16);
        v16f v0 = __builtin_shuffle(p0, p1, EVEN), v1 = __builtin_shuffle(p0, p1, ODD);
        v16f v2 = __builtin_shuffle(q0, q1, EVEN), v3 = __builtin_shuffle(q0, q1, ODD);
        v16i g01 = v1 > v0, g23 = v3 > v2;
        v16f m01 = select(g01, v1, v0), m23 = select(g23, v3, v2);
        v16i g = m23 > m01;
        /* k = g ? 2 + g23 : g01, from selects only: gcc 12 turns the
         * loop into scalar code if a mask enters arithmetic */
        const v16i i0 = {0}, i1 = i0 + 1, i2 = i0 + 2, i3 = i0 + 3;
        v16f k23 = select(g23, (v16f)i3, (v16f)i2);
        v16f k01 = select(g01, (v16f)i1, (v16f)i0);
        v16i k = (v16i)select(g, k23, k01);
        *(v16u *)(o + x) = select(g, m23, m01);
        *(v16bu *)(a + x) = __builtin_convertvector(k, v16b);
    }
}

typedef void row_fn(float *o, float *m, uint8_t *a, const float *r0, const float *r1, int nv,
                    act_pool_rule r);

/* mins NULL: the winners of max4; else those of ends4 under r, with the
 * mins in mins. */
static inline __attribute__((always_inline)) void
pool_body(float *restrict out, float *restrict mins, uint8_t *restrict argmax,
          const float *restrict in, long np, int H, int W, row_fn *row, act_pool_rule r)
{
    const int vec = row != NULL;
    const int OH = H / 2, OW = W / 2;
    const float *in_end = in + np * H * W;
    const float *out_end = out + np * OH * OW;
    for (long pl = 0; pl < np; pl++)
        for (int y = 0; y < OH; y++) {
            const float *r0 = in + (pl * H + 2 * y) * W, *r1 = r0 + W;
            float *o = out + (pl * OH + y) * OW;
            float *m = mins ? mins + (pl * OH + y) * OW : NULL;
            uint8_t *a = argmax + (pl * OH + y) * OW;
            int x = 0;
            if (vec) {
                /* whole vectors while they stay inside the group */
                int nv = 0;
                while (nv * 16 < OW && r1 + 2 * nv * 16 + 32 <= in_end &&
                       o + nv * 16 + 16 <= out_end)
                    nv++;
                row(o, m, a, r0, r1, nv, r);
                x = nv * 16 < OW ? nv * 16 : OW;
            }
            for (; x < OW; x++)
                o[x] = m ? ends4(r0[2 * x], r0[2 * x + 1], r1[2 * x], r1[2 * x + 1], r, &a[x],
                                 &m[x])
                         : max4(r0[2 * x], r0[2 * x + 1], r1[2 * x], r1[2 * x + 1], &a[x]);
        }
}

/* 16 argmax bytes as ints. gcc 12 lowers the generic conversion to 16
 * scalar loads and inserts even for AVX-512 (a third of the unpooling's
 * time); the v4 build passes one instruction instead. */
typedef void widen_fn(v16i *k, const uint8_t *a);

static inline __attribute__((always_inline)) void widen_generic(v16i *k, const uint8_t *a)
{
    *k = __builtin_convertvector(*(const v16bu *)a, v16i);
}

static inline __attribute__((always_inline)) void
unpool_body(float *restrict din, const float *restrict dout,
            const uint8_t *restrict argmax, long np, int H, int W, int vec, widen_fn *widen)
{
    const int OH = H / 2, OW = W / 2;
    const float *dout_end = dout + np * OH * OW;
    const float *din_end = din + np * H * W;
    for (long pl = 0; pl < np; pl++) {
        float *plane = din + pl * H * W;
        for (int y = 0; y < OH; y++) {
            float *r0 = plane + 2 * y * W, *r1 = r0 + W;
            const float *g = dout + (pl * OH + y) * OW;
            const uint8_t *a = argmax + (pl * OH + y) * OW;
            /* vectors of 16 outputs while they stay inside the group;
             * all of row 2y first, whose spill into row 2y+1 the row 2y+1
             * pass then rewrites (row 2y+1 spills into later rows) */
            int xv = 0;
            while (vec && xv < OW && g + xv + 16 <= dout_end && r1 + 2 * xv + 32 <= din_end)
                xv += 16;
            for (int half = 0; half < 2; half++) {
                float *r = half ? r1 : r0;
                for (int x = 0; x < xv; x += 16) {
                    /* lanes past the row are zeroed: with an odd W the
                     * first of them lands on the real (dropped) last column */
                    v16i lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
                    v16i valid = lane < OW - x;
                    v16f gv = (v16f)((v16i) * (const v16u *)(g + x) & valid);
                    v16i k;
                    widen(&k, a + x);
                    v16f z = {0};
                    v16f e0 = select(k == 2 * half, gv, z);
                    v16f e1 = select(k == 2 * half + 1, gv, z);
                    *(v16u *)(r + 2 * x) = __builtin_shuffle(e0, e1, LO);
                    *(v16u *)(r + 2 * x + 16) = __builtin_shuffle(e0, e1, HI);
                }
            }
            int x = xv > OW ? OW : xv;
            for (; x < OW; x++) {
                r0[2 * x] = a[x] == 0 ? g[x] : 0.0f;
                r0[2 * x + 1] = a[x] == 1 ? g[x] : 0.0f;
                r1[2 * x] = a[x] == 2 ? g[x] : 0.0f;
                r1[2 * x + 1] = a[x] == 3 ? g[x] : 0.0f;
            }
            if (W % 2) {   /* the dropped last column */
                r0[W - 1] = 0;
                r1[W - 1] = 0;
            }
        }
        for (int y = 2 * OH; y < H; y++)   /* the dropped last row */
            memset(plane + y * W, 0, (size_t)W * sizeof(float));
    }
}

/* The vector code is compiled per instruction set in plain target
 * functions: inside target_clones, gcc 12 lowers some generic vector
 * operations (the int-to-byte conversion here) with the baseline ISA and
 * turns the whole loop into scalar code. */
#if defined(__x86_64__) || defined(__i386__)
static inline __attribute__((always_inline)) void
pool_row_v4(float *o, float *m, uint8_t *a, const float *r0, const float *r1, int nv,
            act_pool_rule r)
{
    pool_row_body(o, m, a, r0, r1, nv, r);
}

__attribute__((target("arch=x86-64-v4"))) static void
pool_v4(float *out, uint8_t *argmax, const float *in, long np, int H, int W)
{
    pool_body(out, NULL, argmax, in, np, H, W, pool_row_v4, (act_pool_rule){0, 0, NULL, 0});
}

/* The winner of 16 windows v0..v3 under the comparison BEATS (_CMP_GT_OQ:
 * max4's, _CMP_LT_OQ: min4's, the first on ties) into best, its position
 * into k; a macro because the comparison must be an immediate. */
#define PICK4_V4(BEATS, v0, v1, v2, v3, best, k)                             \
    do {                                                                     \
        __mmask16 c01_ = _mm512_cmp_ps_mask(v1, v0, BEATS);                  \
        __mmask16 c23_ = _mm512_cmp_ps_mask(v3, v2, BEATS);                  \
        __m512 b01_ = _mm512_mask_blend_ps(c01_, v0, v1);                    \
        __m512 b23_ = _mm512_mask_blend_ps(c23_, v2, v3);                    \
        __mmask16 c_ = _mm512_cmp_ps_mask(b23_, b01_, BEATS);                \
        best = _mm512_mask_blend_ps(c_, b01_, b23_);                         \
        k = _mm512_mask_blend_epi32(c_, _mm512_maskz_mov_epi32(c01_, k1),    \
                                    _mm512_mask_blend_epi32(c23_, k2, k3));  \
    } while (0)

/* The constants of a pool rule as vectors, for ends16_v4. */
typedef struct {
    __m512 turn, settle, scale, lo0, lo1, hi0, hi1;
    const float *mirror;
} ends_consts;

static inline __attribute__((always_inline, target("arch=x86-64-v4"))) ends_consts
ends_consts_v4(act_pool_rule r)
{
    ends_consts c = {_mm512_set1_ps(r.turn), _mm512_set1_ps(r.settle), _mm512_set1_ps(r.scale),
                     _mm512_set1_ps(r.turn), _mm512_set1_ps(r.turn), _mm512_set1_ps(r.turn),
                     _mm512_set1_ps(r.turn), r.mirror};
    if (r.mirror) {
        c.lo0 = _mm512_loadu_ps(r.mirror), c.lo1 = _mm512_loadu_ps(r.mirror + 16);
        c.hi0 = _mm512_loadu_ps(r.mirror + 32), c.hi1 = _mm512_loadu_ps(r.mirror + 48);
    }
    return c;
}

/* ends4 on 16 windows whose inputs are v0..v3: the winners into *out, the
 * mins into *mins, the argmax bytes (as ints) into *k. */
static inline __attribute__((always_inline, target("arch=x86-64-v4"))) void
ends16_v4(__m512 v0, __m512 v1, __m512 v2, __m512 v3, const ends_consts *c, __m512 *out,
          __m512 *mins, __m512i *k)
{
    const __m512i k1 = _mm512_set1_epi32(1), k2 = _mm512_set1_epi32(2);
    const __m512i k3 = _mm512_set1_epi32(3), flag = _mm512_set1_epi32(UNSETTLED);
    const __m512i last = _mm512_set1_epi32(ACT_MIRROR_BINS - 1);
    __m512 mx, mn;
    __m512i kmax, kmin;
    PICK4_V4(_CMP_GT_OQ, v0, v1, v2, v3, mx, kmax);   /* as max4 */
    PICK4_V4(_CMP_LT_OQ, v0, v1, v2, v3, mn, kmin);   /* as min4 */
    __mmask16 low = _mm512_cmp_ps_mask(mx, c->turn, _CMP_LE_OQ);
    __mmask16 open = _mm512_cmp_ps_mask(mx, c->settle, _CMP_LT_OQ) &
                     _mm512_cmp_ps_mask(mn, c->turn, _CMP_LT_OQ) & ~low;
    if (c->mirror) {   /* loop-invariant: no branch per vector */
        __m512i j = _mm512_cvttps_epi32(_mm512_mul_ps(_mm512_sub_ps(mx, c->turn), c->scale));
        j = _mm512_min_epi32(j, last);
        __m512 below = _mm512_permutex2var_ps(c->lo0, j, c->lo1);
        __m512 above = _mm512_permutex2var_ps(c->hi0, j, c->hi1);
        __mmask16 take = open & _mm512_cmp_ps_mask(mn, below, _CMP_LT_OQ);
        low |= take;
        open &= ~take & ~_mm512_cmp_ps_mask(mn, above, _CMP_GT_OQ);
    }
    __m512i kopen = _mm512_or_epi32(_mm512_or_epi32(kmax, flag),
                                    _mm512_slli_epi32(kmin, MIN_SHIFT));
    kmax = _mm512_mask_blend_epi32(open, kmax, kopen);
    *out = _mm512_mask_blend_ps(low, mx, mn);
    *mins = mn;
    *k = _mm512_mask_blend_epi32(low, kmax, kmin);
}

/* ends4 on 16 windows at a time. In intrinsics: gcc 12 scalarises the
 * generic vector code's comparisons once their masks feed several selects. */
static inline __attribute__((always_inline, target("arch=x86-64-v4"))) void
ends_row_v4(float *o, float *m, uint8_t *a, const float *r0, const float *r1, int nv,
            act_pool_rule r)
{
    const __m512i even = (__m512i)EVEN, odd = (__m512i)ODD;
    const ends_consts c = ends_consts_v4(r);
    for (int x = 0; x < 16 * nv; x += 16) {
        __m512 p0 = _mm512_loadu_ps(r0 + 2 * x), p1 = _mm512_loadu_ps(r0 + 2 * x + 16);
        __m512 q0 = _mm512_loadu_ps(r1 + 2 * x), q1 = _mm512_loadu_ps(r1 + 2 * x + 16);
        __m512 v0 = _mm512_permutex2var_ps(p0, even, p1), v1 = _mm512_permutex2var_ps(p0, odd, p1);
        __m512 v2 = _mm512_permutex2var_ps(q0, even, q1), v3 = _mm512_permutex2var_ps(q0, odd, q1);
        __m512 win, mn;
        __m512i k;
        ends16_v4(v0, v1, v2, v3, &c, &win, &mn, &k);
        _mm512_storeu_ps(o + x, win);
        _mm512_storeu_ps(m + x, mn);
        _mm_storeu_si128((__m128i *)(a + x), _mm512_cvtepi32_epi8(k));
    }
}

/* Short rows (at most SHORT_ROW outputs, conv2's 5 after a 13x13 input):
 * a vector of 16 consecutive outputs spans several rows and planes, so
 * that its lanes are all used (a vector a row did 5/16 of the work for
 * the same cost). Each row's part (a segment) fills its lanes of v0..v3
 * from one load per input row: 2 * SHORT_ROW inputs fit one vector. The
 * loads are masked only near the end of the planes (a masked load cost
 * several plain ones here); the last vector's missing lanes are masked. */
enum { SHORT_ROW = 8 };

typedef struct {
    long plane;
    int y, x;
} window_at;

/* The inputs of the (at most) 16 windows from *w on into v0..v3, *w moved
 * past them; returns the lanes filled. */
static inline __attribute__((always_inline, target("arch=x86-64-v4"))) int
gather16_v4(__m512 v[4], const float *in, long np, int H, int W, window_at *w)
{
    const int OH = H / 2, OW = W / 2;
    const __m512i even = (__m512i)EVEN, odd = (__m512i)ODD;
    const float *end = in + np * H * W;
    int l = 0;
    v[0] = v[1] = v[2] = v[3] = _mm512_setzero_ps();
    while (l < 16 && w->plane < np) {
        const int len = OW - w->x < 16 - l ? OW - w->x : 16 - l;
        const float *r0 = in + (w->plane * H + 2 * w->y) * W + 2 * w->x;
        const __mmask16 lanes = (__mmask16)(((1u << len) - 1) << l);
        const __mmask16 loads = (__mmask16)((1u << 2 * len) - 1);
        const __m512i shift = _mm512_set1_epi32(2 * l);
        const __m512i ie = _mm512_sub_epi32(even, shift), io = _mm512_sub_epi32(odd, shift);
        const int whole = r0 + W + 16 <= end;
        const __m512 p = whole ? _mm512_loadu_ps(r0) : _mm512_maskz_loadu_ps(loads, r0);
        const __m512 q = whole ? _mm512_loadu_ps(r0 + W) : _mm512_maskz_loadu_ps(loads, r0 + W);
        v[0] = _mm512_mask_permutexvar_ps(v[0], lanes, ie, p);
        v[1] = _mm512_mask_permutexvar_ps(v[1], lanes, io, p);
        v[2] = _mm512_mask_permutexvar_ps(v[2], lanes, ie, q);
        v[3] = _mm512_mask_permutexvar_ps(v[3], lanes, io, q);
        l += len;
        if ((w->x += len) == OW) {
            w->x = 0;
            if (++w->y == OH)
                w->y = 0, w->plane++;
        }
    }
    return l;
}

/* mins NULL: max4's winners of np planes with short rows; else ends4's
 * under r, with the mins in mins. */
static inline __attribute__((always_inline, target("arch=x86-64-v4"))) void
short_rows_v4(float *out, float *mins, uint8_t *argmax, const float *in, long np, int H, int W,
              act_pool_rule r)
{
    const __m512i k1 = _mm512_set1_epi32(1), k2 = _mm512_set1_epi32(2);
    const __m512i k3 = _mm512_set1_epi32(3);
    const ends_consts c = ends_consts_v4(r);
    const long n = np * (H / 2) * (W / 2);
    window_at w = {0, 0, 0};
    for (long i = 0; i < n; i += 16) {
        __m512 v[4], win, mn = _mm512_setzero_ps();
        __m512i k;
        const int l = gather16_v4(v, in, np, H, W, &w);
        const __mmask16 lanes = (__mmask16)((1u << l) - 1);
        if (mins)
            ends16_v4(v[0], v[1], v[2], v[3], &c, &win, &mn, &k);
        else
            PICK4_V4(_CMP_GT_OQ, v[0], v[1], v[2], v[3], win, k);
        _mm512_mask_storeu_ps(out + i, lanes, win);
        if (mins)
            _mm512_mask_storeu_ps(mins + i, lanes, mn);
        _mm_mask_storeu_epi8(argmax + i, lanes, _mm512_cvtepi32_epi8(k));
    }
}

__attribute__((target("arch=x86-64-v4"))) static void
ends_v4(float *out, float *mins, uint8_t *argmax, const float *in, long np, int H, int W,
        act_pool_rule r)
{
    if (W / 2 <= SHORT_ROW)
        return short_rows_v4(out, mins, argmax, in, np, H, W, r);
    pool_body(out, mins, argmax, in, np, H, W, ends_row_v4, r);
}

__attribute__((target("arch=x86-64-v4"))) static void
short_pool_v4(float *out, uint8_t *argmax, const float *in, long np, int H, int W)
{
    short_rows_v4(out, NULL, argmax, in, np, H, W, (act_pool_rule){0, 0, NULL, 0});
}

static inline __attribute__((always_inline, target("arch=x86-64-v4"))) void
widen_v4(v16i *k, const uint8_t *a)
{
    *k = (v16i)_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)a));
}

__attribute__((target("arch=x86-64-v4"))) static void
unpool_v4(float *din, const float *dout, const uint8_t *argmax, long np, int H, int W)
{
    unpool_body(din, dout, argmax, np, H, W, 1, widen_v4);
}
__attribute__((target("arch=x86-64-v3"))) static void
unpool_v3(float *din, const float *dout, const uint8_t *argmax, long np, int H, int W)
{
    unpool_body(din, dout, argmax, np, H, W, 1, widen_generic);
}
#endif

static void pool_planes(float *out, uint8_t *argmax, const float *in, long np,
                        int H, int W)
{
#if defined(__x86_64__) || defined(__i386__)
    /* (AVX2 has no byte narrowing: the plain loop does as well there) */
    if (__builtin_cpu_supports("x86-64-v4"))
        return W / 2 <= SHORT_ROW ? short_pool_v4(out, argmax, in, np, H, W)
                                  : pool_v4(out, argmax, in, np, H, W);
#endif
    pool_body(out, NULL, argmax, in, np, H, W, NULL, (act_pool_rule){0, 0, NULL, 0});
}

static void ends_planes(float *out, float *mins, uint8_t *argmax, const float *in, long np,
                        int H, int W, act_pool_rule r)
{
#if defined(__x86_64__) || defined(__i386__)
    if (__builtin_cpu_supports("x86-64-v4"))
        return ends_v4(out, mins, argmax, in, np, H, W, r);
#endif
    pool_body(out, mins, argmax, in, np, H, W, NULL, r);
}

static void unpool_planes(float *din, const float *dout, const uint8_t *argmax,
                          long np, int H, int W)
{
#if defined(__x86_64__) || defined(__i386__)
    if (__builtin_cpu_supports("x86-64-v4"))
        return unpool_v4(din, dout, argmax, np, H, W);
    if (__builtin_cpu_supports("x86-64-v3"))
        return unpool_v3(din, dout, argmax, np, H, W);
#endif
    unpool_body(din, dout, argmax, np, H, W, 0, widen_generic);
}

void maxpool_forward(float *out, uint8_t *argmax, const float *in,
                     long planes, int H, int W)
{
    const long tasks = (planes + PLANES_PER_TASK - 1) / PLANES_PER_TASK;
    const long osz = (long)(H / 2) * (W / 2), isz = (long)H * W;
#pragma omp parallel for schedule(static)
    for (long t = 0; t < tasks; t++) {
        long p0 = t * PLANES_PER_TASK;
        long np = planes - p0 < PLANES_PER_TASK ? planes - p0 : PLANES_PER_TASK;
        pool_planes(out + p0 * osz, argmax + p0 * osz, in + p0 * isz, np, H, W);
    }
}

void act_maxpool_planes(const act_params *a, float *post, const float *pre, float *pooled,
                        uint8_t *argmax, float *pooled_pre, long p0, long np, int B, int H,
                        int W)
{
    const int PH = H / 2, PW = W / 2;
    const long isz = (long)H * W;
    for (long p = 0; p < np;) {   /* a call per channel: tails are dear */
        const int c = (int)((p0 + p) / B);
        const long run = (long)(c + 1) * B - (p0 + p) < np - p ? (long)(c + 1) * B - (p0 + p)
                                                               : np - p;
        act_forward_channel(a, post + p * isz, pre + p * isz, run * isz, c);
        p += run;
    }
    /* the same groups as maxpool_forward: the same vector paths */
    pool_planes(pooled, argmax, post, np, H, W);
    if (!pooled_pre)
        return;
    for (long p = 0; p < np; p++)
        for (int y = 0; y < PH; y++)
            for (int x = 0; x < PW; x++) {
                long i = (p * PH + y) * PW + x;
                int w = argmax[i];
                pooled_pre[i] = pre[p * isz + (long)(2 * y + w / 2) * W + 2 * x + w % 2];
            }
}

void act_maxpool_forward(const act_params *a, float *post, const float *pre, float *pooled,
                         uint8_t *argmax, float *pooled_pre, int C, int B, int H, int W)
{
    const long planes = (long)C * B;
    const long tasks = (planes + PLANES_PER_TASK - 1) / PLANES_PER_TASK;
    const long osz = (long)(H / 2) * (W / 2), isz = (long)H * W;
#pragma omp parallel for schedule(static)
    for (long t = 0; t < tasks; t++) {
        long p0 = t * PLANES_PER_TASK;
        long np = planes - p0 < PLANES_PER_TASK ? planes - p0 : PLANES_PER_TASK;
        act_maxpool_planes(a, post + p0 * isz, pre + p0 * isz, pooled + p0 * osz,
                           argmax + p0 * osz, pooled_pre ? pooled_pre + p0 * osz : NULL, p0,
                           np, B, H, W);
    }
}

/* pooled = f(pooled_pre) for n windows of channel c, which ends_planes
 * left with the mins in pooled: the UNSETTLED ones (rare) take the min when
 * f is larger there (the max on ties). In slices whose flagged mins fit a
 * small batch, found eight argmax bytes at a time. */
static void settle_windows(const act_params *a, float *pooled, float *pooled_pre,
                           uint8_t *argmax, long n, int c)
{
    enum { SLICE = 1024 };
    const uint64_t flags = 0x0101010101010101u * UNSETTLED;
    long at[SLICE];
    float x[SLICE], fx[SLICE];
    for (long s0 = 0; s0 < n; s0 += SLICE) {
        const long len = n - s0 < SLICE ? n - s0 : SLICE;
        int m = 0;
        for (long i0 = s0; i0 < s0 + len; i0 += 8) {
            uint64_t word = 0;
            if (i0 + 8 <= s0 + len)
                memcpy(&word, argmax + i0, sizeof word);   /* one load */
            else
                for (long i = i0; i < s0 + len; i++)
                    word |= (uint64_t)argmax[i] << 8 * (i - i0);
            for (uint64_t f = word & flags; f; f &= f - 1) {
                const long i = i0 + __builtin_ctzll(f) / 8;
                at[m] = i;
                x[m++] = pooled[i];
            }
        }
        act_forward_winners(a, pooled + s0, pooled_pre + s0, len, c);
        act_forward_winners(a, fx, x, m, c);
        for (int j = 0; j < m; j++) {
            const long i = at[j];
            const uint8_t k = argmax[i];
            argmax[i] = k & WINNER_BITS;
            if (fx[j] > pooled[i]) {
                pooled[i] = fx[j];
                pooled_pre[i] = x[j];
                argmax[i] = (uint8_t)(k >> MIN_SHIFT);
            }
        }
    }
}

void act_pool_first_planes(const act_params *a, const float *pre, float *pooled,
                           uint8_t *argmax, float *pooled_pre, long p0, long np, int B, int H,
                           int W)
{
    const long osz = (long)(H / 2) * (W / 2), isz = (long)H * W;
    const int per_channel = act_info(a->kind)->alpha_grad != NULL;
    for (long p = 0; p < np;) {
        /* planes under one rule: all of them, or one channel's */
        const int c = (int)((p0 + p) / B);
        const long run = per_channel && (long)(c + 1) * B - (p0 + p) < np - p
                             ? (long)(c + 1) * B - (p0 + p) : np - p;
        const act_pool_rule r = act_pool_rule_of(a, c);
        float *pp = pooled_pre + p * osz, *po = pooled + p * osz;
        if (r.turn == -INFINITY) {
            pool_planes(pp, argmax + p * osz, pre + p * isz, run, H, W);
            act_forward_winners(a, po, pp, run * osz, c);   /* one call: tails are dear */
        } else {
            ends_planes(pp, po, argmax + p * osz, pre + p * isz, run, H, W, r);
            settle_windows(a, po, pp, argmax + p * osz, run * osz, c);
        }
        p += run;
    }
}

void act_pool_first_forward(const act_params *a, const float *pre, float *pooled,
                            uint8_t *argmax, float *pooled_pre, int C, int B, int H, int W)
{
    const long planes = (long)C * B;
    const long tasks = (planes + PLANES_PER_TASK - 1) / PLANES_PER_TASK;
    const long osz = (long)(H / 2) * (W / 2), isz = (long)H * W;
#pragma omp parallel for schedule(static)
    for (long t = 0; t < tasks; t++) {
        long p0 = t * PLANES_PER_TASK;
        long np = planes - p0 < PLANES_PER_TASK ? planes - p0 : PLANES_PER_TASK;
        act_pool_first_planes(a, pre + p0 * isz, pooled + p0 * osz, argmax + p0 * osz,
                              pooled_pre + p0 * osz, p0, np, B, H, W);
    }
}

void maxpool_backward_planes(float *din, const float *dout, const uint8_t *argmax, long np,
                             int H, int W)
{
    unpool_planes(din, dout, argmax, np, H, W);
}

void maxpool_backward(float *din, const float *dout, const uint8_t *argmax,
                      long planes, int H, int W)
{
    const long tasks = (planes + PLANES_PER_TASK - 1) / PLANES_PER_TASK;
    const long osz = (long)(H / 2) * (W / 2), isz = (long)H * W;
#pragma omp parallel for schedule(static)
    for (long t = 0; t < tasks; t++) {
        long p0 = t * PLANES_PER_TASK;
        long np = planes - p0 < PLANES_PER_TASK ? planes - p0 : PLANES_PER_TASK;
        unpool_planes(din + p0 * isz, dout + p0 * osz, argmax + p0 * osz, np, H, W);
    }
}
