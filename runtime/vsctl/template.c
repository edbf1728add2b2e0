/* vsctl template build, import, list, unify and remove. */

#include "vs/cleanup.h"
#include "vs/diskquota.h"
#include "vs/parse.h"

#include "vsctl.h"

/* ---- templates ---- */

/* A builder's output, as vsd hands it over: on a terminal each line
 * replaces the last (a progress display), otherwise plain lines. */
static void show_progress(int fd)
{
        int tty = isatty(STDOUT_FILENO);
        char buf[4096], line[256];
        size_t used = 0;
        ssize_t n;

        if (!tty) {
                while (pump(fd, STDOUT_FILENO))
                        ;
                return;
        }
        while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
                for (ssize_t i = 0; i < n; i++) {
                        if (buf[i] != '\n' && used + 1 < sizeof(line)) {
                                line[used++] = buf[i];
                                continue;
                        }
                        if (buf[i] != '\n')
                                continue;
                        line[used] = '\0';
                        printf("\r\033[K%.*s", 78, line);
                        fflush(stdout);
                        used = 0;
                }
        }
        printf("\r\033[K");
        fflush(stdout);
}

static int build_with_progress(struct ctx *ctx, const char *name, json_object *args)
{
        cleanup_json json_object *reply = NULL;
        cleanup_close int sock = -1;
        vs_error_t err = { 0 };
        int fds[VS_MSG_FDS_MAX], nfds = 0, status = 0;

        if (call(ctx, VS_CMD_TEMPLATE_BUILD, name, args, &reply, fds, &nfds, &sock, &err) < 0)
                return fail(ctx, &err);
        if (!vs_json_bool(reply, "progress"))
                return EXIT_OK; /* built already */
        for (int i = 0; i < nfds; i++) {
                if (i == 0)
                        show_progress(fds[i]);
                close(fds[i]);
        }
        if (read_exit(sock, &status, &err) < 0)
                return fail(ctx, &err);
        return EXIT_OK;
}

static int template_build(struct ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                { "suite", required_argument, NULL, 's' },
                { "include", required_argument, NULL, 'i' },
                { "debs", required_argument, NULL, 'd' },
                { "mirror", required_argument, NULL, 'm' },
                { "variant", required_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        const char *suite = NULL, *include = NULL, *mirror = NULL, *variant = NULL, *builder, *name;
        /* debootstrap's downloads go where ours would: vsd runs without
         * our environment, so the request carries it */
        const char *proxy = getenv("http_proxy");
        cleanup_free char *debs = NULL;
        json_object *args;
        vs_error_t err = { 0 };
        int opt, bad = 0;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "h", opts, &bad)) != -1) {
                if (bad)
                        return bad;
                if (opt == 's')
                        suite = optarg;
                else if (opt == 'i')
                        include = optarg;
                else if (opt == 'm')
                        mirror = optarg;
                else if (opt == 'v')
                        variant = optarg;
                else if (opt == 'd' && !(debs = realpath(optarg, NULL)))
                        return usage_error(ctx, "--debs %s: %s", optarg, strerror(errno));
        }
        if (optind >= argc || optind + 2 < argc)
                return usage_error(ctx,
                                   optind >= argc ? "builder is missing (available: busybox, "
                                                    "debian)"
                                                  : "unexpected argument '%s'",
                                   optind < argc ? argv[optind + 2] : "");
        builder = argv[optind];
        name = optind + 1 < argc ? argv[optind + 1] : builder;
        ctx->name = name;
        if (strcmp(builder, "busybox") != 0 && strcmp(builder, "debian") != 0)
                return usage_error(ctx, "unknown builder '%s' (available: busybox, debian)",
                                   builder);
        if ((suite || include || debs || mirror || variant) && strcmp(builder, "debian") != 0)
                return usage_error(ctx, "--suite, --include, --mirror, --variant and --debs are "
                                        "for the debian builder");
        if (!proxy || !*proxy)
                proxy = getenv("HTTP_PROXY");
        if (strcmp(builder, "debian") != 0 || (proxy && !*proxy))
                proxy = NULL;
        if (vs_parse_name(name, "template name", &err) < 0 ||
            (strcmp(builder, "debian") == 0 &&
             (vs_template_debian_check(suite ? suite : "bookworm", include, &err) < 0 ||
              (variant && vs_template_debian_check_variant(variant, &err) < 0) ||
              (mirror && vs_archive_check_url(mirror, "--mirror", 1, &err) < 0) ||
              (proxy && vs_archive_check_url(proxy, "http_proxy", 0, &err) < 0))))
                return fail(ctx, &err);
        args = json_object_new_object();
        json_object_object_add(args, "builder", json_object_new_string(builder));
        if (suite)
                json_object_object_add(args, "suite", json_object_new_string(suite));
        if (include)
                json_object_object_add(args, "include", json_object_new_string(include));
        if (debs)
                json_object_object_add(args, "debs", json_object_new_string(debs));
        if (mirror)
                json_object_object_add(args, "mirror", json_object_new_string(mirror));
        if (variant)
                json_object_object_add(args, "variant", json_object_new_string(variant));
        if (proxy)
                json_object_object_add(args, "http_proxy", json_object_new_string(proxy));
        return build_with_progress(ctx, name, args);
}

static int template_import(struct ctx *ctx, int argc, char **argv)
{
        cleanup_free char *path = NULL;
        json_object *args;
        vs_error_t err = { 0 };
        int opt, bad = 0;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "h", no_options, &bad)) != -1)
                if (bad)
                        return bad;
        if (optind + 2 > argc)
                return usage_error(ctx, optind >= argc ? "template name is missing"
                                                       : "the archive is missing");
        if (optind + 2 < argc)
                return usage_error(ctx, "unexpected argument '%s'", argv[optind + 2]);
        ctx->name = argv[optind];
        if (vs_parse_name(ctx->name, "template name", &err) < 0 ||
            vs_template_archive_ok(argv[optind + 1], &err) < 0)
                return fail(ctx, &err);
        /* vsd reads the file: it needs a path that does not depend on our cwd */
        path = realpath(argv[optind + 1], NULL);
        if (!path)
                return usage_error(ctx, "%s: %s", argv[optind + 1], strerror(errno));
        args = json_object_new_object();
        json_object_object_add(args, "file", json_object_new_string(path));
        return simple_call(ctx, VS_CMD_TEMPLATE_IMPORT, ctx->name, args);
}

static int template_unify(struct ctx *ctx, int argc, char **argv)
{
        cleanup_json json_object *reply = NULL;
        vs_error_t err = { 0 };
        int rc, as_json = 0;
        char saved[32];

        if ((rc = json_flag(ctx, argc, argv, &as_json)) != EXIT_OK)
                return rc;
        if (optind < argc)
                return usage_error(ctx, "unexpected argument '%s'", argv[optind]);
        if (call(ctx, VS_CMD_TEMPLATE_UNIFY, NULL, NULL, &reply, NULL, NULL, NULL, &err) < 0)
                return fail(ctx, &err);
        if (as_json) {
                json_object_object_del(reply, "ok");
                json_object_object_del(reply, "version");
                print_json(reply);
                return EXIT_OK;
        }
        format_size((uint64_t)vs_json_int(reply, "bytes_saved", 0), saved, sizeof(saved));
        printf("%lld of %lld files linked, %s saved (%lld bytes)\n",
               vs_json_int(reply, "linked", 0), vs_json_int(reply, "files", 0), saved,
               vs_json_int(reply, "bytes_saved", 0));
        if (vs_json_int(reply, "errors", 0))
                printf("%lld files could not be linked and were left as they were\n",
                       vs_json_int(reply, "errors", 0));
        return EXIT_OK;
}

static int template_list(struct ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                { "json", no_argument, NULL, 'j' },
                { "no-header", no_argument, NULL, 'H' },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        cleanup_json json_object *reply = NULL;
        json_object *list;
        vs_error_t err = { 0 };
        int opt, bad = 0, as_json = 0, header = 1;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "jHh", opts, &bad)) != -1) {
                if (bad)
                        return bad;
                as_json |= opt == 'j';
                header &= opt != 'H';
        }
        if (optind < argc)
                return usage_error(ctx, "unexpected argument '%s'", argv[optind]);
        if (call(ctx, VS_CMD_TEMPLATE_LIST, NULL, NULL, &reply, NULL, NULL, NULL, &err) < 0)
                return fail(ctx, &err);
        list = vs_json_array(reply, "templates");
        if (as_json) {
                print_json(list);
                return EXIT_OK;
        }
        if (header)
                printf("%-20s  %-8s  %8s  %4s  %8s\n", "NAME", "BUILDER", "SIZE", "VPS", "SHARED");
        for (size_t i = 0; list && i < json_object_array_length(list); i++) {
                json_object *t = json_object_array_get_idx(list, i);
                long long bytes = vs_json_int(t, "bytes", 0);
                long long shared = vs_json_int(t, "shared_bytes", 0);
                char own[32], with[32];

                /* SIZE is its own; what it shares with others is apart,
                 * and counted once in the total */
                format_size((uint64_t)(bytes - shared), own, sizeof(own));
                format_size((uint64_t)shared, with, sizeof(with));
                printf("%-20s  %-8s  %8s  %4lld  %8s\n", vs_json_str(t, "name") ?: "?",
                       vs_json_str(t, "builder") ?: "?", own, vs_json_int(t, "vps", 0),
                       shared ? with : "-");
        }
        if (header) {
                char total[32], saved[32];

                format_size((uint64_t)vs_json_int(reply, "store_bytes", 0), total, sizeof(total));
                format_size((uint64_t)vs_json_int(reply, "saved_bytes", 0), saved, sizeof(saved));
                printf("total %s on disk, shared blocks counted once; unify saved %s\n", total,
                       saved);
        }
        return EXIT_OK;
}

static int template_remove(struct ctx *ctx, int argc, char **argv)
{
        int opt, bad = 0, rc;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "h", no_options, &bad)) != -1)
                if (bad)
                        return bad;
        if ((rc = take_name(ctx, argc, argv, "template name")) != EXIT_OK)
                return rc;
        return simple_call(ctx, VS_CMD_TEMPLATE_REMOVE, ctx->name, NULL);
}

static int cmd_template(struct ctx *ctx, int argc, char **argv)
{
        if (argc < 2)
                return usage_error(ctx,
                                   "subcommand is missing (build, import, list, remove, unify)");
        if (strcmp(argv[1], "build") == 0) {
                ctx->cmd = "template build";
                return template_build(ctx, argc - 1, argv + 1);
        }
        if (strcmp(argv[1], "import") == 0) {
                ctx->cmd = "template import";
                return template_import(ctx, argc - 1, argv + 1);
        }
        if (strcmp(argv[1], "unify") == 0) {
                ctx->cmd = "template unify";
                return template_unify(ctx, argc - 1, argv + 1);
        }
        if (strcmp(argv[1], "list") == 0) {
                ctx->cmd = "template list";
                return template_list(ctx, argc - 1, argv + 1);
        }
        if (strcmp(argv[1], "remove") == 0 || strcmp(argv[1], "rm") == 0) {
                ctx->cmd = "template remove";
                return template_remove(ctx, argc - 1, argv + 1);
        }
        return usage_error(ctx, "unknown subcommand '%s' (build, import, list, remove, unify)",
                           argv[1]);
}

const struct command vsctl_cmd_template = {
        "template", NULL, cmd_template,
        "template build busybox|debian [NAME] [--suite S] [--include P,...] [--mirror URL] "
        "[--variant minbase|default] [--debs F] | "
        "template import NAME FILE | template list [-j] [-H] "
        "| template remove NAME | template unify [-j]",
        "Manage templates, the shared read-only base images of VPS.\n"
        "  build busybox [NAME]  build a template from the host's busybox-static\n"
        "                        (offline; NAME defaults to busybox)\n"
        "  build debian [NAME] [--suite S] [--include PKG,...] [--mirror URL]\n"
        "               [--variant minbase|default]\n"
        "                        build a Debian with debootstrap (suite default bookworm,\n"
        "                        variant minbase) from the Debian archive or --mirror\n"
        "                        URL (else vsd.conf's debian_mirror), through the\n"
        "                        proxy in vsctl's http_proxy, showing its progress;\n"
        "                        NAME defaults to debian; --debs FILE uses the\n"
        "                        packages of a debootstrap --make-tarball FILE instead\n"
        "                        of the network. An unknown suite (exit 3), a mirror\n"
        "                        that does not answer or a proxy that refuses (exit 2)\n"
        "                        is named before anything is built\n"
        "  import NAME FILE      make template NAME of a root file system tarball\n"
        "                        FILE.tar[.gz|.xz|.zst] (also .tgz .txz .tzst), keeping\n"
        "                        owners (by number), modes, xattrs and device nodes\n"
        "  list [-j] [-H]        list templates: name, builder, size on disk of its own\n"
        "                        files, VPS using it, what it shares with other\n"
        "                        templates (hard links unify made), and a total that\n"
        "                        counts shared blocks once, with what unify saved\n"
        "                        (-H: no header, no total; -j: bytes and shared_bytes\n"
        "                        per template)\n"
        "  remove NAME           remove a template no VPS uses (alias: rm)\n"
        "  unify [-j]            hard-link files that are identical (content, mode,\n"
        "                        owner, xattrs) across templates into one copy, and\n"
        "                        report the bytes saved; safe while VPS run\n"
};
