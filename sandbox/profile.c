/* Generic security profiles: the five capability sets, seccomp rules and
 * masked paths given whole by the caller (the OCI runtime's config.json),
 * beside security.c's fixed VPS profile. */
#include "vs/security.h"

#include <ctype.h>
#include <errno.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vs/fsutil.h"

/* ---- capabilities ---- */

int vs_cap_number(const char *name)
{
        char full[64];
        cap_value_t cap;

        if (strncasecmp(name, "cap_", 4) == 0)
                name += 4;
        if (!*name || strlen(name) > 40)
                return -1;
        snprintf(full, sizeof(full), "cap_%s", name);
        for (char *p = full; *p; p++)
                *p = (char)tolower((unsigned char)*p);
        if (cap_from_name(full, &cap) < 0 || cap < 0 || cap > 63)
                return -1;
        /* libcap also takes numbers as names: only names count here */
        if (isdigit((unsigned char)name[0]))
                return -1;
        return cap;
}

static int last_cap(void)
{
        static int last = -1;
        FILE *f;

        if (last >= 0)
                return last;
        last = CAP_LAST_CAP;
        f = fopen("/proc/sys/kernel/cap_last_cap", "re");
        if (f) {
                if (fscanf(f, "%d", &last) != 1)
                        last = CAP_LAST_CAP;
                fclose(f);
        }
        return last;
}

int vs_capsets_bound(const vs_capsets_t *caps, vs_error_t *err)
{
        for (int cap = 0; cap <= last_cap(); cap++) {
                if (caps->bounding & (1ULL << cap))
                        continue;
                if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
                        return vs_error_errno(err, "drop capability %d from the bounding set", cap);
        }
        return 0;
}

int vs_capsets_apply(const vs_capsets_t *caps, vs_error_t *err)
{
        struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[2];

        uint64_t have;

        /* a capability the caller lacks (root here may lack some, such as
         * CAP_SYS_RESOURCE) cannot be given: asked for, it is left out, as
         * runc and crun do, instead of failing the whole set */
        memset(data, 0, sizeof(data));
        if (syscall(SYS_capget, &hdr, data) < 0)
                return vs_error_errno(err, "read capabilities");
        have = (uint64_t)data[0].permitted | ((uint64_t)data[1].permitted << 32);
        memset(data, 0, sizeof(data));
        for (int i = 0; i < 2; i++) {
                data[i].effective = (uint32_t)((caps->effective & have) >> (32 * i));
                data[i].permitted = (uint32_t)((caps->permitted & have) >> (32 * i));
                data[i].inheritable = (uint32_t)((caps->inheritable & have) >> (32 * i));
        }
        if (syscall(SYS_capset, &hdr, data) < 0)
                return vs_error_errno(err, "set capabilities");
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return vs_error_errno(err, "clear ambient capabilities");
        for (int cap = 0; cap <= last_cap(); cap++) {
                if (!(caps->ambient & (1ULL << cap)))
                        continue;
                /* an ambient capability must be permitted and inheritable:
                 * the kernel refuses the others, and the spec lets them be */
                if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0 && errno != EPERM)
                        return vs_error_errno(err, "raise ambient capability %d", cap);
        }
        return 0;
}

/* ---- seccomp ---- */

void vs_seccomp_release(void *ctx)
{
        if (ctx)
                seccomp_release(ctx);
}

static int add_rule(scmp_filter_ctx ctx, const vs_seccomp_rule_t *rule, uint32_t default_action,
                    vs_error_t *err)
{
        struct scmp_arg_cmp cmp[6];

        if (rule->action == default_action)
                return 0; /* libseccomp refuses a rule that changes nothing */
        for (unsigned i = 0; i < rule->nargs; i++) {
                cmp[i].arg = rule->args[i].index;
                cmp[i].op = (enum scmp_compare)rule->args[i].op;
                cmp[i].datum_a = rule->args[i].value;
                cmp[i].datum_b = rule->args[i].value_two;
        }
        for (char **name = rule->names; name && *name; name++) {
                int nr = seccomp_syscall_resolve_name(*name);
                int rc;

                if (nr == __NR_SCMP_ERROR)
                        continue; /* not a system call here */
                rc = seccomp_rule_add_array(ctx, rule->action, nr, rule->nargs, cmp);
                /* several comparisons of one argument cannot be one rule:
                 * runc and crun add them one by one (an OR) */
                if (rc == -EINVAL && rule->nargs > 1) {
                        rc = 0;
                        for (unsigned i = 0; i < rule->nargs && rc == 0; i++)
                                rc = seccomp_rule_add_array(ctx, rule->action, nr, 1, &cmp[i]);
                }
                if (rc < 0 && rc != -EEXIST)
                        return vs_error_set(err, -rc, "seccomp: rule for %s: %s", *name,
                                            strerror(-rc));
        }
        return 0;
}

int vs_seccomp_build(const vs_seccomp_profile_t *p, void **out, vs_error_t *err)
{
        scmp_filter_ctx ctx = seccomp_init(p->default_action);

        if (!ctx)
                return vs_error_set(err, EINVAL, "seccomp: bad default action");
        for (unsigned i = 0; i < p->narches; i++) {
                int rc = seccomp_arch_add(ctx, p->arches[i]);

                if (rc < 0 && rc != -EEXIST) {
                        seccomp_release(ctx);
                        return vs_error_set(err, -rc, "seccomp: add architecture: %s",
                                            strerror(-rc));
                }
        }
        /* no_new_privs is the caller's (noNewPrivileges): libseccomp must
         * not set it on its own */
        seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        if (p->flag_tsync)
                seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
        if (p->flag_log)
                seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
        if (p->flag_spec_allow)
                seccomp_attr_set(ctx, SCMP_FLTATR_CTL_SSB, 1);
        for (size_t i = 0; i < p->nrules; i++) {
                if (add_rule(ctx, &p->rules[i], p->default_action, err) < 0) {
                        seccomp_release(ctx);
                        return -1;
                }
        }
        *out = ctx;
        return 0;
}

int vs_seccomp_load(void *ctx, vs_error_t *err)
{
        int rc = seccomp_load(ctx);

        if (rc < 0)
                return vs_error_set(err, -rc, "load seccomp filter: %s", strerror(-rc));
        return 0;
}

void vs_seccomp_profile_free(vs_seccomp_profile_t *p)
{
        if (!p)
                return;
        for (size_t i = 0; i < p->nrules; i++) {
                for (char **n = p->rules[i].names; n && *n; n++)
                        free(*n);
                free(p->rules[i].names);
        }
        free(p->rules);
        free(p);
}

/* ---- masked and read-only paths ---- */

int vs_path_mask(const char *path, const char *null_path, vs_error_t *err)
{
        struct stat st;

        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : vs_error_errno(err, "mask %s", path);
        if (S_ISDIR(st.st_mode)) {
                if (mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                          "size=0,mode=0555") < 0)
                        return vs_error_errno(err, "mask %s", path);
                return 0;
        }
        if (mount(null_path, path, NULL, MS_BIND, NULL) < 0)
                return vs_error_errno(err, "mask %s", path);
        return 0;
}

int vs_path_readonly(const char *path, vs_error_t *err)
{
        if (access(path, F_OK) < 0)
                return errno == ENOENT ? 0 : vs_error_errno(err, "read-only %s", path);
        if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
                return vs_error_errno(err, "bind %s", path);
        if (mount(NULL, path, NULL,
                  MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 &&
            mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
                return vs_error_errno(err, "make %s read-only", path);
        return 0;
}
