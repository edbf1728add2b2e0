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
