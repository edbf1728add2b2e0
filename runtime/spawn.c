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
#include <sys/mount.h>
#include <sys/prctl.h>
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
#include "vs/fsutil.h"
#include "vs/netns.h"

#define VPS_NAMESPACES \
        (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP)
#define JOIN_NAMESPACES (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP)

static const char *const default_env[] = {
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME=/root",
        "TERM=linux",
        "container=paene",
        NULL,
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
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } control;
        struct iovec iov = { .iov_base = &r, .iov_len = sizeof(r) };
        struct msghdr mh = { .msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = control.buf,
                             .msg_controllen = sizeof(control.buf) };
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&mh);

        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
        if (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0)
                return vs_error_errno(err, "send pty to vsd");
        return 0;
}

/* Reads reports until end of stream (the child exec'd). Returns -1 with the
 * child's error, 0 on success; a passed fd lands in *fd_out. */
static int read_reports(int sock, int *fd_out, vs_error_t *err)
{
        for (;;) {
                struct report r;
                union {
                        char buf[CMSG_SPACE(sizeof(int))];
                        struct cmsghdr align;
                } control;
                struct iovec iov = { .iov_base = &r, .iov_len = sizeof(r) };
                struct msghdr mh = { .msg_iov = &iov,
                                     .msg_iovlen = 1,
                                     .msg_control = control.buf,
                                     .msg_controllen = sizeof(control.buf) };
                ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
                struct cmsghdr *cmsg;

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return vs_error_errno(err, "read child's report");
                if (n == 0)
                        return 0;
                cmsg = CMSG_FIRSTHDR(&mh);
                if (cmsg && cmsg->cmsg_type == SCM_RIGHTS) {
                        int fd;

                        memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
                        if (fd_out && *fd_out < 0)
                                *fd_out = fd;
                        else
                                close(fd);
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
        return 0;
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

static int init_child(const struct vs_init_spec *spec, vs_error_t *err)
{
        reset_signals();
        if (setsid() < 0)
                return vs_error_errno(err, "setsid");
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return vs_error_errno(err, "make mounts private");
        if (spec->disk_attach && spec->disk_attach(spec->vps_path, err) < 0)
                return vs_error_wrap(err, "attach disk");
        if (vs_rootfs_mount(spec->lower, spec->upper, spec->work, spec->rootfs, err) < 0)
                return vs_error_wrap(err, "mount rootfs");
        if (setup_dev(spec->rootfs, err) < 0 || setup_kernel_fs(spec->rootfs, err) < 0)
                return -1;
        if (sethostname(spec->hostname, strlen(spec->hostname)) < 0)
                return vs_error_errno(err, "set hostname");
        if (vs_net_loopback_up(err) < 0 || enter_root(spec->rootfs, err) < 0 ||
            setup_stdio(spec->console_fd, err) < 0 || vs_security_apply(err) < 0)
                return -1;
        /* Every fd of vsd's closes at exec; the report socket stays usable
         * until then to carry an exec failure. */
        if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
                return vs_error_errno(err, "close_range");
        return exec_init(spec, err);
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
        pid = clone_in_cgroup(cg, VPS_NAMESPACES, pidfd, err);
        if (pid == 0) {
                vs_error_t child_err = { 0 };

                close(sock[0]);
                init_child(spec, &child_err);
                report_error(sock[1], &child_err);
                _exit(127);
        }
        close(sock[1]);
        if (pid < 0) {
                close(sock[0]);
                return -1;
        }
        if (read_reports(sock[0], NULL, err) < 0) {
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
        /* Not dumpable until exec: nothing in the VPS may ptrace or read
         * /proc/PID/{mem,fd,exe} of a process that still holds vsd's state. */
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return vs_error_errno(err, "prctl");
        if (setns(spec->init_pidfd, JOIN_NAMESPACES) < 0)
                return vs_error_errno(err, "join the VPS's namespaces");
        if (chdir(spec->cwd ? spec->cwd : "/") < 0 && chdir("/") < 0)
                return vs_error_errno(err, "chdir /");
        if (spec->use_tty ? open_pty(report_sock, &spec->winsize, err)
                          : exec_stdio(spec->stdio, err))
                return -1;
        if (vs_security_apply(err) < 0)
                return -1;
        if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
                return vs_error_errno(err, "close_range");
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
