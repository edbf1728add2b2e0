/* The Debian builder's look at its archive before debootstrap runs: a
 * mirror that does not answer, a proxy that refuses and a suite the mirror
 * has not are each named in one line, where debootstrap would print pages
 * and end with "Failed getting release file". Plain HTTP only (what
 * debootstrap's wget and apt use through an http_proxy); an https mirror is
 * left to debootstrap. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/cowfs.h"
#include "vs/fsutil.h"

#define PROBE_TIMEOUT_MS 15000
#define URL_MAX 1024

struct url {
        char host[256];
        char port[8];
        char path[URL_MAX];
};

/* Characters a mirror or proxy URL may hold: no blanks, quotes or controls
 * (they reach debootstrap's command line and sources.list). */
static int url_chars_ok(const char *url)
{
        for (const char *p = url; *p; p++)
                if (*p <= ' ' || *p >= 0x7f || strchr("\"'`\\<>{}|^", *p))
                        return 0;
        return 1;
}

/* http://HOST[:PORT][/PATH]; a bracketed IPv6 host as [ADDR]. */
static int url_parse(const char *url, struct url *u)
{
        const char *host = url + strlen("http://"), *end, *colon;
        size_t len;

        if (strncmp(url, "http://", 7) != 0)
                return -1;
        end = host + strcspn(host, "/");
        if (*host == '[') {
                const char *close = memchr(host, ']', (size_t)(end - host));

                if (!close)
                        return -1;
                len = (size_t)(close - host - 1);
                if (len == 0 || len >= sizeof(u->host))
                        return -1;
                memcpy(u->host, host + 1, len);
                u->host[len] = '\0';
                colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
        } else {
                colon = memchr(host, ':', (size_t)(end - host));
                len = (size_t)((colon ? colon : end) - host);
                if (len == 0 || len >= sizeof(u->host))
                        return -1;
                memcpy(u->host, host, len);
                u->host[len] = '\0';
        }
        if (colon) {
                len = (size_t)(end - colon - 1);
                if (len == 0 || len >= sizeof(u->port) || strspn(colon + 1, "0123456789") < len)
                        return -1;
                memcpy(u->port, colon + 1, len);
                u->port[len] = '\0';
        } else {
                strcpy(u->port, "80");
        }
        if (strlen(end) >= sizeof(u->path))
                return -1;
        strcpy(u->path, *end ? end : "/");
        return 0;
}

int vs_archive_check_url(const char *url, const char *what, int https_ok, vs_error_t *err)
{
        struct url u;

        if (strlen(url) >= URL_MAX || !url_chars_ok(url))
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "%s '%s' is not a URL", what, url);
        if (https_ok && strncmp(url, "https://", 8) == 0 && url[8] && url[8] != '/')
                return 0;
        if (url_parse(url, &u) < 0)
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "%s '%s' is not an http://HOST[:PORT]/ URL%s", what, url,
                                     https_ok ? " (or https://)" : "");
        return 0;
}

/* The probe's whole time, from its start: a mirror that answers a byte at a
 * time cannot stretch it (a wait of its own per read could). */
static long long probe_deadline_ms;

static long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for fd to be ready (POLLIN or POLLOUT) within what is left of the
 * probe's time. */
static int wait_ready(int fd, short events)
{
        struct pollfd p = { .fd = fd, .events = events };
        long long left;
        int n;

        do {
                left = probe_deadline_ms - now_ms();
                n = left > 0 ? poll(&p, 1, (int)left) : 0;
        } while (n < 0 && errno == EINTR);
        if (n == 0)
                errno = ETIMEDOUT;
        return n > 0 ? 0 : -1;
}

/* A connected socket to host:port, or -1 with errno (ETIMEDOUT after the
 * probe's time; EHOSTUNREACH for a name that does not resolve). */
static int dial(const struct url *u)
{
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *ai;
        int fd = -1, saved = EHOSTUNREACH;

        if (getaddrinfo(u->host, u->port, &hints, &res) != 0) {
                errno = EHOSTUNREACH;
                return -1;
        }
        for (ai = res; ai; ai = ai->ai_next) {
                int soerr = 0;
                socklen_t len = sizeof(soerr);

                fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (fd < 0)
                        continue;
                if ((connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
                     (errno == EINPROGRESS && wait_ready(fd, POLLOUT) == 0 &&
                      getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0)))
                        break;
                saved = soerr ? soerr : errno;
                close(fd);
                fd = -1;
        }
        freeaddrinfo(res);
        if (fd < 0)
                errno = saved;
        return fd;
}

/* Sends a HEAD request and returns the status code of the answer, or -1
 * with errno. */
static int head_status(int fd, const char *target, const char *host)
{
        cleanup_free char *req = vs_strdupf("HEAD %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
                                            "User-Agent: paene-vsd\r\n\r\n",
                                            target, host);
        char buf[512];
        size_t len = strlen(req), off = 0, got = 0;
        int code;

        while (off < len) {
                ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);

                if (n < 0 && errno == EAGAIN && wait_ready(fd, POLLOUT) == 0)
                        continue;
                if (n < 0)
                        return -1;
                off += (size_t)n;
        }
        while (got < sizeof(buf) - 1 && !memchr(buf, '\n', got)) {
                ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);

                if (n < 0 && errno == EAGAIN && wait_ready(fd, POLLIN) == 0)
                        continue;
                if (n < 0)
                        return -1;
                if (n == 0)
                        break;
                got += (size_t)n;
        }
        buf[got] = '\0';
        if (sscanf(buf, "HTTP/%*d.%*d %d", &code) != 1) {
                errno = EPROTO;
                return -1;
        }
        return code;
}

int vs_archive_probe(const char *mirror, const char *suite, const char *proxy, vs_error_t *err)
{
        cleanup_free char *release =
                vs_strdupf("%s%sdists/%s/Release", mirror,
                           mirror[strlen(mirror) - 1] == '/' ? "" : "/", suite);
        cleanup_close int fd = -1;
        struct url m, p;
        int code;

        if (strncmp(mirror, "http://", 7) != 0)
                return 0; /* https: debootstrap's to check */
        probe_deadline_ms = now_ms() + PROBE_TIMEOUT_MS;
        if (url_parse(release, &m) < 0 || (proxy && url_parse(proxy, &p) < 0))
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "'%s' is not a URL",
                                     proxy ? proxy : mirror);
        fd = dial(proxy ? &p : &m);
        if (fd < 0 && proxy)
                return vs_error_kind(err, VS_E_USAGE, errno, "proxy %s refuses: %s", proxy,
                                     strerror(errno));
        if (fd < 0)
                return vs_error_kind(
                        err, VS_E_USAGE, errno, "mirror %s does not answer: %s", mirror,
                        errno == EHOSTUNREACH ? "its name does not resolve" : strerror(errno));
        code = head_status(fd, proxy ? release : m.path, m.host);
        if (code < 0)
                return vs_error_kind(err, VS_E_USAGE, errno, "%s %s does not answer: %s",
                                     proxy ? "proxy" : "mirror", proxy ? proxy : mirror,
                                     strerror(errno));
        if (code == 404 || code == 410)
                return vs_error_kind(err, VS_E_NOTFOUND, ENOENT,
                                     "unknown suite '%s': %s has no dists/%s/Release", suite,
                                     mirror, suite);
        if (code >= 400 && proxy)
                return vs_error_kind(err, VS_E_USAGE, EACCES,
                                     "proxy %s refuses: it answered %d for %s", proxy, code,
                                     release);
        if (code >= 400)
                return vs_error_kind(err, VS_E_USAGE, EIO,
                                     "mirror %s does not answer: it answered %d for %s", mirror,
                                     code, release);
        return 0;
}
