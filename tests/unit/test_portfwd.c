/* Unit tests for port-forward specs (netns/portfwd.c): what vsctl and vsd
 * take for --port-forward and --port-forward-del, and a config's
 * port_forward list; and vsd.conf's uplink key. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vs/error.h"
#include "vs/netns.h"

static void test_parse_valid(void **state)
{
        vs_portfwd_t f;
        vs_error_t err = { 0 };
        char buf[VS_PORTFWD_TEXT];

        (void)state;
        assert_int_equal(vs_portfwd_parse("8080:80", &f, &err), 0);
        assert_int_equal(f.host_port, 8080);
        assert_int_equal(f.vps_port, 80);
        assert_int_equal(f.proto, VS_L4_TCP);
        assert_int_equal(vs_portfwd_parse("5353:53/udp", &f, &err), 0);
        assert_int_equal(f.proto, VS_L4_UDP);
        vs_portfwd_format(&f, buf, sizeof(buf));
        assert_string_equal(buf, "5353:53/udp");
        assert_int_equal(vs_portfwd_parse("65535:1/tcp", &f, &err), 0);
        vs_portfwd_format(&f, buf, sizeof(buf));
        assert_string_equal(buf, "65535:1/tcp");
}

static void test_parse_refused(void **state)
{
        static const char *const bad[] = {
                "",         "80",       ":80",        "80:",    "0:80",      "80:0",
                "99999:80", "80:65536", "80:80/sctp", "80:80/", "80:80/TCP", "a:80",
                "80:8a",    "-1:80",    " 80:80",     "80:80 ", "80/tcp:80", "123456:80",
        };
        vs_portfwd_t f;

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                vs_error_t err = { 0 };

                if (vs_portfwd_parse(bad[i], &f, &err) == 0)
                        fail_msg("'%s' was taken", bad[i]);
                assert_int_equal(err.kind, VS_E_USAGE);
                assert_non_null(strstr(err.msg, bad[i]));
        }
}

static void test_parse_del(void **state)
{
        vs_portfwd_t d, tcp = { 8080, 80, VS_L4_TCP }, udp = { 8080, 53, VS_L4_UDP },
                        other = { 8081, 80, VS_L4_TCP };
        vs_error_t err = { 0 };

        (void)state;
        assert_int_equal(vs_portfwd_parse_del("all", &d, &err), 0);
        assert_true(vs_portfwd_matches_del(&other, &d));
        assert_int_equal(vs_portfwd_parse_del("8080", &d, &err), 0);
        assert_true(vs_portfwd_matches_del(&tcp, &d));
        assert_true(vs_portfwd_matches_del(&udp, &d));
        assert_false(vs_portfwd_matches_del(&other, &d));
        assert_int_equal(vs_portfwd_parse_del("8080/udp", &d, &err), 0);
        assert_false(vs_portfwd_matches_del(&tcp, &d));
        assert_true(vs_portfwd_matches_del(&udp, &d));
        assert_true(vs_portfwd_parse_del("8080:80", &d, &err) < 0);
        assert_true(vs_portfwd_parse_del("8080/sctp", &d, &err) < 0);
        assert_true(vs_portfwd_parse_del("0", &d, &err) < 0);
        assert_true(vs_portfwd_parse_del("", &d, &err) < 0);
        assert_true(vs_portfwd_parse_del("ALL", &d, &err) < 0);
}

static void test_list(void **state)
{
        vs_portfwd_t f[4];
        size_t n;
        vs_error_t err = { 0 };
        char *text;

        (void)state;
        assert_int_equal(vs_portfwd_parse_list(NULL, f, 4, &n, &err), 0);
        assert_int_equal(n, 0);
        assert_int_equal(
                vs_portfwd_parse_list(" 8080:80/tcp  8080:80/udp\t22:2222 ", f, 4, &n, &err), 0);
        assert_int_equal(n, 3);
        text = vs_portfwd_format_list(f, n);
        assert_string_equal(text, "8080:80/tcp 8080:80/udp 22:2222/tcp");
        free(text);
        text = vs_portfwd_format_list(f, 0);
        assert_string_equal(text, "");
        free(text);
        /* a host port and protocol once; a cap on the count */
        assert_true(vs_portfwd_parse_list("8080:80 8080:81/tcp", f, 4, &n, &err) < 0);
        assert_non_null(strstr(err.msg, "twice"));
        assert_true(vs_portfwd_parse_list("1:1 2:2 3:3 4:4 5:5", f, 4, &n, &err) < 0);
        assert_int_equal(err.errnum, E2BIG);
        assert_true(vs_portfwd_parse_list("1:1 x", f, 4, &n, &err) < 0);
}

static void test_uplink_conf(void **state)
{
        char dir[] = "/tmp/paene-unit-XXXXXX";
        char path[64];
        vs_net_conf_t conf;
        vs_error_t err = { 0 };
        FILE *f;

        (void)state;
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/vsd.conf", dir);
        assert_int_equal(vs_net_conf_load(AT_FDCWD, path, &conf, &err), 0);
        assert_string_equal(conf.uplink, "");
        f = fopen(path, "w");
        fputs("uplink = eth0\n", f);
        fclose(f);
        assert_int_equal(vs_net_conf_load(AT_FDCWD, path, &conf, &err), 0);
        assert_string_equal(conf.uplink, "eth0");
        f = fopen(path, "w");
        fputs("uplink = eth0\"; flush ruleset\n", f);
        fclose(f);
        assert_true(vs_net_conf_load(AT_FDCWD, path, &conf, &err) < 0);
        assert_int_equal(err.kind, VS_E_USAGE);
        f = fopen(path, "w");
        fputs("uplink = a-name-far-too-long0\n", f);
        fclose(f);
        assert_true(vs_net_conf_load(AT_FDCWD, path, &conf, &err) < 0);
        unlink(path);
        rmdir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_valid), cmocka_unit_test(test_parse_refused),
                cmocka_unit_test(test_parse_del),   cmocka_unit_test(test_list),
                cmocka_unit_test(test_uplink_conf),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
