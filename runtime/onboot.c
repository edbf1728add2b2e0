/* Autostart: VPS with "onboot = yes" start when vsd starts after a boot of
 * the host, not after a restart of vsd alone (which re-adopts the running
 * VPS and leaves the stopped ones stopped). vsd records the boot id it last
 * ran under in <root>/var/lib/paene/boot_id: another id, or none, is a new
 * boot. The VPS start in boot order (the higher bootorder first, as vzctl
 * does; without one: 0; ties by name), in batches of onboot_parallel
 * (vsd.conf, default 4) every onboot_interval (default 1s), so that a node
 * with many VPS does not boot them all at once; vsd serves requests in
 * between. Each result goes to the log. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/kvfile.h"
#include "vs/log.h"
#include "vs/parse.h"
#include "vs/procid.h"
#include "store.h"
#include "vsd.h"

#define PARALLEL_DEFAULT 4
#define PARALLEL_MAX 1024
#define INTERVAL_DEFAULT_MS 1000
#define INTERVAL_MAX_MS 3600000

struct onboot_entry {
        char name[64];
        long long order;
};

struct vsd_onboot {
        struct onboot_entry *queue;
        size_t n, next;
        uint64_t parallel, interval_ms;
        int timerfd;
        struct ev ev;
};

/* Whether this vsd is the first of this boot; records the boot either way. */
static int first_of_boot(struct vsd *d)
{
        cleanup_free char *path = vs_strdupf("%s/var/lib/paene/boot_id", d->root);
        cleanup_free char *recorded = NULL;
        char now[VS_BOOT_ID_LEN + 1];
        vs_error_t err = { 0 };
        size_t len = 0;
        int is_new;

        if (vs_procid_boot_id(now, &err) < 0) {
                vs_log(LOG_WARNING, "onboot: %s: no VPS start on their own", err.msg);
                return 0;
        }
        if (vs_read_file(AT_FDCWD, path, 256, &recorded, &len, NULL) < 0)
                recorded = NULL;
        is_new = !recorded || strncmp(recorded, now, VS_BOOT_ID_LEN) != 0;
        if (is_new) {
                cleanup_free char *dir = vs_strdupf("%s/var/lib/paene", d->root);
                cleanup_close int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                cleanup_free char *line = vs_strdupf("%s\n", now);

                if (dirfd < 0 ||
                    vs_write_atomic(dirfd, "boot_id", line, strlen(line), 0644, 1, &err) < 0)
                        vs_log(LOG_WARNING, "onboot: record the boot id: %s",
                               dirfd < 0 ? strerror(errno) : err.msg);
        }
        return is_new;
}

/* A VPS's place in the queue, when its config says onboot = yes. */
static int wants_boot(struct vsd *d, struct vps *v, struct onboot_entry *e)
{
        cleanup_kv vs_kv_t config = { 0 };
        const char *onboot, *order;

        if (vsd_config_load(d, v->name, &config, NULL) < 0)
                return 0;
        onboot = vs_kv_get(&config, "onboot");
        if (!onboot || strcmp(onboot, "yes") != 0)
                return 0;
        order = vs_kv_get(&config, "bootorder");
        vs_strlcpy(e->name, v->name, sizeof(e->name));
        e->order = order ? atoll(order) : 0;
        return 1;
}

static int by_boot_order(const void *a, const void *b)
{
        const struct onboot_entry *x = a, *y = b;

        if (x->order != y->order)
                return x->order > y->order ? -1 : 1;
        return strcmp(x->name, y->name);
}

static uint64_t conf_number(const vs_kv_t *conf, const char *key, uint64_t absent, uint64_t max,
                            int duration)
{
        const char *text = vs_kv_get(conf, key);
        vs_error_t err = { 0 };
        uint64_t value;

        if (!text)
                return absent;
        if ((duration ? vs_parse_duration(text, &value, &err)
                      : vs_parse_uint(text, 1, max, key, &value, &err)) < 0 ||
            value > max) {
                vs_log(LOG_WARNING, "vsd.conf: %s = %s: %s; using %llu", key, text,
                       err.msg[0] ? err.msg : "too large", (unsigned long long)absent);
                return absent;
        }
        return value;
}

static void read_settings(struct vsd *d, struct vsd_onboot *ob)
{
        cleanup_kv vs_kv_t conf = { 0 };
        vs_error_t err = { 0 };

        if (vsd_conf_load(d, &conf, &err) < 0)
                vs_log(LOG_WARNING, "onboot: %s; using the defaults", err.msg);
        ob->parallel = conf_number(&conf, "onboot_parallel", PARALLEL_DEFAULT, PARALLEL_MAX, 0);
        ob->interval_ms =
                conf_number(&conf, "onboot_interval", INTERVAL_DEFAULT_MS, INTERVAL_MAX_MS, 1);
}

static void start_one(struct vsd *d, const struct onboot_entry *e)
{
        struct vps *v = vsd_vps_find(d, e->name);
        vs_error_t err = { 0 };

        if (!v) {
                vs_log(LOG_NOTICE, "onboot: %s is gone", e->name);
                return;
        }
        if (v->phase != PHASE_STOPPED) {
                vs_log(LOG_INFO, "onboot: %s runs already", e->name);
                return;
        }
        if (vsd_vps_start(d, v, &err) < 0) {
                vs_log(LOG_ERR, "onboot: %s did not start: %s", e->name, err.msg);
                return;
        }
        vs_log(LOG_INFO, "onboot: started %s (bootorder %lld, pid %d)", e->name, e->order,
               (int)v->pid);
}

/* A timerfd with a zero time is disarmed: at least 1 ms. */
static void arm(struct vsd_onboot *ob, uint64_t ms)
{
        struct itimerspec when;

        ms = ms ? ms : 1;
        when = (struct itimerspec){ .it_value = { (time_t)(ms / 1000),
                                                  (long)(ms % 1000) * 1000000 } };
        timerfd_settime(ob->timerfd, 0, &when, NULL);
}

static void finish(struct vsd *d)
{
        struct vsd_onboot *ob = d->onboot;

        vs_log(LOG_INFO, "onboot: done (%zu VPS)", ob->n);
        vsd_epoll_del(d, ob->timerfd);
        close(ob->timerfd);
        free(ob->queue);
        free(ob);
        d->onboot = NULL;
}

void vsd_onboot_step(struct vsd *d)
{
        struct vsd_onboot *ob = d->onboot;
        uint64_t ticks;

        if (!ob)
                return;
        (void)!read(ob->timerfd, &ticks, sizeof(ticks));
        for (uint64_t i = 0; i < ob->parallel && ob->next < ob->n; i++)
                start_one(d, &ob->queue[ob->next++]);
        if (ob->next < ob->n) {
                vs_log(LOG_INFO, "onboot: next batch in %llums",
                       (unsigned long long)ob->interval_ms);
                arm(ob, ob->interval_ms);
        } else
                finish(d);
}

void vsd_onboot_begin(struct vsd *d)
{
        struct vsd_onboot *ob;
        size_t cap = 0;

        if (!first_of_boot(d))
                return;
        ob = vs_xmalloc(sizeof(*ob));
        memset(ob, 0, sizeof(*ob));
        for (struct vps *v = d->vps_list; v; v = v->next)
                cap++;
        ob->queue = vs_xmalloc((cap + 1) * sizeof(*ob->queue));
        for (struct vps *v = d->vps_list; v; v = v->next)
                if (v->phase == PHASE_STOPPED && wants_boot(d, v, &ob->queue[ob->n]))
                        ob->n++;
        qsort(ob->queue, ob->n, sizeof(*ob->queue), by_boot_order);
        read_settings(d, ob);
        ob->ev = (struct ev){ EV_ONBOOT, ob };
        ob->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        vs_log(LOG_INFO, "onboot: a new boot: %zu VPS to start, %llu at a time", ob->n,
               (unsigned long long)ob->parallel);
        if (ob->timerfd < 0 || vsd_epoll_add(d, ob->timerfd, &ob->ev, EPOLLIN) < 0) {
                vs_log(LOG_ERR, "onboot: timer: %s", strerror(errno));
                if (ob->timerfd >= 0)
                        close(ob->timerfd);
                free(ob->queue);
                free(ob);
                return;
        }
        d->onboot = ob;
        /* the first batch at once, from the loop: the socket answers by then */
        arm(ob, 1);
}
