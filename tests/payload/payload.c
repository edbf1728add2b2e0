/* payload: a small static multi-call binary that tests use as a VPS's init or
 * command, so that tests need no distribution. Usage: payload APPLET ARGS. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int applet_exit(int argc, char **argv)
{
        return argc > 1 ? atoi(argv[1]) : 0;
}

static int applet_sleep(int argc, char **argv)
{
        unsigned seconds = argc > 1 ? (unsigned)atoi(argv[1]) : 1000000;

        while (seconds > 0)
                seconds = sleep(seconds);
        return 0;
}

/* An init that ignores the polite stop signals: only SIGKILL ends it. */
static int applet_stubborn(int argc, char **argv)
{
        signal(SIGTERM, SIG_IGN);
        signal(SIGPWR, SIG_IGN);
        signal(SIGUSR2, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        return applet_sleep(argc, argv);
}

static int applet_pid(int argc, char **argv)
{
        (void)argc;
        (void)argv;
        printf("%d\n", (int)getpid());
        return 0;
}

static int applet_echo(int argc, char **argv)
{
        for (int i = 1; i < argc; i++)
                printf("%s%s", argv[i], i + 1 < argc ? " " : "");
        printf("\n");
        return 0;
}

static const struct {
        const char *name;
        int (*fn)(int, char **);
        const char *help;
} applets[] = {
        { "exit", applet_exit, "exit N: exit with status N" },
        { "sleep", applet_sleep, "sleep [S]: sleep S seconds (default: for ever)" },
        { "stubborn", applet_stubborn, "stubborn [S]: sleep, ignoring stop signals" },
        { "pid", applet_pid, "pid: print own pid" },
        { "echo", applet_echo, "echo ARGS: print ARGS" },
};

int main(int argc, char **argv)
{
        const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];

        if (strcmp(name, "payload") == 0) {
                argc--;
                argv++;
                name = argc > 0 ? argv[0] : "";
        }
        for (size_t i = 0; i < sizeof(applets) / sizeof(applets[0]); i++)
                if (strcmp(applets[i].name, name) == 0)
                        return applets[i].fn(argc, argv);
        fprintf(stderr, "payload: applets:\n");
        for (size_t i = 0; i < sizeof(applets) / sizeof(applets[0]); i++)
                fprintf(stderr, "  %s\n", applets[i].help);
        return 2;
}
