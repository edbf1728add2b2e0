/* A stop waited for the sync of the VPS's overlay: the init's exit drops
 * the last reference to its root mount, and the kernel then syncs the
 * upper file system (the host's, with every other VPS's dirty pages on
 * it) before the init is a zombie that vsd sees. Measured at 1000 VPS,
 * that was 9 of the 11 ms the init took to die. So before vsd signals the
 * init to stop, the releaser, a fork of vsd's made at its start, takes a
 * reference to the init's root (an O_PATH descriptor of /proc/PID/root),
 * to its mount namespace (whose mounts the init's exit would take apart
 * too) and the init's pidfd; once the pidfd says the init is gone, it
 * closes them, which unmounts and syncs there, and tells vsd. A start of that
 * VPS waits for the answer: overlay refuses (EBUSY, index=on) an upper
 * directory that another of its mounts still uses. Nothing of the VPS's
 * data depends on the releaser: the sync is the kernel's writeback done
 * early, and a releaser that dies (with vsd) lets go of all it held.
 *
 * The letting go waits for vsd's word, which comes at an idle moment
 * (later.c) or before a start of that VPS: it costs the kernel a CPU for
 * about a millisecond at 1000 VPS (the superblocks' shrinkers and dentries
 * taken apart, the overlay's sync and the writeback it starts, the list
 * lock it shares with the memory cgroups' removal), and on a host of two
 * CPUs that kernel work, which is not preempted, ran just when the next
 * stop or the destroy came (contrib/bench/stop-offcpu.py). Nothing waits
 * for it but a start of the VPS, which asks for it at once. */
#include "release.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/fdpass.h"
#include "vs/fsutil.h"
#include "vs/log.h"
#include "vs/parse.h"
#include "vsd.h"

#define RELEASE_WAIT_MS 5000 /* the longest a start waits for the last run's sync */
enum { RELEASE_SOCK_FD = 3 };

/* A hold vsd asks for (with its descriptors), the answer that it was let
 * go, and (without descriptors) vsd's word to let go of one (its seq) or of
 * all (seq 0) once their inits are gone. */
struct release_record {
        char name[VS_NAME_MAX + 1];
        uint64_t seq;
};

/* In the releaser: a root (and the init's mount namespace) held until
 * its init's pidfd is readable and vsd has said so. */
struct held {
        struct release_record rec;
        int pidfd, root, mnt_ns;
        int gone, wanted; /* the init is gone; vsd let it go */
        struct held *next;
};

static struct held *holds;

/* 1: a hold, 2: vsd's word to let go (in h->rec), 0: neither, -1: vsd is
 * gone */
static int take_hold(int epfd, struct held *h)
{
        int fds[VS_FDPASS_MAX], nfds = 0, truncated = 0;
        ssize_t n = vs_recv_fds(RELEASE_SOCK_FD, &h->rec, sizeof(h->rec), fds, &nfds, &truncated);

        if (n <= 0)
                return -1; /* vsd closed its end, or is gone */
        if (n == (ssize_t)sizeof(h->rec) && !truncated && nfds == 0)
                return 2;
        if (n != (ssize_t)sizeof(h->rec) || truncated || nfds < 2 || nfds > 3) {
                for (int i = 0; i < nfds; i++)
                        close(fds[i]);
                return 0;
        }
        h->pidfd = fds[0];
        h->root = fds[1];
        h->mnt_ns = nfds > 2 ? fds[2] : -1;
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, h->pidfd,
                      &(struct epoll_event){ .events = EPOLLIN, .data.ptr = h }) < 0)
                close(h->pidfd), h->pidfd = -1; /* let go at once */
        return 1;
}

/* The init is gone: its pidfd is closed, the hold kept for vsd's word. */
static void init_gone(int epfd, struct held *h)
{
        if (h->pidfd >= 0) {
                epoll_ctl(epfd, EPOLL_CTL_DEL, h->pidfd, NULL);
                close(h->pidfd);
        }
        h->pidfd = -1;
        h->gone = 1;
}

/* The close of the mount namespace is where the kernel takes its mounts
 * apart, that of the root where it unmounts and syncs the overlay. */
static void let_go(struct held *h)
{
        struct held **p = &holds;

        while (*p != h)
                p = &(*p)->next;
        *p = h->next;
        if (h->mnt_ns >= 0)
                close(h->mnt_ns);
        close(h->root);
        (void)!send(RELEASE_SOCK_FD, &h->rec, sizeof(h->rec), MSG_NOSIGNAL);
        free(h);
}

/* vsd's word for one hold (seq) or all (0): each is let go once its init
 * is gone too */
static void wanted(uint64_t seq)
{
        struct held *h = holds, *next;

        for (; h; h = next) {
                next = h->next;
                if (seq && h->rec.seq != seq)
                        continue;
                h->wanted = 1;
                if (h->gone)
                        let_go(h);
        }
}

static __attribute__((noreturn)) void releaser_loop(void)
{
        int epfd = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event sock_ev = { .events = EPOLLIN, .data.ptr = NULL };

        if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, RELEASE_SOCK_FD, &sock_ev) < 0)
                _exit(1);
        for (;;) {
                struct epoll_event ev;
                int n = epoll_wait(epfd, &ev, 1, -1);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        _exit(1);
                if (ev.data.ptr) {
                        struct held *h = ev.data.ptr;

                        init_gone(epfd, h);
                        if (h->wanted)
                                let_go(h);
                        continue;
                }
                struct held *h = vs_xmalloc(sizeof(*h));

                *h = (struct held){ .pidfd = -1, .root = -1, .mnt_ns = -1 };
                int rc = take_hold(epfd, h);

                if (rc < 0)
                        _exit(0); /* what it holds is let go as it exits */
                if (rc == 2)
                        wanted(h->rec.seq);
                if (rc != 1) {
                        free(h);
                        continue;
                }
                h->next = holds;
                holds = h;
                if (h->pidfd < 0)
                        h->gone = 1; /* not watched: let go at vsd's next word */
        }
}

static __attribute__((noreturn)) void releaser_main(int sock, pid_t vsd)
{
        int keep[] = { sock };

        if (vs_helper_setup(vsd, "vsd-release", keep, 1) < 0)
                _exit(1);
        releaser_loop();
}

/* VSD_TEST_RELEASE_SNDBUF=BYTES (tests only): vsd's end of the socket gets
 * that send buffer (the kernel's least is about 4 kB, a few records), so
 * that a test can fill the releaser's queue with a few stops. */
static void shrink_queue_for_tests(int fd)
{
        const char *hook = getenv("VSD_TEST_RELEASE_SNDBUF");
        int bytes = hook && *hook ? atoi(hook) : 0;

        if (bytes > 0)
                setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
}

int vsd_release_start(struct vsd *d, vs_error_t *err)
{
        int sv[2];
        pid_t vsd = getpid(), pid;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return vs_error_errno(err, "the releaser's socket");
        pid = fork();
        if (pid == 0)
                releaser_main(sv[1], vsd);
        close(sv[1]);
        shrink_queue_for_tests(sv[0]);
        d->release_fd = sv[0];
        d->release_pid = pid;
        d->release_ev = (struct ev){ EV_RELEASE, NULL };
        if (pid < 0 || fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0 ||
            vsd_epoll_add(d, sv[0], &d->release_ev, EPOLLIN) < 0) {
                vs_error_errno(err, "start the releaser of VPS's file systems");
                vsd_release_close(d);
                return -1;
        }
        return 0;
}

void vsd_release_close(struct vsd *d)
{
        if (d->release_fd >= 0) {
                vsd_epoll_del(d, d->release_fd);
                close(d->release_fd);
        }
        if (d->release_pid > 0) {
                kill(d->release_pid, SIGKILL);
                waitpid(d->release_pid, NULL, 0);
        }
        d->release_fd = -1;
        d->release_pid = 0;
        d->release_blocked = 0;
        for (struct vps *v = d->vps_list; v; v = v->next)
                v->release_seq = 0;
}

static int on_disk_image(const struct vps *v)
{
        return !v->config_valid || vsd_disk_backend_of(&v->config)->attach;
}

/* The init's root and mount namespace, proved to be this init's: its
 * pidfd still names a live process after the opens (an adopted init's pid
 * could have been reaped and reused before them). The namespace is for
 * what its last reference costs: the init's exit would take every mount
 * of it apart (two expedited RCU grace periods, the /proc, /sys, /dev and
 * overlay superblocks) before its pidfd says it is gone; without it
 * (-1) the root alone is held, as before. */
static int open_init_root(const struct vps *v, int *mnt_ns)
{
        char path[64];
        int root;

        snprintf(path, sizeof(path), "/proc/%d/root", (int)v->pid);
        root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)v->pid);
        *mnt_ns = root >= 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
        if (root >= 0 && syscall(SYS_pidfd_send_signal, v->pidfd, 0, NULL, 0) < 0) {
                close(root);
                if (*mnt_ns >= 0)
                        close(*mnt_ns);
                *mnt_ns = -1;
                return -1;
        }
        return root;
}

void vsd_release_hold(struct vsd *d, struct vps *v)
{
        static uint64_t next_seq;
        struct release_record rec = { .seq = ++next_seq };
        cleanup_close int root = -1, mnt_ns = -1;

        if (d->release_fd < 0 || v->release_seq || v->pidfd < 0 || on_disk_image(v))
                return;
        root = open_init_root(v, &mnt_ns);
        if (root < 0)
                return;
        vs_strlcpy(rec.name, v->name, sizeof(rec.name));
        if (vs_send_fds(d->release_fd, &rec, sizeof(rec), (int[]){ v->pidfd, root, mnt_ns },
                        mnt_ns >= 0 ? 3 : 2) < 0)
                return; /* a full queue: the init's exit releases it */
        v->release_seq = rec.seq;
        d->release_waiting = 1;
}

/* vsd's word to let go of the hold seq (0: all) once its init is gone;
 * -1 when it could not be sent (a full queue: tried again later) */
static int ask_let_go(struct vsd *d, const char *name, uint64_t seq)
{
        struct release_record rec = { .seq = seq };

        vs_strlcpy(rec.name, name, sizeof(rec.name));
        return send(d->release_fd, &rec, sizeof(rec), MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* While vsd's word waits for room in the releaser's queue, its socket is
 * polled for that room too (EPOLLOUT), and the word sent once there is:
 * nothing else would send it before the next request. */
static void poll_for_room(struct vsd *d, int blocked)
{
        struct epoll_event e = { .events = EPOLLIN | (blocked ? EPOLLOUT : 0),
                                 .data.ptr = &d->release_ev };

        if (d->release_blocked == blocked)
                return;
        d->release_blocked = blocked;
        epoll_ctl(d->epfd, EPOLL_CTL_MOD, d->release_fd, &e);
}

void vsd_release_let_go(struct vsd *d)
{
        if (d->release_fd < 0)
                return;
        if (d->release_waiting && ask_let_go(d, "", 0) == 0)
                d->release_waiting = 0;
        /* a full queue: sent again once there is room */
        poll_for_room(d, d->release_waiting);
}

/* Marks the VPS of one answer released; 0 when there was none to read. */
static int take_answer(struct vsd *d, int *gone)
{
        struct release_record rec;
        ssize_t n = recv(d->release_fd, &rec, sizeof(rec), MSG_DONTWAIT);
        struct vps *v;

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n != (ssize_t)sizeof(rec)) {
                *gone = 1;
                return 0;
        }
        rec.name[sizeof(rec.name) - 1] = '\0';
        v = vsd_vps_find(d, rec.name);
        if (v && v->release_seq == rec.seq)
                v->release_seq = 0; /* else destroyed, or a later hold */
        return 1;
}

void vsd_release_answered(struct vsd *d)
{
        int gone = 0;

        while (take_answer(d, &gone))
                ;
        if (gone) {
                vs_log(LOG_WARNING, "the releaser of VPS's file systems is gone: each init's "
                                    "exit releases its own");
                vsd_release_close(d);
                return;
        }
        /* room in its queue again: the word that waited for it */
        if (d->release_blocked)
                vsd_release_let_go(d);
}

int vsd_release_wait(struct vsd *d, struct vps *v, vs_error_t *err)
{
        int64_t deadline = vs_monotonic_ms() + RELEASE_WAIT_MS;
        int asked = 0;

        while (v->release_seq && d->release_fd >= 0) {
                int64_t left = deadline - vs_monotonic_ms();
                int gone = 0;

                if (!asked)
                        asked = ask_let_go(d, v->name, v->release_seq) == 0;
                if (left <= 0)
                        return vs_error_kind(err, VS_E_STATE, EBUSY,
                                             "the file system of its last run is still being "
                                             "synced to disk (try again)");
                if (poll(&(struct pollfd){ .fd = d->release_fd,
                                           .events = POLLIN | (asked ? 0 : POLLOUT) },
                         1, (int)left) < 0 &&
                    errno != EINTR)
                        return vs_error_errno(err, "wait for the releaser");
                while (take_answer(d, &gone))
                        ;
                if (gone)
                        vsd_release_close(d);
        }
        return 0;
}
