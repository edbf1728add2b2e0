/* The backup reader's rules, apart from the rest of backup.c so that unit
 * tests and the fuzz target (tests/fuzz/fuzz_backup.c) reach them without
 * the daemon: every member name of tar's listing, and the manifest. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/kvfile.h"

#include "vsd.h"

#define MANIFEST "paene-backup"

/* One member name of tar's listing: relative, without "..", and of the
 * layout (the manifest, config, upper or below it, disk.img). */
int vsd_backup_member_ok(const char *name, vs_error_t *err)
{
        const char *p = name;

        if (*name == '/' || strncmp(name, "../", 3) == 0 || strcmp(name, "..") == 0 ||
            strstr(name, "/../") ||
            (strlen(name) >= 3 && strcmp(name + strlen(name) - 3, "/..") == 0))
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "the backup holds an unsafe path '%.200s'", name);
        while (strncmp(p, "./", 2) == 0)
                p += 2;
        if (strcmp(p, MANIFEST) == 0 || strcmp(p, "config") == 0 || strcmp(p, "disk.img") == 0 ||
            strcmp(p, "upper") == 0 || strcmp(p, "upper/") == 0 || strncmp(p, "upper/", 6) == 0)
                return 0;
        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                             "the backup holds '%.200s', which is not part of a VPS backup", name);
}

int vsd_backup_listing_ok(const char *listing, vs_error_t *err)
{
        cleanup_free char *copy = vs_xstrdup(listing);
        char *save = NULL;
        int manifest = 0;

        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (vsd_backup_member_ok(line, err) < 0)
                        return -1;
                manifest |= strcmp(line, MANIFEST) == 0;
        }
        if (!manifest)
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "not a paene backup (no %s in it)",
                                     MANIFEST);
        return 0;
}

/* format = N, a decimal of this paene's formats (1..VSD_BACKUP_FORMAT);
 * a larger one is a newer paene's. */
int vsd_backup_manifest_ok(const vs_kv_t *manifest, vs_error_t *err)
{
        const char *format = vs_kv_get(manifest, "format");
        size_t digits = format ? strspn(format, "0123456789") : 0;

        if (!format || !*format)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "the backup's manifest names no format");
        if (digits == 0 || format[digits] != '\0')
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "the backup's manifest has a bad format '%.40s'", format);
        if (digits > 9 || strtol(format, NULL, 10) > VSD_BACKUP_FORMAT)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "the backup is of format %.40s, from a newer paene (this one "
                                     "reads format %d)",
                                     format, VSD_BACKUP_FORMAT);
        if (strtol(format, NULL, 10) < 1)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "the backup's manifest has a bad format '%.40s'", format);
        return 0;
}
