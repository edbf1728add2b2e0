/* A slice's time: the expiry date and its warning, the start refusal, the
 * renewal, and the parsing and formatting of times (slicetime.h). The byte
 * budget is slicebytes.c's; both share the usage file (sliceusage.c). */
#include "slicetime.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/kvfile.h"
#include "vs/log.h"
#include "vs/parse.h"
#include "sliceusage.h"
#include "vsd.h"

/* ---- pure ---- */

void vsd_slice_format_utc(int64_t when, char *buf, size_t size)
{
        time_t t = (time_t)when;
        struct tm tm;

        if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm))
                snprintf(buf, size, "@%lld", (long long)when);
}

/* Seconds in a unit of +N: d, h, m or s; 0 for anything else. */
static uint64_t duration_unit(char unit)
{
        switch (unit) {
        case 'd':
                return 86400;
        case 'h':
                return 3600;
        case 'm':
                return 60;
        case 's':
                return 1;
        default:
                return 0;
        }
}

/* +N with a unit d h m s: seconds */
static int parse_relative(const char *text, int64_t now, int64_t *out, vs_error_t *err)
{
        uint64_t n, unit = 0;
        const char *end = vs_scan_uint(text + 1, (uint64_t)INT32_MAX, &n);

        if (end && end[0] && !end[1])
                unit = duration_unit(end[0]);
        if (!unit)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "--expires '%s': not a duration (+N with d, h, m or s: +30d)",
                                     text);
        *out = now + (int64_t)(n * unit);
        return 0;
}

/* YYYY-MM-DD[THH:MM[:SS]], UTC: every field of its width, in range */
static int parse_date(const char *text, int64_t *out, vs_error_t *err)
{
        struct tm tm = { 0 };
        int y, mo, da, h = 0, mi = 0, s = 0, used = 0;
        size_t len = strlen(text);
        time_t t;

        if (len == 10)
                sscanf(text, "%4d-%2d-%2d%n", &y, &mo, &da, &used);
        else if (len == 16)
                sscanf(text, "%4d-%2d-%2dT%2d:%2d%n", &y, &mo, &da, &h, &mi, &used);
        else if (len == 19)
                sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &da, &h, &mi, &s, &used);
        for (size_t i = 0; (size_t)used == len && i < len; i++)
                if ((text[i] < '0' || text[i] > '9') && i != 4 && i != 7 && i != 10 && i != 13 &&
                    i != 16)
                        used = 0;
        if ((size_t)used != len || len == 0 || y < 1970 || mo < 1 || mo > 12 || da < 1 || da > 31 ||
            h > 23 || mi > 59 || s > 59)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "--expires '%s': not a date (YYYY-MM-DD[THH:MM[:SS]] UTC, "
                                     "or +N with d, h, m or s)",
                                     text);
        tm.tm_year = y - 1900;
        tm.tm_mon = mo - 1;
        tm.tm_mday = da;
        tm.tm_hour = h;
        tm.tm_min = mi;
        tm.tm_sec = s;
        t = timegm(&tm);
        /* timegm normalizes 2027-02-30 to March: refuse what it moved */
        if (tm.tm_mday != da || tm.tm_mon != mo - 1)
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "--expires '%s': no such day", text);
        *out = (int64_t)t;
        return 0;
}

int vsd_slice_parse_expires(const char *text, int64_t now, int64_t *out, vs_error_t *err)
{
        if (!text || !*text)
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "--expires: empty");
        if (text[0] == '+')
                return parse_relative(text, now, out, err);
        return parse_date(text, out, err);
}

/* ---- the slice file's expiry ---- */

int64_t vsd_slice_seconds_left(struct vsd *d, const char *slice, int64_t now)
{
        struct vsd_slice_file f;

        if (vsd_slice_file_load(d, slice, &f, NULL, NULL) < 0 || !f.expires)
                return VSD_NO_EXPIRY;
        return f.expires - now;
}

int vsd_slicetime_may_start(struct vsd *d, const struct vps *v, vs_error_t *err)
{
        struct vsd_slice_file f;
        char when[40];

        if (strcmp(v->slice, VS_DEFAULT_SLICE) == 0 ||
            vsd_slice_file_load(d, v->slice, &f, NULL, NULL) < 0 || !f.expires ||
            f.expires > (int64_t)time(NULL))
                return 0;
        vsd_slice_format_utc(f.expires, when, sizeof(when));
        return vs_error_kind(
                err, VS_E_STATE, EKEYEXPIRED,
                "slice %s expired at %s; renew it (vsctl slice renew %s --expires ...)", v->slice,
                when, v->slice);
}

int vsd_slice_renew(struct vsd *d, const char *slice, const char *text, vs_error_t *err)
{
        int64_t now = (int64_t)time(NULL), when;
        char shown[40];

        if (!vsd_slice_file_exists(d, slice))
                return vs_error_kind(err, VS_E_NOTFOUND, ENOENT, "no such slice '%s'", slice);
        if (vsd_slice_parse_expires(text, now, &when, err) < 0)
                return -1;
        if (when <= now) {
                vsd_slice_format_utc(when, shown, sizeof(shown));
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "--expires '%s': %s is in the past",
                                     text, shown);
        }
        if (vsd_slice_file_set(d, slice, "expires", when, err) < 0)
                return -1;
        vsd_slice_format_utc(when, shown, sizeof(shown));
        vs_log(LOG_INFO, "slice %s renewed: expires at %s", slice, shown);
        return 0;
}

/* ---- on the tick ---- */

static void tell(struct vsd *d, const char *type, const char *vps, const char *slice,
                 int64_t expires)
{
        vs_event_t ev = { .type = type, .vps = vps };

        vs_event_text(&ev, "slice", slice);
        vs_event_int(&ev, "expires", (long long)expires);
        d->hooks.event(d, &ev);
}

/* Expired: every running VPS of it is asked to stop, as `vsctl stop` does
 * (its init's halt, SIGKILL after the stop timeout); a VPS stopping already
 * is left to it. */
static void stop_expired(struct vsd *d, const char *slice, int64_t expires)
{
        char when[40];

        vsd_slice_format_utc(expires, when, sizeof(when));
        for (struct vps *v = d->vps_list; v; v = v->next) {
                vs_error_t err = { 0 };

                if (v->phase != PHASE_RUNNING || strcmp(v->slice, slice) != 0)
                        continue;
                vs_log(LOG_NOTICE, "slice %s expired at %s: stopping %s", slice, when, v->name);
                if (vsd_vps_stop_begin(d, v, VS_STOP_TIMEOUT_MS, &err) < 0) {
                        vs_log(LOG_ERR, "stop %s of expired slice %s: %s", v->name, slice, err.msg);
                        continue;
                }
                tell(d, "slice-expired", v->name, slice, expires);
        }
}

/* A day before: once for this expiry (the usage file remembers which, so a
 * restarted vsd does not repeat it, and a renewal arms the next one). */
static void warn_expiry(struct vsd *d, const char *slice, int64_t expires,
                        struct vsd_slice_usage *u)
{
        char when[40];

        if (u->warned == expires)
                return;
        vsd_slice_format_utc(expires, when, sizeof(when));
        vs_log(LOG_WARNING,
               "slice %s expires at %s (in less than a day); renew it with vsctl "
               "slice renew %s --expires ...",
               slice, when, slice);
        /* of no VPS (""): the events stream gives it to admins */
        tell(d, "slice-expiring", "", slice, expires);
        u->warned = expires;
        u->dirty = 1;
}

void vsd_slicetime_expiry_step(struct vsd *d, const struct vsd_slice_file *f,
                               struct vsd_slice_usage *u, int64_t now)
{
        if (!f->expires)
                return;
        if (f->expires <= now)
                stop_expired(d, f->name, f->expires);
        else if (f->expires - now <= VSD_EXPIRY_WARNING)
                warn_expiry(d, f->name, f->expires, u);
}

/* ---- the tick ---- */

static void slice_step(struct vsd *d, const char *slice, int64_t now)
{
        struct vsd_slice_file f;
        struct vsd_slice_usage u;
        vs_error_t err = { 0 };

        if (vsd_slice_file_load(d, slice, &f, NULL, NULL) < 0)
                return;
        vsd_slice_usage_load(d, slice, &u);
        vsd_slicetime_expiry_step(d, &f, &u, now);
        vsd_slicebytes_step(d, &f, &u, now);
        if (u.dirty && vsd_slice_usage_save(d, slice, &u, &err) < 0)
                vs_log(LOG_WARNING, "slice %s: usage: %s", slice, err.msg);
        vsd_slice_usage_free(&u);
}

void vsd_slicetime_tick(struct vsd *d)
{
        cleanup_free char *path = vs_strdupf("%s/var/lib/paene/slices", d->root);
        cleanup_closedir DIR *dir = opendir(path);
        struct dirent *e;
        int64_t now = (int64_t)time(NULL);

        if (!d->slicetime)
                return;
        while (dir && (e = readdir(dir)))
                /* NAME.usage is not a slice, nor "default" a file's */
                if (vs_parse_name(e->d_name, "slice name", NULL) == 0 &&
                    strcmp(e->d_name, VS_DEFAULT_SLICE) != 0)
                        slice_step(d, e->d_name, now);
}
