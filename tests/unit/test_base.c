/* Tests of src/base: clock, folders, output files, child programs, CSV. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/csv.h"
#include "base/error.h"
#include "base/fsutil.h"
#include "base/spawn.h"
#include "test.h"

void suite_base(void);

/* A fresh folder for one test, under the run's temp folder. */
static void fresh_dir(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/base-%s", test_tmpdir(), name);
    mkdir(buf, 0700);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static int read_text(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
    return (int)n;
}

/* Entries in dir other than . and .. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d)
        closedir(d);
    return n;
}

static void test_base_clock_is_monotonic(void)
{
    double a = sw_now_seconds();
    usleep(20000);
    double b = sw_now_seconds();
    CHECK(b - a >= 0.015);
    CHECK(b - a < 5);
}

static void test_base_oom_is_a_run_error(void)
{
    sw_error err = {0};
    CHECK_INT(sw_oom(&err, "loading the dataset"), SW_ERUN);
    CHECK_INT(err.code, SW_ERUN);
    CHECK_STR(err.msg, "loading the dataset: out of memory");
    /* the first error stays */
    CHECK_INT(sw_oom(&err, "later"), SW_ERUN);
    CHECK_STR(err.msg, "loading the dataset: out of memory");
}

static void test_base_mkdir_p(void)
{
    char dir[512], path[600];
    sw_error err = {0};
    fresh_dir(dir, sizeof dir, "mkdir");
    snprintf(path, sizeof path, "%s/a/b//c/", dir);
    CHECK_INT(sw_mkdir_p(path, &err), SW_OK);
    struct stat st;
    snprintf(path, sizeof path, "%s/a/b/c", dir);
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK_INT(sw_mkdir_p(path, &err), SW_OK);   /* existing is fine */
    snprintf(path, sizeof path, "%s/a/b/c/d/e.db", dir);
    CHECK_INT(sw_mkdir_parent(path, &err), SW_OK);
    snprintf(path, sizeof path, "%s/a/b/c/d", dir);
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK_INT(sw_mkdir_parent("plain.db", &err), SW_OK);

    /* a file in the way is an error naming it */
    snprintf(path, sizeof path, "%s/file", dir);
    write_text(path, "x");
    snprintf(path, sizeof path, "%s/file/sub", dir);
    CHECK_INT(sw_mkdir_p(path, &err), SW_EINPUT);
    CHECK(strstr(err.msg, "/file") != NULL);
    CHECK(strstr(err.msg, strerror(ENOTDIR)) != NULL);
}

static void test_base_out_writes_and_replaces(void)
{
    char dir[512], path[600], buf[64];
    sw_error err = {0};
    sw_outfile o;
    fresh_dir(dir, sizeof dir, "out");
    snprintf(path, sizeof path, "%s/x.csv", dir);
    write_text(path, "old");
    chmod(path, 0600);
    CHECK_INT(sw_out_open(&o, path, 0666, 0, &err), SW_OK);
    CHECK(o.tmp != NULL);
    fputs("new", o.f);
    /* the target is untouched until commit */
    CHECK_INT(read_text(path, buf, sizeof buf), 3);
    CHECK_STR(buf, "old");
    CHECK_INT(count_entries(dir), 2);
    CHECK_INT(sw_out_commit(&o, &err), SW_OK);
    CHECK_INT(read_text(path, buf, sizeof buf), 3);
    CHECK_STR(buf, "new");
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600);
    CHECK_INT(count_entries(dir), 1);

    /* root keeps another user's file theirs */
    if (geteuid() == 0 && chown(path, 4321, 4321) == 0) {
        CHECK_INT(sw_out_open(&o, path, 0666, 0, &err), SW_OK);
        CHECK_INT(sw_out_commit(&o, &err), SW_OK);
        CHECK(stat(path, &st) == 0 && st.st_uid == 4321 && st.st_gid == 4321);
        CHECK((st.st_mode & 07777) == 0600);
    }

    /* a new file gets new_mode less the umask */
    mode_t old = umask(022);
    snprintf(path, sizeof path, "%s/script.sh", dir);
    CHECK_INT(sw_out_open(&o, path, 0777, 0, &err), SW_OK);
    CHECK_INT(sw_out_commit(&o, &err), SW_OK);
    umask(old);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0755);
    CHECK_INT(err.code, SW_OK);
}

static void test_base_out_abort_leaves_nothing(void)
{
    char dir[512], path[600], buf[64];
    sw_error err = {0};
    sw_outfile o;
    fresh_dir(dir, sizeof dir, "abort");
    snprintf(path, sizeof path, "%s/keep.txt", dir);
    write_text(path, "kept");
    CHECK_INT(sw_out_open(&o, path, 0666, 0, &err), SW_OK);
    fputs("half", o.f);
    CHECK_INT(count_entries(dir), 2);
    sw_out_abort(&o);
    sw_out_abort(&o);   /* twice is harmless */
    CHECK_INT(count_entries(dir), 1);
    CHECK_INT(read_text(path, buf, sizeof buf), 4);
    CHECK_STR(buf, "kept");
    CHECK(o.f == NULL && o.tmp == NULL && o.path == NULL);
}

static void test_base_out_through_symlink(void)
{
    char dir[512], sub[600], target[700], link[700], buf[64];
    sw_error err = {0};
    sw_outfile o;
    fresh_dir(dir, sizeof dir, "link");
    snprintf(sub, sizeof sub, "%s/real", dir);
    mkdir(sub, 0700);
    snprintf(target, sizeof target, "%s/real/data.csv", dir);
    snprintf(link, sizeof link, "%s/link.csv", dir);
    write_text(target, "old");
    chmod(target, 0640);
    CHECK(symlink("real/data.csv", link) == 0);
    CHECK_INT(sw_out_open(&o, link, 0666, 0, &err), SW_OK);
    fputs("through", o.f);
    /* the temp sits beside the target, not beside the link */
    CHECK_INT(count_entries(sub), 2);
    CHECK_INT(sw_out_commit(&o, &err), SW_OK);
    struct stat st;
    CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(lstat(target, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0640);
    CHECK_INT(read_text(target, buf, sizeof buf), 7);
    CHECK_STR(buf, "through");
    CHECK_INT(count_entries(sub), 1);

    /* a dangling link: its target is created */
    snprintf(link, sizeof link, "%s/dangling.csv", dir);
    CHECK(symlink("real/new.csv", link) == 0);
    CHECK_INT(sw_out_open(&o, link, 0666, 0, &err), SW_OK);
    fputs("made", o.f);
    CHECK_INT(sw_out_commit(&o, &err), SW_OK);
    snprintf(target, sizeof target, "%s/real/new.csv", dir);
    CHECK_INT(read_text(target, buf, sizeof buf), 4);
    CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));

    /* SW_OUT_REPLACE replaces the link itself */
    CHECK_INT(sw_out_open(&o, link, 0666, SW_OUT_REPLACE, &err), SW_OK);
    fputs("own", o.f);
    CHECK_INT(sw_out_commit(&o, &err), SW_OK);
    CHECK(lstat(link, &st) == 0 && S_ISREG(st.st_mode));
    CHECK_INT(read_text(target, buf, sizeof buf), 4);
    CHECK_STR(buf, "made");
}

static void test_base_out_fifo_written_directly(void)
{
    char dir[512], fifo[600], buf[64];
    sw_error err = {0};
    sw_outfile o;
    fresh_dir(dir, sizeof dir, "fifo");
    snprintf(fifo, sizeof fifo, "%s/pipe", dir);
    CHECK(mkfifo(fifo, 0600) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        /* the reader: copies what arrives into a file */
        char got[64] = "";
        char path[700];
        int fd = open(fifo, O_RDONLY);
        ssize_t n = fd >= 0 ? read(fd, got, sizeof got - 1) : -1;
        snprintf(path, sizeof path, "%s/got", dir);
        FILE *f = fopen(path, "w");
        if (f && n > 0)
            fwrite(got, 1, (size_t)n, f);
        if (f)
            fclose(f);
        _exit(0);
    }
    CHECK_INT(sw_out_open(&o, fifo, 0666, 0, &err), SW_OK);
    CHECK(o.tmp == NULL);
    if (o.f)
        fputs("piped", o.f);
    CHECK_INT(sw_out_commit(&o, &err), SW_OK);
    waitpid(pid, NULL, 0);
    struct stat st;
    CHECK(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode));
    char got[700];
    snprintf(got, sizeof got, "%s/got", dir);
    CHECK_INT(read_text(got, buf, sizeof buf), 5);
    CHECK_STR(buf, "piped");
    CHECK_INT(count_entries(dir), 2);

    /* /dev/fd/N (as /dev/stdout) is written where it leads, here a pipe;
     * not /dev/null or /dev/stdout: a broken build run by root would
     * replace them */
    int fds[2];
    CHECK(pipe(fds) == 0);
    char devfd[64];
    snprintf(devfd, sizeof devfd, "/dev/fd/%d", fds[1]);
    CHECK_INT(sw_out_open(&o, devfd, 0666, 0, &err), SW_OK);
    CHECK(o.tmp == NULL);
    if (o.f)
        fputs("fd", o.f);
    CHECK_INT(sw_out_commit(&o, &err), SW_OK);
    close(fds[1]);
    memset(buf, 0, sizeof buf);
    CHECK_INT(read(fds[0], buf, sizeof buf - 1), 2);
    CHECK_STR(buf, "fd");
    close(fds[0]);
}

static void test_base_out_errors_say_why(void)
{
    char dir[512], path[700];
    sw_error err = {0};
    sw_outfile o;
    fresh_dir(dir, sizeof dir, "errors");
    snprintf(path, sizeof path, "%s/missing/x.csv", dir);
    CHECK_INT(sw_out_open(&o, path, 0666, 0, &err), SW_EINPUT);
    CHECK(o.f == NULL);
    CHECK(strstr(err.msg, path) != NULL);
    CHECK(strstr(err.msg, strerror(ENOENT)) != NULL);

    sw_error e2 = {0};
    CHECK_INT(sw_out_open(&o, dir, 0666, 0, &e2), SW_EINPUT);   /* a folder */
    CHECK(strstr(e2.msg, strerror(EISDIR)) != NULL);

    sw_error e3 = {0};
    CHECK_INT(sw_out_open(&o, path, 0666, SW_OUT_RUN, &e3), SW_ERUN);
    CHECK_INT(count_entries(dir), 0);

    /* a folder we may not write: refused with the reason (root may write) */
    if (geteuid() != 0) {
        sw_error e4 = {0};
        snprintf(path, sizeof path, "%s/ro", dir);
        mkdir(path, 0500);
        snprintf(path, sizeof path, "%s/ro/x.csv", dir);
        CHECK_INT(sw_out_open(&o, path, 0666, 0, &e4), SW_EINPUT);
        CHECK(strstr(e4.msg, strerror(EACCES)) != NULL);
    }
}

static void test_base_remove_temps_matches_exactly(void)
{
    char dir[512], path[700];
    fresh_dir(dir, sizeof dir, "temps");
    static const char *const names[] = {
        "r[1].db.tmp.AbC123",  /* ours: goes */
        "r[1].db.tmp.4242",    /* an old pid temp: goes */
        "r1.db.tmp.AbC123",    /* glob's r[1] would match it: stays */
        "r[1].db",             /* the target: stays */
        "r[1].db.tmp.ab",      /* not a temp name: stays */
        "r[1].db.tmp.AbC123x", /* stays */
    };
    for (int i = 0; i < 6; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        write_text(path, "x");
    }
    snprintf(path, sizeof path, "%s/r[1].db", dir);
    CHECK_INT(sw_out_remove_temps(path), 2);
    CHECK_INT(count_entries(dir), 4);
    snprintf(path, sizeof path, "%s/r1.db.tmp.AbC123", dir);
    CHECK(access(path, F_OK) == 0);

    /* a temp left by sw_out_open is found */
    sw_outfile o;
    sw_error err = {0};
    snprintf(path, sizeof path, "%s/out.csv", dir);
    CHECK_INT(sw_out_open(&o, path, 0666, 0, &err), SW_OK);
    char *left = o.tmp;
    o.tmp = NULL;      /* as if killed: the temp stays */
    sw_out_abort(&o);
    CHECK(access(left, F_OK) == 0);
    CHECK_INT(sw_out_remove_temps(path), 1);
    CHECK(access(left, F_OK) != 0);
    free(left);
}

static void test_base_same_file(void)
{
    char dir[512], a[600], b[600], link[600];
    fresh_dir(dir, sizeof dir, "same");
    snprintf(a, sizeof a, "%s/a.db", dir);
    snprintf(b, sizeof b, "%s/b.db", dir);
    snprintf(link, sizeof link, "%s/l.db", dir);
    write_text(a, "a");
    write_text(b, "b");
    CHECK(symlink("a.db", link) == 0);
    CHECK_INT(sw_same_file(a, a), 1);
    CHECK_INT(sw_same_file(a, link), 1);
    CHECK_INT(sw_same_file(a, b), 0);
    snprintf(b, sizeof b, "%s/./a.db", dir);
    CHECK_INT(sw_same_file(b, a), 1);
    snprintf(b, sizeof b, "%s/none.db", dir);
    CHECK_INT(sw_same_file(b, b), 0);
}

static void test_base_csv_quoting(void)
{
    char buf[256];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    sw_csv_str(f, "plain");
    fputc('|', f);
    sw_csv_str(f, "a,b");
    fputc('|', f);
    sw_csv_str(f, "say \"hi\"");
    fputc('|', f);
    sw_csv_str(f, "two\nlines");
    fputc('|', f);
    sw_csv_str(f, "cr\r");
    fputc('|', f);
    sw_csv_str(f, "");
    fputc('|', f);
    sw_csv_str(f, NULL);
    fputc('|', f);
    sw_csv_field(f, "x,yz", 2);   /* a length, not a terminator */
    fclose(f);
    CHECK_STR(buf, "plain|\"a,b\"|\"say \"\"hi\"\"\"|\"two\nlines\"|\"cr\r\"|||\"x,\"");
}

static void test_base_spawn_status(void)
{
    sw_error err = {0};
    int st = -1;
    char *t[] = {"true", NULL};
    CHECK_INT(sw_spawn(t, NULL, &st, &err), SW_OK);
    CHECK_INT(st, 0);

    char *f[] = {"false", NULL};
    CHECK_INT(sw_spawn(f, NULL, &st, &err), SW_EINPUT);
    CHECK_INT(st, 1);
    CHECK_STR(err.msg, "false: exit 1");

    sw_error e2 = {0};
    char *m[] = {"sweep-no-such-program", NULL};
    CHECK_INT(sw_spawn(m, NULL, &st, &e2), SW_EINPUT);
    CHECK_INT(st, 127);
    CHECK_STR(e2.msg, "sweep-no-such-program: not found");

    sw_error e3 = {0};
    char *k[] = {"sh", "-c", "kill -9 $$", NULL};
    CHECK_INT(sw_spawn(k, NULL, &st, &e3), SW_EINPUT);
    CHECK_INT(st, 128 + 9);
    CHECK_STR(e3.msg, "sh: killed by signal 9");
}

static void test_base_spawn_pipes(void)
{
    sw_error err = {0};
    char out[64];
    char *cat[] = {"cat", NULL};
    sw_spawn_io io = {.in = "hello\nworld\n", .out = out, .out_size = sizeof out};
    CHECK_INT(sw_spawn(cat, &io, NULL, &err), SW_OK);
    CHECK_STR(out, "hello\nworld\n");

    /* more than a pipe holds, both ways at once: no deadlock; the capture
     * is cut to its size */
    size_t n = 1 << 20;
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';
    char small[8];
    sw_spawn_io io2 = {.in = big, .in_len = n, .out = small, .out_size = sizeof small};
    CHECK_INT(sw_spawn(cat, &io2, NULL, &err), SW_OK);
    CHECK_STR(small, "xxxxxxx");

    /* a child that reads nothing: we are not killed by SIGPIPE */
    char *t[] = {"true", NULL};
    sw_spawn_io io3 = {.in = big, .in_len = n};
    CHECK_INT(sw_spawn(t, &io3, NULL, &err), SW_OK);
    free(big);

    /* stderr to a file */
    char errfile[600];
    snprintf(errfile, sizeof errfile, "%s/base-spawn.err", test_tmpdir());
    char *sh[] = {"sh", "-c", "echo oops >&2; exit 3", NULL};
    sw_spawn_io io4 = {.err_file = errfile, .quiet_out = 1};
    sw_error e2 = {0};
    int st = 0;
    CHECK_INT(sw_spawn(sh, &io4, &st, &e2), SW_EINPUT);
    CHECK_INT(st, 3);
    CHECK_STR(e2.msg, "sh: exit 3");
    CHECK_INT(read_text(errfile, out, sizeof out), 5);
    CHECK_STR(out, "oops\n");
    CHECK_INT(err.code, SW_OK);
}

/* A child that writes the output itself (as gnuplot does) into o.tmp. */
static void test_base_out_written_by_a_child(void)
{
    char dir[512], path[600], buf[64];
    sw_error err = {0};
    sw_outfile o;
    fresh_dir(dir, sizeof dir, "child");
    snprintf(path, sizeof path, "%s/fig.svg", dir);
    write_text(path, "old");
    CHECK_INT(sw_out_open(&o, path, 0666, 0, &err), SW_OK);
    char *argv[] = {"sh", "-c", "printf drawn > \"$1\"", "sh", o.tmp ? o.tmp : o.path, NULL};
    CHECK_INT(sw_spawn(argv, NULL, NULL, &err), SW_OK);
    CHECK_INT(read_text(path, buf, sizeof buf), 3);   /* not yet */
    CHECK_INT(sw_out_commit(&o, &err), SW_OK);
    CHECK_INT(read_text(path, buf, sizeof buf), 5);
    CHECK_STR(buf, "drawn");
    CHECK_INT(count_entries(dir), 1);
}

void suite_base(void)
{
    RUN_TEST(test_base_clock_is_monotonic);
    RUN_TEST(test_base_oom_is_a_run_error);
    RUN_TEST(test_base_mkdir_p);
    RUN_TEST(test_base_out_writes_and_replaces);
    RUN_TEST(test_base_out_abort_leaves_nothing);
    RUN_TEST(test_base_out_through_symlink);
    RUN_TEST(test_base_out_fifo_written_directly);
    RUN_TEST(test_base_out_errors_say_why);
    RUN_TEST(test_base_remove_temps_matches_exactly);
    RUN_TEST(test_base_same_file);
    RUN_TEST(test_base_csv_quoting);
    RUN_TEST(test_base_spawn_status);
    RUN_TEST(test_base_spawn_pipes);
    RUN_TEST(test_base_out_written_by_a_child);
}
