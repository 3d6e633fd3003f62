#!/usr/bin/env bash
# What AddressSanitizer's allocator costs on the operations issue 12 sizes
# checked mode against: the peer figure beside docs/BENCHMARKS.md's "Checked
# mode and profiling". It builds the native harness (internal/native/csrc)
# and a malloc/free pair loop twice, plain (glibc malloc) and with
# -fsanitize=address (ASan's allocator: quarantine, poisoning, a stack per
# malloc and free), then runs RUNS interleaved rounds of:
#   - pair: malloc(64), a write, free: CPU ns per pair over N pairs, after
#     WARM pairs (8M: ASan's 256 MiB quarantine is full by then, so the
#     figure is its steady state, as Pair/hakmem/64's is checked mode's);
#   - larson with the battle's parameters (8..1000 B, 5000 chunks, 100
#     rounds, seed 4141, 2 threads, 0.15 s): ns per op (the harness's
#     seconds/ops).
# Each line of the output: figure, variant, value. Needs gcc or clang with
# libasan (Debian: gcc; scripts/install-peers.sh installs the compiler).
#
#   scripts/bench-asan.sh            # 5 rounds
#   RUNS=3 N=2000000 scripts/bench-asan.sh
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
n=${N:-5000000}
warm=${WARM:-8000000}
cc=${CC:-cc}
dir=$(mktemp -d -t hakmem-asan.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/pair.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double cpu(void) { struct timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return t.tv_sec * 1e9 + t.tv_nsec; }
static void pairs(long n) { for (long i = 0; i < n; i++) { char *volatile p = malloc(64); p[0] = 1; free(p); } }
int main(int argc, char **argv) {
	long warm = atol(argv[1]), n = atol(argv[2]);
	pairs(warm);
	double a = cpu();
	pairs(n);
	printf("%.1f\n", (cpu() - a) / n);
	return 0;
}
C
flags="-std=c11 -O2 -fno-builtin-malloc -fno-builtin-free -pthread"
src=internal/native/csrc/hakmem-native.c
$cc $flags -o "$dir/pair" "$dir/pair.c"
$cc $flags -fsanitize=address -o "$dir/pair-asan" "$dir/pair.c"
$cc $flags -o "$dir/harness" "$src" -ldl
$cc $flags -fsanitize=address -o "$dir/harness-asan" "$src" -ldl
larson="seconds=0.15 min=8 max=1000 chunks=5000 rounds=100 seed=4141 threads=2"
for ((i = 1; i <= runs; i++)); do
	for v in "" -asan; do
		echo "pair-cpu-ns glibc$v $("$dir/pair$v" "$warm" "$n")"
		# shellcheck disable=SC2086
		"$dir/harness$v" larson $larson |
			sed -E 's/.*"ops":([0-9]+),"seconds":([0-9.]+).*/\1 \2/' |
			awk -v v="glibc$v" '{ printf "larson-ns-op %s %.1f\n", v, $2 * 1e9 / $1 }'
	done
done
