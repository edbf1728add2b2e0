/* The JSON of the replies about the node and the template store: ping,
 * node, beancounters, template list, template unify. The handlers gather
 * the figures from the subsystems; these make the objects vsctl reads. */
#include "vs/protocol.h"

#define ADD_INT(obj, key, value) \
        json_object_object_add(obj, key, json_object_new_int64((int64_t)(value)))

json_object *vs_reply_ping(const char *root, const char *cgroup_mode, long pid, const char *role)
{
        json_object *reply = vs_reply_ok();

        json_object_object_add(reply, "root", json_object_new_string(root));
        json_object_object_add(reply, "cgroup", json_object_new_string(cgroup_mode));
        json_object_object_add(reply, "pid", json_object_new_int((int)pid));
        json_object_object_add(reply, "role", json_object_new_string(role));
        return reply;
}

json_object *vs_reply_node(const vs_node_report_t *r)
{
        json_object *reply = vs_reply_ok();

        ADD_INT(reply, "cpus_micro", r->node.capacity.cpu_micro);
        ADD_INT(reply, "memory_bytes", r->node.capacity.mem_bytes);
        ADD_INT(reply, "overbook_pct", r->node.factor_pct);
        ADD_INT(reply, "admissible_cpus_micro", r->admissible.cpu_micro);
        ADD_INT(reply, "admissible_memory_bytes", r->admissible.mem_bytes);
        ADD_INT(reply, "reserved_cpus_micro", r->reserved.cpu_micro);
        ADD_INT(reply, "reserved_memory_bytes", r->reserved.mem_bytes);
        ADD_INT(reply, "used_memory_bytes", r->used_mem_bytes);
        ADD_INT(reply, "running", r->running);
        if (r->has_fits)
                ADD_INT(reply, "fits", r->fits);
        json_object_object_add(
                reply, "policy",
                json_object_new_string(r->node.factor_pct == 100 ? "reserve" : "overbook"));
        return reply;
}

json_object *vs_reply_beancounters(unsigned long uid, const vs_beancounter_t *bc, size_t n)
{
        json_object *reply = vs_reply_ok(), *list = json_object_new_array();

        for (size_t i = 0; i < n; i++) {
                json_object *r = json_object_new_object();

                json_object_object_add(r, "resource", json_object_new_string(bc[i].resource));
                ADD_INT(r, "held", bc[i].held);
                ADD_INT(r, "maxheld", bc[i].maxheld);
                ADD_INT(r, "barrier", bc[i].barrier);
                ADD_INT(r, "limit", bc[i].limit);
                ADD_INT(r, "failcnt", bc[i].failcnt);
                json_object_array_add(list, r);
        }
        ADD_INT(reply, "uid", uid);
        json_object_object_add(reply, "beancounters", list);
        return reply;
}

json_object *vs_reply_templates(const vs_template_info_t *list, const int *users, size_t n,
                                const vs_template_store_usage_t *usage)
{
        json_object *reply = vs_reply_ok(), *array = json_object_new_array();

        for (size_t i = 0; i < n; i++) {
                json_object *t = json_object_new_object();

                json_object_object_add(t, "name", json_object_new_string(list[i].name));
                json_object_object_add(t, "builder", json_object_new_string(list[i].builder));
                json_object_object_add(t, "created", json_object_new_int64(list[i].created));
                ADD_INT(t, "bytes", list[i].bytes);
                ADD_INT(t, "shared_bytes", list[i].shared_bytes);
                json_object_object_add(t, "vps", json_object_new_int(users[i]));
                json_object_array_add(array, t);
        }
        json_object_object_add(reply, "templates", array);
        ADD_INT(reply, "store_bytes", usage->bytes);
        ADD_INT(reply, "saved_bytes", usage->saved_bytes);
        return reply;
}

void vs_reply_add_unify(json_object *reply, const vs_template_unify_t *r)
{
        ADD_INT(reply, "files", r->files);
        ADD_INT(reply, "linked", r->linked);
        ADD_INT(reply, "errors", r->errors);
        ADD_INT(reply, "bytes_before", r->bytes_before);
        ADD_INT(reply, "bytes_after", r->bytes_after);
        ADD_INT(reply, "bytes_saved",
                r->bytes_before > r->bytes_after ? r->bytes_before - r->bytes_after : 0);
}

/* ---- the VPS's replies ---- */

json_object *vs_reply_status(const vs_vps_info_t *info)
{
        json_object *reply = vs_reply_ok();

        json_object_object_add(reply, "vps", vs_reply_vps(info));
        return reply;
}

json_object *vs_reply_list_new(void)
{
        json_object *reply = vs_reply_ok();

        json_object_object_add(reply, "vps", json_object_new_array());
        return reply;
}

void vs_reply_list_add(json_object *reply, const vs_vps_info_t *info)
{
        json_object_array_add(vs_json_array(reply, "vps"), vs_reply_vps(info));
}

json_object *vs_reply_absent(void)
{
        json_object *reply = vs_reply_ok();

        json_object_object_add(reply, "absent", json_object_new_boolean(1));
        return reply;
}

void vs_reply_add_name(json_object *reply, const char *name)
{
        json_object_object_add(reply, "name", json_object_new_string(name));
}

json_object *vs_reply_named(const char *name)
{
        json_object *reply = vs_reply_ok();

        vs_reply_add_name(reply, name);
        return reply;
}

json_object *vs_reply_text(const char *text, size_t len)
{
        json_object *reply = vs_reply_ok();

        json_object_object_add(reply, "text", json_object_new_string_len(text, (int)len));
        return reply;
}

/* ---- processes: exec, backup, a template build ---- */

json_object *vs_reply_started(long pid)
{
        json_object *reply = vs_reply_ok();

        json_object_object_add(reply, "pid", json_object_new_int((int)pid));
        return reply;
}

json_object *vs_reply_progress(void)
{
        json_object *reply = vs_reply_ok();

        json_object_object_add(reply, "progress", json_object_new_boolean(1));
        return reply;
}

json_object *vs_reply_error_exit(const vs_error_t *err, int status)
{
        json_object *reply = vs_reply_error(err);

        vs_reply_add_exit(reply, status);
        return reply;
}

void vs_reply_add_exit(json_object *reply, int status)
{
        json_object_object_add(reply, "exit", json_object_new_int(status));
}

json_object *vs_reply_from_text(const char *text)
{
        json_object *reply = json_tokener_parse(text);

        if (reply && json_object_is_type(reply, json_type_object))
                return reply;
        if (reply)
                json_object_put(reply);
        return NULL;
}

void vs_reply_add_snapshot_taken(json_object *reply, const char *snap, long long copy_ms,
                                 int frozen, long long frozen_ms)
{
        json_object_object_add(reply, "snapshot", json_object_new_string(snap));
        json_object_object_add(reply, "copy_ms", json_object_new_int64(copy_ms));
        json_object_object_add(reply, "frozen", json_object_new_boolean(frozen));
        json_object_object_add(reply, "frozen_ms", json_object_new_int64(frozen_ms));
}

json_object *vs_reply_snapshots(const vs_snapshot_info_t *snaps, size_t n)
{
        json_object *reply = vs_reply_ok();
        json_object *list = json_object_new_array();

        for (size_t i = 0; i < n; i++) {
                json_object *one = json_object_new_object();

                json_object_object_add(one, "name", json_object_new_string(snaps[i].name));
                json_object_object_add(one, "created", json_object_new_int64(snaps[i].created));
                json_object_object_add(one, "bytes",
                                       json_object_new_int64((int64_t)snaps[i].bytes));
                json_object_object_add(one, "live", json_object_new_boolean(snaps[i].live));
                json_object_object_add(one, "backend", json_object_new_string(snaps[i].backend));
                json_object_array_add(list, one);
        }
        json_object_object_add(reply, "snapshots", list);
        return reply;
}

/* A slice: its name, owners, the settings of its file as texts, its VPS
 * and, while its cgroup exists, what that accounts. */
static json_object *slice_json(const vs_slice_info_t *info)
{
        json_object *one = json_object_new_object();
        json_object *settings = json_object_new_object();

        json_object_object_add(one, "name", json_object_new_string(info->name));
        json_object_object_add(one, "owners", json_object_new_string(info->owner_names ?: ""));
        for (size_t i = 0; info->settings && i < info->settings->count; i++) {
                const vs_kv_line_t *line = &info->settings->lines[i];

                if (line->key)
                        json_object_object_add(settings, line->key,
                                               json_object_new_string(line->value));
        }
        json_object_object_add(one, "settings", settings);
        ADD_INT(one, "vps", info->nvps);
        ADD_INT(one, "running", info->running);
        json_object_object_add(one, "cgroup", json_object_new_string(info->cgroup ?: ""));
        if (info->has_usage) {
                ADD_INT(one, "cpu_usec", info->cpu_usec);
                ADD_INT(one, "mem_bytes", info->mem_bytes);
                ADD_INT(one, "nproc", info->nproc);
        }
        if (info->time)
                vs_reply_add_slice_time(one, info->time);
        return one;
}

json_object *vs_reply_slice(const vs_slice_info_t *info)
{
        json_object *reply = vs_reply_ok();

        json_object_object_add(reply, "slice", slice_json(info));
        return reply;
}

json_object *vs_reply_slice_list_new(void)
{
        json_object *reply = vs_reply_ok();

        json_object_object_add(reply, "slices", json_object_new_array());
        return reply;
}

void vs_reply_slice_list_add(json_object *reply, const vs_slice_info_t *info)
{
        json_object *list = vs_json_array(reply, "slices");

        if (list)
                json_object_array_add(list, slice_json(info));
}

json_object *vs_reply_loans(const vs_loan_info_t *loans, size_t n)
{
        json_object *reply = vs_reply_ok(), *list = json_object_new_array();

        for (size_t i = 0; i < n; i++) {
                json_object *one = json_object_new_object();

                ADD_INT(one, "id", loans[i].id);
                json_object_object_add(one, "from", json_object_new_string(loans[i].from));
                json_object_object_add(one, "to", json_object_new_string(loans[i].to));
                json_object_object_add(one, "what", json_object_new_string(loans[i].what));
                json_object_object_add(one, "amount", json_object_new_string(loans[i].amount));
                ADD_INT(one, "until", loans[i].until);
                json_object_array_add(list, one);
        }
        json_object_object_add(reply, "loans", list);
        return reply;
}
