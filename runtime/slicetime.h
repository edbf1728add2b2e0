/* A slice's time and bytes (issue 15, after PlanetLab's NodeManager):
 * expiry (the slice file's `expires`, unix seconds UTC) and the daily byte
 * budget (`bytes_per_day`). Both run on vsd's tick, no thread of their own:
 * at its expiry a slice's running VPS are stopped cleanly (never
 * destroyed) and no VPS of it starts until `slice renew`; a day before, a
 * warning goes to the log and the events once. Past its budget of bytes
 * sent in the current window, every VPS of the slice is throttled out to
 * vsd.conf's throttle_rate until the window ends.
 *
 * The window is a fixed one that opens at the first byte counted and lasts
 * budget_window (vsd.conf, default 24h: tests set seconds); the next opens
 * at the next byte counted after it ended. What was counted, when the
 * window opened, the warning sent, and each running VPS's last counter
 * reading are kept in var/lib/paene/slices/NAME.usage (written atomically
 * at each change), so a restarted or crashed vsd goes on from there. */
#ifndef VS_RUNTIME_SLICETIME_H
#define VS_RUNTIME_SLICETIME_H

#include <stdint.h>

#include "vs/error.h"
#include "vs/reply.h"

struct vsd;
struct vps;

#define VSD_THROTTLE_RATE_DEFAULT 1000000ULL /* 1M bit/s */
#define VSD_BUDGET_WINDOW_DEFAULT 86400LL    /* seconds: a day */
#define VSD_EXPIRY_WARNING 86400LL           /* warn this long before */

/* vsd.conf's throttle_rate and budget_window, at start and on SIGHUP; a
 * bad value is refused whole (the old ones stay). */
int vsd_slicetime_conf_load(struct vsd *d, vs_error_t *err);
/* Each tick: expiry, warnings, counting, throttling, for every slice. */
void vsd_slicetime_tick(struct vsd *d);
/* What the module holds (vsd exits). */
void vsd_slicetime_free(struct vsd *d);

/* Whether a VPS of the slice may start now: -1 (VS_E_STATE) with "slice S
 * expired at ...; renew it (...)" when its slice has expired. */
int vsd_slicetime_may_start(struct vsd *d, const struct vps *v, vs_error_t *err);

/* A VPS started: throttled at once when its slice is past its budget (a
 * restart does not buy a tick at full rate). */
void vsd_slicetime_started(struct vsd *d, struct vps *v);

/* Seconds until the slice expires (<= 0: expired); VSD_NO_EXPIRY when it
 * has no expiry or no file (for slice list and status). */
#define VSD_NO_EXPIRY INT64_MAX
int64_t vsd_slice_seconds_left(struct vsd *d, const char *slice, int64_t now);
/* The slice's expiry and byte figures as slice usage and status show them;
 * -1 (VS_E_NOTFOUND) when the slice has no file. */
int vsd_slice_time_describe(struct vsd *d, const char *slice, vs_slice_time_t *out,
                            vs_error_t *err);
/* Sets the slice's expiry from DATE or +DURATION (vsctl slice renew),
 * rewriting its file atomically; a time not in the future is refused
 * (usage) and nothing changes. */
int vsd_slice_renew(struct vsd *d, const char *slice, const char *text, vs_error_t *err);

/* ---- pure parts (unit tests) ---- */

/* "YYYY-MM-DD[THH:MM[:SS]]" (UTC) or "+N" with d h m s: into *out unix
 * seconds; now is the clock for the relative form. Syntax only: a past
 * time parses. */
int vsd_slice_parse_expires(const char *text, int64_t now, int64_t *out, vs_error_t *err);
/* "2026-12-03 07:00:00 UTC"; buf needs 32 bytes. */
void vsd_slice_format_utc(int64_t when, char *buf, size_t size);
/* The bytes a VPS sent since the last reading: its host side's counter
 * (tx, what the VPS sent) against the last (last_pid, last_tx). A new run
 * (another init pid) has a new veth whose counter began at 0; a counter
 * below the last one was reset (a veth made again) and began at 0 too. */
uint64_t vsd_slice_sent_delta(int last_pid, uint64_t last_tx, int pid, uint64_t tx);

#endif
