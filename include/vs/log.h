/* vsd's log: stderr in the foreground, syslog otherwise. */
#ifndef VS_LOG_H
#define VS_LOG_H

#include <syslog.h>

void vs_log_open(const char *ident, int foreground);
void vs_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
