#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "vs/cleanup.h"
#include "vs/netns.h"

int vs_net_loopback_up(vs_error_t *err)
{
        cleanup_close int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr;

        if (sock < 0)
                return vs_error_errno(err, "loopback: socket");
        memset(&ifr, 0, sizeof(ifr));
        strcpy(ifr.ifr_name, "lo");
        if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
                return vs_error_errno(err, "loopback: get flags");
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)
                return vs_error_errno(err, "loopback: up");
        return 0;
}
