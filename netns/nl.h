/* netns's private plumbing shared between its files: libnl types stay
 * inside netns/ (see include/vs/netns.h). */
#ifndef VS_NETNS_NL_H
#define VS_NETNS_NL_H

#include <netlink/netlink.h>

#include "vs/netns.h"

/* vsd's netlink route socket, in its own network namespace. */
struct nl_sock *vs_net_nlsock(vs_net_t *net);

struct rtnl_link;
void vs_nl_link_putp(struct rtnl_link **l);
#define cleanup_link __attribute__((cleanup(vs_nl_link_putp)))

/* Sets ifindex up; with promote_secondaries, removing an interface's first
 * IPv4 address of a subnet promotes the next one instead of taking every
 * address of that subnet with it (a VPS's eth0, for vsctl set --ipdel). */
int vs_nl_link_up(struct nl_sock *sock, int ifindex, int promote_secondaries, vs_error_t *err);
/* An interface ioctl (SIOCGIFINDEX, SIOCSIFFLAGS, SIOCSIFNAME, ...) on
 * sock, in the namespace sock was made in: the kernel takes them on any
 * socket, and vsd needs no other for them. EINTR is retried. */
struct ifreq;
int vs_nl_ifreq(struct nl_sock *sock, unsigned long op, struct ifreq *ifr);
/* The index of the link `name` (SIOCGIFINDEX: by the kernel's name hash,
 * under RCU, without the RTNL lock), 0 when there is none, -1 on an error. */
int vs_nl_ifindex(struct nl_sock *sock, const char *name, vs_error_t *err);
/* Deletes an interface by name; one that is already gone is not an error. */
int vs_nl_delete_link(struct nl_sock *sock, const char *name, vs_error_t *err);
/* Deletes every interface of `type` whose name starts with `prefix` and
 * that keep() does not want; returns how many. */
int vs_nl_sweep(struct nl_sock *sock, const char *prefix, const char *type,
                int (*keep)(const char *ifname, void *arg), void *arg, vs_error_t *err);
/* A keep() for vs_nl_sweep that keeps nothing. */
int vs_nl_keep_none(const char *ifname, void *arg);

/* Links off the reply path (reap.c): vs_reaper_retire renames `name` to a
 * doomed one at once and queues it for the reaper's delete (a process of
 * vsd's, started at the first call, into *reaper); without a reaper, or with
 * its queue full, it deletes the link itself. A link already gone is not an
 * error. vs_reaper_stop deletes what is queued and ends the reaper. */
struct vs_reaper;
struct vs_reaper **vs_net_reaper(vs_net_t *net);
int vs_reaper_retire(struct vs_reaper **reaper, struct nl_sock *sock, const char *name,
                     vs_error_t *err);
/* vs_reaper_doom queues `name` by its index for the reaper's delete without
 * renaming it (no RTNL lock taken): it keeps its name until deleted, and a
 * start that needs the name retires it. Without a reaper, or with its queue
 * full, it retires the link. */
int vs_reaper_doom(struct vs_reaper **reaper, struct nl_sock *sock, const char *name,
                   vs_error_t *err);
void vs_reaper_stop(struct vs_reaper *reaper);

#endif
