/* schema.c: the database's schema and its upgrade, the statements every
 * store prepares, and reading which schema a file holds. */
#include "store_internal.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* --------------------------------------------------------------- schema */

/* Newton's square root of v, in SQL: sqrt() is missing from SQLite builds
 * without the math functions, and the view must work in any shell. Starting
 * above the root, the iterates fall until rounding stops them. */
#define SQL_SQRT(v)                                                          \
    "CASE WHEN " v " > 0 THEN (WITH RECURSIVE it(k, x) AS (SELECT 0, (" v    \
    " + 1) / 2.0 UNION ALL SELECT k + 1, (x + " v " / x) / 2 FROM it "       \
    "WHERE k < 2100 AND (x + " v " / x) / 2 < x) SELECT min(x) FROM it) "    \
    "ELSE " v " END"

#define SETTING_COLUMNS                                                      \
    "sweep, activation, alpha, init, dropout, epochs, batch_size, "          \
    "learning_rate, optimizer, validation_split, train_limit, model, "       \
    "early_stopping, data_format, label, augment, val_limit, test_limit, "   \
    "dataset, batchnorm, momentum, nesterov, weight_decay, lr_schedule"

/* A summary view: one row per sweep and setting without the seed, over
 * the done runs that pass filter (an SQL condition and "AND ", or ""). */
#define SUMMARY_VIEW(name, filter)                                           \
    "CREATE VIEW IF NOT EXISTS " name " AS\n"                                \
    "-- One row per sweep and setting without the seed, over done runs.\n"   \
    "-- std_* is the sample standard deviation (n - 1), NULL when n = 1;\n"  \
    "-- its square root is Newton's, as sqrt() is not in every SQLite build.\n" \
    "WITH done AS (\n"                                                       \
    "  SELECT s.name AS sweep, r.run_id, r.activation, r.alpha, r.init,\n"   \
    "         r.dropout, r.epochs, r.batch_size, r.learning_rate, r.optimizer,\n" \
    "         r.validation_split, r.train_limit, r.model,\n"                 \
    "         r.batchnorm, r.momentum, r.nesterov, r.weight_decay, r.lr_schedule,\n" \
    "         r.data_format, r.label, r.augment, r.val_limit, r.test_limit,\n" \
    "         r.dataset,\n"                                                  \
    "         " SQL_EARLY_STOPPING("r") " AS early_stopping,\n"              \
    "         r.test_accuracy, r.test_loss,\n"                               \
    "         (SELECT max(e.val_accuracy) FROM epochs e\n"                   \
    "           WHERE e.run_id = r.run_id) AS best_val,\n"                   \
    "         (SELECT total(e.seconds) FROM epochs e\n"                      \
    "           WHERE e.run_id = r.run_id) AS secs,\n"                       \
    "         (SELECT count(e.seconds) FROM epochs e\n"                      \
    "           WHERE e.run_id = r.run_id) AS n_secs\n"                      \
    "  FROM runs r JOIN sweeps s ON s.sweep_id = r.sweep_id\n"               \
    "  WHERE " filter "r.status = 'done'\n"                                  \
    "), dev AS (\n"                                                          \
    "  SELECT *, test_accuracy - avg(test_accuracy) OVER setting AS d_acc,\n" \
    "         test_loss - avg(test_loss) OVER setting AS d_loss\n"           \
    "  FROM done\n"                                                          \
    "  WINDOW setting AS (PARTITION BY " SETTING_COLUMNS ")\n"               \
    "), grp AS (\n"                                                          \
    "  SELECT " SETTING_COLUMNS ",\n"                                        \
    "         count(*) AS n,\n"                                              \
    "         avg(test_accuracy) AS mean_test_accuracy,\n"                   \
    "         CASE WHEN count(d_acc) > 1\n"                                  \
    "           THEN total(d_acc * d_acc) / (count(d_acc) - 1) END AS var_acc,\n" \
    "         avg(test_loss) AS mean_test_loss,\n"                           \
    "         CASE WHEN count(d_loss) > 1\n"                                 \
    "           THEN total(d_loss * d_loss) / (count(d_loss) - 1) END AS var_loss,\n" \
    "         avg(best_val) AS mean_best_val_accuracy,\n"                    \
    "         CASE WHEN sum(n_secs) > 0\n"                                   \
    "           THEN sum(secs) / sum(n_secs) END AS mean_seconds_per_epoch,\n" \
    "         min(run_id) AS first_run\n"                                    \
    "  FROM dev\n"                                                           \
    "  GROUP BY " SETTING_COLUMNS "\n"                                       \
    ")\n"                                                                    \
    "SELECT " SETTING_COLUMNS ", n,\n"                                       \
    "       mean_test_accuracy,\n"                                           \
    "       " SQL_SQRT("var_acc") " AS std_test_accuracy,\n"                 \
    "       mean_test_loss,\n"                                               \
    "       " SQL_SQRT("var_loss") " AS std_test_loss,\n"                    \
    "       mean_best_val_accuracy, mean_seconds_per_epoch\n"                \
    "FROM grp\n"                                                             \
    "ORDER BY sweep, first_run;\n"   /* the grid's own order */

/* Version 3: every config text a sweep was run with, and when.
 * from_upgrade: copied from sweeps by the upgrade from version 2, whose
 * runs may mix grids; the next `sweep run` checks them (store.h). */
#define SWEEP_CONFIGS_SQL                                                    \
    "CREATE TABLE IF NOT EXISTS sweep_configs (\n"                           \
    "  sweep_id INTEGER NOT NULL REFERENCES sweeps(sweep_id) ON DELETE CASCADE,\n" \
    "  config_text TEXT NOT NULL,\n"                                         \
    "  config_path TEXT,\n"                                                  \
    "  recorded_at TEXT NOT NULL,\n"                                         \
    "  from_upgrade INTEGER NOT NULL DEFAULT 0\n"                            \
    ");\n"                                                                   \
    "CREATE INDEX IF NOT EXISTS sweep_configs_sweep ON sweep_configs (sweep_id);\n"

/* The model of every run before schema version 2: the blog's. */
#define DEFAULT_MODEL_TEXT "conv=32-64;dense=256"

/* Version 3: deleting a sweep or a run takes what hangs off it even with
 * foreign keys off, as they are by default in the sqlite3 shell (where a
 * user may well type DELETE FROM sweeps WHERE name = ...). With foreign
 * keys on, ON DELETE CASCADE has done it first and these find nothing.
 * A table added later with a sweep_id or run_id needs its line here. */
#define DELETE_TRIGGERS_SQL                                                  \
    "CREATE TRIGGER IF NOT EXISTS sweeps_delete_runs AFTER DELETE ON sweeps\n" \
    "BEGIN DELETE FROM runs WHERE sweep_id = OLD.sweep_id;\n"                \
    "      DELETE FROM sweep_configs WHERE sweep_id = OLD.sweep_id;\n"       \
    "      DELETE FROM classes WHERE sweep_id = OLD.sweep_id; END;\n"        \
    "CREATE TRIGGER IF NOT EXISTS runs_delete_epochs AFTER DELETE ON runs\n"  \
    "BEGIN DELETE FROM layer_stats WHERE run_id = OLD.run_id;\n"             \
    "      DELETE FROM epochs WHERE run_id = OLD.run_id; END;\n"             \
    "CREATE TRIGGER IF NOT EXISTS epochs_delete_layers AFTER DELETE ON epochs\n" \
    "BEGIN DELETE FROM layer_stats\n"                                        \
    "      WHERE run_id = OLD.run_id AND epoch = OLD.epoch; END;\n"

static const char SCHEMA_SQL[] =
    "CREATE TABLE IF NOT EXISTS sweeps (\n"
    "  sweep_id INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL UNIQUE,\n"
    "  config_path TEXT,\n"
    "  config_text TEXT,\n"
    "  created_at TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE IF NOT EXISTS runs (\n"
    "  run_id INTEGER PRIMARY KEY,\n"
    "  sweep_id INTEGER NOT NULL REFERENCES sweeps(sweep_id) ON DELETE CASCADE,\n"
    "  run_key TEXT NOT NULL,\n"
    "  activation TEXT NOT NULL,\n"
    "  alpha REAL,\n"
    "  init TEXT NOT NULL,\n"
    "  dropout REAL NOT NULL,\n"
    "  epochs INTEGER NOT NULL,\n"
    "  seed INTEGER NOT NULL,\n"
    "  batch_size INTEGER NOT NULL,\n"
    "  learning_rate REAL NOT NULL,\n"
    "  optimizer TEXT NOT NULL,\n"
    "  validation_split REAL,\n"
    "  train_limit INTEGER,\n"
    /* run_status_name's table, as stored in every database (a unit test
     * holds the two together) */
    "  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', "
    "'running', 'done', 'failed', 'diverged', 'interrupted')),\n"
    "  started_at TEXT,\n"
    "  finished_at TEXT,\n"
    "  wall_seconds REAL,\n"
    "  threads INTEGER,\n"
    "  test_loss REAL,\n"
    "  test_accuracy REAL,\n"
    "  error TEXT,\n"
    "  diverged_epoch INTEGER,\n"
    "  host TEXT,\n"
    "  pid INTEGER,\n"
    "  heartbeat_at TEXT,\n"
    /* version 2, in the order the upgrade appends them */
    "  model TEXT NOT NULL DEFAULT '" DEFAULT_MODEL_TEXT "',\n"
    "  es_monitor TEXT,\n"
    "  es_patience INTEGER,\n"
    "  es_restore_best INTEGER,\n"
    "  best_epoch INTEGER,\n"
    "  stopped_epoch INTEGER,\n"
    /* version 3 */
    "  in_grid INTEGER NOT NULL DEFAULT 1,\n"
    /* version 3, in the order the upgrade appends them: the data's format,
     * CIFAR-100's labelling (NULL otherwise), augmentation ("crop=4,flip",
     * NULL when off) and evaluation limits (0: the whole set) */
    "  data_format TEXT NOT NULL DEFAULT 'idx',\n"
    "  label TEXT,\n"
    "  augment TEXT,\n"
    "  val_limit INTEGER NOT NULL DEFAULT 0,\n"
    "  test_limit INTEGER NOT NULL DEFAULT 0,\n"
    /* version 3: the data's identity (dataset.h), 16 hex digits as in the
     * run key; NULL for runs recorded before (sweep run fills it in) */
    "  dataset TEXT,\n"
    /* version 3 too: batch norm, the optimizer's settings, the schedule */
    "  batchnorm INTEGER NOT NULL DEFAULT 0,\n"
    "  momentum REAL NOT NULL DEFAULT 0,\n"
    "  nesterov INTEGER NOT NULL DEFAULT 0,\n"
    "  weight_decay REAL NOT NULL DEFAULT 0,\n"
    "  lr_schedule TEXT NOT NULL DEFAULT 'constant',\n"
    "  UNIQUE (sweep_id, run_key)\n"
    ");\n"
    /* the class names of a sweep's data, when the data has them (CIFAR) */
    "CREATE TABLE IF NOT EXISTS classes (\n"
    "  sweep_id INTEGER NOT NULL REFERENCES sweeps(sweep_id) ON DELETE CASCADE,\n"
    "  class INTEGER NOT NULL CHECK (class >= 0),\n"
    "  name TEXT NOT NULL,\n"
    "  PRIMARY KEY (sweep_id, class)\n"
    ");\n"
    "CREATE TABLE IF NOT EXISTS epochs (\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,\n"
    "  epoch INTEGER NOT NULL CHECK (epoch >= 1),\n"
    "  train_loss REAL,\n"
    "  train_accuracy REAL,\n"
    "  val_loss REAL,\n"
    "  val_accuracy REAL,\n"
    "  seconds REAL,\n"
    "  PRIMARY KEY (run_id, epoch)\n"
    ");\n"
    "CREATE TABLE IF NOT EXISTS layer_stats (\n"
    "  run_id INTEGER NOT NULL,\n"
    "  epoch INTEGER NOT NULL CHECK (epoch >= 1),\n"
    "  layer TEXT NOT NULL,\n"
    "  mean_activation REAL,\n"
    "  dead_fraction REAL,\n"
    "  grad_norm REAL,\n"
    "  PRIMARY KEY (run_id, epoch, layer),\n"
    "  FOREIGN KEY (run_id, epoch) REFERENCES epochs(run_id, epoch)\n"
    "    ON DELETE CASCADE\n"
    ");\n"
    SWEEP_CONFIGS_SQL
    SUMMARY_VIEW("summary", "r.in_grid = 1 AND ")
    SUMMARY_VIEW("summary_all", "")
    DELETE_TRIGGERS_SQL
    "PRAGMA user_version = " STR(STORE_SCHEMA_VERSION) ";\n";

/* Version 1 to 2: the new runs columns (old runs had the default model and
 * no early stopping), then SCHEMA_SQL adds layer_stats and the new view. */
static const char UPGRADE_1_SQL[] =
    "ALTER TABLE runs ADD COLUMN model TEXT NOT NULL DEFAULT '" DEFAULT_MODEL_TEXT "';\n"
    "ALTER TABLE runs ADD COLUMN es_monitor TEXT;\n"
    "ALTER TABLE runs ADD COLUMN es_patience INTEGER;\n"
    "ALTER TABLE runs ADD COLUMN es_restore_best INTEGER;\n"
    "ALTER TABLE runs ADD COLUMN best_epoch INTEGER;\n"
    "ALTER TABLE runs ADD COLUMN stopped_epoch INTEGER;\n"
    "DROP VIEW IF EXISTS summary;\n";

/* Version 2 to 3, one statement each, in order; SCHEMA_SQL then makes the
 * views. A column another change adds to version 3 goes here too (and in
 * SCHEMA_SQL's runs). The configs recorded so far become the first entry
 * of each sweep's history (from_upgrade); their runs count as in the grid
 * until the next `sweep run` of the sweep sorts them. Every earlier run
 * read IDX files, without augmentation, on whole evaluation sets, without
 * batch norm, momentum or weight decay, at a constant rate; which files
 * (dataset) is not known until a run names the run again. */
static const char *const UPGRADE_2_SQL[] = {
    "ALTER TABLE runs ADD COLUMN in_grid INTEGER NOT NULL DEFAULT 1",
    SWEEP_CONFIGS_SQL,
    "INSERT INTO sweep_configs (sweep_id, config_text, config_path, recorded_at, "
    "from_upgrade) SELECT sweep_id, config_text, config_path, created_at, 1 FROM sweeps "
    "WHERE config_text IS NOT NULL ORDER BY sweep_id",
    "ALTER TABLE runs ADD COLUMN data_format TEXT NOT NULL DEFAULT 'idx'",
    "ALTER TABLE runs ADD COLUMN label TEXT",
    "ALTER TABLE runs ADD COLUMN augment TEXT",
    "ALTER TABLE runs ADD COLUMN val_limit INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE runs ADD COLUMN test_limit INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE runs ADD COLUMN dataset TEXT",
    "ALTER TABLE runs ADD COLUMN batchnorm INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE runs ADD COLUMN momentum REAL NOT NULL DEFAULT 0",
    "ALTER TABLE runs ADD COLUMN nesterov INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE runs ADD COLUMN weight_decay REAL NOT NULL DEFAULT 0",
    "ALTER TABLE runs ADD COLUMN lr_schedule TEXT NOT NULL DEFAULT 'constant'",
    "DROP VIEW IF EXISTS summary",
    NULL,
};

/* ----------------------------------------------------------- statements */

#define RUN_SETTINGS_COLUMNS                                                 \
    "r.run_id, r.run_key, r.activation, r.alpha, r.init, r.dropout, "        \
    "r.epochs, r.seed, r.batch_size, r.learning_rate, r.optimizer, "         \
    "r.validation_split, r.train_limit, r.model, r.es_monitor, "            \
    "r.es_patience, r.es_restore_best, r.data_format, r.label, r.augment, "  \
    "r.val_limit, r.test_limit, r.dataset, r.batchnorm, r.momentum, "        \
    "r.nesterov, r.weight_decay, r.lr_schedule, r.status"

/* The epochs of a sweep's done runs: run_id, epoch and one column. */
#define DONE_EPOCHS(column)                                                  \
    "SELECT e.run_id, e.epoch, e." column " FROM epochs e "                  \
    "JOIN runs r ON r.run_id = e.run_id "                                    \
    "JOIN sweeps s ON s.sweep_id = r.sweep_id "                              \
    "WHERE s.name = ?1 AND r.status = ?2 AND (?3 OR r.in_grid = 1) "         \
    "ORDER BY e.run_id, e.epoch"

const char *const DB_SQL[Q_COUNT] = {
    [Q_OBJECTS] =
        "SELECT "
        "  count(*), "
        "  count(CASE WHEN type = 'table' AND name IN "
        "    ('sweeps', 'runs', 'epochs') THEN 1 END), "
        "  count(CASE WHEN type = 'view' AND name = 'summary' THEN 1 END), "
        "  count(CASE WHEN type = 'table' AND name = 'layer_stats' THEN 1 END) "
        "FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
    [Q_USER_VERSION] = "PRAGMA user_version",
    [Q_SWEEP_UPSERT] =
        "INSERT INTO sweeps (name, config_path, config_text, created_at) "
        "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET "
        "config_path = excluded.config_path, "
        "config_text = excluded.config_text",
    [Q_SWEEP_FIND] = "SELECT sweep_id FROM sweeps WHERE name = ?1",
    [Q_RUN_INSERT] =
        "INSERT INTO runs (sweep_id, run_key, activation, alpha, init, "
        "dropout, epochs, seed, batch_size, learning_rate, optimizer, "
        "validation_split, train_limit, model, es_monitor, es_patience, "
        "es_restore_best, data_format, label, augment, val_limit, test_limit, "
        "batchnorm, momentum, nesterov, weight_decay, lr_schedule, dataset) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
        "?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28) "
        /* the key holds the data's identity: a run recorded without it
         * (before version 3) was trained on this very data */
        "ON CONFLICT (sweep_id, run_key) DO UPDATE SET dataset = excluded.dataset "
        "WHERE runs.dataset IS NULL",
    [Q_RUN_ID] = "SELECT run_id FROM runs WHERE sweep_id = ?1 AND run_key = ?2",
    [Q_RUN_OWNER] =
        "SELECT status, host, pid, heartbeat_at FROM runs WHERE run_id = ?1",
    [Q_RUN_TAKE] =
        "UPDATE runs SET status = ?6, started_at = ?2, host = ?3, "
        "pid = ?4, threads = ?5, heartbeat_at = ?2, finished_at = NULL, "
        "wall_seconds = NULL, test_loss = NULL, test_accuracy = NULL, "
        "error = NULL, diverged_epoch = NULL, best_epoch = NULL, "
        "stopped_epoch = NULL WHERE run_id = ?1",
    [Q_EPOCHS_CLEAR] = "DELETE FROM epochs WHERE run_id = ?1 AND epoch > ?2",
    [Q_EPOCH_PUT] =
        "INSERT OR REPLACE INTO epochs (run_id, epoch, train_loss, "
        "train_accuracy, val_loss, val_accuracy, seconds) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [Q_HEARTBEAT] = "UPDATE runs SET heartbeat_at = ?2 WHERE run_id = ?1",
    [Q_RUN_FINISH] =
        "UPDATE runs SET status = ?2, finished_at = ?3, wall_seconds = ?4, "
        "test_loss = ?5, test_accuracy = ?6, diverged_epoch = ?7, error = ?8, "
        "best_epoch = ?9, stopped_epoch = ?10 WHERE run_id = ?1",
    [Q_STATUS] =
        "WITH timing AS ("
        "  SELECT r.sweep_id, total(e.seconds) AS secs, count(e.seconds) AS n "
        "  FROM runs r JOIN epochs e ON e.run_id = r.run_id "
        "  WHERE r.status = ?1 GROUP BY r.sweep_id) "
        "SELECT s.sweep_id, s.name, "
        "  CASE WHEN t.n > 0 THEN t.secs / t.n ELSE 0 END, "
        "  r.status, r.host, r.pid, r.heartbeat_at, r.epochs, "
        "  (SELECT count(*) FROM epochs e WHERE e.run_id = r.run_id) "
        "FROM sweeps s LEFT JOIN timing t ON t.sweep_id = s.sweep_id "
        "  LEFT JOIN runs r ON r.sweep_id = s.sweep_id "
        "ORDER BY s.name, s.sweep_id",
    /* Filtered in C by the first column, which keeps the view's order. */
    [Q_EXPORT_SUMMARY] = "SELECT * FROM summary",
    [Q_EXPORT_RUNS] =
        "SELECT s.name AS sweep, " RUN_SETTINGS_COLUMNS ", "
        "  r.started_at, r.finished_at, r.wall_seconds, r.threads, "
        "  r.test_loss, r.test_accuracy, "
        "  (SELECT max(e.val_accuracy) FROM epochs e "
        "    WHERE e.run_id = r.run_id) AS best_val_accuracy, "
        "  (SELECT count(*) FROM epochs e "
        "    WHERE e.run_id = r.run_id) AS epochs_done, "
        "  r.best_epoch, r.stopped_epoch, "
        "  r.diverged_epoch, r.error, r.host, r.pid "
        "FROM runs r JOIN sweeps s ON s.sweep_id = r.sweep_id "
        "WHERE ?1 IS NULL OR s.name = ?1 "
        "ORDER BY s.name, r.run_id",
    [Q_EXPORT_EPOCHS] =
        "SELECT s.name AS sweep, " RUN_SETTINGS_COLUMNS ", "
        "  e.epoch, e.train_loss, e.train_accuracy, e.val_loss, "
        "  e.val_accuracy, e.seconds "
        "FROM epochs e JOIN runs r ON r.run_id = e.run_id "
        "  JOIN sweeps s ON s.sweep_id = r.sweep_id "
        "WHERE ?1 IS NULL OR s.name = ?1 "
        "ORDER BY s.name, r.run_id, e.epoch",
    /* the epoch row is there first (layer_stats references it) */
    [Q_LAYER_PUT] =
        "INSERT OR REPLACE INTO layer_stats (run_id, epoch, layer, "
        "mean_activation, dead_fraction, grad_norm) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    /* conv1..conv8 sort before dense1..dense8: the layers' own order */
    [Q_EXPORT_LAYERS] =
        "SELECT s.name AS sweep, " RUN_SETTINGS_COLUMNS ", "
        "  l.epoch, l.layer, l.mean_activation, l.dead_fraction, l.grad_norm "
        "FROM layer_stats l JOIN runs r ON r.run_id = l.run_id "
        "  JOIN sweeps s ON s.sweep_id = r.sweep_id "
        "WHERE ?1 IS NULL OR s.name = ?1 "
        "ORDER BY s.name, r.run_id, l.epoch, l.layer",
    [Q_CLASSES_CLEAR] = "DELETE FROM classes WHERE sweep_id = ?1",
    [Q_CLASS_PUT] = "INSERT INTO classes (sweep_id, class, name) VALUES (?1, ?2, ?3)",
    [Q_CLASS_NAMES] =
        "SELECT c.class, c.name FROM classes c JOIN sweeps s ON s.sweep_id = c.sweep_id "
        "WHERE s.name = ?1 ORDER BY c.class",
    [Q_SWEEP_NAMES] = "SELECT name FROM sweeps ORDER BY name",
    [Q_SWEEP_CONFIG] = "SELECT config_text, config_path FROM sweeps WHERE name = ?1",
    /* ?2: the name of RUN_DONE, here and below */
    [Q_NOT_DONE] =
        "SELECT count(*) FROM runs r JOIN sweeps s ON s.sweep_id = r.sweep_id "
        "WHERE s.name = ?1 AND r.status <> ?2 AND (?3 OR r.in_grid = 1)",
    [Q_EXPORT_SUMMARY_ALL] = "SELECT * FROM summary_all",
    [Q_CONFIG_LATEST] =
        "SELECT config_text, from_upgrade, rowid FROM sweep_configs WHERE sweep_id = ?1 "
        "ORDER BY rowid DESC LIMIT 1",
    [Q_CONFIG_CHECKED] = "UPDATE sweep_configs SET from_upgrade = 0 WHERE rowid = ?1",
    [Q_CONFIG_ADD] =
        "INSERT INTO sweep_configs (sweep_id, config_text, config_path, recorded_at) "
        "VALUES (?1, ?2, ?3, ?4)",
    [Q_GRID_CLEAR] = "UPDATE runs SET in_grid = 0 WHERE sweep_id = ?1 AND in_grid <> 0",
    [Q_GRID_MARK] = "UPDATE runs SET in_grid = 1 WHERE run_id = ?1 AND in_grid <> 1",
    [Q_LEFT_GRID] =
        "SELECT r.run_key, r.status, 'activation=' || r.activation || "
        "  coalesce(' alpha=' || r.alpha, '') || ' init=' || r.init || "
        "  ' dropout=' || r.dropout || ' epochs=' || r.epochs || "
        "  ' batch_size=' || r.batch_size || ' learning_rate=' || r.learning_rate || "
        "  ' optimizer=' || r.optimizer || coalesce(' train_limit=' || r.train_limit, '') || "
        "  coalesce(' validation_split=' || r.validation_split, '') || "
        "  ' model=' || r.model || ' seed=' || r.seed "
        "FROM runs r JOIN sweeps s ON s.sweep_id = r.sweep_id "
        "WHERE s.name = ?1 ORDER BY r.run_id",
    [Q_SWEEP_CONFIGS] =
        "SELECT c.config_text, c.config_path, c.recorded_at FROM sweep_configs c "
        "JOIN sweeps s ON s.sweep_id = c.sweep_id WHERE s.name = ?1 ORDER BY c.rowid",
    [Q_DONE_EPOCHS + STORE_EPOCH_VAL_ACCURACY] = DONE_EPOCHS("val_accuracy"),
    [Q_DONE_EPOCHS + STORE_EPOCH_VAL_LOSS] = DONE_EPOCHS("val_loss"),
    [Q_DONE_EPOCHS + STORE_EPOCH_TRAIN_ACCURACY] = DONE_EPOCHS("train_accuracy"),
    [Q_DONE_EPOCHS + STORE_EPOCH_TRAIN_LOSS] = DONE_EPOCHS("train_loss"),
};

/* ---------------------------------------------------------- the schema */

static int read_schema(store *s, schema_state *ss, int *notadb, sw_error *err)
{
    *notadb = 0;
    sqlite3_stmt *st = db_stmt(s, Q_OBJECTS, "reading the schema", err);
    if (!st) {
        *notadb = (sqlite3_errcode(s->db) & 0xff) == SQLITE_NOTADB;
        return err->code;
    }
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        *notadb = (rc & 0xff) == SQLITE_NOTADB;
        return db_bind_fail(s, st, "reading the schema", err);
    }
    ss->objects = sqlite3_column_int(st, 0);
    ss->ours = sqlite3_column_int(st, 1);
    ss->view = sqlite3_column_int(st, 2);
    ss->layers = sqlite3_column_int(st, 3);
    db_stmt_done(st);
    st = db_stmt(s, Q_USER_VERSION, "reading the schema version", err);
    if (!st)
        return err->code;
    if (sqlite3_step(st) != SQLITE_ROW)
        return db_bind_fail(s, st, "reading the schema version", err);
    ss->version = sqlite3_column_int(st, 0);
    db_stmt_done(st);
    return SW_OK;
}

/* read_schema in one read transaction: its two statements then see one
 * snapshot, even while another process is creating the schema (else the
 * tables could look missing and the version present: "not ours"). */
int db_read_schema(store *s, schema_state *ss, int *notadb, sw_error *err)
{
    int own = sqlite3_get_autocommit(s->db) &&
              sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    int rc = read_schema(s, ss, notadb, err);
    if (own)
        sqlite3_exec(s->db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
    return rc;
}

/* SW_OK when the database is ours (*empty = 0), of this version or an
 * older one to upgrade, or holds nothing at all (*empty = 1); otherwise
 * the reason it is refused. */
int db_check_schema(store *s, const schema_state *ss, int *empty, sw_error *err)
{
    *empty = ss->objects == 0 && ss->version == 0;
    if (ss->version > STORE_SCHEMA_VERSION)
        return sw_err(err, SW_EINPUT,
                      "%s: database schema version %d is newer than this "
                      "sweep supports (%d)", s->path, ss->version,
                      STORE_SCHEMA_VERSION);
    if (*empty)
        return SW_OK;
    if (ss->version < 1 || ss->ours != 3)
        return sw_err(err, SW_EINPUT,
                      "%s: not a sweep database (it holds other tables)",
                      s->path);
    return SW_OK;
}

/* Creates the schema, or upgrades an older one, in one transaction,
 * checking again under the write lock: another process may have done it
 * meanwhile. */
int db_create_schema(store *s, sw_error *err)
{
    if (db_tx_begin(s, "creating the schema", err))
        return err->code;
    schema_state ss;
    int notadb, empty;
    if (read_schema(s, &ss, &notadb, err) || db_check_schema(s, &ss, &empty, err))
        return db_tx_fail(s, err);
    if (!empty && ss.version == 1 &&
        sqlite3_exec(s->db, UPGRADE_1_SQL, NULL, NULL, NULL) != SQLITE_OK) {
        db_fail(s, "upgrading the schema from version 1", err);
        return db_tx_fail(s, err);
    }
    for (int i = 0; !empty && ss.version <= 2 && UPGRADE_2_SQL[i]; i++)
        if (sqlite3_exec(s->db, UPGRADE_2_SQL[i], NULL, NULL, NULL) != SQLITE_OK) {
            db_fail(s, "upgrading the schema from version 2", err);
            return db_tx_fail(s, err);
        }
    if ((empty || ss.version < STORE_SCHEMA_VERSION || !ss.view || !ss.layers) &&
        sqlite3_exec(s->db, SCHEMA_SQL, NULL, NULL, NULL) != SQLITE_OK) {
        db_fail(s, "creating the schema", err);
        return db_tx_fail(s, err);
    }
    return db_tx_commit(s, "creating the schema", err);
}
