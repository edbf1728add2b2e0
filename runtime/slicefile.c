/* A slice's file: the one loader and the one parser (slicefile.h). */
#include "slicefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/diskquota.h"
#include "vs/fsutil.h"
#include "vs/netns.h"
#include "vs/parse.h"
#include "vsd.h"

int vsd_slices_dir(struct vsd *d, vs_error_t *err)
{
        cleanup_free char *path = vs_strdupf("%s/var/lib/paene/slices", d->root);
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return vs_error_errno(err, "open %s", path);
        return fd;
}

int vsd_no_such_slice(vs_error_t *err)
{
        return vs_error_kind(err, VS_E_NOTFOUND, ENOENT, "no such slice");
}

/* The one kind of a file that is there but cannot be used: not the
 * request's fault (its key's parser says usage), the node's. */
static int bad_file(vs_error_t *err, const char *slice)
{
        vs_error_wrap(err, "slice %s's file", slice);
        if (err)
                err->kind = VS_E_INTERNAL;
        return -1;
}

int vsd_authz_name_in_slice(const char *slice, const char *name)
{
        size_t len = strlen(slice);

        return strncmp(name, slice, len) == 0 && name[len] == '-' && name[len + 1] != '\0';
}

/* ---- the parser ---- */

/* owners = 1000,1001: numeric uids, comma-separated */
static int parse_owners(struct vsd_slice_file *f, const char *text, vs_error_t *err)
{
        const char *p = text;

        while (*p) {
                char *end;
                unsigned long uid;

                errno = 0;
                uid = strtoul(p, &end, 10);
                if (errno || end == p || (*end && *end != ',') || uid >= (uid_t)-1)
                        return vs_error_kind(err, VS_E_USAGE, EINVAL, "owners: bad uid in '%s'",
                                             text);
                if (f->n_owners == VSD_SLICE_MAX_OWNERS)
                        return vs_error_kind(err, VS_E_USAGE, EINVAL, "owners: more than %d",
                                             VSD_SLICE_MAX_OWNERS);
                f->owners[f->n_owners++] = (uid_t)uid;
                p = *end ? end + 1 : end;
        }
        return 0;
}

/* A key's text, or NULL when it is absent or empty (as if absent). */
static const char *given(const vs_kv_t *kv, const char *key)
{
        const char *text = vs_kv_get(kv, key);

        return text && *text ? text : NULL;
}

static int parse_limits(const vs_kv_t *kv, struct vsd_slice_rules *r, vs_error_t *err)
{
        const char *text;

        for (int k = 0; k < VS_LIM_COUNT; k++)
                if ((text = given(kv, vs_limit_key((vs_limit_t)k))) &&
                    vs_limits_parse_one(&r->limits, (vs_limit_t)k, text, err) < 0)
                        return -1;
        return 0;
}

static int parse_disk(const vs_kv_t *kv, struct vsd_slice_rules *r, vs_error_t *err)
{
        const char *text;
        vs_disk_limit_t limit;

        if ((text = given(kv, "diskinodes"))) {
                if (vs_disk_parse_inodes(text, &limit, err) < 0)
                        return -1;
                r->diskinodes = limit.hard;
        }
        if ((text = given(kv, "diskspace"))) {
                if (vs_disk_parse_space(text, &limit, err) < 0)
                        return -1;
                r->diskspace = limit.hard;
        }
        return 0;
}

static int parse_rules(const vs_kv_t *kv, struct vsd_slice_rules *r, vs_error_t *err)
{
        const char *text;

        if (parse_limits(kv, r, err) < 0 || parse_disk(kv, r, err) < 0)
                return -1;
        if ((text = given(kv, "max_vps")) &&
            vs_parse_uint(text, 0, 100000, "max_vps", &r->max_vps, err) < 0)
                return -1;
        if ((text = given(kv, "rate_out")) &&
            vs_rate_parse(text, "rate_out", &r->rate_out, err) < 0)
                return -1;
        if ((text = given(kv, "rate_in")) && vs_rate_parse(text, "rate_in", &r->rate_in, err) < 0)
                return -1;
        if ((text = vs_kv_get(kv, "templates")))
                vs_strlcpy(r->templates, text, sizeof(r->templates));
        return 0;
}

int vsd_slice_file_parse(const char *name, const vs_kv_t *text, struct vsd_slice_file *f,
                         vs_error_t *err)
{
        const char *owners = given(text, "owners"), *value;
        uint64_t expires = 0;

        memset(f, 0, sizeof(*f));
        vs_strlcpy(f->name, name, sizeof(f->name));
        vs_strlcpy(f->rules.name, name, sizeof(f->rules.name));
        if ((owners && parse_owners(f, owners, err) < 0) || parse_rules(text, &f->rules, err) < 0)
                return bad_file(err, name);
        if ((value = given(text, "expires")) &&
            vs_parse_uint(value, 0, INT64_MAX, "expires", &expires, err) < 0)
                return bad_file(err, name);
        if ((value = given(text, "bytes_per_day")) &&
            vs_parse_uint(value, 0, UINT64_MAX, "bytes_per_day", &f->budget, err) < 0)
                return bad_file(err, name);
        f->expires = (int64_t)expires;
        return 0;
}

/* ---- the loader ---- */

int vsd_slice_file_load(struct vsd *d, const char *slice, struct vsd_slice_file *f, vs_kv_t *text,
                        vs_error_t *err)
{
        cleanup_kv vs_kv_t kv = { 0 };
        cleanup_close int dirfd = -1;

        if (vs_parse_name(slice, "slice name", NULL) < 0)
                return vsd_no_such_slice(err);
        if (strcmp(slice, VS_DEFAULT_SLICE) != 0) {
                if ((dirfd = vsd_slices_dir(d, err)) < 0)
                        return -1;
                if (faccessat(dirfd, slice, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
                        return errno == ENOENT ? vsd_no_such_slice(err)
                                               : vs_error_errno(err, "slice %s's file", slice);
                if (vs_kv_load(dirfd, slice, &kv, err) < 0)
                        return bad_file(err, slice);
        }
        if (f && vsd_slice_file_parse(slice, &kv, f, err) < 0)
                return -1;
        if (text) {
                *text = kv;
                memset(&kv, 0, sizeof(kv));
        }
        return 0;
}

int vsd_slice_file_exists(struct vsd *d, const char *slice)
{
        cleanup_close int dirfd = -1;

        if (vs_parse_name(slice, "slice name", NULL) < 0 || strcmp(slice, VS_DEFAULT_SLICE) == 0)
                return 0;
        dirfd = vsd_slices_dir(d, NULL);
        return dirfd >= 0 && faccessat(dirfd, slice, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int vsd_slice_file_set(struct vsd *d, const char *slice, const char *key, int64_t value,
                       vs_error_t *err)
{
        cleanup_kv vs_kv_t kv = { 0 };
        cleanup_close int dirfd = -1;

        if (vsd_slice_file_load(d, slice, NULL, &kv, err) < 0 ||
            (dirfd = vsd_slices_dir(d, err)) < 0)
                return -1;
        vs_kv_setf(&kv, key, "%lld", (long long)value);
        return vs_kv_save(dirfd, slice, &kv, 1, err);
}
