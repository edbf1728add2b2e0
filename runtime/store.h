/* The daemon's store: each VPS's config and state file and the node's
 * vsd.conf, each read by one loader with one rule. */
#ifndef VS_RUNTIME_STORE_H
#define VS_RUNTIME_STORE_H

#include "vs/error.h"
#include "vs/kvfile.h"
#include "vs/admission.h"
#include "vs/netns.h"

struct vsd;

/* <vps dir>/NAME/config; a missing or unreadable file is an error naming
 * the VPS's config. */
int vsd_config_load(struct vsd *d, const char *name, vs_kv_t *config, vs_error_t *err);

/* <vps dir>/NAME/state; as the config. */
int vsd_state_load(struct vsd *d, const char *name, vs_kv_t *state, vs_error_t *err);

/* Replace <vps dir>/NAME/config by rename, synced (an admin's edit and a
 * crash at any moment leave the old file or the new one, never a mix). */
int vsd_config_save(struct vsd *d, const char *name, const vs_kv_t *config, vs_error_t *err);

/* A VPS's config as its file is now, kept in memory and read again only
 * when the file changed (vsd saves by rename, an admin may edit it), so
 * that a scan of thousands of VPS costs a stat each, not a parse; empty
 * when it cannot be read. Owned by v. */
struct vps;
const vs_kv_t *vsd_vps_config(struct vsd *d, struct vps *v);

/* The same as vsd last read it, without looking at the file: read only
 * when vsd never did or saved it since (vsd_config_save). For the checks
 * that compare one VPS with every other (id ranges, addresses, forwards):
 * a create or a start looks at no other VPS's files. A hand edit of a
 * config counts from the VPS's next start, list or status. Owned by v. */
const vs_kv_t *vsd_vps_config_kept(struct vsd *d, struct vps *v);
/* Of that config, parsed once per read: the base of its id range (0 for
 * none: privileged, or not a range vsd hands out), its port forwards
 * (none when the value is bad; owned by v). */
unsigned long vsd_vps_id_base(struct vsd *d, struct vps *v);
size_t vsd_vps_forwards(struct vsd *d, struct vps *v, const vs_portfwd_t **fwds);
/* What its limits reserve (none when they are bad). */
vs_reserve_t vsd_vps_reserve(struct vsd *d, struct vps *v);
/* Adds its addresses (none when the value is bad) to u. */
struct vsd_used_addrs;
void vsd_vps_addrs(struct vsd *d, struct vps *v, struct vsd_used_addrs *u);
/* Frees what v keeps of its config; it is read again at its next use. */
void vsd_vps_config_drop(struct vps *v);

/* A config's id_base: a range's base vsd hands out, else -1. */
int vsd_parse_id_base(const char *text, unsigned long *base);

/* <root>/etc/paene/vsd.conf, read at each use so that an admin's edit holds
 * without a restart: a missing file is an empty one (every key takes its
 * default), an unreadable one is an error. */
int vsd_conf_load(struct vsd *d, vs_kv_t *conf, vs_error_t *err);

/* The path of vsd.conf, for messages and for loaders of their own. */
char *vsd_conf_path(struct vsd *d);

#endif
