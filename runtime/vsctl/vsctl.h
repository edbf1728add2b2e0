/* vsctl's own header: what its command families share (the context, the
 * exit codes, talking to vsd, option parsing) and the commands each family
 * file defines, which main.c lists in the order --help shows them. */
#ifndef VSCTL_VSCTL_H
#define VSCTL_VSCTL_H

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vs/error.h"
#include "vs/limits.h"
#include "vs/protocol.h"

/* Exit codes, documented in vsctl(8). */
enum {
        EXIT_OK = 0,
        EXIT_INTERNAL = 1,
        EXIT_USAGE = 2,
        EXIT_NOTFOUND = 3,
        EXIT_STATE = 4,
        EXIT_PERM = 5,
        EXIT_DAEMON = 6,
};

struct ctx {
        const char *root;
        const char *cmd;  /* for messages: "start" */
        const char *name; /* for messages: "web1", or NULL */
};

struct command {
        const char *name;
        const char *alias;
        int (*run)(struct ctx *ctx, int argc, char **argv);
        const char *synopsis;
        const char *help;
};

/* getopt value of limit i: LIMIT_OPT + i (create, set, node) */
#define LIMIT_OPT 1000

/* common.c */
/* for commands whose only option is --help */
extern const struct option no_options[];
int call(const struct ctx *ctx, const char *cmd, const char *name, json_object *args,
         json_object **reply, int *fds, int *nfds, int *sock_out, vs_error_t *err);
int dropped(vs_error_t *err, const char *when);
int exit_code_for(const vs_error_t *err);
int fail(const struct ctx *ctx, const vs_error_t *err);
int has_glob(const char *text);
int json_flag(struct ctx *ctx, int argc, char **argv, int *as_json);
int next_opt(struct ctx *ctx, int argc, char **argv, const char *shortopts,
             const struct option *longopts, int *bad);
int parse_name_only(struct ctx *ctx, int argc, char **argv);
int pump(int from, int to);
int read_exit(int sock, int *status, vs_error_t *err);
int run_on_each(struct ctx *ctx, const char *cmd, char **names, size_t n, json_object *args,
                const char *done);
int running_names(struct ctx *ctx, char ***names, size_t *n);
int simple_call(struct ctx *ctx, const char *cmd, const char *name, json_object *args);
int take_name(struct ctx *ctx, int argc, char **argv, const char *what);
int take_name_and(struct ctx *ctx, int argc, char **argv, const char *second_what,
                  const char **second);
int take_names(struct ctx *ctx, int argc, char **argv, int globs, char ***names, size_t *n);
int usage_error(const struct ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int value_error(const struct ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int want_help(int argc, char **argv);
int write_all(int fd, const char *buf, size_t len);
void format_size(uint64_t bytes, char *buf, size_t size);
void format_duration(long long seconds, char *buf, size_t size);
void print_json(json_object *obj);
void reset_getopt(void);

/* main.c */
const struct command *find_command(const char *name);

/* vps.c */
/* stop's -t/--timeout S and -f/--fast (opt 't', 'f'; others: nothing) into
 * a stop request's args */
int stop_option(struct ctx *ctx, int opt, const char *arg, json_object *args);
int take_limit(struct ctx *ctx, int opt, vs_limits_t *l, json_object *limits);
size_t add_limit_options(struct option *opts, size_t n);

/* the commands, one per family file */
extern const struct command vsctl_cmd_create;
extern const struct command vsctl_cmd_resize;
extern const struct command vsctl_cmd_clone;
extern const struct command vsctl_cmd_start;
extern const struct command vsctl_cmd_set;
extern const struct command vsctl_cmd_stop;
extern const struct command vsctl_cmd_restart;
extern const struct command vsctl_cmd_destroy;
extern const struct command vsctl_cmd_status;
extern const struct command vsctl_cmd_node;
extern const struct command vsctl_cmd_top;
extern const struct command vsctl_cmd_stats;
extern const struct command vsctl_cmd_list;
extern const struct command vsctl_cmd_backup;
extern const struct command vsctl_cmd_restore;
extern const struct command vsctl_cmd_migrate;
extern const struct command vsctl_cmd_migrate_receive;
extern const struct command vsctl_cmd_snapshot;
extern const struct command vsctl_cmd_events;
extern const struct command vsctl_cmd_metrics;
extern const struct command vsctl_cmd_exec;
extern const struct command vsctl_cmd_enter;
extern const struct command vsctl_cmd_logs;
extern const struct command vsctl_cmd_console;
extern const struct command vsctl_cmd_beancounters;
extern const struct command vsctl_cmd_template;
extern const struct command vsctl_cmd_slice;
extern const struct command vsctl_cmd_help;

/* slicetime.c: slice renew and slice usage, and the expiry as one text
 * ("DATE (in 6d16h)", "expired at DATE", "never") of a reply's slice */
int vsctl_slice_renew(struct ctx *ctx, int argc, char **argv);
int vsctl_slice_usage(struct ctx *ctx, int argc, char **argv);
void vsctl_slice_expiry_text(json_object *slice, char *buf, size_t size);
extern const struct command vsctl_cmd_slice;

#endif
