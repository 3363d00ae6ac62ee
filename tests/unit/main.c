/* The unit test runner: runs every suite (or those named on the command
 * line) and ends with "N passed, M failed". */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

#ifdef _OPENMP
#include <omp.h>
#endif

int test_checks_failed;
const char *test_current = "";
static int tests_passed, tests_failed;
static char tmpdir[256];

void test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "FAIL %s (%s:%d): ", test_current, file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    test_checks_failed++;
}

void test_run(const char *name, void (*fn)(void))
{
    test_current = name;
    test_checks_failed = 0;
    fn();
    if (test_checks_failed) {
        tests_failed++;
        printf("not ok %s\n", name);
    } else {
        tests_passed++;
        printf("ok %s\n", name);
    }
    fflush(stdout);
}

void test_set_threads(int n)
{
#ifdef _OPENMP
    omp_set_num_threads(n);
#else
    (void)n;
#endif
}

int test_max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static void remove_tmpdir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", tmpdir);
}

const char *test_tmpdir(void)
{
    if (!tmpdir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/sweep-unit-XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            exit(1);
        }
        atexit(remove_tmpdir);
    }
    return tmpdir;
}

void suite_base(void);
/* Suites of issue #13's kernels (tests/unit/test_bn.c, test_golden_train.c). */
void suite_bn(void);
void suite_cifar(void);
void suite_golden_train(void);
/* Issue #15's grid binding (tests/unit/test_store_grid.c). */
void suite_store_grid(void);
void suite_config_train(void);
void suite_report(void);
void suite_alpha(void);
void suite_store_delete(void);   /* test_delete.c */
void suite_report_query(void);   /* test_report_query.c */
void suite_conv_block(void);     /* test_conv_block.c: issue #19's fused conv1 */
void suite_pool_rule(void);      /* test_pool_rule.c: pooling before the activation */
void suite_gemm(void);           /* test_gemm.c: gemm_packed, gemm_rows */
void suite_conv(void);           /* test_conv.c: conv's packer paths */

static const struct {
    const char *name;
    void (*fn)(void);
} suites[] = {
    {"base", suite_base},
    {"rng", suite_rng},       {"nn", suite_nn},       {"data", suite_data},
    {"config", suite_config}, {"store", suite_store}, {"train", suite_train},
    {"store_grid", suite_store_grid},
    {"golden", suite_golden},
    {"cluster", suite_cluster},
    {"stats", suite_stats},
    {"bn", suite_bn},
    {"config_train", suite_config_train},
    {"golden_train", suite_golden_train},
    {"act_smooth", suite_act_smooth},
    {"cifar", suite_cifar},
    {"report", suite_report},
    {"alpha", suite_alpha},
    {"store_delete", suite_store_delete},
    {"report_query", suite_report_query},
    {"conv_block", suite_conv_block},
    {"pool_rule", suite_pool_rule},
    {"gemm", suite_gemm},
    {"conv", suite_conv},
};

int main(int argc, char **argv)
{
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++) {
        int wanted = argc < 2;
        for (int a = 1; a < argc; a++)
            wanted |= strcmp(argv[a], suites[i].name) == 0;
        if (!wanted)
            continue;
        printf("# suite %s\n", suites[i].name);
        suites[i].fn();
    }
    printf("%d passed, %d failed\n", tests_passed, tests_failed);
    return tests_failed ? 1 : 0;
}
