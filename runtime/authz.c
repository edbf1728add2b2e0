/* vsd's one authorization point (authz.h). The dispatcher asks
 * vsd_authz_request before any handler runs; nothing else in vsd decides
 * who may do what. Owners never learn another slice's VPS names: a request
 * naming one gets the very reply a missing VPS gets, and the answers that
 * list VPS (list, events, metrics) leave them out. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/diskquota.h"
#include "vs/fsutil.h"
#include "vs/netns.h"
#include "vs/parse.h"
#include "authz.h"
#include "slice.h"
#include "vsd.h"

/* ---- the table ---- */

static const struct {
        const char *cmd;
        enum vsd_authz_rule rule;
} table[] = {
        { VS_CMD_PING, VSD_AUTHZ_ANYONE },
        { VS_CMD_CREATE, VSD_AUTHZ_NEW_VPS },
        { VS_CMD_START, VSD_AUTHZ_OWN_VPS },
        { VS_CMD_STOP, VSD_AUTHZ_OWN_VPS },
        { VS_CMD_RESTART, VSD_AUTHZ_OWN_VPS },
        { VS_CMD_DESTROY, VSD_AUTHZ_OWN_VPS },
        { VS_CMD_STATUS, VSD_AUTHZ_OWN_VPS },
        { VS_CMD_EXEC, VSD_AUTHZ_OWN_VPS },
        { VS_CMD_LOGS, VSD_AUTHZ_OWN_VPS },
        { VS_CMD_CONSOLE, VSD_AUTHZ_OWN_VPS },
        { VS_CMD_BEANCOUNTERS, VSD_AUTHZ_OWN_VPS },
        /* tar of the VPS's own files into a pipe vsctl reads */
        { VS_CMD_BACKUP, VSD_AUTHZ_OWN_VPS },
        { VS_CMD_SET, VSD_AUTHZ_OWN_LIMIT },
        { VS_CMD_RESIZE, VSD_AUTHZ_OWN_LIMIT },
        { VS_CMD_CLONE, VSD_AUTHZ_OWN_LIMIT },
        { VS_CMD_LIST, VSD_AUTHZ_FILTERED },
        { VS_CMD_EVENTS, VSD_AUTHZ_FILTERED },
        { VS_CMD_METRICS, VSD_AUTHZ_FILTERED },
        /* the owner's own slices only: another is answered as none
         * (slicetimecmd.c) */
        { VS_CMD_SLICE_USAGE, VSD_AUTHZ_FILTERED },
        { VS_CMD_SLICE_LIST, VSD_AUTHZ_FILTERED },
        { VS_CMD_SLICE_STATUS, VSD_AUTHZ_OWN_SLICE },
        /* owners of the lender lend; loans and revoke: the handler shows
         * and ends only those of the owner's slices */
        { VS_CMD_SLICE_LOAN, VSD_AUTHZ_OWN_SLICE },
        { VS_CMD_SLICE_LOANS, VSD_AUTHZ_FILTERED },
        { VS_CMD_SLICE_REVOKE, VSD_AUTHZ_FILTERED },
        /* and admins only, as every command not listed: node, template-*,
         * restore (vsd reads a host path as root), slice create, set and
         * destroy */
        { VS_CMD_NODE, VSD_AUTHZ_ADMIN },
        { VS_CMD_RESTORE, VSD_AUTHZ_ADMIN },
};

enum vsd_authz_rule vsd_authz_rule_of(const char *cmd)
{
        for (size_t i = 0; cmd && i < sizeof(table) / sizeof(table[0]); i++)
                if (strcmp(table[i].cmd, cmd) == 0)
                        return table[i].rule;
        return VSD_AUTHZ_ADMIN;
}

static int denied(vs_error_t *err, const char *fmt, ...) VS_PRINTF(2, 3);
static int denied(vs_error_t *err, const char *fmt, ...)
{
        char text[sizeof(err->msg) - 32];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        return vs_error_kind(err, VS_E_PERM, EACCES, "permission denied: %s", text);
}

enum vsd_authz_verdict vsd_authz_decide(const struct vsd_authz_facts *f, vs_error_t *err)
{
        if (f->role == VSD_ROLE_ADMIN)
                return VSD_AUTHZ_ALLOW;
        if (f->role != VSD_ROLE_OWNER) {
                denied(err, "only root, group paene and slice owners may use vsd");
                return VSD_AUTHZ_REFUSE;
        }
        switch (vsd_authz_rule_of(f->cmd)) {
        case VSD_AUTHZ_ANYONE:
        case VSD_AUTHZ_FILTERED:
        case VSD_AUTHZ_NEW_VPS:
                return VSD_AUTHZ_ALLOW;
        case VSD_AUTHZ_OWN_VPS:
        case VSD_AUTHZ_OWN_LIMIT:
                return f->vps_visible ? VSD_AUTHZ_ALLOW : VSD_AUTHZ_HIDE;
        case VSD_AUTHZ_OWN_SLICE:
                if (f->slice_owned)
                        return VSD_AUTHZ_ALLOW;
                /* as one that does not exist */
                vs_error_kind(err, VS_E_NOTFOUND, ENOENT, "no such slice");
                return VSD_AUTHZ_REFUSE;
        default:
                denied(err, "%s is for admins (root and group paene), not slice owners", f->cmd);
                return VSD_AUTHZ_REFUSE;
        }
}

static int template_allowed(const char *list, const char *tmpl)
{
        cleanup_free char *copy = vs_xstrdup(list);
        char *save = NULL;
        int any = 0;

        for (char *word = strtok_r(copy, ", ", &save); word; word = strtok_r(NULL, ", ", &save)) {
                any = 1;
                if (strcmp(word, tmpl) == 0)
                        return 1;
        }
        return !any;
}

/* What only an admin may give, whatever its value: privilege, capabilities
 * and the node's addresses and ports. */
static int check_node_fields(const vs_request_t *req, vs_error_t *err)
{
        static const struct {
                const char *key, *what;
        } fields[] = {
                { "capability", "capabilities" },        { "ipadd", "addresses (--ipadd)" },
                { "ipdel", "addresses (--ipdel)" },      { "port_forward", "port forwards" },
                { "port_forward_del", "port forwards" },
        };
        if (vs_req_given_bool(req, "privileged"))
                return denied(err, "slice owners may not create privileged VPS");
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
                if (vs_req_given(req, fields[i].key))
                        return denied(err, "%s are set by admins, not slice owners",
                                      fields[i].what);
        if (strcmp(req->cmd, VS_CMD_CREATE) != 0 && vs_req_given(req, "slice"))
                return denied(err, "slice owners may not move a VPS to another slice");
        return 0;
}

static int above(const struct vsd_slice_rules *r, const char *what, const char *text,
                 vs_error_t *err)
{
        return denied(err, "--%s %s is beyond slice %s's limit", what, text, r->name);
}

static int check_limits(const struct vsd_slice_rules *r, const vs_request_t *req, vs_error_t *err)
{
        vs_limits_t l;

        if (!vs_req_given(req, "limits"))
                return 0;
        if (vs_req_limits_parse(req, "limits", &l, err) < 0)
                return -1;
        for (int k = 0; k < VS_LIM_COUNT; k++) {
                if (k == VS_LIM_CPUMASK || !VS_LIMIT_IS_SET(&l, k))
                        continue;
                if (VS_LIMIT_IS_SET(&r->limits, k) && l.value[k] > r->limits.value[k])
                        return above(r, vs_limit_option((vs_limit_t)k), l.text[k], err);
                /* a reservation is the node's (admission counts it there)
                 * and no slice cgroup holds it: a slice that names none
                 * has none to give, or one owner takes the whole node's */
                if ((k == VS_LIM_CPU_RESERVE || k == VS_LIM_RAM_RESERVE) &&
                    !VS_LIMIT_IS_SET(&r->limits, k) && l.value[k] > 0)
                        return above(r, vs_limit_option((vs_limit_t)k), l.text[k], err);
        }
        /* swap comes on top of ram: within the slice's memory only */
        if (VS_LIMIT_IS_SET(&l, VS_LIM_SWAP) && !VS_LIMIT_IS_SET(&r->limits, VS_LIM_SWAP) &&
            VS_LIMIT_IS_SET(&r->limits, VS_LIM_RAM) &&
            l.value[VS_LIM_SWAP] > r->limits.value[VS_LIM_RAM])
                return above(r, "swap", l.text[VS_LIM_SWAP], err);
        if (VS_LIMIT_IS_SET(&l, VS_LIM_CPUMASK) && VS_LIMIT_IS_SET(&r->limits, VS_LIM_CPUMASK) &&
            !vs_cpulist_within(l.text[VS_LIM_CPUMASK], r->limits.text[VS_LIM_CPUMASK]))
                return above(r, "cpumask", l.text[VS_LIM_CPUMASK], err);
        /* --cpus N caps at N whole CPUs */
        if (VS_LIMIT_IS_SET(&l, VS_LIM_CPUS) && VS_LIMIT_IS_SET(&r->limits, VS_LIM_CPULIMIT) &&
            l.value[VS_LIM_CPUS] * 1000000ULL > r->limits.value[VS_LIM_CPULIMIT])
                return above(r, "cpus", l.text[VS_LIM_CPUS], err);
        return 0;
}

static int check_rate(const struct vsd_slice_rules *r, const vs_request_t *req, const char *key,
                      uint64_t cap, vs_error_t *err)
{
        const char *text = vs_req_given_str(req, key);
        uint64_t bits;

        if (!text || !cap)
                return 0;
        if (vs_rate_parse(text, key, &bits, err) < 0)
                return -1;
        /* 0 takes the cap away */
        if (bits == 0 || bits > cap)
                return above(r, strcmp(key, "rate_out") == 0 ? "rate-out" : "rate-in", text, err);
        return 0;
}

static int check_disk(const struct vsd_slice_rules *r, const vs_request_t *req, vs_error_t *err)
{
        const char *text = vs_req_given_str(req, "diskspace");
        vs_disk_limit_t space;

        if (!r->diskspace)
                return 0;
        if (!text) {
                if (strcmp(req->cmd, VS_CMD_CREATE) != 0)
                        return 0;
                return denied(err, "slice %s has a disk limit: give --diskspace", r->name);
        }
        if (vs_disk_parse_space(text, &space, err) < 0)
                return -1;
        if (!space.hard || space.hard > r->diskspace)
                return above(r, "diskspace", text, err);
        return 0;
}

static int check_inodes(const struct vsd_slice_rules *r, const vs_request_t *req, vs_error_t *err)
{
        const char *text = vs_req_given_str(req, "diskinodes");
        vs_disk_limit_t inodes;

        if (!text || !r->diskinodes)
                return 0;
        if (vs_disk_parse_inodes(text, &inodes, err) < 0)
                return -1;
        if (!inodes.hard || inodes.hard > r->diskinodes)
                return above(r, "diskinodes", text, err);
        return 0;
}

/* --force overrides the node's admission and limit checks: the node's,
 * not a slice's. (--onboot starts the owner's own VPS at boot, within the
 * slice's caps like any start.) */
static int check_node_policy(const vs_request_t *req, vs_error_t *err)
{
        if (vs_req_given_bool(req, "force"))
                return denied(err, "--force is for admins, not slice owners");
        return 0;
}

int vsd_authz_within_slice(const struct vsd_slice_rules *r, const vs_request_t *req,
                           vs_error_t *err)
{
        const char *tmpl = vs_req_given_str(req, "template");

        if (check_node_fields(req, err) < 0 || check_limits(r, req, err) < 0 ||
            check_rate(r, req, "rate_out", r->rate_out, err) < 0 ||
            check_rate(r, req, "rate_in", r->rate_in, err) < 0 || check_disk(r, req, err) < 0 ||
            check_inodes(r, req, err) < 0 || check_node_policy(req, err) < 0)
                return -1;
        if (strcmp(req->cmd, VS_CMD_CREATE) == 0 && tmpl && !template_allowed(r->templates, tmpl))
                return denied(err, "template %s is not one of slice %s's (%s)", tmpl, r->name,
                              r->templates);
        return 0;
}

/* ---- what vsd knows ---- */

static int owns(struct vsd *d, uid_t uid, const char *slice)
{
        return vsd_slice_has_owner(vsd_slice_find(d, slice), uid);
}

/* Calls fn for each slice uid owns, in directory order; stops at fn's
 * non-zero. Returns how many it called fn for. */
static size_t each_owned_slice(struct vsd *d, uid_t uid, int (*fn)(const char *slice, void *arg),
                               void *arg)
{
        cleanup_free char *path = vs_strdupf("%s/var/lib/paene/slices", d->root);
        cleanup_closedir DIR *dir = opendir(path);
        struct dirent *ent;
        size_t n = 0;

        while (dir && (ent = readdir(dir))) {
                /* NAME.usage and the like are not slices */
                if (vs_parse_name(ent->d_name, "slice name", NULL) < 0 ||
                    !owns(d, uid, ent->d_name))
                        continue;
                n++;
                if (fn && fn(ent->d_name, arg))
                        break;
        }
        return n;
}

static int is_admin(const struct vsd *d, int fd, const struct ucred *cred)
{
        gid_t groups[256];
        socklen_t len = sizeof(groups);

        if (cred->uid == 0)
                return 1;
        if (d->admin_gid == 0)
                return 0;
        if (cred->gid == d->admin_gid)
                return 1;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
                return 0;
        for (size_t i = 0; i < len / sizeof(gid_t); i++)
                if (groups[i] == d->admin_gid)
                        return 1;
        return 0;
}

enum vsd_role vsd_authz_peer(struct vsd *d, int fd, uid_t *uid)
{
        struct ucred cred;
        socklen_t len = sizeof(cred);

        *uid = (uid_t)-1;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return VSD_ROLE_NONE;
        *uid = cred.uid;
        if (is_admin(d, fd, &cred))
                return VSD_ROLE_ADMIN;
        return each_owned_slice(d, cred.uid, NULL, NULL) ? VSD_ROLE_OWNER : VSD_ROLE_NONE;
}

int vsd_authz_sees(struct vsd *d, const struct client *c, const struct vps *v)
{
        if (c->role == VSD_ROLE_ADMIN)
                return 1;
        return c->role == VSD_ROLE_OWNER && v && owns(d, c->uid, v->slice);
}

int vsd_authz_sees_name(struct vsd *d, const struct client *c, const char *name)
{
        return c->role == VSD_ROLE_ADMIN || vsd_authz_sees(d, c, vsd_vps_find(d, name));
}

struct first_slice {
        char *buf;
        size_t size;
};

static int take_first(const char *slice, void *arg)
{
        struct first_slice *f = arg;

        vs_strlcpy(f->buf, slice, f->size);
        return 0; /* and count on */
}

const char *vsd_authz_create_slice(struct vsd *d, const struct client *c, const vs_request_t *req,
                                   char *buf, size_t size)
{
        const char *named = vs_req_given_str(req, "slice");
        struct first_slice f = { buf, size };

        if (named) {
                vs_strlcpy(buf, named, size);
                return buf;
        }
        if (c->role == VSD_ROLE_ADMIN)
                return NULL;
        return each_owned_slice(d, c->uid, take_first, &f) == 1 ? buf : NULL;
}

/* An owner's create or clone: the slice is one of the owner's (else as one
 * that does not exist), the name is in its namespace, the settings within
 * its rules. */
static int check_new_vps(struct vsd *d, const struct client *c, const vs_request_t *req,
                         const char *slice, const char *name, vs_error_t *err)
{
        struct vsd_slice_rules rules;

        if (!slice && each_owned_slice(d, c->uid, NULL, NULL) == 0)
                return vs_error_kind(err, VS_E_NOTFOUND, ENOENT, "no such slice");
        if (!slice)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "you own several slices: give --slice");
        if (!owns(d, c->uid, slice))
                return vs_error_kind(err, VS_E_NOTFOUND, ENOENT, "no such slice");
        if (!vsd_authz_name_in_slice(slice, name))
                return denied(err, "a VPS of slice %s is named %s-NAME", slice, slice);
        /* the slice's limits as its loans make them */
        if (vsd_slice_rules_load(d, slice, &rules, err) < 0)
                return -1;
        return vsd_authz_within_slice(&rules, req, err);
}

/* A clone names no limits but copies its source's config: its
 * reservations (the node's, see check_limits) only within the slice's
 * own, as if the clone's request had named them. An admin may have given
 * the source more, or the slice's file may give less since. */
static int check_source_reserve(const struct vsd_slice_rules *r, const struct vps *src,
                                vs_error_t *err)
{
        static const struct {
                vs_limit_t key;
                const char *what;
        } reserves[] = { { VS_LIM_CPU_RESERVE, "cpu-reserve" },
                         { VS_LIM_RAM_RESERVE, "ram-reserve" } };

        for (size_t i = 0; i < sizeof(reserves) / sizeof(reserves[0]); i++) {
                vs_limit_t k = reserves[i].key;
                uint64_t want =
                        k == VS_LIM_CPU_RESERVE ? src->reserve.cpu_micro : src->reserve.mem_bytes;

                if (want > 0 && (!VS_LIMIT_IS_SET(&r->limits, k) || want > r->limits.value[k]))
                        return denied(err, "%s's --%s is beyond slice %s's: a clone copies it",
                                      src->name, reserves[i].what, r->name);
        }
        return 0;
}

static int check_own_limits(struct vsd *d, const struct client *c, struct vps *v,
                            const vs_request_t *req, vs_error_t *err)
{
        const char *clone_name =
                strcmp(req->cmd, VS_CMD_CLONE) == 0 ? vs_req_given_str(req, "new") : NULL;
        struct vsd_slice_rules rules;

        if (clone_name && check_new_vps(d, c, req, v->slice, clone_name, err) < 0)
                return -1;
        if (vsd_slice_rules_load(d, v->slice, &rules, err) < 0)
                return -1;
        if (clone_name)
                return check_source_reserve(&rules, v, err);
        return vsd_authz_within_slice(&rules, req, err);
}

enum vsd_authz_verdict vsd_authz_request(struct vsd *d, const struct client *c,
                                         const vs_request_t *req, vs_error_t *err)
{
        struct vps *v = req->spec->name == VS_NAME_VPS ? vsd_vps_find(d, req->name) : NULL;
        struct vsd_authz_facts facts = {
                c->role,
                req->cmd,
                vsd_authz_sees(d, c, v),
                req->spec->name == VS_NAME_SLICE && owns(d, c->uid, req->name),
        };
        enum vsd_authz_verdict verdict = vsd_authz_decide(&facts, err);
        enum vsd_authz_rule rule = vsd_authz_rule_of(req->cmd);
        char slice[64];

        if (verdict != VSD_AUTHZ_ALLOW || c->role == VSD_ROLE_ADMIN)
                return verdict;
        if (rule == VSD_AUTHZ_NEW_VPS &&
            check_new_vps(d, c, req, vsd_authz_create_slice(d, c, req, slice, sizeof(slice)),
                          req->name, err) < 0)
                return VSD_AUTHZ_REFUSE;
        if (rule == VSD_AUTHZ_OWN_LIMIT && check_own_limits(d, c, v, req, err) < 0)
                return VSD_AUTHZ_REFUSE;
        return VSD_AUTHZ_ALLOW;
}
