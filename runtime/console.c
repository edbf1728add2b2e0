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
#include "vsd.h"

#define CONSOLE_SOCK "console.sock"
#define TTY_GID 5 /* Debian's "tty" group, as devpts's gid=5 in the VPS */

/* the keeper's fds, at fixed numbers once it runs */
enum { K_MASTER = 3, K_SLAVE, K_LOG, K_PIDFD, K_LISTEN, K_FIRST_FREE };

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

static int open_pty(uid_t owner, struct vsd_console *con, vs_error_t *err)
{
        con->master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
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

struct keeper {
        int client; /* the attached vsctl console, or -1 */
};

/* console.log gets the text without the terminal's carriage returns. */
static void log_output(const char *buf, size_t len)
{
        char clean[8192];
        size_t n = 0;

        for (size_t i = 0; i < len; i++) {
                if (buf[i] != '\r')
                        clean[n++] = buf[i];
                if (n == sizeof(clean)) {
                        (void)!write(K_LOG, clean, n);
                        n = 0;
                }
        }
        if (n)
                (void)!write(K_LOG, clean, n);
}

static void drop_client(struct keeper *k)
{
        if (k->client >= 0)
                close(k->client);
        k->client = -1;
}

/* Returns 0 when the master has nothing more now. */
static int from_vps(struct keeper *k)
{
        char buf[8192];
        ssize_t n = read(K_MASTER, buf, sizeof(buf));

        if (n <= 0)
                return 0;
        log_output(buf, (size_t)n);
        /* a client too slow to read loses output, never the VPS its console */
        if (k->client >= 0 && send(k->client, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
            errno != EAGAIN)
                drop_client(k);
        return 1;
}

static void from_client(struct keeper *k)
{
        char buf[4096];
        ssize_t n = read(k->client, buf, sizeof(buf));

        if (n <= 0) {
                drop_client(k);
                return;
        }
        /* what the VPS does not read in time is dropped, as a serial line does */
        (void)!write(K_MASTER, buf, (size_t)n);
}

static void accept_client(struct keeper *k)
{
        static const char busy[] = "console is in use by another session\r\n";
        int fd = accept4(K_LISTEN, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

        if (fd < 0)
                return;
        if (k->client >= 0) {
                (void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL);
                close(fd);
                return;
        }
        k->client = fd;
}

static void keeper_loop(void)
{
        struct keeper k = { .client = -1 };

        for (;;) {
                struct pollfd p[4] = {
                        { K_MASTER, POLLIN, 0 },
                        { K_PIDFD, POLLIN, 0 },
                        { K_LISTEN, POLLIN, 0 },
                        { k.client, POLLIN, 0 },
                };

                if (poll(p, 4, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        _exit(1);
                }
                if (p[0].revents & POLLIN)
                        from_vps(&k);
                if (p[2].revents)
                        accept_client(&k);
                if (p[3].revents)
                        from_client(&k);
                if (p[1].revents) {
                        /* the init ended: what it printed last is in the pty */
                        while (from_vps(&k))
                                ;
                        _exit(0);
                }
        }
}

/* In the keeper (a grandchild of vsd's): only its own fds, no signal of
 * vsd's, a session of its own. */
static void keeper_main(const struct vsd_console *con, int pidfd)
{
        int from[] = { con->master, con->slave, con->log, pidfd, con->listen };
        sigset_t none;

        prctl(PR_SET_NAME, "vsd-console", 0, 0, 0);
        setsid();
        for (int sig = 1; sig < NSIG; sig++)
                signal(sig, SIG_DFL);
        signal(SIGPIPE, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);

        /* copied out of the way first, so that no dup2 below clobbers a
         * source; dup2 clears CLOEXEC */
        for (int i = 0; i < 5; i++)
                if ((from[i] = fcntl(from[i], F_DUPFD_CLOEXEC, 1000)) < 0)
                        _exit(1);
        for (int i = 0; i < 5; i++)
                if (dup2(from[i], K_MASTER + i) < 0)
                        _exit(1);
        syscall(SYS_close_range, (unsigned)K_FIRST_FREE, ~0U, 0);
        fcntl(K_MASTER, F_SETFL, fcntl(K_MASTER, F_GETFL) | O_NONBLOCK);
        keeper_loop();
}

int vsd_console_keep(struct vsd_console *con, int init_pidfd, vs_error_t *err)
{
        pid_t middle = fork();
        int status;

        if (middle < 0)
                return vs_error_errno(err, "fork the console keeper");
        if (middle == 0) {
                /* twice: the keeper is nobody's child of vsd's, and outlives it */
                if (fork() == 0)
                        keeper_main(con, init_pidfd);
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
