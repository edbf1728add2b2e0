/* Unit tests for the text netns/nft.c hands libnftables: the tables of each
 * network mode (masquerade, port forwards, every anti-spoofing rule of the
 * guards) and a VPS's elements (what vsd adds at start and deletes at
 * stop), with the refusals of bad input. The file is included whole: these
 * builders are static, and nothing here talks to the kernel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../netns/nft.c"

static vs_net_conf_t conf_of(enum vs_net_mode mode, const char *uplink)
{
        vs_net_conf_t conf;
        vs_error_t err = { 0 };

        memset(&conf, 0, sizeof(conf));
        conf.mode = mode;
        snprintf(conf.bridge, sizeof(conf.bridge), "vsbr0");
        snprintf(conf.uplink, sizeof(conf.uplink), "%s", uplink);
        if (vs_pool4_parse("10.77.0.0/16", &conf.pool4, &err) < 0)
                fail_msg("pool: %s", err.msg);
        return conf;
}

static char *rules_of(enum vs_net_mode mode, const char *uplink)
{
        vs_net_conf_t conf = conf_of(mode, uplink);
        struct buf b = { 0 };

        rules(&conf, &b);
        return buf_steal(&b);
}

static void expect_has(const char *text, const char *line)
{
        if (!strstr(text, line))
                fail_msg("'%s' not in:\n%s", line, text);
}

static void expect_lacks(const char *text, const char *line)
{
        if (strstr(text, line))
                fail_msg("'%s' unexpectedly in:\n%s", line, text);
}

/* The guard of bridge mode: each forged source a VPS could send. */
static void test_bridge_guard(void **state)
{
        char *t = rules_of(VS_NET_BRIDGE, "");

        (void)state;
        expect_has(t, "table bridge paene {");
        expect_has(t, "chain guard { type filter hook prerouting priority -300; policy accept;");
        expect_has(t, "iifname != \"vs-*\" accept");
        expect_has(t, "iifname . ether saddr != @macs counter drop");
        expect_has(t, "ether type != { ip, ip6, arp } counter drop");
        expect_has(t, "ether type arp iifname . arp saddr ether != @macs counter drop");
        expect_has(t, "ether type arp iifname . arp saddr ip != @src4 counter drop");
        expect_has(t, "ether type ip iifname . ip saddr != @src4 counter drop");
        expect_has(t, "ether type ip6 ip6 saddr { ::, fe80::/10 } accept");
        expect_has(t, "ether type ip6 iifname . ip6 saddr != @src6 counter drop");
        /* bridge mode has no routed guard nor an arp table */
        expect_lacks(t, "table arp paene {");
        expect_lacks(t, "chain guard { type filter hook prerouting priority raw;");
        free(t);
}

static void test_routed_guard(void **state)
{
        char *t = rules_of(VS_NET_ROUTED, "");

        (void)state;
        expect_has(t, "chain guard { type filter hook prerouting priority raw; policy accept;");
        expect_has(t, "iifname . ether saddr != @macs counter drop");
        expect_has(t, "meta nfproto ipv4 iifname . ip saddr != @src4 counter drop");
        expect_has(t, "ip6 saddr { ::, fe80::/10 } accept");
        expect_has(t, "meta nfproto ipv6 iifname . ip6 saddr != @src6 counter drop");
        expect_has(t, "table arp paene {");
        expect_has(t, "iifname . arp saddr ether != @macs counter drop");
        expect_has(t, "iifname . arp saddr ip != @src4 counter drop");
        expect_lacks(t, "table bridge paene {");
        free(t);
}

/* An earlier vsd's tables go in the same transaction, for each family. */
static void test_tables_replaced_whole(void **state)
{
        char *t = rules_of(VS_NET_BRIDGE, "");

        (void)state;
        expect_has(t, "add table inet paene\ndelete table inet paene\n");
        expect_has(t, "add table bridge paene\ndelete table bridge paene\n");
        expect_has(t, "add table arp paene\ndelete table arp paene\n");
        free(t);
}

static void test_nat(void **state)
{
        char *with = rules_of(VS_NET_BRIDGE, "eth9");
        char *without = rules_of(VS_NET_BRIDGE, "");
        char *routed = rules_of(VS_NET_ROUTED, "");

        (void)state;
        expect_has(with, "oifname \"eth9\" ip saddr 10.77.0.0/16 masquerade");
        expect_lacks(without, "oifname \"eth9\"");
        /* a VPS reaching another's forward over the bridge: masqueraded */
        expect_has(without, "oifname \"vsbr0\" ct status dnat ip saddr 10.77.0.0/16 masquerade");
        expect_lacks(routed, "ct status dnat");
        expect_has(without, "fib daddr type local dnat ip to meta l4proto . th dport map @fwd4");
        expect_has(without, "ip daddr != 127.0.0.0/8 fib daddr type local dnat ip to meta l4proto "
                            ". th dport map @fwd4");
        free(with);
        free(without);
        free(routed);
}

static const unsigned char test_mac[6] = { 0x02, 0x00, 0x0a, 0x4d, 0x00, 0x02 };

static struct vs_nft_vps vps_with(const char *ifname, const char *const *addrs, size_t naddrs,
                                  const vs_portfwd_t *fwds, size_t nfwds)
{
        struct vs_nft_vps v;

        memset(&v, 0, sizeof(v));
        v.ifname = ifname;
        v.mac = test_mac;
        v.addrs = addrs;
        v.naddrs = naddrs;
        v.fwds = fwds;
        v.nfwds = nfwds;
        return v;
}

static void test_elements_bridge(void **state)
{
        const char *addrs[] = { "10.77.0.2/16", "fd77::2/64", "10.77.0.9" };
        vs_portfwd_t fwd = { .proto = VS_L4_TCP, .host_port = 8080, .vps_port = 80 };
        vs_net_conf_t conf = conf_of(VS_NET_BRIDGE, "");
        struct vs_nft_vps v = vps_with("vs-w1", addrs, 3, &fwd, 1);
        vs_error_t err = { 0 };
        char *add = NULL, *del = NULL;

        (void)state;
        assert_int_equal(vps_commands(&conf, &v, &add, &del, &err), 0);
        assert_string_equal(
                add,
                "add element bridge paene macs { \"vs-w1\" . 02:00:0a:4d:00:02 }\n"
                "add element bridge paene src4 { \"vs-w1\" . 10.77.0.2, \"vs-w1\" . 10.77.0.9 }\n"
                "add element bridge paene src6 { \"vs-w1\" . fd77::2 }\n"
                "add element inet paene fwd4 { tcp . 8080 : 10.77.0.2 . 80 }\n");
        assert_string_equal(del,
                            "delete element bridge paene macs { \"vs-w1\" . 02:00:0a:4d:00:02 }\n"
                            "delete element bridge paene src4 { \"vs-w1\" . 10.77.0.2, \"vs-w1\" . "
                            "10.77.0.9 }\n"
                            "delete element bridge paene src6 { \"vs-w1\" . fd77::2 }\n"
                            "delete element inet paene fwd4 { tcp . 8080 : 10.77.0.2 . 80 }\n");
        free(add);
        free(del);
}

/* Routed mode: the inet guard's sets, and the arp table's (no IPv6 there). */
static void test_elements_routed(void **state)
{
        const char *addrs[] = { "10.88.0.2", "fd88::2" };
        vs_net_conf_t conf = conf_of(VS_NET_ROUTED, "");
        struct vs_nft_vps v = vps_with("vs-r1", addrs, 2, NULL, 0);
        vs_error_t err = { 0 };
        char *add = NULL, *del = NULL;

        (void)state;
        assert_int_equal(vps_commands(&conf, &v, &add, &del, &err), 0);
        assert_string_equal(add, "add element inet paene macs { \"vs-r1\" . 02:00:0a:4d:00:02 }\n"
                                 "add element arp paene macs { \"vs-r1\" . 02:00:0a:4d:00:02 }\n"
                                 "add element inet paene src4 { \"vs-r1\" . 10.88.0.2 }\n"
                                 "add element arp paene src4 { \"vs-r1\" . 10.88.0.2 }\n"
                                 "add element inet paene src6 { \"vs-r1\" . fd88::2 }\n");
        expect_has(del, "delete element arp paene src4 { \"vs-r1\" . 10.88.0.2 }\n");
        expect_lacks(del, "fwd4");
        free(add);
        free(del);
}

/* No address: only the MAC, so the guard drops everything it sends. */
static void test_elements_without_addresses(void **state)
{
        vs_net_conf_t conf = conf_of(VS_NET_BRIDGE, "");
        struct vs_nft_vps v = vps_with("vs-n1", NULL, 0, NULL, 0);
        vs_error_t err = { 0 };
        char *add = NULL, *del = NULL;

        (void)state;
        assert_int_equal(vps_commands(&conf, &v, &add, &del, &err), 0);
        assert_string_equal(add,
                            "add element bridge paene macs { \"vs-n1\" . 02:00:0a:4d:00:02 }\n");
        free(add);
        free(del);
}

static void assert_commands_refused(struct vs_nft_vps *v, vs_error_kind_t kind, const char *needle)
{
        vs_net_conf_t conf = conf_of(VS_NET_BRIDGE, "");
        vs_error_t err = { 0 };
        char *add = (char *)"untouched", *del = (char *)"untouched";

        assert_int_equal(vps_commands(&conf, v, &add, &del, &err), -1);
        assert_int_equal(err.kind, kind);
        if (!strstr(err.msg, needle))
                fail_msg("message '%s' lacks '%s'", err.msg, needle);
        assert_string_equal(add, "untouched");
        assert_string_equal(del, "untouched");
}

static void test_elements_refusals(void **state)
{
        const char *v6only[] = { "fd77::5" };
        const char *bad[] = { "10.77.0.300" };
        vs_portfwd_t fwd = { .proto = VS_L4_UDP, .host_port = 53, .vps_port = 53 };
        struct vs_nft_vps v;

        (void)state;
        v = vps_with("vs-x\"; flush ruleset", NULL, 0, NULL, 0);
        assert_commands_refused(&v, VS_E_USAGE, "is not an interface name");
        v = vps_with("", NULL, 0, NULL, 0);
        assert_commands_refused(&v, VS_E_USAGE, "is not an interface name");
        v = vps_with("vs-b1", bad, 1, NULL, 0);
        assert_commands_refused(&v, VS_E_USAGE, "'10.77.0.300' is not an IP address");
        v = vps_with("vs-b1", v6only, 1, &fwd, 1);
        assert_commands_refused(&v, VS_E_STATE, "port forwards need an IPv4 address");
}

/* A removal that waits: the record goes at once (a later update of the
 * interface adds afresh), its "delete element" text waits, that of each
 * stop after the last's, for one transaction; an interface without a
 * record adds nothing. Nothing here runs a transaction. */
static void test_removals_wait(void **state)
{
        const char *a1[] = { "10.88.0.2" }, *a2[] = { "10.88.0.3" };
        vs_net_conf_t conf = conf_of(VS_NET_ROUTED, "");
        struct vs_nft_vps v1 = vps_with("vs-w1", a1, 1, NULL, 0);
        struct vs_nft_vps v2 = vps_with("vs-w2", a2, 1, NULL, 0);
        vs_error_t err = { 0 };
        vs_nft_t *nft = vs_xmalloc(sizeof(*nft));
        struct nft_vps *r;

        (void)state;
        memset(nft, 0, sizeof(*nft));
        nft->conf = conf;
        r = record_add(nft, "vs-w1");
        assert_int_equal(vps_commands(&conf, &v1, &r->add, &r->delete, &err), 0);
        r = record_add(nft, "vs-w2");
        assert_int_equal(vps_commands(&conf, &v2, &r->add, &r->delete, &err), 0);
        vs_nft_vps_remove_later(nft, "vs-none");
        assert_int_equal(vs_nft_pending(nft), 0);
        vs_nft_vps_remove_later(nft, "vs-w1");
        vs_nft_vps_remove_later(nft, "vs-w2");
        assert_int_equal(vs_nft_pending(nft), 2);
        assert_null(find(nft, "vs-w1"));
        assert_null(find(nft, "vs-w2"));
        assert_int_equal(nft->index.count, 0);
        expect_has(nft->later.text, "delete element inet paene src4 { \"vs-w1\" . 10.88.0.2 }\n");
        expect_has(strstr(nft->later.text, "vs-w1\" . 10.88.0.2 }"),
                   "delete element inet paene src4 { \"vs-w2\" . 10.88.0.3 }\n");
        expect_lacks(nft->later.text, "add element");
        /* a record made again for the interface is a new one */
        r = record_add(nft, "vs-w1");
        assert_ptr_equal(find(nft, "vs-w1"), r);
        assert_int_equal(vs_nft_pending(nft), 2);
        vs_nft_free(nft); /* no context: none was made */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bridge_guard),
                cmocka_unit_test(test_routed_guard),
                cmocka_unit_test(test_tables_replaced_whole),
                cmocka_unit_test(test_nat),
                cmocka_unit_test(test_elements_bridge),
                cmocka_unit_test(test_elements_routed),
                cmocka_unit_test(test_elements_without_addresses),
                cmocka_unit_test(test_elements_refusals),
                cmocka_unit_test(test_removals_wait),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
