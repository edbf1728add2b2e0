/* The console keeper: one process for the consoles of every VPS of a vsd
 * (see console.c for why it is not vsd). It writes what each VPS prints to
 * its console.log, relays one attached client (vsctl console) to each, and
 * ends when the last console has and the vsd that started it is gone (or
 * let it go: vsd's exit with no VPS running): a process per VPS cost about 110 kB
 * each (its stack, data, heap, page tables, kernel stack), this one costs
 * that once, and some 100 bytes a console.
 *
 * A crash loses no console. Two processes share one descriptor table
 * (clone with CLONE_FILES, not CLONE_VM): the guard, which only waits, and
 * the server, which does the work. Each console's descriptors and name are
 * in a table of MAP_SHARED memory that the server fills, so when the
 * server dies (a crash, SIGKILL) every pty master, log and attached
 * client is still open in the guard's (the same) descriptor table, and the
 * guard clones a new server that takes the table over as it is. vsd holds
 * none of it: its budget is two descriptors per running VPS, and the
 * consoles must outlive vsd too. Only the death of both at once loses the
 * consoles (the VPS run on; their console output goes nowhere).
 *
 * libc only: the static vsinit carries it. */
#include "keeper.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SLOTS 16384

/* A console, in the shared table. `used` is set after its descriptors
 * are in place and cleared before they are closed, so a server that died
 * in between leaves either a whole slot or descriptors that its successor
 * sweeps away. */
struct slot {
        int used;
        int master, slave, log, pidfd;
        int client; /* the attached vsctl console, or -1 */
        char name[VS_NAME_MAX + 1];
};

struct table {
        int high; /* slots [0, high) may be used */
        /* vsd's hold (VS_KEEPER_HOLD): its pidfd, valid while hold_used,
         * which is set after the descriptor is in place and cleared before
         * it is closed, as a slot's `used` */
        int hold_used, hold;
        struct slot slot[MAX_SLOTS];
};

static struct table *tab;
/* the server's own: which descriptors are vsd's connections (a stale event
 * of a closed one's number must not read a console's descriptor) */
static unsigned char *conn_of;
static unsigned fd_top;

/* What an epoll event is about: a kind and a slot (or a descriptor). */
enum kind { K_LISTEN = 1, K_CONN, K_MASTER, K_PIDFD, K_CLIENT, K_HOLD };
#define EV(kind, n) (((uint64_t)(kind) << 32) | (uint32_t)(n))

static int watch(int fd, enum kind kind, int n)
{
        struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV(kind, n) };

        return epoll_ctl(VS_KEEPER_EPOLL, EPOLL_CTL_ADD, fd, &ev);
}

/* ---- a console's traffic ---- */

/* console.log gets the text without the terminal's carriage returns. */
static void log_output(int fd, const char *buf, size_t len)
{
        char clean[4096];
        size_t n = 0;

        for (size_t i = 0; i < len; i++) {
                if (buf[i] != '\r')
                        clean[n++] = buf[i];
                if (n == sizeof(clean)) {
                        (void)!write(fd, clean, n);
                        n = 0;
                }
        }
        if (n)
                (void)!write(fd, clean, n);
}

/* The keeper is console.log's only writer and its only rotator: past
 * VS_KEEPER_LOG_MAX the file moves to console.log.1 (replacing the last)
 * and a new console.log takes the output on. A VPS printing as fast as
 * its pty takes outran vsd's 5-second rotation, vsd may be down, and two
 * rotators raced (vsd's truncate amid the keeper's trim in place left NUL
 * bytes at the head). The name is the descriptor's own (the keeper runs
 * in vsd's mount namespace); a log whose VPS went (deleted) is left. */
static void rotate_log(struct slot *s)
{
        static const char deleted[] = " (deleted)";
        char link[64], path[4096], older[4096 + 2];
        struct stat st;
        ssize_t len;
        int fresh;

        if (fstat(s->log, &st) < 0 || st.st_size <= (off_t)VS_KEEPER_LOG_MAX)
                return;
        snprintf(link, sizeof(link), "/proc/self/fd/%d", s->log);
        len = readlink(link, path, sizeof(path) - 1);
        if (len <= 0 || path[0] != '/')
                return;
        path[len] = '\0';
        if ((size_t)len >= sizeof(deleted) - 1 &&
            strcmp(path + len - (sizeof(deleted) - 1), deleted) == 0)
                return;
        snprintf(older, sizeof(older), "%s.1", path);
        if (rename(path, older) < 0)
                return;
        fresh = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0640);
        if (fresh < 0) {
                rename(older, path); /* logs on where it was */
                return;
        }
        /* at the number the table holds (the guard takes the table over) */
        dup3(fresh, s->log, O_CLOEXEC);
        close(fresh);
}

/* Closes a descriptor of a console's. The pidfd shares its file with
 * vsd's, which outlives our descriptor: a close alone would leave it in
 * the epoll set. */
static void unwatch_close(int fd)
{
        epoll_ctl(VS_KEEPER_EPOLL, EPOLL_CTL_DEL, fd, NULL);
        close(fd);
}

static void drop_client(struct slot *s)
{
        int fd = s->client;

        s->client = -1;
        if (fd >= 0)
                unwatch_close(fd);
}

/* Returns 0 when the master has nothing more now. */
static int from_vps(struct slot *s)
{
        char buf[4096];
        ssize_t n = read(s->master, buf, sizeof(buf));

        if (n <= 0)
                return 0;
        log_output(s->log, buf, (size_t)n);
        rotate_log(s);
        /* a client too slow to read loses output, never the VPS its console */
        if (s->client >= 0 && send(s->client, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
            errno != EAGAIN)
                drop_client(s);
        return 1;
}

static void from_client(struct slot *s)
{
        char buf[4096];
        ssize_t n = read(s->client, buf, sizeof(buf));

        if (n < 0 && errno == EAGAIN)
                return;
        if (n <= 0) {
                drop_client(s);
                return;
        }
        /* what the VPS does not read in time is dropped, as a serial line does */
        (void)!write(s->master, buf, (size_t)n);
}

/* The console ends: what its init printed last is in the pty. */
static void end_console(struct slot *s)
{
        int fds[] = { s->master, s->slave, s->log, s->pidfd };

        while (from_vps(s))
                ;
        drop_client(s);
        s->used = 0;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
                unwatch_close(fds[i]);
        while (tab->high > 0 && !tab->slot[tab->high - 1].used)
                tab->high--;
}

/* A stale event of a replaced console's whose slot a new one took is not
 * the new one's end. */
static int init_ended(const struct slot *s)
{
        struct pollfd p = { s->pidfd, POLLIN, 0 };

        return poll(&p, 1, 0) == 1;
}

static int live_consoles(void)
{
        int n = 0;

        for (int i = 0; i < tab->high; i++)
                n += tab->slot[i].used;
        return n;
}

/* A stale event of a replaced hold's is not the new one's end. */
static int pidfd_ended(int pidfd)
{
        struct pollfd p = { pidfd, POLLIN, 0 };

        return poll(&p, 1, 0) == 1;
}

/* What keeps the keeper up: a console, or its vsd's hold. */
static int live(void)
{
        return live_consoles() || tab->hold_used;
}

static void drop_hold(void)
{
        if (!tab->hold_used)
                return;
        tab->hold_used = 0;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        unwatch_close(tab->hold);
}

/* ---- vsd's requests ---- */

static int hold(int pidfd)
{
        drop_hold();
        if (watch(pidfd, K_HOLD, 0) < 0)
                return errno;
        tab->hold = pidfd;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        tab->hold_used = 1;
        return 0;
}

static struct slot *find(const char *name)
{
        for (int i = 0; i < tab->high; i++)
                if (tab->slot[i].used && strcmp(tab->slot[i].name, name) == 0)
                        return &tab->slot[i];
        return NULL;
}

static int add_console(const struct vs_keeper_msg *m, const int *fds)
{
        struct slot *old = find(m->name), *s = NULL;
        int i;

        if (old)
                end_console(old);
        for (i = 0; i < MAX_SLOTS && tab->slot[i].used; i++)
                ;
        if (i == MAX_SLOTS)
                return ENFILE;
        s = &tab->slot[i];
        s->master = fds[0];
        s->slave = fds[1];
        s->log = fds[2];
        s->pidfd = fds[3];
        s->client = -1;
        memcpy(s->name, m->name, sizeof(s->name));
        fcntl(s->master, F_SETFL, fcntl(s->master, F_GETFL) | O_NONBLOCK);
        if (watch(s->master, K_MASTER, i) < 0 || watch(s->pidfd, K_PIDFD, i) < 0) {
                epoll_ctl(VS_KEEPER_EPOLL, EPOLL_CTL_DEL, s->master, NULL);
                return errno;
        }
        if (i >= tab->high)
                tab->high = i + 1;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        s->used = 1;
        return 0;
}

static int attach(const struct vs_keeper_msg *m, int fd)
{
        static const char busy[] = "console is in use by another session\r\n";
        struct slot *s = find(m->name);

        if (!s)
                return ENOENT;
        if (s->client >= 0) {
                (void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL);
                close(fd);
                return 0;
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        if (watch(fd, K_CLIENT, (int)(s - tab->slot)) < 0) {
                close(fd);
                return errno;
        }
        s->client = fd;
        return 0;
}

/* One request on a connection of vsd's (root's only), then its answer.
 * Returns 1 when vsd's hold was let go. */
static int serve_conn(int conn)
{
        struct vs_keeper_msg m;
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int) * VS_KEEPER_ADD_FDS)];
        } ctl;
        struct iovec iov = { &m, sizeof(m) };
        struct msghdr mh = { .msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = ctl.buf,
                             .msg_controllen = sizeof(ctl.buf) };
        int fds[VS_KEEPER_ADD_FDS], nfds = 0, used = 0, released = 0;
        int32_t rc = EPROTO;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        ssize_t n;

        if ((unsigned)conn >= fd_top || !conn_of[conn])
                return 0;
        n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n < 0 && errno == EAGAIN)
                return 0; /* not yet: it stays watched */
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                        for (size_t i = 0; CMSG_LEN((i + 1) * sizeof(int)) <= c->cmsg_len; i++)
                                if (nfds < VS_KEEPER_ADD_FDS)
                                        memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int),
                                               sizeof(int));
        if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid())
                rc = EPERM;
        else if (n != sizeof(m) || (mh.msg_flags & MSG_CTRUNC) || m.version != VS_KEEPER_VERSION ||
                 memchr(m.name, '\0', sizeof(m.name)) == NULL)
                rc = EPROTO;
        else if (m.op == VS_KEEPER_ADD && nfds == VS_KEEPER_ADD_FDS)
                used = (rc = add_console(&m, fds)) == 0 ? nfds : 0;
        else if (m.op == VS_KEEPER_ATTACH && nfds == 1)
                used = (rc = attach(&m, fds[0])) == 0 || rc != ENOENT ? 1 : 0;
        else if (m.op == VS_KEEPER_HOLD && nfds == 1)
                used = (rc = hold(fds[0])) == 0 ? 1 : 0;
        else if (m.op == VS_KEEPER_RELEASE && nfds == 1) {
                /* the pipe's end stays open until this process and its
                 * guard (which share the table) have both ended */
                drop_hold();
                released = used = 1;
                rc = 0;
        }
        for (int i = used; i < nfds; i++)
                close(fds[i]);
        (void)!send(conn, &rc, sizeof(rc), MSG_NOSIGNAL | MSG_DONTWAIT);
        conn_of[conn] = 0;
        close(conn);
        return released;
}

static void accept_conns(void)
{
        int fd;

        while ((fd = accept4(VS_KEEPER_LISTEN, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0)
                if ((unsigned)fd >= fd_top || watch(fd, K_CONN, fd) < 0)
                        close(fd);
                else
                        conn_of[fd] = 1;
}

/* ---- the server ---- */

/* Takes over what a dead server left: the slots whose descriptors are all
 * open, and closes every other descriptor above the fixed ones (a request
 * it was reading, a console it was adding). */
static void take_over(void)
{
        struct rlimit rl;
        unsigned char *keep;
        unsigned top;

        getrlimit(RLIMIT_NOFILE, &rl);
        top = rl.rlim_cur > (1u << 20) ? (1u << 20) : (unsigned)rl.rlim_cur;
        fd_top = top;
        conn_of = calloc(top, 1);
        if (!conn_of)
                _exit(1);
        keep = calloc(top + 1, 1);
        for (int i = 0; i < tab->high; i++) {
                struct slot *s = &tab->slot[i];
                int fds[] = { s->master, s->slave, s->log, s->pidfd, s->client };
                int ok = s->used;

                for (int k = 0; k < 4 && ok; k++)
                        ok = fds[k] >= VS_KEEPER_FIRST_FREE && (unsigned)fds[k] < top &&
                             fcntl(fds[k], F_GETFD) >= 0;
                if (s->client >= 0 && ok &&
                    ((unsigned)s->client >= top || fcntl(s->client, F_GETFD) < 0))
                        s->client = -1;
                s->used = ok;
                if (!ok || !keep)
                        continue;
                for (int k = 0; k < 5; k++)
                        if (fds[k] >= 0 && (k < 4 || s->client >= 0))
                                keep[fds[k]] = 1;
        }
        if (tab->hold_used)
                tab->hold_used = tab->hold >= VS_KEEPER_FIRST_FREE && (unsigned)tab->hold < top &&
                                 fcntl(tab->hold, F_GETFD) >= 0;
        if (!keep)
                return;
        if (tab->hold_used)
                keep[tab->hold] = 1;
        for (unsigned fd = VS_KEEPER_FIRST_FREE; fd < top;) {
                unsigned end = fd;

                while (end < top && !keep[end])
                        end++;
                if (end > fd)
                        syscall(SYS_close_range, fd, end - 1, 0);
                fd = end + 1;
        }
        free(keep);
}

static void server_start(void)
{
        int ep;

        take_over();
        ep = epoll_create1(EPOLL_CLOEXEC);
        if (ep < 0 || dup3(ep, VS_KEEPER_EPOLL, O_CLOEXEC) < 0)
                _exit(1);
        close(ep);
        if (fcntl(VS_KEEPER_LISTEN, F_SETFL, fcntl(VS_KEEPER_LISTEN, F_GETFL) | O_NONBLOCK) < 0 ||
            watch(VS_KEEPER_LISTEN, K_LISTEN, 0) < 0)
                _exit(1);
        for (int i = 0; i < tab->high; i++) {
                struct slot *s = &tab->slot[i];

                if (!s->used)
                        continue;
                watch(s->master, K_MASTER, i);
                watch(s->pidfd, K_PIDFD, i);
                if (s->client >= 0)
                        watch(s->client, K_CLIENT, i);
        }
        if (tab->hold_used)
                watch(tab->hold, K_HOLD, 0);
}

/* The last console ended (or none came within a grace after a start):
 * the listening socket goes with the server, which tells the guard to end
 * too. A request vsd makes meanwhile fails, and vsd starts a new keeper. */
static void server_end(void) __attribute__((noreturn));
static void server_end(void)
{
        close(VS_KEEPER_LISTEN);
        _exit(0);
}

#define IDLE_START_MS 3000

static void server_run(void) __attribute__((noreturn));
static void server_run(void)
{
        int idle_ms;

        prctl(PR_SET_NAME, VS_KEEPER_ARGV0, 0, 0, 0);
        server_start();
        idle_ms = live() ? -1 : IDLE_START_MS;
        for (;;) {
                struct epoll_event ev[64];
                int n = epoll_wait(VS_KEEPER_EPOLL, ev, 64, idle_ms), ended = 0;

                if (n < 0 && errno != EINTR)
                        _exit(1);
                if (n == 0 && !live())
                        server_end();
                for (int i = 0; i < n; i++) {
                        enum kind kind = (enum kind)(ev[i].data.u64 >> 32);
                        int arg = (int)(uint32_t)ev[i].data.u64;
                        /* a slot's index, but for K_CONN (a descriptor) */
                        struct slot *s = &tab->slot[kind == K_CONN ? 0 : arg];

                        if (kind == K_LISTEN)
                                accept_conns();
                        else if (kind == K_CONN)
                                ended |= serve_conn(arg);
                        else if (kind == K_HOLD && tab->hold_used && pidfd_ended(tab->hold)) {
                                /* its vsd is gone */
                                drop_hold();
                                ended = 1;
                        } else if (kind == K_MASTER && s->used && !from_vps(s) &&
                                   (ev[i].events & (EPOLLHUP | EPOLLERR)))
                                /* no slave open anywhere (never, while it holds
                                 * its own): nothing to read until the end */
                                epoll_ctl(VS_KEEPER_EPOLL, EPOLL_CTL_DEL, s->master, NULL);
                        else if (kind == K_CLIENT && s->used && s->client >= 0)
                                from_client(s);
                        else if (kind == K_PIDFD && s->used && init_ended(s)) {
                                end_console(s);
                                ended = 1;
                        }
                }
                /* an event of an ended slot's in the same batch found it unused */
                if (ended && !live()) {
                        accept_conns();
                        idle_ms = 0; /* what was pending is served first */
                } else if (live())
                        idle_ms = -1;
        }
}

/* ---- the guard ---- */

/* Clones a server that shares our descriptor table; its pidfd goes to
 * VS_KEEPER_GUARD before the server touches the table (the pipe). */
static int spawn_server(void)
{
        int go[2];
        pid_t pid;
        int pidfd;
        char b = 0;

        if (pipe2(go, O_CLOEXEC) < 0)
                return -1;
        pid = (pid_t)syscall(SYS_clone, CLONE_FILES | SIGCHLD, NULL, NULL, NULL, NULL);
        if (pid == 0) {
                while (read(go[0], &b, 1) < 0 && errno == EINTR)
                        ;
                close(go[0]);
                close(go[1]);
                server_run();
        }
        if (pid < 0) {
                close(go[0]);
                close(go[1]);
                return -1;
        }
        pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0 || dup3(pidfd, VS_KEEPER_GUARD, O_CLOEXEC) < 0) {
                kill(pid, SIGKILL);
                _exit(1);
        }
        close(pidfd);
        (void)!write(go[1], &b, 1); /* the server closes the pipe */
        return 0;
}

static long now_ms(void)
{
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return t.tv_sec * 1000L + t.tv_nsec / 1000000;
}

void vs_keeper_run(void)
{
        struct rlimit rl;
        int quick_deaths = 0;

        prctl(PR_SET_NAME, VS_KEEPER_ARGV0, 0, 0, 0);
        /* four descriptors a console: as many as vsd may have */
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                setrlimit(RLIMIT_NOFILE, &rl);
        }
        tab = mmap(NULL, sizeof(*tab), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        /* the fixed numbers held (by a copy of the socket until the guard's
         * pidfd and the server's epoll replace it), so that no pipe or
         * pidfd of the guard's lands on one */
        if (tab == MAP_FAILED || dup2(VS_KEEPER_LISTEN, VS_KEEPER_GUARD) < 0 ||
            dup2(VS_KEEPER_LISTEN, VS_KEEPER_EPOLL) < 0)
                _exit(1);
        for (;;) {
                long started = now_ms();
                struct pollfd p = { VS_KEEPER_GUARD, POLLIN, 0 };

                if (spawn_server() < 0)
                        _exit(1);
                while (poll(&p, 1, -1) < 0 && errno == EINTR)
                        ;
                while (waitpid(-1, NULL, WNOHANG) > 0)
                        ;
                /* the server closed the socket: it ended, not crashed */
                if (fcntl(VS_KEEPER_LISTEN, F_GETFD) < 0)
                        _exit(0);
                /* a server that dies at once, again and again, is not
                 * respawned in a tight loop */
                quick_deaths = now_ms() - started < 1000 ? quick_deaths + 1 : 0;
                if (quick_deaths > 3)
                        sleep(1);
        }
}
