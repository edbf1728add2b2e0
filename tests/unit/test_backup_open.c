/* runtime/backup.c's open of the file a restore reads: an admin names a
 * path where a customer may write (an upload directory), so the name may
 * be a symlink the customer planted to a device node. vsd runs as host
 * root, and a device's open acts (a watchdog's arms it): only a regular
 * file may be opened. An inotify IN_OPEN on the directory tells an open
 * from an O_PATH look (which the kernel does not report). The file is
 * included whole to reach open_backup. */
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

#define TESTUTIL_NAME "backup-open"
#include "testutil.h"

#include "../../runtime/backup.c"

static void test_a_symlink_to_a_node_that_is_no_regular_file_opens_nothing(void **state)
{
        const struct tmpdir *t = *state;
        int watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        char events[4096], link[128];
        vs_error_t err = { 0 };

        assert_true(watch >= 0);
        assert_int_equal(mkfifoat(t->fd, "node", 0644), 0);
        assert_int_equal(symlinkat("node", t->fd, "web1.tar.zst"), 0);
        assert_true(inotify_add_watch(watch, t->path, IN_OPEN) >= 0);
        snprintf(link, sizeof(link), "%s/web1.tar.zst", t->path);
        assert_int_equal(open_backup(link, &err), -1);
        assert_int_equal(err.kind, VS_E_USAGE);
        assert_non_null(strstr(err.msg, "not a regular file"));
        /* no IN_OPEN of it: the old open_backup opened it (O_NONBLOCK) */
        assert_int_equal(read(watch, events, sizeof(events)), -1);
        assert_int_equal(errno, EAGAIN);
        close(watch);
}

static void test_a_regular_file_is_opened_for_reading(void **state)
{
        const struct tmpdir *t = *state;
        int fd = openat(t->fd, "web1.tar.zst", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        char path[128], buf[8] = "";
        vs_error_t err = { 0 };

        assert_true(fd >= 0);
        assert_int_equal(write(fd, "tar", 3), 3);
        close(fd);
        snprintf(path, sizeof(path), "%s/web1.tar.zst", t->path);
        fd = open_backup(path, &err);
        assert_true(fd >= 0);
        assert_int_equal(read(fd, buf, sizeof(buf) - 1), 3);
        assert_string_equal(buf, "tar");
        close(fd);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(
                        test_a_symlink_to_a_node_that_is_no_regular_file_opens_nothing,
                        tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_a_regular_file_is_opened_for_reading,
                                                tmpdir_setup, tmpdir_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
