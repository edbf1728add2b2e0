/* vsd's internal model: one epoll loop, every VPS, every client. */
#ifndef VS_RUNTIME_VSD_H
#define VS_RUNTIME_VSD_H

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "vs/security.h"
#include "vs/spawn.h"
#include "vs/cgroup.h"
#include "vs/admission.h"
#include "vs/diskquota.h"
#include "vs/error.h"
#include "vs/parse.h"
#include "vs/kvfile.h"
#include "vs/limits.h"
#include "vs/nameidx.h"
#include "vs/netns.h"
#include "vs/procid.h"
#include "vs/procview.h"
#include "vs/reply.h"
#include "ducount.h"
#include "vs/kvfile.h"

#define VS_DEFAULT_SLICE "default"

/* Who a client is (authz.c): root and group paene are admins, a user named
 * in a slice's owners an owner; nobody else is admitted. */
enum vsd_role { VSD_ROLE_NONE, VSD_ROLE_OWNER, VSD_ROLE_ADMIN };
#define VS_STOP_TIMEOUT_MS 30000
/* Each VPS's user namespace maps 65536 host ids, from this base on, one
 * range per VPS, never shared while the VPS exists. */
#define VS_ID_BASE_FIRST (1UL << 20)
#define VS_ID_RANGE 65536UL
#define VS_ID_RANGES 60000UL

enum ev_kind {
        EV_LISTEN,
        EV_SIGNAL,
        EV_TICK,
        EV_CLIENT,
        EV_VPS_EXIT,
        EV_VPS_TIMER,
        EV_EXEC_EXIT,
        EV_WORK_EXIT,
        EV_ONBOOT,
        EV_METRICS_LISTEN,
        EV_METRICS_CLIENT,
        EV_METRICS_RESPONDER,
        EV_VIEW_EXIT,
        EV_DU,
        EV_RELEASE,
};

struct ev {
        enum ev_kind kind;
        void *owner;
};

enum phase { PHASE_STOPPED, PHASE_RUNNING, PHASE_STOPPING };

/* What a parked client waits for. */
enum wait_kind {
        WAIT_NONE,
        WAIT_STOP,
        WAIT_RESTART,
        WAIT_DESTROY,
        WAIT_EXEC,
        WAIT_WORK,
        WAIT_EVENTS,
        WAIT_MIGRATE /* holds a migration's staging until it finishes */
};

struct vps {
        char name[64];
        vs_nameidx_link_t name_link; /* in vsd's vps_index */
        struct vps **pprev;          /* what points at it in vps_list */
        enum phase phase;
        pid_t pid;
        int pidfd;
        vs_procid_t id; /* of the init: what proves it after a restart of vsd */
        long long started_at;
        int is_child;       /* vsd's own child: its exit status is known */
        int reboot_pending; /* rebooted itself while vsd was down: to start */
        int exit_known, exit_code, exit_signal;
        long long stopped_at;
        vs_cgroup_t *cg;
        /* its cgroups were removed since it last ran (at its stop, or at
         * vsd's start): a destroy need not try again */
        int cgroups_gone;
        /* its state file's save waits for an idle moment (later.c) */
        int state_later;
        char slice[64];
        struct vs_idmap idmap;      /* from the config, at start and adoption */
        char ifname[VS_IFNAME_MAX]; /* host side of its veth while running, or "" */
        uint64_t rate_out, rate_in; /* bandwidth caps in force while running, bit/s (0: none) */
        vs_caps_t caps;
        int timerfd;
        int stop_escalated;
        /* how vsd ended its last run: "SIGRTMIN+3 to systemd", with
         * ", then SIGKILL" when it had to; empty when the VPS ended by itself */
        char stop_how[64];
        unsigned long numfile;      /* RLIMIT_NOFILE of its processes, 0: vsd's */
        unsigned long timeslice_us; /* EEVDF slice of its processes, 0: default */
        uint64_t oom_kills;         /* in its current or last run */
        int backups;                /* backups being written: no start, no destroy */
        uint64_t release_seq;       /* its last run's root is held by the releaser (release.c) */
        struct ev exit_ev, timer_ev;
        struct vsd_du du; /* its layer's last count (ducount.c) */
        /* its config as last read, and the file's identity then (store.c) */
        vs_kv_t config;
        struct stat config_st;
        int config_valid;
        /* of that config, for the checks that compare every VPS (store.h):
         * its id range's base (0: none), its port forwards, its addresses */
        unsigned long id_base;
        vs_portfwd_t *fwds;
        size_t nfwds;
        uint32_t *ip4s;
        vs_ip6_t *ip6s;
        size_t nip4, nip6;
        vs_reserve_t reserve; /* what its limits reserve (admission) */
        struct vps *next;
};

struct vsd_work;
/* a reply a worker adds to (serve.h has its type) */
struct json_object;

/* The name below run/paene of a backup's manifest directory (or ""). */
#define VSD_BACKUP_TMP_MAX 64

struct client {
        struct ev ev;
        struct vsd_work *work; /* the long work its request runs, or NULL */
        int fd;                /* -1 once the peer is gone */
        uid_t uid;             /* the peer's (SO_PEERCRED) */
        enum vsd_role role;    /* from uid at accept (authz.c) */
        int64_t deadline;      /* ms on CLOCK_MONOTONIC for its request; 0: none */
        enum wait_kind wait;
        struct vps *vps;
        int destroy_force;
        /* exec: the process started for this client */
        pid_t exec_pid;
        char build[64]; /* template build: the template its process builds */
        int backup;     /* the process writes a backup of c->vps */
        /* that backup's manifest's directory in run/paene */
        char backup_tmp[VSD_BACKUP_TMP_MAX];
        int exec_pidfd;
        struct ev exec_ev;
        struct client *next;
};

/* How many clients vsd holds and how long it waits for a request
 * (vsd.conf: max_clients, max_clients_per_uid, client_timeout). Root is
 * never refused for them: the caps keep the admins of group paene from
 * taking every descriptor. */
struct vsd_client_conf {
        uint64_t max_total;   /* connections of users other than root at once */
        uint64_t max_per_uid; /* of one such user */
        uint64_t timeout_ms;  /* from accept to a whole request */
};
#define VS_MAX_CLIENTS_DEFAULT 256
#define VS_MAX_CLIENTS_PER_UID_DEFAULT 32
#define VS_CLIENT_TIMEOUT_MS_DEFAULT 10000
/* What the lower modules tell the upper ones, through pointers that
 * main() sets: the lifecycle (vps.c) never calls a request handler by name,
 * nor the network (vpsnet.c) the lifecycle. */
struct vsd;
struct vsd_hooks {
        /* handlers.c: answer the clients that wait for this VPS to stop */
        void (*vps_stopped)(struct vsd *d, struct vps *v);
        /* handlers.c: answer, before that, the clients that asked for a
         * stop alone (NULL: vps_stopped answers them too) */
        void (*vps_stop_answer)(struct vsd *d, struct vps *v);
        /* handlers.c: answer the clients still waiting on a VPS about to go */
        void (*vps_removed)(struct vsd *d, struct vps *v);
        /* vps.c: write the VPS's state file after a live network change */
        int (*save_state)(struct vsd *d, struct vps *v, vs_error_t *err);
        /* events.c: tell the event subscribers (vsd_event) */
        void (*event)(struct vsd *d, const vs_event_t *ev);
        /* migrate.c: a parked client hung up (a migration it held goes) */
        void (*client_gone)(struct vsd *d, struct client *c);
        /* slicetime.c: may a VPS of its slice start now (not past expiry)? */
        int (*slice_may_start)(struct vsd *d, const struct vps *v, vs_error_t *err);
        /* sliceusage.c: a VPS started (throttled at once past its budget) */
        void (*slice_started)(struct vsd *d, struct vps *v);
};

struct vsd_clone {
        char src[64], name[64];
        char *hostname; /* NULL: the new name */
        char *ip;       /* its config's "ip" */
        vs_id_shift_t shift;
        const vs_disk_backend_t *disk;
        vs_kv_t src_config;
        int frozen; /* the source runs: frozen for the copy (vsd_clone_thaw) */
        int live;   /* it runs, copied running then frozen for a resync */
};

/* Long work (clone, template import, build, unify) runs in a forked
 * worker at nice 10 while the loop serves everybody else (work.c). What it
 * reads or makes is held against conflicting requests, which are refused
 * "busy" (exit 4), until vsd has the worker's result and has answered. */
struct vsd_work {
        char what[32];         /* "clone", for messages and the worker's name */
        struct client *client; /* who waits for the answer */
        pid_t pid;
        int pidfd, result_fd;
        struct ev ev;
        /* what it holds */
        struct vps *vps;           /* a VPS it reads (a clone's source) */
        char vps_new[64];          /* a VPS it makes (a clone's target) */
        char tmpl[64];             /* a template it writes; "*": all (unify) */
        const char *reserved_ip;   /* addresses of the VPS it makes, held */
        unsigned long reserved_id; /* its id range's base, held (0: none) */
        /* in the worker: do the work, add to the reply; in vsd: after a
         * worker that succeeded (NULL: nothing), after one that failed */
        int (*run)(struct vsd *d, struct vsd_work *w, struct json_object *reply, vs_error_t *err);
        int (*done)(struct vsd *d, struct vsd_work *w, vs_error_t *err);
        void (*failed)(struct vsd *d, struct vsd_work *w);
        struct vsd_clone clone;    /* a clone's arguments */
        char name[64], file[4096]; /* a template's name, an archive */
        int stream[2];             /* a backup's pipe: [0] for vsctl, [1] the worker's */
        /* a migration's finish: the VPS is on an image, start it after
         * (file: the node it came from) */
        int migrate_image, migrate_start;
        struct vsd_work *next;
};

struct vsd {
        struct vsd_hooks hooks;
        char *root;
        char *vps_dir; /* absolute paths, for overlay options */
        char *tmpl_dir;
        int vps_fd, tmpl_fd, run_fd;
        int reboot_fd; /* run/paene/reboot.d (rebootmark.h), or -1 */
        int epfd, sigfd, listen_fd, tick_fd, lock_fd;
        int vsinit_fd, own_pidns_fd;
        int trash_fd; /* the remover's queue (trash.c), or -1 */
        pid_t trash_pid;
        int du_queue_fd, du_answer_fd; /* the counter's pipes (ducount.c), or -1 */
        pid_t du_pid;
        struct ev du_ev;
        int release_fd;      /* the releaser's socket (release.c), or -1 */
        int release_waiting; /* holds made since its last word to let go */
        int release_blocked; /* that word found the queue full: sent once there is room */
        pid_t release_pid;
        struct ev release_ev;
        gid_t admin_gid; /* group paene, or 0: root only */
        const char *busybox_path;
        vs_cgroup_tree_t *cgtree;
        vs_net_t *net;
        vs_nft_t *nft; /* paene's nftables tables (netns/nft.c) */
        /* the view (view.c): the FUSE mount's descriptor, its server */
        char *view_dir;
        int view_fuse_fd, view_reg_fd, view_pidfd;
        pid_t view_pid;
        int view_is_child;
        struct ev view_ev;
        /* the seccomp listeners of the VPS's processes (sysinfo and
         * sched_getaffinity), whose copies vsview answers; vsd's keep the
         * filters answered while vsview is replaced */
        int view_ctl_fd;      /* a control socket to vsview */
        int view_inflight_fd; /* vsview's table of requests being answered */
        struct vsd_notify {
                uint64_t id;
                char name[VS_NAME_MAX + 1];
                int fd;
        } * notify;
        size_t nnotify, notify_cap;
        uint64_t notify_next_id;
        struct vps *vps_list;
        vs_nameidx_t vps_index;   /* the same VPS by name (store.c) */
        struct vsd_slice *slices; /* slice.c: the loaded slice files */
        /* slicetime.h: slice expiry and byte budgets */
        struct vsd_slicetime *slicetime;
        struct client *clients;
        struct vsd_work *works;
        struct vsd_client_conf client_conf;
        /* out of descriptors: when the listener stopped being polled (ms
         * on CLOCK_MONOTONIC), 0 while it is; warned: logged once a run */
        int64_t listen_paused;
        int fd_warned;
        struct vsd_onboot *onboot;        /* the autostart under way, or NULL */
        struct vsd_metrics *metrics;      /* the HTTP endpoint, or NULL */
        struct vsd_migration *migrations; /* incoming, under way (migrate.c) */
        /* later.c: a stop's work left for an idle moment (its state file,
         * its nftables elements' removal): since when some waits (ms on
         * CLOCK_MONOTONIC; 0: none), and vsd's last event */
        int64_t later_since, last_event;
        /* later.c: stopped VPS's cgroups whose removal waits for it */
        struct later_cgroup *cgroups_later;
        int quit;
};

/* store.c: the VPS vsd knows by that name, or NULL */
struct vps *vsd_vps_find(struct vsd *d, const char *name);
/* store.c: v joins (leaves) d->vps_list and the index by name */
void vsd_vps_link(struct vsd *d, struct vps *v);
void vsd_vps_unlink(struct vsd *d, struct vps *v);

/* vps.c: the lifecycle */
int vsd_vps_save_state(struct vsd *d, struct vps *v, vs_error_t *err);
int vsd_vps_load_all(struct vsd *d, vs_error_t *err);
/* Starts the VPS that load found ended by a reboot inside while vsd was
 * down (their mark, rebootmark.h); once vsd is up. */
void vsd_vps_restart_rebooted(struct vsd *d);
struct vsd_create_args {
        const char *tmpl;
        const char *slice; /* NULL: the default */
        const char *hostname;
        int privileged;
        const char *procview; /* "on", "off", NULL: on */
        char *const *ipadd;   /* none: one address from the pool */
        size_t nipadd;
        const char *nameserver;   /* blank-separated, or NULL */
        const char *searchdomain; /* blank-separated, or NULL */
        const char *port_forward; /* the config value, or NULL */
        const vs_limits_t *limits;
        const vs_disk_limits_t *disk;
        const struct vsd_rates *rates; /* NULL: no caps */
        int onboot;                    /* -1: not given, else 0 or 1 */
        long long bootorder;           /* -1: not given */
};
int vsd_vps_create(struct vsd *d, const char *name, const struct vsd_create_args *args,
                   vs_error_t *err);
/* Changes the VPS's capability set by "NAME:on|off" words, in its config;
 * a running VPS gets it at its next start. */
int vsd_vps_set_caps(struct vsd *d, struct vps *v, const char *words, vs_error_t *err);
/* --onboot (-1: unchanged) and --bootorder (-1: unchanged), in the config. */
int vsd_vps_set_boot(struct vsd *d, struct vps *v, int onboot, long long bootorder,
                     vs_error_t *err);
/* Changes limits: live on a running VPS, and in its config unless !save. */
int vsd_vps_set(struct vsd *d, struct vps *v, const vs_limits_t *changes, int save, int force,
                vs_error_t *err);
/* Checks limits that depend on vsd itself (numfile against its own hard
 * limit). */
int vsd_limits_check(const vs_limits_t *l, vs_error_t *err);
/* Refuses a limit this node can never satisfy (RAM, CPUs, cpumask) unless
 * force: at create and set, not at start (a config may be moved here). */
int vsd_limits_fit(const vs_limits_t *l, int force, vs_error_t *err);
/* Admission control: the node (vsd.conf), and what the running VPS but
 * `except` reserve (a VPS's own reservation: vs_reserve_of). */
int vsd_node(struct vsd *d, vs_node_t *node, vs_error_t *err);
vs_reserve_t vsd_reserved(struct vsd *d, const struct vps *except);
/* The usage figures of a VPS (zeros when stopped). */
void vsd_vps_stats(struct vsd *d, struct vps *v, vs_stats_t *s);
int vsd_vps_start(struct vsd *d, struct vps *v, vs_error_t *err);
/* Clone, in three steps: prepare (in vsd: checks, the new VPS's id range
 * and addresses), copy (in a worker: the files and config, into
 * .NAME.creating) and publish (in vsd: the new VPS appears, stopped);
 * abort removes what a failed copy left. */
int vsd_clone_prepare(struct vsd *d, struct vps *src, const char *name, const char *hostname,
                      struct vsd_clone *cl, vs_error_t *err);
int vsd_clone_copy(struct vsd *d, const struct vsd_clone *cl, vs_error_t *err);
int vsd_clone_publish(struct vsd *d, const struct vsd_clone *cl, vs_error_t *err);
void vsd_clone_abort(struct vsd *d, const struct vsd_clone *cl);
void vsd_clone_free(struct vsd_clone *cl);
/* Readies a running v for a worker's copy of its own layer (clone,
 * snapshot, backup: one path); refuses one that is stopping. With a
 * backend that copies live (the dir backend's resync, the image backend's
 * clone_live), sets cl->live: the worker copies it running and freezes it
 * only for the last pass (vsd_clone_copy_layer); else freezes it now and
 * sets cl->frozen. Either way vsd_clone_thaw after the worker lets it run. */
int vsd_vps_freeze_for_copy(struct vps *v, const vs_disk_backend_t *disk, struct vsd_clone *cl,
                            vs_error_t *err);
/* In a worker: cl->disk's copy of the VPS directory src_fd into dst_fd,
 * with a live source copied running, then frozen for the resync of what
 * it changed meanwhile (a copy of one moment). *frozen_ms: how long the
 * source was frozen by this call. */
int vsd_clone_copy_layer(struct vsd *d, const struct vsd_clone *cl, int src_fd, int dst_fd,
                         const char *dst_path, const vs_id_shift_t *shift, long long *frozen_ms,
                         vs_error_t *err);
/* Lets a running source that the clone froze run on. */
void vsd_clone_thaw(struct vsd *d, struct vsd_clone *cl);
/* Makes VPS NAME (NULL: the name in its config) of a VPS directory a
 * restore extracted below the VPS directory as `dir`, as a clone of it: a
 * new id range, new addresses unless keep_ip. */
int vsd_vps_restore_dir(struct vsd *d, const char *dir, const char *name, int keep_ip,
                        vs_error_t *err);
/* Begins a stop: the stop signal, then SIGKILL after timeout_ms (0: at once). */
int vsd_vps_stop_begin(struct vsd *d, struct vps *v, uint64_t timeout_ms, vs_error_t *err);
/* The init exited: reap it, clean up, record the state. */
void vsd_vps_exited(struct vsd *d, struct vps *v);
void vsd_vps_stop_timeout(struct vsd *d, struct vps *v);
int vsd_vps_destroy(struct vsd *d, struct vps *v, vs_error_t *err);
/* The fields `want` of the VPS's description (list, status), into info;
 * with_disk: also the disk fields, which may walk the VPS's files (dir
 * backend). Its text points into v and its config as last read. */
void vsd_vps_describe(struct vsd *d, struct vps *v, int with_disk, vs_vps_fields_t want,
                      vs_vps_info_t *info);
/* How many VPS are built on the template. */
int vsd_vps_uses_template(struct vsd *d, const char *tmpl);
const char *vsd_phase_name(enum phase phase);

/* console.c: a VPS's console pty and its keeper */
struct vsd_console {
        int master, slave; /* the pty; the slave becomes the VPS's /dev/console */
        int log;           /* console.log, O_APPEND */
};
/* Makes the pty (its slave owned by the VPS's root), opens console.log
 * with a start banner. */
int vsd_console_open(struct vsd *d, struct vps *v, struct vsd_console *con, vs_error_t *err);
/* Hands the console of a started VPS to the keeper (started first when
 * there is none): it holds the master, logs, relays an attached client and
 * ends the console with the init. Not vsd's child. */
int vsd_console_keep(struct vsd *d, struct vps *v, struct vsd_console *con, vs_error_t *err);
void vsd_console_close(struct vsd_console *con);
/* A socket connected to the VPS's console keeper: bytes both ways. */
int vsd_console_connect(struct vsd *d, struct vps *v, vs_error_t *err);
/* At vsd's exit: with no VPS running, the keeper (which stays while vsd
 * lives) ends, and vsd waits for it. */
void vsd_console_release(struct vsd *d);

/* view.c: the VPS's /proc view (one FUSE mount, served by vsview) */
int vsd_view_init(struct vsd *d, vs_error_t *err);
/* 1 when the mount is there (a VPS with procview on can start). */
int vsd_view_ready(struct vsd *d);
/* vsview ended (its pidfd): another takes over the connection. */
void vsd_view_exited(struct vsd *d);
void vsd_view_tick(struct vsd *d);
/* The VPS's directory in the view (malloc'd). */
char *vsd_view_dir_of(struct vsd *d, const char *name);
/* Tells vsview the VPS's cgroup and start (before its root is built). */
int vsd_view_register(struct vsd *d, struct vps *v, vs_error_t *err);
void vsd_view_unregister(struct vsd *d, struct vps *v);
/* Whether the VPS's processes get the seccomp listener (its view is on). */
/* The VPS's limits changed: its view shows them from vsd's answer on. */
void vsd_view_changed(struct vsd *d, const char *name);
int vsd_view_wants_notify(struct vsd *d, const struct vps *v);
/* Keeps the listener fd of a process of the VPS `name` and hands a copy to
 * vsview (takes fd; -1 is ignored). */
void vsd_view_notify_add(struct vsd *d, const char *name, int fd);
/* The VPS's cgroup as vs_view_beancounters reads it (fds owned by v->cg);
 * -1 when it is not running. */
/* d NULL: only the fail counts are wanted (no disk limit, no count of open
 * files, which walks every process). */
int vsd_view_src(struct vsd *d, struct vps *v, vs_view_src_t *src);
/* disk.c: disk limits and clone */
/* The backend for a new VPS: dir without limits, else vsd.conf's
 * disk_backend (default image). */
const vs_disk_backend_t *vsd_disk_backend_for_new(struct vsd *d, const vs_disk_limits_t *lim,
                                                  vs_error_t *err);
/* The backend a VPS's config names (dir when it names none). */
const vs_disk_backend_t *vsd_disk_backend_of(const vs_kv_t *config);
void vsd_disk_config_set(vs_kv_t *config, const vs_disk_backend_t *disk,
                         const vs_disk_limits_t *lim);
/* The disk fields of a VPS's description: its backend, bytes and inodes
 * used and their limits (0: none). */
void vsd_disk_describe(struct vsd *d, struct vps *v, const vs_kv_t *config, vs_vps_info_t *info);
/* Changes the space limit; online growth while running. */
int vsd_vps_resize(struct vsd *d, struct vps *v, const vs_disk_limit_t *space, vs_error_t *err);
/* vpsnet.c: the VPS's network in the lifecycle */
/* A VPS's addresses as its config's "ip" key lists them. */
struct vsd_net_addrs {
        vs_ip4_t v4[VS_NET_ADDRS_MAX];
        size_t n4;
        vs_ip6_t v6[VS_NET_ADDRS_MAX];
        size_t n6;
};
struct vsd_net_start {
        vs_net_t *net;
        const char *name;
        struct vsd_net_addrs addrs;
        vs_nft_t *nft;
        vs_portfwd_t fwds[VS_PORTFWD_MAX];
        size_t nfwds;
        /* the /etc files, then (vsd_net_has_link) the veth, caps and rules */
        int (*hook)(void *arg, pid_t pid, vs_error_t *err);
        unsigned created; /* /etc files this start made (VS_ETC_CREATED_*) */
        /* for the /etc files: the upper layer, absolute, as the VPS's
         * mount namespace sees it (a disk image is mounted only there) */
        char upper[4096];
        char hostname[65];
        char nameserver[256];
        char searchdomain[256];
        uid_t root_id;
        uint64_t rate_out, rate_in; /* caps from the config, bit/s */
};
int vsd_net_init(struct vsd *d, vs_error_t *err);
/* Whether the start gives the VPS a veth (it has an address). */
int vsd_net_has_link(const struct vsd_net_start *start);

/* netaddrs.c: the rules of addresses and port forwards, without the
 * daemon's state */
/* Parses a config's "ip" value: blank-separated ADDR/PREFIX, either family. */
int vsd_net_parse_ips(const char *text, struct vsd_net_addrs *out, vs_error_t *err);
/* "ADDR/PREFIX ..." of both families, IPv4 first (malloc'd). */
char *vsd_net_format_ips(const struct vsd_net_addrs *addrs);
/* The addresses the other VPS hold, which a new or changed one may not take. */
struct vsd_used_addrs {
        uint32_t *v4;
        size_t n4, cap4;
        vs_ip6_t *v6;
        size_t n6, cap6;
};
void vsd_used_addrs_free(struct vsd_used_addrs *u);
#define cleanup_used_addrs __attribute__((cleanup(vsd_used_addrs_free)))
void vsd_used_add4(struct vsd_used_addrs *u, uint32_t addr);
void vsd_used_add6(struct vsd_used_addrs *u, const vs_ip6_t *ip);
/* Checks each --ipadd of given[] against the pools of conf (inside a pool:
 * its prefix unless given, not its network, gateway or broadcast; in
 * bridge mode only the pools' addresses; unicast hosts only) and against
 * used, and adds it to addrs and to used (twice in one request is refused
 * too). */
int vsd_net_add_given(const vs_net_conf_t *conf, char *const *given, size_t ngiven,
                      struct vsd_used_addrs *used, struct vsd_net_addrs *addrs, vs_error_t *err);
/* The "ip" value of a new VPS (malloc'd): the given addresses checked, or
 * the pools' lowest free ones; "none" alone: "" (no network). */
char *vsd_net_pick(const vs_net_conf_t *conf, struct vsd_used_addrs *used, char *const *given,
                   size_t ngiven, vs_error_t *err);
/* --ipdel: removes each of del[] (ADDR, with or without its prefix, or
 * "all") from addrs; one it does not hold is an error. */
int vsd_net_remove_addrs(struct vsd_net_addrs *addrs, char *const *del, size_t ndel,
                         vs_error_t *err);
/* A change of a VPS's forwards fwds[0..*n) (room for VS_PORTFWD_MAX):
 * removals "HOSTPORT[/proto]"|"all" first, then the additions
 * "HOSTPORT:VPSPORT[/proto]" (NULL-terminated lists, or NULL), which
 * start at *first_new; a host port forwarded twice is refused. */
int vsd_net_forwards_edit(vs_portfwd_t *fwds, size_t *n, char *const *add, char *const *del,
                          size_t *first_new, vs_error_t *err);
/* Refuses a host port of fwds[0..n) that another VPS (owner) forwards. */
int vsd_net_forwards_clash(const vs_portfwd_t *fwds, size_t n, const vs_portfwd_t *theirs, size_t k,
                           const char *owner, vs_error_t *err);
/* Whether the host ports of config's port_forward are free on this node
 * (a VPS that migrates here brings its own); exit 4 naming the holder. */
int vsd_net_forwards_free(struct vsd *d, const vs_kv_t *config, vs_error_t *err);

/* A name of 12 characters or more is shortened to its interface names
 * (vs_net_host_ifname, vs_net_ifb_ifname), which a shorter name can spell
 * out: two VPS with one interface name would delete each other's veth at
 * start and share a firewall record. Exit 4 naming the other VPS, where
 * one of another name has either interface name of `name`. */
int vsd_net_name_clash(struct vsd *d, const char *name, vs_error_t *err);

/* The config's "ip" value for a new VPS: the given addresses, checked
 * against the pools and every other VPS, or the pools' lowest free ones. */
char *vsd_net_assign(struct vsd *d, char *const *given, size_t ngiven, vs_error_t *err);
/* Reads the config's addresses and writes the VPS's /etc files. */
int vsd_net_prepare(struct vsd *d, struct vps *v, const vs_kv_t *config,
                    struct vsd_net_start *start, vs_error_t *err);
void vsd_net_stopped(struct vsd *d, struct vps *v);
/* The two halves of vsd_net_stopped, for a stop that is answered before
 * them: the links (to the reaper; an ifb renamed, which a start would take
 * as its own), then the nftables elements, whose removal waits for
 * vsd_net_flush_elements or the next change of the tables (netns/nft.c). */
void vsd_net_stop_links(struct vsd *d, struct vps *v);
void vsd_net_stop_elements(struct vsd *d, struct vps *v);
/* The removals of stopped VPS's elements that wait, in one transaction. */
void vsd_net_flush_elements(struct vsd *d);
/* set --hostname: in the config, and on a running VPS at once (its UTS
 * namespace, and /etc/hostname and /etc/hosts where vsd writes them). */
int vsd_net_set_hostname(struct vsd *d, struct vps *v, const char *hostname, vs_error_t *err);
/* A start failed: delete the veth and the /etc files the start made. */
void vsd_net_abort(struct vsd *d, struct vps *v, const struct vsd_net_start *start);
/* vsctl set's network part: addresses added (--ipadd) and removed (--ipdel
 * ADDR or "all"), name servers and search domains replaced (NULL: kept).
 * Checked whole before anything changes; live on a running VPS (eth0, host
 * routes, /etc/hosts and /etc/resolv.conf), then saved in its config. */
struct vsd_net_change {
        char *const *ipadd;
        size_t nipadd;
        char *const *ipdel;
        size_t nipdel;
        const char *nameserver;
        const char *searchdomain;
};
int vsd_net_set(struct vsd *d, struct vps *v, const struct vsd_net_change *change, vs_error_t *err);
/* Whether vsd_net_set would take the change's addresses (nothing changes). */
int vsd_net_check(struct vsd *d, struct vps *v, const struct vsd_net_change *change,
                  vs_error_t *err);
/* Deletes the veths of VPS that are not running (after adoption). */
void vsd_net_sweep(struct vsd *d);
/* Makes paene's nftables tables afresh with the elements of the running
 * VPS (after adoption): nothing an earlier vsd left survives. */
int vsd_net_firewall(struct vsd *d, vs_error_t *err);
/* Port forwards. A plan checks a change (removals "HOSTPORT[/proto]"|"all",
 * then additions "HOSTPORT:VPSPORT[/proto]") against the VPS's forwards
 * (v NULL: a new VPS) and every other VPS's, and returns the new config
 * value; apply installs it (live on a running VPS) and saves it. */
char *vsd_net_forwards_plan(struct vsd *d, struct vps *v, char *const *add, char *const *del,
                            vs_error_t *err);
int vsd_net_forwards_apply(struct vsd *d, struct vps *v, const char *value, vs_error_t *err);
/* Installs a running VPS's nftables elements (guard and forwards) again
 * from its config: for a live change of its addresses (--ipadd/--ipdel). */
int vsd_net_refresh(struct vsd *d, struct vps *v, vs_error_t *err);

/* Bandwidth caps given in a request ("rate_out", "rate_in"), in bit/s. */
struct vsd_rates {
        int set_out, set_in;
        uint64_t out, in;
};
/* Copies the given caps into a config (a cap of 0 removes its key). */
void vsd_net_rates_to_config(const struct vsd_rates *r, vs_kv_t *config);
/* Checks that the caps can be set on v (it has a network; with !save, it
 * runs): set checks everything before it changes anything. */
int vsd_net_rates_check(struct vsd *d, struct vps *v, const struct vsd_rates *r, int save,
                        vs_error_t *err);
/* Changes caps checked by vsd_net_rates_check: live on a running VPS, and
 * in its config unless !save. */
int vsd_net_set_rates(struct vsd *d, struct vps *v, const struct vsd_rates *r, int save,
                      vs_error_t *err);
/* The caps in force of a running VPS, for its state file. */
void vsd_net_state_save(const struct vps *v, vs_kv_t *state);
/* An adopted VPS: the caps from its config, or where the config names none,
 * from its state (a set --no-save), applied again to the kernel. */
void vsd_net_adopted(struct vsd *d, struct vps *v, const vs_kv_t *state);
/* The network fields of a VPS's description: rate_out and rate_in (bit/s,
 * 0: none; in force while it runs, else from its config) and its port
 * forwards. */
void vsd_net_describe(struct vsd *d, struct vps *v, const vs_kv_t *config, vs_vps_info_t *info);

/* onboot.c: autostart after a boot of the host */
/* After adoption, with the socket up: on the first vsd of a boot, queues
 * the stopped VPS with onboot = yes and starts them from the loop. */
void vsd_onboot_begin(struct vsd *d);
/* The onboot timer fired: the next batch. */
void vsd_onboot_step(struct vsd *d);

/* snapshot.c: snapshots of a VPS's own layer (NAME/snapshots/SNAP/). Each
 * change runs as a worker's work: prepare (in vsd: checks; fills w's
 * clone.src, clone.disk, name and vps, and for take freezes a running v),
 * then the work (in the worker). */
typedef vs_snapshot_info_t vsd_snapshot_info_t;
int vsd_snapshot_take_prepare(struct vsd *d, struct vps *v, const char *snap, struct vsd_work *w,
                              vs_error_t *err);
/* What a crash left of the VPS's snapshot commands goes to the remover. */
void vsd_snapshot_sweep(struct vsd *d, const char *vps);
/* *frozen_ms: how long a running VPS was frozen for it. */
int vsd_snapshot_take(struct vsd *d, const struct vsd_work *w, long long *frozen_ms,
                      vs_error_t *err);
int vsd_snapshot_restore_prepare(struct vsd *d, struct vps *v, const char *snap, struct vsd_work *w,
                                 vs_error_t *err);
int vsd_snapshot_restore(struct vsd *d, const struct vsd_work *w, vs_error_t *err);
int vsd_snapshot_delete_prepare(struct vsd *d, struct vps *v, const char *snap, struct vsd_work *w,
                                vs_error_t *err);
int vsd_snapshot_delete(struct vsd *d, const struct vsd_work *w, vs_error_t *err);
/* The snapshots of v, oldest first (*out malloc'd); their count. */
size_t vsd_snapshot_list(struct vsd *d, struct vps *v, vsd_snapshot_info_t **out);

/* backup.c: backups and restores */
/* Starts tar with argv, stdin from in_fd and stdout to out_fd (-1:
 * /dev/null), stderr to /dev/null; its pid. */
pid_t vsd_tar_spawn(char *const argv[], int in_fd, int out_fd, vs_error_t *err);
/* Starts tar writing a backup of a stopped v to out_fd (no start of v
 * until vsd_backup_done, which gets tmp: its manifest's directory); its
 * pid. */
pid_t vsd_backup_spawn(struct vsd *d, struct vps *v, int out_fd, char tmp[VSD_BACKUP_TMP_MAX],
                       vs_error_t *err);
/* Removes a backup's manifest directory named in tmp (if any) and empties tmp. */
void vsd_backup_drop_manifest(struct vsd *d, char tmp[VSD_BACKUP_TMP_MAX]);
/* What a crash left of backups' manifests in run/paene goes (vsd's start). */
void vsd_backup_sweep_manifests(struct vsd *d);
/* A backup of a running v, in a worker that w holds v for: prepare (in
 * vsd: its backend, readied for a live copy), then write (in the worker:
 * a copy of its layer made as a snapshot is, v frozen only for the resync;
 * tar of it into out_fd, *status tar's exit; the copy removed after). */
int vsd_backup_live_prepare(struct vsd *d, struct vps *v, struct vsd_work *w, vs_error_t *err);
/* What a crash left of a live backup (its copy) goes to the remover; the
 * manifest an earlier paene left in the VPS's directory goes. */
void vsd_backup_sweep(struct vsd *d, const char *vps);
int vsd_backup_live_write(struct vsd *d, const struct vsd_work *w, int out_fd, int *status,
                          long long *frozen_ms, vs_error_t *err);
/* A member name of a backup: relative, without "..", and of the layout
 * (paene-backup, config, upper and below it, disk.img); else VS_E_USAGE. */
int vsd_backup_member_ok(const char *name, vs_error_t *err);
/* The format a backup's manifest names (format = N). */
#define VSD_BACKUP_FORMAT 1
/* tar's listing of a backup (member names, one a line): each of the
 * layout and the manifest among them; else VS_E_USAGE. */
int vsd_backup_listing_ok(const char *listing, vs_error_t *err);
/* The manifest's format is one this paene reads; else VS_E_USAGE. */
int vsd_backup_manifest_ok(const vs_kv_t *manifest, vs_error_t *err);
/* tar of a stopped v's backup ended: its manifest (tmp) goes, and v may
 * start again once no other backup of it runs. */
void vsd_backup_done(struct vsd *d, struct vps *v, char tmp[VSD_BACKUP_TMP_MAX]);
/* Makes a VPS of the backup `file` (absolute), named `name` or as it was. */
int vsd_restore(struct vsd *d, const char *file, const char *name, int keep_ip, vs_error_t *err);

/* migrate.c: migration between nodes, vzmigrate's way (vsctl migrate
 * conducts). The source sends rounds of its own layer (GNU tar's
 * --listed-incremental: the first all of it, each next what changed since,
 * deletions included) while it runs, then once more stopped. The target
 * receives them into .NAME.migrate.creating (which vsd removes at its
 * start: a crash leaves nothing half-made), held by the begin request's
 * connection: when it closes before the finish, the staging goes. */
struct vsd_migration {
        char name[64];
        struct client *client; /* whose connection holds it */
        int image;             /* on a disk image: rounds of its blocks */
        uint64_t image_max;    /* the image's size as its config says */
        struct vsd_migration *next;
};
/* The config text of v (malloc'd). */
char *vsd_migrate_config(struct vsd *d, struct vps *v, vs_error_t *err);
/* Starts tar writing a round of v's own layer to out_fd; first: all of
 * it (a new listing), else what changed since the last round. Its pid. */
pid_t vsd_migrate_send_spawn(struct vsd *d, struct vps *v, int first, int out_fd, vs_error_t *err);
/* The listing of the rounds goes (the migration ended, either way). */
void vsd_migrate_send_end(struct vsd *d, struct vps *v);
/* At vsd's start: the listing a migration of v that a crash interrupted
 * left (it grows with the number of v's files). */
void vsd_migrate_sweep(struct vsd *d, struct vps *v);
/* Target: checks that VPS name can come here (the name free, its template
 * here, its addresses fit unless new_ip) and makes its staging, held by
 * c. */
int vsd_migrate_begin(struct vsd *d, struct client *c, const char *name, const char *config,
                      int new_ip, vs_error_t *err);
/* Starts tar extracting a round read from in_fd into the staging. */
pid_t vsd_migrate_recv_spawn(struct vsd *d, const char *name, int in_fd, vs_error_t *err);
/* Installs the staging as the VPS name, stopped: its config as sent, its
 * addresses (or new ones), its id range (another where the source's is
 * taken here). The migration ends, and its client is let go. *image: the
 * VPS is on a disk image (vsd_migrate_durable adopts it). */
int vsd_migrate_finish(struct vsd *d, const char *name, const char *config, int new_ip,
                       const char *from, int *image, vs_error_t *err);
/* In a worker holding the installed VPS name: its image adopted (image:
 * the overlay origins of the source's node go), then all of it on disk. */
int vsd_migrate_durable(struct vsd *d, const char *name, int image, vs_error_t *err);
/* The migration held by c, if any, is dropped with its staging. */
void vsd_migrate_client_gone(struct vsd *d, struct client *c);
/* vps.c: the staging of the migration of name (malloc'd), below the VPS
 * directory (a name taken while it is there). */
char *vsd_migrate_staging(const char *name);
/* vps.c: installs the staging dir (below the VPS directory) as VPS name
 * from config: the addresses of config (checked against this node's pools
 * and VPS; new ones with new_ip), the id range of config if free here,
 * else another, into which the files move. */
int vsd_vps_migrate_install(struct vsd *d, const char *staging, const vs_kv_t *config, int new_ip,
                            const char *from, vs_error_t *err);
/* vps.c: whether the addresses of config can be this node's (the pools,
 * the other VPS): 0, else err says which cannot. */
int vsd_vps_migrate_check(struct vsd *d, const vs_kv_t *config, int new_ip, vs_error_t *err);

/* authz.c: who may do what (the requests' side is in authz.h) */
/* At accept: the peer's role from SO_PEERCRED (and its uid). */
enum vsd_role vsd_authz_peer(struct vsd *d, int fd, uid_t *uid);
/* Whether c may see v (list, events, metrics), or the VPS called name. */
int vsd_authz_sees(struct vsd *d, const struct client *c, const struct vps *v);
int vsd_authz_sees_name(struct vsd *d, const struct client *c, const char *name);

/* metrics.c: Prometheus's text format */
/* The metrics text (malloc'd; its length in *len): of the VPS viewer may
 * see (NULL: the HTTP endpoint's, all of them). */
char *vsd_metrics_text(struct vsd *d, const struct client *viewer, size_t *len);
/* Listens where vsd.conf's metrics_listen says (unix:PATH or ADDR:PORT);
 * nothing when it is not set. */
int vsd_metrics_listen(struct vsd *d, vs_error_t *err);
void vsd_metrics_event(struct vsd *d, struct ev *ev);
void vsd_metrics_close(struct vsd *d);

/* clients.c: the loop's epoll set */
int vsd_epoll_add(struct vsd *d, int fd, struct ev *ev, uint32_t events);
void vsd_epoll_del(struct vsd *d, int fd);

#endif
