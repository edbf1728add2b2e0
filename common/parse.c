#include "vs/parse.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>

static int name_char_ok(char c, int first)
{
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
                return 1;
        return !first && (c == '_' || c == '-');
}

int vs_parse_name(const char *name, const char *what, vs_error_t *err)
{
        size_t len;

        if (!name || !*name)
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "%s is empty", what);
        len = strlen(name);
        if (len > VS_NAME_MAX)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "%s '%.80s' is too long (%zu characters, at most %d)", what,
                                     name, len, VS_NAME_MAX);
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)name[i];

                if (name_char_ok((char)c, i == 0))
                        continue;
                if (i == 0 && (c == '_' || c == '-'))
                        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                             "%s '%s' must start with a-z or 0-9, not '%c'", what,
                                             name, c);
                if (isprint(c))
                        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                             "%s '%s' has a bad character '%c' at position %zu "
                                             "(allowed: a-z 0-9 _ -)",
                                             what, name, c, i + 1);
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "%s has a bad character 0x%02x at position %zu "
                                     "(allowed: a-z 0-9 _ -)",
                                     what, c, i + 1);
        }
        return 0;
}

int vs_parse_hostname(const char *hostname, vs_error_t *err)
{
        size_t len, label = 0;

        if (!hostname || !*hostname)
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "hostname is empty");
        len = strlen(hostname);
        if (len > 64)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "hostname is too long (%zu characters, at most 64)", len);
        for (size_t i = 0; i < len; i++) {
                char c = hostname[i];

                if (c == '.') {
                        if (label == 0)
                                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                                     "hostname '%s' has an empty label", hostname);
                        if (hostname[i - 1] == '-')
                                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                                     "hostname '%s': a label may not end with '-'",
                                                     hostname);
                        label = 0;
                        continue;
                }
                if (!isalnum((unsigned char)c) && c != '-')
                        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                             "hostname '%s' has a bad character '%c' "
                                             "(allowed: letters, digits, '-' and '.')",
                                             hostname, isprint((unsigned char)c) ? c : '?');
                if (c == '-' && label == 0)
                        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                             "hostname '%s': a label may not start with '-'",
                                             hostname);
                if (++label > 63)
                        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                             "hostname '%s' has a label longer than 63 characters",
                                             hostname);
        }
        if (label == 0)
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "hostname '%s' ends with '.'",
                                     hostname);
        if (hostname[len - 1] == '-')
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "hostname '%s': a label may not end with '-'", hostname);
        return 0;
}

char *vs_default_hostname(const char *name, char out[VS_NAME_MAX + 1])
{
        size_t len = 0;

        for (; name[len] && len < VS_NAME_MAX; len++)
                out[len] = name[len] == '_' ? '-' : name[len];
        while (len > 1 && out[len - 1] == '-')
                len--;
        out[len] = '\0';
        return out;
}

const char *vs_scan_uint(const char *p, uint64_t max, uint64_t *out)
{
        uint64_t value = 0;

        if (!p || !isdigit((unsigned char)*p))
                return NULL;
        for (; isdigit((unsigned char)*p); p++) {
                unsigned digit = (unsigned)(*p - '0');

                if (digit > max || value > (max - digit) / 10)
                        return NULL;
                value = value * 10 + digit;
        }
        *out = value;
        return p;
}

int vs_digits(const char *text, uint64_t max, uint64_t *out)
{
        const char *end = vs_scan_uint(text, max, out);

        return end && !*end ? 0 : -1;
}

static int all_digits(const char *text)
{
        if (!*text)
                return 0;
        for (; *text; text++)
                if (!isdigit((unsigned char)*text))
                        return 0;
        return 1;
}

int vs_parse_uint(const char *text, uint64_t min, uint64_t max, const char *what, uint64_t *out,
                  vs_error_t *err)
{
        uint64_t value = 0;

        if (!text || !all_digits(text))
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "%s '%s' is not a number", what,
                                     text ? text : "");
        if (vs_digits(text, max, &value) < 0 || value < min)
                return vs_error_kind(err, VS_E_USAGE, ERANGE,
                                     "%s '%s' is out of range (%" PRIu64 "..%" PRIu64 ")", what,
                                     text, min, max);
        *out = value;
        return 0;
}

/* A value that is not a whole number of units (1.5 bytes) is
 * VS_DECIMAL_INEXACT, never rounded; one with a non-zero digit past
 * VS_DECIMALS_MAX decimals is VS_DECIMAL_TOO_FINE (the sum is kept in 128
 * bits). */
enum vs_decimal vs_parse_decimal(const char *text, uint64_t factor, uint64_t *out,
                                 const char **rest)
{
        __uint128_t whole = 0, frac = 0, frac_scale = 1;
        const char *p = text;
        int too_fine = 0;

        *rest = text;
        if (!isdigit((unsigned char)*p))
                return VS_DECIMAL_SYNTAX;
        for (; isdigit((unsigned char)*p); p++) {
                whole = whole * 10 + (unsigned)(*p - '0');
                if (whole > UINT64_MAX)
                        return VS_DECIMAL_RANGE;
        }
        if (*p == '.') {
                p++;
                if (!isdigit((unsigned char)*p))
                        return VS_DECIMAL_SYNTAX;
                for (; isdigit((unsigned char)*p); p++) {
                        if (frac_scale >= (__uint128_t)1000000000000000000ULL) {
                                too_fine |= *p != '0';
                                continue;
                        }
                        frac = frac * 10 + (unsigned)(*p - '0');
                        frac_scale *= 10;
                }
        }
        *rest = p;
        if (too_fine)
                return VS_DECIMAL_TOO_FINE;
        whole *= factor;
        frac *= factor;
        if (whole > UINT64_MAX || whole + frac / frac_scale > UINT64_MAX)
                return VS_DECIMAL_RANGE;
        if (frac % frac_scale)
                return VS_DECIMAL_INEXACT;
        *out = (uint64_t)(whole + frac / frac_scale);
        return VS_DECIMAL_OK;
}

static int too_fine(vs_error_t *err, const char *what, const char *text)
{
        return vs_error_kind(err, VS_E_USAGE, EINVAL, "%s '%s' has more than %d decimals", what,
                             text, VS_DECIMALS_MAX);
}

/* Splits a number from its unit suffix: "1.5G" -> "G". */
static const char *unit_suffix(const char *text)
{
        const char *p = text;

        while (isdigit((unsigned char)*p) || *p == '.')
                p++;
        return p;
}

struct unit {
        const char *suffix;
        uint64_t factor;
};

static const struct unit size_units[] = {
        { "", 1 },           { "B", 1 },
        { "K", 1ULL << 10 }, { "KiB", 1ULL << 10 },
        { "M", 1ULL << 20 }, { "MiB", 1ULL << 20 },
        { "G", 1ULL << 30 }, { "GiB", 1ULL << 30 },
        { "T", 1ULL << 40 }, { "TiB", 1ULL << 40 },
};

static const struct unit *find_unit(const struct unit *units, size_t n, const char *suffix)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(units[i].suffix, suffix) == 0)
                        return &units[i];
        return NULL;
}

/* Multiplies a value scaled by 1000 by a unit factor, refusing overflow. */
int vs_parse_size(const char *text, uint64_t *bytes, vs_error_t *err)
{
        const struct unit *unit;
        const char *rest;
        int rc;

        if (!text || !isdigit((unsigned char)*text))
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "size '%s' is not a number with an optional K, M, G or T",
                                     text ? text : "");
        unit = find_unit(size_units, sizeof(size_units) / sizeof(size_units[0]), unit_suffix(text));
        if (!unit)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "size '%s' has an unknown unit '%s' (use K, M, G, T or "
                                     "KiB, MiB, GiB, TiB)",
                                     text, unit_suffix(text));
        rc = vs_parse_decimal(text, unit->factor, bytes, &rest);
        if (rc == VS_DECIMAL_SYNTAX || (rc != VS_DECIMAL_RANGE && rest != unit_suffix(text)))
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "size '%s' is not a number", text);
        if (rc == VS_DECIMAL_RANGE)
                return vs_error_kind(err, VS_E_USAGE, ERANGE, "size '%s' is too large", text);
        if (rc == VS_DECIMAL_TOO_FINE)
                return too_fine(err, "size", text);
        if (rc == VS_DECIMAL_INEXACT)
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "size '%s' has a fraction of a byte",
                                     text);
        return 0;
}

static const struct unit duration_units[] = {
        { "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
};

int vs_parse_duration(const char *text, uint64_t *ms, vs_error_t *err)
{
        const struct unit *unit;
        const char *rest;
        int rc;

        if (!text || !isdigit((unsigned char)*text))
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "duration '%s' is not a number with an optional unit "
                                     "(ms, s, m, h)",
                                     text ? text : "");
        unit = find_unit(duration_units, sizeof(duration_units) / sizeof(duration_units[0]),
                         unit_suffix(text));
        if (!unit)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "duration '%s' has an unknown unit '%s' (use ms, s, m, h)",
                                     text, unit_suffix(text));
        rc = vs_parse_decimal(text, unit->factor, ms, &rest);
        if (rc == VS_DECIMAL_SYNTAX || (rc != VS_DECIMAL_RANGE && rest != unit_suffix(text)))
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "duration '%s' is not a number",
                                     text);
        if (rc == VS_DECIMAL_RANGE)
                return vs_error_kind(err, VS_E_USAGE, ERANGE, "duration '%s' is too long", text);
        if (rc == VS_DECIMAL_TOO_FINE)
                return too_fine(err, "duration", text);
        if (rc == VS_DECIMAL_INEXACT)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "duration '%s' is finer than a millisecond", text);
        return 0;
}

#define MICRO_PER_CPU 1000000ULL
#define MAX_CPUS 4096ULL

static int parse_cpu_period(const char *text, uint64_t *micro_cpus, vs_error_t *err)
{
        char quota_text[64];
        const char *slash = strchr(text, '/');
        uint64_t quota_ms, period_ms;
        size_t len = (size_t)(slash - text);

        if (len >= sizeof(quota_text))
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "CPU '%s' is not valid", text);
        memcpy(quota_text, text, len);
        quota_text[len] = '\0';
        if (vs_parse_duration(quota_text, &quota_ms, err) < 0 ||
            vs_parse_duration(slash + 1, &period_ms, err) < 0)
                return vs_error_wrap(err, "CPU '%s'", text);
        if (period_ms == 0 || quota_ms == 0)
                return vs_error_kind(err, VS_E_USAGE, ERANGE,
                                     "CPU '%s': quota and period must be above zero", text);
        if (period_ms > 1000)
                return vs_error_kind(err, VS_E_USAGE, ERANGE, "CPU '%s': period is longer than 1s",
                                     text);
        if (quota_ms > period_ms * MAX_CPUS)
                return vs_error_kind(err, VS_E_USAGE, ERANGE,
                                     "CPU '%s' is out of range (at most %llu CPUs)", text,
                                     MAX_CPUS);
        *micro_cpus = quota_ms * MICRO_PER_CPU / period_ms;
        return 0;
}

int vs_parse_cpu(const char *text, uint64_t *micro_cpus, vs_error_t *err)
{
        const char *suffix, *rest;
        uint64_t value;
        int rc;

        if (!text || !*text)
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "CPU value is empty");
        if (strchr(text, '/'))
                return parse_cpu_period(text, micro_cpus, err);
        suffix = unit_suffix(text);
        if (*suffix && strcmp(suffix, "%") != 0)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "CPU '%s' is not valid (use 50%%, 1.5 or 25ms/100ms)", text);
        /* "50%" is 0.50 CPU: a percentage is counted in hundredths */
        rc = vs_parse_decimal(text, *suffix ? MICRO_PER_CPU / 100 : MICRO_PER_CPU, &value, &rest);
        if (rc == VS_DECIMAL_SYNTAX || (rc != VS_DECIMAL_RANGE && rest != suffix))
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "CPU '%s' is not valid (use 50%%, 1.5 or 25ms/100ms)", text);
        if (rc == VS_DECIMAL_TOO_FINE)
                return too_fine(err, "CPU", text);
        if (rc == VS_DECIMAL_INEXACT)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "CPU '%s' is finer than a millionth of a CPU", text);
        if (rc == VS_DECIMAL_RANGE || value > MAX_CPUS * MICRO_PER_CPU)
                return vs_error_kind(err, VS_E_USAGE, ERANGE,
                                     "CPU '%s' is out of range (at most %llu CPUs)", text,
                                     MAX_CPUS);
        if (value == 0)
                return vs_error_kind(err, VS_E_USAGE, ERANGE, "CPU '%s' must be above zero", text);
        *micro_cpus = value;
        return 0;
}

static const struct {
        const char *name;
        int signo;
} signal_names[] = {
        { "HUP", SIGHUP },   { "INT", SIGINT },   { "QUIT", SIGQUIT },   { "KILL", SIGKILL },
        { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "TERM", SIGTERM },   { "PWR", SIGPWR },
        { "CONT", SIGCONT }, { "STOP", SIGSTOP }, { "WINCH", SIGWINCH },
};

int vs_parse_signal(const char *text, int *signo, vs_error_t *err)
{
        const char *name = text;
        uint64_t number;

        if (!text || !*text)
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "signal is empty");
        if (isdigit((unsigned char)*text)) {
                if (vs_parse_uint(text, 1, (uint64_t)SIGRTMAX, "signal", &number, err) < 0)
                        return -1;
                *signo = (int)number;
                return 0;
        }
        if (strncasecmp(name, "SIG", 3) == 0)
                name += 3;
        for (size_t i = 0; i < sizeof(signal_names) / sizeof(signal_names[0]); i++) {
                if (strcasecmp(name, signal_names[i].name) == 0) {
                        *signo = signal_names[i].signo;
                        return 0;
                }
        }
        if (strncasecmp(name, "RTMIN+", 6) == 0 &&
            vs_parse_uint(name + 6, 0, (uint64_t)(SIGRTMAX - SIGRTMIN), "signal", &number, err) ==
                    0) {
                *signo = SIGRTMIN + (int)number;
                return 0;
        }
        return vs_error_kind(err, VS_E_USAGE, EINVAL, "unknown signal '%s'", text);
}

const char *vs_signal_name(int signo)
{
        static char buf[32];

        for (size_t i = 0; i < sizeof(signal_names) / sizeof(signal_names[0]); i++)
                if (signal_names[i].signo == signo) {
                        snprintf(buf, sizeof(buf), "SIG%s", signal_names[i].name);
                        return buf;
                }
        if (signo >= SIGRTMIN && signo <= SIGRTMAX)
                snprintf(buf, sizeof(buf), "SIGRTMIN+%d", signo - SIGRTMIN);
        else
                snprintf(buf, sizeof(buf), "%d", signo);
        return buf;
}

/* +N[dhms]: from now on */
static int parse_relative(const char *text, int64_t now, const char *what, int64_t *out,
                          vs_error_t *err)
{
        static const struct unit units[] = {
                { "d", 86400 }, { "h", 3600 }, { "m", 60 }, { "s", 1 }
        };
        const struct unit *unit = NULL;
        uint64_t n;
        const char *rest = vs_scan_uint(text + 1, 100ULL * 366 * 86400, &n);

        for (size_t i = 0; rest && i < sizeof(units) / sizeof(units[0]); i++)
                if (strcmp(rest, units[i].suffix) == 0)
                        unit = &units[i];
        if (!unit || n > (uint64_t)(100LL * 366 * 86400) / unit->factor)
                return vs_error_kind(
                        err, VS_E_USAGE, EINVAL,
                        "%s '%s' is not +N with a unit d, h, m or s (at most 100 years)", what,
                        text);
        *out = now + (int64_t)(n * unit->factor);
        return 0;
}

int vs_parse_when(const char *text, int64_t now, const char *what, int64_t *out, vs_error_t *err)
{
        struct tm tm = { 0 };
        const char *end;

        if (text && text[0] == '+')
                return parse_relative(text, now, what, out, err);
        end = text ? strptime(text, "%Y-%m-%d", &tm) : NULL;
        if (end && *end == 'T') {
                const char *more = strptime(end + 1, "%H:%M:%S", &tm);

                end = more ? more : strptime(end + 1, "%H:%M", &tm);
        }
        if (!end || *end || strlen(text) < 10 || tm.tm_year < 70 || tm.tm_year > 1100)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "%s '%s' is not a date YYYY-MM-DD[THH:MM[:SS]] (UTC) or "
                                     "+N[d|h|m|s]",
                                     what, text ? text : "");
        *out = (int64_t)timegm(&tm);
        return 0;
}
