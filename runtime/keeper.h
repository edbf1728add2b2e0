/* The console keeper's loop (see console.c): libc only, so that the static
 * vsinit carries it too. vsd execs vsinit as the keeper (a few hundred KiB
 * instead of a forked vsd's two MiB) and runs the loop in the forked
 * process itself where it has no vsinit. */
#ifndef VS_RUNTIME_KEEPER_H
#define VS_RUNTIME_KEEPER_H

/* The keeper's fds, at these numbers when it runs. */
enum {
        VS_KEEPER_MASTER = 3, /* the console pty's master, non-blocking */
        VS_KEEPER_SLAVE,      /* a slave kept open: no hangup between openers */
        VS_KEEPER_LOG,        /* console.log, O_APPEND */
        VS_KEEPER_PIDFD,      /* the VPS's init: the keeper ends with it */
        VS_KEEPER_LISTEN,     /* console.sock */
        VS_KEEPER_FIRST_FREE,
};

/* vsinit runs the loop when exec'd with this argv[0]. */
#define VS_KEEPER_ARGV0 "vsd-console"

/* Logs the console and relays one client until the init ends. */
void vs_keeper_run(void) __attribute__((noreturn));

#endif
