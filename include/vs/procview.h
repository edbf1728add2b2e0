/* scheduler-limits: the VPS's own machine as its /proc and /sys files show
 * it (meminfo, cpuinfo, stat, uptime, loadavg, swaps, diskstats,
 * user_beancounters, cpu online), computed from its cgroup on v1 (hybrid)
 * and v2. vsview serves the text; vsd reads the beancounters for vsctl.
 * Nothing here knows which process asks: a VPS is named by its cgroup. */
#ifndef VS_PROCVIEW_H
#define VS_PROCVIEW_H

#include <stddef.h>
#include <stdint.h>

#define VS_VIEW_MAX_CPUS 1024

enum vs_view_file {
        VS_VIEW_MEMINFO,
        VS_VIEW_CPUINFO,
        VS_VIEW_STAT,
        VS_VIEW_UPTIME,
        VS_VIEW_LOADAVG,
        VS_VIEW_SWAPS,
        VS_VIEW_DISKSTATS,
        VS_VIEW_BEANCOUNTERS,
        VS_VIEW_CPU_ONLINE,
        VS_VIEW_NFILES,
};

/* The file's name in the view's directory of a VPS ("meminfo", ...,
 * "cpu_online"), and where it is bound in the VPS's root ("proc/meminfo",
 * "sys/devices/system/cpu/online"). */
const char *vs_view_file_name(enum vs_view_file f);
const char *vs_view_file_target(enum vs_view_file f);
/* -1 when `name` is none of them. */
int vs_view_file_find(const char *name);

/* One VPS's cgroup directories (on v2 all the same directory; -1 where a
 * hierarchy is missing), and when it started (CLOCK_BOOTTIME, ns). */
typedef struct {
        int v2;
        int memory, cpuacct, cpu, cpuset, pids;
        uint64_t started_ns;
        unsigned long ctid;      /* the uid column of user_beancounters */
        unsigned long loadfx[3]; /* 1, 5, 15 min load, fixed point (FSHIFT 11) */
        unsigned long numfile;   /* RLIMIT_NOFILE of its processes, 0: none set */
        uint64_t diskspace;      /* its disk limit in bytes, 0: none */
        int init_pid;            /* host pid of its init (its root's file system), 0 */
        int count_files;         /* numfile's held: walk its processes' fds */
} vs_view_src_t;

/* A growing text buffer. */
typedef struct {
        char *data;
        size_t len, cap;
} vs_view_buf_t;
void vs_view_buf_free(vs_view_buf_t *b);

/* What the host has, read once and refreshed now and then by the caller:
 * its /proc/cpuinfo (one block per CPU), boot time and memory. */
typedef struct {
        char *cpuinfo;
        size_t ncpu_blocks;
        char **cpu_block; /* into cpuinfo; cpu_block_id[i] is its processor id */
        int *cpu_block_id;
        unsigned long long btime;
        uint64_t mem_total, swap_total, swap_free; /* bytes */
} vs_view_host_t;
int vs_view_host_load(vs_view_host_t *h, const char *proc);
void vs_view_host_free(vs_view_host_t *h);

/* Renders file f of the VPS into out (replacing its text). Returns 0, or
 * -errno when its cgroup cannot be read (gone: the VPS stopped). */
int vs_view_render(vs_view_src_t *src, const vs_view_host_t *host, enum vs_view_file f,
                   vs_view_buf_t *out);

/* The tasks (threads) of the VPS's cgroup and below: how many, how many
 * runnable (R) and in uninterruptible sleep (D), and the highest pid of
 * them in the VPS's own pid namespace. `proc` is the host's /proc. */
typedef struct {
        unsigned long total, running, blocked, lastpid;
} vs_view_tasks_t;
void vs_view_count_tasks(const vs_view_src_t *src, vs_view_tasks_t *t);
/* Folds one sample of running + blocked tasks into src->loadfx, as the
 * kernel does every 5 s (calc_load). */
void vs_view_load_sample(vs_view_src_t *src, unsigned long active);

/* What sysinfo(2) tells a process of the VPS: its uptime, loads (16-bit
 * fixed point), memory and swap in bytes (mem_unit 1) and its task count,
 * the same figures as its /proc/meminfo, uptime and loadavg. */
typedef struct {
        uint64_t uptime_s;
        unsigned long loads[3];
        uint64_t totalram, freeram, sharedram, bufferram, totalswap, freeswap;
        unsigned procs;
} vs_view_sysinfo_t;
int vs_view_sysinfo(vs_view_src_t *src, const vs_view_host_t *host, vs_view_sysinfo_t *out);

/* The host CPUs a process of the VPS is told it may run on
 * (sched_getaffinity): the first of its cpuset, as many as its view shows.
 * Returns how many. */
int vs_view_cpu_mask(const vs_view_src_t *src, uint64_t mask[VS_VIEW_MAX_CPUS / 64]);

/* OpenVZ's beancounters from the cgroup counters. */
#define VS_BC_UNLIMITED 9223372036854775807ULL
typedef struct {
        const char *resource;
        uint64_t held, maxheld, barrier, limit, failcnt;
} vs_beancounter_t;
#define VS_BC_MAX 6
/* Fills out (VS_BC_MAX entries); returns how many. */
size_t vs_view_beancounters(const vs_view_src_t *src, vs_beancounter_t *out);

#endif
