/* A stop's work after its answer that can wait for an idle moment
 * (later.c): the VPS's cgroups, its state file, its nftables elements'
 * removal, the releaser's letting go of its root. */
#ifndef VS_RUNTIME_LATER_H
#define VS_RUNTIME_LATER_H

#include <stdint.h>

struct vsd;
struct vps;

/* epoll_wait's timeout (ms, -1: none), shortened to when the waiting work
 * is due: once vsd has had no event for a while, or has let it wait long. */
int vsd_later_timeout(const struct vsd *d, int timeout);

/* After epoll_wait returned nevents: the last event's time kept, and the
 * waiting work done when due. */
void vsd_later_tick(struct vsd *d, int nevents);

/* A stopped VPS's cgroups (v->cg, taken) are removed with the waiting
 * work: the kernel's teardown that an rmdir starts (the memory cgroup's,
 * in a worker a few ms after it) ran just as the next request came. */
void vsd_later_cgroups(struct vsd *d, struct vps *v);

/* Before cgroups of that name are made again (a start): their waiting
 * removal is done now. */
void vsd_later_cgroups_now(struct vsd *d, const char *name);

/* Does the waiting work now (before a request that may look at it, and
 * before vsd exits). */
void vsd_later_run(struct vsd *d);

#endif
