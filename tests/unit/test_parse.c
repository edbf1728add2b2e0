/* Unit tests for include/vs/parse.h: names, hostnames, sizes, CPU values,
 * durations, bounded integers and signals (DESIGN.md section 3). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vs/error.h"
#include "vs/parse.h"

/* Asserts that a parser refused its input the documented way: < 0, a usage
 * error with an errno, and a message that contains `needle`. */
#define assert_refused(rc, err, needle)                                                          \
        do {                                                                                     \
                if (!((rc) < 0))                                                                 \
                        fail_msg("%s accepted (expected a refusal naming '%s')", #rc, (needle)); \
                assert_int_equal((err).kind, VS_E_USAGE);                                        \
                assert_true((err).errnum != 0);                                                  \
                assert_true((err).msg[0] != '\0');                                               \
                if (!strstr((err).msg, (needle)))                                                \
                        fail_msg("message '%s' does not mention '%s'", (err).msg, (needle));     \
        } while (0)

/* The parsers of sizes, CPU values and durations share one signature. */
typedef int (*u64_parser)(const char *text, uint64_t *out, vs_error_t *err);

/* Asserts that `parse` takes `text` as `expected`. */
static void expect_parsed(u64_parser parse, const char *what, const char *text, uint64_t expected)
{
        uint64_t value = 0;
        vs_error_t err;

        vs_error_clear(&err);
        if (parse(text, &value, &err) != 0)
                fail_msg("%s '%s' refused: %s", what, text, err.msg);
        if (value != expected)
                fail_msg("%s '%s': got %llu, expected %llu", what, text, (unsigned long long)value,
                         (unsigned long long)expected);
}

/* Asserts that `parse` refuses each of texts[0..n), naming it, and with
 * `also` (unless NULL) in the message too. */
static void expect_each_refused(u64_parser parse, const char *const *texts, size_t n,
                                const char *also)
{
        uint64_t value;
        vs_error_t err;

        for (size_t i = 0; i < n; i++) {
                vs_error_clear(&err);
                assert_refused(parse(texts[i], &value, &err), err, texts[i]);
                if (also)
                        assert_non_null(strstr(err.msg, also));
        }
}
#define EXPECT_EACH_REFUSED(parse, texts, also) \
        expect_each_refused(parse, texts, sizeof(texts) / sizeof(texts[0]), also)

/* ---- names ---- */

static void test_name_valid(void **state)
{
        static const char *const names[] = {
                "a", "0", "web1", "9lives", "a-b_c", "web-1_x-", "db_"
        };
        char longest[VS_NAME_MAX + 1];
        vs_error_t err;

        (void)state;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                vs_error_clear(&err);
                if (vs_parse_name(names[i], "VPS name", &err) != 0)
                        fail_msg("'%s' refused: %s", names[i], err.msg);
        }
        memset(longest, 'a', VS_NAME_MAX);
        longest[VS_NAME_MAX] = '\0';
        assert_int_equal(strlen(longest), 63);
        assert_int_equal(vs_parse_name(longest, "VPS name", &err), 0);
}

static void test_name_empty(void **state)
{
        vs_error_t err;

        (void)state;
        vs_error_clear(&err);
        assert_refused(vs_parse_name("", "VPS name", &err), err, "VPS name");
        assert_non_null(strstr(err.msg, "empty"));
        vs_error_clear(&err);
        assert_refused(vs_parse_name(NULL, "slice name", &err), err, "slice name");
}

static void test_name_too_long(void **state)
{
        char name[65];
        vs_error_t err;

        (void)state;
        memset(name, 'a', 64);
        name[64] = '\0';
        vs_error_clear(&err);
        assert_refused(vs_parse_name(name, "VPS name", &err), err, "too long");
        assert_non_null(strstr(err.msg, "64"));
}

static void test_name_uppercase(void **state)
{
        vs_error_t err;

        (void)state;
        vs_error_clear(&err);
        assert_refused(vs_parse_name("Web1", "VPS name", &err), err, "'W'");
        vs_error_clear(&err);
        assert_refused(vs_parse_name("webA", "VPS name", &err), err, "'A'");
        assert_non_null(strstr(err.msg, "webA"));
}

static void test_name_leading_dash_or_underscore(void **state)
{
        vs_error_t err;

        (void)state;
        vs_error_clear(&err);
        assert_refused(vs_parse_name("-web", "VPS name", &err), err, "'-'");
        vs_error_clear(&err);
        assert_refused(vs_parse_name("_web", "template name", &err), err, "'_'");
        assert_non_null(strstr(err.msg, "template name"));
}

static void test_name_bad_characters(void **state)
{
        static const struct {
                const char *name;
                const char *needle;
        } cases[] = {
                { "web.1", "'.'" }, { "web 1", "' '" },       { "web/1", "'/'" },  { "a:b", "':'" },
                { "web$", "'$'" },  { "w\xc3\xa9z", "0xc3" }, { "web\n", "0x0a" },
        };
        vs_error_t err;

        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                vs_error_clear(&err);
                assert_refused(vs_parse_name(cases[i].name, "VPS name", &err), err,
                               cases[i].needle);
        }
        /* the position of the bad character is named too */
        vs_error_clear(&err);
        assert_refused(vs_parse_name("web.1", "VPS name", &err), err, "position 4");
}

/* ---- hostnames ---- */

static void test_hostname_valid(void **state)
{
        static const char *const names[] = { "a",       "web1", "Web-1", "web1.example.com",
                                             "1.2.3.x", "a-b-c" };
        char longest[65];
        vs_error_t err;

        (void)state;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                vs_error_clear(&err);
                if (vs_parse_hostname(names[i], &err) != 0)
                        fail_msg("'%s' refused: %s", names[i], err.msg);
        }
        /* 64 characters in all, in two labels */
        memset(longest, 'a', 31);
        longest[31] = '.';
        memset(longest + 32, 'b', 32);
        longest[64] = '\0';
        assert_int_equal(vs_parse_hostname(longest, &err), 0);
}

static void test_hostname_refused(void **state)
{
        static const struct {
                const char *name;
                const char *needle;
        } cases[] = {
                { "", "empty" },        { "-web", "-web" }, { "a.-b", "a.-b" },
                { "web..x", "web..x" }, { ".web", ".web" }, { "web.", "web." },
                { "web_1", "'_'" },     { "web 1", "' '" }, { "web/1", "'/'" },
        };
        char toolong[66];
        vs_error_t err;

        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                vs_error_clear(&err);
                assert_refused(vs_parse_hostname(cases[i].name, &err), err, cases[i].needle);
        }
        vs_error_clear(&err);
        assert_refused(vs_parse_hostname(NULL, &err), err, "hostname");
        memset(toolong, 'a', 65);
        toolong[32] = '.';
        toolong[65] = '\0';
        vs_error_clear(&err);
        assert_refused(vs_parse_hostname(toolong, &err), err, "too long");
}

/* RFC 1123 (and RFC 952) labels are at most 63 characters and do not end
 * with a hyphen. */
/* every valid VPS name gives a valid hostname */
static void test_default_hostname(void **state)
{
        char out[VS_NAME_MAX + 1];
        const char *names[] = { "web_1", "a_", "a__-", "x", "db-2", "9_9_9" };
        const char *want[] = { "web-1", "a", "a", "x", "db-2", "9-9-9" };
        char longest[VS_NAME_MAX + 1];

        (void)state;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                assert_string_equal(vs_default_hostname(names[i], out), want[i]);
                assert_int_equal(vs_parse_hostname(out, NULL), 0);
        }
        memset(longest, '_', VS_NAME_MAX);
        longest[0] = 'a';
        longest[VS_NAME_MAX] = '\0';
        assert_int_equal(vs_parse_name(longest, "VPS name", NULL), 0);
        assert_string_equal(vs_default_hostname(longest, out), "a");
}

static void test_hostname_rfc1123_labels(void **state)
{
        char label64[65];
        vs_error_t err;

        (void)state;
        vs_error_clear(&err);
        assert_refused(vs_parse_hostname("web-", &err), err, "web-");
        vs_error_clear(&err);
        assert_refused(vs_parse_hostname("web-.example", &err), err, "web-.example");
        memset(label64, 'a', 64);
        label64[64] = '\0';
        vs_error_clear(&err);
        assert_refused(vs_parse_hostname(label64, &err), err, label64);
}

/* ---- sizes ---- */

static void expect_size(const char *text, uint64_t expected)
{
        expect_parsed(vs_parse_size, "size", text, expected);
}

static void test_size_suffixes(void **state)
{
        (void)state;
        expect_size("1K", 1024ULL);
        expect_size("4M", 4ULL << 20);
        expect_size("2G", 2ULL << 30);
        expect_size("3T", 3ULL << 40);
        expect_size("1KiB", 1024ULL);
        expect_size("512MiB", 512ULL << 20);
        expect_size("8GiB", 8ULL << 30);
        expect_size("1TiB", 1ULL << 40);
        expect_size("0K", 0);
}

static void test_size_fractions(void **state)
{
        (void)state;
        expect_size("1.5G", 1610612736ULL);
        expect_size("0.5K", 512);
        expect_size("2.25MiB", (2ULL << 20) + (1ULL << 18));
}

static void test_size_bytes(void **state)
{
        (void)state;
        expect_size("0", 0);
        expect_size("123", 123);
        expect_size("4096", 4096);
        expect_size("512B", 512);
        expect_size("1.0", 1);
        expect_size("16777215T", UINT64_MAX - (1ULL << 40) + 1);
}

static void test_size_unknown_unit(void **state)
{
        static const struct {
                const char *text;
                const char *needle;
        } cases[] = {
                { "10X", "'X'" },   { "10KB", "'KB'" }, { "10 G", "' G'" },
                { "10Gi", "'Gi'" }, { "10P", "'P'" },   { "10k", "'k'" },
        };
        uint64_t bytes;
        vs_error_t err;

        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                vs_error_clear(&err);
                assert_refused(vs_parse_size(cases[i].text, &bytes, &err), err, cases[i].needle);
                assert_non_null(strstr(err.msg, cases[i].text));
        }
}

static void test_size_overflow(void **state)
{
        static const char *const texts[] = { "99999999999T", "16777216T", "17179869184G",
                                             "99999999999999999999", "18446744073709551616" };
        uint64_t bytes;
        vs_error_t err;

        (void)state;
        EXPECT_EACH_REFUSED(vs_parse_size, texts, NULL);
        vs_error_clear(&err);
        assert_refused(vs_parse_size("99999999999T", &bytes, &err), err, "too large");
        assert_int_equal(err.errnum, ERANGE);
}

static void test_size_fraction_of_byte(void **state)
{
        static const char *const texts[] = { "1.5", "1.5B", "0.1", "10.999B" };

        (void)state;
        EXPECT_EACH_REFUSED(vs_parse_size, texts, "fraction");
}

/* Digits past the third decimal must not be dropped silently: "1.0001"
 * bytes is still a fraction of a byte. */
static void test_size_fraction_of_byte_long(void **state)
{
        static const char *const texts[] = { "1.0001", "1.0005B", "0.0001" };

        (void)state;
        EXPECT_EACH_REFUSED(vs_parse_size, texts, NULL);
}

/* 2^-40 T is exactly one byte, but takes 40 decimals: past the 18 that
 * the parser reads, which the message must say rather than call it a
 * fraction of a byte (or of a millisecond, or of a CPU). */
static void test_more_than_18_decimals(void **state)
{
        static const char one_byte[] = "0.0000000000000000000009094947017729282379150390625T";
        uint64_t value;
        vs_error_t err;

        (void)state;
        vs_error_clear(&err);
        assert_refused(vs_parse_size(one_byte, &value, &err), err, "more than 18 decimals");
        vs_error_clear(&err);
        assert_refused(vs_parse_duration("1.0000000000000000001s", &value, &err), err,
                       "more than 18 decimals");
        vs_error_clear(&err);
        assert_refused(vs_parse_cpu("0.5000000000000000001", &value, &err), err,
                       "more than 18 decimals");
        /* trailing zeros past the 18th are exact and taken */
        assert_int_equal(vs_parse_size("1.50000000000000000000000K", &value, NULL), 0);
        assert_int_equal(value, 1536);
}

static void test_size_malformed(void **state)
{
        static const char *const texts[] = { "B",   "K",   "-1G",   ".5G", "1.G",
                                             "abc", " 1G", "1..5G", "0x10" };
        uint64_t bytes;
        vs_error_t err;

        (void)state;
        vs_error_clear(&err);
        assert_refused(vs_parse_size("", &bytes, &err), err, "size ''");
        vs_error_clear(&err);
        assert_refused(vs_parse_size(NULL, &bytes, &err), err, "size");
        EXPECT_EACH_REFUSED(vs_parse_size, texts, NULL);
}

/* ---- CPU ---- */

static void expect_cpu(const char *text, uint64_t expected)
{
        expect_parsed(vs_parse_cpu, "CPU", text, expected);
}

static void test_cpu_forms(void **state)
{
        (void)state;
        expect_cpu("50%", 500000);
        expect_cpu("100%", 1000000);
        expect_cpu("250%", 2500000);
        expect_cpu("1.5", 1500000);
        expect_cpu("2", 2000000);
        expect_cpu("0.25", 250000);
        expect_cpu("25ms/100ms", 250000);
        expect_cpu("50ms/100ms", 500000);
        expect_cpu("200ms/100ms", 2000000);
        expect_cpu("4096", 4096000000ULL);
}

static void test_cpu_zero_refused(void **state)
{
        static const char *const texts[] = { "0", "0%", "0.0", "0ms/100ms", "25ms/0ms" };

        (void)state;
        EXPECT_EACH_REFUSED(vs_parse_cpu, texts, NULL);
}

static void test_cpu_too_many_refused(void **state)
{
        static const char *const texts[] = { "4097", "409700%", "4096.000001", "100000",
                                             "99999999999999999999" };

        (void)state;
        EXPECT_EACH_REFUSED(vs_parse_cpu, texts, NULL);
}

/* The quota/period form has the same 4096 CPU limit as the other forms, and a
 * huge quota is refused rather than wrapped around in 64 bits. */
static void test_cpu_period_form_limit(void **state)
{
        static const char *const texts[] = { "4097ms/1ms", "5000s/1s", "99999999999h/1s",
                                             "18446744073710ms/1ms" };

        (void)state;
        EXPECT_EACH_REFUSED(vs_parse_cpu, texts, NULL);
}

static void test_cpu_garbage_refused(void **state)
{
        static const char *const texts[] = { "abc",
                                             "%",
                                             "50%%",
                                             "1.5x",
                                             "-1",
                                             "1.5.5",
                                             "25ms/",
                                             "/100ms",
                                             "25ms/100ms/1",
                                             "25ms/2s",
                                             "25parsecs/100ms",
                                             " 1",
                                             "1 " };
        uint64_t micro;
        vs_error_t err;

        (void)state;
        vs_error_clear(&err);
        assert_refused(vs_parse_cpu("", &micro, &err), err, "CPU");
        vs_error_clear(&err);
        assert_refused(vs_parse_cpu(NULL, &micro, &err), err, "CPU");
        EXPECT_EACH_REFUSED(vs_parse_cpu, texts, NULL);
}

/* ---- durations ---- */

static void expect_duration(const char *text, uint64_t expected)
{
        expect_parsed(vs_parse_duration, "duration", text, expected);
}

static void test_duration_units(void **state)
{
        (void)state;
        expect_duration("0", 0);
        expect_duration("5", 5000);
        expect_duration("1.5", 1500);
        expect_duration("250ms", 250);
        expect_duration("30s", 30000);
        expect_duration("1.5s", 1500);
        expect_duration("2m", 120000);
        expect_duration("1h", 3600000);
        expect_duration("0.5h", 1800000);
}

static void test_duration_bad(void **state)
{
        static const struct {
                const char *text;
                const char *needle;
        } cases[] = {
                { "5d", "'d'" },  { "5sec", "'sec'" }, { "5 s", "' s'" }, { "5MS", "'MS'" },
                { "ms", "'ms'" }, { "-5s", "'-5s'" },  { "", "''" },      { "1..5s", "1..5s" },
        };
        uint64_t ms;
        vs_error_t err;

        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                vs_error_clear(&err);
                assert_refused(vs_parse_duration(cases[i].text, &ms, &err), err, cases[i].needle);
                assert_non_null(strstr(err.msg, "duration"));
        }
}

/* ---- bounded integers ---- */

/* The scanner every integer parser uses: digits only, the bound checked
 * before any overflow, the end returned. */
static void test_scan_uint(void **state)
{
        uint64_t out = 0;
        const char *end;

        (void)state;
        end = vs_scan_uint("65535:80", 65535, &out);
        assert_non_null(end);
        assert_string_equal(end, ":80");
        assert_int_equal(out, 65535);
        assert_null(vs_scan_uint("65536", 65535, &out));
        assert_null(vs_scan_uint("5", 0, &out)); /* a digit above the bound itself */
        assert_null(vs_scan_uint("", 10, &out));
        assert_null(vs_scan_uint("-1", 10, &out));
        assert_null(vs_scan_uint("+1", 10, &out));
        assert_null(vs_scan_uint(" 1", 10, &out));
        assert_null(vs_scan_uint(NULL, 10, &out));
        assert_non_null(vs_scan_uint("18446744073709551615", UINT64_MAX, &out));
        assert_true(out == UINT64_MAX);
        assert_null(vs_scan_uint("18446744073709551616", UINT64_MAX, &out));
        assert_null(vs_scan_uint("99999999999999999999999", UINT64_MAX, &out));
        assert_int_equal(vs_digits("32", 32, &out), 0);
        assert_int_equal(out, 32);
        assert_int_equal(vs_digits("33", 32, &out), -1);
        assert_int_equal(vs_digits("3 ", 32, &out), -1);
        assert_int_equal(vs_digits("0x1", 32, &out), -1);
}

static void test_uint_in_range(void **state)
{
        uint64_t out = 99;
        vs_error_t err;

        (void)state;
        vs_error_clear(&err);
        assert_int_equal(vs_parse_uint("0", 0, 10, "count", &out, &err), 0);
        assert_int_equal(out, 0);
        assert_int_equal(vs_parse_uint("10", 0, 10, "count", &out, &err), 0);
        assert_int_equal(out, 10);
        assert_int_equal(vs_parse_uint("6", 6, 10, "count", &out, &err), 0);
        assert_int_equal(out, 6);
        assert_int_equal(vs_parse_uint("18446744073709551615", 0, UINT64_MAX, "count", &out, &err),
                         0);
        assert_true(out == UINT64_MAX);
}

static void test_uint_out_of_range(void **state)
{
        uint64_t out = 42;
        vs_error_t err;

        (void)state;
        vs_error_clear(&err);
        assert_refused(vs_parse_uint("11", 0, 10, "weight", &out, &err), err, "'11'");
        assert_non_null(strstr(err.msg, "weight"));
        assert_non_null(strstr(err.msg, "0..10"));
        assert_int_equal(err.errnum, ERANGE);
        vs_error_clear(&err);
        assert_refused(vs_parse_uint("5", 6, 10, "weight", &out, &err), err, "6..10");
        vs_error_clear(&err);
        assert_refused(vs_parse_uint("18446744073709551616", 0, UINT64_MAX, "weight", &out, &err),
                       err, "18446744073709551616");
        /* a refused value is not stored */
        assert_int_equal(out, 42);
}

static void test_uint_not_a_number(void **state)
{
        static const char *const texts[] = { "-1", "+1", " 1", "1 ", "1x", "0x10", "1.0", "" };
        uint64_t out;
        vs_error_t err;

        (void)state;
        for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
                char needle[16];

                snprintf(needle, sizeof(needle), "'%s'", texts[i]);
                vs_error_clear(&err);
                assert_refused(vs_parse_uint(texts[i], 0, 100, "port", &out, &err), err, needle);
                assert_non_null(strstr(err.msg, "port"));
        }
        vs_error_clear(&err);
        assert_refused(vs_parse_uint(NULL, 0, 100, "port", &out, &err), err, "port");
}

/* ---- signals ---- */

static void expect_signal(const char *text, int expected)
{
        int signo = -1;
        vs_error_t err;

        vs_error_clear(&err);
        if (vs_parse_signal(text, &signo, &err) != 0)
                fail_msg("signal '%s' refused: %s", text, err.msg);
        if (signo != expected)
                fail_msg("signal '%s': got %d, expected %d", text, signo, expected);
}

static void test_signal_parse(void **state)
{
        (void)state;
        expect_signal("SIGPWR", SIGPWR);
        expect_signal("PWR", SIGPWR);
        expect_signal("TERM", SIGTERM);
        expect_signal("SIGTERM", SIGTERM);
        expect_signal("sigterm", SIGTERM);
        expect_signal("KILL", SIGKILL);
        expect_signal("HUP", SIGHUP);
        expect_signal("SIGWINCH", SIGWINCH);
        expect_signal("15", 15);
        expect_signal("9", 9);
        expect_signal("RTMIN+3", SIGRTMIN + 3);
        expect_signal("SIGRTMIN+0", SIGRTMIN);
}

static void test_signal_unknown(void **state)
{
        static const char *const texts[] = { "SIGFOO", "FOO",     "SIG",      "RTMIN",
                                             "RTMIN+", "RTMIN+x", "RTMIN+99", "15x" };
        char too_big[16];
        int signo;
        vs_error_t err;

        (void)state;
        for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
                vs_error_clear(&err);
                assert_refused(vs_parse_signal(texts[i], &signo, &err), err, texts[i]);
        }
        vs_error_clear(&err);
        assert_refused(vs_parse_signal("", &signo, &err), err, "signal");
        vs_error_clear(&err);
        assert_refused(vs_parse_signal("0", &signo, &err), err, "'0'");
        snprintf(too_big, sizeof(too_big), "%d", SIGRTMAX + 1);
        vs_error_clear(&err);
        assert_refused(vs_parse_signal(too_big, &signo, &err), err, too_big);
}

static void test_signal_name(void **state)
{
        char rt[32];

        (void)state;
        assert_string_equal(vs_signal_name(SIGPWR), "SIGPWR");
        assert_string_equal(vs_signal_name(SIGTERM), "SIGTERM");
        assert_string_equal(vs_signal_name(SIGKILL), "SIGKILL");
        snprintf(rt, sizeof(rt), "SIGRTMIN+%d", 3);
        assert_string_equal(vs_signal_name(SIGRTMIN + 3), rt);
}

static void test_signal_name_round_trip(void **state)
{
        (void)state;
        for (int signo = 1; signo <= SIGRTMAX; signo++) {
                char name[32];
                int back = -1;
                vs_error_t err;

                /* vs_signal_name returns a static buffer: copy it first */
                snprintf(name, sizeof(name), "%s", vs_signal_name(signo));
                vs_error_clear(&err);
                if (vs_parse_signal(name, &back, &err) != 0)
                        fail_msg("signal %d: name '%s' refused: %s", signo, name, err.msg);
                if (back != signo)
                        fail_msg("signal %d: name '%s' parses back as %d", signo, name, back);
        }
}

/* --expires: a UTC date, or a duration from now */
static void test_when(void **state)
{
        vs_error_t err = { 0 };
        int64_t t;

        (void)state;
        assert_int_equal(vs_parse_when("2026-12-03", 0, "--expires", &t, &err), 0);
        assert_int_equal(t, 1796256000);
        assert_int_equal(vs_parse_when("2026-12-03T10:30", 0, "--expires", &t, &err), 0);
        assert_int_equal(t, 1796256000 + 10 * 3600 + 30 * 60);
        assert_int_equal(vs_parse_when("2026-12-03T10:30:15", 0, "--expires", &t, &err), 0);
        assert_int_equal(t, 1796256000 + 10 * 3600 + 30 * 60 + 15);
        assert_int_equal(vs_parse_when("+2d", 1000, "--expires", &t, &err), 0);
        assert_int_equal(t, 1000 + 2 * 86400);
        assert_int_equal(vs_parse_when("+3h", 1000, "--expires", &t, &err), 0);
        assert_int_equal(t, 1000 + 3 * 3600);
        assert_int_equal(vs_parse_when("+90m", 1000, "--expires", &t, &err), 0);
        assert_int_equal(t, 1000 + 90 * 60);
        const char *bad[] = {
                "tomorrow",         "+2",          "+2w",        "+d", "2026-13-01",
                "2026-12-03T25:00", "2026-12-03x", "+99999999d", "",   "2026-12-03T10"
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                memset(&err, 0, sizeof(err));
                assert_int_equal(vs_parse_when(bad[i], 1000, "--expires", &t, &err), -1);
                assert_int_equal(err.kind, VS_E_USAGE);
                assert_non_null(strstr(err.msg, "--expires"));
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_default_hostname),
                cmocka_unit_test(test_name_valid),
                cmocka_unit_test(test_name_empty),
                cmocka_unit_test(test_name_too_long),
                cmocka_unit_test(test_name_uppercase),
                cmocka_unit_test(test_name_leading_dash_or_underscore),
                cmocka_unit_test(test_name_bad_characters),
                cmocka_unit_test(test_hostname_valid),
                cmocka_unit_test(test_hostname_refused),
                cmocka_unit_test(test_hostname_rfc1123_labels),
                cmocka_unit_test(test_size_suffixes),
                cmocka_unit_test(test_size_fractions),
                cmocka_unit_test(test_size_bytes),
                cmocka_unit_test(test_size_unknown_unit),
                cmocka_unit_test(test_size_overflow),
                cmocka_unit_test(test_size_fraction_of_byte),
                cmocka_unit_test(test_size_fraction_of_byte_long),
                cmocka_unit_test(test_more_than_18_decimals),
                cmocka_unit_test(test_size_malformed),
                cmocka_unit_test(test_cpu_forms),
                cmocka_unit_test(test_cpu_zero_refused),
                cmocka_unit_test(test_cpu_too_many_refused),
                cmocka_unit_test(test_cpu_period_form_limit),
                cmocka_unit_test(test_cpu_garbage_refused),
                cmocka_unit_test(test_duration_units),
                cmocka_unit_test(test_duration_bad),
                cmocka_unit_test(test_scan_uint),
                cmocka_unit_test(test_uint_in_range),
                cmocka_unit_test(test_uint_out_of_range),
                cmocka_unit_test(test_uint_not_a_number),
                cmocka_unit_test(test_signal_parse),
                cmocka_unit_test(test_signal_unknown),
                cmocka_unit_test(test_signal_name),
                cmocka_unit_test(test_signal_name_round_trip),
                cmocka_unit_test(test_when),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
