#!/bin/bash
# vsctl clone: a stopped VPS's own files (owners, modes, xattrs, hard links,
# special files) and config are copied into an identical, independent VPS.
. "$(dirname "$0")/lib.sh"

# One line per file below a directory: path, type, mode, owner, link count,
# symlink target, device numbers and user xattrs; identical trees give
# identical listings.
# A VPS's first host id (its range holds 65536), 0 for a privileged one.
id_base_of() {
        sed -n 's/^id_base = //p' "$(vps_dir "$1")/config" | grep . || echo 0
}

tree_listing() { # DIR [ID_BASE]: owners inside the VPS's range shown relative to it
        local base=${2:-0}
        # overlay hard-links its whiteouts (char 0:0) to one in work/, which
        # clone does not copy: their link count is left out
        (cd "$1" && find . -printf '%p %y %m %U %G %n %l\n' |
                awk -v b="$base" '$2 == "c" {$6 = "-"}
                        b > 0 && $4 >= b && $4 < b + 65536 {$4 -= b}
                        b > 0 && $5 >= b && $5 < b + 65536 {$5 -= b} 1' | sort)
        python3 - "$1" <<'PY'
import os, sys
top = sys.argv[1]
for d, dirs, files in sorted(os.walk(top)):
    for n in sorted(dirs + files):
        p = os.path.join(d, n)
        st = os.lstat(p)
        rdev = (os.major(st.st_rdev), os.minor(st.st_rdev)) if not os.path.isdir(p) else ()
        xs = sorted((k, os.getxattr(p, k, follow_symlinks=False)) for k in
                    os.listxattr(p, follow_symlinks=False))
        print(os.path.relpath(p, top), rdev, xs)
PY
}

# Groups of paths that share an inode (hard links), by path only.
link_groups() {
        (cd "$1" && find . -type f -links +1 -printf '%i %p\n' | sort -k2 |
                awk '{g[$1] = g[$1] " " $2} END {for (i in g) print g[i]}' | sort)
}

test_clone_copies_an_identical_independent_vps() {
        local c1_ip c2_ip
        vs create c1 --template busybox --hostname c1.example
        vs start c1
        vs exec c1 -- sh -c '
                echo data > /root/file
                chown 1234:5678 /root/file
                chmod 4750 /root/file
                ln /root/file /root/hardlink
                ln -s /root/file /root/symlink
                mkfifo /root/fifo
                mknod /root/null c 1 3
                rm /etc/shells
                mkdir -p /srv/deep/er && echo x > /srv/deep/er/y'
        vs stop c1
        python3 -c 'import os,sys; os.setxattr(sys.argv[1], "user.paene", b"kept")' \
                "$(vps_dir c1)/upper/root/file"
        vs clone c1 c2 --hostname c2.example
        # the clone has an id range of its own; its files moved into it
        [ "$(id_base_of c1)" != "$(id_base_of c2)" ] || fail "the clone shares its source's ids"
        expect_eq "$(id_base_of c2)" "$(stat -c %u "$(vps_dir c2)/upper/root")" "clone's root owns its files"
        expect_eq "$(tree_listing "$(vps_dir c1)/upper" "$(id_base_of c1)")" \
                "$(tree_listing "$(vps_dir c2)/upper" "$(id_base_of c2)")" "upper trees"
        expect_eq "$(link_groups "$(vps_dir c1)/upper")" "$(link_groups "$(vps_dir c2)/upper" |
                sed 's/c2/c1/g')" "hard links"
        [ -n "$(link_groups "$(vps_dir c2)/upper")" ] || fail "no hard link in the clone"
        grep -q '^hostname = c2.example$' "$(vps_dir c2)/config" || fail "hostname"
        grep -q '^name = c2$' "$(vps_dir c2)/config" || fail "name"
        grep -q '^hostname = c1.example$' "$(vps_dir c1)/config" || fail "source config changed"
        # an address belongs to one VPS: the clone takes the pool's next one
        c1_ip=$(awk -F' = ' '$1 == "ip" {print $2}' "$(vps_dir c1)/config")
        c2_ip=$(awk -F' = ' '$1 == "ip" {print $2}' "$(vps_dir c2)/config")
        [ -n "$c2_ip" ] && [ "$c1_ip" != "$c2_ip" ] || fail "clone's address: '$c2_ip' (source '$c1_ip')"
        vs start c1
        vs start c2
        expect_rc 0 "the clone reaches its source" -- vs exec c2 -- ping -c 1 -W 3 "${c1_ip%/*}"
        vs stop --fast c1
        expect_eq "c2.example" "$(vs exec c2 -- hostname)" "hostname inside"
        expect_eq "data" "$(vs exec c2 -- cat /root/file)" "content"
        expect_eq "1234:5678 4750" "$(vs exec c2 -- stat -c '%u:%g %a' /root/file)" "owner, mode"
        expect_rc 1 "deleted template file stays deleted" -- vs exec c2 -- test -e /etc/shells
        # independent: a write in the clone stays there
        vs exec c2 -- sh -c 'echo clone > /root/file'
        expect_eq "data" "$(cat "$(vps_dir c1)/upper/root/file")" "source untouched"
        vs destroy --force c2
        vs destroy c1
}

test_clone_of_an_image_vps() {
        local uuid1 uuid2
        vs create i1 --template busybox --diskspace 20M --diskinodes 500
        vs start i1
        vs exec i1 -- sh -c 'echo on-image > /root/file'
        install_payload i1
        # a renamed template directory (overlay's redirect, an xattr in the
        # image) is renamed in the clone too
        vs exec i1 -- /payload fs rename /etc/init.d /etc/init.d.moved >/dev/null
        vs stop i1
        vs clone i1 i2
        expect_eq "$(stat -c %s "$(vps_dir i1)/disk.img")" "$(stat -c %s "$(vps_dir i2)/disk.img")" \
                "image size"
        [ "$(du -k "$(vps_dir i2)/disk.img" | cut -f1)" -lt 4096 ] || fail "clone image is not sparse"
        e2fsck -fn "$(vps_dir i2)/disk.img" >/dev/null 2>&1 || fail "clone image not clean"
        uuid1=$(dumpe2fs -h "$(vps_dir i1)/disk.img" 2>/dev/null | grep UUID)
        uuid2=$(dumpe2fs -h "$(vps_dir i2)/disk.img" 2>/dev/null | grep UUID)
        [ "$uuid1" != "$uuid2" ] || fail "clone has its source's UUID"
        grep -q '^diskspace = 20971520:20971520$' "$(vps_dir i2)/config" || fail "limit not copied"
        vs start i1
        vs start i2
        expect_eq "on-image" "$(vs exec i2 -- cat /root/file)" "content"
        vs exec i2 -- test -d /etc/init.d.moved
        expect_rc 1 "renamed directory's old name in the clone" -- vs exec i2 -- test -e /etc/init.d
        expect_eq 512 "$(vs exec i2 -- df -i / | awk 'NR == 2 {print $2}')" "inode limit"
        vs exec i2 -- sh -c 'echo changed > /root/file'
        expect_eq "on-image" "$(vs exec i1 -- cat /root/file)" "source untouched"
        vs destroy --force i1
        vs destroy --force i2
}

# A directory of many files is hash-indexed (htree): its index orders the
# names by a hash keyed with the file system's hash seed. A clone's image
# gets a UUID of its own, and must keep that seed, or the kernel looks its
# names up in the wrong blocks and finds none of them.
test_clone_of_an_image_vps_finds_every_file_of_a_large_directory() {
        vs create h1 --template busybox --diskspace 32M
        vs start h1
        vs exec h1 -- sh -c 'mkdir /root/many && cd /root/many && i=0 && while [ $i -lt 1500 ]; do i=$((i+1)); : >f$i; done'
        vs stop h1
        debugfs -R "htree /upper/root/many" "$(vps_dir h1)/disk.img" 2>&1 | grep -q "Root node dump" ||
                fail "the directory of the source is not hash-indexed"
        vs clone h1 h2
        e2fsck -fn "$(vps_dir h2)/disk.img" >"$R/fsck.out" 2>&1 || fail "clone image not clean: $(grep -i htree "$R/fsck.out" | head -3)"
        vs start h2
        expect_eq 1500 "$(vs exec h2 -- sh -c 'cd /root/many && n=0 && i=0 && while [ $i -lt 1500 ]; do i=$((i+1)); [ -e f$i ] && n=$((n+1)); done; echo $n')" \
                "names of the large directory found in the clone"
        vs destroy --force h2
        vs destroy h1
}

# Ids inside xattrs move with the owners: a POSIX ACL's named user and a
# file capability's root (v3, written by setcap inside a VPS) are stored as
# host ids of the source's range. Left so, the clone's user 1000 loses the
# access its ACL gave and ping's capability is dead (its root is nobody's).
acl_and_caps_work() { # VPS WHAT
        expect_eq secret "$(vs exec "$1" -- /payload fs runas 1000 /bin/cat /root/acl)" \
                "user 1000 reads the file its ACL grants, $2"
        expect_eq "CapEff:	0000000000002000" \
                "$(vs exec "$1" -- /payload fs runas 1000 /bin/payload fs capeff)" \
                "the file capability of a user running it, $2"
}

test_clone_shifts_the_ids_of_acls_and_file_capabilities() {
        local d
        for d in dir image; do
                if [ $d = dir ]; then
                        vs create a1 --template busybox
                else
                        vs create a1 --template busybox --diskspace 32M
                fi
                vs start a1
                install_payload a1
                vs exec a1 -- sh -c 'echo secret >/root/acl && chmod 600 /root/acl && chmod 711 /root && cp /payload /bin/payload'
                expect_eq "fs acl: ok" "$(vs exec a1 -- /payload fs acl /root/acl 1000)" "setfacl on $d"
                expect_eq "fs setcap: ok" "$(vs exec a1 -- /payload fs setcap /bin/payload)" "setcap on $d"
                acl_and_caps_work a1 "in the source on $d"
                vs stop a1
                vs clone a1 a2
                if [ $d = image ]; then
                        e2fsck -fn "$(vps_dir a2)/disk.img" >/dev/null 2>&1 || fail "clone image not clean"
                fi
                vs start a2
                acl_and_caps_work a2 "in the clone on $d"
                vs start a1
                acl_and_caps_work a1 "in the source after the clone on $d"
                vs destroy --force a2
                vs destroy --force a1
        done
}

# A running VPS is copied running, then frozen for a second pass over what
# it changed (issue 17): its files of one
# moment, and it runs on after; cgroup.events on the v2 hierarchy says so.
test_clone_of_a_running_vps() {
        local d ev=""
        vs create lc1 --template busybox
        vs start lc1
        vs exec lc1 -- sh -c 'echo before > /root/mark'
        for d in $(cgroup_dirs); do
                [ -e "$d/default/lc1/cgroup.events" ] && ev="$d/default/lc1/cgroup.events"
        done
        [ -n "$ev" ] || fail "no cgroup v2 hierarchy for the freezer"
        vs clone lc1 lc2
        expect_contains "$(cat "$ev")" "frozen 0" "thawed after the copy"
        expect_eq before "$(vs exec lc1 -- cat /root/mark)" "the source runs on"
        vs start lc2
        expect_eq before "$(vs exec lc2 -- cat /root/mark)" "the copy"
        expect_eq lc1 "$(sed -n 's/^cloned_from = //p' "$(vps_dir lc2)/config")" "origin"
        vs destroy --force lc1
        vs destroy --force lc2
}

test_clone_refusals_change_nothing() {
        vs create r0 --template busybox --diskspace 64M
        vs create r4 --template busybox
        vs start r0
        expect_rc 4 "a running image VPS onto a name that exists" -- vs clone r0 r4
        expect_eq "vsctl: clone r0: VPS r4 already exists" "$ERR" "message"
        vs destroy --force r0
        vs destroy r4
        vs create r1 --template busybox
        expect_rc 2 "bad name" -- vs clone r1 R2
        expect_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "one line"
        expect_rc 2 "no new name" -- vs clone r1
        expect_rc 3 "no source" -- vs clone nosuch r2
        vs create r3 --template busybox
        expect_rc 4 "existing target" -- vs clone r1 r3
        expect_eq "r1 r3" "$(ls "$R/var/lib/paene/vps" | tr '\n' ' ' | sed 's/ $//')" "nothing created"
        vs destroy r1
        vs destroy r3
}

# A restore under another name is a copy as a clone is: a hostname the
# VPS was given stays, but one it only had from its name (create's default)
# follows the new name, or the copy would call itself the source.
test_restore_under_a_new_name_drops_the_sources_default_hostname() {
        local f=$R/rh1.tar.zst
        vs create rh1 --template busybox
        vs create rh3 --template busybox --hostname www.example
        vs backup rh1 "$f"
        vs backup rh3 "$R/rh3.tar.zst"
        vs restore "$f" rh2
        expect_eq rh2 "$(sed -n 's/^hostname = //p' "$(vps_dir rh2)/config")" "the new name's hostname"
        vs start rh2
        expect_eq rh2 "$(vs exec rh2 -- hostname)" "the hostname inside"
        expect_contains "$(vs exec rh2 -- cat /etc/hosts)" "rh2" "its /etc/hosts"
        vs stop rh2
        vs restore "$R/rh3.tar.zst" rh4
        expect_eq www.example "$(sed -n 's/^hostname = //p' "$(vps_dir rh4)/config")" "a given hostname stays"
        # under its own name, as it was
        vs destroy rh1
        vs restore "$f"
        expect_eq rh1 "$(sed -n 's/^hostname = //p' "$(vps_dir rh1)/config")" "its own name"
        for v in rh1 rh2 rh3 rh4; do vs destroy "$v"; done
}

run_tests
