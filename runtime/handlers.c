/* vsd's request handlers: read the arguments, call the lifecycle, answer.
 * Every request has been held to the protocol's table before it gets here
 * (vs_request_decode): the fields have their types, lengths and valid
 * contents, and are read with the typed vs_req_* accessors. What is left
 * here is what needs vsd's state (does the VPS exist, is it running) or
 * more than one field. Commands that wait (stop, restart, destroy --force,
 * exec) park the client and answer from the event that ends the wait;
 * long work (clone, template import, build, unify) runs in a worker
 * (work.c), and a request that conflicts with one is refused busy. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vs/spawn.h"
#include "vs/cleanup.h"
#include "vs/cowfs.h"
#include "vs/diskquota.h"
#include "vs/fsutil.h"
#include "vs/log.h"
#include "vs/parse.h"
#include "store.h"
#include "authz.h"
#include "later.h"
#include "slice.h"
#include "slicecmd.h"
#include "serve.h"
#include "slicetime.h"

static void reply_ok(struct vsd *d, struct client *c)
{
        vsd_client_reply(d, c, vs_reply_ok(), NULL, 0);
}

static struct vps *find_named(struct vsd *d, const vs_request_t *req, vs_error_t *err)
{
        struct vps *v = vsd_vps_find(d, req->name);

        if (!v)
                vs_error_kind(err, VS_E_NOTFOUND, ENOENT, "no such VPS");
        return v;
}

/* destroy is idempotent: what is gone stays gone */
static int reply_absent(struct vsd *d, struct client *c)
{
        vsd_client_reply(d, c, vs_reply_absent(), NULL, 0);
        return 0;
}

/* The answer to a request naming a VPS that does not exist, as its handler
 * gives it: what an owner gets for another slice's VPS too (authz.c). */
static int reply_missing(struct vsd *d, struct client *c, const vs_request_t *req)
{
        vs_error_t err = { 0 };

        if (strcmp(req->cmd, VS_CMD_DESTROY) == 0)
                return reply_absent(d, c);
        find_named(d, &(vs_request_t){ .name = "" }, &err);
        vsd_client_reply_error(d, c, &err);
        return 0;
}

static void park(struct client *c, enum wait_kind kind, struct vps *v)
{
        c->wait = kind;
        c->vps = v;
}

static uint64_t timeout_arg(const vs_request_t *req)
{
        if (vs_req_bool(req, "fast"))
                return 0;
        return (uint64_t)vs_req_int(req, "timeout_ms", VS_STOP_TIMEOUT_MS);
}

static int handle_ping(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        (void)req;
        (void)err;
        vsd_client_reply(d, c,
                         vs_reply_ping(*d->root ? d->root : "/",
                                       vs_cgroup_mode_name(vs_cgroup_tree_mode(d->cgtree)),
                                       (long)getpid(),
                                       c->role == VSD_ROLE_ADMIN ? "admin" : "owner"),
                         NULL, 0);
        return 0;
}

/* args.rate_out and args.rate_in, the bandwidth caps as the admin typed
 * them. */
static int rates_arg(const vs_request_t *req, struct vsd_rates *r, vs_error_t *err)
{
        const char *out = vs_req_str(req, "rate_out");
        const char *in = vs_req_str(req, "rate_in");

        memset(r, 0, sizeof(*r));
        if (out && vs_rate_parse(out, "--rate-out", &r->out, err) < 0)
                return -1;
        if (in && vs_rate_parse(in, "--rate-in", &r->in, err) < 0)
                return -1;
        r->set_out = out != NULL;
        r->set_in = in != NULL;
        return 0;
}

/* The network arguments of create and set, each NULL when not given:
 * addresses to add and remove (checked against the pools by vpsnet.c),
 * name servers and search domains, checked and joined by blanks, and port
 * forwards to add and remove (checked by vsd_net_forwards_plan). */
struct net_args {
        char **ipadd, **ipdel, **fwd_add, **fwd_del;
        size_t nipadd, nipdel, nfwd_add, nfwd_del;
        char *nameserver, *searchdomain;
};

static void net_args_free(struct net_args *a)
{
        vs_strvfreep(&a->ipadd);
        vs_strvfreep(&a->ipdel);
        vs_strvfreep(&a->fwd_add);
        vs_strvfreep(&a->fwd_del);
        free(a->nameserver);
        free(a->searchdomain);
}
#define cleanup_net_args __attribute__((cleanup(net_args_free)))

static char *joined_arg(const vs_request_t *req, const char *key)
{
        size_t n;
        cleanup_strv char **words = vs_req_words(req, key, &n);
        char *out;

        if (!words)
                return NULL;
        out = vs_xstrdup("");
        for (size_t i = 0; i < n; i++) {
                char *more = vs_strdupf("%s%s%s", out, *out ? " " : "", words[i]);

                free(out);
                out = more;
        }
        return out;
}

/* create takes what to add; set also what to remove. */
static void net_args(const vs_request_t *req, int removals, struct net_args *a)
{
        memset(a, 0, sizeof(*a));
        a->ipadd = vs_req_words(req, "ipadd", &a->nipadd);
        a->nameserver = joined_arg(req, "nameserver");
        a->searchdomain = joined_arg(req, "searchdomain");
        a->fwd_add = vs_req_words(req, "port_forward", &a->nfwd_add);
        if (!removals)
                return;
        a->ipdel = vs_req_words(req, "ipdel", &a->nipdel);
        a->fwd_del = vs_req_words(req, "port_forward_del", &a->nfwd_del);
}

/* Addresses, name servers or search domains (port forwards are apart: they
 * go into the config by their own plan). */
static int net_args_given(const struct net_args *a)
{
        return a->ipadd || a->ipdel || a->nameserver || a->searchdomain;
}

/* --diskspace SIZE[:HARD] and --diskinodes N[:HARD], as the admin typed them. */
static int disk_limit_args(const vs_request_t *req, vs_disk_limits_t *lim, vs_error_t *err)
{
        const char *space = vs_req_str(req, "diskspace");
        const char *inodes = vs_req_str(req, "diskinodes");

        memset(lim, 0, sizeof(*lim));
        if (space && vs_disk_parse_space(space, &lim->space, err) < 0)
                return -1;
        if (inodes && vs_disk_parse_inodes(inodes, &lim->inodes, err) < 0)
                return -1;
        return 0;
}

/* args.onboot: -1 when not given. */
static int boot_arg(const vs_request_t *req)
{
        return vs_req_has(req, "onboot") ? vs_req_bool(req, "onboot") : -1;
}

static int handle_create(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        const char *tmpl = vs_req_str(req, "template");
        const char *hostname = vs_req_str(req, "hostname");
        vs_limits_t limits;
        vs_disk_limits_t lim;

        if (vs_req_limits_parse(req, "limits", &limits, err) < 0 ||
            vsd_limits_check(&limits, err) < 0 ||
            vsd_limits_fit(&limits, vs_req_bool(req, "force"), err) < 0 ||
            disk_limit_args(req, &lim, err) < 0)
                return -1;
        char slice[64], default_hostname[VS_NAME_MAX + 1];
        struct vsd_create_args args = {
                .tmpl = tmpl,
                .slice = vsd_authz_create_slice(d, c, req, slice, sizeof(slice)),
                .hostname = hostname ? hostname : vs_default_hostname(req->name, default_hostname),
                .privileged = vs_req_bool(req, "privileged"),
                .procview = vs_req_str(req, "procview"),
                .limits = &limits,
                .disk = &lim,
                .onboot = boot_arg(req),
                .bootorder = vs_req_int(req, "bootorder", -1),
        };
        cleanup_net_args struct net_args net = { 0 };
        cleanup_free char *port_forward = NULL;
        struct vsd_rates rates;
        int no_network;

        net_args(req, 0, &net);
        if (rates_arg(req, &rates, err) < 0)
                return -1;
        no_network = net.nipadd >= 1 && strcmp(net.ipadd[0], "none") == 0;
        if ((rates.out || rates.in) && no_network)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "--rate-out and --rate-in need a network (not --ipadd none)");
        if (net.nfwd_add && no_network)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "--port-forward needs an address (not --ipadd none)");
        if (net.nfwd_add) {
                if (vsd_vps_find(d, req->name))
                        return vs_error_kind(err, VS_E_STATE, EEXIST, "VPS already exists");
                port_forward = vsd_net_forwards_plan(d, NULL, net.fwd_add, NULL, err);
                if (!port_forward)
                        return -1;
        }
        if (vsd_slice_admit_new(d, args.slice, req->name, &limits, err) < 0)
                return -1;
        args.rates = &rates;
        args.ipadd = net.ipadd;
        args.nipadd = net.nipadd;
        args.nameserver = net.nameserver;
        args.searchdomain = net.searchdomain;
        args.port_forward = port_forward;
        if (vsd_vps_create(d, req->name, &args, err) < 0)
                return -1;
        vs_log(LOG_INFO, "created %s from template %s", req->name, tmpl);
        {
                vs_event_t ev = { .type = "created", .vps = req->name };

                vs_event_text(&ev, "template", tmpl);
                vsd_event(d, &ev);
        }
        reply_ok(d, c);
        return 0;
}

static int handle_start(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        struct vps *v = find_named(d, req, err);

        if (!v || vsd_vps_start(d, v, err) < 0)
                return -1;
        vs_log(LOG_INFO, "started %s (pid %d)", v->name, (int)v->pid);
        reply_ok(d, c);
        return 0;
}

static int handle_stop(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        struct vps *v = find_named(d, req, err);

        if (!v || vsd_vps_stop_begin(d, v, timeout_arg(req), err) < 0)
                return -1;
        park(c, WAIT_STOP, v);
        return 1;
}

static int handle_restart(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        struct vps *v = find_named(d, req, err);

        if (!v)
                return -1;
        if (v->phase == PHASE_STOPPED)
                return handle_start(d, c, req, err);
        /* refused before the stop: an expired slice's VPS would not come back */
        if (vsd_slicetime_may_start(d, v, err) < 0 ||
            vsd_vps_stop_begin(d, v, timeout_arg(req), err) < 0)
                return -1;
        park(c, WAIT_RESTART, v);
        return 1;
}

static int handle_destroy(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        struct vps *v = vsd_vps_find(d, req->name);

        if (!v)
                return reply_absent(d, c);
        if (v->phase != PHASE_STOPPED && vs_req_bool(req, "force")) {
                if (vsd_vps_stop_begin(d, v, 0, err) < 0)
                        return -1;
                park(c, WAIT_DESTROY, v);
                return 1;
        }
        if (vsd_vps_destroy(d, v, err) < 0)
                return -1;
        vs_log(LOG_INFO, "destroyed %s", req->name);
        reply_ok(d, c);
        return 0;
}

static int handle_resize(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        struct vps *v = find_named(d, req, err);
        vs_disk_limits_t lim;

        if (!v || disk_limit_args(req, &lim, err) < 0)
                return -1;
        if (!lim.space.hard)
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "--diskspace is required");
        if (vsd_vps_resize(d, v, &lim.space, err) < 0)
                return -1;
        vs_log(LOG_INFO, "resized the disk of %s to %llu bytes", v->name,
               (unsigned long long)lim.space.hard);
        reply_ok(d, c);
        return 0;
}

/* ---- long work, in a worker (work.c) ---- */

static struct vsd_work *new_work(const char *what)
{
        struct vsd_work *w = vs_xmalloc(sizeof(*w));

        vs_strlcpy(w->what, what, sizeof(w->what));
        w->pidfd = w->result_fd = -1;
        return w;
}

/* Starts w for c: 1 (parked) or -1 with err (w is freed). */
static int run_in_worker(struct vsd *d, struct client *c, struct vsd_work *w, vs_error_t *err)
{
        if (vsd_work_start(d, c, w, err) < 0) {
                vsd_clone_thaw(d, &w->clone);
                vsd_clone_free(&w->clone);
                free(w);
                return -1;
        }
        return 1;
}

static int clone_run(struct vsd *d, struct vsd_work *w, json_object *reply, vs_error_t *err)
{
        (void)reply;
        return vsd_clone_copy(d, &w->clone, err);
}

static int clone_done(struct vsd *d, struct vsd_work *w, vs_error_t *err)
{
        if (vsd_clone_publish(d, &w->clone, err) < 0)
                return -1;
        vs_log(LOG_INFO, "cloned %s into %s", w->clone.src, w->clone.name);
        {
                vs_event_t ev = { .type = "created", .vps = w->clone.name };

                vs_event_text(&ev, "clone_of", w->clone.src);
                vsd_event(d, &ev);
        }
        return 0;
}

static void clone_failed(struct vsd *d, struct vsd_work *w)
{
        vsd_clone_abort(d, &w->clone);
}

/* A clone copies every file of the source: in a worker, with the source
 * held (no start, destroy or change) and the new name, address and id range
 * reserved until it is published. */
/* A clone joins its source's slice: one more VPS of it (max_vps). */
static int clone_fits(struct vsd *d, struct vps *src, const char *name, vs_error_t *err)
{
        cleanup_kv vs_kv_t config = { 0 };
        vs_limits_t l;

        if (vsd_config_load(d, src->name, &config, err) < 0 ||
            vs_limits_from_config(&config, &l, err) < 0)
                return -1;
        return vsd_slice_admit_new(d, src->slice, name, &l, err);
}

static int handle_clone(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        struct vps *v = find_named(d, req, err);
        struct vsd_work *w;

        if (!v || clone_fits(d, v, vs_req_str(req, "new"), err) < 0)
                return -1;
        w = new_work("clone");
        if (vsd_clone_prepare(d, v, vs_req_str(req, "new"), vs_req_str(req, "hostname"), &w->clone,
                              err) < 0) {
                free(w);
                return -1;
        }
        w->vps = v;
        vs_strlcpy(w->vps_new, w->clone.name, sizeof(w->vps_new));
        w->reserved_ip = w->clone.ip;
        w->reserved_id = w->clone.shift.to;
        w->run = clone_run;
        w->done = clone_done;
        w->failed = clone_failed;
        return run_in_worker(d, c, w, err);
}

/* ---- snapshots (snapshot.c): each change in a worker holding the VPS ---- */

static void snapshot_event(struct vsd *d, const char *type, const struct vsd_work *w)
{
        vs_event_t ev = { .type = type, .vps = w->clone.src };

        vs_event_text(&ev, "snapshot", w->name);
        vsd_event(d, &ev);
}

static int snapshot_take_run(struct vsd *d, struct vsd_work *w, json_object *reply, vs_error_t *err)
{
        long long frozen_ms = 0;
        struct timespec t0, t1;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (vsd_snapshot_take(d, w, &frozen_ms, err) < 0)
                return -1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        vs_reply_add_snapshot_taken(reply, w->name,
                                    (t1.tv_sec - t0.tv_sec) * 1000LL +
                                            (t1.tv_nsec - t0.tv_nsec) / 1000000,
                                    w->clone.frozen || w->clone.live, frozen_ms);
        return 0;
}

static int snapshot_take_done(struct vsd *d, struct vsd_work *w, vs_error_t *err)
{
        (void)err;
        vs_log(LOG_INFO, "snapshot %s of %s taken%s", w->name, w->clone.src,
               w->clone.frozen ? " (frozen for the copy)"
               : w->clone.live ? " (copied running, frozen for the changes)"
                               : "");
        snapshot_event(d, "snapshot-taken", w);
        return 0;
}

static int handle_snapshot(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        struct vps *v = find_named(d, req, err);
        struct vsd_work *w;

        if (!v)
                return -1;
        w = new_work("snapshot");
        if (vsd_snapshot_take_prepare(d, v, vs_req_str(req, "snap"), w, err) < 0) {
                free(w);
                return -1;
        }
        w->run = snapshot_take_run;
        w->done = snapshot_take_done;
        return run_in_worker(d, c, w, err);
}

static int handle_snapshot_list(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        struct vps *v = find_named(d, req, err);
        cleanup_free vsd_snapshot_info_t *snaps = NULL;
        size_t n;

        if (!v)
                return -1;
        n = vsd_snapshot_list(d, v, &snaps);
        vsd_client_reply(d, c, vs_reply_snapshots(snaps, n), NULL, 0);
        return 0;
}

static int snapshot_restore_run(struct vsd *d, struct vsd_work *w, json_object *reply,
                                vs_error_t *err)
{
        (void)reply;
        return vsd_snapshot_restore(d, w, err);
}

static int snapshot_restore_done(struct vsd *d, struct vsd_work *w, vs_error_t *err)
{
        (void)err;
        vs_log(LOG_INFO, "%s restored to its snapshot %s", w->clone.src, w->name);
        snapshot_event(d, "snapshot-restored", w);
        return 0;
}

static int handle_snapshot_restore(struct vsd *d, struct client *c, vs_request_t *req,
                                   vs_error_t *err)
{
        struct vps *v = find_named(d, req, err);
        struct vsd_work *w;

        if (!v)
                return -1;
        w = new_work("snapshot restore");
        if (vsd_snapshot_restore_prepare(d, v, vs_req_str(req, "snap"), w, err) < 0) {
                free(w);
                return -1;
        }
        w->run = snapshot_restore_run;
        w->done = snapshot_restore_done;
        return run_in_worker(d, c, w, err);
}

static int snapshot_delete_run(struct vsd *d, struct vsd_work *w, json_object *reply,
                               vs_error_t *err)
{
        (void)reply;
        return vsd_snapshot_delete(d, w, err);
}

static int handle_snapshot_delete(struct vsd *d, struct client *c, vs_request_t *req,
                                  vs_error_t *err)
{
        struct vps *v = find_named(d, req, err);
        struct vsd_work *w;

        if (!v)
                return -1;
        w = new_work("snapshot delete");
        if (vsd_snapshot_delete_prepare(d, v, vs_req_str(req, "snap"), w, err) < 0) {
                free(w);
                return -1;
        }
        vs_log(LOG_INFO, "deleting snapshot %s of %s", w->name, v->name);
        w->run = snapshot_delete_run;
        return run_in_worker(d, c, w, err);
}

static int handle_status(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        struct vps *v = find_named(d, req, err);
        vs_vps_info_t info;

        if (!v)
                return -1;
        vsd_vps_describe(d, v, 1, VS_VF_ALL, &info);
        vsd_client_reply(d, c, vs_reply_status(&info), NULL, 0);
        return 0;
}

/* limit-changed: the limits and rates as the admin gave them, whether saved
 * in the config, and whether in force at once (a running VPS). */
static void limit_event(struct vsd *d, struct vps *v, const vs_request_t *req, int save)
{
        vs_event_t ev = { .type = "limit-changed", .vps = v->name };
        cleanup_kv vs_kv_t given = { 0 };
        const char *rates[] = { "rate_out", "rate_in" };

        vs_req_texts(req, "limits", &given);
        for (size_t i = 0; i < 2; i++)
                if (vs_req_str(req, rates[i]))
                        vs_kv_set(&given, rates[i], vs_req_str(req, rates[i]));
        vs_event_texts(&ev, "limits", &given);
        vs_event_bool(&ev, "saved", save);
        vs_event_bool(&ev, "live", v->phase != PHASE_STOPPED);
        vsd_event(d, &ev);
}

/* OpenVZ's beancounters of a running VPS, from its cgroup's counters. */
static int handle_beancounters(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        struct vps *v = find_named(d, req, err);
        vs_beancounter_t bc[VS_BC_MAX];
        vs_view_src_t src;
        size_t n;

        if (!v)
                return -1;
        if (v->phase == PHASE_STOPPED || vsd_view_src(d, v, &src) < 0)
                return vs_error_kind(err, VS_E_STATE, ESRCH, "VPS is not running");
        n = vs_view_beancounters(&src, bc);
        vsd_client_reply(d, c, vs_reply_beancounters(src.ctid, bc, n), NULL, 0);
        return 0;
}

static int handle_set(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        struct vps *v = find_named(d, req, err);
        const char *caps = vs_req_str(req, "capability");
        const char *hostname = vs_req_str(req, "hostname");
        int save = !vs_req_bool(req, "no_save"), onboot = boot_arg(req);
        long long bootorder = vs_req_int(req, "bootorder", -1);
        cleanup_net_args struct net_args net = { 0 };
        cleanup_free char *forwards = NULL;
        struct vsd_rates rates;
        vs_limits_t changes;
        vs_caps_t check;
        int fwd_given;

        if (!v || vs_req_limits_parse(req, "limits", &changes, err) < 0 ||
            rates_arg(req, &rates, err) < 0)
                return -1;
        net_args(req, 1, &net);
        fwd_given = net.fwd_add || net.fwd_del;
        if (!changes.set && !caps && !rates.set_out && !rates.set_in && !net_args_given(&net) &&
            !fwd_given && !hostname && onboot < 0 && bootorder < 0)
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "no setting given");
        /* all of the request is checked before any of it changes anything */
        vs_caps_default(&check);
        if (caps && vs_caps_parse(caps, &check, err) < 0)
                return -1;
        if ((net_args_given(&net) || fwd_given || hostname || onboot >= 0 || bootorder >= 0) &&
            !save)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "--no-save applies to limits and rates only, not to "
                                     "addresses, name servers, port forwards or the hostname");
        if ((net_args_given(&net) || hostname) && v->phase == PHASE_STOPPING)
                return vs_error_kind(err, VS_E_STATE, EBUSY, "%s is stopping", v->name);
        if (fwd_given) {
                forwards = vsd_net_forwards_plan(d, v, net.fwd_add, net.fwd_del, err);
                if (!forwards)
                        return -1;
        }
        if (vsd_net_rates_check(d, v, &rates, save, err) < 0)
                return -1;
        struct vsd_net_change change = {
                .ipadd = net.ipadd,
                .nipadd = net.nipadd,
                .ipdel = net.ipdel,
                .nipdel = net.nipdel,
                .nameserver = net.nameserver,
                .searchdomain = net.searchdomain,
        };
        if (net_args_given(&net) && vsd_net_check(d, v, &change, err) < 0)
                return -1;
        if (changes.set && vsd_vps_set(d, v, &changes, save, vs_req_bool(req, "force"), err) < 0)
                return -1;
        if (vsd_net_set_rates(d, v, &rates, save, err) < 0)
                return -1;
        if (net_args_given(&net) && vsd_net_set(d, v, &change, err) < 0)
                return -1;
        if (caps && vsd_vps_set_caps(d, v, caps, err) < 0)
                return -1;
        if (hostname && vsd_net_set_hostname(d, v, hostname, err) < 0)
                return -1;
        if ((onboot >= 0 || bootorder >= 0) && vsd_vps_set_boot(d, v, onboot, bootorder, err) < 0)
                return -1;
        if (forwards && vsd_net_forwards_apply(d, v, forwards, err) < 0)
                return -1;
        vs_log(LOG_INFO, "set limits of %s", v->name);
        if (changes.set || rates.set_out || rates.set_in)
                limit_event(d, v, req, save);
        reply_ok(d, c);
        return 0;
}

/* The node: capacity, policy, what the running VPS reserve and use, and
 * how many more VPS of the size in args.limits would fit. */
static int handle_node(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        vs_node_report_t r = { .running = 0 };
        vs_limits_t size;
        vs_reserve_t each;

        if (vs_req_limits_parse(req, "limits", &size, err) < 0 || vsd_node(d, &r.node, err) < 0)
                return -1;
        r.reserved = vsd_reserved(d, NULL);
        each = vs_reserve_of(&size);
        r.admissible = vs_node_admissible(&r.node);
        for (struct vps *v = d->vps_list; v; v = v->next) {
                vs_stats_t stats;

                if (v->phase == PHASE_STOPPED)
                        continue;
                r.running++;
                vsd_vps_stats(d, v, &stats);
                r.used_mem_bytes += stats.mem_bytes;
        }
        r.fits = vs_admit_how_many(&r.node, &r.reserved, &each);
        r.has_fits = each.cpu_micro || each.mem_bytes;
        vsd_client_reply(d, c, vs_reply_node(&r), NULL, 0);
        return 0;
}

static int cmp_names(const void *a, const void *b)
{
        return strcmp((*(struct vps *const *)a)->name, (*(struct vps *const *)b)->name);
}

static int handle_list(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        json_object *reply = vs_reply_list_new();
        cleanup_free struct vps **sorted = NULL;
        size_t n = 0, i = 0;
        int with_disk = vs_req_bool(req, "disk");
        vs_vps_fields_t want = vs_req_fields(req, "fields");
        const char *slice = vs_req_str(req, "slice");

        (void)err;
        for (struct vps *v = d->vps_list; v; v = v->next)
                n++;
        sorted = vs_xmalloc((n + 1) * sizeof(*sorted));
        for (struct vps *v = d->vps_list; v; v = v->next)
                if (vsd_authz_sees(d, c, v) && (!slice || strcmp(v->slice, slice) == 0))
                        sorted[i++] = v;
        n = i;
        qsort(sorted, n, sizeof(*sorted), cmp_names);
        for (i = 0; i < n; i++) {
                vs_vps_info_t info;

                vsd_vps_describe(d, sorted[i], with_disk, want, &info);
                vs_reply_list_add(reply, &info);
        }
        vsd_client_reply(d, c, reply, NULL, 0);
        return 0;
}

/* ---- exec ---- */

static char **exec_env(const vs_request_t *req, int use_tty)
{
        const char *term = vs_req_str(req, "term");
        char **env = vs_xmalloc(6 * sizeof(char *));
        size_t n = 0;

        env[n++] = vs_xstrdup(VS_ENV_PATH);
        env[n++] = vs_xstrdup(VS_ENV_HOME);
        env[n++] = vs_xstrdup(VS_ENV_CONTAINER);
        if (use_tty)
                env[n++] = vs_strdupf("TERM=%s", term ? term : "xterm");
        env[n] = NULL;
        return env;
}

struct exec_pipes {
        int child[3];  /* stdin read end, stdout and stderr write ends */
        int client[3]; /* the other ends, for vsctl */
};

static void pipes_close(int fds[3])
{
        for (int i = 0; i < 3; i++)
                if (fds[i] >= 0) {
                        close(fds[i]);
                        fds[i] = -1;
                }
}

static int pipes_open(struct exec_pipes *p, vs_error_t *err)
{
        for (int i = 0; i < 3; i++) {
                int fds[2];

                if (pipe2(fds, O_CLOEXEC) < 0)
                        return vs_error_errno(err, "pipe");
                p->child[i] = i == 0 ? fds[0] : fds[1];
                p->client[i] = i == 0 ? fds[1] : fds[0];
        }
        return 0;
}

static int start_exec(struct vsd *d, struct client *c, struct vps *v, const vs_request_t *req,
                      vs_error_t *err)
{
        cleanup_strv char **argv = vs_req_words(req, "argv", NULL);
        int use_tty = vs_req_bool(req, "tty");
        cleanup_strv char **envp = exec_env(req, use_tty);
        struct exec_pipes p = { { -1, -1, -1 }, { -1, -1, -1 } };
        struct vs_exec_spec spec = {
                .init_pidfd = v->pidfd,
                .init_pid = v->pid,
                .join_userns = v->idmap.enabled,
                .caps = &v->caps,
                .own_pidns_fd = d->own_pidns_fd,
                .envp = envp,
                .cwd = use_tty ? "/root" : "/",
                .use_tty = use_tty,
                .nofile = v->numfile,
                .timeslice_us = v->timeslice_us,
                .winsize = { .ws_row = (unsigned short)vs_req_int(req, "rows", 0),
                             .ws_col = (unsigned short)vs_req_int(req, "cols", 0) },
        };
        json_object *reply;
        int master = -1, notify_fd = -1;
        pid_t pid;

        spec.argv = argv;
        if (vsd_view_wants_notify(d, v))
                spec.notify_fd = &notify_fd;
        if (!use_tty && pipes_open(&p, err) < 0) {
                pipes_close(p.child);
                pipes_close(p.client);
                return -1;
        }
        memcpy(spec.stdio, p.child, sizeof(spec.stdio));
        pid = vs_spawn_exec(&spec, v->cg, &c->exec_pidfd, &master, err);
        pipes_close(p.child);
        if (pid < 0) {
                c->exec_pidfd = -1;
                pipes_close(p.client);
                return -1;
        }
        c->exec_pid = pid;
        vsd_view_notify_add(d, v->name, notify_fd);
        vsd_epoll_add(d, c->exec_pidfd, &c->exec_ev, EPOLLIN);
        reply = vs_reply_started((long)pid);
        if (use_tty) {
                vsd_client_reply(d, c, reply, &master, 1);
                close(master);
        } else {
                vsd_client_reply(d, c, reply, p.client, 3);
                pipes_close(p.client);
        }
        return 0;
}

static int handle_exec(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        struct vps *v = find_named(d, req, err);

        if (!v)
                return -1;
        if (v->phase == PHASE_STOPPED)
                return vs_error_kind(err, VS_E_STATE, ESRCH, "VPS is not running");
        if (start_exec(d, c, v, req, err) < 0) {
                /* like a shell: 127 for a command that is not there, else 126 */
                vsd_client_reply(d, c, vs_reply_error_exit(err, err->errnum == ENOENT ? 127 : 126),
                                 NULL, 0);
                return 0;
        }
        park(c, WAIT_EXEC, v);
        return 1;
}

/* A template builder ended: publish its template, or remove what it left. */
static json_object *finish_build(struct vsd *d, struct client *c, int status)
{
        vs_error_t err = { 0 };

        if (vs_template_build_finish(d->tmpl_fd, c->build, "debian", status == 0, d->vsinit_fd < 0,
                                     &err) < 0) {
                vs_log(LOG_ERR, "build template %s: %s", c->build, err.msg);
                return vs_reply_error(&err);
        }
        vs_log(LOG_INFO, "built template %s (debian)", c->build);
        return vs_reply_ok();
}

void vsd_handle_exec_exited(struct vsd *d, struct client *c)
{
        siginfo_t info = { 0 };
        json_object *reply;
        int status = 255;

        if (waitid((idtype_t)P_PIDFD, (id_t)c->exec_pidfd, &info, WEXITED | WNOHANG) == 0 &&
            info.si_pid != 0)
                status = info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
        vsd_epoll_del(d, c->exec_pidfd);
        close(c->exec_pidfd);
        c->exec_pidfd = -1;
        if (c->backup && c->vps) {
                vsd_backup_done(d, c->vps, c->backup_tmp);
                vs_log(status == 0 ? LOG_INFO : LOG_ERR, "backup of %s %s (tar: %d)", c->vps->name,
                       status == 0 ? "written" : "failed", status);
        }
        c->backup = 0;
        reply = c->build[0] ? finish_build(d, c, status) : vs_reply_ok();
        vs_reply_add_exit(reply, status);
        vsd_client_reply(d, c, reply, NULL, 0);
        c->wait = WAIT_NONE;
        vsd_client_finish(d, c);
}

/* ---- backup and restore ---- */

/* In the worker: the pipe's read end is vsctl's alone (a vsctl that goes
 * away must break tar's writes). */
static int backup_live_run(struct vsd *d, struct vsd_work *w, json_object *reply, vs_error_t *err)
{
        long long frozen_ms = 0;
        int status = 255, rc;

        close(w->stream[0]);
        rc = vsd_backup_live_write(d, w, w->stream[1], &status, &frozen_ms, err);
        close(w->stream[1]);
        if (rc < 0)
                return -1;
        vs_reply_add_exit(reply, status);
        vs_log(status == 0 ? LOG_INFO : LOG_ERR, "backup of %s %s (tar: %d; frozen %lld ms)",
               w->clone.src, status == 0 ? "written" : "failed", status, frozen_ms);
        return 0;
}

/* A running VPS: the copy and tar in a worker holding the VPS; the reply
 * with the pipe comes at once, the one with tar's exit status when the
 * worker ends (vsd_work_exited). */
static int backup_live(struct vsd *d, struct client *c, struct vps *v, int out[2], vs_error_t *err)
{
        struct vsd_work *w = new_work("backup");

        w->stream[0] = out[0];
        w->stream[1] = out[1];
        w->run = backup_live_run;
        if (vsd_backup_live_prepare(d, v, w, err) < 0) {
                vsd_clone_free(&w->clone);
                free(w);
                close(out[0]);
                close(out[1]);
                return -1;
        }
        if (run_in_worker(d, c, w, err) < 0) {
                close(out[0]);
                close(out[1]);
                return -1;
        }
        close(out[1]);
        vsd_client_reply(d, c, vs_reply_ok(), &out[0], 1);
        close(out[0]);
        vs_log(LOG_INFO, "writing a backup of %s (copied running, worker %d)", v->name,
               (int)w->pid);
        return 1;
}

/* A stopped VPS: tar writes into a pipe whose other end vsctl gets; the
 * reply with the exit status comes when tar ends (vsd_handle_exec_exited). */
static int handle_backup(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        struct vps *v = find_named(d, req, err);
        json_object *reply;
        int out[2];
        pid_t pid;

        if (!v)
                return -1;
        if (pipe2(out, O_CLOEXEC) < 0)
                return vs_error_errno(err, "pipe");
        if (v->phase != PHASE_STOPPED)
                return backup_live(d, c, v, out, err);
        pid = vsd_backup_spawn(d, v, out[1], c->backup_tmp, err);
        close(out[1]);
        if (pid < 0) {
                close(out[0]);
                return -1;
        }
        c->exec_pid = pid;
        c->exec_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        c->backup = 1;
        vsd_epoll_add(d, c->exec_pidfd, &c->exec_ev, EPOLLIN);
        reply = vs_reply_ok();
        vsd_client_reply(d, c, reply, &out[0], 1);
        close(out[0]);
        vs_log(LOG_INFO, "writing a backup of %s (tar, pid %d)", v->name, (int)pid);
        park(c, WAIT_EXEC, v);
        return 1;
}

static int handle_restore(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        const char *file = vs_req_str(req, "file");
        const char *name = vs_req_str(req, "new");
        struct vps *v;

        if (vsd_restore(d, file, name, vs_req_bool(req, "keep_ip"), err) < 0)
                return -1;
        /* the newest VPS is first in the list */
        v = d->vps_list;
        vs_log(LOG_INFO, "restored %s from %s", v->name, file);
        {
                vs_event_t ev = { .type = "created", .vps = v->name };

                vs_event_text(&ev, "restored_from", file);
                vsd_event(d, &ev);
        }
        vsd_client_reply(d, c, vs_reply_named(v->name), NULL, 0);
        return 0;
}

/* ---- migration (migrate.c) ---- */

/* A tar of this node whose other end (a pipe, fd) vsctl gets: the reply
 * with its exit status comes when it ends (vsd_handle_exec_exited). */
static int hand_tar(struct vsd *d, struct client *c, pid_t pid, int fd)
{
        c->exec_pid = pid;
        c->exec_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        vsd_epoll_add(d, c->exec_pidfd, &c->exec_ev, EPOLLIN);
        vsd_client_reply(d, c, vs_reply_ok(), &fd, 1);
        close(fd);
        park(c, WAIT_EXEC, NULL);
        return 1;
}

static int handle_migrate_send(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        struct vps *v = find_named(d, req, err);
        const char *step = vs_req_str(req, "step");
        int out[2];
        pid_t pid;

        if (!v)
                return -1;
        if (strcmp(step, "config") == 0) {
                cleanup_free char *text = vsd_migrate_config(d, v, err);

                if (!text)
                        return -1;
                vsd_client_reply(d, c, vs_reply_text(text, strlen(text)), NULL, 0);
                return 0;
        }
        if (strcmp(step, "end") == 0) {
                vsd_migrate_send_end(d, v);
                reply_ok(d, c);
                return 0;
        }
        if (pipe2(out, O_CLOEXEC) < 0)
                return vs_error_errno(err, "pipe");
        pid = vsd_migrate_send_spawn(d, v, strcmp(step, "first") == 0, out[1], err);
        close(out[1]);
        if (pid < 0) {
                close(out[0]);
                return -1;
        }
        return hand_tar(d, c, pid, out[0]);
}

/* The begin's connection holds the migration: the reply now, and when it
 * closes before the finish, the staging goes (vsd_migrate_client_gone). */
static int handle_migrate_begin(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        if (vsd_migrate_begin(d, c, req->name, vs_req_str(req, "config"),
                              vs_req_bool(req, "new_ip"), err) < 0)
                return -1;
        reply_ok(d, c);
        park(c, WAIT_MIGRATE, NULL);
        return 1;
}

static int handle_migrate_recv(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        int in[2];
        pid_t pid;

        if (pipe2(in, O_CLOEXEC) < 0)
                return vs_error_errno(err, "pipe");
        pid = vsd_migrate_recv_spawn(d, req->name, in[0], err);
        close(in[0]);
        if (pid < 0) {
                close(in[1]);
                return -1;
        }
        return hand_tar(d, c, pid, in[1]);
}

/* The finish: the install here (the VPS list, its addresses and ids are
 * the loop's), then a worker holding the VPS makes it durable (an image's
 * adoption, the syncfs: out of the loop, which serves the others meanwhile)
 * and, when asked, it starts: the reply says it runs. A worker or start
 * that fails takes the new VPS away again (the source still has it). */
static int migrate_finish_run(struct vsd *d, struct vsd_work *w, json_object *reply,
                              vs_error_t *err)
{
        if (vsd_migrate_durable(d, w->vps->name, w->migrate_image, err) < 0)
                return -1;
        vs_reply_add_name(reply, w->vps->name);
        return 0;
}

static int migrate_finish_done(struct vsd *d, struct vsd_work *w, vs_error_t *err)
{
        vs_event_t ev = { .type = "created", .vps = w->vps->name };

        vs_log(LOG_INFO, "migrated %s to this node from %s", w->vps->name, w->file);
        if (w->migrate_start && vsd_vps_start(d, w->vps, err) < 0) {
                vs_log(LOG_ERR, "migrated %s did not start: %s", w->vps->name, err->msg);
                return vs_error_wrap(err, "start on the target");
        }
        vs_event_text(&ev, "migrated_from", w->file);
        vsd_event(d, &ev);
        return 0;
}

static void migrate_finish_failed(struct vsd *d, struct vsd_work *w)
{
        vs_error_t ignored = { 0 };

        /* the source keeps it: nothing of it stays here */
        vsd_vps_destroy(d, w->vps, &ignored);
}

static int handle_migrate_finish(struct vsd *d, struct client *c, vs_request_t *req,
                                 vs_error_t *err)
{
        struct vsd_work *w;
        struct vps *v;
        int image = 0;

        if (vsd_migrate_finish(d, req->name, vs_req_str(req, "config"), vs_req_bool(req, "new_ip"),
                               vs_req_str(req, "from"), &image, err) < 0)
                return -1;
        if (!(v = vsd_vps_find(d, req->name)))
                return vs_error_kind(err, VS_E_INTERNAL, ENOENT, "the migrated %s is not listed",
                                     req->name);
        w = new_work("migrate");
        w->vps = v;
        w->migrate_image = image;
        w->migrate_start = vs_req_bool(req, "start");
        vs_strlcpy(w->file, vs_req_str(req, "from") ?: "?", sizeof(w->file));
        w->run = migrate_finish_run;
        w->done = migrate_finish_done;
        w->failed = migrate_finish_failed;
        if (run_in_worker(d, c, w, err) < 0) {
                vs_error_t ignored = { 0 };

                vsd_vps_destroy(d, v, &ignored);
                return -1;
        }
        return 1;
}

/* ---- logs ---- */

static int handle_logs(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        struct vps *v = find_named(d, req, err);
        cleanup_free char *current = NULL;
        cleanup_free char *previous = NULL;
        int fds[2], nfds = 0;

        if (!v)
                return -1;
        previous = vs_strdupf("%s/console.log.1", v->name);
        current = vs_strdupf("%s/console.log", v->name);
        fds[nfds] = openat(d->vps_fd, previous, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fds[nfds] >= 0)
                nfds++;
        fds[nfds] = openat(d->vps_fd, current, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fds[nfds] >= 0)
                nfds++;
        vsd_client_reply(d, c, vs_reply_ok(), fds, nfds);
        for (int i = 0; i < nfds; i++)
                close(fds[i]);
        return 0;
}

/* ---- console ---- */

/* A socket connected to the VPS's console keeper: vsctl relays the
 * terminal to it itself, and vsd is not in the data path. */
static int handle_console(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        struct vps *v = find_named(d, req, err);
        int fd;

        if (!v)
                return -1;
        if (v->phase == PHASE_STOPPED)
                return vs_error_kind(err, VS_E_STATE, ESRCH, "VPS is not running");
        fd = vsd_console_connect(d, v, err);
        if (fd < 0)
                return -1;
        vsd_client_reply(d, c, vs_reply_ok(), &fd, 1);
        close(fd);
        return 0;
}

/* ---- templates ---- */

/* debootstrap takes minutes: it runs as vsd's child while vsd serves
 * others; the client gets its output as a pipe and the result when it ends
 * (vsd_handle_exec_exited). */
static int start_debian_build(struct vsd *d, struct client *c, const char *name, vs_request_t *req,
                              vs_error_t *err)
{
        const char *suite = vs_req_str(req, "suite");
        const char *mirror = vs_req_str(req, "mirror");
        cleanup_kv vs_kv_t conf = { 0 };
        json_object *reply;
        int out[2];
        pid_t pid;
        struct vs_debian_spec spec = {
                .suite = suite ? suite : "bookworm",
                .include = vs_req_str(req, "include"),
                .variant = vs_req_str(req, "variant"),
                .http_proxy = vs_req_str(req, "http_proxy"),
                .debs = vs_req_str(req, "debs"),
        };

        if (vsd_conf_load(d, &conf, err) < 0)
                return -1;
        /* the request's mirror, else vsd.conf's */
        spec.mirror = mirror ? mirror : vs_kv_get(&conf, "debian_mirror");
        if (pipe2(out, O_CLOEXEC) < 0)
                return vs_error_errno(err, "pipe");
        pid = vs_template_debian_spawn(d->tmpl_fd, d->tmpl_dir, name, &spec, out[1], err);
        close(out[1]);
        if (pid < 0) {
                close(out[0]);
                return -1;
        }
        c->exec_pid = pid;
        c->exec_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        vs_strlcpy(c->build, name, sizeof(c->build));
        vsd_epoll_add(d, c->exec_pidfd, &c->exec_ev, EPOLLIN);
        reply = vs_reply_progress();
        vsd_client_reply(d, c, reply, &out[0], 1);
        close(out[0]);
        vs_log(LOG_INFO, "building template %s with debootstrap (pid %d)", name, (int)pid);
        park(c, WAIT_EXEC, NULL);
        return 1;
}

static int build_run(struct vsd *d, struct vsd_work *w, json_object *reply, vs_error_t *err)
{
        (void)reply;
        return vs_template_build_busybox(d->tmpl_fd, w->name, d->busybox_path, err);
}

static int build_done(struct vsd *d, struct vsd_work *w, vs_error_t *err)
{
        (void)d;
        (void)err;
        vs_log(LOG_INFO, "built template %s (busybox)", w->name);
        return 0;
}

static int handle_template_build(struct vsd *d, struct client *c, vs_request_t *req,
                                 vs_error_t *err)
{
        struct vsd_work *w;
        const char *builder = vs_req_str(req, "builder");
        const char *name = *req->name ? req->name : builder;
        int debian = strcmp(builder, "debian") == 0;

        static const char *const debian_only[] = { "suite",  "include",    "debs",
                                                   "mirror", "http_proxy", "variant" };

        for (size_t i = 0; !debian && i < sizeof(debian_only) / sizeof(debian_only[0]); i++)
                if (vs_req_str(req, debian_only[i]))
                        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                             "%s is for the debian builder", debian_only[i]);
        if (debian)
                return start_debian_build(d, c, name, req, err);
        w = new_work("template build");
        vs_strlcpy(w->tmpl, name, sizeof(w->tmpl));
        vs_strlcpy(w->name, name, sizeof(w->name));
        w->run = build_run;
        w->done = build_done;
        return run_in_worker(d, c, w, err);
}

static int import_run(struct vsd *d, struct vsd_work *w, json_object *reply, vs_error_t *err)
{
        (void)reply;
        return vs_template_import(d->tmpl_fd, w->name, w->file, d->vsinit_fd < 0, err);
}

static int import_done(struct vsd *d, struct vsd_work *w, vs_error_t *err)
{
        (void)d;
        (void)err;
        vs_log(LOG_INFO, "imported template %s from %s", w->name, w->file);
        return 0;
}

static int handle_template_import(struct vsd *d, struct client *c, vs_request_t *req,
                                  vs_error_t *err)
{
        struct vsd_work *w = new_work("template import");

        vs_strlcpy(w->tmpl, req->name, sizeof(w->tmpl));
        vs_strlcpy(w->name, req->name, sizeof(w->name));
        vs_strlcpy(w->file, vs_req_str(req, "file"), sizeof(w->file));
        w->run = import_run;
        w->done = import_done;
        return run_in_worker(d, c, w, err);
}

static int unify_run(struct vsd *d, struct vsd_work *w, json_object *reply, vs_error_t *err)
{
        vs_template_unify_t r;

        (void)w;
        if (vs_template_unify(d->tmpl_fd, &r, err) < 0)
                return -1;
        vs_log(LOG_INFO, "unified templates: %zu files linked, %llu bytes saved", r.linked,
               (unsigned long long)(r.bytes_before - r.bytes_after));
        vs_reply_add_unify(reply, &r);
        return 0;
}

static int handle_template_unify(struct vsd *d, struct client *c, vs_request_t *req,
                                 vs_error_t *err)
{
        struct vsd_work *w = new_work("template unify");

        (void)req;
        vs_strlcpy(w->tmpl, "*", sizeof(w->tmpl));
        w->run = unify_run;
        return run_in_worker(d, c, w, err);
}

static int handle_template_list(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        cleanup_free vs_template_info_t *list = NULL;
        cleanup_free int *users = NULL;
        vs_template_store_usage_t usage;
        size_t count;

        (void)req;
        if (vs_template_list(d->tmpl_fd, &list, &count, &usage, err) < 0)
                return -1;
        users = vs_xmalloc((count + 1) * sizeof(*users));
        for (size_t i = 0; i < count; i++)
                users[i] = vsd_vps_uses_template(d, list[i].name);
        vsd_client_reply(d, c, vs_reply_templates(list, users, count, &usage), NULL, 0);
        return 0;
}

static int handle_template_remove(struct vsd *d, struct client *c, vs_request_t *req,
                                  vs_error_t *err)
{
        if (vsd_vps_uses_template(d, req->name))
                return vs_error_kind(err, VS_E_STATE, EBUSY,
                                     "template is in use by a VPS (destroy those first)");
        if (vs_template_remove(d->tmpl_fd, req->name, err) < 0)
                return -1;
        vs_log(LOG_INFO, "removed template %s", req->name);
        reply_ok(d, c);
        return 0;
}

/* ---- events ---- */

/* The client stays, parked, and gets every event from now on (events.c)
 * until it hangs up. */
static int handle_events(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        (void)req;
        (void)err;
        reply_ok(d, c);
        park(c, WAIT_EVENTS, NULL);
        return 1;
}

/* ---- metrics ---- */

static int handle_metrics(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        size_t len;
        cleanup_free char *text = vsd_metrics_text(d, c, &len);
        (void)req;
        (void)err;
        vsd_client_reply(d, c, vs_reply_text(text, len), NULL, 0);
        return 0;
}

/* ---- dispatch ---- */

typedef int (*handler_fn)(struct vsd *, struct client *, vs_request_t *, vs_error_t *);

/* What stops left for an idle moment (later.c) is done before every
 * request that may look at it (LATER_FIRST); LATER_WAITS: the handler needs
 * none of it (a start removes the waiting elements in its own nftables
 * transaction and writes its state file anew; a stop leaves more of it; a
 * destroy drops its VPS's), so that a run of stops, starts or destroys
 * shares the work instead of waiting for it at each. */
enum later_need { LATER_FIRST, LATER_WAITS };

static const struct {
        const char *cmd;
        handler_fn fn;
        enum later_need later;
} handlers[] = {
        { VS_CMD_PING, handle_ping, LATER_FIRST },
        { VS_CMD_CREATE, handle_create, LATER_FIRST },
        { VS_CMD_START, handle_start, LATER_WAITS },
        { VS_CMD_STOP, handle_stop, LATER_WAITS },
        { VS_CMD_RESTART, handle_restart, LATER_FIRST },
        { VS_CMD_DESTROY, handle_destroy, LATER_WAITS },
        { VS_CMD_STATUS, handle_status, LATER_FIRST },
        { VS_CMD_SET, handle_set, LATER_FIRST },
        { VS_CMD_NODE, handle_node, LATER_FIRST },
        { VS_CMD_RESIZE, handle_resize, LATER_FIRST },
        { VS_CMD_CLONE, handle_clone, LATER_FIRST },
        { VS_CMD_LIST, handle_list, LATER_FIRST },
        { VS_CMD_EXEC, handle_exec, LATER_FIRST },
        { VS_CMD_LOGS, handle_logs, LATER_FIRST },
        { VS_CMD_CONSOLE, handle_console, LATER_FIRST },
        { VS_CMD_BEANCOUNTERS, handle_beancounters, LATER_FIRST },
        { VS_CMD_TEMPLATE_BUILD, handle_template_build, LATER_FIRST },
        { VS_CMD_TEMPLATE_IMPORT, handle_template_import, LATER_FIRST },
        { VS_CMD_TEMPLATE_LIST, handle_template_list, LATER_FIRST },
        { VS_CMD_TEMPLATE_UNIFY, handle_template_unify, LATER_FIRST },
        { VS_CMD_TEMPLATE_REMOVE, handle_template_remove, LATER_FIRST },
        { VS_CMD_METRICS, handle_metrics, LATER_FIRST },
        { VS_CMD_EVENTS, handle_events, LATER_FIRST },
        { VS_CMD_BACKUP, handle_backup, LATER_FIRST },
        { VS_CMD_RESTORE, handle_restore, LATER_FIRST },
        { VS_CMD_SNAPSHOT, handle_snapshot, LATER_FIRST },
        { VS_CMD_SNAPSHOT_LIST, handle_snapshot_list, LATER_FIRST },
        { VS_CMD_SNAPSHOT_RESTORE, handle_snapshot_restore, LATER_FIRST },
        { VS_CMD_SNAPSHOT_DELETE, handle_snapshot_delete, LATER_FIRST },
        { VS_CMD_SLICE_RENEW, vsd_handle_slice_renew, LATER_FIRST },
        { VS_CMD_SLICE_USAGE, vsd_handle_slice_usage, LATER_FIRST },
        { VS_CMD_MIGRATE_SEND, handle_migrate_send, LATER_FIRST },
        { VS_CMD_MIGRATE_BEGIN, handle_migrate_begin, LATER_FIRST },
        { VS_CMD_MIGRATE_RECV, handle_migrate_recv, LATER_FIRST },
        { VS_CMD_MIGRATE_FINISH, handle_migrate_finish, LATER_FIRST },
        { VS_CMD_SLICE_CREATE, vsd_handle_slice_create, LATER_FIRST },
        { VS_CMD_SLICE_SET, vsd_handle_slice_set, LATER_FIRST },
        { VS_CMD_SLICE_DESTROY, vsd_handle_slice_destroy, LATER_FIRST },
        { VS_CMD_SLICE_LIST, vsd_handle_slice_list, LATER_FIRST },
        { VS_CMD_SLICE_STATUS, vsd_handle_slice_status, LATER_FIRST },
        { VS_CMD_SLICE_LOAN, vsd_handle_slice_loan, LATER_FIRST },
        { VS_CMD_SLICE_LOANS, vsd_handle_slice_loans, LATER_FIRST },
        { VS_CMD_SLICE_REVOKE, vsd_handle_slice_revoke, LATER_FIRST },
};

/* req is decoded, so held to the table: its command is one of the table's,
 * each of which has a handler here (test_requests.sh sends every one). */
int vsd_handle_request(struct vsd *d, struct client *c, vs_request_t *req)
{
        vs_error_t err = { 0 };

        char busy[256];

        /* who may: before anything else, so that not even a busy message
         * tells an owner of another slice's VPS */
        switch (vsd_authz_request(d, c, req, &err)) {
        case VSD_AUTHZ_ALLOW:
                break;
        case VSD_AUTHZ_HIDE:
                return reply_missing(d, c, req);
        default:
                vsd_client_reply_error(d, c, &err);
                return 0;
        }
        if (vsd_work_conflict(d, req, busy, sizeof(busy))) {
                vs_error_kind(&err, VS_E_STATE, EBUSY, "%s", busy);
                vsd_client_reply_error(d, c, &err);
                return 0;
        }
        for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
                int rc;

                if (strcmp(req->spec->cmd, handlers[i].cmd) != 0)
                        continue;
                if (handlers[i].later == LATER_FIRST)
                        vsd_later_run(d);
                rc = handlers[i].fn(d, c, req, &err);
                if (rc < 0) {
                        vsd_client_reply_error(d, c, &err);
                        return 0;
                }
                return rc;
        }
        vs_error_set(&err, ENOSYS, "vsd has no handler for '%s'", req->cmd);
        vsd_client_reply_error(d, c, &err);
        return 0;
}

/* ---- a VPS stopped: answer who waited ---- */

/* Every request gets exactly one reply: the clients parked on v are taken
 * off it before anything is done for them, so that a destroy (which frees
 * v) or a start cannot leave one of them waiting. */
static size_t take_waiters(struct vsd *d, struct vps *v, struct client ***out)
{
        struct client **list = NULL;
        size_t n = 0, cap = 0;

        for (struct client *c = d->clients; c; c = c->next) {
                if (c->vps != v || c->wait == WAIT_EXEC || c->wait == WAIT_NONE)
                        continue;
                list = vs_xgrow(list, n, &cap, 4, sizeof(*list));
                list[n++] = c;
        }
        *out = list;
        return n;
}

static void answer(struct vsd *d, struct client *c, const vs_error_t *err)
{
        c->wait = WAIT_NONE;
        c->vps = NULL;
        if (err)
                vsd_client_reply_error(d, c, err);
        else
                reply_ok(d, c);
        vsd_client_finish(d, c);
}

static int has_kind(struct client **list, size_t n, enum wait_kind kind)
{
        for (size_t i = 0; i < n; i++)
                if (list[i]->wait == kind)
                        return 1;
        return 0;
}

/* One destroy or one start for all who asked for it; every waiter gets
 * that one outcome. A destroy wins over a restart. */
static void answer_waiters(struct vsd *d, struct vps *v, struct client **list, size_t n)
{
        vs_error_t err = { 0 }, gone = { 0 };
        enum wait_kind act = has_kind(list, n, WAIT_DESTROY)   ? WAIT_DESTROY
                             : has_kind(list, n, WAIT_RESTART) ? WAIT_RESTART
                                                               : WAIT_STOP;
        char name[sizeof(v->name)];
        int rc = 0;

        vs_strlcpy(name, v->name, sizeof(name));
        for (size_t i = 0; i < n; i++)
                list[i]->vps = NULL; /* v may be freed below */
        if (act == WAIT_DESTROY) {
                rc = vsd_vps_destroy(d, v, &err);
                if (rc == 0)
                        vs_log(LOG_INFO, "destroyed %s", name);
        } else if (act == WAIT_RESTART) {
                rc = vsd_vps_start(d, v, &err);
        }
        vs_error_kind(&gone, VS_E_NOTFOUND, ENOENT, "%s was destroyed by another request", name);
        for (size_t i = 0; i < n; i++) {
                enum wait_kind kind = list[i]->wait;

                if (kind == WAIT_STOP)
                        answer(d, list[i], NULL);
                else if (kind == act)
                        answer(d, list[i], rc < 0 ? &err : NULL);
                else /* a restart beside a destroy */
                        answer(d, list[i], rc == 0 ? &gone : &err);
        }
}

void vsd_handle_vps_removed(struct vsd *d, struct vps *v)
{
        cleanup_free struct client **list = NULL;
        size_t n = take_waiters(d, v, &list);
        vs_error_t gone = { 0 };

        vs_error_kind(&gone, VS_E_NOTFOUND, ENOENT, "%s was destroyed by another request", v->name);
        for (size_t i = 0; i < n; i++)
                answer(d, list[i], &gone);
        for (struct client *c = d->clients; c; c = c->next)
                if (c->vps == v)
                        c->vps = NULL;
}

/* The clients that asked for nothing but the stop: theirs is done once the
 * init is gone and its links renamed (vsd_vps_exited). Destroys and
 * restarts wait for vsd_handle_vps_stopped. vsd_client_finish may free c:
 * its successor is read first. */
void vsd_handle_vps_stop_answer(struct vsd *d, struct vps *v)
{
        struct client *next;

        for (struct client *c = d->clients; c; c = next) {
                next = c->next;
                if (c->vps == v && c->wait == WAIT_STOP)
                        answer(d, c, NULL);
        }
}

void vsd_handle_vps_stopped(struct vsd *d, struct vps *v)
{
        cleanup_free struct client **list = NULL;
        size_t n = take_waiters(d, v, &list);

        if (n) {
                answer_waiters(d, v, list, n);
                return;
        }
        if (v->exit_known && v->exit_signal == SIGHUP) {
                vs_error_t err = { 0 };

                /* the kernel reports a reboot() inside a pid namespace as SIGHUP */
                vs_log(LOG_INFO, "%s rebooted itself: starting it again", v->name);
                if (vsd_vps_start(d, v, &err) < 0)
                        vs_log(LOG_ERR, "restart %s: %s", v->name, err.msg);
        }
}

void vsd_handle_exit(struct vsd *d)
{
        struct client *next;

        vsd_work_stop_all(d);
        /* vsd_client_finish may free c: its successor is read first */
        for (struct client *c = d->clients; c; c = next) {
                vs_error_t err = { 0 };

                next = c->next;
                if (c->fd < 0 || c->wait == WAIT_NONE)
                        continue;
                if (c->wait == WAIT_EXEC)
                        vs_error_kind(&err, VS_E_DAEMON, ESHUTDOWN,
                                      "vsd exited before the %s ended (it goes on without vsd)",
                                      c->build[0] ? "template build" : "command");
                else if (c->wait == WAIT_EVENTS)
                        vs_error_kind(&err, VS_E_DAEMON, ESHUTDOWN,
                                      "vsd exited: the event stream ends");
                else if (c->wait == WAIT_MIGRATE) {
                        vsd_migrate_client_gone(d, c);
                        vs_error_kind(&err, VS_E_DAEMON, ESHUTDOWN,
                                      "vsd exited: the migration is abandoned");
                } else
                        vs_error_kind(&err, VS_E_DAEMON, ESHUTDOWN,
                                      "vsd exited before %s stopped (it goes on stopping; the "
                                      "next vsd adopts it)",
                                      c->vps ? c->vps->name : "the VPS");
                vsd_client_reply_error(d, c, &err);
                c->wait = WAIT_NONE;
                vsd_client_finish(d, c);
        }
}
