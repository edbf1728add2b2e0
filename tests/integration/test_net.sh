#!/bin/bash
# The VPS network: veths, the bridge, routed mode, the address pool, /etc
# files, teardown and the sweep after a restart. Everything happens in one
# network namespace made for this file (pinned on a file below the test's
# root, so that a restarted vsd finds the veths of the VPS it adopts) and in
# the VPS's own namespaces; nothing touches the host's network.
source "$(dirname "$0")/lib.sh"

# vsd in this file's pinned network namespace instead of a fresh one each
# time: a restart must find what the previous vsd left.
# Runs a command in vsd's network namespace (the test plays the host there).
in_host() { nsenter --net="$R/netns" "$@"; }

restart_vsd() {
        stop_vsd
        start_vsd || fail "vsd did not restart"
}

# The VPS's first address, without its prefix.
addr_of() {
        vs status --json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ip"].split()[0].split("/")[0])'
}

paene_veths() { in_host ip -o link show type veth | awk -F': ' '{print $2}' | sed 's/@.*//' | grep '^vs-' || true; }

# counters VPS: its tx_packets and rx_bytes.
counters() { vs list -H -o name,tx_packets,rx_bytes | awk -v n="$1" '$1 == n {print $2, $3}'; }

# serve VPS PORT TEXT: a one-shot TCP server in the VPS answering TEXT.
serve() {
        vs exec "$1" -- nc -l -p "$2" -e echo "$3" >/dev/null 2>&1 &
}

# fetch CMD... : retries a client (the server may not listen yet), bounded.
fetch() {
        local i out
        for i in $(seq 1 50); do
                out=$("$@" </dev/null 2>/dev/null) && [ -n "$out" ] && {
                        echo "$out"
                        return 0
                }
                sleep 0.1
        done
        return 1
}

test_ipadd_none_gives_loopback_only() {
        vs create nn1 --template busybox --ipadd none
        grep -q '^ip = *$' "$(vps_dir nn1)/config" || fail "config ip not empty"
        vs start nn1
        expect_eq "lo" "$(vs exec nn1 -- ls /sys/class/net)" "interfaces"
        expect_eq "" "$(paene_veths | grep -x "vs-nn1" || true)" "no veth for it"
        expect_rc 2 "none with an address" -- vs create nn2 --template busybox --ipadd none \
                --ipadd 10.77.0.50
        expect_contains "$ERR" "--ipadd none" "message"
        [ ! -e "$(vps_dir nn2)" ] || fail "nn2 created"
        vs destroy --force nn1
}

test_bad_input_changes_nothing() {
        expect_rc 2 "malformed address" -- vs create x1 --template busybox --ipadd 10.77.0.300
        expect_contains "$ERR" "10.77.0.300" "message names the address"
        expect_rc 2 "bad prefix" -- vs create x1 --template busybox --ipadd 10.77.0.9/33
        expect_rc 2 "gateway" -- vs create x1 --template busybox --ipadd 10.77.0.1
        expect_contains "$ERR" "gateway" "message says why"
        expect_rc 2 "broadcast" -- vs create x1 --template busybox --ipadd 10.77.255.255
        expect_rc 2 "loopback" -- vs create x1 --template busybox --ipadd 127.0.0.5
        expect_rc 2 "outside the pool in bridge mode" -- vs create x1 --template busybox \
                --ipadd 192.0.2.7
        expect_contains "$ERR" "outside the pool" "message says why"
        expect_rc 2 "name server" -- vs create x1 --template busybox --nameserver dns.example
        expect_rc 3 "nothing was created" -- vs status x1
        vs create x2 --template busybox --ipadd 10.77.3.3
        expect_rc 4 "address in use" -- vs create x1 --template busybox --ipadd 10.77.3.3
        expect_contains "$ERR" "in use" "message says in use"
        expect_rc 4 "same address twice" -- vs create x1 --template busybox --ipadd 10.77.3.4 \
                --ipadd 10.77.3.4
        expect_rc 3 "still nothing" -- vs status x1
        vs destroy x2
}

test_bridge_ping_and_tcp() {
        local a2 out mac before after brmac
        vs create n1 --template busybox
        vs create n2 --template busybox --ipadd 10.77.9.9 --hostname n2.example
        vs start n1
        vs start n2
        a2=$(addr_of n2)
        expect_eq 10.77.9.9 "$a2" "given address"
        expect_rc 0 "n1 pings n2" -- vs exec n1 -- ping -c 1 -W 3 "$a2"
        before=$(counters n1)
        vs exec n1 -- ping -c 5 -i 0.2 -W 3 "$a2" >/dev/null
        after=$(counters n1)
        [ "$(echo "$after" | awk '{print $1}')" -ge "$(($(echo "$before" | awk '{print $1}') + 5))" ] ||
                fail "tx_packets: $before -> $after"
        [ "$(echo "$after" | awk '{print $2}')" -gt "$(echo "$before" | awk '{print $2}')" ] ||
                fail "rx_bytes: $before -> $after"
        serve n2 7000 hello-n2
        out=$(fetch vs exec n1 -- nc "$a2" 7000)
        expect_eq hello-n2 "$out" "TCP from n1 to n2 over the bridge"
        serve n2 7001 hello-host
        out=$(fetch in_host busybox nc "$a2" 7001)
        expect_eq hello-host "$out" "TCP from vsd's namespace to n2"
        mac=$(vs exec n1 -- cat /sys/class/net/eth0/address)
        expect_contains "$mac" "02:50:" "a locally administered MAC of paene's"
        out=$(in_host ip -o link show vs-n1)
        expect_contains "$out" "master vsbr0" "host side on the bridge"
        expect_contains "$(cat "$(vps_dir n1)/state")" "ifname = vs-n1" "ifname in the state"
        brmac=$(in_host ip -o link show vsbr0 | grep -o 'link/ether [^ ]*')
        vs stop --fast n1
        expect_eq "" "$(in_host ip -o link show vs-n1 2>/dev/null)" "veth deleted at stop"
        expect_eq "$brmac" "$(in_host ip -o link show vsbr0 | grep -o 'link/ether [^ ]*')" \
                "the bridge keeps its MAC when a port leaves"
        vs start n1
        expect_eq "$mac" "$(vs exec n1 -- cat /sys/class/net/eth0/address)" "same MAC again"
        expect_rc 0 "n1 pings n2 again after a restart" -- vs exec n1 -- ping -c 1 -W 3 "$a2"
        vs destroy --force n1
        vs destroy --force n2
}

test_etc_files_owned_by_vps_root() {
        local out base
        vs create f1 --template busybox --hostname f1.example.org --ipadd 10.77.7.7 \
                --nameserver 192.0.2.53
        vs start f1
        out=$(vs exec f1 -- cat /etc/hosts)
        expect_contains "$out" "10.77.7.7	f1.example.org f1" "/etc/hosts"
        expect_eq f1.example.org "$(vs exec f1 -- cat /etc/hostname)" "/etc/hostname"
        expect_contains "$(vs exec f1 -- cat /etc/resolv.conf)" "nameserver 192.0.2.53" \
                "/etc/resolv.conf"
        expect_eq "0 0" "$(vs exec f1 -- stat -c '%u %g' /etc/hosts)" "owned by the VPS's root"
        base=$(awk -F' = ' '$1 == "id_base" {print $2}' "$(vps_dir f1)/config")
        expect_eq "$base" "$(stat -c %u "$(vps_dir f1)/upper/etc/hosts")" "host id of that root"
        vs destroy --force f1
}

test_pool_unique_persistent_released() {
        local i before after first fresh
        for i in $(seq 1 50); do
                vs create "p$i" --template busybox >/dev/null
        done
        before=$(vs list -a -H -o name,ip | sort)
        expect_eq 50 "$(echo "$before" | awk '{print $2}' | sort -u | wc -l)" "50 unique addresses"
        restart_vsd
        after=$(vs list -a -H -o name,ip | sort)
        expect_eq "$before" "$after" "addresses survive a restart"
        first=$(addr_of p1)
        vs destroy p1
        vs create fresh --template busybox
        fresh=$(addr_of fresh)
        expect_eq "$first" "$fresh" "a destroyed VPS's address goes back to the pool"
        vs destroy fresh
        for i in $(seq 2 50); do
                vs destroy "p$i"
        done
}

test_restart_adopts_and_sweeps() {
        local a
        vs create s1 --template busybox
        vs start s1
        a=$(addr_of s1)
        kill -9 "$(vsd_pid)"
        wait_for 10 "is_dead $(vsd_pid)"
        rm -f "$R/run/paene/vsd.pid"
        # a veth that a crash mid-start could have left
        in_host ip link add vs-ghost type veth peer name vs-ghost-peer
        start_vsd
        expect_eq running "$(state_of s1)" "adopted"
        expect_eq "" "$(paene_veths | grep ghost || true)" "leftover veth swept"
        expect_rc 0 "adopted VPS still reachable" -- in_host busybox ping -c 1 -W 3 "$a"
        vs stop --fast s1
        expect_eq "" "$(paene_veths)" "no veth after stop"
        vs destroy s1
}

# Packets vsd's namespace dropped for a forged source address: by paene's
# nftables guard (which sees them first) or by the reverse-path filter.
rp_drops() {
        local rp guard
        rp=$(in_host cat /proc/net/netstat | awk '/^TcpExt:/ { if (!h) { split($0, n); h = 1 } else {
                split($0, v); for (i in n) if (n[i] == "IPReversePathFilter") print v[i] } }')
        guard=$(in_host nft list chain inet paene guard 2>/dev/null | grep -o 'packets [0-9]*' |
                awk '{s += $2} END {print s + 0}')
        echo $((rp + guard))
}

test_routed_mode() {
        local a1 a2 out before after
        stop_vsd
        mkdir -p "$R/etc/paene"
        printf 'network_mode = routed\npool4 = 10.88.0.0/24\n' >"$R/etc/paene/vsd.conf"
        start_vsd || fail "vsd did not start in routed mode"
        vs create r1 --template busybox
        vs create r2 --template busybox
        vs start r1
        vs start r2
        a1=$(addr_of r1)
        a2=$(addr_of r2)
        expect_eq 10.88.0.2 "$a1" "first address of the routed pool"
        # routed mode takes an address outside the pool: a /32 either way
        vs create r3 --template busybox --ipadd 192.0.2.7
        vs start r3
        expect_rc 0 "r1 pings r3 outside the pool" -- vs exec r1 -- ping -c 1 -W 3 192.0.2.7
        vs destroy --force r3
        expect_contains "$(vs exec r1 -- ip -4 addr show eth0)" "$a1/32" "a /32 in the VPS"
        expect_contains "$(in_host ip route show "$a2")" "dev vs-r2" "host route to r2"
        expect_eq "" "$(in_host ip -o link show type bridge | grep -v vsbr0 || true)" "no new bridge"
        expect_rc 0 "r1 pings r2" -- vs exec r1 -- ping -c 1 -W 3 "$a2"
        serve r2 7002 hello-routed
        out=$(fetch vs exec r1 -- nc "$a2" 7002)
        expect_eq hello-routed "$out" "TCP from r1 to r2, routed"
        serve r1 7003 hello-host-routed
        out=$(fetch in_host busybox nc "$a1" 7003)
        expect_eq hello-host-routed "$out" "TCP from vsd's namespace to r1, routed"
        # a VPS root that forges its source address reaches nobody: the
        # host side drops it (strict reverse-path filter)
        expect_rc 0 "r1 from its own address" -- vs exec r1 -- ping -c 1 -W 2 -I "$a1" "$a2"
        vs exec r1 -- ip addr add 10.88.0.99/32 dev eth0
        before=$(rp_drops)
        expect_rc 1 "forged source not answered" -- vs exec r1 -- ping -c 3 -W 1 -I 10.88.0.99 "$a2"
        after=$(rp_drops)
        [ "$((after - before))" -ge 3 ] || fail "forged packets not dropped by the host ($before -> $after)"
        vs destroy --force r1
        vs destroy --force r2
        expect_eq "" "$(in_host ip route show 10.88.0.0/24 root 10.88.0.0/24)" "no host route left"
}

test_zz_nothing_left_after_destroy() {
        local name
        vs create z1 --template busybox
        vs create z2 --template busybox
        vs start z1
        vs start z2
        for name in $(vs list -a -H -o name); do
                vs destroy --force "$name"
        done
        expect_eq "" "$(paene_veths)" "no veth of paene's in vsd's namespace"
}

run_tests
