/* vsctl: the admin's command. Parse the arguments, send one request to vsd,
 * print the reply (a table, one line, or --json) and exit with a documented
 * code. For exec and enter, vsd hands back pipe or pty fds and vsctl relays
 * the terminal itself; vsd is never in the data path. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "vs/security.h"
#include "vs/cleanup.h"
#include "vs/cowfs.h"
#include "vs/diskquota.h"
#include "vs/fsutil.h"
#include "vs/limits.h"
#include "vs/netns.h"
#include "vs/parse.h"
#include "vs/protocol.h"

#ifndef VS_VERSION
#define VS_VERSION "0.1"
#endif

/* Exit codes, documented in vsctl(8). */
enum {
        EXIT_OK = 0,
        EXIT_INTERNAL = 1,
        EXIT_USAGE = 2,
        EXIT_NOTFOUND = 3,
        EXIT_STATE = 4,
        EXIT_PERM = 5,
        EXIT_DAEMON = 6,
};

struct ctx {
        const char *root;
        const char *cmd;  /* for messages: "start" */
        const char *name; /* for messages: "web1", or NULL */
};

struct command {
        const char *name;
        const char *alias;
        int (*run)(struct ctx *ctx, int argc, char **argv);
        const char *synopsis;
        const char *help;
};

static const struct command *find_command(const char *name);

/* ---- errors ---- */

static int exit_code_for(const vs_error_t *err)
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

static int fail(const struct ctx *ctx, const vs_error_t *err)
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

static int usage_error(const struct ctx *ctx, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static int usage_error(const struct ctx *ctx, const char *fmt, ...)
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
static int value_error(const struct ctx *ctx, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static int value_error(const struct ctx *ctx, const char *fmt, ...)
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
static int dropped(vs_error_t *err, const char *when)
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
static int call(const struct ctx *ctx, const char *cmd, const char *name, json_object *args,
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

static int simple_call(struct ctx *ctx, const char *cmd, const char *name, json_object *args)
{
        cleanup_json json_object *reply = NULL;
        vs_error_t err = { 0 };

        if (call(ctx, cmd, name, args, &reply, NULL, NULL, NULL, &err) < 0)
                return fail(ctx, &err);
        return EXIT_OK;
}

/* ---- option parsing ---- */

static int want_help(int argc, char **argv)
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
static int next_opt(struct ctx *ctx, int argc, char **argv, const char *shortopts,
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

static void reset_getopt(void)
{
        optind = 0;
        opterr = 0;
}

/* Takes the single NAME operand; sets ctx->name. */
static int take_name(struct ctx *ctx, int argc, char **argv, const char *what)
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

static const struct option no_options[] = { { "help", no_argument, NULL, 'h' },
                                            { NULL, 0, NULL, 0 } };

/* For commands whose only operand is NAME. */
static int parse_name_only(struct ctx *ctx, int argc, char **argv)
{
        int opt, bad = 0;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "h", no_options, &bad)) != -1)
                if (bad)
                        return bad;
        return take_name(ctx, argc, argv, "VPS name");
}

/* ---- several VPS per command ---- */

static int has_glob(const char *text)
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
static int running_names(struct ctx *ctx, char ***names, size_t *n)
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
static int take_names(struct ctx *ctx, int argc, char **argv, int globs, char ***names, size_t *n)
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
static int run_on_each(struct ctx *ctx, const char *cmd, char **names, size_t n, json_object *args,
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

/* ---- create / start / stop / restart / destroy ---- */

/* ---- limits: options shared by create and set ---- */

#define LIMIT_OPT 1000 /* getopt value of limit i: LIMIT_OPT + i */
#define LIMIT_HELP                                                                    \
        "  --cpuunits N       CPU weight, 2-262144 (v1 cpu.shares; v2 cpu.weight)\n"  \
        "  --cpulimit P%      CPU cap: 50% (of one CPU), 1.5 (CPUs) or 25ms/100ms\n"  \
        "  --cpus N           CPU cap in whole CPUs (with --cpulimit: the smaller)\n" \
        "  --cpumask LIST     CPUs the VPS may run on: 0-1,3\n"                       \
        "  --cpu-burst DUR    CPU it may save up and burst above its cap (ms s)\n"    \
        "  --ram SIZE         memory limit (K M G T); at least 4M\n"                  \
        "  --ram-reserve SIZE guaranteed memory (v1 soft limit; v2 memory.low)\n"     \
        "  --swap SIZE        swap on top of --ram (needs --ram)\n"                   \
        "  --numproc N        most processes and threads (pids.max)\n"                \
        "  --numfile N        most open files per process (RLIMIT_NOFILE)\n"          \
        "  --ioprio 0-7       I/O weight\n"                                           \
        "  --iolimit RATE     bytes/s read and write on the upper layer's disk\n"     \
        "  --iopslimit N      operations/s on the same disk\n"                        \
        "  --cpu-reserve CPU  guaranteed CPU, for admission control (see: vsctl node)\n"

#define FORCE_HELP                                                                         \
        "  --force            keep a limit this node can never satisfy (--ram above its\n" \
        "                     memory, --cpus or --cpulimit above its CPUs, --cpumask\n"    \
        "                     naming CPUs it lacks), which is refused without it\n"

/* Appends the limit options to opts (which has room); returns the count. */
static size_t add_limit_options(struct option *opts, size_t n)
{
        for (int i = 0; i < VS_LIM_COUNT; i++)
                opts[n++] = (struct option){ vs_limit_option((vs_limit_t)i), required_argument,
                                             NULL, LIMIT_OPT + i };
        opts[n] = (struct option){ NULL, 0, NULL, 0 };
        return n;
}

/* Parses a limit option here (a bad value is refused before vsd is asked)
 * and adds its text to the request. */
static int take_limit(struct ctx *ctx, int opt, vs_limits_t *l, json_object *limits)
{
        vs_limit_t limit = (vs_limit_t)(opt - LIMIT_OPT);
        vs_error_t err = { 0 };

        if (vs_limits_parse_one(l, limit, optarg, &err) < 0)
                return fail(ctx, &err);
        json_object_object_add(limits, vs_limit_key(limit), json_object_new_string(optarg));
        return EXIT_OK;
}

/* --diskspace SIZE[:HARD] and --diskinodes N[:HARD], checked here for exit
 * code 2 and sent as typed; vsd checks them again. */
struct disk_opts {
        const char *space, *inodes;
};

static void disk_option(struct disk_opts *disk, int opt)
{
        if (opt == 'S')
                disk->space = optarg;
        else if (opt == 'I')
                disk->inodes = optarg;
}

static int disk_check(const struct disk_opts *disk, vs_error_t *err)
{
        vs_disk_limit_t l;

        if (disk->space && vs_disk_parse_space(disk->space, &l, err) < 0)
                return -1;
        return disk->inodes ? vs_disk_parse_inodes(disk->inodes, &l, err) : 0;
}

static void disk_args(const struct disk_opts *disk, json_object *args)
{
        if (disk->space)
                json_object_object_add(args, "diskspace", json_object_new_string(disk->space));
        if (disk->inodes)
                json_object_object_add(args, "diskinodes", json_object_new_string(disk->inodes));
}

/* The network options of create and set. vsd checks addresses against its
 * pools and the other VPS; the form is checked here, so that a typo fails
 * before anything is sent. */
enum {
        NET_IPADD = 900,
        NET_IPDEL,
        NET_NAMESERVER,
        NET_SEARCHDOMAIN,
        NET_FORWARD,
        NET_FORWARD_DEL,
};

/* clang-format off */
#define NET_OPTIONS \
        { "ipadd", required_argument, NULL, NET_IPADD }, \
        { "nameserver", required_argument, NULL, NET_NAMESERVER }, \
        { "searchdomain", required_argument, NULL, NET_SEARCHDOMAIN }, \
        { "port-forward", required_argument, NULL, NET_FORWARD }
/* clang-format on */

struct net_opts {
        /* NULL: not given */
        json_object *ipadd, *ipdel, *nameserver, *searchdomain, *fwd, *fwd_del;
};

static void net_opts_free(struct net_opts *n)
{
        json_object_put(n->ipadd);
        json_object_put(n->ipdel);
        json_object_put(n->nameserver);
        json_object_put(n->searchdomain);
        json_object_put(n->fwd);
        json_object_put(n->fwd_del);
}
#define cleanup_net_opts __attribute__((cleanup(net_opts_free)))

static int check_net_value(struct ctx *ctx, int opt, const char *text)
{
        vs_error_t err = { 0 };
        vs_ip4_t ip4;
        vs_ip6_t ip6;
        vs_portfwd_t fwd;

        switch (opt) {
        case NET_IPADD:
        case NET_IPDEL:
                if (strcmp(text, opt == NET_IPADD ? "none" : "all") == 0)
                        return EXIT_OK;
                if ((vs_ip_is_v6(text) ? vs_ip6_parse(text, 128, &ip6, &err)
                                       : vs_ip4_parse(text, 32, &ip4, &err)) < 0)
                        return value_error(ctx, "--%s: %s", opt == NET_IPADD ? "ipadd" : "ipdel",
                                           err.msg);
                return EXIT_OK;
        case NET_NAMESERVER:
                if (vs_net_check_nameserver(text, &err) < 0)
                        return value_error(ctx, "%s", err.msg);
                return EXIT_OK;
        case NET_FORWARD:
        case NET_FORWARD_DEL:
                if ((opt == NET_FORWARD_DEL ? vs_portfwd_parse_del(text, &fwd, &err)
                                            : vs_portfwd_parse(text, &fwd, &err)) < 0)
                        return value_error(ctx, "%s", err.msg);
                return EXIT_OK;
        default:
                if (vs_net_check_searchdomain(text, &err) < 0)
                        return value_error(ctx, "%s", err.msg);
                return EXIT_OK;
        }
}

/* Takes one network option; anything else is left to the caller (1). */
static int net_option(struct ctx *ctx, int opt, struct net_opts *n, int *rc)
{
        json_object **slot = opt == NET_IPADD          ? &n->ipadd
                             : opt == NET_IPDEL        ? &n->ipdel
                             : opt == NET_NAMESERVER   ? &n->nameserver
                             : opt == NET_SEARCHDOMAIN ? &n->searchdomain
                             : opt == NET_FORWARD      ? &n->fwd
                             : opt == NET_FORWARD_DEL  ? &n->fwd_del
                                                       : NULL;

        if (!slot)
                return 1;
        *rc = check_net_value(ctx, opt, optarg);
        if (*rc != EXIT_OK)
                return 0;
        if (!*slot)
                *slot = json_object_new_array();
        json_object_array_add(*slot, json_object_new_string(optarg));
        return 0;
}

static int net_opts_given(const struct net_opts *n)
{
        return n->ipadd || n->ipdel || n->nameserver || n->searchdomain || n->fwd || n->fwd_del;
}

/* --rate-out and --rate-in, shared by create and set: checked here for exit
 * code 2, sent as typed; vsd parses them again. */
#define RATE_OUT_OPT 2000
#define RATE_IN_OPT 2001
#define RATE_HELP                                                                         \
        "  --rate-out RATE    cap what the VPS sends, in bit/s with K M G (1000-based,\n" \
        "                     as tc's kbit mbit gbit): 10M; 0 or none: no cap\n"          \
        "  --rate-in RATE     cap what the VPS receives, the same way\n"

static int take_rate(struct ctx *ctx, int opt, json_object *args)
{
        const char *option = opt == RATE_OUT_OPT ? "--rate-out" : "--rate-in";
        vs_error_t err = { 0 };
        uint64_t bits;

        if (vs_rate_parse(optarg, option, &bits, &err) < 0)
                return fail(ctx, &err);
        json_object_object_add(args, opt == RATE_OUT_OPT ? "rate_out" : "rate_in",
                               json_object_new_string(optarg));
        return EXIT_OK;
}

static int net_opts_check(struct ctx *ctx, const struct net_opts *n)
{
        if (n->nameserver && json_object_array_length(n->nameserver) > 3)
                return usage_error(ctx, "at most 3 --nameserver");
        if (n->searchdomain && json_object_array_length(n->searchdomain) > 6)
                return usage_error(ctx, "at most 6 --searchdomain");
        return EXIT_OK;
}

/* Moves the given options into the request's args. */
static void net_opts_to_args(struct net_opts *n, json_object *args)
{
        if (n->ipadd)
                json_object_object_add(args, "ipadd", steal_ptr(n->ipadd));
        if (n->ipdel)
                json_object_object_add(args, "ipdel", steal_ptr(n->ipdel));
        if (n->nameserver)
                json_object_object_add(args, "nameserver", steal_ptr(n->nameserver));
        if (n->searchdomain)
                json_object_object_add(args, "searchdomain", steal_ptr(n->searchdomain));
        if (n->fwd)
                json_object_object_add(args, "port_forward", steal_ptr(n->fwd));
        if (n->fwd_del)
                json_object_object_add(args, "port_forward_del", steal_ptr(n->fwd_del));
}

/* --onboot yes|no and --bootorder N of create and set, into args. */
#define ONBOOT_OPT 2100
#define BOOTORDER_OPT 2101
#define BOOT_HELP                                                                       \
        "  --onboot yes|no    start the VPS when vsd starts after a boot of the host\n" \
        "                     (not after a restart of vsd alone); config key onboot\n"  \
        "  --bootorder N      its place in that: the higher N starts first (default 0)\n"

static int take_boot_option(struct ctx *ctx, int opt, json_object *args)
{
        vs_error_t err = { 0 };
        uint64_t order;

        if (opt == ONBOOT_OPT) {
                if (strcmp(optarg, "yes") != 0 && strcmp(optarg, "no") != 0)
                        return value_error(ctx, "--onboot takes yes or no, not '%s'", optarg);
                json_object_object_add(args, "onboot",
                                       json_object_new_boolean(strcmp(optarg, "yes") == 0));
                return EXIT_OK;
        }
        if (vs_parse_uint(optarg, 0, (uint64_t)VS_BOOTORDER_MAX, "--bootorder", &order, &err) < 0)
                return fail(ctx, &err);
        json_object_object_add(args, "bootorder", json_object_new_int64((int64_t)order));
        return EXIT_OK;
}

static int cmd_create(struct ctx *ctx, int argc, char **argv)
{
        struct option opts[18 + VS_LIM_COUNT] = {
                { "onboot", required_argument, NULL, ONBOOT_OPT },
                { "bootorder", required_argument, NULL, BOOTORDER_OPT },
                { "force", no_argument, NULL, 'F' },
                { "procview", required_argument, NULL, 'V' },
                { "rate-out", required_argument, NULL, RATE_OUT_OPT },
                { "rate-in", required_argument, NULL, RATE_IN_OPT },
                { "template", required_argument, NULL, 't' },
                { "hostname", required_argument, NULL, 'n' },
                { "privileged", no_argument, NULL, 'P' },
                { "diskspace", required_argument, NULL, 'S' },
                { "diskinodes", required_argument, NULL, 'I' },
                { "help", no_argument, NULL, 'h' },
                NET_OPTIONS,
        };
        const char *tmpl = NULL, *hostname = NULL, *procview = NULL;
        cleanup_json json_object *limits = json_object_new_object();
        cleanup_net_opts struct net_opts net = { 0 };
        cleanup_json json_object *rates = json_object_new_object();
        cleanup_json json_object *boot = json_object_new_object();
        json_object *args;
        struct disk_opts disk = { 0 };
        vs_limits_t l = { 0 };
        vs_error_t err = { 0 };
        int opt, bad = 0, rc = EXIT_OK, privileged = 0, force = 0;

        add_limit_options(opts, 16); /* after the sixteen above */
        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "t:n:h", opts, &bad)) != -1) {
                if (bad)
                        return bad;
                force |= opt == 'F';
                if ((opt == ONBOOT_OPT || opt == BOOTORDER_OPT) &&
                    (rc = take_boot_option(ctx, opt, boot)) != EXIT_OK)
                        return rc;
                if (opt == 't')
                        tmpl = optarg;
                else if (opt == 'n')
                        hostname = optarg;
                else if (opt == 'P')
                        privileged = 1;
                else if (opt == 'V')
                        procview = optarg;
                else if (!net_option(ctx, opt, &net, &rc)) {
                        if (rc != EXIT_OK)
                                return rc;
                } else if (opt >= LIMIT_OPT && opt < RATE_OUT_OPT &&
                           (rc = take_limit(ctx, opt, &l, limits)) != EXIT_OK)
                        return rc;
                else if ((opt == RATE_OUT_OPT || opt == RATE_IN_OPT) &&
                         (rc = take_rate(ctx, opt, rates)) != EXIT_OK)
                        return rc;
                else
                        disk_option(&disk, opt);
        }
        if ((rc = net_opts_check(ctx, &net)) != EXIT_OK ||
            (rc = take_name(ctx, argc, argv, "VPS name")) != EXIT_OK)
                return rc;
        if (!tmpl)
                return usage_error(ctx, "--template is required");
        if (procview && strcmp(procview, "on") != 0 && strcmp(procview, "off") != 0)
                return usage_error(ctx, "--procview must be on or off, not '%s'", procview);
        if (vs_parse_name(tmpl, "template name", &err) < 0 ||
            (hostname && vs_parse_hostname(hostname, &err) < 0) || vs_limits_check(&l, &err) < 0 ||
            disk_check(&disk, &err) < 0)
                return fail(ctx, &err);
        args = json_object_new_object();
        net_opts_to_args(&net, args);
        json_object_object_add(args, "template", json_object_new_string(tmpl));
        if (hostname)
                json_object_object_add(args, "hostname", json_object_new_string(hostname));
        if (privileged)
                json_object_object_add(args, "privileged", json_object_new_boolean(1));
        if (force)
                json_object_object_add(args, "force", json_object_new_boolean(1));
        json_object_object_foreach(boot, boot_key, boot_value)
        {
                json_object_object_add(args, boot_key, json_object_get(boot_value));
        }
        if (procview)
                json_object_object_add(args, "procview", json_object_new_string(procview));
        json_object_object_add(args, "limits", steal_ptr(limits));
        json_object_object_foreach(rates, key, value)
        {
                json_object_object_add(args, key, json_object_get(value));
        }
        disk_args(&disk, args);
        return simple_call(ctx, VS_CMD_CREATE, ctx->name, args);
}

static int cmd_set(struct ctx *ctx, int argc, char **argv)
{
        struct option opts[16 + VS_LIM_COUNT] = {
                { "onboot", required_argument, NULL, ONBOOT_OPT },
                { "bootorder", required_argument, NULL, BOOTORDER_OPT },
                { "force", no_argument, NULL, 'F' },
                { "rate-out", required_argument, NULL, RATE_OUT_OPT },
                { "rate-in", required_argument, NULL, RATE_IN_OPT },
                { "hostname", required_argument, NULL, 'n' },
                { "no-save", no_argument, NULL, 'N' },
                { "capability", required_argument, NULL, 'C' },
                { "help", no_argument, NULL, 'h' },
                { "ipdel", required_argument, NULL, NET_IPDEL },
                { "port-forward-del", required_argument, NULL, NET_FORWARD_DEL },
                NET_OPTIONS,
        };
        cleanup_json json_object *limits = json_object_new_object();
        cleanup_net_opts struct net_opts net = { 0 };
        cleanup_json json_object *rates = json_object_new_object();
        cleanup_free char *caps = NULL;
        cleanup_json json_object *boot = json_object_new_object();
        const char *hostname = NULL;
        json_object *args;
        vs_limits_t l = { 0 };
        vs_caps_t check;
        vs_error_t err = { 0 };
        int opt, bad = 0, rc = EXIT_OK, no_save = 0, force = 0;

        add_limit_options(opts, 15); /* after the fifteen above */
        vs_caps_default(&check);
        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "n:h", opts, &bad)) != -1) {
                if (bad)
                        return bad;
                no_save |= opt == 'N';
                force |= opt == 'F';
                if ((opt == ONBOOT_OPT || opt == BOOTORDER_OPT) &&
                    (rc = take_boot_option(ctx, opt, boot)) != EXIT_OK)
                        return rc;
                if (opt == 'n') {
                        if (vs_parse_hostname(optarg, &err) < 0)
                                return fail(ctx, &err);
                        hostname = optarg;
                }
                if (!net_option(ctx, opt, &net, &rc)) {
                        if (rc != EXIT_OK)
                                return rc;
                        continue;
                }
                if (opt >= LIMIT_OPT && opt < RATE_OUT_OPT &&
                    (rc = take_limit(ctx, opt, &l, limits)) != EXIT_OK)
                        return rc;
                if ((opt == RATE_OUT_OPT || opt == RATE_IN_OPT) &&
                    (rc = take_rate(ctx, opt, rates)) != EXIT_OK)
                        return rc;
                if (opt == 'C') {
                        char *joined;

                        if (vs_caps_parse(optarg, &check, &err) < 0)
                                return usage_error(ctx, "--capability: %s", err.msg);
                        joined = vs_strdupf("%s%s%s", caps ? caps : "", caps ? " " : "", optarg);
                        free(caps);
                        caps = joined;
                }
        }
        if ((rc = take_name(ctx, argc, argv, "VPS name")) != EXIT_OK)
                return rc;
        if ((rc = net_opts_check(ctx, &net)) != EXIT_OK)
                return rc;
        if (!l.set && !caps && !net_opts_given(&net) && json_object_object_length(rates) == 0 &&
            !hostname && json_object_object_length(boot) == 0)
                return usage_error(ctx, "no limit, rate, capability, hostname or network setting "
                                        "given");
        if (no_save && (net_opts_given(&net) || hostname || json_object_object_length(boot)))
                return usage_error(ctx, "--no-save applies to limits and rates only, not to "
                                        "addresses, name servers, port forwards, the hostname "
                                        "or --onboot");
        args = json_object_new_object();
        net_opts_to_args(&net, args);
        json_object_object_add(args, "limits", steal_ptr(limits));
        json_object_object_foreach(rates, key, value)
        {
                json_object_object_add(args, key, json_object_get(value));
        }
        if (caps)
                json_object_object_add(args, "capability", json_object_new_string(caps));
        if (hostname)
                json_object_object_add(args, "hostname", json_object_new_string(hostname));
        if (force)
                json_object_object_add(args, "force", json_object_new_boolean(1));
        json_object_object_foreach(boot, boot_key, boot_value)
        {
                json_object_object_add(args, boot_key, json_object_get(boot_value));
        }
        if (no_save)
                json_object_object_add(args, "no_save", json_object_new_boolean(1));
        return simple_call(ctx, VS_CMD_SET, ctx->name, args);
}

static int cmd_resize(struct ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                { "diskspace", required_argument, NULL, 'S' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        struct disk_opts disk = { 0 };
        json_object *args;
        vs_error_t err = { 0 };
        int opt, bad = 0, rc;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "h", opts, &bad)) != -1) {
                if (bad)
                        return bad;
                disk_option(&disk, opt);
        }
        if ((rc = take_name(ctx, argc, argv, "VPS name")) != EXIT_OK)
                return rc;
        if (!disk.space)
                return usage_error(ctx, "--diskspace is required");
        if (disk_check(&disk, &err) < 0)
                return fail(ctx, &err);
        args = json_object_new_object();
        disk_args(&disk, args);
        return simple_call(ctx, VS_CMD_RESIZE, ctx->name, args);
}

static int cmd_clone(struct ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                { "hostname", required_argument, NULL, 'n' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        const char *hostname = NULL, *new_name;
        json_object *args;
        vs_error_t err = { 0 };
        int opt, bad = 0;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "n:h", opts, &bad)) != -1) {
                if (bad)
                        return bad;
                if (opt == 'n')
                        hostname = optarg;
        }
        if (optind + 2 > argc)
                return usage_error(ctx, optind >= argc ? "VPS name is missing"
                                                       : "the new VPS's name is missing");
        if (optind + 2 < argc)
                return usage_error(ctx, "unexpected argument '%s'", argv[optind + 2]);
        ctx->name = argv[optind];
        new_name = argv[optind + 1];
        if (vs_parse_name(ctx->name, "VPS name", &err) < 0 ||
            vs_parse_name(new_name, "VPS name", &err) < 0 ||
            (hostname && vs_parse_hostname(hostname, &err) < 0))
                return fail(ctx, &err);
        args = json_object_new_object();
        json_object_object_add(args, "new", json_object_new_string(new_name));
        if (hostname)
                json_object_object_add(args, "hostname", json_object_new_string(hostname));
        return simple_call(ctx, VS_CMD_CLONE, ctx->name, args);
}

static int cmd_start(struct ctx *ctx, int argc, char **argv)
{
        cleanup_strv char **names = NULL;
        size_t n;
        int opt, bad = 0, rc;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "h", no_options, &bad)) != -1)
                if (bad)
                        return bad;
        if ((rc = take_names(ctx, argc, argv, 1, &names, &n)) != EXIT_OK)
                return rc;
        return run_on_each(ctx, VS_CMD_START, names, n, NULL, "started");
}

static int parse_stop_options(struct ctx *ctx, int argc, char **argv, json_object *args,
                              int allow_fast, int *all)
{
        static const struct option opts[] = {
                { "timeout", required_argument, NULL, 't' },
                { "fast", no_argument, NULL, 'f' },
                { "all", no_argument, NULL, 'a' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        vs_error_t err = { 0 };
        uint64_t ms;
        int opt, bad = 0;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, allow_fast ? "t:fah" : "t:h", opts, &bad)) != -1) {
                if (bad)
                        return bad;
                if ((opt == 'f' || opt == 'a') && !allow_fast)
                        return usage_error(ctx, "option %s is unknown", argv[optind - 1]);
                *all |= opt == 'a';
                if (opt == 'f')
                        json_object_object_add(args, "fast", json_object_new_boolean(1));
                if (opt == 't') {
                        if (vs_parse_duration(optarg, &ms, &err) < 0)
                                return usage_error(ctx, "--timeout: %s", err.msg);
                        if (ms == 0)
                                return usage_error(ctx, "--timeout must be above zero (use --fast "
                                                        "to kill at once)");
                        if (ms > VS_STOP_TIMEOUT_MAX_MS)
                                return usage_error(ctx, "--timeout is at most 24h");
                        json_object_object_add(args, "timeout_ms",
                                               json_object_new_int64((int64_t)ms));
                }
        }
        return EXIT_OK;
}

static int cmd_stop_or_restart(struct ctx *ctx, int argc, char **argv, int stop)
{
        cleanup_strv char **names = NULL;
        json_object *args = json_object_new_object();
        size_t n = 0;
        int all = 0, rc = parse_stop_options(ctx, argc, argv, args, stop, &all);

        if (rc == EXIT_OK && all && optind < argc)
                rc = usage_error(ctx, "--all takes no NAME");
        else if (rc == EXIT_OK && all)
                rc = running_names(ctx, &names, &n);
        else if (rc == EXIT_OK)
                rc = take_names(ctx, argc, argv, 1, &names, &n);
        if (rc != EXIT_OK) {
                json_object_put(args);
                return rc;
        }
        return run_on_each(ctx, stop ? VS_CMD_STOP : VS_CMD_RESTART, names, n, args,
                           stop ? "stopped" : "restarted");
}

static int cmd_stop(struct ctx *ctx, int argc, char **argv)
{
        return cmd_stop_or_restart(ctx, argc, argv, 1);
}

static int cmd_restart(struct ctx *ctx, int argc, char **argv)
{
        return cmd_stop_or_restart(ctx, argc, argv, 0);
}

static int cmd_destroy(struct ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                { "force", no_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        cleanup_strv char **names = NULL;
        json_object *args = json_object_new_object();
        size_t n;
        int opt, bad = 0, rc;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "fh", opts, &bad)) != -1) {
                if (bad) {
                        json_object_put(args);
                        return bad;
                }
                if (opt == 'f')
                        json_object_object_add(args, "force", json_object_new_boolean(1));
        }
        /* exact names only: a pattern is too easy a way to lose VPS */
        if ((rc = take_names(ctx, argc, argv, 0, &names, &n)) != EXIT_OK) {
                json_object_put(args);
                return rc;
        }
        return run_on_each(ctx, VS_CMD_DESTROY, names, n, args, "destroyed");
}

/* ---- status / list ---- */

static void format_duration(long long seconds, char *buf, size_t size)
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

static void print_json(json_object *obj)
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
static int json_flag(struct ctx *ctx, int argc, char **argv, int *as_json)
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

/* "NAME exist running", or stopped with how it ended; OOM kills of the
 * current (or last) run are told in the same parentheses. */
static void status_line(const char *name, const char *state, const char *exit_text, long long oom,
                        const char *rates)
{
        char why[128] = "", oom_text[128] = "";

        if (oom > 0)
                snprintf(oom_text, sizeof(oom_text), "%lld OOM kill%s%s%s", oom,
                         oom == 1 ? "" : "s", *rates ? ", " : "", rates);
        else
                snprintf(oom_text, sizeof(oom_text), "%s", rates);
        if (state && strcmp(state, "stopped") != 0)
                state = "running";
        else if (exit_text && strncmp(exit_text, "code ", 5) == 0)
                snprintf(why, sizeof(why), "exit code %s", exit_text + 5);
        /* the kernel reports an init's reboot(POWER_OFF) in a pid namespace
         * as its death by SIGINT */
        else if (exit_text && strcmp(exit_text, "signal SIGINT") == 0)
                snprintf(why, sizeof(why), "powered off");
        else if (exit_text && strncmp(exit_text, "signal ", 7) == 0)
                snprintf(why, sizeof(why), "killed by %s", exit_text + 7);
        if (!state || strcmp(state, "running") != 0)
                state = "stopped";
        printf("%s exist %s", name, state);
        if (*why || *oom_text)
                printf(" (%s%s%s)", why, *why && *oom_text ? ", " : "", oom_text);
        printf("\n");
}

/* "rate-out 10M, rate-in 20M": the caps of a VPS that has any. */
static void rates_text(json_object *vps, char *buf, size_t size)
{
        long long out = vs_json_int(vps, "rate_out", 0), in = vs_json_int(vps, "rate_in", 0);
        char out_text[24], in_text[24];

        *buf = '\0';
        vs_rate_format(out > 0 ? (uint64_t)out : 0, out_text, sizeof(out_text));
        vs_rate_format(in > 0 ? (uint64_t)in : 0, in_text, sizeof(in_text));
        if (out > 0 && in > 0)
                snprintf(buf, size, "rate-out %s, rate-in %s", out_text, in_text);
        else if (out > 0)
                snprintf(buf, size, "rate-out %s", out_text);
        else if (in > 0)
                snprintf(buf, size, "rate-in %s", in_text);
}

/* A second line, only for a VPS with port forwards:
 * "  port forwards: 8080:80/tcp 5353:53/udp". */
static void print_forwards(json_object *array)
{
        size_t n = array && json_object_is_type(array, json_type_array)
                           ? json_object_array_length(array)
                           : 0;

        if (n == 0)
                return;
        printf("  port forwards:");
        for (size_t i = 0; i < n; i++)
                printf(" %s", json_object_get_string(json_object_array_get_idx(array, i)));
        printf("\n");
}

/* One VPS's status: its line, or with json_out, its object added there. */
static int status_one(struct ctx *ctx, json_object *json_out)
{
        cleanup_json json_object *reply = NULL;
        json_object *vps;
        vs_error_t err = { 0 };
        const char *state, *exit_text;
        char rates[80];

        if (call(ctx, VS_CMD_STATUS, ctx->name, NULL, &reply, NULL, NULL, NULL, &err) < 0) {
                if (err.kind == VS_E_NOTFOUND && !json_out)
                        printf("%s deleted\n", ctx->name);
                return err.kind == VS_E_NOTFOUND && !json_out ? EXIT_NOTFOUND : fail(ctx, &err);
        }
        vps = vs_json_object(reply, "vps");
        if (json_out) {
                json_object_array_add(json_out, json_object_get(vps));
                return EXIT_OK;
        }
        state = vs_json_str(vps, "state");
        exit_text = vs_json_str(vps, "exit");
        rates_text(vps, rates, sizeof(rates));
        if (vs_json_int(vps, "failcnt", 0) > 0) {
                char with_fail[128];

                snprintf(with_fail, sizeof(with_fail), "failcnt %lld%s%s",
                         vs_json_int(vps, "failcnt", 0), *rates ? ", " : "", rates);
                vs_strlcpy(rates, with_fail, sizeof(rates));
        }
        status_line(ctx->name, state, exit_text, vs_json_int(vps, "oom_kills", 0), rates);
        print_forwards(json_object_object_get(vps, "port_forward"));
        return EXIT_OK;
}

static int cmd_status(struct ctx *ctx, int argc, char **argv)
{
        cleanup_strv char **names = NULL;
        cleanup_json json_object *objects = NULL;
        size_t n;
        int rc, as_json = 0;

        if ((rc = json_flag(ctx, argc, argv, &as_json)) != EXIT_OK)
                return rc;
        if ((rc = take_names(ctx, argc, argv, 1, &names, &n)) != EXIT_OK)
                return rc;
        if (as_json)
                objects = json_object_new_array();
        rc = EXIT_OK;
        for (size_t i = 0; i < n; i++) {
                int one;

                ctx->name = names[i];
                one = status_one(ctx, objects);
                rc = rc == EXIT_OK ? one : rc;
        }
        fflush(stdout);
        if (as_json && rc == EXIT_OK)
                print_json(n == 1 ? json_object_array_get_idx(objects, 0) : objects);
        return rc;
}

/* numeric: right-aligned; size: bytes, shown 1024-based in the table
 * (raw in --json, for scripts) */
struct field {
        const char *name;
        const char *header;
        int numeric, size;
};

static const struct field list_fields[] = {
        { "name", "NAME", 0, 0 },
        { "state", "STATE", 0, 0 },
        { "pid", "PID", 1, 0 },
        { "nproc", "NPROC", 1, 0 },
        { "hostname", "HOSTNAME", 0, 0 },
        { "template", "TEMPLATE", 0, 0 },
        { "slice", "SLICE", 0, 0 },
        { "onboot", "ONBOOT", 0, 0 },
        { "bootorder", "BOOTORDER", 1, 0 },
        { "uptime", "UPTIME", 1, 0 },
        { "exit", "EXIT", 0, 0 },
        /* usage, as vsctl stats shows it */
        { "cpu_usec", "CPU_USEC", 1, 0 },
        { "cpu_pct", "CPU%", 1, 0 },
        { "throttled_usec", "THROTTLED_USEC", 1, 0 },
        { "mem_bytes", "MEM", 1, 1 },
        { "mem_peak", "MEM_PEAK", 1, 1 },
        { "swap_bytes", "SWAP", 1, 1 },
        { "io_read_bytes", "IO_READ", 1, 1 },
        { "io_write_bytes", "IO_WRITE", 1, 1 },
        { "io_read_ops", "IO_READ_OPS", 1, 0 },
        { "io_write_ops", "IO_WRITE_OPS", 1, 0 },
        { "oom_kills", "OOM_KILLS", 1, 0 },
        { "failcnt", "FAILCNT", 1, 0 },
        { "disk", "DISK", 1, 1 },
        { "disklimit", "DISKLIMIT", 1, 1 },
        { "ip", "IP", 0, 0 },
        { "rx_bytes", "RX_BYTES", 1, 1 },
        { "tx_bytes", "TX_BYTES", 1, 1 },
        { "rx_packets", "RX_PACKETS", 1, 0 },
        { "tx_packets", "TX_PACKETS", 1, 0 },
};
#define NFIELDS (sizeof(list_fields) / sizeof(list_fields[0]))
#define DEFAULT_FIELDS "name,state,pid,nproc,hostname,template"
#define COLUMNS_MAX 64

/* vzlist's names for the same figures. laverage: the kernel keeps no load
 * average per cgroup, so it is the CPU use since start, as cpu_pct. */
static const struct {
        const char *alias, *field;
} field_aliases[] = {
        { "ctid", "name" },           { "veid", "name" },           { "status", "state" },
        { "numproc", "nproc" },       { "ostemplate", "template" }, { "laverage", "cpu_pct" },
        { "physpages", "mem_bytes" }, { "mem", "mem_bytes" },       { "swappages", "swap_bytes" },
        { "diskspace", "disk" },      { "ip_address", "ip" },
};

/* A column as asked for: the field, and the name it was asked by (the key
 * in --json and, upper-cased, the header of an alias). */
struct column {
        const struct field *f;
        const char *key;
        char header[32];
};

static const struct field *field_named(const char *name, const char **key)
{
        for (size_t i = 0; i < NFIELDS; i++)
                if (strcmp(list_fields[i].name, name) == 0) {
                        *key = list_fields[i].name;
                        return &list_fields[i];
                }
        for (size_t a = 0; a < sizeof(field_aliases) / sizeof(field_aliases[0]); a++) {
                const char *ignored;

                if (strcmp(field_aliases[a].alias, name) == 0) {
                        *key = field_aliases[a].alias;
                        return field_named(field_aliases[a].field, &ignored);
                }
        }
        return NULL;
}

static int unknown_field(struct ctx *ctx, const char *name)
{
        return value_error(ctx, "unknown field '%.64s' (see: vsctl list --help)", name);
}

static int parse_fields(struct ctx *ctx, const char *text, struct column *out, size_t *n)
{
        cleanup_free char *copy = vs_xstrdup(text);
        char *save = NULL;

        *n = 0;
        for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
                struct column *c = &out[*n];
                const char *key;

                if (*n == COLUMNS_MAX)
                        return value_error(ctx, "too many fields (at most %d)", COLUMNS_MAX);
                c->f = field_named(f, &key);
                if (!c->f)
                        return unknown_field(ctx, f);
                c->key = key;
                if (strcmp(key, c->f->name) == 0) {
                        vs_strlcpy(c->header, c->f->header, sizeof(c->header));
                } else {
                        size_t i;

                        for (i = 0; key[i] && i + 1 < sizeof(c->header); i++)
                                c->header[i] =
                                        (char)(key[i] >= 'a' && key[i] <= 'z' ? key[i] - 'a' + 'A'
                                                                              : key[i]);
                        c->header[i] = '\0';
                }
                (*n)++;
        }
        if (*n == 0)
                return value_error(ctx, "no fields given to -o");
        return EXIT_OK;
}

static void format_size(uint64_t bytes, char *buf, size_t size);

/* Sizes in the table are 1024-based; 0 of a disk (no limit) is "-". */
static void format_disk(uint64_t bytes, char *buf, size_t size)
{
        if (bytes == 0)
                snprintf(buf, size, "-");
        else
                format_size(bytes, buf, size);
}

static void cell_text(json_object *vps, const struct field *f, char *buf, size_t size)
{
        json_object *value = json_object_object_get(vps, f->name);

        if (strcmp(f->name, "uptime") == 0) {
                long long secs = value ? json_object_get_int64(value) : 0;

                if (strcmp(vs_json_str(vps, "state") ? vs_json_str(vps, "state") : "", "stopped") ==
                    0)
                        snprintf(buf, size, "-");
                else
                        format_duration(secs, buf, size);
                return;
        }
        if (strncmp(f->name, "disk", 4) == 0) {
                format_disk(value ? (uint64_t)json_object_get_int64(value) : 0, buf, size);
                return;
        }
        if (f->size) {
                format_size(value ? (uint64_t)json_object_get_int64(value) : 0, buf, size);
                return;
        }
        if (strcmp(f->name, "pid") == 0 && value && json_object_get_int(value) == 0) {
                snprintf(buf, size, "-");
                return;
        }
        snprintf(buf, size, "%s", value ? json_object_get_string(value) : "");
        if (!buf[0])
                snprintf(buf, size, "-");
}

static void print_cell(const struct column *c, const char *text, int last, size_t width)
{
        if (last)
                printf("%s\n", text);
        else if (c->f->numeric)
                printf("%*s  ", (int)width, text);
        else
                printf("%-*s  ", (int)width, text);
}

static void print_table(json_object *rows, const struct column *cols, size_t ncols, int header)
{
        size_t nrows = json_object_array_length(rows);
        size_t width[COLUMNS_MAX] = { 0 };
        char cell[256];

        for (size_t f = 0; f < ncols; f++) {
                width[f] = header ? strlen(cols[f].header) : 0;
                for (size_t r = 0; r < nrows; r++) {
                        cell_text(json_object_array_get_idx(rows, r), cols[f].f, cell,
                                  sizeof(cell));
                        if (strlen(cell) > width[f])
                                width[f] = strlen(cell);
                }
        }
        for (size_t f = 0; header && f < ncols; f++)
                print_cell(&cols[f], cols[f].header, f + 1 == ncols, width[f]);
        for (size_t r = 0; r < nrows; r++) {
                for (size_t f = 0; f < ncols; f++) {
                        cell_text(json_object_array_get_idx(rows, r), cols[f].f, cell,
                                  sizeof(cell));
                        print_cell(&cols[f], cell, f + 1 == ncols, width[f]);
                }
        }
}

static json_object *select_fields(json_object *vps, const struct column *cols, size_t n)
{
        json_object *out = json_object_new_object();

        for (size_t f = 0; f < n; f++) {
                json_object *value = json_object_object_get(vps, cols[f].f->name);

                json_object_object_add(out, cols[f].key, value ? json_object_get(value) : NULL);
        }
        return out;
}

/* -s [-]FIELD: numbers by value, text by strcmp, ties by name. */
static const struct field *sort_field;
static int sort_reverse;

static int compare_rows(const void *a, const void *b)
{
        json_object *ra = *(json_object *const *)a, *rb = *(json_object *const *)b;
        json_object *va = json_object_object_get(ra, sort_field->name);
        json_object *vb = json_object_object_get(rb, sort_field->name);
        int c;

        if (json_object_is_type(va, json_type_int) && json_object_is_type(vb, json_type_int)) {
                int64_t x = json_object_get_int64(va), y = json_object_get_int64(vb);

                c = x < y ? -1 : x > y;
        } else {
                c = strcmp(va ? json_object_get_string(va) : "",
                           vb ? json_object_get_string(vb) : "");
        }
        if (c == 0)
                c = strcmp(vs_json_str(ra, "name") ?: "", vs_json_str(rb, "name") ?: "");
        return sort_reverse ? -c : c;
}

static void sort_rows(json_object *rows)
{
        size_t n = json_object_array_length(rows);
        cleanup_free json_object **items = vs_xmalloc((n + 1) * sizeof(*items));

        for (size_t i = 0; i < n; i++)
                items[i] = json_object_get(json_object_array_get_idx(rows, i));
        qsort(items, n, sizeof(*items), compare_rows);
        json_object_array_del_idx(rows, 0, n);
        for (size_t i = 0; i < n; i++)
                json_object_array_add(rows, items[i]);
}

static int parse_sort(struct ctx *ctx, const char *text)
{
        const char *key;

        sort_reverse = text[0] == '-';
        sort_field = field_named(text + sort_reverse, &key);
        return sort_field ? EXIT_OK : unknown_field(ctx, text + sort_reverse);
}

/* Which VPS a list shows: by state (-a all, -S stopped only, else running),
 * and by NAME operands (names or shell patterns), which select among all
 * states unless -S. */
struct list_filter {
        int all, stopped_only;
        char **patterns;
        int npatterns;
};

static int wanted(const struct list_filter *lf, json_object *vps)
{
        const char *state = vs_json_str(vps, "state") ?: "";
        const char *name = vs_json_str(vps, "name") ?: "";
        int stopped = strcmp(state, "stopped") == 0;

        if (lf->stopped_only && !stopped)
                return 0;
        if (lf->npatterns == 0)
                return lf->all || lf->stopped_only || !stopped;
        for (int i = 0; i < lf->npatterns; i++)
                if (fnmatch(lf->patterns[i], name, 0) == 0)
                        return 1;
        return 0;
}

/* A NAME operand without a pattern names a VPS that must exist. */
static int check_operands(struct ctx *ctx, const struct list_filter *lf, json_object *all)
{
        for (int i = 0; i < lf->npatterns; i++) {
                vs_error_t err = { 0 };
                size_t k, n = all ? json_object_array_length(all) : 0;

                if (has_glob(lf->patterns[i]))
                        continue;
                if (vs_parse_name(lf->patterns[i], "VPS name", &err) < 0)
                        return fail(ctx, &err);
                for (k = 0; k < n; k++)
                        if (strcmp(vs_json_str(json_object_array_get_idx(all, k), "name") ?: "",
                                   lf->patterns[i]) == 0)
                                break;
                if (k == n) {
                        ctx->name = lf->patterns[i];
                        vs_error_kind(&err, VS_E_NOTFOUND, ENOENT, "no such VPS");
                        return fail(ctx, &err);
                }
        }
        return EXIT_OK;
}

static int needs_disk(const struct column *cols, size_t n, int all_fields)
{
        if (all_fields || (sort_field && strncmp(sort_field->name, "disk", 4) == 0))
                return 1;
        for (size_t i = 0; i < n; i++)
                if (strncmp(cols[i].f->name, "disk", 4) == 0)
                        return 1;
        return 0;
}

/* The fields to ask vsd for: the ones shown, and those the filters and the
 * sort read (name, state). */
static json_object *wanted_fields(const struct column *cols, size_t n)
{
        json_object *names = json_object_new_array();
        const char *always[] = { "name", "state", sort_field ? sort_field->name : NULL };

        for (size_t i = 0; i < n; i++)
                json_object_array_add(names, json_object_new_string(cols[i].f->name));
        for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++) {
                size_t k;

                if (!always[i])
                        continue;
                for (k = 0; k < n && strcmp(cols[k].f->name, always[i]) != 0; k++)
                        ;
                if (k == n)
                        json_object_array_add(names, json_object_new_string(always[i]));
        }
        return names;
}

static int cmd_list(struct ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                { "all", no_argument, NULL, 'a' },
                { "output", required_argument, NULL, 'o' },
                { "no-header", no_argument, NULL, 'H' },
                { "json", no_argument, NULL, 'j' },
                { "stopped", no_argument, NULL, 'S' },
                { "name-only", no_argument, NULL, '1' },
                { "sort", required_argument, NULL, 's' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        cleanup_json json_object *reply = NULL;
        cleanup_json json_object *rows = json_object_new_array();
        struct column cols[COLUMNS_MAX];
        struct list_filter lf = { 0 };
        const char *field_text = NULL;
        json_object *all, *args = NULL;
        vs_error_t err = { 0 };
        size_t ncols;
        int opt, bad = 0, header = 1, as_json = 0, rc;

        reset_getopt();
        sort_field = NULL;
        while ((opt = next_opt(ctx, argc, argv, "ao:HjS1s:h", opts, &bad)) != -1) {
                if (bad)
                        return bad;
                lf.all |= opt == 'a';
                lf.stopped_only |= opt == 'S';
                header &= opt != 'H' && opt != '1';
                as_json |= opt == 'j';
                if (opt == 'o' || opt == '1')
                        field_text = opt == 'o' ? optarg : "name";
                if (opt == 's' && (rc = parse_sort(ctx, optarg)) != EXIT_OK)
                        return rc;
        }
        lf.patterns = argv + optind;
        lf.npatterns = argc - optind;
        rc = parse_fields(ctx, field_text ? field_text : DEFAULT_FIELDS, cols, &ncols);
        if (rc != EXIT_OK)
                return rc;
        args = json_object_new_object();
        /* disk usage costs vsd a walk of each VPS's files: only when asked */
        if (needs_disk(cols, ncols, as_json && !field_text))
                json_object_object_add(args, "disk", json_object_new_boolean(1));
        /* vsd reads and sends only what is shown (and the state, for -a) */
        if (!as_json || field_text)
                json_object_object_add(args, "fields", wanted_fields(cols, ncols));
        if (call(ctx, VS_CMD_LIST, NULL, args, &reply, NULL, NULL, NULL, &err) < 0)
                return fail(ctx, &err);
        all = vs_json_array(reply, "vps");
        if ((rc = check_operands(ctx, &lf, all)) != EXIT_OK)
                return rc;
        for (size_t i = 0; all && i < json_object_array_length(all); i++) {
                json_object *vps = json_object_array_get_idx(all, i);

                if (wanted(&lf, vps))
                        json_object_array_add(rows, json_object_get(vps));
        }
        if (sort_field)
                sort_rows(rows);
        if (as_json && field_text) {
                json_object *picked = json_object_new_array();

                for (size_t i = 0; i < json_object_array_length(rows); i++)
                        json_object_array_add(
                                picked,
                                select_fields(json_object_array_get_idx(rows, i), cols, ncols));
                print_json(picked);
                json_object_put(picked);
        } else if (as_json) {
                print_json(rows);
        } else {
                print_table(rows, cols, ncols, header);
        }
        return EXIT_OK;
}

/* ---- stats ---- */

static void format_size(uint64_t bytes, char *buf, size_t size);

static void print_stats(json_object *vps)
{
        char a[32], b[32];

        printf("cpu        %.2fs (%lld%% of one CPU since start)\n",
               (double)vs_json_int(vps, "cpu_usec", 0) / 1e6, vs_json_int(vps, "cpu_pct", 0));
        printf("throttled  %.2fs (%lld periods)\n",
               (double)vs_json_int(vps, "throttled_usec", 0) / 1e6,
               vs_json_int(vps, "nr_throttled", 0));
        format_size((uint64_t)vs_json_int(vps, "mem_bytes", 0), a, sizeof(a));
        format_size((uint64_t)vs_json_int(vps, "mem_peak", 0), b, sizeof(b));
        printf("memory     %s (peak %s)\n", a, b);
        format_size((uint64_t)vs_json_int(vps, "swap_bytes", 0), a, sizeof(a));
        printf("swap       %s\n", a);
        format_size((uint64_t)vs_json_int(vps, "io_read_bytes", 0), a, sizeof(a));
        printf("io read    %s in %lld ops\n", a, vs_json_int(vps, "io_read_ops", 0));
        format_size((uint64_t)vs_json_int(vps, "io_write_bytes", 0), a, sizeof(a));
        printf("io write   %s in %lld ops\n", a, vs_json_int(vps, "io_write_ops", 0));
        format_size((uint64_t)vs_json_int(vps, "rx_bytes", 0), a, sizeof(a));
        printf("net in     %s in %lld packets\n", a, vs_json_int(vps, "rx_packets", 0));
        format_size((uint64_t)vs_json_int(vps, "tx_bytes", 0), a, sizeof(a));
        printf("net out    %s in %lld packets\n", a, vs_json_int(vps, "tx_packets", 0));
        printf("processes  %lld\n", vs_json_int(vps, "nproc", 0));
        printf("oom kills  %lld\n", vs_json_int(vps, "oom_kills", 0));
}

static const char *const stats_keys[] = {
        "name",           "state",       "cpu_usec",     "cpu_pct",    "throttled_usec",
        "nr_throttled",   "mem_bytes",   "mem_peak",     "swap_bytes", "io_read_bytes",
        "io_write_bytes", "io_read_ops", "io_write_ops", "rx_bytes",   "tx_bytes",
        "rx_packets",     "tx_packets",  "nproc",        "oom_kills",
};

static int cmd_stats(struct ctx *ctx, int argc, char **argv)
{
        cleanup_json json_object *reply = NULL;
        cleanup_json json_object *out = json_object_new_object();
        json_object *vps;
        vs_error_t err = { 0 };
        int rc, as_json = 0;

        if ((rc = json_flag(ctx, argc, argv, &as_json)) != EXIT_OK)
                return rc;
        if ((rc = take_name(ctx, argc, argv, "VPS name")) != EXIT_OK)
                return rc;
        if (call(ctx, VS_CMD_STATUS, ctx->name, NULL, &reply, NULL, NULL, NULL, &err) < 0)
                return fail(ctx, &err);
        vps = vs_json_object(reply, "vps");
        if (!as_json) {
                print_stats(vps);
                return EXIT_OK;
        }
        for (size_t i = 0; i < sizeof(stats_keys) / sizeof(stats_keys[0]); i++) {
                json_object *value = json_object_object_get(vps, stats_keys[i]);

                json_object_object_add(out, stats_keys[i], value ? json_object_get(value) : NULL);
        }
        print_json(out);
        return EXIT_OK;
}

/* ---- node ---- */

static void cpu_text(long long micro, char *buf, size_t size)
{
        snprintf(buf, size, "%lld%%", micro / 10000);
}

static void print_node(json_object *r, const char *size_text)
{
        char a[32], b[32];

        format_size((uint64_t)vs_json_int(r, "memory_bytes", 0), a, sizeof(a));
        printf("capacity   %.2f CPUs, %s memory\n", (double)vs_json_int(r, "cpus_micro", 0) / 1e6,
               a);
        cpu_text(vs_json_int(r, "admissible_cpus_micro", 0), a, sizeof(a));
        format_size((uint64_t)vs_json_int(r, "admissible_memory_bytes", 0), b, sizeof(b));
        if (vs_json_int(r, "overbook_pct", 100) == 100)
                printf("policy     reserve (admits %s CPU, %s memory)\n", a, b);
        else
                printf("policy     overbook %.2f (admits %s CPU, %s memory)\n",
                       (double)vs_json_int(r, "overbook_pct", 100) / 100, a, b);
        cpu_text(vs_json_int(r, "reserved_cpus_micro", 0), a, sizeof(a));
        format_size((uint64_t)vs_json_int(r, "reserved_memory_bytes", 0), b, sizeof(b));
        printf("reserved   %s CPU, %s memory by %lld running VPS\n", a, b,
               vs_json_int(r, "running", 0));
        format_size((uint64_t)vs_json_int(r, "used_memory_bytes", 0), a, sizeof(a));
        printf("used       %s memory\n", a);
        if (json_object_object_get(r, "fits")) {
                long long fits = vs_json_int(r, "fits", 0);

                printf("fits       %lld more VPS of%s\n", fits, size_text);
        }
}

static int cmd_node(struct ctx *ctx, int argc, char **argv)
{
        struct option opts[4 + VS_LIM_COUNT] = {
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
        };
        cleanup_json json_object *reply = NULL;
        json_object *limits = json_object_new_object(), *args = json_object_new_object();
        char size_text[256] = "";
        vs_limits_t l = { 0 };
        vs_error_t err = { 0 };
        int opt, bad = 0, rc = EXIT_OK, as_json = 0;

        json_object_object_add(args, "limits", limits);
        add_limit_options(opts, 2);
        reset_getopt();
        while (rc == EXIT_OK && (opt = next_opt(ctx, argc, argv, "jh", opts, &bad)) != -1) {
                as_json |= opt == 'j';
                if (bad)
                        rc = bad;
                else if (opt == LIMIT_OPT + VS_LIM_CPU_RESERVE ||
                         opt == LIMIT_OPT + VS_LIM_RAM_RESERVE)
                        rc = take_limit(ctx, opt, &l, limits);
                else if (opt >= LIMIT_OPT)
                        rc = usage_error(ctx, "only --cpu-reserve and --ram-reserve size a VPS");
                if (rc == EXIT_OK && opt >= LIMIT_OPT)
                        snprintf(size_text + strlen(size_text),
                                 sizeof(size_text) - strlen(size_text), " --%s %s",
                                 vs_limit_option((vs_limit_t)(opt - LIMIT_OPT)), optarg);
        }
        if (rc == EXIT_OK && optind < argc)
                rc = usage_error(ctx, "unexpected argument '%s'", argv[optind]);
        if (rc != EXIT_OK) {
                json_object_put(args);
                return rc;
        }
        if (call(ctx, VS_CMD_NODE, NULL, args, &reply, NULL, NULL, NULL, &err) < 0)
                return fail(ctx, &err);
        json_object_object_del(reply, "version");
        json_object_object_del(reply, "ok");
        if (as_json)
                print_json(reply);
        else
                print_node(reply, size_text);
        return EXIT_OK;
}

/* ---- top ---- */

struct top_row {
        char name[64];
        uint64_t cpu_before, cpu_after;
        long long mem, nproc, io_read, io_write, rx, tx, oom;
};

static int fetch_rows(struct ctx *ctx, struct top_row **rows, size_t *n, vs_error_t *err)
{
        cleanup_json json_object *reply = NULL;
        json_object *all;

        static const char *const wanted[] = { "name",           "state",    "cpu_usec",
                                              "mem_bytes",      "nproc",    "io_read_bytes",
                                              "io_write_bytes", "rx_bytes", "tx_bytes",
                                              "oom_kills" };
        json_object *args = json_object_new_object(), *names = json_object_new_array();

        for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++)
                json_object_array_add(names, json_object_new_string(wanted[i]));
        json_object_object_add(args, "fields", names);
        if (call(ctx, VS_CMD_LIST, NULL, args, &reply, NULL, NULL, NULL, err) < 0)
                return -1;
        all = vs_json_array(reply, "vps");
        *n = 0;
        *rows = vs_xmalloc(((all ? json_object_array_length(all) : 0) + 1) * sizeof(**rows));
        for (size_t i = 0; all && i < json_object_array_length(all); i++) {
                json_object *vps = json_object_array_get_idx(all, i);
                struct top_row *r = &(*rows)[*n];
                const char *state = vs_json_str(vps, "state");
                const char *name = vs_json_str(vps, "name");

                if (!state || !name || strcmp(state, "stopped") == 0)
                        continue;
                vs_strlcpy(r->name, name, sizeof(r->name));
                r->cpu_after = (uint64_t)vs_json_int(vps, "cpu_usec", 0);
                r->mem = vs_json_int(vps, "mem_bytes", 0);
                r->nproc = vs_json_int(vps, "nproc", 0);
                r->io_read = vs_json_int(vps, "io_read_bytes", 0);
                r->io_write = vs_json_int(vps, "io_write_bytes", 0);
                r->rx = vs_json_int(vps, "rx_bytes", 0);
                r->tx = vs_json_int(vps, "tx_bytes", 0);
                r->oom = vs_json_int(vps, "oom_kills", 0);
                (*n)++;
        }
        return 0;
}

static double monotonic_seconds(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double top_elapsed; /* seconds between the two samples, for the sort */

static double row_pct(const struct top_row *r)
{
        uint64_t used = r->cpu_after > r->cpu_before ? r->cpu_after - r->cpu_before : 0;

        return top_elapsed > 0 ? (double)used / 1e4 / top_elapsed : 0;
}

static int cmp_cpu(const void *a, const void *b)
{
        double pa = row_pct(a), pb = row_pct(b);

        if (pa != pb)
                return pa < pb ? 1 : -1;
        return strcmp(((const struct top_row *)a)->name, ((const struct top_row *)b)->name);
}

static void print_top(struct top_row *rows, size_t n)
{
        qsort(rows, n, sizeof(*rows), cmp_cpu);
        printf("%-20s %6s %9s %6s %9s %9s %9s %9s %4s\n", "NAME", "CPU%", "MEM", "NPROC", "IO_READ",
               "IO_WRITE", "NET_IN", "NET_OUT", "OOM");
        for (size_t i = 0; i < n; i++) {
                char mem[32], rd[32], wr[32], rx[32], tx[32];

                format_size((uint64_t)rows[i].mem, mem, sizeof(mem));
                format_size((uint64_t)rows[i].io_read, rd, sizeof(rd));
                format_size((uint64_t)rows[i].io_write, wr, sizeof(wr));
                format_size((uint64_t)rows[i].rx, rx, sizeof(rx));
                format_size((uint64_t)rows[i].tx, tx, sizeof(tx));
                printf("%-20s %6.1f %9s %6lld %9s %9s %9s %9s %4lld\n", rows[i].name,
                       row_pct(&rows[i]), mem, rows[i].nproc, rd, wr, rx, tx, rows[i].oom);
        }
        fflush(stdout);
}

/* Two samples `delay` apart: the CPU% is of the interval, not since start. */
static int top_once(struct ctx *ctx, uint64_t delay_ms, int clear, vs_error_t *err)
{
        cleanup_free struct top_row *before = NULL;
        cleanup_free struct top_row *after = NULL;
        struct timespec pause = { (time_t)(delay_ms / 1000), (long)(delay_ms % 1000) * 1000000 };
        size_t nb, na;
        double t0, t1;

        t0 = monotonic_seconds();
        if (fetch_rows(ctx, &before, &nb, err) < 0)
                return -1;
        nanosleep(&pause, NULL);
        t1 = monotonic_seconds();
        if (fetch_rows(ctx, &after, &na, err) < 0)
                return -1;
        for (size_t i = 0; i < na; i++)
                for (size_t j = 0; j < nb; j++)
                        if (strcmp(after[i].name, before[j].name) == 0)
                                after[i].cpu_before = before[j].cpu_after;
        top_elapsed = t1 - t0;
        if (clear)
                printf("\033[H\033[J");
        print_top(after, na);
        return 0;
}

static int cmd_top(struct ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                { "once", no_argument, NULL, '1' },
                { "delay", required_argument, NULL, 'd' },
                { "iterations", required_argument, NULL, 'n' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        vs_error_t err = { 0 };
        uint64_t delay_ms = 1000, count = 0;
        int opt, bad = 0;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "1d:n:h", opts, &bad)) != -1) {
                if (bad)
                        return bad;
                if (opt == '1')
                        count = 1;
                if (opt == 'd' && (vs_parse_duration(optarg, &delay_ms, &err) < 0 ||
                                   delay_ms == 0 || delay_ms > 3600000))
                        return usage_error(ctx, "--delay: %s",
                                           err.msg[0] ? err.msg : "between 1ms and 1h");
                if (opt == 'n' &&
                    vs_parse_uint(optarg, 1, 1000000, "--iterations", &count, &err) < 0)
                        return usage_error(ctx, "%s", err.msg);
        }
        if (optind < argc)
                return usage_error(ctx, "unexpected argument '%s'", argv[optind]);
        /* without --once or -n: until interrupted, like top */
        for (uint64_t i = 0; count == 0 || i < count; i++)
                if (top_once(ctx, delay_ms, count != 1 && isatty(STDOUT_FILENO), &err) < 0)
                        return fail(ctx, &err);
        return EXIT_OK;
}

/* ---- metrics ---- */

static int cmd_metrics(struct ctx *ctx, int argc, char **argv)
{
        cleanup_json json_object *reply = NULL;
        vs_error_t err = { 0 };
        const char *text;
        int opt, bad = 0;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "h", no_options, &bad)) != -1)
                if (bad)
                        return bad;
        if (optind < argc)
                return usage_error(ctx, "unexpected argument '%s'", argv[optind]);
        if (call(ctx, VS_CMD_METRICS, NULL, NULL, &reply, NULL, NULL, NULL, &err) < 0)
                return fail(ctx, &err);
        text = vs_json_str(reply, "text");
        fputs(text ? text : "", stdout);
        return EXIT_OK;
}

/* ---- backup / restore ---- */

static int write_all(int fd, const char *buf, size_t len);
static int read_exit(int sock, int *status, vs_error_t *err);

/* Copies the backup vsd's tar writes to `to`; 0 when all of it arrived. */
static int copy_stream(int from, int to)
{
        char buf[65536];

        for (;;) {
                ssize_t n = read(from, buf, sizeof(buf));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -1;
                if (n == 0)
                        return 0;
                if (write_all(to, buf, (size_t)n) < 0)
                        return -1;
        }
}

static int cmd_backup(struct ctx *ctx, int argc, char **argv)
{
        cleanup_json json_object *reply = NULL;
        cleanup_close int sock = -1;
        cleanup_free char *partial = NULL;
        const char *file;
        vs_error_t err = { 0 };
        int fds[VS_MSG_FDS_MAX], nfds = 0, status = 0, out = STDOUT_FILENO, opt, bad = 0, ok;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "h", no_options, &bad)) != -1)
                if (bad)
                        return bad;
        if (optind + 2 > argc)
                return usage_error(ctx, optind >= argc ? "VPS name is missing"
                                                       : "FILE is missing (- for stdout)");
        if (optind + 2 < argc)
                return usage_error(ctx, "unexpected argument '%s'", argv[optind + 2]);
        ctx->name = argv[optind];
        file = argv[optind + 1];
        if (vs_parse_name(ctx->name, "VPS name", &err) < 0)
                return fail(ctx, &err);
        if (strcmp(file, "-") == 0 && isatty(STDOUT_FILENO))
                return value_error(ctx, "will not write a backup to a terminal");
        if (call(ctx, VS_CMD_BACKUP, ctx->name, NULL, &reply, fds, &nfds, &sock, &err) < 0)
                return fail(ctx, &err);
        if (nfds != 1) {
                vs_error_set(&err, EPROTO, "vsd sent no backup stream");
                return fail(ctx, &err);
        }
        /* a file appears whole or not at all */
        if (strcmp(file, "-") != 0) {
                partial = vs_strdupf("%s.partial", file);
                out = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (out < 0) {
                        close(fds[0]);
                        return value_error(ctx, "%s: %s", partial, strerror(errno));
                }
        }
        ok = copy_stream(fds[0], out) == 0;
        close(fds[0]);
        if (read_exit(sock, &status, &err) < 0)
                ok = 0;
        else if (status != 0)
                ok = !vs_error_set(&err, EIO, "tar failed writing the backup (exit %d)", status);
        if (partial) {
                ok = ok && fsync(out) == 0 && close(out) == 0 && rename(partial, file) == 0;
                if (!ok)
                        unlink(partial);
        }
        if (!ok) {
                if (!err.msg[0])
                        vs_error_errno(&err, "write %s", file);
                return fail(ctx, &err);
        }
        return EXIT_OK;
}

static int cmd_restore(struct ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                { "keep-ip", no_argument, NULL, 'k' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        cleanup_json json_object *reply = NULL;
        cleanup_free char *path = NULL;
        json_object *args;
        vs_error_t err = { 0 };
        int opt, bad = 0, keep_ip = 0;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "h", opts, &bad)) != -1) {
                if (bad)
                        return bad;
                keep_ip |= opt == 'k';
        }
        if (optind >= argc)
                return usage_error(ctx, "FILE is missing");
        if (optind + 2 < argc)
                return usage_error(ctx, "unexpected argument '%s'", argv[optind + 2]);
        if (optind + 1 < argc) {
                ctx->name = argv[optind + 1];
                if (vs_parse_name(ctx->name, "VPS name", &err) < 0)
                        return fail(ctx, &err);
        }
        /* vsd reads the file: a path that does not depend on our cwd */
        path = realpath(argv[optind], NULL);
        if (!path) {
                vs_error_kind(&err, errno == ENOENT ? VS_E_NOTFOUND : VS_E_USAGE, errno, "%s: %s",
                              argv[optind], strerror(errno));
                return fail(ctx, &err);
        }
        args = json_object_new_object();
        json_object_object_add(args, "file", json_object_new_string(path));
        if (ctx->name)
                json_object_object_add(args, "new", json_object_new_string(ctx->name));
        if (keep_ip)
                json_object_object_add(args, "keep_ip", json_object_new_boolean(1));
        if (call(ctx, VS_CMD_RESTORE, NULL, args, &reply, NULL, NULL, NULL, &err) < 0)
                return fail(ctx, &err);
        printf("%s restored\n", vs_json_str(reply, "name") ?: "?");
        return EXIT_OK;
}

/* ---- events ---- */

/* "2026-12-02T17:10:00Z stopped web1 (powered off)": one line an event. */
static void print_event(json_object *event)
{
        const char *type = vs_json_str(event, "type") ?: "?";
        const char *exit_how = vs_json_str(event, "exit");
        json_object *time_obj = json_object_object_get(event, "time");
        time_t when = (time_t)(time_obj ? json_object_get_double(time_obj) : 0);
        char stamp[32], why[160] = "";
        struct tm tm;

        gmtime_r(&when, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (strcmp(type, "stopped") == 0 && exit_how && strcmp(exit_how, "code") == 0)
                snprintf(why, sizeof(why), " (exit code %lld)", vs_json_int(event, "exit_code", 0));
        else if (strcmp(type, "stopped") == 0 && exit_how && strcmp(exit_how, "SIGINT") == 0)
                snprintf(why, sizeof(why), " (powered off)"); /* see status_line */
        else if (strcmp(type, "stopped") == 0 && exit_how && strcmp(exit_how, "unknown") != 0)
                snprintf(why, sizeof(why), " (killed by %s)", exit_how);
        else if (strcmp(type, "started") == 0)
                snprintf(why, sizeof(why), " (pid %lld)", vs_json_int(event, "pid", 0));
        else if (vs_json_str(event, "error"))
                snprintf(why, sizeof(why), ": %s", vs_json_str(event, "error"));
        else if (json_object_object_get(event, "limits"))
                snprintf(why, sizeof(why), " %s",
                         json_object_to_json_string_ext(json_object_object_get(event, "limits"),
                                                        JSON_C_TO_STRING_PLAIN));
        printf("%s %s %s%s\n", stamp, type, vs_json_str(event, "vps") ?: "?", why);
}

static int cmd_events(struct ctx *ctx, int argc, char **argv)
{
        cleanup_json json_object *reply = NULL;
        cleanup_close int sock = -1;
        vs_error_t err = { 0 };
        int rc, as_json = 0;

        if ((rc = json_flag(ctx, argc, argv, &as_json)) != EXIT_OK)
                return rc;
        if (optind < argc)
                return usage_error(ctx, "unexpected argument '%s'", argv[optind]);
        if (call(ctx, VS_CMD_EVENTS, NULL, NULL, &reply, NULL, NULL, &sock, &err) < 0)
                return fail(ctx, &err);
        for (;;) {
                cleanup_json json_object *msg = NULL;
                json_object *event;

                if (vs_msg_recv(sock, &msg, NULL, NULL, &err) < 0 || !msg) {
                        if (!err.msg[0])
                                dropped(&err, "(vsd stopped)");
                        return fail(ctx, &err);
                }
                event = json_object_object_get(msg, "event");
                if (!event)
                        continue;
                if (as_json)
                        printf("%s\n", json_object_to_json_string_ext(
                                               event, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE));
                else
                        print_event(event);
                fflush(stdout);
        }
}

/* ---- exec / enter ---- */

static int write_all(int fd, const char *buf, size_t len)
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
static int pump(int from, int to)
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

static int read_exit(int sock, int *status, vs_error_t *err)
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

/* Feeds our stdin to the command without ever blocking on it: the command
 * may be busy writing output that only we can drain. */
struct feeder {
        int to; /* non-blocking; -1 once closed */
        int eof;
        size_t len, off;
        char buf[65536];
};

static void feeder_init(struct feeder *f, int to)
{
        f->to = to;
        f->eof = 0;
        f->len = f->off = 0;
        fcntl(to, F_SETFL, fcntl(to, F_GETFL) | O_NONBLOCK);
}

/* The poll entries for our stdin (read when the buffer is empty) and for
 * the command's input (write while the buffer holds data). */
static void feeder_poll(const struct feeder *f, struct pollfd *in, struct pollfd *out)
{
        *in = (struct pollfd){ !f->eof && f->len == 0 ? STDIN_FILENO : -1, POLLIN, 0 };
        *out = (struct pollfd){ f->len > 0 ? f->to : -1, POLLOUT, 0 };
}

static void feeder_close(struct feeder *f, int close_to)
{
        f->eof = 1;
        f->len = 0;
        if (close_to && f->to >= 0) {
                close(f->to);
                f->to = -1;
        }
}

/* With close_to, the command sees end of input when ours ends (a pipe); a
 * pty stays open, as a terminal does. */
static void feeder_step(struct feeder *f, const struct pollfd *in, const struct pollfd *out,
                        int close_to)
{
        if (in->revents) {
                ssize_t n = read(STDIN_FILENO, f->buf, sizeof(f->buf));

                if (n > 0) {
                        f->len = (size_t)n;
                        f->off = 0;
                } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                        feeder_close(f, close_to);
                }
        }
        if (out->revents && f->len > 0) {
                ssize_t n = write(f->to, f->buf + f->off, f->len - f->off);

                if (n > 0) {
                        f->off += (size_t)n;
                        if (f->off == f->len)
                                f->len = f->off = 0;
                } else if (n < 0 && errno != EINTR && errno != EAGAIN) {
                        feeder_close(f, close_to); /* the command stopped reading */
                }
        }
}

/* Copies what is already in `from` to `to` without waiting for more: once
 * the command has exited, everything it wrote is in the pipe, and what a
 * background child writes later is not the command's output. */
static void drain(int from, int to)
{
        char buf[65536];

        fcntl(from, F_SETFL, fcntl(from, F_GETFL) | O_NONBLOCK);
        for (;;) {
                ssize_t n = read(from, buf, sizeof(buf));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0 || write_all(to, buf, (size_t)n) < 0)
                        return; /* end, EAGAIN (nothing more), or our output is gone */
        }
}

/* A pty hands the command's last output to the master side asynchronously:
 * after the exit, read until the terminal closes or stays quiet for
 * PTY_QUIET_MS (a background child may keep it open for ever). */
#define PTY_QUIET_MS 250

static void drain_pty(int master)
{
        for (;;) {
                struct pollfd p = { master, POLLIN, 0 };
                int n = poll(&p, 1, PTY_QUIET_MS);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0 || !pump(master, STDOUT_FILENO))
                        return;
        }
}

/* Relays stdin to the command's stdin pipe and its stdout and stderr pipes
 * to ours, until vsd reports the exit (or both pipes end first). */
static int relay_pipes(int sock, int fds[3], int *status, vs_error_t *err)
{
        static struct feeder feed;
        int out_open = 1, err_open = 1;

        signal(SIGPIPE, SIG_IGN);
        feeder_init(&feed, fds[0]);
        fds[0] = -1; /* the feeder owns it */
        for (;;) {
                struct pollfd p[5] = {
                        [2] = { out_open ? fds[1] : -1, POLLIN, 0 },
                        [3] = { err_open ? fds[2] : -1, POLLIN, 0 },
                        [4] = { sock, POLLIN, 0 },
                };

                feeder_poll(&feed, &p[0], &p[1]);
                if (poll(p, 5, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return vs_error_errno(err, "poll");
                }
                feeder_step(&feed, &p[0], &p[1], 1);
                if (p[2].revents && !pump(fds[1], STDOUT_FILENO))
                        out_open = 0;
                if (p[3].revents && !pump(fds[2], STDERR_FILENO))
                        err_open = 0;
                if (p[4].revents)
                        break;
        }
        feeder_close(&feed, 1);
        if (read_exit(sock, status, err) < 0)
                return -1;
        if (out_open)
                drain(fds[1], STDOUT_FILENO);
        if (err_open)
                drain(fds[2], STDERR_FILENO);
        return 0;
}

static struct termios saved_termios;
static int termios_saved;

static void restore_terminal(void)
{
        if (termios_saved)
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_termios);
}

static void raw_terminal(void)
{
        struct termios raw;

        if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_termios) < 0)
                return;
        termios_saved = 1;
        atexit(restore_terminal);
        raw = saved_termios;
        cfmakeraw(&raw);
        tcsetattr(STDIN_FILENO, TCSANOW, &raw); /* keep what was typed ahead */
}

static void copy_window_size(int master)
{
        struct winsize ws;

        if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
                ioctl(master, TIOCSWINSZ, &ws);
}

/* Relays our terminal to the pty master; Ctrl-C travels as a byte and the
 * VPS's own line discipline makes it a SIGINT there. Ends when vsd reports
 * the exit of the shell or command. */
static int relay_pty(int sock, int master, int *status, vs_error_t *err)
{
        static struct feeder feed;
        cleanup_close int winch = -1;
        sigset_t mask;
        int out_open = 1;

        sigemptyset(&mask);
        sigaddset(&mask, SIGWINCH);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        winch = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        raw_terminal();
        feeder_init(&feed, master);
        for (;;) {
                struct pollfd p[5] = {
                        [2] = { out_open ? master : -1, POLLIN, 0 },
                        [3] = { winch, POLLIN, 0 },
                        [4] = { sock, POLLIN, 0 },
                };

                feeder_poll(&feed, &p[0], &p[1]);
                if (poll(p, 5, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return vs_error_errno(err, "poll");
                }
                if (p[3].revents) {
                        struct signalfd_siginfo si;

                        while (read(winch, &si, sizeof(si)) > 0)
                                ;
                        copy_window_size(master);
                }
                feeder_step(&feed, &p[0], &p[1], 0);
                if (p[2].revents && !pump(master, STDOUT_FILENO))
                        out_open = 0;
                if (p[4].revents)
                        break;
        }
        if (out_open)
                drain_pty(master);
        restore_terminal();
        return read_exit(sock, status, err);
}

static json_object *exec_args(int argc, char **argv, int use_tty)
{
        json_object *args = json_object_new_object();
        json_object *cmd = json_object_new_array();
        struct winsize ws;
        const char *term = getenv("TERM");

        for (int i = 0; i < argc; i++)
                json_object_array_add(cmd, json_object_new_string(argv[i]));
        json_object_object_add(args, "argv", cmd);
        json_object_object_add(args, "tty", json_object_new_boolean(use_tty));
        if (use_tty && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
                json_object_object_add(args, "rows", json_object_new_int(ws.ws_row));
                json_object_object_add(args, "cols", json_object_new_int(ws.ws_col));
        }
        /* vsd takes a terminal type it can pass on safely; else its default */
        if (use_tty && term && vs_term_check(term, NULL) == 0)
                json_object_object_add(args, "term", json_object_new_string(term));
        return args;
}

static int run_in_vps(struct ctx *ctx, int argc, char **argv, int use_tty)
{
        cleanup_json json_object *reply = NULL;
        cleanup_close int sock = -1;
        vs_error_t err = { 0 };
        int fds[VS_MSG_FDS_MAX], nfds = 0, status = 255, rc;

        rc = call(ctx, VS_CMD_EXEC, ctx->name, exec_args(argc, argv, use_tty), &reply, fds, &nfds,
                  &sock, &err);
        if (rc < 0) {
                long long code = vs_json_int(reply, "exit", -1);

                fail(ctx, &err);
                return code >= 0 ? (int)code : exit_code_for(&err);
        }
        if (nfds != (use_tty ? 1 : 3)) {
                vs_error_kind(&err, VS_E_INTERNAL, EPROTO, "vsd sent %d fds", nfds);
                return fail(ctx, &err);
        }
        rc = use_tty ? relay_pty(sock, fds[0], &status, &err)
                     : relay_pipes(sock, fds, &status, &err);
        for (int i = 0; i < nfds; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        if (rc < 0)
                return fail(ctx, &err);
        return status;
}

/* Options of exec may stand before or after NAME; everything after "--", or
 * from the first word that is not an option, is the command and its own. */
static int exec_option(struct ctx *ctx, const char *arg, int *use_tty)
{
        const struct command *c = find_command("exec");

        if (strcmp(arg, "-t") == 0 || strcmp(arg, "--tty") == 0) {
                *use_tty = 1;
                return EXIT_OK;
        }
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
                printf("Usage: vsctl %s\n\n%s", c->synopsis, c->help);
                return -1;
        }
        return usage_error(ctx, "option '%s' is unknown", arg);
}

static int cmd_exec(struct ctx *ctx, int argc, char **argv)
{
        vs_error_t err = { 0 };
        int use_tty = 0, i = 1, rc;

        for (; i < argc; i++) {
                if (strcmp(argv[i], "--") == 0) {
                        i++;
                        break;
                }
                if (argv[i][0] != '-') {
                        if (ctx->name)
                                break; /* the command, without "--" */
                        ctx->name = argv[i];
                        continue;
                }
                if ((rc = exec_option(ctx, argv[i], &use_tty)) != EXIT_OK)
                        return rc < 0 ? EXIT_OK : rc;
        }
        if (!ctx->name)
                return usage_error(ctx, "VPS name is missing");
        if (vs_parse_name(ctx->name, "VPS name", &err) < 0)
                return fail(ctx, &err);
        if (i >= argc)
                return usage_error(ctx, "no command given (vsctl exec NAME -- CMD ARGS...)");
        return run_in_vps(ctx, argc - i, argv + i, use_tty);
}

static int cmd_enter(struct ctx *ctx, int argc, char **argv)
{
        char *shell[] = { "/bin/sh", "-l" };
        int rc = parse_name_only(ctx, argc, argv);

        if (rc != EXIT_OK)
                return rc;
        return run_in_vps(ctx, 2, shell, 1);
}

/* ---- logs ---- */

/* OpenVZ's /proc/user_beancounters of the VPS, or --json. */
static int cmd_beancounters(struct ctx *ctx, int argc, char **argv)
{
        cleanup_json json_object *reply = NULL;
        json_object *list;
        vs_error_t err = { 0 };
        int rc, as_json = 0;
        char uid[24];

        if ((rc = json_flag(ctx, argc, argv, &as_json)) != EXIT_OK)
                return rc;
        if ((rc = take_name(ctx, argc, argv, "VPS name")) != EXIT_OK)
                return rc;
        if (call(ctx, VS_CMD_BEANCOUNTERS, ctx->name, NULL, &reply, NULL, NULL, NULL, &err) < 0)
                return fail(ctx, &err);
        list = json_object_object_get(reply, "beancounters");
        if (as_json) {
                print_json(list);
                return EXIT_OK;
        }
        snprintf(uid, sizeof(uid), "%lld", vs_json_int(reply, "uid", 0));
        printf("%10s  %-12s %20s %20s %20s %20s %20s\n", "uid", "resource", "held", "maxheld",
               "barrier", "limit", "failcnt");
        for (size_t i = 0; list && i < json_object_array_length(list); i++) {
                json_object *r = json_object_array_get_idx(list, i);

                printf("%10s%c %-12s %20lld %20lld %20lld %20lld %20lld\n", i == 0 ? uid : "",
                       i == 0 ? ':' : ' ', vs_json_str(r, "resource"), vs_json_int(r, "held", 0),
                       vs_json_int(r, "maxheld", 0), vs_json_int(r, "barrier", 0),
                       vs_json_int(r, "limit", 0), vs_json_int(r, "failcnt", 0));
        }
        return EXIT_OK;
}

static int cmd_logs(struct ctx *ctx, int argc, char **argv)
{
        cleanup_json json_object *reply = NULL;
        vs_error_t err = { 0 };
        int fds[VS_MSG_FDS_MAX], nfds = 0;
        int rc = parse_name_only(ctx, argc, argv);

        if (rc != EXIT_OK)
                return rc;
        if (call(ctx, VS_CMD_LOGS, ctx->name, NULL, &reply, fds, &nfds, NULL, &err) < 0)
                return fail(ctx, &err);
        for (int i = 0; i < nfds; i++) {
                while (pump(fds[i], STDOUT_FILENO))
                        ;
                close(fds[i]);
        }
        return EXIT_OK;
}

/* ---- console ---- */

#define CONSOLE_ESCAPE 0x1d /* Ctrl-], as telnet's and virsh console's */

/* Copies our stdin to the console until the escape; returns 0 at the
 * escape or when our input ends. */
static int console_input(int sock)
{
        char buf[4096];
        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
        char *esc;

        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return 1;
        if (n <= 0)
                return 0;
        esc = memchr(buf, CONSOLE_ESCAPE, (size_t)n);
        if (write_all(sock, buf, esc ? (size_t)(esc - buf) : (size_t)n) < 0)
                return 0;
        return esc == NULL;
}

/* Relays our terminal to the VPS's console (its keeper's socket) until
 * the escape, our input's end or the console's (the VPS stopped). */
static void relay_console(int sock)
{
        raw_terminal();
        for (;;) {
                struct pollfd p[2] = { { STDIN_FILENO, POLLIN, 0 }, { sock, POLLIN, 0 } };

                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[1].revents && !pump(sock, STDOUT_FILENO))
                        break;
                if (p[0].revents && !console_input(sock))
                        break;
        }
        restore_terminal();
}

static int cmd_console(struct ctx *ctx, int argc, char **argv)
{
        cleanup_json json_object *reply = NULL;
        vs_error_t err = { 0 };
        int fds[VS_MSG_FDS_MAX], nfds = 0;
        int rc = parse_name_only(ctx, argc, argv);

        if (rc != EXIT_OK)
                return rc;
        if (call(ctx, VS_CMD_CONSOLE, ctx->name, NULL, &reply, fds, &nfds, NULL, &err) < 0)
                return fail(ctx, &err);
        if (nfds != 1) {
                vs_error_kind(&err, VS_E_INTERNAL, EPROTO, "vsd sent %d fds", nfds);
                return fail(ctx, &err);
        }
        signal(SIGPIPE, SIG_IGN);
        fprintf(stderr, "Connected to the console of %s. Type Ctrl-] to detach.\r\n", ctx->name);
        relay_console(fds[0]);
        close(fds[0]);
        fprintf(stderr, "\r\nDetached from the console of %s.\n", ctx->name);
        return EXIT_OK;
}

/* ---- templates ---- */

static void format_size(uint64_t bytes, char *buf, size_t size)
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

/* A builder's output, as vsd hands it over: on a terminal each line
 * replaces the last (a progress display), otherwise plain lines. */
static void show_progress(int fd)
{
        int tty = isatty(STDOUT_FILENO);
        char buf[4096], line[256];
        size_t used = 0;
        ssize_t n;

        if (!tty) {
                while (pump(fd, STDOUT_FILENO))
                        ;
                return;
        }
        while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
                for (ssize_t i = 0; i < n; i++) {
                        if (buf[i] != '\n' && used + 1 < sizeof(line)) {
                                line[used++] = buf[i];
                                continue;
                        }
                        if (buf[i] != '\n')
                                continue;
                        line[used] = '\0';
                        printf("\r\033[K%.*s", 78, line);
                        fflush(stdout);
                        used = 0;
                }
        }
        printf("\r\033[K");
        fflush(stdout);
}

static int build_with_progress(struct ctx *ctx, const char *name, json_object *args)
{
        cleanup_json json_object *reply = NULL;
        cleanup_close int sock = -1;
        vs_error_t err = { 0 };
        int fds[VS_MSG_FDS_MAX], nfds = 0, status = 0;

        if (call(ctx, VS_CMD_TEMPLATE_BUILD, name, args, &reply, fds, &nfds, &sock, &err) < 0)
                return fail(ctx, &err);
        if (!vs_json_bool(reply, "progress"))
                return EXIT_OK; /* built already */
        for (int i = 0; i < nfds; i++) {
                if (i == 0)
                        show_progress(fds[i]);
                close(fds[i]);
        }
        if (read_exit(sock, &status, &err) < 0)
                return fail(ctx, &err);
        return EXIT_OK;
}

static int template_build(struct ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                { "suite", required_argument, NULL, 's' },
                { "include", required_argument, NULL, 'i' },
                { "debs", required_argument, NULL, 'd' },
                { "mirror", required_argument, NULL, 'm' },
                { "variant", required_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        const char *suite = NULL, *include = NULL, *mirror = NULL, *variant = NULL, *builder, *name;
        /* debootstrap's downloads go where ours would: vsd runs without
         * our environment, so the request carries it */
        const char *proxy = getenv("http_proxy");
        cleanup_free char *debs = NULL;
        json_object *args;
        vs_error_t err = { 0 };
        int opt, bad = 0;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "h", opts, &bad)) != -1) {
                if (bad)
                        return bad;
                if (opt == 's')
                        suite = optarg;
                else if (opt == 'i')
                        include = optarg;
                else if (opt == 'm')
                        mirror = optarg;
                else if (opt == 'v')
                        variant = optarg;
                else if (opt == 'd' && !(debs = realpath(optarg, NULL)))
                        return usage_error(ctx, "--debs %s: %s", optarg, strerror(errno));
        }
        if (optind >= argc || optind + 2 < argc)
                return usage_error(ctx,
                                   optind >= argc ? "builder is missing (available: busybox, "
                                                    "debian)"
                                                  : "unexpected argument '%s'",
                                   optind < argc ? argv[optind + 2] : "");
        builder = argv[optind];
        name = optind + 1 < argc ? argv[optind + 1] : builder;
        ctx->name = name;
        if (strcmp(builder, "busybox") != 0 && strcmp(builder, "debian") != 0)
                return usage_error(ctx, "unknown builder '%s' (available: busybox, debian)",
                                   builder);
        if ((suite || include || debs || mirror || variant) && strcmp(builder, "debian") != 0)
                return usage_error(ctx, "--suite, --include, --mirror, --variant and --debs are "
                                        "for the debian builder");
        if (!proxy || !*proxy)
                proxy = getenv("HTTP_PROXY");
        if (strcmp(builder, "debian") != 0 || (proxy && !*proxy))
                proxy = NULL;
        if (vs_parse_name(name, "template name", &err) < 0 ||
            (strcmp(builder, "debian") == 0 &&
             (vs_template_debian_check(suite ? suite : "bookworm", include, &err) < 0 ||
              (variant && vs_template_debian_check_variant(variant, &err) < 0) ||
              (mirror && vs_archive_check_url(mirror, "--mirror", 1, &err) < 0) ||
              (proxy && vs_archive_check_url(proxy, "http_proxy", 0, &err) < 0))))
                return fail(ctx, &err);
        args = json_object_new_object();
        json_object_object_add(args, "builder", json_object_new_string(builder));
        if (suite)
                json_object_object_add(args, "suite", json_object_new_string(suite));
        if (include)
                json_object_object_add(args, "include", json_object_new_string(include));
        if (debs)
                json_object_object_add(args, "debs", json_object_new_string(debs));
        if (mirror)
                json_object_object_add(args, "mirror", json_object_new_string(mirror));
        if (variant)
                json_object_object_add(args, "variant", json_object_new_string(variant));
        if (proxy)
                json_object_object_add(args, "http_proxy", json_object_new_string(proxy));
        return build_with_progress(ctx, name, args);
}

static int template_import(struct ctx *ctx, int argc, char **argv)
{
        cleanup_free char *path = NULL;
        json_object *args;
        vs_error_t err = { 0 };
        int opt, bad = 0;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "h", no_options, &bad)) != -1)
                if (bad)
                        return bad;
        if (optind + 2 > argc)
                return usage_error(ctx, optind >= argc ? "template name is missing"
                                                       : "the archive is missing");
        if (optind + 2 < argc)
                return usage_error(ctx, "unexpected argument '%s'", argv[optind + 2]);
        ctx->name = argv[optind];
        if (vs_parse_name(ctx->name, "template name", &err) < 0 ||
            vs_template_archive_ok(argv[optind + 1], &err) < 0)
                return fail(ctx, &err);
        /* vsd reads the file: it needs a path that does not depend on our cwd */
        path = realpath(argv[optind + 1], NULL);
        if (!path)
                return usage_error(ctx, "%s: %s", argv[optind + 1], strerror(errno));
        args = json_object_new_object();
        json_object_object_add(args, "file", json_object_new_string(path));
        return simple_call(ctx, VS_CMD_TEMPLATE_IMPORT, ctx->name, args);
}

static int template_unify(struct ctx *ctx, int argc, char **argv)
{
        cleanup_json json_object *reply = NULL;
        vs_error_t err = { 0 };
        int rc, as_json = 0;
        char saved[32];

        if ((rc = json_flag(ctx, argc, argv, &as_json)) != EXIT_OK)
                return rc;
        if (optind < argc)
                return usage_error(ctx, "unexpected argument '%s'", argv[optind]);
        if (call(ctx, VS_CMD_TEMPLATE_UNIFY, NULL, NULL, &reply, NULL, NULL, NULL, &err) < 0)
                return fail(ctx, &err);
        if (as_json) {
                json_object_object_del(reply, "ok");
                json_object_object_del(reply, "version");
                print_json(reply);
                return EXIT_OK;
        }
        format_size((uint64_t)vs_json_int(reply, "bytes_saved", 0), saved, sizeof(saved));
        printf("%lld of %lld files linked, %s saved (%lld bytes)\n",
               vs_json_int(reply, "linked", 0), vs_json_int(reply, "files", 0), saved,
               vs_json_int(reply, "bytes_saved", 0));
        if (vs_json_int(reply, "errors", 0))
                printf("%lld files could not be linked and were left as they were\n",
                       vs_json_int(reply, "errors", 0));
        return EXIT_OK;
}

static int template_list(struct ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                { "json", no_argument, NULL, 'j' },
                { "no-header", no_argument, NULL, 'H' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        cleanup_json json_object *reply = NULL;
        json_object *list;
        vs_error_t err = { 0 };
        int opt, bad = 0, as_json = 0, header = 1;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "jHh", opts, &bad)) != -1) {
                if (bad)
                        return bad;
                as_json |= opt == 'j';
                header &= opt != 'H';
        }
        if (optind < argc)
                return usage_error(ctx, "unexpected argument '%s'", argv[optind]);
        if (call(ctx, VS_CMD_TEMPLATE_LIST, NULL, NULL, &reply, NULL, NULL, NULL, &err) < 0)
                return fail(ctx, &err);
        list = vs_json_array(reply, "templates");
        if (as_json) {
                print_json(list);
                return EXIT_OK;
        }
        if (header)
                printf("%-20s  %-8s  %8s  %4s  %8s\n", "NAME", "BUILDER", "SIZE", "VPS", "SHARED");
        for (size_t i = 0; list && i < json_object_array_length(list); i++) {
                json_object *t = json_object_array_get_idx(list, i);
                long long bytes = vs_json_int(t, "bytes", 0);
                long long shared = vs_json_int(t, "shared_bytes", 0);
                char own[32], with[32];

                /* SIZE is its own; what it shares with others is apart,
                 * and counted once in the total */
                format_size((uint64_t)(bytes - shared), own, sizeof(own));
                format_size((uint64_t)shared, with, sizeof(with));
                printf("%-20s  %-8s  %8s  %4lld  %8s\n", vs_json_str(t, "name") ?: "?",
                       vs_json_str(t, "builder") ?: "?", own, vs_json_int(t, "vps", 0),
                       shared ? with : "-");
        }
        if (header) {
                char total[32], saved[32];

                format_size((uint64_t)vs_json_int(reply, "store_bytes", 0), total, sizeof(total));
                format_size((uint64_t)vs_json_int(reply, "saved_bytes", 0), saved, sizeof(saved));
                printf("total %s on disk, shared blocks counted once; unify saved %s\n", total,
                       saved);
        }
        return EXIT_OK;
}

static int template_remove(struct ctx *ctx, int argc, char **argv)
{
        int opt, bad = 0, rc;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "h", no_options, &bad)) != -1)
                if (bad)
                        return bad;
        if ((rc = take_name(ctx, argc, argv, "template name")) != EXIT_OK)
                return rc;
        return simple_call(ctx, VS_CMD_TEMPLATE_REMOVE, ctx->name, NULL);
}

static int cmd_template(struct ctx *ctx, int argc, char **argv)
{
        if (argc < 2)
                return usage_error(ctx,
                                   "subcommand is missing (build, import, list, remove, unify)");
        if (strcmp(argv[1], "build") == 0) {
                ctx->cmd = "template build";
                return template_build(ctx, argc - 1, argv + 1);
        }
        if (strcmp(argv[1], "import") == 0) {
                ctx->cmd = "template import";
                return template_import(ctx, argc - 1, argv + 1);
        }
        if (strcmp(argv[1], "unify") == 0) {
                ctx->cmd = "template unify";
                return template_unify(ctx, argc - 1, argv + 1);
        }
        if (strcmp(argv[1], "list") == 0) {
                ctx->cmd = "template list";
                return template_list(ctx, argc - 1, argv + 1);
        }
        if (strcmp(argv[1], "remove") == 0 || strcmp(argv[1], "rm") == 0) {
                ctx->cmd = "template remove";
                return template_remove(ctx, argc - 1, argv + 1);
        }
        return usage_error(ctx, "unknown subcommand '%s' (build, import, list, remove, unify)",
                           argv[1]);
}

/* ---- help ---- */

static int cmd_help(struct ctx *ctx, int argc, char **argv);

static const struct command commands[] = {
        { "create", NULL, cmd_create,
          "create NAME --template T [--hostname H] [--privileged] [--procview on|off]\n"
          "       [--ipadd A[/P]]...\n"
          "       [--nameserver IP]... [--searchdomain D]...\n"
          "       [--port-forward HOSTPORT:VPSPORT[/PROTO]]... [--diskspace SIZE[:HARD]]\n"
          "       [--diskinodes N[:HARD]] [--rate-out RATE] [--rate-in RATE]\n"
          "       [--onboot yes|no] [--bootorder N] [--force] [LIMIT-OPTIONS...]",
          "Create a stopped VPS from template T, with the limits given (vzctl's names;\n"
          "kept in its config as key = value, e.g. cpu_burst = 50ms). It gets its own\n"
          "range of 65536 host ids (its root is an unprivileged id on the host) and its\n"
          "own network: eth0 with the given addresses, or one from vsd's address pool.\n"
          "  -t, --template T   template to build the VPS on (see: vsctl template list)\n"
          "  -n, --hostname H   hostname inside the VPS (default: NAME)\n"
          "      --privileged   the VPS's root is host uid 0 for its files (identity id\n"
          "                     map), its capabilities hold in its own user namespace\n"
          "      --procview on|off  on (default): its /proc/meminfo, cpuinfo, stat,\n"
          "                     uptime, loadavg, swaps, diskstats and\n"
          "                     /sys/devices/system/cpu/online show its own limits\n"
          "                     and usage; off: the host's\n"
          "      --ipadd A[/P]  an IPv4 or IPv6 address for the VPS (repeatable, at\n"
          "                     most 16 of each family). Inside a pool the prefix\n"
          "                     defaults to the pool's, else to /32 or /128 (routed\n"
          "                     mode only). Without --ipadd: the lowest free address\n"
          "                     of pool4, and of pool6 if vsd.conf has one;\n"
          "                     none: no network but the loopback\n"
          "      --nameserver IP  a name server for /etc/resolv.conf (repeatable, at\n"
          "                     most 3)\n"
          "      --searchdomain D a search domain for /etc/resolv.conf (repeatable, at\n"
          "                     most 6)\n"
          "      --port-forward HOSTPORT:VPSPORT[/tcp|udp]\n"
          "                     forward HOSTPORT on the host's addresses to VPSPORT of\n"
          "                     the VPS's first address while it runs (repeatable;\n"
          "                     tcp by default; a host port belongs to one VPS)\n"
          "  --diskspace SIZE[:HARD]\n"
          "                     limit the VPS's own files (its copy-on-write layer) to\n"
          "                     HARD bytes (default SIZE; K M G T, 8M to 8T): they live on\n"
          "                     an ext4 image of that size (disk backend image, or\n"
          "                     vsd.conf's disk_backend); writing past it fails with ENOSPC\n"
          "  --diskinodes N[:HARD]\n"
          "                     limit the number of files to about HARD (the image's inode\n"
          "                     count, rounded up; default one per 16K of "
          "--diskspace)\n" BOOT_HELP RATE_HELP LIMIT_HELP FORCE_HELP },
        { "resize", NULL, cmd_resize, "resize NAME --diskspace SIZE[:HARD]",
          "Change the disk limit of a VPS created with one. Growing works while the VPS\n"
          "runs; shrinking needs it stopped and its files to fit.\n"
          "  --diskspace SIZE[:HARD]   the new limit\n" },
        { "clone", NULL, cmd_clone, "clone NAME NEW [--hostname H]",
          "Copy a stopped VPS into a new stopped VPS NEW on the same template: its own\n"
          "files (owners, modes, xattrs, hard links and special files kept; a disk image\n"
          "stays sparse), its config and disk limit, with the new name and the\n"
          "address pools' next free addresses (an address belongs to one VPS). A\n"
          "running VPS is frozen (cgroup v2 freezer) for the copy and runs on; one on\n"
          "a disk image must be stopped.\n"
          "  -n, --hostname H   hostname of NEW (default: NEW)\n" },
        { "start", NULL, cmd_start, "start NAME...",
          "Start stopped VPS. NAME may be a quoted shell pattern (\"web*\"), standing\n"
          "for the VPS whose names match (a pattern that matches none: exit 3). With\n"
          "several VPS each is reported (\"NAME started\", or its error) and the exit\n"
          "code is the first failure's.\n" },
        { "set", NULL, cmd_set,
          "set NAME [--no-save] [--hostname H] [--capability CAP:on|off]...\n"
          "    [--ipadd A[/P]]...\n"
          "    [--ipdel A|all]... [--nameserver IP]... [--searchdomain D]...\n"
          "    [--port-forward HOSTPORT:VPSPORT[/PROTO]]...\n"
          "    [--port-forward-del HOSTPORT[/PROTO]|all]... [--rate-out RATE]\n"
          "    [--rate-in RATE] [--onboot yes|no] [--bootorder N] [--force]\n"
          "    [LIMIT-OPTIONS...]",
          "Change limits: at once on a running VPS (in its cgroup; bandwidth caps on\n"
          "its host-side veth), and in its config (applied at every start) unless\n"
          "--no-save. Values are checked first; a bad one changes nothing. Network\n"
          "settings change at once on a running VPS too (eth0, host routes,\n"
          "/etc/hosts, /etc/resolv.conf, port forwards) and are always saved.\n"
          "  --no-save          change the running VPS only (limits and rates only)\n"
          "  -n, --hostname H   the VPS's hostname: saved, and on a running VPS set at\n"
          "                     once (its UTS namespace; /etc/hostname and /etc/hosts\n"
          "                     where vsd writes them, on a VPS with an address)\n"
          "  --ipadd A[/P]      add an address (as for create)\n"
          "  --ipdel A|all      remove an address, or all of them (removals come\n"
          "                     before additions)\n"
          "  --nameserver IP    replace the name servers (repeatable, at most 3)\n"
          "  --searchdomain D   replace the search domains (repeatable, at most 6)\n"
          "  --port-forward HOSTPORT:VPSPORT[/tcp|udp]\n"
          "                     add a port forward (as for create)\n"
          "  --port-forward-del HOSTPORT[/tcp|udp]|all\n"
          "                     remove forwards of HOSTPORT (both protocols unless\n"
          "                     given), or all; removals go before additions\n"
          "  --capability CAP:on|off\n"
          "                     keep (on) or drop (off) a capability from the VPS's\n"
          "                     set, e.g. net_raw:off (saved; applies at the next "
          "start)\n" BOOT_HELP RATE_HELP LIMIT_HELP FORCE_HELP },
        { "stop", NULL, cmd_stop, "stop NAME...|--all [--timeout S] [--fast]",
          "Stop running VPS: send each init the stop signal, wait, then kill every\n"
          "process of the VPS. Several VPS stop side by side; NAME may be a pattern\n"
          "and each is reported, as for start.\n"
          "  -a, --all          every running VPS (the host's shutdown path: vsd.service)\n"
          "  -t, --timeout S    seconds to wait before killing (default 30; units ms s m h)\n"
          "  -f, --fast         kill at once\n" },
        { "restart", NULL, cmd_restart, "restart NAME... [--timeout S]",
          "Stop VPS (as stop does) and start them again; starts a stopped VPS. NAME\n"
          "may be a pattern and each is reported, as for start.\n"
          "  -t, --timeout S    seconds to wait before killing (default 30; units ms s m h)\n" },
        { "destroy", "delete", cmd_destroy, "destroy NAME... [--force]",
          "Remove stopped VPS: their files, config, state and cgroup. Destroying a\n"
          "VPS that does not exist succeeds. Exact names only (no patterns); with\n"
          "several, each is reported, as for start. Alias: delete.\n"
          "  -f, --force        kill the VPS first if it is running\n" },
        { "status", NULL, cmd_status, "status NAME... [--json]",
          "Print one line per VPS: NAME exist running|stopped, and how a stopped VPS\n"
          "ended; or NAME deleted (exit code 3) when there is no such VPS. NAME may\n"
          "be a pattern, as for start.\n"
          "  -j, --json         print every field as JSON (an array for several VPS)\n"
          "OOM kills in the current (or last) run are shown: (2 OOM kills), and\n"
          "bandwidth caps: (rate-out 10M, rate-in 20M); --json has them as rate_out\n"
          "and rate_in in bit/s (0: none), in force while running, else configured.\n"
          "A VPS with port forwards gets a second line: \"  port forwards: 8080:80/tcp\".\n" },
        { "node", NULL, cmd_node, "node [--cpu-reserve CPU] [--ram-reserve SIZE] [--json]",
          "Show the node's capacity (CPUs, memory), its admission policy (reserve, or\n"
          "overbook FACTOR; set in <root>/etc/paene/vsd.conf), what the running VPS\n"
          "reserve and use, and with a size, how many more such VPS would fit.\n"
          "  --cpu-reserve CPU  the size: guaranteed CPU of one more VPS\n"
          "  --ram-reserve SIZE the size: guaranteed memory of one more VPS\n"
          "  -j, --json         print JSON (CPUs in millionths, sizes in bytes)\n" },
        { "top", NULL, cmd_top, "top [--once] [-d DELAY] [-n COUNT]",
          "Show running VPS sorted by CPU use, refreshed every DELAY, like top: CPU%\n"
          "(of one CPU, over the last interval), memory, processes, I/O, network bytes\n"
          "in and out, OOM kills.\n"
          "  -1, --once         print one table (after one interval) and exit\n"
          "  -d, --delay DELAY  interval (default 1s; units ms s m h)\n"
          "  -n, --iterations N print N tables and exit\n" },
        { "stats", NULL, cmd_stats, "stats NAME [--json]",
          "Print what a VPS uses: CPU time and average %, time held back by its CPU\n"
          "cap, memory and its peak, swap, I/O bytes and operations, processes and\n"
          "OOM kills, read from its cgroup; network bytes and packets in and out, read\n"
          "from its host-side veth.\n"
          "  -j, --json         print JSON (times in µs, sizes in bytes)\n" },
        { "list", NULL, cmd_list,
          "list [-a|-S] [-o FIELDS|-1] [-s [-]FIELD] [-H] [-j|--json] [NAME...]",
          "List running VPS; with NAME operands (names, or quoted shell patterns such\n"
          "as \"web*\"), those VPS whatever their state (a name that does not exist:\n"
          "exit 3).\n"
          "  -a, --all          include stopped VPS\n"
          "  -S, --stopped      stopped VPS only\n"
          "  -1, --name-only    names only, one a line, no header (as -H -o name)\n"
          "  -s, --sort [-]FIELD\n"
          "                     sort by FIELD (numbers by value), - first: reversed\n"
          "  -o, --output F,... fields: name state pid nproc hostname template slice\n"
          "                     onboot bootorder"
          "\n"
          "                     uptime exit ip rx_bytes tx_bytes rx_packets tx_packets\n"
          "                     cpu_usec cpu_pct throttled_usec mem_bytes mem_peak\n"
          "                     swap_bytes io_read_bytes io_write_bytes io_read_ops\n"
          "                     io_write_ops oom_kills failcnt disk disklimit (failcnt:\n"
          "                     limit hits, see beancounters; disk: bytes used by the\n"
          "                     VPS's own files; disklimit: its limit, - for none)\n"
          "                     (default: name,state,pid,nproc,hostname,template)\n"
          "                     vzlist's names too: ctid veid (name), status (state),\n"
          "                     numproc (nproc), ostemplate (template), physpages mem\n"
          "                     (mem_bytes), swappages (swap_bytes), diskspace (disk),\n"
          "                     ip_address (ip), laverage (cpu_pct: no load average\n"
          "                     is kept per VPS)\n"
          "                     sizes (mem_bytes, io and network bytes, disk) are\n"
          "                     1024-based (12.5M) in the table, bytes in --json\n"
          "  -H, --no-header    omit the header line\n"
          "  -j, --json         print JSON (all fields, or those of -o, keyed by the\n"
          "                     names given)\n" },
        { "backup", NULL, cmd_backup, "backup NAME FILE|-",
          "Write a backup of a VPS to FILE (- : standard output): a tar.zst of its\n"
          "config and its own files (the copy-on-write layer, or its disk image,\n"
          "sparse), owners by number. FILE appears whole or not at all. A running VPS\n"
          "is frozen (cgroup v2 freezer) while its files are read, so that the copy is\n"
          "of one moment, and stop and destroy wait (exit 4) until it is written; one\n"
          "on a disk image is backed up stopped.\n" },
        { "restore", NULL, cmd_restore, "restore FILE [NAME] [--keep-ip]",
          "Make a stopped VPS of a backup, on this node or another: NAME (default: the\n"
          "backup's), with an id range of its own and the address pools' next free\n"
          "addresses. A damaged file, one from a newer paene, or one with paths\n"
          "outside the VPS is refused (exit 2), a NAME that exists too (exit 4);\n"
          "nothing is left behind.\n"
          "  --keep-ip          keep the backup's addresses (refused if a VPS has them)\n" },
        { "events", NULL, cmd_events, "events [--json]",
          "Print what happens to the VPS as it happens, one line an event, until\n"
          "interrupted: created, started (pid), start-failed (why), stopped (exit code,\n"
          "or the signal that ended it), limit-changed (what set changed) and\n"
          "destroyed, each with its time (UTC).\n"
          "  -j, --json         one JSON object a line: time (seconds since the epoch),\n"
          "                     type, vps, and the type's own fields\n" },
        { "metrics", NULL, cmd_metrics, "metrics",
          "Print the metrics of the node and its VPS in Prometheus's text format:\n"
          "per VPS (label vps) CPU seconds and throttled time, memory usage, peak and\n"
          "limit, swap, OOM kills, processes, I/O bytes and operations, network bytes\n"
          "and packets, disk used and limit, state and start time; per node the VPS\n"
          "by state and the reserved CPU and memory against the capacity. vsd serves\n"
          "the same over HTTP (GET /metrics) where vsd.conf says metrics_listen =\n"
          "unix:PATH or ADDR:PORT.\n" },
        { "exec", NULL, cmd_exec, "exec NAME [-t] -- CMD [ARGS...]",
          "Run CMD inside a running VPS, relaying stdin, stdout and stderr; exit with\n"
          "CMD's exit status (128+N if killed by signal N, 127 if not found, 126 if it\n"
          "cannot be run). vsctl returns when CMD exits: children it leaves in the\n"
          "background keep running, but what they print later is not relayed.\n"
          "  -t, --tty          run CMD on a terminal\n" },
        { "enter", NULL, cmd_enter, "enter NAME",
          "Open an interactive shell (/bin/sh -l) on a terminal inside a running VPS.\n" },
        { "logs", NULL, cmd_logs, "logs NAME", "Print the VPS's console output.\n" },
        { "console", NULL, cmd_console, "console NAME",
          "Attach to the console of a running VPS (its /dev/console: a getty there\n"
          "offers a login). Ctrl-] detaches; the VPS goes on. One session at a time.\n" },
        { "beancounters", NULL, cmd_beancounters, "beancounters NAME [--json]",
          "Print a running VPS's beancounters in OpenVZ's layout (its\n"
          "/proc/user_beancounters): per resource what it holds, the most it held,\n"
          "barrier, limit and how often it hit the limit (failcnt), from its cgroup:\n"
          "numproc (pids), physpages and swappages (memory, in 4 KiB pages).\n"
          "9223372036854775807 is no limit.\n"
          "  -j, --json         print them as JSON\n" },
        { "template", NULL, cmd_template,
          "template build busybox|debian [NAME] [--suite S] [--include P,...] [--mirror URL] "
          "[--variant minbase|default] [--debs F] | "
          "template import NAME FILE | template list [-j] [-H] "
          "| template remove NAME | template unify [-j]",
          "Manage templates, the shared read-only base images of VPS.\n"
          "  build busybox [NAME]  build a template from the host's busybox-static\n"
          "                        (offline; NAME defaults to busybox)\n"
          "  build debian [NAME] [--suite S] [--include PKG,...] [--mirror URL]\n"
          "               [--variant minbase|default]\n"
          "                        build a Debian with debootstrap (suite default bookworm,\n"
          "                        variant minbase) from the Debian archive or --mirror\n"
          "                        URL (else vsd.conf's debian_mirror), through the\n"
          "                        proxy in vsctl's http_proxy, showing its progress;\n"
          "                        NAME defaults to debian; --debs FILE uses the\n"
          "                        packages of a debootstrap --make-tarball FILE instead\n"
          "                        of the network. An unknown suite (exit 3), a mirror\n"
          "                        that does not answer or a proxy that refuses (exit 2)\n"
          "                        is named before anything is built\n"
          "  import NAME FILE      make template NAME of a root file system tarball\n"
          "                        FILE.tar[.gz|.xz|.zst] (also .tgz .txz .tzst), keeping\n"
          "                        owners (by number), modes, xattrs and device nodes\n"
          "  list [-j] [-H]        list templates: name, builder, size on disk of its own\n"
          "                        files, VPS using it, what it shares with other\n"
          "                        templates (hard links unify made), and a total that\n"
          "                        counts shared blocks once, with what unify saved\n"
          "                        (-H: no header, no total; -j: bytes and shared_bytes\n"
          "                        per template)\n"
          "  remove NAME           remove a template no VPS uses (alias: rm)\n"
          "  unify [-j]            hard-link files that are identical (content, mode,\n"
          "                        owner, xattrs) across templates into one copy, and\n"
          "                        report the bytes saved; safe while VPS run\n" },
        { "help", NULL, cmd_help, "help [COMMAND]", "Show help for vsctl or one command.\n" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *name)
{
        if (!name)
                return NULL;
        for (size_t i = 0; i < NCOMMANDS; i++) {
                if (strcmp(commands[i].name, name) == 0 ||
                    (commands[i].alias && strcmp(commands[i].alias, name) == 0))
                        return &commands[i];
                if (strncmp(name, "template ", 9) == 0 && strcmp(commands[i].name, "template") == 0)
                        return &commands[i];
        }
        return NULL;
}

static void main_usage(FILE *out)
{
        fprintf(out, "Usage: vsctl [--root DIR] COMMAND [ARGS...]\n\n"
                     "Drive the paene daemon vsd: create, start, stop and enter VPS.\n\n"
                     "Commands:\n");
        for (size_t i = 0; i < NCOMMANDS; i++)
                fprintf(out, "  %s\n", commands[i].synopsis);
        fprintf(out,
                "\nOptions:\n"
                "  -r, --root DIR     vsd's state root (default: $VS_ROOT, else /)\n"
                "  -h, --help         show this help; vsctl COMMAND --help for a command\n"
                "  -V, --version      show the version\n"
                "\nExit codes: 0 success, 1 internal error, 2 usage, 3 no such VPS or template,\n"
                "4 wrong state (running, stopped, in use, exists), 5 permission denied,\n"
                "6 vsd not running; exec: the command's own status.\n");
}

static void command_usage(const struct command *c)
{
        printf("Usage: vsctl %s\n\n%s", c->synopsis, c->help);
}

static int cmd_help(struct ctx *ctx, int argc, char **argv)
{
        const struct command *c;

        (void)ctx;
        if (argc < 2) {
                main_usage(stdout);
                return EXIT_OK;
        }
        c = find_command(argv[1]);
        if (!c)
                return usage_error(ctx, "unknown command '%s'", argv[1]);
        command_usage(c);
        return EXIT_OK;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "root", required_argument, NULL, 'r' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { NULL, 0, NULL, 0 },
        };
        struct ctx ctx = { .root = getenv("VS_ROOT") ? getenv("VS_ROOT") : "/", .cmd = "vsctl" };
        const struct command *c;
        int opt;

        opterr = 0;
        while ((opt = getopt_long(argc, argv, "+r:hV", opts, NULL)) != -1) {
                switch (opt) {
                case 'r':
                        ctx.root = optarg;
                        break;
                case 'h':
                        main_usage(stdout);
                        return EXIT_OK;
                case 'V':
                        printf("vsctl %s\n", VS_VERSION);
                        return EXIT_OK;
                default:
                        fprintf(stderr, "vsctl: option '%s' is unknown or needs a value\n",
                                argv[optind - 1]);
                        main_usage(stderr);
                        return EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                main_usage(stderr);
                return EXIT_USAGE;
        }
        if (!*ctx.root) {
                fprintf(stderr, "vsctl: --root is empty\n");
                return EXIT_USAGE;
        }
        c = find_command(argv[optind]);
        if (!c) {
                fprintf(stderr, "vsctl: unknown command '%s' (see: vsctl --help)\n", argv[optind]);
                return EXIT_USAGE;
        }
        ctx.cmd = c->name;
        argc -= optind;
        argv += optind;
        /* exec finds its own -h: a command's arguments are not ours */
        if (c->run != cmd_exec && want_help(argc, argv)) {
                command_usage(c);
                return EXIT_OK;
        }
        return c->run(&ctx, argc, argv);
}
