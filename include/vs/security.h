/* The VPS's security set-up: what its root keeps (capabilities), which
 * system calls it may not make (seccomp), and which kernel interfaces it
 * cannot see or change (masked and read-only paths). Applied in the spawn
 * path; the user namespace itself is set up by spawn.c. */
#ifndef VS_RUNTIME_SECURITY_H
#define VS_RUNTIME_SECURITY_H

#include <stdint.h>

#include "vs/error.h"

/* Compiles the default seccomp profile (plus the syscall names listed in
 * `extra_deny_path`, one a line, if that file exists) into a BPF program,
 * once, in vsd. */
int vs_security_init(const char *extra_deny_path, vs_error_t *err);

/* A VPS's capability bounding set: the default VPS set, changed by the
 * config's "capability = name:on name:off ..." words. */
typedef struct {
        uint64_t keep; /* bit n: capability n stays */
} vs_caps_t;

void vs_caps_default(vs_caps_t *caps);
/* Applies "net_raw:off sys_nice:on" to caps; refuses unknown names. */
int vs_caps_parse(const char *text, vs_caps_t *caps, vs_error_t *err);

/* Writes caps as the words that change the default set ("net_raw:off
 * sys_nice:on"), in capability order; "" when it is the default. */
char *vs_caps_format(const vs_caps_t *caps);

/* Masks and makes read-only the kernel interfaces below `rootfs`'s /proc and
 * /sys (a masked file becomes the VPS's own /dev/null, read-only). Called
 * with the host's privileges after /proc, /sys and /dev are mounted there:
 * the VPS gets these mounts locked. */
int vs_security_mask_paths(const char *rootfs, vs_error_t *err);

/* Called in the child last before exec: drops every capability outside
 * `caps` from the bounding set and installs the seccomp filter. */
int vs_security_apply(const vs_caps_t *caps, vs_error_t *err);

#endif
