/* vsctl <-> vsd: one JSON object per SOCK_SEQPACKET message, with fds passed
 * as SCM_RIGHTS. A request is {"version":1,"cmd":"start","name":"web1",
 * "args":{...}}; a reply is {"version":1,"ok":true,...} or
 * {"version":1,"ok":false,"kind":"not-found","errno":2,"error":"..."}. */
#ifndef VS_PROTOCOL_H
#define VS_PROTOCOL_H

#include <json-c/json.h>
#include <stddef.h>

#include "vs/error.h"

#define VS_PROTOCOL_VERSION 1
#define VS_MSG_MAX (1U << 20)
#define VS_MSG_FDS_MAX 4 /* = VS_FDPASS_MAX */

typedef struct {
        char cmd[32];
        char name[64];     /* empty when the command takes no name */
        json_object *args; /* owned by the request; never NULL after decode */
        json_object *root;
} vs_request_t;

/* Decodes and validates a request; on failure err says what is wrong. */
int vs_request_decode(const char *buf, size_t len, vs_request_t *req, vs_error_t *err);
void vs_request_free(vs_request_t *req);
/* Builds a request object (args may be NULL). */
json_object *vs_request_new(const char *cmd, const char *name, json_object *args);

json_object *vs_reply_ok(void);
json_object *vs_reply_error(const vs_error_t *err);
/* Turns an error reply into err (returns -1), an ok reply into 0. */
int vs_reply_check(json_object *reply, vs_error_t *err);

/* Sends one message with up to VS_MSG_FDS_MAX fds. */
int vs_msg_send(int sock, json_object *msg, const int *fds, int nfds, vs_error_t *err);
/* Receives one message; *msg is NULL at end of stream. Received fds are
 * CLOEXEC; *nfds says how many. */
int vs_msg_recv(int sock, json_object **msg, int *fds, int *nfds, vs_error_t *err);

/* json helpers that tolerate missing members */
const char *vs_json_str(json_object *obj, const char *key);
int vs_json_bool(json_object *obj, const char *key);
long long vs_json_int(json_object *obj, const char *key, long long fallback);

#define cleanup_json __attribute__((cleanup(vs_json_putp)))
static inline void vs_json_putp(json_object **obj)
{
        if (*obj)
                json_object_put(*obj);
}

#endif
