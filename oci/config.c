/* config.json, read strictly with json-c: a field of the wrong type, a
 * missing required field, a value out of range or a path that climbs out
 * with ".." is refused with a message naming the field. Unknown fields are
 * ignored, as the runtime-spec asks. */
#include "oci.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#define BAD(err, ...) vs_error_kind(err, VS_E_USAGE, EINVAL, __VA_ARGS__)

/* ---- typed access ---- */

static const char *type_name(json_type t)
{
        switch (t) {
        case json_type_object:
                return "an object";
        case json_type_array:
                return "an array";
        case json_type_string:
                return "a string";
        case json_type_int:
                return "an integer";
        case json_type_boolean:
                return "a boolean";
        case json_type_double:
                return "a number";
        default:
                return "null";
        }
}

/* The member `key` of `obj` (which the message calls `where`), of type t.
 * Returns 1 found, 0 absent (an error when required), -1 wrong type. */
static int member(struct json_object *obj, const char *where, const char *key, json_type t,
                  int required, struct json_object **out, vs_error_t *err)
{
        struct json_object *v;

        *out = NULL;
        if (!json_object_object_get_ex(obj, key, &v) || !v) {
                if (required)
                        return BAD(err, "%s%s%s: missing", where, *where ? "." : "", key);
                return 0;
        }
        if (!json_object_is_type(v, t))
                return BAD(err, "%s%s%s: expected %s, got %s", where, *where ? "." : "", key,
                           type_name(t), type_name(json_object_get_type(v)));
        *out = v;
        return 1;
}

static int get_string(struct json_object *obj, const char *where, const char *key, int required,
                      char **out, vs_error_t *err)
{
        struct json_object *v;
        int rc = member(obj, where, key, json_type_string, required, &v, err);

        if (rc <= 0)
                return rc;
        free(*out);
        *out = vs_xstrdup(json_object_get_string(v));
        return 1;
}

static int get_bool(struct json_object *obj, const char *where, const char *key, int *out,
                    vs_error_t *err)
{
        struct json_object *v;
        int rc = member(obj, where, key, json_type_boolean, 0, &v, err);

        if (rc <= 0)
                return rc;
        *out = json_object_get_boolean(v);
        return 1;
}

/* An integer in [min, max]; json-c keeps 64-bit values (uint64 above
 * INT64_MAX too). */
static int get_int(struct json_object *obj, const char *where, const char *key, int64_t min,
                   int64_t max, int64_t *out, vs_error_t *err)
{
        struct json_object *v;
        int rc = member(obj, where, key, json_type_int, 0, &v, err);
        int64_t n;

        if (rc <= 0)
                return rc;
        errno = 0;
        n = json_object_get_int64(v);
        if (errno == EINVAL || n < min || n > max)
                return BAD(err, "%s.%s: %s out of range", where, key, json_object_get_string(v));
        *out = n;
        return 1;
}

static int get_uint64(struct json_object *obj, const char *where, const char *key, uint64_t *out,
                      vs_error_t *err)
{
        struct json_object *v;
        int rc = member(obj, where, key, json_type_int, 0, &v, err);
        const char *text;

        if (rc <= 0)
                return rc;
        text = json_object_get_string(v);
        if (text[0] == '-')
                return BAD(err, "%s.%s: %s out of range", where, key, text);
        *out = json_object_get_uint64(v);
        return 1;
}

/* An array of strings, NULL-terminated. */
static int get_strv(struct json_object *obj, const char *where, const char *key, int required,
                    char ***out, vs_error_t *err)
{
        struct json_object *v;
        int rc = member(obj, where, key, json_type_array, required, &v, err);
        size_t n;
        char **list;

        if (rc <= 0)
                return rc;
        n = json_object_array_length(v);
        list = vs_xmalloc((n + 1) * sizeof(*list));
        for (size_t i = 0; i < n; i++) {
                struct json_object *s = json_object_array_get_idx(v, i);

                if (!json_object_is_type(s, json_type_string)) {
                        list[i] = NULL;
                        vs_strvfreep(&list);
                        return BAD(err, "%s.%s[%zu]: expected a string", where, key, i);
                }
                list[i] = vs_xstrdup(json_object_get_string(s));
        }
        list[n] = NULL;
        vs_strvfreep(out);
        *out = list;
        return 1;
}

static int array_of_objects(struct json_object *obj, const char *where, const char *key,
                            struct json_object **arr, size_t *n, vs_error_t *err)
{
        int rc = member(obj, where, key, json_type_array, 0, arr, err);

        *n = 0;
        if (rc <= 0)
                return rc;
        *n = json_object_array_length(*arr);
        for (size_t i = 0; i < *n; i++)
                if (!json_object_is_type(json_object_array_get_idx(*arr, i), json_type_object))
                        return BAD(err, "%s.%s[%zu]: expected an object", where, key, i);
        return 1;
}

/* A path with a ".." component climbs out of wherever it is joined. */
static int has_dotdot(const char *path)
{
        const char *p = path;

        while (*p) {
                size_t len = strcspn(p, "/");

                if (len == 2 && p[0] == '.' && p[1] == '.')
                        return 1;
                p += len;
                p += strspn(p, "/");
        }
        return 0;
}

static int string_map(struct json_object *obj, const char *where, const char *key,
                      struct oci_kv **out, size_t *n, vs_error_t *err)
{
        struct json_object *m;
        int rc = member(obj, where, key, json_type_object, 0, &m, err);
        size_t count = 0;

        if (rc <= 0)
                return rc;
        *out = vs_xmalloc((size_t)json_object_object_length(m) * sizeof(**out) + 1);
        json_object_object_foreach(m, k, val)
        {
                if (!json_object_is_type(val, json_type_string)) {
                        *n = count;
                        return BAD(err, "%s.%s.%s: expected a string", where, key, k);
                }
                (*out)[count].key = vs_xstrdup(k);
                (*out)[count].value = vs_xstrdup(json_object_get_string(val));
                count++;
        }
        *n = count;
        return 1;
}

/* ---- process ---- */

static const struct {
        const char *name;
        int resource;
} rlimit_names[] = {
        { "RLIMIT_AS", RLIMIT_AS },
        { "RLIMIT_CORE", RLIMIT_CORE },
        { "RLIMIT_CPU", RLIMIT_CPU },
        { "RLIMIT_DATA", RLIMIT_DATA },
        { "RLIMIT_FSIZE", RLIMIT_FSIZE },
        { "RLIMIT_LOCKS", RLIMIT_LOCKS },
        { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },
        { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
        { "RLIMIT_NICE", RLIMIT_NICE },
        { "RLIMIT_NOFILE", RLIMIT_NOFILE },
        { "RLIMIT_NPROC", RLIMIT_NPROC },
        { "RLIMIT_RSS", RLIMIT_RSS },
        { "RLIMIT_RTPRIO", RLIMIT_RTPRIO },
        { "RLIMIT_RTTIME", RLIMIT_RTTIME },
        { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
        { "RLIMIT_STACK", RLIMIT_STACK },
};

static int parse_rlimits(struct json_object *proc, struct oci_process *p, vs_error_t *err)
{
        struct json_object *arr;
        size_t n;

        int rc = array_of_objects(proc, "process", "rlimits", &arr, &n, err);

        if (rc <= 0)
                return rc;
        p->rlimits = vs_xmalloc((n + 1) * sizeof(*p->rlimits));
        for (size_t i = 0; i < n; i++) {
                struct json_object *o = json_object_array_get_idx(arr, i);
                cleanup_free char *type = NULL;
                struct oci_rlimit *r = &p->rlimits[p->n_rlimits];
                size_t k;
                struct json_object *dummy;

                if (get_string(o, "process.rlimits[]", "type", 1, &type, err) < 0)
                        return -1;
                for (k = 0; k < sizeof(rlimit_names) / sizeof(rlimit_names[0]); k++)
                        if (strcmp(rlimit_names[k].name, type) == 0)
                                break;
                if (k == sizeof(rlimit_names) / sizeof(rlimit_names[0]))
                        return BAD(err, "process.rlimits: unknown type '%s'", type);
                for (size_t j = 0; j < p->n_rlimits; j++)
                        if (p->rlimits[j].resource == rlimit_names[k].resource)
                                return BAD(err, "process.rlimits: '%s' given twice", type);
                r->resource = rlimit_names[k].resource;
                if (member(o, "process.rlimits[]", "soft", json_type_int, 1, &dummy, err) < 0 ||
                    member(o, "process.rlimits[]", "hard", json_type_int, 1, &dummy, err) < 0 ||
                    get_uint64(o, "process.rlimits[]", "soft", &r->soft, err) < 0 ||
                    get_uint64(o, "process.rlimits[]", "hard", &r->hard, err) < 0)
                        return -1;
                if (r->soft > r->hard)
                        return BAD(err, "process.rlimits: %s soft limit above the hard one", type);
                p->n_rlimits++;
        }
        return 0;
}

static int parse_capset(struct json_object *caps, const char *key, uint64_t *set, vs_error_t *err)
{
        cleanup_strv char **names = NULL;
        int rc = get_strv(caps, "process.capabilities", key, 0, &names, err);

        if (rc <= 0)
                return rc;
        for (char **n = names; *n; n++) {
                int cap = vs_cap_number(*n);

                if (cap < 0)
                        return BAD(err, "process.capabilities.%s: unknown capability '%s'", key,
                                   *n);
                *set |= 1ULL << cap;
        }
        return 0;
}

static int parse_caps(struct json_object *proc, struct oci_process *p, vs_error_t *err)
{
        struct json_object *caps;
        int rc = member(proc, "process", "capabilities", json_type_object, 0, &caps, err);

        if (rc <= 0)
                return rc;
        if (parse_capset(caps, "bounding", &p->caps.bounding, err) < 0 ||
            parse_capset(caps, "effective", &p->caps.effective, err) < 0 ||
            parse_capset(caps, "permitted", &p->caps.permitted, err) < 0 ||
            parse_capset(caps, "inheritable", &p->caps.inheritable, err) < 0 ||
            parse_capset(caps, "ambient", &p->caps.ambient, err) < 0)
                return -1;
        return 0;
}

static int parse_user(struct json_object *proc, struct oci_process *p, vs_error_t *err)
{
        struct json_object *user, *groups;
        int64_t n;
        int rc = member(proc, "process", "user", json_type_object, 1, &user, err);

        if (rc <= 0)
                return -1;
        if (member(user, "process.user", "uid", json_type_int, 1, &groups, err) < 0 ||
            member(user, "process.user", "gid", json_type_int, 1, &groups, err) < 0)
                return -1;
        if (get_int(user, "process.user", "uid", 0, UINT32_MAX - 1, &n, err) < 0)
                return -1;
        p->uid = (uid_t)n;
        if (get_int(user, "process.user", "gid", 0, UINT32_MAX - 1, &n, err) < 0)
                return -1;
        p->gid = (gid_t)n;
        if (get_int(user, "process.user", "umask", 0, 0777, &n, err) < 0)
                return -1;
        if (json_object_object_get_ex(user, "umask", NULL)) {
                p->has_umask = 1;
                p->umask = (mode_t)n;
        }
        rc = member(user, "process.user", "additionalGids", json_type_array, 0, &groups, err);
        if (rc < 0)
                return -1;
        if (rc > 0) {
                size_t count = json_object_array_length(groups);

                p->groups = vs_xmalloc((count + 1) * sizeof(*p->groups));
                for (size_t i = 0; i < count; i++) {
                        struct json_object *g = json_object_array_get_idx(groups, i);
                        int64_t gid = json_object_get_int64(g);

                        if (!json_object_is_type(g, json_type_int) || gid < 0 || gid >= UINT32_MAX)
                                return BAD(err,
                                           "process.user.additionalGids[%zu]: expected a "
                                           "gid",
                                           i);
                        p->groups[p->n_groups++] = (gid_t)gid;
                }
        }
        return 0;
}

static int parse_env(struct json_object *proc, struct oci_process *p, vs_error_t *err)
{
        if (get_strv(proc, "process", "env", 0, &p->env, err) < 0)
                return -1;
        for (char **e = p->env; e && *e; e++)
                if (!strchr(*e, '='))
                        return BAD(err, "process.env: '%s' is not NAME=VALUE", *e);
        if (!p->env) {
                p->env = vs_xmalloc(sizeof(*p->env));
                p->env[0] = NULL;
        }
        return 0;
}

static int parse_process_obj(struct json_object *proc, struct oci_process *p, vs_error_t *err)
{
        struct json_object *cs;
        int64_t n = 0;

        if (get_bool(proc, "process", "terminal", &p->terminal, err) < 0)
                return -1;
        if (member(proc, "process", "consoleSize", json_type_object, 0, &cs, err) < 0)
                return -1;
        if (cs) {
                if (member(cs, "process.consoleSize", "height", json_type_int, 1, &cs, err) < 0)
                        return -1;
                json_object_object_get_ex(proc, "consoleSize", &cs);
                if (member(cs, "process.consoleSize", "width", json_type_int, 1, &cs, err) < 0)
                        return -1;
                json_object_object_get_ex(proc, "consoleSize", &cs);
                if (get_int(cs, "process.consoleSize", "height", 0, 65535, &n, err) < 0)
                        return -1;
                p->console_height = (unsigned)n;
                if (get_int(cs, "process.consoleSize", "width", 0, 65535, &n, err) < 0)
                        return -1;
                p->console_width = (unsigned)n;
        }
        if (parse_user(proc, p, err) < 0)
                return -1;
        if (get_strv(proc, "process", "args", 0, &p->args, err) < 0)
                return -1;
        if (p->args && !p->args[0])
                return BAD(err, "process.args: empty");
        if (parse_env(proc, p, err) < 0)
                return -1;
        if (get_string(proc, "process", "cwd", 1, &p->cwd, err) < 0)
                return -1;
        if (p->cwd[0] != '/')
                return BAD(err, "process.cwd: '%s' is not absolute", p->cwd);
        if (parse_caps(proc, p, err) < 0 || parse_rlimits(proc, p, err) < 0)
                return -1;
        if (get_bool(proc, "process", "noNewPrivileges", &p->no_new_privileges, err) < 0)
                return -1;
        if (get_int(proc, "process", "oomScoreAdj", -1000, 1000, &n, err) < 0)
                return -1;
        if (json_object_object_get_ex(proc, "oomScoreAdj", NULL)) {
                p->has_oom_score_adj = 1;
                p->oom_score_adj = (int)n;
        }
        if (get_string(proc, "process", "apparmorProfile", 0, &p->apparmor, err) < 0 ||
            get_string(proc, "process", "selinuxLabel", 0, &p->selinux, err) < 0)
                return -1;
        return 0;
}

/* ---- mounts ---- */

static const struct {
        const char *name;
        int clear;
        unsigned long flag;
} mount_flags[] = {
        { "ro", 0, MS_RDONLY },
        { "rw", 1, MS_RDONLY },
        { "nosuid", 0, MS_NOSUID },
        { "suid", 1, MS_NOSUID },
        { "nodev", 0, MS_NODEV },
        { "dev", 1, MS_NODEV },
        { "noexec", 0, MS_NOEXEC },
        { "exec", 1, MS_NOEXEC },
        { "sync", 0, MS_SYNCHRONOUS },
        { "async", 1, MS_SYNCHRONOUS },
        { "dirsync", 0, MS_DIRSYNC },
        { "remount", 0, MS_REMOUNT },
        { "mand", 0, MS_MANDLOCK },
        { "nomand", 1, MS_MANDLOCK },
        { "atime", 1, MS_NOATIME },
        { "noatime", 0, MS_NOATIME },
        { "diratime", 1, MS_NODIRATIME },
        { "nodiratime", 0, MS_NODIRATIME },
        { "relatime", 0, MS_RELATIME },
        { "norelatime", 1, MS_RELATIME },
        { "strictatime", 0, MS_STRICTATIME },
        { "nostrictatime", 1, MS_STRICTATIME },
        { "silent", 0, MS_SILENT },
        { "loud", 1, MS_SILENT },
        { "lazytime", 0, MS_LAZYTIME },
        { "nolazytime", 1, MS_LAZYTIME },
};

static const struct {
        const char *name;
        unsigned long flag;
} propagation_flags[] = {
        { "private", MS_PRIVATE },       { "rprivate", MS_PRIVATE | MS_REC },
        { "shared", MS_SHARED },         { "rshared", MS_SHARED | MS_REC },
        { "slave", MS_SLAVE },           { "rslave", MS_SLAVE | MS_REC },
        { "unbindable", MS_UNBINDABLE }, { "runbindable", MS_UNBINDABLE | MS_REC },
};

int oci_propagation_flag(const char *name, unsigned long *flag);
int oci_propagation_flag(const char *name, unsigned long *flag)
{
        for (size_t i = 0; i < sizeof(propagation_flags) / sizeof(propagation_flags[0]); i++) {
                if (strcmp(name, propagation_flags[i].name) == 0) {
                        *flag = propagation_flags[i].flag;
                        return 0;
                }
        }
        return -1;
}

static void append_data(char **data, const char *opt)
{
        char *joined = *data ? vs_strdupf("%s,%s", *data, opt) : vs_xstrdup(opt);

        free(*data);
        *data = joined;
}

static int mount_option(struct oci_mount *m, const char *opt)
{
        unsigned long prop;

        for (size_t i = 0; i < sizeof(mount_flags) / sizeof(mount_flags[0]); i++) {
                if (strcmp(opt, mount_flags[i].name) != 0)
                        continue;
                if (mount_flags[i].clear) {
                        m->flags &= ~mount_flags[i].flag;
                        m->clear_flags |= mount_flags[i].flag;
                } else {
                        m->flags |= mount_flags[i].flag;
                        m->clear_flags &= ~mount_flags[i].flag;
                }
                return 0;
        }
        if (oci_propagation_flag(opt, &prop) == 0) {
                m->propagation = prop;
                return 0;
        }
        if (strcmp(opt, "bind") == 0 || strcmp(opt, "rbind") == 0) {
                m->bind = 1;
                m->rec_bind = opt[0] == 'r';
                return 0;
        }
        if (strcmp(opt, "tmpcopyup") == 0 || strcmp(opt, "idmap") == 0 ||
            strcmp(opt, "ridmap") == 0 || strcmp(opt, "copy-symlink") == 0)
                return 0; /* not offered: the mount is made without */
        if (strcmp(opt, "nosymfollow") == 0) {
                m->attr_set |= 0x00200000; /* MOUNT_ATTR_NOSYMFOLLOW */
                return 0;
        }
        append_data(&m->data, opt);
        return 0;
}

static int parse_mounts(struct json_object *root, struct oci_config *c, vs_error_t *err)
{
        struct json_object *arr;
        size_t n;
        int rc = array_of_objects(root, "", "mounts", &arr, &n, err);

        if (rc < 0)
                return -1;
        c->mounts = vs_xmalloc((n + 1) * sizeof(*c->mounts));
        for (size_t i = 0; i < n; i++) {
                struct json_object *o = json_object_array_get_idx(arr, i);
                struct oci_mount *m = &c->mounts[c->n_mounts];
                cleanup_strv char **options = NULL;
                char where[32];

                memset(m, 0, sizeof(*m));
                c->n_mounts++;
                snprintf(where, sizeof(where), "mounts[%zu]", i);
                if (get_string(o, where, "destination", 1, &m->destination, err) < 0 ||
                    get_string(o, where, "type", 0, &m->type, err) < 0 ||
                    get_string(o, where, "source", 0, &m->source, err) < 0 ||
                    get_strv(o, where, "options", 0, &options, err) < 0)
                        return -1;
                if (m->destination[0] != '/')
                        return BAD(err, "%s.destination: '%s' is not absolute", where,
                                   m->destination);
                if (has_dotdot(m->destination))
                        return BAD(err, "%s.destination: '%s' climbs out with '..'", where,
                                   m->destination);
                if (strlen(m->destination) >= 4096)
                        return BAD(err, "%s.destination: too long", where);
                for (char **opt = options; opt && *opt; opt++)
                        mount_option(m, *opt);
                if (m->type && strcmp(m->type, "bind") == 0)
                        m->bind = 1;
                if (m->bind && !m->source)
                        return BAD(err, "%s: a bind mount needs a source", where);
                if (!m->bind && !m->type)
                        return BAD(err, "%s.type: missing", where);
        }
        return 0;
}

/* ---- hooks ---- */

static const char *const hook_names[OCI_HOOK_KINDS] = {
        "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
};

static int parse_hooks(struct json_object *root, struct oci_config *c, vs_error_t *err)
{
        struct json_object *hooks;
        int rc = member(root, "", "hooks", json_type_object, 0, &hooks, err);

        if (rc <= 0)
                return rc;
        for (int k = 0; k < OCI_HOOK_KINDS; k++) {
                struct json_object *arr;
                size_t n;
                struct oci_hooks *h = &c->hooks[k];

                if (array_of_objects(hooks, "hooks", hook_names[k], &arr, &n, err) < 0)
                        return -1;
                h->list = vs_xmalloc((n + 1) * sizeof(*h->list));
                for (size_t i = 0; i < n; i++) {
                        struct json_object *o = json_object_array_get_idx(arr, i);
                        struct oci_hook *hook = &h->list[h->count];
                        char where[48];
                        int64_t t = 0;

                        memset(hook, 0, sizeof(*hook));
                        h->count++;
                        snprintf(where, sizeof(where), "hooks.%s[%zu]", hook_names[k], i);
                        if (get_string(o, where, "path", 1, &hook->path, err) < 0 ||
                            get_strv(o, where, "args", 0, &hook->args, err) < 0 ||
                            get_strv(o, where, "env", 0, &hook->env, err) < 0 ||
                            get_int(o, where, "timeout", 1, INT32_MAX, &t, err) < 0)
                                return -1;
                        if (json_object_object_get_ex(o, "timeout", NULL) && t <= 0)
                                return BAD(err, "%s.timeout: must be above 0", where);
                        if (hook->path[0] != '/')
                                return BAD(err, "%s.path: '%s' is not absolute", where, hook->path);
                        hook->timeout = (int)t;
                }
        }
        return 0;
}

/* ---- linux ---- */

static const struct {
        const char *name;
        int flag;
} ns_names[] = {
        { "pid", CLONE_NEWPID },       { "network", CLONE_NEWNET }, { "mount", CLONE_NEWNS },
        { "ipc", CLONE_NEWIPC },       { "uts", CLONE_NEWUTS },     { "user", CLONE_NEWUSER },
        { "cgroup", CLONE_NEWCGROUP }, { "time", CLONE_NEWTIME },
};

static int parse_namespaces(struct json_object *lx, struct oci_config *c, vs_error_t *err)
{
        struct json_object *arr;
        size_t n;

        if (array_of_objects(lx, "linux", "namespaces", &arr, &n, err) < 0)
                return -1;
        c->namespaces = vs_xmalloc((n + 1) * sizeof(*c->namespaces));
        for (size_t i = 0; i < n; i++) {
                struct json_object *o = json_object_array_get_idx(arr, i);
                struct oci_namespace *ns = &c->namespaces[c->n_namespaces];
                cleanup_free char *type = NULL;
                size_t k;

                ns->path = NULL;
                if (get_string(o, "linux.namespaces[]", "type", 1, &type, err) < 0)
                        return -1;
                for (k = 0; k < sizeof(ns_names) / sizeof(ns_names[0]); k++)
                        if (strcmp(ns_names[k].name, type) == 0)
                                break;
                if (k == sizeof(ns_names) / sizeof(ns_names[0]))
                        return BAD(err, "linux.namespaces: unknown type '%s'", type);
                if (oci_config_ns(c, ns_names[k].flag))
                        return BAD(err, "linux.namespaces: '%s' given twice", type);
                ns->type = ns_names[k].flag;
                c->n_namespaces++;
                if (get_string(o, "linux.namespaces[]", "path", 0, &ns->path, err) < 0)
                        return -1;
                if (ns->path && ns->path[0] != '/')
                        return BAD(err, "linux.namespaces: %s path '%s' is not absolute", type,
                                   ns->path);
        }
        return 0;
}

static int parse_idmaps(struct json_object *lx, const char *key, struct oci_idmap **out,
                        size_t *count, vs_error_t *err)
{
        struct json_object *arr;
        size_t n;

        if (array_of_objects(lx, "linux", key, &arr, &n, err) < 0)
                return -1;
        if (n > 340)
                return BAD(err, "linux.%s: more than 340 ranges", key);
        *out = vs_xmalloc((n + 1) * sizeof(**out));
        for (size_t i = 0; i < n; i++) {
                struct json_object *o = json_object_array_get_idx(arr, i), *d;
                int64_t a, b, s;
                char where[40];

                snprintf(where, sizeof(where), "linux.%s[%zu]", key, i);
                if (member(o, where, "containerID", json_type_int, 1, &d, err) < 0 ||
                    member(o, where, "hostID", json_type_int, 1, &d, err) < 0 ||
                    member(o, where, "size", json_type_int, 1, &d, err) < 0 ||
                    get_int(o, where, "containerID", 0, UINT32_MAX, &a, err) < 0 ||
                    get_int(o, where, "hostID", 0, UINT32_MAX, &b, err) < 0 ||
                    get_int(o, where, "size", 1, UINT32_MAX, &s, err) < 0)
                        return -1;
                (*out)[i] = (struct oci_idmap){ (uint32_t)a, (uint32_t)b, (uint32_t)s };
        }
        *count = n;
        return 0;
}

static int parse_devices(struct json_object *lx, struct oci_config *c, vs_error_t *err)
{
        struct json_object *arr;
        size_t n;

        if (array_of_objects(lx, "linux", "devices", &arr, &n, err) < 0)
                return -1;
        c->devices = vs_xmalloc((n + 1) * sizeof(*c->devices));
        for (size_t i = 0; i < n; i++) {
                struct json_object *o = json_object_array_get_idx(arr, i);
                struct oci_device *d = &c->devices[c->n_devices];
                cleanup_free char *type = NULL;
                int64_t v = 0;
                char where[40];

                memset(d, 0, sizeof(*d));
                c->n_devices++;
                snprintf(where, sizeof(where), "linux.devices[%zu]", i);
                if (get_string(o, where, "path", 1, &d->path, err) < 0 ||
                    get_string(o, where, "type", 1, &type, err) < 0)
                        return -1;
                if (d->path[0] != '/' || has_dotdot(d->path))
                        return BAD(err, "%s.path: '%s' is not an absolute path inside the root",
                                   where, d->path);
                if (strlen(type) != 1 || !strchr("cbup", type[0]))
                        return BAD(err, "%s.type: '%s' is not c, b, u or p", where, type);
                d->type = type[0];
                d->major = d->minor = 0;
                if (d->type != 'p') {
                        struct json_object *x;

                        if (member(o, where, "major", json_type_int, 1, &x, err) < 0 ||
                            member(o, where, "minor", json_type_int, 1, &x, err) < 0)
                                return -1;
                }
                if (get_int(o, where, "major", 0, 4095, &d->major, err) < 0 ||
                    get_int(o, where, "minor", 0, 1048575, &d->minor, err) < 0)
                        return -1;
                if (get_int(o, where, "fileMode", 0, 07777, &v, err) < 0)
                        return -1;
                d->has_mode = json_object_object_get_ex(o, "fileMode", NULL);
                d->mode = (mode_t)v;
                v = 0;
                if (get_int(o, where, "uid", 0, UINT32_MAX - 1, &v, err) < 0)
                        return -1;
                d->uid = (uid_t)v;
                v = 0;
                if (get_int(o, where, "gid", 0, UINT32_MAX - 1, &v, err) < 0)
                        return -1;
                d->gid = (gid_t)v;
        }
        return 0;
}

/* ---- resources ---- */

static int opt_int(struct json_object *o, const char *where, const char *key, int64_t min,
                   int64_t max, int *has, int64_t *out, vs_error_t *err)
{
        int rc = get_int(o, where, key, min, max, out, err);

        if (rc > 0)
                *has = 1;
        return rc < 0 ? -1 : 0;
}

static int opt_uint(struct json_object *o, const char *where, const char *key, int *has,
                    uint64_t *out, vs_error_t *err)
{
        int rc = get_uint64(o, where, key, out, err);

        if (rc > 0)
                *has = 1;
        return rc < 0 ? -1 : 0;
}

static int parse_memory(struct json_object *res, struct oci_resources *r, vs_error_t *err)
{
        struct json_object *m;
        const char *w = "linux.resources.memory";
        int rc = member(res, "linux.resources", "memory", json_type_object, 0, &m, err);

        if (rc <= 0)
                return rc;
        if (opt_int(m, w, "limit", -1, INT64_MAX, &r->has_mem_limit, &r->mem_limit, err) < 0 ||
            opt_int(m, w, "reservation", -1, INT64_MAX, &r->has_mem_reservation,
                    &r->mem_reservation, err) < 0 ||
            opt_int(m, w, "swap", -1, INT64_MAX, &r->has_mem_swap, &r->mem_swap, err) < 0 ||
            opt_int(m, w, "kernel", -1, INT64_MAX, &r->has_mem_kernel, &r->mem_kernel, err) < 0 ||
            opt_int(m, w, "kernelTCP", -1, INT64_MAX, &r->has_mem_kernel_tcp, &r->mem_kernel_tcp,
                    err) < 0 ||
            opt_uint(m, w, "swappiness", &r->has_swappiness, &r->swappiness, err) < 0)
                return -1;
        if (r->has_swappiness && r->swappiness > 100)
                return BAD(err, "%s.swappiness: %llu above 100", w,
                           (unsigned long long)r->swappiness);
        rc = get_bool(m, w, "disableOOMKiller", &r->disable_oom, err);
        if (rc < 0)
                return -1;
        r->has_disable_oom = rc > 0;
        if (r->has_mem_limit && r->has_mem_swap && r->mem_limit > 0 && r->mem_swap > 0 &&
            r->mem_swap < r->mem_limit)
                return BAD(err, "%s.swap: %lld below the limit %lld (swap counts memory too)", w,
                           (long long)r->mem_swap, (long long)r->mem_limit);
        return 0;
}

static int parse_cpu(struct json_object *res, struct oci_resources *r, vs_error_t *err)
{
        struct json_object *cpu;
        const char *w = "linux.resources.cpu";
        int rc = member(res, "linux.resources", "cpu", json_type_object, 0, &cpu, err);

        if (rc <= 0)
                return rc;
        if (opt_uint(cpu, w, "shares", &r->has_cpu_shares, &r->cpu_shares, err) < 0 ||
            opt_int(cpu, w, "quota", -1, INT64_MAX, &r->has_cpu_quota, &r->cpu_quota, err) < 0 ||
            opt_uint(cpu, w, "period", &r->has_cpu_period, &r->cpu_period, err) < 0 ||
            opt_int(cpu, w, "realtimeRuntime", -1, INT64_MAX, &r->has_rt_runtime, &r->rt_runtime,
                    err) < 0 ||
            opt_uint(cpu, w, "realtimePeriod", &r->has_rt_period, &r->rt_period, err) < 0 ||
            opt_uint(cpu, w, "burst", &r->has_cpu_burst, &r->cpu_burst, err) < 0 ||
            opt_int(cpu, w, "idle", 0, 1, &r->has_cpu_idle, &r->cpu_idle, err) < 0 ||
            get_string(cpu, w, "cpus", 0, &r->cpus, err) < 0 ||
            get_string(cpu, w, "mems", 0, &r->mems, err) < 0)
                return -1;
        return 0;
}

static int parse_throttle(struct json_object *blk, const char *key, struct oci_throttle **out,
                          size_t *count, vs_error_t *err)
{
        struct json_object *arr;
        size_t n;

        if (array_of_objects(blk, "linux.resources.blockIO", key, &arr, &n, err) < 0)
                return -1;
        *out = vs_xmalloc((n + 1) * sizeof(**out));
        for (size_t i = 0; i < n; i++) {
                struct json_object *o = json_object_array_get_idx(arr, i), *x;
                struct oci_throttle *t = &(*out)[i];

                if (member(o, key, "major", json_type_int, 1, &x, err) < 0 ||
                    member(o, key, "minor", json_type_int, 1, &x, err) < 0 ||
                    member(o, key, "rate", json_type_int, 1, &x, err) < 0 ||
                    get_int(o, key, "major", 0, 4095, &t->major, err) < 0 ||
                    get_int(o, key, "minor", 0, 1048575, &t->minor, err) < 0 ||
                    get_uint64(o, key, "rate", &t->rate, err) < 0)
                        return -1;
        }
        *count = n;
        return 0;
}

static int parse_blockio(struct json_object *res, struct oci_resources *r, vs_error_t *err)
{
        static const char *const keys[4] = {
                "throttleReadBpsDevice",
                "throttleWriteBpsDevice",
                "throttleReadIOPSDevice",
                "throttleWriteIOPSDevice",
        };
        const char *w = "linux.resources.blockIO";
        struct json_object *blk, *arr;
        int64_t v;
        size_t n;
        int rc = member(res, "linux.resources", "blockIO", json_type_object, 0, &blk, err);

        if (rc <= 0)
                return rc;
        if (opt_int(blk, w, "weight", 10, 1000, &r->has_blkio_weight, &v, err) < 0)
                return -1;
        r->blkio_weight = (int)v;
        if (opt_int(blk, w, "leafWeight", 10, 1000, &r->has_blkio_leaf_weight, &v, err) < 0)
                return -1;
        r->blkio_leaf_weight = (int)v;
        for (int k = 0; k < 4; k++)
                if (parse_throttle(blk, keys[k], &r->throttle[k], &r->n_throttle[k], err) < 0)
                        return -1;
        if (array_of_objects(blk, w, "weightDevice", &arr, &n, err) < 0)
                return -1;
        r->weight_devs = vs_xmalloc((n + 1) * sizeof(*r->weight_devs));
        for (size_t i = 0; i < n; i++) {
                struct json_object *o = json_object_array_get_idx(arr, i);
                struct oci_weight_dev *d = &r->weight_devs[i];
                int has = 0;

                d->weight = d->leaf_weight = -1;
                if (get_int(o, "weightDevice", "major", 0, 4095, &d->major, err) < 0 ||
                    get_int(o, "weightDevice", "minor", 0, 1048575, &d->minor, err) < 0 ||
                    opt_int(o, "weightDevice", "weight", 10, 1000, &has, &v, err) < 0)
                        return -1;
                if (has)
                        d->weight = (int)v;
                has = 0;
                if (opt_int(o, "weightDevice", "leafWeight", 10, 1000, &has, &v, err) < 0)
                        return -1;
                if (has)
                        d->leaf_weight = (int)v;
        }
        r->n_weight_devs = n;
        return 0;
}

static int parse_dev_rules(struct json_object *res, struct oci_resources *r, vs_error_t *err)
{
        struct json_object *arr;
        size_t n;

        if (array_of_objects(res, "linux.resources", "devices", &arr, &n, err) < 0)
                return -1;
        r->dev_rules = vs_xmalloc((n + 1) * sizeof(*r->dev_rules));
        for (size_t i = 0; i < n; i++) {
                struct json_object *o = json_object_array_get_idx(arr, i), *x;
                struct oci_dev_rule *d = &r->dev_rules[r->n_dev_rules];
                cleanup_free char *type = NULL, *access = NULL;
                const char *w = "linux.resources.devices[]";

                d->major = d->minor = -1;
                if (member(o, w, "allow", json_type_boolean, 1, &x, err) < 0 ||
                    get_bool(o, w, "allow", &d->allow, err) < 0 ||
                    get_string(o, w, "type", 0, &type, err) < 0 ||
                    get_string(o, w, "access", 0, &access, err) < 0 ||
                    get_int(o, w, "major", -1, 4095, &d->major, err) < 0 ||
                    get_int(o, w, "minor", -1, 1048575, &d->minor, err) < 0)
                        return -1;
                d->type = type ? type[0] : 'a';
                if (type && (strlen(type) != 1 || !strchr("acb", type[0])))
                        return BAD(err, "%s.type: '%s' is not a, c or b", w, type);
                if (access && (strlen(access) > 3 || strspn(access, "rwm") != strlen(access)))
                        return BAD(err, "%s.access: '%s' is not a subset of rwm", w, access);
                vs_strlcpy(d->access, access && *access ? access : "rwm", sizeof(d->access));
                r->n_dev_rules++;
        }
        return 0;
}

static int parse_resources_obj(struct json_object *res, struct oci_resources *r, vs_error_t *err)
{
        struct json_object *o, *arr;
        size_t n;
        int64_t v;

        if (parse_memory(res, r, err) < 0 || parse_cpu(res, r, err) < 0 ||
            parse_blockio(res, r, err) < 0 || parse_dev_rules(res, r, err) < 0)
                return -1;
        if (member(res, "linux.resources", "pids", json_type_object, 0, &o, err) < 0)
                return -1;
        if (o) {
                struct json_object *lim;

                if (member(o, "linux.resources.pids", "limit", json_type_int, 1, &lim, err) < 0 ||
                    opt_int(o, "linux.resources.pids", "limit", -1, INT64_MAX, &r->has_pids,
                            &r->pids_limit, err) < 0)
                        return -1;
        }
        if (array_of_objects(res, "linux.resources", "hugepageLimits", &arr, &n, err) < 0)
                return -1;
        r->hugepages = vs_xmalloc((n + 1) * sizeof(*r->hugepages));
        for (size_t i = 0; i < n; i++) {
                struct json_object *h = json_object_array_get_idx(arr, i), *x;
                struct oci_hugepage *hp = &r->hugepages[r->n_hugepages];

                hp->page_size = NULL;
                r->n_hugepages++;
                if (member(h, "hugepageLimits[]", "limit", json_type_int, 1, &x, err) < 0 ||
                    get_string(h, "hugepageLimits[]", "pageSize", 1, &hp->page_size, err) < 0 ||
                    get_uint64(h, "hugepageLimits[]", "limit", &hp->limit, err) < 0)
                        return -1;
                if (strchr(hp->page_size, '/'))
                        return BAD(err, "hugepageLimits: bad pageSize '%s'", hp->page_size);
        }
        if (member(res, "linux.resources", "network", json_type_object, 0, &o, err) < 0)
                return -1;
        if (o) {
                if (opt_int(o, "linux.resources.network", "classID", 0, UINT32_MAX,
                            &r->has_net_class, &v, err) < 0)
                        return -1;
                r->net_class = (uint32_t)v;
                if (array_of_objects(o, "linux.resources.network", "priorities", &arr, &n, err) < 0)
                        return -1;
                r->net_prio = vs_xmalloc((n + 1) * sizeof(*r->net_prio));
                for (size_t i = 0; i < n; i++) {
                        struct json_object *p = json_object_array_get_idx(arr, i);
                        struct oci_kv *kv = &r->net_prio[r->n_net_prio];
                        int64_t prio = 0;

                        kv->key = kv->value = NULL;
                        r->n_net_prio++;
                        if (get_string(p, "priorities[]", "name", 1, &kv->key, err) < 0 ||
                            get_int(p, "priorities[]", "priority", 0, UINT32_MAX, &prio, err) < 0)
                                return -1;
                        kv->value = vs_strdupf("%lld", (long long)prio);
                }
        }
        if (string_map(res, "linux.resources", "unified", &r->unified, &r->n_unified, err) < 0)
                return -1;
        for (size_t i = 0; i < r->n_unified; i++)
                if (strchr(r->unified[i].key, '/') || r->unified[i].key[0] == '.')
                        return BAD(err, "linux.resources.unified: bad file name '%s'",
                                   r->unified[i].key);
        return 0;
}

/* ---- seccomp ---- */

static int seccomp_action(const char *name, int64_t errno_ret, uint32_t *out)
{
        if (strcmp(name, "SCMP_ACT_KILL") == 0 || strcmp(name, "SCMP_ACT_KILL_THREAD") == 0)
                *out = SCMP_ACT_KILL;
        else if (strcmp(name, "SCMP_ACT_KILL_PROCESS") == 0)
                *out = SCMP_ACT_KILL_PROCESS;
        else if (strcmp(name, "SCMP_ACT_TRAP") == 0)
                *out = SCMP_ACT_TRAP;
        else if (strcmp(name, "SCMP_ACT_ERRNO") == 0)
                *out = SCMP_ACT_ERRNO((uint16_t)errno_ret);
        else if (strcmp(name, "SCMP_ACT_TRACE") == 0)
                *out = SCMP_ACT_TRACE((uint16_t)errno_ret);
        else if (strcmp(name, "SCMP_ACT_ALLOW") == 0)
                *out = SCMP_ACT_ALLOW;
        else if (strcmp(name, "SCMP_ACT_LOG") == 0)
                *out = SCMP_ACT_LOG;
        else
                return -1;
        return 0;
}

static const struct {
        const char *name;
        enum scmp_compare op;
} seccomp_ops[] = {
        { "SCMP_CMP_NE", SCMP_CMP_NE },
        { "SCMP_CMP_LT", SCMP_CMP_LT },
        { "SCMP_CMP_LE", SCMP_CMP_LE },
        { "SCMP_CMP_EQ", SCMP_CMP_EQ },
        { "SCMP_CMP_GE", SCMP_CMP_GE },
        { "SCMP_CMP_GT", SCMP_CMP_GT },
        { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

static int parse_seccomp_args(struct json_object *o, vs_seccomp_rule_t *rule, vs_error_t *err)
{
        struct json_object *arr;
        size_t n;

        if (array_of_objects(o, "linux.seccomp.syscalls[]", "args", &arr, &n, err) < 0)
                return -1;
        if (n > 6)
                return BAD(err, "linux.seccomp.syscalls[].args: more than 6");
        for (size_t i = 0; i < n; i++) {
                struct json_object *a = json_object_array_get_idx(arr, i), *x;
                vs_seccomp_arg_t *arg = &rule->args[i];
                cleanup_free char *op = NULL;
                const char *w = "linux.seccomp.syscalls[].args[]";
                int64_t index;
                size_t k;

                arg->value_two = 0;
                if (member(a, w, "index", json_type_int, 1, &x, err) < 0 ||
                    member(a, w, "value", json_type_int, 1, &x, err) < 0 ||
                    get_int(a, w, "index", 0, 5, &index, err) < 0 ||
                    get_uint64(a, w, "value", &arg->value, err) < 0 ||
                    get_uint64(a, w, "valueTwo", &arg->value_two, err) < 0 ||
                    get_string(a, w, "op", 1, &op, err) < 0)
                        return -1;
                for (k = 0; k < sizeof(seccomp_ops) / sizeof(seccomp_ops[0]); k++)
                        if (strcmp(seccomp_ops[k].name, op) == 0)
                                break;
                if (k == sizeof(seccomp_ops) / sizeof(seccomp_ops[0]))
                        return BAD(err, "%s.op: unknown '%s'", w, op);
                arg->index = (unsigned)index;
                arg->op = seccomp_ops[k].op;
        }
        rule->nargs = (unsigned)n;
        return 0;
}

static int parse_seccomp(struct json_object *lx, struct oci_config *c, vs_error_t *err)
{
        struct json_object *sc, *arr;
        cleanup_free char *def = NULL;
        cleanup_strv char **arches = NULL, **flags = NULL;
        int64_t def_errno = EPERM;
        vs_seccomp_profile_t *p;
        size_t n;
        int rc = member(lx, "linux", "seccomp", json_type_object, 0, &sc, err);

        if (rc <= 0)
                return rc;
        p = c->seccomp = vs_xmalloc(sizeof(*p));
        memset(p, 0, sizeof(*p));
        if (get_string(sc, "linux.seccomp", "defaultAction", 1, &def, err) < 0 ||
            get_int(sc, "linux.seccomp", "defaultErrnoRet", 0, 4095, &def_errno, err) < 0 ||
            get_strv(sc, "linux.seccomp", "architectures", 0, &arches, err) < 0 ||
            get_strv(sc, "linux.seccomp", "flags", 0, &flags, err) < 0)
                return -1;
        if (seccomp_action(def, def_errno, &p->default_action) < 0)
                return BAD(err, "linux.seccomp.defaultAction: unknown '%s'", def);
        for (char **a = arches; a && *a; a++) {
                const char *name = *a;
                uint32_t arch;

                if (strncmp(name, "SCMP_ARCH_", 10) == 0)
                        name += 10;
                cleanup_free char *lower = vs_xstrdup(name);
                for (char *q = lower; *q; q++)
                        *q = (char)(*q >= 'A' && *q <= 'Z' ? *q - 'A' + 'a' : *q);
                arch = seccomp_arch_resolve_name(lower);
                if (!arch)
                        return BAD(err, "linux.seccomp.architectures: unknown '%s'", *a);
                if (p->narches < 16)
                        p->arches[p->narches++] = arch;
        }
        for (char **f = flags; f && *f; f++) {
                if (strcmp(*f, "SECCOMP_FILTER_FLAG_TSYNC") == 0)
                        p->flag_tsync = 1;
                else if (strcmp(*f, "SECCOMP_FILTER_FLAG_LOG") == 0)
                        p->flag_log = 1;
                else if (strcmp(*f, "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0)
                        p->flag_spec_allow = 1;
                else if (strcmp(*f, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") != 0)
                        return BAD(err, "linux.seccomp.flags: unknown '%s'", *f);
        }
        if (array_of_objects(sc, "linux.seccomp", "syscalls", &arr, &n, err) < 0)
                return -1;
        p->rules = vs_xmalloc((n + 1) * sizeof(*p->rules));
        for (size_t i = 0; i < n; i++) {
                struct json_object *o = json_object_array_get_idx(arr, i);
                vs_seccomp_rule_t *rule = &p->rules[p->nrules];
                cleanup_free char *action = NULL;
                int64_t ret = EPERM;

                memset(rule, 0, sizeof(*rule));
                p->nrules++;
                if (get_strv(o, "linux.seccomp.syscalls[]", "names", 1, &rule->names, err) < 0 ||
                    get_string(o, "linux.seccomp.syscalls[]", "action", 1, &action, err) < 0 ||
                    get_int(o, "linux.seccomp.syscalls[]", "errnoRet", 0, 4095, &ret, err) < 0)
                        return -1;
                if (seccomp_action(action, ret, &rule->action) < 0)
                        return BAD(err, "linux.seccomp.syscalls[].action: unknown '%s'", action);
                if (parse_seccomp_args(o, rule, err) < 0)
                        return -1;
        }
        return 0;
}

static int parse_paths(struct json_object *lx, const char *key, char ***out, vs_error_t *err)
{
        if (get_strv(lx, "linux", key, 0, out, err) < 0)
                return -1;
        for (char **p = *out; p && *p; p++)
                if ((*p)[0] != '/' || has_dotdot(*p))
                        return BAD(err, "linux.%s: '%s' is not an absolute path inside the root",
                                   key, *p);
        return 0;
}

static int parse_linux(struct json_object *root, struct oci_config *c, vs_error_t *err)
{
        struct json_object *lx, *res;
        cleanup_free char *prop = NULL;
        int rc = member(root, "", "linux", json_type_object, 0, &lx, err);

        if (rc <= 0)
                return rc;
        if (parse_namespaces(lx, c, err) < 0 ||
            parse_idmaps(lx, "uidMappings", &c->uid_maps, &c->n_uid_maps, err) < 0 ||
            parse_idmaps(lx, "gidMappings", &c->gid_maps, &c->n_gid_maps, err) < 0 ||
            string_map(lx, "linux", "sysctl", &c->sysctl, &c->n_sysctl, err) < 0 ||
            get_string(lx, "linux", "cgroupsPath", 0, &c->cgroups_path, err) < 0 ||
            parse_devices(lx, c, err) < 0 || parse_seccomp(lx, c, err) < 0 ||
            parse_paths(lx, "maskedPaths", &c->masked, err) < 0 ||
            parse_paths(lx, "readonlyPaths", &c->readonly, err) < 0 ||
            get_string(lx, "linux", "mountLabel", 0, &c->mount_label, err) < 0 ||
            get_string(lx, "linux", "rootfsPropagation", 0, &prop, err) < 0)
                return -1;
        for (size_t i = 0; i < c->n_sysctl; i++)
                if (has_dotdot(c->sysctl[i].key) || strchr(c->sysctl[i].key, '/'))
                        return BAD(err, "linux.sysctl: bad key '%s'", c->sysctl[i].key);
        if (c->cgroups_path && has_dotdot(c->cgroups_path))
                return BAD(err, "linux.cgroupsPath: '%s' climbs out with '..'", c->cgroups_path);
        if (prop && oci_propagation_flag(prop, &c->rootfs_propagation) < 0)
                return BAD(err, "linux.rootfsPropagation: unknown '%s'", prop);
        if ((c->n_uid_maps || c->n_gid_maps) && !oci_config_ns(c, CLONE_NEWUSER))
                return BAD(err, "linux.uidMappings: given without a user namespace");
        if (member(lx, "linux", "resources", json_type_object, 0, &res, err) < 0)
                return -1;
        if (res) {
                c->has_resources = 1;
                if (parse_resources_obj(res, &c->resources, err) < 0)
                        return -1;
        }
        return 0;
}

/* ---- the whole ---- */

static int parse_root(struct json_object *root, const char *bundle, struct oci_config *c,
                      vs_error_t *err)
{
        struct json_object *r, *proc;
        cleanup_free char *path = NULL;

        if (get_string(root, "", "ociVersion", 1, &c->oci_version, err) < 0)
                return -1;
        if (strncmp(c->oci_version, "1.", 2) != 0)
                return BAD(err, "ociVersion: '%s' is not 1.x", c->oci_version);
        if (member(root, "", "root", json_type_object, 1, &r, err) < 0 ||
            get_string(r, "root", "path", 1, &path, err) < 0 ||
            get_bool(r, "root", "readonly", &c->root_readonly, err) < 0)
                return -1;
        if (!*path)
                return BAD(err, "root.path: empty");
        c->root_path =
                path[0] == '/' || !bundle ? vs_xstrdup(path) : vs_strdupf("%s/%s", bundle, path);
        if (get_string(root, "", "hostname", 0, &c->hostname, err) < 0 ||
            get_string(root, "", "domainname", 0, &c->domainname, err) < 0)
                return -1;
        if (member(root, "", "process", json_type_object, 0, &proc, err) < 0)
                return -1;
        if (proc) {
                c->has_process = 1;
                if (parse_process_obj(proc, &c->process, err) < 0)
                        return -1;
        }
        if (parse_mounts(root, c, err) < 0 || parse_hooks(root, c, err) < 0 ||
            parse_linux(root, c, err) < 0 ||
            string_map(root, "", "annotations", &c->annotations, &c->n_annotations, err) < 0)
                return -1;
        return 0;
}

static struct json_object *parse_json(const char *text, size_t len, const char *what,
                                      vs_error_t *err)
{
        struct json_tokener *tok = json_tokener_new();
        struct json_object *root;
        enum json_tokener_error jerr;

        if (!tok) {
                vs_error_set(err, ENOMEM, "json tokener");
                return NULL;
        }
        root = json_tokener_parse_ex(tok, text, (int)len);
        jerr = json_tokener_get_error(tok);
        if (jerr == json_tokener_continue)
                jerr = json_tokener_error_parse_eof;
        if (jerr == json_tokener_success && tok->char_offset < (int)len &&
            text[tok->char_offset + strspn(text + tok->char_offset, " \t\r\n")] != '\0')
                jerr = json_tokener_error_parse_unexpected;
        if (jerr != json_tokener_success) {
                vs_error_kind(err, VS_E_USAGE, EINVAL, "%s: not JSON: %s at offset %d", what,
                              json_tokener_error_desc(jerr), tok->char_offset);
                json_object_put(root);
                root = NULL;
        } else if (!json_object_is_type(root, json_type_object)) {
                vs_error_kind(err, VS_E_USAGE, EINVAL, "%s: expected an object", what);
                json_object_put(root);
                root = NULL;
        }
        json_tokener_free(tok);
        return root;
}

int oci_config_parse(const char *text, size_t len, const char *bundle, struct oci_config **out,
                     vs_error_t *err)
{
        struct oci_config *c;
        struct json_object *root;

        if (len > OCI_CONFIG_MAX)
                return BAD(err, "config.json: %zu bytes, more than the %u allowed", len,
                           OCI_CONFIG_MAX);
        if (memchr(text, '\0', len))
                return BAD(err, "config.json: holds a NUL byte");
        root = parse_json(text, len, "config.json", err);
        if (!root)
                return -1;
        c = vs_xmalloc(sizeof(*c));
        memset(c, 0, sizeof(*c));
        err->msg[0] = '\0';
        if (parse_root(root, bundle, c, err) < 0) {
                json_object_put(root);
                oci_config_free(c);
                return vs_error_wrap(err, "config.json");
        }
        json_object_put(root);
        *out = c;
        return 0;
}

int oci_config_load(const char *bundle, struct oci_config **out, vs_error_t *err)
{
        cleanup_free char *path = vs_strdupf("%s/config.json", bundle);
        cleanup_free char *text = NULL;
        cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        size_t len;

        if (fd < 0)
                return vs_error_kind(err, errno == ENOENT ? VS_E_NOTFOUND : VS_E_INTERNAL, errno,
                                     "%s: %s", path, strerror(errno));
        if (fstat(fd, &st) < 0)
                return vs_error_errno(err, "stat %s", path);
        if (!S_ISREG(st.st_mode))
                return BAD(err, "%s: not a regular file", path);
        if (st.st_size > OCI_CONFIG_MAX)
                return BAD(err, "config.json: %lld bytes, more than the %u allowed",
                           (long long)st.st_size, OCI_CONFIG_MAX);
        if (vs_read_file(AT_FDCWD, path, OCI_CONFIG_MAX + 1, &text, &len, err) < 0)
                return -1;
        return oci_config_parse(text, len, bundle, out, err);
}

int oci_process_parse(const char *text, size_t len, struct oci_process *p, vs_error_t *err)
{
        struct json_object *root = parse_json(text, len, "process", err);
        int rc;

        if (!root)
                return -1;
        memset(p, 0, sizeof(*p));
        err->msg[0] = '\0';
        rc = parse_process_obj(root, p, err);
        json_object_put(root);
        if (rc == 0 && !p->args)
                rc = BAD(err, "process.args: missing");
        if (rc < 0) {
                oci_process_clear(p);
                return vs_error_wrap(err, "process");
        }
        return 0;
}

int oci_resources_parse(const char *text, size_t len, struct oci_resources *r, vs_error_t *err)
{
        struct json_object *root = parse_json(text, len, "resources", err);
        int rc;

        if (!root)
                return -1;
        memset(r, 0, sizeof(*r));
        err->msg[0] = '\0';
        rc = parse_resources_obj(root, r, err);
        json_object_put(root);
        if (rc < 0) {
                oci_resources_clear(r);
                return -1;
        }
        return 0;
}

const struct oci_namespace *oci_config_ns(const struct oci_config *c, int type)
{
        for (size_t i = 0; i < c->n_namespaces; i++)
                if (c->namespaces[i].type == type)
                        return &c->namespaces[i];
        return NULL;
}

/* ---- freeing ---- */

static void free_kv(struct oci_kv *kv, size_t n)
{
        for (size_t i = 0; kv && i < n; i++) {
                free(kv[i].key);
                free(kv[i].value);
        }
        free(kv);
}

void oci_process_clear(struct oci_process *p)
{
        vs_strvfreep(&p->args);
        vs_strvfreep(&p->env);
        free(p->cwd);
        free(p->groups);
        free(p->rlimits);
        free(p->apparmor);
        free(p->selinux);
        memset(p, 0, sizeof(*p));
}

void oci_resources_clear(struct oci_resources *r)
{
        free(r->cpus);
        free(r->mems);
        free(r->weight_devs);
        for (int k = 0; k < 4; k++)
                free(r->throttle[k]);
        for (size_t i = 0; r->hugepages && i < r->n_hugepages; i++)
                free(r->hugepages[i].page_size);
        free(r->hugepages);
        free_kv(r->net_prio, r->n_net_prio);
        free(r->dev_rules);
        free_kv(r->unified, r->n_unified);
        memset(r, 0, sizeof(*r));
}

void oci_config_free(struct oci_config *c)
{
        if (!c)
                return;
        free(c->oci_version);
        free(c->root_path);
        free(c->hostname);
        free(c->domainname);
        for (size_t i = 0; i < c->n_mounts; i++) {
                free(c->mounts[i].destination);
                free(c->mounts[i].type);
                free(c->mounts[i].source);
                free(c->mounts[i].data);
        }
        free(c->mounts);
        oci_process_clear(&c->process);
        for (int k = 0; k < OCI_HOOK_KINDS; k++) {
                for (size_t i = 0; i < c->hooks[k].count; i++) {
                        free(c->hooks[k].list[i].path);
                        vs_strvfreep(&c->hooks[k].list[i].args);
                        vs_strvfreep(&c->hooks[k].list[i].env);
                }
                free(c->hooks[k].list);
        }
        for (size_t i = 0; i < c->n_namespaces; i++)
                free(c->namespaces[i].path);
        free(c->namespaces);
        free(c->uid_maps);
        free(c->gid_maps);
        free_kv(c->sysctl, c->n_sysctl);
        oci_resources_clear(&c->resources);
        free(c->cgroups_path);
        for (size_t i = 0; i < c->n_devices; i++)
                free(c->devices[i].path);
        free(c->devices);
        vs_seccomp_profile_free(c->seccomp);
        vs_strvfreep(&c->masked);
        vs_strvfreep(&c->readonly);
        free(c->mount_label);
        free_kv(c->annotations, c->n_annotations);
        free(c);
}
