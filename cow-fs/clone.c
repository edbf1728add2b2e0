/* Copies for clone: a VPS's upper layer as a tree (owners, modes, times,
 * xattrs such as overlay's trusted.overlay.*, hard links, device nodes and
 * the whiteouts overlay makes of them, fifos, sockets, symlinks), and a disk
 * image as a sparse file. Never follows a symlink, never leaves the source's
 * file system. */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/cowfs.h"
#include "vs/fsutil.h"

#include "idshift.h"

#define COPY_DEPTH_MAX 256
#define XATTR_LIST_MAX_LEN 65536
#define XATTR_VALUE_MAX_LEN 65536

struct link_seen {
        dev_t dev;
        ino_t ino;
        char *path; /* below the destination's top */
};

struct copy {
        int dst_top; /* the destination tree's top directory */
        const vs_id_shift_t *shift;
        dev_t src_dev;
        struct link_seen *links;
        size_t nlinks;
};

static void copy_free(struct copy *c)
{
        for (size_t i = 0; i < c->nlinks; i++)
                free(c->links[i].path);
        free(c->links);
}

static const char *link_target(const struct copy *c, const struct stat *st)
{
        for (size_t i = 0; i < c->nlinks; i++)
                if (c->links[i].dev == st->st_dev && c->links[i].ino == st->st_ino)
                        return c->links[i].path;
        return NULL;
}

static void link_remember(struct copy *c, const struct stat *st, const char *path)
{
        c->links = realloc(c->links, (c->nlinks + 1) * sizeof(*c->links));
        if (!c->links)
                abort();
        c->links[c->nlinks++] = (struct link_seen){ st->st_dev, st->st_ino, vs_xstrdup(path) };
}

static int copy_data(int in, int out, const char *path, vs_error_t *err)
{
        char buf[65536];
        ssize_t n;

        for (;;) {
                n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
                if (n == 0)
                        return 0;
                if (n < 0)
                        break;
        }
        if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
                return vs_error_errno(err, "copy %s", path);
        /* file systems without copy_file_range between them */
        while ((n = read(in, buf, sizeof(buf))) > 0)
                if (write(out, buf, (size_t)n) != n)
                        return vs_error_errno(err, "write %s", path);
        return n < 0 ? vs_error_errno(err, "read %s", path) : 0;
}

/* The source is looked at (O_PATH: no open of the node itself) and only
 * a regular file is opened: a running VPS's root may have swapped a FIFO
 * (whose open waits for a writer, and the worker holding the VPS with it,
 * for good) or a device node (whose open, as host root, acts: a
 * watchdog's arms it) in since the copy's stat. Such a name is as one
 * that went (ENOENT): the frozen pass copies what is there then. */
static int copy_file(int sdir, int ddir, const char *name, const char *path, vs_error_t *err)
{
        cleanup_close int node = openat(sdir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        cleanup_close int in = -1;
        cleanup_close int out = -1;
        struct stat st;

        if (node < 0)
                return vs_error_errno(err, "open %s", path);
        if (fstat(node, &st) < 0)
                return vs_error_errno(err, "stat %s", path);
        if (!S_ISREG(st.st_mode))
                return vs_error_set(err, ENOENT, "%s is no regular file any more", path);
        in = vs_fd_reopen(node);
        if (in < 0)
                return vs_error_errno(err, "open %s", path);
        out = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out < 0)
                return vs_error_errno(err, "create %s", path);
        return copy_data(in, out, path, err);
}

static int copy_symlink(int sdir, int ddir, const char *name, const char *path, vs_error_t *err)
{
        char target[4096];
        ssize_t n = readlinkat(sdir, name, target, sizeof(target) - 1);

        if (n < 0)
                return vs_error_errno(err, "readlink %s", path);
        target[n] = '\0';
        if (symlinkat(target, ddir, name) < 0)
                return vs_error_errno(err, "symlink %s", path);
        return 0;
}

#define ACL_XATTR_VERSION 2

/* posix_acl_xattr: a 4-byte version, then entries of tag (2 bytes), perm
 * (2) and id (4); only named users' and groups' entries carry an id. */
static int shift_acl(const vs_id_shift_t *shift, unsigned char *v, size_t len)
{
        uint32_t version;
        int changed = 0;

        if (len < 4 || (len - 4) % 8)
                return 0;
        memcpy(&version, v, sizeof(version));
        if (le32toh(version) != ACL_XATTR_VERSION)
                return 0;
        for (unsigned char *e = v + 4; e < v + len; e += 8) {
                uint16_t tag;

                memcpy(&tag, e, sizeof(tag));
                tag = le16toh(tag);
                if (tag == VS_ACL_TAG_USER || tag == VS_ACL_TAG_GROUP)
                        changed |= vs_id_shift_le32_at(shift, e + 4);
        }
        return changed;
}

/* The kernel keeps these ids as host ids (a VPS's setfacl u:1000 is its
 * base + 1000, its setcap's root its base): left as they were, a clone's
 * ACLs would name the source's users, and its file capabilities would
 * belong to the source's root and so be ignored. */
int vs_id_shift_xattr(const vs_id_shift_t *shift, const char *name, void *value, size_t len)
{
        unsigned char *v = value;
        uint32_t magic;

        if (!shift || !shift->count)
                return 0;
        if (!strcmp(name, "system.posix_acl_access") || !strcmp(name, "system.posix_acl_default"))
                return shift_acl(shift, v, len);
        if (strcmp(name, "security.capability") || len != XATTR_CAPS_SZ_3)
                return 0;
        memcpy(&magic, v, sizeof(magic));
        if ((le32toh(magic) & VFS_CAP_REVISION_MASK) != VFS_CAP_REVISION_3)
                return 0;
        return vs_id_shift_le32_at(shift, v + offsetof(struct vfs_ns_cap_data, rootid));
}

/* Every xattr, in every namespace the caller may read (as root: trusted.*
 * too, where overlay keeps opaque-directory and redirect marks), with the
 * ids inside moved as the owners are. */
static int copy_xattrs(int sdir, int ddir, const char *name, const char *path,
                       const vs_id_shift_t *shift, vs_error_t *err)
{
        cleanup_free char *src = vs_strdupf("/proc/self/fd/%d/%s", sdir, name);
        cleanup_free char *dst = vs_strdupf("/proc/self/fd/%d/%s", ddir, name);
        cleanup_free char *list = vs_xmalloc(XATTR_LIST_MAX_LEN);
        cleanup_free char *value = vs_xmalloc(XATTR_VALUE_MAX_LEN);
        ssize_t len = llistxattr(src, list, XATTR_LIST_MAX_LEN);

        if (len < 0)
                return errno == ENOTSUP ? 0 : vs_error_errno(err, "list xattrs of %s", path);
        for (char *key = list; key < list + len; key += strlen(key) + 1) {
                ssize_t vlen = lgetxattr(src, key, value, XATTR_VALUE_MAX_LEN);

                if (vlen < 0)
                        return vs_error_errno(err, "read xattr %s of %s", key, path);
                vs_id_shift_xattr(shift, key, value, (size_t)vlen);
                if (lsetxattr(dst, key, value, (size_t)vlen, 0) < 0)
                        return vs_error_errno(err, "set xattr %s on %s", key, path);
        }
        return 0;
}

/* Owner before mode (chown clears set-id bits), times last. */
static int copy_meta(const struct copy *c, int sdir, int ddir, const char *name,
                     const struct stat *st, const char *path, vs_error_t *err)
{
        struct timespec times[2] = { st->st_atim, st->st_mtim };
        uid_t uid = (uid_t)vs_id_shift_apply(c->shift, st->st_uid);
        gid_t gid = (gid_t)vs_id_shift_apply(c->shift, st->st_gid);

        if (fchownat(ddir, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                return vs_error_errno(err, "chown %s", path);
        if (!S_ISLNK(st->st_mode) && fchmodat(ddir, name, st->st_mode & 07777, 0) < 0)
                return vs_error_errno(err, "chmod %s", path);
        if (copy_xattrs(sdir, ddir, name, path, c->shift, err) < 0)
                return -1;
        if (utimensat(ddir, name, times, AT_SYMLINK_NOFOLLOW) < 0)
                return vs_error_errno(err, "set times of %s", path);
        return 0;
}

static int copy_entry(struct copy *c, int sdir, int ddir, const char *name, const char *path,
                      int depth, vs_error_t *err);

static int sync_entry(struct copy *c, int sdir, int ddir, const char *name, const char *path,
                      int depth, const struct timespec *since, vs_error_t *err);
static int drop_removed(int sfd, int dfd, const char *path, vs_error_t *err);

/* An entry that went from the source after readdir named it: a running
 * VPS's temporary file, removed or renamed while the first pass copied it
 * (only the source changes under a copy: the copy is vsd's own). What the
 * copy made of it goes; what is there at the end is the frozen second
 * pass's to copy. */
static void skip_vanished(int ddir, const char *name, vs_error_t *err)
{
        if (unlinkat(ddir, name, 0) < 0 && errno == EISDIR)
                vs_rmtree_at(ddir, name, NULL);
        memset(err, 0, sizeof(*err));
}

/* Every entry of directory name (under sdir) into its copy (under ddir):
 * copied whole, or with since (a second pass) only what changed since
 * then, after what went from the source has gone from the copy. */
static int each_child(struct copy *c, int sdir, int ddir, const char *name, const char *path,
                      int depth, const struct timespec *since, vs_error_t *err)
{
        cleanup_closedir DIR *dir = vs_opendir_at(sdir, name);
        cleanup_close int dfd = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct dirent *ent;

        if (!dir || dfd < 0)
                return vs_error_errno(err, "open directory %s", path);
        if (since && drop_removed(dirfd(dir), dfd, path, err) < 0)
                return -1;
        while ((ent = readdir(dir))) {
                cleanup_free char *sub = NULL;
                int rc;

                if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
                        continue;
                sub = vs_strdupf("%s/%s", path, ent->d_name);
                rc = since ? sync_entry(c, dirfd(dir), dfd, ent->d_name, sub, depth + 1, since, err)
                           : copy_entry(c, dirfd(dir), dfd, ent->d_name, sub, depth + 1, err);
                if (rc < 0 && err->errnum == ENOENT) {
                        skip_vanished(dfd, ent->d_name, err);
                        continue;
                }
                if (rc < 0)
                        return -1;
        }
        return 0;
}

static int copy_children(struct copy *c, int sdir, int ddir, const char *name, const char *path,
                         int depth, vs_error_t *err)
{
        return each_child(c, sdir, ddir, name, path, depth, NULL, err);
}

/* An entry of the source, its stat in *st: not nested too deep, and on the
 * source's file system (a mount point below is refused). */
static int source_entry(const struct copy *c, int sdir, const char *name, const char *path,
                        int depth, struct stat *st, vs_error_t *err)
{
        if (depth > COPY_DEPTH_MAX)
                return vs_error_set(err, ELOOP, "%s is nested too deep", path);
        if (fstatat(sdir, name, st, AT_SYMLINK_NOFOLLOW) < 0)
                return vs_error_errno(err, "stat %s", path);
        if (st->st_dev != c->src_dev)
                return vs_error_set(err, EXDEV, "%s is a mount point", path);
        return 0;
}

static int copy_entry(struct copy *c, int sdir, int ddir, const char *name, const char *path,
                      int depth, vs_error_t *err)
{
        const char *first;
        struct stat st;
        int rc;

        if (source_entry(c, sdir, name, path, depth, &st, err) < 0)
                return -1;
        if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 && (first = link_target(c, &st))) {
                if (linkat(c->dst_top, first, ddir, name, 0) < 0)
                        return vs_error_errno(err, "link %s", path);
                return 0;
        }
        if (S_ISDIR(st.st_mode))
                rc = mkdirat(ddir, name, 0700) < 0
                             ? vs_error_errno(err, "mkdir %s", path)
                             : copy_children(c, sdir, ddir, name, path, depth, err);
        else if (S_ISREG(st.st_mode))
                rc = copy_file(sdir, ddir, name, path, err);
        else if (S_ISLNK(st.st_mode))
                rc = copy_symlink(sdir, ddir, name, path, err);
        else
                rc = mknodat(ddir, name, st.st_mode, st.st_rdev) < 0
                             ? vs_error_errno(err, "mknod %s", path)
                             : 0;
        if (rc < 0 || copy_meta(c, sdir, ddir, name, &st, path, err) < 0)
                return -1;
        if (!S_ISDIR(st.st_mode) && st.st_nlink > 1)
                link_remember(c, &st, path + 2); /* path starts "./" */
        return 0;
}

/* What a copy (since NULL) and its resync share: name below src_dirfd is a
 * directory (its stat in *st); its copy below dst_dirfd, made first by a
 * copy, is opened into c->dst_top (the caller closes it); then every entry
 * below is copied whole, or brought up to date. */
static int walk_top(struct copy *c, int src_dirfd, int dst_dirfd, const char *name,
                    const struct timespec *since, struct stat *st, vs_error_t *err)
{
        cleanup_close int sfd = -1;

        if (fstatat(src_dirfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
                return vs_error_errno(err, "stat %s", name);
        if (!S_ISDIR(st->st_mode))
                return vs_error_set(err, ENOTDIR, "%s is not a directory", name);
        if (!since && mkdirat(dst_dirfd, name, 0700) < 0)
                return vs_error_errno(err, "mkdir %s", name);
        c->src_dev = st->st_dev;
        c->dst_top = openat(dst_dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (c->dst_top < 0)
                return vs_error_errno(err, "open %s%s", since ? "the copy " : "", name);
        sfd = openat(src_dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sfd < 0)
                return vs_error_errno(err, "open %s", name);
        return each_child(c, sfd, c->dst_top, ".", ".", 0, since, err);
}

int vs_copy_tree_at(int src_dirfd, int dst_dirfd, const char *name, const vs_id_shift_t *shift,
                    vs_error_t *err)
{
        struct copy c = { .dst_top = -1, .shift = shift };
        struct stat st;
        int rc = walk_top(&c, src_dirfd, dst_dirfd, name, NULL, &st, err);

        if (rc == 0)
                rc = copy_meta(&c, src_dirfd, dst_dirfd, name, &st, name, err);
        if (c.dst_top >= 0)
                close(c.dst_top);
        copy_free(&c);
        return rc;
}

/* ---- bringing a copy up to date ---- */

/* Whether the inode changed at or after since: every change of data,
 * metadata, links or name moves ctime, which user space cannot set back. */
static int changed_since(const struct stat *st, const struct timespec *since)
{
        if (st->st_ctim.tv_sec != since->tv_sec)
                return st->st_ctim.tv_sec > since->tv_sec;
        return st->st_ctim.tv_nsec >= since->tv_nsec;
}

static int remove_entry(int dir, const char *name, const struct stat *st, const char *path,
                        vs_error_t *err)
{
        if (S_ISDIR(st->st_mode))
                return vs_rmtree_at(dir, name, err);
        return unlinkat(dir, name, 0) < 0 ? vs_error_errno(err, "remove %s", path) : 0;
}

/* Removes the xattrs of ddir/name that sdir/name no longer has (an opaque
 * mark the VPS's overlay took back, say). */
static int drop_stale_xattrs(int sdir, int ddir, const char *name, const char *path,
                             vs_error_t *err)
{
        cleanup_free char *src = vs_strdupf("/proc/self/fd/%d/%s", sdir, name);
        cleanup_free char *dst = vs_strdupf("/proc/self/fd/%d/%s", ddir, name);
        cleanup_free char *list = vs_xmalloc(XATTR_LIST_MAX_LEN);
        ssize_t len = llistxattr(dst, list, XATTR_LIST_MAX_LEN);

        if (len < 0)
                return errno == ENOTSUP ? 0 : vs_error_errno(err, "list xattrs of %s", path);
        for (char *key = list; key < list + len; key += strlen(key) + 1)
                if (lgetxattr(src, key, NULL, 0) < 0 && errno == ENODATA &&
                    lremovexattr(dst, key) < 0)
                        return vs_error_errno(err, "remove xattr %s of %s", key, path);
        return 0;
}

/* Entries of the copy's directory that the source's no longer has. */
static int drop_removed(int sfd, int dfd, const char *path, vs_error_t *err)
{
        cleanup_closedir DIR *dir = vs_opendir_at(dfd, ".");
        struct dirent *ent;

        if (!dir)
                return vs_error_errno(err, "open directory %s", path);
        while ((ent = readdir(dir))) {
                cleanup_free char *sub = NULL;
                struct stat st;

                if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, "..") ||
                    fstatat(sfd, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                        continue;
                if (errno != ENOENT)
                        return vs_error_errno(err, "stat %s/%s", path, ent->d_name);
                sub = vs_strdupf("%s/%s", path, ent->d_name);
                if (fstatat(dfd, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return vs_error_errno(err, "stat the copy of %s", sub);
                if (remove_entry(dfd, ent->d_name, &st, sub, err) < 0)
                        return -1;
        }
        return 0;
}

static int sync_children(struct copy *c, int sdir, int ddir, const char *name, const char *path,
                         int depth, const struct timespec *since, vs_error_t *err);

/* One entry of the source against the copy's: kept when neither changed,
 * walked into when both are directories, else copied anew. */
static int sync_entry(struct copy *c, int sdir, int ddir, const char *name, const char *path,
                      int depth, const struct timespec *since, vs_error_t *err)
{
        struct stat st, dt;
        int changed;

        if (source_entry(c, sdir, name, path, depth, &st, err) < 0)
                return -1;
        if (fstatat(ddir, name, &dt, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno != ENOENT)
                        return vs_error_errno(err, "stat the copy of %s", path);
                return copy_entry(c, sdir, ddir, name, path, depth, err);
        }
        changed = changed_since(&st, since);
        if (S_ISDIR(st.st_mode) && S_ISDIR(dt.st_mode)) {
                if (sync_children(c, sdir, ddir, name, path, depth, since, err) < 0)
                        return -1;
                if (!changed)
                        return 0;
                return drop_stale_xattrs(sdir, ddir, name, path, err) < 0
                               ? -1
                               : copy_meta(c, sdir, ddir, name, &st, path, err);
        }
        if (!changed && (st.st_mode & S_IFMT) == (dt.st_mode & S_IFMT))
                return 0;
        if (remove_entry(ddir, name, &dt, path, err) < 0)
                return -1;
        return copy_entry(c, sdir, ddir, name, path, depth, err);
}

static int sync_children(struct copy *c, int sdir, int ddir, const char *name, const char *path,
                         int depth, const struct timespec *since, vs_error_t *err)
{
        return each_child(c, sdir, ddir, name, path, depth, since, err);
}

int vs_sync_tree_at(int src_dirfd, int dst_dirfd, const char *name, const struct timespec *since,
                    const vs_id_shift_t *shift, vs_error_t *err)
{
        struct copy c = { .dst_top = -1, .shift = shift };
        struct stat st;
        int rc = walk_top(&c, src_dirfd, dst_dirfd, name, since, &st, err);

        if (rc == 0 && changed_since(&st, since))
                rc = drop_stale_xattrs(src_dirfd, dst_dirfd, name, name, err) < 0
                             ? -1
                             : copy_meta(&c, src_dirfd, dst_dirfd, name, &st, name, err);
        if (c.dst_top >= 0)
                close(c.dst_top);
        copy_free(&c);
        return rc;
}

/* Copies the data extents only: a sparse image stays sparse. */
int vs_copy_sparse_at(int src_dirfd, int dst_dirfd, const char *name, vs_error_t *err)
{
        const char *src = name, *dst = name;
        cleanup_close int in = openat(src_dirfd, src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        cleanup_close int out = -1;
        struct stat st;
        off_t data = 0, hole;

        if (in < 0 || fstat(in, &st) < 0)
                return vs_error_errno(err, "open %s", src);
        out = openat(dst_dirfd, dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     st.st_mode & 0777);
        if (out < 0)
                return vs_error_errno(err, "create %s", dst);
        if (ftruncate(out, st.st_size) < 0)
                return vs_error_errno(err, "size %s", dst);
        while ((data = lseek(in, data, SEEK_DATA)) >= 0) {
                hole = lseek(in, data, SEEK_HOLE);
                if (hole < 0)
                        return vs_error_errno(err, "seek %s", src);
                while (data < hole) {
                        off_t from = data, to = data;
                        ssize_t n = copy_file_range(in, &from, out, &to, (size_t)(hole - data), 0);

                        if (n <= 0)
                                return vs_error_errno(err, "copy %s", src);
                        data += n;
                }
        }
        if (errno != ENXIO)
                return vs_error_errno(err, "seek %s", src);
        return fsync(out) < 0 ? vs_error_errno(err, "sync %s", dst) : 0;
}
