#!/bin/bash
# The VPS network: veths, the bridge, routed mode, the address pool, /etc
# files, teardown and the sweep after a restart. Everything happens in one
# network namespace made for this file (pinned on a file below the test's
# root, so that a restarted vsd finds the veths of the VPS it adopts) and in
# the VPS's own namespaces; nothing touches the host's network.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netlib.sh"

# vsd in this file's pinned network namespace instead of a fresh one each
# time: a restart must find what the previous vsd left.

restart_vsd() {
        stop_vsd
        start_vsd || fail "vsd did not restart"
}

# paene's veths in vsd's namespace; fails when ip does
paene_veths() {
        local all
        all=$(links_of_type veth) || return 1
        lines_matching '^vs-' <<<"$all"
}

# counters VPS: its tx_packets and rx_bytes.
# (bytes from --json: the table shows 1024-based sizes)
counters() {
        vs list -j -o name,tx_packets,rx_bytes "$1" |
                python3 -c 'import json,sys; r = json.load(sys.stdin)[0]; print(r["tx_packets"], r["rx_bytes"])'
}

test_ipadd_none_gives_loopback_only() {
        vs create nn1 --template busybox --ipadd none
        grep -q '^ip = *$' "$(vps_dir nn1)/config" || fail "config ip not empty"
        vs start nn1
        expect_eq "lo" "$(vs exec nn1 -- ls /sys/class/net)" "interfaces"
        got=$(paene_veths | lines_matching -x "vs-nn1")
        expect_eq "" "$got" "no veth for it"
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
        # deleted by vsd's reaper after the stop's answer (test_netreap.sh)
        wait_for 20 "! in_host ip -o link show vs-n1 >/dev/null 2>&1" ||
                fail "veth vs-n1 left after the stop"
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
        for i in $(seq 1 200); do
                vs create "p$i" --template busybox >/dev/null
        done
        before=$(vs list -a -H -o name,ip | sort)
        expect_eq 200 "$(echo "$before" | awk '{print $2}' | sort -u | wc -l)" \
                "200 unique addresses"
        restart_vsd
        after=$(vs list -a -H -o name,ip | sort)
        expect_eq "$before" "$after" "addresses survive a restart"
        first=$(addr_of p1)
        vs destroy p1
        vs create fresh --template busybox
        fresh=$(addr_of fresh)
        expect_eq "$first" "$fresh" "a destroyed VPS's address goes back to the pool"
        vs destroy fresh
        for i in $(seq 2 200); do
                vs destroy "p$i"
        done
}

test_ipv6_bridge() {
        local a6 b6 out
        use_conf $'pool6 = fd77:1::/64\n'
        vs create a6 --template busybox
        vs create b6 --template busybox --ipadd 10.77.6.6 --ipadd fd77:1::66
        expect_contains "$(vs status --json a6)" "fd77:1::2/64" "the pool's first IPv6 address"
        grep -q '^ip = 10.77.6.6/16 fd77:1::66/64$' "$(vps_dir b6)/config" ||
                fail "config ip: $(grep '^ip' "$(vps_dir b6)/config")"
        expect_rc 2 "outside pool6 in bridge mode" -- vs create x6 --template busybox \
                --ipadd 2001:db8::7
        expect_contains "$ERR" "outside pool6" "message says why"
        expect_rc 2 "pool6 gateway" -- vs create x6 --template busybox --ipadd fd77:1::1
        expect_rc 2 "link-local" -- vs create x6 --template busybox --ipadd fe80::5
        expect_rc 2 "malformed" -- vs create x6 --template busybox --ipadd fd77::1::5
        expect_contains "$ERR" "fd77::1::5" "message names the address"
        expect_rc 4 "in use" -- vs create x6 --template busybox --ipadd fd77:1::66
        expect_rc 3 "nothing was created" -- vs status x6
        vs start a6
        vs start b6
        a6=$(addr6_of a6)
        b6=$(addr6_of b6)
        expect_contains "$(vs exec a6 -- ip -6 addr show dev eth0)" "$a6/64" "address on eth0"
        expect_contains "$(vs exec a6 -- ip -6 route show default)" "via fd77:1::1" \
                "IPv6 default route via the pool6 gateway"
        expect_rc 0 "a6 pings b6 over IPv6" -- vs exec a6 -- ping -6 -c 1 -W 3 "$b6"
        expect_rc 0 "vsd's namespace pings a6" -- in_host busybox ping -6 -c 1 -W 3 "$a6"
        serve b6 7006 hello-v6
        out=$(fetch vs exec a6 -- nc "$b6" 7006)
        expect_eq hello-v6 "$out" "TCP over IPv6 through the bridge"
        expect_contains "$(vs exec b6 -- cat /etc/hosts)" "fd77:1::66	b6" "IPv6 in /etc/hosts"
        vs destroy --force a6
        vs destroy --force b6
        use_conf ''
}

test_live_ipadd_ipdel() {
        local first out
        vs create l1 --template busybox --ipadd 10.77.5.1
        vs create l2 --template busybox --ipadd 10.77.5.2
        vs start l1
        vs start l2
        vs set l1 --ipadd 10.77.5.11
        expect_contains "$(vs exec l1 -- ip -4 addr show eth0)" "10.77.5.11/16" "added live"
        expect_rc 0 "l2 reaches the new address" -- vs exec l2 -- ping -c 1 -W 3 10.77.5.11
        expect_contains "$(vs exec l1 -- cat /etc/hosts)" "10.77.5.11	l1" "/etc/hosts updated"
        grep -q '^ip = 10.77.5.1/16 10.77.5.11/16$' "$(vps_dir l1)/config" || fail "not saved"
        # checked whole before anything changes
        expect_rc 4 "address of another VPS" -- vs set l1 --ipadd 10.77.5.2
        expect_rc 2 "an address l1 does not hold" -- vs set l1 --ipdel 10.77.5.99
        expect_contains "$ERR" "no such address" "message says why"
        expect_rc 2 "malformed" -- vs set l1 --ipdel 10.77.5
        expect_rc 2 "--no-save with addresses" -- vs set l1 --no-save --ipadd 10.77.5.12
        grep -q '^ip = 10.77.5.1/16 10.77.5.11/16$' "$(vps_dir l1)/config" || fail "changed"
        vs set l1 --ipdel 10.77.5.1
        got=$(vs exec l1 -- ip -4 addr show eth0 | lines_matching 10.77.5.1/)
        expect_eq "" "$got" "removed"
        expect_rc 1 "the removed address answers no more" -- vs exec l2 -- ping -c 1 -W 1 10.77.5.1
        expect_rc 0 "l1 keeps its default route" -- vs exec l1 -- ping -c 1 -W 3 10.77.0.1
        # the freed address can go to another VPS
        vs create l3 --template busybox --ipadd 10.77.5.1
        vs destroy l3
        # all addresses off: eth0 goes; one back: it comes back
        vs set l1 --ipdel all
        expect_eq "lo" "$(vs exec l1 -- ls /sys/class/net)" "no eth0 without addresses"
        got=$(paene_veths | lines_matching -x vs-l1)
        expect_eq "" "$got" "veth deleted"
        vs set l1 --ipadd 10.77.5.12
        expect_rc 0 "l2 reaches l1 again" -- vs exec l2 -- ping -c 1 -W 3 10.77.5.12
        # name servers and search domains, live
        vs set l1 --nameserver 192.0.2.53 --searchdomain example.net --searchdomain corp.example
        out=$(vs exec l1 -- cat /etc/resolv.conf)
        expect_contains "$out" "nameserver 192.0.2.53" "name server live"
        expect_contains "$out" "search example.net corp.example" "search domains live"
        expect_rc 2 "bad search domain" -- vs set l1 --searchdomain 'bad_domain!'
        expect_contains "$ERR" "--searchdomain" "message names the option"
        # a stopped VPS: saved, applied at start
        vs stop --fast l1
        vs set l1 --ipadd 10.77.5.13
        vs start l1
        expect_contains "$(vs exec l1 -- ip -4 addr show eth0)" "10.77.5.13/16" "applied at start"
        expect_contains "$(vs exec l1 -- cat /etc/resolv.conf)" "search example.net corp.example" \
                "search domains at start"
        vs destroy --force l1
        vs destroy --force l2
}

test_stats_and_top_show_traffic() {
        local json out
        vs create t1 --template busybox --ipadd 10.77.4.1
        vs create t2 --template busybox --ipadd 10.77.4.2
        vs start t1
        vs start t2
        vs exec t1 -- ping -c 3 -i 0.2 -s 1000 -W 3 10.77.4.2 >/dev/null
        json=$(vs stats --json t1)
        python3 -c 'import json,sys; s=json.loads(sys.argv[1]); assert s["tx_bytes"] >= 3000 and s["tx_packets"] >= 3 and s["rx_bytes"] >= 3000, s' "$json" ||
                fail "stats --json: $json"
        expect_contains "$(vs stats t1)" "net out" "stats shows traffic"
        out=$(vs top --once -d 100ms)
        expect_contains "$(echo "$out" | head -1)" "NET_OUT" "top has network columns"
        [ "$(echo "$out" | awk '$1 == "t1" {print $8}')" != "0B" ] || fail "top: $out"
        vs destroy --force t1
        vs destroy --force t2
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
        got=$(paene_veths | lines_matching ghost)
        expect_eq "" "$got" "leftover veth swept"
        expect_rc 0 "adopted VPS still reachable" -- in_host busybox ping -c 1 -W 3 "$a"
        vs stop --fast s1
        got=$(paene_veths)
        expect_eq "" "$got" "no veth after stop"
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
        got=$(in_host ip -o link show type bridge | lines_matching -v vsbr0)
        expect_eq "" "$got" "no new bridge"
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
        got=$(in_host ip route show 10.88.0.0/24 root 10.88.0.0/24)
        expect_eq "" "$got" "no host route left"
}

test_routed_mode_ipv6() {
        local a b out
        use_conf $'network_mode = routed\npool4 = 10.88.0.0/24\npool6 = fd88::/64\n'
        vs create s61 --template busybox
        vs create s62 --template busybox --ipadd 10.88.0.62 --ipadd 2001:db8:6::62
        vs start s61
        vs start s62
        a=$(addr6_of s61)
        b=$(addr6_of s62)
        expect_eq fd88::2 "$a" "first address of pool6"
        expect_contains "$(vs exec s61 -- ip -6 addr show eth0)" "$a/128" "a /128 in the VPS"
        expect_contains "$(vs exec s61 -- ip -6 route show default)" "via fe80::1" \
                "default route via the host side's link-local gateway"
        expect_contains "$(in_host ip -6 route show "$b")" "dev vs-s62" "host route to s62"
        expect_rc 0 "s61 pings s62 (outside the pool) over IPv6" -- \
                vs exec s61 -- ping -6 -c 1 -W 3 "$b"
        serve s62 7062 hello-routed-v6
        out=$(fetch in_host busybox nc "$b" 7062)
        expect_eq hello-routed-v6 "$out" "TCP from vsd's namespace over IPv6, routed"
        vs set s61 --ipadd fd88::61
        expect_rc 0 "an IPv6 address added live is routed" -- \
                vs exec s62 -- ping -6 -c 1 -W 3 fd88::61
        vs set s61 --ipdel fd88::61
        got=$(in_host ip -6 route show fd88::61)
        expect_eq "" "$got" "its host route goes with it"
        vs destroy --force s61
        vs destroy --force s62
        got=$(in_host ip -6 route show fd88::/64 root fd88::/64)
        expect_eq "" "$got" "no IPv6 route left"
}

# IPv6 costs a VPS's namespace a link-local address on eth0, its routes,
# duplicate address detection and router solicitations: a VPS without an
# IPv6 address gets none (addr_gen_mode 1: the kernel makes no link-local
# address), and one given an address (at create or live) has a link-local
# address too and reaches its gateway over IPv6.
addr_gen_mode_of() { vs exec "$1" -- cat /proc/sys/net/ipv6/conf/eth0/addr_gen_mode; }

test_ipv6_off_without_an_ipv6_address() {
        use_conf $'network_mode = routed\npool4 = 10.88.0.0/24\npool6 = fd88::/64\n'
        vs create o4 --template busybox --ipadd 10.88.0.40
        vs create o6 --template busybox --ipadd 10.88.0.46 --ipadd fd88::46
        vs start o4
        vs start o6
        expect_eq 1 "$(addr_gen_mode_of o4)" "no IPv6 address generation without an IPv6 address"
        got=$(vs exec o4 -- ip -6 addr show dev eth0)
        expect_eq "" "$got" "no IPv6 address (not even link-local) on eth0"
        expect_eq 0 "$(addr_gen_mode_of o6)" "address generation with an address given at create"
        expect_contains "$(vs exec o6 -- ip -6 addr show dev eth0 scope link)" "fe80::" \
                "a link-local address with an IPv6 address"
        expect_rc 0 "o6 pings its gateway over IPv6" -- vs exec o6 -- ping -6 -c 1 -W 3 fe80::1%eth0
        vs set o4 --ipadd fd88::40
        expect_contains "$(vs exec o4 -- ip -6 addr show dev eth0)" "fd88::40/128" "address on eth0"
        expect_contains "$(vs exec o4 -- ip -6 addr show dev eth0 scope link)" "fe80::" \
                "a link-local address with the first address added live"
        expect_eq 0 "$(addr_gen_mode_of o4)" "address generation back on"
        expect_rc 0 "o4 pings its gateway over IPv6" -- vs exec o4 -- ping -6 -c 1 -W 3 fe80::1%eth0
        expect_rc 0 "o4 pings o6 over IPv6" -- vs exec o4 -- ping -6 -c 1 -W 3 fd88::46
        vs set o4 --ipdel fd88::40
        got=$(vs exec o4 -- ip -6 addr show dev eth0 scope global)
        expect_eq "" "$got" "the address removed live"
        expect_rc 0 "IPv4 still works" -- vs exec o4 -- ping -c 1 -W 3 10.88.0.46
        # at the next start, as the config says
        vs stop --fast o4
        vs start o4
        expect_eq 1 "$(addr_gen_mode_of o4)" "no address generation after a restart of the VPS"
        got=$(vs exec o4 -- ip -6 addr show dev eth0)
        expect_eq "" "$got" "no IPv6 address after a restart of the VPS"
        vs destroy --force o4
        vs destroy --force o6
        use_conf ''
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
        # the reaper deletes them after the stops' answers
        wait_for 20 '[ -z "$(paene_veths)" ]' || :
        got=$(paene_veths)
        expect_eq "" "$got" "no veth of paene's in vsd's namespace"
}

run_tests
