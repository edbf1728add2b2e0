#include "vs/log.h"

#include <errno.h>
#include <paths.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_foreground = 1;
static const char *log_ident = "vsd";

/* How often a missing syslog socket is looked for again, in ms */
#define SYSLOG_LOOK_MS 1000

void vs_log_open(const char *ident, int foreground)
{
        log_ident = ident;
        log_foreground = foreground;
        if (!foreground)
                openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

/* glibc's syslog, while it is not connected, tries again for every
 * message: without a syslog daemon (no /dev/log, as in many containers)
 * that is a socket, a failed connect and a close per line, and vsd logs
 * on its reply path (a stop, a destroy). Whether the socket is there is
 * looked at once a second instead; what is logged meanwhile had nowhere
 * to go either way. */
static int syslog_missing(void)
{
        static long long next_look_ms;
        static int missing;
        struct timespec now;
        long long ms;

        if (clock_gettime(CLOCK_MONOTONIC_COARSE, &now) < 0)
                return 0;
        ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
        if (ms >= next_look_ms) {
                missing = access(_PATH_LOG, F_OK) != 0;
                next_look_ms = ms + SYSLOG_LOOK_MS;
        }
        return missing;
}

/* One line in one write: lines of vsd and its helpers do not interleave,
 * and unbuffered stderr costs a write per piece otherwise. */
static void log_stderr(int priority, const char *fmt, va_list ap)
{
        static const char *const levels[] = { "emerg",   "alert",  "crit", "error",
                                              "warning", "notice", "info", "debug" };
        char line[2048];
        int len = snprintf(line, sizeof(line), "%s: %s: ", log_ident, levels[priority & 7]);

        if (len < 0 || (size_t)len >= sizeof(line) - 1)
                return;
        len += vsnprintf(line + len, sizeof(line) - (size_t)len, fmt, ap);
        if (len < 0 || (size_t)len >= sizeof(line) - 1)
                len = (int)sizeof(line) - 2; /* cut: the line still ends */
        line[len++] = '\n';
        (void)!write(STDERR_FILENO, line, (size_t)len);
}

void vs_log(int priority, const char *fmt, ...)
{
        int saved = errno; /* for %m */
        va_list ap;

        va_start(ap, fmt);
        if (log_foreground) {
                errno = saved;
                log_stderr(priority, fmt, ap);
        } else if (!syslog_missing()) {
                errno = saved;
                vsyslog(priority, fmt, ap);
        }
        va_end(ap);
        errno = saved;
}
