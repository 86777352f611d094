#!/usr/bin/env bash
# bench/memory.sh — resident memory of Privox with 100,000 registered contacts (target
# <= 300 MB), next to Kamailio 5.6's for the same registrations, in the same run.
#
# Privox: 100,000 extensions (u1..u100000) made through the REST API, then one REGISTER with
# digest authentication each (sipp, 100,000 distinct AORs and contacts); after the
# registrations the write-behind has stored them and Privox idles for SETTLE_S seconds, then
# its RSS is read (VmRSS), with the default GOGC. Kamailio: the registrar of register.sh
# (in-memory usrloc, -m 512 -M 16, -x tlsf), the same 100,000 registrations; its memory is
# the proportional set size summed over its processes (they share the usrloc pool).
#
# Env knobs: CONTACTS (100000), RATE (3000 registrations/s), SETTLE_S (10), ONLY, KEEP_WORK=1.
# Output: RESULT privox_rss_contacts_mb=N MB, RESULT privox_registered_contacts=N contacts,
#         RESULT kamailio_pss_contacts_mb=N MB, RESULT memory_ratio=X x (Privox / Kamailio).
NAME=memory
source "$(dirname "$0")/lib.sh"

CONTACTS=${CONTACTS:-100000}
RATE=${RATE:-3000}
SETTLE_S=${SETTLE_S:-10}
ONLY=${ONLY:-}
PASSWORD=anchor-secret
REALM=bench.local

need_pkgs kamailio sip-tester iproute2 procps curl python3
pick_port SPORT; pick_port CPORT
users_csv "$WORK/users.csv" "$CONTACTS" "$PASSWORD"

# register_all PORT -> OK (registrations that got 200)
register_all() {
  local port=$1 stat="$WORK/stat.$RANDOM.csv" pid
  timeout $(( CONTACTS / RATE + 120 )) sipp "$HOST:$port" -sf "$BENCH_DIR/sipp/register.xml" -inf "$WORK/users.csv" \
    -i "$HOST" -p "$SPORT" -cp "$CPORT" -r "$RATE" -m "$CONTACTS" -timeout $(( CONTACTS / RATE + 100 )) \
    -buff_size 4194304 -nostdin -trace_stat -stf "$stat" -fd 5 >"$WORK/sipp.out" 2>&1 &
  pid=$!
  wait "$pid" 2>/dev/null || true
  read -r OK FAIL _ < <(sipp_stats "$stat")
  log "$TARGET: $OK of $CONTACTS registrations succeeded ($FAIL failed)"
}

pss_mb() { # pss_mb PID... : proportional set size summed (MB)
  local total=0 pid
  for pid in "$@"; do
    total=$(( total + $(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0) ))
  done
  echo $(( total / 1024 ))
}

PVX_RSS=0; PVX_N=0; KAM_PSS=0
# ---------------------------------------------------------------- Privox
if [ "$ONLY" != kamailio ]; then
  TARGET=privox
  build_privox
  pick_range RTP_MIN 100
  start_privox "$RTP_MIN" $(( RTP_MIN + 99 ))
  log "idle RSS $(rss_mb "$PVX_PID") MB; creating $CONTACTS extensions through the API"
  t0=$(date +%s)
  make_extensions 1 "$CONTACTS" "$PASSWORD"
  log "extensions created in $(( $(date +%s) - t0 ))s; RSS $(rss_mb "$PVX_PID") MB"
  register_all "$PVX_SIP_PORT"
  sleep "$SETTLE_S"
  PVX_N=$(metric privox_sip_registered_contacts)
  PVX_RSS=$(rss_mb "$PVX_PID")
  log "privox: $PVX_N contacts, RSS $PVX_RSS MB, Go heap in use $(( $(metric go_memstats_heap_inuse_bytes) / 1048576 )) MB"
  stored=$(python3 -c "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from registrations').fetchone()[0])" "$WORK/privox-data/privox.db" 2>/dev/null || echo "?")
  log "privox: $stored registrations in the store (write-behind)"
  stop_pid "$PVX_PID"
fi

# ---------------------------------------------------------------- Kamailio
if [ "$ONLY" != privox ]; then
  TARGET=kamailio
  start_kamailio_registrar "$REALM" "$PASSWORD"
  sleep 0.2
  register_all "$KPORT"
  sleep "$SETTLE_S"
  KAM_PSS=$(pss_mb "$KAM_PID" $(ps -o pid= --ppid "$KAM_PID"))
  log "kamailio: PSS $KAM_PSS MB over $(( 1 + $(ps -o pid= --ppid "$KAM_PID" | wc -l) )) processes"
  stop_pid "$KAM_PID"
fi

echo "RESULT privox_rss_contacts_mb=$PVX_RSS MB"
echo "RESULT privox_registered_contacts=$PVX_N contacts"
echo "RESULT kamailio_pss_contacts_mb=$KAM_PSS MB"
echo "RESULT memory_ratio=$(ratio "$PVX_RSS" "$KAM_PSS") x"
