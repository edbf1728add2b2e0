/* Bandwidth caps of a VPS, over netlink with libnl-route (no tc binary).
 *
 * Everything lives on the host side, in vsd's network namespace: the VPS's
 * root has no capability there and cannot see, change or lift any of it
 * (its own eth0 may get qdiscs of its making, which can only slow it down
 * further).
 *
 * - In (what the VPS receives): the host-side veth sends it, so a TBF as
 *   that veth's root qdisc (handle 1:) caps it.
 * - Out (what the VPS sends): it arrives at the host-side veth, whose
 *   ingress has no queue to shape with. This kernel has no act_police and
 *   no matchall, so the ingress qdisc (ffff:) holds one u32 filter matching
 *   every packet (key 0/0 at offset 0) with a mirred action redirecting it
 *   to the egress of the VPS's ifb, whose root qdisc is the TBF. The ifb
 *   then hands the packet back to the stack as if it came from the veth.
 *
 * Applying a cap again replaces each piece (qdisc and filter by fixed
 * handles), so that a live change never leaves the VPS uncapped in
 * between, and so that whatever a crashed vsd left half made is reused and
 * completed by the next apply, or removed by teardown or the sweep. A TBF
 * is never changed in place: the kernel keeps its queue across a change,
 * and a packet queued under a larger bucket (GSO, up to 64 KB) than the
 * new one never gets the tokens to leave, so the queue stalled for good (a
 * stream throttled from 20M to 5M by its slice's budget sent nothing until
 * the window ended). A fresh TBF is grafted instead, which drops what the
 * old one held. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/tc_act/tc_mirred.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/netlink.h>
#include <netlink/route/act/mirred.h>
#include <netlink/route/action.h>
#include <netlink/route/classifier.h>
#include <netlink/route/cls/u32.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/tbf.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/netns.h"
#include "nl.h"

#define ROOT_HANDLE TC_HANDLE(1, 0)
/* a TBF's handle for a moment, while a fresh one at ROOT_HANDLE replaces it */
#define SWAP_HANDLE TC_HANDLE(2, 0)
/* unsigned: 0xffff << 16 overflows an int (UBSan) */
#define INGRESS_HANDLE TC_HANDLE(0xffffU, 0)
#define FILTER_PRIO 1
/* u32's handle of the first node of hash table 800: 800::800 */
#define FILTER_HT 0x800
#define FILTER_NODE 0x800

static void qdisc_putp(struct rtnl_qdisc **q)
{
        if (*q)
                rtnl_qdisc_put(*q);
}
static void cls_putp(struct rtnl_cls **c)
{
        if (*c)
                rtnl_cls_put(*c);
}
static void act_putp(struct rtnl_act **a)
{
        if (*a)
                rtnl_act_put(*a);
}
#define cleanup_qdisc __attribute__((cleanup(qdisc_putp)))
#define cleanup_cls __attribute__((cleanup(cls_putp)))
#define cleanup_act __attribute__((cleanup(act_putp)))

/* The interface's index, or 0 when there is no such interface. */
static int find_link(struct nl_sock *sock, const char *name, char *type, size_t size,
                     vs_error_t *err)
{
        cleanup_link struct rtnl_link *link = NULL;
        int rc = rtnl_link_get_kernel(sock, 0, name, &link);

        if (rc == -NLE_NODEV || rc == -NLE_OBJ_NOTFOUND)
                return 0;
        if (rc < 0)
                return vs_error_set(err, EIO, "find interface %s: %s", name, nl_geterror(rc));
        if (type)
                vs_strlcpy(type, rtnl_link_get_type(link) ? rtnl_link_get_type(link) : "", size);
        return rtnl_link_get_ifindex(link);
}

/* A TBF for `bits` at the root of ifindex under `handle`: a root of
 * another handle is replaced by a fresh one (the kernel grafts it at once,
 * the old one and its queue go); one of the same handle is changed in
 * place. */
static int tbf_graft(vs_net_t *net, int ifindex, const char *ifname, uint32_t handle,
                     const struct vs_tbf *tbf, vs_error_t *err)
{
        cleanup_qdisc struct rtnl_qdisc *q = rtnl_qdisc_alloc();
        int rc;

        if (!q)
                return vs_error_set(err, ENOMEM, "qdisc");
        rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
        rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
        rtnl_tc_set_handle(TC_CAST(q), handle);
        if (rtnl_tc_set_kind(TC_CAST(q), "tbf") < 0)
                return vs_error_set(err, EOPNOTSUPP, "this libnl has no tbf qdisc");
        rtnl_qdisc_tbf_set_limit(q, (int)tbf->limit);
        rtnl_qdisc_tbf_set_rate(q, (int)tbf->rate, (int)tbf->burst, 0);
        rc = rtnl_qdisc_add(vs_net_nlsock(net), q, NLM_F_CREATE | NLM_F_REPLACE);
        if (rc < 0)
                return vs_error_set(err, EIO, "tbf on %s: %s", ifname, nl_geterror(rc));
        return 0;
}

/* A fresh TBF for `bits` as the root qdisc of ifindex (ROOT_HANDLE): one
 * at SWAP_HANDLE replaces what is there, then one at ROOT_HANDLE replaces
 * that, each capped already (and a SWAP_HANDLE root a crash left between
 * the two is changed in place, then replaced the same way). */
static int tbf_replace(vs_net_t *net, int ifindex, const char *ifname, uint64_t bits,
                       vs_error_t *err)
{
        struct vs_tbf tbf;

        vs_rate_tbf(bits, vs_net_conf(net)->mtu, &tbf);
        if (tbf_graft(net, ifindex, ifname, SWAP_HANDLE, &tbf, err) < 0 ||
            tbf_graft(net, ifindex, ifname, ROOT_HANDLE, &tbf, err) < 0)
                return -1;
        return 0;
}

/* Deletes the qdisc at `parent` (root or ingress) of ifindex. The kernel
 * answers "no such qdisc" (ENOENT) or, for the default root qdisc that has
 * no handle, "invalid" (EINVAL): there is nothing of ours to delete. */
static int qdisc_delete(vs_net_t *net, int ifindex, const char *ifname, uint32_t parent,
                        vs_error_t *err)
{
        cleanup_qdisc struct rtnl_qdisc *q = rtnl_qdisc_alloc();
        int rc;

        if (!q)
                return vs_error_set(err, ENOMEM, "qdisc");
        rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
        rtnl_tc_set_parent(TC_CAST(q), parent);
        rc = rtnl_qdisc_delete(vs_net_nlsock(net), q);
        if (rc < 0 && rc != -NLE_OBJ_NOTFOUND && rc != -NLE_INVAL && rc != -NLE_NODEV)
                return vs_error_set(err, EIO, "delete %s qdisc of %s: %s",
                                    parent == TC_H_INGRESS ? "ingress" : "root", ifname,
                                    nl_geterror(rc));
        return 0;
}

/* The VPS's ifb, made or reused, up. Returns its index. */
static int ensure_ifb(vs_net_t *net, const char *ifb, vs_error_t *err)
{
        struct nl_sock *sock = vs_net_nlsock(net);
        cleanup_link struct rtnl_link *link = rtnl_link_alloc();
        char type[32] = "", path[80];
        vs_error_t sysctl_err = { 0 };
        int ifindex = find_link(sock, ifb, type, sizeof(type), err), rc;

        if (ifindex < 0)
                return -1;
        if (ifindex > 0 && strcmp(type, "ifb") != 0)
                return vs_error_set(err, EEXIST, "%s exists and is not an ifb", ifb);
        if (ifindex == 0) {
                if (!link)
                        return vs_error_set(err, ENOMEM, "link");
                rtnl_link_set_name(link, ifb);
                rtnl_link_set_mtu(link, vs_net_conf(net)->mtu);
                if (rtnl_link_set_type(link, "ifb") < 0)
                        return vs_error_set(err, EOPNOTSUPP, "this libnl has no ifb links");
                rc = rtnl_link_add(sock, link, NLM_F_CREATE | NLM_F_EXCL);
                if (rc < 0)
                        return vs_error_set(err, EIO, "create %s: %s", ifb, nl_geterror(rc));
                ifindex = find_link(sock, ifb, NULL, 0, err);
                if (ifindex <= 0)
                        return ifindex < 0 ? -1 : vs_error_set(err, ENODEV, "%s vanished", ifb);
        }
        /* no link-local address and routes for it (see host_side_up in
         * link.c); a kernel without IPv6 has no such file */
        snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifb);
        if (vs_write_string(AT_FDCWD, path, "1", &sysctl_err) < 0 && sysctl_err.errnum != ENOENT) {
                if (err)
                        *err = sysctl_err;
                return vs_error_wrap(err, "disable IPv6 on %s", ifb);
        }
        if (vs_nl_link_up(sock, ifindex, 0, err) < 0)
                return vs_error_wrap(err, "%s", ifb);
        return ifindex;
}

/* The veth's ingress qdisc, made or kept. */
static int ensure_ingress(vs_net_t *net, int ifindex, const char *ifname, vs_error_t *err)
{
        cleanup_qdisc struct rtnl_qdisc *q = rtnl_qdisc_alloc();
        int rc;

        if (!q)
                return vs_error_set(err, ENOMEM, "qdisc");
        rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
        rtnl_tc_set_parent(TC_CAST(q), TC_H_INGRESS);
        rtnl_tc_set_handle(TC_CAST(q), INGRESS_HANDLE);
        rtnl_tc_set_kind(TC_CAST(q), "ingress");
        rc = rtnl_qdisc_add(vs_net_nlsock(net), q, NLM_F_CREATE | NLM_F_EXCL);
        if (rc < 0 && rc != -NLE_EXIST)
                return vs_error_set(err, EIO, "ingress qdisc on %s: %s", ifname, nl_geterror(rc));
        return 0;
}

/* On the veth's ingress: every packet, of every protocol, to the ifb. */
static int redirect_filter(vs_net_t *net, int ifindex, const char *ifname, int ifb_index,
                           vs_error_t *err)
{
        cleanup_cls struct rtnl_cls *cls = rtnl_cls_alloc();
        cleanup_act struct rtnl_act *act = rtnl_act_alloc();
        int rc;

        if (!cls || !act)
                return vs_error_set(err, ENOMEM, "filter");
        rtnl_tc_set_ifindex(TC_CAST(cls), ifindex);
        rtnl_tc_set_parent(TC_CAST(cls), INGRESS_HANDLE);
        if (rtnl_tc_set_kind(TC_CAST(cls), "u32") < 0 ||
            rtnl_tc_set_kind(TC_CAST(act), "mirred") < 0)
                return vs_error_set(err, EOPNOTSUPP, "this libnl has no u32 or mirred");
        rtnl_cls_set_prio(cls, FILTER_PRIO);
        rtnl_cls_set_protocol(cls, ETH_P_ALL);
        /* a fixed handle: applying again replaces this filter */
        rtnl_u32_set_handle(cls, FILTER_HT, 0, FILTER_NODE);
        rtnl_mirred_set_action(act, TCA_EGRESS_REDIR);
        rtnl_mirred_set_policy(act, TC_ACT_STOLEN);
        rtnl_mirred_set_ifindex(act, (uint32_t)ifb_index);
        if (rtnl_u32_add_key_uint32(cls, 0, 0, 0, 0) < 0 || rtnl_u32_set_cls_terminal(cls) < 0 ||
            rtnl_u32_add_action(cls, act) < 0)
                return vs_error_set(err, ENOMEM, "filter");
        rc = rtnl_cls_add(vs_net_nlsock(net), cls, NLM_F_CREATE | NLM_F_REPLACE);
        if (rc < 0)
                return vs_error_set(err, EIO, "redirect filter on %s: %s", ifname, nl_geterror(rc));
        return 0;
}

static int rate_out(vs_net_t *net, const char *name, int ifindex, const char *host, uint64_t bits,
                    vs_error_t *err)
{
        char ifb[VS_IFNAME_MAX];
        int ifb_index;

        vs_net_ifb_ifname(name, ifb);
        if (!bits) {
                /* the ingress qdisc goes with its filter */
                if (qdisc_delete(net, ifindex, host, TC_H_INGRESS, err) < 0)
                        return -1;
                return vs_nl_delete_link(vs_net_nlsock(net), ifb, err);
        }
        /* the ifb's TBF first: what the filter redirects is capped at once */
        ifb_index = ensure_ifb(net, ifb, err);
        if (ifb_index < 0 || tbf_replace(net, ifb_index, ifb, bits, err) < 0 ||
            ensure_ingress(net, ifindex, host, err) < 0 ||
            redirect_filter(net, ifindex, host, ifb_index, err) < 0)
                return -1;
        return 0;
}

int vs_net_vps_rate(vs_net_t *net, const char *name, enum vs_rate_dir dir, uint64_t bits,
                    vs_error_t *err)
{
        char host[VS_IFNAME_MAX];
        int ifindex, rc;

        vs_net_host_ifname(name, host);
        ifindex = find_link(vs_net_nlsock(net), host, NULL, 0, err);
        if (ifindex == 0)
                vs_error_set(err, ENODEV, "%s has no veth %s", name, host);
        if (ifindex <= 0)
                return vs_error_wrap(err, "rate-%s", dir == VS_RATE_OUT ? "out" : "in");
        if (dir == VS_RATE_IN)
                rc = bits ? tbf_replace(net, ifindex, host, bits, err)
                          : qdisc_delete(net, ifindex, host, TC_H_ROOT, err);
        else
                rc = rate_out(net, name, ifindex, host, bits, err);
        if (rc < 0)
                return vs_error_wrap(err, "rate-%s", dir == VS_RATE_OUT ? "out" : "in");
        return 0;
}

int vs_net_vps_rate_teardown(vs_net_t *net, const char *name, vs_error_t *err)
{
        char ifb[VS_IFNAME_MAX];

        vs_net_ifb_ifname(name, ifb);
        return vs_reaper_retire(vs_net_reaper(net), vs_net_nlsock(net), ifb, err);
}

int vs_net_sweep_ifbs(vs_net_t *net, int (*keep)(const char *ifname, void *arg), void *arg,
                      vs_error_t *err)
{
        int gone = vs_nl_sweep(vs_net_nlsock(net), "vsi-", "ifb", keep, arg, err);
        int doomed;

        if (gone < 0)
                return -1;
        doomed = vs_nl_sweep(vs_net_nlsock(net), VS_NET_DOOMED_PREFIX, "ifb", vs_nl_keep_none, NULL,
                             err);
        return doomed < 0 ? -1 : gone + doomed;
}
