/* Tests of the colour-data integration: the config's data section, the run
 * key and store columns of the data settings, the class names in the
 * store, and the model on 3-channel images. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep/config.h"
#include "sweep/grid.h"
#include "sweep/store.h"
#include "train/model.h"
#include "test.h"

static int parse(sweep_config *c, const char *yaml, sw_error *e)
{
    memset(e, 0, sizeof *e);
    return config_parse(c, yaml, strlen(yaml), "t.yaml", e);
}

/* The parse fails with exactly this message. */
static void check_err_(const char *file, int line, const char *yaml, const char *want)
{
    sweep_config c;
    sw_error e;
    int rc = parse(&c, yaml, &e);
    if (rc != SW_EINPUT || strcmp(e.msg, want) != 0)
        test_fail(file, line, "rc %d, message \"%s\", wanted \"%s\"", rc, e.msg, want);
    if (rc == SW_OK)
        config_free(&c);
}
#define CHECK_ERR(yaml, want) check_err_(__FILE__, __LINE__, yaml, want)

static void test_cifar_config_data(void)
{
    sweep_config c;
    sw_error e;
    int rc = parse(&c, "name: x\ndata:\n  format: cifar100\n  label: coarse\n  val_limit: 500\n"
                       "  test_limit: 1000\n  augment: {crop: 4, flip: true}\n", &e);
    CHECK_MSG(rc == SW_OK, "%s", e.msg);
    if (rc)
        return;
    CHECK_INT(c.data_format, DATA_CIFAR100);
    CHECK_INT(c.data_label, CIFAR_COARSE);
    CHECK_INT(c.label_line, 4);
    CHECK_INT(c.val_limit, 500);
    CHECK_INT(c.test_limit, 1000);
    CHECK_INT(c.augment.crop, 4);
    CHECK_INT(c.augment.flip, 1);
    run_settings *runs = NULL;
    int n = 0;
    CHECK(grid_expand(&c, &runs, &n, &e) == SW_OK && n == 1);
    if (n == 1) {
        CHECK_INT(runs[0].val_limit, 500);
        CHECK_INT(runs[0].test_limit, 1000);
        CHECK_INT(runs[0].augment.crop, 4);
        CHECK_INT(runs[0].data_label, -1);   /* set once the data is loaded */
    }
    free(runs);
    config_free(&c);

    /* the defaults: auto, fine, no limits, no augmentation */
    rc = parse(&c, "name: x\ndata:\n  dir: /d\n  augment: ~\n", &e);
    CHECK_MSG(rc == SW_OK, "%s", e.msg);
    if (rc == SW_OK) {
        CHECK_INT(c.data_format, DATA_AUTO);
        CHECK_INT(c.data_label, CIFAR_FINE);
        CHECK_INT(c.label_line, 0);
        CHECK_INT(c.val_limit + c.test_limit + c.augment.crop + c.augment.flip, 0);
        config_free(&c);
    }
}

static void test_cifar_config_errors(void)
{
    CHECK_ERR("name: x\ndata:\n  format: cifar\n",
              "t.yaml:3:11: format must be one of auto, idx, cifar10, cifar100, got 'cifar' "
              "(did you mean 'cifar10'?)");
    CHECK_ERR("name: x\ndata:\n  format: mnist\n",
              "t.yaml:3:11: format must be one of auto, idx, cifar10, cifar100, got 'mnist'");
    CHECK_ERR("name: x\ndata:\n  format: idx\n  label: coarse\n",
              "t.yaml:4:10: label is for CIFAR-100 (fine or coarse classes), but format is idx; "
              "remove it");
    CHECK_ERR("name: x\ndata:\n  label: corse\n",
              "t.yaml:3:10: label must be one of fine, coarse, got 'corse' "
              "(did you mean 'coarse'?)");
    CHECK_ERR("name: x\ndata:\n  augment: {crop: 17}\n",
              "t.yaml:3:19: crop must be at most 16, got 17");
    CHECK_ERR("name: x\ndata:\n  augment: {crop: -1}\n",
              "t.yaml:3:19: crop must be an integer in [0, 16] (pixels of zero padding), got -1");
    CHECK_ERR("name: x\ndata:\n  augment: {flip: yes}\n",
              "t.yaml:3:19: flip must be true or false, got 'yes'");
    CHECK_ERR("name: x\ndata:\n  augment: {crops: 4}\n",
              "t.yaml:3:13: unknown key 'crops' in augment (did you mean 'crop'?)");
    CHECK_ERR("name: x\ndata:\n  augment: [4]\n",
              "t.yaml:3:12: augment must be a mapping like {crop: 4, flip: true}, got a list");
    CHECK_ERR("name: x\ndata:\n  val_limit: -5\n",
              "t.yaml:3:14: val_limit must be an integer >= 0, got -5");
    CHECK_ERR("name: x\ndata:\n  test_limit: 1.5\n",
              "t.yaml:3:15: test_limit must be an integer >= 0, got '1.5'");
}

/* data.label with format auto is checked once the data is loaded. */
static void test_cifar_check_data(void)
{
    sweep_config c;
    sw_error e;
    if (parse(&c, "name: x\ndata:\n  label: fine\n", &e) != SW_OK) {
        test_fail(__FILE__, __LINE__, "%s", e.msg);
        return;
    }
    dataset d = {.format = DATA_IDX};
    snprintf(d.dir, sizeof d.dir, "/data/mnist");
    CHECK_INT(config_check_data(&c, &d, &e), SW_EINPUT);
    CHECK_STR(e.msg, "t.yaml:3:10: label is for CIFAR-100 (fine or coarse classes), but "
                     "/data/mnist holds idx; remove it");
    d.format = DATA_CIFAR100;
    CHECK_INT(config_check_data(&c, &d, &e), SW_OK);
    config_free(&c);
}

/* The new settings change the key only when they differ from the default,
 * so the runs of existing databases keep theirs. */
static void test_cifar_run_key(void)
{
    run_settings r = {
        .activation = ACT_ELU, .alpha = 1.0, .init = INIT_HE, .dropout = 0.25,
        .epochs = 25, .seed = 3, .batch_size = 250, .learning_rate = 0.001,
        .optimizer = OPT_ADAM, .validation_split = 0.2, .data_label = -1,
    };
    char k0[RUN_KEY_LEN + 1], k[RUN_KEY_LEN + 1], seen[6][RUN_KEY_LEN + 1];
    grid_run_key(&r, 0x0123456789abcdefULL, k0);
    CHECK_STR(k0, "9284bc422a0ddda0");   /* as test_grid_run_key_compatible */
    r.data_format = DATA_IDX;            /* in the identity, not the key */
    r.data_label = CIFAR_FINE;
    grid_run_key(&r, 0x0123456789abcdefULL, k);
    CHECK_STR(k, k0);
    run_settings v[6];
    for (int i = 0; i < 6; i++)
        v[i] = r;
    v[0].augment.crop = 4;
    v[1].augment.crop = 4, v[1].augment.flip = 1;
    v[2].augment.flip = 1;
    v[3].val_limit = 500;
    v[4].test_limit = 500;
    v[5].val_limit = 500, v[5].test_limit = 500;
    for (int i = 0; i < 6; i++) {
        grid_run_key(&v[i], 0x0123456789abcdefULL, seen[i]);
        CHECK(strcmp(seen[i], k0) != 0);
        for (int j = 0; j < i; j++)
            CHECK_MSG(strcmp(seen[i], seen[j]) != 0, "variants %d and %d share a key", i, j);
    }
    char text[64];
    grid_augment_text(&v[1].augment, text, sizeof text);
    CHECK_STR(text, "crop=4,flip");
    grid_augment_text(&v[2].augment, text, sizeof text);
    CHECK_STR(text, "flip");
    grid_augment_text(&r.augment, text, sizeof text);
    CHECK_STR(text, "");
}

/* Class names go in and come back by sweep; a second put replaces them. */
static void test_cifar_store_classes(void)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/classes.db", test_tmpdir());
    store *s = NULL;
    sw_error e = {0};
    sweep_config c;
    long long id = 0;
    if (parse(&c, "name: colours\n", &e) != SW_OK || store_open(&s, path, 1, &e) != SW_OK ||
        store_sweep_upsert(s, &c, &id, &e) != SW_OK) {
        test_fail(__FILE__, __LINE__, "%s", e.msg);
        store_close(s);
        return;
    }
    char **names = NULL;
    int n = -1;
    CHECK(store_class_names(s, "colours", &names, &n, &e) == SW_OK && n == 0 && !names);
    const char *const ten[] = {"airplane", "automobile", "bird", "cat", "deer",
                               "dog", "frog", "horse", "ship", "truck"};
    CHECK(store_classes_put(s, id, ten, 10, &e) == SW_OK);
    CHECK(store_classes_put(s, id, ten, 10, &e) == SW_OK);   /* replaced, not doubled */
    CHECK(store_class_names(s, "colours", &names, &n, &e) == SW_OK);
    CHECK_INT(n, 10);
    if (n == 10) {
        CHECK_STR(names[0], "airplane");
        CHECK_STR(names[9], "truck");
    }
    store_names_free(names, n);
    const char *const two[] = {"a", NULL, "c"};
    CHECK(store_classes_put(s, id, two, 3, &e) == SW_OK);
    CHECK(store_class_names(s, "colours", &names, &n, &e) == SW_OK);
    CHECK_INT(n, 3);
    if (n == 3)
        CHECK(names[1] == NULL && strcmp(names[2], "c") == 0);
    store_names_free(names, n);
    CHECK(store_class_names(s, "nothing", &names, &n, &e) == SW_OK && n == 0);
    store_close(s);
    config_free(&c);
}

/* A batch of 3-channel images gives each image the logits it gets alone:
 * the planes are moved into the kernels' (C,B,H,W) layout image by image. */
static void test_cifar_model_rgb(void)
{
    enum { B = 3, C = 3, H = 32, W = 32 };
    model_spec s;
    model_spec_default(&s);
    s.in_c = C, s.in_h = H, s.in_w = W;
    s.dropout = 0;
    model *m = NULL, *one = NULL;
    sw_error e = {0};
    if (model_create(&m, &s, B, &e) != SW_OK || model_create(&one, &s, 1, &e) != SW_OK) {
        test_fail(__FILE__, __LINE__, "%s", e.msg);
        model_free(m);
        return;
    }
    model_init_params(m, 7);
    model_init_params(one, 7);
    static float x[B * C * H * W];
    for (int i = 0; i < B * C * H * W; i++)
        x[i] = (float)((i * 2654435761u) % 1000u) / 1000.0f;
    model_forward(m, x, B, 0, 0, 0);
    const float *all = model_logits(m);   /* (classes, B) */
    int worst = 0;
    for (int b = 0; b < B; b++) {
        model_forward(one, x + b * C * H * W, 1, 0, 0, 0);
        for (int k = 0; k < s.n_classes; k++)
            worst |= model_logits(one)[k] != all[k * B + b];
    }
    CHECK_MSG(!worst, "a batch's logits differ from each image's own");
    /* two images swapped in their channels would give the same logits only
     * by accident: the channels are not interchangeable */
    static float y[C * H * W];
    memcpy(y, x + 2 * H * W, sizeof(float) * H * W);
    memcpy(y + H * W, x + H * W, sizeof(float) * H * W);
    memcpy(y + 2 * H * W, x, sizeof(float) * H * W);
    model_forward(one, y, 1, 0, 0, 0);
    CHECK(model_logits(one)[0] != all[0]);
    s.in_c = 2;
    model *bad = NULL;
    CHECK_INT(model_create(&bad, &s, 1, &e), SW_EINPUT);
    model_free(m);
    model_free(one);
}

void suite_cifar(void)
{
    RUN_TEST(test_cifar_config_data);
    RUN_TEST(test_cifar_config_errors);
    RUN_TEST(test_cifar_check_data);
    RUN_TEST(test_cifar_run_key);
    RUN_TEST(test_cifar_store_classes);
    RUN_TEST(test_cifar_model_rgb);
}
