/* IPv6 addresses and the IPv6 pool: parsing, formatting and the pool's
 * arithmetic, without the kernel. A pool is one prefix of /64 or longer;
 * its first address after the network is the gateway and VPS get the lowest
 * free ones after it, so that addresses read like the IPv4 pool's. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vs/parse.h"
#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/netns.h"

static int parse_prefix6(const char *text, unsigned *prefix, vs_error_t *err)
{
        uint64_t value = 0;

        if (vs_digits(text, 128, &value) < 0)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "prefix length '/%s' is not a number from 0 to 128", text);
        *prefix = (unsigned)value;
        return 0;
}

int vs_ip_is_v6(const char *text)
{
        return text && strchr(text, ':') != NULL;
}

int vs_ip6_parse(const char *text, int default_prefix, vs_ip6_t *out, vs_error_t *err)
{
        char buf[64];
        char *slash;

        if (!text || strlen(text) >= sizeof(buf))
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "'%s' is not an IPv6 address",
                                     text ? text : "");
        strcpy(buf, text);
        slash = strchr(buf, '/');
        if (slash)
                *slash = '\0';
        if (inet_pton(AF_INET6, buf, out->addr) != 1)
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "'%s' is not an IPv6 address", text);
        if (slash)
                return parse_prefix6(slash + 1, &out->prefix, err);
        if (default_prefix < 0)
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "'%s' needs a /prefix length", text);
        out->prefix = (unsigned)default_prefix;
        return 0;
}

void vs_ip6_format(const vs_ip6_t *ip, int with_prefix, char *buf, size_t size)
{
        char text[INET6_ADDRSTRLEN];

        inet_ntop(AF_INET6, ip->addr, text, sizeof(text));
        if (with_prefix)
                snprintf(buf, size, "%s/%u", text, ip->prefix);
        else
                snprintf(buf, size, "%s", text);
}

int vs_ip6_equal(const unsigned char a[16], const unsigned char b[16])
{
        return memcmp(a, b, 16) == 0;
}

/* Whether the first `prefix` bits of a and b agree. */
static int same_prefix(const unsigned char *a, const unsigned char *b, unsigned prefix)
{
        unsigned whole = prefix / 8, rest = prefix % 8;

        if (memcmp(a, b, whole) != 0)
                return 0;
        if (rest == 0)
                return 1;
        return ((a[whole] ^ b[whole]) & (0xff00 >> rest)) == 0;
}

/* The low 64 bits: a pool is /64 or longer, so they hold a host's index. */
static uint64_t low64(const unsigned char a[16])
{
        uint64_t v = 0;

        for (int i = 8; i < 16; i++)
                v = v << 8 | a[i];
        return v;
}

static void set_low64(unsigned char a[16], uint64_t v)
{
        for (int i = 15; i >= 8; i--, v >>= 8)
                a[i] = (unsigned char)v;
}

/* Neither unspecified, loopback, multicast nor link-local: an address a
 * VPS can be reached at. */
int vs_ip6_is_unicast(const unsigned char a[16])
{
        static const unsigned char zero[16], loopback[16] = { [15] = 1 };

        if (vs_ip6_equal(a, zero) || vs_ip6_equal(a, loopback) || a[0] == 0xff)
                return 0;
        if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
                return 0;
        /* IPv4-mapped addresses (::ffff:a.b.c.d) belong to IPv4 */
        return !(memcmp(a, zero, 10) == 0 && a[10] == 0xff && a[11] == 0xff);
}

int vs_pool6_parse(const char *text, vs_pool6_t *pool, vs_error_t *err)
{
        vs_ip6_t net;

        if (vs_ip6_parse(text, -1, &net, err) < 0)
                return vs_error_wrap(err, "pool6");
        /* the host index lives in the low 64 bits */
        if (net.prefix < 64 || net.prefix > 126)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "pool6 '%s': the prefix must be /64 to /126", text);
        if (low64(net.addr) << (net.prefix - 64) != 0)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "pool6 '%s' is not a network address (host bits set)", text);
        if (net.addr[0] == 0xff || (net.addr[0] == 0xfe && (net.addr[1] & 0xc0) == 0x80))
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "pool6 '%s' is multicast or link-local", text);
        pool->net = net;
        memcpy(pool->gateway, net.addr, 16);
        set_low64(pool->gateway, low64(net.addr) + 1);
        return 0;
}

int vs_pool6_contains(const vs_pool6_t *pool, const unsigned char addr[16])
{
        return same_prefix(addr, pool->net.addr, pool->net.prefix);
}

int vs_pool6_is_host(const vs_pool6_t *pool, const unsigned char addr[16])
{
        return vs_pool6_contains(pool, addr) && !vs_ip6_equal(addr, pool->net.addr) &&
               !vs_ip6_equal(addr, pool->gateway);
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

        return x < y ? -1 : x > y;
}

int vs_pool6_next(const vs_pool6_t *pool, const vs_ip6_t *used, size_t n, vs_ip6_t *out,
                  vs_error_t *err)
{
        cleanup_free uint64_t *sorted = vs_xmalloc((n + 1) * sizeof(*sorted));
        uint64_t base = low64(pool->net.addr), candidate = base + 2;
        uint64_t last =
                base | (pool->net.prefix == 64 ? UINT64_MAX
                                               : (UINT64_C(1) << (128 - pool->net.prefix)) - 1);
        size_t k = 0;

        for (size_t i = 0; i < n; i++)
                if (vs_pool6_contains(pool, used[i].addr))
                        sorted[k++] = low64(used[i].addr);
        qsort(sorted, k, sizeof(*sorted), cmp_u64);
        for (size_t i = 0; i < k && sorted[i] <= candidate; i++)
                if (sorted[i] == candidate)
                        candidate++;
        if (candidate > last || candidate < base) {
                char text[64];

                vs_ip6_format(&pool->net, 1, text, sizeof(text));
                return vs_error_kind(err, VS_E_STATE, ENOSPC, "address pool %s is exhausted", text);
        }
        memcpy(out->addr, pool->net.addr, 16);
        set_low64(out->addr, candidate);
        out->prefix = pool->net.prefix;
        return 0;
}
