/* scheduler-limits: the resource limits of one VPS, named as vzctl names
 * them, and their writers for cgroup v1 and v2. A limit is parsed from the
 * text an admin typed (an option of vsctl or a key of the VPS config), checked
 * against the others, turned into a list of cgroup file writes for the
 * detected mode, and written into the VPS's cgroup. */
#ifndef VS_LIMITS_H
#define VS_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include "vs/cgroup.h"
#include "vs/error.h"
#include "vs/kvfile.h"

typedef enum {
        VS_LIM_CPUUNITS,    /* CPU weight: v1 cpu.shares, v2 cpu.weight */
        VS_LIM_CPULIMIT,    /* CPU cap in millionths of a CPU */
        VS_LIM_CPUS,        /* CPU cap in whole CPUs */
        VS_LIM_CPUMASK,     /* CPUs the VPS may run on ("0-1,3") */
        VS_LIM_CPU_BURST,   /* ms of saved-up CPU above the cap */
        VS_LIM_RAM,         /* bytes: hard memory limit */
        VS_LIM_RAM_RESERVE, /* bytes: memory guarantee (soft limit / memory.low) */
        VS_LIM_SWAP,        /* bytes of swap on top of ram */
        VS_LIM_NUMPROC,     /* pids.max */
        VS_LIM_NUMFILE,     /* RLIMIT_NOFILE of the VPS's processes */
        VS_LIM_IOPRIO,      /* 0-7: I/O weight */
        VS_LIM_IOLIMIT,     /* bytes/s, read and write, on the upper layer's disk */
        VS_LIM_IOPSLIMIT,   /* operations/s, same device */
        VS_LIM_CPU_RESERVE, /* guaranteed CPU, millionths: admission control only */
        VS_LIM_TIMESLICE,   /* µs of EEVDF slice of its tasks (100..100000), 0: default */
        VS_LIM_COUNT
} vs_limit_t;

typedef struct {
        unsigned set;                 /* bit (1u << limit) for each limit given */
        uint64_t value[VS_LIM_COUNT]; /* parsed values (cpumask: unused) */
        char text[VS_LIM_COUNT][128]; /* the text as given, for the config */
} vs_limits_t;

#define VS_LIMIT_IS_SET(l, k) (((l)->set >> (k)) & 1u)

/* The config key ("cpu_burst") and the option name ("cpu-burst"). */
const char *vs_limit_key(vs_limit_t limit);
const char *vs_limit_option(vs_limit_t limit);
/* Finds a limit by config key or option name; -1 when there is none. */
int vs_limit_find(const char *name);

/* Parses one value into `l`; the message names the option. */
int vs_limits_parse_one(vs_limits_t *l, vs_limit_t limit, const char *text, vs_error_t *err);
/* The limits in a VPS config (keys absent: limit not set). */
int vs_limits_from_config(const vs_kv_t *config, vs_limits_t *l, vs_error_t *err);
/* Copies the given limits of `l` into the config. */
void vs_limits_to_config(const vs_limits_t *l, vs_kv_t *config);
/* Overlays the limits set in `over` onto `base`. */
void vs_limits_merge(vs_limits_t *base, const vs_limits_t *over);
/* Checks limits against each other (swap needs ram, burst fits the cap). */
int vs_limits_check(const vs_limits_t *l, vs_error_t *err);

/* --timeslice: the kernel's range of a task's slice (sched_attr's
 * sched_runtime of a SCHED_OTHER or SCHED_BATCH task, Linux 6.12+), in µs.
 * The kernel clamps to it; vsctl refuses what is outside instead. */
#define VS_TIMESLICE_MIN_US 100ULL
#define VS_TIMESLICE_MAX_US 100000ULL
/* Parses "default" (0) or a slice in us or ms ("100us", "0.1ms", "4ms")
 * within the range, to whole µs. */
int vs_parse_timeslice(const char *text, uint64_t *us, vs_error_t *err);

/* ---- conversions (pure) ---- */

#define VS_CPU_PERIOD_US 100000ULL
/* The cap in µs of quota per VS_CPU_PERIOD_US, from cpulimit and cpus (the
 * smaller wins); 0 when there is no cap. */
uint64_t vs_limits_cpu_quota_us(const vs_limits_t *l);
/* cpu.shares (2..262144) to cpu.weight (1..10000), as runc and systemd do. */
uint64_t vs_shares_to_weight(uint64_t shares);
/* ioprio 0..7 to a weight (100..1000). */
uint64_t vs_ioprio_to_weight(uint64_t prio);
/* CPU lists ("0-3,5", as cpuset files and --cpumask have them): CPUs below
 * VS_CPULIST_MAX, digits only (no blanks or signs). */
#define VS_CPULIST_MAX 65536U
/* Reads a list (a cgroup file's: one trailing newline is allowed): its
 * CPUs into mask (max_cpus bits; NULL: only checked), its highest CPU into
 * *highest (may be NULL). Returns how many CPUs it names, -1 when it is not
 * a list or names a CPU of max_cpus or above. */
int vs_cpulist_parse(const char *text, uint64_t *mask, unsigned max_cpus, unsigned *highest);
/* Whether text is a CPU list the kernel reads, as an option gives it. */
int vs_cpulist_valid(const char *text);
/* The highest CPU of a valid list. */
unsigned vs_cpulist_max(const char *text);
/* Whether every CPU of list inner is one of list outer. */
int vs_cpulist_within(const char *inner, const char *outer);

/* One cgroup file write: the controller that owns the file, its name and
 * the text to write. */
typedef struct {
        const char *controller; /* v1 names: cpu, cpuset, memory, pids, blkio */
        const char *file;
        char value[160];
} vs_limit_write_t;

#define VS_LIMIT_WRITES_MAX 24

/* The writes that realise `l` on cgroup v1 (v2 = 0) or v2, in the order
 * they must happen. iodev is "MAJ:MIN" of the disk for I/O limits, or NULL.
 * Returns how many. */
size_t vs_limits_plan(const vs_limits_t *l, int v2, const char *iodev, vs_limit_write_t *out);

/* Writes the limits into the VPS's cgroup. A limit whose controller is not
 * available is an error naming the controller and the cgroup. */
int vs_limits_apply(vs_cgroup_t *cg, const vs_limits_t *l, const char *iodev, vs_error_t *err);

/* "MAJ:MIN" of the whole disk that holds `path`; fails (ENODEV) when the file
 * system has no block device (tmpfs, overlay on tmpfs, ...). */
int vs_limits_disk_of(const char *path, char *out, size_t size, vs_error_t *err);

/* ---- stats ---- */

typedef struct {
        uint64_t cpu_usec;       /* CPU time used */
        uint64_t throttled_usec; /* time held back by the CPU cap */
        uint64_t nr_throttled;
        uint64_t mem_bytes, mem_peak, swap_bytes;
        uint64_t io_read_bytes, io_write_bytes, io_read_ops, io_write_ops;
        uint64_t nproc;
        uint64_t oom_kills;
} vs_stats_t;

/* Reads what the controllers of the VPS's cgroup account; a controller that
 * is missing leaves its fields at 0. */
int vs_stats_read(vs_cgroup_t *cg, vs_stats_t *s, vs_error_t *err);

/* The OOM kill count alone (one file, not the nine of vs_stats_read: a
 * stop reads it after the init's exit, before it answers); -1 without a
 * memory controller. */
int vs_stats_read_oom_kills(vs_cgroup_t *cg, uint64_t *oom_kills);

/* Parses the text of memory.oom_control (v1) or memory.events (v2) for the
 * oom_kill count (pure, for tests). */
uint64_t vs_stats_oom_kills(const char *text);

#endif
