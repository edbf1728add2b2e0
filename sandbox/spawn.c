#include "vs/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "vs/security.h"

extern char **environ;
#include "vs/cleanup.h"
#include "vs/cowfs.h"
#include "vs/fdpass.h"
#include "vs/fsutil.h"
#include "vs/netns.h"
#include "vs/procview.h"

/* the init's: its mount and cgroup namespaces come later, see init_child
 * (the kernel roots a cgroup namespace made at clone at the parent's
 * cgroup, even with CLONE_INTO_CGROUP) */
#define INIT_NAMESPACES (CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET)
#define JOIN_NAMESPACES (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP)

static const char *const default_env[] = {
        VS_ENV_PATH, VS_ENV_HOME, "TERM=linux", VS_ENV_CONTAINER, NULL,
};

/* ---- child -> parent reports ---- */

enum report_type {
        REPORT_ERROR = 1,
        REPORT_FD = 2,
        REPORT_PID = 3,
        REPORT_READY = 4,
        REPORT_NOTIFY = 5, /* the listener of its seccomp notify filter */
        REPORT_FILES = 6,  /* the builder has its own descriptor table */
};

struct report {
        int type;
        int errnum;
        int kind;  /* REPORT_ERROR: its vs_error_kind_t */
        pid_t pid; /* REPORT_PID: the new init's */
        char msg[1000];
};

static void report_error(int sock, const vs_error_t *err)
{
        struct report r = { .type = REPORT_ERROR, .errnum = err->errnum, .kind = (int)err->kind };

        vs_strlcpy(r.msg, err->msg, sizeof(r.msg));
        (void)!send(sock, &r, sizeof(r), MSG_NOSIGNAL);
}

static int report_fd(int sock, int fd, vs_error_t *err)
{
        struct report r = { .type = REPORT_FD };

        if (vs_send_fds(sock, &r, sizeof(r), &fd, 1) < 0)
                return vs_error_errno(err, "send pty to vsd");
        return 0;
}

/* Last before exec: the filter whose listener answers sysinfo and
 * sched_getaffinity from the view; vsd gets the listener, the child keeps
 * none. A caller that already has a listener (a nested runtime's) goes on
 * without: the kernel allows one per filter chain. */
static int report_notify(int sock, int wanted, vs_error_t *err)
{
        struct report r = { .type = REPORT_NOTIFY };
        vs_error_t ignored = { 0 };
        int fd, rc;

        if (!wanted)
                return 0;
        fd = vs_security_notify_install(&ignored);
        if (fd < 0)
                return 0;
        rc = vs_send_fds(sock, &r, sizeof(r), &fd, 1);
        close(fd);
        if (rc < 0)
                return vs_error_errno(err, "send the seccomp listener to vsd");
        return 0;
}

/* How long vsd waits for the next report of a child it cloned (the
 * builder, the init, an exec's child), which takes milliseconds: a child
 * that hangs before it execs (seen once: an exec's child in a futex wait,
 * cause not found) costs vsd's loop this long, and the child its life,
 * instead of holding every client for good. */
#define REPORT_TIMEOUT_S 30

static void bound_reports(int sock)
{
        struct timeval timeout = { REPORT_TIMEOUT_S, 0 };

        setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
}

static int report_lost(vs_error_t *err, const char *what)
{
        if (errno == EAGAIN || errno == EWOULDBLOCK)
                return vs_error_set(err, ETIMEDOUT, "%s gave no report in %d s: killed", what,
                                    REPORT_TIMEOUT_S);
        return vs_error_errno(err, "read the report of %s", what);
}

/* Reads reports until end of stream (the child exec'd). Returns -1 with the
 * child's error, 0 on success; a passed fd lands in *fd_out, a seccomp
 * listener in *notify_out (closed where NULL). */
static int read_reports(int sock, int *fd_out, int *notify_out, vs_error_t *err)
{
        for (;;) {
                struct report r;
                int fds[VS_FDPASS_MAX], nfds = 0;
                ssize_t n = vs_recv_fds(sock, &r, sizeof(r), fds, &nfds, NULL);

                if (n < 0)
                        return report_lost(err, "the child");
                if (n == 0)
                        return 0;
                for (int i = 0; i < nfds; i++) {
                        if (n == (ssize_t)sizeof(r) && r.type == REPORT_NOTIFY) {
                                if (notify_out && *notify_out < 0)
                                        *notify_out = fds[i];
                                else
                                        close(fds[i]);
                        } else if (fd_out && *fd_out < 0)
                                *fd_out = fds[i];
                        else
                                close(fds[i]);
                }
                if (n == (ssize_t)sizeof(r) && r.type == REPORT_ERROR) {
                        r.msg[sizeof(r.msg) - 1] = '\0';
                        return vs_error_kind(err, (vs_error_kind_t)r.kind, r.errnum, "%s", r.msg);
                }
        }
}

/* ---- clone ---- */

/* With CLONE_PARENT the child is its caller's sibling, and the kernel
 * gives it the caller's exit signal. */
static pid_t clone3_pidfd(uint64_t flags, int *pidfd)
{
        struct clone_args args = {
                .flags = flags | CLONE_PIDFD,
                .pidfd = (uint64_t)(uintptr_t)pidfd,
                .exit_signal = (flags & CLONE_PARENT) ? 0 : SIGCHLD,
        };

        return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

/* As clone3_pidfd, the child born in the v2 cgroup cgroup_fd (>= 0). */
static pid_t clone3_pidfd_into(uint64_t flags, int *pidfd, int cgroup_fd)
{
        struct clone_args args = {
                .flags = flags | CLONE_PIDFD | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0),
                .pidfd = (uint64_t)(uintptr_t)pidfd,
                .exit_signal = (flags & CLONE_PARENT) ? 0 : SIGCHLD,
                .cgroup = cgroup_fd >= 0 ? (uint64_t)cgroup_fd : 0,
        };

        return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

/* Kills a child that failed before exec and, when it is the caller's,
 * waits for it, so that it leaves no zombie. */
static void reap_failed(int pidfd)
{
        siginfo_t info;

        syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
        waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, WEXITED);
}

/* vsd blocks its signals for its signalfd and ignores SIGPIPE; an exec'd
 * program must not inherit either. */
static void reset_signals(void)
{
        sigset_t none;

        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        signal(sig, SIG_DFL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
}

/* In a fresh or joined user namespace a process is nobody until it takes
 * the ids its root maps to. */
static int become_root(vs_error_t *err)
{
        if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
                return vs_error_errno(err, "become root of the VPS's user namespace");
        return 0;
}

/* ---- the VPS's /dev ----
 * Nodes of its own, made on a tmpfs of the host's (a VPS's root may make
 * none: mknod needs a capability of the host's user namespace), owned by
 * the VPS's root: a chmod, chown, rm or rename in a VPS's /dev changes its
 * own inodes, never the host's. */

static const struct {
        const char *name;
        unsigned major, minor;
        mode_t mode;
} dev_nodes[] = {
        { "null", 1, 3, 0666 },
        { "zero", 1, 5, 0666 },
        { "full", 1, 7, 0666 },
        { "random", 1, 8, 0666 },
        { "urandom", 1, 9, 0666 },
        { "tty", 5, 0, 0666 },
        /* a placeholder: the console's pty is bound over it (see
         * bind_console), else it discards */
        { "console", 1, 3, 0600 },
};

static const struct {
        const char *name;
        mode_t mode;
} dev_dirs[] = { { "pts", 0755 }, { "shm", 01777 }, { "mqueue", 0755 } };

static const char *const dev_links[][2] = {
        { "pts/ptmx", "ptmx" },          { "/proc/self/fd", "fd" },
        { "/proc/self/fd/0", "stdin" },  { "/proc/self/fd/1", "stdout" },
        { "/proc/self/fd/2", "stderr" },
};

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* One entry of /dev, owned by the VPS's root; its mode is set after the
 * fact, whatever the umask. */
static int own_entry(int dev_fd, const char *name, mode_t mode, uid_t owner, vs_error_t *err)
{
        if (fchownat(dev_fd, name, owner, owner, AT_SYMLINK_NOFOLLOW) < 0 ||
            (mode && fchmodat(dev_fd, name, mode, 0) < 0))
                return vs_error_errno(err, "own /dev/%s", name);
        return 0;
}

static int fill_dev(int dev_fd, uid_t owner, vs_error_t *err)
{
        for (size_t i = 0; i < NELEMS(dev_nodes); i++) {
                dev_t rdev = makedev(dev_nodes[i].major, dev_nodes[i].minor);

                if (mknodat(dev_fd, dev_nodes[i].name, S_IFCHR | dev_nodes[i].mode, rdev) < 0)
                        return vs_error_errno(err, "mknod /dev/%s", dev_nodes[i].name);
                if (own_entry(dev_fd, dev_nodes[i].name, dev_nodes[i].mode, owner, err) < 0)
                        return -1;
        }
        for (size_t i = 0; i < NELEMS(dev_dirs); i++) {
                if (mkdirat(dev_fd, dev_dirs[i].name, dev_dirs[i].mode) < 0)
                        return vs_error_errno(err, "mkdir /dev/%s", dev_dirs[i].name);
                if (own_entry(dev_fd, dev_dirs[i].name, dev_dirs[i].mode, owner, err) < 0)
                        return -1;
        }
        for (size_t i = 0; i < NELEMS(dev_links); i++) {
                if (symlinkat(dev_links[i][0], dev_fd, dev_links[i][1]) < 0)
                        return vs_error_errno(err, "link /dev/%s", dev_links[i][1]);
                if (own_entry(dev_fd, dev_links[i][1], 0, owner, err) < 0)
                        return -1;
        }
        return 0;
}

/* A directory of the VPS's root that vsd mounts on: made if missing, and
 * no symlink (the VPS's root could have left one in its upper layer). */
static int mount_point(const char *path, vs_error_t *err)
{
        struct stat st;

        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return vs_error_errno(err, "mkdir %s", path);
        if (lstat(path, &st) < 0)
                return vs_error_errno(err, "stat %s", path);
        if (!S_ISDIR(st.st_mode))
                return vs_error_set(err, ENOTDIR, "%s is no directory", path);
        return 0;
}

/* A directory of the VPS's root's, made in the tmpfs at top. */
static int own_subdir(const char *top, const char *name, uid_t owner, vs_error_t *err)
{
        cleanup_free char *path = vs_strdupf("%s/%s", top, name);

        if (mkdir(path, 0755) < 0 || chown(path, owner, owner) < 0)
                return vs_error_errno(err, "mkdir /%s", name);
        return 0;
}

static int bind_with(const char *src, const char *dst, unsigned long flags, vs_error_t *err)
{
        if (mount(src, dst, NULL, MS_BIND, NULL) < 0 ||
            mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | flags, NULL) < 0)
                return vs_error_errno(err, "bind %s on %s", src, dst);
        return 0;
}

/* /dev and /run are two directories of one tmpfs, the VPS's root's: a
 * superblock fewer per VPS (each costs its shrinker a slot in every memory
 * cgroup of the host). vsd mounts it, for the device nodes (a tmpfs the
 * VPS's root mounted would not open them); /run is bound without devices,
 * /dev without exec. The tmpfs's own root, where both directories show, is
 * attached nowhere the VPS can reach: it is mounted on /run while they are
 * made, /run's directory is bound to a stage in /dev, the root is unmounted
 * and the stage moved to /run. */
static int make_dev_and_run(const char *rootfs, uid_t owner, vs_error_t *err)
{
        cleanup_free char *dev = vs_strdupf("%s/dev", rootfs);
        cleanup_free char *run = vs_strdupf("%s/run", rootfs);
        cleanup_free char *top_dev = vs_strdupf("%s/run/dev", rootfs);
        cleanup_free char *top_run = vs_strdupf("%s/run/run", rootfs);
        cleanup_free char *stage = vs_strdupf("%s/dev/.run", rootfs);
        cleanup_free char *options =
                vs_strdupf("mode=755,size=20%%,uid=%u,gid=%u", (unsigned)owner, (unsigned)owner);
        cleanup_close int dev_fd = -1;

        if (mount_point(dev, err) < 0 || mount_point(run, err) < 0)
                return -1;
        if (mount("tmpfs", run, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, options) < 0)
                return vs_error_errno(err, "mount tmpfs on /dev and /run");
        if (own_subdir(run, "dev", owner, err) < 0 || own_subdir(run, "run", owner, err) < 0 ||
            bind_with(top_dev, dev, MS_NOSUID | MS_NOEXEC, err) < 0)
                return -1;
        if (mkdir(stage, 0700) < 0)
                return vs_error_errno(err, "mkdir %s", stage);
        if (mount(top_run, stage, NULL, MS_BIND, NULL) < 0 || umount2(run, MNT_DETACH) < 0 ||
            mount(stage, run, NULL, MS_MOVE, NULL) < 0 ||
            mount(NULL, run, NULL, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV, NULL) < 0 ||
            rmdir(stage) < 0)
                return vs_error_errno(err, "mount /run");
        dev_fd = open(dev, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dev_fd < 0)
                return vs_error_errno(err, "open /dev");
        return fill_dev(dev_fd, owner, err);
}

/* The file systems the init mounts itself, in its own namespaces: a devpts
 * of its own (its ptmx must open: not nodev), its /dev/shm and its ipc
 * namespace's mqueue. /dev/shm is a directory of /run's tmpfs (/run/shm,
 * Debian's old name for it), not a tmpfs of its own: every superblock
 * costs its shrinker a slot in each memory cgroup of the host. */
static const struct {
        const char *dir, *fstype;
        unsigned long flags;
        const char *options;
} own_mounts[] = {
        { "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
          "newinstance,ptmxmode=0666,mode=0620,gid=5" },
        { "/dev/shm", NULL, MS_NOSUID | MS_NOEXEC | MS_NODEV, "/run/shm" },
        { "/dev/mqueue", "mqueue", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL },
};

/* A directory bound with the flags (a bind takes them at a remount). */
static int bind_dir(const char *src, mode_t mode, const char *dir, unsigned long flags,
                    vs_error_t *err)
{
        if ((mkdir(src, mode) < 0 && errno != EEXIST) || chmod(src, mode) < 0)
                return vs_error_errno(err, "mkdir %s", src);
        return bind_with(src, dir, flags, err);
}

/* After mount_run: /dev/shm is bound from /run. */
static int mount_dev_own(vs_error_t *err)
{
        for (size_t i = 0; i < NELEMS(own_mounts); i++) {
                if (!own_mounts[i].fstype) {
                        if (bind_dir(own_mounts[i].options, 01777, own_mounts[i].dir,
                                     own_mounts[i].flags, err) < 0)
                                return -1;
                } else if (mount(own_mounts[i].fstype, own_mounts[i].dir, own_mounts[i].fstype,
                                 own_mounts[i].flags, own_mounts[i].options) < 0)
                        return vs_error_errno(err, "mount %s on %s", own_mounts[i].fstype,
                                              own_mounts[i].dir);
        }
        return 0;
}

/* What a distribution's init expects to find mounted, as on a booted
 * machine (nspawn and LXC do the same): /run and /run/lock as tmpfs (/run
 * is mounted by vsd, with /dev: make_dev_and_run), and the container
 * signal systemd reads (besides $container). */
static int mount_run(vs_error_t *err)
{
        cleanup_close int fd = -1;

        /* /run/lock is a mount of /run's own directory (noexec): a tmpfs of
         * its own would cost a superblock, and its shrinker an id that
         * every memory cgroup of the host keeps a slot for */
        if (bind_dir("/run/lock", 01777, "/run/lock", MS_NOSUID | MS_NODEV | MS_NOEXEC, err) < 0)
                return -1;
        if (mkdir("/run/systemd", 0755) < 0)
                return vs_error_errno(err, "mkdir /run/systemd");
        fd = open("/run/systemd/container", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
        if (fd < 0 || write(fd, VS_CONTAINER_NAME "\n", sizeof(VS_CONTAINER_NAME)) !=
                              (ssize_t)sizeof(VS_CONTAINER_NAME))
                return vs_error_errno(err, "write /run/systemd/container");
        return 0;
}

/* A cgroup2 file system of the init's own cgroup namespace, rooted at the
 * VPS's cgroup on the unified hierarchy, which vsd delegated to the VPS's
 * root: systemd makes and delegates its own cgroups below it, and runs in
 * unified mode on a hybrid host too. */
static int mount_cgroup2(vs_error_t *err)
{
        if (mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) <
            0)
                return vs_error_errno(err, "mount cgroup2 on /sys/fs/cgroup");
        return 0;
}

/* ---- /proc and /sys ---- */

static int mount_at(const char *rootfs, const char *dir, const char *fstype, unsigned long flags,
                    vs_error_t *err)
{
        cleanup_free char *target = vs_strdupf("%s/%s", rootfs, dir);

        if (mkdir(target, 0555) < 0 && errno != EEXIST)
                return vs_error_errno(err, "mkdir /%s", dir);
        if (mount(fstype, target, fstype, flags, NULL) < 0)
                return vs_error_errno(err, "mount %s on /%s", fstype, dir);
        return 0;
}

/* A file the kernel has no place for (OpenVZ's /proc/user_beancounters:
 * procfs holds only the kernel's entries and refuses to be stacked on) is
 * bound over an empty file of the VPS's /dev, the tmpfs vsd made moments
 * ago, which nothing of the VPS's has run in yet (no link to follow). */
static void make_placeholder(const char *rootfs, const char *target)
{
        cleanup_free char *dev = vs_strdupf("%s/dev", rootfs);
        cleanup_close int dir = -1;
        int fd;

        if (strncmp(target, "dev/", 4) != 0 || strchr(target + 4, '/'))
                return;
        dir = open(dev, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        fd = dir < 0 ? -1
                     : openat(dir, target + 4, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                              0444);
        if (fd >= 0)
                close(fd);
}

/* The view's files over the host's: read-only, and locked for the VPS like
 * the masks (it cannot unmount them to see the host's figures). A target
 * the kernel does not have (an older kernel's cpu/online) is left out. */
static int bind_view(const char *rootfs, const char *view_dir, vs_error_t *err)
{
        const unsigned long ro =
                MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;

        for (int f = 0; f < VS_VIEW_NFILES; f++) {
                cleanup_free char *src = vs_strdupf("%s/%s", view_dir, vs_view_file_name(f));
                cleanup_free char *dst = vs_strdupf("%s/%s", rootfs, vs_view_file_target(f));

                make_placeholder(rootfs, vs_view_file_target(f));
                if (access(dst, F_OK) < 0)
                        continue;
                if (mount(src, dst, NULL, MS_BIND, NULL) < 0 ||
                    mount(NULL, dst, NULL, ro, NULL) < 0)
                        return vs_error_errno(err, "bind the view over /%s",
                                              vs_view_file_target(f));
        }
        return 0;
}

/* /sys (of the caller's network namespace), the view over /proc and /sys,
 * and the masks: /proc is mounted already. */
static int mount_sys_and_masks(const char *rootfs, const char *view_dir, vs_error_t *err)
{
        if (mount_at(rootfs, "sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, err) < 0)
                return -1;
        if (view_dir && bind_view(rootfs, view_dir, err) < 0)
                return -1;
        return vs_security_mask_paths(rootfs, err);
}

static int mount_kernel_fs(const char *rootfs, const char *view_dir, vs_error_t *err)
{
        if (mount_at(rootfs, "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, err) < 0)
                return -1;
        return mount_sys_and_masks(rootfs, view_dir, err);
}

/* Runs fn in a child and waits for it, with its error back through a pipe:
 * for what must happen in another process's namespaces. */
static int in_child(int (*fn)(const struct vs_init_spec *spec, vs_error_t *err),
                    const struct vs_init_spec *spec, vs_error_t *err)
{
        int pipefd[2], status;
        pid_t helper;
        ssize_t n;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return vs_error_errno(err, "pipe");
        helper = fork();
        if (helper == 0) {
                vs_error_t child_err = { 0 };

                close(pipefd[0]);
                if (fn(spec, &child_err) < 0)
                        (void)!write(pipefd[1], &child_err, sizeof(child_err));
                _exit(0);
        }
        close(pipefd[1]);
        if (helper < 0) {
                close(pipefd[0]);
                return vs_error_errno(err, "fork");
        }
        n = read(pipefd[0], err, sizeof(*err));
        close(pipefd[0]);
        if (waitpid(helper, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return vs_error_set(err, EIO, "a helper of vsd's died");
        return n == (ssize_t)sizeof(*err) ? -1 : 0;
}

static int kernel_fs_in_vps(const struct vs_init_spec *spec, vs_error_t *err)
{
        return mount_kernel_fs(spec->rootfs, spec->view_dir, err);
}

/* A /proc of the pid namespace pidns_fd's, made with procfs's pidns
 * option (6.18 here has it, older kernels refuse it), by a caller in
 * another: 1 done, 0 the kernel has no such option (nothing made), -1 an
 * error. */
static int mount_proc_of(const char *rootfs, int pidns_fd, vs_error_t *err)
{
        cleanup_free char *target = vs_strdupf("%s/proc", rootfs);
        cleanup_close int fs = fsopen("proc", FSOPEN_CLOEXEC);
        cleanup_close int tree = -1;

        if (fs < 0)
                return errno == ENOSYS ? 0 : vs_error_errno(err, "fsopen proc");
        if (fsconfig(fs, FSCONFIG_SET_FD, "pidns", NULL, pidns_fd) < 0)
                return errno == EINVAL ? 0 : vs_error_errno(err, "proc's pidns");
        if (mkdir(target, 0555) < 0 && errno != EEXIST)
                return vs_error_errno(err, "mkdir /proc");
        /* the source /proc/mounts shows, as mount(2) of "proc" gives */
        if (fsconfig(fs, FSCONFIG_SET_STRING, "source", "proc", 0) < 0 ||
            fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return vs_error_errno(err, "make proc");
        tree = fsmount(fs, FSMOUNT_CLOEXEC,
                       MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (tree < 0 || move_mount(tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return vs_error_errno(err, "mount proc on /proc");
        return 1;
}

/* A /proc of the VPS's pid namespace and a /sys of its network namespace,
 * mounted with the host's privileges in the builder's mount namespace: the
 * masks and read-only binds over them become locked for the VPS. The
 * builder makes the /proc itself where procfs takes the pid namespace as
 * an option, and joins the network namespace for /sys; else a helper in
 * both does it all (pid namespace: only a child of the caller is). A fork
 * of the builder copies vsd's page tables, which grow with the number of
 * VPS. */
static int mount_kernel_fs_for(const struct vs_init_spec *spec, int init_pidfd, pid_t pid,
                               vs_error_t *err)
{
        cleanup_free char *ns_path = vs_strdupf("/proc/%d/ns/pid", (int)pid);
        cleanup_close int pidns_fd = open(ns_path, O_RDONLY | O_CLOEXEC);
        int rc;

        if (pidns_fd < 0)
                return vs_error_errno(err, "the VPS's pid namespace");
        rc = mount_proc_of(spec->rootfs, pidns_fd, err);
        if (rc < 0)
                return -1;
        if (rc > 0) {
                if (setns(init_pidfd, CLONE_NEWNET) < 0)
                        return vs_error_errno(err, "join the VPS's network namespace");
                return mount_sys_and_masks(spec->rootfs, spec->view_dir, err);
        }
        if (setns(init_pidfd, CLONE_NEWPID | CLONE_NEWNET) < 0)
                return vs_error_errno(err, "join the VPS's pid and network namespaces");
        return in_child(kernel_fs_in_vps, spec, err);
}

/* ---- the init ---- */

/* Where vsd's root was a mount stacked over another of the host's (vsd
 * started in a chroot on a bind, RootDirectory=), setns lands on that one
 * after the first detach: every mount down to the namespace's own root is
 * detached too, so that the VPS's root never sits over a host's tree. The
 * namespace's root mount is the one the kernel will not detach (EINVAL). */
#define MOUNTS_OVER_ROOT_MAX 16

static int detach_down_to_namespace_root(int own_ns, vs_error_t *err)
{
        for (int stacked = 0; stacked < MOUNTS_OVER_ROOT_MAX; stacked++) {
                if (setns(own_ns, CLONE_NEWNS) < 0)
                        return vs_error_errno(err, "enter the namespace's root mount");
                if (umount2("/", MNT_DETACH) < 0)
                        return errno == EINVAL ? 0 : vs_error_errno(err, "detach the host's root");
        }
        return vs_error_set(err, ELOOP,
                            "detach the host's root: more than %d mounts over the namespace's root",
                            MOUNTS_OVER_ROOT_MAX);
}

/* The VPS's root becomes the root of the builder's mount namespace, as
 * pivot_root(".", ".") and a detach of the old root would make it, but
 * without pivot_root: that walks every task of the host (chroot_fs_refs)
 * for a root or cwd to move, and so grew a start with every VPS running.
 * The builder copies the assembled tree (a detached mount of its own),
 * detaches the host's tree from its namespace (the init's root and cwd
 * still hold it, as a lazily unmounted tree, until its go), and attaches
 * the copy on the namespace's root mount, where pivot_root puts the new
 * root: over the namespace's root there are the VPS's mounts and nothing
 * of the host's, as before (nothing to reach by `..`, none to uncover by
 * an unmount). setns into its own namespace is how the builder reaches
 * that root mount (its lookup starts there); the init takes its copy's
 * the same way at its go (enter_own_root). The copy leaves out any
 * unbindable mount without an error: no mount of a VPS's root may be one. */
static int root_over_namespace(const char *rootfs, vs_error_t *err)
{
        cleanup_close int tree =
                open_tree(AT_FDCWD, rootfs, OPEN_TREE_CLONE | AT_RECURSIVE | OPEN_TREE_CLOEXEC);
        cleanup_close int own_ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);

        if (tree < 0)
                return vs_error_errno(err, "copy the VPS's root");
        if (own_ns < 0)
                return vs_error_errno(err, "open the builder's mount namespace");
        if (umount2("/", MNT_DETACH) < 0)
                return vs_error_errno(err, "detach the host's root");
        if (detach_down_to_namespace_root(own_ns, err) < 0)
                return -1;
        /* vsd's namespace's root mount could be shared: nothing attached
         * on it may reach another namespace (pivot_root refuses so too) */
        if (mount(NULL, "/", NULL, MS_PRIVATE, NULL) < 0)
                return vs_error_errno(err, "make the namespace's root mount private");
        if (move_mount(tree, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return vs_error_errno(err, "attach the VPS's root");
        return 0;
}

/* The init's root and cwd are the host's tree the builder detached
 * (root_over_namespace) until it enters its own copy of the namespace,
 * whose root is the VPS's: setns finds it there. */
static int enter_own_root(vs_error_t *err)
{
        cleanup_close int self = (int)syscall(SYS_pidfd_open, (pid_t)syscall(SYS_getpid), 0);

        if (self < 0 || setns(self, CLONE_NEWNS) < 0)
                return vs_error_errno(err, "enter the VPS's root");
        return 0;
}

/* The init's stdio: its console, a terminal it reads too; or, where the
 * console is a plain file, that for its output and /dev/null for input. */
static int setup_stdio(int console_fd, vs_error_t *err)
{
        int null_fd =
                isatty(console_fd) ? dup(console_fd) : open("/dev/null", O_RDONLY | O_CLOEXEC);

        if (null_fd < 0)
                return vs_error_errno(err, "open /dev/null");
        if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(console_fd, STDOUT_FILENO) < 0 ||
            dup2(console_fd, STDERR_FILENO) < 0)
                return vs_error_errno(err, "set up stdio");
        close(null_fd);
        return 0;
}

static int exec_init(const struct vs_init_spec *spec, int vsinit_fd, vs_error_t *err)
{
        char *const *envp = (char *const *)default_env;
        char *const sbin_init[] = { "/sbin/init", NULL };
        char *const vsinit[] = { "vsinit", NULL };
        cleanup_close int rootfd = -1;
        int rc;

        if (spec->init_argv) {
                execve(spec->init_argv[0], spec->init_argv, envp);
                return vs_error_errno(err, "exec init %s", spec->init_argv[0]);
        }
        /* the VPS's own layer may have broken the template's init: said
         * in one line, not run as vsinit in its place */
        rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return vs_error_errno(err, "open /");
        rc = vs_program_at(rootfd, "sbin/init", err);
        if (rc < 0)
                return vs_error_wrap(err, "no usable init");
        if (rc == 0) {
                execve(sbin_init[0], sbin_init, envp);
                return vs_error_errno(err, "exec /sbin/init");
        }
        if (vsinit_fd < 0)
                return vs_error_set(err, ENOENT,
                                    "the root has no /sbin/init and vsd has no built-in vsinit");
        syscall(SYS_execveat, vsinit_fd, "", vsinit, envp, AT_EMPTY_PATH);
        return vs_error_errno(err, "exec the built-in vsinit");
}

/* Without --numfile a VPS's processes get the soft limit every process
 * starts with (the kernel's 1024) under vsd's hard one: vsd raises its own
 * soft limit to the hard one for its descriptors, which is no VPS's
 * business. */
#define DEFAULT_NOFILE_SOFT 1024

static int default_nofile(vs_error_t *err)
{
        struct rlimit lim;

        if (getrlimit(RLIMIT_NOFILE, &lim) < 0)
                return vs_error_errno(err, "getrlimit");
        if (lim.rlim_cur <= DEFAULT_NOFILE_SOFT)
                return 0;
        lim.rlim_cur = DEFAULT_NOFILE_SOFT;
        if (setrlimit(RLIMIT_NOFILE, &lim) < 0)
                return vs_error_errno(err, "set the default numfile");
        return 0;
}

/* --numfile: set in the child before exec, so that the VPS's processes
 * inherit it. Raising the hard limit above vsd's needs CAP_SYS_RESOURCE; the
 * error says so rather than clamping. */
static int set_nofile(unsigned long nofile, vs_error_t *err)
{
        struct rlimit lim = { nofile, nofile };

        if (!nofile)
                return default_nofile(err);
        if (setrlimit(RLIMIT_NOFILE, &lim) < 0)
                return vs_error_errno(err, "set numfile %lu", nofile);
        return 0;
}

/* Moves the descriptors *fds[0..n) (-1: none) to 3, 4, ... (close on
 * exec) and closes every other one above stdio. A child of vsd's inherits
 * vsd's descriptors, two for each running VPS: it drops them before it
 * takes the VPS's soft limit of open files, under which it could open
 * nothing more while more than 1024 were there (the start of the 483rd of
 * 4096 VPS failed so). */
static int keep_only(int *const fds[], int n, vs_error_t *err)
{
        for (int i = 0; i < n; i++) {
                if (*fds[i] < 0)
                        continue;
                /* above the places they go to, so that none overwrites another */
                *fds[i] = fcntl(*fds[i], F_DUPFD_CLOEXEC, 3 + n);
                if (*fds[i] < 0)
                        return vs_error_errno(err, "move a descriptor to keep");
        }
        for (int i = 0; i < n; i++) {
                if (*fds[i] < 0)
                        close(3 + i);
                else if (dup3(*fds[i], 3 + i, O_CLOEXEC) < 0)
                        return vs_error_errno(err, "move a descriptor to keep");
                else
                        *fds[i] = 3 + i;
        }
        if (syscall(SYS_close_range, 3U + (unsigned)n, ~0U, 0) < 0)
                return vs_error_errno(err, "close_range");
        return 0;
}

/* No go (-2): the builder failed before it gave one, and reports why. */
static int wait_go(int sock, vs_error_t *err)
{
        char go;

        if (recv(sock, &go, 1, 0) != 1) {
                vs_error_set(err, EPROTO, "wait for vsd: no go");
                return -2;
        }
        return 0;
}

/* The init, in its new user, pid, uts, ipc, net and cgroup namespaces but
 * still in the builder's mount namespace, whose root the builder turns into
 * the VPS's. At the go it copies that namespace: the kernel locks every
 * mount of the copy, made with the host's privileges, against a VPS's root
 * (no unmount of a mask, no read-write remount of a read-only mount). Its
 * own root is the host's detached tree until it enters the copy's. */
static int init_child(const struct vs_init_spec *spec, int go_sock, int *report_sock,
                      vs_error_t *err)
{
        int vsinit_fd = spec->vsinit_fd;

        int rc = wait_go(go_sock, err);

        if (rc < 0)
                return rc;
        close(go_sock);
        /* born in all its cgroups: its cgroup namespace is rooted there */
        if (unshare(CLONE_NEWNS | CLONE_NEWCGROUP) < 0)
                return vs_error_errno(err, "mount and cgroup namespaces of the VPS");
        if (enter_own_root(err) < 0)
                return -1;
        /* a change of uid makes a memory dumpable again where the host's
         * fs.suid_dumpable says so: the init's is still vsd's (a copy, or
         * the builder's own) until its exec */
        if (become_root(err) < 0)
                return -1;
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return vs_error_errno(err, "not dumpable until exec");
        reset_signals();
        if (setsid() < 0)
                return vs_error_errno(err, "setsid");
        if (chdir("/") < 0)
                return vs_error_errno(err, "chdir /");
        if (mount_run(err) < 0 || mount_dev_own(err) < 0 ||
            (spec->cgroup2 && mount_cgroup2(err) < 0))
                return -1;
        if (sethostname(spec->hostname, strlen(spec->hostname)) < 0)
                return vs_error_errno(err, "set hostname");
        if (vs_net_loopback_up(err) < 0 || setup_stdio(spec->console_fd, err) < 0)
                return -1;
        /* vsd's descriptors go; the report socket stays usable until exec
         * to carry an exec failure */
        if (keep_only((int *const[]){ report_sock, &vsinit_fd }, 2, err) < 0 ||
            set_nofile(spec->nofile, err) < 0 ||
            (spec->timeslice_us && vs_timeslice_set_self(spec->timeslice_us, err) < 0))
                return -1;
        if (vs_security_apply(spec->caps, err) < 0 ||
            report_notify(*report_sock, spec->notify_fd != NULL, err) < 0)
                return -1;
        return exec_init(spec, vsinit_fd, err);
}

/* ---- the builder: a helper of vsd's, with its privileges ---- */

/* "0 BASE COUNT": the VPS's ids are host ids [base, base + count); a
 * privileged VPS's map is the identity (base 0). */
static int write_map(pid_t pid, const char *file, const struct vs_idmap *map, vs_error_t *err)
{
        char path[64], line[64];

        snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
        snprintf(line, sizeof(line), "0 %lu %lu\n", map->base, map->count);
        return vs_write_string(AT_FDCWD, path, line, err);
}

/* A detached copy of the template's mount, shifted by the VPS's id map: the
 * template stays owned by host ids on disk, and the VPS sees its own root
 * own it. Never chowned, never copied. */
static int idmapped_template(const char *lower, pid_t pid, vs_error_t *err)
{
        char userns_path[64];
        cleanup_close int userns_fd = -1;
        cleanup_close int tree_fd = -1;
        struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY };

        snprintf(userns_path, sizeof(userns_path), "/proc/%d/ns/user", (int)pid);
        userns_fd = open(userns_path, O_RDONLY | O_CLOEXEC);
        if (userns_fd < 0)
                return vs_error_errno(err, "open the VPS's user namespace");
        tree_fd = open_tree(AT_FDCWD, lower, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree_fd < 0)
                return vs_error_errno(err, "clone the template mount");
        attr.userns_fd = (uint64_t)userns_fd;
        if (mount_setattr(tree_fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
                if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)
                        return vs_error_set(err, errno,
                                            "idmap the template: this kernel cannot idmap the "
                                            "file system of %s (use ext4, xfs or btrfs, or a "
                                            "--privileged VPS)",
                                            lower);
                return vs_error_errno(err, "idmap the template");
        }
        return steal_fd(tree_fd);
}

/* The overlay's lower layer: the template, shifted to the VPS's ids where
 * it has a range of its own (attached at the stage), else as it is. */
static const char *attach_lower(const struct vs_init_spec *spec, pid_t pid, vs_error_t *err)
{
        cleanup_close int tree_fd = -1;

        if (!spec->idmap.base)
                return spec->lower;
        tree_fd = idmapped_template(spec->lower, pid, err);
        if (tree_fd < 0)
                return NULL;
        if (move_mount(tree_fd, "", AT_FDCWD, spec->stage, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
                vs_error_errno(err, "attach the idmapped template");
                return NULL;
        }
        return spec->stage;
}

/* The disk backend's storage, mounted here (a file system the VPS's own
 * root could not mount); its layers become the VPS root's. */
static int attach_disk(const struct vs_init_spec *spec, vs_error_t *err)
{
        uid_t owner = (uid_t)spec->idmap.base;

        if (!spec->disk_attach)
                return 0;
        if (spec->disk_attach(spec->dir, err) < 0)
                return vs_error_wrap(err, "attach disk");
        if (owner && (chown(spec->upper, owner, owner) < 0 || chown(spec->work, owner, owner) < 0))
                return vs_error_errno(err, "chown the VPS's layers");
        return 0;
}

/* The console pty's slave (of the host's devpts, owned by the VPS's root)
 * becomes the VPS's /dev/console, as nspawn and LXC do: systemd needs a
 * real terminal there. */
static int bind_console(const struct vs_init_spec *spec, vs_error_t *err)
{
        cleanup_free char *fd_path = vs_strdupf("/proc/self/fd/%d", spec->console_fd);
        cleanup_free char *target = vs_strdupf("%s/dev/console", spec->rootfs);
        char source[64];
        ssize_t len;

        if (!isatty(spec->console_fd))
                return 0;
        /* by its path in this mount namespace: a bind of the fd itself
         * would name a mount of vsd's namespace, which the kernel refuses */
        len = readlink(fd_path, source, sizeof(source) - 1);
        if (len < 0)
                return vs_error_errno(err, "find the console pty");
        source[len] = '\0';
        if (strncmp(source, "/dev/pts/", 9) != 0)
                return vs_error_set(err, EINVAL, "the console %s is no pty of /dev/pts", source);
        if (mount(source, target, NULL, MS_BIND, NULL) < 0)
                return vs_error_errno(err, "bind the console on /dev/console");
        return 0;
}

/* The VPS's root, assembled in the builder's mount namespace with the
 * host's privileges: overlay, /dev, /proc, /sys and the masks. Then the
 * namespace's root becomes it; the init enters it at its go. */
static int assemble_root(const struct vs_init_spec *spec, pid_t pid, int pidfd, vs_error_t *err)
{
        const char *lower = attach_lower(spec, pid, err);

        if (!lower || vs_rootfs_mount(lower, spec->upper, spec->work, spec->rootfs, err) < 0)
                return vs_error_wrap(err, "mount rootfs");
        if (make_dev_and_run(spec->rootfs, (uid_t)spec->idmap.base, err) < 0 ||
            bind_console(spec, err) < 0 || mount_kernel_fs_for(spec, pidfd, pid, err) < 0)
                return -1;
        return root_over_namespace(spec->rootfs, err);
}

/* REPORT_PID: the init exists (vsd is its parent, and must know it to reap
 * it whatever happens next); REPORT_READY: its disk is attached. */
static int report(int sock, enum report_type type, pid_t pid, vs_error_t *err)
{
        struct report r = { .type = (int)type, .pid = pid };

        if (send(sock, &r, sizeof(r), MSG_NOSIGNAL) != (ssize_t)sizeof(r))
                return vs_error_errno(err, "report to vsd");
        return 0;
}

/* vsd's answer: the network (and the /etc files in the upper layer) is in
 * place. */
static int wait_network(int sock, vs_error_t *err)
{
        char done;

        if (recv(sock, &done, 1, 0) != 1)
                return vs_error_set(err, EPROTO, "vsd gave up on the start");
        return 0;
}

/* ---- the init on the builder's memory, until its exec ----
 * A fork-like clone copies the builder's page tables (a copy of vsd's,
 * which grow with the number of VPS: its heap), and the init then takes a
 * fault and a page for every page it writes, all thrown away at its exec.
 * With CLONE_VM it runs on the builder's memory instead, on a stack of its
 * own. The two take turns, as vfork's parent and child do: the init waits
 * for its go (in recv, on its stack) while the builder works, and the
 * builder only exits after the go, touching none of the memory (no libc
 * call but close and _exit), so no libc state is used by both at once.
 * Its own fd table, signal handlers and credentials stay its own. */

#define INIT_STACK_BYTES (1024 * 1024)

/* What the init needs, at the top of its stack (the builder's frames,
 * where the arguments were, are the builder's to reuse). */
struct init_boot {
        const struct vs_init_spec *spec;
        int go_sock, go_other, report_sock;
};

/* The init's part, to its exec; it ends here only on failure. Without a
 * go it tells nothing: the builder's report of its own failure (an image
 * still mounted, say) is vsd's reason, and one of the init's racing it
 * would take its place (vsd keeps the first). */
static _Noreturn void run_init(const struct vs_init_spec *spec, int go_sock, int report_sock)
{
        vs_error_t child_err = { 0 };

        if (init_child(spec, go_sock, &report_sock, &child_err) != -2)
                report_error(report_sock, &child_err);
        _exit(127);
}

static int init_main(void *arg)
{
        struct init_boot *boot = arg;

        close(boot->go_other);
        run_init(boot->spec, boot->go_sock, boot->report_sock);
}

#if defined(__x86_64__)
/* clone3 whose child calls fn(arg) on the stack args names (the raw
 * syscall's child would return into the caller's frames, which its
 * parent reuses) and exits with what it returns. -errno on failure. */
static long clone3_call(struct clone_args *args, int (*fn)(void *), void *arg)
{
        register long rax __asm__("rax") = SYS_clone3;
        register struct clone_args *rdi __asm__("rdi") = args;
        register size_t rsi __asm__("rsi") = sizeof(*args);
        register int (*r12)(void *) __asm__("r12") = fn;
        register void *r13 __asm__("r13") = arg;

        __asm__ __volatile__("syscall\n\t"
                             "test %%rax, %%rax\n\t"
                             "jnz 1f\n\t"
                             "xor %%ebp, %%ebp\n\t"
                             "mov %%r13, %%rdi\n\t"
                             "call *%%r12\n\t"
                             "mov %%eax, %%edi\n\t"
                             "mov $231, %%eax\n\t" /* exit_group */
                             "syscall\n\t"
                             "ud2\n"
                             "1:"
                             : "+r"(rax)
                             : "r"(rdi), "r"(rsi), "r"(r12), "r"(r13)
                             : "rcx", "r11", "memory");
        return rax;
}

/* The init cloned on the builder's memory; -1 with errno ENOSYS where
 * that cannot be done (then the caller clones it the fork-like way). */
static pid_t clone_init_vm(const struct vs_init_spec *spec, const int go[2], int sock, int *pidfd,
                           int cgroup_fd)
{
        /* left mapped: the init runs on it until its exec, and it goes
         * with the builder's memory */
        char *stack = mmap(NULL, INIT_STACK_BYTES, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
        struct init_boot *boot;
        struct clone_args args = {
                .flags = CLONE_VM | CLONE_PARENT | INIT_NAMESPACES | CLONE_PIDFD |
                         (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0),
                .pidfd = (uint64_t)(uintptr_t)pidfd,
                .cgroup = cgroup_fd >= 0 ? (uint64_t)cgroup_fd : 0,
        };
        long rc;

        if (stack == MAP_FAILED)
                return -1;
        /* a guard page below it; and the memory the init runs on, a host
         * root's (the builder's), not dumpable: nothing of the VPS may
         * ptrace the init or write its /proc/PID/mem before its exec gives
         * it a memory of its own */
        if (mprotect(stack, 4096, PROT_NONE) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
                munmap(stack, INIT_STACK_BYTES);
                return -1;
        }
        boot = (struct init_boot *)(void *)(stack + INIT_STACK_BYTES - 64);
        *boot = (struct init_boot){ spec, go[1], go[0], sock };
        args.stack = (uint64_t)(uintptr_t)stack;
        args.stack_size = INIT_STACK_BYTES - 64;
        rc = clone3_call(&args, init_main, boot);
        if (rc < 0) {
                munmap(stack, INIT_STACK_BYTES);
                errno = (int)-rc == EINVAL ? ENOSYS : (int)-rc;
                return -1;
        }
        return (pid_t)rc;
}
#else
static pid_t clone_init_vm(const struct vs_init_spec *spec, const int go[2], int sock, int *pidfd,
                           int cgroup_fd)
{
        errno = ENOSYS;
        return -1;
}
#endif

/* Clones the init (a child of vsd's, not of the builder) into the VPS's
 * cgroups and namespaces but the mount namespace, which it shares with the
 * builder until its go. vsd learns its pid at once: it reaps it, whatever
 * fails next. */
static pid_t clone_init(const struct vs_init_spec *spec, vs_cgroup_t *cg, int sock, int *go_sock,
                        int *pidfd, vs_error_t *err)
{
        uid_t owner = (uid_t)spec->idmap.base;
        int go[2], saved;
        pid_t pid;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, go) < 0)
                return vs_error_errno(err, "socketpair");
        /* the builder enters the VPS's v1 cgroups (its `tasks`: no RCU
         * grace period) and the init is born in them and, through
         * CLONE_INTO_CGROUP, in its v2 one: it never runs outside them */
        if (vs_cgroup_enter_v1(cg, err) < 0) {
                close(go[0]);
                close(go[1]);
                return -1;
        }
        /* the user namespace is owned by the VPS's base id, not by host
         * root: the kernel's per-user counts (inotify instances, ...) are
         * then the VPS's own, not shared with every other VPS */
        if (owner && setresuid((uid_t)-1, owner, (uid_t)-1) < 0) {
                vs_error_errno(err, "take the VPS's id to make its user namespace");
                close(go[0]);
                close(go[1]);
                return -1;
        }
        /* CLONE_INTO_CGROUP checks file access (the cgroup.procs of the
         * VPS's cgroup and of the common ancestor, host root's) with the
         * fs id: host root's for it. The init's ids all become its own
         * root's (become_root) before it runs anything but this file's
         * code. */
        if (owner)
                setfsuid(0);
        pid = clone_init_vm(spec, go, sock, pidfd, vs_cgroup_v2_dir(cg));
        if (pid < 0 && errno == ENOSYS)
                pid = clone3_pidfd_into(CLONE_PARENT | INIT_NAMESPACES, pidfd,
                                        vs_cgroup_v2_dir(cg));
        saved = errno;
        if (pid == 0) {
                close(go[0]);
                run_init(spec, go[1], sock);
        }
        close(go[1]);
        /* back to host root: the permitted capabilities stayed */
        if (owner && setresuid((uid_t)-1, 0, (uid_t)-1) < 0) {
                vs_error_errno(err, "return to host root");
                if (pid > 0)
                        reap_failed(*pidfd);
                close(go[0]);
                return -1;
        }
        errno = saved;
        if (pid < 0) {
                vs_error_errno(err, "clone the init");
                close(go[0]);
                return -1;
        }
        *go_sock = go[0];
        /* the builder's helpers are no processes of the VPS's */
        if (report(sock, REPORT_PID, pid, err) < 0 ||
            vs_cgroup_leave_v1(vs_cgroup_tree_of(cg), err) < 0)
                return -1;
        return pid;
}

static int build_vps(const struct vs_init_spec *spec, vs_cgroup_t *cg, int sock, vs_error_t *err)
{
        cleanup_close int go_sock = -1;
        cleanup_close int pidfd = -1;
        pid_t pid;

        /* nothing mounted here reaches the host */
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return vs_error_errno(err, "mount namespace for the VPS's root");
        if (chdir(spec->dir) < 0)
                return vs_error_errno(err, "enter the VPS's directory");
        pid = clone_init(spec, cg, sock, &go_sock, &pidfd, err);
        if (pid < 0)
                return -1;
        if (write_map(pid, "uid_map", &spec->idmap, err) < 0 ||
            write_map(pid, "gid_map", &spec->idmap, err) < 0)
                return vs_error_wrap(err, "id map");
        /* vsd writes the /etc files into the upper layer, through the
         * init's root: the disk is attached first */
        if (attach_disk(spec, err) < 0 || report(sock, REPORT_READY, 0, err) < 0 ||
            wait_network(sock, err) < 0 || assemble_root(spec, pid, pidfd, err) < 0)
                return -1;
        if (send(go_sock, "g", 1, MSG_NOSIGNAL) != 1)
                return vs_error_errno(err, "start the init");
        return 0;
}

/* ---- vsd's side of a new VPS ---- */

/* The builder's next report, which must be of this type (else its error). */
static int read_report(int sock, enum report_type type, pid_t *pid, vs_error_t *err)
{
        struct report r;
        ssize_t n = recv(sock, &r, sizeof(r), 0);

        if (n < 0)
                return report_lost(err, "the VPS's builder");
        if (n == (ssize_t)sizeof(r) && r.type == (int)type) {
                if (pid)
                        *pid = r.pid;
                return 0;
        }
        if (n == (ssize_t)sizeof(r) && r.type == REPORT_ERROR) {
                r.msg[sizeof(r.msg) - 1] = '\0';
                return vs_error_kind(err, (vs_error_kind_t)r.kind, r.errnum, "%s", r.msg);
        }
        return vs_error_set(err, EPROTO, "the VPS's builder ended half way");
}

/* The builder's and the init's part seen from vsd: the init's pid, then
 * the network, then reports until both are done (the builder exited, the
 * init exec'd). */
static pid_t follow_builder(const struct vs_init_spec *spec, int sock, int *pidfd, vs_error_t *err)
{
        pid_t pid;

        if (read_report(sock, REPORT_PID, &pid, err) < 0)
                return -1;
        /* the init is vsd's own child: its pid stays its until vsd reaps it */
        *pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (*pidfd < 0)
                return vs_error_errno(err, "pidfd of the init");
        if (read_report(sock, REPORT_READY, NULL, err) < 0 ||
            (spec->net_setup && spec->net_setup(spec->net_arg, pid, err) < 0) ||
            send(sock, "n", 1, MSG_NOSIGNAL) != 1 ||
            read_reports(sock, NULL, spec->notify_fd, err) < 0)
                return -1;
        return pid;
}

static int reap_builder(pid_t builder, vs_error_t *err)
{
        int status;

        if (waitpid(builder, &status, 0) < 0)
                return vs_error_errno(err, "wait for the VPS's builder");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return vs_error_set(err, EIO, "the VPS's builder failed");
        return 0;
}

static int higher(int a, int b)
{
        return a > b ? a : b;
}

/* The number at and above which the builder needs no descriptor: its
 * socket, the spec's and the cgroup's are below it. */
static int builder_keep_below(const struct vs_init_spec *spec, const vs_cgroup_t *cg, int sock)
{
        int high = higher(sock, higher(spec->vsinit_fd, spec->console_fd));

        return higher(high, vs_cgroup_highest_fd(cg)) + 1;
}

/* The builder shares vsd's descriptor table (CLONE_FILES) until its first
 * act, which takes a copy of the descriptors below keep_below but the
 * parked ones: a fork would copy all of vsd's, two for each running VPS,
 * and its exit close them, so that a start grew with the number of VPS.
 * A raw clone: vsd has one thread, so no other holds a libc lock. */
static pid_t clone_builder(void)
{
        struct clone_args args = { .flags = CLONE_FILES, .exit_signal = SIGCHLD };

        return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

/* The first act of a child that shares vsd's table (the builder, an
 * exec's child): a table of its own with what is below keep_below but the
 * parked descriptors, vsd's end of the socket closed, and REPORT_FILES
 * sent, after which vsd may touch its table again. `who` names the child
 * in the error. */
static int take_own_files(int sock[2], int keep_below, const char *who, vs_error_t *err)
{
        if (vs_fd_unshare_dropping_parked(keep_below) < 0)
                return vs_error_errno(err, "%s descriptor table", who);
        close(sock[0]);
        return report(sock[1], REPORT_FILES, 0, err);
}

static _Noreturn void run_builder(const struct vs_init_spec *spec, vs_cgroup_t *cg, int pair[2],
                                  int keep_below)
{
        vs_error_t child_err = { 0 };

        /* first, so that the init and the helpers it forks copy none of
         * vsd's descriptors; vsd touches its table until then */
        if (take_own_files(pair, keep_below, "the builder's", &child_err) < 0 ||
            build_vps(spec, cg, pair[1], &child_err) < 0) {
                report_error(pair[1], &child_err);
                _exit(1);
        }
        _exit(0);
}

/* Waits until the builder has its table of its own; only then may vsd
 * close or open descriptors (pair[1] first). */
static int wait_builder_files(pid_t builder, int pair[2], vs_error_t *err)
{
        int rc = read_report(pair[0], REPORT_FILES, NULL, err);

        if (rc < 0) {
                kill(builder, SIGKILL); /* it shares the table no more once reaped */
                reap_builder(builder, NULL);
        }
        close(pair[1]);
        return rc;
}

pid_t vs_spawn_init(const struct vs_init_spec *spec, vs_cgroup_t *cg, int *pidfd, vs_error_t *err)
{
        cleanup_close int sock = -1;
        int pair[2], keep_below;
        pid_t builder, pid;

        *pidfd = -1;
        if (spec->notify_fd)
                *spec->notify_fd = -1;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
                return vs_error_errno(err, "socketpair");
        keep_below = builder_keep_below(spec, cg, pair[1]);
        builder = clone_builder();
        if (builder == 0)
                run_builder(spec, cg, pair, keep_below);
        sock = pair[0];
        if (builder < 0) {
                close(pair[1]);
                return vs_error_errno(err, "clone the VPS's builder");
        }
        bound_reports(sock);
        if (wait_builder_files(builder, pair, err) < 0)
                return -1;
        pid = follow_builder(spec, sock, pidfd, err);
        if (pid < 0 && err && err->errnum == ETIMEDOUT)
                kill(builder, SIGKILL); /* hung: reaped below */
        /* vsd gave up (its network part failed, say): the builder, which
         * waits for vsd's word, hears it from the socket's end, or the
         * wait for its exit below would never end */
        if (pid < 0)
                shutdown(sock, SHUT_RDWR);
        /* the first error is the one to tell: the builder's exit only
         * confirms it */
        if (reap_builder(builder, pid < 0 ? NULL : err) < 0 || pid < 0) {
                if (spec->notify_fd && *spec->notify_fd >= 0) {
                        close(*spec->notify_fd);
                        *spec->notify_fd = -1;
                }
                if (*pidfd >= 0) {
                        reap_failed(*pidfd);
                        close(*pidfd);
                        *pidfd = -1;
                }
                return -1;
        }
        return pid;
}

/* ---- exec into a running VPS ---- */

static int open_pty(int report_sock, const struct winsize *ws, vs_error_t *err)
{
        cleanup_close int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        int slave;

        if (master < 0)
                return vs_error_errno(err, "open /dev/ptmx");
        if (unlockpt(master) < 0)
                return vs_error_errno(err, "unlockpt");
        slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
        if (slave < 0)
                return vs_error_errno(err, "open pty peer");
        if (ws->ws_row && ioctl(slave, TIOCSWINSZ, ws) < 0)
                return vs_error_errno(err, "set window size");
        if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
                return vs_error_errno(err, "make the pty the controlling terminal");
        if (dup2(slave, STDIN_FILENO) < 0 || dup2(slave, STDOUT_FILENO) < 0 ||
            dup2(slave, STDERR_FILENO) < 0)
                return vs_error_errno(err, "set up stdio");
        if (slave > STDERR_FILENO)
                close(slave);
        return report_fd(report_sock, master, err);
}

static int exec_stdio(const int stdio[3], vs_error_t *err)
{
        for (int i = 0; i < 3; i++)
                if (dup2(stdio[i], i) < 0)
                        return vs_error_errno(err, "set up stdio");
        if (setsid() < 0)
                return vs_error_errno(err, "setsid");
        return 0;
}

static int exec_child(const struct vs_exec_spec *spec, int *report_sock, vs_error_t *err)
{
        reset_signals();
        /* Not dumpable until exec: nothing in the VPS may ptrace or read
         * /proc/PID/{mem,fd,exe} of a process that still holds vsd's state. */
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return vs_error_errno(err, "prctl");
        if (setns(spec->init_pidfd, JOIN_NAMESPACES | (spec->join_userns ? CLONE_NEWUSER : 0)) < 0)
                return vs_error_errno(err, "join the VPS's namespaces");
        if (spec->join_userns && become_root(err) < 0)
                return -1;
        if (chdir(spec->cwd ? spec->cwd : "/") < 0 && chdir("/") < 0)
                return vs_error_errno(err, "chdir /");
        if (spec->use_tty ? open_pty(*report_sock, &spec->winsize, err)
                          : exec_stdio(spec->stdio, err))
                return -1;
        if (keep_only((int *const[]){ report_sock }, 1, err) < 0 ||
            set_nofile(spec->nofile, err) < 0 ||
            (spec->timeslice_us && vs_timeslice_set_self(spec->timeslice_us, err) < 0))
                return -1;
        if (vs_security_apply(spec->caps, err) < 0 ||
            report_notify(*report_sock, spec->notify_fd != NULL, err) < 0)
                return -1;
        /* execvpe searches the PATH of the caller's environment */
        environ = (char **)(spec->envp ? spec->envp : (char *const *)default_env);
        execvpe(spec->argv[0], spec->argv, environ);
        return vs_error_errno(err, "%s", spec->argv[0]);
}

/* Clones between entering and leaving the VPS's cgroups; the child is born
 * there (and its cgroup namespace is rooted there). */
static pid_t clone_in_cgroup(vs_cgroup_t *cg, pid_t beside, uint64_t flags, int *pidfd,
                             vs_error_t *err)
{
        pid_t pid;
        int saved;

        if (vs_cgroup_enter_beside(cg, beside, err) < 0)
                return -1;
        pid = clone3_pidfd(flags, pidfd);
        saved = errno;
        if (pid == 0)
                return 0;
        if (vs_cgroup_leave(vs_cgroup_tree_of(cg), err) < 0) {
                if (pid > 0)
                        reap_failed(*pidfd);
                return -1;
        }
        errno = saved;
        if (pid < 0)
                return vs_error_errno(err, "clone");
        return pid;
}

/* The child must be born in the VPS's pid namespace and be vsd's own child
 * (so vsd gets its exit status): vsd points its pid_for_children at the VPS,
 * clones, and points it back. */
static pid_t clone_into_vps(const struct vs_exec_spec *spec, vs_cgroup_t *cg, uint64_t flags,
                            int *pidfd, vs_error_t *err)
{
        pid_t pid;

        if (setns(spec->init_pidfd, CLONE_NEWPID) < 0)
                return vs_error_errno(err, "join the VPS's pid namespace");
        pid = clone_in_cgroup(cg, spec->init_pid, flags, pidfd, err);
        if (pid == 0)
                return 0;
        if (setns(spec->own_pidns_fd, CLONE_NEWPID) < 0) {
                vs_error_errno(err, "return to vsd's pid namespace");
                if (pid > 0)
                        reap_failed(*pidfd);
                return -1;
        }
        return pid;
}

/* The number at and above which an exec's child needs no descriptor: its
 * socket, the init's pidfd (a copy below the parked ones) and its stdio. */
static int exec_keep_below(const struct vs_exec_spec *spec, int sock)
{
        int high = higher(sock, spec->init_pidfd);

        for (int i = 0; i < 3 && !spec->use_tty; i++)
                high = higher(high, spec->stdio[i]);
        return high + 1;
}

/* As the builder (clone_builder), the child shares vsd's table until its
 * first act takes a copy of what is below keep_below. */
static _Noreturn void run_exec_child(const struct vs_exec_spec *spec, int sock[2], int keep_below)
{
        vs_error_t child_err = { 0 };

        /* close_range and close fail with no ENOENT: a table not taken is 126 */
        if (take_own_files(sock, keep_below, "the child's", &child_err) == 0)
                exec_child(spec, &sock[1], &child_err);
        report_error(sock[1], &child_err);
        _exit(child_err.errnum == ENOENT ? 127 : 126);
}

static void forget_exec_child(const struct vs_exec_spec *spec, int pidfd, int *master)
{
        if (*master >= 0)
                close(*master);
        *master = -1;
        if (spec->notify_fd && *spec->notify_fd >= 0) {
                close(*spec->notify_fd);
                *spec->notify_fd = -1;
        }
        reap_failed(pidfd);
        close(pidfd);
}

pid_t vs_spawn_exec(const struct vs_exec_spec *spec, vs_cgroup_t *cg, int *pidfd, int *master,
                    vs_error_t *err)
{
        struct vs_exec_spec own = *spec;
        cleanup_close int low_pidfd = -1;
        int sock[2], keep_below, rc;
        pid_t pid;

        *master = -1;
        if (spec->notify_fd)
                *spec->notify_fd = -1;
        /* the init's pidfd is parked: the child joins through a copy below */
        low_pidfd = fcntl(spec->init_pidfd, F_DUPFD_CLOEXEC, 0);
        if (low_pidfd < 0)
                return vs_error_errno(err, "copy the init's pidfd");
        own.init_pidfd = low_pidfd;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) < 0)
                return vs_error_errno(err, "socketpair");
        keep_below = exec_keep_below(&own, sock[1]);
        pid = clone_into_vps(&own, cg, CLONE_FILES, pidfd, err);
        if (pid == 0)
                run_exec_child(&own, sock, keep_below);
        if (pid < 0) {
                close(sock[0]);
                close(sock[1]);
                return -1;
        }
        bound_reports(sock[0]);
        /* vsd closes nothing the child may use until it has its own table */
        rc = read_report(sock[0], REPORT_FILES, NULL, err);
        if (rc < 0)
                forget_exec_child(spec, *pidfd, master); /* it shares no table once reaped */
        close(sock[1]);
        if (rc == 0 && read_reports(sock[0], master, spec->notify_fd, err) < 0) {
                forget_exec_child(spec, *pidfd, master);
                rc = -1;
        }
        close(sock[0]);
        return rc < 0 ? -1 : pid;
}
