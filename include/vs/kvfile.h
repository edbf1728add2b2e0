/* `key = value` files: the VPS config, its state, template meta and vsd.conf.
 * Comments and blank lines survive a load and save, so admins can annotate. */
#ifndef VS_KVFILE_H
#define VS_KVFILE_H

#include <stddef.h>

#include "vs/error.h"

typedef struct {
        char *key; /* NULL for a comment or blank line kept verbatim in value */
        char *value;
} vs_kv_line_t;

typedef struct {
        vs_kv_line_t *lines;
        size_t count;
        size_t cap;
} vs_kv_t;

int vs_kv_parse(const char *text, vs_kv_t *kv, vs_error_t *err);
/* Returns a malloc'd text that vs_kv_parse reads back to the same lines. */
char *vs_kv_format(const vs_kv_t *kv);
int vs_kv_load(int dirfd, const char *path, vs_kv_t *kv, vs_error_t *err);
/* As vs_kv_load, but a missing file is an empty one. */
int vs_kv_load_optional(int dirfd, const char *path, vs_kv_t *kv, vs_error_t *err);
int vs_kv_save(int dirfd, const char *path, const vs_kv_t *kv, int durable, vs_error_t *err);

const char *vs_kv_get(const vs_kv_t *kv, const char *key);
/* Sets (replacing in place) or, with value NULL, removes a key. */
void vs_kv_set(vs_kv_t *kv, const char *key, const char *value);
void vs_kv_setf(vs_kv_t *kv, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void vs_kv_free(vs_kv_t *kv);

#define cleanup_kv __attribute__((cleanup(vs_kv_free)))

#endif
