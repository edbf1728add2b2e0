#!/bin/bash
# What a VPS prints on its console goes to its console.log (the console
# keeper writes it), which vsd keeps under VS_CONSOLE_MAX (1 MiB) by moving
# it to console.log.1 at its 5-second tick. A VPS that prints as fast as
# its pty takes must not grow the host's file past that by much (nor
# while vsd is down: the keeper logs on), nor make vsd read hundreds of MB
# into its memory at a tick.
. "$(dirname "$0")/lib.sh"

CONSOLE_MAX=$((1 << 20))

# vm_hwm PID: its peak resident memory in kB
vm_hwm() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

test_a_vps_printing_fast_keeps_its_console_log_bounded() {
        local log size hwm_before hwm_after
        vs create cl1 --template busybox
        vs start cl1
        log=$(vps_dir cl1)/console.log
        hwm_before=$(vm_hwm "$(vsd_pid)")
        # 256 MiB through the pty, as fast as it takes them
        vs exec cl1 -- sh -c 'head -c 268435456 /dev/zero | tr "\000" x >/dev/console'
        size=$(stat -c %s "$log")
        [ "$size" -le $((3 * CONSOLE_MAX)) ] ||
                fail "console.log is $size bytes after the VPS printed 256 MiB"
        # a tick's rotation reads what is there into vsd
        wait_for 12 '[ "$(stat -c %s "$log")" -le '"$CONSOLE_MAX"' ]' ||
                fail "console.log was not rotated: $(stat -c %s "$log") bytes"
        size=$(stat -c %s "$log.1" 2>/dev/null || echo 0)
        [ "$size" -le $((3 * CONSOLE_MAX)) ] || fail "console.log.1 is $size bytes"
        hwm_after=$(vm_hwm "$(vsd_pid)")
        [ $((hwm_after - hwm_before)) -le 32768 ] ||
                fail "vsd's peak memory grew from $hwm_before to $hwm_after kB"
        vs destroy --force cl1
}

run_tests
