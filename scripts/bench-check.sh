#!/usr/bin/env bash
# Reproduces the checked-mode and heap-profile cost figures of
# docs/BENCHMARKS.md ("Checked mode and profiling"). Interleaved A/B, RUNS
# rounds; each round runs, one after the other:
#   - BenchmarkPair/hakmem/64 with HAKMEM_CHECK=0 and =1;
#   - the battle's larson with HAKMEM_CHECK=0 and =1;
#   - the battle scenarios BATTLE with HAKMEM_PROFILE_RATE=512 (the
#     default) and =0 (profiling off).
# Each line of the raw output is: figure, variant, ns/op, CPU seconds of
# the process (user+sys). The summary gives medians and the median of the
# run-by-run ratios (the second variant over the first).
#
# With BASE=<git revision>, each round also runs BenchmarkPair/hakmem/64 and
# /4096 of that revision and of this tree (default settings): the fast
# paths' cost of the hooks.
#
#   scripts/bench-check.sh                      # 5 rounds
#   RUNS=3 BATTLE='larson json' BASE=2c7de1f scripts/bench-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
battle=${BATTLE:-larson random-mixed-400 xmalloc json mir}
out=${OUT:-$(mktemp -t hakmem-check.XXXXXX)}
bin=$(mktemp -t hakmem-test.XXXXXX)
cli=$(mktemp -t hakmem-cli.XXXXXX)
go test -c -o "$bin" .
go build -o "$cli" ./cmd/hakmem
if [[ -n ${BASE:-} ]]; then
	basedir=$(mktemp -d -t hakmem-base.XXXXXX)
	git archive "$BASE" | tar -x -C "$basedir"
	basebin=$(mktemp -t hakmem-basetest.XXXXXX)
	(cd "$basedir" && go test -c -o "$basebin" .)
	rm -rf "$basedir"
fi
cpu=$(mktemp -t hakmem-cpu.XXXXXX)

# timed VARIANT FIGURE-PREFIX CMD...: runs CMD, prints "figure variant ns/op cpu-s".
timed() {
	local variant=$1 prefix=$2
	shift 2
	/usr/bin/time -f '%U %S' -o "$cpu" "$@" | awk -v v="$variant" -v p="$prefix" -v cpu="$(cat "$cpu" 2>/dev/null)" \
		'/^Benchmark/ { for (i = 1; i <= NF; i++) if ($(i+1) == "ns/op") ns = $i; name = $1; sub(/-[0-9]+$/, "", name); lines[n++] = p name " " v " " ns }
		 END { for (i = 0; i < n; i++) print lines[i] }'
	awk -v v="$variant" -v p="$prefix" '{ printf "%scpu %s %.3f\n", p, v, $1 + $2 }' "$cpu"
}

{
	echo "# $(date -u +%FT%TZ) $(go version) $(git rev-parse --short HEAD 2>/dev/null || echo nogit) nproc=$(nproc)"
	for i in $(seq "$runs"); do
		for check in 0 1; do
			HAKMEM_CHECK=$check timed "check=$check" "core:" "$bin" -test.run '^$' -test.bench '^BenchmarkPair$/hakmem/64$' -test.benchtime 200ms -test.count 1
			HAKMEM_CHECK=$check timed "check=$check" "battle-check:" "$cli" bench --runs 1 --allocators hakmem --format gobench larson
		done
		if [[ -n ${BASE:-} ]]; then
			timed "base" "fastpath:" "$basebin" -test.run '^$' -test.bench '^BenchmarkPair$/hakmem/(64|4096)$' -test.benchtime 200ms -test.count 1
			timed "tree" "fastpath:" "$bin" -test.run '^$' -test.bench '^BenchmarkPair$/hakmem/(64|4096)$' -test.benchtime 200ms -test.count 1
		fi
		for rate in 512 0; do
			HAKMEM_PROFILE_RATE=$rate timed "profile=$rate" "battle-profile:" "$cli" bench --runs 1 --allocators hakmem --format gobench $battle
		done
	done
} | tee "$out" >&2
rm -f "$bin" "$cli" "$cpu" "${basebin:-}"
echo "raw output: $out" >&2
awk '
	/^#/ { next }
	{ key = $1 "|" $2; v[key, ++n[key]] = $3; fig[$1] = 1; vars[$1, $2] = 1 }
	function median(key,   i, j, t, m, a) {
		m = n[key]; for (i = 1; i <= m; i++) a[i] = v[key, i]
		for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
	}
	END {
		for (f in fig) {
			split("", pair); k = 0
			for (x in vars) { split(x, s, SUBSEP); if (s[1] == f) pair[++k] = s[2] }
			if (k != 2) continue
			if (pair[1] > pair[2]) { t = pair[1]; pair[1] = pair[2]; pair[2] = t }
			a = f "|" pair[1]; b = f "|" pair[2]
			# ratio of the second variant to the first, run by run
			for (i = 1; i <= n[a] && i <= n[b]; i++) r[f, i] = v[b, i] / v[a, i]
			split("", rr); for (i = 1; i <= n[a] && i <= n[b]; i++) rr[i] = r[f, i]
			m = i - 1
			for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (rr[j] < rr[i]) { t = rr[i]; rr[i] = rr[j]; rr[j] = t }
			med = m % 2 ? rr[(m + 1) / 2] : (rr[m / 2] + rr[m / 2 + 1]) / 2
			printf "%-40s %-12s %10.2f   %-12s %10.2f   ratio %.2f (%.2f..%.2f, %d runs)\n", f, pair[1], median(a), pair[2], median(b), med, rr[1], rr[m], m
		}
	}' "$out" | sort
