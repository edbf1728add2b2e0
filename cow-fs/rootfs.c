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

/* A start right after the VPS's last run ended (a reboot inside, a
 * restart) can find that run's overlay still alive: the kernel lets go of
 * the mounts of a dead mount namespace after its last process has gone,
 * at times from a workqueue (a delayed mntput), and with index=on overlay
 * refuses an upper or work dir that another instance holds (EBUSY). Tried
 * again, the pause doubling from 1 ms, for about four seconds in all
 * (test_debian.sh saw it at a host load of 12, test_adopt.sh after two
 * seconds at 14); each refusal costs a line
 * in the kernel's log, hence few tries. An upper dir that a live mount
 * holds fails after them as before. */
static int mount_overlay(const char *target, const char *options)
{
        long pause_ms = 1;

        while (mount("overlay", target, "overlay", MS_NODEV, options) < 0)
                if (errno != EBUSY || vs_backoff(&pause_ms, VS_LAST_RUN_WAIT_MS) < 0)
                        return -1;
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
        if (mount_overlay(target, options) < 0)
                return vs_error_errno(err, "mount overlay on %s", target);
        return 0;
}
