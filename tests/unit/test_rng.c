/* Tests of the counter-based RNG. */
#include <string.h>

#include "base/rng.h"
#include "test.h"

static void test_rng_is_a_pure_function_of_its_key(void)
{
    CHECK(rng_u64(1, 2, 3, 4) == rng_u64(1, 2, 3, 4));
    CHECK(rng_u64(1, 2, 3, 4) != rng_u64(1, 2, 3, 5));
    CHECK(rng_u64(1, 2, 3, 4) != rng_u64(1, 2, 4, 4));
    CHECK(rng_u64(1, 2, 3, 4) != rng_u64(1, 3, 3, 4));
    CHECK(rng_u64(1, 2, 3, 4) != rng_u64(2, 2, 3, 4));
    /* swapping two key parts must not collide */
    CHECK(rng_u64(1, 2, 3, 4) != rng_u64(1, 2, 4, 3));
}

static void test_rng_uniform_moments(void)
{
    const int n = 200000;
    double sum = 0, sum2 = 0;
    float lo = 1, hi = 0;
    for (int i = 0; i < n; i++) {
        float u = rng_uniform(7, RNG_DROPOUT, 0, (uint64_t)i);
        sum += u;
        sum2 += (double)u * u;
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
    }
    double mean = sum / n, var = sum2 / n - mean * mean;
    CHECK(lo >= 0.0f && hi < 1.0f);
    CHECK_NEAR(mean, 0.5, 0.005);
    CHECK_NEAR(var, 1.0 / 12, 0.002);
}

static void test_rng_normal_moments(void)
{
    const int n = 200000;
    double sum = 0, sum2 = 0, sum4 = 0;
    for (int i = 0; i < n; i++) {
        double z = rng_normal(3, RNG_INIT, 0, (uint64_t)i);
        sum += z;
        sum2 += z * z;
        sum4 += z * z * z * z;
    }
    CHECK_NEAR(sum / n, 0.0, 0.01);
    CHECK_NEAR(sum2 / n, 1.0, 0.02);
    CHECK_NEAR(sum4 / n, 3.0, 0.1);   /* kurtosis of a normal */
}

void suite_rng(void)
{
    RUN_TEST(test_rng_is_a_pure_function_of_its_key);
    RUN_TEST(test_rng_uniform_moments);
    RUN_TEST(test_rng_normal_moments);
}
