/* Snapshots of a VPS: point-in-time copies of its own layer (upper/ of the
 * dir backend, disk.img of the image backend) in NAME/snapshots/SNAP/,
 * with a meta file (created, live, backend, bytes). A snapshot is made by
 * the backend's clone copy without an id shift: the path a clone takes
 * (vsd_clone_copy_layer): a running VPS is copied running, then frozen for
 * the backend's resync of what it changed meanwhile, so the snapshot is of
 * one moment and the pause as long as the changes. The copy is
 * copy_file_range's: a reflink where the file system shares extents (XFS,
 * btrfs), a copy of the data in the kernel elsewhere (ext4); a new overlay
 * layer would copy nothing, but the upper layer of a mounted overlay cannot
 * change under a running VPS. A running VPS on a disk image is copied by
 * the image backend's clone_live instead (rounds of its blocks while it
 * runs, then frozen for those that changed: cow-fs/image.c).
 * contrib/bench/snapshot.sh measures both.
 *
 * A restore needs the VPS stopped (it is refused while it runs: a restore
 * throws away what the VPS wrote since, which its admin stops it for); it
 * copies the snapshot beside the VPS's layer and swaps the two with
 * renameat2(RENAME_EXCHANGE), so that the VPS has either layer whole. The
 * snapshot stays. What a crash leaves (.SNAP.creating, .SNAP.deleting,
 * .snapshot-restore) goes to the remover at the next snapshot command on
 * the VPS or the next start of vsd.
 * Each command but list runs in a worker holding the VPS. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/diskquota.h"
#include "vs/fsutil.h"
#include "vs/kvfile.h"
#include "vs/log.h"
#include "store.h"
#include "trash.h"
#include "vsd.h"

#define SNAP_DIR "snapshots"
#define SNAP_META "meta"
#define SNAP_CREATING ".creating"
#define SNAP_DELETING ".deleting"
#define RESTORE_DIR ".snapshot-restore"
#define SNAPSHOTS_MAX 256

static int open_dir_at(int dirfd, const char *name, vs_error_t *err)
{
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        if (fd < 0)
                return vs_error_errno(err, "open %s", name);
        return fd;
}

/* NAME/snapshots, made when absent. */
static int open_snapshots(struct vsd *d, const char *vps, int make, vs_error_t *err)
{
        cleanup_free char *path = vs_strdupf("%s/%s", vps, SNAP_DIR);

        if (make && mkdirat(d->vps_fd, path, 0700) < 0 && errno != EEXIST)
                return vs_error_errno(err, "mkdir %s", path);
        return open_dir_at(d->vps_fd, path, err);
}

static int snapshot_exists(int snaps_fd, const char *snap)
{
        struct stat st;

        return fstatat(snaps_fd, snap, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* What a crash left: the hidden entries of snapshots/ and the VPS's own
 * restore directory, to the remover (a copy of a layer would hold vsd's
 * loop for as long as its removal takes). No worker holds the VPS: the
 * caller has it, or vsd is starting. */
static void remove_leftovers(struct vsd *d, const char *vps, int snaps_fd)
{
        cleanup_closedir DIR *dir = NULL;
        struct dirent *ent;

        vsd_trash_doom_within(d, vps, RESTORE_DIR);
        if (!(dir = vs_opendir_at(snaps_fd, ".")))
                return;
        while ((ent = readdir(dir)))
                if (ent->d_name[0] == '.' && strcmp(ent->d_name, ".") != 0 &&
                    strcmp(ent->d_name, "..") != 0) {
                        cleanup_free char *rel = vs_strdupf(SNAP_DIR "/%s", ent->d_name);

                        vsd_trash_doom_within(d, vps, rel);
                }
}

void vsd_snapshot_sweep(struct vsd *d, const char *vps)
{
        cleanup_close int snaps_fd = open_snapshots(d, vps, 0, NULL);

        if (snaps_fd >= 0)
                remove_leftovers(d, vps, snaps_fd);
        else
                vsd_trash_doom_within(d, vps, RESTORE_DIR);
}

/* sYYYYMMDD-HHMMSS (UTC), with -N when that is taken. */
static void default_name(int snaps_fd, char *out, size_t size)
{
        time_t now = time(NULL);
        struct tm tm;
        char base[32];

        gmtime_r(&now, &tm);
        strftime(base, sizeof(base), "s%Y%m%d-%H%M%S", &tm);
        snprintf(out, size, "%s", base);
        for (int n = 2; snapshot_exists(snaps_fd, out) && n < 1000; n++)
                snprintf(out, size, "%s-%d", base, n);
}

static size_t count_snapshots(int snaps_fd)
{
        cleanup_closedir DIR *dir = vs_opendir_at(snaps_fd, ".");
        struct dirent *ent;
        size_t n = 0;

        if (!dir)
                return 0;
        while ((ent = readdir(dir)))
                n += ent->d_name[0] != '.';
        return n;
}

static void work_init(struct vsd_work *w, struct vps *v, const char *snap)
{
        w->vps = v;
        vs_strlcpy(w->clone.src, v->name, sizeof(w->clone.src));
        vs_strlcpy(w->name, snap, sizeof(w->name));
}

static int load_backend(struct vsd *d, struct vps *v, struct vsd_work *w, vs_error_t *err)
{
        if (vsd_config_load(d, v->name, &w->clone.src_config, err) < 0)
                return -1;
        w->clone.disk = vsd_disk_backend_of(&w->clone.src_config);
        return w->clone.disk ? 0 : vs_error_set(err, EINVAL, "no disk backend");
}

/* Opens the VPS directory and its snapshots/ for a worker. */
static int open_vps_and_snapshots(struct vsd *d, const char *vps, int *vps_fd, int *snaps_fd,
                                  vs_error_t *err)
{
        *vps_fd = open_dir_at(d->vps_fd, vps, err);
        if (*vps_fd < 0)
                return -1;
        *snaps_fd = open_snapshots(d, vps, 1, err);
        if (*snaps_fd < 0) {
                close(*vps_fd);
                return -1;
        }
        return 0;
}

/* ---- take ---- */

static int write_meta(int snap_fd, const struct vsd_work *w, vs_error_t *err)
{
        cleanup_kv vs_kv_t meta = { 0 };

        vs_kv_setf(&meta, "created", "%lld", (long long)time(NULL));
        vs_kv_set(&meta, "live", w->clone.frozen || w->clone.live ? "yes" : "no");
        vs_kv_set(&meta, "backend", w->clone.disk->name);
        vs_kv_setf(&meta, "bytes", "%llu", (unsigned long long)vs_du_at(snap_fd));
        return vs_kv_save(snap_fd, SNAP_META, &meta, 1, err);
}

/* In the worker: the copy into snapshots/.SNAP.creating, its meta, then
 * its name. *copy_ms: how long the copy took (the VPS frozen, if it runs). */
int vsd_snapshot_take(struct vsd *d, const struct vsd_work *w, long long *frozen_ms,
                      vs_error_t *err)
{
        cleanup_free char *creating = vs_strdupf(".%s%s", w->name, SNAP_CREATING);
        cleanup_free char *path = NULL;
        cleanup_close int vps_fd = -1, snaps_fd = -1, snap_fd = -1;
        int rc;

        if (open_vps_and_snapshots(d, w->clone.src, &vps_fd, &snaps_fd, err) < 0)
                return -1;
        path = vs_strdupf("%s/%s/%s/%s", d->vps_dir, w->clone.src, SNAP_DIR, creating);
        if (mkdirat(snaps_fd, creating, 0700) < 0)
                return vs_error_errno(err, "mkdir %s", path);
        snap_fd = open_dir_at(snaps_fd, creating, err);
        rc = snap_fd < 0 ? -1
                         : vsd_clone_copy_layer(d, &w->clone, vps_fd, snap_fd, path, NULL,
                                                frozen_ms, err);
        if (rc == 0)
                rc = write_meta(snap_fd, w, err);
        if (rc == 0 && (fsync(snap_fd) < 0 || renameat(snaps_fd, creating, snaps_fd, w->name) < 0))
                rc = vs_error_errno(err, "publish snapshot %s", w->name);
        if (rc == 0)
                rc = vs_fsync_dir(snaps_fd, err);
        if (rc < 0)
                vs_rmtree_at(snaps_fd, creating, NULL);
        return rc;
}

int vsd_snapshot_take_prepare(struct vsd *d, struct vps *v, const char *given, struct vsd_work *w,
                              vs_error_t *err)
{
        cleanup_close int snaps_fd = open_snapshots(d, v->name, 1, err);
        char snap[sizeof(w->name)];

        if (snaps_fd < 0)
                return -1;
        remove_leftovers(d, v->name, snaps_fd);
        if (given && snapshot_exists(snaps_fd, given))
                return vs_error_kind(err, VS_E_STATE, EEXIST, "snapshot %s of %s already exists",
                                     given, v->name);
        if (count_snapshots(snaps_fd) >= SNAPSHOTS_MAX)
                return vs_error_kind(err, VS_E_STATE, ENOSPC,
                                     "%s has %d snapshots already (delete some)", v->name,
                                     SNAPSHOTS_MAX);
        if (given)
                vs_strlcpy(snap, given, sizeof(snap));
        else
                default_name(snaps_fd, snap, sizeof(snap));
        work_init(w, v, snap);
        if (load_backend(d, v, w, err) < 0 ||
            vsd_vps_freeze_for_copy(v, w->clone.disk, &w->clone, err) < 0) {
                vsd_clone_free(&w->clone);
                return -1;
        }
        return 0;
}

/* ---- list ---- */

static int describe(int snaps_fd, const char *snap, vsd_snapshot_info_t *info)
{
        cleanup_free char *path = vs_strdupf("%s/%s", snap, SNAP_META);
        cleanup_kv vs_kv_t meta = { 0 };
        const char *live;

        if (vs_kv_load(snaps_fd, path, &meta, NULL) < 0)
                return -1;
        memset(info, 0, sizeof(*info));
        vs_strlcpy(info->name, snap, sizeof(info->name));
        info->created = strtoll(vs_kv_get(&meta, "created") ?: "0", NULL, 10);
        info->bytes = strtoull(vs_kv_get(&meta, "bytes") ?: "0", NULL, 10);
        live = vs_kv_get(&meta, "live");
        info->live = live && strcmp(live, "yes") == 0;
        vs_strlcpy(info->backend, vs_kv_get(&meta, "backend") ?: "dir", sizeof(info->backend));
        return 0;
}

static int by_created(const void *a, const void *b)
{
        const vsd_snapshot_info_t *x = a, *y = b;

        if (x->created != y->created)
                return x->created < y->created ? -1 : 1;
        return strcmp(x->name, y->name);
}

size_t vsd_snapshot_list(struct vsd *d, struct vps *v, vsd_snapshot_info_t **out)
{
        cleanup_close int snaps_fd = open_snapshots(d, v->name, 0, NULL);
        cleanup_closedir DIR *dir = snaps_fd >= 0 ? vs_opendir_at(snaps_fd, ".") : NULL;
        struct dirent *ent;
        size_t n = 0;

        *out = vs_xmalloc(SNAPSHOTS_MAX * sizeof(**out));
        while (dir && n < SNAPSHOTS_MAX && (ent = readdir(dir)))
                if (ent->d_name[0] != '.' && describe(snaps_fd, ent->d_name, &(*out)[n]) == 0)
                        n++;
        qsort(*out, n, sizeof(**out), by_created);
        return n;
}

/* ---- restore ---- */

/* Swaps each entry of the copy with the VPS's own (or moves it there):
 * what the backend's copy made but the mount points. */
static int swap_layer(int vps_fd, int copy_fd, const vs_disk_backend_t *disk, vs_error_t *err)
{
        cleanup_closedir DIR *dir = vs_opendir_at(copy_fd, ".");
        struct dirent *ent;

        if (!dir)
                return vs_error_errno(err, "read the restored copy");
        while ((ent = readdir(dir))) {
                const char *n = ent->d_name;
                struct stat st;

                if (!strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, "rootfs") ||
                    !strcmp(n, disk->layers))
                        continue;
                if (fstatat(vps_fd, n, &st, AT_SYMLINK_NOFOLLOW) == 0
                            ? renameat2(copy_fd, n, vps_fd, n, RENAME_EXCHANGE) < 0
                            : renameat(copy_fd, n, vps_fd, n) < 0)
                        return vs_error_errno(err, "put %s in place", n);
        }
        return vs_fsync_dir(vps_fd, err);
}

int vsd_snapshot_restore(struct vsd *d, const struct vsd_work *w, vs_error_t *err)
{
        cleanup_free char *path = vs_strdupf("%s/%s/%s", d->vps_dir, w->clone.src, RESTORE_DIR);
        cleanup_close int vps_fd = -1, snaps_fd = -1, snap_fd = -1, copy_fd = -1;
        int rc;

        if (open_vps_and_snapshots(d, w->clone.src, &vps_fd, &snaps_fd, err) < 0 ||
            (snap_fd = open_dir_at(snaps_fd, w->name, err)) < 0)
                return -1;
        vs_rmtree_at(vps_fd, RESTORE_DIR, NULL);
        if (mkdirat(vps_fd, RESTORE_DIR, 0700) < 0)
                return vs_error_errno(err, "mkdir %s", path);
        copy_fd = open_dir_at(vps_fd, RESTORE_DIR, err);
        rc = copy_fd < 0 ? -1 : w->clone.disk->clone(snap_fd, copy_fd, path, NULL, err);
        if (rc == 0)
                rc = swap_layer(vps_fd, copy_fd, w->clone.disk, err);
        /* after the swap: the VPS's layer of before */
        vs_rmtree_at(vps_fd, RESTORE_DIR, NULL);
        return rc;
}

/* v and its snapshot snap: prepared for restore and delete. */
static int find_snapshot(struct vsd *d, struct vps *v, const char *snap, int *snaps_fd,
                         vs_error_t *err)
{
        *snaps_fd = open_snapshots(d, v->name, 1, err);
        if (*snaps_fd < 0)
                return -1;
        remove_leftovers(d, v->name, *snaps_fd);
        if (!snapshot_exists(*snaps_fd, snap))
                return vs_error_kind(err, VS_E_NOTFOUND, ENOENT, "%s has no snapshot %s", v->name,
                                     snap);
        return 0;
}

int vsd_snapshot_restore_prepare(struct vsd *d, struct vps *v, const char *snap, struct vsd_work *w,
                                 vs_error_t *err)
{
        cleanup_close int snaps_fd = -1;

        if (find_snapshot(d, v, snap, &snaps_fd, err) < 0)
                return -1;
        if (v->phase != PHASE_STOPPED)
                return vs_error_kind(err, VS_E_STATE, EBUSY,
                                     "VPS is %s: stop it to restore a snapshot (what it wrote "
                                     "since is lost)",
                                     vsd_phase_name(v->phase));
        if (v->backups)
                return vs_error_kind(err, VS_E_STATE, EBUSY,
                                     "a backup of the VPS is being written");
        work_init(w, v, snap);
        if (load_backend(d, v, w, err) < 0) {
                vsd_clone_free(&w->clone);
                return -1;
        }
        return 0;
}

/* ---- delete ---- */

int vsd_snapshot_delete(struct vsd *d, const struct vsd_work *w, vs_error_t *err)
{
        cleanup_free char *deleting = vs_strdupf(".%s%s", w->name, SNAP_DELETING);
        cleanup_close int snaps_fd = open_snapshots(d, w->clone.src, 0, err);

        if (snaps_fd < 0)
                return -1;
        return vs_rmtree_at(snaps_fd, deleting, err);
}

int vsd_snapshot_delete_prepare(struct vsd *d, struct vps *v, const char *snap, struct vsd_work *w,
                                vs_error_t *err)
{
        cleanup_free char *deleting = vs_strdupf(".%s%s", snap, SNAP_DELETING);
        cleanup_close int snaps_fd = -1;

        if (find_snapshot(d, v, snap, &snaps_fd, err) < 0)
                return -1;
        /* hidden at once: a list no longer shows it, a crash leaves a leftover */
        if (renameat(snaps_fd, snap, snaps_fd, deleting) < 0)
                return vs_error_errno(err, "delete snapshot %s", snap);
        work_init(w, v, snap);
        return 0;
}
