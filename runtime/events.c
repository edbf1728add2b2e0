/* Events: what happens to the VPS, as it happens, to every client that
 * asked with `events` (vsctl events). Each event is one message on the
 * subscriber's connection: {"version", "ok", "event": {"time", "type",
 * "vps", ...}}. Types: created, started, start-failed (with the error),
 * stopped (with how it ended), limit-changed (with what was set) and
 * destroyed. A subscriber that does not read, whose socket is full, is
 * dropped rather than left to miss events silently. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "vs/log.h"
#include "vs/parse.h"
#include "serve.h"

static double now_seconds(void)
{
        struct timeval tv;

        gettimeofday(&tv, NULL);
        return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

void vsd_event(struct vsd *d, const vs_event_t *ev)
{
        json_object *msg = vs_reply_event(ev, now_seconds());
        struct client *c, *next;

        for (c = d->clients; c; c = next) {
                vs_error_t err = { 0 };

                next = c->next;
                if (c->wait != WAIT_EVENTS || c->fd < 0 || !vsd_authz_sees_name(d, c, ev->vps))
                        continue;
                if (vs_msg_send(c->fd, msg, NULL, 0, &err) < 0) {
                        vs_log(LOG_NOTICE, "events: dropped a subscriber: %s", err.msg);
                        c->wait = WAIT_NONE;
                        vsd_client_finish(d, c);
                }
        }
        json_object_put(msg);
}
