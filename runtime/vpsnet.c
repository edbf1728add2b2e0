/* A VPS's network as the lifecycle sees it: addresses assigned at create
 * and kept in the VPS's config ("ip = 10.77.0.2/16 ..."), so that they
 * survive restarts of vsd and go with the config on destroy; the veth made
 * at start and deleted at stop; leftovers swept when vsd starts. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/kvfile.h"
#include "vs/log.h"
#include "vs/netns.h"
#include "vsd.h"

int vsd_net_init(struct vsd *d, vs_error_t *err)
{
        cleanup_free char *path = vs_strdupf("%s/etc/paene/vsd.conf", d->root);
        vs_net_conf_t conf;

        if (vs_net_conf_load(AT_FDCWD, path, &conf, err) < 0)
                return -1;
        if (vs_net_open(&conf, &d->net, err) < 0)
                return vs_error_wrap(err, "network");
        return 0;
}

/* Parses a config's "ip" value: blank-separated ADDR/PREFIX. */
int vsd_net_parse_ips(const char *text, vs_ip4_t *addrs, size_t *n, vs_error_t *err)
{
        cleanup_free char *copy = vs_xstrdup(text ? text : "");
        char *save = NULL;

        *n = 0;
        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                if (*n == VS_NET_ADDRS_MAX)
                        return vs_error_kind(err, VS_E_USAGE, E2BIG, "more than %d addresses",
                                             VS_NET_ADDRS_MAX);
                if (vs_ip4_parse(w, 32, &addrs[(*n)++], err) < 0)
                        return -1;
        }
        return 0;
}

/* Every address held by a VPS of this root, except `skip`'s. */
static uint32_t *used_addrs(struct vsd *d, const char *skip, size_t *n)
{
        size_t cap = 64;
        uint32_t *used = vs_xmalloc(cap * sizeof(*used));

        *n = 0;
        for (struct vps *v = d->vps_list; v; v = v->next) {
                cleanup_free char *path = vs_strdupf("%s/config", v->name);
                cleanup_kv vs_kv_t config = { 0 };
                vs_ip4_t addrs[VS_NET_ADDRS_MAX];
                size_t k;

                if ((skip && strcmp(v->name, skip) == 0) ||
                    vs_kv_load(d->vps_fd, path, &config, NULL) < 0 ||
                    vsd_net_parse_ips(vs_kv_get(&config, "ip"), addrs, &k, NULL) < 0)
                        continue;
                for (size_t i = 0; i < k; i++) {
                        if (*n == cap) {
                                cap *= 2;
                                used = realloc(used, cap * sizeof(*used));
                                if (!used)
                                        abort();
                        }
                        used[(*n)++] = addrs[i].addr;
                }
        }
        return used;
}

static int is_used(const uint32_t *used, size_t n, uint32_t addr)
{
        for (size_t i = 0; i < n; i++)
                if (used[i] == addr)
                        return 1;
        return 0;
}

/* One --ipadd: inside the pool it takes the pool's prefix unless given, and
 * may not be the pool's network, gateway or broadcast address. */
static int check_given(const vs_net_conf_t *conf, const char *text, const uint32_t *used, size_t n,
                       vs_ip4_t *out, vs_error_t *err)
{
        const vs_pool4_t *pool = &conf->pool4;
        char pool_text[24];
        uint32_t a;

        if (vs_ip4_parse(text, 32, out, err) < 0)
                return vs_error_wrap(err, "--ipadd");
        a = out->addr;
        if (!strchr(text, '/'))
                out->prefix = vs_pool4_contains(pool, a) ? pool->net.prefix : 32;
        if (out->prefix < 8)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "--ipadd %s: the prefix must be /8 to /32", text);
        if (vs_pool4_contains(pool, a) && !vs_pool4_is_host(pool, a))
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "--ipadd %s: the pool's network, gateway or broadcast "
                                     "address",
                                     text);
        if (a == 0 || (a >> 24) == 127 || (a >> 28) >= 14)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "--ipadd %s: not a unicast host address", text);
        /* on the bridge only the pool's subnet is on-link for vsd's
         * namespace: an address outside it would be unreachable */
        vs_ip4_format(&pool->net, 1, pool_text, sizeof(pool_text));
        if (conf->mode == VS_NET_BRIDGE && !vs_pool4_contains(pool, a))
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "--ipadd %s: outside the pool %s (bridge mode takes the "
                                     "pool's addresses only; routed mode takes any)",
                                     text, pool_text);
        if (is_used(used, n, a))
                return vs_error_kind(err, VS_E_STATE, EADDRINUSE,
                                     "--ipadd %s: address already in use by another VPS", text);
        return 0;
}

char *vsd_net_assign(struct vsd *d, char *const *given, size_t ngiven, vs_error_t *err)
{
        const vs_net_conf_t *conf = vs_net_conf(d->net);
        const vs_pool4_t *pool = &conf->pool4;
        size_t n;
        cleanup_free uint32_t *used = used_addrs(d, NULL, &n);
        cleanup_free char *text = vs_xstrdup("");
        char buf[24];
        vs_ip4_t ip;

        if (ngiven > VS_NET_ADDRS_MAX) {
                vs_error_kind(err, VS_E_USAGE, E2BIG, "more than %d --ipadd", VS_NET_ADDRS_MAX);
                return NULL;
        }
        /* "--ipadd none": no network but its loopback (an empty ip key) */
        if (ngiven >= 1 && strcmp(given[0], "none") == 0) {
                if (ngiven > 1) {
                        vs_error_kind(err, VS_E_USAGE, EINVAL,
                                      "--ipadd none cannot go with addresses");
                        return NULL;
                }
                return vs_xstrdup("");
        }
        used = realloc(used, (n + ngiven + 1) * sizeof(*used));
        if (!used)
                abort();
        for (size_t i = 0; i < ngiven; i++) {
                char *more;

                if (check_given(conf, given[i], used, n, &ip, err) < 0)
                        return NULL;
                used[n++] = ip.addr; /* twice in one create is refused too */
                vs_ip4_format(&ip, 1, buf, sizeof(buf));
                more = vs_strdupf("%s%s%s", text, *text ? " " : "", buf);
                free(text);
                text = more;
        }
        if (ngiven)
                return steal_ptr(text);
        ip.prefix = pool->net.prefix;
        if (vs_pool4_next(pool, used, n, &ip.addr, err) < 0)
                return NULL;
        vs_ip4_format(&ip, 1, buf, sizeof(buf));
        return vs_xstrdup(buf);
}

/* ---- nftables: a VPS's guard and forwards ---- */

/* A VPS's elements as netns/nft.c takes them. */
struct nft_spec {
        char ifname[VS_IFNAME_MAX];
        unsigned char mac[6];
        char text[VS_NET_ADDRS_MAX][24];
        const char *addrs[VS_NET_ADDRS_MAX];
        struct vs_nft_vps vps;
};

static void nft_spec_fill(struct nft_spec *s, const char *name, const vs_ip4_t *addrs,
                          size_t naddrs, const vs_portfwd_t *fwds, size_t nfwds)
{
        vs_net_host_ifname(name, s->ifname);
        vs_net_guest_mac(name, s->mac);
        for (size_t i = 0; i < naddrs; i++) {
                vs_ip4_format(&addrs[i], 0, s->text[i], sizeof(s->text[i]));
                s->addrs[i] = s->text[i];
        }
        s->vps = (struct vs_nft_vps){
                .ifname = s->ifname,
                .mac = s->mac,
                .addrs = s->addrs,
                .naddrs = naddrs,
                .fwds = fwds,
                .nfwds = nfwds,
        };
}

static int nft_install(vs_nft_t *nft, const char *name, const vs_ip4_t *addrs, size_t naddrs,
                       const vs_portfwd_t *fwds, size_t nfwds, vs_error_t *err)
{
        struct nft_spec spec;

        nft_spec_fill(&spec, name, addrs, naddrs, fwds, nfwds);
        return vs_nft_vps_update(nft, &spec.vps, err);
}

/* A config's addresses and forwards. */
static int config_net(const vs_kv_t *config, vs_ip4_t *addrs, size_t *naddrs, vs_portfwd_t *fwds,
                      size_t *nfwds, vs_error_t *err)
{
        if (vsd_net_parse_ips(vs_kv_get(config, "ip"), addrs, naddrs, err) < 0)
                return vs_error_wrap(err, "config: ip");
        if (vs_portfwd_parse_list(vs_kv_get(config, "port_forward"), fwds, VS_PORTFWD_MAX, nfwds,
                                  err) < 0)
                return vs_error_wrap(err, "config: port_forward");
        return 0;
}

int vsd_net_firewall(struct vsd *d, vs_error_t *err)
{
        size_t n = 0, cap = 0;
        struct nft_spec *specs = NULL;
        struct vs_nft_vps *list = NULL;
        vs_portfwd_t *fwds = NULL;
        int rc;

        /* with an uplink vsd's namespace is the VPS's router, for their
         * traffic out and for port forwards in */
        if (*vs_net_conf(d->net)->uplink &&
            vs_write_string(AT_FDCWD, "/proc/sys/net/ipv4/ip_forward", "1", err) < 0)
                return vs_error_wrap(err, "uplink: enable forwarding");
        for (struct vps *v = d->vps_list; v; v = v->next)
                if (v->phase != PHASE_STOPPED && v->ifname[0])
                        cap++;
        specs = vs_xmalloc((cap + 1) * sizeof(*specs));
        list = vs_xmalloc((cap + 1) * sizeof(*list));
        fwds = vs_xmalloc((cap + 1) * VS_PORTFWD_MAX * sizeof(*fwds));
        for (struct vps *v = d->vps_list; v && n < cap; v = v->next) {
                cleanup_free char *path = vs_strdupf("%s/config", v->name);
                cleanup_kv vs_kv_t config = { 0 };
                vs_ip4_t addrs[VS_NET_ADDRS_MAX];
                size_t naddrs, nfwds;
                vs_error_t why = { 0 };

                if (v->phase == PHASE_STOPPED || !v->ifname[0])
                        continue;
                if (vs_kv_load(d->vps_fd, path, &config, &why) < 0 ||
                    config_net(&config, addrs, &naddrs, fwds + n * VS_PORTFWD_MAX, &nfwds, &why) <
                            0) {
                        /* fail closed: its interface sends nothing */
                        vs_log(LOG_WARNING, "%s: no firewall elements: %s", v->name, why.msg);
                        continue;
                }
                nft_spec_fill(&specs[n], v->name, addrs, naddrs, fwds + n * VS_PORTFWD_MAX, nfwds);
                list[n] = specs[n].vps;
                n++;
        }
        rc = vs_nft_open(vs_net_conf(d->net), list, n, &d->nft, err);
        free(specs);
        free(list);
        free(fwds);
        if (rc < 0)
                return vs_error_wrap(err, "firewall");
        return 0;
}

/* Host ports of every VPS but `skip` that clash with fwds[0..n). */
static int forwards_clash(struct vsd *d, const char *skip, const vs_portfwd_t *fwds, size_t n,
                          vs_error_t *err)
{
        if (n == 0)
                return 0;
        for (struct vps *v = d->vps_list; v; v = v->next) {
                cleanup_free char *path = vs_strdupf("%s/config", v->name);
                cleanup_kv vs_kv_t config = { 0 };
                vs_portfwd_t theirs[VS_PORTFWD_MAX];
                size_t k;

                if ((skip && strcmp(v->name, skip) == 0) ||
                    vs_kv_load(d->vps_fd, path, &config, NULL) < 0 ||
                    vs_portfwd_parse_list(vs_kv_get(&config, "port_forward"), theirs,
                                          VS_PORTFWD_MAX, &k, NULL) < 0)
                        continue;
                for (size_t i = 0; i < n; i++)
                        for (size_t j = 0; j < k; j++)
                                if (fwds[i].host_port == theirs[j].host_port &&
                                    fwds[i].proto == theirs[j].proto)
                                        return vs_error_kind(
                                                err, VS_E_STATE, EADDRINUSE,
                                                "--port-forward: host port %u/%s is in use by "
                                                "VPS %s",
                                                fwds[i].host_port, vs_l4_name(fwds[i].proto),
                                                v->name);
        }
        return 0;
}

char *vsd_net_forwards_plan(struct vsd *d, struct vps *v, char *const *add, char *const *del,
                            vs_error_t *err)
{
        cleanup_free char *path = v ? vs_strdupf("%s/config", v->name) : NULL;
        cleanup_kv vs_kv_t config = { 0 };
        vs_portfwd_t fwds[VS_PORTFWD_MAX], f;
        size_t n = 0, first_new;

        if (v && (vs_kv_load(d->vps_fd, path, &config, err) < 0 ||
                  vs_portfwd_parse_list(vs_kv_get(&config, "port_forward"), fwds, VS_PORTFWD_MAX,
                                        &n, err) < 0))
                return NULL;
        for (char *const *p = del; p && *p; p++) {
                size_t kept = 0;

                if (vs_portfwd_parse_del(*p, &f, err) < 0)
                        return NULL;
                for (size_t i = 0; i < n; i++)
                        if (!vs_portfwd_matches_del(&fwds[i], &f))
                                fwds[kept++] = fwds[i];
                if (kept == n && f.host_port) {
                        vs_error_kind(err, VS_E_NOTFOUND, ENOENT,
                                      "--port-forward-del %s: no such port forward", *p);
                        return NULL;
                }
                n = kept;
        }
        first_new = n;
        for (char *const *p = add; p && *p; p++) {
                if (vs_portfwd_parse(*p, &f, err) < 0)
                        return NULL;
                for (size_t i = 0; i < n; i++)
                        if (fwds[i].host_port == f.host_port && fwds[i].proto == f.proto) {
                                vs_error_kind(err, VS_E_STATE, EADDRINUSE,
                                              "--port-forward %s: host port %u/%s is already "
                                              "forwarded to port %u",
                                              *p, f.host_port, vs_l4_name(f.proto),
                                              fwds[i].vps_port);
                                return NULL;
                        }
                if (n == VS_PORTFWD_MAX) {
                        vs_error_kind(err, VS_E_USAGE, E2BIG, "more than %d port forwards",
                                      VS_PORTFWD_MAX);
                        return NULL;
                }
                fwds[n++] = f;
        }
        if (n > first_new && v) {
                vs_ip4_t addrs[VS_NET_ADDRS_MAX];
                size_t naddrs = 0;

                if (vsd_net_parse_ips(vs_kv_get(&config, "ip"), addrs, &naddrs, err) < 0)
                        return NULL;
                if (naddrs == 0) {
                        vs_error_kind(err, VS_E_STATE, EADDRNOTAVAIL,
                                      "--port-forward: the VPS has no IPv4 address");
                        return NULL;
                }
        }
        if (forwards_clash(d, v ? v->name : NULL, fwds + first_new, n - first_new, err) < 0)
                return NULL;
        return vs_portfwd_format_list(fwds, n);
}

int vsd_net_forwards_apply(struct vsd *d, struct vps *v, const char *value, vs_error_t *err)
{
        cleanup_free char *path = vs_strdupf("%s/config", v->name);
        cleanup_kv vs_kv_t config = { 0 };
        vs_ip4_t addrs[VS_NET_ADDRS_MAX];
        vs_portfwd_t fwds[VS_PORTFWD_MAX], old[VS_PORTFWD_MAX];
        size_t naddrs, nfwds, nold;
        int live = v->phase != PHASE_STOPPED && v->ifname[0];

        if (vs_kv_load(d->vps_fd, path, &config, err) < 0 ||
            config_net(&config, addrs, &naddrs, old, &nold, err) < 0 ||
            vs_portfwd_parse_list(value, fwds, VS_PORTFWD_MAX, &nfwds, err) < 0)
                return -1;
        if (live && nft_install(d->nft, v->name, addrs, naddrs, fwds, nfwds, err) < 0)
                return vs_error_wrap(err, "port forwards");
        vs_kv_set(&config, "port_forward", *value ? value : NULL);
        if (vs_kv_save(d->vps_fd, path, &config, 1, err) < 0) {
                if (live)
                        nft_install(d->nft, v->name, addrs, naddrs, old, nold, NULL);
                return -1;
        }
        return 0;
}

int vsd_net_refresh(struct vsd *d, struct vps *v, vs_error_t *err)
{
        cleanup_free char *path = vs_strdupf("%s/config", v->name);
        cleanup_kv vs_kv_t config = { 0 };
        vs_ip4_t addrs[VS_NET_ADDRS_MAX];
        vs_portfwd_t fwds[VS_PORTFWD_MAX];
        size_t naddrs, nfwds;

        if (v->phase == PHASE_STOPPED || !v->ifname[0])
                return 0;
        if (vs_kv_load(d->vps_fd, path, &config, err) < 0 ||
            config_net(&config, addrs, &naddrs, fwds, &nfwds, err) < 0)
                return -1;
        return nft_install(d->nft, v->name, addrs, naddrs, fwds, nfwds, err);
}

void vsd_net_describe(const vs_kv_t *config, json_object *obj)
{
        vs_portfwd_t fwds[VS_PORTFWD_MAX];
        json_object *array = json_object_new_array();
        size_t n = 0;

        if (vs_portfwd_parse_list(vs_kv_get(config, "port_forward"), fwds, VS_PORTFWD_MAX, &n,
                                  NULL) < 0)
                n = 0;
        for (size_t i = 0; i < n; i++) {
                char text[VS_PORTFWD_TEXT];

                vs_portfwd_format(&fwds[i], text, sizeof(text));
                json_object_array_add(array, json_object_new_string(text));
        }
        json_object_object_add(obj, "port_forward", array);
}

/* ---- start and stop ---- */

/* The VPS's upper layer through the new child's root: after vsd attached a
 * disk image there, the layer exists only in the child's mount namespace. */
static int open_upper_in(const struct vsd_net_start *start, pid_t pid, vs_error_t *err)
{
        cleanup_free char *path = vs_strdupf("/proc/%d/root%s", (int)pid, start->upper);
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return vs_error_errno(err, "open the VPS's upper layer");
        return fd;
}

/* Called by spawn before the child's go: the /etc files first (the init
 * reads them), then the veth. */
static int net_hook(void *arg, pid_t pid, vs_error_t *err)
{
        struct vsd_net_start *start = arg;
        cleanup_close int upper_fd = open_upper_in(start, pid, err);
        struct vs_net_vps spec = {
                .name = start->name,
                .addrs = start->addrs,
                .naddrs = start->naddrs,
        };

        if (upper_fd < 0 || vs_net_write_etc(upper_fd, start->root_id, (gid_t)start->root_id,
                                             start->hostname, start->addrs, start->naddrs,
                                             *start->nameserver ? start->nameserver : NULL,
                                             &start->created, err) < 0)
                return vs_error_wrap(err, "network files");
        if (vs_net_vps_setup(start->net, &spec, pid, err) < 0)
                return -1;
        /* the VPS runs nothing before its go: its guard is in place first */
        if (nft_install(start->nft, start->name, start->addrs, start->naddrs, start->fwds,
                        start->nfwds, err) < 0)
                return vs_error_wrap(err, "network");
        return 0;
}

/* On the host the layer is reachable only on the dir backend: what a failed
 * start wrote into a disk image stays, and the next start writes it again. */
static int open_upper(struct vsd *d, struct vps *v, vs_error_t *err)
{
        cleanup_free char *path = vs_strdupf("%s/upper", v->name);
        int fd = openat(d->vps_fd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        if (fd < 0)
                return vs_error_errno(err, "open the VPS's upper layer");
        return fd;
}

void vsd_net_abort(struct vsd *d, struct vps *v, const struct vsd_net_start *start)
{
        cleanup_close int upper_fd = -1;

        if (!start->hook)
                return;
        vsd_net_stopped(d, v);
        upper_fd = open_upper(d, v, NULL);
        if (upper_fd >= 0)
                vs_net_undo_etc(upper_fd, start->created);
}

int vsd_net_prepare(struct vsd *d, struct vps *v, const vs_kv_t *config,
                    struct vsd_net_start *start, vs_error_t *err)
{
        const char *hostname, *nameserver = vs_kv_get(config, "nameserver");

        memset(start, 0, sizeof(*start));
        start->net = d->net;
        start->nft = d->nft;
        start->name = v->name;
        if (config_net(config, start->addrs, &start->naddrs, start->fwds, &start->nfwds, err) < 0)
                return -1;
        if (start->naddrs == 0)
                return 0; /* no address: loopback only */
        /* a config edited by hand may name another VPS's host port */
        if (forwards_clash(d, v->name, start->fwds, start->nfwds, err) < 0)
                return -1;
        hostname = vs_kv_get(config, "hostname");
        vs_strlcpy(start->hostname, hostname && *hostname ? hostname : v->name,
                   sizeof(start->hostname));
        vs_strlcpy(start->nameserver, nameserver ? nameserver : "", sizeof(start->nameserver));
        snprintf(start->upper, sizeof(start->upper), "%s/%s/%s/upper", d->vps_dir, v->name,
                 vsd_disk_backend_of(config)->layers);
        start->root_id = v->idmap.enabled ? (uid_t)v->idmap.base : 0;
        start->hook = net_hook;
        return 0;
}

void vsd_net_stopped(struct vsd *d, struct vps *v)
{
        vs_error_t err = { 0 };
        char ifname[VS_IFNAME_MAX];

        vs_net_host_ifname(v->name, ifname);
        if (d->nft && vs_nft_vps_remove(d->nft, ifname, &err) < 0)
                vs_log(LOG_WARNING, "%s: %s", v->name, err.msg);

        if (vs_net_vps_teardown(d->net, v->name, &err) < 0)
                vs_log(LOG_WARNING, "%s: %s", v->name, err.msg);
}

static int keep_running(const char *ifname, void *arg)
{
        struct vsd *d = arg;
        char mine[VS_IFNAME_MAX];

        for (struct vps *v = d->vps_list; v; v = v->next) {
                if (v->phase == PHASE_STOPPED)
                        continue;
                vs_net_host_ifname(v->name, mine);
                if (strcmp(mine, ifname) == 0)
                        return 1;
        }
        return 0;
}

void vsd_net_sweep(struct vsd *d)
{
        vs_error_t err = { 0 };
        int n = vs_net_sweep(d->net, keep_running, d, &err);

        if (n < 0)
                vs_log(LOG_WARNING, "sweep veths: %s", err.msg);
        else if (n > 0)
                vs_log(LOG_NOTICE, "deleted %d veth(s) of VPS that are not running", n);
}
