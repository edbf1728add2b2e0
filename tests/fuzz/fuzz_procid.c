/* common/procid.c's parsers: the start time in the text of /proc/PID/stat
 * (first byte even), and the init's identity in a state file (odd): what
 * is read back from a state file is what vs_procid_save writes for it. */
#include <inttypes.h>

#include "fuzz.h"
#include "vs/kvfile.h"
#include "vs/procid.h"

static void stat_text(const char *text)
{
        unsigned long long starttime;
        const char *close = strrchr(text, ')');

        if (vs_procid_parse_starttime(text, &starttime) < 0)
                return;
        FUZZ_ASSERT(close && close[1] == ' ', "no comm in '%s'", text);
}

static void state_file(const uint8_t *data, size_t size)
{
        vs_kv_t state = { 0 }, saved = { 0 };
        vs_procid_t id, again, self;
        vs_error_t err = { 0 };
        char buf[256];

        if (vs_kv_parse_text((const char *)data, size, &state, &err) < 0)
                return fuzz_check_error(&err);
        if (vs_procid_load(&state, &id, &err) < 0) {
                fuzz_check_error(&err);
                vs_kv_free(&state);
                return;
        }
        FUZZ_ASSERT(strlen(id.boot_id) == VS_BOOT_ID_LEN, "boot id '%s'", id.boot_id);
        vs_procid_save(&id, &saved);
        FUZZ_ASSERT(vs_procid_load(&saved, &again, &err) == 0, "saved identity refused: %s",
                    err.msg);
        FUZZ_ASSERT(strcmp(id.boot_id, again.boot_id) == 0 && id.starttime == again.starttime &&
                            id.pidns_dev == again.pidns_dev && id.pidns_ino == again.pidns_ino,
                    "identity changed on save");
        FUZZ_ASSERT(!vs_procid_mismatch(&id, &again, 1, 1, buf, sizeof(buf)) ||
                            (id.pidns_dev == 1 && id.pidns_ino == 1),
                    "the same identity mismatches");
        self = id;
        self.starttime++;
        FUZZ_ASSERT(vs_procid_mismatch(&id, &self, 1, 1, buf, sizeof(buf)),
                    "another start time matches");
        vs_kv_free(&saved);
        vs_kv_free(&state);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        unsigned which = fuzz_pick(&data, &size, 2);
        char *text;

        if (which) {
                state_file(data, size);
                return 0;
        }
        text = fuzz_cstr(data, size);
        stat_text(text);
        free(text);
        return 0;
}
