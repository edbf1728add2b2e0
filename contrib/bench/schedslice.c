/* schedslice US -p PID...   sets the EEVDF slice of every thread of each PID
 * schedslice US -- CMD ...  runs CMD with that slice (its children inherit it)
 *
 * US is the slice in µs (the kernel clamps it to 100..100000); 0 gives a
 * task back the default slice (sysctl base_slice_ns). Linux 6.12 and later
 * take a SCHED_OTHER/SCHED_BATCH task's slice from sched_attr.sched_runtime;
 * an older kernel ignores it, which this tool reports (exit 1). The setting
 * is vsd's own (sandbox/timeslice.c), for contrib/bench/isolation.sh's
 * experiments (README.md): the echo server's VPS against the CPU hogs. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vs/spawn.h"

static int fail(const vs_error_t *err)
{
        fprintf(stderr, "schedslice: %s\n", err->msg);
        return 1;
}

int main(int argc, char **argv)
{
        vs_error_t err = { 0 };
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
                if (vs_timeslice_set_self(us, &err) < 0)
                        return fail(&err);
                execvp(argv[3], argv + 3);
                fprintf(stderr, "schedslice: %s: %s\n", argv[3], strerror(errno));
                return 127;
        }
        if (us && !vs_timeslice_supported()) {
                fprintf(stderr, "schedslice: this kernel has no per-task slices (6.12+)\n");
                return 1;
        }
        for (int i = 3; i < argc; i++) {
                pid_t pid = (pid_t)atoi(argv[i]);

                /* vsd leaves a process that is gone alone; asked for, it is an error */
                if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH)) {
                        fprintf(stderr, "schedslice: no process %s\n", argv[i]);
                        rc = 1;
                } else if (vs_timeslice_set_process(pid, us, &err) < 0) {
                        rc = fail(&err);
                }
        }
        return rc;
}
