/* The requests of a slice's expiry and byte budget: slice renew (admins,
 * by authz.c's table) and slice usage (admins, and the owners of the
 * slice: another slice is answered as one that does not exist, so that an
 * owner learns no other slice's name). */
#include <errno.h>

#include "vs/cleanup.h"
#include "authz.h"
#include "serve.h"
#include "slice.h"
#include "slicetime.h"

static int reply_time(struct vsd *d, struct client *c, const char *slice, vs_error_t *err)
{
        vs_slice_time_t t;

        if (vsd_slice_time_describe(d, slice, &t, err) < 0)
                return -1;
        vsd_client_reply(d, c, vs_reply_slice_time(&t), NULL, 0);
        return 0;
}

int vsd_handle_slice_renew(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        const char *slice = vs_req_str(req, "slice");

        if (vsd_slice_renew(d, slice, vs_req_str(req, "expires"), err) < 0)
                return -1;
        return reply_time(d, c, slice, err);
}

int vsd_handle_slice_usage(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        const char *slice = vs_req_str(req, "slice");

        if (c->role != VSD_ROLE_ADMIN && !vsd_slice_has_owner(vsd_slice_find(d, slice), c->uid))
                return vs_error_kind(err, VS_E_NOTFOUND, ENOENT, "no such slice '%s'", slice);
        return reply_time(d, c, slice, err);
}
