/* netns/etc.c's look at a VPS's /etc file before a start rewrites it: the
 * VPS's root owns the directory and may swap a device node (or a FIFO) in
 * between vsd's stat and its open. vsd runs as host root, and a device's
 * open acts (a watchdog's arms it): only a regular file may be opened. An
 * inotify IN_OPEN on the directory tells an open from an O_PATH look
 * (which the kernel does not report). The file is included whole to reach
 * is_already. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define TESTUTIL_NAME "etc-race"
#include "testutil.h"

#include "../../netns/etc.c"

static void test_a_node_that_is_no_regular_file_is_never_opened(void **state)
{
        const struct tmpdir *t = *state;
        int watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        char events[4096];

        assert_true(watch >= 0);
        assert_int_equal(mkfifoat(t->fd, "hostname", 0644), 0);
        assert_true(inotify_add_watch(watch, t->path, IN_OPEN) >= 0);
        assert_int_equal(is_already(t->fd, "hostname", "x\n", getuid(), getgid()), 0);
        /* no IN_OPEN of it: the old look opened it (O_NONBLOCK) first */
        assert_int_equal(read(watch, events, sizeof(events)), -1);
        assert_int_equal(errno, EAGAIN);
        close(watch);
}

static void test_a_file_as_written_is_already_there(void **state)
{
        const struct tmpdir *t = *state;
        int fd = openat(t->fd, "hostname", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        assert_int_equal(fchmod(fd, 0644), 0);
        assert_int_equal(write(fd, "x\n", 2), 2);
        close(fd);
        assert_int_equal(is_already(t->fd, "hostname", "x\n", getuid(), getgid()), 1);
        assert_int_equal(is_already(t->fd, "hostname", "y\n", getuid(), getgid()), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_a_node_that_is_no_regular_file_is_never_opened,
                                                tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_a_file_as_written_is_already_there,
                                                tmpdir_setup, tmpdir_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
