/* vsctl's shared plumbing: one-line errors and exit codes, one request
 * and its reply to vsd, option parsing, several VPS per command, and the
 * formatting and I/O helpers more than one family uses. */
#include <stdarg.h>
#include <fnmatch.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/parse.h"

#include "vsctl.h"

/* ---- errors ---- */

int exit_code_for(const vs_error_t *err)
{
        switch (err->kind) {
        case VS_E_USAGE:
                return EXIT_USAGE;
        case VS_E_NOTFOUND:
                return EXIT_NOTFOUND;
        case VS_E_STATE:
                return EXIT_STATE;
        case VS_E_PERM:
                return EXIT_PERM;
        case VS_E_DAEMON:
                return EXIT_DAEMON;
        default:
                return EXIT_INTERNAL;
        }
}

int fail(const struct ctx *ctx, const vs_error_t *err)
{
        if (ctx->name)
                fprintf(stderr, "vsctl: %s %s: %s\n", ctx->cmd, ctx->name, err->msg);
        else
                fprintf(stderr, "vsctl: %s: %s\n", ctx->cmd, err->msg);
        return exit_code_for(err);
}

static void print_error(const struct ctx *ctx, const char *fmt, va_list ap)
{
        char msg[512];

        vsnprintf(msg, sizeof(msg), fmt, ap);
        fprintf(stderr, "vsctl: %s: %s\n", ctx->cmd, msg);
}

int usage_error(const struct ctx *ctx, const char *fmt, ...)
{
        const struct command *c = find_command(ctx->cmd);
        va_list ap;

        va_start(ap, fmt);
        print_error(ctx, fmt, ap);
        va_end(ap);
        if (c)
                fprintf(stderr, "usage: vsctl %s\n", c->synopsis);
        return EXIT_USAGE;
}

/* A bad value: one line naming it (the command line's shape is right, so
 * no usage text). */
int value_error(const struct ctx *ctx, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        print_error(ctx, fmt, ap);
        va_end(ap);
        return EXIT_USAGE;
}

/* ---- talking to vsd ---- */

static int connect_vsd(const struct ctx *ctx, vs_error_t *err)
{
        struct sockaddr_un addr = { .sun_family = AF_UNIX };
        const char *root = strcmp(ctx->root, "/") == 0 ? "" : ctx->root;
        int fd;

        if (snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/run/paene/vsd.sock", root) >=
            (int)sizeof(addr.sun_path))
                return vs_error_kind(err, VS_E_USAGE, ENAMETOOLONG, "root path is too long");
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return vs_error_errno(err, "socket");
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
                int saved = errno;

                close(fd);
                if (saved == EACCES || saved == EPERM)
                        return vs_error_kind(err, VS_E_PERM, saved, "permission denied on %s",
                                             addr.sun_path);
                return vs_error_kind(err, VS_E_DAEMON, saved,
                                     "vsd is not running (cannot connect to %s: %s)", addr.sun_path,
                                     strerror(saved));
        }
        return fd;
}

/* vsd took the connection and then ended it without an answer: it is
 * running (or was), so this is not "vsd is not running" (exit 6) but a
 * failure of this request (exit 1), which vsd's log explains (a reply it
 * could not send, a crash). */
int dropped(vs_error_t *err, const char *when)
{
        return vs_error_kind(err, VS_E_INTERNAL, ECONNRESET,
                             "vsd closed the connection %s (see vsd's log)", when);
}

/* Talking to vsd failed after it had taken the connection: whatever kind
 * the failure was, it is no longer "vsd is not running". */
static int talk_failed(vs_error_t *err, const char *when)
{
        if (err->errnum == EPIPE || err->errnum == ECONNRESET)
                return dropped(err, when);
        err->kind = VS_E_INTERNAL;
        return vs_error_wrap(err, "talking to vsd");
}

/* Sends a request (taking args); returns the connection its reply comes on. */
static int send_request(const struct ctx *ctx, const char *cmd, const char *name, json_object *args,
                        vs_error_t *err)
{
        cleanup_json json_object *req = vs_request_new(cmd, name, args);
        cleanup_close int sock = -1;

        /* too large is the caller's mistake, told before vsd is bothered */
        if (vs_request_fits(req, err) < 0)
                return -1;
        sock = connect_vsd(ctx, err);
        if (sock < 0)
                return -1;
        if (vs_msg_send(sock, req, NULL, 0, err) < 0) {
                char byte;

                /* a refusal at accept (permission, caps) is sent before
                 * vsd closes: the reply is there to read */
                if (recv(sock, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0)
                        return steal_fd(sock);
                return talk_failed(err, "before it took the request");
        }
        return steal_fd(sock);
}

/* Receives the first reply to a request sent on sock. */
static int recv_reply(int sock, json_object **reply, int *fds, int *nfds, vs_error_t *err)
{
        *reply = NULL;
        /* a vsd that refused at accept and closed before it read the
         * request resets the connection, and the kernel says so before
         * the refusal it queued: once more for that */
        if (vs_msg_recv(sock, reply, fds, nfds, err) < 0 &&
            (err->errnum != ECONNRESET || vs_msg_recv(sock, reply, fds, nfds, err) < 0))
                return talk_failed(err, "without a reply");
        if (!*reply)
                return dropped(err, "without a reply");
        return vs_reply_check(*reply, err);
}

/* Sends a request and receives the first reply. The connection is returned
 * in *sock_out when the caller needs it further (exec). */
int call(const struct ctx *ctx, const char *cmd, const char *name, json_object *args,
         json_object **reply, int *fds, int *nfds, int *sock_out, vs_error_t *err)
{
        cleanup_close int sock = send_request(ctx, cmd, name, args, err);

        *reply = NULL;
        if (sock < 0 || recv_reply(sock, reply, fds, nfds, err) < 0)
                return -1;
        if (sock_out)
                *sock_out = steal_fd(sock);
        return 0;
}

int simple_call(struct ctx *ctx, const char *cmd, const char *name, json_object *args)
{
        cleanup_json json_object *reply = NULL;
        vs_error_t err = { 0 };

        if (call(ctx, cmd, name, args, &reply, NULL, NULL, NULL, &err) < 0)
                return fail(ctx, &err);
        return EXIT_OK;
}

/* ---- option parsing ---- */

int want_help(int argc, char **argv)
{
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--") == 0)
                        return 0;
                if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
                        return 1;
        }
        return 0;
}

/* getopt_long with messages in vsctl's one-line form. */
int next_opt(struct ctx *ctx, int argc, char **argv, const char *shortopts,
             const struct option *longopts, int *bad)
{
        int opt = getopt_long(argc, argv, shortopts, longopts, NULL);

        if (opt == '?' || opt == ':') {
                if (optopt)
                        *bad = usage_error(ctx, "option -%c is unknown or needs a value", optopt);
                else
                        *bad = usage_error(ctx, "option '%s' is unknown or needs a value",
                                           argv[optind - 1]);
        }
        return opt;
}

void reset_getopt(void)
{
        optind = 0;
        opterr = 0;
}

/* Takes the single NAME operand; sets ctx->name. */
int take_name(struct ctx *ctx, int argc, char **argv, const char *what)
{
        vs_error_t err = { 0 };

        if (optind >= argc)
                return usage_error(ctx, "%s is missing", what);
        if (optind + 1 < argc)
                return usage_error(ctx, "unexpected argument '%s'", argv[optind + 1]);
        ctx->name = argv[optind];
        if (vs_parse_name(ctx->name, what, &err) < 0)
                return fail(ctx, &err);
        return EXIT_OK;
}

/* Takes the operands NAME and one more (clone's NEW, backup's FILE): sets
 * ctx->name, checks it, and points *second at the other. */
int take_name_and(struct ctx *ctx, int argc, char **argv, const char *second_what,
                  const char **second)
{
        vs_error_t err = { 0 };

        if (optind + 2 > argc)
                return usage_error(ctx, "%s is missing", optind >= argc ? "VPS name" : second_what);
        if (optind + 2 < argc)
                return usage_error(ctx, "unexpected argument '%s'", argv[optind + 2]);
        ctx->name = argv[optind];
        *second = argv[optind + 1];
        if (vs_parse_name(ctx->name, "VPS name", &err) < 0)
                return fail(ctx, &err);
        return EXIT_OK;
}

const struct option no_options[] = { { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };

/* For commands whose only operand is NAME. */
int parse_name_only(struct ctx *ctx, int argc, char **argv)
{
        int opt, bad = 0;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "h", no_options, &bad)) != -1)
                if (bad)
                        return bad;
        return take_name(ctx, argc, argv, "VPS name");
}

/* ---- several VPS per command ---- */

int has_glob(const char *text)
{
        return strpbrk(text, "*?[") != NULL;
}

/* The names of every VPS vsd has, in its (name) order. */
static char **all_names(struct ctx *ctx, size_t *n, vs_error_t *err)
{
        cleanup_json json_object *reply = NULL;
        json_object *all;
        char **names;

        if (call(ctx, VS_CMD_LIST, NULL, NULL, &reply, NULL, NULL, NULL, err) < 0)
                return NULL;
        all = vs_json_array(reply, "vps");
        *n = all ? json_object_array_length(all) : 0;
        names = vs_xmalloc((*n + 1) * sizeof(*names));
        for (size_t i = 0; i < *n; i++) {
                const char *name = vs_json_str(json_object_array_get_idx(all, i), "name");

                names[i] = vs_xstrdup(name ? name : "");
        }
        names[*n] = NULL;
        return names;
}

/* stop --all: every VPS not stopped (the host's shutdown path). */
int running_names(struct ctx *ctx, char ***names, size_t *n)
{
        cleanup_json json_object *reply = NULL;
        vs_error_t err = { 0 };
        json_object *all;
        size_t total;

        if (call(ctx, VS_CMD_LIST, NULL, NULL, &reply, NULL, NULL, NULL, &err) < 0)
                return fail(ctx, &err);
        all = vs_json_array(reply, "vps");
        total = all ? json_object_array_length(all) : 0;
        *n = 0;
        *names = vs_xmalloc((total + 1) * sizeof(**names));
        for (size_t i = 0; i < total; i++) {
                json_object *vps = json_object_array_get_idx(all, i);
                const char *state = vs_json_str(vps, "state");

                if (state && strcmp(state, "stopped") != 0)
                        (*names)[(*n)++] = vs_xstrdup(vs_json_str(vps, "name") ?: "");
        }
        (*names)[*n] = NULL;
        return EXIT_OK;
}

static int listed(char **names, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(names[i], name) == 0)
                        return 1;
        return 0;
}

static void add_name(char ***names, size_t *n, const char *name)
{
        if (listed(*names, *n, name))
                return; /* each VPS once, in the order first named */
        *names = realloc(*names, (*n + 2) * sizeof(**names));
        if (!*names)
                abort();
        (*names)[(*n)++] = vs_xstrdup(name);
        (*names)[*n] = NULL;
}

/* The NAME operands from optind on, each checked; with globs, a shell
 * pattern (quoted: web*) stands for the VPS whose names match, and a
 * pattern that matches none is an error (exit 3). */
int take_names(struct ctx *ctx, int argc, char **argv, int globs, char ***names, size_t *n)
{
        cleanup_strv char **known = NULL;
        size_t nknown = 0;
        vs_error_t err = { 0 };

        *names = NULL;
        *n = 0;
        if (optind >= argc)
                return usage_error(ctx, "VPS name is missing");
        for (int i = optind; i < argc; i++) {
                size_t before = *n;

                ctx->name = argv[i];
                if (!globs || !has_glob(argv[i])) {
                        if (vs_parse_name(argv[i], "VPS name", &err) < 0)
                                return fail(ctx, &err);
                        add_name(names, n, argv[i]);
                        continue;
                }
                if (!known && !(known = all_names(ctx, &nknown, &err)))
                        return fail(ctx, &err);
                for (size_t k = 0; k < nknown; k++)
                        if (fnmatch(argv[i], known[k], 0) == 0)
                                add_name(names, n, known[k]);
                if (*n == before && !listed(*names, *n, argv[i])) {
                        vs_error_kind(&err, VS_E_NOTFOUND, ENOENT, "no VPS matches");
                        return fail(ctx, &err);
                }
        }
        ctx->name = *n == 1 ? (*names)[0] : NULL;
        return EXIT_OK;
}

/* Up to this many requests are in flight at once (one socket each). */
#define BATCH_MAX 64

/* Sends cmd for each VPS, all of a batch before any reply is read, so that
 * stops wait their timeouts side by side, and reports each: an error line
 * per failure; with several VPS also "NAME DONE" per success. The exit
 * code is the first failure's, else 0. */
int run_on_each(struct ctx *ctx, const char *cmd, char **names, size_t n, json_object *args,
                const char *done)
{
        static vs_error_t errs[BATCH_MAX];
        int socks[BATCH_MAX], rc = EXIT_OK;

        for (size_t first = 0; first < n; first += BATCH_MAX) {
                size_t m = n - first < BATCH_MAX ? n - first : BATCH_MAX;

                for (size_t i = 0; i < m; i++) {
                        memset(&errs[i], 0, sizeof(errs[i]));
                        socks[i] = send_request(ctx, cmd, names[first + i],
                                                args ? json_object_get(args) : NULL, &errs[i]);
                }
                for (size_t i = 0; i < m; i++) {
                        cleanup_json json_object *reply = NULL;
                        int ok = socks[i] >= 0 &&
                                 recv_reply(socks[i], &reply, NULL, NULL, &errs[i]) == 0;

                        if (socks[i] >= 0)
                                close(socks[i]);
                        ctx->name = names[first + i];
                        if (!ok) {
                                int code = fail(ctx, &errs[i]);

                                rc = rc == EXIT_OK ? code : rc;
                        } else if (vs_json_bool(reply, "absent")) {
                                fprintf(stderr, "vsctl: %s %s: no such VPS, nothing to do\n",
                                        ctx->cmd, ctx->name);
                        } else if (n > 1) {
                                printf("%s %s\n", ctx->name, done);
                        }
                }
        }
        fflush(stdout);
        json_object_put(args);
        return rc;
}

/* ---- output ---- */

/* An uptime for people: 3d04h, 2h05m, 40s. */
void format_duration(long long seconds, char *buf, size_t size)
{
        if (seconds >= 86400)
                snprintf(buf, size, "%lldd%02lldh", seconds / 86400, seconds % 86400 / 3600);
        else if (seconds >= 3600)
                snprintf(buf, size, "%lldh%02lldm", seconds / 3600, seconds % 3600 / 60);
        else if (seconds >= 60)
                snprintf(buf, size, "%lldm%02llds", seconds / 60, seconds % 60);
        else
                snprintf(buf, size, "%llds", seconds);
}

void print_json(json_object *obj)
{
        printf("%s\n", json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY |
                                                                   JSON_C_TO_STRING_SPACED |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
}

static const struct option json_options[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
};

/* The options of a command whose only one is -j/--json (and -h). */
int json_flag(struct ctx *ctx, int argc, char **argv, int *as_json)
{
        int opt, bad = 0;

        *as_json = 0;
        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "jh", json_options, &bad)) != -1) {
                if (bad)
                        return bad;
                *as_json |= opt == 'j';
        }
        return EXIT_OK;
}

/* ---- I/O for streams vsd hands over ---- */

int write_all(int fd, const char *buf, size_t len)
{
        while (len > 0) {
                ssize_t n = write(fd, buf, len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -1;
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

/* Copies what is readable on `from` to `to`; returns 0 at end of stream. */
int pump(int from, int to)
{
        char buf[65536];
        ssize_t n = read(from, buf, sizeof(buf));

        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return 1;
        if (n <= 0)
                return 0; /* EOF, or EIO once a pty's other side is gone */
        if (write_all(to, buf, (size_t)n) < 0)
                return 0;
        return 1;
}

int read_exit(int sock, int *status, vs_error_t *err)
{
        cleanup_json json_object *msg = NULL;

        if (vs_msg_recv(sock, &msg, NULL, NULL, err) < 0)
                return talk_failed(err, "before the command ended");
        if (!msg)
                return dropped(err, "before the command ended");
        if (vs_reply_check(msg, err) < 0)
                return -1;
        *status = (int)vs_json_int(msg, "exit", 255);
        return 0;
}

/* A size for people: 512B, 1.5K, 20.0M. */
void format_size(uint64_t bytes, char *buf, size_t size)
{
        static const char units[] = "BKMGT";
        double value = (double)bytes;
        int unit = 0;

        while (value >= 1024 && unit < 4) {
                value /= 1024;
                unit++;
        }
        if (unit == 0)
                snprintf(buf, size, "%lluB", (unsigned long long)bytes);
        else
                snprintf(buf, size, "%.1f%c", value, units[unit]);
}
