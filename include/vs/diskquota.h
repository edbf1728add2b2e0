/* cow-fs: disk limits of a VPS, behind a table of backends.
 *   dir       no limit: upper/ and work/ are plain directories (the default)
 *   image     a per-VPS sparse ext4 image (disk.img) sized to the space limit,
 *             with the inode limit as its inode count, loop-mounted on disk/
 *             inside the VPS's own mount namespace; upper/ and work/ live in it
 *   prjquota  project quotas of the host file system, where it has them
 * The image's mount and its loop device (autoclear) exist only in the VPS's
 * mount namespace and go away with it: nothing is left on the host to clean. */
#ifndef VS_DISKQUOTA_H
#define VS_DISKQUOTA_H

#include <stdint.h>

#include "vs/cowfs.h"
#include "vs/error.h"

typedef struct {
        uint64_t soft, hard; /* 0 and 0: no limit */
} vs_disk_limit_t;

typedef struct {
        vs_disk_limit_t space;  /* bytes */
        vs_disk_limit_t inodes; /* files, directories, links, ... */
} vs_disk_limits_t;

typedef struct {
        uint64_t bytes_used, bytes_limit;
        uint64_t inodes_used, inodes_limit;
} vs_disk_usage_t;

/* Smallest and largest image the image backend makes: the images have no
 * 64bit feature (2^32 blocks of 4K), and ext4 hosts cap files below 16T. */
#define VS_DISK_MIN_SPACE (8ULL << 20)
#define VS_DISK_MAX_SPACE (8ULL << 40)
#define VS_DISK_MIN_INODES 64ULL
#define VS_DISK_MAX_INODES (1ULL << 31)

/* "SIZE[:HARD]" (sizes as vs_parse_size) and "N[:HARD]"; without HARD the
 * hard limit is the soft one. Refuses HARD < SIZE and values out of range. */
int vs_disk_parse_space(const char *text, vs_disk_limit_t *out, vs_error_t *err);
int vs_disk_parse_inodes(const char *text, vs_disk_limit_t *out, vs_error_t *err);
/* Whether any limit is set. */
int vs_disk_limited(const vs_disk_limits_t *lim);

/* What a live copy calls to hold a running VPS's processes still (frozen
 * 1) and to let them go (0): the caller's cgroup freezer. */
typedef struct {
        int (*freeze)(void *ctx, int frozen, vs_error_t *err);
        void *ctx;
} vs_disk_freezer_t;

typedef struct vs_disk_backend {
        const char *name;
        /* Directory below the VPS's directory that holds upper/ and work/. */
        const char *layers;
        /* Creates the VPS's storage in its (new) directory. */
        int (*create)(int vps_fd, const char *vps_path, const vs_disk_limits_t *lim,
                      vs_error_t *err);
        /* Makes the layers reachable; runs in the VPS's own mount namespace
         * before the overlay is mounted. NULL: nothing to do. */
        int (*attach)(const char *vps_path, vs_error_t *err);
        /* Changes the limits; `running` says whether the VPS is up. */
        int (*resize)(const char *vps_path, int running, const vs_disk_limits_t *lim,
                      vs_error_t *err);
        /* Copies a stopped VPS's storage into a new VPS's directory. */
        int (*clone)(int src_fd, int dst_fd, const char *dst_path, const vs_id_shift_t *shift,
                     vs_error_t *err);
        /* Brings a copy that clone made while the VPS ran up to date with
         * its storage, the VPS frozen: what changed since `since` (a time of
         * the file system's clock from before that copy). NULL: the backend
         * has no such pass, a running VPS is copied frozen whole. */
        int (*resync)(int src_fd, int dst_fd, const struct timespec *since,
                      const vs_id_shift_t *shift, vs_error_t *err);
        /* Copies a running VPS's storage as clone does, the VPS running
         * but for a short frozen step (fr) whose length goes in *frozen_ms.
         * Anything that fails in that step is undone before it returns:
         * the VPS thawed; the caller removes the partial copy. NULL: the
         * backend copies a running VPS by clone and resync. */
        int (*clone_live)(int src_fd, int dst_fd, const char *dst_path, const vs_id_shift_t *shift,
                          const vs_disk_freezer_t *fr, long long *frozen_ms, vs_error_t *err);
        /* Lets go of what a clone_live that died in its frozen step held
         * (its worker killed): vps_path is the VPS's directory. NULL: none. */
        void (*thaw)(const char *vps_path);
        /* Fills usage; root_path is the running VPS's root (/proc/PID/root)
         * or NULL when it is stopped. */
        int (*usage)(const char *vps_path, const char *root_path, vs_disk_usage_t *usage,
                     vs_error_t *err);
} vs_disk_backend_t;

/* NULL when there is no backend of that name. */
const vs_disk_backend_t *vs_disk_backend_find(const char *name);
/* Names of every backend, for messages: "dir, image, prjquota". */
const char *vs_disk_backend_names(void);
/* The backend for new VPS: dir without limits, else `preferred` (vsd.conf's
 * disk_backend, NULL for image). Refuses dir with limits. */
const vs_disk_backend_t *vs_disk_backend_choose(const char *preferred, const vs_disk_limits_t *lim,
                                                vs_error_t *err);

/* The image backend's parts, for tests and tools. */
/* Creates a sparse ext4 image of `bytes` with `inodes` inodes and the
 * directories upper/ and work/ in its root, with libext2fs. */
int vs_disk_image_create(const char *path, uint64_t bytes, uint64_t inodes, vs_error_t *err);
/* Gives a copied image a new UUID, so that it is not taken for its source. */
int vs_disk_image_reidentify(const char *path, vs_error_t *err);
/* Moves the owners of every inode of an image (not mounted) by shift. */
int vs_disk_image_shift_ids(const char *path, const vs_id_shift_t *shift, vs_error_t *err);
/* Reads the image's size and usage from its superblock (not while mounted). */
int vs_disk_image_usage(const char *path, vs_disk_usage_t *usage, vs_error_t *err);
/* An image that came from another node (a migration), not mounted: its
 * overlay origins (file handles of that node's template) go from every
 * inode, and its overlay work directory is emptied at its first attach.
 * vps_fd and vps_path: the VPS's directory. */
int vs_disk_image_adopt(int vps_fd, const char *vps_path, vs_error_t *err);
/* 1 while a mounted loop device holds the image (a VPS's run that is still
 * ending), else 0. */
int vs_disk_image_mounted(const char *image);
/* The same, with the loop device's name in dev (/dev/loopN) when it is. */
int vs_disk_image_held_by(const char *image, char *dev, size_t size);
/* A round of a migration of an image (cow-fs/imagesync.c): writes to
 * out_fd the image's data blocks (first) or those that changed since the
 * round before, by the keyed block sums in sums_fd (a file of the
 * source's, rewritten once the round is sent whole); *sent: the bytes of
 * data it held. A hole stays a hole; a block that became one goes as one. */
int vs_image_round_send(int img_fd, int sums_fd, int first, int out_fd, uint64_t *sent,
                        vs_error_t *err);
/* The same round applied straight to a copy of the image on this node
 * (dst_fd: sized to the image, its blocks written and holes punched): a
 * live snapshot, clone or backup. *copied: the bytes of data written. */
int vs_image_round_copy(int img_fd, int sums_fd, int first, int dst_fd, uint64_t *copied,
                        vs_error_t *err);
/* Applies a round read from in_fd to the target's copy img_fd and syncs
 * it; an image larger than max_size is refused. */
int vs_image_round_receive(int in_fd, int img_fd, uint64_t max_size, vs_error_t *err);

#endif
