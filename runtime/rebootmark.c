/* The reboot mark's file (see rebootmark.h): written by vsview's seccomp
 * listener, read by vsd. */
#include "rebootmark.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/kvfile.h"
#include "vs/parse.h"

int vsd_reboot_mark_write(int dirfd, const char *name, int signo, pid_t pid, const vs_procid_t *id,
                          vs_error_t *err)
{
        cleanup_kv vs_kv_t kv = { 0 };

        if (signo != SIGHUP && signo != SIGINT)
                return vs_error_set(err, EINVAL, "reboot mark: no such end (signal %d)", signo);
        if (vs_parse_name(name, "VPS name", err) < 0)
                return -1;
        vs_kv_set(&kv, "action", signo == SIGHUP ? "reboot" : "halt");
        vs_kv_setf(&kv, "pid", "%d", (int)pid);
        vs_procid_save(id, &kv);
        return vs_kv_save(dirfd, name, &kv, 0, err);
}

static int mark_signal(const vs_kv_t *kv, pid_t pid, const vs_procid_t *id)
{
        const char *action = vs_kv_get(kv, "action");
        const char *pid_text = vs_kv_get(kv, "pid");
        vs_procid_t seen;
        char *end;
        long marked;

        if (!action || !pid_text || vs_procid_load(kv, &seen, NULL) < 0)
                return 0;
        errno = 0;
        marked = strtol(pid_text, &end, 10);
        if (errno || *end || end == pid_text || marked != (long)pid)
                return 0;
        if (strcmp(seen.boot_id, id->boot_id) != 0 || seen.starttime != id->starttime ||
            seen.pidns_dev != id->pidns_dev || seen.pidns_ino != id->pidns_ino)
                return 0;
        if (strcmp(action, "reboot") == 0)
                return SIGHUP;
        if (strcmp(action, "halt") == 0)
                return SIGINT;
        return 0;
}

int vsd_reboot_mark_take(int dirfd, const char *name, pid_t pid, const vs_procid_t *id)
{
        cleanup_kv vs_kv_t kv = { 0 };
        int signo = 0;

        if (dirfd < 0 || vs_parse_name(name, "VPS name", NULL) < 0)
                return 0;
        if (vs_kv_load(dirfd, name, &kv, NULL) == 0)
                signo = mark_signal(&kv, pid, id);
        vsd_reboot_mark_clear(dirfd, name);
        return signo;
}

/* A mark that cannot be removed is harmless: the identity in it keeps any
 * later run from taking it. */
void vsd_reboot_mark_clear(int dirfd, const char *name)
{
        if (dirfd >= 0)
                unlinkat(dirfd, name, 0);
}
