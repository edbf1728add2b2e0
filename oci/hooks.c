/* Hooks: each gets the container's state JSON on its stdin, runs with
 * its own args and env, and is killed past its timeout. A failing hook
 * fails the step it belongs to (the caller decides what that means). */
#include "oci.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vs/cleanup.h"

static int wait_hook(pid_t pid, int timeout, int *status)
{
        struct timespec start, now;

        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                pid_t r = waitpid(pid, status, timeout ? WNOHANG : 0);

                if (r == pid)
                        return 0;
                if (r < 0 && errno != EINTR)
                        return -1;
                clock_gettime(CLOCK_MONOTONIC, &now);
                if (timeout && now.tv_sec - start.tv_sec >= timeout) {
                        kill(pid, SIGKILL);
                        waitpid(pid, status, 0);
                        errno = ETIMEDOUT;
                        return -1;
                }
                if (timeout)
                        poll(NULL, 0, 5);
        }
}

static int run_one(const struct oci_hook *h, const char *state_json, vs_error_t *err)
{
        int in[2], status = 0;
        char *const no_env[] = { NULL };
        char *default_argv[] = { h->path, NULL };
        pid_t pid;
        size_t len = strlen(state_json);

        if (pipe2(in, O_CLOEXEC) < 0)
                return vs_error_errno(err, "hook pipe");
        pid = fork();
        if (pid < 0) {
                close(in[0]);
                close(in[1]);
                return vs_error_errno(err, "fork hook");
        }
        if (pid == 0) {
                dup2(in[0], 0);
                /* the hook's stdout must not mix with what the runtime
                 * prints (state, list): it goes to stderr */
                dup2(2, 1);
                execve(h->path, h->args && h->args[0] ? h->args : default_argv,
                       h->env ? h->env : no_env);
                _exit(127);
        }
        close(in[0]);
        signal(SIGPIPE, SIG_IGN);
        if (write(in[1], state_json, len) != (ssize_t)len && errno != EPIPE) {
                close(in[1]);
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                return vs_error_errno(err, "hook %s: write state", h->path);
        }
        close(in[1]);
        if (wait_hook(pid, h->timeout, &status) < 0)
                return vs_error_errno(err, "hook %s", h->path);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (WIFEXITED(status))
                return vs_error_set(err, EIO, "hook %s exited with %d", h->path,
                                    WEXITSTATUS(status));
        return vs_error_set(err, EIO, "hook %s killed by signal %d", h->path, WTERMSIG(status));
}

int oci_hooks_run(const struct oci_hooks *hooks, const char *state_json, const char *what,
                  vs_error_t *err)
{
        for (size_t i = 0; i < hooks->count; i++)
                if (run_one(&hooks->list[i], state_json, err) < 0)
                        return vs_error_wrap(err, "%s hook", what);
        return 0;
}
