/* delete.c: what a sweep holds, and removing it with everything that hangs
 * off it. The schema's triggers (schema.c) make a plain DELETE FROM sweeps
 * cascade even where foreign keys are off (the sqlite3 shell's default);
 * here the rows go explicitly as well, children first, so the count the
 * user was shown is what goes. */
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

/* One statement of this file: prepared, bound to id, stepped by the caller. */
static sqlite3_stmt *prepare_id(store *s, const char *sql, long long id, const char *what,
                                sw_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        db_fail(s, what, err);
        return NULL;
    }
    if (sqlite3_bind_int64(st, 1, id) != SQLITE_OK) {
        db_fail(s, what, err);
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

/* One number from sql (which takes the sweep id as ?1). */
static int count_of(store *s, const char *sql, long long id, long long *n, sw_error *err)
{
    const char *what = "counting a sweep's rows";
    sqlite3_stmt *st = prepare_id(s, sql, id, what, err);
    if (!st)
        return err->code;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        db_fail(s, what, err);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? SW_OK : err->code;
}

/* The runs: their keys and states, and how many run in a live process. */
static int read_runs(store *s, store_sweep_held *c, sw_error *err)
{
    const char *what = "reading a sweep's runs";
    sqlite3_stmt *st = prepare_id(s, "SELECT run_key, status, host, pid, heartbeat_at "
                                     "FROM runs WHERE sweep_id = ?1 ORDER BY run_id",
                                  c->sweep_id, what, err);
    if (!st)
        return err->code;
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (c->runs == cap) {
            int grown = cap ? 2 * cap : 64;
            void *p = realloc(c->keys, sizeof *c->keys * (size_t)grown);
            if (!p) {
                sqlite3_finalize(st);
                return db_oom(s, what, err);
            }
            c->keys = p;
            cap = grown;
        }
        db_column_copy(st, 0, c->keys[c->runs], sizeof c->keys[c->runs]);
        run_owner o = {0};
        char status[32];
        db_column_copy(st, 1, status, sizeof status);
        int k = run_status_from_name(status);
        o.status = k < 0 ? RUN_FAILED : (run_status)k;
        db_column_copy(st, 2, o.host, sizeof o.host);
        o.pid = sqlite3_column_int64(st, 3);
        db_column_copy(st, 4, o.heartbeat, sizeof o.heartbeat);
        c->count[o.status]++;
        c->live += o.status == RUN_RUNNING && !db_owner_gone(s, &o);
        c->runs++;
    }
    if (rc != SQLITE_DONE)
        db_fail(s, what, err);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SW_OK : err->code;
}

static int contents(store *s, const char *name, store_sweep_held *c, sw_error *err)
{
    if (db_sweep_find(s, name, &c->sweep_id, err) != SW_OK || !c->sweep_id)
        return err->code;
    if (read_runs(s, c, err) != SW_OK ||
        count_of(s, "SELECT count(*) FROM epochs e JOIN runs r ON r.run_id = e.run_id "
                    "WHERE r.sweep_id = ?1", c->sweep_id, &c->epochs, err) != SW_OK ||
        count_of(s, "SELECT count(*) FROM layer_stats l JOIN runs r ON r.run_id = l.run_id "
                    "WHERE r.sweep_id = ?1", c->sweep_id, &c->layer_stats, err) != SW_OK)
        return err->code;
    return SW_OK;
}

int store_sweep_contents(store *s, const char *name, store_sweep_held *c, sw_error *err)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_lock(&s->lock);
    /* one snapshot: the counts agree with each other */
    int own = sqlite3_get_autocommit(s->db) &&
              sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    int rc = contents(s, name, c, err);
    if (own)
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    pthread_mutex_unlock(&s->lock);
    if (rc != SW_OK)
        store_sweep_contents_free(c);
    return rc;
}

void store_sweep_contents_free(store_sweep_held *c)
{
    free(c->keys);
    c->keys = NULL;
}

/* Children first, so that no row is left whatever the foreign keys. */
static const char *const DELETE_SQL[] = {
    "DELETE FROM layer_stats WHERE run_id IN (SELECT run_id FROM runs WHERE sweep_id = ?1)",
    "DELETE FROM epochs WHERE run_id IN (SELECT run_id FROM runs WHERE sweep_id = ?1)",
    "DELETE FROM runs WHERE sweep_id = ?1",
    "DELETE FROM sweeps WHERE sweep_id = ?1",
};

static int delete_rows(store *s, long long sweep_id, sw_error *err)
{
    const char *what = "deleting a sweep";
    for (size_t k = 0; k < sizeof DELETE_SQL / sizeof DELETE_SQL[0]; k++) {
        sqlite3_stmt *st = prepare_id(s, DELETE_SQL[k], sweep_id, what, err);
        if (!st)
            return err->code;
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
            db_fail(s, what, err);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            return err->code;
    }
    return SW_OK;
}

int store_sweep_delete(store *s, long long sweep_id, sw_error *err)
{
    pthread_mutex_lock(&s->lock);
    int rc = db_tx_begin(s, "deleting a sweep", err);
    if (rc == SW_OK && delete_rows(s, sweep_id, err) != SW_OK)
        rc = db_tx_fail(s, err);
    else if (rc == SW_OK)
        rc = db_tx_commit(s, "deleting a sweep", err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}
