/* The daemon's store: each VPS's config and state file and the node's
 * vsd.conf, each read by one loader with one rule. */
#ifndef VS_RUNTIME_STORE_H
#define VS_RUNTIME_STORE_H

#include "vs/error.h"
#include "vs/kvfile.h"

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

/* <root>/etc/paene/vsd.conf, read at each use so that an admin's edit holds
 * without a restart: a missing file is an empty one (every key takes its
 * default), an unreadable one is an error. */
int vsd_conf_load(struct vsd *d, vs_kv_t *conf, vs_error_t *err);

/* The path of vsd.conf, for messages and for loaders of their own. */
char *vsd_conf_path(struct vsd *d);

#endif
