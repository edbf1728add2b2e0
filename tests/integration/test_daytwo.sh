#!/bin/bash
# The operator's day two (issue 17): vzctl/vzlist habits (field aliases,
# -1, -S, -s, name patterns, several VPS per command, set --hostname, sizes
# in tables).
. "$(dirname "$0")/lib.sh"

test_list_takes_vzlist_field_names() {
        vs create z1 --template busybox --hostname z1.example
        vs start z1
        local out
        out=$(vs list -o ctid,status,numproc,hostname,ip)
        expect_eq "CTID STATUS NUMPROC HOSTNAME IP" "$(echo "$out" | head -1 | tr -s ' ')" "alias headers"
        # numproc is nproc: the init and what it runs (busybox's may fork)
        expect_eq "z1 running yes z1.example" \
                "$(echo "$out" | awk '$1 == "z1" {print $1, $2, ($3 >= 1 ? "yes" : $3), $4}')" "alias values"
        expect_eq "z1" "$(vs list -H -o veid)" "veid"
        # the alias is the key of --json, with the same value as its field
        expect_eq "z1 running" "$(vs list -j -o veid,status | python3 -c '
import json, sys
r = json.load(sys.stdin)[0]
print(r["veid"], r["status"])')" "json keys of aliases"
        [ "$(vs list -j -o physpages | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["physpages"])')" -gt 0 ] ||
                fail "physpages is the memory used"
        expect_rc 2 "unknown field" -- vs list -o ctid,colour
        expect_eq "vsctl: list: unknown field 'colour' (see: vsctl list --help)" "$ERR" "one line naming it"
        expect_rc 2 "unknown sort field" -- vs list -s colour
        expect_eq "vsctl: list: unknown field 'colour' (see: vsctl list --help)" "$ERR" "one line for -s"
        vs destroy --force z1
}

test_list_sizes_are_human_in_tables_raw_in_json() {
        vs create m1 --template busybox
        vs start m1
        local raw cell
        raw=$(vs list -j -o name,mem_bytes | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["mem_bytes"])')
        [ "$raw" -gt 0 ] || fail "mem_bytes in json: $raw"
        cell=$(vs list -H -o mem_bytes | tr -d ' ')
        [[ "$cell" =~ ^[0-9]+(\.[0-9])?[BKMGT]$ ]] || fail "mem in the table is not a size: $cell"
        expect_contains "$(vs list -o name,mem | head -1)" "MEM" "mem alias header"
        vs destroy --force m1
}

test_list_one_stopped_sort_and_patterns() {
        vs create web1 --template busybox
        vs create web2 --template busybox
        vs create db1 --template busybox
        vs start web2 db1 >/dev/null
        expect_eq "db1 web2" "$(vs list -1 | xargs)" "-1: names of running VPS, no header"
        expect_eq "web1" "$(vs list -1 -S | xargs)" "-S: stopped only"
        expect_eq "db1 web1 web2" "$(vs list -1 -a | xargs)" "-a"
        expect_eq "web1 web2" "$(vs list -1 'web*' | xargs)" "a pattern selects among all states"
        expect_eq "web1" "$(vs list -1 -S 'web*' | xargs)" "pattern and -S"
        expect_eq "db1 web2" "$(vs list -1 'db?' web2 | xargs)" "pattern and name"
        expect_rc 3 "an exact name that does not exist" -- vs list nosuch
        expect_eq "vsctl: list nosuch: no such VPS" "$ERR" "message"
        expect_eq "" "$(vs list -1 'zz*')" "a pattern matching nothing lists nothing"
        # sort: by text, and reversed
        expect_eq "web2 db1" "$(vs list -1 -s -name | xargs)" "-s -name reverses"
        expect_eq "db1 web1 web2" "$(vs list -a -1 --sort name | xargs)" "--sort name"
        # by a number: the stopped VPS has no processes
        vs exec web2 -- sh -c 'sleep 30 >/dev/null 2>&1 & sleep 30 >/dev/null 2>&1 &'
        wait_for 10 '[ "$(vs list -H -o nproc web2 | tr -d " ")" -ge 3 ]' || fail "sleepers did not start"
        expect_eq "web1 db1 web2" "$(vs list -a -1 -s nproc | xargs)" "-s nproc ascending"
        expect_eq "web2 db1 web1" "$(vs list -a -1 -s -numproc | xargs)" "-s -numproc (alias) descending"
        vs destroy --force web1
        vs destroy --force web2
        vs destroy --force db1
}

test_several_vps_per_command() {
        local t0
        vs create a1 --template busybox
        vs create a2 --template busybox
        vs create a3 --template busybox
        expect_rc 0 "start two" -- vs start a1 a2
        expect_eq "a1 started
a2 started" "$OUT" "each reported"
        expect_eq "running running stopped" "$(state_of a1) $(state_of a2) $(state_of a3)" "states"
        # one fails (already running), the others still start; the exit code is the failure's
        expect_rc 4 "start with one running" -- vs start a1 a3
        expect_eq "a3 started" "$OUT" "the other started"
        expect_eq "vsctl: start a1: VPS is already running" "$ERR" "the failure named"
        expect_rc 0 "status of all, by pattern" -- vs status 'a*'
        expect_eq "a1 exist running
a2 exist running
a3 exist running" "$OUT" "status lines"
        expect_rc 3 "status with a missing one" -- vs status a1 nosuch
        expect_eq "a1 exist running
nosuch deleted" "$OUT" "status of each"
        expect_rc 3 "a pattern matching none" -- vs stop 'zz*'
        expect_eq "vsctl: stop zz*: no VPS matches" "$ERR" "message"
        expect_eq "running running running" "$(state_of a1) $(state_of a2) $(state_of a3)" "nothing stopped"
        expect_rc 0 "restart two" -- vs restart a1 a2 --timeout 5s
        expect_eq "a1 restarted
a2 restarted" "$OUT" "restarts reported"
        expect_rc 0 "stop by pattern" -- vs stop 'a*'
        expect_eq "stopped stopped stopped" "$(state_of a1) $(state_of a2) $(state_of a3)" "all stopped"
        expect_rc 4 "stop of stopped ones" -- vs stop a1 a2
        expect_eq 2 "$(printf '%s\n' "$ERR" | grep -c 'is not running')" "each failure reported"
        expect_rc 2 "destroy takes no pattern" -- vs destroy 'a*'
        expect_eq "a1 a2 a3" "$(vs list -a -1 'a*' | xargs)" "nothing destroyed"
        expect_rc 0 "destroy three" -- vs destroy a1 a2 a3
        expect_eq "" "$(vs list -a -1 'a*')" "all destroyed"
}

test_set_hostname_stopped_and_live() {
        vs create hn1 --template busybox --hostname old.example
        vs set hn1 --hostname first.example
        grep -q '^hostname = first.example$' "$(vps_dir hn1)/config" || fail "config not changed"
        vs start hn1
        expect_eq "first.example" "$(vs exec hn1 -- hostname)" "a stopped VPS starts with it"
        vs set hn1 --hostname live.example.net
        expect_eq "live.example.net" "$(vs exec hn1 -- hostname)" "changed live in its UTS namespace"
        expect_eq "live.example.net" "$(vs exec hn1 -- cat /etc/hostname)" "/etc/hostname"
        expect_contains "$(vs exec hn1 -- cat /etc/hosts)" "live.example.net live" "/etc/hosts"
        expect_eq "live.example.net" "$(vs list -H -o hostname hn1)" "list shows it"
        [ "$(hostname)" != "live.example.net" ] || fail "the host's hostname changed"
        expect_rc 2 "bad hostname" -- vs set hn1 --hostname 'bad name'
        expect_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "one line"
        expect_eq "live.example.net" "$(vs exec hn1 -- hostname)" "unchanged by a bad one"
        vs destroy --force hn1
}

# vsd in the foreground, logging to a file of the test's root
LOG=""
start_vsd_logged() {
        LOG=$R/vsd-daytwo.log
        start_vsd_logging_to "$LOG"
}

# What a reboot changes for vsd: the boot id it recorded is not the host's.
fake_new_boot() { echo "00000000-0000-4000-8000-000000000000" >"$R/var/lib/paene/boot_id"; }

onboot_log() { grep -o 'onboot: \(started [a-z0-9]*\|[a-z0-9]* did not start\)' "$LOG" | awk '{print $2 == "started" ? $3 : $2}' | xargs; }

test_onboot_vps_start_after_a_boot_in_boot_order() {
        vs create b1 --template busybox --onboot yes --bootorder 10
        vs create b2 --template busybox --onboot yes --bootorder 30
        vs create b3 --template busybox --onboot yes
        vs create b4 --template busybox
        vs create b5 --template busybox --onboot no --bootorder 99
        vs create b6 --template busybox --onboot yes --bootorder 20
        grep -q '^onboot = yes$' "$(vps_dir b1)/config" || fail "onboot not in config"
        grep -q '^bootorder = 10$' "$(vps_dir b1)/config" || fail "bootorder not in config"
        expect_eq "b1 yes 10" "$(vs list -H -o name,onboot,bootorder b1 | tr -s ' ')" "list fields"
        vs set b4 --onboot yes
        vs set b4 --onboot no --bootorder 5
        expect_eq "b4 no 5" "$(vs list -H -o name,onboot,bootorder b4 | tr -s ' ')" "set --onboot"
        expect_rc 2 "bad --onboot" -- vs set b4 --onboot maybe
        expect_eq "vsctl: set: --onboot takes yes or no, not 'maybe'" "$ERR" "one line"
        expect_rc 2 "bad --bootorder" -- vs create b7 --template busybox --bootorder -1
        # b6 cannot start: its template is gone
        set_config b6 template nosuch
        printf 'onboot_parallel = 2\nonboot_interval = 1h\n' >"$R/etc/paene/vsd.conf"
        # a restart of vsd alone starts nothing
        stop_vsd
        start_vsd_logged
        expect_eq "" "$(vs list -1)" "nothing started after a vsd restart"
        expect_not_contains "$(cat "$LOG")" "onboot: a new boot" "no boot seen"
        # a boot: the first batch (two, the highest bootorder first), then
        # the next only after the interval
        stop_vsd
        fake_new_boot
        start_vsd_logged
        wait_for 20 'grep -q "onboot: next batch in 3600000ms" "$LOG"' || fail "no first batch: $(cat "$LOG")"
        expect_contains "$(cat "$LOG")" "onboot: a new boot: 4 VPS to start, 2 at a time" "queue"
        expect_eq "b2 b6" "$(onboot_log)" "first batch in boot order"
        expect_eq "b2" "$(vs list -1 | xargs)" "only the first batch runs"
        expect_contains "$(cat "$LOG")" "onboot: b6 did not start: template 'nosuch' is gone" "failure logged with its reason"
        expect_eq "$(cat /proc/sys/kernel/random/boot_id)" "$(cat "$R/var/lib/paene/boot_id")" "boot recorded"
        # the next boot with no pause: the rest in order, the running one left alone
        stop_vsd
        : >"$LOG"
        printf 'onboot_parallel = 2\nonboot_interval = 0\n' >"$R/etc/paene/vsd.conf"
        fake_new_boot
        start_vsd_logged
        wait_for 20 'grep -q "onboot: done" "$LOG"' || fail "autostart did not finish: $(cat "$LOG")"
        expect_eq "b6 b1 b3" "$(onboot_log)" "boot order, b2 adopted"
        expect_contains "$(cat "$LOG")" "adopted b2" "b2 was running"
        expect_eq "b1 b2 b3" "$(vs list -1 | xargs)" "running after the boot"
        # the host's shutdown path stops them all
        expect_rc 0 "stop --all" -- vs stop --all --timeout 5s
        expect_eq "" "$(vs list -1)" "all stopped"
        rm -f "$R/etc/paene/vsd.conf"
        for b in b1 b2 b3 b4 b5 b6; do vs destroy "$b"; done
}

# Debian's python3 (python3-prometheus-client, in DEBIAN_DEPS): the
# python3 first in PATH may be another one.
PROM_PY=/usr/bin/python3

# Parses Prometheus text on stdin with prometheus_client's parser, which
# fails on anything malformed; prints "family NAME TYPE HELP?" and
# "sample NAME LABELS VALUE" lines.
prom_parse() {
        "$PROM_PY" -c 'import prometheus_client' 2>/dev/null ||
                fail "python3-prometheus-client is missing (make deps installs it)" || return 1
        "$PROM_PY" -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
for f in text_string_to_metric_families(sys.stdin.read()):
    print("family", f.name, f.type, "help" if f.documentation else "nohelp")
    for s in f.samples:
        labels = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
        print("sample", s.name, labels or "-", repr(s.value))
'
}

sample() { # parsed NAME LABELS: the value
        awk -v n="$2" -v l="$3" '$1 == "sample" && $2 == n && $3 == l {print $4}' <<<"$1"
}

test_metrics_in_prometheus_format() {
        local text parsed cgmem start
        vs create me1 --template busybox --ram 64M
        vs create me2 --template busybox
        vs start me1
        vs exec me1 -- sh -c 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done'
        text=$(vs metrics)
        parsed=$(prom_parse <<<"$text")
        # every family has its HELP and TYPE
        expect_eq "" "$(awk '$1 == "family" && $4 != "help"' <<<"$parsed")" "families without HELP"
        for f in paene_vps_cpu_seconds_total paene_vps_cpu_throttled_seconds_total \
                paene_vps_memory_usage_bytes paene_vps_memory_limit_bytes paene_vps_swap_usage_bytes \
                paene_vps_oom_kills_total paene_vps_pids paene_vps_io_read_bytes_total \
                paene_vps_io_write_ops_total paene_vps_network_receive_bytes_total \
                paene_vps_network_transmit_packets_total paene_vps_disk_used_bytes \
                paene_vps_disk_limit_bytes paene_vps_state paene_vps_start_time_seconds paene_node_vps; do
                expect_contains "$text" "# TYPE $f " "TYPE of $f"
                expect_contains "$text" "# HELP $f " "HELP of $f"
        done
        expect_contains "$text" "# TYPE paene_vps_cpu_seconds_total counter" "a counter"
        expect_contains "$text" "# TYPE paene_vps_memory_usage_bytes gauge" "a gauge"
        # the values are the kernel's and vsd's
        [ "$(python3 -c "print(int($(sample "$parsed" paene_vps_cpu_seconds_total vps=me1) * 1e6))")" -gt 0 ] ||
                fail "cpu seconds of me1: $(sample "$parsed" paene_vps_cpu_seconds_total vps=me1)"
        expect_eq 67108864.0 "$(sample "$parsed" paene_vps_memory_limit_bytes vps=me1)" "memory limit"
        expect_eq inf "$(sample "$parsed" paene_vps_memory_limit_bytes vps=me2)" "no memory limit"
        [ "$(python3 -c "print(int($(sample "$parsed" paene_vps_memory_usage_bytes vps=me1)))")" -gt 0 ] ||
                fail "memory usage of me1"
        expect_eq "$(vs list -H -o nproc me1 | tr -d ' ').0" "$(sample "$parsed" paene_vps_pids vps=me1)" "pids"
        expect_eq 1.0 "$(sample "$parsed" paene_vps_state state=running,vps=me1)" "me1 running"
        expect_eq 0.0 "$(sample "$parsed" paene_vps_state state=stopped,vps=me1)" "me1 not stopped"
        expect_eq 1.0 "$(sample "$parsed" paene_vps_state state=stopped,vps=me2)" "me2 stopped"
        start=$(sample "$parsed" paene_vps_start_time_seconds vps=me1)
        [ "$(python3 -c "print(abs($(date +%s) - $start) < 600)")" = True ] || fail "start time $start"
        expect_eq "" "$(sample "$parsed" paene_vps_start_time_seconds vps=me2)" "no start time when stopped"
        expect_eq 1.0 "$(sample "$parsed" paene_node_vps state=running)" "node: running"
        expect_eq 1.0 "$(sample "$parsed" paene_node_vps state=stopped)" "node: stopped"
        vs destroy --force me1
        vs destroy me2
}

# GET /metrics where vsd.conf says metrics_listen: on a unix socket and on
# a TCP port of the test's network namespace.
http_get() { # unix:PATH|ADDR:PORT URLPATH: prints the response
        nsenter --net="$R/netns" "$PROM_PY" -c '
import socket, sys
where, path = sys.argv[1], sys.argv[2]
if where.startswith("unix:"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(where[5:])
else:
    host, port = where.rsplit(":", 1)
    s = socket.create_connection((host, int(port)))
s.settimeout(10)
s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
sys.stdout.write(out.decode())' "$1" "$2"
}

test_metrics_over_http() {
        local resp body
        vs create mh1 --template busybox
        vs start mh1
        for where in "unix:$R/metrics.sock" "127.0.0.1:9417"; do
                printf 'metrics_listen = %s\n' "$where" >"$R/etc/paene/vsd.conf"
                stop_vsd
                start_vsd
                resp=$(http_get "$where" /metrics)
                expect_contains "$(head -1 <<<"$resp")" "HTTP/1.0 200 OK" "$where: status"
                expect_contains "$resp" "Content-Type: text/plain; version=0.0.4" "$where: type"
                body=$(sed '1,/^\r$/d' <<<"$resp")
                expect_eq 1.0 "$(sample "$(prom_parse <<<"$body")" paene_vps_state state=running,vps=mh1)" \
                        "$where: parsed"
                expect_contains "$(http_get "$where" /other | head -1)" "404" "$where: other paths"
        done
        # a bad address: vsd does not start, and says why in one line
        printf 'metrics_listen = nowhere\n' >"$R/etc/paene/vsd.conf"
        stop_vsd
        expect_rc 1 "bad metrics_listen" -- start_vsd
        expect_contains "$ERR" "metrics_listen" "message names the key"
        rm -f "$R/etc/paene/vsd.conf"
        start_vsd
        vs destroy --force mh1
}

# A client of the metrics endpoint that sends its GET and never reads the
# answer (one larger than twice the socket's send buffer: 500 VPS) holds only the
# process that answers it, never vsd's loop: vsctl answers meanwhile, in
# less than the 5 s the answer's send may wait for a slow reader.
test_a_metrics_client_that_does_not_read_holds_up_nothing() {
        local i holder size wmem
        for i in $(seq 1 500); do
                vs create "mr$i" --template busybox >/dev/null
        done
        printf 'metrics_listen = unix:%s\n' "$R/metrics.sock" >"$R/etc/paene/vsd.conf"
        stop_vsd
        start_vsd
        size=$(vs metrics | wc -c)
        wmem=$(cat /proc/sys/net/core/wmem_default)
        [ "$size" -gt $((2 * wmem)) ] || fail "the answer ($size bytes) fits the socket's buffer ($wmem): no test"
        nsenter --net="$R/netns" "$PROM_PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(sys.argv[1])
s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
print("sent", flush=True)
time.sleep(30)' "$R/metrics.sock" >"$R/holder.out" &
        holder=$!
        # the test's own subshell: the slow client goes also when a check fails
        trap 'kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null' EXIT
        wait_for 10 'grep -q sent "$R/holder.out"' || fail "the slow client did not connect"
        expect_rc 0 "vsctl list while a metrics client reads nothing" -- \
                timeout 4 "$BIN/vsctl" --root "$R" list -a -H -o name
        expect_eq 500 "$(printf '%s\n' "$OUT" | lines_matching -c '^mr')" "every VPS listed"
        expect_contains "$(http_get "unix:$R/metrics.sock" /metrics | head -1)" "200 OK" \
                "a second scrape meanwhile"
        kill "$holder"
        wait "$holder" || true
        trap - EXIT
        rm -f "$R/etc/paene/vsd.conf"
        stop_vsd
        start_vsd
        for i in $(seq 1 500); do
                vs destroy "mr$i" >/dev/null
        done
}

# vsctl events as vsd sees them, in order: a stop, a start, a set, a
# destroy, a create and a start that fails (also logged with its reason).
test_events_stream_in_order() {
        local evpid txtpid rc=0 seq
        stop_vsd
        start_vsd_logged
        vs create ev1 --template busybox
        vs start ev1
        vs events --json >"$R/events.json" 2>"$R/events.err" &
        evpid=$!
        vs events >"$R/events.txt" 2>&1 &
        txtpid=$!
        # subscribed once a change shows up in both streams
        wait_for 10 'vs set ev1 --cpuunits 100 && grep -q limit-changed "$R/events.json" && grep -q limit-changed "$R/events.txt"' ||
                fail "no event arrived: $(cat "$R/events.err")"
        : >"$R/events.mark"
        vs stop ev1
        vs start ev1
        vs set ev1 --ram 64M
        vs destroy --force ev1
        vs create ev2 --template busybox
        set_config ev2 template nosuch
        expect_rc 3 "a start that fails" -- vs start ev2
        wait_for 10 'grep -q start-failed "$R/events.json"' || fail "no start-failed: $(cat "$R/events.json")"
        kill "$evpid" "$txtpid"
        wait "$evpid" || rc=$?
        expect_eq 143 "$rc" "vsctl events ran until killed"
        rc=0
        wait "$txtpid" || rc=$?
        expect_eq 143 "$rc" "text stream ran until killed"
        # after the last limit-changed of the subscription loop
        seq=$("$PROM_PY" -c '
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
last = max(i for i, e in enumerate(evs) if e["type"] == "limit-changed" and e["limits"] == {"cpuunits": "100"})
out = []
for e in evs[last + 1:]:
    extra = {"stopped": lambda e: e["exit"], "started": lambda e: str(e["pid"] > 1),
             "limit-changed": lambda e: json.dumps(e["limits"], sort_keys=True) + str(e["live"]),
             "created": lambda e: e["template"], "start-failed": lambda e: e["error"],
             "destroyed": lambda e: "-"}[e["type"]](e)
    assert isinstance(e["time"], float) and e["time"] > 1.7e9, e
    out.append("%s %s %s" % (e["type"], e["vps"], extra))
print("\n".join(out))' "$R/events.json")
        expect_eq "stopped ev1 SIGINT
started ev1 True
limit-changed ev1 {\"ram\": \"64M\"}True
stopped ev1 SIGKILL
destroyed ev1 -
created ev2 busybox
start-failed ev2 template 'nosuch' is gone" "$seq" "events in order"
        expect_contains "$(cat "$R/events.txt")" " stopped ev1 (powered off)" "text: a stop"
        expect_contains "$(cat "$R/events.txt")" " stopped ev1 (killed by SIGKILL)" "text: a kill"
        expect_contains "$(cat "$R/events.txt")" " start-failed ev2: template 'nosuch' is gone" "text: a failure"
        expect_contains "$(cat "$LOG")" "ev2 did not start: template 'nosuch' is gone" "failed start logged"
        vs destroy ev2
}

# vsd told to stop while clients wait on it (event subscribers, one of
# them gone without a word) ends them all and exits 0, pruning its cgroups:
# it crashed here once, walking its client list after freeing an entry.
test_vsd_exits_cleanly_while_clients_wait() {
        local vsdpid rc=0 i
        stop_vsd
        LOG=$R/vsd-exit.log
        nsenter --net="$R/netns" "$BIN/vsd" --root "$R" --cgroup-name "$CG" --foreground \
                2>>"$LOG" </dev/null >/dev/null &
        vsdpid=$!
        wait_for 10 'vs list >/dev/null 2>&1' || fail "vsd did not come up: $(cat "$LOG")"
        vs create ex1 --template busybox
        # (its slice cgroup, which vsd removes at exit once no VPS runs)
        vs start ex1
        vs stop ex1 --fast
        for i in 1 2 3; do
                vs events >"$R/events$i.txt" 2>&1 &
                eval "ev$i=\$!"
        done
        wait_for 10 'vs set ex1 --cpuunits 100 && grep -q limit-changed "$R/events1.txt" && grep -q limit-changed "$R/events2.txt" && grep -q limit-changed "$R/events3.txt"' ||
                fail "the subscribers got no event"
        kill "$ev2"
        wait "$ev2" || true
        kill "$vsdpid"
        wait "$vsdpid" || rc=$?
        expect_eq 0 "$rc" "vsd's exit status"
        rc=0
        wait "$ev1" || rc=$?
        expect_eq 6 "$rc" "a subscriber ends when vsd does"
        expect_contains "$(cat "$R/events1.txt")" "vsd exited: the event stream ends" "what it says"
        wait "$ev3" || true
        for i in $(cgroup_dirs); do
                [ ! -e "$i/default" ] || fail "vsd left its slice cgroup $i/default"
        done
        start_vsd
        vs destroy ex1
}

# craft_backup FILE MEMBERS...: a tar.zst written by hand, as an attacker or
# a newer paene would: each member NAME=TEXT (a file), NAME/ (a directory)
# or NAME@TARGET (a symlink).
craft_backup() {
        local out=$1
        shift
        python3 - "$out.tar" "$@" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT) as t:
    for m in sys.argv[2:]:
        if "@" in m:
            name, target = m.split("@", 1)
            i = tarfile.TarInfo(name); i.type = tarfile.SYMTYPE; i.linkname = target
            t.addfile(i)
        elif m.endswith("/"):
            i = tarfile.TarInfo(m.rstrip("/")); i.type = tarfile.DIRTYPE; i.mode = 0o755
            t.addfile(i)
        else:
            name, text = m.split("=", 1)
            data = text.replace("\\n", "\n").encode()
            i = tarfile.TarInfo(name); i.size = len(data); i.mode = 0o644
            t.addfile(i, io.BytesIO(data))
PY
        zstd -q --rm -f "$out.tar" -o "$out"
}

config_key() { sed -n "s/^$2 = //p" "$(vps_dir "$1")/config"; }

test_backup_and_restore() {
        local f=$R/bk1.tar.zst ip1 base2
        vs create bk1 --template busybox --hostname bk1.example
        vs start bk1
        vs exec bk1 -- sh -c 'echo kept >/root/data && mkdir -p /srv && echo x >/srv/y && chown 33:33 /srv/y && ln -s /etc/shadow /srv/abs'
        expect_rc 3 "backup of nothing" -- vs backup nosuch "$f"
        [ ! -e "$f" ] && [ ! -e "$f.partial" ] || fail "a file was left"
        vs stop bk1
        vs backup bk1 "$f"
        vs backup bk1 - >"$R/bk1-stdout.tar.zst"
        expect_eq "config paene-backup" "$(tar --zstd -tf "$f" | grep -v '^upper' | sort | xargs)" "members"
        expect_eq "$(tar --zstd -tf "$f" | sort)" "$(tar --zstd -tf "$R/bk1-stdout.tar.zst" | sort)" "to stdout"
        # beside the original: its own ids and address
        expect_rc 0 "restore as bk2" -- vs restore "$f" bk2
        expect_eq "bk2 restored" "$OUT" "report"
        ip1=$(config_key bk1 ip)
        [ -n "$ip1" ] && [ "$ip1" != "$(config_key bk2 ip)" ] || fail "bk2 has bk1's address: $ip1"
        base2=$(config_key bk2 id_base)
        [ "$base2" != "$(config_key bk1 id_base)" ] || fail "bk2 shares bk1's id range"
        expect_eq $((base2 + 33)) "$(stat -c %u "$(vps_dir bk2)/upper/srv/y")" "owner shifted into bk2's range"
        expect_eq bk1 "$(config_key bk2 restored_from)" "origin"
        # an absolute symlink is the VPS's own (as /etc/localtime is): a link
        # again, pointing where it pointed, never followed on the host
        [ -L "$(vps_dir bk2)/upper/srv/abs" ] || fail "the absolute symlink is not a link"
        expect_eq /etc/shadow "$(readlink "$(vps_dir bk2)/upper/srv/abs")" "its target"
        vs start bk2
        expect_eq kept "$(vs exec bk2 -- cat /root/data)" "files restored"
        expect_eq "33 bk1.example" "$(vs exec bk2 -- stat -c %u /srv/y) $(vs exec bk2 -- hostname)" "owner and hostname inside"
        expect_rc 4 "onto a name that exists" -- vs restore "$f" bk2
        expect_eq "vsctl: restore bk2: VPS bk2 already exists" "$ERR" "message"
        # on a node without it (here: after its destroy), as it was
        vs destroy bk1
        expect_rc 0 "restore with its addresses" -- vs restore --keep-ip "$f"
        expect_eq "bk1 restored" "$OUT" "named as in the backup"
        expect_eq "$ip1" "$(config_key bk1 ip)" "--keep-ip"
        expect_rc 4 "--keep-ip of addresses in use" -- vs restore --keep-ip "$f" bk3
        # bad backups: one line, exit 2, nothing made
        head -c $(($(stat -c %s "$f") / 2)) "$f" >"$R/trunc.tar.zst"
        expect_rc 2 "truncated" -- vs restore "$R/trunc.tar.zst" bk3
        expect_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "one line"
        expect_contains "$ERR" "not a readable backup" "message"
        craft_backup "$R/dotdot.tar.zst" "paene-backup=format = 1" "config=name = bk3" "upper/" "upper/../../evil=x"
        expect_rc 2 "a .. path" -- vs restore "$R/dotdot.tar.zst" bk3
        expect_contains "$ERR" "unsafe path 'upper/../../evil'" "message"
        craft_backup "$R/abs.tar.zst" "paene-backup=format = 1" "config=name = bk3" "/etc/evil=x"
        expect_rc 2 "an absolute path" -- vs restore "$R/abs.tar.zst" bk3
        craft_backup "$R/newer.tar.zst" "paene-backup=format = 2" "config=name = bk3" "upper/"
        expect_rc 2 "a newer format" -- vs restore "$R/newer.tar.zst" bk3
        expect_contains "$ERR" "format 2, from a newer paene" "message"
        craft_backup "$R/badformat.tar.zst" "paene-backup=format = 1junk" "config=name = bk3" "upper/"
        expect_rc 2 "a format that is not a number" -- vs restore "$R/badformat.tar.zst" bk3
        expect_contains "$ERR" "bad format '1junk'" "message"
        # damaged in the middle: zstd's checksum, or tar's headers, refuse it
        cp "$f" "$R/corrupt.tar.zst"
        printf 'garbage-garbage-garbage' | dd of="$R/corrupt.tar.zst" bs=1 seek=$(($(stat -c %s "$f") / 2)) conv=notrunc status=none
        expect_rc 2 "corrupt" -- vs restore "$R/corrupt.tar.zst" bk3
        expect_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "one line"
        # the config or manifest as a symlink to a host file: not read through
        craft_backup "$R/cfglink.tar.zst" "paene-backup=format = 1" "config@/etc/passwd" "upper/"
        expect_rc 2 "a config that is a symlink" -- vs restore "$R/cfglink.tar.zst" bk3
        expect_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "one line"
        mkdir "$R/victim"
        craft_backup "$R/link.tar.zst" "paene-backup=format = 1" "config=name = bk3" "upper/" \
                "upper/x@$R/victim" "upper/x/planted=x"
        expect_rc 2 "a write through a symlink" -- vs restore "$R/link.tar.zst" bk3
        expect_eq "" "$(ls -A "$R/victim")" "nothing written outside"
        expect_eq "bk1 bk2" "$(vs list -a -1 'bk*' | xargs)" "no VPS made"
        # what the destroys before left goes beside the test (bk1's above,
        # an earlier test's): only then is the directory what restores left
        doomed_entries_go || fail "the remover left $(doomed_entries | xargs)"
        expect_eq "" "$(ls -A "$R/var/lib/paene/vps" | grep -v '^bk[12]$' || true)" "nothing half-made"
        vs destroy --force bk2
        vs destroy bk1
}

# The cgroup.events of a VPS's cgroup on the v2 (or hybrid's unified) hierarchy.
v2_events() {
        local d
        for d in $(cgroup_dirs); do
                [ -e "$d/default/$1/cgroup.events" ] && echo "$d/default/$1/cgroup.events"
        done
        return 0
}

# held_backup NAME OUT: a backup of NAME into OUT in the background (its
# job in HELD_JOB, vsctl's errors in $R/NAME.backup.err), whose reader takes
# one byte and then holds it up (tar blocks on the full pipe) until
# $R/NAME.go exists; returns once that byte came, 1 if it did not in 60 s
held_backup() {
        rm -f "$R/$1.started" "$R/$1.go"
        vs backup "$1" - 2>"$R/$1.backup.err" | {
                dd bs=1 count=1 status=none
                touch "$R/$1.started"
                wait_for 60 "[ -e '$R/$1.go' ]"
                cat
        } >"$2" &
        HELD_JOB=$!
        wait_for 60 "[ -e '$R/$1.started' ]"
}

# counter_of VPS: the last step its writer logged (in its own layer)
counter_of() { tail -1 "$(vps_dir "$1")/upper/root/log" 2>/dev/null || echo 0; }

test_a_running_vps_runs_while_its_backup_is_written() {
        local ev rc=0 launched before n d ran=0 under_way=0 events
        vs create lb1 --template busybox
        vs start lb1
        # a few hundred MB of its own, and a writer that logs each step and
        # writes a file per step
        vs exec lb1 -- dd if=/dev/zero of=/root/big bs=1M count=300 2>/dev/null
        vs exec lb1 -- sh -c 'head -c 3000000 /dev/urandom >/root/noise'
        vs exec lb1 -- sh -c 'mkdir /root/steps; i=0; while :; do i=$((i+1)); echo $i >/root/steps/.t; mv /root/steps/.t /root/steps/$i; echo $i >>/root/log; done >/dev/null 2>&1 &'
        wait_for 10 '[ "$(counter_of lb1)" -gt 0 ]' || fail "the writer does not run"
        ev=$(v2_events lb1)
        [ -n "$ev" ] || fail "no cgroup v2 hierarchy for the freezer"
        # the backup is under way until go
        launched=$(counter_of lb1)
        held_backup lb1 "$R/lb1.tar.zst" || fail "the backup does not begin"
        before=$(counter_of lb1)
        wait_for 20 '[ "$(counter_of lb1)" -gt $((before + 10)) ]' && ran=1
        events=$(cat "$ev" | xargs)
        kill -0 "$HELD_JOB" 2>/dev/null && under_way=1
        expect_rc 4 "destroy during a backup" -- vs destroy --force lb1 || touch "$R/lb1.go"
        touch "$R/lb1.go"
        wait "$HELD_JOB" || rc=$?
        expect_eq 1 "$ran" "the VPS's writer made progress while the backup was written (at $before, $events)"
        expect_contains "$events" "frozen 0" "not frozen while tar writes (cgroup.events)"
        expect_eq 1 "$under_way" "the backup was under way (its reader held it)"
        expect_eq 0 "$rc" "the backup (vsctl and its reader)"
        d=$(vps_dir lb1)
        expect_eq "" "$(ls -A "$d" "$d/snapshots" 2>/dev/null | grep -e "^\.backup" -e creating || true)" "its temporary copy is gone"
        expect_eq "lb2 restored" "$(vs restore "$R/lb1.tar.zst" lb2)" "restore"
        # of one moment: the log whole up to its last step, whose file is whole
        n=$(tail -1 "$(vps_dir lb2)/upper/root/log")
        [ -n "$n" ] && [ "$n" -ge "$launched" ] && [ "$n" -le "$before" ] ||
                fail "the backup's log ends at '$n', not of a moment between its start ($launched) and tar's ($before)"
        expect_eq "$(seq 1 "$n" | xargs)" "$(xargs <"$(vps_dir lb2)/upper/root/log")" "the log is whole"
        expect_eq "$n" "$(cat "$(vps_dir lb2)/upper/root/steps/$n")" "the last step's file is whole"
        expect_eq $((300 << 20)) "$(stat -c %s "$(vps_dir lb2)/upper/root/big")" "the big file is whole"
        expect_eq "$(vs exec lb1 -- md5sum /root/noise | cut -d' ' -f1)" \
                "$(md5sum <"$(vps_dir lb2)/upper/root/noise" | cut -d' ' -f1)" "the noise is whole"
        vs destroy --force lb1
        vs destroy lb2
}

# A backup writes nothing into the VPS's directory, which holds only what
# README's "The VPS" lists: its manifest is in a directory of its own in
# vsd's run directory while tar runs, and goes when tar ends (stopped and
# running; the running VPS's copy of its layer is the one entry it adds,
# for as long as tar reads it). An earlier paene left NAME/paene-backup.
test_a_backup_leaves_only_the_documented_entries_in_the_vps_directory() {
        local d f listed during manifests documented=" config state upper work rootfs lower console.log console.log.1 console.sock disk.img disk snapshots "
        vs create bk5 --template busybox --ipadd none
        vs start bk5
        # more than the pipes hold, so that tar is still writing when the
        # reader below waits
        vs exec bk5 -- sh -c 'head -c 3000000 /dev/urandom >/root/noise'
        d=$(vps_dir bk5)
        # running first: a start soon after a stop can find the overlay of
        # the run before still held (EBUSY, upperdir in use), which is not
        # what this test is about
        for phase in running stopped; do
                if [ "$phase" = stopped ]; then vs stop bk5; fi
                listed=$(ls -A "$d" | LC_ALL=C sort | xargs)
                for e in $listed; do
                        case "$documented" in *" $e "*) ;; *) fail "$e in the $phase VPS's directory is not in README's list" ;; esac
                done
                held_backup bk5 /dev/null || { touch "$R/bk5.go"; fail "the $phase backup does not begin"; }
                # seen while tar runs, asserted once it is let go
                during=$(ls -A "$d" | LC_ALL=C sort | xargs)
                manifests=0
                for f in "$R"/run/paene/backup-manifest.*/paene-backup; do
                        if [ -f "$f" ]; then manifests=$((manifests + 1)); fi
                done
                touch "$R/bk5.go"
                wait "$HELD_JOB" || fail "the $phase backup failed: $(cat "$R/bk5.backup.err")"
                if [ "$phase" = running ]; then
                        expect_eq "$(echo .backup.creating $listed | xargs -n1 | LC_ALL=C sort | xargs)" \
                                "$during" "the running VPS's directory while tar runs"
                else
                        expect_eq "$listed" "$during" "the stopped VPS's directory while tar runs"
                fi
                expect_eq 1 "$manifests" "the $phase backup's manifest in a directory of its own in run/paene"
                wait_for 30 '[ "$(ls -A "$d" | LC_ALL=C sort | xargs)" = "$listed" ]' ||
                        fail "after the $phase backup: $(ls -A "$d" | xargs), not $listed"
                wait_for 30 '[ -z "$(ls "$R/run/paene" | grep "^backup-manifest\.")" ]' ||
                        fail "the $phase backup's manifest is left: $(ls "$R/run/paene" | xargs)"
        done
        vs destroy --force bk5
}

# A vsd killed while a live backup is written leaves the backup's copy of
# the layer (and, a snapshot command, its hidden entries; a migration, its
# listing): the next vsd hands them to its remover. The VPS, its files and its real snapshots stay.
test_what_a_vsd_killed_mid_backup_left_goes_with_the_next_vsd() {
        local d sum
        vs create lb3 --template busybox --ipadd none
        vs start lb3
        vs exec lb3 -- dd if=/dev/zero of=/root/big bs=1M count=50 2>/dev/null
        # more than every pipe and buffer between tar and the reader below
        # hold, compressed: tar cannot end (and its copy go) before it reads
        vs exec lb3 -- sh -c 'head -c 16000000 /dev/urandom >/root/noise'
        sum=$(vs exec lb3 -- md5sum /root/noise | cut -d' ' -f1)
        vs snapshot lb3 keep >/dev/null
        d=$(vps_dir lb3)
        # what a snapshot command killed half way leaves, by its names
        mkdir -p "$d/snapshots/.half.creating/upper" "$d/.snapshot-restore/upper"
        echo x >"$d/snapshots/.half.creating/upper/f"
        echo x >"$d/.snapshot-restore/upper/f"
        # and a migration's listing of the rounds it sent (in vsd's run
        # directory, by its name)
        echo x >"$R/run/paene/lb3.migrate.snar"
        # and the manifest an earlier paene wrote into the VPS's directory,
        # and a backup's manifest directory in run/paene (this backup's own
        # may be gone before the kill: tar can be done when the reader waits)
        echo "format = 1" >"$d/paene-backup"
        mkdir "$R/run/paene/backup-manifest.Crash1"
        echo "format = 1" >"$R/run/paene/backup-manifest.Crash1/paene-backup"
        held_backup lb3 /dev/null || fail "the backup does not begin"
        [ -d "$d/.backup.creating" ] || fail "no copy of the layer while the backup runs"
        kill -9 "$(vsd_pid)"
        touch "$R/lb3.go"
        wait "$HELD_JOB" || :
        start_vsd || fail "vsd did not start again"
        wait_for 30 '[ -z "$(ls -A "$d" "$d/snapshots" | grep -e "^\.backup" -e "^\.trash" -e "^\.snapshot-restore" -e "^\.half")" ]' ||
                fail "left after the restart: $(ls -A "$d" "$d/snapshots" | xargs)"
        [ ! -e "$R/run/paene/lb3.migrate.snar" ] || fail "the migration's listing is left"
        [ ! -e "$d/paene-backup" ] || fail "the earlier paene's manifest is left"
        wait_for 30 '[ -z "$(ls "$R/run/paene" | grep "^backup-manifest\.")" ]' ||
                fail "the backup's manifest is left: $(ls "$R/run/paene" | xargs)"
        expect_eq running "$(vs status lb3 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')" "the VPS runs on"
        expect_eq "$sum" "$(vs exec lb3 -- md5sum /root/noise | cut -d' ' -f1)" "its files"
        expect_contains "$(vs snapshot list lb3)" "keep" "its snapshot"
        [ -d "$d/snapshots/keep" ] || fail "the snapshot's files are gone"
        vs destroy --force lb3
}

run_tests
