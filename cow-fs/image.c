/* The image disk backend: a sparse ext4 image per VPS, made with libext2fs,
 * loop-mounted inside the VPS's own mount namespace. Its loop device is
 * autoclear, so it is released when that namespace (and with it the last
 * mount) goes away: a stop, a crash of the VPS or of vsd leave nothing. */
#include <errno.h>
#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/cowfs.h"
#include "vs/diskquota.h"
#include "vs/fsutil.h"

#include "idshift.h"

extern char **environ;

#define IMAGE_FILE "disk.img"
#define IMAGE_MNT "disk"
/* Left by a clone: the image's overlay work directory is its source's */
#define IMAGE_WORK_STALE "disk.work-stale"
#define IMAGE_BLOCK 4096ULL
#define LOOP_ATTEMPTS 16

static int ext2_error(vs_error_t *err, errcode_t rc, const char *what, const char *path)
{
        return vs_error_set(err, EIO, "%s %s: %s", what, path, error_message(rc));
}

static void ext2fs_closep(ext2_filsys *fs)
{
        if (*fs)
                ext2fs_close_free(fs);
}
#define cleanup_ext2fs __attribute__((cleanup(ext2fs_closep)))

/* ---- making the image ---- */

/* ext4 as mke2fs makes it, minus the journal: a journal would take a
 * sizeable share of a small limit, and the image is private to one VPS. No
 * blocks are reserved for root: the VPS's root is the one who fills it. */
static void image_params(struct ext2_super_block *p, uint64_t bytes, uint64_t inodes)
{
        memset(p, 0, sizeof(*p));
        ext2fs_blocks_count_set(p, bytes / IMAGE_BLOCK);
        ext2fs_r_blocks_count_set(p, 0);
        p->s_log_block_size = 2; /* 1024 << 2 */
        p->s_inodes_count = (__u32)inodes;
        p->s_rev_level = EXT2_DYNAMIC_REV;
        p->s_inode_size = 256;
        p->s_feature_compat = EXT2_FEATURE_COMPAT_DIR_INDEX | EXT2_FEATURE_COMPAT_EXT_ATTR;
        p->s_feature_incompat = EXT2_FEATURE_INCOMPAT_FILETYPE | EXT3_FEATURE_INCOMPAT_EXTENTS |
                                EXT4_FEATURE_INCOMPAT_FLEX_BG;
        p->s_feature_ro_compat =
                EXT2_FEATURE_RO_COMPAT_SPARSE_SUPER | EXT2_FEATURE_RO_COMPAT_LARGE_FILE |
                EXT4_FEATURE_RO_COMPAT_HUGE_FILE | EXT4_FEATURE_RO_COMPAT_DIR_NLINK |
                EXT4_FEATURE_RO_COMPAT_EXTRA_ISIZE;
        p->s_log_groups_per_flex = 4;
}

/* Inodes below the first ordinary one and the bad-block inode are taken,
 * as mke2fs takes them; e2fsck expects it. */
static errcode_t reserve_inodes(ext2_filsys fs)
{
        for (ext2_ino_t ino = EXT2_ROOT_INO + 1; ino < EXT2_FIRST_INODE(fs->super); ino++)
                ext2fs_inode_alloc_stats2(fs, ino, +1, 0);
        ext2fs_mark_inode_bitmap2(fs->inode_map, EXT2_BAD_INO);
        ext2fs_inode_alloc_stats2(fs, EXT2_BAD_INO, +1, 0);
        ext2fs_mark_ib_dirty(fs);
        return ext2fs_update_bb_inode(fs, NULL);
}

static errcode_t make_dirs(ext2_filsys fs)
{
        static const char *const dirs[] = { "lost+found", "upper", "work" };
        errcode_t rc = ext2fs_mkdir(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, NULL);

        for (size_t i = 0; !rc && i < sizeof(dirs) / sizeof(dirs[0]); i++)
                rc = ext2fs_mkdir(fs, EXT2_ROOT_INO, 0, dirs[i]);
        return rc;
}

/* A UUID of its own, for a new image or a copy of one. */
static void new_uuid(struct ext2_super_block *sb)
{
        if (getrandom(sb->s_uuid, sizeof(sb->s_uuid), 0) != (ssize_t)sizeof(sb->s_uuid))
                memset(sb->s_uuid, 0x5a, sizeof(sb->s_uuid));
        sb->s_uuid[6] = (sb->s_uuid[6] & 0x0f) | 0x40; /* version 4 */
        sb->s_uuid[8] = (sb->s_uuid[8] & 0x3f) | 0x80;
}

/* A new image's identity. The hash seed keys the order of every
 * hash-indexed directory's names, so only a new file system draws one: a
 * copy keeps it (vs_disk_image_reidentify). */
static void identify(ext2_filsys fs)
{
        struct ext2_super_block *sb = fs->super;

        new_uuid(sb);
        if (getrandom(sb->s_hash_seed, sizeof(sb->s_hash_seed), 0) < 0)
                memcpy(sb->s_hash_seed, sb->s_uuid, sizeof(sb->s_hash_seed));
        sb->s_def_hash_version = EXT2_HASH_HALF_MD4;
        sb->s_flags |= (char)-1 < 0 ? EXT2_FLAGS_SIGNED_HASH : EXT2_FLAGS_UNSIGNED_HASH;
        sb->s_max_mnt_count = (__s16)-1;
        memcpy(sb->s_volume_name, "paene-vps", 9);
}

/* The file is new and sparse, so its inode tables read as zeroes without a
 * write: the image costs the host only the metadata blocks written here. */
static int format_image(const char *path, uint64_t bytes, uint64_t inodes, vs_error_t *err)
{
        cleanup_ext2fs ext2_filsys fs = NULL;
        struct ext2_super_block param;
        errcode_t rc;

        image_params(&param, bytes, inodes);
        rc = ext2fs_initialize(path, EXT2_FLAG_RW | EXT2_FLAG_64BITS, &param, unix_io_manager, &fs);
        if (rc)
                return ext2_error(err, rc, "initialize", path);
        identify(fs);
        if ((rc = ext2fs_allocate_tables(fs)) || (rc = reserve_inodes(fs)) || (rc = make_dirs(fs)))
                return ext2_error(err, rc, "format", path);
        rc = ext2fs_close_free(&fs);
        return rc ? ext2_error(err, rc, "write", path) : 0;
}

int vs_disk_image_create(const char *path, uint64_t bytes, uint64_t inodes, vs_error_t *err)
{
        cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

        if (fd < 0)
                return vs_error_errno(err, "create %s", path);
        bytes -= bytes % IMAGE_BLOCK;
        if (ftruncate(fd, (off_t)bytes) < 0)
                return vs_error_errno(err, "size %s", path);
        if (format_image(path, bytes, inodes, err) < 0 || fsync(fd) < 0) {
                if (!err || !err->msg[0])
                        vs_error_errno(err, "sync %s", path);
                unlink(path);
                return -1;
        }
        return 0;
}

int vs_disk_image_usage(const char *path, vs_disk_usage_t *usage, vs_error_t *err)
{
        cleanup_ext2fs ext2_filsys fs = NULL;
        errcode_t rc = ext2fs_open(path, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs);
        uint64_t blocks, bsize;

        if (rc)
                return ext2_error(err, rc, "open", path);
        bsize = (uint64_t)fs->blocksize;
        blocks = ext2fs_blocks_count(fs->super);
        usage->bytes_limit = blocks * bsize;
        usage->bytes_used = (blocks - ext2fs_free_blocks_count(fs->super)) * bsize;
        usage->inodes_limit = fs->super->s_inodes_count;
        usage->inodes_used = fs->super->s_inodes_count - fs->super->s_free_inodes_count;
        return 0;
}

/* ---- loop devices ---- */

/* Binds a free loop device to the image with autoclear. Returns its fd;
 * the device goes away with the last user after that fd closes. */
static int loop_attach(const char *image, char *dev, size_t size, vs_error_t *err)
{
        cleanup_close int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
        cleanup_close int file = open(image, O_RDWR | O_CLOEXEC);
        /* direct I/O: the loop device writes to the image with O_DIRECT, as
         * the VPS's own cgroup, so its I/O limits hold on the host's disk
         * (buffered writeback would escape them) and the image's pages are
         * not cached twice */
        struct loop_config cfg = { .info.lo_flags = LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO };

        if (ctl < 0)
                return vs_error_errno(err, "open /dev/loop-control");
        if (file < 0)
                return vs_error_errno(err, "open %s", image);
        cfg.fd = (__u32)file;
        vs_strlcpy((char *)cfg.info.lo_file_name, image, sizeof(cfg.info.lo_file_name));
        /* another process may take the free device first: try the next one */
        for (int attempt = 0; attempt < LOOP_ATTEMPTS; attempt++) {
                int n = ioctl(ctl, LOOP_CTL_GET_FREE);
                int fd;

                if (n < 0)
                        return vs_error_errno(err, "find a free loop device");
                snprintf(dev, size, "/dev/loop%d", n);
                fd = open(dev, O_RDWR | O_CLOEXEC);
                if (fd < 0)
                        return vs_error_errno(err, "open %s", dev);
                if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0)
                        return fd;
                if (errno != EBUSY) {
                        vs_error_errno(err, "bind %s to %s", dev, image);
                        close(fd);
                        return -1;
                }
                close(fd);
        }
        return vs_error_set(err, EBUSY, "no free loop device for %s", image);
}

/* Whether a block device is open exclusively, as a mounted file system
 * holds it. */
static int bdev_in_use(const char *dev)
{
        int fd = open(dev, O_RDONLY | O_EXCL | O_CLOEXEC);

        if (fd < 0)
                return errno == EBUSY;
        close(fd);
        return 0;
}

/* Finds the loop device that is bound to the image (by the backing file's
 * device and inode, which a path would not tell apart after a rename) and
 * mounted. A device that a stopped VPS's last run left on its way out is
 * bound but not mounted, and is passed over. */
static int loop_find(const char *image, char *dev, size_t size, vs_error_t *err)
{
        char own[64];
        glob_t g = { 0 };
        struct stat st;
        int found = -1;

        if (!dev) {
                dev = own;
                size = sizeof(own);
        }
        if (stat(image, &st) < 0)
                return vs_error_errno(err, "stat %s", image);
        if (glob("/sys/block/loop*", 0, NULL, &g) != 0)
                return vs_error_set(err, ENODEV, "no loop device holds %s", image);
        for (size_t i = 0; i < g.gl_pathc && found < 0; i++) {
                struct loop_info64 info;
                int fd;

                snprintf(dev, size, "/dev/%s", g.gl_pathv[i] + strlen("/sys/block/"));
                fd = open(dev, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                if (ioctl(fd, LOOP_GET_STATUS64, &info) == 0 && info.lo_inode == st.st_ino &&
                    info.lo_device == st.st_dev && bdev_in_use(dev))
                        found = fd;
                else
                        close(fd);
        }
        globfree(&g);
        if (found < 0)
                return vs_error_set(err, ENODEV, "no mounted loop device holds %s", image);
        return found;
}

/* ---- attach: in the VPS's mount namespace ---- */

/* A clone's image has a UUID of its own, so the file handles in the work
 * directory's overlay index (its source's) are stale, and overlay refuses
 * the mount (ESTALE): at its first attach the clone gets an empty one. */
static int reset_cloned_work(const char *vps_path, const char *mnt, vs_error_t *err)
{
        cleanup_free char *marker = vs_strdupf("%s/%s", vps_path, IMAGE_WORK_STALE);
        cleanup_close int mnt_fd = -1;

        if (access(marker, F_OK) < 0)
                return 0;
        mnt_fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (mnt_fd < 0)
                return vs_error_errno(err, "open %s", mnt);
        if (vs_rmtree_at(mnt_fd, "work", err) < 0 || mkdirat(mnt_fd, "work", 0755) < 0 ||
            unlink(marker) < 0)
                return vs_error_wrap(err, "empty the clone's overlay work directory");
        return 0;
}

static int image_attach(const char *vps_path, vs_error_t *err)
{
        cleanup_free char *image = vs_strdupf("%s/%s", vps_path, IMAGE_FILE);
        cleanup_free char *mnt = vs_strdupf("%s/%s", vps_path, IMAGE_MNT);
        cleanup_close int loopfd = -1;
        char dev[64];

        long pause_ms = 1;

        /* a second mount of one ext4 through another device would corrupt
         * it; the last run's goes soon after its init (a restart, a reboot) */
        while ((loopfd = loop_find(image, dev, sizeof(dev), NULL)) >= 0) {
                close(loopfd);
                loopfd = -1;
                if (vs_backoff(&pause_ms, VS_LAST_RUN_WAIT_MS) < 0)
                        return vs_error_kind(err, VS_E_STATE, EBUSY,
                                             "%s is still mounted through %s (is its last run "
                                             "still ending?)",
                                             image, dev);
        }
        loopfd = loop_attach(image, dev, sizeof(dev), err);
        if (loopfd < 0)
                return -1;
        if (mount(dev, mnt, "ext4", MS_NODEV, NULL) < 0)
                return vs_error_errno(err, "mount %s on %s", dev, mnt);
        return reset_cloned_work(vps_path, mnt, err);
}

/* ---- resize ---- */

/* A mount of the image's file system that is attached nowhere: it shares
 * the running VPS's superblock (same block device), and it vanishes when
 * the returned fd closes. */
static int open_fs_root(const char *dev, vs_error_t *err)
{
        cleanup_close int fsfd = fsopen("ext4", FSOPEN_CLOEXEC);
        cleanup_close int mntfd = -1;
        int root;

        if (fsfd < 0)
                return vs_error_errno(err, "fsopen ext4");
        if (fsconfig(fsfd, FSCONFIG_SET_STRING, "source", dev, 0) < 0 ||
            fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return vs_error_errno(err, "open the file system on %s", dev);
        mntfd = fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV);
        if (mntfd < 0)
                return vs_error_errno(err, "fsmount %s", dev);
        root = openat(mntfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return vs_error_errno(err, "open the root of %s", dev);
        return root;
}

/* Tells the loop device the file grew, and lets ext4 grow itself online
 * (EXT4_IOC_RESIZE_FS, as resize2fs does on a mounted fs). The caller has
 * grown the file and gives it back on failure. */
static int grow_online(const char *image, uint64_t bytes, vs_error_t *err)
{
        cleanup_close int loopfd = -1;
        cleanup_close int root = -1;
        uint64_t blocks = bytes / IMAGE_BLOCK;
        char dev[64];

        loopfd = loop_find(image, dev, sizeof(dev), err);
        if (loopfd < 0)
                return -1;
        if (ioctl(loopfd, LOOP_SET_CAPACITY, 0) < 0)
                return vs_error_errno(err, "resize %s", dev);
        root = open_fs_root(dev, err);
        if (root < 0)
                return -1;
        if (ioctl(root, EXT4_IOC_RESIZE_FS, &blocks) == 0)
                return 0;
        if (errno == EPERM)
                return vs_error_kind(err, VS_E_PERM, EPERM,
                                     "growing a mounted ext4 needs CAP_SYS_RESOURCE, which vsd "
                                     "lacks here (stop the VPS and resize it)");
        return vs_error_errno(err, "grow the file system on %s", dev);
}

static int grow_running(const char *image, uint64_t old_bytes, uint64_t bytes, vs_error_t *err)
{
        cleanup_close int loopfd = -1;
        char dev[64];

        if (truncate(image, (off_t)bytes) < 0)
                return vs_error_errno(err, "grow %s", image);
        if (grow_online(image, bytes, err) == 0)
                return 0;
        /* the file system did not grow: give the space back */
        if (truncate(image, (off_t)old_bytes) == 0 &&
            (loopfd = loop_find(image, dev, sizeof(dev), NULL)) >= 0)
                ioctl(loopfd, LOOP_SET_CAPACITY, 0);
        return -1;
}

static int run_tool(char *const argv[], int *status, vs_error_t *err)
{
        posix_spawn_file_actions_t actions;
        pid_t pid;
        int rc;

        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
        rc = posix_spawnp(&pid, argv[0], &actions, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0) {
                errno = rc;
                return vs_error_errno(err, "run %s (install e2fsprogs)", argv[0]);
        }
        while (waitpid(pid, status, 0) < 0)
                if (errno != EINTR)
                        return vs_error_errno(err, "wait for %s", argv[0]);
        return 0;
}

/* e2fsck -p with opts, what naming the image in an error: exit 0 or 1
 * (errors fixed) leaves a clean file system. */
static int run_e2fsck(const char *image, const char *opts, const char *what, vs_error_t *err)
{
        char *const fsck[] = { "e2fsck", (char *)opts, (char *)image, NULL };
        int status;

        if (run_tool(fsck, &status, err) < 0)
                return -1;
        if (!WIFEXITED(status) || WEXITSTATUS(status) > 1)
                return vs_error_set(err, EIO, "e2fsck found errors in %s%s it could not fix", what,
                                    image);
        return 0;
}

static int run_resize2fs(const char *image, uint64_t bytes, vs_error_t *err)
{
        char size_arg[32];
        char *const resize[] = { "resize2fs", (char *)image, size_arg, NULL };
        int status;

        snprintf(size_arg, sizeof(size_arg), "%lluK", (unsigned long long)(bytes / 1024));
        if (run_tool(resize, &status, err) < 0)
                return -1;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return vs_error_kind(err, VS_E_STATE, ENOSPC,
                                     "resize2fs refused %lluK (the files do not fit?)",
                                     (unsigned long long)(bytes / 1024));
        return 0;
}

/* Offline resize with resize2fs (libext2fs has no resize of its own). It
 * refuses a size the data does not fit in, and then nothing has changed. */
static int resize_offline(const char *image, uint64_t old_bytes, uint64_t bytes, vs_error_t *err)
{
        if (run_e2fsck(image, "-fp", "", err) < 0)
                return -1;
        if (bytes > old_bytes && truncate(image, (off_t)bytes) < 0)
                return vs_error_errno(err, "grow %s", image);
        if (run_resize2fs(image, bytes, err) < 0) {
                /* the file system kept its size: so does the file */
                if (bytes > old_bytes)
                        (void)!truncate(image, (off_t)old_bytes);
                return -1;
        }
        if (bytes < old_bytes && truncate(image, (off_t)bytes) < 0)
                return vs_error_errno(err, "truncate %s", image);
        return 0;
}

static int image_resize(const char *vps_path, int running, const vs_disk_limits_t *lim,
                        vs_error_t *err)
{
        cleanup_free char *image = vs_strdupf("%s/%s", vps_path, IMAGE_FILE);
        uint64_t bytes = lim->space.hard - lim->space.hard % IMAGE_BLOCK;
        cleanup_close int loopfd = -1;
        char dev[64];
        struct stat st;

        if (stat(image, &st) < 0)
                return vs_error_errno(err, "stat %s", image);
        if (bytes == (uint64_t)st.st_size)
                return 0;
        if (running && bytes > (uint64_t)st.st_size)
                return grow_running(image, (uint64_t)st.st_size, bytes, err);
        if (running)
                return vs_error_kind(err, VS_E_STATE, EBUSY,
                                     "shrinking the disk needs the VPS stopped (ext4 grows "
                                     "online, it does not shrink online)");
        if ((loopfd = loop_find(image, dev, sizeof(dev), NULL)) >= 0)
                return vs_error_kind(err, VS_E_STATE, EBUSY,
                                     "%s is still mounted through %s (try again)", image, dev);
        return resize_offline(image, (uint64_t)st.st_size, bytes, err);
}

/* ---- create, usage ---- */

static int image_create(int vps_fd, const char *vps_path, const vs_disk_limits_t *lim,
                        vs_error_t *err)
{
        cleanup_free char *image = vs_strdupf("%s/%s", vps_path, IMAGE_FILE);
        uint64_t bytes = lim->space.hard;
        uint64_t inodes = lim->inodes.hard;

        if (!bytes)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "the image backend needs --diskspace (the image's size)");
        if (!inodes) /* as mke2fs: one inode per 16 KiB */
                inodes = bytes / 16384 < VS_DISK_MIN_INODES ? VS_DISK_MIN_INODES : bytes / 16384;
        if (mkdirat(vps_fd, "rootfs", 0755) < 0 || mkdirat(vps_fd, IMAGE_MNT, 0755) < 0)
                return vs_error_errno(err, "mkdir");
        return vs_disk_image_create(image, bytes, inodes, err);
}

static int image_usage(const char *vps_path, const char *root_path, vs_disk_usage_t *usage,
                       vs_error_t *err)
{
        cleanup_free char *image = vs_strdupf("%s/%s", vps_path, IMAGE_FILE);
        struct statvfs sv;
        struct stat st;

        memset(usage, 0, sizeof(*usage));
        /* a running VPS's root is an overlay, whose statfs is its upper
         * layer's: the mounted image, with exact counts */
        if (root_path && statvfs(root_path, &sv) == 0 && stat(image, &st) == 0) {
                usage->bytes_limit = (uint64_t)st.st_size;
                usage->bytes_used = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
                usage->inodes_limit = sv.f_files;
                usage->inodes_used = sv.f_files - sv.f_ffree;
                return 0;
        }
        return vs_disk_image_usage(image, usage, err);
}

int vs_disk_image_reidentify(const char *path, vs_error_t *err)
{
        cleanup_ext2fs ext2_filsys fs = NULL;
        errcode_t rc =
                ext2fs_open(path, EXT2_FLAG_RW | EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs);

        if (rc)
                return ext2_error(err, rc, "open", path);
        if (ext2fs_has_feature_metadata_csum(fs->super))
                return 0; /* its checksums are seeded by the UUID: leave it */
        /* the UUID alone: a new hash seed would leave the kernel looking
         * up each name of a large directory in the wrong block */
        new_uuid(fs->super);
        ext2fs_mark_super_dirty(fs);
        rc = ext2fs_close_free(&fs);
        return rc ? ext2_error(err, rc, "write", path) : 0;
}

/* ext2 keeps 32-bit owners as two 16-bit halves */
static void inode_set_owner(struct ext2_inode *inode, unsigned long uid, unsigned long gid)
{
        inode->i_uid = (__u16)uid;
        ext2fs_set_i_uid_high(*inode, uid >> 16);
        inode->i_gid = (__u16)gid;
        ext2fs_set_i_gid_high(*inode, gid >> 16);
}

/* The ids inside xattrs move in place, in the inode's body and in its
 * xattr block, without libext2fs's xattr writer: that gives an inode whose
 * block is shared (the kernel shares one among inodes with the same
 * xattrs, as files with one ACL have) a block of its own, so that a copy
 * of a full image failed for want of blocks, and one of a fuller one took
 * a block per file. */
#define EXT2_ATTR_INDEX_ACL_ACCESS 2
#define EXT2_ATTR_INDEX_ACL_DEFAULT 3
#define EXT2_ATTR_INDEX_SECURITY 6

/* ext4's ACL on disk: a 4-byte version, then entries of tag (2 bytes) and
 * perm (2), with an id (4) for named users and groups alone. */
static int shift_disk_acl(const vs_id_shift_t *shift, unsigned char *v, size_t len)
{
        size_t off = 4;
        int changed = 0;

        while (off + 4 <= len) {
                uint16_t tag = (uint16_t)(v[off] | v[off + 1] << 8);

                off += 4;
                if (tag != VS_ACL_TAG_USER && tag != VS_ACL_TAG_GROUP)
                        continue;
                if (off + 4 > len)
                        break;
                changed |= vs_id_shift_le32_at(shift, v + off);
                off += 4;
        }
        return changed;
}

static int shift_entry_value(const vs_id_shift_t *shift, struct ext2_ext_attr_entry *e,
                             unsigned char *value)
{
        if (e->e_name_index == EXT2_ATTR_INDEX_ACL_ACCESS ||
            e->e_name_index == EXT2_ATTR_INDEX_ACL_DEFAULT)
                return shift_disk_acl(shift, value, e->e_value_size);
        if (e->e_name_index == EXT2_ATTR_INDEX_SECURITY && e->e_name_len == 10 &&
            !memcmp(e + 1, "capability", 10))
                return vs_id_shift_xattr(shift, "security.capability", value, e->e_value_size);
        return 0;
}

/* The entries from first to end, their values at base + e_value_offs.
 * An entry's hash covers its value: one that changed is hashed again (in
 * an inode's body, where the kernel leaves it 0, only if it was not). */
static int shift_entries(const vs_id_shift_t *shift, unsigned char *first, unsigned char *end,
                         unsigned char *base)
{
        struct ext2_ext_attr_entry *e = (struct ext2_ext_attr_entry *)first;
        int changed = 0;

        while ((unsigned char *)e + sizeof(*e) <= end && !EXT2_EXT_IS_LAST_ENTRY(e)) {
                unsigned char *value = base + e->e_value_offs;

                if (!e->e_value_inum && value + e->e_value_size <= end &&
                    shift_entry_value(shift, e, value)) {
                        if (e->e_hash || base != first)
                                e->e_hash = ext2fs_ext_attr_hash_entry(e, value);
                        changed = 1;
                }
                e = EXT2_EXT_ATTR_NEXT(e);
        }
        return changed;
}

/* The xattr block blk, once however many inodes share it (done marks it). */
static errcode_t shift_xattr_block(ext2_filsys fs, blk64_t blk, ext2_ino_t ino,
                                   ext2fs_block_bitmap done, const vs_id_shift_t *shift)
{
        cleanup_free unsigned char *buf = vs_xmalloc(fs->blocksize);
        struct ext2_ext_attr_header *h = (struct ext2_ext_attr_header *)buf;
        errcode_t rc;

        if (ext2fs_test_block_bitmap2(done, blk))
                return 0;
        ext2fs_mark_block_bitmap2(done, blk);
        if ((rc = ext2fs_read_ext_attr3(fs, blk, buf, ino)))
                return rc;
        if (h->h_magic != EXT2_EXT_ATTR_MAGIC ||
            !shift_entries(shift, (unsigned char *)(h + 1), buf + fs->blocksize, buf))
                return 0;
        ext2fs_ext_attr_block_rehash(h, (struct ext2_ext_attr_entry *)(buf + fs->blocksize));
        return ext2fs_write_ext_attr3(fs, blk, buf, ino);
}

/* The xattrs in the inode's body, past i_extra_isize. */
static errcode_t shift_xattr_body(ext2_filsys fs, ext2_ino_t ino, const vs_id_shift_t *shift)
{
        int size = EXT2_INODE_SIZE(fs->super);
        cleanup_free unsigned char *buf = vs_xmalloc((size_t)size);
        struct ext2_inode_large *inode = (struct ext2_inode_large *)buf;
        unsigned char *start;
        __u32 magic;
        errcode_t rc;

        if (size <= EXT2_GOOD_OLD_INODE_SIZE)
                return 0;
        if ((rc = ext2fs_read_inode_full(fs, ino, (struct ext2_inode *)inode, size)))
                return rc;
        start = buf + EXT2_GOOD_OLD_INODE_SIZE + inode->i_extra_isize;
        if (start + sizeof(magic) > buf + size)
                return 0;
        memcpy(&magic, start, sizeof(magic));
        if (magic != EXT2_EXT_ATTR_MAGIC)
                return 0;
        start += sizeof(magic);
        if (!shift_entries(shift, start, buf + size, start))
                return 0;
        return ext2fs_write_inode_full(fs, ino, (struct ext2_inode *)inode, size);
}

static errcode_t shift_xattrs_of(ext2_filsys fs, ext2_ino_t ino, blk64_t blk,
                                 ext2fs_block_bitmap done, const vs_id_shift_t *shift)
{
        errcode_t rc = shift_xattr_body(fs, ino, shift);

        if (!rc && blk)
                rc = shift_xattr_block(fs, blk, ino, done, shift);
        return rc;
}

int vs_disk_image_shift_ids(const char *path, const vs_id_shift_t *shift, vs_error_t *err)
{
        cleanup_ext2fs ext2_filsys fs = NULL;
        ext2fs_block_bitmap done = NULL;
        ext2_inode_scan scan = NULL;
        struct ext2_inode inode;
        ext2_ino_t ino;
        errcode_t rc;

        if (!shift || shift->count == 0)
                return 0;
        rc = ext2fs_open(path, EXT2_FLAG_RW | EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs);
        if (rc)
                return ext2_error(err, rc, "open", path);
        rc = ext2fs_allocate_block_bitmap(fs, "xattr blocks shifted", &done);
        if (rc)
                return ext2_error(err, rc, "scan", path);
        rc = ext2fs_open_inode_scan(fs, 0, &scan);
        if (rc) {
                ext2fs_free_block_bitmap(done);
                return ext2_error(err, rc, "scan", path);
        }
        while (!(rc = ext2fs_get_next_inode(scan, &ino, &inode)) && ino) {
                unsigned long uid = inode_uid(inode), gid = inode_gid(inode);
                unsigned long new_uid = vs_id_shift_apply(shift, uid);
                unsigned long new_gid = vs_id_shift_apply(shift, gid);

                if (!inode.i_links_count)
                        continue;
                if (new_uid != uid || new_gid != gid) {
                        inode_set_owner(&inode, new_uid, new_gid);
                        if ((rc = ext2fs_write_inode(fs, ino, &inode)))
                                break;
                }
                /* after the owners: an xattr's write rewrites the inode */
                if (ino >= EXT2_FIRST_INODE(fs->super) || ino == EXT2_ROOT_INO)
                        if ((rc = shift_xattrs_of(fs, ino, ext2fs_file_acl_block(fs, &inode), done,
                                                  shift)))
                                break;
        }
        ext2fs_close_inode_scan(scan);
        ext2fs_free_block_bitmap(done);
        if (rc)
                return ext2_error(err, rc, "shift owners in", path);
        rc = ext2fs_close_free(&fs);
        return rc ? ext2_error(err, rc, "write", path) : 0;
}

/* Overlay's record of where an upper file came from: a file handle of the
 * lower layer, which on another node names nothing (overlay with index=on
 * refuses the mount, ESTALE). Without it a copied-up file is just upper. */
#define OVERLAY_ORIGIN "trusted.overlay.origin"

static errcode_t forget_origin_of(ext2_filsys fs, ext2_ino_t ino)
{
        struct ext2_xattr_handle *h = NULL;
        errcode_t rc = ext2fs_xattrs_open(fs, ino, &h);

        if (rc)
                return rc;
        rc = ext2fs_xattrs_read(h);
        if (!rc)
                rc = ext2fs_xattr_remove(h, OVERLAY_ORIGIN);
        if (rc == EXT2_ET_EA_KEY_NOT_FOUND)
                rc = 0;
        ext2fs_xattrs_close(&h);
        return rc;
}

static int forget_origins(const char *image, vs_error_t *err)
{
        cleanup_ext2fs ext2_filsys fs = NULL;
        ext2_inode_scan scan = NULL;
        struct ext2_inode inode;
        ext2_ino_t ino;
        errcode_t rc;

        rc = ext2fs_open(image, EXT2_FLAG_RW | EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs);
        if (rc)
                return ext2_error(err, rc, "open", image);
        rc = ext2fs_open_inode_scan(fs, 0, &scan);
        if (rc)
                return ext2_error(err, rc, "scan", image);
        while (!(rc = ext2fs_get_next_inode(scan, &ino, &inode)) && ino) {
                if (!inode.i_links_count ||
                    (ino < EXT2_FIRST_INODE(fs->super) && ino != EXT2_ROOT_INO))
                        continue;
                if (!LINUX_S_ISDIR(inode.i_mode) && !LINUX_S_ISREG(inode.i_mode))
                        continue; /* overlay records an origin for these alone */
                if ((rc = forget_origin_of(fs, ino)))
                        break;
        }
        ext2fs_close_inode_scan(scan);
        if (rc)
                return ext2_error(err, rc, "drop overlay origins in", image);
        rc = ext2fs_close_free(&fs);
        return rc ? ext2_error(err, rc, "write", image) : 0;
}

int vs_disk_image_adopt(int vps_fd, const char *vps_path, vs_error_t *err)
{
        cleanup_free char *image = vs_strdupf("%s/%s", vps_path, IMAGE_FILE);
        cleanup_close int marker = -1;

        if (forget_origins(image, err) < 0)
                return -1;
        /* its overlay index names the source's inodes: emptied at the
         * first attach, as a clone's */
        marker = openat(vps_fd, IMAGE_WORK_STALE, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (marker < 0)
                return vs_error_errno(err, "mark the image's overlay work directory");
        return 0;
}

int vs_disk_image_held_by(const char *image, char *dev, size_t size)
{
        cleanup_close int fd = loop_find(image, dev, size, NULL);

        return fd >= 0;
}

int vs_disk_image_mounted(const char *image)
{
        return vs_disk_image_held_by(image, NULL, 0);
}

/* What a copy of an image becomes a VPS's (or a snapshot's): its owners
 * moved by shift, a UUID of its own, its overlay work directory marked
 * for emptying at its first attach. */
static int finish_copy(int dst_fd, const char *image, const vs_id_shift_t *shift, vs_error_t *err)
{
        cleanup_close int marker = -1;

        if (vs_disk_image_shift_ids(image, shift, err) < 0 ||
            vs_disk_image_reidentify(image, err) < 0)
                return -1;
        marker = openat(dst_fd, IMAGE_WORK_STALE, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (marker < 0)
                return vs_error_errno(err, "mark the clone's overlay work directory");
        return 0;
}

static int image_clone(int src_fd, int dst_fd, const char *dst_path, const vs_id_shift_t *shift,
                       vs_error_t *err)
{
        cleanup_free char *image = vs_strdupf("%s/%s", dst_path, IMAGE_FILE);
        cleanup_free char *src = vs_strdupf("/proc/self/fd/%d/%s", src_fd, IMAGE_FILE);
        cleanup_close int loopfd = loop_find(src, NULL, 0, NULL);

        /* a copy of a mounted file system need not be consistent */
        if (loopfd >= 0)
                return vs_error_kind(err, VS_E_STATE, EBUSY,
                                     "the source's disk image is still mounted (try again)");
        if (mkdirat(dst_fd, "rootfs", 0755) < 0 || mkdirat(dst_fd, IMAGE_MNT, 0755) < 0)
                return vs_error_errno(err, "mkdir");
        if (vs_copy_sparse_at(src_fd, dst_fd, IMAGE_FILE, err) < 0)
                return -1;
        return finish_copy(dst_fd, image, shift, err);
}

/* ---- a live copy of a running VPS's image ---- */

/* Rounds while the VPS runs, at most; a round that copied less than
 * LIVE_ENOUGH ends them (what is left goes in the frozen step). */
#define LIVE_ROUNDS 4
#define LIVE_ENOUGH (8ULL << 20)

/* The root of the image's mounted file system (the running VPS's, through
 * a mount of its own attached nowhere). */
static int open_mounted_fs(const char *image, vs_error_t *err)
{
        cleanup_close int loopfd = -1;
        char dev[64];

        loopfd = loop_find(image, dev, sizeof(dev), err);
        if (loopfd < 0)
                return -1;
        return open_fs_root(dev, err);
}

static int fs_freeze(int fs, int frozen, vs_error_t *err)
{
        if (ioctl(fs, frozen ? FIFREEZE : FITHAW, 0) < 0)
                return vs_error_errno(err, "%s the image's file system",
                                      frozen ? "freeze" : "thaw");
        return 0;
}

/* While the VPS runs: its file system written back, then its data blocks
 * copied, then rounds of what changed until one is small. */
static int live_rounds(int fs, int img, int sums, int dst, vs_error_t *err)
{
        for (int round = 0; round < LIVE_ROUNDS; round++) {
                uint64_t copied = 0;

                if (syncfs(fs) < 0)
                        return vs_error_errno(err, "write back the image's file system");
                if (vs_image_round_copy(img, sums, round == 0, dst, &copied, err) < 0)
                        return -1;
                if (round > 0 && copied < LIVE_ENOUGH)
                        break;
        }
        return 0;
}

/* The frozen step: the VPS's processes held (fr), its file system frozen
 * (FIFREEZE writes back what is dirty and the superblock's counts, and
 * holds every writer: the image is a clean file system on disk), then the
 * whole image reflinked or the blocks that changed copied; thawed in the
 * reverse order whatever happened. */
static int frozen_step(int fs, int img, int sums, int dst, int reflink, const vs_disk_freezer_t *fr,
                       long long *frozen_ms, vs_error_t *err)
{
        int64_t t0 = vs_monotonic_ms();
        int rc;

        if (fr->freeze(fr->ctx, 1, err) < 0)
                return -1;
        rc = fs_freeze(fs, 1, err);
        if (rc == 0) {
                if (reflink)
                        rc = ioctl(dst, FICLONE, img) < 0 ? vs_error_errno(err, "reflink the image")
                                                          : 0;
                else
                        rc = vs_image_round_copy(img, sums, 0, dst, NULL, err);
                if (fs_freeze(fs, 0, rc < 0 ? NULL : err) < 0)
                        rc = -1;
        }
        if (fr->freeze(fr->ctx, 0, rc < 0 ? NULL : err) < 0)
                rc = -1;
        *frozen_ms = vs_monotonic_ms() - t0;
        return rc;
}

/* The copy as a file system unmounted: e2fsck -p writes the state clean
 * and frees what the VPS held open but had unlinked (an image has no
 * journal, so no orphan list: such an inode is allocated in the copy). */
static int preen_copy(const char *image, vs_error_t *err)
{
        return run_e2fsck(image, "-p", "the copy ", err);
}

static int image_clone_live(int src_fd, int dst_fd, const char *dst_path,
                            const vs_id_shift_t *shift, const vs_disk_freezer_t *fr,
                            long long *frozen_ms, vs_error_t *err)
{
        cleanup_free char *image = vs_strdupf("%s/%s", dst_path, IMAGE_FILE);
        cleanup_free char *src = vs_strdupf("/proc/self/fd/%d/%s", src_fd, IMAGE_FILE);
        cleanup_close int img = -1, fs = -1, sums = -1, dst = -1;
        int reflink;

        *frozen_ms = 0;
        if (mkdirat(dst_fd, "rootfs", 0755) < 0 || mkdirat(dst_fd, IMAGE_MNT, 0755) < 0)
                return vs_error_errno(err, "mkdir");
        img = openat(src_fd, IMAGE_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (img < 0)
                return vs_error_errno(err, "open %s", src);
        fs = open_mounted_fs(src, err);
        if (fs < 0)
                return vs_error_wrap(err, "the running VPS's image");
        /* the sums are the worker's alone: nothing is left of them */
        sums = memfd_create("vsd-image-sums", MFD_CLOEXEC);
        dst = openat(dst_fd, IMAGE_FILE, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (sums < 0 || dst < 0)
                return vs_error_errno(err, "make the copy of the image");
        /* where the store shares extents (XFS, btrfs) the whole image is a
         * reflink, frozen; elsewhere (EOPNOTSUPP, EXDEV, EINVAL) rounds */
        reflink = ioctl(dst, FICLONE, img) == 0;
        if (!reflink && live_rounds(fs, img, sums, dst, err) < 0)
                return -1;
        if (frozen_step(fs, img, sums, dst, reflink, fr, frozen_ms, err) < 0)
                return -1;
        if (fsync(dst) < 0)
                return vs_error_errno(err, "write the copy of the image to disk");
        close(dst);
        dst = -1;
        if (preen_copy(image, err) < 0)
                return -1;
        return finish_copy(dst_fd, image, shift, err);
}

static void image_thaw(const char *vps_path)
{
        cleanup_free char *image = vs_strdupf("%s/%s", vps_path, IMAGE_FILE);
        cleanup_close int fs = open_mounted_fs(image, NULL);

        /* EINVAL: it was not frozen */
        if (fs >= 0)
                fs_freeze(fs, 0, NULL);
}

const vs_disk_backend_t vs_disk_backend_image = {
        .name = "image",
        .layers = IMAGE_MNT,
        .create = image_create,
        .clone = image_clone,
        .clone_live = image_clone_live,
        .thaw = image_thaw,
        .attach = image_attach,
        .resize = image_resize,
        .usage = image_usage,
};
