/* The console keeper (see console.c): one process serving every VPS's
 * console, libc only, so that the static vsinit carries it. vsd execs
 * vsinit as the keeper, or runs it in a forked process where it has no
 * vsinit. */
#ifndef VS_RUNTIME_KEEPER_H
#define VS_RUNTIME_KEEPER_H

#include <stdint.h>

#include "vs/parse.h"

/* The keeper's fds, at these numbers. */
enum {
        VS_KEEPER_LISTEN = 3, /* run/paene/console.sock, SOCK_SEQPACKET, bound by vsd */
        VS_KEEPER_GUARD,      /* the guard's pidfd of the server (see keeper.c) */
        VS_KEEPER_EPOLL,      /* the server's */
        VS_KEEPER_FIRST_FREE,
};

/* vsinit runs the keeper when exec'd with this argv[0]. */
#define VS_KEEPER_ARGV0 "vsd-console"
#define VS_KEEPER_SOCK "console.sock"
#define VS_KEEPER_VERSION 1
/* console.log's bound, which the keeper holds itself (its only rotator):
 * past it the file moves to console.log.1 */
#define VS_KEEPER_LOG_MAX (1U << 20)

/* A request of vsd's: one per connection, with its descriptors beside it,
 * answered with an int32 errno (0: done). */
enum vs_keeper_op {
        /* fds: the pty's master, a slave kept open (no hangup between
         * openers), console.log (O_APPEND), the init's pidfd (the console
         * ends with it). A console of the same name is replaced. */
        VS_KEEPER_ADD = 1,
        /* fds: a stream socket that the keeper relays to the console
         * (vsd hands its peer to vsctl); ENOENT: no such console */
        VS_KEEPER_ATTACH,
        /* fds: a pidfd of the vsd that started the keeper: the keeper
         * stays while that vsd lives, also without a console, so that the
         * next start finds it (starting one cost a start 3 ms) */
        VS_KEEPER_HOLD,
        /* fds: a pipe's write end, kept until the keeper ends: vsd's hold
         * is let go, and a keeper without a console ends (vsd's exit with
         * no VPS running waits for the pipe's end) */
        VS_KEEPER_RELEASE,
};
#define VS_KEEPER_ADD_FDS 4

struct vs_keeper_msg {
        uint32_t version;
        uint32_t op;
        char name[VS_NAME_MAX + 1];
};

/* Serves the consoles handed to it until the last one ends (and its
 * vsd's hold, if it has one, is gone). */
void vs_keeper_run(void) __attribute__((noreturn));

#endif
