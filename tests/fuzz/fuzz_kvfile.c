/* The reader of the config, state and meta files (common/kvfile.c): the
 * input is a file's bytes as vs_kv_load reads them. What it accepts is
 * written back by vs_kv_format to a text that reads as the same lines.
 * The VPS config's values are then read as vsd reads them: the limits,
 * the port forwards, the capability list, the disk limits. */
#include "fuzz.h"
#include "vs/diskquota.h"
#include "vs/kvfile.h"
#include "vs/limits.h"
#include "vs/netns.h"
#include "vs/security.h"

static void read_config(const vs_kv_t *config)
{
        vs_limits_t limits;
        vs_portfwd_t fwds[VS_PORTFWD_MAX];
        vs_disk_limit_t disk;
        vs_caps_t caps;
        size_t n;
        vs_error_t err = { 0 };
        const char *text;

        if (vs_limits_from_config(config, &limits, &err) < 0)
                fuzz_check_error(&err);
        if (vs_portfwd_parse_list(vs_kv_get(config, "port_forward"), fwds, VS_PORTFWD_MAX, &n,
                                  &err) < 0)
                fuzz_check_error(&err);
        vs_caps_default(&caps);
        text = vs_kv_get(config, "capability");
        if (text && vs_caps_parse(text, &caps, &err) < 0)
                fuzz_check_error(&err);
        text = vs_kv_get(config, "diskspace");
        if (text && vs_disk_parse_space(text, &disk, &err) < 0)
                fuzz_check_error(&err);
        text = vs_kv_get(config, "diskinodes");
        if (text && vs_disk_parse_inodes(text, &disk, &err) < 0)
                fuzz_check_error(&err);
}

static void check_same(const vs_kv_t *a, const vs_kv_t *b, const char *text)
{
        FUZZ_ASSERT(a->count == b->count, "%zu lines read back as %zu from '%s'", a->count,
                    b->count, text);
        for (size_t i = 0; i < a->count; i++) {
                const vs_kv_line_t *x = &a->lines[i], *y = &b->lines[i];

                FUZZ_ASSERT(!x->key == !y->key && (!x->key || strcmp(x->key, y->key) == 0),
                            "line %zu: key changed in '%s'", i + 1, text);
                FUZZ_ASSERT(!x->key ? 1 : strcmp(x->value, y->value) == 0,
                            "line %zu: value '%s' read back as '%s'", i + 1, x->value, y->value);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        vs_kv_t kv = { 0 }, again = { 0 };
        vs_error_t err = { 0 };
        char *text;

        if (vs_kv_parse_text((const char *)data, size, &kv, &err) < 0) {
                fuzz_check_error(&err);
                FUZZ_ASSERT(kv.count == 0 && !kv.lines, "a refused file left lines");
                return 0;
        }
        FUZZ_ASSERT(!memchr(data, '\0', size), "a file with a NUL byte was read");
        for (size_t i = 0; i < kv.count; i++) {
                const vs_kv_line_t *l = &kv.lines[i];

                FUZZ_ASSERT(!strchr(l->value, '\n') && !strchr(l->value, '\r'),
                            "line %zu holds a line break", i + 1);
                if (l->key)
                        FUZZ_ASSERT(vs_kv_get(&kv, l->key) == l->value, "key %s twice", l->key);
        }
        text = vs_kv_format(&kv);
        FUZZ_ASSERT(vs_kv_parse_text(text, strlen(text), &again, &err) == 0,
                    "its own text is refused: %s", err.msg);
        check_same(&kv, &again, text);
        read_config(&kv);
        free(text);
        vs_kv_free(&again);
        vs_kv_free(&kv);
        return 0;
}
