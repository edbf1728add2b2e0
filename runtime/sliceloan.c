/* Loans between slices (PlanetLab's NodeManager): part of a slice's
 * cpuunits or ram moves to another slice until the loan ends or is revoked.
 * The loans are one kvfile, var/lib/paene/slices/.loans (a name no slice
 * can have), "ID = FROM TO LIMIT AMOUNT UNTIL" with AMOUNT in the limit's
 * unit (cpuunits, bytes) and UNTIL in seconds since the epoch (0: until
 * revoked), and "next = ID". A slice's rules are its file's with the loans
 * in force added and taken away (vsd_slice_loans_adjust), so that the
 * checks and the cgroups of both slices hold them at once; vsd's tick ends
 * the loans whose time has come and writes both cgroups again. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/log.h"
#include "vs/netns.h"
#include "vs/parse.h"
#include "authz.h"
#include "serve.h"
#include "slice.h"
#include "slicecmd.h"
#include "store.h"
#include "vsd.h"

/* Saves kv as the loans file and writes the caps of the n slices again,
 * all or nothing: when a write fails half way, the file goes back to was
 * (the book as it was loaded) and the slices written so far, the failing
 * one too (its first files may have taken), are written again from it.
 * The slices' caps are computed from the file, so that one file is the
 * truth of both cgroups. */
static int commit(struct vsd *d, const vs_kv_t *kv, const vs_kv_t *was, const char *const *slices,
                  size_t n, vs_error_t *err)
{
        cleanup_close int dirfd = vsd_slices_dir(d, err);
        int existed;
        size_t i;

        if (dirfd < 0)
                return -1;
        existed = faccessat(dirfd, VSD_LOANS_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
        if (vs_kv_save(dirfd, VSD_LOANS_FILE, kv, 1, err) < 0)
                return -1;
        /* a slice destroyed since (an ended loan's) has no cgroup to write */
        for (i = 0; i < n; i++)
                if (vsd_slice_find(d, slices[i]) && vsd_slice_cgroup_apply(d, slices[i], err) < 0)
                        break;
        if (i == n)
                return 0;
        {
                vs_error_t undo = { 0 };

                if (existed ? vs_kv_save(dirfd, VSD_LOANS_FILE, was, 1, &undo)
                            : unlinkat(dirfd, VSD_LOANS_FILE, 0) < 0 || vs_fsync_dir(dirfd, &undo))
                        vs_log(LOG_ERR, "slice loans: the book cannot go back: %s",
                               undo.msg[0] ? undo.msg : strerror(errno));
                for (size_t j = 0; j <= i; j++)
                        if (vsd_slice_find(d, slices[j]) &&
                            vsd_slice_cgroup_apply(d, slices[j], &undo) < 0)
                                vs_log(LOG_ERR, "slice loans: undo: %s", undo.msg);
        }
        return -1;
}

/* The one limit a loan moves: cpuunits, ram or rate_out, and its amount. */
static int loan_amount(const vs_request_t *req, struct vsd_loan *l, vs_error_t *err)
{
        cleanup_kv vs_kv_t given = { 0 };
        vs_limits_t parsed = { 0 };
        int k;

        vs_req_texts(req, "limits", &given);
        if (vs_req_has(req, "rate_out") && given.count == 0) {
                l->what = VSD_LOAN_RATE_OUT;
                if (vs_rate_parse(vs_req_str(req, "rate_out"), "--rate-out", &l->amount, err) < 0)
                        return -1;
                if (!l->amount)
                        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                             "--rate-out of a loan is a rate, not none");
                return 0;
        }
        if (given.count != 1 || !given.lines[0].key || vs_req_has(req, "rate_out") ||
            ((k = vs_limit_find(given.lines[0].key)) != VS_LIM_CPUUNITS && k != VS_LIM_RAM))
                return vs_error_kind(
                        err, VS_E_USAGE, EINVAL,
                        "a loan moves one of --cpuunits N, --ram SIZE or --rate-out R");
        if (vs_limits_parse_one(&parsed, (vs_limit_t)k, given.lines[0].value, err) < 0)
                return -1;
        l->what = (vs_limit_t)k;
        l->amount = parsed.value[k];
        return 0;
}

static int loan_until(const vs_request_t *req, struct vsd_loan *l, vs_error_t *err)
{
        const char *text = vs_req_str(req, "until");
        int64_t when, now = (int64_t)time(NULL);

        l->until = 0;
        if (!text)
                return 0;
        if (vs_parse_when(text, now, "--until", &when, err) < 0)
                return -1;
        if (when <= now)
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "--until %s is in the past", text);
        l->until = (long long)when;
        return 0;
}

/* What the lender has now (its loans in force counted) covers the loan and
 * its VPS still fit: the lender's alone, checked before anything of the
 * borrower so that its answer is the same whether the borrower exists. */
static int lender_can_lend(struct vsd *d, const struct vsd_loan *l, vs_error_t *err)
{
        struct vsd_slice_rules from;
        const char *opt = vsd_loan_option(l->what);
        uint64_t *has;

        if (vsd_slice_rules_load(d, l->from, &from, err) < 0)
                return -1;
        if (!(has = vsd_loan_value(&from, l->what)) || *has <= l->amount)
                return vs_error_kind(err, VS_E_STATE, EDQUOT,
                                     "slice %s has --%s %" PRIu64 ": it cannot lend %" PRIu64,
                                     l->from, opt, has ? *has : 0, l->amount);
        *has -= l->amount;
        vsd_loan_value_changed(&from, l->what);
        if (vsd_slice_vps_fit(d, &from, err) < 0)
                return vs_error_wrap(err, "slice %s after the loan", l->from);
        return 0;
}

/* The borrower exists and has the limit to add the loan to. An owner of
 * the lender may lend to any slice whose name they were told, but learns
 * nothing else of one that is not theirs: every refusal is then "no such
 * slice", the answer for a name no slice has. */
static int borrower_takes(struct vsd *d, const struct client *c, const struct vsd_loan *l,
                          vs_error_t *err)
{
        struct vsd_slice_rules to;
        int told =
                c->role == VSD_ROLE_ADMIN || vsd_slice_has_owner(vsd_slice_find(d, l->to), c->uid);

        if (vsd_slice_rules_load(d, l->to, &to, err) < 0)
                return told ? -1 : vsd_no_such_slice(err);
        if (!vsd_loan_value(&to, l->what))
                return told ? vs_error_kind(err, VS_E_STATE, EINVAL,
                                            "slice %s has no --%s to add a loan to", l->to,
                                            vsd_loan_option(l->what))
                            : vsd_no_such_slice(err);
        return 0;
}

static void loan_text(const struct vsd_loan *l, char *out, size_t size)
{
        snprintf(out, size, "%s %s %s %" PRIu64 " %lld", l->from, l->to, vsd_loan_key(l->what),
                 l->amount, l->until);
}

int vsd_handle_slice_loan(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        cleanup_kv vs_kv_t kv = { 0 }, was = { 0 };
        struct vsd_loan loans[VSD_LOANS_MAX], l = { 0 };
        char key[24], text[192];
        const char *next;
        size_t n;

        vs_strlcpy(l.from, req->name, sizeof(l.from));
        vs_strlcpy(l.to, vs_req_str(req, "to"), sizeof(l.to));
        if (strcmp(l.from, l.to) == 0 || strcmp(l.to, VS_DEFAULT_SLICE) == 0 ||
            strcmp(l.from, VS_DEFAULT_SLICE) == 0)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "a loan goes from a slice to another (not the default)");
        /* the request, the lender, the book, and only then the borrower */
        if (loan_amount(req, &l, err) < 0 || loan_until(req, &l, err) < 0 ||
            lender_can_lend(d, &l, err) < 0 || vsd_slice_loans_load(d, &kv, loans, &n, err) < 0 ||
            vsd_slice_loans_load(d, &was, loans, &n, err) < 0)
                return -1;
        if (n == VSD_LOANS_MAX)
                return vs_error_kind(err, VS_E_STATE, ENOSPC, "%d loans already", VSD_LOANS_MAX);
        if (borrower_takes(d, c, &l, err) < 0)
                return -1;
        next = vs_kv_get(&kv, "next");
        l.id = next ? atoll(next) : 1;
        if (l.id < 1)
                l.id = 1;
        snprintf(key, sizeof(key), "%lld", l.id);
        loan_text(&l, text, sizeof(text));
        vs_kv_set(&kv, key, text);
        vs_kv_setf(&kv, "next", "%lld", l.id + 1);
        if (commit(d, &kv, &was, (const char *const[]){ l.from, l.to }, 2, err) < 0)
                return -1;
        vs_log(LOG_INFO, "loan %lld: %s lends %s %s to %s", l.id, l.from, vsd_loan_option(l.what),
               text, l.to);
        vsd_client_reply(d, c, vs_reply_named(key), NULL, 0);
        return 0;
}

static int sees_loan(struct vsd *d, const struct client *c, const struct vsd_loan *l)
{
        return c->role == VSD_ROLE_ADMIN ||
               vsd_slice_has_owner(vsd_slice_find(d, l->from), c->uid) ||
               vsd_slice_has_owner(vsd_slice_find(d, l->to), c->uid);
}

int vsd_handle_slice_loans(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        struct vsd_loan loans[VSD_LOANS_MAX];
        vs_loan_info_t info[VSD_LOANS_MAX];
        long long now = (long long)time(NULL);
        size_t n, k = 0;

        (void)req;
        if (vsd_slice_loans_load(d, NULL, loans, &n, err) < 0)
                return -1;
        for (size_t i = 0; i < n; i++) {
                vs_loan_info_t *one = &info[k];

                if (!vsd_loan_in_force(&loans[i], now) || !sees_loan(d, c, &loans[i]))
                        continue;
                memset(one, 0, sizeof(*one));
                one->id = loans[i].id;
                vs_strlcpy(one->from, loans[i].from, sizeof(one->from));
                vs_strlcpy(one->to, loans[i].to, sizeof(one->to));
                vs_strlcpy(one->what, vsd_loan_key(loans[i].what), sizeof(one->what));
                snprintf(one->amount, sizeof(one->amount), "%" PRIu64, loans[i].amount);
                one->until = loans[i].until;
                k++;
        }
        vsd_client_reply(d, c, vs_reply_loans(info, k), NULL, 0);
        return 0;
}

/* The slices the loans touch, each once, into names (2 * n at most). */
static size_t slices_of(const struct vsd_loan *loans, size_t n, const char **names)
{
        size_t k = 0;

        for (size_t i = 0; i < 2 * n; i++) {
                const char *name = i % 2 ? loans[i / 2].to : loans[i / 2].from;
                size_t j;

                for (j = 0; j < k && strcmp(names[j], name) != 0; j++)
                        ;
                if (j == k)
                        names[k++] = name;
        }
        return k;
}

/* Removes the loan with *id (or, id NULL, those whose end has come) and
 * writes the slices they touched again, all or nothing (commit): a loan
 * whose slices cannot be written stays in the book, a revoked one in force,
 * an ended one for the next tick to try again. */
static int end_loans(struct vsd *d, const long long *id, vs_error_t *err)
{
        cleanup_kv vs_kv_t kv = { 0 }, was = { 0 };
        struct vsd_loan loans[VSD_LOANS_MAX];
        const char *names[2 * VSD_LOANS_MAX];
        long long now = (long long)time(NULL);
        size_t n, ended = 0;

        if (vsd_slice_loans_load(d, &kv, loans, &n, err) < 0 ||
            vsd_slice_loans_load(d, &was, loans, &n, err) < 0)
                return -1;
        for (size_t i = 0; i < n; i++) {
                char key[24];

                if (id ? loans[i].id != *id : vsd_loan_in_force(&loans[i], now))
                        continue;
                snprintf(key, sizeof(key), "%lld", loans[i].id);
                vs_kv_set(&kv, key, NULL);
                loans[ended++] = loans[i];
        }
        if (!ended)
                return id ? vs_error_kind(err, VS_E_NOTFOUND, ENOENT, "no such loan") : 0;
        if (commit(d, &kv, &was, names, slices_of(loans, ended, names), err) < 0)
                return -1;
        for (size_t i = 0; i < ended; i++)
                vs_log(LOG_INFO, "loan %lld of %s to %s ended", loans[i].id, loans[i].from,
                       loans[i].to);
        return 0;
}

int vsd_handle_slice_revoke(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err)
{
        struct vsd_loan loans[VSD_LOANS_MAX];
        long long id = vs_req_int(req, "id", 0);
        size_t n, i;

        if (vsd_slice_loans_load(d, NULL, loans, &n, err) < 0)
                return -1;
        for (i = 0; i < n && loans[i].id != id; i++)
                ;
        /* an owner revokes their own slice's loans; another's is as none */
        if (i == n || !(c->role == VSD_ROLE_ADMIN ||
                        vsd_slice_has_owner(vsd_slice_find(d, loans[i].from), c->uid)))
                return vs_error_kind(err, VS_E_NOTFOUND, ENOENT, "no such loan");
        if (end_loans(d, &id, err) < 0)
                return -1;
        vsd_client_reply(d, c, vs_reply_ok(), NULL, 0);
        return 0;
}

void vsd_slice_tick(struct vsd *d)
{
        vs_error_t err = { 0 };

        if (d->root && end_loans(d, NULL, &err) < 0 && err.msg[0])
                vs_log(LOG_WARNING, "slice loans: %s", err.msg);
}
