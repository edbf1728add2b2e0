/* Backups of a VPS: a tar.zst of a manifest (paene-backup: the format
 * version), its config and its own layer (upper/ of the dir backend, the
 * sparse disk.img of the image backend), owners by number. vsd writes it
 * with GNU tar into a pipe that vsctl copies to a file or to its stdout;
 * a restore reads a file, holds every member name to the layout above (no
 * absolute path, no "..", nothing else at the top), extracts it into a
 * directory of its own below the VPS directory and makes the VPS of it as
 * a clone is made (a new id range, new addresses unless kept). Whatever
 * fails leaves nothing behind; the extraction directory ends in .creating,
 * which vsd removes at its start if a crash left it. The manifest is
 * written for each backup into a directory of its own below vsd's run
 * directory, never into the VPS's, and goes when tar ends (or, after a
 * crash, at the next vsd's start). */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/diskquota.h"
#include "vs/fsutil.h"
#include "vs/kvfile.h"
#include "vs/log.h"
#include "store.h"
#include "trash.h"
#include "vsd.h"

#define MANIFEST "paene-backup"
#define LISTING_MAX (64U << 20)
#define RESTORING ".restore.creating"
#define BACKUP_COPY ".backup.creating"
/* run/paene/backup-manifest.XXXXXX: a backup's manifest, while tar runs */
#define MANIFEST_DIR "backup-manifest."

extern char **environ;

/* The members of a backup of this VPS's backend, after the manifest. */
static const char *layer_of(const vs_kv_t *config)
{
        return vsd_disk_backend_of(config)->attach ? "disk.img" : "upper";
}

pid_t vsd_tar_spawn(char *const argv[], int in_fd, int out_fd, vs_error_t *err)
{
        posix_spawn_file_actions_t actions;
        pid_t pid;
        int rc;

        posix_spawn_file_actions_init(&actions);
        if (in_fd >= 0)
                posix_spawn_file_actions_adddup2(&actions, in_fd, STDIN_FILENO);
        else
                posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        if (out_fd >= 0)
                posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
        else
                posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
        rc = posix_spawnp(&pid, "tar", &actions, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0)
                return vs_error_set(err, rc, "run tar: %s", strerror(rc));
        return pid;
}

void vsd_backup_drop_manifest(struct vsd *d, char tmp[VSD_BACKUP_TMP_MAX])
{
        if (tmp[0])
                vs_rmtree_at(d->run_fd, tmp, NULL);
        tmp[0] = '\0';
}

/* The manifest of NAME in a directory made for this backup alone (two at
 * once have one each), its name below run/paene in tmp; the directory's
 * absolute path, for tar's -C. */
static char *write_manifest(struct vsd *d, const char *name, const vs_kv_t *config,
                            char tmp[VSD_BACKUP_TMP_MAX], vs_error_t *err)
{
        cleanup_free char *path = vs_strdupf("%s/run/paene/" MANIFEST_DIR "XXXXXX", d->root);
        cleanup_free char *manifest = NULL;
        cleanup_close int fd = -1;

        tmp[0] = '\0';
        if (!mkdtemp(path)) {
                vs_error_errno(err, "mkdtemp %s", path);
                return NULL;
        }
        vs_strlcpy(tmp, strrchr(path, '/') + 1, VSD_BACKUP_TMP_MAX);
        manifest = vs_strdupf("format = %d\nname = %s\nbackend = %s\n", VSD_BACKUP_FORMAT, name,
                              vsd_disk_backend_of(config)->name);
        fd = openat(d->run_fd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || vs_write_atomic(fd, MANIFEST, manifest, strlen(manifest), 0600, 0, err) < 0) {
                if (fd < 0)
                        vs_error_errno(err, "open %s", path);
                vsd_backup_drop_manifest(d, tmp);
                return NULL;
        }
        return steal_ptr(path);
}

/* tar of the manifest (in a directory of its own, named in tmp), of the
 * config in NAME/ and of the layer in layer_dir (NAME/ itself, or the copy
 * of a running VPS's layer). The caller drops the manifest once tar ended;
 * here, when tar did not start. */
static pid_t spawn_tar(struct vsd *d, const char *name, const char *layer_dir, int out_fd,
                       char tmp[VSD_BACKUP_TMP_MAX], vs_error_t *err)
{
        cleanup_kv vs_kv_t config = { 0 };
        cleanup_free char *dir = vs_strdupf("%s/%s", d->vps_dir, name);
        cleanup_free char *manifest_dir = NULL;
        pid_t pid;

        tmp[0] = '\0';
        if (vsd_config_load(d, name, &config, err) < 0)
                return -1;
        manifest_dir = write_manifest(d, name, &config, tmp, err);
        if (!manifest_dir)
                return -1;
        char *const argv[] = { "tar",
                               "--zstd",
                               "-c",
                               "-f",
                               "-",
                               "--numeric-owner",
                               "--xattrs",
                               "--xattrs-include=*",
                               "--sparse",
                               "-C",
                               manifest_dir,
                               MANIFEST,
                               "-C",
                               dir,
                               "config",
                               "-C",
                               (char *)(layer_dir ? layer_dir : dir),
                               (char *)layer_of(&config),
                               NULL };
        pid = vsd_tar_spawn(argv, -1, out_fd, err);
        if (pid < 0)
                vsd_backup_drop_manifest(d, tmp);
        return pid;
}

/* A stopped VPS: tar reads its files in place (no start until it ends). */
pid_t vsd_backup_spawn(struct vsd *d, struct vps *v, int out_fd, char tmp[VSD_BACKUP_TMP_MAX],
                       vs_error_t *err)
{
        pid_t pid;

        tmp[0] = '\0';
        if (v->phase != PHASE_STOPPED)
                return vs_error_kind(err, VS_E_STATE, EBUSY, "VPS is %s", vsd_phase_name(v->phase));
        pid = spawn_tar(d, v->name, NULL, out_fd, tmp, err);
        if (pid > 0)
                v->backups++;
        return pid;
}

void vsd_backup_done(struct vsd *d, struct vps *v, char tmp[VSD_BACKUP_TMP_MAX])
{
        vsd_backup_drop_manifest(d, tmp);
        v->backups--;
}

/* A running VPS is backed up as a snapshot is taken: its layer is copied
 * into NAME/.backup.creating while it runs, then it is frozen only for the
 * resync of what it changed meanwhile (vsd_clone_copy_layer), so the
 * backup is of one moment and the VPS runs on while tar reads the copy,
 * which goes when tar ends. It costs the layer's size on disk for that
 * time (a reflink where the file system shares extents). A VPS on a disk
 * image is copied so too (the image backend's clone_live: its blocks in
 * rounds while it runs, then frozen for those that changed). */
int vsd_backup_live_prepare(struct vsd *d, struct vps *v, struct vsd_work *w, vs_error_t *err)
{
        vs_strlcpy(w->clone.src, v->name, sizeof(w->clone.src));
        w->vps = v;
        if (vsd_config_load(d, v->name, &w->clone.src_config, err) < 0)
                return -1;
        w->clone.disk = vsd_disk_backend_of(&w->clone.src_config);
        if (!w->clone.disk)
                return vs_error_set(err, EINVAL, "no disk backend");
        return vsd_vps_freeze_for_copy(v, w->clone.disk, &w->clone, err);
}

static int wait_tar(pid_t pid)
{
        int status = 0;

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return 255;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* In the worker: the copy, tar of it into out_fd, the copy's removal. */
int vsd_backup_live_write(struct vsd *d, const struct vsd_work *w, int out_fd, int *status,
                          long long *frozen_ms, vs_error_t *err)
{
        cleanup_free char *path = vs_strdupf("%s/%s/%s", d->vps_dir, w->clone.src, BACKUP_COPY);
        cleanup_close int vps_fd = -1, copy_fd = -1;
        char tmp[VSD_BACKUP_TMP_MAX] = "";
        pid_t pid;
        int rc;

        vps_fd = openat(d->vps_fd, w->clone.src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (vps_fd < 0)
                return vs_error_errno(err, "open %s", w->clone.src);
        /* what a crash of an earlier backup left */
        vs_rmtree_at(vps_fd, BACKUP_COPY, NULL);
        if (mkdirat(vps_fd, BACKUP_COPY, 0700) < 0)
                return vs_error_errno(err, "mkdir %s", path);
        copy_fd = openat(vps_fd, BACKUP_COPY, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        rc = copy_fd < 0 ? vs_error_errno(err, "open %s", path)
                         : vsd_clone_copy_layer(d, &w->clone, vps_fd, copy_fd, path, NULL,
                                                frozen_ms, err);
        if (rc == 0 && (pid = spawn_tar(d, w->clone.src, path, out_fd, tmp, err)) > 0)
                *status = wait_tar(pid);
        else
                rc = -1;
        vsd_backup_drop_manifest(d, tmp);
        vs_rmtree_at(vps_fd, BACKUP_COPY, NULL);
        return rc;
}

void vsd_backup_sweep(struct vsd *d, const char *vps)
{
        cleanup_free char *old = vs_strdupf("%s/" MANIFEST, vps);

        vsd_trash_doom_within(d, vps, BACKUP_COPY);
        /* where an earlier paene wrote each backup's manifest, and left it */
        if (unlinkat(d->vps_fd, old, 0) == 0)
                vs_log(LOG_NOTICE, "removed %s (an earlier paene's backup manifest)", old);
}

void vsd_backup_sweep_manifests(struct vsd *d)
{
        cleanup_closedir DIR *dir = vs_opendir_at(d->run_fd, ".");
        struct dirent *ent;

        /* a directory of one small file: removed here, not by the remover */
        while (dir && (ent = readdir(dir)))
                if (strncmp(ent->d_name, MANIFEST_DIR, strlen(MANIFEST_DIR)) == 0 &&
                    vs_rmtree_at(d->run_fd, ent->d_name, NULL) == 0)
                        vs_log(LOG_NOTICE, "removed run/paene/%s (left by an interrupted backup)",
                               ent->d_name);
}

/* Runs tar with argv, in_fd its stdin; its stdout into *out (when out),
 * its stderr's first line into err on failure. */
static int run_tar(char *const argv[], int in_fd, char **out, vs_error_t *err)
{
        cleanup_close int out_r = -1, err_r = -1;
        posix_spawn_file_actions_t actions;
        int out_p[2], err_p[2], status = 0, rc;
        size_t len = 0, cap = 0, elen = 0;
        char ebuf[512];
        pid_t pid;

        if (pipe2(out_p, O_CLOEXEC) < 0)
                return vs_error_errno(err, "pipe");
        if (pipe2(err_p, O_CLOEXEC) < 0) {
                close(out_p[0]);
                close(out_p[1]);
                return vs_error_errno(err, "pipe");
        }
        out_r = out_p[0];
        err_r = err_p[0];
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, in_fd, STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&actions, out_p[1], STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&actions, err_p[1], STDERR_FILENO);
        rc = posix_spawnp(&pid, "tar", &actions, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&actions);
        close(out_p[1]);
        close(err_p[1]);
        if (rc != 0)
                return vs_error_set(err, rc, "run tar: %s", strerror(rc));
        if (out)
                *out = NULL;
        for (;;) {
                char buf[65536];
                ssize_t n = read(out_r, buf, sizeof(buf));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                if (!out || len + (size_t)n >= LISTING_MAX)
                        continue; /* drained: tar must not block on us */
                if (len + (size_t)n + 1 > cap) {
                        cap = (len + (size_t)n + 1) * 2;
                        *out = realloc(*out, cap);
                        if (!*out)
                                abort();
                }
                memcpy(*out + len, buf, (size_t)n);
                len += (size_t)n;
                (*out)[len] = '\0';
        }
        for (ssize_t n; elen + 1 < sizeof(ebuf) &&
                        (n = read(err_r, ebuf + elen, sizeof(ebuf) - 1 - elen)) > 0;)
                elen += (size_t)n;
        ebuf[elen] = '\0';
        ebuf[strcspn(ebuf, "\n")] = '\0';
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                if (out) {
                        free(*out);
                        *out = NULL;
                }
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "not a readable backup (%s)",
                                     *ebuf ? ebuf : "tar failed");
        }
        if (out && !*out)
                *out = vs_xstrdup("");
        return 0;
}

/* What tar made of the top members: the manifest and config regular
 * files, upper/ a directory, disk.img a regular file; a symlink among them
 * would have vsd read (or copy) a host file. */
static int check_extracted(struct vsd *d, vs_error_t *err)
{
        static const struct {
                const char *name;
                mode_t type;
                int required;
        } top[] = { { MANIFEST, S_IFREG, 1 },
                    { "config", S_IFREG, 1 },
                    { "upper", S_IFDIR, 0 },
                    { "disk.img", S_IFREG, 0 } };

        for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
                cleanup_free char *path = vs_strdupf("%s/%s", RESTORING, top[i].name);
                struct stat st;

                if (fstatat(d->vps_fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno == ENOENT && !top[i].required)
                                continue;
                        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                             "not a paene backup (no %s in it)", top[i].name);
                }
                if ((st.st_mode & S_IFMT) != top[i].type)
                        return vs_error_kind(err, VS_E_USAGE, EINVAL, "the backup's %s is not a %s",
                                             top[i].name,
                                             top[i].type == S_IFDIR ? "directory" : "regular file");
        }
        return 0;
}

static int check_manifest(struct vsd *d, vs_error_t *err)
{
        cleanup_free char *path = vs_strdupf("%s/%s", RESTORING, MANIFEST);
        cleanup_kv vs_kv_t manifest = { 0 };

        if (vs_kv_load(d->vps_fd, path, &manifest, err) < 0)
                return vs_error_wrap(err, "backup manifest");
        return vsd_backup_manifest_ok(&manifest, err);
}

/* The backup, opened once for both of tar's passes: a regular file. vsd
 * reads it as root in its loop, from where an admin put it (a customer's
 * upload directory, say): a FIFO there would hold vsd for good, a symlink
 * a customer planted to a device node would have root open the device
 * (which acts: a watchdog's arms), and a name opened twice could be
 * another file at the second pass. So the node is looked at (O_PATH opens
 * none) and only a regular file is opened, that node itself. */
static int open_backup(const char *file, vs_error_t *err)
{
        cleanup_close int node = open(file, O_PATH | O_CLOEXEC);
        struct stat st;
        int fd;

        if (node < 0)
                return vs_error_kind(err, errno == ENOENT ? VS_E_NOTFOUND : VS_E_USAGE, errno,
                                     "%s: %s", file, strerror(errno));
        if (fstat(node, &st) < 0)
                return vs_error_errno(err, "stat %s", file);
        if (!S_ISREG(st.st_mode))
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "%s is not a regular file", file);
        fd = vs_fd_reopen(node);
        if (fd < 0)
                return vs_error_kind(err, VS_E_USAGE, errno, "%s: %s", file, strerror(errno));
        return fd;
}

int vsd_restore(struct vsd *d, const char *file, const char *name, int keep_ip, vs_error_t *err)
{
        cleanup_free char *listing = NULL;
        cleanup_free char *into = vs_strdupf("%s/%s", d->vps_dir, RESTORING);
        cleanup_close int in = -1;
        char *const list_argv[] = { "tar", "--zstd", "-t", "-f", "-", NULL };
        char *const extract_argv[] = { "tar",
                                       "--zstd",
                                       "-x",
                                       "-f",
                                       "-",
                                       "--numeric-owner",
                                       "--xattrs",
                                       "--xattrs-include=*",
                                       "--no-overwrite-dir",
                                       "-C",
                                       into,
                                       NULL };
        int rc;

        if ((in = open_backup(file, err)) < 0 || run_tar(list_argv, in, &listing, err) < 0 ||
            vsd_backup_listing_ok(listing, err) < 0)
                return -1;
        if (lseek(in, 0, SEEK_SET) < 0)
                return vs_error_errno(err, "rewind %s", file);
        vs_rmtree_at(d->vps_fd, RESTORING, NULL);
        if (mkdirat(d->vps_fd, RESTORING, 0700) < 0)
                return vs_error_errno(err, "mkdir %s", into);
        rc = run_tar(extract_argv, in, NULL, err) < 0 || check_extracted(d, err) < 0 ||
                             check_manifest(d, err) < 0 ||
                             vsd_vps_restore_dir(d, RESTORING, name, keep_ip, err) < 0
                     ? -1
                     : 0;
        vs_rmtree_at(d->vps_fd, RESTORING, NULL);
        return rc;
}
