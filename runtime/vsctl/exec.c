/* vsctl exec, enter, logs and console: vsd hands back pipe or pty fds and
 * vsctl relays the terminal itself; vsd is never in the data path. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>

#include "vs/cleanup.h"
#include "vs/parse.h"

#include "vsctl.h"

/* ---- exec / enter ---- */

/* Feeds our stdin to the command without ever blocking on it: the command
 * may be busy writing output that only we can drain. */
struct feeder {
        int to; /* non-blocking; -1 once closed */
        int eof;
        size_t len, off;
        char buf[65536];
};

static void feeder_init(struct feeder *f, int to)
{
        f->to = to;
        f->eof = 0;
        f->len = f->off = 0;
        fcntl(to, F_SETFL, fcntl(to, F_GETFL) | O_NONBLOCK);
}

/* The poll entries for our stdin (read when the buffer is empty) and for
 * the command's input (write while the buffer holds data). */
static void feeder_poll(const struct feeder *f, struct pollfd *in, struct pollfd *out)
{
        *in = (struct pollfd){ !f->eof && f->len == 0 ? STDIN_FILENO : -1, POLLIN, 0 };
        *out = (struct pollfd){ f->len > 0 ? f->to : -1, POLLOUT, 0 };
}

static void feeder_close(struct feeder *f, int close_to)
{
        f->eof = 1;
        f->len = 0;
        if (close_to && f->to >= 0) {
                close(f->to);
                f->to = -1;
        }
}

/* With close_to, the command sees end of input when ours ends (a pipe); a
 * pty stays open, as a terminal does. */
static void feeder_step(struct feeder *f, const struct pollfd *in, const struct pollfd *out,
                        int close_to)
{
        if (in->revents) {
                ssize_t n = read(STDIN_FILENO, f->buf, sizeof(f->buf));

                if (n > 0) {
                        f->len = (size_t)n;
                        f->off = 0;
                } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                        feeder_close(f, close_to);
                }
        }
        if (out->revents && f->len > 0) {
                ssize_t n = write(f->to, f->buf + f->off, f->len - f->off);

                if (n > 0) {
                        f->off += (size_t)n;
                        if (f->off == f->len)
                                f->len = f->off = 0;
                } else if (n < 0 && errno != EINTR && errno != EAGAIN) {
                        feeder_close(f, close_to); /* the command stopped reading */
                }
        }
}

/* Copies what is already in `from` to `to` without waiting for more: once
 * the command has exited, everything it wrote is in the pipe, and what a
 * background child writes later is not the command's output. */
static void drain(int from, int to)
{
        char buf[65536];

        fcntl(from, F_SETFL, fcntl(from, F_GETFL) | O_NONBLOCK);
        for (;;) {
                ssize_t n = read(from, buf, sizeof(buf));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0 || write_all(to, buf, (size_t)n) < 0)
                        return; /* end, EAGAIN (nothing more), or our output is gone */
        }
}

/* A pty hands the command's last output to the master side asynchronously:
 * after the exit, read until the terminal closes or stays quiet for
 * PTY_QUIET_MS (a background child may keep it open for ever). */
#define PTY_QUIET_MS 250

static void drain_pty(int master)
{
        for (;;) {
                struct pollfd p = { master, POLLIN, 0 };
                int n = poll(&p, 1, PTY_QUIET_MS);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0 || !pump(master, STDOUT_FILENO))
                        return;
        }
}

/* Relays stdin to the command's stdin pipe and its stdout and stderr pipes
 * to ours, until vsd reports the exit (or both pipes end first). */
static int relay_pipes(int sock, int fds[3], int *status, vs_error_t *err)
{
        static struct feeder feed;
        int out_open = 1, err_open = 1;

        signal(SIGPIPE, SIG_IGN);
        feeder_init(&feed, fds[0]);
        fds[0] = -1; /* the feeder owns it */
        for (;;) {
                struct pollfd p[5] = {
                        [2] = { out_open ? fds[1] : -1, POLLIN, 0 },
                        [3] = { err_open ? fds[2] : -1, POLLIN, 0 },
                        [4] = { sock, POLLIN, 0 },
                };

                feeder_poll(&feed, &p[0], &p[1]);
                if (poll(p, 5, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return vs_error_errno(err, "poll");
                }
                feeder_step(&feed, &p[0], &p[1], 1);
                if (p[2].revents && !pump(fds[1], STDOUT_FILENO))
                        out_open = 0;
                if (p[3].revents && !pump(fds[2], STDERR_FILENO))
                        err_open = 0;
                if (p[4].revents)
                        break;
        }
        feeder_close(&feed, 1);
        if (read_exit(sock, status, err) < 0)
                return -1;
        if (out_open)
                drain(fds[1], STDOUT_FILENO);
        if (err_open)
                drain(fds[2], STDERR_FILENO);
        return 0;
}

static struct termios saved_termios;
static int termios_saved;

static void restore_terminal(void)
{
        if (termios_saved)
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_termios);
}

static void raw_terminal(void)
{
        struct termios raw;

        if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_termios) < 0)
                return;
        termios_saved = 1;
        atexit(restore_terminal);
        raw = saved_termios;
        cfmakeraw(&raw);
        tcsetattr(STDIN_FILENO, TCSANOW, &raw); /* keep what was typed ahead */
}

static void copy_window_size(int master)
{
        struct winsize ws;

        if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
                ioctl(master, TIOCSWINSZ, &ws);
}

/* Relays our terminal to the pty master; Ctrl-C travels as a byte and the
 * VPS's own line discipline makes it a SIGINT there. Ends when vsd reports
 * the exit of the shell or command. */
static int relay_pty(int sock, int master, int *status, vs_error_t *err)
{
        static struct feeder feed;
        cleanup_close int winch = -1;
        sigset_t mask;
        int out_open = 1;

        sigemptyset(&mask);
        sigaddset(&mask, SIGWINCH);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        winch = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        raw_terminal();
        feeder_init(&feed, master);
        for (;;) {
                struct pollfd p[5] = {
                        [2] = { out_open ? master : -1, POLLIN, 0 },
                        [3] = { winch, POLLIN, 0 },
                        [4] = { sock, POLLIN, 0 },
                };

                feeder_poll(&feed, &p[0], &p[1]);
                if (poll(p, 5, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return vs_error_errno(err, "poll");
                }
                if (p[3].revents) {
                        struct signalfd_siginfo si;

                        while (read(winch, &si, sizeof(si)) > 0)
                                ;
                        copy_window_size(master);
                }
                feeder_step(&feed, &p[0], &p[1], 0);
                if (p[2].revents && !pump(master, STDOUT_FILENO))
                        out_open = 0;
                if (p[4].revents)
                        break;
        }
        if (out_open)
                drain_pty(master);
        restore_terminal();
        return read_exit(sock, status, err);
}

static json_object *exec_args(int argc, char **argv, int use_tty)
{
        json_object *args = json_object_new_object();
        json_object *cmd = json_object_new_array();
        struct winsize ws;
        const char *term = getenv("TERM");

        for (int i = 0; i < argc; i++)
                json_object_array_add(cmd, json_object_new_string(argv[i]));
        json_object_object_add(args, "argv", cmd);
        json_object_object_add(args, "tty", json_object_new_boolean(use_tty));
        if (use_tty && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
                json_object_object_add(args, "rows", json_object_new_int(ws.ws_row));
                json_object_object_add(args, "cols", json_object_new_int(ws.ws_col));
        }
        /* vsd takes a terminal type it can pass on safely; else its default */
        if (use_tty && term && vs_term_check(term, NULL) == 0)
                json_object_object_add(args, "term", json_object_new_string(term));
        return args;
}

static int run_in_vps(struct ctx *ctx, int argc, char **argv, int use_tty)
{
        cleanup_json json_object *reply = NULL;
        cleanup_close int sock = -1;
        vs_error_t err = { 0 };
        int fds[VS_MSG_FDS_MAX], nfds = 0, status = 255, rc;

        rc = call(ctx, VS_CMD_EXEC, ctx->name, exec_args(argc, argv, use_tty), &reply, fds, &nfds,
                  &sock, &err);
        if (rc < 0) {
                long long code = vs_json_int(reply, "exit", -1);

                fail(ctx, &err);
                return code >= 0 ? (int)code : exit_code_for(&err);
        }
        if (nfds != (use_tty ? 1 : 3)) {
                vs_error_kind(&err, VS_E_INTERNAL, EPROTO, "vsd sent %d fds", nfds);
                return fail(ctx, &err);
        }
        rc = use_tty ? relay_pty(sock, fds[0], &status, &err)
                     : relay_pipes(sock, fds, &status, &err);
        for (int i = 0; i < nfds; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        if (rc < 0)
                return fail(ctx, &err);
        return status;
}

/* Options of exec may stand before or after NAME; everything after "--", or
 * from the first word that is not an option, is the command and its own. */
static int exec_option(struct ctx *ctx, const char *arg, int *use_tty)
{
        const struct command *c = find_command("exec");

        if (strcmp(arg, "-t") == 0 || strcmp(arg, "--tty") == 0) {
                *use_tty = 1;
                return EXIT_OK;
        }
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
                printf("Usage: vsctl %s\n\n%s", c->synopsis, c->help);
                return -1;
        }
        return usage_error(ctx, "option '%s' is unknown", arg);
}

static int cmd_exec(struct ctx *ctx, int argc, char **argv)
{
        vs_error_t err = { 0 };
        int use_tty = 0, i = 1, rc;

        for (; i < argc; i++) {
                if (strcmp(argv[i], "--") == 0) {
                        i++;
                        break;
                }
                if (argv[i][0] != '-') {
                        if (ctx->name)
                                break; /* the command, without "--" */
                        ctx->name = argv[i];
                        continue;
                }
                if ((rc = exec_option(ctx, argv[i], &use_tty)) != EXIT_OK)
                        return rc < 0 ? EXIT_OK : rc;
        }
        if (!ctx->name)
                return usage_error(ctx, "VPS name is missing");
        if (vs_parse_name(ctx->name, "VPS name", &err) < 0)
                return fail(ctx, &err);
        if (i >= argc)
                return usage_error(ctx, "no command given (vsctl exec NAME -- CMD ARGS...)");
        return run_in_vps(ctx, argc - i, argv + i, use_tty);
}

static int cmd_enter(struct ctx *ctx, int argc, char **argv)
{
        char *shell[] = { "/bin/sh", "-l" };
        int rc = parse_name_only(ctx, argc, argv);

        if (rc != EXIT_OK)
                return rc;
        return run_in_vps(ctx, 2, shell, 1);
}

/* ---- logs ---- */

/* For logs and console, whose only operand is NAME and whose reply is the
 * descriptors vsd hands over: EXIT_OK with them in fds, else the exit code. */
static int call_for_fds(struct ctx *ctx, int argc, char **argv, const char *cmd,
                        int fds[VS_MSG_FDS_MAX], int *nfds)
{
        cleanup_json json_object *reply = NULL;
        vs_error_t err = { 0 };
        int rc = parse_name_only(ctx, argc, argv);

        *nfds = 0;
        if (rc != EXIT_OK)
                return rc;
        if (call(ctx, cmd, ctx->name, NULL, &reply, fds, nfds, NULL, &err) < 0)
                return fail(ctx, &err);
        return EXIT_OK;
}

static int cmd_logs(struct ctx *ctx, int argc, char **argv)
{
        int fds[VS_MSG_FDS_MAX], nfds;
        int rc = call_for_fds(ctx, argc, argv, VS_CMD_LOGS, fds, &nfds);

        if (rc != EXIT_OK)
                return rc;
        for (int i = 0; i < nfds; i++) {
                while (pump(fds[i], STDOUT_FILENO))
                        ;
                close(fds[i]);
        }
        return EXIT_OK;
}

/* ---- console ---- */

#define CONSOLE_ESCAPE 0x1d /* Ctrl-], as telnet's and virsh console's */

/* Copies our stdin to the console until the escape; returns 0 at the
 * escape or when our input ends. */
static int console_input(int sock)
{
        char buf[4096];
        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
        char *esc;

        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return 1;
        if (n <= 0)
                return 0;
        esc = memchr(buf, CONSOLE_ESCAPE, (size_t)n);
        if (write_all(sock, buf, esc ? (size_t)(esc - buf) : (size_t)n) < 0)
                return 0;
        return esc == NULL;
}

/* Relays our terminal to the VPS's console (its keeper's socket) until
 * the escape, our input's end or the console's (the VPS stopped). */
static void relay_console(int sock)
{
        raw_terminal();
        for (;;) {
                struct pollfd p[2] = { { STDIN_FILENO, POLLIN, 0 }, { sock, POLLIN, 0 } };

                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[1].revents && !pump(sock, STDOUT_FILENO))
                        break;
                if (p[0].revents && !console_input(sock))
                        break;
        }
        restore_terminal();
}

static int cmd_console(struct ctx *ctx, int argc, char **argv)
{
        vs_error_t err = { 0 };
        int fds[VS_MSG_FDS_MAX], nfds;
        int rc = call_for_fds(ctx, argc, argv, VS_CMD_CONSOLE, fds, &nfds);

        if (rc != EXIT_OK)
                return rc;
        if (nfds != 1) {
                for (int i = 0; i < nfds; i++)
                        close(fds[i]);
                vs_error_kind(&err, VS_E_INTERNAL, EPROTO, "vsd sent %d fds", nfds);
                return fail(ctx, &err);
        }
        signal(SIGPIPE, SIG_IGN);
        fprintf(stderr, "Connected to the console of %s. Type Ctrl-] to detach.\r\n", ctx->name);
        relay_console(fds[0]);
        close(fds[0]);
        fprintf(stderr, "\r\nDetached from the console of %s.\n", ctx->name);
        return EXIT_OK;
}

const struct command vsctl_cmd_exec = {
        "exec", NULL, cmd_exec, "exec NAME [-t] -- CMD [ARGS...]",
        "Run CMD inside a running VPS, relaying stdin, stdout and stderr; exit with\n"
        "CMD's exit status (128+N if killed by signal N, 127 if not found, 126 if it\n"
        "cannot be run). vsctl returns when CMD exits: children it leaves in the\n"
        "background keep running, but what they print later is not relayed.\n"
        "  -t, --tty          run CMD on a terminal\n"
};

const struct command vsctl_cmd_enter = {
        "enter", NULL, cmd_enter, "enter NAME",
        "Open an interactive shell (/bin/sh -l) on a terminal inside a running VPS.\n"
};

const struct command vsctl_cmd_logs = { "logs", NULL, cmd_logs, "logs NAME",
                                        "Print the VPS's console output.\n" };

const struct command vsctl_cmd_console = {
        "console", NULL, cmd_console, "console NAME",
        "Attach to the console of a running VPS (its /dev/console: a getty there\n"
        "offers a login). Ctrl-] detaches; the VPS goes on. One session at a time.\n"
};
