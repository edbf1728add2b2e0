/* The VPS's own machine, from its cgroup. Every figure a file shows is the
 * VPS's: where a cgroup has no limit the host's size stands in (it is what
 * the VPS may use), and counters the kernel keeps only host-wide (interrupts,
 * context switches) are 0 rather than the host's. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/limits.h"
#include "vs/procview.h"

#define USER_HZ 100
#define PAGE 4096ULL
#define UNLIMITED_V1 (1ULL << 62) /* v1 reports "no limit" as about 2^63 */

static const struct {
        const char *name, *target;
} files[VS_VIEW_NFILES] = {
        [VS_VIEW_MEMINFO] = { "meminfo", "proc/meminfo" },
        [VS_VIEW_CPUINFO] = { "cpuinfo", "proc/cpuinfo" },
        [VS_VIEW_STAT] = { "stat", "proc/stat" },
        [VS_VIEW_UPTIME] = { "uptime", "proc/uptime" },
        [VS_VIEW_LOADAVG] = { "loadavg", "proc/loadavg" },
        [VS_VIEW_SWAPS] = { "swaps", "proc/swaps" },
        [VS_VIEW_DISKSTATS] = { "diskstats", "proc/diskstats" },
        [VS_VIEW_BEANCOUNTERS] = { "user_beancounters", "dev/user_beancounters" },
        [VS_VIEW_CPU_ONLINE] = { "cpu_online", "sys/devices/system/cpu/online" },
};

const char *vs_view_file_name(enum vs_view_file f)
{
        return files[f].name;
}

const char *vs_view_file_target(enum vs_view_file f)
{
        return files[f].target;
}

int vs_view_file_find(const char *name)
{
        for (int i = 0; i < VS_VIEW_NFILES; i++)
                if (strcmp(files[i].name, name) == 0)
                        return i;
        return -1;
}

/* ---- text ---- */

void vs_view_buf_free(vs_view_buf_t *b)
{
        free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
}

static void put(vs_view_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(vs_view_buf_t *b, const char *fmt, ...)
{
        va_list ap;
        int n;

        for (;;) {
                size_t room = b->cap - b->len;

                va_start(ap, fmt);
                n = vsnprintf(b->data ? b->data + b->len : NULL, room, fmt, ap);
                va_end(ap);
                if (n < 0)
                        return;
                if ((size_t)n < room) {
                        b->len += (size_t)n;
                        return;
                }
                b->cap = b->cap * 2 + (size_t)n + 256;
                b->data = realloc(b->data, b->cap);
                if (!b->data)
                        abort();
        }
}

/* A cgroup or proc file into buf (NUL-terminated); -errno on failure. */
static ssize_t read_at(int dirfd, const char *name, char *buf, size_t size)
{
        cleanup_close int fd = -1;
        size_t len = 0;
        ssize_t n;

        if (dirfd < 0)
                return -ENOENT;
        fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
                len += (size_t)n;
        buf[len] = '\0';
        return (ssize_t)len;
}

/* A number file: "max" (v2) and v1's near-2^63 are UINT64_MAX. */
static int read_num(int dirfd, const char *name, uint64_t *val)
{
        char buf[64];
        ssize_t n = read_at(dirfd, name, buf, sizeof(buf));

        if (n < 0)
                return (int)n;
        if (strncmp(buf, "max", 3) == 0) {
                *val = UINT64_MAX;
                return 0;
        }
        *val = strtoull(buf, NULL, 10);
        if (*val >= UNLIMITED_V1)
                *val = UINT64_MAX;
        return 0;
}

/* The number after "key " at the start of a line, or 0. */
static uint64_t keyed(const char *text, const char *key)
{
        size_t len = strlen(key);

        for (const char *p = text; p && *p;) {
                if (strncmp(p, key, len) == 0 && p[len] == ' ')
                        return strtoull(p + len + 1, NULL, 10);
                p = strchr(p, '\n');
                if (p)
                        p++;
        }
        return 0;
}

static uint64_t min64(uint64_t a, uint64_t b)
{
        return a < b ? a : b;
}

static uint64_t sub0(uint64_t a, uint64_t b)
{
        return a > b ? a - b : 0;
}

static uint64_t boottime_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_BOOTTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- the host ---- */

static uint64_t meminfo_kb(const char *text, const char *key)
{
        const char *p = strstr(text, key);

        return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

static void split_cpuinfo(vs_view_host_t *h)
{
        size_t cap = 0;
        char *p = h->cpuinfo;

        while (p && *p) {
                char *next = strstr(p, "\n\n");

                if (strncmp(p, "processor", 9) == 0) {
                        const char *colon = strchr(p, ':');

                        h->cpu_block = vs_xgrow(h->cpu_block, h->ncpu_blocks, &cap, 8,
                                                sizeof(*h->cpu_block));
                        h->cpu_block_id = realloc(h->cpu_block_id, cap * sizeof(int));
                        if (!h->cpu_block_id)
                                abort();
                        h->cpu_block[h->ncpu_blocks] = p;
                        h->cpu_block_id[h->ncpu_blocks] = colon ? atoi(colon + 1) : -1;
                        h->ncpu_blocks++;
                }
                if (!next)
                        break;
                next[1] = '\0'; /* each block ends with its own newline */
                p = next + 2;
        }
}

int vs_view_host_load(vs_view_host_t *h, const char *proc)
{
        cleanup_close int dir = open(proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char buf[8192];
        const char *bt;

        memset(h, 0, sizeof(*h));
        if (dir < 0)
                return -errno;
        if (read_at(dir, "meminfo", buf, sizeof(buf)) < 0)
                return -errno;
        h->mem_total = meminfo_kb(buf, "MemTotal:") * 1024;
        h->swap_total = meminfo_kb(buf, "SwapTotal:") * 1024;
        h->swap_free = meminfo_kb(buf, "SwapFree:") * 1024;
        if (read_at(dir, "stat", buf, sizeof(buf)) < 0)
                return -errno;
        bt = strstr(buf, "\nbtime ");
        h->btime = bt ? strtoull(bt + 7, NULL, 10) : 0;
        if (vs_read_file(dir, "cpuinfo", 4U << 20, &h->cpuinfo, NULL, NULL) < 0)
                return -EIO;
        split_cpuinfo(h);
        return 0;
}

void vs_view_host_free(vs_view_host_t *h)
{
        free(h->cpuinfo);
        free(h->cpu_block);
        free(h->cpu_block_id);
        memset(h, 0, sizeof(*h));
}

/* ---- CPUs ---- */

/* The host CPUs the VPS may run on (its cpuset), and how many of them it
 * can use at once: the CPU cap rounded up, at most the cpuset's size. */
struct cpus {
        int n;                      /* CPUs the VPS sees */
        int host[VS_VIEW_MAX_CPUS]; /* its cpuset's CPUs in order */
        int nhost;
};

static void read_cpus(const vs_view_src_t *src, struct cpus *c)
{
        uint64_t mask[VS_VIEW_MAX_CPUS / 64];
        char buf[4096];
        uint64_t quota = UINT64_MAX, period = 100000;
        int count = -1;

        if (read_at(src->cpuset, src->v2 ? "cpuset.cpus.effective" : "cpuset.effective_cpus", buf,
                    sizeof(buf)) > 0)
                count = vs_cpulist_parse(buf, mask, VS_VIEW_MAX_CPUS, NULL);
        if (count <= 0) {
                cleanup_close int sys = open("/sys/devices/system/cpu", O_RDONLY | O_DIRECTORY);

                if (read_at(sys, "online", buf, sizeof(buf)) <= 0 ||
                    (count = vs_cpulist_parse(buf, mask, VS_VIEW_MAX_CPUS, NULL)) <= 0) {
                        memset(mask, 0, sizeof(mask));
                        mask[0] = 1;
                        count = 1;
                }
        }
        c->nhost = 0;
        for (int i = 0; i < VS_VIEW_MAX_CPUS; i++)
                if (mask[i / 64] & (1ULL << (i % 64)))
                        c->host[c->nhost++] = i;
        if (src->v2) {
                if (read_at(src->cpu, "cpu.max", buf, sizeof(buf)) > 0 &&
                    strncmp(buf, "max", 3) != 0) {
                        char *end;

                        quota = strtoull(buf, &end, 10);
                        period = strtoull(end, NULL, 10);
                }
        } else {
                uint64_t q;

                if (read_num(src->cpu, "cpu.cfs_quota_us", &q) == 0 && q != UINT64_MAX &&
                    (int64_t)q > 0 && read_num(src->cpu, "cpu.cfs_period_us", &period) == 0)
                        quota = q;
        }
        c->n = c->nhost;
        if (quota != UINT64_MAX && period > 0) {
                uint64_t capped = (quota + period - 1) / period;

                if (capped < 1)
                        capped = 1;
                if (capped < (uint64_t)c->n)
                        c->n = (int)capped;
        }
}

/* ---- meminfo ---- */

struct mem {
        uint64_t total, used, cache, rss, shmem, mapped, dirty, writeback;
        uint64_t active_anon, inactive_anon, active_file, inactive_file, unevictable;
        uint64_t slab_r, slab_u, kstack, pagetables;
        uint64_t swap_total, swap_used;
};

static int read_mem_v1(const vs_view_src_t *src, const vs_view_host_t *host, struct mem *m)
{
        char stat[8192];
        uint64_t memsw_limit, memsw_used;
        ssize_t n = read_at(src->memory, "memory.stat", stat, sizeof(stat));

        if (n < 0 || read_num(src->memory, "memory.usage_in_bytes", &m->used) < 0)
                return n < 0 ? (int)n : -ENOENT;
        m->total = keyed(stat, "hierarchical_memory_limit");
        if (!m->total || m->total >= UNLIMITED_V1)
                m->total = UINT64_MAX;
        m->cache = keyed(stat, "total_cache");
        m->rss = keyed(stat, "total_rss");
        m->shmem = keyed(stat, "total_shmem");
        m->mapped = keyed(stat, "total_mapped_file");
        m->dirty = keyed(stat, "total_dirty");
        m->writeback = keyed(stat, "total_writeback");
        m->active_anon = keyed(stat, "total_active_anon");
        m->inactive_anon = keyed(stat, "total_inactive_anon");
        m->active_file = keyed(stat, "total_active_file");
        m->inactive_file = keyed(stat, "total_inactive_file");
        m->unevictable = keyed(stat, "total_unevictable");
        memsw_limit = keyed(stat, "hierarchical_memsw_limit");
        m->swap_total = host->swap_total;
        if (memsw_limit && memsw_limit < UNLIMITED_V1 && m->total != UINT64_MAX)
                m->swap_total = min64(m->swap_total, sub0(memsw_limit, m->total));
        m->swap_used = keyed(stat, "total_swap");
        if (read_num(src->memory, "memory.memsw.usage_in_bytes", &memsw_used) == 0)
                m->swap_used = sub0(memsw_used, m->used);
        return 0;
}

static int read_mem_v2(const vs_view_src_t *src, const vs_view_host_t *host, struct mem *m)
{
        char stat[8192];
        uint64_t swap_max = UINT64_MAX;
        ssize_t n = read_at(src->memory, "memory.stat", stat, sizeof(stat));

        if (n < 0 || read_num(src->memory, "memory.current", &m->used) < 0 ||
            read_num(src->memory, "memory.max", &m->total) < 0)
                return n < 0 ? (int)n : -ENOENT;
        m->cache = keyed(stat, "file");
        m->rss = keyed(stat, "anon");
        m->shmem = keyed(stat, "shmem");
        m->mapped = keyed(stat, "file_mapped");
        m->dirty = keyed(stat, "file_dirty");
        m->writeback = keyed(stat, "file_writeback");
        m->active_anon = keyed(stat, "active_anon");
        m->inactive_anon = keyed(stat, "inactive_anon");
        m->active_file = keyed(stat, "active_file");
        m->inactive_file = keyed(stat, "inactive_file");
        m->unevictable = keyed(stat, "unevictable");
        m->slab_r = keyed(stat, "slab_reclaimable");
        m->slab_u = keyed(stat, "slab_unreclaimable");
        m->kstack = keyed(stat, "kernel_stack");
        m->pagetables = keyed(stat, "pagetables");
        read_num(src->memory, "memory.swap.max", &swap_max);
        m->swap_total = min64(host->swap_total, swap_max);
        if (read_num(src->memory, "memory.swap.current", &m->swap_used) < 0)
                m->swap_used = 0;
        return 0;
}

static int read_mem(const vs_view_src_t *src, const vs_view_host_t *host, struct mem *m)
{
        int rc;

        memset(m, 0, sizeof(*m));
        rc = src->v2 ? read_mem_v2(src, host, m) : read_mem_v1(src, host, m);
        if (rc < 0)
                return rc;
        m->total = min64(m->total, host->mem_total);
        m->used = min64(m->used, m->total);
        m->swap_used = min64(m->swap_used, m->swap_total);
        return 0;
}

static void kb_line(vs_view_buf_t *b, const char *label, uint64_t bytes)
{
        put(b, "%-16s%8" PRIu64 " kB\n", label, bytes / 1024);
}

static int render_meminfo(vs_view_src_t *src, const vs_view_host_t *host, vs_view_buf_t *b)
{
        struct mem m;
        uint64_t free_, avail, cached;
        int rc = read_mem(src, host, &m);

        if (rc < 0)
                return rc;
        free_ = m.total - m.used;
        cached = min64(m.cache, m.used);
        avail = min64(m.total, free_ + m.active_file + m.inactive_file + m.slab_r);
        kb_line(b, "MemTotal:", m.total);
        kb_line(b, "MemFree:", free_);
        kb_line(b, "MemAvailable:", avail);
        kb_line(b, "Buffers:", 0);
        kb_line(b, "Cached:", cached);
        kb_line(b, "SwapCached:", 0);
        kb_line(b, "Active:", m.active_anon + m.active_file);
        kb_line(b, "Inactive:", m.inactive_anon + m.inactive_file);
        kb_line(b, "Active(anon):", m.active_anon);
        kb_line(b, "Inactive(anon):", m.inactive_anon);
        kb_line(b, "Active(file):", m.active_file);
        kb_line(b, "Inactive(file):", m.inactive_file);
        kb_line(b, "Unevictable:", m.unevictable);
        kb_line(b, "Mlocked:", 0);
        kb_line(b, "SwapTotal:", m.swap_total);
        kb_line(b, "SwapFree:", m.swap_total - m.swap_used);
        kb_line(b, "Dirty:", m.dirty);
        kb_line(b, "Writeback:", m.writeback);
        kb_line(b, "AnonPages:", m.rss);
        kb_line(b, "Mapped:", m.mapped);
        kb_line(b, "Shmem:", m.shmem);
        kb_line(b, "KReclaimable:", m.slab_r);
        kb_line(b, "Slab:", m.slab_r + m.slab_u);
        kb_line(b, "SReclaimable:", m.slab_r);
        kb_line(b, "SUnreclaim:", m.slab_u);
        kb_line(b, "KernelStack:", m.kstack);
        kb_line(b, "PageTables:", m.pagetables);
        kb_line(b, "CommitLimit:", m.total + m.swap_total);
        kb_line(b, "Committed_AS:", m.used);
        return 0;
}

static int render_swaps(vs_view_src_t *src, const vs_view_host_t *host, vs_view_buf_t *b)
{
        struct mem m;
        int rc = read_mem(src, host, &m);

        if (rc < 0)
                return rc;
        put(b, "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
        if (m.swap_total)
                put(b, "none\t\t\t\t\tvirtual\t\t%" PRIu64 "\t\t%" PRIu64 "\t\t-1\n",
                    m.swap_total / 1024, m.swap_used / 1024);
        return 0;
}

/* ---- CPU time ---- */

/* Time since the VPS started, in ns. */
static uint64_t uptime_ns(const vs_view_src_t *src)
{
        return sub0(boottime_ns(), src->started_ns);
}

/* Its CPU time per shown CPU (ns), user and system: the host CPUs' times
 * folded onto the n it sees, so that the sums stay its own. */
struct cputime {
        uint64_t user[VS_VIEW_MAX_CPUS], sys[VS_VIEW_MAX_CPUS];
};

static void parse_percpu(const char *text, const struct cpus *c, uint64_t *out)
{
        const char *p = text;

        for (int host_cpu = 0; *p && host_cpu < VS_VIEW_MAX_CPUS; host_cpu++) {
                char *end;
                uint64_t ns = strtoull(p, &end, 10);

                if (end == p)
                        break;
                for (int i = 0; i < c->nhost; i++)
                        if (c->host[i] == host_cpu)
                                out[i % c->n] += ns;
                p = end;
        }
}

static int read_cputime(const vs_view_src_t *src, const struct cpus *c, struct cputime *t)
{
        char stat[1024], text[16384];

        memset(t, 0, sizeof(*t));
        if (src->v2) {
                if (read_at(src->cpu, "cpu.stat", stat, sizeof(stat)) < 0)
                        return -ENOENT;
                for (int i = 0; i < c->n; i++) {
                        t->user[i] = keyed(stat, "user_usec") * 1000 / (uint64_t)c->n;
                        t->sys[i] = keyed(stat, "system_usec") * 1000 / (uint64_t)c->n;
                }
                return 0;
        }
        if (read_at(src->cpuacct, "cpuacct.usage_percpu_user", text, sizeof(text)) < 0)
                return -ENOENT;
        parse_percpu(text, c, t->user);
        if (read_at(src->cpuacct, "cpuacct.usage_percpu_sys", text, sizeof(text)) < 0)
                return -ENOENT;
        parse_percpu(text, c, t->sys);
        return 0;
}

static uint64_t ticks(uint64_t ns)
{
        return ns / (1000000000ULL / USER_HZ);
}

static int render_stat(vs_view_src_t *src, const vs_view_host_t *host, vs_view_buf_t *b)
{
        struct cpus c;
        struct cputime t;
        vs_view_tasks_t tasks;
        uint64_t up = uptime_ns(src), user = 0, sys = 0, idle = 0;
        int rc;

        read_cpus(src, &c);
        rc = read_cputime(src, &c, &t);
        if (rc < 0)
                return rc;
        for (int i = 0; i < c.n; i++) {
                user += t.user[i];
                sys += t.sys[i];
                idle += sub0(up, t.user[i] + t.sys[i]);
        }
        put(b, "cpu  %" PRIu64 " 0 %" PRIu64 " %" PRIu64 " 0 0 0 0 0 0\n", ticks(user), ticks(sys),
            ticks(idle));
        for (int i = 0; i < c.n; i++)
                put(b, "cpu%d %" PRIu64 " 0 %" PRIu64 " %" PRIu64 " 0 0 0 0 0 0\n", i,
                    ticks(t.user[i]), ticks(t.sys[i]), ticks(sub0(up, t.user[i] + t.sys[i])));
        vs_view_count_tasks(src, &tasks);
        put(b,
            "intr 0\nctxt 0\nbtime %llu\nprocesses %lu\nprocs_running %lu\nprocs_blocked %lu\n"
            "softirq 0 0 0 0 0 0 0 0 0 0 0\n",
            host->btime, tasks.lastpid, tasks.running ? tasks.running : 1, tasks.blocked);
        return 0;
}

static int render_uptime(vs_view_src_t *src, const vs_view_host_t *host, vs_view_buf_t *b)
{
        struct cpus c;
        struct cputime t;
        uint64_t up = uptime_ns(src), busy = 0, idle;

        (void)host;
        read_cpus(src, &c);
        if (read_cputime(src, &c, &t) < 0)
                return -ENOENT;
        for (int i = 0; i < c.n; i++)
                busy += t.user[i] + t.sys[i];
        idle = sub0(up * (uint64_t)c.n, busy);
        put(b, "%" PRIu64 ".%02" PRIu64 " %" PRIu64 ".%02" PRIu64 "\n", up / 1000000000U,
            up / 10000000U % 100, idle / 1000000000U, idle / 10000000U % 100);
        return 0;
}

static int render_cpu_online(vs_view_src_t *src, vs_view_buf_t *b)
{
        struct cpus c;

        read_cpus(src, &c);
        if (c.n > 1)
                put(b, "0-%d\n", c.n - 1);
        else
                put(b, "0\n");
        return 0;
}

/* The host's block of each CPU the VPS sees, numbered from 0. */
static int render_cpuinfo(vs_view_src_t *src, const vs_view_host_t *host, vs_view_buf_t *b)
{
        struct cpus c;

        read_cpus(src, &c);
        for (int i = 0; i < c.n; i++) {
                const char *block = NULL;

                for (size_t k = 0; k < host->ncpu_blocks; k++)
                        if (host->cpu_block_id[k] == c.host[i])
                                block = host->cpu_block[k];
                if (!block && host->ncpu_blocks)
                        block = host->cpu_block[0];
                if (!block)
                        break;
                for (const char *line = block; *line;) {
                        const char *end = strchr(line, '\n');
                        size_t len = end ? (size_t)(end - line) : strlen(line);

                        if (strncmp(line, "processor", 9) == 0)
                                put(b, "processor\t: %d\n", i);
                        else if (strncmp(line, "siblings", 8) == 0)
                                put(b, "siblings\t: %d\n", c.n);
                        else if (strncmp(line, "cpu cores", 9) == 0)
                                put(b, "cpu cores\t: %d\n", c.n);
                        else
                                put(b, "%.*s\n", (int)len, line);
                        line += len + (end ? 1 : 0);
                }
                put(b, "\n");
        }
        return 0;
}

/* ---- tasks and load ---- */

static void count_task(const char *status, vs_view_tasks_t *t)
{
        const char *state = strstr(status, "\nState:\t");
        const char *nspid = strstr(status, "\nNSpid:");

        t->total++;
        if (state && state[8] == 'R')
                t->running++;
        if (state && state[8] == 'D')
                t->blocked++;
        if (nspid) {
                const char *end = strchr(nspid + 1, '\n');
                const char *last = nspid + 7;

                for (const char *p = last; p < (end ? end : p + strlen(p)); p++)
                        if (*p == '\t' || *p == ' ')
                                last = p + 1;
                if ((unsigned long)atol(last) > t->lastpid)
                        t->lastpid = (unsigned long)atol(last);
        }
}

static void walk_tasks(int dirfd, const char *tasks_file, int proc, vs_view_tasks_t *t, int depth)
{
        cleanup_free char *list = NULL;
        char path[64], status[4096];
        cleanup_closedir DIR *dir = NULL;
        struct dirent *e;

        if (vs_read_file(dirfd, tasks_file, 16U << 20, &list, NULL, NULL) == 0)
                for (char *p = list; *p;) {
                        char *end;
                        long tid = strtol(p, &end, 10);

                        if (end == p)
                                break;
                        snprintf(path, sizeof(path), "%ld/status", tid);
                        if (read_at(proc, path, status, sizeof(status)) > 0)
                                count_task(status, t);
                        p = end;
                        while (*p == '\n')
                                p++;
                }
        if (depth >= 8)
                return;
        if (!(dir = vs_opendir_at(dirfd, ".")))
                return;
        while ((e = readdir(dir))) {
                cleanup_close int child = -1;

                if (e->d_type != DT_DIR || e->d_name[0] == '.')
                        continue;
                child = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (child >= 0)
                        walk_tasks(child, tasks_file, proc, t, depth + 1);
        }
}

void vs_view_count_tasks(const vs_view_src_t *src, vs_view_tasks_t *t)
{
        cleanup_close int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int dir = src->v2 ? src->memory : src->pids >= 0 ? src->pids : src->cpuacct;

        memset(t, 0, sizeof(*t));
        if (proc >= 0 && dir >= 0)
                walk_tasks(dir, src->v2 ? "cgroup.threads" : "tasks", proc, t, 0);
}

#define FSHIFT 11
#define FIXED_1 (1UL << FSHIFT)
static const unsigned long load_exp[3] = { 1884, 2014, 2037 }; /* the kernel's EXP_1, 5, 15 */

void vs_view_load_sample(vs_view_src_t *src, unsigned long active)
{
        for (int i = 0; i < 3; i++) {
                unsigned long long l =
                        (unsigned long long)src->loadfx[i] * load_exp[i] +
                        (unsigned long long)active * FIXED_1 * (FIXED_1 - load_exp[i]);

                if (active)
                        l += FIXED_1 - 1;
                src->loadfx[i] = (unsigned long)(l >> FSHIFT);
        }
}

static int render_loadavg(vs_view_src_t *src, vs_view_buf_t *b)
{
        vs_view_tasks_t t;

        vs_view_count_tasks(src, &t);
        if (!t.total)
                return -ENOENT;
        for (int i = 0; i < 3; i++) {
                unsigned long fx = src->loadfx[i] + FIXED_1 / 200;

                put(b, "%lu.%02lu ", fx >> FSHIFT, ((fx & (FIXED_1 - 1)) * 100) >> FSHIFT);
        }
        put(b, "%lu/%lu %lu\n", t.running ? t.running : 1, t.total, t.lastpid);
        return 0;
}

/* ---- sysinfo(2) and sched_getaffinity(2) ---- */

int vs_view_sysinfo(vs_view_src_t *src, const vs_view_host_t *host, vs_view_sysinfo_t *out)
{
        struct mem m;
        uint64_t procs = 0;
        int rc = read_mem(src, host, &m);

        if (rc < 0)
                return rc;
        memset(out, 0, sizeof(*out));
        out->uptime_s = uptime_ns(src) / 1000000000ULL;
        /* sysinfo's loads are fixed point with 16 bits, the view's 11 */
        for (int i = 0; i < 3; i++)
                out->loads[i] = src->loadfx[i] << (16 - FSHIFT);
        out->totalram = m.total;
        out->freeram = m.total - m.used;
        out->sharedram = m.shmem;
        out->bufferram = 0; /* as /proc/meminfo's Buffers */
        out->totalswap = m.swap_total;
        out->freeswap = m.swap_total - m.swap_used;
        /* the kernel's procs is its thread count: the pids controller's */
        if (src->pids < 0 || read_num(src->pids, "pids.current", &procs) < 0) {
                vs_view_tasks_t t;

                vs_view_count_tasks(src, &t);
                procs = t.total;
        }
        out->procs = procs > 65535 ? 65535 : (unsigned)procs;
        return 0;
}

int vs_view_cpu_mask(const vs_view_src_t *src, uint64_t mask[VS_VIEW_MAX_CPUS / 64])
{
        struct cpus c;

        read_cpus(src, &c);
        memset(mask, 0, sizeof(uint64_t) * (VS_VIEW_MAX_CPUS / 64));
        for (int i = 0; i < c.n && i < c.nhost; i++)
                mask[c.host[i] / 64] |= 1ULL << (c.host[i] % 64);
        return c.n;
}

/* ---- beancounters ---- */

static uint64_t events_max(int dirfd, const char *file)
{
        char buf[1024];

        return read_at(dirfd, file, buf, sizeof(buf)) > 0 ? keyed(buf, "max") : 0;
}

static uint64_t num_or(int dirfd, const char *file, uint64_t fallback)
{
        uint64_t v;

        return read_num(dirfd, file, &v) == 0 ? v : fallback;
}

static uint64_t pages_limit(uint64_t bytes)
{
        return bytes == UINT64_MAX ? VS_BC_UNLIMITED : bytes / PAGE;
}

/* RAM + swap full is RAM full too: v1 charges memsw first and counts a
 * failure there, where 6.x kernels count none when memsw's limit is RAM's;
 * each OOM kill followed a refused charge at least. */
static uint64_t v1_mem_failcnt(int memory)
{
        char buf[1024];
        uint64_t fails =
                num_or(memory, "memory.failcnt", 0) + num_or(memory, "memory.memsw.failcnt", 0);
        uint64_t kills = read_at(memory, "memory.oom_control", buf, sizeof(buf)) > 0
                                 ? keyed(buf, "oom_kill")
                                 : 0;

        return fails > kills ? fails : kills;
}

static size_t other_beancounters(const vs_view_src_t *src, vs_beancounter_t *out);

size_t vs_view_beancounters(const vs_view_src_t *src, vs_beancounter_t *out)
{
        uint64_t pids_max = num_or(src->pids, "pids.max", UINT64_MAX);
        uint64_t mem_limit, used, swap_limit = UINT64_MAX, swap_used = 0;
        size_t n = 0;

        out[n++] = (vs_beancounter_t){
                .resource = "numproc",
                .held = num_or(src->pids, "pids.current", 0),
                .maxheld = num_or(src->pids, "pids.peak", num_or(src->pids, "pids.current", 0)),
                .barrier = pids_max == UINT64_MAX ? VS_BC_UNLIMITED : pids_max,
                .limit = pids_max == UINT64_MAX ? VS_BC_UNLIMITED : pids_max,
                .failcnt = events_max(src->pids, "pids.events"),
        };
        if (src->v2) {
                mem_limit = num_or(src->memory, "memory.max", UINT64_MAX);
                used = num_or(src->memory, "memory.current", 0);
                swap_limit = num_or(src->memory, "memory.swap.max", UINT64_MAX);
                swap_used = num_or(src->memory, "memory.swap.current", 0);
                out[n++] = (vs_beancounter_t){
                        .resource = "physpages",
                        .held = used / PAGE,
                        .maxheld = num_or(src->memory, "memory.peak", used) / PAGE,
                        .barrier = 0,
                        .limit = pages_limit(mem_limit),
                        .failcnt = events_max(src->memory, "memory.events"),
                };
                out[n++] = (vs_beancounter_t){
                        .resource = "swappages",
                        .held = swap_used / PAGE,
                        .maxheld = num_or(src->memory, "memory.swap.peak", swap_used) / PAGE,
                        .barrier = 0,
                        .limit = pages_limit(swap_limit),
                        .failcnt = events_max(src->memory, "memory.swap.events"),
                };
                return n + other_beancounters(src, out + n);
        }
        mem_limit = num_or(src->memory, "memory.limit_in_bytes", UINT64_MAX);
        used = num_or(src->memory, "memory.usage_in_bytes", 0);
        {
                uint64_t memsw_limit =
                        num_or(src->memory, "memory.memsw.limit_in_bytes", UINT64_MAX);
                uint64_t memsw_used = num_or(src->memory, "memory.memsw.usage_in_bytes", used);
                uint64_t memsw_peak =
                        num_or(src->memory, "memory.memsw.max_usage_in_bytes", memsw_used);
                uint64_t peak = num_or(src->memory, "memory.max_usage_in_bytes", used);

                if (memsw_limit != UINT64_MAX && mem_limit != UINT64_MAX)
                        swap_limit = sub0(memsw_limit, mem_limit);
                swap_used = sub0(memsw_used, used);
                out[n++] = (vs_beancounter_t){
                        .resource = "physpages",
                        .held = used / PAGE,
                        .maxheld = peak / PAGE,
                        .barrier = 0,
                        .limit = pages_limit(mem_limit),
                        .failcnt = v1_mem_failcnt(src->memory),
                };
                out[n++] = (vs_beancounter_t){
                        .resource = "swappages",
                        .held = swap_used / PAGE,
                        .maxheld = sub0(memsw_peak, peak) / PAGE,
                        .barrier = 0,
                        .limit = pages_limit(swap_limit),
                        .failcnt = num_or(src->memory, "memory.memsw.failcnt", 0),
                };
        }
        return n + other_beancounters(src, out + n);
}

/* Open files of the VPS's processes (their /proc/PID/fd), as OpenVZ's
 * numfile counts them; its limit is each process's RLIMIT_NOFILE. */
static uint64_t count_open_files(const vs_view_src_t *src)
{
        cleanup_close int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int dir = src->v2 ? src->memory : src->pids >= 0 ? src->pids : src->cpuacct;
        cleanup_free char *list = NULL;
        uint64_t n = 0;

        if (proc < 0 || dir < 0 ||
            vs_read_file(dir, "cgroup.procs", 16U << 20, &list, NULL, NULL) < 0)
                return 0;
        for (char *p = list; *p;) {
                char *end, path[64];
                long pid = strtol(p, &end, 10);
                cleanup_closedir DIR *fds = NULL;
                struct dirent *e;

                if (end == p)
                        break;
                p = end + strspn(end, "\n");
                snprintf(path, sizeof(path), "%ld/fd", pid);
                if (!(fds = vs_opendir_at(proc, path)))
                        continue;
                while ((e = readdir(fds)))
                        n += e->d_name[0] != '.';
        }
        return n;
}

/* diskspace in 1 KiB blocks, as OpenVZ's: its root's file system (the
 * image backend's own, whose size is the limit) where it has a limit. */
static void disk_blocks(const vs_view_src_t *src, uint64_t *held, uint64_t *limit)
{
        char path[64];
        struct statfs sf;

        *held = 0;
        *limit = src->diskspace ? src->diskspace / 1024 : VS_BC_UNLIMITED;
        snprintf(path, sizeof(path), "/proc/%d/root/", src->init_pid);
        if (src->diskspace && src->init_pid > 0 && statfs(path, &sf) == 0)
                *held = (uint64_t)(sf.f_blocks - sf.f_bfree) * (uint64_t)sf.f_bsize / 1024;
}

/* The rows of the limits the kernel counts no failure of (a refused open or
 * write is the caller's EMFILE or ENOSPC): failcnt 0. */
static size_t other_beancounters(const vs_view_src_t *src, vs_beancounter_t *out)
{
        uint64_t open_files = src->count_files ? count_open_files(src) : 0, held, limit;
        uint64_t nofile = src->numfile ? src->numfile : VS_BC_UNLIMITED;

        disk_blocks(src, &held, &limit);
        out[0] = (vs_beancounter_t){
                .resource = "numfile",
                .held = open_files,
                .maxheld = open_files,
                .barrier = nofile,
                .limit = nofile,
        };
        out[1] = (vs_beancounter_t){
                .resource = "diskspace",
                .held = held,
                .maxheld = held,
                .barrier = limit,
                .limit = limit,
        };
        return 2;
}

/* OpenVZ's layout: the uid on the first row only. */
static int render_beancounters(vs_view_src_t *src, vs_view_buf_t *b)
{
        vs_beancounter_t bc[VS_BC_MAX];
        size_t n = vs_view_beancounters(src, bc);
        char uid[24];

        snprintf(uid, sizeof(uid), "%lu", src->ctid);
        put(b, "Version: 2.5\n");
        put(b, "%10s  %-12s %20s %20s %20s %20s %20s\n", "uid", "resource", "held", "maxheld",
            "barrier", "limit", "failcnt");
        for (size_t i = 0; i < n; i++)
                put(b,
                    "%10s%c %-12s %20" PRIu64 " %20" PRIu64 " %20" PRIu64 " %20" PRIu64
                    " %20" PRIu64 "\n",
                    i == 0 ? uid : "", i == 0 ? ':' : ' ', bc[i].resource, bc[i].held,
                    bc[i].maxheld, bc[i].barrier, bc[i].limit, bc[i].failcnt);
        return 0;
}

int vs_view_render(vs_view_src_t *src, const vs_view_host_t *host, enum vs_view_file f,
                   vs_view_buf_t *out)
{
        out->len = 0;
        put(out, "%s", "");
        switch (f) {
        case VS_VIEW_MEMINFO:
                return render_meminfo(src, host, out);
        case VS_VIEW_CPUINFO:
                return render_cpuinfo(src, host, out);
        case VS_VIEW_STAT:
                return render_stat(src, host, out);
        case VS_VIEW_UPTIME:
                return render_uptime(src, host, out);
        case VS_VIEW_LOADAVG:
                return render_loadavg(src, out);
        case VS_VIEW_SWAPS:
                return render_swaps(src, host, out);
        case VS_VIEW_DISKSTATS:
                return 0;
        case VS_VIEW_BEANCOUNTERS:
                return render_beancounters(src, out);
        case VS_VIEW_CPU_ONLINE:
                return render_cpu_online(src, out);
        case VS_VIEW_NFILES:
                break;
        }
        return -ENOENT;
}
