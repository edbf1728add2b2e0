/* Unit tests for include/vs/fsutil.h: atomic writes, bounded whole-file
 * reads, recursive removal that never follows symlinks, mkdir -p. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define TESTUTIL_NAME "fsutil"
#include "testutil.h"

#include "vs/error.h"
#include "vs/fsutil.h"

static void make_file(int dirfd, const char *name, const char *text, mode_t mode)
{
        int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        size_t len = strlen(text);

        if (fd < 0)
                fail_msg("create %s: %s", name, strerror(errno));
        assert_int_equal(write(fd, text, len), (ssize_t)len);
        assert_int_equal(fchmod(fd, mode), 0);
        close(fd);
}

static void make_sized_file(int dirfd, const char *name, size_t size)
{
        int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        char block[4096];

        if (fd < 0)
                fail_msg("create %s: %s", name, strerror(errno));
        for (size_t i = 0; i < sizeof(block); i++)
                block[i] = (char)('a' + i % 26);
        while (size > 0) {
                size_t n = size < sizeof(block) ? size : sizeof(block);

                assert_int_equal(write(fd, block, n), (ssize_t)n);
                size -= n;
        }
        close(fd);
}

/* Reads a file with plain syscalls, to check what the code under test wrote. */
static size_t slurp(int dirfd, const char *name, char *buf, size_t size)
{
        int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
        size_t used = 0;

        if (fd < 0)
                fail_msg("open %s: %s", name, strerror(errno));
        for (;;) {
                ssize_t n = read(fd, buf + used, size - 1 - used);

                assert_true(n >= 0);
                if (n == 0)
                        break;
                used += (size_t)n;
        }
        close(fd);
        buf[used] = '\0';
        return used;
}

static int exists(int dirfd, const char *name)
{
        struct stat st;

        return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Fails on any entry whose name starts with '.' (a leftover temp file). */
static void assert_no_hidden_files(int dirfd)
{
        (void)count_entries_no_hidden(dirfd);
}

/* ---- vs_opendir_at ---- */

/* fdopendir, made to fail on demand: the one step of vs_opendir_at that
 * fails after a descriptor is open (out of memory for the stream), which
 * no directory can make happen. This definition is the one libvs.a's
 * objects link to; otherwise it is libc's. */
static int fdopendir_fails;
static int fdopendir_was_given = -1;

DIR *fdopendir(int fd)
{
        static DIR *(*real)(int);

        if (fdopendir_fails) {
                fdopendir_was_given = fd;
                errno = ENOMEM;
                return NULL;
        }
        if (!real)
                real = (DIR * (*)(int)) dlsym(RTLD_NEXT, "fdopendir");
        return real(fd);
}

/* The number the next descriptor would get (the lowest free one). */
static int next_fd(void)
{
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        close(fd);
        return fd;
}

static size_t count_names(DIR *dir)
{
        struct dirent *ent;
        size_t n = 0;

        assert_non_null(dir);
        while ((ent = readdir(dir)))
                n += strcmp(ent->d_name, ".") != 0 && strcmp(ent->d_name, "..") != 0;
        return n;
}

/* "." is dirfd itself, read through a file of its own: reading it to the
 * end twice sees every entry twice and leaves dirfd's offset alone (a dup
 * would share the offset, and the second stream would find nothing). */
static void test_opendir_at_dot_has_its_own_offset(void **state)
{
        struct tmpdir *t = *state;
        DIR *first, *second;

        make_file(t->fd, "a", "1", 0644);
        make_file(t->fd, "b", "2", 0644);
        assert_int_equal(mkdirat(t->fd, "c", 0755), 0);
        first = vs_opendir_at(t->fd, ".");
        assert_int_equal(count_names(first), 3);
        second = vs_opendir_at(t->fd, ".");
        assert_int_equal(count_names(second), 3);
        assert_int_not_equal(dirfd(first), t->fd);
        assert_int_equal(lseek(t->fd, 0, SEEK_CUR), 0);
        closedir(first);
        closedir(second);
}

/* A name below dirfd: that directory's entries. */
static void test_opendir_at_subdirectory(void **state)
{
        struct tmpdir *t = *state;
        DIR *dir;

        assert_int_equal(mkdirat(t->fd, "sub", 0755), 0);
        make_file(t->fd, "sub/x", "1", 0644);
        make_file(t->fd, "top", "1", 0644);
        dir = vs_opendir_at(t->fd, "sub");
        assert_int_equal(count_names(dir), 1);
        assert_true(fcntl(dirfd(dir), F_GETFD) & FD_CLOEXEC);
        closedir(dir);
}

/* What is not a directory (missing, a file, a symlink to a directory, not
 * followed) is NULL with openat's errno, and no descriptor stays open. */
static void test_opendir_at_refuses_what_is_not_a_directory(void **state)
{
        struct tmpdir *t = *state;
        int before;

        assert_int_equal(mkdirat(t->fd, "real", 0755), 0);
        assert_int_equal(symlinkat("real", t->fd, "link"), 0);
        make_file(t->fd, "file", "1", 0644);
        before = next_fd();
        errno = 0;
        assert_null(vs_opendir_at(t->fd, "missing"));
        assert_int_equal(errno, ENOENT);
        errno = 0;
        assert_null(vs_opendir_at(t->fd, "file"));
        assert_int_equal(errno, ENOTDIR);
        errno = 0;
        assert_null(vs_opendir_at(t->fd, "link"));
        assert_true(errno == ELOOP || errno == ENOTDIR);
        assert_int_equal(next_fd(), before);
}

/* fdopendir failing after the open: the descriptor it was given is closed
 * and its errno is what the caller sees (the close does not replace it). */
static void test_opendir_at_failure_closes_the_descriptor(void **state)
{
        struct tmpdir *t = *state;
        int before = next_fd();
        DIR *dir;

        fdopendir_fails = 1;
        fdopendir_was_given = -1;
        errno = 0;
        dir = vs_opendir_at(t->fd, ".");
        fdopendir_fails = 0;
        assert_null(dir);
        assert_int_equal(errno, ENOMEM);
        assert_int_equal(fdopendir_was_given, before);
        assert_int_equal(fcntl(before, F_GETFD), -1);
        assert_int_equal(errno, EBADF);
        assert_int_equal(next_fd(), before);
}

/* ---- vs_write_atomic ---- */

static void test_write_atomic_creates(void **state)
{
        struct tmpdir *t = *state;
        char buf[64];
        struct stat st;
        vs_error_t err;

        vs_error_clear(&err);
        if (vs_write_atomic(t->fd, "state", "pid = 42\n", 9, 0600, 0, &err) != 0)
                fail_msg("write: %s", err.msg);
        assert_int_equal(slurp(t->fd, "state", buf, sizeof(buf)), 9);
        assert_string_equal(buf, "pid = 42\n");
        assert_int_equal(fstatat(t->fd, "state", &st, 0), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_no_hidden_files(t->fd);
}

static void write_atomic_replaces(struct tmpdir *t, int durable)
{
        static const char fresh[] = "memory = 1G\n";
        char *old = malloc(10001);
        char *buf = malloc(20000);
        struct stat before, after;
        int oldfd;
        vs_error_t err;

        assert_non_null(old);
        assert_non_null(buf);
        memset(old, 'A', 10000);
        old[10000] = '\0';
        make_file(t->fd, "config", old, 0644);
        assert_int_equal(fstatat(t->fd, "config", &before, 0), 0);
        oldfd = openat(t->fd, "config", O_RDONLY | O_CLOEXEC);
        assert_true(oldfd >= 0);

        vs_error_clear(&err);
        if (vs_write_atomic(t->fd, "config", fresh, strlen(fresh), 0640, durable, &err) != 0)
                fail_msg("write: %s", err.msg);

        /* the new content entirely, no tail of the old one */
        assert_int_equal(slurp(t->fd, "config", buf, 20000), strlen(fresh));
        assert_string_equal(buf, fresh);
        /* a new file was renamed over the old one: the mode is the new one,
         * and a reader that had the old file open still sees all of it */
        assert_int_equal(fstatat(t->fd, "config", &after, 0), 0);
        assert_int_equal(after.st_mode & 07777, 0640);
        assert_true(after.st_ino != before.st_ino);
        assert_int_equal(read(oldfd, buf, 20000), 10000);
        assert_memory_equal(buf, old, 10000);
        close(oldfd);
        assert_no_hidden_files(t->fd);
        free(old);
        free(buf);
}

static void test_write_atomic_replaces(void **state)
{
        write_atomic_replaces(*state, 0);
}

static void test_write_atomic_replaces_durable(void **state)
{
        write_atomic_replaces(*state, 1);
}

static void test_write_atomic_binary_and_empty(void **state)
{
        struct tmpdir *t = *state;
        static const char data[] = { 'a', '\0', 'b', '\n', '\0' };
        char buf[16];
        vs_error_t err;

        vs_error_clear(&err);
        assert_int_equal(vs_write_atomic(t->fd, "bin", data, sizeof(data), 0644, 1, &err), 0);
        assert_int_equal(slurp(t->fd, "bin", buf, sizeof(buf)), sizeof(data));
        assert_memory_equal(buf, data, sizeof(data));
        assert_int_equal(vs_write_atomic(t->fd, "bin", "", 0, 0644, 0, &err), 0);
        assert_int_equal(slurp(t->fd, "bin", buf, sizeof(buf)), 0);
}

static void test_write_atomic_failure_cleans_up(void **state)
{
        struct tmpdir *t = *state;
        struct stat st;
        vs_error_t err;

        /* renaming a file over a non-empty directory fails */
        assert_int_equal(mkdirat(t->fd, "config", 0755), 0);
        make_file(t->fd, "config/keep", "x", 0644);
        vs_error_clear(&err);
        assert_true(vs_write_atomic(t->fd, "config", "a = 1\n", 6, 0644, 1, &err) < 0);
        assert_true(err.errnum != 0);
        assert_non_null(strstr(err.msg, "config"));
        assert_int_equal(fstatat(t->fd, "config", &st, 0), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_no_hidden_files(t->fd);
}

/* A path with a directory part: the temp file sits beside the target. */
static void test_write_atomic_in_subdirectory(void **state)
{
        struct tmpdir *t = *state;
        char buf[64];
        vs_error_t err;
        int sub;

        assert_int_equal(mkdirat(t->fd, "web1", 0755), 0);
        vs_error_clear(&err);
        if (vs_write_atomic(t->fd, "web1/state", "phase = running\n", 16, 0644, 1, &err) != 0)
                fail_msg("write web1/state: %s", err.msg);
        slurp(t->fd, "web1/state", buf, sizeof(buf));
        assert_string_equal(buf, "phase = running\n");
        sub = openat(t->fd, "web1", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(sub >= 0);
        assert_no_hidden_files(sub);
        close(sub);
        assert_no_hidden_files(t->fd);

        vs_error_clear(&err);
        assert_true(vs_write_atomic(t->fd, "nodir/state", "x", 1, 0644, 0, &err) < 0);
        assert_int_equal(err.errnum, ENOENT);
        assert_non_null(strstr(err.msg, "nodir"));
        assert_false(exists(t->fd, "nodir"));
}

/* ---- vs_read_file ---- */

static void test_read_file(void **state)
{
        struct tmpdir *t = *state;
        char *data = NULL;
        size_t len = 0;
        vs_error_t err;

        make_file(t->fd, "f", "hello\nworld\n", 0644);
        vs_error_clear(&err);
        assert_int_equal(vs_read_file(t->fd, "f", 1024, &data, &len, &err), 0);
        assert_int_equal(len, 12);
        assert_string_equal(data, "hello\nworld\n");
        free(data);
        /* len is optional */
        data = NULL;
        assert_int_equal(vs_read_file(t->fd, "f", 1024, &data, NULL, &err), 0);
        assert_string_equal(data, "hello\nworld\n");
        free(data);
        make_file(t->fd, "empty", "", 0644);
        data = NULL;
        assert_int_equal(vs_read_file(t->fd, "empty", 1024, &data, &len, &err), 0);
        assert_int_equal(len, 0);
        assert_string_equal(data, "");
        free(data);
}

static void test_read_file_large(void **state)
{
        struct tmpdir *t = *state;
        char *data = NULL;
        size_t len = 0;
        vs_error_t err;

        make_sized_file(t->fd, "big", 100000);
        vs_error_clear(&err);
        assert_int_equal(vs_read_file(t->fd, "big", 1U << 20, &data, &len, &err), 0);
        assert_int_equal(len, 100000);
        assert_int_equal(strlen(data), 100000);
        assert_int_equal(data[0], 'a');
        assert_int_equal(data[99999], 'a' + 99999 % 4096 % 26);
        free(data);
}

static void test_read_file_over_max_refused(void **state)
{
        struct tmpdir *t = *state;
        char *data = NULL;
        vs_error_t err;

        make_sized_file(t->fd, "big", 8193);
        vs_error_clear(&err);
        assert_true(vs_read_file(t->fd, "big", 8192, &data, NULL, &err) < 0);
        assert_int_equal(err.errnum, EFBIG);
        assert_non_null(strstr(err.msg, "big"));
        assert_null(data);
        make_sized_file(t->fd, "huge", 100000);
        vs_error_clear(&err);
        assert_true(vs_read_file(t->fd, "huge", 5000, &data, NULL, &err) < 0);
        assert_int_equal(err.errnum, EFBIG);
        assert_null(data);
}

/* "at most `max` bytes": a limit below the internal buffer size counts too. */
static void test_read_file_small_max_refused(void **state)
{
        struct tmpdir *t = *state;
        char *data = NULL;
        vs_error_t err;

        make_file(t->fd, "f", "0123456789X", 0644);
        vs_error_clear(&err);
        if (vs_read_file(t->fd, "f", 10, &data, NULL, &err) == 0) {
                free(data);
                fail_msg("11 bytes read with max 10");
        }
        assert_int_equal(err.errnum, EFBIG);
        assert_null(data);
}

/* A file of exactly `max` bytes is "at most max" and must be read. */
static void test_read_file_exactly_max(void **state)
{
        struct tmpdir *t = *state;
        static const size_t sizes[] = { 10, 4096, 5000, 8192 };
        vs_error_t err;

        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                char *data = NULL;
                size_t len = 0;

                make_sized_file(t->fd, "f", sizes[i]);
                vs_error_clear(&err);
                if (vs_read_file(t->fd, "f", sizes[i], &data, &len, &err) != 0)
                        fail_msg("file of %zu bytes with max %zu refused: %s", sizes[i], sizes[i],
                                 err.msg);
                assert_int_equal(len, sizes[i]);
                free(data);
        }
}

static void test_read_file_missing(void **state)
{
        struct tmpdir *t = *state;
        char *data = NULL;
        vs_error_t err;

        vs_error_clear(&err);
        assert_true(vs_read_file(t->fd, "nope", 1024, &data, NULL, &err) < 0);
        assert_int_equal(err.errnum, ENOENT);
        assert_non_null(strstr(err.msg, "nope"));
        assert_null(data);
}

/* ---- vs_write_string ---- */

static void test_write_string(void **state)
{
        struct tmpdir *t = *state;
        char buf[64];
        vs_error_t err;

        make_file(t->fd, "cgroup.procs", "", 0644);
        vs_error_clear(&err);
        assert_int_equal(vs_write_string(t->fd, "cgroup.procs", "1234", &err), 0);
        slurp(t->fd, "cgroup.procs", buf, sizeof(buf));
        assert_string_equal(buf, "1234");
        /* never creates a file */
        assert_true(vs_write_string(t->fd, "memory.max", "1G", &err) < 0);
        assert_int_equal(err.errnum, ENOENT);
        assert_non_null(strstr(err.msg, "memory.max"));
        assert_false(exists(t->fd, "memory.max"));
}

/* ---- vs_rmtree_at ---- */

static void test_rmtree_nested_with_symlinks(void **state)
{
        struct tmpdir *t = *state;
        char buf[64];
        vs_error_t err;

        /* outside the tree: must survive */
        assert_int_equal(mkdirat(t->fd, "outside", 0755), 0);
        make_file(t->fd, "outside/keep.txt", "precious", 0644);
        assert_int_equal(mkdirat(t->fd, "outside/sub", 0755), 0);
        make_file(t->fd, "outside/sub/deep.txt", "deep", 0644);

        /* the tree */
        assert_int_equal(mkdirat(t->fd, "tree", 0755), 0);
        assert_int_equal(mkdirat(t->fd, "tree/a", 0755), 0);
        assert_int_equal(mkdirat(t->fd, "tree/a/b", 0755), 0);
        assert_int_equal(mkdirat(t->fd, "tree/a/b/c", 0700), 0);
        assert_int_equal(mkdirat(t->fd, "tree/empty", 0755), 0);
        make_file(t->fd, "tree/top.txt", "1", 0644);
        make_file(t->fd, "tree/a/b/c/file", "2", 0600);
        make_file(t->fd, "tree/a/.hidden", "3", 0400);
        assert_int_equal(symlinkat(t->path, t->fd, "tree/link-to-tmpdir"), 0);
        assert_int_equal(symlinkat("../outside", t->fd, "tree/link-to-outside"), 0);
        assert_int_equal(symlinkat("../../../outside/keep.txt", t->fd, "tree/a/b/link-file"), 0);
        assert_int_equal(symlinkat("../../outside/sub", t->fd, "tree/a/link-dir"), 0);
        assert_int_equal(symlinkat("/nonexistent/target", t->fd, "tree/a/b/c/dangling"), 0);

        vs_error_clear(&err);
        if (vs_rmtree_at(t->fd, "tree", &err) != 0)
                fail_msg("rmtree: %s", err.msg);
        assert_false(exists(t->fd, "tree"));
        slurp(t->fd, "outside/keep.txt", buf, sizeof(buf));
        assert_string_equal(buf, "precious");
        slurp(t->fd, "outside/sub/deep.txt", buf, sizeof(buf));
        assert_string_equal(buf, "deep");
}

static void test_rmtree_top_is_symlink(void **state)
{
        struct tmpdir *t = *state;
        vs_error_t err;

        assert_int_equal(mkdirat(t->fd, "outside", 0755), 0);
        make_file(t->fd, "outside/keep.txt", "precious", 0644);
        assert_int_equal(symlinkat("outside", t->fd, "link"), 0);
        vs_error_clear(&err);
        assert_int_equal(vs_rmtree_at(t->fd, "link", &err), 0);
        assert_false(exists(t->fd, "link"));
        assert_true(exists(t->fd, "outside/keep.txt"));
}

static void test_rmtree_missing_and_file(void **state)
{
        struct tmpdir *t = *state;
        vs_error_t err;

        vs_error_clear(&err);
        assert_int_equal(vs_rmtree_at(t->fd, "does-not-exist", &err), 0);
        make_file(t->fd, "plain", "x", 0644);
        assert_int_equal(vs_rmtree_at(t->fd, "plain", &err), 0);
        assert_false(exists(t->fd, "plain"));
        assert_int_equal(mkdirat(t->fd, "emptydir", 0755), 0);
        assert_int_equal(vs_rmtree_at(t->fd, "emptydir", &err), 0);
        assert_false(exists(t->fd, "emptydir"));
}

static void test_rmtree_many_entries(void **state)
{
        struct tmpdir *t = *state;
        vs_error_t err;

        assert_int_equal(mkdirat(t->fd, "many", 0755), 0);
        for (int i = 0; i < 300; i++) {
                char name[32];

                snprintf(name, sizeof(name), "many/f%03d", i);
                make_file(t->fd, name, "x", 0644);
        }
        vs_error_clear(&err);
        assert_int_equal(vs_rmtree_at(t->fd, "many", &err), 0);
        assert_false(exists(t->fd, "many"));
}

/* A chain of directories deeper than the open-file limit allows a
 * descriptor per level (a VPS's root can make one, and its destroy must
 * still free the disk): removed with a handful of descriptors. */
static void test_rmtree_deeper_than_the_open_file_limit(void **state)
{
        struct tmpdir *t = *state;
        struct rlimit saved, low;
        vs_error_t err;
        int fd = dup(t->fd), rc;

        assert_true(fd >= 0);
        for (int i = 0; i < 1500; i++) {
                const char *name = i ? "d" : "deep";
                int sub;

                assert_int_equal(mkdirat(fd, name, 0755), 0);
                sub = openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                assert_true(sub >= 0);
                close(fd);
                fd = sub;
                if (i % 100 == 0) /* files on the way down too */
                        make_file(fd, "f", "x", 0644);
        }
        close(fd);
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
        low = saved;
        low.rlim_cur = 64;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
        vs_error_clear(&err);
        rc = vs_rmtree_at(t->fd, "deep", &err);
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
        if (rc < 0)
                fail_msg("rmtree: %s", err.msg);
        assert_false(exists(t->fd, "deep"));
}

/* ---- vs_mkdir_p ---- */

static void test_mkdir_p(void **state)
{
        struct tmpdir *t = *state;
        char path[128];
        struct stat st;
        vs_error_t err;

        snprintf(path, sizeof(path), "%s/a/b/c", t->path);
        vs_error_clear(&err);
        if (vs_mkdir_p(path, 0750, &err) != 0)
                fail_msg("mkdir -p: %s", err.msg);
        assert_int_equal(fstatat(t->fd, "a", &st, 0), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0750);
        assert_int_equal(fstatat(t->fd, "a/b/c", &st, 0), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0750);
        /* again: already there is fine */
        assert_int_equal(vs_mkdir_p(path, 0750, &err), 0);
        /* trailing slash and an existing prefix */
        snprintf(path, sizeof(path), "%s/a/b/d/", t->path);
        assert_int_equal(vs_mkdir_p(path, 0755, &err), 0);
        assert_int_equal(fstatat(t->fd, "a/b/d", &st, 0), 0);
        assert_true(S_ISDIR(st.st_mode));
}

static void test_mkdir_p_through_file_refused(void **state)
{
        struct tmpdir *t = *state;
        char path[128];
        vs_error_t err;

        make_file(t->fd, "file", "x", 0644);
        snprintf(path, sizeof(path), "%s/file/sub", t->path);
        vs_error_clear(&err);
        assert_true(vs_mkdir_p(path, 0755, &err) < 0);
        assert_int_equal(err.errnum, ENOTDIR);
        assert_non_null(strstr(err.msg, "file/sub"));
}

/* mkdir -p of a path that exists as a regular file fails: the caller would
 * otherwise go on as if it had a directory. */
static void test_mkdir_p_existing_file_refused(void **state)
{
        struct tmpdir *t = *state;
        char path[128];
        vs_error_t err;

        make_file(t->fd, "file", "x", 0644);
        snprintf(path, sizeof(path), "%s/file", t->path);
        vs_error_clear(&err);
        assert_true(vs_mkdir_p(path, 0755, &err) < 0);
        assert_true(err.errnum == EEXIST || err.errnum == ENOTDIR);
}

static void test_mkdir_p_empty_refused(void **state)
{
        vs_error_t err;

        (void)state;
        vs_error_clear(&err);
        assert_true(vs_mkdir_p("", 0755, &err) < 0);
        assert_int_equal(err.errnum, ENOENT);
}

static void test_xgrow(void **state)
{
        int *v = NULL;
        size_t cap = 0;

        (void)state;
        for (size_t n = 0; n < 100; n++) {
                v = vs_xgrow(v, n, &cap, 4, sizeof(*v));
                assert_true(cap > n);
                v[n] = (int)n;
        }
        /* doubled from 4: 4 8 16 32 64 128, and what was stored moved along */
        assert_int_equal(cap, 128);
        for (size_t n = 0; n < 100; n++)
                assert_int_equal(v[n], (int)n);
        /* with room left it changes nothing */
        assert_ptr_equal(vs_xgrow(v, 100, &cap, 4, sizeof(*v)), v);
        assert_int_equal(cap, 128);
        free(v);
}

static void test_strlcpy(void **state)
{
        char buf[8];

        (void)state;
        assert_int_equal(vs_strlcpy(buf, "web1", sizeof(buf)), 4);
        assert_string_equal(buf, "web1");
        assert_int_equal(vs_strlcpy(buf, "0123456789", sizeof(buf)), 10);
        assert_string_equal(buf, "0123456");
        memset(buf, 'x', sizeof(buf));
        assert_int_equal(vs_strlcpy(buf, "abc", 0), 3);
        assert_int_equal(buf[0], 'x');
        assert_int_equal(vs_strlcpy(buf, "abc", 1), 3);
        assert_int_equal(buf[0], '\0');
}

static void test_strdupf(void **state)
{
        char *s;

        (void)state;
        s = vs_strdupf("%s/%d", "vps", 7);
        assert_string_equal(s, "vps/7");
        free(s);
        s = vs_xstrdup(NULL);
        assert_string_equal(s, "");
        free(s);
}

static int fd_open(int fd)
{
        return fcntl(fd, F_GETFD) >= 0;
}

/* Parked descriptors go above the floor, close on exec, and a child drops
 * them all and only them; one closed with vs_fd_close is no longer parked
 * (its number, reused by another, stays open in the child). */
static void test_fd_park_and_drop(void **state)
{
        struct rlimit lim;
        int a, b, c, low, reused, status;
        pid_t pid;

        (void)state;
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &lim), 0);
        if (lim.rlim_cur < VS_FD_PARK_FLOOR + 16)
                skip();
        a = vs_fd_park(open("/dev/null", O_RDONLY));
        b = vs_fd_park(open("/dev/null", O_RDONLY));
        c = vs_fd_park(open("/dev/null", O_RDONLY));
        low = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(a >= VS_FD_PARK_FLOOR && b >= VS_FD_PARK_FLOOR && c >= VS_FD_PARK_FLOOR);
        assert_true(low < VS_FD_PARK_FLOOR);
        assert_true(fcntl(a, F_GETFD) & FD_CLOEXEC);
        vs_fd_close(b);
        assert_false(fd_open(b));
        reused = fcntl(low, F_DUPFD_CLOEXEC, b);
        assert_int_equal(reused, b);
        pid = fork();
        if (pid == 0) {
                int ok = vs_fd_drop_parked() == 0 && !fd_open(a) && !fd_open(c) && fd_open(low) &&
                         fd_open(reused);

                _exit(ok ? 0 : 1);
        }
        assert_true(pid > 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        /* the parent keeps them */
        assert_true(fd_open(a) && fd_open(c));
        vs_fd_close(a);
        vs_fd_close(c);
        close(low);
        close(reused);
}

/* A child sharing the table (CLONE_FILES) takes its own without the parked
 * descriptors and without any at or above `from`, and the parent's table
 * keeps them all. */
static void test_fd_unshare_dropping_parked(void **state)
{
        struct clone_args args = { .flags = CLONE_FILES, .exit_signal = SIGCHLD };
        struct rlimit lim;
        int a, b, low, high, status;
        pid_t pid;

        (void)state;
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &lim), 0);
        if (lim.rlim_cur < VS_FD_PARK_FLOOR + 64)
                skip();
        a = vs_fd_park(open("/dev/null", O_RDONLY));
        b = vs_fd_park(open("/dev/null", O_RDONLY));
        low = open("/dev/null", O_RDONLY | O_CLOEXEC);
        /* an unparked one above the floor, below the kept bound */
        high = fcntl(low, F_DUPFD_CLOEXEC, b + 1);
        assert_true(high > b);
        pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
        if (pid == 0) {
                int ok = vs_fd_unshare_dropping_parked(high + 1) == 0 && !fd_open(a) &&
                         !fd_open(b) && fd_open(low) && fd_open(high);

                /* its own table now: this closes nothing of the parent's */
                close(low);
                ok = ok && vs_fd_unshare_dropping_parked(VS_FD_PARK_FLOOR) == 0 && !fd_open(high);
                _exit(ok ? 0 : 1);
        }
        assert_true(pid > 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_true(fd_open(a) && fd_open(b) && fd_open(low) && fd_open(high));
        vs_fd_close(a);
        vs_fd_close(b);
        close(low);
        close(high);
}

/* Without room above the floor a descriptor stays where it is. */
static void test_fd_park_without_room(void **state)
{
        struct rlimit lim, small = { 64, 0 };
        int fd, parked;

        (void)state;
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &lim), 0);
        small.rlim_max = lim.rlim_max;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &small), 0);
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        parked = vs_fd_park(fd);
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
        assert_int_equal(parked, fd);
        assert_true(fd_open(fd));
        vs_fd_close(fd);
}

/* The pauses double from 1 ms and never sum past the limit: 1 + 2 + 4 = 7
 * of a 7 ms budget, then a refusal that does not sleep or double. */
static void test_backoff_stays_within_its_limit(void **state)
{
        long pause_ms = 1;
        int tries = 0;

        (void)state;
        while (vs_backoff(&pause_ms, 7) == 0)
                tries++;
        assert_int_equal(tries, 3);
        assert_int_equal(pause_ms, 8);
        assert_int_equal(vs_backoff(&pause_ms, 7), -1);
        assert_int_equal(pause_ms, 8);
        pause_ms = 1;
        assert_int_equal(vs_backoff(&pause_ms, 0), -1);
}

#define TMPDIR_TEST(f) cmocka_unit_test_setup_teardown(f, tmpdir_setup, tmpdir_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                TMPDIR_TEST(test_opendir_at_dot_has_its_own_offset),
                TMPDIR_TEST(test_opendir_at_subdirectory),
                TMPDIR_TEST(test_opendir_at_refuses_what_is_not_a_directory),
                TMPDIR_TEST(test_opendir_at_failure_closes_the_descriptor),
                TMPDIR_TEST(test_write_atomic_creates),
                TMPDIR_TEST(test_write_atomic_replaces),
                TMPDIR_TEST(test_write_atomic_replaces_durable),
                TMPDIR_TEST(test_write_atomic_binary_and_empty),
                TMPDIR_TEST(test_write_atomic_failure_cleans_up),
                TMPDIR_TEST(test_write_atomic_in_subdirectory),
                TMPDIR_TEST(test_read_file),
                TMPDIR_TEST(test_read_file_large),
                TMPDIR_TEST(test_read_file_over_max_refused),
                TMPDIR_TEST(test_read_file_small_max_refused),
                TMPDIR_TEST(test_read_file_exactly_max),
                TMPDIR_TEST(test_read_file_missing),
                TMPDIR_TEST(test_write_string),
                TMPDIR_TEST(test_rmtree_nested_with_symlinks),
                TMPDIR_TEST(test_rmtree_top_is_symlink),
                TMPDIR_TEST(test_rmtree_missing_and_file),
                TMPDIR_TEST(test_rmtree_many_entries),
                TMPDIR_TEST(test_rmtree_deeper_than_the_open_file_limit),
                TMPDIR_TEST(test_mkdir_p),
                TMPDIR_TEST(test_mkdir_p_through_file_refused),
                TMPDIR_TEST(test_mkdir_p_existing_file_refused),
                cmocka_unit_test(test_mkdir_p_empty_refused),
                cmocka_unit_test(test_xgrow),
                cmocka_unit_test(test_strlcpy),
                cmocka_unit_test(test_strdupf),
                cmocka_unit_test(test_fd_park_and_drop),
                cmocka_unit_test(test_fd_unshare_dropping_parked),
                cmocka_unit_test(test_fd_park_without_room),
                cmocka_unit_test(test_backoff_stays_within_its_limit),
        };

        /* the modes asserted above are not masked by 022 */
        umask(022);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
