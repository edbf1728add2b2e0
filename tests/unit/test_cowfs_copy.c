/* Unit tests for the copies of cow-fs (include/vs/cowfs.h): vs_copy_tree_at
 * (clone's copy of an upper layer), vs_copy_sparse_at (of a disk image) and
 * vs_template_unify. Files are the caller's own, so no root is needed. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define TESTUTIL_NAME "cowfs-copy"
#include "testutil.h"

#include "vs/cowfs.h"
#include "vs/fsutil.h"

static void write_at(const char *dir, const char *name, const char *text, mode_t mode)
{
        char *path = vs_strdupf("%s/%s", dir, name);
        FILE *f = fopen(path, "w");

        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        assert_int_equal(chmod(path, mode), 0);
        free(path);
}

static void stat_at(const char *dir, const char *name, struct stat *st)
{
        char *path = vs_strdupf("%s/%s", dir, name);

        assert_int_equal(lstat(path, st), 0);
        free(path);
}

static int open_dir(const char *dir)
{
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        assert_true(fd >= 0);
        return fd;
}

/* ---- tree copy ---- */

static void make_tree(const char *top)
{
        char *up = vs_strdupf("%s/upper", top);
        char *sub = vs_strdupf("%s/upper/sub", top);
        char *path;

        assert_int_equal(mkdir(up, 0751), 0);
        assert_int_equal(mkdir(sub, 0700), 0);
        write_at(up, "file", "content\n", 04750);
        path = vs_strdupf("%s/file", up);
        if (setxattr(path, "user.paene", "kept", 4, 0) < 0 && errno != ENOTSUP)
                fail_msg("setxattr: %s", strerror(errno));
        free(path);
        path = vs_strdupf("%s/sub/link", up);
        assert_int_equal(symlink("../file", path), 0);
        free(path);
        path = vs_strdupf("%s/sub/hard", up);
        {
                char *first = vs_strdupf("%s/file", up);

                assert_int_equal(link(first, path), 0);
                free(first);
        }
        free(path);
        path = vs_strdupf("%s/fifo", up);
        assert_int_equal(mkfifo(path, 0640), 0);
        free(path);
        free(sub);
        free(up);
}

static void test_copy_tree_keeps_everything(void **state)
{
        char *src = temp_dir(), *dst = temp_dir();
        char *src_up = vs_strdupf("%s/upper", src), *dst_up = vs_strdupf("%s/upper", dst);
        int sfd, dfd;
        struct stat a, b, h;
        char target[64] = "", value[16] = "";
        char *path;
        vs_error_t err = { 0 };

        (void)state;
        make_tree(src);
        sfd = open_dir(src);
        dfd = open_dir(dst);
        if (vs_copy_tree_at(sfd, dfd, "upper", NULL, &err) < 0)
                fail_msg("copy: %s", err.msg);
        stat_at(src, "upper", &a);
        stat_at(dst, "upper", &b);
        assert_int_equal(a.st_mode, b.st_mode);
        stat_at(src_up, "file", &a);
        stat_at(dst_up, "file", &b);
        assert_int_equal(a.st_mode, b.st_mode); /* set-uid kept */
        assert_int_equal(a.st_size, b.st_size);
        assert_int_equal(a.st_mtim.tv_sec, b.st_mtim.tv_sec);
        assert_int_equal(b.st_nlink, 2);
        stat_at(dst_up, "sub/hard", &h);
        assert_int_equal(h.st_ino, b.st_ino); /* the hard link is one again */
        assert_true(a.st_ino != b.st_ino);
        path = vs_strdupf("%s/sub/link", dst_up);
        assert_true(readlink(path, target, sizeof(target) - 1) > 0);
        assert_string_equal(target, "../file");
        free(path);
        stat_at(dst_up, "fifo", &b);
        assert_true(S_ISFIFO(b.st_mode));
        stat_at(dst_up, "sub", &b);
        assert_int_equal(b.st_mode & 07777, 0700);
        path = vs_strdupf("%s/file", dst_up);
        if (getxattr(path, "user.paene", value, sizeof(value)) >= 0)
                assert_string_equal(value, "kept");
        free(path);
        /* the destination must be new */
        assert_true(vs_copy_tree_at(sfd, dfd, "upper", NULL, &err) < 0);
        assert_int_equal(err.errnum, EEXIST);
        close(sfd);
        close(dfd);
        free(src_up);
        free(dst_up);
        remove_dir(src);
        remove_dir(dst);
}

static void test_copy_sparse_keeps_holes(void **state)
{
        char *src = temp_dir(), *dst = temp_dir();
        char *path = vs_strdupf("%s/disk.img", src);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600), sfd, dfd;
        struct stat a, b;
        vs_error_t err = { 0 };
        char *cmd;

        (void)state;
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 64 << 20), 0);
        assert_int_equal(pwrite(fd, "head", 4, 0), 4);
        assert_int_equal(pwrite(fd, "tail", 4, (64 << 20) - 4), 4);
        close(fd);
        sfd = open_dir(src);
        dfd = open_dir(dst);
        if (vs_copy_sparse_at(sfd, dfd, "disk.img", &err) < 0)
                fail_msg("copy: %s", err.msg);
        stat_at(src, "disk.img", &a);
        stat_at(dst, "disk.img", &b);
        assert_int_equal(a.st_size, b.st_size);
        assert_true((uint64_t)b.st_blocks * 512 < (1 << 20));
        cmd = vs_strdupf("cmp -s '%s/disk.img' '%s/disk.img'", src, dst);
        assert_int_equal(system(cmd), 0);
        free(cmd);
        close(sfd);
        close(dfd);
        free(path);
        remove_dir(src);
        remove_dir(dst);
}

/* ---- unify ---- */

static void make_template(const char *store, const char *name, const char *odd_mode_text)
{
        char *dir = vs_strdupf("%s/%s/rootfs/etc", store, name);

        assert_int_equal(vs_mkdir_p(dir, 0755, NULL), 0);
        write_at(dir, "same", "identical content\n", 0644);
        write_at(dir, "mode", "mode content\n", odd_mode_text ? 0600 : 0644);
        write_at(dir, "differs", name, 0644);
        free(dir);
}

static void test_unify_links_only_identical_files(void **state)
{
        char *store = temp_dir();
        char *a = vs_strdupf("%s/a/rootfs/etc", store), *b = vs_strdupf("%s/b/rootfs/etc", store);
        struct stat sa, sb;
        vs_template_unify_t r;
        vs_error_t err = { 0 };
        int fd;

        (void)state;
        make_template(store, "a", NULL);
        make_template(store, "b", "odd");
        fd = open_dir(store);
        if (vs_template_unify(fd, &r, &err) < 0)
                fail_msg("unify: %s", err.msg);
        assert_int_equal(r.linked, 1);
        assert_int_equal(r.errors, 0);
        stat_at(a, "same", &sa);
        stat_at(b, "same", &sb);
        assert_int_equal(sa.st_ino, sb.st_ino);
        stat_at(a, "mode", &sa);
        stat_at(b, "mode", &sb);
        assert_true(sa.st_ino != sb.st_ino);
        stat_at(a, "differs", &sa);
        stat_at(b, "differs", &sb);
        assert_true(sa.st_ino != sb.st_ino);
        /* a second run has nothing left to do */
        assert_int_equal(vs_template_unify(fd, &r, &err), 0);
        assert_int_equal(r.linked, 0);
        close(fd);
        free(a);
        free(b);
        remove_dir(store);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_copy_tree_keeps_everything),
                cmocka_unit_test(test_copy_sparse_keeps_holes),
                cmocka_unit_test(test_unify_links_only_identical_files),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
