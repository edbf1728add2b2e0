/* netns's private plumbing shared between its files: libnl types stay
 * inside netns/ (see include/vs/netns.h). */
#ifndef VS_NETNS_NL_H
#define VS_NETNS_NL_H

#include <netlink/netlink.h>

#include "vs/netns.h"

/* vsd's netlink route socket, in its own network namespace. */
struct nl_sock *vs_net_nlsock(vs_net_t *net);

#endif
