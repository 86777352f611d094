#!/usr/bin/env bash
# bench/directory.sh — the LDAP directory against OpenLDAP slapd, in one run.
#
# The same CONTACTS contacts (ldapload gen, fixed seed) go into Privox (privox contacts
# import of the CSV into a company phonebook; the import is timed) and into a private slapd
# (back-mdb, slapadd of the LDIF, the set-up of /work/shared/peers/slapd-search.sh). The same
# load generator (ldapload search, go-ldap) then drives both, one after the other, with CONNS
# connections of synchronous searches for DURATION seconds each:
#   prefix: (|(cn=Mül*)(sn=Mül*)) with 3 letters of a random contact's name, size limit 50
#   phone:  (telephoneNumber=+49...) of a random contact
# Privox is searched with a bind account (anonymous access is off); slapd anonymously.
#
# Env knobs: CONTACTS (100000), SEED (1), CONNS (8), DURATION (15), WARMUP (2),
#            LDAPLOAD_DIR (/work/shared/peers/ldapload), KEEP_WORK=1, IMPORT_ONLY=1 (stop after
#            Privox's import and its RSS with the contacts indexed: no slapd, no searches).
# Output: RESULT lines: searches/s, p50 and p99 of both query types for both servers, the
#         ratios, Privox's import time and its RSS with the contacts indexed.
NAME=directory
source "$(dirname "$0")/lib.sh"

CONTACTS=${CONTACTS:-100000}
SEED=${SEED:-1}
CONNS=${CONNS:-8}
DURATION=${DURATION:-15}
WARMUP=${WARMUP:-2}
LDAPLOAD_DIR=${LDAPLOAD_DIR:-/work/shared/peers/ldapload}
SUFFIX="dc=example,dc=com"
SLAPD_BASE="ou=contacts,$SUFFIX"

need_pkgs slapd ldap-utils iproute2 procps curl python3
SLAPD_BIN=$(command -v slapd || dpkg -L slapd | grep -m1 '/sbin/slapd$')
SLAPADD_BIN=$(command -v slapadd || dpkg -L slapd | grep -m1 '/sbin/slapadd$')
SCHEMA_DIR=$(dirname "$(dpkg -L slapd | grep -m1 '/schema/inetorgperson\.schema$')")
MODULE_DIR=$(dirname "$(dpkg -L slapd | grep -m1 '/back_mdb\.so$')")

build_privox
(cd "$LDAPLOAD_DIR" && go build -o "$WORK/ldapload" .) || { log "go build of ldapload failed"; exit 1; }
"$WORK/ldapload" gen -n "$CONTACTS" -seed "$SEED" -ldif "$WORK/contacts.ldif" -csv "$WORK/contacts.csv" >&2

# ---------------------------------------------------------------- Privox
pick_port PVX_HTTP_PORT; pick_port PVX_LDAP_PORT
DATA="$WORK/privox-data"
export PRIVOX_ADMIN_PASSWORD=$PVX_PASSWORD PRIVOX_LOG_LEVEL=warn PRIVOX_SIP_ADDR= PRIVOX_SIP_TLS_ADDR= PRIVOX_LDAP_LDAPS_ADDR=
serve() {
  PRIVOX_LDAP_ADDR=$HOST:$PVX_LDAP_PORT "$WORK/privox" serve --data "$DATA" --http-addr "$HOST:$PVX_HTTP_PORT" >>"$WORK/privox.log" 2>&1 &
  PVX_PID=$!
  PIDS+=("$PVX_PID")
  local i
  for i in $(seq 1 600); do
    curl -fsS "http://$HOST:$PVX_HTTP_PORT/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$PVX_PID" 2>/dev/null || { tail -20 "$WORK/privox.log" >&2; log "privox died"; exit 1; }
    sleep 0.1
  done
  log "privox not ready"; exit 1
}
api() { curl -fsS -H "Authorization: Bearer $PVX_TOKEN" -H 'Content-Type: application/json' "$@"; }
serve
PVX_TOKEN=$("$WORK/privox" token add --data "$DATA" --tenant default --user 1 --name bench --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
api -X PUT "http://$HOST:$PVX_HTTP_PORT/api/v1/tenants/1/directory/settings" -d '{"country":"DE"}' >/dev/null
BOOK=$(api -X POST "http://$HOST:$PVX_HTTP_PORT/api/v1/tenants/1/phonebooks" -d '{"kind":"company","name":"Kontakte"}' | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
read -r BIND_DN BIND_PW PVX_BASE < <(api -X POST "http://$HOST:$PVX_HTTP_PORT/api/v1/tenants/1/ldap/accounts" -d '{"name":"phones"}' \
  | python3 -c 'import json, sys; a = json.load(sys.stdin); print(a["bind_dn"], a["password"], a["base_dn"])')
stop_pid "$PVX_PID"

# children_cpu: user+system seconds of this shell's finished children so far (times runs in
# this shell: in a command substitution it would count the subshell's children).
children_cpu() { times >"$WORK/times"; awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] } print s }' "$WORK/times"; }
children_cpu >"$WORK/cpu0"; C0=$(cat "$WORK/cpu0")
T0=$(date +%s.%N)
"$WORK/privox" contacts import --data "$DATA" --tenant default --phonebook "$BOOK" "$WORK/contacts.csv" >&2
T1=$(date +%s.%N)
children_cpu >"$WORK/cpu1"; C1=$(cat "$WORK/cpu1")
IMPORT_S=$(awk -v a="$T0" -v b="$T1" 'BEGIN{ printf "%.1f", b - a }')
IMPORT_CPU_S=$(awk -v a="$C0" -v b="$C1" 'BEGIN{ printf "%.1f", b - a }')
log "privox imported $CONTACTS contacts in ${IMPORT_S}s (${IMPORT_CPU_S}s of CPU)"
serve
T2=$(date +%s.%N)
sleep 5
PVX_RSS=$(rss_mb "$PVX_PID")
log "privox ready (index built at start) pid $PVX_PID ldap://$HOST:$PVX_LDAP_PORT rss ${PVX_RSS} MB"
if [ "${IMPORT_ONLY:-0}" = 1 ]; then
  echo "RESULT privox_csv_import_s=$IMPORT_S s, ${IMPORT_CPU_S} s of CPU ($CONTACTS contacts, SQLite)"
  echo "RESULT privox_rss_indexed_mb=$PVX_RSS MB ($CONTACTS contacts)"
  exit 0
fi

# ---------------------------------------------------------------- slapd
mkdir -p "$WORK/db"
pick_port SLAPD_PORT
cat >"$WORK/slapd.conf" <<EOF
include         $SCHEMA_DIR/core.schema
include         $SCHEMA_DIR/cosine.schema
include         $SCHEMA_DIR/inetorgperson.schema
pidfile         $WORK/slapd.pid
argsfile        $WORK/slapd.args
modulepath      $MODULE_DIR
moduleload      back_mdb
threads         16
loglevel        0
sizelimit       500
database        mdb
maxsize         2147483648
suffix          "$SUFFIX"
rootdn          "cn=admin,$SUFFIX"
rootpw          bench-secret
directory       $WORK/db
index           objectClass eq
index           uid eq
index           cn,sn,givenName eq,sub
index           telephoneNumber,mobile eq
index           mail eq
access to * by * read
EOF
"$SLAPADD_BIN" -q -f "$WORK/slapd.conf" -l "$WORK/contacts.ldif" >"$WORK/slapadd.log" 2>&1 || { tail -20 "$WORK/slapadd.log" >&2; exit 1; }
"$SLAPD_BIN" -d 0 -h "ldap://$HOST:$SLAPD_PORT/" -f "$WORK/slapd.conf" >"$WORK/slapd.log" 2>&1 &
SLAPD_PID=$!
PIDS+=("$SLAPD_PID")
wait_port t "$SLAPD_PORT" "$SLAPD_PID" || { cat "$WORK/slapd.log" >&2; log "slapd did not start"; exit 1; }
log "slapd $(dpkg-query -W -f='${Version}' slapd) pid $SLAPD_PID ldap://$HOST:$SLAPD_PORT"

# ---------------------------------------------------------------- sanity
PHONE=$(awk -F, 'NR == 2 { print $4 }' "$WORK/contacts.csv")
for target in privox slapd; do
  if [ $target = privox ]; then a=(-H "ldap://$HOST:$PVX_LDAP_PORT" -D "$BIND_DN" -w "$BIND_PW" -b "$PVX_BASE"); else a=(-H "ldap://$HOST:$SLAPD_PORT" -b "$SLAPD_BASE"); fi
  n1=$(ldapsearch -x -LLL "${a[@]}" "(telephoneNumber=$PHONE)" dn | grep -c '^dn:' || true)
  n2=$(ldapsearch -x -LLL "${a[@]}" -z 50 "(|(cn=Mül*)(sn=Mül*))" dn 2>/dev/null | grep -c '^dn:' || true)
  [ "$n1" = 1 ] && [ "$n2" = 50 ] || { log "$target sanity check failed: phone hits=$n1 prefix hits=$n2"; exit 1; }
done
log "sanity ok on both: $PHONE -> 1 entry, (|(cn=Mül*)(sn=Mül*)) -> 50 entries"

# ---------------------------------------------------------------- load
declare -A R
for target in privox slapd; do
  for typ in prefix phone; do
    if [ $target = privox ]; then
      args=(-addr "$HOST:$PVX_LDAP_PORT" -base "$PVX_BASE" -binddn "$BIND_DN" -bindpw "$BIND_PW"); pid=$PVX_PID
    else
      args=(-addr "$HOST:$SLAPD_PORT" -base "$SLAPD_BASE"); pid=$SLAPD_PID
    fi
    c0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
    timeout $(( DURATION + WARMUP + 60 )) "$WORK/ldapload" search "${args[@]}" -csv "$WORK/contacts.csv" -type "$typ" \
      -c "$CONNS" -d "${DURATION}s" -warmup "${WARMUP}s" -sizelimit 50 >"$WORK/load.$target.$typ" 2>"$WORK/load.$target.$typ.err" \
      || { cat "$WORK/load.$target.$typ.err" >&2; log "load generator failed against $target"; exit 1; }
    c1=$(cpu_ticks "$pid"); t1=$(date +%s.%N)
    line=$(tail -1 "$WORK/load.$target.$typ")
    cpu=$(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" 'BEGIN{ printf "%.0f", 100 * (b - a) / hz / (t1 - t0) }')
    log "$target: $line server_cpu=${cpu}%"
    for k in per_s p50_ms p99_ms errors avg_entries; do
      R[$target.$typ.$k]=$(tr ' ' '\n' <<<"$line" | awk -F= -v k="$k" '$1 == k { print $2 }')
    done
    [ "${R[$target.$typ.errors]:-1}" = 0 ] || log "WARNING: $target $typ had ${R[$target.$typ.errors]} errors"
  done
done

for target in privox slapd; do
  echo "RESULT ${target}_prefix_search_per_s=${R[$target.prefix.per_s]} searches/s"
  echo "RESULT ${target}_prefix_search_p50_ms=${R[$target.prefix.p50_ms]} ms"
  echo "RESULT ${target}_prefix_search_p99_ms=${R[$target.prefix.p99_ms]} ms"
  echo "RESULT ${target}_phone_lookup_per_s=${R[$target.phone.per_s]} searches/s"
  echo "RESULT ${target}_phone_lookup_p50_ms=${R[$target.phone.p50_ms]} ms"
  echo "RESULT ${target}_phone_lookup_p99_ms=${R[$target.phone.p99_ms]} ms"
done
for typ in prefix phone; do
  echo "RESULT ${typ}_throughput_ratio=$(awk -v a="${R[privox.$typ.per_s]}" -v b="${R[slapd.$typ.per_s]}" 'BEGIN{ printf "%.2f", a / b }') x (Privox / slapd)"
done
echo "RESULT privox_csv_import_s=$IMPORT_S s, ${IMPORT_CPU_S} s of CPU ($CONTACTS contacts, SQLite)"
echo "RESULT privox_rss_indexed_mb=$PVX_RSS MB ($CONTACTS contacts)"
