# bench/engines.sh — sourced by the store benchmarks (export.sh, sweep.sh), which run Go
# benchmarks per database engine. ENGINES ("sqlite sqlite_encrypted postgres" by default)
# names the engines: sqlite is the embedded database clear (database.encrypt: false),
# sqlite_encrypted the embedded database encrypted at rest as Privox runs it by default, both
# in the same run; when it names postgres, a private cluster is started (scripts/pg-cluster.sh)
# and stopped at exit. Sets FILTER, the sub-benchmark pattern for the engines available, and
# defines encryption_ratio.

ENGINES=${ENGINES:-"sqlite sqlite_encrypted postgres"}
pg=""
cleanup() { [ -n "$pg" ] && scripts/pg-cluster.sh stop "$pg" >/dev/null 2>&1; [ -n "$pg" ] && rm -rf "$pg"; true; }
trap cleanup EXIT
if [[ " $ENGINES " == *" postgres "* ]]; then
	pg=$(mktemp -d /tmp/privox-bench-pg.XXXXXX)
	if dsn=$(scripts/pg-cluster.sh start "$pg" 2>/dev/null); then
		export PRIVOX_TEST_POSTGRES=$dsn
	else
		echo "$(basename "$0"): PostgreSQL not available; SQLite only" >&2
		rm -rf "$pg"; pg=""
	fi
fi
if [[ " $ENGINES " == *" sqlite_encrypted "* ]]; then export PRIVOX_TEST_SQLITE_ENCRYPTED=1; fi
names=()
for e in $ENGINES; do
	case $e in
	sqlite | sqlite_encrypted) names+=("$e") ;;
	postgres) [ -n "${PRIVOX_TEST_POSTGRES:-}" ] && names+=(postgres) ;;
	*) echo "$(basename "$0"): unknown engine '$e' in ENGINES" >&2; exit 2 ;;
	esac
done
[ ${#names[@]} -gt 0 ] || { echo "$(basename "$0"): no engine to run" >&2; exit 1; }
FILTER="($(IFS='|'; echo "${names[*]}"))"

# encryption_ratio FILE NAME UNIT: from the RESULT lines in FILE, prints
# "RESULT NAME_encrypted_vs_clear=X x": the figure of sqlite_encrypted over that of sqlite for
# the metric NAME (with sqlite in it where the engine goes: sweep_sqlite_cdr_rows_per_s).
encryption_ratio() {
	local file=$1 name=$2 clear enc
	clear=$(awk -F'[= ]' -v n="$name" '$1 == "RESULT" && $2 == n { print $3 }' "$file" | tail -1)
	enc=$(awk -F'[= ]' -v n="${name/sqlite/sqlite_encrypted}" '$1 == "RESULT" && $2 == n { print $3 }' "$file" | tail -1)
	[ -n "$clear" ] && [ -n "$enc" ] || return 0
	echo "RESULT ${name/sqlite/sqlite_encrypted}_vs_clear=$(awk -v a="$enc" -v b="$clear" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }') x"
}
