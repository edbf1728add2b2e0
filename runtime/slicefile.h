/* A slice's file, var/lib/paene/slices/NAME (issue 15): its one loader and
 * its one parser. Every reader of a slice file goes through
 * vsd_slice_file_load, so that the file means the same thing to the
 * owners' check, the rules, the loans, the commands and the tick:
 * - a name that cannot be a slice's, or no file: VS_E_NOTFOUND "no such
 *   slice" (the reply an owner gets for another's slice too);
 * - a file that cannot be read or does not parse (an admin's edit by
 *   hand): VS_E_INTERNAL "slice NAME's file: ..." naming the key, for every
 *   reader alike; nothing of such a file is used;
 * - "default" has no file: it reads as an empty one. */
#ifndef VS_RUNTIME_SLICEFILE_H
#define VS_RUNTIME_SLICEFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vs/error.h"
#include "vs/kvfile.h"
#include "vs/limits.h"

#define VSD_SLICE_MAX_OWNERS 32

struct vsd;

/* A slice's rules for its owners' VPS (authz.h holds a request to them). */
struct vsd_slice_rules {
        char name[64];
        vs_limits_t limits;         /* any limit its file names by vs_limit_key */
        uint64_t diskspace;         /* bytes, 0: none */
        uint64_t diskinodes;        /* 0: none */
        uint64_t max_vps;           /* 0: no cap */
        uint64_t rate_out, rate_in; /* bit/s, 0: none */
        char templates[1024];       /* comma list, "": all */
};

/* Everything a slice file says. */
struct vsd_slice_file {
        char name[64];
        uid_t owners[VSD_SLICE_MAX_OWNERS]; /* owners = 1000,1001 */
        size_t n_owners;
        struct vsd_slice_rules rules; /* as the file has them: no loans */
        int64_t expires;              /* unix seconds UTC, 0: never */
        uint64_t budget;              /* bytes_per_day, 0: none */
};

/* The file's lines, parsed (pure): every key or none; an error names the
 * slice's file and the key (VS_E_INTERNAL). */
int vsd_slice_file_parse(const char *name, const vs_kv_t *text, struct vsd_slice_file *f,
                         vs_error_t *err);
/* Reads the slice's file now (an admin may edit it) and parses it into f.
 * text (NULL: not wanted; else empty) gets its lines as they are, for a
 * command that shows or rewrites them; f NULL: the lines only, unparsed
 * (slice set and destroy, which replace or remove a bad file). */
int vsd_slice_file_load(struct vsd *d, const char *slice, struct vsd_slice_file *f, vs_kv_t *text,
                        vs_error_t *err);
/* Whether the slice has a file (not "default", which has none). */
int vsd_slice_file_exists(struct vsd *d, const char *slice);
/* Sets one key of the slice's file to a number, atomically (renew). */
int vsd_slice_file_set(struct vsd *d, const char *slice, const char *key, int64_t value,
                       vs_error_t *err);

/* Whether name is in the slice's namespace: SLICE-REST (pure; here, below
 * both authz.c and slicerules.c, which ask it). */
int vsd_authz_name_in_slice(const char *slice, const char *name);

/* The directory of the slice files, opened (O_DIRECTORY). */
int vsd_slices_dir(struct vsd *d, vs_error_t *err);
/* VS_E_NOTFOUND "no such slice", as for a slice an owner may not see */
int vsd_no_such_slice(vs_error_t *err);

#endif
