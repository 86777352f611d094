#!/usr/bin/env bash
# bench/register.sh — REGISTER with digest authentication per second: Privox (built from this
# repository) against Kamailio 5.6 configured as a digest registrar, in the same run, on the
# same loopback, with the same sipp load.
#
# One registration = REGISTER -> 401 -> REGISTER with credentials -> 200 (two transactions),
# users u1..u$USERS in turn (sipp injection file). The offered rate ramps in bounded steps
# (doubling, then bisection), then the best passing rate is confirmed in a longer step. A step
# passes when failed+unfinished < 0.1 % of offered, the sustained rate (successful per second
# over sipp's full 1-s periods) >= 97 % of offered, and retransmissions <= 1 % of calls.
# Privox runs with its default policy (MD5 challenges, loopback exempt from the per-source
# rate limit, as a co-located load balancer would be); Kamailio as in the anchor script
# (2 UDP workers, in-memory usrloc, -x tlsf). sipp shares the 2 cores: whole-box figures.
#
# Env knobs: STEP_S (8), CONFIRM_S (20), START_RATE (1000), MAX_RATE (40000), USERS (10000),
#            ONLY (privox|kamailio), DB_FORMS ("encrypted clear": Privox is measured with its
#            database encrypted, the default, and clear, in the same run), KEEP_WORK=1,
#            FIXED_RATE (unset): no ramp; each server gets one step of FIXED_S (20) seconds at
#            this offered rate, below the load generator's ceiling, so that the CPU per
#            registration of both is measured at the same load rather than each at its own
#            best rate (after a step that registers every user once, whose CPU is logged).
#            PROFILE=1 records a CPU and heap profile of Privox during that step
#            (or the confirming step), as bench/calls.sh does.
# Output: RESULT privox_register_per_s=N registrations/s (encrypted database),
#         RESULT privox_clear_register_per_s=N registrations/s (database.encrypt false),
#         RESULT register_encrypted_vs_clear=X x, RESULT privox[_clear]_register_cpu_us=N (server
#         CPU per registration in the confirming step), RESULT kamailio_register_per_s=N
#         registrations/s, RESULT kamailio_register_cpu_us=N (all its processes), RESULT
#         register_cpu_ratio=X x (Privox encrypted / Kamailio, server CPU per registration),
#         RESULT register_ratio=X x (Privox encrypted / Kamailio).
NAME=register
source "$(dirname "$0")/lib.sh"

STEP_S=${STEP_S:-8}
CONFIRM_S=${CONFIRM_S:-20}
FIXED_RATE=${FIXED_RATE:-}
FIXED_S=${FIXED_S:-20}
START_RATE=${START_RATE:-1000}
MAX_RATE=${MAX_RATE:-40000}
USERS=${USERS:-10000}
ONLY=${ONLY:-}
PASSWORD=anchor-secret
REALM=bench.local

need_pkgs kamailio sip-tester iproute2 procps curl python3
pick_port SPORT
pick_port CPORT
users_csv "$WORK/users.csv" "$USERS" "$PASSWORD"
{ echo SEQUENTIAL; echo "u1;[authentication username=u1 password=wrong-$PASSWORD]"; } >"$WORK/bad.csv"
log "nproc=$(nproc) cpu='$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)' kamailio=$(kamailio -v 2>/dev/null | awk '/^version:/{print $3}') sipp=$(sipp -v 2>&1 | awk '/SIPp v/{print $2; exit}')"

# run_sipp PORT CSV RATE CALLS TIMEOUT_S -> OK FAIL LEFT RETRANS SUST
run_sipp() {
  local port=$1 csv=$2 rate=$3 calls=$4 tmo=$5 stat="$WORK/stat.$RANDOM.csv" pid
  rm -f "$stat"
  timeout $((tmo + 5)) sipp "$HOST:$port" -sf "$BENCH_DIR/sipp/register.xml" -inf "$csv" \
    -i "$HOST" -p "$SPORT" -cp "$CPORT" -r "$rate" -m "$calls" -timeout "$tmo" \
    -buff_size 4194304 -nostdin -trace_stat -stf "$stat" -fd 1 >"$WORK/sipp.out" 2>&1 &
  pid=$!
  wait "$pid" 2>/dev/null || true
  read -r OK FAIL LEFT RETRANS SUST _ < <(sipp_stats "$stat")
}

# step PORT RATE DURATION -> PASS THRU
step() {
  local port=$1 rate=$2 dur=$3 calls
  calls=$(( rate * dur ))
  run_sipp "$port" "$WORK/users.csv" "$rate" "$calls" $(( dur + 3 ))
  THRU=$SUST
  PASS=$(awk -v o="$OK" -v c="$calls" -v t="$THRU" -v r="$rate" -v rt="$RETRANS" \
         'BEGIN{ bad = c - o; print (bad <= c * 0.001 && t >= 0.97 * r && rt <= c * 0.01) ? 1 : 0 }')
  log "$(printf '%-8s rate=%6d/s %3ds offered=%7d ok=%7d failed=%5d unfinished=%5d retrans=%6d sustained=%6d/s %s' \
        "$TARGET" "$rate" "$dur" "$calls" "$OK" "$FAIL" "$LEFT" "$RETRANS" "$THRU" "$([ "$PASS" = 1 ] && echo PASS || echo FAIL)")"
}

# cpu_us TICKS0 TICKS1 N: microseconds of CPU per registration
cpu_us() {
  awk -v a="$1" -v b="$2" -v hz="$(getconf CLK_TCK)" -v n="$3" 'BEGIN{ if (n > 0) printf "%.1f", 1e6 * (b - a) / hz / n; else print 0 }'
}

# user_sys_ticks PID: utime and stime (clock ticks) of the pid and its children, apart
user_sys_ticks() {
  local f u=0 st=0 a b
  for f in /proc/"$1"/stat $(for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do echo /proc/"$c"/stat; done); do
    [ -r "$f" ] || continue
    read -r a b < <(awk '{sub(/^.*\) /,""); print $12, $13}' "$f")
    u=$(( u + a )); st=$(( st + b ))
  done
  echo "$u $st"
}

# measure PORT PID -> BEST (registrations/s) and CPU_US (server CPU per registration)
measure() {
  local port=$1 pid=$2 lo=0 hi=0 r=$START_RATE mid rate attempt c0 c1 prof u0 s0 u1 s1
  run_sipp "$port" "$WORK/users.csv" 10 5 8
  [ "$OK" -eq 5 ] || { log "$TARGET self-check failed: $OK/5 registrations"; exit 1; }
  run_sipp "$port" "$WORK/bad.csv" 1 1 4
  [ "$OK" -eq 0 ] || { log "$TARGET self-check failed: a wrong password was accepted"; exit 1; }
  log "$TARGET self-check ok: 5/5 registered, wrong password rejected"
  if [ -n "$FIXED_RATE" ]; then
    # every user once first (the first registration of each is a new binding, and Privox
    # reads the account from the store), then the measured step of refreshes
    c0=$(cpu_ticks "$pid")
    step "$port" "$FIXED_RATE" $(( (USERS + FIXED_RATE - 1) / FIXED_RATE ))
    c1=$(cpu_ticks "$pid")
    log "$TARGET first registration of every user: $OK registrations, $(cpu_us "$c0" "$c1" "$OK") us server CPU per registration"
    prof=
    if [ "${PROFILE:-0}" = 1 ] && [ "$TARGET" != kamailio ]; then profile_privox $(( FIXED_S - 4 )) "register-$TARGET"; prof=$!; fi
    read -r u0 s0 < <(user_sys_ticks "$pid")
    c0=$(cpu_ticks "$pid")
    step "$port" "$FIXED_RATE" "$FIXED_S"
    c1=$(cpu_ticks "$pid")
    read -r u1 s1 < <(user_sys_ticks "$pid")
    BEST=$THRU
    CPU_US=$(cpu_us "$c0" "$c1" "$OK")
    log "$TARGET at a fixed $FIXED_RATE/s: $OK registrations, $THRU/s sustained, $CPU_US us server CPU per registration ($(( c1 - c0 )) ticks: user $(( u1 - u0 )), system $(( s1 - s0 ))), $([ "$PASS" = 1 ] && echo PASS || echo FAIL), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    [ -z "$prof" ] || wait "$prof" || true # the profile's summary, before the server stops
    return 0
  fi
  while :; do
    step "$port" "$r" "$STEP_S"
    if [ "$PASS" = 1 ]; then lo=$r; else hi=$r; break; fi
    [ "$r" -lt "$MAX_RATE" ] || { hi=0; break; }
    r=$(( r * 2 > MAX_RATE ? MAX_RATE : r * 2 ))
  done
  if [ "$lo" -eq 0 ]; then
    r=$START_RATE
    while [ "$PASS" != 1 ] && [ "$r" -gt 50 ]; do r=$(( r / 2 )); step "$port" "$r" "$STEP_S"; done
    [ "$PASS" = 1 ] && lo=$r
  elif [ "$hi" -gt 0 ]; then
    for _ in 1 2 3; do
      mid=$(( (lo + hi) / 2 / 100 * 100 ))
      [ "$mid" -le "$lo" ] && break
      step "$port" "$mid" "$STEP_S"
      if [ "$PASS" = 1 ]; then lo=$mid; else hi=$mid; fi
    done
  fi
  BEST=0; CPU_US=0
  [ "$lo" -gt 0 ] || return 0
  rate=$lo
  for attempt in 1 2 3; do
    [ "$attempt" != 1 ] || [ "$TARGET" = kamailio ] || profile_privox $(( CONFIRM_S - 4 )) "register-$TARGET"
    c0=$(cpu_ticks "$pid")
    step "$port" "$rate" "$CONFIRM_S"
    c1=$(cpu_ticks "$pid")
    if [ "$PASS" = 1 ]; then
      BEST=$THRU
      CPU_US=$(cpu_us "$c0" "$c1" "$OK")
      break
    fi
    rate=$(( rate * 9 / 10 / 100 * 100 ))
  done
  log "$TARGET confirmed: $BEST registrations/s ($CPU_US us server CPU per registration)"
}

PVX_BEST=0; PVX_CLEAR_BEST=0; KAM_BEST=0; PVX_CPU=0; PVX_CLEAR_CPU=0; KAM_CPU=0
# ---------------------------------------------------------------- Privox, each database form
if [ "$ONLY" != kamailio ]; then
  build_privox
  for form in $DB_FORMS; do
    TARGET=privox-$form
    use_db_form "$form"
    pick_range RTP_MIN 100
    start_privox "$RTP_MIN" $(( RTP_MIN + 99 ))
    log "creating $USERS extensions through the API"
    make_extensions 1 "$USERS" "$PASSWORD"
    measure "$PVX_SIP_PORT" "$PVX_PID"
    if [ "$form" = clear ]; then PVX_CLEAR_BEST=$BEST PVX_CLEAR_CPU=$CPU_US; else PVX_BEST=$BEST PVX_CPU=$CPU_US; fi
    log "$TARGET RSS $(rss_mb "$PVX_PID") MB with $(metric privox_sip_registered_contacts) contacts"
    stop_pid "$PVX_PID"
  done
fi

# ---------------------------------------------------------------- Kamailio
if [ "$ONLY" != privox ]; then
  TARGET=kamailio
  start_kamailio_registrar "$REALM" "$PASSWORD"
  measure "$KPORT" "$KAM_PID"
  KAM_BEST=$BEST KAM_CPU=$CPU_US
  log "kamailio processes counted: $(( $(ps -o pid= --ppid "$KAM_PID" | wc -l) + 1 ))"
  stop_pid "$KAM_PID"
fi

echo "RESULT privox_register_per_s=$PVX_BEST registrations/s"
echo "RESULT privox_clear_register_per_s=$PVX_CLEAR_BEST registrations/s"
echo "RESULT register_encrypted_vs_clear=$(ratio "$PVX_BEST" "$PVX_CLEAR_BEST") x"
echo "RESULT privox_register_cpu_us=$PVX_CPU us/registration"
echo "RESULT privox_clear_register_cpu_us=$PVX_CLEAR_CPU us/registration"
echo "RESULT kamailio_register_per_s=$KAM_BEST registrations/s"
echo "RESULT kamailio_register_cpu_us=$KAM_CPU us/registration"
echo "RESULT register_cpu_ratio=$(ratio "$PVX_CPU" "$KAM_CPU") x"
echo "RESULT register_ratio=$(ratio "$PVX_BEST" "$KAM_BEST") x"
