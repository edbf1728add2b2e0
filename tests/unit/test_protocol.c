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
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vs/error.h"
#include "vs/fdpass.h"
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
        json_object_object_add(args, "term", json_object_new_string("xterm"));
        json_object_object_add(args, "tty", json_object_new_boolean(1));
        json_object_object_add(args, "rows", json_object_new_int(3));
        json_object_object_add(args, "argv", json_object_new_array());
        json_object_array_add(json_object_object_get(args, "argv"), json_object_new_string("sh"));
        msg = vs_request_new("exec", "web1", args);
        assert_non_null(msg);
        text = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN, &len);

        vs_error_clear(&err);
        if (vs_request_decode(text, len, &req, &err) != 0)
                fail_msg("decode '%s': %s", text, err.msg);
        assert_string_equal(req.cmd, "exec");
        assert_string_equal(req.name, "web1");
        assert_non_null(req.root);
        assert_non_null(req.args);
        assert_true(json_object_is_type(req.args, json_type_object));
        assert_int_equal(json_object_object_length(req.args), 4);
        assert_string_equal(vs_json_str(req.args, "term"), "xterm");
        assert_true(vs_json_bool(req.args, "tty"));
        assert_int_equal(vs_json_int(req.args, "rows", -1), 3);
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
        /* the longest command there is fits too */
        snprintf(cmd, sizeof(cmd), "%s", VS_CMD_TEMPLATE_REMOVE);
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
        expect_malformed("{\"version\":1,\"cmd\":\"start\",\"name\":\"w\",\"args\":[1]}", "'args'",
                         "not an object", NULL);
        expect_malformed("{\"version\":1,\"cmd\":\"start\",\"name\":\"w\",\"args\":\"x\"}",
                         "'args'", NULL);
        expect_malformed("{\"version\":1,\"cmd\":\"start\",\"name\":\"w\",\"args\":null}", "'args'",
                         NULL);
        expect_malformed("{\"version\":1,\"cmd\":\"start\",\"name\":\"w\",\"args\":3}", "'args'",
                         NULL);
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
        assert_int_equal(err.kind, VS_E_INTERNAL);
        assert_true(err.msg[0] != '\0');

        reply = json_tokener_parse("[true]");
        vs_error_clear(&err);
        assert_int_equal(vs_reply_check(reply, &err), -1);
        assert_int_equal(err.kind, VS_E_INTERNAL);
        json_object_put(reply);

        reply = json_tokener_parse("{\"version\":2,\"ok\":true}");
        vs_error_clear(&err);
        assert_int_equal(vs_reply_check(reply, &err), -1);
        assert_int_equal(err.kind, VS_E_INTERNAL);
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

static json_object *string_of(size_t size)
{
        char *big = malloc(size + 1);
        json_object *msg;

        assert_non_null(big);
        memset(big, 'x', size);
        big[size] = '\0';
        msg = json_object_new_string(big);
        free(big);
        return msg;
}

/* A request over VS_REQUEST_MAX is the sender's mistake: a usage error
 * that says the size and the limit. */
static void test_request_too_large_is_a_usage_error(void **state)
{
        json_object *req = vs_request_new("exec", "web1", NULL);
        vs_error_t err;

        (void)state;
        json_object_object_add(vs_json_object(req, "args"), "argv", string_of(VS_REQUEST_MAX));
        vs_error_clear(&err);
        assert_true(vs_request_fits(req, &err) < 0);
        assert_int_equal(err.errnum, EMSGSIZE);
        assert_int_equal(err.kind, VS_E_USAGE);
        assert_non_null(strstr(err.msg, "over the limit of 1048576 bytes"));
        assert_null(strchr(err.msg, '\n'));
        json_object_put(req);
        req = vs_request_new("ping", NULL, NULL);
        assert_int_equal(vs_request_fits(req, &err), 0);
        json_object_put(req);
}

/* A message larger than one packet (and than the socket's send buffer)
 * arrives whole, with the fds sent beside it; the memfd that carried it
 * is not among them and not left open. */
static void test_msg_large_goes_through_a_memfd(void **state)
{
        struct sockpair *sp = *state;
        json_object *sent = vs_reply_ok();
        json_object *got = NULL;
        int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        int fds[VS_MSG_FDS_MAX], nfds = -1, before;
        vs_error_t err;

        assert_true(devnull >= 0);
        json_object_object_add(sent, "big", string_of(3U << 20));
        before = count_open_fds();
        vs_error_clear(&err);
        assert_int_equal(vs_msg_send(sp->fd[0], sent, &devnull, 1, &err), 0);
        if (vs_msg_recv(sp->fd[1], &got, fds, &nfds, &err) != 0)
                fail_msg("recv: %s", err.msg);
        assert_non_null(got);
        assert_true(json_object_equal(sent, got));
        assert_int_equal(nfds, 1);
        close(fds[0]);
        assert_int_equal(count_open_fds(), before);
        json_object_put(got);
        /* a request of that size is refused by the reader of requests */
        assert_int_equal(vs_msg_send(sp->fd[0], sent, NULL, 0, &err), 0);
        vs_error_clear(&err);
        assert_true(vs_request_recv(sp->fd[1], &got, &err) < 0);
        assert_null(got);
        assert_int_equal(err.kind, VS_E_USAGE);
        assert_non_null(strstr(err.msg, "over the limit"));
        assert_int_equal(count_open_fds(), before);
        close(devnull);
        json_object_put(sent);
}

/* An envelope whose body is not a sealed memfd (a pipe that could stall
 * the reader, a file that could change under it) is refused. */
static void test_msg_envelope_needs_a_sealed_memfd(void **state)
{
        struct sockpair *sp = *state;
        static const char envelope[] = "{\"version\":1,\"memfd\":3}";
        json_object *got = NULL;
        int pipefd[2], memfd;
        vs_error_t err;

        assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
        assert_int_equal(write(pipefd[1], "{ }", 3), 3);
        assert_int_equal(vs_send_fds(sp->fd[0], envelope, strlen(envelope), &pipefd[0], 1), 0);
        vs_error_clear(&err);
        assert_true(vs_msg_recv(sp->fd[1], &got, NULL, NULL, &err) < 0);
        assert_null(got);
        assert_non_null(strstr(err.msg, "sealed memfd"));
        memfd = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        assert_true(memfd >= 0);
        assert_int_equal(write(memfd, "{ }", 3), 3);
        assert_int_equal(vs_send_fds(sp->fd[0], envelope, strlen(envelope), &memfd, 1), 0);
        assert_true(vs_msg_recv(sp->fd[1], &got, NULL, NULL, &err) < 0);
        assert_non_null(strstr(err.msg, "sealed memfd"));
        /* no fd at all */
        assert_int_equal(vs_send_fds(sp->fd[0], envelope, strlen(envelope), NULL, 0), 0);
        assert_true(vs_msg_recv(sp->fd[1], &got, NULL, NULL, &err) < 0);
        assert_non_null(strstr(err.msg, "missing"));
        close(memfd);
        close(pipefd[0]);
        close(pipefd[1]);
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

/* ---- the request table: types, contents, unknown fields ---- */

/* `len` bytes of text must be refused as a one-line usage error whose
 * message names `field` in quotes; nothing is left to free. */
static void expect_refused_len(const char *text, size_t len, const char *field)
{
        vs_request_t req;
        char quoted[128];
        vs_error_t err;

        vs_error_clear(&err);
        memset(&req, 0x5a, sizeof(req));
        if (vs_request_decode(text, len, &req, &err) == 0) {
                vs_request_free(&req);
                fail_msg("accepted: %.*s", (int)len, text);
        }
        if (err.kind != VS_E_USAGE)
                fail_msg("%.*s: kind %s, not usage: %s", (int)len, text,
                         vs_error_kind_name(err.kind), err.msg);
        snprintf(quoted, sizeof(quoted), "'%s'", field);
        if (!strstr(err.msg, quoted))
                fail_msg("%.*s: message does not name %s: %s", (int)len, text, quoted, err.msg);
        if (strchr(err.msg, '\n'))
                fail_msg("%.*s: message has more than one line: %s", (int)len, text, err.msg);
        assert_null(req.root);
        vs_request_free(&req);
}

static void expect_refused(const char *text, const char *field)
{
        expect_refused_len(text, strlen(text), field);
}

static void expect_accepted(const char *text)
{
        vs_request_t req;
        vs_error_t err;

        vs_error_clear(&err);
        if (vs_request_decode(text, strlen(text), &req, &err) != 0)
                fail_msg("refused: %s: %s", text, err.msg);
        vs_request_free(&req);
}

#define REQ(cmd, name, args) \
        "{\"version\":1,\"cmd\":\"" cmd "\",\"name\":\"" name "\",\"args\":" args "}"
#define REQ0(cmd, args) "{\"version\":1,\"cmd\":\"" cmd "\",\"args\":" args "}"

/* What vsctl sends, with every option it has: all of it is taken. */
static void test_request_table_takes_what_vsctl_sends(void **state)
{
        (void)state;
        expect_accepted(REQ0("ping", "{}"));
        expect_accepted(REQ("create", "web1",
                            "{\"ipadd\":[\"10.0.0.2\",\"fd00::2\"],\"nameserver\":[\"1.1.1.1\"],"
                            "\"searchdomain\":[\"example.com\"],\"port_forward\":[\"8080:80\"],"
                            "\"template\":\"busybox\",\"hostname\":\"web1.example\","
                            "\"privileged\":true,\"limits\":{\"cpulimit\":\"50%\",\"ram\":\"256M\","
                            "\"cpu-burst\":\"100ms\"},\"rate_out\":\"10M\",\"rate_in\":\"5M\","
                            "\"diskspace\":\"1G:2G\",\"diskinodes\":\"10000\"}"));
        expect_accepted(REQ("create", "web2", "{\"template\":\"busybox\",\"ipadd\":[\"none\"]}"));
        expect_accepted(REQ("start", "web1", "{}"));
        expect_accepted("{\"version\":1,\"cmd\":\"start\",\"name\":\"web1\"}");
        expect_accepted(REQ("stop", "web1", "{\"fast\":true,\"timeout_ms\":5000}"));
        expect_accepted(REQ("stop", "web1", "{\"fast\":false}"));
        expect_accepted(REQ("restart", "web1", "{\"timeout_ms\":1}"));
        expect_accepted(REQ("destroy", "web1", "{\"force\":true}"));
        expect_accepted(REQ("status", "web1", "{}"));
        expect_accepted(
                REQ("set", "web1",
                    "{\"limits\":{\"cpus\":\"2\"},\"ipadd\":[\"10.0.0.3\"],"
                    "\"ipdel\":[\"all\"],\"port_forward\":[\"5353:53/udp\"],"
                    "\"port_forward_del\":[\"8080\"],\"capability\":\"net_admin:on "
                    "sys_time:off\",\"no_save\":true,\"rate_out\":\"0\",\"rate_in\":\"none\"}"));
        expect_accepted(REQ0("node", "{\"limits\":{\"cpulimit\":\"100%\",\"ram\":\"1G\"}}"));
        expect_accepted(REQ("resize", "web1", "{\"diskspace\":\"2G\"}"));
        expect_accepted(REQ("clone", "web1", "{\"new\":\"web3\",\"hostname\":\"w3\"}"));
        expect_accepted(REQ0("list", "{\"disk\":true}"));
        expect_accepted(REQ("exec", "web1",
                            "{\"argv\":[\"sh\",\"-c\",\"echo hi\\n\"],\"tty\":true,\"rows\":24,"
                            "\"cols\":80,\"term\":\"xterm-256color\"}"));
        expect_accepted(REQ("logs", "web1", "{}"));
        expect_accepted(REQ("template-build", "busybox", "{\"builder\":\"busybox\"}"));
        expect_accepted(REQ0("template-build", "{\"builder\":\"busybox\"}"));
        expect_accepted(REQ("template-build", "deb",
                            "{\"builder\":\"debian\",\"suite\":\"bookworm\","
                            "\"include\":\"openssh-server,less\",\"debs\":\"/tmp/debs.tar\"}"));
        expect_accepted(REQ("template-import", "imp", "{\"file\":\"/tmp/root.tar.gz\"}"));
        expect_accepted(REQ0("template-list", "{}"));
        expect_accepted(REQ0("template-unify", "{}"));
        expect_accepted(REQ("template-remove", "bb2", "{}"));
}

/* The repros of issue 10: each of these did something on the old decoder. */
static void test_request_booleans_are_not_coerced(void **state)
{
        static const char *const values[] = { "\"no\"",  "\"false\"", "\"0\"", "\"\"",
                                              "\"yes\"", "0",         "1",     "null",
                                              "[]",      "{}",        "1.0",   "\"true\"" };
        char text[256];

        (void)state;
        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
                snprintf(text, sizeof(text),
                         REQ("create", "p1", "{\"template\":\"busybox\",\"privileged\":%s}"),
                         values[i]);
                expect_refused(text, "args.privileged");
                snprintf(text, sizeof(text), REQ("destroy", "run2", "{\"force\":%s}"), values[i]);
                expect_refused(text, "args.force");
                snprintf(text, sizeof(text), REQ("stop", "run1", "{\"fast\":%s}"), values[i]);
                expect_refused(text, "args.fast");
                snprintf(text, sizeof(text), REQ0("list", "{\"disk\":%s}"), values[i]);
                expect_refused(text, "args.disk");
        }
}

static void test_request_values_of_another_type_are_refused(void **state)
{
        (void)state;
        expect_refused(REQ("create", "n1", "{\"template\":\"busybox\",\"diskspace\":104857600}"),
                       "args.diskspace");
        expect_refused(REQ("create", "n1", "{\"template\":\"busybox\",\"rate_out\":1000000}"),
                       "args.rate_out");
        expect_refused(REQ("create", "n1", "{\"template\":\"busybox\",\"rate_in\":1000000}"),
                       "args.rate_in");
        expect_refused(REQ("create", "n1", "{\"template\":\"busybox\",\"hostname\":5}"),
                       "args.hostname");
        expect_refused(REQ("create", "n1", "{\"template\":\"busybox\",\"hostname\":null}"),
                       "args.hostname");
        expect_refused(REQ("create", "n1", "{\"template\":[\"busybox\"]}"), "args.template");
        expect_refused(REQ("create", "n1", "{\"template\":\"busybox\",\"limits\":{\"ram\":1}}"),
                       "args.limits.ram");
        expect_refused(REQ("create", "n1", "{\"template\":\"busybox\",\"limits\":[]}"),
                       "args.limits");
        expect_refused(REQ("create", "n1", "{\"template\":\"busybox\",\"ipadd\":\"10.0.0.2\"}"),
                       "args.ipadd");
        expect_refused(REQ("create", "n1", "{\"template\":\"busybox\",\"ipadd\":[\"10.0.0.2\",7]}"),
                       "args.ipadd[1]");
        expect_refused(REQ("stop", "run1", "{\"timeout_ms\":\"1000\"}"), "args.timeout_ms");
        expect_refused(REQ("stop", "run1", "{\"timeout_ms\":1000.0}"), "args.timeout_ms");
        expect_refused(REQ("exec", "run1", "{\"argv\":[\"true\"],\"rows\":\"24\"}"), "args.rows");
        expect_refused(REQ("exec", "run1", "{\"argv\":\"true\"}"), "args.argv");
        expect_refused(REQ("exec", "run1", "{\"argv\":[\"true\",null]}"), "args.argv[1]");
        expect_refused(REQ("set", "run1", "{\"capability\":[\"net_admin:on\"]}"),
                       "args.capability");
        expect_refused("{\"version\":\"1\",\"cmd\":\"list\"}", "version");
        expect_refused("{\"version\":1.0,\"cmd\":\"list\"}", "version");
        expect_refused("{\"version\":true,\"cmd\":\"list\"}", "version");
}

static void test_request_nul_bytes_are_refused(void **state)
{
        static const char key_nul[] = REQ("destroy", "run2", "{\"force\\u0000x\":true}");
        static const char raw_nul[] = "{\"version\":1,\"cmd\":\"destroy\",\"name\":\"run2\0x\"}";
        static const char top_nul[] = "{\"version\":1,\"cmd\":\"list\",\"x\\u0000\":1}";
        vs_request_t req;
        vs_error_t err;

        (void)state;
        expect_refused(REQ("destroy", "run2\\u0000x", "{\"force\":true}"), "name");
        expect_refused(REQ("destroy", "\\u0000", "{}"), "name");
        expect_refused(REQ0("list\\u0000x", "{}"), "cmd");
        expect_refused(REQ("create", "n1", "{\"template\":\"busybox\\u0000x\"}"), "args.template");
        expect_refused(REQ("create", "n1", "{\"template\":\"busybox\",\"hostname\":\"a\\u0000\"}"),
                       "args.hostname");
        expect_refused(REQ("exec", "run1", "{\"argv\":[\"sh\",\"-c\\u0000rm\"]}"), "args.argv[1]");
        expect_refused(REQ("set", "run1", "{\"limits\":{\"ram\":\"1G\\u0000x\"}}"),
                       "args.limits.ram");
        expect_refused(REQ("clone", "off1", "{\"new\":\"run2\\u0000x\"}"), "args.new");
        /* a literal NUL byte (a control character) in a string is not JSON */
        vs_error_clear(&err);
        assert_int_equal(vs_request_decode(raw_nul, sizeof(raw_nul) - 1, &req, &err), -1);
        assert_int_equal(err.kind, VS_E_USAGE);
        assert_non_null(strstr(err.msg, "not JSON"));
        /* json-c cuts object keys at a NUL: "force\u0000x" would be "force" */
        vs_error_clear(&err);
        assert_int_equal(vs_request_decode(key_nul, strlen(key_nul), &req, &err), -1);
        assert_int_equal(err.kind, VS_E_USAGE);
        assert_non_null(strstr(err.msg, "NUL"));
        vs_error_clear(&err);
        assert_int_equal(vs_request_decode(top_nul, strlen(top_nul), &req, &err), -1);
        assert_int_equal(err.kind, VS_E_USAGE);
}

static void test_request_unknown_and_missing_fields(void **state)
{
        (void)state;
        expect_refused(REQ("destroy", "run2", "{\"force\":true,\"bogus\":1}"), "args.bogus");
        expect_refused(REQ("create", "n1", "{\"template\":\"busybox\",\"ipdel\":[\"all\"]}"),
                       "args.ipdel");
        expect_refused(REQ("start", "run1", "{\"force\":true}"), "args.force");
        expect_refused("{\"version\":1,\"cmd\":\"list\",\"bogus\":1}", "bogus");
        expect_refused("{\"version\":1,\"cmd\":\"list\",\"name\":\"run1\"}", "name");
        expect_refused(REQ("node", "x", "{}"), "name");
        expect_refused(REQ("set", "run1", "{\"limits\":{\"colour\":\"red\"}}"),
                       "args.limits.colour");
        expect_refused(REQ("create", "n1", "{}"), "args.template");
        expect_refused(REQ("clone", "off1", "{}"), "args.new");
        expect_refused(REQ("exec", "run1", "{}"), "args.argv");
        expect_refused(REQ("template-import", "imp", "{}"), "args.file");
        expect_refused(REQ0("template-build", "{}"), "args.builder");
        expect_refused(REQ0("destroy", "{\"force\":true}"), "name");
        expect_refused(REQ0("template-remove", "{}"), "name");
        expect_refused("{\"version\":1,\"cmd\":\"frobnicate\"}", "cmd");
        expect_refused("{\"version\":1,\"cmd\":\"\"}", "cmd");
        expect_refused("{\"version\":1,\"cmd\":\"Start\",\"name\":\"run1\"}", "cmd");
}

static void test_request_sizes_and_ranges(void **state)
{
        char text[8192], longest[4096];

        (void)state;
        memset(longest, 'a', 65);
        longest[65] = '\0';
        snprintf(text, sizeof(text),
                 REQ("create", "n1", "{\"template\":\"busybox\",\"hostname\":\"%s\"}"), longest);
        expect_refused(text, "args.hostname");
        snprintf(text, sizeof(text), REQ("destroy", "%s", "{}"), longest);
        expect_refused(text, "name");
        expect_refused(REQ("create", "n1",
                           "{\"template\":\"busybox\",\"nameserver\":[\"1.1.1.1\",\"1.1.1.2\","
                           "\"1.1.1.3\",\"1.1.1.4\"]}"),
                       "args.nameserver");
        expect_refused(REQ("exec", "run1", "{\"argv\":[]}"), "args.argv");
        expect_refused(REQ("stop", "run1", "{\"timeout_ms\":0}"), "args.timeout_ms");
        expect_refused(REQ("stop", "run1", "{\"timeout_ms\":-1}"), "args.timeout_ms");
        expect_refused(REQ("stop", "run1", "{\"timeout_ms\":99999999999999999999}"),
                       "args.timeout_ms");
        expect_refused(REQ("stop", "run1", "{\"timeout_ms\":-99999999999999999999}"),
                       "args.timeout_ms");
        expect_refused(REQ("stop", "run1", "{\"timeout_ms\":9223372036854775807}"),
                       "args.timeout_ms");
        expect_refused(REQ("exec", "run1", "{\"argv\":[\"true\"],\"rows\":65536}"), "args.rows");
        expect_refused(REQ("exec", "run1", "{\"argv\":[\"true\"],\"cols\":-1}"), "args.cols");
        expect_accepted(REQ("exec", "run1", "{\"argv\":[\"true\"],\"rows\":65535,\"cols\":0}"));
}

static void test_request_contents_are_checked(void **state)
{
        static const char *const bad_names[] = { "../x",
                                                 "A",
                                                 "-x",
                                                 "_x",
                                                 "",
                                                 "a b",
                                                 "a/b",
                                                 ".",
                                                 "x\\ty",
                                                 "caf\\u00e9",
                                                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                                 "aaaaaaaaaaaaaaaaaaaa" };
        char text[512];

        (void)state;
        for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
                snprintf(text, sizeof(text), REQ("create", "%s", "{\"template\":\"busybox\"}"),
                         bad_names[i]);
                expect_refused(text, "name");
                snprintf(text, sizeof(text), REQ("create", "n1", "{\"template\":\"%s\"}"),
                         bad_names[i]);
                expect_refused(text, "args.template");
                snprintf(text, sizeof(text), REQ("clone", "off1", "{\"new\":\"%s\"}"),
                         bad_names[i]);
                expect_refused(text, "args.new");
                snprintf(text, sizeof(text), REQ("template-remove", "%s", "{}"), bad_names[i]);
                expect_refused(text, "name");
        }
        expect_refused(REQ("create", "n1", "{\"template\":\"busybox\",\"hostname\":\"a b\"}"),
                       "args.hostname");
        /* the bad value is in the message, on one line */
        expect_refused(REQ("create", "n1", "{\"template\":\"busybox\",\"hostname\":\"a\\nb\"}"),
                       "args.hostname");
        expect_refused(REQ("create", "n1", "{\"template\":\"busybox\",\"diskspace\":\"1Q\"}"),
                       "args.diskspace");
        expect_refused(REQ("create", "n1", "{\"template\":\"busybox\",\"rate_out\":\"-5M\"}"),
                       "args.rate_out");
        expect_refused(REQ("create", "n1",
                           "{\"template\":\"busybox\",\"limits\":{\"cpulimit\":\"lots\"}}"),
                       "args.limits.cpulimit");
        expect_refused(REQ("create", "n1", "{\"template\":\"busybox\",\"ipadd\":[\"10.0.0.300\"]}"),
                       "args.ipadd[0]");
        expect_refused(
                REQ("create", "n1", "{\"template\":\"busybox\",\"port_forward\":[\"99999:80\"]}"),
                "args.port_forward[0]");
        expect_refused(REQ("set", "run1", "{\"capability\":\"frobnicate:on\"}"), "args.capability");
        expect_refused(REQ("set", "run1", "{\"nameserver\":[\"not an address\"]}"),
                       "args.nameserver[0]");
        expect_refused(REQ("template-build", "x", "{\"builder\":\"gentoo\"}"), "args.builder");
        expect_refused(REQ("template-build", "x", "{\"builder\":\"debian\",\"suite\":\"--foo\"}"),
                       "args.suite");
        expect_refused(REQ("template-build", "x", "{\"builder\":\"debian\",\"include\":\"a,--b\"}"),
                       "args.include");
        expect_refused(REQ("template-build", "x", "{\"builder\":\"debian\",\"debs\":\"rel.tar\"}"),
                       "args.debs");
        expect_refused(REQ("template-import", "x", "{\"file\":\"x.tar\"}"), "args.file");
        expect_refused(REQ("template-import", "x", "{\"file\":\"/etc/passwd\"}"), "args.file");
        expect_refused(REQ("exec", "run1", "{\"argv\":[\"true\"],\"term\":\"../../x\"}"),
                       "args.term");
        expect_refused(REQ("resize", "off1", "{\"diskspace\":\"1G\",\"diskinodes\":\"100\"}"),
                       "args.diskinodes");
}

/* Every field of every command in the table, with every JSON type but its
 * own, alone in args: refused, naming the field. */
static void test_request_table_every_field_every_wrong_type(void **state)
{
        static const struct {
                const char *json;
                json_type type;
        } wrong[] = {
                { "\"no\"", json_type_string }, { "\"false\"", json_type_string },
                { "1", json_type_int },         { "0", json_type_int },
                { "true", json_type_boolean },  { "false", json_type_boolean },
                { "null", json_type_null },     { "[]", json_type_array },
                { "[\"x\"]", json_type_array }, { "{}", json_type_object },
                { "1.5", json_type_double },
        };
        const vs_command_spec_t *commands;
        size_t n, tried = 0;

        (void)state;
        commands = vs_commands(&n);
        assert_true(n >= 19);
        for (size_t c = 0; c < n; c++) {
                for (const vs_field_spec_t *f = commands[c].fields; f->key; f++) {
                        json_type own = f->type == VS_FIELD_STRING    ? json_type_string
                                        : f->type == VS_FIELD_BOOL    ? json_type_boolean
                                        : f->type == VS_FIELD_INT     ? json_type_int
                                        : f->type == VS_FIELD_STRINGS ? json_type_array
                                                                      : json_type_object;
                        char field[96];

                        snprintf(field, sizeof(field), "args.%s", f->key);
                        for (size_t w = 0; w < sizeof(wrong) / sizeof(wrong[0]); w++) {
                                char text[512];

                                if (wrong[w].type == own)
                                        continue;
                                snprintf(text, sizeof(text),
                                         "{\"version\":1,\"cmd\":\"%s\"%s,\"args\":{\"%s\":%s}}",
                                         commands[c].cmd,
                                         commands[c].name == VS_NAME_NONE ? "" : ",\"name\":\"x1\"",
                                         f->key, wrong[w].json);
                                expect_refused(text, field);
                                tried++;
                        }
                }
        }
        assert_true(tried > 300);
}

/* The table itself: every string has a length limit, every array an item
 * limit, every integer a range; keys are unique; names are checked. */
static void test_request_table_is_complete(void **state)
{
        const vs_command_spec_t *commands;
        size_t n;

        (void)state;
        commands = vs_commands(&n);
        for (size_t c = 0; c < n; c++) {
                assert_true(strlen(commands[c].cmd) < sizeof(((vs_request_t *)0)->cmd));
                assert_ptr_equal(vs_command_find(commands[c].cmd), &commands[c]);
                for (const vs_field_spec_t *f = commands[c].fields; f->key; f++) {
                        if (f->type == VS_FIELD_STRING || f->type == VS_FIELD_STRINGS ||
                            f->type == VS_FIELD_LIMITS)
                                assert_true(f->max_len > 0 && f->max_len < VS_REQUEST_MAX);
                        if (f->type == VS_FIELD_STRINGS)
                                assert_true(f->max_items > 0);
                        /* json-c holds numbers beyond 64 bits as the
                                 * nearest bound: no range may reach one */
                        if (f->type == VS_FIELD_INT)
                                assert_true(f->min <= f->max && f->min > INT64_MIN &&
                                            f->max < INT64_MAX);
                        assert_ptr_equal(vs_command_field(&commands[c], f->key), f);
                }
        }
        assert_null(vs_command_find("frobnicate"));
        assert_null(vs_command_find(""));
        assert_non_null(vs_command_find(VS_CMD_CREATE));
        assert_null(vs_command_field(vs_command_find(VS_CMD_CREATE), "ipdel"));
        assert_int_equal(vs_command_field(vs_command_find(VS_CMD_CREATE), "privileged")->type,
                         VS_FIELD_BOOL);
        assert_int_equal(vs_command_field(vs_command_find(VS_CMD_DESTROY), "force")->type,
                         VS_FIELD_BOOL);
        assert_int_equal(vs_command_field(vs_command_find(VS_CMD_STOP), "fast")->type,
                         VS_FIELD_BOOL);
}

/* The validator on its own (the entry point the fuzzer calls). */
static void test_request_validate_entry_point(void **state)
{
        vs_request_t req = { 0 };
        vs_error_t err;

        (void)state;
        req.root = json_tokener_parse(REQ("destroy", "run2", "{\"force\":\"false\"}"));
        assert_non_null(req.root);
        vs_error_clear(&err);
        assert_int_equal(vs_request_validate(&req, &err), -1);
        assert_non_null(strstr(err.msg, "'args.force'"));
        json_object_put(req.root);
        req.root = json_tokener_parse(REQ("destroy", "run2", "{\"force\":false}"));
        vs_error_clear(&err);
        assert_int_equal(vs_request_validate(&req, &err), 0);
        json_object_put(req.root);
        req.root = json_tokener_parse("[1]");
        assert_int_equal(vs_request_validate(&req, &err), -1);
        json_object_put(req.root);
        req.root = NULL;
        assert_int_equal(vs_request_validate(&req, &err), -1);
}

/* Handlers read through accessors that cannot coerce. */
static void test_request_typed_accessors(void **state)
{
        static const char text[] =
                REQ("exec", "run1",
                    "{\"argv\":[\"true\"],\"tty\":true,\"rows\":24,\"term\":\"vt100\"}");
        vs_request_t req;
        vs_error_t err;

        (void)state;
        vs_error_clear(&err);
        assert_int_equal(vs_request_decode(text, strlen(text), &req, &err), 0);
        assert_non_null(req.spec);
        assert_string_equal(req.spec->cmd, VS_CMD_EXEC);
        assert_string_equal(vs_req_str(&req, "term"), "vt100");
        assert_true(vs_req_bool(&req, "tty"));
        assert_int_equal(vs_req_int(&req, "rows", -1), 24);
        assert_int_equal(vs_req_int(&req, "cols", -1), -1);
        assert_non_null(vs_req_strings(&req, "argv"));
        assert_int_equal(json_object_array_length(vs_req_strings(&req, "argv")), 1);
        vs_request_free(&req);
}

/* A handler that reads a field the table does not declare, or as another
 * type, is a bug that must show at once, not read as "absent". */
static void test_request_accessor_of_an_undeclared_field_aborts(void **state)
{
        static const char text[] = REQ("destroy", "run2", "{\"force\":true}");
        int status = 0;
        pid_t pid;

        (void)state;
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                vs_request_t req;
                vs_error_t err;

                if (freopen("/dev/null", "w", stderr) == NULL)
                        _exit(3);
                if (vs_request_decode(text, strlen(text), &req, &err) < 0)
                        _exit(2);
                (void)vs_req_str(&req, "force"); /* declared as a boolean */
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGABRT);
}

/* The table as JSON, for tools and tests (build/tests/schema-dump). */
static void test_protocol_schema_json(void **state)
{
        json_object *schema = vs_protocol_schema();
        json_object *commands;
        size_t n;

        (void)state;
        vs_commands(&n);
        assert_non_null(schema);
        assert_true(json_object_object_get_ex(schema, "commands", &commands));
        assert_int_equal(json_object_array_length(commands), n);
        for (size_t i = 0; i < n; i++) {
                json_object *c = json_object_array_get_idx(commands, i);

                assert_non_null(vs_command_find(vs_json_str(c, "cmd")));
                assert_non_null(vs_json_str(c, "name"));
                assert_non_null(vs_json_array(c, "args"));
        }
        json_object_put(schema);
}

/* json-c cuts a key at a NUL; a message whose keys had one is refused
 * on receipt, whoever sent it. */
static void test_msg_recv_refuses_nul_in_keys(void **state)
{
        struct sockpair *sp = *state;
        static const char text[] = "{\"version\":1,\"ok\\u0000x\":true}";
        static const char values[] = "{\"version\":1,\"ok\":true,\"s\":\"a\\u0000b\"}";
        json_object *got = NULL;
        vs_error_t err;

        assert_int_equal(send(sp->fd[0], text, strlen(text), 0), (ssize_t)strlen(text));
        vs_error_clear(&err);
        assert_true(vs_msg_recv(sp->fd[1], &got, NULL, NULL, &err) < 0);
        assert_null(got);
        assert_non_null(strstr(err.msg, "NUL"));
        /* a NUL in a value is the reader's to judge */
        assert_int_equal(send(sp->fd[0], values, strlen(values), 0), (ssize_t)strlen(values));
        assert_int_equal(vs_msg_recv(sp->fd[1], &got, NULL, NULL, &err), 0);
        assert_non_null(got);
        assert_null(vs_json_str(got, "s"));
        json_object_put(got);
        /* nor is anything after the object taken */
        assert_int_equal(send(sp->fd[0], "{\"ok\":true}\0x", 13, 0), 13);
        assert_true(vs_msg_recv(sp->fd[1], &got, NULL, NULL, &err) < 0);
        assert_null(got);
}

/* Replies are read with the same accessors: a wrong type is absent. */
static void test_json_accessors_do_not_coerce(void **state)
{
        json_object *obj = json_tokener_parse(
                "{\"no\":\"no\",\"false\":\"false\",\"zero\":\"0\",\"true\":\"true\",\"one\":1,"
                "\"d\":1.0,\"a\":[true],\"o\":{\"x\":1},\"n\":null,\"nul\":\"run2\\u0000x\","
                "\"big\":99999999999999999999,\"s42\":\"42\"}");

        (void)state;
        assert_non_null(obj);
        json_object_object_foreach(obj, key, value)
        {
                (void)value;
                if (vs_json_bool(obj, key))
                        fail_msg("'%s' read as true", key);
        }
        assert_null(vs_json_str(obj, "nul"));
        assert_null(vs_json_str(obj, "one"));
        assert_null(vs_json_str(obj, "a"));
        assert_int_equal(vs_json_int(obj, "s42", -1), -1);
        assert_int_equal(vs_json_int(obj, "d", -1), -1);
        assert_int_equal(vs_json_int(obj, "true", -1), -1);
        assert_non_null(vs_json_array(obj, "a"));
        assert_null(vs_json_array(obj, "o"));
        assert_null(vs_json_array(obj, "no"));
        assert_null(vs_json_array(NULL, "a"));
        assert_non_null(vs_json_object(obj, "o"));
        assert_null(vs_json_object(obj, "a"));
        assert_null(vs_json_object(obj, "n"));
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
                cmocka_unit_test(test_request_too_large_is_a_usage_error),
                SOCK_TEST(test_msg_large_goes_through_a_memfd),
                SOCK_TEST(test_msg_envelope_needs_a_sealed_memfd),
                SOCK_TEST(test_msg_send_too_many_fds_refused),
                cmocka_unit_test(test_json_helpers),
                cmocka_unit_test(test_json_accessors_do_not_coerce),
                cmocka_unit_test(test_request_table_takes_what_vsctl_sends),
                cmocka_unit_test(test_request_booleans_are_not_coerced),
                cmocka_unit_test(test_request_values_of_another_type_are_refused),
                cmocka_unit_test(test_request_nul_bytes_are_refused),
                cmocka_unit_test(test_request_unknown_and_missing_fields),
                cmocka_unit_test(test_request_sizes_and_ranges),
                cmocka_unit_test(test_request_contents_are_checked),
                cmocka_unit_test(test_request_table_every_field_every_wrong_type),
                cmocka_unit_test(test_request_table_is_complete),
                cmocka_unit_test(test_request_validate_entry_point),
                cmocka_unit_test(test_request_typed_accessors),
                cmocka_unit_test(test_request_accessor_of_an_undeclared_field_aborts),
                cmocka_unit_test(test_protocol_schema_json),
                SOCK_TEST(test_msg_recv_refuses_nul_in_keys),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
