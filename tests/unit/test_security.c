/* Unit tests for sandbox/security.c: the capability words of a config
 * (vs_caps_parse, vs_caps_format), the default set, the shape of the
 * seccomp table, and, in forked children, what the compiled filter and the
 * bounding-set drop do to a real process. The file is included whole so
 * that its tables (static) can be checked against the lists here. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../sandbox/security.c"

#define BIT(cap) (1ULL << (cap))

/* What a VPS's root keeps by default, written out here independently of
 * the table in security.c: a change there must be a change here too. */
static const int expected_default[] = {
        CAP_CHOWN,           CAP_DAC_OVERRIDE,
        CAP_DAC_READ_SEARCH, CAP_FOWNER,
        CAP_FSETID,          CAP_KILL,
        CAP_SETGID,          CAP_SETUID,
        CAP_SETPCAP,         CAP_NET_BIND_SERVICE,
        CAP_NET_BROADCAST,   CAP_NET_ADMIN,
        CAP_NET_RAW,         CAP_IPC_LOCK,
        CAP_IPC_OWNER,       CAP_SYS_CHROOT,
        CAP_SYS_PTRACE,      CAP_SYS_ADMIN,
        CAP_SYS_BOOT,        CAP_LEASE,
        CAP_AUDIT_WRITE,     CAP_SETFCAP,
        CAP_MKNOD,
};

/* Never in the default set: each reaches the host around any namespace. */
static const int never_default[] = {
        CAP_SYS_MODULE,    CAP_SYS_RAWIO,  CAP_SYS_TIME,        CAP_SYS_PACCT,
        CAP_SYS_RESOURCE,  CAP_SYS_NICE,   CAP_SYS_TTY_CONFIG,  CAP_MAC_ADMIN,
        CAP_MAC_OVERRIDE,  CAP_SYSLOG,     CAP_WAKE_ALARM,      CAP_BLOCK_SUSPEND,
        CAP_AUDIT_CONTROL, CAP_AUDIT_READ, CAP_LINUX_IMMUTABLE,
};

static uint64_t default_keep(void)
{
        vs_caps_t caps;

        vs_caps_default(&caps);
        return caps.keep;
}

static void test_default_set_is_the_documented_one(void **state)
{
        uint64_t want = 0;

        (void)state;
        for (size_t i = 0; i < sizeof(expected_default) / sizeof(expected_default[0]); i++)
                want |= BIT(expected_default[i]);
        assert_int_equal(default_keep(), want);
        for (size_t i = 0; i < sizeof(never_default) / sizeof(never_default[0]); i++)
                if (default_keep() & BIT(never_default[i]))
                        fail_msg("capability %d is in the default set", never_default[i]);
}

static uint64_t parsed(const char *text)
{
        vs_caps_t caps;
        vs_error_t err = { 0 };

        vs_caps_default(&caps);
        if (vs_caps_parse(text, &caps, &err) < 0)
                fail_msg("'%s' refused: %s", text, err.msg);
        return caps.keep;
}

static void test_parse_on_and_off(void **state)
{
        (void)state;
        assert_int_equal(parsed(""), default_keep());
        assert_int_equal(parsed("net_raw:off"), default_keep() & ~BIT(CAP_NET_RAW));
        assert_int_equal(parsed("sys_nice:on"), default_keep() | BIT(CAP_SYS_NICE));
        assert_int_equal(parsed("net_raw:off sys_nice:on"),
                         (default_keep() & ~BIT(CAP_NET_RAW)) | BIT(CAP_SYS_NICE));
        /* the last word for a capability wins */
        assert_int_equal(parsed("net_raw:off net_raw:on"), default_keep());
        /* already in the state asked for: no change */
        assert_int_equal(parsed("chown:on sys_module:off"), default_keep());
}

static void test_parse_spellings(void **state)
{
        uint64_t want = default_keep() & ~BIT(CAP_NET_RAW) & ~BIT(CAP_MKNOD);

        (void)state;
        assert_int_equal(parsed("NET_RAW:off mknod:off"), want);
        assert_int_equal(parsed("cap_net_raw:off CAP_MKNOD:off"), want);
        assert_int_equal(parsed("net_raw:off,mknod:off"), want);
        assert_int_equal(parsed("\tnet_raw:off \t mknod:off "), want);
}

static void assert_parse_refused(const char *text, const char *needle)
{
        vs_caps_t caps;
        vs_error_t err = { 0 };

        vs_caps_default(&caps);
        assert_int_equal(vs_caps_parse(text, &caps, &err), -1);
        assert_int_equal(err.kind, VS_E_USAGE);
        if (!strstr(err.msg, needle))
                fail_msg("'%s': message '%s' lacks '%s'", text, err.msg, needle);
        if (strchr(err.msg, '\n'))
                fail_msg("'%s': message '%s' is more than one line", text, err.msg);
}

static void test_parse_refusals(void **state)
{
        (void)state;
        assert_parse_refused("net_raw", "expected NAME:on or NAME:off");
        assert_parse_refused("net_raw:", "expected NAME:on or NAME:off");
        assert_parse_refused("net_raw:yes", "'net_raw:yes'");
        assert_parse_refused("net_raw:ON", "expected NAME:on or NAME:off");
        assert_parse_refused(":off", "unknown capability ''");
        assert_parse_refused("no_such_cap:off", "unknown capability 'no_such_cap'");
        assert_parse_refused("net_raw:off bogus:on", "unknown capability 'bogus'");
        assert_parse_refused("cap_:on", "unknown capability");
}

static char *formatted(const char *text)
{
        vs_caps_t caps;
        vs_error_t err = { 0 };

        vs_caps_default(&caps);
        if (vs_caps_parse(text, &caps, &err) < 0)
                fail_msg("'%s' refused: %s", text, err.msg);
        return vs_caps_format(&caps);
}

static void assert_formats_as(const char *text, const char *want)
{
        char *got = formatted(text);

        assert_string_equal(got, want);
        free(got);
}

static void test_format_is_the_change_from_the_default(void **state)
{
        (void)state;
        assert_formats_as("", "");
        assert_formats_as("net_raw:off net_raw:on", "");
        /* in capability order, without the cap_ prefix, whatever the input */
        assert_formats_as("SYS_NICE:on cap_net_raw:off", "net_raw:off sys_nice:on");
        assert_formats_as("chown:off", "chown:off");
}

/* Every capability the kernel has, on and off, survives format + parse. */
static void test_format_parse_round_trip(void **state)
{
        (void)state;
        for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
                vs_caps_t caps, again;
                vs_error_t err = { 0 };
                char *text;

                vs_caps_default(&caps);
                caps.keep ^= BIT(cap);
                text = vs_caps_format(&caps);
                if (!*text || strchr(text, ' '))
                        fail_msg("capability %d toggled formats as '%s'", cap, text);
                vs_caps_default(&again);
                if (vs_caps_parse(text, &again, &err) < 0)
                        fail_msg("'%s' does not parse back: %s", text, err.msg);
                assert_int_equal(again.keep, caps.keep);
                free(text);
        }
}

/* ---- the seccomp table ---- */

#define NDENIED (sizeof(denied_syscalls) / sizeof(denied_syscalls[0]))

/* What must be denied whatever else changes (Docker's and LXC's profiles
 * deny them; each reaches the kernel or the host around any namespace). */
static const char *const must_deny[] = {
        "init_module",   "finit_module",    "delete_module",
        "kexec_load",    "kexec_file_load", "open_by_handle_at",
        "keyctl",        "add_key",         "request_key",
        "bpf",           "perf_event_open", "userfaultfd",
        "swapon",        "swapoff",         "acct",
        "iopl",          "ioperm",          "syslog",
        "settimeofday",  "clock_settime",   "clock_adjtime",
        "adjtimex",      "quotactl",        "kcmp",
        "fanotify_init",
};

/* Names of the table that are no system call on x86_64 (gone, or 32-bit
 * only): the table may keep them for other architectures. */
static const char *const not_on_x86_64[] = {
        "create_module", "get_kernel_syms", "query_module",   "nfsservctl", "vm86",
        "vm86old",       "stime",           "lookup_dcookie", "uselib",
};

static int listed(const char *const *list, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(list[i], name) == 0)
                        return 1;
        return 0;
}

static void test_seccomp_table_shape(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(must_deny) / sizeof(must_deny[0]); i++)
                if (!listed(denied_syscalls, NDENIED, must_deny[i]))
                        fail_msg("%s is not denied", must_deny[i]);
        for (size_t i = 0; i < NDENIED; i++) {
                const char *name = denied_syscalls[i];

                if (listed(denied_syscalls, i, name))
                        fail_msg("%s is listed twice", name);
                if (seccomp_syscall_resolve_name(name) == __NR_SCMP_ERROR &&
                    !listed(not_on_x86_64, sizeof(not_on_x86_64) / sizeof(not_on_x86_64[0]), name))
                        fail_msg("'%s' is no system call libseccomp knows", name);
        }
}

static void test_seccomp_extra_file(void **state)
{
        char path[] = "/tmp/paene-unit-deny-XXXXXX";
        vs_error_t err = { 0 };
        int fd = mkstemp(path);

        (void)state;
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "# a comment\n  getppid  # and one after\n\nno_such_call\n", 52),
                         52);
        close(fd);
        assert_int_equal(vs_security_init(path, &err), -1);
        assert_non_null(strstr(err.msg, "unknown system call 'no_such_call'"));
        unlink(path);
        /* a missing file is no error: it is optional */
        vs_error_clear(&err);
        assert_int_equal(vs_security_init("/nonexistent/paene-deny", &err), 0);
        assert_true(seccomp_prog.len > 0);
}

/* Runs fn in a child; its exit status (0: all well, else the failing
 * index + 1, 255 on a setup failure). */
static int in_child(int (*fn)(void))
{
        int status;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0)
                _exit(fn());
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        return WEXITSTATUS(status);
}

/* Every argument -1: on the host each of these fails on its arguments or
 * succeeds harmlessly; under the filter each fails with EPERM first. */
static long call_with_bad_args(int nr)
{
        return syscall(nr, -1L, -1L, -1L, -1L, -1L, -1L);
}

/* The native number, or -1 (libseccomp names another architecture's calls
 * with negative pseudo numbers). */
static int denied_nr(size_t i)
{
        int nr = seccomp_syscall_resolve_name(denied_syscalls[i]);

        return nr < 0 ? -1 : nr;
}

static int all_denied_give_eperm(void)
{
        vs_error_t err = { 0 };

        if (vs_security_init(NULL, &err) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
            install_seccomp(&err) < 0)
                return 255;
        for (size_t i = 0; i < NDENIED; i++) {
                int nr = denied_nr(i);

                if (nr < 0)
                        continue;
                errno = 0;
                if (call_with_bad_args(nr) != -1 || errno != EPERM) {
                        fprintf(stderr, "%s: not EPERM (errno %d)\n", denied_syscalls[i], errno);
                        return (int)(i % 250) + 1;
                }
        }
        /* the control: what is not denied still works */
        return getppid() > 0 && syscall(SYS_getpid) == getpid() ? 0 : 254;
}

static void test_seccomp_filter_denies_with_eperm(void **state)
{
        (void)state;
        assert_int_equal(in_child(all_denied_give_eperm), 0);
}

/* The control: without the filter, as root, no denied call gives EPERM
 * (else the test above would prove nothing for it). */
static int none_eperm_unfiltered(void)
{
        for (size_t i = 0; i < NDENIED; i++) {
                int nr = denied_nr(i);

                if (nr < 0)
                        continue;
                errno = 0;
                if (call_with_bad_args(nr) == -1 && errno == EPERM) {
                        fprintf(stderr, "%s: EPERM without the filter\n", denied_syscalls[i]);
                        return (int)(i % 250) + 1;
                }
        }
        return 0;
}

static void test_seccomp_control_without_the_filter(void **state)
{
        (void)state;
        if (geteuid() != 0)
                skip();
        assert_int_equal(in_child(none_eperm_unfiltered), 0);
}

static uint64_t cap_bound_of_self(void)
{
        char line[256];
        unsigned long long bound = 0;
        FILE *f = fopen("/proc/self/status", "r");

        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "CapBnd: %llx", &bound) == 1)
                        break;
        fclose(f);
        return bound;
}

/* After the drop the bounding set is exactly what was kept of what the
 * process had (a change from the default, net_raw:off, included). */
static int bounding_set_is_the_kept_one(void)
{
        vs_caps_t caps;
        vs_error_t err = { 0 };
        uint64_t before = cap_bound_of_self(), after;

        vs_caps_default(&caps);
        caps.keep &= ~BIT(CAP_NET_RAW);
        if (drop_bounding(&caps, &err) < 0)
                return 255;
        after = cap_bound_of_self();
        if (after != (before & caps.keep)) {
                fprintf(stderr, "CapBnd %016llx, expected %016llx\n", (unsigned long long)after,
                        (unsigned long long)(before & caps.keep));
                return 1;
        }
        return (after & BIT(CAP_SYS_ADMIN)) ? 0 : 2; /* control: kept ones stay */
}

static void test_bounding_set_drop(void **state)
{
        (void)state;
        if (geteuid() != 0 || !(cap_bound_of_self() & BIT(CAP_SYS_MODULE)))
                skip(); /* nothing to drop, or no CAP_SETPCAP to drop it */
        assert_int_equal(in_child(bounding_set_is_the_kept_one), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_default_set_is_the_documented_one),
                cmocka_unit_test(test_parse_on_and_off),
                cmocka_unit_test(test_parse_spellings),
                cmocka_unit_test(test_parse_refusals),
                cmocka_unit_test(test_format_is_the_change_from_the_default),
                cmocka_unit_test(test_format_parse_round_trip),
                cmocka_unit_test(test_seccomp_table_shape),
                cmocka_unit_test(test_seccomp_extra_file),
                cmocka_unit_test(test_seccomp_filter_denies_with_eperm),
                cmocka_unit_test(test_seccomp_control_without_the_filter),
                cmocka_unit_test(test_bounding_set_drop),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
