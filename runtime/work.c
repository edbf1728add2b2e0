/* Long work outside the loop: a clone of thousands of files, a template
 * import of hundreds of MB, a template build, unify. vsd forks a worker (a
 * copy of itself, at nice 10) that does the work and writes its reply into
 * a pipe; the loop goes on serving everybody else, and when the worker's
 * pidfd says it ended, vsd finishes (a clone is published here, in the one
 * process that owns the VPS list) and answers. A worker that dies without a
 * reply gets its client an error, never silence. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/log.h"
#include "vs/parse.h"
#include "serve.h"

#define WORK_NICE 10
#define RESULT_MAX 65536 /* a pipe's buffer: the worker never blocks on it */

/* In the worker: nothing of vsd's loop is its to touch; it ends with vsd. */
static void worker_setup(struct vsd *d, const struct vsd_work *w, pid_t vsd)
{
        char comm[16];
        sigset_t none;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* a vsd killed before the line above would not take us along */
        if (getppid() != vsd)
                _exit(1);
        /* nor may a worker keep the next vsd off the root: the lock is
         * vsd's alone */
        close(d->lock_fd);
        vsd_du_forget(d);
        snprintf(comm, sizeof(comm), "vsd-%.11s", w->what);
        for (char *p = comm; *p; p++)
                if (*p == ' ')
                        *p = '-';
        prctl(PR_SET_NAME, comm);
        (void)!setpriority(PRIO_PROCESS, 0, WORK_NICE);
        /* a client whose vsd is gone must not wait on a worker's copy */
        close(d->listen_fd);
        for (struct client *c = d->clients; c; c = c->next)
                if (c->fd >= 0)
                        close(c->fd);
}

static void write_all(int fd, const char *text, size_t len)
{
        while (len > 0) {
                ssize_t n = write(fd, text, len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return;
                text += n;
                len -= (size_t)n;
        }
}

static __attribute__((noreturn)) void worker_main(struct vsd *d, struct vsd_work *w, int out,
                                                  pid_t vsd)
{
        vs_error_t err = { 0 };
        json_object *reply = vs_reply_ok();
        const char *text;
        size_t len;

        worker_setup(d, w, vsd);
        if (w->run(d, w, reply, &err) < 0) {
                json_object_put(reply);
                reply = vs_reply_error(&err);
        }
        text = json_object_to_json_string_length(reply, JSON_C_TO_STRING_PLAIN, &len);
        if (len < RESULT_MAX)
                write_all(out, text, len);
        _exit(0);
}

int vsd_work_start(struct vsd *d, struct client *c, struct vsd_work *w, vs_error_t *err)
{
        pid_t vsd = getpid();
        int pipefd[2];

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return vs_error_errno(err, "pipe");
        w->pid = fork();
        if (w->pid < 0) {
                close(pipefd[0]);
                close(pipefd[1]);
                return vs_error_errno(err, "fork a worker for %s", w->what);
        }
        if (w->pid == 0) {
                close(pipefd[0]);
                worker_main(d, w, pipefd[1], vsd);
        }
        close(pipefd[1]);
        w->result_fd = pipefd[0];
        w->pidfd = (int)syscall(SYS_pidfd_open, w->pid, 0);
        w->ev = (struct ev){ EV_WORK_EXIT, w };
        if (w->pidfd < 0 || vsd_epoll_add(d, w->pidfd, &w->ev, EPOLLIN) < 0) {
                vs_error_errno(err, "watch the worker for %s", w->what);
                kill(w->pid, SIGKILL);
                waitpid(w->pid, NULL, 0);
                if (w->pidfd >= 0)
                        close(w->pidfd);
                close(w->result_fd);
                return -1;
        }
        w->client = c;
        c->work = w;
        c->wait = WAIT_WORK;
        w->next = d->works;
        d->works = w;
        vs_log(LOG_DEBUG, "%s: worker %d", w->what, (int)w->pid);
        return 0;
}

/* The worker's reply, or an error that says how it ended without one. */
static json_object *worker_reply(struct vsd_work *w)
{
        cleanup_free char *buf = vs_xmalloc(RESULT_MAX);
        siginfo_t info = { 0 };
        vs_error_t err = { 0 };
        json_object *reply = NULL;
        ssize_t got;

        fcntl(w->result_fd, F_SETFL, O_NONBLOCK);
        got = read(w->result_fd, buf, RESULT_MAX - 1);
        if (waitid((idtype_t)P_PIDFD, (id_t)w->pidfd, &info, WEXITED) < 0)
                info.si_code = 0;
        if (got > 0 && info.si_code == CLD_EXITED && info.si_status == 0)
                reply = vs_reply_from_text(buf);
        if (reply)
                return reply;
        if (info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED)
                vs_error_set(&err, EINTR, "%s failed: its worker was killed by %s", w->what,
                             vs_signal_name(info.si_status));
        else
                vs_error_set(&err, EPROTO, "%s failed: its worker ended without a result", w->what);
        return vs_reply_error(&err);
}

static void unlink_work(struct vsd *d, struct vsd_work *w)
{
        for (struct vsd_work **p = &d->works; *p; p = &(*p)->next)
                if (*p == w) {
                        *p = w->next;
                        break;
                }
}

static void release(struct vsd *d, struct vsd_work *w)
{
        vsd_epoll_del(d, w->pidfd);
        close(w->pidfd);
        close(w->result_fd);
        unlink_work(d, w);
        vsd_clone_thaw(d, &w->clone);
        vsd_clone_free(&w->clone);
        free(w);
}

void vsd_work_exited(struct vsd *d, struct vsd_work *w)
{
        json_object *reply = worker_reply(w);
        struct client *c = w->client;
        vs_error_t err = { 0 };

        if (vs_json_bool(reply, "ok") && w->done && w->done(d, w, &err) < 0) {
                json_object_put(reply);
                reply = vs_reply_error(&err);
        }
        if (!vs_json_bool(reply, "ok")) {
                vs_log(LOG_ERR, "%s: %s", w->what, vs_json_str(reply, "error") ?: "failed");
                if (w->failed)
                        w->failed(d, w);
        }
        release(d, w);
        c->work = NULL;
        c->wait = WAIT_NONE;
        vsd_client_reply(d, c, reply, NULL, 0);
        vsd_client_finish(d, c);
}

void vsd_work_stop_all(struct vsd *d)
{
        while (d->works) {
                struct vsd_work *w = d->works;
                struct client *c = w->client;
                vs_error_t err = { 0 };

                kill(w->pid, SIGKILL);
                waitpid(w->pid, NULL, 0);
                if (w->failed)
                        w->failed(d, w);
                vs_error_kind(&err, VS_E_DAEMON, ESHUTDOWN, "vsd exited before the %s ended",
                              w->what);
                release(d, w);
                c->work = NULL;
                c->wait = WAIT_NONE;
                vsd_client_reply_error(d, c, &err);
                vsd_client_finish(d, c);
        }
}

/* ---- what a worker holds ---- */

/* Commands on a VPS that only read what a clone of it does not change. */
static int reads_only(const char *cmd)
{
        static const char *const harmless[] = { VS_CMD_STATUS, VS_CMD_LOGS, VS_CMD_EXEC,
                                                VS_CMD_STOP, VS_CMD_SNAPSHOT_LIST };

        for (size_t i = 0; i < sizeof(harmless) / sizeof(harmless[0]); i++)
                if (strcmp(cmd, harmless[i]) == 0)
                        return 1;
        return 0;
}

static const struct vsd_work *vps_conflict(struct vsd *d, const vs_request_t *req, char *msg,
                                           size_t size)
{
        const char *made = strcmp(req->cmd, VS_CMD_CLONE) == 0 ? vs_req_str(req, "new") : NULL;

        for (const struct vsd_work *w = d->works; w; w = w->next) {
                if (w->vps_new[0] && (strcmp(w->vps_new, req->name) == 0 ||
                                      (made && strcmp(w->vps_new, made) == 0))) {
                        snprintf(msg, size, "busy: VPS %s is being made by a %s", w->vps_new,
                                 w->what);
                        return w;
                }
                if (w->vps && strcmp(w->vps->name, req->name) == 0 && !reads_only(req->cmd)) {
                        snprintf(msg, size,
                                 "busy: %s is being read by a %s%s%s (try again when it is done)",
                                 w->vps->name, w->what, w->vps_new[0] ? " into " : "", w->vps_new);
                        return w;
                }
        }
        return NULL;
}

static const struct vsd_work *template_conflict(struct vsd *d, const vs_request_t *req, char *msg,
                                                size_t size)
{
        const char *name = req->name;

        if (!*name && strcmp(req->cmd, VS_CMD_TEMPLATE_BUILD) == 0)
                name = vs_req_str(req, "builder");
        for (const struct vsd_work *w = d->works; w; w = w->next) {
                if (!w->tmpl[0])
                        continue;
                /* unify links files across every template: it runs alone */
                if (strcmp(w->tmpl, "*") == 0 || strcmp(req->cmd, VS_CMD_TEMPLATE_UNIFY) == 0 ||
                    (name && strcmp(w->tmpl, name) == 0)) {
                        snprintf(msg, size, "busy: %s %s is running (try again when it is done)",
                                 w->what,
                                 strcmp(w->tmpl, "*") == 0 ? "of every template" : w->tmpl);
                        return w;
                }
        }
        return NULL;
}

const struct vsd_work *vsd_work_conflict(struct vsd *d, const vs_request_t *req, char *msg,
                                         size_t size)
{
        switch (req->spec->name) {
        case VS_NAME_VPS:
                return vps_conflict(d, req, msg, size);
        case VS_NAME_TEMPLATE:
        case VS_NAME_TEMPLATE_OPTIONAL:
                return template_conflict(d, req, msg, size);
        case VS_NAME_SLICE:
                return NULL;
        case VS_NAME_NONE:
                if (strcmp(req->cmd, VS_CMD_TEMPLATE_UNIFY) == 0)
                        return template_conflict(d, req, msg, size);
                return NULL;
        }
        return NULL;
}
