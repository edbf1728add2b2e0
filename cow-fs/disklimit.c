/* The disk limits as an admin writes them: --diskspace SIZE[:HARD] and
 * --diskinodes N[:HARD]. Apart from the backends (diskquota.c, image.c) so
 * that vsctl, which checks them before asking vsd, links no ext2fs. */
#include <errno.h>
#include <string.h>

#include "vs/cleanup.h"
#include "vs/diskquota.h"
#include "vs/fsutil.h"
#include "vs/parse.h"

/* Splits "SOFT[:HARD]" and parses both halves with `one`. */
static int parse_pair(const char *text, const char *what,
                      int (*one)(const char *, const char *, uint64_t *, vs_error_t *),
                      vs_disk_limit_t *out, vs_error_t *err)
{
        cleanup_free char *copy = vs_xstrdup(text ? text : "");
        char *colon = strchr(copy, ':');

        if (colon)
                *colon = '\0';
        if (one(copy, what, &out->soft, err) < 0)
                return -1;
        out->hard = out->soft;
        if (colon && one(colon + 1, what, &out->hard, err) < 0)
                return -1;
        if (out->hard < out->soft)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "%s '%s': the hard limit is below the soft limit", what, text);
        return 0;
}

static int one_size(const char *text, const char *what, uint64_t *out, vs_error_t *err)
{
        if (vs_parse_size(text, out, err) < 0)
                return vs_error_wrap(err, "%s", what);
        if (*out < VS_DISK_MIN_SPACE || *out > VS_DISK_MAX_SPACE)
                return vs_error_kind(err, VS_E_USAGE, ERANGE, "%s '%s' is out of range (8M to 8T)",
                                     what, text);
        return 0;
}

static int one_count(const char *text, const char *what, uint64_t *out, vs_error_t *err)
{
        return vs_parse_uint(text, VS_DISK_MIN_INODES, VS_DISK_MAX_INODES, what, out, err);
}

int vs_disk_parse_space(const char *text, vs_disk_limit_t *out, vs_error_t *err)
{
        return parse_pair(text, "diskspace", one_size, out, err);
}

int vs_disk_parse_inodes(const char *text, vs_disk_limit_t *out, vs_error_t *err)
{
        return parse_pair(text, "diskinodes", one_count, out, err);
}

int vs_disk_limited(const vs_disk_limits_t *lim)
{
        return lim->space.hard || lim->inodes.hard;
}
