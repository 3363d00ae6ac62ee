/* conv.c: 3x3 convolution, stride 1, "valid" (pad 0) or "same" (pad 1), as
 * a gemm over the batch with im2col's columns.
 *
 * col (IC*9, P), P = B*OH*OW: row t = c*9 + dy*3 + dx holds, for every
 * output pixel p = (b, y, x), the input in[c][b][y+dy][x+dx]. Then
 *   out   (OC, P)    = W (OC, IC*9) x col + bias
 *   dW^T (IC*9, OC) += col x dout^T        (= (dout (OC, P) x col^T)^T)
 *   dcol (IC*9, P)   = W^T x dout, folded back by col2im.
 * col is never written out (35 MB for the second layer at B=250): the
 * workspace keeps a copy of the input, and
 *  - the forward's gemm (gemm_packed) asks this file to pack col's panels
 *    straight from that copy, 16 pixels at a time by two-source
 *    permutations of the input rows;
 *  - dW's gemm (gemm_rows) broadcasts col's elements from the copy in
 *    place, through a pointer per row of col and an offset per pixel, so
 *    only dout is transposed. The products and their order are those of
 *    dout x col^T, so dW has the bits it had as that product.
 * Work goes by chunks of a few images:
 *  - out: each thread takes whole chunks; no sum runs across pixels, so
 *    how the chunks fall does not change a bit.
 *  - dW, db and din, when the input needs a gradient and the chunks'
 *    partials fit dcol's workspace (a matter of the shape alone): a thread
 *    takes a chunk whole, its dW^T and db summed fresh into its partial
 *    (db as the gemm packs dout^T), then its din while its dout is in
 *    cache; then (dW, db) + partial 1 + partial 2 + ... in chunk order.
 *    Else phase by phase: dW + chunk 1 + chunk 2 + ... (with col built in
 *    the workspace) with the threads splitting each chunk's output tiles
 *    (the gemm) and rows (the bias sums, each in index order), then din.
 *    Either way one order, fixed by the shape, whatever the thread count.
 * Each din plane is owned by one thread and adds its 9 taps in order.
 * Padding: the workspace keeps a zero-bordered copy of the input (IC,B,
 * H+2,W+2), and everything but din runs as the valid convolution of that
 * copy; col2im skips the border (its taps read at an offset of pad). With
 * pad 0 every operation is the one of the valid code. */
#include "nn/conv.h"

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nn/conv_block.h"
#include "nn/gemm.h"
#include "nn/stream.h"

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

enum {
    CHUNK_FLOATS = 1 << 18,  /* col floats per chunk: 1 MB, half an L2 */
    SMALL_K = CONV_BLOCK_MAX_K,   /* up to 3 input channels: direct product */
    COPY_TASK = 65536,       /* floats per task of the input copy */
};

typedef float v16f __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4), may_alias));
typedef int v16i __attribute__((vector_size(64)));

/* Images per chunk: as many as fit CHUNK_FLOATS of col, at least one. */
static int chunk_images(int IC, int OH, int OW)
{
    long per = (long)IC * 9 * OH * OW;
    long b = CHUNK_FLOATS / (per > 0 ? per : 1);
    return b < 1 ? 1 : (int)b;
}

/* Floats of one chunk of col. */
static long chunk_floats(int B, int IC, int OH, int OW)
{
    int cb = chunk_images(IC, OH, OW);
    return (long)IC * 9 * (cb < B ? cb : B) * OH * OW;
}

/* Thread t of nt's run [*c0, *c1) of n chunks (empty when t >= nt). */
static void chunk_run(int n, int t, int nt, int *c0, int *c1)
{
    *c0 = t < nt ? (int)((long)t * n / nt) : n;
    *c1 = t < nt ? (int)((long)(t + 1) * n / nt) : n;
}

/* col: the saved (padded) input (IC,B,H+2pad,W+2pad), then scratch for two
 * chunks of col (the threads' in the forward pass of a small K; dW's when
 * the backward pass goes phase by phase without din). dcol, of the same
 * size: the chunks' partials of (dW^T, db) and each thread's offsets and
 * chunk of dcol; or, phase by phase, a chunk of col for dW, then the
 * threads' chunks of dcol. */
long conv_col_size(int B, int IC, int H, int W, int pad)
{
    const int Hp = H + 2 * pad, Wp = W + 2 * pad;
    return (long)IC * B * Hp * Wp + 2 * chunk_floats(B, IC, Hp - 2, Wp - 2);
}

/* d[0..n) = s[0..n), 16 at a time. When room says 16 more floats may be
 * read at s and written at d past the row (they belong to the next row
 * of the same plane, rewritten later by this same thread), the tail is
 * one full vector too. */
static inline __attribute__((always_inline)) void
copy_row(float *restrict d, const float *restrict s, int n, int room)
{
    int x = 0;
    for (; x + 16 <= n; x += 16)
        *(v16u *)(d + x) = *(const v16u *)(s + x);
    if (x < n) {
        if (room)
            *(v16u *)(d + x) = *(const v16u *)(s + x);
        else
            for (; x < n; x++)
                d[x] = s[x];
    }
}

/* One (c, b) plane of the input into its 9 rows of col (row stride ldc),
 * row by row. */
CLONES static void im2col_rows(float *restrict col, const float *restrict in,
                               long ldc, int H, int W)
{
    const int OH = H - 2, OW = W - 2;
    for (int t = 0; t < 9; t++) {
        const int dy = t / 3, dx = t % 3;
        float *d = col + t * ldc;
        for (int y = 0; y < OH; y++) {
            /* 16 floats past the row end stay inside both planes */
            int room = (OH - y) * OW - OW >= 16 && (H - y - dy) * W - W - dx >= 16;
            copy_row(d + y * OW, in + (y + dy) * W + dx, OW, room);
        }
    }
}

/* The vector path of im2col for planes of small rows (one row copy each
 * costs as much as a whole vector): each 16 outputs of a tap's row of col
 * are one permutation of the 32 input floats from start[v] on, the same
 * for every plane and tap (a tap only shifts the input by dy W + dx). */
enum { IM2COL_MAXV = 64 };   /* planes of up to 1024 outputs */
typedef struct {
    int n, last;                         /* vectors, lanes of the last one */
    int32_t start[IM2COL_MAXV];
    int32_t idx[IM2COL_MAXV][16] __attribute__((aligned(64)));
} im2col_plan;

/* 0 when the vector path does not apply to planes H x W. */
static int im2col_plan_make(im2col_plan *pl, int H, int W)
{
    const int OW = W - 2, n = (H - 2) * OW;
    pl->n = (n + 15) / 16;
    pl->last = n - 16 * (pl->n - 1);
    if (pl->n > IM2COL_MAXV || n < 1)
        return 0;
    for (int v = 0; v < pl->n; v++) {
        const int s = 16 * v / OW * W + 16 * v % OW;
        pl->start[v] = s;
        for (int l = 0; l < 16; l++) {
            const int i = 16 * v + l, off = i < n ? i / OW * W + i % OW - s : 0;
            if (off >= 32)
                return 0;
            pl->idx[v][l] = off;
        }
    }
    return 1;
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("arch=x86-64-v4"))) static void
im2col_v4(float *col, const float *in, long ldc, int W, const im2col_plan *pl)
{
    const __mmask16 last = (__mmask16)((1u << pl->last) - 1);
    for (int t = 0; t < 9; t++) {
        const float *s = in + t / 3 * W + t % 3;
        float *d = col + t * ldc;
        int v = 0;
        for (; v < pl->n - 1; v++) {
            const float *r = s + pl->start[v];
            __m512i idx = _mm512_load_si512(pl->idx[v]);
            _mm512_storeu_ps(d + 16 * v, _mm512_permutex2var_ps(_mm512_loadu_ps(r), idx,
                                                                _mm512_loadu_ps(r + 16)));
        }
        const float *r = s + pl->start[v];
        __m512i idx = _mm512_load_si512(pl->idx[v]);
        _mm512_mask_storeu_ps(d + 16 * v, last,
                              _mm512_permutex2var_ps(_mm512_loadu_ps(r), idx,
                                                     _mm512_loadu_ps(r + 16)));
    }
}
#endif

/* One (c, b) plane H x W of the input into its 9 rows of col; end: the end
 * of the input array (the vector path reads up to 32 floats past a
 * window's start); pl: from im2col_plan_make, or NULL. */
static void im2col_plane(float *col, const float *in, long ldc, int H, int W,
                         const float *end, const im2col_plan *pl)
{
#if defined(__x86_64__) || defined(__i386__)
    if (pl && in + 2 * W + 2 + pl->start[pl->n - 1] + 32 <= end &&
        __builtin_cpu_supports("x86-64-v4"))
        return im2col_v4(col, in, ldc, W, pl);
#else
    (void)end, (void)pl;
#endif
    im2col_rows(col, in, ldc, H, W);
}

/* ---------------------------------------------------------------------------
 * im2col straight into the gemm's panels (gemm_packed): the columns of
 * col are never written out, and only the packer reads the input. */

/* Chunk pixel j (image j / ohw of the chunk, then row, then column) of
 * tap row t = c*9 + dy*3 + dx is in[c * cs + dy * Ws + dx + pix_off(j)],
 * in at channel 0 of the chunk's first image. */
typedef struct {
    const float *in, *end;   /* end: of the saved input */
    long cs;                 /* floats from one channel to the next */
    int Hs, Ws, OW, ohw;
} col_src;

static inline long pix_off(const col_src *s, long j)
{
    const long b = j / s->ohw, r = j % s->ohw;
    return b * s->Hs * s->Ws + r / s->OW * s->Ws + r % s->OW;
}

static inline const float *tap_base(const col_src *s, int t)
{
    return s->in + t / 9 * s->cs + t % 9 / 3 * s->Ws + t % 3;
}

/* 16 chunk pixels from j on, n of them real (the rest read as 0). Their
 * offsets rise, so the lanes fall into runs whose floats lie within 32 of
 * the run's first: up to two such windows make the vector with one
 * two-source permutation each. */
typedef struct {
    int32_t idx[2][16] __attribute__((aligned(64)));   /* lane -> float of its window */
    int32_t off[16];    /* pix_off of each lane, for the lane-by-lane path */
    int32_t s[2];       /* the windows' first offsets */
    int32_t reach;      /* floats past a tap's base that the loads touch */
    uint16_t m2, live;  /* lanes of window 2; lanes of real pixels */
    int vec;            /* 0: more than two windows, lane by lane */
} pix_vec;

static void pix_vec_make(pix_vec *v, const col_src *s, long j, int n)
{
    const int OH = s->ohw / s->OW;
    long b = j / s->ohw;
    int y = (int)(j % s->ohw) / s->OW, x = (int)(j % s->ohw) % s->OW;
    v->live = (uint16_t)((1u << n) - 1);
    v->m2 = 0;
    v->vec = 1;
    v->s[0] = v->s[1] = (int32_t)(b * s->Hs * s->Ws + y * s->Ws + x);
    int w = 0;
    for (int l = 0; l < 16; l++) {
        const int32_t o = l < n ? (int32_t)(b * s->Hs * s->Ws + y * s->Ws + x) : v->s[w];
        if (++x == s->OW && (x = 0, ++y == OH))
            y = 0, b++;
        /* room for the shift of taps dx = 1, 2 */
        if (o - v->s[w] > 29) {
            if (w == 1)
                v->vec = 0;   /* a third window */
            w = 1;
            v->s[1] = o;
        }
        v->off[l] = o;
        v->idx[w][l] = o - v->s[w];
        v->idx[1 - w][l] = 0;
        v->m2 |= (uint16_t)(w << l);
    }
    v->reach = v->s[1] + 32;
}

/* Forward panels lane by lane (rows [k0, k0 + kc) of panels ld rows
 * apart), for machines without AVX-512 and for pixels the vectors cannot
 * take. */
static void pack_plain(const col_src *s, float *dst, long ld, int k0, int kc, int j0, int nc)
{
    for (int p = 0; 32 * p < nc; p++)
        for (int k = 0; k < kc; k++)
            for (int l = 0; l < 32; l++) {
                const int j = 32 * p + l;   /* column of the panel group */
                dst[((long)p * ld + k) * 32 + l] =
                    j < nc ? tap_base(s, k0 + k)[pix_off(s, j0 + j)] : 0.0f;
            }
}

#if defined(__x86_64__) || defined(__i386__)
#define V4 __attribute__((target("arch=x86-64-v4")))
#define V4_INLINE V4 static inline __attribute__((always_inline))

/* The windows of v's pixels in an input row: w[0..1] for the first,
 * w[2..3] for the second (two: v has one). */
V4_INLINE void pix_windows(const pix_vec *v, const float *row, int two, __m512 w[4])
{
    w[0] = _mm512_loadu_ps(row + v->s[0]);
    w[1] = _mm512_loadu_ps(row + v->s[0] + 16);
    if (two) {
        w[2] = _mm512_loadu_ps(row + v->s[1]);
        w[3] = _mm512_loadu_ps(row + v->s[1] + 16);
    }
}

/* The 16 lanes of v's pixels from windows w, shifted by tap column dx
 * (i0, i1: v's indices plus dx); lanes outside keep set to 0. */
V4_INLINE __m512 pix_pick(const pix_vec *v, const __m512 w[4], __m512i i0, __m512i i1, int two,
                          __mmask16 keep)
{
    __m512 r = _mm512_maskz_permutex2var_ps(keep, w[0], i0, w[1]);
    if (two)
        r = _mm512_mask_mov_ps(r, v->m2 & keep, _mm512_permutex2var_ps(w[2], i1, w[3]));
    return r;
}

/* Whether every vector load of v's pixels for taps up to last stays
 * inside the input. */
static inline int pix_fast(const col_src *s, const pix_vec *v, int last)
{
    return v->vec && tap_base(s, last) + v->reach <= s->end;
}

/* One forward panel: rows k0.. of tap k, the two vectors of 32 pixels.
 * The three taps dx of an input row share its loads (the windows leave
 * room for the shift). */
V4_INLINE void fwd_panel(const col_src *s, float *d, int k0, int kc, const pix_vec v[2],
                         int two)
{
    const __m512i a0 = _mm512_load_si512(v[0].idx[0]), a1 = _mm512_load_si512(v[0].idx[1]);
    const __m512i b0 = _mm512_load_si512(v[1].idx[0]), b1 = _mm512_load_si512(v[1].idx[1]);
    for (int t = k0; t < k0 + kc;) {
        const float *row = s->in + t / 9 * s->cs + t % 9 / 3 * s->Ws;
        __m512 w0[4], w1[4];   /* loaded once for the row's three taps */
        pix_windows(&v[0], row, two, w0);
        pix_windows(&v[1], row, two, w1);
        for (int dx = t % 3; dx < 3 && t < k0 + kc; dx++, t++) {
            const __m512i sh = _mm512_set1_epi32(dx);
            float *o = d + (long)(t - k0) * 32;
            _mm512_store_ps(o, pix_pick(&v[0], w0, _mm512_add_epi32(a0, sh),
                                        _mm512_add_epi32(a1, sh), two, v[0].live));
            _mm512_store_ps(o + 16, pix_pick(&v[1], w1, _mm512_add_epi32(b0, sh),
                                             _mm512_add_epi32(b1, sh), two, v[1].live));
        }
    }
}

/* Forward: op(B) = col, element (tap k, pixel j). Panel by panel, tap by
 * tap, so the stores run along each panel. */
V4 static void pack_fwd_v4(const col_src *s, float *dst, int k0, int kc, int j0, int nc)
{
    for (int p = 0; 32 * p < nc; p++) {
        pix_vec v[2];
        for (int h = 0; h < 2; h++) {
            const int n = nc - 32 * p - 16 * h;
            pix_vec_make(&v[h], s, j0 + 32 * p + 16 * h, n < 0 ? 0 : n > 16 ? 16 : n);
        }
        float *d = dst + (long)p * kc * 32;
        if (!pix_fast(s, &v[0], k0 + kc - 1) || !pix_fast(s, &v[1], k0 + kc - 1))
            pack_plain(s, d, kc, k0, kc, j0 + 32 * p, nc - 32 * p < 32 ? nc - 32 * p : 32);
        else if (v[0].m2 | v[1].m2)
            fwd_panel(s, d, k0, kc, v, 1);
        else
            fwd_panel(s, d, k0, kc, v, 0);
    }
}

#endif

static void pack_fwd(void *ctx, float *dst, int k0, int kc, int j0, int nc)
{
#if defined(__x86_64__) || defined(__i386__)
    if (__builtin_cpu_supports("x86-64-v4"))
        return pack_fwd_v4(ctx, dst, k0, kc, j0, nc);
#endif
    pack_plain(ctx, dst, kc, k0, kc, j0, nc);
}

/* The source of chunk images [b0, ...) of a saved input (IC,B,Hs,Ws). */
static col_src col_src_make(const float *in, int B, int IC, int Hs, int Ws, int b0)
{
    const long hw = (long)Hs * Ws;
    return (col_src){.in = in + b0 * hw, .end = in + IC * B * hw, .cs = B * hw, .Hs = Hs,
                     .Ws = Ws, .OW = Ws - 2, .ohw = (Hs - 2) * (Ws - 2)};
}

/* din plane (c, b), H x W, = sum over the 9 taps of the shifted dcol rows
 * (OH x OW), taps in order; din pixel (yi, xi) is pixel (yi + pad,
 * xi + pad) of the padded input. Each din row is formed in a register, 16
 * columns at a time, from the (up to) 9 dcol rows that reach it: a load
 * that starts dx - pad floats early (still inside dcol: tap dx > 0 is at
 * least one row of dcol in) and whose lanes outside the dcol row are
 * masked to +0 (adding +0 to a sum that starts at +0 changes no bit). Loads may run on into the
 * following dcol rows while they stay below end; stores may run into the
 * next din row, which is written after. The plain loop gives the same
 * sums for planes too close to end, or without vectors. */
static inline __attribute__((always_inline)) float
col2im_one(const float *dcol, long ldc, int OH, int OW, int yp, int xp)
{
    float s = 0;
    for (int dy = 0; dy < 3; dy++)
        for (int dx = 0; dx < 3; dx++) {
            int y = yp - dy, x = xp - dx;
            if (y >= 0 && y < OH && x >= 0 && x < OW)
                s += dcol[(dy * 3 + dx) * ldc + y * OW + x];
        }
    return s;
}

enum { MAXV = 8 };   /* col2im by vectors for rows up to 128 floats */

/* Lane masks of the vector path: lane l of vector v for tap column dx is
 * kept when its dcol column 16v + l + pad - dx is in [0, OW). Made once
 * per call of conv_backward, 0 if the rows are too long for vectors. */
static int col2im_masks(int32_t valid[MAXV][3][16], int W, int pad)
{
    const int OW = W + 2 * pad - 2, nv = (W + 15) / 16;
    if (nv > MAXV)
        return 0;
    for (int v = 0; v < nv; v++)
        for (int dx = 0; dx < 3; dx++)
            for (int l = 0; l < 16; l++) {
                int pos = v * 16 + l + pad - dx;
                valid[v][dx][l] = pos >= 0 && pos < OW ? -1 : 0;
            }
    return 1;
}

static inline __attribute__((always_inline)) void
col2im_body(float *restrict din, const float *restrict dcol, long ldc, int H,
            int W, int pad, const float *end, const int32_t (*valid)[3][16])
{
    const int OH = H + 2 * pad - 2, OW = W + 2 * pad - 2;
    const int nv = (W + 15) / 16;
    /* the furthest any vector load of this plane reaches */
    const int safe = dcol + 8 * ldc + (OH - 1) * OW + 16 * nv + pad <= end;
    if (valid && safe) {
        for (int yi = 0; yi < H; yi++) {
            const int yp = yi + pad;
            const int dy0 = yp - (OH - 1) > 0 ? yp - (OH - 1) : 0;
            const int dy1 = yp < 2 ? yp : 2;
            for (int v = 0; v < nv; v++) {
                v16f acc = {0};
                for (int dy = dy0; dy <= dy1; dy++) {
                    const float *r = dcol + dy * 3 * ldc + (yp - dy) * OW + 16 * v + pad;
#pragma GCC unroll 3
                    for (int dx = 0; dx < 3; dx++)
                        acc += (v16f)((v16i) * (const v16u *)(r + dx * ldc - dx) &
                                      *(const v16i *)valid[v][dx]);
                }
                float *d = din + yi * W + 16 * v;
                if ((H - yi) * W - 16 * v >= 16) {
                    *(v16u *)d = acc;
                } else {   /* the end of the plane: exactly its floats */
                    float lanes[16];
                    *(v16u *)lanes = acc;
                    for (int l = 0; l < W - 16 * v; l++)
                        d[l] = lanes[l];
                }
            }
        }
    } else {
        for (int yi = 0; yi < H; yi++)
            for (int xi = 0; xi < W; xi++)
                din[yi * W + xi] = col2im_one(dcol, ldc, OH, OW, yi + pad, xi + pad);
    }
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("arch=x86-64-v4"))) static void
col2im_v4(float *din, const float *dcol, long ldc, int H, int W, int pad,
          const float *end, const int32_t (*valid)[3][16])
{
    col2im_body(din, dcol, ldc, H, W, pad, end, valid);
}
#endif

/* valid from col2im_masks, NULL for the plain loop only. */
static void col2im_plane(float *din, const float *dcol, long ldc, int H, int W, int pad,
                         const float *end, const int32_t (*valid)[3][16])
{
#if defined(__x86_64__) || defined(__i386__)
    if (valid && __builtin_cpu_supports("x86-64-v4"))
        return col2im_v4(din, dcol, ldc, H, W, pad, end, valid);
#endif
    col2im_body(din, dcol, ldc, H, W, pad, end, NULL);
}

/* Chunks handed to whole threads, each with its own slice of a scratch of
 * two chunks: the B images in chunks of at most *cbt images, and thread t
 * of the team a run of consecutive chunks [*c0, *c1), in slice t (with more
 * threads than slices the rest get none). Runs, not every n-th chunk: two
 * threads then share the cache lines of the outputs only where their runs
 * meet, not at every chunk's edge (that cost 10% at 2 threads). Returns
 * t. Only for work that splits the pixels without summing across them. */
static int thread_chunks(int cb, int B, int *cbt, int *c0, int *c1)
{
    int T = 1, t = 0;
#ifdef _OPENMP
    T = omp_get_num_threads(), t = omp_get_thread_num();
#endif
    *cbt = 2 * cb / T < cb ? 2 * cb / T : cb;
    if (*cbt < 1)
        *cbt = 1;
    const int slots = 2 * cb / *cbt, nwork = T < slots ? T : slots;
    chunk_run((B + *cbt - 1) / *cbt, t, nwork, c0, c1);
    return t;
}

/* dst (planes, H+2, W+2) = src (planes, H, W) with a border of zeros. */
static void pad_copy(float *restrict dst, const float *restrict src, long planes, int H, int W)
{
    const int Wp = W + 2;
    const long hwp = (long)(H + 2) * Wp;
#pragma omp parallel for schedule(static)
    for (long u = 0; u < planes; u++) {
        float *d = dst + u * hwp;
        const float *s = src + u * H * W;
        memset(d, 0, sizeof(float) * (size_t)Wp);
        for (int y = 0; y < H; y++) {
            float *r = d + (long)(y + 1) * Wp;
            r[0] = 0;
            memcpy(r + 1, s + (long)y * W, sizeof(float) * (size_t)W);
            r[W + 1] = 0;
        }
        memset(d + (long)(H + 1) * Wp, 0, sizeof(float) * (size_t)Wp);
    }
}

void conv_save_input(float *saved, const float *in, long planes, int H, int W, int pad,
                     int later)
{
    if (pad) {
        pad_copy(saved, in, planes, H, W);
        return;
    }
    const long n = planes * H * W, copies = (n + COPY_TASK - 1) / COPY_TASK;
    const int stream = later && (size_t)n * sizeof(float) >= STREAM_MIN_TENSOR_BYTES;
#pragma omp parallel for schedule(static)
    for (long u = 0; u < copies; u++) {
        long i0 = u * COPY_TASK, len = n - i0 < COPY_TASK ? n - i0 : COPY_TASK;
        if (stream)
            stream_copy(saved + i0, in + i0, (size_t)len * sizeof(float));
        else
            memcpy(saved + i0, in + i0, (size_t)len * sizeof(float));
    }
}

void conv_forward(float *out, float *col, const float *in, const float *weight,
                  const float *bias, int B, int IC, int H, int W, int OC, int pad)
{
    assert(pad == 0 || pad == 1);
    /* Hs x Ws: the saved input's planes (padded when pad is 1) */
    const int Hs = H + 2 * pad, Ws = W + 2 * pad;
    const int OH = Hs - 2, OW = Ws - 2, K = IC * 9;
    const long ohw = (long)OH * OW, P = B * ohw;
    const long nsave = (long)IC * B * Hs * Ws;
    int cb = chunk_images(IC, OH, OW);
    cb = cb < B ? cb : B;
    /* col: the copy of the input that conv_backward rebuilds col from
     * (one big copy: faster than plane by plane), then scratch. Padded,
     * the copy has borders and im2col reads it instead of in. */
    const float *src = pad ? col : in;
    conv_save_input(col, in, (long)IC * B, H, W, pad, !pad);   /* im2col reads in */
    im2col_plan pl;
    const im2col_plan *plan = im2col_plan_make(&pl, Hs, Ws) ? &pl : NULL;
#pragma omp parallel
    {
        int cbt, c0, c1;
        const int t = thread_chunks(cb, B, &cbt, &c0, &c1);
        float *chunk = c0 < c1 ? col + nsave + (long)t * K * cbt * ohw : NULL;
        for (int i = c0; i < c1; i++) {
            const int b0 = i * cbt, nb = B - b0 < cbt ? B - b0 : cbt;
            const long pc = nb * ohw;
            float *o = out + b0 * ohw;
            if (K <= SMALL_K) {
                for (long u = 0; u < (long)IC * nb; u++) {
                    const long b = u / IC, c = u % IC;
                    im2col_plane(chunk + c * 9 * pc + b * ohw,
                                 src + ((c * B) + b0 + b) * Hs * Ws, pc, Hs, Ws, src + nsave,
                                 plan);
                }
                conv_small_k(o, P, chunk, pc, weight, bias, K, OC, pc);
            } else {   /* (gemm runs on this thread alone in here) */
                col_src cs = col_src_make(src, B, IC, Hs, Ws, b0);
                gemm_packed(0, OC, (int)pc, K, weight, K, pack_fwd, &cs, 0, bias, o, (int)P);
            }
        }
    }
}

/* acc[r] += x[r][0..n) (row stride ldx) for rows r0.. of group g (8 rows,
 * fewer at the end), each in index order; the 8 rows at a time so that 8
 * dependent chains overlap. Called chunk after chunk with the same acc,
 * it sums each whole row in index order. */
static void row_sums_group(float *acc, const float *x, long ldx, int rows, long n, int g)
{
    const int r0 = g * 8;
    if (rows - r0 >= 8) {
        float a[8];
        for (int r = 0; r < 8; r++)
            a[r] = acc[r0 + r];
        for (long i = 0; i < n; i++)
#pragma GCC unroll 8
            for (int r = 0; r < 8; r++)
                a[r] += x[(r0 + r) * ldx + i];
        for (int r = 0; r < 8; r++)
            acc[r0 + r] = a[r];
    } else {
        for (int r = r0; r < rows; r++) {
            float a = acc[r];
            for (long i = 0; i < n; i++)
                a += x[r * ldx + i];
            acc[r] = a;
        }
    }
}

/* Every group of rows, split between the threads of the enclosing
 * parallel region. */
static void row_sums_part(float *acc, const float *x, long ldx, int rows, long n)
{
#pragma omp for schedule(static) nowait
    for (int g = 0; g < (rows + 7) / 8; g++)
        row_sums_group(acc, x, ldx, rows, n, g);
}

/* Rows [t0, t1) of S = (dW^T, db) (row K is db): S = (dW, db)'s, plus
 * each chunk's partial in chunk order, back into (dW, db). Each element is
 * dW + p1 + p2 + ..., and the partials' adds run along their rows. */
CLONES static void add_partials(float *restrict dw, float *restrict db, float *restrict S,
                                const float *parts, long part, int nch, int K, int OC, int t0,
                                int t1)
{
    for (int t = t0; t < t1; t++)
        for (int o = 0; o < OC; o++)
            S[(long)t * OC + o] = t < K ? dw[(long)o * K + t] : db[o];
    for (int i = 0; i < nch; i++) {
        const float *restrict p = parts + i * part;
        for (long e = (long)t0 * OC; e < (long)t1 * OC; e++)
            S[e] += p[e];
    }
    for (int t = t0; t < t1; t++)
        for (int o = 0; o < OC; o++) {
            if (t < K)
                dw[(long)o * K + t] = S[(long)t * OC + o];
            else
                db[o] = S[(long)t * OC + o];
        }
}

/* The shapes and tensors of one conv_backward call. */
typedef struct {
    float *din, *dweight, *dbias;
    const float *dout, *in, *weight;   /* in: the saved (padded) input */
    int B, IC, H, W, OC, pad, Hs, Ws, OH, OW, K, cb;
    long ohw, P;
    const int32_t (*vmask)[3][16];
} bwd_job;

/* din of images [b0, b0 + nb): dcol = W^T dout into dchunk (K * nb * ohw
 * floats), folded back by col2im. No sum runs across images. */
static void din_chunk(const bwd_job *j, float *dchunk, int b0, int nb)
{
    const long pc = nb * j->ohw;
    gemm(1, 0, j->K, (int)pc, j->OC, j->weight, j->K, j->dout + b0 * j->ohw, (int)j->P, 0,
         dchunk, (int)pc);
    for (long u = 0; u < (long)j->IC * nb; u++) {
        const long b = u / j->IC, c = u % j->IC;
        col2im_plane(j->din + ((c * j->B) + b0 + b) * j->H * j->W,
                     dchunk + c * 9 * pc + b * j->ohw, pc, j->H, j->W, j->pad,
                     dchunk + j->K * pc, j->vmask);
    }
}

/* Chunk i's dW^T and db, summed fresh, into pw (and pb = pw + K OC), with
 * col read in place (rows, koff: scratch of K pointers and a chunk's
 * offsets): the same products in the same order as dout col^T; db as
 * dout^T is packed. */
static void dw_chunk(const bwd_job *j, float *pw, const float **rows, int32_t *koff, int b0,
                     int nb)
{
    float *pb = pw + (long)j->OC * j->K;
    for (int o = 0; o < j->OC; o++)
        pb[o] = 0;
    col_src cs = col_src_make(j->in, j->B, j->IC, j->Hs, j->Ws, b0);
    for (int k = 0; k < j->K; k++)
        rows[k] = tap_base(&cs, k);
    for (int b = 0, n = 0; b < nb; b++)
        for (int y = 0; y < j->OH; y++)
            for (int x = 0; x < j->OW; x++)
                koff[n++] = (int32_t)(((long)b * j->Hs + y) * j->Ws + x);
    gemm_rows(j->K, j->OC, (int)(nb * j->ohw), rows, koff, 1, j->dout + b0 * j->ohw, (int)j->P,
              0, pb, pw, j->OC);
}

/* The whole backward pass with the chunks spread over the threads (for a
 * layer whose input needs a gradient, so that dcol's whole workspace is
 * free): a thread takes chunk i whole, its dW^T and db into partial i and
 * its din, while its dout is in cache; then the partials are added in
 * chunk order, element by element. Chunks and so every sum are fixed by
 * the shape. 0 when the partials and one thread's scratch do not fit ws
 * (ws_n floats; more threads take part as their scratch fits): the caller
 * then goes phase by phase. */
static int backward_by_chunks(const bwd_job *j, float *ws, long ws_n)
{
    const int K = j->K, OC = j->OC, cb = j->cb, nch = (j->B + cb - 1) / cb;
    /* partials (dW^T, db), one per chunk and one for the sums */
    const long part = ((long)OC * K + OC + 15) & ~15L;
    /* each thread's rows (K pointers), pixel offsets and dcol, a chunk's */
    const long tab = (2L * K + cb * j->ohw + 15) & ~15L, own = tab + K * cb * j->ohw;
    /* whether it fits depends on the shape alone, never on the threads */
    const long slots = (ws_n - (nch + 1) * part) / own;
    if (ws_n < (nch + 1) * part || slots < 1)
        return 0;
    int team = slots < nch ? (int)slots : nch;
#ifdef _OPENMP
    team = team < omp_get_max_threads() ? team : omp_get_max_threads();
#endif
    float *parts = ws, *S = ws + nch * part;
#pragma omp parallel num_threads(team)
    {
        int t = 0, nt = 1;
#ifdef _OPENMP
        t = omp_get_thread_num(), nt = omp_get_num_threads();
#endif
        float *mine = parts + (nch + 1) * part + t * own;
        const float **rows = (const float **)(void *)mine;
        int32_t *koff = (int32_t *)(void *)(rows + K);
        int c0, c1;
        chunk_run(nch, t, nt, &c0, &c1);
        for (int i = c0; i < c1; i++) {
            const int b0 = i * cb, nb = j->B - b0 < cb ? j->B - b0 : cb;
            dw_chunk(j, parts + i * part, rows, koff, b0, nb);
            din_chunk(j, mine + tab, b0, nb);
        }
#pragma omp barrier
        /* the partials in chunk order, each run of rows of dW^T by one
         * thread */
#pragma omp for schedule(static)
        for (int t0 = 0; t0 <= K; t0 += 16)
            add_partials(j->dweight, j->dbias, S, parts, part, nch, K, OC, t0,
                         t0 + 16 < K + 1 ? t0 + 16 : K + 1);
    }
    return 1;
}

void conv_backward(float *din, float *dcol, float *dweight, float *dbias,
                   const float *dout, const float *col, const float *weight,
                   int B, int IC, int H, int W, int OC, int pad)
{
    assert(pad == 0 || pad == 1);
    /* Hs x Ws: the saved input's planes (padded when pad is 1) */
    const int Hs = H + 2 * pad, Ws = W + 2 * pad;
    const int OH = Hs - 2, OW = Ws - 2, K = IC * 9;
    const long ohw = (long)OH * OW, P = B * ohw, nin = (long)IC * B * Hs * Ws;
    int32_t valid[MAXV][3][16] __attribute__((aligned(64)));
    int cb = chunk_images(IC, OH, OW);
    cb = cb < B ? cb : B;
    /* conv_forward left the input at the start of col */
    const bwd_job j = {
        .din = din, .dweight = dweight, .dbias = dbias, .dout = dout, .in = col,
        .weight = weight, .B = B, .IC = IC, .H = H, .W = W, .OC = OC, .pad = pad, .Hs = Hs,
        .Ws = Ws, .OH = OH, .OW = OW, .K = K, .cb = cb, .ohw = ohw, .P = P,
        .vmask = col2im_masks(valid, W, pad) ? valid : NULL,
    };
    if (din && backward_by_chunks(&j, dcol, conv_col_size(B, IC, H, W, pad)))
        return;
    /* Phase by phase. Chunks of col for dW are rebuilt in the dcol
     * workspace; when no din is wanted (dcol is then unused) in the
     * scratch part of col, which conv_forward used the same way and which
     * holds nothing the caller reads (col is the caller's writable
     * workspace, whatever the const says). */
    const float *in = col;
    float *chunk = din ? dcol : (float *)col + nin;
    /* the bias gradient: running sums of each row of dout, in index order
     * across the chunks, taken while the chunk is on its way to the gemm */
    float bsum[OC];
    for (int o = 0; o < OC; o++)
        bsum[o] = 0;
    im2col_plan pl;
    const im2col_plan *plan = im2col_plan_make(&pl, Hs, Ws) ? &pl : NULL;
    /* dW and db: chunks of a size fixed by the shape, each split between
     * the threads by output tiles (the gemm) and rows (the sums) */
    for (int b0 = 0; b0 < B; b0 += cb) {
        const int nb = B - b0 < cb ? B - b0 : cb;
        const long pc = nb * ohw;
        const float *g = dout + b0 * ohw;
        const long tasks = (long)IC * nb;
        /* channel by channel: a thread then writes the rows of col whose
         * columns of dW the gemm's split mostly gives back to it */
#pragma omp parallel
        {
            row_sums_part(bsum, g, P, OC, pc);
#pragma omp for schedule(static) nowait
            for (long u = 0; u < tasks; u++) {
                const long c = u / nb, b = u % nb;
                im2col_plane(chunk + c * 9 * pc + b * ohw,
                             in + ((c * B) + b0 + b) * Hs * Ws, pc, Hs, Ws, in + nin, plan);
            }
        }
        gemm(0, 1, OC, K, (int)pc, g, (int)P, chunk, (int)pc, 1, dweight, K);
    }
    for (int o = 0; o < OC; o++)
        dbias[o] += bsum[o];
    if (!din)
        return;
    /* din: chunk by chunk per thread (no sum runs across images, so any
     * split gives the same bits) */
#pragma omp parallel
    {
        int cbt, c0, c1;
        const int t = thread_chunks(cb, B, &cbt, &c0, &c1);
        float *dchunk = c0 < c1 ? dcol + (long)t * K * cbt * ohw : NULL;
        for (int i = c0; i < c1; i++)
            din_chunk(&j, dchunk, i * cbt, B - i * cbt < cbt ? B - i * cbt : cbt);
    }
}
