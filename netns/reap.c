/* Deleting a link costs its caller the kernel's unregister (~20 ms: RCU
 * grace periods and the wait for the device's last references), which a
 * stop or a destroy must not wait for. So a link of a VPS that is gone is
 * first retired, which is quick: set down and renamed to "vsx-<ifindex>",
 * so that its name is free at once for the VPS's next start; then a thread
 * of vsd's deletes it by that doomed name. The thread does nothing but
 * read names from a pipe and send RTM_DELLINK on a socket of its own, with
 * no lock and no allocation, so that vsd's forks never copy a lock it
 * holds. When the VPS's network namespace dies first, the kernel deletes
 * the pair itself and the thread's delete finds nothing: not an error.
 * Doomed links that outlive vsd (it was killed) go in its next start's
 * sweep. */
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nl.h"
#include "vs/cleanup.h"
#include "vs/fsutil.h"

struct vs_reaper {
        pthread_t thread;
        int queue[2]; /* the pipe of doomed names, VS_IFNAME_MAX bytes each */
        int nl_fd;    /* the thread's RTM_DELLINK socket, in vsd's namespace */
};

struct dellink_req {
        struct nlmsghdr nh;
        struct ifinfomsg ifi;
        struct rtattr name_attr;
        char name[VS_IFNAME_MAX];
};

/* In the thread: one RTM_DELLINK by name, and its acknowledgement read (the
 * error, if any, is nobody's to report: the sweep takes what is left). */
static void delete_by_name(int fd, const char *name, unsigned seq)
{
        struct dellink_req req;
        char ack[1024];

        memset(&req, 0, sizeof(req));
        req.nh.nlmsg_len = sizeof(req);
        req.nh.nlmsg_type = RTM_DELLINK;
        req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        req.nh.nlmsg_seq = seq;
        req.ifi.ifi_family = AF_UNSPEC;
        req.name_attr.rta_type = IFLA_IFNAME;
        req.name_attr.rta_len = RTA_LENGTH(VS_IFNAME_MAX);
        memcpy(req.name, name, VS_IFNAME_MAX);
        if (send(fd, &req, sizeof(req), 0) < 0)
                return;
        while (recv(fd, ack, sizeof(ack), 0) < 0 && errno == EINTR)
                ;
}

static void *reaper_main(void *arg)
{
        struct vs_reaper *r = arg;
        char name[VS_IFNAME_MAX];
        unsigned seq = 0;

        for (;;) {
                ssize_t got = read(r->queue[0], name, sizeof(name));

                if (got < 0 && errno == EINTR)
                        continue;
                if (got != (ssize_t)sizeof(name))
                        return NULL; /* vsd closed the queue: all is done */
                name[VS_IFNAME_MAX - 1] = '\0';
                delete_by_name(r->nl_fd, name, ++seq);
        }
}

static void reaper_close_fds(struct vs_reaper *r)
{
        for (int i = 0; i < 2; i++)
                if (r->queue[i] >= 0)
                        close(r->queue[i]);
        if (r->nl_fd >= 0)
                close(r->nl_fd);
}

/* Made at the first retirement, by vsd's loop: its signals are blocked by
 * then (the thread must not take the signalfd's), and it is in vsd's own
 * network namespace, where the socket is made. */
static struct vs_reaper *reaper_start(vs_error_t *err)
{
        struct vs_reaper *r = vs_xmalloc(sizeof(*r));
        sigset_t all, was;
        int rc;

        r->queue[0] = r->queue[1] = -1;
        r->nl_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (r->nl_fd < 0 || pipe2(r->queue, O_CLOEXEC) < 0) {
                vs_error_errno(err, "the link reaper's socket and queue");
                reaper_close_fds(r);
                free(r);
                return NULL;
        }
        /* a full queue makes the caller delete the link itself */
        fcntl(r->queue[1], F_SETFL, O_NONBLOCK);
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &was);
        rc = pthread_create(&r->thread, NULL, reaper_main, r);
        pthread_sigmask(SIG_SETMASK, &was, NULL);
        if (rc != 0) {
                vs_error_set(err, rc, "start the link reaper: %s", strerror(rc));
                reaper_close_fds(r);
                free(r);
                return NULL;
        }
        return r;
}

void vs_reaper_stop(struct vs_reaper *r)
{
        if (!r)
                return;
        /* the thread deletes what is queued, then reads the end */
        close(r->queue[1]);
        r->queue[1] = -1;
        pthread_join(r->thread, NULL);
        reaper_close_fds(r);
        free(r);
}

static int ifreq_ioctl(int fd, unsigned long op, struct ifreq *ifr)
{
        int rc;

        while ((rc = ioctl(fd, op, ifr)) < 0 && errno == EINTR)
                ;
        return rc;
}

/* Down (a link that is up cannot be renamed), then "vsx-<ifindex>": unique
 * while the link exists. 1 when retired, 0 when there is no such link. */
static int retire_rename(const char *name, char doomed[VS_IFNAME_MAX], vs_error_t *err)
{
        cleanup_close int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr;

        if (fd < 0)
                return vs_error_errno(err, "socket");
        memset(&ifr, 0, sizeof(ifr));
        vs_strlcpy(ifr.ifr_name, name, sizeof(ifr.ifr_name));
        if (ifreq_ioctl(fd, SIOCGIFINDEX, &ifr) < 0)
                return errno == ENODEV ? 0 : vs_error_errno(err, "find %s", name);
        snprintf(doomed, VS_IFNAME_MAX, "%s%x", VS_NET_DOOMED_PREFIX, (unsigned)ifr.ifr_ifindex);
        if (ifreq_ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                return errno == ENODEV ? 0 : vs_error_errno(err, "read the flags of %s", name);
        ifr.ifr_flags &= ~IFF_UP;
        if (ifreq_ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                return errno == ENODEV ? 0 : vs_error_errno(err, "set %s down", name);
        vs_strlcpy(ifr.ifr_newname, doomed, sizeof(ifr.ifr_newname));
        if (ifreq_ioctl(fd, SIOCSIFNAME, &ifr) < 0)
                return errno == ENODEV ? 0 : vs_error_errno(err, "rename %s", name);
        return 1;
}

int vs_reaper_retire(struct vs_reaper **rp, struct nl_sock *sock, const char *name, vs_error_t *err)
{
        char doomed[VS_IFNAME_MAX] = { 0 };
        vs_error_t why = { 0 };
        int rc;

        /* without a reaper (no thread, no socket), the caller deletes */
        if (!*rp)
                *rp = reaper_start(&why);
        rc = *rp ? retire_rename(name, doomed, &why) : -1;
        if (rc == 0)
                return 0; /* gone already */
        if (rc > 0 && write((*rp)->queue[1], doomed, sizeof(doomed)) == (ssize_t)sizeof(doomed))
                return 0;
        /* not renamed, or the queue is full: deleted here, under its name */
        return vs_nl_delete_link(sock, rc > 0 ? doomed : name, err);
}
