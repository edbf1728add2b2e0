/* vsinit: the built-in init of a VPS whose root has no /sbin/init. Static, so
 * it runs in any root. As pid 1 it reaps orphans, runs /etc/rc.local once,
 * forwards SIGTERM to every process, and on SIGPWR (or SIGINT) shuts the VPS
 * down: SIGTERM to all, a grace period, SIGKILL to the rest, exit 0. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "keeper.h"

#define GRACE_SECONDS 10

static void say(const char *msg)
{
        (void)!write(STDERR_FILENO, msg, strlen(msg));
}

static pid_t run_rc_local(const sigset_t *original_mask)
{
        pid_t pid;

        if (access("/etc/rc.local", X_OK) != 0)
                return 0;
        pid = fork();
        if (pid == 0) {
                char *const argv[] = { "/etc/rc.local", NULL };

                sigprocmask(SIG_SETMASK, original_mask, NULL);
                setsid();
                execv(argv[0], argv);
                say("vsinit: cannot run /etc/rc.local\n");
                _exit(127);
        }
        return pid;
}

/* Reaps every exited child; returns 1 once no child is left. */
static int reap_all(void)
{
        for (;;) {
                pid_t pid = waitpid(-1, NULL, WNOHANG);

                if (pid > 0)
                        continue;
                return pid < 0 && errno == ECHILD;
        }
}

static void shut_down(const sigset_t *mask)
{
        struct timespec deadline, now;

        say("vsinit: shutting down\n");
        kill(-1, SIGTERM);
        kill(-1, SIGCONT);
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += GRACE_SECONDS;
        while (!reap_all()) {
                struct timespec wait;
                siginfo_t info;

                clock_gettime(CLOCK_MONOTONIC, &now);
                if (now.tv_sec > deadline.tv_sec ||
                    (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec))
                        break;
                wait.tv_sec = deadline.tv_sec - now.tv_sec;
                wait.tv_nsec = 0;
                sigtimedwait(mask, &info, &wait);
        }
        kill(-1, SIGKILL);
        while (!reap_all())
                usleep(1000);
        exit(0);
}

int main(int argc, char **argv)
{
        sigset_t mask, original;

        /* vsd execs this binary as a VPS's console keeper, too */
        if (argc > 0 && strcmp(argv[0], VS_KEEPER_ARGV0) == 0)
                vs_keeper_run();

        sigfillset(&mask);
        sigprocmask(SIG_BLOCK, &mask, &original);
        run_rc_local(&original);
        for (;;) {
                siginfo_t info;
                int sig = sigwaitinfo(&mask, &info);

                if (sig == SIGCHLD)
                        reap_all();
                else if (sig == SIGTERM)
                        kill(-1, SIGTERM);
                else if (sig == SIGPWR || sig == SIGINT)
                        shut_down(&mask);
        }
}
