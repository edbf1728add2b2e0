/* Starting processes in a VPS: its init in fresh namespaces, and exec'd
 * commands that join a running VPS. Errors in the child travel back to vsd as
 * {errno, message} records on a CLOEXEC socket; at exec the socket closes and
 * vsd reads end-of-stream, which means success. */
#ifndef VS_RUNTIME_SPAWN_H
#define VS_RUNTIME_SPAWN_H

#include <sys/ioctl.h>
#include <sys/types.h>

#include "vs/security.h"
#include "vs/cgroup.h"
#include "vs/error.h"

/* The environment every process vsd starts in a VPS gets: its init, and
 * what vsctl exec runs (which adds TERM only on a terminal). */
#define VS_ENV_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define VS_ENV_HOME "HOME=/root"
#define VS_CONTAINER_NAME "paene"
#define VS_ENV_CONTAINER "container=" VS_CONTAINER_NAME

/* A VPS's user namespace: host ids [base, base + count) are 0.. inside.
 * Base 0 is a privileged VPS's identity map: its root is host uid 0 for its
 * files, but holds its capabilities in its own user namespace only. */
struct vs_idmap {
        int enabled; /* it has a user namespace: every VPS vsd starts does */
        unsigned long base;
        unsigned long count;
};

struct vs_init_spec {
        const char *hostname;
        const char *lower; /* template rootfs, absolute */
        /* The VPS's directory, absolute. The root is assembled relative to
         * it (the paths below are), so that overlay's options stay short. */
        const char *dir;
        const char *upper;
        const char *work;
        const char *rootfs; /* mount point */
        const char *stage;  /* where the idmapped template is attached (base != 0) */
        struct vs_idmap idmap;
        const vs_caps_t *caps;
        /* the disk backend's attach (vs_disk_backend_t.attach), or NULL: run
         * in the mount namespace where vsd assembles the root */
        int (*disk_attach)(const char *vps_path, vs_error_t *err);
        char *const *init_argv; /* NULL: /sbin/init if present, else vsinit */
        int vsinit_fd;          /* sealed memfd of the built-in init, or -1 */
        /* The console: a pty's slave, bound on /dev/console and the init's
         * stdio; or a plain file, the init's stdout and stderr. */
        int console_fd;
        int cgroup2;                /* mount the VPS's cgroup2 on /sys/fs/cgroup */
        unsigned long nofile;       /* RLIMIT_NOFILE (soft and hard), 0: soft 1024 */
        unsigned long timeslice_us; /* its EEVDF slice (vs_timeslice_*), 0: vsd's */
        /* The VPS's directory of the view (absolute), whose files are bound
         * over /proc/meminfo and the rest (vs_view_file_target), or NULL:
         * the host's files */
        const char *view_dir;
        /* Where the listener of the seccomp filter that hands sysinfo and
         * sched_getaffinity to the view goes (-1: none could be made), or
         * NULL: no such filter */
        int *notify_fd;
        /* Called by the parent once the child exists and before its "go":
         * gives the child its network (netns/), so that its init starts
         * with eth0 configured. NULL: loopback only. */
        int (*net_setup)(void *arg, pid_t pid, vs_error_t *err);
        void *net_arg;
};

/* Starts the VPS's init in new user, pid, mount, uts, ipc, net and cgroup
 * namespaces, inside `cg`, as a child of the caller. A helper with the
 * caller's privileges assembles its root (overlay, its own /dev nodes,
 * /proc and /sys with their masks) in a mount namespace of its own, which
 * the init then copies: every mount of it is locked against the VPS's root.
 * Returns the init's pid and a pidfd; on failure nothing of it is left. */
pid_t vs_spawn_init(const struct vs_init_spec *spec, vs_cgroup_t *cg, int *pidfd, vs_error_t *err);

struct vs_exec_spec {
        int init_pidfd;  /* the VPS's init: its namespaces are joined */
        pid_t init_pid;  /* and on cgroup v2 its cgroup (see vs_cgroup_enter_beside) */
        int join_userns; /* 0 only for a VPS without a user namespace */
        const vs_caps_t *caps;
        int own_pidns_fd; /* vsd's pid namespace, restored after the clone */
        char *const *argv;
        char *const *envp;
        const char *cwd;
        int use_tty; /* a pty from the VPS's own devpts */
        struct winsize winsize;
        int stdio[3];               /* without a tty: the child's stdin, stdout, stderr */
        unsigned long nofile;       /* RLIMIT_NOFILE (soft and hard), 0: soft 1024 */
        unsigned long timeslice_us; /* as vs_init_spec's */
        int *notify_fd;             /* as vs_init_spec's */
};

/* Starts argv inside a running VPS as a child of vsd. With use_tty, *master
 * receives the pty master (from the VPS's devpts instance). */
pid_t vs_spawn_exec(const struct vs_exec_spec *spec, vs_cgroup_t *cg, int *pidfd, int *master,
                    vs_error_t *err);

/* EEVDF per-task time slices (sandbox/timeslice.c): the sched_runtime of a
 * SCHED_OTHER or SCHED_BATCH task's sched_attr, in µs (100..100000; 0: the
 * kernel's default), kept across fork and exec. Whether the kernel has
 * them (6.12 and later; asked of the caller's own attributes). */
int vs_timeslice_supported(void);
/* The caller's own slice (a child's before it execs); ENOTSUP when the
 * kernel ignored it. */
int vs_timeslice_set_self(unsigned long us, vs_error_t *err);
/* Every thread of process pid (as root: CAP_SYS_NICE); a task that is not
 * SCHED_OTHER or SCHED_BATCH, or that is gone, is left alone. */
int vs_timeslice_set_process(pid_t pid, unsigned long us, vs_error_t *err);

#endif
