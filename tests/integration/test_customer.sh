#!/bin/bash
# What a hosting customer does first, on the Debian fixture (debianlib.sh)
# in a default (unprivileged) VPS with a RAM, CPU and disk-image limit:
# systemd boots, apt installs sshd, nginx, MariaDB, cron and sudo, each
# service runs, ssh with a key, sudo and su work, nginx answers, MariaDB
# keeps a table, an upgrade runs, a reboot inside comes back, vsctl stop
# asks systemd to halt and never kills, and destroy leaves nothing. Where
# the archive cannot be reached every test says so and is skipped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/debianlib.sh"

SERVICES="ssh nginx mariadb cron"

system_state() { vs exec "$1" -- systemctl is-system-running 2>/dev/null; }
pid_of() { vs status "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])'; }
json_field() { # name field
        vs status "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], "(none)"))' "$2"
}

# The VPS's own address, without its prefix.
vps_address() { json_field "$1" ip | cut -d/ -f1; }

wait_running() { # name what
        local vps=$1
        wait_for 90 '[ "$(system_state "$vps")" = running ]' ||
                fail "$vps $2: systemd is '$(system_state "$vps")': $(vs exec "$vps" -- systemctl --failed --no-legend --no-pager 2>&1)"
}

# Every service of the customer's is active (one line each).
expect_services_active() { # name when
        local got
        got=$(vs exec "$1" -- systemctl is-active $SERVICES) ||
                fail "$2: not all of $SERVICES active: $(echo $got)"
        expect_eq "active active active active" "$(echo $got)" "$2: $SERVICES"
}

# ssh from vsd's network namespace to the VPS's address, with the key made
# here and the host key the VPS's sshd made (checked, not trusted blindly).
vps_ssh() { # user command...
        local user=$1
        shift
        in_host ssh -i "$R/id_customer" -o BatchMode=yes -o ConnectTimeout=10 \
                -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$R/known_hosts" \
                -o LogLevel=ERROR "$user@$ADDR" "$@"
}

# HTTP GET of the VPS's nginx, from vsd's network namespace.
http_get() { # url
        in_host python3 -c 'import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
    print(r.status)
    sys.stdout.write(r.read().decode())' "$1"
}

# apt in the VPS goes out through the relay at its gateway.
point_apt_at_relay() {
        local gw
        gw=$(vps_gateway "$1")
        [ -n "$gw" ] || fail "no default route in $1"
        vs exec "$1" -- sh -c "echo 'Acquire::http::Proxy \"http://$gw:$RELAY_PORT/\";' \
                >/etc/apt/apt.conf.d/99relay"
}

# What a VPS has on the host while it runs, for the check after destroy.
host_traces() { # name
        local d
        for d in $(cgroup_dirs); do
                [ -e "$d/default/$1" ] && echo "cgroup $d/default/$1"
        done
        awk -v p="$(vps_dir "$1")" 'index($5, p) == 1 {print "mount " $5}' /proc/self/mountinfo
        losetup -n -O NAME -j "$(vps_dir "$1")/disk.img" 2>/dev/null | sed 's/^/loop /'
        sed -n 's/^ifname = /link /p' "$(vps_dir "$1")/state" 2>/dev/null
        [ -e "$(vps_dir "$1")" ] && echo "dir $(vps_dir "$1")"
        return 0
}

test_what_a_customer_does_first() {
        local before traces left link cust=web1 out
        debian_archive_reachable || skip "$DEBIAN_SKIP"
        debian_template deb || skip "$DEBIAN_SKIP"
        command -v ssh >/dev/null || skip "no ssh client on the host (openssh-client)"

        vs create $cust --template deb --ram 512M --cpus 1 --diskspace 4G >/dev/null
        expect_eq "no" "$(sed -n 's/^privileged = //p' "$(vps_dir $cust)/config")" "a default VPS"
        vs start $cust
        wait_running $cust "after start"

        # apt: the archive through the relay, the customer's packages
        point_apt_at_relay $cust
        vs exec $cust -- apt-get -q update >"$R/update.log" 2>&1 ||
                fail "apt-get update: $(tail -n 3 "$R/update.log")"
        vs exec $cust -- env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
                openssh-server nginx mariadb-server cron sudo >"$R/install.log" 2>&1 ||
                fail "apt-get install: $(grep -m 3 -i 'error\|unable\|failed' "$R/install.log")"
        expect_eq "" "$(vs exec $cust -- dpkg --audit)" "dpkg --audit"
        expect_services_active $cust "after install"
        wait_running $cust "after install"

        # ssh with a key, as root and as a user of the sudo group
        ADDR=$(vps_address $cust)
        [ -n "$ADDR" ] || fail "no address"
        ssh-keygen -q -t ed25519 -N '' -C customer -f "$R/id_customer"
        out=$(vs exec $cust -- cat /etc/ssh/ssh_host_ed25519_key.pub)
        echo "$ADDR $out" >"$R/known_hosts"
        vs exec $cust -- sh -c 'install -d -m 700 /root/.ssh && cat >/root/.ssh/authorized_keys' \
                <"$R/id_customer.pub"
        vs exec $cust -- sh -c 'useradd -m -s /bin/bash -G sudo alice &&
                echo alice:alice-pw | chpasswd && echo root:root-pw | chpasswd &&
                install -d -m 700 -o alice -g alice ~alice/.ssh &&
                install -m 600 -o alice -g alice /root/.ssh/authorized_keys ~alice/.ssh/'
        out=$(vps_ssh root 'hostname; id -un')
        expect_eq "$cust
root" "$out" "ssh as root"
        out=$(vps_ssh alice 'id -un; cat /proc/self/loginuid; echo')
        expect_eq "alice
1000" "$out" "ssh as alice (with PAM's loginuid)"
        out=$(vps_ssh alice 'echo alice-pw | sudo -S -p "" id -un')
        expect_eq root "$out" "sudo with alice's password"
        out=$(vps_ssh alice 'echo root-pw | su -c "id -un" root 2>/dev/null')
        expect_eq root "$out" "su with root's password"
        out=$(vps_ssh alice 'echo wrong | su -c "id -un" root 2>&1') &&
                fail "su with a wrong password succeeded: $out"

        # nginx answers on the VPS's address
        out=$(http_get "http://$ADDR/")
        expect_eq 200 "$(head -n 1 <<<"$out")" "nginx's status"
        expect_contains "$out" "Welcome to nginx!" "nginx's page"

        # MariaDB keeps what its client writes
        vs exec $cust -- mariadb -e 'CREATE DATABASE shop;
                CREATE TABLE shop.orders (id INT PRIMARY KEY, item TEXT) ENGINE=InnoDB;
                INSERT INTO shop.orders VALUES (1, "paene"), (2, "vps");'
        out=$(vs exec $cust -- mariadb -N -B -e 'SELECT item FROM shop.orders ORDER BY id')
        expect_eq "paene
vps" "$out" "MariaDB table read back"

        vs exec $cust -- env DEBIAN_FRONTEND=noninteractive apt-get -y -q upgrade \
                >"$R/upgrade.log" 2>&1 || fail "apt-get upgrade: $(tail -n 3 "$R/upgrade.log")"

        # reboot typed inside: a new init, and the services come back
        before=$(pid_of $cust)
        vs exec $cust -- reboot
        wait_for 30 '[ "$(pid_of $cust)" != "$before" ] && [ "$(pid_of $cust)" != 0 ]' ||
                fail "no new init after reboot ($(vs status $cust))"
        wait_running $cust "after reboot"
        expect_services_active $cust "after reboot"
        out=$(vs exec $cust -- mariadb -N -B -e 'SELECT COUNT(*) FROM shop.orders')
        expect_eq 2 "$out" "the table after reboot"
        out=$(vps_ssh root 'systemctl is-active ssh')
        expect_eq active "$out" "ssh after reboot"
        out=$(http_get "http://$ADDR/")
        expect_eq 200 "$(head -n 1 <<<"$out")" "nginx after reboot"

        # stop: systemd's own halt, which the kernel reports as the init's
        # reboot(HALT) (SIGINT), never vsd's SIGKILL, within the 5 s a
        # customer may wait (vsd kills at the timeout: the stop field and
        # the exit signal below would say so)
        link=$(sed -n 's/^ifname = //p' "$(vps_dir $cust)/state")
        [ -n "$link" ] || fail "no host link in the state"
        vs stop $cust --timeout "$(scaled 5)"
        expect_eq "$cust exist stopped (powered off)" "$(vs status $cust)" "a halt"
        expect_eq "SIGRTMIN+3 to systemd" "$(json_field $cust stop)" "what vsd sent to stop it"
        expect_eq 2 "$(json_field $cust exit_signal)" "ended by its halt (SIGINT), not SIGKILL"
        vs logs $cust >"$R/console.txt"
        grep -a -q 'Stopped .*mariadb\.service' "$R/console.txt" || fail "systemd did not stop MariaDB"
        grep -a -q 'Halting system\.' "$R/console.txt" || fail "no halt in the console log"

        # destroy: nothing of it left on the host
        vs start $cust
        wait_running $cust "before destroy"
        traces=$(host_traces $cust)
        expect_contains "$traces" "loop /dev/loop" "its disk image's loop device (seen before destroy)"
        expect_contains "$traces" "cgroup " "its cgroups (seen before destroy)"
        link=$(sed -n 's/^ifname = //p' "$(vps_dir $cust)/state")
        vs destroy --force $cust
        vs list >/dev/null # the cgroups go with the stop's waiting work
        left=$(host_traces $cust)
        expect_eq "" "$left" "left after destroy"
        in_host ip link show "$link" >/dev/null 2>&1 && fail "link $link left after destroy"
        expect_eq "" "$(losetup -n -l -O BACK-FILE | grep -F "$R/" | grep -F "/$cust/")" \
                "loop devices of $cust"
        expect_eq "" "$(vs list -a -H -o name | grep -x $cust)" "$cust listed"
}

# vsd says how it ended a VPS (status --json "stop", and the stopped
# event): the init's own request, and whether it had to kill.
test_status_says_how_vsd_stopped_a_vps() {
        vs create bb1 --template busybox >/dev/null
        vs start bb1
        wait_for 10 'vs exec bb1 -- true' || fail "bb1 does not run"
        vs stop bb1 --timeout 10
        expect_eq "SIGUSR2 to busybox" "$(json_field bb1 stop)" "busybox init's poweroff"
        vs start bb1
        vs stop --fast bb1
        expect_eq "SIGKILL" "$(json_field bb1 stop)" "a --fast stop"
        # an init that ignores the request (sleep as pid 1 has no handler
        # for it): the request, then the kill
        set_config bb1 init "/bin/sleep infinity"
        vs start bb1
        vs stop bb1 --timeout 1
        expect_contains "$(json_field bb1 stop)" ", then SIGKILL" "an escalated stop"
        expect_eq 9 "$(json_field bb1 exit_signal)" "killed"
        vs destroy bb1
        # a VPS that powers itself off was not stopped by vsd
        vs create bb2 --template busybox >/dev/null
        vs start bb2
        wait_for 10 'vs exec bb2 -- true' || fail "bb2 does not run"
        # (poweroff's own signal: the poweroff command could die in the
        # shutdown's SIGTERM before it returns)
        vs exec bb2 -- kill -USR2 1
        wait_for 10 '[ "$(state_of bb2)" = stopped ]' || fail "bb2 did not power off"
        expect_eq "" "$(json_field bb2 stop)" "no stop by vsd"
        vs destroy bb2
}

setup_once
start_relay || die "archive relay"
run_tests
