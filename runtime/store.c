/* The daemon's store (see store.h). */
#include <errno.h>
#include <fcntl.h>

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

int vsd_state_load(struct vsd *d, const char *name, vs_kv_t *state, vs_error_t *err)
{
        return load_vps_file(d, name, "state", state, err);
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
