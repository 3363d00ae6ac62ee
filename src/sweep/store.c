/* store.c: the SQLite database of SPEC §4. The only file that includes
 * sqlite3.h. Every value travels through a bound parameter of a prepared
 * statement; statements are prepared once per store and reused. Every write
 * is a BEGIN IMMEDIATE transaction, so it takes the write lock up front and
 * never fails half-way when upgrading a read lock. A mutex serializes the
 * public functions, so one store may be shared by the jobs of one process. */
#include "sweep/store.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#define BUSY_TIMEOUT_MS 10000
#define BUSY_RETRY_SECONDS 30.0

#define STR_(x) #x
#define STR(x) STR_(x)

/* ---------------------------------------------------------------- names */

/* Local tables, in enum order, so this file depends on no other module. */
static const char *const ACT_NAMES[] = {"relu", "elu", "leaky_relu", "prelu"};
static const char *const INIT_NAMES[] = {"he", "glorot"};
static const char *const OPTIM_NAMES[] = {"adam", "sgd"};
static const char *const STATUS_NAMES[RUN_STATUS_COUNT] = {
    "pending", "running", "done", "failed", "diverged", "interrupted"};

#define COUNT_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

const char *run_status_name(run_status st)
{
    return (int)st >= 0 && st < RUN_STATUS_COUNT ? STATUS_NAMES[st] : "unknown";
}

static int status_from_name(const char *name)
{
    for (int i = 0; name && i < RUN_STATUS_COUNT; i++)
        if (strcmp(name, STATUS_NAMES[i]) == 0)
            return i;
    return -1;
}

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
    "early_stopping"

/* The model of every run before schema version 2: the blog's. */
#define DEFAULT_MODEL_TEXT "conv=32-64;dense=256"

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
    "  UNIQUE (sweep_id, run_key)\n"
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
    "CREATE VIEW IF NOT EXISTS summary AS\n"
    "-- One row per sweep and setting without the seed, over done runs.\n"
    "-- std_* is the sample standard deviation (n - 1), NULL when n = 1;\n"
    "-- its square root is Newton's, as sqrt() is not in every SQLite build.\n"
    "WITH done AS (\n"
    "  SELECT s.name AS sweep, r.run_id, r.activation, r.alpha, r.init,\n"
    "         r.dropout, r.epochs, r.batch_size, r.learning_rate, r.optimizer,\n"
    "         r.validation_split, r.train_limit, r.model,\n"
    "         CASE WHEN r.es_monitor IS NOT NULL THEN r.es_monitor ||\n"
    "           ';patience=' || r.es_patience ||\n"
    "           CASE WHEN r.es_restore_best THEN ';restore_best' ELSE '' END\n"
    "         END AS early_stopping,\n"
    "         r.test_accuracy, r.test_loss,\n"
    "         (SELECT max(e.val_accuracy) FROM epochs e\n"
    "           WHERE e.run_id = r.run_id) AS best_val,\n"
    "         (SELECT total(e.seconds) FROM epochs e\n"
    "           WHERE e.run_id = r.run_id) AS secs,\n"
    "         (SELECT count(e.seconds) FROM epochs e\n"
    "           WHERE e.run_id = r.run_id) AS n_secs\n"
    "  FROM runs r JOIN sweeps s ON s.sweep_id = r.sweep_id\n"
    "  WHERE r.status = 'done'\n"
    "), dev AS (\n"
    "  SELECT *, test_accuracy - avg(test_accuracy) OVER setting AS d_acc,\n"
    "         test_loss - avg(test_loss) OVER setting AS d_loss\n"
    "  FROM done\n"
    "  WINDOW setting AS (PARTITION BY " SETTING_COLUMNS ")\n"
    "), grp AS (\n"
    "  SELECT " SETTING_COLUMNS ",\n"
    "         count(*) AS n,\n"
    "         avg(test_accuracy) AS mean_test_accuracy,\n"
    "         CASE WHEN count(d_acc) > 1\n"
    "           THEN total(d_acc * d_acc) / (count(d_acc) - 1) END AS var_acc,\n"
    "         avg(test_loss) AS mean_test_loss,\n"
    "         CASE WHEN count(d_loss) > 1\n"
    "           THEN total(d_loss * d_loss) / (count(d_loss) - 1) END AS var_loss,\n"
    "         avg(best_val) AS mean_best_val_accuracy,\n"
    "         CASE WHEN sum(n_secs) > 0\n"
    "           THEN sum(secs) / sum(n_secs) END AS mean_seconds_per_epoch,\n"
    "         min(run_id) AS first_run\n"
    "  FROM dev\n"
    "  GROUP BY " SETTING_COLUMNS "\n"
    ")\n"
    "SELECT " SETTING_COLUMNS ", n,\n"
    "       mean_test_accuracy,\n"
    "       " SQL_SQRT("var_acc") " AS std_test_accuracy,\n"
    "       mean_test_loss,\n"
    "       " SQL_SQRT("var_loss") " AS std_test_loss,\n"
    "       mean_best_val_accuracy, mean_seconds_per_epoch\n"
    "FROM grp\n"
    "ORDER BY sweep, first_run;\n"   /* the grid's own order */
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

/* ----------------------------------------------------------- statements */

enum {
    Q_OBJECTS, Q_USER_VERSION, Q_SWEEP_UPSERT, Q_SWEEP_FIND, Q_RUN_INSERT,
    Q_RUN_ID, Q_RUN_OWNER, Q_RUN_TAKE, Q_EPOCHS_CLEAR, Q_EPOCH_PUT,
    Q_HEARTBEAT, Q_RUN_FINISH, Q_STATUS, Q_EXPORT_SUMMARY, Q_EXPORT_RUNS,
    Q_EXPORT_EPOCHS, Q_LAYER_PUT, Q_EXPORT_LAYERS, Q_COUNT
};

#define RUN_SETTINGS_COLUMNS                                                 \
    "r.run_id, r.run_key, r.activation, r.alpha, r.init, r.dropout, "        \
    "r.epochs, r.seed, r.batch_size, r.learning_rate, r.optimizer, "         \
    "r.validation_split, r.train_limit, r.model, r.es_monitor, "            \
    "r.es_patience, r.es_restore_best, r.status"

static const char *const SQL[Q_COUNT] = {
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
        "es_restore_best) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
        "?15, ?16, ?17) "
        "ON CONFLICT (sweep_id, run_key) DO NOTHING",
    [Q_RUN_ID] = "SELECT run_id FROM runs WHERE sweep_id = ?1 AND run_key = ?2",
    [Q_RUN_OWNER] =
        "SELECT status, host, pid, heartbeat_at FROM runs WHERE run_id = ?1",
    [Q_RUN_TAKE] =
        "UPDATE runs SET status = 'running', started_at = ?2, host = ?3, "
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
        "  WHERE r.status = 'done' GROUP BY r.sweep_id) "
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
};

struct store {
    sqlite3 *db;
    char *path;
    char host[256];
    pthread_mutex_t lock;
    sqlite3_stmt *st[Q_COUNT];
};

/* ------------------------------------------------------------- helpers */

static int db_fail(store *s, const char *what, sw_error *err)
{
    return sw_err(err, SW_EINPUT, "%s: %s: %s", s->path, what,
                  sqlite3_errmsg(s->db));
}

static double now_monotonic(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {}
}

/* ISO-8601 UTC, second resolution: sorts as text, and SQLite's date
 * functions read it. */
static void iso_utc(time_t t, char buf[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int iso_parse(const char *text, time_t *t)
{
    struct tm tm = {0};
    if (!text || sscanf(text, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon,
                        &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *t = timegm(&tm);
    return 0;
}

static sqlite3_stmt *stmt(store *s, int id, const char *what, sw_error *err)
{
    if (!s->st[id] &&
        sqlite3_prepare_v3(s->db, SQL[id], -1, SQLITE_PREPARE_PERSISTENT,
                           &s->st[id], NULL) != SQLITE_OK) {
        db_fail(s, what, err);
        s->st[id] = NULL;
    }
    return s->st[id];
}

/* Resets right away: a statement left mid-way would hold a read snapshot. */
static void stmt_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Steps a statement that returns no rows. */
static int step_done(store *s, sqlite3_stmt *st, const char *what, sw_error *err)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        db_fail(s, what, err);
    stmt_done(st);
    return rc == SQLITE_DONE ? SW_OK : err->code;
}

static int bind_text(sqlite3_stmt *st, int i, const char *text)
{
    return text ? sqlite3_bind_text(st, i, text, -1, SQLITE_TRANSIENT)
                : sqlite3_bind_null(st, i);
}

/* NaN (and a missing value) is NULL. */
static int bind_real(sqlite3_stmt *st, int i, double v)
{
    return isnan(v) ? sqlite3_bind_null(st, i) : sqlite3_bind_double(st, i, v);
}

static int bind_fail(store *s, sqlite3_stmt *st, const char *what, sw_error *err)
{
    db_fail(s, what, err);
    stmt_done(st);
    return err->code;
}

/* Runs sql, retrying while the database is busy: the busy timeout covers
 * most waits, but SQLite returns BUSY without waiting in some cases (e.g.
 * while another connection recovers the WAL), and a user should never see
 * "database is locked" after a few seconds of contention. */
static int exec_retry(store *s, const char *sql, const char *what, sw_error *err)
{
    double until = now_monotonic() + BUSY_RETRY_SECONDS;
    for (;;) {
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            return SW_OK;
        if ((rc & 0xff) != SQLITE_BUSY || now_monotonic() > until)
            return db_fail(s, what, err);
        sleep_ms(20);
    }
}

static void tx_rollback(store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static int tx_begin(store *s, const char *what, sw_error *err)
{
    return exec_retry(s, "BEGIN IMMEDIATE", what, err);
}

static int tx_commit(store *s, const char *what, sw_error *err)
{
    if (exec_retry(s, "COMMIT", what, err) != SW_OK) {
        tx_rollback(s);
        return err->code;
    }
    return SW_OK;
}

/* Fails and rolls back, keeping the first error. */
static int tx_fail(store *s, sw_error *err)
{
    tx_rollback(s);
    return err->code;
}

/* ---------------------------------------------------------------- open */

static int mkdir_parents(const char *path, sw_error *err)
{
    char *dir = strdup(path);
    if (!dir)
        return sw_err(err, SW_EINPUT, "%s: out of memory", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) {
        free(dir);
        return SW_OK;
    }
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
            sw_err(err, SW_EINPUT, "%s: cannot create folder %s: %s", path, dir,
                   strerror(errno));
            free(dir);
            return err->code;
        }
        *p = c;
        if (c == '\0')
            break;
    }
    free(dir);
    return SW_OK;
}

/* The 16-byte magic string every SQLite database starts with. A file that
 * lacks it is refused before SQLite sees it, so it is never touched. */
static int looks_like_sqlite(const char *path, off_t size)
{
    static const char magic[16] = "SQLite format 3";   /* with its NUL */
    char head[16];
    if (size < 100)   /* shorter than the database header */
        return 0;
    /* Read through SQLite's own VFS: a plain open()/close() of the file
     * would drop every POSIX lock this process's other connections hold on
     * it, and another process could then delete the WAL under them. */
    sqlite3_vfs *vfs = sqlite3_vfs_find(NULL);
    sqlite3_file *f = vfs ? calloc(1, (size_t)vfs->szOsFile) : NULL;
    int out_flags = 0, ok = 1;
    if (!f)
        return 1;     /* let SQLite report why it cannot be read */
    if (vfs->xOpen(vfs, path, f, SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_READONLY,
                   &out_flags) == SQLITE_OK) {
        ok = f->pMethods->xRead(f, head, sizeof head, 0) == SQLITE_OK &&
             memcmp(head, magic, sizeof magic) == 0;
    }
    if (f->pMethods)
        f->pMethods->xClose(f);
    free(f);
    return ok;
}

typedef struct {
    int version;
    int objects;   /* tables, views, indexes and triggers not SQLite's own */
    int ours;      /* how many of sweeps, runs, epochs exist */
    int view;      /* summary exists */
    int layers;    /* layer_stats exists */
} schema_state;

static int read_schema(store *s, schema_state *ss, int *notadb, sw_error *err)
{
    *notadb = 0;
    sqlite3_stmt *st = stmt(s, Q_OBJECTS, "reading the schema", err);
    if (!st) {
        *notadb = (sqlite3_errcode(s->db) & 0xff) == SQLITE_NOTADB;
        return err->code;
    }
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        *notadb = (rc & 0xff) == SQLITE_NOTADB;
        return bind_fail(s, st, "reading the schema", err);
    }
    ss->objects = sqlite3_column_int(st, 0);
    ss->ours = sqlite3_column_int(st, 1);
    ss->view = sqlite3_column_int(st, 2);
    ss->layers = sqlite3_column_int(st, 3);
    stmt_done(st);
    st = stmt(s, Q_USER_VERSION, "reading the schema version", err);
    if (!st)
        return err->code;
    if (sqlite3_step(st) != SQLITE_ROW)
        return bind_fail(s, st, "reading the schema version", err);
    ss->version = sqlite3_column_int(st, 0);
    stmt_done(st);
    return SW_OK;
}

/* SW_OK when the database is ours (*empty = 0), of this version or an
 * older one to upgrade, or holds nothing at all (*empty = 1); otherwise
 * the reason it is refused. */
/* read_schema in one read transaction: its two statements then see one
 * snapshot, even while another process is creating the schema (else the
 * tables could look missing and the version present: "not ours"). */
static int read_schema_snapshot(store *s, schema_state *ss, int *notadb, sw_error *err)
{
    int own = sqlite3_get_autocommit(s->db) &&
              sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    int rc = read_schema(s, ss, notadb, err);
    if (own)
        sqlite3_exec(s->db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
    return rc;
}

static int check_schema(store *s, const schema_state *ss, int *empty, sw_error *err)
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
static int create_schema(store *s, sw_error *err)
{
    if (tx_begin(s, "creating the schema", err))
        return err->code;
    schema_state ss;
    int notadb, empty;
    if (read_schema(s, &ss, &notadb, err) || check_schema(s, &ss, &empty, err))
        return tx_fail(s, err);
    if (!empty && ss.version == 1 &&
        sqlite3_exec(s->db, UPGRADE_1_SQL, NULL, NULL, NULL) != SQLITE_OK) {
        db_fail(s, "upgrading the schema from version 1", err);
        return tx_fail(s, err);
    }
    if ((empty || ss.version < STORE_SCHEMA_VERSION || !ss.view || !ss.layers) &&
        sqlite3_exec(s->db, SCHEMA_SQL, NULL, NULL, NULL) != SQLITE_OK) {
        db_fail(s, "creating the schema", err);
        return tx_fail(s, err);
    }
    return tx_commit(s, "creating the schema", err);
}

static void close_db(store *s)
{
    for (int i = 0; i < Q_COUNT; i++) {
        sqlite3_finalize(s->st[i]);
        s->st[i] = NULL;
    }
    if (s->db) {
        tx_rollback(s);
        sqlite3_close_v2(s->db);
        s->db = NULL;
    }
}

static int wal_exists(const char *path)
{
    char wal[4096];
    struct stat st;
    snprintf(wal, sizeof wal, "%s-wal", path);
    return stat(wal, &st) == 0;
}

/* Opens s->path read-write (falling back to read-only when the file is
 * write-protected), or read-only and immutable through a URI. */
static int open_db(store *s, int create, int immutable, const char *what,
                   sw_error *err)
{
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    char *name = s->path;
    if (immutable) {
        /* file: URI with the path percent-encoded */
        size_t len = strlen(s->path);
        name = malloc(3 * len + 32);
        if (!name)
            return sw_err(err, SW_EINPUT, "%s: out of memory", s->path);
        char *p = name + sprintf(name, "file:");
        for (const unsigned char *c = (const unsigned char *)s->path; *c; c++) {
            if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                (*c >= '0' && *c <= '9') || strchr("/._-~", *c))
                *p++ = (char)*c;
            else
                p += sprintf(p, "%%%02X", *c);
        }
        strcpy(p, "?mode=ro&immutable=1");
        flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI;
    }
    int rc = sqlite3_open_v2(name, &s->db, flags, NULL);
    if (name != s->path)
        free(name);
    if (rc != SQLITE_OK) {
        if (!s->db)
            return sw_err(err, SW_EINPUT, "%s: out of memory", s->path);
        return db_fail(s, what, err);
    }
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    return SW_OK;
}

static int open_impl(store *s, const char *path, int create, sw_error *err)
{
    struct stat stt;
    int exists = stat(path, &stt) == 0;
    if (!exists && errno != ENOENT)
        return sw_err(err, SW_EINPUT, "%s: %s", path, strerror(errno));
    if (!exists && !create)
        return sw_err(err, SW_EINPUT, "%s: no such database", path);
    if (exists && S_ISDIR(stt.st_mode))
        return sw_err(err, SW_EINPUT, "%s: is a folder, not a database", path);
    if (exists && !S_ISREG(stt.st_mode))
        return sw_err(err, SW_EINPUT, "%s: not a regular file", path);
    if (exists && stt.st_size > 0 && !looks_like_sqlite(path, stt.st_size))
        return sw_err(err, SW_EINPUT,
                      "%s: not a sweep database (file is not a database)", path);
    if (!exists && mkdir_parents(path, err))
        return err->code;

    if (open_db(s, create, 0, exists ? "opening" : "creating", err))
        return err->code;

    /* Read before anything is written: a database that is not ours is
     * refused as it was found. */
    schema_state ss;
    int notadb, empty;
    sw_error first = {0};
    if (read_schema_snapshot(s, &ss, &notadb, &first)) {
        if (notadb)   /* our wording, whatever SQLite's */
            return sw_err(err, SW_EINPUT,
                          "%s: not a sweep database (file is not a database)",
                          path);
        /* A WAL database in a folder we cannot write: SQLite cannot create
         * the -shm file it reads through. Without a -wal file the main file
         * holds every commit, so it can be read as immutable. */
        if (sqlite3_db_readonly(s->db, "main") != 1 || wal_exists(path))
            return sw_err(err, first.code, "%s", first.msg);
        close_db(s);
        first.code = SW_OK;
        if (open_db(s, 0, 1, "opening", err))
            return err->code;
        if (read_schema_snapshot(s, &ss, &notadb, &first))
            return sw_err(err, first.code, "%s", first.msg);
    }
    if (check_schema(s, &ss, &empty, err))
        return err->code;
    if (empty && !create)
        return sw_err(err, SW_EINPUT, "%s: not a sweep database (it is empty)",
                      path);

    int readonly = sqlite3_db_readonly(s->db, "main") == 1;
    if (!readonly) {
        /* WAL lets readers (the sqlite3 shell, status) work during a run. */
        if (exec_retry(s, "PRAGMA journal_mode = WAL", "setting WAL mode", err) ||
            exec_retry(s, "PRAGMA synchronous = NORMAL", "setting synchronous", err))
            return err->code;
    }
    if (exec_retry(s, "PRAGMA foreign_keys = ON", "enabling foreign keys", err))
        return err->code;
    if (empty && readonly)
        return sw_err(err, SW_EINPUT,
                      "%s: cannot create the schema: the file is read-only", path);
    int upgrade = !empty && ss.version < STORE_SCHEMA_VERSION;
    if (upgrade && readonly)
        return sw_err(err, SW_EINPUT,
                      "%s: database schema version %d must be upgraded to %d, but the "
                      "file is read-only", path, ss.version, STORE_SCHEMA_VERSION);
    /* A dropped summary view or layer_stats table is put back when we may
     * write. */
    if ((empty || upgrade || ((!ss.view || !ss.layers) && !readonly)) && create_schema(s, err))
        return err->code;
    return SW_OK;
}

int store_open(store **out, const char *path, int create, sw_error *err)
{
    *out = NULL;
    if (!path || !*path)
        return sw_err(err, SW_EINPUT, "database path is empty");
    store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return sw_err(err, SW_EINPUT, "%s: out of memory", path);
    }
    pthread_mutex_init(&s->lock, NULL);
    if (gethostname(s->host, sizeof s->host - 1) != 0)
        strcpy(s->host, "localhost");
    s->host[sizeof s->host - 1] = '\0';
    if (open_impl(s, path, create, err) != SW_OK) {
        store_close(s);
        return err->code;
    }
    *out = s;
    return SW_OK;
}

void store_close(store *s)
{
    if (!s)
        return;
    close_db(s);
    pthread_mutex_destroy(&s->lock);
    free(s->path);
    free(s);
}

/* --------------------------------------------------------------- sweeps */

static int sweep_find(store *s, const char *name, long long *sweep_id,
                      sw_error *err)
{
    *sweep_id = 0;
    sqlite3_stmt *st = stmt(s, Q_SWEEP_FIND, "finding a sweep", err);
    if (!st)
        return err->code;
    if (bind_text(st, 1, name) != SQLITE_OK)
        return bind_fail(s, st, "finding a sweep", err);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *sweep_id = sqlite3_column_int64(st, 0);
    else if (rc != SQLITE_DONE)
        return bind_fail(s, st, "finding a sweep", err);
    stmt_done(st);
    return SW_OK;
}

static int sweep_upsert(store *s, const sweep_config *c, long long *sweep_id,
                        sw_error *err)
{
    const char *what = "recording the sweep";
    char now[32];
    iso_utc(time(NULL), now);
    if (tx_begin(s, what, err))
        return err->code;
    sqlite3_stmt *st = stmt(s, Q_SWEEP_UPSERT, what, err);
    if (!st)
        return tx_fail(s, err);
    if (bind_text(st, 1, c->name) || bind_text(st, 2, c->path) ||
        bind_text(st, 3, c->text) || bind_text(st, 4, now)) {
        bind_fail(s, st, what, err);
        return tx_fail(s, err);
    }
    if (step_done(s, st, what, err) || sweep_find(s, c->name, sweep_id, err))
        return tx_fail(s, err);
    return tx_commit(s, what, err);
}

int store_sweep_upsert(store *s, const sweep_config *c, long long *sweep_id,
                       sw_error *err)
{
    *sweep_id = 0;
    if (!c->name || !*c->name)
        return sw_err(err, SW_EINPUT, "%s: a sweep needs a name", s->path);
    pthread_mutex_lock(&s->lock);
    int rc = sweep_upsert(s, c, sweep_id, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int store_sweep_find(store *s, const char *name, long long *sweep_id,
                     sw_error *err)
{
    pthread_mutex_lock(&s->lock);
    int rc = sweep_find(s, name, sweep_id, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ----------------------------------------------------------------- runs */

static int run_find(store *s, long long sweep_id, const char *run_key,
                    long long *run_id, sw_error *err)
{
    const char *what = "finding a run";
    sqlite3_stmt *st = stmt(s, Q_RUN_ID, what, err);
    if (!st)
        return err->code;
    if (sqlite3_bind_int64(st, 1, sweep_id) || bind_text(st, 2, run_key))
        return bind_fail(s, st, what, err);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *run_id = sqlite3_column_int64(st, 0);
    else if (rc != SQLITE_DONE)
        return bind_fail(s, st, what, err);
    stmt_done(st);
    return SW_OK;
}

int store_run_find(store *s, long long sweep_id, const char *run_key,
                   long long *run_id, sw_error *err)
{
    *run_id = 0;
    pthread_mutex_lock(&s->lock);
    int rc = run_find(s, sweep_id, run_key, run_id, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int bind_settings(sqlite3_stmt *st, long long sweep_id, const char *key,
                         const run_settings *r)
{
    int rc = sqlite3_bind_int64(st, 1, sweep_id);
    rc = rc ? rc : bind_text(st, 2, key);
    rc = rc ? rc : bind_text(st, 3, ACT_NAMES[r->activation]);
    rc = rc ? rc : bind_real(st, 4, r->activation == ACT_RELU ? NAN : r->alpha);
    rc = rc ? rc : bind_text(st, 5, INIT_NAMES[r->init]);
    rc = rc ? rc : bind_real(st, 6, r->dropout);
    rc = rc ? rc : sqlite3_bind_int(st, 7, r->epochs);
    rc = rc ? rc : sqlite3_bind_int64(st, 8, r->seed);
    rc = rc ? rc : sqlite3_bind_int(st, 9, r->batch_size);
    rc = rc ? rc : bind_real(st, 10, r->learning_rate);
    rc = rc ? rc : bind_text(st, 11, OPTIM_NAMES[r->optimizer]);
    rc = rc ? rc : bind_real(st, 12, r->validation_split);
    rc = rc ? rc : sqlite3_bind_int64(st, 13, r->train_limit);
    /* a zeroed model is the default one (grid.h) */
    model_shape m = r->model;
    char shape[256];
    if (m.n_conv == 0)
        model_shape_default(&m);
    model_shape_text(&m, shape, sizeof shape);
    rc = rc ? rc : bind_text(st, 14, shape);
    const es_settings *es = &r->early_stopping;
    int on = es->monitor == ES_VAL_LOSS || es->monitor == ES_VAL_ACCURACY;
    rc = rc ? rc : bind_text(st, 15, on ? (es->monitor == ES_VAL_LOSS ? "val_loss"
                                                                       : "val_accuracy")
                                        : NULL);
    rc = rc ? rc : on ? sqlite3_bind_int(st, 16, es->patience) : sqlite3_bind_null(st, 16);
    rc = rc ? rc : on ? sqlite3_bind_int(st, 17, es->restore_best ? 1 : 0)
                      : sqlite3_bind_null(st, 17);
    return rc;
}

static int runs_ensure(store *s, long long sweep_id, const run_settings *runs,
                       char (*keys)[RUN_KEY_LEN + 1], int n, long long *run_ids,
                       sw_error *err)
{
    const char *what = "recording the runs";
    for (int i = 0; i < n; i++) {
        const run_settings *r = &runs[i];
        if ((int)r->activation < 0 || (int)r->activation >= COUNT_OF(ACT_NAMES) ||
            (int)r->init < 0 || (int)r->init >= COUNT_OF(INIT_NAMES) ||
            (int)r->optimizer < 0 || (int)r->optimizer >= COUNT_OF(OPTIM_NAMES))
            return sw_err(err, SW_EINPUT, "%s: run %d has an unknown "
                          "activation, init or optimizer", s->path, i);
    }
    if (tx_begin(s, what, err))
        return err->code;
    sqlite3_stmt *ins = stmt(s, Q_RUN_INSERT, what, err);
    if (!ins)
        return tx_fail(s, err);
    for (int i = 0; i < n; i++) {
        if (bind_settings(ins, sweep_id, keys[i], &runs[i]) != SQLITE_OK) {
            bind_fail(s, ins, what, err);
            return tx_fail(s, err);
        }
        run_ids[i] = 0;
        if (step_done(s, ins, what, err) ||
            run_find(s, sweep_id, keys[i], &run_ids[i], err))
            return tx_fail(s, err);
        if (!run_ids[i]) {   /* only if the insert silently did nothing */
            sw_err(err, SW_EINPUT, "%s: %s: run %s was not recorded", s->path,
                   what, keys[i]);
            return tx_fail(s, err);
        }
    }
    return tx_commit(s, what, err);
}

int store_runs_ensure(store *s, long long sweep_id, const run_settings *runs,
                      char (*keys)[RUN_KEY_LEN + 1], int n, long long *run_ids,
                      sw_error *err)
{
    pthread_mutex_lock(&s->lock);
    int rc = runs_ensure(s, sweep_id, runs, keys, n, run_ids, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* Who holds a run, as read from its row. */
typedef struct {
    run_status status;
    char host[256];   /* "" when NULL */
    long long pid;    /* 0 when NULL */
    char heartbeat[40];
} run_owner;

/* A running row whose owner is gone. On our host the pid answers for
 * itself (EPERM means it lives under another user); elsewhere only the
 * heartbeat can tell, so a lease older than STORE_LEASE_SECONDS is stale. */
static int owner_gone(const store *s, const run_owner *o)
{
    if (o->status != RUN_RUNNING)
        return 0;
    if (o->host[0] && strcmp(o->host, s->host) == 0 && o->pid > 0 &&
        o->pid == (long long)(pid_t)o->pid)
        return kill((pid_t)o->pid, 0) != 0 && errno == ESRCH;
    time_t beat;
    if (iso_parse(o->heartbeat, &beat) != 0)
        return 1;     /* no lease at all: nobody to wait for */
    return difftime(time(NULL), beat) > STORE_LEASE_SECONDS;
}

static int read_owner(store *s, long long run_id, run_owner *o, const char *what,
                      sw_error *err)
{
    memset(o, 0, sizeof *o);
    sqlite3_stmt *st = stmt(s, Q_RUN_OWNER, what, err);
    if (!st)
        return err->code;
    if (sqlite3_bind_int64(st, 1, run_id) != SQLITE_OK)
        return bind_fail(s, st, what, err);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        stmt_done(st);
        return sw_err(err, SW_EINPUT, "%s: %s: no run with id %lld", s->path,
                      what, run_id);
    }
    if (rc != SQLITE_ROW)
        return bind_fail(s, st, what, err);
    const char *status = (const char *)sqlite3_column_text(st, 0);
    int k = status_from_name(status);
    if (k < 0) {
        sw_err(err, SW_EINPUT, "%s: %s: unknown status '%s'", s->path, what,
               status ? status : "");
        stmt_done(st);
        return err->code;
    }
    o->status = (run_status)k;
    const char *host = (const char *)sqlite3_column_text(st, 1);
    snprintf(o->host, sizeof o->host, "%s", host ? host : "");
    o->pid = sqlite3_column_int64(st, 2);
    const char *beat = (const char *)sqlite3_column_text(st, 3);
    snprintf(o->heartbeat, sizeof o->heartbeat, "%s", beat ? beat : "");
    stmt_done(st);
    return SW_OK;
}

int store_run_state(store *s, long long run_id, run_status *st, int *stale,
                    sw_error *err)
{
    char what[64];
    snprintf(what, sizeof what, "reading run %lld", run_id);
    run_owner o;
    pthread_mutex_lock(&s->lock);
    int rc = read_owner(s, run_id, &o, what, err);
    pthread_mutex_unlock(&s->lock);
    if (rc != SW_OK)
        return rc;
    *st = o.status;
    *stale = owner_gone(s, &o);
    return SW_OK;
}

static int run_claim(store *s, long long run_id, int threads, int *claimed,
                     sw_error *err)
{
    char what[64];
    snprintf(what, sizeof what, "claiming run %lld", run_id);
    if (tx_begin(s, what, err))
        return err->code;
    run_owner o;
    if (read_owner(s, run_id, &o, what, err))
        return tx_fail(s, err);
    int take = o.status != RUN_DONE &&
               (o.status != RUN_RUNNING || owner_gone(s, &o));
    if (take) {
        char now[32];
        iso_utc(time(NULL), now);
        sqlite3_stmt *up = stmt(s, Q_RUN_TAKE, what, err);
        if (!up)
            return tx_fail(s, err);
        if (sqlite3_bind_int64(up, 1, run_id) || bind_text(up, 2, now) ||
            bind_text(up, 3, s->host) || sqlite3_bind_int64(up, 4, getpid()) ||
            sqlite3_bind_int(up, 5, threads)) {
            bind_fail(s, up, what, err);
            return tx_fail(s, err);
        }
        if (step_done(s, up, what, err))
            return tx_fail(s, err);
    }
    if (tx_commit(s, what, err))
        return err->code;
    *claimed = take;
    return SW_OK;
}

int store_run_claim(store *s, long long run_id, int threads, int *claimed,
                    sw_error *err)
{
    *claimed = 0;
    pthread_mutex_lock(&s->lock);
    int rc = run_claim(s, run_id, threads, claimed, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int epoch_add(store *s, long long run_id, int epoch, const epoch_metrics *m,
                     const layer_stat *layers, int n_layers, sw_error *err)
{
    char what[80];
    snprintf(what, sizeof what, "recording epoch %d of run %lld", epoch, run_id);
    char now[32];
    iso_utc(time(NULL), now);
    if (tx_begin(s, what, err))
        return err->code;
    /* The heartbeat first: it tells a missing run apart from a failed insert. */
    sqlite3_stmt *beat = stmt(s, Q_HEARTBEAT, what, err);
    sqlite3_stmt *put = beat ? stmt(s, Q_EPOCH_PUT, what, err) : NULL;
    if (!put)
        return tx_fail(s, err);
    if (sqlite3_bind_int64(beat, 1, run_id) || bind_text(beat, 2, now)) {
        bind_fail(s, beat, what, err);
        return tx_fail(s, err);
    }
    if (step_done(s, beat, what, err))
        return tx_fail(s, err);
    if (sqlite3_changes(s->db) == 0) {
        sw_err(err, SW_EINPUT, "%s: %s: no run with id %lld", s->path, what,
               run_id);
        return tx_fail(s, err);
    }
    int rc = sqlite3_bind_int64(put, 1, run_id);
    rc = rc ? rc : sqlite3_bind_int(put, 2, epoch);
    rc = rc ? rc : bind_real(put, 3, m->train_loss);
    rc = rc ? rc : bind_real(put, 4, m->train_accuracy);
    rc = rc ? rc : bind_real(put, 5, m->val_loss);
    rc = rc ? rc : bind_real(put, 6, m->val_accuracy);
    rc = rc ? rc : bind_real(put, 7, m->seconds);
    if (rc != SQLITE_OK) {
        bind_fail(s, put, what, err);
        return tx_fail(s, err);
    }
    if (step_done(s, put, what, err))
        return tx_fail(s, err);
    /* replacing the epoch row dropped its old layer rows (ON DELETE CASCADE) */
    sqlite3_stmt *lay = n_layers > 0 ? stmt(s, Q_LAYER_PUT, what, err) : NULL;
    if (n_layers > 0 && !lay)
        return tx_fail(s, err);
    for (int i = 0; i < n_layers; i++) {
        const layer_stat *l = &layers[i];
        rc = sqlite3_bind_int64(lay, 1, run_id);
        rc = rc ? rc : sqlite3_bind_int(lay, 2, epoch);
        rc = rc ? rc : bind_text(lay, 3, l->layer);
        rc = rc ? rc : bind_real(lay, 4, l->mean_activation);
        rc = rc ? rc : bind_real(lay, 5, l->dead_fraction);
        rc = rc ? rc : bind_real(lay, 6, l->grad_norm);
        if (rc != SQLITE_OK) {
            bind_fail(s, lay, what, err);
            return tx_fail(s, err);
        }
        if (step_done(s, lay, what, err))
            return tx_fail(s, err);
    }
    return tx_commit(s, what, err);
}

int store_epoch_add_layers(store *s, long long run_id, int epoch, const epoch_metrics *m,
                           const layer_stat *layers, int n_layers, sw_error *err)
{
    if (epoch < 1)
        return sw_err(err, SW_EINPUT, "%s: epoch %d of run %lld: epochs count "
                      "from 1", s->path, epoch, run_id);
    if (n_layers < 0 || (n_layers > 0 && !layers))
        return sw_err(err, SW_EINPUT, "%s: epoch %d of run %lld: %d layer statistics "
                      "without values", s->path, epoch, run_id, n_layers);
    pthread_mutex_lock(&s->lock);
    int rc = epoch_add(s, run_id, epoch, m, layers, n_layers, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int store_epoch_add(store *s, long long run_id, int epoch,
                    const epoch_metrics *m, sw_error *err)
{
    return store_epoch_add_layers(s, run_id, epoch, m, NULL, 0, err);
}

static int run_finish(store *s, long long run_id, run_status st,
                      const train_result *res, double wall_seconds,
                      const char *error, sw_error *err)
{
    char what[64];
    snprintf(what, sizeof what, "finishing run %lld", run_id);
    char now[32], why[128];
    iso_utc(time(NULL), now);
    int diverged_at = st == RUN_DIVERGED && res ? res->diverged_epoch : 0;
    if (st == RUN_DIVERGED && !error) {
        snprintf(why, sizeof why, "loss is not finite at epoch %d", diverged_at);
        error = why;
    }
    if (tx_begin(s, what, err))
        return err->code;
    sqlite3_stmt *up = stmt(s, Q_RUN_FINISH, what, err);
    if (!up)
        return tx_fail(s, err);
    int done = st == RUN_DONE;
    int rc = sqlite3_bind_int64(up, 1, run_id);
    rc = rc ? rc : bind_text(up, 2, STATUS_NAMES[st]);
    rc = rc ? rc : bind_text(up, 3, now);
    rc = rc ? rc : bind_real(up, 4, wall_seconds);
    rc = rc ? rc : bind_real(up, 5, done ? res->test_loss : NAN);
    rc = rc ? rc : bind_real(up, 6, done ? res->test_accuracy : NAN);
    rc = rc ? rc : diverged_at > 0 ? sqlite3_bind_int(up, 7, diverged_at)
                                   : sqlite3_bind_null(up, 7);
    rc = rc ? rc : bind_text(up, 8, done ? NULL : error);
    /* early stopping's epochs, for a run that finished */
    int best = done ? res->best_epoch : 0, stopped = done ? res->stopped_epoch : 0;
    rc = rc ? rc : best > 0 ? sqlite3_bind_int(up, 9, best) : sqlite3_bind_null(up, 9);
    rc = rc ? rc : stopped > 0 ? sqlite3_bind_int(up, 10, stopped) : sqlite3_bind_null(up, 10);
    if (rc != SQLITE_OK) {
        bind_fail(s, up, what, err);
        return tx_fail(s, err);
    }
    if (step_done(s, up, what, err))
        return tx_fail(s, err);
    if (sqlite3_changes(s->db) == 0) {
        sw_err(err, SW_EINPUT, "%s: %s: no run with id %lld", s->path, what,
               run_id);
        return tx_fail(s, err);
    }
    return tx_commit(s, what, err);
}

int store_run_finish(store *s, long long run_id, run_status st,
                     const train_result *res, double wall_seconds,
                     const char *error, sw_error *err)
{
    if (st != RUN_DONE && st != RUN_FAILED && st != RUN_DIVERGED &&
        st != RUN_INTERRUPTED)
        return sw_err(err, SW_EINPUT, "%s: finishing run %lld: '%s' is not a "
                      "final status", s->path, run_id, run_status_name(st));
    if (st == RUN_DONE && !res)
        return sw_err(err, SW_EINPUT, "%s: finishing run %lld: done without "
                      "test scores", s->path, run_id);
    pthread_mutex_lock(&s->lock);
    int rc = run_finish(s, run_id, st, res, wall_seconds, error, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* --------------------------------------------------------------- status */

/* Stale running runs count in `stale` only, not in count[RUN_RUNNING], so
 * "running" means a live process holds them. epochs_left is the work still
 * to do: a live running run has its committed epochs; any other run that is
 * not done starts again from epoch 1 when claimed (its old epochs are
 * deleted), so all its epochs are left. */
static int status_all(store *s, sweep_status **out, int *n, sw_error *err)
{
    const char *what = "reading the status";
    sqlite3_stmt *st = stmt(s, Q_STATUS, what, err);
    if (!st)
        return err->code;
    sweep_status *v = NULL;
    int len = 0, cap = 0, rc, failed = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        long long id = sqlite3_column_int64(st, 0);
        if (len == 0 || v[len - 1].sweep_id != id) {
            if (len == cap) {
                int ncap = cap ? 2 * cap : 8;
                sweep_status *nv = realloc(v, (size_t)ncap * sizeof *v);
                if (!nv) {
                    failed = sw_err(err, SW_EINPUT, "%s: %s: out of memory",
                                    s->path, what);
                    break;
                }
                v = nv;
                cap = ncap;
            }
            sweep_status *w = &v[len++];
            memset(w, 0, sizeof *w);
            w->sweep_id = id;
            const char *name = (const char *)sqlite3_column_text(st, 1);
            snprintf(w->name, sizeof w->name, "%s", name ? name : "");
            w->mean_seconds_per_epoch = sqlite3_column_double(st, 2);
        }
        int k = status_from_name((const char *)sqlite3_column_text(st, 3));
        if (k < 0)
            continue;   /* a sweep without runs (the CHECK allows no other) */
        sweep_status *w = &v[len - 1];
        run_owner o;
        o.status = (run_status)k;
        const char *host = (const char *)sqlite3_column_text(st, 4);
        snprintf(o.host, sizeof o.host, "%s", host ? host : "");
        o.pid = sqlite3_column_int64(st, 5);
        const char *beat = (const char *)sqlite3_column_text(st, 6);
        snprintf(o.heartbeat, sizeof o.heartbeat, "%s", beat ? beat : "");
        long long epochs = sqlite3_column_int64(st, 7);
        long long committed = sqlite3_column_int64(st, 8);
        int gone = owner_gone(s, &o);
        if (gone)
            w->stale++;
        else
            w->count[o.status]++;
        if (o.status == RUN_RUNNING && !gone)
            w->epochs_left += epochs > committed ? epochs - committed : 0;
        else if (o.status != RUN_DONE)
            w->epochs_left += epochs;
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        failed = db_fail(s, what, err);
    stmt_done(st);
    if (failed) {
        free(v);
        return failed;
    }
    *out = v;
    *n = len;
    return SW_OK;
}

int store_status(store *s, sweep_status **out, int *n, sw_error *err)
{
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&s->lock);
    int rc = status_all(s, out, n, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* --------------------------------------------------------------- export */

/* RFC 4180: a field with a comma, quote, CR or LF is quoted, quotes doubled. */
static void csv_text(FILE *f, const char *t, int len)
{
    int quote = 0;
    for (int i = 0; i < len && !quote; i++)
        quote = t[i] == ',' || t[i] == '"' || t[i] == '\r' || t[i] == '\n';
    if (!quote) {
        fwrite(t, 1, (size_t)len, f);
        return;
    }
    fputc('"', f);
    for (int i = 0; i < len; i++) {
        if (t[i] == '"')
            fputc('"', f);
        fputc(t[i], f);
    }
    fputc('"', f);
}

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
            csv_text(f, name ? name : "", name ? (int)strlen(name) : 0);
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
            csv_text(f, t ? t : "", sqlite3_column_bytes(st, i));
        }
        }
    }
    fputs("\r\n", f);
}

static int export_csv(store *s, const char *what, const char *sweep, FILE *out,
                      sw_error *err)
{
    int id = strcmp(what, "summary") == 0 ? Q_EXPORT_SUMMARY
           : strcmp(what, "runs") == 0    ? Q_EXPORT_RUNS
           : strcmp(what, "epochs") == 0  ? Q_EXPORT_EPOCHS
           : strcmp(what, "layer_stats") == 0 ? Q_EXPORT_LAYERS
                                          : -1;
    if (id < 0)
        return sw_err(err, SW_EINPUT, "cannot export '%s': expected summary, "
                      "runs, epochs or layer_stats", what);
    if (sweep) {
        long long sweep_id;
        if (sweep_find(s, sweep, &sweep_id, err))
            return err->code;
        if (!sweep_id)
            return sw_err(err, SW_EINPUT, "no sweep named '%s' in %s", sweep,
                          s->path);
    }
    char doing[64];
    snprintf(doing, sizeof doing, "exporting %s", what);
    sqlite3_stmt *st = stmt(s, id, doing, err);
    if (!st)
        return err->code;
    if (id != Q_EXPORT_SUMMARY && bind_text(st, 1, sweep) != SQLITE_OK)
        return bind_fail(s, st, doing, err);
    csv_row(out, st, 1);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (id == Q_EXPORT_SUMMARY && sweep) {
            const char *name = (const char *)sqlite3_column_text(st, 0);
            if (!name || strcmp(name, sweep) != 0)
                continue;
        }
        csv_row(out, st, 0);
    }
    if (rc != SQLITE_DONE)
        return bind_fail(s, st, doing, err);
    stmt_done(st);
    if (fflush(out) != 0 || ferror(out))
        return sw_err(err, SW_EINPUT, "%s: cannot write the CSV: %s", doing,
                      strerror(errno));
    return SW_OK;
}

int store_export_csv(store *s, const char *what, const char *sweep, FILE *out,
                     sw_error *err)
{
    if (!what)
        what = "summary";
    pthread_mutex_lock(&s->lock);
    int rc = export_csv(s, what, sweep, out, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ------------------------------------------------------- truncate epochs */

static int epochs_truncate(store *s, long long run_id, int keep, sw_error *err)
{
    char what[64];
    snprintf(what, sizeof what, "dropping epochs of run %lld", run_id);
    if (tx_begin(s, what, err))
        return err->code;
    sqlite3_stmt *del = stmt(s, Q_EPOCHS_CLEAR, what, err);
    if (!del)
        return tx_fail(s, err);
    if (sqlite3_bind_int64(del, 1, run_id) || sqlite3_bind_int(del, 2, keep)) {
        bind_fail(s, del, what, err);
        return tx_fail(s, err);
    }
    if (step_done(s, del, what, err))
        return tx_fail(s, err);
    return tx_commit(s, what, err) ? err->code : SW_OK;
}

int store_epochs_truncate(store *s, long long run_id, int keep, sw_error *err)
{
    pthread_mutex_lock(&s->lock);
    int rc = epochs_truncate(s, run_id, keep, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* --------------------------------------------------------------- select */

static int select_rows(store *s, const char *sql, const char *const *params,
                       int n_params, store_row_fn fn, void *ctx, sw_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "preparing a query", err);
    int rc = SW_OK;
    if (!sqlite3_stmt_readonly(st)) {
        rc = sw_err(err, SW_EINPUT, "%s: store_select runs read-only queries only", s->path);
        goto out;
    }
    for (int i = 0; i < n_params; i++)
        if (bind_text(st, i + 1, params[i]) != SQLITE_OK) {
            rc = db_fail(s, "binding a query", err);
            goto out;
        }
    int ncols = sqlite3_column_count(st);
    const char **names = calloc((size_t)ncols + 1, sizeof *names);
    store_value *vals = calloc((size_t)ncols + 1, sizeof *vals);
    if (!names || !vals) {
        rc = sw_err(err, SW_ERUN, "%s: out of memory", s->path);
    } else {
        for (int c = 0; c < ncols; c++)
            names[c] = sqlite3_column_name(st, c);
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            for (int c = 0; c < ncols; c++) {
                int type = sqlite3_column_type(st, c);
                vals[c].is_null = type == SQLITE_NULL;
                vals[c].num = sqlite3_column_double(st, c);
                vals[c].text = (const char *)sqlite3_column_text(st, c);
            }
            if (fn(ctx, ncols, names, vals) != 0)
                break;
        }
        if (step != SQLITE_ROW && step != SQLITE_DONE)
            rc = db_fail(s, "running a query", err);
    }
    free(names);
    free(vals);
out:
    sqlite3_finalize(st);
    return rc;
}

int store_select(store *s, const char *sql, const char *const *params, int n_params,
                 store_row_fn fn, void *ctx, sw_error *err)
{
    pthread_mutex_lock(&s->lock);
    int rc = select_rows(s, sql, params, n_params, fn, ctx, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---- merge ---- */

/* Which copy of a run a merge keeps: the better state. Done is a result,
 * and so is diverged (the same bits diverge again); failed keeps its error;
 * interrupted and running (its shard died) keep their epochs; pending has
 * nothing. Between equals the copy already in the output stays. */
static int merge_rank(int status)
{
    switch (status) {
    case RUN_DONE: return 5;
    case RUN_DIVERGED: return 4;
    case RUN_FAILED: return 3;
    case RUN_INTERRUPTED:
    case RUN_RUNNING: return 2;
    default: return 0;
    }
}

enum {
    M_IN_SWEEPS, M_IN_RUNS, M_IN_EPOCHS, M_IN_LAYERS, M_SWEEP_GET, M_SWEEP_PUT, M_RUN_GET,
    M_RUN_PUT, M_RUN_SET, M_EPOCHS_DEL, M_EPOCH_PUT, M_EPOCH_GET, M_EPOCH_COUNT,
    M_COUNTS, M_LAYER_PUT, M_COUNT
};

/* The first four read an input, the others the output. The runs columns
 * are read and written in this order: run_key (0), the settings (1-15),
 * then the state, status (16) to stopped_epoch (29). */
#define MERGE_RUN_COLUMNS                                                    \
    "run_key, activation, alpha, init, dropout, epochs, seed, batch_size, "  \
    "learning_rate, optimizer, validation_split, train_limit, model, "       \
    "es_monitor, es_patience, es_restore_best, status, "                     \
    "started_at, finished_at, wall_seconds, threads, test_loss, "            \
    "test_accuracy, error, diverged_epoch, host, pid, heartbeat_at, "        \
    "best_epoch, stopped_epoch"
#define MERGE_COL_STATUS 16
#define MERGE_COL_TEST_LOSS 21
#define MERGE_COL_ERROR 23
#define MERGE_COL_RUN_ID 30
#define MERGE_N_COLS 30

static const char *const MERGE_SQL[M_COUNT] = {
    [M_IN_SWEEPS] = "SELECT sweep_id, name, config_path, config_text, created_at "
                    "FROM sweeps ORDER BY name",
    [M_IN_RUNS] = "SELECT " MERGE_RUN_COLUMNS ", run_id FROM runs "
                  "WHERE sweep_id = ?1 ORDER BY run_id",
    [M_IN_EPOCHS] = "SELECT epoch, train_loss, train_accuracy, val_loss, val_accuracy, "
                    "seconds FROM epochs WHERE run_id = ?1 ORDER BY epoch",
    [M_IN_LAYERS] = "SELECT epoch, layer, mean_activation, dead_fraction, grad_norm "
                    "FROM layer_stats WHERE run_id = ?1 ORDER BY epoch, layer",
    [M_SWEEP_GET] = "SELECT sweep_id, config_text FROM sweeps WHERE name = ?1",
    [M_SWEEP_PUT] = "INSERT INTO sweeps (name, config_path, config_text, created_at) "
                    "VALUES (?1, ?2, ?3, ?4)",
    [M_RUN_GET] = "SELECT run_id, status, test_loss, test_accuracy FROM runs "
                  "WHERE sweep_id = ?1 AND run_key = ?2",
    [M_RUN_PUT] = "INSERT INTO runs (sweep_id, " MERGE_RUN_COLUMNS ") VALUES (?1, "
                  "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
                  "?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, "
                  "?30, ?31)",
    [M_RUN_SET] = "UPDATE runs SET status = ?2, started_at = ?3, finished_at = ?4, "
                  "wall_seconds = ?5, threads = ?6, test_loss = ?7, test_accuracy = ?8, "
                  "error = ?9, diverged_epoch = ?10, host = ?11, pid = ?12, "
                  "heartbeat_at = ?13, best_epoch = ?14, stopped_epoch = ?15 "
                  "WHERE run_id = ?1",
    [M_EPOCHS_DEL] = "DELETE FROM epochs WHERE run_id = ?1",
    [M_EPOCH_PUT] = "INSERT INTO epochs (run_id, epoch, train_loss, train_accuracy, "
                    "val_loss, val_accuracy, seconds) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [M_EPOCH_GET] = "SELECT train_loss, train_accuracy, val_loss, val_accuracy "
                    "FROM epochs WHERE run_id = ?1 AND epoch = ?2",
    [M_EPOCH_COUNT] = "SELECT count(*) FROM epochs WHERE run_id = ?1",
    [M_COUNTS] = "SELECT status, count(*) FROM runs WHERE sweep_id = ?1 GROUP BY status",
    [M_LAYER_PUT] = "INSERT INTO layer_stats (run_id, epoch, layer, mean_activation, "
                    "dead_fraction, grad_norm) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
};

typedef struct {
    store *out, *in;
    const char *what;
    sqlite3_stmt *st[M_COUNT];
    store_merge_report *rep;
    long long *rep_sweep;      /* the output's sweep_id per report */
    int n_rep, cap_rep;
    char note[160];            /* error = note when a run was running */
} merge_ctx;

static void merge_finalize(merge_ctx *m, int from, int to)
{
    for (int i = from; i < to; i++) {
        sqlite3_finalize(m->st[i]);
        m->st[i] = NULL;
    }
}

static int merge_prepare(merge_ctx *m, store *s, int from, int to, sw_error *err)
{
    for (int i = from; i < to; i++)
        if (sqlite3_prepare_v2(s->db, MERGE_SQL[i], -1, &m->st[i], NULL) != SQLITE_OK)
            return db_fail(s, m->what, err);
    return SW_OK;
}

/* Same type and the same bits (a double compared as its bytes). */
static int same_column(sqlite3_stmt *a, int ia, sqlite3_stmt *b, int ib)
{
    int t = sqlite3_column_type(a, ia);
    if (t != sqlite3_column_type(b, ib))
        return 0;
    switch (t) {
    case SQLITE_NULL:
        return 1;
    case SQLITE_INTEGER:
        return sqlite3_column_int64(a, ia) == sqlite3_column_int64(b, ib);
    case SQLITE_FLOAT: {
        double x = sqlite3_column_double(a, ia), y = sqlite3_column_double(b, ib);
        return memcmp(&x, &y, sizeof x) == 0;
    }
    default: {
        int n = sqlite3_column_bytes(a, ia);
        const void *p = sqlite3_column_blob(a, ia), *q = sqlite3_column_blob(b, ib);
        return n == sqlite3_column_bytes(b, ib) && (n == 0 || memcmp(p, q, (size_t)n) == 0);
    }
    }
}

/* Steps st expecting one row; *row = 0 when there is none. */
static int step_row(store *s, sqlite3_stmt *st, int *row, const char *what, sw_error *err)
{
    int rc = sqlite3_step(st);
    *row = rc == SQLITE_ROW;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(s, what, err);
    return SW_OK;
}

/* The report for sweep name (found or added); NULL when out of memory. */
static store_merge_report *merge_report_for(merge_ctx *m, const char *name, long long sweep_id)
{
    for (int i = 0; i < m->n_rep; i++)
        if (m->rep_sweep[i] == sweep_id)
            return &m->rep[i];
    if (m->n_rep == m->cap_rep) {
        int cap = m->cap_rep ? 2 * m->cap_rep : 4;
        store_merge_report *r = realloc(m->rep, (size_t)cap * sizeof *r);
        if (!r)
            return NULL;
        m->rep = r;
        long long *ids = realloc(m->rep_sweep, (size_t)cap * sizeof *ids);
        if (!ids)
            return NULL;
        m->rep_sweep = ids;
        m->cap_rep = cap;
    }
    store_merge_report *r = &m->rep[m->n_rep];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    m->rep_sweep[m->n_rep++] = sweep_id;
    return r;
}

/* Binds the input run's state columns (status .. heartbeat_at) from
 * column MERGE_COL_STATUS of runs to ?first and on. A run still running in
 * its shard is interrupted here: the output never sees its next epochs. */
static int bind_run_state(merge_ctx *m, sqlite3_stmt *dst, int first, sqlite3_stmt *runs)
{
    int running = status_from_name((const char *)sqlite3_column_text(
                      runs, MERGE_COL_STATUS)) == RUN_RUNNING;
    int rc = SQLITE_OK;
    for (int c = MERGE_COL_STATUS; c < MERGE_N_COLS && rc == SQLITE_OK; c++) {
        int i = first + c - MERGE_COL_STATUS;
        if (running && c == MERGE_COL_STATUS)
            rc = bind_text(dst, i, STATUS_NAMES[RUN_INTERRUPTED]);
        else if (running && c == MERGE_COL_ERROR &&
                 sqlite3_column_type(runs, c) == SQLITE_NULL)
            rc = bind_text(dst, i, m->note);
        else
            rc = sqlite3_bind_value(dst, i, sqlite3_column_value(runs, c));
    }
    return rc;
}

/* Copies the input run's rows of get (ncols columns after run_id) to the
 * output run through put. */
static int merge_rows(merge_ctx *m, sqlite3_stmt *get, sqlite3_stmt *put, int ncols,
                      long long in_run, long long out_run, sw_error *err)
{
    if (sqlite3_bind_int64(get, 1, in_run))
        return bind_fail(m->in, get, m->what, err);
    int rc;
    while ((rc = sqlite3_step(get)) == SQLITE_ROW) {
        int b = sqlite3_bind_int64(put, 1, out_run);
        for (int c = 0; c < ncols && b == SQLITE_OK; c++)
            b = sqlite3_bind_value(put, c + 2, sqlite3_column_value(get, c));
        if (b != SQLITE_OK) {
            stmt_done(get);
            return bind_fail(m->out, put, m->what, err);
        }
        if (step_done(m->out, put, m->what, err)) {
            stmt_done(get);
            return err->code;
        }
    }
    if (rc != SQLITE_DONE)
        return bind_fail(m->in, get, m->what, err);
    stmt_done(get);
    return SW_OK;
}

/* Copies the input run's epochs and layer statistics to the output run,
 * replacing any (deleting its epochs deletes their layer_stats rows). */
static int merge_epochs(merge_ctx *m, long long in_run, long long out_run, sw_error *err)
{
    sqlite3_stmt *del = m->st[M_EPOCHS_DEL];
    if (sqlite3_bind_int64(del, 1, out_run))
        return bind_fail(m->out, del, m->what, err);
    if (step_done(m->out, del, m->what, err))
        return err->code;
    if (merge_rows(m, m->st[M_IN_EPOCHS], m->st[M_EPOCH_PUT], 6, in_run, out_run, err))
        return err->code;
    return merge_rows(m, m->st[M_IN_LAYERS], m->st[M_LAYER_PUT], 5, in_run, out_run, err);
}

/* Whether two done copies agree: test scores and every epoch's metrics
 * bit for bit (not the wall times, which always differ). out_run is the
 * output's row, whose test scores are in M_RUN_GET's current row. */
static int merge_same_result(merge_ctx *m, sqlite3_stmt *runs, long long in_run,
                             long long out_run, int *same, sw_error *err)
{
    sqlite3_stmt *old = m->st[M_RUN_GET], *get = m->st[M_IN_EPOCHS],
                 *cnt = m->st[M_EPOCH_COUNT], *oe = m->st[M_EPOCH_GET];
    *same = same_column(runs, MERGE_COL_TEST_LOSS, old, 2) &&
            same_column(runs, MERGE_COL_TEST_LOSS + 1, old, 3);
    long long n_out = 0, n_in = 0;
    int row;
    if (sqlite3_bind_int64(cnt, 1, out_run))
        return bind_fail(m->out, cnt, m->what, err);
    if (step_row(m->out, cnt, &row, m->what, err)) {
        stmt_done(cnt);
        return err->code;
    }
    n_out = row ? sqlite3_column_int64(cnt, 0) : 0;
    stmt_done(cnt);
    if (sqlite3_bind_int64(get, 1, in_run))
        return bind_fail(m->in, get, m->what, err);
    int rc = SQLITE_DONE;
    while (*same && (rc = sqlite3_step(get)) == SQLITE_ROW) {
        n_in++;
        if (sqlite3_bind_int64(oe, 1, out_run) ||
            sqlite3_bind_value(oe, 2, sqlite3_column_value(get, 0))) {
            stmt_done(get);
            return bind_fail(m->out, oe, m->what, err);
        }
        if (step_row(m->out, oe, &row, m->what, err)) {
            stmt_done(oe);
            stmt_done(get);
            return err->code;
        }
        for (int c = 0; c < 4 && row; c++)
            row = same_column(get, c + 1, oe, c);
        *same = row;
        stmt_done(oe);
    }
    if (*same && rc != SQLITE_DONE)
        return bind_fail(m->in, get, m->what, err);
    stmt_done(get);
    if (n_in != n_out)
        *same = 0;
    return SW_OK;
}

/* One run of the input: added, replaced by a better copy, or kept. */
static int merge_run(merge_ctx *m, store_merge_report *r, long long out_sweep,
                     sqlite3_stmt *runs, sw_error *err)
{
    sqlite3_stmt *get = m->st[M_RUN_GET];
    long long in_run = sqlite3_column_int64(runs, MERGE_COL_RUN_ID);
    if (sqlite3_bind_int64(get, 1, out_sweep) ||
        sqlite3_bind_value(get, 2, sqlite3_column_value(runs, 0)))
        return bind_fail(m->out, get, m->what, err);
    int row;
    if (step_row(m->out, get, &row, m->what, err)) {
        stmt_done(get);
        return err->code;
    }
    int in_status = status_from_name((const char *)sqlite3_column_text(runs, MERGE_COL_STATUS));
    if (!row) {
        stmt_done(get);
        sqlite3_stmt *put = m->st[M_RUN_PUT];
        int b = sqlite3_bind_int64(put, 1, out_sweep);
        for (int c = 0; c < MERGE_COL_STATUS && b == SQLITE_OK; c++)
            b = sqlite3_bind_value(put, c + 2, sqlite3_column_value(runs, c));
        if (b == SQLITE_OK)
            b = bind_run_state(m, put, MERGE_COL_STATUS + 2, runs);
        if (b != SQLITE_OK)
            return bind_fail(m->out, put, m->what, err);
        if (step_done(m->out, put, m->what, err))
            return err->code;
        r->added++;
        return merge_epochs(m, in_run, sqlite3_last_insert_rowid(m->out->db), err);
    }
    long long out_run = sqlite3_column_int64(get, 0);
    int out_status = status_from_name((const char *)sqlite3_column_text(get, 1));
    if (in_status == RUN_DONE && out_status == RUN_DONE) {
        int same, rc = merge_same_result(m, runs, in_run, out_run, &same, err);
        stmt_done(get);
        if (rc)
            return rc;
        if (!same && r->differ++ == 0)
            snprintf(r->differ_key, sizeof r->differ_key, "%s",
                     (const char *)sqlite3_column_text(runs, 0));
        r->kept++;
        return SW_OK;
    }
    stmt_done(get);
    if (merge_rank(in_status) <= merge_rank(out_status)) {
        r->kept++;
        return SW_OK;
    }
    sqlite3_stmt *set = m->st[M_RUN_SET];
    if (sqlite3_bind_int64(set, 1, out_run) || bind_run_state(m, set, 2, runs))
        return bind_fail(m->out, set, m->what, err);
    if (step_done(m->out, set, m->what, err))
        return err->code;
    r->replaced++;
    return merge_epochs(m, in_run, out_run, err);
}

/* The input's sweep at the current row of sweeps: found in the output (the
 * same config, else refused) or added, then its runs. */
static int merge_sweep(merge_ctx *m, sqlite3_stmt *sw, sw_error *err)
{
    const char *name = (const char *)sqlite3_column_text(sw, 1);
    sqlite3_stmt *get = m->st[M_SWEEP_GET];
    if (bind_text(get, 1, name))
        return bind_fail(m->out, get, m->what, err);
    int row;
    if (step_row(m->out, get, &row, m->what, err)) {
        stmt_done(get);
        return err->code;
    }
    long long out_sweep = row ? sqlite3_column_int64(get, 0) : 0;
    int same = row && same_column(sw, 3, get, 1);
    stmt_done(get);
    if (row && !same)
        return sw_err(err, SW_EINPUT, "%s: sweep '%s' has another config than in %s (the "
                      "same name, a different config_text): merge refused, %s unchanged",
                      m->in->path, name, m->out->path, m->out->path);
    if (!row) {
        sqlite3_stmt *put = m->st[M_SWEEP_PUT];
        int b = SQLITE_OK;
        for (int c = 1; c <= 4 && b == SQLITE_OK; c++)
            b = sqlite3_bind_value(put, c, sqlite3_column_value(sw, c));
        if (b != SQLITE_OK)
            return bind_fail(m->out, put, m->what, err);
        if (step_done(m->out, put, m->what, err))
            return err->code;
        out_sweep = sqlite3_last_insert_rowid(m->out->db);
    }
    store_merge_report *r = merge_report_for(m, name, out_sweep);
    if (!r)
        return sw_err(err, SW_ERUN, "%s: out of memory", m->out->path);
    r->inputs++;
    sqlite3_stmt *runs = m->st[M_IN_RUNS];
    if (sqlite3_bind_int64(runs, 1, sqlite3_column_int64(sw, 0)))
        return bind_fail(m->in, runs, m->what, err);
    int rc;
    while ((rc = sqlite3_step(runs)) == SQLITE_ROW)
        if (merge_run(m, r, out_sweep, runs, err)) {
            stmt_done(runs);
            return err->code;
        }
    if (rc != SQLITE_DONE)
        return bind_fail(m->in, runs, m->what, err);
    stmt_done(runs);
    return SW_OK;
}

/* One input, opened (and so checked) as store_open checks any database. */
static int merge_input(merge_ctx *m, const char *path, sw_error *err)
{
    struct stat a, b;
    if (stat(path, &a) == 0 && stat(m->out->path, &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino)
        return sw_err(err, SW_EINPUT, "%s: is the output database itself", path);
    if (store_open(&m->in, path, 0, err))
        return err->code;
    snprintf(m->note, sizeof m->note, "was running in %.120s when merged", path);
    int rc = merge_prepare(m, m->in, M_IN_SWEEPS, M_IN_LAYERS + 1, err);
    sqlite3_stmt *sw = m->st[M_IN_SWEEPS];
    while (rc == SW_OK) {
        int step = sqlite3_step(sw);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW)
            rc = db_fail(m->in, m->what, err);
        else
            rc = merge_sweep(m, sw, err);
    }
    merge_finalize(m, M_IN_SWEEPS, M_IN_LAYERS + 1);
    store_close(m->in);
    m->in = NULL;
    return rc;
}

/* Final counts per status of each reported sweep. */
static int merge_counts(merge_ctx *m, sw_error *err)
{
    sqlite3_stmt *st = m->st[M_COUNTS];
    for (int i = 0; i < m->n_rep; i++) {
        if (sqlite3_bind_int64(st, 1, m->rep_sweep[i]))
            return bind_fail(m->out, st, m->what, err);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            int k = status_from_name((const char *)sqlite3_column_text(st, 0));
            if (k >= 0)
                m->rep[i].count[k] += sqlite3_column_int(st, 1);
        }
        if (rc != SQLITE_DONE)
            return bind_fail(m->out, st, m->what, err);
        stmt_done(st);
    }
    return SW_OK;
}

static int merge_all(store *out, const char *const *in_paths, int n_in, merge_ctx *m,
                     sw_error *err)
{
    if (tx_begin(out, m->what, err))
        return err->code;
    int rc = merge_prepare(m, out, M_SWEEP_GET, M_COUNT, err);
    for (int i = 0; rc == SW_OK && i < n_in; i++)
        rc = merge_input(m, in_paths[i], err);
    if (rc == SW_OK)
        rc = merge_counts(m, err);
    merge_finalize(m, 0, M_COUNT);
    if (rc != SW_OK)
        return tx_fail(out, err);
    return tx_commit(out, m->what, err);
}

int store_merge(store *out, const char *const *in_paths, int n_in, store_merge_report **rep,
                int *n_rep, sw_error *err)
{
    *rep = NULL;
    *n_rep = 0;
    merge_ctx m = {.out = out, .what = "merging"};
    pthread_mutex_lock(&out->lock);
    int rc = merge_all(out, in_paths, n_in, &m, err);
    pthread_mutex_unlock(&out->lock);
    free(m.rep_sweep);
    if (rc != SW_OK) {
        free(m.rep);
        return rc;
    }
    *rep = m.rep;
    *n_rep = m.n_rep;
    return SW_OK;
}
