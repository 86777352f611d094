#!/usr/bin/env bash
# bench/app-calls.sh — how many simultaneous calls an application answers on this machine:
# each call is answered by the auto attendant of Privox (call model: application bridge),
# which plays its greeting again and again (time-out 100 ms, 9 retries: a prompt loop with
# short gaps) and runs in-band DTMF detection on the caller's audio all along; the caller
# (sipp) streams G.711 A-law at it. In the same run, on the same sipp load, Asterisk 20
# (../shared/peers/asterisk, when present) answers with Answer() and Playback(tone) in a loop
# (an extension added to its [public] context; its ext 600 plays the tone once and hangs up).
#
# A call: INVITE (-> 407 -> INVITE with credentials for Privox; Asterisk takes guests), 200,
# ACK, 6 s of A-law from sipp, BYE after CALL_MS. The target concurrency ramps (doubling, then
# bisection). A Privox step passes when failed+unfinished calls < 0.1 %, fewer than 0.1 % of
# the frames the application sent left more than 5 ms after their 20 ms slot (the pacer's own
# count, privox_app_frames_late_total), it sent >= 90 % of the frames the answered calls'
# length asks for, and the peak number of simultaneous calls reached 90 % of the target. An
# Asterisk step passes on the call criteria only: Asterisk does not count late frames, so its
# figure is the concurrency it completes calls at, not a like-for-like timing figure.
#
# Env knobs: STEP_S (14), CALL_MS (7600), START_CONC (250), MAX_CONC (3200), ONLY
#            (privox|asterisk), LATE_MAX (0.001: the share of late frames a Privox step may
#            have; LATE_MAX=1 judges Privox on the call criteria only, like Asterisk), KEEP_WORK=1,
#            PROFILE=1 (a CPU and a heap profile of Privox during each step, see lib.sh).
# Output: RESULT privox_app_calls=N calls, RESULT asterisk_playback_calls=N calls.
NAME=app-calls
source "$(dirname "$0")/lib.sh"

STEP_S=${STEP_S:-14}
CALL_MS=${CALL_MS:-7600}
START_CONC=${START_CONC:-250}
MAX_CONC=${MAX_CONC:-3200}
ONLY=${ONLY:-}
LATE_MAX=${LATE_MAX:-0.001}
PASSWORD=app-secret
AST=${AST:-$REPO/../shared/peers/asterisk/asterisk.sh}
[ -x "$AST" ] || AST=/work/shared/peers/asterisk/asterisk.sh

need_pkgs sip-tester iproute2 procps curl python3
pick_port UAC_PORT; pick_port UAC_CPORT; pick_port AST_PORT
UAC_MPORT=50000 # sipp's rtp_stream ports; Privox's range is 23000-32499, Asterisk's 41000-44999
mkdir -p "$WORK/media"
head -c 48000 /dev/zero | tr '\0' '\325' >"$WORK/media/audio.alaw" # 6 s of A-law silence
cp "$BENCH_DIR"/sipp/*.xml "$WORK/"
log "nproc=$(nproc) sipp=$(sipp -v 2>&1 | awk '/SIPp v/{print $2; exit}')"

counter() { $COUNTER_FN; }
late() { [ -n "$LATE_FN" ] && $LATE_FN || echo 0; }

# step CONCURRENCY -> PASS PEAK
step() {
  local conc=$1 rate calls l0 l1 c0 c1 t0 t1 expect
  rate=$(( (conc * 1000 + CALL_MS / 2) / CALL_MS )); [ "$rate" -ge 1 ] || rate=1
  calls=$(( rate * STEP_S ))
  l0=$(late); c0=$(cpu_ticks $SERVER_PIDS); t0=$(date +%s.%N)
  if [ "$TARGET" = privox ]; then profile_privox $(( STEP_S - 2 )) "app-calls-$conc"; fi
  run_uac "$rate" "$calls" $(( STEP_S + CALL_MS / 1000 + 8 ))
  c1=$(cpu_ticks $SERVER_PIDS); t1=$(date +%s.%N); l1=$(late)
  LATE=$(( l1 - l0 ))
  CPU=$(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" 'BEGIN{ printf "%.0f", 100 * (b - a) / hz / (t1 - t0) }')
  expect=$(( OK * CALL_MS / 20 ))
  if [ "$TARGET" = privox ]; then
    PASS=$(awk -v o="$OK" -v c="$calls" -v sent="$RELAYED" -v late="$LATE" -v lm="$LATE_MAX" -v ex="$expect" -v pk="$PEAK" -v t="$conc" \
      'BEGIN{ bad = c - o; print (bad <= c * 0.001 && sent > 0 && late <= lm * sent && sent >= 0.9 * ex && pk >= 0.9 * t) ? 1 : 0 }')
  else
    PASS=$(awk -v o="$OK" -v c="$calls" -v pk="$PEAK" -v t="$conc" 'BEGIN{ bad = c - o; print (bad <= c * 0.001 && pk >= 0.9 * t) ? 1 : 0 }')
  fi
  log "$(printf '%-8s target=%5d (%4d cps x %ds) ok=%6d failed=%4d unfinished=%4d peak=%5d frames=%9d/%9d late=%6d (%.3f%%) cpu=%3d%% %s' \
        "$TARGET" "$conc" "$rate" "$STEP_S" "$OK" "$FAIL" "$LEFT" "$PEAK" "$RELAYED" "$expect" "$LATE" \
        "$(awk -v a="$LATE" -v b="$RELAYED" 'BEGIN{ print (b > 0) ? 100 * a / b : 0 }')" "$CPU" "$([ "$PASS" = 1 ] && echo PASS || echo FAIL)")"
  [ "$PASS" = 1 ] || settle
}

# measure -> BEST (peak simultaneous calls of the best passing step)
measure() {
  local lo=0 lo_peak=0 hi=0 c=$START_CONC mid
  run_uac 2 2 $(( CALL_MS / 1000 + 8 ))
  if [ "$OK" -ne 2 ]; then
    log "$TARGET self-check failed: ok=$OK/2"; tail -n 30 "$WORK/uac.out" >&2; exit 1
  fi
  log "$TARGET self-check ok: 2/2 calls, $RELAYED frames counted"
  while :; do
    step "$c"
    if [ "$PASS" = 1 ]; then lo=$c; lo_peak=$PEAK; else hi=$c; break; fi
    [ "$c" -lt "$MAX_CONC" ] || { hi=0; break; }
    c=$(( c * 2 > MAX_CONC ? MAX_CONC : c * 2 ))
  done
  if [ "$lo" -eq 0 ]; then
    c=$START_CONC
    while [ "$PASS" != 1 ] && [ "$c" -gt 25 ]; do c=$(( c / 2 )); step "$c"; done
    [ "$PASS" = 1 ] && { lo=$c; lo_peak=$PEAK; }
  elif [ "$hi" -gt 0 ]; then
    for _ in 1 2 3; do
      mid=$(( (lo + hi) / 2 / 50 * 50 ))
      [ "$mid" -le "$lo" ] && break
      step "$mid"
      if [ "$PASS" = 1 ]; then lo=$mid; lo_peak=$PEAK; else hi=$mid; fi
    done
  fi
  BEST=$lo_peak
  log "$TARGET best: target $lo, peak $lo_peak simultaneous calls"
}

PVX_BEST=0; AST_BEST=n/a
# ---------------------------------------------------------------- Privox
if [ "$ONLY" != asterisk ]; then
  TARGET=privox
  build_privox
  pick_range RTP_MIN 9500
  start_privox "$RTP_MIN" $(( RTP_MIN + 9499 ))
  make_extensions 1 1 "$PASSWORD"
  curl -fsS -X PUT -H "Authorization: Bearer $PVX_TOKEN" "http://$HOST:$PVX_HTTP_PORT/api/v1/tenants/1/menus/bench" \
    -d '{"number":"600","spec":{"options":{"1":{"type":"hangup"}},"timeout_ms":100,"retries":9}}' >/dev/null \
    || { log "creating the menu failed"; exit 1; }
  TARGET_PORT=$PVX_SIP_PORT
  UAC_SCENARIO=uac_media_auth.xml
  UAC_ARGS=(-s 600 -au u1 -ap "$PASSWORD" -auth_uri "600@$HOST:$PVX_SIP_PORT" -key caller u1) # the digest names the Request-URI
  RELAYED_FN="metric privox_app_frames_sent_total"
  LATE_FN="metric privox_app_frames_late_total"
  SESSIONS_FN="metric privox_media_sessions"
  SERVER_PIDS=$PVX_PID
  measure
  PVX_BEST=$BEST
  log "privox RSS $(rss_mb "$PVX_PID") MB"
  stop_pid "$PVX_PID"
fi

# ---------------------------------------------------------------- Asterisk
ast_sessions() { "$AST" cli "$WORK/ast" 'core show channels count' 2>/dev/null | awk '/active channel/{print $1; exit}' | grep . || echo 0; }
if [ "$ONLY" != privox ] && [ -x "$AST" ]; then
  TARGET=asterisk
  RTP_START=41000 RTP_END=44999 EXTENSIONS_CONF_EXTRA='[public](+)
exten => 650,1,Answer()
 same => n(loop),Playback(tone)
 same => n,Goto(loop)
' "$AST" start "$WORK/ast" "$AST_PORT" >"$WORK/ast.start" 2>&1 || { cat "$WORK/ast.start" >&2; log "asterisk did not start"; exit 1; }
  AST_PID=$(tail -1 "$WORK/ast.start" | awk '{print $NF}')
  TARGET_PORT=$AST_PORT
  UAC_SCENARIO=uac_media.xml
  UAC_ARGS=(-s 650 -key caller bench)
  RELAYED_FN="echo 0"; LATE_FN=""
  SESSIONS_FN=ast_sessions
  SERVER_PIDS=$(pgrep -f "asterisk.*$WORK/ast" | tr '\n' ' ')
  [ -n "$SERVER_PIDS" ] || SERVER_PIDS=$AST_PID
  measure
  AST_BEST=$BEST
  "$AST" stop "$WORK/ast" >/dev/null 2>&1 || true
elif [ "$ONLY" != privox ]; then
  log "no Asterisk peer at $AST: Privox only"
fi

echo "RESULT privox_app_calls=$PVX_BEST calls"
echo "RESULT asterisk_playback_calls=$AST_BEST calls"
