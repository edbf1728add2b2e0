/* Deleting a link costs its caller the kernel's unregister (~20 ms: RCU
 * grace periods and the wait for the device's last references), which a
 * stop or a destroy must not wait for. So the veth of a VPS that stopped
 * is doomed: its ifindex (read under RCU, without the RTNL lock that the
 * kernel's cleanup of dying network namespaces holds for long) goes to the
 * reaper, a fork of vsd's, which deletes it by that index; until then it
 * keeps its name. A start that finds its name still taken retires the old
 * link first, which is quick: set down (its routes and bridge entries go)
 * and renamed to "vsx-<ifindex>", and queued by that doomed name; an ifb is
 * retired at the stop already (a start would take an ifb of its name as
 * its own). The reaper does nothing but read records from a pipe and send
 * RTM_DELLINK on a socket of its own. It is a process, not a thread, so that vsd has one thread: vsd
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
        int queue; /* the pipe of struct reap_record */
};

/* One queue record: a link by its index, or (index 0) by its doomed name */
struct reap_record {
        int ifindex;
        char name[VS_IFNAME_MAX];
};

struct dellink_req {
        struct nlmsghdr nh;
        struct ifinfomsg ifi;
        struct rtattr name_attr;
        char name[VS_IFNAME_MAX];
};

/* In the reaper: one RTM_DELLINK, and its acknowledgement read (the error,
 * if any, is nobody's to report: the kernel's cleanup of the VPS's network
 * namespace may have deleted the link first, and the sweep takes what is
 * left). */
static void delete_link(int fd, const struct reap_record *rec, unsigned seq)
{
        struct dellink_req req;
        char ack[1024];

        memset(&req, 0, sizeof(req));
        req.nh.nlmsg_len = sizeof(req);
        req.nh.nlmsg_type = RTM_DELLINK;
        req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        req.nh.nlmsg_seq = seq;
        req.ifi.ifi_family = AF_UNSPEC;
        if (rec->ifindex > 0) {
                req.ifi.ifi_index = rec->ifindex;
                req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifi));
        } else {
                req.name_attr.rta_type = IFLA_IFNAME;
                req.name_attr.rta_len = RTA_LENGTH(VS_IFNAME_MAX);
                memcpy(req.name, rec->name, VS_IFNAME_MAX);
        }
        if (send(fd, &req, req.nh.nlmsg_len, 0) < 0)
                return;
        while (recv(fd, ack, sizeof(ack), 0) < 0 && errno == EINTR)
                ;
}

/* The reaper's descriptors, at these numbers */
enum { REAPER_QUEUE_FD = 3, REAPER_NL_FD };

static __attribute__((noreturn)) void reaper_loop(void)
{
        struct reap_record rec;
        unsigned seq = 0;

        for (;;) {
                ssize_t got = read(REAPER_QUEUE_FD, &rec, sizeof(rec));

                if (got < 0 && errno == EINTR)
                        continue;
                if (got != (ssize_t)sizeof(rec))
                        _exit(0); /* vsd closed the queue: all is done */
                rec.name[VS_IFNAME_MAX - 1] = '\0';
                delete_link(REAPER_NL_FD, &rec, ++seq);
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

/* Down (a link that is up cannot be renamed before Linux 6.8, and down
 * its routes and bridge entries go), then "vsx-<ifindex>": unique while
 * the link exists. 1 when retired, 0 when there is no such link. The
 * ioctls go on vsd's netlink socket (vs_nl_ifreq), as the index's. */
static int retire_rename(struct nl_sock *sock, const char *name, char doomed[VS_IFNAME_MAX],
                         vs_error_t *err)
{
        struct ifreq ifr;
        int ifindex = vs_nl_ifindex(sock, name, err);

        if (ifindex <= 0)
                return ifindex;
        snprintf(doomed, VS_IFNAME_MAX, "%s%x", VS_NET_DOOMED_PREFIX, (unsigned)ifindex);
        memset(&ifr, 0, sizeof(ifr));
        vs_strlcpy(ifr.ifr_name, name, sizeof(ifr.ifr_name));
        if (vs_nl_ifreq(sock, SIOCGIFFLAGS, &ifr) < 0)
                return errno == ENODEV ? 0 : vs_error_errno(err, "read the flags of %s", name);
        ifr.ifr_flags &= ~IFF_UP;
        if (vs_nl_ifreq(sock, SIOCSIFFLAGS, &ifr) < 0)
                return errno == ENODEV ? 0 : vs_error_errno(err, "set %s down", name);
        vs_strlcpy(ifr.ifr_newname, doomed, sizeof(ifr.ifr_newname));
        if (vs_nl_ifreq(sock, SIOCSIFNAME, &ifr) < 0)
                return errno == ENODEV ? 0 : vs_error_errno(err, "rename %s", name);
        return 1;
}

/* Whether there is anything to do for the link `name`: a reaper runs, or
 * the link is there (or it cannot be told), and the reaper is made for it
 * (its descriptors are vsd's for good, so not for a link that is not
 * there); *rp stays NULL when it cannot be made, and the caller deletes. */
static int reaper_for(struct vs_reaper **rp, struct nl_sock *sock, const char *name)
{
        vs_error_t why = { 0 };

        if (*rp)
                return 1;
        if (vs_nl_ifindex(sock, name, NULL) == 0)
                return 0;
        *rp = reaper_start(&why);
        return 1;
}

/* One record to the reaper; 0 when the queue is full (or gone). */
static int queue(struct vs_reaper *r, int ifindex, const char *name)
{
        struct reap_record rec;

        memset(&rec, 0, sizeof(rec));
        rec.ifindex = ifindex;
        vs_strlcpy(rec.name, name, sizeof(rec.name));
        return write(r->queue, &rec, sizeof(rec)) == (ssize_t)sizeof(rec);
}

/* Renamed and queued by its doomed name; without a reaper (r NULL), or
 * when it cannot be renamed or the queue is full, deleted here. */
static int retire(struct vs_reaper *r, struct nl_sock *sock, const char *name, vs_error_t *err)
{
        char doomed[VS_IFNAME_MAX] = { 0 };
        vs_error_t why = { 0 };
        int rc = r ? retire_rename(sock, name, doomed, &why) : -1;

        if (rc == 0)
                return 0; /* gone already */
        if (rc > 0 && queue(r, 0, doomed))
                return 0;
        /* not renamed, or the queue is full: deleted here, under its name */
        return vs_nl_delete_link(sock, rc > 0 ? doomed : name, err);
}

int vs_reaper_retire(struct vs_reaper **rp, struct nl_sock *sock, const char *name, vs_error_t *err)
{
        return reaper_for(rp, sock, name) ? retire(*rp, sock, name, err) : 0;
}

int vs_reaper_doom(struct vs_reaper **rp, struct nl_sock *sock, const char *name, vs_error_t *err)
{
        int ifindex;

        if (!reaper_for(rp, sock, name))
                return 0;
        if (!*rp)
                return retire(NULL, sock, name, err);
        ifindex = vs_nl_ifindex(sock, name, err);
        if (ifindex <= 0)
                return ifindex; /* gone already (the kernel's netns cleanup), or an error */
        if (queue(*rp, ifindex, name))
                return 0;
        /* the queue is full: retired as before (renamed, or deleted here) */
        return retire(*rp, sock, name, err);
}
