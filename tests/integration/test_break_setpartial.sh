#!/bin/bash
# `vsctl set` with several settings is one request: refused, it changes
# nothing (README: "Refusals ... change nothing"). A limit given beside an
# address that another VPS holds (exit 4) must not be applied and saved
# before the address is refused.
. "$(dirname "$0")/lib.sh"

test_a_refused_address_leaves_the_limits_given_with_it_unchanged() {
        local before
        vs create sp1 --template busybox --ipadd 10.77.0.60
        vs create sp2 --template busybox --ipadd 10.77.0.61
        before=$(cat "$(vps_dir sp1)/config")
        expect_rc 4 "an address sp2 has" -- vs set sp1 --ram 512M --ipadd 10.77.0.61
        expect_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "one line"
        expect_eq "$before" "$(cat "$(vps_dir sp1)/config")" "sp1's config"
        vs destroy sp1
        vs destroy sp2
}

test_a_refused_address_leaves_a_running_vps_limits_unchanged() {
        local before cg
        vs create sp3 --template busybox --ipadd 10.77.0.62 --ram 256M
        vs create sp4 --template busybox --ipadd 10.77.0.63
        vs start sp3
        before=$(cat "$(vps_dir sp3)/config")
        expect_rc 4 "an address sp4 has" -- vs set sp3 --ram 512M --ipadd 10.77.0.63
        expect_eq "$before" "$(cat "$(vps_dir sp3)/config")" "sp3's config"
        expect_eq $((256 << 20)) "$(vps_mem_limit sp3)" "sp3's memory limit in its cgroup"
        vs destroy --force sp3
        vs destroy sp4
}

run_tests
