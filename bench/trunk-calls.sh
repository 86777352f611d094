#!/usr/bin/env bash
# bench/trunk-calls.sh — outbound call set-up rate through a trunk with media anchored (issue 14,
# benchmark a): sipp UAC -> Privox (B2BUA, every call's RTP through its relay) -> an
# IP-authenticated trunk -> sipp UAS as the provider, against Kamailio 5.6 as a stateful
# record-routing proxy with rtpengine (userspace, --table=-1) to the same UAS, in the same run.
#
# Privox is configured through its REST API (start_privox_trunk_target in lib.sh): the tenant
# dials from Germany, trunk "provider" (kind ip, udp) points at the UAS on 127.0.0.2 and
# accepts calls only from that address, and outbound route "national" (_0[1-9]X.) sends what
# it matches through the trunk in E.164. The caller, extension u1, dials 030 1234567 in
# national form, is challenged (407) and answers with digest credentials; the UAS
# (sipp/uas_trunk.xml) answers only an INVITE for +49301234567, so a call that left in any
# other form counts as failed. Kamailio challenges the same way and rewrites a national
# Request-URI to E.164 before relaying (TRUNK_CC), so both carry the same SIP load.
# The call, the ramp and the pass condition are calls.sh's (call_step and measure_calls in
# lib.sh): < 0.1 % failed or unfinished calls, >= 97 % of the offered rate sustained, <= 1 %
# retransmissions, >= 99 % of the RTP relayed. sipp and the servers share the machine's cores:
# compare the CPU per call as well as the rate.
#
# Env knobs: those of calls.sh (STEP_S, CONFIRM_S, CALL_MS, START_RATE, MAX_RATE, ONLY,
#            KAMAILIO_AUTH, KEEP_WORK, PROFILE); DB_FORMS defaults to "encrypted" here (the
#            default form; "encrypted clear" measures both).
# Output: RESULT privox_trunk_cps=N calls/s, RESULT privox_trunk_cpu_us_per_call=N us/call
#         (server CPU per call with its media, confirming step), RESULT privox_trunk_rss_step_mb=N MB
#         (largest RSS during the confirming step), the same with privox_clear_trunk_ when
#         DB_FORMS names clear, RESULT kamailio_rtpengine_trunk_cps=N calls/s,
#         RESULT kamailio_rtpengine_trunk_cpu_us_per_call=N us/call (Kamailio's processes and
#         rtpengine), RESULT trunk_calls_ratio=X x (Privox's first form / Kamailio) and
#         RESULT trunk_cpu_per_call_ratio=X x (Privox / Kamailio: below 1 is less CPU).
NAME=trunk-calls
DB_FORMS=${DB_FORMS:-encrypted}
source "$(dirname "$0")/lib.sh"

PASSWORD=anchor-secret
call_bench_setup
# the provider on another loopback address: Privox takes an INVITE without credentials from
# a trunk's address as the provider's call, and the callers come from 127.0.0.1
UAS_HOST=127.0.0.2
UAS_SCENARIO=uas_trunk.xml

declare -A CPS CPU RSS
FIRST=
# ---------------------------------------------------------------- Privox, each database form
if [ "$ONLY" != kamailio ]; then
  for form in $DB_FORMS; do
    TARGET=privox-$form
    use_db_form "$form"
    start_privox_trunk_target 8000 1800 "$PASSWORD"
    reset_hwm "$PVX_PID"
    measure_calls "$PVX_PID"
    CPS[$form]=$BEST CPU[$form]=$CPU_US RSS[$form]=$RSS_STEP_MB
    : "${FIRST:=$form}"
    log "$TARGET RSS $(rss_mb "$PVX_PID") MB (peak $(hwm_mb "$PVX_PID") MB); $(metric privox_sip_active_calls) calls left"
    stop_pid "$UAS_PID"; stop_pid "$PVX_PID"
  done
fi

# ---------------------------------------------------------------- Kamailio + rtpengine
KAM_BEST=0; KAM_CPU=0
if [ "$ONLY" != privox ]; then
  TARGET=kamailio
  TRUNK_CC=49 start_kamailio_call_target 8000 1800 "$PASSWORD" "$TRUNK_DIALLED"
  EXTRA_PIDS=$RTPE_PID
  measure_calls "$KAM_PID"
  KAM_BEST=$BEST KAM_CPU=$CPU_US
  stop_pid "$UAS_PID"; stop_pid "$KAM_PID"; stop_pid "$RTPE_PID"
fi

for form in $DB_FORMS; do
  p=privox_trunk; [ "$form" = clear ] && p=privox_clear_trunk
  echo "RESULT ${p}_cps=${CPS[$form]:-0} calls/s"
  echo "RESULT ${p}_cpu_us_per_call=${CPU[$form]:-0} us/call"
  echo "RESULT ${p}_rss_step_mb=${RSS[$form]:-0} MB"
done
echo "RESULT kamailio_rtpengine_trunk_cps=$KAM_BEST calls/s"
echo "RESULT kamailio_rtpengine_trunk_cpu_us_per_call=$KAM_CPU us/call"
echo "RESULT trunk_calls_ratio=$(ratio "${CPS[${FIRST:-x}]:-0}" "$KAM_BEST") x"
echo "RESULT trunk_cpu_per_call_ratio=$(ratio "${CPU[${FIRST:-x}]:-0}" "$KAM_CPU") x"
