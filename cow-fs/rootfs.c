#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "vs/cleanup.h"
#include "vs/cowfs.h"
#include "vs/fsutil.h"

int vs_rootfs_path_ok(const char *path)
{
        return strpbrk(path, ",:\\") == NULL;
}

int vs_rootfs_prepare(int vps_fd, vs_error_t *err)
{
        /* lower/ is where a VPS with its own ids sees the idmapped template */
        static const char *const dirs[] = { "upper", "work", "rootfs", "lower" };

        for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
                if (mkdirat(vps_fd, dirs[i], 0755) < 0 && errno != EEXIST)
                        return vs_error_errno(err, "mkdir %s", dirs[i]);
        return 0;
}

/* The builder mounts as host root, so overlay keeps its marks in trusted.*
 * xattrs of the upper layer, which the VPS cannot forge:
 * - redirect_dir=on: a template directory can be renamed (dpkg renames
 *   package directories; without it rename(2) fails with EXDEV);
 * - index=on: a template file's hard links stay one inode when one name is
 *   written (copy-up of one name copies the inode once for all of them);
 * - xino=auto: inode numbers stay unique where the upper is another file
 *   system (the --diskspace image), which index and tar need.
 * Not metacopy: a chown or chmod copies the data up instead of only the
 * inode, a small cost for a trust model that stays overlay's default. */
int vs_rootfs_mount(const char *lower, const char *upper, const char *work, const char *target,
                    vs_error_t *err)
{
        cleanup_free char *options = NULL;

        if (!vs_rootfs_path_ok(lower) || !vs_rootfs_path_ok(upper) || !vs_rootfs_path_ok(work))
                return vs_error_set(err, EINVAL, "overlay paths may not contain , : or \\");
        options = vs_strdupf("lowerdir=%s,upperdir=%s,workdir=%s," VS_OVERLAY_FEATURES, lower,
                             upper, work);
        if (mount("overlay", target, "overlay", MS_NODEV, options) < 0)
                return vs_error_errno(err, "mount overlay on %s", target);
        return 0;
}
