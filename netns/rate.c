/* Bandwidth caps as admins type them, and the token bucket that realises
 * one. Pure: no kernel side effects (netns/tc.c does the netlink side). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "vs/netns.h"
#include "vs/parse.h"

#define ETH_HEADER 14

/* The decimal multiple a rate's unit names, as tc's kbit, mbit and gbit:
 * "", "K", "Mbit", ...; 0 for anything else. */
static uint64_t rate_unit(const char *unit)
{
        static const struct {
                char letter;
                uint64_t factor;
        } multiples[] = { { 'k', 1000ULL }, { 'm', 1000000ULL }, { 'g', 1000000000ULL } };
        uint64_t factor = 1;

        for (size_t i = 0; i < sizeof(multiples) / sizeof(multiples[0]); i++)
                if (*unit && (*unit | 0x20) == multiples[i].letter) {
                        factor = multiples[i].factor;
                        unit++;
                        break;
                }
        if (strcasecmp(unit, "bit") == 0)
                unit += 3;
        return *unit ? 0 : factor;
}

static const char *number_end(const char *text)
{
        while ((*text >= '0' && *text <= '9') || *text == '.')
                text++;
        return text;
}

int vs_rate_parse(const char *text, const char *what, uint64_t *bits, vs_error_t *err)
{
        const char *unit, *rest;
        uint64_t factor, value = 0;
        enum vs_decimal rc;

        if (!text || !*text)
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "%s: the rate is empty", what);
        if (strcmp(text, "0") == 0 || strcasecmp(text, "none") == 0 ||
            strcasecmp(text, "unlimited") == 0) {
                *bits = 0;
                return 0;
        }
        if (*text < '0' || *text > '9')
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "%s '%s': not a rate (bit/s with K, M or G: 10M; 0 or none: "
                                     "no cap)",
                                     what, text);
        unit = number_end(text);
        factor = rate_unit(unit);
        if (!factor)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "%s '%s': unknown unit '%s' (bit/s with K, M or G: 10M)", what,
                                     text, unit);
        rc = vs_parse_decimal(text, factor, &value, &rest);
        if (rc == VS_DECIMAL_SYNTAX || (rc == VS_DECIMAL_OK && rest != unit))
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "%s '%s': a digit must follow the '.'", what, text);
        if (rc == VS_DECIMAL_RANGE || value > VS_RATE_MAX)
                return vs_error_kind(err, VS_E_USAGE, ERANGE,
                                     "%s '%s': above the largest cap (16G)", what, text);
        if (rc == VS_DECIMAL_INEXACT)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "%s '%s': too many decimals (a rate is a whole number of "
                                     "bit/s)",
                                     what, text);
        if (value == 0) {
                *bits = 0; /* "0M" is "0" */
                return 0;
        }
        if (value < VS_RATE_MIN)
                return vs_error_kind(err, VS_E_USAGE, ERANGE,
                                     "%s '%s': below the smallest cap (8K; 0 or none: no cap)",
                                     what, text);
        *bits = value;
        return 0;
}

void vs_rate_format(uint64_t bits, char *buf, size_t size)
{
        if (bits == 0)
                snprintf(buf, size, "none");
        else if (bits % 1000000000ULL == 0)
                snprintf(buf, size, "%" PRIu64 "G", (uint64_t)(bits / 1000000000U));
        else if (bits % 1000000ULL == 0)
                snprintf(buf, size, "%" PRIu64 "M", (uint64_t)(bits / 1000000U));
        else if (bits % 1000ULL == 0)
                snprintf(buf, size, "%" PRIu64 "K", (uint64_t)(bits / 1000U));
        else
                snprintf(buf, size, "%" PRIu64, bits);
}

/* The bucket holds 10 ms of the rate, and at least two full frames: a
 * smaller one makes a single TCP stream fall short of the rate (it cannot
 * send a burst the moment the bucket refills), a much larger one lets it
 * run above the rate for a while. The queue behind it holds 50 ms more (tc's
 * "latency 50ms"), and at least 8 frames, so that TCP sees drops as the
 * signal to slow down rather than a stall. */
void vs_rate_tbf(uint64_t bits, unsigned mtu, struct vs_tbf *out)
{
        uint64_t bytes = bits / 8, frame = (uint64_t)mtu + ETH_HEADER;
        uint64_t burst = bytes / 100, queue = bytes / 20;

        if (burst < 2 * frame)
                burst = 2 * frame;
        if (queue < 8 * frame)
                queue = 8 * frame;
        out->rate = (uint32_t)bytes; /* VS_RATE_MAX / 8 < 2^31 */
        out->burst = (uint32_t)burst;
        out->limit = (uint32_t)(burst + queue);
}
