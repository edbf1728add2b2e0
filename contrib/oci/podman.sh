#!/bin/bash
# podman with paene-oci as its OCI runtime, on a busybox image imported from
# a rootfs tarball (no registry here): run --rm, run -d, exec, ps, pause,
# unpause, --memory felt inside, --cpus felt inside, stop, rm. Prints one
# line per check and "N passed, N failed".
#
#   contrib/oci/podman.sh [RUNTIME]
#
# podman keeps its storage and run state in a temp dir of its own (vfs, no
# daemon), runs every container with --network none (no bridge or firewall
# rule on the host), and puts the containers' cgroups below this shell's own
# (--cgroup-parent; paene-oci nests cgroupsPath below its caller's cgroup).
# Root here lacks CAP_SYS_RESOURCE, so podman's default rlimits (nofile
# 1048576) cannot be set: --ulimit names ones that can.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
runtime=$(realpath "${1:-$top/${BUILD:-build}/paene-oci}")
command -v podman >/dev/null || { echo "podman.sh: podman is not installed (apt-get install podman)" >&2; exit 2; }
[ -x "$runtime" ] || { echo "podman.sh: $runtime is not executable" >&2; exit 2; }

work=$(mktemp -d /tmp/paene-podman.XXXXXX)
own=$(sed -n 's/^[0-9]*:memory://p' /proc/self/cgroup)
parent="${own%/}/paene-podman-$$"
P=(podman --root "$work/storage" --runroot "$work/run" --storage-driver vfs
        --cgroup-manager cgroupfs --events-backend none --runtime "$runtime")
RUN=(--network none --ulimit nofile=1024:1024 --ulimit nproc=32768:32768 --cgroup-parent "$parent")
IMAGE=localhost/paene-busybox
passed=0
failed=0

# conmon puts itself in <parent>/conmon from each hierarchy's root: on the
# v1 hierarchies where this shell's cgroup is the root, the directories of
# $own appear too. Those that did not exist before are removed at the end.
made=()
for d in /sys/fs/cgroup/*/; do
        p=$d${own#/}
        while [ "$p" != "${d%/}" ] && [ ! -e "$p" ]; do
                made+=("$p")
                p=${p%/*}
        done
done

cleanup() {
        "${P[@]}" rm -a -f -t 0 >/dev/null 2>&1
        "${P[@]}" rmi -a -f >/dev/null 2>&1
        # the cgroups podman, conmon and paene-oci made below ours
        local d
        for d in /sys/fs/cgroup/*/"${parent#/}" /sys/fs/cgroup/*/"${own#/}"/"${parent#/}"; do
                [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
        done
        for d in "${made[@]}"; do # deepest first, as they were listed
                [ -d "$d" ] && rmdir "$d" 2>/dev/null
        done
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

# the image: busybox-static with its applets
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/proc" "$work/rootfs/sys" \
        "$work/rootfs/dev" "$work/rootfs/tmp"
cp /bin/busybox "$work/rootfs/bin/busybox"
for t in $("$work/rootfs/bin/busybox" --list); do
        [ "$t" = busybox ] || ln -s busybox "$work/rootfs/bin/$t"
done
echo "root:x:0:0:root:/root:/bin/sh" >"$work/rootfs/etc/passwd"
echo "root:x:0:" >"$work/rootfs/etc/group"
tar -C "$work/rootfs" -cf "$work/busybox.tar" .
"${P[@]}" import "$work/busybox.tar" "$IMAGE" >/dev/null || { echo "podman import failed" >&2; exit 1; }

check "run --rm echo hi" hi "$(timeout 60 "${P[@]}" run --rm "${RUN[@]}" "$IMAGE" echo hi 2>&1)"
check "run --rm exit status" 3 "$(timeout 60 "${P[@]}" run --rm "${RUN[@]}" "$IMAGE" sh -c 'exit 3' >/dev/null 2>&1; echo $?)"
id=$(timeout 60 "${P[@]}" run -d --name paene1 --memory 64m --cpus 0.5 "${RUN[@]}" "$IMAGE" sleep 1000)
check "run -d" 0 "$?"
check "ps shows it running" Up "$("${P[@]}" ps --filter name=paene1 --format '{{.Status}}' | cut -d' ' -f1)"
check "exec" paene-exec "$(timeout 30 "${P[@]}" exec paene1 sh -c 'echo paene-exec')"
check "exec sees the container's pid 1" sleep "$(timeout 30 "${P[@]}" exec paene1 cat /proc/1/comm)"
check "memory.limit_in_bytes inside" 67108864 "$(timeout 30 "${P[@]}" exec paene1 cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"
timeout 30 "${P[@]}" exec paene1 dd if=/dev/zero of=/dev/null bs=32M count=1 >/dev/null 2>&1
check "32M buffer fits in --memory 64m" 0 "$?"
timeout 30 "${P[@]}" exec paene1 dd if=/dev/zero of=/dev/null bs=100M count=1 >/dev/null 2>&1
check "100M buffer is killed under --memory 64m" 137 "$?"
check "cpu.cfs_quota_us inside (--cpus 0.5)" 50000 "$(timeout 30 "${P[@]}" exec paene1 cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)"
# --cpus felt: a busy loop for 2 s of wall time gets about 1 s of CPU
# (CPU ns from cpuacct.usage, wall time from /proc/uptime in 1/100 s)
share=$(timeout 30 "${P[@]}" exec paene1 sh -c '
        up() { read -r u _ </proc/uptime; echo "${u%.*}${u#*.}"; }
        a=$(cat /sys/fs/cgroup/cpuacct/cpuacct.usage); t0=$(up)
        timeout 2 sh -c "while :; do :; done"
        b=$(cat /sys/fs/cgroup/cpuacct/cpuacct.usage); t1=$(up)
        echo $(( (b - a) / ((t1 - t0) * 100000) ))')
echo "# a busy loop under --cpus 0.5 got ${share}% of one CPU"
check "--cpus 0.5 felt (40-60% of a CPU)" yes "$([ "${share:-0}" -ge 40 ] && [ "${share:-0}" -le 60 ] && echo yes || echo no)"
timeout 30 "${P[@]}" pause paene1 >/dev/null
check "pause" Paused "$("${P[@]}" ps -a --filter name=paene1 --format '{{.Status}}' | cut -d' ' -f1)"
timeout 30 "${P[@]}" unpause paene1 >/dev/null
check "unpause" Up "$("${P[@]}" ps --filter name=paene1 --format '{{.Status}}' | cut -d' ' -f1)"
timeout 60 "${P[@]}" stop -t 1 paene1 >/dev/null 2>&1
check "stop" Exited "$("${P[@]}" ps -a --filter name=paene1 --format '{{.Status}}' | cut -d' ' -f1)"
timeout 60 "${P[@]}" rm paene1 >/dev/null
check "rm" "" "$("${P[@]}" ps -a -q --filter name=paene1)"
check "paene-oci's state of it is gone" "" "$(find "$work/run" -path "*$id*" -name state.json 2>/dev/null)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
