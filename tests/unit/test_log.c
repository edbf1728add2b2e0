/* Unit tests for common/log.c in the foreground: one line on stderr per
 * message, "IDENT: LEVEL: TEXT", the level named from the priority (with a
 * facility or without); in the background without a syslog socket, no
 * connect per message. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <paths.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include <cmocka.h>

#include "vs/log.h"

/* stderr on a temp file, until captured() gives back stderr and the text */
struct capture {
        FILE *file;
        int saved;
};

static struct capture capture_stderr(void)
{
        struct capture c = { tmpfile(), dup(STDERR_FILENO) };

        assert_non_null(c.file);
        assert_true(c.saved >= 0);
        fflush(stderr);
        assert_true(dup2(fileno(c.file), STDERR_FILENO) >= 0);
        return c;
}

static char *captured(struct capture c)
{
        static char out[8192];
        size_t n;

        fflush(stderr);
        assert_true(dup2(c.saved, STDERR_FILENO) >= 0);
        close(c.saved);
        rewind(c.file);
        n = fread(out, 1, sizeof(out) - 1, c.file);
        out[n] = '\0';
        fclose(c.file);
        return out;
}

/* Runs vs_log with stderr on a temp file; returns what it wrote. */
static char *logged(int priority, const char *text)
{
        struct capture c = capture_stderr();

        vs_log(priority, "%s (%d)", text, 42);
        return captured(c);
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

/* A longer line is cut, and still ends. */
static void test_long_line_ends(void **state)
{
        char text[4000], *out;

        (void)state;
        memset(text, 'a', sizeof(text) - 1);
        text[sizeof(text) - 1] = '\0';
        vs_log_open("vsd", 1);
        out = logged(LOG_INFO, text);
        assert_true(strlen(out) > 100);
        assert_int_equal(out[strlen(out) - 1], '\n');
        assert_non_null(strstr(out, "vsd: info: aaa"));
}

/* %m is the errno of the caller. */
static void test_percent_m_is_the_callers_errno(void **state)
{
        struct capture c;

        (void)state;
        vs_log_open("vsd", 1);
        c = capture_stderr();
        errno = ENOENT;
        vs_log(LOG_ERR, "open: %m");
        assert_int_equal(errno, ENOENT);
        assert_string_equal(captured(c), "vsd: error: open: No such file or directory\n");
}

#ifdef __x86_64__
/* socket(2) calls of the process, trapped (seccomp) and refused */
static volatile sig_atomic_t sockets_tried;

static void on_sigsys(int sig, siginfo_t *info, void *ctx)
{
        ucontext_t *uc = ctx;

        (void)sig;
        (void)info;
        sockets_tried++;
        uc->uc_mcontext.gregs[REG_RAX] = -EACCES;
}

static int trap_socket_calls(void)
{
        struct sock_filter filter[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { sizeof(filter) / sizeof(filter[0]), filter };
        struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };

        if (sigaction(SIGSYS, &sa, NULL) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -1;
        return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}
#endif

/* Without a syslog socket (no /dev/log), 100 messages in the background
 * make no attempt each to connect (glibc's syslog would try for every
 * one: a socket, a connect and a close on vsd's reply path); at most the
 * one of openlog. */
static void test_no_syslog_socket_no_retry_per_message(void **state)
{
#ifdef __x86_64__
        pid_t pid;
        int status;

        (void)state;
        if (access(_PATH_LOG, F_OK) == 0)
                skip(); /* a syslog socket is there: not the case tested */
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (trap_socket_calls() < 0)
                        _exit(255);
                vs_log_open("vsd-test", 0);
                for (int i = 0; i < 100; i++)
                        vs_log(LOG_INFO, "line %d", i);
                _exit(sockets_tried > 100 ? 100 : (int)sockets_tried);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_not_equal(WEXITSTATUS(status), 255);
        assert_in_range(WEXITSTATUS(status), 0, 1);
#else
        (void)state;
        skip();
#endif
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_foreground_line),
                cmocka_unit_test(test_every_level),
                cmocka_unit_test(test_text_is_not_a_format),
                cmocka_unit_test(test_long_line_ends),
                cmocka_unit_test(test_percent_m_is_the_callers_errno),
                cmocka_unit_test(test_no_syslog_socket_no_retry_per_message),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
