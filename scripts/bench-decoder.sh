#!/usr/bin/env bash
# bench-decoder.sh runs the decoder benchmarks on the 1M-key file (built by
# `make bench-data`) in one session, interleaved COUNT times, and prints the
# median of each with the ratios that BENCHMARKS.md records. Timings on a
# shared machine are noisy: only the ratios within one run mean anything.
set -euo pipefail
cd "$(dirname "$0")/.."
count="${COUNT:-5}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
go run ./internal/cmd/genbench >/dev/null
go test -run '^$' -bench 'BenchmarkScan|BenchmarkDecode|BenchmarkHDT3213Decode' \
	-benchmem -benchtime 2x -count "$count" -timeout 60m ./rdb | tee "$out"
awk '
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 2; i < NF; i++) if ($(i+1) == "ns/op") t[name] = t[name] " " $i
}
END {
	for (n in t) {
		c = split(substr(t[n], 2), v, " ")
		for (i = 2; i <= c; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) { x = v[j]; v[j] = v[j-1]; v[j-1] = x }
		med[n] = v[int((c + 1) / 2)]
		printf "%-45s median %8.3f s\n", n, med[n] / 1e9
	}
	h = med["BenchmarkHDT3213Decode"]
	if (h > 0) {
		printf "full decode, hdt3213/rdb over ours, verify off: %.2fx\n", h / med["BenchmarkDecode/verify=off"]
		printf "full decode, hdt3213/rdb over ours, verify on:  %.2fx\n", h / med["BenchmarkDecode/verify=on"]
		if (med["BenchmarkDecodeElems"] > 0)
			printf "full decode with every element formatted, hdt3213/rdb over ours: %.2fx\n", h / med["BenchmarkDecodeElems"]
	}
}' "$out"
