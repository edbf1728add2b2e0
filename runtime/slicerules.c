/* The rules of slices (issue 15), below the slice and loan commands and
 * the lifecycle: a slice's file, its caps in its cgroup level, a VPS's
 * limits held to it, admission per slice, and the loans in force that
 * move cpuunits or ram between slices. Nothing here answers a request. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vs/admission.h"
#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/log.h"
#include "vs/netns.h"
#include "vs/parse.h"
#include "authz.h"
#include "slice.h"
#include "store.h"
#include "vsd.h"

/* The limits a slice's cgroup level carries; cpu_reserve and the
 * reservations are admission's, the rest are checked per VPS. */
static const vs_limit_t cgroup_caps[] = { VS_LIM_CPUUNITS, VS_LIM_CPULIMIT, VS_LIM_RAM,
                                          VS_LIM_RAM_RESERVE, VS_LIM_NUMPROC };

int vsd_slice_rules_load(struct vsd *d, const char *slice, struct vsd_slice_rules *r,
                         vs_error_t *err)
{
        struct vsd_slice_file f;

        if (vsd_slice_file_load(d, slice, &f, NULL, err) < 0)
                return -1;
        *r = f.rules;
        vsd_slice_loans_adjust(d, r);
        return 0;
}

/* ---- the slice's cgroup level ---- */

int vsd_slice_caps_apply(struct vsd *d, const struct vsd_slice_rules *r, vs_error_t *err)
{
        vs_limits_t caps = r->limits;
        vs_cgroup_t *cg = NULL;
        int rc;

        caps.set = 0;
        for (size_t i = 0; i < sizeof(cgroup_caps) / sizeof(cgroup_caps[0]); i++)
                caps.set |= r->limits.set & (1u << cgroup_caps[i]);
        if (vs_cgroup_slice_open(d->cgtree, r->name, &cg, err) < 0)
                return vs_error_wrap(err, "slice %s", r->name);
        rc = caps.set ? vs_limits_apply(cg, &caps, NULL, err) : 0;
        vs_cgroup_free(cg);
        return rc < 0 ? vs_error_wrap(err, "slice %s's cgroup", r->name) : 0;
}

int vsd_slice_cgroup_apply(struct vsd *d, const char *slice, vs_error_t *err)
{
        struct vsd_slice_rules r;

        if (strcmp(slice, VS_DEFAULT_SLICE) == 0)
                return 0;
        if (vsd_slice_rules_load(d, slice, &r, err) < 0)
                return vs_error_wrap(err, "slice %s", slice);
        return vsd_slice_caps_apply(d, &r, err);
}

/* ---- a VPS within its slice ---- */

static int above_slice(vs_error_t *err, const char *vps, const struct vsd_slice_rules *r,
                       const char *opt, const char *vps_text, const char *slice_text)
{
        return vs_error_kind(err, VS_E_STATE, EDQUOT, "VPS %s: --%s %s is above slice %s's --%s %s",
                             vps, opt, vps_text, r->name, opt, slice_text);
}

int vsd_slice_fits(const struct vsd_slice_rules *r, const char *vps, const vs_limits_t *l,
                   vs_error_t *err)
{
        for (int k = 0; k < VS_LIM_COUNT; k++) {
                if (k == VS_LIM_CPUMASK || !VS_LIMIT_IS_SET(l, k) ||
                    !VS_LIMIT_IS_SET(&r->limits, k))
                        continue;
                if (l->value[k] > r->limits.value[k])
                        return above_slice(err, vps, r, vs_limit_option((vs_limit_t)k), l->text[k],
                                           r->limits.text[k]);
        }
        /* --cpus N caps at N whole CPUs */
        if (VS_LIMIT_IS_SET(l, VS_LIM_CPUS) && VS_LIMIT_IS_SET(&r->limits, VS_LIM_CPULIMIT) &&
            l->value[VS_LIM_CPUS] * 1000000ULL > r->limits.value[VS_LIM_CPULIMIT])
                return vs_error_kind(err, VS_E_STATE, EDQUOT,
                                     "VPS %s: --cpus %s is above slice %s's --cpulimit %s", vps,
                                     l->text[VS_LIM_CPUS], r->name,
                                     r->limits.text[VS_LIM_CPULIMIT]);
        return 0;
}

size_t vsd_slice_count_vps(struct vsd *d, const char *slice, size_t *running)
{
        size_t n = 0;

        if (running)
                *running = 0;
        for (struct vps *v = d->vps_list; v; v = v->next) {
                if (strcmp(v->slice, slice) != 0)
                        continue;
                n++;
                if (running && v->phase != PHASE_STOPPED)
                        (*running)++;
        }
        return n;
}

/* Calls fn with the name of every slice that has a file (not default). */
static int each_slice(struct vsd *d, int (*fn)(const char *slice, void *arg), void *arg,
                      vs_error_t *err)
{
        cleanup_close int fd = vsd_slices_dir(d, err);
        cleanup_closedir DIR *dir = fd >= 0 ? vs_opendir_at(fd, ".") : NULL;
        struct dirent *ent;

        if (fd < 0)
                return -1;
        if (!dir)
                return vs_error_errno(err, "read the slices");
        while ((ent = readdir(dir)))
                if (ent->d_type == DT_REG && vs_parse_name(ent->d_name, "slice name", NULL) == 0 &&
                    fn(ent->d_name, arg) < 0)
                        return -1;
        return 0;
}

struct name_claim {
        const char *vps, *slice;
        vs_error_t *err;
};

static int claims_name(const char *other, void *arg)
{
        struct name_claim *c = arg;

        if (strcmp(other, c->slice) == 0 || !vsd_authz_name_in_slice(other, c->vps))
                return 0;
        return vs_error_kind(c->err, VS_E_STATE, EEXIST,
                             "VPS names %s-NAME are slice %s's (create it with --slice %s)", other,
                             other, other);
}

int vsd_slice_name_check(struct vsd *d, const char *slice, const char *vps, vs_error_t *err)
{
        struct name_claim c = { vps, slice ? slice : VS_DEFAULT_SLICE, err };

        return each_slice(d, claims_name, &c, err);
}

struct overlap {
        struct vsd *d;
        const char *slice;
        vs_error_t *err;
};

static int overlaps(const char *other, void *arg)
{
        struct overlap *o = arg;
        size_t n = strlen(other), m = strlen(o->slice);

        if ((strncmp(o->slice, other, n) == 0 && o->slice[n] == '-') ||
            (strncmp(other, o->slice, m) == 0 && other[m] == '-'))
                return vs_error_kind(o->err, VS_E_STATE, EEXIST,
                                     "slice names %s and %s overlap (a VPS named %s-... would be "
                                     "of both)",
                                     o->slice, other, n > m ? other : o->slice);
        return 0;
}

int vsd_slice_names_free(struct vsd *d, const char *slice, vs_error_t *err)
{
        struct overlap o = { d, slice, err };

        if (each_slice(d, overlaps, &o, err) < 0)
                return -1;
        for (struct vps *v = d->vps_list; v; v = v->next)
                if (vsd_authz_name_in_slice(slice, v->name) && strcmp(v->slice, slice) != 0)
                        return vs_error_kind(err, VS_E_STATE, EEXIST,
                                             "VPS %s, of slice %s, has a name of slice %s's "
                                             "(rename or destroy it first)",
                                             v->name, v->slice, slice);
        return 0;
}

int vsd_slice_admit_new(struct vsd *d, const char *slice, const char *vps, const vs_limits_t *l,
                        vs_error_t *err)
{
        struct vsd_slice_rules r;

        if (vsd_slice_name_check(d, slice, vps, err) < 0)
                return -1;
        if (!slice || strcmp(slice, VS_DEFAULT_SLICE) == 0)
                return 0;
        if (vsd_slice_rules_load(d, slice, &r, err) < 0)
                return err->kind == VS_E_NOTFOUND ? -1 : vs_error_wrap(err, "slice %s", slice);
        if (r.max_vps && vsd_slice_count_vps(d, slice, NULL) >= r.max_vps && !vsd_vps_find(d, vps))
                return vs_error_kind(err, VS_E_STATE, EDQUOT,
                                     "slice %s has its %llu VPS (max_vps): no room for %s", slice,
                                     (unsigned long long)r.max_vps, vps);
        return vsd_slice_fits(&r, vps, l, err);
}

static int load_vps_limits(struct vsd *d, struct vps *v, vs_limits_t *l, vs_error_t *err)
{
        const vs_kv_t *config = vsd_vps_config(d, v);

        if (!config)
                return vs_error_set(err, ENOENT, "VPS %s has no config", v->name);
        return vs_limits_from_config(config, l, err);
}

/* What the running VPS of the slice but `except` reserve. */
vs_reserve_t vsd_slice_reserved(struct vsd *d, const char *slice, const struct vps *except)
{
        vs_reserve_t sum = { 0, 0 };

        for (struct vps *v = d->vps_list; v; v = v->next) {
                vs_limits_t l;
                vs_reserve_t one;

                if (v == except || v->phase == PHASE_STOPPED || strcmp(v->slice, slice) != 0 ||
                    load_vps_limits(d, v, &l, NULL) < 0)
                        continue;
                one = vs_reserve_of(&l);
                sum.cpu_micro += one.cpu_micro;
                sum.mem_bytes += one.mem_bytes;
        }
        return sum;
}

/* The VPS's --rate-out or --rate-in (its config's key) within the slice's
 * cap of it: a VPS without a cap of its own is held by its slice's (as at
 * create), one above it is refused. */
static int rate_fits(struct vsd *d, const struct vsd_slice_rules *r, struct vps *v, const char *key,
                     uint64_t cap, vs_error_t *err)
{
        const vs_kv_t *config;
        const char *text;
        uint64_t bits;
        char own[32], capped[32];

        if (!cap || !(config = vsd_vps_config(d, v)) || !(text = vs_kv_get(config, key)) ||
            vs_rate_parse(text, key, &bits, NULL) < 0 || bits <= cap)
                return 0;
        vs_rate_format(bits, own, sizeof(own));
        vs_rate_format(cap, capped, sizeof(capped));
        return above_slice(err, v->name, r, strcmp(key, "rate_out") == 0 ? "rate-out" : "rate-in",
                           own, capped);
}

int vsd_slice_vps_fit(struct vsd *d, const struct vsd_slice_rules *r, vs_error_t *err)
{
        for (struct vps *v = d->vps_list; v; v = v->next) {
                vs_limits_t l;

                if (strcmp(v->slice, r->name) != 0 || load_vps_limits(d, v, &l, NULL) < 0)
                        continue;
                if (vsd_slice_fits(r, v->name, &l, err) < 0 ||
                    rate_fits(d, r, v, "rate_out", r->rate_out, err) < 0 ||
                    rate_fits(d, r, v, "rate_in", r->rate_in, err) < 0)
                        return -1;
        }
        return 0;
}

int vsd_slice_admit(struct vsd *d, const struct vps *v, const vs_limits_t *l, vs_error_t *err)
{
        vs_reserve_t want = vs_reserve_of(l), have;
        struct vsd_slice_rules r;
        const vs_limits_t *cap = &r.limits;

        if (strcmp(v->slice, VS_DEFAULT_SLICE) == 0 || (!want.cpu_micro && !want.mem_bytes))
                return 0;
        if (vsd_slice_rules_load(d, v->slice, &r, err) < 0)
                return vs_error_wrap(err, "slice %s", v->slice);
        have = vsd_slice_reserved(d, v->slice, v);
        if (want.cpu_micro && VS_LIMIT_IS_SET(cap, VS_LIM_CPU_RESERVE) &&
            have.cpu_micro + want.cpu_micro > cap->value[VS_LIM_CPU_RESERVE])
                return vs_error_kind(err, VS_E_STATE, ENOSPC,
                                     "slice %s: its VPS would reserve %llu%% CPU, its "
                                     "--cpu-reserve is %s",
                                     v->slice,
                                     (unsigned long long)(have.cpu_micro + want.cpu_micro) / 10000,
                                     cap->text[VS_LIM_CPU_RESERVE]);
        if (want.mem_bytes && VS_LIMIT_IS_SET(cap, VS_LIM_RAM_RESERVE) &&
            have.mem_bytes + want.mem_bytes > cap->value[VS_LIM_RAM_RESERVE])
                return vs_error_kind(err, VS_E_STATE, ENOSPC,
                                     "slice %s: its VPS would reserve %lluM, its --ram-reserve "
                                     "is %s",
                                     v->slice,
                                     (unsigned long long)(have.mem_bytes + want.mem_bytes) >> 20,
                                     cap->text[VS_LIM_RAM_RESERVE]);
        return 0;
}

static int parse_loan(const char *key, const char *value, struct vsd_loan *l)
{
        char what[16];
        unsigned long long amount;
        long long until;
        uint64_t id;

        if (vs_digits(key, 1000000000, &id) < 0 ||
            sscanf(value, "%63s %63s %15s %llu %lld", l->from, l->to, what, &amount, &until) != 5)
                return -1;
        l->id = (long long)id;
        l->what = strcmp(what, "ram") == 0        ? VS_LIM_RAM
                  : strcmp(what, "rate_out") == 0 ? VSD_LOAN_RATE_OUT
                                                  : VS_LIM_CPUUNITS;
        l->amount = amount;
        l->until = until;
        return 0;
}

/* The loans file's loans, into out (at most VSD_LOANS_MAX); the file itself in
 * kv when kv is not NULL (for a change). A missing file has none. */
int vsd_slice_loans_load(struct vsd *d, vs_kv_t *kv, struct vsd_loan *out, size_t *n,
                         vs_error_t *err)
{
        cleanup_close int dirfd = vsd_slices_dir(d, err);
        cleanup_kv vs_kv_t own = { 0 };
        vs_kv_t *file = kv ? kv : &own;

        *n = 0;
        if (dirfd < 0 || vs_kv_load_optional(dirfd, VSD_LOANS_FILE, file, err) < 0)
                return -1;
        for (size_t i = 0; i < file->count && *n < VSD_LOANS_MAX; i++) {
                const vs_kv_line_t *line = &file->lines[i];

                if (line->key && strcmp(line->key, "next") != 0 &&
                    parse_loan(line->key, line->value, &out[*n]) == 0)
                        (*n)++;
        }
        return 0;
}

int vsd_loan_in_force(const struct vsd_loan *l, long long now)
{
        return l->until == 0 || l->until > now;
}

void vsd_slice_loans_adjust(struct vsd *d, struct vsd_slice_rules *r)
{
        struct vsd_loan loans[VSD_LOANS_MAX];
        long long now = (long long)time(NULL);
        size_t n;

        if (vsd_slice_loans_load(d, NULL, loans, &n, NULL) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                vs_limit_t k = loans[i].what;
                int from = strcmp(loans[i].from, r->name) == 0;
                int to = strcmp(loans[i].to, r->name) == 0;
                uint64_t *value = vsd_loan_value(r, k);

                if (!vsd_loan_in_force(&loans[i], now) || (!from && !to) || !value)
                        continue;
                if (from)
                        *value = *value > loans[i].amount ? *value - loans[i].amount : 0;
                else
                        *value += loans[i].amount;
                vsd_loan_value_changed(r, k);
        }
}

const char *vsd_loan_key(vs_limit_t what)
{
        return what == VSD_LOAN_RATE_OUT ? "rate_out" : vs_limit_key(what);
}

const char *vsd_loan_option(vs_limit_t what)
{
        return what == VSD_LOAN_RATE_OUT ? "rate-out" : vs_limit_option(what);
}

uint64_t *vsd_loan_value(struct vsd_slice_rules *r, vs_limit_t what)
{
        if (what == VSD_LOAN_RATE_OUT)
                return r->rate_out ? &r->rate_out : NULL;
        return VS_LIMIT_IS_SET(&r->limits, what) ? &r->limits.value[what] : NULL;
}

void vsd_loan_value_changed(struct vsd_slice_rules *r, vs_limit_t what)
{
        if (what != VSD_LOAN_RATE_OUT)
                snprintf(r->limits.text[what], sizeof(r->limits.text[what]), "%" PRIu64,
                         r->limits.value[what]);
}

int vsd_slice_has_loans(struct vsd *d, const char *slice)
{
        struct vsd_loan loans[VSD_LOANS_MAX];
        long long now = (long long)time(NULL);
        size_t n;

        if (vsd_slice_loans_load(d, NULL, loans, &n, NULL) < 0)
                return 0;
        for (size_t i = 0; i < n; i++)
                if (vsd_loan_in_force(&loans[i], now) &&
                    (strcmp(loans[i].from, slice) == 0 || strcmp(loans[i].to, slice) == 0))
                        return 1;
        return 0;
}
