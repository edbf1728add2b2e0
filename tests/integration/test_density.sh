#!/bin/bash
# What many VPS on one node need of the network (issue 13). The kernel's
# neighbour tables are shared by every network namespace and capped by the
# host-wide gc_thresh3 (1024 by default): with two resolved entries a routed
# VPS (its address on vsd's side, the gateway in the VPS), about a third of
# 1000 VPS could not be reached (contrib/bench/density.sh). In routed mode
# vsd makes both entries permanent, which the cap does not count and which
# need no ARP or neighbour discovery. The cap itself is the host's and is not
# touched here; what is tested is that the entries are permanent, at the
# right MACs, for the addresses given at create and live, and that traffic
# flows both ways. Nothing touches the host's network.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netlib.sh"

mac_of_host_side() {
        local out
        out=$(in_host ip -o link show "$1") || return 1
        awk '{for (i = 1; i <= NF; i++) if ($i == "link/ether") print $(i + 1)}' <<<"$out"
}
mac_of_eth0() { vs exec "$1" -- cat /sys/class/net/eth0/address; }

# neigh_state WHERE ADDR DEV: "LLADDR STATE" of ADDR's entry, WHERE being
# "host" (vsd's namespace) or a VPS's name
neigh_state() {
        local out
        if [ "$1" = host ]; then
                out=$(in_host ip neigh show "$2" dev "$3") || return 1
        else
                out=$(vs exec "$1" -- ip neigh show "$2" dev "$3") || return 1
        fi
        awk '{for (i = 1; i <= NF; i++) if ($i == "lladdr") print $(i + 1), $NF}' <<<"$out"
}

test_routed_neighbours_are_permanent() {
        local a b host_mac guest_mac
        use_conf $'network_mode = routed\npool4 = 10.87.0.0/24\npool6 = fd87::/64\n'
        vs create p1 --template busybox >/dev/null
        vs create p2 --template busybox >/dev/null
        vs start p1 >/dev/null
        vs start p2 >/dev/null
        a=$(addr_of p1)
        b=$(addr6_of p1)
        host_mac=$(mac_of_host_side vs-p1)
        guest_mac=$(mac_of_eth0 p1)
        expect_eq "$guest_mac PERMANENT" "$(neigh_state host "$a" vs-p1)" "p1's address on vsd's side"
        expect_eq "$guest_mac PERMANENT" "$(neigh_state host "$b" vs-p1)" "p1's IPv6 address on vsd's side"
        expect_eq "$host_mac PERMANENT" "$(neigh_state p1 10.87.0.1 eth0)" "the gateway in p1"
        expect_eq "$host_mac PERMANENT" "$(neigh_state p1 fe80::1 eth0)" "the IPv6 gateway in p1"
        # traffic both ways, and between two VPS
        in_host busybox ping -c 1 -W 3 "$a" >/dev/null || fail "vsd's namespace does not reach $a"
        expect_rc 0 "p2 pings p1" -- vs exec p2 -- ping -c 1 -W 3 "$a"
        expect_rc 0 "p2 pings p1 over IPv6" -- vs exec p2 -- ping -c 1 -W 3 "$b"
        serve p1 7010 hello-neigh
        expect_eq hello-neigh "$(fetch in_host busybox nc "$a" 7010)" "TCP from vsd's namespace to p1"
        # an address added live gets its entry too
        vs set p1 --ipadd 10.87.0.77 >/dev/null
        expect_eq "$guest_mac PERMANENT" "$(neigh_state host 10.87.0.77 vs-p1)" "a live --ipadd"
        expect_rc 0 "p2 pings the live address" -- vs exec p2 -- ping -c 1 -W 3 10.87.0.77
        vs destroy --force p1 >/dev/null
        vs destroy --force p2 >/dev/null
}

# Routed mode: the gateway is an address of vsd's namespace once, on its
# loopback, not one on every host side (the kernel kept one local route for it
# with an alias per host side, and every start walked them all). A VPS still
# reaches it and a server on it, and vsd's namespace sends from it.
test_routed_gateway_is_one_address_of_vsds_namespace() {
        local a
        use_conf $'network_mode = routed\npool4 = 10.88.0.0/24\n'
        vs create g1 --template busybox >/dev/null
        vs create g2 --template busybox >/dev/null
        vs start g1 >/dev/null
        vs start g2 >/dev/null
        a=$(addr_of g1)
        expect_eq "" "$(in_host ip -4 -o addr show dev vs-g1)" "IPv4 addresses on g1's host side"
        expect_eq "" "$(in_host ip -4 -o addr show dev vs-g2)" "IPv4 addresses on g2's host side"
        expect_eq lo "$(in_host ip -4 -o addr show to 10.88.0.1/32 | awk '{print $2}')" \
                "the devices that have the gateway"
        expect_rc 0 "g1 pings its gateway" -- vs exec g1 -- ping -c 1 -W 3 10.88.0.1
        in_host busybox nc -l -p 7011 -e echo hello-gw >/dev/null 2>&1 &
        expect_eq hello-gw "$(fetch vs exec g1 -- nc 10.88.0.1 7011)" "TCP from g1 to the gateway"
        expect_eq "src 10.88.0.1" "$(in_host ip -4 -o route get "$a" | grep -o 'src [0-9.]*')" \
                "the source vsd's namespace sends g1 from"
        expect_rc 0 "g2 pings g1" -- vs exec g2 -- ping -c 1 -W 3 "$a"
        vs destroy --force g1 >/dev/null
        vs destroy --force g2 >/dev/null
}

# The gateway on lo is vsd's alone: of link scope, so that the kernel never
# takes it as the source of the host's other traffic (a device without an
# address of its own sends from the uplink's, as before); put again at a
# start when it was taken off; gone from lo when the pool changes.
test_routed_gateway_on_lo_stays_vsds_own() {
        use_conf $'network_mode = routed\npool4 = 10.88.0.0/24\n'
        # the host's uplink with an address, and a device with none (a tunnel)
        in_host ip link add vstst0 type veth peer name vstst1
        in_host ip addr add 198.18.0.1/24 dev vstst0
        in_host ip link set vstst0 up
        in_host ip link set vstst1 up
        in_host ip route add 192.0.2.0/24 dev vstst1
        vs create g3 --template busybox >/dev/null
        vs start g3 >/dev/null
        # the source is some other address of the namespace's (an earlier
        # test's bridge may come before the uplink), never the gateway
        expect_not_contains "$(in_host ip -4 -o route get 192.0.2.1)" "src 10.88.0.1" \
                "the source of the host's own traffic out of a device without an address"
        in_host ip addr del 10.88.0.1/32 dev lo
        vs create g4 --template busybox >/dev/null
        vs start g4 >/dev/null
        expect_eq lo "$(in_host ip -4 -o addr show to 10.88.0.1/32 | awk '{print $2}')" \
                "the gateway, taken off lo, after a start"
        expect_rc 0 "g4 pings its gateway" -- vs exec g4 -- ping -c 1 -W 3 10.88.0.1
        vs destroy --force g3 >/dev/null
        vs destroy --force g4 >/dev/null
        use_conf $'network_mode = routed\npool4 = 10.89.0.0/24\n'
        vs create g5 --template busybox >/dev/null
        vs start g5 >/dev/null
        expect_eq "" "$(in_host ip -4 -o addr show to 10.88.0.1/32)" "the old pool's gateway on lo"
        expect_eq lo "$(in_host ip -4 -o addr show to 10.89.0.1/32 | awk '{print $2}')" \
                "the new pool's gateway"
        expect_rc 0 "g5 pings its gateway" -- vs exec g5 -- ping -c 1 -W 3 10.89.0.1
        vs destroy --force g5 >/dev/null
        in_host ip link del vstst0
}

# fnv_short N NAME: the first N characters of NAME, "-" and the 8 hex digits
# of its hash, as vsd shortens a name too long for an interface name
fnv_short() {
        python3 -c 'import sys
h = 2166136261
for c in sys.argv[2].encode():
    h = ((h ^ c) * 16777619) & 0xffffffff
print("%s-%08x" % (sys.argv[2][:int(sys.argv[1])], h))' "$1" "$2"
}

# A long name is shortened to its interface names (its first characters and
# a hash), which a shorter name can spell out: two VPS with one interface
# name would delete each other's veth at start. Such a name is refused at
# create and clone, naming the VPS whose interface it would take, and
# nothing is made; the VPS that has the name goes on.
test_a_name_that_spells_another_vps_interface_is_refused() {
        local long=customer-web-01 veth_twin ifb_twin
        veth_twin=$(fnv_short 3 "$long")
        ifb_twin=$(fnv_short 2 "$long")
        vs create "$long" --template busybox >/dev/null
        vs create i1 --template busybox >/dev/null
        expect_rc 4 "create $veth_twin" -- vs create "$veth_twin" --template busybox
        expect_contains "$ERR" "interface name vs-$veth_twin of VPS $long" "create $veth_twin's error"
        expect_rc 3 "$veth_twin was not made" -- vs status "$veth_twin"
        expect_rc 4 "create $ifb_twin" -- vs create "$ifb_twin" --template busybox
        expect_contains "$ERR" "interface name vsi-$ifb_twin of VPS $long" "create $ifb_twin's error"
        expect_rc 4 "clone i1 $veth_twin" -- vs clone i1 "$veth_twin"
        expect_rc 3 "the clone was not made" -- vs status "$veth_twin"
        expect_rc 0 "$long starts" -- vs start "$long"
        in_host ip link show "vs-$veth_twin" >/dev/null || fail "$long has no veth vs-$veth_twin"
        vs destroy --force "$long" >/dev/null
        vs destroy --force i1 >/dev/null
}

# bridge mode keeps resolving its neighbours (its entries would be on the
# shared bridge and outlive the VPS): nothing permanent is made there
test_bridge_mode_makes_no_permanent_neighbours() {
        local a
        vs create p3 --template busybox >/dev/null
        vs start p3 >/dev/null
        a=$(addr_of p3)
        in_host busybox ping -c 1 -W 3 "$a" >/dev/null || fail "vsd's namespace does not reach $a"
        expect_eq "" "$(in_host ip neigh show nud permanent)" "permanent entries in vsd's namespace"
        vs destroy --force p3 >/dev/null
}

# the entries in the VPS directory, once the remover has taken what earlier
# tests' destroys left (it works beside the test and would change the count);
# no count at all when it has not (a caller's comparison then fails)
vps_entries() {
        doomed_entries_go || return 1
        find "$R/var/lib/paene/vps" -mindepth 1 -maxdepth 1 | wc -l
}

# bridge mode: one bridge takes 1023 ports, so that many VPS with a network
# is the most a create makes; the next is refused at once (not made, to fail
# at its start), naming the bridge and routed mode, and nothing is left of
# it; a VPS without a network is still made
test_bridge_refuses_past_its_ports() {
        local i before
        for ((i = 1; i <= 1023; i++)); do
                vs create "b$i" --template busybox >/dev/null || fail "create b$i of 1023"
        done
        before=$(vps_entries)
        expect_rc 4 "the 1024th VPS with a network on one bridge" -- \
                vs create b1024 --template busybox
        expect_contains "$ERR" "bridge vsbr0 is full" "the refusal names the bridge"
        expect_contains "$ERR" "network_mode = routed" "the refusal says what to use"
        expect_eq 1 "$(wc -l <<<"$ERR")" "a one-line error"
        expect_eq "$before" "$(vps_entries)" "entries in the VPS directory after the refusal"
        expect_rc 3 "b1024 was not made" -- vs status b1024
        expect_rc 0 "a VPS without a network" -- vs create n1024 --template busybox --ipadd none
        vs destroy n1024 >/dev/null
        # a port freed is a port for the next
        vs destroy b1023 >/dev/null
        expect_rc 0 "a VPS with a network once one went" -- vs create b1024 --template busybox
}

# the address pool: the VPS past it is refused, naming the pool, nothing made
test_create_past_the_address_pool() {
        local i before
        use_conf $'pool4 = 10.86.0.0/29
'
        for i in 1 2 3 4 5; do
                vs create "a$i" --template busybox >/dev/null || fail "create a$i of the pool's 5"
        done
        before=$(vps_entries)
        expect_rc 4 "a sixth VPS in a /29" -- vs create a6 --template busybox
        expect_eq "create a6: address pool 10.86.0.0/29 is exhausted" "${ERR#vsctl: }" "the refusal"
        expect_eq "$before" "$(vps_entries)" "entries in the VPS directory after the refusal"
        expect_rc 3 "a6 was not made" -- vs status a6
}

# the id ranges (vsd.conf's id_ranges, small here): the VPS past them is
# refused, naming them, nothing made; a privileged VPS needs none, and a
# range freed is a range for the next
test_create_past_the_id_ranges() {
        local i before
        use_conf $'id_ranges = 3
'
        for i in 1 2 3; do
                vs create "r$i" --template busybox --ipadd none >/dev/null ||
                        fail "create r$i of the 3 ranges"
        done
        before=$(vps_entries)
        expect_rc 4 "a fourth VPS with 3 id ranges" -- vs create r4 --template busybox --ipadd none
        expect_contains "$ERR" "id ranges are exhausted" "the refusal names the id ranges"
        expect_contains "$ERR" "all 3 of" "the refusal says how many"
        expect_contains "$ERR" "id_ranges in vsd.conf" "the refusal names the setting"
        expect_eq 1 "$(wc -l <<<"$ERR")" "a one-line error"
        expect_eq "$before" "$(vps_entries)" "entries in the VPS directory after the refusal"
        expect_rc 3 "r4 was not made" -- vs status r4
        expect_rc 4 "a clone needs a range too" -- vs clone r1 r5
        expect_eq "$before" "$(vps_entries)" "entries after the refused clone"
        expect_rc 0 "a privileged VPS takes no range" -- \
                vs create p1 --template busybox --ipadd none --privileged
        vs destroy p1 >/dev/null
        vs destroy r2 >/dev/null
        expect_rc 0 "a VPS once a range was freed" -- vs create r4 --template busybox --ipadd none
        expect_eq "$(awk -F' = ' '$1 == "id_base" {print $2}' "$(vps_dir r4)/config")" \
                "$((1048576 + 65536))" "r4 took the freed second range"
}

# vsd keeps each VPS's id range in memory (a create reads no other VPS's
# config); a config edited by hand to another VPS's range is refused at its
# start, naming the holder, rather than sharing its ids
test_a_shared_id_range_by_hand_is_refused_at_start() {
        local base
        vs create h1 --template busybox --ipadd none >/dev/null
        vs create h2 --template busybox --ipadd none >/dev/null
        base=$(awk -F' = ' '$1 == "id_base" {print $2}' "$(vps_dir h1)/config")
        set_config h2 id_base "$base"
        expect_rc 4 "a start with h1's id range" -- vs start h2
        expect_contains "$ERR" "id range $base" "the refusal names the range"
        expect_contains "$ERR" "VPS h1" "and its holder"
        expect_eq 1 "$(wc -l <<<"$ERR")" "a one-line error"
        expect_eq stopped "$(state_of h2)" "h2 did not start"
        vs destroy h2 >/dev/null
        vs start h1 >/dev/null
        vs stop --fast h1 >/dev/null
        vs destroy h1 >/dev/null
}

test_a_bad_id_ranges_setting_is_refused() {
        use_conf $'id_ranges = 0
'
        expect_rc 1 "a create with id_ranges = 0" -- vs create z1 --template busybox --ipadd none
        expect_contains "$ERR" "id_ranges must be 1 to 60000, not '0'" "the refusal"
        expect_rc 3 "z1 was not made" -- vs status z1
}

run_tests
