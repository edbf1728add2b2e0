/* The slice time and bytes subsystem's files and tick: the usage file
 * NAME.usage beside the slice file (read by slicefile.c), vsd.conf's
 * throttle_rate and budget_window, and the step of every slice each tick. */
#include "sliceusage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/log.h"
#include "vs/netns.h"
#include "vs/parse.h"
#include "slicetime.h"
#include "store.h"
#include "vsd.h"

/* a decimal key, absent or empty: 0 */
static int number_of(const vs_kv_t *kv, const char *key, uint64_t max, uint64_t *out,
                     vs_error_t *err)
{
        const char *text = vs_kv_get(kv, key);

        *out = 0;
        if (!text || !*text)
                return 0;
        return vs_parse_uint(text, 0, max, key, out, err);
}

/* ---- the usage file ---- */

static char *usage_name(const char *slice)
{
        return vs_strdupf("%s.usage", slice);
}

/* A usage file that does not parse starts the counts again, logged: it is
 * vsd's own, written atomically, so that is a disk's fault, not an edit. */
int vsd_slice_usage_load(struct vsd *d, const char *slice, struct vsd_slice_usage *u)
{
        cleanup_free char *name = usage_name(slice);
        cleanup_close int dirfd = vsd_slices_dir(d, NULL);
        cleanup_kv vs_kv_t kv = { 0 };
        vs_error_t err = { 0 };
        uint64_t start, warned;

        memset(u, 0, sizeof(*u));
        if (dirfd < 0 || vs_kv_load_optional(dirfd, name, &kv, &err) < 0 ||
            number_of(&kv, "window_start", INT64_MAX, &start, &err) < 0 ||
            number_of(&kv, "used", UINT64_MAX, &u->used, &err) < 0 ||
            number_of(&kv, "warned", INT64_MAX, &warned, &err) < 0) {
                if (err.msg[0])
                        vs_log(LOG_WARNING, "slice %s: %s: %s; counting from 0", slice, name,
                               err.msg);
                memset(u, 0, sizeof(*u));
                return -1;
        }
        u->window_start = (int64_t)start;
        u->warned = (int64_t)warned;
        for (size_t i = 0; i < kv.count; i++)
                if (kv.lines[i].key && strncmp(kv.lines[i].key, "vps.", 4) == 0)
                        vs_kv_set(&u->readings, kv.lines[i].key, kv.lines[i].value);
        return 0;
}

int vsd_slice_usage_save(struct vsd *d, const char *slice, const struct vsd_slice_usage *u,
                         vs_error_t *err)
{
        cleanup_free char *name = usage_name(slice);
        cleanup_close int dirfd = vsd_slices_dir(d, NULL);
        cleanup_kv vs_kv_t kv = { 0 };

        if (dirfd < 0)
                return vs_error_errno(err, "slices directory");
        vs_kv_setf(&kv, "window_start", "%lld", (long long)u->window_start);
        vs_kv_setf(&kv, "used", "%llu", (unsigned long long)u->used);
        vs_kv_setf(&kv, "warned", "%lld", (long long)u->warned);
        for (size_t i = 0; i < u->readings.count; i++)
                if (u->readings.lines[i].key)
                        vs_kv_set(&kv, u->readings.lines[i].key, u->readings.lines[i].value);
        /* not fsync'd: each tick may write it, and a crash of vsd loses
         * nothing of it (the page cache has it); a crash of the node loses
         * the counts of the writes the kernel had not written back */
        return vs_kv_save(dirfd, name, &kv, 0, err);
}

void vsd_slice_usage_free(struct vsd_slice_usage *u)
{
        vs_kv_free(&u->readings);
}

/* ---- vsd.conf ---- */

int vsd_slicetime_conf_load(struct vsd *d, vs_error_t *err)
{
        struct vsd_slicetime conf = { VSD_THROTTLE_RATE_DEFAULT, VSD_BUDGET_WINDOW_DEFAULT, NULL };
        cleanup_kv vs_kv_t kv = { 0 };
        const char *text;

        if (vsd_conf_load(d, &kv, err) < 0)
                return -1;
        if ((text = vs_kv_get(&kv, "throttle_rate"))) {
                if (vs_rate_parse(text, "vsd.conf: throttle_rate", &conf.throttle_rate, err) < 0)
                        return -1;
                if (!conf.throttle_rate)
                        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                             "vsd.conf: throttle_rate must be a rate, not none");
        }
        /* a day in service; tests make it seconds to see the window end */
        if ((text = vs_kv_get(&kv, "budget_window"))) {
                uint64_t ms;

                if (vs_parse_duration(text, &ms, err) < 0)
                        return vs_error_wrap(err, "vsd.conf: budget_window");
                if (ms < 1000 || ms > 30ULL * 86400 * 1000)
                        return vs_error_kind(err, VS_E_USAGE, ERANGE,
                                             "vsd.conf: budget_window must be 1s to 30 days");
                conf.window = (int64_t)(ms / 1000);
        }
        if (!d->slicetime) {
                d->slicetime = calloc(1, sizeof(*d->slicetime));
                if (!d->slicetime)
                        return vs_error_errno(err, "slice budgets");
        }
        d->slicetime->throttle_rate = conf.throttle_rate;
        d->slicetime->window = conf.window;
        return 0;
}

void vsd_slicetime_free(struct vsd *d)
{
        if (!d->slicetime)
                return;
        while (d->slicetime->throttles) {
                struct vsd_throttle *next = d->slicetime->throttles->next;

                free(d->slicetime->throttles);
                d->slicetime->throttles = next;
        }
        free(d->slicetime);
        d->slicetime = NULL;
}

void vsd_slicetime_started(struct vsd *d, struct vps *v)
{
        struct vsd_slice_file f;
        struct vsd_slice_usage u;

        if (!d->slicetime || strcmp(v->slice, VS_DEFAULT_SLICE) == 0 ||
            vsd_slice_file_load(d, v->slice, &f, NULL, NULL) < 0)
                return;
        vsd_slice_usage_load(d, v->slice, &u);
        if (vsd_slicebytes_over(&f, &u) &&
            (int64_t)time(NULL) < u.window_start + d->slicetime->window)
                vsd_slicebytes_throttle(d, v, &f, &u);
        vsd_slice_usage_free(&u);
}

int vsd_slice_time_describe(struct vsd *d, const char *slice, vs_slice_time_t *out, vs_error_t *err)
{
        struct vsd_slice_file f;
        struct vsd_slice_usage u;
        int64_t now = (int64_t)time(NULL);

        memset(out, 0, sizeof(*out));
        if (!vsd_slice_file_exists(d, slice))
                return vs_error_kind(err, VS_E_NOTFOUND, ENOENT, "no such slice '%s'", slice);
        if (vsd_slice_file_load(d, slice, &f, NULL, err) < 0)
                return -1;
        vsd_slice_usage_load(d, slice, &u);
        vs_strlcpy(out->name, slice, sizeof(out->name));
        out->expires = f.expires;
        out->left = f.expires ? f.expires - now : 0;
        out->budget = f.budget;
        out->throttle_rate = d->slicetime ? d->slicetime->throttle_rate : 0;
        /* a window past its end is one the next tick closes: none open */
        if (u.window_start && d->slicetime && now < u.window_start + d->slicetime->window) {
                out->used = u.used;
                out->window_start = u.window_start;
                out->resets = u.window_start + d->slicetime->window;
                out->throttled = vsd_slicebytes_over(&f, &u);
        }
        vsd_slice_usage_free(&u);
        return 0;
}
