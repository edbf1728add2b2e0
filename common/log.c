#include "vs/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static int log_foreground = 1;
static const char *log_ident = "vsd";

void vs_log_open(const char *ident, int foreground)
{
        log_ident = ident;
        log_foreground = foreground;
        if (!foreground)
                openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void vs_log(int priority, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        if (log_foreground) {
                static const char *const levels[] = { "emerg",   "alert",  "crit", "error",
                                                      "warning", "notice", "info", "debug" };

                fprintf(stderr, "%s: %s: ", log_ident, levels[priority & 7]);
                vfprintf(stderr, fmt, ap);
                fputc('\n', stderr);
        } else {
                vsyslog(priority, fmt, ap);
        }
        va_end(ap);
}
