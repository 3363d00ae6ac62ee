/* early_stop.c: see early_stop.h. */
#include "train/early_stop.h"

#include <math.h>
#include <string.h>

void es_init(es_state *st)
{
    st->best = NAN;
    st->best_epoch = 0;
    st->wait = 0;
}

int es_update(const es_settings *cfg, es_state *st, int epoch, double value, int *improved)
{
    int better = 0;
    if (improved)
        *improved = 0;
    if (cfg->monitor == ES_OFF)
        return 0;
    if (!isnan(value))
        better = st->best_epoch == 0 ||
                 (cfg->monitor == ES_VAL_LOSS ? value < st->best : value > st->best);
    if (better) {
        st->best = value;
        st->best_epoch = epoch;
        st->wait = 0;
    } else {
        st->wait++;
    }
    if (improved)
        *improved = better;
    return es_stopped(cfg, st);
}

int es_stopped(const es_settings *cfg, const es_state *st)
{
    return cfg->monitor != ES_OFF && cfg->patience > 0 && st->wait >= cfg->patience;
}

const char *es_monitor_name(es_monitor m)
{
    return m == ES_VAL_LOSS ? "val_loss" : m == ES_VAL_ACCURACY ? "val_accuracy" : NULL;
}

int es_monitor_from_name(const char *name)
{
    if (name && strcmp(name, "val_loss") == 0)
        return ES_VAL_LOSS;
    if (name && strcmp(name, "val_accuracy") == 0)
        return ES_VAL_ACCURACY;
    return -1;
}
