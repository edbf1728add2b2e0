/* Starting processes in a VPS: its init in fresh namespaces, and exec'd
 * commands that join a running VPS. Errors in the child travel back to vsd as
 * {errno, message} records on a CLOEXEC socket; at exec the socket closes and
 * vsd reads end-of-stream, which means success. */
#ifndef VS_RUNTIME_SPAWN_H
#define VS_RUNTIME_SPAWN_H

#include <sys/ioctl.h>
#include <sys/types.h>

#include "vs/cgroup.h"
#include "vs/error.h"

struct vs_init_spec {
        const char *hostname;
        const char *lower; /* template rootfs */
        const char *upper; /* the VPS's layers, absolute paths */
        const char *work;
        const char *rootfs;   /* mount point */
        const char *vps_path; /* the VPS's directory */
        /* the disk backend's attach, run in the new mount namespace before
         * the overlay (vs_disk_backend_t.attach), or NULL */
        int (*disk_attach)(const char *vps_path, vs_error_t *err);
        char *const *init_argv; /* NULL: /sbin/init if present, else vsinit */
        int vsinit_fd;          /* sealed memfd of the built-in init, or -1 */
        int console_fd;         /* init's stdout and stderr */
};

/* Clones the VPS's init into new pid, mount, uts, ipc, net and cgroup
 * namespaces, inside `cg`. Returns its pid and a pidfd; on failure nothing
 * of the child is left. */
pid_t vs_spawn_init(const struct vs_init_spec *spec, vs_cgroup_t *cg, int *pidfd, vs_error_t *err);

struct vs_exec_spec {
        int init_pidfd;   /* the VPS's init: its namespaces are joined */
        int own_pidns_fd; /* vsd's pid namespace, restored after the clone */
        char *const *argv;
        char *const *envp;
        const char *cwd;
        int use_tty; /* a pty from the VPS's own devpts */
        struct winsize winsize;
        int stdio[3]; /* without a tty: the child's stdin, stdout, stderr */
};

/* Starts argv inside a running VPS as a child of vsd. With use_tty, *master
 * receives the pty master (from the VPS's devpts instance). */
pid_t vs_spawn_exec(const struct vs_exec_spec *spec, vs_cgroup_t *cg, int *pidfd, int *master,
                    vs_error_t *err);

#endif
