/* A VPS's network as the lifecycle sees it: addresses assigned at create
 * and kept in the VPS's config ("ip = 10.77.0.2/16 ..."), so that they
 * survive restarts of vsd and go with the config on destroy; the veth made
 * at start and deleted at stop; bandwidth caps (rate_out, rate_in in the
 * config, in bit/s) applied at start and changed live; leftovers swept when
 * vsd starts. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/kvfile.h"
#include "vs/log.h"
#include "vs/netns.h"
#include "store.h"
#include "vsd.h"

int vsd_net_init(struct vsd *d, vs_error_t *err)
{
        cleanup_free char *path = vsd_conf_path(d);
        vs_net_conf_t conf;

        if (vs_net_conf_load(AT_FDCWD, path, &conf, err) < 0)
                return -1;
        if (vs_net_open(&conf, &d->net, err) < 0)
                return vs_error_wrap(err, "network");
        return 0;
}

/* Every address held by the VPS of this root but `skip` (from the configs
 * vsd keeps, store.h), and by those a worker is making. */
static void used_addrs(struct vsd *d, const char *skip, struct vsd_used_addrs *u)
{
        memset(u, 0, sizeof(*u));
        for (struct vps *v = d->vps_list; v; v = v->next)
                if (!skip || strcmp(v->name, skip) != 0)
                        vsd_vps_addrs(d, v, u);
        /* and those of VPS a worker is making */
        for (struct vsd_work *w = d->works; w; w = w->next) {
                struct vsd_net_addrs addrs;

                if (!w->reserved_ip || vsd_net_parse_ips(w->reserved_ip, &addrs, NULL) < 0)
                        continue;
                for (size_t i = 0; i < addrs.n4; i++)
                        vsd_used_add4(u, addrs.v4[i].addr);
                for (size_t i = 0; i < addrs.n6; i++)
                        vsd_used_add6(u, &addrs.v6[i]);
        }
}

/* How many VPS of this root, and VPS a worker is making, have a network. */
static size_t networked_vps(struct vsd *d)
{
        size_t n = 0;

        for (struct vps *v = d->vps_list; v; v = v->next) {
                const char *ip = vs_kv_get(vsd_vps_config_kept(d, v), "ip");

                n += ip && ip[strspn(ip, " ")] != '\0';
        }
        for (struct vsd_work *w = d->works; w; w = w->next)
                n += w->reserved_ip && w->reserved_ip[0] != '\0';
        return n;
}

char *vsd_net_assign(struct vsd *d, char *const *given, size_t ngiven, vs_error_t *err)
{
        cleanup_used_addrs struct vsd_used_addrs used = { 0 };
        const vs_net_conf_t *conf = vs_net_conf(d->net);
        char *ip;

        used_addrs(d, NULL, &used);
        ip = vsd_net_pick(conf, &used, given, ngiven, err);
        /* a bridge takes VS_NET_BRIDGE_PORTS ports (the kernel's most): one
         * VPS more would be made, and then could not start */
        if (ip && *ip && conf->mode == VS_NET_BRIDGE && networked_vps(d) >= VS_NET_BRIDGE_PORTS) {
                free(ip);
                vs_error_kind(err, VS_E_STATE, ENOSPC,
                              "bridge %s is full: %d VPS with a network are the most one bridge "
                              "takes; use network_mode = routed in vsd.conf, or --ipadd none",
                              conf->bridge, VS_NET_BRIDGE_PORTS);
                return NULL;
        }
        return ip;
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
        cleanup_kv vs_kv_t config = { 0 };
        const char *ip;

        if (!r->set_out && !r->set_in)
                return 0;
        if (!save && v->phase == PHASE_STOPPED)
                return vs_error_kind(err, VS_E_STATE, ESRCH,
                                     "VPS is not running (with --no-save nothing would change)");
        if (vsd_config_load(d, v->name, &config, err) < 0)
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
        cleanup_kv vs_kv_t config = { 0 };

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
                if (d->hooks.save_state(d, v, err) < 0)
                        return -1;
        }
        if (!save)
                return 0;
        if (vsd_config_load(d, v->name, &config, err) < 0)
                return -1;
        vsd_net_rates_to_config(r, &config);
        return vsd_config_save(d, v->name, &config, err);
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
        cleanup_kv vs_kv_t config = { 0 };
        vs_error_t err = { 0 };

        v->rate_out = v->rate_in = 0;
        if (!v->ifname[0] || vsd_config_load(d, v->name, &config, NULL) < 0)
                return;
        v->rate_out = adopted_rate(&config, state, "rate_out");
        v->rate_in = adopted_rate(&config, state, "rate_in");
        if (vs_net_vps_rate(d->net, v->name, VS_RATE_OUT, v->rate_out, &err) < 0 ||
            vs_net_vps_rate(d->net, v->name, VS_RATE_IN, v->rate_in, &err) < 0)
                vs_log(LOG_WARNING, "%s: %s", v->name, err.msg);
}

static void describe_rates(const struct vps *v, const vs_kv_t *config, vs_vps_info_t *info)
{
        uint64_t out = 0, in = 0;

        if (v->phase != PHASE_STOPPED) {
                out = v->ifname[0] ? v->rate_out : 0;
                in = v->ifname[0] ? v->rate_in : 0;
        } else if (vs_kv_get(config, "ip") && *vs_kv_get(config, "ip")) {
                config_rate(config, "rate_out", &out, NULL);
                config_rate(config, "rate_in", &in, NULL);
        }
        vs_vps_info_int(info, VS_VF_RATE_OUT, (long long)out);
        vs_vps_info_int(info, VS_VF_RATE_IN, (long long)in);
}

/* ---- nftables: a VPS's guard and forwards ---- */

/* A VPS's elements as netns/nft.c takes them. */
struct nft_spec {
        char ifname[VS_IFNAME_MAX];
        unsigned char mac[6];
        char text[2 * VS_NET_ADDRS_MAX][64];
        const char *addrs[2 * VS_NET_ADDRS_MAX];
        struct vs_nft_vps vps;
};

/* IPv4 first: forwards go to the first IPv4 address. */
static void nft_spec_fill(struct nft_spec *s, const char *name, const struct vsd_net_addrs *addrs,
                          const vs_portfwd_t *fwds, size_t nfwds)
{
        size_t n = 0;

        vs_net_host_ifname(name, s->ifname);
        vs_net_guest_mac(name, s->mac);
        for (size_t i = 0; i < addrs->n4; i++, n++)
                vs_ip4_format(&addrs->v4[i], 0, s->text[n], sizeof(s->text[n]));
        for (size_t i = 0; i < addrs->n6; i++, n++)
                vs_ip6_format(&addrs->v6[i], 0, s->text[n], sizeof(s->text[n]));
        for (size_t i = 0; i < n; i++)
                s->addrs[i] = s->text[i];
        s->vps = (struct vs_nft_vps){
                .ifname = s->ifname,
                .mac = s->mac,
                .addrs = s->addrs,
                .naddrs = n,
                .fwds = fwds,
                .nfwds = nfwds,
        };
}

static int nft_install(vs_nft_t *nft, const char *name, const struct vsd_net_addrs *addrs,
                       const vs_portfwd_t *fwds, size_t nfwds, vs_error_t *err)
{
        struct nft_spec spec;

        nft_spec_fill(&spec, name, addrs, fwds, nfwds);
        return vs_nft_vps_update(nft, &spec.vps, err);
}

/* A config's addresses and forwards. */
static int config_net(const vs_kv_t *config, struct vsd_net_addrs *addrs, vs_portfwd_t *fwds,
                      size_t *nfwds, vs_error_t *err)
{
        if (vsd_net_parse_ips(vs_kv_get(config, "ip"), addrs, err) < 0)
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
                cleanup_kv vs_kv_t config = { 0 };
                struct vsd_net_addrs addrs;
                size_t nfwds;
                vs_error_t why = { 0 };

                if (v->phase == PHASE_STOPPED || !v->ifname[0])
                        continue;
                if (vsd_config_load(d, v->name, &config, &why) < 0 ||
                    config_net(&config, &addrs, fwds + n * VS_PORTFWD_MAX, &nfwds, &why) < 0) {
                        /* fail closed: its interface sends nothing */
                        vs_log(LOG_WARNING, "%s: no firewall elements: %s", v->name, why.msg);
                        continue;
                }
                nft_spec_fill(&specs[n], v->name, &addrs, fwds + n * VS_PORTFWD_MAX, nfwds);
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

/* Host ports of every VPS but `skip` that clash with fwds[0..n), from the
 * forwards vsd keeps of each (store.h): no other VPS's config is read. */
static int forwards_clash(struct vsd *d, const char *skip, const vs_portfwd_t *fwds, size_t n,
                          vs_error_t *err)
{
        if (n == 0)
                return 0;
        for (struct vps *v = d->vps_list; v; v = v->next) {
                const vs_portfwd_t *theirs;
                size_t k;

                if (skip && strcmp(v->name, skip) == 0)
                        continue;
                k = vsd_vps_forwards(d, v, &theirs);
                if (k && vsd_net_forwards_clash(fwds, n, theirs, k, v->name, err) < 0)
                        return -1;
        }
        return 0;
}

int vsd_net_forwards_free(struct vsd *d, const vs_kv_t *config, vs_error_t *err)
{
        vs_portfwd_t fwds[VS_PORTFWD_MAX];
        size_t n = 0;

        if (vs_portfwd_parse_list(vs_kv_get(config, "port_forward"), fwds, VS_PORTFWD_MAX, &n,
                                  err) < 0)
                return vs_error_wrap(err, "config: port_forward");
        return forwards_clash(d, NULL, fwds, n, err);
}

char *vsd_net_forwards_plan(struct vsd *d, struct vps *v, char *const *add, char *const *del,
                            vs_error_t *err)
{
        cleanup_kv vs_kv_t config = { 0 };
        vs_portfwd_t fwds[VS_PORTFWD_MAX];
        size_t n = 0, first_new;

        if (v && (vsd_config_load(d, v->name, &config, err) < 0 ||
                  vs_portfwd_parse_list(vs_kv_get(&config, "port_forward"), fwds, VS_PORTFWD_MAX,
                                        &n, err) < 0))
                return NULL;
        if (vsd_net_forwards_edit(fwds, &n, add, del, &first_new, err) < 0)
                return NULL;
        if (n > first_new && v) {
                struct vsd_net_addrs addrs;

                if (vsd_net_parse_ips(vs_kv_get(&config, "ip"), &addrs, err) < 0)
                        return NULL;
                if (addrs.n4 == 0) {
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
        cleanup_kv vs_kv_t config = { 0 };
        struct vsd_net_addrs addrs;
        vs_portfwd_t fwds[VS_PORTFWD_MAX], old[VS_PORTFWD_MAX];
        size_t nfwds, nold;
        int live = v->phase != PHASE_STOPPED && v->ifname[0];

        if (vsd_config_load(d, v->name, &config, err) < 0 ||
            config_net(&config, &addrs, old, &nold, err) < 0 ||
            vs_portfwd_parse_list(value, fwds, VS_PORTFWD_MAX, &nfwds, err) < 0)
                return -1;
        if (live && nft_install(d->nft, v->name, &addrs, fwds, nfwds, err) < 0)
                return vs_error_wrap(err, "port forwards");
        vs_kv_set(&config, "port_forward", *value ? value : NULL);
        if (vsd_config_save(d, v->name, &config, err) < 0) {
                if (live)
                        nft_install(d->nft, v->name, &addrs, old, nold, NULL);
                return -1;
        }
        return 0;
}

int vsd_net_refresh(struct vsd *d, struct vps *v, vs_error_t *err)
{
        cleanup_kv vs_kv_t config = { 0 };
        struct vsd_net_addrs addrs;
        vs_portfwd_t fwds[VS_PORTFWD_MAX];
        size_t nfwds;

        if (v->phase == PHASE_STOPPED || !v->ifname[0])
                return 0;
        if (vsd_config_load(d, v->name, &config, err) < 0 ||
            config_net(&config, &addrs, fwds, &nfwds, err) < 0)
                return -1;
        return nft_install(d->nft, v->name, &addrs, fwds, nfwds, err);
}

static void describe_forwards(const vs_kv_t *config, vs_vps_info_t *info)
{
        vs_portfwd_t fwds[VS_PORTFWD_MAX];
        size_t n = 0;

        if (vs_portfwd_parse_list(vs_kv_get(config, "port_forward"), fwds, VS_PORTFWD_MAX, &n,
                                  NULL) < 0)
                n = 0;
        for (size_t i = 0; i < n; i++)
                vs_portfwd_format(&fwds[i], info->forwards[i], sizeof(info->forwards[i]));
        info->nforwards = n;
        info->has |= VS_VF_BIT(PORT_FORWARD);
}

void vsd_net_describe(struct vsd *d, struct vps *v, const vs_kv_t *config, vs_vps_info_t *info)
{
        (void)d;
        describe_rates(v, config, info);
        describe_forwards(config, info);
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

static struct vs_net_vps vps_spec(const char *name, const struct vsd_net_addrs *addrs)
{
        return (struct vs_net_vps){
                .name = name,
                .addrs = addrs->v4,
                .naddrs = addrs->n4,
                .addrs6 = addrs->v6,
                .naddrs6 = addrs->n6,
        };
}

static struct vs_net_etc etc_spec(const char *hostname, const struct vsd_net_addrs *addrs,
                                  const char *nameserver, const char *searchdomain)
{
        return (struct vs_net_etc){
                .hostname = hostname,
                .addrs = addrs->v4,
                .naddrs = addrs->n4,
                .addrs6 = addrs->v6,
                .naddrs6 = addrs->n6,
                .nameservers = nameserver,
                .searchdomains = searchdomain,
        };
}

/* Called by spawn before the child's go: the /etc files first (the init
 * reads them), then the veth. */
static int net_hook(void *arg, pid_t pid, vs_error_t *err)
{
        struct vsd_net_start *start = arg;
        cleanup_close int upper_fd = open_upper_in(start, pid, err);
        struct vs_net_vps spec = vps_spec(start->name, &start->addrs);
        struct vs_net_etc etc =
                etc_spec(start->hostname, &start->addrs, start->nameserver, start->searchdomain);

        if (upper_fd < 0 || vs_net_write_etc(upper_fd, start->root_id, (gid_t)start->root_id, &etc,
                                             &start->created, err) < 0)
                return vs_error_wrap(err, "network files");
        if (!vsd_net_has_link(start))
                return 0;
        if (vs_net_vps_setup(start->net, &spec, pid, err) < 0)
                return -1;
        /* the caps hold before the init runs; a failure here fails the
         * start, whose abort deletes the veth and the ifb. The VPS runs
         * nothing before its go: its guard is in place first too. */
        if ((start->rate_out &&
             vs_net_vps_rate(start->net, start->name, VS_RATE_OUT, start->rate_out, err) < 0) ||
            (start->rate_in &&
             vs_net_vps_rate(start->net, start->name, VS_RATE_IN, start->rate_in, err) < 0) ||
            nft_install(start->nft, start->name, &start->addrs, start->fwds, start->nfwds, err) < 0)
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
        if (vsd_net_has_link(start))
                vsd_net_stopped(d, v);
        upper_fd = open_upper(d, v, NULL);
        if (upper_fd >= 0)
                vs_net_undo_etc(upper_fd, start->created);
}

/* Whether VPS `theirs` has the interface name `ours_if` or `ours_ifb` of
 * VPS `name`: exit 4 naming it. */
static int clashes_with(const char *name, const char *ours_if, const char *ours_ifb,
                        const char *theirs, vs_error_t *err)
{
        char theirs_if[VS_IFNAME_MAX];
        const char *taken = ours_if;

        vs_net_host_ifname(theirs, theirs_if);
        if (strcmp(ours_if, theirs_if) != 0) {
                vs_net_ifb_ifname(theirs, theirs_if);
                if (strcmp(ours_ifb, theirs_if) != 0)
                        return 0;
                taken = ours_ifb;
        }
        return vs_error_kind(err, VS_E_STATE, EEXIST,
                             "name %s gives the interface name %s of VPS %s (names of 12 "
                             "characters or more are shortened): choose another name",
                             name, taken, theirs);
}

static int is_hex8(const char *s)
{
        return strspn(s, "0123456789abcdef") == 8 && s[8] == '\0';
}

/* A name whose interface names are shortened, or spell a shortened one: the
 * only ones that can clash (a shortened name has 15 characters), so that
 * only these are compared with every other VPS's. */
static int ifname_may_clash(const char *name)
{
        size_t len = strlen(name);

        /* 12 and more: the ifb name is shortened (the veth's from 13), or
         * it spells a shortened veth name ("xxx-" and 8 hex digits); 11: it
         * may spell a shortened ifb name ("xx-" and 8 hex digits) */
        return len >= 12 || (len == 11 && name[2] == '-' && is_hex8(name + 3));
}

int vsd_net_name_clash(struct vsd *d, const char *name, vs_error_t *err)
{
        char ours_if[VS_IFNAME_MAX], ours_ifb[VS_IFNAME_MAX];

        if (!ifname_may_clash(name))
                return 0;
        /* the new name's own, once */
        vs_net_host_ifname(name, ours_if);
        vs_net_ifb_ifname(name, ours_ifb);
        for (struct vps *v = d->vps_list; v; v = v->next)
                if (strcmp(v->name, name) != 0 &&
                    clashes_with(name, ours_if, ours_ifb, v->name, err) < 0)
                        return -1;
        return 0;
}

int vsd_net_prepare(struct vsd *d, struct vps *v, const vs_kv_t *config,
                    struct vsd_net_start *start, vs_error_t *err)
{
        const char *hostname, *nameserver = vs_kv_get(config, "nameserver");
        const char *searchdomain = vs_kv_get(config, "searchdomain");
        char default_name[VS_NAME_MAX + 1];

        memset(start, 0, sizeof(*start));
        /* a clash made before vsd refused them at create */
        if (vsd_net_name_clash(d, v->name, err) < 0)
                return -1;
        start->net = d->net;
        start->nft = d->nft;
        start->name = v->name;
        v->rate_out = v->rate_in = 0;
        if (config_net(config, &start->addrs, start->fwds, &start->nfwds, err) < 0)
                return -1;
        /* the /etc files name the VPS also without a network: a template's
         * own (the build host's /etc/hostname) would be systemd's hostname */
        hostname = vs_kv_get(config, "hostname");
        vs_strlcpy(start->hostname,
                   hostname && *hostname ? hostname : vs_default_hostname(v->name, default_name),
                   sizeof(start->hostname));
        vs_strlcpy(start->nameserver, nameserver ? nameserver : "", sizeof(start->nameserver));
        vs_strlcpy(start->searchdomain, searchdomain ? searchdomain : "",
                   sizeof(start->searchdomain));
        snprintf(start->upper, sizeof(start->upper), "%s/%s/%s/upper", d->vps_dir, v->name,
                 vsd_disk_backend_of(config)->layers);
        start->root_id = v->idmap.enabled ? (uid_t)v->idmap.base : 0;
        start->hook = net_hook;
        if (!vsd_net_has_link(start))
                return 0; /* no address: loopback only */
        /* a config edited by hand may name another VPS's host port */
        if (forwards_clash(d, v->name, start->fwds, start->nfwds, err) < 0)
                return -1;
        if (config_rate(config, "rate_out", &start->rate_out, err) < 0 ||
            config_rate(config, "rate_in", &start->rate_in, err) < 0)
                return -1;
        /* what the state file records once the start succeeded */
        v->rate_out = start->rate_out;
        v->rate_in = start->rate_in;
        return 0;
}

int vsd_net_has_link(const struct vsd_net_start *start)
{
        return start->addrs.n4 + start->addrs.n6 > 0;
}

/* ---- live changes ---- */

/* The running VPS's root, for its /etc files: written through its own
 * mounts, so that they reach its upper layer whatever the disk backend. */
static int open_running_root(struct vps *v, vs_error_t *err)
{
        char path[64];
        int fd;

        snprintf(path, sizeof(path), "/proc/%d/root", (int)v->pid);
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return vs_error_errno(err, "open the VPS's root");
        return fd;
}

/* Writes as the VPS's root (its host id as fsuid and fsgid): the VPS's
 * overlay was mounted in its user namespace, and creates no file for an id
 * that namespace does not map, such as the host's root (EOVERFLOW). vsd is
 * single-threaded, so the switch concerns this write only. */
static int rewrite_etc_live(struct vps *v, const struct vs_net_etc *etc, int hosts_too,
                            vs_error_t *err)
{
        cleanup_close int root_fd = open_running_root(v, err);
        uid_t root_id = v->idmap.enabled ? (uid_t)v->idmap.base : 0;
        unsigned created = 0;
        int rc;

        if (root_fd < 0)
                return -1;
        setfsgid((gid_t)root_id);
        setfsuid(root_id);
        if (hosts_too)
                rc = vs_net_write_etc(root_fd, root_id, (gid_t)root_id, etc, &created, err);
        else
                rc = vs_net_write_resolv(root_fd, root_id, (gid_t)root_id, etc, err);
        setfsuid(0);
        setfsgid(0);
        return rc;
}

/* A stopped VPS's, or one's without a veth: its nftables elements go, now
 * or with the next transaction (a stop's, whose removals many stops then
 * share). */
static void forget_elements(struct vsd *d, struct vps *v, int later)
{
        vs_error_t err = { 0 };
        char ifname[VS_IFNAME_MAX];

        if (!d->nft)
                return;
        vs_net_host_ifname(v->name, ifname);
        if (later)
                vs_nft_vps_remove_later(d->nft, ifname);
        else if (vs_nft_vps_remove(d->nft, ifname, &err) < 0)
                vs_log(LOG_WARNING, "%s: %s", v->name, err.msg);
}

/* A live --ipadd on a VPS without network made its veth, an --ipdel all
 * deleted it: the state file says which, and a new veth gets the caps. */
static int network_appeared_or_went(struct vsd *d, struct vps *v, const struct vsd_net_addrs *now)
{
        vs_error_t err = { 0 };
        int had = v->ifname[0] != '\0', has = now->n4 + now->n6 > 0;

        if (had == has)
                return 0;
        if (has) {
                vs_net_host_ifname(v->name, v->ifname);
        } else {
                forget_elements(d, v, 0);
                v->ifname[0] = '\0';
        }
        if (has &&
            ((v->rate_out &&
              vs_net_vps_rate(d->net, v->name, VS_RATE_OUT, v->rate_out, &err) < 0) ||
             (v->rate_in && vs_net_vps_rate(d->net, v->name, VS_RATE_IN, v->rate_in, &err) < 0)))
                vs_log(LOG_WARNING, "%s: caps on the new veth: %s", v->name, err.msg);
        return d->hooks.save_state(d, v, NULL);
}

/* The VPS's addresses (config's ip) as was, and what the change makes
 * of them as now: refused here (an address another VPS has, one it does
 * not have) before anything changes. */
static int plan_addrs(struct vsd *d, struct vps *v, const struct vsd_net_change *change,
                      const vs_kv_t *config, struct vsd_net_addrs *was, struct vsd_net_addrs *now,
                      vs_error_t *err)
{
        cleanup_used_addrs struct vsd_used_addrs used = { 0 };

        if (vsd_net_parse_ips(vs_kv_get(config, "ip"), was, err) < 0)
                return -1;
        *now = *was;
        used_addrs(d, v->name, &used);
        if (vsd_net_remove_addrs(now, change->ipdel, change->nipdel, err) < 0 ||
            vsd_net_add_given(vs_net_conf(d->net), change->ipadd, change->nipadd, &used, now, err) <
                    0)
                return -1;
        return 0;
}

int vsd_net_check(struct vsd *d, struct vps *v, const struct vsd_net_change *change,
                  vs_error_t *err)
{
        cleanup_kv vs_kv_t config = { 0 };
        struct vsd_net_addrs was, now;

        if (vsd_config_load(d, v->name, &config, err) < 0)
                return -1;
        return plan_addrs(d, v, change, &config, &was, &now, err);
}

int vsd_net_set(struct vsd *d, struct vps *v, const struct vsd_net_change *change, vs_error_t *err)
{
        cleanup_kv vs_kv_t config = { 0 };
        cleanup_free char *ip_text = NULL;
        struct vsd_net_addrs was, now;
        struct vs_net_vps was_spec, now_spec;
        struct vs_net_etc etc;
        const char *hostname, *ns, *search;
        int running = v->phase == PHASE_RUNNING, readdressed = 0;

        if (vsd_config_load(d, v->name, &config, err) < 0 ||
            plan_addrs(d, v, change, &config, &was, &now, err) < 0)
                return -1;
        ip_text = vsd_net_format_ips(&now);
        hostname = vs_kv_get(&config, "hostname");
        ns = change->nameserver ? change->nameserver : vs_kv_get(&config, "nameserver");
        search = change->searchdomain ? change->searchdomain : vs_kv_get(&config, "searchdomain");
        etc = etc_spec(hostname && *hostname ? hostname : v->name, &now, ns, search);
        was_spec = vps_spec(v->name, &was);
        now_spec = vps_spec(v->name, &now);
        if (running && (change->nipadd || change->nipdel)) {
                if (vs_net_vps_readdress(d->net, &was_spec, &now_spec, v->pid, err) < 0) {
                        vs_net_vps_readdress(d->net, &now_spec, &was_spec, v->pid, NULL);
                        return -1;
                }
                readdressed = 1;
                if (network_appeared_or_went(d, v, &now) < 0)
                        vs_log(LOG_WARNING, "%s: could not save its state", v->name);
        }
        if (running && now.n4 + now.n6 &&
            rewrite_etc_live(v, &etc, change->nipadd || change->nipdel, err) < 0) {
                if (readdressed)
                        vs_net_vps_readdress(d->net, &now_spec, &was_spec, v->pid, NULL);
                return vs_error_wrap(err, "network files");
        }
        vs_kv_set(&config, "ip", ip_text);
        if (change->nameserver)
                vs_kv_set(&config, "nameserver", change->nameserver);
        if (change->searchdomain)
                vs_kv_set(&config, "searchdomain", change->searchdomain);
        if (vsd_config_save(d, v->name, &config, err) < 0) {
                if (readdressed)
                        vs_net_vps_readdress(d->net, &now_spec, &was_spec, v->pid, NULL);
                return -1;
        }
        /* the guard follows: the new addresses may send, the old no more */
        if (readdressed && vsd_net_refresh(d, v, err) < 0)
                return vs_error_wrap(err, "firewall");
        return 0;
}

/* The hostname in a running VPS's UTS namespace, set from a child joined
 * to it through the init's pidfd: vsd's own stays the host's. */
static int set_uts_hostname(struct vps *v, const char *hostname, vs_error_t *err)
{
        int status = 0;
        pid_t pid = fork();

        if (pid < 0)
                return vs_error_errno(err, "fork");
        if (pid == 0) {
                if (setns(v->pidfd, CLONE_NEWUTS) < 0)
                        _exit(10);
                _exit(sethostname(hostname, strlen(hostname)) < 0 ? 11 : 0);
        }
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return vs_error_set(err, EPERM, "could not set the hostname inside the VPS (%s)",
                                    WIFEXITED(status) && WEXITSTATUS(status) == 10 ? "setns"
                                                                                   : "sethostname");
        return 0;
}

int vsd_net_set_hostname(struct vsd *d, struct vps *v, const char *hostname, vs_error_t *err)
{
        cleanup_kv vs_kv_t config = { 0 };
        struct vsd_net_addrs addrs;

        if (vsd_config_load(d, v->name, &config, err) < 0 ||
            vsd_net_parse_ips(vs_kv_get(&config, "ip"), &addrs, err) < 0)
                return -1;
        if (v->phase == PHASE_RUNNING) {
                struct vs_net_etc etc = etc_spec(hostname, &addrs, vs_kv_get(&config, "nameserver"),
                                                 vs_kv_get(&config, "searchdomain"));

                if (set_uts_hostname(v, hostname, err) < 0)
                        return -1;
                /* /etc/hostname and /etc/hosts are vsd's only where it
                 * writes them at start: a VPS with a network */
                if (addrs.n4 + addrs.n6 && rewrite_etc_live(v, &etc, 1, err) < 0)
                        return vs_error_wrap(err, "network files");
        }
        vs_kv_set(&config, "hostname", hostname);
        return vsd_config_save(d, v->name, &config, err);
}

void vsd_net_stop_links(struct vsd *d, struct vps *v)
{
        vs_error_t err = { 0 };

        if (vs_net_vps_teardown(d->net, v->name, &err) < 0)
                vs_log(LOG_WARNING, "%s: %s", v->name, err.msg);
}

void vsd_net_stop_elements(struct vsd *d, struct vps *v)
{
        forget_elements(d, v, 1);
}

void vsd_net_flush_elements(struct vsd *d)
{
        vs_error_t err = { 0 };

        if (d->nft && vs_nft_flush(d->nft, &err) < 0)
                vs_log(LOG_WARNING, "%s", err.msg);
}

void vsd_net_stopped(struct vsd *d, struct vps *v)
{
        forget_elements(d, v, 0);
        vsd_net_stop_links(d, v);
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
