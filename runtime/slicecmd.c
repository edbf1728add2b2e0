/* The slice commands (issue 15): create, set, destroy, list and status of
 * the slice files in var/lib/paene/slices, and what holds a slice's VPS to
 * it: the slice's cgroup level with its caps, the check of a VPS's limits
 * against the slice's, max_vps and the reservations per slice.
 *
 * A slice file is written whole, atomically (temp, fsync, rename, fsync of
 * the directory): a crash leaves the old one or the new one. Everything a
 * request asks is checked before the file or a cgroup changes. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/diskquota.h"
#include "vs/fsutil.h"
#include "vs/log.h"
#include "vs/netns.h"
#include "vs/parse.h"
#include "authz.h"
#include "serve.h"
#include "slice.h"
#include "slicecmd.h"
#include "slicetime.h"
#include "store.h"
#include "vsd.h"

/* The limits slice create and set take (the options of vsctl slice). */
static const vs_limit_t slice_options[] = { VS_LIM_CPUUNITS, VS_LIM_CPULIMIT,    VS_LIM_CPU_RESERVE,
                                            VS_LIM_RAM,      VS_LIM_RAM_RESERVE, VS_LIM_NUMPROC };

/* ---- the request's settings ---- */

/* owners: each a user name or a numeric uid that names a user here. */
static int owners_arg(const vs_request_t *req, char *out, size_t size, vs_error_t *err)
{
        size_t n;
        cleanup_strv char **words = vs_req_words(req, "owners", &n);

        *out = '\0';
        for (size_t i = 0; words && i < n; i++) {
                uint64_t uid;
                struct passwd *pw;
                char one[32];

                pw = vs_digits(words[i], (uid_t)-2, &uid) == 0 ? getpwuid((uid_t)uid)
                                                               : getpwnam(words[i]);
                if (!pw)
                        return vs_error_kind(err, VS_E_NOTFOUND, ENOENT, "no such user '%s'",
                                             words[i]);
                snprintf(one, sizeof(one), "%s%lu", *out ? "," : "", (unsigned long)pw->pw_uid);
                if (strlen(out) + strlen(one) >= size)
                        return vs_error_kind(err, VS_E_USAGE, E2BIG, "too many owners");
                strcat(out, one);
        }
        return 0;
}

static int limits_key_ok(const char *key, vs_limit_t *limit, vs_error_t *err)
{
        int k = vs_limit_find(key);

        for (size_t i = 0; k >= 0 && i < sizeof(slice_options) / sizeof(slice_options[0]); i++)
                if (slice_options[i] == (vs_limit_t)k) {
                        *limit = (vs_limit_t)k;
                        return 0;
                }
        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                             "--%s is not a slice limit (slices take --cpuunits, --cpulimit, "
                             "--cpu-reserve, --ram, --ram-reserve, --numproc)",
                             key);
}

/* The settings the request gives, into the slice's file `kv`. */
static int settings_arg(const vs_request_t *req, vs_kv_t *kv, vs_error_t *err)
{
        static const char *const texts[] = { "diskspace", "rate_out", "rate_in", "templates" };
        cleanup_kv vs_kv_t limits = { 0 };
        const char *text;
        char owners[32 * 12];
        uint64_t bytes;

        if (vs_req_has(req, "owners")) {
                if (owners_arg(req, owners, sizeof(owners), err) < 0)
                        return -1;
                vs_kv_set(kv, "owners", owners);
        }
        vs_req_texts(req, "limits", &limits);
        for (size_t i = 0; i < limits.count; i++) {
                vs_limit_t k = VS_LIM_COUNT;

                if (!limits.lines[i].key)
                        continue;
                if (limits_key_ok(limits.lines[i].key, &k, err) < 0)
                        return -1;
                vs_kv_set(kv, vs_limit_key(k), limits.lines[i].value);
        }
        for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
                if ((text = vs_req_str(req, texts[i])))
                        vs_kv_set(kv, texts[i], text);
        if ((text = vs_req_str(req, "bytes_per_day"))) {
                if (vs_parse_size(text, &bytes, err) < 0)
                        return vs_error_wrap(err, "--bytes-per-day");
                vs_kv_setf(kv, "bytes_per_day", "%llu", (unsigned long long)bytes);
        }
        if (vs_req_has(req, "max_vps"))
                vs_kv_setf(kv, "max_vps", "%lld", vs_req_int(req, "max_vps", 0));
        if ((text = vs_req_str(req, "expires"))) {
                int64_t when, now = (int64_t)time(NULL);

                if (vs_parse_when(text, now, "--expires", &when, err) < 0)
                        return -1;
                if (when <= now)
                        return vs_error_kind(err, VS_E_USAGE, EINVAL, "--expires %s is in the past",
                                             text);
                vs_kv_setf(kv, "expires", "%lld", (long long)when);
        }
        return 0;
}

/* What all slices but `except` reserve, with r's: within the node's. */
static int node_admits(struct vsd *d, const struct vsd_slice_rules *r, vs_error_t *err)
{
        cleanup_close int dirfd = vsd_slices_dir(d, err);
        cleanup_closedir DIR *dir = NULL;
        vs_reserve_t sum = vs_reserve_of(&r->limits), want = sum, none = { 0, 0 };
        struct dirent *ent;
        vs_node_t node;

        if (!want.cpu_micro && !want.mem_bytes)
                return 0;
        if (dirfd < 0 || vsd_node(d, &node, err) < 0)
                return -1;
        if (!(dir = vs_opendir_at(dirfd, ".")))
                return vs_error_errno(err, "read the slices");
        sum = none;
        while ((ent = readdir(dir))) {
                struct vsd_slice_rules other;
                vs_reserve_t one;

                if (vs_parse_name(ent->d_name, "slice name", NULL) < 0 ||
                    strcmp(ent->d_name, r->name) == 0 ||
                    vsd_slice_rules_load(d, ent->d_name, &other, NULL) < 0)
                        continue;
                one = vs_reserve_of(&other.limits);
                sum.cpu_micro += one.cpu_micro;
                sum.mem_bytes += one.mem_bytes;
        }
        if (vs_admit(&node, &sum, &want, err) < 0)
                return vs_error_wrap(err, "slice %s's reservation", r->name);
        return 0;
}

/* The VPS of the slice against the slice's new rules: one above them
 * refuses the change, naming the VPS and the limit. */
static int vps_within(struct vsd *d, const struct vsd_slice_rules *r, vs_error_t *err)
{
        if (vsd_slice_vps_fit(d, r, err) < 0)
                return vs_error_wrap(err, "slice %s", r->name);
        if (VS_LIMIT_IS_SET(&r->limits, VS_LIM_CPU_RESERVE) ||
            VS_LIMIT_IS_SET(&r->limits, VS_LIM_RAM_RESERVE)) {
                vs_reserve_t have = vsd_slice_reserved(d, r->name, NULL);

                if ((VS_LIMIT_IS_SET(&r->limits, VS_LIM_CPU_RESERVE) &&
                     have.cpu_micro > r->limits.value[VS_LIM_CPU_RESERVE]) ||
                    (VS_LIMIT_IS_SET(&r->limits, VS_LIM_RAM_RESERVE) &&
                     have.mem_bytes > r->limits.value[VS_LIM_RAM_RESERVE]))
                        return vs_error_kind(err, VS_E_STATE, EDQUOT,
                                             "slice %s: its running VPS reserve more than that",
                                             r->name);
        }
        if (r->max_vps && vsd_slice_count_vps(d, r->name, NULL) > r->max_vps)
                return vs_error_kind(err, VS_E_STATE, EDQUOT,
                                     "slice %s has %zu VPS, more than --max-vps %llu", r->name,
                                     vsd_slice_count_vps(d, r->name, NULL),
                                     (unsigned long long)r->max_vps);
        return 0;
}

/* Checks the new file, saves it and writes the caps: on a failed write the
 * old file and caps come back. */
static int commit(struct vsd *d, const char *name, const vs_kv_t *kv, const vs_kv_t *old,
                  vs_error_t *err)
{
        cleanup_close int dirfd = vsd_slices_dir(d, err);
        struct vsd_slice_file f;
        struct vsd_slice_rules r;

        if (dirfd < 0 || vsd_slice_file_parse(name, kv, &f, err) < 0)
                return -1;
        r = f.rules;
        vsd_slice_loans_adjust(d, &r);
        if (vps_within(d, &r, err) < 0 || node_admits(d, &r, err) < 0)
                return -1;
        if (vs_kv_save(dirfd, name, kv, 1, err) < 0)
                return vs_error_wrap(err, "slice %s", name);
        if (vsd_slice_caps_apply(d, &r, err) == 0)
                return 0;
        if (old) {
                vs_kv_save(dirfd, name, old, 1, NULL);
                vsd_slice_cgroup_apply(d, name, NULL);
        } else {
                unlinkat(dirfd, name, 0);
                vs_fsync_dir(dirfd, NULL);
                vs_cgroup_slice_remove(d->cgtree, name, NULL);
        }
        return -1;
}

static void reply_ok(struct vsd *d, struct client *c)
{
        vsd_client_reply(d, c, vs_reply_ok(), NULL, 0);
}

int vsd_handle_slice_create(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        cleanup_close int dirfd = vsd_slices_dir(d, err);
        cleanup_kv vs_kv_t kv = { 0 };

        if (dirfd < 0)
                return -1;
        if (strcmp(req->name, VS_DEFAULT_SLICE) == 0 ||
            faccessat(dirfd, req->name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                return vs_error_kind(err, VS_E_STATE, EEXIST, "slice %s already exists", req->name);
        if (vsd_slice_names_free(d, req->name, err) < 0 || settings_arg(req, &kv, err) < 0 ||
            commit(d, req->name, &kv, NULL, err) < 0)
                return -1;
        vs_log(LOG_INFO, "created slice %s", req->name);
        reply_ok(d, c);
        return 0;
}

static int any_setting(const vs_request_t *req)
{
        for (const vs_field_spec_t *f = req->spec->fields; f->key; f++)
                if (vs_req_has(req, f->key))
                        return 1;
        return 0;
}

int vsd_handle_slice_set(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        cleanup_kv vs_kv_t kv = { 0 }, old = { 0 };

        if (strcmp(req->name, VS_DEFAULT_SLICE) == 0)
                return vs_error_kind(err, VS_E_STATE, EPERM, "slice default has no settings");
        /* the lines only: a set may mend a key an edit broke */
        if (vsd_slice_file_load(d, req->name, NULL, &kv, err) < 0 ||
            vsd_slice_file_load(d, req->name, NULL, &old, err) < 0)
                return -1;
        if (!any_setting(req))
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "no setting given");
        if (settings_arg(req, &kv, err) < 0 || commit(d, req->name, &kv, &old, err) < 0)
                return -1;
        vs_log(LOG_INFO, "set slice %s", req->name);
        reply_ok(d, c);
        return 0;
}

int vsd_handle_slice_destroy(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        cleanup_close int dirfd = -1;
        cleanup_kv vs_kv_t kv = { 0 };
        size_t n;

        if (strcmp(req->name, VS_DEFAULT_SLICE) == 0)
                return vs_error_kind(err, VS_E_STATE, EPERM, "slice default always exists");
        /* a file an edit broke is removed as well */
        if (vsd_slice_file_load(d, req->name, NULL, &kv, err) < 0)
                return -1;
        if (vsd_slice_has_loans(d, req->name))
                return vs_error_kind(err, VS_E_STATE, EBUSY,
                                     "slice %s has loans: revoke them first (vsctl slice loans)",
                                     req->name);
        n = vsd_slice_count_vps(d, req->name, NULL);
        if (n)
                return vs_error_kind(err, VS_E_STATE, EBUSY,
                                     "slice %s has %zu VPS: destroy them first (or give --force)",
                                     req->name, n);
        if (vs_cgroup_slice_remove(d->cgtree, req->name, err) < 0)
                return -1;
        dirfd = vsd_slices_dir(d, err);
        if (dirfd < 0 || unlinkat(dirfd, req->name, 0) < 0)
                return dirfd < 0 ? -1 : vs_error_errno(err, "remove slice %s", req->name);
        vs_fsync_dir(dirfd, NULL);
        vs_log(LOG_INFO, "destroyed slice %s", req->name);
        reply_ok(d, c);
        return 0;
}

/* ---- list and status ---- */

/* "1000,1001" as user names where the users have them. */
static void owner_names(const char *uids, char *out, size_t size)
{
        cleanup_free char *copy = vs_xstrdup(uids ? uids : "");
        char *save = NULL;

        *out = '\0';
        for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
                uint64_t uid;
                struct passwd *pw =
                        vs_digits(w, (uid_t)-2, &uid) == 0 ? getpwuid((uid_t)uid) : NULL;
                size_t len = strlen(out);

                snprintf(out + len, size - len, "%s%s", len ? "," : "", pw ? pw->pw_name : w);
        }
}

/* A slice's description and the texts it points to. */
struct described {
        vs_slice_info_t info;
        char owners[1024];
        char cgroup[256];
        vs_slice_time_t time;
};

/* Under a loan a slice's cpuunits, ram and rate_out are what the loans
 * make them. */
static void effective(struct vsd *d, const struct vsd_slice_file *f, vs_kv_t *kv)
{
        static const vs_limit_t moved[] = { VS_LIM_CPUUNITS, VS_LIM_RAM };
        struct vsd_slice_rules r = f->rules;
        char rate[32];

        if (!vsd_slice_has_loans(d, f->name))
                return;
        vsd_slice_loans_adjust(d, &r);
        for (size_t i = 0; i < sizeof(moved) / sizeof(moved[0]); i++)
                if (VS_LIMIT_IS_SET(&r.limits, moved[i]))
                        vs_kv_set(kv, vs_limit_key(moved[i]), r.limits.text[moved[i]]);
        if (r.rate_out) {
                vs_rate_format(r.rate_out, rate, sizeof(rate));
                vs_kv_set(kv, "rate_out", rate);
        }
}

/* A slice as its file f (and its lines kv) and vsd's figures describe it. */
static void describe(struct vsd *d, const struct vsd_slice_file *f, vs_kv_t *kv,
                     struct described *out)
{
        const char *name = f->name;
        size_t running = 0;
        vs_cgroup_t *cg = NULL;

        memset(out, 0, sizeof(*out));
        effective(d, f, kv);
        out->info.name = name;
        out->info.settings = kv;
        out->info.owner_names = out->owners;
        owner_names(vs_kv_get(kv, "owners"), out->owners, sizeof(out->owners));
        out->info.nvps = (long long)vsd_slice_count_vps(d, name, &running);
        out->info.running = (long long)running;
        if (vsd_slice_time_describe(d, name, &out->time, NULL) == 0)
                out->info.time = &out->time;
        /* the level is there while a VPS of the slice runs: its counters
         * are theirs together */
        if (running && vs_cgroup_slice_open(d->cgtree, name, &cg, NULL) == 0) {
                vs_stats_t s;

                vs_strlcpy(out->cgroup, vs_cgroup_path(cg), sizeof(out->cgroup));
                out->info.cgroup = out->cgroup;
                if (vs_stats_read(cg, &s, NULL) == 0) {
                        out->info.has_usage = 1;
                        out->info.cpu_usec = s.cpu_usec;
                        out->info.mem_bytes = s.mem_bytes;
                        out->info.nproc = s.nproc;
                }
                vs_cgroup_free(cg);
        }
}

static int owner_sees(struct vsd *d, const struct client *c, const char *slice)
{
        return c->role == VSD_ROLE_ADMIN || vsd_slice_has_owner(vsd_slice_find(d, slice), c->uid);
}

static int cmp_strings(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The slices' names, sorted: NULL-terminated, malloc'd. */
static char **slice_names(int dirfd, size_t *n, vs_error_t *err)
{
        cleanup_closedir DIR *dir = vs_opendir_at(dirfd, ".");
        struct dirent *ent;
        char **names = NULL;
        size_t cap = 0;

        if (!dir) {
                vs_error_errno(err, "read the slices");
                return NULL;
        }
        *n = 0;
        names = vs_xgrow(names, 0, &cap, 8, sizeof(*names));
        while ((ent = readdir(dir))) {
                /* NAME.usage and the like are not slices */
                if (vs_parse_name(ent->d_name, "slice name", NULL) < 0)
                        continue;
                names = vs_xgrow(names, *n + 1, &cap, 8, sizeof(*names));
                names[(*n)++] = vs_xstrdup(ent->d_name);
        }
        names[*n] = NULL;
        qsort(names, *n, sizeof(*names), cmp_strings);
        return names;
}

int vsd_handle_slice_list(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        cleanup_close int dirfd = vsd_slices_dir(d, err);
        cleanup_strv char **names = NULL;
        json_object *reply;
        size_t n;

        (void)req;
        if (dirfd < 0 || !(names = slice_names(dirfd, &n, err)))
                return -1;
        reply = vs_reply_slice_list_new();
        for (size_t i = 0; i < n; i++) {
                cleanup_kv vs_kv_t kv = { 0 };
                struct vsd_slice_file f;
                struct described one;
                vs_error_t bad = { 0 };

                if (!owner_sees(d, c, names[i]))
                        continue;
                /* a file an edit broke: slice status NAME says why */
                if (vsd_slice_file_load(d, names[i], &f, &kv, &bad) < 0) {
                        vs_log(LOG_WARNING, "slice list: %s; left out", bad.msg);
                        continue;
                }
                describe(d, &f, &kv, &one);
                vs_reply_slice_list_add(reply, &one.info);
        }
        vsd_client_reply(d, c, reply, NULL, 0);
        return 0;
}

int vsd_handle_slice_status(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        cleanup_kv vs_kv_t kv = { 0 };
        struct vsd_slice_file f;
        struct described one;

        if (!owner_sees(d, c, req->name))
                return vsd_no_such_slice(err);
        if (vsd_slice_file_load(d, req->name, &f, &kv, err) < 0)
                return -1;
        describe(d, &f, &kv, &one);
        vsd_client_reply(d, c, vs_reply_slice(&one.info), NULL, 0);
        return 0;
}
