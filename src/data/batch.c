/* batch.c: examples to float batches, optionally augmented.
 *
 * Each output image is written by one thread from its own bytes and its
 * own draw, so the result never depends on the thread count. */
#include "data_internal.h"

#include "base/rng.h"

/* Threads only pay off for big batches (e.g. a whole evaluation set). */
#define PARALLEL_MIN_VALUES (1L << 20)

/* Crops are limited so that 2 * crop + 1 and the offsets fit an int. */
#define CROP_MAX (1 << 16)

void data_batch_floats(float *out, uint8_t *labels_out, const data_split *s, const long *order,
                       long start, int count)
{
    const int pixels = s->pixels;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if ((long)count * pixels >= PARALLEL_MIN_VALUES)
#endif
    for (int i = 0; i < count; i++) {
        long e = order ? order[start + i] : start + i;
        const uint8_t *src = s->images + (size_t)e * pixels;
        float *dst = out + (size_t)i * pixels;
        for (int j = 0; j < pixels; j++)
            dst[j] = (float)src[j] / 255.0f;
        if (labels_out)
            labels_out[i] = s->labels[e];
    }
}

/* ---- augmentation ---- */

static int crop_of(const data_augment *a)
{
    return a->crop <= 0 ? 0 : a->crop > CROP_MAX ? CROP_MAX : a->crop;
}

int data_augment_active(const data_augment *a)
{
    return a && (crop_of(a) > 0 || a->flip);
}

void data_augment_draw(const data_augment *a, uint64_t seed, int epoch, long index, int *dy,
                       int *dx, int *flip)
{
    /* One 64-bit draw: the low 32 bits give the row offset, the next 31
     * the column offset, the top bit the flip. */
    uint64_t u = rng_u64(seed, RNG_AUGMENT, (uint64_t)epoch, (uint64_t)index);
    uint64_t span = 2 * (uint64_t)crop_of(a) + 1;
    *dy = (int)((u & 0xffffffffu) % span);
    *dx = (int)(((u >> 32) & 0x7fffffffu) % span);
    *flip = a->flip ? (int)(u >> 63) : 0;
}

/* One image (c, h, w planes): the window at (dy - pad, dx - pad) of the
 * zero-padded image, mirrored left-right when flip is set. */
static void augment_image(float *dst, const uint8_t *src, int c, int h, int w, int pad, int dy,
                          int dx, int flip)
{
    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < h; y++) {
            float *row = dst + ((size_t)ch * h + y) * w;
            int sy = y + dy - pad;
            if (sy < 0 || sy >= h) {
                for (int x = 0; x < w; x++)
                    row[x] = 0.0f;
                continue;
            }
            const uint8_t *srow = src + ((size_t)ch * h + sy) * w;
            for (int x = 0; x < w; x++) {
                int sx = (flip ? w - 1 - x : x) + dx - pad;
                row[x] = sx >= 0 && sx < w ? (float)srow[sx] / 255.0f : 0.0f;
            }
        }
}

void data_batch_floats_augmented(float *out, uint8_t *labels_out, const data_split *s,
                                 const long *order, long start, int count,
                                 const data_augment *a, uint64_t seed, int epoch)
{
    const int pixels = s->pixels, c = s->channels, h = s->rows, w = s->cols;
    if (!data_augment_active(a) || c < 1 || h < 1 || w < 1 || (long)c * h * w != pixels) {
        data_batch_floats(out, labels_out, s, order, start, count);
        return;
    }
    const int pad = crop_of(a);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if ((long)count * pixels >= PARALLEL_MIN_VALUES)
#endif
    for (int i = 0; i < count; i++) {
        long e = order ? order[start + i] : start + i;
        int dy, dx, flip;
        data_augment_draw(a, seed, epoch, e, &dy, &dx, &flip);
        augment_image(out + (size_t)i * pixels, s->images + (size_t)e * pixels, c, h, w, pad, dy,
                      dx, flip);
        if (labels_out)
            labels_out[i] = s->labels[e];
    }
}
