/* sysctlns N: what one sysctl write in a network namespace of its own costs
 * as namespaces accumulate (issue 13). Makes N network namespaces, each
 * held by a child that waits, and after making each one enters it and
 * writes /proc/sys/net/ipv6/conf/lo/addr_gen_mode through this process's
 * /proc, as vsd would for a VPS's eth0; prints the mean time of the writes
 * every N/6 namespaces. Every namespace's /proc/sys/net is a dentry of its
 * own under the same name in the same /proc, and each lookup compares
 * them all. As root, in a mount namespace of its own if you like:
 *   make build/sysctlns && unshare -m build/sysctlns 1500 */

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* A child in a new network namespace, waiting to be killed. */
static pid_t holder(void)
{
        int p[2];
        char c;
        pid_t pid;

        if (pipe(p) < 0)
                return -1;
        pid = fork();
        if (pid == 0) {
                if (unshare(CLONE_NEWNET) < 0)
                        _exit(1);
                if (write(p[1], "x", 1) != 1)
                        _exit(1);
                pause();
                _exit(0);
        }
        close(p[1]);
        if (pid > 0 && read(p[0], &c, 1) != 1)
                pid = -1;
        close(p[0]);
        return pid;
}

/* The write in pid's namespace, in µs; -1 on failure. */
static double timed_write(pid_t pid, int own)
{
        char path[64];
        double t0, t1;
        int ns, fd, ok;

        snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
        ns = open(path, O_RDONLY | O_CLOEXEC);
        if (ns < 0 || setns(ns, CLONE_NEWNET) < 0)
                return -1;
        close(ns);
        t0 = now_us();
        fd = open("/proc/sys/net/ipv6/conf/lo/addr_gen_mode", O_WRONLY | O_CLOEXEC);
        ok = fd >= 0 && write(fd, "1", 1) == 1;
        if (fd >= 0)
                close(fd);
        t1 = now_us();
        if (setns(own, CLONE_NEWNET) < 0) {
                perror("sysctlns: back to the own namespace");
                abort();
        }
        return ok ? t1 - t0 : -1;
}

int main(int argc, char **argv)
{
        int n = argc == 2 ? atoi(argv[1]) : 0, step, done = 0;
        int own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        pid_t *kids;
        double sum = 0;

        if (n < 6 || own < 0) {
                fprintf(stderr, "usage: sysctlns N   (N >= 6, as root)\n");
                return 2;
        }
        step = n / 6;
        kids = calloc((size_t)n, sizeof(*kids));
        for (int i = 0; kids && i < n; i++, done++) {
                double t;

                kids[i] = holder();
                if (kids[i] < 0 || (t = timed_write(kids[i], own)) < 0) {
                        perror("sysctlns");
                        break;
                }
                sum += t;
                if ((i + 1) % step == 0) {
                        printf("%d namespaces: a write %.1f us (mean of the last %d)\n", i + 1,
                               sum / step, step);
                        fflush(stdout);
                        sum = 0;
                }
        }
        for (int i = 0; i < done; i++)
                if (kids[i] > 0)
                        kill(kids[i], SIGKILL);
        for (int i = 0; i < done; i++)
                if (kids[i] > 0)
                        waitpid(kids[i], NULL, 0);
        free(kids);
        return done == n ? 0 : 1;
}
