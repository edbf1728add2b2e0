/* schedslice US -p PID...   sets the EEVDF slice of every thread of each PID
 * schedslice US -- CMD ...  runs CMD with that slice (its children inherit it)
 *
 * US is the slice in µs (the kernel clamps it to 100..100000); 0 gives a
 * task back the default slice (sysctl base_slice_ns). Linux 6.12 and later
 * take a SCHED_OTHER/SCHED_BATCH task's slice from sched_attr.sched_runtime;
 * an older kernel ignores it, which this tool reports by reading the slice
 * back (exit 1). For contrib/bench/isolation.sh's experiments (README.md):
 * the echo server's VPS against the CPU hogs. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct attr { /* struct sched_attr, SCHED_ATTR_SIZE_VER0 */
        uint32_t size, policy;
        uint64_t flags;
        int32_t nice;
        uint32_t priority;
        uint64_t runtime, deadline, period;
};

#define FLAG_RESET_ON_FORK 0x01ULL

/* Sets tid's slice, keeping its policy and nice; checks the kernel took it. */
static int set_slice(pid_t tid, uint64_t ns)
{
        struct attr a = { 0 };

        if (syscall(SYS_sched_getattr, tid, &a, sizeof(a), 0) < 0) {
                fprintf(stderr, "schedslice: sched_getattr %d: %s\n", tid, strerror(errno));
                return -1;
        }
        a.size = sizeof(a);
        a.flags &= FLAG_RESET_ON_FORK;
        a.runtime = ns;
        if (syscall(SYS_sched_setattr, tid, &a, 0) < 0) {
                fprintf(stderr, "schedslice: sched_setattr %d: %s\n", tid, strerror(errno));
                return -1;
        }
        if (syscall(SYS_sched_getattr, tid, &a, sizeof(a), 0) < 0)
                return -1;
        if (ns && !a.runtime) {
                fprintf(stderr, "schedslice: this kernel has no per-task slices (6.12+)\n");
                return -1;
        }
        return 0;
}

static int set_process(pid_t pid, uint64_t ns)
{
        char path[64];
        struct dirent *e;
        DIR *dir;
        int rc = 0;

        snprintf(path, sizeof(path), "/proc/%d/task", pid);
        dir = opendir(path);
        if (!dir) {
                fprintf(stderr, "schedslice: %s: %s\n", path, strerror(errno));
                return -1;
        }
        while ((e = readdir(dir)))
                if (e->d_name[0] != '.' && set_slice(atoi(e->d_name), ns) < 0)
                        rc = -1;
        closedir(dir);
        return rc;
}

int main(int argc, char **argv)
{
        char *end;
        unsigned long us;
        int rc = 0;

        if (argc < 4 || (strcmp(argv[2], "-p") && strcmp(argv[2], "--"))) {
                fprintf(stderr, "usage: schedslice US -p PID... | schedslice US -- CMD [ARG...]\n");
                return 2;
        }
        errno = 0;
        us = strtoul(argv[1], &end, 10);
        if (errno || *end || end == argv[1] || us > 100000) {
                fprintf(stderr, "schedslice: slice '%s' is not 0..100000 µs\n", argv[1]);
                return 2;
        }
        if (strcmp(argv[2], "--") == 0) {
                if (set_slice(0, us * 1000) < 0)
                        return 1;
                execvp(argv[3], argv + 3);
                fprintf(stderr, "schedslice: %s: %s\n", argv[3], strerror(errno));
                return 127;
        }
        for (int i = 3; i < argc; i++)
                if (set_process(atoi(argv[i]), us * 1000) < 0)
                        rc = 1;
        return rc;
}
