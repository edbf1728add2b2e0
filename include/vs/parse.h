/* Parsers for the names and values admins type (DESIGN.md section 3).
 * Out-of-range values are refused, never clamped. */
#ifndef VS_PARSE_H
#define VS_PARSE_H

#include <stdint.h>

#include "vs/error.h"

#define VS_NAME_MAX 63

/* VPS, slice and template names: [a-z0-9][a-z0-9_-]{0,62}. `what` names the
 * kind of thing in the message ("VPS name", "template name"). */
int vs_parse_name(const char *name, const char *what, vs_error_t *err);

/* Hostnames: RFC 1123 labels, at most 64 characters in all. */
int vs_parse_hostname(const char *hostname, vs_error_t *err);

/* The hostname a VPS gets when none is given: its name with '_' made '-'
 * (a name may hold '_', a hostname may not), trailing '-' dropped. name is a
 * valid VPS name; out holds VS_NAME_MAX + 1 bytes. Returns out. */
char *vs_default_hostname(const char *name, char out[VS_NAME_MAX + 1]);

/* Sizes: a number with an optional K M G T (1024-based) or KiB MiB GiB TiB
 * suffix, or B for bytes. */
int vs_parse_size(const char *text, uint64_t *bytes, vs_error_t *err);

/* CPU: "50%" (of one CPU), "1.5" (CPUs) or "25ms/100ms"; result in
 * millionths of a CPU (1000000 = one full CPU). */
int vs_parse_cpu(const char *text, uint64_t *micro_cpus, vs_error_t *err);

/* Durations: a number of seconds, or with a unit: ms, s, m, h. Result in ms. */
int vs_parse_duration(const char *text, uint64_t *ms, vs_error_t *err);

/* A non-negative integer in [min, max]. `what` names it in the message. */
int vs_parse_uint(const char *text, uint64_t min, uint64_t max, const char *what, uint64_t *out,
                  vs_error_t *err);

/* The one digit scanner under every integer parser of the tree: reads the
 * decimal digits at `p` (no sign, no blank, at least one digit) into *out
 * and returns the first character after them; NULL when there is no digit
 * or the value is above `max`. */
const char *vs_scan_uint(const char *p, uint64_t max, uint64_t *out);

/* A whole string of digits (as vs_scan_uint, nothing after): 0, or -1. */
int vs_digits(const char *text, uint64_t max, uint64_t *out);

/* Decimal numbers times a unit's factor, exactly ("1.5" x 1024), without
 * floating point; *rest points after the number. */
enum vs_decimal {
        VS_DECIMAL_OK = 0,
        VS_DECIMAL_SYNTAX = -1,
        VS_DECIMAL_RANGE = -2,
        VS_DECIMAL_INEXACT = -3,
        VS_DECIMAL_TOO_FINE = -4, /* a non-zero digit past the VS_DECIMALS_MAX-th */
};
#define VS_DECIMALS_MAX 18
enum vs_decimal vs_parse_decimal(const char *text, uint64_t factor, uint64_t *out,
                                 const char **rest);

/* A point in time as an admin gives an expiry (slice --expires): a date
 * YYYY-MM-DD[THH:MM[:SS]] in UTC, or +N with a unit d, h, m or s counted from
 * `now`. Result in seconds since the epoch; the message names `what`. */
int vs_parse_when(const char *text, int64_t now, const char *what, int64_t *out, vs_error_t *err);

/* Signal names with or without SIG, or numbers ("SIGPWR", "TERM", "15"). */
int vs_parse_signal(const char *text, int *signo, vs_error_t *err);
const char *vs_signal_name(int signo);

#endif
