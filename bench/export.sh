#!/usr/bin/env bash
# Subject-access export benchmark (issue 4): one user with 100,000 CDRs (and as many call
# journal entries) and 1,000 voicemails of 32 KiB (content files of kind voicemail, encrypted
# with the user's key), exported to one ZIP on SQLite clear, SQLite encrypted at rest (the
# default) and PostgreSQL (see ENGINES in bench/engines.sh). Target: < 5 s, and the encrypted
# export within 10 % of the clear one. Prints RESULT lines with the time and the size of the
# archive, and RESULT export_sqlite_encrypted_seconds_vs_clear=X x.
#
#   bench/export.sh
#   CDRS=10000 VOICEMAILS=100 ENGINES=sqlite bench/export.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CDRS=${CDRS:-100000}
VOICEMAILS=${VOICEMAILS:-1000}

source bench/engines.sh

out=$(mktemp /tmp/privox-bench-export.XXXXXX)
PRIVOX_BENCH_EXPORT_CDRS=$CDRS PRIVOX_BENCH_EXPORT_VOICEMAILS=$VOICEMAILS \
	go test -run '^$' -bench "^BenchmarkExport/$FILTER\$" -benchtime 1x -timeout 30m ./internal/privacy/ \
	| grep -E '^(RESULT|Benchmark|FAIL|panic)' | tee "$out" || true
# seconds: below 1.0 x the encrypted export is faster
encryption_ratio "$out" export_sqlite_seconds
rm -f "$out"
