/* The VPS's disk: which backend holds its layers, its limits in the config
 * (disk_backend, diskspace = SOFT:HARD bytes, diskinodes = SOFT:HARD), usage
 * for list and status, and online resizing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "vs/cleanup.h"
#include "vs/diskquota.h"
#include "vs/fsutil.h"
#include "vs/kvfile.h"
#include "store.h"
#include "vsd.h"

const vs_disk_backend_t *vsd_disk_backend_for_new(struct vsd *d, const vs_disk_limits_t *lim,
                                                  vs_error_t *err)
{
        cleanup_kv vs_kv_t conf = { 0 };

        /* read at each create: an admin's edit needs no restart of vsd */
        if (vsd_conf_load(d, &conf, err) < 0)
                return NULL;
        return vs_disk_backend_choose(vs_kv_get(&conf, "disk_backend"), lim, err);
}

const vs_disk_backend_t *vsd_disk_backend_of(const vs_kv_t *config)
{
        const vs_disk_backend_t *b = vs_disk_backend_find(vs_kv_get(config, "disk_backend"));

        return b ? b : vs_disk_backend_find("dir");
}

static void set_limit(vs_kv_t *config, const char *key, const vs_disk_limit_t *l)
{
        if (l->hard)
                vs_kv_setf(config, key, "%llu:%llu", (unsigned long long)l->soft,
                           (unsigned long long)l->hard);
        else
                vs_kv_set(config, key, NULL);
}

void vsd_disk_config_set(vs_kv_t *config, const vs_disk_backend_t *disk,
                         const vs_disk_limits_t *lim)
{
        if (strcmp(disk->name, "dir") == 0)
                return;
        vs_kv_set(config, "disk_backend", disk->name);
        set_limit(config, "diskspace", &lim->space);
        set_limit(config, "diskinodes", &lim->inodes);
}

static int limits_of(const vs_kv_t *config, vs_disk_limits_t *lim, vs_error_t *err)
{
        const char *space = vs_kv_get(config, "diskspace");
        const char *inodes = vs_kv_get(config, "diskinodes");

        memset(lim, 0, sizeof(*lim));
        if ((space && vs_disk_parse_space(space, &lim->space, err) < 0) ||
            (inodes && vs_disk_parse_inodes(inodes, &lim->inodes, err) < 0))
                return vs_error_wrap(err, "config");
        return 0;
}

void vsd_disk_describe(struct vsd *d, struct vps *v, const vs_kv_t *config, vs_vps_info_t *info)
{
        const vs_disk_backend_t *disk = vsd_disk_backend_of(config);
        cleanup_free char *vps_path = vs_strdupf("%s/%s", d->vps_dir, v->name);
        char root[64];
        vs_disk_usage_t usage = { 0 };

        vs_vps_info_text(info, VS_VF_DISK_BACKEND, disk->name);
        /* the dir backend's usage is a walk of the whole layer: the
         * counter's for a large one */
        if (disk == vs_disk_backend_find("dir")) {
                if (vsd_du_bytes(d, v, &usage.bytes_used))
                        vs_vps_info_int(info, VS_VF_DISK, (long long)usage.bytes_used);
        } else {
                snprintf(root, sizeof(root), "/proc/%d/root", (int)v->pid);
                disk->usage(vps_path, v->phase == PHASE_STOPPED ? NULL : root, &usage, NULL);
                vs_vps_info_int(info, VS_VF_DISK, (long long)usage.bytes_used);
        }
        vs_vps_info_int(info, VS_VF_DISKLIMIT, (long long)usage.bytes_limit);
        vs_vps_info_int(info, VS_VF_INODES, (long long)usage.inodes_used);
        vs_vps_info_int(info, VS_VF_INODELIMIT, (long long)usage.inodes_limit);
}

int vsd_vps_resize(struct vsd *d, struct vps *v, const vs_disk_limit_t *space, vs_error_t *err)
{
        cleanup_free char *vps_path = vs_strdupf("%s/%s", d->vps_dir, v->name);
        cleanup_kv vs_kv_t config = { 0 };
        const vs_disk_backend_t *disk;
        vs_disk_limits_t lim;

        if (vsd_config_load(d, v->name, &config, err) < 0)
                return -1;
        if (limits_of(&config, &lim, err) < 0)
                return vs_error_wrap(err, "config");
        disk = vsd_disk_backend_of(&config);
        lim.space = *space;
        if (disk->resize(vps_path, v->phase != PHASE_STOPPED, &lim, err) < 0)
                return -1;
        set_limit(&config, "diskspace", &lim.space);
        return vsd_config_save(d, v->name, &config, err);
}
