/* vsctl: the admin's command. Parse the arguments, send one request to vsd,
 * print the reply (a table, one line, or --json) and exit with a documented
 * code. This file holds the table of commands (each defined beside its code
 * in a family file), help and main. */

#include "vsctl.h"

#ifndef VS_VERSION
#define VS_VERSION "0.1"
#endif

static const struct command *const commands[] = {
        &vsctl_cmd_create, &vsctl_cmd_resize,  &vsctl_cmd_clone,        &vsctl_cmd_start,
        &vsctl_cmd_set,    &vsctl_cmd_stop,    &vsctl_cmd_restart,      &vsctl_cmd_destroy,
        &vsctl_cmd_status, &vsctl_cmd_node,    &vsctl_cmd_top,          &vsctl_cmd_stats,
        &vsctl_cmd_list,   &vsctl_cmd_backup,  &vsctl_cmd_restore,      &vsctl_cmd_snapshot,
        &vsctl_cmd_events, &vsctl_cmd_metrics, &vsctl_cmd_exec,         &vsctl_cmd_enter,
        &vsctl_cmd_logs,   &vsctl_cmd_console, &vsctl_cmd_beancounters, &vsctl_cmd_template,
        &vsctl_cmd_slice,  &vsctl_cmd_help,
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

const struct command *find_command(const char *name)
{
        if (!name)
                return NULL;
        for (size_t i = 0; i < NCOMMANDS; i++) {
                if (strcmp(commands[i]->name, name) == 0 ||
                    (commands[i]->alias && strcmp(commands[i]->alias, name) == 0))
                        return commands[i];
                if (strncmp(name, "template ", 9) == 0 &&
                    strcmp(commands[i]->name, "template") == 0)
                        return commands[i];
        }
        return NULL;
}

static void main_usage(FILE *out)
{
        fprintf(out, "Usage: vsctl [--root DIR] COMMAND [ARGS...]\n\n"
                     "Drive the paene daemon vsd: create, start, stop and enter VPS.\n\n"
                     "Commands:\n");
        for (size_t i = 0; i < NCOMMANDS; i++)
                fprintf(out, "  %s\n", commands[i]->synopsis);
        fprintf(out,
                "\nOptions:\n"
                "  -r, --root DIR     vsd's state root (default: $VS_ROOT, else /)\n"
                "  -h, --help         show this help; vsctl COMMAND --help for a command\n"
                "  -V, --version      show the version\n"
                "\nExit codes: 0 success, 1 internal error, 2 usage, 3 no such VPS or template,\n"
                "4 wrong state (running, stopped, in use, exists), 5 permission denied,\n"
                "6 vsd not running; exec: the command's own status.\n");
}

static void command_usage(const struct command *c)
{
        printf("Usage: vsctl %s\n\n%s", c->synopsis, c->help);
}

static int cmd_help(struct ctx *ctx, int argc, char **argv)
{
        const struct command *c;

        (void)ctx;
        if (argc < 2) {
                main_usage(stdout);
                return EXIT_OK;
        }
        c = find_command(argv[1]);
        if (!c)
                return usage_error(ctx, "unknown command '%s'", argv[1]);
        command_usage(c);
        return EXIT_OK;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "root", required_argument, NULL, 'r' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { NULL, 0, NULL, 0 },
        };
        struct ctx ctx = { .root = getenv("VS_ROOT") ? getenv("VS_ROOT") : "/", .cmd = "vsctl" };
        const struct command *c;
        int opt;

        opterr = 0;
        while ((opt = getopt_long(argc, argv, "+r:hV", opts, NULL)) != -1) {
                switch (opt) {
                case 'r':
                        ctx.root = optarg;
                        break;
                case 'h':
                        main_usage(stdout);
                        return EXIT_OK;
                case 'V':
                        printf("vsctl %s\n", VS_VERSION);
                        return EXIT_OK;
                default:
                        fprintf(stderr, "vsctl: option '%s' is unknown or needs a value\n",
                                argv[optind - 1]);
                        main_usage(stderr);
                        return EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                main_usage(stderr);
                return EXIT_USAGE;
        }
        if (!*ctx.root) {
                fprintf(stderr, "vsctl: --root is empty\n");
                return EXIT_USAGE;
        }
        c = find_command(argv[optind]);
        if (!c) {
                fprintf(stderr, "vsctl: unknown command '%s' (see: vsctl --help)\n", argv[optind]);
                return EXIT_USAGE;
        }
        ctx.cmd = c->name;
        argc -= optind;
        argv += optind;
        /* exec finds its own -h: a command's arguments are not ours */
        if (c != &vsctl_cmd_exec && want_help(argc, argv)) {
                command_usage(c);
                return EXIT_OK;
        }
        return c->run(&ctx, argc, argv);
}

const struct command vsctl_cmd_help = { "help", NULL, cmd_help, "help [COMMAND]",
                                        "Show help for vsctl or one command.\n" };
