#include "vs/procid.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"

/* /proc/PID/stat: "PID (COMM) STATE PPID ..."; the start time is field 22,
 * the 20th after the ") " that ends the comm. */
#define STARTTIME_AFTER_COMM 20

/* A decimal number without sign or blanks, up to the end or `stop`. */
static int parse_decimal(const char *text, char stop, unsigned long long *out, const char **end)
{
        char *after;

        if (!isdigit((unsigned char)*text))
                return -1;
        errno = 0;
        *out = strtoull(text, &after, 10);
        if (errno || (*after && *after != stop))
                return -1;
        if (end)
                *end = after;
        return 0;
}

int vs_procid_parse_starttime(const char *stat_text, unsigned long long *starttime)
{
        const char *p = strrchr(stat_text, ')');

        if (!p || p[1] != ' ')
                return -1;
        p += 2;
        for (int field = 1; field < STARTTIME_AFTER_COMM; field++) {
                p = strchr(p, ' ');
                if (!p)
                        return -1;
                p++;
        }
        return parse_decimal(p, ' ', starttime, NULL);
}

/* Field n (3: the state) of a stat text, counted as proc(5) does. */
static const char *stat_field(const char *stat_text, int n)
{
        const char *p = strrchr(stat_text, ')');

        if (!p || p[1] != ' ')
                return NULL;
        p += 2;
        for (int field = 3; field < n; field++) {
                p = strchr(p, ' ');
                if (!p)
                        return NULL;
                p++;
        }
        return p;
}

int vs_procid_parse_zombie(const char *stat_text, unsigned long long *starttime, int *status)
{
        const char *state = stat_field(stat_text, 3);
        const char *code = stat_field(stat_text, 52);
        unsigned long long value;

        if (!state || !code || vs_procid_parse_starttime(stat_text, starttime) < 0)
                return -1;
        if (*state != 'Z')
                return 0;
        if (parse_decimal(code, '\n', &value, NULL) < 0 &&
            parse_decimal(code, ' ', &value, NULL) < 0)
                return -1;
        *status = (int)value;
        return 1;
}

int vs_procid_zombie_status(pid_t pid, unsigned long long starttime, int *status)
{
        char path[64];
        cleanup_free char *text = NULL;
        unsigned long long seen;
        int rc;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        if (vs_read_file(AT_FDCWD, path, 4096, &text, NULL, NULL) < 0)
                return 0;
        rc = vs_procid_parse_zombie(text, &seen, status);
        return rc == 1 && seen == starttime ? 1 : 0;
}

static int valid_boot_id(const char *text)
{
        if (strlen(text) != VS_BOOT_ID_LEN)
                return 0;
        for (int i = 0; i < VS_BOOT_ID_LEN; i++) {
                int dash = i == 8 || i == 13 || i == 18 || i == 23;

                if (dash ? text[i] != '-' : !isxdigit((unsigned char)text[i]))
                        return 0;
        }
        return 1;
}

int vs_procid_boot_id(char out[VS_BOOT_ID_LEN + 1], vs_error_t *err)
{
        cleanup_free char *text = NULL;

        if (vs_read_file(AT_FDCWD, "/proc/sys/kernel/random/boot_id", 256, &text, NULL, err) < 0)
                return vs_error_wrap(err, "boot id");
        text[strcspn(text, "\n")] = '\0';
        if (!valid_boot_id(text))
                return vs_error_set(err, EINVAL, "boot id: unexpected '%s'", text);
        memcpy(out, text, VS_BOOT_ID_LEN + 1);
        return 0;
}

int vs_procid_read(pid_t pid, vs_procid_t *id, vs_error_t *err)
{
        char path[64];
        cleanup_free char *text = NULL;
        struct stat st;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        if (vs_read_file(AT_FDCWD, path, 4096, &text, NULL, err) < 0)
                return vs_error_wrap(err, "pid %d", (int)pid);
        if (vs_procid_parse_starttime(text, &id->starttime) < 0)
                return vs_error_set(err, EINVAL, "%s: no start time in it", path);
        snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
        if (stat(path, &st) < 0)
                return vs_error_errno(err, "%s", path);
        id->pidns_dev = (uint64_t)st.st_dev;
        id->pidns_ino = (uint64_t)st.st_ino;
        return vs_procid_boot_id(id->boot_id, err);
}

void vs_procid_save(const vs_procid_t *id, vs_kv_t *state)
{
        vs_kv_set(state, "boot_id", id->boot_id);
        vs_kv_setf(state, "starttime", "%llu", id->starttime);
        vs_kv_setf(state, "pidns", "%" PRIu64 ":%" PRIu64, id->pidns_dev, id->pidns_ino);
}

static int parse_pidns(const char *text, vs_procid_t *id)
{
        unsigned long long dev, ino;
        const char *colon;

        if (parse_decimal(text, ':', &dev, &colon) < 0 || *colon != ':' ||
            parse_decimal(colon + 1, '\0', &ino, NULL) < 0)
                return -1;
        id->pidns_dev = dev;
        id->pidns_ino = ino;
        return 0;
}

int vs_procid_load(const vs_kv_t *state, vs_procid_t *id, vs_error_t *err)
{
        const char *boot = vs_kv_get(state, "boot_id");
        const char *start = vs_kv_get(state, "starttime");
        const char *pidns = vs_kv_get(state, "pidns");

        if (!boot || !pidns)
                return vs_error_set(err, ENOENT,
                                    "the state file records no boot or pid namespace of the "
                                    "init (an older vsd wrote it)");
        if (!valid_boot_id(boot) || !start ||
            parse_decimal(start, '\0', &id->starttime, NULL) < 0 || parse_pidns(pidns, id) < 0)
                return vs_error_set(err, EINVAL,
                                    "the state file's identity of the init is "
                                    "malformed");
        memcpy(id->boot_id, boot, VS_BOOT_ID_LEN + 1);
        return 0;
}

const char *vs_procid_mismatch(const vs_procid_t *recorded, const vs_procid_t *seen,
                               uint64_t own_pidns_dev, uint64_t own_pidns_ino, char *buf,
                               size_t size)
{
        if (strcmp(recorded->boot_id, seen->boot_id) != 0)
                snprintf(buf, size, "the state file is from another boot (%s, this is %s)",
                         recorded->boot_id, seen->boot_id);
        else if (recorded->starttime != seen->starttime)
                snprintf(buf, size,
                         "its start time is %llu, the VPS's init's was %llu: another process "
                         "has the pid",
                         seen->starttime, recorded->starttime);
        else if (seen->pidns_dev == own_pidns_dev && seen->pidns_ino == own_pidns_ino)
                snprintf(buf, size, "it is in vsd's own pid namespace, not in one of a VPS");
        else if (recorded->pidns_dev != seen->pidns_dev || recorded->pidns_ino != seen->pidns_ino)
                snprintf(buf, size, "it is not in the pid namespace the VPS started in");
        else
                return NULL;
        return buf;
}
