/* Slices: loading the slice files, finding a slice, its owners. */
#include "slice.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/kvfile.h"
#include "vs/parse.h"
#include "vs/log.h"
#include "vsd.h"

static struct vsd_slice default_slice = { .name = "default" };

bool vsd_slice_has_owner(const struct vsd_slice *s, uid_t uid)
{
        for (size_t i = 0; s && i < s->n_owners; i++)
                if (s->owners[i] == uid)
                        return true;
        return false;
}

static int load_one(struct vsd *d, int dirfd, const char *name, vs_error_t *err);

/* The file is read afresh at each call (an admin may edit it by hand):
 * the loaded entry is updated in place, so a pointer handed out earlier
 * stays valid (entries are freed only at exit). */
struct vsd_slice *vsd_slice_find(struct vsd *d, const char *name)
{
        cleanup_free char *path = NULL;
        cleanup_close int dirfd = -1;
        vs_error_t err = { 0 };

        if (strcmp(name, "default") == 0)
                return &default_slice;
        if (vs_parse_name(name, "slice name", NULL) < 0 || !d->root)
                return NULL;
        path = vs_strdupf("%s/var/lib/paene/slices", d->root);
        dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0 || load_one(d, dirfd, name, &err) < 0)
                return NULL;
        for (struct vsd_slice *s = d->slices; s; s = s->next)
                if (strcmp(s->name, name) == 0)
                        return s;
        return NULL;
}

/* owners = 1000,1001: numeric uids, comma-separated */
static int parse_owners(struct vsd_slice *s, const char *text, vs_error_t *err)
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
                if (s->n_owners == VSD_SLICE_MAX_OWNERS)
                        return vs_error_kind(err, VS_E_USAGE, EINVAL, "owners: more than %d",
                                             VSD_SLICE_MAX_OWNERS);
                s->owners[s->n_owners++] = (uid_t)uid;
                p = *end ? end + 1 : end;
        }
        return 0;
}

static int load_one(struct vsd *d, int dirfd, const char *name, vs_error_t *err)
{
        cleanup_kv vs_kv_t kv = { 0 };
        struct vsd_slice *s;
        const char *owners;

        if (strlen(name) >= sizeof(s->name))
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "slice name too long");
        if (vs_kv_load(dirfd, name, &kv, err) < 0)
                return -1;
        struct vsd_slice fresh = { 0 };

        strcpy(fresh.name, name);
        owners = vs_kv_get(&kv, "owners");
        if (owners && parse_owners(&fresh, owners, err) < 0)
                return -1;
        for (s = d->slices; s; s = s->next)
                if (strcmp(s->name, name) == 0)
                        break;
        if (!s) {
                s = calloc(1, sizeof(*s));
                if (!s)
                        return vs_error_errno(err, "slice %s", name);
                s->next = d->slices;
                d->slices = s;
        }
        fresh.next = s->next;
        *s = fresh;
        return 0;
}

int vsd_slice_load_all(struct vsd *d, int dirfd, vs_error_t *err)
{
        int fd = dup(dirfd);
        DIR *dir;
        struct dirent *e;

        if (fd < 0 || !(dir = fdopendir(fd))) {
                if (fd >= 0)
                        close(fd);
                return vs_error_errno(err, "slices directory");
        }
        while ((e = readdir(dir))) {
                vs_error_t one = { 0 };

                if (e->d_name[0] == '.' || strcmp(e->d_name, "default") == 0)
                        continue;
                if (load_one(d, dirfd, e->d_name, &one) < 0)
                        vs_log(LOG_WARNING, "slice %s: %s; skipped", e->d_name, one.msg);
        }
        closedir(dir);
        return 0;
}

void vsd_slice_free_all(struct vsd *d)
{
        while (d->slices) {
                struct vsd_slice *next = d->slices->next;

                free(d->slices);
                d->slices = next;
        }
}
