/* peak_flops.c: the machine's FP32 ceiling, measured rather than taken from
 * a data sheet (the clock under load, AVX-512 down-clocking and the number
 * of FMA units all vary). Built with -O2 -march=native so that the vectors
 * are the host's widest and a*b+c is one FMA.
 *
 * Each accumulator is a chain of dependent FMAs: the loop keeps enough of
 * them in flight to cover FMA latency times the FMA units (4 x 2 on current
 * x86), and few enough to stay in registers.
 *
 * Prints: width=F accumulators=A threads=N gflops_1t=X gflops_all=Y */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__AVX512F__)
#define WIDTH 16
#define NACC 24     /* of 32 registers */
#elif defined(__AVX__)
#define WIDTH 8
#define NACC 12     /* of 16 registers */
#else
#define WIDTH 4
#define NACC 12
#endif

typedef float vec __attribute__((vector_size(WIDTH * 4)));

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* iters rounds of NACC independent FMAs; returns a sum so that nothing is
 * optimised away. acc -> acc*m + a converges (to 1), so no overflow or
 * subnormals slow the loop. */
static float fma_loop(long iters, float seed)
{
    vec acc[NACC], m = (vec){0} + 0.999999f, a = (vec){0} + 1e-6f;
    for (int j = 0; j < NACC; j++)
        for (int i = 0; i < WIDTH; i++)
            acc[j][i] = seed + (float)(j * WIDTH + i) * 1e-3f;
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 32
        for (int j = 0; j < NACC; j++)
            acc[j] = acc[j] * m + a;
    }
    float s = 0;
    for (int j = 0; j < NACC; j++)
        for (int i = 0; i < WIDTH; i++)
            s += acc[j][i];
    return s;
}

/* GFLOP/s of `threads` threads, each running the loop; best of reps. */
static double measure(int threads, long iters, int reps)
{
    double best = 0;
    volatile float sink = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now_seconds();
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) reduction(+ : sink)
#endif
        sink += fma_loop(iters, (float)r);
        double s = now_seconds() - t0;
        double g = 2.0 * WIDTH * NACC * (double)iters * threads / s * 1e-9;
        best = g > best ? g : best;
    }
    return best;
}

int main(int argc, char **argv)
{
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_num_procs();
#endif
    if (argc > 1)
        threads = atoi(argv[1]);
    if (threads < 1)
        threads = 1;
    /* about 0.1-0.3 s per repetition on a current core */
    long iters = 20 * 1000 * 1000;
    measure(1, iters / 10, 1); /* wakes the clock up */
    double one = measure(1, iters, 5);
    double all = threads > 1 ? measure(threads, iters, 5) : one;
    printf("width=%d accumulators=%d threads=%d gflops_1t=%.1f gflops_all=%.1f\n", WIDTH, NACC,
           threads, one, all);
    return 0;
}
