#!/bin/bash
# What a VPS prints on its console goes to its console.log (the console
# keeper writes it), which the keeper keeps under VS_CONSOLE_MAX (1 MiB) by
# moving it to console.log.1 as it passes that. A VPS that prints as fast
# as its pty takes must not grow the host's file past that by much (nor
# while vsd is down: the keeper logs on), nor make vsd read hundreds of MB
# into its memory.
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
        # the keeper moves it to console.log.1 as it writes: no tick to
        # wait for, and no second rotator (vsd's tick truncated the file
        # while the keeper trimmed it in place: NUL bytes at its head)
        size=$(stat -c %s "$log")
        [ "$size" -le $((CONSOLE_MAX + 4096)) ] ||
                fail "console.log is $size bytes after the VPS printed 256 MiB"
        size=$(stat -c %s "$log.1" 2>/dev/null || echo 0)
        [ "$size" -gt $((CONSOLE_MAX / 2)) ] && [ "$size" -le $((CONSOLE_MAX + 4096)) ] ||
                fail "console.log.1 is $size bytes"
        [ "$(head -c 4096 "$log" | tr -d x | wc -c)" -eq 0 ] ||
                fail "console.log's head holds more than the VPS printed"
        [ "$(head -c 4096 "$log.1" | tr -d x | wc -c)" -eq 0 ] ||
                fail "console.log.1's head holds more than the VPS printed"
        hwm_after=$(vm_hwm "$(vsd_pid)")
        [ $((hwm_after - hwm_before)) -le 32768 ] ||
                fail "vsd's peak memory grew from $hwm_before to $hwm_after kB"
        vs destroy --force cl1
}

run_tests
