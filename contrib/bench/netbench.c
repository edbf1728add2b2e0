/* The cost of a VPS's network set-up and teardown, as vsd pays it: one
 * process, one netlink socket, vs_net_vps_setup() against N network
 * namespaces (one sleeping child each, standing in for a VPS's init), then
 * vs_net_vps_teardown() of each. Run it in a network namespace made for it
 * (contrib/bench/net.sh does: unshare -n); it refuses to run where it finds
 * any interface besides lo.
 *
 * Each VPS's nftables elements (anti-spoofing, and one port forward) are
 * added right after its veth and removed right after it, as vsd does; their
 * share of the time is measured apart.
 *
 * Usage: netbench N bridge|routed
 * Prints: mode N setup_total_ms setup_per_vps_ms teardown_total_ms
 * teardown_per_vps_ms nft_setup_per_vps_ms nft_teardown_per_vps_ms */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vs/netns.h"

static double now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A child in a network namespace of its own, waiting to be killed. */
static pid_t spawn_holder(void)
{
        int ready[2];
        char c;
        pid_t pid;

        if (pipe(ready) < 0)
                return -1;
        pid = fork();
        if (pid == 0) {
                close(ready[0]);
                if (unshare(CLONE_NEWNET) < 0)
                        _exit(1);
                (void)!write(ready[1], "r", 1);
                for (;;)
                        pause();
        }
        close(ready[1]);
        if (pid < 0 || read(ready[0], &c, 1) != 1) {
                close(ready[0]);
                return -1;
        }
        close(ready[0]);
        return pid;
}

/* A namespace made for the benchmark has only its loopback: anything else
 * may be a network someone uses, and netbench will not add to it. */
static int in_used_netns(void)
{
        struct if_nameindex *ifs = if_nameindex(), *i;
        int used = 0;

        if (!ifs)
                return 1;
        for (i = ifs; i->if_index; i++)
                if (strcmp(i->if_name, "lo") != 0)
                        used = 1;
        if_freenameindex(ifs);
        return used;
}

int main(int argc, char **argv)
{
        vs_net_conf_t conf;
        vs_net_t *net = NULL;
        vs_nft_t *nft = NULL;
        double nft_setup_ms = 0, nft_teardown_ms = 0, t1;
        vs_error_t err = { 0 };
        pid_t *pids;
        char name[32];
        vs_ip4_t ip;
        long n;
        int failed = 0;
        double t0, setup_ms, teardown_ms;

        if (argc != 3 || (n = strtol(argv[1], NULL, 10)) < 1 || n > 60000 ||
            (strcmp(argv[2], "bridge") != 0 && strcmp(argv[2], "routed") != 0)) {
                fprintf(stderr, "usage: netbench N bridge|routed\n");
                return 2;
        }
        if (in_used_netns()) {
                fprintf(stderr,
                        "netbench: refusing to run in a network namespace with "
                        "interfaces besides lo (use contrib/bench/net.sh, or unshare -n)\n");
                return 1;
        }
        vs_net_conf_load(AT_FDCWD, "/nonexistent", &conf, NULL); /* the defaults */
        conf.mode = strcmp(argv[2], "routed") == 0 ? VS_NET_ROUTED : VS_NET_BRIDGE;
        if (vs_pool4_parse("10.64.0.0/10", &conf.pool4, &err) < 0 ||
            vs_net_open(&conf, &net, &err) < 0 || vs_nft_open(&conf, NULL, 0, &nft, &err) < 0) {
                fprintf(stderr, "netbench: %s\n", err.msg);
                return 1;
        }
        pids = calloc((size_t)n, sizeof(*pids));
        for (long i = 0; i < n; i++) {
                pids[i] = spawn_holder();
                if (pids[i] < 0) {
                        fprintf(stderr, "netbench: cannot start holder %ld\n", i);
                        n = i;
                        break;
                }
        }
        t0 = now_ms();
        for (long i = 0; i < n; i++) {
                struct vs_net_vps vps = { .name = name, .addrs = &ip, .naddrs = 1 };

                snprintf(name, sizeof(name), "b%ld", i);
                ip = (vs_ip4_t){ conf.pool4.gateway + 1 + (uint32_t)i, conf.pool4.net.prefix };
                char host[VS_IFNAME_MAX], addr[24];
                const char *addrs[1] = { addr };
                unsigned char mac[6];
                vs_portfwd_t fwd = { (uint16_t)(1 + i % 65535), 80, VS_L4_TCP };
                struct vs_nft_vps guard = { host, mac, addrs, 1, &fwd, 1 };

                vs_net_host_ifname(name, host);
                vs_net_guest_mac(name, mac);
                vs_ip4_format(&ip, 0, addr, sizeof(addr));
                if (vs_net_vps_setup(net, &vps, pids[i], &err) < 0) {
                        fprintf(stderr, "netbench: %s: %s\n", name, err.msg);
                        failed = 1;
                        break;
                }
                t1 = now_ms();
                if (vs_nft_vps_update(nft, &guard, &err) < 0) {
                        fprintf(stderr, "netbench: %s: %s\n", name, err.msg);
                        failed = 1;
                        break;
                }
                nft_setup_ms += now_ms() - t1;
        }
        setup_ms = now_ms() - t0;
        t0 = now_ms();
        for (long i = 0; i < n; i++) {
                char host[VS_IFNAME_MAX];

                snprintf(name, sizeof(name), "b%ld", i);
                vs_net_host_ifname(name, host);
                t1 = now_ms();
                vs_nft_vps_remove(nft, host, NULL);
                nft_teardown_ms += now_ms() - t1;
                vs_net_vps_teardown(net, name, NULL);
        }
        teardown_ms = now_ms() - t0;
        for (long i = 0; i < n; i++) {
                kill(pids[i], SIGKILL);
                waitpid(pids[i], NULL, 0);
        }
        printf("%s %ld %.1f %.3f %.1f %.3f %.3f %.3f\n", argv[2], n, setup_ms, setup_ms / n,
               teardown_ms, teardown_ms / n, nft_setup_ms / n, nft_teardown_ms / n);
        vs_nft_free(nft);
        free(pids);
        vs_net_free(net);
        return failed;
}
