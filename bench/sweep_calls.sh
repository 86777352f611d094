#!/usr/bin/env bash
# bench/sweep_calls.sh — call set-up latency with and without a retention sweep running
# (issue 4: "p99 setup latency rises by less than 10 %"). Privox (built from this repository,
# SQLite) gets CDRS expired CDRs (bench/privacyfill), extensions 1001 and 1002 and a sipp
# callee registered as 1002 that answers at once; sipp calls 1002 as 1001 (INVITE -> 407 ->
# INVITE with credentials -> 180 -> 200, then ACK, 200 ms, BYE) at RATE calls/s for SECS
# seconds, once idle and once while POST /api/v1/retention/sweep runs inside Privox. Set-up
# time is sipp's response time from the first INVITE to the 200.
#
# Env knobs: CDRS (5000000; the sweep must outlast the calls), RATE (50), SECS (30), FAST=1 (sweep without pauses), KEEP_WORK=1.
# Output: RESULT call_setup_p99_idle=X ms, RESULT call_setup_p99_during_sweep=X ms,
#         RESULT call_setup_p99_rise=X %, RESULT sweep_rows_during_calls=N rows.
NAME=sweep_calls
source "$(dirname "$0")/lib.sh"

CDRS=${CDRS:-5000000}
RATE=${RATE:-50}
SECS=${SECS:-30}
FAST=${FAST:-0}
SCEN="$REPO/internal/sip/testdata/sipp"

need_pkgs sip-tester curl python3 iproute2
build_privox
(cd "$REPO" && go build -o "$WORK/privacyfill" ./bench/privacyfill) || { log "go build privacyfill failed"; exit 1; }
pick_range RTP 1000
start_privox "$RTP" $((RTP + 999))
for n in 1001 1002; do
  "$WORK/privox" ext add --data "$WORK/privox-data" --tenant default --number $n --sip-password "secret-$n" >/dev/null
done
log "filling $CDRS expired CDRs"
"$WORK/privacyfill" -data "$WORK/privox-data" -cdrs "$CDRS" -days 40

pick_port UAS_PORT; pick_port UAS_MP; pick_port REG_PORT
mkdir -p "$WORK/uas" "$WORK/reg"
(cd "$WORK/uas" && exec sipp -sf "$SCEN/uas.xml" -nostdin -t u1 -i "$HOST" -p "$UAS_PORT" -mp "$UAS_MP" \
  -key contact_port "$UAS_PORT" -key contact_transport udp -d 0 -m 10000000 -buff_size 4194304 >uas.log 2>&1) &
PIDS+=($!)
wait_port u "$UAS_PORT" "${PIDS[-1]}" || { log "sipp callee did not start"; exit 1; }
(cd "$WORK/reg" && sipp "$HOST:$PVX_SIP_PORT" -sf "$SCEN/register.xml" -nostdin -t u1 -s 1002 -au 1002 -ap secret-1002 \
  -key contact_port "$UAS_PORT" -key contact_transport udp -i "$HOST" -p "$REG_PORT" -m 1 -timeout 15 >reg.log 2>&1) \
  || { log "registration of 1002 failed"; cat "$WORK/reg/reg.log" >&2; exit 1; }

# calls PHASE: RATE calls/s for SECS s; prints the p99 set-up time in ms.
calls() {
  local phase=$1 port mp
  pick_port port; pick_port mp
  mkdir -p "$WORK/$phase"
  (cd "$WORK/$phase" && timeout $((SECS + 60)) sipp "$HOST:$PVX_SIP_PORT" -sf "$SCEN/uac.xml" -nostdin -t u1 -s 1002 -au 1001 -ap secret-1001 -auth_uri "1002@$HOST:$PVX_SIP_PORT" \
    -key caller 1001 -i "$HOST" -p "$port" -mp "$mp" -r "$RATE" -m $((RATE * SECS)) -d 200 -timeout $((SECS + 40)) \
    -buff_size 4194304 -trace_rtt -rtt_freq 1 -trace_stat -stf stat.csv >sipp.log 2>&1) || true
  local f
  f=$(ls "$WORK/$phase"/*_rtt.csv 2>/dev/null | head -1)
  [ -n "$f" ] || { log "$phase: no response times"; tail -5 "$WORK/$phase/sipp.log" >&2; echo 0; return; }
  read -r OK FAIL _ < <(sipp_stats "$WORK/$phase/stat.csv")
  log "$phase: $OK calls ok, $FAIL failed"
  awk -F';' 'NR > 1 && $2 ~ /^[0-9.]+$/ { print $2 }' "$f" | sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print 0; else { i = int(NR * 0.99); if (i < 1) i = 1; print a[i] } }'
}

IDLE=$(calls idle)
log "idle p99 ${IDLE} ms; starting the sweep"
fast=false; [ "$FAST" = 1 ] && fast=true
curl -fsS -m 3600 -X POST "http://$HOST:$PVX_HTTP_PORT/api/v1/retention/sweep" -H "Authorization: Bearer $PVX_TOKEN" \
  -H 'Content-Type: application/json' -d "{\"fast\": $fast}" >"$WORK/sweep.json" &
SWEEP=$!
sleep 1
DURING=$(calls during)
if kill -0 "$SWEEP" 2>/dev/null; then INSWEEP=1; else INSWEEP=0; fi
wait "$SWEEP" || { log "sweep request failed"; exit 1; }
ROWS=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sum(t["removed"] for t in r["tables"] if t["table"]=="cdrs"))' "$WORK/sweep.json")
[ "$INSWEEP" = 1 ] || log "warning: the sweep ended before the calls did; raise CDRS"
echo "RESULT call_setup_p99_idle=$IDLE ms"
echo "RESULT call_setup_p99_during_sweep=$DURING ms"
echo "RESULT call_setup_p99_rise=$(awk -v a="$DURING" -v b="$IDLE" 'BEGIN { if (b > 0) printf "%.0f", (a - b) * 100 / b; else print "n/a" }') %"
echo "RESULT sweep_rows_during_calls=$ROWS rows"
echo "RESULT sweep_seconds=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%.1f" % ((r["finished_at"]-r["started_at"])/1000))' "$WORK/sweep.json") s"
