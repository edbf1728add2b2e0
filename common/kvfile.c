#include "vs/kvfile.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"

#define KV_FILE_MAX (1U << 20)

static void kv_append(vs_kv_t *kv, char *key, char *value)
{
        kv->lines = vs_xgrow(kv->lines, kv->count, &kv->cap, 16, sizeof(*kv->lines));
        kv->lines[kv->count].key = key;
        kv->lines[kv->count].value = value;
        kv->count++;
}

static char *trim(char *s)
{
        char *end;

        while (isspace((unsigned char)*s))
                s++;
        end = s + strlen(s);
        while (end > s && isspace((unsigned char)end[-1]))
                *--end = '\0';
        return s;
}

static int key_valid(const char *key)
{
        if (!*key)
                return 0;
        for (const char *p = key; *p; p++)
                if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
                        return 0;
        return 1;
}

static int parse_line(char *line, unsigned lineno, vs_kv_t *kv, vs_error_t *err)
{
        char *stripped = trim(line);
        char *eq, *key, *value;

        if (*stripped == '\0' || *stripped == '#') {
                kv_append(kv, NULL, vs_xstrdup(line));
                return 0;
        }
        eq = strchr(stripped, '=');
        if (!eq)
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "line %u: expected 'key = value'",
                                     lineno);
        *eq = '\0';
        key = trim(stripped);
        value = trim(eq + 1);
        if (!key_valid(key))
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "line %u: bad key '%s'", lineno, key);
        if (vs_kv_get(kv, key))
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "line %u: key '%s' repeated", lineno,
                                     key);
        kv_append(kv, vs_xstrdup(key), vs_xstrdup(value));
        return 0;
}

int vs_kv_parse(const char *text, vs_kv_t *kv, vs_error_t *err)
{
        cleanup_free char *copy = vs_xstrdup(text);
        char *line = copy;
        unsigned lineno = 0;

        while (line && *line) {
                char *next = strchr(line, '\n');

                if (next)
                        *next++ = '\0';
                lineno++;
                if (strchr(line, '\r')) {
                        vs_kv_free(kv);
                        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                             "line %u: carriage return in file", lineno);
                }
                if (parse_line(line, lineno, kv, err) < 0) {
                        vs_kv_free(kv);
                        return -1;
                }
                line = next;
        }
        return 0;
}

char *vs_kv_format(const vs_kv_t *kv)
{
        char *out = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&out, &len);

        if (!mem)
                abort();
        for (size_t i = 0; i < kv->count; i++) {
                if (kv->lines[i].key)
                        fprintf(mem, "%s = %s\n", kv->lines[i].key, kv->lines[i].value);
                else
                        fprintf(mem, "%s\n", kv->lines[i].value);
        }
        fclose(mem);
        return out;
}

int vs_kv_load(int dirfd, const char *path, vs_kv_t *kv, vs_error_t *err)
{
        cleanup_free char *text = NULL;

        if (vs_read_file(dirfd, path, KV_FILE_MAX, &text, NULL, err) < 0)
                return -1;
        if (vs_kv_parse(text, kv, err) < 0)
                return vs_error_wrap(err, "%s", path);
        return 0;
}

int vs_kv_load_optional(int dirfd, const char *path, vs_kv_t *kv, vs_error_t *err)
{
        vs_error_t load_err = { 0 };

        if (vs_kv_load(dirfd, path, kv, &load_err) == 0)
                return 0;
        if (load_err.errnum == ENOENT)
                return 0;
        if (err)
                *err = load_err;
        return -1;
}

int vs_kv_save(int dirfd, const char *path, const vs_kv_t *kv, int durable, vs_error_t *err)
{
        cleanup_free char *text = vs_kv_format(kv);

        return vs_write_atomic(dirfd, path, text, strlen(text), 0644, durable, err);
}

const char *vs_kv_get(const vs_kv_t *kv, const char *key)
{
        for (size_t i = 0; i < kv->count; i++)
                if (kv->lines[i].key && strcmp(kv->lines[i].key, key) == 0)
                        return kv->lines[i].value;
        return NULL;
}

static void value_sanitize(char *value)
{
        /* A newline in a value would start a new line on disk: the file
         * format has no escapes, so callers validate and we refuse to split. */
        for (char *p = value; *p; p++)
                if (*p == '\n' || *p == '\r')
                        *p = ' ';
}

void vs_kv_set(vs_kv_t *kv, const char *key, const char *value)
{
        for (size_t i = 0; i < kv->count; i++) {
                if (!kv->lines[i].key || strcmp(kv->lines[i].key, key) != 0)
                        continue;
                free(kv->lines[i].value);
                if (value) {
                        kv->lines[i].value = vs_xstrdup(value);
                        value_sanitize(kv->lines[i].value);
                        return;
                }
                free(kv->lines[i].key);
                memmove(&kv->lines[i], &kv->lines[i + 1], (kv->count - i - 1) * sizeof(*kv->lines));
                kv->count--;
                return;
        }
        if (value) {
                char *copy = vs_xstrdup(value);

                value_sanitize(copy);
                kv_append(kv, vs_xstrdup(key), copy);
        }
}

void vs_kv_setf(vs_kv_t *kv, const char *key, const char *fmt, ...)
{
        char *value;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&value, fmt, ap) < 0)
                abort();
        va_end(ap);
        vs_kv_set(kv, key, value);
        free(value);
}

void vs_kv_free(vs_kv_t *kv)
{
        for (size_t i = 0; i < kv->count; i++) {
                free(kv->lines[i].key);
                free(kv->lines[i].value);
        }
        free(kv->lines);
        memset(kv, 0, sizeof(*kv));
}
