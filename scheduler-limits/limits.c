/* The limits of a VPS: parsing (vzctl's option names, DESIGN.md section 3
 * values), cross-checks, the cgroup v1 and v2 file writes that realise them,
 * and the writes themselves. Everything up to the writes is pure, so that
 * unit tests cover both file layouts on any host. */
#include "vs/limits.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/log.h"
#include "vs/parse.h"

#define MICRO_PER_CPU 1000000ULL
#define MIN_QUOTA_US 1000ULL /* the kernel's smallest CFS quota */
#define MIN_RAM (4ULL << 20)

enum kind { K_UINT, K_CPU, K_CPU_RESERVE, K_SIZE, K_DURATION, K_CPULIST, K_TIMESLICE };

static const struct {
        const char *key, *option, *controller;
        enum kind kind;
        uint64_t min, max; /* K_UINT and K_SIZE */
} table[VS_LIM_COUNT] = {
        [VS_LIM_CPUUNITS] = { "cpuunits", "cpuunits", "cpu", K_UINT, 2, 262144 },
        [VS_LIM_CPULIMIT] = { "cpulimit", "cpulimit", "cpu", K_CPU, 0, 0 },
        [VS_LIM_CPUS] = { "cpus", "cpus", "cpu", K_UINT, 1, 4096 },
        [VS_LIM_CPUMASK] = { "cpumask", "cpumask", "cpuset", K_CPULIST, 0, 0 },
        [VS_LIM_CPU_BURST] = { "cpu_burst", "cpu-burst", "cpu", K_DURATION, 0, 0 },
        [VS_LIM_RAM] = { "ram", "ram", "memory", K_SIZE, MIN_RAM, UINT64_MAX / 2 },
        [VS_LIM_RAM_RESERVE] = { "ram_reserve", "ram-reserve", "memory", K_SIZE, 0,
                                 UINT64_MAX / 2 },
        [VS_LIM_SWAP] = { "swap", "swap", "memory", K_SIZE, 0, UINT64_MAX / 2 },
        [VS_LIM_NUMPROC] = { "numproc", "numproc", "pids", K_UINT, 1, 4194304 },
        [VS_LIM_NUMFILE] = { "numfile", "numfile", NULL, K_UINT, 16, 1048576 },
        [VS_LIM_IOPRIO] = { "ioprio", "ioprio", "blkio", K_UINT, 0, 7 },
        [VS_LIM_IOLIMIT] = { "iolimit", "iolimit", "blkio", K_SIZE, 1, UINT64_MAX / 2 },
        [VS_LIM_IOPSLIMIT] = { "iopslimit", "iopslimit", "blkio", K_UINT, 1, 10000000 },
        /* no cgroup file: vsd counts it against the node's capacity */
        [VS_LIM_CPU_RESERVE] = { "cpu_reserve", "cpu-reserve", NULL, K_CPU_RESERVE, 0, 0 },
        /* no cgroup file: set on each of its tasks (sched_setattr) */
        [VS_LIM_TIMESLICE] = { "timeslice", "timeslice", NULL, K_TIMESLICE, 0, 0 },
};

const char *vs_limit_key(vs_limit_t limit)
{
        return table[limit].key;
}

const char *vs_limit_option(vs_limit_t limit)
{
        return table[limit].option;
}

int vs_limit_find(const char *name)
{
        for (int i = 0; i < VS_LIM_COUNT; i++)
                if (strcmp(table[i].key, name) == 0 || strcmp(table[i].option, name) == 0)
                        return i;
        return -1;
}

/* ---- parsing ---- */

/* A CPU number: digits only (strtoul would also take blanks and a sign). */
static int cpu_number(const char **p, unsigned long *out)
{
        char *end;

        if (!isdigit((unsigned char)**p))
                return -1;
        errno = 0;
        *out = strtoul(*p, &end, 10);
        if (errno || *out >= VS_CPULIST_MAX)
                return -1;
        *p = end;
        return 0;
}

/* One element of a list, "N" or "N-M", at *p: its first and last CPU. */
static int cpu_range(const char **p, unsigned long *first, unsigned long *last)
{
        if (cpu_number(p, first) < 0)
                return -1;
        *last = *first;
        if (**p == '-') {
                (*p)++;
                if (cpu_number(p, last) < 0 || *last < *first)
                        return -1;
        }
        return 0;
}

static int cpu_mark(uint64_t *mask, unsigned long cpu)
{
        int was = (mask[cpu / 64] >> (cpu % 64)) & 1;

        mask[cpu / 64] |= 1ULL << (cpu % 64);
        return !was;
}

int vs_cpulist_parse(const char *text, uint64_t *mask, unsigned max_cpus, unsigned *highest)
{
        const char *p = text;
        unsigned long top = 0;
        int count = 0;

        if (mask)
                memset(mask, 0, (max_cpus + 63) / 64 * sizeof(*mask));
        for (;;) {
                unsigned long first, last;

                if (cpu_range(&p, &first, &last) < 0 || last >= max_cpus)
                        return -1;
                top = last > top ? last : top;
                for (unsigned long cpu = first; cpu <= last; cpu++)
                        count += mask ? cpu_mark(mask, cpu) : 1;
                if (*p == ',') {
                        p++;
                        continue;
                }
                if (*p == '\n')
                        p++;
                if (*p)
                        return -1;
                if (highest)
                        *highest = (unsigned)top;
                return count;
        }
}

int vs_cpulist_valid(const char *text)
{
        return !strchr(text, '\n') && vs_cpulist_parse(text, NULL, VS_CPULIST_MAX, NULL) > 0;
}

unsigned vs_cpulist_max(const char *text)
{
        unsigned highest = 0;

        vs_cpulist_parse(text, NULL, VS_CPULIST_MAX, &highest);
        return highest;
}

int vs_cpulist_within(const char *inner, const char *outer)
{
        uint64_t in[VS_CPULIST_MAX / 64], out[VS_CPULIST_MAX / 64]; /* 8 KiB each */

        if (vs_cpulist_parse(inner, in, VS_CPULIST_MAX, NULL) < 0 ||
            vs_cpulist_parse(outer, out, VS_CPULIST_MAX, NULL) < 0)
                return 0;
        for (unsigned i = 0; i < VS_CPULIST_MAX / 64; i++)
                if (in[i] & ~out[i])
                        return 0;
        return 1;
}

/* Digits, then at most 3 decimals for ms (whole µs): "0.1ms" is 100 µs. */
static int timeslice_us(const char *text, uint64_t *us)
{
        uint64_t whole, frac = 0, scale = 1000;
        const char *p = vs_scan_uint(text, UINT32_MAX, &whole);

        if (!p)
                return -1;
        if (strcmp(p, "us") == 0) {
                *us = whole;
                return 0;
        }
        if (*p == '.') {
                const char *digits = ++p;

                while (isdigit((unsigned char)*p) && p - digits < 3) {
                        frac = frac * 10 + (uint64_t)(*p++ - '0');
                        scale /= 10;
                }
                if (p == digits)
                        return -1;
        }
        if (strcmp(p, "ms") != 0)
                return -1;
        *us = whole * 1000 + frac * scale;
        return 0;
}

int vs_parse_timeslice(const char *text, uint64_t *us, vs_error_t *err)
{
        if (strcmp(text, "default") == 0) {
                *us = 0;
                return 0;
        }
        if (timeslice_us(text, us) < 0)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "'%s' is not a time slice (use 0.1ms to 100ms, 100us, or "
                                     "default)",
                                     text);
        if (*us < VS_TIMESLICE_MIN_US || *us > VS_TIMESLICE_MAX_US)
                return vs_error_kind(err, VS_E_USAGE, ERANGE,
                                     "%s is outside the kernel's 0.1ms to 100ms", text);
        return 0;
}

static int parse_cpulimit(const char *text, uint64_t *micro, vs_error_t *err)
{
        if (vs_parse_cpu(text, micro, err) < 0)
                return -1;
        /* the kernel's smallest quota is 1 ms per 100 ms period */
        if (*micro * VS_CPU_PERIOD_US / MICRO_PER_CPU < MIN_QUOTA_US)
                return vs_error_kind(err, VS_E_USAGE, ERANGE,
                                     "CPU '%s' is below the smallest cap (1%%)", text);
        return 0;
}

static int parse_size_in(const char *text, uint64_t min, uint64_t max, uint64_t *out,
                         vs_error_t *err)
{
        if (vs_parse_size(text, out, err) < 0)
                return -1;
        if (*out < min || *out > max)
                return vs_error_kind(err, VS_E_USAGE, ERANGE,
                                     "size '%s' is out of range (at least %" PRIu64 " bytes)", text,
                                     min);
        return 0;
}

static int parse_value(vs_limit_t limit, const char *text, uint64_t *out, vs_error_t *err)
{
        switch (table[limit].kind) {
        case K_UINT:
                return vs_parse_uint(text, table[limit].min, table[limit].max, "value", out, err);
        case K_CPU:
                return parse_cpulimit(text, out, err);
        case K_CPU_RESERVE:
                return vs_parse_cpu(text, out, err);
        case K_SIZE:
                return parse_size_in(text, table[limit].min, table[limit].max, out, err);
        case K_DURATION:
                return vs_parse_duration(text, out, err);
        case K_TIMESLICE:
                return vs_parse_timeslice(text, out, err);
        case K_CPULIST:
                *out = 0;
                if (!vs_cpulist_valid(text))
                        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                             "CPU list '%s' is not valid (use 0-3,5)", text);
                return 0;
        }
        return vs_error_kind(err, VS_E_INTERNAL, EINVAL, "unknown limit kind");
}

int vs_limits_parse_one(vs_limits_t *l, vs_limit_t limit, const char *text, vs_error_t *err)
{
        uint64_t value;

        if (!text || !*text)
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "--%s: value is empty",
                                     table[limit].option);
        if (strlen(text) >= sizeof(l->text[limit]))
                return vs_error_kind(err, VS_E_USAGE, E2BIG, "--%s: value is too long",
                                     table[limit].option);
        if (parse_value(limit, text, &value, err) < 0)
                return vs_error_wrap(err, "--%s", table[limit].option);
        l->value[limit] = value;
        vs_strlcpy(l->text[limit], text, sizeof(l->text[limit]));
        l->set |= 1u << limit;
        return 0;
}

int vs_limits_from_config(const vs_kv_t *config, vs_limits_t *l, vs_error_t *err)
{
        memset(l, 0, sizeof(*l));
        for (int i = 0; i < VS_LIM_COUNT; i++) {
                const char *text = vs_kv_get(config, table[i].key);

                if (text && vs_limits_parse_one(l, (vs_limit_t)i, text, err) < 0)
                        return vs_error_wrap(err, "config key %s", table[i].key);
        }
        return vs_limits_check(l, err);
}

void vs_limits_to_config(const vs_limits_t *l, vs_kv_t *config)
{
        for (int i = 0; i < VS_LIM_COUNT; i++)
                if (VS_LIMIT_IS_SET(l, i))
                        vs_kv_set(config, table[i].key, l->text[i]);
}

void vs_limits_merge(vs_limits_t *base, const vs_limits_t *over)
{
        for (int i = 0; i < VS_LIM_COUNT; i++) {
                if (!VS_LIMIT_IS_SET(over, i))
                        continue;
                base->value[i] = over->value[i];
                memcpy(base->text[i], over->text[i], sizeof(base->text[i]));
                base->set |= 1u << i;
        }
}

uint64_t vs_limits_cpu_quota_us(const vs_limits_t *l)
{
        uint64_t micro = 0;

        if (VS_LIMIT_IS_SET(l, VS_LIM_CPULIMIT))
                micro = l->value[VS_LIM_CPULIMIT];
        if (VS_LIMIT_IS_SET(l, VS_LIM_CPUS)) {
                uint64_t cpus = l->value[VS_LIM_CPUS] * MICRO_PER_CPU;

                micro = micro && micro < cpus ? micro : cpus;
        }
        return micro * VS_CPU_PERIOD_US / MICRO_PER_CPU;
}

int vs_limits_check(const vs_limits_t *l, vs_error_t *err)
{
        uint64_t quota = vs_limits_cpu_quota_us(l);

        if (VS_LIMIT_IS_SET(l, VS_LIM_SWAP) && !VS_LIMIT_IS_SET(l, VS_LIM_RAM))
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "--swap needs --ram (swap is counted on top of it)");
        if (VS_LIMIT_IS_SET(l, VS_LIM_RAM_RESERVE) && VS_LIMIT_IS_SET(l, VS_LIM_RAM) &&
            l->value[VS_LIM_RAM_RESERVE] > l->value[VS_LIM_RAM])
                return vs_error_kind(err, VS_E_USAGE, ERANGE,
                                     "--ram-reserve %s is more than --ram %s",
                                     l->text[VS_LIM_RAM_RESERVE], l->text[VS_LIM_RAM]);
        if (VS_LIMIT_IS_SET(l, VS_LIM_CPU_BURST) && l->value[VS_LIM_CPU_BURST] > 0) {
                if (!quota)
                        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                             "--cpu-burst needs a cap (--cpulimit or --cpus)");
                /* the kernel refuses a burst above the quota of one period
                 * (compared in ms: the burst in µs can pass 2^64) */
                if (l->value[VS_LIM_CPU_BURST] > quota / 1000)
                        return vs_error_kind(err, VS_E_USAGE, ERANGE,
                                             "--cpu-burst %s is more than the cap allows per "
                                             "period (%" PRIu64 "ms of %llums)",
                                             l->text[VS_LIM_CPU_BURST], quota / 1000,
                                             VS_CPU_PERIOD_US / 1000);
        }
        return 0;
}

/* ---- conversions ---- */

uint64_t vs_shares_to_weight(uint64_t shares)
{
        if (shares < 2)
                shares = 2;
        if (shares > 262144)
                shares = 262144;
        return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t vs_ioprio_to_weight(uint64_t prio)
{
        return 100 + (prio > 7 ? 7 : prio) * 900 / 7;
}

/* ---- plans ---- */

static vs_limit_write_t *add(vs_limit_write_t *out, size_t *n, const char *controller,
                             const char *file, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
static vs_limit_write_t *add(vs_limit_write_t *out, size_t *n, const char *controller,
                             const char *file, const char *fmt, ...)
{
        vs_limit_write_t *w = &out[(*n)++];
        va_list ap;

        w->controller = controller;
        w->file = file;
        va_start(ap, fmt);
        vsnprintf(w->value, sizeof(w->value), fmt, ap);
        va_end(ap);
        return w;
}

/* The cap and its burst. The kernel checks burst <= quota at each write, so
 * the burst is cleared before the quota changes and set after. */
static void plan_cpu(const vs_limits_t *l, int v2, vs_limit_write_t *out, size_t *n)
{
        uint64_t quota = vs_limits_cpu_quota_us(l);
        int burst = VS_LIMIT_IS_SET(l, VS_LIM_CPU_BURST);
        const char *burst_file = v2 ? "cpu.max.burst" : "cpu.cfs_burst_us";

        if (VS_LIMIT_IS_SET(l, VS_LIM_CPUUNITS)) {
                if (v2)
                        add(out, n, "cpu", "cpu.weight", "%" PRIu64,
                            vs_shares_to_weight(l->value[VS_LIM_CPUUNITS]));
                else
                        add(out, n, "cpu", "cpu.shares", "%" PRIu64, l->value[VS_LIM_CPUUNITS]);
        }
        if (!quota && !burst)
                return;
        if (burst)
                add(out, n, "cpu", burst_file, "0");
        if (quota && v2) {
                add(out, n, "cpu", "cpu.max", "%" PRIu64 " %llu", quota, VS_CPU_PERIOD_US);
        } else if (quota) {
                add(out, n, "cpu", "cpu.cfs_period_us", "%llu", VS_CPU_PERIOD_US);
                add(out, n, "cpu", "cpu.cfs_quota_us", "%" PRIu64, quota);
        }
        if (burst)
                add(out, n, "cpu", burst_file, "%" PRIu64, l->value[VS_LIM_CPU_BURST] * 1000);
}

/* v1 counts swap in memsw = ram + swap, which may never be below the memory
 * limit: lift it first, set the limit, then set it. */
static void plan_memory(const vs_limits_t *l, int v2, vs_limit_write_t *out, size_t *n)
{
        int swap = VS_LIMIT_IS_SET(l, VS_LIM_SWAP);

        if (VS_LIMIT_IS_SET(l, VS_LIM_RAM)) {
                if (swap && !v2)
                        add(out, n, "memory", "memory.memsw.limit_in_bytes", "-1");
                add(out, n, "memory", v2 ? "memory.max" : "memory.limit_in_bytes", "%" PRIu64,
                    l->value[VS_LIM_RAM]);
        }
        if (swap && v2)
                add(out, n, "memory", "memory.swap.max", "%" PRIu64, l->value[VS_LIM_SWAP]);
        else if (swap)
                add(out, n, "memory", "memory.memsw.limit_in_bytes", "%" PRIu64,
                    l->value[VS_LIM_RAM] + l->value[VS_LIM_SWAP]);
        if (VS_LIMIT_IS_SET(l, VS_LIM_RAM_RESERVE))
                add(out, n, "memory", v2 ? "memory.low" : "memory.soft_limit_in_bytes", "%" PRIu64,
                    l->value[VS_LIM_RAM_RESERVE]);
}

static void plan_io(const vs_limits_t *l, int v2, const char *dev, vs_limit_write_t *out, size_t *n)
{
        int bps = VS_LIMIT_IS_SET(l, VS_LIM_IOLIMIT), iops = VS_LIMIT_IS_SET(l, VS_LIM_IOPSLIMIT);
        uint64_t b = l->value[VS_LIM_IOLIMIT], o = l->value[VS_LIM_IOPSLIMIT];

        if (VS_LIMIT_IS_SET(l, VS_LIM_IOPRIO))
                add(out, n, "blkio", v2 ? "io.weight" : "blkio.bfq.weight", "%" PRIu64,
                    vs_ioprio_to_weight(l->value[VS_LIM_IOPRIO]));
        if (!dev)
                return;
        if (v2 && bps)
                add(out, n, "blkio", "io.max", "%s rbps=%" PRIu64 " wbps=%" PRIu64, dev, b, b);
        if (v2 && iops)
                add(out, n, "blkio", "io.max", "%s riops=%" PRIu64 " wiops=%" PRIu64, dev, o, o);
        if (!v2 && bps) {
                add(out, n, "blkio", "blkio.throttle.read_bps_device", "%s %" PRIu64, dev, b);
                add(out, n, "blkio", "blkio.throttle.write_bps_device", "%s %" PRIu64, dev, b);
        }
        if (!v2 && iops) {
                add(out, n, "blkio", "blkio.throttle.read_iops_device", "%s %" PRIu64, dev, o);
                add(out, n, "blkio", "blkio.throttle.write_iops_device", "%s %" PRIu64, dev, o);
        }
}

size_t vs_limits_plan(const vs_limits_t *l, int v2, const char *iodev, vs_limit_write_t *out)
{
        size_t n = 0;

        plan_cpu(l, v2, out, &n);
        if (VS_LIMIT_IS_SET(l, VS_LIM_CPUMASK))
                add(out, &n, "cpuset", v2 ? "cpuset.cpus" : "cpuset.cpus", "%s",
                    l->text[VS_LIM_CPUMASK]);
        plan_memory(l, v2, out, &n);
        if (VS_LIMIT_IS_SET(l, VS_LIM_NUMPROC))
                add(out, &n, "pids", "pids.max", "%" PRIu64, l->value[VS_LIM_NUMPROC]);
        plan_io(l, v2, iodev, out, &n);
        return n;
}

/* ---- applying ---- */

/* Checks that every controller the limits need is there before anything is
 * written: a refused limit changes nothing. A VPS's cgroup that exists only
 * for a limit (v1 cpuset) is made here, with its processes moved into it. */
static int check_controllers(vs_cgroup_t *cg, const vs_limits_t *l, vs_error_t *err)
{
        for (int i = 0; i < VS_LIM_COUNT; i++) {
                int is_v2;

                if (!VS_LIMIT_IS_SET(l, i) || !table[i].controller)
                        continue;
                if (vs_cgroup_controller_fd(cg, table[i].controller, &is_v2, NULL) < 0 &&
                    vs_cgroup_ensure(cg, table[i].controller, err) < 0)
                        return vs_error_wrap(err, "--%s", table[i].option);
                if (vs_cgroup_controller_fd(cg, table[i].controller, &is_v2, err) < 0)
                        return vs_error_wrap(err, "--%s", table[i].option);
        }
        return 0;
}

/* blkio.bfq.weight exists only with the bfq scheduler loaded; blkio.weight
 * with the old cfq (v2: io.weight, of bfq or io.cost). A host with neither
 * (mq-deadline, and no bfq in its kernel) has no I/O weights to give: the
 * VPS starts with its other limits, and the log says --ioprio is not held. */
static int write_weight(int dirfd, const vs_limit_write_t *w, vs_error_t *err)
{
        if (strcmp(w->file, "blkio.bfq.weight") == 0 &&
            vs_write_string(dirfd, "blkio.weight", w->value, err) == 0)
                return 0;
        if (err->errnum != ENOENT)
                return -1;
        vs_log(LOG_WARNING,
               "--ioprio not held: the host's block devices have no I/O weights "
               "(no bfq scheduler, %s missing)",
               w->file);
        *err = (vs_error_t){ 0 };
        return 0;
}

static int write_limit(int dirfd, const vs_limit_write_t *w, vs_error_t *err)
{
        if (vs_write_string(dirfd, w->file, w->value, err) == 0)
                return 0;
        if (err->errnum == ENOENT &&
            (strcmp(w->file, "blkio.bfq.weight") == 0 || strcmp(w->file, "io.weight") == 0))
                return write_weight(dirfd, w, err);
        return -1;
}

int vs_limits_apply(vs_cgroup_t *cg, const vs_limits_t *l, const char *iodev, vs_error_t *err)
{
        vs_limit_write_t writes[2][VS_LIMIT_WRITES_MAX];
        size_t count[2];

        if (check_controllers(cg, l, err) < 0)
                return -1;
        /* hybrid hosts may hold a controller on either kind of hierarchy:
         * each write follows where its controller lives */
        count[0] = vs_limits_plan(l, 0, iodev, writes[0]);
        count[1] = vs_limits_plan(l, 1, iodev, writes[1]);
        for (int v2 = 0; v2 < 2; v2++) {
                for (size_t i = 0; i < count[v2]; i++) {
                        const vs_limit_write_t *w = &writes[v2][i];
                        int is_v2, fd = vs_cgroup_controller_fd(cg, w->controller, &is_v2, err);

                        if (fd < 0)
                                return -1;
                        if (is_v2 != v2)
                                continue;
                        if (write_limit(fd, w, err) < 0)
                                return vs_error_wrap(err, "write '%s' to %s", w->value, w->file);
                }
        }
        return 0;
}

/* A partition's sysfs directory has a "partition" file and sits in its
 * disk's directory, whose "dev" names the disk. */
static int whole_disk(const char *sysdir, char *out, size_t size, vs_error_t *err)
{
        cleanup_free char *partition = vs_strdupf("%s/partition", sysdir);
        cleanup_free char *parent = vs_strdupf("%s/../dev", sysdir);
        cleanup_free char *dev = NULL;

        if (access(partition, F_OK) < 0)
                return 0;
        if (vs_read_file(AT_FDCWD, parent, 64, &dev, NULL, err) < 0)
                return -1;
        dev[strcspn(dev, "\n")] = '\0';
        vs_strlcpy(out, dev, size);
        return 0;
}

int vs_limits_disk_of(const char *path, char *out, size_t size, vs_error_t *err)
{
        char sys[128], resolved[PATH_MAX];
        struct stat st;

        if (stat(path, &st) < 0)
                return vs_error_errno(err, "stat %s", path);
        if (major(st.st_dev) == 0)
                return vs_error_kind(err, VS_E_STATE, ENODEV,
                                     "%s is on a file system without a block device", path);
        snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u", major(st.st_dev), minor(st.st_dev));
        snprintf(out, size, "%u:%u", major(st.st_dev), minor(st.st_dev));
        /* throttles hold on whole disks, not on partitions */
        if (!realpath(sys, resolved))
                return vs_error_errno(err, "%s", sys);
        return whole_disk(resolved, out, size, err);
}
