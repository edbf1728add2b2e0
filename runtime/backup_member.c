/* The one rule a restore holds every member name of a backup to, apart
 * from the rest of backup.c so that unit tests reach it without the
 * daemon. */
#include <errno.h>
#include <string.h>

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
