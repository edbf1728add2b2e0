/* Unit tests for the kernel-free half of the bandwidth caps (netns/rate.c):
 * parsing rates as admins type them, their boundaries and overflow, the
 * short form vsctl prints, the token bucket for a rate, and the ifb's name. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vs/error.h"
#include "vs/netns.h"

static uint64_t parsed(const char *text)
{
        vs_error_t err = { 0 };
        uint64_t bits = 12345;

        if (vs_rate_parse(text, "--rate-out", &bits, &err) < 0)
                fail_msg("'%s' refused: %s", text, err.msg);
        return bits;
}

static void assert_refused(const char *text, const char *needle)
{
        vs_error_t err = { 0 };
        uint64_t bits = 777;

        assert_int_equal(vs_rate_parse(text, "--rate-out", &bits, &err), -1);
        assert_int_equal(err.kind, VS_E_USAGE);
        assert_int_equal(bits, 777); /* untouched */
        if (strncmp(err.msg, "--rate-out", 10) != 0)
                fail_msg("message '%s' does not name the option", err.msg);
        if (!strstr(err.msg, needle))
                fail_msg("message '%s' does not mention '%s'", err.msg, needle);
        if (strchr(err.msg, '\n'))
                fail_msg("message '%s' is more than one line", err.msg);
}

static void test_rate_units(void **state)
{
        (void)state;
        assert_int_equal(parsed("10M"), 10000000ULL);
        assert_int_equal(parsed("10m"), 10000000ULL);
        assert_int_equal(parsed("10Mbit"), 10000000ULL);
        assert_int_equal(parsed("10mbit"), 10000000ULL);
        assert_int_equal(parsed("512K"), 512000ULL);
        assert_int_equal(parsed("512kbit"), 512000ULL);
        assert_int_equal(parsed("1G"), 1000000000ULL);
        assert_int_equal(parsed("1.5M"), 1500000ULL);
        assert_int_equal(parsed("2.25G"), 2250000000ULL);
        assert_int_equal(parsed("64000"), 64000ULL);
        assert_int_equal(parsed("64000bit"), 64000ULL);
}

static void test_rate_no_cap(void **state)
{
        (void)state;
        assert_int_equal(parsed("0"), 0);
        assert_int_equal(parsed("none"), 0);
        assert_int_equal(parsed("unlimited"), 0);
        assert_int_equal(parsed("NONE"), 0);
        assert_int_equal(parsed("0M"), 0);
        assert_int_equal(parsed("0.0K"), 0);
}

static void test_rate_boundaries(void **state)
{
        (void)state;
        assert_int_equal(parsed("8K"), VS_RATE_MIN);
        assert_int_equal(parsed("8000"), VS_RATE_MIN);
        assert_refused("7999", "below the smallest cap");
        assert_refused("7.999K", "below the smallest cap");
        assert_refused("1", "below the smallest cap");
        assert_int_equal(parsed("16G"), VS_RATE_MAX);
        assert_int_equal(parsed("16000000000"), VS_RATE_MAX);
        assert_refused("16000000001", "above the largest cap");
        assert_refused("16.000000001G", "above the largest cap");
        assert_refused("17G", "above the largest cap");
        /* the largest cap fits the kernel's 32-bit bytes/s */
        assert_true(VS_RATE_MAX / 8 < 2147483648ULL);
}

static void test_rate_overflow(void **state)
{
        (void)state;
        assert_refused("18446744073709551615", "above the largest cap");
        assert_refused("18446744073709551616", "above the largest cap");
        assert_refused("99999999999999999999999", "above the largest cap");
        assert_refused("18446744073709551615G", "above the largest cap");
        assert_refused("20000000000G", "above the largest cap");
        assert_refused("1.0000000001G", "too many decimals");
        /* past the 18th decimal: refused, never read as 0 (no cap) */
        assert_refused("1.0000000000000000001M", "too many decimals");
}

static void test_rate_refused(void **state)
{
        vs_error_t err = { 0 };
        uint64_t bits;

        (void)state;
        assert_refused("10Q", "unknown unit 'Q'");
        assert_int_equal(vs_rate_parse("10Q", "--rate-out", &bits, &err), -1);
        assert_string_equal(err.msg, "--rate-out '10Q': unknown unit 'Q' (bit/s with K, M or G: "
                                     "10M)");
        assert_refused("-5M", "not a rate");
        assert_refused("-1", "not a rate");
        assert_refused("", "empty");
        assert_refused("M", "not a rate");
        assert_refused(" 10M", "not a rate");
        assert_refused("10M ", "unknown unit");
        assert_refused("10 M", "unknown unit");
        assert_refused("10MB", "unknown unit");
        assert_refused("10Mbps", "unknown unit"); /* tc's bps are bytes: refused, not guessed */
        assert_refused("10KM", "unknown unit");
        assert_refused("1.M", "a digit must follow");
        assert_refused("1e6", "unknown unit");
        assert_refused("0x10", "unknown unit");
        assert_refused("ten", "not a rate");
        /* the option's name is the caller's */
        assert_int_equal(vs_rate_parse("x", "--rate-in", &bits, &err), -1);
        assert_true(strncmp(err.msg, "--rate-in 'x'", 13) == 0);
}

static void test_rate_format(void **state)
{
        char buf[24];
        static const char *const round_trips[] = { "10M", "1500K", "1G", "16G", "8K", "12345" };

        (void)state;
        vs_rate_format(0, buf, sizeof(buf));
        assert_string_equal(buf, "none");
        vs_rate_format(1500000, buf, sizeof(buf));
        assert_string_equal(buf, "1500K");
        vs_rate_format(2250000000ULL, buf, sizeof(buf));
        assert_string_equal(buf, "2250M");
        for (size_t i = 0; i < sizeof(round_trips) / sizeof(round_trips[0]); i++) {
                vs_rate_format(parsed(round_trips[i]), buf, sizeof(buf));
                assert_string_equal(buf, round_trips[i]);
        }
        vs_rate_format(VS_RATE_MAX, buf, sizeof(buf));
        assert_int_equal(parsed(buf), VS_RATE_MAX);
}

static void test_tbf(void **state)
{
        struct vs_tbf t;

        (void)state;
        /* 10 Mbit/s: 1.25 MB/s, a bucket of 10 ms, 50 ms of queue behind it */
        vs_rate_tbf(10000000ULL, 1500, &t);
        assert_int_equal(t.rate, 1250000);
        assert_int_equal(t.burst, 12500);
        assert_int_equal(t.limit, 12500 + 62500);
        /* slow: at least two frames in the bucket, eight in the queue */
        vs_rate_tbf(VS_RATE_MIN, 1500, &t);
        assert_int_equal(t.rate, 1000);
        assert_int_equal(t.burst, 2 * 1514);
        assert_int_equal(t.limit, 10 * 1514);
        /* jumbo frames count */
        vs_rate_tbf(VS_RATE_MIN, 9000, &t);
        assert_int_equal(t.burst, 2 * 9014);
        /* the largest: no wrap-around in 32 bits */
        vs_rate_tbf(VS_RATE_MAX, 1500, &t);
        assert_int_equal(t.rate, 2000000000U);
        assert_int_equal(t.burst, 20000000U);
        assert_int_equal(t.limit, 20000000U + 100000000U);
}

static void test_ifb_name(void **state)
{
        char name[VS_IFNAME_MAX], again[VS_IFNAME_MAX], other[VS_IFNAME_MAX];
        char veth[VS_IFNAME_MAX];

        (void)state;
        vs_net_ifb_ifname("web1", name);
        assert_string_equal(name, "vsi-web1");
        vs_net_ifb_ifname("abcdefghijk", name); /* 4 + 11 = 15: fits */
        assert_string_equal(name, "vsi-abcdefghijk");
        vs_net_ifb_ifname("abcdefghijkl", name);
        assert_int_equal(strlen(name), 15);
        assert_string_equal(name, "vsi-ab-e8fb3e15"); /* to the letter, as the veth's */
        vs_net_ifb_ifname("abcdefghijkl", again);
        assert_string_equal(name, again);
        vs_net_ifb_ifname("abcdefghijkm", other);
        assert_string_not_equal(name, other);
        /* never a veth's name, whatever the VPS is called */
        vs_net_host_ifname("i-web1", veth);
        vs_net_ifb_ifname("web1", name);
        assert_string_not_equal(name, veth);
        assert_true(strncmp(name, "vs-", 3) != 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rate_units),
                cmocka_unit_test(test_rate_no_cap),
                cmocka_unit_test(test_rate_boundaries),
                cmocka_unit_test(test_rate_overflow),
                cmocka_unit_test(test_rate_refused),
                cmocka_unit_test(test_rate_format),
                cmocka_unit_test(test_tbf),
                cmocka_unit_test(test_ifb_name),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
