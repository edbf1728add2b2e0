/* paene-oci: an OCI runtime (runtime-spec 1.x) with runc's command line.
 * config.c reads config.json strictly into struct oci_config; state.c keeps
 * each container's state under --root; create.c builds the container;
 * main.c is the command line. No daemon: the caller's shim (conmon,
 * containerd-shim) supervises the container's init after create exits. */
#ifndef PAENE_OCI_H
#define PAENE_OCI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vs/error.h"
#include "vs/security.h"

#define OCI_VERSION "1.0.2"
#define OCI_CONFIG_MAX (4U << 20) /* a larger config.json is refused */

struct oci_mount {
        char *destination, *type, *source, *data;
        unsigned long flags, clear_flags, propagation, attr_set, attr_clr;
        int bind, rec_bind;
};

struct oci_namespace {
        int type; /* CLONE_NEW* */
        char *path;
};

struct oci_idmap {
        uint32_t container_id, host_id, size;
};

struct oci_rlimit {
        int resource;
        uint64_t soft, hard;
};

struct oci_hook {
        char *path;
        char **args, **env; /* NULL-terminated */
        int timeout;        /* seconds, 0: none */
};

enum oci_hook_kind {
        OCI_HOOK_PRESTART,
        OCI_HOOK_CREATE_RUNTIME,
        OCI_HOOK_CREATE_CONTAINER,
        OCI_HOOK_START_CONTAINER,
        OCI_HOOK_POSTSTART,
        OCI_HOOK_POSTSTOP,
        OCI_HOOK_KINDS
};

struct oci_hooks {
        struct oci_hook *list;
        size_t count;
};

struct oci_device {
        char *path;
        char type; /* c, b, u, p */
        int64_t major, minor;
        mode_t mode;
        int has_mode;
        uid_t uid;
        gid_t gid;
};

struct oci_dev_rule {
        int allow;
        char type;            /* a, c, b */
        int64_t major, minor; /* -1: any */
        char access[4];       /* rwm subset */
};

struct oci_throttle {
        int64_t major, minor;
        uint64_t rate;
};

struct oci_weight_dev {
        int64_t major, minor;
        int weight, leaf_weight; /* -1: not given */
};

struct oci_hugepage {
        char *page_size;
        uint64_t limit;
};

struct oci_kv {
        char *key, *value;
};

/* resources; a field not given is left as the kernel has it */
struct oci_resources {
        int has_mem_limit, has_mem_reservation, has_mem_swap, has_mem_kernel, has_mem_kernel_tcp,
                has_swappiness, has_disable_oom;
        int64_t mem_limit, mem_reservation, mem_swap, mem_kernel, mem_kernel_tcp;
        uint64_t swappiness;
        int disable_oom;
        int has_cpu_shares, has_cpu_quota, has_cpu_period, has_rt_runtime, has_rt_period,
                has_cpu_burst, has_cpu_idle;
        uint64_t cpu_shares, cpu_period, rt_period, cpu_burst;
        int64_t cpu_quota, rt_runtime, cpu_idle;
        char *cpus, *mems;
        int has_pids;
        int64_t pids_limit;
        int has_blkio_weight, has_blkio_leaf_weight;
        int blkio_weight, blkio_leaf_weight;
        struct oci_weight_dev *weight_devs;
        size_t n_weight_devs;
        struct oci_throttle *throttle[4]; /* read bps, write bps, read iops, write iops */
        size_t n_throttle[4];
        struct oci_hugepage *hugepages;
        size_t n_hugepages;
        int has_net_class;
        uint32_t net_class;
        struct oci_kv *net_prio;
        size_t n_net_prio;
        struct oci_dev_rule *dev_rules;
        size_t n_dev_rules;
        struct oci_kv *unified;
        size_t n_unified;
};

struct oci_process {
        int terminal;
        unsigned console_height, console_width;
        uid_t uid;
        gid_t gid;
        gid_t *groups;
        size_t n_groups;
        int has_umask;
        mode_t umask;
        char **args, **env; /* NULL-terminated */
        char *cwd;
        vs_capsets_t caps;
        struct oci_rlimit *rlimits;
        size_t n_rlimits;
        int no_new_privileges;
        int has_oom_score_adj;
        int oom_score_adj;
        char *apparmor, *selinux;
};

struct oci_config {
        char *oci_version;
        char *root_path; /* absolute (bundle-relative paths resolved) */
        int root_readonly;
        char *hostname, *domainname;
        struct oci_mount *mounts;
        size_t n_mounts;
        int has_process;
        struct oci_process process;
        struct oci_hooks hooks[OCI_HOOK_KINDS];
        struct oci_namespace *namespaces;
        size_t n_namespaces;
        struct oci_idmap *uid_maps, *gid_maps;
        size_t n_uid_maps, n_gid_maps;
        struct oci_kv *sysctl;
        size_t n_sysctl;
        int has_resources;
        struct oci_resources resources;
        char *cgroups_path;
        struct oci_device *devices;
        size_t n_devices;
        vs_seccomp_profile_t *seccomp;
        unsigned long rootfs_propagation; /* 0: not given */
        char **masked, **readonly;        /* NULL-terminated, NULL when not given */
        char *mount_label;
        struct oci_kv *annotations;
        size_t n_annotations;
};

/* Parses config.json text; `bundle` resolves a relative root.path. */
int oci_config_parse(const char *text, size_t len, const char *bundle, struct oci_config **out,
                     vs_error_t *err);
/* Reads and parses <bundle>/config.json (at most OCI_CONFIG_MAX bytes). */
int oci_config_load(const char *bundle, struct oci_config **out, vs_error_t *err);
/* Parses a process object alone (exec --process). */
int oci_process_parse(const char *text, size_t len, struct oci_process *out, vs_error_t *err);
void oci_process_clear(struct oci_process *p);
void oci_config_free(struct oci_config *c);
/* Whether the config has a namespace of this type, and its path (may be NULL). */
const struct oci_namespace *oci_config_ns(const struct oci_config *c, int type);
/* Parses the linux.resources object alone (update --resources). */
int oci_resources_parse(const char *text, size_t len, struct oci_resources *out, vs_error_t *err);
void oci_resources_clear(struct oci_resources *r);

/* ---- state (state.c) ---- */

struct oci_state {
        char *id, *bundle, *status;
        pid_t pid;
        unsigned long long starttime;
        char *cgroup;       /* path below the runtime's own cgroup, "" none */
        char *cgroup_base;  /* /proc/self/cgroup of create: what "own" was */
        int cgroup_created; /* how many trailing components create made */
        char *created;      /* RFC 3339 */
        char *owner;
        int systemd;
};

int oci_state_dir_make(const char *root, const char *id, int *dirfd, vs_error_t *err);
int oci_state_open(const char *root, const char *id, int *dirfd, vs_error_t *err);
int oci_state_write(int dirfd, const struct oci_state *st, vs_error_t *err);
int oci_state_read(int dirfd, struct oci_state *st, vs_error_t *err);
void oci_state_clear(struct oci_state *st);
/* created, running, paused or stopped, from the process and the fifo */
const char *oci_state_status(int dirfd, const struct oci_state *st);
/* The runtime-spec state JSON (malloc'd). */
char *oci_state_json(const struct oci_state *st, const char *status, const struct oci_config *c);
int oci_id_valid(const char *id, vs_error_t *err);
/* Whether pid still is the process started at `starttime`. */
int oci_pid_alive(pid_t pid, unsigned long long starttime);

/* ---- hooks (hooks.c) ---- */
int oci_hooks_run(const struct oci_hooks *hooks, const char *state_json, const char *what,
                  vs_error_t *err);

/* ---- cgroups (cgroups.c) ---- */
struct oci_cgroup;
/* Creates (or joins) the container's cgroup below the runtime's own
 * cgroup: `path` is cgroupsPath, or "slice:prefix:name" with systemd. */
int oci_cgroup_open(const char *path, const char *base, int systemd, const char *id, int create,
                    struct oci_cgroup **out, vs_error_t *err);
const char *oci_cgroup_path(const struct oci_cgroup *cg);
int oci_cgroup_created(const struct oci_cgroup *cg);
int oci_cgroup_apply(struct oci_cgroup *cg, const struct oci_resources *r, vs_error_t *err);
int oci_cgroup_apply_devices(struct oci_cgroup *cg, const struct oci_config *c, vs_error_t *err);
int oci_cgroup_add(struct oci_cgroup *cg, pid_t pid, vs_error_t *err);
int oci_cgroup_pids(struct oci_cgroup *cg, pid_t **pids, size_t *n, vs_error_t *err);
int oci_cgroup_freeze(struct oci_cgroup *cg, int frozen, vs_error_t *err);
int oci_cgroup_frozen(struct oci_cgroup *cg);
/* Removes the cgroup and the `created - 1` parents that create made. */
int oci_cgroup_remove(struct oci_cgroup *cg, int created, vs_error_t *err);
void oci_cgroup_free(struct oci_cgroup *cg);

/* ---- the container (create.c, exec.c) ---- */
struct oci_create_opts {
        const char *root, *id, *bundle, *pid_file, *console_socket;
        int no_pivot, no_new_keyring, systemd;
        int preserve_fds;
};
int oci_create(const struct oci_create_opts *o, vs_error_t *err);

struct oci_exec_opts {
        const char *root, *id, *pid_file, *console_socket, *cwd;
        struct oci_process *process;
        int detach, tty, preserve_fds;
};
/* Returns the process's exit status when not detached. */
int oci_exec(const struct oci_exec_opts *o, vs_error_t *err);

/* mounts.c: the container's root, run in the child */
int oci_rootfs_prepare(const struct oci_config *c, vs_error_t *err);
int oci_rootfs_enter(const struct oci_config *c, int no_pivot, vs_error_t *err);
int oci_rootfs_finish(const struct oci_config *c, vs_error_t *err);

/* a file name from a container process's argv[0] and its PATH */
char *oci_find_exec(const char *name, char *const *env);

#endif
