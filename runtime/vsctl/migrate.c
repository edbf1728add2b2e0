/* vsctl migrate: moves a VPS to another vsd, vzmigrate's way without
 * checkpointing its processes. vsctl conducts: it runs the target's half,
 * `vsctl migrate-receive`, over ssh (ssh://HOST[/ROOT]) or, for another
 * vsd of this machine, as its own child, and speaks to it through a pipe
 * pair in lines and length-framed chunks:
 *
 *   BEGIN NAME NEW_IP LEN\n<config>     -> OK | ERR CODE MESSAGE
 *   ROUND\n(HEXLEN\n<bytes>)* 0\n        -> OK | ERR ...
 *   FINISH START NEW_IP LEN FROM\n<config> -> OK | ERR ...
 *
 * The receiver holds the target vsd's begin connection for as long as it
 * runs: when the conductor, ssh or the receiver goes, the target vsd drops
 * the staging. The source is destroyed only after the target said that
 * the VPS runs there. */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "vs/cleanup.h"
#include "vs/cowfs.h"
#include "vs/fsutil.h"
#include "vs/parse.h"

#include "vsctl.h"

#define CHUNK (256U << 10)
/* pre-copy rounds while the VPS runs: until one carries less than this,
 * or stops shrinking, or there were this many */
#define SMALL_DELTA (8ULL << 20)
#define MAX_ROUNDS 6

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static vs_error_kind_t kind_of_exit(int code)
{
        switch (code) {
        case EXIT_USAGE:
                return VS_E_USAGE;
        case EXIT_NOTFOUND:
                return VS_E_NOTFOUND;
        case EXIT_STATE:
                return VS_E_STATE;
        case EXIT_PERM:
                return VS_E_PERM;
        case EXIT_DAEMON:
                return VS_E_DAEMON;
        default:
                return VS_E_INTERNAL;
        }
}

static int read_exact(FILE *in, char *buf, size_t len)
{
        return fread(buf, 1, len, in) == len ? 0 : -1;
}

/* One line of at most size-1 bytes, without its newline; -1 at EOF. */
static int read_line(FILE *in, char *buf, size_t size)
{
        if (!fgets(buf, (int)size, in))
                return -1;
        buf[strcspn(buf, "\n")] = '\0';
        return 0;
}

static int write_text(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int write_text(int fd, const char *fmt, ...)
{
        char buf[1024];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t)n >= sizeof(buf))
                return -1;
        return write_all(fd, buf, (size_t)n);
}

/* ==== the receiver: the target's half ==== */

static int answer(const vs_error_t *err)
{
        char msg[sizeof(err->msg)];

        if (!err) {
                return write_text(STDOUT_FILENO, "OK\n");
        }
        vs_strlcpy(msg, err->msg, sizeof(msg));
        msg[strcspn(msg, "\n")] = '\0';
        return write_text(STDOUT_FILENO, "ERR %d %s\n", exit_code_for(err), msg);
}

/* A blob of len bytes after a header line (the config). */
static char *read_blob(FILE *in, size_t len)
{
        char *text;

        if (len > VS_MIGRATE_CONFIG_MAX)
                return NULL;
        text = vs_xmalloc(len + 1);
        if (read_exact(in, text, len) < 0) {
                free(text);
                return NULL;
        }
        text[len] = '\0';
        return text;
}

/* Copies the chunks of one round into fd (-1 once it failed: the rest is
 * read and dropped, so that the stream stays in step). */
static int copy_chunks(FILE *in, int fd, int *write_failed)
{
        cleanup_free char *buf = vs_xmalloc(CHUNK);
        char line[32];

        for (;;) {
                unsigned long len;
                char *end;

                if (read_line(in, line, sizeof(line)) < 0)
                        return -1;
                len = strtoul(line, &end, 16);
                if (*end || len > CHUNK)
                        return -1;
                if (len == 0)
                        return 0;
                if (read_exact(in, buf, len) < 0)
                        return -1;
                if (!*write_failed && write_all(fd, buf, len) < 0)
                        *write_failed = 1;
        }
}

static int receive_round(struct ctx *ctx, FILE *in, vs_error_t *err)
{
        cleanup_json json_object *reply = NULL;
        cleanup_close int sock = -1;
        int fds[VS_MSG_FDS_MAX], nfds = 0, status = 0, write_failed = 0, rc;

        if (call(ctx, VS_CMD_MIGRATE_RECV, ctx->name, NULL, &reply, fds, &nfds, &sock, err) < 0 ||
            nfds != 1) {
                int dummy = 1;

                if (!err->msg[0])
                        vs_error_set(err, EPROTO, "vsd sent no stream to receive into");
                /* keep the stream in step, then say why */
                return copy_chunks(in, -1, &dummy) < 0 ? -2 : -1;
        }
        rc = copy_chunks(in, fds[0], &write_failed);
        close(fds[0]);
        if (rc < 0)
                return -2;
        if (read_exit(sock, &status, err) < 0) {
                /* vsd took the round and then went: the target is gone */
                if (err->errnum == ECONNRESET)
                        vs_error_kind(err, VS_E_DAEMON, ECONNRESET,
                                      "vsd went away while it received a round");
                return -1;
        }
        if (status != 0 || write_failed)
                return vs_error_set(err, EIO, "tar failed extracting a round (exit %d)", status);
        return 0;
}

static int cmd_migrate_receive(struct ctx *ctx, int argc, char **argv)
{
        cleanup_close int session = -1;
        char line[512], name[64] = "";
        FILE *in = stdin;

        (void)argc;
        (void)argv;
        signal(SIGPIPE, SIG_IGN);
        while (read_line(in, line, sizeof(line)) == 0) {
                vs_error_t err = { 0 };
                char verb[16] = "", from[256] = "?";
                size_t len = 0;
                int a = 0, b = 0, rc = -1;

                if (sscanf(line, "BEGIN %63s %d %zu", name, &a, &len) == 3) {
                        cleanup_free char *config = read_blob(in, len);
                        cleanup_json json_object *reply = NULL;
                        json_object *args = json_object_new_object();

                        ctx->name = name;
                        if (!config || session >= 0 || vs_parse_name(name, "VPS name", &err) < 0) {
                                json_object_put(args);
                                return 1;
                        }
                        json_object_object_add(args, "config", json_object_new_string(config));
                        json_object_object_add(args, "new_ip", json_object_new_boolean(a));
                        rc = call(ctx, VS_CMD_MIGRATE_BEGIN, name, args, &reply, NULL, NULL,
                                  &session, &err);
                } else if (strcmp(line, "ROUND") == 0 && session >= 0) {
                        rc = receive_round(ctx, in, &err);
                        if (rc == -2)
                                return 1;
                } else if (sscanf(line, "FINISH %d %d %zu %255s", &a, &b, &len, from) == 4 &&
                           session >= 0) {
                        cleanup_free char *config = read_blob(in, len);
                        cleanup_json json_object *reply = NULL;
                        json_object *args = json_object_new_object();

                        if (!config) {
                                json_object_put(args);
                                return 1;
                        }
                        json_object_object_add(args, "config", json_object_new_string(config));
                        json_object_object_add(args, "start", json_object_new_boolean(a));
                        json_object_object_add(args, "new_ip", json_object_new_boolean(b));
                        json_object_object_add(args, "from", json_object_new_string(from));
                        rc = call(ctx, VS_CMD_MIGRATE_FINISH, name, args, &reply, NULL, NULL, NULL,
                                  &err);
                } else {
                        (void)verb;
                        vs_error_kind(&err, VS_E_USAGE, EPROTO, "migrate-receive: bad line '%.60s'",
                                      line);
                        answer(&err);
                        return EXIT_USAGE;
                }
                if (answer(rc < 0 ? &err : NULL) < 0 || (rc < 0 && session < 0))
                        return rc < 0 ? exit_code_for(&err) : 1;
        }
        /* the conductor is gone, or done: the session closes with us */
        return EXIT_OK;
}

/* ==== the conductor ==== */

struct target {
        char label[512]; /* for messages: as given */
        pid_t pid;       /* the receiver (ssh, or our own child) */
        int to;
        FILE *from;
};

/* ROOT quoted for the remote shell ssh hands the command to. */
static int quote_for_shell(const char *text, char *out, size_t size)
{
        if (strchr(text, '\'') || strlen(text) + 3 > size)
                return -1;
        snprintf(out, size, "'%s'", text);
        return 0;
}

/* The receiver's argv for TARGET: ssh://HOST[/ROOT], a vsd root, or its
 * socket ROOT/run/paene/vsd.sock. */
static int receiver_argv(const char *target, char *root, size_t rsize, char host[256],
                         const char **argv, vs_error_t *err)
{
        static const char sock_tail[] = "/run/paene/vsd.sock";
        static char self[4096];
        struct stat st;

        if (strncmp(target, "ssh://", 6) == 0) {
                const char *h = target + 6, *slash = strchr(h, '/');
                size_t hlen = slash ? (size_t)(slash - h) : strlen(h);
                char quoted[4096];

                if (hlen == 0 || hlen >= 256 ||
                    strspn(h, "abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_@:[]") < hlen)
                        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                             "target '%s': not ssh://HOST[/ROOT]", target);
                memcpy(host, h, hlen);
                host[hlen] = '\0';
                if (quote_for_shell(slash ? slash : "/", quoted, sizeof(quoted)) < 0)
                        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                             "target '%s': a ROOT with a quote", target);
                vs_strlcpy(root, quoted, rsize);
                argv[0] = "ssh";
                argv[1] = host;
                argv[2] = "vsctl";
                argv[3] = "--root";
                argv[4] = root;
                argv[5] = "migrate-receive";
                argv[6] = NULL;
                return 0;
        }
        if (stat(target, &st) < 0)
                return vs_error_kind(err, VS_E_DAEMON, errno, "target '%s': %s", target,
                                     strerror(errno));
        vs_strlcpy(root, target, rsize);
        if (S_ISSOCK(st.st_mode)) {
                size_t len = strlen(root), tail = strlen(sock_tail);

                if (len < tail || strcmp(root + len - tail, sock_tail) != 0)
                        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                             "target '%s': a vsd socket is ROOT%s", target,
                                             sock_tail);
                root[len - tail] = '\0';
                if (!root[0])
                        vs_strlcpy(root, "/", rsize);
        } else if (!S_ISDIR(st.st_mode)) {
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "target '%s': not ssh://HOST[/ROOT], a vsd root or its socket",
                                     target);
        }
        if (readlink("/proc/self/exe", self, sizeof(self) - 1) < 0)
                return vs_error_errno(err, "readlink /proc/self/exe");
        argv[0] = self;
        argv[1] = "--root";
        argv[2] = root;
        argv[3] = "migrate-receive";
        argv[4] = NULL;
        return 0;
}

static int target_open(struct target *t, const char *target, vs_error_t *err)
{
        char root[4096], host[256];
        const char *argv[8];
        int to[2], from[2];

        vs_strlcpy(t->label, target, sizeof(t->label));
        if (receiver_argv(target, root, sizeof(root), host, argv, err) < 0)
                return -1;
        if (pipe2(to, O_CLOEXEC) < 0)
                return vs_error_errno(err, "pipe");
        if (pipe2(from, O_CLOEXEC) < 0) {
                close(to[0]);
                close(to[1]);
                return vs_error_errno(err, "pipe");
        }
        t->pid = fork();
        if (t->pid < 0)
                return vs_error_errno(err, "fork");
        if (t->pid == 0) {
                dup2(to[0], STDIN_FILENO);
                dup2(from[1], STDOUT_FILENO);
                execvp(argv[0], (char **)argv);
                fprintf(stderr, "vsctl: migrate: run %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        close(to[0]);
        close(from[1]);
        t->to = to[1];
        t->from = fdopen(from[0], "r");
        return 0;
}

/* The receiver goes: its end of the pipes closes, and with it the target
 * vsd's begin connection (an unfinished migration is dropped there). */
static void target_close(struct target *t)
{
        int status;

        if (t->to >= 0)
                close(t->to);
        t->to = -1;
        if (t->from)
                fclose(t->from);
        t->from = NULL;
        if (t->pid > 0)
                while (waitpid(t->pid, &status, 0) < 0 && errno == EINTR)
                        ;
        t->pid = -1;
}

static int target_gone(struct target *t, vs_error_t *err)
{
        return vs_error_kind(err, VS_E_DAEMON, EPIPE, "the target %s went away", t->label);
}

/* The receiver's answer to a step. */
static int target_answer(struct target *t, vs_error_t *err)
{
        char line[1024];
        int code = 0, at = 0;

        if (read_line(t->from, line, sizeof(line)) < 0)
                return target_gone(t, err);
        if (strcmp(line, "OK") == 0)
                return 0;
        if (sscanf(line, "ERR %d %n", &code, &at) >= 1 && at > 0)
                return vs_error_kind(err, kind_of_exit(code), EIO, "target: %s", line + at);
        return vs_error_kind(err, VS_E_INTERNAL, EPROTO, "the target answered '%.80s'", line);
}

static int send_blob_line(struct target *t, const char *head, const char *text, vs_error_t *err)
{
        if (write_text(t->to, "%s\n", head) < 0 || write_all(t->to, text, strlen(text)) < 0)
                return target_gone(t, err);
        return 0;
}

struct migration {
        struct ctx *ctx;
        struct target t;
        const char *name;
        char *config;
        int was_running, stopped, new_ip;
        json_object *stop_args; /* the source's stop: --timeout, --fast */
        uint64_t bytes;
        int rounds;
        double t0, t_stop, t_stopped, t_sent, t_running;
};

static int fetch_config(struct migration *m, vs_error_t *err)
{
        cleanup_json json_object *reply = NULL;
        json_object *args = json_object_new_object();
        const char *text;

        json_object_object_add(args, "step", json_object_new_string("config"));
        if (call(m->ctx, VS_CMD_MIGRATE_SEND, m->name, args, &reply, NULL, NULL, NULL, err) < 0)
                return -1;
        text = vs_json_str(reply, "text");
        if (!text)
                return vs_error_set(err, EPROTO, "vsd sent no config");
        free(m->config);
        m->config = vs_xstrdup(text);
        return 0;
}

static int source_state(struct migration *m, vs_error_t *err)
{
        cleanup_json json_object *reply = NULL;
        const char *state;

        if (call(m->ctx, VS_CMD_STATUS, m->name, NULL, &reply, NULL, NULL, NULL, err) < 0)
                return -1;
        state = vs_json_str(vs_json_object(reply, "vps"), "state");
        if (!state || (strcmp(state, "running") != 0 && strcmp(state, "stopped") != 0))
                return vs_error_kind(err, VS_E_STATE, EBUSY, "VPS is %s", state ? state : "?");
        m->was_running = strcmp(state, "running") == 0;
        return 0;
}

/* The pipe from the source's tar, in chunks to the target; its bytes. */
static int pump_chunks(struct migration *m, int from, uint64_t *bytes, vs_error_t *err)
{
        cleanup_free char *buf = vs_xmalloc(CHUNK);

        for (;;) {
                ssize_t n = read(from, buf, CHUNK);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return vs_error_errno(err, "read the source's stream");
                if (n == 0)
                        return 0;
                if (write_text(m->t.to, "%zx\n", (size_t)n) < 0 ||
                    write_all(m->t.to, buf, (size_t)n) < 0)
                        return target_gone(&m->t, err);
                *bytes += (uint64_t)n;
        }
}

/* One round: first (all of the layer) or next (what changed since). A
 * running source's tar says 1 when a file changed while it read it: that
 * file is in the next round. */
static int send_round(struct migration *m, const char *step, uint64_t *bytes, vs_error_t *err)
{
        cleanup_json json_object *reply = NULL;
        cleanup_close int sock = -1;
        json_object *args = json_object_new_object();
        int fds[VS_MSG_FDS_MAX], nfds = 0, status = 0, rc;

        *bytes = 0;
        json_object_object_add(args, "step", json_object_new_string(step));
        if (call(m->ctx, VS_CMD_MIGRATE_SEND, m->name, args, &reply, fds, &nfds, &sock, err) < 0)
                return -1;
        if (nfds != 1)
                return vs_error_set(err, EPROTO, "vsd sent no stream");
        if (write_text(m->t.to, "ROUND\n") < 0) {
                close(fds[0]);
                return target_gone(&m->t, err);
        }
        rc = pump_chunks(m, fds[0], bytes, err);
        close(fds[0]);
        if (rc < 0)
                return -1;
        if (read_exit(sock, &status, err) < 0)
                return -1;
        if (status == VS_MIGRATE_IMAGE_HELD && m->stopped)
                return vs_error_kind(err, VS_E_STATE, EBUSY,
                                     "its disk image is still mounted, past the wait after its "
                                     "stop (vsd's log names the loop device)");
        if (status != 0 && !(status == 1 && !m->stopped && m->was_running))
                return vs_error_set(err, EIO, "tar failed reading the VPS's files (exit %d)",
                                    status);
        if (write_text(m->t.to, "0\n") < 0)
                return target_gone(&m->t, err);
        m->bytes += *bytes;
        m->rounds++;
        return target_answer(&m->t, err);
}

/* Test hook (tests/integration/test_migrate.sh): after the first round,
 * wait until the FIFO named by PAENE_MIGRATE_HOLD is opened and closed, so
 * that a test can act while the target holds a staging with files. */
static void test_hold(void)
{
        const char *fifo = getenv("PAENE_MIGRATE_HOLD");
        char byte;
        int fd;

        if (!fifo || !*fifo || (fd = open(fifo, O_RDONLY | O_CLOEXEC)) < 0)
                return;
        while (read(fd, &byte, 1) > 0)
                ;
        close(fd);
}

static int call_named(struct migration *m, const char *cmd, json_object *args, vs_error_t *err)
{
        cleanup_json json_object *reply = NULL;

        return call(m->ctx, cmd, m->name, args, &reply, NULL, NULL, NULL, err);
}

static int begin(struct migration *m, vs_error_t *err)
{
        char head[128];

        snprintf(head, sizeof(head), "BEGIN %s %d %zu", m->name, m->new_ip, strlen(m->config));
        if (send_blob_line(&m->t, head, m->config, err) < 0)
                return -1;
        return target_answer(&m->t, err);
}

static int copy_while_running(struct migration *m, vs_error_t *err)
{
        uint64_t last = 0, prev = UINT64_MAX;

        if (send_round(m, "first", &last, err) < 0)
                return -1;
        test_hold();
        while (m->was_running && m->rounds < MAX_ROUNDS && last > SMALL_DELTA && last < prev) {
                prev = last;
                if (send_round(m, "next", &last, err) < 0)
                        return -1;
        }
        return 0;
}

static int finish(struct migration *m, vs_error_t *err)
{
        char head[512], from[256] = "?";
        uint64_t last = 0;

        if (m->was_running) {
                json_object *args = m->stop_args;

                m->stop_args = NULL;
                m->t_stop = now_s();
                if (call_named(m, VS_CMD_STOP, args, err) < 0)
                        return vs_error_wrap(err, "stop on the source");
                m->stopped = 1;
                m->t_stopped = now_s();
                if (send_round(m, "next", &last, err) < 0 || fetch_config(m, err) < 0)
                        return -1;
                m->t_sent = now_s();
        }
        if (gethostname(from, sizeof(from) - 1) < 0 || !*from || strchr(from, ' '))
                vs_strlcpy(from, "?", sizeof(from));
        snprintf(head, sizeof(head), "FINISH %d %d %zu %s", m->was_running, m->new_ip,
                 strlen(m->config), from);
        return send_blob_line(&m->t, head, m->config, err);
}

/* Before the target holds the VPS: the target drops its staging (the
 * receiver goes), the source runs again if it ran. */
/* The source's records of the rounds (a listing, an image's block sums)
 * go, whichever way the migration ended. */
static void send_end(struct migration *m)
{
        json_object *args = json_object_new_object();
        vs_error_t err = { 0 };

        json_object_object_add(args, "step", json_object_new_string("end"));
        call_named(m, VS_CMD_MIGRATE_SEND, args, &err);
}

/* The source starts again where the migration stopped it. A start
 * refused for its state is one that found the last run's image still
 * mounted (the cause of a failed last round, too): tried again, with
 * backoff, for about half the last round's wait (vs_backoff's pauses). */
static void roll_back(struct migration *m)
{
        vs_error_t err = { 0 };
        long pause_ms = 1;

        target_close(&m->t);
        send_end(m);
        if (!m->stopped)
                return;
        while (call_named(m, VS_CMD_START, NULL, &err) < 0) {
                if (err.kind != VS_E_STATE ||
                    vs_backoff(&pause_ms, VS_MIGRATE_UNMOUNT_WAIT_MS) < 0) {
                        fprintf(stderr, "vsctl: migrate %s: the source did not start again: %s\n",
                                m->name, err.msg);
                        return;
                }
                err = (vs_error_t){ 0 };
        }
}

static void report(struct migration *m, int as_json)
{
        double downtime = m->was_running ? m->t_running - m->t_stop : 0;

        if (as_json) {
                json_object *o = json_object_new_object();

                json_object_object_add(o, "name", json_object_new_string(m->name));
                json_object_object_add(o, "target", json_object_new_string(m->t.label));
                json_object_object_add(o, "running", json_object_new_boolean(m->was_running));
                json_object_object_add(o, "rounds", json_object_new_int(m->rounds));
                json_object_object_add(o, "bytes", json_object_new_int64((int64_t)m->bytes));
                json_object_object_add(o, "downtime_s", json_object_new_double(downtime));
                /* of which: the stop, the last round, the install and start */
                json_object_object_add(
                        o, "stop_s",
                        json_object_new_double(m->was_running ? m->t_stopped - m->t_stop : 0));
                json_object_object_add(
                        o, "last_round_s",
                        json_object_new_double(m->was_running ? m->t_sent - m->t_stopped : 0));
                json_object_object_add(
                        o, "start_s",
                        json_object_new_double(m->was_running ? m->t_running - m->t_sent : 0));
                json_object_object_add(o, "total_s", json_object_new_double(m->t_running - m->t0));
                print_json(o);
                json_object_put(o);
                return;
        }
        printf("%s migrated to %s (%s, %d rounds, %llu bytes, downtime %.3f s, total %.3f s)\n",
               m->name, m->t.label, m->was_running ? "running" : "stopped", m->rounds,
               (unsigned long long)m->bytes, downtime, m->t_running - m->t0);
}

static int migrate(struct migration *m, const char *target, vs_error_t *err)
{
        if (source_state(m, err) < 0 || fetch_config(m, err) < 0)
                return -1;
        if (target_open(&m->t, target, err) < 0)
                return -1;
        if (begin(m, err) < 0 || copy_while_running(m, err) < 0 || finish(m, err) < 0) {
                roll_back(m);
                return -1;
        }
        /* FINISH is sent: from here an answer that does not come leaves
         * the VPS perhaps running there; the source stays, stopped */
        if (target_answer(&m->t, err) < 0) {
                if (err->kind == VS_E_DAEMON) {
                        target_close(&m->t);
                        return vs_error_kind(err, VS_E_INTERNAL, EIO,
                                             "the target went away while it installed the VPS: "
                                             "look there before starting the source (kept, %s)",
                                             m->stopped ? "stopped" : "as it was");
                }
                roll_back(m);
                return -1;
        }
        m->t_running = now_s();
        target_close(&m->t);
        send_end(m);
        if (call_named(m, VS_CMD_DESTROY, NULL, err) < 0)
                return vs_error_wrap(err, "it runs on the target; destroy of the source");
        return 0;
}

static int cmd_migrate(struct ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                { "new-ip", no_argument, NULL, 'n' }, { "timeout", required_argument, NULL, 't' },
                { "fast", no_argument, NULL, 'f' },   { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },   { NULL, 0, NULL, 0 },
        };
        struct migration m = { .ctx = ctx, .t = { .pid = -1, .to = -1 } };
        cleanup_json json_object *stop_args = json_object_new_object();
        vs_error_t err = { 0 };
        int opt, bad = 0, as_json = 0, rc;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "t:fjh", opts, &bad)) != -1) {
                if (bad)
                        return bad;
                m.new_ip |= opt == 'n';
                as_json |= opt == 'j';
                if ((rc = stop_option(ctx, opt, optarg, stop_args)) != EXIT_OK)
                        return rc;
        }
        if (optind >= argc)
                return usage_error(ctx, "NAME is missing");
        if (optind + 1 >= argc)
                return usage_error(ctx, "TARGET is missing");
        if (optind + 2 < argc)
                return usage_error(ctx, "unexpected argument '%s'", argv[optind + 2]);
        m.name = ctx->name = argv[optind];
        if (vs_parse_name(m.name, "VPS name", &err) < 0)
                return fail(ctx, &err);
        signal(SIGPIPE, SIG_IGN);
        m.stop_args = json_object_get(stop_args);
        m.t0 = now_s();
        rc = migrate(&m, argv[optind + 1], &err);
        free(m.config);
        if (m.stop_args)
                json_object_put(m.stop_args);
        if (rc < 0)
                return fail(ctx, &err);
        report(&m, as_json);
        return EXIT_OK;
}

const struct command vsctl_cmd_migrate = {
        "migrate", NULL, cmd_migrate,
        "migrate NAME TARGET [--timeout S] [--fast] [--new-ip] [-j|--json]",
        "Move a VPS to another vsd: TARGET is ssh://HOST[/ROOT] (vsctl runs\n"
        "`ssh HOST vsctl --root ROOT migrate-receive` there) or the root or socket\n"
        "of another vsd on this machine. Its own files are copied while it runs\n"
        "(rounds of what changed, deletions included, until the change is small;\n"
        "of a VPS on a disk image, the image's changed blocks),\n"
        "then it stops, the last change goes, and it starts on the target with its\n"
        "addresses and config (an id range of its own there if its own is taken).\n"
        "The source is destroyed only once it runs on the target. A failure before\n"
        "leaves the source as it was (running again) and nothing on the target.\n"
        "Exit 3: no such VPS or template on the target; 4: the name exists there or\n"
        "its addresses cannot be the target's; 6: the target is not reachable or\n"
        "went away.\n"
        "  -t, --timeout S    the stop on the source: seconds before killing (default 30)\n"
        "  -f, --fast         the stop on the source: kill at once (the files are as a\n"
        "                     crash leaves them, without the init's shutdown)\n"
        "  --new-ip           take the target's next free addresses instead\n"
        "  -j, --json         the figures (rounds, bytes, downtime) as JSON\n"
};

const struct command vsctl_cmd_migrate_receive = {
        "migrate-receive", NULL, cmd_migrate_receive, "migrate-receive",
        "The target's half of migrate, which migrate runs (over ssh, or locally):\n"
        "it speaks migrate's stream on its standard input and output.\n"
};
