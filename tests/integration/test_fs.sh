#!/bin/bash
# The file system a package manager needs: in a default (user-namespaced)
# VPS, on the plain upper layer (fsp) and on the image-backed one (fsd,
# --diskspace), every operation dpkg, apt, systemd and a database make works
# through the overlay root, and the template below stays shared and unwritten.
. "$(dirname "$0")/lib.sh"

VPSES="fsp fsd"

init_pid() { vs status "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])'; }

# Every file of a template: path, inode, links, mode, owner, size, mtime,
# ctime (an xattr or link written to it would move it) and content.
template_state() {
        (cd "$(tmpl_dir "$1")/rootfs" &&
                find . -printf '%p %i %n %m %U:%G %s %T@ %C@\n' | sort &&
                find . -type f -exec md5sum {} + | sort -k 2)
}

# The kernel's warnings and errors (overlay's fallbacks are warnings; its
# note that xino is on is information only).
kernel_warnings() { dmesg --level=emerg,alert,crit,err,warn; }

# Overlay's warnings since there were $1 warnings in the kernel log.
overlay_warnings_since() {
        kernel_warnings | tail -n +"$(($1 + 1))" | grep -i 'overlay' || [ "${PIPESTATUS[2]}" -eq 1 ]
}

# fsbase: the busybox template plus a hard-linked pair of files, as a
# distribution's tree has (dpkg's and perl's, say).
make_fsbase() {
        rm -rf "$R/fsbase"
        cp -a "$(tmpl_dir busybox)/rootfs" "$R/fsbase"
        echo original >"$R/fsbase/etc/pair.a"
        ln "$R/fsbase/etc/pair.a" "$R/fsbase/etc/pair.b"
        mkdir -p "$R/fsbase/usr/share/doc/pkg"
        echo doc >"$R/fsbase/usr/share/doc/pkg/copyright"
        tar --numeric-owner -C "$R/fsbase" -cf "$R/fsbase.tar" .
        vs template import fsbase "$R/fsbase.tar" >/dev/null
        rm -rf "$R/fsbase" "$R/fsbase.tar"
}

setup_once
make_fsbase || die "fsbase template"
template_state fsbase >"$R/fsbase.before"
warnings=$(kernel_warnings | wc -l) || die "kernel log unreadable"

# Every test gets the two VPS fresh (the harness destroys what a test made
# and restarts vsd between tests).
before_each() {
        vs create fsp --template fsbase >/dev/null
        vs create fsd --template fsbase --diskspace 200M >/dev/null
        for v in $VPSES; do
                vs start "$v" >/dev/null
                install_payload "$v"
        done
}

test_no_overlay_warning_at_start() {
        local found
        found=$(overlay_warnings_since "$warnings")
        expect_eq "" "$found" "overlay's kernel warnings"
}

# dpkg replaces a package's directory by renaming it (EXDEV without
# redirect_dir, which dpkg does not fall back from); the rename survives a
# restart (the redirect is followed when the overlay is mounted again).
test_rename_of_a_template_directory() {
        local v
        for v in $VPSES; do
                expect_eq "fs rename: ok" "$(vs exec "$v" -- /payload fs rename /usr/share/doc/pkg \
                        /usr/share/doc/pkg.dpkg-tmp)" "rename(2) of a template directory in $v"
                expect_eq doc "$(vs exec "$v" -- cat /usr/share/doc/pkg.dpkg-tmp/copyright)" \
                        "renamed directory's file in $v"
                expect_rc 1 "old name gone in $v" -- vs exec "$v" -- test -e /usr/share/doc/pkg
                vs exec "$v" -- /payload fs rename /etc/init.d /etc/init.d.moved >/dev/null
                vs exec "$v" -- test -d /etc/init.d.moved
        done
        vs stop fsp >/dev/null
        vs start fsp >/dev/null
        expect_eq doc "$(vs exec fsp -- cat /usr/share/doc/pkg.dpkg-tmp/copyright)" \
                "renamed directory after a restart"
        expect_rc 1 "old name still gone after a restart" -- vs exec fsp -- test -e /usr/share/doc/pkg
        vs exec fsp -- test -d /etc/init.d.moved
        install_payload fsp
}

# A new link to a template file, and a template file's own hard links, stay
# one inode when either name is written (index=on keeps them together on
# copy-up; without it the names come apart).
test_hard_links_across_layers() {
        local v a b
        for v in $VPSES; do
                expect_eq "fs link: ok" "$(vs exec "$v" -- /payload fs link /bin/busybox /bin/bb.link)" \
                        "link(2) of a template file in $v"
                a=$(vs exec "$v" -- stat -c '%i %h' /bin/busybox)
                b=$(vs exec "$v" -- stat -c '%i %h' /bin/bb.link)
                expect_eq "$a" "$b" "both names one inode in $v"
                expect_eq 2 "${a#* }" "link count in $v"
                vs exec "$v" -- sh -c 'echo changed > /etc/pair.a'
                expect_eq changed "$(vs exec "$v" -- cat /etc/pair.b)" "pair.b after a write to pair.a in $v"
                a=$(vs exec "$v" -- stat -c '%i %h' /etc/pair.a)
                b=$(vs exec "$v" -- stat -c '%i %h' /etc/pair.b)
                expect_eq "$a" "$b" "template pair still one inode in $v"
        done
}

test_xattrs_user_and_file_capabilities() {
        local v eff
        for v in $VPSES; do
                expect_eq "fs xattr: ok" "$(vs exec "$v" -- /payload fs xattr /etc/passwd user.test v1)" \
                        "user.* on a template file in $v"
                vs exec "$v" -- sh -c 'echo x > /root/new'
                expect_eq "fs xattr: ok" "$(vs exec "$v" -- /payload fs xattr /root/new user.mime text)" \
                        "user.* on a new file in $v"
                # ping's setcap cap_net_raw+ep: an unprivileged user who runs
                # it gets the capability
                vs exec "$v" -- cp /payload /bin/payload
                expect_eq "fs setcap: ok" "$(vs exec "$v" -- /payload fs setcap /bin/payload)" \
                        "security.capability in $v"
                eff=$(vs exec "$v" -- /payload fs runas 1000 /bin/payload fs capeff)
                expect_eq "CapEff:	0000000000002000" "$eff" "cap_net_raw of a user running it in $v"
                eff=$(vs exec "$v" -- /payload fs runas 1000 /payload fs capeff)
                expect_eq "CapEff:	0000000000000000" "$eff" "the same user without it in $v"
        done
}

test_locks_fsync_sparse_tmpfile_sockets_fifos() {
        local v out size alloc
        for v in $VPSES; do
                expect_eq "fs flock: ok" "$(vs exec "$v" -- /payload fs flock /var/lock.f)" "flock in $v"
                expect_eq "fs fcntl: ok" "$(vs exec "$v" -- /payload fs fcntl /etc/passwd)" \
                        "fcntl lock on a template file in $v"
                expect_eq "fs fsync: ok" "$(vs exec "$v" -- /payload fs fsync /root/synced)" "fsync in $v"
                out=$(vs exec "$v" -- /payload fs sparse /root/sparse)
                size=$(echo "$out" | awk '{print $4}')
                alloc=$(echo "$out" | awk '{print $6}')
                expect_eq 67108865 "$size" "sparse file's size in $v"
                [ "$alloc" -lt 1048576 ] || fail "sparse file in $v allocates $alloc bytes"
                expect_eq "fs tmpfile: ok" "$(vs exec "$v" -- /payload fs tmpfile /root /root/was-tmp)" \
                        "O_TMPFILE in $v"
                expect_eq "fs unixsock: ok" "$(vs exec "$v" -- /payload fs unixsock /root/sock)" \
                        "unix socket in $v"
                expect_eq "fs fifo: ok" "$(vs exec "$v" -- /payload fs fifo /root/fifo)" "FIFO in $v"
        done
}

# Last (tests run in name order): after all the writes above, the template
# is as it was, and both roots still run on its inodes.
test_zz_template_unchanged_and_shared() {
        local tino v pid ino
        template_state fsbase >"$R/fsbase.after"
        diff "$R/fsbase.before" "$R/fsbase.after" >&2 || fail "the template changed"
        tino=$(stat -c %i "$(tmpl_dir fsbase)/rootfs/bin/busybox")
        for v in $VPSES; do
                # the init maps the template's own inode; where the upper is
                # another file system (fsd's image), xino=auto keeps the
                # layer's number above the 32 bits of ext4's inode number
                pid=$(init_pid "$v")
                ino=$(awk '$6 == "/bin/busybox" {print $5; exit}' "/proc/$pid/maps")
                [ -n "$ino" ] || fail "no busybox mapped by the init of $v"
                expect_eq "$tino" "$((ino & 0xffffffff))" "init of $v maps the template's busybox"
        done
        # on one file system (the plain upper) overlay shows the lower's inode
        expect_eq "$(stat -c %i "$(tmpl_dir fsbase)/rootfs/etc/shells")" \
                "$(vs exec fsp -- stat -c %i /etc/shells)" "template inode seen in fsp"
}

run_tests
