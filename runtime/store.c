/* The daemon's store (see store.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "store.h"
#include "vsd.h"

static int load_vps_file(struct vsd *d, const char *name, const char *file, vs_kv_t *kv,
                         vs_error_t *err)
{
        cleanup_free char *path = vs_strdupf("%s/%s", name, file);

        if (vs_kv_load(d->vps_fd, path, kv, err) < 0)
                return vs_error_wrap(err, "%s of %s", file, name);
        return 0;
}

int vsd_config_load(struct vsd *d, const char *name, vs_kv_t *config, vs_error_t *err)
{
        return load_vps_file(d, name, "config", config, err);
}

int vsd_config_save(struct vsd *d, const char *name, const vs_kv_t *config, vs_error_t *err)
{
        cleanup_free char *path = vs_strdupf("%s/config", name);

        return vs_kv_save(d->vps_fd, path, config, 1, err);
}

int vsd_state_load(struct vsd *d, const char *name, vs_kv_t *state, vs_error_t *err)
{
        return load_vps_file(d, name, "state", state, err);
}

/* The VPS's config as its file is now: kept in memory, and read again only
 * when the file changed (vsd saves by rename, an admin may edit it), so
 * that a list of thousands of VPS costs a stat each, not a parse. */
const vs_kv_t *vsd_vps_config(struct vsd *d, struct vps *v)
{
        char path[sizeof(v->name) + 16];
        struct stat st;

        snprintf(path, sizeof(path), "%s/config", v->name);
        if (fstatat(d->vps_fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                vs_kv_free(&v->config);
                v->config_valid = 0;
                return &v->config;
        }
        if (v->config_valid && st.st_ino == v->config_st.st_ino &&
            st.st_size == v->config_st.st_size &&
            st.st_mtim.tv_sec == v->config_st.st_mtim.tv_sec &&
            st.st_mtim.tv_nsec == v->config_st.st_mtim.tv_nsec &&
            st.st_ctim.tv_sec == v->config_st.st_ctim.tv_sec &&
            st.st_ctim.tv_nsec == v->config_st.st_ctim.tv_nsec)
                return &v->config;
        vs_kv_free(&v->config);
        v->config_valid = vsd_config_load(d, v->name, &v->config, NULL) == 0;
        v->config_st = st;
        return &v->config;
}

char *vsd_conf_path(struct vsd *d)
{
        return vs_strdupf("%s/etc/paene/vsd.conf", d->root);
}

int vsd_conf_load(struct vsd *d, vs_kv_t *conf, vs_error_t *err)
{
        cleanup_free char *path = vsd_conf_path(d);

        return vs_kv_load_optional(AT_FDCWD, path, conf, err);
}
