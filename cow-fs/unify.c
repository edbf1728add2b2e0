/* Unify (util-vserver's vhashify, for read-only layers): files that are
 * identical across templates (content, mode, owner, xattrs) become hard links
 * to one inode, so that they cost one copy on disk and in the page cache.
 * Templates are overlay lower layers, which overlay never writes (a VPS that
 * changes a file copies it up), so sharing an inode is safe. A file is
 * replaced by a link with link + rename: every path always names a complete
 * file, also while VPS run on the template. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/cowfs.h"
#include "vs/fsutil.h"

#define UNIFY_DEPTH_MAX 256

struct entry {
        char *path; /* relative to the template store */
        dev_t dev;
        ino_t ino;
        off_t size;
        mode_t mode;
        uid_t uid;
        gid_t gid;
        uint64_t hash;
        int hashed;
};

struct files {
        struct entry *v;
        size_t n, cap;
};

static void files_free(struct files *f)
{
        for (size_t i = 0; i < f->n; i++)
                free(f->v[i].path);
        free(f->v);
}

static void files_add(struct files *f, const char *path, const struct stat *st)
{
        f->v = vs_xgrow(f->v, f->n, &f->cap, 1024, sizeof(*f->v));
        f->v[f->n++] = (struct entry){ .path = vs_xstrdup(path),
                                       .dev = st->st_dev,
                                       .ino = st->st_ino,
                                       .size = st->st_size,
                                       .mode = st->st_mode,
                                       .uid = st->st_uid,
                                       .gid = st->st_gid };
}

/* Regular files of at least one byte below dirfd; `path` is dirfd's path
 * relative to the store. */
static void collect(int dirfd, const char *path, struct files *f, int depth)
{
        cleanup_closedir DIR *dir = NULL;
        struct dirent *ent;

        if (depth > UNIFY_DEPTH_MAX || !(dir = vs_opendir_at(dirfd, ".")))
                return;
        while ((ent = readdir(dir))) {
                cleanup_free char *sub = NULL;
                struct stat st;

                if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0 ||
                    fstatat(dirfd, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                sub = vs_strdupf("%s/%s", path, ent->d_name);
                if (S_ISREG(st.st_mode) && st.st_size > 0) {
                        files_add(f, sub, &st);
                } else if (S_ISDIR(st.st_mode)) {
                        cleanup_close int subfd =
                                openat(dirfd, ent->d_name,
                                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

                        if (subfd >= 0)
                                collect(subfd, sub, f, depth + 1);
                }
        }
}

/* Files that could be one: same device (a hard link cannot cross), size,
 * type and mode, owner. */
static int same_kind(const struct entry *a, const struct entry *b)
{
        return a->dev == b->dev && a->size == b->size && a->mode == b->mode && a->uid == b->uid &&
               a->gid == b->gid;
}

static int cmp_kind(const void *pa, const void *pb)
{
        const struct entry *a = pa, *b = pb;

        if (a->dev != b->dev)
                return a->dev < b->dev ? -1 : 1;
        if (a->size != b->size)
                return a->size < b->size ? -1 : 1;
        if (a->mode != b->mode)
                return a->mode < b->mode ? -1 : 1;
        if (a->uid != b->uid)
                return a->uid < b->uid ? -1 : 1;
        if (a->gid != b->gid)
                return a->gid < b->gid ? -1 : 1;
        if (a->hash != b->hash)
                return a->hash < b->hash ? -1 : 1;
        return a->ino < b->ino ? -1 : a->ino > b->ino;
}

/* FNV-1a over the content: sorts candidates; equality is decided by
 * comparing the bytes. */
static int hash_file(int store_fd, struct entry *e)
{
        cleanup_close int fd = openat(store_fd, e->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        unsigned char buf[65536];
        uint64_t h = 1469598103934665603ULL;
        ssize_t n;

        if (fd < 0)
                return -1;
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                for (ssize_t i = 0; i < n; i++)
                        h = (h ^ buf[i]) * 1099511628211ULL;
        e->hash = h;
        e->hashed = 1;
        return n < 0 ? -1 : 0;
}

static int same_content(int store_fd, const char *a, const char *b)
{
        cleanup_close int fa = openat(store_fd, a, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        cleanup_close int fb = openat(store_fd, b, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        char ba[65536], bb[65536];
        ssize_t na, nb;

        if (fa < 0 || fb < 0)
                return 0;
        do {
                na = read(fa, ba, sizeof(ba));
                nb = read(fb, bb, sizeof(bb));
                if (na != nb || na < 0 || memcmp(ba, bb, (size_t)na) != 0)
                        return 0;
        } while (na > 0);
        return 1;
}

/* The xattrs, names and values, as one sorted-by-kernel blob. */
static char *xattr_blob(int store_fd, const char *path, size_t *len)
{
        cleanup_free char *full = vs_strdupf("/proc/self/fd/%d/%s", store_fd, path);
        char names[65536];
        ssize_t n = llistxattr(full, names, sizeof(names));
        char *blob;
        size_t used = 0;

        if (n < 0)
                n = 0;
        blob = vs_xmalloc((size_t)n + 1);
        memcpy(blob, names, (size_t)n);
        used = (size_t)n;
        for (char *key = names; key < names + n; key += strlen(key) + 1) {
                char value[65536];
                ssize_t vlen = lgetxattr(full, key, value, sizeof(value));

                if (vlen < 0)
                        vlen = 0;
                blob = realloc(blob, used + (size_t)vlen + 1);
                if (!blob)
                        abort();
                memcpy(blob + used, value, (size_t)vlen);
                used += (size_t)vlen;
        }
        *len = used;
        return blob;
}

static int same_xattrs(int store_fd, const char *a, const char *b)
{
        size_t la, lb;
        cleanup_free char *xa = xattr_blob(store_fd, a, &la);
        cleanup_free char *xb = xattr_blob(store_fd, b, &lb);

        return la == lb && memcmp(xa, xb, la) == 0;
}

/* Replaces `path` by a hard link to `target`: link at the store's top (one
 * file system, and outside every template, so that a crash leaves nothing a
 * VPS sees; vs_template_store_recover removes it), rename over. */
static int relink(int store_fd, const char *target, const char *path, vs_error_t *err)
{
        unlinkat(store_fd, VS_UNIFY_TMP, 0);
        if (linkat(store_fd, target, store_fd, VS_UNIFY_TMP, 0) < 0)
                return vs_error_errno(err, "link %s", path);
        if (renameat(store_fd, VS_UNIFY_TMP, store_fd, path) < 0) {
                vs_error_errno(err, "replace %s", path);
                unlinkat(store_fd, VS_UNIFY_TMP, 0);
                return -1;
        }
        return 0;
}

/* Links every file of a group of same-kind, same-hash files to the first
 * that it is truly equal to. */
static void unify_group(int store_fd, struct entry *g, size_t n, vs_template_unify_t *r)
{
        for (size_t i = 0; i < n; i++) {
                if (!g[i].path)
                        continue; /* already linked to an earlier one */
                for (size_t j = i + 1; j < n; j++) {
                        if (!g[j].path || g[j].ino == g[i].ino)
                                continue;
                        if (!same_content(store_fd, g[i].path, g[j].path) ||
                            !same_xattrs(store_fd, g[i].path, g[j].path))
                                continue;
                        if (relink(store_fd, g[i].path, g[j].path, NULL) < 0) {
                                if (errno == EMLINK)
                                        break; /* g[i] is full: the next one leads */
                                r->errors++;
                                continue;
                        }
                        r->linked++;
                        free(g[j].path);
                        g[j].path = NULL;
                }
        }
}

static int list_templates(int store_fd, struct files *f, vs_error_t *err)
{
        vs_template_info_t *list = NULL;
        size_t count;

        if (vs_template_list(store_fd, &list, &count, NULL, err) < 0)
                return -1;
        for (size_t i = 0; i < count; i++) {
                cleanup_free char *root = vs_strdupf("%s/rootfs", list[i].name);
                cleanup_close int fd =
                        openat(store_fd, root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

                if (fd >= 0)
                        collect(fd, root, f, 0);
        }
        free(list);
        return 0;
}

int vs_template_unify(int store_fd, vs_template_unify_t *r, vs_error_t *err)
{
        struct files f = { 0 };
        size_t i, j;

        memset(r, 0, sizeof(*r));
        r->bytes_before = vs_du_at(store_fd);
        if (list_templates(store_fd, &f, err) < 0)
                return -1;
        r->files = f.n;
        qsort(f.v, f.n, sizeof(*f.v), cmp_kind);
        /* only files that have a same-kind partner are read */
        for (i = 0; i < f.n; i = j) {
                for (j = i + 1; j < f.n && same_kind(&f.v[i], &f.v[j]); j++)
                        ;
                for (size_t k = i; j - i > 1 && k < j; k++)
                        hash_file(store_fd, &f.v[k]);
        }
        qsort(f.v, f.n, sizeof(*f.v), cmp_kind);
        for (i = 0; i < f.n; i = j) {
                for (j = i + 1; j < f.n && same_kind(&f.v[i], &f.v[j]) && f.v[j].hashed &&
                                f.v[i].hashed && f.v[j].hash == f.v[i].hash;
                     j++)
                        ;
                if (j - i > 1)
                        unify_group(store_fd, &f.v[i], j - i, r);
        }
        files_free(&f);
        r->bytes_after = vs_du_at(store_fd);
        return 0;
}
