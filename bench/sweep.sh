#!/usr/bin/env bash
# Retention sweep benchmark (issue 4): 10 million expired CDRs and 100,000 expired content
# files, swept on SQLite clear, on SQLite encrypted at rest (the default) and on PostgreSQL (a
# private cluster started here when PostgreSQL is installed; ENGINES in bench/engines.sh). For each engine it runs the sweeper twice on fresh data: with its
# default pacing, which on SQLite leaves half of the time to other writers, and in fast mode
# (no pauses). Prints RESULT lines: CDR rows/s, files/s, and the p99 latency of a call's
# writes (CDR + journal, what the SIP core writes behind every call) idle and during the sweep,
# and for each the encrypted figure over the clear one (RESULT …_vs_clear=X x).
#
#   bench/sweep.sh                 full size (takes several minutes per engine)
#   CDRS=1000000 FILES=10000 bench/sweep.sh
#   ENGINES=sqlite MODES=fast bench/sweep.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CDRS=${CDRS:-10000000}
FILES=${FILES:-100000}
MODES=${MODES:-"default fast"}
TIMEOUT=${TIMEOUT:-90m}

source bench/engines.sh

bin=$(mktemp /tmp/privox-privacy.bench.XXXXXX)
out=$(mktemp /tmp/privox-bench-sweep.XXXXXX)
go test -c -o "$bin" ./internal/privacy/
for mode in $MODES; do
	PRIVOX_BENCH_MODE=$mode PRIVOX_BENCH_CDRS=$CDRS PRIVOX_BENCH_FILES=$FILES \
		"$bin" -test.run '^$' -test.bench "^BenchmarkSweep/$FILTER\$" -test.benchtime 1x -test.timeout "$TIMEOUT" \
		| grep -E '^(RESULT|Benchmark|FAIL|panic)|filled' | tee -a "$out" || true
	m=""; [ "$mode" = fast ] && m=_fast
	encryption_ratio "$out" "sweep_sqlite${m}_cdr_rows_per_s"
	encryption_ratio "$out" "sweep_sqlite${m}_files_per_s"
	encryption_ratio "$out" "sweep_sqlite${m}_call_write_p99_during_sweep"
done
rm -f "$bin" "$out"
