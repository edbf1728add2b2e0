/* Metrics in Prometheus's text exposition format (version 0.0.4): per VPS
 * what vsctl stats and list show (CPU, throttling, memory and its limit,
 * swap, OOM kills, processes, I/O, network, disk, state, start time), per
 * node the VPS by state and the reservations against the capacity. The
 * same text answers `vsctl metrics` and, when vsd.conf sets metrics_listen
 * (unix:PATH or ADDR:PORT, read at vsd's start), HTTP GETs of /metrics. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/kvfile.h"
#include "vs/limits.h"
#include "vs/log.h"
#include "vs/parse.h"
#include "store.h"
#include "vsd.h"

#define REQUEST_MAX 8192
#define SEND_TIMEOUT_S 5
/* Answers under way at once; past them a request gets 503 at once. */
#define RESPONDERS_MAX 4

/* A text that grows as it is written. */
struct text {
        char *buf;
        size_t len, cap;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...)
{
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if (t->len + (size_t)n + 1 > t->cap) {
                t->cap = (t->len + (size_t)n + 1) * 2;
                t->buf = realloc(t->buf, t->cap);
                if (!t->buf)
                        abort();
        }
        va_start(ap, fmt);
        vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        t->len += (size_t)n;
}

static void family(struct text *t, const char *name, const char *type, const char *help)
{
        put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A VPS as the metrics see it: its description, and what only the config
 * holds (the memory limit). */
struct row {
        vs_vps_info_t vps;
        struct vps *v;
        double mem_limit; /* bytes, INFINITY: none */
};

/* A per-VPS figure read from the description, scaled (µs to seconds). */
static const struct {
        const char *name, *type;
        vs_vps_field_t field;
        const char *help;
        double scale;
} per_vps[] = {
        { "paene_vps_cpu_seconds_total", "counter", VS_VF_CPU_USEC,
          "CPU time the VPS's processes used, in seconds.", 1e-6 },
        { "paene_vps_cpu_throttled_seconds_total", "counter", VS_VF_THROTTLED_USEC,
          "Time the VPS's CPU cap held its processes back, in seconds.", 1e-6 },
        { "paene_vps_cpu_throttled_periods_total", "counter", VS_VF_NR_THROTTLED,
          "CPU periods in which the cap held the VPS back.", 1 },
        { "paene_vps_memory_usage_bytes", "gauge", VS_VF_MEM_BYTES,
          "Memory the VPS uses (its cgroup's usage), in bytes.", 1 },
        { "paene_vps_memory_peak_bytes", "gauge", VS_VF_MEM_PEAK,
          "The most memory the VPS used, in bytes.", 1 },
        { "paene_vps_swap_usage_bytes", "gauge", VS_VF_SWAP_BYTES, "Swap the VPS uses, in bytes.",
          1 },
        { "paene_vps_oom_kills_total", "counter", VS_VF_OOM_KILLS,
          "Processes of the VPS the OOM killer killed in its current or last run.", 1 },
        { "paene_vps_pids", "gauge", VS_VF_NPROC, "Processes and threads in the VPS.", 1 },
        { "paene_vps_io_read_bytes_total", "counter", VS_VF_IO_READ_BYTES,
          "Bytes the VPS read from block devices.", 1 },
        { "paene_vps_io_write_bytes_total", "counter", VS_VF_IO_WRITE_BYTES,
          "Bytes the VPS wrote to block devices.", 1 },
        { "paene_vps_io_read_ops_total", "counter", VS_VF_IO_READ_OPS,
          "Read operations of the VPS on block devices.", 1 },
        { "paene_vps_io_write_ops_total", "counter", VS_VF_IO_WRITE_OPS,
          "Write operations of the VPS on block devices.", 1 },
        { "paene_vps_network_receive_bytes_total", "counter", VS_VF_RX_BYTES,
          "Bytes the VPS received on its eth0.", 1 },
        { "paene_vps_network_transmit_bytes_total", "counter", VS_VF_TX_BYTES,
          "Bytes the VPS sent on its eth0.", 1 },
        { "paene_vps_network_receive_packets_total", "counter", VS_VF_RX_PACKETS,
          "Packets the VPS received on its eth0.", 1 },
        { "paene_vps_network_transmit_packets_total", "counter", VS_VF_TX_PACKETS,
          "Packets the VPS sent on its eth0.", 1 },
        { "paene_vps_disk_used_bytes", "gauge", VS_VF_DISK,
          "Space the VPS's own files (its copy-on-write layer) take, in bytes.", 1 },
};

static void put_value(struct text *t, double value)
{
        if (isinf(value))
                put(t, "+Inf\n");
        else if (value == floor(value) && fabs(value) < 1e15)
                put(t, "%.0f\n", value);
        else
                put(t, "%.6f\n", value);
}

static double config_mem_limit(struct vsd *d, struct vps *v)
{
        cleanup_kv vs_kv_t config = { 0 };
        vs_limits_t l;

        if (vsd_config_load(d, v->name, &config, NULL) < 0 ||
            vs_limits_from_config(&config, &l, NULL) < 0 || !VS_LIMIT_IS_SET(&l, VS_LIM_RAM))
                return INFINITY;
        return (double)l.value[VS_LIM_RAM];
}

static void put_vps_families(struct text *t, const struct row *rows, size_t n)
{
        static const char *const states[] = { "running", "stopping", "stopped" };

        for (size_t f = 0; f < sizeof(per_vps) / sizeof(per_vps[0]); f++) {
                family(t, per_vps[f].name, per_vps[f].type, per_vps[f].help);
                for (size_t i = 0; i < n; i++) {
                        put(t, "%s{vps=\"%s\"} ", per_vps[f].name, rows[i].v->name);
                        put_value(t, (double)rows[i].vps.num[per_vps[f].field] * per_vps[f].scale);
                }
        }
        family(t, "paene_vps_memory_limit_bytes", "gauge",
               "The VPS's memory limit (--ram), in bytes; +Inf: none.");
        for (size_t i = 0; i < n; i++) {
                put(t, "paene_vps_memory_limit_bytes{vps=\"%s\"} ", rows[i].v->name);
                put_value(t, rows[i].mem_limit);
        }
        family(t, "paene_vps_disk_limit_bytes", "gauge",
               "The VPS's disk limit (--diskspace), in bytes; +Inf: none.");
        for (size_t i = 0; i < n; i++) {
                long long limit = rows[i].vps.num[VS_VF_DISKLIMIT];

                put(t, "paene_vps_disk_limit_bytes{vps=\"%s\"} ", rows[i].v->name);
                put_value(t, limit > 0 ? (double)limit : INFINITY);
        }
        family(t, "paene_vps_state", "gauge", "1 for the state the VPS is in, 0 for the others.");
        for (size_t i = 0; i < n; i++)
                for (size_t s = 0; s < 3; s++)
                        put(t, "paene_vps_state{vps=\"%s\",state=\"%s\"} %d\n", rows[i].v->name,
                            states[s], strcmp(vsd_phase_name(rows[i].v->phase), states[s]) == 0);
        family(t, "paene_vps_start_time_seconds", "gauge",
               "When the running VPS started, in seconds since the epoch.");
        for (size_t i = 0; i < n; i++)
                if (rows[i].v->phase != PHASE_STOPPED)
                        put(t, "paene_vps_start_time_seconds{vps=\"%s\"} %lld\n", rows[i].v->name,
                            rows[i].v->started_at);
}

static void put_node_families(struct vsd *d, struct text *t, const struct row *rows, size_t n)
{
        static const enum phase phases[] = { PHASE_RUNNING, PHASE_STOPPING, PHASE_STOPPED };
        vs_reserve_t reserved = vsd_reserved(d, NULL);
        vs_node_t node;

        family(t, "paene_node_vps", "gauge", "VPS of this node by state.");
        for (size_t p = 0; p < 3; p++) {
                size_t count = 0;

                for (size_t i = 0; i < n; i++)
                        count += rows[i].v->phase == phases[p];
                put(t, "paene_node_vps{state=\"%s\"} %zu\n", vsd_phase_name(phases[p]), count);
        }
        if (vsd_node(d, &node, NULL) < 0)
                return; /* a vsd.conf that does not parse: vsctl node says why */
        family(t, "paene_node_cpus", "gauge", "CPUs the node offers (vsd.conf node_cpus).");
        put(t, "paene_node_cpus %.6f\n", (double)node.capacity.cpu_micro / 1e6);
        family(t, "paene_node_memory_bytes", "gauge",
               "Memory the node offers (vsd.conf node_memory), in bytes.");
        put(t, "paene_node_memory_bytes %llu\n", (unsigned long long)node.capacity.mem_bytes);
        family(t, "paene_node_reserved_cpus", "gauge",
               "CPU the running VPS have reserved (--cpu-reserve).");
        put(t, "paene_node_reserved_cpus %.6f\n", (double)reserved.cpu_micro / 1e6);
        family(t, "paene_node_reserved_memory_bytes", "gauge",
               "Memory the running VPS have reserved (--ram-reserve), in bytes.");
        put(t, "paene_node_reserved_memory_bytes %llu\n", (unsigned long long)reserved.mem_bytes);
}

static int by_name(const void *a, const void *b)
{
        return strcmp(((const struct row *)a)->v->name, ((const struct row *)b)->v->name);
}

char *vsd_metrics_text(struct vsd *d, const struct client *viewer, size_t *len)
{
        struct text t = { 0 };
        struct row *rows;
        size_t n = 0;

        for (struct vps *v = d->vps_list; v; v = v->next)
                n++;
        rows = vs_xmalloc((n + 1) * sizeof(*rows));
        n = 0;
        for (struct vps *v = d->vps_list; v; v = v->next) {
                if (viewer && !vsd_authz_sees(d, viewer, v))
                        continue;
                vsd_vps_describe(d, v, 1, VS_VF_ALL, &rows[n].vps);
                rows[n].v = v;
                rows[n].mem_limit = config_mem_limit(d, v);
                n++;
        }
        qsort(rows, n, sizeof(*rows), by_name);
        put(&t, "%s", "");
        put_vps_families(&t, rows, n);
        if (!viewer || viewer->role == VSD_ROLE_ADMIN)
                put_node_families(d, &t, rows, n); /* the node is the admins' */
        free(rows);
        *len = t.len;
        return t.buf;
}

/* ---- HTTP ---- */

struct metrics_client {
        struct ev ev;
        int fd;
        size_t len;
        char buf[REQUEST_MAX];
        struct metrics_client *next;
};

/* A fork of vsd that writes one answer: the text's reads (a du of each
 * VPS's layer among them) and a send that waits for a slow reader hold it,
 * not vsd's loop. */
struct responder {
        struct ev ev;
        pid_t pid;
        int pidfd;
        struct responder *next;
};

struct vsd_metrics {
        int listen_fd;
        struct ev ev;
        char unix_path[108]; /* removed at exit, or "" */
        struct metrics_client *clients;
        struct responder *responders;
        size_t nresponders;
};

static int listen_unix(struct vsd_metrics *m, const char *path, vs_error_t *err)
{
        struct sockaddr_un addr = { .sun_family = AF_UNIX };
        struct stat st;

        if (path[0] != '/' || strlen(path) >= sizeof(addr.sun_path))
                return vs_error_set(err, EINVAL,
                                    "unix:%s is not an absolute path of at most %zu "
                                    "bytes",
                                    path, sizeof(addr.sun_path) - 1);
        vs_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
        /* a socket left by an earlier vsd; anything else is not ours */
        if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
                unlink(path);
        m->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (m->listen_fd < 0 || bind(m->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
                return vs_error_errno(err, "bind %s", path);
        /* read-only figures: whoever may reach the path may scrape */
        chmod(path, 0666);
        vs_strlcpy(m->unix_path, path, sizeof(m->unix_path));
        return 0;
}

static int listen_tcp(struct vsd_metrics *m, const char *text, vs_error_t *err)
{
        cleanup_free char *host = vs_xstrdup(text);
        char *colon = strrchr(host, ':');
        struct sockaddr_storage ss = { 0 };
        socklen_t sslen;
        uint64_t port;
        int one = 1;

        if (!colon || vs_parse_uint(colon + 1, 1, 65535, "port", &port, err) < 0)
                return vs_error_set(err, EINVAL, "'%s' is not unix:PATH or ADDR:PORT", text);
        *colon = '\0';
        if (host[0] == '[' && colon > host && colon[-1] == ']') {
                colon[-1] = '\0';
                memmove(host, host + 1, strlen(host));
        }
        if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
                ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
                ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
                sslen = sizeof(struct sockaddr_in);
        } else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
                ((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
                ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
                sslen = sizeof(struct sockaddr_in6);
        } else {
                return vs_error_set(err, EINVAL, "'%s' is not an IPv4 or IPv6 address", host);
        }
        m->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (m->listen_fd < 0)
                return vs_error_errno(err, "socket");
        setsockopt(m->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(m->listen_fd, (struct sockaddr *)&ss, sslen) < 0)
                return vs_error_errno(err, "bind %s", text);
        return 0;
}

int vsd_metrics_listen(struct vsd *d, vs_error_t *err)
{
        cleanup_kv vs_kv_t conf = { 0 };
        struct vsd_metrics *m;
        const char *where;
        int rc;

        if (vsd_conf_load(d, &conf, err) < 0)
                return -1;
        if (!(where = vs_kv_get(&conf, "metrics_listen")) || !*where)
                return 0;
        m = vs_xmalloc(sizeof(*m));
        memset(m, 0, sizeof(*m));
        m->ev = (struct ev){ EV_METRICS_LISTEN, m };
        rc = strncmp(where, "unix:", 5) == 0 ? listen_unix(m, where + 5, err)
                                             : listen_tcp(m, where, err);
        if (rc < 0 || listen(m->listen_fd, 64) < 0 ||
            vsd_epoll_add(d, m->listen_fd, &m->ev, EPOLLIN) < 0) {
                if (rc == 0)
                        vs_error_errno(err, "listen %s", where);
                if (m->listen_fd > 0)
                        close(m->listen_fd);
                free(m);
                return vs_error_wrap(err, "vsd.conf: metrics_listen");
        }
        d->metrics = m;
        vs_log(LOG_INFO, "metrics on %s", where);
        return 0;
}

static void client_end(struct vsd *d, struct metrics_client *c)
{
        struct vsd_metrics *m = d->metrics;

        for (struct metrics_client **p = &m->clients; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        vsd_epoll_del(d, c->fd);
        close(c->fd);
        free(c);
}

static void send_all(int fd, const char *data, size_t len)
{
        while (len > 0) {
                ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return; /* gone, or too slow for SEND_TIMEOUT_S */
                data += n;
                len -= (size_t)n;
        }
}

static char *head_of(const char *status, size_t len)
{
        return vs_strdupf("HTTP/1.0 %s\r\nContent-Type: text/plain; version=0.0.4; "
                          "charset=utf-8\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                          status, len);
}

/* The answer to a whole request, sent with a bounded wait, in one piece. */
static void answer(struct vsd *d, const char *request, int fd)
{
        struct timeval timeout = { SEND_TIMEOUT_S, 0 };
        cleanup_free char *body = NULL;
        cleanup_free char *head = NULL;
        const char *status = "200 OK";
        size_t len = 0;

        if (strncmp(request, "GET ", 4) != 0 && strncmp(request, "HEAD ", 5) != 0)
                status = "405 Method Not Allowed";
        else if (strncmp(strchr(request, ' ') + 1, "/metrics ", 9) != 0 &&
                 strncmp(strchr(request, ' ') + 1, "/metrics?", 9) != 0)
                status = "404 Not Found";
        if (strcmp(status, "200 OK") == 0)
                body = vsd_metrics_text(d, NULL, &len);
        else
                body = vs_strdupf("%s\n", status), len = strlen(body);
        head = head_of(status, len);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
        send_all(fd, head, strlen(head));
        if (strncmp(request, "HEAD ", 5) != 0)
                send_all(fd, body, len);
}

/* In the responder: it answers and ends, with vsd too. It leaves vsd's
 * epoll set alone (shared with vsd's) and gives up vsd's lock and
 * socket, which the next vsd must find free. */
static __attribute__((noreturn)) void responder_main(struct vsd *d, struct metrics_client *c,
                                                     pid_t vsd)
{
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != vsd)
                _exit(1);
        close(d->lock_fd);
        close(d->listen_fd);
        close(d->metrics->listen_fd);
        vsd_du_forget(d);
        answer(d, c->buf, c->fd);
        _exit(0);
}

static int start_responder(struct vsd *d, struct metrics_client *c)
{
        struct vsd_metrics *m = d->metrics;
        struct responder *r;
        pid_t vsd = getpid(), pid;
        int pidfd;

        if (m->nresponders >= RESPONDERS_MAX)
                return -1;
        pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0)
                responder_main(d, c, vsd);
        pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        r = vs_xmalloc(sizeof(*r));
        *r = (struct responder){ .ev = { EV_METRICS_RESPONDER, r }, .pid = pid, .pidfd = pidfd };
        if (pidfd < 0 || vsd_epoll_add(d, pidfd, &r->ev, EPOLLIN) < 0) {
                /* unwatched, it is waited for here: it ends within the send's timeout */
                waitpid(pid, NULL, 0);
                if (pidfd >= 0)
                        close(pidfd);
                free(r);
                return 0;
        }
        r->next = m->responders;
        m->responders = r;
        m->nresponders++;
        return 0;
}

static void responder_end(struct vsd *d, struct responder *r)
{
        struct vsd_metrics *m = d->metrics;

        for (struct responder **p = &m->responders; *p; p = &(*p)->next)
                if (*p == r) {
                        *p = r->next;
                        break;
                }
        m->nresponders--;
        vsd_epoll_del(d, r->pidfd);
        waitpid(r->pid, NULL, 0);
        close(r->pidfd);
        free(r);
}

/* The whole request is in: a responder answers it, or, with as many under
 * way as there may be, a short 503 at once (it fits any socket's buffer);
 * vsd hangs up its side. */
static void respond(struct vsd *d, struct metrics_client *c)
{
        static const char busy[] = "503 Service Unavailable\n";

        if (start_responder(d, c) < 0) {
                cleanup_free char *head = head_of("503 Service Unavailable", sizeof(busy) - 1);

                (void)!send(c->fd, head, strlen(head), MSG_DONTWAIT | MSG_NOSIGNAL);
                (void)!send(c->fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        }
        client_end(d, c);
}

static void client_readable(struct vsd *d, struct metrics_client *c)
{
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, MSG_DONTWAIT);

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n <= 0) {
                client_end(d, c);
                return;
        }
        c->len += (size_t)n;
        c->buf[c->len] = '\0';
        if (strstr(c->buf, "\r\n\r\n") || strstr(c->buf, "\n\n")) {
                if (!strchr(c->buf, ' '))
                        client_end(d, c);
                else
                        respond(d, c);
        } else if (c->len == sizeof(c->buf) - 1) {
                client_end(d, c); /* no request is this long */
        }
}

static void accept_clients(struct vsd *d)
{
        struct vsd_metrics *m = d->metrics;

        for (;;) {
                int fd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                struct metrics_client *c;

                if (fd < 0)
                        return;
                c = vs_xmalloc(sizeof(*c));
                c->fd = fd;
                c->len = 0;
                c->ev = (struct ev){ EV_METRICS_CLIENT, c };
                c->next = m->clients;
                m->clients = c;
                if (vsd_epoll_add(d, fd, &c->ev, EPOLLIN) < 0)
                        client_end(d, c);
        }
}

void vsd_metrics_event(struct vsd *d, struct ev *ev)
{
        if (!d->metrics)
                return;
        if (ev->kind == EV_METRICS_LISTEN)
                accept_clients(d);
        else if (ev->kind == EV_METRICS_RESPONDER)
                responder_end(d, ev->owner);
        else
                client_readable(d, ev->owner);
}

void vsd_metrics_close(struct vsd *d)
{
        struct vsd_metrics *m = d->metrics;

        if (!m)
                return;
        while (m->clients)
                client_end(d, m->clients);
        while (m->responders) {
                kill(m->responders->pid, SIGKILL); /* no wait for a slow reader at exit */
                responder_end(d, m->responders);
        }
        close(m->listen_fd);
        if (m->unix_path[0])
                unlink(m->unix_path);
        free(m);
        d->metrics = NULL;
}
