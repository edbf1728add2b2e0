/* Unit tests for cow-fs/template.c in a temp store: the names an import or
 * a Debian build accepts, the busybox template built from the host's static
 * busybox (the skeleton, the applet links, the meta file, the atomic
 * publication), listing, removal, the sizes (hard links once), and the
 * recovery of what a crash left half built. */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#define TESTUTIL_NAME "template"
#include "testutil.h"

#include "vs/cowfs.h"
#include "vs/error.h"

#define BUSYBOX "/bin/busybox"

static void test_archive_suffixes(void **state)
{
        static const char *const ok[] = { "/a/root.tar",    "/a/root.tar.gz", "/a/r.tgz",
                                          "/a/root.tar.xz", "/a/r.txz",       "/a/root.tar.zst",
                                          "/a/r.tzst" };
        static const char *const bad[] = { "/a/root.zip", "/a/root.tar.bz2", ".tar", "/a/root",
                                           "/a/roottar" };
        vs_error_t err = { 0 };

        (void)state;
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
                if (vs_template_archive_ok(ok[i], &err) < 0)
                        fail_msg("%s refused: %s", ok[i], err.msg);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                vs_error_clear(&err);
                assert_int_equal(vs_template_archive_ok(bad[i], &err), -1);
                assert_int_equal(err.kind, VS_E_USAGE);
                assert_non_null(strstr(err.msg, "is not a tar archive"));
        }
}

static void test_debian_names(void **state)
{
        vs_error_t err = { 0 };

        (void)state;
        assert_int_equal(vs_template_debian_check("bookworm", NULL, &err), 0);
        assert_int_equal(
                vs_template_debian_check("bookworm-backports", "procps,libc6-dev,g++,a.b", &err),
                0);
        assert_int_equal(vs_template_debian_check("--foreign", NULL, &err), -1);
        assert_non_null(strstr(err.msg, "suite '--foreign' is not a Debian suite name"));
        assert_int_equal(vs_template_debian_check("", NULL, &err), -1);
        assert_int_equal(vs_template_debian_check("Bookworm", NULL, &err), -1);
        assert_int_equal(vs_template_debian_check("bookworm", "procps,--keyring=/x", &err), -1);
        assert_non_null(strstr(err.msg, "'--keyring=/x' is not a Debian package name"));
        assert_int_equal(vs_template_debian_check("bookworm", "a b", &err), -1);
        assert_int_equal(vs_template_debian_check("bookworm", "a;rm", &err), -1);
        assert_int_equal(err.kind, VS_E_USAGE);
}

static int is_type(int dirfd, const char *path, mode_t type)
{
        struct stat st;

        return fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & S_IFMT) == type;
}

static void test_busybox_template(void **state)
{
        struct tmpdir *t = *state;
        vs_error_t err = { 0 };
        char *builder, *stop, link[64];
        struct stat st;
        ssize_t n;

        if (access(BUSYBOX, X_OK) != 0)
                skip();
        if (vs_template_build_busybox(t->fd, "bb", BUSYBOX, &err) < 0)
                fail_msg("build: %s", err.msg);
        assert_true(vs_template_exists(t->fd, "bb"));
        assert_true(is_type(t->fd, "bb/rootfs/bin/busybox", S_IFREG));
        assert_true(is_type(t->fd, "bb/rootfs/bin/sh", S_IFLNK));
        n = readlinkat(t->fd, "bb/rootfs/sbin/init", link, sizeof(link) - 1);
        assert_true(n > 0);
        link[n] = '\0';
        assert_string_equal(link, "/bin/busybox");
        assert_true(is_type(t->fd, "bb/rootfs/etc/inittab", S_IFREG));
        assert_true(is_type(t->fd, "bb/rootfs/etc/passwd", S_IFREG));
        assert_int_equal(fstatat(t->fd, "bb/rootfs/tmp", &st, 0), 0);
        assert_int_equal(st.st_mode & 07777, 01777);
        assert_int_equal(fstatat(t->fd, "bb/rootfs/root", &st, 0), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        builder = vs_template_meta(t->fd, "bb", "builder");
        stop = vs_template_meta(t->fd, "bb", "stop_signal");
        assert_non_null(builder);
        assert_string_equal(builder, "busybox");
        assert_non_null(stop);
        assert_string_equal(stop, "SIGUSR2");
        assert_null(vs_template_meta(t->fd, "bb", "no_such_key"));
        free(builder);
        free(stop);
        /* published whole: nothing of the build is left beside it */
        assert_int_equal(count_entries_no_hidden(t->fd), 1);
}

static void test_build_refusals(void **state)
{
        struct tmpdir *t = *state;
        vs_error_t err = { 0 };

        (void)state;
        if (access(BUSYBOX, X_OK) != 0)
                skip();
        assert_int_equal(vs_template_build_busybox(t->fd, "bb", BUSYBOX, &err), 0);
        assert_int_equal(vs_template_build_busybox(t->fd, "bb", BUSYBOX, &err), -1);
        assert_int_equal(err.kind, VS_E_STATE);
        assert_non_null(strstr(err.msg, "template bb already exists"));
        /* a build under way */
        assert_int_equal(mkdirat(t->fd, ".b2.building", 0755), 0);
        vs_error_clear(&err);
        assert_int_equal(vs_template_build_busybox(t->fd, "b2", BUSYBOX, &err), -1);
        assert_int_equal(err.kind, VS_E_STATE);
        assert_non_null(strstr(err.msg, "is being built"));
        /* a failed build leaves nothing */
        assert_int_equal(unlinkat(t->fd, ".b2.building", AT_REMOVEDIR), 0);
        vs_error_clear(&err);
        assert_int_equal(vs_template_build_busybox(t->fd, "b3", "/nonexistent/busybox", &err), -1);
        assert_false(vs_template_exists(t->fd, "b3"));
        assert_int_equal(count_entries_no_hidden(t->fd), 1);
}

static void make_dir(int dirfd, const char *path)
{
        assert_int_equal(mkdirat(dirfd, path, 0755), 0);
}

static void write_at(int dirfd, const char *path, size_t bytes)
{
        int fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        char block[4096];

        assert_true(fd >= 0);
        memset(block, 'x', sizeof(block));
        for (size_t done = 0; done < bytes; done += sizeof(block))
                assert_int_equal(write(fd, block, sizeof(block)), (ssize_t)sizeof(block));
        assert_int_equal(fsync(fd), 0);
        close(fd);
}

static void test_list_remove_and_sizes(void **state)
{
        struct tmpdir *t = *state;
        vs_template_info_t *list = NULL;
        vs_error_t err = { 0 };
        size_t n = 0;

        make_dir(t->fd, "zeta");
        make_dir(t->fd, "zeta/rootfs");
        make_dir(t->fd, "alpha");
        make_dir(t->fd, "alpha/rootfs");
        make_dir(t->fd, ".hidden.building");
        assert_int_equal(symlinkat("alpha", t->fd, "link"), 0);
        write_at(t->fd, "alpha/rootfs/big", 1 << 20);
        /* a hard link is counted once */
        assert_int_equal(linkat(t->fd, "alpha/rootfs/big", t->fd, "alpha/rootfs/big2", 0), 0);
        assert_int_equal(vs_template_list(t->fd, &list, &n, NULL, &err), 0);
        assert_int_equal(n, 2);
        assert_string_equal(list[0].name, "alpha");
        assert_string_equal(list[1].name, "zeta");
        assert_string_equal(list[0].builder, "unknown");
        assert_true(list[0].bytes >= (1 << 20));
        assert_true(list[0].bytes < (1 << 20) + (1 << 18));
        assert_true(list[1].bytes < (1 << 16));
        free(list);
        assert_int_equal(vs_template_remove(t->fd, "zeta", &err), 0);
        assert_false(vs_template_exists(t->fd, "zeta"));
        assert_int_equal(vs_template_remove(t->fd, "zeta", &err), -1);
        assert_int_equal(err.kind, VS_E_NOTFOUND);
        /* a symlink is no template */
        assert_false(vs_template_exists(t->fd, "link"));
}

static void test_store_recover(void **state)
{
        struct tmpdir *t = *state;

        make_dir(t->fd, "kept");
        make_dir(t->fd, ".half.building");
        make_dir(t->fd, ".half.building/rootfs");
        make_dir(t->fd, ".old.removing");
        make_dir(t->fd, ".other");
        vs_template_store_recover(t->fd);
        assert_true(vs_template_exists(t->fd, "kept"));
        assert_false(is_type(t->fd, ".half.building", S_IFDIR));
        assert_false(is_type(t->fd, ".old.removing", S_IFDIR));
        /* what is not a build's or a removal's stays */
        assert_true(is_type(t->fd, ".other", S_IFDIR));
}

/* 8 KiB of data in a new file, its allocated bytes returned. */
static uint64_t data_file(int dirfd, const char *name)
{
        char buf[8192];
        struct stat st;
        int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

        memset(buf, 'x', sizeof(buf));
        assert_true(fd >= 0);
        assert_int_equal(write(fd, buf, sizeof(buf)), sizeof(buf));
        assert_int_equal(fsync(fd), 0);
        assert_int_equal(fstat(fd, &st), 0);
        close(fd);
        return (uint64_t)st.st_blocks * 512;
}

static uint64_t blocks_of(int dirfd, const char *name)
{
        struct stat st;

        assert_int_equal(fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
        return (uint64_t)st.st_blocks * 512;
}

/* du counts each inode once, however many names it has, also among many
 * hard-linked files (a VPS's own layer: vsctl status counts it) */
static void test_du_counts_each_inode_once(void **state)
{
        struct tmpdir *t = *state;
        uint64_t want = 0;
        char name[32], link[32];

        make_dir(t->fd, "sub");
        for (int i = 0; i < 200; i++) {
                snprintf(name, sizeof(name), "f%d", i);
                snprintf(link, sizeof(link), "sub/g%d", i);
                want += data_file(t->fd, name);
                assert_int_equal(linkat(t->fd, name, t->fd, link, 0), 0);
        }
        want += data_file(t->fd, "single");
        assert_int_equal(linkat(t->fd, "single", t->fd, "single2", 0), 0);
        assert_int_equal(linkat(t->fd, "single", t->fd, "sub/single3", 0), 0);
        want += blocks_of(t->fd, "sub"); /* the directory's own, as it is now */
        assert_true(want > 201 * 4096);
        assert_int_equal(vs_du_at(t->fd), want);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_archive_suffixes),
                cmocka_unit_test(test_debian_names),
                cmocka_unit_test_setup_teardown(test_busybox_template, tmpdir_setup,
                                                tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_build_refusals, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_list_remove_and_sizes, tmpdir_setup,
                                                tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_store_recover, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_du_counts_each_inode_once, tmpdir_setup,
                                                tmpdir_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
