/* The container's root, built in its own mount namespace by its init
 * before it pivots into it. Every mount target is resolved beneath the
 * rootfs with openat2(RESOLVE_BENEATH): a symlink that points out of it
 * (absolute, or climbing with "..") is refused, never followed to the
 * host; the mount is then made on /proc/self/fd/N of what was resolved. */
#include "oci.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/security.h"

static int openat2_beneath(int dirfd, const char *path, int flags)
{
        struct open_how how = {
                .flags = (uint64_t)(flags | O_CLOEXEC),
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };

        while (*path == '/')
                path++;
        if (!*path)
                path = ".";
        return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

/* Opens (O_PATH) `dest` beneath rootfd, making what is missing: the
 * directories on the way, and the last component as a directory or, with
 * `as_file`, an empty file. */
static int resolve_target(int rootfd, const char *dest, int as_file, vs_error_t *err)
{
        cleanup_free char *copy = vs_xstrdup(dest);
        cleanup_close int dirfd = openat2_beneath(rootfd, ".", O_PATH | O_DIRECTORY);
        char *save = NULL, *next;
        int fd;

        if (dirfd < 0)
                return vs_error_errno(err, "open rootfs");
        for (char *c = strtok_r(copy, "/", &save); c; c = next) {
                int last;

                next = strtok_r(NULL, "/", &save);
                last = next == NULL;
                if (strcmp(c, ".") == 0)
                        continue;
                fd = openat2_beneath(dirfd, c, O_PATH);
                if (fd < 0 && errno == ENOENT) {
                        if (last && as_file) {
                                int f = openat(dirfd, c,
                                               O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW,
                                               0644);

                                if (f >= 0)
                                        close(f);
                        } else if (mkdirat(dirfd, c, 0755) < 0 && errno != EEXIST) {
                                return vs_error_errno(err, "mount target %s: create %s", dest, c);
                        }
                        fd = openat2_beneath(dirfd, c, O_PATH);
                }
                if (fd < 0 && errno == EXDEV)
                        return vs_error_kind(err, VS_E_USAGE, EXDEV,
                                             "mount target %s: a symlink points out of the "
                                             "rootfs",
                                             dest);
                if (fd < 0)
                        return vs_error_errno(err, "mount target %s", dest);
                close(dirfd);
                dirfd = fd;
        }
        return steal_fd(dirfd);
}

static char *fd_path(int fd)
{
        return vs_strdupf("/proc/self/fd/%d", fd);
}

static int is_file_source(const char *source)
{
        struct stat st;

        return stat(source, &st) == 0 && !S_ISDIR(st.st_mode);
}

/* The mount that now covers `dest`: an fd of the target taken before a
 * mount still names the directory below it. */
static char *mounted_path(int rootfd, const char *dest, int as_file, int *fd, vs_error_t *err)
{
        *fd = resolve_target(rootfd, dest, as_file, err);
        return *fd < 0 ? NULL : fd_path(*fd);
}

static int bind_mount(int rootfd, const struct oci_mount *m, const char *target, int as_file,
                      vs_error_t *err)
{
        unsigned long rec = m->rec_bind ? MS_REC : 0;

        if (mount(m->source, target, NULL, MS_BIND | rec, NULL) < 0)
                return vs_error_errno(err, "bind %s on %s", m->source, m->destination);
        if (m->flags & ~(MS_REC | MS_REMOUNT)) {
                unsigned long flags = MS_BIND | MS_REMOUNT | (m->flags & ~MS_REMOUNT);
                cleanup_close int fd = -1;
                cleanup_free char *now = mounted_path(rootfd, m->destination, as_file, &fd, err);
                struct statvfs sfs;

                if (!now)
                        return -1;
                /* a remount must keep the flags the kernel locked on the
                 * source (nodev, nosuid, noexec of a mount a user
                 * namespace got from its parent) */
                if (statvfs(now, &sfs) == 0) {
                        if (sfs.f_flag & ST_NODEV)
                                flags |= MS_NODEV;
                        if (sfs.f_flag & ST_NOSUID)
                                flags |= MS_NOSUID;
                        if (sfs.f_flag & ST_NOEXEC)
                                flags |= MS_NOEXEC;
                }
                if (mount(NULL, now, NULL, flags, NULL) < 0)
                        return vs_error_errno(err, "remount %s", m->destination);
        }
        return 0;
}

/* The v1 hierarchies and the unified one, each mounted beside the others
 * in a tmpfs, as the container's cgroup namespace shows them. */
static int mount_cgroups(int rootfd, const struct oci_mount *m, const char *first_target,
                         vs_error_t *err)
{
        cleanup_fclose FILE *f = NULL;
        cleanup_close int fd = -1;
        cleanup_free char *target = NULL;
        char line[4096];
        unsigned long flags = (m->flags & ~MS_RDONLY) | MS_NOSUID | MS_NODEV | MS_NOEXEC;
        struct statfs sfs;

        if (statfs("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC) {
                if (mount("cgroup2", first_target, "cgroup2", m->flags, NULL) < 0)
                        return vs_error_errno(err, "mount cgroup2 on %s", m->destination);
                return 0;
        }
        if (mount("tmpfs", first_target, "tmpfs", flags, "mode=755") < 0)
                return vs_error_errno(err, "mount tmpfs on %s", m->destination);
        /* the fd of the target is below the new tmpfs: resolve again */
        fd = resolve_target(rootfd, m->destination, 0, err);
        if (fd < 0)
                return -1;
        target = fd_path(fd);
        f = fopen("/proc/self/cgroup", "re");
        if (!f)
                return vs_error_errno(err, "open /proc/self/cgroup");
        while (fgets(line, sizeof(line), f)) {
                char *ctrl = strchr(line, ':'), *end;
                cleanup_free char *dir = NULL, *data = NULL, *host = NULL;
                const char *name, *fstype = "cgroup";
                char *cgpath;

                if (!ctrl)
                        continue;
                ctrl++;
                end = strchr(ctrl, ':');
                if (!end)
                        continue;
                *end = '\0';
                if (!*ctrl) {
                        name = "unified";
                        fstype = "cgroup2";
                } else if (strncmp(ctrl, "name=", 5) == 0) {
                        name = ctrl + 5;
                        data = vs_strdupf("none,%s", ctrl);
                } else {
                        name = ctrl;
                        data = vs_xstrdup(ctrl);
                }
                cgpath = end + 1;
                cgpath[strcspn(cgpath, "\n")] = '\0';
                dir = vs_strdupf("%s/%s", target, name);
                host = vs_strdupf("/sys/fs/cgroup/%s", name);
                if (access(host, F_OK) < 0)
                        continue;
                if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                        return vs_error_errno(err, "create %s", dir);
                /* without a cgroup namespace of its own the container sees
                 * its own cgroup only: the host's directory of it, bound */
                if (strcmp(cgpath, "/") != 0) {
                        free(host);
                        host = vs_strdupf("/sys/fs/cgroup/%s%s", name, cgpath);
                }
                if ((strcmp(cgpath, "/") != 0 ||
                     mount("cgroup", dir, fstype, flags | (m->flags & MS_RDONLY), data) < 0) &&
                    (mount(host, dir, NULL, MS_BIND | MS_REC, NULL) < 0 ||
                     mount(NULL, dir, NULL, MS_BIND | MS_REMOUNT | flags | (m->flags & MS_RDONLY),
                           NULL) < 0))
                        return vs_error_errno(err, "mount cgroup %s", name);
                /* cpu and cpuacct share a hierarchy: the single names lead to it */
                if (strchr(name, ',')) {
                        cleanup_free char *copy = vs_xstrdup(name);
                        char *save = NULL;

                        for (char *one = strtok_r(copy, ",", &save); one;
                             one = strtok_r(NULL, ",", &save)) {
                                cleanup_free char *link = vs_strdupf("%s/%s", target, one);

                                if (symlink(name, link) < 0 && errno != EEXIST)
                                        return vs_error_errno(err, "link %s", link);
                        }
                }
        }
        if ((m->flags & MS_RDONLY) &&
            mount(NULL, target, NULL, MS_REMOUNT | MS_RDONLY | flags, "mode=755") < 0)
                return vs_error_errno(err, "make %s read-only", m->destination);
        return 0;
}

static int do_mount(int rootfd, const struct oci_mount *m, vs_error_t *err)
{
        int as_file = m->bind && is_file_source(m->source);
        cleanup_close int fd = resolve_target(rootfd, m->destination, as_file, err);
        cleanup_free char *target = NULL;
        const char *type = m->type;

        if (fd < 0)
                return -1;
        target = fd_path(fd);
        if (m->bind) {
                if (bind_mount(rootfd, m, target, as_file, err) < 0)
                        return -1;
        } else if (strcmp(type, "cgroup") == 0) {
                if (mount_cgroups(rootfd, m, target, err) < 0)
                        return -1;
        } else if (mount(m->source ? m->source : type, target, type, m->flags, m->data) < 0) {
                /* sysfs of a network namespace the container does not own
                 * cannot be mounted: the host's is bound, read-only */
                if (strcmp(type, "sysfs") == 0 && (errno == EPERM || errno == EBUSY)) {
                        struct oci_mount bind = *m;

                        bind.source = "/sys";
                        bind.rec_bind = 1;
                        bind.flags |= MS_RDONLY;
                        if (bind_mount(rootfd, &bind, target, 0, err) < 0)
                                return -1;
                } else {
                        return vs_error_errno(err, "mount %s (%s) on %s",
                                              m->source ? m->source : type, type, m->destination);
                }
        }
        if (m->propagation) {
                cleanup_close int now_fd = -1;
                cleanup_free char *now =
                        mounted_path(rootfd, m->destination, as_file, &now_fd, err);

                if (!now)
                        return -1;
                if (mount(NULL, now, NULL, m->propagation, NULL) < 0)
                        return vs_error_errno(err, "set propagation of %s", m->destination);
        }
        return 0;
}

static const struct {
        const char *name;
        unsigned maj, min;
} default_devices[] = {
        { "null", 1, 3 },   { "zero", 1, 5 },    { "full", 1, 7 },
        { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};

/* mknod, or in a user namespace (where mknod is refused) a bind of the
 * host's node onto an empty file. */
static int make_node(int rootfd, const char *path, char type, unsigned maj, unsigned min,
                     mode_t mode, uid_t uid, gid_t gid, vs_error_t *err)
{
        mode_t kind = type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;
        cleanup_free char *dir = vs_xstrdup(path);
        char *slash = strrchr(dir, '/');
        cleanup_close int dirfd = -1;
        const char *name = slash ? slash + 1 : dir;
        cleanup_free char *host = NULL;

        if (slash && slash != dir) {
                *slash = '\0';
                dirfd = resolve_target(rootfd, dir, 0, err);
        } else {
                dirfd = openat2_beneath(rootfd, ".", O_PATH | O_DIRECTORY);
        }
        if (dirfd < 0)
                return -1;
        {
                cleanup_close int realdir = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

                if (realdir < 0)
                        return vs_error_errno(err, "open the directory of %s", path);
                unlinkat(realdir, name, 0);
                if (mknodat(realdir, name, kind | (mode & 07777), makedev(maj, min)) == 0) {
                        if (fchownat(realdir, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                                return vs_error_errno(err, "chown %s", path);
                        if (fchmodat(realdir, name, mode & 07777, 0) < 0)
                                return vs_error_errno(err, "chmod %s", path);
                        return 0;
                }
                if (errno != EPERM)
                        return vs_error_errno(err, "mknod %s", path);
                int f = openat(realdir, name, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
                if (f < 0)
                        return vs_error_errno(err, "create %s", path);
                close(f);
        }
        {
                cleanup_close int target = resolve_target(rootfd, path, 1, err);
                cleanup_free char *t = NULL;

                if (target < 0)
                        return -1;
                t = fd_path(target);
                /* the host's node of the same path, as other runtimes do */
                host = vs_xstrdup(path);
                if (mount(host, t, NULL, MS_BIND, NULL) < 0)
                        return vs_error_errno(err, "bind %s", path);
        }
        return 0;
}

static int make_devices(const struct oci_config *c, int rootfd, int dev_is_ours, vs_error_t *err)
{
        static const char *const links[][2] = {
                { "/proc/self/fd", "dev/fd" },
                { "/proc/self/fd/0", "dev/stdin" },
                { "/proc/self/fd/1", "dev/stdout" },
                { "/proc/self/fd/2", "dev/stderr" },
        };

        if (dev_is_ours) {
                for (size_t i = 0; i < sizeof(default_devices) / sizeof(default_devices[0]); i++) {
                        cleanup_free char *p = vs_strdupf("/dev/%s", default_devices[i].name);

                        if (make_node(rootfd, p, 'c', default_devices[i].maj,
                                      default_devices[i].min, 0666, 0, 0, err) < 0)
                                return -1;
                }
                for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
                        if (symlinkat(links[i][0], rootfd, links[i][1]) < 0 && errno != EEXIST)
                                return vs_error_errno(err, "link /%s", links[i][1]);
                /* ptmx of the container's own devpts */
                unlinkat(rootfd, "dev/ptmx", 0);
                if (symlinkat("pts/ptmx", rootfd, "dev/ptmx") < 0)
                        return vs_error_errno(err, "link /dev/ptmx");
        }
        for (size_t i = 0; i < c->n_devices; i++) {
                const struct oci_device *d = &c->devices[i];

                if (make_node(rootfd, d->path, d->type == 'u' ? 'c' : d->type, (unsigned)d->major,
                              (unsigned)d->minor, d->has_mode ? d->mode : 0666, d->uid, d->gid,
                              err) < 0)
                        return -1;
        }
        return 0;
}

int oci_rootfs_prepare(const struct oci_config *c, vs_error_t *err)
{
        unsigned long prop = c->rootfs_propagation;
        unsigned long first = (prop & MS_PRIVATE) ? MS_PRIVATE : MS_SLAVE;
        cleanup_close int rootfd = -1;
        int dev_is_ours = 0;

        if (mount(NULL, "/", NULL, MS_REC | first, NULL) < 0)
                return vs_error_errno(err, "make / %s", first == MS_PRIVATE ? "private" : "slave");
        if (mount(c->root_path, c->root_path, NULL, MS_BIND | MS_REC, NULL) < 0)
                return vs_error_errno(err, "bind rootfs %s", c->root_path);
        rootfd = open(c->root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return vs_error_errno(err, "open rootfs %s", c->root_path);
        for (size_t i = 0; i < c->n_mounts; i++) {
                if (do_mount(rootfd, &c->mounts[i], err) < 0)
                        return -1;
                if (strcmp(c->mounts[i].destination, "/dev") == 0)
                        dev_is_ours = !c->mounts[i].bind;
        }
        return make_devices(c, rootfd, dev_is_ours, err);
}

int oci_rootfs_enter(const struct oci_config *c, int no_pivot, vs_error_t *err)
{
        if (chdir(c->root_path) < 0)
                return vs_error_errno(err, "chdir %s", c->root_path);
        if (no_pivot) {
                if (mount(c->root_path, "/", NULL, MS_MOVE, NULL) < 0)
                        return vs_error_errno(err, "move rootfs to /");
                if (chroot(".") < 0)
                        return vs_error_errno(err, "chroot");
        } else {
                if (syscall(SYS_pivot_root, ".", ".") < 0)
                        return vs_error_errno(err, "pivot_root");
                /* the old root is stacked below: detach it, keeping its
                 * unmount from reaching the host */
                if (mount(NULL, ".", NULL, MS_REC | MS_SLAVE, NULL) < 0)
                        return vs_error_errno(err, "make the old root a slave");
                if (umount2(".", MNT_DETACH) < 0)
                        return vs_error_errno(err, "detach the old root");
        }
        if (chdir("/") < 0)
                return vs_error_errno(err, "chdir /");
        if (c->rootfs_propagation && !(c->rootfs_propagation & MS_PRIVATE) &&
            mount(NULL, "/", NULL, c->rootfs_propagation, NULL) < 0)
                return vs_error_errno(err, "set rootfs propagation");
        return 0;
}

static int write_sysctls(const struct oci_config *c, vs_error_t *err)
{
        for (size_t i = 0; i < c->n_sysctl; i++) {
                cleanup_free char *path = vs_strdupf("/proc/sys/%s", c->sysctl[i].key);

                for (char *p = path + 10; *p; p++)
                        if (*p == '.')
                                *p = '/';
                if (vs_write_string(AT_FDCWD, path, c->sysctl[i].value, err) < 0)
                        return vs_error_wrap(err, "sysctl %s", c->sysctl[i].key);
        }
        return 0;
}

int oci_rootfs_finish(const struct oci_config *c, vs_error_t *err)
{
        if (write_sysctls(c, err) < 0)
                return -1;
        for (char **p = c->masked; p && *p; p++)
                if (vs_path_mask(*p, "/dev/null", err) < 0)
                        return -1;
        for (char **p = c->readonly; p && *p; p++)
                if (vs_path_readonly(*p, err) < 0)
                        return -1;
        if (c->root_readonly && mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
                return vs_error_errno(err, "make the rootfs read-only");
        return 0;
}
