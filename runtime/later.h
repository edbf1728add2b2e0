/* A stop's work after its answer that can wait for an idle moment
 * (later.c): the VPS's state file and its nftables elements' removal. */
#ifndef VS_RUNTIME_LATER_H
#define VS_RUNTIME_LATER_H

#include <stdint.h>

struct vsd;

/* epoll_wait's timeout (ms, -1: none), shortened to when the waiting work
 * is due: once vsd has had no event for a while, or has let it wait long. */
int vsd_later_timeout(const struct vsd *d, int timeout);

/* After epoll_wait returned nevents: the last event's time kept, and the
 * waiting work done when due. */
void vsd_later_tick(struct vsd *d, int nevents);

/* Does the waiting work now (before a request that may look at it, and
 * before vsd exits). */
void vsd_later_run(struct vsd *d);

#endif
