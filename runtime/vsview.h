/* vsview's two servers of the view: the FUSE one (vsview.c: /proc files)
 * and the seccomp listener (vsnotify.c: sysinfo and sched_getaffinity; and
 * reboot, which it marks for vsd). */
#ifndef VS_RUNTIME_VSVIEW_H
#define VS_RUNTIME_VSVIEW_H

#include <stdint.h>
#include <sys/types.h>

#include "vs/procview.h"

/* Calls fn with the source of the VPS `name` and the host's figures, under
 * the table's read lock. Returns fn's result, or -ENOENT for no such VPS. */
int vsview_with_vps(const char *name,
                    int (*fn)(vs_view_src_t *src, const vs_view_host_t *host, void *arg),
                    void *arg);

/* The limits of the VPS `name` changed: its files' pages go now, and their
 * next reads render anew. */
void vsview_vps_changed(const char *name);

/* The host pid of the VPS `name`'s init as vsd registered it, or 0. */
pid_t vsview_init_pid(const char *name);

/* The listener thread; in-flight requests are kept in inflight_fd (a memfd
 * vsd made and keeps), so that the next server answers what this one had
 * taken when it died. reboot_fd: run/paene/reboot.d, where a reboot(2)
 * inside a VPS is marked (rebootmark.h), or -1. */
int vsnotify_start(int inflight_fd, int reboot_fd);
#define VSVIEW_INFLIGHT_BYTES 8192
/* Serves one control connection of vsd's until it ends:
 *   "notify ID NAME" + fd   a listener of the VPS NAME (vsd keeps a copy)
 *   "list"                  every listener back ("notify ID NAME" + fd
 *                           each), then "end": a new vsd's copies
 *   "changed NAME"          NAME's limits changed (vsd's set): answered
 *                           "changed" once its view shows them */
void vsnotify_serve_ctl(int sock);

#endif
