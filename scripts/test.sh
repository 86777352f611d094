#!/usr/bin/env bash
# The whole test suite: installs the peers, starts a private PostgreSQL cluster on a free
# loopback port, runs every test with -race on SQLite and PostgreSQL, runs each fuzz target
# briefly, and compiles and runs every benchmark once. Stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
scripts/install-test-deps.sh
$GO mod download
pgdir=$(mktemp -d /tmp/privox-pg.XXXXXX)
chmod 755 "$pgdir"
cleanup() { scripts/pg-cluster.sh stop "$pgdir" || true; rm -rf "$pgdir"; }
trap cleanup EXIT
export PRIVOX_TEST_POSTGRES=$(scripts/pg-cluster.sh start "$pgdir")
export PRIVOX_REQUIRE_POSTGRES=1
echo "test: PostgreSQL at ${PRIVOX_TEST_POSTGRES}"
unformatted=$("$($GO env GOROOT)/bin/gofmt" -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "test: not gofmt-formatted:" $unformatted >&2; exit 1; fi
$GO vet ./...
$GO test -race -count=1 -timeout 20m ./...
# Fuzz targets run briefly on top of their committed seed corpus (which the run above replays).
for pkg in $($GO list ./...); do
	dir=$($GO list -f '{{.Dir}}' "$pkg")
	for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/func //' | sort -u); do
		echo "fuzz: $pkg $f"
		log=$(mktemp)
		before=$( (ls "$dir/testdata/fuzz/$f" 2>/dev/null || true) | wc -l)
		if ! $GO test -run='^$' -fuzz="^${f}\$" -fuzztime=${FUZZTIME:-10s} "$pkg" >"$log" 2>&1; then
			after=$( (ls "$dir/testdata/fuzz/$f" 2>/dev/null || true) | wc -l)
			grep -v '^fuzz: elapsed' "$log" | tail -40
			# A new failing input is a real find: fail. Anything else (a worker that hung under
			# load) gets one more run, and fails if it happens again.
			if [ "$after" != "$before" ]; then rm -f "$log"; exit 1; fi
			echo "fuzz: $f stopped without a failing input; running it once more"
			$GO test -run='^$' -fuzz="^${f}\$" -fuzztime=${FUZZTIME:-10s} "$pkg" >"$log" 2>&1 || { grep -v '^fuzz: elapsed' "$log" | tail -40; rm -f "$log"; exit 1; }
		fi
		rm -f "$log"
	done
done
# Benchmarks compile and run once.
$GO test -run='^$' -bench=. -benchtime=1x ./... >/dev/null
echo "test: all passed"
