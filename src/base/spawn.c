/* spawn.c: see spawn.h. The child's stdin is one end of a socket pair, so
 * writing to a child that exits early gives EPIPE (MSG_NOSIGNAL), not a
 * SIGPIPE that would kill us; stdin and stdout are served together by
 * poll, so a child that writes before reading all its input never
 * deadlocks with us. */
#include "base/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

typedef struct {
    int in_fd, out_fd;     /* our ends; -1 when closed */
    const char *in;
    size_t in_len, in_done;
    char *out;
    size_t out_size, out_len;
} pump;

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Feeds stdin and drains stdout until both are done. */
static void pump_run(pump *p)
{
    while (p->in_fd >= 0 || p->out_fd >= 0) {
        struct pollfd fds[2] = {{.fd = p->in_fd, .events = POLLOUT},
                                {.fd = p->out_fd, .events = POLLIN}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p->in_fd >= 0 && fds[0].revents) {
            size_t left = p->in_len - p->in_done, chunk = left < 65536 ? left : 65536;
            ssize_t n = chunk ? send(p->in_fd, p->in + p->in_done, chunk,
                                     MSG_NOSIGNAL | MSG_DONTWAIT)
                              : 0;
            if (n > 0)
                p->in_done += (size_t)n;
            if (p->in_done == p->in_len || (n < 0 && errno != EINTR && errno != EAGAIN))
                close_fd(&p->in_fd);   /* all given, or the child stopped reading */
        }
        if (p->out_fd >= 0 && fds[1].revents) {
            char buf[4096];
            ssize_t n = read(p->out_fd, buf, sizeof buf);
            for (ssize_t i = 0; i < n; i++)
                if (p->out_len + 1 < p->out_size)
                    p->out[p->out_len++] = buf[i];
            if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
                close_fd(&p->out_fd);
        }
    }
    close_fd(&p->in_fd);
    close_fd(&p->out_fd);
    if (p->out && p->out_size)
        p->out[p->out_len] = '\0';
}

/* The file actions that give the child its stdin, stdout and stderr;
 * child_in/child_out are the child's ends of the pipes (or -1). */
static void child_fds(posix_spawn_file_actions_t *fa, const sw_spawn_io *io, int child_in,
                      int child_out)
{
    if (child_in >= 0)
        posix_spawn_file_actions_adddup2(fa, child_in, STDIN_FILENO);
    else if (io)
        posix_spawn_file_actions_addopen(fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    if (child_out >= 0)
        posix_spawn_file_actions_adddup2(fa, child_out, STDOUT_FILENO);
    else if (io && io->quiet_out)
        posix_spawn_file_actions_addopen(fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    if (io && io->err_file)
        posix_spawn_file_actions_addopen(fa, STDERR_FILENO, io->err_file,
                                         O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
}

int sw_spawn(char *const argv[], const sw_spawn_io *io, int *status, sw_error *err)
{
    const char *name = argv[0];
    int in_pair[2] = {-1, -1}, out_pipe[2] = {-1, -1}, st = 127;
    pump p = {.in_fd = -1, .out_fd = -1};
    if (status)
        *status = st;
    if (io && io->in) {
        p.in = io->in;
        p.in_len = io->in_len ? io->in_len : strlen(io->in);
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) != 0)
            return sw_err(err, SW_EINPUT, "%s: cannot run: %s", name, strerror(errno));
    }
    if (io && io->out && pipe2(out_pipe, O_CLOEXEC) != 0) {
        int e = errno;
        close_fd(&in_pair[0]);
        close_fd(&in_pair[1]);
        return sw_err(err, SW_EINPUT, "%s: cannot run: %s", name, strerror(e));
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    child_fds(&fa, io, in_pair[1], out_pipe[1]);
    pid_t pid;
    int sp = posix_spawnp(&pid, name, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close_fd(&in_pair[1]);
    close_fd(&out_pipe[1]);
    p.in_fd = in_pair[0];
    p.out_fd = out_pipe[0];
    if (io && io->out) {
        p.out = io->out;
        p.out_size = io->out_size;
    }
    if (sp != 0) {
        close_fd(&p.in_fd);
        close_fd(&p.out_fd);
        if (p.out && p.out_size)
            p.out[0] = '\0';
        if (sp == ENOENT)
            return sw_err(err, SW_EINPUT, "%s: not found", name);
        if (status)
            *status = 126;
        return sw_err(err, SW_EINPUT, "%s: cannot run: %s", name, strerror(sp));
    }
    pump_run(&p);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0) {
        if (errno != EINTR)
            return sw_err(err, SW_EINPUT, "%s: cannot wait for it: %s", name, strerror(errno));
    }
    st = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    if (status)
        *status = st;
    if (WIFSIGNALED(ws))
        return sw_err(err, SW_EINPUT, "%s: killed by signal %d", name, WTERMSIG(ws));
    if (st != 0)
        return sw_err(err, SW_EINPUT, "%s: exit %d", name, st);
    return SW_OK;
}
