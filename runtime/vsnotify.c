/* vsview's seccomp listener: busybox's free and uptime, glibc's
 * sysconf(_SC_PHYS_PAGES) and coreutils' nproc ask the kernel (sysinfo,
 * sched_getaffinity), not /proc. Every VPS process has a filter that hands
 * those two calls to a listener; one thread here answers the listeners of
 * all VPS from the same figures as their /proc files.
 *
 * A listener names its VPS (vsd says whose it is when it hands it over),
 * never the caller's pid: one VPS cannot ask for another's figures.
 *
 * No single point of failure: vsd keeps a copy of every listener, so the
 * filters keep their listener when this process dies (a filter without one
 * fails the call with ENOSYS). A request this process had taken but not
 * answered stays with the kernel until someone answers its id: the kernel
 * writes the request straight into a memfd vsd keeps (the receive's buffer
 * is a slot of it), so a request is there the moment it is taken, and the
 * next server answers what is still pending there
 * (SECCOMP_IOCTL_NOTIF_ID_VALID); such a request stays in its slot until it
 * is answered, for a server killed while it answers it leaves it to the
 * next.
 *
 * reboot(2) passes through here too, and always on to the kernel: a call
 * that will end the VPS's init (see may_reboot) is first marked for vsd
 * (rebootmark.h), which after a restart is not the init's parent and may
 * learn nothing else of why it ended. */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/nsfs.h>
#include <linux/reboot.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/fdpass.h"
#include "vs/fsutil.h"
#include "vs/log.h"
#include "vs/parse.h"
#include "vs/procid.h"
#include "rebootmark.h"
#include "vsview.h"

struct listener {
        uint64_t id;
        char name[VS_NAME_MAX + 1];
        int fd;
        struct listener *next;
};

/* A slot of the memfd vsd keeps: the listener thread's own, and those of
 * requests an earlier server left. Taken while req.id is not 0: the kernel
 * writes req (id first) in the receive, and a slot goes free when its
 * request is answered. id repeats req.id for a server of before that (which
 * wrote req itself, then id, and freed a slot by its id alone). */
struct inflight {
        uint64_t listener;
        uint64_t id;
        struct seccomp_notif req;
};

static struct {
        pthread_mutex_t lock; /* the list; only the listener thread frees */
        struct listener *list;
        int epoll_fd;
        struct inflight *slots; /* shared with vsd and the next server */
        size_t nslots;
        struct inflight *own; /* the listener thread's slot */
        /* which slots held a request when this server started (0: none, or
         * answered since): those the last servers left unanswered */
        pthread_mutex_t orphan_lock;
        uint64_t *orphans;
        /* run/paene/reboot.d; its writers (this thread and the one that
         * answers orphans) share one temp file name */
        int reboot_fd;
        pthread_mutex_t mark_lock;
} N = { .lock = PTHREAD_MUTEX_INITIALIZER,
        .orphan_lock = PTHREAD_MUTEX_INITIALIZER,
        .mark_lock = PTHREAD_MUTEX_INITIALIZER,
        .epoll_fd = -1,
        .reboot_fd = -1 };

/* ---- writing the answer into the caller ---- */

/* Opens the caller's memory, then makes sure the request is still pending:
 * its pid then names the caller and not a process that got the pid after
 * it died (the open pins the memory it names). -1 when it is gone. */
static int open_caller_mem(int listener_fd, const struct seccomp_notif *req)
{
        char path[64];
        int fd;
        uint64_t id = req->id;

        snprintf(path, sizeof(path), "/proc/%u/mem", req->pid);
        fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return -1;
        if (ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

/* 0, -EFAULT where the caller's buffer cannot take it, -ESRCH when the
 * caller is gone (nothing to answer). */
static int write_caller(int listener_fd, const struct seccomp_notif *req, uint64_t addr,
                        const void *data, size_t len)
{
        cleanup_close int mem = open_caller_mem(listener_fd, req);

        if (mem < 0)
                return -ESRCH;
        if (pwrite(mem, data, len, (off_t)addr) != (ssize_t)len)
                return -EFAULT;
        return 0;
}

/* ---- the answers ---- */

static int fill_sysinfo(vs_view_src_t *src, const vs_view_host_t *host, void *arg)
{
        struct sysinfo *si = arg;
        vs_view_sysinfo_t v;
        int rc = vs_view_sysinfo(src, host, &v);

        if (rc < 0)
                return rc;
        memset(si, 0, sizeof(*si));
        si->uptime = (long)v.uptime_s;
        for (int i = 0; i < 3; i++)
                si->loads[i] = v.loads[i];
        si->totalram = v.totalram;
        si->freeram = v.freeram;
        si->sharedram = v.sharedram;
        si->bufferram = v.bufferram;
        si->totalswap = v.totalswap;
        si->freeswap = v.freeswap;
        si->procs = (unsigned short)v.procs;
        si->mem_unit = 1;
        return 0;
}

static int fill_cpu_mask(vs_view_src_t *src, const vs_view_host_t *host, void *arg)
{
        (void)host;
        return vs_view_cpu_mask(src, arg);
}

struct answer {
        int64_t val;
        int error;
        int cont; /* the kernel answers */
};

static void answer_sysinfo(const struct listener *l, const struct seccomp_notif *req,
                           struct answer *a)
{
        struct sysinfo si;
        int rc = vsview_with_vps(l->name, fill_sysinfo, &si);

        if (rc < 0) {
                a->cont = 1; /* a VPS vsd no longer registers: it is stopping */
                return;
        }
        rc = write_caller(l->fd, req, req->data.args[0], &si, sizeof(si));
        a->error = rc;
}

/* The caller's own affinity (pid 0) as the kernel gives it, narrowed to the
 * CPUs its view shows; another pid's is the kernel's to tell (its number is
 * in the VPS's pid namespace). A mask the view's CPUs do not meet (a thread
 * pinned elsewhere) stays as it is. */
static void answer_affinity(const struct listener *l, const struct seccomp_notif *req,
                            struct answer *a)
{
        uint64_t view[VS_VIEW_MAX_CPUS / 64];
        uint64_t mask[8192 / 64] = { 0 }; /* the kernel's NR_CPUS at most */
        size_t len = req->data.args[1], n;
        long ret;
        int any = 0;

        if ((pid_t)req->data.args[0] != 0) {
                a->cont = 1;
                return;
        }
        /* busybox asks with 2 KiB: the kernel answers at most its mask's
         * size, and checks a short len itself */
        ret = syscall(SYS_sched_getaffinity, (pid_t)req->pid,
                      len < sizeof(mask) ? len : sizeof(mask), mask);
        if (ret < 0) {
                a->error = -errno;
                return;
        }
        if (vsview_with_vps(l->name, fill_cpu_mask, view) <= 0) {
                a->cont = 1;
                return;
        }
        n = (size_t)ret;
        for (size_t i = 0; i < n / 8; i++)
                any |= (mask[i] & (i < VS_VIEW_MAX_CPUS / 64 ? view[i] : 0)) != 0;
        if (any)
                for (size_t i = 0; i < n / 8; i++)
                        mask[i] &= i < VS_VIEW_MAX_CPUS / 64 ? view[i] : 0;
        a->error = write_caller(l->fd, req, req->data.args[2], mask, n);
        a->val = ret;
}

/* ---- reboot ---- */

/* How the kernel ends a pid namespace's init for this reboot(2) call of one
 * of its processes (kernel/reboot.c, reboot_pid_ns): SIGHUP for a restart,
 * SIGINT for a halt or power-off; 0 for a call it refuses (bad magic, EINVAL)
 * or that ends nothing (the Ctrl-Alt-Del switches). The arguments are ints. */
static int reboot_signal(const struct seccomp_notif *req)
{
        uint32_t magic1 = (uint32_t)req->data.args[0], magic2 = (uint32_t)req->data.args[1];

        if (magic1 != (uint32_t)LINUX_REBOOT_MAGIC1 ||
            (magic2 != LINUX_REBOOT_MAGIC2 && magic2 != LINUX_REBOOT_MAGIC2A &&
             magic2 != LINUX_REBOOT_MAGIC2B && magic2 != LINUX_REBOOT_MAGIC2C))
                return 0;
        switch ((uint32_t)req->data.args[2]) {
        case LINUX_REBOOT_CMD_RESTART:
        case LINUX_REBOOT_CMD_RESTART2:
                return SIGHUP;
        case LINUX_REBOOT_CMD_HALT:
        case LINUX_REBOOT_CMD_POWER_OFF:
                return SIGINT;
        default:
                return 0;
        }
}

static int same_file(const struct stat *a, const struct stat *b)
{
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Whether the caller (its /proc/TID) holds CAP_SYS_BOOT in effect, in the
 * user namespace that owns its pid namespace: the kernel's own test
 * (ns_capable(pid_ns->user_ns, CAP_SYS_BOOT)). CapEff counts in the
 * caller's own user namespace, hence the owner's check: in a user
 * namespace nested inside the VPS, the caller's root is refused. */
static int caller_may_boot(int procfd)
{
        cleanup_free char *status = NULL;
        cleanup_close int pidns = -1, owner = -1;
        struct stat own, mine;
        unsigned long long eff;
        const char *line;

        if (vs_read_file(procfd, "status", 1U << 16, &status, NULL, NULL) < 0)
                return 0;
        line = strstr(status, "\nCapEff:\t");
        if (!line || sscanf(line + 9, "%llx", &eff) != 1 || !(eff & (1ULL << CAP_SYS_BOOT)))
                return 0;
        pidns = openat(procfd, "ns/pid", O_RDONLY | O_CLOEXEC);
        if (pidns < 0)
                return 0;
        owner = ioctl(pidns, NS_GET_USERNS);
        if (owner < 0 || fstat(owner, &own) < 0 || fstatat(procfd, "ns/user", &mine, 0) < 0)
                return 0;
        return same_file(&own, &mine);
}

/* The identity of the init of l's VPS when the caller (its /proc/TID) is in
 * that init's pid namespace: the namespace the kernel's reboot ends, and
 * not one nested inside the VPS, whose own init it would end instead. */
static int caller_init(const struct listener *l, int procfd, pid_t *pid, vs_procid_t *id)
{
        cleanup_close int pidfd = -1;
        struct pollfd pfd;
        struct stat ns;

        *pid = vsview_init_pid(l->name);
        if (*pid <= 0)
                return -1;
        pidfd = (int)syscall(SYS_pidfd_open, *pid, 0);
        if (pidfd < 0 || vs_procid_read(*pid, id, NULL) < 0 ||
            fstatat(procfd, "ns/pid", &ns, 0) < 0)
                return -1;
        /* what was read is the live process's that the pidfd holds */
        pfd = (struct pollfd){ .fd = pidfd, .events = POLLIN };
        if (poll(&pfd, 1, 0) != 0)
                return -1;
        if ((uint64_t)ns.st_dev != id->pidns_dev || (uint64_t)ns.st_ino != id->pidns_ino)
                return -1;
        return 0;
}

/* A reboot(2) that the kernel will carry out, ending l's VPS's init: marked
 * for vsd before the call goes on (1). Any other call is the kernel's to
 * refuse or carry out, unmarked (0). */
static int mark_reboot(const struct listener *l, const struct seccomp_notif *req)
{
        char path[64];
        cleanup_close int procfd = -1;
        int signo = reboot_signal(req);
        uint64_t id = req->id;
        vs_procid_t init;
        vs_error_t err = { 0 };
        pid_t init_pid;
        int rc;

        if (!signo || N.reboot_fd < 0 || req->pid == 0)
                return 0;
        snprintf(path, sizeof(path), "/proc/%u", req->pid);
        procfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (procfd < 0 || !caller_may_boot(procfd) || caller_init(l, procfd, &init_pid, &init) < 0)
                return 0;
        /* still pending: the pid named the caller when its files were read */
        if (ioctl(l->fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0)
                return 0;
        pthread_mutex_lock(&N.mark_lock);
        rc = vsd_reboot_mark_write(N.reboot_fd, l->name, signo, init_pid, &init, &err);
        pthread_mutex_unlock(&N.mark_lock);
        if (rc < 0) {
                vs_log(LOG_WARNING, "%s: mark its reboot: %s", l->name, err.msg);
                return 0;
        }
        vs_log(LOG_INFO, "%s: %s by its pid %u: marked for init %d", l->name,
               signo == SIGHUP ? "reboot" : "halt", req->pid, (int)init_pid);
        return 1;
}

static void unmark_reboot(const struct listener *l)
{
        pthread_mutex_lock(&N.mark_lock);
        vsd_reboot_mark_clear(N.reboot_fd, l->name);
        pthread_mutex_unlock(&N.mark_lock);
        vs_log(LOG_INFO, "%s: its reboot call was interrupted: mark removed", l->name);
}

static void answer(const struct listener *l, const struct seccomp_notif *req)
{
        struct seccomp_notif_resp resp = { .id = req->id };
        struct answer a = { 0 };
        int marked = 0;

        if (req->data.arch != AUDIT_ARCH_X86_64)
                a.cont = 1;
        else if (req->data.nr == SYS_sysinfo)
                answer_sysinfo(l, req, &a);
        else if (req->data.nr == SYS_sched_getaffinity)
                answer_affinity(l, req, &a);
        else if (req->data.nr == SYS_reboot) {
                marked = mark_reboot(l, req);
                a.cont = 1;
        } else
                a.cont = 1;
        if (a.error == -ESRCH)
                return; /* the caller is gone */
        if (a.cont)
                resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        else if (a.error)
                resp.error = a.error;
        else
                resp.val = a.val;
        /* ENOENT: the caller was interrupted meanwhile */
        if (ioctl(l->fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0) {
                if (errno != ENOENT)
                        vs_log(LOG_WARNING, "seccomp answer to %s: %m", l->name);
                /* the call did not go on (a signal restarts it, and it is
                 * asked again): its mark would name a reboot that is not */
                if (marked)
                        unmark_reboot(l);
        }
}

/* ---- in-flight requests ---- */

static uint64_t slot_request(const struct inflight *slot)
{
        uint64_t id = __atomic_load_n(&slot->req.id, __ATOMIC_ACQUIRE);

        return id ? id : __atomic_load_n(&slot->id, __ATOMIC_ACQUIRE);
}

static void slot_free(struct inflight *slot)
{
        __atomic_store_n(&slot->id, 0, __ATOMIC_RELEASE);
        __atomic_store_n(&slot->req.id, 0, __ATOMIC_RELEASE);
}

/* The slots as the last server left them: a request in one is an orphan
 * until it is answered (or found answered), and the listener thread's own
 * slot is one without. A table without a free slot (orphans of VPS whose
 * listener never came back, as many as it has) gives its last one. */
static void slots_adopt(void *map, size_t bytes)
{
        N.slots = map;
        N.nslots = bytes / sizeof(struct inflight);
        N.orphans = vs_xmalloc(N.nslots * sizeof(*N.orphans));
        for (size_t i = 0; i < N.nslots; i++) {
                N.orphans[i] = slot_request(&N.slots[i]);
                if (!N.orphans[i] && !N.own)
                        N.own = &N.slots[i];
        }
        if (!N.own) {
                vs_log(LOG_WARNING, "the in-flight table is full of orphans: the last one goes");
                N.own = &N.slots[N.nslots - 1];
                N.orphans[N.nslots - 1] = 0;
                slot_free(N.own);
        }
}

/* What an earlier server took from l and did not answer: answered from its
 * slot, which goes free only then (a kill meanwhile leaves it to the next
 * server). */
static void answer_orphans(const struct listener *l)
{
        pthread_mutex_lock(&N.orphan_lock);
        for (size_t i = 0; N.orphans && i < N.nslots; i++) {
                struct inflight *slot = &N.slots[i];
                uint64_t id = N.orphans[i];

                if (!id || slot->listener != l->id)
                        continue;
                if (slot->req.id == id && ioctl(l->fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0) {
                        struct seccomp_notif req = slot->req;

                        vs_log(LOG_INFO, "answering a request of %s an earlier server took",
                               l->name);
                        answer(l, &req);
                }
                N.orphans[i] = 0;
                slot_free(slot);
        }
        pthread_mutex_unlock(&N.orphan_lock);
}

/* ---- the listeners ---- */

static void add_listener(uint64_t id, const char *name, int fd)
{
        struct listener *l;
        struct epoll_event ev = { .events = EPOLLIN };

        pthread_mutex_lock(&N.lock);
        for (l = N.list; l; l = l->next)
                if (l->id == id)
                        break;
        pthread_mutex_unlock(&N.lock);
        if (l || vs_parse_name(name, "VPS name", NULL) < 0) {
                close(fd); /* known already (a vsd that sends all again) */
                return;
        }
        l = vs_xmalloc(sizeof(*l));
        memset(l, 0, sizeof(*l));
        l->id = id;
        l->fd = fd;
        vs_strlcpy(l->name, name, sizeof(l->name));
        /* before it is polled: nothing else takes its requests yet */
        answer_orphans(l);
        pthread_mutex_lock(&N.lock);
        l->next = N.list;
        N.list = l;
        ev.data.ptr = l;
        if (epoll_ctl(N.epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
                vs_log(LOG_WARNING, "epoll listener of %s: %m", name);
        pthread_mutex_unlock(&N.lock);
}

/* Its VPS's processes are all gone. Listener thread only. */
static void drop_listener(struct listener *gone)
{
        pthread_mutex_lock(&N.lock);
        for (struct listener **p = &N.list; *p; p = &(*p)->next)
                if (*p == gone) {
                        *p = gone->next;
                        break;
                }
        epoll_ctl(N.epoll_fd, EPOLL_CTL_DEL, gone->fd, NULL);
        pthread_mutex_unlock(&N.lock);
        close(gone->fd);
        free(gone);
}

/* The request is received into the shared slot itself: the kernel marks
 * it taken and writes it there in one system call, so no kill of this
 * process falls between the two (a copy written after the receive lost
 * the request to a kill that came first: its caller waited for good). */
static void take_request(struct listener *l)
{
        struct seccomp_notif local, req;
        struct inflight *slot = N.own;
        struct seccomp_notif *into = slot ? &slot->req : &local;

        if (slot)
                __atomic_store_n(&slot->listener, l->id, __ATOMIC_RELEASE);
        memset(into, 0, sizeof(*into)); /* the kernel wants it zeroed */
        if (ioctl(l->fd, SECCOMP_IOCTL_NOTIF_RECV, into) < 0) {
                if (slot)
                        slot_free(slot); /* a failed receive may have written */
                return;                  /* ENOENT: the caller was interrupted */
        }
        req = *into;
        if (slot)
                __atomic_store_n(&slot->id, req.id, __ATOMIC_RELEASE);
        answer(l, &req);
        if (slot)
                slot_free(slot);
}

static void *listener_thread(void *arg)
{
        struct epoll_event evs[64];

        (void)arg;
        for (;;) {
                int n = epoll_wait(N.epoll_fd, evs, 64, -1);

                for (int i = 0; i < n; i++) {
                        struct listener *l = evs[i].data.ptr;

                        if (evs[i].events & EPOLLIN)
                                take_request(l);
                        else if (evs[i].events & (EPOLLHUP | EPOLLERR))
                                drop_listener(l);
                }
        }
        return NULL;
}

int vsnotify_start(int inflight_fd, int reboot_fd)
{
        pthread_t tid;
        struct stat st;

        N.reboot_fd = reboot_fd;
        N.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (N.epoll_fd < 0)
                return -1;
        if (inflight_fd >= 0 && fstat(inflight_fd, &st) == 0 &&
            (size_t)st.st_size >= sizeof(struct inflight)) {
                void *map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                                 inflight_fd, 0);

                if (map != MAP_FAILED)
                        slots_adopt(map, (size_t)st.st_size);
        }
        if (!N.slots)
                vs_log(LOG_WARNING, "no in-flight table: a request taken at a crash waits");
        return pthread_create(&tid, NULL, listener_thread, NULL) == 0 ? 0 : -1;
}

/* ---- vsd's control connection ---- */

static void send_all(int sock)
{
        pthread_mutex_lock(&N.lock);
        for (struct listener *l = N.list; l; l = l->next) {
                char msg[128];
                int len = snprintf(msg, sizeof(msg), "notify %llu %s", (unsigned long long)l->id,
                                   l->name);

                if (vs_send_fds(sock, msg, (size_t)len, &l->fd, 1) < 0)
                        break;
        }
        pthread_mutex_unlock(&N.lock);
        (void)!send(sock, "end", 3, MSG_NOSIGNAL);
}

void vsnotify_serve_ctl(int sock)
{
        for (;;) {
                char msg[128];
                int fds[VS_FDPASS_MAX], nfds = 0;
                ssize_t n = vs_recv_fds(sock, msg, sizeof(msg) - 1, fds, &nfds, NULL);
                unsigned long long id;
                char name[VS_NAME_MAX + 2];

                if (n <= 0)
                        break;
                msg[n] = '\0';
                if (nfds == 1 && sscanf(msg, "notify %llu %64s", &id, name) == 2) {
                        add_listener(id, name, fds[0]);
                        continue;
                }
                for (int i = 0; i < nfds; i++)
                        close(fds[i]);
                if (strcmp(msg, "list") == 0)
                        send_all(sock);
                else if (sscanf(msg, "changed %64s", name) == 1) {
                        vsview_vps_changed(name);
                        send(sock, "changed", 7, MSG_NOSIGNAL);
                }
        }
        close(sock);
}
