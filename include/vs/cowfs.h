/* cow-fs: the template store and the copy-on-write root of each VPS.
 * A template is <store>/NAME/{rootfs/,meta}; a VPS root is an overlay of the
 * template (lower, never modified) and the VPS's own upper layer. */
#ifndef VS_COWFS_H
#define VS_COWFS_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "vs/error.h"

/* Moves owners from one VPS's id range to another's, for a clone of a VPS
 * with its own user namespace: ids in [from, from + count) become the same
 * offset from `to`; others stay. NULL or count 0: every owner stays. */
typedef struct {
        unsigned long from, to, count;
} vs_id_shift_t;

static inline unsigned long vs_id_shift_apply(const vs_id_shift_t *shift, unsigned long id)
{
        if (!shift || id < shift->from || id - shift->from >= shift->count)
                return id;
        return id - shift->from + shift->to;
}

/* Moves the ids inside the value of xattr name (len bytes, as getxattr
 * gives it to a reader on the host): a POSIX ACL's named users and groups,
 * a v3 file capability's root. Returns 1 if it changed any, else 0. */
int vs_id_shift_xattr(const vs_id_shift_t *shift, const char *name, void *value, size_t len);

typedef struct {
        char name[64];
        char builder[32];
        time_t created;
        uint64_t bytes;        /* allocated on disk, each inode counted once */
        uint64_t shared_bytes; /* of those, in inodes another template holds too */
} vs_template_info_t;

/* The store as a whole: what it takes on disk, each inode once however many
 * templates hold it, and what that sharing (template unify) saves against
 * the templates' sizes added up. */
typedef struct {
        uint64_t bytes;
        uint64_t saved_bytes;
} vs_template_store_usage_t;

/* Builds the busybox template offline from the host's static busybox
 * (Debian's busybox-static). The template appears atomically. */
int vs_template_build_busybox(int store_fd, const char *name, const char *busybox_path,
                              vs_error_t *err);
/* Imports a root file system tarball (.tar, optionally gzip, xz or zstd
 * compressed; `archive` is an absolute path) as template NAME, with owners,
 * modes, xattrs and device nodes as they are in it. Appears atomically. */
int vs_template_import(int store_fd, const char *name, const char *archive, int need_own_init,
                       vs_error_t *err);
/* Whether the path names an archive import understands (by its suffix). */
int vs_template_archive_ok(const char *path, vs_error_t *err);
/* The Debian builder runs debootstrap into ".NAME.building" while vsd goes
 * on serving: vs_template_debian_spawn checks the archive (mirror, proxy,
 * suite: vs_archive_probe) and starts debootstrap, its output on out_fd,
 * and returns its pid; when it has exited, the caller publishes the
 * template (ok) or removes it with vs_template_build_finish, which names
 * what went wrong. */
int vs_template_debian_check(const char *suite, const char *include, vs_error_t *err);
/* minbase (the default) or default (debootstrap's own: required and
 * important packages). */
int vs_template_debian_check_variant(const char *variant, vs_error_t *err);
struct vs_debian_spec {
        const char *suite;      /* bookworm, trixie, ... */
        const char *include;    /* extra packages, comma-separated, or NULL */
        const char *variant;    /* minbase or default; NULL: minbase */
        const char *mirror;     /* NULL: debootstrap's default */
        const char *http_proxy; /* for debootstrap's downloads, or NULL */
        const char *debs;       /* a debootstrap --make-tarball of the packages, to build
                                   offline, or NULL */
};
#define VS_DEBIAN_MIRROR_DEFAULT "http://deb.debian.org/debian"
pid_t vs_template_debian_spawn(int store_fd, const char *store_path, const char *name,
                               const struct vs_debian_spec *spec, int out_fd, vs_error_t *err);
/* need_own_init: vsd has no built-in vsinit, so the template must bring an
 * init of its own. Either way an /sbin/init that does not resolve to a
 * program in the template is refused. */
int vs_template_build_finish(int store_fd, const char *name, const char *builder, int ok,
                             int need_own_init, vs_error_t *err);
/* A URL for a mirror (https_ok) or an http proxy: "what" names it in the
 * message. */
int vs_archive_check_url(const char *url, const char *what, int https_ok, vs_error_t *err);
/* Asks the mirror (through the proxy, if any) for dists/SUITE/Release:
 * usage errors for a mirror that does not answer and a proxy that refuses,
 * not found for a suite the mirror has not. */
int vs_archive_probe(const char *mirror, const char *suite, const char *proxy, vs_error_t *err);
/* Whether template NAME has an init a VPS can start: its /sbin/init leads
 * to a program in it, or it has none and vsd runs its vsinit (need_own_init:
 * vsd has none). A usage error naming what is wrong otherwise. */
int vs_template_check_init(int store_fd, const char *name, int need_own_init, vs_error_t *err);
/* 1 if it exists, 0 if not. */
int vs_template_exists(int store_fd, const char *name);
/* Lists templates into a malloc'd array, sorted by name; with usage (may
 * be NULL), also the store's use of the disk. */
int vs_template_list(int store_fd, vs_template_info_t **list, size_t *count,
                     vs_template_store_usage_t *usage, vs_error_t *err);
/* Removes a template; the caller has checked that no VPS uses it. */
int vs_template_remove(int store_fd, const char *name, vs_error_t *err);
/* Reads a key of the template's meta file into a malloc'd string, or NULL. */
char *vs_template_meta(int store_fd, const char *name, const char *key);
/* unify's temporary link, at the top of the store */
#define VS_UNIFY_TMP ".unify.tmp"

typedef struct {
        size_t files;  /* regular files looked at */
        size_t linked; /* files replaced by a hard link */
        size_t errors; /* files that could not be replaced (left as they were) */
        uint64_t bytes_before, bytes_after; /* the store on disk, each inode once */
} vs_template_unify_t;

/* Hard-links files that are identical (content, mode, owner, xattrs) across
 * all templates into one inode. Safe while VPS run on them. */
int vs_template_unify(int store_fd, vs_template_unify_t *report, vs_error_t *err);
/* Bytes allocated below dirfd, each hard-linked inode counted once. */
uint64_t vs_du_at(int dirfd);
/* As vs_du_at, giving up past `budget` entries (0: none): 1 when *bytes is
 * the whole count, 0 when the walk gave up. */
int vs_du_at_bounded(int dirfd, uint64_t budget, uint64_t *bytes);
/* Removes half-built templates that a crash left behind. */
void vs_template_store_recover(int store_fd);

/* Creates the VPS's private layers (upper/, work/, rootfs/, lower/) in vps_fd. */
int vs_rootfs_prepare(int vps_fd, vs_error_t *err);
/* The overlay features a VPS root is mounted with (see rootfs.c). */
#define VS_OVERLAY_FEATURES "redirect_dir=on,index=on,xino=auto"
/* How long a start waits (vs_backoff) for what the VPS's last run held to
 * go: its overlay (a mount index=on refuses while another holds the upper
 * directory) and its disk image's loop device. The kernel lets go of a dead
 * mount namespace's mounts at times from a workqueue, and detaches a loop
 * device from one; the builder waits, and vsd reads its reports meanwhile,
 * so it is short: about 4 s. */
#define VS_LAST_RUN_WAIT_MS 4095
/* How long the last round of a migration of an image VPS waits for its
 * stopped run to let the image go (its loop device unmounted: what ext4
 * held is in the image then). Under load (17-20 on 2 CPUs) the kernel's
 * workqueue took more than 10 s; the round runs in a fork of vsd, so the
 * bound is long. A round that gives up exits VS_MIGRATE_IMAGE_HELD. */
#define VS_MIGRATE_UNMOUNT_WAIT_MS 60000
#define VS_MIGRATE_IMAGE_HELD 75
/* Mounts the overlay at `target`: lower is the template's rootfs. Runs in
 * the VPS's own mount namespace, so the mount dies with the VPS. */
int vs_rootfs_mount(const char *lower, const char *upper, const char *work, const char *target,
                    vs_error_t *err);
/* Copies directory `name` of src_dirfd, and everything below it, to `name`
 * in dst_dirfd (which must not exist): owners, modes, times, xattrs, hard
 * links, device nodes, fifos, sockets and symlinks as they are. */
int vs_copy_tree_at(int src_dirfd, int dst_dirfd, const char *name, const vs_id_shift_t *shift,
                    vs_error_t *err);
/* Brings dst_dirfd/name, a copy vs_copy_tree_at made of src_dirfd/name
 * (with the same shift), up to date: what the source no longer has goes,
 * what the copy lacks or whose inode changed at or after `since` (its
 * ctime, which every change moves) is copied anew; the rest is kept. For a
 * copy taken while its source was written: `since` is a time read from
 * the file system's clock before that copy began. */
int vs_sync_tree_at(int src_dirfd, int dst_dirfd, const char *name, const struct timespec *since,
                    const vs_id_shift_t *shift, vs_error_t *err);
/* Copies regular file `name`, keeping its holes. */
int vs_copy_sparse_at(int src_dirfd, int dst_dirfd, const char *name, vs_error_t *err);
/* Whether `path` can be used in overlay options (no ',' ':' or '\\'). */
int vs_rootfs_path_ok(const char *path);

#endif
