/* export.c: CSV export of the summary view, runs, epochs and layer
 * statistics (RFC 4180, numbers in their shortest exact form). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

#include "base/csv.h"

/* The shortest form that reads back as the same double: exact like %.17g,
 * but 0.1 stays "0.1". */
static void csv_real(FILE *f, double v)
{
    char buf[40];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, f);
}

static void csv_row(FILE *f, sqlite3_stmt *st, int header)
{
    int n = sqlite3_column_count(st);
    for (int i = 0; i < n; i++) {
        if (i)
            fputc(',', f);
        if (header) {
            const char *name = sqlite3_column_name(st, i);
            sw_csv_str(f, name);
            continue;
        }
        switch (sqlite3_column_type(st, i)) {
        case SQLITE_NULL:
            break;
        case SQLITE_INTEGER:
            fprintf(f, "%lld", (long long)sqlite3_column_int64(st, i));
            break;
        case SQLITE_FLOAT:
            csv_real(f, sqlite3_column_double(st, i));
            break;
        default: {
            const char *t = (const char *)sqlite3_column_text(st, i);
            sw_csv_field(f, t ? t : "", t ? (size_t)sqlite3_column_bytes(st, i) : 0);
        }
        }
    }
    fputs("\r\n", f);
}

static int export_csv(store *s, const char *what, const char *sweep, int all, FILE *out,
                      sw_error *err)
{
    int id = strcmp(what, "summary") == 0 ? (all ? Q_EXPORT_SUMMARY_ALL : Q_EXPORT_SUMMARY)
           : strcmp(what, "runs") == 0    ? Q_EXPORT_RUNS
           : strcmp(what, "epochs") == 0  ? Q_EXPORT_EPOCHS
           : strcmp(what, "layer_stats") == 0 ? Q_EXPORT_LAYERS
                                          : -1;
    if (id < 0)
        return sw_err(err, SW_EINPUT, "cannot export '%s': expected summary, "
                      "runs, epochs or layer_stats", what);
    if (sweep) {
        long long sweep_id;
        if (db_sweep_find(s, sweep, &sweep_id, err))
            return err->code;
        if (!sweep_id)
            return sw_err(err, SW_EINPUT, "no sweep named '%s' in %s", sweep,
                          s->path);
    }
    char doing[64];
    snprintf(doing, sizeof doing, "exporting %s", what);
    sqlite3_stmt *st = db_stmt(s, id, doing, err);
    if (!st)
        return err->code;
    int summary = id == Q_EXPORT_SUMMARY || id == Q_EXPORT_SUMMARY_ALL;
    if (!summary && db_bind_text(st, 1, sweep) != SQLITE_OK)
        return db_bind_fail(s, st, doing, err);
    csv_row(out, st, 1);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (summary && sweep) {
            const char *name = (const char *)sqlite3_column_text(st, 0);
            if (!name || strcmp(name, sweep) != 0)
                continue;
        }
        csv_row(out, st, 0);
    }
    if (rc != SQLITE_DONE)
        return db_bind_fail(s, st, doing, err);
    db_stmt_done(st);
    if (fflush(out) != 0 || ferror(out))
        return sw_err(err, SW_EINPUT, "%s: cannot write the CSV: %s", doing,
                      strerror(errno));
    return SW_OK;
}

int store_export_csv(store *s, const char *what, const char *sweep, FILE *out,
                     sw_error *err)
{
    return store_export_csv_scope(s, what, sweep, 0, out, err);
}

int store_export_csv_scope(store *s, const char *what, const char *sweep, int all,
                           FILE *out, sw_error *err)
{
    if (!what)
        what = "summary";
    pthread_mutex_lock(&s->lock);
    int rc = export_csv(s, what, sweep, all, out, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}
