/* Slices: finding a slice and its owners (its file read by slicefile.c). */
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

/* The slice's entry, made or updated in place from its file. */
static int load_one(struct vsd *d, const char *name, vs_error_t *err)
{
        struct vsd_slice_file f;
        struct vsd_slice *s;

        if (vsd_slice_file_load(d, name, &f, NULL, err) < 0)
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
        vs_strlcpy(s->name, name, sizeof(s->name));
        memcpy(s->owners, f.owners, sizeof(s->owners));
        s->n_owners = f.n_owners;
        return 0;
}

/* The file is read afresh at each call (an admin may edit it by hand):
 * the loaded entry is updated in place, so a pointer handed out earlier
 * stays valid (entries are freed only at exit). */
struct vsd_slice *vsd_slice_find(struct vsd *d, const char *name)
{
        if (strcmp(name, "default") == 0)
                return &default_slice;
        if (!d->root || load_one(d, name, NULL) < 0)
                return NULL;
        for (struct vsd_slice *s = d->slices; s; s = s->next)
                if (strcmp(s->name, name) == 0)
                        return s;
        return NULL;
}

int vsd_slice_load_all(struct vsd *d, int dirfd, vs_error_t *err)
{
        DIR *dir = vs_opendir_at(dirfd, ".");
        struct dirent *e;

        if (!dir)
                return vs_error_errno(err, "slices directory");
        while ((e = readdir(dir))) {
                vs_error_t one = { 0 };

                /* .loans, NAME.usage and the like are not slices */
                if (vs_parse_name(e->d_name, "slice name", NULL) < 0 ||
                    strcmp(e->d_name, "default") == 0)
                        continue;
                if (load_one(d, e->d_name, &one) < 0)
                        vs_log(LOG_WARNING, "%s; skipped", one.msg);
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
