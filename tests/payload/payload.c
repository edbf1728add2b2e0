/* payload: a small static multi-call binary that tests use as a VPS's init or
 * command, so that tests need no distribution. Usage: payload APPLET ARGS. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
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

static int udp_socket(int port, struct sockaddr_in *addr)
{
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        struct timeval tv = { 1, 0 };

        memset(addr, 0, sizeof(*addr));
        addr->sin_family = AF_INET;
        addr->sin_port = htons((unsigned short)port);
        addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd >= 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        return fd;
}

/* udpecho PORT [S]: echoes datagrams on 127.0.0.1:PORT for S seconds
 * (default 60), printing "ready" once bound. */
static int applet_udpecho(int argc, char **argv)
{
        struct sockaddr_in addr, peer;
        int fd = udp_socket(argc > 1 ? atoi(argv[1]) : 7777, &addr);
        double end = now() + (argc > 2 ? atof(argv[2]) : 60);
        char buf[512];

        if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
                perror("udpecho");
                return 1;
        }
        printf("ready\n");
        fflush(stdout);
        while (now() < end) {
                socklen_t len = sizeof(peer);
                ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &len);

                if (n > 0)
                        sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, len);
        }
        return 0;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return x < y ? -1 : x > y;
}

/* udpping PORT N [GAP_MS]: N requests, one at a time, GAP_MS apart (default
 * 10); prints "sent N lost L median_us P p99_us Q max_us M". */
static int applet_udpping(int argc, char **argv)
{
        struct sockaddr_in addr;
        int fd = udp_socket(argc > 1 ? atoi(argv[1]) : 7777, &addr);
        int count = argc > 2 ? atoi(argv[2]) : 100, got = 0;
        long gap_us = (argc > 3 ? atol(argv[3]) : 10) * 1000;
        double *rtt = calloc((size_t)(count > 0 ? count : 1), sizeof(double));
        char buf[64];

        if (fd < 0 || !rtt || count <= 0)
                return 1;
        for (int i = 0; i < count; i++) {
                double t0 = now();
                ssize_t n;

                snprintf(buf, sizeof(buf), "%d", i);
                sendto(fd, buf, strlen(buf) + 1, 0, (struct sockaddr *)&addr, sizeof(addr));
                /* a late answer to an earlier request is not this one's */
                do
                        n = recv(fd, buf, sizeof(buf), 0);
                while (n > 0 && atoi(buf) != i);
                if (n > 0)
                        rtt[got++] = (now() - t0) * 1e6;
                usleep((useconds_t)gap_us);
        }
        qsort(rtt, (size_t)got, sizeof(double), cmp_double);
        /* got * 99 / 100 < got for any got >= 1 */
        printf("sent %d lost %d median_us %.0f p99_us %.0f max_us %.0f\n", count, count - got,
               got ? rtt[got / 2] : 0, got ? rtt[got * 99 / 100] : 0, got ? rtt[got - 1] : 0);
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
        { "udpecho", applet_udpecho, "udpecho PORT [S]: UDP echo server on 127.0.0.1" },
        { "udpping", applet_udpping, "udpping PORT N [GAP_MS]: N round trips, latency" },
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
