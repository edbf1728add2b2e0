/* The requests vsd takes: one table of the commands and the fields of each,
 * the validator that holds every request to it before any handler runs,
 * and the typed accessors the handlers read fields with.
 *
 * The socket is the contract, not vsctl: what vsctl checks before it sends
 * is checked here again, so that a request written by hand cannot reach a
 * handler with a value of the wrong type, an unknown field, a NUL byte that
 * C would cut a string at, or a name that is not a name. */
#include "vs/protocol.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vs/security.h"
#include "vs/cowfs.h"
#include "vs/diskquota.h"
#include "vs/limits.h"
#include "vs/netns.h"
#include "vs/parse.h"

/* ---- checks of contents: one value, its message names what it is ---- */

static int check_vps_name(const char *text, vs_error_t *err)
{
        return vs_parse_name(text, "VPS name", err);
}

static int check_template_name(const char *text, vs_error_t *err)
{
        return vs_parse_name(text, "template name", err);
}

static int check_slice_name(const char *text, vs_error_t *err)
{
        return vs_parse_name(text, "slice name", err);
}

static int check_diskspace(const char *text, vs_error_t *err)
{
        vs_disk_limit_t limit;

        return vs_disk_parse_space(text, &limit, err);
}

static int check_diskinodes(const char *text, vs_error_t *err)
{
        vs_disk_limit_t limit;

        return vs_disk_parse_inodes(text, &limit, err);
}

/* resize takes no inode count: the field is known, so that the message says
 * why rather than that there is no such field. */
static int check_no_diskinodes(const char *text, vs_error_t *err)
{
        (void)text;
        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                             "the inode count of a disk image is fixed when it is made");
}

static int check_rate_out(const char *text, vs_error_t *err)
{
        uint64_t bits;

        return vs_rate_parse(text, "--rate-out", &bits, err);
}

static int check_rate_in(const char *text, vs_error_t *err)
{
        uint64_t bits;

        return vs_rate_parse(text, "--rate-in", &bits, err);
}

static int check_address(const char *text, vs_error_t *err)
{
        vs_ip4_t ip4;
        vs_ip6_t ip6;

        return vs_ip_is_v6(text) ? vs_ip6_parse(text, 128, &ip6, err)
                                 : vs_ip4_parse(text, 32, &ip4, err);
}

static int check_ipadd(const char *text, vs_error_t *err)
{
        return strcmp(text, "none") == 0 ? 0 : check_address(text, err);
}

static int check_ipdel(const char *text, vs_error_t *err)
{
        return strcmp(text, "all") == 0 ? 0 : check_address(text, err);
}

static int check_forward(const char *text, vs_error_t *err)
{
        vs_portfwd_t fwd;

        return vs_portfwd_parse(text, &fwd, err);
}

static int check_forward_del(const char *text, vs_error_t *err)
{
        vs_portfwd_t fwd;

        return vs_portfwd_parse_del(text, &fwd, err);
}

static int check_caps(const char *text, vs_error_t *err)
{
        vs_caps_t caps;

        vs_caps_default(&caps);
        return vs_caps_parse(text, &caps, err);
}

static int check_builder(const char *text, vs_error_t *err)
{
        if (strcmp(text, "busybox") == 0 || strcmp(text, "debian") == 0)
                return 0;
        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                             "unknown template builder '%s' (available: busybox, debian)", text);
}

static int check_suite(const char *text, vs_error_t *err)
{
        return vs_template_debian_check(text, NULL, err);
}

static int check_variant(const char *text, vs_error_t *err)
{
        return vs_template_debian_check_variant(text, err);
}

static int check_mirror(const char *text, vs_error_t *err)
{
        return vs_archive_check_url(text, "mirror", 1, err);
}

static int check_proxy(const char *text, vs_error_t *err)
{
        return vs_archive_check_url(text, "http_proxy", 0, err);
}

static int check_packages(const char *text, vs_error_t *err)
{
        return vs_template_debian_check("bookworm", text, err);
}

/* vsd reads the file: a relative path would be relative to vsd's cwd. */
static int check_absolute(const char *text, vs_error_t *err)
{
        if (text[0] != '/')
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "'%s' is not an absolute path", text);
        return 0;
}

static int check_archive(const char *text, vs_error_t *err)
{
        if (check_absolute(text, err) < 0)
                return -1;
        return vs_template_archive_ok(text, err);
}

int vs_term_check(const char *text, vs_error_t *err)
{
        if (!*text)
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "terminal type is empty");
        if (strlen(text) > VS_TERM_MAX)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "terminal type is too long (at most %d characters)",
                                     VS_TERM_MAX);
        for (const char *p = text; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || strchr("._+-", *p)))
                        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                             "terminal type '%s' has a bad character "
                                             "(allowed: letters, digits and . _ + -)",
                                             text);
        return 0;
}

static int check_on_off(const char *text, vs_error_t *err)
{
        if (strcmp(text, "on") != 0 && strcmp(text, "off") != 0)
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "must be on or off, not '%s'", text);
        return 0;
}

/* ---- the table ---- */

#define NAME_LEN VS_NAME_MAX
#define VALUE_LEN 64   /* sizes, rates, addresses, forwards, terminal types */
#define DOMAIN_LEN 253 /* the longest DNS name */
#define PATH_LEN 4095  /* PATH_MAX less its NUL */
#define URL_LEN 1023   /* mirror and proxy URLs */
#define LIST_LEN 4096  /* capability and package lists */
#define ARG_LEN 131071 /* MAX_ARG_STRLEN less its NUL */
#define LIMIT_LEN 127  /* vs_limits_t keeps the text in 128 bytes */
#define EXEC_ARGS_MAX 4096
#define PATH_TEXT_MAX 192 /* "args.limits.cpu-burst", "args.argv[4095]" */

/* The members of one field's entry; each entry is { KIND(...)[, .required = 1] }. */
#define STRING(k, len, what_, fn) \
        .key = k, .type = VS_FIELD_STRING, .max_len = len, .what = what_, .check = fn
#define BOOL(k) .key = k, .type = VS_FIELD_BOOL
#define INT(k, lo, hi) .key = k, .type = VS_FIELD_INT, .min = lo, .max = hi
#define STRINGS(k, n, len, what_, fn)                                                      \
        .key = k, .type = VS_FIELD_STRINGS, .max_items = n, .max_len = len, .what = what_, \
        .check = fn
#define LIMITS .key = "limits", .type = VS_FIELD_LIMITS, .max_len = LIMIT_LEN, .what = "limit"

/* clang-format off */
#define RATE_FIELDS \
        { STRING("rate_out", VALUE_LEN, "rate", check_rate_out) }, \
        { STRING("rate_in", VALUE_LEN, "rate", check_rate_in) }
/* addresses (vpsnet.c checks them against the pools), name servers and
 * search domains (glibc reads 3 and 6), port forwards to add */
#define NET_FIELDS \
        { STRINGS("ipadd", 2 * VS_NET_ADDRS_MAX, VALUE_LEN, "address", check_ipadd) }, \
        { STRINGS("nameserver", 3, VALUE_LEN, "name server", vs_net_check_nameserver) }, \
        { STRINGS("searchdomain", 6, DOMAIN_LEN, "search domain", vs_net_check_searchdomain) }, \
        { STRINGS("port_forward", VS_PORTFWD_MAX, VALUE_LEN, "port forward", check_forward) }
/* clang-format on */

static const vs_field_spec_t no_fields[] = { { NULL } };

static const vs_field_spec_t create_fields[] = {
        { STRING("template", NAME_LEN, "template name", check_template_name), .required = 1 },
        { STRING("slice", NAME_LEN, "slice name", check_slice_name) },
        { STRING("hostname", 64, "hostname", vs_parse_hostname) },
        { BOOL("privileged") },
        { STRING("procview", 3, "procview setting", check_on_off) },
        { LIMITS },
        { BOOL("force") },
        { BOOL("onboot") },
        { INT("bootorder", 0, VS_BOOTORDER_MAX) },
        { STRING("diskspace", VALUE_LEN, "disk space", check_diskspace) },
        { STRING("diskinodes", VALUE_LEN, "inode count", check_diskinodes) },
        RATE_FIELDS,
        NET_FIELDS,
        { NULL },
};

static const vs_field_spec_t stop_fields[] = {
        { INT("timeout_ms", 1, (long long)VS_STOP_TIMEOUT_MAX_MS) },
        { BOOL("fast") },
        { NULL },
};

static const vs_field_spec_t destroy_fields[] = { { BOOL("force") }, { NULL } };

static const vs_field_spec_t set_fields[] = {
        { LIMITS },
        { STRING("hostname", 64, "hostname", vs_parse_hostname) },
        { BOOL("force") },
        { BOOL("onboot") },
        { INT("bootorder", 0, VS_BOOTORDER_MAX) },
        { STRING("capability", LIST_LEN, "capability list", check_caps) },
        { BOOL("no_save") },
        RATE_FIELDS,
        NET_FIELDS,
        { STRINGS("ipdel", 2 * VS_NET_ADDRS_MAX, VALUE_LEN, "address", check_ipdel) },
        { STRINGS("port_forward_del", VS_PORTFWD_MAX, VALUE_LEN, "port forward",
                  check_forward_del) },
        { NULL },
};

static const vs_field_spec_t node_fields[] = { { LIMITS }, { NULL } };

static const vs_field_spec_t resize_fields[] = {
        { STRING("diskspace", VALUE_LEN, "disk space", check_diskspace), .required = 1 },
        { STRING("diskinodes", VALUE_LEN, "inode count", check_no_diskinodes) },
        { NULL },
};

static const vs_field_spec_t clone_fields[] = {
        { STRING("new", NAME_LEN, "VPS name", check_vps_name), .required = 1 },
        { STRING("hostname", 64, "hostname", vs_parse_hostname) },
        { NULL },
};

static int check_vps_field(const char *text, vs_error_t *err)
{
        if (vs_vps_field_find(text) < 0)
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "unknown field '%s'", text);
        return 0;
}

static const vs_field_spec_t list_fields[] = {
        { BOOL("disk") },
        /* only the VPS of this slice */
        { STRING("slice", NAME_LEN, "slice name", check_slice_name) },
        /* only these in each VPS's description (absent: all of them) */
        { STRINGS("fields", VS_VF_COUNT, 32, "field", check_vps_field) },
        { NULL },
};

static const vs_field_spec_t exec_fields[] = {
        { STRINGS("argv", EXEC_ARGS_MAX, ARG_LEN, "argument", NULL), .required = 1,
          .min_items = 1 },
        { BOOL("tty") },
        { INT("rows", 0, 65535) },
        { INT("cols", 0, 65535) },
        { STRING("term", VS_TERM_MAX, "terminal type", vs_term_check) },
        { NULL },
};

static const vs_field_spec_t build_fields[] = {
        { STRING("builder", 16, "builder", check_builder), .required = 1 },
        { STRING("suite", VALUE_LEN, "Debian suite", check_suite) },
        { STRING("include", LIST_LEN, "package list", check_packages) },
        { STRING("debs", PATH_LEN, "path", check_absolute) },
        { STRING("variant", 16, "variant", check_variant) },
        { STRING("mirror", URL_LEN, "mirror URL", check_mirror) },
        { STRING("http_proxy", URL_LEN, "proxy URL", check_proxy) },
        { NULL },
};

static const vs_field_spec_t import_fields[] = {
        { STRING("file", PATH_LEN, "archive path", check_archive), .required = 1 },
        { NULL },
};

static const vs_field_spec_t restore_fields[] = {
        { STRING("file", PATH_LEN, "backup path", check_absolute), .required = 1 },
        { STRING("new", NAME_LEN, "VPS name", check_vps_name) },
        { BOOL("keep_ip") },
        { NULL },
};

static int check_snapshot_name(const char *text, vs_error_t *err)
{
        return vs_parse_name(text, "snapshot name", err);
}

/* snapshot: the name is optional (vsd names it by the time) */
static const vs_field_spec_t snapshot_fields[] = {
        { STRING("snap", NAME_LEN, "snapshot name", check_snapshot_name) },
        { NULL },
};

static const vs_field_spec_t snapshot_named_fields[] = {
        { STRING("snap", NAME_LEN, "snapshot name", check_snapshot_name), .required = 1 },
        { NULL },
};

/* slice renew and usage: the slice by name; the expiry is DATE or
 * +DURATION, which vsd parses against its own clock */
static const vs_field_spec_t slice_renew_fields[] = {
        { STRING("slice", NAME_LEN, "slice name", check_slice_name), .required = 1 },
        { STRING("expires", VALUE_LEN, "expiry", NULL), .required = 1 },
        { NULL },
};

static const vs_field_spec_t slice_usage_fields[] = {
        { STRING("slice", NAME_LEN, "slice name", check_slice_name), .required = 1 },
        { NULL },
};

static int check_migrate_step(const char *text, vs_error_t *err)
{
        if (strcmp(text, "config") == 0 || strcmp(text, "first") == 0 ||
            strcmp(text, "next") == 0 || strcmp(text, "end") == 0)
                return 0;
        return vs_error_kind(err, VS_E_USAGE, EINVAL, "step must be config, first, next or end");
}

/* migrate-send: the config, a round of the layer (first: all of it,
 * next: what changed since the last), or end (its listing goes) */
static const vs_field_spec_t migrate_send_fields[] = {
        { STRING("step", 8, "migration step", check_migrate_step), .required = 1 },
        { NULL },
};

/* migrate-begin and -finish: the source's config; new_ip: the target's
 * pools' next free addresses instead of the VPS's own; start: run it */
static const vs_field_spec_t migrate_begin_fields[] = {
        { STRING("config", VS_MIGRATE_CONFIG_MAX, "config text", NULL), .required = 1 },
        { BOOL("new_ip") },
        { NULL },
};

static const vs_field_spec_t migrate_finish_fields[] = {
        { STRING("config", VS_MIGRATE_CONFIG_MAX, "config text", NULL), .required = 1 },
        { BOOL("new_ip") },
        { BOOL("start") },
        { STRING("from", 255, "source node", NULL) },
        { NULL },
};

/* A slice's owners: user names or numeric uids (vsd looks them up). */
static int check_user(const char *text, vs_error_t *err)
{
        if (!*text)
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "user name is empty");
        for (const char *p = text; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || strchr("._-", *p) || (*p == '$' && !p[1])))
                        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                             "'%s' is not a user name or uid", text);
        return 0;
}

/* A slice's templates: template names separated by commas. */
static int check_template_list(const char *text, vs_error_t *err)
{
        char word[NAME_LEN + 1];
        const char *p = text;

        while (*p) {
                size_t len = strcspn(p, ",");

                if (len == 0 || len > NAME_LEN)
                        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                             "'%s' is not a comma list of template names", text);
                memcpy(word, p, len);
                word[len] = '\0';
                if (vs_parse_name(word, "template name", err) < 0)
                        return -1;
                p += len + (p[len] == ',');
        }
        return 0;
}

static int check_size(const char *text, vs_error_t *err)
{
        uint64_t bytes;

        return vs_parse_size(text, &bytes, err);
}

static int check_when(const char *text, vs_error_t *err)
{
        int64_t when;

        return vs_parse_when(text, 0, "--expires", &when, err);
}

#define SLICE_VPS_MAX 100000
/* slice create and set: what a slice's file holds (create: owners too) */
/* clang-format off */
#define SLICE_FIELDS \
        { LIMITS }, \
        { STRING("diskspace", VALUE_LEN, "disk space", check_diskspace) }, \
        RATE_FIELDS, \
        { STRING("bytes_per_day", VALUE_LEN, "size", check_size) }, \
        { INT("max_vps", 0, SLICE_VPS_MAX) }, \
        { STRING("expires", VALUE_LEN, "time", check_when) }, \
        { STRING("templates", LIST_LEN, "template list", check_template_list) }
/* clang-format on */

static const vs_field_spec_t slice_create_fields[] = {
        { STRINGS("owners", 32, 32, "user", check_user), .required = 1, .min_items = 1 },
        SLICE_FIELDS,
        { NULL },
};

static const vs_field_spec_t slice_set_fields[] = {
        { STRINGS("owners", 32, 32, "user", check_user), .min_items = 1 },
        SLICE_FIELDS,
        { NULL },
};

static int check_until(const char *text, vs_error_t *err)
{
        int64_t when;

        return vs_parse_when(text, 0, "--until", &when, err);
}

static const vs_field_spec_t slice_loan_fields[] = {
        { STRING("to", NAME_LEN, "slice name", check_slice_name), .required = 1 },
        /* one of a limit (cpuunits, ram) or rate_out: vsd says which */
        { LIMITS },
        { STRING("rate_out", VALUE_LEN, "rate", check_rate_out) },
        { STRING("until", VALUE_LEN, "time", check_until) },
        { NULL },
};

static const vs_field_spec_t slice_revoke_fields[] = {
        { INT("id", 1, 1000000000), .required = 1 },
        { NULL },
};

static const vs_command_spec_t commands[] = {
        { VS_CMD_PING, VS_NAME_NONE, no_fields },
        { VS_CMD_CREATE, VS_NAME_VPS, create_fields },
        { VS_CMD_START, VS_NAME_VPS, no_fields },
        { VS_CMD_STOP, VS_NAME_VPS, stop_fields },
        { VS_CMD_RESTART, VS_NAME_VPS, stop_fields },
        { VS_CMD_DESTROY, VS_NAME_VPS, destroy_fields },
        { VS_CMD_STATUS, VS_NAME_VPS, no_fields },
        { VS_CMD_SET, VS_NAME_VPS, set_fields },
        { VS_CMD_NODE, VS_NAME_NONE, node_fields },
        { VS_CMD_RESIZE, VS_NAME_VPS, resize_fields },
        { VS_CMD_CLONE, VS_NAME_VPS, clone_fields },
        { VS_CMD_LIST, VS_NAME_NONE, list_fields },
        { VS_CMD_EXEC, VS_NAME_VPS, exec_fields },
        { VS_CMD_LOGS, VS_NAME_VPS, no_fields },
        { VS_CMD_CONSOLE, VS_NAME_VPS, no_fields },
        { VS_CMD_BEANCOUNTERS, VS_NAME_VPS, no_fields },
        { VS_CMD_TEMPLATE_BUILD, VS_NAME_TEMPLATE_OPTIONAL, build_fields },
        { VS_CMD_TEMPLATE_IMPORT, VS_NAME_TEMPLATE, import_fields },
        { VS_CMD_TEMPLATE_LIST, VS_NAME_NONE, no_fields },
        { VS_CMD_TEMPLATE_UNIFY, VS_NAME_NONE, no_fields },
        { VS_CMD_TEMPLATE_REMOVE, VS_NAME_TEMPLATE, no_fields },
        { VS_CMD_METRICS, VS_NAME_NONE, no_fields },
        { VS_CMD_EVENTS, VS_NAME_NONE, no_fields },
        { VS_CMD_BACKUP, VS_NAME_VPS, no_fields },
        { VS_CMD_RESTORE, VS_NAME_NONE, restore_fields },
        { VS_CMD_SNAPSHOT, VS_NAME_VPS, snapshot_fields },
        { VS_CMD_SNAPSHOT_LIST, VS_NAME_VPS, no_fields },
        { VS_CMD_SNAPSHOT_RESTORE, VS_NAME_VPS, snapshot_named_fields },
        { VS_CMD_SNAPSHOT_DELETE, VS_NAME_VPS, snapshot_named_fields },
        { VS_CMD_SLICE_RENEW, VS_NAME_NONE, slice_renew_fields },
        { VS_CMD_SLICE_USAGE, VS_NAME_NONE, slice_usage_fields },
        { VS_CMD_MIGRATE_SEND, VS_NAME_VPS, migrate_send_fields },
        { VS_CMD_MIGRATE_BEGIN, VS_NAME_VPS, migrate_begin_fields },
        { VS_CMD_MIGRATE_RECV, VS_NAME_VPS, no_fields },
        { VS_CMD_MIGRATE_FINISH, VS_NAME_VPS, migrate_finish_fields },
        { VS_CMD_SLICE_CREATE, VS_NAME_SLICE, slice_create_fields },
        { VS_CMD_SLICE_SET, VS_NAME_SLICE, slice_set_fields },
        { VS_CMD_SLICE_DESTROY, VS_NAME_SLICE, no_fields },
        { VS_CMD_SLICE_LIST, VS_NAME_NONE, no_fields },
        { VS_CMD_SLICE_STATUS, VS_NAME_SLICE, no_fields },
        { VS_CMD_SLICE_LOAN, VS_NAME_SLICE, slice_loan_fields },
        { VS_CMD_SLICE_LOANS, VS_NAME_NONE, no_fields },
        { VS_CMD_SLICE_REVOKE, VS_NAME_NONE, slice_revoke_fields },
};

const vs_command_spec_t *vs_commands(size_t *n)
{
        *n = sizeof(commands) / sizeof(commands[0]);
        return commands;
}

const vs_command_spec_t *vs_command_find(const char *cmd)
{
        for (size_t i = 0; cmd && i < sizeof(commands) / sizeof(commands[0]); i++)
                if (strcmp(commands[i].cmd, cmd) == 0)
                        return &commands[i];
        return NULL;
}

const vs_field_spec_t *vs_command_field(const vs_command_spec_t *spec, const char *key)
{
        for (const vs_field_spec_t *f = spec ? spec->fields : NULL; f && f->key; f++)
                if (strcmp(f->key, key) == 0)
                        return f;
        return NULL;
}

/* ---- the validator ---- */

static const char *type_phrase(json_object *value)
{
        switch (json_object_get_type(value)) {
        case json_type_boolean:
                return "a boolean";
        case json_type_double:
                return "a floating-point number";
        case json_type_int:
                return "an integer";
        case json_type_object:
                return "an object";
        case json_type_array:
                return "an array";
        case json_type_string:
                return "a string";
        default:
                return "null";
        }
}

static const char *field_type_phrase(vs_field_type_t type)
{
        switch (type) {
        case VS_FIELD_STRING:
                return "a string";
        case VS_FIELD_BOOL:
                return "a boolean";
        case VS_FIELD_INT:
                return "an integer";
        case VS_FIELD_STRINGS:
                return "an array of strings";
        default:
                return "an object of limits";
        }
}

static int malformed(vs_error_t *err, const char *fmt, ...) VS_PRINTF(2, 3);
static int malformed(vs_error_t *err, const char *fmt, ...)
{
        char text[sizeof(err->msg) - 32];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        return vs_error_kind(err, VS_E_USAGE, EPROTO, "malformed request: %s", text);
}

static int wrong_type(const char *path, json_object *value, const char *expected, vs_error_t *err)
{
        return malformed(err, "'%s' is %s, not %s", path, type_phrase(value), expected);
}

/* A string: its type, no NUL (json-c keeps the length; C stops at the
 * first NUL, so "run2\u0000x" would name run2), its length, its contents. */
static int check_string(const char *path, json_object *value, size_t max_len,
                        int (*check)(const char *, vs_error_t *), vs_error_t *err)
{
        const char *text;
        size_t len;

        if (!json_object_is_type(value, json_type_string))
                return wrong_type(path, value, "a string", err);
        text = json_object_get_string(value);
        len = (size_t)json_object_get_string_len(value);
        if (strlen(text) != len)
                return malformed(err, "'%s' has a NUL byte at position %zu", path,
                                 strlen(text) + 1);
        if (len > max_len)
                return malformed(err, "'%s' is too long (%zu bytes, at most %zu)", path, len,
                                 max_len);
        if (check && check(text, err) < 0)
                return vs_error_wrap(err, "'%s'", path);
        return 0;
}

static int check_int(const char *path, json_object *value, const vs_field_spec_t *f,
                     vs_error_t *err)
{
        long long n;

        if (!json_object_is_type(value, json_type_int))
                return wrong_type(path, value, "an integer", err);
        /* json-c holds what does not fit in 64 bits as the nearest bound,
         * which is outside every range here */
        n = (long long)json_object_get_int64(value);
        if (n < f->min || n > f->max)
                return vs_error_kind(err, VS_E_USAGE, ERANGE,
                                     "'%s' is out of range: %s (allowed %lld..%lld)", path,
                                     json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN),
                                     f->min, f->max);
        return 0;
}

static int check_strings(const char *path, json_object *value, const vs_field_spec_t *f,
                         vs_error_t *err)
{
        size_t n;

        if (!json_object_is_type(value, json_type_array))
                return wrong_type(path, value, "an array of strings", err);
        n = json_object_array_length(value);
        if (n < f->min_items)
                return malformed(err, "'%s' has %zu items, at least %zu", path, n, f->min_items);
        if (n > f->max_items)
                return malformed(err, "'%s' has %zu items, at most %zu", path, n, f->max_items);
        for (size_t i = 0; i < n; i++) {
                char item[PATH_TEXT_MAX];

                snprintf(item, sizeof(item), "%.96s[%zu]", path, i);
                if (check_string(item, json_object_array_get_idx(value, i), f->max_len, f->check,
                                 err) < 0)
                        return -1;
        }
        return 0;
}

/* {"cpulimit": "50%", ...}: keys by config key or option name, values as
 * the admin typed them, each parsed as vsd will parse it. */
static int check_limits(const char *path, json_object *value, const vs_field_spec_t *f,
                        vs_error_t *err)
{
        if (!json_object_is_type(value, json_type_object))
                return wrong_type(path, value, "an object of limits", err);
        json_object_object_foreach(value, key, text_obj)
        {
                char item[PATH_TEXT_MAX];
                vs_limits_t scratch = { 0 };
                int limit = vs_limit_find(key);

                snprintf(item, sizeof(item), "%.96s.%.64s", path, key);
                if (limit < 0)
                        return malformed(err, "'%s' is not a limit", item);
                if (check_string(item, text_obj, f->max_len, NULL, err) < 0)
                        return -1;
                if (vs_limits_parse_one(&scratch, (vs_limit_t)limit,
                                        json_object_get_string(text_obj), err) < 0)
                        return vs_error_wrap(err, "'%s'", item);
        }
        return 0;
}

static int check_field(const vs_field_spec_t *f, json_object *value, vs_error_t *err)
{
        char path[PATH_TEXT_MAX];

        snprintf(path, sizeof(path), "args.%.64s", f->key);
        switch (f->type) {
        case VS_FIELD_STRING:
                return check_string(path, value, f->max_len, f->check, err);
        case VS_FIELD_BOOL:
                if (!json_object_is_type(value, json_type_boolean))
                        return wrong_type(path, value, "a boolean", err);
                return 0;
        case VS_FIELD_INT:
                return check_int(path, value, f, err);
        case VS_FIELD_STRINGS:
                return check_strings(path, value, f, err);
        default:
                return check_limits(path, value, f, err);
        }
}

static int check_version(json_object *root, vs_error_t *err)
{
        json_object *version;
        long long n;

        if (!json_object_object_get_ex(root, "version", &version))
                return malformed(err, "'version' is missing (the protocol version, %d)",
                                 VS_PROTOCOL_VERSION);
        if (!json_object_is_type(version, json_type_int))
                return wrong_type("version", version, "an integer", err);
        n = (long long)json_object_get_int64(version);
        if (n != VS_PROTOCOL_VERSION)
                return vs_error_kind(err, VS_E_USAGE, EPROTO,
                                     "'version': protocol version %lld is not supported (vsd "
                                     "speaks %d)",
                                     n, VS_PROTOCOL_VERSION);
        return 0;
}

static const vs_command_spec_t *check_cmd(json_object *root, vs_error_t *err)
{
        json_object *cmd;
        const vs_command_spec_t *spec;

        if (!json_object_object_get_ex(root, "cmd", &cmd))
                return malformed(err, "'cmd' is missing"), NULL;
        if (check_string("cmd", cmd, sizeof(((vs_request_t *)0)->cmd) - 1, NULL, err) < 0)
                return NULL;
        spec = vs_command_find(json_object_get_string(cmd));
        if (!spec)
                vs_error_kind(err, VS_E_USAGE, EINVAL, "'cmd': unknown command '%s'",
                              json_object_get_string(cmd));
        return spec;
}

static int check_top_keys(json_object *root, vs_error_t *err)
{
        static const char *const known[] = { "version", "cmd", "name", "args" };

        json_object_object_foreach(root, key, value)
        {
                size_t i = 0;

                (void)value;
                while (i < sizeof(known) / sizeof(known[0]) && strcmp(key, known[i]) != 0)
                        i++;
                if (i == sizeof(known) / sizeof(known[0]))
                        return malformed(err, "'%.64s' is not a field of a request", key);
        }
        return 0;
}

static int check_name(json_object *root, const vs_command_spec_t *spec, vs_error_t *err)
{
        json_object *name;
        int given = json_object_object_get_ex(root, "name", &name);

        if (spec->name == VS_NAME_NONE)
                return given ? malformed(err, "'name' is not a field of %s", spec->cmd) : 0;
        if (!given)
                return spec->name == VS_NAME_TEMPLATE_OPTIONAL
                               ? 0
                               : malformed(err, "'name' is missing (%s needs a %s)", spec->cmd,
                                           spec->name == VS_NAME_VPS     ? "VPS name"
                                           : spec->name == VS_NAME_SLICE ? "slice name"
                                                                         : "template name");
        return check_string("name", name, VS_NAME_MAX,
                            spec->name == VS_NAME_VPS     ? check_vps_name
                            : spec->name == VS_NAME_SLICE ? check_slice_name
                                                          : check_template_name,
                            err);
}

static int check_args(json_object *root, const vs_command_spec_t *spec, vs_error_t *err)
{
        json_object *args = NULL;

        if (json_object_object_get_ex(root, "args", &args) &&
            !json_object_is_type(args, json_type_object))
                return wrong_type("args", args, "an object", err);
        if (args) {
                json_object_object_foreach(args, key, value)
                {
                        const vs_field_spec_t *f = vs_command_field(spec, key);

                        if (!f)
                                return malformed(err, "'args.%.64s' is not a field of %s", key,
                                                 spec->cmd);
                        if (check_field(f, value, err) < 0)
                                return -1;
                }
        }
        for (const vs_field_spec_t *f = spec->fields; f->key; f++)
                if (f->required && !json_object_object_get_ex(args, f->key, NULL))
                        return malformed(err, "'args.%s' is missing", f->key);
        return 0;
}

static int validate_root(json_object *root, vs_error_t *err)
{
        const vs_command_spec_t *spec;

        if (!root || !json_object_is_type(root, json_type_object))
                return malformed(err, "not a JSON object");
        if (check_version(root, err) < 0)
                return -1;
        spec = check_cmd(root, err);
        if (!spec || check_top_keys(root, err) < 0 || check_name(root, spec, err) < 0 ||
            check_args(root, spec, err) < 0)
                return -1;
        return 0;
}

int vs_request_validate(const vs_request_t *req, vs_error_t *err)
{
        vs_error_t local = { 0 };

        if (!err)
                err = &local;
        /* vs_error_* keep a quoted control byte from breaking the line */
        return validate_root(req ? req->root : NULL, err);
}

/* ---- typed accessors ---- */

/* The member of args declared as `type`; NULL when absent. */
static json_object *member(const vs_request_t *req, const char *key, vs_field_type_t type)
{
        const vs_field_spec_t *f = vs_command_field(req->spec, key);
        json_object *value = NULL;

        if (!f || f->type != type) {
                /* a handler out of step with the table: fail loudly, now */
                fprintf(stderr, "bug: %s reads '%s' as %s, which its table does not declare\n",
                        req->spec ? req->spec->cmd : "a request", key, field_type_phrase(type));
                abort();
        }
        json_object_object_get_ex(req->args, key, &value);
        return value;
}

const char *vs_req_str(const vs_request_t *req, const char *key)
{
        return member(req, key, VS_FIELD_STRING) ? vs_json_str(req->args, key) : NULL;
}

int vs_req_bool(const vs_request_t *req, const char *key)
{
        return member(req, key, VS_FIELD_BOOL) ? vs_json_bool(req->args, key) : 0;
}

long long vs_req_int(const vs_request_t *req, const char *key, long long absent)
{
        return member(req, key, VS_FIELD_INT) ? vs_json_int(req->args, key, absent) : absent;
}

json_object *vs_req_strings(const vs_request_t *req, const char *key)
{
        return member(req, key, VS_FIELD_STRINGS) ? vs_json_array(req->args, key) : NULL;
}

json_object *vs_req_limits(const vs_request_t *req, const char *key)
{
        return member(req, key, VS_FIELD_LIMITS) ? vs_json_object(req->args, key) : NULL;
}

/* ---- the table as JSON ---- */

static const char *name_rule_name(vs_name_rule_t rule)
{
        switch (rule) {
        case VS_NAME_VPS:
                return "vps";
        case VS_NAME_TEMPLATE:
                return "template";
        case VS_NAME_TEMPLATE_OPTIONAL:
                return "template-optional";
        case VS_NAME_SLICE:
                return "slice";
        default:
                return "none";
        }
}

static const char *field_type_name(vs_field_type_t type)
{
        static const char *const names[] = { "string", "bool", "int", "strings", "limits" };

        return names[type];
}

static json_object *field_json(const vs_field_spec_t *f)
{
        json_object *obj = json_object_new_object();

        json_object_object_add(obj, "key", json_object_new_string(f->key));
        json_object_object_add(obj, "type", json_object_new_string(field_type_name(f->type)));
        json_object_object_add(obj, "required", json_object_new_boolean(f->required));
        if (f->max_len)
                json_object_object_add(obj, "max_len", json_object_new_int64((int64_t)f->max_len));
        if (f->type == VS_FIELD_STRINGS) {
                json_object_object_add(obj, "min_items",
                                       json_object_new_int64((int64_t)f->min_items));
                json_object_object_add(obj, "max_items",
                                       json_object_new_int64((int64_t)f->max_items));
        }
        if (f->type == VS_FIELD_INT) {
                json_object_object_add(obj, "min", json_object_new_int64(f->min));
                json_object_object_add(obj, "max", json_object_new_int64(f->max));
        }
        if (f->what)
                json_object_object_add(obj, "check", json_object_new_string(f->what));
        return obj;
}

json_object *vs_protocol_schema(void)
{
        json_object *schema = json_object_new_object();
        json_object *list = json_object_new_array();
        json_object *limits = json_object_new_array();

        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
                json_object *cmd = json_object_new_object();
                json_object *args = json_object_new_array();

                json_object_object_add(cmd, "cmd", json_object_new_string(commands[i].cmd));
                json_object_object_add(cmd, "name",
                                       json_object_new_string(name_rule_name(commands[i].name)));
                for (const vs_field_spec_t *f = commands[i].fields; f->key; f++)
                        json_object_array_add(args, field_json(f));
                json_object_object_add(cmd, "args", args);
                json_object_array_add(list, cmd);
        }
        for (int i = 0; i < VS_LIM_COUNT; i++)
                json_object_array_add(limits, json_object_new_string(vs_limit_key((vs_limit_t)i)));
        json_object_object_add(schema, "version", json_object_new_int(VS_PROTOCOL_VERSION));
        json_object_object_add(schema, "commands", list);
        json_object_object_add(schema, "limits", limits);
        return schema;
}
