/* Slices (issue 15): named groups of VPS with owners and shared caps.
 * The slice files live in var/lib/paene/slices/NAME (kvfile); vsd loads
 * every one at start. "default" always exists, has no owners and no caps. */
#ifndef VS_RUNTIME_SLICE_H
#define VS_RUNTIME_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <stdint.h>

#include "vs/admission.h"
#include "vs/error.h"
#include "vs/kvfile.h"
#include "vs/limits.h"
#include "slicefile.h"

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

/* Reads every slice file listed in dirfd (d->root's var/lib/paene/slices)
 * by vsd_slice_file_load; a file that does not parse is logged and
 * skipped, so one bad file stops no VPS. */
int vsd_slice_load_all(struct vsd *d, int dirfd, vs_error_t *err);
void vsd_slice_free_all(struct vsd *d);

struct vps;
struct client;
struct vsd_slice_rules;

/* How many VPS the slice has, and (running not NULL) how many run. */
size_t vsd_slice_count_vps(struct vsd *d, const char *slice, size_t *running);

/* The rules of a slice, from its file read now (vsd_slice_file_load's
 * rule: the default slice has none, a slice without a file is
 * VS_E_NOTFOUND "no such slice"), with the loans in force applied. */
int vsd_slice_rules_load(struct vsd *d, const char *slice, struct vsd_slice_rules *r,
                         vs_error_t *err);
/* Writes the slice's caps (cpuunits, cpulimit, ram, ram_reserve, numproc)
 * into its cgroup level <tree>/<slice>, made when missing, before a VPS
 * of it starts or is adopted and at each slice create and set. The
 * default slice carries no caps: nothing is written. */
int vsd_slice_cgroup_apply(struct vsd *d, const char *slice, vs_error_t *err);
/* Writes r's caps into its slice's cgroup level (made when missing). */
int vsd_slice_caps_apply(struct vsd *d, const struct vsd_slice_rules *r, vs_error_t *err);
/* What the running VPS of the slice but `except` (NULL: none) reserve. */
struct vps;
vs_reserve_t vsd_slice_reserved(struct vsd *d, const char *slice, const struct vps *except);
/* Whether every VPS of r's slice is within r (vsd_slice_fits), as a change
 * of the slice or a loan from it must leave them. */
int vsd_slice_vps_fit(struct vsd *d, const struct vsd_slice_rules *r, vs_error_t *err);
/* Whether a VPS's limits l are within its slice's: VS_E_STATE naming the
 * VPS and the limit when one is above the slice's. */
int vsd_slice_fits(const struct vsd_slice_rules *r, const char *vps, const vs_limits_t *l,
                   vs_error_t *err);
/* VPS names S-NAME are slice S's alone: its owners create under them, and
 * a VPS of another slice so named would tell them that it exists (their
 * create of the name would fail). A new VPS of slice (NULL: default) named
 * so is VS_E_STATE naming the slice. */
int vsd_slice_name_check(struct vsd *d, const char *slice, const char *vps, vs_error_t *err);
/* A new slice's name: no other slice's is a prefix of it or it of theirs
 * ("sa" and "sa-x"), and no VPS of another slice has a name of it. */
int vsd_slice_names_free(struct vsd *d, const char *slice, vs_error_t *err);
/* A new VPS in slice (NULL: default): its name is not another slice's
 * (vsd_slice_name_check), the slice exists, has room for one more VPS
 * (max_vps), and the limits fit it. */
int vsd_slice_admit_new(struct vsd *d, const char *slice, const char *vps, const vs_limits_t *l,
                        vs_error_t *err);
/* Admission per slice: what the running VPS of v's slice but v reserve,
 * with l's reservation, within the slice's cpu_reserve and ram_reserve. */
int vsd_slice_admit(struct vsd *d, const struct vps *v, const vs_limits_t *l, vs_error_t *err);

/* Loans: the loans file is var/lib/paene/slices/.loans (a name no slice
 * can have), "ID = FROM TO LIMIT AMOUNT UNTIL" (AMOUNT in the limit's
 * unit, UNTIL in seconds since the epoch, 0: until revoked) and "next = ID". */
#define VSD_LOANS_FILE ".loans"
#define VSD_LOANS_MAX 256

/* A loan's limit beyond the cgroup limits: the slice's rate_out (a cap of
 * its VPS's own, not a cgroup's) */
#define VSD_LOAN_RATE_OUT VS_LIM_COUNT

struct vsd_loan {
        long long id;
        char from[64], to[64];
        vs_limit_t what; /* VS_LIM_CPUUNITS, VS_LIM_RAM or VSD_LOAN_RATE_OUT */
        uint64_t amount;
        long long until; /* 0: until revoked */
};

/* The loans file's loans, into out (at most VSD_LOANS_MAX); the file
 * itself in kv when kv is not NULL (for a change). A missing file has none. */
int vsd_slice_loans_load(struct vsd *d, vs_kv_t *kv, struct vsd_loan *out, size_t *n,
                         vs_error_t *err);
int vsd_loan_in_force(const struct vsd_loan *l, long long now);
/* The loans file's name of a loan's limit ("cpuunits", "ram", "rate_out"),
 * and vsctl's option of it ("rate-out"). */
const char *vsd_loan_key(vs_limit_t what);
const char *vsd_loan_option(vs_limit_t what);
/* The value of r's limit `what` (NULL: r has none), and after a change of
 * it its text too. */
uint64_t *vsd_loan_value(struct vsd_slice_rules *r, vs_limit_t what);
void vsd_loan_value_changed(struct vsd_slice_rules *r, vs_limit_t what);
/* The loans in force to and from r's slice, added to
 * and taken from its cpuunits, ram and rate_out. */
void vsd_slice_loans_adjust(struct vsd *d, struct vsd_slice_rules *r);
/* Whether a loan in force names the slice. */
int vsd_slice_has_loans(struct vsd *d, const char *slice);
/* sliceloan.c: vsd's tick: the loans whose end has come end, their slices' cgroups are
 * written again. */
void vsd_slice_tick(struct vsd *d);

#endif
