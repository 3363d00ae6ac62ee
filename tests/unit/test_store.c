/* Tests of the SQLite store: schema, refusals that leave files untouched,
 * the claim/epoch/finish life of a run, the summary view (also from the
 * sqlite3 shell when it is installed) and the CSV export. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sweep/store.h"
#include "test.h"
#include "../../src/sweep/store/store_sql.h"

/* ------------------------------------------------------------- helpers */

static const char *tmp_path(const char *name)
{
    static char buf[8][512];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", test_tmpdir(), name);
    return p;
}

static sweep_config config_named(const char *name)
{
    sweep_config c;
    memset(&c, 0, sizeof c);
    c.name = (char *)name;
    c.path = (char *)"configs/test.yaml";
    c.text = (char *)"name: test\n";
    return c;
}

static run_settings settings(act_kind act, double alpha, long long seed)
{
    run_settings r;
    memset(&r, 0, sizeof r);
    r.activation = act;
    r.alpha = act == ACT_RELU ? NAN : alpha;
    r.init = INIT_HE;
    r.dropout = 0.25;
    r.epochs = 3;
    r.seed = seed;
    r.batch_size = 250;
    r.learning_rate = 0.001;
    r.optimizer = OPT_ADAM;
    r.validation_split = 0.2;
    r.train_limit = 0;
    return r;
}

static void key_of(char key[RUN_KEY_LEN + 1], int tag, int i)
{
    snprintf(key, RUN_KEY_LEN + 1, "%08x%08x", (unsigned)tag, (unsigned)i);
}

/* A fresh database with one sweep of n runs; ids in run_ids. */
static store *fresh(const char *file, const char *sweep, const run_settings *runs,
                    int n, long long *sweep_id, long long *run_ids)
{
    sw_error err = {0};
    store *s = NULL;
    char (*keys)[RUN_KEY_LEN + 1] = calloc((size_t)n + 1, sizeof *keys);
    for (int i = 0; i < n; i++)
        key_of(keys[i], 1, i);
    sweep_config c = config_named(sweep);
    int rc = store_open(&s, tmp_path(file), 1, &err);
    if (rc == SW_OK)
        rc = store_sweep_upsert(s, &c, sweep_id, &err);
    if (rc == SW_OK && n > 0)
        rc = store_runs_ensure(s, *sweep_id, runs, keys, n, run_ids, &err);
    CHECK_MSG(rc == SW_OK, "setting up %s: %s", file, err.msg);
    free(keys);
    return s;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0;
    *len = 0;
    for (;;) {
        if (*len + 4096 > cap) {
            cap = 2 * cap + 4096;
            buf = realloc(buf, cap);
        }
        size_t got = fread(buf + *len, 1, cap - *len, f);
        *len += got;
        if (got == 0)
            break;
    }
    fclose(f);
    return buf;
}

static void write_all(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(data, 1, len, f) == len);
        fclose(f);
    }
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The CSV export as a string (malloc'd), or NULL with err set. */
static char *export_str(store *s, const char *what, const char *sweep, sw_error *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int rc = store_export_csv(s, what, sweep, f, err);
    fclose(f);
    if (rc != SW_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int count_lines(const char *csv)
{
    int n = 0;
    for (const char *p = csv; p && (p = strstr(p, "\r\n")); p += 2)
        n++;
    return n;
}

/* Field `col` (by header name) of data row `row` (0 = first after the
 * header) of an unquoted CSV, into buf; -1 if absent. */
static int csv_field(const char *csv, int row, const char *col, char *buf, size_t size)
{
    const char *line = csv;
    int idx = -1, i = 0;
    for (const char *p = line; *p && *p != '\r'; i++) {
        size_t w = strcspn(p, ",\r");
        if (w == strlen(col) && strncmp(p, col, w) == 0)
            idx = i;
        p += w + (p[w] == ',');
    }
    if (idx < 0)
        return -1;
    for (int r = 0; r <= row; r++) {
        line = strstr(line, "\r\n");
        if (!line || !line[2])
            return -1;
        line += 2;
    }
    const char *p = line;
    for (i = 0; i < idx; i++) {
        p += strcspn(p, ",\r");
        if (*p != ',')
            return -1;
        p++;
    }
    size_t w = strcspn(p, ",\r");
    snprintf(buf, size, "%.*s", (int)w, p);
    return 0;
}

static double csv_double(const char *csv, int row, const char *col)
{
    char buf[64];
    if (csv_field(csv, row, col, buf, sizeof buf) != 0 || !buf[0])
        return NAN;
    return strtod(buf, NULL);
}

static int have_sqlite3_shell(void)
{
    return system("command -v sqlite3 >/dev/null 2>&1") == 0;
}

/* Runs sql in the sqlite3 shell; its output (CSV mode) in buf. */
static int shell(const char *db, const char *sql, char *buf, size_t size)
{
    char cmd[4096], quoted[2048];
    size_t k = 0;
    for (const char *p = sql; *p && k + 5 < sizeof quoted; p++) {
        if (*p == '\'') {   /* close, escaped quote, reopen */
            memcpy(quoted + k, "'\\''", 4);
            k += 4;
        } else {
            quoted[k++] = *p;
        }
    }
    quoted[k] = '\0';
    snprintf(cmd, sizeof cmd, "sqlite3 -batch -csv '%s' '%s' 2>&1", db, quoted);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t len = fread(buf, 1, size - 1, p);
    buf[len] = '\0';
    return pclose(p);
}

static const unsigned char *header_of(const char *path, unsigned char head[100])
{
    FILE *f = fopen(path, "rb");
    if (!f || fread(head, 1, 100, f) != 100) {
        if (f)
            fclose(f);
        return NULL;
    }
    fclose(f);
    return head;
}

static unsigned be32(const unsigned char *p)
{
    return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
}

static epoch_metrics metrics(double val_acc, double seconds)
{
    epoch_metrics m = {0.5, 0.8, 0.45, val_acc, seconds};
    return m;
}

static void finish_done(store *s, long long run_id, double acc, double loss)
{
    sw_error err = {0};
    train_result res = {TRAIN_DONE, 3, 0, loss, acc, 0, 0};
    CHECK_MSG(store_run_finish(s, run_id, RUN_DONE, &res, 12.5, NULL, &err) == SW_OK,
              "%s", err.msg);
}

/* Claims run_id in a child process that then dies without finishing. */
static void claim_in_dead_child(const char *path, long long run_id)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        sw_error err = {0};
        store *s = NULL;
        int claimed = 0;
        int ok = store_open(&s, path, 0, &err) == SW_OK &&
                 store_run_claim(s, run_id, 2, &claimed, &err) == SW_OK && claimed;
        _exit(ok ? 0 : 1);   /* as if killed: no finish, no close */
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child could not claim");
}

/* --------------------------------------------------------------- tests */

static void test_create_schema(void)
{
    const char *path = tmp_path("new/sub/dir/a.db");
    sw_error err = {0};
    store *s = NULL;
    CHECK_MSG(store_open(&s, path, 1, &err) == SW_OK, "%s", err.msg);
    CHECK(file_exists(path));
    unsigned char head[100];
    CHECK(header_of(path, head) != NULL);
    CHECK(memcmp(head, "SQLite format 3", 16) == 0);
    CHECK_INT(head[18], 2);   /* WAL: file format read/write versions 2 */
    CHECK_INT(head[19], 2);
    store_close(s);
    CHECK(header_of(path, head) != NULL);
    CHECK_INT(be32(head + 60), STORE_SCHEMA_VERSION);   /* user_version */

    /* Opens again without create; empty tables export a header only. */
    s = NULL;
    CHECK_MSG(store_open(&s, path, 0, &err) == SW_OK, "%s", err.msg);
    char *csv = s ? export_str(s, "runs", NULL, &err) : NULL;
    CHECK(csv && count_lines(csv) == 1 && strncmp(csv, "sweep,run_id,run_key,", 21) == 0);
    free(csv);
    store_close(s);

    if (have_sqlite3_shell()) {
        char out[4096];
        CHECK(shell(path, "PRAGMA journal_mode; PRAGMA user_version", out, sizeof out) == 0);
        CHECK_STR(out, "wal\n3\n");
        CHECK(shell(path, "SELECT name FROM sqlite_master WHERE type IN "
                    "('table', 'view') ORDER BY name", out, sizeof out) == 0);
        CHECK_STR(out, "classes\nepochs\nlayer_stats\nruns\nsummary\nsummary_all\nsweep_configs\nsweeps\n");
    }
}

static void test_open_missing(void)
{
    const char *path = tmp_path("store-missing/none.db");
    sw_error err = {0};
    store *s = (store *)1;
    CHECK_INT(store_open(&s, path, 0, &err), SW_EINPUT);
    CHECK(s == NULL);
    char want[600];
    snprintf(want, sizeof want, "%s: no such database", path);
    CHECK_STR(err.msg, want);
    CHECK(!file_exists(path));
    CHECK(!file_exists(tmp_path("store-missing")));
}

static void test_not_a_database(void)
{
    const char *path = tmp_path("notes.db");
    const char text[] = "These are my notes, not a database.\n"
                        "Some more text so the file is longer than a header....."
                        "..........................................................\n";
    write_all(path, text, sizeof text - 1);
    for (int create = 0; create <= 1; create++) {
        sw_error err = {0};
        store *s = NULL;
        CHECK_INT(store_open(&s, path, create, &err), SW_EINPUT);
        CHECK(s == NULL);
        char want[600];
        snprintf(want, sizeof want, "%s: not a sweep database (file is not a database)", path);
        CHECK_STR(err.msg, want);
    }
    size_t len = 0;
    char *after = read_all(path, &len);
    CHECK(after && len == sizeof text - 1 && memcmp(after, text, len) == 0);
    free(after);
    char side[600];
    snprintf(side, sizeof side, "%s-wal", path);
    CHECK(!file_exists(side));
    snprintf(side, sizeof side, "%s-journal", path);
    CHECK(!file_exists(side));

    /* A short file is not a database either. */
    const char *tiny = tmp_path("tiny.db");
    write_all(tiny, "x", 1);
    sw_error err = {0};
    store *s = NULL;
    CHECK_INT(store_open(&s, tiny, 1, &err), SW_EINPUT);
    CHECK(strstr(err.msg, "not a sweep database") != NULL);
    char *t = read_all(tiny, &len);
    CHECK(t && len == 1 && t[0] == 'x');
    free(t);

    /* Nor is a folder. */
    err.code = SW_OK;
    CHECK_INT(store_open(&s, test_tmpdir(), 1, &err), SW_EINPUT);
}

static void test_newer_version_refused(void)
{
    const char *path = tmp_path("newer.db");
    sw_error err = {0};
    store *s = NULL;
    CHECK_MSG(store_open(&s, path, 1, &err) == SW_OK, "%s", err.msg);
    store_close(s);
    /* Set user_version (header offset 60, big-endian) to the next version. */
    size_t len = 0;
    unsigned char *bytes = (unsigned char *)read_all(path, &len);
    CHECK(bytes && len >= 100);
    if (!bytes || len < 100)
        return;
    bytes[63] = STORE_SCHEMA_VERSION + 1;
    write_all(path, bytes, len);
    for (int create = 0; create <= 1; create++) {
        s = NULL;
        err.code = SW_OK;
        CHECK_INT(store_open(&s, path, create, &err), SW_EINPUT);
        char want[600];
        snprintf(want, sizeof want, "%s: database schema version %d is newer than this "
                 "sweep supports (%d)", path, STORE_SCHEMA_VERSION + 1, STORE_SCHEMA_VERSION);
        CHECK_STR(err.msg, want);
    }
    size_t len2 = 0;
    char *after = read_all(path, &len2);
    CHECK(after && len2 == len && memcmp(after, bytes, len) == 0);
    free(after);
    free(bytes);
}

static void test_foreign_database_refused(void)
{
    if (!have_sqlite3_shell()) {
        printf("# skip: no sqlite3 shell\n");
        return;
    }
    const char *path = tmp_path("foreign.db");
    char out[1024];
    CHECK(shell(path, "CREATE TABLE people(name TEXT); INSERT INTO people VALUES (1)",
                out, sizeof out) == 0);
    size_t len = 0;
    char *before = read_all(path, &len);
    sw_error err = {0};
    store *s = NULL;
    CHECK_INT(store_open(&s, path, 1, &err), SW_EINPUT);
    CHECK(strstr(err.msg, "not a sweep database") != NULL);
    size_t len2 = 0;
    char *after = read_all(path, &len2);
    CHECK(before && after && len == len2 && memcmp(before, after, len) == 0);
    free(before);
    free(after);
}

static void test_empty_file(void)
{
    const char *path = tmp_path("empty.db");
    write_all(path, "", 0);
    sw_error err = {0};
    store *s = NULL;
    CHECK_INT(store_open(&s, path, 0, &err), SW_EINPUT);   /* reading: refused */
    CHECK(strstr(err.msg, "not a sweep database") != NULL);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size == 0);
    err.code = SW_OK;
    CHECK_MSG(store_open(&s, path, 1, &err) == SW_OK, "%s", err.msg);   /* creating: made */
    store_close(s);
}

static void test_sweep_upsert(void)
{
    long long a = 0, b = 0, c2 = 0, found = -1;
    store *s = fresh("sweeps.db", "alpha", NULL, 0, &a, NULL);
    if (!s)
        return;
    sw_error err = {0};
    sweep_config c = config_named("alpha");
    c.text = (char *)"name: alpha\n# edited\n";
    CHECK(store_sweep_upsert(s, &c, &b, &err) == SW_OK);
    CHECK(a > 0 && a == b);
    sweep_config other = config_named("beta");
    CHECK(store_sweep_upsert(s, &other, &c2, &err) == SW_OK);
    CHECK(c2 > 0 && c2 != a);
    CHECK(store_sweep_find(s, "alpha", &found, &err) == SW_OK && found == a);
    CHECK(store_sweep_find(s, "gamma", &found, &err) == SW_OK && found == 0);
    CHECK_MSG(err.code == SW_OK, "%s", err.msg);
    store_close(s);
    if (have_sqlite3_shell()) {   /* the config is the latest one */
        char out[1024];
        CHECK(shell(tmp_path("sweeps.db"), "SELECT count(*), config_text FROM sweeps "
                    "WHERE name = 'alpha'", out, sizeof out) == 0);
        CHECK_STR(out, "1,\"name: alpha\n# edited\n\"\n");
    }
}

static void test_runs_ensure(void)
{
    run_settings runs[4] = {settings(ACT_RELU, NAN, 1), settings(ACT_ELU, 1.0, 1),
                            settings(ACT_LEAKY_RELU, 0.3, 2), settings(ACT_PRELU, 0.25, 3)};
    runs[3].init = INIT_GLOROT;
    runs[3].optimizer = OPT_SGD;
    long long sweep_id, ids[4], again[4], found = 0;
    store *s = fresh("runs.db", "r", runs, 4, &sweep_id, ids);
    if (!s)
        return;
    for (int i = 0; i < 4; i++)
        CHECK(ids[i] > 0 && (i == 0 || ids[i] != ids[i - 1]));
    char keys[4][RUN_KEY_LEN + 1];
    for (int i = 0; i < 4; i++)
        key_of(keys[i], 1, i);
    sw_error err = {0};
    CHECK(store_runs_ensure(s, sweep_id, runs, keys, 4, again, &err) == SW_OK);
    for (int i = 0; i < 4; i++)
        CHECK_INT(again[i], ids[i]);
    CHECK(store_run_find(s, sweep_id, keys[2], &found, &err) == SW_OK && found == ids[2]);
    CHECK(store_run_find(s, sweep_id, "ffffffffffffffff", &found, &err) == SW_OK && found == 0);

    char *csv = export_str(s, "runs", NULL, &err);
    CHECK_MSG(csv != NULL, "%s", err.msg);
    if (csv) {
        CHECK_INT(count_lines(csv), 5);
        char f[64];
        CHECK(csv_field(csv, 0, "alpha", f, sizeof f) == 0 && f[0] == '\0');   /* NULL */
        CHECK(csv_field(csv, 0, "activation", f, sizeof f) == 0 && strcmp(f, "relu") == 0);
        CHECK(csv_field(csv, 0, "status", f, sizeof f) == 0 && strcmp(f, "pending") == 0);
        CHECK_NEAR(csv_double(csv, 1, "alpha"), 1.0, 0);
        CHECK_NEAR(csv_double(csv, 2, "alpha"), 0.3, 0);   /* exact round trip */
        CHECK(csv_field(csv, 2, "activation", f, sizeof f) == 0 && strcmp(f, "leaky_relu") == 0);
        CHECK(csv_field(csv, 3, "init", f, sizeof f) == 0 && strcmp(f, "glorot") == 0);
        CHECK(csv_field(csv, 3, "optimizer", f, sizeof f) == 0 && strcmp(f, "sgd") == 0);
        CHECK(csv_field(csv, 0, "learning_rate", f, sizeof f) == 0 && strcmp(f, "0.001") == 0);
        CHECK_NEAR(csv_double(csv, 3, "seed"), 3, 0);
    }
    free(csv);
    run_status st;
    int stale = -1;
    CHECK(store_run_state(s, ids[0], &st, &stale, &err) == SW_OK);
    CHECK(st == RUN_PENDING && stale == 0);
    CHECK_INT(store_run_state(s, 999999, &st, &stale, &err), SW_EINPUT);
    store_close(s);
}

static void test_claim_epoch_finish(void)
{
    run_settings runs[2] = {settings(ACT_ELU, 1.0, 1), settings(ACT_ELU, 1.0, 2)};
    long long sweep_id, ids[2];
    store *s = fresh("claim.db", "c", runs, 2, &sweep_id, ids);
    if (!s)
        return;
    sw_error err = {0};
    int claimed = -1, stale = -1;
    run_status st;
    CHECK(store_run_claim(s, ids[0], 4, &claimed, &err) == SW_OK && claimed == 1);
    CHECK(store_run_state(s, ids[0], &st, &stale, &err) == SW_OK);
    CHECK(st == RUN_RUNNING && stale == 0);   /* held by us: alive */
    CHECK(store_run_claim(s, ids[0], 4, &claimed, &err) == SW_OK && claimed == 0);

    for (int e = 1; e <= 3; e++) {
        epoch_metrics m = metrics(0.8 + 0.01 * e, 2.0);
        CHECK_MSG(store_epoch_add(s, ids[0], e, &m, &err) == SW_OK, "%s", err.msg);
    }
    epoch_metrics again = metrics(0.85, 2.0);   /* a replayed epoch replaces */
    CHECK(store_epoch_add(s, ids[0], 3, &again, &err) == SW_OK);
    CHECK_INT(store_epoch_add(s, 424242, 1, &again, &err), SW_EINPUT);
    err.code = SW_OK;
    CHECK_INT(store_epoch_add(s, ids[0], 0, &again, &err), SW_EINPUT);
    err.code = SW_OK;
    finish_done(s, ids[0], 0.875, 0.35);
    CHECK(store_run_state(s, ids[0], &st, &stale, &err) == SW_OK && st == RUN_DONE);
    CHECK(store_run_claim(s, ids[0], 4, &claimed, &err) == SW_OK && claimed == 0);

    char *csv = export_str(s, "epochs", "c", &err);
    CHECK(csv && count_lines(csv) == 4);
    if (csv) {
        CHECK_NEAR(csv_double(csv, 2, "val_accuracy"), 0.85, 0);
        CHECK_NEAR(csv_double(csv, 0, "epoch"), 1, 0);
        CHECK_NEAR(csv_double(csv, 0, "seed"), 1, 0);   /* settings repeated */
        CHECK_NEAR(csv_double(csv, 0, "dropout"), 0.25, 0);
    }
    free(csv);
    csv = export_str(s, "runs", "c", &err);
    CHECK(csv && count_lines(csv) == 3);
    if (csv) {
        char f[64];
        CHECK(csv_field(csv, 0, "status", f, sizeof f) == 0 && strcmp(f, "done") == 0);
        CHECK_NEAR(csv_double(csv, 0, "test_accuracy"), 0.875, 0);
        CHECK_NEAR(csv_double(csv, 0, "test_loss"), 0.35, 0);
        CHECK_NEAR(csv_double(csv, 0, "wall_seconds"), 12.5, 0);
        CHECK_NEAR(csv_double(csv, 0, "threads"), 4, 0);
        CHECK_NEAR(csv_double(csv, 0, "best_val_accuracy"), 0.85, 0);
        CHECK_NEAR(csv_double(csv, 0, "pid"), getpid(), 0);
        CHECK(csv_field(csv, 0, "started_at", f, sizeof f) == 0 && strlen(f) == 20 &&
              f[10] == 'T' && f[19] == 'Z');
        CHECK(csv_field(csv, 0, "finished_at", f, sizeof f) == 0 && strlen(f) == 20);
        CHECK(csv_field(csv, 0, "error", f, sizeof f) == 0 && f[0] == '\0');
    }
    free(csv);

    /* Only final states are accepted. */
    CHECK_INT(store_run_finish(s, ids[1], RUN_RUNNING, NULL, 1, NULL, &err), SW_EINPUT);
    store_close(s);
}

static void test_failed_diverged_interrupted(void)
{
    run_settings runs[3] = {settings(ACT_RELU, NAN, 1), settings(ACT_RELU, NAN, 2),
                            settings(ACT_RELU, NAN, 3)};
    long long sweep_id, ids[3];
    store *s = fresh("finish.db", "f", runs, 3, &sweep_id, ids);
    if (!s)
        return;
    sw_error err = {0};
    int claimed;
    for (int i = 0; i < 3; i++)
        CHECK(store_run_claim(s, ids[i], 1, &claimed, &err) == SW_OK && claimed);
    epoch_metrics bad = metrics(0.1, 1.0);
    bad.train_loss = NAN;
    CHECK(store_epoch_add(s, ids[1], 1, &bad, &err) == SW_OK);   /* NaN stored as NULL */
    train_result res = {TRAIN_DIVERGED, 1, 1, NAN, NAN, 0, 0};
    CHECK(store_run_finish(s, ids[0], RUN_FAILED, NULL, 3.0, "out of memory", &err) == SW_OK);
    CHECK(store_run_finish(s, ids[1], RUN_DIVERGED, &res, 3.0, NULL, &err) == SW_OK);
    res.status = TRAIN_INTERRUPTED;
    CHECK(store_run_finish(s, ids[2], RUN_INTERRUPTED, &res, 3.0, NULL, &err) == SW_OK);
    CHECK_MSG(err.code == SW_OK, "%s", err.msg);
    char *csv = export_str(s, "runs", NULL, &err);
    CHECK(csv != NULL);
    if (csv) {
        char f[128];
        CHECK(csv_field(csv, 0, "status", f, sizeof f) == 0 && strcmp(f, "failed") == 0);
        CHECK(csv_field(csv, 0, "error", f, sizeof f) == 0 && strcmp(f, "out of memory") == 0);
        CHECK(csv_field(csv, 1, "status", f, sizeof f) == 0 && strcmp(f, "diverged") == 0);
        CHECK_NEAR(csv_double(csv, 1, "diverged_epoch"), 1, 0);
        CHECK(csv_field(csv, 1, "error", f, sizeof f) == 0 && f[0] != '\0');
        CHECK(csv_field(csv, 1, "test_loss", f, sizeof f) == 0 && f[0] == '\0');
        CHECK(csv_field(csv, 2, "status", f, sizeof f) == 0 && strcmp(f, "interrupted") == 0);
        CHECK(csv_field(csv, 2, "diverged_epoch", f, sizeof f) == 0 && f[0] == '\0');
    }
    free(csv);
    csv = export_str(s, "epochs", NULL, &err);
    CHECK(csv && count_lines(csv) == 2);
    if (csv) {
        char f[64];
        CHECK(csv_field(csv, 0, "train_loss", f, sizeof f) == 0 && f[0] == '\0');
    }
    free(csv);
    /* Each of them is claimed again. */
    for (int i = 0; i < 3; i++)
        CHECK(store_run_claim(s, ids[i], 1, &claimed, &err) == SW_OK && claimed);
    store_close(s);
}

static void test_reclaim_and_truncate_epochs(void)
{
    run_settings runs[2] = {settings(ACT_ELU, 1.0, 1), settings(ACT_ELU, 1.0, 2)};
    long long sweep_id, ids[2];
    store *s = fresh("reclaim.db", "rc", runs, 2, &sweep_id, ids);
    if (!s)
        return;
    sw_error err = {0};
    int claimed;
    CHECK(store_run_claim(s, ids[0], 1, &claimed, &err) == SW_OK && claimed);
    CHECK(store_run_claim(s, ids[1], 1, &claimed, &err) == SW_OK && claimed);
    epoch_metrics m = metrics(0.5, 1.0);
    CHECK(store_epoch_add(s, ids[0], 1, &m, &err) == SW_OK);
    CHECK(store_epoch_add(s, ids[0], 2, &m, &err) == SW_OK);
    CHECK(store_epoch_add(s, ids[1], 1, &m, &err) == SW_OK);
    CHECK(store_run_finish(s, ids[0], RUN_INTERRUPTED, NULL, 2.0, NULL, &err) == SW_OK);
    char *csv = export_str(s, "epochs", NULL, &err);
    CHECK(csv && count_lines(csv) == 4);
    free(csv);
    CHECK(store_run_claim(s, ids[0], 1, &claimed, &err) == SW_OK && claimed);
    csv = export_str(s, "epochs", NULL, &err);
    CHECK(csv && count_lines(csv) == 4);   /* a claim keeps epochs for a resume */
    free(csv);
    CHECK(store_epochs_truncate(s, ids[0], 1, &err) == SW_OK);   /* checkpoint at 1 */
    csv = export_str(s, "epochs", NULL, &err);
    CHECK(csv && count_lines(csv) == 3);
    free(csv);
    CHECK(store_epochs_truncate(s, ids[0], 0, &err) == SW_OK);   /* no checkpoint */
    csv = export_str(s, "epochs", NULL, &err);
    CHECK(csv && count_lines(csv) == 2);   /* only the other run's epoch */
    if (csv)
        CHECK_NEAR(csv_double(csv, 0, "run_id"), ids[1], 0);
    free(csv);
    csv = export_str(s, "runs", NULL, &err);
    if (csv) {
        char f[64];
        CHECK(csv_field(csv, 0, "status", f, sizeof f) == 0 && strcmp(f, "running") == 0);
        CHECK(csv_field(csv, 0, "finished_at", f, sizeof f) == 0 && f[0] == '\0');
        CHECK(csv_field(csv, 0, "wall_seconds", f, sizeof f) == 0 && f[0] == '\0');
    }
    free(csv);
    CHECK_MSG(err.code == SW_OK, "%s", err.msg);
    store_close(s);
}

static void test_stale_claim(void)
{
    run_settings runs[2] = {settings(ACT_ELU, 1.0, 1), settings(ACT_ELU, 1.0, 2)};
    long long sweep_id, ids[2];
    store *s = fresh("stale.db", "st", runs, 2, &sweep_id, ids);
    if (!s)
        return;
    claim_in_dead_child(tmp_path("stale.db"), ids[0]);
    sw_error err = {0};
    run_status st;
    int stale = 0, claimed = 0;
    CHECK(store_run_state(s, ids[0], &st, &stale, &err) == SW_OK);
    CHECK(st == RUN_RUNNING && stale == 1);
    sweep_status *v = NULL;
    int n = 0;
    CHECK(store_status(s, &v, &n, &err) == SW_OK && n == 1);
    if (n == 1) {
        CHECK_INT(v[0].stale, 1);
        CHECK_INT(v[0].count[RUN_RUNNING], 0);
        CHECK_INT(v[0].count[RUN_PENDING], 1);
    }
    free(v);
    CHECK(store_run_claim(s, ids[0], 1, &claimed, &err) == SW_OK && claimed == 1);
    CHECK(store_run_state(s, ids[0], &st, &stale, &err) == SW_OK);
    CHECK(st == RUN_RUNNING && stale == 0);
    CHECK_MSG(err.code == SW_OK, "%s", err.msg);
    store_close(s);

    /* Another host's run: only its heartbeat can tell. */
    if (!have_sqlite3_shell())
        return;
    const char *path = tmp_path("stale.db");
    char out[1024];
    CHECK(shell(path, "UPDATE runs SET host = 'elsewhere', pid = 1, "
                "heartbeat_at = '2000-01-01T00:00:00Z' WHERE run_id = 1", out, sizeof out) == 0);
    s = NULL;
    CHECK(store_open(&s, path, 0, &err) == SW_OK);
    if (!s)
        return;
    CHECK(store_run_state(s, 1, &st, &stale, &err) == SW_OK && st == RUN_RUNNING && stale == 1);
    CHECK(shell(path, "UPDATE runs SET heartbeat_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') "
                "WHERE run_id = 1", out, sizeof out) == 0);
    CHECK(store_run_state(s, 1, &st, &stale, &err) == SW_OK && st == RUN_RUNNING && stale == 0);
    CHECK(store_run_claim(s, 1, 1, &claimed, &err) == SW_OK && claimed == 0);
    store_close(s);
}

/* Several processes claim the same runs: each run is taken exactly once. */
/* Processes that create the same new database at once all get it: none
 * may see the schema half made (it once read the tables before another
 * process committed them and the version after, and refused the file). */
static void test_concurrent_create(void)
{
    char path[600];
    int failures = 0;
    for (int round = 0; round < 12; round++) {
        snprintf(path, sizeof path, "%s/race-%d.db", test_tmpdir(), round);
        pid_t kids[4];
        for (int k = 0; k < 4; k++) {
            kids[k] = fork();
            if (kids[k] == 0) {
                store *s = NULL;
                sw_error err = {0};
                int rc = store_open(&s, path, 1, &err);
                if (rc != SW_OK)
                    fprintf(stderr, "child: %s\n", err.msg);
                store_close(s);
                _exit(rc == SW_OK ? 0 : 1);
            }
        }
        for (int k = 0; k < 4; k++) {
            int status = 0;
            if (kids[k] > 0 && waitpid(kids[k], &status, 0) == kids[k])
                failures += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
            else
                failures++;
        }
    }
    CHECK_INT(failures, 0);
}

static void test_concurrent_claims(void)
{
    enum { RUNS = 40, PROCS = 4 };
    run_settings runs[RUNS];
    for (int i = 0; i < RUNS; i++)
        runs[i] = settings(ACT_RELU, NAN, i + 1);
    long long sweep_id, ids[RUNS];
    const char *path = tmp_path("race.db");
    store *s = fresh("race.db", "race", runs, RUNS, &sweep_id, ids);
    if (!s)
        return;
    int fds[2];
    CHECK(pipe(fds) == 0);
    fflush(NULL);
    pid_t kids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        kids[p] = fork();
        if (kids[p] == 0) {
            close(fds[0]);
            sw_error err = {0};
            store *c = NULL;
            if (store_open(&c, path, 0, &err) != SW_OK)
                _exit(1);
            for (int k = 0; k < RUNS; k++) {
                int i = (k + p * 7) % RUNS, claimed = 0;
                if (store_run_claim(c, ids[i], 1, &claimed, &err) != SW_OK)
                    _exit(2);
                if (!claimed)
                    continue;
                epoch_metrics m = metrics(0.5, 0.01);
                train_result res = {TRAIN_DONE, 1, 0, 0.3, 0.9, 0, 0};
                if (store_epoch_add(c, ids[i], 1, &m, &err) != SW_OK ||
                    store_run_finish(c, ids[i], RUN_DONE, &res, 0.01, NULL, &err) != SW_OK)
                    _exit(3);
                if (write(fds[1], &i, sizeof i) != sizeof i)
                    _exit(4);
            }
            store_close(c);
            _exit(0);
        }
    }
    close(fds[1]);
    int taken[RUNS] = {0}, i;
    while (read(fds[0], &i, sizeof i) == sizeof i)
        if (i >= 0 && i < RUNS)
            taken[i]++;
    close(fds[0]);
    for (int p = 0; p < PROCS; p++) {
        int status = 0;
        CHECK(waitpid(kids[p], &status, 0) == kids[p]);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "worker %d: status %d", p,
                  status);
    }
    for (i = 0; i < RUNS; i++)
        CHECK_MSG(taken[i] == 1, "run %d taken %d times", i, taken[i]);
    sw_error err = {0};
    sweep_status *v = NULL;
    int n = 0;
    CHECK(store_status(s, &v, &n, &err) == SW_OK && n == 1);
    if (n == 1)
        CHECK_INT(v[0].count[RUN_DONE], RUNS);
    free(v);
    store_close(s);
}

static void test_summary_view(void)
{
    /* relu x2 seeds (done), elu x1 seed (done) + 1 failed, prelu pending. */
    run_settings runs[5] = {settings(ACT_RELU, NAN, 1), settings(ACT_RELU, NAN, 2),
                            settings(ACT_ELU, 1.0, 1), settings(ACT_ELU, 1.0, 2),
                            settings(ACT_PRELU, 0.25, 1)};
    long long sweep_id, ids[5];
    const char *path = tmp_path("summary.db");
    store *s = fresh("summary.db", "sum", runs, 5, &sweep_id, ids);
    if (!s)
        return;
    sw_error err = {0};
    int claimed;
    double acc[4] = {0.8, 0.9, 0.7, 0.1}, loss[4] = {0.5, 0.3, 0.6, 2.0};
    double val[4][3] = {{0.70, 0.82, 0.81}, {0.75, 0.85, 0.88}, {0.6, 0.65, 0.7}, {0, 0, 0}};
    double secs[4][3] = {{1, 2, 3}, {4, 5, 6}, {10, 10, 10}, {0, 0, 0}};
    for (int i = 0; i < 4; i++) {
        CHECK(store_run_claim(s, ids[i], 1, &claimed, &err) == SW_OK && claimed);
        for (int e = 0; e < 3 && i < 3; e++) {
            epoch_metrics m = metrics(val[i][e], secs[i][e]);
            CHECK(store_epoch_add(s, ids[i], e + 1, &m, &err) == SW_OK);
        }
        if (i < 3)
            finish_done(s, ids[i], acc[i], loss[i]);
        else
            CHECK(store_run_finish(s, ids[i], RUN_FAILED, NULL, 1, "boom", &err) == SW_OK);
    }
    CHECK_MSG(err.code == SW_OK, "%s", err.msg);

    /* Expected values, computed here. */
    double mean_acc = (0.8 + 0.9) / 2, mean_loss = (0.5 + 0.3) / 2;
    double std_acc = sqrt(((0.8 - mean_acc) * (0.8 - mean_acc) +
                           (0.9 - mean_acc) * (0.9 - mean_acc)) / 1);
    double std_loss = sqrt(((0.5 - mean_loss) * (0.5 - mean_loss) +
                            (0.3 - mean_loss) * (0.3 - mean_loss)) / 1);
    CHECK_NEAR(std_acc, 0.0707106781186548, 1e-15);

    char *csv = export_str(s, "summary", NULL, &err);
    CHECK_MSG(csv != NULL, "%s", err.msg);
    if (!csv) {
        store_close(s);
        return;
    }
    CHECK_INT(count_lines(csv), 3);   /* header, relu, elu (failed and pending left out) */
    const char *header = "sweep,activation,alpha,init,dropout,epochs,batch_size,learning_rate,"
                         "optimizer,validation_split,train_limit,model,early_stopping,"
                         "data_format,label,augment,val_limit,test_limit,dataset,"
                         "batchnorm,momentum,nesterov,weight_decay,lr_schedule,"
                         "n,mean_test_accuracy,"
                         "std_test_accuracy,mean_test_loss,std_test_loss,"
                         "mean_best_val_accuracy,mean_seconds_per_epoch\r\n";
    CHECK(strncmp(csv, header, strlen(header)) == 0);
    char f[64];
    CHECK(csv_field(csv, 0, "activation", f, sizeof f) == 0 && strcmp(f, "relu") == 0);
    CHECK(csv_field(csv, 0, "alpha", f, sizeof f) == 0 && f[0] == '\0');
    CHECK_NEAR(csv_double(csv, 0, "n"), 2, 0);
    CHECK_NEAR(csv_double(csv, 0, "mean_test_accuracy"), mean_acc, 1e-15);
    CHECK_NEAR(csv_double(csv, 0, "std_test_accuracy"), std_acc, 1e-15);
    CHECK_NEAR(csv_double(csv, 0, "mean_test_loss"), mean_loss, 1e-15);
    CHECK_NEAR(csv_double(csv, 0, "std_test_loss"), std_loss, 1e-15);
    CHECK_NEAR(csv_double(csv, 0, "mean_best_val_accuracy"), (0.82 + 0.88) / 2, 1e-15);
    CHECK_NEAR(csv_double(csv, 0, "mean_seconds_per_epoch"), 21.0 / 6, 1e-15);
    CHECK(csv_field(csv, 1, "activation", f, sizeof f) == 0 && strcmp(f, "elu") == 0);
    CHECK_NEAR(csv_double(csv, 1, "n"), 1, 0);
    CHECK_NEAR(csv_double(csv, 1, "mean_test_accuracy"), 0.7, 0);
    CHECK(csv_field(csv, 1, "std_test_accuracy", f, sizeof f) == 0 && f[0] == '\0');
    CHECK(csv_field(csv, 1, "std_test_loss", f, sizeof f) == 0 && f[0] == '\0');
    CHECK_NEAR(csv_double(csv, 1, "mean_seconds_per_epoch"), 10, 1e-15);
    free(csv);

    /* Equal accuracies: std exactly 0. */
    run_settings more[2] = {settings(ACT_LEAKY_RELU, 0.1, 1), settings(ACT_LEAKY_RELU, 0.1, 2)};
    char keys[2][RUN_KEY_LEN + 1];
    long long more_ids[2];
    key_of(keys[0], 2, 0);
    key_of(keys[1], 2, 1);
    CHECK(store_runs_ensure(s, sweep_id, more, keys, 2, more_ids, &err) == SW_OK);
    for (int i = 0; i < 2; i++) {
        CHECK(store_run_claim(s, more_ids[i], 1, &claimed, &err) == SW_OK && claimed);
        finish_done(s, more_ids[i], 0.75, 0.4);
    }
    csv = export_str(s, "summary", "sum", &err);
    CHECK(csv && count_lines(csv) == 4);
    if (csv) {
        CHECK(csv_field(csv, 2, "activation", f, sizeof f) == 0 && strcmp(f, "leaky_relu") == 0);
        CHECK(csv_field(csv, 2, "std_test_accuracy", f, sizeof f) == 0 && strcmp(f, "0") == 0);
        CHECK(csv_field(csv, 2, "mean_best_val_accuracy", f, sizeof f) == 0 && f[0] == '\0');
    }
    free(csv);
    store_close(s);

    /* The view in the stock sqlite3 shell. */
    if (!have_sqlite3_shell()) {
        printf("# skip: no sqlite3 shell\n");
        return;
    }
    char out[4096];
    CHECK(shell(path, "SELECT activation, n, round(std_test_accuracy, 12), "
                "std_test_loss IS NULL FROM summary", out, sizeof out) == 0);
    CHECK_STR(out, "relu,2,0.070710678119,0\nelu,1,,1\nleaky_relu,2,0.0,0\n");
}

static void test_csv_quoting(void)
{
    const char *odd = "a,\"b\"\nc";
    const char *sql = "x'); DROP TABLE runs;--";
    run_settings runs[1] = {settings(ACT_ELU, 1.0, 7)};
    long long odd_id, sql_id, ids[1];
    store *s = fresh("quote.db", odd, runs, 1, &odd_id, ids);
    if (!s)
        return;
    sw_error err = {0};
    sweep_config c = config_named(sql);
    CHECK(store_sweep_upsert(s, &c, &sql_id, &err) == SW_OK && sql_id != odd_id);
    char keys[1][RUN_KEY_LEN + 1];
    key_of(keys[0], 3, 0);
    long long sql_run;
    CHECK(store_runs_ensure(s, sql_id, runs, keys, 1, &sql_run, &err) == SW_OK);
    long long found = 0;
    CHECK(store_sweep_find(s, sql, &found, &err) == SW_OK && found == sql_id);

    char *csv = export_str(s, "runs", odd, &err);
    CHECK_MSG(csv != NULL, "%s", err.msg);
    if (csv) {
        CHECK_INT(count_lines(csv), 2);
        const char *row = strstr(csv, "\r\n");
        const char *want = "\"a,\"\"b\"\"\nc\",";
        CHECK(row && strncmp(row + 2, want, strlen(want)) == 0);
    }
    free(csv);
    csv = export_str(s, "runs", sql, &err);
    CHECK(csv && count_lines(csv) == 2);
    if (csv) {
        const char *row = strstr(csv, "\r\n");
        const char *want = "x'); DROP TABLE runs;--,";
        CHECK(row && strncmp(row + 2, want, strlen(want)) == 0);
    }
    free(csv);
    csv = export_str(s, "runs", NULL, &err);   /* the runs table is still there */
    CHECK(csv && count_lines(csv) == 3);
    free(csv);
    csv = export_str(s, "epochs", odd, &err);
    CHECK(csv && count_lines(csv) == 1);   /* a header even without rows */
    free(csv);

    /* Each line ends in CRLF; no bare LF outside the quoted name. */
    CHECK(store_run_claim(s, ids[0], 1, &(int){0}, &err) == SW_OK);
    finish_done(s, ids[0], 0.5, 1.0);
    csv = export_str(s, "summary", NULL, &err);
    CHECK(csv && count_lines(csv) == 2);
    if (csv) {
        CHECK(strstr(csv, "\r\n\"a,\"\"b\"\"\nc\",elu,1,he,") != NULL);
        size_t len = strlen(csv);
        CHECK(len >= 2 && csv[len - 2] == '\r' && csv[len - 1] == '\n');
    }
    free(csv);
    CHECK_MSG(err.code == SW_OK, "%s", err.msg);
    store_close(s);
}

static void test_export_errors(void)
{
    long long sweep_id;
    store *s = fresh("exporterr.db", "e", NULL, 0, &sweep_id, NULL);
    if (!s)
        return;
    sw_error err = {0};
    CHECK(export_str(s, "summary", "nope", &err) == NULL);
    CHECK_INT(err.code, SW_EINPUT);
    char want[600];
    snprintf(want, sizeof want, "no sweep named 'nope' in %s", tmp_path("exporterr.db"));
    CHECK_STR(err.msg, want);
    sw_error err2 = {0};
    CHECK(export_str(s, "tables", NULL, &err2) == NULL);
    CHECK_INT(err2.code, SW_EINPUT);
    CHECK(strstr(err2.msg, "tables") != NULL);
    store_close(s);
}

static void test_status_counts(void)
{
    run_settings runs[6];
    for (int i = 0; i < 6; i++)
        runs[i] = settings(ACT_ELU, 1.0, i + 1);   /* 3 epochs each */
    long long sweep_id, ids[6], other_id;
    store *s = fresh("status.db", "zeta", runs, 6, &sweep_id, ids);
    if (!s)
        return;
    sw_error err = {0};
    sweep_config c = config_named("alpha");   /* sorts first, no runs */
    CHECK(store_sweep_upsert(s, &c, &other_id, &err) == SW_OK);
    int claimed;
    /* 0 done (3 epochs of 2 s), 1 running with 1 epoch, 2 failed with 1 epoch,
     * 3 stale (dead child), 4 and 5 pending. */
    CHECK(store_run_claim(s, ids[0], 1, &claimed, &err) == SW_OK && claimed);
    for (int e = 1; e <= 3; e++) {
        epoch_metrics m = metrics(0.5, 2.0);
        CHECK(store_epoch_add(s, ids[0], e, &m, &err) == SW_OK);
    }
    finish_done(s, ids[0], 0.9, 0.3);
    CHECK(store_run_claim(s, ids[1], 1, &claimed, &err) == SW_OK && claimed);
    CHECK(store_run_claim(s, ids[2], 1, &claimed, &err) == SW_OK && claimed);
    epoch_metrics m = metrics(0.5, 9.0);
    CHECK(store_epoch_add(s, ids[1], 1, &m, &err) == SW_OK);
    CHECK(store_epoch_add(s, ids[2], 1, &m, &err) == SW_OK);
    CHECK(store_run_finish(s, ids[2], RUN_FAILED, NULL, 1, "x", &err) == SW_OK);
    claim_in_dead_child(tmp_path("status.db"), ids[3]);

    sweep_status *v = NULL;
    int n = 0;
    CHECK_MSG(store_status(s, &v, &n, &err) == SW_OK, "%s", err.msg);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_STR(v[0].name, "alpha");
        CHECK_INT(v[0].sweep_id, other_id);
        for (int k = 0; k < RUN_STATUS_COUNT; k++)
            CHECK_INT(v[0].count[k], 0);
        CHECK_INT(v[0].epochs_left, 0);
        CHECK_NEAR(v[0].mean_seconds_per_epoch, 0, 0);
        CHECK_STR(v[1].name, "zeta");
        CHECK_INT(v[1].count[RUN_DONE], 1);
        CHECK_INT(v[1].count[RUN_RUNNING], 1);
        CHECK_INT(v[1].count[RUN_FAILED], 1);
        CHECK_INT(v[1].count[RUN_PENDING], 2);
        CHECK_INT(v[1].stale, 1);
        CHECK_NEAR(v[1].mean_seconds_per_epoch, 2.0, 0);
        /* running: 3 - 1; failed, stale, 2 pending: 3 each (they restart) */
        CHECK_INT(v[1].epochs_left, 2 + 3 + 3 + 3 + 3);
    }
    free(v);
    store_close(s);
}

static void test_read_only_file(void)
{
    if (geteuid() == 0) {
        printf("# skip: root writes read-only files\n");
        return;
    }
    long long sweep_id, ids[1];
    run_settings runs[1] = {settings(ACT_ELU, 1.0, 1)};
    const char *path = tmp_path("readonly.db");
    store *s = fresh("readonly.db", "ro", runs, 1, &sweep_id, ids);
    store_close(s);
    CHECK(chmod(path, 0444) == 0);
    sw_error err = {0};
    s = NULL;
    CHECK_MSG(store_open(&s, path, 0, &err) == SW_OK, "%s", err.msg);
    if (s) {
        char *csv = export_str(s, "runs", NULL, &err);
        CHECK_MSG(csv && count_lines(csv) == 2, "%s", err.msg);
        free(csv);
        int claimed = 1;
        CHECK_INT(store_run_claim(s, ids[0], 1, &claimed, &err), SW_EINPUT);
        CHECK(claimed == 0);
        CHECK_MSG(strstr(err.msg, "readonly") || strstr(err.msg, "read-only"), "%s", err.msg);
        store_close(s);
    }
    chmod(path, 0644);
}

/* ------------------------------------------------------ typed reads */

static int take_text(void *ctx, int ncols, const char *const *names, const store_value *v)
{
    (void)names;
    if (ncols > 0 && v[0].text)
        snprintf(ctx, 4096, "%s", v[0].text);
    return 1;
}

/* One table of status names, and the schema's CHECK lists every one: a
 * status added to the table but not to the schema could not be stored. */
static void test_status_names(void)
{
    for (int k = 0; k < RUN_STATUS_COUNT; k++) {
        const char *name = run_status_name((run_status)k);
        CHECK(name && strcmp(name, "unknown") != 0);
        CHECK_INT(run_status_from_name(name), k);
    }
    CHECK_STR(run_status_name(RUN_INTERRUPTED), "interrupted");
    CHECK_STR(run_status_name(RUN_STATUS_COUNT), "unknown");
    CHECK_INT(run_status_from_name("Done"), -1);
    CHECK_INT(run_status_from_name(NULL), -1);
    long long sweep_id;
    store *s = fresh("names.db", "n", NULL, 0, &sweep_id, NULL);
    if (!s)
        return;
    char sql[4096] = "";
    sw_error err = {0};
    CHECK_MSG(store_select(s, "SELECT sql FROM sqlite_master WHERE name = 'runs'", NULL, 0,
                           take_text, sql, &err) == SW_OK, "%s", err.msg);
    const char *check = strstr(sql, "CHECK (status IN (");
    CHECK(check != NULL);
    for (int k = 0; check && k < RUN_STATUS_COUNT; k++) {
        char quoted[64];
        snprintf(quoted, sizeof quoted, "'%s'", run_status_name((run_status)k));
        CHECK_MSG(strstr(check, quoted) != NULL, "%s not in the schema's CHECK", quoted);
    }
    store_close(s);
}

/* Kinds that have no name are refused before anything is written. */
static void test_unknown_kinds_refused(void)
{
    long long sweep_id, ids[1];
    store *s = fresh("kinds.db", "k", NULL, 0, &sweep_id, NULL);
    if (!s)
        return;
    char keys[1][RUN_KEY_LEN + 1];
    key_of(keys[0], 9, 0);
    for (int which = 0; which < 3; which++) {
        run_settings r = settings(ACT_ELU, 1.0, 1);
        if (which == 0)
            r.activation = (act_kind)99;
        else if (which == 1)
            r.init = (init_kind)99;
        else
            r.optimizer = (optim_kind)99;
        sw_error err = {0};
        CHECK_INT(store_runs_ensure(s, sweep_id, &r, keys, 1, ids, &err), SW_EINPUT);
        CHECK_MSG(strstr(err.msg, "unknown activation, init or optimizer"), "%s", err.msg);
    }
    long long found = -1;
    sw_error err = {0};
    CHECK(store_run_find(s, sweep_id, keys[0], &found, &err) == SW_OK && found == 0);
    store_close(s);
}

typedef struct {
    int n, stop_after;
    long long id[8];
    char activation[8][16], alpha[8][16], model[8][64];
    int alpha_null[8], metric_null[8];
    double metric[8], seed[8];
} runs_seen;

static int see_run(void *ctx, const store_run_row *r)
{
    runs_seen *c = ctx;
    int i = c->n++;
    c->id[i] = r->run_id;
    snprintf(c->activation[i], 16, "%s", r->setting[STORE_ACTIVATION].text);
    c->alpha_null[i] = r->setting[STORE_ALPHA].is_null;
    snprintf(c->alpha[i], 16, "%s", r->setting[STORE_ALPHA].text ? r->setting[STORE_ALPHA].text
                                                                 : "(null)");
    snprintf(c->model[i], 64, "%s", r->setting[STORE_MODEL].text);
    c->seed[i] = r->setting[STORE_SEED].num;
    c->metric_null[i] = r->metric.is_null;
    c->metric[i] = r->metric.num;
    return c->n == c->stop_after;
}

typedef struct {
    int n;
    long long run[16];
    int epoch[16];
    double v[16];
} epochs_seen;

static int see_epoch(void *ctx, long long run_id, int epoch, double value)
{
    epochs_seen *c = ctx;
    c->run[c->n] = run_id;
    c->epoch[c->n] = epoch;
    c->v[c->n++] = value;
    return 0;
}

/* Two done runs with two epochs each, one failed, one pending. */
static store *typed_fixture(const char *file, long long *ids)
{
    run_settings runs[4] = {settings(ACT_RELU, NAN, 1), settings(ACT_ELU, 1.0, 2),
                            settings(ACT_ELU, 1.0, 3), settings(ACT_ELU, 1.0, 4)};
    long long sweep_id;
    store *s = fresh(file, "zeta", runs, 4, &sweep_id, ids);
    if (!s)
        return NULL;
    sw_error err = {0};
    sweep_config other = config_named("alpha");
    other.path = NULL;
    long long other_id;
    CHECK(store_sweep_upsert(s, &other, &other_id, &err) == SW_OK);
    for (int i = 0; i < 3; i++) {
        int claimed = 0;
        CHECK(store_run_claim(s, ids[i], 1, &claimed, &err) == SW_OK && claimed);
    }
    for (int i = 0; i < 2; i++) {
        epoch_metrics m1 = metrics(0.5 + i, 2.0), m2 = metrics(0.25 + i, 4.0);
        m1.val_loss = NAN;   /* stored as NULL */
        CHECK(store_epoch_add(s, ids[i], 1, &m1, &err) == SW_OK);
        CHECK(store_epoch_add(s, ids[i], 2, &m2, &err) == SW_OK);
        finish_done(s, ids[i], 0.75 + 0.125 * i, 0.5);
    }
    CHECK(store_run_finish(s, ids[2], RUN_FAILED, NULL, 1.0, "boom", &err) == SW_OK);
    CHECK_MSG(err.code == SW_OK, "%s", err.msg);
    return s;
}

static void test_typed_sweeps(void)
{
    long long ids[4];
    store *s = typed_fixture("typed_sweeps.db", ids);
    if (!s)
        return;
    sw_error err = {0};
    char **names = NULL;
    int n = -1;
    CHECK(store_sweep_names(s, &names, &n, &err) == SW_OK);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_STR(names[0], "alpha");   /* sorted, not in insertion order */
        CHECK_STR(names[1], "zeta");
    }
    store_names_free(names, n);
    char *text = NULL, *path = NULL;
    CHECK(store_sweep_config(s, "zeta", &text, &path, &err) == SW_OK);
    CHECK_STR(text, "name: test\n");
    CHECK_STR(path, "configs/test.yaml");
    free(text), free(path);
    CHECK(store_sweep_config(s, "alpha", &text, &path, &err) == SW_OK);
    CHECK(text != NULL && path == NULL);   /* a NULL column stays NULL */
    free(text), free(path);
    text = path = (char *)"x";
    CHECK(store_sweep_config(s, "nope", &text, &path, &err) == SW_OK);
    CHECK(text == NULL && path == NULL);
    int not_done = -1;
    CHECK(store_count_not_done(s, "zeta", 0, &not_done, &err) == SW_OK);
    CHECK_INT(not_done, 2);   /* the failed and the pending run */
    CHECK(store_count_not_done(s, "alpha", 0, &not_done, &err) == SW_OK);
    CHECK_INT(not_done, 0);
    CHECK_MSG(err.code == SW_OK, "%s", err.msg);
    store_close(s);
}

static void test_typed_runs(void)
{
    long long ids[4];
    store *s = typed_fixture("typed_runs.db", ids);
    if (!s)
        return;
    sw_error err = {0};
    runs_seen seen = {0};
    CHECK(store_done_runs(s, "zeta", 0, STORE_RUN_BEST_VAL_ACCURACY, see_run, &seen, &err) == SW_OK);
    CHECK_INT(seen.n, 2);   /* done runs only, by run_id */
    CHECK(seen.id[0] == ids[0] && seen.id[1] == ids[1]);
    CHECK_STR(seen.activation[0], "relu");
    CHECK(seen.alpha_null[0] && strcmp(seen.alpha[0], "(null)") == 0);
    CHECK_STR(seen.alpha[1], "1.0");   /* SQLite's text of the REAL */
    CHECK_STR(seen.model[1], "conv=32-64;dense=256");
    CHECK_NEAR(seen.seed[1], 2, 0);
    CHECK_NEAR(seen.metric[0], 0.5, 0);   /* max over the epochs */
    CHECK_NEAR(seen.metric[1], 1.5, 0);
    struct {
        store_run_metric m;
        double want0;
    } cases[] = {{STORE_RUN_TEST_ACCURACY, 0.75}, {STORE_RUN_TEST_LOSS, 0.5},
                 {STORE_RUN_BEST_VAL_LOSS, 0.45}, {STORE_RUN_SECONDS_PER_EPOCH, 3.0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        runs_seen c = {0};
        CHECK(store_done_runs(s, "zeta", 0, cases[i].m, see_run, &c, &err) == SW_OK);
        CHECK_MSG(c.n == 2 && !c.metric_null[0] && c.metric[0] == cases[i].want0,
                  "%s: %g", store_run_metric_name(cases[i].m), c.metric[0]);
    }
    runs_seen none = {0}, first = {.stop_after = 1};
    CHECK(store_done_runs(s, "zeta", 0, STORE_RUN_NO_METRIC, see_run, &none, &err) == SW_OK);
    CHECK(none.n == 2 && none.metric_null[0] && none.metric_null[1]);
    CHECK(store_done_runs(s, "zeta", 0, STORE_RUN_TEST_LOSS, see_run, &first, &err) == SW_OK);
    CHECK_INT(first.n, 1);   /* a nonzero return stops */
    CHECK_INT(store_done_runs(s, "zeta", 0, STORE_RUN_METRIC_COUNT, see_run, &none, &err),
              SW_EINPUT);
    CHECK_STR(store_run_metric_name(STORE_RUN_SECONDS_PER_EPOCH), "seconds_per_epoch");
    CHECK(store_run_metric_name(STORE_RUN_NO_METRIC) == NULL);
    store_close(s);
}

static void test_typed_epochs(void)
{
    long long ids[4];
    store *s = typed_fixture("typed_epochs.db", ids);
    if (!s)
        return;
    sw_error err = {0};
    epochs_seen e = {0};
    CHECK(store_done_epochs(s, "zeta", 0, STORE_EPOCH_VAL_LOSS, see_epoch, &e, &err) == SW_OK);
    CHECK_INT(e.n, 4);   /* the failed run's epochs are not there */
    if (e.n == 4) {
        CHECK(e.run[0] == ids[0] && e.epoch[0] == 1 && isnan(e.v[0]));   /* NULL */
        CHECK(e.run[1] == ids[0] && e.epoch[1] == 2 && e.v[1] == 0.45);
        CHECK(e.run[3] == ids[1] && e.epoch[3] == 2);
    }
    epochs_seen acc = {0};
    CHECK(store_done_epochs(s, "zeta", 0, STORE_EPOCH_VAL_ACCURACY, see_epoch, &acc, &err) == SW_OK);
    CHECK(acc.n == 4 && acc.v[0] == 0.5 && acc.v[3] == 1.25);
    epochs_seen other = {0};
    CHECK(store_done_epochs(s, "alpha", 0, STORE_EPOCH_TRAIN_LOSS, see_epoch, &other, &err) == SW_OK);
    CHECK_INT(other.n, 0);
    CHECK_INT(store_done_epochs(s, "zeta", 0, (store_epoch_metric)-1, see_epoch, &other, &err),
              SW_EINPUT);
    for (int m = 0; m < STORE_EPOCH_METRIC_COUNT; m++)
        CHECK(store_epoch_metric_name((store_epoch_metric)m) != NULL);
    CHECK_STR(store_epoch_metric_name(STORE_EPOCH_TRAIN_ACCURACY), "train_accuracy");
    store_close(s);
}

/* ------------------------------------------------------ issue 16 cases */

/* A running row that names our own live pid, with a heartbeat from before
 * this process started: the pid was reused, the owner is gone. The same
 * row with a fresh heartbeat is held. */
static void test_reused_pid_stale(void)
{
    if (!have_sqlite3_shell())
        return;
    run_settings runs[1] = {settings(ACT_RELU, 1.0, 1)};
    long long sweep_id, ids[1];
    store *s = fresh("reuse.db", "reuse", runs, 1, &sweep_id, ids);
    if (!s)
        return;
    sw_error err = {0};
    int claimed = 0, stale = -1;
    run_status st;
    CHECK(store_run_claim(s, ids[0], 1, &claimed, &err) == SW_OK && claimed == 1);
    CHECK(store_run_state(s, ids[0], &st, &stale, &err) == SW_OK && st == RUN_RUNNING);
    CHECK_INT(stale, 0);   /* ours, alive, claimed after we started */
    char out[1024];
    CHECK(shell(tmp_path("reuse.db"), "UPDATE runs SET heartbeat_at = '2000-01-01T00:00:00Z'",
                out, sizeof out) == 0);
    CHECK(store_run_state(s, ids[0], &st, &stale, &err) == SW_OK && st == RUN_RUNNING);
    CHECK_INT(stale, 1);   /* our pid, but we started after that heartbeat */
    CHECK(store_run_claim(s, ids[0], 1, &claimed, &err) == SW_OK && claimed == 1);
    CHECK_MSG(err.code == SW_OK, "%s", err.msg);
    store_close(s);
}

/* store_epochs_held: what the database vouches for of epochs 1..upto. */
static void test_epochs_held(void)
{
    run_settings runs[1] = {settings(ACT_RELU, 1.0, 1)};
    long long sweep_id, ids[1];
    store *s = fresh("held.db", "held", runs, 1, &sweep_id, ids);
    if (!s)
        return;
    sw_error err = {0};
    int claimed = 0, held = -1;
    CHECK(store_run_claim(s, ids[0], 1, &claimed, &err) == SW_OK && claimed);
    CHECK(store_epochs_held(s, ids[0], 3, &held, &err) == SW_OK);
    CHECK_INT(held, 0);
    epoch_metrics m = metrics(0.5, 1.0);
    CHECK(store_epoch_add(s, ids[0], 1, &m, &err) == SW_OK);
    CHECK(store_epoch_add(s, ids[0], 2, &m, &err) == SW_OK);
    CHECK(store_epoch_add(s, ids[0], 4, &m, &err) == SW_OK);
    CHECK(store_epochs_held(s, ids[0], 2, &held, &err) == SW_OK);
    CHECK_INT(held, 2);
    CHECK(store_epochs_held(s, ids[0], 4, &held, &err) == SW_OK);
    CHECK_INT(held, 3);   /* epoch 3 missing: a checkpoint after 4 is not vouched for */
    CHECK(store_epochs_held(s, ids[0], 1000, &held, &err) == SW_OK);
    CHECK_INT(held, 3);
    CHECK_MSG(err.code == SW_OK, "%s", err.msg);
    store_close(s);
}

/* A database deleted, or replaced by another file, while open: the next
 * commit fails with SW_EINPUT and says so. */
static void test_deleted_database_noticed(void)
{
    run_settings runs[1] = {settings(ACT_RELU, 1.0, 1)};
    long long sweep_id, ids[1];
    for (int replace = 0; replace < 2; replace++) {
        const char *path = tmp_path(replace ? "replaced.db" : "deleted.db");
        store *s = fresh(replace ? "replaced.db" : "deleted.db", "gone", runs, 1, &sweep_id, ids);
        if (!s)
            return;
        sw_error err = {0};
        int claimed = 0;
        epoch_metrics m = metrics(0.5, 1.0);
        CHECK(store_run_claim(s, ids[0], 1, &claimed, &err) == SW_OK && claimed);
        CHECK(store_epoch_add(s, ids[0], 1, &m, &err) == SW_OK);
        char aside[600];
        snprintf(aside, sizeof aside, "%s.old", path);
        CHECK(rename(path, aside) == 0);
        if (replace) {
            FILE *f = fopen(path, "w");
            CHECK(f != NULL);
            if (f)
                fclose(f);
        }
        CHECK_INT(store_epoch_add(s, ids[0], 2, &m, &err), SW_EINPUT);
        CHECK_MSG(strstr(err.msg, replace ? "was replaced" : "was deleted") != NULL, "%s",
                  err.msg);
        store_close(s);
    }
}

/* A hand-edited status outside the CHECK: status counts it apart. */
static void test_unknown_status_counted(void)
{
    if (!have_sqlite3_shell())
        return;
    run_settings runs[2] = {settings(ACT_RELU, 1.0, 1), settings(ACT_RELU, 1.0, 2)};
    long long sweep_id, ids[2];
    store *s = fresh("weird.db", "weird", runs, 2, &sweep_id, ids);
    if (!s)
        return;
    char out[1024];
    CHECK(shell(tmp_path("weird.db"), "PRAGMA ignore_check_constraints = 1; UPDATE runs SET "
                "status = 'weird' WHERE run_id = 1", out, sizeof out) == 0);
    sw_error err = {0};
    sweep_status *v = NULL;
    int n = 0;
    CHECK(store_status(s, &v, &n, &err) == SW_OK && n == 1);
    if (n == 1) {
        CHECK_INT(v[0].unknown, 1);
        CHECK_STR(v[0].unknown_status, "weird");
        CHECK_INT(v[0].count[RUN_PENDING], 1);
    }
    free(v);
    store_close(s);
}

void suite_store(void)
{
    RUN_TEST(test_create_schema);
    RUN_TEST(test_open_missing);
    RUN_TEST(test_not_a_database);
    RUN_TEST(test_newer_version_refused);
    RUN_TEST(test_foreign_database_refused);
    RUN_TEST(test_empty_file);
    RUN_TEST(test_sweep_upsert);
    RUN_TEST(test_runs_ensure);
    RUN_TEST(test_claim_epoch_finish);
    RUN_TEST(test_failed_diverged_interrupted);
    RUN_TEST(test_reclaim_and_truncate_epochs);
    RUN_TEST(test_stale_claim);
    RUN_TEST(test_concurrent_create);
    RUN_TEST(test_concurrent_claims);
    RUN_TEST(test_summary_view);
    RUN_TEST(test_csv_quoting);
    RUN_TEST(test_export_errors);
    RUN_TEST(test_status_counts);
    RUN_TEST(test_read_only_file);
    RUN_TEST(test_status_names);
    RUN_TEST(test_unknown_kinds_refused);
    RUN_TEST(test_typed_sweeps);
    RUN_TEST(test_typed_runs);
    RUN_TEST(test_typed_epochs);
    RUN_TEST(test_reused_pid_stale);
    RUN_TEST(test_epochs_held);
    RUN_TEST(test_deleted_database_noticed);
    RUN_TEST(test_unknown_status_counted);
}
