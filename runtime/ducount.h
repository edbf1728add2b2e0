/* The counter of VPS's own layers (ducount.c). */
#ifndef VS_RUNTIME_DUCOUNT_H
#define VS_RUNTIME_DUCOUNT_H

#include <stdint.h>

#include "vs/error.h"

struct vsd;
struct vps;

/* What vsd knows of a VPS's count (in struct vps). */
struct vsd_du {
        uint64_t bytes;
        int64_t at_ms; /* CLOCK_MONOTONIC of the count; 0: none yet */
        uint64_t seq;  /* of the count asked for; answers of another are stale */
        int big;       /* too many entries to count in the loop */
        int pending;   /* asked of the counter, not answered yet */
};

/* Forks the counter; without one every count is vsd's own, as before. */
int vsd_du_start(struct vsd *d, vs_error_t *err);

/* The bytes of the VPS's upper/ (dir backend): 1 with *bytes, 0 while a
 * first count of a large layer is under way. */
int vsd_du_bytes(struct vsd *d, struct vps *v, uint64_t *bytes);

/* The counter answered (EV_DU): its counts are taken. */
void vsd_du_answered(struct vsd *d);

/* In a fork of vsd (a worker, a metrics responder): counts are its own,
 * whole, as the counter's answers reach vsd only. */
void vsd_du_forget(struct vsd *d);

/* Ends the counter's queue. */
void vsd_du_close(struct vsd *d);

#endif
