# shellcheck shell=bash
# The timing helpers of the benchmarks in contrib/bench/ (sourced by them):
# one clock and one way to take a median, so that one benchmark's figures
# are taken as another's are.

# now_us: the time in microseconds, in REPLY, without forking (a $(date)
# would put a fork into every figure)
now_us() { local t=$EPOCHREALTIME; REPLY=${t/[.,]/}; }

# median_us < microseconds, one a line: their median, in microseconds
median_us() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# median_ms < microseconds: their median in ms, two decimals (nothing for none)
median_ms() { sort -n | awk '{v[NR] = $1} END {if (NR) printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] / 1000 : (v[NR / 2] + v[NR / 2 + 1]) / 2000}'; }

# summary_ms LABEL WIDTH FORMAT [p99] < microseconds: one line, "LABEL
# median M  [p99 P  ]min A  max B  (ms, n=N)", LABEL padded to WIDTH and
# each figure printed as %FORMAT f (8.3: %8.3f); the 99th percentile by
# nearest rank, ceil(0.99 n)
summary_ms() {
        sort -n | awk -v label="$1" -v width="$2" -v f="%$3f" -v p99="${4:-}" '
                { v[NR] = $1 }
                END {
                        n = NR
                        med = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
                        printf "%-" width "s median " f, label, med / 1000
                        if (p99 != "") {
                                k = int((99 * n + 99) / 100)
                                printf "  p99 " f, v[k] / 1000
                        }
                        printf "  min " f "  max " f "  (ms, n=%d)\n", v[1] / 1000, v[n] / 1000, n
                }'
}
