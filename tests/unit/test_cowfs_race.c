/* The tree copy of cow-fs/clone.c against a source that changes under it:
 * the first pass of a clone, snapshot or backup of a running VPS reads
 * its upper layer while the VPS's root renames in it, so that a name the
 * copy stat'ed as a regular file can be a FIFO (or a device node of a
 * restored layer) by the time the copy opens it. The copy must never wait
 * on it (the worker would hold the VPS for good: no stop, no destroy) nor
 * read it; it leaves it, as a file that went, to the frozen second pass.
 * Nor may it open a node that is no regular file at all: a device node's
 * open acts (a watchdog's arms it) and the copy runs as host root. An
 * inotify IN_OPEN on the directory tells an open from an O_PATH look
 * (which the kernel does not report).
 * The file is included whole to reach copy_file, the step between. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define TESTUTIL_NAME "cowfs-race"
#include "testutil.h"

#include "../../cow-fs/clone.c"

static int open_sub(const struct tmpdir *t, const char *name)
{
        int fd;

        assert_int_equal(mkdirat(t->fd, name, 0700), 0);
        fd = openat(t->fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        return fd;
}

static void test_a_regular_file_that_became_a_fifo_is_not_waited_on(void **state)
{
        const struct tmpdir *t = *state;
        int src = open_sub(t, "src"), dst = open_sub(t, "dst");
        vs_error_t err = { 0 };
        struct stat st;
        int rc;

        assert_int_equal(mkfifoat(src, "f", 0644), 0);
        /* the old copy blocked here for good: SIGALRM ends the binary */
        alarm(10);
        rc = copy_file(src, dst, "f", "./f", &err);
        alarm(0);
        assert_int_equal(rc, -1);
        /* as one that went: each_child skips it, the resync copies it */
        assert_int_equal(err.errnum, ENOENT);
        assert_true(fstatat(dst, "f", &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    (S_ISREG(st.st_mode) && st.st_size == 0));
        close(src);
        close(dst);
}

static void test_a_regular_file_is_still_copied(void **state)
{
        const struct tmpdir *t = *state;
        int src = open_sub(t, "src"), dst = open_sub(t, "dst");
        vs_error_t err = { 0 };
        char buf[16] = "";
        int fd;

        fd = openat(src, "f", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "kept\n", 5), 5);
        close(fd);
        assert_int_equal(copy_file(src, dst, "f", "./f", &err), 0);
        fd = openat(dst, "f", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(read(fd, buf, sizeof(buf) - 1), 5);
        assert_string_equal(buf, "kept\n");
        close(fd);
        close(src);
        close(dst);
}

static void test_a_node_that_is_no_regular_file_is_never_opened(void **state)
{
        const struct tmpdir *t = *state;
        int src = open_sub(t, "src"), dst = open_sub(t, "dst");
        int watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        vs_error_t err = { 0 };
        char events[4096], sub[128];

        assert_true(watch >= 0);
        assert_int_equal(mkfifoat(src, "f", 0644), 0);
        snprintf(sub, sizeof(sub), "%s/src", t->path);
        assert_true(inotify_add_watch(watch, sub, IN_OPEN) >= 0);
        alarm(10);
        assert_int_equal(copy_file(src, dst, "f", "./f", &err), -1);
        alarm(0);
        assert_int_equal(err.errnum, ENOENT);
        /* no IN_OPEN of it: the old copy opened it (O_NONBLOCK) first */
        assert_int_equal(read(watch, events, sizeof(events)), -1);
        assert_int_equal(errno, EAGAIN);
        close(watch);
        close(src);
        close(dst);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(
                        test_a_regular_file_that_became_a_fifo_is_not_waited_on, tmpdir_setup,
                        tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_a_regular_file_is_still_copied, tmpdir_setup,
                                                tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_a_node_that_is_no_regular_file_is_never_opened,
                                                tmpdir_setup, tmpdir_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
