#!/bin/bash
# apt in a default Debian VPS: the shared fixture (debianlib.sh), and
# apt-get in a default VPS through the archive relay, where dpkg's renames
# of template files and directories must work.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/debianlib.sh"

# A default VPS on the fixture, its init a sleeper (systemd as a default
# VPS's init is another test's), apt pointed at the relay through its gateway.
make_apt_vps() { # name [create options]
        local name=$1 gw
        shift
        vs create "$name" --template deb "$@" >/dev/null
        set_config "$name" init "/bin/sleep infinity"
        vs start "$name" >/dev/null
        gw=$(vps_gateway "$name")
        [ -n "$gw" ] || fail "no default route in $name"
        vs exec "$name" -- sh -c "echo 'Acquire::http::Proxy \"http://$gw:$RELAY_PORT/\";' \
                > /etc/apt/apt.conf.d/99relay"
        # packages are installed, not started (no init to start them here)
        vs exec "$name" -- sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d &&
                chmod 755 /usr/sbin/policy-rc.d'
}

test_fixture_is_bookworm_with_systemd() {
        debian_template deb || skip "$DEBIAN_SKIP"
        local root
        root=$(tmpl_dir deb)/rootfs
        expect_contains "$(cat "$root/etc/os-release")" 'VERSION_CODENAME=bookworm' "os-release"
        expect_eq /lib/systemd/systemd "$(readlink "$root/sbin/init")" "/sbin/init is systemd"
        for pkg in systemd-sysv dbus procps iproute2; do
                grep -q "^Package: $pkg\$" "$root/var/lib/dpkg/status" || fail "$pkg not installed"
        done
        [ -x "$root/usr/bin/apt-get" ] || fail "no apt-get"
}

# The issue's failure: dpkg could not rename a directory of the template
# (EXDEV), so installing nginx ended half-way. Here nginx, hello and a
# reinstall of a template package go through, in a plain and an
# image-backed VPS.
test_apt_install_in_a_default_vps() {
        debian_template deb || skip "$DEBIAN_SKIP"
        local v
        make_apt_vps apt1
        make_apt_vps apt2 --diskspace 2G
        for v in apt1 apt2; do
                # the rename(2) dpkg makes of a directory of the template's
                # when it moves a package's directory aside (EXDEV before)
                vs exec "$v" -- perl -e 'rename("/usr/share/doc/procps", "/usr/share/doc/procps.x")
                        or die "rename: $!\n"' || fail "rename of a template directory in $v"
                vs exec "$v" -- perl -e 'rename("/usr/share/doc/procps.x", "/usr/share/doc/procps")
                        or die "rename back: $!\n"'
                vs exec "$v" -- apt-get -q update >"$R/$v.update.log" 2>&1 ||
                        fail "apt-get update in $v: $(tail -n 3 "$R/$v.update.log")"
                vs exec "$v" -- env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
                        hello nginx >"$R/$v.install.log" 2>&1 ||
                        fail "apt-get install in $v: $(grep -m 3 -i 'error\|unable' "$R/$v.install.log")"
                vs exec "$v" -- env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
                        --reinstall procps >>"$R/$v.install.log" 2>&1 ||
                        fail "reinstall of a template package in $v: $(tail -n 3 "$R/$v.install.log")"
                expect_eq "Hello, world!" "$(vs exec "$v" -- hello)" "hello in $v"
                vs exec "$v" -- nginx -t >/dev/null 2>&1 || fail "nginx -t in $v"
                expect_eq "" "$(vs exec "$v" -- dpkg --audit)" "dpkg --audit in $v"
                expect_eq "install ok installed" "$(vs exec "$v" -- dpkg-query -W -f '${Status}' nginx)" \
                        "nginx's status in $v"
        done
        # the template stayed as it was
        [ ! -e "$(tmpl_dir deb)/rootfs/usr/sbin/nginx" ] || fail "nginx reached the template"
        vs destroy --force apt1 >/dev/null
        vs destroy --force apt2 >/dev/null
}

# vsctl with http_proxy=$1 in its environment
vs_proxy() { http_proxy=$1 "$BIN/vsctl" --root "$R" "${@:2}"; }

# Nothing of template $1 is in the store: neither it nor a half-built one.
expect_no_template_left() {
        expect_eq "" "$(vs template list -H | awk -v n="$1" '$1 == n')" "template $1 listed"
        expect_eq "" "$(ls -A "$R/var/lib/paene/templates" | grep -F "$1")" "$1 in the store"
}

# One line on stderr, naming the problem, exit 2 or 3 (expect_rc's $ERR).
expect_one_line() { # what needle
        expect_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "$1: one line"
        expect_contains "$ERR" "$2" "$1"
}

# Refused before anything is built, each in one line: a mirror nobody
# answers at, a name that does not resolve (vsd's namespace has no DNS), a
# proxy that refuses, values that are no URL or variant.
test_builder_refuses_a_silent_mirror_and_a_refusing_proxy() {
        expect_rc 2 "silent mirror" -- vs template build debian b1 --mirror http://127.0.0.1:9/debian
        expect_one_line "silent mirror" "mirror http://127.0.0.1:9/debian does not answer: Connection refused"
        expect_no_template_left b1
        expect_rc 2 "unresolvable mirror" -- vs template build debian b1 --mirror http://deb.invalid/debian
        expect_one_line "unresolvable mirror" "its name does not resolve"
        expect_no_template_left b1
        expect_rc 2 "refusing proxy" -- vs_proxy http://127.0.0.1:9 template build debian b1
        expect_one_line "refusing proxy" "proxy http://127.0.0.1:9 refuses: Connection refused"
        expect_no_template_left b1
        expect_rc 2 "not a URL" -- vs template build debian b1 --mirror 'ftp://x/debian'
        expect_one_line "not a URL" "mirror 'ftp://x/debian' is not"
        expect_rc 2 "proxy not a URL" -- vs_proxy 'http://a b' template build debian b1
        expect_one_line "proxy not a URL" "http_proxy 'http://a b' is not a URL"
        expect_rc 2 "variant" -- vs template build debian b1 --variant fakechroot
        expect_one_line "variant" "unknown variant 'fakechroot' (available: minbase, default)"
        expect_rc 2 "variant for busybox" -- vs template build busybox b1 --variant minbase
        expect_no_template_left b1
}

# A listener on vsd's loopback that takes connections and never answers a
# request (silent), or answers a byte every 2 s and never a whole line
# (drip). Its pid in LISTENER_PID, its port in LISTENER_PORT.
start_listener() { # silent|drip
        rm -f "$R/listener.port"
        # nsenter, not in_host: $! is then the listener itself, for its kill
        nsenter --net="$R/netns" python3 -c '
import os, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
conns = []
while True:
    c, _ = s.accept()
    conns.append(c)
    try:
        while sys.argv[1] == "drip":
            c.send(b"H")
            time.sleep(2)
    except OSError:
        pass' "$1" "$R/listener.port" </dev/null >/dev/null 2>"$R/listener.log" &
        LISTENER_PID=$!
        wait_for 10 "[ -s '$R/listener.port' ]" || fail "listener: $(cat "$R/listener.log")"
        LISTENER_PORT=$(cat "$R/listener.port")
}

# A mirror or proxy that takes the connection and then says nothing (or
# next to nothing): the builder gives up within its probe's 15 s, in one
# line, and leaves nothing (a hang would be the test's timeout, a failure).
# The four builds run at once, each against a listener of its own (a drip
# listener answers one connection only), so that the test waits one probe's
# 15 s, not four.
test_builder_gives_up_on_a_mirror_or_proxy_that_never_answers() {
        local how via url n=5 pids=() names=() i rc
        for how in silent drip; do
                for via in mirror proxy; do
                        start_listener $how
                        pids+=("$LISTENER_PID")
                        url=http://127.0.0.1:$LISTENER_PORT
                        echo "$url" >"$R/b$n.url"
                        if [ "$via" = mirror ]; then
                                timeout 60 "$BIN/vsctl" --root "$R" template build debian "b$n" \
                                        --mirror "$url/debian" >"$R/b$n.out" 2>"$R/b$n.err" &
                        else
                                timeout 60 env http_proxy="$url" "$BIN/vsctl" --root "$R" \
                                        template build debian "b$n" >"$R/b$n.out" 2>"$R/b$n.err" &
                        fi
                        echo $! >"$R/b$n.pid"
                        names+=("b$n $how $via")
                        n=$((n + 1))
                done
        done
        for n in 5 6 7 8; do
                rc=0
                wait "$(cat "$R/b$n.pid")" || rc=$?
                echo "$rc" >"$R/b$n.rc"
        done
        kill "${pids[@]}"
        for i in "${pids[@]}"; do wait "$i" 2>/dev/null || true; done
        for i in "${names[@]}"; do
                read -r n how via <<<"$i"
                ERR=$(cat "$R/$n.err")
                url=$(cat "$R/$n.url")
                expect_eq 2 "$(cat "$R/$n.rc")" "$how $via: exit code (stderr: $ERR)"
                if [ "$via" = mirror ]; then
                        expect_one_line "$how mirror" "mirror $url/debian does not answer: Connection timed out"
                else
                        expect_one_line "$how proxy" "proxy $url does not answer: Connection timed out"
                fi
                expect_no_template_left "$n"
        done
}

test_builder_refuses_an_unknown_suite() {
        debian_archive_reachable || skip "$DEBIAN_SKIP"
        expect_rc 3 "unknown suite" -- vs_proxy "http://127.0.0.1:$RELAY_PORT" template build debian b2 --suite nosuchsuite
        expect_one_line "unknown suite" "unknown suite 'nosuchsuite': http://deb.debian.org/debian has no dists/nosuchsuite/Release"
        expect_no_template_left b2
}

# A package of --include that the suite does not have: debootstrap's pages
# end in one line naming it, exit 3 (it was "the debian builder failed (its
# output says why)", exit 1), and the half-built tree goes.
test_builder_refuses_an_unknown_package() {
        debian_archive_reachable || skip "$DEBIAN_SKIP"
        expect_rc 3 "unknown package" -- vs_proxy "http://127.0.0.1:$RELAY_PORT" template build debian b4 \
                --include hello,nosuchpackage-paene
        expect_one_line "unknown package" "template build b4: --include: bookworm at http://deb.debian.org/debian has no package nosuchpackage-paene"
        expect_no_template_left b4
}

# The builder itself, through the relay: --variant default (Debian's
# "important" packages, which minbase leaves out) and --include.
test_builder_with_variant_and_include() {
        debian_archive_reachable || skip "$DEBIAN_SKIP"
        local root
        vs_proxy "http://127.0.0.1:$RELAY_PORT" template build debian b3 \
                --variant default --include hello,systemd-sysv >"$R/b3.log" 2>&1 ||
                fail "build: $(tail -n 3 "$R/b3.log")"
        grep -q "Base system installed successfully" "$R/b3.log" || fail "no success line"
        expect_eq "b3 debian" "$(vs template list -H | awk '$1 == "b3" {print $1, $2}')" "listed"
        root=$(tmpl_dir b3)/rootfs
        for pkg in hello systemd-sysv iputils-ping; do
                grep -q "^Package: $pkg\$" "$root/var/lib/dpkg/status" || fail "$pkg not in b3"
        done
        [ -x "$root/usr/bin/hello" ] || fail "no hello"
        # the minbase fixture has none of Debian's important packages
        if debian_template deb; then
                ! grep -q "^Package: iputils-ping\$" "$(tmpl_dir deb)/rootfs/var/lib/dpkg/status" ||
                        fail "minbase has iputils-ping"
        fi
        expect_eq "" "$(ls -A "$R/var/lib/paene/templates" | grep -F .b3.)" "build leftovers"
        vs template remove b3
}

setup_once
start_relay || die "archive relay"
run_tests
