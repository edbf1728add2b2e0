/* vsd's side of the VPS's view: one FUSE mount for all VPS at
 * run/paene/view (a directory per VPS, which its root binds over /proc/meminfo
 * and the rest), served by one vsview process. vsd keeps a copy of the
 * /dev/fuse descriptor, so the mount outlives vsview: when it dies, vsd
 * starts another on the same connection. When vsd dies, vsview keeps
 * serving, and a new vsd takes the descriptor back over vsview.sock. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/fdpass.h"
#include "vs/fsutil.h"
#include "vs/log.h"
#include "vs/procview.h"
#include "store.h"
#include "vsd.h"
#include "vsview.h"

#ifndef FUSE_SUPER_MAGIC
#define FUSE_SUPER_MAGIC 0x65735546
#endif

static char *find_vsview(void)
{
        char self[PATH_MAX];
        const char *env = getenv("VS_VSVIEW");
        ssize_t len;

        if (env && access(env, X_OK) == 0)
                return vs_xstrdup(env);
        len = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (len > 0) {
                char *slash;

                self[len] = '\0';
                slash = strrchr(self, '/');
                if (slash) {
                        char *candidate;

                        *slash = '\0';
                        candidate = vs_strdupf("%s/vsview", self);
                        if (access(candidate, X_OK) == 0)
                                return candidate;
                        free(candidate);
                }
        }
        if (access(VS_LIBEXECDIR "/vsview", X_OK) == 0)
                return vs_xstrdup(VS_LIBEXECDIR "/vsview");
        return NULL;
}

/* Starts vsview on the connection; resend: it takes over from one that
 * died. */
/* fds[i] becomes fd 3 + i, inheritable (a child's, before exec). */
static int place_fds(const int *fds, int n)
{
        int high[8];

        for (int i = 0; i < n; i++)
                if ((high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 16)) < 0)
                        return -1;
        for (int i = 0; i < n; i++)
                if (dup2(high[i], 3 + i) < 0)
                        return -1;
        return 0;
}

static void send_listener(struct vsd *d, const struct vsd_notify *n)
{
        char msg[128];
        int len = snprintf(msg, sizeof(msg), "notify %llu %s", (unsigned long long)n->id, n->name);

        if (d->view_ctl_fd >= 0 && vs_send_fds(d->view_ctl_fd, msg, (size_t)len, &n->fd, 1) < 0)
                vs_log(LOG_WARNING, "hand the seccomp listener of %s to vsview: %m", n->name);
}

static void close_ctl(struct vsd *d)
{
        if (d->view_ctl_fd >= 0)
                close(d->view_ctl_fd);
        d->view_ctl_fd = -1;
}

/* A control socket whose sends never block vsd for long. */
static void ctl_timeouts(int fd)
{
        struct timeval tv = { .tv_sec = 2 };

        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static int spawn_server(struct vsd *d, int resend, vs_error_t *err)
{
        cleanup_free char *path = find_vsview();
        int ctl[2];
        pid_t pid;

        if (!path)
                return vs_error_set(err, ENOENT, "vsview not found");
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0)
                return vs_error_errno(err, "socketpair for vsview");
        pid = fork();
        if (pid < 0) {
                close(ctl[0]);
                close(ctl[1]);
                return vs_error_errno(err, "fork vsview");
        }
        if (pid == 0) {
                int fds[3] = { d->view_fuse_fd, ctl[1], d->view_inflight_fd };
                char *argv[12] = { "vsview", "--root", d->root, "--fd", "3", "--ctl", "4" };
                int argc = 7;

                if (d->view_inflight_fd >= 0) {
                        argv[argc++] = "--inflight";
                        argv[argc++] = "5";
                }
                if (resend)
                        argv[argc++] = "--resend";
                /* its own session: a signal to vsd's terminal is not its */
                setsid();
                if (place_fds(fds, d->view_inflight_fd >= 0 ? 3 : 2) < 0)
                        _exit(127);
                execv(path, argv);
                _exit(127);
        }
        close(ctl[1]);
        close_ctl(d);
        d->view_ctl_fd = ctl[0];
        ctl_timeouts(d->view_ctl_fd);
        /* the new server gets every listener; it answers what the last one
         * had taken and left unanswered */
        for (size_t i = 0; i < d->nnotify; i++)
                send_listener(d, &d->notify[i]);
        d->view_pid = pid;
        d->view_is_child = 1;
        d->view_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (d->view_pidfd < 0)
                return vs_error_errno(err, "pidfd of vsview");
        fcntl(d->view_pidfd, F_SETFD, FD_CLOEXEC);
        d->view_ev = (struct ev){ EV_VIEW_EXIT, NULL };
        if (vsd_epoll_add(d, d->view_pidfd, &d->view_ev, EPOLLIN) < 0)
                return vs_error_errno(err, "epoll vsview");
        vs_log(LOG_INFO, "vsview %d serves the view%s", (int)pid, resend ? " (taken over)" : "");
        return 0;
}

static void keep_listener(struct vsd *d, uint64_t id, const char *name, int fd)
{
        struct vsd_notify *n;

        d->notify = vs_xgrow(d->notify, d->nnotify, &d->notify_cap, 16, sizeof(*d->notify));
        n = &d->notify[d->nnotify++];
        n->id = id;
        n->fd = vs_fd_park(fd);
        vs_strlcpy(n->name, name, sizeof(n->name));
        if (id >= d->notify_next_id)
                d->notify_next_id = id + 1;
}

/* The listeners an earlier vsd handed to vsview: this vsd's copies. */
static void take_listeners(struct vsd *d)
{
        if (send(d->view_ctl_fd, "list", 4, MSG_NOSIGNAL) != 4)
                return;
        for (;;) {
                char msg[128], name[VS_NAME_MAX + 2];
                int fds[VS_FDPASS_MAX], nfds = 0;
                unsigned long long id;
                ssize_t n = vs_recv_fds(d->view_ctl_fd, msg, sizeof(msg) - 1, fds, &nfds, NULL);

                if (n <= 0)
                        return;
                msg[n] = '\0';
                if (nfds == 1 && sscanf(msg, "notify %llu %64s", &id, name) == 2) {
                        keep_listener(d, id, name, fds[0]);
                        continue;
                }
                for (int i = 0; i < nfds; i++)
                        close(fds[i]);
                if (strcmp(msg, "end") == 0)
                        break;
        }
        vs_log(LOG_INFO, "took %zu seccomp listeners back from vsview", d->nnotify);
}

/* A vsview of an earlier vsd: its descriptor and pid, over vsview.sock. */
static int adopt_server(struct vsd *d)
{
        struct sockaddr_un addr = { .sun_family = AF_UNIX };
        cleanup_close int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        char msg[64];
        int fds[VS_FDPASS_MAX], nfds = 0, truncated = 0;
        ssize_t n;
        struct statfs sf;
        pid_t pid;

        snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d/vsview.sock", d->run_fd);
        if (sock < 0 || connect(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0)
                return -1;
        ctl_timeouts(sock);
        n = vs_recv_fds(sock, msg, sizeof(msg) - 1, fds, &nfds, &truncated);
        if (n <= 0 || nfds < 1 || nfds > 2) {
                for (int i = 0; i < nfds; i++)
                        close(fds[i]);
                return -1;
        }
        msg[n] = '\0';
        pid = (pid_t)atoi(msg + (strncmp(msg, "vsview ", 7) == 0 ? 7 : 0));
        if (pid <= 0 || statfs(d->view_dir, &sf) < 0 || sf.f_type != FUSE_SUPER_MAGIC) {
                for (int i = 0; i < nfds; i++)
                        close(fds[i]);
                return -1;
        }
        d->view_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (d->view_pidfd < 0) {
                for (int i = 0; i < nfds; i++)
                        close(fds[i]);
                return -1;
        }
        if (nfds == 2) {
                if (d->view_inflight_fd >= 0)
                        close(d->view_inflight_fd);
                d->view_inflight_fd = fds[1];
        }
        d->view_ctl_fd = steal_fd(sock);
        take_listeners(d);
        fcntl(d->view_pidfd, F_SETFD, FD_CLOEXEC);
        d->view_fuse_fd = fds[0];
        d->view_pid = pid;
        d->view_is_child = 0;
        d->view_ev = (struct ev){ EV_VIEW_EXIT, NULL };
        if (vsd_epoll_add(d, d->view_pidfd, &d->view_ev, EPOLLIN) < 0)
                return -1;
        vs_log(LOG_INFO, "vsview %d of an earlier vsd goes on serving the view", (int)pid);
        return 0;
}

static int mount_view(struct vsd *d, vs_error_t *err)
{
        cleanup_free char *opts = NULL;
        struct statfs sf;

        /* a mount whose server and vsd both died answers nothing: away */
        if (statfs(d->view_dir, &sf) < 0 || sf.f_type == FUSE_SUPER_MAGIC)
                umount2(d->view_dir, MNT_DETACH);
        d->view_fuse_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
        if (d->view_fuse_fd < 0)
                return vs_error_errno(err, "open /dev/fuse");
        opts = vs_strdupf("fd=%d,rootmode=40555,user_id=0,group_id=0,allow_other", d->view_fuse_fd);
        if (mount("vsview", d->view_dir, "fuse.vsview",
                  MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, opts) < 0)
                return vs_error_errno(err, "mount the view on %s", d->view_dir);
        return 0;
}

int vsd_view_init(struct vsd *d, vs_error_t *err)
{
        d->view_dir = vs_strdupf("%s/run/paene/view", d->root);
        if (vs_mkdir_p(d->view_dir, 0755, err) < 0 ||
            (mkdirat(d->run_fd, "view.d", 0700) < 0 && errno != EEXIST))
                return vs_error_errno(err, "mkdir run/paene/view.d");
        d->view_reg_fd = openat(d->run_fd, "view.d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (d->view_reg_fd < 0)
                return vs_error_errno(err, "open run/paene/view.d");
        if (adopt_server(d) == 0)
                return 0;
        d->view_inflight_fd = memfd_create("vsview-inflight", MFD_CLOEXEC);
        if (d->view_inflight_fd < 0 || ftruncate(d->view_inflight_fd, VSVIEW_INFLIGHT_BYTES) < 0)
                return vs_error_errno(err, "memfd for vsview");
        if (mount_view(d, err) < 0 || spawn_server(d, 0, err) < 0)
                return vs_error_wrap(err, "procview");
        return 0;
}

int vsd_view_ready(struct vsd *d)
{
        return d->view_fuse_fd >= 0;
}

void vsd_view_exited(struct vsd *d)
{
        vs_error_t err = { 0 };
        siginfo_t info = { 0 };

        if (d->view_is_child)
                waitid((idtype_t)P_PIDFD, (id_t)d->view_pidfd, &info, WEXITED | WNOHANG);
        vsd_epoll_del(d, d->view_pidfd);
        close(d->view_pidfd);
        d->view_pidfd = -1;
        vs_log(LOG_WARNING, "vsview %d ended; starting another on the same connection",
               (int)d->view_pid);
        close_ctl(d);
        d->view_pid = 0;
        if (spawn_server(d, 1, &err) < 0)
                vs_log(LOG_ERR, "procview: %s", err.msg);
}

/* Listeners whose processes are all gone (the kernel says POLLHUP). */
static void drop_dead_listeners(struct vsd *d)
{
        struct pollfd pfd;

        for (size_t i = 0; i < d->nnotify;) {
                pfd = (struct pollfd){ .fd = d->notify[i].fd };
                if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR | POLLNVAL))) {
                        vs_fd_close(d->notify[i].fd);
                        d->notify[i] = d->notify[--d->nnotify];
                } else {
                        i++;
                }
        }
}

void vsd_view_notify_add(struct vsd *d, const char *name, int fd)
{
        struct timespec now;

        if (fd < 0)
                return;
        if (!d->notify_next_id) {
                clock_gettime(CLOCK_REALTIME, &now);
                d->notify_next_id = (uint64_t)now.tv_sec << 20;
        }
        keep_listener(d, d->notify_next_id, name, fd);
        send_listener(d, &d->notify[d->nnotify - 1]);
}

/* Waits (the control socket's 2 s at most) for vsview to drop the pages of
 * name's view: a read after `vsctl set` answers shows the new limits. */
void vsd_view_changed(struct vsd *d, const char *name)
{
        char msg[128], answer[16];
        int len = snprintf(msg, sizeof(msg), "changed %s", name);
        ssize_t n;

        if (d->view_ctl_fd < 0)
                return;
        if (send(d->view_ctl_fd, msg, (size_t)len, MSG_NOSIGNAL) != len) {
                vs_log(LOG_WARNING, "tell vsview of %s's new limits: %m", name);
                return;
        }
        do
                n = recv(d->view_ctl_fd, answer, sizeof(answer), 0);
        while (n > 0 && (n != 7 || memcmp(answer, "changed", 7) != 0));
        if (n <= 0)
                vs_log(LOG_WARNING, "vsview did not answer for %s's new limits", name);
}

int vsd_view_wants_notify(struct vsd *d, const struct vps *v)
{
        return d->view_reg_fd >= 0 && faccessat(d->view_reg_fd, v->name, F_OK, 0) == 0;
}

/* vsd's tick: a server that could not be started is tried again. */
void vsd_view_tick(struct vsd *d)
{
        vs_error_t err = { 0 };

        drop_dead_listeners(d);
        if (d->view_fuse_fd >= 0 && d->view_pidfd < 0 && spawn_server(d, 1, &err) < 0)
                vs_log(LOG_ERR, "procview: %s", err.msg);
}

char *vsd_view_dir_of(struct vsd *d, const char *name)
{
        return vs_strdupf("%s/%s", d->view_dir, name);
}

static void add_dir(vs_kv_t *kv, vs_cgroup_t *cg, const char *controller, int *v2)
{
        char link[64], path[PATH_MAX];
        int fd = vs_cgroup_controller_fd(cg, controller, v2, NULL);
        ssize_t len;

        if (fd < 0) {
                /* a cgroup made only for a limit (cpuset): vsview opens it
                 * by its path at each read, so that one a live set makes
                 * is seen */
                cleanup_free char *absent = vs_cgroup_controller_path(cg, controller);

                if (absent)
                        vs_kv_set(kv, controller, absent);
                return;
        }
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        len = readlink(link, path, sizeof(path) - 1);
        if (len <= 0)
                return;
        path[len] = '\0';
        vs_kv_set(kv, controller, path);
}

/* The uid column of its beancounters, as OpenVZ numbers containers from
 * 101: the VPS's id range, 100 for a privileged VPS. */
static unsigned long ctid_of(const struct vps *v)
{
        return v->idmap.base >= VS_ID_BASE_FIRST
                       ? 101 + (v->idmap.base - VS_ID_BASE_FIRST) / VS_ID_RANGE
                       : 100UL;
}

/* Its hard disk limit (--diskspace), 0: none. */
static uint64_t diskspace_of(struct vsd *d, const struct vps *v)
{
        cleanup_kv vs_kv_t config = { 0 };
        vs_disk_limit_t lim = { 0 };
        const char *space;

        if (vsd_config_load(d, v->name, &config, NULL) < 0 ||
            !(space = vs_kv_get(&config, "diskspace")) ||
            vs_disk_parse_space(space, &lim, NULL) < 0)
                return 0;
        return lim.hard;
}

int vsd_view_register(struct vsd *d, struct vps *v, vs_error_t *err)
{
        static const char *const controllers[] = { "memory", "cpuacct", "cpu", "cpuset", "pids" };
        cleanup_kv vs_kv_t kv = { 0 };
        cleanup_free char *text = NULL;
        struct timespec now;
        int v2 = 0;

        clock_gettime(CLOCK_BOOTTIME, &now);
        for (size_t i = 0; i < sizeof(controllers) / sizeof(controllers[0]); i++)
                add_dir(&kv, v->cg, controllers[i], &v2);
        if (!vs_kv_get(&kv, "memory"))
                return vs_error_set(err, ENOENT, "procview: the VPS has no memory cgroup");
        vs_kv_set(&kv, "v2", v2 ? "1" : "0");
        vs_kv_setf(&kv, "started_ns", "%llu",
                   (unsigned long long)now.tv_sec * 1000000000ULL +
                           (unsigned long long)now.tv_nsec);
        vs_kv_setf(&kv, "ctid", "%lu", ctid_of(v));
        vs_kv_setf(&kv, "numfile", "%lu", v->numfile);
        vs_kv_setf(&kv, "diskspace", "%llu", (unsigned long long)diskspace_of(d, v));
        vs_kv_setf(&kv, "init_pid", "%d", (int)v->pid);
        text = vs_kv_format(&kv);
        return vs_write_atomic(d->view_reg_fd, v->name, text, strlen(text), 0600, 0, err);
}

void vsd_view_unregister(struct vsd *d, struct vps *v)
{
        if (d->view_reg_fd >= 0)
                unlinkat(d->view_reg_fd, v->name, 0);
}

/* The VPS's source for vs_view_beancounters: its cgroup's directory fds,
 * owned by v->cg. */
int vsd_view_src(struct vsd *d, struct vps *v, vs_view_src_t *src)
{
        int v2 = 0;

        memset(src, 0, sizeof(*src));
        if (!v->cg)
                return -1;
        src->memory = vs_cgroup_controller_fd(v->cg, "memory", &v2, NULL);
        src->cpuacct = vs_cgroup_controller_fd(v->cg, "cpuacct", &v2, NULL);
        src->cpu = vs_cgroup_controller_fd(v->cg, "cpu", &v2, NULL);
        src->cpuset = vs_cgroup_controller_fd(v->cg, "cpuset", &v2, NULL);
        src->pids = vs_cgroup_controller_fd(v->cg, "pids", &v2, NULL);
        src->v2 = v2;
        src->ctid = ctid_of(v);
        src->numfile = v->numfile;
        src->diskspace = d ? diskspace_of(d, v) : 0;
        src->init_pid = (int)v->pid;
        src->count_files = d != NULL;
        return src->memory >= 0 ? 0 : -1;
}
