#include "vs/protocol.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vs/cleanup.h"
#include "vs/fdpass.h"
#include "vs/fsutil.h"

/* Parses exactly len bytes as one JSON value (strict: no trailing commas,
 * nothing after the value); NULL when it is not that. */
static json_object *parse_exact(const char *buf, size_t len)
{
        json_tokener *tok = json_tokener_new();
        json_object *root;

        if (!tok)
                abort();
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        root = len <= VS_MSG_MAX ? json_tokener_parse_ex(tok, buf, (int)len) : NULL;
        if (root && json_tokener_get_parse_end(tok) != len) {
                json_object_put(root);
                root = NULL;
        }
        json_tokener_free(tok);
        return root;
}

static size_t nul_escapes(const char *buf, size_t len)
{
        size_t n = 0;

        /* outside strings valid JSON has no backslash; inside, each escape
         * is a backslash and one character (or u and four hex digits) */
        for (size_t i = 0; i + 1 < len; i++) {
                if (buf[i] != '\\')
                        continue;
                if (buf[i + 1] == 'u' && i + 5 < len && memcmp(buf + i + 2, "0000", 4) == 0)
                        n++;
                i++;
        }
        return n;
}

static size_t nul_bytes(json_object *obj)
{
        size_t n = 0;

        switch (json_object_get_type(obj)) {
        case json_type_string: {
                const char *text = json_object_get_string(obj);
                size_t len = (size_t)json_object_get_string_len(obj);

                for (size_t i = 0; i < len; i++)
                        n += text[i] == '\0';
                return n;
        }
        case json_type_array:
                for (size_t i = 0; i < json_object_array_length(obj); i++)
                        n += nul_bytes(json_object_array_get_idx(obj, i));
                return n;
        case json_type_object: {
                json_object_object_foreach(obj, key, value)
                {
                        (void)key;
                        n += nul_bytes(value);
                }
                return n;
        }
        default:
                return 0;
        }
}

/* json-c cuts an object's key at a NUL ("force\u0000x" becomes "force"),
 * where it keeps a string value whole: a \u0000 in the text that no value
 * holds was in a key. */
static int check_keys(const char *buf, size_t len, json_object *root, const char *what,
                      vs_error_t *err)
{
        if (nul_escapes(buf, len) > nul_bytes(root))
                return vs_error_kind(err, VS_E_USAGE, EPROTO,
                                     "malformed %s: a field name has a NUL byte", what);
        return 0;
}

int vs_request_decode(const char *buf, size_t len, vs_request_t *req, vs_error_t *err)
{
        const char *cmd, *name;

        memset(req, 0, sizeof(*req));
        req->root = parse_exact(buf, len);
        if (!req->root)
                return vs_error_kind(err, VS_E_USAGE, EPROTO, "malformed request: not JSON");
        if (check_keys(buf, len, req->root, "request", err) < 0 ||
            vs_request_validate(req, err) < 0) {
                vs_request_free(req);
                return -1;
        }
        /* the table has checked the types and lengths of all of these; a
         * validator that let one through must not make a request of it */
        cmd = vs_json_str(req->root, "cmd");
        name = vs_json_str(req->root, "name");
        req->spec = vs_command_find(cmd);
        if (!req->spec || strlen(cmd) >= sizeof(req->cmd) ||
            (name && strlen(name) >= sizeof(req->name))) {
                vs_request_free(req);
                return vs_error_set(err, EPROTO, "request passed the table but cannot be read");
        }
        vs_strlcpy(req->cmd, cmd, sizeof(req->cmd));
        vs_strlcpy(req->name, name ? name : "", sizeof(req->name));
        req->args = vs_json_object(req->root, "args");
        if (!req->args) {
                req->args = json_object_new_object();
                json_object_object_add(req->root, "args", req->args);
        }
        return 0;
}

void vs_request_free(vs_request_t *req)
{
        if (req->root)
                json_object_put(req->root);
        memset(req, 0, sizeof(*req));
}

json_object *vs_request_new(const char *cmd, const char *name, json_object *args)
{
        json_object *req = json_object_new_object();

        json_object_object_add(req, "version", json_object_new_int(VS_PROTOCOL_VERSION));
        json_object_object_add(req, "cmd", json_object_new_string(cmd));
        if (name)
                json_object_object_add(req, "name", json_object_new_string(name));
        json_object_object_add(req, "args", args ? args : json_object_new_object());
        return req;
}

json_object *vs_reply_ok(void)
{
        json_object *reply = json_object_new_object();

        json_object_object_add(reply, "version", json_object_new_int(VS_PROTOCOL_VERSION));
        json_object_object_add(reply, "ok", json_object_new_boolean(1));
        return reply;
}

json_object *vs_reply_error(const vs_error_t *err)
{
        json_object *reply = json_object_new_object();

        json_object_object_add(reply, "version", json_object_new_int(VS_PROTOCOL_VERSION));
        json_object_object_add(reply, "ok", json_object_new_boolean(0));
        json_object_object_add(reply, "kind",
                               json_object_new_string(vs_error_kind_name(err->kind)));
        json_object_object_add(reply, "errno", json_object_new_int(err->errnum));
        json_object_object_add(reply, "error", json_object_new_string(err->msg));
        return reply;
}

int vs_reply_check(json_object *reply, vs_error_t *err)
{
        const char *message;

        if (!reply || !json_object_is_type(reply, json_type_object))
                return vs_error_kind(err, VS_E_INTERNAL, EPROTO, "malformed reply from vsd");
        if (vs_json_int(reply, "version", -1) != VS_PROTOCOL_VERSION)
                return vs_error_kind(err, VS_E_INTERNAL, EPROTO,
                                     "vsd speaks another protocol version (%lld, vsctl %d)",
                                     vs_json_int(reply, "version", -1), VS_PROTOCOL_VERSION);
        if (vs_json_bool(reply, "ok"))
                return 0;
        message = vs_json_str(reply, "error");
        return vs_error_kind(
                err, (vs_error_kind_t)vs_error_kind_from_name(vs_json_str(reply, "kind")),
                (int)vs_json_int(reply, "errno", 0), "%s", message ? message : "unknown error");
}

int vs_msg_send(int sock, json_object *msg, const int *fds, int nfds, vs_error_t *err)
{
        size_t len;
        const char *text = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN, &len);

        if (len > VS_MSG_MAX)
                return vs_error_set(err, EMSGSIZE, "message of %zu bytes is too large", len);
        if (nfds < 0 || nfds > VS_MSG_FDS_MAX)
                return vs_error_set(err, EINVAL, "cannot pass %d fds (at most %d)", nfds,
                                    VS_MSG_FDS_MAX);
        if (vs_send_fds(sock, text, len, fds, nfds) < 0)
                return vs_error_errno(err, "send");
        return 0;
}

/* A message that is refused takes its fds with it. */
static void drop_fds(int *fds, int *nfds)
{
        for (int i = 0; fds && nfds && i < *nfds; i++)
                close(fds[i]);
        if (nfds)
                *nfds = 0;
}

int vs_msg_parse(const char *buf, size_t len, json_object **msg, vs_error_t *err)
{
        *msg = parse_exact(buf, len);
        if (!*msg)
                return vs_error_kind(err, VS_E_USAGE, EPROTO, "malformed message: not JSON");
        if (check_keys(buf, len, *msg, "message", err) < 0) {
                json_object_put(*msg);
                *msg = NULL;
                return -1;
        }
        return 0;
}

int vs_msg_recv(int sock, json_object **msg, int *fds, int *nfds, vs_error_t *err)
{
        cleanup_free char *buf = vs_xmalloc(VS_MSG_MAX + 1);
        int truncated = 0;
        ssize_t got;

        *msg = NULL;
        got = vs_recv_fds(sock, buf, VS_MSG_MAX, fds, nfds, &truncated);
        if (got < 0)
                return vs_error_errno(err, "receive");
        if (got == 0)
                return 0;
        if (truncated) {
                drop_fds(fds, nfds);
                return vs_error_set(err, EMSGSIZE, "message too large");
        }
        buf[got] = '\0'; /* the parser reads got bytes; nothing else may read more */
        if (vs_msg_parse(buf, (size_t)got, msg, err) < 0) {
                drop_fds(fds, nfds);
                return -1;
        }
        return 0;
}

static json_object *typed_member(json_object *obj, const char *key, json_type type)
{
        json_object *field;

        if (!obj || !json_object_object_get_ex(obj, key, &field) ||
            !json_object_is_type(field, type))
                return NULL;
        return field;
}

const char *vs_json_str(json_object *obj, const char *key)
{
        json_object *field = typed_member(obj, key, json_type_string);
        const char *text = field ? json_object_get_string(field) : NULL;

        /* a C string would stop at the NUL and mean something else */
        if (text && strlen(text) != (size_t)json_object_get_string_len(field))
                return NULL;
        return text;
}

int vs_json_bool(json_object *obj, const char *key)
{
        json_object *field = typed_member(obj, key, json_type_boolean);

        return field ? json_object_get_boolean(field) : 0;
}

long long vs_json_int(json_object *obj, const char *key, long long fallback)
{
        json_object *field = typed_member(obj, key, json_type_int);

        return field ? (long long)json_object_get_int64(field) : fallback;
}

json_object *vs_json_array(json_object *obj, const char *key)
{
        return typed_member(obj, key, json_type_array);
}

json_object *vs_json_object(json_object *obj, const char *key)
{
        return typed_member(obj, key, json_type_object);
}
