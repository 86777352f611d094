#!/usr/bin/env bash
# bench/calls.sh — call setup rate with media anchored: sipp UAC -> Privox (B2BUA, every
# call's RTP through its relay) -> sipp UAS, against Kamailio 5.6 as a stateful record-routing
# proxy with rtpengine (userspace, --table=-1) anchoring the media, in the same run.
#
# A call: INVITE/100/180/200/ACK, G.711 A-law both ways (sipp rtp_stream, 20 ms packets, for
# CALL_MS - 200 ms), BYE/200 after CALL_MS. Through Privox the caller also authenticates (INVITE -> 407 -> ACK ->
# INVITE with credentials): Privox requires it and Kamailio's configuration does not, so
# Privox carries one more transaction per call. The offered rate ramps in bounded steps
# (doubling, then bisection to 25 calls/s), then the best passing rate is confirmed in a longer step. A step
# passes when failed+unfinished calls < 0.1 % of offered, the sustained rate >= 97 % of offered,
# retransmissions <= 1 % of calls, and the relay forwarded >= 99 % of the expected RTP packets
# (both directions). sipp and the servers share the 2 cores: whole-box figures.
#
# Env knobs: STEP_S (8), CONFIRM_S (20), CALL_MS (1000), START_RATE (100), MAX_RATE (6400),
#            ONLY (privox|kamailio), KEEP_WORK=1, PROFILE=1 (CPU profile of Privox during the
#            confirming step, see profile_privox in lib.sh).
# Output: RESULT privox_cps=N calls/s, RESULT kamailio_rtpengine_cps=N calls/s,
#         RESULT calls_ratio=X x.
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

start_uas() {
  ( cd "$WORK" && exec timeout 1800 sipp -sf uas_media.xml -i "$HOST" -p "$UAS_PORT" -mp "$UAS_MPORT" -cp "$UAS_CPORT" \
      -buff_size 4194304 -nostdin >"$WORK/uas.out" 2>&1 ) &
  UAS_PID=$!
  PIDS+=("$UAS_PID")
  wait_port u "$UAS_PORT" "$UAS_PID" || { cat "$WORK/uas.out" >&2; log "sipp uas did not start"; exit 1; }
}

# run_uac RATE CALLS TIMEOUT_S -> OK FAIL LEFT RETRANS SUST RELAYED
run_uac() {
  local rate=$1 calls=$2 tmo=$3 stat="$WORK/stat.$RANDOM.csv" r0 r1 pid
  rm -f "$stat"
  r0=$($RELAYED_FN)
  ( cd "$WORK" && exec timeout $((tmo + 5)) sipp "$HOST:$TARGET_PORT" -sf "$UAC_SCENARIO" "${UAC_ARGS[@]}" -d "$CALL_MS" \
      -i "$HOST" -p "$UAC_PORT" -mp "$UAC_MPORT" -cp "$UAC_CPORT" -r "$rate" -m "$calls" -timeout "$tmo" \
      -buff_size 4194304 -nostdin -trace_stat -stf "$stat" -fd 1 >"$WORK/uac.out" 2>&1 ) &
  pid=$!
  wait "$pid" 2>/dev/null || true
  sleep 0.5
  r1=$($RELAYED_FN)
  RELAYED=$(( r1 - r0 ))
  read -r OK FAIL LEFT RETRANS SUST _ < <(sipp_stats "$stat" $(( (CALL_MS + 999) / 1000 )))
}

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
  BEST=0
  [ "$lo" -gt 0 ] || return 0
  rate=$lo
  for _ in 1 2 3; do
    c0=$(cpu_ticks "$pid" ${EXTRA_PIDS:-})
    [ "$TARGET" != privox ] || profile_privox $(( CONFIRM_S - 4 )) calls
    step "$rate" "$CONFIRM_S"
    c1=$(cpu_ticks "$pid" ${EXTRA_PIDS:-})
    if [ "$PASS" = 1 ]; then
      BEST=$THRU
      log "$TARGET confirmed: $BEST calls/s ($(awk -v a="$c0" -v b="$c1" -v hz="$(getconf CLK_TCK)" -v n="$OK" 'BEGIN{ printf "%.0f", 1e6 * (b - a) / hz / n }') us server CPU per call incl. media)"
      return 0
    fi
    rate=$(( rate * 9 / 10 / 25 * 25 ))
    [ "$rate" -gt 0 ] || break
  done
}

PVX_BEST=0; KAM_BEST=0
# ---------------------------------------------------------------- Privox
if [ "$ONLY" != kamailio ]; then
  TARGET=privox
  build_privox
  pick_range RTP_MIN 8000
  start_privox "$RTP_MIN" $(( RTP_MIN + 7999 ))
  make_extensions 1 2 "$PASSWORD" # u1 = 100001 calls u2 = 100002
  start_uas
  ( cd "$WORK" && timeout 20 sipp "$HOST:$PVX_SIP_PORT" -sf register_contact.xml -s u2 -au u2 -ap "$PASSWORD" \
      -key contact_port "$UAS_PORT" -i "$HOST" -p "$REG_PORT" -m 1 -timeout 15 -nostdin >"$WORK/reg.out" 2>&1 ) \
    || { cat "$WORK/reg.out" >&2; log "registering the callee failed"; exit 1; }
  TARGET_PORT=$PVX_SIP_PORT
  UAC_SCENARIO=uac_media_auth.xml
  UAC_ARGS=(-s 100002 -au u1 -ap "$PASSWORD" -key caller u1)
  RELAYED_FN="metric privox_media_packets_relayed_total"
  measure "$PVX_PID"
  PVX_BEST=$BEST
  log "privox RSS $(rss_mb "$PVX_PID") MB; $(metric privox_sip_active_calls) calls left"
  stop_pid "$UAS_PID"; stop_pid "$PVX_PID"
fi

# ---------------------------------------------------------------- Kamailio + rtpengine
if [ "$ONLY" != privox ]; then
  TARGET=kamailio
  pick_port KPORT; pick_port NG_PORT; pick_port CLI_PORT
  pick_range RTPE_MIN 8000
  rtpengine --config-file=none --table=-1 --interface="$HOST" --listen-ng="$HOST:$NG_PORT" --listen-cli="$HOST:$CLI_PORT" \
    --port-min="$RTPE_MIN" --port-max="$(( RTPE_MIN + 7999 ))" --num-threads="$(nproc)" --delete-delay=0 \
    --foreground --log-stderr --log-level=4 --pidfile="$WORK/rtpengine.pid" >"$WORK/rtpengine.log" 2>&1 &
  RTPE_PID=$!
  PIDS+=("$RTPE_PID")
  wait_port t "$CLI_PORT" "$RTPE_PID" || { cat "$WORK/rtpengine.log" >&2; log "rtpengine did not start"; exit 1; }
  rtpe_relayed() {
    local out
    exec 4<>"/dev/tcp/$HOST/$CLI_PORT" || { echo 0; return; }
    echo "list totals" >&4
    out=$(timeout 3 cat <&4 || true)
    exec 4<&-
    awk -F: '/Total relayed packets \(userspace\)/ { print $2 + 0; f = 1 } END { if (!f) print 0 }' <<<"$out"
  }
  cat >"$WORK/kamailio.cfg" <<EOF
#!KAMAILIO
# Stateful record-routing proxy; SDP offer/answer rewritten by rtpengine.
debug=0
log_stderror=yes
memdbg=5
memlog=5
children=2
auto_aliases=no
dns=no
rev_dns=no
maxbuffer=4194304
listen=udp:$HOST:$KPORT

loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "rtpengine.so"

modparam("rtpengine", "rtpengine_sock", "udp:$HOST:$NG_PORT")

request_route {
    if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
    if (has_totag()) {
        if (loose_route()) {
            if (is_method("BYE")) { rtpengine_delete(); }
            route(RELAY);
        }
        if (is_method("ACK")) {
            if (t_check_trans()) { t_relay(); }
            exit;
        }
        sl_send_reply("404", "Not here");
        exit;
    }
    if (is_method("CANCEL")) {
        if (t_check_trans()) { rtpengine_delete(); route(RELAY); }
        exit;
    }
    t_check_trans();
    if (is_method("INVITE")) {
        record_route();
        if (has_body("application/sdp")) {
            if (!rtpengine_offer("replace-origin replace-session-connection")) {
                sl_send_reply("503", "Media relay unavailable");
                exit;
            }
        }
        t_on_reply("MEDIA_REPLY");
        t_on_failure("MEDIA_FAIL");
    }
    \$du = "sip:$HOST:$UAS_PORT";
    route(RELAY);
}

route[RELAY] {
    if (!t_relay()) { sl_reply_error(); }
    exit;
}

onreply_route[MEDIA_REPLY] {
    if (status =~ "(183)|(2[0-9][0-9])" && has_body("application/sdp")) {
        rtpengine_answer("replace-origin replace-session-connection");
    }
}

failure_route[MEDIA_FAIL] {
    rtpengine_delete();
}
EOF
  kamailio -c -f "$WORK/kamailio.cfg" >"$WORK/kamailio-check.log" 2>&1 || { cat "$WORK/kamailio-check.log" >&2; exit 1; }
  kamailio -DD -E -f "$WORK/kamailio.cfg" -m 1024 -M 16 -x tlsf -Y "$WORK" -w "$WORK" -P "$WORK/kamailio.pid" >"$WORK/kamailio.log" 2>&1 &
  KAM_PID=$!
  PIDS+=("$KAM_PID")
  wait_port u "$KPORT" "$KAM_PID" || { cat "$WORK/kamailio.log" >&2; log "kamailio did not start"; exit 1; }
  start_uas
  sleep 0.3
  TARGET_PORT=$KPORT
  UAC_SCENARIO=uac_media.xml
  UAC_ARGS=(-s 100002 -key caller u1)
  RELAYED_FN=rtpe_relayed
  EXTRA_PIDS=$RTPE_PID
  measure "$KAM_PID"
  KAM_BEST=$BEST
  stop_pid "$UAS_PID"; stop_pid "$KAM_PID"; stop_pid "$RTPE_PID"
fi

echo "RESULT privox_cps=$PVX_BEST calls/s"
echo "RESULT kamailio_rtpengine_cps=$KAM_BEST calls/s"
echo "RESULT calls_ratio=$(ratio "$PVX_BEST" "$KAM_BEST") x"
