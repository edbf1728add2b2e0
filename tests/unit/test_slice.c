/* Unit tests for runtime/slice.c: loading the slice files, finding a
 * slice, its owners; "default" always there. No kernel, no daemon. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define TESTUTIL_NAME "slice"
#include "slice.h"
#include "vs/fsutil.h"
#include "testutil.h"
#include "vsd.h"

static void write_file(int dirfd, const char *name, const char *text)
{
        int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

static void test_default_always_exists(void **state)
{
        struct vsd d = { 0 };
        struct vsd_slice *s = vsd_slice_find(&d, "default");

        assert_non_null(s);
        assert_string_equal(s->name, "default");
        assert_int_equal(s->n_owners, 0);
        assert_false(vsd_slice_has_owner(s, 0));
        assert_null(vsd_slice_find(&d, "nosuch"));
}

static void test_load_owners(void **state)
{
        struct tmpdir *t = *state;
        struct vsd d = { 0 };
        vs_error_t err = { 0 };
        char dir[256];
        int dirfd;
        struct vsd_slice *s;

        snprintf(dir, sizeof(dir), "%s/var/lib/paene/slices", t->path);
        assert_int_equal(vs_mkdir_p(dir, 0755, &err), 0);
        dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        assert_true(dirfd >= 0);
        write_file(dirfd, "lab", "owners = 1000,1001\ncpulimit = 50\n");
        write_file(dirfd, "bad", "owners = 1000,x\n");
        write_file(dirfd, "none", "cpuunits = 100\n");
        assert_int_equal(vsd_slice_load_all(&d, dirfd, &err), 0);
        close(dirfd);
        d.root = t->path;
        assert_non_null(d.root);

        s = vsd_slice_find(&d, "lab");
        assert_non_null(s);
        assert_int_equal(s->n_owners, 2);
        assert_true(vsd_slice_has_owner(s, 1000));
        assert_true(vsd_slice_has_owner(s, 1001));
        assert_false(vsd_slice_has_owner(s, 1002));
        s = vsd_slice_find(&d, "none");
        assert_non_null(s);
        assert_int_equal(s->n_owners, 0);
        /* a file that does not parse is skipped, not half-loaded */
        assert_null(vsd_slice_find(&d, "bad"));
        vsd_slice_free_all(&d);
        assert_null(d.slices);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_default_always_exists),
                cmocka_unit_test_setup_teardown(test_load_owners, tmpdir_setup, tmpdir_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
