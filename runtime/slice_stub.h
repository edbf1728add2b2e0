/* TEMPORARY: the interface of runtime/slice.h as the slices branch lands
 * it (struct vsd_slice, vsd_slice_find, vsd_slice_has_owner), until it is
 * on main; slice_stub.c reads only the owners key. Deleted at that merge. */
#ifndef VS_RUNTIME_SLICE_STUB_H
#define VS_RUNTIME_SLICE_STUB_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define VSD_SLICE_MAX_OWNERS 32

struct vsd;

struct vsd_slice {
        char name[64];
        uid_t owners[VSD_SLICE_MAX_OWNERS];
        size_t n_owners;
};

/* NULL if none; "default" always exists, with no owners. */
struct vsd_slice *vsd_slice_find(struct vsd *d, const char *name);
bool vsd_slice_has_owner(const struct vsd_slice *s, uid_t uid);

#endif
