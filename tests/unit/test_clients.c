/* Unit tests for vsd's clients (runtime/clients.c): the request timeout
 * against a real socket pair, with no running vsd. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "vs/fsutil.h"
#include "serve.h"
#include "vsd.h"

/* A client vsd took (its end of a SOCK_SEQPACKET pair) whose time for a
 * request has run out; the peer's end in *peer. */
static struct client *timed_out_client(struct vsd *d, int *peer)
{
        struct client *c = vs_xmalloc(sizeof(*c));
        int sv[2];

        assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        memset(c, 0, sizeof(*c));
        c->fd = sv[0];
        c->exec_pidfd = -1;
        c->wait = WAIT_NONE;
        c->deadline = 1; /* long past on CLOCK_MONOTONIC */
        c->next = d->clients;
        d->clients = c;
        *peer = sv[1];
        return c;
}

static int pending(int fd)
{
        char byte;

        return recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC) > 0;
}

/* A client that sent nothing in client_timeout is told so and closed. */
static void test_silent_client_expires(void **state)
{
        struct vsd d = { .epfd = -1, .client_conf = { .timeout_ms = 100 } };
        int peer;

        (void)state;
        timed_out_client(&d, &peer);
        vsd_clients_after_pass(&d);
        assert_null(d.clients);
        assert_true(pending(peer)); /* the error reply */
        close(peer);
}

/* A request that is waiting in the socket when the deadline passes (vsd
 * was busy with others: 1000 `vsctl exec` at once) is read, not refused:
 * the client sent it in time. */
static void test_request_waiting_in_the_socket_is_not_expired(void **state)
{
        struct vsd d = { .epfd = -1, .client_conf = { .timeout_ms = 100 } };
        struct client *c;
        int peer;

        (void)state;
        c = timed_out_client(&d, &peer);
        assert_int_equal(send(peer, "{}", 2, 0), 2);
        vsd_clients_after_pass(&d);
        assert_ptr_equal(d.clients, c);
        assert_int_equal(c->fd >= 0, 1);
        assert_false(pending(peer)); /* no error reply */
        vsd_client_finish(&d, c);
        assert_null(d.clients);
        close(peer);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_silent_client_expires),
                cmocka_unit_test(test_request_waiting_in_the_socket_is_not_expired),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
