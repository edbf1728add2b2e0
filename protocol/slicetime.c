/* The JSON of a slice's expiry and byte budget (vs_slice_time_t): the reply
 * of slice usage and slice renew, and members slice status can add. */
#include "vs/protocol.h"

#define ADD_INT(obj, key, value) \
        json_object_object_add(obj, key, json_object_new_int64((int64_t)(value)))

void vs_reply_add_slice_time(json_object *obj, const vs_slice_time_t *t)
{
        ADD_INT(obj, "expires", t->expires);
        ADD_INT(obj, "left", t->expires ? t->left : 0);
        ADD_INT(obj, "used", t->used);
        ADD_INT(obj, "budget", t->budget);
        ADD_INT(obj, "window_start", t->window_start);
        ADD_INT(obj, "resets", t->resets);
        json_object_object_add(obj, "throttled", json_object_new_boolean(t->throttled));
        ADD_INT(obj, "throttle_rate", t->throttle_rate);
}

json_object *vs_reply_slice_time(const vs_slice_time_t *t)
{
        json_object *reply = vs_reply_ok(), *slice = json_object_new_object();

        json_object_object_add(slice, "name", json_object_new_string(t->name));
        vs_reply_add_slice_time(slice, t);
        json_object_object_add(reply, "slice", slice);
        return reply;
}
