/* vsctl backup and restore: the archive streams between vsd and a file
 * or stdin/stdout through a descriptor vsd hands over. */
#include <fcntl.h>

#include "vs/cleanup.h"
#include "vs/fsutil.h"
#include "vs/parse.h"

#include "vsctl.h"

/* ---- backup / restore ---- */

/* FILE.partial, made afresh by us: whatever is at that name goes first (an
 * interrupted backup's file, or what another user planted where a backup
 * goes to a directory of theirs: a symlink to a file of root's, a FIFO),
 * and the file is created, never opened; one planted again meanwhile is
 * EEXIST, an error. */
static int create_partial(const char *partial)
{
        if (unlink(partial) < 0 && errno != ENOENT)
                return -1;
        return open(partial, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
}

/* Copies the backup vsd's tar writes to `to`; 0 when all of it arrived. */
static int copy_stream(int from, int to)
{
        char buf[65536];

        for (;;) {
                ssize_t n = read(from, buf, sizeof(buf));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -1;
                if (n == 0)
                        return 0;
                if (write_all(to, buf, (size_t)n) < 0)
                        return -1;
        }
}

static int cmd_backup(struct ctx *ctx, int argc, char **argv)
{
        cleanup_json json_object *reply = NULL;
        cleanup_close int sock = -1;
        cleanup_free char *partial = NULL;
        const char *file;
        vs_error_t err = { 0 };
        int fds[VS_MSG_FDS_MAX], nfds = 0, status = 0, out = STDOUT_FILENO, opt, bad = 0, ok, rc;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "h", no_options, &bad)) != -1)
                if (bad)
                        return bad;
        if ((rc = take_name_and(ctx, argc, argv, "FILE (- for stdout)", &file)) != EXIT_OK)
                return rc;
        if (strcmp(file, "-") == 0 && isatty(STDOUT_FILENO))
                return value_error(ctx, "will not write a backup to a terminal");
        if (call(ctx, VS_CMD_BACKUP, ctx->name, NULL, &reply, fds, &nfds, &sock, &err) < 0)
                return fail(ctx, &err);
        if (nfds != 1) {
                vs_error_set(&err, EPROTO, "vsd sent no backup stream");
                return fail(ctx, &err);
        }
        /* a file appears whole or not at all */
        if (strcmp(file, "-") != 0) {
                partial = vs_strdupf("%s.partial", file);
                out = create_partial(partial);
                if (out < 0) {
                        close(fds[0]);
                        return value_error(ctx, "%s: %s", partial, strerror(errno));
                }
        }
        ok = copy_stream(fds[0], out) == 0;
        close(fds[0]);
        if (read_exit(sock, &status, &err) < 0)
                ok = 0;
        else if (status != 0)
                ok = !vs_error_set(&err, EIO, "tar failed writing the backup (exit %d)", status);
        if (partial) {
                ok = ok && fsync(out) == 0 && close(out) == 0 && rename(partial, file) == 0;
                if (!ok)
                        unlink(partial);
        }
        if (!ok) {
                if (!err.msg[0])
                        vs_error_errno(&err, "write %s", file);
                return fail(ctx, &err);
        }
        return EXIT_OK;
}

static int cmd_restore(struct ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                { "keep-ip", no_argument, NULL, 'k' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        cleanup_json json_object *reply = NULL;
        cleanup_free char *path = NULL;
        json_object *args;
        vs_error_t err = { 0 };
        int opt, bad = 0, keep_ip = 0;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "h", opts, &bad)) != -1) {
                if (bad)
                        return bad;
                keep_ip |= opt == 'k';
        }
        if (optind >= argc)
                return usage_error(ctx, "FILE is missing");
        if (optind + 2 < argc)
                return usage_error(ctx, "unexpected argument '%s'", argv[optind + 2]);
        if (optind + 1 < argc) {
                ctx->name = argv[optind + 1];
                if (vs_parse_name(ctx->name, "VPS name", &err) < 0)
                        return fail(ctx, &err);
        }
        /* vsd reads the file: a path that does not depend on our cwd */
        path = realpath(argv[optind], NULL);
        if (!path) {
                vs_error_kind(&err, errno == ENOENT ? VS_E_NOTFOUND : VS_E_USAGE, errno, "%s: %s",
                              argv[optind], strerror(errno));
                return fail(ctx, &err);
        }
        args = json_object_new_object();
        json_object_object_add(args, "file", json_object_new_string(path));
        if (ctx->name)
                json_object_object_add(args, "new", json_object_new_string(ctx->name));
        if (keep_ip)
                json_object_object_add(args, "keep_ip", json_object_new_boolean(1));
        if (call(ctx, VS_CMD_RESTORE, NULL, args, &reply, NULL, NULL, NULL, &err) < 0)
                return fail(ctx, &err);
        printf("%s restored\n", vs_json_str(reply, "name") ?: "?");
        return EXIT_OK;
}

const struct command vsctl_cmd_backup = {
        "backup", NULL, cmd_backup, "backup NAME FILE|-",
        "Write a backup of a VPS to FILE (- : standard output): a tar.zst of its\n"
        "config and its own files (the copy-on-write layer, or its disk image,\n"
        "sparse), owners by number. FILE appears whole or not at all. A running VPS\n"
        "is frozen (cgroup v2 freezer) while its files are read, so that the copy is\n"
        "of one moment, and stop and destroy wait (exit 4) until it is written; one\n"
        "on a disk image is backed up stopped.\n"
};

const struct command vsctl_cmd_restore = {
        "restore", NULL, cmd_restore, "restore FILE [NAME] [--keep-ip]",
        "Make a stopped VPS of a backup, on this node or another: NAME (default: the\n"
        "backup's), with an id range of its own and the address pools' next free\n"
        "addresses. A damaged file, one from a newer paene, one with paths\n"
        "outside the VPS or one that is not a regular file is refused (exit 2), a\n"
        "NAME that exists or that a clone is making too (exit 4);\n"
        "nothing is left behind.\n"
        "  --keep-ip          keep the backup's addresses (refused if a VPS has them)\n"
};
