/* forkcost KB [ROUNDS [PROGRAM]]: what a child of a process with KB of
 * heap costs its parent, a fork (which copies the page tables of every
 * page present) against a posix_spawn of PROGRAM (a vfork and an exec,
 * which copy none), the child exiting at once. vsd's builder is a fork of
 * vsd, whose heap grows with the number of VPS: this tells where an exec'd
 * builder would start to pay (contrib/bench/README.md, issue 13).
 *
 * The heap is KB of 500-byte allocations, each written, as vsd's records
 * are; after each child the parent writes 64 of them again, as vsd goes on
 * writing its heap after a fork (copy-on-write faults while the child
 * lives are not counted: it exits at once). Prints the median and the
 * minimum of ROUNDS (default 300) in ms. PROGRAM should be a static binary
 * that exits at once (a dynamic one adds its loader's work). */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define CHUNK 500

static double now_ms(void)
{
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

static pid_t child(const char *program, char **heap)
{
        pid_t pid = -1;

        if (!program) {
                pid = fork();
                if (pid == 0) {
                        heap[0][0] = 2; /* one copy-on-write fault, as any child takes */
                        _exit(0);
                }
                return pid;
        }
        char *argv[] = { (char *)program, NULL };

        return posix_spawn(&pid, program, NULL, NULL, argv, environ) == 0 ? pid : -1;
}

static void run(const char *program, char **heap, size_t chunks, int rounds, size_t kb)
{
        double *times = calloc((size_t)rounds, sizeof(*times));

        if (!times) {
                perror("calloc");
                exit(1);
        }
        for (int i = 0; i < rounds; i++) {
                double t0 = now_ms();
                pid_t pid = child(program, heap);

                if (pid < 0 || waitpid(pid, NULL, 0) != pid) {
                        perror(program ? program : "fork");
                        exit(1);
                }
                for (size_t k = 0; k < 64; k++)
                        heap[(k * 997) % chunks][0]++;
                times[i] = now_ms() - t0;
        }
        qsort(times, (size_t)rounds, sizeof(*times), by_value);
        printf("%6zu kB heap  %-12s median %.3f ms  min %.3f ms  (n=%d)\n", kb,
               program ? "posix_spawn" : "fork", times[rounds / 2], times[0], rounds);
        free(times);
}

int main(int argc, char **argv)
{
        size_t kb = argc > 1 ? strtoul(argv[1], NULL, 10) : 0;
        int rounds = argc > 2 ? atoi(argv[2]) : 300;
        size_t chunks = kb * 1024 / CHUNK;
        char **heap;

        if (argc < 2 || argc > 4 || chunks == 0 || rounds < 1) {
                fprintf(stderr, "usage: forkcost KB [ROUNDS [PROGRAM]]\n");
                return 2;
        }
        heap = calloc(chunks, sizeof(*heap));
        for (size_t i = 0; heap && i < chunks; i++) {
                heap[i] = malloc(CHUNK);
                if (!heap[i])
                        break;
                memset(heap[i], 1, CHUNK);
        }
        if (!heap || !heap[chunks - 1]) {
                perror("malloc");
                return 1;
        }
        run(NULL, heap, chunks, rounds, kb);
        if (argc > 3)
                run(argv[3], heap, chunks, rounds, kb);
        return 0;
}
