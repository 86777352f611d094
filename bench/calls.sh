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
#            confirming step, see profile_privox in lib.sh, and a heap profile after the idle time), DB_FORMS ("encrypted clear": Privox
#            with its database encrypted, the default, and clear, in the same run),
#            RSS_SETTLE_S (30: how long Privox idles after the last call before its RSS is read).
# Output: RESULT privox_cps=N calls/s (encrypted database), RESULT privox_clear_cps=N calls/s,
#         RESULT calls_encrypted_vs_clear=X x, RESULT privox[_clear]_cpu_us_per_call=N (server CPU
#         per call with its media, confirming step), RESULT kamailio_rtpengine_cps=N calls/s,
#         RESULT kamailio_rtpengine_cpu_us_per_call=N (Kamailio's processes and rtpengine),
#         RESULT calls_ratio=X x (Privox encrypted / Kamailio); Privox's memory for each form:
#         RESULT privox[_clear]_rss_hwm_mb=N MB (VmHWM: the peak from the first call to the end,
#         the overloaded steps of the ramp included; the start-up's peak is reset), privox[_clear]_rss_step_mb (the largest VmRSS
#         sampled every second during the confirming step at the highest passing rate),
#         privox[_clear]_rss_after_mb (VmRSS RSS_SETTLE_S after the last call ended).
NAME=calls
source "$(dirname "$0")/lib.sh"

PASSWORD=anchor-secret
RSS_SETTLE_S=${RSS_SETTLE_S:-30}
call_bench_setup

PVX_BEST=0; PVX_CLEAR_BEST=0; KAM_BEST=0; PVX_CPU=0; PVX_CLEAR_CPU=0; KAM_CPU=0
declare -A HWM=([encrypted]=0 [clear]=0) STEP_RSS=([encrypted]=0 [clear]=0) AFTER_RSS=([encrypted]=0 [clear]=0)
# ---------------------------------------------------------------- Privox, each database form
if [ "$ONLY" != kamailio ]; then
  for form in $DB_FORMS; do
    TARGET=privox-$form
    use_db_form "$form"
    start_privox_call_target 8000 1800 "$PASSWORD"
    log "$TARGET RSS $(rss_mb "$PVX_PID") MB before the calls (peak of the start-up $(hwm_mb "$PVX_PID") MB)"
    reset_hwm "$PVX_PID"
    measure_calls "$PVX_PID"
    if [ "$form" = clear ]; then PVX_CLEAR_BEST=$BEST PVX_CLEAR_CPU=$CPU_US; else PVX_BEST=$BEST PVX_CPU=$CPU_US; fi
    STEP_RSS[$form]=$RSS_STEP_MB
    log "$TARGET RSS $(rss_mb "$PVX_PID") MB at the end of the calls; $(metric privox_sip_active_calls) calls left; idling ${RSS_SETTLE_S}s"
    for _ in $(seq 1 120); do [ "$(metric privox_sip_active_calls)" -eq 0 ] && break; sleep 1; done
    sleep "$RSS_SETTLE_S"
    HWM[$form]=$(hwm_mb "$PVX_PID"); AFTER_RSS[$form]=$(rss_mb "$PVX_PID")
    heap_privox "calls-$form-after"
    log "$TARGET RSS ${AFTER_RSS[$form]} MB after ${RSS_SETTLE_S}s idle (peak of the run ${HWM[$form]} MB, of the confirming step ${STEP_RSS[$form]} MB); Go heap in use $(( $(metric go_memstats_heap_inuse_bytes) / 1048576 )) MB, $(metric privox_sip_active_calls) calls left"
    stop_pid "$UAS_PID"; stop_pid "$PVX_PID"
  done
fi

# ---------------------------------------------------------------- Kamailio + rtpengine
if [ "$ONLY" != privox ]; then
  TARGET=kamailio
  start_kamailio_call_target 8000 1800 "$PASSWORD"
  EXTRA_PIDS=$RTPE_PID
  measure_calls "$KAM_PID"
  KAM_BEST=$BEST KAM_CPU=$CPU_US
  stop_pid "$UAS_PID"; stop_pid "$KAM_PID"; stop_pid "$RTPE_PID"
fi

echo "RESULT privox_cps=$PVX_BEST calls/s"
echo "RESULT privox_clear_cps=$PVX_CLEAR_BEST calls/s"
echo "RESULT calls_encrypted_vs_clear=$(ratio "$PVX_BEST" "$PVX_CLEAR_BEST") x"
echo "RESULT privox_cpu_us_per_call=$PVX_CPU us/call"
echo "RESULT privox_clear_cpu_us_per_call=$PVX_CLEAR_CPU us/call"
echo "RESULT kamailio_rtpengine_cps=$KAM_BEST calls/s"
echo "RESULT kamailio_rtpengine_cpu_us_per_call=$KAM_CPU us/call"
echo "RESULT calls_ratio=$(ratio "$PVX_BEST" "$KAM_BEST") x"
for form in encrypted clear; do
  p=privox; [ "$form" = clear ] && p=privox_clear
  echo "RESULT ${p}_rss_hwm_mb=${HWM[$form]} MB"
  echo "RESULT ${p}_rss_step_mb=${STEP_RSS[$form]} MB"
  echo "RESULT ${p}_rss_after_mb=${AFTER_RSS[$form]} MB"
done
