/* sections.c: the top level of a config (name, data, train, model, grid,
 * exclude), each section from its mapping into sweep_config, and the
 * defaults for what is not given.
 *
 * Limits: MAX_EXCLUDE exclude rules (which bounds grid_expand's matching to
 * ~0.5 s) and GRID_MAX_RUNS runs, counted before excludes (an activation
 * without alpha once whatever the alphas). */
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

static int need_map(parser *p, const ynode *n, const char *name)
{
    char b[200];
    if (n->type == Y_MAP)
        return 0;
    return cfg_fail(p, n, "%s must be a mapping of settings, got %s", name, cfg_show(n, b, sizeof b));
}

/* train.early_stopping: {monitor: val_loss | val_accuracy, patience: N,
 * restore_best: true | false}; monitor defaults to val_loss and
 * restore_best to false, as in Keras; patience has no default. */
static int parse_early_stopping(parser *p, const ynode *map, sweep_config *c)
{
    static const char *const names[] = {"monitor", "patience", "restore_best"};
    const ynode *k[3], *v[3];
    double d;
    char b[200];
    int rc;
    if (cfg_is_null(map))
        return 0;
    if (map->type != Y_MAP)
        return cfg_fail(p, map, "early_stopping must be a mapping like {monitor: val_loss, "
                            "patience: 3, restore_best: true}, got %s", cfg_show(map, b, sizeof b));
    if ((rc = cfg_map_fields(p, map, "early_stopping", names, 3, k, v)))
        return rc;
    es_settings es = {ES_VAL_LOSS, 0, 0};
    for (int i = 0; i < 2; i++)
        if (v[i] && v[i]->type != Y_SCALAR)
            return cfg_fail(p, v[i], "early_stopping.%s must be a single value, got %s", names[i],
                        cfg_show(v[i], b, sizeof b));
    if (v[0]) {
        if ((rc = cfg_parse_value(p, &cfg_f_monitor, v[0], &d, 0)))
            return rc;
        es.monitor = (es_monitor)((int)d + 1);
    }
    if (!v[1])
        return cfg_fail(p, map, "early_stopping needs 'patience': the epochs without improvement "
                            "before a run stops, like {monitor: val_loss, patience: 3}");
    if ((rc = cfg_parse_value(p, &cfg_f_patience, v[1], &d, 0)))
        return rc;
    es.patience = (int)d;
    if (v[2] && (rc = cfg_parse_bool(p, "restore_best", v[2], &es.restore_best)))
        return rc;
    c->early_stopping = es;
    return 0;
}

/* The axes of the train keys that are grid axes too, in parse_train's order. */
static const axis_id TRAIN_AXES[] = {AXIS_BATCH_SIZE, AXIS_OPTIMIZER, AXIS_LEARNING_RATE,
                                     AXIS_MOMENTUM, AXIS_WEIGHT_DECAY, AXIS_LR_SCHEDULE};
#define N_TRAIN_AXES 6

/* train: its axis keys become one-value axes, unless the grid gives them
 * (then both places is an error, found in parse_grid); tk[a] is the key
 * of axis a in train, or NULL. *nesterov_k: the nesterov key or NULL. */
static int parse_train(parser *p, const ynode *map, sweep_config *c, const ynode **tk,
                       const ynode **nesterov_k)
{
    static const char *const names[] = {"batch_size", "optimizer", "learning_rate", "momentum",
                                        "weight_decay", "lr_schedule", "nesterov",
                                        "early_stopping"};
    const ynode *kk[8], *vv[8];
    char b[200];
    int rc = need_map(p, map, "train");
    if (rc || (rc = cfg_map_fields(p, map, "train", names, 8, kk, vv)))
        return rc;
    if (vv[7] && (rc = parse_early_stopping(p, vv[7], c)))
        return rc;
    if (vv[6] && (rc = cfg_parse_bool(p, "nesterov", vv[6], &c->nesterov)))
        return rc;
    *nesterov_k = kk[6];
    for (int i = 0; i < N_TRAIN_AXES; i++) {
        axis_id a = TRAIN_AXES[i];
        double d;
        if (!vv[i])
            continue;
        tk[a] = kk[i];
        if (a == AXIS_LR_SCHEDULE) {
            if (vv[i]->type == Y_SEQ)
                return cfg_fail(p, vv[i], "train.lr_schedule is one schedule; to try several, "
                                          "put the list under grid:");
            if ((rc = cfg_parse_schedules(p, kk[i], vv[i], c)))
                return rc;
            continue;
        }
        if (vv[i]->type != Y_SCALAR)
            return cfg_fail(p, vv[i], "train.%s must be a single value, got %s (to try several, "
                                      "put it under grid:)", names[i], cfg_show(vv[i], b, sizeof b));
        if ((rc = cfg_parse_value(p, &cfg_axis_fields[a], vv[i], &d, 0)) ||
            (rc = cfg_set_single(p, &c->axis[a], d, kk[i]->line, kk[i]->col)))
            return rc;
    }
    return 0;
}

static int parse_grid(parser *p, const ynode *map, sweep_config *c, const ynode **train_k,
                      const ynode *model_k, const ynode **alpha_val)
{
    const ynode *k[AXIS_COUNT], *v[AXIS_COUNT];
    int rc = need_map(p, map, "grid");
    if (rc || (rc = cfg_map_fields(p, map, "grid", cfg_axis_names, AXIS_COUNT, k, v)))
        return rc;
    /* axis order: activation comes before alpha, whose message reads it */
    for (int a = 0; a < AXIS_COUNT; a++) {
        if (!v[a])
            continue;
        if (train_k[a])
            return cfg_fail(p, k[a], "%s is set in both train (line %d) and grid; keep one",
                            cfg_axis_names[a], train_k[a]->line);
        if (a == AXIS_LR_SCHEDULE) {
            if ((rc = cfg_parse_schedules(p, k[a], v[a], c)))
                return rc;
            continue;
        }
        if (a == AXIS_MODEL) {
            if (model_k)
                return cfg_fail(p, k[a], "model is set both at the top level (line %d) and in "
                                     "grid; keep one", model_k->line);
            if ((rc = cfg_parse_models(p, k[a], v[a], c)))
                return rc;
            continue;
        }
        if (a == AXIS_ALPHA)
            *alpha_val = v[a];
        if (a == AXIS_ALPHA && v[a]->type == Y_MAP) {   /* alphas per activation */
            if ((rc = cfg_parse_alpha_map(p, k[a], v[a], c)))
                return rc;
            continue;
        }
        int elu = a == AXIS_ALPHA && cfg_has_value(&c->axis[AXIS_ACTIVATION], ACT_ELU);
        if ((rc = cfg_parse_axis(p, (axis_id)a, k[a], v[a], &c->axis[a], elu)))
            return rc;
    }
    return 0;
}

static int parse_exclude(parser *p, const ynode *list, sweep_config *c)
{
    char b[200];
    if (cfg_is_null(list))
        return 0;
    if (list->type != Y_SEQ)
        return cfg_fail(p, list, "exclude must be a list of rules like "
                             "'- {activation: prelu, init: glorot}', got %s",
                    cfg_show(list, b, sizeof b));
    if (list->n > MAX_EXCLUDE)
        return cfg_fail(p, list, "exclude has %d rules, more than the limit of %d", list->n,
                    MAX_EXCLUDE);
    if (list->n == 0)
        return 0;
    c->exclude = calloc((size_t)list->n, sizeof *c->exclude);
    if (!c->exclude)
        return cfg_oom(p);
    c->n_exclude = list->n;
    int elu = cfg_has_value(&c->axis[AXIS_ACTIVATION], ACT_ELU);
    for (int r = 0; r < list->n; r++) {
        const ynode *rule = list->kid[r], *k[AXIS_COUNT], *v[AXIS_COUNT];
        exclude_rule *x = &c->exclude[r];
        int rc;
        if (rule->type != Y_MAP)
            return cfg_fail(p, rule, "each exclude rule must be a mapping like "
                                 "{activation: prelu, init: glorot}, got %s",
                        cfg_show(rule, b, sizeof b));
        if (rule->n == 0)
            return cfg_fail(p, rule, "an empty exclude rule would exclude every run");
        if ((rc = cfg_map_fields(p, rule, "exclude", cfg_axis_names, AXIS_COUNT, k, v)))
            return rc;
        for (int a = 0; a < AXIS_COUNT; a++) {
            if (!v[a])
                continue;
            if (a == AXIS_MODEL) {
                /* a model not in the grid matches nothing, like any value */
                config_model m;
                if ((rc = cfg_parse_model(p, v[a], &m, 0)))
                    return rc;
                x->v[a] = -1;
                for (int i = 0; i < c->n_models; i++)
                    if (model_shape_equal(&m.shape, &c->models[i].shape))
                        x->v[a] = i;
                x->mask |= 1u << a;
                continue;
            }
            if (a == AXIS_LR_SCHEDULE) {
                config_schedule sc;
                if ((rc = cfg_parse_schedule(p, v[a], &sc)))
                    return rc;
                x->v[a] = -1;
                for (int i = 0; i < c->n_schedules; i++)
                    if (sched_equal(&sc.s, &c->schedules[i].s))
                        x->v[a] = i;
                x->mask |= 1u << a;
                continue;
            }
            if (v[a]->type != Y_SCALAR)
                return cfg_fail(p, v[a], "exclude values must be single values, got %s",
                            cfg_show(v[a], b, sizeof b));
            if ((rc = cfg_parse_value(p, &cfg_axis_fields[a], v[a], &x->v[a], a == AXIS_ALPHA && elu)))
                return rc;
            x->mask |= 1u << a;
        }
        /* runs of an activation without alpha (relu) have none (NULL in
         * the database), so such a rule could never match: say so rather
         * than silently keep the runs. */
        if ((x->mask & (1u << AXIS_ACTIVATION)) && (x->mask & (1u << AXIS_ALPHA)) &&
            !act_info((act_kind)x->v[AXIS_ACTIVATION])->takes_alpha)
            return cfg_fail(p, k[AXIS_ALPHA], "this rule can never match: %s runs have no alpha",
                            act_name((act_kind)x->v[AXIS_ACTIVATION]));
    }
    return 0;
}

static int parse_name(parser *p, const ynode *n, sweep_config *c)
{
    int rc = cfg_parse_string(p, "name", n, &c->name);
    if (rc)
        return rc;
    size_t chars = 0;
    for (size_t i = 0; i < n->len; i++) {
        unsigned char b = (unsigned char)n->s[i];
        if (b < 0x20 || b == 0x7f)
            return cfg_fail(p, n, "name must be one line without control characters");
        chars += (b & 0xC0) != 0x80;
    }
    if (chars > NAME_MAX_CHARS)
        return cfg_fail(p, n, "name is %zu characters long, more than the limit of %d", chars,
                    NAME_MAX_CHARS);
    return 0;
}

/* The key node of name in the grid mapping, or NULL. */
static const ynode *grid_key(const ynode *grid, const char *name)
{
    for (int i = 0; grid && grid->type == Y_MAP && i + 1 < grid->n; i += 2)
        if (grid->kid[i]->type == Y_SCALAR && strcmp(grid->kid[i]->s, name) == 0)
            return grid->kid[i];
    return NULL;
}

int cfg_parse_top(parser *p, const ynode *root, sweep_config *c)
{
    static const char *const names[] = {"name", "data", "train", "model", "grid", "exclude",
                                        "decide"};
    enum { K_NAME, K_DATA, K_TRAIN, K_MODEL, K_GRID, K_EXCLUDE, K_DECIDE, K_COUNT };
    const ynode *k[K_COUNT], *v[K_COUNT], *tk[AXIS_COUNT] = {NULL}, *nesterov_k = NULL,
                *alpha_val = NULL;
    char b[200];
    int rc;

    if (!root)
        return cfg_fail_at(p, 1, 1, "the config is empty (it needs at least a 'name')");
    if (cfg_is_null(root))
        return cfg_fail(p, root, "the config is empty (it needs at least a 'name')");
    if (root->type != Y_MAP)
        return cfg_fail(p, root, "the config must be a mapping of settings "
                             "(name, data, train, model, grid, exclude), got %s",
                    cfg_show(root, b, sizeof b));
    if ((rc = cfg_map_fields(p, root, "", names, K_COUNT, k, v)))
        return rc;
    if (!v[K_NAME])
        return cfg_fail(p, root, "missing required key 'name'");
    if ((rc = parse_name(p, v[K_NAME], c)))
        return rc;

    const char *env = getenv("SWEEP_DATA");
    c->data_dir = strdup(env && *env ? env : DEFAULT_DATA_DIR);
    if (!c->data_dir)
        return cfg_oom(p);
    c->validation_split = 0.2;
    c->train_limit = 0;
    if (v[K_DATA] && !cfg_is_null(v[K_DATA]) && (rc = cfg_parse_data(p, v[K_DATA], c)))
        return rc;
    if (v[K_TRAIN] && !cfg_is_null(v[K_TRAIN]) && (rc = parse_train(p, v[K_TRAIN], c, tk, &nesterov_k)))
        return rc;

    const ynode *model_k = v[K_MODEL] && !cfg_is_null(v[K_MODEL]) ? k[K_MODEL] : NULL;
    if (model_k) {
        if (v[K_MODEL]->type == Y_SEQ)
            return cfg_fail(p, v[K_MODEL], "model at the top level is one model; to try several, "
                                       "put the list under grid:");
        if ((rc = cfg_parse_models(p, k[K_MODEL], v[K_MODEL], c)))
            return rc;
    }
    if (v[K_GRID] && !cfg_is_null(v[K_GRID]) &&
        (rc = parse_grid(p, v[K_GRID], c, tk, model_k, &alpha_val)))
        return rc;
    if (c->n_models == 0) {
        c->models = calloc(1, sizeof *c->models);
        if (!c->models)
            return cfg_oom(p);
        model_shape_default(&c->models[0].shape);
        c->n_models = 1;
    }
    if (c->n_schedules == 0) {
        /* calloc'd: constant, given nowhere */
        if (!(c->schedules = calloc(1, sizeof *c->schedules)))
            return cfg_oom(p);
        c->n_schedules = 1;
    }
    /* alpha: cfg_finish_alphas */
    static const double defaults[AXIS_COUNT] = {
        [AXIS_ACTIVATION] = ACT_RELU, [AXIS_MODEL] = 0, [AXIS_INIT] = INIT_HE,
        [AXIS_DROPOUT] = 0.25, [AXIS_EPOCHS] = 25, [AXIS_BATCH_SIZE] = 250,
        [AXIS_LEARNING_RATE] = 0.001, [AXIS_SEED] = 1, [AXIS_BATCHNORM] = 0,
        [AXIS_OPTIMIZER] = OPT_ADAM, [AXIS_MOMENTUM] = 0, [AXIS_WEIGHT_DECAY] = 0,
        [AXIS_LR_SCHEDULE] = 0,
    };
    for (int a = 0; a < AXIS_COUNT; a++)
        if (a != AXIS_ALPHA && c->axis[a].n == 0 &&
            (rc = cfg_set_single(p, &c->axis[a], defaults[a], 0, 0)))
            return rc;
    if ((rc = cfg_finish_alphas(p, c)))
        return rc;

    if ((rc = cfg_check_optimizer(p, c, nesterov_k)))
        return rc;
    if (v[K_EXCLUDE] && (rc = parse_exclude(p, v[K_EXCLUDE], c)))
        return rc;
    if ((rc = cfg_warn_alphas(p, c, alpha_val)))
        return rc;
    if (v[K_DECIDE] && !cfg_is_null(v[K_DECIDE]) &&
        (rc = cfg_parse_decide(p, k[K_DECIDE], v[K_DECIDE], grid_key(v[K_GRID], "seed"), c)))
        return rc;

    double runs = config_grid_count(c);
    if (runs > GRID_MAX_RUNS)
        return cfg_fail(p, k[K_GRID], "the grid expands to %.0f runs, more than the limit of %d",
                    runs, GRID_MAX_RUNS);
    return 0;
}
