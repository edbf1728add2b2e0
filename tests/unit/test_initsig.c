/* Unit tests for include/vs/initsig.h: which clean-stop request each kind
 * of init gets, told from its /proc/PID/exe. */
#include <signal.h>

#define TESTUTIL_NAME "initsig"
#include "testutil.h"

#include "vs/initsig.h"

static void test_kinds_of_exe(void **state)
{
        (void)state;
        assert_int_equal(vs_init_kind_of_exe("/usr/lib/systemd/systemd"), VS_INIT_SYSTEMD);
        assert_int_equal(vs_init_kind_of_exe("/lib/systemd/systemd"), VS_INIT_SYSTEMD);
        assert_int_equal(vs_init_kind_of_exe("/bin/busybox"), VS_INIT_BUSYBOX);
        assert_int_equal(vs_init_kind_of_exe("/sbin/init"), VS_INIT_SYSVINIT);
        assert_int_equal(vs_init_kind_of_exe("/memfd:vsinit (deleted)"), VS_INIT_VSINIT);
        assert_int_equal(vs_init_kind_of_exe("/payload"), VS_INIT_UNKNOWN);
        /* a name that only contains one of them is none of them */
        assert_int_equal(vs_init_kind_of_exe("/usr/bin/systemd-run"), VS_INIT_UNKNOWN);
        assert_int_equal(vs_init_kind_of_exe("/sbin/init.real"), VS_INIT_UNKNOWN);
}

static void test_stop_requests(void **state)
{
        (void)state;
        assert_int_equal(vs_init_stop_signal(VS_INIT_SYSTEMD), SIGRTMIN + 3);
        assert_int_equal(vs_init_stop_signal(VS_INIT_BUSYBOX), SIGUSR2);
        assert_int_equal(vs_init_stop_signal(VS_INIT_VSINIT), SIGPWR);
        /* sysvinit's SIGINT is Ctrl-Alt-Del (a reboot): a runlevel request */
        assert_int_equal(vs_init_stop_signal(VS_INIT_SYSVINIT), 0);
        assert_int_equal(vs_init_stop_signal(VS_INIT_UNKNOWN), SIGPWR);
        assert_string_equal(vs_init_kind_name(VS_INIT_SYSTEMD), "systemd");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_kinds_of_exe),
                cmocka_unit_test(test_stop_requests),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
