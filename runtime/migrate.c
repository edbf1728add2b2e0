/* Migration between nodes (vsd.h has the whole of it). Both halves run
 * GNU tar through backup.c's spawner: the source's with a listing of its
 * own (--listed-incremental, in vsd's run directory, not among the VPS's
 * files: a conductor killed half way leaves nothing there) so that each round
 * after the first carries only what changed, with every directory's list
 * of names; the target's extracts each round into its staging with
 * --listed-incremental=/dev/null, which removes what the source deleted,
 * in a fork of vsd that syncs the file system after it: what the target
 * answered is on its disk, and the install is synced (by a worker, with an
 * image's adoption, out of vsd's loop) before the answer after which the
 * source destroys its copy.
 * The staging is named .NAME.migrate.creating: a vsd that starts removes
 * every .creating entry, so a target that dies half way keeps nothing.
 * A VPS on a disk image goes as rounds of its image's blocks instead
 * (cow-fs/imagesync.c: the first its data, each next the blocks whose
 * sums changed, by a record of the source's in vsd's run directory beside
 * the listing), written and applied by a fork of vsd each; the target
 * drops the image's overlay origins before its first mount. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/cowfs.h"
#include "vs/diskquota.h"
#include "vs/fsutil.h"
#include "vs/kvfile.h"
#include "vs/log.h"
#include "store.h"
#include "vsd.h"

#define LISTING_SUFFIX ".migrate.snar"
#define SUMS_SUFFIX ".migrate.sums"
#define IMAGE_FILE "disk.img"
/* the longest pause between two looks at a stopped VPS's loop device */
#define UNMOUNT_PAUSE_MAX_MS 200

/* ---- the source's side ---- */

char *vsd_migrate_config(struct vsd *d, struct vps *v, vs_error_t *err)
{
        cleanup_kv vs_kv_t config = { 0 };

        if (vsd_config_load(d, v->name, &config, err) < 0)
                return NULL;
        return vs_kv_format(&config);
}

/* 1: v is on a disk image, 0: on the dir backend, -1: no config. */
static int on_image(struct vsd *d, struct vps *v, vs_error_t *err)
{
        cleanup_kv vs_kv_t config = { 0 };

        if (vsd_config_load(d, v->name, &config, err) < 0)
                return -1;
        return vsd_disk_backend_of(&config)->attach ? 1 : 0;
}

static char *run_file_of(struct vsd *d, const struct vps *v, const char *suffix)
{
        return vs_strdupf("%s/run/paene/%s%s", strcmp(d->root, "/") == 0 ? "" : d->root, v->name,
                          suffix);
}

static char *listing_of(struct vsd *d, const struct vps *v)
{
        return run_file_of(d, v, LISTING_SUFFIX);
}

/* In the fork that writes an image's round: the image at fd 3, the sums
 * at 4, the stream at 5 and, while the VPS runs, its root at 6. A running
 * VPS's file system is written back first (what ext4 holds dirty is not
 * in the image yet, and would all go in the last round); the last round
 * (the VPS stopped) waits until its run has let the image go: what ext4
 * held is in the image then. */
/* The bound on the wait for a stopped run's image: VSD_TEST_UNMOUNT_WAIT_MS
 * (tests/integration/test_migrate.sh) makes it short. */
static int64_t unmount_wait_ms(void)
{
        const char *hook = getenv("VSD_TEST_UNMOUNT_WAIT_MS");

        return hook && *hook ? strtoll(hook, NULL, 10) : VS_MIGRATE_UNMOUNT_WAIT_MS;
}

/* Waits, bounded, until no mounted loop device holds the image at fd 3:
 * looks again after pauses that double up to UNMOUNT_PAUSE_MAX_MS (the
 * kernel lets go from a workqueue, after the device's writes drain). */
static int wait_image_released(const char *name)
{
        int64_t start = vs_monotonic_ms(), bound = unmount_wait_ms();
        long pause_ms = 1;
        char dev[64] = "";

        while (vs_disk_image_held_by("/proc/self/fd/3", dev, sizeof(dev))) {
                struct timespec tick = { 0, pause_ms * 1000 * 1000 };

                if (vs_monotonic_ms() - start >= bound) {
                        vs_log(LOG_ERR,
                               "migrate %s: its image is still mounted through %s %lld ms "
                               "after its stop",
                               name, dev, (long long)(vs_monotonic_ms() - start));
                        return -1;
                }
                nanosleep(&tick, NULL);
                if (pause_ms < UNMOUNT_PAUSE_MAX_MS)
                        pause_ms = pause_ms * 2 > UNMOUNT_PAUSE_MAX_MS ? UNMOUNT_PAUSE_MAX_MS
                                                                       : pause_ms * 2;
        }
        return 0;
}

/* In the fork that writes an image's round: the image at fd 3, the sums
 * at 4, the stream at 5 and, while the VPS runs, its root at 6. A running
 * VPS's file system is written back first (what ext4 holds dirty is not
 * in the image yet, and would all go in the last round); the last round
 * (the VPS stopped) waits until its run has let the image go: what ext4
 * held is in the image then. */
static __attribute__((noreturn)) void image_sender(int first, int stopped, const char *name)
{
        vs_error_t err = { 0 };
        uint64_t sent = 0;

        if (!stopped && syncfs(6) < 0)
                vs_log(LOG_WARNING, "migrate %s: write back its file system: %m", name);
        if (stopped && wait_image_released(name) < 0)
                _exit(VS_MIGRATE_IMAGE_HELD);
        if (vs_image_round_send(3, 4, first, 5, &sent, &err) < 0) {
                vs_log(LOG_ERR, "migrate %s: %s", name, err.msg);
                _exit(1);
        }
        _exit(0);
}

static pid_t image_send_spawn(struct vsd *d, struct vps *v, int first, int out_fd, vs_error_t *err)
{
        cleanup_free char *image = vs_strdupf("%s/%s/%s", d->vps_dir, v->name, IMAGE_FILE);
        cleanup_free char *sums_path = run_file_of(d, v, SUMS_SUFFIX);
        cleanup_close int img = -1, sums = -1, root = -1;
        int stopped = v->phase == PHASE_STOPPED;
        pid_t vsd = getpid(), pid;

        if (!stopped) {
                cleanup_free char *root_path = vs_strdupf("/proc/%d/root", (int)v->pid);

                root = open(root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (root < 0)
                        return vs_error_errno(err, "open %s", root_path);
        }

        img = open(image, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (img < 0)
                return vs_error_errno(err, "open %s", image);
        sums = open(sums_path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | (first ? O_CREAT | O_TRUNC : 0),
                    0600);
        if (sums < 0 && !first && errno == ENOENT)
                return vs_error_kind(err, VS_E_STATE, ENOENT,
                                     "no first round of a migration was sent");
        if (sums < 0)
                return vs_error_errno(err, "open %s", sums_path);
        pid = fork();
        if (pid < 0)
                return vs_error_errno(err, "fork");
        if (pid == 0) {
                int keep[] = { img, sums, out_fd, root };

                if (vs_helper_setup(vsd, "vsd-migrate", keep, stopped ? 3 : 4) < 0)
                        _exit(1);
                image_sender(first, stopped, v->name);
        }
        return pid;
}

pid_t vsd_migrate_send_spawn(struct vsd *d, struct vps *v, int first, int out_fd, vs_error_t *err)
{
        cleanup_free char *upper = vs_strdupf("%s/%s/upper", d->vps_dir, v->name);
        cleanup_free char *listing_path = listing_of(d, v);
        cleanup_free char *listing = vs_strdupf("--listed-incremental=%s", listing_path);
        int image;

        if (v->phase == PHASE_STOPPING)
                return vs_error_kind(err, VS_E_STATE, EBUSY, "VPS is stopping");
        if ((image = on_image(d, v, err)) < 0)
                return -1;
        if (image)
                return image_send_spawn(d, v, first, out_fd, err);

        if (!first && access(listing_path, F_OK) < 0)
                return vs_error_kind(err, VS_E_STATE, ENOENT,
                                     "no first round of a migration was sent");
        if (first && unlink(listing_path) < 0 && errno != ENOENT)
                return vs_error_errno(err, "remove %s", listing_path);
        char *const argv[] = { "tar", "-c", "-f", "-", listing, "--numeric-owner", "--xattrs",
                               "--xattrs-include=*",
                               /* the file handles of this node's template,
                                * which the target's overlay would refuse
                                * (ESTALE) with index=on */
                               "--xattrs-exclude=trusted.overlay.origin", "--sparse", "-C", upper,
                               ".", NULL };
        return vsd_tar_spawn(argv, -1, out_fd, err);
}

void vsd_migrate_send_end(struct vsd *d, struct vps *v)
{
        cleanup_free char *listing = listing_of(d, v);
        cleanup_free char *sums = run_file_of(d, v, SUMS_SUFFIX);

        unlink(listing);
        unlink(sums);
}

void vsd_migrate_sweep(struct vsd *d, struct vps *v)
{
        const char *suffixes[] = { LISTING_SUFFIX, SUMS_SUFFIX };

        for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
                cleanup_free char *path = run_file_of(d, v, suffixes[i]);

                if (unlink(path) == 0)
                        vs_log(LOG_NOTICE, "removed %s (left by an interrupted migration)", path);
        }
}

/* ---- the target's side ---- */

static struct vsd_migration *find_migration(struct vsd *d, const char *name)
{
        for (struct vsd_migration *m = d->migrations; m; m = m->next)
                if (strcmp(m->name, name) == 0)
                        return m;
        return NULL;
}

static void drop_migration(struct vsd *d, struct vsd_migration *m, int remove_staging)
{
        cleanup_free char *staging = vsd_migrate_staging(m->name);

        if (remove_staging)
                vs_rmtree_at(d->vps_fd, staging, NULL);
        for (struct vsd_migration **p = &d->migrations; *p; p = &(*p)->next) {
                if (*p == m) {
                        *p = m->next;
                        break;
                }
        }
        free(m);
}

/* The config text as sent: a VPS of that name, on a template this node
 * has. */
static int parse_config(struct vsd *d, const char *name, const char *text, vs_kv_t *config,
                        vs_error_t *err)
{
        const char *tmpl, *named;

        if (vs_kv_parse(text, config, err) < 0)
                return vs_error_wrap(err, "the migrating VPS's config");
        named = vs_kv_get(config, "name");
        tmpl = vs_kv_get(config, "template");
        if (!named || strcmp(named, name) != 0)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "the config sent is not the one of VPS %s", name);
        if (!tmpl || !vs_template_exists(d->tmpl_fd, tmpl))
                return vs_error_kind(err, VS_E_NOTFOUND, ENOENT,
                                     "no template '%s' on this node (import it first)",
                                     tmpl ? tmpl : "?");
        return 0;
}

/* The dir backend's layers, or an image's (empty) file and mount point. */
static int make_layers(int fd, int image)
{
        int img;

        if (mkdirat(fd, "rootfs", 0755) < 0)
                return -1;
        if (!image)
                return mkdirat(fd, "upper", 0755) < 0 || mkdirat(fd, "work", 0755) < 0 ? -1 : 0;
        if (mkdirat(fd, vs_disk_backend_find("image")->layers, 0755) < 0)
                return -1;
        img = openat(fd, IMAGE_FILE, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (img < 0)
                return -1;
        close(img);
        return 0;
}

static int make_staging(struct vsd *d, const char *staging, int image, vs_error_t *err)
{
        cleanup_close int fd = -1;

        vs_rmtree_at(d->vps_fd, staging, NULL);
        if (mkdirat(d->vps_fd, staging, 0700) < 0)
                return vs_error_errno(err, "mkdir %s", staging);
        fd = openat(d->vps_fd, staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || make_layers(fd, image) < 0) {
                vs_error_errno(err, "make %s", staging);
                vs_rmtree_at(d->vps_fd, staging, NULL);
                return -1;
        }
        return 0;
}

/* The size of the image of a VPS on one (its space limit), else 0. */
static int image_size_of(const vs_kv_t *config, uint64_t *size, vs_error_t *err)
{
        const char *space = vs_kv_get(config, "diskspace");
        vs_disk_limit_t lim;

        *size = 0;
        if (!vsd_disk_backend_of(config)->attach)
                return 0;
        if (!space || vs_disk_parse_space(space, &lim, err) < 0 || !lim.hard)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "the config sent names no size for its disk image");
        *size = lim.hard;
        return 0;
}

int vsd_migrate_begin(struct vsd *d, struct client *c, const char *name, const char *text,
                      int new_ip, vs_error_t *err)
{
        cleanup_free char *staging = vsd_migrate_staging(name);
        cleanup_kv vs_kv_t config = { 0 };
        struct vsd_migration *m;
        uint64_t image_max;
        struct stat st;

        if (find_migration(d, name))
                return vs_error_kind(err, VS_E_STATE, EBUSY, "a migration of %s is under way",
                                     name);
        if (vsd_vps_find(d, name) || fstatat(d->vps_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                return vs_error_kind(err, VS_E_STATE, EEXIST, "VPS %s already exists", name);
        if (vsd_net_name_clash(d, name, err) < 0)
                return -1;
        if (parse_config(d, name, text, &config, err) < 0 ||
            vsd_vps_migrate_check(d, &config, new_ip, err) < 0 ||
            image_size_of(&config, &image_max, err) < 0 ||
            make_staging(d, staging, image_max > 0, err) < 0)
                return -1;
        m = vs_xmalloc(sizeof(*m));
        vs_strlcpy(m->name, name, sizeof(m->name));
        m->client = c;
        m->image = image_max > 0;
        m->image_max = image_max;
        m->next = d->migrations;
        d->migrations = m;
        vs_log(LOG_INFO, "migration of %s to this node begins", name);
        return 0;
}

/* In the fork that applies an image's round: the stream at fd 3, the
 * staging's image at 4. */
static pid_t image_recv_spawn(struct vsd *d, const struct vsd_migration *m, const char *staging,
                              int in_fd, vs_error_t *err)
{
        cleanup_free char *image = vs_strdupf("%s/%s/%s", d->vps_dir, staging, IMAGE_FILE);
        cleanup_close int img = open(image, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
        pid_t vsd = getpid(), pid;

        if (img < 0)
                return vs_error_errno(err, "open %s", image);
        pid = fork();
        if (pid < 0)
                return vs_error_errno(err, "fork");
        if (pid == 0) {
                int keep[] = { in_fd, img };
                vs_error_t child_err = { 0 };

                if (vs_helper_setup(vsd, "vsd-migrate", keep, 2) < 0)
                        _exit(1);
                if (vs_image_round_receive(3, 4, m->image_max, &child_err) < 0) {
                        vs_log(LOG_ERR, "migrate %s: %s", m->name, child_err.msg);
                        _exit(1);
                }
                /* on disk before the round is answered (the one file
                 * this fork wrote: its fsync is all of it) */
                if (fsync(4) < 0) {
                        vs_log(LOG_ERR, "migrate %s: write the image to disk: %m", m->name);
                        _exit(1);
                }
                _exit(0);
        }
        return pid;
}

/* In the fork that applies a round of the dir backend: tar extracts the
 * stream (fd 3) into the staging's upper layer, then one syncfs of the
 * staging's file system (fd 4) puts what it wrote on disk before the round
 * is answered: cheaper than tar's every file and directory fsync'd apart
 * (contrib/bench/migrate-sync.sh), and a pre-copy round's writing then
 * happens while the source still runs, not in the downtime. */
static __attribute__((noreturn)) void tar_receiver(const char *name, const char *upper)
{
        /* the names are the source's VPS's own: tar refuses members with
         * ".." and strips a leading "/" by itself */
        char *const argv[] = { "tar",
                               "-x",
                               "-f",
                               "-",
                               "--listed-incremental=/dev/null",
                               "--numeric-owner",
                               "--xattrs",
                               "--xattrs-include=*",
                               "-C",
                               (char *)upper,
                               NULL };
        vs_error_t err = { 0 };
        pid_t tar = vsd_tar_spawn(argv, 3, -1, &err);
        int status = 0;

        if (tar < 0) {
                vs_log(LOG_ERR, "migrate %s: %s", name, err.msg);
                _exit(1);
        }
        close(3); /* tar's now: its end of the stream is the end */
        while (waitpid(tar, &status, 0) < 0)
                if (errno != EINTR)
                        _exit(1);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        if (syncfs(4) < 0) {
                vs_log(LOG_ERR, "migrate %s: write the round to disk: %m", name);
                _exit(1);
        }
        _exit(0);
}

pid_t vsd_migrate_recv_spawn(struct vsd *d, const char *name, int in_fd, vs_error_t *err)
{
        cleanup_free char *staging = vsd_migrate_staging(name);
        cleanup_free char *upper = NULL;
        struct vsd_migration *m = find_migration(d, name);
        cleanup_close int staging_fd = -1;
        pid_t vsd = getpid(), pid;

        if (!m)
                return vs_error_kind(err, VS_E_NOTFOUND, ENOENT, "no migration of %s under way",
                                     name);
        if (m->image)
                return image_recv_spawn(d, m, staging, in_fd, err);
        upper = vs_strdupf("%s/%s/upper", d->vps_dir, staging);
        staging_fd = openat(d->vps_fd, staging, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (staging_fd < 0)
                return vs_error_errno(err, "open %s", staging);
        pid = fork();
        if (pid < 0)
                return vs_error_errno(err, "fork");
        if (pid == 0) {
                int keep[] = { in_fd, staging_fd };

                if (vs_helper_setup(vsd, "vsd-migrate", keep, 2) < 0)
                        _exit(1);
                tar_receiver(name, upper);
        }
        return pid;
}

/* The installed VPS's image, whole: what pins it to the source's node
 * goes. */
static int adopt_image(struct vsd *d, int fd, const char *name, vs_error_t *err)
{
        cleanup_free char *path = vs_strdupf("%s/%s", d->vps_dir, name);

        return vs_disk_image_adopt(fd, path, err) < 0 ? vs_error_wrap(err, "the migrated image")
                                                      : 0;
}

int vsd_migrate_finish(struct vsd *d, const char *name, const char *text, int new_ip,
                       const char *from, int *image, vs_error_t *err)
{
        struct vsd_migration *m = find_migration(d, name);
        cleanup_free char *staging = vsd_migrate_staging(name);
        cleanup_kv vs_kv_t config = { 0 };

        if (!m)
                return vs_error_kind(err, VS_E_NOTFOUND, ENOENT, "no migration of %s under way",
                                     name);
        *image = m->image;
        if (parse_config(d, name, text, &config, err) < 0 ||
            vsd_vps_migrate_install(d, staging, &config, new_ip, from ? from : "?", err) < 0)
                return -1;
        /* installed: by a rename (the staging is gone) or as a copy with
         * its owners moved (the staging is left to remove) */
        drop_migration(d, m, 1);
        return 0;
}

/* What the install did (the config, the rename, the copy when its ids
 * moved) and an image's adoption on disk, with the rounds the forks synced
 * already, before the answer that lets the source destroy its copy: one
 * syncfs of the file system the VPS is on (what is dirty there is what
 * came since the last round, and the other VPS's writing). In the worker
 * of the finish, which holds the VPS: none of it in vsd's loop. */
int vsd_migrate_durable(struct vsd *d, const char *name, int image, vs_error_t *err)
{
        cleanup_close int fd =
                openat(d->vps_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct timespec t0, t1;

        if (fd < 0)
                return vs_error_errno(err, "open the migrated %s", name);
        if (image && adopt_image(d, fd, name, err) < 0)
                return -1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (syncfs(fd) < 0)
                return vs_error_errno(err, "write the migrated %s to disk", name);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        vs_log(LOG_DEBUG, "migrate %s: syncfs %.3f s", name,
               (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
        return 0;
}

void vsd_migrate_client_gone(struct vsd *d, struct client *c)
{
        for (struct vsd_migration *m = d->migrations; m; m = m->next) {
                if (m->client == c) {
                        vs_log(LOG_NOTICE, "migration of %s abandoned: its staging goes", m->name);
                        drop_migration(d, m, 1);
                        return;
                }
        }
}
