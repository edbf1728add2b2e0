/* Unit tests for include/vs/admission.h: the policy parser, vsd.conf keys,
 * admission arithmetic and how many more VPS fit. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vs/admission.h"
#include "vs/error.h"
#include "vs/kvfile.h"
#include "vs/limits.h"

#define CPU 1000000ULL
#define GIB (1ULL << 30)

static void test_policy(void **state)
{
        uint64_t pct = 0;
        vs_error_t err = { 0 };

        (void)state;
        assert_int_equal(vs_node_parse_policy("reserve", &pct, &err), 0);
        assert_int_equal(pct, 100);
        assert_int_equal(vs_node_parse_policy("overbook 2", &pct, &err), 0);
        assert_int_equal(pct, 200);
        assert_int_equal(vs_node_parse_policy("overbook 1.25", &pct, &err), 0);
        assert_int_equal(pct, 125);
        assert_true(vs_node_parse_policy("overbook 0.5", &pct, &err) < 0);
        assert_int_equal(err.kind, VS_E_USAGE);
        assert_true(vs_node_parse_policy("overbook 1.255", &pct, &err) < 0);
        assert_true(vs_node_parse_policy("overbook 50%", &pct, &err) < 0);
        assert_true(vs_node_parse_policy("overbook", &pct, &err) < 0);
        assert_true(vs_node_parse_policy("greedy", &pct, &err) < 0);
        assert_non_null(strstr(err.msg, "reserve or overbook"));
}

static void test_node_from_config(void **state)
{
        vs_reserve_t detected = { 8 * CPU, 16 * GIB };
        vs_kv_t kv = { 0 };
        vs_node_t node;
        vs_error_t err = { 0 };

        (void)state;
        assert_int_equal(vs_node_from_config(&kv, &detected, &node, &err), 0);
        assert_int_equal(node.capacity.cpu_micro, 8 * CPU);
        assert_int_equal(node.factor_pct, 100);
        vs_kv_set(&kv, "node_cpus", "2");
        vs_kv_set(&kv, "node_memory", "4G");
        vs_kv_set(&kv, "policy", "overbook 2");
        assert_int_equal(vs_node_from_config(&kv, &detected, &node, &err), 0);
        assert_int_equal(node.capacity.cpu_micro, 2 * CPU);
        assert_int_equal(node.capacity.mem_bytes, 4 * GIB);
        assert_int_equal(vs_node_admissible(&node).cpu_micro, 4 * CPU);
        vs_kv_set(&kv, "node_memory", "lots");
        assert_true(vs_node_from_config(&kv, &detected, &node, &err) < 0);
        assert_non_null(strstr(err.msg, "node_memory"));
        vs_kv_free(&kv);
}

static void test_admit_reserve(void **state)
{
        vs_node_t node = { { 2 * CPU, 4 * GIB }, 100 };
        vs_reserve_t reserved = { 2 * CPU, 1 * GIB }, want = { 1 * CPU, 0 };
        vs_error_t err = { 0 };

        (void)state;
        assert_true(vs_admit(&node, &reserved, &want, &err) < 0);
        assert_int_equal(err.kind, VS_E_STATE);
        assert_non_null(strstr(err.msg, "CPU reservations would be 300% with 200% admissible"));
        assert_non_null(strstr(err.msg, "100% too much"));
        want = (vs_reserve_t){ 0, 3 * GIB };
        assert_int_equal(vs_admit(&node, &reserved, &want, &err), 0);
        want.mem_bytes = 3 * GIB + (1 << 20);
        assert_true(vs_admit(&node, &reserved, &want, &err) < 0);
        assert_non_null(strstr(err.msg, "1M too much"));
        /* asking for nothing always fits, even on a full node */
        want = (vs_reserve_t){ 0, 0 };
        reserved.cpu_micro = 5 * CPU;
        assert_int_equal(vs_admit(&node, &reserved, &want, &err), 0);
}

static void test_admit_overbook(void **state)
{
        vs_node_t node = { { 2 * CPU, 4 * GIB }, 200 };
        vs_reserve_t reserved = { 2 * CPU, 0 }, want = { 1 * CPU, 0 };
        vs_error_t err = { 0 };

        (void)state;
        assert_int_equal(vs_admit(&node, &reserved, &want, &err), 0);
        reserved.cpu_micro = 3500000;
        assert_true(vs_admit(&node, &reserved, &want, &err) < 0);
        assert_non_null(strstr(err.msg, "overbook 2.00"));
        assert_non_null(strstr(err.msg, "50% too much"));
}

static void test_how_many(void **state)
{
        vs_node_t node = { { 2 * CPU, 4 * GIB }, 100 };
        vs_reserve_t reserved = { CPU / 2, 1 * GIB };
        vs_reserve_t size = { CPU / 4, 1 * GIB };

        (void)state;
        /* CPU room: 6 of 0.25; memory room: 3 of 1G */
        assert_int_equal(vs_admit_how_many(&node, &reserved, &size), 3);
        size.mem_bytes = 0;
        assert_int_equal(vs_admit_how_many(&node, &reserved, &size), 6);
        size.cpu_micro = 0;
        assert_int_equal(vs_admit_how_many(&node, &reserved, &size), UINT64_MAX);
        reserved.cpu_micro = 3 * CPU;
        size.cpu_micro = CPU;
        assert_int_equal(vs_admit_how_many(&node, &reserved, &size), 0);
}

/* Limits the node can never satisfy, whatever its policy. */
static void test_fit_node(void **state)
{
        vs_reserve_t node = { 2 * CPU, 4 * GIB };
        vs_limits_t l = { 0 };
        vs_error_t err = { 0 };

        (void)state;
        assert_int_equal(vs_limits_parse_one(&l, VS_LIM_RAM, "4G", &err), 0);
        assert_int_equal(vs_limits_parse_one(&l, VS_LIM_CPUS, "2", &err), 0);
        assert_int_equal(vs_limits_parse_one(&l, VS_LIM_CPULIMIT, "200%", &err), 0);
        assert_int_equal(vs_limits_parse_one(&l, VS_LIM_CPUMASK, "0-1", &err), 0);
        assert_int_equal(vs_limits_fit_node(&l, &node, 2, &err), 0);
        assert_int_equal(vs_limits_parse_one(&l, VS_LIM_RAM, "5G", &err), 0);
        assert_true(vs_limits_fit_node(&l, &node, 2, &err) < 0);
        assert_int_equal(err.kind, VS_E_USAGE);
        assert_string_equal(err.msg, "--ram 5G is more than this node's memory (4.0G); --force "
                                     "to keep it anyway");
        assert_int_equal(vs_limits_parse_one(&l, VS_LIM_RAM, "1G", &err), 0);
        assert_int_equal(vs_limits_parse_one(&l, VS_LIM_CPUS, "3", &err), 0);
        assert_true(vs_limits_fit_node(&l, &node, 2, &err) < 0);
        assert_non_null(strstr(err.msg, "--cpus 3 is more than this node's 2 CPUs"));
        assert_int_equal(vs_limits_parse_one(&l, VS_LIM_CPUS, "1", &err), 0);
        assert_int_equal(vs_limits_parse_one(&l, VS_LIM_CPULIMIT, "201%", &err), 0);
        assert_true(vs_limits_fit_node(&l, &node, 2, &err) < 0);
        assert_non_null(strstr(err.msg, "--cpulimit 201% is more than this node's 2 CPUs (200%)"));
        assert_int_equal(vs_limits_parse_one(&l, VS_LIM_CPULIMIT, "50%", &err), 0);
        assert_int_equal(vs_limits_parse_one(&l, VS_LIM_CPUMASK, "0,2", &err), 0);
        assert_true(vs_limits_fit_node(&l, &node, 2, &err) < 0);
        assert_non_null(strstr(err.msg, "--cpumask 0,2 names a CPU this host does not have"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_policy),        cmocka_unit_test(test_node_from_config),
                cmocka_unit_test(test_admit_reserve), cmocka_unit_test(test_admit_overbook),
                cmocka_unit_test(test_how_many),      cmocka_unit_test(test_fit_node),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
