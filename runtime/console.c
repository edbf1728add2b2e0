/* A VPS's console: a pty whose slave is the VPS's /dev/console (its init's
 * stdio), and whose master a small keeper process holds for as long as the
 * init lives. The keeper writes what the VPS prints to console.log and
 * relays one attached client (vsctl console) to it. It is not vsd: the
 * console keeps logging, and an attached admin keeps typing, while vsd is
 * down, crashed or being upgraded; a new vsd finds the keeper's socket,
 * console.sock in the VPS's directory. */
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
#include "keeper.h"
#include "vsd.h"

#define CONSOLE_SOCK "console.sock"
#define TTY_GID 5 /* Debian's "tty" group, as devpts's gid=5 in the VPS */

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

/* "/proc/self/fd/N/console.sock": short whatever the VPS's path. */
static int sock_addr(int dirfd, struct sockaddr_un *addr)
{
        memset(addr, 0, sizeof(*addr));
        addr->sun_family = AF_UNIX;
        snprintf(addr->sun_path, sizeof(addr->sun_path), "/proc/self/fd/%d/%s", dirfd,
                 CONSOLE_SOCK);
        return 0;
}

static int listen_at(int dirfd, vs_error_t *err)
{
        cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un addr;

        if (fd < 0)
                return vs_error_errno(err, "console socket");
        sock_addr(dirfd, &addr);
        if (unlinkat(dirfd, CONSOLE_SOCK, 0) < 0 && errno != ENOENT)
                return vs_error_errno(err, "remove the old %s", CONSOLE_SOCK);
        if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 4) < 0)
                return vs_error_errno(err, "bind %s", CONSOLE_SOCK);
        return steal_fd(fd);
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

        con->master = con->slave = con->log = con->listen = -1;
        if (dirfd < 0)
                return vs_error_errno(err, "open VPS directory %s", v->name);
        if (open_pty((uid_t)v->idmap.base, con, err) < 0 ||
            (con->log = open_log(dirfd, v->name, err)) < 0 ||
            (con->listen = listen_at(dirfd, err)) < 0) {
                vsd_console_close(con);
                return -1;
        }
        return 0;
}

void vsd_console_close(struct vsd_console *con)
{
        int *fds[] = { &con->master, &con->slave, &con->log, &con->listen };

        for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
                if (*fds[i] >= 0)
                        close(*fds[i]);
                *fds[i] = -1;
        }
}

/* ---- the keeper ---- */

/* In the keeper (a grandchild of vsd's): only its own fds, no signal of
 * vsd's, a session of its own; then vsinit as the keeper, or, where vsd has
 * none, the loop in this process. */
static void keeper_main(const struct vsd_console *con, int pidfd, int vsinit_fd, const char *root,
                        const char *name)
{
        int from[] = { con->master, con->slave, con->log, pidfd, con->listen, vsinit_fd };
        char *argv[] = { VS_KEEPER_ARGV0, "--root", (char *)root, (char *)name, NULL };
        char *envp[] = { NULL };
        sigset_t none;
        int nfds = vsinit_fd >= 0 ? 6 : 5;

        setsid();
        for (int sig = 1; sig < NSIG; sig++)
                signal(sig, SIG_DFL);
        signal(SIGPIPE, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* copied out of the way first, so that no dup2 below clobbers a
         * source; dup2 clears CLOEXEC (vsinit's copy keeps it) */
        for (int i = 0; i < nfds; i++)
                if ((from[i] = fcntl(from[i], F_DUPFD_CLOEXEC, 1000)) < 0)
                        _exit(1);
        for (int i = 0; i < 5; i++)
                if (dup2(from[i], VS_KEEPER_MASTER + i) < 0)
                        _exit(1);
        if (vsinit_fd >= 0 && dup3(from[5], VS_KEEPER_FIRST_FREE, O_CLOEXEC) < 0)
                _exit(1);
        syscall(SYS_close_range, (unsigned)VS_KEEPER_FIRST_FREE + (vsinit_fd >= 0), ~0U, 0);
        if (vsinit_fd >= 0)
                syscall(SYS_execveat, VS_KEEPER_FIRST_FREE, "", argv, envp, AT_EMPTY_PATH);
        close(VS_KEEPER_FIRST_FREE);
        vs_keeper_run();
}

int vsd_console_keep(struct vsd *d, struct vps *v, struct vsd_console *con, vs_error_t *err)
{
        pid_t middle = fork();
        int status;

        if (middle < 0)
                return vs_error_errno(err, "fork the console keeper");
        if (middle == 0) {
                /* the init's pidfd below the parked ones, which the keeper
                 * then does not copy */
                int pidfd = fcntl(v->pidfd, F_DUPFD_CLOEXEC, 3);

                if (pidfd < 0 || vs_fd_drop_parked() < 0)
                        _exit(1);
                /* twice: the keeper is nobody's child of vsd's, and outlives it */
                if (fork() == 0)
                        keeper_main(con, pidfd, d->vsinit_fd, d->root, v->name);
                _exit(0);
        }
        if (waitpid(middle, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return vs_error_set(err, EIO, "the console keeper did not start");
        return 0;
}

int vsd_console_connect(struct vsd *d, struct vps *v, vs_error_t *err)
{
        cleanup_close int dirfd = openat(d->vps_fd, v->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un addr;

        if (dirfd < 0 || fd < 0)
                return vs_error_errno(err, "console of %s", v->name);
        sock_addr(dirfd, &addr);
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
                return vs_error_kind(err, VS_E_STATE, errno,
                                     "%s has no console (it was started before vsd kept "
                                     "consoles, or its keeper is gone): %s",
                                     v->name, strerror(errno));
        return steal_fd(fd);
}
