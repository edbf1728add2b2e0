#!/bin/bash
# containerd with paene-oci behind its runc shim (io.containerd.runc.v2):
# `ctr run --runc-binary`, run -d, task exec, kill, delete, on a busybox
# image imported from an OCI archive that podman makes from a rootfs
# tarball (no registry here). Prints one line per check and
# "N passed, N failed".
#
#   contrib/oci/containerd.sh [RUNTIME]
#
# containerd runs on a private root, state and socket of this script's, with
# its CRI plugin off (no CNI, no host network change); ctr's containers get
# an empty network namespace of their own.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
runtime=$(realpath "${1:-$top/${BUILD:-build}/paene-oci}")
for t in containerd ctr podman; do
        command -v "$t" >/dev/null || { echo "containerd.sh: $t missing (apt-get install $t)" >&2; exit 2; }
done
[ -x "$runtime" ] || { echo "containerd.sh: $runtime is not executable" >&2; exit 2; }

work=$(mktemp -d /tmp/paene-containerd.XXXXXX)
ns=paene$$
C=(ctr -a "$work/sock" -n "$ns")
P=(podman --root "$work/podman" --runroot "$work/podman-run" --storage-driver vfs
        --cgroup-manager cgroupfs --events-backend none)
IMAGE=localhost/paene-busybox:latest
passed=0
failed=0
# the shim gives the runtime --root /run/containerd/runc/<namespace>
shim_root=/run/containerd/runc/$ns

cleanup() {
        local t
        for t in $("${C[@]}" task ls -q 2>/dev/null); do
                "${C[@]}" task kill -s SIGKILL "$t" >/dev/null 2>&1
                "${C[@]}" task delete -f "$t" >/dev/null 2>&1
        done
        for t in $("${C[@]}" container ls -q 2>/dev/null); do
                "${C[@]}" container delete "$t" >/dev/null 2>&1
        done
        [ -n "${daemon:-}" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
        rmdir "$shim_root" 2>/dev/null
        "${P[@]}" rmi -a -f >/dev/null 2>&1
        grep " $work" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r umount -l
        rm -rf "$work"
}
trap cleanup EXIT

check() { # what expected actual
        if [ "$2" = "$3" ]; then
                echo "ok $1"
                passed=$((passed + 1))
        else
                echo "not ok $1: expected '$2', got '$3'"
                failed=$((failed + 1))
        fi
}

cat >"$work/config.toml" <<EOF
version = 2
root = "$work/root"
state = "$work/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$work/sock"
[ttrpc]
  address = "$work/sock.ttrpc"
[debug]
  address = "$work/debug.sock"
[metrics]
  address = ""
EOF
containerd --config "$work/config.toml" >"$work/containerd.log" 2>&1 &
daemon=$!
for _ in $(seq 100); do
        "${C[@]}" version >/dev/null 2>&1 && break
        sleep 0.1
done
"${C[@]}" version >/dev/null 2>&1 || { echo "containerd did not start: $(tail -3 "$work/containerd.log")" >&2; exit 1; }

mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/proc" "$work/rootfs/sys" \
        "$work/rootfs/dev" "$work/rootfs/tmp"
cp /bin/busybox "$work/rootfs/bin/busybox"
for t in $("$work/rootfs/bin/busybox" --list); do
        [ "$t" = busybox ] || ln -s busybox "$work/rootfs/bin/$t"
done
echo "root:x:0:0:root:/root:/bin/sh" >"$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -cf "$work/busybox.tar" .
"${P[@]}" import "$work/busybox.tar" localhost/paene-busybox >/dev/null 2>&1 &&
        "${P[@]}" save --format oci-archive -o "$work/image.tar" localhost/paene-busybox >/dev/null 2>&1 &&
        "${C[@]}" images import --base-name localhost/paene-busybox "$work/image.tar" >/dev/null ||
        { echo "image import failed" >&2; exit 1; }

check "ctr run --rm" hi "$(timeout 60 "${C[@]}" run --rm --runc-binary "$runtime" "$IMAGE" c1 echo hi 2>&1)"
timeout 60 "${C[@]}" run -d --runc-binary "$runtime" "$IMAGE" c2 sleep 1000 >/dev/null
check "ctr run -d" RUNNING "$("${C[@]}" task ls | awk '$1 == "c2" {print $3}')"
check "task exec" "sleep" "$(timeout 30 "${C[@]}" task exec --exec-id e1 c2 cat /proc/1/comm)"
timeout 30 "${C[@]}" task kill -s SIGKILL c2
for _ in $(seq 100); do
        [ "$("${C[@]}" task ls | awk '$1 == "c2" {print $3}')" = STOPPED ] && break
        sleep 0.1
done
check "task kill" STOPPED "$("${C[@]}" task ls | awk '$1 == "c2" {print $3}')"
timeout 30 "${C[@]}" task delete c2 >/dev/null
check "task delete" "" "$("${C[@]}" task ls -q)"
timeout 30 "${C[@]}" container delete c2
check "container delete" "" "$("${C[@]}" container ls -q)"
check "paene-oci's state is gone" "" "$(ls "$shim_root" 2>/dev/null)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
