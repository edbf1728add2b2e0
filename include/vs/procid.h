/* What identifies a VPS's init across restarts of vsd, beyond its pid: the
 * boot it runs in, its start time and its pid namespace. vsd records them
 * in the VPS's state file when it starts the init and adopts a process
 * after a restart only when they all match (plus its cgroup, see
 * vs_cgroup_holds). A pid alone is never trusted: it is reused, and after a
 * reboot some host process has it. */
#ifndef VS_PROCID_H
#define VS_PROCID_H

#include <stdint.h>
#include <sys/types.h>

#include "vs/error.h"
#include "vs/kvfile.h"

#define VS_BOOT_ID_LEN 36 /* 8-4-4-4-12 hex digits */

typedef struct {
        char boot_id[VS_BOOT_ID_LEN + 1]; /* /proc/sys/kernel/random/boot_id */
        unsigned long long starttime;     /* field 22 of /proc/PID/stat */
        uint64_t pidns_dev, pidns_ino;    /* of /proc/PID/ns/pid */
} vs_procid_t;

/* The start time (field 22) from the text of /proc/PID/stat. The comm in
 * parentheses may hold blanks and ')': fields are counted after the last
 * ')'. */
int vs_procid_parse_starttime(const char *stat_text, unsigned long long *starttime);

/* Whether a stat text is a zombie's (1, with its wait status from field
 * 52, exit_code, and its start time), a live process's (0), or cannot be
 * read (-1). */
int vs_procid_parse_zombie(const char *stat_text, unsigned long long *starttime, int *status);
/* The wait status of process `pid` when it is a zombie with this start
 * time (1), else 0: what is left of an init whose reaper is not vsd and
 * has not collected it yet. */
int vs_procid_zombie_status(pid_t pid, unsigned long long starttime, int *status);

/* This boot's id. */
int vs_procid_boot_id(char out[VS_BOOT_ID_LEN + 1], vs_error_t *err);

/* The identity of a live process (and the boot it runs in). The caller
 * holds a pidfd of it and confirms afterwards that it still lives, so that
 * what was read here belongs to that process. */
int vs_procid_read(pid_t pid, vs_procid_t *id, vs_error_t *err);

/* Writes the identity as the state file keys boot_id, starttime and pidns
 * (DEV:INO). */
void vs_procid_save(const vs_procid_t *id, vs_kv_t *state);

/* Reads them back; fails, with the reason in err, when one is missing or
 * malformed (a state file an older vsd wrote has no boot_id or pidns). */
int vs_procid_load(const vs_kv_t *state, vs_procid_t *id, vs_error_t *err);

/* Why `seen` (a live process with this pid) is not the process `recorded`
 * describes, or NULL when it is. own_pidns_dev/ino: vsd's own pid
 * namespace, which a VPS's init is never in. The reason fills buf. */
const char *vs_procid_mismatch(const vs_procid_t *recorded, const vs_procid_t *seen,
                               uint64_t own_pidns_dev, uint64_t own_pidns_ino, char *buf,
                               size_t size);

#endif
