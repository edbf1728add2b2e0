# shellcheck shell=bash
# What the network test files share (sourced after lib.sh): vsd runs in the
# network namespace pinned at $R/netns, where the test plays the host.

# Runs a command in vsd's network namespace.
in_host() { nsenter --net="$R/netns" "$@"; }

# The VPS's first IPv4 address, without its prefix.
addr_of() {
        vs status --json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ip"].split()[0].split("/")[0])'
}

# The VPS's first IPv6 address, without its prefix.
addr6_of() {
        vs status --json "$1" | python3 -c 'import json,sys; print([a for a in json.load(sys.stdin)["ip"].split() if ":" in a][0].split("/")[0])'
}

# The pid of the VPS's init.
pid_of() { vs status --json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])'; }

# serve VPS PORT TEXT: a one-shot TCP server in the VPS answering TEXT.
serve() {
        vs exec "$1" -- nc -l -p "$2" -e echo "$3" >/dev/null 2>&1 &
}

# fetch CMD...: retries a client (the server may not listen yet), bounded.
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

# use_conf TEXT: vsd.conf says TEXT from a restart of vsd on.
use_conf() {
        stop_vsd
        mkdir -p "$R/etc/paene"
        printf '%s\n' "$1" >"$R/etc/paene/vsd.conf"
        start_vsd || fail "vsd did not start with: $1"
}

# ---- bandwidth caps measured (the caller sets GATEWAY, the address a VPS
# sends to in vsd's namespace, WINDOW, the seconds the receiver counts, and
# PORT, the last port used) ----

# measure_out VPS: bit/s of one TCP stream from the VPS to vsd's namespace.
measure_out() {
        local out=$R/sink.$PORT line
        PORT=$((PORT + 1))
        in_host "$BIN/payload" sink "$PORT" "$WINDOW" >"$out" 2>&1 &
        wait_for 10 "grep -q ready '$out'" || fail "sink not ready: $(cat "$out")" || return 1
        vs exec "$1" -- /payload blast "$GATEWAY" "$PORT" 6 >/dev/null
        wait_for 10 "grep -q bits_per_s '$out'" || fail "sink gave no result: $(cat "$out")" || return 1
        line=$(grep bits_per_s "$out")
        echo "    out $1: $line" >&2
        rates_of "$line"
}

# rates_of SINK-LINE: "MEAN BEST", the stream's bit/s over the window and
# in its best second
rates_of() {
        awk '{print $2, $8}' <<<"$1"
}

# within "MEAN BEST" CAP: the cap holds over the window (the mean at most 15 %
# above it) and the shaper lets the rate through (the best second at least
# 85 % of it: a stall of the stream on a loaded machine, a retransmission
# timeout or the reader not scheduled, lowers the mean but not the shaper's
# rate)
within() {
        local mean best
        read -r mean best <<<"$1"
        [ -n "$best" ] || fail "no best second in \"$1\""
        [ "$mean" -le $(($2 * 115 / 100)) ] ||
                fail "measured $mean bit/s over the window, cap $2 bit/s: more than 15 % above"
        [ "$best" -ge $(($2 * 85 / 100)) ] ||
                fail "measured $best bit/s in the best second, cap $2 bit/s: more than 15 % below"
}

# tc_rate DEVICE: the rate of its root TBF as tc prints it, or ""; fails when tc does
tc_rate() {
        local qdiscs
        qdiscs=$(in_host tc qdisc show dev "$1" root) || return 1
        lines_matching -o 'tbf .* rate [^ ]*' <<<"$qdiscs" | awk '{print $NF}'
}
