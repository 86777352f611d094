# bench/engines.sh — sourced by the store benchmarks (export.sh, sweep.sh), which run Go
# benchmarks per database engine. ENGINES ("sqlite postgres" by default) names the engines;
# when it names postgres, a private cluster is started (scripts/pg-cluster.sh) and stopped at
# exit. Sets FILTER, the sub-benchmark pattern for the engines available.

ENGINES=${ENGINES:-"sqlite postgres"}
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
FILTER=sqlite
if [[ " $ENGINES " == *" postgres "* ]] && [ -n "${PRIVOX_TEST_POSTGRES:-}" ]; then FILTER='(sqlite|postgres)'; fi
if [[ " $ENGINES " != *" sqlite "* ]]; then FILTER=postgres; fi
