/* The VPS's capability set as words: the default set a server's root
 * needs, and the "net_raw:off sys_nice:on" changes an admin makes to it.
 * Apart from security.c so that vsctl, which checks --capability words,
 * needs libcap only and not the seccomp side. */
#include "vs/security.h"

#include <ctype.h>
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"

/* What a server's root needs, all confined by the VPS's user namespace:
 * sys_boot stays because in a pid namespace reboot() only ends that
 * namespace, and VPS inits power off with it. */
static const int vps_caps[] = {
        CAP_CHOWN,           CAP_DAC_OVERRIDE,
        CAP_DAC_READ_SEARCH, CAP_FOWNER,
        CAP_FSETID,          CAP_KILL,
        CAP_SETGID,          CAP_SETUID,
        CAP_SETPCAP,         CAP_NET_BIND_SERVICE,
        CAP_NET_BROADCAST,   CAP_NET_ADMIN,
        CAP_NET_RAW,         CAP_IPC_LOCK,
        CAP_IPC_OWNER,       CAP_SYS_CHROOT,
        CAP_SYS_PTRACE,      CAP_SYS_ADMIN,
        CAP_SYS_BOOT,        CAP_LEASE,
        CAP_AUDIT_WRITE,     CAP_SETFCAP,
        CAP_MKNOD,
};

void vs_caps_default(vs_caps_t *caps)
{
        caps->keep = 0;
        for (size_t i = 0; i < sizeof(vps_caps) / sizeof(vps_caps[0]); i++)
                caps->keep |= 1ULL << vps_caps[i];
}

static int cap_by_name(const char *name, cap_value_t *cap)
{
        char full[64];

        if (strncasecmp(name, "cap_", 4) == 0)
                name += 4;
        snprintf(full, sizeof(full), "cap_%s", name);
        for (char *p = full; *p; p++)
                *p = (char)tolower((unsigned char)*p);
        return cap_from_name(full, cap);
}

int vs_caps_parse(const char *text, vs_caps_t *caps, vs_error_t *err)
{
        cleanup_free char *copy = vs_xstrdup(text);
        char *save = NULL;

        for (char *w = strtok_r(copy, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
                char *colon = strrchr(w, ':');
                cap_value_t cap;

                if (!colon || (strcmp(colon, ":on") != 0 && strcmp(colon, ":off") != 0))
                        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                             "capability '%s': expected NAME:on or NAME:off", w);
                *colon = '\0';
                if (cap_by_name(w, &cap) < 0 || cap > 63)
                        return vs_error_kind(err, VS_E_USAGE, EINVAL, "unknown capability '%s'", w);
                if (strcmp(colon + 1, "on") == 0)
                        caps->keep |= 1ULL << cap;
                else
                        caps->keep &= ~(1ULL << cap);
        }
        return 0;
}

char *vs_caps_format(const vs_caps_t *caps)
{
        vs_caps_t defaults;
        char *out = vs_xstrdup("");

        vs_caps_default(&defaults);
        for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
                int keep = (caps->keep >> cap) & 1;
                char *name, *joined;

                if (keep == (int)((defaults.keep >> cap) & 1))
                        continue;
                name = cap_to_name(cap);
                joined = vs_strdupf("%s%s%s:%s", out, *out ? " " : "",
                                    name && strncmp(name, "cap_", 4) == 0 ? name + 4 : name,
                                    keep ? "on" : "off");
                cap_free(name);
                free(out);
                out = joined;
        }
        return out;
}
