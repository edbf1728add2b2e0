/* The request decoder and validator, for every command of the table: the
 * input is the bytes of one message as vsd receives them on its socket.
 * vsd parses them (vs_msg_recv), writes the JSON back out and decodes that
 * (runtime/vsd.c's read_client): both steps run here, and the decoder is
 * also given the raw bytes. What it accepts must be what the table says. */
#include <json-c/json.h>

#include "fuzz.h"
#include "vs/parse.h"
#include "vs/protocol.h"

static void check_string(const vs_field_spec_t *f, json_object *value)
{
        const char *text = json_object_get_string(value);
        size_t len = (size_t)json_object_get_string_len(value);
        vs_error_t err = { 0 };

        FUZZ_ASSERT(json_object_is_type(value, json_type_string), "args.%s: not a string", f->key);
        FUZZ_ASSERT(strlen(text) == len, "args.%s: a NUL byte got through", f->key);
        FUZZ_ASSERT(len <= f->max_len, "args.%s: %zu bytes, at most %zu", f->key, len, f->max_len);
        FUZZ_ASSERT(!f->check || f->check(text, &err) == 0, "args.%s: '%s' passed but is not %s",
                    f->key, text, f->what);
}

/* Every field the handlers read is there with its declared type. */
static void check_field(const vs_request_t *req, const vs_field_spec_t *f)
{
        json_object *value = NULL;
        int given = json_object_object_get_ex(req->args, f->key, &value);

        FUZZ_ASSERT(given || !f->required, "args.%s is required", f->key);
        if (!given)
                return;
        switch (f->type) {
        case VS_FIELD_STRING:
                FUZZ_ASSERT(vs_req_str(req, f->key), "args.%s reads as absent", f->key);
                check_string(f, value);
                break;
        case VS_FIELD_BOOL:
                FUZZ_ASSERT(json_object_is_type(value, json_type_boolean), "args.%s", f->key);
                (void)vs_req_bool(req, f->key);
                break;
        case VS_FIELD_INT: {
                long long n = vs_req_int(req, f->key, f->min - 1);

                FUZZ_ASSERT(json_object_is_type(value, json_type_int), "args.%s", f->key);
                FUZZ_ASSERT(n >= f->min && n <= f->max, "args.%s = %lld", f->key, n);
                break;
        }
        case VS_FIELD_STRINGS: {
                json_object *items = vs_req_strings(req, f->key);
                size_t n = items ? json_object_array_length(items) : 0;

                FUZZ_ASSERT(items, "args.%s reads as absent", f->key);
                FUZZ_ASSERT(n >= f->min_items && n <= f->max_items, "args.%s: %zu items", f->key,
                            n);
                for (size_t i = 0; i < n; i++)
                        check_string(f, json_object_array_get_idx(items, i));
                break;
        }
        case VS_FIELD_LIMITS: {
                json_object *limits = vs_req_limits(req, f->key);

                FUZZ_ASSERT(limits, "args.%s reads as absent", f->key);
                json_object_object_foreach(limits, key, text)
                {
                        FUZZ_ASSERT(json_object_is_type(text, json_type_string), "limit %s", key);
                        FUZZ_ASSERT(strlen(json_object_get_string(text)) ==
                                            (size_t)json_object_get_string_len(text),
                                    "limit %s: a NUL byte got through", key);
                }
                break;
        }
        }
}

static void check_request(const vs_request_t *req)
{
        vs_error_t err = { 0 };

        FUZZ_ASSERT(req->spec && strcmp(req->spec->cmd, req->cmd) == 0, "cmd '%s'", req->cmd);
        FUZZ_ASSERT(vs_command_find(req->cmd) == req->spec, "cmd '%s'", req->cmd);
        if (req->spec->name == VS_NAME_NONE)
                FUZZ_ASSERT(!req->name[0], "%s takes no name", req->cmd);
        else if (req->name[0] || req->spec->name != VS_NAME_TEMPLATE_OPTIONAL)
                FUZZ_ASSERT(vs_parse_name(req->name, "name", &err) == 0, "name '%s'", req->name);
        json_object_object_foreach(req->args, key, value)
        {
                (void)value;
                FUZZ_ASSERT(vs_command_field(req->spec, key), "unknown args.%s", key);
        }
        for (const vs_field_spec_t *f = req->spec->fields; f->key; f++)
                check_field(req, f);
}

/* Decodes the bytes; an accepted request is checked, and decodes again
 * the same from its own JSON text. */
static void decode(const char *text, size_t len)
{
        vs_request_t req, again;
        vs_error_t err = { 0 };
        const char *out;
        size_t out_len;

        if (vs_request_decode(text, len, &req, &err) < 0) {
                fuzz_check_error(&err);
                return;
        }
        check_request(&req);
        out = json_object_to_json_string_length(req.root, JSON_C_TO_STRING_PLAIN, &out_len);
        FUZZ_ASSERT(vs_request_decode(out, out_len, &again, &err) == 0,
                    "'%s' decoded, its own text not: %s", out, err.msg);
        FUZZ_ASSERT(strcmp(req.cmd, again.cmd) == 0 && strcmp(req.name, again.name) == 0,
                    "'%s' decodes to another request", out);
        vs_request_free(&again);
        vs_request_free(&req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* exactly size bytes, as recv leaves them: nothing after them */
        char *bytes = malloc(size ? size : 1);
        json_object *msg = NULL;
        vs_error_t err = { 0 };

        if (!bytes)
                abort();
        memcpy(bytes, data, size);
        if (vs_msg_parse(bytes, size, &msg, &err) < 0) {
                fuzz_check_error(&err);
        } else {
                size_t len;
                const char *text =
                        json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN, &len);

                decode(text, len);
                json_object_put(msg);
        }
        decode(bytes, size);
        free(bytes);
        return 0;
}
