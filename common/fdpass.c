#include "vs/fdpass.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

union fd_control {
        char buf[CMSG_SPACE(sizeof(int) * VS_FDPASS_MAX)];
        struct cmsghdr align;
};

int vs_send_fds(int sock, const void *data, size_t len, const int *fds, int nfds)
{
        union fd_control control;
        struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t sent;

        if (nfds < 0 || nfds > VS_FDPASS_MAX) {
                errno = EINVAL;
                return -1;
        }
        if (nfds > 0) {
                struct cmsghdr *cmsg;

                memset(&control, 0, sizeof(control));
                mh.msg_control = control.buf;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
                cmsg = CMSG_FIRSTHDR(&mh);
                cmsg->cmsg_level = SOL_SOCKET;
                cmsg->cmsg_type = SCM_RIGHTS;
                cmsg->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
                memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * (size_t)nfds);
        }
        do
                sent = sendmsg(sock, &mh, MSG_NOSIGNAL);
        while (sent < 0 && errno == EINTR);
        return sent < 0 ? -1 : 0;
}

static void take_fds(struct msghdr *mh, int *fds, int *nfds)
{
        int got = 0;

        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
                size_t n;

                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < n; i++) {
                        int fd;

                        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                        if (fds && got < VS_FDPASS_MAX)
                                fds[got++] = fd;
                        else
                                close(fd);
                }
        }
        if (nfds)
                *nfds = got;
}

ssize_t vs_recv_fds(int sock, void *buf, size_t len, int *fds, int *nfds, int *truncated)
{
        union fd_control control;
        struct iovec iov = { .iov_base = buf, .iov_len = len };
        struct msghdr mh = { .msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = control.buf,
                             .msg_controllen = sizeof(control.buf) };
        ssize_t got;

        if (nfds)
                *nfds = 0;
        do
                got = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        while (got < 0 && errno == EINTR);
        if (got < 0)
                return -1;
        take_fds(&mh, fds, nfds);
        if (truncated)
                *truncated = (mh.msg_flags & MSG_TRUNC) != 0;
        return got;
}
