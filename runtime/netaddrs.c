/* The rules of a VPS's addresses and port forwards, apart from the
 * daemon's state: what an "ip" value holds, which --ipadd a pool takes,
 * what --ipdel leaves, how forwards change and clash. vpsnet.c gives them
 * the pools and what the other VPS hold; the unit tests (test_vsd.c) give
 * them their own. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/netns.h"
#include "vsd.h"

/* Parses a config's "ip" value: blank-separated ADDR/PREFIX, either family. */
int vsd_net_parse_ips(const char *text, struct vsd_net_addrs *out, vs_error_t *err)
{
        cleanup_free char *copy = vs_xstrdup(text ? text : "");
        char *save = NULL;

        out->n4 = out->n6 = 0;
        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                size_t *n = vs_ip_is_v6(w) ? &out->n6 : &out->n4;

                if (*n == VS_NET_ADDRS_MAX)
                        return vs_error_kind(err, VS_E_USAGE, E2BIG,
                                             "more than %d addresses of one family",
                                             VS_NET_ADDRS_MAX);
                if (vs_ip_is_v6(w) ? vs_ip6_parse(w, 128, &out->v6[(*n)++], err)
                                   : vs_ip4_parse(w, 32, &out->v4[(*n)++], err))
                        return -1;
        }
        return 0;
}

/* "ADDR/PREFIX ..." of both families, IPv4 first. */
char *vsd_net_format_ips(const struct vsd_net_addrs *addrs)
{
        char *text = vs_xstrdup(""), buf[64];

        for (size_t i = 0; i < addrs->n4 + addrs->n6; i++) {
                char *more;

                if (i < addrs->n4)
                        vs_ip4_format(&addrs->v4[i], 1, buf, sizeof(buf));
                else
                        vs_ip6_format(&addrs->v6[i - addrs->n4], 1, buf, sizeof(buf));
                more = vs_strdupf("%s%s%s", text, *text ? " " : "", buf);
                free(text);
                text = more;
        }
        return text;
}

/* A set of addresses held (vsd.h) */
void vsd_used_addrs_free(struct vsd_used_addrs *u)
{
        free(u->v4);
        free(u->v6);
}

void vsd_used_add4(struct vsd_used_addrs *u, uint32_t addr)
{
        u->v4 = vs_xgrow(u->v4, u->n4, &u->cap4, 64, sizeof(*u->v4));
        u->v4[u->n4++] = addr;
}

void vsd_used_add6(struct vsd_used_addrs *u, const vs_ip6_t *ip)
{
        u->v6 = vs_xgrow(u->v6, u->n6, &u->cap6, 64, sizeof(*u->v6));
        u->v6[u->n6++] = *ip;
}

static int is_used4(const struct vsd_used_addrs *u, uint32_t addr)
{
        for (size_t i = 0; i < u->n4; i++)
                if (u->v4[i] == addr)
                        return 1;
        return 0;
}

static int is_used6(const struct vsd_used_addrs *u, const unsigned char addr[16])
{
        for (size_t i = 0; i < u->n6; i++)
                if (vs_ip6_equal(u->v6[i].addr, addr))
                        return 1;
        return 0;
}

static int in_use_error(vs_error_t *err, const char *text)
{
        return vs_error_kind(err, VS_E_STATE, EADDRINUSE,
                             "--ipadd %s: address already in use by another VPS", text);
}

/* One IPv4 --ipadd: inside the pool it takes the pool's prefix unless
 * given, and may not be the pool's network, gateway or broadcast address. */
static int check_given4(const vs_net_conf_t *conf, const char *text,
                        const struct vsd_used_addrs *used, vs_ip4_t *out, vs_error_t *err)
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
        if (is_used4(used, a))
                return in_use_error(err, text);
        return 0;
}

/* One IPv6 --ipadd, by the same rules against pool6. */
static int check_given6(const vs_net_conf_t *conf, const char *text,
                        const struct vsd_used_addrs *used, vs_ip6_t *out, vs_error_t *err)
{
        const vs_pool6_t *pool = &conf->pool6;
        int in_pool;

        if (vs_ip6_parse(text, 128, out, err) < 0)
                return vs_error_wrap(err, "--ipadd");
        in_pool = conf->has_pool6 && vs_pool6_contains(pool, out->addr);
        if (!strchr(text, '/'))
                out->prefix = in_pool ? pool->net.prefix : 128;
        if (out->prefix < 16)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "--ipadd %s: the prefix must be /16 to /128", text);
        if (!vs_ip6_is_unicast(out->addr))
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "--ipadd %s: not a global unicast address", text);
        if (in_pool && !vs_pool6_is_host(pool, out->addr))
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "--ipadd %s: the pool's network or gateway address", text);
        if (conf->mode == VS_NET_BRIDGE && !in_pool)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     conf->has_pool6
                                             ? "--ipadd %s: outside pool6 (bridge mode takes the "
                                               "pool's addresses only; routed mode takes any)"
                                             : "--ipadd %s: bridge mode needs a pool6 in vsd.conf "
                                               "for IPv6 addresses",
                                     text);
        if (is_used6(used, out->addr))
                return in_use_error(err, text);
        return 0;
}

/* Checks each of given[] and adds it to addrs (and to used: twice in one
 * request is refused too). */
int vsd_net_add_given(const vs_net_conf_t *conf, char *const *given, size_t ngiven,
                      struct vsd_used_addrs *used, struct vsd_net_addrs *addrs, vs_error_t *err)
{
        for (size_t i = 0; i < ngiven; i++) {
                if (vs_ip_is_v6(given[i])) {
                        if (addrs->n6 == VS_NET_ADDRS_MAX)
                                return vs_error_kind(err, VS_E_USAGE, E2BIG,
                                                     "more than %d IPv6 addresses",
                                                     VS_NET_ADDRS_MAX);
                        if (check_given6(conf, given[i], used, &addrs->v6[addrs->n6], err) < 0)
                                return -1;
                        vsd_used_add6(used, &addrs->v6[addrs->n6++]);
                } else {
                        if (addrs->n4 == VS_NET_ADDRS_MAX)
                                return vs_error_kind(err, VS_E_USAGE, E2BIG,
                                                     "more than %d IPv4 addresses",
                                                     VS_NET_ADDRS_MAX);
                        if (check_given4(conf, given[i], used, &addrs->v4[addrs->n4], err) < 0)
                                return -1;
                        vsd_used_add4(used, addrs->v4[addrs->n4++].addr);
                }
        }
        return 0;
}

static int is_none(char *const *given, size_t ngiven, vs_error_t *err)
{
        for (size_t i = 0; i < ngiven; i++)
                if (strcmp(given[i], "none") == 0) {
                        if (ngiven > 1)
                                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                                     "--ipadd none cannot go with addresses");
                        return 1;
                }
        return 0;
}

char *vsd_net_pick(const vs_net_conf_t *conf, struct vsd_used_addrs *used, char *const *given,
                   size_t ngiven, vs_error_t *err)
{
        struct vsd_net_addrs addrs = { .n4 = 0 };
        int none = is_none(given, ngiven, err);

        /* "--ipadd none": no network but its loopback (an empty ip key) */
        if (none)
                return none < 0 ? NULL : vs_xstrdup("");
        if (vsd_net_add_given(conf, given, ngiven, used, &addrs, err) < 0)
                return NULL;
        if (ngiven)
                return vsd_net_format_ips(&addrs);
        addrs.v4[0].prefix = conf->pool4.net.prefix;
        if (vs_pool4_next(&conf->pool4, used->v4, used->n4, &addrs.v4[0].addr, err) < 0)
                return NULL;
        addrs.n4 = 1;
        if (conf->has_pool6) {
                if (vs_pool6_next(&conf->pool6, used->v6, used->n6, &addrs.v6[0], err) < 0)
                        return NULL;
                addrs.n6 = 1;
        }
        return vsd_net_format_ips(&addrs);
}

/* The addresses after --ipdel (ADDR, with or without its prefix, or "all")
 * and before --ipadd; an address the VPS does not hold is an error. */
int vsd_net_remove_addrs(struct vsd_net_addrs *addrs, char *const *del, size_t ndel,
                         vs_error_t *err)
{
        for (size_t i = 0; i < ndel; i++) {
                vs_ip4_t ip4;
                vs_ip6_t ip6;
                size_t j;

                if (strcmp(del[i], "all") == 0) {
                        addrs->n4 = addrs->n6 = 0;
                        continue;
                }
                if (vs_ip_is_v6(del[i])) {
                        if (vs_ip6_parse(del[i], 128, &ip6, err) < 0)
                                return vs_error_wrap(err, "--ipdel");
                        for (j = 0; j < addrs->n6 && !vs_ip6_equal(addrs->v6[j].addr, ip6.addr);
                             j++)
                                ;
                        if (j < addrs->n6) {
                                memmove(&addrs->v6[j], &addrs->v6[j + 1],
                                        (--addrs->n6 - j) * sizeof(addrs->v6[0]));
                                continue;
                        }
                } else {
                        if (vs_ip4_parse(del[i], 32, &ip4, err) < 0)
                                return vs_error_wrap(err, "--ipdel");
                        for (j = 0; j < addrs->n4 && addrs->v4[j].addr != ip4.addr; j++)
                                ;
                        if (j < addrs->n4) {
                                memmove(&addrs->v4[j], &addrs->v4[j + 1],
                                        (--addrs->n4 - j) * sizeof(addrs->v4[0]));
                                continue;
                        }
                }
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "--ipdel %s: the VPS has no such address", del[i]);
        }
        return 0;
}

int vsd_net_forwards_edit(vs_portfwd_t *fwds, size_t *n, char *const *add, char *const *del,
                          size_t *first_new, vs_error_t *err)
{
        vs_portfwd_t f;

        for (char *const *p = del; p && *p; p++) {
                size_t kept = 0;

                if (vs_portfwd_parse_del(*p, &f, err) < 0)
                        return -1;
                for (size_t i = 0; i < *n; i++)
                        if (!vs_portfwd_matches_del(&fwds[i], &f))
                                fwds[kept++] = fwds[i];
                if (kept == *n && f.host_port)
                        return vs_error_kind(err, VS_E_NOTFOUND, ENOENT,
                                             "--port-forward-del %s: no such port forward", *p);
                *n = kept;
        }
        *first_new = *n;
        for (char *const *p = add; p && *p; p++) {
                if (vs_portfwd_parse(*p, &f, err) < 0)
                        return -1;
                for (size_t i = 0; i < *n; i++)
                        if (fwds[i].host_port == f.host_port && fwds[i].proto == f.proto)
                                return vs_error_kind(err, VS_E_STATE, EADDRINUSE,
                                                     "--port-forward %s: host port %u/%s is "
                                                     "already forwarded to port %u",
                                                     *p, f.host_port, vs_l4_name(f.proto),
                                                     fwds[i].vps_port);
                if (*n == VS_PORTFWD_MAX)
                        return vs_error_kind(err, VS_E_USAGE, E2BIG, "more than %d port forwards",
                                             VS_PORTFWD_MAX);
                fwds[(*n)++] = f;
        }
        return 0;
}

int vsd_net_forwards_clash(const vs_portfwd_t *fwds, size_t n, const vs_portfwd_t *theirs, size_t k,
                           const char *owner, vs_error_t *err)
{
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < k; j++)
                        if (fwds[i].host_port == theirs[j].host_port &&
                            fwds[i].proto == theirs[j].proto)
                                return vs_error_kind(err, VS_E_STATE, EADDRINUSE,
                                                     "--port-forward: host port %u/%s is in use "
                                                     "by VPS %s",
                                                     fwds[i].host_port, vs_l4_name(fwds[i].proto),
                                                     owner);
        return 0;
}
