/* vsd: the one supervisor. One process, one epoll loop: the control socket,
 * a signalfd, and a pidfd per running VPS. VPS keep running when vsd stops. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/cowfs.h"
#include "vs/fsutil.h"
#include "vs/kvfile.h"
#include "vs/log.h"
#include "vs/security.h"
#include "vs/parse.h"
#include "vs/procid.h"
#include "store.h"
#include "serve.h"
#include "slice.h"
#include "slicetime.h"
#include "ducount.h"
#include "rebootmark.h"
#include "later.h"
#include "release.h"
#include "trash.h"

#ifndef VS_LIBEXECDIR
#define VS_LIBEXECDIR "/usr/local/lib/paene"
#endif
#ifndef VS_VERSION
#define VS_VERSION "0.1"
#endif

#define TICK_SECONDS 5
/* how long a new vsd waits for a killed one's forks to let go of its lock */
#define LOCK_WAIT_MS 5000

extern char **environ;

struct options {
        const char *root;
        const char *cgroup_name;
        int foreground;
};

static void usage(FILE *out)
{
        fprintf(out, "Usage: vsd [--root DIR] [--foreground] [--cgroup-name NAME]\n"
                     "\n"
                     "The paene daemon: builds and supervises the VPS of one state root.\n"
                     "\n"
                     "  -r, --root DIR          state root (default /): DIR/var/lib/paene holds\n"
                     "                          templates and VPS, DIR/run/paene the socket\n"
                     "  -f, --foreground        stay in the foreground and log to stderr\n"
                     "                          (otherwise: daemonize, log to syslog)\n"
                     "      --cgroup-name NAME  name of vsd's cgroup subtree below its own\n"
                     "                          cgroup on each hierarchy (default paene)\n"
                     "  -h, --help              show this help\n"
                     "  -V, --version           show the version\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
        static const struct option longopts[] = {
                { "root", required_argument, NULL, 'r' },
                { "foreground", no_argument, NULL, 'f' },
                { "cgroup-name", required_argument, NULL, 'c' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { NULL, 0, NULL, 0 },
        };
        vs_error_t err = { 0 };
        int opt;

        o->root = "/";
        o->cgroup_name = "paene";
        while ((opt = getopt_long(argc, argv, "r:fhV", longopts, NULL)) != -1) {
                switch (opt) {
                case 'r':
                        o->root = optarg;
                        break;
                case 'f':
                        o->foreground = 1;
                        break;
                case 'c':
                        o->cgroup_name = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        exit(0);
                case 'V':
                        printf("vsd %s\n", VS_VERSION);
                        exit(0);
                default:
                        usage(stderr);
                        exit(2);
                }
        }
        if (optind < argc) {
                fprintf(stderr, "vsd: unexpected argument '%s'\n", argv[optind]);
                exit(2);
        }
        if (vs_parse_name(o->cgroup_name, "cgroup name", &err) < 0) {
                fprintf(stderr, "vsd: %s\n", err.msg);
                exit(2);
        }
        return 0;
}

/* ---- state root ---- */

static int open_root_dir(struct vsd *d, const char *sub, char **abs, vs_error_t *err)
{
        cleanup_free char *path = vs_strdupf("%s/%s", d->root, sub);
        int fd;

        if (vs_mkdir_p(path, 0755, err) < 0)
                return -1;
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return vs_error_errno(err, "open %s", path);
        if (abs)
                *abs = steal_ptr(path);
        return fd;
}

static int setup_root(struct vsd *d, const char *root, vs_error_t *err)
{
        char resolved[PATH_MAX];
        int slices_fd;

        if (vs_mkdir_p(root, 0755, err) < 0)
                return -1;
        if (!realpath(root, resolved))
                return vs_error_errno(err, "root %s", root);
        if (!vs_rootfs_path_ok(resolved))
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "root %s: path may not contain ',' ':' or '\\'", resolved);
        d->root = vs_xstrdup(strcmp(resolved, "/") == 0 ? "" : resolved);
        if (open_root_dir(d, "etc/paene", NULL, err) < 0)
                return -1;
        slices_fd = open_root_dir(d, "var/lib/paene/slices", NULL, err);
        if (slices_fd < 0)
                return -1;
        if (vsd_slice_load_all(d, slices_fd, err) < 0) {
                close(slices_fd);
                return -1;
        }
        close(slices_fd);
        /* etc/paene only needed to exist */
        d->vps_fd = open_root_dir(d, "var/lib/paene/vps", &d->vps_dir, err);
        d->tmpl_fd = open_root_dir(d, "var/lib/paene/templates", &d->tmpl_dir, err);
        d->run_fd = open_root_dir(d, "run/paene", NULL, err);
        if (d->vps_fd < 0 || d->tmpl_fd < 0 || d->run_fd < 0)
                return -1;
        /* the VPS's seccomp listener (vsview) marks a reboot inside here */
        if (mkdirat(d->run_fd, VSD_REBOOT_DIR, 0700) < 0 && errno != EEXIST)
                return vs_error_errno(err, "mkdir run/paene/%s", VSD_REBOOT_DIR);
        d->reboot_fd =
                openat(d->run_fd, VSD_REBOOT_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (d->reboot_fd < 0)
                return vs_error_errno(err, "open run/paene/%s", VSD_REBOOT_DIR);
        return 0;
}

/* Whether the vsd the pid file names is gone (or a zombie): its lock may
 * then still be held a moment by its forks, which its death ends. */
static int lock_owner_gone(const char *pid_text)
{
        cleanup_free char *stat = NULL;
        char path[64];
        uint64_t pid;
        unsigned long long starttime;
        int status;

        if (vs_parse_uint(pid_text, 1, INT_MAX, "pid", &pid, NULL) < 0)
                return 0;
        if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
                return 1;
        snprintf(path, sizeof(path), "/proc/%llu/stat", (unsigned long long)pid);
        if (vs_read_file(AT_FDCWD, path, 4096, &stat, NULL, NULL) < 0)
                return 1;
        return vs_procid_parse_zombie(stat, &starttime, &status) == 1;
}

/* The pid file doubles as the lock that keeps a second vsd off this root. */
static int take_lock(struct vsd *d, vs_error_t *err)
{
        long pause_ms = 1;

        d->lock_fd = openat(d->run_fd, "vsd.pid", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (d->lock_fd < 0)
                return vs_error_errno(err, "open pid file");
        for (;;) {
                cleanup_free char *text = NULL;

                if (flock(d->lock_fd, LOCK_EX | LOCK_NB) == 0)
                        return 0;
                if (errno != EWOULDBLOCK)
                        return vs_error_errno(err, "lock pid file");
                vs_read_file(d->run_fd, "vsd.pid", 64, &text, NULL, NULL);
                if (text)
                        text[strcspn(text, "\n")] = '\0';
                if (!text || !lock_owner_gone(text) || vs_backoff(&pause_ms, LOCK_WAIT_MS) < 0)
                        return vs_error_kind(
                                err, VS_E_STATE, EBUSY, "vsd is already running on %s (pid %s)",
                                *d->root ? d->root : "/", text && *text ? text : "unknown");
        }
}

static int write_pid(struct vsd *d, vs_error_t *err)
{
        char buf[32];
        int len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());

        if (ftruncate(d->lock_fd, 0) < 0 || pwrite(d->lock_fd, buf, (size_t)len, 0) != len)
                return vs_error_errno(err, "write pid file");
        return 0;
}

/* ---- the built-in init ---- */

static char *find_vsinit(void)
{
        char self[PATH_MAX];
        ssize_t len;
        const char *env = getenv("VS_VSINIT");

        if (env && access(env, X_OK) == 0)
                return vs_xstrdup(env);
        len = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (len > 0) {
                char *slash, *candidate;

                self[len] = '\0';
                slash = strrchr(self, '/');
                if (slash) {
                        *slash = '\0';
                        candidate = vs_strdupf("%s/vsinit", self);
                        if (access(candidate, X_OK) == 0)
                                return candidate;
                        free(candidate);
                }
        }
        if (access(VS_LIBEXECDIR "/vsinit", X_OK) == 0)
                return vs_xstrdup(VS_LIBEXECDIR "/vsinit");
        return NULL;
}

/* A sealed in-memory copy of vsinit: a VPS execs it without the file
 * appearing in its root, and nothing in a VPS can write to it through
 * /proc/1/exe. */
static int load_vsinit(vs_error_t *err)
{
        cleanup_free char *path = find_vsinit();
        cleanup_close int in = -1;
        cleanup_close int memfd = -1;
        char buf[65536];
        ssize_t n;

        if (!path)
                return vs_error_set(err, ENOENT, "vsinit not found");
        in = open(path, O_RDONLY | O_CLOEXEC);
        memfd = memfd_create("vsinit", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (in < 0 || memfd < 0)
                return vs_error_errno(err, "load %s", path);
        while ((n = read(in, buf, sizeof(buf))) > 0)
                if (write(memfd, buf, (size_t)n) != n)
                        return vs_error_errno(err, "copy %s", path);
        if (n < 0 ||
            fcntl(memfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
                return vs_error_errno(err, "seal %s", path);
        return steal_fd(memfd);
}

static int setup_signals(struct vsd *d, vs_error_t *err)
{
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return vs_error_errno(err, "block signals");
        signal(SIGPIPE, SIG_IGN);
        d->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (d->sigfd < 0)
                return vs_error_errno(err, "signalfd");
        return 0;
}

static int setup_tick(struct vsd *d, vs_error_t *err)
{
        struct itimerspec every = { { TICK_SECONDS, 0 }, { TICK_SECONDS, 0 } };

        d->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (d->tick_fd < 0 || timerfd_settime(d->tick_fd, 0, &every, NULL) < 0)
                return vs_error_errno(err, "timerfd");
        return 0;
}

/* The admins' group: created when missing (groupadd, from the host's
 * shadow tools) so that a fresh install works without manual steps. */
static gid_t admin_group(void)
{
        char *const argv[] = { "groupadd", "--system", "paene", NULL };
        struct group *grp = getgrnam("paene");
        posix_spawn_file_actions_t actions;
        pid_t pid;
        int status;

        if (grp)
                return grp->gr_gid;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        if (posix_spawnp(&pid, "groupadd", &actions, NULL, argv, environ) == 0)
                waitpid(pid, &status, 0);
        posix_spawn_file_actions_destroy(&actions);
        grp = getgrnam("paene");
        if (!grp) {
                vs_log(LOG_WARNING, "no group paene and groupadd failed: only root may use vsd");
                return 0;
        }
        vs_log(LOG_NOTICE, "created group paene (gid %d) for vsd's admins", (int)grp->gr_gid);
        return grp->gr_gid;
}

static int setup_socket(struct vsd *d, vs_error_t *err)
{
        struct sockaddr_un addr = { .sun_family = AF_UNIX };
        int len = snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/run/paene/vsd.sock", d->root);

        if (len >= (int)sizeof(addr.sun_path))
                return vs_error_set(err, ENAMETOOLONG,
                                    "socket path %s/run/paene/vsd.sock is too long", d->root);
        d->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (d->listen_fd < 0)
                return vs_error_errno(err, "socket");
        /* we hold the lock: a socket file left here is a dead vsd's */
        unlinkat(d->run_fd, "vsd.sock", 0);
        if (bind(d->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
                return vs_error_errno(err, "bind %s", addr.sun_path);
        d->admin_gid = admin_group();
        /* everybody may connect: slice owners are ordinary users, and vsd
         * itself tells admins, owners and the others apart by SO_PEERCRED
         * at accept (authz.c), refusing the others there */
        if (fchownat(d->run_fd, "vsd.sock", 0, d->admin_gid, 0) < 0 ||
            fchmodat(d->run_fd, "vsd.sock", 0666, 0) < 0)
                return vs_error_errno(err, "set the socket's owner and mode");
        if (listen(d->listen_fd, 128) < 0)
                return vs_error_errno(err, "listen");
        return 0;
}

/* ---- loop ---- */

/* A request: handlers.c answers it now, or parks the client. */
static void client_request(struct vsd *d, struct client *c)
{
        vs_request_t req;

        if (vsd_client_read(d, c, &req) == 0)
                return;
        if (vsd_handle_request(d, c, &req) == 0)
                vsd_client_finish(d, c);
        vs_request_free(&req);
}

static void read_signals(struct vsd *d)
{
        struct signalfd_siginfo si;

        while (read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
                        vs_log(LOG_INFO, "%s: exiting; VPS keep running",
                               si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
                        d->quit = 1;
                }
                if (si.ssi_signo == SIGHUP) {
                        vs_error_t err = { 0 };

                        if (vsd_client_conf_load(d, &err) < 0 ||
                            vsd_slicetime_conf_load(d, &err) < 0)
                                vs_log(LOG_ERR, "SIGHUP: %s (the old values stay)", err.msg);
                        else
                                vs_log(LOG_INFO, "SIGHUP: read vsd.conf again");
                }
                /* SIGCHLD: children are reaped through their pidfds */
        }
}

/* What a vsd killed in the middle of a backup or a snapshot command left
 * in a VPS's directory (a copy of its layer, for one), a migration's
 * listing of the rounds it sent, a backup's manifest, and what an earlier
 * vsd's remover had not finished: to this vsd's remover. */
static void sweep_leftovers(struct vsd *d)
{
        for (struct vps *v = d->vps_list; v; v = v->next) {
                vsd_trash_resume_within(d, v->name);
                vsd_backup_sweep(d, v->name);
                vsd_snapshot_sweep(d, v->name);
                vsd_migrate_sweep(d, v);
        }
        vsd_backup_sweep_manifests(d);
}

static void dispatch(struct vsd *d, struct ev *ev, uint32_t events)
{
        uint64_t ticks;

        switch (ev->kind) {
        case EV_LISTEN:
                vsd_clients_accept(d);
                break;
        case EV_SIGNAL:
                read_signals(d);
                break;
        case EV_TICK:
                (void)!read(d->tick_fd, &ticks, sizeof(ticks));
                vsd_view_tick(d);
                vsd_slicetime_tick(d);
                vsd_slice_tick(d);
                break;
        case EV_CLIENT:
                client_request(d, ev->owner);
                break;
        case EV_VPS_EXIT:
                vsd_vps_exited(d, ev->owner);
                break;
        case EV_VPS_TIMER: {
                struct vps *v = ev->owner;

                (void)!read(v->timerfd, &ticks, sizeof(ticks));
                vsd_vps_stop_timeout(d, v);
                break;
        }
        case EV_EXEC_EXIT:
                vsd_handle_exec_exited(d, ev->owner);
                break;
        case EV_WORK_EXIT:
                vsd_work_exited(d, ev->owner);
                break;
        case EV_ONBOOT:
                vsd_onboot_step(d);
                break;
        case EV_METRICS_LISTEN:
        case EV_METRICS_CLIENT:
        case EV_METRICS_RESPONDER:
                vsd_metrics_event(d, ev);
                break;
        case EV_VIEW_EXIT:
                vsd_view_exited(d);
                break;
        case EV_DU:
                vsd_du_answered(d);
                break;
        case EV_RELEASE:
                vsd_release_answered(d);
                break;
        }
        (void)events;
}

static int run_loop(struct vsd *d)
{
        struct epoll_event events[64];

        while (!d->quit) {
                int n = epoll_wait(d->epfd, events, 64,
                                   vsd_later_timeout(d, vsd_clients_next_wakeup(d)));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        vs_log(LOG_ERR, "epoll_wait: %m");
                        return 1;
                }
                for (int i = 0; i < n; i++)
                        dispatch(d, events[i].data.ptr, events[i].events);
                vsd_clients_after_pass(d);
                vsd_later_tick(d, n);
                /* a running VPS holds one descriptor of vsd's between
                 * requests, its init's pidfd */
                vs_cgroup_tree_release(d->cgtree);
        }
        return 0;
}

/* ---- start-up ---- */

/* Forks into the background; the parent exits only when the child says it
 * is ready or why it failed, so `vsd` returning 0 means the socket answers. */
static int daemonize(int *ready_fd)
{
        int pipefd[2], null_fd;
        pid_t pid;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -1;
        pid = fork();
        if (pid < 0)
                return -1;
        if (pid > 0) {
                char report[1100];
                ssize_t n;

                close(pipefd[1]);
                n = read(pipefd[0], report, sizeof(report) - 1);
                if (n <= 0)
                        _exit(1);
                report[n] = '\0';
                if (report[0] != '0')
                        fprintf(stderr, "vsd: %s\n", n > 1 ? report + 1 : "failed to start");
                _exit(report[0] == '0' ? 0 : 1);
        }
        close(pipefd[0]);
        setsid();
        if (fork() > 0)
                _exit(0);
        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd >= 0) {
                dup2(null_fd, STDIN_FILENO);
                dup2(null_fd, STDOUT_FILENO);
                dup2(null_fd, STDERR_FILENO);
                close(null_fd);
        }
        *ready_fd = pipefd[1];
        return 0;
}

/* Tells the waiting parent "0" (ready) or "1" and the error message. */
static void signal_ready(int *ready_fd, const vs_error_t *err)
{
        char report[1100];
        int len;

        if (*ready_fd < 0)
                return;
        len = snprintf(report, sizeof(report), "%c%s", err ? '1' : '0', err ? err->msg : "");
        (void)!write(*ready_fd, report, (size_t)len);
        close(*ready_fd);
        *ready_fd = -1;
}

static int start_daemon(struct vsd *d, const struct options *o, int *ready_fd, vs_error_t *err)
{
        vs_error_t warn = { 0 };

        if (setup_root(d, o->root, err) < 0 || take_lock(d, err) < 0 ||
            vsd_client_conf_load(d, err) < 0 || vsd_slicetime_conf_load(d, err) < 0)
                return -1;
        if (!o->foreground && daemonize(ready_fd) < 0)
                return vs_error_errno(err, "daemonize");
        vs_log_open("vsd", o->foreground);
        if (write_pid(d, err) < 0 || setup_signals(d, err) < 0 || setup_tick(d, err) < 0)
                return -1;
        /* before the VPS are loaded: it takes what an interrupted destroy left */
        if (vsd_trash_start(d, &warn) < 0)
                vs_log(LOG_WARNING, "%s: vsd removes destroyed VPS's files itself", warn.msg);
        d->own_pidns_fd = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
        if (d->own_pidns_fd < 0)
                return vs_error_errno(err, "open own pid namespace");
        d->vsinit_fd = load_vsinit(&warn);
        if (d->vsinit_fd < 0)
                vs_log(LOG_WARNING, "%s: VPS without /sbin/init cannot start", warn.msg);
        d->busybox_path = "/bin/busybox";
        {
                cleanup_free char *deny = vs_strdupf("%s/etc/paene/seccomp.deny", d->root);

                if (vs_security_init(deny, err) < 0)
                        return vs_error_wrap(err, "seccomp profile");
        }
        if (vs_security_mask_init(&warn) < 0)
                vs_log(LOG_WARNING, "%s: each VPS mounts its own", warn.msg);
        if (vs_cgroup_tree_open(o->cgroup_name, &d->cgtree, err) < 0)
                return -1;
        d->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (d->epfd < 0)
                return vs_error_errno(err, "epoll");
        if (vsd_du_start(d, &warn) < 0)
                vs_log(LOG_WARNING, "%s: vsd counts VPS's layers itself", warn.msg);
        if (vsd_release_start(d, &warn) < 0)
                vs_log(LOG_WARNING, "%s: each init's exit releases its own root", warn.msg);
        vs_template_store_recover(d->tmpl_fd);
        /* before adoption: a VPS that runs on needs its view answered */
        if (vsd_view_init(d, &warn) < 0)
                vs_log(LOG_WARNING, "%s: VPS with procview on cannot start", warn.msg);
        if (vsd_net_init(d, err) < 0 || vsd_vps_load_all(d, err) < 0 ||
            vsd_net_firewall(d, err) < 0)
                return -1;
        /* after adoption: what is left is a veth of a VPS that is gone */
        vsd_net_sweep(d);
        sweep_leftovers(d);
        if (setup_socket(d, err) < 0 || vsd_metrics_listen(d, err) < 0)
                return -1;
        static struct ev signal_ev = { EV_SIGNAL, NULL }, tick_ev = { EV_TICK, NULL };
        if (vsd_epoll_add(d, d->listen_fd, &vsd_listen_ev, EPOLLIN) < 0 ||
            vsd_epoll_add(d, d->sigfd, &signal_ev, EPOLLIN) < 0 ||
            vsd_epoll_add(d, d->tick_fd, &tick_ev, EPOLLIN) < 0)
                return vs_error_errno(err, "epoll_ctl");
        vs_log(LOG_INFO, "ready on %s (cgroup %s, vsd %s)", *d->root ? d->root : "/",
               vs_cgroup_mode_name(vs_cgroup_tree_mode(d->cgtree)), VS_VERSION);
        vsd_vps_restart_rebooted(d);
        vsd_onboot_begin(d);
        return 0;
}

/* Leaves every VPS running; frees what vsd held so that a leak checker
 * reports only real leaks. */
static void shut_down(struct vsd *d)
{
        vsd_console_release(d);
        unlinkat(d->run_fd, "vsd.sock", 0);
        unlinkat(d->run_fd, "vsd.pid", 0);
        vsd_metrics_close(d);
        vsd_trash_close(d);
        vsd_du_close(d);
        vsd_release_close(d);
        while (d->clients) {
                struct client *c = d->clients;

                d->clients = c->next;
                free(c);
        }
        while (d->vps_list) {
                struct vps *v = d->vps_list;

                d->vps_list = v->next;
                vs_cgroup_free(v->cg);
                vsd_vps_config_drop(v);
                free(v);
        }
        vs_nameidx_free(&d->vps_index);
        if (d->cgtree) {
                vs_cgroup_tree_prune(d->cgtree);
                vs_cgroup_tree_free(d->cgtree);
        }
        vs_nft_free(d->nft);
        vs_net_free(d->net);
        vsd_slice_free_all(d);
        vsd_slicetime_free(d);
        free(d->root);
        free(d->vps_dir);
        free(d->tmpl_dir);
        free(d->view_dir);
}

/* Every running VPS costs vsd one descriptor: take all the hard limit
 * allows (raising it needs CAP_SYS_RESOURCE, which is the admin's, through
 * LimitNOFILE= of the unit). */
static void raise_nofile(void)
{
        struct rlimit lim;

        if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
                lim.rlim_cur = lim.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &lim) < 0)
                        vs_log(LOG_WARNING, "raise the open files limit to %llu: %m",
                               (unsigned long long)lim.rlim_max);
        }
}

int main(int argc, char **argv)
{
        struct vsd d = { .hooks = { .client_gone = vsd_migrate_client_gone,
                                    .vps_stopped = vsd_handle_vps_stopped,
                                    .vps_stop_answer = vsd_handle_vps_stop_answer,
                                    .vps_removed = vsd_handle_vps_removed,
                                    .save_state = vsd_vps_save_state,
                                    .event = vsd_event,
                                    .slice_may_start = vsd_slicetime_may_start,
                                    .slice_started = vsd_slicetime_started },
                         .vps_fd = -1,
                         .tmpl_fd = -1,
                         .run_fd = -1,
                         .reboot_fd = -1,
                         .epfd = -1,
                         .sigfd = -1,
                         .listen_fd = -1,
                         .tick_fd = -1,
                         .lock_fd = -1,
                         .trash_fd = -1,
                         .du_queue_fd = -1,
                         .du_answer_fd = -1,
                         .release_fd = -1,
                         .vsinit_fd = -1,
                         .own_pidns_fd = -1,
                         .view_fuse_fd = -1,
                         .view_reg_fd = -1,
                         .view_pidfd = -1,
                         .view_ctl_fd = -1,
                         .view_inflight_fd = -1 };
        struct options o = { 0 };
        vs_error_t err = { 0 };
        int ready_fd = -1, rc;

        parse_options(argc, argv, &o);
        vs_log_open("vsd", 1);
        raise_nofile();
        if (getuid() != 0 || geteuid() != 0) {
                fprintf(stderr, "vsd: must run as root\n");
                return 1;
        }
        if (start_daemon(&d, &o, &ready_fd, &err) < 0) {
                vs_log(LOG_ERR, "%s", err.msg);
                /* the lock goes before the parent hears of the failure: a
                 * vsd started right after must not find it still held, by
                 * this one or by a fork of it that has not yet closed its
                 * copy (the test_daytwo run at load 9 found so) */
                vsd_release_close(&d);
                vsd_du_close(&d);
                vsd_trash_end(&d);
                if (d.lock_fd >= 0)
                        close(d.lock_fd);
                signal_ready(&ready_fd, &err);
                return 1;
        }
        signal_ready(&ready_fd, NULL);
        rc = run_loop(&d);
        vsd_later_run(&d);
        vsd_handle_exit(&d);
        shut_down(&d);
        return rc;
}
