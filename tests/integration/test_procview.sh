#!/bin/bash
# The VPS sees its own machine: /proc/meminfo, cpuinfo, stat, uptime,
# loadavg and /sys/devices/system/cpu/online show its limits and usage, as
# its cgroup holds them (issue 14). Each figure is compared with the limit
# given AND the cgroup file vsd wrote, and with the host's, which it must
# not be.
. "$(dirname "$0")/lib.sh"

host_cpus=$(grep -c '^processor' /proc/cpuinfo)
host_mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)

# pure cgroup v2: one directory, other file names
v2=0
[ -d /sys/fs/cgroup/memory ] || v2=1

cg_dir() { # controller vps
        local d
        if [ "$v2" = 1 ]; then
                echo "$(cgroup_dirs | head -1)/default/$2"
                return 0
        fi
        for d in $(cgroup_dirs); do
                case "$d" in /sys/fs/cgroup/"$1"*/* | /sys/fs/cgroup/unified/*)
                        [ -d "$d/default/$2" ] && { echo "$d/default/$2"; return 0; } ;;
                esac
        done
        return 1
}

inside() { vs exec "$1" -- "${@:2}"; }

mem_limit() { # vps: its memory limit as the cgroup holds it
        if [ "$v2" = 1 ]; then
                cat "$(cg_dir memory "$1")/memory.max"
        else
                cat "$(cg_dir memory "$1")/memory.limit_in_bytes"
        fi
}

cpu_cap() { # vps: quota/period
        if [ "$v2" = 1 ]; then
                tr ' ' / <"$(cg_dir cpu "$1")/cpu.max"
        else
                echo "$(cat "$(cg_dir cpu "$1")/cpu.cfs_quota_us")/$(cat "$(cg_dir cpu "$1")/cpu.cfs_period_us")"
        fi
}

task_count() { # vps: threads in its cgroup
        if [ "$v2" = 1 ]; then
                wc -l <"$(cg_dir pids "$1")/cgroup.threads"
        else
                wc -l <"$(cg_dir pids "$1")/tasks"
        fi
}

meminfo_kb() { # vps key
        inside "$1" cat /proc/meminfo | awk -v k="$2:" '$1 == k {print $2}'
}

start_vps() { # name create-options...
        vs create "$1" --template busybox --ipadd none "${@:2}" >/dev/null
        vs start "$1" >/dev/null
        install_payload "$1"
}

test_meminfo_shows_its_memory_limit() {
        local total limit free_total top_line used free
        start_vps mem1 --ram 256M
        limit=$(mem_limit mem1)
        expect_eq 268435456 "$limit" "the cgroup's memory limit"
        total=$(meminfo_kb mem1 MemTotal)
        expect_eq 262144 "$total" "MemTotal inside"
        [ "$total" != "$host_mem_kb" ] || fail "MemTotal is the host's"
        [ "$(meminfo_kb mem1 MemFree)" -le 262144 ] || fail "MemFree above the limit"
        [ "$(meminfo_kb mem1 MemAvailable)" -le 262144 ] || fail "MemAvailable above the limit"
        # busybox top's "Mem: U used, F free" comes from /proc/meminfo
        top_line=$(inside mem1 top -bn1 | grep '^Mem:')
        used=$(echo "$top_line" | sed -n 's/^Mem: \([0-9]*\)K used, \([0-9]*\)K free.*/\1/p')
        free=$(echo "$top_line" | sed -n 's/^Mem: \([0-9]*\)K used, \([0-9]*\)K free.*/\2/p')
        [ -n "$used" ] && [ -n "$free" ] || fail "top's Mem line: $top_line"
        expect_eq 262144 $((used + free)) "top's used + free"
        vs destroy --force mem1 >/dev/null
}

test_cpus_as_many_as_its_cap() {
        local quota n_cpuinfo n_stat online sc
        [ "$host_cpus" -ge 2 ] || skip "the host has one CPU"
        start_vps cpu1 --cpus 1
        quota=$(cpu_cap cpu1)
        expect_eq 100000/100000 "$quota" "the cgroup's CPU quota/period"
        n_cpuinfo=$(inside cpu1 cat /proc/cpuinfo | grep -c '^processor')
        expect_eq 1 "$n_cpuinfo" "processors in /proc/cpuinfo"
        n_stat=$(inside cpu1 cat /proc/stat | grep -c '^cpu[0-9]')
        expect_eq 1 "$n_stat" "cpuN lines in /proc/stat"
        online=$(inside cpu1 cat /sys/devices/system/cpu/online)
        expect_eq 0 "$online" "/sys/devices/system/cpu/online"
        # glibc's sysconf(_SC_NPROCESSORS_ONLN) reads cpu/online
        sc=$(inside cpu1 /payload sysconf)
        expect_eq 1 "${sc%% *}" "sysconf(_SC_NPROCESSORS_ONLN)"
        vs destroy --force cpu1 >/dev/null
}

test_uptime_and_loadavg_are_its_own() {
        local up host_up load total tasks
        start_vps up1
        up=$(inside up1 cat /proc/uptime | cut -d. -f1)
        host_up=$(cut -d. -f1 /proc/uptime)
        [ "$up" -le 30 ] || fail "uptime $up s: the VPS started seconds ago"
        [ "$host_up" -gt 30 ] || skip "the host itself is up for $host_up s"
        load=$(inside up1 cat /proc/loadavg)
        total=$(echo "$load" | awk '{split($4, a, "/"); print a[2]}')
        tasks=$(task_count up1)
        # init, the exec'd cat and whatever runs with it: a handful, like
        # the cgroup's tasks, never the host's hundreds
        [ "$total" -ge 2 ] && [ "$total" -le $((tasks + 2)) ] ||
                fail "loadavg's total $total, the cgroup has $tasks tasks: $load"
        vs destroy --force up1 >/dev/null
}

# The first access to each file of a fresh VPS's view, by each way a
# reader has: the size stat tells (nothing read yet), a read(2) (head) and
# a sendfile (busybox cat). Each gets the whole text, ending in a newline,
# with no NUL past it (or is empty, where the file is), and the size is
# the text's, not a bound: the view
# tells the kernel no size of a file it has not rendered yet (none is
# rendered while the VPS starts).
test_first_access_of_each_view_file_is_whole() {
        local f how text n size
        start_vps fa1
        # the first access of each file: one way each, round robin
        n=0
        for f in /proc/meminfo /proc/cpuinfo /proc/stat /proc/uptime /proc/loadavg \
                /proc/swaps /proc/diskstats /sys/devices/system/cpu/online /dev/user_beancounters; do
                inside fa1 test -e "$f" || continue
                case $((n++ % 3)) in
                0) how=stat
                   size=$(inside fa1 stat -c %s "$f")
                   [ "$size" -lt 65536 ] || fail "$f: stat's first size $size"
                   text=$(inside fa1 cat "$f" | od -An -c | tr -d ' \n') ;;
                1) how=read
                   text=$(inside fa1 dd if="$f" bs=1048576 count=1 2>/dev/null | od -An -c | tr -d ' \n') ;;
                2) how=sendfile
                   text=$(inside fa1 cat "$f" | od -An -c | tr -d ' \n') ;;
                esac
                # an empty text (diskstats without a disk of its own) is
                # empty at each read
                [ -n "$text" ] || [ -n "$(inside fa1 cat "$f")" ] || continue
                case $text in
                *'\0'*) fail "$f: its first $how has a NUL: ${text:0:200}" ;;
                *'\n') ;;
                *) fail "$f: its first $how is empty or cut: ${text:0:200}" ;;
                esac
                size=$(inside fa1 stat -c %s "$f")
                [ "$size" -gt 0 ] && [ "$size" -lt 65536 ] ||
                        fail "$f: size $size after its first $how"
        done
        [ "$n" -ge 8 ] || fail "only $n view files in the VPS"
        vs destroy --force fa1 >/dev/null
}

test_live_set_shows_at_once() {
        [ "$host_cpus" -ge 2 ] || skip "the host has one CPU"
        start_vps live1 --ram 256M
        expect_eq "$host_cpus" "$(inside live1 cat /proc/cpuinfo | grep -c '^processor')" \
                "CPUs before"
        vs set live1 --ram 128M --cpumask 0 >/dev/null
        expect_eq 134217728 "$(mem_limit live1)" "new limit"
        expect_eq 131072 "$(meminfo_kb live1 MemTotal)" "MemTotal after set --ram"
        expect_eq 1 "$(inside live1 cat /proc/cpuinfo | grep -c '^processor')" \
                "CPUs after set --cpumask"
        expect_eq 0 "$(inside live1 cat /sys/devices/system/cpu/online)" "online after set"
        vs set live1 --cpus 1 --cpumask 0-1 >/dev/null
        expect_eq 1 "$(inside live1 cat /proc/cpuinfo | grep -c '^processor')" \
                "CPUs after set --cpus 1 on two"
        vs destroy --force live1 >/dev/null
}

# A reader loop in the VPS keeps its view's pages in the kernel's cache
# (no open asks vsview anything): $1's /tmp/hot.$2 fills while it runs.
hot_reader() { # vps file
        inside "$1" sh -c "while :; do cat /proc/$2 >/tmp/hot.$2; done" >/dev/null 2>&1 &
        HOT_PID=$!
        wait_for 10 "inside $1 test -s /tmp/hot.$2" ||
                fail "the reader loop in $1 never read /proc/$2"
}

# ends the loop hot_reader started
end_hot_reader() {
        kill "$HOT_PID" 2>/dev/null || :
        wait "$HOT_PID" || : # killed by us: its status tells nothing
}

# Each line of a meminfo text is whole ("Key:   N kB"), the last one too.
meminfo_whole() { # text what
        local bad
        bad=$(echo "$1" | grep -cvE '^[A-Za-z0-9_()]+: +[0-9]+( kB)?$') || :
        expect_eq 0 "$bad" "$2: lines not of the form 'Key: N kB'"
        expect_eq "$(grep -c . <<<"$MEMINFO_LINES")" "$(echo "$1" | grep -c .)" "$2: line count"
}

# The page cache that serves a reader loop goes at a set: the next read,
# by cat (sendfile, which stops at the kernel's size of the file without
# asking) and by head (read), shows the new MemTotal, whole, whether its
# text got shorter (256M -> 64M: one digit less) or longer (1G).
test_a_read_right_after_set_shows_it_while_others_read() {
        local text
        start_vps hot1 --ram 256M
        hot_reader hot1 meminfo
        MEMINFO_LINES=$(inside hot1 cat /proc/meminfo)
        expect_eq 262144 "$(echo "$MEMINFO_LINES" | awk '$1 == "MemTotal:" {print $2}')" "MemTotal before"
        vs set hot1 --ram 64M >/dev/null
        text=$(inside hot1 cat /proc/meminfo)
        expect_eq 65536 "$(echo "$text" | awk '$1 == "MemTotal:" {print $2}')" "cat's MemTotal right after set --ram 64M"
        meminfo_whole "$text" "cat after 64M"
        text=$(inside hot1 head -c 65536 /proc/meminfo)
        expect_eq 65536 "$(echo "$text" | awk '$1 == "MemTotal:" {print $2}')" "head's MemTotal after set --ram 64M"
        vs set hot1 --ram 1G >/dev/null
        text=$(inside hot1 cat /proc/meminfo)
        expect_eq 1048576 "$(echo "$text" | awk '$1 == "MemTotal:" {print $2}')" "cat's MemTotal right after set --ram 1G"
        meminfo_whole "$text" "cat after 1G"
        expect_eq 1073741824 "$(mem_limit hot1)" "the cgroup's limit"
        end_hot_reader
        vs destroy --force hot1 >/dev/null
}

# Figures that change on their own (uptime) are new at each read a while
# later, by cat and by head, while a loop keeps the pages cached: at most
# 105 ms old (the view drops a file's pages 100 ms after it filled them).
test_reads_see_new_figures_while_the_pages_are_cached() {
        local out
        start_vps hot2
        hot_reader hot2 uptime
        out=$(inside hot2 sh -c 'cat /proc/uptime; sleep 1; cat /proc/uptime; head -c 100 /proc/uptime; sleep 1; head -c 100 /proc/uptime' | cut -d' ' -f1 | tr '\n' ' ')
        echo "$out" | awk '{exit !(NF == 4 && $2 >= $1 + 0.85 && $3 >= $2 && $4 >= $3 + 0.85)}' ||
                fail "uptime by cat, 1 s later by cat, then head, 1 s later by head: $out"
        end_hot_reader
        vs destroy --force hot2 >/dev/null
}

# Nobody reads for a second after a cat: the pages went 100 ms after it
# (rendered then), and the next cat (sendfile: it asks for the pages, never
# the size) gets the uptime of its own moment, not of the drop's.
test_a_cat_after_a_quiet_second_sees_new_figures() {
        local out
        start_vps quiet1
        out=$(inside quiet1 sh -c 'cat /proc/uptime; sleep 1.5; cat /proc/uptime' | cut -d' ' -f1 | tr '\n' ' ')
        echo "$out" | awk '{exit !(NF == 2 && $2 >= $1 + 1.35)}' ||
                fail "uptime by cat, then by cat 1.5 s later: $out"
        vs destroy --force quiet1 >/dev/null
}

# The host pid of the process running "/payload readbench /proc/uptime
# 20000000" (this file's reader loop: no other process has that line). Its
# count is what the payload keeps a sample each of (160 MB, touched as it
# goes): 2000000000 asked for 16 GB, which a 4 GB VM refuses.
readbench_pid() {
        local p
        for p in /proc/[0-9]*; do
                if [ "$(tr '\0' ' ' 2>/dev/null <"$p/cmdline")" = "/payload readbench /proc/uptime 20000000 " ]; then
                        echo "${p#/proc/}"
                        return 0
                fi
        done
        return 1
}

read_calls() { awk '$1 == "syscr:" {print $2}' "/proc/$1/io"; }

# A read of a view file whose pages are cached asks the server nothing, at
# its open, its read or its close (a close asked, FUSE_FLUSH, so every read
# waited for the server, behind a flooding VPS's requests): with the server
# stopped (SIGSTOP), a reader's open+read+close loop goes on (10,000 more
# read calls). A stop that came between a drop of the pages and the loop's
# next fill leaves the loop waiting for the server; the stop is tried again
# then, up to three times.
test_reads_of_cached_pages_ask_the_server_nothing() {
        local server try reader loop before went_on=0
        start_vps nr1
        inside nr1 /payload readbench /proc/uptime 20000000 >/dev/null 2>&1 &
        loop=$!
        wait_for 10 "readbench_pid >/dev/null" || fail "the reader loop did not start"
        reader=$(readbench_pid)
        server=$(vsview_pid)
        for try in 1 2 3; do
                kill -STOP "$server"
                before=$(read_calls "$reader")
                went_on=0
                wait_for 10 '[ "$(read_calls "$reader")" -ge $((before + 10000)) ]' && went_on=1
                kill -CONT "$server"
                [ "$went_on" = 0 ] || break
        done
        kill "$reader"
        wait "$loop" || : # killed by us: its status tells nothing
        expect_eq 1 "$went_on" "the reads went on with the server stopped (3 tries)"
        vs destroy --force nr1 >/dev/null
}

# /sys/fs/cgroup inside is its own cgroup namespace's view of the cgroup2
# hierarchy (all of it on pure v2, hugetlb only on hybrid): its own subtree,
# none of the host's, and its limit files are not its root's to write (host
# root owns them, a VPS's root is nobody to them).
test_sys_fs_cgroup_is_its_own_and_locked() {
        local own files f before rc host
        [ -d /sys/fs/cgroup/unified ] || [ "$v2" = 1 ] || skip "no cgroup2 hierarchy on this host"
        start_vps cg1 --ram 256M
        own=$(inside cg1 cat /proc/self/cgroup | awk -F: '$1 == 0 {print $3}')
        expect_eq / "$own" "its cgroup2 path inside (the namespace's root)"
        expect_contains "$(inside cg1 cat /proc/self/mountinfo)" " /sys/fs/cgroup " "cgroup mount"
        files=$(inside cg1 ls /sys/fs/cgroup | lines_matching -E '\.max(\.[a-z]+)?$')
        [ -n "$files" ] || skip "no limit file in its cgroup2 view: $(inside cg1 ls /sys/fs/cgroup | tr '\n' ' ')"
        if [ "$v2" = 1 ]; then host=$(cg_dir memory cg1); else host=$(cg_dir unified cg1); fi
        [ -d "$host" ] || fail "no cgroup2 directory of the VPS on the host"
        for f in $files; do
                before=$(cat "$host/$f")
                expect_eq "$before" "$(inside cg1 cat "/sys/fs/cgroup/$f")" "$f inside = the host's"
                rc=0
                inside cg1 sh -c "echo 0 > /sys/fs/cgroup/$f" 2>/dev/null || rc=$?
                [ "$rc" -ne 0 ] || fail "the VPS wrote its own $f"
                expect_eq "$before" "$(cat "$host/$f")" "$f on the host after the VPS's write"
        done
        [ "$v2" = 0 ] || expect_eq 268435456 "$(mem_limit cg1)" "memory.max after the VPS's write"
        vs destroy --force cg1 >/dev/null
}

test_procview_off_keeps_the_hosts() {
        start_vps off1 --ram 256M --procview off
        expect_eq "$host_mem_kb" "$(meminfo_kb off1 MemTotal)" "MemTotal with procview off"
        expect_eq "$host_cpus" "$(inside off1 cat /proc/cpuinfo | grep -c '^processor')" \
                "CPUs with procview off"
        expect_rc 1 "no user_beancounters with procview off" -- inside off1 test -e /dev/user_beancounters
        vs destroy --force off1 >/dev/null
}

view_server_alive() { # pid
        [ -n "$1" ] && ! is_dead "$1"
}

# A new server, other than $1, runs and answers.
new_server_serves() { # old-pid
        local pid
        pid=$(vsview_pid)
        [ -n "$pid" ] && [ "$pid" != "$1" ] && view_server_alive "$pid"
}

# The loop of reads runs as the VPS's init: it outlives vsd, which kills
# an exec'd command's session when it dies. Its verdict is in the console.
loop_running() { [ "$(state_of "$1")" = running ]; }

si_field() { # vps field: from the payload's print of sysinfo(2)
        inside "$1" /payload sysinfo | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2}'
}

# busybox's free and uptime and glibc's _SC_PHYS_PAGES ask sysinfo(2), not
# /proc: the seccomp listener answers it from the VPS's cgroup.
test_sysinfo_shows_its_memory_and_uptime() {
        local total free procs up host_up pages free_line tasks
        start_vps si1 --ram 256M
        expect_eq 268435456 "$(mem_limit si1)" "the cgroup's memory limit"
        total=$(si_field si1 totalram)
        expect_eq 268435456 "$total" "sysinfo totalram"
        free=$(si_field si1 freeram)
        [ "$free" -gt 0 ] && [ "$free" -lt 268435456 ] || fail "sysinfo freeram $free"
        expect_eq "$(($(meminfo_kb si1 SwapTotal) * 1024))" "$(si_field si1 totalswap)" \
                "sysinfo totalswap = /proc/meminfo's SwapTotal"
        up=$(si_field si1 uptime)
        host_up=$(cut -d. -f1 /proc/uptime)
        [ "$host_up" -gt 60 ] || skip "the host itself is up for $host_up s"
        [ "$up" -ge 0 ] && [ "$up" -le 30 ] || fail "sysinfo uptime $up: the VPS started seconds ago"
        procs=$(si_field si1 procs)
        tasks=$(task_count si1)
        [ "$procs" -ge 2 ] && [ "$procs" -le $((tasks + 2)) ] ||
                fail "sysinfo procs $procs, the cgroup has $tasks tasks"
        # glibc: _SC_PHYS_PAGES = totalram / page size
        pages=$(inside si1 /payload sysconf | awk '{print $2}')
        expect_eq 65536 "$pages" "sysconf(_SC_PHYS_PAGES)"
        # busybox free: its Mem line's total is sysinfo's (in KiB)
        free_line=$(inside si1 free | awk '$1 == "Mem:"')
        expect_eq 262144 "$(echo "$free_line" | awk '{print $2}')" "free's total: $free_line"
        # busybox uptime: "up N min" or "up 0 min", never the host's days
        expect_not_contains "$(inside si1 uptime)" "day" "busybox uptime"
        [ "$host_up" -lt 86400 ] || expect_not_contains "$(inside si1 uptime)" "day" "uptime"
        # a live set shows at once
        vs set si1 --ram 128M >/dev/null
        expect_eq 134217728 "$(mem_limit si1)" "new limit"
        expect_eq 134217728 "$(si_field si1 totalram)" "sysinfo totalram after set --ram"
        vs destroy --force si1 >/dev/null
}

test_sysinfo_off_is_the_hosts() {
        start_vps si2 --ram 256M --procview off
        expect_eq "$((host_mem_kb * 1024))" "$(si_field si2 totalram)" "totalram with procview off"
        vs destroy --force si2 >/dev/null
}

# nproc (coreutils and busybox) counts sched_getaffinity's mask: the
# listener narrows it to the CPUs the view shows.
test_nproc_agrees_with_the_cpu_cap() {
        local cpuinfo online aff sc
        [ "$host_cpus" -ge 2 ] || skip "the host has one CPU"
        start_vps np1 --cpus 1
        expect_eq 100000/100000 "$(cpu_cap np1)" "the cgroup's CPU quota/period"
        cpuinfo=$(inside np1 cat /proc/cpuinfo | grep -c '^processor')
        online=$(inside np1 cat /sys/devices/system/cpu/online)
        aff=$(inside np1 /payload affinity)
        sc=$(inside np1 /payload sysconf | awk '{print $1}')
        expect_eq 1 "$cpuinfo" "/proc/cpuinfo"
        expect_eq 0 "$online" "cpu/online"
        expect_eq 1 "$aff" "sched_getaffinity's CPUs"
        expect_eq 1 "$sc" "sysconf(_SC_NPROCESSORS_ONLN)"
        if inside np1 nproc >/dev/null 2>&1; then
                expect_eq 1 "$(inside np1 nproc)" "busybox nproc"
        fi
        # the real mask is untouched: the kernel runs the VPS's tasks on any
        # CPU of its cpuset (the cap limits it, no pinning): a task of its
        # cgroup, seen from the host
        expect_eq "$host_cpus" "$(python3 -c "import os; print(len(os.sched_getaffinity($(head -1 "$(cg_dir memory np1)/$([ "$v2" = 1 ] && echo cgroup.procs || echo tasks)"))))")" \
                "the real affinity of its init"
        vs set np1 --cpus 2 >/dev/null
        expect_eq 2 "$(inside np1 /payload affinity)" "sched_getaffinity after set --cpus 2"
        expect_eq 2 "$(inside np1 cat /proc/cpuinfo | grep -c '^processor')" "cpuinfo after set"
        vs set np1 --cpumask 1 >/dev/null
        expect_eq 1 "$(inside np1 /payload affinity)" "sched_getaffinity after set --cpumask 1"
        vs destroy --force np1 >/dev/null
}

# The listener dies (SIGKILL) three times while the VPS's init calls
# Kills the view server three times while a loop runs in VPS $1 (console
# log $2): each time the loop must still run and a new server take over.
kill_the_view_server_three_times() {
        local old i
        for i in 1 2 3; do
                old=$(vsview_pid)
                view_server_alive "$old" || fail "no view server before kill $i"
                loop_running "$1" || fail "the loop ended before kill $i: $(tail -n 2 "$2")"
                kill -9 "$old"
                wait_for 10 "new_server_serves $old" || fail "no new server after kill $i"
                sleep 0.3
        done
}

# sysinfo in a loop: no call fails, none shows the host's memory, none
# hangs (the loop ends).
test_sysinfo_survives_kills_of_the_listener() {
        local old log
        vs create sk1 --template busybox --ipadd none --ram 256M >/dev/null
        install_payload sk1
        # (its uptime below 10 min: the host's is longer; a slower machine
        # takes longer for the loop). 150000 calls last some 14 s on a plain
        # host, 3 to 4 times the kills below (300000 made the test wait on
        # the loop's end for half a minute)
        set_config sk1 init "/payload sysinfoloop 150000 268435456 $(scaled 600)"
        vs start sk1 >/dev/null
        log="$(vps_dir sk1)/console.log"
        kill_the_view_server_three_times sk1 "$log"
        old=$(vsview_pid)
        loop_running sk1 || fail "the loop ended before vsd's kill: $(tail -n 2 "$log")"
        pid=$(vsd_pid)
        kill -9 "$pid"
        wait_for 10 "is_dead $pid" || fail "vsd did not die"
        rm -f "$R/run/paene/vsd.pid"
        start_vsd || fail "vsd did not start again"
        loop_running sk1 || fail "the loop ended after vsd's restart: $(tail -n 2 "$log")"
        kill -9 "$old"
        wait_for 10 "new_server_serves $old" || fail "the new vsd started no server"
        wait_for 300 "! loop_running sk1" || fail "the loop did not end: $(tail -n 2 "$log")"
        expect_contains "$(cat "$log")" "sysinfoloop ok 150000" "the loop's verdict"
        expect_not_contains "$(cat "$log")" "sysinfoloop FAIL" "the loop's verdict"
        vs destroy --force sk1 >/dev/null
}

# How many times the task PID waited (voluntary context switches): each
# sysinfo(2) of the loop waits once for the listener's answer. (awk reads
# the file whole; bash's read takes it in pieces, and the kernel writes it
# anew for each: a State line that changed length between two shifts the
# rest, and a line goes missing)
waits_of() { # pid
        awk '$1 == "voluntary_ctxt_switches:" {print $2; f = 1} END {exit !f}' "/proc/$1/status"
}

# The loop answered on: it waited 100 times more than $2 (a call that
# waits for good never does).
loop_goes_on() { # pid waits-before
        [ "$(waits_of "$1")" -gt $(($2 + 100)) ]
}

# A kill lands anywhere in the server's work, and one that came after the
# kernel gave the listener a request and before the server wrote it down
# for the next lost it: its caller waited for good (1 in some 90 kills here,
# under load). So many kills, each once the new server answers, and after
# each the loop goes on.
test_sysinfo_survives_a_run_of_kills_of_the_listener() {
        local old i pid before
        vs create sr1 --template busybox --ipadd none --ram 256M >/dev/null
        install_payload sr1
        # (calls without end: the loop stops with the VPS)
        set_config sr1 init "/payload sysinfoloop 1000000000 268435456 $(scaled 6000)"
        vs start sr1 >/dev/null
        pid=$(sed -n 's/^pid = //p' "$(vps_dir sr1)/state")
        before=$(waits_of "$pid")
        wait_for 10 "loop_goes_on $pid $before" || fail "the loop does not run"
        for ((i = 1; i <= 150; i++)); do
                old=$(vsview_pid)
                kill -9 "$old"
                wait_for 10 "new_server_serves $old" || fail "no new server after kill $i"
                before=$(waits_of "$pid") ||
                        fail "the loop ended after kill $i: $(tail -n 2 "$(vps_dir sr1)/console.log")"
                wait_for 10 "loop_goes_on $pid $before" ||
                        fail "a sysinfo call waits for good after kill $i (in $(cat "/proc/$pid/wchan"))"
        done
        loop_running sr1 || fail "the loop ended: $(tail -n 2 "$(vps_dir sr1)/console.log")"
        expect_not_contains "$(cat "$(vps_dir sr1)/console.log")" "sysinfoloop FAIL" "the loop's verdict"
        vs destroy --force sr1 >/dev/null
}

# FUSE_NOTIFY_RESEND (Linux 6.9): without it, what a killed server had read
# is never answered
kernel_resends() {
        local major minor
        IFS=. read -r major minor _ <<<"$(uname -r)"
        [ "$major" -gt 6 ] || { [ "$major" -eq 6 ] && [ "$minor" -ge 9 ]; }
}

test_reads_survive_kills_of_the_server_and_of_vsd() {
        local old pid log
        kernel_resends || skip "kernel $(uname -r) has no FUSE_NOTIFY_RESEND (6.9)"
        vs create fo1 --template busybox --ipadd none --ram 256M >/dev/null
        install_payload fo1
        set_config fo1 init "/payload viewloop 10000 400 262144 600"
        vs start fo1 >/dev/null
        log="$(vps_dir fo1)/console.log"
        kill_the_view_server_three_times fo1 "$log"
        # vsd dies; the server goes on alone, and hands the connection to
        # the next vsd
        old=$(vsview_pid)
        loop_running fo1 || fail "the loop ended before vsd's kill: $(tail -n 2 "$log")"
        pid=$(vsd_pid)
        kill -9 "$pid"
        wait_for 10 "is_dead $pid" || fail "vsd did not die"
        rm -f "$R/run/paene/vsd.pid"
        sleep 0.3
        start_vsd || fail "vsd did not start again"
        expect_eq "$old" "$(vsview_pid)" "the server that outlived vsd"
        view_server_alive "$old" || fail "the server died with vsd"
        loop_running fo1 || fail "the loop ended before the last kill: $(tail -n 2 "$log")"
        # the new vsd holds the connection: the server may die again
        kill -9 "$old"
        wait_for 10 "new_server_serves $old" || fail "the new vsd started no server"
        wait_for 120 "! loop_running fo1" || fail "the loop did not end"
        expect_contains "$(cat "$log")" "viewloop ok 10000" "the loop's verdict"
        expect_not_contains "$(cat "$log")" "viewloop FAIL" "the loop's verdict"
        vs destroy --force fo1 >/dev/null
}

test_one_server_for_all_vps() {
        local n
        start_vps one1
        start_vps one2
        n=0
        for c in /proc/[0-9]*/cmdline; do
                { tr '\0' ' ' <"$c"; } 2>/dev/null | grep -q "^vsview --root $R " && n=$((n + 1))
        done
        expect_eq 1 "$n" "vsview processes for two VPS"
        # each reads its own directory, whoever asks
        expect_contains "$(ls "$R/run/paene/view")" "one1" "view directories"
        expect_contains "$(ls "$R/run/paene/view")" "one2" "view directories"
        vs destroy --force one1 >/dev/null
        vs destroy --force one2 >/dev/null
}

bc_field() { # vps resource field (from vsctl beancounters --json)
        vs beancounters "$1" --json |
                python3 -c "import json,sys; print([r['$3'] for r in json.load(sys.stdin) if r['resource'] == '$2'][0])"
}

# The row of a resource in the VPS's own user_beancounters, read inside it
# (at /dev/user_beancounters: procfs holds only the kernel's entries).
bc_row_in_view() { # vps resource
        inside "$1" cat /dev/user_beancounters | grep -E "^ *([0-9]+:)? +$2 "
}

test_fork_bomb_raises_numproc_failcnt() {
        local before after events row count
        start_vps bc1 --numproc 50
        expect_eq 50 "$(cat "$(cg_dir pids bc1)/pids.max")" "pids.max"
        expect_eq 50 "$(bc_field bc1 numproc limit)" "numproc limit"
        before=$(bc_field bc1 numproc failcnt)
        expect_eq 0 "$before" "numproc failcnt before"
        # the bomb's forks fail at the limit; the payload reports and ends
        count=$(inside bc1 /payload forkbomb)
        [ "$count" -gt 0 ] && [ "$count" -lt 50 ] || fail "the bomb forked $count times"
        events=$(awk '$1 == "max" {print $2}' "$(cg_dir pids bc1)/pids.events")
        [ "$events" -gt 0 ] || fail "pids.events max is $events"
        after=$(bc_field bc1 numproc failcnt)
        expect_eq "$events" "$after" "numproc failcnt = pids.events max"
        row=$(bc_row_in_view bc1 numproc)
        expect_eq "$after" "$(echo "$row" | awk '{print $NF}')" "failcnt in user_beancounters"
        expect_eq 50 "$(echo "$row" | awk '{print $(NF-1)}')" "numproc limit in user_beancounters"
        # OpenVZ's layout: a Version line, then the column header
        expect_eq "Version: 2.5" "$(inside bc1 head -1 /dev/user_beancounters)" "first line"
        expect_eq "uid resource held maxheld barrier limit failcnt" \
                "$(inside bc1 sed -n 2p /dev/user_beancounters | tr -s ' ' | sed 's/^ //')" "header"
        expect_contains "$(vs status bc1)" "failcnt $after" "vsctl status"
        expect_eq "$after" "$(vs list -H -o failcnt | head -1 | tr -d ' ')" "vsctl list -o failcnt"
        vs destroy --force bc1 >/dev/null
}

# numfile: its processes' open files against --numfile (each process's
# RLIMIT_NOFILE); diskspace: its image's use against --diskspace, in KiB as
# OpenVZ's. The kernel counts no refused open or write: failcnt stays 0.
test_numfile_and_diskspace_beancounters() {
        local held limit fds pid used_df dheld row
        start_vps bc4 --numfile 500 --diskspace 64M
        expect_eq 500 "$(inside bc4 sh -c 'ulimit -n')" "RLIMIT_NOFILE inside"
        expect_eq 500 "$(bc_field bc4 numfile limit)" "numfile limit"
        held=$(bc_field bc4 numfile held)
        fds=0
        for pid in $(cat "$(cg_dir pids bc4)/cgroup.procs"); do
                fds=$((fds + $(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)))
        done
        [ "$held" -ge 1 ] && [ "$held" -le $((fds + 8)) ] ||
                fail "numfile held $held, the cgroup's processes hold $fds"
        # a process holding 50 more files (inotify instances) raises it so
        vs exec bc4 -- /payload inotify 50 hold >/dev/null 2>&1 &
        wait_for 10 "[ \"\$(bc_field bc4 numfile held)\" -ge $((held + 50)) ]" ||
                fail "numfile held $(bc_field bc4 numfile held) with 50 more open"
        kill %1
        wait %1 || : # killed by us: its status tells nothing
        limit=$(bc_field bc4 diskspace limit)
        expect_eq 65536 "$limit" "diskspace limit (KiB)"
        dheld=$(bc_field bc4 diskspace held)
        used_df=$(inside bc4 df -k / | awk 'NR == 2 {print $3}')
        [ "$dheld" -gt 0 ] && [ $((dheld - used_df)) -le 1024 ] && [ $((used_df - dheld)) -le 1024 ] ||
                fail "diskspace held $dheld KiB, df inside says $used_df"
        expect_eq 0 "$(bc_field bc4 numfile failcnt)" "numfile failcnt"
        row=$(bc_row_in_view bc4 diskspace)
        expect_eq 65536 "$(echo "$row" | awk '{print $(NF-1)}')" "diskspace limit in user_beancounters"
        vs destroy --force bc4 >/dev/null
}

# The diskspace its own /dev/user_beancounters holds (the view's, read
# through its init's root) is its disk's use from the first read of a run
# on, this run's and not the last one's: the view learns the init of a run
# when it learns the run.
test_diskspace_held_in_its_own_view_from_its_start() {
        local run row held used_df
        start_vps dv1 --diskspace 64M
        for run in first second; do
                row=$(bc_row_in_view dv1 diskspace)
                held=$(echo "$row" | awk '{print $(NF-4)}')
                used_df=$(inside dv1 df -k / | awk 'NR == 2 {print $3}')
                [ "$held" -gt 0 ] && [ $((held - used_df)) -le 1024 ] &&
                        [ $((used_df - held)) -le 1024 ] ||
                        fail "$run run: diskspace held $held KiB in its view, df inside says $used_df: $row"
                vs stop --fast dv1 >/dev/null
                vs start dv1 >/dev/null
        done
        vs destroy --force dv1 >/dev/null
}

test_memory_hog_raises_physpages_failcnt() {
        local failcnt rc
        start_vps bc2 --ram 32M
        expect_eq 0 "$(bc_field bc2 physpages failcnt)" "physpages failcnt before"
        expect_eq 8192 "$(bc_field bc2 physpages limit)" "physpages limit (4 KiB pages)"
        # the hog is OOM-killed or reclaimed against the limit: either way
        # the kernel counts the limit hit
        rc=0
        inside bc2 /payload memhog 64 >/dev/null 2>&1 || rc=$?
        [ "$rc" -ne 0 ] || fail "64 MiB fitted in a 32M VPS"
        if [ -e "$(cg_dir memory bc2)/memory.failcnt" ]; then
                failcnt=$(($(cat "$(cg_dir memory bc2)/memory.failcnt") +
                        $(cat "$(cg_dir memory bc2)/memory.memsw.failcnt")))
        else
                failcnt=$(awk '$1 == "max" {print $2}' "$(cg_dir memory bc2)/memory.events")
        fi
        [ "$failcnt" -gt 0 ] || fail "the cgroup counted no refused charge ($failcnt)"
        expect_eq "$failcnt" "$(bc_field bc2 physpages failcnt)" "physpages failcnt"
        expect_eq "$failcnt" "$(bc_row_in_view bc2 physpages | awk '{print $NF}')" \
                "physpages failcnt in the VPS's user_beancounters"
        [ "$(bc_field bc2 physpages maxheld)" -le 8192 ] || fail "maxheld above the limit"
        vs destroy --force bc2 >/dev/null
}

test_beancounters_of_a_stopped_vps_is_a_state_error() {
        vs create bc3 --template busybox --ipadd none >/dev/null
        expect_rc 4 "beancounters of a stopped VPS" -- vs beancounters bc3
        expect_contains "$ERR" "not running" "message"
        expect_rc 3 "beancounters of no VPS" -- vs beancounters nosuch
        vs destroy --force bc3 >/dev/null
}

test_bad_procview_value_is_refused() {
        expect_rc 2 "create --procview maybe" -- vs create bad1 --template busybox --procview maybe
        expect_contains "$ERR" "on or off" "message"
        expect_rc 3 "no VPS made" -- vs status bad1
}

run_tests
