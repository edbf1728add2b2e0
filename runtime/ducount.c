/* How many bytes a VPS's own layer takes is a walk of every file in it
 * (the dir backend has no counter of its own), and a VPS can hold a
 * million files: counted in vsd's loop, each `status` or `list -o disk` of
 * it held every other client for seconds. So the loop counts a layer only
 * up to DU_BUDGET entries; a larger one is counted by the counter, a fork
 * of vsd made at its start, at nice 10, holding only the VPS directory and
 * two pipes, and its figure is at most DU_FRESH_MS old when it is asked
 * for (a recount is asked then). Until its first count ends, a large
 * layer has no figure. Without a counter (it could not start, or died),
 * vsd counts in full itself, as before. */
#include "ducount.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/cowfs.h"
#include "vs/fsutil.h"
#include "vs/log.h"
#include "vs/parse.h"
#include "vsd.h"

#define DU_BUDGET 20000   /* entries the loop looks at: about 10 ms */
#define DU_FRESH_MS 10000 /* a large layer's figure is recounted after */
#define DU_NICE 10
enum { DU_VPS_FD = 3, DU_QUEUE_FD, DU_ANSWER_FD };

/* A question and its answer, of a fixed size below PIPE_BUF (atomic, so
 * records never interleave). */
struct du_record {
        char name[VS_NAME_MAX + 1];
        uint64_t seq;
        uint64_t bytes;
        uint64_t big; /* the layer had more than DU_BUDGET entries */
};

static void count_one(struct du_record *r)
{
        cleanup_free char *upper = vs_strdupf("%s/upper", r->name);
        cleanup_close int fd = openat(DU_VPS_FD, upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        uint64_t small;

        r->bytes = 0;
        r->big = 1;
        if (fd < 0)
                return; /* destroyed meanwhile: vsd drops the answer */
        r->big = !vs_du_at_bounded(fd, DU_BUDGET, &small);
        r->bytes = r->big ? vs_du_at(fd) : small;
}

static __attribute__((noreturn)) void counter_loop(void)
{
        struct du_record r;

        for (;;) {
                ssize_t n = read(DU_QUEUE_FD, &r, sizeof(r));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n != (ssize_t)sizeof(r))
                        _exit(0); /* vsd closed the queue, or is gone */
                r.name[sizeof(r.name) - 1] = '\0';
                count_one(&r);
                if (write(DU_ANSWER_FD, &r, sizeof(r)) != (ssize_t)sizeof(r))
                        _exit(0);
        }
}

static __attribute__((noreturn)) void counter_main(int vps_fd, int queue, int answer, pid_t vsd)
{
        int keep[] = { vps_fd, queue, answer }; /* to DU_VPS_FD, DU_QUEUE_FD, DU_ANSWER_FD */

        if (vs_helper_setup(vsd, "vsd-du", keep, 3) < 0)
                _exit(1);
        (void)!setpriority(PRIO_PROCESS, 0, DU_NICE);
        counter_loop();
}

int vsd_du_start(struct vsd *d, vs_error_t *err)
{
        int queue[2], answer[2];
        pid_t vsd = getpid(), pid;

        if (pipe2(queue, O_CLOEXEC) < 0)
                return vs_error_errno(err, "the counter's queue");
        if (pipe2(answer, O_CLOEXEC | O_NONBLOCK) < 0) {
                close(queue[0]);
                close(queue[1]);
                return vs_error_errno(err, "the counter's answers");
        }
        pid = fork();
        if (pid == 0)
                counter_main(d->vps_fd, queue[0], answer[1], vsd);
        close(queue[0]);
        close(answer[1]);
        d->du_queue_fd = queue[1];
        d->du_answer_fd = answer[0];
        d->du_pid = pid;
        d->du_ev = (struct ev){ EV_DU, NULL };
        /* a full queue must not stop vsd's loop: the question waits for
         * the next status */
        if (pid < 0 || fcntl(queue[1], F_SETFL, O_NONBLOCK) < 0 ||
            vsd_epoll_add(d, answer[0], &d->du_ev, EPOLLIN) < 0) {
                vs_error_errno(err, "start the counter of VPS's layers");
                vsd_du_close(d);
                return -1;
        }
        return 0;
}

void vsd_du_close(struct vsd *d)
{
        if (d->du_answer_fd >= 0) {
                vsd_epoll_del(d, d->du_answer_fd);
                close(d->du_answer_fd);
        }
        if (d->du_queue_fd >= 0)
                close(d->du_queue_fd);
        /* its count is worth nothing to a vsd that goes; and a counter
         * that closed its end is on its way out: either is reaped here */
        if (d->du_pid > 0) {
                kill(d->du_pid, SIGKILL);
                waitpid(d->du_pid, NULL, 0);
        }
        d->du_queue_fd = d->du_answer_fd = -1;
        d->du_pid = 0;
}

void vsd_du_forget(struct vsd *d)
{
        d->du_queue_fd = d->du_answer_fd = -1;
        d->du_pid = -1; /* a fork: see vsd_du_bytes */
}

static void counter_gone(struct vsd *d)
{
        vs_log(LOG_WARNING, "the counter of VPS's layers is gone: vsd counts them itself");
        vsd_du_close(d);
        for (struct vps *v = d->vps_list; v; v = v->next)
                v->du.pending = 0;
}

static void ask(struct vsd *d, struct vps *v)
{
        struct du_record r = { .seq = v->du.seq + 1 };

        vs_strlcpy(r.name, v->name, sizeof(r.name));
        if (write(d->du_queue_fd, &r, sizeof(r)) == (ssize_t)sizeof(r)) {
                v->du.seq = r.seq;
                v->du.pending = 1;
        } else if (errno == EPIPE) {
                counter_gone(d);
        }
}

void vsd_du_answered(struct vsd *d)
{
        struct du_record r;
        ssize_t n;

        while ((n = read(d->du_answer_fd, &r, sizeof(r))) == (ssize_t)sizeof(r)) {
                struct vps *v;

                r.name[sizeof(r.name) - 1] = '\0';
                v = vsd_vps_find(d, r.name);
                if (!v || !v->du.pending || v->du.seq != r.seq)
                        continue; /* destroyed, or a new VPS of that name */
                v->du = (struct vsd_du){ .bytes = r.bytes,
                                         .at_ms = vs_monotonic_ms(),
                                         .seq = r.seq,
                                         .big = (int)r.big };
        }
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                counter_gone(d);
}

/* Counts in the loop what is small, or everything where there is no
 * counter. Returns 1 with *bytes, 0 for a layer too large. */
static int count_here(struct vsd *d, struct vps *v, uint64_t *bytes)
{
        cleanup_free char *upper = vs_strdupf("%s/upper", v->name);
        cleanup_close int fd = openat(d->vps_fd, upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0) {
                *bytes = 0;
                return 1;
        }
        if (d->du_queue_fd < 0) {
                *bytes = vs_du_at(fd);
                return 1;
        }
        if (!vs_du_at_bounded(fd, DU_BUDGET, bytes))
                return 0;
        v->du = (struct vsd_du){ .bytes = *bytes, .at_ms = vs_monotonic_ms(), .seq = v->du.seq };
        return 1;
}

int vsd_du_bytes(struct vsd *d, struct vps *v, uint64_t *bytes)
{
        /* a fork of vsd takes the counter's figure where vsd has one */
        if (d->du_pid < 0 && v->du.big && v->du.at_ms) {
                *bytes = v->du.bytes;
                return 1;
        }
        if ((!v->du.big || d->du_queue_fd < 0) && count_here(d, v, bytes))
                return 1;
        v->du.big = 1;
        if (!v->du.pending && (!v->du.at_ms || vs_monotonic_ms() - v->du.at_ms >= DU_FRESH_MS))
                ask(d, v);
        *bytes = v->du.bytes;
        return v->du.at_ms != 0;
}
