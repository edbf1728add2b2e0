/* The container's cgroup and its linux.resources, through the cgroup code
 * of scheduler-limits/: the cgroup lives below the runtime's own cgroup on
 * every hierarchy (cgroupsPath "/a/b" is <own>/a/b: a runtime never makes
 * cgroups outside the subtree it was given). The limits vsd also knows
 * (memory, swap, reservation, pids, CPU shares, CPU set) are planned by
 * vs_limits_plan; the rest are written as the runtime-spec names them. */
#include "oci.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vs/cgroup.h"
#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/limits.h"

struct oci_cgroup {
        vs_cgroup_t *cg;
        char *path;
        int created;
};

/* "slice:prefix:name" (systemd's form) becomes slice/prefix-name.scope,
 * with the slice's parents ("a-b.slice" lives in a.slice/a-b.slice). */
static char *systemd_path(const char *spec, const char *id)
{
        cleanup_free char *copy = vs_xstrdup(spec);
        char *prefix = strchr(copy, ':'), *name;
        char *out;

        if (!prefix)
                return vs_strdupf("system.slice/%s.scope", spec);
        *prefix++ = '\0';
        name = strchr(prefix, ':');
        if (name)
                *name++ = '\0';
        if (!*copy)
                out = vs_xstrdup("system.slice");
        else {
                out = vs_xstrdup("");
                for (char *dash = copy; (dash = strchr(dash, '-')); dash++) {
                        char *joined;

                        *dash = '\0';
                        joined = vs_strdupf("%s%s.slice/", out, copy);
                        free(out);
                        out = joined;
                        *dash = '-';
                }
                char *joined = vs_strdupf("%s%s", out, copy);
                free(out);
                out = joined;
        }
        char *full = vs_strdupf("%s/%s%s%s.scope", out, *prefix ? prefix : "", *prefix ? "-" : "",
                                name && *name ? name : id);
        free(out);
        return full;
}

int oci_cgroup_open(const char *path, const char *base, int systemd, const char *id, int create,
                    struct oci_cgroup **out, vs_error_t *err)
{
        struct oci_cgroup *c = vs_xmalloc(sizeof(*c));
        const char *rel;

        memset(c, 0, sizeof(*c));
        if (!path || !*path)
                c->path = vs_strdupf("paene-oci/%s", id);
        else if (systemd && path[0] != '/')
                c->path = systemd_path(path, id);
        else
                c->path = vs_xstrdup(path);
        rel = c->path + strspn(c->path, "/");
        if (!*rel) {
                free(c->path);
                free(c);
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "linux.cgroupsPath '%s' names the runtime's own cgroup", path);
        }
        if (vs_cgroup_open_below(rel, base, create, &c->cg, &c->created, err) < 0) {
                free(c->path);
                free(c);
                return -1;
        }
        /* paene-oci/ of the default path is the runtime's: the last
         * container to go removes it, whoever made it */
        if ((!path || !*path) && c->created == 1)
                c->created = 2;
        *out = c;
        return 0;
}

const char *oci_cgroup_path(const struct oci_cgroup *cg)
{
        return cg->path;
}

int oci_cgroup_created(const struct oci_cgroup *cg)
{
        return cg->created;
}

void oci_cgroup_free(struct oci_cgroup *cg)
{
        if (!cg)
                return;
        vs_cgroup_close_below(cg->cg);
        free(cg->path);
        free(cg);
}

static int write_file(struct oci_cgroup *cg, const char *controller, const char *file,
                      const char *value, vs_error_t *err)
{
        int is_v2, fd = vs_cgroup_any_fd(cg->cg, controller, &is_v2);

        if (fd < 0)
                return vs_error_kind(err, VS_E_STATE, ENOTSUP,
                                     "cgroup controller %s is not available for %s", controller,
                                     cg->path);
        if (vs_write_string(fd, file, value, err) < 0)
                return vs_error_wrap(err, "write '%s' to %s of cgroup %s", value, file, cg->path);
        return 0;
}

static int controller_v2(struct oci_cgroup *cg, const char *controller)
{
        int is_v2 = 0;

        return vs_cgroup_any_fd(cg->cg, controller, &is_v2) >= 0 && is_v2;
}

static void fmt_i64(char *buf, size_t size, int64_t v, int v2)
{
        if (v < 0)
                snprintf(buf, size, "%s", v2 ? "max" : "-1");
        else
                snprintf(buf, size, "%" PRId64, v);
}

/* What vsd's limits plan covers: one implementation of their files. */
static int apply_shared(struct oci_cgroup *cg, const struct oci_resources *r, vs_error_t *err)
{
        vs_limits_t l;
        vs_limit_write_t writes[VS_LIMIT_WRITES_MAX];
        static const char *const ctrls[] = { "memory", "cpu", "cpuset", "pids" };

        memset(&l, 0, sizeof(l));
        if (r->has_mem_limit && r->mem_limit > 0) {
                l.set |= 1u << VS_LIM_RAM;
                l.value[VS_LIM_RAM] = (uint64_t)r->mem_limit;
                if (r->has_mem_swap && r->mem_swap > 0) {
                        l.set |= 1u << VS_LIM_SWAP;
                        l.value[VS_LIM_SWAP] = (uint64_t)(r->mem_swap - r->mem_limit);
                }
        }
        if (r->has_mem_reservation && r->mem_reservation > 0) {
                l.set |= 1u << VS_LIM_RAM_RESERVE;
                l.value[VS_LIM_RAM_RESERVE] = (uint64_t)r->mem_reservation;
        }
        if (r->has_pids && r->pids_limit > 0) {
                l.set |= 1u << VS_LIM_NUMPROC;
                l.value[VS_LIM_NUMPROC] = (uint64_t)r->pids_limit;
        }
        if (r->has_cpu_shares && r->cpu_shares > 0) {
                l.set |= 1u << VS_LIM_CPUUNITS;
                l.value[VS_LIM_CPUUNITS] = r->cpu_shares;
        }
        if (r->cpus && *r->cpus) {
                l.set |= 1u << VS_LIM_CPUMASK;
                vs_strlcpy(l.text[VS_LIM_CPUMASK], r->cpus, sizeof(l.text[VS_LIM_CPUMASK]));
        }
        for (size_t c = 0; c < sizeof(ctrls) / sizeof(ctrls[0]); c++) {
                int v2 = controller_v2(cg, ctrls[c]);
                size_t n = vs_limits_plan(&l, v2, NULL, writes);

                for (size_t i = 0; i < n; i++) {
                        if (strcmp(writes[i].controller, ctrls[c]) != 0)
                                continue;
                        /* OCI's swap = -1 lifts memsw: planned below */
                        if (write_file(cg, writes[i].controller, writes[i].file, writes[i].value,
                                       err) < 0)
                                return -1;
                }
        }
        return 0;
}

static int apply_memory(struct oci_cgroup *cg, const struct oci_resources *r, vs_error_t *err)
{
        int v2 = controller_v2(cg, "memory");
        char buf[64];

        if (r->has_mem_limit && r->mem_limit < 0) {
                if (!v2 && write_file(cg, "memory", "memory.memsw.limit_in_bytes", "-1", NULL) < 0)
                        (void)0; /* no swap accounting */
                if (write_file(cg, "memory", v2 ? "memory.max" : "memory.limit_in_bytes",
                               v2 ? "max" : "-1", err) < 0)
                        return -1;
        }
        if (r->has_mem_swap && r->mem_swap < 0) {
                if (write_file(cg, "memory", v2 ? "memory.swap.max" : "memory.memsw.limit_in_bytes",
                               v2 ? "max" : "-1", err) < 0)
                        return -1;
        }
        if (r->has_mem_swap && r->mem_swap > 0 && !(r->has_mem_limit && r->mem_limit > 0)) {
                snprintf(buf, sizeof(buf), "%" PRId64, r->mem_swap);
                if (write_file(cg, "memory", v2 ? "memory.swap.max" : "memory.memsw.limit_in_bytes",
                               buf, err) < 0)
                        return -1;
        }
        if (!v2 && r->has_mem_kernel) {
                fmt_i64(buf, sizeof(buf), r->mem_kernel, 0);
                if (write_file(cg, "memory", "memory.kmem.limit_in_bytes", buf, err) < 0)
                        return -1;
        }
        if (!v2 && r->has_mem_kernel_tcp) {
                fmt_i64(buf, sizeof(buf), r->mem_kernel_tcp, 0);
                if (write_file(cg, "memory", "memory.kmem.tcp.limit_in_bytes", buf, err) < 0)
                        return -1;
        }
        if (!v2 && r->has_swappiness) {
                snprintf(buf, sizeof(buf), "%" PRIu64, r->swappiness);
                if (write_file(cg, "memory", "memory.swappiness", buf, err) < 0)
                        return -1;
        }
        if (!v2 && r->has_disable_oom &&
            write_file(cg, "memory", "memory.oom_control", r->disable_oom ? "1" : "0", err) < 0)
                return -1;
        return 0;
}

static int apply_cpu(struct oci_cgroup *cg, const struct oci_resources *r, vs_error_t *err)
{
        int v2 = controller_v2(cg, "cpu");
        char buf[64];

        if (v2 && (r->has_cpu_quota || r->has_cpu_period)) {
                char quota[32];

                fmt_i64(quota, sizeof(quota), r->has_cpu_quota ? r->cpu_quota : -1, 1);
                snprintf(buf, sizeof(buf), "%s %" PRIu64, quota,
                         r->has_cpu_period ? r->cpu_period : 100000);
                if (write_file(cg, "cpu", "cpu.max", buf, err) < 0)
                        return -1;
        }
        if (!v2 && r->has_cpu_period) {
                snprintf(buf, sizeof(buf), "%" PRIu64, r->cpu_period);
                if (write_file(cg, "cpu", "cpu.cfs_period_us", buf, err) < 0)
                        return -1;
        }
        if (!v2 && r->has_cpu_quota) {
                fmt_i64(buf, sizeof(buf), r->cpu_quota, 0);
                if (write_file(cg, "cpu", "cpu.cfs_quota_us", buf, err) < 0)
                        return -1;
        }
        if (r->has_cpu_burst) {
                snprintf(buf, sizeof(buf), "%" PRIu64, r->cpu_burst);
                if (write_file(cg, "cpu", v2 ? "cpu.max.burst" : "cpu.cfs_burst_us", buf, err) < 0)
                        return -1;
        }
        if (!v2 && r->has_rt_period) {
                snprintf(buf, sizeof(buf), "%" PRIu64, r->rt_period);
                if (write_file(cg, "cpu", "cpu.rt_period_us", buf, err) < 0)
                        return -1;
        }
        if (!v2 && r->has_rt_runtime) {
                snprintf(buf, sizeof(buf), "%" PRId64, r->rt_runtime);
                if (write_file(cg, "cpu", "cpu.rt_runtime_us", buf, err) < 0)
                        return -1;
        }
        if (v2 && r->has_cpu_idle) {
                snprintf(buf, sizeof(buf), "%" PRId64, r->cpu_idle);
                if (write_file(cg, "cpu", "cpu.idle", buf, err) < 0)
                        return -1;
        }
        if (r->mems && *r->mems && write_file(cg, "cpuset", "cpuset.mems", r->mems, err) < 0)
                return -1;
        return 0;
}

static int apply_pids(struct oci_cgroup *cg, const struct oci_resources *r, vs_error_t *err)
{
        if (r->has_pids && r->pids_limit <= 0)
                return write_file(cg, "pids", "pids.max", "max", err);
        return 0;
}

static int apply_blkio(struct oci_cgroup *cg, const struct oci_resources *r, vs_error_t *err)
{
        int v2 = controller_v2(cg, "io");
        static const char *const v1_files[4] = {
                "blkio.throttle.read_bps_device",
                "blkio.throttle.write_bps_device",
                "blkio.throttle.read_iops_device",
                "blkio.throttle.write_iops_device",
        };
        static const char *const v2_keys[4] = { "rbps", "wbps", "riops", "wiops" };
        const char *ctrl = v2 ? "io" : "blkio";
        char buf[128];

        if (r->has_blkio_weight) {
                snprintf(buf, sizeof(buf), "%d", r->blkio_weight);
                if (write_file(cg, ctrl, v2 ? "io.bfq.weight" : "blkio.weight", buf, NULL) < 0 &&
                    write_file(cg, ctrl, v2 ? "io.weight" : "blkio.bfq.weight", buf, err) < 0)
                        return -1;
        }
        if (!v2 && r->has_blkio_leaf_weight) {
                snprintf(buf, sizeof(buf), "%d", r->blkio_leaf_weight);
                if (write_file(cg, ctrl, "blkio.leaf_weight", buf, err) < 0)
                        return -1;
        }
        for (size_t i = 0; i < r->n_weight_devs; i++) {
                const struct oci_weight_dev *d = &r->weight_devs[i];

                if (d->weight >= 0) {
                        snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %d", d->major, d->minor,
                                 d->weight);
                        if (write_file(cg, ctrl, v2 ? "io.weight" : "blkio.weight_device", buf,
                                       err) < 0)
                                return -1;
                }
                if (!v2 && d->leaf_weight >= 0) {
                        snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %d", d->major, d->minor,
                                 d->leaf_weight);
                        if (write_file(cg, ctrl, "blkio.leaf_weight_device", buf, err) < 0)
                                return -1;
                }
        }
        for (int k = 0; k < 4; k++) {
                for (size_t i = 0; i < r->n_throttle[k]; i++) {
                        const struct oci_throttle *t = &r->throttle[k][i];

                        if (v2)
                                snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %s=%" PRIu64,
                                         t->major, t->minor, v2_keys[k], t->rate);
                        else
                                snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %" PRIu64,
                                         t->major, t->minor, t->rate);
                        if (write_file(cg, ctrl, v2 ? "io.max" : v1_files[k], buf, err) < 0)
                                return -1;
                }
        }
        return 0;
}

static int apply_misc(struct oci_cgroup *cg, const struct oci_resources *r, vs_error_t *err)
{
        char buf[160];

        for (size_t i = 0; i < r->n_hugepages; i++) {
                int v2 = controller_v2(cg, "hugetlb");
                cleanup_free char *file =
                        v2 ? vs_strdupf("hugetlb.%s.max", r->hugepages[i].page_size)
                           : vs_strdupf("hugetlb.%s.limit_in_bytes", r->hugepages[i].page_size);

                snprintf(buf, sizeof(buf), "%" PRIu64, r->hugepages[i].limit);
                if (write_file(cg, "hugetlb", file, buf, err) < 0)
                        return -1;
        }
        if (r->has_net_class) {
                snprintf(buf, sizeof(buf), "%u", r->net_class);
                if (write_file(cg, "net_cls", "net_cls.classid", buf, err) < 0)
                        return -1;
        }
        for (size_t i = 0; i < r->n_net_prio; i++) {
                snprintf(buf, sizeof(buf), "%s %s", r->net_prio[i].key, r->net_prio[i].value);
                if (write_file(cg, "net_prio", "net_prio.ifpriomap", buf, err) < 0)
                        return -1;
        }
        for (size_t i = 0; i < r->n_unified; i++) {
                int is_v2, fd = vs_cgroup_any_fd(cg->cg, "", &is_v2);

                if (fd < 0)
                        return vs_error_kind(err, VS_E_STATE, ENOTSUP,
                                             "linux.resources.unified needs cgroup v2");
                if (vs_write_string(fd, r->unified[i].key, r->unified[i].value, err) < 0)
                        return vs_error_wrap(err, "linux.resources.unified");
        }
        return 0;
}

static int device_rule(struct oci_cgroup *cg, int allow, char type, int64_t major, int64_t minor,
                       const char *access, vs_error_t *err)
{
        char rule[96], maj[24], min[24];

        if (major < 0)
                snprintf(maj, sizeof(maj), "*");
        else
                snprintf(maj, sizeof(maj), "%" PRId64, major);
        if (minor < 0)
                snprintf(min, sizeof(min), "*");
        else
                snprintf(min, sizeof(min), "%" PRId64, minor);
        if (type == 'a' && major < 0 && minor < 0)
                snprintf(rule, sizeof(rule), "a");
        else
                snprintf(rule, sizeof(rule), "%c %s:%s %s", type, maj, min, access);
        return write_file(cg, "devices", allow ? "devices.allow" : "devices.deny", rule, err);
}

/* The nodes every container has (runtime-spec's default devices, the
 * ptys of its devpts): always allowed after the config's rules. */
static const struct {
        int64_t major, minor;
} default_nodes[] = {
        { 1, 3 }, { 1, 5 }, { 1, 7 }, { 1, 8 }, { 1, 9 }, { 5, 0 }, { 5, 2 }, { 136, -1 },
};

/* v1's device cgroup: the config's rules in order (a later rule wins, as
 * in the kernel's list), then the default nodes and the config's
 * linux.devices. Written once the container's /dev is made, so that its
 * mknod is not refused. v2 would need a BPF program: there the rules are
 * left to the container's own /dev, which holds only the nodes it lists. */
int oci_cgroup_apply_devices(struct oci_cgroup *cg, const struct oci_config *c, vs_error_t *err)
{
        const struct oci_resources *r = &c->resources;
        int is_v2;

        if (vs_cgroup_any_fd(cg->cg, "devices", &is_v2) < 0 || is_v2 || !r->n_dev_rules)
                return 0;
        for (size_t i = 0; i < r->n_dev_rules; i++) {
                const struct oci_dev_rule *d = &r->dev_rules[i];

                if (device_rule(cg, d->allow, d->type, d->major, d->minor, d->access, err) < 0)
                        return -1;
        }
        for (size_t i = 0; i < sizeof(default_nodes) / sizeof(default_nodes[0]); i++)
                if (device_rule(cg, 1, 'c', default_nodes[i].major, default_nodes[i].minor, "rwm",
                                err) < 0)
                        return -1;
        for (size_t i = 0; i < c->n_devices; i++) {
                const struct oci_device *d = &c->devices[i];

                if (d->type != 'p' && device_rule(cg, 1, d->type == 'b' ? 'b' : 'c', d->major,
                                                  d->minor, "rwm", err) < 0)
                        return -1;
        }
        return 0;
}

int oci_cgroup_apply(struct oci_cgroup *cg, const struct oci_resources *r, vs_error_t *err)
{
        if (apply_memory(cg, r, err) < 0 || apply_shared(cg, r, err) < 0 ||
            apply_cpu(cg, r, err) < 0 || apply_pids(cg, r, err) < 0 ||
            apply_blkio(cg, r, err) < 0 || apply_misc(cg, r, err) < 0)
                return -1;
        return 0;
}

int oci_cgroup_add(struct oci_cgroup *cg, pid_t pid, vs_error_t *err)
{
        return vs_cgroup_add_pid(cg->cg, pid, err);
}

int oci_cgroup_pids(struct oci_cgroup *cg, pid_t **pids, size_t *n, vs_error_t *err)
{
        *pids = vs_cgroup_pids(cg->cg, err);
        if (!*pids)
                return -1;
        for (*n = 0; (*pids)[*n]; (*n)++)
                ;
        return 0;
}

int oci_cgroup_freeze(struct oci_cgroup *cg, int frozen, vs_error_t *err)
{
        int is_v2, fd = vs_cgroup_any_fd(cg->cg, "freezer", &is_v2);

        if (fd >= 0)
                return vs_write_string(fd, "freezer.state", frozen ? "FROZEN" : "THAWED", err);
        fd = vs_cgroup_any_fd(cg->cg, "", &is_v2);
        if (fd >= 0 && vs_write_string(fd, "cgroup.freeze", frozen ? "1" : "0", NULL) == 0)
                return 0;
        return vs_error_kind(err, VS_E_STATE, ENOTSUP, "no freezer for cgroup %s", cg->path);
}

int oci_cgroup_frozen(struct oci_cgroup *cg)
{
        int is_v2, fd = vs_cgroup_any_fd(cg->cg, "freezer", &is_v2);
        cleanup_free char *text = NULL;

        if (fd >= 0 && vs_read_file(fd, "freezer.state", 64, &text, NULL, NULL) == 0)
                return strncmp(text, "FROZEN", 6) == 0;
        fd = vs_cgroup_any_fd(cg->cg, "", &is_v2);
        if (fd >= 0 && vs_read_file(fd, "cgroup.freeze", 64, &text, NULL, NULL) == 0)
                return text[0] == '1';
        return 0;
}

int oci_cgroup_remove(struct oci_cgroup *cg, int created, vs_error_t *err)
{
        return vs_cgroup_remove_below(cg->cg, created, err);
}
