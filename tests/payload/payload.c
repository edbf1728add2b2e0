/* payload: a small static multi-call binary that tests use as a VPS's init or
 * command, so that tests need no distribution. Usage: payload APPLET ARGS. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int applet_exit(int argc, char **argv)
{
        return argc > 1 ? atoi(argv[1]) : 0;
}

static int applet_sleep(int argc, char **argv)
{
        unsigned seconds = argc > 1 ? (unsigned)atoi(argv[1]) : 1000000;

        while (seconds > 0)
                seconds = sleep(seconds);
        return 0;
}

/* An init that ignores the polite stop signals: only SIGKILL ends it. */
static int applet_stubborn(int argc, char **argv)
{
        signal(SIGTERM, SIG_IGN);
        signal(SIGPWR, SIG_IGN);
        signal(SIGUSR2, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        return applet_sleep(argc, argv);
}

static int applet_pid(int argc, char **argv)
{
        (void)argc;
        (void)argv;
        printf("%d\n", (int)getpid());
        return 0;
}

static int applet_echo(int argc, char **argv)
{
        for (int i = 1; i < argc; i++)
                printf("%s%s", argv[i], i + 1 < argc ? " " : "");
        printf("\n");
        return 0;
}

static double now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A busy loop for S seconds (bounded: default 60). */
static int applet_cpuburn(int argc, char **argv)
{
        double end = now() + (argc > 1 ? atof(argv[1]) : 60);
        volatile unsigned long spin = 0;

        while (now() < end)
                for (int i = 0; i < 100000; i++)
                        spin++;
        return 0;
}

/* Allocates and touches N MiB, then prints "done". */
static int applet_memhog(int argc, char **argv)
{
        size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 100;

        for (size_t i = 0; i < mib; i++) {
                char *p = malloc(1 << 20);

                if (!p)
                        return 1;
                memset(p, 0x5a, 1 << 20);
        }
        printf("done\n");
        return 0;
}

/* Forks until the kernel refuses (at most 5000), prints how many children it
 * made, holds them for HOLD seconds (default 0), then kills them. The
 * children end by themselves after 30 s in any case. */
static int applet_forkbomb(int argc, char **argv)
{
        static pid_t kids[5000];
        unsigned hold = argc > 1 ? (unsigned)atoi(argv[1]) : 0;
        int n = 0;

        while (n < 5000) {
                pid_t pid = fork();

                if (pid == 0) {
                        alarm(30);
                        pause();
                        _exit(0);
                }
                if (pid < 0)
                        break;
                kids[n++] = pid;
        }
        printf("%d\n", n);
        fflush(stdout);
        while (hold > 0)
                hold = sleep(hold);
        for (int i = 0; i < n; i++)
                kill(kids[i], SIGKILL);
        while (wait(NULL) > 0)
                ;
        return 0;
}

static int applet_nofile(int argc, char **argv)
{
        struct rlimit lim;

        (void)argc;
        (void)argv;
        getrlimit(RLIMIT_NOFILE, &lim);
        printf("%llu %llu\n", (unsigned long long)lim.rlim_cur, (unsigned long long)lim.rlim_max);
        return 0;
}

/* ddwrite FILE MiB: writes with O_DIRECT in 1 MiB blocks; prints seconds. */
static int applet_ddwrite(int argc, char **argv)
{
        size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 10;
        int fd = argc > 1 ? open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0644) : -1;
        double start = now();
        void *buf;

        if (fd < 0 || posix_memalign(&buf, 4096, 1 << 20) != 0) {
                perror("ddwrite");
                return 1;
        }
        memset(buf, 0x5a, 1 << 20);
        for (size_t i = 0; i < mib; i++)
                if (write(fd, buf, 1 << 20) != 1 << 20) {
                        perror("ddwrite");
                        return 1;
                }
        fsync(fd);
        printf("%.3f\n", now() - start);
        return 0;
}

static const struct {
        const char *name;
        int (*fn)(int, char **);
        const char *help;
} applets[] = {
        { "exit", applet_exit, "exit N: exit with status N" },
        { "sleep", applet_sleep, "sleep [S]: sleep S seconds (default: for ever)" },
        { "stubborn", applet_stubborn, "stubborn [S]: sleep, ignoring stop signals" },
        { "pid", applet_pid, "pid: print own pid" },
        { "echo", applet_echo, "echo ARGS: print ARGS" },
        { "cpuburn", applet_cpuburn, "cpuburn [S]: busy loop for S seconds (default 60)" },
        { "memhog", applet_memhog, "memhog [MiB]: allocate and touch MiB, print done" },
        { "forkbomb", applet_forkbomb,
          "forkbomb [HOLD]: fork until refused, print the count, hold" },
        { "nofile", applet_nofile, "nofile: print RLIMIT_NOFILE soft and hard" },
        { "ddwrite", applet_ddwrite, "ddwrite FILE [MiB]: O_DIRECT write, print seconds" },
};

int main(int argc, char **argv)
{
        const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];

        if (strcmp(name, "payload") == 0) {
                argc--;
                argv++;
                name = argc > 0 ? argv[0] : "";
        }
        for (size_t i = 0; i < sizeof(applets) / sizeof(applets[0]); i++)
                if (strcmp(applets[i].name, name) == 0)
                        return applets[i].fn(argc, argv);
        fprintf(stderr, "payload: applets:\n");
        for (size_t i = 0; i < sizeof(applets) / sizeof(applets[0]); i++)
                fprintf(stderr, "  %s\n", applets[i].help);
        return 2;
}
