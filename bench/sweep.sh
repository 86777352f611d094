#!/usr/bin/env bash
# Retention sweep benchmark (issue 4): 10 million expired CDRs and 100,000 expired content
# files, swept once on SQLite and once on PostgreSQL (a private cluster started here when
# PostgreSQL is installed). For each engine it runs the sweeper twice on fresh data: with its
# default pacing, which on SQLite leaves half of the time to other writers, and in fast mode
# (no pauses). Prints RESULT lines: CDR rows/s, files/s, and the p99 latency of a call's
# writes (CDR + journal, what the SIP core writes behind every call) idle and during the sweep.
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

go test -c -o /tmp/privox-privacy.bench ./internal/privacy/
for mode in $MODES; do
	PRIVOX_BENCH_MODE=$mode PRIVOX_BENCH_CDRS=$CDRS PRIVOX_BENCH_FILES=$FILES \
		/tmp/privox-privacy.bench -test.run '^$' -test.bench "^BenchmarkSweep/$FILTER\$" -test.benchtime 1x -test.timeout "$TIMEOUT" \
		| grep -E '^(RESULT|Benchmark|FAIL|panic)|filled' || true
done
rm -f /tmp/privox-privacy.bench
