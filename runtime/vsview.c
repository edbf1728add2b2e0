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
 * and a file by its index, no open keeps a handle, and a new server drops
 * whatever page cache the dead one had filled.
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
#include <sys/syscall.h>
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
#include "rebootmark.h"
#include "vsview.h"

#ifndef FUSE_NOTIFY_RESEND
#define FUSE_NOTIFY_RESEND 7 /* linux 6.9 */
#endif

#define REQ_BUF (FUSE_MIN_READ_BUFFER + 128 * 1024)
#define ATTR_TTL 3600
#define SAMPLE_SECONDS 5

/* A VPS's file as last rendered. The kernel's page cache holds it: a read
 * of a file whose pages are there costs no round trip at all, and an open
 * costs none either: OPEN is answered ENOSYS once, and the kernel sends no
 * OPEN (nor RELEASE) again (FUSE_NO_OPEN_SUPPORT, the pages kept across
 * opens), and a close none: FLUSH is answered ENOSYS once too. So nothing
 * here hears of a read the page cache answers: new figures come from
 * dropping the pages (FUSE_NOTIFY_INVAL_INODE, which also marks the
 * attributes stale) REFRESH_NS after a fill, and at once when vsd
 * says a VPS's limits changed (vsview_vps_changed). The next read after a
 * drop asks: read(2) for the size first (GETATTR, which renders anew), then
 * the pages (READ); splice and sendfile (busybox's cat) ask only for the
 * pages, and a READ at offset 0 of dropped pages renders anew too. So a
 * figure a reader sees is at most REFRESH_NS + CACHE_NS old (/proc's own
 * uptime moves every 10 ms; the view's in steps of up to 105 ms).
 *
 * The size: a page-cache read (splice) stops at the kernel's size, never
 * asking. A READ's short reply trims that size, only a GETATTR or a store
 * grows it: a READ renders anew only what fits in it (ksize), and a drop
 * that finds the text grown past it stores the text (the pages then hold
 * it, and are dropped REFRESH_NS later). A text that grew between a drop
 * and the next READ is served as it was at the drop, until a drop queued
 * then (behind the others: at most REFRESH_NS later) stores the new one.
 *
 * Why no page ever holds a mixture of two texts: the text changes at a
 * GETATTR (its new size makes the kernel drop the pages itself), at a drop
 * (before the pages go), or at a READ at offset 0 when no page holds the
 * text (after a drop), and a READ serves the text as it is then. A drop (io_lock) waits for a READ in
 * flight. */
#define CACHE_NS 5000000ULL     /* a read within 5 ms of a render shares it */
#define REFRESH_NS 100000000ULL /* pages are dropped this long after a fill */
struct cached {
        pthread_mutex_t io_lock; /* a drop of its pages */
        char *text;              /* under the entry's cache_lock */
        size_t len;
        uint64_t at_ns;
        size_t ksize; /* the size the kernel was last told (or trimmed to) */
        int synced;   /* the page cache may hold text (read since the drop) */
        /* text is the first READ's, after a LOOKUP that told no size (see
         * lookup_size): until the next drop a GETATTR tells its size and
         * renders nothing (a new size would drop the pages a reader is
         * reading, and its next read could get the end of another text) */
        int first_fill;
        int inval_queued; /* a drop of its pages is due */
};

/* A request of a VPS's that waits for the one of its being answered. */
struct pending {
        struct pending *next;
        size_t len;
        char req[];
};

struct entry {
        pthread_mutex_t cache_lock;
        struct cached cache[VS_VIEW_NFILES];
        pthread_mutex_t queue_lock;
        int busy;                        /* a worker answers one of its requests */
        struct pending *queue, **q_tail; /* the ones that wait meanwhile */
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
} S = { .fuse_fd = -1,
        .inflight_fd = -1,
        .run_fd = -1,
        .reg_fd = -1,
        .lock = PTHREAD_RWLOCK_INITIALIZER };

/* ---- the VPS table, from vsd's registry (run/paene/view.d/NAME) ---- */

static void reply(uint64_t unique, int error, const void *data, size_t len);

static void entry_free(struct entry *e)
{
        /* what waited is answered: the VPS is gone */
        while (e->queue) {
                struct pending *p = e->queue;

                e->queue = p->next;
                reply(((const struct fuse_in_header *)(const void *)p->req)->unique, -ENOENT, NULL,
                      0);
                free(p);
        }
        pthread_mutex_destroy(&e->queue_lock);
        for (int f = 0; f < VS_VIEW_NFILES; f++) {
                free(e->cache[f].text);
                pthread_mutex_destroy(&e->cache[f].io_lock);
        }
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
        pthread_mutex_init(&e->queue_lock, NULL);
        e->q_tail = &e->queue;
        for (int f = 0; f < VS_VIEW_NFILES; f++)
                pthread_mutex_init(&e->cache[f].io_lock, NULL);
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
        cleanup_closedir DIR *dir = vs_opendir_at(S.reg_fd, ".");
        struct dirent *d;

        if (!dir)
                return;
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

pid_t vsview_init_pid(const char *name)
{
        cleanup_kv vs_kv_t kv = { 0 };
        const char *text;

        /* the registry, not the table: the table learns a new run's init
         * only at its next rescan */
        if (vs_parse_name(name, "VPS name", NULL) < 0 || vs_kv_load(S.reg_fd, name, &kv, NULL) < 0)
                return 0;
        text = vs_kv_get(&kv, "init_pid");
        return text ? (pid_t)atoi(text) : 0;
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

static void fill_attr(struct fuse_attr *a, uint64_t ino, int dir, uint64_t size)
{
        memset(a, 0, sizeof(*a));
        a->ino = ino;
        a->mode = dir ? S_IFDIR | 0555 : S_IFREG | 0444;
        a->nlink = dir ? 2 : 1;
        a->blksize = 4096;
        /* a file's: its text's length, which a page-cache read (splice,
         * sendfile) stops at */
        a->size = dir ? 0 : size;
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

/* The entry of a file's node id, with the table's read lock held; NULL
 * (lock not held) when it names no file. */
static struct entry *lock_file(uint64_t nodeid, int *file)
{
        enum kind k = classify(nodeid, file);

        if (k == K_FILE)
                return S.entries[find_base(nodeid >> 4)];
        if (k == K_DIR)
                pthread_rwlock_unlock(&S.lock);
        return NULL;
}

static uint64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Renders the file anew when its text is older than max_age (or there is
 * none), and keeps the new text if it is at most max_len long (a READ's
 * limit: the kernel's size); a text that changed is no longer the page
 * cache's. Returns 0, or -errno when the VPS's cgroup is gone. Entry's
 * cache_lock held. */
static int refresh_text(struct entry *e, int file, uint64_t max_age, size_t max_len)
{
        struct cached *c = &e->cache[file];
        vs_view_buf_t fresh = { 0 };
        uint64_t now = now_ns();
        int rc;

        if (c->text && now - c->at_ns < max_age)
                return 0;
        vs_view_src_t src;

        rc = entry_open(e, &src);
        if (rc == 0)
                rc = vs_view_render(&src, &S.host, (enum vs_view_file)file, &fresh);
        src_close(&src);
        if (rc < 0 || (c->text && fresh.len > max_len)) {
                vs_view_buf_free(&fresh);
                return rc < 0 ? rc : 0;
        }
        c->at_ns = now;
        if (c->text && c->len == fresh.len && memcmp(c->text, fresh.data, fresh.len) == 0) {
                vs_view_buf_free(&fresh);
                return 0;
        }
        free(c->text);
        /* kept at its length, not the render buffer's: a VPS's texts are
         * most of what the view costs per VPS */
        c->text = fresh.data ? realloc(fresh.data, fresh.len + 1) : vs_xmalloc(1);
        if (!c->text)
                c->text = fresh.data;
        c->len = fresh.len;
        c->synced = 0;
        return 0;
}

/* ---- the kernel's page cache of a file ---- */

static void notify(int code, const void *arg, size_t arg_len, const void *data, size_t len)
{
        struct fuse_out_header out = {
                .len = (uint32_t)(sizeof(out) + arg_len + len),
                .error = code,
        };
        struct iovec iov[3] = { { &out, sizeof(out) },
                                { (void *)arg, arg_len },
                                { (void *)data, len } };

        /* ENOENT: the kernel has no such inode (never looked up, or gone) */
        if (writev(S.fuse_fd, iov, len ? 3 : 2) < 0 && errno != ENOENT)
                vs_log(LOG_WARNING, "FUSE notify %d: %m", code);
}

/* Drops the node's pages and marks its attributes stale. Waits for a READ
 * of the node in flight: never called by the last free worker. */
static void inval_pages(uint64_t nodeid)
{
        struct fuse_notify_inval_inode_out inval = { .ino = nodeid, .off = 0, .len = 0 };

        notify(FUSE_NOTIFY_INVAL_INODE, &inval, sizeof(inval), NULL, 0);
}

/* Puts text into the node's pages from offset 0; grows the kernel's size
 * to its length (never shrinks it: a size above it leaves the last page
 * not up to date, to be read again). */
static void store_text(uint64_t nodeid, const char *text, size_t len)
{
        struct fuse_notify_store_out st = { .nodeid = nodeid, .offset = 0, .size = (uint32_t)len };

        if (len)
                notify(FUSE_NOTIFY_STORE, &st, sizeof(st), text, len);
}

/* Drops of page caches due, oldest first (every deadline is a fill's time
 * plus REFRESH_NS: a FIFO is in order). */
struct due {
        uint64_t nodeid, at_ns;
};
static struct {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct due *q;
        size_t head, n, cap;
} Q = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void push_due(uint64_t nodeid, uint64_t at_ns)
{
        pthread_mutex_lock(&Q.lock);
        if (Q.head > 0 && Q.head * 2 >= Q.n) {
                memmove(Q.q, Q.q + Q.head, (Q.n - Q.head) * sizeof(*Q.q));
                Q.n -= Q.head;
                Q.head = 0;
        }
        Q.q = vs_xgrow(Q.q, Q.n, &Q.cap, 64, sizeof(*Q.q));
        Q.q[Q.n++] = (struct due){ nodeid, at_ns };
        pthread_cond_signal(&Q.cond);
        pthread_mutex_unlock(&Q.lock);
}

/* Its pages were filled: they go REFRESH_NS from now (once queued, a file
 * is not queued again). */
static void queue_inval(struct entry *e, int file, uint64_t nodeid)
{
        struct cached *c = &e->cache[file];
        int queue;

        pthread_mutex_lock(&e->cache_lock);
        queue = !c->inval_queued;
        c->inval_queued = 1;
        pthread_mutex_unlock(&e->cache_lock);
        if (queue)
                push_due(nodeid, now_ns() + REFRESH_NS);
}

static uint64_t pop_due(void)
{
        uint64_t nodeid;

        pthread_mutex_lock(&Q.lock);
        for (;;) {
                uint64_t now = now_ns();
                struct timespec ts;

                if (Q.head == Q.n) {
                        pthread_cond_wait(&Q.cond, &Q.lock);
                        continue;
                }
                if (Q.q[Q.head].at_ns <= now)
                        break;
                ts.tv_sec = (time_t)(Q.q[Q.head].at_ns / 1000000000ULL);
                ts.tv_nsec = (long)(Q.q[Q.head].at_ns % 1000000000ULL);
                pthread_cond_timedwait(&Q.cond, &Q.lock, &ts);
        }
        nodeid = Q.q[Q.head++].nodeid;
        pthread_mutex_unlock(&Q.lock);
        return nodeid;
}

/* Renders the file anew and drops its pages and attributes, so that its
 * next read asks (and so is known to be read: the drop comes again
 * REFRESH_NS after that read's fill). A text grown past the kernel's size
 * is stored as well: a splice would stop at the old size (the store grows
 * it), and the next drop comes REFRESH_NS after the store. Waits for a
 * READ in flight: never called by a worker. Table's read lock held. */
static void drop_file(struct entry *e, int file, uint64_t nodeid)
{
        struct cached *c = &e->cache[file];
        char *copy = NULL;
        size_t len = 0;

        pthread_mutex_lock(&c->io_lock);
        pthread_mutex_lock(&e->cache_lock);
        c->inval_queued = 0;
        c->synced = 0;
        c->first_fill = 0;
        if (c->text && refresh_text(e, file, CACHE_NS, SIZE_MAX) == 0 && c->len > c->ksize) {
                len = c->len;
                copy = vs_xmalloc(len + 1);
                memcpy(copy, c->text, len);
                c->ksize = len;
                c->synced = 1;
        }
        pthread_mutex_unlock(&e->cache_lock);
        inval_pages(nodeid);
        if (copy) {
                store_text(nodeid, copy, len);
                free(copy);
                queue_inval(e, file, nodeid);
        }
        pthread_mutex_unlock(&c->io_lock);
}

static void drop_pages(uint64_t nodeid)
{
        ssize_t i;

        pthread_rwlock_rdlock(&S.lock);
        i = find_base(nodeid >> 4);
        if (i >= 0 && (nodeid & 15) >= 1 && (nodeid & 15) <= VS_VIEW_NFILES)
                drop_file(S.entries[i], (int)(nodeid & 15) - 1, nodeid);
        else
                inval_pages(nodeid);
        pthread_rwlock_unlock(&S.lock);
}

void vsview_vps_changed(const char *name)
{
        ssize_t i;

        pthread_rwlock_rdlock(&S.lock);
        i = find_name(name);
        for (int f = 0; i >= 0 && f < VS_VIEW_NFILES; f++) {
                struct entry *e = S.entries[i];

                /* its next read renders anew, also within CACHE_NS */
                pthread_mutex_lock(&e->cache_lock);
                e->cache[f].at_ns = 0;
                pthread_mutex_unlock(&e->cache_lock);
                drop_file(e, f, e->base << 4 | (uint64_t)(f + 1));
        }
        pthread_rwlock_unlock(&S.lock);
}

static void *dropper(void *arg)
{
        (void)arg;
        for (;;)
                drop_pages(pop_due());
        return NULL;
}

/* At start: whatever an earlier server left in the page cache goes. */
static void queue_all(void)
{
        uint64_t now = now_ns();

        pthread_rwlock_rdlock(&S.lock);
        for (size_t i = 0; i < S.nentries; i++)
                for (int f = 0; f < VS_VIEW_NFILES; f++)
                        push_due(S.entries[i]->base << 4 | (uint64_t)(f + 1), now);
        pthread_rwlock_unlock(&S.lock);
}

/* ---- requests ---- */

/* The file's size as its next read will find it. A GETATTR renders anew
 * (read(2) asks at its first read after a drop), except beside a drop,
 * which it must not mix with. Table's read lock held. */
static int file_size(struct entry *e, int file, uint64_t *size)
{
        struct cached *c = &e->cache[file];
        int in_drop = pthread_mutex_trylock(&c->io_lock) != 0;
        int rc;

        pthread_mutex_lock(&e->cache_lock);
        rc = c->first_fill && c->text
                     ? 0
                     : refresh_text(e, file, in_drop && c->text ? UINT64_MAX : CACHE_NS, SIZE_MAX);
        *size = c->len;
        c->ksize = c->len;
        pthread_mutex_unlock(&e->cache_lock);
        if (!in_drop)
                pthread_mutex_unlock(&c->io_lock);
        return rc;
}

/* The size a LOOKUP tells of a file never rendered yet: the bind of a
 * starting VPS's view (its builder looks up every file, moments before its
 * init runs anything), which a render would only slow (each reads its
 * cgroup's files; all of them cost the view 1.5 ms of CPU a start). Above
 * any text: the first READ renders, and its short reply trims the kernel's
 * size to the text's; the attributes are stale at once, so a stat before
 * that asks (GETATTR renders). Table's read lock held. */
#define UNREAD_SIZE (1024 * 1024)

static int lookup_size(struct entry *e, int file, uint64_t *size, uint64_t *attr_valid)
{
        struct cached *c = &e->cache[file];
        int unread;

        pthread_mutex_lock(&e->cache_lock);
        unread = c->text == NULL;
        if (unread)
                c->ksize = UNREAD_SIZE;
        pthread_mutex_unlock(&e->cache_lock);
        if (!unread)
                return file_size(e, file, size);
        *size = UNREAD_SIZE;
        *attr_valid = 0;
        return 0;
}

static void do_getattr(const struct fuse_in_header *in)
{
        struct fuse_attr_out out = { .attr_valid = ATTR_TTL };
        int file, rc = 0;
        uint64_t size = 0;
        enum kind k = classify(in->nodeid, &file);

        if (k == K_NONE)
                return reply(in->unique, -ENOENT, NULL, 0);
        if (k == K_FILE)
                rc = file_size(S.entries[find_base(in->nodeid >> 4)], file, &size);
        if (k != K_ROOT)
                pthread_rwlock_unlock(&S.lock);
        if (rc < 0)
                return reply(in->unique, rc, NULL, 0);
        fill_attr(&out.attr, in->nodeid, k != K_FILE, size);
        reply(in->unique, 0, &out, sizeof(out));
}

static void do_lookup(const struct fuse_in_header *in, const char *name)
{
        struct fuse_entry_out out = { .attr_valid = ATTR_TTL };
        int file, rc;
        uint64_t size = 0;
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
                fill_attr(&out.attr, out.nodeid, 1, 0);
                return reply(in->unique, 0, &out, sizeof(out));
        }
        if (k == K_NONE)
                return reply(in->unique, -ENOENT, NULL, 0);
        file = vs_view_file_find(name);
        if (k != K_DIR || file < 0) {
                pthread_rwlock_unlock(&S.lock);
                return reply(in->unique, -ENOENT, NULL, 0);
        }
        rc = lookup_size(S.entries[find_base(in->nodeid >> 4)], file, &size, &out.attr_valid);
        pthread_rwlock_unlock(&S.lock);
        if (rc < 0)
                return reply(in->unique, rc, NULL, 0);
        out.nodeid = in->nodeid | (uint64_t)(file + 1);
        out.entry_valid = ATTR_TTL;
        fill_attr(&out.attr, out.nodeid, 0, size);
        reply(in->unique, 0, &out, sizeof(out));
}

/* No opens (FUSE_NO_OPEN_SUPPORT): the kernel opens files itself from
 * this answer on, keeps their pages across opens and sends no RELEASE. The
 * view's mount is read-only, so no open for writing comes this far. */
static void do_open(const struct fuse_in_header *in)
{
        reply(in->unique, -ENOSYS, NULL, 0);
}

/* A READ fills pages from the text as it is: the one whose size the kernel
 * was told, or, at offset 0 of dropped pages, one rendered anew that fits
 * in the kernel's size (the short reply trims it). Never waits for the
 * kernel. */
static void do_read(const struct fuse_in_header *in, const struct fuse_read_in *arg)
{
        int file, rc = 0;
        struct entry *e = lock_file(in->nodeid, &file);
        struct cached *c;

        if (!e)
                return reply(in->unique, -ENOENT, NULL, 0);
        c = &e->cache[file];
        pthread_mutex_lock(&e->cache_lock);
        if (!c->text) {
                rc = refresh_text(e, file, 0, SIZE_MAX);
                c->first_fill = rc == 0;
        } else if (arg->offset == 0 && !c->synced) {
                rc = refresh_text(e, file, CACHE_NS, c->ksize);
                /* grown past the size: served as it was, stored anew by
                 * the next drop (queued behind the others) */
                if (rc == 0 && now_ns() - c->at_ns >= CACHE_NS)
                        push_due(in->nodeid, 0);
        }
        if (rc < 0) {
                reply(in->unique, rc, NULL, 0);
        } else {
                size_t len = 0;

                if (arg->offset < c->len)
                        len = c->len - arg->offset < arg->size ? c->len - (size_t)arg->offset
                                                               : arg->size;
                c->synced = 1;
                if (len < arg->size && arg->offset + len < c->ksize)
                        c->ksize = (size_t)arg->offset + len;
                reply(in->unique, 0, len ? c->text + arg->offset : "", len);
        }
        pthread_mutex_unlock(&e->cache_lock);
        if (rc == 0)
                queue_inval(e, file, in->nodeid);
        pthread_rwlock_unlock(&S.lock);
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
                return do_open(in);
        case FUSE_READ:
                return do_read(in, arg);
        case FUSE_FLUSH:
                /* ENOSYS: the kernel sends no FLUSH again on this
                 * connection (fc->no_flush), so a close of a view file
                 * waits for nobody; a read of cached pages then asks this
                 * process nothing at all */
                return reply(in->unique, -ENOSYS, NULL, 0);
        case FUSE_RELEASE:
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

/* ---- one VPS's requests one at a time ----
 * A VPS that floods its view must not take every worker: its requests (but
 * READs) are answered one after the other, by the worker that answers the
 * first, while the other workers go on with other VPS's. A READ never
 * waits here: a drop of the same VPS's pages may wait for it. */

static uint64_t queue_key(const char *req)
{
        const struct fuse_in_header *in = (const void *)req;

        if (in->nodeid == FUSE_ROOT_ID || in->opcode == FUSE_READ || in->opcode == FUSE_INIT ||
            in->opcode == FUSE_FORGET || in->opcode == FUSE_BATCH_FORGET ||
            in->opcode == FUSE_INTERRUPT)
                return 0;
        return in->nodeid >> 4;
}

/* 1: the request waits in its VPS's queue (copied); 0: answer it now, then
 * drain(key). */
static int enqueue_if_busy(uint64_t key, const char *req, size_t len)
{
        ssize_t i;
        int queued = 0;

        pthread_rwlock_rdlock(&S.lock);
        i = find_base(key);
        if (i >= 0) {
                struct entry *e = S.entries[i];

                pthread_mutex_lock(&e->queue_lock);
                if (e->busy) {
                        struct pending *p = vs_xmalloc(sizeof(*p) + len);

                        p->next = NULL;
                        p->len = len;
                        memcpy(p->req, req, len);
                        *e->q_tail = p;
                        e->q_tail = &p->next;
                        queued = 1;
                } else {
                        e->busy = 1;
                }
                pthread_mutex_unlock(&e->queue_lock);
        }
        pthread_rwlock_unlock(&S.lock);
        return queued;
}

/* The nice of a worker: ahead of the VPS's processes (every read of every
 * VPS waits on one), but behind them while it works off one VPS's backlog
 * (a flood: its CPU time must not be taken from the other VPS's readers). */
#define NICE_SERVE -10
#define NICE_BACKLOG 5

static void set_nice(int nice)
{
        setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice);
}

static void drain(uint64_t key)
{
        int backlog = 0;

        for (;;) {
                struct pending *p = NULL;
                ssize_t i;

                pthread_rwlock_rdlock(&S.lock);
                i = find_base(key);
                if (i >= 0) {
                        struct entry *e = S.entries[i];

                        pthread_mutex_lock(&e->queue_lock);
                        p = e->queue;
                        if (p) {
                                e->queue = p->next;
                                if (!e->queue)
                                        e->q_tail = &e->queue;
                        } else {
                                e->busy = 0;
                        }
                        pthread_mutex_unlock(&e->queue_lock);
                }
                pthread_rwlock_unlock(&S.lock);
                if (!p)
                        break;
                if (!backlog)
                        set_nice(NICE_BACKLOG);
                backlog = 1;
                dispatch(p->req, p->len);
                free(p);
        }
        if (backlog)
                set_nice(NICE_SERVE);
}

static void serve(const char *req, size_t len)
{
        uint64_t key = len >= sizeof(struct fuse_in_header) ? queue_key(req) : 0;

        if (key && enqueue_if_busy(key, req, len))
                return;
        dispatch(req, len);
        if (key)
                drain(key);
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
                serve(buf, (size_t)n);
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

/* run/paene/reboot.d: vsd makes it; made here too for a vsview that starts
 * first (it outlives vsd, and a newer one may start it). */
static int open_reboot_dir(void)
{
        int fd;

        if (mkdirat(S.run_fd, VSD_REBOOT_DIR, 0700) < 0 && errno != EEXIST)
                vs_log(LOG_WARNING, "mkdir run/paene/%s: %m", VSD_REBOOT_DIR);
        fd = openat(S.run_fd, VSD_REBOOT_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                vs_log(LOG_WARNING,
                       "open run/paene/%s: %m: a reboot inside a VPS that vsd "
                       "adopted may leave it stopped",
                       VSD_REBOOT_DIR);
        return fd;
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
        {
                pthread_condattr_t ca;

                pthread_condattr_init(&ca);
                pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
                pthread_cond_init(&Q.cond, &ca);
                pthread_condattr_destroy(&ca);
        }
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
        if (setpriority(PRIO_PROCESS, 0, NICE_SERVE) < 0)
                vs_log(LOG_WARNING, "setpriority: %m");
        if (do_resend)
                resend();
        if (vsnotify_start(S.inflight_fd, open_reboot_dir()) < 0) {
                vs_log(LOG_ERR, "start the seccomp listener: %m");
                return 1;
        }
        if (ctl_fd >= 0)
                start_ctl(ctl_fd);
        if (pthread_create(&tid, NULL, handback, (void *)(intptr_t)listen_fd) != 0 ||
            pthread_create(&tid, NULL, sampler, NULL) != 0 ||
            pthread_create(&tid, NULL, dropper, NULL) != 0)
                return 1;
        for (int i = 1; i < threads; i++)
                if (pthread_create(&tid, NULL, worker, NULL) != 0)
                        return 1;
        queue_all();
        worker(NULL);
        return 0;
}
