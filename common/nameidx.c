/* Chained hash of names, keyed SipHash; see vs/nameidx.h. */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "vs/blocksum.h"
#include "vs/fsutil.h"
#include "vs/nameidx.h"

#define FIRST_CAP 64

static size_t bucket_of(const vs_nameidx_t *ix, const char *name)
{
        return (size_t)vs_siphash24(ix->key, name, strlen(name)) & (ix->cap - 1);
}

static void set_key(vs_nameidx_t *ix)
{
        /* a key that is not random only costs the collision resistance */
        if (getrandom(ix->key, sizeof(ix->key), GRND_NONBLOCK) != sizeof(ix->key)) {
                ix->key[0] = (uint64_t)(uintptr_t)ix;
                ix->key[1] = 0x70616e65;
        }
}

static void grow(vs_nameidx_t *ix)
{
        size_t old_cap = ix->cap;
        vs_nameidx_link_t **old = ix->buckets;

        if (!old)
                set_key(ix);
        ix->cap = old_cap ? old_cap * 2 : FIRST_CAP;
        ix->buckets = vs_xmalloc(ix->cap * sizeof(*ix->buckets));
        memset(ix->buckets, 0, ix->cap * sizeof(*ix->buckets));
        for (size_t i = 0; i < old_cap; i++) {
                while (old[i]) {
                        vs_nameidx_link_t *link = old[i];
                        size_t b = bucket_of(ix, link->name);

                        old[i] = link->next;
                        link->next = ix->buckets[b];
                        ix->buckets[b] = link;
                }
        }
        free(old);
}

void vs_nameidx_add(vs_nameidx_t *ix, vs_nameidx_link_t *link, const char *name)
{
        size_t b;

        if (ix->count >= ix->cap)
                grow(ix);
        b = bucket_of(ix, name);
        link->name = name;
        link->next = ix->buckets[b];
        ix->buckets[b] = link;
        ix->count++;
}

void vs_nameidx_remove(vs_nameidx_t *ix, vs_nameidx_link_t *link)
{
        if (!ix->buckets || !link->name)
                return;
        for (vs_nameidx_link_t **p = &ix->buckets[bucket_of(ix, link->name)]; *p; p = &(*p)->next) {
                if (*p == link) {
                        *p = link->next;
                        link->next = NULL;
                        ix->count--;
                        return;
                }
        }
}

vs_nameidx_link_t *vs_nameidx_find(const vs_nameidx_t *ix, const char *name)
{
        if (!ix->buckets)
                return NULL;
        for (vs_nameidx_link_t *link = ix->buckets[bucket_of(ix, name)]; link; link = link->next)
                if (strcmp(link->name, name) == 0)
                        return link;
        return NULL;
}

vs_nameidx_link_t *vs_nameidx_next(vs_nameidx_iter_t *it)
{
        vs_nameidx_link_t *link = it->next;

        while (!link && it->bucket < it->ix->cap)
                link = it->ix->buckets[it->bucket++];
        it->next = link ? link->next : NULL;
        return link;
}

vs_nameidx_link_t *vs_nameidx_first(const vs_nameidx_t *ix, vs_nameidx_iter_t *it)
{
        *it = (vs_nameidx_iter_t){ .ix = ix };
        return vs_nameidx_next(it);
}

void vs_nameidx_free(vs_nameidx_t *ix)
{
        free(ix->buckets);
        ix->buckets = NULL;
        ix->cap = ix->count = 0;
}
