/* What vsd tells its clients, as plain C: the daemon's modules fill these
 * structs and never touch JSON; the protocol layer (protocol/reply.c, in
 * vs/protocol.h) makes the JSON of them. */
#ifndef VS_REPLY_H
#define VS_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "vs/admission.h"
#include "vs/kvfile.h"
#include "vs/netns.h"

/* The fields of a VPS's description (list and status replies), which
 * list's args.fields may name: X(ENUM, "name", TYPE), TYPE being what the
 * field is in JSON: TEXT a string, INT an integer, TEXTS an array of
 * strings. */
/* clang-format off */
#define VS_VPS_FIELDS(X) \
        X(NAME, "name", TEXT) X(STATE, "state", TEXT) X(PID, "pid", INT) \
        X(NPROC, "nproc", INT) X(HOSTNAME, "hostname", TEXT) \
        X(TEMPLATE, "template", TEXT) X(IP, "ip", TEXT) \
        X(RX_BYTES, "rx_bytes", INT) X(TX_BYTES, "tx_bytes", INT) \
        X(RX_PACKETS, "rx_packets", INT) X(TX_PACKETS, "tx_packets", INT) \
        X(RATE_OUT, "rate_out", INT) X(RATE_IN, "rate_in", INT) \
        X(PORT_FORWARD, "port_forward", TEXTS) X(SLICE, "slice", TEXT) \
        X(UPTIME, "uptime", INT) X(DISK_BACKEND, "disk_backend", TEXT) \
        X(DISK, "disk", INT) X(DISKLIMIT, "disklimit", INT) X(INODES, "inodes", INT) \
        X(INODELIMIT, "inodelimit", INT) X(EXIT, "exit", TEXT) \
        X(OOM_KILLS, "oom_kills", INT) X(CPU_USEC, "cpu_usec", INT) \
        X(CPU_PCT, "cpu_pct", INT) X(THROTTLED_USEC, "throttled_usec", INT) \
        X(NR_THROTTLED, "nr_throttled", INT) X(MEM_BYTES, "mem_bytes", INT) \
        X(MEM_PEAK, "mem_peak", INT) X(SWAP_BYTES, "swap_bytes", INT) \
        X(IO_READ_BYTES, "io_read_bytes", INT) X(IO_WRITE_BYTES, "io_write_bytes", INT) \
        X(IO_READ_OPS, "io_read_ops", INT) X(IO_WRITE_OPS, "io_write_ops", INT) \
        X(EXIT_CODE, "exit_code", INT) X(EXIT_SIGNAL, "exit_signal", INT) \
        X(ONBOOT, "onboot", TEXT) X(BOOTORDER, "bootorder", INT) X(FAILCNT, "failcnt", INT) \
        X(STOP, "stop", TEXT) X(TIMESLICE, "timeslice", TEXT)
/* clang-format on */
#define VS_VPS_FIELD_ENUM(e, name, type) VS_VF_##e,
typedef enum { VS_VPS_FIELDS(VS_VPS_FIELD_ENUM) VS_VF_COUNT } vs_vps_field_t;
#undef VS_VPS_FIELD_ENUM
/* A set of fields: bit VS_VF_X; VS_VF_ALL is every one. */
typedef uint64_t vs_vps_fields_t;
#define VS_VF_BIT(e) ((vs_vps_fields_t)1 << VS_VF_##e)
#define VS_VF_ALL (((vs_vps_fields_t)1 << VS_VF_COUNT) - 1)
/* The field called name, or -1. */
int vs_vps_field_find(const char *name);
const char *vs_vps_field_name(vs_vps_field_t field);

typedef enum { VS_VF_TYPE_TEXT, VS_VF_TYPE_INT, VS_VF_TYPE_TEXTS } vs_vps_field_type_t;
vs_vps_field_type_t vs_vps_field_type(vs_vps_field_t field);

/* A VPS's description. `has` says which fields are filled in: only those
 * are sent. A TEXT field is text[field] (NULL sends ""), an INT one
 * num[field]; port_forward is the one TEXTS field. The text pointers must
 * stay valid until the reply is built; exit is room for text[VS_VF_EXIT]. */
typedef struct {
        vs_vps_fields_t has;
        const char *text[VS_VF_COUNT];
        long long num[VS_VF_COUNT];
        char exit[64];
        char forwards[VS_PORTFWD_MAX][VS_PORTFWD_TEXT];
        size_t nforwards;
} vs_vps_info_t;

/* Fills a TEXT or INT field and marks it in `has`. */
void vs_vps_info_text(vs_vps_info_t *info, vs_vps_field_t field, const char *value);
void vs_vps_info_int(vs_vps_info_t *info, vs_vps_field_t field, long long value);

/* An event (vsctl events): what happened to which VPS, and the members
 * that say more (how it ended, the error, what was set), in their order.
 * A member is a text, an integer, a boolean, or an object of texts (a
 * kv's key = value lines). Its pointers must stay valid until it is sent. */
#define VS_EVENT_MEMBERS_MAX 8
typedef enum { VS_EV_TEXT, VS_EV_INT, VS_EV_BOOL, VS_EV_TEXTS } vs_event_kind_t;
typedef struct {
        const char *key;
        vs_event_kind_t kind;
        const char *text;   /* VS_EV_TEXT */
        long long num;      /* VS_EV_INT, VS_EV_BOOL */
        const vs_kv_t *map; /* VS_EV_TEXTS */
} vs_event_member_t;
typedef struct {
        const char *type; /* created, started, start-failed, stopped, ... */
        const char *vps;
        vs_event_member_t member[VS_EVENT_MEMBERS_MAX];
        size_t n;
} vs_event_t;
/* Adds a member (one too many is a bug of the caller and aborts). */
void vs_event_text(vs_event_t *ev, const char *key, const char *text);
void vs_event_int(vs_event_t *ev, const char *key, long long num);
void vs_event_bool(vs_event_t *ev, const char *key, int yes);
void vs_event_texts(vs_event_t *ev, const char *key, const vs_kv_t *map);

/* vsctl node: the node's capacity and policy, what it admits, what the
 * running VPS reserve and use, and (has_fits) how many more of a size fit. */
typedef struct {
        vs_node_t node;
        vs_reserve_t admissible, reserved;
        uint64_t used_mem_bytes;
        int running;
        int has_fits;
        uint64_t fits;
} vs_node_report_t;

/* A slice's expiry and byte budget (runtime/slicetime.h), as slice usage
 * and slice status show them. Times are unix seconds UTC, 0: none. */
typedef struct {
        char name[64];
        long long expires;                /* 0: never */
        long long left;                   /* seconds to expires (<= 0: expired) */
        unsigned long long used, budget;  /* bytes sent in the window; budget 0: none */
        long long window_start;           /* 0: no window open (nothing counted yet) */
        long long resets;                 /* when the window ends, 0: none open */
        int throttled;                    /* past the budget: its VPS held to throttle_rate */
        unsigned long long throttle_rate; /* bit/s */
} vs_slice_time_t;

/* A slice, as slice list and slice status show it: its file's settings
 * (owners as uids, limits by vs_limit_key names, bytes_per_day, max_vps,
 * expires, templates), its owners by name, its VPS and what its cgroup
 * accounts (has_usage: cpu_usec, mem_bytes and nproc are known), and its
 * time left and bytes sent as slice usage shows them. */
typedef struct {
        const char *name;
        const vs_kv_t *settings;
        const char *owner_names; /* "alice,bob" */
        long long nvps, running;
        const char *cgroup; /* "<tree>/<slice>" */
        int has_usage;
        unsigned long long cpu_usec, mem_bytes, nproc;
        const vs_slice_time_t *time; /* its expiry and bytes; NULL: not known */
} vs_slice_info_t;

/* A loan of part of a slice's cpuunits or ram to another slice, as slice
 * loans shows it (until: seconds since the epoch, 0: until revoked). */
typedef struct {
        long long id;
        char from[64], to[64];
        char what[16];   /* "cpuunits", "ram" */
        char amount[32]; /* its value, as its limit's text */
        long long until;
} vs_loan_info_t;

/* One snapshot of a VPS's own layer, as snapshot list shows it. */
typedef struct {
        char name[64];
        long long created;
        unsigned long long bytes;
        int live; /* taken of a running VPS (frozen for the copy) */
        char backend[16];
} vs_snapshot_info_t;

#endif
