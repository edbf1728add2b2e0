#include "vs/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/log.h"

#define MAX_HIERARCHIES 16

struct hierarchy {
        char *mountpoint;
        char *controllers; /* "cpu,cpuacct" on v1, "" on v2 */
        char *own_path;    /* vsd's cgroup, relative to the hierarchy root */
        int is_v2;
        int own_fd;  /* vsd's own cgroup directory */
        int base_fd; /* <own>/<tree name> */
        int home_fd; /* where vsd lives: own_fd, or on v2 the leaf <base>/vsd */
};

struct vs_cgroup_tree {
        vs_cgroup_mode_t mode;
        char *name;
        struct hierarchy hier[MAX_HIERARCHIES];
        int count;
        vs_cgroup_t *open; /* the cgroups holding directories open */
};

struct vs_cgroup {
        vs_cgroup_tree_t *tree;
        int fd[MAX_HIERARCHIES]; /* the VPS's directory on each hierarchy, or -1 */
        char *rel;               /* <slice>/<vps>, below each hierarchy's base */
        char *path;              /* <tree>/<slice>/<vps>, for messages */
        vs_cgroup_t *next_open;  /* in tree->open while it holds a directory */
        int is_open;
};

/* The controllers vsd's limits use, by their v1 names, with the v2 name of
 * the controller that does the same work. */
static const struct {
        const char *v1, *v2;
} known_controllers[] = {
        { "cpu", "cpu" },       { "cpuacct", "cpu" }, { "cpuset", "cpuset" },
        { "memory", "memory" }, { "pids", "pids" },   { "blkio", "io" },
};
#define NKNOWN (sizeof(known_controllers) / sizeof(known_controllers[0]))

const char *vs_cgroup_mode_name(vs_cgroup_mode_t mode)
{
        return mode == VS_CGROUP_V2 ? "v2" : mode == VS_CGROUP_HYBRID ? "hybrid" : "v1";
}

vs_cgroup_mode_t vs_cgroup_tree_mode(const vs_cgroup_tree_t *tree)
{
        return tree->mode;
}

static int is_fs(const char *path, unsigned long magic)
{
        struct statfs st;

        return statfs(path, &st) == 0 && (unsigned long)st.f_type == magic;
}

static vs_cgroup_mode_t detect_mode(void)
{
        if (is_fs("/sys/fs/cgroup", CGROUP2_SUPER_MAGIC))
                return VS_CGROUP_V2;
        if (is_fs("/sys/fs/cgroup/unified", CGROUP2_SUPER_MAGIC))
                return VS_CGROUP_HYBRID;
        return VS_CGROUP_V1;
}

/* Whether the comma-separated super options of a v1 mount name exactly the
 * controllers of a /proc/self/cgroup line. */
static int same_controllers(const char *super_opts, const char *controllers)
{
        cleanup_free char *wanted = vs_xstrdup(controllers);
        int matched = 0, total = 0;
        char *save = NULL;

        for (char *c = strtok_r(wanted, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
                size_t len = strlen(c);
                const char *p = super_opts;

                total++;
                while ((p = strstr(p, c))) {
                        int starts = p == super_opts || p[-1] == ',';
                        int ends = p[len] == ',' || p[len] == '\0';

                        if (starts && ends) {
                                matched++;
                                break;
                        }
                        p += len;
                }
        }
        return total > 0 && matched == total;
}

/* A line of /proc/self/mountinfo for a cgroup file system. */
struct cgroup_mount {
        char root[4096];
        char mountpoint[4096];
        char fstype[32];
        char super_opts[1024];
};

static int parse_mount_line(char *line, struct cgroup_mount *m)
{
        char *sep = strstr(line, " - ");
        char root[4096], mountpoint[4096], source[4096];

        if (!sep)
                return -1;
        if (sscanf(line, "%*d %*d %*s %4095s %4095s", root, mountpoint) != 2)
                return -1;
        if (sscanf(sep + 3, "%31s %4095s %1023s", m->fstype, source, m->super_opts) != 3)
                return -1;
        strcpy(m->root, root);
        strcpy(m->mountpoint, mountpoint);
        return 0;
}

/* Finds the mount of the hierarchy with these controllers ("" for v2). */
static int find_mount(const char *controllers, int v2, struct cgroup_mount *out)
{
        cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
        char line[8192];

        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f)) {
                struct cgroup_mount m;

                if (parse_mount_line(line, &m) < 0)
                        continue;
                if (v2 && strcmp(m.fstype, "cgroup2") == 0) {
                        *out = m;
                        return 0;
                }
                if (!v2 && strcmp(m.fstype, "cgroup") == 0 &&
                    same_controllers(m.super_opts, controllers)) {
                        *out = m;
                        return 0;
                }
        }
        return -1;
}

/* Which v1 hierarchies a tree holds. vsd's: only those with a controller
 * its limits, stats or view use, since a cgroup on one vsd never limits
 * (devices, freezer, hugetlb, net_cls, ...) would cost each VPS the
 * kernel's memory for it and its files, for nothing. Another program's
 * (the OCI runtime's cgroupsPath, which pauses through the freezer and
 * sets devices and hugetlb): every one with a resource controller. Named
 * ones (name=systemd) belong to the host's service manager in both. */
enum v1_choice { V1_VSD_CONTROLLERS, V1_EVERY_CONTROLLER };

static int wanted_v1(const char *controllers, enum v1_choice choice)
{
        if (!*controllers || strncmp(controllers, "name=", 5) == 0)
                return 0;
        if (choice == V1_EVERY_CONTROLLER)
                return 1;
        cleanup_free char *list = vs_xstrdup(controllers);
        char *save = NULL;

        for (char *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save))
                for (size_t i = 0; i < NKNOWN; i++)
                        if (strcmp(c, known_controllers[i].v1) == 0)
                                return 1;
        return 0;
}

static int open_dir(const char *path, vs_error_t *err)
{
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return vs_error_errno(err, "open cgroup %s", path);
        return fd;
}

/* The cgroup's directory: mountpoint + (own path less the mount's root). */
static char *own_dir_path(const struct cgroup_mount *m, const char *own)
{
        size_t rootlen = strlen(m->root);

        if (strcmp(m->root, "/") == 0)
                return vs_strdupf("%s%s", m->mountpoint, own);
        if (strncmp(own, m->root, rootlen) == 0 && (own[rootlen] == '/' || !own[rootlen]))
                return vs_strdupf("%s%s", m->mountpoint, own + rootlen);
        return NULL;
}

static int cpuset_copy_from_parent(int dirfd, const char *file, vs_error_t *err)
{
        cleanup_free char *value = NULL;
        cleanup_free char *parent_path = vs_strdupf("../%s", file);

        if (vs_read_file(dirfd, parent_path, 65536, &value, NULL, err) < 0)
                return -1;
        return vs_write_string(dirfd, file, value, err);
}

/* A new v1 cpuset cgroup starts with no CPUs and no memory nodes, and no task
 * can join it until both are set: inherit the parent's. The first level
 * below vsd's own cgroup then clones them to every cgroup made below it
 * (cgroup.clone_children, which its children inherit): a write of
 * cpuset.cpus rebuilds the scheduler domains, a walk over every cpuset of
 * the host, so each start cost more than the one before. */
static int cpuset_init(int dirfd, vs_error_t *err)
{
        cleanup_free char *cpus = NULL;

        if (vs_read_file(dirfd, "cpuset.cpus", 65536, &cpus, NULL, err) < 0)
                return -1;
        if (cpus[0] != '\n' && cpus[0] != '\0')
                return 0;
        if (cpuset_copy_from_parent(dirfd, "cpuset.cpus", err) < 0 ||
            cpuset_copy_from_parent(dirfd, "cpuset.mems", err) < 0)
                return -1;
        /* best effort: without it each child is filled as above */
        vs_write_string(dirfd, "cgroup.clone_children", "1", NULL);
        return 0;
}

static int is_cpuset(const struct hierarchy *h)
{
        return !h->is_v2 && same_controllers(h->controllers, "cpuset");
}

/* mkdir + open of one cgroup level; an existing directory is fine. */
static int make_child(const struct hierarchy *h, int parent_fd, const char *name, vs_error_t *err)
{
        int fd;

        if (mkdirat(parent_fd, name, 0755) < 0 && errno != EEXIST)
                return vs_error_errno(err, "create cgroup %s in %s", name, h->mountpoint);
        fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return vs_error_errno(err, "open cgroup %s in %s", name, h->mountpoint);
        if (is_cpuset(h) && cpuset_init(fd, err) < 0) {
                close(fd);
                return vs_error_wrap(err, "cgroup %s", name);
        }
        return fd;
}

/* A VPS has a cgroup on the v1 cpuset hierarchy only while it has a CPU
 * mask (vs_cgroup_ensure): without one its processes stay in vsd's own
 * cpuset, which holds the same CPUs, and the host keeps no cgroup, no files
 * and no per-cgroup state there for it (nor runs cpuset_css_online at each
 * start). The other hierarchies carry what every VPS has: its CPU share,
 * the counters of stats and of the /proc view, memory and pids. */
static int is_optional(const struct hierarchy *h)
{
        return is_cpuset(h);
}

/* Whether `word` is one of the blank-separated words of `list` (the format
 * of v2's cgroup.controllers). */
static int has_word(const char *list, const char *word)
{
        size_t len = strlen(word);

        for (const char *p = list; (p = strstr(p, word)); p += len) {
                int starts = p == list || p[-1] == ' ';
                int ends = p[len] == ' ' || p[len] == '\0' || p[len] == '\n';

                if (starts && ends)
                        return 1;
        }
        return 0;
}

/* Turns on, in dirfd's cgroup.subtree_control, every controller of ours
 * that the cgroup has but `skip` (v2 name, or NULL). One at a time: a
 * controller that cannot be enabled must not keep the others off; what is
 * missing is reported later, by name, when a limit needs it. */
static void enable_controllers_but(int dirfd, const char *skip)
{
        cleanup_free char *have = NULL;

        if (vs_read_file(dirfd, "cgroup.controllers", 4096, &have, NULL, NULL) < 0)
                return;
        have[strcspn(have, "\n")] = '\0';
        for (size_t i = 0; i < NKNOWN; i++) {
                char op[32];

                if (i > 0 && strcmp(known_controllers[i].v2, known_controllers[i - 1].v2) == 0)
                        continue;
                if (!has_word(have, known_controllers[i].v2) ||
                    (skip && strcmp(known_controllers[i].v2, skip) == 0))
                        continue;
                snprintf(op, sizeof(op), "+%s", known_controllers[i].v2);
                vs_write_string(dirfd, "cgroup.subtree_control", op, NULL);
        }
}

static void enable_controllers(int dirfd)
{
        enable_controllers_but(dirfd, NULL);
}

/* On pure v2 a slice gives its VPS every controller but cpuset, which a
 * VPS gets (with its siblings: the slice's subtree_control is theirs too)
 * from vs_cgroup_ensure once one has a CPU mask, as on v1. Without a mask
 * its processes run on the slice's CPUs either way, and the kernel keeps
 * no cpuset state and no cpuset files per VPS (nor runs cpuset_css_online
 * at each start). */
#define VPS_LATER_CONTROLLER "cpuset"

/* Pure v2: the no-internal-process rule forbids controllers in the subtree
 * of a cgroup that holds processes, so vsd first moves itself into the leaf
 * <own>/<tree>/vsd, then enables the controllers in <own> (which works when
 * vsd was alone there, as in a delegated systemd unit, or <own> is the root)
 * and in <own>/<tree>. */
static int delegate_v2(struct hierarchy *h, vs_error_t *err)
{
        h->home_fd = make_child(h, h->base_fd, "vsd", err);
        if (h->home_fd < 0)
                return -1;
        if (vs_write_string(h->home_fd, "cgroup.procs", "0", err) < 0)
                return vs_error_wrap(err, "move vsd into its leaf cgroup on %s", h->mountpoint);
        enable_controllers(h->own_fd);
        enable_controllers(h->base_fd);
        return 0;
}

static int add_hierarchy(vs_cgroup_tree_t *tree, const char *controllers, const char *own, int v2,
                         vs_error_t *err)
{
        struct hierarchy *h = &tree->hier[tree->count];
        cleanup_free char *dir = NULL;
        struct cgroup_mount m;

        if (tree->count == MAX_HIERARCHIES)
                return 0;
        if (find_mount(controllers, v2, &m) < 0)
                return 0; /* listed but not mounted here: nothing to manage */
        dir = own_dir_path(&m, own);
        if (!dir)
                return vs_error_set(err, ENOENT, "vsd's cgroup %s is not visible under %s", own,
                                    m.mountpoint);
        h->own_fd = open_dir(dir, err);
        if (h->own_fd < 0)
                return -1;
        h->mountpoint = vs_xstrdup(m.mountpoint);
        h->controllers = vs_xstrdup(controllers);
        h->own_path = vs_xstrdup(own);
        h->is_v2 = v2;
        h->home_fd = -1;
        /* a tree without a name is the caller's own cgroup (see
         * vs_cgroup_open_below) */
        h->base_fd = *tree->name ? make_child(h, h->own_fd, tree->name, err) : dup(h->own_fd);
        if (h->base_fd < 0)
                return -1;
        tree->count++;
        if (v2 && tree->mode == VS_CGROUP_V2 && *tree->name)
                return delegate_v2(h, err);
        h->home_fd = dup(h->own_fd);
        if (h->home_fd < 0)
                return vs_error_errno(err, "dup cgroup fd");
        return 0;
}

/* `own` is a saved /proc/self/cgroup text, or NULL for the caller's */
static int read_own_cgroups(vs_cgroup_tree_t *tree, const char *own, enum v1_choice choice,
                            vs_error_t *err)
{
        cleanup_fclose FILE *f =
                own ? fmemopen((void *)own, strlen(own), "r") : fopen("/proc/self/cgroup", "re");
        char line[4096];

        if (!f)
                return vs_error_errno(err, "open /proc/self/cgroup");
        while (fgets(line, sizeof(line), f)) {
                char *controllers = strchr(line, ':');
                char *path = controllers ? strchr(controllers + 1, ':') : NULL;
                int v2;

                if (!path)
                        continue;
                *controllers++ = '\0';
                *path++ = '\0';
                path[strcspn(path, "\n")] = '\0';
                v2 = strcmp(line, "0") == 0 && *controllers == '\0';
                if (v2 && tree->mode == VS_CGROUP_V1)
                        continue;
                if (!v2 && (tree->mode == VS_CGROUP_V2 || !wanted_v1(controllers, choice)))
                        continue;
                if (add_hierarchy(tree, controllers, path, v2, err) < 0)
                        return -1;
        }
        if (tree->count == 0)
                return vs_error_set(err, ENOENT, "no cgroup hierarchy found");
        return 0;
}

/* vsd's own cgroup as a prefix for "<prefix>/<tree>/...": "" for the root. */
static const char *own_prefix(const struct hierarchy *h)
{
        return strcmp(h->own_path, "/") == 0 ? "" : h->own_path;
}

/* Whether hierarchy h offers the controller (v1 name); on v2 looks at the
 * cgroup.controllers of dirfd, a cgroup of that hierarchy. */
static int offers(const struct hierarchy *h, int dirfd, size_t known)
{
        cleanup_free char *have = NULL;

        if (!h->is_v2)
                return same_controllers(h->controllers, known_controllers[known].v1);
        if (vs_read_file(dirfd, "cgroup.controllers", 4096, &have, NULL, NULL) < 0)
                return 0;
        return has_word(have, known_controllers[known].v2);
}

/* A delegation problem is told once, at start, naming the controller and
 * the cgroup; a VPS that asks for a limit it needs is refused later. */
static void report_missing(const vs_cgroup_tree_t *tree)
{
        for (size_t k = 0; k < NKNOWN; k++) {
                int found = 0;

                for (int i = 0; i < tree->count && !found; i++)
                        found = offers(&tree->hier[i], tree->hier[i].base_fd, k);
                if (!found)
                        vs_log(LOG_WARNING,
                               "cgroup controller %s is not available in %s/%s: VPS that ask for "
                               "its limits will not start",
                               known_controllers[k].v1, own_prefix(&tree->hier[0]), tree->name);
        }
}

static int tree_open(const char *name, const char *own, enum v1_choice choice,
                     vs_cgroup_tree_t **out, vs_error_t *err)
{
        vs_cgroup_tree_t *tree = vs_xmalloc(sizeof(*tree));

        tree->mode = detect_mode();
        tree->name = vs_xstrdup(name);
        tree->count = 0;
        if (read_own_cgroups(tree, own, choice, err) < 0) {
                vs_cgroup_tree_free(tree);
                return vs_error_wrap(err, "cgroup tree");
        }
        if (*name)
                report_missing(tree);
        *out = tree;
        return 0;
}

int vs_cgroup_tree_open(const char *name, vs_cgroup_tree_t **out, vs_error_t *err)
{
        return tree_open(name, NULL, V1_VSD_CONTROLLERS, out, err);
}

void vs_cgroup_tree_free(vs_cgroup_tree_t *tree)
{
        if (!tree)
                return;
        for (int i = 0; i < tree->count; i++) {
                close(tree->hier[i].own_fd);
                close(tree->hier[i].base_fd);
                if (tree->hier[i].home_fd >= 0)
                        close(tree->hier[i].home_fd);
                free(tree->hier[i].mountpoint);
                free(tree->hier[i].controllers);
                free(tree->hier[i].own_path);
        }
        free(tree->name);
        free(tree);
}

/* A cgroup that opened a directory joins the tree's list of them, which
 * vs_cgroup_tree_release walks instead of every cgroup. */
static void mark_open(vs_cgroup_t *cg)
{
        if (cg->is_open || !cg->rel)
                return;
        cg->is_open = 1;
        cg->next_open = cg->tree->open;
        cg->tree->open = cg;
}

int vs_cgroup_create(vs_cgroup_tree_t *tree, const char *slice, const char *vps, vs_cgroup_t **out,
                     vs_error_t *err)
{
        vs_cgroup_t *cg = vs_xmalloc(sizeof(*cg));

        cg->tree = tree;
        cg->rel = vs_strdupf("%s/%s", slice, vps);
        cg->path = vs_strdupf("%s/%s/%s", tree->name, slice, vps);
        for (int i = 0; i < MAX_HIERARCHIES; i++)
                cg->fd[i] = -1;
        for (int i = 0; i < tree->count; i++) {
                cleanup_close int slice_fd = -1;

                if (is_optional(&tree->hier[i]))
                        continue;
                slice_fd = make_child(&tree->hier[i], tree->hier[i].base_fd, slice, err);
                if (slice_fd >= 0 && tree->hier[i].home_fd >= 0 && tree->hier[i].is_v2 &&
                    tree->mode == VS_CGROUP_V2)
                        enable_controllers_but(slice_fd, VPS_LATER_CONTROLLER);
                if (slice_fd < 0 ||
                    (cg->fd[i] = make_child(&tree->hier[i], slice_fd, vps, err)) < 0) {
                        vs_cgroup_free(cg);
                        vs_cgroup_remove(tree, slice, vps, NULL);
                        return -1;
                }
        }
        mark_open(cg);
        *out = cg;
        return 0;
}

int vs_cgroup_slice_open(vs_cgroup_tree_t *tree, const char *slice, vs_cgroup_t **out,
                         vs_error_t *err)
{
        vs_cgroup_t *cg = vs_xmalloc(sizeof(*cg));

        cg->tree = tree;
        cg->rel = vs_xstrdup(slice);
        cg->path = vs_strdupf("%s/%s", tree->name, slice);
        cg->is_open = 0;
        cg->next_open = NULL;
        for (int i = 0; i < MAX_HIERARCHIES; i++)
                cg->fd[i] = -1;
        for (int i = 0; i < tree->count; i++) {
                cg->fd[i] = make_child(&tree->hier[i], tree->hier[i].base_fd, slice, err);
                if (cg->fd[i] < 0) {
                        vs_cgroup_free(cg);
                        return -1;
                }
                /* as vs_cgroup_create does: the VPS below need the
                 * controllers, and the slice's own files come with them */
                if (tree->hier[i].home_fd >= 0 && tree->hier[i].is_v2 && tree->mode == VS_CGROUP_V2)
                        enable_controllers_but(cg->fd[i], VPS_LATER_CONTROLLER);
        }
        mark_open(cg);
        *out = cg;
        return 0;
}

const char *vs_cgroup_path(const vs_cgroup_t *cg)
{
        return cg->path;
}

void vs_cgroup_free(vs_cgroup_t *cg)
{
        if (!cg)
                return;
        if (cg->is_open) {
                vs_cgroup_t **p = &cg->tree->open;

                while (*p != cg)
                        p = &(*p)->next_open;
                *p = cg->next_open;
        }
        for (int i = 0; i < MAX_HIERARCHIES; i++)
                if (cg->fd[i] >= 0)
                        close(cg->fd[i]);
        free(cg->rel);
        free(cg->path);
        free(cg);
}

/* The VPS's directory on hierarchy i, opened when first needed and kept
 * until vs_cgroup_tree_release: -1 with errno when it is gone. */
static int cg_fd(vs_cgroup_t *cg, int i)
{
        /* a cgroup of vs_cgroup_open_below keeps its directories open */
        if (cg->fd[i] < 0 && cg->rel) {
                cg->fd[i] = openat(cg->tree->hier[i].base_fd, cg->rel,
                                   O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (cg->fd[i] >= 0)
                        mark_open(cg);
        }
        return cg->fd[i];
}

/* Whether the VPS has no cgroup of its own on hierarchy i, which is one
 * made only for a limit (is_optional): its processes are in vsd's there. */
static int absent(vs_cgroup_t *cg, int i)
{
        return is_optional(&cg->tree->hier[i]) && cg->rel && cg_fd(cg, i) < 0 && errno == ENOENT;
}

void vs_cgroup_tree_release(vs_cgroup_tree_t *tree)
{
        while (tree && tree->open) {
                vs_cgroup_t *cg = tree->open;

                tree->open = cg->next_open;
                cg->is_open = 0;
                for (int i = 0; i < MAX_HIERARCHIES; i++) {
                        if (cg->fd[i] >= 0)
                                close(cg->fd[i]);
                        cg->fd[i] = -1;
                }
        }
}

/* A limit file: a controller's ("memory.max", "pids.max"), or the v2 core's
 * limits on the subtree ("cgroup.max.depth", "cgroup.max.descendants"). */
static int is_limit_file(const char *name)
{
        const char *dot = strchr(name, '.');

        if (!dot || name[0] == '.')
                return 0;
        if (strncmp(name, "cgroup.", 7) == 0)
                return strncmp(name, "cgroup.max.", 11) == 0;
        return 1;
}

/* Seals the limit files of a cgroup directory (those whose names start
 * with `prefix`, or all of them with NULL). */
static int seal_dir(int dirfd, const char *where, const char *prefix, vs_error_t *err)
{
        cleanup_closedir DIR *dir = vs_opendir_at(dirfd, ".");
        struct dirent *ent;

        if (!dir)
                return vs_error_errno(err, "read cgroup %s", where);
        while ((ent = readdir(dir))) {
                struct stat st;

                if (!is_limit_file(ent->d_name) ||
                    (prefix && strncmp(ent->d_name, prefix, strlen(prefix)) != 0) ||
                    fstatat(dirfd, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISREG(st.st_mode))
                        continue;
                if (fchownat(dirfd, ent->d_name, VS_CGROUP_SEALED_UID, (gid_t)VS_CGROUP_SEALED_UID,
                             0) < 0 ||
                    fchmodat(dirfd, ent->d_name, st.st_mode & 0444, 0) < 0)
                        return vs_error_errno(err, "seal %s/%s", where, ent->d_name);
        }
        return 0;
}

int vs_cgroup_seal(vs_cgroup_t *cg, vs_error_t *err)
{
        for (int i = 0; i < cg->tree->count; i++)
                if (!absent(cg, i) &&
                    seal_dir(cg_fd(cg, i), cg->tree->hier[i].mountpoint, NULL, err) < 0)
                        return vs_error_wrap(err, "cgroup %s", cg->path);
        return 0;
}

/* The files of a v2 cgroup that whoever it is delegated to must write
 * (cgroups' delegation model: the directory, procs, threads and
 * subtree_control; never the limits on the cgroup itself). */
static const char *const delegated_files[] = { "cgroup.procs", "cgroup.threads",
                                               "cgroup.subtree_control" };

int vs_cgroup_delegate(vs_cgroup_t *cg, uid_t owner, vs_error_t *err)
{
        for (int i = 0; i < cg->tree->count; i++) {
                const struct hierarchy *h = &cg->tree->hier[i];

                if (!h->is_v2)
                        continue;
                if (fchown(cg_fd(cg, i), owner, owner) < 0)
                        return vs_error_errno(err, "delegate cgroup %s on %s", cg->path,
                                              h->mountpoint);
                for (size_t f = 0; f < sizeof(delegated_files) / sizeof(delegated_files[0]); f++)
                        if (fchownat(cg_fd(cg, i), delegated_files[f], owner, owner, 0) < 0 &&
                            errno != ENOENT)
                                return vs_error_errno(err, "delegate %s/%s on %s", cg->path,
                                                      delegated_files[f], h->mountpoint);
        }
        return 0;
}

int vs_cgroup_has_v2(const vs_cgroup_t *cg)
{
        for (int i = 0; i < cg->tree->count; i++)
                if (cg->tree->hier[i].is_v2)
                        return 1;
        return 0;
}

/* On v1 the calling thread moves through `tasks`: a thread moving itself
 * takes no global lock, where a write to cgroup.procs takes
 * cgroup_threadgroup_rwsem for writing and waits for an RCU grace period
 * (milliseconds on a busy host). vsd and its builder are single-threaded:
 * the thread is the process. v2 has no such file for a domain cgroup. */
static int move_self(int dirfd, const struct hierarchy *h, vs_error_t *err)
{
        if (vs_write_string(dirfd, h->is_v2 ? "cgroup.procs" : "tasks", "0", err) < 0)
                return vs_error_wrap(err, "move into cgroup on %s", h->mountpoint);
        return 0;
}

static int enter_hierarchies(vs_cgroup_t *cg, int with_v2, vs_error_t *err)
{
        for (int i = 0; i < cg->tree->count; i++) {
                if ((!with_v2 && cg->tree->hier[i].is_v2) || absent(cg, i))
                        continue;
                if (move_self(cg_fd(cg, i), &cg->tree->hier[i], err) < 0) {
                        if (with_v2)
                                vs_cgroup_leave(cg->tree, NULL);
                        else
                                vs_cgroup_leave_v1(cg->tree, NULL);
                        return -1;
                }
        }
        return 0;
}

int vs_cgroup_enter(vs_cgroup_t *cg, vs_error_t *err)
{
        return enter_hierarchies(cg, 1, err);
}

int vs_cgroup_enter_v1(vs_cgroup_t *cg, vs_error_t *err)
{
        return enter_hierarchies(cg, 0, err);
}

int vs_cgroup_leave_v1(vs_cgroup_tree_t *tree, vs_error_t *err)
{
        int rc = 0;

        for (int i = 0; i < tree->count; i++)
                if (!tree->hier[i].is_v2 &&
                    move_self(tree->hier[i].home_fd, &tree->hier[i], err) < 0)
                        rc = -1;
        return rc;
}

static int max_fd(int a, int b)
{
        return a > b ? a : b;
}

int vs_cgroup_highest_fd(const vs_cgroup_t *cg)
{
        int high = -1;

        for (int i = 0; i < cg->tree->count; i++) {
                const struct hierarchy *h = &cg->tree->hier[i];

                high = max_fd(high,
                              max_fd(cg->fd[i], max_fd(h->own_fd, max_fd(h->base_fd, h->home_fd))));
        }
        return high;
}

int vs_cgroup_v2_dir(vs_cgroup_t *cg)
{
        for (int i = 0; i < cg->tree->count; i++)
                if (cg->tree->hier[i].is_v2)
                        return cg_fd(cg, i);
        return -1;
}

static const char *path_on(const struct hierarchy *h, char *text);
static int path_within(const char *path, const char *dir);

/* Process pid's cgroup on hierarchy h: *path points into *text (NULL when
 * the process is in none there); -1 when its /proc entry cannot be read
 * (it is gone). */
static int pid_path_on(const struct hierarchy *h, pid_t pid, char **text, const char **path)
{
        char proc_path[64];

        snprintf(proc_path, sizeof(proc_path), "/proc/%d/cgroup", (int)pid);
        if (vs_read_file(AT_FDCWD, proc_path, 65536, text, NULL, NULL) < 0)
                return -1;
        *path = path_on(h, *text);
        return 0;
}

/* The directory of process pid's cgroup on v2 hierarchy i when it is the
 * VPS's cgroup or below it, else the VPS's own: an fd to close. */
static int dir_beside(vs_cgroup_t *cg, int i, pid_t pid)
{
        const struct hierarchy *h = &cg->tree->hier[i];
        cleanup_free char *text = NULL;
        cleanup_free char *vps_dir = vs_strdupf("%s/%s", own_prefix(h), cg->path);
        const char *path;
        int fd;

        if (pid_path_on(h, pid, &text, &path) == 0 && path && path_within(path, vps_dir) &&
            strcmp(path, vps_dir) != 0 && !strstr(path, "/..")) {
                cleanup_free char *dir = vs_strdupf("%s%s", h->mountpoint, path);

                fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd >= 0)
                        return fd;
        }
        return dup(cg_fd(cg, i));
}

int vs_cgroup_enter_beside(vs_cgroup_t *cg, pid_t pid, vs_error_t *err)
{
        for (int i = 0; i < cg->tree->count; i++) {
                cleanup_close int fd = -1;

                if (absent(cg, i))
                        continue;
                fd = cg->tree->hier[i].is_v2 ? dir_beside(cg, i, pid) : dup(cg_fd(cg, i));
                if (fd < 0 || move_self(fd, &cg->tree->hier[i], err) < 0) {
                        if (fd < 0)
                                vs_error_errno(err, "cgroup of pid %d", (int)pid);
                        vs_cgroup_leave(cg->tree, NULL);
                        return -1;
                }
        }
        return 0;
}

vs_cgroup_tree_t *vs_cgroup_tree_of(vs_cgroup_t *cg)
{
        return cg->tree;
}

int vs_cgroup_leave(vs_cgroup_tree_t *tree, vs_error_t *err)
{
        int rc = 0;

        for (int i = 0; i < tree->count; i++)
                if (move_self(tree->hier[i].home_fd, &tree->hier[i], err) < 0)
                        rc = -1;
        return rc;
}

/* A VPS's own cgroups below its cgroup (systemd's slices and scopes) go
 * this deep at most: the kernel's default cgroup.max.depth is unlimited,
 * and vsd must not follow a VPS's tree for ever. */
#define MAX_SUBTREE_DEPTH 32

struct pid_list {
        pid_t *pids;
        size_t count, cap;
};

static void add_pids(struct pid_list *list, const char *text)
{
        for (const char *p = text; *p;) {
                char *end;
                long pid = strtol(p, &end, 10);

                if (end == p)
                        break;
                if (pid > 0) {
                        /* room for the terminating 0 too */
                        list->pids = vs_xgrow(list->pids, list->count + 1, &list->cap, 64,
                                              sizeof(*list->pids));
                        list->pids[list->count++] = (pid_t)pid;
                }
                p = *end ? end + 1 : end;
        }
}

/* Calls fn for each cgroup directory below dirfd (not dirfd itself), the
 * deepest first, with the parent's fd and the name. */
static int for_each_child(int dirfd, int depth,
                          int (*fn)(int parent_fd, const char *name, void *arg), void *arg)
{
        /* a file of its own: a dup would share (and leave at the end) the
         * directory offset of the caller's fd, which is read again later */
        cleanup_closedir DIR *dir = vs_opendir_at(dirfd, ".");
        struct dirent *ent;
        int rc = 0;

        if (!dir)
                return -1;
        while ((ent = readdir(dir))) {
                cleanup_close int child = -1;

                if (ent->d_type != DT_DIR || ent->d_name[0] == '.')
                        continue;
                child = openat(dirfd, ent->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (child < 0)
                        continue; /* removed meanwhile */
                if (depth < MAX_SUBTREE_DEPTH && for_each_child(child, depth + 1, fn, arg) < 0)
                        rc = -1;
                if (fn(dirfd, ent->d_name, arg) < 0)
                        rc = -1;
        }
        return rc;
}

static int collect_child_procs(int parent_fd, const char *name, void *arg)
{
        cleanup_free char *path = vs_strdupf("%s/cgroup.procs", name);
        cleanup_free char *text = NULL;

        if (vs_read_file(parent_fd, path, 16U << 20, &text, NULL, NULL) == 0)
                add_pids(arg, text);
        return 0;
}

/* The first hierarchy on which every VPS has a cgroup: where its processes
 * are listed. */
static int listing_hierarchy(const vs_cgroup_t *cg)
{
        for (int i = 0; i < cg->tree->count; i++)
                if (!is_optional(&cg->tree->hier[i]))
                        return i;
        return 0;
}

/* Reads the pids in cgroup.procs of the VPS's cgroup on the listing
 * hierarchy and of every cgroup below it into a malloc'd, zero-terminated
 * array. */
static pid_t *read_procs(vs_cgroup_t *cg, vs_error_t *err)
{
        cleanup_free char *text = NULL;
        struct pid_list list = { 0 };
        int first = listing_hierarchy(cg);

        if (vs_read_file(cg_fd(cg, first), "cgroup.procs", 16U << 20, &text, NULL, err) < 0)
                return NULL;
        add_pids(&list, text);
        for_each_child(cg_fd(cg, first), 1, collect_child_procs, &list);
        list.pids = vs_xgrow(list.pids, list.count, &list.cap, 64, sizeof(*list.pids));
        list.pids[list.count] = 0;
        return list.pids;
}

int vs_cgroup_controller_fd(vs_cgroup_t *cg, const char *controller, int *is_v2, vs_error_t *err)
{
        const vs_cgroup_tree_t *tree = cg->tree;

        for (size_t k = 0; k < NKNOWN; k++) {
                if (strcmp(known_controllers[k].v1, controller) != 0)
                        continue;
                for (int i = 0; i < tree->count; i++) {
                        /* a v1 hierarchy says by its mount: its cgroup
                         * is opened only once it is the one */
                        if (!offers(&tree->hier[i], tree->hier[i].is_v2 ? cg_fd(cg, i) : -1, k))
                                continue;
                        *is_v2 = tree->hier[i].is_v2;
                        if (absent(cg, i))
                                return vs_error_kind(err, VS_E_STATE, ENOENT,
                                                     "cgroup %s has no %s cgroup (no limit on it)",
                                                     cg->path, controller);
                        return cg_fd(cg, i);
                }
        }
        return vs_error_kind(err, VS_E_STATE, ENOTSUP,
                             "cgroup controller %s is not available for cgroup %s/%s", controller,
                             own_prefix(&tree->hier[0]), cg->path);
}

char *vs_cgroup_controller_path(vs_cgroup_t *cg, const char *controller)
{
        const vs_cgroup_tree_t *tree = cg->tree;

        for (size_t k = 0; k < NKNOWN; k++) {
                if (strcmp(known_controllers[k].v1, controller) != 0)
                        continue;
                for (int i = 0; i < tree->count; i++)
                        if ((!tree->hier[i].is_v2 && offers(&tree->hier[i], -1, k)) ||
                            (tree->hier[i].is_v2 && tree->mode == VS_CGROUP_V2 &&
                             strcmp(controller, VPS_LATER_CONTROLLER) == 0))
                                return vs_strdupf("%s%s/%s", tree->hier[i].mountpoint,
                                                  own_prefix(&tree->hier[i]), cg->path);
        }
        return NULL;
}

int vs_cgroup_nprocs(vs_cgroup_t *cg, vs_error_t *err)
{
        cleanup_free pid_t *pids = read_procs(cg, err);
        int count = 0;

        if (!pids)
                return -1;
        while (pids[count])
                count++;
        return count;
}

/* Whether process pid is in the VPS's cgroup (or below it) on hierarchy i. */
static int pid_inside(vs_cgroup_t *cg, int i, pid_t pid)
{
        const struct hierarchy *h = &cg->tree->hier[i];
        cleanup_free char *text = NULL;
        cleanup_free char *dir = vs_strdupf("%s/%s", own_prefix(h), cg->path);
        const char *path;

        if (pid_path_on(h, pid, &text, &path) < 0)
                return 1; /* gone: nothing to move */
        return path && path_within(path, dir);
}

/* Moves every process of the VPS (as the listing hierarchy has them) into
 * its cgroup on hierarchy i, until a round finds none outside: a fork
 * racing a move is serialised with it by the kernel (the threadgroup
 * rwsem), so a child born outside is listed by the next round, and once
 * all are inside, what they fork is born inside. */
static int move_all_into(vs_cgroup_t *cg, int i, vs_error_t *err)
{
        for (int round = 0; round < 100; round++) {
                cleanup_free pid_t *pids = read_procs(cg, err);
                int moved = 0;

                if (!pids)
                        return -1;
                for (pid_t *p = pids; *p; p++) {
                        char text[32];

                        if (pid_inside(cg, i, *p))
                                continue;
                        snprintf(text, sizeof(text), "%d", (int)*p);
                        /* ESRCH: it exited meanwhile */
                        if (vs_write_string(cg_fd(cg, i), "cgroup.procs", text, err) < 0 &&
                            err->errnum != ESRCH)
                                return vs_error_wrap(err, "move %d into cgroup %s on %s", (int)*p,
                                                     cg->path, cg->tree->hier[i].mountpoint);
                        moved++;
                }
                if (!moved)
                        return 0;
        }
        return vs_error_set(err, EBUSY, "processes keep appearing outside cgroup %s", cg->path);
}

/* Pure v2: the VPS's slice turns on the controller vs_cgroup_create left
 * off (VPS_LATER_CONTROLLER) for its VPS. Its new files in the VPS's
 * cgroup are sealed like the others (a privileged VPS's root is uid 0).
 * A host that does not delegate it leaves it off: the caller's next
 * lookup names it. */
static int ensure_v2(vs_cgroup_t *cg, int i, const char *controller, vs_error_t *err)
{
        const struct hierarchy *h = &cg->tree->hier[i];
        cleanup_free char *slice = vs_xstrdup(cg->rel);
        cleanup_close int slice_fd = -1;
        char op[32], *slash = strchr(slice, '/');
        size_t k = 0;
        int fd;

        if (strcmp(controller, VPS_LATER_CONTROLLER) != 0 || h->home_fd < 0 ||
            cg->tree->mode != VS_CGROUP_V2 || !slash)
                return 0;
        while (k < NKNOWN && strcmp(known_controllers[k].v1, controller) != 0)
                k++;
        fd = cg_fd(cg, i);
        if (k == NKNOWN || fd < 0 || offers(h, fd, k))
                return 0;
        *slash = '\0';
        slice_fd = openat(h->base_fd, slice, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (slice_fd < 0)
                return 0;
        snprintf(op, sizeof(op), "+%s", controller);
        if (vs_write_string(slice_fd, "cgroup.subtree_control", op, NULL) < 0)
                return 0;
        if (seal_dir(fd, h->mountpoint, controller, err) < 0)
                return vs_error_wrap(err, "cgroup %s", cg->path);
        return 0;
}

int vs_cgroup_ensure(vs_cgroup_t *cg, const char *controller, vs_error_t *err)
{
        vs_cgroup_tree_t *tree = cg->tree;
        cleanup_free char *slice = NULL;
        char *slash;

        for (int i = 0; i < tree->count; i++) {
                if (tree->hier[i].is_v2) {
                        if (ensure_v2(cg, i, controller, err) < 0)
                                return -1;
                        continue;
                }
                cleanup_close int slice_fd = -1;
                int fd;

                if (!is_optional(&tree->hier[i]) ||
                    !same_controllers(tree->hier[i].controllers, controller) || !absent(cg, i))
                        continue;
                /* rel is <slice>/<vps> */
                slice = vs_xstrdup(cg->rel);
                slash = strchr(slice, '/');
                if (!slash)
                        return vs_error_set(err, EINVAL, "cgroup %s is not a VPS's", cg->path);
                *slash = '\0';
                slice_fd = make_child(&tree->hier[i], tree->hier[i].base_fd, slice, err);
                if (slice_fd < 0 || (fd = make_child(&tree->hier[i], slice_fd, slash + 1, err)) < 0)
                        return vs_error_wrap(err, "cgroup %s", cg->path);
                cg->fd[i] = fd;
                mark_open(cg);
                /* made after the seal of the others: sealed whoever the VPS
                 * is (a few files, and only for a VPS with this limit) */
                if (seal_dir(fd, tree->hier[i].mountpoint, NULL, err) < 0 ||
                    move_all_into(cg, i, err) < 0)
                        return vs_error_wrap(err, "cgroup %s", cg->path);
                return 0;
        }
        return 0;
}

/* Whether a cgroup path is `dir` or below it. */
static int path_within(const char *path, const char *dir)
{
        size_t len = strlen(dir);

        return strncmp(path, dir, len) == 0 && (path[len] == '\0' || path[len] == '/');
}

/* The path of hierarchy h in a /proc/PID/cgroup text, or NULL. The text is
 * changed (lines are cut). */
static const char *path_on(const struct hierarchy *h, char *text)
{
        char *save = NULL;

        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *controllers = strchr(line, ':');
                char *path = controllers ? strchr(controllers + 1, ':') : NULL;

                if (!path)
                        continue;
                *controllers++ = '\0';
                *path++ = '\0';
                if (h->is_v2 ? strcmp(line, "0") == 0 && !*controllers
                             : strcmp(controllers, h->controllers) == 0)
                        return path;
        }
        return NULL;
}

static int dir_exists(const vs_cgroup_tree_t *tree, int i, const char *slice, const char *vps)
{
        cleanup_free char *rel = vs_strdupf("%s/%s", slice, vps);
        struct stat st;

        return fstatat(tree->hier[i].base_fd, rel, &st, 0) == 0 || errno != ENOENT;
}

int vs_cgroup_holds(vs_cgroup_tree_t *tree, const char *slice, const char *vps, pid_t pid,
                    vs_error_t *err)
{
        char proc_path[64];

        snprintf(proc_path, sizeof(proc_path), "/proc/%d/cgroup", (int)pid);
        for (int i = 0; i < tree->count; i++) {
                const struct hierarchy *h = &tree->hier[i];
                cleanup_free char *text = NULL;
                cleanup_free char *dir =
                        vs_strdupf("%s/%s/%s/%s", own_prefix(h), tree->name, slice, vps);
                const char *path;

                if (is_optional(h) && !dir_exists(tree, i, slice, vps))
                        continue;
                if (vs_read_file(AT_FDCWD, proc_path, 65536, &text, NULL, err) < 0)
                        return -1;
                path = path_on(h, text);
                if (!path || !path_within(path, dir))
                        return 0;
        }
        return 1;
}

static int kill_via_v2(vs_cgroup_t *cg)
{
        for (int i = 0; i < cg->tree->count; i++)
                if (cg->tree->hier[i].is_v2 &&
                    vs_write_string(cg_fd(cg, i), "cgroup.kill", "1", NULL) == 0)
                        return 0;
        return -1;
}

int vs_cgroup_kill(vs_cgroup_t *cg, vs_error_t *err)
{
        if (kill_via_v2(cg) == 0)
                return 0;
        /* v1 has no cgroup.kill: signal until empty, bounded, because a
         * process may fork between the read and the kill. */
        for (int round = 0; round < 100; round++) {
                cleanup_free pid_t *pids = read_procs(cg, err);

                if (!pids)
                        return -1;
                if (!pids[0])
                        return 0;
                for (pid_t *p = pids; *p; p++)
                        kill(*p, SIGKILL);
        }
        return vs_error_set(err, EBUSY, "processes keep appearing in the cgroup");
}

/* rmdir of a cgroup whose last task has just exited can briefly fail with
 * EBUSY while the kernel finishes the exit (longer on a loaded host); retry
 * for at most one second. */
static int rmdir_cgroup(int parent_fd, const char *name)
{
        struct timespec pause = { 0, 2 * 1000 * 1000 };

        for (int attempt = 0; attempt < 500; attempt++) {
                if (unlinkat(parent_fd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
                        return 0;
                if (errno != EBUSY)
                        return -1;
                nanosleep(&pause, NULL);
        }
        return -1;
}

static int rmdir_child(int parent_fd, const char *name, void *arg)
{
        (void)arg;
        return rmdir_cgroup(parent_fd, name);
}

/* The VPS's cgroup and every cgroup below it (its init's own, such as
 * systemd's), the deepest first. */
static int remove_subtree(int slice_fd, const char *vps)
{
        cleanup_close int fd = openat(slice_fd, vps, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return errno == ENOENT ? 0 : -1;
        for_each_child(fd, 1, rmdir_child, NULL);
        return rmdir_cgroup(slice_fd, vps);
}

/* One rmdir of SLICE/VPS: 1 when it is gone (or never was), 0 when the
 * kernel refused (cgroups below it, or a task still exiting). A stop is
 * answered after this, and the walk of remove_subtree costs eleven
 * syscalls per hierarchy against this one. */
static int rmdir_at_once(int base_fd, const char *slice, const char *vps)
{
        char path[PATH_MAX];

        if (snprintf(path, sizeof(path), "%s/%s", slice, vps) >= (int)sizeof(path))
                return 0;
        return unlinkat(base_fd, path, AT_REMOVEDIR) == 0 || errno == ENOENT;
}

int vs_cgroup_remove(vs_cgroup_tree_t *tree, const char *slice, const char *vps, vs_error_t *err)
{
        int rc = 0;

        for (int i = 0; i < tree->count; i++) {
                cleanup_close int slice_fd = -1;

                if (rmdir_at_once(tree->hier[i].base_fd, slice, vps))
                        continue;
                slice_fd = openat(tree->hier[i].base_fd, slice, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (slice_fd < 0)
                        continue;
                if (remove_subtree(slice_fd, vps) < 0 && rc == 0)
                        rc = vs_error_errno(err, "remove cgroup %s/%s/%s on %s", tree->name, slice,
                                            vps, tree->hier[i].mountpoint);
        }
        return rc;
}

int vs_cgroup_remove_empty(vs_cgroup_tree_t *tree, const char *slice, const char *vps)
{
        int rc = 0;

        for (int i = 0; i < tree->count; i++)
                if (!rmdir_at_once(tree->hier[i].base_fd, slice, vps))
                        rc = -1;
        return rc;
}

void vs_cgroup_tree_sweep(vs_cgroup_tree_t *tree,
                          int (*known)(const char *slice, const char *vps, void *arg), void *arg)
{
        for (int i = 0; i < tree->count; i++) {
                cleanup_closedir DIR *slices = vs_opendir_at(tree->hier[i].base_fd, ".");
                struct dirent *slice;

                while (slices && (slice = readdir(slices))) {
                        cleanup_close int slice_fd = -1;
                        cleanup_closedir DIR *dir = NULL;
                        struct dirent *ent;

                        if (slice->d_type != DT_DIR || slice->d_name[0] == '.')
                                continue;
                        slice_fd = openat(tree->hier[i].base_fd, slice->d_name,
                                          O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        dir = slice_fd >= 0 ? vs_opendir_at(slice_fd, ".") : NULL;
                        while (dir && (ent = readdir(dir)))
                                if (ent->d_type == DT_DIR && ent->d_name[0] != '.' &&
                                    !known(slice->d_name, ent->d_name, arg))
                                        remove_subtree(slice_fd, ent->d_name);
                }
        }
}

int vs_cgroup_slice_remove(vs_cgroup_tree_t *tree, const char *slice, vs_error_t *err)
{
        int rc = 0;

        for (int i = 0; i < tree->count; i++)
                if (rmdir_cgroup(tree->hier[i].base_fd, slice) < 0 && rc == 0)
                        rc = vs_error_errno(err, "remove cgroup %s/%s on %s", tree->name, slice,
                                            tree->hier[i].mountpoint);
        return rc;
}

void vs_cgroup_tree_prune(vs_cgroup_tree_t *tree)
{
        for (int i = 0; i < tree->count; i++) {
                cleanup_closedir DIR *dir = vs_opendir_at(tree->hier[i].base_fd, ".");
                struct dirent *ent;

                if (!dir)
                        continue;
                /* on v2 vsd leaves its leaf for its own cgroup, so that the
                 * leaf can go; that fails (and the leaf stays) where <own>
                 * has controllers enabled, as in a delegated unit */
                if (tree->hier[i].is_v2 && tree->mode == VS_CGROUP_V2)
                        vs_write_string(tree->hier[i].own_fd, "cgroup.procs", "0", NULL);
                while ((ent = readdir(dir)))
                        if (ent->d_type == DT_DIR && ent->d_name[0] != '.')
                                unlinkat(tree->hier[i].base_fd, ent->d_name, AT_REMOVEDIR);
                unlinkat(tree->hier[i].own_fd, tree->name, AT_REMOVEDIR);
        }
}

#define FREEZE_WAIT_MS 5000

static int is_frozen(int fd)
{
        cleanup_free char *events = NULL;

        if (vs_read_file(fd, "cgroup.events", 4096, &events, NULL, NULL) < 0)
                return 0;
        return strstr(events, "frozen 1") != NULL;
}

int vs_cgroup_freeze(vs_cgroup_t *cg, int frozen, vs_error_t *err)
{
        const vs_cgroup_tree_t *tree = cg->tree;

        for (int i = 0; i < tree->count; i++) {
                struct timespec pause = { 0, 2 * 1000 * 1000 };
                int fd;

                if (!tree->hier[i].is_v2)
                        continue;
                fd = cg_fd(cg, i);
                if (fd < 0)
                        return vs_error_errno(err, "cgroup %s", cg->path);
                if (vs_write_string(fd, "cgroup.freeze", frozen ? "1" : "0", err) < 0)
                        return vs_error_wrap(err, "%s the VPS", frozen ? "freeze" : "thaw");
                if (!frozen)
                        return 0;
                /* a task in a system call is frozen when it returns */
                for (int waited = 0; waited < FREEZE_WAIT_MS; waited += 2) {
                        if (is_frozen(fd))
                                return 0;
                        nanosleep(&pause, NULL);
                }
                vs_write_string(fd, "cgroup.freeze", "0", NULL);
                return vs_error_kind(err, VS_E_STATE, ETIMEDOUT,
                                     "the VPS did not freeze within %d s", FREEZE_WAIT_MS / 1000);
        }
        return vs_error_kind(err, VS_E_STATE, ENOTSUP,
                             "no cgroup v2 hierarchy here: cgroup v1 gives vsd no freezer");
}

/* ---- cgroups at a path below the caller's own (the OCI runtime) ---- */

/* Opens (with create: makes) each component of `path` below parent_fd;
 * *made counts the trailing components made here. */
static int open_path(const struct hierarchy *h, int parent_fd, const char *path, int create,
                     int *made, vs_error_t *err)
{
        cleanup_free char *copy = vs_xstrdup(path);
        char *save = NULL;
        int fd = dup(parent_fd);

        if (fd < 0)
                return vs_error_errno(err, "dup cgroup fd");
        *made = 0;
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                int next;

                if (strcmp(c, ".") == 0 || strcmp(c, "..") == 0) {
                        close(fd);
                        return vs_error_kind(err, VS_E_USAGE, EINVAL, "cgroup path '%s' climbs out",
                                             path);
                }
                if (create && h->is_v2)
                        enable_controllers(fd);
                if (create && mkdirat(fd, c, 0755) == 0)
                        (*made)++;
                else if (create && errno != EEXIST)
                        *made = 0;
                next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                if (next >= 0 && create && is_cpuset(h) && cpuset_init(next, err) < 0) {
                        close(next);
                        close(fd);
                        return -1;
                }
                close(fd);
                if (next < 0)
                        return vs_error_errno(err, "%s cgroup %s on %s", create ? "create" : "open",
                                              path, h->mountpoint);
                fd = next;
        }
        return fd;
}

int vs_cgroup_open_below(const char *path, const char *own, int create, vs_cgroup_t **out,
                         int *created, vs_error_t *err)
{
        vs_cgroup_tree_t *tree = NULL;
        vs_cgroup_t *cg;
        int least = -1;

        if (tree_open("", own, V1_EVERY_CONTROLLER, &tree, err) < 0)
                return -1;
        cg = vs_xmalloc(sizeof(*cg));
        cg->tree = tree;
        cg->path = vs_xstrdup(path);
        for (int i = 0; i < MAX_HIERARCHIES; i++)
                cg->fd[i] = -1;
        for (int i = 0; i < tree->count; i++) {
                int made = 0;

                cg->fd[i] =
                        open_path(&tree->hier[i], tree->hier[i].base_fd, path, create, &made, err);
                if (cg->fd[i] < 0) {
                        if (create) {
                                cg->fd[i] = -1;
                                vs_cgroup_remove_below(cg, least < 0 ? made : least, NULL);
                        }
                        vs_cgroup_close_below(cg);
                        return -1;
                }
                if (least < 0 || made < least)
                        least = made;
        }
        if (created)
                *created = least < 0 ? 0 : least;
        *out = cg;
        return 0;
}

void vs_cgroup_close_below(vs_cgroup_t *cg)
{
        vs_cgroup_tree_t *tree;

        if (!cg)
                return;
        tree = cg->tree;
        vs_cgroup_free(cg);
        vs_cgroup_tree_free(tree);
}

int vs_cgroup_any_fd(vs_cgroup_t *cg, const char *controller, int *is_v2)
{
        const vs_cgroup_tree_t *tree = cg->tree;

        for (int i = 0; i < tree->count; i++) {
                const struct hierarchy *h = &tree->hier[i];
                cleanup_free char *have = NULL;

                if (cg->fd[i] < 0)
                        continue;
                if (!h->is_v2 && same_controllers(h->controllers, controller)) {
                        *is_v2 = 0;
                        return cg->fd[i];
                }
                if (h->is_v2 && !*controller) {
                        *is_v2 = 1;
                        return cg->fd[i];
                }
                if (h->is_v2 &&
                    vs_read_file(cg->fd[i], "cgroup.controllers", 4096, &have, NULL, NULL) == 0 &&
                    has_word(have, controller)) {
                        *is_v2 = 1;
                        return cg->fd[i];
                }
        }
        return -1;
}

int vs_cgroup_add_pid(vs_cgroup_t *cg, pid_t pid, vs_error_t *err)
{
        char text[32];

        snprintf(text, sizeof(text), "%d", (int)pid);
        for (int i = 0; i < cg->tree->count; i++)
                if (cg->fd[i] >= 0 && vs_write_string(cg->fd[i], "cgroup.procs", text, err) < 0)
                        return vs_error_wrap(err, "move %d into cgroup %s on %s", (int)pid,
                                             cg->path, cg->tree->hier[i].mountpoint);
        return 0;
}

pid_t *vs_cgroup_pids(vs_cgroup_t *cg, vs_error_t *err)
{
        return read_procs(cg, err);
}

/* Removes `levels` directories of the path, the leaf first: those that
 * vs_cgroup_open_below made, and never one it found. */
int vs_cgroup_remove_below(vs_cgroup_t *cg, int levels, vs_error_t *err)
{
        int rc = 0;

        for (int i = 0; i < cg->tree->count; i++) {
                cleanup_free char *path = vs_xstrdup(cg->path);

                for (int level = 0; level < levels; level++) {
                        char *slash;
                        const char *name;
                        cleanup_close int parent = -1;

                        while (*path && path[strlen(path) - 1] == '/')
                                path[strlen(path) - 1] = '\0';
                        slash = strrchr(path, '/');
                        name = slash ? slash + 1 : path;
                        if (!*name)
                                break;
                        if (slash) {
                                *slash = '\0';
                                parent = *path ? openat(cg->tree->hier[i].base_fd, path,
                                                        O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                                               : dup(cg->tree->hier[i].base_fd);
                        } else {
                                parent = dup(cg->tree->hier[i].base_fd);
                        }
                        if (parent < 0)
                                break;
                        if (rmdir_cgroup(parent, name) < 0) {
                                if (rc == 0 && level == 0)
                                        rc = vs_error_errno(err, "remove cgroup %s on %s", cg->path,
                                                            cg->tree->hier[i].mountpoint);
                                break;
                        }
                        if (!slash)
                                break;
                }
        }
        return rc;
}
