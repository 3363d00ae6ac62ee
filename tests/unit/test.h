/* test.h: a tiny test harness. Each suite is a function that runs checks;
 * a failed check prints its place and counts, and the runner exits non-zero
 * if any failed. */
#ifndef SWEEP_TEST_H
#define SWEEP_TEST_H

#include <math.h>
#include <stdio.h>

extern int test_checks_failed;   /* in the current test */
extern const char *test_current;

void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Each test is a function; RUN_TEST counts it passed if no check failed. */
void test_run(const char *name, void (*fn)(void));
#define RUN_TEST(fn) test_run(#fn, fn)

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond))                                                         \
            test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);               \
    } while (0)

#define CHECK_MSG(cond, ...)                                                 \
    do {                                                                     \
        if (!(cond))                                                         \
            test_fail(__FILE__, __LINE__, __VA_ARGS__);                      \
    } while (0)

#define CHECK_INT(a, b)                                                      \
    do {                                                                     \
        long long a_ = (long long)(a), b_ = (long long)(b);                  \
        if (a_ != b_)                                                        \
            test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b,  \
                      a_, b_);                                               \
    } while (0)

/* |a - b| <= tol (absolute). */
#define CHECK_NEAR(a, b, tol)                                                \
    do {                                                                     \
        double a_ = (double)(a), b_ = (double)(b);                           \
        if (!(fabs(a_ - b_) <= (tol)))                                       \
            test_fail(__FILE__, __LINE__, "%s ~ %s: %.9g vs %.9g (tol %g)",  \
                      #a, #b, a_, b_, (double)(tol));                        \
    } while (0)

#define CHECK_STR(a, b)                                                      \
    do {                                                                     \
        const char *a_ = (a), *b_ = (b);                                     \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                               \
            test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a,  \
                      #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");           \
    } while (0)

/* The OpenMP thread count for what follows (a no-op without OpenMP), and
 * the current one (1 without OpenMP): for bit-identity tests. */
void test_set_threads(int n);
int test_max_threads(void);

/* A fresh temporary folder for this test run (made once, removed at exit). */
const char *test_tmpdir(void);

/* Suites, one per source file in tests/unit/. */
void suite_rng(void);
void suite_nn(void);
void suite_data(void);
void suite_config(void);
void suite_store(void);
void suite_train(void);
void suite_golden(void);
void suite_cluster(void);
void suite_stats(void);
void suite_act_smooth(void);

#endif
