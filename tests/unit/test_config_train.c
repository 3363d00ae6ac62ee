/* Tests of the config's training settings of issue #13 (batch norm, same
 * padding, optimizers and their settings, lr schedules): parsing, errors
 * with their place, grid axes, and run keys that stay as they were for
 * default values. */
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

/* The parse fails with SW_EINPUT and exactly this message. */
static void check_err_(int line, const char *yaml, const char *want)
{
    sweep_config c;
    sw_error e;
    int rc = parse(&c, yaml, &e);
    if (rc != SW_EINPUT) {
        test_fail(__FILE__, line, "rc %d, wanted the error '%s'", rc, want);
        if (rc == 0)
            config_free(&c);
        return;
    }
    if (strcmp(e.msg, want) != 0)
        test_fail(__FILE__, line, "message \"%s\", wanted \"%s\"", e.msg, want);
}
#define CHECK_ERR(yaml, want) check_err_(__LINE__, yaml, want)

static int expand(const char *yaml, run_settings **runs, int *n)
{
    sweep_config c;
    sw_error e;
    *runs = NULL;
    *n = 0;
    if (parse(&c, yaml, &e) != 0) {
        test_fail(__FILE__, __LINE__, "parse: %s", e.msg);
        return -1;
    }
    int rc = grid_expand(&c, runs, n, &e);
    config_free(&c);
    return rc;
}

static void test_train_settings_parse(void)
{
    sweep_config c;
    sw_error e;
    CHECK_INT(parse(&c,
                    "name: x\n"
                    "train:\n"
                    "  optimizer: sgd\n"
                    "  momentum: 0.9\n"
                    "  nesterov: true\n"
                    "  weight_decay: 5e-4\n"
                    "  lr_schedule: {kind: step, every: 10, gamma: 0.5}\n"
                    "model: {conv: [32, 64, 64, 64], dense: [128], padding: same}\n"
                    "grid:\n"
                    "  batchnorm: [false, true]\n",
                    &e), 0);
    if (e.code)
        return;
    CHECK(c.axis[AXIS_OPTIMIZER].n == 1 && c.axis[AXIS_OPTIMIZER].v[0] == OPT_SGD);
    CHECK(c.axis[AXIS_MOMENTUM].n == 1 && c.axis[AXIS_MOMENTUM].v[0] == 0.9);
    CHECK(c.axis[AXIS_WEIGHT_DECAY].n == 1 && c.axis[AXIS_WEIGHT_DECAY].v[0] == 5e-4);
    CHECK_INT(c.nesterov, 1);
    CHECK_INT(c.n_schedules, 1);
    CHECK(c.schedules[0].s.kind == SCHED_STEP && c.schedules[0].s.every == 10 &&
          c.schedules[0].s.gamma == 0.5);
    CHECK(c.axis[AXIS_BATCHNORM].n == 2 && c.axis[AXIS_BATCHNORM].v[0] == 0 &&
          c.axis[AXIS_BATCHNORM].v[1] == 1);
    CHECK(c.n_models == 1 && c.models[0].shape.same == 1 && c.models[0].shape.n_conv == 4);
    config_free(&c);

    /* defaults: adam, no momentum or decay, constant, no batch norm, valid */
    CHECK_INT(parse(&c, "name: x\n", &e), 0);
    CHECK(c.axis[AXIS_OPTIMIZER].v[0] == OPT_ADAM && c.axis[AXIS_MOMENTUM].v[0] == 0 &&
          c.axis[AXIS_WEIGHT_DECAY].v[0] == 0 && c.axis[AXIS_BATCHNORM].v[0] == 0);
    CHECK(c.n_schedules == 1 && c.schedules[0].s.kind == SCHED_CONSTANT && !c.nesterov);
    CHECK(c.models[0].shape.same == 0);
    config_free(&c);

    /* bare names, and lists of schedules as an axis */
    CHECK_INT(parse(&c, "name: x\ngrid:\n  lr_schedule: [constant, {kind: cosine}, "
                        "{kind: step, every: 2, gamma: 0.1}]\n", &e), 0);
    CHECK_INT(c.n_schedules, 3);
    CHECK_INT(c.axis[AXIS_LR_SCHEDULE].n, 3);
    if (c.n_schedules == 3)
        CHECK(c.schedules[1].s.kind == SCHED_COSINE && c.schedules[2].s.every == 2);
    config_free(&c);
}

static void test_train_settings_errors(void)
{
    CHECK_ERR("name: x\ntrain: {optimizer: sgd, momentum: -0.1}\n",
              "t.yaml:2:35: momentum must be in [0, 1), got -0.1");
    CHECK_ERR("name: x\ntrain: {weight_decay: -1}\n",
              "t.yaml:2:23: weight_decay must be >= 0, got -1");
    CHECK_ERR("name: x\ntrain:\n  lr_schedule: {kind: step, every: 2, gamma: 1.5}\n",
              "t.yaml:3:46: gamma must be in (0, 1], got 1.5");
    CHECK_ERR("name: x\ntrain:\n  lr_schedule: {kind: step, every: 2, gamma: 0}\n",
              "t.yaml:3:46: gamma must be in (0, 1], got 0");
    CHECK_ERR("name: x\ntrain:\n  lr_schedule: {kind: step, every: 0, gamma: 0.5}\n",
              "t.yaml:3:36: every must be a positive integer (epochs), got 0");
    CHECK_ERR("name: x\ntrain:\n  lr_schedule: {kind: cosin}\n",
              "t.yaml:3:23: kind must be one of constant, step, cosine, got 'cosin' "
              "(did you mean 'cosine'?)");
    CHECK_ERR("name: x\ntrain:\n  lr_schedule: {kind: step}\n",
              "t.yaml:3:16: a step schedule needs 'every' (epochs) and 'gamma' (the factor), "
              "like {kind: step, every: 10, gamma: 0.5}");
    CHECK_ERR("name: x\ntrain:\n  lr_schedule: {kind: cosine, every: 3}\n",
              "t.yaml:3:31: 'every' belongs to a step schedule, not to cosine");
    CHECK_ERR("name: x\ntrain:\n  lr_schedule: {every: 3}\n",
              "t.yaml:3:16: lr_schedule needs 'kind': constant, step or cosine");
    CHECK_ERR("name: x\ntrain:\n  lr_schedule: [constant, cosine]\n",
              "t.yaml:3:16: train.lr_schedule is one schedule; to try several, put the list "
              "under grid:");
    CHECK_ERR("name: x\ngrid:\n  lr_schedule: [cosine, {kind: cosine}]\n",
              "t.yaml:3:25: duplicate schedule cosine in lr_schedule (first given at line 3)");
    CHECK_ERR("name: x\ntrain: {optimizer: sgd, nesterov: true}\n",
              "t.yaml:2:25: nesterov needs momentum > 0, like momentum: 0.9");
    CHECK_ERR("name: x\ntrain: {momentum: 0.9, nesterov: true}\n",
              "t.yaml:2:9: momentum applies to sgd and rmsprop, and the optimizer here is adam "
              "(Adam's beta1 plays that part)");
    CHECK_ERR("name: x\ntrain: {optimizer: rmsprop, momentum: 0.9, nesterov: true}\n",
              "t.yaml:2:44: nesterov applies to sgd with momentum, and no run here uses sgd");
    CHECK_ERR("name: x\ntrain: {nesterov: yes}\n",
              "t.yaml:2:19: nesterov must be true or false, got 'yes'");
    CHECK_ERR("name: x\nmodel: {conv: [32], padding: full}\n",
              "t.yaml:2:30: padding must be one of valid, same, got 'full'");
    CHECK_ERR("name: x\nmodel: {conv: [32], padding: Same}\n",
              "t.yaml:2:30: padding must be one of valid, same, got 'Same' "
              "(did you mean 'same'?)");
    CHECK_ERR("name: x\ngrid:\n  batchnorm: [false, maybe]\n",
              "t.yaml:3:22: batchnorm must be one of false, true, got 'maybe'");
    CHECK_ERR("name: x\ntrain: {optimizer: sgd}\ngrid: {optimizer: [sgd, adam]}\n",
              "t.yaml:3:8: optimizer is set in both train (line 2) and grid; keep one");
    /* four valid blocks do not fit 28x28; four same ones do */
    CHECK_ERR("name: x\nmodel: {conv: [8, 8, 8, 8]}\n",
              "t.yaml:2:25: model {conv: [8, 8, 8, 8], dense: [256]} does not fit 28x28 images: "
              "conv block 4 gets a 1x1 input, and a 3x3 conv then a 2x2 pool need at least 4x4 "
              "(at most 3 conv blocks fit)");
    CHECK_ERR("name: x\nmodel: {conv: [8, 8, 8, 8, 8], padding: same}\n",
              "t.yaml:2:28: model {conv: [8, 8, 8, 8, 8], dense: [256], padding: same} does not "
              "fit 28x28 images: conv block 5 gets a 1x1 input, and a 3x3 conv then a 2x2 pool "
              "need at least 2x2 (at most 4 conv blocks fit)");
}

/* Optimizers, momentum, weight decay, schedules, batch norm and models as
 * axes; momentum collapses for the optimizers that take none. */
static void test_train_axes_expand(void)
{
    run_settings *r;
    int n;
    CHECK_INT(expand("name: x\n"
                     "train: {nesterov: true}\n"
                     "grid:\n"
                     "  optimizer: [adam, sgd]\n"
                     "  momentum: [0, 0.9]\n"
                     "  weight_decay: [0, 0.01]\n"
                     "  lr_schedule: [constant, cosine]\n"
                     "  batchnorm: [false, true]\n"
                     "  model: [{conv: [8]}, {conv: [8], padding: same}]\n",
                     &r, &n), 0);
    /* adam: 2 wd x 2 schedules x 2 bn x 2 models = 16; sgd: 32 */
    CHECK_INT(n, 48);
    int adam_m = 0, nesterov_ok = 1, same = 0, bn = 0;
    for (int i = 0; i < n; i++) {
        adam_m += r[i].optimizer == OPT_ADAM && r[i].momentum != 0;
        nesterov_ok &= r[i].nesterov == (r[i].optimizer == OPT_SGD && r[i].momentum > 0);
        same += r[i].model.same;
        bn += r[i].batchnorm;
    }
    CHECK_INT(adam_m, 0);
    CHECK(nesterov_ok);
    CHECK_INT(same, 24);
    CHECK_INT(bn, 24);
    free(r);

    CHECK_INT(expand("name: x\n"
                     "grid:\n"
                     "  optimizer: [adam, adamw, rmsprop]\n"
                     "  lr_schedule: [constant, {kind: step, every: 2, gamma: 0.5}]\n"
                     "exclude:\n"
                     "  - {optimizer: adamw, lr_schedule: {kind: step, every: 2, gamma: 0.5}}\n"
                     "  - {optimizer: rmsprop, lr_schedule: cosine}\n",
                     &r, &n), 0);
    CHECK_INT(n, 5);   /* cosine is not in the grid: its rule matches nothing */
    free(r);
}

static run_settings plain_run(void)
{
    run_settings r = {
        .activation = ACT_RELU, .alpha = NAN, .init = INIT_HE, .dropout = 0.25,
        .epochs = 25, .seed = 3, .batch_size = 250, .learning_rate = 0.001,
        .optimizer = OPT_ADAM, .validation_split = 0.2, .train_limit = 0,
    };
    return r;
}

/* Default values give the key of today (a run of the previous binary keeps
 * its key); each new setting changes it. */
static void test_train_run_keys(void)
{
    char k0[RUN_KEY_LEN + 1], k1[RUN_KEY_LEN + 1];
    run_settings r = plain_run(), s;
    grid_run_key(&r, 0x0123456789abcdefULL, k0);
    /* the key of this run as the binary before issue #13 computed it */
    CHECK_STR(k0, "1fad7304da7d0f0d");
    s = plain_run();
    s.optimizer = OPT_SGD;
    s.model = (model_shape){.n_conv = 3, .conv = {8, 8, 8}};
    grid_run_key(&s, 0x0123456789abcdefULL, k1);
    CHECK_STR(k1, "806e762a5eb0aa26");
    for (int field = 0; field < 8; field++) {
        s = plain_run();
        switch (field) {
        case 0: s.batchnorm = 1; break;
        case 1: s.optimizer = OPT_SGD, s.momentum = 0.9; break;
        case 2: s.optimizer = OPT_SGD, s.momentum = 0.9, s.nesterov = 1; break;
        case 3: s.weight_decay = 1e-4; break;
        case 4: s.lr_schedule.kind = SCHED_COSINE; break;
        case 5: s.lr_schedule = (lr_schedule){SCHED_STEP, 10, 0.5}; break;
        case 6: s.model.n_conv = 0, s.model.same = 1; break;   /* the default layers, same */
        default: s.optimizer = OPT_ADAMW; break;
        }
        grid_run_key(&s, 0x0123456789abcdefULL, k1);
        CHECK_MSG(strcmp(k0, k1) != 0, "setting %d did not change the key", field);
    }
    s = plain_run();
    s.optimizer = OPT_SGD;
    s.momentum = 0.9;
    grid_run_key(&s, 1, k0);
    s.nesterov = 1;
    grid_run_key(&s, 1, k1);
    CHECK(strcmp(k0, k1) != 0);
    s = plain_run();
    s.lr_schedule = (lr_schedule){SCHED_STEP, 10, 0.5};
    grid_run_key(&s, 1, k0);
    s.lr_schedule.gamma = 0.25;
    grid_run_key(&s, 1, k1);
    CHECK(strcmp(k0, k1) != 0);
    /* a constant schedule's unused numbers are no part of it */
    s = plain_run();
    grid_run_key(&s, 1, k0);
    s.lr_schedule.every = 3;
    grid_run_key(&s, 1, k1);
    CHECK_STR(k0, k1);
}

static void test_schedule_texts(void)
{
    char t[64];
    lr_schedule s = {SCHED_STEP, 10, 0.5}, back;
    sched_text(&s, t, sizeof t);
    CHECK_STR(t, "step:every=10,gamma=0.5");
    s.gamma = 0.1;
    sched_text(&s, t, sizeof t);
    CHECK_STR(t, "step:every=10,gamma=0.1");
    s.kind = SCHED_COSINE;
    sched_text(&s, t, sizeof t);
    CHECK_STR(t, "cosine");
    CHECK_INT(sched_parse_flag("step:10:0.5", &back), 0);
    CHECK(back.kind == SCHED_STEP && back.every == 10 && back.gamma == 0.5);
    CHECK_INT(sched_parse_flag("cosine", &back), 0);
    CHECK_INT(back.kind, SCHED_COSINE);
    CHECK_INT(sched_parse_flag("constant", &back), 0);
    CHECK_INT(sched_parse_flag("step:0:0.5", &back), -1);
    CHECK_INT(sched_parse_flag("step:2:1.5", &back), -1);
    CHECK_INT(sched_parse_flag("step:2", &back), -1);
    CHECK_INT(sched_parse_flag("linear", &back), -1);

    model_shape m;
    model_shape_default(&m);
    m.same = 1;
    model_shape_text(&m, t, sizeof t);
    CHECK_STR(t, "conv=32-64;dense=256;padding=same");
    model_shape_yaml(&m, t, sizeof t);
    CHECK_STR(t, "{conv: [32, 64], dense: [256], padding: same}");
    CHECK(!model_shape_is_default(&m));
}

void suite_config_train(void)
{
    RUN_TEST(test_train_settings_parse);
    RUN_TEST(test_train_settings_errors);
    RUN_TEST(test_train_axes_expand);
    RUN_TEST(test_train_run_keys);
    RUN_TEST(test_schedule_texts);
}
