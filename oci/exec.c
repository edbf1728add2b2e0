/* exec: a new process in a running container. The runtime joins the
 * container's pid namespace itself (a pid namespace takes the children
 * made after setns), puts its child in the container's cgroup, and the
 * child joins the other namespaces of the container's init, then takes
 * the process's user, capabilities and the container's seccomp filter. */
#include "oci.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/fdpass.h"
#include "vs/fsutil.h"
#include "oci_child.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const struct {
        const char *name;
        int type;
} join_order[] = {
        { "user", CLONE_NEWUSER }, { "ipc", CLONE_NEWIPC },       { "uts", CLONE_NEWUTS },
        { "net", CLONE_NEWNET },   { "cgroup", CLONE_NEWCGROUP }, { "time", CLONE_NEWTIME },
        { "mnt", CLONE_NEWNS },
};

/* Whether /proc/PID/ns/NAME differs from ours: joining our own user
 * namespace is refused by the kernel. */
static int differs(pid_t pid, const char *name)
{
        char theirs[64], ours[64];
        struct stat a, b;

        snprintf(theirs, sizeof(theirs), "/proc/%d/ns/%s", (int)pid, name);
        snprintf(ours, sizeof(ours), "/proc/self/ns/%s", name);
        if (stat(theirs, &a) < 0 || stat(ours, &b) < 0)
                return 0;
        return a.st_ino != b.st_ino || a.st_dev != b.st_dev;
}

static int join_all(pid_t pid, vs_error_t *err)
{
        int fds[sizeof(join_order) / sizeof(join_order[0])];
        size_t n = sizeof(join_order) / sizeof(join_order[0]);

        /* opened first: after the mount namespace /proc may be another */
        for (size_t i = 0; i < n; i++) {
                char path[64];

                fds[i] = -1;
                if (!differs(pid, join_order[i].name))
                        continue;
                snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, join_order[i].name);
                fds[i] = open(path, O_RDONLY | O_CLOEXEC);
                if (fds[i] < 0)
                        return vs_error_errno(err, "open %s", path);
        }
        for (size_t i = 0; i < n; i++) {
                if (fds[i] < 0)
                        continue;
                if (setns(fds[i], join_order[i].type) < 0)
                        return vs_error_errno(err, "join the container's %s namespace",
                                              join_order[i].name);
                close(fds[i]);
        }
        return 0;
}

static int load_container(const char *root, const char *id, struct oci_state *st,
                          struct oci_config **c, vs_error_t *err)
{
        cleanup_close int dirfd = -1;
        cleanup_free char *text = NULL;
        size_t len;

        if (oci_state_open(root, id, &dirfd, err) < 0 || oci_state_read(dirfd, st, err) < 0)
                return -1;
        if (strcmp(oci_state_status(dirfd, st), "running") != 0 &&
            strcmp(oci_state_status(dirfd, st), "created") != 0)
                return vs_error_kind(err, VS_E_STATE, EINVAL, "container '%s' is not running", id);
        if (vs_read_file(dirfd, "config.json", OCI_CONFIG_MAX, &text, &len, err) < 0)
                return -1;
        return oci_config_parse(text, len, st->bundle, c, err);
}

static void exec_child(const struct oci_exec_opts *o, const struct oci_config *c, pid_t init,
                       int sock, void *seccomp)
{
        vs_error_t err = { 0 };
        struct oci_msg m;

        if (oci_msg_recv(sock, &m, NULL) <= 0 || m.type != OCI_MSG_GO)
                _exit(1);
        if (join_all(init, &err) < 0)
                oci_child_fail(sock, &err);
        if (o->process->terminal && oci_child_terminal(sock, o->process, &err) < 0)
                oci_child_fail(sock, &err);
        (void)c;
        oci_child_finish(o->process, seccomp, o->preserve_fds, &err);
        oci_child_fail(sock, &err);
}

/* Follows the child until it execs (end of stream). */
static int follow_child(const struct oci_exec_opts *o, int sock, vs_error_t *err)
{
        for (;;) {
                struct oci_msg m;
                int fd = -1, rc = oci_msg_recv(sock, &m, &fd);
                cleanup_close int passed = fd;

                if (rc < 0)
                        return vs_error_errno(err, "read from the exec'd process");
                if (rc == 0)
                        return 0;
                if (m.type == OCI_MSG_ERROR)
                        return vs_error_set(err, m.value, "%s", m.text);
                if (m.type == OCI_MSG_PTY) {
                        if (!o->console_socket)
                                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                                     "a terminal needs --console-socket");
                        if (oci_send_console(o->console_socket, passed, err) < 0)
                                return -1;
                }
        }
}

/* What an exec holds until it returns (also on failure). */
struct exec_run {
        struct oci_state st;
        struct oci_config *c;
        struct oci_cgroup *cg;
        void *seccomp;
        int sock; /* to the child, until it execs */
        pid_t pid;
};

static void exec_run_release(struct exec_run *r)
{
        if (r->sock >= 0)
                close(r->sock);
        oci_cgroup_free(r->cg);
        vs_seccomp_release(r->seccomp);
        oci_config_free(r->c);
        oci_state_clear(&r->st);
}

/* The container, its seccomp profile and cgroup; this process joins its
 * pid namespace, so that the child is born in it. */
static int prepare_exec(struct exec_run *r, const struct oci_exec_opts *o, vs_error_t *err)
{
        cleanup_close int pidns = -1;
        char path[64];

        if (load_container(o->root, o->id, &r->st, &r->c, err) < 0)
                return -1;
        if (r->c->seccomp && vs_seccomp_build(r->c->seccomp, &r->seccomp, err) < 0)
                return -1;
        if (r->st.cgroup && *r->st.cgroup &&
            oci_cgroup_open(r->st.cgroup, r->st.cgroup_base, 0, r->st.id, 0, &r->cg, err) < 0)
                return -1;
        if (!differs(r->st.pid, "pid"))
                return 0;
        snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)r->st.pid);
        pidns = open(path, O_RDONLY | O_CLOEXEC);
        if (pidns < 0 || setns(pidns, CLONE_NEWPID) < 0)
                return vs_error_errno(err, "join the container's pid namespace");
        return 0;
}

/* The forked child into the container's cgroup, told to go on, and
 * followed until it execs. */
static int hand_over(struct exec_run *r, const struct oci_exec_opts *o, vs_error_t *err)
{
        if (r->cg && oci_cgroup_add(r->cg, r->pid, err) < 0)
                return -1;
        if (oci_msg_send(r->sock, OCI_MSG_GO, r->pid, NULL, -1) < 0)
                return vs_error_errno(err, "start the process");
        return follow_child(o, r->sock, err);
}

/* The child, in the container's cgroup, followed until it execs; a child
 * that gets no further is killed. */
static int start_process(struct exec_run *r, const struct oci_exec_opts *o, vs_error_t *err)
{
        int sv[2];

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return vs_error_errno(err, "socketpair");
        fflush(NULL);
        r->pid = fork();
        if (r->pid < 0) {
                close(sv[0]);
                close(sv[1]);
                return vs_error_errno(err, "fork");
        }
        if (r->pid == 0) {
                close(sv[0]);
                exec_child(o, r->c, r->st.pid, sv[1], r->seccomp);
                _exit(1);
        }
        close(sv[1]);
        r->sock = sv[0];
        if (hand_over(r, o, err) < 0) {
                kill(r->pid, SIGKILL);
                waitpid(r->pid, NULL, 0);
                return -1;
        }
        return 0;
}

/* The process's exit status as a shell gives it (128 + signal). */
static int wait_process(pid_t pid, vs_error_t *err)
{
        int status;

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return vs_error_errno(err, "wait for the process");
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int oci_exec(const struct oci_exec_opts *o, vs_error_t *err)
{
        __attribute__((cleanup(exec_run_release))) struct exec_run r = { .sock = -1, .pid = -1 };

        if (prepare_exec(&r, o, err) < 0 || start_process(&r, o, err) < 0)
                return -1;
        if (o->pid_file && oci_write_pid_file(o->pid_file, r.pid, err) < 0)
                return -1;
        if (o->detach)
                return 0;
        return wait_process(r.pid, err);
}
