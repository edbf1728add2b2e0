/* The value parsers of common/parse.c and the limits built on them
 * (scheduler-limits/limits.c): sizes, CPU, durations, integers, signals,
 * names, hostnames, CPU lists and every limit's value. The first byte
 * picks the parser, the rest is the text. An accepted value is a word with
 * no blank or control byte, and what it parses to reads back the same. */
#include <inttypes.h>
#include <signal.h>

#include "fuzz.h"
#include "vs/limits.h"
#include "vs/parse.h"

enum { P_SIZE, P_CPU, P_DURATION, P_UINT, P_SIGNAL, P_NAME, P_HOSTNAME, P_LIMITS, P_COUNT };

static void accepted(const char *text)
{
        FUZZ_ASSERT(fuzz_is_word(text), "accepted '%s', which is not one word", text);
}

static void parse_size(const char *text)
{
        uint64_t bytes, again;
        char buf[32];
        vs_error_t err = { 0 };

        if (vs_parse_size(text, &bytes, &err) < 0)
                return fuzz_check_error(&err);
        accepted(text);
        snprintf(buf, sizeof(buf), "%" PRIu64, bytes);
        FUZZ_ASSERT(vs_parse_size(buf, &again, &err) == 0 && again == bytes, "'%s' -> %s", text,
                    buf);
}

static void parse_cpu(const char *text)
{
        uint64_t micro, again;
        char buf[48];
        vs_error_t err = { 0 };

        if (vs_parse_cpu(text, &micro, &err) < 0)
                return fuzz_check_error(&err);
        accepted(text);
        FUZZ_ASSERT(micro > 0 && micro <= 4096ULL * 1000000, "'%s' is %" PRIu64 " millionths", text,
                    micro);
        snprintf(buf, sizeof(buf), "%" PRIu64 ".%06" PRIu64, micro / 1000000, micro % 1000000);
        FUZZ_ASSERT(vs_parse_cpu(buf, &again, &err) == 0 && again == micro, "'%s' -> %s", text,
                    buf);
}

static void parse_duration(const char *text)
{
        uint64_t ms, again;
        char buf[32];
        vs_error_t err = { 0 };

        if (vs_parse_duration(text, &ms, &err) < 0)
                return fuzz_check_error(&err);
        accepted(text);
        snprintf(buf, sizeof(buf), "%" PRIu64 "ms", ms);
        FUZZ_ASSERT(vs_parse_duration(buf, &again, &err) == 0 && again == ms, "'%s' -> %s", text,
                    buf);
}

static void parse_uint(const char *text)
{
        uint64_t value;
        vs_error_t err = { 0 };

        if (vs_parse_uint(text, 1, 65535, "value", &value, &err) < 0)
                return fuzz_check_error(&err);
        accepted(text);
        FUZZ_ASSERT(value >= 1 && value <= 65535, "'%s' is %" PRIu64, text, value);
}

static void parse_signal(const char *text)
{
        int signo, again;
        vs_error_t err = { 0 };

        if (vs_parse_signal(text, &signo, &err) < 0)
                return fuzz_check_error(&err);
        accepted(text);
        FUZZ_ASSERT(signo >= 1 && signo <= SIGRTMAX, "'%s' is signal %d", text, signo);
        FUZZ_ASSERT(vs_parse_signal(vs_signal_name(signo), &again, &err) == 0 && again == signo,
                    "'%s' is named %s", text, vs_signal_name(signo));
}

static void parse_names(const char *text, unsigned which)
{
        vs_error_t err = { 0 };
        int rc = which == P_NAME ? vs_parse_name(text, "VPS name", &err)
                                 : vs_parse_hostname(text, &err);

        if (rc < 0)
                return fuzz_check_error(&err);
        accepted(text);
        FUZZ_ASSERT(strlen(text) <= 64, "'%s' is too long", text);
}

/* Limits: the second byte picks one, or sets two and cross-checks them. */
static void parse_limits(const uint8_t *data, size_t size)
{
        vs_limits_t l = { 0 };
        vs_limit_write_t writes[VS_LIMIT_WRITES_MAX];
        vs_error_t err = { 0 };
        unsigned a = fuzz_pick(&data, &size, VS_LIM_COUNT);
        unsigned b = fuzz_pick(&data, &size, VS_LIM_COUNT);
        const uint8_t *cut = memchr(data, '|', size);
        char *first = fuzz_cstr(data, cut ? (size_t)(cut - data) : size);
        char *second = fuzz_cstr(cut ? cut + 1 : data, cut ? size - (size_t)(cut - data) - 1 : 0);

        if (vs_limits_parse_one(&l, (vs_limit_t)a, first, &err) < 0)
                fuzz_check_error(&err);
        else
                accepted(first);
        if (cut && vs_limits_parse_one(&l, (vs_limit_t)b, second, &err) < 0)
                fuzz_check_error(&err);
        if (vs_limits_check(&l, &err) < 0) {
                fuzz_check_error(&err);
        } else if (VS_LIMIT_IS_SET(&l, VS_LIM_CPU_BURST)) {
                /* the kernel's rule: burst <= quota, in µs */
                __uint128_t burst_us = (__uint128_t)l.value[VS_LIM_CPU_BURST] * 1000;

                FUZZ_ASSERT(burst_us <= vs_limits_cpu_quota_us(&l) || burst_us == 0,
                            "burst '%s' passed above the quota of %" PRIu64 " us",
                            l.text[VS_LIM_CPU_BURST], vs_limits_cpu_quota_us(&l));
        }
        if (VS_LIMIT_IS_SET(&l, VS_LIM_CPUMASK)) {
                FUZZ_ASSERT(strspn(l.text[VS_LIM_CPUMASK], "0123456789,-") ==
                                    strlen(l.text[VS_LIM_CPUMASK]),
                            "CPU list '%s'", l.text[VS_LIM_CPUMASK]);
                FUZZ_ASSERT(vs_cpulist_max(l.text[VS_LIM_CPUMASK]) <= 65535, "CPU list '%s'",
                            l.text[VS_LIM_CPUMASK]);
        }
        for (int v2 = 0; v2 < 2; v2++) {
                size_t n = vs_limits_plan(&l, v2, "8:0", writes);

                FUZZ_ASSERT(n <= VS_LIMIT_WRITES_MAX, "%zu writes", n);
                for (size_t i = 0; i < n; i++)
                        FUZZ_ASSERT(!strchr(writes[i].value, '\n'), "%s gets a line break",
                                    writes[i].file);
        }
        free(first);
        free(second);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        unsigned which = fuzz_pick(&data, &size, P_COUNT);
        char *text;

        if (which == P_LIMITS) {
                parse_limits(data, size);
                return 0;
        }
        text = fuzz_cstr(data, size);
        switch (which) {
        case P_SIZE:
                parse_size(text);
                break;
        case P_CPU:
                parse_cpu(text);
                break;
        case P_DURATION:
                parse_duration(text);
                break;
        case P_UINT:
                parse_uint(text);
                break;
        case P_SIGNAL:
                parse_signal(text);
                break;
        default:
                parse_names(text, which);
                break;
        }
        free(text);
        return 0;
}
