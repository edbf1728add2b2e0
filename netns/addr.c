/* Addresses, the address pool, interface names and vsd.conf's network keys:
 * the parts of netns/ that need no kernel, so that unit tests cover them. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vs/parse.h"
#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/kvfile.h"
#include "vs/netns.h"

#define DEFAULT_POOL4 "10.77.0.0/16"
#define DEFAULT_BRIDGE "vsbr0"
#define DEFAULT_MTU 1500

uint32_t vs_ip4_mask(unsigned prefix)
{
        return prefix == 0 ? 0 : 0xffffffffU << (32 - prefix);
}

static int parse_prefix(const char *text, unsigned *prefix, vs_error_t *err)
{
        uint64_t value = 0;

        if (vs_digits(text, 32, &value) < 0)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "prefix length '/%s' is not a number from 0 to 32", text);
        *prefix = (unsigned)value;
        return 0;
}

int vs_ip4_parse(const char *text, int default_prefix, vs_ip4_t *out, vs_error_t *err)
{
        char buf[32];
        char *slash;
        struct in_addr in;

        if (!text || strlen(text) >= sizeof(buf))
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "'%s' is not an IPv4 address",
                                     text ? text : "");
        strcpy(buf, text);
        slash = strchr(buf, '/');
        if (slash)
                *slash = '\0';
        /* inet_pton takes only the dotted quad: no "10.1", no octal */
        if (inet_pton(AF_INET, buf, &in) != 1)
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "'%s' is not an IPv4 address", text);
        out->addr = ntohl(in.s_addr);
        if (slash)
                return parse_prefix(slash + 1, &out->prefix, err);
        if (default_prefix < 0)
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "'%s' needs a /prefix length", text);
        out->prefix = (unsigned)default_prefix;
        return 0;
}

void vs_ip4_format(const vs_ip4_t *ip, int with_prefix, char *buf, size_t size)
{
        uint32_t a = ip->addr;

        if (with_prefix)
                snprintf(buf, size, "%u.%u.%u.%u/%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255,
                         a & 255, ip->prefix);
        else
                snprintf(buf, size, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255,
                         a & 255);
}

int vs_pool4_parse(const char *text, vs_pool4_t *pool, vs_error_t *err)
{
        vs_ip4_t net;

        if (vs_ip4_parse(text, -1, &net, err) < 0)
                return vs_error_wrap(err, "pool");
        /* a /31 or /32 has no room for a gateway and a VPS */
        if (net.prefix < 8 || net.prefix > 30)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "pool '%s': the prefix must be /8 to /30", text);
        if (net.addr & ~vs_ip4_mask(net.prefix))
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "pool '%s' is not a network address (host bits set)", text);
        pool->net = net;
        pool->gateway = net.addr + 1;
        return 0;
}

int vs_pool4_contains(const vs_pool4_t *pool, uint32_t addr)
{
        uint32_t mask = vs_ip4_mask(pool->net.prefix);

        return (addr & mask) == pool->net.addr;
}

int vs_pool4_is_host(const vs_pool4_t *pool, uint32_t addr)
{
        uint32_t broadcast = pool->net.addr | ~vs_ip4_mask(pool->net.prefix);

        return vs_pool4_contains(pool, addr) && addr != pool->net.addr && addr != pool->gateway &&
               addr != broadcast;
}

static int cmp_u32(const void *a, const void *b)
{
        uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

        return x < y ? -1 : x > y;
}

int vs_pool4_next(const vs_pool4_t *pool, const uint32_t *used, size_t n, uint32_t *out,
                  vs_error_t *err)
{
        cleanup_free uint32_t *sorted = vs_xmalloc((n + 1) * sizeof(*sorted));
        uint32_t candidate = pool->gateway + 1;
        size_t i;

        if (n)
                memcpy(sorted, used, n * sizeof(*sorted));
        qsort(sorted, n, sizeof(*sorted), cmp_u32);
        /* walk the sorted used list alongside the candidates: the first gap wins */
        for (i = 0; i < n && sorted[i] <= candidate; i++)
                if (sorted[i] == candidate)
                        candidate++;
        if (!vs_pool4_is_host(pool, candidate)) {
                char text[24];

                vs_ip4_format(&pool->net, 1, text, sizeof(text));
                return vs_error_kind(err, VS_E_STATE, ENOSPC, "address pool %s is exhausted", text);
        }
        *out = candidate;
        return 0;
}

/* ---- names ---- */

/* FNV-1a: small, stable across versions and machines. */
static uint32_t name_hash(const char *s)
{
        uint32_t h = 2166136261U;

        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 16777619U;
        return h;
}

/* prefix + vps, or for a name too long prefix + as much of it as leaves
 * room for "-" + its hash (8 hex digits): 15 characters in all. */
static void prefixed_ifname(const char *prefix, const char *vps, char out[VS_IFNAME_MAX])
{
        int room = VS_IFNAME_MAX - 1 - (int)strlen(prefix);

        if (strlen(vps) <= (size_t)room)
                snprintf(out, VS_IFNAME_MAX, "%s%s", prefix, vps);
        else
                snprintf(out, VS_IFNAME_MAX, "%s%.*s-%08x", prefix, room - 9, vps, name_hash(vps));
}

void vs_net_host_ifname(const char *vps, char out[VS_IFNAME_MAX])
{
        prefixed_ifname("vs-", vps, out);
}

/* The same scheme one character shorter: "vsi-" + 11, or "vsi-" + 2 + "-" +
 * hash. Never a "vs-" name, so neither sweep takes the other's devices. */
void vs_net_ifb_ifname(const char *vps, char out[VS_IFNAME_MAX])
{
        prefixed_ifname("vsi-", vps, out);
}

void vs_net_guest_mac(const char *vps, unsigned char mac[6])
{
        uint32_t h1 = name_hash(vps), h2 = h1 * 16777619U ^ 0x5a;

        mac[0] = 0x02; /* locally administered, unicast */
        mac[1] = 0x50; /* "P" for paene: easy to spot in a neighbour table */
        mac[2] = (unsigned char)(h1 >> 24);
        mac[3] = (unsigned char)(h1 >> 16);
        mac[4] = (unsigned char)(h1 >> 8);
        mac[5] = (unsigned char)(h1 ^ h2);
}

/* ---- vsd.conf ---- */

/* An interface name the kernel takes (dev_valid_name: no blank, '/' or
 * ':', not "." or "..") and that ip and nftables read as one plain word
 * (no wildcard, no quote). */
static int ifname_ok(const char *name)
{
        size_t len = strlen(name);

        return len > 0 && len < VS_IFNAME_MAX && strcmp(name, ".") != 0 &&
               strcmp(name, "..") != 0 &&
               strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
                       len;
}

static int conf_apply(const vs_kv_t *kv, vs_net_conf_t *conf, vs_error_t *err)
{
        const char *mode = vs_kv_get(kv, "network_mode");
        const char *bridge = vs_kv_get(kv, "bridge");
        const char *pool = vs_kv_get(kv, "pool4");
        const char *pool6 = vs_kv_get(kv, "pool6");
        const char *mtu = vs_kv_get(kv, "mtu");
        const char *uplink = vs_kv_get(kv, "uplink");
        uint64_t value = 0;

        if (mode && strcmp(mode, "routed") == 0)
                conf->mode = VS_NET_ROUTED;
        else if (mode && strcmp(mode, "bridge") != 0)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "network_mode '%s' is not bridge or routed", mode);
        if (bridge && !ifname_ok(bridge))
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "bridge '%s' is not an interface name (at most %d of "
                                     "a-z A-Z 0-9 - _ .)",
                                     bridge, VS_IFNAME_MAX - 1);
        if (bridge)
                vs_strlcpy(conf->bridge, bridge, sizeof(conf->bridge));
        if (uplink && *uplink && !ifname_ok(uplink))
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "uplink '%s' is not an interface name (at most %d of "
                                     "a-z A-Z 0-9 - _ .)",
                                     uplink, VS_IFNAME_MAX - 1);
        if (uplink)
                vs_strlcpy(conf->uplink, uplink, sizeof(conf->uplink));
        if (pool && vs_pool4_parse(pool, &conf->pool4, err) < 0)
                return -1;
        if (pool6 && *pool6 && strcmp(pool6, "none") != 0) {
                if (vs_pool6_parse(pool6, &conf->pool6, err) < 0)
                        return -1;
                conf->has_pool6 = 1;
        }
        if (mtu) {
                if (vs_digits(mtu, 65535, &value) < 0 || value < 576)
                        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                             "mtu '%s' is not a number from 576 to 65535", mtu);
                conf->mtu = (unsigned)value;
        }
        return 0;
}

static void conf_defaults(vs_net_conf_t *conf)
{
        memset(conf, 0, sizeof(*conf));
        conf->mode = VS_NET_BRIDGE;
        vs_strlcpy(conf->bridge, DEFAULT_BRIDGE, sizeof(conf->bridge));
        conf->mtu = DEFAULT_MTU;
        vs_pool4_parse(DEFAULT_POOL4, &conf->pool4, NULL);
}

int vs_net_conf_parse(const vs_kv_t *kv, vs_net_conf_t *conf, vs_error_t *err)
{
        conf_defaults(conf);
        return conf_apply(kv, conf, err);
}

int vs_net_conf_load(int dirfd, const char *path, vs_net_conf_t *conf, vs_error_t *err)
{
        cleanup_kv vs_kv_t kv = { 0 };

        conf_defaults(conf);
        if (vs_kv_load_optional(dirfd, path, &kv, err) < 0)
                return -1;
        if (conf_apply(&kv, conf, err) < 0)
                return vs_error_wrap(err, "%s", path);
        return 0;
}
