/* The disk-limit backend table and the two small backends: dir (no limit)
 * and prjquota (host project quotas). The image backend is in image.c, the
 * parsers of limits in disklimit.c. */
#include <errno.h>
#include <fcntl.h>
#include <linux/dqblk_xfs.h>
#include <linux/quota.h>
#include <stdio.h>
#include <string.h>
#include <sys/quota.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/cowfs.h"
#include "vs/diskquota.h"
#include "vs/fsutil.h"

extern const vs_disk_backend_t vs_disk_backend_image;

/* ---- dir: no limit ---- */

static int dir_create(int vps_fd, const char *vps_path, const vs_disk_limits_t *lim,
                      vs_error_t *err)
{
        (void)vps_path;
        if (vs_disk_limited(lim))
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "the dir backend has no limits");
        return vs_rootfs_prepare(vps_fd, err);
}

static int dir_resize(const char *vps_path, int running, const vs_disk_limits_t *lim,
                      vs_error_t *err)
{
        (void)vps_path;
        (void)running;
        (void)lim;
        return vs_error_kind(err, VS_E_STATE, EINVAL,
                             "the VPS was created without a disk limit (dir backend); "
                             "clone it into a VPS with one");
}

static int dir_usage(const char *vps_path, const char *root_path, vs_disk_usage_t *usage,
                     vs_error_t *err)
{
        cleanup_free char *upper = vs_strdupf("%s/upper", vps_path);
        cleanup_close int fd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        (void)root_path;
        memset(usage, 0, sizeof(*usage));
        if (fd < 0)
                return vs_error_errno(err, "open %s", upper);
        usage->bytes_used = vs_du_at(fd);
        return 0;
}

static int dir_clone(int src_fd, int dst_fd, const char *dst_path, const vs_id_shift_t *shift,
                     vs_error_t *err)
{
        (void)dst_path;
        if (mkdirat(dst_fd, "rootfs", 0755) < 0 || mkdirat(dst_fd, "work", 0755) < 0)
                return vs_error_errno(err, "mkdir");
        return vs_copy_tree_at(src_fd, dst_fd, "upper", shift, err);
}

static int dir_resync(int src_fd, int dst_fd, const struct timespec *since,
                      const vs_id_shift_t *shift, vs_error_t *err)
{
        return vs_sync_tree_at(src_fd, dst_fd, "upper", since, shift, err);
}

static const vs_disk_backend_t backend_dir = {
        .name = "dir",
        .layers = ".",
        .create = dir_create,
        .clone = dir_clone,
        .resync = dir_resync,
        .resize = dir_resize,
        .usage = dir_usage,
};

/* ---- prjquota: project quotas of the host file system ---- */

/* Whether the file system holding `path` enforces project quotas. */
static int has_project_quota(const char *path)
{
        struct fs_quota_statv qs = { .qs_version = FS_QSTATV_VERSION1 };
        struct if_dqinfo info;
        cleanup_close int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return 0;
        /* unsigned: glibc's QCMD shifts the command, 0x800005 << 8
         * overflows an int (UBSan) */
        if (syscall(SYS_quotactl_fd, fd, QCMD((unsigned)Q_GETINFO, PRJQUOTA), 0, &info) == 0)
                return 1;
        /* XFS reports its quota state through its own command */
        return syscall(SYS_quotactl_fd, fd, QCMD((unsigned)Q_XGETQSTATV, PRJQUOTA), 0, &qs) == 0 &&
               (qs.qs_flags & FS_QUOTA_PDQ_ENFD);
}

/* Setting project ids and limits is not written yet: the backend says so
 * rather than create a VPS whose limit nothing enforces. */
static int prjquota_create(int vps_fd, const char *vps_path, const vs_disk_limits_t *lim,
                           vs_error_t *err)
{
        (void)vps_fd;
        (void)lim;
        if (!has_project_quota(vps_path))
                return vs_error_kind(err, VS_E_USAGE, EOPNOTSUPP,
                                     "disk backend prjquota: the file system of %s has no "
                                     "project quota support (mount it with prjquota, or set "
                                     "disk_backend = image in vsd.conf)",
                                     vps_path);
        return vs_error_kind(err, VS_E_USAGE, EOPNOTSUPP,
                             "disk backend prjquota: setting project limits is not implemented "
                             "yet (set disk_backend = image in vsd.conf)");
}

static const vs_disk_backend_t backend_prjquota = {
        .name = "prjquota",
        .layers = ".",
        .create = prjquota_create,
        .clone = dir_clone,
        .resync = dir_resync,
        .resize = dir_resize,
        .usage = dir_usage,
};

/* ---- the table ---- */

static const vs_disk_backend_t *const backends[] = {
        &backend_dir,
        &vs_disk_backend_image,
        &backend_prjquota,
};

const vs_disk_backend_t *vs_disk_backend_find(const char *name)
{
        for (size_t i = 0; name && i < sizeof(backends) / sizeof(backends[0]); i++)
                if (strcmp(backends[i]->name, name) == 0)
                        return backends[i];
        return NULL;
}

const char *vs_disk_backend_names(void)
{
        return "dir, image, prjquota";
}

const vs_disk_backend_t *vs_disk_backend_choose(const char *preferred, const vs_disk_limits_t *lim,
                                                vs_error_t *err)
{
        const vs_disk_backend_t *b;

        if (!vs_disk_limited(lim))
                return &backend_dir;
        b = vs_disk_backend_find(preferred && *preferred ? preferred : "image");
        if (!b)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "unknown disk backend '%s' in vsd.conf (backends: %s)",
                                     preferred, vs_disk_backend_names()),
                       NULL;
        if (b == &backend_dir)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "vsd.conf names disk backend dir, which cannot enforce "
                                     "--diskspace or --diskinodes"),
                       NULL;
        return b;
}
