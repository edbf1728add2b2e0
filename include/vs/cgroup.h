/* scheduler-limits: the cgroup tree. vsd nests everything under its own
 * cgroup on each hierarchy: <own>/<tree name>/<slice>/<vps>. Works on cgroup
 * v1, hybrid and v2; the mode is detected once. */
#ifndef VS_CGROUP_H
#define VS_CGROUP_H

#include <sys/types.h>

#include "vs/error.h"

typedef enum { VS_CGROUP_V1, VS_CGROUP_HYBRID, VS_CGROUP_V2 } vs_cgroup_mode_t;

typedef struct vs_cgroup_tree vs_cgroup_tree_t;
typedef struct vs_cgroup vs_cgroup_t;

/* Finds the hierarchies and vsd's own cgroup on each; creates <own>/<name>. */
int vs_cgroup_tree_open(const char *name, vs_cgroup_tree_t **tree, vs_error_t *err);
void vs_cgroup_tree_free(vs_cgroup_tree_t *tree);
vs_cgroup_mode_t vs_cgroup_tree_mode(const vs_cgroup_tree_t *tree);
const char *vs_cgroup_mode_name(vs_cgroup_mode_t mode);
/* Removes every VPS cgroup (<slice>/<vps>, with what is below it) that
 * known() does not claim: at vsd's start, what a crash left of VPS whose
 * removal was waiting (a destroyed VPS's). Tasks in them are not killed:
 * a cgroup with one stays. */
void vs_cgroup_tree_sweep(vs_cgroup_tree_t *tree,
                          int (*known)(const char *slice, const char *vps, void *arg), void *arg);
/* Removes <own>/<name> and empty slices when nothing is left below. Called
 * at exit: on v2 vsd first moves back out of its leaf <own>/<name>/vsd. */
void vs_cgroup_tree_prune(vs_cgroup_tree_t *tree);

/* Creates (or opens, when it exists) the VPS's cgroup on every hierarchy
 * but v1's cpuset, which it gets from vs_cgroup_ensure with a CPU mask (on
 * pure v2: with every controller but cpuset, which comes the same way). */
int vs_cgroup_create(vs_cgroup_tree_t *tree, const char *slice, const char *vps, vs_cgroup_t **cg,
                     vs_error_t *err);
void vs_cgroup_free(vs_cgroup_t *cg);
/* Closes the directories every cgroup of the tree opened since the last
 * call (only those: the tree keeps a list); the next use opens them again.
 * vsd calls it between requests so that a running VPS holds no descriptor
 * of its cgroups (its budget is the init's pidfd). */
void vs_cgroup_tree_release(vs_cgroup_tree_t *tree);
/* Makes the limit files of the VPS's own cgroup vsd's alone: read-only for
 * everybody else, and owned by VS_CGROUP_SEALED_UID, an id no VPS's user
 * namespace maps (a privileged VPS's root is host uid 0 for host-root
 * files, and would otherwise raise its own limits). cgroup.procs and the
 * other cgroup.* files stay, so that a VPS can manage cgroups below its
 * own where it may make them. */
#define VS_CGROUP_SEALED_UID ((uid_t)4294967294U)
int vs_cgroup_seal(vs_cgroup_t *cg, vs_error_t *err);

/* Hands the VPS's cgroup on the v2 hierarchy (hybrid: the unified one) to
 * `owner`, the VPS's root: it may make cgroups below it and move its
 * processes among them (what systemd as its init does), not change the
 * limits on its own cgroup. */
int vs_cgroup_delegate(vs_cgroup_t *cg, uid_t owner, vs_error_t *err);
/* Whether the tree has a v2 hierarchy (pure v2 or hybrid). */
int vs_cgroup_has_v2(const vs_cgroup_t *cg);

/* Moves the calling process into the VPS's cgroups, and back into vsd's own.
 * vsd clones a VPS's processes between the two so that they are born in the
 * VPS's cgroups with their cgroup namespace rooted there (the kernel roots a
 * new cgroup namespace at the parent's cgroup, even with CLONE_INTO_CGROUP). */
int vs_cgroup_enter(vs_cgroup_t *cg, vs_error_t *err);
int vs_cgroup_leave(vs_cgroup_tree_t *tree, vs_error_t *err);
/* The start's cheaper way: the calling process enters (and leaves) the
 * VPS's cgroups on the v1 hierarchies only, and clones the child into its
 * v2 cgroup with CLONE_INTO_CGROUP and vs_cgroup_v2_dir (-1: no v2
 * hierarchy; the fd stays owned by cg). No write waits for an RCU grace
 * period; the child makes its cgroup namespace itself (unshare), once it is
 * in all of them. */
int vs_cgroup_enter_v1(vs_cgroup_t *cg, vs_error_t *err);
int vs_cgroup_leave_v1(vs_cgroup_tree_t *tree, vs_error_t *err);
int vs_cgroup_v2_dir(vs_cgroup_t *cg);
/* As vs_cgroup_enter, but on v2 hierarchies into the cgroup of process pid
 * (the VPS's init) where that is below the VPS's: an init such as systemd
 * moves itself out of the cgroup vsd delegated to it and enables
 * controllers there, which then may hold no process. */
int vs_cgroup_enter_beside(vs_cgroup_t *cg, pid_t pid, vs_error_t *err);
vs_cgroup_tree_t *vs_cgroup_tree_of(vs_cgroup_t *cg);
/* The highest descriptor cg and its tree hold open (-1: none): a child
 * that keeps only the descriptors below a number needs all of these. */
int vs_cgroup_highest_fd(const vs_cgroup_t *cg);

/* The VPS's cgroup directory on the hierarchy that has `controller` (v1
 * names: cpu, cpuacct, cpuset, memory, pids, blkio; on v2 they map to cpu,
 * cpuset, memory, pids, io). The fd stays owned by cg; *is_v2 says which
 * file names apply. Fails naming the controller and the cgroup when no
 * hierarchy offers it. */
int vs_cgroup_controller_fd(vs_cgroup_t *cg, const char *controller, int *is_v2, vs_error_t *err);

/* The path of the VPS's cgroup directory on the v1 hierarchy of
 * `controller`, whether it exists or not (malloc'd; NULL: no such v1
 * hierarchy); on pure v2, for cpuset (which a VPS gets with a CPU mask),
 * its v2 directory, whether it has the controller or not. */
char *vs_cgroup_controller_path(vs_cgroup_t *cg, const char *controller);
/* Makes the VPS's cgroup on the hierarchy of `controller` (v1 name) where
 * it has none, and moves every process of the VPS into it: a VPS has a v1
 * cpuset cgroup only once a limit needs one, at start or by a live set.
 * On pure v2 the same for the cpuset controller: its slice turns it on for
 * its VPS then. Nothing to do on any other hierarchy, or where it exists. */
int vs_cgroup_ensure(vs_cgroup_t *cg, const char *controller, vs_error_t *err);

/* Number of processes in the VPS's cgroup and below it (-1 and err on
 * failure). */
int vs_cgroup_nprocs(vs_cgroup_t *cg, vs_error_t *err);
/* SIGKILLs every process in the VPS's cgroup. */
int vs_cgroup_kill(vs_cgroup_t *cg, vs_error_t *err);
/* Freezes (frozen 1) or thaws the VPS's processes with cgroup v2's
 * freezer (cgroup.freeze, on v2 and on the unified hierarchy of hybrid);
 * a freeze returns once cgroup.events says frozen, within a few seconds or
 * not at all (thawed again, VS_E_STATE). Without a v2 hierarchy: ENOTSUP. */
int vs_cgroup_freeze(vs_cgroup_t *cg, int frozen, vs_error_t *err);
/* Whether process `pid` is in the VPS's cgroup, or below it, on every
 * hierarchy of the tree (as its /proc/PID/cgroup says): 1 yes, 0 no, -1 and
 * err when that cannot be read. Only vsd puts processes there. */
int vs_cgroup_holds(vs_cgroup_tree_t *tree, const char *slice, const char *vps, pid_t pid,
                    vs_error_t *err);
/* A slice's level <tree>/<slice> on every hierarchy, made when missing:
 * a cgroup whose limit files carry the slice's caps (vs_limits_apply) and
 * whose counters (vs_stats_read) are its VPS's together. */
int vs_cgroup_slice_open(vs_cgroup_tree_t *tree, const char *slice, vs_cgroup_t **cg,
                         vs_error_t *err);
/* Removes the slice's level on every hierarchy: fails (EBUSY) while a VPS's
 * cgroup is below it; missing is not an error. */
int vs_cgroup_slice_remove(vs_cgroup_tree_t *tree, const char *slice, vs_error_t *err);
/* "<tree>/<slice>[/<vps>]", for messages and slice status. */
const char *vs_cgroup_path(const vs_cgroup_t *cg);

/* Removes the VPS's cgroup and every cgroup below it on every hierarchy;
 * missing is not an error. */
int vs_cgroup_remove(vs_cgroup_tree_t *tree, const char *slice, const char *vps, vs_error_t *err);
/* One rmdir of the VPS's cgroup on every hierarchy, no walk, no retry: 0
 * when none is left, -1 when the kernel refused one (a process or a cgroup
 * in it; vs_cgroup_remove takes those). */
int vs_cgroup_remove_empty(vs_cgroup_tree_t *tree, const char *slice, const char *vps);

/* ---- a cgroup at a path below the caller's own cgroup, for programs that
 * are not vsd (the OCI runtime's cgroupsPath): no tree directory ---- */

/* Opens the cgroup at `path` ("a/b/c") below the caller's cgroup on every
 * hierarchy, or below the cgroups that `own` (a saved text of
 * /proc/self/cgroup) names: a later caller finds what an earlier one made
 * from another cgroup. With create, makes what is missing and tells in
 * *created how many trailing components it made. Free with
 * vs_cgroup_close_below. */
int vs_cgroup_open_below(const char *path, const char *own, int create, vs_cgroup_t **cg,
                         int *created, vs_error_t *err);
void vs_cgroup_close_below(vs_cgroup_t *cg);
/* Removes the last `levels` components of the path (those create made). */
int vs_cgroup_remove_below(vs_cgroup_t *cg, int levels, vs_error_t *err);
/* The cgroup's directory on the hierarchy of any controller (v1 names such
 * as freezer, devices, hugetlb, net_cls; on v2 a controller listed in
 * cgroup.controllers, or "" for the unified hierarchy). -1 when none. */
int vs_cgroup_any_fd(vs_cgroup_t *cg, const char *controller, int *is_v2);
/* Moves process `pid` into the cgroup on every hierarchy. */
int vs_cgroup_add_pid(vs_cgroup_t *cg, pid_t pid, vs_error_t *err);
/* The processes in it (first hierarchy), zero-terminated, malloc'd. */
pid_t *vs_cgroup_pids(vs_cgroup_t *cg, vs_error_t *err);

#endif
