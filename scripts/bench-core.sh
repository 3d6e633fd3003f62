#!/usr/bin/env bash
# Reproduces the core allocator figures of docs/BENCHMARKS.md: the testing.B
# benchmarks of the root package, run RUNS times interleaved (every
# benchmark once per run, so drift hits all of them alike), summarised as
# medians and as run-by-run ratios by internal/benchratio.
#
#   scripts/bench-core.sh                 # 10 runs, 200ms per benchmark
#   RUNS=6 BENCHTIME=100ms BENCH='Pair/' scripts/bench-core.sh
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-10}
benchtime=${BENCHTIME:-200ms}
bench=${BENCH:-'^Benchmark(Pair|PairParallel|Larson)$'}
out=${OUT:-$(mktemp -t hakmem-bench.XXXXXX)}

bin=$(mktemp -t hakmem-test.XXXXXX)
go test -c -o "$bin" .
{
	echo "# $(date -u +%FT%TZ) $(go version) $(git rev-parse --short HEAD 2>/dev/null || echo nogit)"
	echo "# $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2-) nproc=$(nproc)"
	for i in $(seq "$runs"); do
		"$bin" -test.run '^$' -test.bench "$bench" -test.benchtime "$benchtime" -test.benchmem -test.count 1
	done
} | tee "$out" >&2
rm -f "$bin"
echo "raw output: $out" >&2
go run ./internal/benchratio \
	-pair 'Pair/make/*=Pair/hakmem/*' \
	-pair 'Pair/syncpool/*=Pair/hakmem/*' \
	-pair 'Pair/hakmem/*=PairParallel/hakmem/*' \
	-pair 'Larson/make=Larson/hakmem' <"$out"
