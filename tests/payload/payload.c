/* payload: a small static multi-call binary that tests use as a VPS's init or
 * command, so that tests need no distribution. Usage: payload APPLET ARGS. */
#include <dirent.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <grp.h>
#include <sys/file.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <sys/sysinfo.h>
#include <sched.h>
#include <linux/capability.h>
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

/* Writes N bytes of text to stdout (a VPS's console when run as its init),
 * then sleeps. */
static int applet_spew(int argc, char **argv)
{
        long left = argc > 1 ? atol(argv[1]) : 0;
        char line[64];

        memset(line, 'x', sizeof(line) - 1);
        line[sizeof(line) - 1] = '\n';
        while (left > 0) {
                size_t n = left < (long)sizeof(line) ? (size_t)left : sizeof(line);

                if (write(STDOUT_FILENO, line, n) < 0)
                        return 1;
                left -= (long)n;
        }
        return applet_sleep(1, argv);
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

/* A busy loop for S seconds (bounded: default 60); with "count", prints
 * how many rounds of 100000 it made (its throughput, for benchmarks). */
static int applet_cpuburn(int argc, char **argv)
{
        double end = now() + (argc > 1 ? atof(argv[1]) : 60);
        volatile unsigned long spin = 0;
        unsigned long rounds = 0;

        while (now() < end) {
                for (int i = 0; i < 100000; i++)
                        spin++;
                rounds++;
        }
        if (argc > 2 && strcmp(argv[2], "count") == 0)
                printf("rounds %lu\n", rounds);
        return 0;
}

/* Allocates and touches N MiB, then prints "done". */
static int applet_memhog(int argc, char **argv)
{
        size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 100;
        unsigned hold = argc > 2 ? (unsigned)atoi(argv[2]) : 0;

        for (size_t i = 0; i < mib; i++) {
                char *p = malloc(1 << 20);

                if (!p)
                        return 1;
                memset(p, 0x5a, 1 << 20);
        }
        printf("done\n");
        fflush(stdout);
        while (hold > 0)
                hold = sleep(hold);
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

/* inotify N [hold]: makes up to N inotify instances, prints how many it
 * got (the kernel counts them per user, per user namespace), and with
 * "hold" keeps them until killed. */
static int applet_inotify(int argc, char **argv)
{
        int want = argc > 1 ? atoi(argv[1]) : 1, got = 0;

        while (got < want && syscall(SYS_inotify_init1, 0) >= 0)
                got++;
        printf("%d\n", got);
        fflush(stdout);
        if (argc > 2 && strcmp(argv[2], "hold") == 0)
                for (;;)
                        pause();
        return 0;
}

/* sysconf: what glibc tells a program of its machine: online CPUs and
 * physical pages (and the page size). */
static int applet_sysconf(int argc, char **argv)
{
        (void)argc;
        (void)argv;
        printf("%ld %ld %ld\n", sysconf(_SC_NPROCESSORS_ONLN), sysconf(_SC_PHYS_PAGES),
               sysconf(_SC_PAGESIZE));
        return 0;
}

/* sysinfo: what sysinfo(2) tells (busybox's free and uptime ask it), the
 * sizes in bytes. */
static int applet_sysinfo(int argc, char **argv)
{
        struct sysinfo si;
        unsigned long u;

        (void)argc;
        (void)argv;
        if (sysinfo(&si) < 0) {
                printf("sysinfo: %s\n", strerror(errno));
                return 1;
        }
        u = si.mem_unit ? si.mem_unit : 1;
        printf("uptime=%ld totalram=%lu freeram=%lu sharedram=%lu bufferram=%lu totalswap=%lu "
               "freeswap=%lu procs=%u load1=%lu\n",
               si.uptime, si.totalram * u, si.freeram * u, si.sharedram * u, si.bufferram * u,
               si.totalswap * u, si.freeswap * u, (unsigned)si.procs, si.loads[0]);
        return 0;
}

/* sysinfoloop N TOTALRAM MAX_UPTIME: sysinfo(2) N times; each must succeed
 * and tell totalram TOTALRAM bytes and an uptime below MAX_UPTIME (the
 * VPS's). Prints "sysinfoloop ok N" or the first failure. */
static int applet_sysinfoloop(int argc, char **argv)
{
        long n = argc > 1 ? atol(argv[1]) : 10000;
        unsigned long long want = argc > 2 ? strtoull(argv[2], NULL, 10) : 0;
        long max_up = argc > 3 ? atol(argv[3]) : 0;

        for (long i = 0; i < n; i++) {
                struct sysinfo si;
                unsigned long long total;

                if (sysinfo(&si) < 0) {
                        printf("sysinfoloop FAIL %ld: %s\n", i, strerror(errno));
                        return 1;
                }
                total = (unsigned long long)si.totalram * (si.mem_unit ? si.mem_unit : 1);
                if (total != want || si.uptime < 0 || si.uptime >= max_up) {
                        printf("sysinfoloop FAIL %ld: totalram %llu uptime %ld\n", i, total,
                               si.uptime);
                        return 1;
                }
        }
        printf("sysinfoloop ok %ld\n", n);
        return 0;
}

/* affinity: how many CPUs sched_getaffinity(0) gives (coreutils' nproc). */
static int applet_affinity(int argc, char **argv)
{
        cpu_set_t set;

        (void)argc;
        (void)argv;
        if (sched_getaffinity(0, sizeof(set), &set) < 0) {
                printf("sched_getaffinity: %s\n", strerror(errno));
                return 1;
        }
        printf("%d\n", CPU_COUNT(&set));
        return 0;
}

/* Reads a whole file with open, read and close; -1 with errno on failure. */
static ssize_t read_whole(const char *path, char *buf, size_t size)
{
        int fd = open(path, O_RDONLY);
        ssize_t n, len = 0;

        if (fd < 0)
                return -1;
        while ((size_t)len + 1 < size && (n = read(fd, buf + len, size - 1 - (size_t)len)) > 0)
                len += n;
        if (n < 0) {
                close(fd);
                return -1;
        }
        close(fd);
        buf[len] = '\0';
        return len;
}

static int cmp_long(const void *a, const void *b)
{
        long x = *(const long *)a, y = *(const long *)b;

        return x < y ? -1 : x > y;
}

/* readbench FILE N: N times open, read to the end and close FILE; prints
 * the median and the p99 (nearest rank) of one such read in microseconds,
 * and the number of failed reads. For contrib/bench, never for tests. */
static int applet_readbench(int argc, char **argv)
{
        long n = argc > 2 ? atol(argv[2]) : 1000, fails = 0;
        long *ns = n > 0 ? malloc(sizeof(long) * (size_t)n) : NULL;
        char buf[65536];

        if (!ns || argc < 2)
                return 2;
        for (long i = 0; i < n; i++) {
                struct timespec t0, t1;

                clock_gettime(CLOCK_MONOTONIC, &t0);
                if (read_whole(argv[1], buf, sizeof(buf)) <= 0)
                        fails++;
                clock_gettime(CLOCK_MONOTONIC, &t1);
                ns[i] = (t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec);
        }
        qsort(ns, (size_t)n, sizeof(long), cmp_long);
        printf("%.1f %.1f %ld\n", ns[(n - 1) / 2] / 1000.0, ns[(n * 99 + 99) / 100 - 1] / 1000.0,
               fails);
        free(ns);
        return fails ? 1 : 0;
}

/* The bytes of a read that must be well formed: no NUL byte. */
static int has_nul(const char *buf, ssize_t n)
{
        return n > 0 && memchr(buf, '\0', (size_t)n) != NULL;
}

/* oddreads FILE [exact]: reads FILE whole, then on the same open file at
 * odd offsets and sizes (pread at 0, 1, 4095, 4096, its end - 1, its end,
 * just past it, 1 MiB and 2^40 past it; sizes 1, 7, 4096, 1 MiB), then
 * byte by byte and 1 MiB at once through new opens. "exact" (a file whose
 * text does not move): every answer is the whole read's bytes there; else
 * no answer is longer than asked or holds a NUL, past the end + 1 MiB is
 * empty, and the byte-by-byte text is lines. Prints "oddreads ok N" (N
 * reads) or the first failure. */
static int applet_oddreads(int argc, char **argv)
{
        static char full[1 << 20], buf[1 << 20];
        int exact = argc > 2 && strcmp(argv[2], "exact") == 0;
        int fd = argc > 1 ? open(argv[1], O_RDONLY) : -1;
        ssize_t len = 0, n;
        long reads = 0;

        if (fd < 0) {
                printf("oddreads FAIL open: %s\n", strerror(errno));
                return 1;
        }
        while ((n = read(fd, full + len, sizeof(full) - (size_t)len)) > 0)
                len += n;
        if (n < 0 || len == 0 || has_nul(full, len)) {
                printf("oddreads FAIL whole read: %zd bytes (%s)\n", len, strerror(errno));
                return 1;
        }
        long long offs[] = { 0, 1, 4095, 4096, len - 1, len, len + 1, len + (1 << 20), 1LL << 40 };
        size_t sizes[] = { 1, 7, 4096, 1 << 20 };
        for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
                for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
                        long long want = offs[i] >= len ? 0 : len - offs[i];

                        if (want > (long long)sizes[k])
                                want = (long long)sizes[k];
                        n = pread(fd, buf, sizes[k], (off_t)offs[i]);
                        reads++;
                        if (n < 0 || n > (ssize_t)sizes[k] || has_nul(buf, n) ||
                            (offs[i] >= len + (1 << 20) && n != 0) ||
                            (exact && (n != want || memcmp(buf, full + offs[i], (size_t)n)))) {
                                printf("oddreads FAIL pread %zu at %lld: %zd bytes, want %lld "
                                       "(%s)\n",
                                       sizes[k], offs[i], n, want, n < 0 ? strerror(errno) : "");
                                return 1;
                        }
                }
        }
        close(fd);
        fd = open(argv[1], O_RDONLY);
        len = exact ? len : 0;
        {
                ssize_t got = 0;

                while (fd >= 0 && got < (ssize_t)sizeof(buf) && (n = read(fd, buf + got, 1)) == 1)
                        got++, reads++;
                if (fd < 0 || n < 0 || got == 0 || has_nul(buf, got) || buf[got - 1] != '\n' ||
                    (exact && (got != len || memcmp(buf, full, (size_t)got)))) {
                        printf("oddreads FAIL byte by byte: %zd bytes\n", got);
                        return 1;
                }
        }
        close(fd);
        fd = open(argv[1], O_RDONLY);
        n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
        reads++;
        if (n <= 0 || has_nul(buf, n) || (exact && (n != len || memcmp(buf, full, (size_t)n)))) {
                printf("oddreads FAIL read of 1 MiB: %zd bytes\n", n);
                return 1;
        }
        close(fd);
        printf("oddreads ok %ld\n", reads);
        return 0;
}

/* manyopen FILE N: holds N opens of FILE at once (its soft RLIMIT_NOFILE
 * raised to its hard one), then reads each: every first line is the first
 * open's. Prints "manyopen ok N FIRSTLINE", or "manyopen EMFILE K" when
 * the limit stopped the K+1st open (a normal error), or a failure. */
static int applet_manyopen(int argc, char **argv)
{
        long n = argc > 2 ? atol(argv[2]) : 1000, opened = 0;
        int *fds = n > 0 ? calloc((size_t)n, sizeof(int)) : NULL;
        char first[256] = "", buf[8192];
        struct rlimit rl;
        int rc = 0;

        if (!fds || argc < 3)
                return 2;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
                rl.rlim_cur = rl.rlim_max;
                setrlimit(RLIMIT_NOFILE, &rl);
        }
        for (; opened < n; opened++)
                if ((fds[opened] = open(argv[1], O_RDONLY)) < 0)
                        break;
        if (opened < n && errno != EMFILE) {
                printf("manyopen FAIL open %ld: %s\n", opened, strerror(errno));
                return 1;
        }
        for (long i = 0; i < opened && rc == 0; i++) {
                ssize_t len = pread(fds[i], buf, sizeof(buf) - 1, 0);
                char *nl;

                if (len <= 0) {
                        printf("manyopen FAIL read %ld: %zd (%s)\n", i, len, strerror(errno));
                        rc = 1;
                        break;
                }
                buf[len] = '\0';
                nl = strchr(buf, '\n');
                if (nl)
                        *nl = '\0';
                if (i == 0)
                        snprintf(first, sizeof(first), "%.200s", buf);
                else if (strncmp(first, buf, 200) != 0) {
                        printf("manyopen FAIL read %ld: '%.200s', the first was '%s'\n", i, buf,
                               first);
                        rc = 1;
                }
        }
        for (long i = 0; i < opened; i++)
                close(fds[i]);
        if (rc == 0 && opened < n)
                printf("manyopen EMFILE %ld\n", opened);
        else if (rc == 0)
                printf("manyopen ok %ld %s\n", opened, first);
        return rc;
}

/* reread FILE MS: reads FILE, waits MS milliseconds with it open, reads it
 * again from its start (lseek, as top does); prints both first fields. */
static int applet_reread(int argc, char **argv)
{
        char a[8192], b[8192];
        int fd = argc > 2 ? open(argv[1], O_RDONLY) : -1;
        struct timespec ts;
        ssize_t n1, n2;

        if (fd < 0)
                return 2;
        ts.tv_sec = atol(argv[2]) / 1000;
        ts.tv_nsec = atol(argv[2]) % 1000 * 1000000L;
        n1 = read(fd, a, sizeof(a) - 1);
        nanosleep(&ts, NULL);
        lseek(fd, 0, SEEK_SET);
        n2 = read(fd, b, sizeof(b) - 1);
        if (n1 <= 0 || n2 <= 0)
                return 1;
        a[n1] = b[n2] = '\0';
        a[strcspn(a, " \n")] = b[strcspn(b, " \n")] = '\0';
        printf("%s %s\n", a, b);
        return 0;
}

/* viewloop N USEC MEMTOTAL_KB MAX_UPTIME: reads /proc/meminfo and
 * /proc/uptime N times, USEC apart; every read must succeed and show
 * MemTotal MEMTOTAL_KB and an uptime below MAX_UPTIME seconds (the VPS's,
 * not the host's). Prints "viewloop ok N" or the first failure. */
static int applet_viewloop(int argc, char **argv)
{
        long n = argc > 1 ? atol(argv[1]) : 10000;
        long usec = argc > 2 ? atol(argv[2]) : 0;
        long want_kb = argc > 3 ? atol(argv[3]) : 0;
        double max_up = argc > 4 ? atof(argv[4]) : 0;
        char buf[8192];

        for (long i = 0; i < n; i++) {
                const char *total;
                long kb;
                double up;

                if (read_whole("/proc/meminfo", buf, sizeof(buf)) < 0) {
                        printf("viewloop FAIL %ld: /proc/meminfo: %s\n", i, strerror(errno));
                        return 1;
                }
                total = strstr(buf, "MemTotal:");
                kb = total ? atol(total + 9) : -1;
                if (kb != want_kb) {
                        printf("viewloop FAIL %ld: MemTotal %ld kB, not %ld\n", i, kb, want_kb);
                        return 1;
                }
                if (read_whole("/proc/uptime", buf, sizeof(buf)) < 0) {
                        printf("viewloop FAIL %ld: /proc/uptime: %s\n", i, strerror(errno));
                        return 1;
                }
                up = atof(buf);
                if (up < 0 || up >= max_up) {
                        printf("viewloop FAIL %ld: uptime %s", i, buf);
                        return 1;
                }
                if (usec)
                        usleep((useconds_t)usec);
        }
        printf("viewloop ok %ld\n", n);
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

static int parse_in(const char *text, struct in_addr *out);

/* spec: PORT (127.0.0.1) or ADDR:PORT; -1 for a bad ADDR */
static int udp_socket(const char *spec, struct sockaddr_in *addr)
{
        const char *colon = spec ? strrchr(spec, ':') : NULL;
        struct timeval tv = { 1, 0 };
        int fd;

        memset(addr, 0, sizeof(*addr));
        addr->sin_family = AF_INET;
        addr->sin_port = htons((unsigned short)atoi(colon ? colon + 1 : spec ? spec : "7777"));
        addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (colon) {
                char host[INET_ADDRSTRLEN];

                snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
                if (parse_in(host, &addr->sin_addr) < 0)
                        return -1;
        }
        fd = socket(AF_INET, SOCK_DGRAM, 0);
        if (fd >= 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        return fd;
}
static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return x < y ? -1 : x > y;
}
/* udpecho [ADDR:]PORT [S]: echoes datagrams on ADDR (127.0.0.1):PORT for S
 * seconds (default 60), printing "ready" once bound. */
static int applet_udpecho(int argc, char **argv)
{
        struct sockaddr_in addr, peer;
        int fd = udp_socket(argc > 1 ? argv[1] : NULL, &addr);
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
/* udpping [ADDR:]PORT N [GAP_MS [LOG]]: N requests, one at a time, GAP_MS apart
 * (default 10); prints "sent N lost L median_us P p99_us Q max_us M". LOG, a
 * file: one line per request, "I T0_NS RTT_US" (T0 on CLOCK_MONOTONIC, the
 * clock a trace can be read on; RTT -1 when lost), to find a slow one in a
 * scheduler trace (contrib/bench/isolation.sh ISOLATION_TRACE). */
static int applet_udpping(int argc, char **argv)
{
        struct sockaddr_in addr;
        int fd = udp_socket(argc > 1 ? argv[1] : NULL, &addr);
        int count = argc > 2 ? atoi(argv[2]) : 100, got = 0;
        long gap_us = (argc > 3 ? atol(argv[3]) : 10) * 1000;
        double *rtt = calloc((size_t)(count > 0 ? count : 1), sizeof(double));
        FILE *log = argc > 4 ? fopen(argv[4], "w") : NULL;
        char buf[64];

        if (fd < 0 || !rtt || count <= 0 || (argc > 4 && !log))
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
                if (log)
                        fprintf(log, "%d %.0f %.1f\n", i, t0 * 1e9, n > 0 ? rtt[got - 1] : -1.0);
                usleep((useconds_t)gap_us);
        }
        if (log)
                fclose(log);
        qsort(rtt, (size_t)got, sizeof(double), cmp_double);
        /* got * 99 / 100 < got for any got >= 1 */
        printf("sent %d lost %d median_us %.0f p99_us %.0f max_us %.0f\n", count, count - got,
               got ? rtt[got / 2] : 0, got ? rtt[got * 99 / 100] : 0, got ? rtt[got - 1] : 0);
        return 0;
}

/* ---- anti-spoofing and NAT ---- */

static int parse_in(const char *text, struct in_addr *out)
{
        if (inet_pton(AF_INET, text, out) != 1) {
                fprintf(stderr, "payload: '%s' is not an IPv4 address\n", text);
                return -1;
        }
        return 0;
}

/* spoof SRC DST PORT TEXT: one UDP datagram from SRC (any address, forged or
 * not) to DST:PORT, built by hand on a raw socket (IP_HDRINCL). */
static int applet_spoof(int argc, char **argv)
{
        struct {
                struct iphdr ip;
                struct udphdr udp;
                char data[256];
        } __attribute__((packed)) pkt;
        struct sockaddr_in to = { .sin_family = AF_INET };
        struct in_addr src, dst;
        size_t len;
        int fd, on = 1;

        if (argc != 5 || parse_in(argv[1], &src) < 0 || parse_in(argv[2], &dst) < 0) {
                fprintf(stderr, "usage: spoof SRC DST PORT TEXT\n");
                return 2;
        }
        len = strlen(argv[4]);
        if (len > sizeof(pkt.data))
                len = sizeof(pkt.data);
        memset(&pkt, 0, sizeof(pkt));
        memcpy(pkt.data, argv[4], len);
        pkt.ip.version = 4;
        pkt.ip.ihl = 5;
        pkt.ip.ttl = 64;
        pkt.ip.protocol = IPPROTO_UDP;
        pkt.ip.tot_len = htons((uint16_t)(sizeof(pkt.ip) + sizeof(pkt.udp) + len));
        pkt.ip.saddr = src.s_addr;
        pkt.ip.daddr = dst.s_addr;
        pkt.udp.source = htons(40000);
        pkt.udp.dest = htons((uint16_t)atoi(argv[3]));
        pkt.udp.len = htons((uint16_t)(sizeof(pkt.udp) + len));
        /* the kernel fills in the IP checksum; a zero UDP checksum is none */
        to.sin_addr = dst;
        fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
        if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &on, sizeof(on)) < 0 ||
            sendto(fd, &pkt, sizeof(pkt.ip) + sizeof(pkt.udp) + len, 0, (struct sockaddr *)&to,
                   sizeof(to)) < 0) {
                perror("spoof");
                return 1;
        }
        return 0;
}

/* udpsend DST PORT TEXT: one datagram from an ordinary UDP socket. */
static int applet_udpsend(int argc, char **argv)
{
        struct sockaddr_in to = { .sin_family = AF_INET };
        int fd;

        if (argc != 4 || parse_in(argv[1], &to.sin_addr) < 0) {
                fprintf(stderr, "usage: udpsend DST PORT TEXT\n");
                return 2;
        }
        to.sin_port = htons((uint16_t)atoi(argv[2]));
        fd = socket(AF_INET, SOCK_DGRAM, 0);
        if (fd < 0 ||
            sendto(fd, argv[3], strlen(argv[3]), 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
                perror("udpsend");
                return 1;
        }
        return 0;
}

/* udpflood DST PORT SECONDS: 1 KB datagrams to DST:PORT as fast as the
 * socket takes them, for SECONDS; prints how many went. A neighbour that
 * floods at its rate cap (the isolation bench). */
static int applet_udpflood(int argc, char **argv)
{
        struct sockaddr_in to = { .sin_family = AF_INET };
        char buf[1024] = { 0 };
        unsigned long sent = 0;
        double end;
        int fd;

        if (argc != 4 || parse_in(argv[1], &to.sin_addr) < 0) {
                fprintf(stderr, "usage: udpflood DST PORT SECONDS\n");
                return 2;
        }
        to.sin_port = htons((uint16_t)atoi(argv[2]));
        end = now() + atof(argv[3]);
        if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0) {
                perror("udpflood");
                return 1;
        }
        while (now() < end)
                if (sendto(fd, buf, sizeof(buf), 0, (struct sockaddr *)&to, sizeof(to)) > 0)
                        sent++;
        printf("%lu\n", sent);
        return 0;
}

/* udprecv PORT STOP [S]: prints "ready" once bound on every address, then
 * "SOURCE TEXT" per datagram, until TEXT is STOP or S seconds (default 10)
 * passed; exits 0 when STOP came, 1 otherwise. */
static int applet_udprecv(int argc, char **argv)
{
        struct sockaddr_in addr = { .sin_family = AF_INET }, peer;
        struct timeval tv = { 0, 200000 };
        double end = now() + (argc > 3 ? atof(argv[3]) : 10);
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        char buf[512], from[INET_ADDRSTRLEN];

        if (argc < 3)
                return 2;
        addr.sin_port = htons((uint16_t)atoi(argv[1]));
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
            bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
                perror("udprecv");
                return 1;
        }
        printf("ready\n");
        fflush(stdout);
        while (now() < end) {
                socklen_t len = sizeof(peer);
                ssize_t n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&peer, &len);

                if (n <= 0)
                        continue;
                buf[n] = '\0';
                inet_ntop(AF_INET, &peer.sin_addr, from, sizeof(from));
                printf("%s %s\n", from, buf);
                fflush(stdout);
                if (strcmp(buf, argv[2]) == 0)
                        return 0;
        }
        return 1;
}

/* ---- escape attempts ----
 * "try MARKER ATTEMPT": MARKER is a file the test made on the host; if this
 * process can see it, it is not inside a VPS and refuses to touch the kernel.
 * Exit 0: the attempt succeeded (an escape), 1: it was refused, 2: usage or
 * not inside a VPS. Attempts that would change the host if they worked stop
 * at the first step that proves the door open (an open for writing). */

/* The errno's name first ("EPERM"), so that a test can tell the refusal it
 * expects from any other failure. */
static int refused(const char *what)
{
        int saved = errno;
        const char *name = strerrorname_np(saved);

        printf("%s: refused: %s (%s)\n", what, name ? name : "?", strerror(saved));
        return 1;
}

static int succeeded(const char *what)
{
        printf("%s: SUCCEEDED\n", what);
        return 0;
}

static int verdict(long rc, const char *what)
{
        return rc < 0 ? refused(what) : succeeded(what);
}

static int try_open_write(const char *path)
{
        int fd = open(path, O_WRONLY);

        if (fd < 0)
                return refused(path);
        close(fd); /* nothing written: the door being open is the finding */
        return succeeded(path);
}

/* Flags no kernel knows: the kernel checks the privilege (CAP_SYS_MODULE,
 * modules_disabled) first and the flags next, so a caller that may load
 * modules gets EINVAL, a kernel without modules ENOSYS, and only a refused
 * privilege (or vsd's seccomp filter) EPERM. Nothing can be loaded. */
#define FLAGS_NO_KERNEL_KNOWS (1 << 30)

static int try_module(void)
{
        return verdict(syscall(SYS_finit_module, -1, "", FLAGS_NO_KERNEL_KNOWS), "finit_module");
}

/* The same for kexec: CAP_SYS_BOOT and kexec_load_disabled first, then the
 * flags (EINVAL for host root, ENOSYS without kexec, EPERM when refused). */
static int try_kexec(void)
{
        return verdict(
                syscall(SYS_kexec_file_load, -1, -1, 0UL, "", (unsigned long)FLAGS_NO_KERNEL_KNOWS),
                "kexec_file_load");
}

static int try_open_by_handle(const char *path)
{
        struct {
                struct file_handle h;
                unsigned char bytes[128];
        } handle = { .h.handle_bytes = 128 };
        int mount_id, mount_fd;

        if (syscall(SYS_name_to_handle_at, AT_FDCWD, path, &handle.h, &mount_id, 0) < 0) {
                /* a file system without handles (a VPS's overlay root): a
                 * made-up handle still meets open_by_handle_at's privilege
                 * check, which is what is tried */
                memset(&handle, 0, sizeof(handle));
                handle.h.handle_bytes = 8;
                handle.h.handle_type = 1;
        }
        /* the handle is looked up on the file system of this fd */
        mount_fd = open(path, O_RDONLY | O_DIRECTORY);
        if (mount_fd < 0)
                return refused("open the file system");
        return verdict(syscall(SYS_open_by_handle_at, mount_fd, &handle.h, O_RDONLY),
                       "open_by_handle_at");
}

static int try_bpf(void)
{
        /* the smallest program there is: return 0 */
        unsigned long long insns[2] = { 0x00000000000000b7ULL, 0x0000000000000095ULL };
        union {
                unsigned char raw[128];
                struct {
                        unsigned prog_type, insn_cnt;
                        unsigned long long insns, license;
                } load;
        } attr;

        memset(&attr, 0, sizeof(attr));
        attr.load.prog_type = 1; /* BPF_PROG_TYPE_SOCKET_FILTER */
        attr.load.insn_cnt = 2;
        attr.load.insns = (unsigned long long)(unsigned long)insns;
        attr.load.license = (unsigned long long)(unsigned long)"GPL";
        return verdict(syscall(SYS_bpf, 5 /* BPF_PROG_LOAD */, &attr, sizeof(attr)), "bpf");
}

static int try_perf(void)
{
        unsigned char attr[128];

        memset(attr, 0, sizeof(attr));
        ((unsigned *)attr)[0] = 1;   /* type PERF_TYPE_SOFTWARE */
        ((unsigned *)attr)[1] = 128; /* size */
        return verdict(syscall(SYS_perf_event_open, attr, 0, -1, -1, 0), "perf_event_open");
}

static int try_mknod_mount(void)
{
        if (mknod("/tmp/escape-disk", S_IFBLK | 0600, makedev(253, 0)) < 0 &&
            mknod("/tmp/escape-disk", S_IFBLK | 0600, makedev(8, 0)) < 0)
                return refused("mknod block device");
        mkdir("/tmp/escape-mnt", 0700);
        return verdict(mount("/tmp/escape-disk", "/tmp/escape-mnt", "ext4", MS_RDONLY, NULL),
                       "mount a host disk");
}

/* Device nodes made where the VPS may write: a char device (null's) and a
 * block device of the disk that holds its root. Removed again. */
static int try_mknod(void)
{
        struct stat root;
        int rc;

        if (stat("/", &root) < 0)
                return refused("stat /");
        if (mknod("/tmp/escape-node-c", S_IFCHR | 0600, makedev(1, 3)) < 0)
                return refused("mknod char device");
        unlink("/tmp/escape-node-c");
        rc = mknod("/tmp/escape-node-b", S_IFBLK | 0600, root.st_dev);
        if (rc < 0)
                return refused("mknod block device");
        unlink("/tmp/escape-node-b");
        return succeeded("mknod");
}

static int try_release_agent(void)
{
        mkdir("/tmp/escape-cg", 0700);
        if (mount("cgroup", "/tmp/escape-cg", "cgroup", 0, "none,name=escape") < 0 &&
            mount("cgroup", "/tmp/escape-cg", "cgroup", 0, "memory") < 0)
                return refused("mount cgroup v1");
        return try_open_write("/tmp/escape-cg/release_agent");
}

static int try_settime(void)
{
        struct timespec now;

        clock_gettime(CLOCK_REALTIME, &now); /* setting it to now changes nothing */
        return verdict(clock_settime(CLOCK_REALTIME, &now), "clock_settime");
}

/* PTRACE_SEIZE: the same permission checks as an attach, without stopping
 * the tracee (the host control must leave its target running). */
static int try_ptrace(int argc, char **argv)
{
        long pid = argc > 0 ? atol(argv[0]) : 1;

        return verdict(ptrace(PTRACE_SEIZE, (pid_t)pid, 0, 0), "ptrace");
}

static int try_kill(int argc, char **argv)
{
        long pid = argc > 0 ? atol(argv[0]) : 1;

        return verdict(kill((pid_t)pid, 0), "kill");
}

/* A file system the kernel keeps global (debugfs, tracefs, securityfs) or
 * that a VPS must not have (bpf), mounted and at once unmounted again. */
static int try_mount(int argc, char **argv)
{
        char dir[64];

        if (argc < 1)
                return 2;
        snprintf(dir, sizeof(dir), "/tmp/escape-mnt-%s", argv[0]);
        mkdir(dir, 0700);
        if (mount(argv[0], dir, argv[0], MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                return refused(argv[0]);
        umount2(dir, MNT_DETACH);
        return succeeded(argv[0]);
}

/* PATH (a read-only mount) made writable, proven by opening PROBE for
 * writing; nothing is written, and PATH is made read-only again. */
static int try_remount_rw(int argc, char **argv)
{
        const unsigned long keep = MS_NOSUID | MS_NODEV | MS_NOEXEC;
        int fd;

        if (argc < 2)
                return 2;
        if (mount(NULL, argv[0], NULL, MS_REMOUNT | MS_BIND | keep, NULL) < 0 &&
            mount(NULL, argv[0], NULL, MS_REMOUNT | keep, NULL) < 0)
                return refused("remount read-write");
        fd = open(argv[1], O_WRONLY);
        mount(NULL, argv[0], NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | keep, NULL);
        if (fd < 0)
                return refused(argv[1]);
        close(fd);
        return succeeded(argv[1]);
}

/* A fresh mount of FSTYPE (proc, sysfs) without the masks and read-only
 * binds over the VPS's own, proven by opening PROBE (relative to it) for
 * writing. */
static int try_fresh(int argc, char **argv)
{
        char dir[64], probe[256];
        int fd;

        if (argc < 2)
                return 2;
        snprintf(dir, sizeof(dir), "/tmp/escape-fresh-%s", argv[0]);
        snprintf(probe, sizeof(probe), "%s/%s", dir, argv[1]);
        mkdir(dir, 0700);
        if (mount(argv[0], dir, argv[0], MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                return refused(argv[0]);
        fd = open(probe, O_WRONLY);
        umount2(dir, MNT_DETACH);
        if (fd < 0)
                return refused(probe);
        close(fd);
        return succeeded(probe);
}

/* What a mount over PATH hides (a masked /proc file, a read-only bind). */
static int try_unmount(int argc, char **argv)
{
        if (argc < 1)
                return 2;
        return verdict(umount2(argv[0], MNT_DETACH), argv[0]);
}

static int marker_visible(const char *marker)
{
        return access(marker, F_OK) == 0;
}

/* ---- above the root ----
 * The ways a root with CAP_SYS_CHROOT has to climb above its root: `..`
 * from a descriptor of the root and of each mount on it, the root of every
 * process in /proc and `..` from it and from its cwd, and the chroot escape
 * (mkdir x; chroot x; cd ../../..; chroot .), last, as it changes the
 * caller's root. Each ends at a directory that must be the caller's own
 * root, from which the marker (a file of the host's) is not seen. */

#define CLIMB_STEPS 64

/* Where CLIMB_STEPS of `..` from dirfd end, or the last directory it
 * could climb to (dirfd is closed): a new descriptor, or -1 */
static int climb_from(int dirfd)
{
        int fd = dirfd;

        for (int i = 0; i < CLIMB_STEPS && fd >= 0; i++) {
                int up = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);

                if (up < 0)
                        break;
                close(fd);
                fd = up;
        }
        return fd;
}

/* dirfd (closed here) is not the root, or the marker is seen from it */
static int elsewhere(int dirfd, const struct stat *root, const char *marker)
{
        struct stat st;
        int out;

        if (dirfd < 0)
                return 0;
        out = fstat(dirfd, &st) == 0 &&
              (st.st_dev != root->st_dev || st.st_ino != root->st_ino ||
               faccessat(dirfd, marker + strspn(marker, "/"), F_OK, 0) == 0);
        close(dirfd);
        return out;
}

static int open_dir(const char *path)
{
        return open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

/* `..` from the root and the mounts on it: 1 with the start that got out */
static int dirs_climb_out(const struct stat *root, const char *marker, char *how, size_t size)
{
        static const char *const starts[] = { "/", "/proc", "/sys", "/dev", "/dev/pts", "/run" };

        for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
                snprintf(how, size, "`..` from %s", starts[i]);
                if (elsewhere(climb_from(open_dir(starts[i])), root, marker))
                        return 1;
        }
        return 0;
}

/* Each process's root (where it must be the caller's) and `..` from its
 * root and cwd */
static int proc_climbs_out(const struct stat *root, const char *marker, char *how, size_t size)
{
        DIR *proc = opendir("/proc");
        struct dirent *e;
        int out = 0;

        while (proc && !out && (e = readdir(proc))) {
                char path[300];

                if (e->d_name[0] < '0' || e->d_name[0] > '9')
                        continue;
                snprintf(path, sizeof(path), "/proc/%s/root", e->d_name);
                snprintf(how, size, "%s", path);
                out = elsewhere(open_dir(path), root, marker);
                snprintf(how, size, "`..` from %s", path);
                out = out || elsewhere(climb_from(open_dir(path)), root, marker);
                snprintf(path, sizeof(path), "/proc/%s/cwd", e->d_name);
                snprintf(how, size, "`..` from %s", path);
                out = out || elsewhere(climb_from(open_dir(path)), root, marker);
        }
        if (proc)
                closedir(proc);
        return out;
}

/* The chroot escape: a chroot into a directory below while the cwd stays
 * above it, `..` from there (as far as it gets), a chroot there: -1 where
 * the first chroot failed */
static int chroot_climbs_out(const struct stat *root, const char *marker)
{
        const char *jail = "/tmp/.climb-jail";

        if ((mkdir(jail, 0700) < 0 && errno != EEXIST) || chdir("/") < 0 || chroot(jail) < 0)
                return -1;
        /* by descriptor first: an O_PATH open of `..` needs no permission
         * on where it leads, so it gets out of a root that is a directory
         * of the host's whose parent the caller may not search */
        if (elsewhere(climb_from(open_dir(".")), root, marker))
                return 1;
        for (int i = 0; i < CLIMB_STEPS && chdir("..") == 0; i++)
                ;
        if (chroot(".") < 0) /* where it got to, if not there */
                return elsewhere(open_dir("."), root, marker);
        return elsewhere(open_dir("/"), root, marker) || access(marker, F_OK) == 0;
}

static int try_climb(const char *marker)
{
        char how[400];
        struct stat root;
        int rc;

        if (stat("/", &root) < 0)
                return refused("stat /");
        if (dirs_climb_out(&root, marker, how, sizeof(how)) ||
            proc_climbs_out(&root, marker, how, sizeof(how)))
                return succeeded(how);
        rc = chroot_climbs_out(&root, marker);
        if (rc < 0)
                return refused("the chroot escape");
        if (rc > 0)
                return succeeded("the chroot escape");
        errno = ENOENT;
        return refused("above the root");
}

static int applet_try(int argc, char **argv)
{
        const char *what, *marker;

        if (argc < 3) {
                fprintf(stderr, "usage: try MARKER ATTEMPT [ARGS]\n");
                return 2;
        }
        if (marker_visible(argv[1])) {
                fprintf(stderr, "try: %s is visible: not inside a VPS, refusing\n", argv[1]);
                return 2;
        }
        marker = argv[1];
        what = argv[2];
        argc -= 3;
        argv += 3;
        if (strcmp(what, "module") == 0)
                return try_module();
        if (strcmp(what, "kexec") == 0)
                return try_kexec();
        if (strcmp(what, "open_by_handle_at") == 0)
                return try_open_by_handle(argc > 0 ? argv[0] : "/");
        if (strcmp(what, "keyctl") == 0)
                return verdict(syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3, 0), "keyctl");
        if (strcmp(what, "add_key") == 0)
                return verdict(syscall(SYS_add_key, "user", "escape", "x", 1, -3), "add_key");
        if (strcmp(what, "bpf") == 0)
                return try_bpf();
        if (strcmp(what, "perf_event_open") == 0)
                return try_perf();
        if (strcmp(what, "userfaultfd") == 0)
                return verdict(syscall(SYS_userfaultfd, 0), "userfaultfd");
        if (strcmp(what, "mknod") == 0)
                return try_mknod();
        if (strcmp(what, "mknod_mount") == 0)
                return try_mknod_mount();
        if (strcmp(what, "write") == 0 && argc > 0)
                return try_open_write(argv[0]);
        if (strcmp(what, "release_agent") == 0)
                return try_release_agent();
        if (strcmp(what, "settime") == 0)
                return try_settime();
        if (strcmp(what, "ptrace") == 0)
                return try_ptrace(argc, argv);
        if (strcmp(what, "kill") == 0)
                return try_kill(argc, argv);
        if (strcmp(what, "mount") == 0)
                return try_mount(argc, argv);
        if (strcmp(what, "remount_rw") == 0)
                return try_remount_rw(argc, argv);
        if (strcmp(what, "fresh") == 0)
                return try_fresh(argc, argv);
        if (strcmp(what, "unmount") == 0)
                return try_unmount(argc, argv);
        if (strcmp(what, "reboot") == 0)
                return verdict(reboot(RB_AUTOBOOT), "reboot");
        if (strcmp(what, "climb") == 0)
                return try_climb(marker);
        fprintf(stderr, "try: unknown attempt %s\n", what);
        return 2;
}

/* Watches every /proc/PID/exe in sight for SECONDS and tries to open for
 * writing any that is the file DEV:INO (vsd's binary, as the test saw it on
 * the host). Exit 0 if it ever could: the CVE-2019-5736 door. */
static int applet_exe_watch(int argc, char **argv)
{
        unsigned long long dev, ino;
        time_t end;
        long seen = 0;

        if (argc < 4)
                return 2;
        dev = strtoull(argv[1], NULL, 0);
        ino = strtoull(argv[2], NULL, 0);
        end = time(NULL) + atoi(argv[3]);
        while (time(NULL) < end) {
                DIR *proc = opendir("/proc");
                struct dirent *ent;

                while (proc && (ent = readdir(proc))) {
                        char path[300];
                        struct stat st;
                        int fd;

                        if (ent->d_name[0] < '0' || ent->d_name[0] > '9')
                                continue;
                        snprintf(path, sizeof(path), "/proc/%s/exe", ent->d_name);
                        if (stat(path, &st) < 0)
                                continue;
                        seen++;
                        if (st.st_dev != dev || st.st_ino != ino)
                                continue;
                        fd = open(path, O_WRONLY);
                        if (fd >= 0) {
                                printf("opened vsd's binary through %s for writing\n", path);
                                return 0;
                        }
                }
                if (proc)
                        closedir(proc);
        }
        printf("watched %ld exe links; vsd's binary never writable\n", seen);
        return 1;
}

/* The reads of one stream, as (time, bytes so far), for its best second:
 * the bit/s between a read and the latest one at least a second before it.
 * The oldest reads go once a second behind the newest is known. */
#define SECOND_READS 65536
struct second_window {
        double t[SECOND_READS];
        long long bytes[SECOND_READS];
        size_t head, tail; /* tail: the oldest kept; ring indices */
};

static double second_window_add(struct second_window *w, double t, long long bytes, double best)
{
        size_t next = (w->head + 1) % SECOND_READS;

        if (next == w->tail) /* full: the oldest is older than any answer needs */
                w->tail = (w->tail + 1) % SECOND_READS;
        w->t[w->head] = t;
        w->bytes[w->head] = bytes;
        w->head = next;
        /* keep one read a second or more before t: the start of t's second */
        while ((w->tail + 1) % SECOND_READS != w->head &&
               t - w->t[(w->tail + 1) % SECOND_READS] >= 1.0)
                w->tail = (w->tail + 1) % SECOND_READS;
        if (t - w->t[w->tail] >= 1.0) {
                double rate = (double)(bytes - w->bytes[w->tail]) * 8 / (t - w->t[w->tail]);

                if (rate > best)
                        best = rate;
        }
        return best;
}

/* sink PORT SECONDS [WARMUP]: accepts one TCP connection on PORT (any
 * address), printing "ready" once listening; lets WARMUP seconds (default
 * 0.5: slow start and its losses) pass from the first byte on, then counts
 * what arrives for SECONDS; prints "bits_per_s R bytes B seconds S best_1s
 * P" (TCP payload: some 4 % under the rate on the wire; P: the best rate
 * over any second of the window, which a stall of the stream on a loaded
 * machine, a retransmission timeout or the reader not run for a while, does
 * not pull below the shaper's rate) and resets the connection, which ends
 * the sender. Gives up after 30 s without a connection. */
static int applet_sink(int argc, char **argv)
{
        struct sockaddr_in addr = { .sin_family = AF_INET };
        struct timeval wait = { 30, 0 };
        struct linger reset = { 1, 0 };
        double window = argc > 2 ? atof(argv[2]) : 2, warmup = argc > 3 ? atof(argv[3]) : 0.5;
        double first = 0, start = 0, last = 0, best = 0;
        int one = 1, lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), fd;
        long long bytes = 0;
        static char buf[1 << 16];
        static struct second_window sec;

        addr.sin_port = htons((unsigned short)(argc > 1 ? atoi(argv[1]) : 5001));
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait));
        if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
            listen(lfd, 1) < 0) {
                perror("sink");
                return 1;
        }
        printf("ready\n");
        fflush(stdout);
        fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
                perror("sink: accept");
                return 1;
        }
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait));
        for (;;) {
                ssize_t n = recv(fd, buf, sizeof(buf), 0);
                double t = now();

                if (n <= 0)
                        break;
                if (!first)
                        first = t;
                if (t - first < warmup)
                        continue;
                if (!start)
                        start = t;
                else
                        bytes +=
                                n; /* what came after the first counted read, over the time since */
                last = t;
                best = second_window_add(&sec, t, bytes, best);
                if (t - start >= window)
                        break;
        }
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
        close(fd);
        printf("bits_per_s %.0f bytes %lld seconds %.3f best_1s %.0f\n",
               last > start ? (double)bytes * 8 / (last - start) : 0, bytes, last - start, best);
        return bytes > 0 ? 0 : 1;
}

/* blast HOST PORT SECONDS: connects (retrying for up to 5 s) and sends as
 * fast as TCP lets it until SECONDS have passed or the receiver resets the
 * connection; prints "sent B". */
static int applet_blast(int argc, char **argv)
{
        struct sockaddr_in addr = { .sin_family = AF_INET };
        double end;
        long long sent = 0;
        int fd = -1;
        static char buf[1 << 16];

        if (argc < 3 || inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
                fprintf(stderr, "usage: blast HOST PORT SECONDS\n");
                return 2;
        }
        addr.sin_port = htons((unsigned short)atoi(argv[2]));
        for (int i = 0; i < 100; i++) {
                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
                        break;
                if (fd >= 0)
                        close(fd);
                fd = -1;
                usleep(50000);
        }
        if (fd < 0) {
                perror("blast: connect");
                return 1;
        }
        end = now() + (argc > 3 ? atof(argv[3]) : 3);
        while (now() < end) {
                ssize_t n = send(fd, buf, sizeof(buf), MSG_NOSIGNAL);

                if (n < 0)
                        break; /* the sink has what it needs */
                sent += n;
        }
        close(fd);
        printf("sent %lld\n", sent);
        return 0;
}

/* ---- fs: the file system operations a package manager and a database
 * need, each as one system call sequence that either works or names its
 * errno ("fs: rename: failed: EXDEV ..."). ---- */

static int fs_failed(const char *what)
{
        int saved = errno;
        const char *name = strerrorname_np(saved);

        printf("fs %s: failed: %s (%s)\n", what, name ? name : "?", strerror(saved));
        return 1;
}

static int fs_ok(const char *what)
{
        printf("fs %s: ok\n", what);
        return 0;
}

/* A child's exit status: 0 when it exited 0. */
static int child_status(pid_t pid)
{
        int status;

        if (pid < 0 || waitpid(pid, &status, 0) < 0)
                return -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* flock: a second open file description is refused the lock the first holds. */
static int fs_flock(const char *path)
{
        int a = open(path, O_RDWR | O_CREAT, 0644), b = open(path, O_RDWR);

        if (a < 0 || b < 0 || flock(a, LOCK_EX | LOCK_NB) < 0)
                return fs_failed("flock");
        if (flock(b, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK) {
                errno = errno ? errno : EEXIST;
                return fs_failed("flock exclusion");
        }
        if (flock(a, LOCK_UN) < 0 || flock(b, LOCK_EX | LOCK_NB) < 0)
                return fs_failed("flock after unlock");
        return fs_ok("flock");
}

/* fcntl: another process sees the record lock held (F_GETLK names the holder). */
static int fs_fcntl(const char *path)
{
        struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
        int fd = open(path, O_RDWR | O_CREAT, 0644);
        pid_t parent = getpid(), pid;

        if (fd < 0 || fcntl(fd, F_SETLK, &lk) < 0)
                return fs_failed("fcntl");
        pid = fork();
        if (pid == 0) {
                struct flock probe = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 10 };
                int cfd = open(path, O_RDWR);

                if (cfd < 0 || fcntl(cfd, F_GETLK, &probe) < 0)
                        _exit(2);
                if (fcntl(cfd, F_SETLK, &probe) == 0)
                        _exit(3);
                _exit(probe.l_type == F_WRLCK && probe.l_pid == parent ? 0 : 4);
        }
        if (child_status(pid) != 0) {
                errno = EEXIST;
                return fs_failed("fcntl exclusion");
        }
        return fs_ok("fcntl");
}

static int fs_fsync(const char *path)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        if (fd < 0 || write(fd, "synced\n", 7) != 7 || fsync(fd) < 0 || fdatasync(fd) < 0 ||
            syncfs(fd) < 0)
                return fs_failed("fsync");
        return fs_ok("fsync");
}

/* sparse: one byte at 64 MiB; prints the size and the bytes allocated. */
static int fs_sparse(const char *path)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        struct stat st;

        if (fd < 0 || pwrite(fd, "x", 1, 64 << 20) != 1 || fsync(fd) < 0 || fstat(fd, &st) < 0)
                return fs_failed("sparse");
        printf("fs sparse: size %lld allocated %lld\n", (long long)st.st_size,
               (long long)st.st_blocks * 512);
        return 0;
}

/* O_TMPFILE: an unnamed file, written, then given a name with linkat. */
static int fs_tmpfile(const char *dir, const char *name)
{
        char proc[64], buf[16] = "";
        int fd = open(dir, O_TMPFILE | O_RDWR, 0644), rd;

        if (fd < 0 || write(fd, "tmpfile\n", 8) != 8)
                return fs_failed("tmpfile");
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        if (linkat(AT_FDCWD, proc, AT_FDCWD, name, AT_SYMLINK_FOLLOW) < 0)
                return fs_failed("tmpfile linkat");
        rd = open(name, O_RDONLY);
        if (rd < 0 || read(rd, buf, sizeof(buf) - 1) != 8 || strcmp(buf, "tmpfile\n") != 0)
                return fs_failed("tmpfile read back");
        return fs_ok("tmpfile");
}

/* A unix stream socket bound to a path: a child connects and is heard. */
static int fs_unixsock(const char *path)
{
        struct sockaddr_un addr = { .sun_family = AF_UNIX };
        char buf[8] = "";
        int srv = socket(AF_UNIX, SOCK_STREAM, 0), conn;
        pid_t pid;

        snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
        unlink(path);
        if (srv < 0 || bind(srv, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(srv, 1) < 0)
                return fs_failed("unixsock bind");
        pid = fork();
        if (pid == 0) {
                int c = socket(AF_UNIX, SOCK_STREAM, 0);

                if (c < 0 || connect(c, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
                    write(c, "hello", 5) != 5)
                        _exit(1);
                _exit(0);
        }
        conn = accept(srv, NULL, NULL);
        if (conn < 0 || read(conn, buf, 5) != 5 || strcmp(buf, "hello") != 0 ||
            child_status(pid) != 0)
                return fs_failed("unixsock");
        return fs_ok("unixsock");
}

static int fs_fifo(const char *path)
{
        char buf[8] = "";
        pid_t pid;
        int fd;

        unlink(path);
        if (mkfifo(path, 0600) < 0)
                return fs_failed("mkfifo");
        pid = fork();
        if (pid == 0) {
                int w = open(path, O_WRONLY);

                _exit(w >= 0 && write(w, "piped", 5) == 5 ? 0 : 1);
        }
        fd = open(path, O_RDONLY);
        if (fd < 0 || read(fd, buf, 5) != 5 || strcmp(buf, "piped") != 0 || child_status(pid) != 0)
                return fs_failed("fifo");
        return fs_ok("fifo");
}

/* setxattr NAME VALUE, then read it back. */
static int fs_xattr(const char *path, const char *name, const char *value)
{
        char buf[256];
        ssize_t n;

        if (setxattr(path, name, value, strlen(value), 0) < 0)
                return fs_failed("setxattr");
        n = getxattr(path, name, buf, sizeof(buf) - 1);
        if (n < 0)
                return fs_failed("getxattr");
        buf[n] = '\0';
        if (strcmp(buf, value) != 0) {
                errno = EILSEQ;
                return fs_failed("xattr read back");
        }
        return fs_ok("xattr");
}

/* What setcap cap_net_raw+ep writes: a v2 security.capability (the kernel
 * stores it as v3, naming the user namespace's root). */
static int fs_setcap(const char *path)
{
        struct vfs_cap_data cap = { 0 };

        cap.magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE;
        cap.data[0].permitted = 1U << CAP_NET_RAW;
        if (setxattr(path, "security.capability", &cap, XATTR_CAPS_SZ_2, 0) < 0)
                return fs_failed("setcap");
        return fs_ok("setcap");
}

/* setfacl -m u:UID:rw P on a file of mode 0600: the access ACL as the
 * kernel takes it (posix_acl_xattr, little-endian), UID a user of the VPS. */
static int fs_acl(const char *path, const char *uid)
{
        static const struct {
                uint16_t tag, perm;
        } fixed[] = { { 0x01, 6 }, { 0x02, 6 }, { 0x04, 0 }, { 0x10, 6 }, { 0x20, 0 } };
        unsigned char acl[4 + 5 * 8] = { 2 }; /* POSIX_ACL_XATTR_VERSION */

        for (int i = 0; i < 5; i++) {
                unsigned char *e = acl + 4 + 8 * i;
                uint32_t id = fixed[i].tag == 0x02 ? (uint32_t)atoi(uid) : 0xffffffffU;

                e[0] = (unsigned char)fixed[i].tag;
                e[2] = (unsigned char)fixed[i].perm;
                for (int b = 0; b < 4; b++)
                        e[4 + b] = (unsigned char)(id >> (8 * b));
        }
        if (setxattr(path, "system.posix_acl_access", acl, sizeof(acl), 0) < 0)
                return fs_failed("acl");
        return fs_ok("acl");
}

/* Runs a command as UID (all ids, no capabilities kept). */
static int fs_runas(int argc, char **argv)
{
        uid_t uid = (uid_t)atoi(argv[0]);

        if (argc < 2 || setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
            setresuid(uid, uid, uid) < 0)
                return fs_failed("runas");
        execv(argv[1], argv + 1);
        return fs_failed("exec");
}

/* The effective capability set of this process, as /proc shows it. */
static int fs_capeff(void)
{
        char line[256];
        FILE *f = fopen("/proc/self/status", "r");

        while (f && fgets(line, sizeof(line), f))
                if (strncmp(line, "CapEff:", 7) == 0) {
                        printf("%s", line);
                        return 0;
                }
        return fs_failed("capeff");
}

static int applet_fs(int argc, char **argv)
{
        const char *op = argc > 1 ? argv[1] : "";
        char **a = argv + 2;
        int n = argc - 2;

        if (strcmp(op, "rename") == 0 && n == 2)
                return rename(a[0], a[1]) < 0 ? fs_failed("rename") : fs_ok("rename");
        if (strcmp(op, "link") == 0 && n == 2)
                return link(a[0], a[1]) < 0 ? fs_failed("link") : fs_ok("link");
        if (strcmp(op, "xattr") == 0 && n == 3)
                return fs_xattr(a[0], a[1], a[2]);
        if (strcmp(op, "setcap") == 0 && n == 1)
                return fs_setcap(a[0]);
        if (strcmp(op, "acl") == 0 && n == 2)
                return fs_acl(a[0], a[1]);
        if (strcmp(op, "capeff") == 0)
                return fs_capeff();
        if (strcmp(op, "runas") == 0 && n >= 2)
                return fs_runas(n, a);
        if (strcmp(op, "flock") == 0 && n == 1)
                return fs_flock(a[0]);
        if (strcmp(op, "fcntl") == 0 && n == 1)
                return fs_fcntl(a[0]);
        if (strcmp(op, "fsync") == 0 && n == 1)
                return fs_fsync(a[0]);
        if (strcmp(op, "sparse") == 0 && n == 1)
                return fs_sparse(a[0]);
        if (strcmp(op, "tmpfile") == 0 && n == 2)
                return fs_tmpfile(a[0], a[1]);
        if (strcmp(op, "unixsock") == 0 && n == 1)
                return fs_unixsock(a[0]);
        if (strcmp(op, "fifo") == 0 && n == 1)
                return fs_fifo(a[0]);
        fprintf(stderr, "payload fs: unknown operation or arguments\n");
        return 2;
}

/* pivot: what a nested container runtime or systemd's sandboxing does, in
 * a mount namespace of its own: pivot_root into a new tmpfs and detach the
 * old root. The kernel refuses it unless the caller's root is a mount with
 * a parent; prints "pivoted" once / is the tmpfs. */
static int applet_pivot(int argc, char **argv)
{
        const char *dir = "/tmp/.pivot";
        struct statfs fs;

        (void)argc;
        (void)argv;
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
                perror("pivot: a mount namespace of its own");
                return 1;
        }
        if ((mkdir(dir, 0700) < 0 && errno != EEXIST) ||
            mount("tmpfs", dir, "tmpfs", 0, NULL) < 0 || chdir(dir) < 0) {
                perror("pivot: a tmpfs to pivot into");
                return 1;
        }
        if (syscall(SYS_pivot_root, ".", ".") < 0) {
                perror("pivot: pivot_root");
                return 1;
        }
        if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0 || statfs("/", &fs) < 0) {
                perror("pivot: detach the old root");
                return 1;
        }
        if (fs.f_type != 0x01021994) { /* TMPFS_MAGIC */
                fprintf(stderr, "pivot: / is no tmpfs after pivot_root\n");
                return 1;
        }
        printf("pivoted\n");
        return 0;
}

static const struct {
        const char *name;
        int (*fn)(int, char **);
        const char *help;
} applets[] = {
        { "try", applet_try, "try MARKER ATTEMPT [ARGS]: an escape attempt (see source)" },
        { "exe-watch", applet_exe_watch, "exe-watch DEV INO SECONDS: /proc/*/exe watcher" },
        { "fs", applet_fs,
          "fs OP ARGS: rename A B, link A B, xattr P N V, setcap P, acl P UID, capeff, runas UID "
          "CMD.., "
          "flock P, fcntl P, fsync P, sparse P, tmpfile DIR NAME, unixsock P, fifo P" },
        { "pivot", applet_pivot, "pivot: pivot_root into a tmpfs in a mount namespace of its own" },
        { "exit", applet_exit, "exit N: exit with status N" },
        { "sleep", applet_sleep, "sleep [S]: sleep S seconds (default: for ever)" },
        { "stubborn", applet_stubborn, "stubborn [S]: sleep, ignoring stop signals" },
        { "pid", applet_pid, "pid: print own pid" },
        { "spew", applet_spew, "spew N: write N bytes to stdout, then sleep" },
        { "echo", applet_echo, "echo ARGS: print ARGS" },
        { "cpuburn", applet_cpuburn,
          "cpuburn [S [count]]: busy loop for S seconds (default 60), count: print rounds" },
        { "memhog", applet_memhog,
          "memhog [MiB [HOLD]]: allocate and touch MiB, print done, hold" },
        { "forkbomb", applet_forkbomb,
          "forkbomb [HOLD]: fork until refused, print the count, hold" },
        { "inotify", applet_inotify, "inotify N [hold]: make N inotify instances, print count" },
        { "nofile", applet_nofile, "nofile: print RLIMIT_NOFILE soft and hard" },
        { "readbench", applet_readbench,
          "readbench FILE N: read FILE N times, print median and p99 in µs, fails" },
        { "oddreads", applet_oddreads,
          "oddreads FILE [exact]: reads at odd offsets and sizes match a whole read" },
        { "manyopen", applet_manyopen, "manyopen FILE N: hold N opens of FILE, read each" },
        { "reread", applet_reread, "reread FILE MS: read, wait MS with it open, read again" },
        { "viewloop", applet_viewloop,
          "viewloop N USEC KB MAXUP: read /proc/meminfo and uptime N times, check them" },
        { "sysconf", applet_sysconf, "sysconf: print online CPUs, physical pages, page size" },
        { "sysinfo", applet_sysinfo, "sysinfo: print what sysinfo(2) tells" },
        { "sysinfoloop", applet_sysinfoloop, "sysinfoloop N TOTALRAM MAX_UPTIME: check sysinfo" },
        { "affinity", applet_affinity, "affinity: CPUs in sched_getaffinity(0)" },
        { "ddwrite", applet_ddwrite, "ddwrite FILE [MiB]: O_DIRECT write, print seconds" },
        { "udpecho", applet_udpecho, "udpecho [ADDR:]PORT [S]: UDP echo server (127.0.0.1)" },
        { "udpping", applet_udpping,
          "udpping [ADDR:]PORT N [GAP_MS [LOG]]: N round trips, latency" },
        { "sink", applet_sink, "sink PORT S [W]: receive TCP, print its bit/s over S after W" },
        { "blast", applet_blast, "blast HOST PORT S: send TCP to HOST:PORT for S seconds" },
        { "spoof", applet_spoof, "spoof SRC DST PORT TEXT: UDP from a forged source (raw)" },
        { "udpsend", applet_udpsend, "udpsend DST PORT TEXT: one UDP datagram" },
        { "udpflood", applet_udpflood, "udpflood DST PORT SECONDS: 1 KB datagrams, flat out" },
        { "udprecv", applet_udprecv, "udprecv PORT STOP [S]: print datagrams until STOP" },
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
