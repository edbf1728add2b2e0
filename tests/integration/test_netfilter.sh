#!/bin/bash
# nftables for the VPS network: port forwards (live, removed, refused when
# taken), anti-spoofing in bridge and routed mode (a foreign address, a
# forged raw source, a changed MAC), masquerade to an uplink, the rebuild at
# vsd's start, and nothing left after the VPS are gone. vsd's namespace is
# pinned below the test's root; "the internet" is a second namespace made
# here, joined to vsd's by a veth pair. Nothing touches the host's network.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netlib.sh"

in_outside() { nsenter --net="$R/outside" "$@"; }

# The elements of the IPv4 forward map; fails when nft does.
fwd_elements() {
        local map
        map=$(in_host nft list map inet paene fwd4) || return 1
        sed -n '/elements/,/}/p' <<<"$map"
}

# receive VPS PORT STOP FILE: a UDP receiver in the VPS, printing "SRC TEXT"
# per datagram into FILE until TEXT is STOP; returns once it listens.
receive() {
        vs exec "$1" -- /payload udprecv "$2" "$3" 10 >"$4" 2>&1 &
        RECV_PID=$!
        wait_for 10 "grep -q ready '$4'" || fail "receiver in $1 did not start"
}

# A neighbour entry that never needs ARP: what VPS $1 sends to $2 leaves at
# once with whatever source MAC eth0 has (no queued packet waits for ARP).
pin_neighbour() {
        local mac
        mac=$(vs exec "$2" -- cat /sys/class/net/eth0/address)
        # with the host's ip (busybox's has no "neigh replace")
        nsenter --net="/proc/$(pid_of "$1")/ns/net" ip neigh replace "$(addr_of "$2")" \
                lladdr "$mac" dev eth0 nud permanent
}

# the packets a guard dropped, summed over its rules (routed mode's inet one)
guard_drops() {
        in_host nft list chain "$1" paene guard | grep -o 'packets [0-9]*' | awk '{s += $2} END {print s + 0}'
}

# The checks both modes share: a foreign address, a forged raw source and a
# changed MAC reach nobody, while the genuine traffic (the control) does.
spoof_checks() { # VPS1 VPS2
        local a1 a2 mac
        a1=$(addr_of "$1")
        a2=$(addr_of "$2")
        install_payload "$1"
        install_payload "$2"
        expect_rc 0 "control: $1 pings $2" -- vs exec "$1" -- ping -c 1 -W 3 "$a2"
        pin_neighbour "$1" "$2"

        # a forged source on a raw socket: the forged datagram goes first, the
        # genuine one after it on the same path, so it would arrive first
        receive "$2" 9000 genuine "$R/recv1"
        vs exec "$1" -- /payload spoof 10.99.0.99 "$a2" 9000 forged
        vs exec "$1" -- /payload spoof "$a1" "$a2" 9000 genuine
        wait "$RECV_PID" || fail "the genuine datagram did not arrive: $(cat "$R/recv1")"
        expect_contains "$(cat "$R/recv1")" "$a1 genuine" "genuine source heard"
        got=$(cat "$R/recv1")
        expect_not_contains "$got" "forged" "forged source heard"

        # a foreign address on eth0, which the VPS's root may add
        vs exec "$1" -- ip addr add 10.99.0.98/32 dev eth0
        expect_rc 1 "ping from a foreign address" -- vs exec "$1" -- ping -c 2 -W 1 -I 10.99.0.98 "$a2"
        expect_rc 0 "control: ping from its own address" -- vs exec "$1" -- ping -c 1 -W 3 -I "$a1" "$a2"
        vs exec "$1" -- ip addr del 10.99.0.98/32 dev eth0

        # a changed MAC
        mac=$(vs exec "$1" -- cat /sys/class/net/eth0/address)
        receive "$2" 9001 genuine-mac "$R/recv2"
        vs exec "$1" -- ip link set eth0 address 02:00:00:00:00:99
        vs exec "$1" -- /payload udpsend "$a2" 9001 forged-mac
        expect_rc 1 "host pinged from a changed MAC" -- vs exec "$1" -- ping -c 1 -W 1 "$(vs exec "$1" -- ip route show default | awk '{print $3}')"
        vs exec "$1" -- ip link set eth0 address "$mac"
        vs exec "$1" -- /payload udpsend "$a2" 9001 genuine-mac
        wait "$RECV_PID" || fail "the datagram from the genuine MAC did not arrive: $(cat "$R/recv2")"
        got=$(cat "$R/recv2")
        expect_not_contains "$got" "forged-mac" "changed MAC heard"
}

test_a_port_forward_live_and_removed() {
        local out
        vs create pf1 --template busybox --port-forward 8080:7000
        vs start pf1
        expect_contains "$(vs status pf1)" "port forwards: 8080:7000/tcp" "status shows it"
        expect_contains "$(cat "$(vps_dir pf1)/config")" "port_forward = 8080:7000/tcp" "in the config"
        serve pf1 7000 hello-fwd
        out=$(fetch in_host busybox nc 10.77.0.1 8080)
        expect_eq hello-fwd "$out" "host port 8080 reaches the VPS's port 7000"
        # live, on the running VPS
        vs set pf1 --port-forward 8081:7001 --port-forward 5353:53/udp
        serve pf1 7001 hello-live
        out=$(fetch in_host busybox nc 10.77.0.1 8081)
        expect_eq hello-live "$out" "a forward added live"
        expect_contains "$(fwd_elements)" "udp . 5353" "udp forward installed"
        vs set pf1 --port-forward-del 8081
        serve pf1 7001 not-forwarded
        # the server listens: only the missing forward can refuse this
        wait_for 10 "vs exec pf1 -- grep -q ':1B59 0*:0000 0A' /proc/net/tcp /proc/net/tcp6"
        expect_rc 1 "a removed forward" -- in_host busybox nc 10.77.0.1 8081 </dev/null
        got=$(fwd_elements)
        expect_not_contains "$got" "8081" "element removed"
        # the one-shot server, still listening, answers from inside
        expect_eq not-forwarded "$(vs exec pf1 -- nc 127.0.0.1 7001 </dev/null)" "server inside"
        vs stop --fast pf1
        # the elements go after the stop's answer, before vsd reads another
        # request: the status is answered after them
        vs status pf1 >/dev/null
        got=$(fwd_elements)
        expect_not_contains "$got" "8080" "no forward while stopped"
        vs start pf1
        serve pf1 7000 hello-again
        out=$(fetch in_host busybox nc 10.77.0.1 8080)
        expect_eq hello-again "$out" "installed again at start"
        vs set pf1 --port-forward-del all
        got=$(fwd_elements)
        expect_eq "" "$got" "all removed"
        grep -q '^port_forward' "$(vps_dir pf1)/config" && fail "port_forward left in the config"
        vs destroy --force pf1
}

test_b_port_forward_refused() {
        local before
        vs create c1 --template busybox --port-forward 9090:80
        vs create c2 --template busybox
        expect_rc 4 "a host port of another VPS" -- vs set c2 --port-forward 9090:22
        expect_contains "$ERR" "in use by VPS c1" "message names the holder"
        expect_eq 1 "$(echo "$ERR" | wc -l)" "one line"
        expect_rc 4 "create on a taken port" -- vs create c3 --template busybox --port-forward 9090:22
        expect_rc 3 "c3 not created" -- vs status c3
        vs set c2 --port-forward 9090:80/udp # the other protocol is free
        # vsd keeps each VPS's forwards: one set a moment ago is held too
        expect_rc 4 "a port c2 was just given" -- vs create c6 --template busybox \
                --port-forward 9090:53/udp
        expect_contains "$ERR" "in use by VPS c2" "the refusal names c2"
        expect_rc 3 "c6 not created" -- vs status c6
        before=$(cat "$(vps_dir c2)/config")
        expect_rc 2 "port out of range" -- vs set c2 --port-forward 99999:80
        expect_eq 1 "$(echo "$ERR" | wc -l)" "one line"
        expect_contains "$ERR" "99999:80" "message names the spec"
        expect_rc 2 "sctp" -- vs create c4 --template busybox --port-forward 80:80/sctp
        expect_eq 1 "$(echo "$ERR" | wc -l)" "one line"
        expect_contains "$ERR" "sctp" "message names the protocol"
        expect_rc 2 "garbage removal" -- vs set c2 --port-forward-del 80:80
        expect_rc 3 "removing what is not there" -- vs set c2 --port-forward-del 9091
        expect_rc 4 "the same host port twice" -- vs set c2 --port-forward 9090:81/udp
        expect_rc 2 "--no-save" -- vs set c2 --no-save --port-forward 9092:80
        expect_eq "$before" "$(cat "$(vps_dir c2)/config")" "nothing changed"
        expect_rc 3 "c4 not created" -- vs status c4
        expect_rc 2 "a forward without an address" -- vs create c5 --template busybox \
                --ipadd none --port-forward 9093:80
        vs destroy c1
        vs set c2 --port-forward 9090:22 # free again
        vs destroy c2
}

# A start whose network fails half way (its port forward's element taken
# by hand in vsd's table): the start fails with a one-line error naming the
# forward and what holds its port (exit 4: the node's state, not the
# request, is wrong), vsd answers on (it used to wait for its builder, which
# waited for it), the VPS is stopped with nothing of the start left (no
# link, no element, no cgroup, the hand-made element as it was), and it
# starts once the table is right.
test_b2_a_start_whose_network_fails_answers() {
        local rc=0 err
        vs create nf1 --template busybox --port-forward 9191:7000
        in_host nft add element inet paene fwd4 '{ tcp . 9191 : 10.89.22.250 . 1 }'
        timeout "$(scaled 30)" "$BIN/vsctl" --root "$R" start nf1 >/dev/null 2>"$R/nf1.err" || rc=$?
        err=$(cat "$R/nf1.err")
        [ "$rc" != 124 ] || fail "the start did not answer in 30 s"
        expect_eq 4 "$rc" "the start's exit beside a taken forward ($err)"
        expect_eq 1 "$(wc -l <"$R/nf1.err")" "one line: $err"
        expect_eq "vsctl: start nf1: network: port forward 9191:7000/tcp: host port 9191/tcp is held by an nftables element vsd did not add (inet paene fwd4, to 10.89.22.250:1)" \
                "$err" "the message names the forward and what holds its port"
        expect_eq stopped "$(timeout "$(scaled 10)" "$BIN/vsctl" --root "$R" status nf1 | awk 'NR == 1 {print $3}')" \
                "vsd answers, the VPS is stopped"
        expect_eq "" "$(in_host ip -o link show | grep -w "vs-nf1" || true)" \
                "no link of the failed start"
        expect_not_contains "$(in_host nft list ruleset)" "vs-nf1" "no element of the failed start"
        expect_contains "$(fwd_elements)" "tcp . 9191 : 10.89.22.250 . 1" "the hand-made element as it was"
        for d in $(cgroup_dirs); do
                [ ! -e "$d/default/nf1" ] || fail "cgroup $d/default/nf1 of the failed start"
        done
        in_host nft delete element inet paene fwd4 '{ tcp . 9191 }'
        vs start nf1
        expect_eq running "$(vs status nf1 | awk 'NR == 1 {print $3}')" "starts once the table is right"
        vs destroy --force nf1
}

test_c_spoofing_bridge() {
        vs create sb1 --template busybox
        vs create sb2 --template busybox
        vs start sb1
        vs start sb2
        spoof_checks sb1 sb2
        vs destroy --force sb1
        vs destroy --force sb2
}

test_d_restart_rebuilds() {
        local out
        vs create rb1 --template busybox --port-forward 8090:7010
        vs start rb1
        kill -9 "$(vsd_pid)"
        wait_for 10 "is_dead $(vsd_pid)"
        rm -f "$R/run/paene/vsd.pid"
        # what a crash half way could leave: an element of a VPS that is gone
        in_host nft add element bridge paene src4 '{ "vs-ghost" . 10.77.99.99 }'
        in_host nft add element inet paene fwd4 '{ tcp . 8099 : 10.77.99.99 . 80 }'
        start_vsd
        got=$(in_host nft list ruleset)
        expect_not_contains "$got" "ghost" "stale element swept"
        got=$(fwd_elements)
        expect_not_contains "$got" "8099" "stale forward swept"
        expect_contains "$(fwd_elements)" "tcp . 8090" "the adopted VPS keeps its forward"
        expect_contains "$(in_host nft list set bridge paene src4)" "\"vs-rb1\" . $(addr_of rb1)" \
                "and its guard"
        serve rb1 7010 hello-adopted
        out=$(fetch in_host busybox nc 10.77.0.1 8090)
        expect_eq hello-adopted "$out" "forward of an adopted VPS"
        vs destroy --force rb1
}

cleanup_outside() {
        in_host ip link del up0 2>/dev/null
        umount "$R/outside" 2>/dev/null
        rm -f "$R/outside"
}

test_e_masquerade_uplink() {
        local out
        trap cleanup_outside EXIT
        touch "$R/outside"
        unshare --net="$R/outside" true
        # born in the outside namespace, one end moved to vsd's
        in_outside ip link add out0 type veth peer name up0 netns "$(vsd_pid)"
        in_host ip addr add 192.0.2.1/24 dev up0
        in_host ip link set up0 up
        in_outside ip addr add 192.0.2.2/24 dev out0
        in_outside ip link set out0 up
        in_outside ip link set lo up
        use_conf "uplink = up0"
        expect_contains "$(in_host nft list chain inet paene postrouting)" \
                'oifname "up0" ip saddr 10.77.0.0/16 masquerade' "masquerade rule"
        vs create m1 --template busybox --port-forward 8095:7020
        vs start m1
        install_payload m1
        in_outside "$BIN/payload" udprecv 9200 hello-out 10 >"$R/recv-out" 2>&1 &
        RECV_PID=$!
        wait_for 10 "grep -q ready '$R/recv-out'"
        vs exec m1 -- /payload udpsend 192.0.2.2 9200 hello-out
        wait "$RECV_PID" || fail "nothing reached the outside: $(cat "$R/recv-out")"
        expect_contains "$(cat "$R/recv-out")" "192.0.2.1 hello-out" "the outside sees the uplink's address"
        # a forward, from the outside, by the uplink's address
        serve m1 7020 hello-from-outside
        out=$(fetch in_outside busybox nc 192.0.2.1 8095)
        expect_eq hello-from-outside "$out" "forward from the outside"
        vs destroy --force m1
        use_conf ""
        got=$(in_host nft list chain inet paene postrouting)
        expect_not_contains "$got" "up0" "no uplink, no masquerade"
}

test_f_spoofing_routed() {
        local before
        use_conf "network_mode = routed
pool4 = 10.88.0.0/24"
        got=$(in_host nft list tables | lines_matching bridge)
        expect_eq "" "$got" "no bridge table in routed mode"
        vs create sr1 --template busybox
        vs create sr2 --template busybox
        vs start sr1
        vs start sr2
        before=$(guard_drops inet)
        spoof_checks sr1 sr2
        # the guard dropped them, before the reverse-path filter could
        [ "$(guard_drops inet)" -gt "$before" ] || fail "the inet guard dropped nothing"
        expect_contains "$(in_host nft list set arp paene src4)" "\"vs-sr1\"" "ARP guard set"
        vs destroy --force sr1
        vs destroy --force sr2
        use_conf ""
}

test_g_spoofing_ipv6_and_live_addresses() {
        local b6
        use_conf "pool6 = fd77:9::/64"
        vs create s61 --template busybox
        vs create s62 --template busybox
        vs start s61
        vs start s62
        b6=$(addr6_of s62)
        expect_rc 0 "control: IPv6 from its own address" -- vs exec s61 -- ping -6 -c 1 -W 3 "$b6"
        # a foreign IPv6 address its root adds (without DAD, so that it is
        # usable at once) reaches nobody
        nsenter --net="/proc/$(pid_of s61)/ns/net" ip -6 addr add fd77:9::99/64 dev eth0 nodad
        expect_rc 1 "IPv6 from a foreign address" -- \
                vs exec s61 -- ping -6 -c 2 -W 1 -I fd77:9::99 "$b6"
        nsenter --net="/proc/$(pid_of s61)/ns/net" ip -6 addr del fd77:9::99/64 dev eth0
        # an address given live is let through at once, a removed one no more
        vs set s61 --ipadd fd77:9::77
        expect_rc 0 "IPv6 from an address added live" -- \
                vs exec s61 -- ping -6 -c 1 -W 3 -I fd77:9::77 "$b6"
        vs set s61 --ipadd 10.77.9.77
        expect_rc 0 "IPv4 from an address added live" -- \
                vs exec s61 -- ping -c 1 -W 3 -I 10.77.9.77 "$(addr_of s62)"
        vs set s61 --ipdel 10.77.9.77
        nsenter --net="/proc/$(pid_of s61)/ns/net" ip addr add 10.77.9.77/16 dev eth0
        expect_rc 1 "IPv4 from an address removed live" -- \
                vs exec s61 -- ping -c 2 -W 1 -I 10.77.9.77 "$(addr_of s62)"
        vs destroy --force s61
        vs destroy --force s62
        use_conf ""
}

test_z_nothing_left() {
        local name rules
        vs create z1 --template busybox --port-forward 8070:80
        vs create z2 --template busybox
        vs start z1
        vs start z2
        for name in $(vs list -a -H -o name); do
                vs destroy --force "$name"
        done
        # the removal of a stopped VPS's elements waits for an idle moment
        # or a request that is not a start, stop or destroy (later.c)
        vs list -a >/dev/null
        rules=$(in_host nft list ruleset)
        expect_not_contains "$rules" '"vs-z' "no element of a VPS"
        expect_not_contains "$rules" "elements" "no element at all"
        expect_contains "$rules" "table inet paene" "the tables stay, empty"
        got=$(nft list tables 2>/dev/null | lines_matching paene)
        expect_eq "" "$got" "nothing in the host's namespace"
}

run_tests
