/* open.c: opening a database, refusing what is not ours before SQLite
 * writes a byte to it, and closing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_internal.h"

#include "base/fsutil.h"

/* The database's folder and its parents, made when missing; errors name
 * the database. */
static int make_folder(const char *path, sw_error *err)
{
    sw_error e = {0};
    if (sw_mkdir_parent(path, &e) == SW_OK)
        return SW_OK;
    if (e.code == SW_ERUN)   /* out of memory: the message names path */
        return sw_err(err, e.code, "%s", e.msg);
    return sw_err(err, e.code, "%s: %s", path, e.msg);
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

static void close_db(store *s)
{
    for (int i = 0; i < Q_COUNT; i++) {
        sqlite3_finalize(s->st[i]);
        s->st[i] = NULL;
    }
    if (s->db) {
        db_tx_rollback(s);
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
    int flags = s->read_only ? SQLITE_OPEN_READONLY
                             : SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    char *name = s->path;
    if (immutable) {
        /* file: URI with the path percent-encoded */
        size_t len = strlen(s->path);
        name = malloc(3 * len + 32);
        if (!name)
            return sw_oom(err, s->path);
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
            return sw_oom(err, s->path);
        return db_fail(s, what, err);
    }
    if (sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS) != SQLITE_OK)
        return db_fail(s, "setting the busy timeout", err);
    return SW_OK;
}

/* What is at path before SQLite opens it: *exists, or an error for a
 * folder, a device, a file that is not SQLite, or a missing file when
 * create is off. The database's folder is made when it is missing. */
static int check_file(const char *path, int create, int *exists, sw_error *err)
{
    struct stat stt;
    *exists = stat(path, &stt) == 0;
    if (!*exists && errno != ENOENT)
        return sw_err(err, SW_EINPUT, "%s: %s", path, strerror(errno));
    if (!*exists && !create)
        return sw_err(err, SW_EINPUT, "%s: no such database", path);
    if (*exists && S_ISDIR(stt.st_mode))
        return sw_err(err, SW_EINPUT, "%s: is a folder, not a database", path);
    if (*exists && !S_ISREG(stt.st_mode))
        return sw_err(err, SW_EINPUT, "%s: not a regular file", path);
    if (*exists && stt.st_size > 0 && !looks_like_sqlite(path, stt.st_size))
        return sw_err(err, SW_EINPUT,
                      "%s: not a sweep database (file is not a database)", path);
    if (!*exists && make_folder(path, err))
        return err->code;
    return SW_OK;
}

static int open_impl(store *s, const char *path, int create, sw_error *err)
{
    int exists;
    if (check_file(path, create, &exists, err))
        return err->code;
    if (open_db(s, create, 0, exists ? "opening" : "creating", err))
        return err->code;

    /* Read before anything is written: a database that is not ours is
     * refused as it was found. */
    schema_state ss;
    int notadb, empty;
    sw_error first = {0};
    if (db_read_schema(s, &ss, &notadb, &first)) {
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
        if (db_read_schema(s, &ss, &notadb, &first))
            return sw_err(err, first.code, "%s", first.msg);
    }
    if (db_check_schema(s, &ss, &empty, err))
        return err->code;
    if (empty && !create)
        return sw_err(err, SW_EINPUT, "%s: not a sweep database (it is empty)",
                      path);

    int readonly = sqlite3_db_readonly(s->db, "main") == 1;
    if (!readonly) {
        /* WAL lets readers (the sqlite3 shell, status) work during a run. */
        if (db_exec_retry(s, "PRAGMA journal_mode = WAL", "setting WAL mode", err) ||
            db_exec_retry(s, "PRAGMA synchronous = NORMAL", "setting synchronous", err))
            return err->code;
    }
    if (db_exec_retry(s, "PRAGMA foreign_keys = ON", "enabling foreign keys", err))
        return err->code;
    if (empty && readonly)
        return sw_err(err, SW_EINPUT,
                      "%s: cannot create the schema: the file is read-only", path);
    int upgrade = !empty && ss.version < STORE_SCHEMA_VERSION && !s->read_only;
    if (upgrade && readonly)
        return sw_err(err, SW_EINPUT,
                      "%s: database schema version %d must be upgraded to %d, but the "
                      "file is read-only", path, ss.version, STORE_SCHEMA_VERSION);
    /* A dropped summary view or layer_stats table is put back when we may
     * write. */
    if (!s->read_only && (empty || upgrade || ((!ss.view || !ss.layers) && !readonly)) &&
        db_create_schema(s, err))
        return err->code;
    return SW_OK;
}

static int open_store(store **out, const char *path, int create, int read_only,
                      sw_error *err)
{
    *out = NULL;
    if (!path || !*path)
        return sw_err(err, SW_EINPUT, "database path is empty");
    store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return sw_oom(err, path);
    }
    s->read_only = read_only;
    pthread_mutex_init(&s->lock, NULL);
    if (gethostname(s->host, sizeof s->host - 1) != 0)
        strcpy(s->host, "localhost");
    s->host[sizeof s->host - 1] = '\0';
    if (open_impl(s, path, create, err) != SW_OK) {
        store_close(s);
        return err->code;
    }
    struct stat st;   /* the file now open: commits check it is still there */
    if (stat(path, &st) == 0) {
        s->dev = st.st_dev;
        s->ino = st.st_ino;
        s->watch = 1;
    }
    *out = s;
    return SW_OK;
}

int store_open(store **out, const char *path, int create, sw_error *err)
{
    return open_store(out, path, create, 0, err);
}

int store_open_read(store **out, const char *path, sw_error *err)
{
    return open_store(out, path, 0, 1, err);
}

void store_set_stop(store *s, volatile sig_atomic_t *stop)
{
    if (s)
        s->stop = stop;
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
