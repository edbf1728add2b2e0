/* The VPS lifecycle: create, start, stop, exit, destroy, and re-adoption of
 * running VPS after a restart of vsd. The VPS's directory holds its config
 * (durable, human-editable) and its state (what vsd knows at run time). */
#include <errno.h>
#include <dirent.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vs/spawn.h"
#include "vs/admission.h"
#include "vs/cleanup.h"
#include "vs/cowfs.h"
#include "vs/initsig.h"
#include "vs/fsutil.h"
#include "vs/kvfile.h"
#include "vs/limits.h"
#include "vs/log.h"
#include "vs/parse.h"
#include "authz.h"
#include "rebootmark.h"
#include "slice.h"
#include "store.h"
#include "later.h"
#include "trash.h"
#include "release.h"
#include "vsd.h"

#define CREATING_SUFFIX ".creating"

const char *vsd_phase_name(enum phase phase)
{
        return phase == PHASE_RUNNING    ? "running"
               : phase == PHASE_STOPPING ? "stopping"
                                         : "stopped";
}

static struct vps *vps_add(struct vsd *d, const char *name)
{
        struct vps *v = vs_xmalloc(sizeof(*v));

        vs_strlcpy(v->name, name, sizeof(v->name));
        vs_strlcpy(v->slice, VS_DEFAULT_SLICE, sizeof(v->slice));
        v->pidfd = -1;
        v->timerfd = -1;
        v->exit_ev = (struct ev){ EV_VPS_EXIT, v };
        v->timer_ev = (struct ev){ EV_VPS_TIMER, v };
        vsd_vps_link(d, v);
        return v;
}

static void vps_remove(struct vsd *d, struct vps *v)
{
        /* nobody may be left waiting on a VPS that is gone */
        d->hooks.vps_removed(d, v);
        vsd_vps_config_drop(v);
        vsd_vps_unlink(d, v);
        vs_cgroup_free(v->cg);
        free(v);
}

static int open_vps_dir(struct vsd *d, const char *name, vs_error_t *err)
{
        int fd = openat(d->vps_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return vs_error_errno(err, "open VPS directory %s", name);
        return fd;
}

/* ---- security settings from the config ---- */

/* Fills v->idmap and v->caps from the config. Every VPS has a user
 * namespace: its own range of host ids ("id_base"), or, with "privileged =
 * yes", the identity map of host ids 0..65535 (its files keep host uid 0,
 * its capabilities hold in its own namespace only). "capability =
 * NAME:on|off ..." changes the VPS set. */
static int load_security(struct vps *v, const vs_kv_t *config, vs_error_t *err)
{
        const char *privileged = vs_kv_get(config, "privileged");
        const char *caps = vs_kv_get(config, "capability");

        v->idmap.enabled = 1;
        v->idmap.base = 0;
        v->idmap.count = VS_ID_RANGE;
        if (!(privileged && strcmp(privileged, "yes") == 0) &&
            vsd_parse_id_base(vs_kv_get(config, "id_base"), &v->idmap.base) < 0)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "config: id_base is missing or not a range vsd handed out");
        vs_caps_default(&v->caps);
        if (caps && vs_caps_parse(caps, &v->caps, err) < 0)
                return vs_error_wrap(err, "config");
        return 0;
}

int vsd_vps_set_caps(struct vsd *d, struct vps *v, const char *words, vs_error_t *err)
{
        cleanup_kv vs_kv_t config = { 0 };
        cleanup_free char *text = NULL;
        const char *current;
        vs_caps_t caps;

        if (vsd_config_load(d, v->name, &config, err) < 0)
                return -1;
        vs_caps_default(&caps);
        current = vs_kv_get(&config, "capability");
        if ((current && vs_caps_parse(current, &caps, err) < 0) ||
            vs_caps_parse(words, &caps, err) < 0)
                return -1;
        text = vs_caps_format(&caps);
        vs_kv_set(&config, "capability", *text ? text : NULL);
        return vsd_config_save(d, v->name, &config, err);
}

/* ---- state file ---- */

static void exit_text(const struct vps *v, char *buf, size_t size)
{
        if (!v->exit_known)
                snprintf(buf, size, "unknown");
        else if (v->exit_signal)
                snprintf(buf, size, "signal %s", vs_signal_name(v->exit_signal));
        else
                snprintf(buf, size, "code %d", v->exit_code);
}

static void parse_exit_text(struct vps *v, const char *text)
{
        int signo;

        v->exit_known = 0;
        if (!text)
                return;
        if (strncmp(text, "code ", 5) == 0) {
                v->exit_known = 1;
                v->exit_code = atoi(text + 5);
        } else if (strncmp(text, "signal ", 7) == 0 &&
                   vs_parse_signal(text + 7, &signo, NULL) == 0) {
                v->exit_known = 1;
                v->exit_signal = signo;
        }
}

static int save_state(struct vsd *d, struct vps *v, vs_error_t *err)
{
        cleanup_free char *path = vs_strdupf("%s/state", v->name);
        cleanup_kv vs_kv_t state = { 0 };
        char exit_buf[64];

        v->state_later = 0; /* this save supersedes one that waits */
        vs_kv_set(&state, "phase", v->phase == PHASE_STOPPED ? "stopped" : "running");
        if (v->phase != PHASE_STOPPED) {
                vs_kv_setf(&state, "pid", "%d", (int)v->pid);
                vs_procid_save(&v->id, &state);
                vs_kv_setf(&state, "started_at", "%lld", v->started_at);
                if (v->ifname[0])
                        vs_kv_set(&state, "ifname", v->ifname);
                vsd_net_state_save(v, &state);
        } else {
                exit_text(v, exit_buf, sizeof(exit_buf));
                vs_kv_set(&state, "exit", exit_buf);
                vs_kv_setf(&state, "stopped_at", "%lld", v->stopped_at);
                if (v->stop_how[0])
                        vs_kv_set(&state, "stop", v->stop_how);
        }
        vs_kv_set(&state, "slice", v->slice);
        vs_kv_setf(&state, "oom_kills", "%llu", (unsigned long long)v->oom_kills);
        return vs_kv_save(d->vps_fd, path, &state, 0, err);
}

int vsd_vps_save_state(struct vsd *d, struct vps *v, vs_error_t *err)
{
        return save_state(d, v, err);
}

/* ---- limits ---- */

int vsd_limits_check(const vs_limits_t *l, vs_error_t *err)
{
        struct rlimit own;

        if (vs_limits_check(l, err) < 0)
                return -1;
        if (VS_LIMIT_IS_SET(l, VS_LIM_TIMESLICE) && l->value[VS_LIM_TIMESLICE] &&
            !vs_timeslice_supported())
                return vs_error_kind(err, VS_E_STATE, ENOTSUP,
                                     "--timeslice %s: this kernel has no per-task time slices "
                                     "(EEVDF, Linux 6.12 or later)",
                                     l->text[VS_LIM_TIMESLICE]);
        if (!VS_LIMIT_IS_SET(l, VS_LIM_NUMFILE) || getrlimit(RLIMIT_NOFILE, &own) < 0)
                return 0;
        /* the VPS's processes are vsd's children: they cannot get more */
        if (own.rlim_max != RLIM_INFINITY && l->value[VS_LIM_NUMFILE] > own.rlim_max)
                return vs_error_kind(err, VS_E_USAGE, ERANGE,
                                     "--numfile %s is above vsd's own hard limit %llu",
                                     l->text[VS_LIM_NUMFILE], (unsigned long long)own.rlim_max);
        return 0;
}

int vsd_limits_fit(const vs_limits_t *l, int force, vs_error_t *err)
{
        vs_reserve_t node = vs_node_detect();

        if (force)
                return 0;
        return vs_limits_fit_node(l, &node, (unsigned)sysconf(_SC_NPROCESSORS_CONF), err);
}

/* The disk that holds the VPS's upper layer, where its I/O limits hold: the
 * one under its directory, which holds the dir backend's upper/ or the image
 * backend's disk.img (whose loop device's I/O is charged to the VPS's
 * cgroup and reaches this disk). */
static int io_device(struct vsd *d, struct vps *v, const vs_limits_t *l, char *dev, size_t size,
                     vs_error_t *err)
{
        cleanup_free char *dir = NULL;

        *dev = '\0';
        if (!VS_LIMIT_IS_SET(l, VS_LIM_IOLIMIT) && !VS_LIMIT_IS_SET(l, VS_LIM_IOPSLIMIT))
                return 0;
        dir = vs_strdupf("%s/%s", d->vps_dir, v->name);
        if (vs_limits_disk_of(dir, dev, size, err) < 0)
                return vs_error_wrap(err, "I/O limits");
        return 0;
}

/* Writes the limits into the VPS's cgroup (before its init runs, or live). */
static int apply_limits(struct vsd *d, struct vps *v, const vs_limits_t *l, vs_error_t *err)
{
        char dev[32];

        if (io_device(d, v, l, dev, sizeof(dev), err) < 0 ||
            vs_limits_apply(v->cg, l, *dev ? dev : NULL, err) < 0)
                return vs_error_wrap(err, "limits");
        v->numfile = VS_LIMIT_IS_SET(l, VS_LIM_NUMFILE) ? l->value[VS_LIM_NUMFILE] : 0;
        v->timeslice_us = VS_LIMIT_IS_SET(l, VS_LIM_TIMESLICE) ? l->value[VS_LIM_TIMESLICE] : 0;
        return 0;
}

static int limits_of_config(const vs_kv_t *config, vs_limits_t *l, vs_error_t *err)
{
        if (vs_limits_from_config(config, l, err) < 0)
                return -1;
        return vsd_limits_check(l, err);
}

static int load_limits(struct vsd *d, const char *name, vs_limits_t *l, vs_error_t *err)
{
        cleanup_kv vs_kv_t config = { 0 };

        if (vsd_config_load(d, name, &config, err) < 0)
                return -1;
        return limits_of_config(&config, l, err);
}

/* A vsd that restarts writes the config's limits again: an admin may have
 * edited the config, or the cgroup files may have drifted while vsd was
 * away. A --no-save value of a limit the config does not name stays. */
static void reapply_limits(struct vsd *d, struct vps *v)
{
        vs_error_t err = { 0 };
        vs_limits_t l;

        if (load_limits(d, v->name, &l, &err) < 0 || apply_limits(d, v, &l, &err) < 0)
                vs_log(LOG_WARNING, "%s: %s", v->name, err.msg);
}

/* ---- admission ---- */

/* The node's capacity and policy, from <root>/etc/paene/vsd.conf, read at
 * each use so that an edit holds at the next start. */
int vsd_node(struct vsd *d, vs_node_t *node, vs_error_t *err)
{
        cleanup_kv vs_kv_t conf = { 0 };
        vs_reserve_t detected = vs_node_detect();

        /* no vsd.conf: the detected capacity and policy reserve */
        if (vsd_conf_load(d, &conf, err) < 0)
                return -1;
        return vs_node_from_config(&conf, &detected, node, err);
}

/* What the running VPS (but `except`) have reserved: from the configs vsd
 * keeps (store.h), where a start with a reservation loaded the config of
 * every running VPS. */
vs_reserve_t vsd_reserved(struct vsd *d, const struct vps *except)
{
        vs_reserve_t sum = { 0, 0 };

        for (struct vps *v = d->vps_list; v; v = v->next) {
                vs_reserve_t r;

                if (v == except || v->phase == PHASE_STOPPED)
                        continue;
                r = vsd_vps_reserve(d, v);
                sum.cpu_micro += r.cpu_micro;
                sum.mem_bytes += r.mem_bytes;
        }
        return sum;
}

static int admit(struct vsd *d, struct vps *v, const vs_limits_t *l, vs_error_t *err)
{
        vs_reserve_t want = vs_reserve_of(l), reserved;
        vs_node_t node;

        if (!want.cpu_micro && !want.mem_bytes)
                return 0;
        /* the slice's share first, then the node's */
        if (vsd_slice_admit(d, v, l, err) < 0)
                return vs_error_wrap(err, "admission");
        if (vsd_node(d, &node, err) < 0)
                return -1;
        reserved = vsd_reserved(d, v);
        if (vs_admit(&node, &reserved, &want, err) < 0)
                return vs_error_wrap(err, "admission");
        return 0;
}

/* Refreshes the OOM kill count from the cgroup while it exists. */
static void refresh_oom(struct vps *v)
{
        uint64_t oom_kills;

        if (v->cg && vs_stats_read_oom_kills(v->cg, &oom_kills) == 0)
                v->oom_kills = oom_kills;
}

/* ---- adoption after a restart of vsd ---- */

static int watch_init(struct vsd *d, struct vps *v, vs_error_t *err)
{
        return vsd_epoll_add(d, v->pidfd, &v->exit_ev, EPOLLIN) < 0
                       ? vs_error_errno(err, "watch init of %s", v->name)
                       : 0;
}

static int pid_of_state(const vs_kv_t *state, pid_t *pid)
{
        uint64_t value;

        if (!vs_kv_get(state, "pid") ||
            vs_parse_uint(vs_kv_get(state, "pid"), 2, INT32_MAX, "pid", &value, NULL) < 0)
                return -1;
        *pid = (pid_t)value;
        return 0;
}

/* Whether the process the pidfd refers to is still running: then the pid
 * named it all along, and what was read through /proc/PID was its. */
static int still_running(int pidfd)
{
        struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

        return poll(&pfd, 1, 0) == 0;
}

static int own_pidns(struct vsd *d, uint64_t *dev, uint64_t *ino)
{
        struct stat st;

        if (fstat(d->own_pidns_fd, &st) < 0)
                return -1;
        *dev = (uint64_t)st.st_dev;
        *ino = (uint64_t)st.st_ino;
        return 0;
}

/* Fails, with the reason in err, unless the live process v->pid (the caller
 * holds a pidfd of it) is the init the state file recorded. */
static int check_init(struct vsd *d, struct vps *v, int pidfd, vs_error_t *err)
{
        vs_procid_t seen;
        uint64_t own_dev, own_ino;
        char reason[256];
        int held;

        if (vs_procid_read(v->pid, &seen, err) < 0)
                return vs_error_wrap(err, "cannot tell what it is");
        if (own_pidns(d, &own_dev, &own_ino) < 0)
                return vs_error_errno(err, "vsd's own pid namespace");
        if (vs_procid_mismatch(&v->id, &seen, own_dev, own_ino, reason, sizeof(reason)))
                return vs_error_set(err, EPERM, "%s", reason);
        held = vs_cgroup_holds(d->cgtree, v->slice, v->name, v->pid, err);
        if (held < 0)
                return vs_error_wrap(err, "cannot tell its cgroup");
        if (!held)
                return vs_error_set(err, EPERM, "it is not in the VPS's cgroup");
        if (!still_running(pidfd))
                return vs_error_set(err, ESRCH, "it ended while vsd looked at it");
        return 0;
}

/* Opens a pidfd of the VPS's init that its state file names, when the
 * process with that pid is provably it: this boot, and the start time, pid
 * namespace and cgroup recorded when vsd started it. Otherwise fails with
 * the reason in err. The process is never signalled. */
static int open_init(struct vsd *d, struct vps *v, const vs_kv_t *state, vs_error_t *err)
{
        char boot_id[VS_BOOT_ID_LEN + 1];
        int pidfd;

        if (pid_of_state(state, &v->pid) < 0)
                return vs_error_set(err, EINVAL, "the state file names no valid pid");
        if (vs_procid_load(state, &v->id, err) < 0)
                return vs_error_wrap(err, "pid %d: nothing proves it is still the VPS's init",
                                     (int)v->pid);
        /* after a reboot the pid is some host process's: not even looked at */
        if (vs_procid_boot_id(boot_id, err) < 0)
                return -1;
        if (strcmp(boot_id, v->id.boot_id) != 0)
                return vs_error_set(err, EPERM, "the state file is from another boot");
        pidfd = (int)syscall(SYS_pidfd_open, v->pid, 0);
        if (pidfd < 0)
                return vs_error_errno(err, "pid %d is gone", (int)v->pid);
        if (check_init(d, v, pidfd, err) < 0) {
                close(pidfd);
                return vs_error_wrap(err, "pid %d", (int)v->pid);
        }
        return pidfd;
}

/* run/paene/NAME.frozen: while a live copy's frozen step runs (the
 * cgroup, and with it a disk image's file system, frozen). One that is
 * left names a worker that died there, with vsd or alone: its pid and
 * identity (vs_procid), since a worker that vsd's death killed may still be
 * inside its FIFREEZE when the next vsd reads the mark. */
static char *frozen_mark_of(const char *name)
{
        return vs_strdupf("%s.frozen", name);
}

#define FROZEN_WORKER_WAIT_MS 30000

/* Waits (bounded) for the worker a mark names to be gone: one that is
 * still in its FIFREEZE when the file system is thawed freezes it again
 * after, with nobody left to thaw it. A pid that another process took
 * since (another start time or boot) is not waited for. */
static void wait_for_frozen_worker(const vs_kv_t *mark)
{
        const char *pid_text = vs_kv_get(mark, "pid");
        vs_procid_t recorded, seen;
        pid_t pid = pid_text ? (pid_t)atoi(pid_text) : 0;
        cleanup_close int pidfd = -1;
        struct pollfd pfd;

        if (pid <= 0 || vs_procid_load(mark, &recorded, NULL) < 0)
                return;
        pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0 || vs_procid_read(pid, &seen, NULL) < 0 ||
            strcmp(seen.boot_id, recorded.boot_id) != 0 || seen.starttime != recorded.starttime)
                return;
        pfd = (struct pollfd){ .fd = pidfd, .events = POLLIN };
        if (poll(&pfd, 1, FROZEN_WORKER_WAIT_MS) == 0)
                vs_log(LOG_WARNING, "the worker %d of a frozen copy is still alive after %d s",
                       (int)pid, FROZEN_WORKER_WAIT_MS / 1000);
}

/* In the worker, before it freezes anything: who it is. */
static int write_frozen_mark(struct vsd *d, const char *name, vs_error_t *err)
{
        cleanup_free char *mark = frozen_mark_of(name);
        cleanup_kv vs_kv_t kv = { 0 };
        vs_procid_t self;

        if (vs_procid_read(getpid(), &self, err) < 0)
                return -1;
        vs_kv_setf(&kv, "pid", "%d", (int)getpid());
        vs_procid_save(&self, &kv);
        /* not durable: a reboot thaws every file system anyway */
        return vs_kv_save(d->run_fd, mark, &kv, 0, err);
}

/* What a live copy that died in its frozen step left: the image's file
 * system thawed (the cgroup is the caller's to thaw, after it). */
static void thaw_left_frozen(struct vsd *d, const char *name)
{
        cleanup_free char *mark = frozen_mark_of(name);
        cleanup_free char *path = NULL;
        cleanup_kv vs_kv_t config = { 0 };
        const vs_disk_backend_t *disk;
        cleanup_kv vs_kv_t marked = { 0 };

        if (faccessat(d->run_fd, mark, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
                return;
        if (vs_kv_load(d->run_fd, mark, &marked, NULL) == 0)
                wait_for_frozen_worker(&marked);
        if (vsd_config_load(d, name, &config, NULL) == 0 && (disk = vsd_disk_backend_of(&config)) &&
            disk->thaw) {
                path = vs_strdupf("%s/%s", d->vps_dir, name);
                disk->thaw(path);
        }
        unlinkat(d->run_fd, mark, 0);
        vs_log(LOG_NOTICE, "%s: thawed what a copy's frozen step left frozen", name);
}

/* What exec into the adopted VPS needs: the same user namespace and
 * capability set as before vsd's restart. */
static int adopt_security(struct vsd *d, struct vps *v, vs_error_t *err)
{
        cleanup_kv vs_kv_t config = { 0 };

        if (vsd_config_load(d, v->name, &config, err) < 0 || load_security(v, &config, err) < 0)
                return -1;
        return 0;
}

static int try_adopt(struct vsd *d, struct vps *v, const vs_kv_t *state, vs_error_t *err)
{
        int pidfd = open_init(d, v, state, err);
        vs_error_t why = { 0 };

        if (pidfd < 0)
                return -1;
        /* the caps of its slice as the file says now; a slice whose file
         * went away keeps its VPS running, uncapped by it */
        if (vsd_slice_cgroup_apply(d, v->slice, &why) < 0)
                vs_log(LOG_WARNING, "%s: %s", v->name, why.msg);
        if (adopt_security(d, v, err) < 0 ||
            vs_cgroup_create(d->cgtree, v->slice, v->name, &v->cg, err) < 0) {
                close(pidfd);
                return -1;
        }
        v->cgroups_gone = 0;
        v->pidfd = vs_fd_park(pidfd);
        if (watch_init(d, v, err) < 0) {
                vs_cgroup_free(steal_ptr(v->cg));
                vs_fd_close(steal_fd(v->pidfd));
                return -1;
        }
        if (vs_kv_get(state, "ifname"))
                vs_strlcpy(v->ifname, vs_kv_get(state, "ifname"), sizeof(v->ifname));
        v->started_at =
                atoll(vs_kv_get(state, "started_at") ? vs_kv_get(state, "started_at") : "0");
        v->phase = PHASE_RUNNING;
        v->is_child = 0;
        /* a vsd that ended during a backup left it frozen (and a live
         * copy's frozen step its image's file system) */
        thaw_left_frozen(d, v->name);
        vs_cgroup_freeze(v->cg, 0, NULL);
        reapply_limits(d, v);
        vsd_net_adopted(d, v, state);
        refresh_oom(v);
        return 0;
}

/* Whatever is left in the cgroup of a VPS that is not running (a start that
 * vsd did not finish recording) is killed, and the cgroup removed. */
static void sweep_cgroup(struct vsd *d, struct vps *v)
{
        vs_cgroup_t *cg = NULL;

        if (vs_cgroup_create(d->cgtree, v->slice, v->name, &cg, NULL) == 0) {
                vs_cgroup_kill(cg, NULL);
                vs_cgroup_free(cg);
        }
        v->cgroups_gone = vs_cgroup_remove(d->cgtree, v->slice, v->name, NULL) == 0;
}

static void end_marked_while_down(struct vsd *d, struct vps *v, const vs_kv_t *state);

static void load_one(struct vsd *d, const char *name)
{
        cleanup_kv vs_kv_t state = { 0 };
        struct vps *v = vps_add(d, name);
        const char *phase, *slice;
        vs_error_t why = { 0 };
        int was_running;

        if (vsd_state_load(d, name, &state, NULL) < 0) {
                save_state(d, v, NULL);
                return;
        }
        slice = vs_kv_get(&state, "slice");
        if (slice && vs_parse_name(slice, "slice", NULL) == 0)
                vs_strlcpy(v->slice, slice, sizeof(v->slice));
        parse_exit_text(v, vs_kv_get(&state, "exit"));
        vs_strlcpy(v->stop_how, vs_kv_get(&state, "stop") ?: "", sizeof(v->stop_how));
        if (vs_kv_get(&state, "oom_kills"))
                v->oom_kills = strtoull(vs_kv_get(&state, "oom_kills"), NULL, 10);
        v->stopped_at =
                atoll(vs_kv_get(&state, "stopped_at") ? vs_kv_get(&state, "stopped_at") : "0");
        phase = vs_kv_get(&state, "phase");
        was_running = phase && strcmp(phase, "running") == 0;
        if (was_running && try_adopt(d, v, &state, &why) == 0) {
                vs_log(LOG_INFO, "adopted %s (pid %d)", v->name, (int)v->pid);
                return;
        }
        /* what is in the VPS's own cgroup belongs to it; the pid the state
         * file names is not touched (it is in there only if it passed) */
        sweep_cgroup(d, v);
        if (was_running) {
                vs_log(LOG_NOTICE, "%s: not adopted, marked stopped: %s", v->name, why.msg);
                v->exit_known = 0;
                v->stopped_at = time(NULL);
                end_marked_while_down(d, v, &state);
        } else {
                vsd_reboot_mark_clear(d->reboot_fd, v->name);
        }
        v->phase = PHASE_STOPPED;
        save_state(d, v, NULL);
}

/* An init that ended while vsd was down, found gone at vsd's start: its
 * exit status is its reaper's alone, but a reboot(2) inside that ended it
 * left a mark naming it (the state file's identity, whatever made the
 * adoption fail). A reboot starts it again once vsd is up
 * (vsd_vps_restart_rebooted). */
static void end_marked_while_down(struct vsd *d, struct vps *v, const vs_kv_t *state)
{
        vs_procid_t id;
        pid_t pid;
        int signo;

        if (pid_of_state(state, &pid) < 0 || vs_procid_load(state, &id, NULL) < 0) {
                vsd_reboot_mark_clear(d->reboot_fd, v->name);
                return;
        }
        signo = vsd_reboot_mark_take(d->reboot_fd, v->name, pid, &id);
        if (!signo)
                return;
        v->exit_known = 1;
        v->exit_code = 0;
        v->exit_signal = signo;
        v->reboot_pending = signo == SIGHUP;
        vs_log(LOG_INFO, "%s: its init %d ended by a %s inside while vsd was down", v->name,
               (int)pid, signo == SIGHUP ? "reboot" : "halt");
}

void vsd_vps_restart_rebooted(struct vsd *d)
{
        for (struct vps *v = d->vps_list; v; v = v->next) {
                vs_error_t err = { 0 };

                if (!v->reboot_pending)
                        continue;
                v->reboot_pending = 0;
                vs_log(LOG_INFO, "%s rebooted itself while vsd was down: starting it again",
                       v->name);
                if (vsd_vps_start(d, v, &err) < 0)
                        vs_log(LOG_ERR, "restart %s: %s", v->name, err.msg);
        }
}

static int has_suffix(const char *name, const char *suffix)
{
        size_t len = strlen(name), slen = strlen(suffix);

        return len > slen && strcmp(name + len - slen, suffix) == 0;
}

/* A create or destroy that a crash interrupted is rolled back or finished:
 * ".NAME.creating" never became a VPS (removed here: a create of NAME would
 * use the entry again), a doomed ".NAME.N.destroying" was on its way out
 * (the remover takes it). */
static void finish_interrupted(struct vsd *d, const char *entry)
{
        char name[VS_NAME_MAX + 1];

        if (vsd_trash_is_doomed(entry, name, sizeof(name))) {
                vs_cgroup_remove(d->cgtree, VS_DEFAULT_SLICE, name, NULL);
                vs_log(LOG_NOTICE, "removing %s left by an interrupted destroy", entry);
                vsd_trash_put(d, entry);
        } else if (has_suffix(entry, CREATING_SUFFIX)) {
                vs_log(LOG_NOTICE, "removing %s left by an interrupted create", entry);
                vs_rmtree_at(d->vps_fd, entry, NULL);
        }
}

/* The cgroups of a running VPS (those of a stopped one were swept as it
 * was loaded) */
static int cgroup_in_use(const char *slice, const char *name, void *arg)
{
        struct vps *v = vsd_vps_find(arg, name);

        return v && v->phase != PHASE_STOPPED && strcmp(v->slice, slice) == 0;
}

int vsd_vps_load_all(struct vsd *d, vs_error_t *err)
{
        cleanup_closedir DIR *dir = NULL;
        struct dirent *ent;

        /* root's alone (vsd builds every root itself): a privileged VPS's
         * root makes real setuid-root files in its upper layer, which no
         * host user may reach */
        if (fchmod(d->vps_fd, 0700) < 0)
                return vs_error_errno(err, "chmod VPS directory");
        if (!(dir = vs_opendir_at(d->vps_fd, ".")))
                return vs_error_errno(err, "read VPS directory");
        while ((ent = readdir(dir))) {
                if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
                        continue;
                if (ent->d_name[0] == '.')
                        finish_interrupted(d, ent->d_name);
                else if (vs_parse_name(ent->d_name, "VPS name", NULL) == 0)
                        load_one(d, ent->d_name);
        }
        /* a stop's cgroups wait for an idle moment (later.c): a crash
         * before it, after the VPS's destroy, left them with no VPS */
        vs_cgroup_tree_sweep(d->cgtree, cgroup_in_use, d);
        return 0;
}

/* ---- create ---- */

/* How many id ranges vsd hands out: vsd.conf's id_ranges (1 to
 * VS_ID_RANGES, all of them when unset), read at each create. */
static int id_ranges_of(struct vsd *d, unsigned long *ranges, vs_error_t *err)
{
        cleanup_kv vs_kv_t conf = { 0 };
        const char *text;
        uint64_t value;

        *ranges = VS_ID_RANGES;
        if (vsd_conf_load(d, &conf, err) < 0)
                return -1;
        text = vs_kv_get(&conf, "id_ranges");
        if (!text)
                return 0;
        if (vs_digits(text, VS_ID_RANGES, &value) < 0 || value == 0)
                return vs_error_set(err, EINVAL, "vsd.conf: id_ranges must be 1 to %lu, not '%s'",
                                    VS_ID_RANGES, text);
        *ranges = (unsigned long)value;
        return 0;
}

char *vsd_migrate_staging(const char *name)
{
        return vs_strdupf(".%s.migrate%s", name, CREATING_SUFFIX);
}

/* A VPS of that name, its directory, or a migration of it coming in. */
static int name_taken(struct vsd *d, const char *name)
{
        cleanup_free char *staging = vsd_migrate_staging(name);
        struct stat st;

        return vsd_vps_find(d, name) || fstatat(d->vps_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
               fstatat(d->vps_fd, staging, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* The lowest id range no VPS of this root holds. */
static int allocate_id_base(struct vsd *d, unsigned long *base, vs_error_t *err)
{
        cleanup_free unsigned char *used = vs_xmalloc(VS_ID_RANGES);
        unsigned long ranges;

        if (id_ranges_of(d, &ranges, err) < 0)
                return -1;

        /* from the configs vsd keeps: no other VPS's file is looked at */
        for (struct vps *v = d->vps_list; v; v = v->next) {
                unsigned long taken = vsd_vps_id_base(d, v);

                if (taken)
                        used[(taken - VS_ID_BASE_FIRST) / VS_ID_RANGE] = 1;
        }
        /* and those of VPS a worker is making */
        for (struct vsd_work *w = d->works; w; w = w->next)
                if (w->reserved_id >= VS_ID_BASE_FIRST)
                        used[(w->reserved_id - VS_ID_BASE_FIRST) / VS_ID_RANGE] = 1;
        for (unsigned long i = 0; i < ranges; i++) {
                if (!used[i]) {
                        *base = VS_ID_BASE_FIRST + i * VS_ID_RANGE;
                        return 0;
                }
        }
        return vs_error_kind(err, VS_E_STATE, ENOSPC,
                             "the id ranges are exhausted: VPS hold all %lu of %lu ids each "
                             "(id_ranges in vsd.conf)",
                             ranges, VS_ID_RANGE);
}

static int write_new_config(int dirfd, const char *name, const struct vsd_create_args *args,
                            unsigned long id_base, const char *ip, const vs_disk_backend_t *disk,
                            vs_error_t *err)
{
        cleanup_kv vs_kv_t config = { 0 };

        vs_kv_parse("# paene VPS configuration: key = value. Edit while stopped.\n", &config, NULL);
        vs_kv_set(&config, "name", name);
        vs_kv_set(&config, "template", args->tmpl);
        vs_kv_set(&config, "hostname", args->hostname);
        vs_kv_set(&config, "ip", ip);
        if (args->nameserver && *args->nameserver)
                vs_kv_set(&config, "nameserver", args->nameserver);
        if (args->searchdomain && *args->searchdomain)
                vs_kv_set(&config, "searchdomain", args->searchdomain);
        if (args->port_forward && *args->port_forward)
                vs_kv_set(&config, "port_forward", args->port_forward);
        vs_kv_set(&config, "slice", args->slice ? args->slice : VS_DEFAULT_SLICE);
        if (id_base) {
                vs_kv_set(&config, "privileged", "no");
                vs_kv_setf(&config, "id_base", "%lu", id_base);
        } else {
                vs_kv_set(&config, "privileged", "yes");
        }
        /* on: its /proc and cpu online files are the view of its limits */
        vs_kv_set(&config, "procview", args->procview ? args->procview : "on");
        vs_kv_setf(&config, "created", "%lld", (long long)time(NULL));
        if (args->onboot >= 0)
                vs_kv_set(&config, "onboot", args->onboot ? "yes" : "no");
        if (args->bootorder >= 0)
                vs_kv_setf(&config, "bootorder", "%lld", args->bootorder);
        if (args->limits)
                vs_limits_to_config(args->limits, &config);
        if (args->rates)
                vsd_net_rates_to_config(args->rates, &config);
        vsd_disk_config_set(&config, disk, args->disk);
        return vs_kv_save(dirfd, "config", &config, 1, err);
}

/* The VPS's directory is root's alone (vsd assembles the root with the
 * host's privileges), with the mount point of the idmapped template; the
 * dir backend's layers are the VPS root's own (the image backend's get
 * their owner when vsd attaches the image, see spawn.c). */
static int own_layers(int dirfd, const vs_disk_backend_t *disk, unsigned long id_base,
                      vs_error_t *err)
{
        if (fchmod(dirfd, 0700) < 0)
                return vs_error_errno(err, "chmod VPS directory");
        /* where the idmapped template is attached, whatever the backend */
        if (mkdirat(dirfd, "lower", 0755) < 0 && errno != EEXIST)
                return vs_error_errno(err, "mkdir lower");
        if (!id_base || disk->attach)
                return 0;
        if (fchownat(dirfd, "upper", (uid_t)id_base, (gid_t)id_base, 0) < 0 ||
            fchownat(dirfd, "work", (uid_t)id_base, (gid_t)id_base, 0) < 0)
                return vs_error_errno(err, "chown the VPS's layers");
        return 0;
}

/* Turns ".NAME.creating" into the VPS NAME, stopped. */
static int publish(struct vsd *d, const char *creating, const char *name, vs_error_t *err)
{
        struct vps *v;

        if (renameat(d->vps_fd, creating, d->vps_fd, name) < 0) {
                vs_error_errno(err, "publish");
                vs_rmtree_at(d->vps_fd, creating, NULL);
                return -1;
        }
        if (vs_fsync_dir(d->vps_fd, err) < 0)
                return -1;
        v = vps_add(d, name);
        v->phase = PHASE_STOPPED;
        {
                /* its slice, as the config says (a clone's is its source's) */
                const char *slice = vs_kv_get(vsd_vps_config(d, v), "slice");

                if (slice && vs_parse_name(slice, "slice", NULL) == 0)
                        vs_strlcpy(v->slice, slice, sizeof(v->slice));
        }
        return save_state(d, v, err);
}

int vsd_vps_create(struct vsd *d, const char *name, const struct vsd_create_args *args,
                   vs_error_t *err)
{
        cleanup_free char *creating = vs_strdupf(".%s%s", name, CREATING_SUFFIX);
        cleanup_free char *creating_path = vs_strdupf("%s/%s", d->vps_dir, creating);
        cleanup_free char *ip = NULL;
        cleanup_close int dirfd = -1;
        const vs_disk_backend_t *disk = vsd_disk_backend_for_new(d, args->disk, err);
        unsigned long id_base = 0;
        struct stat st;

        (void)st;
        if (name_taken(d, name))
                return vs_error_kind(err, VS_E_STATE, EEXIST, "VPS already exists");
        if (vsd_net_name_clash(d, name, err) < 0)
                return -1;
        if (!vs_template_exists(d->tmpl_fd, args->tmpl))
                return vs_error_kind(err, VS_E_NOTFOUND, ENOENT,
                                     "no such template '%s' (see: vsctl template list)",
                                     args->tmpl);
        if (vs_template_check_init(d->tmpl_fd, args->tmpl, d->vsinit_fd < 0, err) < 0)
                return -1;
        if (!disk || (!args->privileged && allocate_id_base(d, &id_base, err) < 0))
                return -1;
        /* the address is held from the moment the config is published:
         * create runs alone in vsd's loop, and a clone in a worker holds
         * its new VPS's addresses until it is published */
        ip = vsd_net_assign(d, args->ipadd, args->nipadd, err);
        if (!ip)
                return -1;
        vs_rmtree_at(d->vps_fd, creating, NULL);
        if (mkdirat(d->vps_fd, creating, 0700) < 0)
                return vs_error_errno(err, "mkdir");
        dirfd = open_vps_dir(d, creating, err);
        if (dirfd < 0 || disk->create(dirfd, creating_path, args->disk, err) < 0 ||
            own_layers(dirfd, disk, id_base, err) < 0 ||
            write_new_config(dirfd, name, args, id_base, ip, disk, err) < 0) {
                vs_rmtree_at(d->vps_fd, creating, NULL);
                return -1;
        }
        return publish(d, creating, name, err);
}

/* ---- clone ---- */

static int write_clone_config(const vs_kv_t *src_config, int dirfd, const char *origin_key,
                              const char *src, const char *name, const char *hostname,
                              unsigned long id_base, const char *ip, vs_error_t *err)
{
        cleanup_kv vs_kv_t config = { 0 };
        cleanup_free char *text = vs_kv_format(src_config);
        char default_hostname[VS_NAME_MAX + 1];

        if (vs_kv_parse(text, &config, err) < 0)
                return -1;
        vs_kv_set(&config, "name", name);
        vs_kv_set(&config, "ip", ip);
        vs_kv_set(&config, "hostname",
                  hostname ? hostname : vs_default_hostname(name, default_hostname));
        if (id_base)
                vs_kv_setf(&config, "id_base", "%lu", id_base);
        vs_kv_setf(&config, "created", "%lld", (long long)time(NULL));
        vs_kv_set(&config, origin_key, src);
        /* a host port belongs to one VPS: a copy has none, a VPS that moves
         * keeps its own (vsd_vps_migrate_check found them free here) */
        if (strcmp(origin_key, "migrated_from") != 0)
                vs_kv_set(&config, "port_forward", NULL);
        return vs_kv_save(dirfd, "config", &config, 1, err);
}

/* A clone of a VPS with its own ids gets a range of its own: its files
 * move from the source's range to it. */
static int clone_ids(struct vsd *d, const vs_kv_t *src_config, vs_id_shift_t *shift,
                     vs_error_t *err)
{
        struct vps probe = { 0 };

        memset(shift, 0, sizeof(*shift));
        if (load_security(&probe, src_config, err) < 0)
                return -1;
        if (!probe.idmap.base)
                return 0;
        shift->from = probe.idmap.base;
        shift->count = VS_ID_RANGE;
        return allocate_id_base(d, &shift->to, err);
}

void vsd_clone_free(struct vsd_clone *cl)
{
        vs_kv_free(&cl->src_config);
        free(cl->hostname);
        free(cl->ip);
        memset(cl, 0, sizeof(*cl));
}

/* A running VPS is frozen while a worker copies its own layer (a clone, a
 * snapshot, a backup), so that its files are of one moment: whole, or
 * (live) only for the backend's last pass (resync of the dir backend, the
 * frozen step of clone_live: an image's). *frozen says whether the caller
 * must thaw it. */
int vsd_vps_freeze_for_copy(struct vps *v, const vs_disk_backend_t *disk, struct vsd_clone *cl,
                            vs_error_t *err)
{
        cl->frozen = cl->live = 0;
        if (v->phase == PHASE_STOPPING)
                return vs_error_kind(err, VS_E_STATE, EBUSY, "VPS is stopping");
        if (v->phase != PHASE_RUNNING)
                return 0;
        if (disk->resync || disk->clone_live) {
                cl->live = 1;
                return 0;
        }
        if (vs_cgroup_freeze(v->cg, 1, err) < 0)
                return -1;
        cl->frozen = 1;
        return 0;
}

/* A time of the file system's clock (the one ctime takes) before anything
 * the copy reads: dst_fd's own ctime, touched now. The sync after it
 * writes the source's dirty pages back, so that a later write through a
 * shared mapping faults and moves its file's ctime too. */
static int copy_start_time(int src_fd, int dst_fd, struct timespec *since, vs_error_t *err)
{
        struct stat st;

        if (futimens(dst_fd, NULL) < 0 || fstat(dst_fd, &st) < 0)
                return vs_error_errno(err, "read the file system's time");
        *since = st.st_ctim;
        if (syncfs(src_fd) < 0)
                return vs_error_errno(err, "sync the VPS's files");
        return 0;
}

struct live_freeze {
        struct vsd *d;
        struct vps *src;
};

/* A live copy's frozen step: its mark made before the cgroup freezes and
 * removed once it is thawed, with the file system thawed between. */
static int freeze_cgroup(void *ctx, int frozen, vs_error_t *err)
{
        struct live_freeze *lf = ctx;
        cleanup_free char *mark = frozen_mark_of(lf->src->name);

        if (frozen) {
                if (write_frozen_mark(lf->d, lf->src->name, err) < 0)
                        return vs_error_wrap(err, "mark %s frozen", lf->src->name);
                if (vs_cgroup_freeze(lf->src->cg, 1, err) < 0) {
                        unlinkat(lf->d->run_fd, mark, 0);
                        return -1;
                }
                return 0;
        }
        if (vs_cgroup_freeze(lf->src->cg, 0, err) < 0)
                return -1;
        unlinkat(lf->d->run_fd, mark, 0);
        return 0;
}

int vsd_clone_copy_layer(struct vsd *d, const struct vsd_clone *cl, int src_fd, int dst_fd,
                         const char *dst_path, const vs_id_shift_t *shift, long long *frozen_ms,
                         vs_error_t *err)
{
        struct vps *src = cl->live ? vsd_vps_find(d, cl->src) : NULL;
        struct timespec since;
        int64_t t0 = vs_monotonic_ms();
        int rc;

        *frozen_ms = 0;
        if (src && src->cg && cl->disk->clone_live) {
                struct live_freeze lf = { d, src };
                vs_disk_freezer_t fr = { freeze_cgroup, &lf };

                return cl->disk->clone_live(src_fd, dst_fd, dst_path, shift, &fr, frozen_ms, err);
        }
        if (!src || !src->cg) {
                rc = cl->disk->clone(src_fd, dst_fd, dst_path, shift, err);
                if (cl->frozen)
                        *frozen_ms = vs_monotonic_ms() - t0;
                return rc;
        }
        if (copy_start_time(src_fd, dst_fd, &since, err) < 0 ||
            cl->disk->clone(src_fd, dst_fd, dst_path, shift, err) < 0)
                return -1;
        if (vs_cgroup_freeze(src->cg, 1, err) < 0)
                return -1;
        t0 = vs_monotonic_ms();
        rc = cl->disk->resync(src_fd, dst_fd, &since, shift, err);
        /* vsd thaws it too when the worker ends, whatever became of it */
        vs_cgroup_freeze(src->cg, 0, NULL);
        *frozen_ms = vs_monotonic_ms() - t0;
        return rc;
}

int vsd_clone_prepare(struct vsd *d, struct vps *src, const char *name, const char *hostname,
                      struct vsd_clone *cl, vs_error_t *err)
{
        const char *src_ip;
        struct stat st;

        memset(cl, 0, sizeof(*cl));
        if (src->phase == PHASE_STOPPING)
                return vs_error_kind(err, VS_E_STATE, EBUSY, "VPS is stopping");
        (void)st;
        if (name_taken(d, name))
                return vs_error_kind(err, VS_E_STATE, EEXIST, "VPS %s already exists", name);
        if (vsd_net_name_clash(d, name, err) < 0)
                return -1;
        vs_strlcpy(cl->src, src->name, sizeof(cl->src));
        vs_strlcpy(cl->name, name, sizeof(cl->name));
        cl->hostname = hostname ? vs_xstrdup(hostname) : NULL;
        if (vsd_config_load(d, src->name, &cl->src_config, err) < 0 ||
            clone_ids(d, &cl->src_config, &cl->shift, err) < 0 ||
            !(cl->disk = vsd_disk_backend_of(&cl->src_config))) {
                vsd_clone_free(cl);
                return -1;
        }
        /* an address belongs to one VPS: the clone gets the pools' next
         * free ones, unless the source has no network */
        src_ip = vs_kv_get(&cl->src_config, "ip");
        cl->ip = src_ip && src_ip[strspn(src_ip, " \t")] ? vsd_net_assign(d, NULL, 0, err)
                                                         : vs_xstrdup("");
        if (!cl->ip || vsd_vps_freeze_for_copy(src, cl->disk, cl, err) < 0) {
                vsd_clone_free(cl);
                return -1;
        }
        return 0;
}

void vsd_clone_thaw(struct vsd *d, struct vsd_clone *cl)
{
        struct vps *src = cl->frozen || cl->live ? vsd_vps_find(d, cl->src) : NULL;

        /* a worker killed in its frozen step leaves the file system frozen
         * too: let it go first, the processes that write to it after */
        if (src && cl->live)
                thaw_left_frozen(d, cl->src);
        if (src && src->cg)
                vs_cgroup_freeze(src->cg, 0, NULL);
        cl->frozen = cl->live = 0;
}

static char *creating_of(const char *name)
{
        return vs_strdupf(".%s%s", name, CREATING_SUFFIX);
}

int vsd_clone_copy(struct vsd *d, const struct vsd_clone *cl, vs_error_t *err)
{
        cleanup_free char *creating = creating_of(cl->name);
        cleanup_free char *creating_path = vs_strdupf("%s/%s", d->vps_dir, creating);
        cleanup_close int src_fd = open_vps_dir(d, cl->src, err);
        cleanup_close int dirfd = -1;
        long long frozen_ms;

        if (src_fd < 0)
                return -1;
        vs_rmtree_at(d->vps_fd, creating, NULL);
        if (mkdirat(d->vps_fd, creating, 0700) < 0)
                return vs_error_errno(err, "mkdir");
        dirfd = open_vps_dir(d, creating, err);
        if (dirfd < 0 ||
            vsd_clone_copy_layer(d, cl, src_fd, dirfd, creating_path, &cl->shift, &frozen_ms, err) <
                    0 ||
            own_layers(dirfd, cl->disk, cl->shift.to, err) < 0 ||
            write_clone_config(&cl->src_config, dirfd, "cloned_from", cl->src, cl->name,
                               cl->hostname, cl->shift.to, cl->ip, err) < 0) {
                vs_rmtree_at(d->vps_fd, creating, NULL);
                return -1;
        }
        return 0;
}

int vsd_clone_publish(struct vsd *d, const struct vsd_clone *cl, vs_error_t *err)
{
        cleanup_free char *creating = creating_of(cl->name);

        return publish(d, creating, cl->name, err);
}

void vsd_clone_abort(struct vsd *d, const struct vsd_clone *cl)
{
        cleanup_free char *creating = creating_of(cl->name);

        vs_rmtree_at(d->vps_fd, creating, NULL);
}

/* What a copy of a VPS's directory (a VPS's, or a backup's extracted into
 * the VPS directory) becomes under the name NAME: its files with its ids
 * shifted into a range of its own, its config with the new name, ip and
 * hostname, and origin_key = origin. */
struct copy_spec {
        const char *src_dir; /* below the VPS directory */
        const vs_kv_t *src_config;
        const char *name, *hostname, *ip;
        const char *origin_key, *origin;
};

static int copy_vps_dir(struct vsd *d, const struct copy_spec *spec, vs_error_t *err)
{
        cleanup_free char *creating = vs_strdupf(".%s%s", spec->name, CREATING_SUFFIX);
        cleanup_free char *creating_path = vs_strdupf("%s/%s", d->vps_dir, creating);
        const vs_disk_backend_t *disk = vsd_disk_backend_of(spec->src_config);
        cleanup_close int src_fd = -1;
        cleanup_close int dirfd = -1;
        vs_id_shift_t shift;

        if (clone_ids(d, spec->src_config, &shift, err) < 0 ||
            (src_fd = open_vps_dir(d, spec->src_dir, err)) < 0)
                return -1;
        vs_rmtree_at(d->vps_fd, creating, NULL);
        if (mkdirat(d->vps_fd, creating, 0700) < 0)
                return vs_error_errno(err, "mkdir");
        dirfd = open_vps_dir(d, creating, err);
        if (dirfd < 0 || disk->clone(src_fd, dirfd, creating_path, &shift, err) < 0 ||
            own_layers(dirfd, disk, shift.to, err) < 0 ||
            write_clone_config(spec->src_config, dirfd, spec->origin_key, spec->origin, spec->name,
                               spec->hostname, shift.to, spec->ip, err) < 0) {
                vs_rmtree_at(d->vps_fd, creating, NULL);
                return -1;
        }
        return publish(d, creating, spec->name, err);
}

static int name_free(struct vsd *d, const char *name, vs_error_t *err)
{
        /* a clone's new name is held until it is published (its copy is
         * .NAME.creating, which a copy of the same name would remove) */
        for (const struct vsd_work *w = d->works; w; w = w->next)
                if (strcmp(w->vps_new, name) == 0)
                        return vs_error_kind(err, VS_E_STATE, EBUSY,
                                             "busy: VPS %s is being made by a %s", name, w->what);
        if (name_taken(d, name))
                return vs_error_kind(err, VS_E_STATE, EEXIST, "VPS %s already exists", name);
        return vsd_net_name_clash(d, name, err);
}

/* The ip key for a copy: the pools' next free addresses, unless the
 * source has no network; with keep, the source's own, if no VPS has them. */
static char *copy_ip(struct vsd *d, const vs_kv_t *src_config, int keep, vs_error_t *err)
{
        const char *src_ip = vs_kv_get(src_config, "ip");
        cleanup_free char *copy = NULL;
        char *words[2 * VS_NET_ADDRS_MAX + 1];
        char *save = NULL;
        size_t n = 0;

        if (!src_ip || !src_ip[strspn(src_ip, " \t")])
                return vs_xstrdup("");
        if (!keep)
                return vsd_net_assign(d, NULL, 0, err);
        copy = vs_xstrdup(src_ip);
        for (char *w = strtok_r(copy, " \t", &save); w && n < 2 * VS_NET_ADDRS_MAX;
             w = strtok_r(NULL, " \t", &save))
                words[n++] = w;
        words[n] = NULL;
        return vsd_net_assign(d, words, n, err);
}

int vsd_vps_restore_dir(struct vsd *d, const char *dir, const char *name, int keep_ip,
                        vs_error_t *err)
{
        cleanup_kv vs_kv_t src_config = { 0 };
        cleanup_free char *ip = NULL;
        const char *hostname, *src_name;
        char src_default[VS_NAME_MAX + 1];

        if (vsd_config_load(d, dir, &src_config, err) < 0)
                return vs_error_wrap(err, "backup");
        if (!name)
                name = vs_kv_get(&src_config, "name");
        if (!name || vs_parse_name(name, "VPS name", err) < 0)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "the backup's config names no valid VPS (give a NAME)");
        if (name_free(d, name, err) < 0 ||
            vsd_slice_name_check(d, vs_kv_get(&src_config, "slice"), name, err) < 0 ||
            !(ip = copy_ip(d, &src_config, keep_ip, err)))
                return -1;
        hostname = vs_kv_get(&src_config, "hostname");
        if (hostname && (!*hostname || vs_parse_hostname(hostname, NULL) < 0))
                hostname = NULL;
        /* one the VPS only had from its name (create's default) would make
         * a copy under another name call itself the source: it gets its
         * own name's, as a clone does */
        src_name = vs_kv_get(&src_config, "name");
        if (hostname && src_name && strcmp(name, src_name) != 0 &&
            strcmp(hostname, vs_default_hostname(src_name, src_default)) == 0)
                hostname = NULL;
        struct copy_spec spec = { .src_dir = dir,
                                  .src_config = &src_config,
                                  .name = name,
                                  .hostname = hostname,
                                  .ip = ip,
                                  .origin_key = "restored_from",
                                  .origin = vs_kv_get(&src_config, "name") ?: "?" };
        return copy_vps_dir(d, &spec, err);
}

/* ---- migration: the target's side ---- */

/* The id range of config if no VPS here holds it (no shift), else a free
 * one the files move to. */
static int migrate_ids(struct vsd *d, const vs_kv_t *config, vs_id_shift_t *shift, vs_error_t *err)
{
        struct vps probe = { 0 };

        memset(shift, 0, sizeof(*shift));
        if (load_security(&probe, config, err) < 0)
                return -1;
        if (!probe.idmap.base)
                return 0;
        for (struct vps *v = d->vps_list; v; v = v->next)
                if (vsd_vps_id_base(d, v) == probe.idmap.base)
                        return clone_ids(d, config, shift, err);
        for (struct vsd_work *w = d->works; w; w = w->next)
                if (w->reserved_id == probe.idmap.base)
                        return clone_ids(d, config, shift, err);
        return 0;
}

int vsd_vps_migrate_check(struct vsd *d, const vs_kv_t *config, int new_ip, vs_error_t *err)
{
        cleanup_free char *ip = NULL;
        const char *name = vs_kv_get(config, "name");

        if (name && vsd_slice_name_check(d, vs_kv_get(config, "slice"), name, err) < 0)
                return -1;
        ip = copy_ip(d, config, !new_ip, err);
        if (!ip)
                return vs_error_wrap(err, "the VPS's addresses cannot be this node's");
        return vsd_net_forwards_free(d, config, err);
}

int vsd_vps_migrate_install(struct vsd *d, const char *staging, const vs_kv_t *config, int new_ip,
                            const char *from, vs_error_t *err)
{
        const char *name = vs_kv_get(config, "name");
        const char *hostname = vs_kv_get(config, "hostname");
        const vs_disk_backend_t *disk = vsd_disk_backend_of(config);
        cleanup_free char *ip = NULL;
        cleanup_close int dirfd = -1;
        unsigned long id_base = 0;
        vs_id_shift_t shift;

        if (!name || vsd_vps_find(d, name))
                return vs_error_kind(err, VS_E_STATE, EEXIST, "VPS %s already exists",
                                     name ? name : "?");
        if (!(ip = copy_ip(d, config, !new_ip, err)))
                return vs_error_wrap(err, "the VPS's addresses cannot be this node's");
        if (vsd_net_forwards_free(d, config, err) < 0 || migrate_ids(d, config, &shift, err) < 0)
                return -1;
        if (shift.count) {
                /* the source's range is another VPS's here: a copy with the
                 * owners moved, as a restore makes (staging stays the
                 * source, removed by the caller) */
                struct copy_spec spec = { .src_dir = staging,
                                          .src_config = config,
                                          .name = name,
                                          .hostname = hostname,
                                          .ip = ip,
                                          .origin_key = "migrated_from",
                                          .origin = from };

                return copy_vps_dir(d, &spec, err);
        }
        if (vsd_parse_id_base(vs_kv_get(config, "id_base"), &id_base) < 0)
                id_base = 0;
        dirfd = open_vps_dir(d, staging, err);
        if (dirfd < 0 || own_layers(dirfd, disk, id_base, err) < 0 ||
            write_clone_config(config, dirfd, "migrated_from", from, name, hostname, 0, ip, err) <
                    0)
                return -1;
        return publish(d, staging, name, err);
}

/* ---- start ---- */

/* Splits "init = /sbin/myinit --flag" on blanks into an argv. */
static char **split_argv(const char *text)
{
        cleanup_free char *copy = vs_xstrdup(text);
        char **argv = vs_xmalloc(sizeof(char *) * (strlen(text) / 2 + 2));
        char *save = NULL;
        size_t n = 0;

        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
                argv[n++] = vs_xstrdup(w);
        argv[n] = NULL;
        return argv;
}

/* What vsd does while the builder waits, once the init exists and before
 * its root is assembled: the view's registration, written once and with
 * the init's pid (the builder's binds of the view look the VPS up there;
 * it was written twice a start, before the clone and after it), then the
 * /etc files and the network. */
struct before_root {
        struct vsd *d;
        struct vps *v;
        struct vsd_net_start *net;
        int view;
};

static int before_root(void *arg, pid_t pid, vs_error_t *err)
{
        struct before_root *b = arg;
        pid_t was = b->v->pid;
        int rc = 0;

        if (b->view) {
                b->v->pid = pid;
                rc = vsd_view_register(b->d, b->v, err);
                b->v->pid = was; /* the VPS's once the start is done */
        }
        if (rc < 0)
                return -1;
        return b->net->hook ? b->net->hook(b->net, pid, err) : 0;
}

static int spawn_vps_init(struct vsd *d, struct vps *v, const vs_kv_t *config,
                          struct vsd_net_start *net, vs_error_t *err)
{
        struct before_root before = { d, v, net, 0 };
        const char *init = vs_kv_get(config, "init");
        const char *hostname = vs_kv_get(config, "hostname");
        char default_hostname[VS_NAME_MAX + 1];
        cleanup_strv char **init_argv = init && *init ? split_argv(init) : NULL;
        struct vsd_console con;
        const vs_disk_backend_t *disk = vsd_disk_backend_of(config);
        cleanup_free char *dir = vs_strdupf("%s/%s", d->vps_dir, v->name);
        cleanup_free char *lower =
                vs_strdupf("%s/%s/rootfs", d->tmpl_dir, vs_kv_get(config, "template"));
        /* relative to the VPS's directory: see struct vs_init_spec */
        cleanup_free char *upper = vs_strdupf("%s/upper", disk->layers);
        cleanup_free char *work = vs_strdupf("%s/work", disk->layers);
        struct vs_init_spec spec = {
                .hostname = hostname && *hostname ? hostname
                                                  : vs_default_hostname(v->name, default_hostname),
                .lower = lower,
                .dir = dir,
                .upper = upper,
                .work = work,
                .rootfs = "rootfs",
                .stage = "lower",
                .idmap = v->idmap,
                .caps = &v->caps,
                .disk_attach = disk->attach,
                .init_argv = init_argv,
                .vsinit_fd = d->vsinit_fd,
                .console_fd = -1,
                .cgroup2 = vs_cgroup_has_v2(v->cg),
                .nofile = v->numfile,
                .timeslice_us = v->timeslice_us,
                .net_setup = before_root,
                .net_arg = &before,
        };
        const char *procview = vs_kv_get(config, "procview");
        cleanup_free char *view_dir = NULL;
        int notify_fd = -1;
        pid_t pid;

        /* a new run: a mark left of an earlier one is nothing of its */
        vsd_reboot_mark_clear(d->reboot_fd, v->name);
        if (!procview || strcmp(procview, "off") != 0) {
                if (!vsd_view_ready(d))
                        return vs_error_set(err, ENOTCONN,
                                            "procview: vsd has no view mounted (see its log); "
                                            "procview = off starts with the host's /proc");
                before.view = 1;
                view_dir = vsd_view_dir_of(d, v->name);
                spec.view_dir = view_dir;
                spec.notify_fd = &notify_fd;
        }
        if (vsd_console_open(d, v, &con, err) < 0)
                return -1;
        spec.console_fd = con.slave;
        pid = vs_spawn_init(&spec, v->cg, &v->pidfd, err);
        if (pid >= 0)
                v->pidfd = vs_fd_park(v->pidfd);
        if (pid < 0 || vsd_console_keep(d, v, &con, err) < 0) {
                vsd_console_close(&con);
                if (notify_fd >= 0)
                        close(notify_fd);
                return -1;
        }
        vsd_console_close(&con);
        v->pid = pid;
        vsd_view_notify_add(d, v->name, notify_fd);
        return 0;
}

static int check_config(struct vsd *d, const vs_kv_t *config, vs_error_t *err)
{
        const char *tmpl = vs_kv_get(config, "template");
        const char *hostname = vs_kv_get(config, "hostname");

        if (!tmpl || vs_parse_name(tmpl, "template name", err) < 0)
                return tmpl ? -1 : vs_error_kind(err, VS_E_USAGE, EINVAL, "config has no template");
        if (!vs_template_exists(d->tmpl_fd, tmpl))
                return vs_error_kind(err, VS_E_NOTFOUND, ENOENT, "template '%s' is gone", tmpl);
        if (hostname && *hostname && vs_parse_hostname(hostname, err) < 0)
                return vs_error_wrap(err, "config");
        return 0;
}

/* Open descriptors of vsd's, counted in /proc/self/fd (less the one
 * that reads it). */
static long open_fds(void)
{
        cleanup_closedir DIR *dir = opendir("/proc/self/fd");
        struct dirent *ent;
        long n = 0;

        if (!dir)
                return -1;
        while ((ent = readdir(dir)))
                n += ent->d_name[0] != '.';
        return n - 1;
}

/* A start needs descriptors for a moment (the builder's sockets, the
 * cgroup directories, netlink, the root's files) and keeps one, the init's
 * pidfd: it is refused, naming the limit, before it could run out half
 * way. */
#define START_FDS 64

/* Whether START_FDS descriptors are free: taken and given back at once
 * (a count of /proc/self/fd reads one entry per descriptor, two for each
 * running VPS, at every start). */
static int fds_free(void)
{
        int fds[START_FDS], n = 0, why;

        while (n < START_FDS && (fds[n] = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0)) >= 0)
                n++;
        why = errno;
        for (int i = 0; i < n; i++)
                close(fds[i]);
        return n == START_FDS || why != EMFILE;
}

static int check_fd_budget(vs_error_t *err)
{
        struct rlimit lim;
        long used;

        if (fds_free() || getrlimit(RLIMIT_NOFILE, &lim) < 0 || lim.rlim_cur == RLIM_INFINITY)
                return 0;
        used = open_fds();
        return vs_error_kind(err, VS_E_STATE, EMFILE,
                             "vsd has %ld of its %llu open files in use (RLIMIT_NOFILE): "
                             "no room to start another VPS (raise LimitNOFILE= of vsd)",
                             used, (unsigned long long)lim.rlim_cur);
}

/* The id range of a VPS about to start is its own: one another VPS holds
 * (a config edited by hand; vsd hands out each once) is refused, never
 * shared. The others' from the configs vsd keeps; this VPS's own kept one
 * is brought up to its file first, for the next create's allocator. */
static int id_range_own(struct vsd *d, struct vps *v, vs_error_t *err)
{
        vsd_vps_config(d, v);
        if (!v->idmap.base)
                return 0; /* privileged: the identity map */
        for (struct vps *o = d->vps_list; o; o = o->next)
                if (o != v && vsd_vps_id_base(d, o) == v->idmap.base)
                        return vs_error_kind(err, VS_E_STATE, EBUSY,
                                             "config: id range %lu (id_base) is VPS %s's already",
                                             v->idmap.base, o->name);
        for (struct vsd_work *w = d->works; w; w = w->next)
                if (w->reserved_id == v->idmap.base)
                        return vs_error_kind(err, VS_E_STATE, EBUSY,
                                             "config: id range %lu (id_base) is held for VPS %s",
                                             v->idmap.base, w->vps_new);
        return 0;
}

static int start_stopped(struct vsd *d, struct vps *v, vs_error_t *err)
{
        cleanup_kv vs_kv_t config = { 0 };
        struct vsd_net_start net;
        vs_limits_t limits;

        if (check_fd_budget(err) < 0 || vsd_config_load(d, v->name, &config, err) < 0 ||
            check_config(d, &config, err) < 0 || load_security(v, &config, err) < 0 ||
            id_range_own(d, v, err) < 0 || limits_of_config(&config, &limits, err) < 0 ||
            admit(d, v, &limits, err) < 0 || vsd_net_prepare(d, v, &config, &net, err) < 0)
                return -1;
        /* its last run's cgroups, if their removal still waits, go first:
         * a run starts with cgroups of its own (counters, OOM count) */
        vsd_later_cgroups_now(d, v->name);
        /* the slice's level carries its caps before a VPS of it runs (vsd's
         * exit prunes an empty level, and an admin may edit the file) */
        if (vsd_slice_cgroup_apply(d, v->slice, err) < 0 ||
            vs_cgroup_create(d->cgtree, v->slice, v->name, &v->cg, err) < 0) {
                vsd_net_abort(d, v, &net);
                return -1;
        }
        v->cgroups_gone = 0;
        /* the limits hold before the init runs (it is born under them), and
         * are vsd's alone to change: host root's files, which only a
         * privileged VPS's root (host uid 0 through its identity map) could
         * write, so only its are sealed (a seal makes an inode, a dentry and
         * attributes of every limit file of every hierarchy) */
        if ((!v->idmap.base && vs_cgroup_seal(v->cg, err) < 0) ||
            vs_cgroup_delegate(v->cg, (uid_t)v->idmap.base, err) < 0 ||
            apply_limits(d, v, &limits, err) < 0 || spawn_vps_init(d, v, &config, &net, err) < 0) {
                /* the child may have died after its veth was made */
                vsd_net_abort(d, v, &net);
                vsd_view_unregister(d, v);
                vs_cgroup_free(steal_ptr(v->cg));
                v->cgroups_gone = vs_cgroup_remove(d->cgtree, v->slice, v->name, NULL) == 0;
                return -1;
        }
        v->is_child = 1;
        v->oom_kills = 0;
        if (vsd_net_has_link(&net))
                vs_net_host_ifname(v->name, v->ifname);
        v->exit_known = 0;
        v->stop_escalated = 0;
        v->stop_how[0] = '\0';
        v->started_at = time(NULL);
        v->phase = PHASE_RUNNING;
        /* the init is vsd's child: its pid stays its own until vsd reaps it */
        if (vs_procid_read(v->pid, &v->id, err) < 0 || watch_init(d, v, err) < 0 ||
            save_state(d, v, err) < 0) {
                /* vsd could not record it: roll back rather than run blind */
                syscall(SYS_pidfd_send_signal, v->pidfd, SIGKILL, NULL, 0);
                return -1;
        }
        return 0;
}

/* ---- events, told upward (hooks.event) ---- */

/* "stopped", with how it ended (exit code, signal, or unknown). */
static void event_stopped(struct vsd *d, struct vps *v)
{
        vs_event_t ev = { .type = "stopped", .vps = v->name };

        if (!v->exit_known) {
                vs_event_text(&ev, "exit", "unknown");
        } else if (v->exit_signal) {
                vs_event_text(&ev, "exit", vs_signal_name(v->exit_signal));
                vs_event_int(&ev, "signal", v->exit_signal);
        } else {
                vs_event_text(&ev, "exit", "code");
                vs_event_int(&ev, "exit_code", v->exit_code);
        }
        vs_event_int(&ev, "oom_kills", (long long)v->oom_kills);
        vs_event_text(&ev, "stop", v->stop_how);
        d->hooks.event(d, &ev);
}

static void event_error(struct vsd *d, const char *type, const char *vps, const vs_error_t *err)
{
        vs_event_t ev = { .type = type, .vps = vps };

        vs_event_text(&ev, "error", err->msg);
        d->hooks.event(d, &ev);
}

/* A start of a stopped VPS that fails is logged with its reason and told
 * to the event subscribers, whoever asked for it (vsctl, a restart, a
 * reboot inside the VPS, the autostart after a boot). */
int vsd_vps_start(struct vsd *d, struct vps *v, vs_error_t *err)
{
        if (v->phase != PHASE_STOPPED)
                return vs_error_kind(err, VS_E_STATE, EBUSY, "VPS is already running");
        if (v->backups)
                return vs_error_kind(err, VS_E_STATE, EBUSY,
                                     "a backup of the VPS is being "
                                     "written");
        if (d->hooks.slice_may_start && d->hooks.slice_may_start(d, v, err) < 0)
                return -1;
        if (vsd_release_wait(d, v, err) < 0 || start_stopped(d, v, err) < 0) {
                vs_log(LOG_ERR, "%s did not start: %s", v->name, err->msg);
                event_error(d, "start-failed", v->name, err);
                return -1;
        }
        {
                vs_event_t ev = { .type = "started", .vps = v->name };

                vs_event_int(&ev, "pid", (long long)v->pid);
                d->hooks.event(d, &ev);
        }
        if (d->hooks.slice_started)
                d->hooks.slice_started(d, v);
        return 0;
}

/* ---- stop ---- */

/* The kind of init the VPS runs, from the program its pid 1 executes. */
static vs_init_kind_t init_kind(const struct vps *v)
{
        char path[64], exe[4096];
        ssize_t len;

        snprintf(path, sizeof(path), "/proc/%d/exe", (int)v->pid);
        len = readlink(path, exe, sizeof(exe) - 1);
        if (len < 0)
                return VS_INIT_UNKNOWN;
        exe[len] = '\0';
        return vs_init_kind_of_exe(exe);
}

/* The stop request: the config's stop_signal where it names one, else what
 * the running init understands as halt, else the template's stop_signal,
 * else SIGPWR. 0: sysvinit's runlevel request. */
static int stop_signal_of(struct vsd *d, const struct vps *v)
{
        cleanup_kv vs_kv_t config = { 0 };
        cleanup_free char *meta = NULL;
        vs_init_kind_t kind = init_kind(v);
        const char *text = NULL;
        int signo = SIGPWR;

        if (vsd_config_load(d, v->name, &config, NULL) == 0) {
                text = vs_kv_get(&config, "stop_signal");
                if (!text && kind != VS_INIT_UNKNOWN)
                        return vs_init_stop_signal(kind);
                if (!text && vs_kv_get(&config, "template"))
                        text = meta = vs_template_meta(d->tmpl_fd, vs_kv_get(&config, "template"),
                                                       "stop_signal");
        }
        if (text && vs_parse_signal(text, &signo, NULL) < 0)
                signo = SIGPWR;
        return signo;
}

static int arm_timer(struct vsd *d, struct vps *v, uint64_t ms, vs_error_t *err)
{
        struct itimerspec when = { .it_value = { (time_t)(ms / 1000),
                                                 (long)(ms % 1000) * 1000000 } };

        if (v->timerfd < 0) {
                v->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
                if (v->timerfd < 0)
                        return vs_error_errno(err, "timerfd");
                if (vsd_epoll_add(d, v->timerfd, &v->timer_ev, EPOLLIN) < 0)
                        return vs_error_errno(err, "watch timer");
        }
        if (timerfd_settime(v->timerfd, 0, &when, NULL) < 0)
                return vs_error_errno(err, "arm timer");
        return 0;
}

static int send_signal(struct vps *v, int signo, vs_error_t *err)
{
        if (syscall(SYS_pidfd_send_signal, v->pidfd, signo, NULL, 0) < 0 && errno != ESRCH)
                return vs_error_errno(err, "send %s to init", vs_signal_name(signo));
        return 0;
}

/* What vsd asked of the init, kept for status and the stopped event: a
 * test or an admin sees whether the init's own shutdown ran. */
static void note_stop(struct vps *v, const char *how)
{
        vs_init_kind_t kind = init_kind(v);

        if (kind == VS_INIT_UNKNOWN)
                snprintf(v->stop_how, sizeof(v->stop_how), "%s", how);
        else
                snprintf(v->stop_how, sizeof(v->stop_how), "%s to %s", how,
                         vs_init_kind_name(kind));
        vs_log(LOG_INFO, "%s: stop: %s", v->name, v->stop_how);
}

static void note_kill(struct vps *v)
{
        size_t len = strlen(v->stop_how);

        if (len == 0)
                vs_strlcpy(v->stop_how, "SIGKILL", sizeof(v->stop_how));
        else if (!strstr(v->stop_how, "SIGKILL"))
                snprintf(v->stop_how + len, sizeof(v->stop_how) - len, ", then SIGKILL");
}

static int request_stop(struct vsd *d, struct vps *v, vs_error_t *err)
{
        int signo = stop_signal_of(d, v);
        vs_error_t why = { 0 };

        note_stop(v, signo ? vs_signal_name(signo) : "runlevel 0");
        if (signo)
                return send_signal(v, signo, err);
        if (vs_init_sysv_halt((int)v->pid, &why) == 0)
                return 0;
        /* an init that does not listen on its FIFO gets the timeout */
        vs_log(LOG_NOTICE, "%s: %s", v->name, why.msg);
        return 0;
}

void vsd_vps_stop_timeout(struct vsd *d, struct vps *v)
{
        (void)d;
        if (v->phase != PHASE_STOPPING)
                return;
        vs_log(LOG_NOTICE, "%s did not stop in time: killing it", v->name);
        v->stop_escalated = 1;
        note_kill(v);
        /* SIGKILL of a pid namespace's init kills every process in it */
        send_signal(v, SIGKILL, NULL);
}

int vsd_vps_stop_begin(struct vsd *d, struct vps *v, uint64_t timeout_ms, vs_error_t *err)
{
        if (v->phase == PHASE_STOPPED)
                return vs_error_kind(err, VS_E_STATE, ESRCH, "VPS is not running");
        /* the overlay's sync goes to the releaser, off the reply's path */
        vsd_release_hold(d, v);
        if (timeout_ms == 0) {
                v->phase = PHASE_STOPPING;
                v->stop_escalated = 1;
                note_kill(v);
                return send_signal(v, SIGKILL, err);
        }
        if (v->phase == PHASE_STOPPING)
                return 0; /* already on its way down; keep the first deadline */
        if (request_stop(d, v, err) < 0)
                return -1;
        v->phase = PHASE_STOPPING;
        return arm_timer(d, v, timeout_ms, err);
}

/* ---- exit ---- */

/* PIDFD_GET_INFO (Linux 6.13) with PIDFD_INFO_EXIT (6.15): the exit
 * status of a process, for anyone who held a pidfd of it, after it was
 * reaped. The system headers may predate it. */
struct pidfd_exit_info {
        uint64_t mask;
        uint64_t cgroupid;
        uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
        int32_t exit_code;
};
#define PIDFD_GET_INFO_IOCTL _IOWR(0xFF, 11, struct pidfd_exit_info)
#define PIDFD_INFO_EXIT_MASK (1ULL << 3)

/* VSD_TEST_NO_EXIT_INFO=1 (tests only): vsd learns nothing from an adopted
 * init's zombie or pidfd, as on a kernel before 6.15 whose reaper collected
 * the zombie first, so that a test on a newer kernel tries what vsd does
 * then. */
static int exit_info_hidden(void)
{
        const char *hook = getenv("VSD_TEST_NO_EXIT_INFO");

        return hook && strcmp(hook, "1") == 0;
}

/* The wait status of an init that is not vsd's child (adopted after a
 * restart of vsd), whose reaper is some other process: while that has not
 * collected it, its zombie's /proc/PID/stat holds it (the pidfd pins the
 * pid, and the start time proves it is the init's); once reaped, the
 * pidfd does. -1 when neither tells (a kernel before 6.15). */
static int adopted_exit_status(const struct vps *v)
{
        struct pidfd_exit_info info = { .mask = PIDFD_INFO_EXIT_MASK };
        int status;

        if (exit_info_hidden())
                return -1;
        if (vs_procid_zombie_status(v->pid, v->id.starttime, &status) == 1)
                return status;
        if (ioctl(v->pidfd, PIDFD_GET_INFO_IOCTL, &info) == 0 && (info.mask & PIDFD_INFO_EXIT_MASK))
                return info.exit_code;
        return -1;
}

static void collect_status(struct vsd *d, struct vps *v)
{
        siginfo_t info = { 0 };
        /* taken either way: a mark outlives no run */
        int marked = vsd_reboot_mark_take(d->reboot_fd, v->name, v->pid, &v->id);
        int status;

        v->exit_known = 0;
        v->exit_code = v->exit_signal = 0;
        if (!v->is_child) {
                status = adopted_exit_status(v);
                /* what the kernel would have said: its reboot(2) inside
                 * was seen by the VPS's seccomp listener */
                if (status < 0 && marked) {
                        vs_log(LOG_INFO,
                               "%s: its init's exit status is gone; it ended by a %s "
                               "inside",
                               v->name, marked == SIGHUP ? "reboot" : "halt");
                        status = marked;
                }
                if (status < 0)
                        return;
                v->exit_known = 1;
                if (WIFSIGNALED(status))
                        v->exit_signal = WTERMSIG(status);
                else
                        v->exit_code = WEXITSTATUS(status);
                return;
        }
        if (waitid((idtype_t)P_PIDFD, (id_t)v->pidfd, &info, WEXITED | WNOHANG) < 0 ||
            info.si_pid == 0)
                return;
        v->exit_known = 1;
        if (info.si_code == CLD_EXITED)
                v->exit_code = info.si_status;
        else
                v->exit_signal = info.si_status;
}

/* VSD_TEST_EXIT_AFTER_STOP_ANSWER=1 (tests only): vsd ends at once after it
 * answered a stop, before its record of it, as a crash there would. */
static void crash_after_stop_answer(void)
{
        const char *hook = getenv("VSD_TEST_EXIT_AFTER_STOP_ANSWER");

        if (hook && strcmp(hook, "1") == 0)
                _exit(1);
}

void vsd_vps_exited(struct vsd *d, struct vps *v)
{
        if (v->timerfd >= 0) {
                vsd_epoll_del(d, v->timerfd);
                close(v->timerfd);
                v->timerfd = -1;
        }
        refresh_oom(v);
        /* The init's exit took every process of its pid namespace with it
         * (the kernel waits for them before the pidfd is readable); the
         * cgroups' removal waits for an idle moment (later.c): the kernel's
         * teardown that an rmdir starts (the memory cgroup's, a few ms of a
         * worker's CPU at 1000 VPS) ran just as the next request came. */
        vsd_later_cgroups(d, v);
        v->phase = PHASE_STOPPED;
        v->stopped_at = time(NULL);
        /* A stop alone is answered here: its init is gone. What follows
         * is done before vsd reads another request, but its cgroups'
         * removal, nftables removal and state file, which wait for an idle
         * moment (later.c: a start of this VPS sees them done), and a crash
         * before any of it changes nothing that matters:
         * the state file still says running, and the next vsd, finding the
         * init gone, marks the VPS stopped, removes its cgroups (and those
         * of no VPS), deletes the links of VPS that are not running and
         * builds its nftables from the running VPS only. */
        if (d->hooks.vps_stop_answer) {
                d->hooks.vps_stop_answer(d, v);
                crash_after_stop_answer();
        }
        /* explicitly, not by the kernel's asynchronous netns cleanup: the
         * reaper deletes them (a helper woken here, not before the answer)
         * and a start renames what it finds in its way */
        vsd_net_stop_links(d, v);
        v->ifname[0] = '\0';
        /* after the answer: how the init ended (its reap, and its reboot
         * mark's open and unlink on the state root; a crash here leaves a
         * zombie for whoever reaps vsd's orphans, and a mark that names
         * this init only), which is for the state file and the event: the
         * stopped clients only ever get "ok" */
        collect_status(d, v);
        vsd_epoll_del(d, v->pidfd);
        vs_fd_close(v->pidfd);
        v->pidfd = -1;
        /* an unlink on the state root's file system waits for its journal
         * (1 to 8 ms on ext4 with other writers), and a registration left
         * by a crash here names cgroups that are gone, of a VPS vsview has
         * no reader for; its next start writes it anew */
        vsd_view_unregister(d, v);
        /* the elements' removal and the state file wait for an idle
         * moment, or the next request that needs them (later.c): a request
         * right after the stop, a destroy of it or the stop of the next,
         * waited behind them */
        vsd_net_stop_elements(d, v);
        v->state_later = 1;
        if (!d->later_since)
                d->later_since = vs_monotonic_ms();
        vs_log(LOG_INFO, "%s stopped", v->name);
        event_stopped(d, v);
        d->hooks.vps_stopped(d, v);
}

/* ---- destroy ---- */

int vsd_vps_destroy(struct vsd *d, struct vps *v, vs_error_t *err)
{
        if (v->phase != PHASE_STOPPED)
                return vs_error_kind(err, VS_E_STATE, EBUSY,
                                     "VPS is running (stop it first, or use --force)");
        if (v->backups)
                return vs_error_kind(err, VS_E_STATE, EBUSY,
                                     "a backup of the VPS is being "
                                     "written");
        /* the files go in the remover, after the reply */
        if (vsd_trash_doom(d, v->name, err) < 0)
                return -1;
        v->state_later = 0; /* a save that waits has nothing to save to */
        vsd_reboot_mark_clear(d->reboot_fd, v->name);
        /* its stop left them to an idle moment (later.c), or removed them
         * before: seven rmdirs that find nothing, else */
        if (!v->cgroups_gone)
                vs_cgroup_remove(d->cgtree, v->slice, v->name, NULL);
        {
                vs_event_t ev = { .type = "destroyed", .vps = v->name };

                d->hooks.event(d, &ev);
        }
        vps_remove(d, v);
        return 0;
}

/* ---- set ---- */

int vsd_vps_set_boot(struct vsd *d, struct vps *v, int onboot, long long bootorder, vs_error_t *err)
{
        cleanup_kv vs_kv_t config = { 0 };

        if (vsd_config_load(d, v->name, &config, err) < 0)
                return -1;
        if (onboot >= 0)
                vs_kv_set(&config, "onboot", onboot ? "yes" : "no");
        if (bootorder >= 0)
                vs_kv_setf(&config, "bootorder", "%lld", bootorder);
        return vsd_config_save(d, v->name, &config, err);
}

/* --numfile on a running VPS: its init's limit (what it forks next
 * inherits); exec'd commands get it from v->numfile. */
static int set_init_nofile(struct vps *v, const vs_limits_t *l, vs_error_t *err)
{
        uid_t owner = (uid_t)v->idmap.base;
        struct rlimit lim;
        int rc, saved;

        if (!VS_LIMIT_IS_SET(l, VS_LIM_NUMFILE))
                return 0;
        lim.rlim_cur = lim.rlim_max = l->value[VS_LIM_NUMFILE];
        /* prlimit needs CAP_SYS_RESOURCE in the init's user namespace: vsd
         * has it as that namespace's owner (the VPS's base id, see spawn),
         * not as host root, which may lack it */
        if (owner && setresuid((uid_t)-1, owner, (uid_t)-1) < 0)
                return vs_error_errno(err, "limits: take the VPS's id");
        rc = prlimit(v->pid, RLIMIT_NOFILE, &lim, NULL);
        saved = errno;
        if (owner && setresuid((uid_t)-1, 0, (uid_t)-1) < 0)
                abort(); /* vsd would go on without its privileges */
        errno = saved;
        if (rc < 0)
                return vs_error_errno(err, "limits: set numfile of the init");
        return 0;
}

/* --timeslice on a running VPS: every thread of every process it has
 * (what they fork next inherits it; exec'd commands get v->timeslice_us,
 * which apply_limits set).
 * A process forked while the walk runs may keep its parent's old slice: a
 * second walk catches those that the first did not list. */
static int set_running_timeslice(struct vps *v, const vs_limits_t *changes, vs_error_t *err)
{
        unsigned long us = v->timeslice_us;

        if (!VS_LIMIT_IS_SET(changes, VS_LIM_TIMESLICE))
                return 0;
        for (int round = 0; round < 2; round++) {
                cleanup_free pid_t *pids = vs_cgroup_pids(v->cg, err);

                if (!pids)
                        return vs_error_wrap(err, "timeslice");
                for (pid_t *p = pids; *p; p++)
                        if (vs_timeslice_set_process(*p, us, err) < 0)
                                return vs_error_wrap(err, "timeslice");
        }
        return 0;
}

/* A VPS's limits stay within its slice's, for admins too: the slice's
 * cgroup would hold them anyway, and a VPS's own value above it would only
 * mislead (and cgroup v1 refuses a CFS quota above the parent's). */
static int slice_fits(struct vsd *d, struct vps *v, const vs_limits_t *l, vs_error_t *err)
{
        struct vsd_slice_rules r;

        if (strcmp(v->slice, VS_DEFAULT_SLICE) == 0)
                return 0;
        if (vsd_slice_rules_load(d, v->slice, &r, err) < 0)
                return vs_error_wrap(err, "slice %s", v->slice);
        return vsd_slice_fits(&r, v->name, l, err);
}

int vsd_vps_set(struct vsd *d, struct vps *v, const vs_limits_t *changes, int save, int force,
                vs_error_t *err)
{
        cleanup_kv vs_kv_t config = { 0 };
        vs_limits_t all, old;

        if (!save && v->phase == PHASE_STOPPED)
                return vs_error_kind(err, VS_E_STATE, ESRCH,
                                     "VPS is not running (with --no-save nothing would change)");
        if (vsd_config_load(d, v->name, &config, err) < 0 ||
            vs_limits_from_config(&config, &all, err) < 0)
                return -1;
        old = all;
        vs_limits_merge(&all, changes);
        /* the node is asked about what changes: a value kept with --force
         * before does not block another change */
        if (vsd_limits_check(&all, err) < 0 || vsd_limits_fit(changes, force, err) < 0 ||
            slice_fits(d, v, &all, err) < 0)
                return -1;
        if (v->phase != PHASE_STOPPED && admit(d, v, &all, err) < 0)
                return -1;
        /* every limit is written again: the new ones may depend on the old
         * (memsw is ram + swap, the burst must fit the cap). What the kernel
         * refuses half way is rolled back to the config's values. */
        if (v->phase != PHASE_STOPPED && v->cg &&
            (apply_limits(d, v, &all, err) < 0 || set_init_nofile(v, changes, err) < 0 ||
             set_running_timeslice(v, changes, err) < 0)) {
                apply_limits(d, v, &old, NULL);
                set_running_timeslice(v, changes, NULL); /* back to the old one */
                return -1;
        }
        if (v->phase != PHASE_STOPPED && v->cg)
                vsd_view_changed(d, v->name);
        if (!save)
                return 0;
        vs_limits_to_config(changes, &config);
        return vsd_config_save(d, v->name, &config, err);
}

/* ---- queries ---- */

/* The usage figures of s that want names (up: seconds since start). */
static void add_stats(vs_vps_info_t *info, const vs_stats_t *s, long long up, vs_vps_fields_t want)
{
#define ADD(field, value)                                                         \
        do {                                                                      \
                if (want & VS_VF_BIT(field))                                      \
                        vs_vps_info_int(info, VS_VF_##field, (long long)(value)); \
        } while (0)
        ADD(CPU_USEC, s->cpu_usec);
        /* the average since start; vsctl top computes the current one */
        ADD(CPU_PCT, up > 0 ? s->cpu_usec / 10000 / (uint64_t)up : 0);
        ADD(THROTTLED_USEC, s->throttled_usec);
        ADD(NR_THROTTLED, s->nr_throttled);
        ADD(MEM_BYTES, s->mem_bytes);
        ADD(MEM_PEAK, s->mem_peak);
        ADD(SWAP_BYTES, s->swap_bytes);
        ADD(IO_READ_BYTES, s->io_read_bytes);
        ADD(IO_WRITE_BYTES, s->io_write_bytes);
        ADD(IO_READ_OPS, s->io_read_ops);
        ADD(IO_WRITE_OPS, s->io_write_ops);
#undef ADD
}

static long long uptime_of(const struct vps *v)
{
        return v->phase == PHASE_STOPPED ? 0 : (long long)time(NULL) - v->started_at;
}

void vsd_vps_stats(struct vsd *d, struct vps *v, vs_stats_t *s)
{
        (void)d;
        memset(s, 0, sizeof(*s));
        if (v->cg)
                vs_stats_read(v->cg, s, NULL);
}

static int count_procs(struct vps *v)
{
        return v->cg ? vs_cgroup_nprocs(v->cg, NULL) : 0;
}

/* Network counters of a running VPS with a veth; zeros otherwise. */
static void add_counters(struct vsd *d, struct vps *v, vs_vps_info_t *info, vs_vps_fields_t want)
{
        struct vs_net_counters c = { 0 };

        if (v->phase != PHASE_STOPPED && vs_net_vps_counters(d->net, v->name, &c, NULL) < 0)
                memset(&c, 0, sizeof(c));
#define ADD(field, value)                                                         \
        do {                                                                      \
                if (want & VS_VF_BIT(field))                                      \
                        vs_vps_info_int(info, VS_VF_##field, (long long)(value)); \
        } while (0)
        ADD(RX_BYTES, c.rx_bytes);
        ADD(TX_BYTES, c.tx_bytes);
        ADD(RX_PACKETS, c.rx_packets);
        ADD(TX_PACKETS, c.tx_packets);
#undef ADD
}

#define CONFIG_FIELDS                                                                      \
        (VS_VF_BIT(HOSTNAME) | VS_VF_BIT(TEMPLATE) | VS_VF_BIT(IP) | VS_VF_BIT(RATE_OUT) | \
         VS_VF_BIT(RATE_IN) | VS_VF_BIT(PORT_FORWARD))
#define COUNTER_FIELDS \
        (VS_VF_BIT(RX_BYTES) | VS_VF_BIT(TX_BYTES) | VS_VF_BIT(RX_PACKETS) | VS_VF_BIT(TX_PACKETS))
#define STATS_FIELDS                                                                    \
        (VS_VF_BIT(CPU_USEC) | VS_VF_BIT(CPU_PCT) | VS_VF_BIT(THROTTLED_USEC) |         \
         VS_VF_BIT(NR_THROTTLED) | VS_VF_BIT(MEM_BYTES) | VS_VF_BIT(MEM_PEAK) |         \
         VS_VF_BIT(SWAP_BYTES) | VS_VF_BIT(IO_READ_BYTES) | VS_VF_BIT(IO_WRITE_BYTES) | \
         VS_VF_BIT(IO_READ_OPS) | VS_VF_BIT(IO_WRITE_OPS) | VS_VF_BIT(OOM_KILLS))

/* The sum of its beancounters' fail counts (0 when it is not running):
 * how often it hit a limit. */
static uint64_t failcnt_of(struct vps *v)
{
        vs_beancounter_t bc[VS_BC_MAX];
        vs_view_src_t src;
        uint64_t sum = 0;
        size_t n;

        if (v->phase == PHASE_STOPPED || vsd_view_src(NULL, v, &src) < 0)
                return 0;
        n = vs_view_beancounters(&src, bc);
        for (size_t i = 0; i < n; i++)
                sum += bc[i].failcnt;
        return sum;
}

static void add_str(vs_vps_info_t *info, vs_vps_fields_t want, vs_vps_field_t field,
                    const char *value)
{
        if (want & ((vs_vps_fields_t)1 << field))
                vs_vps_info_text(info, field, value);
}

static void add_int(vs_vps_info_t *info, vs_vps_fields_t want, vs_vps_field_t field,
                    long long value)
{
        if (want & ((vs_vps_fields_t)1 << field))
                vs_vps_info_int(info, field, value);
}

/* What the config says: hostname, template, addresses, rates, forwards. */
static void add_config_fields(struct vsd *d, struct vps *v, const vs_kv_t *config,
                              vs_vps_info_t *info, vs_vps_fields_t want)
{
        const char *hostname = vs_kv_get(config, "hostname");
        char default_hostname[VS_NAME_MAX + 1];

        add_str(info, want, VS_VF_HOSTNAME,
                hostname && *hostname ? hostname : vs_default_hostname(v->name, default_hostname));
        add_str(info, want, VS_VF_TEMPLATE, vs_kv_get(config, "template"));
        add_str(info, want, VS_VF_IP, vs_kv_get(config, "ip"));
        if (want & (VS_VF_BIT(RATE_OUT) | VS_VF_BIT(RATE_IN) | VS_VF_BIT(PORT_FORWARD)))
                vsd_net_describe(d, v, config, info);
}

void vsd_vps_describe(struct vsd *d, struct vps *v, int with_disk, vs_vps_fields_t want,
                      vs_vps_info_t *info)
{
        const vs_kv_t *config = NULL;
        int stopped = v->phase == PHASE_STOPPED;

        memset(info, 0, sizeof(*info));
        if ((want &
             (CONFIG_FIELDS | VS_VF_BIT(ONBOOT) | VS_VF_BIT(BOOTORDER) | VS_VF_BIT(TIMESLICE))) ||
            with_disk)
                config = vsd_vps_config(d, v);
        add_str(info, want, VS_VF_NAME, v->name);
        add_str(info, want, VS_VF_STATE, vsd_phase_name(v->phase));
        add_int(info, want, VS_VF_PID, stopped ? 0 : v->pid);
        add_int(info, want, VS_VF_NPROC, (want & VS_VF_BIT(NPROC)) ? count_procs(v) : 0);
        if (config)
                add_config_fields(d, v, config, info, want);
        if (want & COUNTER_FIELDS)
                add_counters(d, v, info, want);
        add_str(info, want, VS_VF_SLICE, v->slice);
        if (config) {
                add_str(info, want, VS_VF_ONBOOT, vs_kv_get(config, "onboot") ?: "no");
                add_int(info, want, VS_VF_BOOTORDER, atoll(vs_kv_get(config, "bootorder") ?: "0"));
                add_str(info, want, VS_VF_TIMESLICE, vs_kv_get(config, "timeslice") ?: "default");
        }
        add_int(info, want, VS_VF_UPTIME, uptime_of(v));
        if (with_disk)
                vsd_disk_describe(d, v, config, info);
        exit_text(v, info->exit, sizeof(info->exit));
        add_str(info, want, VS_VF_EXIT, stopped ? info->exit : "");
        if (want & STATS_FIELDS) {
                vs_stats_t s = { 0 };

                /* a stopped VPS has no cgroup: zeros, and its last OOM count */
                if (v->cg && vs_stats_read(v->cg, &s, NULL) == 0)
                        v->oom_kills = s.oom_kills;
                add_int(info, want, VS_VF_OOM_KILLS, (long long)v->oom_kills);
                add_stats(info, &s, uptime_of(v), want);
        }
        if (want & VS_VF_BIT(FAILCNT)) {
                add_int(info, want, VS_VF_FAILCNT, (long long)failcnt_of(v));
        }
        if (stopped && v->exit_known) {
                add_int(info, want, VS_VF_EXIT_CODE, v->exit_code);
                add_int(info, want, VS_VF_EXIT_SIGNAL, v->exit_signal);
        }
        add_str(info, want, VS_VF_STOP, stopped ? v->stop_how : "");
}

int vsd_vps_uses_template(struct vsd *d, const char *tmpl)
{
        int users = 0;

        for (struct vps *v = d->vps_list; v; v = v->next) {
                const char *used = vs_kv_get(vsd_vps_config(d, v), "template");

                if (used && strcmp(used, tmpl) == 0)
                        users++;
        }
        return users;
}
