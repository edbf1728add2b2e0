/* The loop's services (vs/serve.h): descriptors in vsd's epoll set, and
 * the clients of the control socket: accepted under the caps of vsd.conf,
 * a request read and decoded, answered, expired. vsd.c's loop calls them
 * and gives each request to handlers.c; nothing here calls up. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/kvfile.h"
#include "vs/log.h"
#include "vs/parse.h"
#include "store.h"
#include "serve.h"

/* ---- epoll ---- */

int vsd_epoll_add(struct vsd *d, int fd, struct ev *ev, uint32_t events)
{
        struct epoll_event e = { .events = events, .data.ptr = ev };

        return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &e);
}

void vsd_epoll_del(struct vsd *d, int fd)
{
        if (fd >= 0)
                epoll_ctl(d->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* ---- clients ---- */

/* max_clients, max_clients_per_uid and client_timeout from vsd.conf, read
 * at start and again on SIGHUP; a bad value is refused whole. */
int vsd_client_conf_load(struct vsd *d, vs_error_t *err)
{
        struct vsd_client_conf conf = { VS_MAX_CLIENTS_DEFAULT, VS_MAX_CLIENTS_PER_UID_DEFAULT,
                                        VS_CLIENT_TIMEOUT_MS_DEFAULT };
        cleanup_kv vs_kv_t kv = { 0 };
        const char *text;

        if (vsd_conf_load(d, &kv, err) < 0)
                return -1;
        if ((text = vs_kv_get(&kv, "max_clients")) &&
            vs_parse_uint(text, 1, 65536, "vsd.conf: max_clients", &conf.max_total, err) < 0)
                return -1;
        if ((text = vs_kv_get(&kv, "max_clients_per_uid")) &&
            vs_parse_uint(text, 1, 65536, "vsd.conf: max_clients_per_uid", &conf.max_per_uid, err) <
                    0)
                return -1;
        if ((text = vs_kv_get(&kv, "client_timeout"))) {
                if (vs_parse_duration(text, &conf.timeout_ms, err) < 0)
                        return vs_error_wrap(err, "vsd.conf: client_timeout");
                if (conf.timeout_ms < 100 || conf.timeout_ms > 3600 * 1000)
                        return vs_error_kind(err, VS_E_USAGE, ERANGE,
                                             "vsd.conf: client_timeout must be 100ms to 1h");
        }
        d->client_conf = conf;
        return 0;
}

static void client_free(struct vsd *d, struct client *c)
{
        for (struct client **p = &d->clients; *p; p = &(*p)->next) {
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        }
        free(c);
}

static void resume_listener(struct vsd *d);

static void client_close_fd(struct vsd *d, struct client *c)
{
        if (c->fd < 0)
                return;
        vsd_epoll_del(d, c->fd);
        close(c->fd);
        c->fd = -1;
        /* a descriptor is free again */
        resume_listener(d);
}

void vsd_client_finish(struct vsd *d, struct client *c)
{
        client_close_fd(d, c);
        if (c->work)
                return; /* its worker ends, then vsd frees it (work.c) */
        if (c->exec_pidfd >= 0) {
                /* the exec'd process outlives its client; reap it later */
                c->wait = WAIT_EXEC;
                return;
        }
        client_free(d, c);
}

void vsd_client_reply(struct vsd *d, struct client *c, json_object *reply, const int *fds, int nfds)
{
        vs_error_t err = { 0 };

        if (c->fd >= 0 && vs_msg_send(c->fd, reply, fds, nfds, &err) < 0)
                vs_log(LOG_DEBUG, "reply: %s", err.msg);
        json_object_put(reply);
        (void)d;
}

void vsd_client_reply_error(struct vsd *d, struct client *c, const vs_error_t *err)
{
        vsd_client_reply(d, c, vs_reply_error(err), NULL, 0);
}

static void refuse(int fd, vs_error_kind_t kind, int errnum, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void refuse(int fd, vs_error_kind_t kind, int errnum, const char *fmt, ...)
{
        vs_error_t err = { 0 };
        json_object *reply;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(err.msg, sizeof(err.msg), fmt, ap);
        va_end(ap);
        err.kind = kind;
        err.errnum = errnum;
        reply = vs_reply_error(&err);
        vs_msg_send(fd, reply, NULL, 0, NULL);
        json_object_put(reply);
        /* a request already sent is read: closing over it would reset the
         * connection, and the peer might not see the refusal */
        while (recv(fd, err.msg, sizeof(err.msg), MSG_DONTWAIT) > 0)
                ;
        close(fd);
}

/* The caps of vsd.conf, for a peer that is not root: 0 admits it, else
 * the one-line reason. */
static int over_cap(const struct vsd *d, uid_t uid, char *why, size_t size)
{
        uint64_t total = 0, same = 0;

        if (uid == 0)
                return 0;
        for (const struct client *c = d->clients; c; c = c->next) {
                if (c->fd < 0 || c->uid == 0)
                        continue;
                total++;
                same += c->uid == uid;
        }
        if (same >= d->client_conf.max_per_uid)
                snprintf(why, size,
                         "busy: uid %u has %llu connections to vsd (max_clients_per_uid)",
                         (unsigned)uid, (unsigned long long)same);
        else if (total >= d->client_conf.max_total)
                snprintf(why, size, "busy: vsd has %llu connections (max_clients)",
                         (unsigned long long)total);
        else
                return 0;
        return 1;
}

/* Out of descriptors: a readable listener would wake the loop for ever
 * with nothing accepted. It stops being polled until a client closes, or
 * for a second (descriptors may free up elsewhere). */
static void pause_listener(struct vsd *d)
{
        struct epoll_event e = { .events = 0, .data.ptr = NULL };

        if (d->listen_paused)
                return;
        if (!d->fd_warned)
                vs_log(LOG_WARNING, "out of file descriptors: new clients wait (%m)");
        d->fd_warned = 1;
        epoll_ctl(d->epfd, EPOLL_CTL_MOD, d->listen_fd, &e);
        d->listen_paused = vs_monotonic_ms();
}

struct ev vsd_listen_ev = { EV_LISTEN, NULL };

static void resume_listener(struct vsd *d)
{
        struct epoll_event e = { .events = EPOLLIN, .data.ptr = &vsd_listen_ev };

        if (!d->listen_paused)
                return;
        epoll_ctl(d->epfd, EPOLL_CTL_MOD, d->listen_fd, &e);
        d->listen_paused = 0;
}

void vsd_clients_accept(struct vsd *d)
{
        for (;;) {
                int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                struct client *c;
                char why[160];
                enum vsd_role role;
                uid_t uid;

                if (fd >= 0)
                        d->fd_warned = 0;
                if (fd < 0) {
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                            errno == ENOMEM)
                                pause_listener(d);
                        return;
                }
                role = vsd_authz_peer(d, fd, &uid);
                if (role == VSD_ROLE_NONE) {
                        refuse(fd, VS_E_PERM, EACCES,
                               "permission denied: only root, group paene and slice owners may "
                               "use vsd");
                        continue;
                }
                if (over_cap(d, uid, why, sizeof(why))) {
                        refuse(fd, VS_E_STATE, EBUSY, "%s", why);
                        continue;
                }
                c = vs_xmalloc(sizeof(*c));
                c->fd = fd;
                c->uid = uid;
                c->role = role;
                c->deadline = vs_monotonic_ms() + (int64_t)d->client_conf.timeout_ms;
                c->exec_pidfd = -1;
                c->ev = (struct ev){ EV_CLIENT, c };
                c->exec_ev = (struct ev){ EV_EXEC_EXIT, c };
                c->next = d->clients;
                d->clients = c;
                if (vsd_epoll_add(d, fd, &c->ev, EPOLLIN) < 0)
                        vsd_client_finish(d, c);
        }
}

/* Whether a message waits in the client's socket (SOCK_SEQPACKET: a whole
 * request, or its end of file). */
static int request_waiting(int fd)
{
        char byte;

        return recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC) >= 0;
}

/* A client that has not sent its request in client_timeout is told so and
 * closed: an idle connection holds a descriptor and a place under the caps.
 * One whose request came in time but waits because vsd was busy with others
 * is read on the next pass. */
static void expire_clients(struct vsd *d)
{
        int64_t now = vs_monotonic_ms();
        struct client *c, *next;

        for (c = d->clients; c; c = next) {
                vs_error_t err = { 0 };

                next = c->next;
                if (c->fd < 0 || c->wait != WAIT_NONE || !c->deadline || c->deadline > now ||
                    request_waiting(c->fd))
                        continue;
                vs_error_kind(&err, VS_E_USAGE, ETIMEDOUT,
                              "no request within client_timeout (%llu ms)",
                              (unsigned long long)d->client_conf.timeout_ms);
                vsd_client_reply_error(d, c, &err);
                vsd_client_finish(d, c);
        }
}

/* Milliseconds until the loop must look again (-1: only on an event). */
int vsd_clients_next_wakeup(const struct vsd *d)
{
        int64_t first = 0, now = vs_monotonic_ms(), wait;

        for (const struct client *c = d->clients; c; c = c->next)
                if (c->fd >= 0 && c->wait == WAIT_NONE && c->deadline &&
                    (!first || c->deadline < first))
                        first = c->deadline;
        wait = first ? first - now : -1;
        if (first && wait < 0)
                wait = 0;
        if (d->listen_paused) {
                int64_t retry = d->listen_paused + 1000 - now;

                if (retry < 0)
                        retry = 0;
                if (wait < 0 || wait > retry)
                        wait = retry;
        }
        return wait > INT_MAX ? INT_MAX : (int)wait;
}

/* The client's socket is readable: 1 with its request decoded into req
 * (the caller answers it and frees it), 0 when there is none: a parked
 * client hung up, or a bad request was answered with its error. */
int vsd_client_read(struct vsd *d, struct client *c, vs_request_t *req)
{
        vs_error_t err = { 0 };
        int got;

        if (c->wait != WAIT_NONE) {
                /* a parked client only ever hangs up */
                char byte;

                if (recv(c->fd, &byte, 1, MSG_DONTWAIT) <= 0) {
                        if (c->wait == WAIT_MIGRATE && d->hooks.client_gone)
                                d->hooks.client_gone(d, c);
                        if (c->wait != WAIT_EXEC && c->wait != WAIT_WORK)
                                c->wait = WAIT_NONE;
                        vsd_client_finish(d, c);
                }
                return 0;
        }
        got = vs_request_read(c->fd, req, &err);
        if (got <= 0) {
                if (got < 0)
                        vsd_client_reply_error(d, c, &err);
                vsd_client_finish(d, c);
                return 0;
        }
        return 1;
}

/* After each pass of the loop: clients past their deadline are told, and
 * a listener paused for want of descriptors tries again, at most once a
 * second. */
void vsd_clients_after_pass(struct vsd *d)
{
        expire_clients(d);
        if (d->listen_paused && vs_monotonic_ms() - d->listen_paused >= 1000)
                resume_listener(d);
}
