/* cow-fs's private part of moving ids (vs_id_shift_t, vs/cowfs.h) inside
 * xattr values: shared by the dir backend's copy (clone.c, the values as
 * getxattr gives them) and the image backend's in-place pass over ext4's
 * xattrs (image.c, the values as ext4 stores them). */
#ifndef VS_COWFS_IDSHIFT_H
#define VS_COWFS_IDSHIFT_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

#include "vs/cowfs.h"

/* The tags of a POSIX ACL's entries that carry an id (a named user, a named
 * group; linux/posix_acl.h's ACL_USER and ACL_GROUP): the same in the xattr
 * a reader gets and in ext4's on-disk form, whose layouts differ. */
#define VS_ACL_TAG_USER 0x02
#define VS_ACL_TAG_GROUP 0x08

/* Moves the little-endian 32-bit id at p (unaligned) by shift. Returns 1 if
 * it changed, else 0 (and p is left unwritten). */
static inline int vs_id_shift_le32_at(const vs_id_shift_t *shift, unsigned char *p)
{
        uint32_t le, id;

        memcpy(&le, p, sizeof(le));
        id = le32toh(le);
        le = htole32((uint32_t)vs_id_shift_apply(shift, id));
        if (le32toh(le) == id)
                return 0;
        memcpy(p, &le, sizeof(le));
        return 1;
}

#endif
