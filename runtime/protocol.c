#include "vs/protocol.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "vs/cleanup.h"
#include "vs/fdpass.h"
#include "vs/fsutil.h"

static int copy_field(char *dst, size_t size, json_object *root, const char *key, int required,
                      vs_error_t *err)
{
        json_object *field;
        const char *value;

        if (!json_object_object_get_ex(root, key, &field)) {
                if (required)
                        return vs_error_kind(err, VS_E_USAGE, EPROTO, "malformed request: no '%s'",
                                             key);
                dst[0] = '\0';
                return 0;
        }
        if (!json_object_is_type(field, json_type_string))
                return vs_error_kind(err, VS_E_USAGE, EPROTO,
                                     "malformed request: '%s' is not a string", key);
        value = json_object_get_string(field);
        if (strlen(value) >= size)
                return vs_error_kind(err, VS_E_USAGE, EPROTO, "malformed request: '%s' is too long",
                                     key);
        strcpy(dst, value);
        return 0;
}

static int check_version(json_object *root, vs_error_t *err)
{
        json_object *version;

        if (!json_object_object_get_ex(root, "version", &version) ||
            !json_object_is_type(version, json_type_int))
                return vs_error_kind(err, VS_E_USAGE, EPROTO,
                                     "malformed request: no protocol version");
        if (json_object_get_int64(version) != VS_PROTOCOL_VERSION)
                return vs_error_kind(err, VS_E_USAGE, EPROTO,
                                     "protocol version %lld is not supported (vsd speaks %d)",
                                     (long long)json_object_get_int64(version),
                                     VS_PROTOCOL_VERSION);
        return 0;
}

int vs_request_decode(const char *buf, size_t len, vs_request_t *req, vs_error_t *err)
{
        json_tokener *tok = json_tokener_new();
        json_object *root, *args;

        memset(req, 0, sizeof(*req));
        if (!tok)
                abort();
        root = json_tokener_parse_ex(tok, buf, (int)len);
        if (!root || json_tokener_get_parse_end(tok) != len) {
                json_tokener_free(tok);
                if (root)
                        json_object_put(root);
                return vs_error_kind(err, VS_E_USAGE, EPROTO, "malformed request: not JSON");
        }
        json_tokener_free(tok);
        req->root = root;
        if (!json_object_is_type(root, json_type_object)) {
                vs_request_free(req);
                return vs_error_kind(err, VS_E_USAGE, EPROTO,
                                     "malformed request: not a JSON object");
        }
        if (check_version(root, err) < 0 ||
            copy_field(req->cmd, sizeof(req->cmd), root, "cmd", 1, err) < 0 ||
            copy_field(req->name, sizeof(req->name), root, "name", 0, err) < 0) {
                vs_request_free(req);
                return -1;
        }
        if (json_object_object_get_ex(root, "args", &args)) {
                if (!json_object_is_type(args, json_type_object)) {
                        vs_request_free(req);
                        return vs_error_kind(err, VS_E_USAGE, EPROTO,
                                             "malformed request: 'args' is not an object");
                }
                req->args = args;
        } else {
                req->args = json_object_new_object();
                json_object_object_add(root, "args", req->args);
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
                return vs_error_kind(err, VS_E_DAEMON, EPROTO, "malformed reply from vsd");
        if (vs_json_int(reply, "version", -1) != VS_PROTOCOL_VERSION)
                return vs_error_kind(err, VS_E_DAEMON, EPROTO,
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
        *msg = json_tokener_parse(buf);
        if (!*msg) {
                drop_fds(fds, nfds);
                return vs_error_kind(err, VS_E_DAEMON, EPROTO, "malformed message: not JSON");
        }
        return 0;
}

const char *vs_json_str(json_object *obj, const char *key)
{
        json_object *field;

        if (!obj || !json_object_object_get_ex(obj, key, &field) ||
            !json_object_is_type(field, json_type_string))
                return NULL;
        return json_object_get_string(field);
}

int vs_json_bool(json_object *obj, const char *key)
{
        json_object *field;

        if (!obj || !json_object_object_get_ex(obj, key, &field))
                return 0;
        return json_object_get_boolean(field);
}

long long vs_json_int(json_object *obj, const char *key, long long fallback)
{
        json_object *field;

        if (!obj || !json_object_object_get_ex(obj, key, &field) ||
            !json_object_is_type(field, json_type_int))
                return fallback;
        return (long long)json_object_get_int64(field);
}
