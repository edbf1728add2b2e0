#!/bin/bash
# Bandwidth caps: --rate-out and --rate-in at create and set (live), what the
# kernel holds on the host side (TBF, ingress, u32 redirect, ifb), teardown,
# the sweep after a restart, and bad input. A rate limit is the behaviour
# here: the tests measure one TCP stream's throughput against the cap (the
# receiver counts bytes over ~2 s), both ways between a VPS and vsd's
# namespace, which plays the host. Nothing touches the host's own network.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netlib.sh"

GATEWAY=10.77.0.1 # the pool's gateway, on the bridge in vsd's namespace
WINDOW=2.5        # seconds the receiver counts, after half a second of slow start
PORT=5100

json_field() { # VPS FIELD
        vs status --json "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)[\"$2\"])"
}

# paene's ifbs in vsd's namespace; fails when ip does
paene_ifbs() {
        local all
        all=$(links_of_type ifb) || return 1
        lines_matching '^vsi-' <<<"$all"
}

# started VPS with the payload, running its sleep as init
start_with_payload() { # NAME [create options...]
        local name=$1
        shift
        vs create "$name" --template busybox "$@"
        install_payload "$name"
        set_config "$name" init "/payload sleep"
        vs start "$name"
}

# measure_in VPS: bit/s of one TCP stream from vsd's namespace into the VPS.
measure_in() {
        local out=$R/sink.$PORT line
        PORT=$((PORT + 1))
        vs exec "$1" -- /payload sink "$PORT" "$WINDOW" >"$out" 2>&1 &
        wait_for 10 "grep -q ready '$out'" || fail "sink not ready: $(cat "$out")" || return 1
        in_host "$BIN/payload" blast "$(addr_of "$1")" "$PORT" 6 >/dev/null
        wait_for 10 "grep -q bits_per_s '$out'" || fail "sink gave no result: $(cat "$out")" || return 1
        line=$(grep bits_per_s "$out")
        echo "    in $1: $line" >&2
        rates_of "$line"
}

test_rate_out_measured_and_changed_live() {
        local bps
        start_with_payload ro1 --rate-out 10M
        expect_eq 10000000 "$(json_field ro1 rate_out)" "status --json rate_out"
        expect_eq "ro1 exist running (rate-out 10M)" "$(vs status ro1)" "status"
        grep -q '^rate_out = 10000000$' "$(vps_dir ro1)/config" || fail "config: $(cat "$(vps_dir ro1)/config")"
        # the kernel: ingress on the veth redirecting to the ifb, TBF on the ifb
        expect_eq 10Mbit "$(tc_rate vsi-ro1)" "tbf on the ifb"
        expect_contains "$(in_host tc qdisc show dev vs-ro1 ingress)" "ingress ffff:" "ingress qdisc"
        expect_contains "$(in_host tc filter show dev vs-ro1 ingress)" \
                "Egress Redirect to device vsi-ro1" "u32 redirect to the ifb"
        bps=$(measure_out ro1)
        within "$bps" 10000000
        vs set ro1 --rate-out 20M
        expect_eq 20Mbit "$(tc_rate vsi-ro1)" "tbf changed in place"
        expect_eq 1 "$(in_host tc filter show dev vs-ro1 ingress | grep -c 'Egress Redirect')" \
                "the filter replaced, not added"
        bps=$(measure_out ro1)
        within "$bps" 20000000
        grep -q '^rate_out = 20000000$' "$(vps_dir ro1)/config" || fail "config not saved"
        # the VPS's root cannot see or lift it: it is not in its namespace
        expect_rc 0 "the VPS sees no ifb" -- vs exec ro1 -- sh -c '! ls /sys/class/net | grep -q vsi'
        vs set ro1 --rate-out none
        got=$(paene_ifbs)
        expect_eq "" "$got" "ifb deleted with the cap"
        got=$(in_host tc qdisc show dev vs-ro1 ingress)
        expect_eq "" "$got" "ingress qdisc deleted"
        got=$(json_field ro1 rate_out)
        expect_eq 0 "$got" "no cap in status"
        grep -q '^rate_out' "$(vps_dir ro1)/config" && fail "config still names a cap"
        vs destroy --force ro1
}

test_rate_in_measured_and_changed_live() {
        local bps
        start_with_payload ri1 --rate-in 10M
        expect_eq 10000000 "$(json_field ri1 rate_in)" "status --json rate_in"
        expect_eq 10Mbit "$(tc_rate vs-ri1)" "tbf on the host-side veth"
        got=$(paene_ifbs)
        expect_eq "" "$got" "no ifb for a cap in"
        bps=$(measure_in ri1)
        within "$bps" 10000000
        vs set ri1 --rate-in 20M
        bps=$(measure_in ri1)
        within "$bps" 20000000
        vs set ri1 --rate-in 0
        got=$(tc_rate vs-ri1)
        expect_eq "" "$got" "tbf deleted with the cap"
        vs destroy --force ri1
}

test_caps_set_on_a_running_vps_and_no_save() {
        start_with_payload rs1
        got=$(tc_rate vs-rs1)
        expect_eq "" "$got" "no cap at first"
        vs set rs1 --rate-out 5M --rate-in 8M --no-save
        expect_eq 5Mbit "$(tc_rate vsi-rs1)" "cap out live"
        expect_eq 8Mbit "$(tc_rate vs-rs1)" "cap in live"
        expect_eq "rs1 exist running (rate-out 5M, rate-in 8M)" "$(vs status rs1)" "status"
        grep -q '^rate_' "$(vps_dir rs1)/config" && fail "--no-save saved it"
        # a restarted vsd knows the caps in force (its state file) and keeps them
        stop_vsd
        start_vsd || fail "vsd did not restart"
        expect_eq 5000000 "$(json_field rs1 rate_out)" "cap out after vsd's restart"
        expect_eq 5Mbit "$(tc_rate vsi-rs1)" "ifb kept for a running VPS"
        vs stop --fast rs1
        got=$(paene_ifbs)
        expect_eq "" "$got" "ifb deleted at stop"
        got=$(json_field rs1 rate_out)
        expect_eq 0 "$got" "a --no-save cap is gone after a stop"
        vs start rs1
        got=$(tc_rate vs-rs1)
        expect_eq "" "$got" "and not applied at the next start"
        vs stop --fast rs1
        expect_rc 4 "--no-save on a stopped VPS" -- vs set rs1 --rate-out 1M --no-save
        vs set rs1 --rate-out 3M --rate-in 4M
        vs start rs1
        expect_eq 3Mbit "$(tc_rate vsi-rs1)" "saved cap out applied at start"
        expect_eq 4Mbit "$(tc_rate vs-rs1)" "saved cap in applied at start"
        vs destroy --force rs1
        got=$(paene_ifbs)
        expect_eq "" "$got" "no ifb after destroy"
}

test_bad_input_changes_nothing() {
        local before
        expect_rc 2 "unknown unit" -- vs create bx1 --template busybox --rate-out 10Q
        expect_eq "vsctl: create: --rate-out '10Q': unknown unit 'Q' (bit/s with K, M or G: 10M)" \
                "$ERR" "one-line message"
        expect_rc 2 "negative" -- vs create bx1 --template busybox --rate-in -5M
        expect_contains "$ERR" "--rate-in '-5M'" "message names the option and value"
        expect_rc 2 "too large" -- vs create bx1 --template busybox --rate-out 100G
        expect_rc 2 "no network" -- vs create bx1 --template busybox --ipadd none --rate-out 1M
        expect_rc 3 "nothing was created" -- vs status bx1
        vs create bx3 --template busybox --ipadd none
        expect_rc 2 "no network to cap" -- vs set bx3 --rate-in 1M
        expect_contains "$ERR" "no network" "message says why"
        vs destroy bx3
        start_with_payload bx2 --rate-out 10M
        before=$(cat "$(vps_dir bx2)/config")
        expect_rc 2 "bad set" -- vs set bx2 --rate-out 10Q
        expect_eq 1 "$(echo "$ERR" | wc -l)" "one line"
        expect_rc 2 "bad set, with a good limit" -- vs set bx2 --ram 64M --rate-in -1
        expect_eq "$before" "$(cat "$(vps_dir bx2)/config")" "config unchanged"
        expect_eq 10Mbit "$(tc_rate vsi-bx2)" "kernel unchanged"
        vs destroy --force bx2
}

# "SENT BACKLOG-BYTES BACKLOG-PACKETS" of the ifb's root TBF (tc -s)
tbf_counts() { # ifb
        local out
        out=$(in_host tc -s qdisc show dev "$1" root) || return 1
        awk '/^ Sent/ {s = $2} /^ backlog/ {b = $2; sub("b", "", b); p = $3; sub("p", "", p)}
                END {print s + 0, b + 0, p + 0}' <<<"$out"
}

# The TBF holds, on average, packets longer than 5M's bucket (6250 bytes):
# a GSO packet queued under 20M's bucket, which 5M's could never send.
holds_big_packets() { # ifb
        local sent bytes pkts
        read -r sent bytes pkts <<<"$(tbf_counts "$1")"
        [ "$pkts" -gt 0 ] && [ $((bytes / pkts)) -gt 6250 ]
}

# The TBF sent more than it had (SENT bytes), or a fresh one sent some.
sends_on() { # ifb sent-before
        local sent bytes pkts
        read -r sent bytes pkts <<<"$(tbf_counts "$1")"
        [ "$sent" -gt "$2" ] || { [ "$sent" -lt "$2" ] && [ "$sent" -gt 0 ]; }
}

# A cap lowered live while the TBF holds packets of the old bucket's size:
# the stream goes on at the new cap. (The kernel keeps a TBF's queue when it
# is changed in place, and a packet longer than the new bucket never left:
# the VPS sent nothing more until its cap was raised again.)
test_a_cap_lowered_under_a_full_queue_lets_the_stream_go_on() {
        local i sent blast sink ifb=vsi-lq1
        start_with_payload lq1 --rate-out 20M
        PORT=$((PORT + 1))
        # (exec'd: $! is the sink itself, which the test ends)
        (exec nsenter --net="$R/netns" "$BIN/payload" sink "$PORT" 120 0 >"$R/lq.sink" 2>&1) &
        sink=$!
        wait_for 10 "grep -q ready '$R/lq.sink'" || fail "sink not ready"
        vs exec lq1 -- /payload blast "$GATEWAY" "$PORT" 120 >/dev/null 2>&1 &
        blast=$!
        for ((i = 1; i <= 10; i++)); do
                vs set lq1 --rate-out 20M >/dev/null
                wait_for 20 "holds_big_packets $ifb" || fail "no packet above 6250 bytes queued at 20M ($i)"
                vs set lq1 --rate-out 5M >/dev/null
                read -r sent _ <<<"$(tbf_counts "$ifb")"
                wait_for 10 "sends_on $ifb $sent" ||
                        fail "the stream stalled after the cap went to 5M ($i): $(in_host tc -s qdisc show dev "$ifb" root)"
        done
        kill "$blast" "$sink" 2>/dev/null || :
        wait "$blast" "$sink" 2>/dev/null || : # ended by us
        vs destroy --force lq1
}

test_sweep_after_a_crash() {
        start_with_payload sw1 --rate-out 2M
        kill -9 "$(vsd_pid)"
        wait_for 10 "is_dead $(vsd_pid)"
        rm -f "$R/run/paene/vsd.pid"
        # what a crash half way through a start could have left
        in_host ip link add vsi-ghost type ifb
        # half of a cap out of a running VPS: its filter gone
        in_host tc qdisc del dev vs-sw1 ingress
        start_vsd
        expect_eq "vsi-sw1" "$(paene_ifbs)" "stray ifb swept, the running VPS's kept"
        expect_contains "$(in_host tc filter show dev vs-sw1 ingress)" "Egress Redirect to device vsi-sw1" \
                "the cap made whole again"
        vs destroy --force sw1
        got=$(paene_ifbs)
        expect_eq "" "$got" "no ifb left"
}

test_long_name() {
        local ifb
        start_with_payload averyveryverylongname --rate-out 4M
        ifb=$(paene_ifbs)
        expect_eq 15 "${#ifb}" "hashed ifb name"
        expect_eq 4Mbit "$(tc_rate "$ifb")" "cap on it"
        vs destroy --force averyveryverylongname
        got=$(paene_ifbs)
        expect_eq "" "$got" "deleted"
}

run_tests
