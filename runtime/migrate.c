/* Migration between nodes (vsd.h has the whole of it). Both halves run
 * GNU tar through backup.c's spawner: the source's with a listing of its
 * own (--listed-incremental, in vsd's run directory, not among the VPS's
 * files: a conductor killed half way leaves nothing there) so that each round
 * after the first carries only what changed, with every directory's list
 * of names; the target's extracts each round into its staging with
 * --listed-incremental=/dev/null, which removes what the source deleted.
 * The staging is named .NAME.migrate.creating: a vsd that starts removes
 * every .creating entry, so a target that dies half way keeps nothing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/cowfs.h"
#include "vs/fsutil.h"
#include "vs/kvfile.h"
#include "vs/log.h"
#include "store.h"
#include "vsd.h"

#define LISTING_SUFFIX ".migrate.snar"

/* ---- the source's side ---- */

char *vsd_migrate_config(struct vsd *d, struct vps *v, vs_error_t *err)
{
        cleanup_kv vs_kv_t config = { 0 };

        if (vsd_config_load(d, v->name, &config, err) < 0)
                return NULL;
        return vs_kv_format(&config);
}

/* Only the dir backend's layer is read while the VPS runs: an image's file
 * system is mounted inside the VPS, and the host's view of it is stale. */
static int layer_is_dir(struct vsd *d, struct vps *v, vs_error_t *err)
{
        cleanup_kv vs_kv_t config = { 0 };

        if (vsd_config_load(d, v->name, &config, err) < 0)
                return -1;
        if (vsd_disk_backend_of(&config)->attach)
                return vs_error_kind(err, VS_E_STATE, EOPNOTSUPP,
                                     "a VPS on a disk image cannot migrate (yet): back it up and "
                                     "restore it on the target");
        return 0;
}

static char *listing_of(struct vsd *d, const struct vps *v)
{
        return vs_strdupf("%s/run/paene/%s%s", strcmp(d->root, "/") == 0 ? "" : d->root, v->name,
                          LISTING_SUFFIX);
}

pid_t vsd_migrate_send_spawn(struct vsd *d, struct vps *v, int first, int out_fd, vs_error_t *err)
{
        cleanup_free char *upper = vs_strdupf("%s/%s/upper", d->vps_dir, v->name);
        cleanup_free char *listing_path = listing_of(d, v);
        cleanup_free char *listing = vs_strdupf("--listed-incremental=%s", listing_path);

        if (v->phase == PHASE_STOPPING)
                return vs_error_kind(err, VS_E_STATE, EBUSY, "VPS is stopping");
        if (layer_is_dir(d, v, err) < 0)
                return -1;
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

        unlink(listing);
}

void vsd_migrate_sweep(struct vsd *d, struct vps *v)
{
        cleanup_free char *listing = listing_of(d, v);

        if (unlink(listing) == 0)
                vs_log(LOG_NOTICE, "removed %s (left by an interrupted migration)", listing);
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
 * has, on the dir backend. */
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
        if (vsd_disk_backend_of(config)->attach)
                return vs_error_kind(err, VS_E_STATE, EOPNOTSUPP,
                                     "a VPS on a disk image cannot migrate (yet)");
        return 0;
}

static int make_staging(struct vsd *d, const char *staging, vs_error_t *err)
{
        cleanup_close int fd = -1;

        vs_rmtree_at(d->vps_fd, staging, NULL);
        if (mkdirat(d->vps_fd, staging, 0700) < 0)
                return vs_error_errno(err, "mkdir %s", staging);
        fd = openat(d->vps_fd, staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || mkdirat(fd, "upper", 0755) < 0 || mkdirat(fd, "work", 0755) < 0 ||
            mkdirat(fd, "rootfs", 0755) < 0) {
                vs_error_errno(err, "make %s", staging);
                vs_rmtree_at(d->vps_fd, staging, NULL);
                return -1;
        }
        return 0;
}

int vsd_migrate_begin(struct vsd *d, struct client *c, const char *name, const char *text,
                      int new_ip, vs_error_t *err)
{
        cleanup_free char *staging = vsd_migrate_staging(name);
        cleanup_kv vs_kv_t config = { 0 };
        struct vsd_migration *m;
        struct stat st;

        if (find_migration(d, name))
                return vs_error_kind(err, VS_E_STATE, EBUSY, "a migration of %s is under way",
                                     name);
        if (vsd_vps_find(d, name) || fstatat(d->vps_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                return vs_error_kind(err, VS_E_STATE, EEXIST, "VPS %s already exists", name);
        if (parse_config(d, name, text, &config, err) < 0 ||
            vsd_vps_migrate_check(d, &config, new_ip, err) < 0 || make_staging(d, staging, err) < 0)
                return -1;
        m = vs_xmalloc(sizeof(*m));
        vs_strlcpy(m->name, name, sizeof(m->name));
        m->client = c;
        m->next = d->migrations;
        d->migrations = m;
        vs_log(LOG_INFO, "migration of %s to this node begins", name);
        return 0;
}

pid_t vsd_migrate_recv_spawn(struct vsd *d, const char *name, int in_fd, vs_error_t *err)
{
        cleanup_free char *staging = vsd_migrate_staging(name);
        cleanup_free char *upper = NULL;

        if (!find_migration(d, name))
                return vs_error_kind(err, VS_E_NOTFOUND, ENOENT, "no migration of %s under way",
                                     name);
        upper = vs_strdupf("%s/%s/upper", d->vps_dir, staging);
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
                               upper,
                               NULL };
        return vsd_tar_spawn(argv, in_fd, -1, err);
}

int vsd_migrate_finish(struct vsd *d, const char *name, const char *text, int new_ip,
                       const char *from, vs_error_t *err)
{
        struct vsd_migration *m = find_migration(d, name);
        cleanup_free char *staging = vsd_migrate_staging(name);
        cleanup_kv vs_kv_t config = { 0 };

        if (!m)
                return vs_error_kind(err, VS_E_NOTFOUND, ENOENT, "no migration of %s under way",
                                     name);
        if (parse_config(d, name, text, &config, err) < 0 ||
            vsd_vps_migrate_install(d, staging, &config, new_ip, from ? from : "?", err) < 0)
                return -1;
        /* installed: by a rename (the staging is gone) or as a copy with
         * its owners moved (the staging is left to remove) */
        drop_migration(d, m, 1);
        vs_log(LOG_INFO, "migrated %s to this node from %s", name, from ? from : "?");
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
