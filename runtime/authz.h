/* vsd's one authorization point. A peer is an admin (root, group paene),
 * a slice owner (a user named in a slice's owners) or nobody, told so at
 * accept. Every request of an owner is held to one table before any
 * handler runs: per command, admins only, or the owner's own VPS (one of
 * another slice is answered exactly as one that does not exist), or a VPS
 * held to its slice's rules (template, limits, no privilege), or an answer
 * filtered to the owner's VPS (list, events, metrics). */
#ifndef VS_RUNTIME_AUTHZ_H
#define VS_RUNTIME_AUTHZ_H

#include <stddef.h>
#include <sys/types.h>

#include "vs/error.h"
#include "vs/kvfile.h"
#include "vs/limits.h"
#include "vs/protocol.h"
#include "slicefile.h"
#include "vsd.h"

struct vsd;
struct vps;
struct client;

/* What a command lets an owner do (admins may do everything). */
enum vsd_authz_rule {
        VSD_AUTHZ_ADMIN,     /* node-wide: refused to owners, exit 5 */
        VSD_AUTHZ_ANYONE,    /* ping */
        VSD_AUTHZ_FILTERED,  /* list, events, metrics: the owner's VPS only */
        VSD_AUTHZ_OWN_VPS,   /* the named VPS is in one of the owner's slices */
        VSD_AUTHZ_OWN_LIMIT, /* and what the request sets is held to its slice */
        VSD_AUTHZ_NEW_VPS,   /* create: in one of the owner's slices, held to it */
        VSD_AUTHZ_OWN_SLICE, /* slice status: one of the owner's slices, else "no such slice" */
};

enum vsd_authz_verdict {
        VSD_AUTHZ_ALLOW,
        VSD_AUTHZ_REFUSE, /* err says why (permission, or no such slice) */
        VSD_AUTHZ_HIDE,   /* answered as a VPS that does not exist */
};

/* The table's rule for a command; a command it does not list is ADMIN. */
enum vsd_authz_rule vsd_authz_rule_of(const char *cmd);

/* What the decision depends on, gathered by vsd_authz_request. */
struct vsd_authz_facts {
        enum vsd_role role;
        const char *cmd;
        int vps_visible; /* the named VPS exists and is in a slice of the peer's */
        int slice_owned; /* the named slice is one of the peer's */
};
/* The decision of the table alone (pure): REFUSE fills err. */
enum vsd_authz_verdict vsd_authz_decide(const struct vsd_authz_facts *f, vs_error_t *err);

/* Whether what an owner's create, set, resize or clone asks is within the
 * slice's rules (pure): -1 with a permission error naming what is not. */
int vsd_authz_within_slice(const struct vsd_slice_rules *r, const vs_request_t *req,
                           vs_error_t *err);

/* Before any handler: the verdict on c's request. */
enum vsd_authz_verdict vsd_authz_request(struct vsd *d, const struct client *c,
                                         const vs_request_t *req, vs_error_t *err);
/* The slice an owner's create goes to: args.slice, or the owner's only
 * slice (NULL for an admin without args.slice: the default). */
const char *vsd_authz_create_slice(struct vsd *d, const struct client *c, const vs_request_t *req,
                                   char *buf, size_t size);

#endif
