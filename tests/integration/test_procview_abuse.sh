#!/bin/bash
# A VPS that abuses its view (issue 14, bad input): reads at odd offsets and
# sizes, thousands of open view files, a flood of reads beside another VPS.
# It gets the bytes one whole read gets, or a normal error, and never
# another VPS's figures. (How much a flood slows another VPS is a timing
# figure: contrib/bench/procview.sh measures it.)
. "$(dirname "$0")/lib.sh"

inside() { vs exec "$1" -- "${@:2}"; }

start_vps() { # name create-options...
        vs create "$1" --template busybox --ipadd none "${@:2}" >/dev/null
        vs start "$1" >/dev/null
        install_payload "$1"
}

# Files whose text does not move while nothing changes the VPS are compared
# byte for byte; the others (figures that move between two reads) must be
# of the right length, hold no NUL and be lines.
test_odd_offsets_and_sizes_read_the_same_bytes() {
        local f out
        start_vps odd1 --ram 256M --cpus 1
        for f in /proc/cpuinfo /sys/devices/system/cpu/online /proc/swaps; do
                out=$(inside odd1 /payload oddreads "$f" exact)
                expect_contains "$out" "oddreads ok" "$f"
        done
        # the whole read the preads were compared with is the VPS's own
        expect_eq 1 "$(inside odd1 grep -c '^processor' /proc/cpuinfo)" "processors in cpuinfo"
        for f in /proc/meminfo /proc/stat /proc/uptime /proc/loadavg /dev/user_beancounters; do
                out=$(inside odd1 /payload oddreads "$f")
                expect_contains "$out" "oddreads ok" "$f"
        done
        vs destroy --force odd1 >/dev/null
}

test_thousands_of_open_view_files_read_right() {
        local out
        start_vps many1 --ram 256M --numfile 4096
        out=$(inside many1 /payload manyopen /proc/meminfo 3000)
        expect_contains "$out" "manyopen ok 3000 MemTotal:" "3000 opens of /proc/meminfo"
        expect_eq 262144 "$(echo "$out" | awk '{print $5}')" "MemTotal of every open"
        # past its limit: EMFILE, its own, and the view still answers (a
        # file whose first line stays: /proc/stat's CPU times move between
        # two reads, in the view as in the plain /proc)
        out=$(inside many1 /payload manyopen /proc/cpuinfo 5000) || fail "manyopen: $out"
        expect_contains "$out" "manyopen EMFILE" "5000 opens against --numfile 4096"
        expect_eq 262144 "$(inside many1 awk '/^MemTotal:/ {print $2}' /proc/meminfo)" \
                "MemTotal after"
        vs destroy --force many1 >/dev/null
}

# While one VPS reads its view as fast as it can from three processes and
# holds a thousand of its files open, another's 2000 reads all show its own
# memory limit and uptime, and so do the flooder's own checks.
test_a_flood_never_shows_another_vps_figures() {
        local pids="" out_b out_a i rc=0
        start_vps flood1 --ram 256M --numfile 4096
        start_vps calm1 --ram 128M
        for i in 1 2 3; do
                inside flood1 /payload readbench /proc/meminfo 20000 >"$R/flood.$i" 2>&1 &
                pids="$pids $!"
        done
        inside flood1 /payload manyopen /proc/stat 1000 >"$R/flood.open" 2>&1 &
        pids="$pids $!"
        out_b=$(inside calm1 /payload viewloop 2000 0 131072 300)
        out_a=$(inside flood1 /payload viewloop 2000 0 262144 300)
        for i in $pids; do wait "$i" || rc=1; done
        expect_contains "$out_b" "viewloop ok 2000" "the calm VPS's reads"
        expect_contains "$out_a" "viewloop ok 2000" "the flooder's own reads"
        expect_eq 0 "$rc" "the flooder's readers' exit codes"
        for i in 1 2 3; do
                expect_eq 0 "$(awk '{print $3}' "$R/flood.$i")" "failed reads of flood reader $i"
        done
        expect_contains "$(cat "$R/flood.open")" "manyopen ok 1000" "the flooder's 1000 opens"
        vs destroy --force flood1 >/dev/null
        vs destroy --force calm1 >/dev/null
}

# A reader that keeps the file open and reads it again from its start (top)
# gets new figures: the page cache that served its first read does not stay.
test_a_reader_keeping_the_file_open_sees_new_figures() {
        local out
        start_vps keep1
        out=$(inside keep1 /payload reread /proc/uptime 1500)
        echo "$out" | awk '{exit !($2 >= $1 + 1.0)}' ||
                fail "uptime read 1.5 s apart on one open file: $out"
        vs destroy --force keep1 >/dev/null
}

run_tests
