#!/usr/bin/env bash
# Subject-access export benchmark (issue 4): one user with 100,000 CDRs (and as many call
# journal entries) and 1,000 voicemails of 32 KiB (content files of kind voicemail, encrypted
# with the user's key), exported to one ZIP on SQLite and on PostgreSQL. Target: < 5 s.
# Prints RESULT lines with the time and the size of the archive.
#
#   bench/export.sh
#   CDRS=10000 VOICEMAILS=100 ENGINES=sqlite bench/export.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CDRS=${CDRS:-100000}
VOICEMAILS=${VOICEMAILS:-1000}
ENGINES=${ENGINES:-"sqlite postgres"}

pg=""
cleanup() { [ -n "$pg" ] && scripts/pg-cluster.sh stop "$pg" >/dev/null 2>&1; [ -n "$pg" ] && rm -rf "$pg"; true; }
trap cleanup EXIT
if [[ " $ENGINES " == *" postgres "* ]]; then
	pg=$(mktemp -d /tmp/privox-bench-pg.XXXXXX)
	if dsn=$(scripts/pg-cluster.sh start "$pg" 2>/dev/null); then
		export PRIVOX_TEST_POSTGRES=$dsn
	else
		echo "bench/export.sh: PostgreSQL not available; SQLite only" >&2
		rm -rf "$pg"; pg=""
	fi
fi
filter=sqlite
[[ " $ENGINES " == *" postgres "* ]] && [ -n "${PRIVOX_TEST_POSTGRES:-}" ] && filter='(sqlite|postgres)'
[[ " $ENGINES " != *" sqlite "* ]] && filter=postgres

PRIVOX_BENCH_EXPORT_CDRS=$CDRS PRIVOX_BENCH_EXPORT_VOICEMAILS=$VOICEMAILS \
	go test -run '^$' -bench "^BenchmarkExport/$filter\$" -benchtime 1x -timeout 30m ./internal/privacy/ \
	| grep -E '^(RESULT|Benchmark|FAIL|panic)' || true
