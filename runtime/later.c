/* A stop is answered once its init is gone; the rest of its work follows
 * (vps.c, vsd_vps_exited). These parts of that rest wait for an idle
 * moment here, because a request right after the stop (a destroy of the
 * VPS, the stop of the next) waited behind them otherwise:
 *
 * - the VPS's cgroups (an rmdir on each hierarchy: the kernel then takes
 *   the memory cgroup apart in a worker, memcg_reparent_list_lrus walking
 *   every superblock's lists, about 3 ms of a CPU at 1000 VPS, not
 *   preempted, a few ms after the rmdir, just as the next request came);
 * - the state file (a create and a rename on the state root: on ext4 each
 *   may wait for the journal, 0.4 ms median, tens of ms at times);
 * - the removal of its nftables elements (a libnftables transaction, which
 *   fetches the tables' cache first: ten netlink round trips, 1 to 2 ms),
 *   which the stops that waited then share (netns/nft.c);
 * - the releaser's letting go of its root and mount namespace (release.c:
 *   the kernel's unmounts and the overlay's sync, in the releaser, about
 *   a millisecond of a CPU), which a start of the VPS asks for at once.
 *
 * The work is done once vsd has had no event for LATER_IDLE_MS, or at the
 * latest LATER_MAX_MS after the first stop that left some, and before any
 * request but a start, a stop or a destroy (handlers.c): a status,
 * a list, a set and the rest see it done. Its order is kept: a start
 * removes its VPS's waiting cgroups before it makes them again, a start's
 * nftables change removes the waiting elements first in its own
 * transaction and its state file supersedes the stop's; a destroy drops
 * the VPS's save; nothing else reads a state file but the next vsd.
 *
 * A crash of vsd before it is done leaves what a crash right after the
 * stop's answer always left: a state file saying running, whose init the
 * next vsd finds gone (it marks the VPS stopped), and nftables elements,
 * which the next vsd's tables (made afresh from the running VPS) do not
 * have; cgroups, which the next vsd removes as it loads the VPS (those of a
 * stopped VPS, and any of a name it has no running VPS of: a destroy
 * after the stop). */
#include <stdlib.h>
#include <string.h>

#include "later.h"
#include "release.h"
#include "vsd.h"
#include "vs/cleanup.h"
#include "vs/log.h"
#include "vs/fsutil.h"
#include "vs/parse.h"

#define LATER_IDLE_MS 20
#define LATER_MAX_MS 1000

/* VSD_TEST_LATER_MS=N (tests only): both bounds N ms, so that a test can
 * hold the work until its next request. */
static int64_t bound(int64_t normal)
{
        static int64_t hook = -1;

        if (hook < 0) {
                const char *text = getenv("VSD_TEST_LATER_MS");

                hook = text && *text ? strtoll(text, NULL, 10) : 0;
                if (hook < 0)
                        hook = 0;
        }
        return hook ? hook : normal;
}

static int64_t due(const struct vsd *d)
{
        int64_t idle = d->last_event + bound(LATER_IDLE_MS);
        int64_t oldest = d->later_since + bound(LATER_MAX_MS);

        return idle < oldest ? idle : oldest;
}

int vsd_later_timeout(const struct vsd *d, int timeout)
{
        int64_t wait;

        if (!d->later_since)
                return timeout;
        wait = due(d) - vs_monotonic_ms();
        if (wait < 0)
                wait = 0;
        if (timeout >= 0 && timeout < wait)
                return timeout;
        return (int)wait;
}

void vsd_later_tick(struct vsd *d, int nevents)
{
        int64_t now = vs_monotonic_ms();

        if (nevents > 0)
                d->last_event = now;
        if (d->later_since && now >= due(d))
                vsd_later_run(d);
}

/* A stopped VPS's cgroups, to be removed */
struct later_cgroup {
        vs_cgroup_t *cg;
        char slice[64];
        char name[VS_NAME_MAX + 1];
        struct later_cgroup *next;
};

void vsd_later_cgroups(struct vsd *d, struct vps *v)
{
        struct later_cgroup *c = vs_xmalloc(sizeof(*c));

        c->cg = steal_ptr(v->cg);
        vs_strlcpy(c->slice, v->slice, sizeof(c->slice));
        vs_strlcpy(c->name, v->name, sizeof(c->name));
        c->next = d->cgroups_later;
        d->cgroups_later = c;
        /* a destroy need not try: they are vsd's to remove */
        v->cgroups_gone = 1;
        if (!d->later_since)
                d->later_since = vs_monotonic_ms();
}

/* The init's exit took every process of its pid namespace with it (the
 * kernel waits for them before the pidfd is readable): the cgroups go with
 * one rmdir each. One that joined them from outside makes the kernel
 * refuse; only then is the cgroup killed, and the subtree walked. */
static void remove_cgroups(struct vsd *d, struct later_cgroup *c)
{
        vs_error_t err = { 0 };

        if (vs_cgroup_remove_empty(d->cgtree, c->slice, c->name) < 0) {
                struct vps *v = vsd_vps_find(d, c->name);

                if (c->cg)
                        vs_cgroup_kill(c->cg, NULL);
                if (vs_cgroup_remove(d->cgtree, c->slice, c->name, &err) < 0) {
                        vs_log(LOG_WARNING, "%s: %s", c->name, err.msg);
                        /* its destroy tries again */
                        if (v && v->phase == PHASE_STOPPED && strcmp(v->slice, c->slice) == 0)
                                v->cgroups_gone = 0;
                }
        }
        vs_cgroup_free(c->cg);
        free(c);
}

void vsd_later_cgroups_now(struct vsd *d, const char *name)
{
        struct later_cgroup **p = &d->cgroups_later;

        while (*p) {
                struct later_cgroup *c = *p;

                if (strcmp(c->name, name) != 0) {
                        p = &c->next;
                        continue;
                }
                *p = c->next;
                remove_cgroups(d, c);
        }
}

static void remove_all_cgroups(struct vsd *d)
{
        while (d->cgroups_later) {
                struct later_cgroup *c = d->cgroups_later;

                d->cgroups_later = c->next;
                remove_cgroups(d, c);
        }
}

/* The state files whose save waits, written through vps.c's hook (vps.c
 * calls here to leave the work: a call back by name would be a circle) */
static void save_states(struct vsd *d)
{
        for (struct vps *v = d->vps_list; v; v = v->next) {
                vs_error_t err = { 0 };

                if (v->state_later && d->hooks.save_state(d, v, &err) < 0)
                        vs_log(LOG_ERR, "%s: save state: %s", v->name, err.msg);
        }
}

void vsd_later_run(struct vsd *d)
{
        /* removals a failed flush kept: tried again before each request
         * (not at idle moments, which would retry a failing one in a loop),
         * so that they wait for no start to carry them */
        if (!d->later_since && !(d->nft && vs_nft_pending(d->nft)) && !d->release_waiting)
                return;
        d->later_since = 0;
        remove_all_cgroups(d);
        vsd_net_flush_elements(d);
        save_states(d);
        vsd_release_let_go(d);
}
