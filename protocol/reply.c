/* The JSON of what vsd tells its clients (vs/reply.h): the daemon's
 * modules fill plain structs, this file alone turns them into objects. */
#include <stdlib.h>
#include <string.h>

#include "vs/protocol.h"
#include "vs/reply.h"

#define VS_VPS_FIELD_NAME(e, name, type) name,
static const char *const vps_field_names[] = { VS_VPS_FIELDS(VS_VPS_FIELD_NAME) };
#undef VS_VPS_FIELD_NAME
#define VS_VPS_FIELD_TYPE(e, name, type) VS_VF_TYPE_##type,
static const vs_vps_field_type_t vps_field_types[] = { VS_VPS_FIELDS(VS_VPS_FIELD_TYPE) };
#undef VS_VPS_FIELD_TYPE

int vs_vps_field_find(const char *name)
{
        for (int i = 0; i < VS_VF_COUNT; i++)
                if (strcmp(vps_field_names[i], name) == 0)
                        return i;
        return -1;
}

const char *vs_vps_field_name(vs_vps_field_t field)
{
        return (unsigned)field < VS_VF_COUNT ? vps_field_names[field] : NULL;
}

vs_vps_field_type_t vs_vps_field_type(vs_vps_field_t field)
{
        return (unsigned)field < VS_VF_COUNT ? vps_field_types[field] : VS_VF_TYPE_INT;
}

void vs_vps_info_text(vs_vps_info_t *info, vs_vps_field_t field, const char *value)
{
        info->text[field] = value;
        info->has |= (vs_vps_fields_t)1 << field;
}

void vs_vps_info_int(vs_vps_info_t *info, vs_vps_field_t field, long long value)
{
        info->num[field] = value;
        info->has |= (vs_vps_fields_t)1 << field;
}

/* The order of the members in the object: the one vsd has always sent. */
static const vs_vps_field_t vps_field_order[] = {
        VS_VF_NAME,          VS_VF_STATE,          VS_VF_PID,          VS_VF_NPROC,
        VS_VF_HOSTNAME,      VS_VF_TEMPLATE,       VS_VF_IP,           VS_VF_RATE_OUT,
        VS_VF_RATE_IN,       VS_VF_PORT_FORWARD,   VS_VF_RX_BYTES,     VS_VF_TX_BYTES,
        VS_VF_RX_PACKETS,    VS_VF_TX_PACKETS,     VS_VF_SLICE,        VS_VF_ONBOOT,
        VS_VF_BOOTORDER,     VS_VF_UPTIME,         VS_VF_DISK_BACKEND, VS_VF_DISK,
        VS_VF_DISKLIMIT,     VS_VF_INODES,         VS_VF_INODELIMIT,   VS_VF_EXIT,
        VS_VF_OOM_KILLS,     VS_VF_CPU_USEC,       VS_VF_CPU_PCT,      VS_VF_THROTTLED_USEC,
        VS_VF_NR_THROTTLED,  VS_VF_MEM_BYTES,      VS_VF_MEM_PEAK,     VS_VF_SWAP_BYTES,
        VS_VF_IO_READ_BYTES, VS_VF_IO_WRITE_BYTES, VS_VF_IO_READ_OPS,  VS_VF_IO_WRITE_OPS,
        VS_VF_FAILCNT,       VS_VF_EXIT_CODE,      VS_VF_EXIT_SIGNAL,  VS_VF_STOP,
        VS_VF_TIMESLICE,
};
_Static_assert(sizeof(vps_field_order) / sizeof(vps_field_order[0]) == VS_VF_COUNT,
               "every field of a VPS's description has its place in the object");

static json_object *vps_field_value(const vs_vps_info_t *info, vs_vps_field_t field)
{
        json_object *array;

        switch (vps_field_types[field]) {
        case VS_VF_TYPE_TEXT:
                return json_object_new_string(info->text[field] ? info->text[field] : "");
        case VS_VF_TYPE_TEXTS:
                array = json_object_new_array();
                for (size_t i = 0; i < info->nforwards && i < VS_PORTFWD_MAX; i++)
                        json_object_array_add(array, json_object_new_string(info->forwards[i]));
                return array;
        case VS_VF_TYPE_INT:
                break;
        }
        return json_object_new_int64(info->num[field]);
}

json_object *vs_reply_vps(const vs_vps_info_t *info)
{
        json_object *obj = json_object_new_object();

        for (size_t i = 0; i < VS_VF_COUNT; i++) {
                vs_vps_field_t field = vps_field_order[i];

                if (info->has & ((vs_vps_fields_t)1 << field))
                        json_object_object_add(obj, vs_vps_field_name(field),
                                               vps_field_value(info, field));
        }
        return obj;
}

static vs_event_member_t *event_member(vs_event_t *ev, const char *key, vs_event_kind_t kind)
{
        vs_event_member_t *m;

        if (ev->n >= VS_EVENT_MEMBERS_MAX)
                abort(); /* the caller's bug: VS_EVENT_MEMBERS_MAX is too small */
        m = &ev->member[ev->n++];
        memset(m, 0, sizeof(*m));
        m->key = key;
        m->kind = kind;
        return m;
}

void vs_event_text(vs_event_t *ev, const char *key, const char *text)
{
        event_member(ev, key, VS_EV_TEXT)->text = text;
}

void vs_event_int(vs_event_t *ev, const char *key, long long num)
{
        event_member(ev, key, VS_EV_INT)->num = num;
}

void vs_event_bool(vs_event_t *ev, const char *key, int yes)
{
        event_member(ev, key, VS_EV_BOOL)->num = yes != 0;
}

void vs_event_texts(vs_event_t *ev, const char *key, const vs_kv_t *map)
{
        event_member(ev, key, VS_EV_TEXTS)->map = map;
}

static json_object *texts_object(const vs_kv_t *map)
{
        json_object *obj = json_object_new_object();

        for (size_t i = 0; map && i < map->count; i++)
                if (map->lines[i].key)
                        json_object_object_add(obj, map->lines[i].key,
                                               json_object_new_string(map->lines[i].value));
        return obj;
}

static json_object *event_value(const vs_event_member_t *m)
{
        switch (m->kind) {
        case VS_EV_TEXT:
                return json_object_new_string(m->text ? m->text : "");
        case VS_EV_BOOL:
                return json_object_new_boolean(m->num != 0);
        case VS_EV_TEXTS:
                return texts_object(m->map);
        case VS_EV_INT:
                break;
        }
        return json_object_new_int64(m->num);
}

json_object *vs_reply_event(const vs_event_t *ev, double time)
{
        json_object *event = json_object_new_object();
        json_object *msg = vs_reply_ok();

        for (size_t i = 0; i < ev->n && i < VS_EVENT_MEMBERS_MAX; i++)
                json_object_object_add(event, ev->member[i].key, event_value(&ev->member[i]));
        json_object_object_add(event, "time", json_object_new_double(time));
        json_object_object_add(event, "type", json_object_new_string(ev->type));
        json_object_object_add(event, "vps", json_object_new_string(ev->vps));
        json_object_object_add(msg, "event", event);
        return msg;
}
