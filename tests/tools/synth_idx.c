/* synth_idx: writes a small, learnable MNIST-format dataset for the tests.
 * usage: synth_idx DIR N_TRAIN N_TEST [SIZE] [--raw]
 * Class k is a noisy bright bar in a class-specific place, so a CNN learns
 * it in a few batches. Deterministic: the same arguments give the same bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static uint64_t state = 0x2545f4914f6cdd1dULL;

static uint32_t next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (uint32_t)(state >> 16);
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static int write_file(const char *dir, const char *name, int raw, const unsigned char *head,
                      size_t head_len, const unsigned char *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s%s", dir, name, raw ? "" : ".gz");
    if (raw) {
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(head, 1, head_len, f) != head_len || fwrite(data, 1, len, f) != len) {
            perror(path);
            return 1;
        }
        return fclose(f) != 0;
    }
    gzFile g = gzopen(path, "wb");
    if (!g || gzwrite(g, head, (unsigned)head_len) != (int)head_len ||
        gzwrite(g, data, (unsigned)len) != (int)len) {
        perror(path);
        return 1;
    }
    return gzclose(g) != Z_OK;
}

static int write_split(const char *dir, const char *prefix, int n, int size, int raw)
{
    size_t pixels = (size_t)size * size;
    unsigned char *img = malloc((size_t)n * pixels), *lab = malloc((size_t)n);
    unsigned char head[16];
    char name[64];
    int rc = 0;
    for (int i = 0; i < n; i++) {
        int k = (int)(next() % 10);
        unsigned char *p = img + (size_t)i * pixels;
        lab[i] = (unsigned char)k;
        for (size_t j = 0; j < pixels; j++)
            p[j] = (unsigned char)(next() % 40);
        /* bars: classes 0-4 horizontal, 5-9 vertical, at distinct offsets */
        int at = 2 + (k % 5) * (size - 4) / 5;
        for (int t = 0; t < size; t++)
            for (int w = 0; w < 2; w++) {
                int r = k < 5 ? at + w : t, c = k < 5 ? t : at + w;
                p[r * size + c] = (unsigned char)(200 + next() % 56);
            }
    }
    put_u32(head, 0x00000803);
    put_u32(head + 4, (uint32_t)n);
    put_u32(head + 8, (uint32_t)size);
    put_u32(head + 12, (uint32_t)size);
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    rc |= write_file(dir, name, raw, head, 16, img, (size_t)n * pixels);
    put_u32(head, 0x00000801);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    rc |= write_file(dir, name, raw, head, 8, lab, (size_t)n);
    free(img);
    free(lab);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: synth_idx DIR N_TRAIN N_TEST [SIZE] [--raw]\n");
        return 2;
    }
    int size = argc > 4 && strcmp(argv[4], "--raw") ? atoi(argv[4]) : 28;
    int raw = strcmp(argv[argc - 1], "--raw") == 0;
    if (size < 4 || size > 256)
        return 2;
    return write_split(argv[1], "train", atoi(argv[2]), size, raw) ||
           write_split(argv[1], "t10k", atoi(argv[3]), size, raw);
}
