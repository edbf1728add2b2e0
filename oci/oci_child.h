/* What create.c and exec.c share: the messages between the runtime and the
 * process it starts in a container, and the last steps before exec. */
#ifndef PAENE_OCI_CHILD_H
#define PAENE_OCI_CHILD_H

#include "oci.h"

enum {
        OCI_MSG_GO = 1,     /* runtime -> init: maps and cgroup are set (value: its pid) */
        OCI_MSG_HOOKS,      /* init -> runtime: run prestart and createRuntime */
        OCI_MSG_HOOKS_DONE, /* runtime -> init */
        OCI_MSG_PTY,        /* init -> runtime: the pty master (fd) */
        OCI_MSG_READY,      /* init -> runtime: waiting on exec.fifo (or exec'ing) */
        OCI_MSG_ERROR,      /* init -> runtime: value errno, text message */
};

struct oci_msg {
        int type;
        int value;
        char text[1000];
};

int oci_msg_send(int sock, int type, int value, const char *text, int fd);
/* 1 a message, 0 end of stream, -1 error */
int oci_msg_recv(int sock, struct oci_msg *m, int *fd);
/* Reports err to the runtime (or stderr when sock < 0) and exits. */
void oci_child_fail(int sock, const vs_error_t *err) __attribute__((noreturn));
int oci_child_terminal(int sock, const struct oci_process *p, vs_error_t *err);
/* Sends master to the --console-socket listener at socket_path. */
int oci_send_console(const char *socket_path, int master, vs_error_t *err);
/* cwd, umask, capabilities, user, no_new_privs, seccomp, exec: returns only on failure */
int oci_child_finish(const struct oci_process *p, void *seccomp, int preserve_fds, vs_error_t *err);
int oci_write_pid_file(const char *path, pid_t pid, vs_error_t *err);

#endif
