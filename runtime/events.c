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
#include "vsd.h"

static double now_seconds(void)
{
        struct timeval tv;

        gettimeofday(&tv, NULL);
        return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

void vsd_event(struct vsd *d, const char *type, const char *vps, json_object *extra)
{
        json_object *event = extra ? extra : json_object_new_object();
        json_object *msg;
        struct client *c, *next;

        json_object_object_add(event, "time", json_object_new_double(now_seconds()));
        json_object_object_add(event, "type", json_object_new_string(type));
        json_object_object_add(event, "vps", json_object_new_string(vps));
        msg = vs_reply_ok();
        json_object_object_add(msg, "event", event);
        for (c = d->clients; c; c = next) {
                vs_error_t err = { 0 };

                next = c->next;
                if (c->wait != WAIT_EVENTS || c->fd < 0 || !vsd_authz_sees_name(d, c, vps))
                        continue;
                if (vs_msg_send(c->fd, msg, NULL, 0, &err) < 0) {
                        vs_log(LOG_NOTICE, "events: dropped a subscriber: %s", err.msg);
                        c->wait = WAIT_NONE;
                        vsd_client_finish(d, c);
                }
        }
        json_object_put(msg);
}
