#include "vs/security.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"

/* ---- capabilities: the bounding set (the names are caps.c's) ---- */

static int drop_bounding(const vs_caps_t *caps, vs_error_t *err)
{
        for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
                if (caps->keep & (1ULL << cap))
                        continue;
                if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
                        return vs_error_errno(err, "drop capability %d", cap);
        }
        /* nothing may come back through the ambient set either */
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return vs_error_errno(err, "clear ambient capabilities");
        return 0;
}

/* ---- seccomp ---- */

/* Docker's and LXC's profiles deny these; they reach the kernel or the
 * host around any namespace. They fail with EPERM, like a missing privilege. */
static const char *const denied_syscalls[] = {
        "init_module",
        "finit_module",
        "delete_module",
        "create_module",
        "kexec_load",
        "kexec_file_load",
        /* name_to_handle_at stays: systemd uses it to tell mount points
         * apart, and a handle opens only with open_by_handle_at */
        "open_by_handle_at",
        "keyctl",
        "add_key",
        "request_key",
        "bpf",
        "perf_event_open",
        "userfaultfd",
        "swapon",
        "swapoff",
        "acct",
        "iopl",
        "ioperm",
        "lookup_dcookie",
        "nfsservctl",
        "uselib",
        "vm86",
        "vm86old",
        "get_kernel_syms",
        "query_module",
        "syslog",
        "settimeofday",
        "clock_settime",
        "clock_adjtime",
        "adjtimex",
        "stime",
        "quotactl",
        "mbind",
        "set_mempolicy",
        "migrate_pages",
        "move_pages",
        "kcmp",
        "fanotify_init",
};

static struct sock_fprog seccomp_prog;
/* The second filter: the system calls whose answer is the VPS's view and
 * which vsview answers over the filter's listener (seccomp user
 * notification), as its /proc files are served; and reboot, which vsview
 * passes on to the kernel after it marked a reboot or halt of the VPS for
 * vsd (the init's exit status may not reach a restarted vsd). */
static struct sock_fprog notify_prog;
static const char *const notified_syscalls[] = { "sysinfo", "sched_getaffinity", "reboot" };

static int deny(scmp_filter_ctx ctx, const char *name, vs_error_t *err)
{
        int nr = seccomp_syscall_resolve_name(name);

        if (nr == __NR_SCMP_ERROR)
                return 0; /* not a system call on this architecture */
        if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0) < 0)
                return vs_error_set(err, EINVAL, "seccomp: cannot deny %s", name);
        return 0;
}

static int deny_extra(scmp_filter_ctx ctx, const char *path, vs_error_t *err)
{
        cleanup_free char *text = NULL;
        char *save = NULL;

        if (!path || access(path, F_OK) < 0)
                return 0;
        if (vs_read_file(AT_FDCWD, path, 1U << 20, &text, NULL, err) < 0)
                return -1;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                line += strspn(line, " \t");
                line[strcspn(line, " \t#")] = '\0';
                if (!*line)
                        continue;
                if (seccomp_syscall_resolve_name(line) == __NR_SCMP_ERROR)
                        return vs_error_set(err, EINVAL, "%s: unknown system call '%s'", path,
                                            line);
                if (deny(ctx, line, err) < 0)
                        return -1;
        }
        return 0;
}

/* libseccomp writes the program to an fd; vsd keeps it in memory and each
 * VPS loads it with one prctl: compiled once, not per start. */
static int export_program(scmp_filter_ctx ctx, struct sock_fprog *prog, vs_error_t *err)
{
        cleanup_close int fd = memfd_create("seccomp", MFD_CLOEXEC);
        cleanup_free char *bpf = NULL;
        off_t len;

        if (fd < 0)
                return vs_error_errno(err, "memfd");
        if (seccomp_export_bpf(ctx, fd) < 0)
                return vs_error_set(err, EINVAL, "seccomp: export failed");
        len = lseek(fd, 0, SEEK_CUR);
        if (len <= 0 || len % (off_t)sizeof(struct sock_filter) || lseek(fd, 0, SEEK_SET) < 0)
                return vs_error_set(err, EIO, "seccomp: bad program");
        bpf = vs_xmalloc((size_t)len);
        if (pread(fd, bpf, (size_t)len, 0) != len)
                return vs_error_errno(err, "seccomp: read program");
        prog->len = (unsigned short)((size_t)len / sizeof(struct sock_filter));
        prog->filter = (struct sock_filter *)steal_ptr(bpf);
        return 0;
}

static void seccomp_releasep(scmp_filter_ctx *ctx)
{
        if (*ctx)
                seccomp_release(*ctx);
}

/* Native system calls only: a 32-bit caller's struct sysinfo has another
 * layout, and it gets the kernel's answer. */
static int build_notify(vs_error_t *err)
{
        __attribute__((cleanup(seccomp_releasep))) scmp_filter_ctx ctx =
                seccomp_init(SCMP_ACT_ALLOW);

        if (!ctx)
                return vs_error_set(err, ENOMEM, "seccomp_init");
        if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ALLOW) < 0 ||
            seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) < 0)
                return vs_error_set(err, EINVAL, "seccomp: notify filter attributes");
        for (size_t i = 0; i < sizeof(notified_syscalls) / sizeof(notified_syscalls[0]); i++) {
                int nr = seccomp_syscall_resolve_name(notified_syscalls[i]);

                if (nr == __NR_SCMP_ERROR || seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, nr, 0) < 0)
                        return vs_error_set(err, EINVAL, "seccomp: cannot notify %s",
                                            notified_syscalls[i]);
        }
        return export_program(ctx, &notify_prog, err);
}

int vs_security_init(const char *extra_deny_path, vs_error_t *err)
{
        __attribute__((cleanup(seccomp_releasep))) scmp_filter_ctx ctx =
                seccomp_init(SCMP_ACT_ALLOW);

        if (!ctx)
                return vs_error_set(err, ENOMEM, "seccomp_init");
        /* 32-bit system calls take other numbers: filter them too */
        seccomp_arch_add(ctx, SCMP_ARCH_X86);
        seccomp_arch_add(ctx, SCMP_ARCH_X32);
        for (size_t i = 0; i < sizeof(denied_syscalls) / sizeof(denied_syscalls[0]); i++)
                if (deny(ctx, denied_syscalls[i], err) < 0)
                        return -1;
        if (deny_extra(ctx, extra_deny_path, err) < 0)
                return -1;
        if (export_program(ctx, &seccomp_prog, err) < 0)
                return -1;
        return build_notify(err);
}

static int install_seccomp(vs_error_t *err)
{
        if (!seccomp_prog.filter)
                return vs_error_set(err, EINVAL, "seccomp profile not compiled");
        /* no PR_SET_NO_NEW_PRIVS: the VPS's root holds CAP_SYS_ADMIN in its
         * own user namespace, and setuid programs inside must keep working */
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &seccomp_prog, 0, 0) < 0)
                return vs_error_errno(err, "install seccomp filter");
        return 0;
}

int vs_security_notify_install(vs_error_t *err)
{
        int fd;

        if (!notify_prog.filter)
                return vs_error_set(err, EINVAL, "seccomp notify filter not compiled");
        fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
                          &notify_prog);
        if (fd < 0)
                return vs_error_errno(err, "install the seccomp notify filter");
        return fd;
}

int vs_security_apply(const vs_caps_t *caps, vs_error_t *err)
{
        if (drop_bounding(caps, err) < 0)
                return -1;
        return install_seccomp(err);
}

/* ---- masked paths ---- */

static const char *const readonly_paths[] = {
        "proc/sys", "proc/sysrq-trigger", "proc/irq", "proc/bus", "proc/fs",
};
/* the kpage files map the host's physical memory (root may read them: a
 * privileged VPS's root is host uid 0 for DAC) */
static const char *const masked_files[] = {
        "proc/kcore",       "proc/kmsg",          "proc/keys",      "proc/timer_list",
        "proc/sched_debug", "proc/latency_stats", "proc/config.gz", "proc/kpageflags",
        "proc/kpagecount",  "proc/kpagecgroup",
};
static const char *const masked_dirs[] = {
        "proc/acpi", "proc/scsi", "sys/firmware", "sys/kernel/debug", "sys/kernel/security",
};

static int bind_readonly(const char *path, vs_error_t *err)
{
        if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
                return vs_error_errno(err, "bind %s", path);
        if (mount(NULL, path, NULL,
                  MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                return vs_error_errno(err, "make %s read-only", path);
        return 0;
}

/* A masked file becomes the VPS's own /dev/null (never the host's: a VPS
 * could chmod that through it), bound read-only: reads give nothing,
 * chmod and chown fail with EROFS. */
static int mask_file(const char *rootfs, const char *path, vs_error_t *err)
{
        cleanup_free char *null = vs_strdupf("%s/dev/null", rootfs);

        if (mount(null, path, NULL, MS_BIND, NULL) < 0 ||
            mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC,
                  NULL) < 0)
                return vs_error_errno(err, "mask %s", path);
        return 0;
}

/* The empty tmpfs of every VPS's masks, read-only down to its superblock
 * (made by host root: no VPS can make it writable), or -1. */
static int shared_mask_fd = -1;

/* Whether the kernel copies a mount that is attached nowhere (an older
 * kernel's open_tree refuses one outside the caller's mount namespace, EINVAL:
 * Debian 12's 6.1 does); if not, the shared mount goes. */
static int probe_mask_copy(vs_error_t *err)
{
        int copy =
                open_tree(shared_mask_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);

        if (copy >= 0) {
                close(copy);
                return 0;
        }
        vs_error_errno(err, "this kernel cannot copy the masks' tmpfs (open_tree)");
        close(steal_fd(shared_mask_fd));
        return -1;
}

int vs_security_mask_init(vs_error_t *err)
{
        cleanup_close int fsfd = fsopen("tmpfs", FSOPEN_CLOEXEC);

        if (fsfd < 0)
                return vs_error_errno(err, "fsopen tmpfs");
        if (fsconfig(fsfd, FSCONFIG_SET_STRING, "size", "0", 0) < 0 ||
            fsconfig(fsfd, FSCONFIG_SET_STRING, "mode", "0555", 0) < 0 ||
            fsconfig(fsfd, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0 ||
            fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return vs_error_errno(err, "make the masks' tmpfs");
        shared_mask_fd = fsmount(fsfd, FSMOUNT_CLOEXEC,
                                 MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                         MOUNT_ATTR_NOEXEC);
        if (shared_mask_fd < 0)
                return vs_error_errno(err, "mount the masks' tmpfs");
        return probe_mask_copy(err);
}

/* The first masked directory of a VPS: a copy of the shared mount, else a
 * tmpfs of its own. */
static int mount_first_mask(const char *path, unsigned long ro, vs_error_t *err)
{
        cleanup_close int tree = -1;

        if (shared_mask_fd < 0) {
                if (mount("tmpfs", path, "tmpfs", ro, "size=0,mode=0555") < 0)
                        return vs_error_errno(err, "mount");
                return 0;
        }
        tree = open_tree(shared_mask_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
        if (tree < 0 || move_mount(tree, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return vs_error_errno(err, "mount the masks' tmpfs");
        return 0;
}

/* A masked directory: an empty read-only tmpfs, one for all VPS (the first
 * of a VPS's is a copy of vsd's mount of it, the others are bound to that,
 * read-only too): every file system instance costs a superblock, and its
 * shrinker an id that every memory cgroup of the host keeps a slot for.
 * *first: the first's path, "" until it is mounted. */
static int mask_dir(const char *path, char *first, size_t len, vs_error_t *err)
{
        const unsigned long ro = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;

        if (!*first) {
                if (mount_first_mask(path, ro, err) < 0)
                        return -1;
                vs_strlcpy(first, path, len);
                return 0;
        }
        if (mount(first, path, NULL, MS_BIND, NULL) < 0 ||
            mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | ro, NULL) < 0)
                return vs_error_errno(err, "bind");
        return 0;
}

static int mask_one(const char *rootfs, const char *rel, char *first_dir, size_t len,
                    vs_error_t *err)
{
        cleanup_free char *path = vs_strdupf("%s/%s", rootfs, rel);
        struct stat st;

        if (lstat(path, &st) < 0)
                return 0; /* not on this kernel */
        if (first_dir)
                return mask_dir(path, first_dir, len, err) < 0 ? vs_error_wrap(err, "mask /%s", rel)
                                                               : 0;
        return mask_file(rootfs, path, err) < 0 ? vs_error_wrap(err, "mask /%s", rel) : 0;
}

int vs_security_mask_paths(const char *rootfs, vs_error_t *err)
{
        cleanup_free char *net = vs_strdupf("%s/proc/sys/net", rootfs);
        char first_dir[PATH_MAX] = "";

        for (size_t i = 0; i < sizeof(readonly_paths) / sizeof(readonly_paths[0]); i++) {
                cleanup_free char *path = vs_strdupf("%s/%s", rootfs, readonly_paths[i]);

                if (access(path, F_OK) == 0 && bind_readonly(path, err) < 0)
                        return -1;
        }
        /* the VPS's own network sysctls stay writable: its netns is its own
         * (a bind copies the read-only flag of its source: remount rw) */
        if (mount(net, net, NULL, MS_BIND | MS_REC, NULL) < 0 ||
            mount(NULL, net, NULL, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) <
                    0)
                return vs_error_errno(err, "bind /proc/sys/net");
        for (size_t i = 0; i < sizeof(masked_files) / sizeof(masked_files[0]); i++)
                if (mask_one(rootfs, masked_files[i], NULL, 0, err) < 0)
                        return -1;
        for (size_t i = 0; i < sizeof(masked_dirs) / sizeof(masked_dirs[0]); i++)
                if (mask_one(rootfs, masked_dirs[i], first_dir, sizeof(first_dir), err) < 0)
                        return -1;
        return 0;
}
