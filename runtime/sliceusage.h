/* Inside the slice time and bytes subsystem (slicetime.h): the slice file's
 * figures, the usage file, the module's state in vsd. */
#ifndef VS_RUNTIME_SLICEUSAGE_H
#define VS_RUNTIME_SLICEUSAGE_H

#include <stdint.h>

#include "vs/error.h"
#include "vs/kvfile.h"
#include "slicefile.h"

struct vsd;

/* The slice file (expires, bytes_per_day: struct vsd_slice_file) is
 * slicefile.h's. */

/* NAME.usage: window_start, used, warned, and vps.NAME = PID TX per
 * running VPS (its last counter reading). */
struct vsd_slice_usage {
        int64_t window_start; /* 0: no window open */
        uint64_t used;
        int64_t warned;   /* the expiry a warning went out for */
        vs_kv_t readings; /* vps.NAME = PID TX */
        int dirty;
};
int vsd_slice_usage_load(struct vsd *d, const char *slice, struct vsd_slice_usage *u);
int vsd_slice_usage_save(struct vsd *d, const char *slice, const struct vsd_slice_usage *u,
                         vs_error_t *err);
void vsd_slice_usage_free(struct vsd_slice_usage *u);

/* A VPS throttled by its slice's budget: the run (init pid) and its own
 * cap out then, so that a restart or a set --rate-out is seen. */
struct vsd_throttle {
        char vps[64];
        int pid;
        uint64_t own;
        struct vsd_throttle *next;
};
struct vsd_slicetime {
        uint64_t throttle_rate; /* bit/s */
        int64_t window;         /* seconds */
        struct vsd_throttle *throttles;
};

/* slicetime.c, slicebytes.c: one slice's step of the tick */
void vsd_slicetime_expiry_step(struct vsd *d, const struct vsd_slice_file *f,
                               struct vsd_slice_usage *u, int64_t now);
void vsd_slicebytes_step(struct vsd *d, const struct vsd_slice_file *f, struct vsd_slice_usage *u,
                         int64_t now);
/* Holds a running VPS of the slice to throttle_rate (once per run). */
struct vps;
void vsd_slicebytes_throttle(struct vsd *d, struct vps *v, const struct vsd_slice_file *f,
                             const struct vsd_slice_usage *u);
/* Whether the slice's VPS are held to throttle_rate now. */
int vsd_slicebytes_over(const struct vsd_slice_file *f, const struct vsd_slice_usage *u);

#endif
