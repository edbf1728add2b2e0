#!/bin/bash
# A reservation (--cpu-reserve, --ram-reserve) is the node's: admission
# counts it against the node's capacity, and no slice cgroup holds it, as
# the slice's cpuunits, cpulimit, ram and numproc hold whatever a VPS of it
# asks. A slice owner may reserve only within the slice's own reservation:
# a slice whose file names none has none to give, else one owner takes
# the whole node's and no other VPS of the node starts (policy reserve).
. "$(dirname "$0")/lib.sh"

eval "lib_$(declare -f reset_after_test)"
USERS="vsres_a"
MARK="paene test_break_slicereserve"
. "$(dirname "$0")/ownerlib.sh"

reset_after_test() {
        local d
        destroy_all_vps || return 1
        for d in $(cgroup_dirs); do
                [ ! -d "$d/ra" ] || rmdir "$d/ra" || return 1
        done
        rm -f "$R"/var/lib/paene/slices/*
        lib_reset_after_test "$@"
}

# slice NAME OWNER [KEY=VALUE...]: the slice's file, as slice create writes it
slice() {
        local name=$1 owner=$2 kv
        shift 2
        {
                echo "owners = $(uid_of "$owner")"
                for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done
        } >"$R/var/lib/paene/slices/$name"
}

restart_with_conf() {
        printf '%s\n' "$@" >"$R/etc/paene/vsd.conf"
        stop_vsd
        start_vsd || fail "vsd did not start with: $*"
}

test_an_owner_reserves_nothing_a_slice_without_reservations_gives() {
        restart_with_conf "node_cpus = 2" "node_memory = 4G"
        slice ra vsres_a cpuunits=1000 ram=512M
        expect_rc 5 "an owner's --cpu-reserve in a slice without one" -- \
                as vsres_a create ra-hog --template busybox --cpu-reserve 200%
        expect_contains "$ERR" "permission denied" "message"
        expect_contains "$ERR" "cpu-reserve" "the message names it"
        expect_rc 5 "an owner's --ram-reserve in a slice without one" -- \
                as vsres_a create ra-hog --template busybox --ram 256M --ram-reserve 256M
        expect_contains "$ERR" "ram-reserve" "the message names it"
        expect_rc 3 "nothing made" -- vs status ra-hog
        # and the node's VPS still start
        vs create web1 --template busybox --cpu-reserve 50%
        vs start web1
        vs destroy --force web1
}

test_an_owner_reserves_within_the_slices_reservation() {
        restart_with_conf "node_cpus = 2" "node_memory = 4G"
        slice ra vsres_a cpuunits=1000 cpu_reserve=50%
        as vsres_a create ra-small --template busybox --cpu-reserve 50%
        expect_rc 5 "beyond the slice's" -- as vsres_a set ra-small --cpu-reserve 60%
        expect_contains "$ERR" "beyond slice ra's limit" "message"
        as vsres_a destroy ra-small
}

# A clone copies its source's config: an owner's clone of a VPS an admin
# gave a reservation beyond the slice's (or one the slice's file no longer
# gives) would make another such reservation that no request named.
test_an_owners_clone_copies_no_reservation_beyond_the_slices() {
        restart_with_conf "node_cpus = 2" "node_memory = 4G"
        slice ra vsres_a cpuunits=1000 ram=512M
        vs create ra-big --template busybox --slice ra --cpu-reserve 150%
        expect_rc 5 "an owner's clone of a VPS reserving beyond the slice" -- \
                as vsres_a clone ra-big ra-copy
        expect_contains "$ERR" "permission denied" "message"
        expect_contains "$ERR" "cpu-reserve" "the message names it"
        expect_eq 1 "$(printf '%s\n' "$ERR" | grep -c .)" "one line ($ERR)"
        expect_rc 3 "nothing made" -- vs status ra-copy
        # the admin's clone is the admin's
        vs clone ra-big ra-copy
        vs destroy --force ra-copy
        vs destroy --force ra-big
        # within the slice's own reservation the owner's clone is made
        slice ra vsres_a cpuunits=1000 ram=512M ram_reserve=128M
        vs create ra-small --template busybox --slice ra --ram 128M --ram-reserve 64M
        as vsres_a clone ra-small ra-small2
        as vsres_a destroy ra-small2
        as vsres_a destroy ra-small
}

run_tests
