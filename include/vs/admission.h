/* scheduler-limits: admission control, the seed paper's guaranteed
 * reservations against overbooking. A node has a capacity (CPUs and memory)
 * and a policy: `reserve` admits a VPS only while the sum of the guaranteed
 * reservations of the running VPS (--cpu-reserve, --ram-reserve) fits the
 * capacity; `overbook F` admits up to F times the capacity. Pure arithmetic:
 * vsd gathers the figures. */
#ifndef VS_ADMISSION_H
#define VS_ADMISSION_H

#include <stdint.h>

#include "vs/error.h"
#include "vs/kvfile.h"
#include "vs/limits.h"

typedef struct {
        uint64_t cpu_micro; /* millionths of a CPU */
        uint64_t mem_bytes;
} vs_reserve_t;

typedef struct {
        vs_reserve_t capacity;
        uint64_t factor_pct; /* 100: reserve; 200: overbook 2 */
} vs_node_t;

/* Reads the node's settings from vsd.conf's keys (node_cpus, node_memory,
 * policy); a missing key takes the detected value (`detected`) or policy
 * reserve. Errors name the key. */
int vs_node_from_config(const vs_kv_t *conf, const vs_reserve_t *detected, vs_node_t *node,
                        vs_error_t *err);
/* "reserve" or "overbook FACTOR" (FACTOR 1-100, up to two decimals). */
int vs_node_parse_policy(const char *text, uint64_t *factor_pct, vs_error_t *err);
/* What the node admits in all: capacity times the factor. */
vs_reserve_t vs_node_admissible(const vs_node_t *node);

/* Whether `want` fits besides `reserved`; if not, err says what does not
 * fit and by how much (kind VS_E_STATE). */
int vs_admit(const vs_node_t *node, const vs_reserve_t *reserved, const vs_reserve_t *want,
             vs_error_t *err);
/* How many more VPS reserving `size` would fit (UINT64_MAX: no limit, when
 * size reserves nothing). */
uint64_t vs_admit_how_many(const vs_node_t *node, const vs_reserve_t *reserved,
                           const vs_reserve_t *size);

/* What a VPS's limits reserve (--cpu-reserve, --ram-reserve). */
vs_reserve_t vs_reserve_of(const vs_limits_t *l);

/* The host's CPUs and memory. */
vs_reserve_t vs_node_detect(void);

/* Refuses (VS_E_USAGE, one line naming the option and the node's figure) a
 * limit the node can never satisfy, whatever its policy: --ram above its
 * memory, --cpus or --cpulimit above its CPUs, a --cpumask naming a CPU
 * beyond the cpus_present the kernel knows. The admin may keep one with
 * --force (a config meant for a bigger node). */
int vs_limits_fit_node(const vs_limits_t *l, const vs_reserve_t *node, unsigned cpus_present,
                       vs_error_t *err);

#endif
