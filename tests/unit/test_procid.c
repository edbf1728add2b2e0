/* Unit tests for include/vs/procid.h: the identity of a VPS's init that
 * vsd records in its state file and checks before it adopts a process. */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#define TESTUTIL_NAME "procid"
#include "testutil.h"

#include "vs/kvfile.h"
#include "vs/procid.h"

/* A /proc/PID/stat line with this comm and start time 9876543 in field 22
 * (field 21, itrealvalue, is 0 as on every current kernel). */
static char *stat_line(const char *comm)
{
        static char line[512];

        snprintf(line, sizeof(line),
                 "4242 (%s) S 1 4242 4242 0 -1 4194560 120 0 0 0 1 2 0 0 20 0 1 0 9876543 "
                 "2293760 192 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0",
                 comm);
        return line;
}

static void test_starttime_is_field_22(void **state)
{
        unsigned long long t = 0;

        (void)state;
        assert_int_equal(vs_procid_parse_starttime(stat_line("init"), &t), 0);
        assert_int_equal(t, 9876543);
}

/* A full line of a current kernel (52 fields), with this state and exit
 * code (field 52) and start time 9876543. */
static char *full_stat_line(const char *comm, char state_char, int exit_code)
{
        static char line[768];

        snprintf(line, sizeof(line),
                 "4242 (%s) %c 1 4242 4242 0 -1 4194560 120 0 0 0 1 2 0 0 20 0 1 0 9876543 "
                 "0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 "
                 "0 0 %d\n",
                 comm, state_char, exit_code);
        return line;
}

static void test_zombie_exit_code_is_field_52(void **state)
{
        unsigned long long t = 0;
        int status = -1;

        (void)state;
        /* a reboot() in a pid namespace: the init ends by SIGHUP */
        assert_int_equal(vs_procid_parse_zombie(full_stat_line("systemd", 'Z', 1), &t, &status), 1);
        assert_int_equal(status, 1);
        assert_int_equal(t, 9876543);
        assert_int_equal(vs_procid_parse_zombie(full_stat_line("a) Z (b", 'Z', 768), &t, &status),
                         1);
        assert_int_equal(status, 768);
}

static void test_live_process_is_no_zombie(void **state)
{
        unsigned long long t = 0;
        int status = -1;

        (void)state;
        assert_int_equal(vs_procid_parse_zombie(full_stat_line("init", 'S', 0), &t, &status), 0);
        assert_int_equal(status, -1);
        /* an old kernel's short line has no exit code */
        assert_int_equal(vs_procid_parse_zombie(stat_line("init"), &t, &status), -1);
}

/* A comm may hold blanks and ')' (a process names itself): only the last
 * ')' ends it. */
static void test_starttime_with_tricky_comm(void **state)
{
        static const char *const comms[] = { "a b", "x) S 1 2 3", ") (", "))", "" };
        unsigned long long t;

        (void)state;
        for (size_t i = 0; i < sizeof(comms) / sizeof(comms[0]); i++) {
                t = 0;
                assert_int_equal(vs_procid_parse_starttime(stat_line(comms[i]), &t), 0);
                assert_int_equal(t, 9876543);
        }
}

static void test_starttime_malformed(void **state)
{
        unsigned long long t;

        (void)state;
        assert_int_equal(vs_procid_parse_starttime("", &t), -1);
        assert_int_equal(vs_procid_parse_starttime("4242 (init S 1 2", &t), -1);
        assert_int_equal(vs_procid_parse_starttime("4242 (init) S 1 2 3", &t), -1);
        assert_int_equal(vs_procid_parse_starttime("4242 (init)S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 "
                                                   "15 16 17 18 19 20 21",
                                                   &t),
                         -1);
        assert_int_equal(vs_procid_parse_starttime("1 (a) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 "
                                                   "-5 0",
                                                   &t),
                         -1);
}

/* The start time of this very process, from the real file. */
static void test_read_own_identity(void **state)
{
        vs_procid_t id;
        vs_error_t err = { 0 };
        struct stat st;

        (void)state;
        assert_int_equal(vs_procid_read(getpid(), &id, &err), 0);
        assert_true(id.starttime > 0);
        assert_int_equal(strlen(id.boot_id), VS_BOOT_ID_LEN);
        assert_int_equal(stat("/proc/self/ns/pid", &st), 0);
        assert_int_equal(id.pidns_ino, (uint64_t)st.st_ino);
        assert_int_equal(id.pidns_dev, (uint64_t)st.st_dev);
}

static const vs_procid_t sample = {
        .boot_id = "0f1e2d3c-4b5a-4968-8776-655443322110",
        .starttime = 123456789,
        .pidns_dev = 4,
        .pidns_ino = 4026531836,
};

static void test_save_and_load(void **state)
{
        cleanup_kv vs_kv_t kv = { 0 };
        vs_procid_t back;
        vs_error_t err = { 0 };

        (void)state;
        vs_procid_save(&sample, &kv);
        assert_string_equal(vs_kv_get(&kv, "boot_id"), sample.boot_id);
        assert_string_equal(vs_kv_get(&kv, "starttime"), "123456789");
        assert_string_equal(vs_kv_get(&kv, "pidns"), "4:4026531836");
        assert_int_equal(vs_procid_load(&kv, &back, &err), 0);
        assert_string_equal(back.boot_id, sample.boot_id);
        assert_int_equal(back.starttime, sample.starttime);
        assert_int_equal(back.pidns_dev, sample.pidns_dev);
        assert_int_equal(back.pidns_ino, sample.pidns_ino);
}

/* What an older vsd wrote: a start time (0, its bug) and no boot or pid
 * namespace. */
static void test_load_without_the_new_keys(void **state)
{
        cleanup_kv vs_kv_t kv = { 0 };
        vs_procid_t back;
        vs_error_t err = { 0 };

        (void)state;
        vs_kv_set(&kv, "pid", "4242");
        vs_kv_set(&kv, "starttime", "0");
        assert_int_equal(vs_procid_load(&kv, &back, &err), -1);
        assert_int_equal(err.errnum, ENOENT);
        assert_non_null(strstr(err.msg, "older vsd"));
}

static void test_load_malformed(void **state)
{
        static const char *const bad[][3] = {
                /* boot_id, starttime, pidns */
                { "0f1e2d3c-4b5a-4968-8776-65544332211", "1", "4:5" },
                { "0f1e2d3c-4b5a-4968-8776-6554433221100", "1", "4:5" },
                { "0f1e2d3c+4b5a-4968-8776-655443322110", "1", "4:5" },
                { "0f1e2d3c-4b5a-4968-8776-65544332211g", "1", "4:5" },
                { "0f1e2d3c-4b5a-4968-8776-655443322110", "", "4:5" },
                { "0f1e2d3c-4b5a-4968-8776-655443322110", "-1", "4:5" },
                { "0f1e2d3c-4b5a-4968-8776-655443322110", "12x", "4:5" },
                { "0f1e2d3c-4b5a-4968-8776-655443322110", "1", "45" },
                { "0f1e2d3c-4b5a-4968-8776-655443322110", "1", "4:" },
                { "0f1e2d3c-4b5a-4968-8776-655443322110", "1", ":5" },
                { "0f1e2d3c-4b5a-4968-8776-655443322110", "1", "4:5:6" },
                { "0f1e2d3c-4b5a-4968-8776-655443322110", "1", " 4:5" },
                { "0f1e2d3c-4b5a-4968-8776-655443322110", NULL, "4:5" },
        };

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                cleanup_kv vs_kv_t kv = { 0 };
                vs_procid_t back;
                vs_error_t err = { 0 };

                vs_kv_set(&kv, "boot_id", bad[i][0]);
                vs_kv_set(&kv, "starttime", bad[i][1]);
                vs_kv_set(&kv, "pidns", bad[i][2]);
                assert_int_equal(vs_procid_load(&kv, &back, &err), -1);
        }
}

static const char *mismatch(const vs_procid_t *seen)
{
        static char buf[256];

        /* vsd's own pid namespace: 4:4026531836 is not it */
        return vs_procid_mismatch(&sample, seen, 4, 4026531835, buf, sizeof(buf));
}

static void test_mismatch_each_field(void **state)
{
        vs_procid_t seen = sample;

        (void)state;
        assert_null(mismatch(&seen));
        seen.boot_id[0] = '1';
        assert_non_null(strstr(mismatch(&seen), "another boot"));
        seen = sample;
        seen.starttime++;
        assert_non_null(strstr(mismatch(&seen), "start time"));
        seen = sample;
        seen.pidns_ino++;
        assert_non_null(strstr(mismatch(&seen), "not in the pid namespace the VPS started in"));
        seen = sample;
        seen.pidns_dev++;
        assert_non_null(strstr(mismatch(&seen), "not in the pid namespace the VPS started in"));
}

/* A state file that records vsd's own pid namespace (forged, or vsd's
 * bug) never passes: a VPS's init is never there. */
static void test_mismatch_own_pid_namespace(void **state)
{
        vs_procid_t recorded = sample, seen = sample;
        char buf[256];

        (void)state;
        assert_non_null(strstr(vs_procid_mismatch(&recorded, &seen, sample.pidns_dev,
                                                  sample.pidns_ino, buf, sizeof(buf)),
                               "vsd's own pid namespace"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_starttime_is_field_22),
                cmocka_unit_test(test_starttime_with_tricky_comm),
                cmocka_unit_test(test_starttime_malformed),
                cmocka_unit_test(test_read_own_identity),
                cmocka_unit_test(test_zombie_exit_code_is_field_52),
                cmocka_unit_test(test_live_process_is_no_zombie),
                cmocka_unit_test(test_save_and_load),
                cmocka_unit_test(test_load_without_the_new_keys),
                cmocka_unit_test(test_load_malformed),
                cmocka_unit_test(test_mismatch_each_field),
                cmocka_unit_test(test_mismatch_own_pid_namespace),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
