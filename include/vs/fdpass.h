/* Passing file descriptors over Unix sockets (SCM_RIGHTS), for the control
 * protocol and for vsd's talk with the children it spawns. */
#ifndef VS_FDPASS_H
#define VS_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

#define VS_FDPASS_MAX 4

/* Sends len bytes of data with nfds (0..VS_FDPASS_MAX) fds in one message.
 * Returns 0, or -1 with errno set. */
int vs_send_fds(int sock, const void *data, size_t len, const int *fds, int nfds);

/* Receives one message into buf; the fds that came with it (CLOEXEC) land
 * in fds, their number in *nfds (extra ones are closed). Returns the number
 * of bytes (0 at end of stream), or -1 with errno set. *truncated tells a
 * message longer than len. */
ssize_t vs_recv_fds(int sock, void *buf, size_t len, int *fds, int *nfds, int *truncated);

#endif
