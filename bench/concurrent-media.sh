#!/usr/bin/env bash
# bench/concurrent-media.sh — how many simultaneous G.711 calls the relay carries on this
# machine with < 0.1 % packet loss: Privox (B2BUA + its relay) against Kamailio 5.6 +
# rtpengine (userspace, --table=-1), in the same run, with the same sipp load.
#
# Each call: INVITE -> 407 -> ACK -> INVITE with credentials, 100/180/200/ACK (Privox and the
# Kamailio set-up both challenge; KAMAILIO_AUTH=0 for a plain proxy), then 6 s of A-law
# both ways (sipp rtp_stream, 300 x 20 ms packets per direction), BYE after CALL_MS. The
# target concurrency ramps (doubling, then bisection); a step offers calls for STEP_S seconds
# at the rate that holds the target, and passes when failed+unfinished calls < 0.1 %, the relay
# forwarded >= 99.9 % of the expected packets (loss < 0.1 %), and the peak number of
# simultaneous calls reached 90 % of the target. Reported: the peak simultaneous calls of the
# best passing step. sipp, the servers and the relays share the 2 cores: whole-box figures.
#
# Env knobs: STEP_S (14), CALL_MS (7600), START_CONC (250), MAX_CONC (4000), ONLY
#            (privox|kamailio), KAMAILIO_AUTH (1), KEEP_WORK=1.
# Output: RESULT privox_concurrent_calls=N calls, RESULT rtpengine_concurrent_calls=N calls,
#         RESULT concurrent_ratio=X x.
NAME=concurrent-media
source "$(dirname "$0")/lib.sh"

STEP_S=${STEP_S:-14}
CALL_MS=${CALL_MS:-7600}
START_CONC=${START_CONC:-250}
MAX_CONC=${MAX_CONC:-4000}
ONLY=${ONLY:-}
PASSWORD=anchor-secret
PKTS=300 # 6 s of 20 ms packets per direction

need_pkgs kamailio sip-tester rtpengine-daemon iproute2 procps curl python3
command -v rtpengine >/dev/null || { log "rtpengine binary missing"; exit 1; }
pick_port UAS_PORT; pick_port UAC_PORT; pick_port UAS_CPORT; pick_port UAC_CPORT; pick_port REG_PORT
# sipp's rtp_stream ports grow from -mp; keep them apart from the relays' ranges (23000-32499)
UAC_MPORT=40000; UAS_MPORT=50000
mkdir -p "$WORK/media"
head -c 48000 /dev/zero | tr '\0' '\325' >"$WORK/media/audio.alaw" # 6 s of A-law silence
cp "$BENCH_DIR"/sipp/*.xml "$WORK/"
log "nproc=$(nproc) kamailio=$(kamailio -v 2>/dev/null | awk '/^version:/{print $3}') rtpengine=$(rtpengine --version 2>&1 | awk '/Version/{print $2}') sipp=$(sipp -v 2>&1 | awk '/SIPp v/{print $2; exit}')"

# step CONCURRENCY -> PASS PEAK
step() {
  local conc=$1 rate calls expect c0 c1 t0 t1
  rate=$(( (conc * 1000 + CALL_MS / 2) / CALL_MS )); [ "$rate" -ge 1 ] || rate=1
  calls=$(( rate * STEP_S ))
  c0=$(cpu_ticks $SERVER_PIDS); t0=$(date +%s.%N)
  run_uac "$rate" "$calls" $(( STEP_S + CALL_MS / 1000 + 8 ))
  c1=$(cpu_ticks $SERVER_PIDS); t1=$(date +%s.%N)
  CPU=$(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" 'BEGIN{ printf "%.0f", 100 * (b - a) / hz / (t1 - t0) }')
  expect=$(( OK * PKTS * 2 ))
  PASS=$(awk -v o="$OK" -v c="$calls" -v rel="$RELAYED" -v ex="$expect" -v pk="$PEAK" -v t="$conc" \
         'BEGIN{ bad = c - o; print (bad <= c * 0.001 && ex > 0 && rel >= 0.999 * ex && pk >= 0.9 * t) ? 1 : 0 }')
  log "$(printf '%-8s target=%5d (%4d cps x %ds) ok=%6d failed=%4d unfinished=%4d peak=%5d rtp=%9d/%9d (%6.2f%%) cpu=%3d%% %s' \
        "$TARGET" "$conc" "$rate" "$STEP_S" "$OK" "$FAIL" "$LEFT" "$PEAK" "$RELAYED" "$expect" \
        "$(awk -v a="$RELAYED" -v b="$expect" 'BEGIN{ print (b > 0) ? 100 * a / b : 0 }')" "$CPU" "$([ "$PASS" = 1 ] && echo PASS || echo FAIL)")"
  [ "$PASS" = 1 ] || settle
}

# measure -> BEST (peak simultaneous calls of the best passing step)
measure() {
  local lo=0 lo_peak=0 hi=0 c=$START_CONC mid
  run_uac 2 2 $(( CALL_MS / 1000 + 8 ))
  if [ "$OK" -ne 2 ] || [ "$RELAYED" -lt $(( 2 * PKTS * 2 * 95 / 100 )) ]; then
    log "$TARGET self-check failed: ok=$OK/2 relayed=$RELAYED"; tail -n 30 "$WORK/uac.out" "$WORK/uas.out" >&2; exit 1
  fi
  log "$TARGET self-check ok: 2/2 calls, $RELAYED RTP packets relayed"
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

PVX_BEST=0; KAM_BEST=0
# ---------------------------------------------------------------- Privox
if [ "$ONLY" != kamailio ]; then
  TARGET=privox
  start_privox_call_target 9500 3600 "$PASSWORD"
  SERVER_PIDS=$PVX_PID
  measure
  PVX_BEST=$BEST
  log "privox RSS $(rss_mb "$PVX_PID") MB"
  stop_pid "$UAS_PID"; stop_pid "$PVX_PID"
fi

# ---------------------------------------------------------------- Kamailio + rtpengine
if [ "$ONLY" != privox ]; then
  TARGET=rtpengine
  start_kamailio_call_target 9500 3600 "$PASSWORD"
  SERVER_PIDS="$KAM_PID $RTPE_PID"
  measure
  KAM_BEST=$BEST
  stop_pid "$UAS_PID"; stop_pid "$KAM_PID"; stop_pid "$RTPE_PID"
fi

echo "RESULT privox_concurrent_calls=$PVX_BEST calls"
echo "RESULT rtpengine_concurrent_calls=$KAM_BEST calls"
echo "RESULT concurrent_ratio=$(ratio "$PVX_BEST" "$KAM_BEST") x"
