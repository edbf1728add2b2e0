/* The remover of destroyed VPS's files (trash.c). */
#ifndef VS_RUNTIME_TRASH_H
#define VS_RUNTIME_TRASH_H

#include "vs/error.h"

struct vsd;

/* Forks the remover; without one (it cannot start) every removal is
 * vsd's own, as before. */
int vsd_trash_start(struct vsd *d, vs_error_t *err);

/* Renames <vps dir>/NAME to a doomed entry ".NAME.N.destroying" of its own
 * (a removal of an earlier NAME may still be under way) for the remover,
 * which syncs the directory before it removes a file of it: after a crash
 * the VPS is gone or whole, never half. */
int vsd_trash_doom(struct vsd *d, const char *name, vs_error_t *err);

/* The doomed entry's files go in the remover, or here where it has none. */
void vsd_trash_put(struct vsd *d, const char *entry);

/* Hands what a crash or a command left inside a VPS's directory (rel, a
 * path below vps/) to the remover: renamed first to a doomed entry of the
 * VPS's own, ".trash.N.destroying", so that a command that makes rel again
 * meanwhile never loses its new one. Nothing there: nothing done. */
void vsd_trash_doom_within(struct vsd *d, const char *vps, const char *rel);

/* Hands the VPS's doomed entries that an earlier vsd had not removed to
 * the remover (at start). */
void vsd_trash_resume_within(struct vsd *d, const char *vps);

/* Whether a directory entry of the VPS directory is a doomed one, and the
 * VPS name it was (into name, of size). */
int vsd_trash_is_doomed(const char *entry, char *name, size_t size);

/* Ends the remover's queue: it ends after the entry it works on. */
void vsd_trash_close(struct vsd *d);

/* Ends the remover now and reaps it (what it had not removed goes to the
 * next vsd's): for a vsd that did not start. */
void vsd_trash_end(struct vsd *d);

#endif
