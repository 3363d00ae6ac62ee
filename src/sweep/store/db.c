/* db.c: the store's small tools: prepared statements, binding, retried
 * execution, transactions and time stamps. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store_internal.h"

#include "base/clock.h"

int db_fail(store *s, const char *what, sw_error *err)
{
    return sw_err(err, SW_EINPUT, "%s: %s: %s", s->path, what,
                  sqlite3_errmsg(s->db));
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {}
}

/* ISO-8601 UTC, second resolution: sorts as text, and SQLite's date
 * functions read it. */
void db_iso_utc(time_t t, char buf[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

sqlite3_stmt *db_stmt(store *s, int id, const char *what, sw_error *err)
{
    if (!s->st[id] &&
        sqlite3_prepare_v3(s->db, DB_SQL[id], -1, SQLITE_PREPARE_PERSISTENT,
                           &s->st[id], NULL) != SQLITE_OK) {
        db_fail(s, what, err);
        s->st[id] = NULL;
    }
    return s->st[id];
}

/* Resets right away: a statement left mid-way would hold a read snapshot. */
void db_stmt_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Steps a statement that returns no rows. */
int db_step_done(store *s, sqlite3_stmt *st, const char *what, sw_error *err)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        db_fail(s, what, err);
    db_stmt_done(st);
    return rc == SQLITE_DONE ? SW_OK : err->code;
}

int db_bind_text(sqlite3_stmt *st, int i, const char *text)
{
    return text ? sqlite3_bind_text(st, i, text, -1, SQLITE_TRANSIENT)
                : sqlite3_bind_null(st, i);
}

/* NaN (and a missing value) is NULL. */
int db_bind_real(sqlite3_stmt *st, int i, double v)
{
    return isnan(v) ? sqlite3_bind_null(st, i) : sqlite3_bind_double(st, i, v);
}

int db_bind_fail(store *s, sqlite3_stmt *st, const char *what, sw_error *err)
{
    db_fail(s, what, err);
    db_stmt_done(st);
    return err->code;
}

/* Runs sql, retrying while the database is busy: the busy timeout covers
 * most waits, but SQLite returns BUSY without waiting in some cases (e.g.
 * while another connection recovers the WAL), and another process may hold
 * the write lock for long (a backup, a shell left in a transaction): an
 * epoch computed meanwhile is worth waiting for. Sleeps back off from 20 ms
 * to 1 s; a stop request ends the wait. */
int db_exec_retry(store *s, const char *sql, const char *what, sw_error *err)
{
    double until = sw_now_seconds() + BUSY_RETRY_SECONDS;
    long nap = 20;
    for (;;) {
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            return SW_OK;
        if ((rc & 0xff) != SQLITE_BUSY || sw_now_seconds() > until || (s->stop && *s->stop))
            return db_fail(s, what, err);
        sleep_ms(nap);
        nap = nap * 2 > 1000 ? 1000 : nap * 2;
    }
}

int db_check_file(store *s, sw_error *err)
{
    struct stat st;
    if (!s->watch)
        return SW_OK;
    int e = stat(s->path, &st) == 0 ? 0 : errno;
    if (e == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
        return SW_OK;
    return sw_err(err, SW_EINPUT, "%s: the database was %s while in use; stopping so that "
                  "no more results go to a file nobody can read (checkpoints are kept)",
                  s->path, e == ENOENT ? "deleted" : e ? strerror(e) : "replaced by another file");
}

void db_tx_rollback(store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

int db_tx_begin(store *s, const char *what, sw_error *err)
{
    return db_exec_retry(s, "BEGIN IMMEDIATE", what, err);
}

int db_tx_commit(store *s, const char *what, sw_error *err)
{
    if (db_exec_retry(s, "COMMIT", what, err) != SW_OK) {
        db_tx_rollback(s);
        return err->code;
    }
    return db_check_file(s, err);
}

/* Fails and rolls back, keeping the first error. */
int db_tx_fail(store *s, sw_error *err)
{
    db_tx_rollback(s);
    return err->code;
}

int db_oom(const store *s, const char *what, sw_error *err)
{
    char where[512];
    snprintf(where, sizeof where, "%s: %s", s->path, what);
    return sw_oom(err, where);
}

void db_column_copy(sqlite3_stmt *st, int c, char *buf, size_t size)
{
    const char *t = (const char *)sqlite3_column_text(st, c);
    snprintf(buf, size, "%s", t ? t : "");
}
