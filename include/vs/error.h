/* The error contract: every fallible function takes `vs_error_t *err` last,
 * returns < 0 on failure and fills err. Only the top level prints. */
#ifndef VS_ERROR_H
#define VS_ERROR_H

#include <stddef.h>

/* What kind of failure, so that vsctl can choose a documented exit code
 * without guessing from errno (an internal ENOENT is not "no such VPS"). */
typedef enum {
        VS_E_INTERNAL = 0,
        VS_E_USAGE,
        VS_E_NOTFOUND,
        VS_E_STATE,
        VS_E_PERM,
        VS_E_DAEMON,
} vs_error_kind_t;

typedef struct {
        int errnum;
        vs_error_kind_t kind;
        char msg[1024];
} vs_error_t;

#define VS_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Sets the message (and errnum, kind internal). Returns -1. */
int vs_error_set(vs_error_t *err, int errnum, const char *fmt, ...) VS_PRINTF(3, 4);
/* Like vs_error_set with errno, appending ": strerror(errno)". Returns -1. */
int vs_error_errno(vs_error_t *err, const char *fmt, ...) VS_PRINTF(2, 3);
/* Sets a message of the given kind, no strerror appended. Returns -1. */
int vs_error_kind(vs_error_t *err, vs_error_kind_t kind, int errnum, const char *fmt, ...)
        VS_PRINTF(4, 5);
/* Prefixes context: "start web1: " + old message. Returns -1. */
int vs_error_wrap(vs_error_t *err, const char *fmt, ...) VS_PRINTF(2, 3);
void vs_error_clear(vs_error_t *err);

const char *vs_error_kind_name(vs_error_kind_t kind);
int vs_error_kind_from_name(const char *name);

#endif
