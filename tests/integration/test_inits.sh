#!/bin/bash
# The inits other than systemd (test_debian.sh's) in a default VPS: Debian's
# sysvinit and busybox init each boot, stop on their own request (sysvinit:
# runlevel 0 on /run/initctl; busybox: SIGUSR2), and come back after a
# reboot typed inside. The sysvinit template is debianlib.sh's (built once
# and cached); without the archive its test is skipped, never passed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/debianlib.sh"

pid_of() { vs status "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])'; }
stop_of() { vs status "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["stop"])'; }
runlevel_of() { vs exec "$1" -- runlevel 2>/dev/null; }
# How long sysvinit's boot may take: seconds on a plain host (systemd's
# bound, test_debian's, is 60 s too); the pure cgroup v2 VM (v2vm.sh, TCG),
# where it took 133 s under a load of 25, runs with PAENE_TIME_SCALE.
BOOT_BOUND=60

# reboot typed inside: the kernel ends the pid namespace's init with
# SIGHUP, vsd starts it again (a new pid)
expect_reboot() { # name command...
        local vps=$1 before
        shift
        before=$(pid_of "$vps")
        vs exec "$vps" -- "$@"
        wait_for $BOOT_BOUND '[ "$(pid_of "$vps")" != "$before" ] && [ "$(pid_of "$vps")" != 0 ]' ||
                fail "$vps: no new init after $* ($(vs status "$vps"))"
}

test_sysvinit_boots_halts_and_reboots() {
        debian_sysv_template debsysv || skip "$DEBIAN_SKIP"
        grep -q '^Package: sysvinit-core$' "$(tmpl_dir debsysv)/rootfs/var/lib/dpkg/status" ||
                fail "sysvinit-core not in the template"
        [ -L "$(tmpl_dir debsysv)/rootfs/sbin/init" ] && fail "/sbin/init is a link (not sysvinit's)"
        vs create sv1 --template debsysv >/dev/null
        expect_eq "no" "$(sed -n 's/^privileged = //p' "$(vps_dir sv1)/config")" "a default VPS"
        vs start sv1
        wait_for $BOOT_BOUND '[ "$(runlevel_of sv1)" = "N 2" ]' ||
                fail "sysvinit did not reach runlevel 2: $(vs logs sv1 | tail -3)"
        vs stop sv1 --timeout "$(scaled 10)"
        expect_eq "sv1 exist stopped (powered off)" "$(vs status sv1)" "a halt, not a kill"
        expect_eq "runlevel 0 to sysvinit" "$(stop_of sv1)" "what vsd asked of sysvinit"
        expect_contains "$(vs logs sv1 | tr -d '\0')" "Will now halt" "sysvinit's runlevel 0 ran"
        vs start sv1
        wait_for $BOOT_BOUND '[ "$(runlevel_of sv1)" = "N 2" ]' || fail "not in runlevel 2 again"
        expect_reboot sv1 reboot
        wait_for $BOOT_BOUND '[ "$(runlevel_of sv1)" = "N 2" ]' || fail "not in runlevel 2 after reboot"
        expect_contains "$(vs logs sv1 | tr -d '\0')" "Will now restart" "sysvinit's runlevel 6 ran"
        vs destroy --force sv1
        vs template remove debsysv
}

test_busybox_init_stops_and_reboots() {
        vs create bb1 --template busybox >/dev/null
        vs start bb1
        wait_for 10 'vs exec bb1 -- true' || fail "bb1 does not run"
        expect_eq busybox "$(vs exec bb1 -- readlink /proc/1/exe | xargs basename)" "busybox is pid 1"
        # busybox reboot's own request (the command could die in the
        # shutdown's SIGTERM before it returns)
        expect_reboot bb1 kill -TERM 1
        wait_for 10 'vs exec bb1 -- true' || fail "bb1 does not run after reboot"
        expect_eq running "$(state_of bb1)" "running after reboot"
        vs stop bb1 --timeout "$(scaled 10)"
        expect_eq "bb1 exist stopped (powered off)" "$(vs status bb1)" "a poweroff, not a kill"
        expect_eq "SIGUSR2 to busybox" "$(stop_of bb1)" "what vsd asked of busybox init"
        vs destroy bb1
}

run_tests
