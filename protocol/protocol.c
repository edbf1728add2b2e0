#include "vs/protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

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
        root = len <= VS_REPLY_MAX ? json_tokener_parse_ex(tok, buf, (int)len) : NULL;
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

/* A message above VS_MSG_INLINE_MAX goes as a sealed memfd, the last fd of
 * an envelope {"version":1,"memfd":LEN}: a SOCK_SEQPACKET message must fit
 * the socket's send buffer whole, and no reply should depend on that. */
static int body_memfd(const char *text, size_t len, vs_error_t *err)
{
        cleanup_close int fd = memfd_create("vs-msg", MFD_CLOEXEC | MFD_ALLOW_SEALING);

        if (fd < 0)
                return vs_error_errno(err, "memfd_create");
        for (size_t off = 0; off < len;) {
                ssize_t n = write(fd, text + off, len - off);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return vs_error_errno(err, "write message body");
                off += (size_t)n;
        }
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
                return vs_error_errno(err, "seal message body");
        return steal_fd(fd);
}

static int send_via_memfd(int sock, const char *text, size_t len, const int *fds, int nfds,
                          vs_error_t *err)
{
        cleanup_json json_object *envelope = json_object_new_object();
        int all[VS_MSG_FDS_MAX];
        const char *head;
        size_t head_len;
        int rc;

        if (nfds > VS_MSG_FDS_MAX - 1)
                return vs_error_set(err, EINVAL, "cannot pass %d fds with a large message", nfds);
        json_object_object_add(envelope, "version", json_object_new_int(VS_PROTOCOL_VERSION));
        json_object_object_add(envelope, "memfd", json_object_new_int64((int64_t)len));
        head = json_object_to_json_string_length(envelope, JSON_C_TO_STRING_PLAIN, &head_len);
        for (int i = 0; i < nfds; i++)
                all[i] = fds[i];
        all[nfds] = body_memfd(text, len, err);
        if (all[nfds] < 0)
                return -1;
        rc = vs_send_fds(sock, head, head_len, all, nfds + 1);
        close(all[nfds]);
        if (rc < 0)
                return vs_error_errno(err, "send");
        return 0;
}

int vs_msg_send(int sock, json_object *msg, const int *fds, int nfds, vs_error_t *err)
{
        size_t len;
        const char *text = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN, &len);

        if (len > VS_REPLY_MAX)
                return vs_error_set(err, EMSGSIZE, "message of %zu bytes is too large", len);
        if (nfds < 0 || nfds > VS_MSG_FDS_MAX)
                return vs_error_set(err, EINVAL, "cannot pass %d fds (at most %d)", nfds,
                                    VS_MSG_FDS_MAX);
        if (len > VS_MSG_INLINE_MAX)
                return send_via_memfd(sock, text, len, fds, nfds, err);
        if (vs_send_fds(sock, text, len, fds, nfds) < 0)
                return vs_error_errno(err, "send");
        return 0;
}

static int request_too_large(size_t len, vs_error_t *err)
{
        return vs_error_kind(err, VS_E_USAGE, EMSGSIZE,
                             "request of %zu bytes is over the limit of %u bytes", len,
                             VS_REQUEST_MAX);
}

int vs_request_fits(json_object *req, vs_error_t *err)
{
        size_t len;

        json_object_to_json_string_length(req, JSON_C_TO_STRING_PLAIN, &len);
        return len > VS_REQUEST_MAX ? request_too_large(len, err) : 0;
}

/* A message refused takes its fds with it. */
static void drop_fds(int *fds, int *nfds)
{
        for (int i = 0; fds && nfds && i < *nfds; i++)
                close(fds[i]);
        if (nfds)
                *nfds = 0;
}

/* The envelope of a body in a memfd: LEN, or 0 when msg is no envelope. */
static size_t envelope_len(json_object *msg)
{
        json_object *len;

        if (!json_object_is_type(msg, json_type_object) || json_object_object_length(msg) != 2 ||
            vs_json_int(msg, "version", -1) != VS_PROTOCOL_VERSION ||
            !json_object_object_get_ex(msg, "memfd", &len) ||
            !json_object_is_type(len, json_type_int) || json_object_get_int64(len) <= 0)
                return 0;
        return (size_t)json_object_get_int64(len);
}

/* Reads the body: a memfd sealed against every change (so that what is
 * parsed is what was sent, and a FIFO or a growing file cannot stall or
 * fool the reader) of exactly len bytes, at most max. */
static char *read_body(int fd, size_t len, size_t max, int is_request, vs_error_t *err)
{
        const int need = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
        int seals = fcntl(fd, F_GET_SEALS);
        struct stat st;
        char *buf;

        if (len > max) {
                if (is_request)
                        request_too_large(len, err);
                else
                        vs_error_set(err, EMSGSIZE, "message of %zu bytes is too large", len);
                return NULL;
        }
        if (seals < 0 || (seals & need) != need || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
            (uint64_t)st.st_size != len) {
                vs_error_kind(err, VS_E_USAGE, EPROTO,
                              "malformed message: its body is not a sealed memfd of %zu bytes",
                              len);
                return NULL;
        }
        buf = vs_xmalloc(len + 1);
        for (size_t off = 0; off < len;) {
                ssize_t n = pread(fd, buf + off, len - off, (off_t)off);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        free(buf);
                        vs_error_errno(err, "read message body");
                        return NULL;
                }
                off += (size_t)n;
        }
        return buf;
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

/* Replaces the envelope in *msg by the message in its memfd, the last of
 * fds, which is taken off them. */
static int open_envelope(json_object **msg, size_t len, size_t max, int is_request, int *fds,
                         int *nfds, vs_error_t *err)
{
        cleanup_free char *body = NULL;
        cleanup_close int fd = -1;

        json_object_put(*msg);
        *msg = NULL;
        if (*nfds < 1)
                return vs_error_kind(err, VS_E_USAGE, EPROTO,
                                     "malformed message: its body's memfd is missing");
        fd = fds[--*nfds];
        body = read_body(fd, len, max, is_request, err);
        if (!body)
                return -1;
        return vs_msg_parse(body, len, msg, err);
}

static int recv_message(int sock, size_t max, int is_request, json_object **msg, int *fds_out,
                        int *nfds_out, vs_error_t *err)
{
        /* not zeroed: a calloc of this megabyte was a memset of it for
         * every request vsd read; only what recv wrote is looked at */
        cleanup_free char *buf = malloc(VS_REQUEST_MAX + 1);
        int fds[VS_MSG_FDS_MAX], nfds = 0;
        int truncated = 0;
        ssize_t got;
        size_t body;

        if (!buf)
                abort();
        *msg = NULL;
        if (nfds_out)
                *nfds_out = 0;
        got = vs_recv_fds(sock, buf, VS_REQUEST_MAX, fds, &nfds, &truncated);
        if (got < 0)
                return vs_error_errno(err, "receive");
        if (got == 0) {
                drop_fds(fds, &nfds);
                return 0;
        }
        if (truncated) {
                drop_fds(fds, &nfds);
                if (is_request)
                        return vs_error_kind(err, VS_E_USAGE, EMSGSIZE,
                                             "request is over the limit of %u bytes",
                                             VS_REQUEST_MAX);
                return vs_error_set(err, EMSGSIZE, "message too large");
        }
        if (vs_msg_parse(buf, (size_t)got, msg, err) < 0 ||
            ((body = envelope_len(*msg)) &&
             open_envelope(msg, body, max, is_request, fds, &nfds, err) < 0)) {
                drop_fds(fds, &nfds);
                return -1;
        }
        if (fds_out) {
                memcpy(fds_out, fds, sizeof(int) * (size_t)nfds);
                *nfds_out = nfds;
        } else {
                drop_fds(fds, &nfds);
        }
        return 0;
}

int vs_msg_recv(int sock, json_object **msg, int *fds, int *nfds, vs_error_t *err)
{
        return recv_message(sock, VS_REPLY_MAX, 0, msg, fds, nfds, err);
}

int vs_request_recv(int sock, json_object **msg, vs_error_t *err)
{
        return recv_message(sock, VS_REQUEST_MAX, 1, msg, NULL, NULL, err);
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
