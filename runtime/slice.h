/* Slices (issue 15): named groups of VPS with owners and shared caps.
 * The slice files live in var/lib/paene/slices/NAME (kvfile); vsd loads
 * every one at start. "default" always exists, has no owners and no caps. */
#ifndef VS_RUNTIME_SLICE_H
#define VS_RUNTIME_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "vs/error.h"

#define VSD_SLICE_MAX_OWNERS 32

struct vsd;

struct vsd_slice {
        char name[64];
        uid_t owners[VSD_SLICE_MAX_OWNERS];
        size_t n_owners;
        struct vsd_slice *next;
};

/* NULL if none; "default" always exists, with no owners. */
struct vsd_slice *vsd_slice_find(struct vsd *d, const char *name);
/* false for s NULL (no such slice) */
bool vsd_slice_has_owner(const struct vsd_slice *s, uid_t uid);

/* Reads every slice file under dirfd (var/lib/paene/slices); a file that
 * does not parse is logged and skipped, so one bad file stops no VPS. */
int vsd_slice_load_all(struct vsd *d, int dirfd, vs_error_t *err);
void vsd_slice_free_all(struct vsd *d);

#endif
