#!/bin/bash
# paene demo: what `make demo` runs after building.
#
# Starts a private vsd (own state root under /tmp, own cgroup name, own
# network namespace), builds the busybox template, creates and starts two VPS,
# looks inside one, then takes everything down again and checks that the host
# is left as it was (DESIGN.md section 7). A trap does the same clean-up when
# any step fails or the demo is interrupted.
#
# Usage: [BUILD=build] contrib/demo.sh        (as root)
set -euo pipefail
export LC_ALL=C

prog=demo.sh
tag=demo
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_root "sudo make demo"
find_binaries
require_tools unshare timeout mktemp awk find

CALL_TIMEOUT=120           # seconds; bounds every vsctl call

# show ARGS...: print a command the way a user would type it
show() { printf '$ %s\n' "$*"; }

# vsctl ARGS...: print and run vsctl on the private root (VS_ROOT is exported)
vsctl() {
        show vsctl "$@"
        timeout --foreground "$CALL_TIMEOUT" "$VSCTL" "$@" </dev/null
}

# report_host: called by the EXIT trap, after check_host; a line for each
# thing checked, on stdout
report_host() {
        echo
        echo "== checking that the host is left as it was"
        if [ -n "$left_mounts" ]; then
                echo "LEFT: mounts under $ROOT:"; printf '%s\n' "$left_mounts" | sed 's/^/  /'
        else
                echo "mounts under ${ROOT:-the root}: none"
        fi
        if [ -n "$left_cgroups" ]; then
                echo "LEFT: cgroup dirs named $CG:"; printf '%s\n' "$left_cgroups" | sed 's/^/  /'
        else
                echo "cgroup dirs named $CG: none, on any hierarchy"
        fi
        if [ -n "$left_vsd" ]; then
                echo "LEFT: vsd pid $VSD_PID still running"
        elif [ -n "$VSD_PID" ]; then
                echo "vsd pid $VSD_PID: gone"
        fi
        if [ -n "$left_root" ]; then
                echo "LEFT: $ROOT still exists"
        elif [ -n "$ROOT" ]; then
                echo "$ROOT: removed"
        fi
        if host_clean; then
                echo "host clean: nothing left behind."
        else
                echo "host NOT clean: see LEFT lines above." >&2
                return 1
        fi
}
install_traps

# ---- the demo ---------------------------------------------------------------

phase="making the private root"
make_root
echo "# a private state root, cgroup name and network namespace: the host is not touched"
show export VS_ROOT="$ROOT"

phase="starting vsd"
show unshare -n vsd --root "$ROOT" --cgroup-name "$CG"
start_vsd
echo "# vsd is running as pid $VSD_PID"

phase="building the template"
vsctl template build busybox
vsctl template list

phase="creating and starting the VPS"
vsctl create web1 --template busybox --hostname web1.example
vsctl create web2 --template busybox --hostname web2.example
vsctl start web1
vsctl start web2
vsctl list

phase="looking inside web1"
vsctl exec web1 -- hostname
vsctl exec web1 -- ps

phase="stopping and destroying the VPS"
vsctl stop web1
vsctl stop web2
vsctl list -a
vsctl destroy web1
vsctl destroy web2
vsctl list -a

phase="stopping vsd"
show kill "$VSD_PID"
stop_vsd || { echo "$prog: vsd $VSD_PID did not exit" >&2; exit 1; }

phase="removing the private root"
show rm -rf "$ROOT"
phase="done"
# the EXIT trap removes $ROOT (after checking nothing is mounted there) and
# verifies the host is clean
