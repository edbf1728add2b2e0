/* Unit tests for include/vs/protocol.h: request encoding and validation,
 * replies, and messages with fds over a SOCK_SEQPACKET socketpair. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vs/error.h"
#include "vs/protocol.h"

/* ---- requests ---- */

static void test_request_round_trip(void **state)
{
        json_object *args = json_object_new_object();
        json_object *msg, *field;
        vs_request_t req;
        const char *text;
        size_t len;
        vs_error_t err;

        (void)state;
        json_object_object_add(args, "memory", json_object_new_string("1G"));
        json_object_object_add(args, "force", json_object_new_boolean(1));
        json_object_object_add(args, "count", json_object_new_int(3));
        msg = vs_request_new("start", "web1", args);
        assert_non_null(msg);
        text = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN, &len);

        vs_error_clear(&err);
        if (vs_request_decode(text, len, &req, &err) != 0)
                fail_msg("decode '%s': %s", text, err.msg);
        assert_string_equal(req.cmd, "start");
        assert_string_equal(req.name, "web1");
        assert_non_null(req.root);
        assert_non_null(req.args);
        assert_true(json_object_is_type(req.args, json_type_object));
        assert_int_equal(json_object_object_length(req.args), 3);
        assert_string_equal(vs_json_str(req.args, "memory"), "1G");
        assert_true(vs_json_bool(req.args, "force"));
        assert_int_equal(vs_json_int(req.args, "count", -1), 3);
        assert_true(json_object_object_get_ex(req.root, "version", &field));
        assert_int_equal(json_object_get_int(field), VS_PROTOCOL_VERSION);
        vs_request_free(&req);
        assert_null(req.root);
        assert_null(req.args);
        json_object_put(msg);
}

static void test_request_without_name_or_args(void **state)
{
        json_object *msg = vs_request_new("list", NULL, NULL);
        const char *text;
        vs_request_t req;
        size_t len;
        vs_error_t err;

        (void)state;
        text = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN, &len);
        vs_error_clear(&err);
        assert_int_equal(vs_request_decode(text, len, &req, &err), 0);
        assert_string_equal(req.cmd, "list");
        assert_string_equal(req.name, "");
        assert_non_null(req.args);
        assert_int_equal(json_object_object_length(req.args), 0);
        vs_request_free(&req);
        json_object_put(msg);
}

static void test_request_decode_adds_missing_args(void **state)
{
        static const char text[] = "{\"version\":1,\"cmd\":\"list\"}";
        vs_request_t req;
        vs_error_t err;

        (void)state;
        vs_error_clear(&err);
        assert_int_equal(vs_request_decode(text, strlen(text), &req, &err), 0);
        assert_non_null(req.args);
        assert_true(json_object_is_type(req.args, json_type_object));
        assert_int_equal(json_object_object_length(req.args), 0);
        vs_request_free(&req);
}

static void test_request_decode_honours_len(void **state)
{
        static const char text[] = "{\"version\":1,\"cmd\":\"stop\",\"name\":\"db\"}GARBAGE";
        vs_request_t req;
        vs_error_t err;

        (void)state;
        vs_error_clear(&err);
        assert_int_equal(vs_request_decode(text, strlen(text) - strlen("GARBAGE"), &req, &err), 0);
        assert_string_equal(req.cmd, "stop");
        assert_string_equal(req.name, "db");
        vs_request_free(&req);
}

static void test_request_longest_fields(void **state)
{
        char text[256];
        char name[64], cmd[32];
        vs_request_t req;
        vs_error_t err;

        (void)state;
        memset(name, 'n', 63);
        name[63] = '\0';
        memset(cmd, 'c', 31);
        cmd[31] = '\0';
        snprintf(text, sizeof(text), "{\"version\":1,\"cmd\":\"%s\",\"name\":\"%s\"}", cmd, name);
        vs_error_clear(&err);
        if (vs_request_decode(text, strlen(text), &req, &err) != 0)
                fail_msg("decode: %s", err.msg);
        assert_string_equal(req.cmd, cmd);
        assert_string_equal(req.name, name);
        vs_request_free(&req);
}

/* Decoding `text` must fail as a usage/protocol error whose message contains
 * every one of the NULL-terminated needles, and must leave nothing to free. */
static void expect_malformed(const char *text, ...)
{
        vs_request_t req;
        const char *needle;
        vs_error_t err;
        va_list ap;

        vs_error_clear(&err);
        memset(&req, 0x5a, sizeof(req));
        if (vs_request_decode(text, strlen(text), &req, &err) == 0)
                fail_msg("decode accepted '%s'", text);
        assert_int_equal(err.kind, VS_E_USAGE);
        assert_int_equal(err.errnum, EPROTO);
        assert_true(err.msg[0] != '\0');
        va_start(ap, text);
        while ((needle = va_arg(ap, const char *)))
                if (!strstr(err.msg, needle))
                        fail_msg("'%s': message '%s' does not mention '%s'", text, err.msg, needle);
        va_end(ap);
        assert_null(req.root);
        assert_null(req.args);
        /* freeing a refused request is harmless */
        vs_request_free(&req);
}

static void test_request_not_json(void **state)
{
        (void)state;
        expect_malformed("hello", "not JSON", NULL);
        expect_malformed("", "not JSON", NULL);
        expect_malformed("{\"version\":1,\"cmd\":\"list\"", "not JSON", NULL);
        expect_malformed("{\"version\":1,\"cmd\":list}", "not JSON", NULL);
}

static void test_request_trailing_garbage(void **state)
{
        (void)state;
        expect_malformed("{\"version\":1,\"cmd\":\"list\"}x", "malformed", NULL);
        expect_malformed("{\"version\":1,\"cmd\":\"list\"}{\"version\":1,\"cmd\":\"list\"}",
                         "malformed", NULL);
}

static void test_request_not_an_object(void **state)
{
        (void)state;
        expect_malformed("[1,2,3]", "not a JSON object", NULL);
        expect_malformed("[{\"version\":1,\"cmd\":\"list\"}]", "not a JSON object", NULL);
        expect_malformed("\"list\"", "not a JSON object", NULL);
}

static void test_request_missing_version(void **state)
{
        (void)state;
        expect_malformed("{\"cmd\":\"list\"}", "version", NULL);
        expect_malformed("{\"version\":\"1\",\"cmd\":\"list\"}", "version", NULL);
        expect_malformed("{\"version\":null,\"cmd\":\"list\"}", "version", NULL);
}

static void test_request_wrong_version(void **state)
{
        (void)state;
        expect_malformed("{\"version\":2,\"cmd\":\"list\"}", "version 2", NULL);
        expect_malformed("{\"version\":0,\"cmd\":\"list\"}", "version 0", NULL);
        expect_malformed("{\"version\":-7,\"cmd\":\"list\"}", "version -7", NULL);
}

static void test_request_missing_cmd(void **state)
{
        (void)state;
        expect_malformed("{\"version\":1}", "'cmd'", NULL);
        expect_malformed("{\"version\":1,\"name\":\"web1\"}", "'cmd'", NULL);
}

static void test_request_cmd_not_string(void **state)
{
        (void)state;
        expect_malformed("{\"version\":1,\"cmd\":42}", "'cmd'", "not a string", NULL);
        expect_malformed("{\"version\":1,\"cmd\":null}", "'cmd'", "not a string", NULL);
        expect_malformed("{\"version\":1,\"cmd\":[\"start\"]}", "'cmd'", "not a string", NULL);
        expect_malformed("{\"version\":1,\"cmd\":\"start\",\"name\":7}", "'name'", "not a string",
                         NULL);
}

static void test_request_fields_too_long(void **state)
{
        char text[256];
        char name[65], cmd[33];

        (void)state;
        memset(name, 'n', 64);
        name[64] = '\0';
        snprintf(text, sizeof(text), "{\"version\":1,\"cmd\":\"start\",\"name\":\"%s\"}", name);
        expect_malformed(text, "'name'", "too long", NULL);
        memset(cmd, 'c', 32);
        cmd[32] = '\0';
        snprintf(text, sizeof(text), "{\"version\":1,\"cmd\":\"%s\"}", cmd);
        expect_malformed(text, "'cmd'", "too long", NULL);
}

static void test_request_args_not_object(void **state)
{
        (void)state;
        expect_malformed("{\"version\":1,\"cmd\":\"start\",\"args\":[1]}", "'args'",
                         "not an object", NULL);
        expect_malformed("{\"version\":1,\"cmd\":\"start\",\"args\":\"x\"}", "'args'", NULL);
        expect_malformed("{\"version\":1,\"cmd\":\"start\",\"args\":null}", "'args'", NULL);
        expect_malformed("{\"version\":1,\"cmd\":\"start\",\"args\":3}", "'args'", NULL);
}

/* ---- replies ---- */

/* Serializes and re-parses, as the reply would cross the socket. */
static json_object *through_text(json_object *obj)
{
        json_object *copy = json_tokener_parse(json_object_to_json_string(obj));

        assert_non_null(copy);
        json_object_put(obj);
        return copy;
}

static void test_reply_ok(void **state)
{
        json_object *reply = through_text(vs_reply_ok());
        vs_error_t err;

        (void)state;
        vs_error_clear(&err);
        assert_int_equal(vs_reply_check(reply, &err), 0);
        assert_int_equal(vs_json_int(reply, "version", -1), VS_PROTOCOL_VERSION);
        assert_true(vs_json_bool(reply, "ok"));
        json_object_put(reply);
}

static void test_reply_error_round_trip(void **state)
{
        static const struct {
                vs_error_kind_t kind;
                int errnum;
                const char *msg;
        } cases[] = {
                { VS_E_NOTFOUND, ENOENT, "no VPS named 'web1'" },
                { VS_E_USAGE, EINVAL, "size '1X' has an unknown unit 'X'" },
                { VS_E_STATE, EBUSY, "web1 is running" },
                { VS_E_PERM, EACCES, "start web1: mount rootfs: Permission denied" },
                { VS_E_DAEMON, EPROTO, "100% \"quoted\" \\ and\nnewline, caf\xc3\xa9" },
                { VS_E_INTERNAL, EIO, "overlay: %s %d %n" },
        };

        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                vs_error_t in, out;
                json_object *reply;

                vs_error_clear(&in);
                vs_error_kind(&in, cases[i].kind, cases[i].errnum, "%s", cases[i].msg);
                reply = through_text(vs_reply_error(&in));
                assert_false(vs_json_bool(reply, "ok"));
                vs_error_clear(&out);
                assert_int_equal(vs_reply_check(reply, &out), -1);
                assert_int_equal(out.kind, cases[i].kind);
                assert_int_equal(out.errnum, cases[i].errnum);
                assert_string_equal(out.msg, cases[i].msg);
                json_object_put(reply);
        }
}

static void test_reply_check_malformed(void **state)
{
        json_object *reply;
        vs_error_t err;

        (void)state;
        vs_error_clear(&err);
        assert_int_equal(vs_reply_check(NULL, &err), -1);
        assert_int_equal(err.kind, VS_E_DAEMON);
        assert_true(err.msg[0] != '\0');

        reply = json_tokener_parse("[true]");
        vs_error_clear(&err);
        assert_int_equal(vs_reply_check(reply, &err), -1);
        assert_int_equal(err.kind, VS_E_DAEMON);
        json_object_put(reply);

        reply = json_tokener_parse("{\"version\":2,\"ok\":true}");
        vs_error_clear(&err);
        assert_int_equal(vs_reply_check(reply, &err), -1);
        assert_int_equal(err.kind, VS_E_DAEMON);
        assert_int_equal(err.errnum, EPROTO);
        assert_non_null(strstr(err.msg, "2"));
        json_object_put(reply);

        reply = json_tokener_parse("{\"version\":1,\"ok\":false}");
        vs_error_clear(&err);
        assert_int_equal(vs_reply_check(reply, &err), -1);
        assert_true(err.msg[0] != '\0');
        json_object_put(reply);
}

/* ---- messages over a socket ---- */

struct sockpair {
        int fd[2];
};

static int sockpair_setup(void **state)
{
        struct sockpair *sp = calloc(1, sizeof(*sp));

        if (!sp)
                return -1;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp->fd) < 0) {
                free(sp);
                return -1;
        }
        *state = sp;
        return 0;
}

static int sockpair_teardown(void **state)
{
        struct sockpair *sp = *state;

        if (sp->fd[0] >= 0)
                close(sp->fd[0]);
        if (sp->fd[1] >= 0)
                close(sp->fd[1]);
        free(sp);
        return 0;
}

static int count_open_fds(void)
{
        DIR *dir = opendir("/proc/self/fd");
        struct dirent *ent;
        int n = 0;

        assert_non_null(dir);
        while ((ent = readdir(dir)))
                if (ent->d_name[0] != '.')
                        n++;
        closedir(dir);
        return n;
}

static void test_msg_send_recv(void **state)
{
        struct sockpair *sp = *state;
        json_object *sent = vs_request_new("start", "web1", NULL);
        json_object *got = NULL;
        int fds[VS_MSG_FDS_MAX];
        int nfds = -1;
        vs_error_t err;

        vs_error_clear(&err);
        assert_int_equal(vs_msg_send(sp->fd[0], sent, NULL, 0, &err), 0);
        assert_int_equal(vs_msg_recv(sp->fd[1], &got, fds, &nfds, &err), 0);
        assert_non_null(got);
        assert_int_equal(nfds, 0);
        assert_true(json_object_equal(sent, got));

        /* and back the other way, two messages kept apart */
        json_object_put(got);
        got = NULL;
        assert_int_equal(vs_msg_send(sp->fd[1], sent, NULL, 0, &err), 0);
        json_object_put(sent);
        sent = vs_reply_ok();
        assert_int_equal(vs_msg_send(sp->fd[1], sent, NULL, 0, &err), 0);
        assert_int_equal(vs_msg_recv(sp->fd[0], &got, NULL, NULL, &err), 0);
        assert_string_equal(vs_json_str(got, "cmd"), "start");
        json_object_put(got);
        got = NULL;
        assert_int_equal(vs_msg_recv(sp->fd[0], &got, NULL, NULL, &err), 0);
        assert_true(json_object_equal(sent, got));
        json_object_put(got);
        json_object_put(sent);
}

static void test_msg_passes_fds(void **state)
{
        struct sockpair *sp = *state;
        json_object *sent = vs_request_new("console", "web1", NULL);
        json_object *got = NULL;
        int pipefd[2], devnull, send_fds[2];
        int fds[VS_MSG_FDS_MAX] = { -1, -1, -1, -1 };
        int nfds = 0;
        struct stat a, b;
        char c = 0;
        vs_error_t err;

        assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
        devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        assert_true(devnull >= 0);
        send_fds[0] = devnull;
        send_fds[1] = pipefd[1];

        vs_error_clear(&err);
        assert_int_equal(vs_msg_send(sp->fd[0], sent, send_fds, 2, &err), 0);
        if (vs_msg_recv(sp->fd[1], &got, fds, &nfds, &err) != 0)
                fail_msg("recv: %s", err.msg);
        assert_non_null(got);
        assert_true(json_object_equal(sent, got));
        assert_int_equal(nfds, 2);
        for (int i = 0; i < 2; i++) {
                assert_true(fds[i] >= 0);
                assert_true(fds[i] != send_fds[0] && fds[i] != send_fds[1]);
                assert_int_equal(fstat(send_fds[i], &a), 0);
                assert_int_equal(fstat(fds[i], &b), 0);
                assert_true(a.st_dev == b.st_dev);
                assert_true(a.st_ino == b.st_ino);
                assert_true(fcntl(fds[i], F_GETFD) & FD_CLOEXEC);
        }
        /* the received write end feeds the original pipe */
        assert_int_equal(write(fds[1], "z", 1), 1);
        assert_int_equal(read(pipefd[0], &c, 1), 1);
        assert_int_equal(c, 'z');

        close(fds[0]);
        close(fds[1]);
        close(devnull);
        close(pipefd[0]);
        close(pipefd[1]);
        json_object_put(got);
        json_object_put(sent);
}

/* A receiver that does not ask for fds does not leak them. */
static void test_msg_unwanted_fds_closed(void **state)
{
        struct sockpair *sp = *state;
        json_object *sent = vs_reply_ok();
        json_object *got = NULL;
        int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        int send_fds[2] = { devnull, devnull };
        int before, nfds = -1;
        vs_error_t err;

        assert_true(devnull >= 0);
        before = count_open_fds();
        vs_error_clear(&err);
        assert_int_equal(vs_msg_send(sp->fd[0], sent, send_fds, 2, &err), 0);
        assert_int_equal(vs_msg_recv(sp->fd[1], &got, NULL, &nfds, &err), 0);
        assert_non_null(got);
        assert_int_equal(nfds, 0);
        assert_int_equal(count_open_fds(), before);
        close(devnull);
        json_object_put(got);
        json_object_put(sent);
}

static void test_msg_recv_end_of_stream(void **state)
{
        struct sockpair *sp = *state;
        /* a stale value that recv must overwrite with NULL */
        json_object *stale = json_object_new_object();
        json_object *got = stale;
        int fds[VS_MSG_FDS_MAX];
        int nfds = -1;
        vs_error_t err;

        close(sp->fd[0]);
        sp->fd[0] = -1;
        vs_error_clear(&err);
        assert_int_equal(vs_msg_recv(sp->fd[1], &got, fds, &nfds, &err), 0);
        assert_null(got);
        assert_int_equal(nfds, 0);
        json_object_put(stale);
}

static void test_msg_recv_not_json(void **state)
{
        struct sockpair *sp = *state;
        json_object *got = NULL;
        vs_error_t err;

        assert_int_equal(send(sp->fd[0], "hello", 5, 0), 5);
        vs_error_clear(&err);
        assert_true(vs_msg_recv(sp->fd[1], &got, NULL, NULL, &err) < 0);
        assert_null(got);
        assert_int_equal(err.errnum, EPROTO);
        assert_true(err.msg[0] != '\0');
}

static void test_msg_send_too_large(void **state)
{
        struct sockpair *sp = *state;
        size_t size = VS_MSG_MAX + 1;
        char *big = malloc(size + 1);
        json_object *msg;
        vs_error_t err;

        assert_non_null(big);
        memset(big, 'x', size);
        big[size] = '\0';
        /* a JSON string: the serialized form is larger still */
        msg = json_object_new_string(big);
        free(big);
        vs_error_clear(&err);
        assert_true(vs_msg_send(sp->fd[0], msg, NULL, 0, &err) < 0);
        assert_int_equal(err.errnum, EMSGSIZE);
        json_object_put(msg);
}

/* More than VS_MSG_FDS_MAX fds is refused, not copied past the control
 * buffer. Run in a child so that a stack overrun cannot take the whole test
 * program down. */
static void test_msg_send_too_many_fds_refused(void **state)
{
        struct sockpair *sp = *state;
        int status = 0;
        pid_t pid;

        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int fds[VS_MSG_FDS_MAX + 2];
                json_object *msg = vs_reply_ok();
                vs_error_t err;
                int rc;

                for (int i = 0; i < VS_MSG_FDS_MAX + 2; i++)
                        fds[i] = sp->fd[0];
                vs_error_clear(&err);
                rc = vs_msg_send(sp->fd[0], msg, fds, VS_MSG_FDS_MAX + 2, &err);
                json_object_put(msg);
                if (rc == 0)
                        _exit(1);
                /* a deliberate refusal, not a side effect of a corrupted
                 * msghdr (EFAULT) */
                _exit(err.errnum == EINVAL || err.errnum == E2BIG || err.errnum == EMSGSIZE ||
                                      err.errnum == ETOOMANYREFS
                              ? 0
                              : 2);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFSIGNALED(status))
                fail_msg("sending %d fds killed the process with signal %d", VS_MSG_FDS_MAX + 2,
                         WTERMSIG(status));
        if (WEXITSTATUS(status) == 1)
                fail_msg("sending %d fds was not refused", VS_MSG_FDS_MAX + 2);
        if (WEXITSTATUS(status) != 0)
                fail_msg("sending %d fds failed with an unexpected errno", VS_MSG_FDS_MAX + 2);
}

/* ---- json helpers ---- */

static void test_json_helpers(void **state)
{
        json_object *obj = json_tokener_parse("{\"s\":\"str\",\"i\":42,\"b\":true,\"f\":false}");

        (void)state;
        assert_non_null(obj);
        assert_string_equal(vs_json_str(obj, "s"), "str");
        assert_null(vs_json_str(obj, "i"));
        assert_null(vs_json_str(obj, "missing"));
        assert_null(vs_json_str(NULL, "s"));
        assert_int_equal(vs_json_int(obj, "i", -1), 42);
        assert_int_equal(vs_json_int(obj, "s", -1), -1);
        assert_int_equal(vs_json_int(obj, "missing", 7), 7);
        assert_true(vs_json_bool(obj, "b"));
        assert_false(vs_json_bool(obj, "f"));
        assert_false(vs_json_bool(obj, "missing"));
        assert_false(vs_json_bool(NULL, "b"));
        json_object_put(obj);
}

#define SOCK_TEST(f) cmocka_unit_test_setup_teardown(f, sockpair_setup, sockpair_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_request_round_trip),
                cmocka_unit_test(test_request_without_name_or_args),
                cmocka_unit_test(test_request_decode_adds_missing_args),
                cmocka_unit_test(test_request_decode_honours_len),
                cmocka_unit_test(test_request_longest_fields),
                cmocka_unit_test(test_request_not_json),
                cmocka_unit_test(test_request_trailing_garbage),
                cmocka_unit_test(test_request_not_an_object),
                cmocka_unit_test(test_request_missing_version),
                cmocka_unit_test(test_request_wrong_version),
                cmocka_unit_test(test_request_missing_cmd),
                cmocka_unit_test(test_request_cmd_not_string),
                cmocka_unit_test(test_request_fields_too_long),
                cmocka_unit_test(test_request_args_not_object),
                cmocka_unit_test(test_reply_ok),
                cmocka_unit_test(test_reply_error_round_trip),
                cmocka_unit_test(test_reply_check_malformed),
                SOCK_TEST(test_msg_send_recv),
                SOCK_TEST(test_msg_passes_fds),
                SOCK_TEST(test_msg_unwanted_fds_closed),
                SOCK_TEST(test_msg_recv_end_of_stream),
                SOCK_TEST(test_msg_recv_not_json),
                SOCK_TEST(test_msg_send_too_large),
                SOCK_TEST(test_msg_send_too_many_fds_refused),
                cmocka_unit_test(test_json_helpers),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
