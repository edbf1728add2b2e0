/* An index of records by the name each holds: a lookup that walked a list
 * of thousands (vsd's VPS, the nftables records) in every request. */
#ifndef VS_NAMEIDX_H
#define VS_NAMEIDX_H

#include <stddef.h>
#include <stdint.h>

/* Held by each record, beside the name it is indexed by; the name must
 * stay where it is while the record is in the index. */
typedef struct vs_nameidx_link {
        struct vs_nameidx_link *next;
        const char *name;
} vs_nameidx_link_t;

/* Zeroed, an empty index. Buckets double as the records do; the hash is
 * keyed at random per index, so that names chosen to collide cannot turn
 * lookups back into walks. */
typedef struct {
        vs_nameidx_link_t **buckets;
        size_t cap, count;
        uint64_t key[2];
} vs_nameidx_t;

#define vs_nameidx_entry(link, type, member) ((type *)((char *)(link)-offsetof(type, member)))

/* Adds link under name (not already in the index). Aborts when out of
 * memory, as vs_xmalloc. */
void vs_nameidx_add(vs_nameidx_t *ix, vs_nameidx_link_t *link, const char *name);
/* Takes link out; a link that is not in the index is left alone. */
void vs_nameidx_remove(vs_nameidx_t *ix, vs_nameidx_link_t *link);
/* The link indexed under name, or NULL. */
vs_nameidx_link_t *vs_nameidx_find(const vs_nameidx_t *ix, const char *name);
/* A walk over every link, in no particular order: the walk holds the next
 * link before it gives one, so the one given may be taken out (or its
 * record freed) before the next call. Nothing else may be added or taken
 * out during the walk.
 *   vs_nameidx_iter_t it;
 *   for (link = vs_nameidx_first(ix, &it); link; link = vs_nameidx_next(&it)) */
typedef struct {
        const vs_nameidx_t *ix;
        size_t bucket; /* the next bucket to look in */
        vs_nameidx_link_t *next;
} vs_nameidx_iter_t;

vs_nameidx_link_t *vs_nameidx_first(const vs_nameidx_t *ix, vs_nameidx_iter_t *it);
/* The next link of the walk, or NULL at its end. */
vs_nameidx_link_t *vs_nameidx_next(vs_nameidx_iter_t *it);
/* Frees the buckets (not the records); the index is empty again. */
void vs_nameidx_free(vs_nameidx_t *ix);

#endif
