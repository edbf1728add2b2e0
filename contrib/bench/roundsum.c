/* The cost of the block sums of an image's migration round (issue 17):
 * what the last round, with the VPS stopped, spends on summing every 64 KiB
 * block of the image. NH (vs/blocksum.h, as cow-fs/imagesync.c sums), its
 * portable form without vector instructions, and SipHash-2-4 per block (the
 * sum before), over the same MB of random bytes in memory (more than the
 * caches hold, as an image in the page cache is); with FILE, also a pass
 * that reads FILE with pread in blocks and sums it with NH, as a round does.
 *
 * Usage: roundsum [MB [FILE]]   (default 1024 MB)
 * Prints per hash: the best and the median of 5 passes, in s per GB and
 * GB/s, and the load (/proc/loadavg). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "vs/blocksum.h"

#define BLOCK (64U << 10)
#define PASSES 5

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct hasher {
        const char *name;
        uint64_t (*sum)(const vs_blocksum_key_t *key, const uint64_t sip[2],
                        const unsigned char *block);
};

static uint64_t nh(const vs_blocksum_key_t *key, const uint64_t sip[2], const unsigned char *b)
{
        vs_blocksum_t s = vs_blocksum(key, b);

        return s.lo ^ s.hi;
}

static uint64_t nh_scalar(const vs_blocksum_key_t *key, const uint64_t sip[2],
                          const unsigned char *b)
{
        vs_blocksum_t s = vs_blocksum_scalar(key, b);

        return s.lo ^ s.hi;
}

static uint64_t sip(const vs_blocksum_key_t *key, const uint64_t sip_key[2], const unsigned char *b)
{
        return vs_siphash24(sip_key, b, BLOCK);
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return x < y ? -1 : x > y;
}

static void report(const char *name, double t[PASSES], size_t bytes)
{
        double gb = (double)bytes / (1U << 30);

        qsort(t, PASSES, sizeof(*t), cmp_double);
        printf("  %-28s best %.3f s/GB (%.2f GB/s), median %.3f s/GB\n", name, t[0] / gb, gb / t[0],
               t[PASSES / 2] / gb);
}

/* the file in blocks, read and summed: a round's work but the sending */
static int time_file(const char *path, const vs_blocksum_key_t *key, unsigned char *buf)
{
        double t[PASSES];
        size_t total = 0;
        uint64_t acc = 0;
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0) {
                fprintf(stderr, "roundsum: open %s: %s\n", path, strerror(errno));
                return -1;
        }
        for (int p = 0; p < PASSES; p++) {
                double t0 = now_s();
                ssize_t n;
                off_t off = 0;

                while ((n = pread(fd, buf, BLOCK, off)) > 0) {
                        if (n < (ssize_t)BLOCK)
                                memset(buf + n, 0, BLOCK - (size_t)n);
                        acc ^= vs_blocksum(key, buf).lo;
                        off += n;
                }
                if (n < 0) {
                        fprintf(stderr, "roundsum: read %s: %s\n", path, strerror(errno));
                        close(fd);
                        return -1;
                }
                t[p] = now_s() - t0;
                total = (size_t)off;
        }
        close(fd);
        if (total)
                report("pread + NH of FILE", t, total);
        return acc == 42 ? 1 : 0; /* keeps acc alive */
}

int main(int argc, char **argv)
{
        const struct hasher hashers[] = {
                { "NH-128 (vector)", nh },
                { "NH-128 (portable C)", nh_scalar },
                { "SipHash-2-4 (the sum before)", sip },
        };
        long mb = argc > 1 ? strtol(argv[1], NULL, 10) : 1024;
        size_t bytes = (size_t)mb << 20;
        uint64_t seed[2], sip_key[2], acc = 0;
        unsigned char *mem;
        vs_error_t err = { 0 };
        vs_blocksum_key_t *key;
        char load[64] = "?";
        FILE *f;

        if (mb <= 0 || argc > 3) {
                fprintf(stderr, "usage: roundsum [MB [FILE]]\n");
                return 2;
        }
        mem = malloc(bytes);
        if (!mem || getrandom(seed, sizeof(seed), 0) != sizeof(seed) ||
            getrandom(sip_key, sizeof(sip_key), 0) != sizeof(sip_key)) {
                fprintf(stderr, "roundsum: no memory or no random bytes\n");
                return 1;
        }
        key = vs_blocksum_key_new(seed, BLOCK, &err);
        if (!key) {
                fprintf(stderr, "roundsum: %s\n", err.msg);
                return 1;
        }
        /* random bytes, and every page touched before the timing */
        for (size_t i = 0; i < bytes; i += 8) {
                uint64_t w = vs_siphash24(seed, &i, sizeof(i));

                memcpy(mem + i, &w, 8);
        }
        f = fopen("/proc/loadavg", "r");
        if (f) {
                if (!fgets(load, sizeof(load), f))
                        strcpy(load, "?");
                load[strcspn(load, "\n")] = 0;
                fclose(f);
        }
        printf("block sums of %ld MB in 64 KiB blocks, %d passes each (load %s):\n", mb, PASSES,
               load);
        for (size_t h = 0; h < sizeof(hashers) / sizeof(hashers[0]); h++) {
                double t[PASSES];

                for (int p = 0; p < PASSES; p++) {
                        double t0 = now_s();

                        for (size_t off = 0; off + BLOCK <= bytes; off += BLOCK)
                                acc ^= hashers[h].sum(key, sip_key, mem + off);
                        t[p] = now_s() - t0;
                }
                report(hashers[h].name, t, bytes);
        }
        if (argc > 2 && time_file(argv[2], key, mem) < 0)
                return 1;
        vs_blocksum_key_free(key);
        free(mem);
        return acc == 42 ? 3 : 0; /* keeps acc alive */
}
