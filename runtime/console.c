/* A VPS's console: a pty whose slave is the VPS's /dev/console (its init's
 * stdio), and whose master the console keeper holds for as long as the
 * init lives: one keeper for every VPS of this vsd (keeper.c), which
 * writes what each VPS prints to its console.log and relays one attached
 * client (vsctl console) to each. It is not vsd: the consoles keep
 * logging, and an attached admin keeps typing, while vsd is down, crashed
 * or being upgraded; a new vsd finds the keeper at run/paene/console.sock.
 * vsd starts the keeper when that socket has no listener (the first
 * console, or the keeper ended with the last one and its vsd), and holds
 * it while it lives: the next start finds it up. */
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/log.h"
#include "keeper.h"
#include "vsd.h"

#define CONSOLE_SOCK "console.sock" /* a VPS's own keeper's, before the shared one */
#define TTY_GID 5                   /* Debian's "tty" group, as devpts's gid=5 in the VPS */

static int open_log(int dirfd, const char *name, vs_error_t *err)
{
        int fd = openat(dirfd, "console.log",
                        O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
        char banner[160];
        int len;

        if (fd < 0)
                return vs_error_errno(err, "open console.log");
        len = snprintf(banner, sizeof(banner), "--- vsd: starting %s at %lld ---\n", name,
                       (long long)time(NULL));
        (void)!write(fd, banner, (size_t)len);
        return fd;
}

/* A kernel.pty.* figure, for the message ("?" when it cannot be read). */
static char *pty_sysctl(const char *name)
{
        cleanup_free char *path = vs_strdupf("/proc/sys/kernel/pty/%s", name);
        char *text = NULL;

        if (vs_read_file(AT_FDCWD, path, 64, &text, NULL, NULL) < 0)
                return vs_xstrdup("?");
        text[strcspn(text, "\n")] = '\0';
        return text;
}

/* Every running VPS holds a pty of the host's for its console: past the
 * kernel's cap the start is refused, naming it. */
static int no_pty_left(vs_error_t *err)
{
        cleanup_free char *max = pty_sysctl("max");
        cleanup_free char *nr = pty_sysctl("nr");

        return vs_error_kind(err, VS_E_STATE, ENOSPC,
                             "no pty left for the console: the host has %s in use "
                             "(kernel.pty.max = %s; each running VPS holds one)",
                             nr, max);
}

static int open_pty(uid_t owner, struct vsd_console *con, vs_error_t *err)
{
        con->master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (con->master < 0 && errno == ENOSPC)
                return no_pty_left(err);
        if (con->master < 0 || unlockpt(con->master) < 0)
                return vs_error_errno(err, "console pty");
        con->slave = ioctl(con->master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (con->slave < 0)
                return vs_error_errno(err, "console pty's slave");
        /* the VPS's root owns its console, as a login owns its tty */
        if (fchown(con->slave, owner, owner + TTY_GID) < 0 || fchmod(con->slave, 0620) < 0)
                return vs_error_errno(err, "own the console pty");
        return 0;
}

int vsd_console_open(struct vsd *d, struct vps *v, struct vsd_console *con, vs_error_t *err)
{
        cleanup_close int dirfd = openat(d->vps_fd, v->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        con->master = con->slave = con->log = -1;
        if (dirfd < 0)
                return vs_error_errno(err, "open VPS directory %s", v->name);
        if (open_pty((uid_t)v->idmap.base, con, err) < 0 ||
            (con->log = open_log(dirfd, v->name, err)) < 0) {
                vsd_console_close(con);
                return -1;
        }
        return 0;
}

void vsd_console_close(struct vsd_console *con)
{
        int *fds[] = { &con->master, &con->slave, &con->log };

        for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
                if (*fds[i] >= 0)
                        close(*fds[i]);
                *fds[i] = -1;
        }
}

/* ---- the keeper ---- */

/* In the keeper (a grandchild of vsd's): only its socket, no signal of
 * vsd's, a session of its own; then vsinit as the keeper, or, where vsd has
 * none, the keeper in this process. */
static void keeper_main(int listen_fd, int vsinit_fd, const char *root)
{
        char *argv[] = { VS_KEEPER_ARGV0, "--root", (char *)root, NULL };
        char *envp[] = { NULL };
        sigset_t none;

        setsid();
        for (int sig = 1; sig < NSIG; sig++)
                signal(sig, SIG_DFL);
        signal(SIGPIPE, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* copied above the fixed numbers first, so that no dup below
         * clobbers a source (not at 1000: vsd's soft limit of open files
         * may be lower, and the keeper would die here); dup2 clears
         * CLOEXEC (vsinit's copy keeps it) */
        if ((listen_fd = fcntl(listen_fd, F_DUPFD_CLOEXEC, VS_KEEPER_FIRST_FREE + 1)) < 0 ||
            (vsinit_fd >= 0 &&
             (vsinit_fd = fcntl(vsinit_fd, F_DUPFD_CLOEXEC, VS_KEEPER_FIRST_FREE + 1)) < 0) ||
            dup2(listen_fd, VS_KEEPER_LISTEN) < 0 ||
            (vsinit_fd >= 0 && dup3(vsinit_fd, VS_KEEPER_FIRST_FREE, O_CLOEXEC) < 0))
                _exit(1);
        syscall(SYS_close_range, (unsigned)VS_KEEPER_LISTEN + 1, VS_KEEPER_FIRST_FREE - 1, 0);
        syscall(SYS_close_range, (unsigned)VS_KEEPER_FIRST_FREE + 1, ~0U, 0);
        if (vsinit_fd >= 0)
                syscall(SYS_execveat, VS_KEEPER_FIRST_FREE, "", argv, envp, AT_EMPTY_PATH);
        close(VS_KEEPER_FIRST_FREE);
        vs_keeper_run();
}

/* "/proc/self/fd/N/console.sock" of run/paene: short whatever the root. */
static void keeper_addr(struct vsd *d, struct sockaddr_un *addr)
{
        memset(addr, 0, sizeof(*addr));
        addr->sun_family = AF_UNIX;
        snprintf(addr->sun_path, sizeof(addr->sun_path), "/proc/self/fd/%d/%s", d->run_fd,
                 VS_KEEPER_SOCK);
}

/* Binds the keeper's socket (so that vsd's request waits in its backlog
 * however late the keeper runs) and starts the keeper on it. */
static int start_keeper(struct vsd *d, vs_error_t *err)
{
        cleanup_close int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        struct sockaddr_un addr;
        pid_t middle;
        int status;

        if (fd < 0)
                return vs_error_errno(err, "console keeper's socket");
        keeper_addr(d, &addr);
        if (unlinkat(d->run_fd, VS_KEEPER_SOCK, 0) < 0 && errno != ENOENT)
                return vs_error_errno(err, "remove the old %s", VS_KEEPER_SOCK);
        if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
            fchmodat(d->run_fd, VS_KEEPER_SOCK, 0600, 0) < 0 || listen(fd, 512) < 0)
                return vs_error_errno(err, "bind %s", VS_KEEPER_SOCK);
        middle = fork();
        if (middle < 0)
                return vs_error_errno(err, "fork the console keeper");
        if (middle == 0) {
                if (vs_fd_drop_parked() < 0)
                        _exit(1);
                /* twice: the keeper is nobody's child of vsd's, and outlives it */
                if (fork() == 0)
                        keeper_main(fd, d->vsinit_fd, d->root);
                _exit(0);
        }
        if (waitpid(middle, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return vs_error_set(err, EIO, "the console keeper did not start");
        return 0;
}

/* A connection to a running keeper, or -1 (errno). */
static int keeper_dial(struct vsd *d)
{
        struct sockaddr_un addr;
        struct timeval limit = { .tv_sec = 5 };
        cleanup_close int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

        keeper_addr(d, &addr);
        if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
                return -1;
        /* the keeper answers at once: a stuck one is an error */
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
        return steal_fd(fd);
}

/* One request on a connection, its descriptors beside it: the keeper's
 * answer (an errno, 0: done), -1 with errno when none came. */
static int keeper_send(int fd, unsigned op, const char *name, const int *fds, int nfds)
{
        struct vs_keeper_msg m = { .version = VS_KEEPER_VERSION, .op = op };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int) * VS_KEEPER_ADD_FDS)];
        } ctl;
        struct iovec iov = { &m, sizeof(m) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        int32_t answer;
        ssize_t n;

        snprintf(m.name, sizeof(m.name), "%s", name);
        memset(&ctl, 0, sizeof(ctl));
        mh.msg_control = ctl.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        CMSG_FIRSTHDR(&mh)->cmsg_level = SOL_SOCKET;
        CMSG_FIRSTHDR(&mh)->cmsg_type = SCM_RIGHTS;
        CMSG_FIRSTHDR(&mh)->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), fds, sizeof(int) * (size_t)nfds);
        n = sendmsg(fd, &mh, MSG_NOSIGNAL);
        if (n == (ssize_t)sizeof(m))
                n = recv(fd, &answer, sizeof(answer), 0);
        if (n == (ssize_t)sizeof(answer))
                return answer;
        if (n >= 0)
                errno = EPIPE;
        return -1;
}

/* A keeper vsd started stays while vsd lives (VS_KEEPER_HOLD), also
 * without a console: the next start finds it up. Not vital: a keeper
 * without the hold ends with its last console, as before. */
static void hold_keeper(struct vsd *d)
{
        cleanup_close int fd = keeper_dial(d);
        cleanup_close int self = (int)syscall(SYS_pidfd_open, getpid(), 0);

        if (fd < 0 || self < 0 || keeper_send(fd, VS_KEEPER_HOLD, "", &self, 1) != 0)
                vs_log(LOG_INFO, "the console keeper ends with its last console: no hold: %m");
}

/* A connection to the keeper; one started first when there is none. */
static int keeper_connect(struct vsd *d, vs_error_t *err)
{
        for (int started = 0;; started = 1) {
                int fd = keeper_dial(d);

                if (fd >= 0) {
                        if (started)
                                hold_keeper(d);
                        return fd;
                }
                if (started || (errno != ECONNREFUSED && errno != ENOENT))
                        return vs_error_errno(err, "connect to the console keeper");
                if (start_keeper(d, err) < 0)
                        return -1;
        }
}

void vsd_console_release(struct vsd *d)
{
        cleanup_close int fd = -1;
        int pipefd[2];
        struct pollfd p;

        for (struct vps *v = d->vps_list; v; v = v->next)
                if (v->phase != PHASE_STOPPED)
                        return; /* its console holds the keeper anyway */
        fd = keeper_dial(d);
        if (fd < 0 || pipe2(pipefd, O_CLOEXEC) < 0)
                return;
        if (keeper_send(fd, VS_KEEPER_RELEASE, "", &pipefd[1], 1) != 0) {
                close(pipefd[0]);
                close(pipefd[1]);
                return;
        }
        close(pipefd[1]);
        /* the keeper's processes are gone when the pipe has no writer: a
         * vsd stopped with no VPS leaves nothing of its own behind */
        p = (struct pollfd){ pipefd[0], POLLIN, 0 };
        if (poll(&p, 1, 2000) == 0)
                vs_log(LOG_WARNING, "the console keeper did not end in 2 s");
        close(pipefd[0]);
}

/* One request with its descriptors; returns the keeper's answer (an
 * errno, 0: done). A keeper that ended as the request came (its last
 * console had) closes the connection unanswered: then once more, with a
 * new keeper. */
static int keeper_request(struct vsd *d, unsigned op, const char *name, const int *fds, int nfds,
                          vs_error_t *err)
{
        for (int attempt = 0;; attempt++) {
                cleanup_close int fd = keeper_connect(d, err);
                int answer;

                if (fd < 0)
                        return -1;
                answer = keeper_send(fd, op, name, fds, nfds);
                if (answer >= 0)
                        return answer;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                        return vs_error_set(err, ETIMEDOUT, "the console keeper did not answer");
                if (attempt > 0)
                        return vs_error_set(err, errno, "the console keeper closed the connection");
        }
}

int vsd_console_keep(struct vsd *d, struct vps *v, struct vsd_console *con, vs_error_t *err)
{
        int fds[VS_KEEPER_ADD_FDS] = { con->master, con->slave, con->log, v->pidfd };
        int rc = keeper_request(d, VS_KEEPER_ADD, v->name, fds, VS_KEEPER_ADD_FDS, err);

        if (rc > 0)
                return vs_error_set(err, rc, "the console keeper refused the console");
        return rc;
}

/* The console of a VPS that an older vsd started, with a keeper of its own. */
static int connect_own_keeper(struct vsd *d, struct vps *v, vs_error_t *err)
{
        cleanup_close int dirfd = openat(d->vps_fd, v->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un addr;

        if (dirfd < 0 || fd < 0)
                return vs_error_errno(err, "console of %s", v->name);
        memset(&addr, 0, sizeof(addr));
        addr.sun_family = AF_UNIX;
        snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d/%s", dirfd, CONSOLE_SOCK);
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
                return vs_error_kind(err, VS_E_STATE, errno,
                                     "%s has no console (it was started before vsd kept "
                                     "consoles, or its keeper is gone): %s",
                                     v->name, strerror(errno));
        return steal_fd(fd);
}

int vsd_console_connect(struct vsd *d, struct vps *v, vs_error_t *err)
{
        int pair[2];
        int rc;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
                return vs_error_errno(err, "console of %s", v->name);
        rc = keeper_request(d, VS_KEEPER_ATTACH, v->name, &pair[1], 1, err);
        close(pair[1]);
        if (rc == 0)
                return pair[0];
        close(pair[0]);
        if (rc == ENOENT)
                return connect_own_keeper(d, v, err);
        if (rc > 0)
                vs_error_set(err, rc, "the console keeper refused the attach");
        return -1;
}
