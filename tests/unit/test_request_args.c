/* Unit tests for protocol/args.c: a decoded request's args as the plain C
 * the handlers take (words, a set of VPS fields, limits as lines), and a
 * reader of a field of another type or of no such field refused (abort). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vs/cleanup.h"
#include "vs/kvfile.h"
#include "vs/protocol.h"

#define REQ(cmd, name, args) \
        "{\"version\":1,\"cmd\":\"" cmd "\",\"name\":\"" name "\",\"args\":" args "}"
#define REQ0(cmd, args) "{\"version\":1,\"cmd\":\"" cmd "\",\"args\":" args "}"

static void decode(const char *text, vs_request_t *req)
{
        vs_error_t err = { 0 };

        if (vs_request_decode(text, strlen(text), req, &err) < 0)
                fail_msg("decode %s: %s", text, err.msg);
}

/* A list of words: a NULL-terminated copy in order, counted; absent: NULL. */
static void test_words(void **state)
{
        vs_request_t req;
        cleanup_strv char **words = NULL;
        cleanup_strv char **none = NULL;
        size_t n = 99, m = 99;

        (void)state;
        decode(REQ("create", "web1",
                   "{\"template\":\"busybox\",\"ipadd\":[\"10.77.0.5\",\"fd00::5\"]}"),
               &req);
        words = vs_req_words(&req, "ipadd", &n);
        assert_int_equal(n, 2);
        assert_non_null(words);
        assert_string_equal(words[0], "10.77.0.5");
        assert_string_equal(words[1], "fd00::5");
        assert_null(words[2]);
        none = vs_req_words(&req, "port_forward", &m);
        assert_null(none);
        assert_int_equal(m, 0);
        vs_request_free(&req);
}

/* Whether a field is given at all: a false boolean is given. */
static void test_has(void **state)
{
        vs_request_t req;

        (void)state;
        decode(REQ("set", "web1", "{\"onboot\":false}"), &req);
        assert_true(vs_req_has(&req, "onboot"));
        assert_false(vs_req_bool(&req, "onboot"));
        assert_false(vs_req_has(&req, "bootorder"));
        vs_request_free(&req);
}

/* list's fields as a set of VPS fields; absent: every one. */
static void test_fields(void **state)
{
        vs_request_t req;

        (void)state;
        decode(REQ0("list", "{\"fields\":[\"name\",\"mem_bytes\",\"port_forward\"]}"), &req);
        assert_int_equal(vs_req_fields(&req, "fields"),
                         VS_VF_BIT(NAME) | VS_VF_BIT(MEM_BYTES) | VS_VF_BIT(PORT_FORWARD));
        vs_request_free(&req);
        decode(REQ0("list", "{}"), &req);
        assert_int_equal(vs_req_fields(&req, "fields"), VS_VF_ALL);
        vs_request_free(&req);
}

/* The limits object as key = value lines, in the order given; absent:
 * empty. */
static void test_texts(void **state)
{
        vs_request_t req;
        cleanup_kv vs_kv_t given = { 0 };

        (void)state;
        decode(REQ("set", "web1", "{\"limits\":{\"ram\":\"256M\",\"cpulimit\":\"50%\"}}"), &req);
        vs_req_texts(&req, "limits", &given);
        assert_int_equal(given.count, 2);
        assert_string_equal(given.lines[0].key, "ram");
        assert_string_equal(given.lines[0].value, "256M");
        assert_string_equal(given.lines[1].key, "cpulimit");
        assert_string_equal(vs_kv_get(&given, "cpulimit"), "50%");
        vs_request_free(&req);
        vs_kv_free(&given);

        decode(REQ("set", "web1", "{\"hostname\":\"www\"}"), &req);
        vs_req_texts(&req, "limits", &given);
        assert_int_equal(given.count, 0);
        vs_request_free(&req);
}

/* Reading a field as a type the command's table does not give it is the
 * caller's bug: the reader aborts rather than read it as absent. */
static void expect_abort(const char *text, int which)
{
        int status = 0;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                vs_request_t req;
                vs_error_t err;
                cleanup_kv vs_kv_t kv = { 0 };

                if (freopen("/dev/null", "w", stderr) == NULL)
                        _exit(3);
                if (vs_request_decode(text, strlen(text), &req, &err) < 0)
                        _exit(2);
                if (which == 0)
                        (void)vs_req_words(&req, "hostname", NULL); /* a string */
                else if (which == 1)
                        (void)vs_req_fields(&req, "disk"); /* a boolean */
                else
                        vs_req_texts(&req, "ipadd", &kv); /* a list */
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void test_wrong_type_aborts(void **state)
{
        (void)state;
        expect_abort(REQ("set", "web1", "{\"hostname\":\"www\"}"), 0);
        expect_abort(REQ0("list", "{\"disk\":true}"), 1);
        expect_abort(REQ("set", "web1", "{\"ipadd\":[\"10.77.0.5\"]}"), 2);
}

/* vsd's read of a request: one decoded request, then a refused one with
 * its usage error for the peer, then the end of the stream. */
static void test_request_read(void **state)
{
        static const char good[] = REQ("start", "web1", "{}");
        static const char bad[] = REQ("start", "web1", "{\"force\":\"yes\"}");
        vs_error_t err = { 0 };
        vs_request_t req;
        int sv[2];

        (void)state;
        assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(send(sv[1], good, strlen(good), 0), (ssize_t)strlen(good));
        assert_int_equal(send(sv[1], bad, strlen(bad), 0), (ssize_t)strlen(bad));
        assert_int_equal(send(sv[1], "not json", 8, 0), 8);
        close(sv[1]);

        assert_int_equal(vs_request_read(sv[0], &req, &err), 1);
        assert_string_equal(req.cmd, "start");
        assert_string_equal(req.name, "web1");
        vs_request_free(&req);

        memset(&err, 0, sizeof(err));
        assert_int_equal(vs_request_read(sv[0], &req, &err), -1);
        assert_int_equal(err.kind, VS_E_USAGE);
        assert_non_null(strstr(err.msg, "force"));

        memset(&err, 0, sizeof(err));
        assert_int_equal(vs_request_read(sv[0], &req, &err), -1);
        assert_true(err.msg[0] != '\0');

        memset(&err, 0, sizeof(err));
        assert_int_equal(vs_request_read(sv[0], &req, &err), 0);
        close(sv[0]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_words),
                cmocka_unit_test(test_has),
                cmocka_unit_test(test_fields),
                cmocka_unit_test(test_texts),
                cmocka_unit_test(test_wrong_type_aborts),
                cmocka_unit_test(test_request_read),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
