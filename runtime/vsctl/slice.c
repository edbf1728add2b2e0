/* vsctl slice create|set|list|status|destroy: named groups of VPS with
 * owners and shared caps (issue 15). One table of subcommands; a new one
 * (renew, usage) is a function and a line in it. */
#include <time.h>

#include "vs/cleanup.h"
#include "vs/diskquota.h"
#include "vs/fsutil.h"
#include "vs/parse.h"

#include "vsctl.h"

/* ---- create and set: the settings of a slice ---- */

enum {
        OPT_OWNER = 3000,
        OPT_DISKSPACE,
        OPT_RATE_OUT,
        OPT_RATE_IN,
        OPT_BYTES_PER_DAY,
        OPT_MAX_VPS,
        OPT_EXPIRES,
        OPT_TEMPLATES,
};

/* The limits a slice takes, as LIMIT_OPT + limit. */
static const vs_limit_t slice_limits[] = { VS_LIM_CPUUNITS, VS_LIM_CPULIMIT,    VS_LIM_CPU_RESERVE,
                                           VS_LIM_RAM,      VS_LIM_RAM_RESERVE, VS_LIM_NUMPROC };
#define NLIMITS (sizeof(slice_limits) / sizeof(slice_limits[0]))

static void settings_options(struct option *opts)
{
        static const struct option fixed[] = {
                { "owner", required_argument, NULL, OPT_OWNER },
                { "diskspace", required_argument, NULL, OPT_DISKSPACE },
                { "rate-out", required_argument, NULL, OPT_RATE_OUT },
                { "rate-in", required_argument, NULL, OPT_RATE_IN },
                { "bytes-per-day", required_argument, NULL, OPT_BYTES_PER_DAY },
                { "max-vps", required_argument, NULL, OPT_MAX_VPS },
                { "expires", required_argument, NULL, OPT_EXPIRES },
                { "templates", required_argument, NULL, OPT_TEMPLATES },
                { "help", no_argument, NULL, 'h' },
        };
        size_t n = sizeof(fixed) / sizeof(fixed[0]);

        memcpy(opts, fixed, sizeof(fixed));
        for (size_t i = 0; i < NLIMITS; i++)
                opts[n + i] = (struct option){ vs_limit_option(slice_limits[i]), required_argument,
                                               NULL, LIMIT_OPT + (int)slice_limits[i] };
        opts[n + NLIMITS] = (struct option){ NULL, 0, NULL, 0 };
}

/* --owner alice,bob: user names or uids (vsd looks them up) */
static int take_owners(struct ctx *ctx, const char *text, json_object *args)
{
        cleanup_free char *copy = vs_xstrdup(text);
        json_object *list = json_object_new_array();
        char *save = NULL;

        for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save))
                json_object_array_add(list, json_object_new_string(w));
        if (json_object_array_length(list) == 0) {
                json_object_put(list);
                return usage_error(ctx, "--owner needs a user name or uid");
        }
        json_object_object_add(args, "owners", list);
        return EXIT_OK;
}

static int take_text(struct ctx *ctx, const char *key, int (*check)(const char *, vs_error_t *),
                     json_object *args)
{
        vs_error_t err = { 0 };

        if (check && check(optarg, &err) < 0)
                return fail(ctx, &err);
        json_object_object_add(args, key, json_object_new_string(optarg));
        return EXIT_OK;
}

static int check_space(const char *text, vs_error_t *err)
{
        vs_disk_limit_t l;

        return vs_disk_parse_space(text, &l, err);
}

static int check_rate(const char *text, vs_error_t *err)
{
        uint64_t bits;

        return vs_rate_parse(text, "rate", &bits, err);
}

static int check_size(const char *text, vs_error_t *err)
{
        uint64_t bytes;

        return vs_parse_size(text, &bytes, err);
}

/* An expiry must be ahead: vsd checks again against its own clock. */
static int check_expires(const char *text, vs_error_t *err)
{
        int64_t when, now = (int64_t)time(NULL);

        if (vs_parse_when(text, now, "--expires", &when, err) < 0)
                return -1;
        if (when <= now)
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "--expires %s is in the past", text);
        return 0;
}

static int take_setting(struct ctx *ctx, int opt, json_object *args, json_object *limits)
{
        vs_error_t err = { 0 };
        uint64_t n;

        switch (opt) {
        case OPT_OWNER:
                return take_owners(ctx, optarg, args);
        case OPT_DISKSPACE:
                return take_text(ctx, "diskspace", check_space, args);
        case OPT_RATE_OUT:
                return take_text(ctx, "rate_out", check_rate, args);
        case OPT_RATE_IN:
                return take_text(ctx, "rate_in", check_rate, args);
        case OPT_BYTES_PER_DAY:
                return take_text(ctx, "bytes_per_day", check_size, args);
        case OPT_EXPIRES:
                return take_text(ctx, "expires", check_expires, args);
        case OPT_TEMPLATES:
                return take_text(ctx, "templates", NULL, args);
        case OPT_MAX_VPS:
                if (vs_parse_uint(optarg, 0, 100000, "--max-vps", &n, &err) < 0)
                        return fail(ctx, &err);
                json_object_object_add(args, "max_vps", json_object_new_int64((int64_t)n));
                return EXIT_OK;
        default: {
                vs_limits_t l = { 0 };

                if (opt < LIMIT_OPT || opt >= LIMIT_OPT + VS_LIM_COUNT)
                        return EXIT_USAGE; /* next_opt said why */
                return take_limit(ctx, opt, &l, limits);
        }
        }
}

/* create and set: NAME and the settings, sent as one request */
static int send_settings(struct ctx *ctx, int argc, char **argv, const char *cmd, int need_owner)
{
        struct option opts[16 + NLIMITS];
        cleanup_json json_object *args = json_object_new_object();
        cleanup_json json_object *limits = json_object_new_object();
        int opt, bad = 0, rc;

        settings_options(opts);
        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "h", opts, &bad)) != -1) {
                if (bad)
                        return bad;
                if ((rc = take_setting(ctx, opt, args, limits)) != EXIT_OK)
                        return rc;
        }
        if ((rc = take_name(ctx, argc, argv, "slice name")) != EXIT_OK)
                return rc;
        if (need_owner && !json_object_object_get_ex(args, "owners", NULL))
                return usage_error(ctx, "--owner is required");
        if (json_object_object_length(limits))
                json_object_object_add(args, "limits", json_object_get(limits));
        if (!need_owner && json_object_object_length(args) == 0)
                return usage_error(ctx, "no setting given");
        rc = simple_call(ctx, cmd, ctx->name, json_object_get(args));
        if (rc == EXIT_OK)
                printf("slice %s %s\n", ctx->name, need_owner ? "created" : "set");
        return rc;
}

static int slice_create(struct ctx *ctx, int argc, char **argv)
{
        return send_settings(ctx, argc, argv, VS_CMD_SLICE_CREATE, 1);
}

static int slice_set(struct ctx *ctx, int argc, char **argv)
{
        return send_settings(ctx, argc, argv, VS_CMD_SLICE_SET, 0);
}

/* ---- destroy ---- */

/* --force: the slice's VPS go first, each as destroy --force does it
 * (stopped at once, then removed); then the slice. */
static int destroy_members(struct ctx *ctx)
{
        cleanup_json json_object *reply = NULL;
        json_object *args = json_object_new_object(), *fields = json_object_new_array(), *list;
        vs_error_t err = { 0 };
        const char *slice = ctx->name;
        int rc = EXIT_OK;

        json_object_array_add(fields, json_object_new_string("name"));
        json_object_object_add(args, "fields", fields);
        json_object_object_add(args, "slice", json_object_new_string(slice));
        if (call(ctx, VS_CMD_LIST, NULL, args, &reply, NULL, NULL, NULL, &err) < 0)
                return fail(ctx, &err);
        list = vs_json_array(reply, "vps");
        for (size_t i = 0; list && i < json_object_array_length(list) && rc == EXIT_OK; i++) {
                const char *name = vs_json_str(json_object_array_get_idx(list, i), "name");
                json_object *force = json_object_new_object();

                if (!name)
                        continue;
                json_object_object_add(force, "force", json_object_new_boolean(1));
                ctx->name = name;
                rc = simple_call(ctx, VS_CMD_DESTROY, name, force);
                if (rc == EXIT_OK)
                        printf("%s destroyed\n", name);
        }
        ctx->name = slice;
        return rc;
}

static int slice_destroy(struct ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                { "force", no_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        int opt, bad = 0, force = 0, rc;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "fh", opts, &bad)) != -1) {
                if (bad)
                        return bad;
                force |= opt == 'f';
        }
        if ((rc = take_name(ctx, argc, argv, "slice name")) != EXIT_OK)
                return rc;
        if (force && (rc = destroy_members(ctx)) != EXIT_OK)
                return rc;
        rc = simple_call(ctx, VS_CMD_SLICE_DESTROY, ctx->name, NULL);
        if (rc == EXIT_OK)
                printf("slice %s destroyed\n", ctx->name);
        return rc;
}

/* ---- list and status ---- */

struct slice_field {
        const char *name, *header;
        int size; /* bytes: 1024-based in the table */
};

/* members of a slice's object, then keys of its settings */
static const struct slice_field fields[] = {
        { "name", "NAME", 0 },
        { "owners", "OWNERS", 0 },
        { "vps", "VPS", 0 },
        { "running", "RUNNING", 0 },
        { "cpuunits", "CPUUNITS", 0 },
        { "cpulimit", "CPULIMIT", 0 },
        { "cpu_reserve", "CPU_RESERVE", 0 },
        { "ram", "RAM", 0 },
        { "ram_reserve", "RAM_RESERVE", 0 },
        { "numproc", "NUMPROC", 0 },
        { "diskspace", "DISKSPACE", 0 },
        { "rate_out", "RATE_OUT", 0 },
        { "rate_in", "RATE_IN", 0 },
        { "bytes_per_day", "BYTES_PER_DAY", 1 },
        { "max_vps", "MAX_VPS", 0 },
        { "expires", "EXPIRES", 0 },
        { "left", "LEFT", 0 },
        { "used", "USED", 1 },
        { "budget", "BUDGET", 1 },
        { "resets", "RESETS", 0 },
        { "throttled", "THROTTLED", 0 },
        { "templates", "TEMPLATES", 0 },
        { "cgroup", "CGROUP", 0 },
        { "cpu_usec", "CPU_USEC", 0 },
        { "mem_bytes", "MEM_BYTES", 1 },
        { "nproc", "NPROC", 0 },
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))
#define DEFAULT_SLICE_FIELDS "name,owners,vps,running,cpulimit,ram,numproc,expires,left"

/* The field's value: a member, else a setting; NULL when the slice has
 * none. */
static json_object *field_value(json_object *slice, const char *name)
{
        json_object *value = NULL;

        if (json_object_object_get_ex(slice, name, &value))
                return value;
        if (json_object_object_get_ex(vs_json_object(slice, "settings"), name, &value))
                return value;
        return NULL;
}

static int is_time(const char *name)
{
        return strcmp(name, "expires") == 0 || strcmp(name, "resets") == 0;
}

/* The time left as the table shows it: "1d23h", "expired", "-" (never). */
static void left_text(json_object *slice, char *out, size_t size)
{
        long long left = vs_json_int(slice, "left", 0);

        if (!vs_json_int(slice, "expires", 0))
                snprintf(out, size, "-");
        else if (left <= 0)
                snprintf(out, size, "expired");
        else
                format_duration(left, out, size);
}

/* As the table shows it: times (0: none) in UTC, sizes 1024-based (a
 * budget of 0 is none). */
static void field_text(json_object *slice, const struct slice_field *f, char *out, size_t size)
{
        json_object *value = field_value(slice, f->name);
        const char *text = value ? json_object_get_string(value) : NULL;
        uint64_t n;

        if (strcmp(f->name, "left") == 0 && value) {
                left_text(slice, out, size);
        } else if (!text || !*text ||
                   (strcmp(text, "0") == 0 &&
                    (is_time(f->name) || strcmp(f->name, "budget") == 0))) {
                snprintf(out, size, "-");
        } else if (is_time(f->name) && vs_digits(text, INT64_MAX, &n) == 0) {
                time_t when = (time_t)n;
                struct tm tm;

                gmtime_r(&when, &tm);
                strftime(out, size, "%Y-%m-%dT%H:%MZ", &tm);
        } else if (json_object_is_type(value, json_type_boolean)) {
                snprintf(out, size, "%s", json_object_get_boolean(value) ? "yes" : "no");
        } else if (f->size && vs_digits(text, UINT64_MAX, &n) == 0) {
                format_size(n, out, size);
        } else {
                snprintf(out, size, "%s", text);
        }
}

static int parse_slice_fields(struct ctx *ctx, const char *text, const struct slice_field **out,
                              size_t *n)
{
        cleanup_free char *copy = vs_xstrdup(text);
        char *save = NULL;

        *n = 0;
        for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
                size_t i = 0;

                while (i < NFIELDS && strcmp(fields[i].name, w) != 0)
                        i++;
                if (i == NFIELDS)
                        return usage_error(ctx, "unknown field '%s' (see: vsctl slice --help)", w);
                if (*n == NFIELDS)
                        return usage_error(ctx, "too many fields");
                out[(*n)++] = &fields[i];
        }
        if (*n == 0)
                return usage_error(ctx, "-o needs a field");
        return EXIT_OK;
}

static void print_slices(json_object *list, const struct slice_field **cols, size_t ncols,
                         int header)
{
        size_t n = list ? json_object_array_length(list) : 0;
        size_t width[NFIELDS];

        for (size_t c = 0; c < ncols; c++) {
                width[c] = strlen(cols[c]->header);
                for (size_t i = 0; i < n; i++) {
                        char text[256];

                        field_text(json_object_array_get_idx(list, i), cols[c], text, sizeof(text));
                        if (strlen(text) > width[c])
                                width[c] = strlen(text);
                }
        }
        for (size_t c = 0; header && c < ncols; c++)
                printf("%-*s%s", (int)width[c], cols[c]->header, c + 1 < ncols ? "  " : "\n");
        for (size_t i = 0; i < n; i++)
                for (size_t c = 0; c < ncols; c++) {
                        char text[256];

                        field_text(json_object_array_get_idx(list, i), cols[c], text, sizeof(text));
                        printf("%-*s%s", (int)(c + 1 < ncols ? width[c] : 0), text,
                               c + 1 < ncols ? "  " : "\n");
                }
}

static int slice_list(struct ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                { "output", required_argument, NULL, 'o' },
                { "no-header", no_argument, NULL, 'H' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        cleanup_json json_object *reply = NULL;
        const struct slice_field *cols[NFIELDS];
        const char *text = DEFAULT_SLICE_FIELDS;
        int opt, bad = 0, header = 1, as_json = 0, rc;
        vs_error_t err = { 0 };
        size_t ncols;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "o:Hjh", opts, &bad)) != -1) {
                if (bad)
                        return bad;
                if (opt == 'o')
                        text = optarg;
                header &= opt != 'H';
                as_json |= opt == 'j';
        }
        if (optind < argc)
                return usage_error(ctx, "unexpected argument '%s'", argv[optind]);
        if ((rc = parse_slice_fields(ctx, text, cols, &ncols)) != EXIT_OK)
                return rc;
        if (call(ctx, VS_CMD_SLICE_LIST, NULL, NULL, &reply, NULL, NULL, NULL, &err) < 0)
                return fail(ctx, &err);
        if (as_json)
                print_json(vs_json_array(reply, "slices"));
        else
                print_slices(vs_json_array(reply, "slices"), cols, ncols, header);
        return EXIT_OK;
}

static int slice_status(struct ctx *ctx, int argc, char **argv)
{
        cleanup_json json_object *reply = NULL;
        vs_error_t err = { 0 };
        json_object *slice;
        int as_json, rc;

        if ((rc = json_flag(ctx, argc, argv, &as_json)) != EXIT_OK ||
            (rc = take_name(ctx, argc, argv, "slice name")) != EXIT_OK)
                return rc;
        if (call(ctx, VS_CMD_SLICE_STATUS, ctx->name, NULL, &reply, NULL, NULL, NULL, &err) < 0)
                return fail(ctx, &err);
        slice = vs_json_object(reply, "slice");
        if (as_json) {
                print_json(slice);
                return EXIT_OK;
        }
        for (size_t i = 0; i < NFIELDS; i++) {
                char text[256];

                if (!field_value(slice, fields[i].name))
                        continue;
                field_text(slice, &fields[i], text, sizeof(text));
                printf("%-14s %s\n", fields[i].name, text);
        }
        return EXIT_OK;
}

/* ---- loans ---- */

/* loan FROM TO --cpuunits N|--ram SIZE [--until TIME] */
static int slice_loan(struct ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                { "cpuunits", required_argument, NULL, LIMIT_OPT + VS_LIM_CPUUNITS },
                { "ram", required_argument, NULL, LIMIT_OPT + VS_LIM_RAM },
                { "until", required_argument, NULL, 'u' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        cleanup_json json_object *reply = NULL;
        json_object *args = json_object_new_object(), *limits = json_object_new_object();
        const char *to, *until = NULL;
        vs_limits_t l = { 0 };
        vs_error_t err = { 0 };
        int opt, bad = 0, rc, given = 0;

        json_object_object_add(args, "limits", limits);
        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "h", opts, &bad)) != -1) {
                if (bad) {
                        json_object_put(args);
                        return bad;
                }
                if (opt == 'u') {
                        until = optarg;
                } else if (opt >= LIMIT_OPT && (rc = take_limit(ctx, opt, &l, limits)) != EXIT_OK) {
                        json_object_put(args);
                        return rc;
                } else if (opt >= LIMIT_OPT) {
                        given++;
                }
        }
        rc = take_name_and(ctx, argc, argv, "slice to lend to", &to);
        if (rc == EXIT_OK && given != 1)
                rc = usage_error(ctx, "give one of --cpuunits N or --ram SIZE");
        if (rc == EXIT_OK && (vs_parse_name(ctx->name, "slice name", &err) < 0 ||
                              vs_parse_name(to, "slice name", &err) < 0))
                rc = fail(ctx, &err);
        if (rc != EXIT_OK) {
                json_object_put(args);
                return rc;
        }
        json_object_object_add(args, "to", json_object_new_string(to));
        if (until)
                json_object_object_add(args, "until", json_object_new_string(until));
        if (call(ctx, VS_CMD_SLICE_LOAN, ctx->name, args, &reply, NULL, NULL, NULL, &err) < 0)
                return fail(ctx, &err);
        printf("loan %s: %s lends to %s\n", vs_json_str(reply, "name") ?: "?", ctx->name, to);
        return EXIT_OK;
}

static int slice_loans(struct ctx *ctx, int argc, char **argv)
{
        cleanup_json json_object *reply = NULL;
        vs_error_t err = { 0 };
        json_object *list;
        int as_json, rc;

        if ((rc = json_flag(ctx, argc, argv, &as_json)) != EXIT_OK)
                return rc;
        if (optind < argc)
                return usage_error(ctx, "unexpected argument '%s'", argv[optind]);
        if (call(ctx, VS_CMD_SLICE_LOANS, NULL, NULL, &reply, NULL, NULL, NULL, &err) < 0)
                return fail(ctx, &err);
        list = vs_json_array(reply, "loans");
        if (as_json) {
                print_json(list);
                return EXIT_OK;
        }
        printf("%-4s %-16s %-16s %-9s %-12s %s\n", "ID", "FROM", "TO", "LIMIT", "AMOUNT", "UNTIL");
        for (size_t i = 0; list && i < json_object_array_length(list); i++) {
                json_object *one = json_object_array_get_idx(list, i);
                time_t until = (time_t)vs_json_int(one, "until", 0);
                char when[32] = "-";
                struct tm tm;

                if (until) {
                        gmtime_r(&until, &tm);
                        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
                }
                printf("%-4lld %-16s %-16s %-9s %-12s %s\n", vs_json_int(one, "id", 0),
                       vs_json_str(one, "from") ?: "", vs_json_str(one, "to") ?: "",
                       vs_json_str(one, "what") ?: "", vs_json_str(one, "amount") ?: "", when);
        }
        return EXIT_OK;
}

static int slice_revoke(struct ctx *ctx, int argc, char **argv)
{
        json_object *args;
        vs_error_t err = { 0 };
        uint64_t id;
        int rc, opt, bad = 0;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "h", no_options, &bad)) != -1)
                if (bad)
                        return bad;
        if (optind >= argc)
                return usage_error(ctx, "loan ID is missing");
        if (optind + 1 < argc)
                return usage_error(ctx, "unexpected argument '%s'", argv[optind + 1]);
        if (vs_parse_uint(argv[optind], 1, 1000000000, "loan ID", &id, &err) < 0)
                return fail(ctx, &err);
        args = json_object_new_object();
        json_object_object_add(args, "id", json_object_new_int64((int64_t)id));
        rc = simple_call(ctx, VS_CMD_SLICE_REVOKE, NULL, args);
        if (rc == EXIT_OK)
                printf("loan %llu revoked\n", (unsigned long long)id);
        return rc;
}

/* ---- the subcommands ---- */

static const struct {
        const char *name;
        int (*run)(struct ctx *ctx, int argc, char **argv);
} subcommands[] = {
        { "create", slice_create },     { "set", slice_set },       { "destroy", slice_destroy },
        { "list", slice_list },         { "status", slice_status }, { "loan", slice_loan },
        { "loans", slice_loans },       { "revoke", slice_revoke }, { "renew", vsctl_slice_renew },
        { "usage", vsctl_slice_usage },
};

static int cmd_slice(struct ctx *ctx, int argc, char **argv)
{
        static char cmd[32];

        if (argc < 2)
                return usage_error(ctx, "a subcommand is missing (see: vsctl slice --help)");
        for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
                if (strcmp(argv[1], subcommands[i].name) != 0)
                        continue;
                snprintf(cmd, sizeof(cmd), "slice %s", subcommands[i].name);
                ctx->cmd = cmd;
                return subcommands[i].run(ctx, argc - 1, argv + 1);
        }
        return usage_error(ctx, "unknown subcommand '%s' (see: vsctl slice --help)", argv[1]);
}

const struct command vsctl_cmd_slice = {
        "slice", NULL, cmd_slice,
        "slice create NAME --owner USER[,USER...] [SLICE-OPTIONS...]\n"
        "       | slice set NAME SLICE-OPTIONS... | slice destroy NAME [-f|--force]\n"
        "       | slice list [-o FIELDS] [-H] [-j|--json] | slice status NAME [-j|--json]\n"
        "       | slice loan FROM TO --cpuunits N|--ram SIZE [--until TIME]\n"
        "       | slice loans [-j|--json] | slice revoke ID\n"
        "       | slice renew NAME --expires DATE|+DURATION | slice usage NAME [-j|--json]",
        "Slices: named groups of VPS that their owners (host users, not root) drive\n"
        "alone, under caps that hold for the slice's VPS together: the slice is a\n"
        "cgroup level <tree>/NAME above its VPS's. A VPS joins one with create\n"
        "--slice; an owner's VPS are named NAME-REST. create, set and destroy are for\n"
        "admins (root, group paene); owners may list and status their own slices.\n"
        "  create NAME        a new slice (exists: exit 4)\n"
        "  set NAME           change its settings, live: its cgroup at once; a value\n"
        "                     below what one of its VPS has is refused (exit 4)\n"
        "  destroy NAME       remove it and its cgroups; refused while it has VPS\n"
        "                     (exit 4)\n"
        "  -f, --force        destroy: stop and destroy its VPS first\n"
        "  list               the slices (owners: their own)\n"
        "  -o, --output F,... list's fields: name owners vps running cpuunits\n"
        "                     cpulimit cpu_reserve ram ram_reserve numproc diskspace\n"
        "                     rate_out rate_in bytes_per_day max_vps expires left\n"
        "                     used budget resets throttled templates cgroup cpu_usec\n"
        "                     mem_bytes nproc (default: name,owners,vps,running,\n"
        "                     cpulimit,ram,numproc,expires,left)\n"
        "  -H, --no-header    omit the header line\n"
        "  status NAME        its settings, VPS, what its cgroup accounts, the time\n"
        "                     left, bytes sent against its budget and when that resets\n"
        "  -j, --json         print JSON (expires in seconds since the epoch)\n"
        "  loan FROM TO       lend part of FROM's --cpuunits or --ram to TO, at once\n"
        "                     in both slices' limits and cgroups, until revoked or\n"
        "                     --until; more than FROM has, or less than its VPS\n"
        "                     need, is refused (exit 4). Admins and FROM's owners\n"
        "  --until TIME       when the loan ends, as --expires (+Ns too); its end\n"
        "                     moves it back within a few seconds\n"
        "  loans              the loans in force (owners: of their slices)\n"
        "  revoke ID          end a loan now (admins and the lender's owners)\n"
        "  renew NAME --expires DATE|+DURATION\n"
        "                     a new expiry (admins); at its expiry a slice's running\n"
        "                     VPS are stopped (never destroyed) and none starts (exit\n"
        "                     4) until it is renewed\n"
        "  usage NAME         time left, bytes sent in the budget's window, when it\n"
        "                     ends, whether its VPS are throttled\n"
        "SLICE-OPTIONS:\n"
        "  --owner USER[,USER...]  its owners, by name or uid (unknown: exit 3)\n"
        "  --cpuunits N       CPU weight of the slice among its siblings\n"
        "  --cpulimit P       CPU cap of all its VPS together (50%, 1.5)\n"
        "  --cpu-reserve C    CPU its running VPS may reserve together (admission)\n"
        "  --ram SIZE         memory cap of all its VPS together\n"
        "  --ram-reserve SIZE memory its running VPS may reserve together\n"
        "  --numproc N        processes of all its VPS together\n"
        "  --diskspace SIZE   the largest --diskspace an owner may give a VPS\n"
        "  --rate-out R, --rate-in R\n"
        "                     the highest rates an owner may give a VPS\n"
        "  --bytes-per-day SIZE  the slice's daily byte budget (stored as bytes)\n"
        "  --max-vps N        at most N VPS in the slice (0: no cap)\n"
        "  --expires DATE|+DURATION\n"
        "                     YYYY-MM-DD[THH:MM[:SS]] in UTC, or +Nd, +Nh, +Nm, +Ns\n"
        "                     from now (in the past: exit 2)\n"
        "  --templates T1,T2  the templates an owner may create from (default: all)\n"
        "A VPS's limits may not exceed its slice's (exit 4 for admins, 5 for owners);\n"
        "one without a value for a limit is still held by the slice's cgroup.\n"
};
