/* A container's state under --root: <root>/<id>/state.json (what create
 * recorded), config.json (a copy, for the hooks that run at delete) and
 * exec.fifo, which the init waits on until start opens it. The status is
 * not stored: it is read from the process, the fifo and the freezer. */
#include "oci.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/procid.h"

int oci_id_valid(const char *id, vs_error_t *err)
{
        size_t len = strlen(id);

        if (len == 0 || len > 1024 ||
            strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                       "0123456789_+-.") != len ||
            id[0] == '.')
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "container id '%s': expected letters, digits and _+-.", id);
        return 0;
}

int oci_state_dir_make(const char *root, const char *id, int *dirfd, vs_error_t *err)
{
        cleanup_close int rootfd = -1;

        if (vs_mkdir_p(root, 0700, err) < 0)
                return -1;
        rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return vs_error_errno(err, "open %s", root);
        if (mkdirat(rootfd, id, 0711) < 0) {
                if (errno == EEXIST)
                        return vs_error_kind(err, VS_E_STATE, EEXIST,
                                             "container '%s' exists already", id);
                return vs_error_errno(err, "create %s/%s", root, id);
        }
        *dirfd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (*dirfd < 0)
                return vs_error_errno(err, "open %s/%s", root, id);
        return 0;
}

int oci_state_open(const char *root, const char *id, int *dirfd, vs_error_t *err)
{
        cleanup_free char *path = NULL;

        if (oci_id_valid(id, err) < 0)
                return -1;
        path = vs_strdupf("%s/%s", root, id);
        *dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (*dirfd < 0 || faccessat(*dirfd, "state.json", F_OK, 0) < 0) {
                if (*dirfd >= 0)
                        close(*dirfd);
                *dirfd = -1;
                return vs_error_kind(err, VS_E_NOTFOUND, ENOENT, "container '%s' does not exist",
                                     id);
        }
        return 0;
}

int oci_state_write(int dirfd, const struct oci_state *st, vs_error_t *err)
{
        struct json_object *o = json_object_new_object();
        const char *text;
        int rc;

        json_object_object_add(o, "id", json_object_new_string(st->id));
        json_object_object_add(o, "bundle", json_object_new_string(st->bundle));
        json_object_object_add(o, "pid", json_object_new_int(st->pid));
        json_object_object_add(o, "starttime", json_object_new_uint64(st->starttime));
        json_object_object_add(o, "cgroup", json_object_new_string(st->cgroup ? st->cgroup : ""));
        json_object_object_add(o, "cgroupCreated", json_object_new_int(st->cgroup_created));
        json_object_object_add(o, "cgroupBase",
                               json_object_new_string(st->cgroup_base ? st->cgroup_base : ""));
        json_object_object_add(o, "created", json_object_new_string(st->created));
        json_object_object_add(o, "owner", json_object_new_string(st->owner ? st->owner : ""));
        json_object_object_add(o, "systemd", json_object_new_boolean(st->systemd));
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        rc = vs_write_atomic(dirfd, "state.json", text, strlen(text), 0600, 0, err);
        json_object_put(o);
        return rc;
}

static char *dup_member(struct json_object *o, const char *key)
{
        struct json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return vs_xstrdup("");
        return vs_xstrdup(json_object_get_string(v));
}

int oci_state_read(int dirfd, struct oci_state *st, vs_error_t *err)
{
        cleanup_free char *text = NULL;
        struct json_object *o, *v;

        memset(st, 0, sizeof(*st));
        if (vs_read_file(dirfd, "state.json", 1U << 20, &text, NULL, err) < 0)
                return -1;
        o = json_tokener_parse(text);
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return vs_error_set(err, EINVAL, "state.json is damaged");
        }
        st->id = dup_member(o, "id");
        st->bundle = dup_member(o, "bundle");
        st->cgroup = dup_member(o, "cgroup");
        st->cgroup_base = dup_member(o, "cgroupBase");
        if (!*st->cgroup_base) {
                free(st->cgroup_base);
                st->cgroup_base = NULL;
        }
        st->created = dup_member(o, "created");
        st->owner = dup_member(o, "owner");
        if (json_object_object_get_ex(o, "pid", &v))
                st->pid = json_object_get_int(v);
        if (json_object_object_get_ex(o, "starttime", &v))
                st->starttime = json_object_get_uint64(v);
        if (json_object_object_get_ex(o, "cgroupCreated", &v))
                st->cgroup_created = json_object_get_int(v);
        if (json_object_object_get_ex(o, "systemd", &v))
                st->systemd = json_object_get_boolean(v);
        json_object_put(o);
        return 0;
}

void oci_state_clear(struct oci_state *st)
{
        free(st->id);
        free(st->bundle);
        free(st->status);
        free(st->cgroup);
        free(st->cgroup_base);
        free(st->created);
        free(st->owner);
        memset(st, 0, sizeof(*st));
}

int oci_pid_alive(pid_t pid, unsigned long long starttime)
{
        char path[64];
        cleanup_free char *text = NULL;
        unsigned long long now;
        char *state;

        if (pid <= 0)
                return 0;
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        if (vs_read_file(AT_FDCWD, path, 4096, &text, NULL, NULL) < 0)
                return 0;
        if (vs_procid_parse_starttime(text, &now) < 0 || now != starttime)
                return 0;
        /* a zombie has ended: its reaper has yet to collect it */
        state = strrchr(text, ')');
        return !(state && state[1] == ' ' && (state[2] == 'Z' || state[2] == 'X'));
}

const char *oci_state_status(int dirfd, const struct oci_state *st)
{
        if (!oci_pid_alive(st->pid, st->starttime))
                return "stopped";
        if (faccessat(dirfd, "exec.fifo", F_OK, 0) == 0)
                return "created";
        if (st->cgroup && *st->cgroup) {
                struct oci_cgroup *cg;

                if (oci_cgroup_open(st->cgroup, st->cgroup_base, 0, st->id, 0, &cg, NULL) == 0) {
                        int frozen = oci_cgroup_frozen(cg);

                        oci_cgroup_free(cg);
                        if (frozen)
                                return "paused";
                }
        }
        return "running";
}

char *oci_state_json(const struct oci_state *st, const char *status, const struct oci_config *c)
{
        struct json_object *o = json_object_new_object();
        char *text;

        json_object_object_add(o, "ociVersion", json_object_new_string(OCI_VERSION));
        json_object_object_add(o, "id", json_object_new_string(st->id));
        json_object_object_add(o, "status", json_object_new_string(status));
        if (strcmp(status, "stopped") != 0)
                json_object_object_add(o, "pid", json_object_new_int(st->pid));
        json_object_object_add(o, "bundle", json_object_new_string(st->bundle));
        if (st->created && *st->created)
                json_object_object_add(o, "created", json_object_new_string(st->created));
        if (st->owner && *st->owner)
                json_object_object_add(o, "owner", json_object_new_string(st->owner));
        if (c && c->n_annotations) {
                struct json_object *a = json_object_new_object();

                for (size_t i = 0; i < c->n_annotations; i++)
                        json_object_object_add(a, c->annotations[i].key,
                                               json_object_new_string(c->annotations[i].value));
                json_object_object_add(o, "annotations", a);
        }
        text = vs_xstrdup(json_object_to_json_string_ext(
                o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return text;
}
