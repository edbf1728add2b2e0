#!/bin/bash
# Slice owners: two ordinary host users (made here, removed at the end even
# when a test fails), each the owner of one slice, drive the VPS of their
# own slice with vsctl and see nothing else. Another slice's VPS answers
# exactly as a VPS that does not exist; what is the admins' (templates, the
# node, privilege, addresses, limits beyond the slice) is refused with exit
# 5 and changes nothing. Requests written by hand on the socket too.
. "$(dirname "$0")/lib.sh"

HERE=$(cd "$(dirname "$0")" && pwd)
eval "lib_$(declare -f reset_after_test)"
USERS="vsown_a vsown_b vsown_c"
MARK="paene test_owners"
. "$(dirname "$0")/ownerlib.sh"

# The slices' cgroup levels (vsd makes them for their VPS) go with the
# slices: after the harness's destroy, before its leak check.
reset_after_test() {
        local d s
        destroy_all_vps || return 1
        for d in $(cgroup_dirs); do
                for s in sa sb sc; do
                        [ ! -d "$d/$s" ] || rmdir "$d/$s" || return 1
                done
        done
        rm -f "$R"/var/lib/paene/slices/* "$R"/var/lib/paene/slices/.loans
        lib_reset_after_test "$@"
}

# as_req USER 'JSON': the hand-written request as that user; the whole
# reply in $REPLY (its line "connection closed" when there was none)
as_req() {
        REPLY=$(setpriv --reuid="$(uid_of "$1")" --regid="$(id -g "$1")" --clear-groups \
                /usr/bin/python3 "$HERE/vsreq.py" "$R/run/paene/vsd.sock" "$2") || REPLY="connection closed"
}

# slice NAME OWNER [KEY=VALUE...]: the slice's file, as vsctl slice create
# writes it
slice() {
        local name=$1 owner=$2 kv
        shift 2
        {
                echo "owners = $(uid_of "$owner")"
                for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done
        } >"$R/var/lib/paene/slices/$name"
}

# sa (vsown_a's): busybox only, 256M, half a CPU, 200 processes; sb
# (vsown_b's): any template. sb-db runs, made by vsown_b; bb2 is a
# template outside sa's list.
before_each() {
        slice sa vsown_a templates=busybox ram=256M cpulimit=50% numproc=200 rate_out=10M
        slice sb vsown_b
        [ -d "$(tmpl_dir bb2)" ] || vs template build busybox bb2 >/dev/null
        as vsown_b create sb-db --template busybox
        vs start sb-db
}

# What a refused request must leave as it was: VPS, templates, slices,
# every config and state file.
snapshot() {
        # a stop's state file waits for an idle moment or a request (later.c)
        vs list -a >/dev/null
        (
                cd "$R/var/lib/paene" || exit 1
                # NAME.usage: the tick's count of what a running VPS sent
                # (its first packets come when they come), not a request's
                ls -a vps templates slices | grep -v '[.]usage$'
                for f in vps/*/config vps/*/state slices/*; do
                        [ "${f%.usage}" = "$f" ] || continue
                        echo "== $f"
                        cat "$f"
                done
        ) | sha256sum
}

init_pid() { sed -n 's/^pid *= *//p' "$(vps_dir "$1")/state"; }

test_each_owner_drives_the_vps_of_their_own_slice() {
        local out
        as vsown_a create sa-web --template busybox --ram 128M
        grep -qx 'slice = sa' "$(vps_dir sa-web)/config" || fail "sa-web is not in slice sa"
        as vsown_a start sa-web
        expect_eq "sa-web exist running (slice sa)" "$(as vsown_a status sa-web)" "a's status"
        out=$(as vsown_a exec sa-web -- sh -c 'echo hi from $(hostname)')
        expect_eq "hi from sa-web" "$out" "a's exec"
        as vsown_a set sa-web --ram 200M --numproc 100
        grep -qx 'ram = 200M' "$(vps_dir sa-web)/config" || fail "set --ram not saved"
        out=$(as vsown_a stats sa-web)
        expect_contains "$out" "processes" "a's stats"
        as vsown_a restart sa-web
        as vsown_a logs sa-web >/dev/null
        out=$(as vsown_a list -a -H -o name)
        expect_eq "sa-web" "$out" "a's list: only sa-web"
        out=$(as vsown_b list -a -H -o name)
        expect_eq "sb-db" "$out" "b's list: only sb-db"
        out=$(vs list -a -H -o name | tr '\n' ' ')
        expect_eq "sa-web sb-db " "$out" "root's list: both"
        as vsown_a clone sa-web sa-web2
        grep -qx 'slice = sa' "$(vps_dir sa-web2)/config" || fail "the clone left slice sa"
        as vsown_a stop sa-web
        as vsown_a destroy sa-web sa-web2
        [ ! -e "$(vps_dir sa-web)" ] || fail "sa-web not destroyed"
        as vsown_b stop sb-db
        as vsown_b destroy sb-db
        [ ! -e "$(vps_dir sb-db)" ] || fail "sb-db not destroyed"
}

# vsctl CMD ... for a VPS of the other slice and for one that does not
# exist: the same exit code, the same output, names swapped.
same_as_missing() { # what args-with-@ ...
        local what=$1 rc_other=0 rc_none=0 out_other out_none
        shift
        out_other=$(as vsown_a "${@//@/sb-db}" 2>&1) || rc_other=$?
        out_none=$(as vsown_a "${@//@/sb-zz}" 2>&1) || rc_none=$?
        expect_eq "$rc_none" "$rc_other" "$what: exit code"
        expect_eq "${out_none//sb-zz/NAME}" "${out_other//sb-db/NAME}" "$what: output"
}

test_another_slices_vps_answers_as_one_that_does_not_exist() {
        local before pid
        before=$(snapshot)
        pid=$(init_pid sb-db)
        same_as_missing status status @
        same_as_missing start start @
        same_as_missing stop stop @
        same_as_missing stop-fast stop --fast @
        same_as_missing restart restart @
        same_as_missing exec exec @ -- true
        same_as_missing logs logs @
        same_as_missing stats stats @
        same_as_missing set set @ --ram 64M
        same_as_missing resize resize @ --diskspace 1G
        same_as_missing clone clone @ sa-copy
        same_as_missing backup backup @ -
        same_as_missing beancounters beancounters @
        same_as_missing console console @
        same_as_missing enter enter @
        same_as_missing destroy destroy @
        same_as_missing destroy-force destroy --force @
        same_as_missing pattern start 'sb-d*'
        same_as_missing list-name list @
        expect_rc 3 "a start of sb-db" -- as vsown_a start sb-db
        expect_contains "$ERR" "no such VPS" "message"
        expect_rc 3 "a status of sb-db" -- as vsown_a status sb-db
        expect_eq "sb-db deleted" "$OUT" "status"
        expect_eq "$pid" "$(init_pid sb-db)" "sb-db's init"
        kill -0 "$pid" || fail "sb-db's init is gone"
        [ ! -e "$(vps_dir sa-copy)" ] || fail "a clone of sb-db was made"
        expect_eq "$before" "$(snapshot)" "nothing changed"
}

# refused OP ARGS...: exit 5, a one-line "permission denied", nothing changed
refused() {
        local what=$1 before lines
        shift
        before=$(snapshot)
        expect_rc 5 "$what" -- as vsown_a "$@"
        expect_contains "$ERR" "permission denied" "$what: message"
        lines=$(printf '%s\n' "$ERR" | grep -c .)
        expect_eq 1 "$lines" "$what: one line ($ERR)"
        expect_eq "$before" "$(snapshot)" "$what: nothing changed"
}

test_what_is_the_admins_is_refused_to_an_owner() {
        as vsown_a create sa-web --template busybox
        refused "template list" template list
        refused "template build" template build busybox bb3
        refused "template remove" template remove bb2
        refused "template unify" template unify
        refused "node" node
        refused "restore" restore /etc/passwd
        refused "privileged" create sa-p --template busybox --privileged
        refused "template of another list" create sa-t --template bb2
        refused "name outside the slice" create web1 --template busybox
        refused "ram beyond the slice" create sa-big --template busybox --ram 1G
        refused "cpulimit beyond the slice" create sa-big --template busybox --cpulimit 80%
        refused "cpus beyond the slice" create sa-big --template busybox --cpus 1
        refused "rate beyond the slice" create sa-big --template busybox --rate-out 20M
        refused "addresses" create sa-ip --template busybox --ipadd 10.0.0.99
        refused "port forward" create sa-pf --template busybox --port-forward 8080:80
        refused "set ram beyond" set sa-web --ram 300M
        refused "set numproc beyond" set sa-web --numproc 500
        refused "set capability" set sa-web --capability sys_admin:on
        refused "set ipadd" set sa-web --ipadd 10.0.0.98
        refused "set rate off" set sa-web --rate-out 0
        [ "$(state_of sb-db)" = running ] || fail "sb-db stopped"
}

# Names S-NAME are slice S's alone, for admins too: an owner's create or
# clone of such a name could otherwise fail as "already exists" and tell
# them a VPS of another slice has it (an outside review found that probe).
# Slice names that overlap ("sa" and "sa-x") are refused for the same
# reason, as is a slice whose names a VPS elsewhere already has.
test_names_of_a_slice_are_its_alone() {
        vs create base1 --template busybox
        expect_rc 4 "admin: sa-hid in slice sb" -- vs create sa-hid --template busybox --slice sb
        expect_eq "vsctl: create sa-hid: VPS names sa-NAME are slice sa's (create it with --slice sa)" "$ERR" "one line"
        expect_rc 4 "admin: sa-hid in the default slice" -- vs create sa-hid --template busybox
        expect_rc 4 "admin: a clone named sa-c" -- vs clone base1 sa-c
        vs backup base1 "$R/base1.tar.zst"
        expect_rc 4 "admin: a restore named sa-r" -- vs restore "$R/base1.tar.zst" sa-r
        rm -f "$R/base1.tar.zst"
        [ ! -e "$(vps_dir sa-hid)" ] && [ ! -e "$(vps_dir sa-c)" ] && [ ! -e "$(vps_dir sa-r)" ] ||
                fail "a refused create left a VPS"
        expect_rc 0 "the owner's create of sa-hid" -- as vsown_a create sa-hid --template busybox
        vs create sa-adm --template busybox --slice sa
        # slices whose names overlap, or that a VPS elsewhere already names
        expect_rc 4 "slice sa-x beside sa" -- vs slice create sa-x --owner vsown_c
        expect_contains "$ERR" "slice names sa-x and sa overlap" "names both"
        vs create sc-old --template busybox
        expect_rc 4 "slice sc while sc-old is the default slice's" -- vs slice create sc --owner vsown_c
        expect_contains "$ERR" "VPS sc-old, of slice default, has a name of slice sc's" "names the VPS"
        [ ! -e "$R/var/lib/paene/slices/sa-x" ] && [ ! -e "$R/var/lib/paene/slices/sc" ] ||
                fail "a refused slice create left a file"
        for v in base1 sa-hid sa-adm sc-old; do vs destroy "$v"; done
}

test_a_user_who_owns_no_slice_is_refused_at_the_socket() {
        expect_rc 5 "vsown_c list" -- as vsown_c list -a
        expect_contains "$ERR" "permission denied" "message"
        # owning a slice is what admits: the same user once named in one
        slice sc vsown_c
        expect_rc 0 "vsown_c list once an owner" -- as vsown_c list -a -H -o name
        expect_eq "" "$OUT" "vsown_c sees no VPS"
}

# A reply with its user-visible parts, the VPS name replaced by NAME.
reply_as() { # user 'JSON' name
        as_req "$1" "$2"
        printf '%s' "${REPLY//$3/NAME}"
}

test_hand_written_requests_of_an_owner() {
        local before cmd other none
        before=$(snapshot)
        for cmd in start stop restart destroy status logs console beancounters backup; do
                other=$(reply_as vsown_a '{"version":1,"cmd":"'$cmd'","name":"sb-db"}' sb-db)
                none=$(reply_as vsown_a '{"version":1,"cmd":"'$cmd'","name":"sb-zz"}' sb-zz)
                expect_eq "$none" "$other" "$cmd: as missing"
        done
        other=$(reply_as vsown_a '{"version":1,"cmd":"exec","name":"sb-db","args":{"argv":["true"]}}' sb-db)
        none=$(reply_as vsown_a '{"version":1,"cmd":"exec","name":"sb-zz","args":{"argv":["true"]}}' sb-zz)
        expect_eq "$none" "$other" "exec: as missing"
        other=$(reply_as vsown_a '{"version":1,"cmd":"set","name":"sb-db","args":{"limits":{"ram":"64M"}}}' sb-db)
        none=$(reply_as vsown_a '{"version":1,"cmd":"set","name":"sb-zz","args":{"limits":{"ram":"64M"}}}' sb-zz)
        expect_eq "$none" "$other" "set: as missing"
        other=$(reply_as vsown_a '{"version":1,"cmd":"clone","name":"sb-db","args":{"new":"sa-c"}}' sb-db)
        none=$(reply_as vsown_a '{"version":1,"cmd":"clone","name":"sb-zz","args":{"new":"sa-c"}}' sb-zz)
        expect_eq "$none" "$other" "clone: as missing"
        expect_contains "$other" '"kind": "not-found"' "clone: kind"
        # a slice of someone else's is one that does not exist
        other=$(reply_as vsown_a '{"version":1,"cmd":"create","name":"sb-x","args":{"template":"busybox","slice":"sb"}}' sb)
        none=$(reply_as vsown_a '{"version":1,"cmd":"create","name":"sz-x","args":{"template":"busybox","slice":"sz"}}' sz)
        expect_eq "$none" "$other" "create in slice sb: as a missing slice"
        expect_contains "$other" "no such slice" "create in slice sb: message"
        as_req vsown_a '{"version":1,"cmd":"create","name":"sa-p","args":{"template":"busybox","privileged":true}}'
        expect_contains "$REPLY" '"kind": "permission"' "privileged true"
        as_req vsown_a '{"version":1,"cmd":"create","name":"sa-r","args":{"template":"busybox","limits":{"ram":"2G"}}}'
        expect_contains "$REPLY" '"kind": "permission"' "ram 2G"
        as_req vsown_a '{"version":1,"cmd":"create","name":"sa-r","args":{"template":"busybox","limits":{"cpus":"2"}}}'
        expect_contains "$REPLY" '"kind": "permission"' "cpus 2"
        as_req vsown_a '{"version":1,"cmd":"template-remove","name":"bb2"}'
        expect_contains "$REPLY" '"kind": "permission"' "template-remove"
        as_req vsown_a '{"version":1,"cmd":"restore","args":{"file":"/etc/shadow"}}'
        expect_contains "$REPLY" '"kind": "permission"' "restore"
        # a wrong name is still a malformed request, as for anybody
        as_req vsown_a '{"version":1,"cmd":"status","name":"SB_DB"}'
        expect_contains "$REPLY" '"kind": "usage"' "bad name"
        expect_eq "$before" "$(snapshot)" "nothing changed"
        [ "$(state_of sb-db)" = running ] || fail "sb-db stopped"
}

test_an_owners_events_and_metrics_show_only_their_vps() {
        local pid out rc=0
        as vsown_a create sa-web --template busybox
        as vsown_a events >"$R/events.a" 2>&1 &
        pid=$!
        # subscribed once an event of a's own arrives
        wait_for 10 "as vsown_a set sa-web --cpuunits 100 && grep -q limit-changed '$R/events.a'" ||
                fail "a's events: nothing arrived: $(cat "$R/events.a")"
        vs stop sb-db
        vs set sb-db --cpuunits 200
        as vsown_a start sa-web
        # in order: sb-db's events would be there before sa-web's start
        wait_for 10 "grep -q started '$R/events.a'" || fail "a saw no start of sa-web"
        kill "$pid"
        wait "$pid" || rc=$?
        expect_eq 143 "$rc" "vsctl events ran until killed"
        out=$(cat "$R/events.a")
        expect_contains "$out" "sa-web" "a's events"
        expect_not_contains "$out" "sb-db" "a's events"
        out=$(as vsown_a metrics)
        expect_contains "$out" 'vps="sa-web"' "a's metrics"
        expect_not_contains "$out" "sb-db" "a's metrics"
        expect_not_contains "$out" "paene_node_" "a's metrics: no node"
        out=$(vs metrics)
        expect_contains "$out" 'vps="sb-db"' "root's metrics"
        out=$(as vsown_a top --once 2>&1)
        expect_contains "$out" "sa-web" "a's top"
        expect_not_contains "$out" "sb-db" "a's top"
}

test_max_clients_per_uid_holds_for_an_owner() {
        local out=$R/hold.out pid n
        printf 'max_clients_per_uid = 3\nclient_timeout = 60s\n' >"$R/etc/paene/vsd.conf"
        stop_vsd
        start_vsd
        mkdir -p -m 1777 "$R/hold"
        setpriv --reuid="$(uid_of vsown_a)" --regid="$(id -g vsown_a)" --clear-groups \
                /usr/bin/python3 "$HERE/holdconn.py" "$R/run/paene/vsd.sock" 3 "$R/hold/ready" \
                "$R/hold/release" >"$out" 2>&1 &
        pid=$!
        wait_for 20 "[ -e '$R/hold/ready' ] || ! kill -0 $pid 2>/dev/null" || fail "no holder"
        [ -e "$R/hold/ready" ] || fail "holder failed: $(cat "$out")"
        expect_rc 4 "a 4th connection of vsown_a" -- as vsown_a list
        expect_contains "$ERR" "max_clients_per_uid" "message"
        expect_rc 0 "vsown_b beside" -- as vsown_b list
        touch "$R/hold/release"
        expect_job 0 "$pid" "holder"
        expect_rc 0 "vsown_a again, after the release" -- as vsown_b list -a
        n=$(printf '%s\n' "$OUT" | grep -c sb-db)
        expect_eq 1 "$n" "vsown_b sees sb-db"
        expect_rc 0 "vsown_a again, after the release" -- as vsown_a list -a
}

run_tests
