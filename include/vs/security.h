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

/* Makes, once in vsd, the empty read-only tmpfs every VPS's masked
 * directories are mounts of (attached nowhere, held by a descriptor the
 * builders inherit). Without it (it failed) each VPS mounts one of its own. */
int vs_security_mask_init(vs_error_t *err);

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

/* Called in the child after vs_security_apply: installs the filter that
 * hands sysinfo(2) and sched_getaffinity(2) to a listener (the VPS's view
 * answers them), and reboot(2) (the listener notes it, and lets it go on),
 * and returns the listener's fd, or -1: EBUSY where a filter of the caller
 * already has one (a nested runtime's). */
int vs_security_notify_install(vs_error_t *err);

/* ---- generic profiles (sandbox/profile.c), for the OCI runtime: every
 * set and rule comes from the caller instead of the VPS defaults ---- */

/* The five capability sets of a process; bit n is capability n. */
typedef struct {
        uint64_t bounding, effective, permitted, inheritable, ambient;
} vs_capsets_t;

/* "CAP_SYS_ADMIN" (or "sys_admin") to its number; -1 when unknown. */
int vs_cap_number(const char *name);
/* Drops every capability outside caps->bounding from the bounding set. */
int vs_capsets_bound(const vs_capsets_t *caps, vs_error_t *err);
/* Sets the effective, permitted and inheritable sets and raises the ambient
 * ones; called after the uid change (with PR_SET_KEEPCAPS before it). */
int vs_capsets_apply(const vs_capsets_t *caps, vs_error_t *err);

typedef struct {
        unsigned index;
        uint64_t value, value_two;
        int op; /* enum scmp_compare */
} vs_seccomp_arg_t;

typedef struct {
        char **names; /* NULL-terminated */
        uint32_t action;
        vs_seccomp_arg_t args[6];
        unsigned nargs;
} vs_seccomp_rule_t;

typedef struct {
        uint32_t default_action;
        uint32_t arches[16]; /* SCMP_ARCH_* */
        unsigned narches;
        int flag_tsync, flag_log, flag_spec_allow;
        vs_seccomp_rule_t *rules;
        size_t nrules;
} vs_seccomp_profile_t;

/* Compiles a profile with libseccomp (system call names this kernel or
 * libseccomp does not know are skipped, as other runtimes do). *ctx is a
 * scmp_filter_ctx for vs_seccomp_load / vs_seccomp_release. */
int vs_seccomp_build(const vs_seccomp_profile_t *p, void **ctx, vs_error_t *err);
int vs_seccomp_load(void *ctx, vs_error_t *err);
void vs_seccomp_release(void *ctx);
void vs_seccomp_profile_free(vs_seccomp_profile_t *p);

/* Masks `path` (a directory: an empty read-only tmpfs; else `null_path`
 * bound read-only over it) and binds `path` read-only; missing paths are
 * skipped, as the runtime-spec asks. */
int vs_path_mask(const char *path, const char *null_path, vs_error_t *err);
int vs_path_readonly(const char *path, vs_error_t *err);

#endif
