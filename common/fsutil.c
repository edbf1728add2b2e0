#include "vs/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <linux/close_range.h>
#include <linux/openat2.h>
#include <unistd.h>

#include "vs/cleanup.h"

void *vs_xmalloc(size_t size)
{
        void *p = calloc(1, size ? size : 1);

        if (!p)
                abort();
        return p;
}

void *vs_xgrow(void *array, size_t n, size_t *cap, size_t first, size_t size)
{
        if (n < *cap)
                return array;
        *cap = *cap ? 2 * *cap : first;
        array = realloc(array, *cap * size);
        if (!array)
                abort();
        return array;
}

size_t vs_strlcpy(char *dst, const char *src, size_t size)
{
        size_t len = strlen(src);

        if (size > 0) {
                size_t n = len < size - 1 ? len : size - 1;

                memcpy(dst, src, n);
                dst[n] = '\0';
        }
        return len;
}

char *vs_xstrdup(const char *s)
{
        char *copy = strdup(s ? s : "");

        if (!copy)
                abort();
        return copy;
}

char *vs_strdupf(const char *fmt, ...)
{
        char *out;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&out, fmt, ap) < 0)
                abort();
        va_end(ap);
        return out;
}

int vs_fsync_dir(int dirfd, vs_error_t *err)
{
        cleanup_close int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0 || fsync(fd) < 0)
                return vs_error_errno(err, "fsync directory");
        return 0;
}

DIR *vs_opendir_at(int dirfd, const char *name)
{
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *dir;

        if (fd < 0)
                return NULL;
        dir = fdopendir(fd);
        if (!dir) {
                int saved = errno;

                close(fd);
                errno = saved;
        }
        return dir;
}

static int write_all(int fd, const char *data, size_t len)
{
        while (len > 0) {
                ssize_t n = write(fd, data, len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -1;
                data += n;
                len -= (size_t)n;
        }
        return 0;
}

static int write_atomic_in(int dirfd, const char *name, const char *data, size_t len, mode_t mode,
                           int durable, vs_error_t *err);

int vs_write_atomic(int dirfd, const char *name, const char *data, size_t len, mode_t mode,
                    int durable, vs_error_t *err)
{
        const char *slash = strrchr(name, '/');
        cleanup_free char *parent = NULL;
        cleanup_close int parent_fd = -1;

        if (!slash)
                return write_atomic_in(dirfd, name, data, len, mode, durable, err);
        /* the temp file must sit beside the target for rename to be atomic */
        parent = vs_xstrdup(name);
        parent[slash - name] = '\0';
        parent_fd = openat(dirfd, parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (parent_fd < 0)
                return vs_error_errno(err, "open %s", parent);
        return write_atomic_in(parent_fd, slash + 1, data, len, mode, durable, err);
}

static int write_atomic_in(int dirfd, const char *name, const char *data, size_t len, mode_t mode,
                           int durable, vs_error_t *err)
{
        cleanup_free char *tmp = vs_strdupf(".%s.tmp.%d", name, (int)getpid());
        cleanup_close int fd = -1;

        /* a file of our own, made afresh, never one found at that name: the
         * directory may be a VPS's /etc, whose root can plant a FIFO there
         * (an open for writing would wait on it for good, and vsd with it),
         * a hard link or a symlink; one planted again meanwhile is EEXIST */
        if (unlinkat(dirfd, tmp, 0) < 0 && errno != ENOENT)
                return vs_error_errno(err, "remove %s", tmp);
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return vs_error_errno(err, "create %s", tmp);
        if (write_all(fd, data, len) < 0 || (durable && fsync(fd) < 0)) {
                vs_error_errno(err, "write %s", name);
                unlinkat(dirfd, tmp, 0);
                return -1;
        }
        if (renameat(dirfd, tmp, dirfd, name) < 0) {
                vs_error_errno(err, "rename %s", name);
                unlinkat(dirfd, tmp, 0);
                return -1;
        }
        return durable ? vs_fsync_dir(dirfd, err) : 0;
}

/* True when fd has no byte left: tells a file of exactly `max` bytes from a
 * longer one. */
static int at_eof(int fd)
{
        char probe;
        ssize_t n;

        do
                n = read(fd, &probe, 1);
        while (n < 0 && errno == EINTR);
        return n == 0;
}

int vs_read_file(int dirfd, const char *path, size_t max, char **out, size_t *len, vs_error_t *err)
{
        cleanup_close int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
        cleanup_free char *buf = NULL;
        size_t used = 0, cap = max < 4096 ? max : 4096;

        if (fd < 0)
                return vs_error_errno(err, "open %s", path);
        buf = vs_xmalloc(cap + 1);
        for (;;) {
                ssize_t n;

                if (used == cap) {
                        if (cap == max) {
                                if (!at_eof(fd))
                                        return vs_error_set(err, EFBIG,
                                                            "%s is larger than %zu bytes", path,
                                                            max);
                                break;
                        }
                        cap = cap * 2 > max ? max : cap * 2;
                        buf = realloc(buf, cap + 1);
                        if (!buf)
                                abort();
                }
                n = read(fd, buf + used, cap - used);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return vs_error_errno(err, "read %s", path);
                if (n == 0)
                        break;
                used += (size_t)n;
        }
        buf[used] = '\0';
        if (len)
                *len = used;
        *out = steal_ptr(buf);
        return 0;
}

int vs_write_string(int dirfd, const char *path, const char *text, vs_error_t *err)
{
        cleanup_close int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC);

        if (fd < 0)
                return vs_error_errno(err, "open %s", path);
        if (write_all(fd, text, strlen(text)) < 0)
                return vs_error_errno(err, "write '%s' to %s", text, path);
        return 0;
}

/* A tree is removed depth first with a descriptor (and a directory
 * stream) per level down to RMTREE_OPEN_LEVELS; below that, with two
 * descriptors whatever the depth: a VPS's root can nest directories deeper
 * than vsd's open-file limit, and its destroy must still free the disk. */
#define RMTREE_OPEN_LEVELS 16

static int rmtree_children(int fd, dev_t dev, int depth, vs_error_t *err);
static int rmtree_deep(int parent, const char *name, dev_t dev, vs_error_t *err);

static int rmtree_entry(int parent, const char *name, dev_t dev, int depth, vs_error_t *err)
{
        struct stat st;
        cleanup_close int fd = -1;

        if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : vs_error_errno(err, "stat %s", name);
        if (!S_ISDIR(st.st_mode)) {
                if (unlinkat(parent, name, 0) < 0 && errno != ENOENT)
                        return vs_error_errno(err, "remove %s", name);
                return 0;
        }
        if (st.st_dev != dev)
                return vs_error_set(err, EBUSY, "%s is a mount point, not removing it", name);
        if (depth >= RMTREE_OPEN_LEVELS)
                return rmtree_deep(parent, name, dev, err);
        fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return vs_error_errno(err, "open %s", name);
        if (rmtree_children(fd, dev, depth + 1, err) < 0)
                return vs_error_wrap(err, "%s", name);
        if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return vs_error_errno(err, "remove %s", name);
        return 0;
}

static int rmtree_children(int fd, dev_t dev, int depth, vs_error_t *err)
{
        cleanup_closedir DIR *dir = vs_opendir_at(fd, ".");
        struct dirent *ent;

        if (!dir)
                return vs_error_errno(err, "opendir");
        while ((ent = readdir(dir))) {
                if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
                        continue;
                if (rmtree_entry(fd, ent->d_name, dev, depth, err) < 0)
                        return -1;
        }
        return 0;
}

/* One pass over the directory at fd: its files go; the emptied directory
 * whose inode is `emptied` (0: none) goes; the name of the first other
 * directory is left in `next` ("" when there is none: fd is empty now). */
static int deep_pass(int fd, dev_t dev, ino_t emptied, char *next, size_t size, vs_error_t *err)
{
        cleanup_closedir DIR *dir = vs_opendir_at(fd, ".");
        struct dirent *ent;

        next[0] = '\0';
        if (!dir)
                return vs_error_errno(err, "open a directory");
        while ((ent = readdir(dir))) {
                struct stat st;

                if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
                        continue;
                if (fstatat(fd, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return vs_error_errno(err, "stat %s", ent->d_name);
                if (!S_ISDIR(st.st_mode)) {
                        if (unlinkat(fd, ent->d_name, 0) < 0 && errno != ENOENT)
                                return vs_error_errno(err, "remove %s", ent->d_name);
                } else if (st.st_dev != dev) {
                        return vs_error_set(err, EBUSY, "%s is a mount point, not removing it",
                                            ent->d_name);
                } else if (st.st_ino == emptied) {
                        if (unlinkat(fd, ent->d_name, AT_REMOVEDIR) < 0)
                                return vs_error_errno(err, "remove %s", ent->d_name);
                } else if (!next[0]) {
                        vs_strlcpy(next, ent->d_name, size);
                }
        }
        return 0;
}

/* Whether fd is the directory (dev, ino). */
static int is_dir_at(int fd, dev_t dev, ino_t ino)
{
        struct stat st;

        return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_dev == dev && st.st_ino == ino;
}

/* Depth first without a descriptor per level: down into the first
 * directory, and back up through ".." (checked against the inode it came
 * from: the tree is nobody else's while it goes), where the next pass
 * removes the emptied one. Only the inodes of the way down are kept. */
static int rmtree_deep(int parent, const char *name, dev_t dev, vs_error_t *err)
{
        cleanup_close int fd =
                openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        cleanup_free ino_t *path = NULL;
        size_t depth = 0, cap = 0;
        char next[256];
        ino_t emptied = 0;
        struct stat st;

        if (fd < 0 || fstat(fd, &st) < 0)
                return vs_error_errno(err, "open %s", name);
        path = vs_xgrow(path, depth, &cap, 64, sizeof(*path));
        path[depth++] = st.st_ino;
        for (;;) {
                int to;

                if (deep_pass(fd, dev, emptied, next, sizeof(next), err) < 0)
                        return vs_error_wrap(err, "%s (%zu levels down)", name, depth);
                emptied = 0;
                if (next[0]) {
                        to = openat(fd, next, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (to < 0 || fstat(to, &st) < 0 || st.st_dev != dev) {
                                if (to >= 0)
                                        close(to);
                                return vs_error_errno(err, "open %s (%zu levels down)", name,
                                                      depth);
                        }
                        path = vs_xgrow(path, depth, &cap, 64, sizeof(*path));
                        path[depth++] = st.st_ino;
                } else if (depth == 1) {
                        break;
                } else {
                        to = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (to < 0 || !is_dir_at(to, dev, path[depth - 2])) {
                                if (to >= 0)
                                        close(to);
                                return vs_error_set(err, ESTALE, "%s changed while it was removed",
                                                    name);
                        }
                        emptied = path[--depth];
                }
                close(fd);
                fd = to;
        }
        if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return vs_error_errno(err, "remove %s", name);
        return 0;
}

int vs_rmtree_at(int dirfd, const char *name, vs_error_t *err)
{
        struct stat st;

        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : vs_error_errno(err, "stat %s", name);
        return rmtree_entry(dirfd, name, st.st_dev, 0, err);
}

/* Makes one component; `full` names the whole path in messages. */
static int mkdir_one(const char *path, const char *full, mode_t mode, vs_error_t *err)
{
        struct stat st;

        if (mkdir(path, mode) == 0)
                return 0;
        if (errno != EEXIST)
                return vs_error_errno(err, "mkdir %s", full);
        if (stat(path, &st) < 0)
                return vs_error_errno(err, "mkdir %s: stat %s", full, path);
        if (!S_ISDIR(st.st_mode))
                return vs_error_set(err, ENOTDIR, "mkdir %s: %s exists and is not a directory",
                                    full, path);
        return 0;
}

int vs_mkdir_p(const char *path, mode_t mode, vs_error_t *err)
{
        cleanup_free char *copy = NULL;

        if (!path || !*path)
                return vs_error_set(err, ENOENT, "mkdir: empty path");
        copy = vs_xstrdup(path);
        for (char *p = copy + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir_one(copy, path, mode, err) < 0)
                        return -1;
                *p = '/';
        }
        return mkdir_one(copy, path, mode, err);
}

/* Why the link at `path` leads nowhere: its target, for the message. */
static int dangling_link(int rootfd, const char *path, int open_errno, vs_error_t *err)
{
        char target[PATH_MAX];
        ssize_t len = readlinkat(rootfd, path, target, sizeof(target) - 1);

        if (len < 0)
                len = 0;
        target[len] = '\0';
        if (open_errno == ELOOP)
                return vs_error_kind(err, VS_E_USAGE, ELOOP, "/%s is a loop of links", path);
        return vs_error_kind(err, VS_E_USAGE, ENOENT, "/%s is a dangling link (to %s)", path,
                             target);
}

int vs_fd_reopen(int path_fd)
{
        char by_fd[64];

        snprintf(by_fd, sizeof(by_fd), "/proc/self/fd/%d", path_fd);
        return open(by_fd, O_RDONLY | O_NOCTTY | O_CLOEXEC);
}

int vs_program_at(int rootfd, const char *path, vs_error_t *err)
{
        struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
        cleanup_close int fd = -1;
        struct stat st;

        if (fstatat(rootfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 1 : vs_error_errno(err, "/%s", path);
        fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
        if (fd < 0) {
                if (S_ISLNK(st.st_mode) && (errno == ENOENT || errno == ELOOP))
                        return dangling_link(rootfd, path, errno, err);
                return vs_error_kind(err, VS_E_USAGE, errno, "/%s cannot be opened: %s", path,
                                     strerror(errno));
        }
        if (fstat(fd, &st) < 0)
                return vs_error_errno(err, "/%s", path);
        if (S_ISDIR(st.st_mode))
                return vs_error_kind(err, VS_E_USAGE, EISDIR, "/%s is a directory", path);
        if (!S_ISREG(st.st_mode))
                return vs_error_kind(err, VS_E_USAGE, EACCES, "/%s is not a regular file", path);
        if (!(st.st_mode & 0111))
                return vs_error_kind(err, VS_E_USAGE, EACCES, "/%s is not executable (mode %04o)",
                                     path, (unsigned)(st.st_mode & 07777));
        return 0;
}

/* ---- parked descriptors ---- */

/* bit n - VS_FD_PARK_FLOOR: descriptor n is parked */
static unsigned char *parked;
static size_t parked_bytes;

static int is_parked(int fd)
{
        size_t bit = (size_t)(fd - VS_FD_PARK_FLOOR);

        return fd >= VS_FD_PARK_FLOOR && bit / 8 < parked_bytes &&
               (parked[bit / 8] >> (bit % 8)) & 1;
}

static void mark_parked(int fd, int on)
{
        size_t bit = (size_t)(fd - VS_FD_PARK_FLOOR);

        if (bit / 8 >= parked_bytes) {
                size_t bytes = bit / 8 + 1 > 2 * parked_bytes ? bit / 8 + 1 : 2 * parked_bytes;

                parked = realloc(parked, bytes);
                if (!parked)
                        abort();
                memset(parked + parked_bytes, 0, bytes - parked_bytes);
                parked_bytes = bytes;
        }
        if (on)
                parked[bit / 8] |= (unsigned char)(1u << (bit % 8));
        else
                parked[bit / 8] &= (unsigned char)~(1u << (bit % 8));
}

int vs_fd_park(int fd)
{
        int high;

        if (fd < 0)
                return fd;
        if (fd >= VS_FD_PARK_FLOOR) {
                mark_parked(fd, 1);
                return fd;
        }
        high = fcntl(fd, F_DUPFD_CLOEXEC, VS_FD_PARK_FLOOR);
        if (high < 0)
                return fd; /* no room (EMFILE, or a limit below the floor) */
        close(fd);
        mark_parked(high, 1);
        return high;
}

void vs_fd_close(int fd)
{
        if (fd < 0)
                return;
        if (is_parked(fd))
                mark_parked(fd, 0);
        close(fd);
}

/* Closes the parked descriptors below `below` (all: INT_MAX) and forgets
 * every one. */
static int close_parked_below(int below)
{
        size_t bits = parked_bytes * 8;

        if (below <= VS_FD_PARK_FLOOR)
                bits = 0;
        else if ((size_t)(below - VS_FD_PARK_FLOOR) < bits)
                bits = (size_t)(below - VS_FD_PARK_FLOOR);
        for (size_t first = 0; first < bits;) {
                size_t last = first;

                if (!is_parked((int)(first + VS_FD_PARK_FLOOR))) {
                        first++;
                        continue;
                }
                while (last + 1 < bits && is_parked((int)(last + 1 + VS_FD_PARK_FLOOR)))
                        last++;
                if (syscall(SYS_close_range, (unsigned)(first + VS_FD_PARK_FLOOR),
                            (unsigned)(last + VS_FD_PARK_FLOOR), 0) < 0)
                        return -1;
                first = last + 1;
        }
        free(parked);
        parked = NULL;
        parked_bytes = 0;
        return 0;
}

int vs_fd_drop_parked(void)
{
        return close_parked_below(INT_MAX);
}

int vs_fd_unshare_dropping_parked(int from)
{
        if (from < VS_FD_PARK_FLOOR)
                from = VS_FD_PARK_FLOOR;
        /* the kernel copies only the descriptors below `from` when the
         * range reaches the end of the table */
        if (syscall(SYS_close_range, (unsigned)from, ~0U, CLOSE_RANGE_UNSHARE) < 0)
                return -1;
        return close_parked_below(from);
}

int vs_helper_setup(pid_t parent, const char *comm, int *fds, int n)
{
        sigset_t none;

        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                return -1; /* the parent died before the death signal was set */
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        prctl(PR_SET_NAME, comm);
        /* copied out of the way first, so that no dup3 below clobbers a source */
        for (int i = 0; i < n; i++)
                if ((fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 1000)) < 0)
                        return -1;
        for (int i = 0; i < n; i++) {
                if (dup3(fds[i], 3 + i, O_CLOEXEC) < 0)
                        return -1;
                fds[i] = 3 + i;
        }
        return syscall(SYS_close_range, (unsigned)(3 + n), ~0U, 0) < 0 ? -1 : 0;
}

int vs_backoff(long *pause_ms, long limit_ms)
{
        /* the pauses so far sum to *pause_ms - 1 */
        struct timespec pause = { *pause_ms / 1000, (*pause_ms % 1000) * 1000000 };

        if (2 * *pause_ms - 1 > limit_ms)
                return -1;
        nanosleep(&pause, NULL);
        *pause_ms *= 2;
        return 0;
}

int64_t vs_monotonic_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
