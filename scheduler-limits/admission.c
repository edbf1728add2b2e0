/* Admission control: sums and comparisons, so that the numbers an admin sees
 * in `vsctl node` and in a refused start are the same. */
#include "vs/admission.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/limits.h"
#include "vs/parse.h"

#define MICRO_PER_CPU 1000000ULL

int vs_node_parse_policy(const char *text, uint64_t *factor_pct, vs_error_t *err)
{
        uint64_t micro;

        if (text && strcmp(text, "reserve") == 0) {
                *factor_pct = 100;
                return 0;
        }
        if (!text || strncmp(text, "overbook ", 9) != 0)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "policy '%s' is not valid (use reserve or overbook FACTOR)",
                                     text ? text : "");
        /* a factor reads like a number of CPUs: 1.5 */
        if (vs_parse_cpu(text + 9, &micro, err) < 0 || strchr(text + 9, '%') ||
            strchr(text + 9, '/'))
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "policy '%s': FACTOR is a number such as 1.5", text);
        if (micro < MICRO_PER_CPU || micro > 100 * MICRO_PER_CPU || micro % 10000)
                return vs_error_kind(err, VS_E_USAGE, ERANGE,
                                     "policy '%s': FACTOR must be 1-100, two decimals at most",
                                     text);
        *factor_pct = micro / 10000;
        return 0;
}

int vs_node_from_config(const vs_kv_t *conf, const vs_reserve_t *detected, vs_node_t *node,
                        vs_error_t *err)
{
        const char *cpus = vs_kv_get(conf, "node_cpus");
        const char *memory = vs_kv_get(conf, "node_memory");
        const char *policy = vs_kv_get(conf, "policy");

        node->capacity = *detected;
        node->factor_pct = 100;
        if (cpus && vs_parse_cpu(cpus, &node->capacity.cpu_micro, err) < 0)
                return vs_error_wrap(err, "vsd.conf: node_cpus");
        if (memory && vs_parse_size(memory, &node->capacity.mem_bytes, err) < 0)
                return vs_error_wrap(err, "vsd.conf: node_memory");
        if (policy && vs_node_parse_policy(policy, &node->factor_pct, err) < 0)
                return vs_error_wrap(err, "vsd.conf");
        return 0;
}

static uint64_t scaled(uint64_t value, uint64_t pct)
{
        return value > UINT64_MAX / pct ? UINT64_MAX : value * pct / 100;
}

vs_reserve_t vs_node_admissible(const vs_node_t *node)
{
        return (vs_reserve_t){ scaled(node->capacity.cpu_micro, node->factor_pct),
                               scaled(node->capacity.mem_bytes, node->factor_pct) };
}

static void policy_text(const vs_node_t *node, char *buf, size_t size)
{
        if (node->factor_pct == 100)
                snprintf(buf, size, "policy reserve");
        else
                snprintf(buf, size, "policy overbook %" PRIu64 ".%02" PRIu64,
                         node->factor_pct / 100, node->factor_pct % 100);
}

int vs_admit(const vs_node_t *node, const vs_reserve_t *reserved, const vs_reserve_t *want,
             vs_error_t *err)
{
        vs_reserve_t max = vs_node_admissible(node);
        uint64_t cpu = reserved->cpu_micro + want->cpu_micro;
        uint64_t mem = reserved->mem_bytes + want->mem_bytes;
        char policy[64];

        policy_text(node, policy, sizeof(policy));
        if (want->cpu_micro && cpu > max.cpu_micro)
                return vs_error_kind(err, VS_E_STATE, ENOSPC,
                                     "CPU reservations would be %" PRIu64 "%% with %" PRIu64
                                     "%% admissible (%s): %" PRIu64 "%% too much",
                                     cpu / 10000, max.cpu_micro / 10000, policy,
                                     (cpu - max.cpu_micro + 9999) / 10000);
        if (want->mem_bytes && mem > max.mem_bytes)
                return vs_error_kind(err, VS_E_STATE, ENOSPC,
                                     "memory reservations would be %" PRIu64 "M with %" PRIu64
                                     "M admissible (%s): %" PRIu64 "M too much",
                                     mem >> 20, max.mem_bytes >> 20, policy,
                                     (mem - max.mem_bytes + (1 << 20) - 1) >> 20);
        return 0;
}

static uint64_t room(uint64_t max, uint64_t used, uint64_t each)
{
        if (!each)
                return UINT64_MAX;
        return used >= max ? 0 : (max - used) / each;
}

uint64_t vs_admit_how_many(const vs_node_t *node, const vs_reserve_t *reserved,
                           const vs_reserve_t *size)
{
        vs_reserve_t max = vs_node_admissible(node);
        uint64_t by_cpu = room(max.cpu_micro, reserved->cpu_micro, size->cpu_micro);
        uint64_t by_mem = room(max.mem_bytes, reserved->mem_bytes, size->mem_bytes);

        return by_cpu < by_mem ? by_cpu : by_mem;
}

vs_reserve_t vs_node_detect(void)
{
        cleanup_free char *meminfo = NULL;
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        vs_reserve_t r = { (uint64_t)(cpus > 0 ? cpus : 1) * MICRO_PER_CPU, 0 };
        const char *p;

        if (vs_read_file(AT_FDCWD, "/proc/meminfo", 65536, &meminfo, NULL, NULL) == 0 &&
            (p = strstr(meminfo, "MemTotal:")))
                r.mem_bytes = strtoull(p + 9, NULL, 10) * 1024;
        return r;
}

/* "23.5G": a node's memory in a message. */
static void size_text(uint64_t bytes, char *buf, size_t size)
{
        static const char units[] = "KMGTPE";
        double value = (double)bytes;
        int unit = -1;

        while (value >= 1024 && unit < 5) {
                value /= 1024;
                unit++;
        }
        if (unit < 0)
                snprintf(buf, size, "%" PRIu64 "B", bytes);
        else
                snprintf(buf, size, "%.1f%c", value, units[unit]);
}

#define FORCE_HINT "; --force to keep it anyway"

int vs_limits_fit_node(const vs_limits_t *l, const vs_reserve_t *node, unsigned cpus_present,
                       vs_error_t *err)
{
        uint64_t ncpus = node->cpu_micro / MICRO_PER_CPU;
        char mem[32];

        size_text(node->mem_bytes, mem, sizeof(mem));
        if (VS_LIMIT_IS_SET(l, VS_LIM_RAM) && node->mem_bytes &&
            l->value[VS_LIM_RAM] > node->mem_bytes)
                return vs_error_kind(err, VS_E_USAGE, ERANGE,
                                     "--ram %s is more than this node's memory (%s)" FORCE_HINT,
                                     l->text[VS_LIM_RAM], mem);
        if (VS_LIMIT_IS_SET(l, VS_LIM_CPUS) && l->value[VS_LIM_CPUS] > ncpus)
                return vs_error_kind(err, VS_E_USAGE, ERANGE,
                                     "--cpus %s is more than this node's %" PRIu64
                                     " CPUs" FORCE_HINT,
                                     l->text[VS_LIM_CPUS], ncpus);
        if (VS_LIMIT_IS_SET(l, VS_LIM_CPULIMIT) && l->value[VS_LIM_CPULIMIT] > node->cpu_micro)
                return vs_error_kind(err, VS_E_USAGE, ERANGE,
                                     "--cpulimit %s is more than this node's %" PRIu64
                                     " CPUs (%" PRIu64 "%%)" FORCE_HINT,
                                     l->text[VS_LIM_CPULIMIT], ncpus, ncpus * 100);
        if (VS_LIMIT_IS_SET(l, VS_LIM_CPUMASK) &&
            vs_cpulist_max(l->text[VS_LIM_CPUMASK]) >= cpus_present)
                return vs_error_kind(err, VS_E_USAGE, ERANGE,
                                     "--cpumask %s names a CPU this host does not have (it has "
                                     "%u)" FORCE_HINT,
                                     l->text[VS_LIM_CPUMASK], cpus_present);
        return 0;
}

vs_reserve_t vs_reserve_of(const vs_limits_t *l)
{
        vs_reserve_t r = { 0, 0 };

        if (VS_LIMIT_IS_SET(l, VS_LIM_CPU_RESERVE))
                r.cpu_micro = l->value[VS_LIM_CPU_RESERVE];
        if (VS_LIMIT_IS_SET(l, VS_LIM_RAM_RESERVE))
                r.mem_bytes = l->value[VS_LIM_RAM_RESERVE];
        return r;
}
