/* The releaser of stopped VPS's root file systems (release.c). */
#ifndef VS_RUNTIME_RELEASE_H
#define VS_RUNTIME_RELEASE_H

#include "vs/error.h"

struct vsd;
struct vps;

/* Forks the releaser; without one (it cannot start) an init's exit
 * releases its root file system itself, as before. */
int vsd_release_start(struct vsd *d, vs_error_t *err);

/* Before vsd asks v's init to stop: the releaser takes a reference to its
 * root and to its mount namespace, so that the last ones (the mounts taken
 * apart, and the sync of the overlay that comes with the root) are dropped
 * in the releaser once the init is gone, not in the init's exit, which a
 * stop waits for. Nothing for a VPS on a disk image (its
 * image must be let go before anything else uses it) or without a
 * releaser. */
void vsd_release_hold(struct vsd *d, struct vps *v);

/* At an idle moment (later.c): the releaser lets go of every root it
 * holds whose init is gone, and of the others once theirs are. A word that
 * finds the releaser's queue full is sent once it has room (EV_RELEASE). */
void vsd_release_let_go(struct vsd *d);

/* Before a start of v mounts its root again: asks the releaser to let go
 * of the last run's root and waits until it has (overlay refuses an upper
 * directory another mount still uses), at most a few seconds, then
 * refuses. */
int vsd_release_wait(struct vsd *d, struct vps *v, vs_error_t *err);

/* The releaser answered (EV_RELEASE): the VPS it let go are marked so. */
void vsd_release_answered(struct vsd *d);

/* Ends the releaser (what it holds is let go as it exits). */
void vsd_release_close(struct vsd *d);

#endif
