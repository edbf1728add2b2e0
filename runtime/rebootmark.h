/* A reboot(2) inside a VPS, as its seccomp listener (vsview's vsnotify.c)
 * saw it, for vsd to read once the init has ended. After a restart of vsd
 * the init is not vsd's child, and before Linux 6.15 its wait status (the
 * kernel's SIGHUP for a restart, SIGINT for a halt or power-off) is lost
 * once its reaper collected it: the mark is then what tells a reboot from
 * a stop.
 *
 * One file a VPS, run/paene/reboot.d/NAME, written only by the listener of
 * that VPS (the name is the listener's, never the caller's word) and out of
 * every VPS's reach. It names the init whose end it explains (pid, boot,
 * start time, pid namespace): vsd takes it only for that init, so that a
 * mark of an earlier run, or one written for a call that did not reboot,
 * never restarts a later one. */
#ifndef VS_RUNTIME_REBOOTMARK_H
#define VS_RUNTIME_REBOOTMARK_H

#include <sys/types.h>

#include "vs/error.h"
#include "vs/procid.h"

#define VSD_REBOOT_DIR "reboot.d" /* under run/paene */

/* Records that the init `pid` (with identity `id`) is about to end by
 * `signo`: SIGHUP (restart) or SIGINT (halt, power-off). Atomic (a reader
 * sees the whole mark or none); not fsynced: a crash of the machine ends
 * the init too, and the next boot's vsd adopts nothing. */
int vsd_reboot_mark_write(int dirfd, const char *name, int signo, pid_t pid, const vs_procid_t *id,
                          vs_error_t *err);

/* Takes (reads and removes) the mark of `name`: SIGHUP or SIGINT when it
 * names the init `pid` with identity `id`, else 0 (none, malformed, or
 * another init's). */
int vsd_reboot_mark_take(int dirfd, const char *name, pid_t pid, const vs_procid_t *id);

/* Removes the mark of `name` (a new run of it starts). */
void vsd_reboot_mark_clear(int dirfd, const char *name);

#endif
