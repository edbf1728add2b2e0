/* /etc/hostname, /etc/hosts and /etc/resolv.conf of a VPS, written into its
 * upper layer before its root is mounted. The upper layer belongs to the
 * VPS's root, who may have planted symlinks there: every step opens without
 * following them, and the files are handed to the VPS's root. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/netns.h"
#include "vs/parse.h"

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

/* Whether the file is already what a write would make of it: a regular
 * file of its own (one link), the VPS root's, mode 0644, holding text. A
 * start then neither creates a file nor replaces one (each made a new
 * inode and freed the last in the upper layer: on ext4 without a journal
 * a create walks the inodes freed in the last 30 s). */
static int is_already(int etc_fd, const char *name, const char *text, uid_t uid, gid_t gid)
{
        size_t len = strlen(text);
        cleanup_close int node = -1;
        cleanup_close int fd = -1;
        cleanup_free char *have = NULL;
        struct stat st;
        ssize_t n;

        /* looked at first (O_PATH opens no node): the VPS's root may have
         * swapped a device node in since put_file's stat, and its open as
         * host root acts (a watchdog's arms it) */
        node = openat(etc_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (node < 0 || fstat(node, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
            st.st_uid != uid || st.st_gid != gid || (st.st_mode & 07777) != 0644 ||
            (size_t)st.st_size != len)
                return 0;
        fd = vs_fd_reopen(node);
        if (fd < 0)
                return 0;
        have = vs_xmalloc(len + 1);
        n = pread(fd, have, len + 1, 0);
        return n == (ssize_t)len && memcmp(have, text, len) == 0;
}

static int put_file(int etc_fd, unsigned which, const char *text, uid_t uid, gid_t gid,
                    unsigned *created, vs_error_t *err)
{
        const char *name = etc_files[which];
        struct stat st;

        if (fstatat(etc_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                *created |= VS_ETC_CREATED_FILE(which);
        else if (S_ISREG(st.st_mode) && is_already(etc_fd, name, text, uid, gid))
                return 0;
        if (vs_write_atomic(etc_fd, name, text, strlen(text), 0644, 0, err) < 0)
                return vs_error_wrap(err, "/etc/%s", name);
        if (fchownat(etc_fd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                return vs_error_errno(err, "chown /etc/%s", name);
        return 0;
}

/* Appends "ADDR\tNAMES\n" to *text. */
static void append(char **text, char *more)
{
        free(*text);
        *text = more;
}

static void hosts_line(char **text, const char *addr, const char *names)
{
        append(text, vs_strdupf("%s%s\t%s\n", *text, addr, names));
}

static char *hosts_text(const struct vs_net_etc *etc)
{
        char addr[64], shortname[72];
        cleanup_free char *names = NULL;
        char *dot;
        char *text = vs_strdupf("# written by vsd at each start\n"
                                "127.0.0.1\tlocalhost\n"
                                "::1\tlocalhost ip6-localhost ip6-loopback\n");

        vs_strlcpy(shortname, etc->hostname, sizeof(shortname));
        dot = strchr(shortname, '.');
        if (dot)
                *dot = '\0';
        names = strcmp(shortname, etc->hostname) != 0
                        ? vs_strdupf("%s %s", etc->hostname, shortname)
                        : vs_xstrdup(etc->hostname);
        for (size_t i = 0; i < etc->naddrs; i++) {
                vs_ip4_format(&etc->addrs[i], 0, addr, sizeof(addr));
                hosts_line(&text, addr, names);
        }
        for (size_t i = 0; i < etc->naddrs6; i++) {
                vs_ip6_format(&etc->addrs6[i], 0, addr, sizeof(addr));
                hosts_line(&text, addr, names);
        }
        /* no address of its own: its name resolves as Debian's installer
         * writes it, so that sudo and mail find it */
        if (etc->naddrs + etc->naddrs6 == 0)
                hosts_line(&text, "127.0.1.1", names);
        return text;
}

/* Appends "KEYWORD WORD" lines, one per word, or with `one_line` one line
 * with every word (resolv.conf's search takes its domains on one line). */
static void resolv_words(char **text, const char *keyword, const char *words, int one_line)
{
        cleanup_free char *copy = vs_xstrdup(words ? words : "");
        char *save = NULL;
        int first = 1;

        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                if (one_line && !first)
                        append(text, vs_strdupf("%s %s", *text, w));
                else
                        append(text,
                               vs_strdupf("%s%s %s%s", *text, keyword, w, one_line ? "" : "\n"));
                first = 0;
        }
        if (one_line && !first)
                append(text, vs_strdupf("%s\n", *text));
}

static char *resolv_text(const struct vs_net_etc *etc)
{
        char *text = vs_strdupf("# written by vsd at each start\n");

        resolv_words(&text, "search", etc->searchdomains, 1);
        resolv_words(&text, "nameserver", etc->nameservers, 0);
        return text;
}

static int has_words(const char *text)
{
        return text && text[strspn(text, " \t")] != '\0';
}

int vs_net_write_etc(int root_fd, uid_t uid, gid_t gid, const struct vs_net_etc *etc,
                     unsigned *created, vs_error_t *err)
{
        cleanup_close int etc_fd = -1;
        cleanup_free char *hostname_line = vs_strdupf("%s\n", etc->hostname);
        cleanup_free char *hosts = hosts_text(etc);

        *created = 0;
        etc_fd = open_etc(root_fd, uid, gid, created, err);
        if (etc_fd < 0 || put_file(etc_fd, 0, hostname_line, uid, gid, created, err) < 0 ||
            put_file(etc_fd, 1, hosts, uid, gid, created, err) < 0)
                return -1;
        if (has_words(etc->nameservers) || has_words(etc->searchdomains)) {
                cleanup_free char *resolv = resolv_text(etc);

                if (put_file(etc_fd, 2, resolv, uid, gid, created, err) < 0)
                        return -1;
        }
        return 0;
}

int vs_net_write_resolv(int root_fd, uid_t uid, gid_t gid, const struct vs_net_etc *etc,
                        vs_error_t *err)
{
        unsigned created = 0;
        cleanup_close int etc_fd = open_etc(root_fd, uid, gid, &created, err);
        cleanup_free char *resolv = resolv_text(etc);

        if (etc_fd < 0)
                return -1;
        return put_file(etc_fd, 2, resolv, uid, gid, &created, err);
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

int vs_net_check_nameserver(const char *text, vs_error_t *err)
{
        unsigned char buf[sizeof(struct in6_addr)];

        if (inet_pton(AF_INET, text, buf) == 1 || inet_pton(AF_INET6, text, buf) == 1)
                return 0;
        return vs_error_kind(err, VS_E_USAGE, EINVAL, "--nameserver '%s' is not an IP address",
                             text);
}

int vs_net_check_searchdomain(const char *text, vs_error_t *err)
{
        if (vs_parse_hostname(text, NULL) == 0)
                return 0;
        return vs_error_kind(err, VS_E_USAGE, EINVAL, "--searchdomain '%s' is not a domain name",
                             text);
}
