#include "spawn.h"

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
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "security.h"

extern char **environ;
#include "vs/cleanup.h"
#include "vs/cowfs.h"
#include "vs/fdpass.h"
#include "vs/fsutil.h"
#include "vs/netns.h"

#define VPS_NAMESPACES \
        (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP)
#define JOIN_NAMESPACES (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP)

static const char *const default_env[] = {
        VS_ENV_PATH, VS_ENV_HOME, "TERM=linux", VS_ENV_CONTAINER, NULL,
};

/* ---- child -> parent reports ---- */

enum report_type { REPORT_ERROR = 1, REPORT_FD = 2 };

struct report {
        int type;
        int errnum;
        char msg[1000];
};

static void report_error(int sock, const vs_error_t *err)
{
        struct report r = { .type = REPORT_ERROR, .errnum = err->errnum };

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

/* The parent's "go" to a new child: fds[0] is the VPS's directory, fds[1]
 * the idmapped template when the VPS has a user namespace (only the parent,
 * root on the host, can make it), else the directory again. */
static int send_go(int sock, const int fds[2], vs_error_t *err)
{
        if (vs_send_fds(sock, "g", 1, fds, 2) < 0)
                return vs_error_errno(err, "start the child");
        return 0;
}

static int wait_go(int sock, int fds[2], vs_error_t *err)
{
        int got[VS_FDPASS_MAX], nfds = 0;
        char go;

        if (vs_recv_fds(sock, &go, 1, got, &nfds, NULL) != 1 || nfds != 2) {
                for (int i = 0; i < nfds; i++)
                        close(got[i]);
                return vs_error_set(err, EPROTO, "wait for vsd: no go");
        }
        memcpy(fds, got, 2 * sizeof(int));
        return 0;
}

/* Reads reports until end of stream (the child exec'd). Returns -1 with the
 * child's error, 0 on success; a passed fd lands in *fd_out. */
static int read_reports(int sock, int *fd_out, vs_error_t *err)
{
        for (;;) {
                struct report r;
                int fds[VS_FDPASS_MAX], nfds = 0;
                ssize_t n = vs_recv_fds(sock, &r, sizeof(r), fds, &nfds, NULL);

                if (n < 0)
                        return vs_error_errno(err, "read child's report");
                if (n == 0)
                        return 0;
                for (int i = 0; i < nfds; i++) {
                        if (fd_out && *fd_out < 0)
                                *fd_out = fds[i];
                        else
                                close(fds[i]);
                }
                if (n == (ssize_t)sizeof(r) && r.type == REPORT_ERROR) {
                        r.msg[sizeof(r.msg) - 1] = '\0';
                        return vs_error_set(err, r.errnum, "%s", r.msg);
                }
        }
}

/* ---- clone ---- */

static pid_t clone3_pidfd(uint64_t flags, int *pidfd)
{
        struct clone_args args = {
                .flags = flags | CLONE_PIDFD,
                .pidfd = (uint64_t)(uintptr_t)pidfd,
                .exit_signal = SIGCHLD,
        };

        return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
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

/* ---- the init's root ---- */

static int bind_host_node(const char *rootfs, const char *name, vs_error_t *err)
{
        cleanup_free char *target = vs_strdupf("%s/dev/%s", rootfs, name);
        cleanup_free char *source = vs_strdupf("/dev/%s", name);
        cleanup_close int fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);

        if (fd < 0)
                return vs_error_errno(err, "create /dev/%s", name);
        if (mount(source, target, NULL, MS_BIND, NULL) < 0)
                return vs_error_errno(err, "bind /dev/%s", name);
        return 0;
}

static int bind_node_as(const char *rootfs, const char *source, const char *name, vs_error_t *err)
{
        cleanup_free char *target = vs_strdupf("%s/dev/%s", rootfs, name);
        cleanup_close int fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

        if (fd < 0)
                return vs_error_errno(err, "create /dev/%s", name);
        if (mount(source, target, NULL, MS_BIND, NULL) < 0)
                return vs_error_errno(err, "bind /dev/%s", name);
        return 0;
}

static int mount_at(const char *rootfs, const char *dir, const char *fstype, unsigned long flags,
                    const char *options, mode_t mode, vs_error_t *err)
{
        cleanup_free char *target = vs_strdupf("%s/%s", rootfs, dir);

        if (mkdir(target, mode) < 0 && errno != EEXIST)
                return vs_error_errno(err, "mkdir /%s", dir);
        if (mount(fstype, target, fstype, flags, options) < 0)
                return vs_error_errno(err, "mount %s on /%s", fstype, dir);
        return 0;
}

static int dev_symlinks(const char *rootfs, vs_error_t *err)
{
        static const char *const links[][2] = {
                { "pts/ptmx", "ptmx" },          { "/proc/self/fd", "fd" },
                { "/proc/self/fd/0", "stdin" },  { "/proc/self/fd/1", "stdout" },
                { "/proc/self/fd/2", "stderr" },
        };

        for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
                cleanup_free char *path = vs_strdupf("%s/dev/%s", rootfs, links[i][1]);

                if (symlink(links[i][0], path) < 0)
                        return vs_error_errno(err, "link /dev/%s", links[i][1]);
        }
        return 0;
}

/* A minimal /dev: device nodes are bind mounts of the host's (mknod is a
 * privilege a VPS's root does not have), and a devpts of its own. The VPS's
 * console output is its init's stdout and stderr; /dev/console discards. */
static int setup_dev(const char *rootfs, vs_error_t *err)
{
        static const char *const nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
        const unsigned long nosuid = MS_NOSUID | MS_NOEXEC;

        if (mount_at(rootfs, "dev", "tmpfs", nosuid, "mode=755,size=64k", 0755, err) < 0)
                return -1;
        for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++)
                if (bind_host_node(rootfs, nodes[i], err) < 0)
                        return -1;
        if (bind_node_as(rootfs, "/dev/null", "console", err) < 0 ||
            mount_at(rootfs, "dev/pts", "devpts", nosuid,
                     "newinstance,ptmxmode=0666,mode=0620,gid=5", 0755, err) < 0 ||
            mount_at(rootfs, "dev/shm", "tmpfs", nosuid | MS_NODEV, "mode=1777", 01777, err) < 0 ||
            mount_at(rootfs, "dev/mqueue", "mqueue", nosuid | MS_NODEV, NULL, 0755, err) < 0)
                return -1;
        return dev_symlinks(rootfs, err);
}

static int setup_kernel_fs(const char *rootfs, vs_error_t *err)
{
        const unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;

        if (mount_at(rootfs, "proc", "proc", flags, NULL, 0555, err) < 0 ||
            mount_at(rootfs, "sys", "sysfs", flags | MS_RDONLY, NULL, 0555, err) < 0)
                return -1;
        return vs_security_mask_paths(rootfs, err);
}

static int enter_root(const char *rootfs, vs_error_t *err)
{
        if (chdir(rootfs) < 0)
                return vs_error_errno(err, "chdir %s", rootfs);
        if (syscall(SYS_pivot_root, ".", ".") < 0)
                return vs_error_errno(err, "pivot_root");
        if (umount2(".", MNT_DETACH) < 0)
                return vs_error_errno(err, "detach the host's root");
        if (chdir("/") < 0)
                return vs_error_errno(err, "chdir /");
        return 0;
}

static int setup_stdio(int console_fd, vs_error_t *err)
{
        int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

        if (null_fd < 0)
                return vs_error_errno(err, "open /dev/null");
        if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(console_fd, STDOUT_FILENO) < 0 ||
            dup2(console_fd, STDERR_FILENO) < 0)
                return vs_error_errno(err, "set up stdio");
        close(null_fd);
        return 0;
}

static int exec_init(const struct vs_init_spec *spec, vs_error_t *err)
{
        char *const *envp = (char *const *)default_env;
        char *const sbin_init[] = { "/sbin/init", NULL };
        char *const vsinit[] = { "vsinit", NULL };

        if (spec->init_argv) {
                execve(spec->init_argv[0], spec->init_argv, envp);
                return vs_error_errno(err, "exec init %s", spec->init_argv[0]);
        }
        if (access("/sbin/init", X_OK) == 0) {
                execve(sbin_init[0], sbin_init, envp);
                return vs_error_errno(err, "exec /sbin/init");
        }
        if (spec->vsinit_fd < 0)
                return vs_error_set(err, ENOENT,
                                    "the root has no /sbin/init and vsd has no built-in vsinit");
        syscall(SYS_execveat, spec->vsinit_fd, "", vsinit, envp, AT_EMPTY_PATH);
        return vs_error_errno(err, "exec the built-in vsinit");
}

/* --numfile: set in the child before exec, so that the VPS's processes
 * inherit it. Raising the hard limit above vsd's needs CAP_SYS_RESOURCE; the
 * error says so rather than clamping. */
static int set_nofile(unsigned long nofile, vs_error_t *err)
{
        struct rlimit lim = { nofile, nofile };

        if (nofile && setrlimit(RLIMIT_NOFILE, &lim) < 0)
                return vs_error_errno(err, "set numfile %lu", nofile);
        return 0;
}

/* Attaches the idmapped template (from vsd) where the overlay expects its
 * lower layer; a privileged VPS uses the template directly. */
static const char *attach_lower(const struct vs_init_spec *spec, int tree_fd, vs_error_t *err)
{
        if (!spec->idmap.enabled)
                return spec->lower;
        if (move_mount(tree_fd, "", AT_FDCWD, spec->stage, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
                vs_error_errno(err, "attach the idmapped template");
                return NULL;
        }
        close(tree_fd);
        return spec->stage;
}

static int init_child(const struct vs_init_spec *spec, int sock, vs_error_t *err)
{
        const char *lower;
        int fds[2] = { -1, -1 }; /* the VPS's directory, the idmapped template */

        if (wait_go(sock, fds, err) < 0)
                return -1;
        if (spec->idmap.enabled && become_root(err) < 0)
                return -1;
        reset_signals();
        if (set_nofile(spec->nofile, err) < 0)
                return -1;
        if (setsid() < 0)
                return vs_error_errno(err, "setsid");
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return vs_error_errno(err, "make mounts private");
        if (fchdir(fds[0]) < 0)
                return vs_error_errno(err, "enter the VPS's directory");
        close(fds[0]);
        lower = attach_lower(spec, fds[1], err);
        if (!lower || vs_rootfs_mount(lower, spec->upper, spec->work, spec->rootfs, err) < 0)
                return vs_error_wrap(err, "mount rootfs");
        if (setup_dev(spec->rootfs, err) < 0 || setup_kernel_fs(spec->rootfs, err) < 0)
                return -1;
        if (sethostname(spec->hostname, strlen(spec->hostname)) < 0)
                return vs_error_errno(err, "set hostname");
        if (vs_net_loopback_up(err) < 0 || enter_root(spec->rootfs, err) < 0 ||
            setup_stdio(spec->console_fd, err) < 0)
                return -1;
        /* Every fd of vsd's closes at exec; the report socket stays usable
         * until then to carry an exec failure. */
        if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
                return vs_error_errno(err, "close_range");
        if (vs_security_apply(spec->caps, err) < 0)
                return -1;
        return exec_init(spec, err);
}

/* ---- the parent's side of a new VPS ---- */

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

/* The VPS's directory as the child's mount namespace sees it: opened
 * through the child's root, so that paths below it resolve to the child's
 * mounts, by vsd, who may walk every directory above it. */
static int open_in_child(pid_t pid, const char *dir, vs_error_t *err)
{
        cleanup_free char *path = vs_strdupf("/proc/%d/root%s", (int)pid, dir);
        int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return vs_error_errno(err, "open %s in the VPS's mount namespace", dir);
        return fd;
}

/* In a fork of vsd that joined the child's mount namespace: the disk
 * backend mounts the VPS's storage there (a file system the VPS's own root
 * could not mount), and its layers become the VPS root's. */
static int attach_disk_in(const struct vs_init_spec *spec, pid_t pid, vs_error_t *err)
{
        cleanup_free char *ns_path = vs_strdupf("/proc/%d/ns/mnt", (int)pid);
        cleanup_free char *upper = vs_strdupf("%s/%s", spec->dir, spec->upper);
        cleanup_free char *work = vs_strdupf("%s/%s", spec->dir, spec->work);
        cleanup_close int ns_fd = open(ns_path, O_RDONLY | O_CLOEXEC);
        uid_t owner = (uid_t)spec->idmap.base;

        if (ns_fd < 0 || setns(ns_fd, CLONE_NEWNS) < 0)
                return vs_error_errno(err, "join the VPS's mount namespace");
        /* the namespace's mounts were copies of the host's: nothing mounted
         * here may propagate back */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return vs_error_errno(err, "make mounts private");
        if (spec->disk_attach(spec->dir, err) < 0)
                return -1;
        if (spec->idmap.enabled &&
            (chown(upper, owner, owner) < 0 || chown(work, owner, owner) < 0))
                return vs_error_errno(err, "chown the VPS's layers");
        return 0;
}

static int attach_disk(const struct vs_init_spec *spec, pid_t pid, vs_error_t *err)
{
        int pipefd[2], status;
        pid_t helper;
        ssize_t n;

        if (!spec->disk_attach)
                return 0;
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return vs_error_errno(err, "pipe");
        helper = fork();
        if (helper == 0) {
                vs_error_t child_err = { 0 };

                close(pipefd[0]);
                if (attach_disk_in(spec, pid, &child_err) < 0)
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
                return vs_error_set(err, EIO, "attach disk: the helper died");
        if (n == (ssize_t)sizeof(*err))
                return vs_error_wrap(err, "attach disk");
        return 0;
}

static int prepare_child(const struct vs_init_spec *spec, pid_t pid, int sock, vs_error_t *err)
{
        cleanup_close int dir_fd = open_in_child(pid, spec->dir, err);
        cleanup_close int tree_fd = -1;

        if (dir_fd < 0 || attach_disk(spec, pid, err) < 0)
                return -1;
        if (spec->idmap.enabled) {
                if (write_map(pid, "uid_map", &spec->idmap, err) < 0 ||
                    write_map(pid, "gid_map", &spec->idmap, err) < 0)
                        return vs_error_wrap(err, "id map");
                tree_fd = idmapped_template(spec->lower, pid, err);
                if (tree_fd < 0)
                        return -1;
        }
        if (spec->net_setup && spec->net_setup(spec->net_arg, pid, err) < 0)
                return -1;
        /* without a template to pass, the directory goes twice: the child
         * knows from its spec whether the second fd is a template */
        return send_go(sock, (int[2]){ dir_fd, tree_fd >= 0 ? tree_fd : dir_fd }, err);
}

/* Waits for a child that failed before exec, so that it leaves no zombie. */
static void reap_failed(int pidfd)
{
        siginfo_t info;

        syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
        waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, WEXITED);
}

/* Clones between entering and leaving the VPS's cgroups; the child is born
 * there. */
static pid_t clone_in_cgroup(vs_cgroup_t *cg, uint64_t flags, int *pidfd, vs_error_t *err)
{
        pid_t pid;
        int saved;

        if (vs_cgroup_enter(cg, err) < 0)
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

pid_t vs_spawn_init(const struct vs_init_spec *spec, vs_cgroup_t *cg, int *pidfd, vs_error_t *err)
{
        int sock[2];
        pid_t pid;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) < 0)
                return vs_error_errno(err, "socketpair");
        pid = clone_in_cgroup(cg, VPS_NAMESPACES | (spec->idmap.enabled ? CLONE_NEWUSER : 0), pidfd,
                              err);
        if (pid == 0) {
                vs_error_t child_err = { 0 };

                close(sock[0]);
                init_child(spec, sock[1], &child_err);
                report_error(sock[1], &child_err);
                _exit(127);
        }
        close(sock[1]);
        if (pid < 0) {
                close(sock[0]);
                return -1;
        }
        if (prepare_child(spec, pid, sock[0], err) < 0 || read_reports(sock[0], NULL, err) < 0) {
                close(sock[0]);
                reap_failed(*pidfd);
                close(*pidfd);
                return -1;
        }
        close(sock[0]);
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

static int exec_child(const struct vs_exec_spec *spec, int report_sock, vs_error_t *err)
{
        reset_signals();
        if (set_nofile(spec->nofile, err) < 0)
                return -1;
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
        if (spec->use_tty ? open_pty(report_sock, &spec->winsize, err)
                          : exec_stdio(spec->stdio, err))
                return -1;
        if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
                return vs_error_errno(err, "close_range");
        if (vs_security_apply(spec->caps, err) < 0)
                return -1;
        /* execvpe searches the PATH of the caller's environment */
        environ = (char **)(spec->envp ? spec->envp : (char *const *)default_env);
        execvpe(spec->argv[0], spec->argv, environ);
        return vs_error_errno(err, "%s", spec->argv[0]);
}

/* The child must be born in the VPS's pid namespace and be vsd's own child
 * (so vsd gets its exit status): vsd points its pid_for_children at the VPS,
 * clones, and points it back. */
static pid_t clone_into_vps(const struct vs_exec_spec *spec, vs_cgroup_t *cg, int *pidfd,
                            vs_error_t *err)
{
        pid_t pid;

        if (setns(spec->init_pidfd, CLONE_NEWPID) < 0)
                return vs_error_errno(err, "join the VPS's pid namespace");
        pid = clone_in_cgroup(cg, 0, pidfd, err);
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

pid_t vs_spawn_exec(const struct vs_exec_spec *spec, vs_cgroup_t *cg, int *pidfd, int *master,
                    vs_error_t *err)
{
        int sock[2];
        pid_t pid;

        *master = -1;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) < 0)
                return vs_error_errno(err, "socketpair");
        pid = clone_into_vps(spec, cg, pidfd, err);
        if (pid == 0) {
                vs_error_t child_err = { 0 };

                close(sock[0]);
                exec_child(spec, sock[1], &child_err);
                report_error(sock[1], &child_err);
                _exit(child_err.errnum == ENOENT ? 127 : 126);
        }
        close(sock[1]);
        if (pid < 0) {
                close(sock[0]);
                return -1;
        }
        if (read_reports(sock[0], master, err) < 0) {
                close(sock[0]);
                if (*master >= 0)
                        close(*master);
                *master = -1;
                reap_failed(*pidfd);
                close(*pidfd);
                return -1;
        }
        close(sock[0]);
        return pid;
}
