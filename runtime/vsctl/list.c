/* vsctl's views of VPS: status, list (vzlist's fields, sorting and
 * filters) and stats. */
#include <fnmatch.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/netns.h"
#include "vs/parse.h"

#include "vsctl.h"

/* ---- status / list ---- */

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
        char rates[160];

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
        /* a VPS of a slice says which (the default slice's stay as they were) */
        if (vs_json_str(vps, "slice") && strcmp(vs_json_str(vps, "slice"), "default") != 0) {
                char with_slice[128];

                snprintf(with_slice, sizeof(with_slice), "slice %s%s%s", vs_json_str(vps, "slice"),
                         *rates ? ", " : "", rates);
                vs_strlcpy(rates, with_slice, sizeof(rates));
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
        { "timeslice", "TIMESLICE", 0, 0 },
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
#define DEFAULT_FIELDS "name,state,pid,nproc,hostname,template,slice"
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
                { "slice", required_argument, NULL, 'L' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        cleanup_json json_object *reply = NULL;
        cleanup_json json_object *rows = json_object_new_array();
        const char *slice = NULL;
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
                if (opt == 'L')
                        slice = optarg;
        }
        if (slice && vs_parse_name(slice, "slice name", &err) < 0)
                return fail(ctx, &err);
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
        if (slice)
                json_object_object_add(args, "slice", json_object_new_string(slice));
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

const struct command vsctl_cmd_status = {
        "status", NULL, cmd_status, "status NAME... [--json]",
        "Print one line per VPS: NAME exist running|stopped, and how a stopped VPS\n"
        "ended; or NAME deleted (exit code 3) when there is no such VPS. NAME may\n"
        "be a pattern, as for start.\n"
        "  -j, --json         print every field as JSON (an array for several VPS)\n"
        "OOM kills in the current (or last) run are shown: (2 OOM kills), and\n"
        "bandwidth caps: (rate-out 10M, rate-in 20M), and the slice of a VPS not in\n"
        "the default slice: (slice S); --json has them as slice, rate_out\n"
        "and rate_in in bit/s (0: none), in force while running, else configured.\n"
        "A VPS with port forwards gets a second line: \"  port forwards: 8080:80/tcp\".\n"
};

const struct command vsctl_cmd_stats = {
        "stats", NULL, cmd_stats, "stats NAME [--json]",
        "Print what a VPS uses: CPU time and average %, time held back by its CPU\n"
        "cap, memory and its peak, swap, I/O bytes and operations, processes and\n"
        "OOM kills, read from its cgroup; network bytes and packets in and out, read\n"
        "from its host-side veth.\n"
        "  -j, --json         print JSON (times in µs, sizes in bytes)\n"
};

const struct command vsctl_cmd_list = {
        "list", NULL, cmd_list,
        "list [-a|-S] [--slice S] [-o FIELDS|-1] [-s [-]FIELD] [-H] [-j|--json] [NAME...]",
        "List running VPS; with NAME operands (names, or quoted shell patterns such\n"
        "as \"web*\"), those VPS whatever their state (a name that does not exist:\n"
        "exit 3).\n"
        "  -a, --all          include stopped VPS\n"
        "  -S, --stopped      stopped VPS only\n"
        "      --slice S      the VPS of slice S only\n"
        "  -1, --name-only    names only, one a line, no header (as -H -o name)\n"
        "  -s, --sort [-]FIELD\n"
        "                     sort by FIELD (numbers by value), - first: reversed\n"
        "  -o, --output F,... fields: name state pid nproc hostname template slice\n"
        "                     onboot bootorder timeslice uptime exit ip rx_bytes\n"
        "                     tx_bytes rx_packets tx_packets cpu_usec cpu_pct\n"
        "                     throttled_usec mem_bytes mem_peak swap_bytes\n"
        "                     io_read_bytes io_write_bytes io_read_ops io_write_ops\n"
        "                     oom_kills failcnt disk disklimit (timeslice: the\n"
        "                     VPS's --timeslice, or default; failcnt: limit hits,\n"
        "                     see beancounters; disk: bytes used by the VPS's own\n"
        "                     files; disklimit: its limit, - for none)\n"
        "                     (default: name,state,pid,nproc,hostname,template,\n"
        "                     slice)\n"
        "                     vzlist's names too: ctid veid (name), status (state),\n"
        "                     numproc (nproc), ostemplate (template), physpages mem\n"
        "                     (mem_bytes), swappages (swap_bytes), diskspace (disk),\n"
        "                     ip_address (ip), laverage (cpu_pct: no load average\n"
        "                     is kept per VPS)\n"
        "                     sizes (mem_bytes, io and network bytes, disk) are\n"
        "                     1024-based (12.5M) in the table, bytes in --json\n"
        "  -H, --no-header    omit the header line\n"
        "  -j, --json         print JSON (all fields, or those of -o, keyed by the\n"
        "                     names given)\n"
};
