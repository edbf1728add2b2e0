/* Unit tests for include/vs/error.h: an error is one line of text that a
 * terminal shows as it is, whatever the input it quotes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vs/error.h"
#include "vs/parse.h"

static void assert_one_plain_line(const char *msg)
{
        for (const unsigned char *p = (const unsigned char *)msg; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        fail_msg("control byte 0x%02x in '%s'", *p, msg);
}

/* fuzz_parse found these: a value with an escape sequence or a vertical
 * tab came back in its own refusal, which a terminal then obeyed. */
static void test_quoted_control_bytes_are_replaced(void **state)
{
        vs_error_t err = { 0 };
        uint64_t bytes;

        (void)state;
        assert_int_equal(vs_parse_size("10\x1b[2J\vM", &bytes, &err), -1);
        assert_one_plain_line(err.msg);
        assert_non_null(strstr(err.msg, "size '10?[2J?M'"));
        vs_error_kind(&err, VS_E_USAGE, EINVAL, "a%sb", "\x7f\x01");
        assert_string_equal(err.msg, "a??b");
}

/* A line break or tab reads as a blank: the message stays one line. */
static void test_line_breaks_become_blanks(void **state)
{
        vs_error_t err = { 0 };

        (void)state;
        vs_error_set(&err, EINVAL, "first\nsecond\tthird\r");
        assert_string_equal(err.msg, "first second third ");
        vs_error_wrap(&err, "ctx\n%s", "x");
        assert_string_equal(err.msg, "ctx x: first second third ");
        errno = ENOENT;
        vs_error_errno(&err, "open\n%s", "f");
        assert_string_equal(err.msg, "open f: No such file or directory");
}

/* Each setter says its kind and errno, and returns -1; a NULL error is
 * left alone. */
static void test_each_setter_sets_kind_and_errno(void **state)
{
        vs_error_t err = { 0 };

        (void)state;
        assert_int_equal(vs_error_set(&err, ENOSPC, "full %d", 1), -1);
        assert_int_equal(err.kind, VS_E_INTERNAL);
        assert_int_equal(err.errnum, ENOSPC);
        assert_string_equal(err.msg, "full 1");
        assert_int_equal(vs_error_kind(&err, VS_E_STATE, EBUSY, "busy"), -1);
        assert_int_equal(err.kind, VS_E_STATE);
        assert_int_equal(err.errnum, EBUSY);
        errno = EACCES;
        assert_int_equal(vs_error_errno(&err, "open %s", "f"), -1);
        assert_int_equal(err.kind, VS_E_PERM);
        assert_int_equal(err.errnum, EACCES);
        assert_string_equal(err.msg, "open f: Permission denied");
        errno = ENOENT;
        vs_error_errno(&err, "open");
        assert_int_equal(err.kind, VS_E_INTERNAL);
        assert_int_equal(err.errnum, ENOENT);
        assert_int_equal(vs_error_set(NULL, EIO, "x"), -1);
        assert_int_equal(vs_error_kind(NULL, VS_E_USAGE, EIO, "x"), -1);
        assert_int_equal(vs_error_errno(NULL, "x"), -1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_quoted_control_bytes_are_replaced),
                cmocka_unit_test(test_line_breaks_become_blanks),
                cmocka_unit_test(test_each_setter_sets_kind_and_errno),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
