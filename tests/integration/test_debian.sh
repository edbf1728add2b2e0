#!/bin/bash
# A Debian VPS as a customer uses it: the shared fixture (debianlib.sh), and
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
        start_relay
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

run_tests
