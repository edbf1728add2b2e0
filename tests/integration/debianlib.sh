# The shared Debian fixture. A test file sources lib.sh, then this, and calls
#
#   debian_template NAME || { skip "$DEBIAN_SKIP"; }
#
# which imports a bookworm minbase template with systemd-sysv, dbus, procps,
# iproute2 and cron as NAME (debian_sysv_template NAME: one whose init is
# sysvinit-core's). It is built with debootstrap once (on the host,
# which reaches the archive) and cached as a tarball under $BUILD/cache/, so
# that every later test and run imports it in seconds.
#
# Tests run vsd and its VPS in a network namespace of their own: the
# archive is reached through contrib/lab/archive_relay.py, which listens in
# that namespace and forwards to the archive from the host's. start_relay
# starts it (RELAY_PORT): vsd's builder then uses
# http_proxy=http://127.0.0.1:$RELAY_PORT, a VPS http://<its gateway>:$RELAY_PORT.
#
# Where the archive cannot be reached, DEBIAN_SKIP says why and the test
# prints "skip NAME: reason" (lib.sh's skip), never ok.

DEBIAN_SUITE=${DEBIAN_SUITE:-bookworm}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_PACKAGES=systemd-sysv,dbus,procps,iproute2,cron
DEBIAN_SYSV_PACKAGES=sysvinit-core,procps
DEBIAN_CACHE=$BIN/cache
DEBIAN_SKIP=""
RELAY_PORT=""

# Whether the archive answers from the host (10 s at most).
debian_archive_reachable() {
        local why
        why=$(python3 - "$DEBIAN_MIRROR/dists/$DEBIAN_SUITE/Release" <<'PY' 2>&1
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
        r.read(64)
except Exception as e:
    print(e)
    sys.exit(1)
PY
        ) && return 0
        DEBIAN_SKIP="the Debian archive ($DEBIAN_MIRROR) cannot be reached: ${why:-no answer}"
        return 1
}

# debian_tarball [FLAVOUR PACKAGES]: sets DEBIAN_TARBALL to the cached
# tarball of FLAVOUR (systemd-cron: the default fixture), built when missing
# (by one test file at a time: the lock makes another wait, then find it).
debian_tarball() {
        local flavour=${1:-systemd-cron} packages=${2:-$DEBIAN_PACKAGES}
        local tarball=$DEBIAN_CACHE/debian-$DEBIAN_SUITE-minbase-$flavour.tar.zst
        local work=$DEBIAN_CACHE/work.$$ rc=0
        DEBIAN_TARBALL=""
        mkdir -p "$DEBIAN_CACHE" || {
                DEBIAN_SKIP="no cache directory $DEBIAN_CACHE"
                return 1
        }
        (
                flock 9 || exit 1
                [ -s "$tarball" ] && exit 0
                debian_archive_reachable || {
                        echo "$DEBIAN_SKIP" >"$work.skip"
                        exit 1
                }
                echo "    debianlib: building the $DEBIAN_SUITE $flavour template cache (debootstrap)" >&2
                rm -rf "$work"
                # in a mount namespace of its own: debootstrap's /proc and
                # /sys mounts in the target end with it
                if ! unshare --mount --propagation private -- debootstrap --variant=minbase \
                        --include="$packages" "$DEBIAN_SUITE" "$work" "$DEBIAN_MIRROR" \
                        >"$DEBIAN_CACHE/debootstrap-$flavour.log" 2>&1; then
                        echo "debootstrap failed: $(tail -n 1 "$DEBIAN_CACHE/debootstrap-$flavour.log")" \
                                >"$work.skip"
                        rm -rf "$work"
                        exit 1
                fi
                # the archive's lists and packages: apt in a VPS fetches its own
                rm -rf "$work"/var/lib/apt/lists/* "$work"/var/cache/apt/archives/*.deb
                tar --numeric-owner --xattrs --xattrs-include='*' -C "$work" --zstd \
                        -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
                rc=$?
                rm -rf "$work"
                exit $rc
        ) 9>"$DEBIAN_CACHE/.lock" || rc=$?
        if [ "$rc" -ne 0 ]; then
                DEBIAN_SKIP=$(cat "$work.skip" 2>/dev/null)
                DEBIAN_SKIP=${DEBIAN_SKIP:-the template cache could not be written in $DEBIAN_CACHE}
                rm -f "$work.skip"
                return 1
        fi
        DEBIAN_TARBALL=$tarball
}

# debian_template NAME: the fixture, imported as template NAME (once per
# test file). Non-zero with DEBIAN_SKIP set when it cannot be had here.
debian_template() {
        vs template list -H 2>/dev/null | awk '{print $1}' | grep -qx "$1" && return 0
        debian_tarball || return 1
        vs template import "$1" "$DEBIAN_TARBALL" >/dev/null
}

# debian_sysv_template NAME: the same with sysvinit-core as its init.
debian_sysv_template() {
        vs template list -H 2>/dev/null | awk '{print $1}' | grep -qx "$1" && return 0
        debian_tarball sysvinit "$DEBIAN_SYSV_PACKAGES" || return 1
        vs template import "$1" "$DEBIAN_TARBALL" >/dev/null
}

# debian_ssh_tarball: the fixture with openssh-server too (an idle VPS as a
# customer's: contrib/bench/customer.sh), DEBIAN_TARBALL as debian_tarball's.
debian_ssh_tarball() { debian_tarball ssh "$DEBIAN_PACKAGES,openssh-server"; }

# start_relay: (once per test file, before run_tests: a test's subshell
# would lose RELAY_PORT) the archive relay, listening in vsd's network namespace on
# every address (vsd's 127.0.0.1, and the bridge's address that a VPS
# reaches as its gateway). Sets RELAY_PORT.
start_relay() {
        [ -n "$RELAY_PORT" ] && return 0
        rm -f "$R/relay.port"
        python3 "$TOP/contrib/lab/archive_relay.py" --netns "$R/netns" --bind 0.0.0.0 \
                --port-file "$R/relay.port" </dev/null >/dev/null 2>"$R/relay.log" &
        echo $! >"$R/relay.pid"
        SUITE_PIDS="$SUITE_PIDS $!" # it serves every test of the file
        wait_for 10 "[ -s '$R/relay.port' ] || ! kill -0 $! 2>/dev/null"
        RELAY_PORT=$(cat "$R/relay.port" 2>/dev/null)
        [ -n "$RELAY_PORT" ] || fail "archive relay did not start: $(cat "$R/relay.log")"
}

stop_relay() {
        local pid
        pid=$(cat "$R/relay.pid" 2>/dev/null) || return 0
        [ -n "$pid" ] && kill "$pid" 2>/dev/null
        rm -f "$R/relay.pid"
}

# The VPS's gateway (vsd's side of its network), where the relay listens.
vps_gateway() {
        vs exec "$1" -- ip -4 route show default | awk '{print $3; exit}'
}

# teardown also ends the relay
eval "$(declare -f teardown | sed '1s/^teardown/lib_teardown/')"
teardown() {
        [ -n "$R" ] && stop_relay
        lib_teardown
}
