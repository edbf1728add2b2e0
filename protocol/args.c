/* A decoded request's args as plain C for the handlers (vs/protocol.h):
 * lists of words, a set of VPS fields, an object of texts. The table has
 * checked every field's type and contents before any of these runs. */
#include <stdlib.h>
#include <string.h>

#include "vs/fsutil.h"
#include "vs/kvfile.h"
#include "vs/protocol.h"

int vs_req_has(const vs_request_t *req, const char *key)
{
        return req->args && json_object_object_get_ex(req->args, key, NULL);
}

char **vs_req_words(const vs_request_t *req, const char *key, size_t *n)
{
        json_object *array = vs_req_strings(req, key);
        size_t count = array ? json_object_array_length(array) : 0;
        char **out;

        if (n)
                *n = count;
        if (!array)
                return NULL;
        out = vs_xmalloc((count + 1) * sizeof(char *));
        for (size_t i = 0; i < count; i++)
                out[i] = vs_xstrdup(json_object_get_string(json_object_array_get_idx(array, i)));
        out[count] = NULL;
        return out;
}

vs_vps_fields_t vs_req_fields(const vs_request_t *req, const char *key)
{
        json_object *names = vs_req_strings(req, key);
        vs_vps_fields_t want = 0;

        if (!names)
                return VS_VF_ALL;
        for (size_t i = 0; i < json_object_array_length(names); i++) {
                int f = vs_vps_field_find(
                        json_object_get_string(json_object_array_get_idx(names, i)));

                if (f >= 0)
                        want |= (vs_vps_fields_t)1 << f;
        }
        return want;
}

void vs_req_texts(const vs_request_t *req, const char *key, vs_kv_t *out)
{
        json_object *obj = vs_req_limits(req, key);

        memset(out, 0, sizeof(*out));
        if (!obj)
                return;
        json_object_object_foreach(obj, name, value)
        {
                vs_kv_set(out, name, json_object_get_string(value));
        }
}

int vs_req_limits_parse(const vs_request_t *req, const char *key, vs_limits_t *l, vs_error_t *err)
{
        cleanup_kv vs_kv_t given = { 0 };

        memset(l, 0, sizeof(*l));
        vs_req_texts(req, key, &given);
        for (size_t i = 0; i < given.count; i++) {
                const vs_kv_line_t *line = &given.lines[i];

                if (line->key && vs_limits_parse_one(l, (vs_limit_t)vs_limit_find(line->key),
                                                     line->value, err) < 0)
                        return -1;
        }
        return 0;
}

static int declared(const vs_request_t *req, const char *key, vs_field_type_t type)
{
        const vs_field_spec_t *f = vs_command_field(req->spec, key);

        return f && f->type == type && vs_req_has(req, key);
}

int vs_req_given(const vs_request_t *req, const char *key)
{
        return vs_command_field(req->spec, key) && vs_req_has(req, key);
}

const char *vs_req_given_str(const vs_request_t *req, const char *key)
{
        return declared(req, key, VS_FIELD_STRING) ? vs_req_str(req, key) : NULL;
}

int vs_req_given_bool(const vs_request_t *req, const char *key)
{
        return declared(req, key, VS_FIELD_BOOL) && vs_req_bool(req, key);
}

int vs_request_read(int sock, vs_request_t *req, vs_error_t *err)
{
        json_object *msg = NULL;
        const char *text;
        size_t len;
        int rc;

        if (vs_request_recv(sock, &msg, err) < 0 || !msg) {
                if (msg)
                        json_object_put(msg);
                return err->msg[0] ? -1 : 0;
        }
        text = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN, &len);
        rc = vs_request_decode(text, len, req, err);
        json_object_put(msg);
        return rc < 0 ? -1 : 1;
}
