/* The console keeper's loop: see keeper.h and console.c. */
#include "keeper.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

struct keeper {
        int client; /* the attached vsctl console, or -1 */
};

/* console.log gets the text without the terminal's carriage returns. */
static void log_output(const char *buf, size_t len)
{
        char clean[8192];
        size_t n = 0;

        for (size_t i = 0; i < len; i++) {
                if (buf[i] != '\r')
                        clean[n++] = buf[i];
                if (n == sizeof(clean)) {
                        (void)!write(VS_KEEPER_LOG, clean, n);
                        n = 0;
                }
        }
        if (n)
                (void)!write(VS_KEEPER_LOG, clean, n);
}

static void drop_client(struct keeper *k)
{
        if (k->client >= 0)
                close(k->client);
        k->client = -1;
}

/* Returns 0 when the master has nothing more now. */
static int from_vps(struct keeper *k)
{
        char buf[8192];
        ssize_t n = read(VS_KEEPER_MASTER, buf, sizeof(buf));

        if (n <= 0)
                return 0;
        log_output(buf, (size_t)n);
        /* a client too slow to read loses output, never the VPS its console */
        if (k->client >= 0 && send(k->client, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
            errno != EAGAIN)
                drop_client(k);
        return 1;
}

static void from_client(struct keeper *k)
{
        char buf[4096];
        ssize_t n = read(k->client, buf, sizeof(buf));

        if (n <= 0) {
                drop_client(k);
                return;
        }
        /* what the VPS does not read in time is dropped, as a serial line does */
        (void)!write(VS_KEEPER_MASTER, buf, (size_t)n);
}

static void accept_client(struct keeper *k)
{
        static const char busy[] = "console is in use by another session\r\n";
        int fd = accept4(VS_KEEPER_LISTEN, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

        if (fd < 0)
                return;
        if (k->client >= 0) {
                (void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL);
                close(fd);
                return;
        }
        k->client = fd;
}

void vs_keeper_run(void)
{
        struct keeper k = { .client = -1 };

        prctl(PR_SET_NAME, VS_KEEPER_ARGV0, 0, 0, 0);
        fcntl(VS_KEEPER_MASTER, F_SETFL, fcntl(VS_KEEPER_MASTER, F_GETFL) | O_NONBLOCK);
        for (;;) {
                struct pollfd p[4] = {
                        { VS_KEEPER_MASTER, POLLIN, 0 },
                        { VS_KEEPER_PIDFD, POLLIN, 0 },
                        { VS_KEEPER_LISTEN, POLLIN, 0 },
                        { k.client, POLLIN, 0 },
                };

                if (poll(p, 4, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        _exit(1);
                }
                if (p[0].revents & POLLIN)
                        from_vps(&k);
                if (p[2].revents)
                        accept_client(&k);
                if (p[3].revents)
                        from_client(&k);
                if (p[1].revents) {
                        /* the init ended: what it printed last is in the pty */
                        while (from_vps(&k))
                                ;
                        _exit(0);
                }
        }
}
