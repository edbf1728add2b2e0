/* vsctl's node-wide commands: node (capacity and reservations), top,
 * metrics, events and beancounters. */

#include "vs/cleanup.h"
#include "vs/diskquota.h"
#include "vs/fsutil.h"
#include "vs/parse.h"

#include "vsctl.h"

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
                                vs_error_kind(&err, VS_E_DAEMON, ECONNRESET,
                                              "vsd closed the event stream (it stopped)");
                        return fail(ctx, &err);
                }
                /* vsd ends the stream with an error reply (when it exits) */
                if (vs_reply_check(msg, &err) < 0)
                        return fail(ctx, &err);
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

const struct command vsctl_cmd_node = {
        "node", NULL, cmd_node, "node [--cpu-reserve CPU] [--ram-reserve SIZE] [--json]",
        "Show the node's capacity (CPUs, memory), its admission policy (reserve, or\n"
        "overbook FACTOR; set in <root>/etc/paene/vsd.conf), what the running VPS\n"
        "reserve and use, and with a size, how many more such VPS would fit.\n"
        "  --cpu-reserve CPU  the size: guaranteed CPU of one more VPS\n"
        "  --ram-reserve SIZE the size: guaranteed memory of one more VPS\n"
        "  -j, --json         print JSON (CPUs in millionths, sizes in bytes)\n"
};

const struct command vsctl_cmd_top = {
        "top", NULL, cmd_top, "top [--once] [-d DELAY] [-n COUNT]",
        "Show running VPS sorted by CPU use, refreshed every DELAY, like top: CPU%\n"
        "(of one CPU, over the last interval), memory, processes, I/O, network bytes\n"
        "in and out, OOM kills.\n"
        "  -1, --once         print one table (after one interval) and exit\n"
        "  -d, --delay DELAY  interval (default 1s; units ms s m h)\n"
        "  -n, --iterations N print N tables and exit\n"
};

const struct command vsctl_cmd_events = {
        "events", NULL, cmd_events, "events [--json]",
        "Print what happens to the VPS as it happens, one line an event, until\n"
        "interrupted: created, started (pid), start-failed (why), stopped (exit code,\n"
        "or the signal that ended it), limit-changed (what set changed) and\n"
        "destroyed, each with its time (UTC).\n"
        "  -j, --json         one JSON object a line: time (seconds since the epoch),\n"
        "                     type, vps, and the type's own fields\n"
};

const struct command vsctl_cmd_metrics = {
        "metrics", NULL, cmd_metrics, "metrics",
        "Print the metrics of the node and its VPS in Prometheus's text format:\n"
        "per VPS (label vps) CPU seconds and throttled time, memory usage, peak and\n"
        "limit, swap, OOM kills, processes, I/O bytes and operations, network bytes\n"
        "and packets, disk used and limit, state and start time; per node the VPS\n"
        "by state and the reserved CPU and memory against the capacity. vsd serves\n"
        "the same over HTTP (GET /metrics) where vsd.conf says metrics_listen =\n"
        "unix:PATH or ADDR:PORT.\n"
};

const struct command vsctl_cmd_beancounters = {
        "beancounters", NULL, cmd_beancounters, "beancounters NAME [--json]",
        "Print a running VPS's beancounters in OpenVZ's layout (inside the VPS:\n"
        "/dev/user_beancounters): per resource what it holds, the most it held,\n"
        "barrier, limit and how often it hit the limit (failcnt), from its cgroup:\n"
        "numproc (pids), physpages and swappages (memory, in 4 KiB pages).\n"
        "9223372036854775807 is no limit.\n"
        "  -j, --json         print them as JSON\n"
};
