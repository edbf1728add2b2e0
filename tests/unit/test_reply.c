/* Unit tests for protocol/reply.c: the JSON that vsd builds of the plain
 * structs of vs/reply.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

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

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_vps_object_every_field_with_its_type),
                cmocka_unit_test(test_vps_field_types),
                cmocka_unit_test(test_vps_object_only_what_it_has),
                cmocka_unit_test(test_vps_object_large_figures),
                cmocka_unit_test(test_vps_object_member_order),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
