/* store_sql.h: one read-only SQL statement run against a store, for tests
 * that look inside a database. Not part of the public API: programs ask
 * the typed questions of sweep/store.h, so the schema stays the store's. */
#ifndef SWEEP_STORE_SQL_H
#define SWEEP_STORE_SQL_H

#include "sweep/store.h"

/* Called per row (values valid during the call); nonzero stops early. */
typedef int (*store_row_fn)(void *ctx, int ncols, const char *const *names,
                            const store_value *vals);

/* Runs sql (a constant written by the caller; values travel only as the
 * bound text parameters ?1..?n). A statement that writes is refused. */
int store_select(store *s, const char *sql, const char *const *params, int n_params,
                 store_row_fn fn, void *ctx, sw_error *err);

#endif
