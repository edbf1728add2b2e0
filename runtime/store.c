/* The daemon's store (see store.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/netns.h"
#include "vs/parse.h"
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
        struct vps *v = vsd_vps_find(d, name);
        int rc = vs_kv_save(d->vps_fd, path, config, 1, err);

        /* what vsd keeps of it is read again at its next use */
        if (v)
                v->config_valid = 0;
        return rc;
}

int vsd_state_load(struct vsd *d, const char *name, vs_kv_t *state, vs_error_t *err)
{
        return load_vps_file(d, name, "state", state, err);
}

int vsd_parse_id_base(const char *text, unsigned long *base)
{
        uint64_t value = 0;

        if (vs_digits(text, ULONG_MAX, &value) < 0 || value < VS_ID_BASE_FIRST ||
            (value - VS_ID_BASE_FIRST) % VS_ID_RANGE ||
            (value - VS_ID_BASE_FIRST) / VS_ID_RANGE >= VS_ID_RANGES)
                return -1;
        *base = value;
        return 0;
}

/* What the checks that compare every VPS read of v's config, parsed once
 * per read of the file: a bad value holds nothing (as it did when they
 * parsed the file each time). Most VPS have no forward: nothing kept. The
 * walks touch these, not the config's keys (vs_kv_get's strcmp of each
 * key was a quarter of a create's CPU at 2500 VPS). */
static void keep_derived(struct vps *v)
{
        vs_portfwd_t fwds[VS_PORTFWD_MAX];
        struct vsd_net_addrs addrs;
        vs_limits_t limits;
        size_t n = 0;

        if (vsd_parse_id_base(vs_kv_get(&v->config, "id_base"), &v->id_base) < 0)
                v->id_base = 0;
        if (vs_limits_from_config(&v->config, &limits, NULL) == 0)
                v->reserve = vs_reserve_of(&limits);
        if (vsd_net_parse_ips(vs_kv_get(&v->config, "ip"), &addrs, NULL) == 0) {
                if (addrs.n4) {
                        v->ip4s = vs_xmalloc(addrs.n4 * sizeof(*v->ip4s));
                        for (size_t i = 0; i < addrs.n4; i++)
                                v->ip4s[i] = addrs.v4[i].addr;
                        v->nip4 = addrs.n4;
                }
                if (addrs.n6) {
                        v->ip6s = vs_xmalloc(addrs.n6 * sizeof(*v->ip6s));
                        memcpy(v->ip6s, addrs.v6, addrs.n6 * sizeof(*v->ip6s));
                        v->nip6 = addrs.n6;
                }
        }
        if (vs_portfwd_parse_list(vs_kv_get(&v->config, "port_forward"), fwds, VS_PORTFWD_MAX, &n,
                                  NULL) < 0 ||
            n == 0)
                return;
        v->fwds = vs_xmalloc(n * sizeof(*fwds));
        memcpy(v->fwds, fwds, n * sizeof(*fwds));
        v->nfwds = n;
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
                vsd_vps_config_drop(v);
                return &v->config;
        }
        if (v->config_valid && st.st_ino == v->config_st.st_ino &&
            st.st_size == v->config_st.st_size &&
            st.st_mtim.tv_sec == v->config_st.st_mtim.tv_sec &&
            st.st_mtim.tv_nsec == v->config_st.st_mtim.tv_nsec &&
            st.st_ctim.tv_sec == v->config_st.st_ctim.tv_sec &&
            st.st_ctim.tv_nsec == v->config_st.st_ctim.tv_nsec)
                return &v->config;
        vsd_vps_config_drop(v);
        v->config_valid = vsd_config_load(d, v->name, &v->config, NULL) == 0;
        v->config_st = st;
        keep_derived(v);
        return &v->config;
}

const vs_kv_t *vsd_vps_config_kept(struct vsd *d, struct vps *v)
{
        return v->config_valid ? &v->config : vsd_vps_config(d, v);
}

unsigned long vsd_vps_id_base(struct vsd *d, struct vps *v)
{
        vsd_vps_config_kept(d, v);
        return v->id_base;
}

size_t vsd_vps_forwards(struct vsd *d, struct vps *v, const vs_portfwd_t **fwds)
{
        vsd_vps_config_kept(d, v);
        *fwds = v->fwds;
        return v->nfwds;
}

vs_reserve_t vsd_vps_reserve(struct vsd *d, struct vps *v)
{
        vsd_vps_config_kept(d, v);
        return v->reserve;
}

void vsd_vps_addrs(struct vsd *d, struct vps *v, struct vsd_used_addrs *u)
{
        vsd_vps_config_kept(d, v);
        for (size_t i = 0; i < v->nip4; i++)
                vsd_used_add4(u, v->ip4s[i]);
        for (size_t i = 0; i < v->nip6; i++)
                vsd_used_add6(u, &v->ip6s[i]);
}

void vsd_vps_config_drop(struct vps *v)
{
        vs_kv_free(&v->config);
        v->config_valid = 0;
        v->id_base = 0;
        v->reserve = (vs_reserve_t){ 0, 0 };
        free(v->fwds);
        v->fwds = NULL;
        v->nfwds = 0;
        free(v->ip4s);
        free(v->ip6s);
        v->ip4s = NULL;
        v->ip6s = NULL;
        v->nip4 = v->nip6 = 0;
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

/* Every request looks its VPS up, and vsd_authz_request as well: a walk of
 * the list of 4096 cost 0.5 ms a start, the first-made VPS being last. */
struct vps *vsd_vps_find(struct vsd *d, const char *name)
{
        vs_nameidx_link_t *link = vs_nameidx_find(&d->vps_index, name);

        return link ? vs_nameidx_entry(link, struct vps, name_link) : NULL;
}

/* Two structures over the same VPS, each for what it does best: the index
 * for a lookup by name, the list for walks (about 35 of them, over every
 * VPS: allocators, slices, metrics, sweeps at vsd's start). A walk of the
 * list touches the N records, newest first (the restore's reply takes the
 * VPS it just made from the head); a walk of the index's buckets would
 * touch its empty buckets too (up to twice as many slots as VPS, as it
 * never shrinks), in an order that changes with each run's random key. The
 * list costs two pointers a VPS. */
void vsd_vps_link(struct vsd *d, struct vps *v)
{
        v->next = d->vps_list;
        if (v->next)
                v->next->pprev = &v->next;
        v->pprev = &d->vps_list;
        d->vps_list = v;
        vs_nameidx_add(&d->vps_index, &v->name_link, v->name);
}

/* in place: a walk to it crossed every VPS made after it */
void vsd_vps_unlink(struct vsd *d, struct vps *v)
{
        vs_nameidx_remove(&d->vps_index, &v->name_link);
        *v->pprev = v->next;
        if (v->next)
                v->next->pprev = v->pprev;
}
