/* paene-oci: runc's command line. Global options come before the command;
 * each error is one line on stderr and, with --log, in the log in the
 * format --log-format asks for (text or json). */
#include "oci.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/parse.h"

#define DEFAULT_ROOT "/run/paene-oci"

static const char *log_path, *log_format = "text";

struct args {
        int argc;
        char **argv;
        int i;
};

static void log_line(const char *level, const char *msg)
{
        FILE *f;
        char stamp[64];
        time_t now = time(NULL);
        struct tm tm;

        if (!log_path)
                return;
        f = fopen(log_path, "ae");
        if (!f)
                return;
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (strcmp(log_format, "json") == 0) {
                struct json_object *o = json_object_new_object();

                json_object_object_add(o, "level", json_object_new_string(level));
                json_object_object_add(o, "msg", json_object_new_string(msg));
                json_object_object_add(o, "time", json_object_new_string(stamp));
                fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
                json_object_put(o);
        } else {
                fprintf(f, "time=\"%s\" level=%s msg=\"%s\"\n", stamp, level, msg);
        }
        fclose(f);
}

static int fail(const vs_error_t *err)
{
        char line[sizeof(err->msg)];

        vs_strlcpy(line, err->msg, sizeof(line));
        /* a message may quote config.json: its control characters would
         * break the one line a caller reads */
        for (char *p = line; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        *p = '?';
        fprintf(stderr, "paene-oci: %s\n", line);
        log_line("error", line);
        return 1;
}

static int usage_error(const char *fmt, ...) VS_PRINTF(1, 2);
static int usage_error(const char *fmt, ...)
{
        vs_error_t err = { 0 };
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(err.msg, sizeof(err.msg), fmt, ap);
        va_end(ap);
        fail(&err);
        return 2;
}

/* --name VALUE, --name=VALUE, -x VALUE: 1 matched (value in *out), 0 not,
 * -1 missing value. */
static int opt_value(struct args *a, const char *lng, const char *shrt, const char **out)
{
        const char *arg = a->argv[a->i];
        size_t len = strlen(lng);

        if (strncmp(arg, lng, len) == 0 && arg[len] == '=') {
                *out = arg + len + 1;
                return 1;
        }
        if (strcmp(arg, lng) == 0 || (shrt && strcmp(arg, shrt) == 0)) {
                if (a->i + 1 >= a->argc)
                        return -1;
                *out = a->argv[++a->i];
                return 1;
        }
        return 0;
}

static int opt_flag(struct args *a, const char *lng, const char *shrt)
{
        const char *arg = a->argv[a->i];
        size_t len = strlen(lng);

        if (strcmp(arg, lng) == 0 || (shrt && strcmp(arg, shrt) == 0))
                return 1;
        /* --flag=true / --flag=false as urfave/cli takes them */
        if (strncmp(arg, lng, len) == 0 && arg[len] == '=')
                return strcmp(arg + len + 1, "false") != 0;
        return 0;
}

static int is_flag(struct args *a, const char *lng, const char *shrt)
{
        const char *arg = a->argv[a->i];
        size_t len = strlen(lng);

        return strcmp(arg, lng) == 0 || (shrt && strcmp(arg, shrt) == 0) ||
               (strncmp(arg, lng, len) == 0 && arg[len] == '=');
}

static char *absolute(const char *path)
{
        char buf[4096];

        if (realpath(path, buf))
                return vs_xstrdup(buf);
        return vs_xstrdup(path);
}

/* ---- commands ---- */

static int open_container(const char *root, const char *id, int *dirfd, struct oci_state *st,
                          vs_error_t *err)
{
        if (oci_state_open(root, id, dirfd, err) < 0)
                return -1;
        if (oci_state_read(*dirfd, st, err) < 0) {
                close(*dirfd);
                return -1;
        }
        return 0;
}

static struct oci_config *saved_config(int dirfd, const char *bundle)
{
        cleanup_free char *text = NULL;
        struct oci_config *c = NULL;
        size_t len;
        vs_error_t err;

        if (vs_read_file(dirfd, "config.json", OCI_CONFIG_MAX, &text, &len, NULL) < 0)
                return NULL;
        if (oci_config_parse(text, len, bundle, &c, &err) < 0)
                return NULL;
        return c;
}

static int cmd_create(const char *root, struct args *a, int systemd)
{
        struct oci_create_opts o = { .root = root, .bundle = ".", .systemd = systemd };
        cleanup_free char *bundle = NULL;
        const char *v = NULL, *fds = NULL;
        vs_error_t err = { 0 };

        for (a->i++; a->i < a->argc; a->i++) {
                int rc;

                if (a->argv[a->i][0] != '-') {
                        if (o.id)
                                return usage_error("create: more than one container id");
                        o.id = a->argv[a->i];
                        continue;
                }
                if ((rc = opt_value(a, "--bundle", "-b", &o.bundle)) ||
                    (rc = opt_value(a, "--pid-file", NULL, &o.pid_file)) ||
                    (rc = opt_value(a, "--console-socket", NULL, &o.console_socket)) ||
                    (rc = opt_value(a, "--preserve-fds", NULL, &fds))) {
                        if (rc < 0)
                                return usage_error("%s needs a value", a->argv[a->i]);
                        continue;
                }
                if (is_flag(a, "--no-pivot", NULL))
                        o.no_pivot = opt_flag(a, "--no-pivot", NULL);
                else if (is_flag(a, "--no-new-keyring", NULL))
                        o.no_new_keyring = opt_flag(a, "--no-new-keyring", NULL);
                else if (is_flag(a, "--no-subreaper", NULL))
                        (void)v;
                else
                        return usage_error("create: unknown option %s", a->argv[a->i]);
        }
        if (!o.id)
                return usage_error("create: container id missing");
        if (fds) {
                uint64_t n;

                if (vs_parse_uint(fds, 0, 1024, "--preserve-fds", &n, &err) < 0)
                        return fail(&err);
                o.preserve_fds = (int)n;
        }
        bundle = absolute(o.bundle);
        o.bundle = bundle;
        if (oci_create(&o, &err) < 0)
                return fail(&err);
        return 0;
}

static const char *only_id(struct args *a, const char *cmd)
{
        const char *id = NULL;

        for (a->i++; a->i < a->argc; a->i++) {
                if (a->argv[a->i][0] == '-' || id) {
                        usage_error("%s: unexpected %s", cmd, a->argv[a->i]);
                        return NULL;
                }
                id = a->argv[a->i];
        }
        if (!id)
                usage_error("%s: container id missing", cmd);
        return id;
}

/* Reads the init's byte from exec.fifo. Opened without blocking: an init
 * that died after create must not leave start waiting for a writer. */
static int wait_fifo(int fifo, const struct oci_state *st, char *byte)
{
        for (int round = 0; round < 3000; round++) {
                struct pollfd p = { .fd = fifo, .events = POLLIN };
                ssize_t n = read(fifo, byte, 1);

                if (n == 1)
                        return 0;
                if (n < 0 && errno != EAGAIN)
                        return -1;
                if (!oci_pid_alive(st->pid, st->starttime))
                        return -1;
                /* no writer yet: poll says hang-up at once, so wait a bit */
                if (n == 0)
                        usleep(2000);
                else
                        poll(&p, 1, 10);
        }
        return -1;
}

/* Waits (bounded) until the init has exec'd the process: a signal that
 * `kill` sends right after start then reaches the program, not the
 * runtime's code (which, as a pid namespace's init, ignores it). */
static void wait_exec(const struct oci_state *st)
{
        char self[4096], path[64], now[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

        if (n < 0)
                return;
        self[n] = '\0';
        snprintf(path, sizeof(path), "/proc/%d/exe", (int)st->pid);
        for (int round = 0; round < 1000; round++) {
                ssize_t m = readlink(path, now, sizeof(now) - 1);

                if (m < 0 || !oci_pid_alive(st->pid, st->starttime))
                        return;
                now[m] = '\0';
                if (strcmp(now, self) != 0)
                        return;
                usleep(1000);
        }
}

static int cmd_start(const char *root, struct args *a)
{
        const char *id = only_id(a, "start");
        struct oci_state st;
        vs_error_t err = { 0 };
        cleanup_close int dirfd = -1;
        cleanup_close int fifo = -1;
        const char *status;
        char byte;
        struct oci_config *c;

        if (!id)
                return 2;
        if (open_container(root, id, &dirfd, &st, &err) < 0)
                return fail(&err);
        status = oci_state_status(dirfd, &st);
        if (strcmp(status, "created") != 0) {
                vs_error_kind(&err, VS_E_STATE, EINVAL, "container '%s' is %s, not created", id,
                              status);
                oci_state_clear(&st);
                return fail(&err);
        }
        fifo = openat(dirfd, "exec.fifo", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fifo < 0 || wait_fifo(fifo, &st, &byte) < 0) {
                vs_error_set(&err, ESRCH, "start '%s': the container's init is gone", id);
                oci_state_clear(&st);
                return fail(&err);
        }
        unlinkat(dirfd, "exec.fifo", 0);
        wait_exec(&st);
        c = saved_config(dirfd, st.bundle);
        if (c) {
                cleanup_free char *state = oci_state_json(&st, "running", c);

                /* a failing poststart hook is logged: the process runs */
                if (oci_hooks_run(&c->hooks[OCI_HOOK_POSTSTART], state, "poststart", &err) < 0)
                        fail(&err);
                oci_config_free(c);
        }
        oci_state_clear(&st);
        return 0;
}

static int cmd_state(const char *root, struct args *a)
{
        const char *id = only_id(a, "state");
        struct oci_state st;
        vs_error_t err = { 0 };
        cleanup_close int dirfd = -1;
        cleanup_free char *json = NULL;
        struct oci_config *c;

        if (!id)
                return 2;
        if (open_container(root, id, &dirfd, &st, &err) < 0)
                return fail(&err);
        c = saved_config(dirfd, st.bundle);
        json = oci_state_json(&st, oci_state_status(dirfd, &st), c);
        printf("%s\n", json);
        oci_config_free(c);
        oci_state_clear(&st);
        return 0;
}

static int kill_all(struct oci_state *st, int sig, vs_error_t *err)
{
        struct oci_cgroup *cg;
        pid_t *pids;
        size_t n;

        if (!st->cgroup || !*st->cgroup)
                return kill(st->pid, sig) < 0 ? vs_error_errno(err, "kill %d", st->pid) : 0;
        if (oci_cgroup_open(st->cgroup, st->cgroup_base, 0, st->id, 0, &cg, err) < 0)
                return -1;
        if (oci_cgroup_pids(cg, &pids, &n, err) < 0) {
                oci_cgroup_free(cg);
                return -1;
        }
        for (size_t i = 0; i < n; i++)
                kill(pids[i], sig);
        /* a frozen cgroup keeps SIGKILL pending until it thaws */
        if (sig == SIGKILL && oci_cgroup_frozen(cg))
                oci_cgroup_freeze(cg, 0, NULL);
        free(pids);
        oci_cgroup_free(cg);
        return 0;
}

static int cmd_kill(const char *root, struct args *a)
{
        const char *id = NULL, *signame = "SIGTERM";
        int all = 0, sig, npos = 0;
        struct oci_state st;
        vs_error_t err = { 0 };
        cleanup_close int dirfd = -1;
        const char *status;

        for (a->i++; a->i < a->argc; a->i++) {
                if (is_flag(a, "--all", "-a")) {
                        all = opt_flag(a, "--all", "-a");
                        continue;
                }
                if (a->argv[a->i][0] == '-' && a->argv[a->i][1])
                        return usage_error("kill: unknown option %s", a->argv[a->i]);
                if (npos == 0)
                        id = a->argv[a->i];
                else if (npos == 1)
                        signame = a->argv[a->i];
                else
                        return usage_error("kill: unexpected %s", a->argv[a->i]);
                npos++;
        }
        if (!id)
                return usage_error("kill: container id missing");
        if (vs_parse_signal(signame, &sig, &err) < 0)
                return fail(&err);
        if (open_container(root, id, &dirfd, &st, &err) < 0)
                return fail(&err);
        status = oci_state_status(dirfd, &st);
        if (strcmp(status, "stopped") == 0) {
                vs_error_kind(&err, VS_E_STATE, ESRCH, "container '%s' is not running", id);
                oci_state_clear(&st);
                return fail(&err);
        }
        if (all ? kill_all(&st, sig, &err) < 0
                : (kill(st.pid, sig) < 0 && vs_error_errno(&err, "kill %d", st.pid) < 0)) {
                oci_state_clear(&st);
                return fail(&err);
        }
        oci_state_clear(&st);
        return 0;
}

/* Waits (bounded) until the init is gone after SIGKILL. */
static int wait_gone(struct oci_state *st)
{
        for (int i = 0; i < 2000; i++) {
                struct timespec ts = { 0, 5 * 1000 * 1000 };

                if (!oci_pid_alive(st->pid, st->starttime))
                        return 0;
                nanosleep(&ts, NULL);
        }
        return -1;
}

static int cmd_delete(const char *root, struct args *a)
{
        const char *id = NULL;
        int force = 0;
        struct oci_state st;
        vs_error_t err = { 0 };
        cleanup_close int dirfd = -1;
        const char *status;
        struct oci_config *c;
        cleanup_free char *path = NULL;

        for (a->i++; a->i < a->argc; a->i++) {
                if (is_flag(a, "--force", "-f"))
                        force = opt_flag(a, "--force", "-f");
                else if (a->argv[a->i][0] == '-')
                        return usage_error("delete: unknown option %s", a->argv[a->i]);
                else if (id)
                        return usage_error("delete: unexpected %s", a->argv[a->i]);
                else
                        id = a->argv[a->i];
        }
        if (!id)
                return usage_error("delete: container id missing");
        if (open_container(root, id, &dirfd, &st, &err) < 0) {
                /* --force on a container that is gone is done */
                if (force && err.kind == VS_E_NOTFOUND)
                        return 0;
                return fail(&err);
        }
        status = oci_state_status(dirfd, &st);
        if (strcmp(status, "stopped") != 0 && !force) {
                vs_error_kind(&err, VS_E_STATE, EBUSY,
                              "container '%s' is %s: stop it first or "
                              "use --force",
                              id, status);
                oci_state_clear(&st);
                return fail(&err);
        }
        if (strcmp(status, "stopped") != 0) {
                kill_all(&st, SIGKILL, NULL);
                kill(st.pid, SIGKILL);
                if (wait_gone(&st) < 0) {
                        vs_error_set(&err, EBUSY, "container '%s' does not die", id);
                        oci_state_clear(&st);
                        return fail(&err);
                }
        }
        c = saved_config(dirfd, st.bundle);
        if (st.cgroup && *st.cgroup) {
                struct oci_cgroup *cg;

                if (oci_cgroup_open(st.cgroup, st.cgroup_base, 0, st.id, 0, &cg, NULL) == 0) {
                        kill_all(&st, SIGKILL, NULL);
                        if (oci_cgroup_remove(cg, st.cgroup_created, &err) < 0)
                                fail(&err);
                        oci_cgroup_free(cg);
                }
        }
        if (c) {
                cleanup_free char *state = oci_state_json(&st, "stopped", c);

                if (oci_hooks_run(&c->hooks[OCI_HOOK_POSTSTOP], state, "poststop", &err) < 0)
                        fail(&err);
                oci_config_free(c);
        }
        path = vs_strdupf("%s/%s", root, id);
        if (vs_rmtree_at(AT_FDCWD, path, &err) < 0) {
                oci_state_clear(&st);
                return fail(&err);
        }
        oci_state_clear(&st);
        return 0;
}

static int cmd_list(const char *root, struct args *a)
{
        int json = 0, quiet = 0;
        const char *fmt = NULL;
        cleanup_closedir DIR *dir = NULL;
        struct dirent *ent;
        struct json_object *arr = json_object_new_array();

        for (a->i++; a->i < a->argc; a->i++) {
                int rc = opt_value(a, "--format", "-f", &fmt);

                if (rc < 0)
                        return usage_error("--format needs a value");
                if (rc > 0)
                        json = strcmp(fmt, "json") == 0;
                else if (is_flag(a, "--quiet", "-q"))
                        quiet = 1;
                else
                        return usage_error("list: unexpected %s", a->argv[a->i]);
        }
        dir = opendir(root);
        if (!json && !quiet)
                printf("%-20s %-8s %-10s %-40s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
        while (dir && (ent = readdir(dir))) {
                struct oci_state st;
                cleanup_close int dirfd = -1;
                vs_error_t err;
                const char *status;

                if (ent->d_name[0] == '.' || oci_id_valid(ent->d_name, NULL) < 0 ||
                    open_container(root, ent->d_name, &dirfd, &st, &err) < 0)
                        continue;
                status = oci_state_status(dirfd, &st);
                if (json) {
                        struct json_object *o = json_object_new_object();

                        json_object_object_add(o, "ociVersion",
                                               json_object_new_string(OCI_VERSION));
                        json_object_object_add(o, "id", json_object_new_string(st.id));
                        json_object_object_add(
                                o, "pid",
                                json_object_new_int(strcmp(status, "stopped") ? st.pid : 0));
                        json_object_object_add(o, "status", json_object_new_string(status));
                        json_object_object_add(o, "bundle", json_object_new_string(st.bundle));
                        json_object_object_add(o, "created", json_object_new_string(st.created));
                        json_object_array_add(arr, o);
                } else if (quiet) {
                        printf("%s\n", st.id);
                } else {
                        printf("%-20s %-8d %-10s %-40s %s\n", st.id,
                               strcmp(status, "stopped") ? st.pid : 0, status, st.bundle,
                               st.created);
                }
                oci_state_clear(&st);
        }
        if (json)
                printf("%s\n",
                       json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(arr);
        return 0;
}

static int cmd_pause(const char *root, struct args *a, int frozen)
{
        const char *id = only_id(a, frozen ? "pause" : "resume");
        struct oci_state st;
        vs_error_t err = { 0 };
        cleanup_close int dirfd = -1;
        struct oci_cgroup *cg;
        const char *status;
        int rc;

        if (!id)
                return 2;
        if (open_container(root, id, &dirfd, &st, &err) < 0)
                return fail(&err);
        status = oci_state_status(dirfd, &st);
        if (strcmp(status, frozen ? "running" : "paused") != 0) {
                vs_error_kind(&err, VS_E_STATE, EINVAL, "container '%s' is %s", id, status);
                oci_state_clear(&st);
                return fail(&err);
        }
        rc = oci_cgroup_open(st.cgroup, st.cgroup_base, 0, st.id, 0, &cg, &err);
        if (rc == 0) {
                rc = oci_cgroup_freeze(cg, frozen, &err);
                oci_cgroup_free(cg);
        }
        oci_state_clear(&st);
        return rc < 0 ? fail(&err) : 0;
}

static int cmd_ps(const char *root, struct args *a)
{
        const char *id = NULL, *fmt = "table";
        struct oci_state st;
        vs_error_t err = { 0 };
        cleanup_close int dirfd = -1;
        struct oci_cgroup *cg;
        pid_t *pids;
        size_t n;

        for (a->i++; a->i < a->argc; a->i++) {
                int rc = opt_value(a, "--format", "-f", &fmt);

                if (rc < 0)
                        return usage_error("--format needs a value");
                if (rc == 0 && a->argv[a->i][0] == '-')
                        return usage_error("ps: unknown option %s", a->argv[a->i]);
                if (rc == 0 && !id)
                        id = a->argv[a->i];
                else if (rc == 0)
                        break; /* ps options: only the pids are listed */
        }
        if (!id)
                return usage_error("ps: container id missing");
        if (open_container(root, id, &dirfd, &st, &err) < 0)
                return fail(&err);
        if (oci_cgroup_open(st.cgroup, st.cgroup_base, 0, st.id, 0, &cg, &err) < 0 ||
            oci_cgroup_pids(cg, &pids, &n, &err) < 0) {
                oci_state_clear(&st);
                return fail(&err);
        }
        if (strcmp(fmt, "json") == 0) {
                printf("[");
                for (size_t i = 0; i < n; i++)
                        printf("%s%d", i ? "," : "", (int)pids[i]);
                printf("]\n");
        } else {
                printf("PID\tCMD\n");
                for (size_t i = 0; i < n; i++) {
                        char path[64];
                        cleanup_free char *comm = NULL;

                        snprintf(path, sizeof(path), "/proc/%d/comm", (int)pids[i]);
                        vs_read_file(AT_FDCWD, path, 256, &comm, NULL, NULL);
                        if (comm)
                                comm[strcspn(comm, "\n")] = '\0';
                        printf("%d\t%s\n", (int)pids[i], comm ? comm : "?");
                }
        }
        free(pids);
        oci_cgroup_free(cg);
        oci_state_clear(&st);
        return 0;
}

static int read_input(const char *path, char **text, size_t *len, vs_error_t *err)
{
        if (strcmp(path, "-") == 0)
                return vs_read_file(AT_FDCWD, "/dev/stdin", OCI_CONFIG_MAX, text, len, err);
        return vs_read_file(AT_FDCWD, path, OCI_CONFIG_MAX, text, len, err);
}

static int flag_i64(const char *text, const char *what, int *has, int64_t *out, vs_error_t *err)
{
        char *end;

        if (!text)
                return 0;
        errno = 0;
        *out = strtoll(text, &end, 10);
        if (errno || end == text || *end || *out < -1)
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "%s: '%s' is not a number", what,
                                     text);
        *has = 1;
        return 0;
}

static int cmd_update(const char *root, struct args *a)
{
        const char *id = NULL, *file = NULL, *mem = NULL, *pids = NULL, *quota = NULL,
                   *period = NULL, *shares = NULL, *cpus = NULL;
        struct oci_resources r;
        struct oci_state st;
        vs_error_t err = { 0 };
        cleanup_close int dirfd = -1;
        cleanup_free char *text = NULL;
        struct oci_cgroup *cg;
        size_t len;
        int rc;

        for (a->i++; a->i < a->argc; a->i++) {
                if ((rc = opt_value(a, "--resources", "-r", &file)) ||
                    (rc = opt_value(a, "--memory", NULL, &mem)) ||
                    (rc = opt_value(a, "--pids-limit", NULL, &pids)) ||
                    (rc = opt_value(a, "--cpu-quota", NULL, &quota)) ||
                    (rc = opt_value(a, "--cpu-period", NULL, &period)) ||
                    (rc = opt_value(a, "--cpu-share", NULL, &shares)) ||
                    (rc = opt_value(a, "--cpuset-cpus", NULL, &cpus))) {
                        if (rc < 0)
                                return usage_error("%s needs a value", a->argv[a->i]);
                        continue;
                }
                if (a->argv[a->i][0] == '-' || id)
                        return usage_error("update: unexpected %s", a->argv[a->i]);
                id = a->argv[a->i];
        }
        if (!id)
                return usage_error("update: container id missing");
        if (file) {
                if (read_input(file, &text, &len, &err) < 0 ||
                    oci_resources_parse(text, len, &r, &err) < 0)
                        return fail(&err);
        } else {
                memset(&r, 0, sizeof(r));
                if (flag_i64(mem, "--memory", &r.has_mem_limit, &r.mem_limit, &err) < 0 ||
                    flag_i64(pids, "--pids-limit", &r.has_pids, &r.pids_limit, &err) < 0 ||
                    flag_i64(quota, "--cpu-quota", &r.has_cpu_quota, &r.cpu_quota, &err) < 0)
                        return fail(&err);
                int64_t v;
                int has = 0;

                if (flag_i64(period, "--cpu-period", &has, &v, &err) < 0)
                        return fail(&err);
                r.has_cpu_period = has;
                r.cpu_period = (uint64_t)v;
                has = 0;
                if (flag_i64(shares, "--cpu-share", &has, &v, &err) < 0)
                        return fail(&err);
                r.has_cpu_shares = has;
                r.cpu_shares = (uint64_t)v;
                if (cpus)
                        r.cpus = vs_xstrdup(cpus);
        }
        if (open_container(root, id, &dirfd, &st, &err) < 0) {
                oci_resources_clear(&r);
                return fail(&err);
        }
        rc = oci_cgroup_open(st.cgroup, st.cgroup_base, 0, st.id, 0, &cg, &err);
        if (rc == 0) {
                rc = oci_cgroup_apply(cg, &r, &err);
                oci_cgroup_free(cg);
        }
        oci_resources_clear(&r);
        oci_state_clear(&st);
        return rc < 0 ? fail(&err) : 0;
}

static int cmd_exec(const char *root, struct args *a)
{
        struct oci_exec_opts o = { .root = root };
        const char *process = NULL, *cwd = NULL, *user = NULL, *fds = NULL;
        cleanup_strv char **extra_env = NULL;
        size_t n_env = 0, env_cap = 0;
        struct oci_process p;
        struct oci_state st;
        vs_error_t err = { 0 };
        cleanup_close int dirfd = -1;
        int rc, tty = 0;

        memset(&p, 0, sizeof(p));
        for (a->i++; a->i < a->argc; a->i++) {
                const char *v;

                if (a->argv[a->i][0] != '-')
                        break;
                if (strcmp(a->argv[a->i], "--") == 0) {
                        a->i++;
                        break;
                }
                if ((rc = opt_value(a, "--process", "-p", &process)) ||
                    (rc = opt_value(a, "--pid-file", NULL, &o.pid_file)) ||
                    (rc = opt_value(a, "--console-socket", NULL, &o.console_socket)) ||
                    (rc = opt_value(a, "--cwd", NULL, &cwd)) ||
                    (rc = opt_value(a, "--user", "-u", &user)) ||
                    (rc = opt_value(a, "--preserve-fds", NULL, &fds))) {
                        if (rc < 0)
                                return usage_error("%s needs a value", a->argv[a->i]);
                        continue;
                }
                if ((rc = opt_value(a, "--env", "-e", &v))) {
                        if (rc < 0)
                                return usage_error("--env needs a value");
                        extra_env = vs_xgrow(extra_env, n_env + 1, &env_cap, 8, sizeof(char *));
                        extra_env[n_env++] = vs_xstrdup(v);
                        extra_env[n_env] = NULL;
                        continue;
                }
                if (is_flag(a, "--detach", "-d"))
                        o.detach = opt_flag(a, "--detach", "-d");
                else if (is_flag(a, "--tty", "-t"))
                        tty = opt_flag(a, "--tty", "-t");
                else if (is_flag(a, "--no-new-privs", NULL) || is_flag(a, "--no-subreaper", NULL))
                        ;
                else if (opt_value(a, "--cap", "-c", &v) || opt_value(a, "--apparmor", NULL, &v) ||
                         opt_value(a, "--process-label", NULL, &v) ||
                         opt_value(a, "--cgroup", NULL, &v))
                        ;
                else
                        return usage_error("exec: unknown option %s", a->argv[a->i]);
        }
        if (a->i >= a->argc)
                return usage_error("exec: container id missing");
        o.id = a->argv[a->i++];
        if (fds) {
                uint64_t n;

                if (vs_parse_uint(fds, 0, 1024, "--preserve-fds", &n, &err) < 0)
                        return fail(&err);
                o.preserve_fds = (int)n;
        }
        if (process) {
                cleanup_free char *text = NULL;
                size_t len;

                if (read_input(process, &text, &len, &err) < 0 ||
                    oci_process_parse(text, len, &p, &err) < 0)
                        return fail(&err);
        } else {
                struct oci_config *c;

                if (a->i >= a->argc)
                        return usage_error("exec: command missing");
                if (open_container(root, o.id, &dirfd, &st, &err) < 0)
                        return fail(&err);
                c = saved_config(dirfd, st.bundle);
                oci_state_clear(&st);
                if (!c || !c->has_process) {
                        vs_error_set(&err, EINVAL, "container '%s': its config is gone", o.id);
                        oci_config_free(c);
                        return fail(&err);
                }
                p = c->process;
                memset(&c->process, 0, sizeof(c->process));
                oci_config_free(c);
                vs_strvfreep(&p.args);
                p.args = vs_xmalloc((size_t)(a->argc - a->i + 1) * sizeof(char *));
                for (int k = 0; a->i + k < a->argc; k++)
                        p.args[k] = vs_xstrdup(a->argv[a->i + k]);
                p.args[a->argc - a->i] = NULL;
                p.terminal = tty;
                if (cwd) {
                        free(p.cwd);
                        p.cwd = vs_xstrdup(cwd);
                }
                if (user) {
                        unsigned uid = 0, gid = 0;
                        int k = sscanf(user, "%u:%u", &uid, &gid);

                        if (k < 1) {
                                oci_process_clear(&p);
                                return usage_error("--user: expected UID[:GID]");
                        }
                        p.uid = uid;
                        p.gid = k == 2 ? gid : 0;
                }
                for (size_t k = 0; k < n_env; k++) {
                        size_t count = 0;

                        while (p.env[count])
                                count++;
                        p.env = realloc(p.env, (count + 2) * sizeof(char *));
                        p.env[count] = vs_xstrdup(extra_env[k]);
                        p.env[count + 1] = NULL;
                }
        }
        o.process = &p;
        o.tty = p.terminal;
        rc = oci_exec(&o, &err);
        oci_process_clear(&p);
        if (rc < 0)
                return fail(&err);
        return rc;
}

/* ---- spec and features ---- */

static const char *const default_caps[] = { "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" };

static struct json_object *strings(const char *const *list, size_t n)
{
        struct json_object *a = json_object_new_array();

        for (size_t i = 0; i < n; i++)
                json_object_array_add(a, json_object_new_string(list[i]));
        return a;
}

static struct json_object *mount_obj(const char *dest, const char *type, const char *src,
                                     const char *const *opts, size_t n)
{
        struct json_object *m = json_object_new_object();

        json_object_object_add(m, "destination", json_object_new_string(dest));
        json_object_object_add(m, "type", json_object_new_string(type));
        json_object_object_add(m, "source", json_object_new_string(src));
        if (n)
                json_object_object_add(m, "options", strings(opts, n));
        return m;
}

#define N(a) (sizeof(a) / sizeof(a[0]))

static int cmd_spec(struct args *a)
{
        const char *bundle = ".";
        struct json_object *o = json_object_new_object(), *p, *u, *caps, *lx, *ns, *mounts, *root;
        static const char *const env[] = {
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"
        };
        static const char *const args[] = { "sh" };
        static const char *const nss[] = { "pid", "network", "ipc", "uts", "mount", "cgroup" };
        static const char *const proc_o[] = { "nosuid", "noexec", "nodev" };
        static const char *const dev_o[] = { "nosuid", "strictatime", "mode=755", "size=65536k" };
        static const char *const pts_o[] = { "nosuid",        "noexec",    "newinstance",
                                             "ptmxmode=0666", "mode=0620", "gid=5" };
        static const char *const shm_o[] = { "nosuid", "noexec", "nodev", "mode=1777",
                                             "size=65536k" };
        static const char *const sys_o[] = { "nosuid", "noexec", "nodev", "ro" };
        static const char *const cg_o[] = { "nosuid", "noexec", "nodev", "relatime", "ro" };
        static const char *const masked[] = { "/proc/acpi",          "/proc/asound",
                                              "/proc/kcore",         "/proc/keys",
                                              "/proc/latency_stats", "/proc/timer_list",
                                              "/proc/timer_stats",   "/proc/sched_debug",
                                              "/sys/firmware",       "/proc/scsi" };
        static const char *const ro[] = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                          "/proc/sysrq-trigger" };
        cleanup_free char *path = NULL;
        const char *text;
        vs_error_t err = { 0 };
        int dirfd;

        for (a->i++; a->i < a->argc; a->i++) {
                int rc = opt_value(a, "--bundle", "-b", &bundle);

                if (rc < 0)
                        return usage_error("--bundle needs a value");
                if (rc == 0 && !is_flag(a, "--rootless", NULL))
                        return usage_error("spec: unexpected %s", a->argv[a->i]);
        }
        json_object_object_add(o, "ociVersion", json_object_new_string(OCI_VERSION));
        p = json_object_new_object();
        json_object_object_add(p, "terminal", json_object_new_boolean(1));
        u = json_object_new_object();
        json_object_object_add(u, "uid", json_object_new_int(0));
        json_object_object_add(u, "gid", json_object_new_int(0));
        json_object_object_add(p, "user", u);
        json_object_object_add(p, "args", strings(args, N(args)));
        json_object_object_add(p, "env", strings(env, N(env)));
        json_object_object_add(p, "cwd", json_object_new_string("/"));
        caps = json_object_new_object();
        json_object_object_add(caps, "bounding", strings(default_caps, N(default_caps)));
        json_object_object_add(caps, "effective", strings(default_caps, N(default_caps)));
        json_object_object_add(caps, "permitted", strings(default_caps, N(default_caps)));
        json_object_object_add(caps, "ambient", strings(default_caps, N(default_caps)));
        json_object_object_add(p, "capabilities", caps);
        json_object_object_add(p, "noNewPrivileges", json_object_new_boolean(1));
        json_object_object_add(o, "process", p);
        root = json_object_new_object();
        json_object_object_add(root, "path", json_object_new_string("rootfs"));
        json_object_object_add(root, "readonly", json_object_new_boolean(1));
        json_object_object_add(o, "root", root);
        json_object_object_add(o, "hostname", json_object_new_string("paene"));
        mounts = json_object_new_array();
        json_object_array_add(mounts, mount_obj("/proc", "proc", "proc", proc_o, 0));
        json_object_array_add(mounts, mount_obj("/dev", "tmpfs", "tmpfs", dev_o, N(dev_o)));
        json_object_array_add(mounts, mount_obj("/dev/pts", "devpts", "devpts", pts_o, N(pts_o)));
        json_object_array_add(mounts, mount_obj("/dev/shm", "tmpfs", "shm", shm_o, N(shm_o)));
        json_object_array_add(mounts,
                              mount_obj("/dev/mqueue", "mqueue", "mqueue", proc_o, N(proc_o)));
        json_object_array_add(mounts, mount_obj("/sys", "sysfs", "sysfs", sys_o, N(sys_o)));
        json_object_array_add(mounts,
                              mount_obj("/sys/fs/cgroup", "cgroup", "cgroup", cg_o, N(cg_o)));
        json_object_object_add(o, "mounts", mounts);
        lx = json_object_new_object();
        ns = json_object_new_array();
        for (size_t i = 0; i < N(nss); i++) {
                struct json_object *n = json_object_new_object();

                json_object_object_add(n, "type", json_object_new_string(nss[i]));
                json_object_array_add(ns, n);
        }
        json_object_object_add(lx, "namespaces", ns);
        json_object_object_add(lx, "maskedPaths", strings(masked, N(masked)));
        json_object_object_add(lx, "readonlyPaths", strings(ro, N(ro)));
        json_object_object_add(o, "linux", lx);
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE);
        dirfd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0) {
                json_object_put(o);
                vs_error_errno(&err, "open %s", bundle);
                return fail(&err);
        }
        if (faccessat(dirfd, "config.json", F_OK, 0) == 0) {
                close(dirfd);
                json_object_put(o);
                vs_error_kind(&err, VS_E_STATE, EEXIST, "%s/config.json exists already", bundle);
                return fail(&err);
        }
        (void)path;
        if (vs_write_atomic(dirfd, "config.json", text, strlen(text), 0644, 1, &err) < 0) {
                close(dirfd);
                json_object_put(o);
                return fail(&err);
        }
        close(dirfd);
        json_object_put(o);
        return 0;
}

static int cmd_features(void)
{
        static const char *const hooks[] = { "prestart",       "createRuntime", "createContainer",
                                             "startContainer", "poststart",     "poststop" };
        static const char *const mount_opts[] = {
                "async",    "atime",      "bind",          "dev",         "diratime",
                "dirsync",  "exec",       "lazytime",      "loud",        "mand",
                "noatime",  "nodev",      "nodiratime",    "noexec",      "nolazytime",
                "nomand",   "norelatime", "nostrictatime", "nosuid",      "nosymfollow",
                "private",  "rbind",      "relatime",      "remount",     "ro",
                "rprivate", "rshared",    "rslave",        "runbindable", "rw",
                "shared",   "silent",     "slave",         "strictatime", "suid",
                "sync",     "unbindable",
        };
        static const char *const nss[] = { "cgroup", "ipc",  "mount", "network",
                                           "pid",    "time", "user",  "uts" };
        static const char *const actions[] = { "SCMP_ACT_ALLOW",       "SCMP_ACT_ERRNO",
                                               "SCMP_ACT_KILL",        "SCMP_ACT_KILL_PROCESS",
                                               "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
                                               "SCMP_ACT_TRACE",       "SCMP_ACT_TRAP" };
        static const char *const ops[] = { "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
                                           "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ",
                                           "SCMP_CMP_NE" };
        static const char *const flags[] = { "SECCOMP_FILTER_FLAG_LOG",
                                             "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                             "SECCOMP_FILTER_FLAG_TSYNC" };
        static const char *const arches[] = { "SCMP_ARCH_X86", "SCMP_ARCH_X86_64",
                                              "SCMP_ARCH_X32" };
        struct json_object *o = json_object_new_object(), *lx = json_object_new_object(),
                           *sc = json_object_new_object(), *cg = json_object_new_object(),
                           *ann = json_object_new_object();

        json_object_object_add(o, "ociVersionMin", json_object_new_string("1.0.0"));
        json_object_object_add(o, "ociVersionMax", json_object_new_string("1.1.0"));
        json_object_object_add(o, "hooks", strings(hooks, N(hooks)));
        json_object_object_add(o, "mountOptions", strings(mount_opts, N(mount_opts)));
        json_object_object_add(lx, "namespaces", strings(nss, N(nss)));
        {
                struct json_object *caps = json_object_new_array();

                for (int c = 0; c <= 40; c++) {
                        static const char *const names[] = {
                                "CAP_CHOWN",
                                "CAP_DAC_OVERRIDE",
                                "CAP_DAC_READ_SEARCH",
                                "CAP_FOWNER",
                                "CAP_FSETID",
                                "CAP_KILL",
                                "CAP_SETGID",
                                "CAP_SETUID",
                                "CAP_SETPCAP",
                                "CAP_LINUX_IMMUTABLE",
                                "CAP_NET_BIND_SERVICE",
                                "CAP_NET_BROADCAST",
                                "CAP_NET_ADMIN",
                                "CAP_NET_RAW",
                                "CAP_IPC_LOCK",
                                "CAP_IPC_OWNER",
                                "CAP_SYS_MODULE",
                                "CAP_SYS_RAWIO",
                                "CAP_SYS_CHROOT",
                                "CAP_SYS_PTRACE",
                                "CAP_SYS_PACCT",
                                "CAP_SYS_ADMIN",
                                "CAP_SYS_BOOT",
                                "CAP_SYS_NICE",
                                "CAP_SYS_RESOURCE",
                                "CAP_SYS_TIME",
                                "CAP_SYS_TTY_CONFIG",
                                "CAP_MKNOD",
                                "CAP_LEASE",
                                "CAP_AUDIT_WRITE",
                                "CAP_AUDIT_CONTROL",
                                "CAP_SETFCAP",
                                "CAP_MAC_OVERRIDE",
                                "CAP_MAC_ADMIN",
                                "CAP_SYSLOG",
                                "CAP_WAKE_ALARM",
                                "CAP_BLOCK_SUSPEND",
                                "CAP_AUDIT_READ",
                                "CAP_PERFMON",
                                "CAP_BPF",
                                "CAP_CHECKPOINT_RESTORE",
                        };
                        json_object_array_add(caps, json_object_new_string(names[c]));
                }
                json_object_object_add(lx, "capabilities", caps);
        }
        json_object_object_add(cg, "v1", json_object_new_boolean(1));
        json_object_object_add(cg, "v2", json_object_new_boolean(1));
        json_object_object_add(cg, "systemd", json_object_new_boolean(0));
        json_object_object_add(cg, "systemdUser", json_object_new_boolean(0));
        json_object_object_add(lx, "cgroup", cg);
        json_object_object_add(sc, "enabled", json_object_new_boolean(1));
        json_object_object_add(sc, "actions", strings(actions, N(actions)));
        json_object_object_add(sc, "operators", strings(ops, N(ops)));
        json_object_object_add(sc, "archs", strings(arches, N(arches)));
        json_object_object_add(sc, "supportedFlags", strings(flags, N(flags)));
        json_object_object_add(lx, "seccomp", sc);
        json_object_object_add(o, "linux", lx);
        json_object_object_add(ann, "org.opencontainers.runtime-spec.features.runtime",
                               json_object_new_string("paene-oci"));
        json_object_object_add(o, "annotations", ann);
        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return 0;
}

static void usage(FILE *f)
{
        fprintf(f,
                "usage: paene-oci [--root DIR] [--log FILE] [--log-format text|json]\n"
                "                 [--systemd-cgroup] COMMAND [OPTIONS] ID\n"
                "commands:\n"
                "  create [--bundle DIR] [--pid-file F] [--console-socket S] [--no-pivot]\n"
                "         [--no-new-keyring] [--preserve-fds N] ID\n"
                "  start ID | state ID | kill [--all] ID [SIGNAL] | delete [--force] ID\n"
                "  exec [--process JSON] [--detach] [--tty] [--pid-file F]\n"
                "       [--console-socket S] [--cwd DIR] [--env K=V] [--user UID[:GID]] ID CMD...\n"
                "  ps [--format table|json] ID | list [--format table|json] [--quiet]\n"
                "  pause ID | resume ID | update --resources FILE|- ID | features\n"
                "  spec [--bundle DIR] | --version\n"
                "state lives under --root (default %s)\n",
                DEFAULT_ROOT);
}

int main(int argc, char **argv)
{
        struct args a = { argc, argv, 1 };
        const char *root = DEFAULT_ROOT, *cmd;
        cleanup_free char *root_abs = NULL;
        int systemd = 0;

        for (; a.i < argc && argv[a.i][0] == '-'; a.i++) {
                const char *v;
                int rc;

                if ((rc = opt_value(&a, "--root", NULL, &root)) ||
                    (rc = opt_value(&a, "--log", NULL, &log_path)) ||
                    (rc = opt_value(&a, "--log-format", NULL, &log_format)) ||
                    (rc = opt_value(&a, "--criu", NULL, &v))) {
                        if (rc < 0)
                                return usage_error("%s needs a value", argv[a.i]);
                        continue;
                }
                if (is_flag(&a, "--systemd-cgroup", NULL))
                        systemd = opt_flag(&a, "--systemd-cgroup", NULL);
                else if (is_flag(&a, "--debug", NULL) || is_flag(&a, "--rootless", NULL))
                        ;
                else if (strcmp(argv[a.i], "--version") == 0 || strcmp(argv[a.i], "-v") == 0) {
                        printf("paene-oci version %s\nspec: %s\n", VS_VERSION, OCI_VERSION);
                        return 0;
                } else if (strcmp(argv[a.i], "--help") == 0 || strcmp(argv[a.i], "-h") == 0) {
                        usage(stdout);
                        return 0;
                } else
                        return usage_error("unknown option %s", argv[a.i]);
        }
        if (strcmp(log_format, "text") != 0 && strcmp(log_format, "json") != 0) {
                log_format = "text";
                return usage_error("--log-format: expected text or json");
        }
        if (a.i >= argc) {
                usage(stderr);
                return 2;
        }
        if (root[0] != '/') {
                root_abs = absolute(root);
                root = root_abs;
        }
        cmd = argv[a.i];
        if (strcmp(cmd, "create") == 0)
                return cmd_create(root, &a, systemd);
        if (strcmp(cmd, "start") == 0)
                return cmd_start(root, &a);
        if (strcmp(cmd, "state") == 0)
                return cmd_state(root, &a);
        if (strcmp(cmd, "kill") == 0)
                return cmd_kill(root, &a);
        if (strcmp(cmd, "delete") == 0)
                return cmd_delete(root, &a);
        if (strcmp(cmd, "list") == 0)
                return cmd_list(root, &a);
        if (strcmp(cmd, "exec") == 0)
                return cmd_exec(root, &a);
        if (strcmp(cmd, "ps") == 0)
                return cmd_ps(root, &a);
        if (strcmp(cmd, "pause") == 0)
                return cmd_pause(root, &a, 1);
        if (strcmp(cmd, "resume") == 0)
                return cmd_pause(root, &a, 0);
        if (strcmp(cmd, "update") == 0)
                return cmd_update(root, &a);
        if (strcmp(cmd, "spec") == 0)
                return cmd_spec(&a);
        if (strcmp(cmd, "features") == 0)
                return cmd_features();
        if (strcmp(cmd, "help") == 0) {
                usage(stdout);
                return 0;
        }
        return usage_error("unknown command '%s'", cmd);
}
