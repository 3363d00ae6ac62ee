/* Tests of the YAML config (src/sweep/config/) and its expansion into runs (grid.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sweep/config.h"
#include "sweep/grid.h"
#include "test.h"

static const char full_yaml[] =
    "name: elu_vs_relu              # a comment\n"
    "data:\n"
    "  dir: /tmp/fashion\n"
    "  validation_split: 0.1\n"
    "  train_limit: 5000\n"
    "train:\n"
    "  batch_size: 128\n"
    "  optimizer: sgd\n"
    "  learning_rate: 1e-2\n"
    "grid:\n"
    "  activation: [relu, elu, leaky_relu, prelu]\n"
    "  alpha: [0.5, 1.0]\n"
    "  init: [he, glorot]\n"
    "  dropout: [0, 0.25]\n"
    "  epochs: 3\n"
    "  seed: [1, 2, 3]\n"
    "exclude:\n"
    "  - {activation: prelu, init: glorot}\n"
    "  - alpha: 0.5\n"
    "    dropout: 0\n";

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

/* The parse fails with SW_EINPUT and exactly this message (prefix: only
 * its start), leaving the config zeroed. */
static void check_err_(const char *file, int line, const char *yaml, size_t len,
                       const char *want, int prefix)
{
    sweep_config c;
    sw_error e = {0};
    int rc = config_parse(&c, yaml, len, "t.yaml", &e);
    if (rc != SW_EINPUT || e.code != SW_EINPUT) {
        test_fail(file, line, "rc %d, code %d, wanted an error '%s'", rc, e.code, want);
        if (rc == 0)
            config_free(&c);
        return;
    }
    int ok = prefix ? strncmp(e.msg, want, strlen(want)) == 0 : strcmp(e.msg, want) == 0;
    if (!ok)
        test_fail(file, line, "message \"%s\", wanted %s\"%s\"", e.msg,
                  prefix ? "a start " : "", want);
    if (!is_zeroed(&c))
        test_fail(file, line, "config not zeroed after a failed parse");
}
#define CHECK_ERR(yaml, want) check_err_(__FILE__, __LINE__, yaml, strlen(yaml), want, 0)
#define CHECK_ERR_START(yaml, want) check_err_(__FILE__, __LINE__, yaml, strlen(yaml), want, 1)

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

/* ------------------------------------------------------------------ */

static void test_config_full(void)
{
    sweep_config c;
    sw_error e;
    int rc = parse(&c, full_yaml, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    if (rc)
        return;
    CHECK_STR(c.path, "t.yaml");
    CHECK_STR(c.text, full_yaml);
    CHECK_STR(c.name, "elu_vs_relu");
    CHECK_STR(c.data_dir, "/tmp/fashion");
    CHECK(c.validation_split == 0.1);
    CHECK_INT(c.train_limit, 5000);
    CHECK_INT(c.axis[AXIS_OPTIMIZER].v[0], OPT_SGD);

    const axis_values *ax = c.axis;
    CHECK_INT(ax[AXIS_ACTIVATION].n, 4);
    for (int i = 0; i < 4 && i < ax[AXIS_ACTIVATION].n; i++)
        CHECK(ax[AXIS_ACTIVATION].v[i] == i);   /* relu, elu, leaky_relu, prelu */
    CHECK_INT(ax[AXIS_ACTIVATION].line, 11);
    CHECK_INT(ax[AXIS_ACTIVATION].col, 3);
    CHECK_INT(ax[AXIS_ALPHA].n, 2);
    CHECK(ax[AXIS_ALPHA].v[0] == 0.5 && ax[AXIS_ALPHA].v[1] == 1.0);
    CHECK_INT(ax[AXIS_INIT].n, 2);
    CHECK(ax[AXIS_INIT].v[0] == INIT_HE && ax[AXIS_INIT].v[1] == INIT_GLOROT);
    CHECK_INT(ax[AXIS_DROPOUT].n, 2);
    CHECK(ax[AXIS_DROPOUT].v[0] == 0 && ax[AXIS_DROPOUT].v[1] == 0.25);
    CHECK_INT(ax[AXIS_EPOCHS].n, 1);
    CHECK(ax[AXIS_EPOCHS].v[0] == 3);
    CHECK_INT(ax[AXIS_BATCH_SIZE].n, 1);
    CHECK(ax[AXIS_BATCH_SIZE].v[0] == 128);
    CHECK_INT(ax[AXIS_BATCH_SIZE].line, 7);    /* given in train: */
    CHECK_INT(ax[AXIS_LEARNING_RATE].n, 1);
    CHECK(ax[AXIS_LEARNING_RATE].v[0] == 0.01);
    CHECK_INT(ax[AXIS_SEED].n, 3);
    CHECK(ax[AXIS_SEED].v[0] == 1 && ax[AXIS_SEED].v[2] == 3);

    CHECK_INT(c.n_exclude, 2);
    if (c.n_exclude == 2) {
        CHECK_INT(c.exclude[0].mask, (1u << AXIS_ACTIVATION) | (1u << AXIS_INIT));
        CHECK(c.exclude[0].v[AXIS_ACTIVATION] == ACT_PRELU);
        CHECK(c.exclude[0].v[AXIS_INIT] == INIT_GLOROT);
        CHECK_INT(c.exclude[1].mask, (1u << AXIS_ALPHA) | (1u << AXIS_DROPOUT));
        CHECK(c.exclude[1].v[AXIS_ALPHA] == 0.5 && c.exclude[1].v[AXIS_DROPOUT] == 0);
    }
    config_free(&c);
    CHECK(is_zeroed(&c));
    config_free(&c);   /* twice is harmless */
}

static void test_config_defaults(void)
{
    const char *old = getenv("SWEEP_DATA");
    char *saved = old ? strdup(old) : NULL;
    sweep_config c;
    sw_error e;

    unsetenv("SWEEP_DATA");
    CHECK_INT(parse(&c, "name: x\n", &e), 0);
    CHECK_STR(c.data_dir, DEFAULT_DATA_DIR);
    CHECK(c.validation_split == 0.2);
    CHECK_INT(c.train_limit, 0);
    CHECK_INT(c.axis[AXIS_OPTIMIZER].v[0], OPT_ADAM);
    CHECK_INT(c.n_exclude, 0);
    static const double want[AXIS_COUNT] = {
        [AXIS_ACTIVATION] = ACT_RELU, [AXIS_ALPHA] = 1.0, [AXIS_MODEL] = 0, [AXIS_INIT] = INIT_HE,
        [AXIS_DROPOUT] = 0.25, [AXIS_EPOCHS] = 25, [AXIS_BATCH_SIZE] = 250,
        [AXIS_LEARNING_RATE] = 0.001, [AXIS_SEED] = 1};
    for (int a = 0; a < AXIS_COUNT; a++) {
        CHECK_INT(c.axis[a].n, 1);
        CHECK_MSG(c.axis[a].n == 1 && c.axis[a].v[0] == want[a], "default of %s",
                  axis_name((axis_id)a));
        CHECK_INT(c.axis[a].line, 0);
    }
    config_free(&c);

    setenv("SWEEP_DATA", "/data/from/env", 1);
    CHECK_INT(parse(&c, "name: x\ndata:\ngrid:\ntrain:\nexclude:\n", &e), 0);
    CHECK_STR(c.data_dir, "/data/from/env");
    config_free(&c);
    CHECK_INT(parse(&c, "name: x\ndata: {dir: here}\n", &e), 0);
    CHECK_STR(c.data_dir, "here");
    config_free(&c);

    if (saved)
        setenv("SWEEP_DATA", saved, 1);
    else
        unsetenv("SWEEP_DATA");
    free(saved);
}

static void test_config_scalar_and_list_axes(void)
{
    const char *forms[] = {
        "name: x\ngrid:\n  dropout: 0.5\n  activation: elu\n",
        "name: x\ngrid:\n  dropout: [0.5]\n  activation: [elu]\n",
        "name: x\ngrid:\n  dropout:\n    - 0.5\n  activation:\n  - \"elu\"\n",
        "{name: x, grid: {dropout: [5e-1], activation: ['elu']}}\n",
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        sweep_config c;
        sw_error e;
        int rc = parse(&c, forms[i], &e);
        CHECK_MSG(rc == 0, "form %zu: %s", i, e.msg);
        if (rc)
            continue;
        CHECK(c.axis[AXIS_DROPOUT].n == 1 && c.axis[AXIS_DROPOUT].v[0] == 0.5);
        CHECK(c.axis[AXIS_ACTIVATION].n == 1 && c.axis[AXIS_ACTIVATION].v[0] == ACT_ELU);
        config_free(&c);
    }

    /* quoted numbers are numbers; CRLF line ends are fine */
    sweep_config q;
    sw_error qe;
    CHECK_INT(parse(&q, "name: x\r\ngrid:\r\n  epochs: \"5\"\r\n  dropout: '0'\r\n", &qe), 0);
    CHECK(q.axis[AXIS_EPOCHS].v[0] == 5 && q.axis[AXIS_DROPOUT].v[0] == 0);
    config_free(&q);

    /* batch_size and learning_rate as grid axes */
    sweep_config c;
    sw_error e;
    CHECK_INT(parse(&c, "name: x\ngrid:\n  batch_size: [32, 64]\n  learning_rate: [0.1, 1e-3]\n",
                    &e), 0);
    CHECK(c.axis[AXIS_BATCH_SIZE].n == 2 && c.axis[AXIS_BATCH_SIZE].v[1] == 64);
    CHECK(c.axis[AXIS_LEARNING_RATE].n == 2 && c.axis[AXIS_LEARNING_RATE].v[1] == 0.001);
    config_free(&c);
}

static void test_config_seed_range(void)
{
    sweep_config c;
    sw_error e;
    CHECK_INT(parse(&c, "name: x\ngrid:\n  seed: {from: 3, to: 7}\n", &e), 0);
    CHECK_INT(c.axis[AXIS_SEED].n, 5);
    for (int i = 0; i < c.axis[AXIS_SEED].n; i++)
        CHECK(c.axis[AXIS_SEED].v[i] == 3 + i);
    config_free(&c);

    CHECK_INT(parse(&c, "name: x\ngrid:\n  seed:\n    to: 4\n    from: 4\n", &e), 0);
    CHECK(c.axis[AXIS_SEED].n == 1 && c.axis[AXIS_SEED].v[0] == 4);
    config_free(&c);

    /* the largest seed is 2^53, exact in a double */
    CHECK_INT(parse(&c, "name: x\ngrid:\n  seed: {from: 9007199254740991, to: 9007199254740992}\n",
                    &e), 0);
    CHECK(c.axis[AXIS_SEED].n == 2 && c.axis[AXIS_SEED].v[1] == 9007199254740992.0);
    config_free(&c);

    CHECK_ERR("name: x\ngrid:\n  seed: {from: 1}\n",
              "t.yaml:3:9: a seed range needs 'from' and 'to', like {from: 1, to: 10}");
    CHECK_ERR("name: x\ngrid:\n  seed: {from: 5, to: 1}\n",
              "t.yaml:3:23: the seed range is empty: 'to' (1) is less than 'from' (5)");
    CHECK_ERR("name: x\ngrid:\n  seed: {from: 1, to: 100001}\n",
              "t.yaml:3:9: the seed range has 100001 values, more than the limit of 100000");
    CHECK_ERR("name: x\ngrid:\n  seed: {form: 1, to: 2}\n",
              "t.yaml:3:10: unknown key 'form' in seed range (did you mean 'from'?)");
    CHECK_ERR("name: x\ngrid:\n  seed: {from: -1, to: 2}\n",
              "t.yaml:3:16: seed must be an integer in [0, 9007199254740992], got -1");
    CHECK_ERR("name: x\ngrid:\n  dropout: {from: 0, to: 1}\n",
              "t.yaml:3:12: dropout must be a value or a list of values, got a mapping");
}

static void test_config_value_errors(void)
{
    /* the documented example message: dropout 1.5 at line 7, column 12 */
    const char *spec_example = "name: x\n\n\n\n\ngrid:\n  dropout: 1.5\n";
    sweep_config c;
    sw_error e = {0};
    CHECK_INT(config_parse(&c, spec_example, strlen(spec_example), "configs/x.yaml", &e),
              SW_EINPUT);
    CHECK_STR(e.msg, "configs/x.yaml:7:12: dropout must be in [0, 1), got 1.5");

    CHECK_ERR("name: x\ngrid:\n  epochs: ten\n",
              "t.yaml:3:11: epochs must be a positive integer, got 'ten'");
    CHECK_ERR("name: x\ngrid:\n  epochs: [5, 2.5]\n",
              "t.yaml:3:15: epochs must be a positive integer, got '2.5'");
    CHECK_ERR("name: x\ngrid:\n  epochs: 0\n",
              "t.yaml:3:11: epochs must be a positive integer, got 0");
    CHECK_ERR("name: x\ngrid:\n  epochs: 100001\n",
              "t.yaml:3:11: epochs must be at most 100000, got 100001");
    CHECK_ERR("name: x\ngrid:\n  batch_size: 65537\n",
              "t.yaml:3:15: batch_size must be at most 65536, got 65537");
    CHECK_ERR("name: x\ngrid:\n  dropout: -0.1\n",
              "t.yaml:3:12: dropout must be in [0, 1), got -0.1");
    CHECK_ERR("name: x\ngrid:\n  dropout: 1\n", "t.yaml:3:12: dropout must be in [0, 1), got 1");
    CHECK_ERR("name: x\ngrid:\n  dropout: [[0.1]]\n",
              "t.yaml:3:13: dropout values must be single values, got a list");
    CHECK_ERR("name: x\ngrid:\n  dropout: nan\n",
              "t.yaml:3:12: dropout must be a number in [0, 1), got 'nan'");
    CHECK_ERR("name: x\ngrid:\n  dropout: .inf\n",
              "t.yaml:3:12: dropout must be a number in [0, 1), got '.inf'");
    CHECK_ERR("name: x\ngrid:\n  dropout: 0x0.8p0\n",
              "t.yaml:3:12: dropout must be a number in [0, 1), got '0x0.8p0'");
    CHECK_ERR("name: x\ngrid:\n  dropout:\n",
              "t.yaml:3:11: dropout has no value: give a value or a list, or leave the key out");
    CHECK_ERR("name: x\ngrid:\n  dropout: []\n", "t.yaml:3:12: dropout must not be an empty list");
    CHECK_ERR("name: x\ngrid:\n  activation: [elu, relu6]\n",
              "t.yaml:3:21: activation must be one of relu, elu, leaky_relu, prelu, selu, gelu, "
              "silu, mish, tanh, softplus, got 'relu6' (did you mean 'relu'?)");
    CHECK_ERR("name: x\ngrid:\n  activation: ReLU\n",
              "t.yaml:3:15: activation must be one of relu, elu, leaky_relu, prelu, selu, gelu, "
              "silu, mish, tanh, softplus, got 'ReLU' (did you mean 'relu'?)");
    CHECK_ERR("name: x\ngrid:\n  activation: leaky-relu\n",
              "t.yaml:3:15: activation must be one of relu, elu, leaky_relu, prelu, selu, gelu, "
              "silu, mish, tanh, softplus, got 'leaky-relu' (did you mean 'leaky_relu'?)");
    CHECK_ERR("name: x\ngrid:\n  init: xavier\n",
              "t.yaml:3:9: init must be one of he, glorot, lecun, got 'xavier'");
    CHECK_ERR("name: x\ngrid:\n  learning_rate: 0\n",
              "t.yaml:3:18: learning_rate must be > 0, got 0");
    /* alpha > 0 always; the message cites ELU when the grid has it */
    CHECK_ERR("name: x\ngrid:\n  activation: [relu, elu]\n  alpha: [1, 0]\n",
              "t.yaml:4:14: alpha must be > 0, got 0 (ELU needs alpha > 0, Clevert et al.)");
    CHECK_ERR("name: x\ngrid:\n  alpha: -0.5\n  activation: leaky_relu\n",
              "t.yaml:3:10: alpha must be > 0, got -0.5");
    CHECK_ERR("name: x\ndata:\n  validation_split: 0\n",
              "t.yaml:3:21: validation_split must be in (0, 1), got 0");
    CHECK_ERR("name: x\ndata:\n  train_limit: -1\n",
              "t.yaml:3:16: train_limit must be an integer >= 0, got -1");
    CHECK_ERR("name: x\ndata:\n  dir: ''\n",
              "t.yaml:3:8: dir must be a non-empty string, got ''");
    CHECK_ERR("name: x\ntrain:\n  optimizer: nadam\n",
              "t.yaml:3:14: optimizer must be one of adam, sgd, adamw, rmsprop, got 'nadam' "
              "(did you mean 'adam'?)");
    CHECK_ERR("name: x\ntrain:\n  batch_size: [1, 2]\n",
              "t.yaml:3:15: train.batch_size must be a single value, got a list "
              "(to try several, put it under grid:)");
    CHECK_ERR("name: x\ntrain:\n  batch_size: 100\ngrid:\n  batch_size: [100, 200]\n",
              "t.yaml:5:3: batch_size is set in both train (line 3) and grid; keep one");
    CHECK_ERR("name: x\ntrain: {learning_rate: 0.1}\ngrid: {learning_rate: 0.2}\n",
              "t.yaml:3:8: learning_rate is set in both train (line 2) and grid; keep one");
    CHECK_ERR("name: x\ngrid:\n  dropout: [0.1, 0.25, 0.1]\n",
              "t.yaml:3:24: duplicate value 0.1 in dropout");
    CHECK_ERR("name: x\ngrid:\n  activation: [elu, relu, elu]\n",
              "t.yaml:3:27: duplicate value elu in activation");
    CHECK_ERR("name: x\ngrid:\n  dropout: [0.5, 5e-1]\n",
              "t.yaml:3:18: duplicate value 5e-1 in dropout");
}

static void test_config_structure_errors(void)
{
    CHECK_ERR("", "t.yaml:1:1: the config is empty (it needs at least a 'name')");
    CHECK_ERR("# nothing but a comment\n",
              "t.yaml:1:1: the config is empty (it needs at least a 'name')");
    CHECK_ERR("- a\n- b\n", "t.yaml:1:1: the config must be a mapping of settings "
                            "(name, data, train, model, grid, exclude), got a list");
    CHECK_ERR("hello\n", "t.yaml:1:1: the config must be a mapping of settings "
                         "(name, data, train, model, grid, exclude), got 'hello'");
    CHECK_ERR("name: x\n---\nname: y\n",
              "t.yaml:2:1: a config holds one YAML document, found a second one");
    CHECK_ERR("grid: {}\n", "t.yaml:1:1: missing required key 'name'");
    CHECK_ERR("name:\n", "t.yaml:1:6: name must be a non-empty string, got nothing");
    CHECK_ERR("name: [a]\n", "t.yaml:1:7: name must be a non-empty string, got a list");
    CHECK_ERR("name: \"a\\nb\"\n", "t.yaml:1:7: name must be one line without control characters");
    CHECK_ERR("name: x\ngrid: [relu]\n",
              "t.yaml:2:7: grid must be a mapping of settings, got a list");
    CHECK_ERR("name: x\ndata: 5\n", "t.yaml:2:7: data must be a mapping of settings, got '5'");
    CHECK_ERR("? [a]\n: 1\n", "t.yaml:1:3: keys must be names, got a list");
    CHECK_ERR("name: !!str x\n", "t.yaml:1:7: YAML tags are not supported (tag:yaml.org,2002:str)");
    CHECK_ERR("name: x\ngrid: !custom {}\n", "t.yaml:2:7: YAML tags are not supported (!custom)");
    /* syntax errors: libyaml's words at libyaml's mark, 1-based */
    CHECK_ERR("name: x\ngrid:\n  activation: [relu, elu\n",
              "t.yaml:4:1: YAML syntax error: did not find expected ',' or ']' "
              "(while parsing a flow sequence at line 3, column 15)");
    CHECK_ERR_START("name: x\n\tgrid: 1\n", "t.yaml:2:1: YAML syntax error: ");
    CHECK_ERR_START("name: x\n  bad: [\n", "t.yaml:2:");

    char name[600];
    memset(name, 'n', 200);
    memcpy(name, "name: ", 6);
    memset(name + 6, 'n', 201);
    strcpy(name + 207, "\n");
    CHECK_ERR(name, "t.yaml:1:7: name is 201 characters long, more than the limit of 200");
    /* 200 two-byte characters are 200 characters */
    strcpy(name, "name: ");
    for (int i = 0; i < 200; i++)
        strcat(name, "\xc3\xa9");
    sweep_config c;
    sw_error e;
    CHECK_INT(parse(&c, name, &e), 0);
    config_free(&c);
}

static void test_config_unknown_and_duplicate_keys(void)
{
    CHECK_ERR("name: x\ngrid:\n  dropuot: 0.5\n",
              "t.yaml:3:3: unknown key 'dropuot' in grid (did you mean 'dropout'?)");
    CHECK_ERR("name: x\ngird:\n  seed: 1\n", "t.yaml:2:1: unknown key 'gird' (did you mean 'grid'?)");
    CHECK_ERR("name: x\ngrid:\n  Dropout: 0.5\n",
              "t.yaml:3:3: unknown key 'Dropout' in grid (did you mean 'dropout'?)");
    CHECK_ERR("name: x\ngrid:\n  learning: 0.5\n",
              "t.yaml:3:3: unknown key 'learning' in grid (did you mean 'learning_rate'?)");
    CHECK_ERR("name: x\ngrid:\n  seeds: 1\n",
              "t.yaml:3:3: unknown key 'seeds' in grid (did you mean 'seed'?)");
    CHECK_ERR("name: x\ntrain:\n  lr: 0.1\n",
              "t.yaml:3:3: unknown key 'lr' in train (expected one of: batch_size, optimizer, "
              "learning_rate, momentum, weight_decay, lr_schedule, nesterov, early_stopping)");
    CHECK_ERR("name: x\ndata:\n  path: /x\n",
              "t.yaml:3:3: unknown key 'path' in data (expected one of: dir, format, label, "
              "validation_split, train_limit, val_limit, test_limit, augment)");
    CHECK_ERR("name: x\nmodle: {conv: [8]}\n",
              "t.yaml:2:1: unknown key 'modle' (did you mean 'model'?)");
    CHECK_ERR("name: x\nmodel: cnn\n",
              "t.yaml:2:8: a model must be a mapping like {conv: [32, 64], dense: [256]}, "
              "got 'cnn'");
    CHECK_ERR("name: x\ngrid:\n  seed: 1\n  dropout: 0.5\n  seed: 2\n",
              "t.yaml:5:3: duplicate key 'seed' (first given at line 3)");
    CHECK_ERR("name: x\nname: y\n", "t.yaml:2:1: duplicate key 'name' (first given at line 1)");
}

static void test_config_exclude_errors(void)
{
    CHECK_ERR("name: x\nexclude: {activation: relu}\n",
              "t.yaml:2:10: exclude must be a list of rules like "
              "'- {activation: prelu, init: glorot}', got a mapping");
    CHECK_ERR("name: x\nexclude:\n  - relu\n",
              "t.yaml:3:5: each exclude rule must be a mapping like "
              "{activation: prelu, init: glorot}, got 'relu'");
    CHECK_ERR("name: x\nexclude:\n  - {}\n",
              "t.yaml:3:5: an empty exclude rule would exclude every run");
    CHECK_ERR("name: x\nexclude:\n  - {activaton: elu}\n",
              "t.yaml:3:6: unknown key 'activaton' in exclude (did you mean 'activation'?)");
    CHECK_ERR("name: x\nexclude:\n  - {validation_split: 0.5}\n",
              "t.yaml:3:6: unknown key 'validation_split' in exclude (expected one of: "
              "activation, alpha, model, batchnorm, init, dropout, epochs, batch_size, optimizer, "
              "learning_rate, momentum, weight_decay, lr_schedule, seed)");
    CHECK_ERR("name: x\nexclude:\n  - {dropout: [0.1, 0.2]}\n",
              "t.yaml:3:15: exclude values must be single values, got a list");
    CHECK_ERR("name: x\nexclude:\n  - {dropout: 2}\n",
              "t.yaml:3:15: dropout must be in [0, 1), got 2");
    CHECK_ERR("name: x\nexclude:\n  - {activation: relu, alpha: 0.5}\n",
              "t.yaml:3:24: this rule can never match: relu runs have no alpha");
}

static void test_config_aliases_refused(void)
{
    CHECK_ERR("name: &n x\ngrid:\n  seed: *n\n", "t.yaml:3:9: aliases are not supported (*n)");

    /* "billion laughs": nine levels of ten aliases each */
    char buf[4096];
    size_t o = (size_t)snprintf(buf, sizeof buf, "name: lol\nl0: &l0 [lol, lol, lol]\n");
    for (int i = 1; i < 10; i++) {
        o += (size_t)snprintf(buf + o, sizeof buf - o, "l%d: &l%d [", i, i);
        for (int k = 0; k < 10; k++)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%s*l%d", k ? ", " : "", i - 1);
        o += (size_t)snprintf(buf + o, sizeof buf - o, "]\n");
    }
    clock_t t0 = clock();
    CHECK_ERR(buf, "t.yaml:3:10: aliases are not supported (*l0)");
    CHECK((double)(clock() - t0) / CLOCKS_PER_SEC < 0.5);
}

static void test_config_deep_nesting(void)
{
    const size_t n = 10000;
    char *buf = malloc(2 * n + 32);
    if (!buf)
        return;
    memset(buf, '[', n);
    buf[n] = '\0';
    CHECK_ERR(buf, "t.yaml:1:33: nesting is too deep (more than 32 levels)");
    memset(buf, '{', n);
    CHECK_ERR(buf, "t.yaml:1:33: nesting is too deep (more than 32 levels)");
    strcpy(buf, "name: x\ngrid:\n  dropout: ");
    size_t o = strlen(buf);
    for (size_t i = 0; i < n; i++)
        buf[o++] = i % 2 ? '[' : '{';
    buf[o] = '\0';
    CHECK_ERR_START(buf, "t.yaml:3:");
    /* block nesting, "- - - - ..." */
    strcpy(buf, "name: x\ngrid:\n  dropout: ");
    o = strlen(buf);
    for (size_t i = 0; o + 2 * (i + 1) + 1 < 2 * n; i++) {
        buf[o++] = '\n';
        for (size_t k = 0; k < 2 * i; k++)
            buf[o++] = ' ';
        buf[o++] = '-';
    }
    buf[o] = '\0';
    CHECK_ERR_START(buf, "t.yaml:");
    free(buf);
}

static void test_config_bad_bytes(void)
{
    CHECK_ERR("name: x\ngrid:\n  activation: \xff\n",
              "t.yaml:3:15: invalid leading UTF-8 octet (0xFF); the file must be UTF-8 text");
    CHECK_ERR_START("name: \"x\xc3\"\n", "t.yaml:1:");
    /* UTF-16 with its byte order mark is not taken for UTF-8 */
    CHECK_ERR_START("\xff\xfen\0a\0m\0e\0", "t.yaml:1:1: ");
    /* a NUL byte, as in a binary file */
    static const char nul[] = "name: x\n\0grid: 1\n";
    check_err_(__FILE__, __LINE__, nul, sizeof nul - 1,
               "t.yaml:2:1: control characters are not allowed (0x0); the file must be UTF-8 text",
               0);
    /* a UTF-8 byte order mark is fine */
    sweep_config c;
    sw_error e;
    CHECK_INT(parse(&c, "\xef\xbb\xbfname: bom\n", &e), 0);
    CHECK_STR(c.name, "bom");
    config_free(&c);
    /* text need not be NUL-terminated: only len bytes are read */
    memset(&e, 0, sizeof e);
    CHECK_INT(config_parse(&c, "name: abcdef", 9, "t.yaml", &e), 0);
    CHECK_STR(c.name, "abc");
    CHECK_STR(c.text, "name: abc");
    config_free(&c);
}

static void test_config_huge_numbers(void)
{
    CHECK_ERR("name: x\ngrid:\n  learning_rate: 1e400\n",
              "t.yaml:3:18: learning_rate must be a finite number > 0, got 1e400");
    CHECK_ERR("name: x\ngrid:\n  alpha: -1e400\n",
              "t.yaml:3:10: alpha must be a finite number > 0, got -1e400");
    CHECK_ERR("name: x\ngrid:\n  learning_rate: 1e-400\n",
              "t.yaml:3:18: learning_rate must be > 0, got 1e-400");
    CHECK_ERR("name: x\ngrid:\n  seed: 99999999999999999999\n",
              "t.yaml:3:9: seed must be at most 9007199254740992, got 99999999999999999999");
    CHECK_ERR("name: x\ngrid:\n  seed: 9007199254740993\n",
              "t.yaml:3:9: seed must be at most 9007199254740992, got 9007199254740993");
    CHECK_ERR("name: x\ngrid:\n  epochs: -99999999999999999999\n",
              "t.yaml:3:11: epochs must be a positive integer, got -99999999999999999999");
    CHECK_ERR("name: x\ndata:\n  train_limit: 1e3\n",
              "t.yaml:3:16: train_limit must be an integer >= 0, got '1e3'");
}

static void test_config_name_taken_literally(void)
{
    const char *names[] = {
        "name: \"x'); DROP TABLE sweeps; --\"\n", "x'); DROP TABLE sweeps; --",
        "name: a' OR '1'='1\n", "a' OR '1'='1",
        "name: \"%s%n\"\n", "%s%n",
        "name: 2024\n", "2024",
        "name: yes\n", "yes",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i += 2) {
        sweep_config c;
        sw_error e;
        int rc = parse(&c, names[i], &e);
        CHECK_MSG(rc == 0, "%s", e.msg);
        if (rc)
            continue;
        CHECK_STR(c.name, names[i + 1]);
        config_free(&c);
    }
}

static void test_config_grid_too_large(void)
{
    CHECK_ERR("name: x\ngrid:\n  dropout: [0.1, 0.2]\n  seed: {from: 1, to: 100000}\n",
              "t.yaml:2:1: the grid expands to 200000 runs, more than the limit of 100000");
    CHECK_ERR("name: x\ngrid: {activation: [elu, prelu], alpha: [1, 2, 3, 4], init: [he, glorot], "
              "dropout: [0, 0.1, 0.2, 0.3, 0.4, 0.5], epochs: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "
              "seed: {from: 0, to: 99999}}\n",
              "t.yaml:2:1: the grid expands to 96000000 runs, more than the limit of 100000");

    /* exactly the limit is fine, and relu counts once whatever the alphas */
    run_settings *runs = NULL;
    int n = 0;
    sw_error e;
    clock_t t0 = clock();
    int rc = expand("name: x\ngrid:\n  activation: relu\n  alpha: [1, 2, 3]\n"
                    "  seed: {from: 1, to: 100000}\n", &runs, &n, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    CHECK_INT(n, 100000);
    if (rc == 0)
        CHECK(runs[0].seed == 1 && runs[99999].seed == 100000 && isnan(runs[5].alpha));
    CHECK((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0);
    free(runs);

    /* 100000 listed seeds, with a repeat at the end: found without O(n^2) */
    size_t cap = 100000 * 8 + 64;
    char *buf = malloc(cap);
    if (!buf)
        return;
    size_t o = (size_t)snprintf(buf, cap, "name: x\ngrid:\n  seed: [");
    for (int i = 0; i < 100000; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%d", i ? "," : "", i == 99999 ? 7 : i);
    snprintf(buf + o, cap - o, "]\n");
    t0 = clock();
    CHECK_ERR_START(buf, "t.yaml:3:");
    {
        sweep_config c;
        parse(&c, buf, &e);
        CHECK(strstr(e.msg, "duplicate value 7 in seed") != NULL);
    }
    CHECK((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0);
    free(buf);
}

static void test_config_size_limits(void)
{
    /* more YAML values than any legal grid needs */
    size_t n = 250001, cap = 2 * n + 64;
    char *buf = malloc(5 << 20);
    if (!buf)
        return;
    size_t o = (size_t)snprintf(buf, cap, "name: x\ngrid:\n  seed: [");
    for (size_t i = 0; i < n; i++) {
        buf[o++] = '1';
        buf[o++] = ',';
    }
    strcpy(buf + o, "1]\n");
    CHECK_ERR_START(buf, "t.yaml:3:");
    sweep_config c;
    sw_error e;
    parse(&c, buf, &e);
    CHECK(strstr(e.msg, "too many YAML values (more than 250000)") != NULL);

    /* more than 4 MiB */
    memset(buf, ' ', 5 << 20);
    buf[(5 << 20) - 1] = '\0';
    CHECK_ERR(buf, "t.yaml: the config is larger than 4 MiB");
    free(buf);
}

static void test_config_load_file(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/grid.yaml", test_tmpdir());
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs(full_yaml, f);
    fclose(f);

    sweep_config c;
    sw_error e = {0};
    CHECK_INT(config_load(&c, path, &e), 0);
    CHECK_STR(c.path, path);
    CHECK_STR(c.text, full_yaml);
    CHECK_STR(c.name, "elu_vs_relu");
    config_free(&c);

    char want[700];
    snprintf(path, sizeof path, "%s/missing.yaml", test_tmpdir());
    snprintf(want, sizeof want, "%s: cannot read: No such file or directory", path);
    memset(&e, 0, sizeof e);
    CHECK_INT(config_load(&c, path, &e), SW_EINPUT);
    CHECK_STR(e.msg, want);
    CHECK(is_zeroed(&c));

    snprintf(want, sizeof want, "%s: cannot read: Is a directory", test_tmpdir());
    memset(&e, 0, sizeof e);
    CHECK_INT(config_load(&c, test_tmpdir(), &e), SW_EINPUT);
    CHECK_STR(e.msg, want);

    /* errors from a file name the file */
    snprintf(path, sizeof path, "%s/bad.yaml", test_tmpdir());
    f = fopen(path, "wb");
    if (!f)
        return;
    fputs("name: x\ngrid:\n  dropout: 1.5\n", f);
    fclose(f);
    snprintf(want, sizeof want, "%s:3:12: dropout must be in [0, 1), got 1.5", path);
    memset(&e, 0, sizeof e);
    CHECK_INT(config_load(&c, path, &e), SW_EINPUT);
    CHECK_STR(e.msg, want);
    CHECK(is_zeroed(&c));
}

/* Every prefix of a valid config, and every byte replaced by a few nasty
 * ones, parses or fails cleanly (the sanitizer builds check for leaks). */
static void test_config_never_crashes(void)
{
    size_t len = strlen(full_yaml);
    char *buf = malloc(len + 1);
    static const char nasty[] = {'\0', '\xff', '[', '{', ':', '&', '*', '!', '\n', '"', '-', '9'};
    int bad = 0;
    if (!buf)
        return;
    for (size_t cut = 0; cut <= len; cut++) {
        sweep_config c;
        sw_error e = {0};
        int rc = config_parse(&c, full_yaml, cut, "t.yaml", &e);
        if (rc == 0) {
            run_settings *runs;
            int n;
            if (grid_expand(&c, &runs, &n, &e) == 0)
                free(runs);
            config_free(&c);
        } else {
            bad += rc != SW_EINPUT || strncmp(e.msg, "t.yaml:", 7) != 0 || !is_zeroed(&c);
        }
    }
    for (size_t i = 0; i < len; i++)
        for (size_t k = 0; k < sizeof nasty; k++) {
            memcpy(buf, full_yaml, len);
            buf[i] = nasty[k];
            sweep_config c;
            sw_error e = {0};
            int rc = config_parse(&c, buf, len, "t.yaml", &e);
            if (rc == 0) {
                run_settings *runs;
                int n;
                if (grid_expand(&c, &runs, &n, &e) == 0)
                    free(runs);
                config_free(&c);
            } else {
                bad += rc != SW_EINPUT || strncmp(e.msg, "t.yaml", 6) != 0 || !is_zeroed(&c);
            }
        }
    CHECK_INT(bad, 0);
    free(buf);
}

/* ------------------------------------------------------------------ */
/* grid.c                                                              */

static void test_grid_order_and_count(void)
{
    run_settings *r = NULL;
    int n = 0;
    sw_error e;
    int rc = expand("name: x\ndata: {validation_split: 0.1, train_limit: 99}\n"
                    "train: {optimizer: sgd}\n"
                    "grid:\n  seed: [1, 2, 3]\n  dropout: [0.1, 0.2]\n  activation: [relu, elu]\n",
                    &r, &n, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    CHECK_INT(n, 12);
    if (n != 12)
        return;
    /* activation slowest, then dropout, seed fastest, whatever the file's order */
    for (int i = 0; i < 12; i++) {
        CHECK_INT(r[i].activation, i < 6 ? ACT_RELU : ACT_ELU);
        CHECK(r[i].dropout == (i % 6 < 3 ? 0.1 : 0.2));
        CHECK_INT(r[i].seed, i % 3 + 1);
        CHECK(i < 6 ? isnan(r[i].alpha) : r[i].alpha == 1.0);
        CHECK_INT(r[i].init, INIT_HE);
        CHECK_INT(r[i].epochs, 25);
        CHECK_INT(r[i].batch_size, 250);
        CHECK(r[i].learning_rate == 0.001);
        CHECK_INT(r[i].optimizer, OPT_SGD);
        CHECK(r[i].validation_split == 0.1);
        CHECK_INT(r[i].train_limit, 99);
    }
    free(r);
}

static void test_grid_relu_collapses(void)
{
    run_settings *r = NULL;
    int n = 0;
    sw_error e;
    int rc = expand("name: x\ngrid:\n  activation: [relu, elu]\n  alpha: [0.5, 1]\n", &r, &n, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    CHECK_INT(n, 3);
    if (n == 3) {
        CHECK(r[0].activation == ACT_RELU && isnan(r[0].alpha));
        CHECK(r[1].activation == ACT_ELU && r[1].alpha == 0.5);
        CHECK(r[2].activation == ACT_ELU && r[2].alpha == 1.0);
    }
    free(r);

    /* a config built by hand with repeated values: duplicates collapse */
    sweep_config c;
    CHECK_INT(parse(&c, "name: x\ngrid:\n  seed: [1, 2]\n", &e), 0);
    c.axis[AXIS_SEED].v[1] = 1;
    CHECK_INT(grid_expand(&c, &r, &n, &e), 0);
    CHECK_INT(n, 1);
    free(r);
    config_free(&c);
}

static void test_grid_exclude(void)
{
    run_settings *r = NULL;
    int n = 0;
    sw_error e;
    const char *base = "name: x\ngrid:\n  activation: [relu, elu, prelu]\n  alpha: [0.5, 1]\n"
                       "  init: [he, glorot]\n";
    char yaml[512];
    /* relu 2 + elu 4 + prelu 4 */
    CHECK_INT(expand(base, &r, &n, &e), 0);
    CHECK_INT(n, 10);
    free(r);

    snprintf(yaml, sizeof yaml, "%sexclude:\n  - {activation: prelu, init: glorot}\n", base);
    CHECK_INT(expand(yaml, &r, &n, &e), 0);
    CHECK_INT(n, 8);
    for (int i = 0; i < n; i++)
        CHECK(!(r[i].activation == ACT_PRELU && r[i].init == INIT_GLOROT));
    free(r);

    /* alpha rules leave relu alone: relu runs have no alpha */
    snprintf(yaml, sizeof yaml,
             "%sexclude:\n  - {activation: prelu, init: glorot}\n  - alpha: 0.5\n", base);
    CHECK_INT(expand(yaml, &r, &n, &e), 0);
    CHECK_INT(n, 5);
    int relu = 0;
    for (int i = 0; i < n; i++) {
        relu += r[i].activation == ACT_RELU;
        CHECK(r[i].activation == ACT_RELU || r[i].alpha == 1.0);
    }
    CHECK_INT(relu, 2);
    free(r);

    snprintf(yaml, sizeof yaml, "%sexclude:\n  - {activation: relu}\n", base);
    CHECK_INT(expand(yaml, &r, &n, &e), 0);
    CHECK_INT(n, 8);
    free(r);

    /* a rule naming a value not in the grid matches nothing */
    snprintf(yaml, sizeof yaml, "%sexclude:\n  - {dropout: 0.5}\n", base);
    CHECK_INT(expand(yaml, &r, &n, &e), 0);
    CHECK_INT(n, 10);
    free(r);

    CHECK_INT(expand("name: x\ngrid: {seed: [1, 2]}\nexclude:\n  - seed: 1\n  - seed: 2\n", &r, &n,
                     &e), SW_EINPUT);
    CHECK_STR(e.msg, "t.yaml: every run is excluded");
    CHECK(r == NULL && n == 0);
}

static run_settings base_run(void)
{
    run_settings r = {
        .activation = ACT_ELU, .alpha = 1.0, .init = INIT_HE, .dropout = 0.25,
        .epochs = 25, .seed = 3, .batch_size = 250, .learning_rate = 0.001,
        .optimizer = OPT_ADAM, .validation_split = 0.2, .train_limit = 0,
    };
    return r;
}

static void test_grid_run_key(void)
{
    char k0[RUN_KEY_LEN + 1], k1[RUN_KEY_LEN + 1];
    run_settings r = base_run(), s = base_run();
    grid_run_key(&r, 0x0123456789abcdefULL, k0);
    grid_run_key(&s, 0x0123456789abcdefULL, k1);
    CHECK_STR(k0, k1);
    CHECK_INT(strlen(k0), RUN_KEY_LEN);
    CHECK_INT(strspn(k0, "0123456789abcdef"), RUN_KEY_LEN);

    /* any change of any setting, or of the data, changes the key */
    for (int field = 0; field < 12; field++) {
        s = base_run();
        uint64_t data = 0x0123456789abcdefULL;
        switch (field) {
        case 0: s.activation = ACT_PRELU; break;
        case 1: s.alpha = 1.0000000000000002; break;
        case 2: s.init = INIT_GLOROT; break;
        case 3: s.dropout = 0.3; break;
        case 4: s.epochs = 26; break;
        case 5: s.seed = 4; break;
        case 6: s.batch_size = 251; break;
        case 7: s.learning_rate = 0.002; break;
        case 8: s.optimizer = OPT_SGD; break;
        case 9: s.validation_split = 0.25; break;
        case 10: s.train_limit = 1; break;
        default: data ^= 1; break;
        }
        grid_run_key(&s, data, k1);
        CHECK_MSG(strcmp(k0, k1) != 0, "field %d did not change the key", field);
    }

    /* relu ignores alpha; -0 and 0 are the same dropout */
    r = base_run();
    s = base_run();
    r.activation = s.activation = ACT_RELU;
    r.alpha = NAN;
    s.alpha = 0.5;
    grid_run_key(&r, 1, k0);
    grid_run_key(&s, 1, k1);
    CHECK_STR(k0, k1);
    r.dropout = 0.0;
    s.dropout = -0.0;
    grid_run_key(&r, 1, k0);
    grid_run_key(&s, 1, k1);
    CHECK_STR(k0, k1);

    /* every run of a grid has its own key */
    run_settings *runs;
    int n;
    sw_error e;
    CHECK_INT(expand("name: x\ngrid:\n  activation: [relu, elu, leaky_relu, prelu]\n"
                     "  alpha: [0.5, 1]\n  init: [he, glorot]\n  seed: {from: 1, to: 20}\n",
                     &runs, &n, &e), 0);
    CHECK_INT(n, 280);
    int same = 0;
    char (*keys)[RUN_KEY_LEN + 1] = malloc((size_t)n * sizeof *keys);
    if (keys) {
        for (int i = 0; i < n; i++)
            grid_run_key(&runs[i], 42, keys[i]);
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                same += strcmp(keys[i], keys[j]) == 0;
    }
    CHECK_INT(same, 0);
    free(keys);
    free(runs);
}

static void test_grid_label(void)
{
    char buf[128];
    run_settings r = base_run();
    grid_run_label(&r, buf, sizeof buf);
    CHECK_STR(buf, "elu a=1 he d=0.25 e=25 s=3");
    r.activation = ACT_RELU;
    r.alpha = NAN;
    r.init = INIT_GLOROT;
    r.dropout = 0.5;
    r.epochs = 10;
    r.seed = 1;
    grid_run_label(&r, buf, sizeof buf);
    CHECK_STR(buf, "relu glorot d=0.5 e=10 s=1");
    r.activation = ACT_LEAKY_RELU;
    r.alpha = 0.3;
    r.batch_size = 64;
    r.learning_rate = 0.01;
    grid_run_label(&r, buf, sizeof buf);
    CHECK_STR(buf, "leaky_relu a=0.3 glorot d=0.5 e=10 s=1 bs=64 lr=0.01");
    grid_run_label(&r, buf, 8);
    CHECK_STR(buf, "leaky_r");
}

static void test_grid_model_spec(void)
{
    model_spec s;
    run_settings r = base_run();
    r.activation = ACT_PRELU;
    r.alpha = 0.25;
    r.init = INIT_GLOROT;
    r.dropout = 0.5;
    grid_model_spec(&r, &s);
    CHECK_INT(s.shape.n_conv, 2);
    CHECK(s.shape.conv[0] == 32 && s.shape.conv[1] == 64);
    CHECK(s.shape.n_dense == 1 && s.shape.dense[0] == 256);
    CHECK(s.in_c == 1 && s.in_h == 28 && s.in_w == 28 && s.n_classes == 10);
    CHECK_INT(s.act, ACT_PRELU);
    CHECK(s.alpha == 0.25f);
    CHECK_INT(s.init, INIT_GLOROT);
    CHECK(s.dropout == 0.5f);
    r.activation = ACT_RELU;
    r.alpha = NAN;
    grid_model_spec(&r, &s);
    CHECK(s.act == ACT_RELU && s.alpha == 0.0f);
}

/* ------------------------------------------------------------------ */
/* Models and early stopping.                                          */

static void test_config_model_and_early_stopping(void)
{
    sweep_config c;
    sw_error e;
    /* defaults: the blog's model, no early stopping */
    CHECK_INT(parse(&c, "name: x\n", &e), 0);
    CHECK_INT(c.n_models, 1);
    CHECK(model_shape_is_default(&c.models[0].shape) && c.models[0].line == 0);
    CHECK_INT(c.axis[AXIS_MODEL].n, 1);
    CHECK_INT(c.early_stopping.monitor, ES_OFF);
    config_free(&c);

    const char *yaml = "name: x\n"
                       "train:\n"
                       "  early_stopping: {monitor: val_accuracy, patience: 4, restore_best: true}\n"
                       "grid:\n"
                       "  model:\n"
                       "    - {conv: [16, 32], dense: [128, 64]}\n"
                       "    - {conv: 8, dense: []}\n"
                       "    - {dense: [512]}\n";
    int rc = parse(&c, yaml, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    if (rc)
        return;
    CHECK_INT(c.early_stopping.monitor, ES_VAL_ACCURACY);
    CHECK_INT(c.early_stopping.patience, 4);
    CHECK_INT(c.early_stopping.restore_best, 1);
    CHECK_INT(c.n_models, 3);
    CHECK_INT(c.axis[AXIS_MODEL].n, 3);
    CHECK(c.axis[AXIS_MODEL].line == 5 && c.axis[AXIS_MODEL].col == 3);
    const model_shape *m0 = &c.models[0].shape, *m1 = &c.models[1].shape, *m2 = &c.models[2].shape;
    CHECK(m0->n_conv == 2 && m0->conv[0] == 16 && m0->conv[1] == 32);
    CHECK(m0->n_dense == 2 && m0->dense[0] == 128 && m0->dense[1] == 64);
    CHECK(m1->n_conv == 1 && m1->conv[0] == 8 && m1->n_dense == 0);
    CHECK(m2->n_conv == 2 && m2->conv[1] == 64 && m2->n_dense == 1 && m2->dense[0] == 512);
    CHECK(c.models[0].line == 6 && c.models[0].col == 7);
    CHECK(c.models[0].conv_line[1] == 6 && c.models[0].conv_col[1] == 19);
    char t[128];
    model_shape_text(m0, t, sizeof t);
    CHECK_STR(t, "conv=16-32;dense=128-64");
    model_shape_text(m1, t, sizeof t);
    CHECK_STR(t, "conv=8;dense=none");
    CHECK(model_shape_params(m1, 28, 28, 10) == 8 * 9 + 8 + 10 * 8 * 13 * 13 + 10);
    config_free(&c);

    /* one model at the top level; monitor defaults to val_loss, restore_best to false */
    rc = parse(&c, "name: x\nmodel:\n  conv: [32, 64, 128]\ntrain:\n  early_stopping:\n"
                   "    patience: 2\n", &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    if (rc == 0) {
        CHECK(c.n_models == 1 && c.models[0].shape.n_conv == 3 && c.models[0].shape.conv[2] == 128);
        CHECK(c.early_stopping.monitor == ES_VAL_LOSS && c.early_stopping.patience == 2 &&
              !c.early_stopping.restore_best);
        config_free(&c);
    }
    /* early_stopping: null is off */
    CHECK_INT(parse(&c, "name: x\ntrain: {early_stopping: ~}\n", &e), 0);
    CHECK_INT(c.early_stopping.monitor, ES_OFF);
    config_free(&c);
}

/* The duplicate-model check is quadratic, so the axis has a limit; one
 * past it is refused quickly, the limit itself parses. */
static void test_config_model_axis_limit(void)
{
    for (int n = MODEL_AXIS_MAX; n <= MODEL_AXIS_MAX + 1; n++) {
        size_t cap = 64 + (size_t)n * 32, len = 0;
        char *yaml = malloc(cap);
        len += (size_t)snprintf(yaml, cap, "name: m\ngrid:\n  model: [");
        for (int i = 0; i < n; i++)
            len += (size_t)snprintf(yaml + len, cap - len, "%s{conv: [%d, %d]}", i ? ", " : "",
                                    1 + i / 10, 1 + i % 10);
        len += (size_t)snprintf(yaml + len, cap - len, "]\n");
        sweep_config c;
        sw_error e = {0};
        int rc = config_parse(&c, yaml, len, "t.yaml", &e);
        if (n == MODEL_AXIS_MAX) {
            CHECK_INT(rc, SW_OK);
            if (rc == SW_OK) {
                CHECK_INT(c.axis[AXIS_MODEL].n, n);
                config_free(&c);
            }
        } else {
            CHECK_INT(rc, SW_EINPUT);
            CHECK(strstr(e.msg, "t.yaml:3:10: model has 1001 values, more than the limit of 1000") != NULL);
        }
        free(yaml);
    }
}

static void test_config_model_errors(void)
{
    /* the blog's model cannot take a fourth pool on 28x28 images */
    CHECK_ERR("name: x\nmodel: {conv: [32, 64, 128, 256]}\n",
              "t.yaml:2:29: model {conv: [32, 64, 128, 256], dense: [256]} does not fit 28x28 "
              "images: conv block 4 gets a 1x1 input, and a 3x3 conv then a 2x2 pool need at "
              "least 4x4 (at most 3 conv blocks fit)");
    CHECK_ERR("name: x\ngrid:\n  model:\n    - {conv: [32]}\n    - {conv: [8, 8, 8, 8, 8]}\n",
              "t.yaml:5:24: model {conv: [8, 8, 8, 8, 8], dense: [256]} does not fit 28x28 "
              "images: conv block 4 gets a 1x1 input, and a 3x3 conv then a 2x2 pool need at "
              "least 4x4 (at most 3 conv blocks fit)");
    CHECK_ERR("name: x\nmodel: {conv: []}\n", "t.yaml:2:15: conv must list at least one conv block");
    CHECK_ERR("name: x\nmodel: {conv: [32, 0]}\n",
              "t.yaml:2:20: conv must be a channel count in [1, 4096], got 0");
    CHECK_ERR("name: x\nmodel: {conv: [4097]}\n",
              "t.yaml:2:16: conv must be at most 4096, got 4097");
    CHECK_ERR("name: x\nmodel: {dense: [256, 65537]}\n",
              "t.yaml:2:22: dense must be at most 65536, got 65537");
    CHECK_ERR("name: x\nmodel: {dense: [-1]}\n",
              "t.yaml:2:17: dense must be a width in [1, 65536], got -1");
    CHECK_ERR("name: x\nmodel: {conv: [1, 1, 1, 1, 1, 1, 1, 1, 1]}\n",
              "t.yaml:2:15: conv has 9 layers, more than the limit of 8");
    CHECK_ERR("name: x\nmodel: {dense: [1, 1, 1, 1, 1, 1, 1, 1, 1]}\n",
              "t.yaml:2:16: dense has 9 layers, more than the limit of 8");
    CHECK_ERR("name: x\nmodel: {conv: [32.5]}\n",
              "t.yaml:2:16: conv must be a channel count in [1, 4096], got '32.5'");
    CHECK_ERR("name: x\nmodel: {conv: [[32]]}\n",
              "t.yaml:2:16: conv sizes must be single values, got a list");
    CHECK_ERR("name: x\nmodel: {conv: {a: 1}}\n",
              "t.yaml:2:15: conv must be a list of sizes like [32, 64], got a mapping");
    CHECK_ERR("name: x\nmodel: {convs: [32]}\n",
              "t.yaml:2:9: unknown key 'convs' in model (did you mean 'conv'?)");
    CHECK_ERR("name: x\nmodel: {layers: [32]}\n",
              "t.yaml:2:9: unknown key 'layers' in model (expected one of: conv, dense, padding)");
    CHECK_ERR("name: x\nmodel: [{conv: [32]}]\n",
              "t.yaml:2:8: model at the top level is one model; to try several, put the list "
              "under grid:");
    CHECK_ERR("name: x\nmodel: {conv: [16]}\ngrid:\n  model: {conv: [32]}\n",
              "t.yaml:4:3: model is set both at the top level (line 2) and in grid; keep one");
    CHECK_ERR("name: x\ngrid:\n  model: []\n", "t.yaml:3:10: model must not be an empty list");
    CHECK_ERR("name: x\ngrid:\n  model:\n", "t.yaml:3:9: model has no value: give a mapping "
              "like {conv: [32, 64], dense: [256]} or a list of them, or leave the key out");
    CHECK_ERR("name: x\ngrid:\n  model: [{conv: [8]}, {conv: [16]}, {conv: [8], dense: [256]}]\n",
              "t.yaml:3:38: duplicate model {conv: [8], dense: [256]} in model (first given at "
              "line 3)");
    CHECK_ERR("name: x\ngrid:\n  model: [cnn]\n",
              "t.yaml:3:11: a model must be a mapping like {conv: [32, 64], dense: [256]}, got "
              "'cnn'");
    CHECK_ERR("name: x\nmodel: {conv: [4096, 4096, 4096], dense: [65536, 65536]}\n",
              "t.yaml:2:8: model {conv: [4096, 4096, 4096], dense: [65536, 65536]} has "
              "4866228234 parameters on 28x28 images, more than the limit of 100000000");

    /* after the data loads: the same check against its image size */
    sweep_config c;
    sw_error e;
    CHECK_INT(parse(&c, "name: x\ngrid:\n  model:\n    - {conv: [8]}\n    - {conv: [8, 16, 32]}\n",
                    &e), 0);
    CHECK_INT(config_check_models(&c, 28, 28, &e), 0);
    CHECK_INT(config_check_models(&c, 16, 16, &e), SW_EINPUT);
    CHECK_STR(e.msg, "t.yaml:5:22: model {conv: [8, 16, 32], dense: [256]} does not fit the "
                     "data's 16x16 images: conv block 3 gets a 2x2 input, and a 3x3 conv then a "
                     "2x2 pool need at least 4x4 (at most 2 conv blocks fit)");
    config_free(&c);
    CHECK_INT(parse(&c, "name: x\n", &e), 0);
    memset(&e, 0, sizeof e);
    CHECK_INT(config_check_models(&c, 8, 8, &e), SW_EINPUT);
    CHECK_STR(e.msg, "t.yaml: the default model {conv: [32, 64], dense: [256]} does not fit the "
                     "data's 8x8 images: conv block 2 gets a 3x3 input, and a 3x3 conv then a "
                     "2x2 pool need at least 4x4 (at most 1 conv block fits)");
    config_free(&c);
}

static void test_config_early_stopping_errors(void)
{
    CHECK_ERR("name: x\ntrain:\n  early_stopping: {monitor: val_acc, patience: 3}\n",
              "t.yaml:3:29: monitor must be one of val_loss, val_accuracy, got 'val_acc' "
              "(did you mean 'val_accuracy'?)");
    CHECK_ERR("name: x\ntrain:\n  early_stopping: {monitor: accuracy, patience: 3}\n",
              "t.yaml:3:29: monitor must be one of val_loss, val_accuracy, got 'accuracy'");
    CHECK_ERR("name: x\ntrain:\n  early_stopping: {patience: 0}\n",
              "t.yaml:3:30: patience must be a positive integer, got 0");
    CHECK_ERR("name: x\ntrain:\n  early_stopping: {patience: -2}\n",
              "t.yaml:3:30: patience must be a positive integer, got -2");
    CHECK_ERR("name: x\ntrain:\n  early_stopping: {patience: [1, 2]}\n",
              "t.yaml:3:30: early_stopping.patience must be a single value, got a list");
    CHECK_ERR("name: x\ntrain:\n  early_stopping: {monitor: val_loss}\n",
              "t.yaml:3:19: early_stopping needs 'patience': the epochs without improvement "
              "before a run stops, like {monitor: val_loss, patience: 3}");
    CHECK_ERR("name: x\ntrain:\n  early_stopping: {patience: 2, restore_best: yes}\n",
              "t.yaml:3:47: restore_best must be true or false, got 'yes'");
    CHECK_ERR("name: x\ntrain:\n  early_stopping: {patiense: 2}\n",
              "t.yaml:3:20: unknown key 'patiense' in early_stopping (did you mean 'patience'?)");
    CHECK_ERR("name: x\ntrain:\n  early_stopping: {patience: 2, restore_best_weights: true}\n",
              "t.yaml:3:33: unknown key 'restore_best_weights' in early_stopping (did you mean "
              "'restore_best'?)");
    CHECK_ERR("name: x\ntrain:\n  early_stopping: true\n",
              "t.yaml:3:19: early_stopping must be a mapping like {monitor: val_loss, patience: "
              "3, restore_best: true}, got 'true'");
    CHECK_ERR("name: x\ntrain:\n  early_stoping: {patience: 2}\n",
              "t.yaml:3:3: unknown key 'early_stoping' in train (did you mean 'early_stopping'?)");
}

/* Models as a grid axis: after alpha, before init; exclude by model. */
static void test_grid_model_axis(void)
{
    run_settings *r = NULL;
    int n = 0;
    sw_error e;
    const char *yaml = "name: x\ntrain: {early_stopping: {patience: 2}}\n"
                       "grid:\n  activation: [relu, elu]\n  init: [he, glorot]\n"
                       "  model: [{conv: [32, 64]}, {conv: [32, 64, 128]}]\n"
                       "exclude:\n  - {activation: elu, model: {conv: [32, 64, 128]}}\n"
                       "  - {model: {conv: [7]}}\n";
    int rc = expand(yaml, &r, &n, &e);
    CHECK_MSG(rc == 0, "%s", e.msg);
    CHECK_INT(n, 6);
    if (n != 6) {
        free(r);
        return;
    }
    /* relu: 2 models x 2 inits; elu: only the 2-block model */
    int want_conv[6] = {2, 2, 3, 3, 2, 2};
    for (int i = 0; i < 6; i++) {
        CHECK_INT(r[i].activation, i < 4 ? ACT_RELU : ACT_ELU);
        CHECK_INT(r[i].model.n_conv, want_conv[i]);
        CHECK_INT(r[i].init, i % 2 ? INIT_GLOROT : INIT_HE);
        CHECK(r[i].early_stopping.monitor == ES_VAL_LOSS && r[i].early_stopping.patience == 2);
    }
    model_spec s;
    grid_model_spec(&r[2], &s);
    CHECK(s.shape.n_conv == 3 && s.shape.conv[2] == 128 && s.shape.n_dense == 1 &&
          s.shape.dense[0] == 256);
    char label[128];
    grid_run_label(&r[2], label, sizeof label);
    CHECK_STR(label, "relu he d=0.25 e=25 s=1 conv=32-64-128;dense=256");
    grid_run_label(&r[0], label, sizeof label);
    CHECK_STR(label, "relu he d=0.25 e=25 s=1");
    free(r);
}

/* Keys of runs without a model or early stopping are those of before both
 * existed (golden values from the version 1 key code); each changes the
 * key only when set. */
static void test_grid_run_key_compatible(void)
{
    char k[RUN_KEY_LEN + 1], k2[RUN_KEY_LEN + 1];
    run_settings r = base_run();
    grid_run_key(&r, 0x0123456789abcdefULL, k);
    CHECK_STR(k, "9284bc422a0ddda0");
    model_shape_default(&r.model);   /* the default model, given explicitly */
    grid_run_key(&r, 0x0123456789abcdefULL, k);
    CHECK_STR(k, "9284bc422a0ddda0");
    r.activation = ACT_RELU;
    r.alpha = NAN;
    grid_run_key(&r, 0x0123456789abcdefULL, k);
    CHECK_STR(k, "1fad7304da7d0f0d");

    r = base_run();
    grid_run_key(&r, 1, k);
    r.model.n_conv = 3;
    r.model.conv[0] = 32;
    r.model.conv[1] = 64;
    r.model.conv[2] = 128;
    r.model.n_dense = 1;
    r.model.dense[0] = 256;
    grid_run_key(&r, 1, k2);
    CHECK(strcmp(k, k2) != 0);
    r.model.dense[0] = 255;
    grid_run_key(&r, 1, k);
    CHECK(strcmp(k, k2) != 0);

    r = base_run();
    es_settings variants[] = {{ES_VAL_LOSS, 3, 0}, {ES_VAL_ACCURACY, 3, 0}, {ES_VAL_LOSS, 4, 0},
                              {ES_VAL_LOSS, 3, 1}};
    char keys[5][RUN_KEY_LEN + 1];
    grid_run_key(&r, 1, keys[0]);
    for (int i = 0; i < 4; i++) {
        r.early_stopping = variants[i];
        grid_run_key(&r, 1, keys[i + 1]);
    }
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++)
            CHECK_MSG(strcmp(keys[i], keys[j]) != 0, "early stopping %d and %d share a key", i, j);
}

/* The names a message lists are the tables' (every activation, init and
 * optimizer, in table order), and each table name is accepted. */
static void test_config_names_from_tables(void)
{
    char want[600], yaml[200];
    size_t o = 0;
    o += (size_t)snprintf(want + o, sizeof want - o, "t.yaml:3:15: activation must be one of ");
    for (int k = 0; k < act_count(); k++)
        o += (size_t)snprintf(want + o, sizeof want - o, "%s%s", k ? ", " : "",
                              act_name((act_kind)k));
    snprintf(want + o, sizeof want - o, ", got 'zzzz'");
    CHECK_ERR("name: x\ngrid:\n  activation: zzzz\n", want);
    o = (size_t)snprintf(want, sizeof want, "t.yaml:3:9: init must be one of ");
    for (int k = 0; k < init_count(); k++)
        o += (size_t)snprintf(want + o, sizeof want - o, "%s%s", k ? ", " : "",
                              init_name((init_kind)k));
    snprintf(want + o, sizeof want - o, ", got 'zzzz'");
    CHECK_ERR("name: x\ngrid:\n  init: zzzz\n", want);
    o = (size_t)snprintf(want, sizeof want, "t.yaml:3:14: optimizer must be one of ");
    for (int k = 0; k < optim_count(); k++)
        o += (size_t)snprintf(want + o, sizeof want - o, "%s%s", k ? ", " : "",
                              optim_name((optim_kind)k));
    snprintf(want + o, sizeof want - o, ", got 'zzzz'");
    CHECK_ERR("name: x\ntrain:\n  optimizer: zzzz\n", want);

    for (int k = 0; k < act_count(); k++) {
        sweep_config c;
        sw_error e;
        snprintf(yaml, sizeof yaml, "name: x\ngrid:\n  activation: %s\n  alpha: [0.5, 2]\n",
                 act_name((act_kind)k));
        CHECK_INT(parse(&c, yaml, &e), SW_OK);
        if (e.code)
            continue;
        CHECK(c.axis[AXIS_ACTIVATION].n == 1 && c.axis[AXIS_ACTIVATION].v[0] == k);
        /* an activation without alpha runs once whatever the alphas */
        CHECK(config_grid_count(&c) == (act_info((act_kind)k)->takes_alpha ? 2 : 1));
        config_free(&c);
    }
    for (int k = 0; k < init_count(); k++) {
        sweep_config c;
        sw_error e;
        snprintf(yaml, sizeof yaml, "name: x\ngrid:\n  init: %s\n", init_name((init_kind)k));
        CHECK_INT(parse(&c, yaml, &e), SW_OK);
        if (!e.code)
            config_free(&c);
    }
}

void suite_config(void)
{
    RUN_TEST(test_config_full);
    RUN_TEST(test_config_defaults);
    RUN_TEST(test_config_scalar_and_list_axes);
    RUN_TEST(test_config_seed_range);
    RUN_TEST(test_config_value_errors);
    RUN_TEST(test_config_names_from_tables);
    RUN_TEST(test_config_structure_errors);
    RUN_TEST(test_config_unknown_and_duplicate_keys);
    RUN_TEST(test_config_exclude_errors);
    RUN_TEST(test_config_aliases_refused);
    RUN_TEST(test_config_deep_nesting);
    RUN_TEST(test_config_bad_bytes);
    RUN_TEST(test_config_huge_numbers);
    RUN_TEST(test_config_name_taken_literally);
    RUN_TEST(test_config_grid_too_large);
    RUN_TEST(test_config_size_limits);
    RUN_TEST(test_config_load_file);
    RUN_TEST(test_config_never_crashes);
    RUN_TEST(test_grid_order_and_count);
    RUN_TEST(test_grid_relu_collapses);
    RUN_TEST(test_grid_exclude);
    RUN_TEST(test_grid_run_key);
    RUN_TEST(test_grid_label);
    RUN_TEST(test_grid_model_spec);
    RUN_TEST(test_config_model_and_early_stopping);
    RUN_TEST(test_config_model_errors);
    RUN_TEST(test_config_model_axis_limit);
    RUN_TEST(test_config_early_stopping_errors);
    RUN_TEST(test_grid_model_axis);
    RUN_TEST(test_grid_run_key_compatible);
}
