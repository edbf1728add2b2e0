/* Usage of a VPS, read from the same cgroup files that hold its limits.
 * A controller that is missing leaves its figures at zero: stats never fail
 * because one hierarchy is absent. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/limits.h"

/* The number after "key " at the start of a line of `text`, or 0. */
static uint64_t keyed(const char *text, const char *key)
{
        size_t len = strlen(key);

        for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (strncmp(p, key, len) == 0 && p[len] == ' ')
                        return strtoull(p + len + 1, NULL, 10);
        return 0;
}

uint64_t vs_stats_oom_kills(const char *text)
{
        return keyed(text, "oom_kill");
}

static char *read_text(int dirfd, const char *file)
{
        char *text = NULL;

        if (vs_read_file(dirfd, file, 1U << 20, &text, NULL, NULL) < 0)
                return NULL;
        return text;
}

static uint64_t read_u64(int dirfd, const char *file)
{
        cleanup_free char *text = read_text(dirfd, file);

        return text ? strtoull(text, NULL, 10) : 0;
}

static int fd_of(vs_cgroup_t *cg, const char *controller, int *is_v2)
{
        return vs_cgroup_controller_fd(cg, controller, is_v2, NULL);
}

static void read_cpu(vs_cgroup_t *cg, vs_stats_t *s)
{
        cleanup_free char *stat = NULL;
        int v2, fd = fd_of(cg, "cpu", &v2);

        if (fd >= 0 && (stat = read_text(fd, "cpu.stat"))) {
                s->nr_throttled = keyed(stat, "nr_throttled");
                s->throttled_usec =
                        v2 ? keyed(stat, "throttled_usec") : keyed(stat, "throttled_time") / 1000;
                if (v2)
                        s->cpu_usec = keyed(stat, "usage_usec");
        }
        fd = fd_of(cg, "cpuacct", &v2);
        if (fd >= 0 && !v2)
                s->cpu_usec = read_u64(fd, "cpuacct.usage") / 1000;
}

static void read_memory(vs_cgroup_t *cg, vs_stats_t *s)
{
        cleanup_free char *stat = NULL;
        int v2, fd = fd_of(cg, "memory", &v2);

        if (fd < 0)
                return;
        s->mem_bytes = read_u64(fd, v2 ? "memory.current" : "memory.usage_in_bytes");
        s->mem_peak = read_u64(fd, v2 ? "memory.peak" : "memory.max_usage_in_bytes");
        if (v2) {
                s->swap_bytes = read_u64(fd, "memory.swap.current");
        } else if ((stat = read_text(fd, "memory.stat"))) {
                s->swap_bytes = keyed(stat, "total_swap");
        }
        vs_stats_read_oom_kills(cg, &s->oom_kills);
}

int vs_stats_read_oom_kills(vs_cgroup_t *cg, uint64_t *oom_kills)
{
        cleanup_free char *events = NULL;
        int v2, fd = fd_of(cg, "memory", &v2);

        if (fd < 0 || !(events = read_text(fd, v2 ? "memory.events" : "memory.oom_control")))
                return -1;
        *oom_kills = vs_stats_oom_kills(events);
        return 0;
}

/* v1: "MAJ:MIN Read N" lines; v2: "MAJ:MIN rbytes=N wbytes=N rios=N ...". */
static void sum_v1(const char *text, uint64_t *read, uint64_t *write)
{
        for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
                char dev[32], op[16];
                uint64_t n;

                if (sscanf(p, "%31s %15s %" SCNu64, dev, op, &n) != 3)
                        continue;
                if (strcmp(op, "Read") == 0)
                        *read += n;
                else if (strcmp(op, "Write") == 0)
                        *write += n;
        }
}

static uint64_t field_v2(const char *line, const char *key)
{
        const char *p = strstr(line, key);

        return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

static void sum_v2(const char *text, vs_stats_t *s)
{
        for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
                const char *end = strchr(p, '\n');
                char line[512];
                size_t len = end ? (size_t)(end - p) : strlen(p);

                if (len >= sizeof(line))
                        continue;
                memcpy(line, p, len);
                line[len] = '\0';
                s->io_read_bytes += field_v2(line, " rbytes=");
                s->io_write_bytes += field_v2(line, " wbytes=");
                s->io_read_ops += field_v2(line, " rios=");
                s->io_write_ops += field_v2(line, " wios=");
        }
}

static void read_io(vs_cgroup_t *cg, vs_stats_t *s)
{
        cleanup_free char *bytes = NULL;
        cleanup_free char *ops = NULL;
        int v2, fd = fd_of(cg, "blkio", &v2);

        if (fd < 0)
                return;
        if (v2) {
                bytes = read_text(fd, "io.stat");
                if (bytes)
                        sum_v2(bytes, s);
                return;
        }
        bytes = read_text(fd, "blkio.throttle.io_service_bytes_recursive");
        ops = read_text(fd, "blkio.throttle.io_serviced_recursive");
        if (bytes)
                sum_v1(bytes, &s->io_read_bytes, &s->io_write_bytes);
        if (ops)
                sum_v1(ops, &s->io_read_ops, &s->io_write_ops);
}

int vs_stats_read(vs_cgroup_t *cg, vs_stats_t *s, vs_error_t *err)
{
        int v2, fd;

        memset(s, 0, sizeof(*s));
        read_cpu(cg, s);
        read_memory(cg, s);
        read_io(cg, s);
        fd = fd_of(cg, "pids", &v2);
        if (fd >= 0) {
                s->nproc = read_u64(fd, "pids.current");
        } else {
                int n = vs_cgroup_nprocs(cg, err);

                if (n < 0)
                        return -1;
                s->nproc = (uint64_t)n;
        }
        return 0;
}
