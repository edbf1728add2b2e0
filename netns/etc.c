/* /etc/hostname, /etc/hosts and /etc/resolv.conf of a VPS, written into its
 * upper layer before its root is mounted. The upper layer belongs to the
 * VPS's root, who may have planted symlinks there: every step opens without
 * following them, and the files are handed to the VPS's root. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/netns.h"

static const char *const etc_files[] = { "hostname", "hosts", "resolv.conf" };

static int open_etc(int upper_fd, uid_t uid, gid_t gid, unsigned *created, vs_error_t *err)
{
        int fd;

        if (mkdirat(upper_fd, "etc", 0755) == 0) {
                *created |= VS_ETC_CREATED_DIR;
                if (fchownat(upper_fd, "etc", uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                        return vs_error_errno(err, "chown etc");
        }
        fd = openat(upper_fd, "etc", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return vs_error_errno(err, "open etc in the VPS's layer");
        return fd;
}

static int put_file(int etc_fd, unsigned which, const char *text, uid_t uid, gid_t gid,
                    unsigned *created, vs_error_t *err)
{
        const char *name = etc_files[which];
        struct stat st;

        if (fstatat(etc_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                *created |= VS_ETC_CREATED_FILE(which);
        if (vs_write_atomic(etc_fd, name, text, strlen(text), 0644, 0, err) < 0)
                return vs_error_wrap(err, "/etc/%s", name);
        if (fchownat(etc_fd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                return vs_error_errno(err, "chown /etc/%s", name);
        return 0;
}

static char *hosts_text(const char *hostname, const vs_ip4_t *addrs, size_t naddrs)
{
        char addr[24], shortname[72];
        char *dot;
        char *text = vs_strdupf("# written by vsd at each start\n"
                                "127.0.0.1\tlocalhost\n"
                                "::1\tlocalhost ip6-localhost ip6-loopback\n");

        vs_strlcpy(shortname, hostname, sizeof(shortname));
        dot = strchr(shortname, '.');
        if (dot)
                *dot = '\0';
        for (size_t i = 0; i < naddrs; i++) {
                char *more;

                vs_ip4_format(&addrs[i], 0, addr, sizeof(addr));
                more = strcmp(shortname, hostname) != 0
                               ? vs_strdupf("%s%s\t%s %s\n", text, addr, hostname, shortname)
                               : vs_strdupf("%s%s\t%s\n", text, addr, hostname);
                free(text);
                text = more;
        }
        return text;
}

static char *resolv_text(const char *nameservers)
{
        cleanup_free char *copy = vs_xstrdup(nameservers);
        char *text = vs_strdupf("# written by vsd at each start\n");
        char *save = NULL;

        for (char *ns = strtok_r(copy, " \t", &save); ns; ns = strtok_r(NULL, " \t", &save)) {
                char *more = vs_strdupf("%snameserver %s\n", text, ns);

                free(text);
                text = more;
        }
        return text;
}

int vs_net_write_etc(int upper_fd, uid_t uid, gid_t gid, const char *hostname,
                     const vs_ip4_t *addrs, size_t naddrs, const char *nameservers,
                     unsigned *created, vs_error_t *err)
{
        cleanup_close int etc_fd = -1;
        cleanup_free char *hostname_line = vs_strdupf("%s\n", hostname);
        cleanup_free char *hosts = hosts_text(hostname, addrs, naddrs);

        *created = 0;
        etc_fd = open_etc(upper_fd, uid, gid, created, err);
        if (etc_fd < 0 || put_file(etc_fd, 0, hostname_line, uid, gid, created, err) < 0 ||
            put_file(etc_fd, 1, hosts, uid, gid, created, err) < 0)
                return -1;
        if (nameservers && *nameservers) {
                cleanup_free char *resolv = resolv_text(nameservers);

                if (put_file(etc_fd, 2, resolv, uid, gid, created, err) < 0)
                        return -1;
        }
        return 0;
}

void vs_net_undo_etc(int upper_fd, unsigned created)
{
        cleanup_close int etc_fd =
                openat(upper_fd, "etc", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        if (etc_fd < 0)
                return;
        for (unsigned i = 0; i < sizeof(etc_files) / sizeof(etc_files[0]); i++)
                if (created & VS_ETC_CREATED_FILE(i))
                        unlinkat(etc_fd, etc_files[i], 0);
        if (created & VS_ETC_CREATED_DIR)
                unlinkat(upper_fd, "etc", AT_REMOVEDIR);
}
