/* The network value parsers of netns/: IPv4 and IPv6 addresses and pools,
 * rates, port forwards (one, a removal, a config's list), name servers and
 * search domains, and the interface names made from a VPS name. The first
 * byte picks the parser. What is accepted formats to text that parses
 * back to the same value. */
#include <arpa/inet.h>

#include "fuzz.h"
#include "vs/netns.h"
#include "vs/parse.h"

enum {
        N_IP4,
        N_IP6,
        N_POOL4,
        N_POOL6,
        N_RATE,
        N_FWD,
        N_FWD_DEL,
        N_FWD_LIST,
        N_NAMESERVER,
        N_SEARCH,
        N_IFNAME,
        N_COUNT
};

static void ip4(const char *text, int default_prefix)
{
        vs_ip4_t ip, again;
        char buf[32];
        vs_error_t err = { 0 };

        if (vs_ip4_parse(text, default_prefix, &ip, &err) < 0)
                return fuzz_check_error(&err);
        FUZZ_ASSERT(fuzz_is_word(text), "'%s'", text);
        FUZZ_ASSERT(ip.prefix <= 32, "'%s' has prefix %u", text, ip.prefix);
        vs_ip4_format(&ip, 1, buf, sizeof(buf));
        FUZZ_ASSERT(vs_ip4_parse(buf, -1, &again, &err) == 0 && again.addr == ip.addr &&
                            again.prefix == ip.prefix,
                    "'%s' -> '%s'", text, buf);
}

static void ip6(const char *text, int default_prefix)
{
        vs_ip6_t ip, again;
        char buf[64];
        vs_error_t err = { 0 };

        if (vs_ip6_parse(text, default_prefix, &ip, &err) < 0)
                return fuzz_check_error(&err);
        FUZZ_ASSERT(fuzz_is_word(text), "'%s'", text);
        FUZZ_ASSERT(ip.prefix <= 128, "'%s' has prefix %u", text, ip.prefix);
        vs_ip6_format(&ip, 1, buf, sizeof(buf));
        FUZZ_ASSERT(vs_ip6_parse(buf, -1, &again, &err) == 0 && vs_ip6_equal(again.addr, ip.addr) &&
                            again.prefix == ip.prefix,
                    "'%s' -> '%s'", text, buf);
}

static void pool4(const char *text)
{
        vs_pool4_t pool;
        uint32_t used[2], host;
        vs_error_t err = { 0 };

        if (vs_pool4_parse(text, &pool, &err) < 0)
                return fuzz_check_error(&err);
        FUZZ_ASSERT(vs_pool4_contains(&pool, pool.gateway), "'%s': gateway outside", text);
        FUZZ_ASSERT(!vs_pool4_is_host(&pool, pool.gateway), "'%s': gateway is a host", text);
        used[0] = pool.gateway + 1;
        used[1] = pool.gateway + 2;
        if (vs_pool4_next(&pool, used, 2, &host, &err) < 0)
                return fuzz_check_error(&err);
        FUZZ_ASSERT(vs_pool4_is_host(&pool, host) && host != used[0] && host != used[1],
                    "'%s': next host", text);
}

static void pool6(const char *text)
{
        vs_pool6_t pool;
        vs_ip6_t used[1], host;
        vs_error_t err = { 0 };

        if (vs_pool6_parse(text, &pool, &err) < 0)
                return fuzz_check_error(&err);
        FUZZ_ASSERT(vs_pool6_contains(&pool, pool.gateway), "'%s': gateway outside", text);
        FUZZ_ASSERT(!vs_pool6_is_host(&pool, pool.gateway), "'%s': gateway is a host", text);
        if (vs_pool6_next(&pool, NULL, 0, &used[0], &err) < 0)
                return fuzz_check_error(&err);
        FUZZ_ASSERT(vs_pool6_is_host(&pool, used[0].addr), "'%s': first host", text);
        if (vs_pool6_next(&pool, used, 1, &host, &err) < 0)
                return fuzz_check_error(&err);
        FUZZ_ASSERT(vs_pool6_is_host(&pool, host.addr) && !vs_ip6_equal(host.addr, used[0].addr),
                    "'%s': next host", text);
}

static void rate(const char *text)
{
        uint64_t bits, again;
        char buf[32];
        struct vs_tbf tbf;
        vs_error_t err = { 0 };

        if (vs_rate_parse(text, "--rate-out", &bits, &err) < 0)
                return fuzz_check_error(&err);
        FUZZ_ASSERT(fuzz_is_word(text), "'%s'", text);
        FUZZ_ASSERT(bits == 0 || (bits >= VS_RATE_MIN && bits <= VS_RATE_MAX), "'%s' is %llu", text,
                    (unsigned long long)bits);
        vs_rate_format(bits, buf, sizeof(buf));
        FUZZ_ASSERT(vs_rate_parse(buf, "x", &again, &err) == 0 && again == bits, "'%s' -> '%s'",
                    text, buf);
        if (bits) {
                vs_rate_tbf(bits, 1500, &tbf);
                FUZZ_ASSERT(tbf.rate > 0 && tbf.burst >= 1500, "'%s': rate %u burst %u", text,
                            tbf.rate, tbf.burst);
        }
}

static void forward(const char *text)
{
        vs_portfwd_t f, again;
        char buf[VS_PORTFWD_TEXT];
        vs_error_t err = { 0 };

        if (vs_portfwd_parse(text, &f, &err) < 0)
                return fuzz_check_error(&err);
        FUZZ_ASSERT(fuzz_is_word(text), "'%s'", text);
        FUZZ_ASSERT(f.host_port && f.vps_port && (f.proto == VS_L4_TCP || f.proto == VS_L4_UDP),
                    "'%s'", text);
        vs_portfwd_format(&f, buf, sizeof(buf));
        FUZZ_ASSERT(vs_portfwd_parse(buf, &again, &err) == 0 && again.host_port == f.host_port &&
                            again.vps_port == f.vps_port && again.proto == f.proto,
                    "'%s' -> '%s'", text, buf);
}

static void forward_del(const char *text)
{
        vs_portfwd_t del, f = { 80, 8080, VS_L4_TCP };
        vs_error_t err = { 0 };

        if (vs_portfwd_parse_del(text, &del, &err) < 0)
                return fuzz_check_error(&err);
        FUZZ_ASSERT(fuzz_is_word(text), "'%s'", text);
        FUZZ_ASSERT(del.proto == 0 || del.proto == VS_L4_TCP || del.proto == VS_L4_UDP, "'%s'",
                    text);
        (void)vs_portfwd_matches_del(&f, &del);
}

static void forward_list(const char *text)
{
        vs_portfwd_t list[VS_PORTFWD_MAX], again[VS_PORTFWD_MAX];
        size_t n, m;
        char *out;
        vs_error_t err = { 0 };

        if (vs_portfwd_parse_list(text, list, VS_PORTFWD_MAX, &n, &err) < 0)
                return fuzz_check_error(&err);
        out = vs_portfwd_format_list(list, n);
        FUZZ_ASSERT(vs_portfwd_parse_list(out, again, VS_PORTFWD_MAX, &m, &err) == 0 && m == n,
                    "'%s' -> '%s'", text, out);
        for (size_t i = 0; i < n; i++)
                FUZZ_ASSERT(again[i].host_port == list[i].host_port &&
                                    again[i].vps_port == list[i].vps_port &&
                                    again[i].proto == list[i].proto,
                            "'%s' -> '%s'", text, out);
        free(out);
}

static void resolver(const char *text, int nameserver)
{
        vs_error_t err = { 0 };
        unsigned char addr[16];

        if ((nameserver ? vs_net_check_nameserver(text, &err)
                        : vs_net_check_searchdomain(text, &err)) < 0)
                return fuzz_check_error(&err);
        /* resolv.conf takes a line of words: one word, no comment */
        FUZZ_ASSERT(fuzz_is_word(text) && !strchr(text, '#') && !strchr(text, ';'), "'%s'", text);
        if (nameserver)
                FUZZ_ASSERT(inet_pton(AF_INET, text, addr) == 1 ||
                                    inet_pton(AF_INET6, text, addr) == 1,
                            "name server '%s' is not an address", text);
}

static void ifnames(const char *text)
{
        char host[VS_IFNAME_MAX], ifb[VS_IFNAME_MAX];
        unsigned char mac[6];
        vs_error_t err = { 0 };

        if (vs_parse_name(text, "VPS name", &err) < 0)
                return;
        vs_net_host_ifname(text, host);
        vs_net_ifb_ifname(text, ifb);
        vs_net_guest_mac(text, mac);
        FUZZ_ASSERT(strlen(host) < VS_IFNAME_MAX && fuzz_is_word(host), "'%s'", host);
        FUZZ_ASSERT(strlen(ifb) < VS_IFNAME_MAX && fuzz_is_word(ifb), "'%s'", ifb);
        FUZZ_ASSERT(strcmp(host, ifb) != 0, "'%s'", host);
        FUZZ_ASSERT(!(mac[0] & 1) && (mac[0] & 2), "MAC of '%s' is not local unicast", text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        unsigned which = fuzz_pick(&data, &size, N_COUNT);
        char *text = fuzz_cstr(data, size);

        switch (which) {
        case N_IP4:
                ip4(text, 32);
                ip4(text, -1);
                break;
        case N_IP6:
                ip6(text, 128);
                ip6(text, -1);
                break;
        case N_POOL4:
                pool4(text);
                break;
        case N_POOL6:
                pool6(text);
                break;
        case N_RATE:
                rate(text);
                break;
        case N_FWD:
                forward(text);
                break;
        case N_FWD_DEL:
                forward_del(text);
                break;
        case N_FWD_LIST:
                forward_list(text);
                break;
        case N_NAMESERVER:
        case N_SEARCH:
                resolver(text, which == N_NAMESERVER);
                break;
        default:
                ifnames(text);
                break;
        }
        free(text);
        return 0;
}
