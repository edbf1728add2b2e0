/* The slice commands (slicecmd.c), as handlers.c's table calls them: the
 * request is decoded and held to authz.c's table. */
#ifndef VS_RUNTIME_SLICECMD_H
#define VS_RUNTIME_SLICECMD_H

#include "vs/error.h"
#include "vs/protocol.h"

struct vsd;
struct client;

int vsd_handle_slice_create(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err);
int vsd_handle_slice_set(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err);
int vsd_handle_slice_destroy(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err);
int vsd_handle_slice_list(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err);
int vsd_handle_slice_status(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err);
/* sliceloan.c */
int vsd_handle_slice_loan(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err);
int vsd_handle_slice_loans(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err);
int vsd_handle_slice_revoke(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err);

#endif
