/* vsd.conf's readers: the input is the file's bytes. vsd reads the network
 * keys (vs_net_conf_load), the node's capacity and policy (vsd_node) and
 * the disk backend (vsd_disk_backend_for_new) from it. What they accept
 * must be usable as it is: an interface name the kernel takes, a pool
 * whose gateway lies in it, an MTU in range. */
#include "fuzz.h"
#include "vs/admission.h"
#include "vs/diskquota.h"
#include "vs/kvfile.h"
#include "vs/netns.h"

/* The kernel's rule for an interface name (dev_valid_name), and the
 * printable ASCII that ip(8) and nft take as one word. */
static int ifname_valid(const char *name)
{
        size_t len = strlen(name);

        if (len == 0 || len >= VS_IFNAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return 0;
        return fuzz_is_word(name) && !strchr(name, '/') && !strchr(name, ':');
}

static void check_net(const vs_kv_t *kv)
{
        vs_net_conf_t conf;
        vs_error_t err = { 0 };
        uint32_t host;

        if (vs_net_conf_parse(kv, &conf, &err) < 0) {
                fuzz_check_error(&err);
                return;
        }
        FUZZ_ASSERT(ifname_valid(conf.bridge), "bridge '%s' is not an interface name", conf.bridge);
        FUZZ_ASSERT(!conf.uplink[0] || ifname_valid(conf.uplink),
                    "uplink '%s' is not an interface name", conf.uplink);
        FUZZ_ASSERT(conf.mtu >= 576 && conf.mtu <= 65535, "mtu %u", conf.mtu);
        FUZZ_ASSERT(vs_pool4_contains(&conf.pool4, conf.pool4.gateway), "pool4 gateway");
        FUZZ_ASSERT(conf.pool4.net.prefix >= 8 && conf.pool4.net.prefix <= 30, "pool4 /%u",
                    conf.pool4.net.prefix);
        if (vs_pool4_next(&conf.pool4, NULL, 0, &host, &err) == 0)
                FUZZ_ASSERT(vs_pool4_is_host(&conf.pool4, host), "pool4's first host");
        if (conf.has_pool6) {
                vs_ip6_t host6;

                FUZZ_ASSERT(vs_pool6_contains(&conf.pool6, conf.pool6.gateway), "pool6 gateway");
                if (vs_pool6_next(&conf.pool6, NULL, 0, &host6, &err) == 0)
                        FUZZ_ASSERT(vs_pool6_is_host(&conf.pool6, host6.addr),
                                    "pool6's first host");
        }
}

static void check_node(const vs_kv_t *kv)
{
        const vs_reserve_t detected = { 2000000, 4ULL << 30 };
        const vs_reserve_t want = { 1000000, 1ULL << 30 };
        vs_reserve_t reserved = { 0, 0 }, all;
        vs_node_t node;
        vs_error_t err = { 0 };

        if (vs_node_from_config(kv, &detected, &node, &err) < 0) {
                fuzz_check_error(&err);
                return;
        }
        FUZZ_ASSERT(node.factor_pct >= 100, "factor %llu%%", (unsigned long long)node.factor_pct);
        all = vs_node_admissible(&node);
        FUZZ_ASSERT(all.cpu_micro >= node.capacity.cpu_micro &&
                            all.mem_bytes >= node.capacity.mem_bytes,
                    "admissible below capacity (overflow)");
        if (vs_admit(&node, &reserved, &want, &err) < 0)
                fuzz_check_error(&err);
        (void)vs_admit_how_many(&node, &reserved, &want);
}

static void check_disk(const vs_kv_t *kv)
{
        const char *preferred = vs_kv_get(kv, "disk_backend");
        vs_disk_limits_t none = { 0 }, some = { 0 };
        vs_error_t err = { 0 };

        some.space.soft = some.space.hard = 1ULL << 30;
        if (!vs_disk_backend_choose(preferred, &none, &err))
                fuzz_check_error(&err);
        if (!vs_disk_backend_choose(preferred, &some, &err))
                fuzz_check_error(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        vs_kv_t kv = { 0 };
        vs_error_t err = { 0 };

        if (vs_kv_parse_text((const char *)data, size, &kv, &err) < 0) {
                fuzz_check_error(&err);
                return 0;
        }
        check_net(&kv);
        check_node(&kv);
        check_disk(&kv);
        vs_kv_free(&kv);
        return 0;
}
