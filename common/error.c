#include "vs/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Messages quote what was typed or sent, and are shown on terminals and
 * written to logs as one line: a line break or tab in the quote becomes a
 * blank, any other control byte a '?', so that neither splits the line nor
 * drives the terminal. */
static void one_line(char *msg)
{
        for (unsigned char *p = (unsigned char *)msg; *p; p++) {
                if (*p == '\n' || *p == '\r' || *p == '\t')
                        *p = ' ';
                else if (*p < 0x20 || *p == 0x7f)
                        *p = '?';
        }
}

/* What each of the setters below makes of *err (not NULL). */
static void error_vset(vs_error_t *err, vs_error_kind_t kind, int errnum, const char *fmt,
                       va_list ap)
{
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        one_line(err->msg);
        err->errnum = errnum;
        err->kind = kind;
}

int vs_error_set(vs_error_t *err, int errnum, const char *fmt, ...)
{
        va_list ap;

        if (!err)
                return -1;
        va_start(ap, fmt);
        error_vset(err, VS_E_INTERNAL, errnum, fmt, ap);
        va_end(ap);
        return -1;
}

int vs_error_errno(vs_error_t *err, const char *fmt, ...)
{
        int errnum = errno;
        size_t len;
        va_list ap;

        if (!err)
                return -1;
        va_start(ap, fmt);
        error_vset(err, errnum == EPERM || errnum == EACCES ? VS_E_PERM : VS_E_INTERNAL, errnum,
                   fmt, ap);
        va_end(ap);
        len = strlen(err->msg);
        snprintf(err->msg + len, sizeof(err->msg) - len, ": %s", strerror(errnum));
        one_line(err->msg);
        return -1;
}

int vs_error_kind(vs_error_t *err, vs_error_kind_t kind, int errnum, const char *fmt, ...)
{
        va_list ap;

        if (!err)
                return -1;
        va_start(ap, fmt);
        error_vset(err, kind, errnum, fmt, ap);
        va_end(ap);
        return -1;
}

int vs_error_wrap(vs_error_t *err, const char *fmt, ...)
{
        char prefix[258];
        size_t plen, olen, cap = sizeof(err->msg) - 1;
        va_list ap;

        if (!err)
                return -1;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof(prefix) - 2, fmt, ap);
        va_end(ap);
        strcat(prefix, ": ");
        plen = strlen(prefix);
        olen = strlen(err->msg);
        if (plen + olen > cap)
                olen = cap - plen; /* keep the context, cut the tail */
        memmove(err->msg + plen, err->msg, olen);
        memcpy(err->msg, prefix, plen);
        err->msg[plen + olen] = '\0';
        one_line(err->msg);
        return -1;
}

void vs_error_clear(vs_error_t *err)
{
        if (err)
                memset(err, 0, sizeof(*err));
}

static const char *const kind_names[] = {
        [VS_E_INTERNAL] = "internal", [VS_E_USAGE] = "usage",     [VS_E_NOTFOUND] = "not-found",
        [VS_E_STATE] = "state",       [VS_E_PERM] = "permission", [VS_E_DAEMON] = "daemon",
};

const char *vs_error_kind_name(vs_error_kind_t kind)
{
        if ((unsigned)kind >= sizeof(kind_names) / sizeof(kind_names[0]))
                return "internal";
        return kind_names[kind];
}

int vs_error_kind_from_name(const char *name)
{
        for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
                if (name && strcmp(name, kind_names[i]) == 0)
                        return (int)i;
        return VS_E_INTERNAL;
}
