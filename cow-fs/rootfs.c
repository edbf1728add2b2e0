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

int vs_rootfs_mount(const char *lower, const char *upper, const char *work, const char *target,
                    vs_error_t *err)
{
        cleanup_free char *options = NULL;

        if (!vs_rootfs_path_ok(lower) || !vs_rootfs_path_ok(upper) || !vs_rootfs_path_ok(work))
                return vs_error_set(err, EINVAL, "overlay paths may not contain , : or \\");
        options = vs_strdupf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
        if (mount("overlay", target, "overlay", MS_NODEV, options) < 0)
                return vs_error_errno(err, "mount overlay on %s", target);
        return 0;
}
