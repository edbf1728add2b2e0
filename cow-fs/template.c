#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/openat2.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/cowfs.h"
#include "vs/fsutil.h"
#include "vs/kvfile.h"

extern char **environ;

#define BUILD_SUFFIX ".building"

/* Directories of a small Unix tree; the busybox applets link into them. */
static const char *const skeleton_dirs[] = {
        "bin",     "sbin", "etc",     "etc/init.d", "dev", "proc",    "sys",
        "tmp",     "root", "home",    "run",        "var", "var/log", "var/run",
        "var/tmp", "usr",  "usr/bin", "usr/sbin",   "mnt", "opt",     "lib",
};

struct skeleton_file {
        const char *path;
        mode_t mode;
        const char *text;
};

/* busybox init reads inittab; there is no getty: admins use vsctl enter. */
static const struct skeleton_file skeleton_files[] = {
        { "etc/inittab", 0644,
          "# paene busybox template: run rcS at boot, nothing on a terminal.\n"
          "::sysinit:/etc/init.d/rcS\n"
          "::shutdown:/bin/sh -c 'echo paene: shutting down'\n" },
        { "etc/init.d/rcS", 0755,
          "#!/bin/sh\n"
          "# Runs once at boot. Put your services in /etc/rc.local.\n"
          "echo \"paene: $(hostname) booting\"\n"
          "[ -x /etc/rc.local ] && /etc/rc.local\n"
          "exit 0\n" },
        { "etc/passwd", 0644,
          "root:x:0:0:root:/root:/bin/sh\n"
          "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
          "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n" },
        { "etc/group", 0644,
          "root:x:0:\n"
          "daemon:x:1:\n"
          "tty:x:5:\n"
          "nogroup:x:65534:\n" },
        { "etc/shadow", 0600, "root:*:19000:0:99999:7:::\n" },
        { "etc/hosts", 0644, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n" },
        { "etc/profile", 0644,
          "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
          "PS1='\\u@\\h:\\w\\$ '\n" },
        { "etc/shells", 0644, "/bin/sh\n/bin/ash\n" },
};

static int write_file_at(int dirfd, const struct skeleton_file *file, vs_error_t *err)
{
        cleanup_close int fd =
                openat(dirfd, file->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, file->mode);
        size_t len = strlen(file->text);

        if (fd < 0)
                return vs_error_errno(err, "create %s", file->path);
        if (write(fd, file->text, len) != (ssize_t)len)
                return vs_error_errno(err, "write %s", file->path);
        if (fchmod(fd, file->mode) < 0)
                return vs_error_errno(err, "chmod %s", file->path);
        return 0;
}

static int copy_binary(const char *src, int dirfd, const char *dst, vs_error_t *err)
{
        cleanup_close int in = open(src, O_RDONLY | O_CLOEXEC);
        cleanup_close int out = -1;
        char buf[65536];
        ssize_t n;

        if (in < 0)
                return vs_error_errno(err, "open %s (install busybox-static)", src);
        out = openat(dirfd, dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
        if (out < 0)
                return vs_error_errno(err, "create %s", dst);
        while ((n = read(in, buf, sizeof(buf))) > 0)
                if (write(out, buf, (size_t)n) != n)
                        return vs_error_errno(err, "write %s", dst);
        if (n < 0)
                return vs_error_errno(err, "read %s", src);
        return fchmod(out, 0755) < 0 ? vs_error_errno(err, "chmod %s", dst) : 0;
}

/* Runs `busybox --list-full` and returns its output (applet paths such as
 * "usr/bin/wc", one a line). */
static char *list_applets(const char *busybox, vs_error_t *err)
{
        char *const argv[] = { (char *)busybox, "--list-full", NULL };
        posix_spawn_file_actions_t actions;
        cleanup_free char *out = NULL;
        int pipefd[2], status;
        size_t used = 0, cap = 16384;
        pid_t pid;
        ssize_t n;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return vs_error_errno(err, "pipe"), NULL;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, pipefd[1], STDOUT_FILENO);
        errno = posix_spawn(&pid, busybox, &actions, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&actions);
        close(pipefd[1]);
        if (errno) {
                close(pipefd[0]);
                return vs_error_errno(err, "run %s", busybox), NULL;
        }
        out = vs_xmalloc(cap + 1);
        while ((n = read(pipefd[0], out + used, cap - used)) > 0) {
                used += (size_t)n;
                if (used == cap) {
                        cap *= 2;
                        out = realloc(out, cap + 1);
                        if (!out)
                                abort();
                }
        }
        close(pipefd[0]);
        out[used] = '\0';
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return vs_error_set(err, EIO, "%s --list-full failed", busybox), NULL;
        return steal_ptr(out);
}

/* Links each applet to /bin/busybox with a relative-free absolute target, so
 * links resolve the same inside any VPS root. */
static int link_applets(int rootfd, const char *applets, vs_error_t *err)
{
        cleanup_free char *copy = vs_xstrdup(applets);
        char *save = NULL;

        for (char *path = strtok_r(copy, "\n", &save); path; path = strtok_r(NULL, "\n", &save)) {
                if (strcmp(path, "bin/busybox") == 0 || strstr(path, ".."))
                        continue;
                if (symlinkat("/bin/busybox", rootfd, path) < 0 && errno != EEXIST)
                        return vs_error_errno(err, "link applet %s", path);
        }
        return 0;
}

static int make_skeleton(int rootfd, vs_error_t *err)
{
        for (size_t i = 0; i < sizeof(skeleton_dirs) / sizeof(skeleton_dirs[0]); i++)
                if (mkdirat(rootfd, skeleton_dirs[i], 0755) < 0 && errno != EEXIST)
                        return vs_error_errno(err, "mkdir %s", skeleton_dirs[i]);
        if (fchmodat(rootfd, "tmp", 01777, 0) < 0 || fchmodat(rootfd, "var/tmp", 01777, 0) < 0)
                return vs_error_errno(err, "chmod tmp");
        if (fchmodat(rootfd, "root", 0700, 0) < 0)
                return vs_error_errno(err, "chmod root");
        for (size_t i = 0; i < sizeof(skeleton_files) / sizeof(skeleton_files[0]); i++)
                if (write_file_at(rootfd, &skeleton_files[i], err) < 0)
                        return -1;
        return 0;
}

static int write_meta(int tmpl_fd, const char *builder, vs_error_t *err)
{
        cleanup_kv vs_kv_t meta = { 0 };

        vs_kv_set(&meta, "builder", builder);
        vs_kv_setf(&meta, "created", "%lld", (long long)time(NULL));
        /* busybox init powers off on SIGUSR2; SIGPWR would only halt it */
        vs_kv_set(&meta, "stop_signal", "SIGUSR2");
        return vs_kv_save(tmpl_fd, "meta", &meta, 1, err);
}

static int populate_busybox(int tmpl_fd, const char *busybox, vs_error_t *err)
{
        cleanup_close int rootfd = -1;
        cleanup_free char *applets = NULL;

        if (mkdirat(tmpl_fd, "rootfs", 0755) < 0)
                return vs_error_errno(err, "mkdir rootfs");
        rootfd = openat(tmpl_fd, "rootfs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return vs_error_errno(err, "open rootfs");
        if (make_skeleton(rootfd, err) < 0 || copy_binary(busybox, rootfd, "bin/busybox", err) < 0)
                return -1;
        applets = list_applets(busybox, err);
        if (!applets || link_applets(rootfd, applets, err) < 0)
                return -1;
        if (symlinkat("/bin/busybox", rootfd, "sbin/init") < 0 && errno != EEXIST)
                return vs_error_errno(err, "link sbin/init");
        return write_meta(tmpl_fd, "busybox", err);
}

/* The template's own init: its /sbin/init, resolved inside the template
 * (an absolute symlink is the template's, not the host's), must be an
 * executable file. Without one, a VPS runs vsd's built-in vsinit, if vsd
 * has it (need_own_init: it has not). A /sbin/init that is there but leads
 * nowhere is a broken build either way. `who` names the template in the
 * message. */
static int check_init(int tmpl_fd, const char *who, int need_own_init, vs_error_t *err)
{
        cleanup_close int rootfd = openat(tmpl_fd, "rootfs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int rc;

        if (rootfd < 0)
                return vs_error_errno(err, "open rootfs");
        rc = vs_program_at(rootfd, "sbin/init", err);
        if (rc < 0)
                return vs_error_wrap(err, "%s has no usable init", who);
        if (rc > 0 && need_own_init)
                return vs_error_kind(err, VS_E_USAGE, ENOENT,
                                     "%s has no usable init: no /sbin/init, and vsd "
                                     "has no built-in vsinit (install it next to vsd)",
                                     who);
        return 0;
}

int vs_template_check_init(int store_fd, const char *name, int need_own_init, vs_error_t *err)
{
        cleanup_close int tmpl_fd = openat(store_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cleanup_free char *who = vs_strdupf("template %s", name);

        if (tmpl_fd < 0)
                return vs_error_errno(err, "open template %s", name);
        return check_init(tmpl_fd, who, need_own_init, err);
}

/* Makes ".NAME.building"; one that exists is a build under way (a crash's
 * leftovers are removed at vsd's start by vs_template_store_recover). */
static int begin_build(int store_fd, const char *name, const char *building, vs_error_t *err)
{
        if (vs_template_exists(store_fd, name))
                return vs_error_kind(err, VS_E_STATE, EEXIST, "template %s already exists", name);
        if (mkdirat(store_fd, building, 0755) == 0)
                return 0;
        if (errno == EEXIST)
                return vs_error_kind(err, VS_E_STATE, EBUSY, "template %s is being built", name);
        return vs_error_errno(err, "mkdir %s", building);
}

/* Builds template NAME in ".NAME.building" with `populate` and publishes it
 * with one rename: a template is there whole or not at all. */
static int build_atomically(int store_fd, const char *name,
                            int (*populate)(int tmpl_fd, const char *arg, vs_error_t *err),
                            const char *arg, int need_own_init, vs_error_t *err)
{
        cleanup_free char *building = vs_strdupf(".%s%s", name, BUILD_SUFFIX);
        cleanup_close int tmpl_fd = -1;

        if (begin_build(store_fd, name, building, err) < 0)
                return -1;
        tmpl_fd = openat(store_fd, building, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (tmpl_fd < 0 || populate(tmpl_fd, arg, err) < 0 ||
            check_init(tmpl_fd, "the template", need_own_init, err) < 0) {
                if (tmpl_fd < 0)
                        vs_error_errno(err, "open %s", building);
                vs_rmtree_at(store_fd, building, NULL);
                return -1;
        }
        if (syncfs(tmpl_fd) < 0 || renameat(store_fd, building, store_fd, name) < 0) {
                vs_error_errno(err, "publish template %s", name);
                vs_rmtree_at(store_fd, building, NULL);
                return -1;
        }
        return vs_fsync_dir(store_fd, err);
}

int vs_template_build_busybox(int store_fd, const char *name, const char *busybox_path,
                              vs_error_t *err)
{
        return build_atomically(store_fd, name, populate_busybox, busybox_path, 0, err);
}

/* ---- import of a root file system tarball ---- */

static const char *const archive_suffixes[] = {
        ".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.zst", ".tzst",
};

int vs_template_archive_ok(const char *path, vs_error_t *err)
{
        size_t len = strlen(path);

        for (size_t i = 0; i < sizeof(archive_suffixes) / sizeof(archive_suffixes[0]); i++) {
                size_t slen = strlen(archive_suffixes[i]);

                if (len > slen && strcmp(path + len - slen, archive_suffixes[i]) == 0)
                        return 0;
        }
        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                             "'%s' is not a tar archive (.tar, .tar.gz, .tgz, .tar.xz, .txz, "
                             ".tar.zst or .tzst)",
                             path);
}

/* GNU tar as root keeps owners (by number, not by the host's names),
 * modes, xattrs and device nodes, detects the compression itself, drops
 * leading "/" and "..", and creates symlinks that point outside only after
 * every file, so that no member is written through one. */
static int extract(const char *archive, int rootfd, vs_error_t *err)
{
        char *const argv[] = { "tar",
                               "--extract",
                               "--file",
                               (char *)archive,
                               "--numeric-owner",
                               "--same-owner",
                               "--preserve-permissions",
                               "--xattrs",
                               "--xattrs-include=*",
                               NULL };
        posix_spawn_file_actions_t actions;
        int status, pipefd[2];
        char msg[512] = "", drain[512];
        ssize_t n;
        pid_t pid;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return vs_error_errno(err, "pipe");
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_adddup2(&actions, pipefd[1], STDERR_FILENO);
        posix_spawn_file_actions_addfchdir_np(&actions, rootfd);
        errno = posix_spawnp(&pid, "tar", &actions, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&actions);
        close(pipefd[1]);
        if (errno) {
                close(pipefd[0]);
                return vs_error_errno(err, "run tar");
        }
        /* the first line of tar's complaints names the problem */
        n = read(pipefd[0], msg, sizeof(msg) - 1);
        msg[n > 0 ? n : 0] = '\0';
        while (read(pipefd[0], drain, sizeof(drain)) > 0)
                ;
        close(pipefd[0]);
        msg[strcspn(msg, "\n")] = '\0';
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return vs_error_set(err, EIO, "extract %s: %s", archive, *msg ? msg : "tar failed");
        return 0;
}

static int populate_import(int tmpl_fd, const char *archive, vs_error_t *err)
{
        cleanup_close int rootfd = -1;
        cleanup_kv vs_kv_t meta = { 0 };
        const char *base = strrchr(archive, '/');

        if (mkdirat(tmpl_fd, "rootfs", 0755) < 0)
                return vs_error_errno(err, "mkdir rootfs");
        rootfd = openat(tmpl_fd, "rootfs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return vs_error_errno(err, "open rootfs");
        if (extract(archive, rootfd, err) < 0)
                return -1;
        vs_kv_set(&meta, "builder", "tar");
        vs_kv_set(&meta, "source", base ? base + 1 : archive);
        vs_kv_setf(&meta, "created", "%lld", (long long)time(NULL));
        return vs_kv_save(tmpl_fd, "meta", &meta, 1, err);
}

int vs_template_import(int store_fd, const char *name, const char *archive, int need_own_init,
                       vs_error_t *err)
{
        struct stat st;

        if (vs_template_archive_ok(archive, err) < 0)
                return -1;
        if (archive[0] != '/')
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "'%s' is not an absolute path",
                                     archive);
        if (stat(archive, &st) < 0)
                return vs_error_kind(err, VS_E_USAGE, errno, "%s: %s", archive, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return vs_error_kind(err, VS_E_USAGE, EINVAL, "%s is not a file", archive);
        return build_atomically(store_fd, name, populate_import, archive, need_own_init, err);
}

/* ---- Debian through debootstrap ---- */

/* Suites and package names: what Debian allows, so that nothing reaches
 * debootstrap's command line that could be taken for an option. */
static int debian_word_ok(const char *w, const char *extra)
{
        if (!*w || *w == '-')
                return 0;
        for (; *w; w++)
                if (!((*w >= 'a' && *w <= 'z') || (*w >= '0' && *w <= '9') || strchr(extra, *w)))
                        return 0;
        return 1;
}

int vs_template_debian_check(const char *suite, const char *include, vs_error_t *err)
{
        cleanup_free char *copy = vs_xstrdup(include ? include : "");
        char *save = NULL;

        if (!debian_word_ok(suite, "-"))
                return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                     "suite '%s' is not a Debian suite name", suite);
        for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save))
                if (!debian_word_ok(p, "+-."))
                        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                                             "'%s' is not a Debian package name", p);
        return 0;
}

int vs_template_debian_check_variant(const char *variant, vs_error_t *err)
{
        if (strcmp(variant, "minbase") == 0 || strcmp(variant, "default") == 0)
                return 0;
        return vs_error_kind(err, VS_E_USAGE, EINVAL,
                             "unknown variant '%s' (available: minbase, default)", variant);
}

/* Where the builder's child leaves the one line that says why it stopped
 * (read by vs_template_build_finish): "KIND MESSAGE". */
#define BUILD_ERROR_FILE "error"

static void save_build_error(int store_fd, const char *building, const vs_error_t *err)
{
        cleanup_free char *path = vs_strdupf("%s/" BUILD_ERROR_FILE, building);
        cleanup_free char *line = vs_strdupf("%s %s\n", vs_error_kind_name(err->kind), err->msg);
        cleanup_close int fd =
                openat(store_fd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);

        if (fd >= 0)
                (void)!write(fd, line, strlen(line));
}

/* debootstrap's argv, in a mount namespace of its own: the /proc and /sys
 * it mounts in the target go away with it, also when it fails. */
static void debootstrap_argv(char **argv, const struct vs_debian_spec *spec, char *variant,
                             char *include, char *debs, char *target)
{
        int n = 0;

        argv[n++] = "unshare";
        argv[n++] = "--mount";
        argv[n++] = "--propagation";
        argv[n++] = "private";
        argv[n++] = "--";
        argv[n++] = "debootstrap";
        if (variant)
                argv[n++] = variant;
        if (include)
                argv[n++] = include;
        if (debs)
                argv[n++] = debs;
        argv[n++] = (char *)spec->suite;
        argv[n++] = target;
        if (spec->mirror && *spec->mirror)
                argv[n++] = (char *)spec->mirror;
        argv[n] = NULL;
}

/* debootstrap says why it failed in one "E: " line among pages of
 * progress: the builder's child relays debootstrap's output to the client
 * and keeps the last such line (without its "E: ") in last_error. */
static void relay_debootstrap(int from, int to, char *last_error, size_t size)
{
        char buf[4096], line[512];
        size_t len = 0;
        ssize_t n;

        while ((n = read(from, buf, sizeof(buf))) != 0) {
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        break;
                (void)!write(to, buf, (size_t)n);
                for (ssize_t i = 0; i < n; i++) {
                        if (buf[i] != '\n') {
                                if (len < sizeof(line) - 1)
                                        line[len++] = buf[i];
                                continue;
                        }
                        line[len] = '\0';
                        if (strncmp(line, "E: ", 3) == 0)
                                vs_strlcpy(last_error, line + 3, size);
                        len = 0;
                }
        }
}

/* debootstrap's last error as the build's one line: packages of --include
 * the suite does not have are "not found" (exit 3), anything else is
 * debootstrap's own words. */
static void debootstrap_error(const char *line, const struct vs_debian_spec *spec, vs_error_t *err)
{
        static const char missing[] = "Couldn't find these debs: ";
        const char *mirror =
                spec->mirror && *spec->mirror ? spec->mirror : VS_DEBIAN_MIRROR_DEFAULT;

        if (strncmp(line, missing, sizeof(missing) - 1) == 0)
                vs_error_kind(err, VS_E_NOTFOUND, ENOENT, "--include: %s at %s has no package %s",
                              spec->suite, mirror, line + sizeof(missing) - 1);
        else
                vs_error_kind(err, VS_E_INTERNAL, EIO, "debootstrap failed: %s", line);
}

/* debootstrap as the child's child, its output through the child (see
 * relay_debootstrap); the child's exit status is debootstrap's. */
static _Noreturn void run_debootstrap(int store_fd, const char *building,
                                      const struct vs_debian_spec *spec, char **argv, int out_fd)
{
        char last_error[sizeof(((vs_error_t *)0)->msg)] = "";
        vs_error_t err = { 0 };
        int pipefd[2], status;
        pid_t pid;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                _exit(126);
        pid = fork();
        if (pid < 0)
                _exit(126);
        if (pid == 0) {
                /* it goes when the child does (vsd ending a build) */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (dup2(pipefd[1], STDOUT_FILENO) < 0 || dup2(pipefd[1], STDERR_FILENO) < 0)
                        _exit(126);
                execvp(argv[0], argv);
                _exit(127);
        }
        close(pipefd[1]);
        relay_debootstrap(pipefd[0], out_fd, last_error, sizeof(last_error));
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        _exit(126);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                _exit(0);
        if (last_error[0]) {
                debootstrap_error(last_error, spec, &err);
                save_build_error(store_fd, building, &err);
        }
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

/* The builder's child: the archive is asked first (one line for what is
 * wrong with it), then it runs debootstrap, with the proxy in its
 * environment (debootstrap's wget reads http_proxy). */
static void debian_child(int store_fd, const char *building, const struct vs_debian_spec *spec,
                         char **argv, int out_fd)
{
        vs_error_t err = { 0 };
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        const char *mirror =
                spec->mirror && *spec->mirror ? spec->mirror : VS_DEBIAN_MIRROR_DEFAULT;

        if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
            dup2(out_fd, STDERR_FILENO) < 0)
                _exit(126);
        if (spec->http_proxy && *spec->http_proxy &&
            (setenv("http_proxy", spec->http_proxy, 1) < 0 ||
             setenv("HTTP_PROXY", spec->http_proxy, 1) < 0))
                _exit(126);
        if (!spec->debs) {
                printf("checking %s for %s%s%s\n", mirror, spec->suite,
                       spec->http_proxy ? " through " : "",
                       spec->http_proxy ? spec->http_proxy : "");
                fflush(stdout);
                if (vs_archive_probe(mirror, spec->suite, spec->http_proxy, &err) < 0) {
                        save_build_error(store_fd, building, &err);
                        _exit(2);
                }
        }
        run_debootstrap(store_fd, building, spec, argv, out_fd);
}

pid_t vs_template_debian_spawn(int store_fd, const char *store_path, const char *name,
                               const struct vs_debian_spec *spec, int out_fd, vs_error_t *err)
{
        cleanup_free char *building = vs_strdupf(".%s%s", name, BUILD_SUFFIX);
        cleanup_free char *target = vs_strdupf("%s/%s/rootfs", store_path, building);
        const char *include = spec->include, *suite = spec->suite;
        const char *variant = spec->variant ? spec->variant : "minbase";
        cleanup_free char *inc = include && *include ? vs_strdupf("--include=%s", include) : NULL;
        cleanup_free char *debs = spec->debs ? vs_strdupf("--unpack-tarball=%s", spec->debs) : NULL;
        cleanup_free char *var =
                strcmp(variant, "default") != 0 ? vs_strdupf("--variant=%s", variant) : NULL;
        struct stat st;
        char *argv[16];
        pid_t pid;

        if (vs_template_debian_check(suite, include, err) < 0 ||
            vs_template_debian_check_variant(variant, err) < 0 ||
            (spec->mirror && vs_archive_check_url(spec->mirror, "mirror", 1, err) < 0) ||
            (spec->http_proxy && vs_archive_check_url(spec->http_proxy, "http_proxy", 0, err) < 0))
                return -1;
        if (debs && (spec->debs[0] != '/' || stat(spec->debs, &st) < 0 || !S_ISREG(st.st_mode)))
                return vs_error_kind(err, VS_E_USAGE, ENOENT,
                                     "--debs %s: not an absolute path to a file", spec->debs);
        if (access("/usr/sbin/debootstrap", X_OK) < 0)
                return vs_error_errno(err, "run debootstrap (install debootstrap)");
        if (begin_build(store_fd, name, building, err) < 0)
                return -1;
        debootstrap_argv(argv, spec, var, inc, debs, target);
        pid = fork();
        if (pid == 0)
                debian_child(store_fd, building, spec, argv, out_fd);
        if (pid < 0) {
                vs_rmtree_at(store_fd, building, NULL);
                return vs_error_errno(err, "fork the debian builder");
        }
        return pid;
}

/* The child's own account of its failure, if it left one. */
static int build_error(int store_fd, const char *building, const char *builder, vs_error_t *err)
{
        cleanup_free char *path = vs_strdupf("%s/" BUILD_ERROR_FILE, building);
        char line[sizeof(err->msg) + 32] = "";
        cleanup_close int fd = openat(store_fd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        ssize_t n = fd >= 0 ? read(fd, line, sizeof(line) - 1) : -1;
        char *msg;
        int kind;

        line[n > 0 ? n : 0] = '\0';
        line[strcspn(line, "\n")] = '\0';
        msg = strchr(line, ' ');
        if (!msg)
                return vs_error_set(err, EIO, "the %s builder failed (its output says why)",
                                    builder);
        *msg++ = '\0';
        kind = vs_error_kind_from_name(line);
        return vs_error_kind(err, kind < 0 ? VS_E_INTERNAL : (vs_error_kind_t)kind, EIO, "%s", msg);
}

int vs_template_build_finish(int store_fd, const char *name, const char *builder, int ok,
                             int need_own_init, vs_error_t *err)
{
        cleanup_free char *building = vs_strdupf(".%s%s", name, BUILD_SUFFIX);
        cleanup_close int tmpl_fd = -1;
        cleanup_kv vs_kv_t meta = { 0 };

        if (!ok) {
                build_error(store_fd, building, builder, err);
                vs_rmtree_at(store_fd, building, NULL);
                return -1;
        }
        tmpl_fd = openat(store_fd, building, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (tmpl_fd >= 0 && check_init(tmpl_fd, "the template", need_own_init, err) < 0) {
                vs_rmtree_at(store_fd, building, NULL);
                return -1;
        }
        vs_kv_set(&meta, "builder", builder);
        vs_kv_setf(&meta, "created", "%lld", (long long)time(NULL));
        if (tmpl_fd < 0 || vs_kv_save(tmpl_fd, "meta", &meta, 1, err) < 0 || syncfs(tmpl_fd) < 0 ||
            renameat(store_fd, building, store_fd, name) < 0) {
                if (tmpl_fd < 0 || !err || !err->msg[0])
                        vs_error_errno(err, "publish template %s", name);
                vs_rmtree_at(store_fd, building, NULL);
                return -1;
        }
        return vs_fsync_dir(store_fd, err);
}

int vs_template_exists(int store_fd, const char *name)
{
        struct stat st;

        return fstatat(store_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

char *vs_template_meta(int store_fd, const char *name, const char *key)
{
        cleanup_free char *path = vs_strdupf("%s/meta", name);
        cleanup_kv vs_kv_t meta = { 0 };
        const char *value;

        if (vs_kv_load(store_fd, path, &meta, NULL) < 0)
                return NULL;
        value = vs_kv_get(&meta, key);
        return value ? vs_xstrdup(value) : NULL;
}

static void fill_info(int store_fd, const char *name, vs_template_info_t *info)
{
        cleanup_free char *builder = vs_template_meta(store_fd, name, "builder");
        cleanup_free char *created = vs_template_meta(store_fd, name, "created");

        memset(info, 0, sizeof(*info));
        vs_strlcpy(info->name, name, sizeof(info->name));
        vs_strlcpy(info->builder, builder ? builder : "unknown", sizeof(info->builder));
        info->created = created ? (time_t)strtoll(created, NULL, 10) : 0;
}

/* An inode with more than one link, met in template `tmpl`. */
struct linked {
        dev_t dev;
        ino_t ino;
        uint64_t bytes;
        size_t tmpl;
};

struct linked_list {
        struct linked *v;
        size_t n, cap;
        /* entries a walk may look at before it gives up (0: no bound),
         * and how many it looked at */
        uint64_t budget, seen;
};

/* Adds up the blocks below dirfd of what has one link into *single and
 * notes each inode with more (hard links, within the template or, after
 * unify, across templates) for the count by inode. */
static void walk_usage(int dirfd, size_t tmpl, struct linked_list *links, uint64_t *single,
                       int depth)
{
        cleanup_closedir DIR *dir = NULL;
        struct dirent *ent;

        if (depth > 64 || !(dir = vs_opendir_at(dirfd, ".")))
                return;
        while ((ent = readdir(dir))) {
                struct stat st;

                if (links->budget && links->seen++ >= links->budget)
                        return;
                if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0 ||
                    fstatat(dirfd, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (st.st_nlink > 1 && !S_ISDIR(st.st_mode)) {
                        links->v =
                                vs_xgrow(links->v, links->n, &links->cap, 1024, sizeof(*links->v));
                        links->v[links->n++] =
                                (struct linked){ st.st_dev, st.st_ino, (uint64_t)st.st_blocks * 512,
                                                 tmpl };
                        continue;
                }
                *single += (uint64_t)st.st_blocks * 512;
                if (S_ISDIR(st.st_mode)) {
                        cleanup_close int sub =
                                openat(dirfd, ent->d_name,
                                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

                        if (sub >= 0)
                                walk_usage(sub, tmpl, links, single, depth + 1);
                }
        }
}

static int cmp_linked(const void *a, const void *b)
{
        const struct linked *x = a, *y = b;

        if (x->dev != y->dev)
                return x->dev < y->dev ? -1 : 1;
        if (x->ino != y->ino)
                return x->ino < y->ino ? -1 : 1;
        return x->tmpl < y->tmpl ? -1 : x->tmpl > y->tmpl;
}

/* Bytes allocated below dirfd, each hard-linked inode once: the links are
 * collected and sorted, not looked up in a list (a VPS's 20000 hard-linked
 * pairs held vsd's loop 0.7 s in a `status` that way, 100000 of them
 * minutes). Returns 0 when the walk met more than `budget` entries (not
 * 0) before its end, and *bytes is then not the total. */
int vs_du_at_bounded(int dirfd, uint64_t budget, uint64_t *bytes)
{
        struct linked_list links = { .budget = budget };
        uint64_t total = 0;

        walk_usage(dirfd, 0, &links, &total, 0);
        if (links.n > 1) /* qsort of NULL is undefined, even for 0 items (UBSan) */
                qsort(links.v, links.n, sizeof(*links.v), cmp_linked);
        for (size_t i = 0; i < links.n; i++)
                if (i == 0 || links.v[i].dev != links.v[i - 1].dev ||
                    links.v[i].ino != links.v[i - 1].ino)
                        total += links.v[i].bytes;
        free(links.v);
        *bytes = total;
        return !budget || links.seen <= budget;
}

uint64_t vs_du_at(int dirfd)
{
        uint64_t bytes;

        vs_du_at_bounded(dirfd, 0, &bytes);
        return bytes;
}

/* Each template's bytes and shared bytes, and the store's: an inode counts
 * once per template that holds it, and once in the store. */
static void count_usage(int store_fd, vs_template_info_t *items, size_t n,
                        vs_template_store_usage_t *usage)
{
        struct linked_list links = { 0 };
        uint64_t sum = 0;

        memset(usage, 0, sizeof(*usage));
        for (size_t t = 0; t < n; t++) {
                cleanup_close int fd =
                        openat(store_fd, items[t].name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

                struct stat st;

                /* the template's directory too, as du counts it */
                if (fd >= 0 && fstat(fd, &st) == 0)
                        items[t].bytes += (uint64_t)st.st_blocks * 512;
                if (fd >= 0)
                        walk_usage(fd, t, &links, &items[t].bytes, 0);
                usage->bytes += items[t].bytes;
        }
        if (links.n > 1) /* qsort of NULL is undefined, even for 0 items (UBSan) */
                qsort(links.v, links.n, sizeof(*links.v), cmp_linked);
        for (size_t i = 0, j; i < links.n; i = j) {
                size_t holders = 0;

                for (j = i; j < links.n && links.v[j].dev == links.v[i].dev &&
                            links.v[j].ino == links.v[i].ino;
                     j++)
                        if (j == i || links.v[j].tmpl != links.v[j - 1].tmpl)
                                holders++;
                for (size_t k = i; k < j; k++) {
                        vs_template_info_t *t = &items[links.v[k].tmpl];

                        if (k != i && links.v[k].tmpl == links.v[k - 1].tmpl)
                                continue; /* another link in the same template */
                        t->bytes += links.v[k].bytes;
                        if (holders > 1)
                                t->shared_bytes += links.v[k].bytes;
                }
                usage->bytes += links.v[i].bytes;
        }
        for (size_t t = 0; t < n; t++)
                sum += items[t].bytes;
        usage->saved_bytes = sum - usage->bytes;
        free(links.v);
}

static int cmp_info(const void *a, const void *b)
{
        return strcmp(((const vs_template_info_t *)a)->name, ((const vs_template_info_t *)b)->name);
}

int vs_template_list(int store_fd, vs_template_info_t **list, size_t *count,
                     vs_template_store_usage_t *usage, vs_error_t *err)
{
        vs_template_store_usage_t ignored;
        cleanup_closedir DIR *dir = vs_opendir_at(store_fd, ".");
        vs_template_info_t *items = NULL;
        struct dirent *ent;
        size_t n = 0;

        if (!dir)
                return vs_error_errno(err, "read template store");
        while ((ent = readdir(dir))) {
                if (ent->d_name[0] == '.' || !vs_template_exists(store_fd, ent->d_name))
                        continue;
                items = realloc(items, (n + 1) * sizeof(*items));
                if (!items)
                        abort();
                fill_info(store_fd, ent->d_name, &items[n++]);
        }
        if (n > 1)
                qsort(items, n, sizeof(*items), cmp_info);
        count_usage(store_fd, items, n, usage ? usage : &ignored);
        *list = items;
        *count = n;
        return 0;
}

int vs_template_remove(int store_fd, const char *name, vs_error_t *err)
{
        cleanup_free char *doomed = vs_strdupf(".%s.removing", name);

        if (!vs_template_exists(store_fd, name))
                return vs_error_kind(err, VS_E_NOTFOUND, ENOENT, "no such template");
        if (renameat(store_fd, name, store_fd, doomed) < 0)
                return vs_error_errno(err, "remove template %s", name);
        return vs_rmtree_at(store_fd, doomed, err);
}

void vs_template_store_recover(int store_fd)
{
        cleanup_closedir DIR *dir = vs_opendir_at(store_fd, ".");
        struct dirent *ent;

        if (!dir)
                return;
        while ((ent = readdir(dir))) {
                size_t len = strlen(ent->d_name);

                if (ent->d_name[0] != '.' || len < 2 || strcmp(ent->d_name, "..") == 0)
                        continue;
                if ((len > strlen(BUILD_SUFFIX) &&
                     strcmp(ent->d_name + len - strlen(BUILD_SUFFIX), BUILD_SUFFIX) == 0) ||
                    (len > 9 && strcmp(ent->d_name + len - 9, ".removing") == 0) ||
                    strcmp(ent->d_name, VS_UNIFY_TMP) == 0)
                        vs_rmtree_at(store_fd, ent->d_name, NULL);
        }
}
