/* The capability list of a VPS config and of set --capability
 * (sandbox/security.c): "net_raw:off sys_nice:on". What is accepted
 * formats (vs_caps_format, the config's value) to words that give the same
 * set again. */
#include "fuzz.h"
#include "vs/security.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *text = fuzz_cstr(data, size);
        vs_caps_t caps, again;
        vs_error_t err = { 0 };
        char *out;

        vs_caps_default(&caps);
        if (vs_caps_parse(text, &caps, &err) < 0) {
                fuzz_check_error(&err);
                free(text);
                return 0;
        }
        out = vs_caps_format(&caps);
        FUZZ_ASSERT(!strchr(out, '\n'), "'%s' formats to a line break", text);
        vs_caps_default(&again);
        FUZZ_ASSERT(vs_caps_parse(out, &again, &err) == 0 && again.keep == caps.keep,
                    "'%s' -> '%s' -> %s", text, out, err.msg);
        free(out);
        free(text);
        return 0;
}
