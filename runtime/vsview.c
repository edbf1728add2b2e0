/* vsview: serves the view of every VPS (its /proc/meminfo, cpuinfo, stat,
 * uptime, loadavg, swaps, diskstats, user_beancounters and cpu online) over
 * one FUSE connection that vsd mounted. It speaks the kernel's FUSE
 * protocol itself (linux/fuse.h): a connection that another server already
 * initialized is taken over as it is, which libfuse's session cannot do.
 *
 * No single point of failure: vsd and vsview both hold the /dev/fuse
 * descriptor, so the connection outlives either. A new vsview first asks
 * the kernel to queue again what the dead one had read (FUSE_NOTIFY_RESEND);
 * a new vsd gets the descriptor back from vsview's socket. Nothing here
 * depends on per-server state: a node id names a VPS by its cgroup's inode
 * and a file by its index, and a handle of a dead server is re-rendered.
 *
 * A VPS is known by the directory it reads in (the node id), never by the
 * reader's pid: one VPS cannot see another's figures. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/fdpass.h"
#include "vs/fsutil.h"
#include "vs/kvfile.h"
#include "vs/log.h"
#include "vs/parse.h"
#include "vs/procview.h"
#include "vsview.h"

#ifndef FUSE_NOTIFY_RESEND
#define FUSE_NOTIFY_RESEND 7 /* linux 6.9 */
#endif

#define REQ_BUF (FUSE_MIN_READ_BUFFER + 128 * 1024)
#define ATTR_TTL 3600
#define SAMPLE_SECONDS 5
#define MAX_HANDLES (1U << 20)

/* A VPS's file as last rendered: reads within CACHE_NS of it share it
 * (a loop of reads costs no cgroup reads), and an open whose text is the
 * one the page cache holds already stores nothing. Texts up to CACHE_MAX
 * only: the view's memory per VPS stays small. */
#define CACHE_NS 5000000ULL
#define CACHE_MAX 4096
struct cached {
        char *text;
        size_t len;
        uint64_t at_ns;
        int stored; /* the page cache holds it (it was stored at an open) */
};

struct entry {
        pthread_mutex_t cache_lock;
        struct cached cache[VS_VIEW_NFILES];
        char name[VS_NAME_MAX + 1];
        uint64_t base; /* node id >> 4: its memory cgroup's inode */
        ino_t reg_ino; /* of its registry file: vsd replaces it at each start */
        /* its cgroup directories by path (NULL: none), in the order of
         * src_dirs: opened for a render and closed after it, so that this
         * process holds no descriptor per VPS (at five a VPS, vsd's limit
         * of open files ran out in here first) */
        char *dir[5];
        vs_view_src_t src; /* its descriptors are -1 here */
};

static const char *const dir_keys[5] = { "memory", "cpuacct", "cpu", "cpuset", "pids" };

static int *src_dirs(vs_view_src_t *src, int i)
{
        int *fds[5] = { &src->memory, &src->cpuacct, &src->cpu, &src->cpuset, &src->pids };

        return fds[i];
}

/* Closes the directories of a src that entry_open filled. */
static void src_close(vs_view_src_t *src)
{
        for (int i = 0; i < 5; i++) {
                int dup_of_earlier = 0;

                for (int k = 0; k < i; k++)
                        if (*src_dirs(src, k) == *src_dirs(src, i))
                                dup_of_earlier = 1;
                if (*src_dirs(src, i) >= 0 && !dup_of_earlier)
                        close(*src_dirs(src, i));
                *src_dirs(src, i) = -1;
        }
}

/* The entry's src with its directories open; -ENOENT when its memory
 * cgroup is gone or is another run's (a new cgroup at the same path). */
static int entry_open(const struct entry *e, vs_view_src_t *src)
{
        struct stat st;

        *src = e->src;
        src->memory = e->dir[0] ? open(e->dir[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        if (src->memory < 0 || fstat(src->memory, &st) < 0 || (uint64_t)st.st_ino != e->base) {
                if (src->memory >= 0)
                        close(src->memory);
                src->memory = -1;
                return -ENOENT;
        }
        for (int i = 1; i < 5; i++)
                *src_dirs(src, i) = src->v2 ? src->memory
                                    : e->dir[i]
                                            ? open(e->dir[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                                            : -1;
        return 0;
}

static struct {
        int fuse_fd;
        int inflight_fd; /* vsnotify's table of requests being answered */
        int run_fd, reg_fd;
        pthread_rwlock_t lock; /* entries and host */
        struct entry **entries;
        size_t nentries, cap;
        vs_view_host_t host;
        uint32_t gen; /* this server's part of a file handle */
} S = { .fuse_fd = -1,
        .inflight_fd = -1,
        .run_fd = -1,
        .reg_fd = -1,
        .lock = PTHREAD_RWLOCK_INITIALIZER };

/* ---- the VPS table, from vsd's registry (run/paene/view.d/NAME) ---- */

static void entry_free(struct entry *e)
{
        for (int f = 0; f < VS_VIEW_NFILES; f++)
                free(e->cache[f].text);
        pthread_mutex_destroy(&e->cache_lock);
        for (int i = 0; i < 5; i++)
                free(e->dir[i]);
        free(e);
}

static struct entry *entry_load(const char *name)
{
        cleanup_kv vs_kv_t kv = { 0 };
        struct entry *e;
        struct stat st;

        if (vs_parse_name(name, "VPS name", NULL) < 0 || vs_kv_load(S.reg_fd, name, &kv, NULL) < 0)
                return NULL;
        e = vs_xmalloc(sizeof(*e));
        memset(e, 0, sizeof(*e));
        pthread_mutex_init(&e->cache_lock, NULL);
        vs_strlcpy(e->name, name, sizeof(e->name));
        e->src.v2 = vs_kv_get(&kv, "v2") && strcmp(vs_kv_get(&kv, "v2"), "1") == 0;
        for (int i = 0; i < 5; i++) {
                const char *path = vs_kv_get(&kv, dir_keys[i]);

                e->dir[i] = path && *path && (i == 0 || !e->src.v2) ? vs_xstrdup(path) : NULL;
                *src_dirs(&e->src, i) = -1;
        }
        e->src.started_ns = strtoull(vs_kv_get(&kv, "started_ns") ?: "0", NULL, 10);
        e->src.ctid = strtoul(vs_kv_get(&kv, "ctid") ?: "0", NULL, 10);
        e->src.numfile = strtoul(vs_kv_get(&kv, "numfile") ?: "0", NULL, 10);
        e->src.diskspace = strtoull(vs_kv_get(&kv, "diskspace") ?: "0", NULL, 10);
        e->src.init_pid = atoi(vs_kv_get(&kv, "init_pid") ?: "0");
        e->src.count_files = 1;
        if (!e->dir[0] || stat(e->dir[0], &st) < 0 || !S_ISDIR(st.st_mode) || st.st_ino == 0) {
                entry_free(e);
                return NULL;
        }
        e->base = (uint64_t)st.st_ino;
        if (fstatat(S.reg_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                e->reg_ino = st.st_ino;
        return e;
}

/* Index of the entry, or -1. Callers hold the lock. */
static ssize_t find_base(uint64_t base)
{
        for (size_t i = 0; i < S.nentries; i++)
                if (S.entries[i]->base == base)
                        return (ssize_t)i;
        return -1;
}

static ssize_t find_name(const char *name)
{
        for (size_t i = 0; i < S.nentries; i++)
                if (strcmp(S.entries[i]->name, name) == 0)
                        return (ssize_t)i;
        return -1;
}

static void remove_at(size_t i)
{
        entry_free(S.entries[i]);
        S.entries[i] = S.entries[--S.nentries];
}

/* The registry's entry for name replaces what the table had under it (a
 * restarted VPS has a new cgroup). Write lock held. */
static void refresh_name(const char *name)
{
        struct entry *fresh = entry_load(name);
        ssize_t old = find_name(name);

        if (old >= 0 && fresh && S.entries[old]->base == fresh->base) {
                /* the same run, registered again once its init exists */
                S.entries[old]->src.numfile = fresh->src.numfile;
                S.entries[old]->src.diskspace = fresh->src.diskspace;
                S.entries[old]->src.init_pid = fresh->src.init_pid;
                S.entries[old]->reg_ino = fresh->reg_ino;
                entry_free(fresh);
                return;
        }
        if (old >= 0)
                remove_at((size_t)old);
        if (!fresh)
                return;
        S.entries = vs_xgrow(S.entries, S.nentries, &S.cap, 64, sizeof(*S.entries));
        S.entries[S.nentries++] = fresh;
}

/* Re-reads the whole registry: new VPS in, gone ones out. Write lock held. */
static void rescan(void)
{
        cleanup_closedir DIR *dir = NULL;
        int fd = dup(S.reg_fd);
        struct dirent *d;

        if (fd < 0 || !(dir = fdopendir(fd))) {
                if (fd >= 0)
                        close(fd);
                return;
        }
        for (size_t i = 0; i < S.nentries;)
                if (faccessat(S.reg_fd, S.entries[i]->name, F_OK, 0) < 0)
                        remove_at(i);
                else
                        i++;
        while ((d = readdir(dir))) {
                ssize_t known = find_name(d->d_name);

                /* the same registry file: the same VPS run, nothing to open */
                if (d->d_name[0] == '.' || (known >= 0 && S.entries[known]->reg_ino == d->d_ino))
                        continue;
                refresh_name(d->d_name);
        }
}

/* Read-locks the table and finds base, rescanning once when it is new to
 * this server (a node id the kernel learnt from an earlier one). Returns
 * with the read lock held, also when not found (-1). */
static ssize_t lock_base(uint64_t base)
{
        ssize_t i;

        pthread_rwlock_rdlock(&S.lock);
        i = find_base(base);
        if (i >= 0)
                return i;
        pthread_rwlock_unlock(&S.lock);
        pthread_rwlock_wrlock(&S.lock);
        if (find_base(base) < 0)
                rescan();
        pthread_rwlock_unlock(&S.lock);
        pthread_rwlock_rdlock(&S.lock);
        return find_base(base);
}

int vsview_with_vps(const char *name,
                    int (*fn)(vs_view_src_t *src, const vs_view_host_t *host, void *arg), void *arg)
{
        ssize_t i;
        int rc = -ENOENT;

        pthread_rwlock_rdlock(&S.lock);
        i = find_name(name);
        if (i < 0) {
                /* a VPS that started since the last scan */
                pthread_rwlock_unlock(&S.lock);
                pthread_rwlock_wrlock(&S.lock);
                refresh_name(name);
                pthread_rwlock_unlock(&S.lock);
                pthread_rwlock_rdlock(&S.lock);
                i = find_name(name);
        }
        if (i >= 0) {
                vs_view_src_t src;

                rc = entry_open(S.entries[i], &src);
                if (rc == 0)
                        rc = fn(&src, &S.host, arg);
                src_close(&src);
        }
        pthread_rwlock_unlock(&S.lock);
        return rc;
}

/* ---- file handles: the text rendered at the first read ---- */

struct handle {
        int used, valid;
        int served; /* its first read at 0 took the text of the open */
        vs_view_buf_t text;
};

static struct {
        pthread_mutex_t lock;
        struct handle *slots;
        size_t n, cap;
        size_t free_hint;
} H = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int handle_new(uint64_t *fh)
{
        size_t i;

        pthread_mutex_lock(&H.lock);
        for (i = H.free_hint; i < H.n && H.slots[i].used; i++)
                ;
        if (i == H.n) {
                if (H.n >= MAX_HANDLES) {
                        pthread_mutex_unlock(&H.lock);
                        return -ENFILE;
                }
                H.slots = vs_xgrow(H.slots, H.n, &H.cap, 64, sizeof(*H.slots));
                memset(&H.slots[H.n], 0, sizeof(H.slots[0]));
                H.n++;
        }
        H.slots[i].used = 1;
        H.slots[i].valid = 0;
        H.slots[i].served = 0;
        H.free_hint = i + 1;
        pthread_mutex_unlock(&H.lock);
        *fh = ((uint64_t)S.gen << 32) | i;
        return 0;
}

/* The slot of fh, or -1 for a handle an earlier server gave out. */
static ssize_t handle_slot(uint64_t fh)
{
        size_t i = (size_t)(fh & 0xffffffffU);

        if ((uint32_t)(fh >> 32) != S.gen || i >= H.n || !H.slots[i].used)
                return -1;
        return (ssize_t)i;
}

static void handle_release(uint64_t fh)
{
        ssize_t i;

        pthread_mutex_lock(&H.lock);
        i = handle_slot(fh);
        if (i >= 0) {
                vs_view_buf_free(&H.slots[i].text);
                H.slots[i].used = 0;
                if ((size_t)i < H.free_hint)
                        H.free_hint = (size_t)i;
        }
        pthread_mutex_unlock(&H.lock);
}

/* ---- replies ---- */

static void reply(uint64_t unique, int error, const void *data, size_t len)
{
        struct fuse_out_header out = {
                .len = (uint32_t)(sizeof(out) + (error ? 0 : len)),
                .error = error,
                .unique = unique,
        };
        struct iovec iov[2] = { { &out, sizeof(out) }, { (void *)data, len } };

        /* ENOENT: the request was interrupted and is gone */
        if (writev(S.fuse_fd, iov, error || !len ? 1 : 2) < 0 && errno != ENOENT)
                vs_log(LOG_WARNING, "reply: %m");
}

static void fill_attr(struct fuse_attr *a, uint64_t ino, int dir)
{
        memset(a, 0, sizeof(*a));
        a->ino = ino;
        a->mode = dir ? S_IFDIR | 0555 : S_IFREG | 0444;
        a->nlink = dir ? 2 : 1;
        a->blksize = 4096;
        /* never below a text's length: a page-cache read (splice) stops at
         * the size, and a short read trims it */
        a->size = dir ? 0 : 1U << 20;
}

enum kind { K_ROOT, K_DIR, K_FILE, K_NONE };

/* What a node id names: the root, a VPS's directory or one of its files
 * (*file). Read lock held on return unless K_ROOT or K_NONE. */
static enum kind classify(uint64_t nodeid, int *file)
{
        uint64_t low = nodeid & 15;

        if (nodeid == FUSE_ROOT_ID)
                return K_ROOT;
        if (low > VS_VIEW_NFILES || lock_base(nodeid >> 4) < 0) {
                if (low <= VS_VIEW_NFILES)
                        pthread_rwlock_unlock(&S.lock);
                return K_NONE;
        }
        *file = (int)low - 1;
        return low ? K_FILE : K_DIR;
}

static void do_getattr(const struct fuse_in_header *in)
{
        struct fuse_attr_out out = { .attr_valid = ATTR_TTL };
        int file;
        enum kind k = classify(in->nodeid, &file);

        if (k == K_NONE)
                return reply(in->unique, -ENOENT, NULL, 0);
        if (k != K_ROOT)
                pthread_rwlock_unlock(&S.lock);
        fill_attr(&out.attr, in->nodeid, k != K_FILE);
        reply(in->unique, 0, &out, sizeof(out));
}

static void do_lookup(const struct fuse_in_header *in, const char *name)
{
        struct fuse_entry_out out = { .attr_valid = ATTR_TTL };
        int file;
        enum kind k = classify(in->nodeid, &file);

        if (k == K_ROOT) {
                ssize_t i;

                /* a VPS's name is looked up again each time: a restart
                 * gives it a new cgroup */
                pthread_rwlock_wrlock(&S.lock);
                refresh_name(name);
                i = find_name(name);
                out.nodeid = i >= 0 ? S.entries[i]->base << 4 : 0;
                pthread_rwlock_unlock(&S.lock);
                if (!out.nodeid)
                        return reply(in->unique, -ENOENT, NULL, 0);
                fill_attr(&out.attr, out.nodeid, 1);
                return reply(in->unique, 0, &out, sizeof(out));
        }
        if (k == K_NONE)
                return reply(in->unique, -ENOENT, NULL, 0);
        pthread_rwlock_unlock(&S.lock);
        file = vs_view_file_find(name);
        if (k != K_DIR || file < 0)
                return reply(in->unique, -ENOENT, NULL, 0);
        out.nodeid = in->nodeid | (uint64_t)(file + 1);
        out.entry_valid = ATTR_TTL;
        fill_attr(&out.attr, out.nodeid, 0);
        reply(in->unique, 0, &out, sizeof(out));
}

static int snapshot(uint64_t nodeid, uint64_t fh);

static void do_open(const struct fuse_in_header *in, const struct fuse_open_in *arg)
{
        struct fuse_open_out out = { .open_flags = FOPEN_DIRECT_IO | FOPEN_NOFLUSH };
        int file, rc;
        enum kind k = classify(in->nodeid, &file);

        if (k == K_NONE)
                return reply(in->unique, -ENOENT, NULL, 0);
        if (k != K_ROOT)
                pthread_rwlock_unlock(&S.lock);
        if (k != K_FILE)
                return reply(in->unique, 0, &out, sizeof(out)); /* a directory */
        if ((arg->flags & O_ACCMODE) != O_RDONLY)
                return reply(in->unique, -EACCES, NULL, 0);
        rc = handle_new(&out.fh);
        if (rc == 0)
                rc = snapshot(in->nodeid, out.fh);
        if (rc < 0)
                handle_release(out.fh);
        reply(in->unique, rc, &out, sizeof(out));
}

static uint64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void buf_set(vs_view_buf_t *buf, const char *text, size_t len)
{
        vs_view_buf_free(buf);
        buf->data = vs_xmalloc(len + 1);
        memcpy(buf->data, text, len);
        buf->data[len] = '\0';
        buf->len = len;
        buf->cap = len + 1;
}

/* The file's text into buf, from the cache when it is fresh; for_open:
 * *must_store tells whether the page cache must get it (and counts it as
 * stored). -errno when the VPS's cgroup is gone. Entry's lock held. */
static int cached_render(struct entry *e, int file, vs_view_buf_t *buf, int for_open,
                         int *must_store)
{
        struct cached *c = &e->cache[file];
        uint64_t now = now_ns();
        int rc = 0;

        *must_store = 1;
        pthread_mutex_lock(&e->cache_lock);
        if (c->text && now - c->at_ns < CACHE_NS) {
                buf_set(buf, c->text, c->len);
        } else {
                vs_view_src_t src;

                rc = entry_open(e, &src);
                if (rc == 0)
                        rc = vs_view_render(&src, &S.host, (enum vs_view_file)file, buf);
                src_close(&src);
                if (rc == 0 && buf->len <= CACHE_MAX) {
                        int same = c->text && c->len == buf->len &&
                                   memcmp(c->text, buf->data, buf->len) == 0;

                        if (!same) {
                                free(c->text);
                                c->text = vs_xmalloc(buf->len ? buf->len : 1);
                                memcpy(c->text, buf->data, buf->len);
                                c->len = buf->len;
                                c->stored = 0;
                        }
                        c->at_ns = now;
                }
        }
        if (rc == 0 && c->text && c->len == buf->len && memcmp(c->text, buf->data, c->len) == 0) {
                *must_store = !c->stored;
                if (for_open)
                        c->stored = 1;
        }
        pthread_mutex_unlock(&e->cache_lock);
        return rc;
}

/* Renders the file into buf; -errno when the VPS's cgroup is gone.
 * for_open and must_store as cached_render's (must_store may be NULL). */
static int render_for(uint64_t nodeid, vs_view_buf_t *buf, int for_open, int *must_store)
{
        int file, rc, store_it;
        ssize_t i;

        if (classify(nodeid, &file) != K_FILE)
                return -ENOENT;
        i = find_base(nodeid >> 4);
        rc = cached_render(S.entries[i], file, buf, for_open, &store_it);
        pthread_rwlock_unlock(&S.lock);
        if (must_store)
                *must_store = store_it;
        return rc;
}

static int render(uint64_t nodeid, vs_view_buf_t *buf)
{
        return render_for(nodeid, buf, 0, NULL);
}

/* sendfile and splice read a direct-I/O FUSE file through the page cache
 * up to its size (kernels before "fuse: use copy_splice_read for
 * FOPEN_DIRECT_IO"): busybox's cat would read nothing of a file of size 0,
 * and the cache keeps what an earlier open's splice read. At each open the
 * cached pages go (FUSE_NOTIFY_INVAL_INODE) and the text of the open is
 * stored in their place (FUSE_NOTIFY_STORE, which also grows the size to
 * it: a store without data changes no size on 6.18). A size above the
 * text's is trimmed by the short read of its last page. */
static void store(uint64_t nodeid, const vs_view_buf_t *text)
{
        struct fuse_out_header inval_out = {
                .len = (uint32_t)(sizeof(inval_out) + sizeof(struct fuse_notify_inval_inode_out)),
                .error = FUSE_NOTIFY_INVAL_INODE,
        };
        struct fuse_notify_inval_inode_out inval = { .ino = nodeid, .off = 0, .len = 0 };
        struct iovec inval_iov[2] = { { &inval_out, sizeof(inval_out) },
                                      { &inval, sizeof(inval) } };
        struct fuse_out_header out = {
                .len = (uint32_t)(sizeof(out) + sizeof(struct fuse_notify_store_out) + text->len),
                .error = FUSE_NOTIFY_STORE,
        };
        struct fuse_notify_store_out st = { .nodeid = nodeid,
                                            .offset = 0,
                                            .size = (uint32_t)text->len };
        struct iovec iov[3] = { { &out, sizeof(out) },
                                { &st, sizeof(st) },
                                { text->data, text->len } };

        if (writev(S.fuse_fd, inval_iov, 2) < 0 && errno != ENOENT)
                vs_log(LOG_WARNING, "FUSE_NOTIFY_INVAL_INODE: %m");
        if (text->len && writev(S.fuse_fd, iov, 3) < 0 && errno != ENOENT)
                vs_log(LOG_WARNING, "FUSE_NOTIFY_STORE: %m");
}

static int snapshot(uint64_t nodeid, uint64_t fh)
{
        vs_view_buf_t fresh = { 0 };
        int must_store = 1;
        int rc = render_for(nodeid, &fresh, 1, &must_store);
        ssize_t slot;

        if (rc < 0) {
                vs_view_buf_free(&fresh);
                return rc;
        }
        if (must_store)
                store(nodeid, &fresh);
        pthread_mutex_lock(&H.lock);
        slot = handle_slot(fh);
        if (slot >= 0) {
                vs_view_buf_free(&H.slots[slot].text);
                H.slots[slot].text = fresh;
                H.slots[slot].valid = 1;
                fresh = (vs_view_buf_t){ 0 };
        }
        pthread_mutex_unlock(&H.lock);
        vs_view_buf_free(&fresh);
        return 0;
}

static void send_slice(uint64_t unique, const vs_view_buf_t *text, uint64_t offset, uint32_t size)
{
        size_t len = 0;

        if (offset < text->len)
                len = text->len - offset < size ? text->len - (size_t)offset : size;
        reply(unique, 0, text->data ? text->data + offset : "", len);
}

static void do_read(const struct fuse_in_header *in, const struct fuse_read_in *arg)
{
        vs_view_buf_t fresh = { 0 };
        ssize_t slot;
        int rc;

        /* the first read and the later ones of the same open file read the
         * snapshot of its open; a read at 0 again (top's lseek and read)
         * gets new figures */
        pthread_mutex_lock(&H.lock);
        slot = handle_slot(arg->fh);
        if (slot >= 0 && H.slots[slot].valid && (arg->offset > 0 || !H.slots[slot].served)) {
                H.slots[slot].served = 1;
                send_slice(in->unique, &H.slots[slot].text, arg->offset, arg->size);
                pthread_mutex_unlock(&H.lock);
                return;
        }
        pthread_mutex_unlock(&H.lock);
        rc = render(in->nodeid, &fresh);
        if (rc < 0) {
                vs_view_buf_free(&fresh);
                return reply(in->unique, rc, NULL, 0);
        }
        send_slice(in->unique, &fresh, arg->offset, arg->size);
        pthread_mutex_lock(&H.lock);
        slot = handle_slot(arg->fh);
        if (slot >= 0) {
                vs_view_buf_free(&H.slots[slot].text);
                H.slots[slot].text = fresh;
                H.slots[slot].valid = 1;
                H.slots[slot].served = 1;
                fresh = (vs_view_buf_t){ 0 };
        }
        pthread_mutex_unlock(&H.lock);
        vs_view_buf_free(&fresh);
}

static void add_dirent(char *buf, size_t *len, size_t size, uint64_t ino, uint64_t off,
                       const char *name, int type)
{
        size_t namelen = strlen(name);
        size_t entlen = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + namelen);
        struct fuse_dirent *d = (struct fuse_dirent *)(buf + *len);

        if (*len + entlen > size)
                return;
        memset(d, 0, entlen);
        d->ino = ino;
        d->off = off;
        d->namelen = (uint32_t)namelen;
        d->type = (uint32_t)type;
        memcpy(d->name, name, namelen);
        *len += entlen;
}

/* One reply of entries from index offset on: ".", "..", then the VPS
 * (root) or the files (a VPS's directory). */
static void do_readdir(const struct fuse_in_header *in, const struct fuse_read_in *arg)
{
        char buf[16384];
        size_t len = 0, size = arg->size < sizeof(buf) ? arg->size : sizeof(buf);
        int file;
        enum kind k = classify(in->nodeid, &file);
        uint64_t idx = 0;

        if (k == K_NONE || k == K_FILE) {
                if (k == K_FILE)
                        pthread_rwlock_unlock(&S.lock);
                return reply(in->unique, k == K_FILE ? -ENOTDIR : -ENOENT, NULL, 0);
        }
        if (k == K_ROOT)
                pthread_rwlock_rdlock(&S.lock);
        if (arg->offset <= idx++)
                add_dirent(buf, &len, size, in->nodeid, idx, ".", DT_DIR);
        if (arg->offset <= idx++)
                add_dirent(buf, &len, size, FUSE_ROOT_ID, idx, "..", DT_DIR);
        if (k == K_ROOT) {
                for (size_t i = 0; i < S.nentries; i++, idx++)
                        if (arg->offset <= idx)
                                add_dirent(buf, &len, size, S.entries[i]->base << 4, idx + 1,
                                           S.entries[i]->name, DT_DIR);
        } else {
                for (int f = 0; f < VS_VIEW_NFILES; f++, idx++)
                        if (arg->offset <= idx)
                                add_dirent(buf, &len, size, in->nodeid | (uint64_t)(f + 1), idx + 1,
                                           vs_view_file_name((enum vs_view_file)f), DT_REG);
        }
        pthread_rwlock_unlock(&S.lock);
        reply(in->unique, 0, buf, len);
}

static void do_init(const struct fuse_in_header *in, const struct fuse_init_in *arg)
{
        struct fuse_init_out out = {
                .major = FUSE_KERNEL_VERSION,
                .minor = FUSE_KERNEL_MINOR_VERSION,
                .max_readahead = arg->max_readahead,
                .max_background = 64,
                .congestion_threshold = 48,
                .max_write = 4096,
                .time_gran = 1,
        };

        if (arg->major != FUSE_KERNEL_VERSION) {
                vs_log(LOG_ERR, "kernel speaks FUSE %u, not %u", arg->major, FUSE_KERNEL_VERSION);
                return reply(in->unique, -EPROTO, NULL, 0);
        }
        reply(in->unique, 0, &out, sizeof(out));
}

static void dispatch(const char *buf, size_t n)
{
        const struct fuse_in_header *in = (const void *)buf;
        const void *arg = buf + sizeof(*in);
        struct fuse_statfs_out st = { .st = { .bsize = 4096, .namelen = 255, .frsize = 4096 } };
        struct fuse_open_out dir_out = { 0 };

        if (n < sizeof(*in) || in->len != n)
                return;
        switch (in->opcode) {
        case FUSE_INIT:
                return do_init(in, arg);
        case FUSE_LOOKUP:
                return do_lookup(in, arg);
        case FUSE_GETATTR:
                return do_getattr(in);
        case FUSE_OPEN:
                return do_open(in, arg);
        case FUSE_READ:
                return do_read(in, arg);
        case FUSE_RELEASE:
                handle_release(((const struct fuse_release_in *)arg)->fh);
                return reply(in->unique, 0, NULL, 0);
        case FUSE_FLUSH:
        case FUSE_RELEASEDIR:
        case FUSE_DESTROY:
                return reply(in->unique, 0, NULL, 0);
        case FUSE_OPENDIR:
                return reply(in->unique, 0, &dir_out, sizeof(dir_out));
        case FUSE_READDIR:
                return do_readdir(in, arg);
        case FUSE_STATFS:
                return reply(in->unique, 0, &st, sizeof(st));
        case FUSE_FORGET:
        case FUSE_BATCH_FORGET:
        case FUSE_INTERRUPT:
                return; /* no reply: node ids are not counted, replies are quick */
        default:
                return reply(in->unique, -ENOSYS, NULL, 0);
        }
}

static void *worker(void *arg)
{
        char *buf = vs_xmalloc(REQ_BUF);

        (void)arg;
        /* touched now: a copy into it never faults while the kernel hands
         * over a request */
        memset(buf, 0, REQ_BUF);
        for (;;) {
                ssize_t n = read(S.fuse_fd, buf, REQ_BUF);

                if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == ENOENT))
                        continue;
                if (n < 0) {
                        /* ENODEV: unmounted and every holder gone */
                        if (errno != ENODEV)
                                vs_log(LOG_ERR, "read /dev/fuse: %m");
                        exit(errno == ENODEV ? 0 : 1);
                }
                dispatch(buf, (size_t)n);
        }
        return NULL;
}

/* The kernel queues again what a dead server had read but not answered. */
static void resend(void)
{
        struct fuse_out_header out = { .len = sizeof(out), .error = FUSE_NOTIFY_RESEND };

        if (write(S.fuse_fd, &out, sizeof(out)) < 0)
                vs_log(LOG_WARNING, "FUSE_NOTIFY_RESEND: %m (kernel before 6.9?)");
}

/* ---- the load sampler ---- */

static void sample(void)
{
        vs_view_host_t host;

        pthread_rwlock_wrlock(&S.lock);
        rescan();
        if (vs_view_host_load(&host, "/proc") == 0) {
                vs_view_host_free(&S.host);
                S.host = host;
        }
        pthread_rwlock_unlock(&S.lock);
        /* readers go on meanwhile: only this thread writes the loads */
        pthread_rwlock_rdlock(&S.lock);
        for (size_t i = 0; i < S.nentries; i++) {
                vs_view_tasks_t t;
                vs_view_src_t src;

                if (entry_open(S.entries[i], &src) == 0) {
                        vs_view_count_tasks(&src, &t);
                        vs_view_load_sample(&S.entries[i]->src, t.running + t.blocked);
                }
                src_close(&src);
        }
        pthread_rwlock_unlock(&S.lock);
}

static void *sampler(void *arg)
{
        (void)arg;
        for (;;) {
                struct timespec ts = { .tv_sec = SAMPLE_SECONDS };

                nanosleep(&ts, NULL);
                sample();
        }
        return NULL;
}

/* ---- handing the connection to a (new) vsd ---- */

static int listen_handback(void)
{
        struct sockaddr_un addr = { .sun_family = AF_UNIX };
        char path[64];
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -1;
        snprintf(path, sizeof(path), "/proc/self/fd/%d/vsview.sock", S.run_fd);
        unlinkat(S.run_fd, "vsview.sock", 0);
        vs_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
        if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
            fchmodat(S.run_fd, "vsview.sock", 0600, 0) < 0 || listen(fd, 4) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

static void *serve_ctl(void *arg)
{
        vsnotify_serve_ctl((int)(intptr_t)arg);
        return NULL;
}

static void start_ctl(int sock)
{
        pthread_t tid;

        if (pthread_create(&tid, NULL, serve_ctl, (void *)(intptr_t)sock) != 0) {
                close(sock);
                return;
        }
        pthread_detach(tid);
}

/* A (new) vsd gets the FUSE connection and the in-flight table, then talks
 * on the same socket about the seccomp listeners. */
static void *handback(void *arg)
{
        int listen_fd = (int)(intptr_t)arg;

        for (;;) {
                int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
                struct ucred cred;
                socklen_t len = sizeof(cred);
                char msg[64];
                int fds[2] = { S.fuse_fd, S.inflight_fd };

                if (c < 0)
                        continue;
                if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
                        close(c);
                        continue;
                }
                snprintf(msg, sizeof(msg), "vsview %d", (int)getpid());
                if (vs_send_fds(c, msg, strlen(msg), fds, S.inflight_fd >= 0 ? 2 : 1) < 0) {
                        vs_log(LOG_WARNING, "hand the connection to vsd: %m");
                        close(c);
                        continue;
                }
                start_ctl(c);
        }
        return NULL;
}

/* ---- start-up ---- */

static void usage(FILE *out)
{
        fprintf(out, "Usage: vsview --root DIR --fd N [--resend] [--threads N]\n"
                     "              [--inflight N] [--ctl N]\n"
                     "\n"
                     "Serves every VPS's /proc view on the FUSE connection N that vsd\n"
                     "mounted at DIR/run/paene/view. vsd starts it; it is not run by hand.\n"
                     "\n"
                     "  -r, --root DIR     vsd's state root\n"
                     "      --fd N         the /dev/fuse descriptor of the mount\n"
                     "      --resend       take over from a server that died: the kernel\n"
                     "                     queues again what it had read\n"
                     "      --threads N    worker threads (default 4)\n"
                     "      --inflight N   the memfd of seccomp requests being answered\n"
                     "      --ctl N        vsd's end of the control socket (the seccomp\n"
                     "                     listeners of the VPS)\n"
                     "  -h, --help         show this help\n");
}

static void write_pid(void)
{
        char text[32];
        int len = snprintf(text, sizeof(text), "%d\n", (int)getpid());

        vs_write_atomic(S.run_fd, "vsview.pid", text, (size_t)len, 0644, 0, NULL);
}

int main(int argc, char **argv)
{
        static const struct option longopts[] = {
                { "root", required_argument, NULL, 'r' },
                { "fd", required_argument, NULL, 'f' },
                { "resend", no_argument, NULL, 's' },
                { "threads", required_argument, NULL, 't' },
                { "inflight", required_argument, NULL, 'i' },
                { "ctl", required_argument, NULL, 'c' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        const char *root = NULL;
        int opt, do_resend = 0, threads = 4, listen_fd, ctl_fd = -1;
        pthread_t tid;
        struct timespec now;

        while ((opt = getopt_long(argc, argv, "r:h", longopts, NULL)) != -1) {
                switch (opt) {
                case 'r':
                        root = optarg;
                        break;
                case 'f':
                        S.fuse_fd = atoi(optarg);
                        break;
                case 's':
                        do_resend = 1;
                        break;
                case 't':
                        threads = atoi(optarg);
                        break;
                case 'i':
                        S.inflight_fd = atoi(optarg);
                        break;
                case 'c':
                        ctl_fd = atoi(optarg);
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (!root || S.fuse_fd < 0 || fcntl(S.fuse_fd, F_GETFD) < 0 || threads < 1 ||
            threads > 64) {
                usage(stderr);
                return 2;
        }
        vs_log_open("vsview", 1);
        signal(SIGPIPE, SIG_IGN);
        fcntl(S.fuse_fd, F_SETFD, FD_CLOEXEC);
        if (S.inflight_fd >= 0 && fcntl(S.inflight_fd, F_SETFD, FD_CLOEXEC) < 0)
                S.inflight_fd = -1;
        if (ctl_fd >= 0 && fcntl(ctl_fd, F_SETFD, FD_CLOEXEC) < 0)
                ctl_fd = -1;
        {
                cleanup_free char *run = vs_strdupf("%s/run/paene", root);
                cleanup_free char *reg = vs_strdupf("%s/run/paene/view.d", root);

                S.run_fd = open(run, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                S.reg_fd = open(reg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        }
        if (S.run_fd < 0 || S.reg_fd < 0) {
                vs_log(LOG_ERR, "open %s/run/paene/view.d: %m", root);
                return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        S.gen = (uint32_t)getpid() ^ (uint32_t)now.tv_nsec;
        if (vs_view_host_load(&S.host, "/proc") < 0) {
                vs_log(LOG_ERR, "read the host's /proc: %m");
                return 1;
        }
        pthread_rwlock_wrlock(&S.lock);
        rescan();
        pthread_rwlock_unlock(&S.lock);
        listen_fd = listen_handback();
        if (listen_fd < 0) {
                vs_log(LOG_ERR, "listen on vsview.sock: %m");
                return 1;
        }
        write_pid();
        /* every VPS's reads of its /proc wait on this process: ahead of
         * the VPS's own processes in the run queue of a busy host */
        if (setpriority(PRIO_PROCESS, 0, -10) < 0)
                vs_log(LOG_WARNING, "setpriority: %m");
        if (do_resend)
                resend();
        if (vsnotify_start(S.inflight_fd) < 0) {
                vs_log(LOG_ERR, "start the seccomp listener: %m");
                return 1;
        }
        if (ctl_fd >= 0)
                start_ctl(ctl_fd);
        if (pthread_create(&tid, NULL, handback, (void *)(intptr_t)listen_fd) != 0 ||
            pthread_create(&tid, NULL, sampler, NULL) != 0)
                return 1;
        for (int i = 1; i < threads; i++)
                if (pthread_create(&tid, NULL, worker, NULL) != 0)
                        return 1;
        worker(NULL);
        return 0;
}
