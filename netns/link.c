/* The kernel side of a VPS's network, over netlink with libnl-route: the
 * bridge, the veth pair, addresses and routes on both sides. vsd keeps one
 * netlink socket in its own network namespace; for the guest side it opens a
 * short-lived socket inside the VPS's namespace (setns there, connect, setns
 * back: the socket stays bound to the namespace it was created in). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ip.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/inet.h>
#include <netlink/route/link/inet6.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/netns.h"
#include "vs/parse.h"
#include "nl.h"
#include "nl.h"

#define GUEST_IFNAME "eth0"
/* the label of the gateway vsd puts on lo in routed mode */
#define GATEWAY_LABEL "lo:vsgw"

struct vs_net {
        vs_net_conf_t conf;
        struct nl_sock *sock; /* in vsd's network namespace */
        int own_netns_fd;
        int host_ready; /* bridge made (bridge mode) or forwarding on (routed) */
        int bridge_ifindex;
        struct vs_reaper *reaper; /* deletes retired links: reap.c */
};

static void nl_sock_freep(struct nl_sock **s)
{
        if (*s)
                nl_socket_free(*s);
}
void vs_nl_link_putp(struct rtnl_link **l)
{
        if (*l)
                rtnl_link_put(*l);
}
static void veth_releasep(struct rtnl_link **l)
{
        if (*l)
                rtnl_link_veth_release(*l);
}
static void addr_putp(struct rtnl_addr **a)
{
        if (*a)
                rtnl_addr_put(*a);
}
static void route_putp(struct rtnl_route **r)
{
        if (*r)
                rtnl_route_put(*r);
}
static void nladdr_putp(struct nl_addr **a)
{
        if (*a)
                nl_addr_put(*a);
}
#define cleanup_nlsock __attribute__((cleanup(nl_sock_freep)))
#define cleanup_veth __attribute__((cleanup(veth_releasep)))
#define cleanup_rtaddr __attribute__((cleanup(addr_putp)))
#define cleanup_route __attribute__((cleanup(route_putp)))
#define cleanup_nladdr __attribute__((cleanup(nladdr_putp)))

static int nl_fail(vs_error_t *err, int nlerr, const char *what)
{
        return vs_error_set(err, EIO, "%s: %s", what, nl_geterror(nlerr));
}

static int connect_route(struct nl_sock **out, vs_error_t *err)
{
        cleanup_nlsock struct nl_sock *sock = nl_socket_alloc();
        int rc;

        if (!sock)
                return vs_error_set(err, ENOMEM, "netlink socket");
        rc = nl_connect(sock, NETLINK_ROUTE);
        if (rc < 0)
                return nl_fail(err, rc, "netlink connect");
        *out = steal_ptr(sock);
        return 0;
}

int vs_net_open(const vs_net_conf_t *conf, vs_net_t **out, vs_error_t *err)
{
        vs_net_t *net = vs_xmalloc(sizeof(*net));

        memset(net, 0, sizeof(*net));
        net->conf = *conf;
        net->own_netns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (net->own_netns_fd < 0) {
                free(net);
                return vs_error_errno(err, "open own network namespace");
        }
        if (connect_route(&net->sock, err) < 0) {
                vs_net_free(net);
                return -1;
        }
        *out = net;
        return 0;
}

void vs_net_free(vs_net_t *net)
{
        if (!net)
                return;
        vs_reaper_stop(net->reaper);
        if (net->sock)
                nl_socket_free(net->sock);
        if (net->own_netns_fd >= 0)
                close(net->own_netns_fd);
        free(net);
}

const vs_net_conf_t *vs_net_conf(const vs_net_t *net)
{
        return &net->conf;
}

struct nl_sock *vs_net_nlsock(vs_net_t *net)
{
        return net->sock;
}

struct vs_reaper **vs_net_reaper(vs_net_t *net)
{
        return &net->reaper;
}

/* ---- small netlink helpers ---- */

static struct nl_addr *ip4_nladdr(uint32_t addr, unsigned prefix)
{
        uint32_t be = htonl(addr);
        struct nl_addr *a = nl_addr_build(AF_INET, &be, sizeof(be));

        if (a)
                nl_addr_set_prefixlen(a, (int)prefix);
        return a;
}

static struct nl_addr *ip6_nladdr(const unsigned char addr[16], unsigned prefix)
{
        struct nl_addr *a = nl_addr_build(AF_INET6, addr, 16);

        if (a)
                nl_addr_set_prefixlen(a, (int)prefix);
        return a;
}

/* Adds (or deletes) `local`, its prefix length included, on ifindex; takes
 * the address. IPv6 addresses skip duplicate address detection: vsd hands
 * them out uniquely, and DAD would keep them unusable for a second after
 * start. Deleting one that is gone is not an error. */
static int change_nladdr(struct nl_sock *sock, int add, int ifindex, struct nl_addr *local,
                         vs_error_t *err)
{
        cleanup_rtaddr struct rtnl_addr *ra = rtnl_addr_alloc();
        cleanup_nladdr struct nl_addr *owned = local;
        char text[64];
        int rc;

        if (!ra || !local)
                return vs_error_set(err, ENOMEM, "address");
        rtnl_addr_set_ifindex(ra, ifindex);
        rtnl_addr_set_family(ra, nl_addr_get_family(local));
        rtnl_addr_set_local(ra, local);
        if (add && nl_addr_get_family(local) == AF_INET6)
                rtnl_addr_set_flags(ra, IFA_F_NODAD);
        rc = add ? rtnl_addr_add(sock, ra, NLM_F_REPLACE) : rtnl_addr_delete(sock, ra, 0);
        if (rc < 0 && (add || (rc != -NLE_NOADDR && rc != -NLE_OBJ_NOTFOUND)))
                return vs_error_set(err, EIO, "%s address %s: %s", add ? "add" : "delete",
                                    nl_addr2str(local, text, sizeof(text)), nl_geterror(rc));
        return 0;
}

static int add_nladdr(struct nl_sock *sock, int ifindex, struct nl_addr *local, vs_error_t *err)
{
        return change_nladdr(sock, 1, ifindex, local, err);
}

static int del_nladdr(struct nl_sock *sock, int ifindex, struct nl_addr *local, vs_error_t *err)
{
        return change_nladdr(sock, 0, ifindex, local, err);
}

static int add_addr(struct nl_sock *sock, int ifindex, uint32_t addr, unsigned prefix,
                    vs_error_t *err)
{
        return add_nladdr(sock, ifindex, ip4_nladdr(addr, prefix), err);
}

/* A route to `dst` (its prefix length included) out of ifindex: on-link
 * without a gateway, else via `gateway`; from `pref_src` where it is not
 * NULL. Takes the three addresses. */
static int route_nl_from(struct nl_sock *sock, int add, int ifindex, struct nl_addr *dst,
                         struct nl_addr *gateway, struct nl_addr *pref_src, vs_error_t *err)
{
        cleanup_route struct rtnl_route *route = rtnl_route_alloc();
        cleanup_nladdr struct nl_addr *owned_dst = dst;
        cleanup_nladdr struct nl_addr *owned_gw = gateway;
        cleanup_nladdr struct nl_addr *owned_src = pref_src;
        struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
        int rc;

        if (!route || !dst || !nh) {
                if (nh)
                        rtnl_route_nh_free(nh);
                return vs_error_set(err, ENOMEM, "route");
        }
        rtnl_route_set_family(route, nl_addr_get_family(dst));
        rtnl_route_set_dst(route, dst);
        if (pref_src)
                rtnl_route_set_pref_src(route, pref_src);
        rtnl_route_set_scope(route, gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
        rtnl_route_nh_set_ifindex(nh, ifindex);
        if (gateway)
                rtnl_route_nh_set_gateway(nh, gateway);
        rtnl_route_add_nexthop(route, nh); /* the route owns nh from here */
        if (add) {
                rc = rtnl_route_add(sock, route, NLM_F_REPLACE);
                if (rc < 0)
                        return nl_fail(err, rc, gateway ? "add default route" : "add route");
        } else {
                rc = rtnl_route_delete(sock, route, 0);
                if (rc < 0 && rc != -NLE_OBJ_NOTFOUND)
                        return nl_fail(err, rc, "delete route");
        }
        return 0;
}

static int route_nl(struct nl_sock *sock, int add, int ifindex, struct nl_addr *dst,
                    struct nl_addr *gateway, vs_error_t *err)
{
        return route_nl_from(sock, add, ifindex, dst, gateway, NULL, err);
}

static int add_route(struct nl_sock *sock, int ifindex, uint32_t dst, unsigned prefix,
                     uint32_t gateway, vs_error_t *err)
{
        return route_nl(sock, 1, ifindex, ip4_nladdr(dst, prefix),
                        gateway ? ip4_nladdr(gateway, 32) : NULL, err);
}

/* A permanent neighbour entry: `dst` (taken) is at `mac` on ifindex. The
 * kernel's neighbour tables are shared by every network namespace, and
 * gc_thresh3 (1024 by default, a host-wide setting) caps the entries it
 * resolved itself: past it, new ones fail and packets to them are dropped.
 * Two entries a routed VPS (its address on the host side, the gateway in
 * the VPS) made about 500 VPS the most that could all be reached. Permanent
 * entries are not counted against that cap, need no ARP or neighbour
 * discovery, and go with their device. */
static int add_neigh(struct nl_sock *sock, int ifindex, struct nl_addr *dst,
                     const unsigned char mac[6], vs_error_t *err)
{
        cleanup_nladdr struct nl_addr *owned_dst = dst;
        cleanup_nladdr struct nl_addr *lladdr = nl_addr_build(AF_LLC, mac, 6);
        struct rtnl_neigh *neigh = rtnl_neigh_alloc();
        char text[INET6_ADDRSTRLEN + 8];
        int rc;

        if (!neigh || !dst || !lladdr) {
                if (neigh)
                        rtnl_neigh_put(neigh);
                return vs_error_set(err, ENOMEM, "neighbour");
        }
        rtnl_neigh_set_ifindex(neigh, ifindex);
        rtnl_neigh_set_dst(neigh, dst);
        rtnl_neigh_set_lladdr(neigh, lladdr);
        rtnl_neigh_set_state(neigh, NUD_PERMANENT);
        rc = rtnl_neigh_add(sock, neigh, NLM_F_CREATE | NLM_F_REPLACE);
        rtnl_neigh_put(neigh);
        if (rc < 0)
                return vs_error_set(err, EIO, "add neighbour %s: %s",
                                    nl_addr2str(dst, text, sizeof(text)), nl_geterror(rc));
        return 0;
}

/* The index of a link in the namespace of sock (a VPS's, or vsd's own:
 * host_link_index), by SIOCGIFINDEX on it: one ioctl where an RTM_GETLINK
 * was a request, a reply of 1.5 kB the kernel filled with every attribute
 * of the veth, and libnl's peeks at the reply and the ack (five system
 * calls a start); no such link is an error here. */
static int link_index(struct nl_sock *sock, const char *name, vs_error_t *err)
{
        int ifindex = vs_nl_ifindex(sock, name, err);

        if (ifindex == 0) {
                errno = ENODEV;
                return vs_error_errno(err, "find interface %s", name);
        }
        return ifindex;
}

int vs_nl_ifreq(struct nl_sock *sock, unsigned long op, struct ifreq *ifr)
{
        int rc;

        while ((rc = ioctl(nl_socket_get_fd(sock), op, ifr)) < 0 && errno == EINTR)
                ;
        return rc;
}

int vs_nl_ifindex(struct nl_sock *sock, const char *name, vs_error_t *err)
{
        struct ifreq ifr;

        memset(&ifr, 0, sizeof(ifr));
        vs_strlcpy(ifr.ifr_name, name, sizeof(ifr.ifr_name));
        if (vs_nl_ifreq(sock, SIOCGIFINDEX, &ifr) < 0)
                return errno == ENODEV ? 0 : vs_error_errno(err, "find %s", name);
        return ifr.ifr_ifindex;
}

/* The index of a link of vsd's own namespace, by the kernel's name hash. A
 * netlink RTM_GETLINK of a veth reports the namespace id of its peer, and
 * the kernel finds that id by walking every peer namespace vsd's namespace
 * knows (peernet2id_alloc: idr_for_each): 0.3 ms a start at 4096 VPS.
 * SIOCGIFINDEX on vsd's netlink socket, where if_nametoindex opened and
 * closed a socket of its own at each call (three a start). */
static int host_link_index(vs_net_t *net, const char *name, vs_error_t *err)
{
        return link_index(net->sock, name, err);
}

/* Applies change to the link ifindex: a libnl error code, or 0. */
static int change_link(struct nl_sock *sock, int ifindex, struct rtnl_link *change)
{
        cleanup_link struct rtnl_link *link = rtnl_link_alloc();

        if (!link)
                return -NLE_NOMEM;
        rtnl_link_set_ifindex(link, ifindex);
        return rtnl_link_change(sock, link, change, 0);
}

int vs_nl_link_up(struct nl_sock *sock, int ifindex, int promote_secondaries, vs_error_t *err)
{
        cleanup_link struct rtnl_link *change = rtnl_link_alloc();
        int rc;

        if (!change)
                return vs_error_set(err, ENOMEM, "link");
        rtnl_link_set_flags(change, IFF_UP);
        if (promote_secondaries)
                rtnl_link_inet_set_conf(change, IPV4_DEVCONF_PROMOTE_SECONDARIES, 1);
        rc = change_link(sock, ifindex, change);
        if (rc < 0)
                return nl_fail(err, rc, "set link up");
        return 0;
}

int vs_nl_delete_link(struct nl_sock *sock, const char *name, vs_error_t *err)
{
        cleanup_link struct rtnl_link *link = rtnl_link_alloc();
        int rc;

        if (!link)
                return vs_error_set(err, ENOMEM, "link");
        rtnl_link_set_name(link, name);
        rc = rtnl_link_delete(sock, link);
        if (rc < 0 && rc != -NLE_NODEV && rc != -NLE_OBJ_NOTFOUND)
                return vs_error_set(err, EIO, "delete %s: %s", name, nl_geterror(rc));
        return 0;
}

/* ---- vsd's side ---- */

static int write_sysctl(const char *path, const char *value, vs_error_t *err)
{
        return vs_write_string(AT_FDCWD, path, value, err);
}

/* The same, where a kernel without IPv6 has no such file: nothing to do. */
static int write_sysctl_optional(const char *path, const char *value, vs_error_t *err)
{
        vs_error_t sysctl_err = { 0 };

        if (write_sysctl(path, value, &sysctl_err) == 0 || sysctl_err.errnum == ENOENT)
                return 0;
        if (err)
                *err = sysctl_err;
        return -1;
}

/* The bridge with the pool's gateway on it, made once and kept: a bridge
 * left by an earlier vsd is reused. */
static int ensure_bridge(vs_net_t *net, vs_error_t *err)
{
        cleanup_link struct rtnl_link *bridge = rtnl_link_alloc();
        cleanup_nladdr struct nl_addr *mac = NULL;
        cleanup_free char *seed = vs_strdupf("@bridge:%s", net->conf.bridge);
        unsigned char mac_bytes[6];
        int rc, ifindex;

        if (!bridge)
                return vs_error_set(err, ENOMEM, "bridge");
        rtnl_link_set_name(bridge, net->conf.bridge);
        if (rtnl_link_set_type(bridge, "bridge") < 0)
                return vs_error_set(err, EOPNOTSUPP, "this libnl has no bridge links");
        rtnl_link_set_mtu(bridge, net->conf.mtu);
        /* A bridge without a MAC of its own takes its ports' lowest one and
         * changes it when that port leaves: every VPS's neighbour entry for
         * the gateway would go stale at some other VPS's stop. The "@" keeps
         * the name apart from every VPS name. */
        vs_net_guest_mac(seed, mac_bytes);
        mac = nl_addr_build(AF_LLC, mac_bytes, sizeof(mac_bytes));
        if (!mac)
                return vs_error_set(err, ENOMEM, "bridge");
        rtnl_link_set_addr(bridge, mac);
        rc = rtnl_link_add(net->sock, bridge, NLM_F_CREATE);
        if (rc < 0 && rc != -NLE_EXIST)
                return nl_fail(err, rc, "create bridge");
        ifindex = host_link_index(net, net->conf.bridge, err);
        if (ifindex < 0)
                return -1;
        if (add_addr(net->sock, ifindex, net->conf.pool4.gateway, net->conf.pool4.net.prefix, err) <
                    0 ||
            (net->conf.has_pool6 &&
             add_nladdr(net->sock, ifindex,
                        ip6_nladdr(net->conf.pool6.gateway, net->conf.pool6.net.prefix),
                        err) < 0) ||
            vs_nl_link_up(net->sock, ifindex, 0, err) < 0)
                return vs_error_wrap(err, "bridge %s", net->conf.bridge);
        return ifindex;
}

/* Routed mode: the gateway is an address of vsd's namespace once, on its
 * loopback, where it was one address on every host side: the kernel keeps
 * one local route for it with an alias per device, and each new host side
 * walked them all (fib_table_insert: 0.9 ms a start at 4096 VPS, and as much
 * again at its deletion). A VPS needs no ARP answer for it (its neighbour
 * entry for the gateway is permanent), the namespace takes what is sent to
 * one of its addresses on any device, and it picks the gateway as the source
 * of what it sends to a VPS (the host sides have no IPv4 address of their
 * own). The address stays, as the bridge does in bridge mode. */
static int routed_gateway_local(vs_net_t *net, vs_error_t *err)
{
        cleanup_rtaddr struct rtnl_addr *ra = rtnl_addr_alloc();
        cleanup_nladdr struct nl_addr *local = ip4_nladdr(net->conf.pool4.gateway, 32);
        int lo = host_link_index(net, "lo", err), rc;

        if (lo < 0)
                return -1;
        if (!ra || !local)
                return vs_error_set(err, ENOMEM, "address");
        rtnl_addr_set_ifindex(ra, lo);
        rtnl_addr_set_family(ra, AF_INET);
        rtnl_addr_set_local(ra, local);
        /* link scope: the kernel never takes it on its own as the source of
         * the host's other traffic (the host routes name it, see
         * host_routes); the label tells vsd's from the host's own */
        rtnl_addr_set_scope(ra, RT_SCOPE_LINK);
        rtnl_addr_set_label(ra, GATEWAY_LABEL);
        rc = rtnl_addr_add(net->sock, ra, NLM_F_REPLACE);
        if (rc < 0)
                return nl_fail(err, rc, "put the gateway on lo");
        return 0;
}

struct stale_ctx {
        uint32_t keep;
        struct rtnl_addr **doomed;
        size_t n, cap;
};

static void stale_one(struct nl_object *obj, void *data)
{
        struct rtnl_addr *ra = (struct rtnl_addr *)obj;
        struct stale_ctx *ctx = data;
        struct nl_addr *local = rtnl_addr_get_local(ra);
        const char *label = rtnl_addr_get_label(ra);
        uint32_t addr;

        if (rtnl_addr_get_family(ra) != AF_INET || !local || nl_addr_get_len(local) != 4 ||
            !label || strcmp(label, GATEWAY_LABEL) != 0)
                return;
        memcpy(&addr, nl_addr_get_binary_addr(local), 4);
        if (ntohl(addr) == ctx->keep)
                return;
        nl_object_get(obj);
        ctx->doomed = vs_xgrow(ctx->doomed, ctx->n, &ctx->cap, 4, sizeof(*ctx->doomed));
        ctx->doomed[ctx->n++] = ra;
}

/* A gateway vsd put on lo for a pool it no longer has (vsd.conf changed):
 * it would stay a local address, so that what is sent to it never leaves. */
static int drop_stale_gateways(vs_net_t *net, vs_error_t *err)
{
        struct nl_cache *cache = NULL;
        struct stale_ctx ctx = { .keep = net->conf.pool4.gateway };
        int rc = rtnl_addr_alloc_cache(net->sock, &cache);

        if (rc < 0)
                return nl_fail(err, rc, "list addresses");
        nl_cache_foreach(cache, stale_one, &ctx);
        nl_cache_free(cache);
        rc = 0;
        for (size_t i = 0; i < ctx.n; i++) {
                int del = rtnl_addr_delete(net->sock, ctx.doomed[i], 0);

                if (del < 0 && del != -NLE_NOADDR && rc == 0)
                        rc = nl_fail(err, del, "remove an old gateway from lo");
                rtnl_addr_put(ctx.doomed[i]);
        }
        free(ctx.doomed);
        return rc;
}

/* Done once per vsd: checking the bridge at every start cost 1.7 ms per
 * VPS (contrib/bench/net.sh). */
static int host_prepare(vs_net_t *net, vs_error_t *err)
{
        int ifindex = 0;

        if (net->host_ready)
                return net->bridge_ifindex;
        if (net->conf.mode == VS_NET_BRIDGE) {
                ifindex = ensure_bridge(net, err);
                if (ifindex < 0)
                        return -1;
        } else if (write_sysctl("/proc/sys/net/ipv4/ip_forward", "1", err) < 0 ||
                   write_sysctl_optional("/proc/sys/net/ipv6/conf/all/forwarding", "1", err) < 0) {
                /* routed VPS reach each other through vsd's namespace */
                return vs_error_wrap(err, "enable forwarding");
        } else if (drop_stale_gateways(net, err) < 0) {
                return vs_error_wrap(err, "routed mode");
        }
        net->host_ready = 1;
        net->bridge_ifindex = ifindex;
        return ifindex;
}

/* The MAC vsd gives the host side of a VPS's veth: derived from the VPS's
 * name as the guest's is, so that the VPS's neighbour entry for the gateway
 * is known without asking the kernel (see host_link_index). The "@" keeps
 * the seed apart from every VPS name. */
static void host_side_mac(const char *vps, unsigned char mac[6])
{
        char seed[VS_NAME_MAX + 8];

        snprintf(seed, sizeof(seed), "@host:%s", vps);
        vs_net_guest_mac(seed, mac);
        mac[1] = 0x48; /* "H": never a guest's 02:50:... */
}

static int create_veth(vs_net_t *net, const char *host, const char *vps, pid_t pid, int master,
                       vs_error_t *err)
{
        cleanup_veth struct rtnl_link *link = rtnl_link_veth_alloc();
        cleanup_link struct rtnl_link *peer = NULL;
        cleanup_nladdr struct nl_addr *mac = NULL, *host_mac = NULL;
        unsigned char mac_bytes[6], host_mac_bytes[6];
        int rc;

        if (!link)
                return vs_error_set(err, ENOMEM, "veth");
        peer = rtnl_link_veth_get_peer(link);
        vs_net_guest_mac(vps, mac_bytes);
        host_side_mac(vps, host_mac_bytes);
        mac = nl_addr_build(AF_LLC, mac_bytes, sizeof(mac_bytes));
        host_mac = nl_addr_build(AF_LLC, host_mac_bytes, sizeof(host_mac_bytes));
        if (!peer || !mac || !host_mac)
                return vs_error_set(err, ENOMEM, "veth");
        rtnl_link_set_name(link, host);
        /* routed only: on a bridge, vsd's choice would be one more MAC a
         * name could be made to collide with (the bridge delivers to a
         * port's own MAC); the kernel's is random */
        if (net->conf.mode == VS_NET_ROUTED)
                rtnl_link_set_addr(link, host_mac);
        rtnl_link_set_mtu(link, net->conf.mtu);
        if (master > 0)
                rtnl_link_set_master(link, master);
        /* the guest side is born in the VPS's namespace: its name eth0 can
         * clash with nothing of vsd's */
        rtnl_link_set_name(peer, GUEST_IFNAME);
        rtnl_link_set_mtu(peer, net->conf.mtu);
        rtnl_link_set_addr(peer, mac);
        rtnl_link_set_ns_pid(peer, pid);
        rc = rtnl_link_add(net->sock, link, NLM_F_CREATE | NLM_F_EXCL);
        if (rc < 0)
                return vs_error_set(err, rc == -NLE_EXIST ? EEXIST : EIO, "create veth %s: %s",
                                    host, nl_geterror(rc));
        return 0;
}

/* The link-local address every routed host side with IPv6 answers for, as
 * the VPS's IPv6 gateway: link-local, so one on each such host side. */
static const unsigned char routed_gateway6[16] = { 0xfe, 0x80, [15] = 1 };

static int sysctl_of(const char *host, const char *family, const char *key, const char *value,
                     vs_error_t *err)
{
        char path[96];

        snprintf(path, sizeof(path), "/proc/sys/net/%s/conf/%s/%s", family, host, key);
        return write_sysctl_optional(path, value, err);
}

/* Routed mode, IPv6 on the host side: no address of its own but the fixed
 * gateway (addr_gen_mode 1, set while IPv6 is still off, keeps the kernel
 * from making one). */
static int host_side_ipv6(vs_net_t *net, int ifindex, const char *host, vs_error_t *err)
{
        if (sysctl_of(host, "ipv6", "addr_gen_mode", "1", err) < 0 ||
            sysctl_of(host, "ipv6", "disable_ipv6", "0", err) < 0)
                return vs_error_wrap(err, "IPv6 on %s", host);
        return add_nladdr(net->sock, ifindex, ip6_nladdr(routed_gateway6, 64), err);
}

/* Routed mode: the host side carries a host route to each of the VPS's
 * addresses (the gateway is vsd's namespace's, see routed_gateway_local).
 * Strict reverse-path filtering on it drops what the VPS sends from any
 * other IPv4 address: the host routes are exactly the VPS's addresses, so a
 * forged source reaches nobody. Idempotent: a live change of addresses
 * calls it again. */
static int host_routes(vs_net_t *net, const char *host, const struct vs_net_vps *vps,
                       vs_error_t *err)
{
        int ifindex = host_link_index(net, host, err);
        unsigned char guest_mac[6];

        /* put again at each start: one taken off lo by hand comes back
         * (a replace of an address that is there walks nothing) */
        if (ifindex < 0 || routed_gateway_local(net, err) < 0)
                return -1;
        vs_net_guest_mac(vps->name, guest_mac);
        for (size_t i = 0; i < vps->naddrs; i++)
                if (route_nl_from(net->sock, 1, ifindex, ip4_nladdr(vps->addrs[i].addr, 32), NULL,
                                  ip4_nladdr(net->conf.pool4.gateway, 32), err) < 0 ||
                    add_neigh(net->sock, ifindex, ip4_nladdr(vps->addrs[i].addr, 32), guest_mac,
                              err) < 0)
                        return -1;
        if (vps->naddrs6 && host_side_ipv6(net, ifindex, host, err) < 0)
                return -1;
        for (size_t i = 0; i < vps->naddrs6; i++)
                if (route_nl(net->sock, 1, ifindex, ip6_nladdr(vps->addrs6[i].addr, 128), NULL,
                             err) < 0 ||
                    add_neigh(net->sock, ifindex, ip6_nladdr(vps->addrs6[i].addr, 128), guest_mac,
                              err) < 0)
                        return -1;
        if (sysctl_of(host, "ipv4", "rp_filter", "1", err) < 0)
                return vs_error_wrap(err, "anti-spoofing");
        return 0;
}

/* ---- the VPS's side ---- */

static int connect_in_netns(vs_net_t *net, pid_t pid, struct nl_sock **out, vs_error_t *err)
{
        char path[64];
        cleanup_close int ns_fd = -1;
        int rc;

        snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
        ns_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (ns_fd < 0)
                return vs_error_errno(err, "open the VPS's network namespace");
        if (setns(ns_fd, CLONE_NEWNET) < 0)
                return vs_error_errno(err, "enter the VPS's network namespace");
        rc = connect_route(out, err);
        if (setns(net->own_netns_fd, CLONE_NEWNET) < 0) {
                /* vsd must never go on in a VPS's namespace */
                perror("vsd: return to own network namespace");
                abort();
        }
        return rc;
}

/* A VPS without an IPv6 address gets no link-local one on eth0 either
 * (addr_gen_mode none, set through netlink before eth0 goes up): no
 * address, no routes of it, no duplicate address detection and router
 * solicitations for it. Not disable_ipv6: that is a sysctl only, and vsd's
 * lookups of /proc/sys/net in each VPS's namespace leave a dentry per
 * namespace under one name that every later lookup compares, so each
 * start's write took longer (0.09 ms at 250 namespaces, 0.4 ms at 1000, 0.8
 * ms at 1500, and the dead ones count until the kernel reclaims them). */
static int set_addr_gen_mode(struct nl_sock *sock, int ifindex, uint8_t mode, vs_error_t *err)
{
        cleanup_link struct rtnl_link *change = rtnl_link_alloc();
        int rc;

        if (!change)
                return vs_error_set(err, ENOMEM, "link");
        rc = rtnl_link_inet6_set_addr_gen_mode(change, mode);
        if (rc == 0)
                rc = change_link(sock, ifindex, change);
        /* a kernel without IPv6 has nothing to make */
        if (rc < 0 && rc != -NLE_AF_NOSUPPORT && rc != -NLE_OPNOTSUPP)
                return nl_fail(err, rc, "IPv6 address generation on " GUEST_IFNAME);
        return 0;
}

/* The first IPv6 address of a VPS that had none: eth0 gets the link-local
 * address the kernel would have made (EUI-64 of its MAC), and makes its
 * own again from then on. */
static int guest_link_local(struct nl_sock *sock, int ifindex, const char *vps, vs_error_t *err)
{
        unsigned char mac[6], ll[16] = { 0xfe, 0x80 };

        vs_net_guest_mac(vps, mac);
        ll[8] = mac[0] ^ 0x02;
        ll[9] = mac[1];
        ll[10] = mac[2];
        ll[11] = 0xff;
        ll[12] = 0xfe;
        ll[13] = mac[3];
        ll[14] = mac[4];
        ll[15] = mac[5];
        if (set_addr_gen_mode(sock, ifindex, IN6_ADDR_GEN_MODE_EUI64, err) < 0)
                return -1;
        return add_nladdr(sock, ifindex, ip6_nladdr(ll, 64), err);
}

static unsigned guest_prefix(const vs_net_t *net, unsigned prefix, unsigned full)
{
        return net->conf.mode == VS_NET_ROUTED ? full : prefix;
}

/* The VPS's addresses on eth0; idempotent. */
static int guest_addresses(vs_net_t *net, struct nl_sock *sock, int ifindex,
                           const struct vs_net_vps *vps, vs_error_t *err)
{
        for (size_t i = 0; i < vps->naddrs; i++)
                if (add_addr(sock, ifindex, vps->addrs[i].addr,
                             guest_prefix(net, vps->addrs[i].prefix, 32), err) < 0)
                        return -1;
        for (size_t i = 0; i < vps->naddrs6; i++)
                if (add_nladdr(sock, ifindex,
                               ip6_nladdr(vps->addrs6[i].addr,
                                          guest_prefix(net, vps->addrs6[i].prefix, 128)),
                               err) < 0)
                        return -1;
        return 0;
}

/* The VPS's default routes; idempotent. The gateways are on-link in both
 * modes, whatever the prefixes say. */
static int guest_routes(vs_net_t *net, struct nl_sock *sock, int ifindex,
                        const struct vs_net_vps *vps, vs_error_t *err)
{
        uint32_t gateway = net->conf.pool4.gateway;
        const unsigned char *gateway6 =
                net->conf.mode == VS_NET_ROUTED ? routed_gateway6 : net->conf.pool6.gateway;

        if (vps->naddrs && (add_route(sock, ifindex, gateway, 32, 0, err) < 0 ||
                            add_route(sock, ifindex, 0, 0, gateway, err) < 0))
                return -1;
        if (vps->naddrs6) {
                static const unsigned char any[16];

                if (route_nl(sock, 1, ifindex, ip6_nladdr(gateway6, 128), NULL, err) < 0 ||
                    route_nl(sock, 1, ifindex, ip6_nladdr(any, 0), ip6_nladdr(gateway6, 128), err) <
                            0)
                        return -1;
        }
        return 0;
}

/* The MAC of vsd's side of the VPS's veth, as the kernel has it: a veth made
 * by an older vsd that this one adopted has one the kernel chose. */
static int host_mac(vs_net_t *net, const char *vps, unsigned char mac[6], vs_error_t *err)
{
        cleanup_link struct rtnl_link *link = NULL;
        char host[VS_IFNAME_MAX];
        struct nl_addr *addr;
        int rc;

        vs_net_host_ifname(vps, host);
        rc = rtnl_link_get_kernel(net->sock, 0, host, &link);
        if (rc < 0)
                return vs_error_set(err, ENODEV, "find interface %s: %s", host, nl_geterror(rc));
        addr = rtnl_link_get_addr(link);
        if (!addr || nl_addr_get_len(addr) != 6)
                return vs_error_set(err, EINVAL, "%s has no MAC address", host);
        memcpy(mac, nl_addr_get_binary_addr(addr), 6);
        return 0;
}

/* Routed mode: the gateways are at the host side's MAC, for good (see
 * add_neigh); idempotent. */
static int guest_neighbours(vs_net_t *net, struct nl_sock *sock, int ifindex,
                            const struct vs_net_vps *vps, const unsigned char mac[6],
                            vs_error_t *err)
{
        if (net->conf.mode != VS_NET_ROUTED)
                return 0;
        if ((vps->naddrs &&
             add_neigh(sock, ifindex, ip4_nladdr(net->conf.pool4.gateway, 32), mac, err) < 0) ||
            (vps->naddrs6 &&
             add_neigh(sock, ifindex, ip6_nladdr(routed_gateway6, 128), mac, err) < 0))
                return -1;
        return 0;
}

/* eth0 of a VPS whose veth vsd has just made */
static int guest_configure(vs_net_t *net, const struct vs_net_vps *vps, pid_t pid, vs_error_t *err)
{
        cleanup_nlsock struct nl_sock *sock = NULL;
        unsigned char gateway_mac[6];
        int ifindex;

        host_side_mac(vps->name, gateway_mac);
        if (connect_in_netns(net, pid, &sock, err) < 0)
                return -1;
        ifindex = link_index(sock, GUEST_IFNAME, err);
        if (ifindex < 0 ||
            (!vps->naddrs6 && set_addr_gen_mode(sock, ifindex, IN6_ADDR_GEN_MODE_NONE, err) < 0) ||
            vs_nl_link_up(sock, ifindex, 1, err) < 0 ||
            guest_addresses(net, sock, ifindex, vps, err) < 0 ||
            guest_neighbours(net, sock, ifindex, vps, gateway_mac, err) < 0)
                return -1;
        return guest_routes(net, sock, ifindex, vps, err);
}

/* The host side carries no IPv6 of its own (a routed VPS with IPv6
 * addresses turns it on, without a generated address): otherwise every host
 * side gets a link-local address and its own fe80::/64 and multicast routes,
 * which the kernel keeps in one list per prefix, so each new veth cost more
 * than the one before. Set while the link is down, before addrconf runs. */
static int host_side_up(vs_net_t *net, const char *host, vs_error_t *err)
{
        int ifindex;

        if (sysctl_of(host, "ipv6", "disable_ipv6", "1", err) < 0)
                return vs_error_wrap(err, "disable IPv6 on %s", host);
        ifindex = host_link_index(net, host, err);
        if (ifindex < 0 || vs_nl_link_up(net->sock, ifindex, 0, err) < 0)
                return -1;
        return 0;
}

int vs_net_vps_setup(vs_net_t *net, const struct vs_net_vps *vps, pid_t pid, vs_error_t *err)
{
        char host[VS_IFNAME_MAX];
        int master;

        vs_net_host_ifname(vps->name, host);
        master = host_prepare(net, err);
        if (master < 0)
                return vs_error_wrap(err, "network");
        /* a veth of this name is the last run's, still to be deleted by
         * the reaper, or a leftover of a crashed start: it gives up the
         * name (renamed for the reaper) */
        vs_reaper_retire(&net->reaper, net->sock, host, NULL);
        if (create_veth(net, host, vps->name, pid, master, err) < 0) {
                /* the bridge may have been deleted under vsd: check it
                 * again at the next start */
                net->host_ready = 0;
                return vs_error_wrap(err, "network");
        }
        if (host_side_up(net, host, err) < 0 ||
            (net->conf.mode == VS_NET_ROUTED && host_routes(net, host, vps, err) < 0) ||
            guest_configure(net, vps, pid, err) < 0) {
                vs_nl_delete_link(net->sock, host, NULL);
                return vs_error_wrap(err, "network");
        }
        return 0;
}

static int has_ip4(const struct vs_net_vps *vps, uint32_t addr)
{
        for (size_t i = 0; i < vps->naddrs; i++)
                if (vps->addrs[i].addr == addr)
                        return 1;
        return 0;
}

static int has_ip6(const struct vs_net_vps *vps, const unsigned char addr[16])
{
        for (size_t i = 0; i < vps->naddrs6; i++)
                if (vs_ip6_equal(vps->addrs6[i].addr, addr))
                        return 1;
        return 0;
}

/* What `was` had and `now` lacks: off eth0 and, routed, off the host. */
static int drop_removed(vs_net_t *net, struct nl_sock *sock, int ifindex, const char *host,
                        const struct vs_net_vps *was, const struct vs_net_vps *now, vs_error_t *err)
{
        int routed = net->conf.mode == VS_NET_ROUTED;
        int host_ifindex = routed ? host_link_index(net, host, err) : 0;

        if (host_ifindex < 0)
                return -1;
        for (size_t i = 0; i < was->naddrs; i++) {
                const vs_ip4_t *ip = &was->addrs[i];

                if (has_ip4(now, ip->addr))
                        continue;
                if (del_nladdr(sock, ifindex,
                               ip4_nladdr(ip->addr, guest_prefix(net, ip->prefix, 32)), err) < 0 ||
                    (routed &&
                     route_nl(net->sock, 0, host_ifindex, ip4_nladdr(ip->addr, 32), NULL, err) < 0))
                        return -1;
        }
        for (size_t i = 0; i < was->naddrs6; i++) {
                const vs_ip6_t *ip = &was->addrs6[i];

                if (has_ip6(now, ip->addr))
                        continue;
                if (del_nladdr(sock, ifindex,
                               ip6_nladdr(ip->addr, guest_prefix(net, ip->prefix, 128)), err) < 0 ||
                    (routed && route_nl(net->sock, 0, host_ifindex, ip6_nladdr(ip->addr, 128), NULL,
                                        err) < 0))
                        return -1;
        }
        return 0;
}

int vs_net_vps_readdress(vs_net_t *net, const struct vs_net_vps *was, const struct vs_net_vps *now,
                         pid_t pid, vs_error_t *err)
{
        cleanup_nlsock struct nl_sock *sock = NULL;
        char host[VS_IFNAME_MAX];
        unsigned char gateway_mac[6];
        int ifindex;

        if (was->naddrs + was->naddrs6 == 0)
                return vs_net_vps_setup(net, now, pid, err);
        if (now->naddrs + now->naddrs6 == 0)
                return vs_net_vps_teardown(net, now->name, err);
        vs_net_host_ifname(now->name, host);
        /* new addresses first, the default routes last: a device whose
         * last IPv4 address goes loses its IPv4 routes with it */
        if ((net->conf.mode == VS_NET_ROUTED && (host_routes(net, host, now, err) < 0 ||
                                                 host_mac(net, now->name, gateway_mac, err) < 0)) ||
            connect_in_netns(net, pid, &sock, err) < 0)
                return vs_error_wrap(err, "network");
        ifindex = link_index(sock, GUEST_IFNAME, err);
        if (ifindex < 0 ||
            (!was->naddrs6 && now->naddrs6 &&
             guest_link_local(sock, ifindex, now->name, err) < 0) ||
            guest_addresses(net, sock, ifindex, now, err) < 0 ||
            guest_neighbours(net, sock, ifindex, now, gateway_mac, err) < 0 ||
            drop_removed(net, sock, ifindex, host, was, now, err) < 0 ||
            guest_routes(net, sock, ifindex, now, err) < 0)
                return vs_error_wrap(err, "network");
        return 0;
}

int vs_net_vps_teardown(vs_net_t *net, const char *name, vs_error_t *err)
{
        char host[VS_IFNAME_MAX];

        vs_net_host_ifname(name, host);
        if (vs_reaper_doom(&net->reaper, net->sock, host, err) < 0)
                return -1;
        return vs_net_vps_rate_teardown(net, name, err);
}

int vs_net_vps_counters(vs_net_t *net, const char *name, struct vs_net_counters *out,
                        vs_error_t *err)
{
        cleanup_link struct rtnl_link *link = NULL;
        char host[VS_IFNAME_MAX];
        int rc;

        vs_net_host_ifname(name, host);
        rc = rtnl_link_get_kernel(net->sock, 0, host, &link);
        if (rc < 0)
                return vs_error_set(err, ENODEV, "read counters of %s: %s", host, nl_geterror(rc));
        /* the host side's tx is the VPS's rx */
        out->rx_bytes = rtnl_link_get_stat(link, RTNL_LINK_TX_BYTES);
        out->tx_bytes = rtnl_link_get_stat(link, RTNL_LINK_RX_BYTES);
        out->rx_packets = rtnl_link_get_stat(link, RTNL_LINK_TX_PACKETS);
        out->tx_packets = rtnl_link_get_stat(link, RTNL_LINK_RX_PACKETS);
        return 0;
}

struct sweep_ctx {
        const char *prefix, *type;
        int (*keep)(const char *ifname, void *arg);
        void *arg;
        char (*doomed)[VS_IFNAME_MAX];
        size_t n, cap;
};

static void sweep_one(struct nl_object *obj, void *data)
{
        struct rtnl_link *link = (struct rtnl_link *)obj;
        struct sweep_ctx *ctx = data;
        const char *name = rtnl_link_get_name(link);
        const char *type = rtnl_link_get_type(link);

        if (!name || strncmp(name, ctx->prefix, strlen(ctx->prefix)) != 0 || !type ||
            strcmp(type, ctx->type) != 0 || ctx->keep(name, ctx->arg))
                return;
        ctx->doomed = vs_xgrow(ctx->doomed, ctx->n, &ctx->cap, 16, sizeof(*ctx->doomed));
        vs_strlcpy(ctx->doomed[ctx->n++], name, VS_IFNAME_MAX);
}

int vs_nl_sweep(struct nl_sock *sock, const char *prefix, const char *type,
                int (*keep)(const char *ifname, void *arg), void *arg, vs_error_t *err)
{
        struct nl_cache *cache = NULL;
        struct sweep_ctx ctx = { .prefix = prefix, .type = type, .keep = keep, .arg = arg };
        int rc = rtnl_link_alloc_cache(sock, AF_UNSPEC, &cache);
        int deleted = 0;

        if (rc < 0)
                return nl_fail(err, rc, "list links");
        nl_cache_foreach(cache, sweep_one, &ctx);
        nl_cache_free(cache);
        /* deleted after the walk: the cache is not changed under it */
        for (size_t i = 0; i < ctx.n; i++)
                if (vs_nl_delete_link(sock, ctx.doomed[i], err) == 0)
                        deleted++;
        free(ctx.doomed);
        return deleted;
}

int vs_nl_keep_none(const char *ifname, void *arg)
{
        return 0;
}

int vs_net_sweep(vs_net_t *net, int (*keep)(const char *ifname, void *arg), void *arg,
                 vs_error_t *err)
{
        int gone = vs_nl_sweep(net->sock, "vs-", "veth", keep, arg, err);
        int doomed;

        if (gone < 0)
                return -1;
        /* retired by a vsd that was killed before its reaper deleted them */
        doomed = vs_nl_sweep(net->sock, VS_NET_DOOMED_PREFIX, "veth", vs_nl_keep_none, NULL, err);
        return doomed < 0 ? -1 : gone + doomed;
}
