/* A slice's byte budget (slicetime.h): what its VPS send, read from the
 * host sides of their veths each tick, is added up in the slice's window;
 * past bytes_per_day its VPS are held to throttle_rate (or their own cap
 * out, when lower) until the window ends, then given their own caps back.
 * The throttle is the same TBF `set --rate-out` changes live; the VPS's
 * own cap (v->rate_out, its config, status) is left as it is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/kvfile.h"
#include "vs/log.h"
#include "vs/netns.h"
#include "sliceusage.h"
#include "slicetime.h"
#include "vsd.h"

uint64_t vsd_slice_sent_delta(int last_pid, uint64_t last_tx, int pid, uint64_t tx)
{
        if (last_pid != pid || tx < last_tx)
                return tx;
        return tx - last_tx;
}

int vsd_slicebytes_over(const struct vsd_slice_file *f, const struct vsd_slice_usage *u)
{
        return f->budget && u->window_start && u->used > f->budget;
}

/* "PID TX" of a reading; none: pid 0 */
static void reading_of(const vs_kv_t *readings, const char *key, int *pid, uint64_t *tx)
{
        const char *text = vs_kv_get(readings, key);
        unsigned long long t = 0;
        int p = 0;

        if (!text || sscanf(text, "%d %llu", &p, &t) != 2)
                p = 0, t = 0;
        *pid = p;
        *tx = t;
}

static int slice_runs_net(const struct vps *v, const char *slice)
{
        return v->phase != PHASE_STOPPED && v->ifname[0] && strcmp(v->slice, slice) == 0;
}

/* The bytes the slice's running VPS sent since the last tick; the readings
 * become this tick's (those of VPS no longer running go). */
static uint64_t count_sent(struct vsd *d, const char *slice, struct vsd_slice_usage *u)
{
        vs_kv_t fresh = { 0 };
        uint64_t sent = 0;
        cleanup_free char *before = vs_kv_format(&u->readings);
        cleanup_free char *after = NULL;

        for (struct vps *v = d->vps_list; v; v = v->next) {
                cleanup_free char *key = NULL;
                struct vs_net_counters c;
                uint64_t last_tx;
                int last_pid;

                if (!slice_runs_net(v, slice))
                        continue;
                key = vs_strdupf("vps.%s", v->name);
                reading_of(&u->readings, key, &last_pid, &last_tx);
                if (vs_net_vps_counters(d->net, v->name, &c, NULL) < 0) {
                        /* not readable now: the last reading stays */
                        if (last_pid)
                                vs_kv_set(&fresh, key, vs_kv_get(&u->readings, key));
                        continue;
                }
                /* the host side's counters are the VPS's view turned
                 * around: what the VPS sent is its tx */
                sent += vsd_slice_sent_delta(last_pid, last_tx, (int)v->pid, c.tx_bytes);
                vs_kv_setf(&fresh, key, "%d %llu", (int)v->pid, (unsigned long long)c.tx_bytes);
        }
        after = vs_kv_format(&fresh);
        if (strcmp(before, after) != 0)
                u->dirty = 1;
        vs_kv_free(&u->readings);
        u->readings = fresh;
        return sent;
}

static struct vsd_throttle *throttle_of(struct vsd_slicetime *st, const char *vps)
{
        for (struct vsd_throttle *t = st->throttles; t; t = t->next)
                if (strcmp(t->vps, vps) == 0)
                        return t;
        return NULL;
}

static void throttle_forget(struct vsd_slicetime *st, struct vsd_throttle *gone)
{
        for (struct vsd_throttle **p = &st->throttles; *p; p = &(*p)->next) {
                if (*p == gone) {
                        *p = gone->next;
                        free(gone);
                        return;
                }
        }
}

static void tell(struct vsd *d, const char *type, const struct vps *v, uint64_t rate)
{
        vs_event_t ev = { .type = type, .vps = v->name };

        vs_event_text(&ev, "slice", v->slice);
        vs_event_int(&ev, "rate_out", (long long)rate);
        d->hooks.event(d, &ev);
}

void vsd_slicebytes_throttle(struct vsd *d, struct vps *v, const struct vsd_slice_file *f,
                             const struct vsd_slice_usage *u)
{
        struct vsd_slicetime *st = d->slicetime;
        struct vsd_throttle *t = throttle_of(st, v->name);
        uint64_t rate =
                v->rate_out && v->rate_out < st->throttle_rate ? v->rate_out : st->throttle_rate;
        vs_error_t err = { 0 };
        char shown[24];

        /* held already, in this run, against the cap it has now */
        if (t && t->pid == (int)v->pid && t->own == v->rate_out)
                return;
        if (!v->ifname[0])
                return; /* no network: nothing to throttle */
        if (vs_net_vps_rate(d->net, v->name, VS_RATE_OUT, rate, &err) < 0) {
                vs_log(LOG_WARNING, "%s: throttle for slice %s: %s", v->name, f->name, err.msg);
                return;
        }
        if (!t) {
                t = calloc(1, sizeof(*t));
                if (!t)
                        return; /* applied; tried again next tick */
                vs_strlcpy(t->vps, v->name, sizeof(t->vps));
                t->next = st->throttles;
                st->throttles = t;
        }
        t->pid = (int)v->pid;
        t->own = v->rate_out;
        vs_rate_format(rate, shown, sizeof(shown));
        vs_log(LOG_NOTICE,
               "slice %s sent %llu bytes of its %llu a window: %s throttled out to %s for %lld s",
               f->name, (unsigned long long)u->used, (unsigned long long)f->budget, v->name, shown,
               (long long)(u->window_start + st->window - (int64_t)time(NULL)));
        tell(d, "slice-throttled", v, rate);
}

/* Its own cap again, if this run was throttled (a new run has it already). */
static void unthrottle(struct vsd *d, struct vps *v)
{
        struct vsd_throttle *t = throttle_of(d->slicetime, v->name);
        vs_error_t err = { 0 };

        if (!t)
                return;
        if (t->pid == (int)v->pid) {
                if (vs_net_vps_rate(d->net, v->name, VS_RATE_OUT, v->rate_out, &err) < 0) {
                        vs_log(LOG_WARNING, "%s: restore its cap out: %s", v->name, err.msg);
                        return; /* tried again next tick */
                }
                vs_log(LOG_NOTICE, "slice %s: the byte window ended: %s has its own cap out again",
                       v->slice, v->name);
                tell(d, "slice-unthrottled", v, v->rate_out);
        }
        throttle_forget(d->slicetime, t);
}

/* The throttles of VPS that are gone or stopped go with them. */
static void forget_gone(struct vsd *d)
{
        struct vsd_throttle *t = d->slicetime->throttles, *next;

        for (; t; t = next) {
                struct vps *v = vsd_vps_find(d, t->vps);

                next = t->next;
                if (!v || v->phase == PHASE_STOPPED)
                        throttle_forget(d->slicetime, t);
        }
}

void vsd_slicebytes_step(struct vsd *d, const struct vsd_slice_file *f, struct vsd_slice_usage *u,
                         int64_t now)
{
        struct vsd_slicetime *st = d->slicetime;
        uint64_t sent;
        int over;

        if (u->window_start && now >= u->window_start + st->window) {
                if (f->budget)
                        vs_log(LOG_INFO, "slice %s: its byte window ended with %llu bytes sent",
                               f->name, (unsigned long long)u->used);
                u->window_start = 0;
                u->used = 0;
                u->dirty = 1;
        }
        sent = count_sent(d, f->name, u);
        if (sent) {
                if (!u->window_start)
                        u->window_start = now;
                u->used += sent;
                u->dirty = 1;
        }
        over = vsd_slicebytes_over(f, u);
        forget_gone(d);
        for (struct vps *v = d->vps_list; v; v = v->next) {
                if (!slice_runs_net(v, f->name))
                        continue;
                if (over)
                        vsd_slicebytes_throttle(d, v, f, u);
                else
                        unthrottle(d, v);
        }
}
