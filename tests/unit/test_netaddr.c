/* Unit tests for the kernel-free half of include/vs/netns.h: IPv4 address
 * and prefix parsing, the address pool's arithmetic, interface names and
 * MACs derived from VPS names, vsd.conf's network keys, and the /etc files
 * written into a VPS's layer (which must never follow its symlinks). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vs/error.h"
#include "vs/netns.h"

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))

static void assert_usage_error(int rc, const vs_error_t *err, const char *needle)
{
        assert_true(rc < 0);
        assert_int_equal(err->kind, VS_E_USAGE);
        if (!strstr(err->msg, needle))
                fail_msg("message '%s' does not mention '%s'", err->msg, needle);
}

static void test_ip4_parse_valid(void **state)
{
        vs_ip4_t ip;
        vs_error_t err = { 0 };
        char buf[24];

        (void)state;
        assert_int_equal(vs_ip4_parse("10.77.0.2/16", -1, &ip, &err), 0);
        assert_int_equal(ip.addr, IP(10, 77, 0, 2));
        assert_int_equal(ip.prefix, 16);
        assert_int_equal(vs_ip4_parse("192.0.2.1", 24, &ip, &err), 0);
        assert_int_equal(ip.prefix, 24);
        assert_int_equal(vs_ip4_parse("0.0.0.0/0", -1, &ip, &err), 0);
        assert_int_equal(ip.prefix, 0);
        assert_int_equal(vs_ip4_parse("255.255.255.255/32", -1, &ip, &err), 0);
        vs_ip4_format(&ip, 1, buf, sizeof(buf));
        assert_string_equal(buf, "255.255.255.255/32");
        ip = (vs_ip4_t){ IP(10, 1, 2, 3), 8 };
        vs_ip4_format(&ip, 0, buf, sizeof(buf));
        assert_string_equal(buf, "10.1.2.3");
}

static void test_ip4_parse_refused(void **state)
{
        static const char *const bad[] = { "",          "10.77.0",   "10.77.0.256", "1.2.3.4.5",
                                           "10.0.0.1 ", " 10.0.0.1", "010.0.0.1x",  "a.b.c.d",
                                           "::1",       "10.0.0.1/" };
        vs_ip4_t ip;

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                vs_error_t err = { 0 };

                assert_usage_error(vs_ip4_parse(bad[i], 32, &ip, &err), &err, "");
        }
        {
                vs_error_t err = { 0 };

                assert_usage_error(vs_ip4_parse("10.0.0.1/33", 32, &ip, &err), &err, "/33");
        }
        {
                vs_error_t err = { 0 };

                assert_usage_error(vs_ip4_parse("10.0.0.1/-1", 32, &ip, &err), &err, "/-1");
        }
        {
                vs_error_t err = { 0 };

                assert_usage_error(vs_ip4_parse("10.0.0.1", -1, &ip, &err), &err, "prefix");
        }
}

static void test_mask(void **state)
{
        (void)state;
        assert_int_equal(vs_ip4_mask(0), 0);
        assert_int_equal(vs_ip4_mask(8), 0xff000000U);
        assert_int_equal(vs_ip4_mask(30), 0xfffffffcU);
        assert_int_equal(vs_ip4_mask(32), 0xffffffffU);
}

static void test_pool_parse(void **state)
{
        vs_pool4_t pool;
        vs_error_t err = { 0 };

        (void)state;
        assert_int_equal(vs_pool4_parse("10.77.0.0/16", &pool, &err), 0);
        assert_int_equal(pool.gateway, IP(10, 77, 0, 1));
        assert_usage_error(vs_pool4_parse("10.77.0.1/16", &pool, &err), &err, "host bits");
        assert_usage_error(vs_pool4_parse("10.77.0.0/31", &pool, &err), &err, "/30");
        assert_usage_error(vs_pool4_parse("10.0.0.0/7", &pool, &err), &err, "/8");
        assert_usage_error(vs_pool4_parse("10.77.0.0", &pool, &err), &err, "prefix");
}

static void test_pool_hosts(void **state)
{
        vs_pool4_t pool;

        (void)state;
        assert_int_equal(vs_pool4_parse("192.168.5.0/24", &pool, NULL), 0);
        assert_false(vs_pool4_is_host(&pool, IP(192, 168, 5, 0))); /* network */
        assert_false(vs_pool4_is_host(&pool, IP(192, 168, 5, 1))); /* gateway */
        assert_true(vs_pool4_is_host(&pool, IP(192, 168, 5, 2)));
        assert_true(vs_pool4_is_host(&pool, IP(192, 168, 5, 254)));
        assert_false(vs_pool4_is_host(&pool, IP(192, 168, 5, 255))); /* broadcast */
        assert_false(vs_pool4_is_host(&pool, IP(192, 168, 6, 2)));   /* outside */
        assert_true(vs_pool4_contains(&pool, IP(192, 168, 5, 255)));
        assert_false(vs_pool4_contains(&pool, IP(192, 168, 4, 255)));
}

static void test_pool_next(void **state)
{
        vs_pool4_t pool;
        uint32_t got;
        uint32_t used[] = { IP(10, 9, 0, 4), IP(10, 9, 0, 2), IP(10, 9, 0, 3), IP(99, 0, 0, 1) };
        vs_error_t err = { 0 };

        (void)state;
        assert_int_equal(vs_pool4_parse("10.9.0.0/29", &pool, NULL), 0);
        assert_int_equal(vs_pool4_next(&pool, NULL, 0, &got, &err), 0);
        assert_int_equal(got, IP(10, 9, 0, 2));
        /* unsorted input, and an address outside the pool, change nothing */
        assert_int_equal(vs_pool4_next(&pool, used, 4, &got, &err), 0);
        assert_int_equal(got, IP(10, 9, 0, 5));
        /* a hole is reused: lowest first */
        used[1] = IP(10, 9, 0, 6);
        assert_int_equal(vs_pool4_next(&pool, used, 4, &got, &err), 0);
        assert_int_equal(got, IP(10, 9, 0, 2));
}

static void test_pool_exhausted(void **state)
{
        vs_pool4_t pool;
        uint32_t got, used[5];
        vs_error_t err = { 0 };

        (void)state;
        /* a /29: .2 to .6 are hosts, .7 is the broadcast address */
        assert_int_equal(vs_pool4_parse("10.9.0.0/29", &pool, NULL), 0);
        for (int i = 0; i < 5; i++)
                used[i] = IP(10, 9, 0, 2 + i);
        assert_true(vs_pool4_next(&pool, used, 5, &got, &err) < 0);
        assert_int_equal(err.kind, VS_E_STATE);
        assert_non_null(strstr(err.msg, "exhausted"));
        /* the smallest pool holds exactly one VPS */
        assert_int_equal(vs_pool4_parse("10.9.0.0/30", &pool, NULL), 0);
        assert_int_equal(vs_pool4_next(&pool, NULL, 0, &got, &err), 0);
        assert_int_equal(got, IP(10, 9, 0, 2));
        assert_true(vs_pool4_next(&pool, &got, 1, &got, &err) < 0);
}

static void test_pool_many(void **state)
{
        vs_pool4_t pool;
        uint32_t *used = calloc(1024, sizeof(*used));
        vs_error_t err = { 0 };

        (void)state;
        assert_int_equal(vs_pool4_parse("10.77.0.0/16", &pool, NULL), 0);
        for (size_t i = 0; i < 1024; i++) {
                assert_int_equal(vs_pool4_next(&pool, used, i, &used[i], &err), 0);
                assert_true(vs_pool4_is_host(&pool, used[i]));
                if (i)
                        assert_true(used[i] == used[i - 1] + 1);
        }
        free(used);
}

static void test_ifname(void **state)
{
        char name[VS_IFNAME_MAX], again[VS_IFNAME_MAX], other[VS_IFNAME_MAX];

        (void)state;
        vs_net_host_ifname("web1", name);
        assert_string_equal(name, "vs-web1");
        vs_net_host_ifname("abcdefghijkl", name); /* 3 + 12 = 15: fits */
        assert_string_equal(name, "vs-abcdefghijkl");
        vs_net_host_ifname("abcdefghijklm", name);
        assert_int_equal(strlen(name), 15);
        /* to the letter: a running VPS's interface keeps its name across
         * a vsd upgrade (FNV-1a of the whole name) */
        assert_string_equal(name, "vs-abc-3b8356e8");
        vs_net_host_ifname("abcdefghijklm", again);
        assert_string_equal(name, again);
        vs_net_host_ifname("abcdefghijkln", other);
        assert_string_not_equal(name, other);
}

static void test_mac(void **state)
{
        unsigned char a[6], b[6], c[6];

        (void)state;
        vs_net_guest_mac("web1", a);
        vs_net_guest_mac("web1", b);
        vs_net_guest_mac("web2", c);
        assert_memory_equal(a, b, 6);
        assert_memory_not_equal(a, c, 6);
        assert_int_equal(a[0] & 1, 0); /* unicast */
        assert_int_equal(a[0] & 2, 2); /* locally administered */
}

static int write_conf(const char *text, char *path, size_t size)
{
        int fd;

        snprintf(path, size, "/tmp/paene-unit-netconf.XXXXXX");
        fd = mkstemp(path);
        if (fd < 0)
                return -1;
        if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
                close(fd);
                return -1;
        }
        close(fd);
        return 0;
}

static void test_conf(void **state)
{
        vs_net_conf_t conf;
        vs_error_t err = { 0 };
        char path[64];

        (void)state;
        assert_int_equal(vs_net_conf_load(AT_FDCWD, "/nonexistent/vsd.conf", &conf, &err), 0);
        assert_int_equal(conf.mode, VS_NET_BRIDGE);
        assert_string_equal(conf.bridge, "vsbr0");
        assert_int_equal(conf.pool4.net.addr, IP(10, 77, 0, 0));
        assert_int_equal(conf.mtu, 1500);
        assert_false(conf.has_pool6); /* IPv6 is opt-in */

        assert_int_equal(write_conf("network_mode = routed\npool4 = 10.88.0.0/24\nmtu = 9000\n"
                                    "pool6 = fd88::/64\n",
                                    path, sizeof(path)),
                         0);
        assert_int_equal(vs_net_conf_load(AT_FDCWD, path, &conf, &err), 0);
        unlink(path);
        assert_true(conf.has_pool6);
        assert_int_equal(conf.pool6.net.prefix, 64);
        assert_int_equal(conf.pool6.gateway[15], 1);
        assert_int_equal(conf.mode, VS_NET_ROUTED);
        assert_int_equal(conf.pool4.gateway, IP(10, 88, 0, 1));
        assert_int_equal(conf.mtu, 9000);

        assert_int_equal(write_conf("network_mode = bridged\n", path, sizeof(path)), 0);
        assert_usage_error(vs_net_conf_load(AT_FDCWD, path, &conf, &err), &err, "bridged");
        unlink(path);
        assert_int_equal(write_conf("mtu = 100\n", path, sizeof(path)), 0);
        assert_usage_error(vs_net_conf_load(AT_FDCWD, path, &conf, &err), &err, "mtu");
        unlink(path);
        assert_int_equal(write_conf("pool4 = 10.88.0.5/24\n", path, sizeof(path)), 0);
        assert_usage_error(vs_net_conf_load(AT_FDCWD, path, &conf, &err), &err, "host bits");
        unlink(path);
        assert_int_equal(write_conf("pool6 = fd88::/56\n", path, sizeof(path)), 0);
        assert_usage_error(vs_net_conf_load(AT_FDCWD, path, &conf, &err), &err, "pool6");
        unlink(path);
}

/* fuzz_vsdconf found it: a bridge name with a blank, a control byte or a
 * ':' was taken, which no interface can have (and which ip and nft would
 * read as more than a name). */
static void test_conf_refuses_bad_interface_names(void **state)
{
        static const char *const bad[] = {
                "vs br0", "vs:br0", ".", "..", "br\x01x", "br\x7f", "br\xc3\xa9", "a/b", "br\vx",
        };
        vs_net_conf_t conf;
        vs_error_t err = { 0 };

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                for (int uplink = 0; uplink < 2; uplink++) {
                        cleanup_kv vs_kv_t kv = { 0 };

                        vs_kv_set(&kv, uplink ? "uplink" : "bridge", bad[i]);
                        assert_usage_error(vs_net_conf_parse(&kv, &conf, &err), &err,
                                           uplink ? "uplink" : "bridge");
                }
        }
        {
                cleanup_kv vs_kv_t kv = { 0 };

                vs_kv_set(&kv, "bridge", "br-lan.10_x");
                assert_int_equal(vs_net_conf_parse(&kv, &conf, &err), 0);
                assert_string_equal(conf.bridge, "br-lan.10_x");
        }
}

/* ---- /etc files in a layer the VPS's root controls ---- */

static char *read_all(const char *path)
{
        static char buf[4096];
        FILE *f = fopen(path, "r");
        size_t n;

        if (!f)
                return NULL;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        fclose(f);
        return buf;
}

static void test_ip6_parse(void **state)
{
        vs_ip6_t ip;
        vs_error_t err = { 0 };
        char buf[64];

        (void)state;
        assert_true(vs_ip_is_v6("fd77::2"));
        assert_false(vs_ip_is_v6("10.77.0.2"));
        assert_int_equal(vs_ip6_parse("2001:DB8:0:0::7/64", -1, &ip, &err), 0);
        assert_int_equal(ip.prefix, 64);
        vs_ip6_format(&ip, 1, buf, sizeof(buf));
        assert_string_equal(buf, "2001:db8::7/64");
        assert_int_equal(vs_ip6_parse("fd77::2", 128, &ip, &err), 0);
        assert_int_equal(ip.prefix, 128);
        assert_usage_error(vs_ip6_parse("fd77::2/129", 128, &ip, &err), &err, "/129");
        assert_usage_error(vs_ip6_parse("fd77:::2", 128, &ip, &err), &err, "fd77:::2");
        assert_usage_error(vs_ip6_parse("fd77::2", -1, &ip, &err), &err, "prefix");
        assert_usage_error(vs_ip6_parse("10.0.0.1", 128, &ip, &err), &err, "IPv6");
        assert_int_equal(vs_ip6_parse("fe80::1", 128, &ip, &err), 0);
        assert_false(vs_ip6_is_unicast(ip.addr)); /* link-local */
        assert_int_equal(vs_ip6_parse("ff02::1", 128, &ip, &err), 0);
        assert_false(vs_ip6_is_unicast(ip.addr));
        assert_int_equal(vs_ip6_parse("::1", 128, &ip, &err), 0);
        assert_false(vs_ip6_is_unicast(ip.addr));
        assert_int_equal(vs_ip6_parse("::ffff:10.0.0.1", 128, &ip, &err), 0);
        assert_false(vs_ip6_is_unicast(ip.addr));
        assert_int_equal(vs_ip6_parse("2001:db8::1", 128, &ip, &err), 0);
        assert_true(vs_ip6_is_unicast(ip.addr));
}

static void test_pool6(void **state)
{
        vs_pool6_t pool;
        vs_ip6_t used[3], next, ip;
        vs_error_t err = { 0 };
        char buf[64];

        (void)state;
        assert_int_equal(vs_pool6_parse("fd77:1::/64", &pool, &err), 0);
        memcpy(ip.addr, pool.gateway, 16);
        ip.prefix = 64;
        vs_ip6_format(&ip, 0, buf, sizeof(buf));
        assert_string_equal(buf, "fd77:1::1");
        assert_usage_error(vs_pool6_parse("fd77:1::1/64", &pool, &err), &err, "host bits");
        assert_usage_error(vs_pool6_parse("fd77:1::/48", &pool, &err), &err, "/64");
        assert_usage_error(vs_pool6_parse("fe80::/64", &pool, &err), &err, "link-local");
        assert_int_equal(vs_pool6_parse("fd77:1::/64", &pool, &err), 0);
        assert_false(vs_pool6_is_host(&pool, pool.net.addr));
        assert_false(vs_pool6_is_host(&pool, pool.gateway));
        /* the lowest free host after the gateway; outsiders are ignored */
        assert_int_equal(vs_ip6_parse("fd77:1::2", 128, &used[0], NULL), 0);
        assert_int_equal(vs_ip6_parse("fd77:2::3", 128, &used[1], NULL), 0);
        assert_int_equal(vs_ip6_parse("fd77:1::4", 128, &used[2], NULL), 0);
        assert_int_equal(vs_pool6_next(&pool, used, 3, &next, &err), 0);
        vs_ip6_format(&next, 1, buf, sizeof(buf));
        assert_string_equal(buf, "fd77:1::3/64");
        assert_true(vs_pool6_is_host(&pool, next.addr));
        assert_int_equal(vs_ip6_parse("fd77:1::3", 128, &used[1], NULL), 0);
        assert_int_equal(vs_pool6_next(&pool, used, 3, &next, &err), 0);
        vs_ip6_format(&next, 0, buf, sizeof(buf));
        assert_string_equal(buf, "fd77:1::5");
        /* a /126 holds the network, the gateway and two hosts */
        assert_int_equal(vs_pool6_parse("fd77:1::/126", &pool, &err), 0);
        assert_int_equal(vs_ip6_parse("fd77:1::2", 128, &used[0], NULL), 0);
        assert_int_equal(vs_ip6_parse("fd77:1::3", 128, &used[1], NULL), 0);
        assert_int_equal(vs_pool6_next(&pool, used, 1, &next, &err), 0);
        assert_int_equal(next.addr[15], 3);
        assert_int_equal(vs_pool6_next(&pool, used, 2, &next, &err), -1);
        assert_int_equal(err.errnum, ENOSPC);
        assert_non_null(strstr(err.msg, "exhausted"));
}

static void test_etc_files(void **state)
{
        char dir[] = "/tmp/paene-unit-etc.XXXXXX", path[256];
        vs_ip4_t ip = { IP(10, 77, 0, 9), 16 };
        vs_error_t err = { 0 };
        unsigned created = 0;
        int fd;
        char *text;

        (void)state;
        assert_non_null(mkdtemp(dir));
        fd = open(dir, O_RDONLY | O_DIRECTORY);
        assert_true(fd >= 0);
        vs_ip6_t ip6;
        struct vs_net_etc etc = {
                .hostname = "web1.example.org",
                .addrs = &ip,
                .naddrs = 1,
                .addrs6 = &ip6,
                .naddrs6 = 1,
                .nameservers = "192.0.2.53 2001:db8::53",
                .searchdomains = "example.org corp.example",
        };

        assert_int_equal(vs_ip6_parse("fd77::9/64", -1, &ip6, &err), 0);
        assert_int_equal(vs_net_write_etc(fd, getuid(), getgid(), &etc, &created, &err), 0);
        assert_int_equal(created, VS_ETC_CREATED_DIR | VS_ETC_CREATED_FILE(0) |
                                          VS_ETC_CREATED_FILE(1) | VS_ETC_CREATED_FILE(2));
        snprintf(path, sizeof(path), "%s/etc/hosts", dir);
        text = read_all(path);
        assert_non_null(text);
        assert_non_null(strstr(text, "10.77.0.9\tweb1.example.org web1\n"));
        assert_non_null(strstr(text, "fd77::9\tweb1.example.org web1\n"));
        snprintf(path, sizeof(path), "%s/etc/hostname", dir);
        assert_string_equal(read_all(path), "web1.example.org\n");
        snprintf(path, sizeof(path), "%s/etc/resolv.conf", dir);
        text = read_all(path);
        assert_non_null(strstr(text, "nameserver 2001:db8::53\n"));
        assert_non_null(strstr(text, "nameserver 192.0.2.53\n"));
        assert_non_null(strstr(text, "\nsearch example.org corp.example\n"));
        /* a failed start takes back what it made, and only that */
        vs_net_undo_etc(fd, created);
        snprintf(path, sizeof(path), "%s/etc", dir);
        assert_int_equal(access(path, F_OK), -1);
        close(fd);
        rmdir(dir);
}

static void test_etc_symlinks_not_followed(void **state)
{
        char dir[] = "/tmp/paene-unit-etc.XXXXXX", outside[] = "/tmp/paene-unit-out.XXXXXX";
        char path[256], target[256];
        vs_ip4_t ip = { IP(10, 77, 0, 9), 16 };
        struct vs_net_etc etc = { .hostname = "w", .addrs = &ip, .naddrs = 1 };
        vs_error_t err = { 0 };
        unsigned created = 0;
        struct stat st;
        int fd;

        (void)state;
        assert_non_null(mkdtemp(dir));
        assert_non_null(mkdtemp(outside));
        fd = open(dir, O_RDONLY | O_DIRECTORY);
        assert_true(fd >= 0);
        /* etc itself a symlink out of the layer: refused */
        snprintf(path, sizeof(path), "%s/etc", dir);
        assert_int_equal(symlink(outside, path), 0);
        assert_true(vs_net_write_etc(fd, getuid(), getgid(), &etc, &created, &err) < 0);
        snprintf(target, sizeof(target), "%s/hosts", outside);
        assert_int_equal(access(target, F_OK), -1);
        unlink(path);
        /* etc/hosts a symlink out of the layer: replaced, not written through */
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/etc/hosts", dir);
        assert_int_equal(symlink(target, path), 0);
        assert_int_equal(vs_net_write_etc(fd, getuid(), getgid(), &etc, &created, &err), 0);
        assert_int_equal(access(target, F_OK), -1);
        assert_int_equal(lstat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        unlink(path);
        snprintf(path, sizeof(path), "%s/etc/hostname", dir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/etc", dir);
        rmdir(path);
        close(fd);
        rmdir(dir);
        rmdir(outside);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ip4_parse_valid),
                cmocka_unit_test(test_ip4_parse_refused),
                cmocka_unit_test(test_mask),
                cmocka_unit_test(test_pool_parse),
                cmocka_unit_test(test_pool_hosts),
                cmocka_unit_test(test_pool_next),
                cmocka_unit_test(test_pool_exhausted),
                cmocka_unit_test(test_pool_many),
                cmocka_unit_test(test_ifname),
                cmocka_unit_test(test_mac),
                cmocka_unit_test(test_conf),
                cmocka_unit_test(test_conf_refuses_bad_interface_names),
                cmocka_unit_test(test_ip6_parse),
                cmocka_unit_test(test_pool6),
                cmocka_unit_test(test_etc_files),
                cmocka_unit_test(test_etc_symlinks_not_followed),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
