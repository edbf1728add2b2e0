/* vsctl <-> vsd: one JSON object per SOCK_SEQPACKET message, with fds passed
 * as SCM_RIGHTS. A request is {"version":1,"cmd":"start","name":"web1",
 * "args":{...}}; a reply is {"version":1,"ok":true,...} or
 * {"version":1,"ok":false,"kind":"not-found","errno":2,"error":"..."}.
 *
 * Every request vsd takes is described by one table (protocol/request.c):
 * its command, its name rule and each field of its args with the JSON type,
 * limits and contents check it must have. The decoder applies it to every
 * request before any handler runs; anything else (a wrong type, a missing or
 * unknown field, a NUL byte, an oversize value, a bad name) is refused with
 * a one-line usage error that names the field. */
#ifndef VS_PROTOCOL_H
#define VS_PROTOCOL_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "vs/cowfs.h"
#include "vs/error.h"
#include "vs/kvfile.h"
#include "vs/limits.h"
#include "vs/procview.h"
#include "vs/reply.h"

#define VS_PROTOCOL_VERSION 1
/* A message up to VS_MSG_INLINE_MAX bytes is one packet; a larger one is
 * sent as a sealed memfd passed with an envelope {"version":1,"memfd":LEN}
 * (one of the VS_MSG_FDS_MAX fds), which vs_msg_recv opens. A request may
 * have VS_REQUEST_MAX bytes, a reply VS_REPLY_MAX. */
#define VS_MSG_INLINE_MAX (64U << 10)
#define VS_REQUEST_MAX (1U << 20)
#define VS_REPLY_MAX (256U << 20)
#define VS_MSG_FDS_MAX 4 /* = VS_FDPASS_MAX */

/* The commands, one name for vsctl and vsd. */
#define VS_CMD_PING "ping"
#define VS_CMD_CREATE "create"
#define VS_CMD_START "start"
#define VS_CMD_STOP "stop"
#define VS_CMD_RESTART "restart"
#define VS_CMD_DESTROY "destroy"
#define VS_CMD_STATUS "status"
#define VS_CMD_SET "set"
#define VS_CMD_NODE "node"
#define VS_CMD_RESIZE "resize"
#define VS_CMD_CLONE "clone"
#define VS_CMD_LIST "list"
#define VS_CMD_EXEC "exec"
#define VS_CMD_LOGS "logs"
#define VS_CMD_CONSOLE "console"
#define VS_CMD_BEANCOUNTERS "beancounters"
#define VS_CMD_TEMPLATE_BUILD "template-build"
#define VS_CMD_TEMPLATE_IMPORT "template-import"
#define VS_CMD_TEMPLATE_LIST "template-list"
#define VS_CMD_TEMPLATE_UNIFY "template-unify"
#define VS_CMD_TEMPLATE_REMOVE "template-remove"
#define VS_CMD_METRICS "metrics"
#define VS_CMD_EVENTS "events"
#define VS_CMD_BACKUP "backup"
#define VS_CMD_RESTORE "restore"
#define VS_CMD_SNAPSHOT "snapshot"
#define VS_CMD_SNAPSHOT_LIST "snapshot-list"
#define VS_CMD_SNAPSHOT_RESTORE "snapshot-restore"
#define VS_CMD_SNAPSHOT_DELETE "snapshot-delete"
/* a slice's expiry and byte budget (args.slice names it) */
#define VS_CMD_SLICE_RENEW "slice-renew"
#define VS_CMD_SLICE_USAGE "slice-usage"
/* migration (vsctl migrate conducts): the source's side sends its config
 * and its own layer (tar --listed-incremental rounds); the target's
 * begins (reserves the name, a staging directory held while the begin
 * connection stays open), receives each round and finishes */
#define VS_CMD_MIGRATE_SEND "migrate-send"
#define VS_CMD_MIGRATE_BEGIN "migrate-begin"
#define VS_CMD_MIGRATE_RECV "migrate-recv"
#define VS_CMD_MIGRATE_FINISH "migrate-finish"
/* the largest config text a migration carries */
#define VS_MIGRATE_CONFIG_MAX (64U << 10)
/* slices (runtime/slicecmd.c): the slice is the request's name */
#define VS_CMD_SLICE_CREATE "slice-create"
#define VS_CMD_SLICE_SET "slice-set"
#define VS_CMD_SLICE_DESTROY "slice-destroy"
#define VS_CMD_SLICE_LIST "slice-list"
#define VS_CMD_SLICE_STATUS "slice-status"
#define VS_CMD_SLICE_LOAN "slice-loan"
#define VS_CMD_SLICE_LOANS "slice-loans"
#define VS_CMD_SLICE_REVOKE "slice-revoke"

/* The longest stop timeout a request may ask for (vsctl --timeout). */
#define VS_STOP_TIMEOUT_MAX_MS (24ULL * 3600 * 1000)
/* --bootorder: 0 (the default) up to this; the higher starts first */
#define VS_BOOTORDER_MAX 1000000000LL

typedef enum {
        VS_FIELD_STRING,  /* a string of at most max_len bytes, no NUL */
        VS_FIELD_BOOL,    /* true or false, nothing that reads like one */
        VS_FIELD_INT,     /* an integer in [min, max] */
        VS_FIELD_STRINGS, /* an array of min_items..max_items such strings */
        VS_FIELD_LIMITS,  /* an object of such strings keyed by limit name */
} vs_field_type_t;

/* What the request's "name" is. */
typedef enum {
        VS_NAME_NONE,              /* the command takes no name: none may be given */
        VS_NAME_VPS,               /* a VPS name (DESIGN.md section 3) */
        VS_NAME_TEMPLATE,          /* a template name */
        VS_NAME_TEMPLATE_OPTIONAL, /* a template name, or none */
        VS_NAME_SLICE,             /* a slice name */
} vs_name_rule_t;

typedef struct {
        const char *key;
        vs_field_type_t type;
        int required;
        size_t max_len;              /* strings, items, limit values: bytes */
        size_t min_items, max_items; /* VS_FIELD_STRINGS */
        long long min, max;          /* VS_FIELD_INT */
        /* What the contents are checked as ("hostname"), and the check of a
         * string, of each item, of each limit value (NULL: any text). */
        const char *what;
        int (*check)(const char *text, vs_error_t *err);
} vs_field_spec_t;

typedef struct {
        const char *cmd;
        vs_name_rule_t name;
        const vs_field_spec_t *fields; /* ends with a NULL key */
} vs_command_spec_t;

/* The table: *n commands. */
const vs_command_spec_t *vs_commands(size_t *n);
const vs_command_spec_t *vs_command_find(const char *cmd);
const vs_field_spec_t *vs_command_field(const vs_command_spec_t *spec, const char *key);
/* The table as JSON ({"commands":[{"cmd","name","args":[...]}]}), for
 * tools and tests. */
json_object *vs_protocol_schema(void);

typedef struct {
        char cmd[32];
        char name[64];     /* empty when the command takes no name */
        json_object *args; /* owned by the request; never NULL after decode */
        json_object *root;
        const vs_command_spec_t *spec; /* the command's entry in the table */
} vs_request_t;

/* A terminal type as exec passes it on in TERM: letters, digits, . _ + -,
 * at most VS_TERM_MAX of them. */
#define VS_TERM_MAX 64
int vs_term_check(const char *text, vs_error_t *err);

/* Checks req->root against the table: the version, the command, the
 * name, every field of args. Touches nothing; the fuzzer's entry point. */
int vs_request_validate(const vs_request_t *req, vs_error_t *err);
/* Decodes and validates a request; on failure err says what is wrong. */
int vs_request_decode(const char *buf, size_t len, vs_request_t *req, vs_error_t *err);
void vs_request_free(vs_request_t *req);
/* Builds a request object (args may be NULL). */
json_object *vs_request_new(const char *cmd, const char *name, json_object *args);

json_object *vs_reply_ok(void);
/* A VPS's description (vs/reply.h) as list and status send it: the fields
 * in info->has, each with its JSON type. */
json_object *vs_reply_vps(const vs_vps_info_t *info);
/* The message vsd sends an events subscriber: {"version","ok","event":
 * {members..., "time", "type", "vps"}}, time in seconds since the epoch. */
json_object *vs_reply_event(const vs_event_t *ev, double time);
/* The replies about the node and the template store (protocol/replies.c):
 * ping (vsd's root, cgroup mode, pid), node, a VPS's beancounters (uid:
 * its user_beancounters uid), the template list (users[i]: how many VPS
 * use list[i]); unify's figures are added to a worker's reply. */
json_object *vs_reply_ping(const char *root, const char *cgroup_mode, long pid, const char *role);
json_object *vs_reply_node(const vs_node_report_t *r);
json_object *vs_reply_beancounters(unsigned long uid, const vs_beancounter_t *bc, size_t n);
json_object *vs_reply_templates(const vs_template_info_t *list, const int *users, size_t n,
                                const vs_template_store_usage_t *usage);
void vs_reply_add_unify(json_object *reply, const vs_template_unify_t *r);
/* status ({"vps": {...}}), list ({"vps": [...]}, one add per VPS) */
json_object *vs_reply_status(const vs_vps_info_t *info);
json_object *vs_reply_list_new(void);
void vs_reply_list_add(json_object *reply, const vs_vps_info_t *info);
/* slice status ({"slice": {...}}), slice list ({"slices": [...]}) */
json_object *vs_reply_slice(const vs_slice_info_t *info);
json_object *vs_reply_slice_list_new(void);
void vs_reply_slice_list_add(json_object *reply, const vs_slice_info_t *info);
/* slice loans ({"loans": [...]}) */
json_object *vs_reply_loans(const vs_loan_info_t *loans, size_t n);
/* destroy of a VPS that is not there: {"absent": true} */
json_object *vs_reply_absent(void);
/* the name of the VPS a request made (restore) */
json_object *vs_reply_named(const char *name);
/* The same name added to a reply made already (a worker's). */
void vs_reply_add_name(json_object *reply, const char *name);
/* a text of len bytes (metrics) */
json_object *vs_reply_text(const char *text, size_t len);
/* snapshot: the snapshot taken, how long it took and how long of that the
 * VPS was frozen; snapshot list: {"snapshots": [...]} */
void vs_reply_add_snapshot_taken(json_object *reply, const char *snap, long long copy_ms,
                                 int frozen, long long frozen_ms);
json_object *vs_reply_snapshots(const vs_snapshot_info_t *snaps, size_t n);
/* exec: the process started ({"pid"}); a template build under way
 * ({"progress": true}, its output on the fd beside); the process's end
 * ({"exit": status}, added to the last reply), or an exec that failed to
 * start, with the exit status a shell would give */
json_object *vs_reply_started(long pid);
json_object *vs_reply_progress(void);
json_object *vs_reply_error_exit(const vs_error_t *err, int status);
void vs_reply_add_exit(json_object *reply, int status);
/* slice usage and slice renew: {"slice": {name, expires, left, used,
 * budget, window_start, resets, throttled, throttle_rate}}; add puts the
 * same members into another reply's object (slice status) */
json_object *vs_reply_slice_time(const vs_slice_time_t *t);
void vs_reply_add_slice_time(json_object *obj, const vs_slice_time_t *t);
/* A reply as text (a worker's, through a pipe: NUL-terminated) read back:
 * NULL unless it is a JSON object. */
json_object *vs_reply_from_text(const char *text);
json_object *vs_reply_error(const vs_error_t *err);
/* Turns an error reply into err (returns -1), an ok reply into 0. */
int vs_reply_check(json_object *reply, vs_error_t *err);

/* Sends one message of any size up to VS_REPLY_MAX with up to
 * VS_MSG_FDS_MAX fds (one fewer above VS_MSG_INLINE_MAX). */
int vs_msg_send(int sock, json_object *msg, const int *fds, int nfds, vs_error_t *err);
/* Parses the bytes of one received message (exactly len of them, no NUL
 * needed after them) as vs_msg_recv does; the fuzzer's entry point. */
int vs_msg_parse(const char *buf, size_t len, json_object **msg, vs_error_t *err);
/* Whether a request is within VS_REQUEST_MAX: else a usage error that says
 * its size and the limit. */
int vs_request_fits(json_object *req, vs_error_t *err);
/* Receives one message; *msg is NULL at end of stream. Received fds are
 * CLOEXEC; *nfds says how many. */
int vs_msg_recv(int sock, json_object **msg, int *fds, int *nfds, vs_error_t *err);
/* Receives a request (vsd): at most VS_REQUEST_MAX bytes, else a usage
 * error; fds that came with it are closed. */
int vs_request_recv(int sock, json_object **msg, vs_error_t *err);
/* Receives and decodes one request (vsd): 1 with req filled (the caller
 * frees it), 0 when the peer is gone, -1 with err for the peer (too large,
 * not JSON, refused by the table). */
int vs_request_read(int sock, vs_request_t *req, vs_error_t *err);

/* The fields of a decoded request, as the table declares them: absent is
 * NULL, 0 or `absent`. Reading a field the command's table does not declare
 * with that type is a bug in the caller and aborts. */
const char *vs_req_str(const vs_request_t *req, const char *key);
int vs_req_bool(const vs_request_t *req, const char *key);
long long vs_req_int(const vs_request_t *req, const char *key, long long absent);
json_object *vs_req_strings(const vs_request_t *req, const char *key); /* an array */
json_object *vs_req_limits(const vs_request_t *req, const char *key);  /* an object */
/* The same as plain C (protocol/args.c), for the handlers: */
/* whether the request gives the field at all */
int vs_req_has(const vs_request_t *req, const char *key);
/* a VS_FIELD_STRINGS field as a NULL-terminated malloc'd copy (NULL when
 * absent), its count in *n (n may be NULL) */
char **vs_req_words(const vs_request_t *req, const char *key, size_t *n);
/* a VS_FIELD_STRINGS field of VPS field names as a set; absent: all */
vs_vps_fields_t vs_req_fields(const vs_request_t *req, const char *key);
/* a VS_FIELD_LIMITS field as key = value lines in their order, into out
 * (emptied first; empty when absent; the caller frees it) */
void vs_req_texts(const vs_request_t *req, const char *key, vs_kv_t *out);
/* a VS_FIELD_LIMITS field ({"cpulimit": "50%", ...}, keyed by config key or
 * option name, values as the admin typed them) parsed into *l (zeroed first;
 * nothing set when absent): vsd parses them again, the socket is the
 * contract, not vsctl; -1 with err for a value vs_limits_parse_one refuses */
int vs_req_limits_parse(const vs_request_t *req, const char *key, vs_limits_t *l, vs_error_t *err);
/* For a reader that looks at one field in every command (authz.c): the
 * field if this command's table declares it with that type and the
 * request gives it, else absent (never the abort above). */
int vs_req_given(const vs_request_t *req, const char *key);
const char *vs_req_given_str(const vs_request_t *req, const char *key);
int vs_req_given_bool(const vs_request_t *req, const char *key);

/* Members of any JSON object (replies): a member of another type reads as
 * absent, never converted. A string with a NUL byte is absent too; a
 * boolean is true only when it is JSON true. */
const char *vs_json_str(json_object *obj, const char *key);
int vs_json_bool(json_object *obj, const char *key);
long long vs_json_int(json_object *obj, const char *key, long long fallback);
json_object *vs_json_array(json_object *obj, const char *key);
json_object *vs_json_object(json_object *obj, const char *key);

#define cleanup_json __attribute__((cleanup(vs_json_putp)))
static inline void vs_json_putp(json_object **obj)
{
        if (*obj)
                json_object_put(*obj);
}

#endif
