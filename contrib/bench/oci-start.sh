#!/bin/bash
# Start latency of an OCI runtime: `create` + `start` of a busybox bundle
# whose process is `true`, paene-oci against crun, on the same bundle in
# the same hyperfine run (the container is deleted before each run, not
# timed). Prints hyperfine's table.
#
#   contrib/bench/oci-start.sh [RUNS]
#
# Both run in a private mount namespace where a tmpfs hides the cgroup2
# mount of this hybrid host: crun refuses a hybrid host whose cgroup2 has
# controllers, and paene-oci then works on the v1 hierarchies alone too.
# Both make a real cgroup: cgroupsPath is below this shell's own memory
# cgroup (paene-oci nests it below its caller's cgroup on every hierarchy,
# crun takes it from each hierarchy's root); what either made is removed.
set -u
runs=${1:-50}
top=$(cd "$(dirname "$0")/../.." && pwd)
oci=$top/${BUILD:-build}/paene-oci
for t in hyperfine crun busybox; do
        command -v "$t" >/dev/null || { echo "oci-start.sh: $t missing (apt-get install $t)" >&2; exit 2; }
done
[ -x "$oci" ] || { echo "oci-start.sh: build $oci first (make all)" >&2; exit 2; }

work=$(mktemp -d /tmp/paene-oci-bench.XXXXXX)
own=$(sed -n 's/^[0-9]*:memory://p' /proc/self/cgroup)
cgp="${own%/}/paene-oci-bench-$$"
made=()
for d in /sys/fs/cgroup/*/; do
        p=$d${own#/}
        while [ "$p" != "${d%/}" ] && [ ! -e "$p" ]; do
                made+=("$p")
                p=${p%/*}
        done
done
cleanup() {
        "$oci" --root "$work/paene" delete -f bench >/dev/null 2>&1
        crun --root "$work/crun" delete -f bench >/dev/null 2>&1
        local d
        for d in /sys/fs/cgroup/*/"${cgp#/}" /sys/fs/cgroup/*/"${own#/}"/"${cgp#/}"; do
                [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
        done
        for d in "${made[@]}"; do
                [ -d "$d" ] && rmdir "$d" 2>/dev/null
        done
        rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/bundle/rootfs/bin" "$work/bundle/rootfs/proc" "$work/bundle/rootfs/sys" \
        "$work/bundle/rootfs/dev"
cp "$(command -v busybox)" "$work/bundle/rootfs/bin/busybox"
ln -s busybox "$work/bundle/rootfs/bin/true"
"$oci" spec --bundle "$work/bundle" || exit 1
python3 - "$work/bundle/config.json" "$cgp/bench" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["true"]
c["linux"]["cgroupsPath"] = sys.argv[2]
json.dump(c, open(sys.argv[1], "w"))
EOF

export oci work
unshare -m --propagation private sh -c '
        mount -t tmpfs -o size=1k paene-hide-cgroup2 /sys/fs/cgroup/unified || exit 1
        hyperfine --warmup 3 --runs '"$runs"' \
                --prepare "$oci --root $work/paene delete -f bench; true" \
                -n paene-oci "$oci --root $work/paene create --bundle $work/bundle bench && $oci --root $work/paene start bench" \
                --prepare "crun --root $work/crun delete -f bench 2>/dev/null; true" \
                -n crun "crun --root $work/crun create --bundle $work/bundle bench && crun --root $work/crun start bench"
'
