/* Unit tests for include/vs/diskquota.h: the backend table, the parsers of
 * SIZE[:HARD] and N[:HARD], and the ext4 image libext2fs makes (it must
 * check clean with e2fsck -fn). No root, no mounts. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TESTUTIL_NAME "diskquota"
#include "testutil.h"

#include "vs/diskquota.h"
#include "vs/fsutil.h"

#define MiB (1024ULL * 1024)

/* ---- parsing ---- */

static void test_space_soft_only(void **state)
{
        vs_disk_limit_t l;
        vs_error_t err = { 0 };

        (void)state;
        assert_int_equal(vs_disk_parse_space("20M", &l, &err), 0);
        assert_int_equal(l.soft, 20 * MiB);
        assert_int_equal(l.hard, 20 * MiB);
}

static void test_space_soft_and_hard(void **state)
{
        vs_disk_limit_t l;
        vs_error_t err = { 0 };

        (void)state;
        assert_int_equal(vs_disk_parse_space("1G:2GiB", &l, &err), 0);
        assert_int_equal(l.soft, 1024 * MiB);
        assert_int_equal(l.hard, 2048 * MiB);
}

static void test_space_refusals(void **state)
{
        static const struct {
                const char *text, *needle;
        } bad[] = {
                { "", "diskspace" },      { "20X", "diskspace" },  { "2M", "out of range" },
                { "20M:10M", "hard" },    { "20M:", "diskspace" }, { "9T", "out of range" },
                { "20M:x", "diskspace" }, { ":20M", "diskspace" },
        };

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                vs_disk_limit_t l;
                vs_error_t err = { 0 };

                if (vs_disk_parse_space(bad[i].text, &l, &err) == 0)
                        fail_msg("'%s' accepted", bad[i].text);
                assert_int_equal(err.kind, VS_E_USAGE);
                if (!strstr(err.msg, bad[i].needle))
                        fail_msg("'%s': message '%s' lacks '%s'", bad[i].text, err.msg,
                                 bad[i].needle);
        }
}

static void test_inodes(void **state)
{
        vs_disk_limit_t l;
        vs_error_t err = { 0 };

        (void)state;
        assert_int_equal(vs_disk_parse_inodes("500", &l, &err), 0);
        assert_int_equal(l.soft, 500);
        assert_int_equal(l.hard, 500);
        assert_int_equal(vs_disk_parse_inodes("500:1000", &l, &err), 0);
        assert_int_equal(l.hard, 1000);
        assert_true(vs_disk_parse_inodes("1000:500", &l, &err) < 0);
        assert_int_equal(err.kind, VS_E_USAGE);
        assert_true(vs_disk_parse_inodes("10", &l, &err) < 0);
        assert_true(vs_disk_parse_inodes("5k", &l, &err) < 0);
        assert_non_null(strstr(err.msg, "diskinodes"));
}

/* ---- the backend table ---- */

static void test_backend_table(void **state)
{
        static const char *const names[] = { "dir", "image", "prjquota" };

        (void)state;
        for (size_t i = 0; i < 3; i++) {
                const vs_disk_backend_t *b = vs_disk_backend_find(names[i]);

                assert_non_null(b);
                assert_string_equal(b->name, names[i]);
                assert_non_null(b->layers);
                assert_non_null(b->create);
                assert_non_null(b->resize);
                assert_non_null(b->usage);
                assert_non_null(strstr(vs_disk_backend_names(), names[i]));
        }
        assert_null(vs_disk_backend_find("zfs"));
        assert_null(vs_disk_backend_find(NULL));
        assert_non_null(vs_disk_backend_find("image")->attach);
        assert_null(vs_disk_backend_find("dir")->attach);
}

static void test_backend_choice(void **state)
{
        vs_disk_limits_t none = { 0 }, some = { .space = { 20 * MiB, 20 * MiB } };
        vs_error_t err = { 0 };

        (void)state;
        assert_string_equal(vs_disk_backend_choose(NULL, &none, &err)->name, "dir");
        assert_string_equal(vs_disk_backend_choose("image", &none, &err)->name, "dir");
        assert_string_equal(vs_disk_backend_choose(NULL, &some, &err)->name, "image");
        assert_string_equal(vs_disk_backend_choose("", &some, &err)->name, "image");
        assert_string_equal(vs_disk_backend_choose("prjquota", &some, &err)->name, "prjquota");
        assert_null(vs_disk_backend_choose("dir", &some, &err));
        assert_int_equal(err.kind, VS_E_USAGE);
        assert_null(vs_disk_backend_choose("zfs", &some, &err));
        assert_non_null(strstr(err.msg, "zfs"));
}

/* ---- the image ---- */

static int fsck_clean(const char *image)
{
        char *cmd = vs_strdupf("e2fsck -fn '%s' >/dev/null 2>&1", image);
        int rc = system(cmd);

        free(cmd);
        return rc;
}

static void test_image_checks_clean(void **state)
{
        char *dir = temp_dir();
        char *image = vs_strdupf("%s/disk.img", dir);
        vs_disk_usage_t u = { 0 };
        vs_error_t err = { 0 };
        struct stat st;

        (void)state;
        if (vs_disk_image_create(image, 20 * MiB, 500, &err) < 0)
                fail_msg("create: %s", err.msg);
        assert_int_equal(stat(image, &st), 0);
        assert_int_equal(st.st_size, 20 * MiB);
        /* sparse: only the metadata is written */
        assert_true((uint64_t)st.st_blocks * 512 < 2 * MiB);
        assert_int_equal(fsck_clean(image), 0);
        if (vs_disk_image_usage(image, &u, &err) < 0)
                fail_msg("usage: %s", err.msg);
        assert_int_equal(u.bytes_limit, 20 * MiB);
        assert_true(u.bytes_used < 2 * MiB);
        /* rounded up to fill the inode table's blocks, as mke2fs does */
        assert_true(u.inodes_limit >= 500 && u.inodes_limit < 600);
        assert_true(u.inodes_used >= 11 && u.inodes_used < 20);
        free(image);
        remove_dir(dir);
}

static void test_image_large_checks_clean(void **state)
{
        char *dir = temp_dir();
        char *image = vs_strdupf("%s/disk.img", dir);
        vs_disk_usage_t u = { 0 };
        vs_error_t err = { 0 };

        (void)state;
        if (vs_disk_image_create(image, 1024 * MiB, 100000, &err) < 0)
                fail_msg("create: %s", err.msg);
        assert_int_equal(fsck_clean(image), 0);
        assert_int_equal(vs_disk_image_usage(image, &u, &err), 0);
        assert_int_equal(u.bytes_limit, 1024 * MiB);
        assert_true(u.inodes_limit >= 100000 && u.inodes_limit < 110000);
        free(image);
        remove_dir(dir);
}

static void test_image_refuses_existing_file(void **state)
{
        char *dir = temp_dir();
        char *image = vs_strdupf("%s/disk.img", dir);
        vs_error_t err = { 0 };
        FILE *f = fopen(image, "w");

        (void)state;
        assert_non_null(f);
        fclose(f);
        assert_true(vs_disk_image_create(image, 20 * MiB, 500, &err) < 0);
        assert_int_equal(err.errnum, EEXIST);
        free(image);
        remove_dir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_space_soft_only),
                cmocka_unit_test(test_space_soft_and_hard),
                cmocka_unit_test(test_space_refusals),
                cmocka_unit_test(test_inodes),
                cmocka_unit_test(test_backend_table),
                cmocka_unit_test(test_backend_choice),
                cmocka_unit_test(test_image_checks_clean),
                cmocka_unit_test(test_image_large_checks_clean),
                cmocka_unit_test(test_image_refuses_existing_file),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
