/* Deleting a link costs its caller the kernel's unregister (~20 ms: RCU
 * grace periods and the wait for the device's last references), which a
 * stop or a destroy must not wait for. So a link of a VPS that is gone is
 * first retired, which is quick: set down and renamed to "vsx-<ifindex>",
 * so that its name is free at once for the VPS's next start; then the
 * reaper, a fork of vsd's, deletes it by that doomed name. The reaper does
 * nothing but read names from a pipe and send RTM_DELLINK on a socket of
 * its own. It is a process, not a thread, so that vsd has one thread: vsd
 * clones its builders and exec children with a raw clone3, which copies
 * any libc lock another thread holds at that moment, held for good. When
 * the VPS's network namespace dies first, the kernel deletes the pair
 * itself and the reaper's delete finds nothing: not an error. Doomed links
 * that outlive vsd (it was killed, and the reaper with it) go in its next
 * start's sweep. */
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nl.h"
#include "vs/cleanup.h"
#include "vs/fsutil.h"

struct vs_reaper {
        pid_t pid;
        int queue; /* the pipe of doomed names, VS_IFNAME_MAX bytes each */
};

struct dellink_req {
        struct nlmsghdr nh;
        struct ifinfomsg ifi;
        struct rtattr name_attr;
        char name[VS_IFNAME_MAX];
};

/* In the reaper: one RTM_DELLINK by name, and its acknowledgement read (the
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

/* The reaper's descriptors, at these numbers */
enum { REAPER_QUEUE_FD = 3, REAPER_NL_FD };

static __attribute__((noreturn)) void reaper_loop(void)
{
        char name[VS_IFNAME_MAX];
        unsigned seq = 0;

        for (;;) {
                ssize_t got = read(REAPER_QUEUE_FD, name, sizeof(name));

                if (got < 0 && errno == EINTR)
                        continue;
                if (got != (ssize_t)sizeof(name))
                        _exit(0); /* vsd closed the queue: all is done */
                name[VS_IFNAME_MAX - 1] = '\0';
                delete_by_name(REAPER_NL_FD, name, ++seq);
        }
}

/* In the reaper: the queue's read end and a netlink socket of its own (in
 * vsd's network namespace, which it was forked in), and nothing else of
 * vsd's (its lock, its sockets, its VPS's descriptors); it ends with vsd. */
static __attribute__((noreturn)) void reaper_main(int queue, pid_t vsd)
{
        /* to REAPER_QUEUE_FD, REAPER_NL_FD */
        int keep[] = { queue, socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE) };

        if (keep[1] < 0 || vs_helper_setup(vsd, "vsd-reaper", keep, 2) < 0)
                _exit(1);
        reaper_loop();
}

/* Made at the first retirement, by vsd's loop, in vsd's own network
 * namespace. */
static struct vs_reaper *reaper_start(vs_error_t *err)
{
        int queue[2];
        pid_t vsd = getpid(), pid;
        struct vs_reaper *r;

        if (pipe2(queue, O_CLOEXEC) < 0) {
                vs_error_errno(err, "the link reaper's queue");
                return NULL;
        }
        pid = fork();
        if (pid < 0) {
                vs_error_errno(err, "fork the link reaper");
                close(queue[0]);
                close(queue[1]);
                return NULL;
        }
        if (pid == 0)
                reaper_main(queue[0], vsd);
        close(queue[0]);
        /* a full queue makes the caller delete the link itself */
        fcntl(queue[1], F_SETFL, O_NONBLOCK);
        r = vs_xmalloc(sizeof(*r));
        r->pid = pid;
        r->queue = queue[1];
        return r;
}

void vs_reaper_stop(struct vs_reaper *r)
{
        if (!r)
                return;
        /* the reaper deletes what is queued, then reads the end */
        close(r->queue);
        waitpid(r->pid, NULL, 0);
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
        if (rc > 0 && write((*rp)->queue, doomed, sizeof(doomed)) == (ssize_t)sizeof(doomed))
                return 0;
        /* not renamed, or the queue is full: deleted here, under its name */
        return vs_nl_delete_link(sock, rc > 0 ? doomed : name, err);
}
