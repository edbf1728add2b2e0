/* Unit tests for runtime/rebootmark.h: the mark of a reboot(2) inside a
 * VPS that its seccomp listener writes and vsd takes once the init ended.
 * vsd takes a mark only for the init it names, and never twice. */
#include <signal.h>

#define TESTUTIL_NAME "rebootmark"
#include "testutil.h"

#include "rebootmark.h"

static const vs_procid_t init_id = {
        .boot_id = "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9",
        .starttime = 123456,
        .pidns_dev = 4,
        .pidns_ino = 4026532001,
};

static void write_mark(struct tmpdir *t, int signo)
{
        vs_error_t err = { 0 };

        assert_int_equal(vsd_reboot_mark_write(t->fd, "web1", signo, 4242, &init_id, &err), 0);
}

static void test_reboot_and_halt_are_taken_once(void **state)
{
        struct tmpdir *t = *state;

        write_mark(t, SIGHUP);
        assert_int_equal(vsd_reboot_mark_take(t->fd, "web1", 4242, &init_id), SIGHUP);
        /* taken: a second end of the same init finds nothing */
        assert_int_equal(vsd_reboot_mark_take(t->fd, "web1", 4242, &init_id), 0);
        assert_int_equal(faccessat(t->fd, "web1", F_OK, 0), -1);
        write_mark(t, SIGINT);
        assert_int_equal(vsd_reboot_mark_take(t->fd, "web1", 4242, &init_id), SIGINT);
        assert_int_equal(count_entries_no_hidden(t->fd), 0);
}

/* Another init (another run of the VPS, a pid reused) leaves a mark
 * unused, and removed. */
static void test_a_mark_of_another_init_is_not_taken(void **state)
{
        struct tmpdir *t = *state;
        vs_procid_t other;

        write_mark(t, SIGHUP);
        assert_int_equal(vsd_reboot_mark_take(t->fd, "web1", 4243, &init_id), 0);
        assert_int_equal(faccessat(t->fd, "web1", F_OK, 0), -1);
        other = init_id;
        other.starttime++;
        write_mark(t, SIGHUP);
        assert_int_equal(vsd_reboot_mark_take(t->fd, "web1", 4242, &other), 0);
        other = init_id;
        other.boot_id[0] = 'f';
        write_mark(t, SIGHUP);
        assert_int_equal(vsd_reboot_mark_take(t->fd, "web1", 4242, &other), 0);
        other = init_id;
        other.pidns_ino++;
        write_mark(t, SIGHUP);
        assert_int_equal(vsd_reboot_mark_take(t->fd, "web1", 4242, &other), 0);
        /* another VPS's name: its own file, untouched */
        write_mark(t, SIGHUP);
        assert_int_equal(vsd_reboot_mark_take(t->fd, "web2", 4242, &init_id), 0);
        assert_int_equal(vsd_reboot_mark_take(t->fd, "web1", 4242, &init_id), SIGHUP);
}

static void put(struct tmpdir *t, const char *text)
{
        assert_int_equal(vs_write_atomic(t->fd, "web1", text, strlen(text), 0600, 0, NULL), 0);
}

static void test_malformed_marks_are_not_taken(void **state)
{
        struct tmpdir *t = *state;
        static const char *const bad[] = {
                "",
                "action = reboot\n",
                /* an action the kernel has no end for */
                "action = suspend\npid = 4242\nboot_id = 0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9\n"
                "starttime = 123456\npidns = 4:4026532001\n",
                "action = reboot\npid = 4242x\nboot_id = 0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9\n"
                "starttime = 123456\npidns = 4:4026532001\n",
                "action = reboot\npid = 4242\nboot_id = 0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9\n"
                "starttime = 123456\n",
                "garbage",
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                put(t, bad[i]);
                assert_int_equal(vsd_reboot_mark_take(t->fd, "web1", 4242, &init_id), 0);
                assert_int_equal(faccessat(t->fd, "web1", F_OK, 0), -1);
        }
        /* the same text with the fields right is taken */
        put(t, "action = reboot\npid = 4242\nboot_id = 0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9\n"
               "starttime = 123456\npidns = 4:4026532001\n");
        assert_int_equal(vsd_reboot_mark_take(t->fd, "web1", 4242, &init_id), SIGHUP);
}

static void test_write_refuses_bad_input(void **state)
{
        struct tmpdir *t = *state;
        vs_error_t err = { 0 };

        assert_true(vsd_reboot_mark_write(t->fd, "web1", SIGKILL, 4242, &init_id, &err) < 0);
        assert_true(vsd_reboot_mark_write(t->fd, "../web1", SIGHUP, 4242, &init_id, &err) < 0);
        assert_true(vsd_reboot_mark_write(t->fd, "", SIGHUP, 4242, &init_id, &err) < 0);
        assert_int_equal(count_entries_no_hidden(t->fd), 0);
        /* no directory: nothing taken, nothing fails */
        assert_int_equal(vsd_reboot_mark_take(-1, "web1", 4242, &init_id), 0);
        vsd_reboot_mark_clear(-1, "web1");
}

static void test_clear_removes_the_mark(void **state)
{
        struct tmpdir *t = *state;

        write_mark(t, SIGHUP);
        vsd_reboot_mark_clear(t->fd, "web1");
        assert_int_equal(vsd_reboot_mark_take(t->fd, "web1", 4242, &init_id), 0);
        vsd_reboot_mark_clear(t->fd, "web1"); /* none: no harm */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_reboot_and_halt_are_taken_once, tmpdir_setup,
                                                tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_a_mark_of_another_init_is_not_taken,
                                                tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_malformed_marks_are_not_taken, tmpdir_setup,
                                                tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_write_refuses_bad_input, tmpdir_setup,
                                                tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_clear_removes_the_mark, tmpdir_setup,
                                                tmpdir_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
