/* Unit tests for protocol/reply.c: the JSON that vsd builds of the plain
 * structs of vs/reply.h. */
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
        assert_string_equal(last, "exit_signal");
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
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
