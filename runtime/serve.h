/* vsd's serving side: the files that speak the protocol to clients. The
 * loop's client I/O (clients.c), the requests (handlers.c), long work in
 * workers (work.c) and the events (events.c). They take protocol objects;
 * the daemon's other modules (vsd.h: the lifecycle, the network, the
 * store, the disk, the view, the metrics) never see JSON. */
#ifndef VS_RUNTIME_SERVE_H
#define VS_RUNTIME_SERVE_H

#include <json-c/json.h>

#include "vs/protocol.h"
#include "vsd.h"

/* clients.c: the clients of the control socket */
/* The listener's event (EV_LISTEN) in the epoll set. */
extern struct ev vsd_listen_ev;
/* max_clients, max_clients_per_uid and client_timeout from vsd.conf, read
 * at start and again on SIGHUP; a bad value is refused whole. */
int vsd_client_conf_load(struct vsd *d, vs_error_t *err);
/* Accepts every waiting connection that the caps admit. */
void vsd_clients_accept(struct vsd *d);
/* The client's socket is readable: 1 with its request decoded into req
 * (the caller answers it and frees it), 0 when there is none. */
int vsd_client_read(struct vsd *d, struct client *c, vs_request_t *req);
/* Milliseconds until the loop must look again (-1: only on an event). */
int vsd_clients_next_wakeup(const struct vsd *d);
/* After each pass of the loop: clients past their deadline are told, a
 * paused listener tries again. */
void vsd_clients_after_pass(struct vsd *d);
/* Sends a reply (taken) with fds; finish closes the connection, and frees
 * the client unless a worker or an exec'd process still needs it. */
void vsd_client_reply(struct vsd *d, struct client *c, json_object *reply, const int *fds,
                      int nfds);
void vsd_client_reply_error(struct vsd *d, struct client *c, const vs_error_t *err);
void vsd_client_finish(struct vsd *d, struct client *c);

/* events.c: what happens, to the clients that asked (vsctl events) */
/* Sends the event to every subscriber (vs_reply_event). */
void vsd_event(struct vsd *d, const vs_event_t *ev);

/* work.c: long work in a worker. Starts w (filled in by the caller, who
 * gives it up) for client c, which is parked until vsd answers it. */
int vsd_work_start(struct vsd *d, struct client *c, struct vsd_work *w, vs_error_t *err);
/* The worker ended: vsd finishes the work and answers. */
void vsd_work_exited(struct vsd *d, struct vsd_work *w);
/* The work that conflicts with req (NULL: none), and why, in msg. */
const struct vsd_work *vsd_work_conflict(struct vsd *d, const vs_request_t *req, char *msg,
                                         size_t size);
/* vsd exits: the workers are ended, their clients told. */
void vsd_work_stop_all(struct vsd *d);

/* handlers.c: requests */
/* Returns 0 when the client got its reply, 1 when it is parked. */
int vsd_handle_request(struct vsd *d, struct client *c, vs_request_t *req);
/* A VPS reached PHASE_STOPPED: answer the clients that waited for it. */
void vsd_handle_vps_stopped(struct vsd *d, struct vps *v);
void vsd_handle_vps_stop_answer(struct vsd *d, struct vps *v);
void vsd_handle_exec_exited(struct vsd *d, struct client *c);
/* v is about to be freed: the clients still parked on it are answered. */
void vsd_handle_vps_removed(struct vsd *d, struct vps *v);
/* vsd exits: every client still waiting for its answer gets one. */
void vsd_handle_exit(struct vsd *d);

/* slicetimecmd.c: slice renew (admins) and slice usage (and owners) */
int vsd_handle_slice_renew(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err);
int vsd_handle_slice_usage(struct vsd *d, struct client *c, vs_request_t *req, vs_error_t *err);

#endif
