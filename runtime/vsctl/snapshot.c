/* vsctl snapshot NAME [SNAP], snapshot list|restore|delete. */
#include <time.h>

#include "vs/cleanup.h"
#include "vs/parse.h"

#include "vsctl.h"

/* NAME SNAP, both checked; SNAP optional when *snap may stay NULL. */
static int take_vps_and_snap(struct ctx *ctx, int argc, char **argv, int snap_required,
                             const char **snap)
{
        vs_error_t err = { 0 };

        *snap = NULL;
        if (optind >= argc)
                return usage_error(ctx, "VPS name is missing");
        if (optind + 1 >= argc && snap_required)
                return usage_error(ctx, "snapshot name is missing");
        if (optind + 2 < argc)
                return usage_error(ctx, "unexpected argument '%s'", argv[optind + 2]);
        ctx->name = argv[optind];
        if (vs_parse_name(ctx->name, "VPS name", &err) < 0)
                return fail(ctx, &err);
        if (optind + 1 < argc) {
                *snap = argv[optind + 1];
                if (vs_parse_name(*snap, "snapshot name", &err) < 0)
                        return fail(ctx, &err);
        }
        return EXIT_OK;
}

static int no_opts(struct ctx *ctx, int argc, char **argv)
{
        int opt, bad = 0;

        reset_getopt();
        while ((opt = next_opt(ctx, argc, argv, "h", no_options, &bad)) != -1)
                if (bad)
                        return bad;
        return EXIT_OK;
}

static int snapshot_take(struct ctx *ctx, int argc, char **argv)
{
        cleanup_json json_object *reply = NULL;
        json_object *args = NULL;
        vs_error_t err = { 0 };
        const char *snap;
        int rc;

        if ((rc = no_opts(ctx, argc, argv)) != EXIT_OK ||
            (rc = take_vps_and_snap(ctx, argc, argv, 0, &snap)) != EXIT_OK)
                return rc;
        if (snap) {
                args = json_object_new_object();
                json_object_object_add(args, "snap", json_object_new_string(snap));
        }
        if (call(ctx, VS_CMD_SNAPSHOT, ctx->name, args, &reply, NULL, NULL, NULL, &err) < 0)
                return fail(ctx, &err);
        printf("%s snapshot %s taken", ctx->name, vs_json_str(reply, "snapshot") ?: "?");
        if (vs_json_bool(reply, "frozen"))
                printf(" (frozen %lld ms)", vs_json_int(reply, "frozen_ms", 0));
        printf("\n");
        return EXIT_OK;
}

static void print_table(json_object *list)
{
        size_t n = json_object_array_length(list);

        printf("%-24s %-20s %9s %-5s %s\n", "SNAPSHOT", "CREATED", "SIZE", "LIVE", "BACKEND");
        for (size_t i = 0; i < n; i++) {
                json_object *one = json_object_array_get_idx(list, i);
                time_t created = (time_t)vs_json_int(one, "created", 0);
                char when[32], size[16];
                struct tm tm;

                localtime_r(&created, &tm);
                strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
                format_size((uint64_t)vs_json_int(one, "bytes", 0), size, sizeof(size));
                printf("%-24s %-20s %9s %-5s %s\n", vs_json_str(one, "name") ?: "", when, size,
                       vs_json_bool(one, "live") ? "yes" : "no", vs_json_str(one, "backend") ?: "");
        }
}

static int snapshot_list(struct ctx *ctx, int argc, char **argv)
{
        cleanup_json json_object *reply = NULL;
        vs_error_t err = { 0 };
        json_object *list;
        int as_json, rc;

        if ((rc = json_flag(ctx, argc, argv, &as_json)) != EXIT_OK ||
            (rc = take_name(ctx, argc, argv, "VPS name")) != EXIT_OK)
                return rc;
        if (call(ctx, VS_CMD_SNAPSHOT_LIST, ctx->name, NULL, &reply, NULL, NULL, NULL, &err) < 0)
                return fail(ctx, &err);
        list = json_object_object_get(reply, "snapshots");
        if (!list || !json_object_is_type(list, json_type_array)) {
                vs_error_set(&err, EPROTO, "vsd's reply has no snapshot list");
                return fail(ctx, &err);
        }
        if (as_json)
                print_json(list);
        else
                print_table(list);
        return EXIT_OK;
}

/* restore and delete: NAME SNAP */
static int snapshot_named(struct ctx *ctx, int argc, char **argv, const char *cmd, const char *done)
{
        json_object *args;
        const char *snap;
        int rc;

        if ((rc = no_opts(ctx, argc, argv)) != EXIT_OK ||
            (rc = take_vps_and_snap(ctx, argc, argv, 1, &snap)) != EXIT_OK)
                return rc;
        args = json_object_new_object();
        json_object_object_add(args, "snap", json_object_new_string(snap));
        rc = simple_call(ctx, cmd, ctx->name, args);
        if (rc == EXIT_OK)
                printf("%s snapshot %s %s\n", ctx->name, snap, done);
        return rc;
}

static int cmd_snapshot(struct ctx *ctx, int argc, char **argv)
{
        if (argc >= 2 && strcmp(argv[1], "list") == 0) {
                ctx->cmd = "snapshot list";
                return snapshot_list(ctx, argc - 1, argv + 1);
        }
        if (argc >= 2 && strcmp(argv[1], "restore") == 0) {
                ctx->cmd = "snapshot restore";
                return snapshot_named(ctx, argc - 1, argv + 1, VS_CMD_SNAPSHOT_RESTORE, "restored");
        }
        if (argc >= 2 && (strcmp(argv[1], "delete") == 0 || strcmp(argv[1], "rm") == 0)) {
                ctx->cmd = "snapshot delete";
                return snapshot_named(ctx, argc - 1, argv + 1, VS_CMD_SNAPSHOT_DELETE, "deleted");
        }
        return snapshot_take(ctx, argc, argv);
}

const struct command vsctl_cmd_snapshot = {
        "snapshot", NULL, cmd_snapshot,
        "snapshot NAME [SNAP] | snapshot list NAME [-j|--json] | snapshot restore NAME SNAP "
        "| snapshot delete NAME SNAP",
        "Point-in-time copies of a VPS's own layer (its files over the template).\n"
        "  NAME [SNAP]           take snapshot SNAP (default: sYYYYMMDD-HHMMSS, UTC);\n"
        "                        a running VPS is copied running, then frozen for the\n"
        "                        moment of a second pass over what it changed meanwhile,\n"
        "                        as for clone; one on a disk image is refused while it\n"
        "                        runs (exit 4). The copy is a reflink where the file\n"
        "                        system shares extents (XFS, btrfs), else a copy of the data\n"
        "  list NAME [-j|--json] the snapshots, oldest first: name, time, size, whether\n"
        "                        taken of a running VPS, backend (-j: JSON)\n"
        "  restore NAME SNAP     put the VPS's files back as they were in SNAP (the\n"
        "                        VPS stopped, else exit 4; SNAP stays)\n"
        "  delete NAME SNAP      remove a snapshot (alias: rm)\n"
        "A snapshot lives in the VPS's directory and goes with its destroy; backup,\n"
        "clone and migrate do not carry snapshots.\n"
};
