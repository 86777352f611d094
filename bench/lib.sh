# bench/lib.sh — shared helpers of the SIP/media benchmarks (sourced, not run).
#
# Every benchmark builds Privox from this repository, runs it and its peer (Kamailio,
# rtpengine) on free loopback ports in the same run, drives both with sipp, bounds every load
# step in count and time, stops everything it started by PID, and ends with
# "RESULT name=value unit" lines on stdout (progress on stderr). Loopback only.
# The peer set-ups follow the anchor scripts in /work/shared/peers (Kamailio with -x tlsf,
# sipp -buff_size of a few MB, rtpengine userspace --table=-1).

set -euo pipefail

HOST=127.0.0.1
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
WORK=$(mktemp -d "/tmp/privox-bench.XXXXXX")
PIDS=()
PVX_PASSWORD=bench-admin-password

log() { echo "[$NAME] $*" >&2; }

stop_pid() { # stop_pid PID : TERM, wait, then KILL the pid and its direct children
  local pid=$1 i kids
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kids=$(ps -o pid= --ppid "$pid" 2>/dev/null || true)
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  for k in $kids; do kill -KILL "$k" 2>/dev/null || true; done
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[$i]}"; done
  if [ "${KEEP_WORK:-0}" = 1 ]; then log "scratch kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need_pkgs() { # need_pkgs PKG... : apt-get install what is missing
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  local SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >"$WORK/apt.log" 2>&1; then
    $SUDO apt-get update >>"$WORK/apt.log" 2>&1
    $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >>"$WORK/apt.log" 2>&1 \
      || { tail -n 20 "$WORK/apt.log" >&2; log "apt-get install failed"; exit 1; }
  fi
}

USED_PORTS=" "
# Ports are taken below the kernel's ephemeral range (32768-60999 by default), where sipp's and
# curl's own sockets land: signalling ports in 20000-22999, media ranges in 23000-32499.
pick_port() { # pick_port VAR [span] : a random free loopback port (and the span-1 above it)
  local var=$1 span=${2:-1} p i j busy
  for i in $(seq 1 500); do
    p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 3000 ))
    busy=0
    for j in $(seq 0 $(( span - 1 ))); do
      case "$USED_PORTS" in *" $(( p + j )) "*) busy=1 ;; esac
      [ -z "$(ss -Hn -uta "sport = :$(( p + j ))" 2>/dev/null)" ] || busy=1
    done
    [ "$busy" = 0 ] || continue
    for j in $(seq 0 $(( span - 1 ))); do USED_PORTS="$USED_PORTS$(( p + j )) "; done
    printf -v "$var" '%s' "$p"
    return 0
  done
  log "no free port found"; exit 1
}

pick_range() { # pick_range VAR SPAN : a block of SPAN UDP ports in 23000-32499 with nothing bound
  local var=$1 span=$2 base i n
  for i in $(seq 1 50); do
    base=$(( 23000 + (RANDOM % ((9500 - span) / 100 + 1)) * 100 ))
    n=$(ss -Hnua 2>/dev/null | awk -v lo="$base" -v hi="$(( base + span - 1 ))" \
          '{ k = split($5, a, ":"); p = a[k] + 0; if (p >= lo && p <= hi) c++ } END { print c + 0 }')
    if [ "$n" -eq 0 ]; then printf -v "$var" '%s' "$base"; return 0; fi
  done
  log "no free port range found"; exit 1
}

sys_cpu() { awk '/^cpu /{ print $2 + $3 + $4 + $6 + $7 + $8, $5 }' /proc/stat; } # busy idle ticks

cpu_ticks() { # cpu_ticks PID... : utime+stime (clock ticks) of the pids and their children
  local total=0 pid f
  for pid in "$@"; do
    for f in /proc/"$pid"/stat $(for c in $(ps -o pid= --ppid "$pid" 2>/dev/null); do echo /proc/"$c"/stat; done); do
      [ -r "$f" ] || continue
      total=$(( total + $(awk '{sub(/^.*\) /,""); print $12 + $13}' "$f") ))
    done
  done
  echo "$total"
}

rss_mb() { awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

wait_port() { # wait_port PROTO PORT PID
  local proto=$1 port=$2 pid=$3 i
  for i in $(seq 1 200); do
    [ -n "$(ss -Hn -"$proto"l "sport = :$port" 2>/dev/null)" ] && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# The embedded database is measured in both forms in one run: DB_FORMS ("encrypted clear" by
# default; "encrypted" or "clear" alone) names them, and use_db_form picks the form the next
# start_privox runs with (database.encrypt true or false), each in a data directory of its own.
DB_FORMS=${DB_FORMS:-"encrypted clear"}
PVX_DATA=$WORK/privox-data
PVX_ENCRYPT=true

use_db_form() { # use_db_form encrypted|clear
  case $1 in
    encrypted) PVX_ENCRYPT=true ;;
    clear) PVX_ENCRYPT=false ;;
    *) log "unknown database form '$1' in DB_FORMS (encrypted or clear)"; exit 1 ;;
  esac
  PVX_DATA=$WORK/privox-data-$1
}

# build_privox: go build ./cmd/privox into $WORK.
build_privox() {
  command -v go >/dev/null || { log "Go toolchain missing"; exit 1; }
  log "building privox from $REPO"
  (cd "$REPO" && go build -o "$WORK/privox" ./cmd/privox) || { log "go build failed"; exit 1; }
}

# start_privox RTP_MIN RTP_MAX: runs privox serve on free loopback ports, on the data directory
# and database form use_db_form chose (default: $WORK/privox-data, encrypted); sets PVX_PID,
# PVX_SIP_PORT, PVX_HTTP_PORT, PVX_METRICS_PORT, PVX_TOKEN (an admin API token of tenant "default").
# With PROFILE=1 it also serves runtime profiles on PVX_PPROF_PORT (see profile_privox).
start_privox() {
  local rmin=$1 rmax=$2 pprof=
  pick_port PVX_SIP_PORT; pick_port PVX_TLS_PORT; pick_port PVX_HTTP_PORT; pick_port PVX_METRICS_PORT
  if [ "${PROFILE:-0}" = 1 ]; then pick_port PVX_PPROF_PORT; pprof=$HOST:$PVX_PPROF_PORT; fi
  mkdir -p "$PVX_DATA"
  PRIVOX_DATABASE_ENCRYPT=$PVX_ENCRYPT PRIVOX_DEBUG_PPROF_ADDR=$pprof PRIVOX_ADMIN_PASSWORD=$PVX_PASSWORD PRIVOX_LOG_LEVEL=warn PRIVOX_LDAP_ADDR= PRIVOX_LDAP_LDAPS_ADDR= \
  PRIVOX_SIP_TLS_ADDR=$HOST:$PVX_TLS_PORT PRIVOX_METRICS_ADDR=$HOST:$PVX_METRICS_PORT \
    "$WORK/privox" serve --data "$PVX_DATA" --http-addr "$HOST:$PVX_HTTP_PORT" \
    --sip-addr "$HOST:$PVX_SIP_PORT" --rtp-ports "$rmin-$rmax" >"$WORK/privox.log" 2>&1 &
  PVX_PID=$!
  PIDS+=("$PVX_PID")
  local i
  for i in $(seq 1 200); do
    curl -fsS "http://$HOST:$PVX_HTTP_PORT/readyz" >/dev/null 2>&1 && break
    kill -0 "$PVX_PID" 2>/dev/null || { tail -20 "$WORK/privox.log" >&2; log "privox died"; exit 1; }
    sleep 0.1
  done
  PVX_TOKEN=$(PRIVOX_DATABASE_ENCRYPT=$PVX_ENCRYPT "$WORK/privox" token add --data "$PVX_DATA" --tenant default --user 1 --name bench --json \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
  log "privox pid $PVX_PID (database $([ "$PVX_ENCRYPT" = true ] && echo encrypted || echo clear)): sip udp:$HOST:$PVX_SIP_PORT http $HOST:$PVX_HTTP_PORT rtp $rmin-$rmax"
}

# profile_privox SECONDS NAME: with PROFILE=1, records a CPU profile of Privox in the
# background into $PROFILE_DIR (default /tmp)/privox-NAME.pprof, then a heap profile beside it,
# and prints their top functions to stderr; without PROFILE=1 it does nothing.
profile_privox() {
  [ "${PROFILE:-0}" = 1 ] || return 0
  local secs=$1 out="${PROFILE_DIR:-/tmp}/privox-$2.pprof"
  (
    curl -fsS -o "$out" "http://$HOST:$PVX_PPROF_PORT/debug/pprof/profile?seconds=$secs" || { log "profile failed"; exit 0; }
    log "CPU profile in $out; top functions (flat and cumulative):"
    (cd "$REPO" && go tool pprof -top -nodecount=40 "$WORK/privox" "$out" 2>/dev/null | sed -n 1,48p >&2)
    (cd "$REPO" && go tool pprof -top -cum -nodecount=40 "$WORK/privox" "$out" 2>/dev/null | sed -n 6,48p >&2)
    curl -fsS -o "${out%.pprof}.heap.pprof" "http://$HOST:$PVX_PPROF_PORT/debug/pprof/heap" || exit 0
    log "heap profile in ${out%.pprof}.heap.pprof; in use, and allocated since start:"
    (cd "$REPO" && go tool pprof -top -sample_index=inuse_space -nodecount=20 "$WORK/privox" "${out%.pprof}.heap.pprof" 2>/dev/null | sed -n 5,28p >&2)
    (cd "$REPO" && go tool pprof -top -sample_index=alloc_space -nodecount=25 "$WORK/privox" "${out%.pprof}.heap.pprof" 2>/dev/null | sed -n 5,33p >&2)
  ) &
}

# heap_privox NAME: with PROFILE=1, records a heap profile of Privox into $PROFILE_DIR (default
# /tmp)/privox-NAME.heap.pprof now and prints what is in use to stderr.
heap_privox() {
  [ "${PROFILE:-0}" = 1 ] || return 0
  local out="${PROFILE_DIR:-/tmp}/privox-$1.heap.pprof"
  curl -fsS -o "$out" "http://$HOST:$PVX_PPROF_PORT/debug/pprof/heap" || { log "heap profile failed"; return 0; }
  log "heap profile in $out; in use (flat and cumulative):"
  (cd "$REPO" && go tool pprof -top -sample_index=inuse_space -nodecount=25 "$WORK/privox" "$out" 2>/dev/null | sed -n 5,33p >&2)
  (cd "$REPO" && go tool pprof -top -cum -sample_index=inuse_space -nodecount=30 "$WORK/privox" "$out" 2>/dev/null | sed -n 6,38p >&2)
}

# make_extensions FIRST COUNT PASSWORD: creates extensions through the REST API, four
# connections in parallel: numbers 100000+i, SIP user names u<i>.
make_extensions() {
  local first=$1 count=$2 pw=$3
  python3 - "$PVX_HTTP_PORT" "$PVX_TOKEN" "$first" "$count" "$pw" <<'EOF'
import http.client, json, sys, threading
port, token, first, count, pw = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
errors = []
def work(lo, hi):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for i in range(lo, hi):
        body = json.dumps({"number": str(100000 + i), "sip_username": "u%d" % i, "sip_password": pw})
        c.request("POST", "/api/v1/tenants/1/extensions", body, {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
        r = c.getresponse(); r.read()
        if r.status != 201:
            errors.append((i, r.status)); return
k = 4; step = (count + k - 1) // k; ts = []
for j in range(k):
    lo = first + j * step; hi = min(first + count, lo + step)
    if lo < hi:
        t = threading.Thread(target=work, args=(lo, hi)); t.start(); ts.append(t)
for t in ts: t.join()
if errors: sys.exit("extension create failed: %r" % errors[:3])
EOF
}

# metric NAME: a Privox Prometheus metric (0 when absent).
metric() {
  curl -fsS "http://$HOST:$PVX_METRICS_PORT/metrics" | awk -v n="$1" '$1 == n { printf "%.0f", $2; f = 1 } END { if (!f) print 0 }'
}

# users_csv FILE COUNT PASSWORD: a sipp injection file u1..uN with their credentials (sipp cannot
# nest [field] in [authentication], so the whole keyword is one field).
users_csv() {
  { echo SEQUENTIAL
    awk -v n="$2" -v pw="$3" 'BEGIN{for(i=1;i<=n;i++) printf "u%d;[authentication username=u%d password=%s]\n", i, i, pw}'
  } >"$1"
}

# sipp_stats FILE -> OK FAIL LEFT RETRANS SUST(successful calls/s over full 1-s periods,
# skipping SKIP leading periods and the last one) PEAK(concurrent calls)
sipp_stats() {
  local stat=$1 skip=${2:-0}
  if [ ! -s "$stat" ]; then echo "0 0 0 0 0 0"; return; fi
  local ok fail left retrans
  read -r ok fail left retrans < <(tail -1 "$stat" | awk -F';' '{ printf "%d %d %d %d\n", $16, $18, $14, $58 }')
  local sust peak
  sust=$(awk -F';' -v skip="$skip" 'NR > 1 { split($2, a, "\t"); split($3, c, "\t"); d = c[3] - a[3];
                             if (d > 0.5) { n++; D[n] = d; S[n] = $15 } }
                    END { for (i = 1 + skip; i < n; i++) { sd += D[i]; ss += S[i] }
                          if (sd > 0) printf "%.0f", ss / sd; else print 0 }' "$stat")
  peak=$(awk -F';' 'NR > 1 && $14 + 0 > m { m = $14 + 0 } END { print m + 0 }' "$stat")
  echo "$ok $fail $left $retrans $sust $peak"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }'; }

# ---------------------------------------------------------------- peers
# The Kamailio and rtpengine set-ups follow /work/shared/peers: Kamailio with the tlsf
# allocator, a few MB of socket buffer and two children; rtpengine in userspace (--table=-1).

# kamailio_header: the global part of every Kamailio configuration here (listens on KPORT).
kamailio_header() {
  cat <<EOF2
#!KAMAILIO
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
EOF2
}

# run_kamailio SHM_MB: checks and starts $WORK/kamailio.cfg; sets KAM_PID.
run_kamailio() {
  kamailio -c -f "$WORK/kamailio.cfg" >"$WORK/kamailio-check.log" 2>&1 || { cat "$WORK/kamailio-check.log" >&2; exit 1; }
  kamailio -DD -E -f "$WORK/kamailio.cfg" -m "$1" -M 16 -x tlsf -Y "$WORK" -w "$WORK" -P "$WORK/kamailio.pid" >"$WORK/kamailio.log" 2>&1 &
  KAM_PID=$!
  PIDS+=("$KAM_PID")
  wait_port u "$KPORT" "$KAM_PID" || { cat "$WORK/kamailio.log" >&2; log "kamailio did not start"; exit 1; }
  sleep 0.3
}

# start_kamailio_registrar REALM PASSWORD: Kamailio 5.6 as a registrar with digest auth against
# one fixed password and in-memory usrloc, on a free port; sets KPORT and KAM_PID.
start_kamailio_registrar() {
  local realm=$1 password=$2
  pick_port KPORT
  { kamailio_header; cat <<EOF2

loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"

modparam("usrloc", "db_mode", 0)
modparam("auth", "secret", "bench-nonce-secret")

request_route {
    if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
    if (!is_method("REGISTER")) { sl_send_reply("405", "Method Not Allowed"); exit; }
    if (!pv_www_authenticate("$realm", "$password", "0")) {
        www_challenge("$realm", "0");
        exit;
    }
    consume_credentials();
    if (!save("location")) { sl_reply_error(); }
    exit;
}
EOF2
  } >"$WORK/kamailio.cfg"
  run_kamailio 512
}

# start_rtpengine SPAN: rtpengine (userspace) with SPAN media ports on free loopback ports;
# sets RTPE_PID, NG_PORT and CLI_PORT (for rtpe_relayed). Sessions that never got an answer
# (a call abandoned in an overloaded step) are dropped after 60 s like every other dead
# session, not after the default hour, which would keep their ports from the next step.
start_rtpengine() {
  local span=$1
  pick_port NG_PORT; pick_port CLI_PORT
  pick_range RTPE_MIN "$span"
  rtpengine --config-file=none --table=-1 --interface="$HOST" --listen-ng="$HOST:$NG_PORT" --listen-cli="$HOST:$CLI_PORT" \
    --port-min="$RTPE_MIN" --port-max="$(( RTPE_MIN + span - 1 ))" --num-threads="$(nproc)" --delete-delay=0 --offer-timeout=60 \
    --foreground --log-stderr --log-level=4 --pidfile="$WORK/rtpengine.pid" >"$WORK/rtpengine.log" 2>&1 &
  RTPE_PID=$!
  PIDS+=("$RTPE_PID")
  wait_port t "$CLI_PORT" "$RTPE_PID" || { cat "$WORK/rtpengine.log" >&2; log "rtpengine did not start"; exit 1; }
}

# rtpe_cli COMMAND: runs one command on rtpengine's CLI (CLI_PORT) and prints its answer.
rtpe_cli() {
  exec 4<>"/dev/tcp/$HOST/$CLI_PORT" || return 0
  echo "$1" >&4
  timeout 3 cat <&4 || true
  exec 4<&-
}

# rtpe_relayed: the packets rtpengine has relayed so far (its CLI's totals).
rtpe_relayed() {
  rtpe_cli "list totals" | awk -F: '/Total relayed packets \(userspace\)/ { print $2 + 0; f = 1 } END { if (!f) print 0 }'
}

# rtpe_sessions: the calls rtpengine holds now.
rtpe_sessions() {
  rtpe_cli "list numsessions" | awk -F: '/Current sessions own/ { print $2 + 0; f = 1 } END { if (!f) print 0 }'
}

# settle: after a failed load step, waits (at most 120 s) until the target holds no media
# sessions any more (SESSIONS_FN), so that the ports an overloaded step left behind do not fail
# the next step for the same reason.
settle() {
  local i n=0
  for i in $(seq 1 240); do
    n=$($SESSIONS_FN)
    [ "$n" -gt 0 ] || break
    sleep 0.5
  done
  log "$TARGET settled in $(( i / 2 )) s ($n media sessions left)"
}

# start_kamailio_media_proxy UAS_PORT [PASSWORD]: Kamailio 5.6 as a stateful record-routing
# proxy to the sipp UAS on UAS_HOST (default HOST):UAS_PORT, the SDP of every offer and answer
# rewritten by the rtpengine on NG_PORT; with PASSWORD, every new INVITE is challenged (407,
# digest against that one password) as Privox challenges its callers, so that both carry the
# same SIP load. With TRUNK_CC (a country calling code such as 49) Kamailio acts as the PBX's
# trunk side: a national number in the Request-URI (0 and a digit 1-9 first) leaves in E.164
# (+49 and the number without its 0), as Privox's outbound route sends it. Sets KPORT and KAM_PID.
start_kamailio_media_proxy() {
  local uas_port=$1 password=${2:-} auth="" e164=""
  pick_port KPORT
  local challenge=""
  if [ -n "${TRUNK_CC:-}" ]; then
    e164='        if ($rU =~ "^0[1-9]") { $rU = "+'"$TRUNK_CC"'" + $(rU{s.substr,1,0}); }'
  fi
  if [ -n "$password" ]; then
    auth='loadmodule "auth.so"
modparam("auth", "secret", "bench-nonce-secret")'
    challenge='        if (!pv_proxy_authenticate("$fd", "'"$password"'", "0")) {
            proxy_challenge("$fd", "0");
            exit;
        }
        consume_credentials();'
  fi
  { kamailio_header; cat <<EOF2

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
$auth

modparam("rtpengine", "rtpengine_sock", "udp:$HOST:$NG_PORT")
# after an overloaded step rtpengine is tried again within seconds, not after a minute
modparam("rtpengine", "rtpengine_disable_tout", 5)

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
$challenge
$e164
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
    \$du = "sip:${UAS_HOST:-$HOST}:$uas_port";
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
EOF2
  } >"$WORK/kamailio.cfg"
  run_kamailio 1024
}

# ---------------------------------------------------------------- sipp media calls
# Used by calls.sh, trunk-calls.sh and concurrent-media.sh: a sipp UAS answering with RTP on
# UAS_PORT, and the callee u2 (number 100002) registered at Privox with the UAS as its contact
# (or, in trunk-calls.sh, the UAS as the provider behind an IP-authenticated trunk).

# start_uas TIMEOUT_S: the UAS runs UAS_SCENARIO (default uas_media.xml) on UAS_HOST
# (default HOST); sets UAS_PID.
start_uas() {
  ( cd "$WORK" && exec timeout "$1" sipp -sf "${UAS_SCENARIO:-uas_media.xml}" -i "${UAS_HOST:-$HOST}" -p "$UAS_PORT" -mp "$UAS_MPORT" -cp "$UAS_CPORT" \
      -buff_size 4194304 -nostdin >"$WORK/uas.out" 2>&1 ) &
  UAS_PID=$!
  PIDS+=("$UAS_PID")
  wait_port u "$UAS_PORT" "$UAS_PID" || { cat "$WORK/uas.out" >&2; log "sipp uas did not start"; exit 1; }
}

# register_callee PASSWORD: registers u2 at Privox with the UAS as its contact.
register_callee() {
  ( cd "$WORK" && timeout 20 sipp "$HOST:$PVX_SIP_PORT" -sf register_contact.xml -s u2 -au u2 -ap "$1" \
      -key contact_port "$UAS_PORT" -i "$HOST" -p "$REG_PORT" -m 1 -timeout 15 -nostdin >"$WORK/reg.out" 2>&1 ) \
    || { cat "$WORK/reg.out" >&2; log "registering the callee failed"; exit 1; }
}

# run_uac RATE CALLS TIMEOUT_S: sipp calls TARGET_PORT with UAC_SCENARIO and UAC_ARGS, RATE
# calls/s, CALLS in all, each lasting CALL_MS; sets OK FAIL LEFT RETRANS SUST PEAK (see
# sipp_stats; SUST skips the first call's length) and RELAYED (packets RELAYED_FN counted meanwhile).
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
  read -r OK FAIL LEFT RETRANS SUST PEAK < <(sipp_stats "$stat" $(( (CALL_MS + 999) / 1000 )))
}

# start_privox_call_target SPAN UAS_TIMEOUT_S PASSWORD: Privox with SPAN media ports and
# extensions 100001 (u1) and 100002 (u2), the sipp UAS registered as u2, and the sipp caller
# set up as u1 answering Privox's 407; sets TARGET_PORT, UAC_SCENARIO, UAC_ARGS, RELAYED_FN
# and SESSIONS_FN for run_uac and settle.
start_privox_call_target() {
  local span=$1 password=$3
  build_privox
  pick_range RTP_MIN "$span"
  start_privox "$RTP_MIN" $(( RTP_MIN + span - 1 ))
  make_extensions 1 2 "$password"
  start_uas "$2"
  register_callee "$password"
  privox_caller 100002 "$password"
}

# privox_caller NUMBER PASSWORD: the sipp caller u1 dials NUMBER at Privox, answering its 407.
privox_caller() {
  TARGET_PORT=$PVX_SIP_PORT
  UAC_SCENARIO=uac_media_auth.xml
  # sipp's digest uri is remote_ip:remote_port unless told; Privox wants the Request-URI
  UAC_ARGS=(-s "$1" -au u1 -ap "$2" -auth_uri "$1@$HOST:$PVX_SIP_PORT" -key caller u1)
  RELAYED_FN="metric privox_media_packets_relayed_total"
  SESSIONS_FN="metric privox_media_sessions"
}

# pvx_api METHOD PATH BODY: one admin request to Privox's REST API (PVX_TOKEN); prints the answer.
pvx_api() {
  curl -fsS -X "$1" -H "Authorization: Bearer $PVX_TOKEN" -H 'Content-Type: application/json' \
    "http://$HOST:$PVX_HTTP_PORT$2" ${3:+-d "$3"}
}

# Outside calls through a trunk (trunk-calls.sh): the caller dials TRUNK_DIALLED, a German
# number in national form; the provider, a sipp UAS on UAS_HOST, must see TRUNK_E164.
TRUNK_DIALLED=0301234567
TRUNK_E164=+49301234567

# start_privox_trunk_target SPAN UAS_TIMEOUT_S PASSWORD: Privox with SPAN media ports and
# extension 100001 (u1); tenant "default" dials from Germany (country DE), with an
# IP-authenticated trunk "provider" to the sipp UAS on UAS_HOST:UAS_PORT (the only source it
# accepts calls from) and an outbound route for national numbers (_0[1-9]X.) through it, in
# E.164. The toll-fraud guard's per-extension limits are switched off (0): every call comes
# from u1, and its defaults (2 concurrent outside calls, 10 within a minute suspend the
# extension) are meant for people, not for a load generator. Sets what
# start_privox_call_target sets; the caller dials TRUNK_DIALLED.
start_privox_trunk_target() {
  local span=$1 password=$3 decision
  build_privox
  pick_range RTP_MIN "$span"
  start_privox "$RTP_MIN" $(( RTP_MIN + span - 1 ))
  make_extensions 1 1 "$password"
  pvx_api PUT /api/v1/tenants/1/dial-settings \
    '{"country":"DE","main_number":"030 9999000","max_concurrent":0,"minutes_per_day":0,"burst_calls":0,"burst_window_s":0}' >/dev/null
  pvx_api PUT /api/v1/tenants/1/trunks/provider \
    "{\"kind\":\"ip\",\"transport\":\"udp\",\"server\":\"$UAS_HOST:$UAS_PORT\",\"allowed_sources\":[\"$UAS_HOST\"]}" >/dev/null
  pvx_api PUT /api/v1/tenants/1/outbound-routes/national '{"pattern":"_0[1-9]X.","trunks":["provider"]}' >/dev/null
  decision=$(pvx_api GET "/api/v1/tenants/1/route-explain?from=100001&to=$TRUNK_DIALLED")
  case $decision in
    *"$TRUNK_E164"*provider* | *provider*"$TRUNK_E164"*) ;;
    *) log "route explain: $decision"; log "the outbound route does not send $TRUNK_DIALLED to the trunk in E.164"; exit 1 ;;
  esac
  log "privox routes $TRUNK_DIALLED through trunk provider ($UAS_HOST:$UAS_PORT) as $TRUNK_E164"
  start_uas "$2"
  privox_caller "$TRUNK_DIALLED" "$password"
}

# start_kamailio_call_target SPAN UAS_TIMEOUT_S PASSWORD [NUMBER]: rtpengine with SPAN media
# ports, the sipp UAS, and Kamailio as the media proxy to it, challenging INVITEs like Privox
# (the same sipp scenario), or with KAMAILIO_AUTH=0 as a plain proxy that lets every INVITE
# through; the caller dials NUMBER (default 100002). Sets what start_privox_call_target sets.
start_kamailio_call_target() {
  local password=$3 number=${4:-100002}
  start_rtpengine "$1"
  start_uas "$2"
  if [ "${KAMAILIO_AUTH:-1}" = 1 ]; then
    start_kamailio_media_proxy "$UAS_PORT" "$password"
    UAC_SCENARIO=uac_media_auth.xml
    UAC_ARGS=(-s "$number" -au u1 -ap "$password" -auth_uri "$number@$HOST:$KPORT" -key caller u1)
  else
    start_kamailio_media_proxy "$UAS_PORT"
    UAC_SCENARIO=uac_media.xml
    UAC_ARGS=(-s "$number" -key caller u1)
  fi
  TARGET_PORT=$KPORT
  RELAYED_FN=rtpe_relayed
  SESSIONS_FN=rtpe_sessions
}

# ---------------------------------------------------------------- call set-up rate
# The ramp of calls.sh and trunk-calls.sh. A step passes when failed+unfinished calls < 0.1 %
# of offered, the sustained rate >= 97 % of offered, retransmissions <= 1 % of calls, and the
# relay forwarded >= 99 % of the expected RTP packets (both directions); after a failed step
# the target first releases its media sessions (settle).

# call_bench_setup: knobs (STEP_S, CONFIRM_S, CALL_MS, START_RATE, MAX_RATE, ONLY), packages,
# sipp ports, the A-law media and the sipp scenarios in $WORK.
call_bench_setup() {
  STEP_S=${STEP_S:-8}
  CONFIRM_S=${CONFIRM_S:-20}
  CALL_MS=${CALL_MS:-1000}
  START_RATE=${START_RATE:-100}
  MAX_RATE=${MAX_RATE:-6400}
  ONLY=${ONLY:-}
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
  log "nproc=$(nproc) kamailio=$(kamailio -v 2>/dev/null | awk '/^version:/{print $3}') rtpengine=$(rtpengine --version 2>&1 | awk '/Version/{print $2}') sipp=$(sipp -v 2>&1 | awk '/SIPp v/{print $2; exit}') call=${CALL_MS}ms load=$(cut -d' ' -f1-3 /proc/loadavg)"
}

# call_step RATE DURATION -> PASS THRU
call_step() {
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

# measure_calls SERVER_PID -> BEST (calls/s), CPU_US (server CPU per call, confirming step, of
# SERVER_PID and EXTRA_PIDS with their children), RSS_STEP_MB (the largest VmRSS of SERVER_PID
# sampled every second during the confirming step). A self-check of two calls, then the offered
# rate doubles from START_RATE until a step fails, is bisected to 25 calls/s, and the best
# passing rate is confirmed over CONFIRM_S (up to three tries, 10 % lower each).
measure_calls() {
  local pid=$1 lo=0 hi=0 r=$START_RATE mid rate c0 c1
  run_uac 2 2 $(( CALL_MS / 1000 + 8 ))
  if [ "$OK" -ne 2 ] || [ "$RELAYED" -lt $(( 2 * PKTS * 2 * 95 / 100 )) ]; then
    log "$TARGET self-check failed: ok=$OK/2 relayed=$RELAYED"; tail -n 30 "$WORK/uac.out" "$WORK/uas.out" >&2; exit 1
  fi
  log "$TARGET self-check ok: 2/2 calls, $RELAYED RTP packets relayed"
  while :; do
    call_step "$r" "$STEP_S"
    if [ "$PASS" = 1 ]; then lo=$r; else hi=$r; break; fi
    [ "$r" -lt "$MAX_RATE" ] || { hi=0; break; }
    r=$(( r * 2 > MAX_RATE ? MAX_RATE : r * 2 ))
  done
  if [ "$lo" -eq 0 ]; then
    r=$START_RATE
    while [ "$PASS" != 1 ] && [ "$r" -gt 10 ]; do r=$(( r / 2 )); call_step "$r" "$STEP_S"; done
    [ "$PASS" = 1 ] && lo=$r
  elif [ "$hi" -gt 0 ]; then
    # bisect down to 25 calls/s: the two servers often land within one coarser step
    while [ $(( hi - lo )) -gt 25 ]; do
      mid=$(( (lo + hi) / 2 / 25 * 25 ))
      [ "$mid" -le "$lo" ] && break
      call_step "$mid" "$STEP_S"
      if [ "$PASS" = 1 ]; then lo=$mid; else hi=$mid; fi
    done
  fi
  BEST=0; CPU_US=0; RSS_STEP_MB=0
  [ "$lo" -gt 0 ] || return 0
  rate=$lo
  for _ in 1 2 3; do
    c0=$(cpu_ticks "$pid" ${EXTRA_PIDS:-})
    case $TARGET in privox*) profile_privox $(( CONFIRM_S - 4 )) "$NAME-${TARGET#privox-}" ;; esac
    rss_watch "$pid"
    call_step "$rate" "$CONFIRM_S"
    RSS_STEP_MB=$(rss_peak)
    c1=$(cpu_ticks "$pid" ${EXTRA_PIDS:-})
    CPU_US=$(awk -v a="$c0" -v b="$c1" -v hz="$(getconf CLK_TCK)" -v n="$OK" 'BEGIN{ if (n > 0) printf "%.0f", 1e6 * (b - a) / hz / n; else print 0 }')
    if [ "$PASS" = 1 ]; then
      BEST=$THRU
      log "$TARGET confirmed: $BEST calls/s ($CPU_US us server CPU per call incl. media; RSS up to $RSS_STEP_MB MB in the step)"
      return 0
    fi
    log "$TARGET not confirmed at $rate calls/s ($CPU_US us server CPU per call incl. media; RSS up to $RSS_STEP_MB MB in the step)"
    CPU_US=0
    rate=$(( rate * 9 / 10 / 25 * 25 ))
    [ "$rate" -gt 0 ] || break
  done
}

# ---------------------------------------------------------------- memory
# rss_watch PID: samples the process's VmRSS every second into $WORK/rss.txt until rss_peak.
rss_watch() {
  : >"$WORK/rss.txt"
  ( while kill -0 "$1" 2>/dev/null; do rss_mb "$1" >>"$WORK/rss.txt" 2>/dev/null; echo >>"$WORK/rss.txt"; sleep 1; done ) &
  RSS_PID=$!
  PIDS+=("$RSS_PID")
}
rss_peak() { stop_pid "$RSS_PID"; awk '$1 + 0 > m { m = $1 + 0 } END { print m + 0 }' "$WORK/rss.txt"; }

# hwm_mb PID: the process's peak resident set (VmHWM) since it started or since reset_hwm, in MB.
hwm_mb() { awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
# reset_hwm PID: VmHWM starts again from the current RSS (Linux 4.0+, clear_refs 5), so that the
# start-up's peak is not taken for the peak under load; logs when the kernel refuses.
reset_hwm() { echo 5 >"/proc/$1/clear_refs" 2>/dev/null || log "cannot reset VmHWM of $1: the peak includes the start-up"; }
