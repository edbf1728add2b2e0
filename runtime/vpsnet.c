/* A VPS's network as the lifecycle sees it: addresses assigned at create
 * and kept in the VPS's config ("ip = 10.77.0.2/16 ..."), so that they
 * survive restarts of vsd and go with the config on destroy; the veth made
 * at start and deleted at stop; bandwidth caps (rate_out, rate_in in the
 * config, in bit/s) applied at start and changed live; leftovers swept when
 * vsd starts. */
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
#include "vs/protocol.h"
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

/* ---- bandwidth caps ---- */

/* A cap in a config (or state) file: absent or empty is none. */
static int config_rate(const vs_kv_t *kv, const char *key, uint64_t *bits, vs_error_t *err)
{
        const char *text = vs_kv_get(kv, key);

        *bits = 0;
        if (!text || !*text)
                return 0;
        if (vs_rate_parse(text, key, bits, err) < 0)
                return vs_error_wrap(err, "config");
        return 0;
}

int vsd_net_rates_arg(json_object *args, struct vsd_rates *r, vs_error_t *err)
{
        const char *out = vs_json_str(args, "rate_out");
        const char *in = vs_json_str(args, "rate_in");

        memset(r, 0, sizeof(*r));
        if (out && vs_rate_parse(out, "--rate-out", &r->out, err) < 0)
                return -1;
        if (in && vs_rate_parse(in, "--rate-in", &r->in, err) < 0)
                return -1;
        r->set_out = out != NULL;
        r->set_in = in != NULL;
        return 0;
}

static void rate_to_config(vs_kv_t *config, const char *key, int set, uint64_t bits)
{
        if (!set)
                return;
        if (bits)
                vs_kv_setf(config, key, "%llu", (unsigned long long)bits);
        else
                vs_kv_set(config, key, NULL);
}

void vsd_net_rates_to_config(const struct vsd_rates *r, vs_kv_t *config)
{
        rate_to_config(config, "rate_out", r->set_out, r->out);
        rate_to_config(config, "rate_in", r->set_in, r->in);
}

int vsd_net_rates_check(struct vsd *d, struct vps *v, const struct vsd_rates *r, int save,
                        vs_error_t *err)
{
        cleanup_free char *path = vs_strdupf("%s/config", v->name);
        cleanup_kv vs_kv_t config = { 0 };
        const char *ip;

        if (!r->set_out && !r->set_in)
                return 0;
        if (!save && v->phase == PHASE_STOPPED)
                return vs_error_kind(err, VS_E_STATE, ESRCH,
                                     "VPS is not running (with --no-save nothing would change)");
        if (vs_kv_load(d->vps_fd, path, &config, err) < 0)
                return -1;
        ip = vs_kv_get(&config, "ip");
        if (!ip || !*ip)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "the VPS has no network (--ipadd none): no traffic to cap");
        return 0;
}

int vsd_net_set_rates(struct vsd *d, struct vps *v, const struct vsd_rates *r, int save,
                      vs_error_t *err)
{
        cleanup_free char *path = vs_strdupf("%s/config", v->name);
        cleanup_kv vs_kv_t config = { 0 };

        if (vsd_net_rates_check(d, v, r, save, err) < 0)
                return -1;
        if (!r->set_out && !r->set_in)
                return 0;
        if (v->phase != PHASE_STOPPED && v->ifname[0]) {
                /* all or nothing: what the kernel refuses half way is put
                 * back to the caps in force before */
                if (r->set_out && vs_net_vps_rate(d->net, v->name, VS_RATE_OUT, r->out, err) < 0) {
                        vs_net_vps_rate(d->net, v->name, VS_RATE_OUT, v->rate_out, NULL);
                        return -1;
                }
                if (r->set_in && vs_net_vps_rate(d->net, v->name, VS_RATE_IN, r->in, err) < 0) {
                        vs_net_vps_rate(d->net, v->name, VS_RATE_IN, v->rate_in, NULL);
                        if (r->set_out)
                                vs_net_vps_rate(d->net, v->name, VS_RATE_OUT, v->rate_out, NULL);
                        return -1;
                }
                if (r->set_out)
                        v->rate_out = r->out;
                if (r->set_in)
                        v->rate_in = r->in;
                /* a vsd restarted later applies them again (vsd_net_adopted) */
                if (vsd_vps_save_state(d, v, err) < 0)
                        return -1;
        }
        if (!save)
                return 0;
        if (vs_kv_load(d->vps_fd, path, &config, err) < 0)
                return -1;
        vsd_net_rates_to_config(r, &config);
        return vs_kv_save(d->vps_fd, path, &config, 1, err);
}

void vsd_net_state_save(const struct vps *v, vs_kv_t *state)
{
        if (v->rate_out)
                vs_kv_setf(state, "rate_out", "%llu", (unsigned long long)v->rate_out);
        if (v->rate_in)
                vs_kv_setf(state, "rate_in", "%llu", (unsigned long long)v->rate_in);
}

/* The config's cap where it names one (an admin may have edited it while
 * vsd was away), else the state's (a set --no-save). */
static uint64_t adopted_rate(const vs_kv_t *config, const vs_kv_t *state, const char *key)
{
        uint64_t bits = 0;

        if (vs_kv_get(config, key) && config_rate(config, key, &bits, NULL) == 0)
                return bits;
        if (config_rate(state, key, &bits, NULL) == 0)
                return bits;
        return 0;
}

/* Applying every cap again, also "none", makes the kernel what vsd says:
 * what a vsd that crashed half way through a change left is completed or
 * removed. */
void vsd_net_adopted(struct vsd *d, struct vps *v, const vs_kv_t *state)
{
        cleanup_free char *path = vs_strdupf("%s/config", v->name);
        cleanup_kv vs_kv_t config = { 0 };
        vs_error_t err = { 0 };

        v->rate_out = v->rate_in = 0;
        if (!v->ifname[0] || vs_kv_load(d->vps_fd, path, &config, NULL) < 0)
                return;
        v->rate_out = adopted_rate(&config, state, "rate_out");
        v->rate_in = adopted_rate(&config, state, "rate_in");
        if (vs_net_vps_rate(d->net, v->name, VS_RATE_OUT, v->rate_out, &err) < 0 ||
            vs_net_vps_rate(d->net, v->name, VS_RATE_IN, v->rate_in, &err) < 0)
                vs_log(LOG_WARNING, "%s: %s", v->name, err.msg);
}

void vsd_net_describe(struct vsd *d, struct vps *v, const vs_kv_t *config, json_object *obj)
{
        uint64_t out = 0, in = 0;

        (void)d;
        if (v->phase != PHASE_STOPPED) {
                out = v->ifname[0] ? v->rate_out : 0;
                in = v->ifname[0] ? v->rate_in : 0;
        } else if (vs_kv_get(config, "ip") && *vs_kv_get(config, "ip")) {
                config_rate(config, "rate_out", &out, NULL);
                config_rate(config, "rate_in", &in, NULL);
        }
        json_object_object_add(obj, "rate_out", json_object_new_int64((int64_t)out));
        json_object_object_add(obj, "rate_in", json_object_new_int64((int64_t)in));
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
        /* the caps hold before the init runs; a failure here fails the
         * start, whose abort deletes the veth and the ifb */
        if ((start->rate_out &&
             vs_net_vps_rate(start->net, start->name, VS_RATE_OUT, start->rate_out, err) < 0) ||
            (start->rate_in &&
             vs_net_vps_rate(start->net, start->name, VS_RATE_IN, start->rate_in, err) < 0))
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
        start->name = v->name;
        v->rate_out = v->rate_in = 0;
        if (vsd_net_parse_ips(vs_kv_get(config, "ip"), start->addrs, &start->naddrs, err) < 0)
                return vs_error_wrap(err, "config: ip");
        if (start->naddrs == 0)
                return 0; /* no address: loopback only */
        if (config_rate(config, "rate_out", &start->rate_out, err) < 0 ||
            config_rate(config, "rate_in", &start->rate_in, err) < 0)
                return -1;
        /* what the state file records once the start succeeded */
        v->rate_out = start->rate_out;
        v->rate_in = start->rate_in;
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

/* An ifb stays while its VPS runs with a cap out (vsd_net_adopted has
 * applied it again, or deleted the ifb). */
static int keep_capped(const char *ifname, void *arg)
{
        struct vsd *d = arg;
        char mine[VS_IFNAME_MAX];

        for (struct vps *v = d->vps_list; v; v = v->next) {
                if (v->phase == PHASE_STOPPED || !v->rate_out)
                        continue;
                vs_net_ifb_ifname(v->name, mine);
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
        n = vs_net_sweep_ifbs(d->net, keep_capped, d, &err);
        if (n < 0)
                vs_log(LOG_WARNING, "sweep ifbs: %s", err.msg);
        else if (n > 0)
                vs_log(LOG_NOTICE, "deleted %d ifb(s) of VPS that are not running", n);
}
