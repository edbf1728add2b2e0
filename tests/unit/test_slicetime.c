/* Unit tests for the pure parts of runtime/slicetime.c and slicebytes.c:
 * the expiry's DATE and +DURATION forms, the UTC text, and the bytes a
 * VPS sent between two readings of its counter. No kernel, no daemon. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "slicetime.h"

#define NOW 1764748800LL /* 2025-12-03 08:00:00 UTC */

static int64_t parsed(const char *text)
{
        vs_error_t err = { 0 };
        int64_t when = -1;

        assert_int_equal(vsd_slice_parse_expires(text, NOW, &when, &err), 0);
        return when;
}

static void refused(const char *text, const char *says)
{
        vs_error_t err = { 0 };
        int64_t when = 0;

        assert_int_equal(vsd_slice_parse_expires(text, NOW, &when, &err), -1);
        assert_int_equal(err.kind, VS_E_USAGE);
        assert_non_null(strstr(err.msg, says));
        assert_null(strchr(err.msg, '\n'));
}

static void test_dates(void **state)
{
        (void)state;
        assert_int_equal(parsed("2025-12-03"), NOW - 8 * 3600);
        assert_int_equal(parsed("2025-12-03T08:00"), NOW);
        assert_int_equal(parsed("2025-12-03T08:00:30"), NOW + 30);
        assert_int_equal(parsed("2028-02-29"), 1835395200LL);
        /* a past date parses: renew refuses it, with the time it is */
        assert_int_equal(parsed("1970-01-01"), 0);
}

static void test_durations(void **state)
{
        (void)state;
        assert_int_equal(parsed("+30d"), NOW + 30 * 86400);
        assert_int_equal(parsed("+2h"), NOW + 7200);
        assert_int_equal(parsed("+5m"), NOW + 300);
        assert_int_equal(parsed("+9s"), NOW + 9);
        assert_int_equal(parsed("+0s"), NOW);
}

static void test_bad_input(void **state)
{
        (void)state;
        refused("", "empty");
        refused("tomorrow", "'tomorrow': not a date");
        refused("2025-13-01", "not a date");
        refused("2025-02-30", "no such day");
        refused("2025-12-03T25:00", "not a date");
        refused("2025-12-3", "not a date");
        refused("2025-12-03 08:00", "not a date");
        refused("2025-12-03T08:00Z", "not a date");
        refused("+", "not a duration");
        refused("+5", "not a duration");
        refused("+5w", "not a duration");
        refused("+-5d", "not a duration");
        refused("+5dd", "not a duration");
        refused("+99999999999d", "not a duration");
}

static void test_utc_text(void **state)
{
        char buf[40];

        (void)state;
        vsd_slice_format_utc(NOW, buf, sizeof(buf));
        assert_string_equal(buf, "2025-12-03 08:00:00 UTC");
}

static void test_sent_delta(void **state)
{
        (void)state;
        /* the same run: what the counter grew by */
        assert_int_equal(vsd_slice_sent_delta(100, 5000, 100, 7000), 2000);
        assert_int_equal(vsd_slice_sent_delta(100, 5000, 100, 5000), 0);
        /* a new run (restart): its veth's counter began at 0 */
        assert_int_equal(vsd_slice_sent_delta(100, 5000, 200, 300), 300);
        assert_int_equal(vsd_slice_sent_delta(100, 5000, 200, 9000), 9000);
        /* no reading before */
        assert_int_equal(vsd_slice_sent_delta(0, 0, 200, 4096), 4096);
        /* the same run, a counter below the last: the veth was made again */
        assert_int_equal(vsd_slice_sent_delta(100, 5000, 100, 40), 40);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dates),      cmocka_unit_test(test_durations),
                cmocka_unit_test(test_bad_input),  cmocka_unit_test(test_utc_text),
                cmocka_unit_test(test_sent_delta),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
