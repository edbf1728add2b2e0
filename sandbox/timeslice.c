/* EEVDF per-task time slices (spawn.h): a task's slice is the sched_runtime
 * of its sched_attr when its policy is SCHED_OTHER or SCHED_BATCH (Linux
 * 6.12+; the kernel clamps it to 0.1..100 ms, 0 gives back the default
 * base_slice_ns). A shorter slice gives a woken task an earlier virtual
 * deadline, and with PREEMPT_SHORT it may preempt a longer-sliced task
 * before that one's slice is used up; a cgroup's entity takes the smallest
 * slice queued below it, so the VPS as a whole wakes up early too. The
 * slice is kept across fork and exec (sched_fork resets it only for
 * SCHED_RESET_ON_FORK), and a task may change its own without privileges,
 * so it is an offer to the VPS, not a limit on it. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/spawn.h"

/* struct sched_attr as of SCHED_ATTR_SIZE_VER0 (the kernel's uapi header
 * is not in every libc's) */
struct slice_attr {
        uint32_t size, policy;
        uint64_t flags;
        int32_t nice;
        uint32_t priority;
        uint64_t runtime, deadline, period;
};

#define POLICY_OTHER 0
#define POLICY_BATCH 3
#define FLAG_RESET_ON_FORK 0x01ULL

static int get_attr(pid_t tid, struct slice_attr *a)
{
        *a = (struct slice_attr){ 0 };
        return (int)syscall(SYS_sched_getattr, tid, a, sizeof(*a), 0);
}

int vs_timeslice_supported(void)
{
        struct slice_attr a;

        /* 6.12 and later report a fair task's slice, older kernels 0 */
        return get_attr(0, &a) == 0 && a.runtime != 0;
}

/* Sets tid's slice, keeping its policy, nice and reset-on-fork; a task of
 * another policy (idle, real-time) has no slice to set: left alone (1). */
static int set_attr(pid_t tid, unsigned long us)
{
        struct slice_attr a;

        if (get_attr(tid, &a) < 0)
                return -1;
        if (a.policy != POLICY_OTHER && a.policy != POLICY_BATCH)
                return 1;
        a.size = sizeof(a);
        a.flags &= FLAG_RESET_ON_FORK;
        a.runtime = (uint64_t)us * 1000;
        return (int)syscall(SYS_sched_setattr, tid, &a, 0);
}

int vs_timeslice_set_self(unsigned long us, vs_error_t *err)
{
        struct slice_attr a;

        if (set_attr(0, us) < 0)
                return vs_error_errno(err, "set the time slice");
        /* an older kernel takes sched_runtime and ignores it */
        if (us && (get_attr(0, &a) < 0 || a.runtime != (uint64_t)us * 1000))
                return vs_error_set(err, ENOTSUP,
                                    "--timeslice: this kernel has no per-task time "
                                    "slices (Linux 6.12 or later)");
        return 0;
}

int vs_timeslice_set_process(pid_t pid, unsigned long us, vs_error_t *err)
{
        char path[48];
        cleanup_closedir DIR *dir = NULL;
        struct dirent *e;

        snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
        dir = opendir(path);
        if (!dir)
                return errno == ENOENT ? 0 : vs_error_errno(err, "open %s", path);
        while ((e = readdir(dir))) {
                pid_t tid = (pid_t)atoi(e->d_name);

                /* a thread that ends meanwhile has nothing left to set */
                if (tid > 0 && set_attr(tid, us) < 0 && errno != ESRCH)
                        return vs_error_errno(err, "set the time slice of task %d", (int)tid);
        }
        return 0;
}
