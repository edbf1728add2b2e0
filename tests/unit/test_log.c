/* Unit tests for common/log.c in the foreground: one line on stderr per
 * message, "IDENT: LEVEL: TEXT", the level named from the priority (with a
 * facility or without). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vs/log.h"

/* Runs vs_log with stderr on a temp file; returns what it wrote. */
static char *logged(int priority, const char *text)
{
        FILE *capture = tmpfile();
        static char out[512];
        int saved = dup(STDERR_FILENO);
        size_t n;

        assert_non_null(capture);
        assert_true(saved >= 0);
        fflush(stderr);
        assert_true(dup2(fileno(capture), STDERR_FILENO) >= 0);
        vs_log(priority, "%s (%d)", text, 42);
        fflush(stderr);
        assert_true(dup2(saved, STDERR_FILENO) >= 0);
        close(saved);
        rewind(capture);
        n = fread(out, 1, sizeof(out) - 1, capture);
        out[n] = '\0';
        fclose(capture);
        return out;
}

static void test_foreground_line(void **state)
{
        (void)state;
        vs_log_open("vsd-test", 1);
        assert_string_equal(logged(LOG_WARNING, "v1: not adopted"),
                            "vsd-test: warning: v1: not adopted (42)\n");
        assert_string_equal(logged(LOG_ERR, "x"), "vsd-test: error: x (42)\n");
}

static void test_every_level(void **state)
{
        static const char *const names[] = { "emerg",   "alert",  "crit", "error",
                                             "warning", "notice", "info", "debug" };
        char want[128];

        (void)state;
        vs_log_open("vsd", 1);
        for (int level = LOG_EMERG; level <= LOG_DEBUG; level++) {
                snprintf(want, sizeof(want), "vsd: %s: m (42)\n", names[level]);
                assert_string_equal(logged(level, "m"), want);
                /* a facility in the priority names the same level */
                assert_string_equal(logged(LOG_DAEMON | level, "m"), want);
        }
}

/* A percent sign in an argument is printed as given. */
static void test_text_is_not_a_format(void **state)
{
        (void)state;
        vs_log_open("vsd", 1);
        assert_string_equal(logged(LOG_INFO, "100% done"), "vsd: info: 100% done (42)\n");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_foreground_line),
                cmocka_unit_test(test_every_level),
                cmocka_unit_test(test_text_is_not_a_format),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
