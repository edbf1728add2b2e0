/* Unit tests for protocol/reply.c: the JSON that vsd builds of the plain
 * structs of vs/reply.h. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vs/kvfile.h"
#include "vs/protocol.h"
#include "vs/reply.h"

static json_object *member(json_object *obj, const char *key)
{
        json_object *value = NULL;

        if (!json_object_object_get_ex(obj, key, &value))
                return NULL;
        return value;
}

/* Every field filled: each member has the field's name and JSON type. */
static void test_vps_object_every_field_with_its_type(void **state)
{
        vs_vps_info_t info;
        json_object *obj;

        (void)state;
        memset(&info, 0, sizeof(info));
        for (int f = 0; f < VS_VF_COUNT; f++) {
                if (vs_vps_field_type(f) == VS_VF_TYPE_TEXT)
                        vs_vps_info_text(&info, f, vs_vps_field_name(f));
                else if (vs_vps_field_type(f) == VS_VF_TYPE_INT)
                        vs_vps_info_int(&info, f, 1000 + f);
        }
        snprintf(info.forwards[0], sizeof(info.forwards[0]), "8080:80/tcp");
        snprintf(info.forwards[1], sizeof(info.forwards[1]), "5353:53/udp");
        info.nforwards = 2;
        info.has |= VS_VF_BIT(PORT_FORWARD);
        assert_int_equal(info.has, VS_VF_ALL);

        obj = vs_reply_vps(&info);
        assert_non_null(obj);
        assert_int_equal(json_object_object_length(obj), VS_VF_COUNT);
        for (int f = 0; f < VS_VF_COUNT; f++) {
                json_object *value = member(obj, vs_vps_field_name(f));

                assert_non_null(value);
                switch (vs_vps_field_type(f)) {
                case VS_VF_TYPE_TEXT:
                        assert_true(json_object_is_type(value, json_type_string));
                        assert_string_equal(json_object_get_string(value), vs_vps_field_name(f));
                        break;
                case VS_VF_TYPE_INT:
                        assert_true(json_object_is_type(value, json_type_int));
                        assert_int_equal(json_object_get_int64(value), 1000 + f);
                        break;
                case VS_VF_TYPE_TEXTS:
                        assert_true(json_object_is_type(value, json_type_array));
                        assert_int_equal(json_object_array_length(value), 2);
                        assert_string_equal(
                                json_object_get_string(json_object_array_get_idx(value, 0)),
                                "8080:80/tcp");
                        assert_string_equal(
                                json_object_get_string(json_object_array_get_idx(value, 1)),
                                "5353:53/udp");
                        break;
                }
        }
        json_object_put(obj);
}

/* What clients read by type: names and states are strings, figures
 * integers (vsctl and the tests read them with vs_json_int), the forwards
 * an array. */
static void test_vps_field_types(void **state)
{
        (void)state;
        assert_int_equal(vs_vps_field_type(VS_VF_NAME), VS_VF_TYPE_TEXT);
        assert_int_equal(vs_vps_field_type(VS_VF_STATE), VS_VF_TYPE_TEXT);
        assert_int_equal(vs_vps_field_type(VS_VF_IP), VS_VF_TYPE_TEXT);
        assert_int_equal(vs_vps_field_type(VS_VF_ONBOOT), VS_VF_TYPE_TEXT);
        assert_int_equal(vs_vps_field_type(VS_VF_DISK_BACKEND), VS_VF_TYPE_TEXT);
        assert_int_equal(vs_vps_field_type(VS_VF_PID), VS_VF_TYPE_INT);
        assert_int_equal(vs_vps_field_type(VS_VF_MEM_BYTES), VS_VF_TYPE_INT);
        assert_int_equal(vs_vps_field_type(VS_VF_BOOTORDER), VS_VF_TYPE_INT);
        assert_int_equal(vs_vps_field_type(VS_VF_PORT_FORWARD), VS_VF_TYPE_TEXTS);
        assert_int_equal(vs_vps_field_find("mem_bytes"), VS_VF_MEM_BYTES);
        assert_int_equal(vs_vps_field_find("no_such_field"), -1);
        assert_null(vs_vps_field_name(VS_VF_COUNT));
}

/* Only the fields in `has` are sent, whatever else the struct holds; a
 * text left NULL is sent as "". */
static void test_vps_object_only_what_it_has(void **state)
{
        vs_vps_info_t info;
        json_object *obj;

        (void)state;
        memset(&info, 0, sizeof(info));
        info.num[VS_VF_MEM_BYTES] = 5; /* not marked: not sent */
        vs_vps_info_text(&info, VS_VF_NAME, "web1");
        vs_vps_info_int(&info, VS_VF_PID, 0);
        vs_vps_info_text(&info, VS_VF_TEMPLATE, NULL);

        obj = vs_reply_vps(&info);
        assert_int_equal(json_object_object_length(obj), 3);
        assert_string_equal(json_object_get_string(member(obj, "name")), "web1");
        assert_true(json_object_is_type(member(obj, "pid"), json_type_int));
        assert_int_equal(json_object_get_int64(member(obj, "pid")), 0);
        assert_string_equal(json_object_get_string(member(obj, "template")), "");
        assert_null(member(obj, "mem_bytes"));
        assert_null(member(obj, "port_forward"));
        json_object_put(obj);
}

/* Figures above 2^31 (bytes, microseconds) survive whole. */
static void test_vps_object_large_figures(void **state)
{
        vs_vps_info_t info;
        json_object *obj;

        (void)state;
        memset(&info, 0, sizeof(info));
        vs_vps_info_int(&info, VS_VF_DISKLIMIT, 5LL << 40);
        obj = vs_reply_vps(&info);
        assert_int_equal(json_object_get_int64(member(obj, "disklimit")), 5LL << 40);
        json_object_put(obj);
}

/* The members come in the order vsd has always sent: name first, then
 * state, ..., exit_signal last. */
static void test_vps_object_member_order(void **state)
{
        vs_vps_info_t info;
        json_object *obj;
        const char *first = NULL, *second = NULL, *last = NULL;

        (void)state;
        memset(&info, 0, sizeof(info));
        for (int f = 0; f < VS_VF_COUNT; f++)
                if (vs_vps_field_type(f) != VS_VF_TYPE_TEXTS)
                        vs_vps_info_int(&info, f, 0);
        obj = vs_reply_vps(&info);
        json_object_object_foreach(obj, key, value)
        {
                (void)value;
                if (!first)
                        first = key;
                else if (!second)
                        second = key;
                last = key;
        }
        assert_string_equal(first, "name");
        assert_string_equal(second, "state");
        assert_string_equal(last, "timeslice"); /* new members come last */
        json_object_put(obj);
}

/* An event message: {"version","ok","event":{members..., "time", "type",
 * "vps"}}, each member with its JSON type, in the order given. */
static void test_event_message(void **state)
{
        vs_event_t ev = { .type = "limit-changed", .vps = "web1" };
        cleanup_kv vs_kv_t given = { 0 };
        json_object *msg, *event, *limits;
        const char *order[8];
        size_t n = 0;

        (void)state;
        vs_kv_set(&given, "cpulimit", "50%");
        vs_kv_set(&given, "rate_out", "10mbit");
        vs_event_texts(&ev, "limits", &given);
        vs_event_bool(&ev, "saved", 1);
        vs_event_bool(&ev, "live", 0);
        vs_event_int(&ev, "exit_code", 3);
        vs_event_text(&ev, "error", "no");
        msg = vs_reply_event(&ev, 1700000000.5);
        assert_int_equal(vs_json_int(msg, "version", 0), VS_PROTOCOL_VERSION);
        assert_true(vs_json_bool(msg, "ok"));
        event = vs_json_object(msg, "event");
        assert_non_null(event);
        json_object_object_foreach(event, key, value)
        {
                (void)value;
                assert_true(n < 8);
                order[n++] = key;
        }
        assert_int_equal(n, 8);
        assert_string_equal(order[0], "limits");
        assert_string_equal(order[4], "error");
        assert_string_equal(order[5], "time");
        assert_string_equal(order[6], "type");
        assert_string_equal(order[7], "vps");
        limits = vs_json_object(event, "limits");
        assert_non_null(limits);
        assert_int_equal(json_object_object_length(limits), 2);
        assert_string_equal(vs_json_str(limits, "cpulimit"), "50%");
        assert_string_equal(vs_json_str(limits, "rate_out"), "10mbit");
        assert_true(json_object_is_type(member(event, "saved"), json_type_boolean));
        assert_true(vs_json_bool(event, "saved"));
        assert_true(json_object_is_type(member(event, "live"), json_type_boolean));
        assert_false(vs_json_bool(event, "live"));
        assert_true(json_object_is_type(member(event, "exit_code"), json_type_int));
        assert_int_equal(vs_json_int(event, "exit_code", 0), 3);
        assert_string_equal(vs_json_str(event, "error"), "no");
        assert_true(json_object_is_type(member(event, "time"), json_type_double));
        assert_true(json_object_get_double(member(event, "time")) == 1700000000.5);
        assert_string_equal(vs_json_str(event, "type"), "limit-changed");
        assert_string_equal(vs_json_str(event, "vps"), "web1");
        json_object_put(msg);
}

/* An event without members (destroyed) has just time, type and vps. */
static void test_event_without_members(void **state)
{
        vs_event_t ev = { .type = "destroyed", .vps = "web1" };
        json_object *msg = vs_reply_event(&ev, 1.0);

        (void)state;
        assert_int_equal(json_object_object_length(vs_json_object(msg, "event")), 3);
        json_object_put(msg);
}

/* A member more than VS_EVENT_MEMBERS_MAX is the caller's bug: abort, not
 * an event cut short. */
static void test_event_too_many_members_aborts(void **state)
{
        int status = 0;
        pid_t pid;

        (void)state;
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                vs_event_t ev = { .type = "stopped", .vps = "web1" };

                for (int i = 0; i < VS_EVENT_MEMBERS_MAX; i++)
                        vs_event_int(&ev, "n", i);
                if (ev.n != VS_EVENT_MEMBERS_MAX)
                        _exit(2);
                vs_event_int(&ev, "one_more", 1);
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGABRT);
}

/* node: every figure an integer, fits only for a size asked about, the
 * policy named by the overbooking factor. */
static void test_node_reply(void **state)
{
        vs_node_report_t r = { .node = { { 4000000, 8ULL << 30 }, 150 },
                               .admissible = { 6000000, 12ULL << 30 },
                               .reserved = { 1000000, 1ULL << 30 },
                               .used_mem_bytes = 123,
                               .running = 2 };
        json_object *reply;

        (void)state;
        reply = vs_reply_node(&r);
        assert_true(vs_json_bool(reply, "ok"));
        assert_int_equal(vs_json_int(reply, "cpus_micro", 0), 4000000);
        assert_int_equal(vs_json_int(reply, "memory_bytes", 0), 8LL << 30);
        assert_int_equal(vs_json_int(reply, "overbook_pct", 0), 150);
        assert_int_equal(vs_json_int(reply, "admissible_memory_bytes", 0), 12LL << 30);
        assert_int_equal(vs_json_int(reply, "reserved_cpus_micro", 0), 1000000);
        assert_int_equal(vs_json_int(reply, "used_memory_bytes", 0), 123);
        assert_int_equal(vs_json_int(reply, "running", 0), 2);
        assert_null(member(reply, "fits"));
        assert_string_equal(vs_json_str(reply, "policy"), "overbook");
        json_object_put(reply);

        r.node.factor_pct = 100;
        r.has_fits = 1;
        r.fits = 0;
        reply = vs_reply_node(&r);
        assert_non_null(member(reply, "fits"));
        assert_int_equal(vs_json_int(reply, "fits", -1), 0);
        assert_string_equal(vs_json_str(reply, "policy"), "reserve");
        json_object_put(reply);
}

static void test_beancounters_reply(void **state)
{
        const vs_beancounter_t bc[2] = { { "numproc", 3, 9, 100, 100, 0 },
                                         { "physpages", 10, 20, VS_BC_UNLIMITED, VS_BC_UNLIMITED,
                                           4 } };
        json_object *reply = vs_reply_beancounters(1000, bc, 2), *list, *second;

        (void)state;
        assert_int_equal(vs_json_int(reply, "uid", 0), 1000);
        list = vs_json_array(reply, "beancounters");
        assert_non_null(list);
        assert_int_equal(json_object_array_length(list), 2);
        second = json_object_array_get_idx(list, 1);
        assert_string_equal(vs_json_str(second, "resource"), "physpages");
        assert_int_equal(vs_json_int(second, "held", 0), 10);
        assert_int_equal(vs_json_int(second, "maxheld", 0), 20);
        assert_int_equal(vs_json_int(second, "barrier", 0), (long long)VS_BC_UNLIMITED);
        assert_int_equal(vs_json_int(second, "failcnt", 0), 4);
        json_object_put(reply);
}

static void test_templates_reply(void **state)
{
        vs_template_info_t list[1] = { { .name = "busybox",
                                         .builder = "busybox",
                                         .created = 1700000000,
                                         .bytes = 5000,
                                         .shared_bytes = 1000 } };
        const int users[1] = { 3 };
        const vs_template_store_usage_t usage = { 4000, 1000 };
        json_object *reply = vs_reply_templates(list, users, 1, &usage), *t;

        (void)state;
        assert_int_equal(vs_json_int(reply, "store_bytes", 0), 4000);
        assert_int_equal(vs_json_int(reply, "saved_bytes", 0), 1000);
        t = json_object_array_get_idx(vs_json_array(reply, "templates"), 0);
        assert_string_equal(vs_json_str(t, "name"), "busybox");
        assert_string_equal(vs_json_str(t, "builder"), "busybox");
        assert_int_equal(vs_json_int(t, "created", 0), 1700000000);
        assert_int_equal(vs_json_int(t, "bytes", 0), 5000);
        assert_int_equal(vs_json_int(t, "shared_bytes", 0), 1000);
        assert_int_equal(vs_json_int(t, "vps", 0), 3);
        json_object_put(reply);
}

/* unify's saving is never negative: a store that grew saved nothing. */
static void test_unify_reply(void **state)
{
        vs_template_unify_t r = { 10, 4, 1, 9000, 6000 };
        json_object *reply = vs_reply_ok();

        (void)state;
        vs_reply_add_unify(reply, &r);
        assert_int_equal(vs_json_int(reply, "files", 0), 10);
        assert_int_equal(vs_json_int(reply, "linked", 0), 4);
        assert_int_equal(vs_json_int(reply, "errors", 0), 1);
        assert_int_equal(vs_json_int(reply, "bytes_saved", 0), 3000);
        json_object_put(reply);
        r.bytes_after = 9500;
        reply = vs_reply_ok();
        vs_reply_add_unify(reply, &r);
        assert_int_equal(vs_json_int(reply, "bytes_saved", -1), 0);
        json_object_put(reply);
}

static void test_ping_reply(void **state)
{
        json_object *reply = vs_reply_ping("/", "hybrid", 42, "admin");

        (void)state;
        assert_string_equal(vs_json_str(reply, "root"), "/");
        assert_string_equal(vs_json_str(reply, "cgroup"), "hybrid");
        assert_int_equal(vs_json_int(reply, "pid", 0), 42);
        json_object_put(reply);
}

/* status holds one VPS's object, list an array of them in the order added. */
static void test_status_and_list_replies(void **state)
{
        vs_vps_info_t a, b;
        json_object *reply, *array;

        (void)state;
        memset(&a, 0, sizeof(a));
        memset(&b, 0, sizeof(b));
        vs_vps_info_text(&a, VS_VF_NAME, "a1");
        vs_vps_info_text(&b, VS_VF_NAME, "b2");
        reply = vs_reply_status(&a);
        assert_true(vs_json_bool(reply, "ok"));
        assert_string_equal(vs_json_str(vs_json_object(reply, "vps"), "name"), "a1");
        json_object_put(reply);

        reply = vs_reply_list_new();
        array = vs_json_array(reply, "vps");
        assert_non_null(array);
        assert_int_equal(json_object_array_length(array), 0);
        vs_reply_list_add(reply, &a);
        vs_reply_list_add(reply, &b);
        assert_int_equal(json_object_array_length(array), 2);
        assert_string_equal(vs_json_str(json_object_array_get_idx(array, 1), "name"), "b2");
        json_object_put(reply);
}

/* The small replies: each its member with its type, on an ok reply (or
 * on the error, for an exec that did not start). */
static void test_small_replies(void **state)
{
        vs_error_t err = { 0 };
        json_object *reply;

        (void)state;
        reply = vs_reply_absent();
        assert_true(vs_json_bool(reply, "ok"));
        assert_true(json_object_is_type(member(reply, "absent"), json_type_boolean));
        assert_true(vs_json_bool(reply, "absent"));
        json_object_put(reply);

        reply = vs_reply_named("web2");
        assert_string_equal(vs_json_str(reply, "name"), "web2");
        json_object_put(reply);

        reply = vs_reply_text("a\nb", 3);
        assert_string_equal(vs_json_str(reply, "text"), "a\nb");
        json_object_put(reply);

        reply = vs_reply_started(4242);
        assert_int_equal(vs_json_int(reply, "pid", 0), 4242);
        vs_reply_add_exit(reply, 3);
        assert_int_equal(vs_json_int(reply, "exit", -1), 3);
        json_object_put(reply);

        reply = vs_reply_progress();
        assert_true(vs_json_bool(reply, "progress"));
        json_object_put(reply);

        vs_error_kind(&err, VS_E_NOTFOUND, ENOENT, "no such command");
        reply = vs_reply_error_exit(&err, 127);
        assert_false(vs_json_bool(reply, "ok"));
        assert_string_equal(vs_json_str(reply, "error"), "no such command");
        assert_int_equal(vs_json_int(reply, "errno", 0), ENOENT);
        assert_int_equal(vs_json_int(reply, "exit", 0), 127);
        json_object_put(reply);
}

/* A worker's reply read back from its text: an object, nothing else. */
static void test_reply_from_text(void **state)
{
        json_object *reply = vs_reply_from_text("{\"version\":1,\"ok\":true,\"files\":3}");

        (void)state;
        assert_non_null(reply);
        assert_true(vs_json_bool(reply, "ok"));
        assert_int_equal(vs_json_int(reply, "files", 0), 3);
        json_object_put(reply);
        assert_null(vs_reply_from_text("[1,2]"));
        assert_null(vs_reply_from_text("\"ok\""));
        assert_null(vs_reply_from_text("{\"ok\":"));
        assert_null(vs_reply_from_text(""));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_vps_object_every_field_with_its_type),
                cmocka_unit_test(test_vps_field_types),
                cmocka_unit_test(test_vps_object_only_what_it_has),
                cmocka_unit_test(test_vps_object_large_figures),
                cmocka_unit_test(test_vps_object_member_order),
                cmocka_unit_test(test_event_message),
                cmocka_unit_test(test_event_without_members),
                cmocka_unit_test(test_event_too_many_members_aborts),
                cmocka_unit_test(test_node_reply),
                cmocka_unit_test(test_beancounters_reply),
                cmocka_unit_test(test_templates_reply),
                cmocka_unit_test(test_unify_reply),
                cmocka_unit_test(test_ping_reply),
                cmocka_unit_test(test_status_and_list_replies),
                cmocka_unit_test(test_small_replies),
                cmocka_unit_test(test_reply_from_text),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
