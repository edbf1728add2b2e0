/* Unit tests for include/vs/limits.h: value parsing and cross-checks, the
 * cgroup v1 and v2 file writes (names, values, order), conversions and the
 * stats parsers. No cgroup is touched. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vs/error.h"
#include "vs/kvfile.h"
#include "vs/limits.h"

static vs_limits_t parsed(const char *const *pairs)
{
        vs_limits_t l = { 0 };
        vs_error_t err = { 0 };

        for (; *pairs; pairs += 2) {
                int limit = vs_limit_find(pairs[0]);

                assert_true(limit >= 0);
                if (vs_limits_parse_one(&l, (vs_limit_t)limit, pairs[1], &err) < 0)
                        fail_msg("%s=%s refused: %s", pairs[0], pairs[1], err.msg);
        }
        return l;
}

/* The value written to `file` by the plan (the last write wins), or NULL. */
static const char *planned(const vs_limit_write_t *w, size_t n, const char *file)
{
        const char *value = NULL;

        for (size_t i = 0; i < n; i++)
                if (strcmp(w[i].file, file) == 0)
                        value = w[i].value;
        return value;
}

static void refused(const char *key, const char *text, const char *needle)
{
        vs_limits_t l = { 0 };
        vs_error_t err = { 0 };
        int limit = vs_limit_find(key);

        assert_true(limit >= 0);
        if (vs_limits_parse_one(&l, (vs_limit_t)limit, text, &err) == 0)
                fail_msg("%s=%s accepted", key, text);
        assert_int_equal(err.kind, VS_E_USAGE);
        assert_int_equal(l.set, 0);
        if (!strstr(err.msg, needle))
                fail_msg("message '%s' does not mention '%s'", err.msg, needle);
}

static void test_find_by_key_and_option(void **state)
{
        (void)state;
        assert_int_equal(vs_limit_find("cpu_burst"), VS_LIM_CPU_BURST);
        assert_int_equal(vs_limit_find("cpu-burst"), VS_LIM_CPU_BURST);
        assert_int_equal(vs_limit_find("ram-reserve"), VS_LIM_RAM_RESERVE);
        assert_int_equal(vs_limit_find("numproc"), VS_LIM_NUMPROC);
        assert_int_equal(vs_limit_find("nosuch"), -1);
        for (int i = 0; i < VS_LIM_COUNT; i++)
                assert_int_equal(vs_limit_find(vs_limit_key((vs_limit_t)i)), i);
}

static void test_parse_values(void **state)
{
        static const char *const pairs[] = { "cpulimit", "50%",     "ram",     "64M",       "swap",
                                             "1G",       "numproc", "50",      "cpu-burst", "20ms",
                                             "ioprio",   "7",       "iolimit", "5M",        NULL };
        vs_limits_t l = parsed(pairs);

        (void)state;
        assert_int_equal(l.value[VS_LIM_CPULIMIT], 500000);
        assert_int_equal(l.value[VS_LIM_RAM], 64ULL << 20);
        assert_int_equal(l.value[VS_LIM_SWAP], 1ULL << 30);
        assert_int_equal(l.value[VS_LIM_NUMPROC], 50);
        assert_int_equal(l.value[VS_LIM_CPU_BURST], 20);
        assert_int_equal(l.value[VS_LIM_IOLIMIT], 5ULL << 20);
        assert_string_equal(l.text[VS_LIM_RAM], "64M");
        assert_true(VS_LIMIT_IS_SET(&l, VS_LIM_IOPRIO));
        assert_false(VS_LIMIT_IS_SET(&l, VS_LIM_CPUS));
}

static void test_out_of_range_is_refused_not_clamped(void **state)
{
        (void)state;
        refused("cpulimit", "0.5%", "smallest cap");
        refused("cpulimit", "abc", "--cpulimit");
        refused("cpuunits", "1", "--cpuunits");
        refused("cpuunits", "262145", "--cpuunits");
        refused("ram", "1M", "out of range");
        refused("ram", "lots", "--ram");
        refused("numproc", "0", "--numproc");
        refused("ioprio", "8", "--ioprio");
        refused("numfile", "-1", "--numfile");
        refused("cpumask", "0-", "CPU list");
        refused("cpumask", "3-1", "CPU list");
        refused("cpumask", "", "empty");
        refused("cpu-burst", "soon", "--cpu-burst");
}

static void timeslice_is(const char *text, uint64_t us)
{
        uint64_t got = 12345;
        vs_error_t err = { 0 };

        assert_int_equal(vs_parse_timeslice(text, &got, &err), 0);
        assert_int_equal(got, us);
}

static void test_timeslice(void **state)
{
        (void)state;
        timeslice_is("default", 0);
        timeslice_is("100us", 100);
        timeslice_is("0.1ms", 100);
        timeslice_is("0.25ms", 250);
        timeslice_is("1.5ms", 1500);
        timeslice_is("4ms", 4000);
        timeslice_is("100ms", 100000);
        timeslice_is("100000us", 100000);
        /* outside the kernel's range: refused, not clamped as it would */
        refused("timeslice", "99us", "outside");
        refused("timeslice", "0.05ms", "outside");
        refused("timeslice", "100.001ms", "outside");
        refused("timeslice", "4294967296ms", "not a time slice");
        refused("timeslice", "0", "not a time slice");
        refused("timeslice", "1", "not a time slice");
        refused("timeslice", "0.1234ms", "not a time slice");
        refused("timeslice", "1.ms", "not a time slice");
        refused("timeslice", ".5ms", "not a time slice");
        refused("timeslice", "1s", "not a time slice");
        refused("timeslice", " 1ms", "not a time slice");
        refused("timeslice", "-1ms", "--timeslice");
        refused("timeslice", "Default", "--timeslice");
        assert_int_equal(vs_limit_find("timeslice"), VS_LIM_TIMESLICE);
}

static void test_cpulist(void **state)
{
        (void)state;
        assert_true(vs_cpulist_valid("0"));
        assert_true(vs_cpulist_valid("0-3,5,7-8"));
        assert_false(vs_cpulist_valid("0,"));
        assert_false(vs_cpulist_valid(",1"));
        assert_false(vs_cpulist_valid("a"));
        assert_false(vs_cpulist_valid("1 2"));
        assert_false(vs_cpulist_valid("-1"));
        /* fuzz_parse found these: strtoul skips blanks, so they were valid */
        assert_false(vs_cpulist_valid(" 1"));
        assert_false(vs_cpulist_valid("1, 2"));
        assert_false(vs_cpulist_valid("1-\n2"));
        assert_false(vs_cpulist_valid("1,\t2"));
        assert_false(vs_cpulist_valid("1- 2"));
        assert_int_equal(vs_cpulist_max("0-3,5"), 5);
        assert_int_equal(vs_cpulist_max("7,2-4"), 7);
        assert_int_equal(vs_cpulist_max("0"), 0);
        assert_false(vs_cpulist_valid("65536"));
        assert_true(vs_cpulist_valid("65535"));
}

/* One reader for --cpumask and the cpuset files (which end in a newline),
 * for the /proc view's CPUs and for holding a VPS's mask to its slice's. */
static void test_cpulist_parse(void **state)
{
        uint64_t mask[2];
        unsigned highest = 0;

        (void)state;
        assert_int_equal(vs_cpulist_parse("0-3,5\n", mask, 128, &highest), 5);
        assert_int_equal(highest, 5);
        assert_true(mask[0] == 0x2fULL && mask[1] == 0);
        assert_int_equal(vs_cpulist_parse("1,1-2,64", mask, 128, NULL), 3);
        assert_true(mask[0] == 0x6ULL && mask[1] == 1);
        assert_int_equal(vs_cpulist_parse("128", mask, 128, NULL), -1);
        assert_int_equal(vs_cpulist_parse("1\n\n", mask, 128, NULL), -1);
        assert_int_equal(vs_cpulist_parse("", mask, 128, NULL), -1);
        assert_int_equal(vs_cpulist_parse("3-1", NULL, 128, NULL), -1);
        assert_true(vs_cpulist_within("1-2", "0-3"));
        assert_true(vs_cpulist_within("0,3", "0-1,3"));
        assert_false(vs_cpulist_within("0-2", "0-1,3"));
        assert_false(vs_cpulist_within("0", "x"));
}

static void test_cross_checks(void **state)
{
        static const char *const swap_alone[] = { "swap", "1G", NULL };
        static const char *const reserve_big[] = { "ram", "64M", "ram-reserve", "128M", NULL };
        static const char *const burst_alone[] = { "cpu-burst", "10ms", NULL };
        static const char *const burst_big[] = { "cpulimit", "50%", "cpu-burst", "60ms", NULL };
        static const char *const burst_ok[] = { "cpulimit", "50%", "cpu-burst", "50ms", NULL };
        static const char *const burst_wraps[] = { "cpulimit", "50%", "cpu-burst",
                                                   "18446744073709552ms", NULL };
        vs_limits_t l;
        vs_error_t err = { 0 };

        (void)state;
        l = parsed(swap_alone);
        assert_true(vs_limits_check(&l, &err) < 0);
        assert_non_null(strstr(err.msg, "--swap needs --ram"));
        l = parsed(reserve_big);
        assert_true(vs_limits_check(&l, &err) < 0);
        assert_non_null(strstr(err.msg, "--ram-reserve"));
        l = parsed(burst_alone);
        assert_true(vs_limits_check(&l, &err) < 0);
        assert_non_null(strstr(err.msg, "needs a cap"));
        l = parsed(burst_big);
        assert_true(vs_limits_check(&l, &err) < 0);
        assert_non_null(strstr(err.msg, "50ms of 100ms"));
        l = parsed(burst_ok);
        assert_int_equal(vs_limits_check(&l, &err), 0);
        /* the burst in µs wrapped around 2^64 and came out below the cap */
        l = parsed(burst_wraps);
        assert_true(vs_limits_check(&l, &err) < 0);
        assert_non_null(strstr(err.msg, "more than the cap allows"));
}

static void test_cpu_quota_smaller_cap_wins(void **state)
{
        static const char *const both[] = { "cpulimit", "150%", "cpus", "1", NULL };
        static const char *const cpus[] = { "cpus", "2", NULL };
        static const char *const none[] = { "cpuunits", "100", NULL };
        vs_limits_t l = parsed(both);

        (void)state;
        assert_int_equal(vs_limits_cpu_quota_us(&l), 100000);
        l = parsed(cpus);
        assert_int_equal(vs_limits_cpu_quota_us(&l), 200000);
        l = parsed(none);
        assert_int_equal(vs_limits_cpu_quota_us(&l), 0);
}

static void test_conversions(void **state)
{
        (void)state;
        assert_int_equal(vs_shares_to_weight(2), 1);
        assert_int_equal(vs_shares_to_weight(262144), 10000);
        assert_int_equal(vs_shares_to_weight(1024), 39);
        assert_int_equal(vs_ioprio_to_weight(0), 100);
        assert_int_equal(vs_ioprio_to_weight(7), 1000);
        assert_true(vs_ioprio_to_weight(4) > vs_ioprio_to_weight(3));
}

static const char *const all_limits[] = {
        "cpuunits", "1024", "cpulimit", "50%", "cpu-burst",   "20ms", "cpumask", "0-1",
        "ram",      "64M",  "swap",     "32M", "ram-reserve", "16M",  "numproc", "50",
        "ioprio",   "7",    "iolimit",  "5M",  "iopslimit",   "100",  NULL,
};

static void test_plan_v1(void **state)
{
        vs_limits_t l = parsed(all_limits);
        vs_limit_write_t w[VS_LIMIT_WRITES_MAX];
        size_t n = vs_limits_plan(&l, 0, "254:0", w);
        size_t burst0 = n, quota = n;

        (void)state;
        assert_string_equal(planned(w, n, "cpu.shares"), "1024");
        assert_string_equal(planned(w, n, "cpu.cfs_period_us"), "100000");
        assert_string_equal(planned(w, n, "cpu.cfs_quota_us"), "50000");
        assert_string_equal(planned(w, n, "cpu.cfs_burst_us"), "20000");
        assert_string_equal(planned(w, n, "cpuset.cpus"), "0-1");
        assert_string_equal(planned(w, n, "memory.limit_in_bytes"), "67108864");
        assert_string_equal(planned(w, n, "memory.memsw.limit_in_bytes"), "100663296");
        assert_string_equal(planned(w, n, "memory.soft_limit_in_bytes"), "16777216");
        assert_string_equal(planned(w, n, "pids.max"), "50");
        assert_string_equal(planned(w, n, "blkio.bfq.weight"), "1000");
        assert_string_equal(planned(w, n, "blkio.throttle.write_bps_device"), "254:0 5242880");
        assert_string_equal(planned(w, n, "blkio.throttle.read_iops_device"), "254:0 100");
        assert_null(planned(w, n, "cpu.max"));
        /* the burst is cleared before the quota changes */
        for (size_t i = 0; i < n; i++) {
                if (strcmp(w[i].file, "cpu.cfs_burst_us") == 0 && burst0 == n)
                        burst0 = i;
                if (strcmp(w[i].file, "cpu.cfs_quota_us") == 0)
                        quota = i;
        }
        assert_true(burst0 < quota);
        assert_string_equal(w[burst0].value, "0");
        for (size_t i = 0; i < n; i++)
                assert_non_null(w[i].controller);
}

static void test_plan_v2(void **state)
{
        vs_limits_t l = parsed(all_limits);
        vs_limit_write_t w[VS_LIMIT_WRITES_MAX];
        size_t n = vs_limits_plan(&l, 1, "254:0", w);

        (void)state;
        assert_string_equal(planned(w, n, "cpu.weight"), "39");
        assert_string_equal(planned(w, n, "cpu.max"), "50000 100000");
        assert_string_equal(planned(w, n, "cpu.max.burst"), "20000");
        assert_string_equal(planned(w, n, "cpuset.cpus"), "0-1");
        assert_string_equal(planned(w, n, "memory.max"), "67108864");
        assert_string_equal(planned(w, n, "memory.swap.max"), "33554432");
        assert_string_equal(planned(w, n, "memory.low"), "16777216");
        assert_string_equal(planned(w, n, "pids.max"), "50");
        assert_string_equal(planned(w, n, "io.weight"), "1000");
        assert_null(planned(w, n, "cpu.shares"));
        assert_null(planned(w, n, "memory.limit_in_bytes"));
        /* two io.max lines: bytes and operations */
        assert_string_equal(planned(w, n, "io.max"), "254:0 riops=100 wiops=100");
        int found = 0;
        for (size_t i = 0; i < n; i++)
                found |= strcmp(w[i].value, "254:0 rbps=5242880 wbps=5242880") == 0;
        assert_true(found);
}

static void test_plan_without_device_has_no_throttle(void **state)
{
        vs_limits_t l = parsed(all_limits);
        vs_limit_write_t w[VS_LIMIT_WRITES_MAX];
        size_t n = vs_limits_plan(&l, 0, NULL, w);

        (void)state;
        assert_null(planned(w, n, "blkio.throttle.write_bps_device"));
        assert_non_null(planned(w, n, "blkio.bfq.weight"));
}

static void test_config_round_trip(void **state)
{
        vs_kv_t kv = { 0 };
        vs_limits_t l = parsed(all_limits), back;
        vs_error_t err = { 0 };

        (void)state;
        vs_limits_to_config(&l, &kv);
        assert_string_equal(vs_kv_get(&kv, "cpu_burst"), "20ms");
        assert_string_equal(vs_kv_get(&kv, "ram_reserve"), "16M");
        assert_int_equal(vs_limits_from_config(&kv, &back, &err), 0);
        assert_int_equal(back.set, l.set);
        assert_memory_equal(back.value, l.value, sizeof(l.value));
        vs_kv_set(&kv, "ram", "2K");
        assert_true(vs_limits_from_config(&kv, &back, &err) < 0);
        assert_non_null(strstr(err.msg, "config key ram"));
        vs_kv_free(&kv);
}

static void test_merge(void **state)
{
        static const char *const base_pairs[] = { "ram", "64M", "cpulimit", "50%", NULL };
        static const char *const over_pairs[] = { "ram", "128M", NULL };
        vs_limits_t base = parsed(base_pairs), over = parsed(over_pairs);

        (void)state;
        vs_limits_merge(&base, &over);
        assert_int_equal(base.value[VS_LIM_RAM], 128ULL << 20);
        assert_string_equal(base.text[VS_LIM_RAM], "128M");
        assert_int_equal(base.value[VS_LIM_CPULIMIT], 500000);
}

static void test_oom_kills(void **state)
{
        (void)state;
        assert_int_equal(vs_stats_oom_kills("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"), 3);
        assert_int_equal(vs_stats_oom_kills("low 0\nhigh 0\nmax 7\noom 2\noom_kill 2\n"
                                            "oom_group_kill 0\n"),
                         2);
        assert_int_equal(vs_stats_oom_kills("oom_kill_disable 1\n"), 0);
        assert_int_equal(vs_stats_oom_kills(""), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_find_by_key_and_option),
                cmocka_unit_test(test_parse_values),
                cmocka_unit_test(test_timeslice),
                cmocka_unit_test(test_out_of_range_is_refused_not_clamped),
                cmocka_unit_test(test_cpulist),
                cmocka_unit_test(test_cpulist_parse),
                cmocka_unit_test(test_cross_checks),
                cmocka_unit_test(test_cpu_quota_smaller_cap_wins),
                cmocka_unit_test(test_conversions),
                cmocka_unit_test(test_plan_v1),
                cmocka_unit_test(test_plan_v2),
                cmocka_unit_test(test_plan_without_device_has_no_throttle),
                cmocka_unit_test(test_config_round_trip),
                cmocka_unit_test(test_merge),
                cmocka_unit_test(test_oom_kills),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
