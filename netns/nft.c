/* nftables for the VPS network, through libnftables (text commands, one
 * transaction per call): outbound masquerade to vsd.conf's uplink, port
 * forwards (DNAT) and anti-spoofing on the host side of each VPS's veth.
 *
 * The rules are written once, when vsd starts, and never change; a VPS is
 * only set elements keyed by its host-side interface name:
 *
 *   table inet paene      map fwd4 (proto . port : addr . port), NAT chains;
 *                         routed mode: sets macs/src4/src6, chain guard
 *   table bridge paene    bridge mode: sets macs/src4/src6, chain guard
 *   table arp paene       routed mode: sets macs/src4, chain guard (ARP)
 *
 * Each guard drops, from any "vs-*" interface, what its VPS may not send: a
 * source MAC other than its own, IPv4 (and ARP) from an address that is not
 * its own, IPv6 from an address that is not its own except link-local and
 * "::" (neighbour discovery keeps working), and in bridge mode any frame that
 * is not IPv4, IPv6 or ARP. An interface without elements sends nothing.
 *
 * vsd keeps, per VPS, the text of the elements it added: an update deletes
 * exactly those and adds the new ones in one transaction, and a failure
 * rebuilds every table from that record.
 *
 * A stopped VPS's elements may go later (vs_nft_vps_remove_later): their
 * "delete element" text waits, and goes first in the next transaction of
 * any kind or in vs_nft_flush, so that what changes the tables after a
 * stop finds its elements gone. Each transaction costs libnftables a fetch
 * of its cache (ten netlink round trips, the kernel's generation having
 * changed with every commit), which the removals of many stops then share. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nftables/libnftables.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/nameidx.h"
#include "vs/netns.h"

struct nft_vps {
        char ifname[VS_IFNAME_MAX];
        char *add;              /* "add element ..." commands */
        char *delete;           /* the same elements, "delete element ..." */
        vs_nameidx_link_t link; /* by ifname */
};

/* A growing text buffer. */
struct buf {
        char *text;
        size_t len, cap;
};

struct vs_nft {
        struct nft_ctx *ctx;
        vs_net_conf_t conf;
        /* the records, by ifname: every start and stop looks its own up (a
         * walk of a list cost 0.5 ms a start at 2000 running); only a
         * rebuild and the end walk them all */
        vs_nameidx_t index;
        struct buf later; /* the removals waiting, "delete element ..." */
        size_t nlater;    /* of how many VPS */
};

static void buf_add(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_add(struct buf *b, const char *fmt, ...)
{
        va_list ap;
        int n;

        for (;;) {
                size_t room = b->cap - b->len;

                va_start(ap, fmt);
                n = vsnprintf(b->text ? b->text + b->len : NULL, room, fmt, ap);
                va_end(ap);
                if (n < 0)
                        abort();
                if ((size_t)n < room) {
                        b->len += (size_t)n;
                        return;
                }
                b->cap = (b->cap + (size_t)n + 1) * 2;
                b->text = realloc(b->text, b->cap);
                if (!b->text)
                        abort();
        }
}

static void buf_freep(struct buf *b)
{
        free(b->text);
}
#define cleanup_buf __attribute__((cleanup(buf_freep)))

static char *buf_steal(struct buf *b)
{
        if (!b->text)
                return vs_xstrdup("");
        return steal_ptr(b->text);
}

/* Runs commands as one transaction; libnftables' message becomes the
 * error, on one line. */
static int run(vs_nft_t *nft, const char *cmds, vs_error_t *err)
{
        const char *msg;
        char line[512], *nl;

        if (nft_run_cmd_from_buffer(nft->ctx, cmds) == 0) {
                nft_ctx_get_error_buffer(nft->ctx); /* emptied for the next call */
                return 0;
        }
        msg = nft_ctx_get_error_buffer(nft->ctx);
        vs_strlcpy(line, msg && *msg ? msg : "nftables refused the change", sizeof(line));
        nl = strchr(line, '\n');
        if (nl)
                *nl = '\0';
        return vs_error_set(err, EIO, "nftables: %s", line);
}

/* ---- the tables ---- */

static const char *const families[] = { "inet", "bridge", "arp" };

static void rules(const vs_net_conf_t *conf, struct buf *b)
{
        char pool[24];

        vs_ip4_format(&conf->pool4.net, 1, pool, sizeof(pool));
        /* an earlier vsd's tables go whole, in the same transaction */
        for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
                buf_add(b, "add table %s paene\ndelete table %s paene\n", families[i], families[i]);
        buf_add(b, "table inet paene {\n"
                   " map fwd4 { type inet_proto . inet_service : ipv4_addr . inet_service; }\n"
                   /* every local address of vsd's namespace but loopback (a DNAT of
                    * 127.0.0.1 would need route_localnet) */
                   " chain prerouting { type nat hook prerouting priority dstnat; "
                   "policy accept;\n"
                   "  fib daddr type local dnat ip to meta l4proto . th dport map @fwd4\n }\n"
                   " chain output { type nat hook output priority -100; policy accept;\n"
                   "  ip daddr != 127.0.0.0/8 fib daddr type local "
                   "dnat ip to meta l4proto . th dport map @fwd4\n }\n"
                   " chain postrouting { type nat hook postrouting priority srcnat; "
                   "policy accept;\n");
        if (*conf->uplink)
                buf_add(b, "  oifname \"%s\" ip saddr %s masquerade\n", conf->uplink, pool);
        /* a VPS reaching another's forward through a host address: the
         * answer would go straight over the bridge, around the DNAT */
        if (conf->mode == VS_NET_BRIDGE)
                buf_add(b, "  oifname \"%s\" ct status dnat ip saddr %s masquerade\n", conf->bridge,
                        pool);
        buf_add(b, " }\n");
        if (conf->mode == VS_NET_ROUTED)
                buf_add(b, " set macs { type ifname . ether_addr; }\n"
                           " set src4 { type ifname . ipv4_addr; }\n"
                           " set src6 { type ifname . ipv6_addr; }\n"
                           " chain guard { type filter hook prerouting priority raw; "
                           "policy accept;\n"
                           "  iifname != \"vs-*\" accept\n"
                           "  iifname . ether saddr != @macs counter drop\n"
                           "  meta nfproto ipv4 iifname . ip saddr != @src4 counter drop\n"
                           "  ip6 saddr { ::, fe80::/10 } accept\n"
                           "  meta nfproto ipv6 iifname . ip6 saddr != @src6 counter drop\n }\n");
        buf_add(b, "}\n");
        if (conf->mode == VS_NET_BRIDGE)
                buf_add(b, "table bridge paene {\n"
                           " set macs { type ifname . ether_addr; }\n"
                           " set src4 { type ifname . ipv4_addr; }\n"
                           " set src6 { type ifname . ipv6_addr; }\n"
                           " chain guard { type filter hook prerouting priority -300; "
                           "policy accept;\n"
                           "  iifname != \"vs-*\" accept\n"
                           "  iifname . ether saddr != @macs counter drop\n"
                           "  ether type != { ip, ip6, arp } counter drop\n"
                           "  ether type arp iifname . arp saddr ether != @macs counter drop\n"
                           "  ether type arp iifname . arp saddr ip != @src4 counter drop\n"
                           "  ether type ip iifname . ip saddr != @src4 counter drop\n"
                           "  ether type ip6 ip6 saddr { ::, fe80::/10 } accept\n"
                           "  ether type ip6 iifname . ip6 saddr != @src6 counter drop\n }\n}\n");
        else
                buf_add(b, "table arp paene {\n"
                           " set macs { type ifname . ether_addr; }\n"
                           " set src4 { type ifname . ipv4_addr; }\n"
                           " chain guard { type filter hook input priority -300; "
                           "policy accept;\n"
                           "  iifname != \"vs-*\" accept\n"
                           "  iifname . arp saddr ether != @macs counter drop\n"
                           "  iifname . arp saddr ip != @src4 counter drop\n }\n}\n");
}

/* ---- a VPS's elements ---- */

static int check_ifname(const char *name, vs_error_t *err)
{
        size_t len = name ? strlen(name) : 0;

        if (len == 0 || len >= VS_IFNAME_MAX)
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "'%s' is not an interface name",
                                     name ? name : "");
        for (const char *p = name; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
                        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                             "'%s' is not an interface name", name);
        return 0;
}

/* One address, "/prefix" dropped: family and canonical text. */
static int parse_addr(const char *text, int *family, char out[INET6_ADDRSTRLEN], vs_error_t *err)
{
        char buf[INET6_ADDRSTRLEN + 8];
        unsigned char bin[sizeof(struct in6_addr)];
        char *slash;

        if (strlen(text) >= sizeof(buf))
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "'%s' is not an IP address", text);
        strcpy(buf, text);
        slash = strchr(buf, '/');
        if (slash)
                *slash = '\0';
        if (inet_pton(AF_INET, buf, bin) == 1)
                *family = AF_INET;
        else if (inet_pton(AF_INET6, buf, bin) == 1)
                *family = AF_INET6;
        else
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "'%s' is not an IP address", text);
        inet_ntop(*family, bin, out, INET6_ADDRSTRLEN);
        return 0;
}

/* The elements of `v` for set `set` of every table of the mode that has
 * it, as "VERB element FAMILY paene SET { ... }" lines. */
static void elements(const vs_net_conf_t *conf, const char *verb, const char *set,
                     const char *items, struct buf *b)
{
        if (!*items)
                return;
        if (conf->mode == VS_NET_BRIDGE) {
                buf_add(b, "%s element bridge paene %s { %s }\n", verb, set, items);
                return;
        }
        buf_add(b, "%s element inet paene %s { %s }\n", verb, set, items);
        if (strcmp(set, "src6") != 0)
                buf_add(b, "%s element arp paene %s { %s }\n", verb, set, items);
}

static int vps_commands(const vs_net_conf_t *conf, const struct vs_nft_vps *v, char **add,
                        char **del, vs_error_t *err)
{
        cleanup_buf struct buf mac = { 0 }, src4 = { 0 }, src6 = { 0 }, fwd = { 0 }, a = { 0 },
                               d = { 0 };
        char first4[INET6_ADDRSTRLEN] = "";
        const unsigned char *m = v->mac;

        if (check_ifname(v->ifname, err) < 0)
                return -1;
        buf_add(&mac, "\"%s\" . %02x:%02x:%02x:%02x:%02x:%02x", v->ifname, m[0], m[1], m[2], m[3],
                m[4], m[5]);
        buf_add(&src4, "%s", "");
        buf_add(&src6, "%s", "");
        buf_add(&fwd, "%s", "");
        for (size_t i = 0; i < v->naddrs; i++) {
                char text[INET6_ADDRSTRLEN];
                int family = 0;
                struct buf *set;

                if (parse_addr(v->addrs[i], &family, text, err) < 0)
                        return -1;
                set = family == AF_INET ? &src4 : &src6;
                if (family == AF_INET && !*first4)
                        vs_strlcpy(first4, text, sizeof(first4));
                buf_add(set, "%s\"%s\" . %s", set->len ? ", " : "", v->ifname, text);
        }
        if (v->nfwds && !*first4) {
                return vs_error_kind(err, VS_E_STATE, EADDRNOTAVAIL,
                                     "port forwards need an IPv4 address on the VPS");
        }
        for (size_t i = 0; i < v->nfwds; i++)
                buf_add(&fwd, "%s%s . %u : %s . %u", i ? ", " : "", vs_l4_name(v->fwds[i].proto),
                        v->fwds[i].host_port, first4, v->fwds[i].vps_port);
        for (int pass = 0; pass < 2; pass++) {
                const char *verb = pass ? "delete" : "add";
                struct buf *out = pass ? &d : &a;

                elements(conf, verb, "macs", mac.text, out);
                elements(conf, verb, "src4", src4.text, out);
                elements(conf, verb, "src6", src6.text, out);
                if (fwd.len)
                        buf_add(out, "%s element inet paene fwd4 { %s }\n", verb, fwd.text);
        }
        *add = buf_steal(&a);
        *del = buf_steal(&d);
        return 0;
}

/* ---- removals that wait ---- */

static void later_clear(vs_nft_t *nft)
{
        nft->later.len = 0;
        nft->nlater = 0;
}

/* The removals waiting, then cmds, in one transaction; when that fails,
 * the removals alone (made good by a rebuild when they fail too: an element
 * someone else deleted), then cmds. */
static int run_after_later(vs_nft_t *nft, const char *cmds, vs_error_t *err)
{
        cleanup_free char *both = NULL;

        if (!nft->nlater)
                return run(nft, cmds, err);
        both = vs_strdupf("%s%s", nft->later.text, cmds);
        if (run(nft, both, NULL) == 0) {
                later_clear(nft);
                return 0;
        }
        if (vs_nft_flush(nft, err) < 0)
                return -1;
        return run(nft, cmds, err);
}

static struct nft_vps *record_of(vs_nameidx_link_t *link)
{
        return link ? vs_nameidx_entry(link, struct nft_vps, link) : NULL;
}

static struct nft_vps *find(vs_nft_t *nft, const char *ifname)
{
        return record_of(vs_nameidx_find(&nft->index, ifname));
}

/* A new record for ifname, in the index, without elements. */
static struct nft_vps *record_add(vs_nft_t *nft, const char *ifname)
{
        struct nft_vps *v = vs_xmalloc(sizeof(*v));

        memset(v, 0, sizeof(*v));
        vs_strlcpy(v->ifname, ifname, sizeof(v->ifname));
        vs_nameidx_add(&nft->index, &v->link, v->ifname);
        return v;
}

/* The tables afresh with every recorded VPS's elements (the removals
 * waiting are then done too). */
static int rebuild(vs_nft_t *nft, vs_error_t *err)
{
        struct buf b = { 0 };
        vs_nameidx_iter_t it;
        int rc;

        rules(&nft->conf, &b);
        for (struct nft_vps *v = record_of(vs_nameidx_first(&nft->index, &it)); v;
             v = record_of(vs_nameidx_next(&it)))
                buf_add(&b, "%s", v->add);
        rc = run(nft, b.text, err);
        free(b.text);
        if (rc == 0)
                later_clear(nft);
        return rc;
}

static void record_free(struct nft_vps *v)
{
        if (!v)
                return;
        free(v->add);
        free(v->delete);
        free(v);
}

int vs_nft_open(const vs_net_conf_t *conf, const struct vs_nft_vps *vps, size_t n, vs_nft_t **out,
                vs_error_t *err)
{
        vs_nft_t *nft = vs_xmalloc(sizeof(*nft));

        memset(nft, 0, sizeof(*nft));
        nft->conf = *conf;
        if (*conf->uplink && check_ifname(conf->uplink, err) < 0) {
                free(nft);
                return vs_error_wrap(err, "uplink");
        }
        nft->ctx = nft_ctx_new(NFT_CTX_DEFAULT);
        if (!nft->ctx) {
                free(nft);
                return vs_error_set(err, ENOMEM, "nftables context");
        }
        nft_ctx_buffer_output(nft->ctx);
        nft_ctx_buffer_error(nft->ctx);
        for (size_t i = 0; i < n; i++) {
                char *add, *del;

                /* a VPS whose commands fail runs without its elements: its
                 * interface sends nothing */
                if (vps_commands(conf, &vps[i], &add, &del, err) == 0) {
                        struct nft_vps *v = record_add(nft, vps[i].ifname);

                        v->add = add;
                        v->delete = del;
                }
        }
        if (rebuild(nft, err) < 0) {
                vs_nft_free(nft);
                return vs_error_wrap(err, "make the tables");
        }
        *out = nft;
        return 0;
}

void vs_nft_free(vs_nft_t *nft)
{
        vs_nameidx_iter_t it;

        if (!nft)
                return;
        /* the walk holds the next record before it gives one */
        for (struct nft_vps *v = record_of(vs_nameidx_first(&nft->index, &it)); v;
             v = record_of(vs_nameidx_next(&it)))
                record_free(v);
        vs_nameidx_free(&nft->index);
        free(nft->later.text);
        if (nft->ctx)
                nft_ctx_free(nft->ctx);
        free(nft);
}

/* The value fwd4 holds for a host port ("10.0.0.9 . 80", as nft prints
 * it) in *value; 0 when it holds none (or nft could not say). */
static int fwd_holder(vs_nft_t *nft, const vs_portfwd_t *f, char *value, size_t size)
{
        char cmd[96];
        const char *out, *from, *to;

        snprintf(cmd, sizeof(cmd), "get element inet paene fwd4 { %s . %u }\n",
                 vs_l4_name(f->proto), f->host_port);
        (void)nft_ctx_get_output_buffer(nft->ctx); /* emptied for this answer */
        if (nft_run_cmd_from_buffer(nft->ctx, cmd) != 0) {
                nft_ctx_get_error_buffer(nft->ctx);
                return 0;
        }
        /* "elements = { tcp . 9191 : 10.0.0.9 . 80 }" */
        out = nft_ctx_get_output_buffer(nft->ctx);
        from = out ? strstr(out, "elements = {") : NULL;
        from = from ? strstr(from, " : ") : NULL;
        to = from ? strchr(from, '}') : NULL;
        if (!to)
                return 0;
        from += 3;
        while (to > from && to[-1] == ' ')
                to--;
        snprintf(value, size, "%.*s", (int)(to - from), from);
        return 1;
}

/* A new VPS's elements were refused: when one of its forwards' host ports
 * is in fwd4 already (vsd's records have none of it: someone added it by
 * hand), the error names that forward and what holds the port instead of
 * libnftables' bare "File exists". 0 when none is. */
static int forward_taken(vs_nft_t *nft, const struct vs_nft_vps *vps, vs_error_t *err)
{
        for (size_t i = 0; i < vps->nfwds; i++) {
                const vs_portfwd_t *f = &vps->fwds[i];
                char value[128], addr[64], shown[48];
                unsigned port;

                if (!fwd_holder(nft, f, value, sizeof(value)))
                        continue;
                vs_portfwd_format(f, shown, sizeof(shown));
                if (sscanf(value, "%63s . %u", addr, &port) == 2)
                        snprintf(value, sizeof(value), "%s:%u", addr, port);
                return vs_error_kind(err, VS_E_STATE, EADDRINUSE,
                                     "port forward %s: host port %u/%s is held by an nftables "
                                     "element vsd did not add (inet paene fwd4, to %s)",
                                     shown, f->host_port, vs_l4_name(f->proto), value);
        }
        return 0;
}

int vs_nft_vps_update(vs_nft_t *nft, const struct vs_nft_vps *vps, vs_error_t *err)
{
        struct nft_vps *old;
        cleanup_free char *add = NULL, *del = NULL, *both = NULL;

        if (vps_commands(&nft->conf, vps, &add, &del, err) < 0)
                return -1;
        old = find(nft, vps->ifname);
        both = vs_strdupf("%s%s", old ? old->delete : "", add);
        if (run_after_later(nft, both, err) < 0) {
                vs_error_t again = { 0 };

                if (!old) {
                        forward_taken(nft, vps, err);
                        return -1;
                }
                /* the kernel's elements are not what vsd recorded (someone
                 * changed them): make them so, then try once more */
                if (rebuild(nft, &again) < 0 || run(nft, both, err) < 0)
                        return -1;
        }
        if (!old)
                old = record_add(nft, vps->ifname);
        free(old->add);
        free(old->delete);
        old->add = steal_ptr(add);
        old->delete = steal_ptr(del);
        return 0;
}

/* The record of ifname taken out of the index, its "delete element" text
 * handed to the caller; NULL when vsd has none. */
static char *record_take(vs_nft_t *nft, const char *ifname)
{
        struct nft_vps *old = find(nft, ifname);
        char *del;

        if (!old)
                return NULL;
        vs_nameidx_remove(&nft->index, &old->link);
        del = steal_ptr(old->delete);
        record_free(old);
        return del;
}

int vs_nft_vps_remove(vs_nft_t *nft, const char *ifname, vs_error_t *err)
{
        cleanup_free char *del = record_take(nft, ifname);

        /* the record is gone first: a rebuild leaves its elements out */
        if (del && run_after_later(nft, del, NULL) < 0 && rebuild(nft, err) < 0)
                return vs_error_wrap(err, "remove the elements of %s", ifname);
        return 0;
}

void vs_nft_vps_remove_later(vs_nft_t *nft, const char *ifname)
{
        cleanup_free char *del = record_take(nft, ifname);

        if (!del)
                return;
        buf_add(&nft->later, "%s", del);
        nft->nlater++;
}

int vs_nft_flush(vs_nft_t *nft, vs_error_t *err)
{
        size_t n = nft->nlater;

        if (!n)
                return 0;
        if (run(nft, nft->later.text, NULL) == 0) {
                later_clear(nft);
                return 0;
        }
        /* the kernel's elements are not what vsd recorded: made so, which
         * leaves the stopped VPS's out */
        if (rebuild(nft, err) < 0)
                return vs_error_wrap(err, "remove the elements of %zu stopped VPS", n);
        return 0;
}

size_t vs_nft_pending(const vs_nft_t *nft)
{
        return nft ? nft->nlater : 0;
}
