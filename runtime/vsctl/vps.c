/* vsctl's lifecycle commands: create, set, resize, clone, start, stop,
 * restart and destroy, with the limit, disk, network and boot options
 * create and set share. */

#include "vs/security.h"
#include "vs/cleanup.h"
#include "vs/diskquota.h"
#include "vs/fsutil.h"
#include "vs/netns.h"
#include "vs/parse.h"

#include "vsctl.h"

/* ---- limits: options shared by create and set ---- */

#define LIMIT_HELP                                                                       \
        "  --cpuunits N       CPU weight, 2-262144 (v1 cpu.shares; v2 cpu.weight)\n"     \
        "  --cpulimit P%      CPU cap: 50% (of one CPU), 1.5 (CPUs) or 25ms/100ms\n"     \
        "  --cpus N           CPU cap in whole CPUs (with --cpulimit: the smaller)\n"    \
        "  --cpumask LIST     CPUs the VPS may run on: 0-1,3\n"                          \
        "  --cpu-burst DUR    CPU it may save up and burst above its cap (ms s)\n"       \
        "  --ram SIZE         memory limit (K M G T); at least 4M\n"                     \
        "  --ram-reserve SIZE guaranteed memory (v1 soft limit; v2 memory.low)\n"        \
        "  --swap SIZE        swap on top of --ram (needs --ram)\n"                      \
        "  --numproc N        most processes and threads (pids.max)\n"                   \
        "  --numfile N        most open files per process (RLIMIT_NOFILE)\n"             \
        "  --ioprio 0-7       I/O weight\n"                                              \
        "  --iolimit RATE     bytes/s read and write on the upper layer's disk\n"        \
        "  --iopslimit N      operations/s on the same disk\n"                           \
        "  --cpu-reserve CPU  guaranteed CPU, for admission control (see: vsctl node)\n" \
        "  --timeslice T      time slice of its processes, 0.1ms-100ms or default:\n"    \
        "                     shorter, woken ones preempt CPU hogs sooner (6.12+)\n"

#define FORCE_HELP                                                                         \
        "  --force            keep a limit this node can never satisfy (--ram above its\n" \
        "                     memory, --cpus or --cpulimit above its CPUs, --cpumask\n"    \
        "                     naming CPUs it lacks), which is refused without it\n"

/* Appends the limit options to opts (which has room); returns the count. */
size_t add_limit_options(struct option *opts, size_t n)
{
        for (int i = 0; i < VS_LIM_COUNT; i++)
                opts[n++] = (struct option){ vs_limit_option((vs_limit_t)i), required_argument,
                                             NULL, LIMIT_OPT + i };
        opts[n] = (struct option){ NULL, 0, NULL, 0 };
        return n;
}

/* Parses a limit option here (a bad value is refused before vsd is asked)
 * and adds its text to the request. */
int take_limit(struct ctx *ctx, int opt, vs_limits_t *l, json_object *limits)
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
                { "slice", required_argument, NULL, 's' },
                { "help", no_argument, NULL, 'h' },
                NET_OPTIONS,
        };
        const char *tmpl = NULL, *hostname = NULL, *procview = NULL, *slice = NULL;
        cleanup_json json_object *limits = json_object_new_object();
        cleanup_net_opts struct net_opts net = { 0 };
        cleanup_json json_object *rates = json_object_new_object();
        cleanup_json json_object *boot = json_object_new_object();
        json_object *args;
        struct disk_opts disk = { 0 };
        vs_limits_t l = { 0 };
        vs_error_t err = { 0 };
        int opt, bad = 0, rc = EXIT_OK, privileged = 0, force = 0;

        add_limit_options(opts, 17); /* after the seventeen above */
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
                else if (opt == 's')
                        slice = optarg;
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
            (slice && vs_parse_name(slice, "slice name", &err) < 0) ||
            (hostname && vs_parse_hostname(hostname, &err) < 0) || vs_limits_check(&l, &err) < 0 ||
            disk_check(&disk, &err) < 0)
                return fail(ctx, &err);
        args = json_object_new_object();
        net_opts_to_args(&net, args);
        json_object_object_add(args, "template", json_object_new_string(tmpl));
        if (hostname)
                json_object_object_add(args, "hostname", json_object_new_string(hostname));
        if (slice)
                json_object_object_add(args, "slice", json_object_new_string(slice));
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
        int opt, bad = 0, rc;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "n:h", opts, &bad)) != -1) {
                if (bad)
                        return bad;
                if (opt == 'n')
                        hostname = optarg;
        }
        if ((rc = take_name_and(ctx, argc, argv, "the new VPS's name", &new_name)) != EXIT_OK)
                return rc;
        if (vs_parse_name(new_name, "VPS name", &err) < 0 ||
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

int stop_option(struct ctx *ctx, int opt, const char *arg, json_object *args)
{
        vs_error_t err = { 0 };
        uint64_t ms;

        if (opt == 'f')
                json_object_object_add(args, "fast", json_object_new_boolean(1));
        if (opt != 't')
                return EXIT_OK;
        if (vs_parse_duration(arg, &ms, &err) < 0)
                return usage_error(ctx, "--timeout: %s", err.msg);
        if (ms == 0)
                return usage_error(ctx,
                                   "--timeout must be above zero (use --fast to kill at once)");
        if (ms > VS_STOP_TIMEOUT_MAX_MS)
                return usage_error(ctx, "--timeout is at most 24h");
        json_object_object_add(args, "timeout_ms", json_object_new_int64((int64_t)ms));
        return EXIT_OK;
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
        int opt, bad = 0, rc;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, allow_fast ? "t:fah" : "t:h", opts, &bad)) != -1) {
                if (bad)
                        return bad;
                if ((opt == 'f' || opt == 'a') && !allow_fast)
                        return usage_error(ctx, "option %s is unknown", argv[optind - 1]);
                *all |= opt == 'a';
                if ((rc = stop_option(ctx, opt, optarg, args)) != EXIT_OK)
                        return rc;
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

const struct command vsctl_cmd_create = {
        "create", NULL, cmd_create,
        "create NAME --template T [--slice S] [--hostname H] [--privileged]\n"
        "       [--procview on|off]\n"
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
        "      --slice S      put it in slice S (see: vsctl slice list), whose caps hold\n"
        "                     for its VPS together; its limits may not exceed the\n"
        "                     slice's (exit 4). Default: the default slice, or an\n"
        "                     owner's only slice\n"
        "  -n, --hostname H   hostname inside the VPS (default: NAME, _ as -)\n"
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
        "--diskspace)\n" BOOT_HELP RATE_HELP LIMIT_HELP FORCE_HELP
};

const struct command vsctl_cmd_resize = {
        "resize", NULL, cmd_resize, "resize NAME --diskspace SIZE[:HARD]",
        "Change the disk limit of a VPS created with one. Growing works while the VPS\n"
        "runs; shrinking needs it stopped and its files to fit.\n"
        "  --diskspace SIZE[:HARD]   the new limit\n"
};

const struct command vsctl_cmd_clone = {
        "clone", NULL, cmd_clone, "clone NAME NEW [--hostname H]",
        "Copy a stopped VPS into a new stopped VPS NEW on the same template: its own\n"
        "files (owners, modes, xattrs, hard links and special files kept; a disk image\n"
        "stays sparse), its config and disk limit, with the new name and the\n"
        "address pools' next free addresses (an address belongs to one VPS). A\n"
        "running VPS is frozen (cgroup v2 freezer) for the copy and runs on; one on\n"
        "a disk image must be stopped.\n"
        "  -n, --hostname H   hostname of NEW (default: NEW, _ as -)\n"
};

const struct command vsctl_cmd_start = {
        "start", NULL, cmd_start, "start NAME...",
        "Start stopped VPS. NAME may be a quoted shell pattern (\"web*\"), standing\n"
        "for the VPS whose names match (a pattern that matches none: exit 3). With\n"
        "several VPS each is reported (\"NAME started\", or its error) and the exit\n"
        "code is the first failure's.\n"
};

const struct command vsctl_cmd_set = {
        "set", NULL, cmd_set,
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
        "start)\n" BOOT_HELP RATE_HELP LIMIT_HELP FORCE_HELP
};

const struct command vsctl_cmd_stop = {
        "stop", NULL, cmd_stop, "stop NAME...|--all [--timeout S] [--fast]",
        "Stop running VPS: send each init the stop signal, wait, then kill every\n"
        "process of the VPS. Several VPS stop side by side; NAME may be a pattern\n"
        "and each is reported, as for start.\n"
        "  -a, --all          every running VPS (the host's shutdown path: vsd.service)\n"
        "  -t, --timeout S    seconds to wait before killing (default 30; units ms s m h)\n"
        "  -f, --fast         kill at once\n"
};

const struct command vsctl_cmd_restart = {
        "restart", NULL, cmd_restart, "restart NAME... [--timeout S]",
        "Stop VPS (as stop does) and start them again; starts a stopped VPS. NAME\n"
        "may be a pattern and each is reported, as for start.\n"
        "  -t, --timeout S    seconds to wait before killing (default 30; units ms s m h)\n"
};

const struct command vsctl_cmd_destroy = {
        "destroy", "delete", cmd_destroy, "destroy NAME... [--force]",
        "Remove stopped VPS: their files, config, state and cgroup. Destroying a\n"
        "VPS that does not exist succeeds. Exact names only (no patterns); with\n"
        "several, each is reported, as for start. Alias: delete.\n"
        "  -f, --force        kill the VPS first if it is running\n"
};
