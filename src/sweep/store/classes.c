/* classes.c: the class names of a sweep's data (CIFAR's batches.meta.txt
 * and kin), for reports to label classes by name. */
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

/* Most classes read back: CIFAR-100 has 100; labels are bytes. */
#define MAX_CLASSES 256

static int classes_put(store *s, long long sweep_id, const char *const *names, int n,
                       sw_error *err)
{
    const char *what = "recording the class names";
    if (db_tx_begin(s, what, err))
        return err->code;
    sqlite3_stmt *st = db_stmt(s, Q_CLASSES_CLEAR, what, err);
    if (!st)
        return db_tx_fail(s, err);
    if (sqlite3_bind_int64(st, 1, sweep_id) != SQLITE_OK) {
        db_bind_fail(s, st, what, err);
        return db_tx_fail(s, err);
    }
    if (db_step_done(s, st, what, err))
        return db_tx_fail(s, err);
    for (int k = 0; names && k < n; k++) {
        if (!names[k])
            continue;
        if (!(st = db_stmt(s, Q_CLASS_PUT, what, err)))
            return db_tx_fail(s, err);
        if (sqlite3_bind_int64(st, 1, sweep_id) || sqlite3_bind_int(st, 2, k) ||
            db_bind_text(st, 3, names[k])) {
            db_bind_fail(s, st, what, err);
            return db_tx_fail(s, err);
        }
        if (db_step_done(s, st, what, err))
            return db_tx_fail(s, err);
    }
    return db_tx_commit(s, what, err);
}

int store_classes_put(store *s, long long sweep_id, const char *const *names, int n,
                      sw_error *err)
{
    pthread_mutex_lock(&s->lock);
    int rc = classes_put(s, sweep_id, names, n, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int class_names(store *s, const char *sweep, char ***out, int *n, sw_error *err)
{
    const char *what = "reading the class names";
    sqlite3_stmt *st = db_stmt(s, Q_CLASS_NAMES, what, err);
    if (!st)
        return err->code;
    if (db_bind_text(st, 1, sweep) != SQLITE_OK)
        return db_bind_fail(s, st, what, err);
    char **v = NULL;
    int len = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int k = sqlite3_column_int(st, 0);
        const char *t = (const char *)sqlite3_column_text(st, 1);
        if (k < 0 || k >= MAX_CLASSES)
            continue;
        if (k >= len) {   /* rows come by class: grow to k + 1, gaps NULL */
            char **nv = realloc(v, sizeof *v * (size_t)(k + 1));
            if (!nv)
                break;
            memset(nv + len, 0, sizeof *v * (size_t)(k + 1 - len));
            v = nv;
            len = k + 1;
        }
        if (t && !(v[k] = strdup(t)))
            break;
    }
    if (rc != SQLITE_DONE) {
        store_names_free(v, len);
        if (rc == SQLITE_ROW) {
            db_stmt_done(st);
            return db_oom(s, what, err);
        }
        return db_bind_fail(s, st, what, err);
    }
    db_stmt_done(st);
    *out = v;
    *n = len;
    return SW_OK;
}

int store_class_names(store *s, const char *sweep, char ***names, int *n, sw_error *err)
{
    *names = NULL;
    *n = 0;
    pthread_mutex_lock(&s->lock);
    int rc = class_names(s, sweep, names, n, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}
