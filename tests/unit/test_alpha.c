/* Tests of alpha per activation in the YAML config (src/sweep/config/alpha.c)
 * and its expansion into runs (grid.c): issue 12. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep/config.h"
#include "sweep/grid.h"
#include "test.h"

static int parse(sweep_config *c, const char *yaml, sw_error *e)
{
    memset(e, 0, sizeof *e);
    return config_parse(c, yaml, strlen(yaml), "t.yaml", e);
}

static int is_zeroed(const sweep_config *c)
{
    static const sweep_config zero;
    return memcmp(c, &zero, sizeof zero) == 0;
}

/* The parse fails with SW_EINPUT and exactly this message, leaving the
 * config zeroed. */
static void check_err_(const char *file, int line, const char *yaml, const char *want)
{
    sweep_config c;
    sw_error e = {0};
    int rc = config_parse(&c, yaml, strlen(yaml), "t.yaml", &e);
    if (rc != SW_EINPUT || e.code != SW_EINPUT) {
        test_fail(file, line, "rc %d, code %d, wanted an error '%s'", rc, e.code, want);
        if (rc == 0)
            config_free(&c);
        return;
    }
    if (strcmp(e.msg, want) != 0)
        test_fail(file, line, "message \"%s\", wanted \"%s\"", e.msg, want);
    if (!is_zeroed(&c))
        test_fail(file, line, "config not zeroed after a failed parse");
}
#define CHECK_ERR(yaml, want) check_err_(__FILE__, __LINE__, yaml, want)

static int expand(const char *yaml, run_settings **runs, int *n, sw_error *e)
{
    sweep_config c;
    int rc = parse(&c, yaml, e);
    if (rc)
        return rc;
    rc = grid_expand(&c, runs, n, e);
    config_free(&c);
    return rc;
}

/* grid.alpha per activation: a map gives each activation its own alphas,
 * one list gives them all the same, and without alpha each takes its
 * table default; activations without alpha run once with none. */
static void expect_alphas(const char *file, int line, const char *yaml, int n_want,
                          const act_kind *acts, const double *alphas)
{
    run_settings *r = NULL;
    int n = 0;
    sw_error e;
    sweep_config c;
    if (parse(&c, yaml, &e) != SW_OK) {
        test_fail(file, line, "parse: %s", e.msg);
        return;
    }
    if (config_grid_count(&c) != n_want)
        test_fail(file, line, "config_grid_count %g, want %d", config_grid_count(&c), n_want);
    if (grid_expand(&c, &r, &n, &e) != SW_OK || n != n_want) {
        test_fail(file, line, "grid_expand: %d runs, want %d (%s)", n, n_want, e.msg);
    } else {
        for (int i = 0; i < n; i++)
            if (r[i].activation != acts[i] ||
                !(isnan(alphas[i]) ? isnan(r[i].alpha) : r[i].alpha == alphas[i]))
                test_fail(file, line, "run %d: %s alpha %g, want %s alpha %g", i,
                          act_name(r[i].activation), r[i].alpha, act_name(acts[i]), alphas[i]);
    }
    free(r);
    config_free(&c);
}
#define EXPECT_ALPHAS(yaml, n, ...)                                                        \
    do {                                                                                   \
        const act_kind acts_[] = {__VA_ARGS__};                                            \
        expect_alphas(__FILE__, __LINE__, yaml, n, acts_, alphas_);                        \
    } while (0)

static void test_config_alpha_per_activation(void)
{
    {
        const double alphas_[] = {NAN, 1.0, 0.01, 0.3, 0.25, NAN};
        EXPECT_ALPHAS("name: x\ngrid:\n  activation: [relu, elu, leaky_relu, prelu, gelu]\n"
                      "  alpha: {elu: [1.0], leaky_relu: [0.01, 0.3], prelu: 0.25}\n",
                      6, ACT_RELU, ACT_ELU, ACT_LEAKY_RELU, ACT_LEAKY_RELU, ACT_PRELU, ACT_GELU);
    }
    {   /* an activation left out of the map takes its default */
        const double alphas_[] = {1.0, 0.1, 0.25};
        EXPECT_ALPHAS("name: x\ngrid:\n  activation: [elu, leaky_relu, prelu]\n"
                      "  alpha: {leaky_relu: [0.1]}\n",
                      3, ACT_ELU, ACT_LEAKY_RELU, ACT_PRELU);
    }
    {   /* no alpha: each its default (elu 1.0, leaky_relu 0.3 as Keras, prelu 0.25) */
        const double alphas_[] = {NAN, 1.0, 0.3, 0.25, NAN, NAN, NAN, NAN, NAN, NAN};
        EXPECT_ALPHAS("name: x\ngrid:\n  activation: [relu, elu, leaky_relu, prelu, selu, gelu,"
                      " silu, mish, tanh, softplus]\n",
                      10, ACT_RELU, ACT_ELU, ACT_LEAKY_RELU, ACT_PRELU, ACT_SELU, ACT_GELU,
                      ACT_SILU, ACT_MISH, ACT_TANH, ACT_SOFTPLUS);
    }
    {   /* one list for all; swish is silu */
        const double alphas_[] = {0.5, 2, 0.5, 2, NAN};
        EXPECT_ALPHAS("name: x\ngrid:\n  activation: [elu, prelu, swish]\n  alpha: [0.5, 2]\n",
                      5, ACT_ELU, ACT_ELU, ACT_PRELU, ACT_PRELU, ACT_SILU);
    }
    {   /* an alias as a map key; the seed still varies fastest */
        const double alphas_[] = {0.2, 0.2, NAN, NAN};
        EXPECT_ALPHAS("name: x\ngrid:\n  activation: [leaky_relu, silu]\n"
                      "  alpha: {leaky_relu: 0.2}\n  seed: [1, 2]\n",
                      4, ACT_LEAKY_RELU, ACT_LEAKY_RELU, ACT_SILU, ACT_SILU);
    }

    /* the alpha axis: every alpha of the grid in order of first appearance */
    sweep_config c;
    sw_error e;
    CHECK_INT(parse(&c, "name: x\ngrid:\n  activation: [prelu, elu, leaky_relu]\n"
                        "  alpha: {elu: [0.5, 0.25], leaky_relu: [0.5, 0.1]}\n", &e), SW_OK);
    if (!e.code) {
        const axis_values *ax = &c.axis[AXIS_ALPHA];
        CHECK_INT(ax->n, 3);
        if (ax->n == 3)
            CHECK(ax->v[0] == 0.25 && ax->v[1] == 0.5 && ax->v[2] == 0.1);
        CHECK(ax->line == 4 && ax->col == 3);
        CHECK_INT(config_alphas(&c, ACT_PRELU)->n, 1);
        CHECK(config_alphas(&c, ACT_PRELU)->v[0] == 0.25);
        CHECK_INT(config_alphas(&c, ACT_LEAKY_RELU)->n, 2);
        CHECK_INT(c.n_warnings, 0);
        config_free(&c);
    }

    /* a run that gives alpha explicitly keeps its key whichever form gave it */
    run_settings *r1 = NULL, *r2 = NULL;
    int n1 = 0, n2 = 0;
    CHECK_INT(expand("name: x\ngrid:\n  activation: [relu, leaky_relu]\n  alpha: [0.1]\n", &r1,
                     &n1, &e), SW_OK);
    CHECK_INT(expand("name: x\ngrid:\n  activation: [relu, leaky_relu]\n"
                     "  alpha: {leaky_relu: 0.1}\n", &r2, &n2, &e), SW_OK);
    CHECK(n1 == 2 && n2 == 2);
    for (int i = 0; i < n1 && i < n2; i++) {
        char k1[RUN_KEY_LEN + 1], k2[RUN_KEY_LEN + 1];
        grid_run_key(&r1[i], 7, k1);
        grid_run_key(&r2[i], 7, k2);
        CHECK_STR(k1, k2);
    }
    free(r1), free(r2);
}

static void test_config_alpha_errors(void)
{
    const char *acts = "name: x\ngrid:\n  activation: [relu, elu, leaky_relu, gelu]\n";
    char yaml[400];
#define ALPHA_ERR(alpha, want)                                                             \
    do {                                                                                   \
        snprintf(yaml, sizeof yaml, "%s  alpha: %s\n", acts, alpha);                      \
        CHECK_ERR(yaml, want);                                                             \
    } while (0)
    ALPHA_ERR("{eluu: [1]}", "t.yaml:4:11: unknown key 'eluu' in alpha (did you mean 'elu'?)");
    ALPHA_ERR("{Leaky_Relu: 0.1}",
              "t.yaml:4:11: unknown key 'Leaky_Relu' in alpha (did you mean 'leaky_relu'?)");
    ALPHA_ERR("{gelu: 0.5}", "t.yaml:4:11: gelu takes no alpha (only elu, leaky_relu, prelu do)");
    ALPHA_ERR("{relu: 0.5}", "t.yaml:4:11: relu takes no alpha (only elu, leaky_relu, prelu do)");
    ALPHA_ERR("{prelu: 0.5}", "t.yaml:4:11: alpha is given for prelu, which is not among the "
                              "grid's activations (relu, elu, leaky_relu, gelu)");
    ALPHA_ERR("{}", "t.yaml:4:10: alpha must not be an empty mapping: give {activation: alphas} "
                    "or one list for every activation that takes alpha");
    ALPHA_ERR("{elu: [0]}",
              "t.yaml:4:17: alpha must be > 0, got 0 (ELU needs alpha > 0, Clevert et al.)");
    ALPHA_ERR("{leaky_relu: -0.1}", "t.yaml:4:23: alpha must be > 0, got -0.1");
    ALPHA_ERR("{elu: 1, elu: 2}", "t.yaml:4:19: duplicate key 'elu' (first given at line 4)");
    ALPHA_ERR("{elu: [1, 1.0]}", "t.yaml:4:20: duplicate value 1.0 in alpha");
    ALPHA_ERR("{elu: []}", "t.yaml:4:16: alpha must not be an empty list");
    ALPHA_ERR("{elu: {x: 1}}", "t.yaml:4:16: alpha must be a value or a list of values, got a "
                               "mapping");
#undef ALPHA_ERR
    /* no activation given: the grid is relu's, which takes none */
    CHECK_ERR("name: x\ngrid:\n  alpha: {elu: 1}\n",
              "t.yaml:3:11: alpha is given for elu, which is not among the grid's activations "
              "(relu, the default)");
    CHECK_ERR("name: x\ngrid:\n  activation: [silu]\n  alpha: {swish: 1}\n",
              "t.yaml:4:11: swish takes no alpha (only elu, leaky_relu, prelu do)");
}

/* leaky_relu at slope 1 is linear: a warning naming the place, never an
 * error, and only where leaky_relu would run at 1. */
static void test_config_alpha_warnings(void)
{
    static const struct {
        const char *yaml;
        const char *want;   /* NULL: no warning */
    } cases[] = {
        {"name: x\ngrid:\n  activation: [elu, leaky_relu]\n  alpha: [0.3, 1.0]\n",
         "t.yaml:4:16: leaky_relu with alpha 1 is linear"},
        {"name: x\ngrid:\n  activation: [elu, leaky_relu]\n  alpha: 1\n",
         "t.yaml:4:10: leaky_relu with alpha 1 is linear"},
        {"name: x\ngrid:\n  activation: [elu, leaky_relu]\n  alpha: {leaky_relu: [0.1, 1]}\n",
         "t.yaml:4:29: leaky_relu with alpha 1 is linear"},
        {"name: x\ngrid:\n  activation: [elu, leaky_relu]\n  alpha: {elu: 1}\n", NULL},
        {"name: x\ngrid:\n  activation: [elu, prelu]\n  alpha: [1]\n", NULL},
        {"name: x\ngrid:\n  activation: [leaky_relu]\n", NULL},
        /* dropped by a rule of activation and alpha alone, or of alpha alone */
        {"name: x\ngrid:\n  activation: [elu, leaky_relu]\n  alpha: [0.3, 1.0]\nexclude:\n"
         "  - {activation: leaky_relu, alpha: 1.0}\n", NULL},
        {"name: x\ngrid:\n  activation: [elu, leaky_relu]\n  alpha: [0.3, 1.0]\nexclude:\n"
         "  - {alpha: 1}\n", NULL},
        /* a rule that drops only some of them leaves the warning */
        {"name: x\ngrid:\n  activation: [elu, leaky_relu]\n  alpha: [0.3, 1.0]\n"
         "  init: [he, glorot]\nexclude:\n  - {activation: leaky_relu, alpha: 1.0, init: he}\n",
         "t.yaml:4:16: leaky_relu with alpha 1 is linear"},
        {"name: x\ngrid:\n  activation: [elu, leaky_relu]\n  alpha: [0.3, 1.0]\nexclude:\n"
         "  - {activation: elu, alpha: 1.0}\n", "t.yaml:4:16: leaky_relu with alpha 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sweep_config c;
        sw_error e;
        if (parse(&c, cases[i].yaml, &e) != SW_OK) {
            CHECK_MSG(0, "case %zu: %s", i, e.msg);
            continue;
        }
        CHECK_INT(c.n_warnings, cases[i].want ? 1 : 0);
        if (cases[i].want && c.n_warnings == 1)
            CHECK_MSG(strncmp(c.warnings[0], cases[i].want, strlen(cases[i].want)) == 0,
                      "case %zu: warning '%s'", i, c.warnings[0]);
        config_free(&c);
        CHECK(is_zeroed(&c));
    }
}

void suite_alpha(void)
{
    RUN_TEST(test_config_alpha_per_activation);
    RUN_TEST(test_config_alpha_errors);
    RUN_TEST(test_config_alpha_warnings);
}
