/* File helpers shared by every subsystem: atomic writes, whole-file reads,
 * recursive removal that never follows symlinks or crosses mounts. */
#ifndef VS_FSUTIL_H
#define VS_FSUTIL_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vs/error.h"

/* Writes `name` in `dirfd` atomically: temp file, rename. With `durable`
 * the data and the rename are fsynced (configs); without, the file survives a
 * crash of vsd but not of the machine (run-time state, which a machine crash
 * makes stale anyway), and costs no disk flush on the start path. */
int vs_write_atomic(int dirfd, const char *name, const char *data, size_t len, mode_t mode,
                    int durable, vs_error_t *err);
/* Reads a whole file (at most `max` bytes, NUL-terminated) into *out. */
int vs_read_file(int dirfd, const char *path, size_t max, char **out, size_t *len, vs_error_t *err);
/* Writes a short string to an existing file (cgroup and proc files). */
int vs_write_string(int dirfd, const char *path, const char *text, vs_error_t *err);
/* Removes `name` in `dirfd` and everything below it; missing is not an error.
 * Stays on one file system: a mount below is refused with EBUSY. */
int vs_rmtree_at(int dirfd, const char *name, vs_error_t *err);
/* mkdir -p, each component with `mode`. */
int vs_mkdir_p(const char *path, mode_t mode, vs_error_t *err);
int vs_fsync_dir(int dirfd, vs_error_t *err);
/* The directory `name` below dirfd ("." for dirfd itself) as a stream with
 * a file of its own: its offset is not dirfd's (a dup would share it and
 * leave it at the end for dirfd's next reader). A symlink at `name` is not
 * followed. Like opendir(3), NULL with errno set when it fails, so that
 * each caller says in its own words what it could not read; no descriptor
 * is left open then. */
DIR *vs_opendir_at(int dirfd, const char *name);
/* Whether `path` (relative, e.g. "sbin/init"), resolved inside the root
 * `rootfd` (an absolute symlink is that root's, not the host's), leads to an
 * executable regular file: 0 if so, 1 if nothing is at `path`, else -1 with
 * a usage error saying why not ("/sbin/init is a dangling link (to X)", "...
 * is a directory", "... is not executable"). */
int vs_program_at(int rootfd, const char *path, vs_error_t *err);

/* Opens (O_RDONLY | O_NOCTTY | O_CLOEXEC) the very node an O_PATH
 * descriptor holds, through /proc/self/fd: what was looked at by fstat is
 * what is opened, whatever its name is now. -1 with errno on failure. */
int vs_fd_reopen(int path_fd);
/* Formats into a malloc'd string; aborts on out of memory. */
char *vs_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *vs_xmalloc(size_t size);
/* Room for element n of an array of `size`-byte elements holding *cap:
 * doubles *cap (from `first`) when n has reached it. Aborts when out of
 * memory, as vs_xmalloc does. Returns the (maybe moved) array. */
void *vs_xgrow(void *array, size_t n, size_t *cap, size_t first, size_t size);
/* Copies at most size-1 bytes and terminates; returns strlen(src). */
size_t vs_strlcpy(char *dst, const char *src, size_t size);
char *vs_xstrdup(const char *s);

/* Descriptors vsd holds for as long as a VPS runs (its init's pidfd, its
 * seccomp listener) are parked at VS_FD_PARK_FLOOR and above and noted, so
 * that a child of vsd's that needs none of them drops them all at once,
 * before it forks again: every fork copies the table, and every exit
 * closes it (two for each running VPS). vsd's main thread only. */
#define VS_FD_PARK_FLOOR 1024
/* Moves fd to a free number at or above the floor (close on exec), closes
 * the old one and notes the new; returns it, or fd itself where there is
 * no room above the floor (it then just stays where it is). */
int vs_fd_park(int fd);
/* Closes fd, parked or not. */
void vs_fd_close(int fd);
/* In a child of vsd's: closes every parked descriptor. */
int vs_fd_drop_parked(void);
/* In a child of vsd's that shares its table (CLONE_FILES): takes a copy of
 * its own that holds none of the parked descriptors and none at or above
 * `from` (at least VS_FD_PARK_FLOOR). Copying only what is below is the
 * point: a fork copies, and its exit closes, all of vsd's table. */
int vs_fd_unshare_dropping_parked(int from);
/* In a fork that serves its parent alone (vsd's remover, its link
 * reaper): it ends with the parent, which must still be `parent`; takes
 * signals again (vsd blocks its own for its signalfd); is named `comm`;
 * and keeps only fds[0..n-1], moved to 3, 4, ... (fds tells the new
 * numbers), nothing else of the parent's (its lock, its sockets). -1 when
 * a step fails: the caller exits. */
int vs_helper_setup(pid_t parent, const char *comm, int *fds, int n);
/* A wait for what the kernel lets go of shortly after a process died (a
 * dead run's mounts, its loop device: at times from a workqueue, later on
 * a loaded host). Start with *pause_ms = 1: sleeps that long and doubles
 * it; -1 without sleeping once the pauses would pass limit_ms in all. */
int vs_backoff(long *pause_ms, long limit_ms);
/* Milliseconds on CLOCK_MONOTONIC: deadlines and ages that a change of the
 * wall clock must not move. */
int64_t vs_monotonic_ms(void);

#endif
