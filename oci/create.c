/* create: the container's init is cloned into its new user and pid
 * namespaces; the runtime writes its id maps, puts it in its cgroup with
 * its limits and then lets it go on. The init joins or makes its other
 * namespaces, builds its root, asks for the prestart and createRuntime
 * hooks, runs createContainer, pivots and waits on exec.fifo; create
 * exits when it waits there, and the caller's shim becomes its parent.
 * start opens the fifo: the init runs startContainer, drops to the
 * process's user, capabilities and seccomp filter, and execs. */
#include "oci.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/fdpass.h"
#include "vs/fsutil.h"
#include "vs/procid.h"
#include "oci_child.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* ---- messages between the runtime and the init ---- */

int oci_msg_send(int sock, int type, int value, const char *text, int fd)
{
        struct oci_msg m = { .type = type, .value = value };

        if (text)
                vs_strlcpy(m.text, text, sizeof(m.text));
        return vs_send_fds(sock, &m, sizeof(m), &fd, fd >= 0 ? 1 : 0);
}

int oci_msg_recv(int sock, struct oci_msg *m, int *fd)
{
        int fds[VS_FDPASS_MAX], nfds = 0;
        ssize_t n = vs_recv_fds(sock, m, sizeof(*m), fds, &nfds, NULL);

        if (fd)
                *fd = -1;
        for (int i = 0; i < nfds; i++) {
                if (fd && *fd < 0)
                        *fd = fds[i];
                else
                        close(fds[i]);
        }
        if (n <= 0)
                return (int)n;
        m->text[sizeof(m->text) - 1] = '\0';
        return 1;
}

void oci_child_fail(int sock, const vs_error_t *err)
{
        if (sock < 0 || oci_msg_send(sock, OCI_MSG_ERROR, err->errnum, err->msg, -1) < 0)
                fprintf(stderr, "paene-oci: %s\n", err->msg);
        _exit(1);
}

/* ---- the init's side ---- */

static int join_namespaces(const struct oci_config *c, int only_user, vs_error_t *err)
{
        for (int pass = 0; pass < 2; pass++) {
                for (size_t i = 0; i < c->n_namespaces; i++) {
                        const struct oci_namespace *ns = &c->namespaces[i];
                        int fd;

                        if (!ns->path || ns->type == CLONE_NEWPID)
                                continue;
                        if ((pass == 0) != (ns->type == CLONE_NEWUSER))
                                continue;
                        fd = open(ns->path, O_RDONLY | O_CLOEXEC);
                        if (fd < 0)
                                return vs_error_errno(err, "open namespace %s", ns->path);
                        if (setns(fd, ns->type) < 0) {
                                close(fd);
                                return vs_error_errno(err, "join namespace %s", ns->path);
                        }
                        close(fd);
                }
                if (only_user)
                        break;
        }
        return 0;
}

static int new_namespace_flags(const struct oci_config *c)
{
        int flags = 0;

        for (size_t i = 0; i < c->n_namespaces; i++)
                if (!c->namespaces[i].path && c->namespaces[i].type != CLONE_NEWUSER &&
                    c->namespaces[i].type != CLONE_NEWPID)
                        flags |= c->namespaces[i].type;
        return flags;
}

static int set_names(const struct oci_config *c, vs_error_t *err)
{
        if (c->hostname && sethostname(c->hostname, strlen(c->hostname)) < 0)
                return vs_error_errno(err, "set hostname");
        if (c->domainname && setdomainname(c->domainname, strlen(c->domainname)) < 0)
                return vs_error_errno(err, "set domainname");
        return 0;
}

/* The terminal: a pty of the container's own devpts, its master sent to
 * the runtime (which hands it to --console-socket), its slave the init's
 * controlling terminal and stdio. */
int oci_child_terminal(int sock, const struct oci_process *p, vs_error_t *err)
{
        int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC), slave;
        char name[128];
        struct winsize ws = { .ws_row = (unsigned short)p->console_height,
                              .ws_col = (unsigned short)p->console_width };

        if (master < 0)
                return vs_error_errno(err, "open /dev/ptmx");
        if (unlockpt(master) < 0 || ptsname_r(master, name, sizeof(name)) != 0)
                return vs_error_errno(err, "unlock pty");
        slave = open(name, O_RDWR | O_NOCTTY);
        if (slave < 0)
                return vs_error_errno(err, "open %s", name);
        if (p->console_height || p->console_width)
                ioctl(master, TIOCSWINSZ, &ws);
        if (oci_msg_send(sock, OCI_MSG_PTY, 0, NULL, master) < 0)
                return vs_error_errno(err, "send pty master");
        close(master);
        if (setsid() < 0 && errno != EPERM)
                return vs_error_errno(err, "setsid");
        if (ioctl(slave, TIOCSCTTY, 0) < 0)
                return vs_error_errno(err, "set controlling terminal");
        for (int fd = 0; fd < 3; fd++)
                if (dup2(slave, fd) < 0)
                        return vs_error_errno(err, "dup pty");
        if (slave > 2)
                close(slave);
        return 0;
}

static int wait_msg(int sock, int type, struct oci_msg *m, vs_error_t *err)
{
        int rc = oci_msg_recv(sock, m, NULL);

        if (rc < 0)
                return vs_error_errno(err, "read from the runtime");
        if (rc == 0 || m->type != type)
                return vs_error_set(err, EPIPE, "the runtime went away");
        return 0;
}

char *oci_find_exec(const char *name, char *const *env)
{
        const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

        if (strchr(name, '/'))
                return vs_xstrdup(name);
        for (char *const *e = env; e && *e; e++)
                if (strncmp(*e, "PATH=", 5) == 0)
                        path = *e + 5;
        while (*path) {
                size_t len = strcspn(path, ":");
                char *full = vs_strdupf("%.*s/%s", (int)len, len ? path : ".", name);

                if (access(full, X_OK) == 0)
                        return full;
                free(full);
                path += len;
                path += *path == ':';
        }
        return NULL;
}

static int set_rlimits(const struct oci_process *p, vs_error_t *err)
{
        for (size_t i = 0; i < p->n_rlimits; i++) {
                struct rlimit r = { p->rlimits[i].soft, p->rlimits[i].hard };

                struct rlimit now = { 0, 0 };

                if (setrlimit(p->rlimits[i].resource, &r) < 0) {
                        getrlimit(p->rlimits[i].resource, &now);
                        return vs_error_errno(
                                err, "set rlimit %d to %llu/%llu (hard now %llu)",
                                p->rlimits[i].resource, (unsigned long long)r.rlim_cur,
                                (unsigned long long)r.rlim_max, (unsigned long long)now.rlim_max);
                }
        }
        return 0;
}

int oci_child_finish(const struct oci_process *p, void *seccomp, int preserve_fds, vs_error_t *err)
{
        cleanup_free char *file = NULL;

        if (chdir(p->cwd) < 0)
                return vs_error_errno(err, "chdir %s", p->cwd);
        if (p->has_umask)
                umask(p->umask);
        if (set_rlimits(p, err) < 0)
                return -1;
        if (vs_capsets_bound(&p->caps, err) < 0)
                return -1;
        if (seccomp && !p->no_new_privileges && vs_seccomp_load(seccomp, err) < 0)
                return -1;
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                return vs_error_errno(err, "keep capabilities");
        if (setgroups(p->n_groups, p->groups) < 0 && errno != EPERM)
                return vs_error_errno(err, "setgroups");
        if (setresgid(p->gid, p->gid, p->gid) < 0)
                return vs_error_errno(err, "setgid %u", (unsigned)p->gid);
        if (setresuid(p->uid, p->uid, p->uid) < 0)
                return vs_error_errno(err, "setuid %u", (unsigned)p->uid);
        if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
                return vs_error_errno(err, "keep capabilities");
        if (vs_capsets_apply(&p->caps, err) < 0)
                return -1;
        if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return vs_error_errno(err, "set no_new_privs");
        file = oci_find_exec(p->args[0], p->env);
        if (!file)
                return vs_error_kind(err, VS_E_NOTFOUND, ENOENT, "%s: not found in PATH",
                                     p->args[0]);
        /* the listen fds the caller passes (LISTEN_FDS) stay, nothing else */
        syscall(SYS_close_range, 3 + preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC);
        if (seccomp && p->no_new_privileges && vs_seccomp_load(seccomp, err) < 0)
                return -1;
        execve(file, p->args, p->env);
        return vs_error_errno(err, "exec %s", file);
}

static void child_main(const struct oci_config *c, const struct oci_create_opts *o, int sock,
                       int fifo_fd, void *seccomp)
{
        struct oci_msg m;
        vs_error_t err = { 0 };
        /* a joined mount namespace is set up as a new one is (as runc
         * does); without one the root is only chroot'ed: no mount of the
         * config may land in the host's namespace */
        int new_mnt = oci_config_ns(c, CLONE_NEWNS) != NULL;
        const struct oci_namespace *userns = oci_config_ns(c, CLONE_NEWUSER);
        int fd;
        char *state;
        struct oci_state st = { .id = (char *)o->id, .bundle = (char *)o->bundle };

        if (wait_msg(sock, OCI_MSG_GO, &m, &err) < 0)
                oci_child_fail(sock, &err);
        st.pid = m.value;
        if (join_namespaces(c, 0, &err) < 0)
                oci_child_fail(sock, &err);
        if (userns && setresgid(0, 0, 0) < 0 && errno != EINVAL)
                oci_child_fail(sock, (vs_error_errno(&err, "setgid 0"), &err));
        if (userns && setresuid(0, 0, 0) < 0 && errno != EINVAL)
                oci_child_fail(sock, (vs_error_errno(&err, "setuid 0"), &err));
        if (unshare(new_namespace_flags(c)) < 0)
                oci_child_fail(sock, (vs_error_errno(&err, "create namespaces"), &err));
        if (!o->no_new_keyring)
                syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, o->id);
        if (oci_config_ns(c, CLONE_NEWUTS) && set_names(c, &err) < 0)
                oci_child_fail(sock, &err);
        if (new_mnt && oci_rootfs_prepare(c, &err) < 0)
                oci_child_fail(sock, &err);
        if (oci_msg_send(sock, OCI_MSG_HOOKS, 0, NULL, -1) < 0 ||
            wait_msg(sock, OCI_MSG_HOOKS_DONE, &m, &err) < 0)
                oci_child_fail(sock, &err);
        state = oci_state_json(&st, "created", c);
        if (oci_hooks_run(&c->hooks[OCI_HOOK_CREATE_CONTAINER], state, "createContainer", &err) < 0)
                oci_child_fail(sock, &err);
        if (new_mnt && oci_rootfs_enter(c, o->no_pivot, &err) < 0)
                oci_child_fail(sock, &err);
        if (!new_mnt && (chroot(c->root_path) < 0 || chdir("/") < 0))
                oci_child_fail(sock, (vs_error_errno(&err, "chroot %s", c->root_path), &err));
        if (oci_rootfs_finish(c, &err) < 0)
                oci_child_fail(sock, &err);
        if (c->process.terminal && oci_child_terminal(sock, &c->process, &err) < 0)
                oci_child_fail(sock, &err);
        if (oci_msg_send(sock, OCI_MSG_READY, 0, NULL, -1) < 0)
                _exit(1);
        close(sock);
        /* blocks until start opens the other end */
        /* through the state directory's fd: the container's root may have
         * no /proc (no mount namespace, or none mounted) */
        fd = openat(fifo_fd, "exec.fifo", O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "0", 1) != 1)
                oci_child_fail(-1, (vs_error_errno(&err, "exec fifo"), &err));
        close(fd);
        close(fifo_fd);
        if (oci_hooks_run(&c->hooks[OCI_HOOK_START_CONTAINER], state, "startContainer", &err) < 0)
                oci_child_fail(-1, &err);
        free(state);
        /* a config without a process makes a container that ends at start */
        if (!c->has_process)
                _exit(0);
        oci_child_finish(&c->process, seccomp, o->preserve_fds, &err);
        oci_child_fail(-1, &err);
}

/* ---- the runtime's side ---- */

static int write_idmap(pid_t pid, const char *file, const struct oci_idmap *maps, size_t n,
                       vs_error_t *err)
{
        cleanup_free char *text = vs_xstrdup("");
        char path[64];

        for (size_t i = 0; i < n; i++) {
                char *joined = vs_strdupf("%s%u %u %u\n", text, maps[i].container_id,
                                          maps[i].host_id, maps[i].size);

                free(text);
                text = joined;
        }
        snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
        if (vs_write_string(AT_FDCWD, path, text, err) < 0)
                return vs_error_wrap(err, "write %s", file);
        return 0;
}

/* Hands the terminal's master to whoever listens on --console-socket (the
 * OCI protocol: one fd with SCM_RIGHTS). */
int oci_send_console(const char *socket_path, int master, vs_error_t *err)
{
        struct sockaddr_un addr = { .sun_family = AF_UNIX };
        cleanup_close int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (s < 0)
                return vs_error_errno(err, "console socket");
        if (strlen(socket_path) >= sizeof(addr.sun_path))
                return vs_error_kind(err, VS_E_USAGE, ENAMETOOLONG, "--console-socket: too long");
        strcpy(addr.sun_path, socket_path);
        if (connect(s, (struct sockaddr *)&addr, sizeof(addr)) < 0)
                return vs_error_errno(err, "connect to %s", socket_path);
        if (vs_send_fds(s, "/dev/ptmx", 9, &master, 1) < 0)
                return vs_error_errno(err, "send the console to %s", socket_path);
        return 0;
}

static char *now_rfc3339(void)
{
        struct timespec ts;
        struct tm tm;
        char buf[64];

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
        return vs_strdupf("%s.%09ldZ", buf, ts.tv_nsec);
}

int oci_write_pid_file(const char *path, pid_t pid, vs_error_t *err)
{
        char text[32];
        cleanup_free char *dir = vs_xstrdup(path);
        char *slash = strrchr(dir, '/');
        cleanup_close int dirfd = -1;

        snprintf(text, sizeof(text), "%d", (int)pid);
        if (slash == dir)
                slash[1] = '\0';
        else if (slash)
                *slash = '\0';
        dirfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                return vs_error_errno(err, "--pid-file %s", path);
        return vs_write_atomic(dirfd, strrchr(path, '/') ? strrchr(path, '/') + 1 : path, text,
                               strlen(text), 0644, 0, err);
}

struct create_run {
        const struct oci_create_opts *o;
        struct oci_config *c;
        int statefd, sock;
        pid_t pid;
        int pidfd;
        struct oci_cgroup *cg;
        struct oci_state st;
};

/* Follows the init's requests until it waits on the fifo. */
static int follow_init(struct create_run *r, vs_error_t *err)
{
        for (;;) {
                struct oci_msg m;
                int fd = -1, rc = oci_msg_recv(r->sock, &m, &fd);
                cleanup_close int passed = fd;

                if (rc < 0)
                        return vs_error_errno(err, "read from the container's init");
                if (rc == 0)
                        return vs_error_set(err, EPIPE, "the container's init exited");
                if (m.type == OCI_MSG_ERROR)
                        return vs_error_set(err, m.value, "%s", m.text);
                if (m.type == OCI_MSG_READY)
                        return 0;
                if (m.type == OCI_MSG_PTY) {
                        if (!r->o->console_socket)
                                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                                     "process.terminal needs --console-socket");
                        if (oci_send_console(r->o->console_socket, passed, err) < 0)
                                return -1;
                        continue;
                }
                if (m.type == OCI_MSG_HOOKS) {
                        cleanup_free char *state = oci_state_json(&r->st, "created", r->c);

                        if (r->c->has_resources && oci_cgroup_apply_devices(r->cg, r->c, err) < 0)
                                return -1;
                        if (oci_hooks_run(&r->c->hooks[OCI_HOOK_PRESTART], state, "prestart", err) <
                                    0 ||
                            oci_hooks_run(&r->c->hooks[OCI_HOOK_CREATE_RUNTIME], state,
                                          "createRuntime", err) < 0)
                                return -1;
                        if (oci_msg_send(r->sock, OCI_MSG_HOOKS_DONE, 0, NULL, -1) < 0)
                                return vs_error_errno(err, "write to the container's init");
                }
        }
}

static int setup_init(struct create_run *r, vs_error_t *err)
{
        const struct oci_config *c = r->c;
        char oom[16];

        if (oci_config_ns(c, CLONE_NEWUSER) && !oci_config_ns(c, CLONE_NEWUSER)->path) {
                if (write_idmap(r->pid, "uid_map", c->uid_maps, c->n_uid_maps, err) < 0 ||
                    write_idmap(r->pid, "gid_map", c->gid_maps, c->n_gid_maps, err) < 0)
                        return -1;
        }
        if (vs_read_file(AT_FDCWD, "/proc/self/cgroup", 65536, &r->st.cgroup_base, NULL, err) < 0)
                return -1;
        if (oci_cgroup_open(c->cgroups_path, r->st.cgroup_base, r->o->systemd, r->o->id, 1, &r->cg,
                            err) < 0)
                return -1;
        r->st.cgroup = vs_xstrdup(oci_cgroup_path(r->cg));
        r->st.cgroup_created = oci_cgroup_created(r->cg);
        /* recorded before anything else can fail, so that the cleanup of
         * a failed create finds the cgroup */
        if (c->has_resources && oci_cgroup_apply(r->cg, &c->resources, err) < 0)
                return -1;
        if (oci_cgroup_add(r->cg, r->pid, err) < 0)
                return -1;
        if (c->process.has_oom_score_adj) {
                char path[64];

                snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)r->pid);
                snprintf(oom, sizeof(oom), "%d", c->process.oom_score_adj);
                if (vs_write_string(AT_FDCWD, path, oom, err) < 0)
                        return vs_error_wrap(err, "process.oomScoreAdj");
        }
        return 0;
}

static void warn_labels(const struct oci_config *c)
{
        if (c->process.apparmor && *c->process.apparmor)
                fprintf(stderr,
                        "paene-oci: warning: process.apparmorProfile '%s' ignored: no "
                        "AppArmor here\n",
                        c->process.apparmor);
        if (c->process.selinux && *c->process.selinux)
                fprintf(stderr, "paene-oci: warning: process.selinuxLabel ignored: no SELinux "
                                "here\n");
}

static int check_config(const struct oci_config *c, vs_error_t *err)
{
        struct stat st;

        if (c->has_process && !c->process.args)
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "config.json: process.args: missing");
        if (stat(c->root_path, &st) < 0 || !S_ISDIR(st.st_mode))
                return vs_error_kind(err, VS_E_USAGE, ENOENT,
                                     "config.json: root.path %s is not a directory", c->root_path);
        for (size_t i = 0; i < c->n_namespaces; i++)
                if (c->namespaces[i].path && access(c->namespaces[i].path, F_OK) < 0)
                        return vs_error_kind(err, VS_E_USAGE, errno,
                                             "config.json: namespace path %s: %s",
                                             c->namespaces[i].path, strerror(errno));
        if (oci_config_ns(c, CLONE_NEWUSER) && !oci_config_ns(c, CLONE_NEWUSER)->path &&
            (!c->n_uid_maps || !c->n_gid_maps))
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "config.json: a new user namespace needs uidMappings and "
                                     "gidMappings");
        return 0;
}

static pid_t clone_init(const struct oci_config *c, int *pidfd, vs_error_t *err)
{
        const struct oci_namespace *user = oci_config_ns(c, CLONE_NEWUSER);
        const struct oci_namespace *pidns = oci_config_ns(c, CLONE_NEWPID);
        unsigned long flags = SIGCHLD | CLONE_PIDFD;
        pid_t pid;

        if (user && !user->path)
                flags |= CLONE_NEWUSER;
        if (pidns && !pidns->path)
                flags |= CLONE_NEWPID;
        if (pidns && pidns->path) {
                cleanup_close int fd = open(pidns->path, O_RDONLY | O_CLOEXEC);

                /* joined here: a pid namespace holds the children made
                 * after setns, not the caller */
                if (fd < 0 || setns(fd, CLONE_NEWPID) < 0)
                        return vs_error_errno(err, "join pid namespace %s", pidns->path);
        }
        pid = (pid_t)syscall(SYS_clone, flags, NULL, pidfd, NULL, 0);
        if (pid < 0)
                return vs_error_errno(err, "clone the container's init");
        return pid;
}

static void undo_create(struct create_run *r)
{
        if (r->pid > 0) {
                siginfo_t info;

                kill(r->pid, SIGKILL);
                waitid(P_PID, (id_t)r->pid, &info, WEXITED);
        }
        if (r->cg) {
                oci_cgroup_remove(r->cg, oci_cgroup_created(r->cg), NULL);
                oci_cgroup_free(r->cg);
                r->cg = NULL;
        }
}

/* The host id that container id 0 maps to (the init opens exec.fifo as
 * that), or 0 without a new user namespace. */
static uint32_t host_root(const struct oci_idmap *maps, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (maps[i].container_id == 0)
                        return maps[i].host_id;
        return 0;
}

static int run_create(struct create_run *r, void *seccomp, vs_error_t *err)
{
        int sv[2];
        cleanup_close int fifo = -1;
        vs_procid_t id;

        if (mkfifoat(r->statefd, "exec.fifo", 0600) < 0)
                return vs_error_errno(err, "create exec.fifo");
        if (fchownat(r->statefd, "exec.fifo", host_root(r->c->uid_maps, r->c->n_uid_maps),
                     host_root(r->c->gid_maps, r->c->n_gid_maps), AT_SYMLINK_NOFOLLOW) < 0)
                return vs_error_errno(err, "chown exec.fifo");
        /* the init keeps the state directory (0711: searchable by the
         * container's root, its files stay 0600) */
        fifo = openat(r->statefd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fifo < 0)
                return vs_error_errno(err, "open the state directory");
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return vs_error_errno(err, "socketpair");
        fflush(NULL);
        r->pid = clone_init(r->c, &r->pidfd, err);
        if (r->pid < 0) {
                close(sv[0]);
                close(sv[1]);
                r->pid = 0;
                return -1;
        }
        if (r->pid == 0) {
                close(sv[0]);
                child_main(r->c, r->o, sv[1], fifo, seccomp);
                _exit(1);
        }
        close(sv[1]);
        r->sock = sv[0];
        r->st.pid = r->pid;
        if (setup_init(r, err) < 0)
                return -1;
        if (oci_msg_send(r->sock, OCI_MSG_GO, r->pid, NULL, -1) < 0)
                return vs_error_errno(err, "start the container's init");
        if (follow_init(r, err) < 0)
                return -1;
        if (vs_procid_read(r->pid, &id, err) < 0)
                return -1;
        r->st.starttime = id.starttime;
        if (oci_state_write(r->statefd, &r->st, err) < 0)
                return -1;
        if (r->o->pid_file && oci_write_pid_file(r->o->pid_file, r->pid, err) < 0)
                return -1;
        return 0;
}

static int copy_config(int statefd, const char *bundle, vs_error_t *err)
{
        cleanup_free char *path = vs_strdupf("%s/config.json", bundle);
        cleanup_free char *text = NULL;
        size_t len;

        if (vs_read_file(AT_FDCWD, path, OCI_CONFIG_MAX, &text, &len, err) < 0)
                return -1;
        return vs_write_atomic(statefd, "config.json", text, len, 0600, 0, err);
}

/* What a create holds until it returns (also on failure). */
static void create_run_release(struct create_run *r)
{
        if (r->sock >= 0)
                close(r->sock);
        if (r->pidfd >= 0)
                close(r->pidfd);
        if (r->statefd >= 0)
                close(r->statefd);
        oci_cgroup_free(r->cg);
        oci_state_clear(&r->st);
        oci_config_free(r->c);
}

static void seccomp_releasep(void **seccomp)
{
        vs_seccomp_release(*seccomp);
}

/* The container's state directory and its config, then the init; on a
 * failure after the directory exists, nothing of it stays. */
static int make_container(struct create_run *r, void *seccomp, vs_error_t *err)
{
        const struct oci_create_opts *o = r->o;

        if (oci_state_dir_make(o->root, o->id, &r->statefd, err) < 0)
                return -1;
        r->st.id = vs_xstrdup(o->id);
        r->st.bundle = vs_xstrdup(o->bundle);
        r->st.created = now_rfc3339();
        r->st.systemd = o->systemd;
        if (copy_config(r->statefd, o->bundle, err) < 0 || run_create(r, seccomp, err) < 0) {
                cleanup_free char *dir = vs_strdupf("%s/%s", o->root, o->id);

                undo_create(r);
                vs_rmtree_at(AT_FDCWD, dir, NULL);
                return -1;
        }
        return 0;
}

int oci_create(const struct oci_create_opts *o, vs_error_t *err)
{
        __attribute__((cleanup(create_run_release))) struct create_run r = {
                .o = o, .statefd = -1, .sock = -1, .pidfd = -1
        };
        __attribute__((cleanup(seccomp_releasep))) void *seccomp = NULL;
        char cwd[4096];

        if (oci_id_valid(o->id, err) < 0 || oci_config_load(o->bundle, &r.c, err) < 0 ||
            check_config(r.c, err) < 0)
                return -1;
        warn_labels(r.c);
        if (r.c->seccomp && vs_seccomp_build(r.c->seccomp, &seccomp, err) < 0)
                return -1;
        /* relative bind sources are the bundle's */
        if (!getcwd(cwd, sizeof(cwd)) || chdir(o->bundle) < 0)
                return vs_error_errno(err, "chdir %s", o->bundle);
        return make_container(&r, seccomp, err);
}
