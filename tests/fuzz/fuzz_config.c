/* fuzz_config: any bytes as a sweep config.
 *
 * config_parse must accept or refuse without crashing, hanging or leaking,
 * and refuse with a one-line "fuzz.yaml:..." message. What it accepts must
 * expand (unless every run is excluded), and the runs' keys must be well
 * formed, repeatable and distinct (grid_expand collapses duplicate runs).
 * Accepted models must print and count sanely and fit 28x28 images.
 * config_load must agree with config_parse on the same bytes. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "sweep/config.h"
#include "sweep/grid.h"

#define PATH "fuzz.yaml"
#define KEYED_RUNS 48   /* keys compared pairwise: keep it small */

static int is_key(const char *k)
{
    for (int i = 0; i < RUN_KEY_LEN; i++)
        if (!((k[i] >= '0' && k[i] <= '9') || (k[i] >= 'a' && k[i] <= 'f')))
            return 0;
    return k[RUN_KEY_LEN] == '\0';
}

static void check_config(const sweep_config *c)
{
    FUZZ_CHECK(c->name && *c->name, "accepted without a name");
    FUZZ_CHECK(c->data_dir && *c->data_dir, "accepted without a data folder");
    FUZZ_CHECK(c->path && strcmp(c->path, PATH) == 0, "path not kept");
    FUZZ_CHECK(c->text, "text not kept");
    FUZZ_CHECK(c->validation_split > 0 && c->validation_split < 1,
               "validation_split %g", c->validation_split);
    FUZZ_CHECK(c->train_limit >= 0, "train_limit %ld", c->train_limit);
    for (int a = 0; a < AXIS_COUNT; a++) {
        const axis_values *ax = &c->axis[a];
        FUZZ_CHECK(ax->n >= 1 && ax->n <= AXIS_MAX_VALUES && ax->v,
                   "axis %s has %d values", axis_name((axis_id)a), ax->n);
        for (int i = 0; i < ax->n; i++)
            FUZZ_CHECK(isfinite(ax->v[i]), "axis %s value %g", axis_name((axis_id)a),
                       ax->v[i]);
    }
    FUZZ_CHECK(c->n_exclude >= 0 && (c->n_exclude == 0 || c->exclude),
               "%d exclude rules", c->n_exclude);
    FUZZ_CHECK(c->n_models >= 1 && c->models, "%d models", c->n_models);
}

/* Every model: its text, its size, and whether it fits other images (the
 * parse checked 28x28 only). */
static void check_models(const sweep_config *c)
{
    static const int sizes[][2] = {{28, 28}, {1, 1}, {4, 4}, {10, 10}, {65536, 3},
                                   {1000000, 1000000}};
    char text[512], tiny[7];
    for (int i = 0; i < c->n_models; i++) {
        const model_shape *m = &c->models[i].shape;
        FUZZ_CHECK(m->n_conv >= 1 && m->n_conv <= MODEL_MAX_CONV && m->n_dense >= 0 &&
                       m->n_dense <= MODEL_MAX_DENSE,
                   "model %d: %d conv, %d dense", i, m->n_conv, m->n_dense);
        model_shape_text(m, text, sizeof text);
        FUZZ_CHECK(strlen(text) < sizeof text - 1, "model text cut: %s", text);
        model_shape_text(m, tiny, sizeof tiny);   /* truncation path */
        double params = model_shape_params(m, 28, 28, 10);
        FUZZ_CHECK(params > 0 && params <= MODEL_MAX_PARAMS,
                   "accepted model %s has %.0f parameters", text, params);
    }
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        sw_error err = {0};
        int rc = config_check_models(c, sizes[k][0], sizes[k][1], &err);
        if (rc == SW_OK)
            continue;
        FUZZ_CHECK(k != 0, "a parsed model does not fit 28x28: %s", err.msg);
        fz_check_error(rc, &err, PATH);
    }
}

static void check_runs(const run_settings *runs, int n)
{
    char keys[KEYED_RUNS][RUN_KEY_LEN + 1], again[RUN_KEY_LEN + 1];
    char label[160], tiny[6];
    int m = n < KEYED_RUNS ? n : KEYED_RUNS;
    for (int i = 0; i < m; i++) {
        /* spread over the list: first and last always, distinct indices */
        long idx = m > 1 ? (long)i * (n - 1) / (m - 1) : 0;
        const run_settings *r = &runs[idx];
        FUZZ_CHECK(r->epochs >= 1 && r->batch_size >= 1 && r->seed >= 0,
                   "run %ld: epochs %d batch %d seed %lld", idx, r->epochs,
                   r->batch_size, r->seed);
        grid_run_key(r, 0x0123456789abcdefULL, keys[i]);
        FUZZ_CHECK(is_key(keys[i]), "malformed key '%.20s'", keys[i]);
        for (int shards = 1; shards <= 7; shards += 3) {
            int s = grid_shard_of(keys[i], shards);
            FUZZ_CHECK(s >= 0 && s < shards, "shard %d of %d", s, shards);
        }
        grid_run_key(r, 0x0123456789abcdefULL, again);
        FUZZ_CHECK(strcmp(keys[i], again) == 0, "key not repeatable");
        grid_run_label(r, label, sizeof label);
        FUZZ_CHECK(strlen(label) < sizeof label, "label overflow");
        grid_run_label(r, tiny, sizeof tiny);   /* truncation path */
        model_spec spec;
        grid_model_spec(r, &spec);
    }
    for (int i = 0; i < m; i++)
        for (int j = 0; j < i; j++)
            FUZZ_CHECK(strcmp(keys[i], keys[j]) != 0, "two runs share key %s", keys[i]);
}

static int fd_file;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    unsetenv("SWEEP_DATA");   /* the default folder, whatever the shell has */
    fz_init_dir();
    fd_file = fz_memfd("config");
    fz_link(fd_file, PATH);
    return 0;
}

/* config_load on the same bytes as a file: the same verdict and message,
 * but for the path it starts with. */
static void check_load(const uint8_t *data, size_t size, int parse_rc, const sw_error *perr)
{
    char path[1200];
    sweep_config c;
    sw_error err = {0};
    fz_fill(fd_file, data, size);
    fz_path(path, sizeof path, PATH);
    int rc = config_load(&c, path, &err);
    FUZZ_CHECK(rc == parse_rc, "config_load gave %d, config_parse %d: %s", rc, parse_rc,
               err.msg);
    if (rc == SW_OK) {
        config_free(&c);
        return;
    }
    fz_check_error(rc, &err, path);
    const char *a = err.msg + strlen(path), *b = perr->msg + strlen(PATH);
    size_t n = strlen(a) < strlen(b) ? strlen(a) : strlen(b);   /* either may be cut */
    FUZZ_CHECK(strncmp(a, b, n) == 0, "config_load said '%s', config_parse '%s'", err.msg,
               perr->msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sweep_config c;
    sw_error err = {0};
    int rc = config_parse(&c, (const char *)data, size, PATH, &err);
    check_load(data, size, rc, &err);
    if (rc != SW_OK) {
        fz_check_error(rc, &err, PATH);
        FUZZ_CHECK(!c.name && !c.text && !c.path && !c.exclude && !c.models,
                   "a refused config still holds memory");
        return 0;
    }
    check_config(&c);
    check_models(&c);

    run_settings *runs = NULL;
    int n = -1;
    sw_error gerr = {0};
    rc = grid_expand(&c, &runs, &n, &gerr);
    if (rc == SW_OK) {
        FUZZ_CHECK(runs && n >= 1 && n <= GRID_MAX_RUNS, "%d runs", n);
        check_runs(runs, n);
    } else {
        fz_check_error(rc, &gerr, PATH);
        FUZZ_CHECK(!runs && n == 0, "a refused grid still returns runs");
        /* config_parse already refused oversized grids */
        FUZZ_CHECK(strstr(gerr.msg, "every run is excluded"),
                   "grid_expand refused an accepted config: %s", gerr.msg);
    }
    free(runs);
    config_free(&c);
    return 0;
}
