#include "vs/initsig.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vs/cleanup.h"

/* sysvinit's initreq.h: a fixed 384-byte request */
#define INITCTL_MAGIC 0x03091969
#define INITCTL_CMD_RUNLVL 1
struct initctl_request {
        int magic;
        int cmd;
        int runlevel;
        int sleeptime;
        char data[368];
};

static const char *base_name(const char *path)
{
        const char *slash = strrchr(path, '/');

        return slash ? slash + 1 : path;
}

vs_init_kind_t vs_init_kind_of_exe(const char *exe)
{
        const char *name = base_name(exe);

        /* the built-in init runs from a sealed memfd */
        if (strncmp(exe, "/memfd:vsinit", 13) == 0)
                return VS_INIT_VSINIT;
        if (strcmp(name, "systemd") == 0)
                return VS_INIT_SYSTEMD;
        if (strcmp(name, "busybox") == 0 || strcmp(name, "busybox.static") == 0)
                return VS_INIT_BUSYBOX;
        /* Debian's sysvinit-core installs a real /sbin/init; busybox's and
         * systemd's are links, which /proc/PID/exe resolves */
        if (strcmp(name, "init") == 0)
                return VS_INIT_SYSVINIT;
        return VS_INIT_UNKNOWN;
}

const char *vs_init_kind_name(vs_init_kind_t kind)
{
        switch (kind) {
        case VS_INIT_SYSTEMD:
                return "systemd";
        case VS_INIT_SYSVINIT:
                return "sysvinit";
        case VS_INIT_BUSYBOX:
                return "busybox";
        case VS_INIT_VSINIT:
                return "vsinit";
        default:
                return "unknown";
        }
}

int vs_init_stop_signal(vs_init_kind_t kind)
{
        switch (kind) {
        case VS_INIT_SYSTEMD:
                return SIGRTMIN + 3;
        case VS_INIT_SYSVINIT:
                return 0;
        case VS_INIT_BUSYBOX:
                return SIGUSR2;
        default:
                return SIGPWR;
        }
}

int vs_init_sysv_halt(int pid, vs_error_t *err)
{
        char root_path[64];
        cleanup_close int root_fd = -1;
        cleanup_close int fifo = -1;
        struct open_how how = {
                .flags = O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        struct initctl_request req = { .magic = INITCTL_MAGIC,
                                       .cmd = INITCTL_CMD_RUNLVL,
                                       .runlevel = '0' };
        struct stat st;

        snprintf(root_path, sizeof(root_path), "/proc/%d/root", pid);
        root_fd = open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0)
                return vs_error_errno(err, "open the init's root");
        fifo = (int)syscall(SYS_openat2, root_fd, "run/initctl", &how, sizeof(how));
        if (fifo < 0)
                return vs_error_errno(err, "open the init's /run/initctl");
        if (fstat(fifo, &st) < 0 || !S_ISFIFO(st.st_mode))
                return vs_error_set(err, EINVAL, "the init's /run/initctl is no FIFO");
        if (write(fifo, &req, sizeof(req)) != (ssize_t)sizeof(req))
                return vs_error_errno(err, "write a halt request to /run/initctl");
        return 0;
}
