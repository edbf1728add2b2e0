/* The backup reader's rules (runtime/backup_member.c), which a restore
 * holds a backup file to before and after tar extracts it: the first byte
 * picks what the rest is. 0: tar's listing (member names, one a line);
 * 1: the manifest's bytes (read as vs_kv_load reads a file, then its
 * format); 2: one member name. An accepted listing or name never leaves
 * the extraction directory (no absolute path, no ".." component) and is of
 * the layout; an accepted manifest names a format this paene reads. */
#include "fuzz.h"
#include "vs/kvfile.h"
#include "vsd.h"

#define MANIFEST "paene-backup"

static int has_dotdot(const char *name)
{
        for (const char *p = name; (p = strstr(p, "..")); p += 2)
                if ((p == name || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
                        return 1;
        return 0;
}

static int in_layout(const char *name)
{
        while (strncmp(name, "./", 2) == 0)
                name += 2;
        return !strcmp(name, MANIFEST) || !strcmp(name, "config") || !strcmp(name, "disk.img") ||
               !strcmp(name, "upper") || !strncmp(name, "upper/", 6);
}

static void check_name(const char *name)
{
        FUZZ_ASSERT(name[0] != '/', "absolute '%s' accepted", name);
        FUZZ_ASSERT(!has_dotdot(name), "'..' in '%s' accepted", name);
        FUZZ_ASSERT(in_layout(name), "'%s' is not of the layout", name);
}

static void fuzz_listing(const char *text)
{
        vs_error_t err = { 0 };
        char *copy, *save = NULL;
        int manifest = 0;

        if (vsd_backup_listing_ok(text, &err) < 0) {
                fuzz_check_error(&err);
                return;
        }
        copy = strdup(text);
        if (!copy)
                abort();
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                check_name(line);
                manifest |= strcmp(line, MANIFEST) == 0;
        }
        FUZZ_ASSERT(manifest, "a listing without %s accepted", MANIFEST);
        free(copy);
}

static void fuzz_manifest(const uint8_t *data, size_t size)
{
        vs_kv_t kv = { 0 };
        vs_error_t err = { 0 };
        const char *format;

        if (vs_kv_parse_text((const char *)data, size, &kv, &err) < 0) {
                fuzz_check_error(&err);
                return;
        }
        if (vsd_backup_manifest_ok(&kv, &err) < 0) {
                fuzz_check_error(&err);
        } else {
                format = vs_kv_get(&kv, "format");
                FUZZ_ASSERT(format && *format && strspn(format, "0123456789") == strlen(format),
                            "format '%s' accepted", format ? format : "(none)");
                FUZZ_ASSERT(strtol(format, NULL, 10) >= 1 &&
                                    strtol(format, NULL, 10) <= VSD_BACKUP_FORMAT,
                            "format '%s' accepted", format);
        }
        vs_kv_free(&kv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        unsigned pick = fuzz_pick(&data, &size, 3);
        char *text = fuzz_cstr(data, size);
        vs_error_t err = { 0 };

        if (pick == 0) {
                fuzz_listing(text);
        } else if (pick == 1) {
                fuzz_manifest(data, size);
        } else if (vsd_backup_member_ok(text, &err) < 0) {
                fuzz_check_error(&err);
        } else {
                check_name(text);
        }
        free(text);
        return 0;
}
