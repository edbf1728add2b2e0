#!/bin/bash
# Slices (issue 15): vsctl slice create, set, list, status and destroy by an
# admin; two ordinary host users (made here, removed at the end even when a
# test fails), each owning one slice, drive only their own. A slice is a
# cgroup level above its VPS whose caps hold for them together: two CPU
# hogs of a slice capped at 50% get half a CPU between them, measured from
# the slice's own cgroup; a fork bomb in one slice leaves the other able to
# fork. Every refused request is one line with its exit code and changes
# neither the slice files nor the VPS configs.
. "$(dirname "$0")/lib.sh"

eval "lib_$(declare -f reset_after_test)"
USERS="vsslc_a vsslc_b"
MARK="paene test_slice"
. "$(dirname "$0")/ownerlib.sh"

is_v2() { [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; }

# The slices and their loans go between tests (vsd's exit prunes their
# empty cgroups; the harness's leak check then finds none): a loan left
# from one test that ends during the next would change what it checks.
reset_after_test() {
        destroy_all_vps || return 1
        rm -f "$R"/var/lib/paene/slices/* "$R"/var/lib/paene/slices/.loans
        lib_reset_after_test "$@"
}

slice_file() { echo "$R/var/lib/paene/slices/$1"; }

# slice_cg CONTROLLER SLICE: the slice's cgroup directory on the hierarchy
# of CONTROLLER (v1 name), below this shell's (= vsd's) cgroup.
slice_cg() {
        local path
        if is_v2; then
                path=$(awk -F: '$1 == "0" {print $3}' /proc/self/cgroup)
                echo "/sys/fs/cgroup${path%/}/$CG/$2"
        else
                path=$(awk -F: -v c="$1" '{n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3}' /proc/self/cgroup)
                echo "/sys/fs/cgroup/$1${path%/}/$CG/$2"
        fi
}

# CPU time the slice's VPS used together, in µs, from the slice's cgroup.
slice_cpu_usec() {
        if is_v2; then
                awk '$1 == "usage_usec" {print $2}' "$(slice_cg cpu "$1")/cpu.stat"
        else
                echo $(($(cat "$(slice_cg cpuacct "$1")/cpuacct.usage") / 1000))
        fi
}

now_usec() { echo $(($(date +%s%N) / 1000)); }

oom_kills() {
        vs status "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["oom_kills"])'
}

# The CPU a slice's VPS got together over a window of 3 s (bounded by
# wait_for on the clock), in thousandths of a CPU.
slice_share() {
        local before after t0 t1
        before=$(slice_cpu_usec "$1")
        t0=$(now_usec)
        wait_for 10 '[ $(($(now_usec) - t0)) -ge 3000000 ]'
        after=$(slice_cpu_usec "$1")
        t1=$(now_usec)
        echo $(((after - before) * 1000 / (t1 - t0)))
}

# What a refused request must leave as it was: the slice files and every
# VPS's config.
snapshot() {
        (
                cd "$R/var/lib/paene" || exit 1
                # NAME.usage: the counters of what a running VPS sent, the
                # tick's (and its temporary .NAME.usage.tmp.PID while written)
                ls -a vps slices | grep -v '[.]usage\($\|[.]tmp[.]\)'
                for f in vps/*/config slices/* slices/.loans; do
                        [ -e "$f" ] && [ "${f%.usage}" = "$f" ] || continue
                        echo "== $f"
                        cat "$f"
                done
        ) | sha256sum
        slice_caps_all | sha256sum
}

# The caps in the cgroup level of every slice that has one (while a VPS of
# it runs): what a refused request must not have written either.
slice_caps_all() {
        local f c file
        for f in "$R"/var/lib/paene/slices/*; do
                [ -e "$f" ] || continue
                for c in cpu memory pids; do
                        for file in cpu.weight cpu.max cpu.shares cpu.cfs_quota_us memory.max \
                                memory.limit_in_bytes memory.low pids.max; do
                                [ -f "$(slice_cg $c "${f##*/}")/$file" ] || continue
                                echo "${f##*/} $c $file $(cat "$(slice_cg $c "${f##*/}")/$file")"
                        done
                done
        done
}

# refused RC WHAT NEEDLE CMD...: exit RC, one line naming NEEDLE, nothing
# changed
refused() {
        local rc=$1 what=$2 needle=$3 before lines
        shift 3
        before=$(snapshot)
        expect_rc "$rc" "$what" -- "$@"
        expect_contains "$ERR" "$needle" "$what: message"
        lines=$(printf '%s\n' "$ERR" | grep -c .)
        expect_eq 1 "$lines" "$what: one line ($ERR)"
        expect_eq "$before" "$(snapshot)" "$what: nothing changed"
}

key_of() { sed -n "s/^$2 = //p" "$(slice_file "$1")"; }

# dhours SECONDS: "1d23h", as slice list shows a time left of a day or more
dhours() { printf '%dd%02dh' $(($1 / 86400)) $(($1 % 86400 / 3600)); }

test_an_admin_creates_lists_sets_and_destroys_a_slice() {
        local out now exp exp2 left before after line
        now=$(date +%s)
        vs slice create s1 --owner vsslc_a --cpulimit 50% --ram 256M --numproc 100 \
                --bytes-per-day 5M --max-vps 2 --expires +2d --templates busybox
        expect_eq "$(id -u vsslc_a)" "$(key_of s1 owners)" "owners as uids"
        expect_eq 50% "$(key_of s1 cpulimit)" "cpulimit"
        expect_eq 256M "$(key_of s1 ram)" "ram"
        expect_eq 100 "$(key_of s1 numproc)" "numproc"
        expect_eq 5242880 "$(key_of s1 bytes_per_day)" "bytes_per_day in bytes"
        expect_eq 2 "$(key_of s1 max_vps)" "max_vps"
        expect_eq busybox "$(key_of s1 templates)" "templates"
        exp=$(key_of s1 expires)
        [ "$exp" -ge $((now + 2 * 86400)) ] && [ "$exp" -le $((now + 2 * 86400 + 60)) ] ||
                fail "expires $exp is not two days after $now"
        vs slice create s2 --owner "$(id -u vsslc_b),vsslc_a" --expires 2099-01-02T03:04
        expect_eq "$(id -u vsslc_b),$(id -u vsslc_a)" "$(key_of s2 owners)" "two owners"
        exp2=$(date -u -d 2099-01-02T03:04 +%s)
        expect_eq "$exp2" "$(key_of s2 expires)" "a date, in UTC"
        out=$(vs slice list -H -o name,owners,cpulimit,expires | tr -s ' ')
        expect_eq "s1 vsslc_a 50% $(date -u -d "@$exp" +%Y-%m-%dT%H:%MZ)
s2 vsslc_b,vsslc_a - 2099-01-02T03:04Z" "$out" "slice list, by name"
        # the time left: two days less the seconds since create
        before=$(dhours $((exp - $(date +%s))))
        out=$(vs slice list -H -o name,left | tr -s ' ')
        after=$(dhours $((exp - $(date +%s))))
        line=$(sed -n 1p <<<"$out")
        [ "$line" = "s1 $before" ] || [ "$line" = "s1 $after" ] ||
                fail "slice list: s1's time left is '$line', not $before"
        expect_eq "s2 $(((exp2 - $(date +%s)) / 86400))d" "$(sed -n '2s/d[0-9]*h$/d/p' <<<"$out")" \
                "slice list: s2's time left, in days"
        # an hour may turn between the two readings of the clock: either side is right
        before=$(dhours $((exp - $(date +%s))))
        out=$(vs slice status s1)
        after=$(dhours $((exp - $(date +%s))))
        expect_contains "$out" "ram            256M" "status: ram"
        expect_contains "$out" "owners         vsslc_a" "status: owners"
        expect_contains "$out" "budget         5.0M" "status: the byte budget"
        expect_contains "$out" "used           0" "status: nothing sent yet"
        expect_contains "$out" "resets         -" "status: no window open yet"
        grep -qxE "left +($before|$after)" <<<"$out" ||
                fail "status: the time left is not $before or $after: $(grep '^left' <<<"$out")"
        out=$(vs slice status --json s1)
        expect_eq "5242880 0 0 $exp" "$(python3 -c 'import json,sys; s=json.load(sys.stdin)
print(s["budget"], s["used"], s["resets"], s["expires"])' <<<"$out")" "status --json: budget, used, resets, expires"
        out=$(vs slice list --json)
        left=$(python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["left"])' <<<"$out")
        [ "$left" -gt $((2 * 86400 - 120)) ] && [ "$left" -le $((2 * 86400 + 60)) ] ||
                fail "list --json: left $left is not two days"
        # live: the slice's cgroup has the caps at once
        expect_eq 100 "$(cat "$(slice_cg pids s1)/pids.max")" "pids.max of the slice"
        vs slice set s1 --ram 512M --numproc 150
        expect_eq 512M "$(key_of s1 ram)" "set ram"
        expect_eq 150 "$(cat "$(slice_cg pids s1)/pids.max")" "pids.max after set"
        vs slice destroy s1
        [ ! -e "$(slice_file s1)" ] || fail "s1's file is left"
        [ ! -d "$(slice_cg pids s1)" ] || fail "s1's cgroup is left"
        vs slice destroy s2
}

test_each_owner_drives_only_their_own_slice() {
        local out
        vs slice create sa --owner vsslc_a --ram 256M
        vs slice create sb --owner vsslc_b
        as vsslc_a create sa-web --template busybox
        as vsslc_b create sb-web --template busybox
        as vsslc_a start sa-web
        out=$(as vsslc_a list -a -H -o name,slice)
        expect_eq "sa-web sa" "$(echo "$out" | tr -s ' ')" "a's list"
        out=$(as vsslc_b list -a -H -o name)
        expect_eq "sb-web" "$out" "b's list"
        out=$(vs list -a -H --slice sb -o name)
        expect_eq "sb-web" "$out" "list --slice"
        out=$(as vsslc_a status sa-web)
        expect_eq "sa-web exist running (slice sa)" "$out" "status shows the slice"
        out=$(as vsslc_a slice list -H -o name)
        expect_eq "sa" "$out" "a's slice list: only sa"
        out=$(as vsslc_a slice status sa)
        expect_contains "$out" "running        1" "a's slice status"
        refused 3 "another slice's status" "no such slice" as vsslc_a slice status sb
        refused 3 "a slice that does not exist" "no such slice" as vsslc_a slice status sz
        refused 3 "another slice's VPS" "no such VPS" as vsslc_a start sb-web
        expect_rc 3 "another slice's VPS (status)" -- as vsslc_a status sb-web
        expect_eq "sb-web deleted" "$OUT" "as one that does not exist"
        refused 5 "an owner's slice create" "permission denied" \
                as vsslc_a slice create sc --owner vsslc_a
        refused 5 "an owner's slice set" "permission denied" as vsslc_a slice set sa --ram 1G
        refused 5 "an owner's slice destroy" "permission denied" as vsslc_a slice destroy sa
        refused 5 "an owner's limit beyond the slice" "beyond" \
                as vsslc_a set sa-web --ram 300M
        [ "$(state_of sb-web)" = stopped ] || fail "sb-web changed"
}

test_two_vps_of_a_slice_share_its_50_percent_cpulimit() {
        local before after t0 t1 share try
        vs slice create sc --owner vsslc_a --cpulimit 50% --ram 256M
        # neither VPS has a CPU cap of its own: the slice's holds them
        vs create sc-a --template busybox --slice sc
        vs create sc-b --template busybox --slice sc
        for v in sc-a sc-b; do
                vs start "$v"
                install_payload "$v"
                [ -d "$(slice_cg cpu sc)/$v" ] || fail "$v is not below the slice's cgroup"
        done
        if is_v2; then
                expect_eq "50000 100000" "$(cat "$(slice_cg cpu sc)/cpu.max")" "slice cpu.max"
                expect_eq max "$(cat "$(slice_cg cpu sc)/sc-a/cpu.max" | cut -d' ' -f1)" \
                        "sc-a has no cap of its own"
                expect_eq $((256 << 20)) "$(cat "$(slice_cg memory sc)/memory.max")" "memory.max"
        else
                expect_eq 50000 "$(cat "$(slice_cg cpu sc)/cpu.cfs_quota_us")" "slice quota"
                expect_eq -1 "$(cat "$(slice_cg cpu sc)/sc-a/cpu.cfs_quota_us")" \
                        "sc-a has no cap of its own"
                expect_eq $((256 << 20)) "$(cat "$(slice_cg memory sc)/memory.limit_in_bytes")" \
                        "memory limit"
        fi
        # they burn until their VPS go
        vs exec sc-a -- /payload cpuburn 600 &
        vs exec sc-b -- /payload cpuburn 600 &
        wait_for 10 '[ "$(cat "$(slice_cg pids sc)/pids.current")" -ge 4 ]' ||
                fail "the burners did not start"
        # a shared host can take CPU from the slice, never give it more than
        # the cap: a window below the range is measured again, at most 3 times
        for try in 1 2 3; do
                share=$(slice_share sc)
                echo "    slice cpulimit 50%, two burners: $share/1000 of a CPU (load $(cut -d' ' -f1 /proc/loadavg))" >&2
                [ "$share" -le 650 ] || fail "share $share/1000 is above 0.5 + 0.15"
                [ "$share" -lt 350 ] || break
        done
        if [ "$share" -lt 350 ]; then
                # too little: the cap, or a host too busy to give half a CPU?
                # Two uncapped burners in a slice without caps beside it say.
                local control
                vs slice create sn --owner vsslc_b
                vs create sn-a --template busybox --slice sn
                vs start sn-a
                install_payload sn-a
                vs exec sn-a -- /payload cpuburn 600 &
                vs exec sn-a -- /payload cpuburn 600 &
                wait_for 10 '[ "$(cat "$(slice_cg pids sn)/pids.current")" -ge 3 ]' ||
                        fail "the control burners did not start"
                control=$(slice_share sn)
                share=$(slice_share sc)
                echo "    two uncapped burners beside it: $control/1000; capped now $share/1000" >&2
                vs destroy --force sn-a
                # two uncapped burners get two CPUs of an idle host: less
                # than one says the host had no half CPU to give
                if [ "$share" -lt 350 ] && [ "$control" -lt 1000 ]; then
                        vs destroy --force sc-a
                        vs destroy --force sc-b
                        wait
                        skip "host too busy to measure: two uncapped burners got $control/1000 of a CPU"
                fi
        fi
        [ "$share" -ge 350 ] || fail "share $share/1000 is below 0.5 - 0.15"
        # live: the slice's cap changes at once
        vs slice set sc --cpulimit 30%
        if is_v2; then
                expect_eq "30000 100000" "$(cat "$(slice_cg cpu sc)/cpu.max")" "cpu.max after set"
        else
                expect_eq 30000 "$(cat "$(slice_cg cpu sc)/cpu.cfs_quota_us")" "quota after set"
        fi
        vs destroy --force sc-a
        vs destroy --force sc-b
        wait
}

test_a_fork_bomb_in_one_slice_leaves_the_other_able_to_fork() {
        local out count
        vs slice create sa --owner vsslc_a --numproc 30
        vs slice create sb --owner vsslc_b --numproc 100
        as vsslc_a create sa-bomb --template busybox
        as vsslc_a create sa-two --template busybox
        as vsslc_b create sb-web --template busybox
        for v in sa-bomb sa-two sb-web; do
                vs start "$v"
                install_payload "$v"
        done
        expect_eq 30 "$(cat "$(slice_cg pids sa)/pids.max")" "the slice's pids.max"
        expect_eq max "$(cat "$(slice_cg pids sa)/sa-bomb/pids.max")" "sa-bomb has no cap"
        out=$(mktemp)
        # it holds its children until its VPS goes
        as vsslc_a exec sa-bomb -- /payload forkbomb 600 >"$out" &
        wait_for 15 '[ -s "$out" ]' || fail "the fork bomb did not report"
        count=$(cat "$out")
        rm -f "$out"
        echo "    slice numproc 30: the fork bomb made $count children" >&2
        # the two inits and the bomb count too
        [ "$count" -le 27 ] && [ "$count" -ge 15 ] || fail "fork bomb made $count children"
        expect_eq 30 "$(cat "$(slice_cg pids sa)/pids.current")" "the slice is full"
        # the bombed slice's other VPS cannot fork; the other slice can
        expect_rc 0 "the other slice forks" -- as vsslc_b exec sb-web -- /payload forkbomb 0
        [ "$OUT" -ge 90 ] || fail "the other slice made only $OUT of its 100 processes"
        expect_eq 30 "$(cat "$(slice_cg pids sa)/pids.current")" "the slice is still full"
        if as vsslc_a exec sa-two -- sh -c 'true & wait' 2>/dev/null; then
                fail "a VPS of the full slice forked"
        fi
        vs destroy --force sa-bomb
        wait
}

test_a_vps_without_a_ram_limit_is_held_by_its_slices() {
        local rc=0
        vs slice create sm --owner vsslc_a --ram 64M
        vs create sm-a --template busybox --slice sm
        vs create sm-b --template busybox --slice sm
        for v in sm-a sm-b; do
                vs start "$v"
                install_payload "$v"
        done
        if is_v2; then
                expect_eq $((64 << 20)) "$(cat "$(slice_cg memory sm)/memory.max")" "memory.max"
                expect_eq max "$(cat "$(slice_cg memory sm)/sm-a/memory.max")" "sm-a has no limit"
        else
                expect_eq $((64 << 20)) "$(cat "$(slice_cg memory sm)/memory.limit_in_bytes")" \
                        "the slice's memory limit"
        fi
        expect_eq done "$(vs exec sm-a -- /payload memhog 16)" "within the slice"
        vs exec sm-a -- /payload memhog 200 >/dev/null 2>&1 || rc=$?
        expect_eq 137 "$rc" "the hog beyond the slice's memory was SIGKILLed"
        # the slice's VPS share it: one holding 40M leaves the other less
        vs exec sm-b -- /payload memhog 40 600 >/dev/null 2>&1 &
        wait_for 20 '[ "$(cat "$(slice_cg memory sm)/memory.$(is_v2 && echo current || echo usage_in_bytes)")" -ge $((40 << 20)) ]' ||
                fail "the holder did not take its 40M"
        # 40M more: the kernel kills one of the two (the larger), whichever
        vs exec sm-a -- /payload memhog 40 >/dev/null 2>&1 || true
        [ $(($(oom_kills sm-a) + $(oom_kills sm-b))) -ge 2 ] ||
                fail "80M in a slice of 64M and no second OOM kill"
        [ "$(cat "$(slice_cg memory sm)/$(is_v2 && echo memory.peak || echo memory.max_usage_in_bytes)")" \
                -le $((64 << 20)) ] || fail "the slice's peak is above its 64M"
        vs destroy --force sm-b
        vs destroy --force sm-a
        wait
}

# A vsd that restarts adopts a slice's running VPS where they are and writes
# the slice's caps again, as its file says now (an admin may edit it).
test_a_new_vsd_adopts_a_slices_vps_under_the_slices_caps() {
        local pid
        vs slice create sr --owner vsslc_a --numproc 40
        vs create sr-a --template busybox --slice sr
        vs start sr-a
        pid=$(vs list -H -o pid,name | awk '$2 == "sr-a" {print $1}')
        stop_vsd
        sed -i 's/^numproc = .*/numproc = 45/' "$(slice_file sr)"
        start_vsd
        expect_eq "sr-a exist running (slice sr)" "$(vs status sr-a)" "adopted"
        expect_eq "$pid" "$(vs list -H -o pid,name | awk '$2 == "sr-a" {print $1}')" "the same init"
        grep -qx "$pid" "$(slice_cg pids sr)/sr-a/cgroup.procs" || fail "the init left sr-a's cgroup"
        expect_eq 45 "$(cat "$(slice_cg pids sr)/pids.max")" "the file's numproc, written again"
        vs destroy --force sr-a
}

# cpu weight as the slice's cgroup holds it (v2: cpu.weight of the shares)
slice_shares() {
        if is_v2; then
                cat "$(slice_cg cpu "$1")/cpu.weight"
        else
                cat "$(slice_cg cpu "$1")/cpu.shares"
        fi
}

shares_as_file() { # shares: what slice_shares reads for them
        if is_v2; then
                echo $((1 + ((($1 - 2) * 9999) / 262142)))
        else
                echo "$1"
        fi
}

test_a_loan_moves_cpu_weight_and_ram_and_its_end_moves_them_back() {
        local out id
        vs slice create la --owner vsslc_a --cpuunits 1000 --ram 256M
        vs slice create lb --owner vsslc_b --cpuunits 500 --ram 128M
        vs create la-x --template busybox --slice la --ram 200M
        refused 4 "a loan of more than the lender has" "cannot lend" \
                vs slice loan la lb --cpuunits 1000
        refused 4 "a loan below what the lender's VPS has" "la-x" \
                vs slice loan la lb --ram 100M
        refused 3 "a loan by the borrower's owner" "no such slice" \
                as vsslc_b slice loan la lb --cpuunits 100
        refused 2 "a loan that ended before it began" "in the past" \
                vs slice loan la lb --cpuunits 100 --until 2001-01-01
        out=$(as vsslc_a slice loan la lb --cpuunits 300)
        id=$(echo "$out" | awk '{print $2}' | tr -d :)
        expect_eq "loan $id: la lends to lb" "$out" "the loan"
        expect_eq "$(shares_as_file 700)" "$(slice_shares la)" "the lender's weight, at once"
        expect_eq "$(shares_as_file 800)" "$(slice_shares lb)" "the borrower's weight, at once"
        expect_contains "$(vs slice status la)" "cpuunits       700" "the lender's limits"
        expect_contains "$(as vsslc_b slice status lb)" "cpuunits       800" "the borrower's limits"
        expect_eq 1000 "$(key_of la cpuunits)" "the lender's file keeps its own"
        out=$(as vsslc_b slice loans | awk 'NR > 1 {print $1, $2, $3, $4, $5}')
        expect_eq "$id la lb cpuunits 300" "$out" "the borrower sees the loan"
        refused 3 "a revoke by the borrower's owner" "no such loan" as vsslc_b slice revoke "$id"
        vs slice revoke "$id"
        expect_eq "$(shares_as_file 1000)" "$(slice_shares la)" "revoked: the weight back"
        expect_eq "$(shares_as_file 500)" "$(slice_shares lb)" "revoked: the borrower's back"
        # a loan with an end: vsd's tick (5 s) moves it back
        vs slice loan la lb --ram 32M --until +8s
        expect_contains "$(vs slice status lb)" "ram            $((160 << 20))" "the ram loan"
        wait_for 30 '[ -z "$(vs slice loans | awk "NR > 1")" ]' || fail "the loan did not end"
        expect_contains "$(vs slice status lb)" "ram            128M" "ended: ram back"
}

test_a_loan_of_rate_out_moves_the_cap_of_the_vps_rates_and_revoke_moves_it_back() {
        local out id
        vs slice create ra --owner vsslc_a --rate-out 20M
        vs slice create rb --owner vsslc_b --rate-out 10M
        vs create ra-x --template busybox --slice ra --rate-out 15M
        vs create rb-x --template busybox --slice rb --rate-out 10M
        refused 4 "a rate loan of all the lender has" "cannot lend" \
                vs slice loan ra rb --rate-out 20M
        refused 4 "a rate loan below what the lender's VPS has" "VPS ra-x: --rate-out 15M" \
                vs slice loan ra rb --rate-out 10M
        refused 2 "a rate that is none" "--rate-out" vs slice loan ra rb --rate-out 0
        refused 5 "above the borrower's rate before the loan" "beyond slice rb's limit" \
                as vsslc_b set rb-x --rate-out 15M
        out=$(as vsslc_a slice loan ra rb --rate-out 5M)
        id=$(echo "$out" | awk '{print $2}' | tr -d :)
        expect_contains "$(vs slice status ra)" "rate_out       15M" "the lender's rate"
        expect_contains "$(as vsslc_b slice status rb)" "rate_out       15M" "the borrower's rate"
        expect_eq 20M "$(key_of ra rate_out)" "the lender's file keeps its own"
        out=$(as vsslc_b slice loans | awk 'NR > 1 {print $1, $2, $3, $4, $5}')
        expect_eq "$id ra rb rate_out 5000000" "$out" "the loan of bits/s"
        as vsslc_b set rb-x --rate-out 15M
        expect_eq 15000000 "$(sed -n 's/^rate_out = //p' "$(vps_dir rb-x)/config")" \
                "the borrower's VPS set up to the rate lent"
        refused 5 "above the borrower's rate with the loan" "beyond slice rb's limit" \
                as vsslc_b set rb-x --rate-out 16M
        vs slice revoke "$id"
        expect_contains "$(vs slice status rb)" "rate_out       10M" "revoked: the rate back"
        refused 5 "above the borrower's rate after the loan" "beyond slice rb's limit" \
                as vsslc_b set rb-x --rate-out 12M
        # a loan with an end: past it the rate is the borrower's own again
        vs slice loan ra rb --rate-out 4M --until +4s
        expect_contains "$(vs slice status rb)" "rate_out       14M" "the rate loan with an end"
        wait_for 30 '[ -z "$(vs slice loans | awk "NR > 1")" ]' || fail "the loan did not end"
        expect_contains "$(vs slice status rb)" "rate_out       10M" "ended: the rate back"
        expect_contains "$(vs slice status ra)" "rate_out       20M" "ended: the lender's back"
}

test_a_slice_file_broken_by_hand_is_one_error_to_every_reader_until_set_mends_it() {
        vs slice create sk --owner vsslc_a --cpuunits 500 --expires +2d
        vs slice create sl --owner vsslc_b --cpuunits 500
        vs create sk-a --template busybox --slice sk
        sed -i 's/^cpuunits = .*/cpuunits = lots/' "$(slice_file sk)"
        refused 1 "status of a broken slice" "slice sk's file: --cpuunits" vs slice status sk
        refused 1 "a start in a broken slice" "slice sk's file: --cpuunits" vs start sk-a
        refused 1 "a VPS created in a broken slice" "slice sk's file: --cpuunits" \
                vs create sk-b --template busybox --slice sk
        refused 1 "a loan from a broken slice" "slice sk's file: --cpuunits" \
                vs slice loan sk sl --cpuunits 100
        refused 1 "a loan to a broken slice" "slice sk's file: --cpuunits" \
                vs slice loan sl sk --cpuunits 100
        # its owners are no owners while it is broken: vsslc_a owns no other
        refused 5 "the broken slice's owner" "slice owners may use vsd" as vsslc_a list
        expect_eq "" "$(vs slice list -H -o name | grep -x sk)" "slice list leaves it out"
        vs slice set sk --cpuunits 600
        expect_contains "$(vs slice status sk)" "cpuunits       600" "set mends it"
        vs start sk-a
        expect_contains "$(as vsslc_a list)" "sk-a" "its owner's again"
}

test_a_loan_to_a_slice_not_the_owners_tells_only_whether_it_took() {
        local none
        vs slice create ta --owner vsslc_a --cpuunits 1000 --ram 256M
        vs slice create tb --owner vsslc_b --cpuunits 500
        vs slice create tc --owner vsslc_b --cpuunits 500
        sed -i 's/^cpuunits = .*/cpuunits = lots/' "$(slice_file tc)"
        refused 3 "a loan to no slice" "no such slice" as vsslc_a slice loan ta tz --ram 32M
        none=$ERR
        # another's slice without the limit, or with a broken file: as none
        refused 3 "to another's slice without the limit" "no such slice" \
                as vsslc_a slice loan ta tb --ram 32M
        expect_eq "$none" "$ERR" "another's slice answers as none"
        refused 3 "to another's broken slice" "no such slice" \
                as vsslc_a slice loan ta tc --cpuunits 100
        expect_eq "$none" "$ERR" "a broken one too"
        refused 3 "an admin's loan to no slice" "no such slice" vs slice loan ta tz --ram 32M
        expect_eq "$none" "$ERR" "the admin's answer to none is the owner's"
        # what the lender cannot lend is said first, whatever the borrower
        refused 4 "too much, to no slice" "cannot lend" \
                as vsslc_a slice loan ta tz --cpuunits 1000
        none=$ERR
        refused 4 "too much, to another's slice" "cannot lend" \
                as vsslc_a slice loan ta tb --cpuunits 1000
        expect_eq "$none" "$ERR" "the lender's refusal does not depend on the borrower"
        # an admin is told why
        refused 4 "an admin's loan to a slice without the limit" "slice tb has no --ram" \
                vs slice loan ta tb --ram 32M
        refused 1 "an admin's loan to a broken slice" "slice tc's file: --cpuunits" \
                vs slice loan ta tc --cpuunits 100
        # and the loan the owner of ta may give, to a slice not theirs
        as vsslc_a slice loan ta tb --cpuunits 100
        expect_contains "$(vs slice status tb)" "cpuunits       600" "the loan took"
}

# fail_writes FILE: vsd's writes to a cgroup file fail (EROFS) from now
# on: a read-only bind mount of a copy over it, which heal_writes removes.
fail_writes() {
        cat "$1" >"$R/frozen-cgroup-file"
        mount --bind "$R/frozen-cgroup-file" "$1"
        mount -o remount,bind,ro "$1"
}
heal_writes() { umount "$1"; }

# A loan is in force in the book and both slices' cgroups, or nowhere: a
# loan whose second cgroup write (the borrower's memory limit) fails is
# refused and leaves the book and both cgroups as they were (the lender's,
# written first, is written back), and so does a revoke that fails so; an
# end the tick cannot write is tried again at the next tick.
test_a_loan_whose_cgroup_write_fails_changes_nothing() {
        local f id lim
        vs slice create fa --owner vsslc_a --cpuunits 1000 --ram 256M >/dev/null
        vs slice create fb --owner vsslc_b --cpuunits 500 --ram 128M >/dev/null
        vs create fa-x --template busybox --slice fa --ram 64M --ipadd none
        vs create fb-x --template busybox --slice fb --ram 64M --ipadd none
        vs start fa-x
        vs start fb-x
        if is_v2; then lim=memory.max; else lim=memory.limit_in_bytes; fi
        f=$(slice_cg memory fb)/$lim
        expect_eq $((128 << 20)) "$(cat "$f")" "the borrower's cgroup holds its ram"
        # the mount goes before the harness removes the cgroups
        trap "heal_writes '$f' 2>/dev/null || :" EXIT
        fail_writes "$f"
        refused 1 "a loan whose borrower's cgroup write fails" "slice fb's cgroup" \
                vs slice loan fa fb --ram 32M
        expect_eq "" "$(vs slice loans | awk 'NR > 1')" "no loan in the book"
        expect_eq $((256 << 20)) "$(cat "$(slice_cg memory fa)/$lim")" "the lender's cgroup as it was"
        heal_writes "$f"
        expect_eq $((128 << 20)) "$(cat "$f")" "the borrower's cgroup as it was"
        # a loan that took, and a revoke whose write fails: the loan stays
        id=$(vs slice loan fa fb --ram 32M | awk '{print $2}' | tr -d :)
        expect_eq $((160 << 20)) "$(cat "$f")" "the loan in the borrower's cgroup"
        fail_writes "$f"
        refused 1 "a revoke whose borrower's cgroup write fails" "slice fb's cgroup" \
                vs slice revoke "$id"
        expect_eq "$id fa fb ram" "$(vs slice loans | awk 'NR > 1 {print $1, $2, $3, $4}')" "the loan stays in the book"
        expect_eq $((224 << 20)) "$(cat "$(slice_cg memory fa)/$lim")" "the lender's cgroup keeps the loan"
        heal_writes "$f"
        expect_eq $((160 << 20)) "$(cat "$f")" "the borrower's cgroup keeps the loan"
        vs slice revoke "$id" >/dev/null
        expect_eq $((128 << 20)) "$(cat "$f")" "revoked: the borrower's ram back"
        expect_eq $((256 << 20)) "$(cat "$(slice_cg memory fa)/$lim")" "revoked: the lender's back"
        # a loan whose end the tick (5 s) cannot write stays in the book,
        # and the next tick after the cgroup heals moves the ram back
        id=$(vs slice loan fa fb --ram 32M --until +6s | awk '{print $2}' | tr -d :)
        fail_writes "$f"
        wait_for 30 '[ "$(cat "$(slice_cg memory fa)/$lim")" = $((256 << 20)) ]' ||
                fail "no tick wrote the lender's end of the loan"
        grep -q "^$id = fa fb ram" "$R/var/lib/paene/slices/.loans" ||
                fail "the loan the tick could not end left the book"
        heal_writes "$f"
        wait_for 30 '[ "$(cat "$f")" = $((128 << 20)) ]' ||
                fail "the borrower's cgroup keeps the ended loan: $(cat "$f")"
        wait_for 30 '! grep -q "^$id = " "$R/var/lib/paene/slices/.loans"' ||
                fail "the ended loan stays in the book"
        vs destroy --force fa-x
        vs destroy --force fb-x
}

test_slice_destroy_is_refused_with_vps_and_force_removes_them() {
        local d
        vs slice create sd --owner vsslc_a --numproc 50
        vs create sd-a --template busybox --slice sd
        vs create sd-b --template busybox --slice sd
        vs start sd-a
        refused 4 "destroy with VPS" "has 2 VPS" vs slice destroy sd
        [ "$(state_of sd-a)" = running ] || fail "sd-a stopped"
        vs slice destroy sd --force
        [ ! -e "$(vps_dir sd-a)" ] && [ ! -e "$(vps_dir sd-b)" ] || fail "a VPS of sd is left"
        [ ! -e "$(slice_file sd)" ] || fail "sd's file is left"
        for d in $(cgroup_dirs); do
                [ ! -d "$d/sd" ] || fail "sd's cgroup is left in $d"
        done
}

test_bad_input_is_one_line_and_changes_nothing() {
        vs slice create se --owner vsslc_a --ram 256M --cpulimit 50% --max-vps 2
        vs create se-a --template busybox --slice se --ram 128M --rate-out 10M
        vs start se-a
        [ -n "$(slice_caps_all)" ] || fail "no caps in se's cgroup to compare"
        refused 3 "an unknown user" "no such user 'nobody_paene_x'" \
                vs slice create sf --owner vsslc_a,nobody_paene_x
        refused 3 "an unknown uid" "no such user" vs slice create sf --owner 3999999
        refused 2 "an expiry in the past" "in the past" vs slice create sf --owner vsslc_a \
                --expires 2001-01-01
        refused 2 "a bad expiry" "--expires" vs slice create sf --owner vsslc_a --expires tomorrow
        refused 4 "a slice that exists" "already exists" vs slice create se --owner vsslc_a
        refused 4 "a limit below its VPS's" "VPS se-a: --ram 128M is above slice se's --ram 64M" \
                vs slice set se --ram 64M
        refused 4 "a rate below its VPS's" "VPS se-a: --rate-out 10M is above slice se's" \
                vs slice set se --rate-out 1M
        refused 2 "an expiry set in the past" "in the past" vs slice set se --expires 2001-01-01
        refused 4 "a VPS limit above the slice's" "--cpulimit 80% is above" \
                vs create se-b --template busybox --slice se --cpulimit 80%
        refused 4 "a set above the slice's" "--ram 512M is above" vs set se-a --ram 512M
        vs slice set se --max-vps 1
        refused 4 "max_vps" "max_vps" vs create se-c --template busybox --slice se
        refused 3 "a slice that does not exist" "no such slice" \
                vs create sz-a --template busybox --slice sz
        refused 3 "status of no slice" "no such slice" vs slice status sz
        refused 2 "a limit slices do not take" "unknown" vs slice set se --swap 1G
        refused 2 "no setting" "no setting given" vs slice set se
}

run_tests
