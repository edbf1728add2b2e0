/* Removing a destroyed VPS's files (tens of thousands of them, or a disk
 * image of gigabytes) is the one part of a destroy that grows with the
 * VPS, and in vsd's loop it held every other client for as long. So a
 * destroy renames the VPS's directory to a doomed entry (the name is free
 * at once) and hands that to the remover, which syncs the rename before it
 * removes anything (what a crash of the host keeps is the VPS whole or
 * gone, never half; its sync waited on the journal behind the sync of the
 * stopped VPS's overlay, 5 ms of a destroy at 1000 VPS): a fork of vsd made
 * at its start, at nice 10, with nothing
 * of vsd's but the VPS directory and its queue, which removes one entry
 * after another. A tree the remover cannot take (too deep for its open
 * files) costs vsd nothing. It ends with vsd; what it had not finished,
 * the next vsd's start hands to its own. Where there is no remover (it
 * could not start or died, its queue is full), vsd removes the entry
 * itself, as before. */
#include "trash.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/log.h"
#include "vsd.h"

#define TRASH_NICE 10
#define DOOMED_SUFFIX ".destroying"
/* One queue record: a doomed entry's name and its NUL (a pipe write of
 * less than PIPE_BUF bytes is atomic, so records never interleave). */
#define TRASH_RECORD 128
/* The remover's descriptors, at these numbers */
enum { TRASH_VPS_FD = 3, TRASH_QUEUE_FD };

/* Where a doomed entry is a VPS's whole directory (no slash), its rename
 * is made durable first: nothing of it goes before that. */
static int remove_entry(int vps_fd, const char *entry, vs_error_t *err)
{
        if (!strchr(entry, '/') && vs_fsync_dir(vps_fd, err) < 0)
                return -1;
        return vs_rmtree_at(vps_fd, entry, err);
}

static __attribute__((noreturn)) void remover_loop(void)
{
        char entry[TRASH_RECORD];

        for (;;) {
                ssize_t n = read(TRASH_QUEUE_FD, entry, sizeof(entry));
                vs_error_t err = { 0 };

                if (n < 0 && errno == EINTR)
                        continue;
                if (n != (ssize_t)sizeof(entry))
                        _exit(0); /* vsd closed the queue, or is gone */
                entry[sizeof(entry) - 1] = '\0';
                if (remove_entry(TRASH_VPS_FD, entry, &err) < 0)
                        vs_log(LOG_WARNING, "remove %s: %s (the next vsd tries again)", entry,
                               err.msg);
        }
}

/* In the remover: the VPS directory and the queue's read end, at fixed
 * numbers, and nothing else of vsd's (its lock, its socket, its VPS's
 * descriptors); it ends with vsd. */
static __attribute__((noreturn)) void remover_main(int vps_fd, int queue, pid_t vsd)
{
        int keep[] = { vps_fd, queue }; /* to TRASH_VPS_FD, TRASH_QUEUE_FD */

        if (vs_helper_setup(vsd, "vsd-trash", keep, 2) < 0)
                _exit(1);
        (void)!setpriority(PRIO_PROCESS, 0, TRASH_NICE);
        remover_loop();
}

int vsd_trash_start(struct vsd *d, vs_error_t *err)
{
        int queue[2];
        pid_t vsd = getpid(), pid;

        if (pipe2(queue, O_CLOEXEC) < 0)
                return vs_error_errno(err, "the remover's queue");
        pid = fork();
        if (pid < 0) {
                close(queue[0]);
                close(queue[1]);
                return vs_error_errno(err, "fork the remover");
        }
        if (pid == 0)
                remover_main(d->vps_fd, queue[0], vsd);
        close(queue[0]);
        /* a full queue must not stop vsd's loop: vsd removes that entry
         * itself */
        if (fcntl(queue[1], F_SETFL, O_NONBLOCK) < 0) {
                close(queue[1]);
                return vs_error_errno(err, "the remover's queue");
        }
        d->trash_fd = queue[1];
        d->trash_pid = pid;
        return 0;
}

#define WITHIN_PREFIX ".trash."

void vsd_trash_doom_within(struct vsd *d, const char *vps, const char *rel)
{
        cleanup_close int vps_fd =
                openat(d->vps_fd, vps, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        char doomed[32], entry[TRASH_RECORD];

        if (vps_fd < 0)
                return;
        for (unsigned n = 0; n < 1000; n++) {
                snprintf(doomed, sizeof(doomed), WITHIN_PREFIX "%u" DOOMED_SUFFIX, n);
                if (renameat2(vps_fd, rel, vps_fd, doomed, RENAME_NOREPLACE) == 0)
                        break;
                if (errno != EEXIST)
                        return; /* nothing there (or not ours to move) */
        }
        snprintf(entry, sizeof(entry), "%.63s/%s", vps, doomed);
        vs_log(LOG_NOTICE, "removing %s/%s (left by an interrupted command)", vps, rel);
        vsd_trash_put(d, entry);
}

void vsd_trash_resume_within(struct vsd *d, const char *vps)
{
        cleanup_closedir DIR *dir = vs_opendir_at(d->vps_fd, vps);
        struct dirent *ent;

        if (!dir)
                return;
        while ((ent = readdir(dir))) {
                size_t len = strlen(ent->d_name);
                char entry[TRASH_RECORD];

                if (len >= 32)
                        continue; /* not a name of ours */

                if (strncmp(ent->d_name, WITHIN_PREFIX, strlen(WITHIN_PREFIX)) != 0 ||
                    len <= strlen(DOOMED_SUFFIX) ||
                    strcmp(ent->d_name + len - strlen(DOOMED_SUFFIX), DOOMED_SUFFIX) != 0)
                        continue;
                snprintf(entry, sizeof(entry), "%.63s/%.31s", vps, ent->d_name);
                vsd_trash_put(d, entry);
        }
}

int vsd_trash_doom(struct vsd *d, const char *name, vs_error_t *err)
{
        char doomed[TRASH_RECORD];

        for (unsigned n = 0;; n++) {
                snprintf(doomed, sizeof(doomed), ".%s.%u" DOOMED_SUFFIX, name, n);
                if (renameat2(d->vps_fd, name, d->vps_fd, doomed, RENAME_NOREPLACE) == 0)
                        break;
                if (errno == ENOENT)
                        return 0; /* nothing on disk to remove */
                if (errno != EEXIST || n == 1000)
                        return vs_error_errno(err, "rename %s to %s", name, doomed);
        }
        vsd_trash_put(d, doomed);
        return 0;
}

/* The remover is gone (it died, or was killed): it is reaped, and vsd
 * removes on its own from now on. */
static void remover_gone(struct vsd *d)
{
        vs_log(LOG_WARNING, "the remover of destroyed VPS's files is gone: vsd removes them "
                            "itself");
        close(d->trash_fd);
        d->trash_fd = -1;
        if (d->trash_pid > 0)
                waitpid(d->trash_pid, NULL, WNOHANG);
        d->trash_pid = 0;
}

void vsd_trash_put(struct vsd *d, const char *entry)
{
        char record[TRASH_RECORD] = { 0 };
        vs_error_t err = { 0 };

        if (d->trash_fd >= 0 && strlen(entry) < sizeof(record)) {
                memcpy(record, entry, strlen(entry));
                if (write(d->trash_fd, record, sizeof(record)) == (ssize_t)sizeof(record))
                        return;
                if (errno == EPIPE)
                        remover_gone(d);
        }
        if (remove_entry(d->vps_fd, entry, &err) < 0)
                vs_log(LOG_WARNING, "remove %s: %s", entry, err.msg);
}

int vsd_trash_is_doomed(const char *entry, char *name, size_t size)
{
        size_t len = strlen(entry), slen = strlen(DOOMED_SUFFIX), n;

        if (entry[0] != '.' || len <= slen + 1 || strcmp(entry + len - slen, DOOMED_SUFFIX) != 0)
                return 0;
        /* ".NAME.N.destroying" or, from before, ".NAME.destroying": a VPS
         * name has no dot */
        n = strcspn(entry + 1, ".");
        if (n == 0 || n >= size)
                return 0;
        memcpy(name, entry + 1, n);
        name[n] = '\0';
        return 1;
}

void vsd_trash_close(struct vsd *d)
{
        if (d->trash_fd >= 0)
                close(d->trash_fd);
        d->trash_fd = -1;
}

void vsd_trash_end(struct vsd *d)
{
        vsd_trash_close(d);
        if (d->trash_pid > 0) {
                kill(d->trash_pid, SIGKILL);
                waitpid(d->trash_pid, NULL, 0);
        }
        d->trash_pid = 0;
}
