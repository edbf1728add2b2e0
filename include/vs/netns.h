/* netns: network namespace plumbing. For now only what the lifecycle needs:
 * the VPS's loopback. Bridges, veths and addresses come with the network
 * issue. */
#ifndef VS_NETNS_H
#define VS_NETNS_H

#include "vs/error.h"

/* Brings up "lo" in the calling process's network namespace. */
int vs_net_loopback_up(vs_error_t *err);

#endif
