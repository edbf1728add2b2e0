/* netns: each VPS's network. A veth pair per VPS (host side "vs-NAME", guest
 * side eth0 in the VPS's network namespace), IPv4 addresses from a pool in
 * vsd.conf, and either one bridge holding the pool's gateway (bridge mode)
 * or a host route per VPS address (routed mode); bandwidth caps with TBF on
 * the host side (an ifb for what the VPS sends). Everything is done over
 * netlink (libnl-route) in vsd's own network namespace and the VPS's; libnl
 * types stay inside netns/. */
#ifndef VS_NETNS_H
#define VS_NETNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vs/error.h"
#include "vs/kvfile.h"

#define VS_IFNAME_MAX 16 /* IFNAMSIZ, with the terminating NUL */
#define VS_NET_ADDRS_MAX 16

/* Brings up "lo" in the calling process's network namespace. */
int vs_net_loopback_up(vs_error_t *err);

/* ---- addresses and the pool (no kernel side effects) ---- */

/* An IPv4 address in host byte order and its prefix length. */
typedef struct {
        uint32_t addr;
        unsigned prefix;
} vs_ip4_t;

/* Parses "a.b.c.d" or "a.b.c.d/len". Without "/len" the prefix is
 * default_prefix; default_prefix < 0 makes "/len" required. */
int vs_ip4_parse(const char *text, int default_prefix, vs_ip4_t *out, vs_error_t *err);
/* "a.b.c.d" or, with_prefix, "a.b.c.d/len"; buf needs 19 bytes. */
void vs_ip4_format(const vs_ip4_t *ip, int with_prefix, char *buf, size_t size);
uint32_t vs_ip4_mask(unsigned prefix);

/* A pool: the network of `net`, its gateway (the first host address).
 * Hosts are what lies between the gateway and the broadcast address. */
typedef struct {
        vs_ip4_t net;
        uint32_t gateway;
} vs_pool4_t;

/* "10.77.0.0/16": the prefix must be 8..30 and the address its network. */
int vs_pool4_parse(const char *text, vs_pool4_t *pool, vs_error_t *err);
int vs_pool4_contains(const vs_pool4_t *pool, uint32_t addr);
/* In the pool and neither its network, gateway nor broadcast address. */
int vs_pool4_is_host(const vs_pool4_t *pool, uint32_t addr);
/* The lowest host address of the pool not in used[0..n) (any order). */
int vs_pool4_next(const vs_pool4_t *pool, const uint32_t *used, size_t n, uint32_t *out,
                  vs_error_t *err);

/* An IPv6 address and its prefix length. */
typedef struct {
        unsigned char addr[16];
        unsigned prefix;
} vs_ip6_t;

/* Whether text looks like an IPv6 address (has a colon): which parser. */
int vs_ip_is_v6(const char *text);
/* Like vs_ip4_parse, for IPv6 (prefix 0..128). */
int vs_ip6_parse(const char *text, int default_prefix, vs_ip6_t *out, vs_error_t *err);
/* Compressed form, with "/len" if with_prefix; buf needs 44 bytes. */
void vs_ip6_format(const vs_ip6_t *ip, int with_prefix, char *buf, size_t size);
int vs_ip6_equal(const unsigned char a[16], const unsigned char b[16]);
/* Not unspecified, loopback, multicast, link-local or IPv4-mapped. */
int vs_ip6_is_unicast(const unsigned char a[16]);

/* An IPv6 pool: a /64 to /126 network; its gateway is network + 1. */
typedef struct {
        vs_ip6_t net;
        unsigned char gateway[16];
} vs_pool6_t;

int vs_pool6_parse(const char *text, vs_pool6_t *pool, vs_error_t *err);
int vs_pool6_contains(const vs_pool6_t *pool, const unsigned char addr[16]);
/* In the pool and neither its network (subnet-router anycast) nor gateway. */
int vs_pool6_is_host(const vs_pool6_t *pool, const unsigned char addr[16]);
/* The lowest host address of the pool not in used[0..n) (any order; those
 * outside the pool are ignored). */
int vs_pool6_next(const vs_pool6_t *pool, const vs_ip6_t *used, size_t n, vs_ip6_t *out,
                  vs_error_t *err);

/* ---- names ---- */

/* "vs-NAME", or for a name too long for an interface "vs-" + its first 3
 * characters + "-" + 8 hex digits of a hash of the whole name: stable, so
 * that a restarted vsd finds the veths of the VPS it adopts. */
void vs_net_host_ifname(const char *vps, char out[VS_IFNAME_MAX]);
/* The VPS's ifb device, which carries its outgoing traffic while it has a
 * --rate-out cap: "vsi-NAME", or "vsi-" + 2 characters + "-" + 8 hex digits
 * of the same hash, for a name too long for an interface. */
void vs_net_ifb_ifname(const char *vps, char out[VS_IFNAME_MAX]);
/* A locally administered unicast MAC derived from the VPS's name. */
void vs_net_guest_mac(const char *vps, unsigned char mac[6]);

/* ---- bandwidth caps (no kernel side effects) ---- */

/* Caps in bit/s; 0 is no cap. The largest fits the kernel's 32-bit TBF rate
 * in bytes/s (libnl 3.7 has no 64-bit one). */
#define VS_RATE_MIN 8000ULL
#define VS_RATE_MAX 16000000000ULL

/* Parses a cap: bit/s with an optional decimal multiple K, M or G (1000,
 * as tc's kbit, mbit, gbit; "bit" may follow: 10Mbit) and decimals (1.5M);
 * "0", "none" and "unlimited" are no cap (0). Anything else, or a cap
 * outside VS_RATE_MIN..VS_RATE_MAX, is a usage error naming `what`
 * ("--rate-out '10Q': unknown unit 'Q' ..."). */
int vs_rate_parse(const char *text, const char *what, uint64_t *bits, vs_error_t *err);
/* "10M", "1500K", "12345", or "none" for 0; buf needs 24 bytes. */
void vs_rate_format(uint64_t bits, char *buf, size_t size);

/* A token bucket filter for a cap: rate in bytes/s, the bucket and the
 * queue limit in bytes, for frames of `mtu`. */
struct vs_tbf {
        uint32_t rate, burst, limit;
};
void vs_rate_tbf(uint64_t bits, unsigned mtu, struct vs_tbf *out);

/* ---- vsd's network settings (etc/paene/vsd.conf) ---- */

enum vs_net_mode { VS_NET_BRIDGE, VS_NET_ROUTED };

typedef struct {
        enum vs_net_mode mode;
        char bridge[VS_IFNAME_MAX];
        vs_pool4_t pool4;
        int has_pool6; /* IPv6 is opt-in: only with a pool6 in vsd.conf */
        vs_pool6_t pool6;
        unsigned mtu;
        char uplink[VS_IFNAME_MAX]; /* "": no masquerade (see netns/nft.c) */
} vs_net_conf_t;

/* Reads network_mode, bridge, pool4, pool6, mtu and uplink from `path`
 * below `dirfd`; a missing file or key takes the default (bridge vsbr0,
 * 10.77.0.0/16, no IPv6, MTU 1500, no uplink). */
int vs_net_conf_load(int dirfd, const char *path, vs_net_conf_t *conf, vs_error_t *err);
/* The same keys from a parsed file (the defaults for those it lacks). */
int vs_net_conf_parse(const vs_kv_t *kv, vs_net_conf_t *conf, vs_error_t *err);

/* ---- plumbing (netlink, in vsd's network namespace) ---- */

typedef struct vs_net vs_net_t;

int vs_net_open(const vs_net_conf_t *conf, vs_net_t **out, vs_error_t *err);
void vs_net_free(vs_net_t *net);
const vs_net_conf_t *vs_net_conf(const vs_net_t *net);

struct vs_net_vps {
        const char *name;
        const vs_ip4_t *addrs; /* the first one carries the default route */
        size_t naddrs;
        const vs_ip6_t *addrs6;
        size_t naddrs6;
};

/* Creates the VPS's veth pair with its guest side as eth0 in the network
 * namespace of `pid`, and configures both sides; a link with its host
 * side's name (the last run's, still to be deleted) is renamed out of the
 * way first. On failure nothing of it is left in vsd's namespace. */
int vs_net_vps_setup(vs_net_t *net, const struct vs_net_vps *vps, pid_t pid, vs_error_t *err);
/* A running VPS's addresses change from `was` to `now` (same name): new
 * ones are added on eth0 (and routed, on the host), the missing ones
 * removed, the default routes kept. From no address to some it sets the
 * network up; from some to none it tears it down. */
int vs_net_vps_readdress(vs_net_t *net, const struct vs_net_vps *was, const struct vs_net_vps *now,
                         pid_t pid, vs_error_t *err);
/* Deletes the VPS's host-side veth (and with it the guest side and its
 * qdiscs) and its ifb; what is already gone is not an error. Off the
 * caller's path, by a fork of the caller's (the kernel's unregister takes
 * ~20 ms): the veth is handed over by its index and keeps its name until
 * it is deleted (vs_net_vps_setup renames one it finds in its way), which
 * takes no RTNL lock here; the ifb is renamed VS_NET_DOOMED_PREFIX + its
 * ifindex at once. vs_net_free waits for those deletions. */
#define VS_NET_DOOMED_PREFIX "vsx-"
/* The ports a Linux bridge takes (BR_MAX_PORTS less port 0): bridge mode
 * holds at most this many VPS with a network. */
#define VS_NET_BRIDGE_PORTS 1023
int vs_net_vps_teardown(vs_net_t *net, const char *name, vs_error_t *err);
/* Traffic of a running VPS as the VPS sees it (its rx is what the host side
 * sent), read from the host side's counters. */
struct vs_net_counters {
        uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets;
};
int vs_net_vps_counters(vs_net_t *net, const char *name, struct vs_net_counters *out,
                        vs_error_t *err);
/* Caps a running VPS's traffic, or with bits 0 lifts the cap; applying a
 * cap again replaces it in place. Everything is on the host side, in vsd's
 * namespace, out of reach of the VPS's root (it has no capability there):
 * - VS_RATE_IN, what the VPS receives: a TBF as the root qdisc of the
 *   host-side veth (what the host side sends is what the VPS receives);
 * - VS_RATE_OUT, what the VPS sends: the host-side veth's ingress redirects
 *   every packet (u32 match-all, mirred) to the VPS's ifb (vs_net_ifb_ifname),
 *   whose root qdisc is the TBF. Lifting it deletes the ingress qdisc and
 *   the ifb. */
enum vs_rate_dir { VS_RATE_OUT, VS_RATE_IN };
int vs_net_vps_rate(vs_net_t *net, const char *name, enum vs_rate_dir dir, uint64_t bits,
                    vs_error_t *err);
/* Deletes the VPS's ifb, if there is one (vs_net_vps_teardown does it too). */
int vs_net_vps_rate_teardown(vs_net_t *net, const char *name, vs_error_t *err);
/* Deletes every ifb of paene's ("vsi-*") for which keep() says no. Returns
 * how many were deleted. */
int vs_net_sweep_ifbs(vs_net_t *net, int (*keep)(const char *ifname, void *arg), void *arg,
                      vs_error_t *err);
/* Deletes every host-side veth of paene's ("vs-*") for which keep() says
 * no. Returns how many were deleted. */
int vs_net_sweep(vs_net_t *net, int (*keep)(const char *ifname, void *arg), void *arg,
                 vs_error_t *err);

/* ---- port forwards (no kernel side effects: netns/portfwd.c) ---- */

#define VS_PORTFWD_MAX 64  /* per VPS */
#define VS_PORTFWD_TEXT 20 /* "65535:65535/udp" and its NUL, with room */

enum vs_l4 { VS_L4_TCP = 6, VS_L4_UDP = 17 };

/* HOSTPORT on every local address of vsd's namespace goes to VPSPORT of
 * the VPS's first IPv4 address. */
typedef struct {
        uint16_t host_port, vps_port;
        uint8_t proto; /* enum vs_l4 */
} vs_portfwd_t;

/* "HOSTPORT:VPSPORT[/tcp|/udp]", ports 1..65535, tcp by default. */
int vs_portfwd_parse(const char *text, vs_portfwd_t *out, vs_error_t *err);
/* "HOSTPORT:VPSPORT/proto"; buf needs VS_PORTFWD_TEXT bytes. */
void vs_portfwd_format(const vs_portfwd_t *f, char *buf, size_t size);
const char *vs_l4_name(uint8_t proto);
/* A removal: "HOSTPORT[/tcp|/udp]" (no protocol: both) or "all".
 * proto is 0 for both; host_port 0 for all. */
int vs_portfwd_parse_del(const char *text, vs_portfwd_t *out, vs_error_t *err);
int vs_portfwd_matches_del(const vs_portfwd_t *f, const vs_portfwd_t *del);
/* A config's "port_forward" value: blank-separated forwards; a host port and
 * protocol may appear once. */
int vs_portfwd_parse_list(const char *text, vs_portfwd_t *out, size_t max, size_t *n,
                          vs_error_t *err);
/* The list as a config value; malloc'd. */
char *vs_portfwd_format_list(const vs_portfwd_t *f, size_t n);

/* ---- nftables: NAT, port forwards, anti-spoofing (netns/nft.c) ---- */

/* vsd's rules live in tables of its own, all named "paene", in vsd's network
 * namespace: "inet paene" (NAT, forwards; routed mode's guard), "bridge
 * paene" (bridge mode's guard) and "arp paene" (routed mode's ARP guard).
 * A VPS is a handful of set elements keyed by its host-side interface; the
 * rules never change after vs_nft_open. One libnftables context per vsd. */
typedef struct vs_nft vs_nft_t;

/* What vsd enforces for one running VPS. */
struct vs_nft_vps {
        const char *ifname;       /* host side of its veth (vs_net_host_ifname) */
        const unsigned char *mac; /* the only source MAC it may send from */
        /* the only source addresses it may send from: IPv4 or IPv6 text,
         * "/prefix" allowed and ignored. IPv6 link-local (fe80::/10) and the
         * unspecified source (::, for DAD) are always allowed. */
        const char *const *addrs;
        size_t naddrs;
        /* DNAT to the first IPv4 address in addrs */
        const vs_portfwd_t *fwds;
        size_t nfwds;
};

/* Makes the tables afresh in one transaction (what an earlier vsd left is
 * replaced whole) with the elements of `vps[0..n)`, the VPS that run. */
int vs_nft_open(const vs_net_conf_t *conf, const struct vs_nft_vps *vps, size_t n, vs_nft_t **out,
                vs_error_t *err);
/* Frees vsd's context; the tables stay (the VPS keep running). */
void vs_nft_free(vs_nft_t *nft);
/* Installs a VPS's elements or replaces the ones it had, in one
 * transaction: live address (--ipadd/--ipdel) and forward changes call it
 * again with the whole new set. On failure the old ones stay. */
int vs_nft_vps_update(vs_nft_t *nft, const struct vs_nft_vps *vps, vs_error_t *err);
/* Removes every element of the VPS; one that has none is not an error. */
int vs_nft_vps_remove(vs_nft_t *nft, const char *ifname, vs_error_t *err);
/* The same, later: the VPS's record goes now (a later update of its
 * interface adds afresh), its elements' removal waits for vs_nft_flush or
 * goes first in the next transaction, whichever comes first, so that
 * every later change of the tables sees them gone. The removals of many
 * stops then cost one transaction (libnftables fetches its cache for
 * each). */
void vs_nft_vps_remove_later(vs_nft_t *nft, const char *ifname);
/* Runs the removals waiting, in one transaction (nothing waits: 0). */
int vs_nft_flush(vs_nft_t *nft, vs_error_t *err);
/* How many VPS's removals wait. */
size_t vs_nft_pending(const vs_nft_t *nft);

/* ---- files in the VPS ---- */

/* What a VPS's /etc files say. */
struct vs_net_etc {
        const char *hostname;
        const vs_ip4_t *addrs;
        size_t naddrs;
        const vs_ip6_t *addrs6;
        size_t naddrs6;
        const char *nameservers;   /* blank-separated, or NULL */
        const char *searchdomains; /* blank-separated, or NULL */
};

/* Writes etc/hostname, etc/hosts and, with name servers or search domains,
 * etc/resolv.conf below `root_fd` (the VPS's upper layer before its start,
 * or its root while it runs), owned by uid:gid (the VPS's root). Never
 * follows a symlink the VPS may have planted. */
int vs_net_write_etc(int root_fd, uid_t uid, gid_t gid, const struct vs_net_etc *etc,
                     unsigned *created, vs_error_t *err);
/* What resolv.conf takes: a name server is an IPv4 or IPv6 address, a
 * search domain a DNS name. A usage error names the option and the value. */
int vs_net_check_nameserver(const char *text, vs_error_t *err);
int vs_net_check_searchdomain(const char *text, vs_error_t *err);
/* Only etc/resolv.conf (for a live change of name servers). */
int vs_net_write_resolv(int root_fd, uid_t uid, gid_t gid, const struct vs_net_etc *etc,
                        vs_error_t *err);
/* What vs_net_write_etc made that was not there before: a failed start
 * removes it again, so that it leaves the VPS's layer as it found it. */
#define VS_ETC_CREATED_DIR 1U
#define VS_ETC_CREATED_FILE(i) (2U << (i))
void vs_net_undo_etc(int upper_fd, unsigned created);

#endif
