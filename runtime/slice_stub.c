/* TEMPORARY stand-in for the slices branch's slice.c (see slice_stub.h):
 * a slice is var/lib/paene/slices/NAME, of which only `owners` is read,
 * afresh at each call, into one of a few slots. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/kvfile.h"
#include "vs/parse.h"
#include "vsd.h"
#include "slice_stub.h"

#define SLOTS 8

static struct vsd_slice slots[SLOTS];
static unsigned next_slot;

static void parse_owners(const char *text, struct vsd_slice *s)
{
        cleanup_free char *copy = vs_xstrdup(text ? text : "");
        char *save = NULL;

        s->n_owners = 0;
        for (char *word = strtok_r(copy, ", ", &save); word && s->n_owners < VSD_SLICE_MAX_OWNERS;
             word = strtok_r(NULL, ", ", &save)) {
                uint64_t uid;

                if (vs_digits(word, UINT32_MAX - 1, &uid) == 0)
                        s->owners[s->n_owners++] = (uid_t)uid;
        }
}

struct vsd_slice *vsd_slice_find(struct vsd *d, const char *name)
{
        cleanup_free char *path = NULL;
        cleanup_kv vs_kv_t kv = { 0 };
        struct vsd_slice *s = &slots[next_slot++ % SLOTS];
        cleanup_close int dirfd = -1;

        if (vs_parse_name(name, "slice name", NULL) < 0)
                return NULL;
        memset(s, 0, sizeof(*s));
        vs_strlcpy(s->name, name, sizeof(s->name));
        path = vs_strdupf("%s/var/lib/paene/slices", d->root);
        dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0 || vs_kv_load(dirfd, name, &kv, NULL) < 0)
                return strcmp(name, VS_DEFAULT_SLICE) == 0 ? s : NULL;
        parse_owners(vs_kv_get(&kv, "owners"), s);
        return s;
}

bool vsd_slice_has_owner(const struct vsd_slice *s, uid_t uid)
{
        for (size_t i = 0; s && i < s->n_owners; i++)
                if (s->owners[i] == uid)
                        return true;
        return false;
}
