/* Unit tests for the daemon's own logic (runtime/, linked from libvsd.a):
 * what needs no kernel, no socket and no running vsd. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vs/cleanup.h"
#include "vs/kvfile.h"
#include "vsd.h"

static uint32_t ip4(const char *text)
{
        struct in_addr a;

        assert_int_equal(inet_pton(AF_INET, text, &a), 1);
        return ntohl(a.s_addr);
}

/* A config's "ip" value: both families, blank-separated, with the prefix
 * kept; IPv4 and IPv6 counted apart. */
static void test_parse_ips_both_families(void **state)
{
        struct vsd_net_addrs addrs;
        vs_error_t err = { 0 };

        (void)state;
        assert_int_equal(vsd_net_parse_ips("10.77.0.2/16 fd00::2/64\t10.77.0.3/32", &addrs, &err),
                         0);
        assert_int_equal(addrs.n4, 2);
        assert_int_equal(addrs.n6, 1);
        assert_int_equal(addrs.v4[0].addr, ip4("10.77.0.2"));
        assert_int_equal(addrs.v4[0].prefix, 16);
        assert_int_equal(addrs.v4[1].prefix, 32);
        assert_int_equal(addrs.v6[0].prefix, 64);
        assert_int_equal(addrs.v6[0].addr[15], 2);
}

static void test_parse_ips_empty_and_missing(void **state)
{
        struct vsd_net_addrs addrs = { .n4 = 9, .n6 = 9 };
        vs_error_t err = { 0 };

        (void)state;
        assert_int_equal(vsd_net_parse_ips(NULL, &addrs, &err), 0);
        assert_int_equal(addrs.n4 + addrs.n6, 0);
        assert_int_equal(vsd_net_parse_ips("  ", &addrs, &err), 0);
        assert_int_equal(addrs.n4 + addrs.n6, 0);
}

static void test_parse_ips_refuses_bad_words(void **state)
{
        struct vsd_net_addrs addrs;
        vs_error_t err = { 0 };

        (void)state;
        assert_true(vsd_net_parse_ips("10.77.0.2/33", &addrs, &err) < 0);
        assert_int_equal(err.kind, VS_E_USAGE);
        vs_error_clear(&err);
        assert_true(vsd_net_parse_ips("10.77.0.2 nonsense", &addrs, &err) < 0);
        assert_int_equal(err.kind, VS_E_USAGE);
}

/* At most VS_NET_ADDRS_MAX of one family; the other family still fits. */
static void test_parse_ips_family_limit(void **state)
{
        char text[4096] = "";
        struct vsd_net_addrs addrs;
        vs_error_t err = { 0 };
        size_t len = 0;

        (void)state;
        for (int i = 0; i < VS_NET_ADDRS_MAX; i++)
                len += (size_t)snprintf(text + len, sizeof(text) - len, "10.0.0.%d ", i + 1);
        assert_int_equal(vsd_net_parse_ips(text, &addrs, &err), 0);
        assert_int_equal(addrs.n4, VS_NET_ADDRS_MAX);
        snprintf(text + len, sizeof(text) - len, "fd00::1 10.0.1.1");
        assert_true(vsd_net_parse_ips(text, &addrs, &err) < 0);
        assert_int_equal(err.errnum, E2BIG);
}

/* Caps go into the config only when given; a cap of 0 removes its key. */
static void test_rates_to_config(void **state)
{
        cleanup_kv vs_kv_t config = { 0 };
        struct vsd_rates both = { .set_out = 1, .set_in = 1, .out = 10000000, .in = 20000000 };
        struct vsd_rates out_off = { .set_out = 1, .out = 0 };

        (void)state;
        vsd_net_rates_to_config(&both, &config);
        assert_string_equal(vs_kv_get(&config, "rate_out"), "10000000");
        assert_string_equal(vs_kv_get(&config, "rate_in"), "20000000");
        vsd_net_rates_to_config(&out_off, &config);
        assert_null(vs_kv_get(&config, "rate_out"));
        assert_string_equal(vs_kv_get(&config, "rate_in"), "20000000");
}

/* A restore's rule for member names: the layout and nothing else, never
 * above the directory it extracts into. */
static void test_backup_member_names(void **state)
{
        static const char *const good[] = { "paene-backup", "config",           "upper",
                                            "upper/",       "upper/etc/passwd", "./upper/x",
                                            "disk.img",     "upper/a..b",       "upper/..x" };
        static const char *const bad[] = {
                "/etc/passwd", "..", "../x",   "upper/../../x", "upper/x/..",  "etc/passwd",
                "work/x",      "",   "uppers", "config2",       "upper/./../x"
        };
        vs_error_t err = { 0 };

        (void)state;
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
                assert_int_equal(vsd_backup_member_ok(good[i], &err), 0);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                memset(&err, 0, sizeof(err));
                assert_int_equal(vsd_backup_member_ok(bad[i], &err), -1);
                assert_int_equal(err.kind, VS_E_USAGE);
                assert_null(strchr(err.msg, '\n'));
        }
}

/* The manifest's format: a decimal this paene reads; a larger one is a
 * newer paene's; anything else is refused (atoi took "1junk" for 1). */
static void test_backup_manifest_format(void **state)
{
        static const char *const good[] = { "1", "01" };
        static const char *const bad[] = { "",   "0", "1junk", "-1",
                                           " 1", "2", "1.0",   "99999999999999999999",
                                           "+1" };
        vs_error_t err = { 0 };

        (void)state;
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                cleanup_kv vs_kv_t m = { 0 };

                vs_kv_set(&m, "format", good[i]);
                assert_int_equal(vsd_backup_manifest_ok(&m, &err), 0);
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                cleanup_kv vs_kv_t m = { 0 };

                vs_kv_set(&m, "format", bad[i]);
                memset(&err, 0, sizeof(err));
                assert_int_equal(vsd_backup_manifest_ok(&m, &err), -1);
                assert_int_equal(err.kind, VS_E_USAGE);
        }
        {
                cleanup_kv vs_kv_t none = { 0 };

                assert_int_equal(vsd_backup_manifest_ok(&none, &err), -1);
        }
        assert_int_equal(vsd_backup_listing_ok("paene-backup\nconfig\nupper/\nupper/x\n", &err), 0);
        assert_int_equal(vsd_backup_listing_ok("config\nupper/\n", &err), -1);
        assert_int_equal(vsd_backup_listing_ok("paene-backup\n/etc/x\n", &err), -1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_ips_both_families),
                cmocka_unit_test(test_parse_ips_empty_and_missing),
                cmocka_unit_test(test_parse_ips_refuses_bad_words),
                cmocka_unit_test(test_parse_ips_family_limit),
                cmocka_unit_test(test_rates_to_config),
                cmocka_unit_test(test_backup_member_names),
                cmocka_unit_test(test_backup_manifest_format),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
