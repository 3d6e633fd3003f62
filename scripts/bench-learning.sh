#!/usr/bin/env bash
# Reproduces the learning layer's acceptance figures: the
# BenchmarkLearnAccept* benchmarks of learn_accept_bench_test.go, run RUNS
# times interleaved (every benchmark once per run, -test.count 1, so drift
# hits all of them alike) from one compiled test binary, then summarised as
# the median of every metric over the runs.
#
#   scripts/bench-learning.sh                  # 5 runs
#   RUNS=3 scripts/bench-learning.sh
#
# Every benchmark runs one whole experiment per run (-test.benchtime 1x):
# Wrong and Shift learn and time windows; Right interleaves learning off,
# frozen and live on a workload where the default is right, one window each
# per round, and reports the per-round ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
out=${OUT:-$(mktemp -t hakmem-bench-learning.XXXXXX)}

bin=$(mktemp -t hakmem-test.XXXXXX)
go test -c -o "$bin" .
{
	echo "# $(date -u +%FT%TZ) $(go version) $(git rev-parse --short HEAD 2>/dev/null || echo nogit)"
	echo "# $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2-) nproc=$(nproc)"
	for i in $(seq "$runs"); do
		"$bin" -test.run '^$' -test.bench '^BenchmarkLearnAccept(Wrong|Shift|Right|Cache)$' -test.benchtime 1x -test.count 1
	done
} | tee "$out" >&2
rm -f "$bin"
echo "raw output: $out" >&2
# Medians: one line per benchmark and metric.
awk '
/^Benchmark/ {
	name = $1
	for (i = 3; i + 1 <= NF; i += 2) {
		key = name "\t" $(i + 1)
		n[key]++
		v[key, n[key]] = $i
		if (!(key in seen)) { seen[key] = 1; order[++k] = key }
	}
}
END {
	printf "%-42s %-20s %14s  %s\n", "benchmark", "metric", "median", "runs"
	for (j = 1; j <= k; j++) {
		key = order[j]; m = n[key]
		for (a = 1; a <= m; a++) x[a] = v[key, a]
		for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++) if (x[b] < x[a]) { t = x[a]; x[a] = x[b]; x[b] = t }
		med = (m % 2) ? x[(m + 1) / 2] : (x[m / 2] + x[m / 2 + 1]) / 2
		runs = ""
		for (a = 1; a <= m; a++) runs = runs " " v[key, a]
		split(key, p, "\t")
		printf "%-42s %-20s %14.4g  [%s ]\n", p[1], p[2], med, runs
	}
}' "$out"
