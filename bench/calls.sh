#!/usr/bin/env bash
# bench/calls.sh — call setup rate with media anchored: sipp UAC -> Privox (B2BUA, every
# call's RTP through its relay) -> sipp UAS, against Kamailio 5.6 as a stateful record-routing
# proxy with rtpengine (userspace, --table=-1) anchoring the media, in the same run.
#
# A call: INVITE -> 407 -> ACK -> INVITE with credentials, 100/180/200/ACK, G.711 A-law both
# ways (sipp rtp_stream, 20 ms packets, for CALL_MS - 200 ms), BYE/200 after CALL_MS. Privox
# challenges callers, and so does the Kamailio set-up (digest against the same password), so
# both carry the same SIP load; KAMAILIO_AUTH=0 runs Kamailio as a plain proxy instead. The
# offered rate ramps in bounded steps (doubling, then bisection to 25 calls/s), then the best
# passing rate is confirmed in a longer step. A step passes when failed+unfinished calls
# < 0.1 % of offered, the sustained rate >= 97 % of offered, retransmissions <= 1 % of calls,
# and the relay forwarded >= 99 % of the expected RTP packets (both directions); after a
# failed step the target first releases its media sessions (settle in lib.sh). sipp and the
# servers share the 2 cores: whole-box figures.
#
# Env knobs: STEP_S (8), CONFIRM_S (20), CALL_MS (1000), START_RATE (100), MAX_RATE (6400),
#            ONLY (privox|kamailio), KAMAILIO_AUTH (1), KEEP_WORK=1, PROFILE=1 (CPU profile of Privox during the
#            confirming step, see profile_privox in lib.sh), DB_FORMS ("encrypted clear": Privox
#            with its database encrypted, the default, and clear, in the same run).
# Output: RESULT privox_cps=N calls/s (encrypted database), RESULT privox_clear_cps=N calls/s,
#         RESULT calls_encrypted_vs_clear=X x, RESULT privox[_clear]_cpu_us_per_call=N (server CPU
#         per call with its media, confirming step), RESULT kamailio_rtpengine_cps=N calls/s,
#         RESULT calls_ratio=X x (Privox encrypted / Kamailio).
NAME=calls
source "$(dirname "$0")/lib.sh"

STEP_S=${STEP_S:-8}
CONFIRM_S=${CONFIRM_S:-20}
CALL_MS=${CALL_MS:-1000}
START_RATE=${START_RATE:-100}
MAX_RATE=${MAX_RATE:-6400}
ONLY=${ONLY:-}
PASSWORD=anchor-secret
# the media lasts 200 ms less than the call, so that no packet races the BYE
MEDIA_MS=$(( CALL_MS - 200 ))
PKTS=$(( MEDIA_MS / 20 ))

need_pkgs kamailio sip-tester rtpengine-daemon iproute2 procps curl python3
command -v rtpengine >/dev/null || { log "rtpengine binary missing"; exit 1; }
pick_port UAS_PORT; pick_port UAC_PORT; pick_port UAS_CPORT; pick_port UAC_CPORT; pick_port REG_PORT
pick_port UAS_MPORT 4; pick_port UAC_MPORT 4
mkdir -p "$WORK/media"
head -c $(( 8 * MEDIA_MS )) /dev/zero | tr '\0' '\325' >"$WORK/media/audio.alaw" # A-law silence
cp "$BENCH_DIR"/sipp/*.xml "$WORK/"
log "nproc=$(nproc) kamailio=$(kamailio -v 2>/dev/null | awk '/^version:/{print $3}') rtpengine=$(rtpengine --version 2>&1 | awk '/Version/{print $2}') sipp=$(sipp -v 2>&1 | awk '/SIPp v/{print $2; exit}') call=${CALL_MS}ms"

# step RATE DURATION -> PASS THRU
step() {
  local rate=$1 dur=$2 calls expect
  calls=$(( rate * dur ))
  run_uac "$rate" "$calls" $(( dur + CALL_MS / 1000 + 6 ))
  THRU=$SUST
  expect=$(( OK * PKTS * 2 ))
  PASS=$(awk -v o="$OK" -v c="$calls" -v t="$THRU" -v r="$rate" -v rt="$RETRANS" -v rel="$RELAYED" -v ex="$expect" \
         'BEGIN{ bad = c - o; print (bad <= c * 0.001 && t >= 0.97 * r && rt <= c * 0.01 && ex > 0 && rel >= 0.99 * ex) ? 1 : 0 }')
  log "$(printf '%-8s rate=%5d/s %3ds offered=%6d ok=%6d failed=%4d unfinished=%4d retrans=%5d sustained=%5d/s rtp=%8d/%8d %s' \
        "$TARGET" "$rate" "$dur" "$calls" "$OK" "$FAIL" "$LEFT" "$RETRANS" "$THRU" "$RELAYED" "$expect" "$([ "$PASS" = 1 ] && echo PASS || echo FAIL)")"
  [ "$PASS" = 1 ] || settle
}

# measure SERVER_PID -> BEST (calls/s)
measure() {
  local pid=$1 lo=0 hi=0 r=$START_RATE mid rate c0 c1
  run_uac 2 2 $(( CALL_MS / 1000 + 8 ))
  if [ "$OK" -ne 2 ] || [ "$RELAYED" -lt $(( 2 * PKTS * 2 * 95 / 100 )) ]; then
    log "$TARGET self-check failed: ok=$OK/2 relayed=$RELAYED"; tail -n 30 "$WORK/uac.out" "$WORK/uas.out" >&2; exit 1
  fi
  log "$TARGET self-check ok: 2/2 calls, $RELAYED RTP packets relayed"
  while :; do
    step "$r" "$STEP_S"
    if [ "$PASS" = 1 ]; then lo=$r; else hi=$r; break; fi
    [ "$r" -lt "$MAX_RATE" ] || { hi=0; break; }
    r=$(( r * 2 > MAX_RATE ? MAX_RATE : r * 2 ))
  done
  if [ "$lo" -eq 0 ]; then
    r=$START_RATE
    while [ "$PASS" != 1 ] && [ "$r" -gt 10 ]; do r=$(( r / 2 )); step "$r" "$STEP_S"; done
    [ "$PASS" = 1 ] && lo=$r
  elif [ "$hi" -gt 0 ]; then
    # bisect down to 25 calls/s: the two servers often land within one coarser step
    while [ $(( hi - lo )) -gt 25 ]; do
      mid=$(( (lo + hi) / 2 / 25 * 25 ))
      [ "$mid" -le "$lo" ] && break
      step "$mid" "$STEP_S"
      if [ "$PASS" = 1 ]; then lo=$mid; else hi=$mid; fi
    done
  fi
  BEST=0; CPU_US=0
  [ "$lo" -gt 0 ] || return 0
  rate=$lo
  for _ in 1 2 3; do
    c0=$(cpu_ticks "$pid" ${EXTRA_PIDS:-})
    case $TARGET in privox*) profile_privox $(( CONFIRM_S - 4 )) "calls-${TARGET#privox-}" ;; esac
    step "$rate" "$CONFIRM_S"
    c1=$(cpu_ticks "$pid" ${EXTRA_PIDS:-})
    if [ "$PASS" = 1 ]; then
      BEST=$THRU
      CPU_US=$(awk -v a="$c0" -v b="$c1" -v hz="$(getconf CLK_TCK)" -v n="$OK" 'BEGIN{ printf "%.0f", 1e6 * (b - a) / hz / n }')
      log "$TARGET confirmed: $BEST calls/s ($CPU_US us server CPU per call incl. media)"
      return 0
    fi
    rate=$(( rate * 9 / 10 / 25 * 25 ))
    [ "$rate" -gt 0 ] || break
  done
}

PVX_BEST=0; PVX_CLEAR_BEST=0; KAM_BEST=0; PVX_CPU=0; PVX_CLEAR_CPU=0
# ---------------------------------------------------------------- Privox, each database form
if [ "$ONLY" != kamailio ]; then
  for form in $DB_FORMS; do
    TARGET=privox-$form
    use_db_form "$form"
    start_privox_call_target 8000 1800 "$PASSWORD"
    measure "$PVX_PID"
    if [ "$form" = clear ]; then PVX_CLEAR_BEST=$BEST PVX_CLEAR_CPU=$CPU_US; else PVX_BEST=$BEST PVX_CPU=$CPU_US; fi
    log "$TARGET RSS $(rss_mb "$PVX_PID") MB; $(metric privox_sip_active_calls) calls left"
    stop_pid "$UAS_PID"; stop_pid "$PVX_PID"
  done
fi

# ---------------------------------------------------------------- Kamailio + rtpengine
if [ "$ONLY" != privox ]; then
  TARGET=kamailio
  start_kamailio_call_target 8000 1800 "$PASSWORD"
  EXTRA_PIDS=$RTPE_PID
  measure "$KAM_PID"
  KAM_BEST=$BEST
  stop_pid "$UAS_PID"; stop_pid "$KAM_PID"; stop_pid "$RTPE_PID"
fi

echo "RESULT privox_cps=$PVX_BEST calls/s"
echo "RESULT privox_clear_cps=$PVX_CLEAR_BEST calls/s"
echo "RESULT calls_encrypted_vs_clear=$(ratio "$PVX_BEST" "$PVX_CLEAR_BEST") x"
echo "RESULT privox_cpu_us_per_call=$PVX_CPU us/call"
echo "RESULT privox_clear_cpu_us_per_call=$PVX_CLEAR_CPU us/call"
echo "RESULT kamailio_rtpengine_cps=$KAM_BEST calls/s"
echo "RESULT calls_ratio=$(ratio "$PVX_BEST" "$KAM_BEST") x"
