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

run_tests
