/* Unit tests for the copies of cow-fs (include/vs/cowfs.h): vs_copy_tree_at
 * (clone's copy of an upper layer), vs_copy_sparse_at (of a disk image) and
 * vs_template_unify. Files are the caller's own, so no root is needed. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
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
#include "vs/diskquota.h"
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

/* ---- bringing a copy up to date (vs_sync_tree_at) ---- */

static void read_at(const char *dir, const char *name, char *out, size_t size)
{
        char *path = vs_strdupf("%s/%s", dir, name);
        FILE *f = fopen(path, "r");
        size_t n;

        assert_non_null(f);
        n = fread(out, 1, size - 1, f);
        out[n] = '\0';
        fclose(f);
        free(path);
}

/* A time of the file system's clock later than every inode change so far:
 * the marker is touched until its ctime passes `after` (one clock tick). */
static struct timespec fs_time_after(const char *dir, const struct timespec *after)
{
        char *path = vs_strdupf("%s/marker", dir);
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        struct stat st;

        assert_true(fd >= 0);
        do {
                assert_int_equal(futimens(fd, NULL), 0);
                assert_int_equal(fstat(fd, &st), 0);
        } while (st.st_ctim.tv_sec < after->tv_sec ||
                 (st.st_ctim.tv_sec == after->tv_sec && st.st_ctim.tv_nsec <= after->tv_nsec));
        close(fd);
        unlink(path);
        free(path);
        return st.st_ctim;
}

static void test_sync_tree_follows_the_changes(void **state)
{
        char *src = temp_dir(), *dst = temp_dir(), *mark = temp_dir();
        char *src_up = vs_strdupf("%s/upper", src), *dst_up = vs_strdupf("%s/upper", dst);
        struct timespec since, old_mtime[2];
        struct stat keep0, st, h;
        char text[64];
        char *path, *other;
        vs_error_t err = { 0 };
        int sfd, dfd;

        (void)state;
        make_tree(src);
        write_at(src_up, "keep", "untouched\n", 0644);
        stat_at(src_up, "keep", &st);
        since = fs_time_after(mark, &st.st_ctim);
        sfd = open_dir(src);
        dfd = open_dir(dst);
        if (vs_copy_tree_at(sfd, dfd, "upper", NULL, &err) < 0)
                fail_msg("copy: %s", err.msg);
        stat_at(dst_up, "keep", &keep0);

        /* what a running VPS does after the copy: the same size and mtime
         * with other bytes, a removal, a new file, a type change, a new
         * hard link, a mode change */
        stat_at(src_up, "file", &st);
        old_mtime[0] = st.st_atim;
        old_mtime[1] = st.st_mtim;
        write_at(src_up, "file", "CONTENT\n", 04750);
        path = vs_strdupf("%s/file", src_up);
        assert_int_equal(utimensat(AT_FDCWD, path, old_mtime, 0), 0);
        other = vs_strdupf("%s/again", src_up);
        assert_int_equal(link(path, other), 0);
        free(other);
        free(path);
        path = vs_strdupf("%s/sub/link", src_up);
        assert_int_equal(unlink(path), 0);
        free(path);
        write_at(src_up, "new", "new\n", 0600);
        path = vs_strdupf("%s/fifo", src_up);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(mkdir(path, 0700), 0);
        free(path);
        write_at(src_up, "fifo/inside", "inside\n", 0644);
        path = vs_strdupf("%s/sub", src_up);
        assert_int_equal(chmod(path, 0750), 0);
        free(path);

        if (vs_sync_tree_at(sfd, dfd, "upper", &since, NULL, &err) < 0)
                fail_msg("sync: %s", err.msg);
        read_at(dst_up, "file", text, sizeof(text));
        assert_string_equal(text, "CONTENT\n");
        stat_at(dst_up, "file", &st);
        assert_int_equal(st.st_mode & 07777, 04750);
        assert_int_equal(st.st_nlink, 3); /* file, sub/hard, again: one inode */
        stat_at(dst_up, "again", &h);
        assert_int_equal(h.st_ino, st.st_ino);
        stat_at(dst_up, "sub/hard", &h);
        assert_int_equal(h.st_ino, st.st_ino);
        path = vs_strdupf("%s/sub/link", dst_up);
        assert_int_equal(lstat(path, &st), -1);
        assert_int_equal(errno, ENOENT);
        free(path);
        read_at(dst_up, "new", text, sizeof(text));
        assert_string_equal(text, "new\n");
        read_at(dst_up, "fifo/inside", text, sizeof(text));
        assert_string_equal(text, "inside\n");
        stat_at(dst_up, "sub", &st);
        assert_int_equal(st.st_mode & 07777, 0750);
        /* what did not change is not copied again */
        stat_at(dst_up, "keep", &st);
        assert_int_equal(st.st_ino, keep0.st_ino);
        read_at(dst_up, "keep", text, sizeof(text));
        assert_string_equal(text, "untouched\n");
        close(sfd);
        close(dfd);
        free(src_up);
        free(dst_up);
        remove_dir(src);
        remove_dir(dst);
        remove_dir(mark);
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

/* ---- rounds of an image (migration) ---- */

static int open_in(const char *dir, const char *name, int flags)
{
        char *path = vs_strdupf("%s/%s", dir, name);
        int fd = open(path, flags | O_CLOEXEC, 0600);

        assert_true(fd >= 0);
        free(path);
        return fd;
}

/* One round from src into dst through a stream file; the data bytes sent. */
static uint64_t image_round(int src, int sums, int first, int dst, const char *dir)
{
        int stream = open_in(dir, "stream", O_RDWR | O_CREAT | O_TRUNC);
        vs_error_t err = { 0 };
        uint64_t sent = 0;

        if (vs_image_round_send(src, sums, first, stream, &sent, &err) < 0)
                fail_msg("send: %s", err.msg);
        assert_int_equal(lseek(stream, 0, SEEK_SET), 0);
        if (vs_image_round_receive(stream, dst, 1ULL << 30, &err) < 0)
                fail_msg("receive: %s", err.msg);
        close(stream);
        return sent;
}

static void assert_same_image(const char *dir)
{
        char *cmd = vs_strdupf("cmp -s '%s/src.img' '%s/dst.img'", dir, dir);

        assert_int_equal(system(cmd), 0);
        free(cmd);
}

static void test_image_rounds_send_what_changed(void **state)
{
        char *dir = temp_dir();
        int src = open_in(dir, "src.img", O_RDWR | O_CREAT | O_EXCL);
        int dst = open_in(dir, "dst.img", O_RDWR | O_CREAT | O_EXCL);
        int sums = open_in(dir, "sums", O_RDWR | O_CREAT | O_EXCL);
        char block[65536];
        struct stat st;
        vs_error_t err = { 0 };

        (void)state;
        memset(block, 'a', sizeof(block));
        assert_int_equal(ftruncate(src, 256 << 20), 0);
        for (int i = 0; i < 8; i++)
                assert_int_equal(pwrite(src, block, sizeof(block), (off_t)i << 24), sizeof(block));
        assert_int_equal(pwrite(src, "tail", 4, (256 << 20) - 4), 4);
        /* the first round: the data, not the holes */
        assert_true(image_round(src, sums, 1, dst, dir) <= 9 * sizeof(block));
        assert_same_image(dir);
        assert_int_equal(fstat(dst, &st), 0);
        assert_true((uint64_t)st.st_blocks * 512 < (2 << 20));
        /* nothing changed: nothing sent */
        assert_int_equal(image_round(src, sums, 0, dst, dir), 0);
        /* one block rewritten, one new, one made a hole: two blocks sent */
        memset(block, 'b', sizeof(block));
        assert_int_equal(pwrite(src, block + 1, 100, (3 << 24) + 5), 100);
        assert_int_equal(pwrite(src, block, sizeof(block), 100 << 20), sizeof(block));
        assert_int_equal(
                fallocate(src, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 5 << 24, sizeof(block)),
                0);
        assert_int_equal(image_round(src, sums, 0, dst, dir), 2 * sizeof(block));
        assert_same_image(dir);
        /* grown: the new size and its data */
        assert_int_equal(pwrite(src, "end", 3, 300 << 20), 3);
        assert_int_equal(image_round(src, sums, 0, dst, dir), 3);
        assert_same_image(dir);
        /* an image above the target's bound is refused */
        {
                int stream = open_in(dir, "stream", O_RDWR | O_CREAT | O_TRUNC);

                assert_int_equal(vs_image_round_send(src, sums, 0, stream, NULL, &err), 0);
                assert_int_equal(lseek(stream, 0, SEEK_SET), 0);
                assert_int_equal(vs_image_round_receive(stream, dst, 1 << 20, &err), -1);
                assert_non_null(strstr(err.msg, "larger than"));
                close(stream);
        }
        /* a next round without a first is refused */
        assert_int_equal(ftruncate(sums, 0), 0);
        assert_int_equal(vs_image_round_send(src, sums, 0, dst, NULL, &err), -1);
        assert_non_null(strstr(err.msg, "no first round"));
        close(src);
        close(dst);
        close(sums);
        remove_dir(dir);
}

/* Many single changes to an image of random blocks, each followed by a
 * round: each time exactly the changed block goes (a bit flipped, a byte
 * rewritten, two words of a block swapped, a change in the image's short
 * last block), and the copies are the same after it. */
/* The same rounds applied to a copy on this node (a live snapshot): the
 * copy follows the image, holes stay holes, a hole made is punched. */
static void test_image_round_copy_follows_the_image(void **state)
{
        char *dir = temp_dir();
        int src = open_in(dir, "src.img", O_RDWR | O_CREAT | O_EXCL);
        int dst = open_in(dir, "dst.img", O_RDWR | O_CREAT | O_EXCL);
        int sums = open_in(dir, "sums", O_RDWR | O_CREAT | O_EXCL);
        char block[65536];
        vs_error_t err = { 0 };
        uint64_t copied = 0;
        struct stat st;

        (void)state;
        memset(block, 'a', sizeof(block));
        assert_int_equal(ftruncate(src, 64 << 20), 0);
        for (int i = 0; i < 4; i++)
                assert_int_equal(pwrite(src, block, sizeof(block), (off_t)i << 22), sizeof(block));
        assert_int_equal(vs_image_round_copy(src, sums, 1, dst, &copied, &err), 0);
        assert_int_equal(copied, 4 * sizeof(block));
        assert_same_image(dir);
        assert_int_equal(fstat(dst, &st), 0);
        assert_true((uint64_t)st.st_blocks * 512 < (1 << 20));
        assert_int_equal(vs_image_round_copy(src, sums, 0, dst, &copied, &err), 0);
        assert_int_equal(copied, 0);
        memset(block, 'b', 10);
        assert_int_equal(pwrite(src, block, 10, (2 << 22) + 7), 10);
        assert_int_equal(
                fallocate(src, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1 << 22, sizeof(block)),
                0);
        assert_int_equal(vs_image_round_copy(src, sums, 0, dst, &copied, &err), 0);
        assert_int_equal(copied, sizeof(block));
        assert_same_image(dir);
        assert_int_equal(fstat(dst, &st), 0);
        assert_true((uint64_t)st.st_blocks * 512 <= 3 * sizeof(block) + 65536);
        close(src);
        close(dst);
        close(sums);
        remove_dir(dir);
}

static void test_image_rounds_always_send_a_changed_block(void **state)
{
        enum { BLOCKS = 16, TAIL = 1000, CHANGES = 400 };
        const off_t size = (off_t)BLOCKS * 65536 + TAIL;
        char *dir = temp_dir();
        int src = open_in(dir, "src.img", O_RDWR | O_CREAT | O_EXCL);
        int dst = open_in(dir, "dst.img", O_RDWR | O_CREAT | O_EXCL);
        int sums = open_in(dir, "sums", O_RDWR | O_CREAT | O_EXCL);
        unsigned char *a = malloc((size_t)size), *b = malloc((size_t)size);
        unsigned int seed = 17;

        (void)state;
        assert_non_null(a);
        assert_non_null(b);
        for (off_t i = 0; i < size; i++)
                a[i] = (unsigned char)rand_r(&seed);
        assert_int_equal(pwrite(src, a, (size_t)size, 0), size);
        assert_int_equal(image_round(src, sums, 1, dst, dir), size);
        for (int i = 0; i < CHANGES; i++) {
                off_t at = (off_t)(rand_r(&seed) % (unsigned)size), blk = at / 65536;
                size_t len = blk == BLOCKS ? TAIL : 65536;
                unsigned char t[4];

                if (i % 50 == 49)
                        at = size - 1 - rand_r(&seed) % TAIL, blk = BLOCKS, len = TAIL;
                switch (i % 3) {
                case 0:
                        a[at] ^= (unsigned char)(1U << (rand_r(&seed) % 8));
                        break;
                case 1:
                        a[at] = (unsigned char)(a[at] + 1 + rand_r(&seed) % 255);
                        break;
                default: /* two words of NH's pair, where the block has room */
                        at = blk * 65536 + (off_t)(rand_r(&seed) % (len / 32)) * 32;
                        memcpy(t, a + at, 4);
                        memcpy(a + at, a + at + 16, 4);
                        memcpy(a + at + 16, t, 4);
                }
                assert_int_equal(pwrite(src, a + blk * 65536, len, blk * 65536), len);
                assert_int_equal(image_round(src, sums, 0, dst, dir), len);
                assert_int_equal(pread(dst, b, (size_t)size, 0), size);
                assert_memory_equal(a, b, (size_t)size);
        }
        free(a);
        free(b);
        close(src);
        close(dst);
        close(sums);
        remove_dir(dir);
}

/* A file of block sums in the format before (64-bit SipHash sums, magic
 * "PSUM"), as a vsd of before left it, is refused by name, not read as
 * sums of today's kind; another file is not taken for sums either. */
static void test_image_round_refuses_sums_of_the_old_format(void **state)
{
        char *dir = temp_dir();
        int src = open_in(dir, "src.img", O_RDWR | O_CREAT | O_EXCL);
        int sums = open_in(dir, "sums", O_RDWR | O_CREAT | O_EXCL);
        int out = open_in(dir, "stream", O_RDWR | O_CREAT | O_EXCL);
        /* "PSUM", key[2], count = 1, one sum */
        unsigned char old[4 + 16 + 8 + 8] = { 'P', 'S', 'U', 'M' };
        vs_error_t err = { 0 };

        (void)state;
        old[20] = 1;
        old[28] = 0x55;
        assert_int_equal(pwrite(src, "data", 4, 0), 4);
        assert_int_equal(pwrite(sums, old, sizeof(old), 0), sizeof(old));
        assert_int_equal(vs_image_round_send(src, sums, 0, out, NULL, &err), -1);
        assert_non_null(strstr(err.msg, "older format"));
        assert_int_equal(err.errnum, EINVAL);
        /* refused before anything was sent or the file rewritten */
        assert_int_equal(lseek(out, 0, SEEK_END), 0);
        assert_int_equal(lseek(sums, 0, SEEK_END), sizeof(old));
        assert_int_equal(pwrite(sums, "XXXX", 4, 0), 4);
        assert_int_equal(vs_image_round_send(src, sums, 0, out, NULL, &err), -1);
        assert_non_null(strstr(err.msg, "not a file of an image's block sums"));
        /* a first round makes a file of today's kind, which the next reads */
        assert_int_equal(vs_image_round_send(src, sums, 1, out, NULL, &err), 0);
        assert_int_equal(vs_image_round_send(src, sums, 0, out, NULL, &err), 0);
        close(src);
        close(sums);
        close(out);
        remove_dir(dir);
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

/* ---- ids inside xattr values ---- */

static void put_le(unsigned char *p, uint32_t v, int bytes)
{
        for (int i = 0; i < bytes; i++)
                p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_le32(const unsigned char *p)
{
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* An ACL as getxattr gives it: version 2, then (tag, perm, id) entries. */
static void acl_entry(unsigned char *acl, int i, uint16_t tag, uint32_t id)
{
        put_le(acl + 4 + 8 * i, tag, 2);
        put_le(acl + 4 + 8 * i + 2, 7, 2);
        put_le(acl + 4 + 8 * i + 4, id, 4);
}

/* Named users and groups in the range move, other entries and ids outside
 * it stay; a v3 capability's root moves; nothing to move says 0. */
static void test_xattr_ids_move_with_the_shift(void **state)
{
        const vs_id_shift_t shift = { .from = 100000, .to = 300000, .count = 65536 };
        unsigned char acl[4 + 8 * 6], cap[XATTR_CAPS_SZ_3] = { 0 };

        (void)state;
        put_le(acl, 2, 4);
        acl_entry(acl, 0, 0x01, 0xffffffff); /* ACL_USER_OBJ */
        acl_entry(acl, 1, 0x02, 101000);     /* ACL_USER, in the range */
        acl_entry(acl, 2, 0x02, 5);          /* ACL_USER, outside it */
        acl_entry(acl, 3, 0x08, 100007);     /* ACL_GROUP */
        acl_entry(acl, 4, 0x10, 100001);     /* ACL_MASK: no id, whatever is there */
        acl_entry(acl, 5, 0x20, 0xffffffff); /* ACL_OTHER */
        assert_int_equal(vs_id_shift_xattr(&shift, "system.posix_acl_access", acl, sizeof(acl)), 1);
        assert_int_equal(get_le32(acl + 4 + 4), 0xffffffff);
        assert_int_equal(get_le32(acl + 12 + 4), 301000);
        assert_int_equal(get_le32(acl + 20 + 4), 5);
        assert_int_equal(get_le32(acl + 28 + 4), 300007);
        assert_int_equal(get_le32(acl + 36 + 4), 100001);
        assert_int_equal(vs_id_shift_xattr(&shift, "system.posix_acl_default", acl, sizeof(acl)),
                         0);
        assert_int_equal(vs_id_shift_xattr(&shift, "user.other", acl, sizeof(acl)), 0);

        put_le(cap, VFS_CAP_REVISION_3 | VFS_CAP_FLAGS_EFFECTIVE, 4);
        put_le(cap + offsetof(struct vfs_ns_cap_data, rootid), 100000, 4);
        assert_int_equal(vs_id_shift_xattr(&shift, "security.capability", cap, sizeof(cap)), 1);
        assert_int_equal(get_le32(cap + offsetof(struct vfs_ns_cap_data, rootid)), 300000);
        assert_int_equal(vs_id_shift_xattr(&shift, "security.capability", cap, sizeof(cap)), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_copy_tree_keeps_everything),
                cmocka_unit_test(test_sync_tree_follows_the_changes),
                cmocka_unit_test(test_copy_sparse_keeps_holes),
                cmocka_unit_test(test_image_rounds_send_what_changed),
                cmocka_unit_test(test_image_round_copy_follows_the_image),
                cmocka_unit_test(test_image_rounds_always_send_a_changed_block),
                cmocka_unit_test(test_image_round_refuses_sums_of_the_old_format),
                cmocka_unit_test(test_unify_links_only_identical_files),
                cmocka_unit_test(test_xattr_ids_move_with_the_shift),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
