/* Unit tests for runtime/netaddrs.c: which addresses a VPS may take
 * (--ipadd against the pools and the other VPS), what --ipdel leaves, and
 * how port forwards change and clash. No kernel, no daemon. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vs/kvfile.h"
#include "vs/netns.h"
#include "vsd.h"

static uint32_t ip4(const char *text)
{
        struct in_addr a;

        assert_int_equal(inet_pton(AF_INET, text, &a), 1);
        return ntohl(a.s_addr);
}

/* vsd.conf's network keys as "key=value" words (NULL-terminated). */
static vs_net_conf_t conf_of(const char *const *lines)
{
        cleanup_kv vs_kv_t kv = { 0 };
        vs_net_conf_t conf;
        vs_error_t err = { 0 };

        for (const char *const *l = lines; *l; l++) {
                char key[64];
                const char *eq = strchr(*l, '=');

                assert_non_null(eq);
                snprintf(key, sizeof(key), "%.*s", (int)(eq - *l), *l);
                vs_kv_set(&kv, key, eq + 1);
        }
        assert_int_equal(vs_net_conf_parse(&kv, &conf, &err), 0);
        return conf;
}

static const char *const bridge_conf[] = { "pool4=10.77.0.0/16", NULL };
static const char *const routed_conf[] = { "network_mode=routed", "pool4=10.77.0.0/16",
                                           "pool6=fd00:77::/64", NULL };

/* Picks for a new VPS with `given` --ipadd words; NULL with err on refusal. */
static char *pick(const vs_net_conf_t *conf, struct vsd_used_addrs *used, const char *w1,
                  const char *w2, vs_error_t *err)
{
        char *given[3] = { (char *)w1, (char *)w2, NULL };
        size_t n = w2 ? 2 : w1 ? 1 : 0;

        memset(err, 0, sizeof(*err));
        return vsd_net_pick(conf, used, given, n, err);
}

/* No --ipadd: the pool's lowest free host, past the gateway and what
 * the other VPS hold. */
static void test_pick_lowest_free_of_the_pool(void **state)
{
        vs_net_conf_t conf = conf_of(bridge_conf);
        cleanup_used_addrs struct vsd_used_addrs used = { 0 };
        vs_error_t err;
        char *text;

        (void)state;
        text = pick(&conf, &used, NULL, NULL, &err);
        assert_non_null(text);
        assert_string_equal(text, "10.77.0.2/16");
        free(text);
        vsd_used_add4(&used, ip4("10.77.0.2"));
        vsd_used_add4(&used, ip4("10.77.0.3"));
        text = pick(&conf, &used, NULL, NULL, &err);
        assert_string_equal(text, "10.77.0.4/16");
        free(text);
}

/* A given address inside the pool takes the pool's prefix; one another
 * VPS holds is "in use" (a state error), and so is one given twice. */
static void test_given_address_checked_against_the_others(void **state)
{
        vs_net_conf_t conf = conf_of(bridge_conf);
        cleanup_used_addrs struct vsd_used_addrs used = { 0 };
        vs_error_t err;
        char *text;

        (void)state;
        vsd_used_add4(&used, ip4("10.77.0.9"));
        text = pick(&conf, &used, "10.77.0.8", NULL, &err);
        assert_non_null(text);
        assert_string_equal(text, "10.77.0.8/16");
        free(text);

        assert_null(pick(&conf, &used, "10.77.0.9", NULL, &err));
        assert_int_equal(err.kind, VS_E_STATE);
        assert_int_equal(err.errnum, EADDRINUSE);
        assert_non_null(strstr(err.msg, "10.77.0.9"));

        assert_null(pick(&conf, &used, "10.77.0.20", "10.77.0.20", &err));
        assert_int_equal(err.errnum, EADDRINUSE);
}

/* The pool's network, gateway and broadcast, a non-unicast address, a
 * prefix below /8 and (in bridge mode) an address outside the pool are
 * refused as usage errors, each naming the word. */
static void test_given_address_refusals(void **state)
{
        static const char *const bad[] = { "10.77.0.0",  "10.77.0.1",    "10.77.255.255",
                                           "127.0.0.5",  "224.0.0.1",    "0.0.0.0",
                                           "10.1.2.3/4", "192.168.1.10", "10.77.0.300" };
        vs_net_conf_t conf = conf_of(bridge_conf);
        cleanup_used_addrs struct vsd_used_addrs used = { 0 };
        vs_error_t err;

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_null(pick(&conf, &used, bad[i], NULL, &err));
                assert_int_equal(err.kind, VS_E_USAGE);
                assert_non_null(strstr(err.msg, "--ipadd"));
        }
        /* nothing refused went into the set */
        assert_int_equal(used.n4, 0);
}

/* Routed mode takes addresses outside the pool (a /32 then), and IPv6 by
 * the same rules against pool6; bridge mode without pool6 refuses IPv6. */
static void test_routed_mode_and_ipv6(void **state)
{
        vs_net_conf_t routed = conf_of(routed_conf), bridge = conf_of(bridge_conf);
        cleanup_used_addrs struct vsd_used_addrs used = { 0 };
        vs_error_t err;
        char *text;

        (void)state;
        text = pick(&routed, &used, "192.0.2.7", "fd00:77::9", &err);
        assert_non_null(text);
        assert_string_equal(text, "192.0.2.7/32 fd00:77::9/64");
        free(text);
        /* a pick without --ipadd takes one of each pool */
        text = pick(&routed, &used, NULL, NULL, &err);
        assert_non_null(text);
        assert_non_null(strstr(text, "10.77.0.2/16 fd00:77::"));
        free(text);

        assert_null(pick(&bridge, &used, "fd00:77::9", NULL, &err));
        assert_int_equal(err.kind, VS_E_USAGE);
        assert_non_null(strstr(err.msg, "pool6"));
}

/* "--ipadd none" alone is no network (""); with addresses it is refused. */
static void test_ipadd_none(void **state)
{
        vs_net_conf_t conf = conf_of(bridge_conf);
        cleanup_used_addrs struct vsd_used_addrs used = { 0 };
        vs_error_t err;
        char *text;

        (void)state;
        text = pick(&conf, &used, "none", NULL, &err);
        assert_non_null(text);
        assert_string_equal(text, "");
        free(text);
        assert_null(pick(&conf, &used, "none", "10.77.0.5", &err));
        assert_int_equal(err.kind, VS_E_USAGE);
}

/* --ipdel: by address with or without prefix, "all", and an address the
 * VPS does not hold refused; the format puts IPv4 first. */
static void test_remove_addrs(void **state)
{
        struct vsd_net_addrs addrs;
        char *del_one[] = { "10.77.0.3" };
        char *del_v6[] = { "fd00::5/64" };
        char *del_missing[] = { "10.77.0.99" };
        char *del_all[] = { "all" };
        vs_error_t err = { 0 };
        char *text;

        (void)state;
        assert_int_equal(vsd_net_parse_ips("fd00::5/64 10.77.0.2/16 10.77.0.3/16", &addrs, &err),
                         0);
        assert_int_equal(vsd_net_remove_addrs(&addrs, del_one, 1, &err), 0);
        assert_int_equal(vsd_net_remove_addrs(&addrs, del_v6, 1, &err), 0);
        text = vsd_net_format_ips(&addrs);
        assert_string_equal(text, "10.77.0.2/16");
        free(text);
        assert_int_equal(vsd_net_remove_addrs(&addrs, del_missing, 1, &err), -1);
        assert_int_equal(err.kind, VS_E_USAGE);
        assert_non_null(strstr(err.msg, "--ipdel 10.77.0.99"));
        assert_int_equal(vsd_net_remove_addrs(&addrs, del_all, 1, &err), 0);
        assert_int_equal(addrs.n4 + addrs.n6, 0);
}

static size_t forwards(const char *text, vs_portfwd_t *fwds)
{
        vs_error_t err = { 0 };
        size_t n = 0;

        assert_int_equal(vs_portfwd_parse_list(text, fwds, VS_PORTFWD_MAX, &n, &err), 0);
        return n;
}

/* Removals first, then additions; the new ones start at first_new. */
static void test_forwards_edit(void **state)
{
        vs_portfwd_t fwds[VS_PORTFWD_MAX];
        size_t n = forwards("8080:80/tcp 5353:53/udp 2222:22/tcp", fwds), first_new = 99;
        char *add[] = { "8443:443", "2222:2200/udp", NULL };
        char *del[] = { "5353", NULL };
        vs_error_t err = { 0 };
        char *text;

        (void)state;
        assert_int_equal(vsd_net_forwards_edit(fwds, &n, add, del, &first_new, &err), 0);
        assert_int_equal(first_new, 2);
        text = vs_portfwd_format_list(fwds, n);
        assert_string_equal(text, "8080:80/tcp 2222:22/tcp 8443:443/tcp 2222:2200/udp");
        free(text);
}

/* A host port forwarded twice, a removal of what is not there, and more
 * than VS_PORTFWD_MAX are refused, each with its own kind. */
static void test_forwards_edit_refusals(void **state)
{
        vs_portfwd_t fwds[VS_PORTFWD_MAX];
        size_t n = forwards("8080:80/tcp", fwds), first_new;
        char *twice[] = { "8080:81", NULL };
        char *missing[] = { "9090", NULL };
        char *add_one[] = { "1:1", NULL };
        vs_error_t err = { 0 };

        (void)state;
        assert_int_equal(vsd_net_forwards_edit(fwds, &n, twice, NULL, &first_new, &err), -1);
        assert_int_equal(err.kind, VS_E_STATE);
        assert_int_equal(err.errnum, EADDRINUSE);
        assert_non_null(strstr(err.msg, "already forwarded to port 80"));

        n = 1;
        assert_int_equal(vsd_net_forwards_edit(fwds, &n, NULL, missing, &first_new, &err), -1);
        assert_int_equal(err.kind, VS_E_NOTFOUND);

        for (n = 0; n < VS_PORTFWD_MAX; n++)
                fwds[n] = (vs_portfwd_t){ (uint16_t)(1000 + n), 80, VS_L4_TCP };
        assert_int_equal(vsd_net_forwards_edit(fwds, &n, add_one, NULL, &first_new, &err), -1);
        assert_int_equal(err.kind, VS_E_USAGE);
        assert_int_equal(err.errnum, E2BIG);
}

/* The same host port and protocol as another VPS's clashes; the same
 * port with the other protocol does not. */
static void test_forwards_clash(void **state)
{
        vs_portfwd_t mine[VS_PORTFWD_MAX], theirs[VS_PORTFWD_MAX];
        size_t n = forwards("8080:80/udp 9000:90/tcp", mine);
        size_t k = forwards("8080:80/tcp 9000:91/tcp", theirs);
        vs_error_t err = { 0 };

        (void)state;
        assert_int_equal(vsd_net_forwards_clash(mine, 1, theirs, k, "web2", &err), 0);
        assert_int_equal(vsd_net_forwards_clash(mine, n, theirs, k, "web2", &err), -1);
        assert_int_equal(err.kind, VS_E_STATE);
        assert_int_equal(err.errnum, EADDRINUSE);
        assert_non_null(strstr(err.msg, "9000/tcp is in use by VPS web2"));
        assert_int_equal(vsd_net_forwards_clash(mine, 0, theirs, k, "web2", &err), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pick_lowest_free_of_the_pool),
                cmocka_unit_test(test_given_address_checked_against_the_others),
                cmocka_unit_test(test_given_address_refusals),
                cmocka_unit_test(test_routed_mode_and_ipv6),
                cmocka_unit_test(test_ipadd_none),
                cmocka_unit_test(test_remove_addrs),
                cmocka_unit_test(test_forwards_edit),
                cmocka_unit_test(test_forwards_edit_refusals),
                cmocka_unit_test(test_forwards_clash),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
