/* How to stop a VPS's init cleanly, told from the program it runs: each
 * init has its own shutdown request, and what one takes as "halt" another
 * takes as "reboot" (sysvinit's SIGINT is Ctrl-Alt-Del). */
#ifndef VS_INITSIG_H
#define VS_INITSIG_H

#include "vs/error.h"

typedef enum {
        VS_INIT_UNKNOWN,
        VS_INIT_SYSTEMD,  /* SIGRTMIN+3: halt */
        VS_INIT_SYSVINIT, /* a runlevel 0 request on /run/initctl */
        VS_INIT_BUSYBOX,  /* SIGUSR2: poweroff */
        VS_INIT_VSINIT,   /* SIGPWR */
} vs_init_kind_t;

/* The kind of init from the target of its /proc/PID/exe, as readlink
 * gives it ("/usr/lib/systemd/systemd", "/bin/busybox", "/sbin/init",
 * "/memfd:vsinit (deleted)"). */
vs_init_kind_t vs_init_kind_of_exe(const char *exe);
const char *vs_init_kind_name(vs_init_kind_t kind);
/* The signal that asks that kind of init to halt; 0 for sysvinit, whose
 * request goes through its control FIFO (vs_init_sysv_halt). */
int vs_init_stop_signal(vs_init_kind_t kind);
/* Asks the sysvinit running as process `pid` for runlevel 0 through its
 * /run/initctl, opened inside the VPS's root (its symlinks resolve there).
 * Fails when it has none or it does not listen. */
int vs_init_sysv_halt(int pid, vs_error_t *err);

#endif
