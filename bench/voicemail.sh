#!/usr/bin/env bash
# bench/voicemail.sh — concurrent voicemail deposits: N callers (sipp) each leave a message of
# CALL_SECS seconds at once, Privox with voicemail-to-e-mail on, and, in the same run on the
# same load, Asterisk 20 VoiceMail() (../shared/peers/asterisk, when present).
#
# Privox, configured through its REST API as an administrator would: N extensions 20001..
# each owned by a user with an address vm<number>@bench.test, every box enabled with e-mail
# copies and the WAV attached; the tenant's own SMTP relay (PUT /mail-relay) pointing at
# vmbench's SMTP server on loopback over STARTTLS with a private CA (ca_pem); an
# IP-authenticated trunk for 127.0.0.1 and one DID per box, +4930555<box>, to the box
# directly (dest mailbox:*<box>). The callers are outside callers: each INVITE comes from the
# trunk's address without credentials (sipp cannot answer a digest challenge with a different
# Request-URI per call, and Privox checks that the digest names the Request-URI). Each hears
# the generated greeting ("the person at extension … is not available, leave a message") and
# the beep. Asterisk: the same callers as guests to AST_EXT (700: VoiceMail(2001@default,u),
# greeting and beep; 701: just the beep), every message into box 2001 (maxmsg 1000 in the
# peer's voicemail.conf).
#
# A caller: INVITE -> 200 -> ACK, then LEAD_MS of silence while the greeting and the beep play
# (LEAD_MS: the prompt length a calibration call measured, plus LEAD_MARGIN_MS), then
# CALL_SECS of speech (sipp's g711a.pcap looped, A-law, rtp_stream), then BYE. The N calls are
# offered over RAMP_S seconds and overlap for almost all of the message.
#
# Measured:
#   - messages stored against calls made (Privox: every box's messages through the API;
#     Asterisk: the WAVs in its INBOX) and each message's length against the audio sent after
#     the beep (both record the frames that arrive, so the silent wait adds nothing):
#     truncated = shorter by more than TOL_MS;
#   - late prompt packets: tcpdump captures the packets the server sends to the callers; a
#     stream's prompt is its packets up to the last one that is not silence (greeting and
#     beep; Privox goes on sending silence while it records, Asterisk sends nothing). A prompt
#     packet is late (vmbench rtp) when it arrives more than 5 ms after the packet before it
#     plus the time between their RTP time stamps (inter-arrival: the pass criterion), and,
#     stricter, when it is more than 5 ms behind its stream's schedule (which starts afresh
#     only when the stream falls 200 ms behind: a stream that slips once stays late). For
#     Privox its pacer's own count (privox_app_frames_late_total: frames, silence included,
#     sent more than 5 ms after their time) is printed beside them;
#   - Privox: hang-up (the caller's BYE, sipp's log time) to the e-mail accepted by the SMTP
#     server (its time at the end of DATA), p50/p99/max; Asterisk's e-mail (sendmail) is not
#     part of the benchmark;
#   - server CPU seconds per stored message (utime+stime from /proc over the calls and, for
#     Privox, until the last e-mail), and RSS (at the end of the calls, and the largest of
#     the samples taken every second from the first call to the last e-mail).
# A target passes when every call completed, every call's message was stored (Privox: one in
# each box) and none is truncated, < LATE_MAX of the prompt packets were late and (Privox)
# every message's e-mail arrived with its whole WAV, hang-up to e-mail p99 at most
# MAIL_P99_MS. sipp, tcpdump, the SMTP server and the servers share the machine's cores.
#
# Env knobs: N (500; Asterisk's box holds 1000), CALL_SECS (30), RAMP_S (10), ONLY
#            (privox|asterisk), AST_EXT (700), CAL_MS (20000: the calibration call's length),
#            LEAD_MARGIN_MS (1000; under 4000: Asterisk ends a recording after 4 s without
#            audio), TOL_MS (500), LATE_MAX (0.001), MAIL_P99_MS (2000), MAIL_WAIT_S (300),
#            KEEP_WORK=1.
# Output: RESULT lines per target (calls, stored, truncated, late prompt packets, CPU per
#         deposit, RSS; Privox also e-mail p50/p99) and a table on stderr.
NAME=voicemail
source "$(dirname "$0")/lib.sh"

N=${N:-500}
CALL_SECS=${CALL_SECS:-30}
RAMP_S=${RAMP_S:-10}
ONLY=${ONLY:-}
AST_EXT=${AST_EXT:-700}
CAL_MS=${CAL_MS:-20000}
LEAD_MARGIN_MS=${LEAD_MARGIN_MS:-1000}
TOL_MS=${TOL_MS:-500}
LATE_MAX=${LATE_MAX:-0.001}
MAIL_P99_MS=${MAIL_P99_MS:-2000}
MAIL_WAIT_S=${MAIL_WAIT_S:-300}
PASSWORD=vm-bench-secret
BASE=20000 # box 20000 takes the calibration call, 20001..20000+N the load
DID=+4930555 # the DID of box B is $DID$B
CALLER=+493099900000 # the outside callers' number
AST=${AST:-$REPO/../shared/peers/asterisk/asterisk.sh}
[ -x "$AST" ] || AST=/work/shared/peers/asterisk/asterisk.sh
[ "$N" -ge 1 ] && [ "$N" -le 9999 ] || { log "N must be 1 to 9999"; exit 1; }
[ "$CALL_SECS" -ge 2 ] || { log "CALL_SECS must be at least 2"; exit 1; }

need_pkgs sip-tester tcpdump iproute2 procps curl python3
HZ=$(getconf CLK_TCK)
# ports: the servers take four a call (Privox) or two (Asterisk: RTP and RTCP); sipp's
# rtp_stream sends every call from one port pair above -mp
SPAN=$(( 6 * N + 200 )); CSPAN=200
[ $(( SPAN + CSPAN )) -le 9000 ] || { log "N=$N needs more media ports than 23000-32499 holds"; exit 1; }

log "nproc=$(nproc) sipp=$(sipp -v 2>&1 | awk '/SIPp v/{print $2; exit}') N=$N CALL_SECS=$CALL_SECS RAMP_S=$RAMP_S load=$(cut -d' ' -f1-3 /proc/loadavg)"
(cd "$REPO" && go build -o "$WORK/vmbench" ./bench/vmbench) || { log "building vmbench failed"; exit 1; }
mkdir -p "$WORK/media"
"$WORK/vmbench" audio -secs "$CALL_SECS" -out "$WORK/media/message.alaw"
"$WORK/vmbench" audio -secs $(( CAL_MS / 1000 )) -out "$WORK/media/cal.alaw"
STREAM_MS=$(( CALL_SECS * 1000 ))
pick_port UAC_PORT; pick_port UAC_CPORT
SIPP_ARGS=(-key caller "$CALLER")

# pick_apart VAR SPAN AVOID_BASE AVOID_SPAN: a free block (pick_range) not overlapping another.
pick_apart() {
  local var=$1 span=$2 ob=$3 os=$4 b i
  for i in $(seq 1 50); do
    pick_range b "$span"
    if [ $(( b + span )) -le "$ob" ] || [ "$b" -ge $(( ob + os )) ]; then printf -v "$var" '%s' "$b"; return 0; fi
  done
  log "no second free port range"; exit 1
}

# scenario FILE LEAD STREAM MEDIA: a copy of a caller scenario with its pauses and audio set.
scenario() {
  sed -e "s/LEAD_MS/$2/" -e "s/STREAM_MS/$(( $3 + 200 ))/" -e "s#media/message.alaw#$4#" \
    "$BENCH_DIR/sipp/$1" >"$WORK/run-$1"
}

# capture_start SRC_LO SRC_HI DST_LO DST_HI FILE: tcpdump of the RTP a server sends to the
# callers: the headers and the first 42 bytes of each payload (enough to tell sound from
# silence), with a 32 MB buffer.
capture_start() {
  tcpdump -i lo -n -s 96 -B 32768 -w "$5" "udp and src portrange $1-$2 and dst portrange $3-$4" >"$WORK/tcpdump.log" 2>&1 &
  CAP_PID=$!
  PIDS+=("$CAP_PID")
  local i
  for i in $(seq 1 50); do grep -q "listening on" "$WORK/tcpdump.log" 2>/dev/null && break; sleep 0.1; done
  sleep 0.5
}
# capture_stop: sets DROPPED, the packets the kernel dropped before tcpdump read them.
capture_stop() {
  sleep 0.5; stop_pid "$CAP_PID"
  DROPPED=$(awk '/dropped by kernel/ { print $1; f = 1 } END { if (!f) print "?" }' "$WORK/tcpdump.log")
}

# callers TARGET_PORT SCENARIO CSV CALLS RATE TMO_S [sipp args...]: runs the sipp callers;
# sets OK FAIL and writes "BOX UNIX_MS" of every hang-up to $WORK/byes.txt.
callers() {
  local port=$1 scen=$2 csv=$3 calls=$4 rate=$5 tmo=$6 stat="$WORK/stat.$RANDOM.csv"
  shift 6
  rm -f "$WORK"/run-*_logs.log
  # in the background, so that a signal to the script stops it (and cleanup sipp) at once
  ( cd "$WORK" && exec timeout $(( tmo + 30 )) sipp "$HOST:$port" -sf "run-$scen" -inf "$csv" "$@" \
      -i "$HOST" -p "$UAC_PORT" -cp "$UAC_CPORT" -mp "$UAC_MPORT" -r "$rate" -rp 1000 -l "$calls" -m "$calls" -timeout "$tmo" \
      -buff_size 4194304 -nostdin -trace_stat -stf "$stat" -fd 1 -trace_logs >"$WORK/uac.out" 2>&1 ) &
  UAC_PID=$!
  PIDS+=("$UAC_PID")
  wait "$UAC_PID" || true
  read -r OK FAIL _ < <(sipp_stats "$stat")
  cat "$WORK"/run-*_logs.log 2>/dev/null | awk '$1 == "hangup" { printf "%s %.0f\n", $2, $NF * 1000 }' >"$WORK/byes.txt"
}

# durations EXPECT_MS < lengths in ms -> "count min p50 max truncated"
durations() {
  sort -n | awk -v ex="$1" -v tol="$TOL_MS" '{ d[NR] = $1; if ($1 < ex - tol) tr++ }
    END { if (NR == 0) { print "0 0 0 0 0"; exit } printf "%d %d %d %d %d\n", NR, d[1], d[int((NR + 1) / 2)], d[NR], tr + 0 }'
}

cpu_s() { awk -v a="$1" -v b="$2" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) / hz }'; }
per() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }
kv() { echo "$2" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }'; } # kv KEY "k=v k=v…"

api() { # api METHOD PATH [BODY]
  curl -fsS -X "$1" -H "Authorization: Bearer $PVX_TOKEN" -H 'Content-Type: application/json' \
    "http://$HOST:$PVX_HTTP_PORT$2" ${3:+-d "$3"}
}

# calibrate PORT RTP_LO CALIBRATION_DID: one call that speaks from the start for CAL_MS,
# captured; the span of the sound the server sent it is the greeting and the beep (speech is
# no key: neither server stops its greeting for it). Sets PROMPT_MS and LEAD_MS.
calibrate() {
  { echo SEQUENTIAL; echo "$3;0"; } >"$WORK/cal.csv"
  scenario uac_voicemail.xml 0 "$CAL_MS" media/cal.alaw
  capture_start "$2" $(( $2 + SPAN - 1 )) "$UAC_MPORT" $(( UAC_MPORT + CSPAN - 1 )) "$WORK/$TARGET-cal.pcap"
  callers "$1" uac_voicemail.xml cal.csv 1 1 $(( CAL_MS / 1000 + 20 )) "${SIPP_ARGS[@]}"
  capture_stop
  PROMPT_MS=$(kv prompt_max_ms "$("$WORK/vmbench" rtp -pcap "$WORK/$TARGET-cal.pcap")")
  if [ "$OK" -ne 1 ] || [ "${PROMPT_MS:-0}" -le 0 ] || [ "$PROMPT_MS" -ge "$CAL_MS" ]; then
    log "$TARGET calibration call failed: ok=$OK prompt=${PROMPT_MS:-?} ms"; tail -n 30 "$WORK/uac.out" >&2; exit 1
  fi
  LEAD_MS=$(( PROMPT_MS + LEAD_MARGIN_MS ))
  log "$TARGET greeting and beep: $PROMPT_MS ms; callers wait $LEAD_MS ms, then speak $STREAM_MS ms"
}

# load PORT RTP_LO SERVER_PID: the N callers (calls.csv), captured. Sets OK FAIL CAP (vmbench
# rtp's line), RSS, C0 (server CPU ticks at the start) and T0.
load() {
  local rate
  scenario uac_voicemail.xml "$LEAD_MS" "$STREAM_MS" media/message.alaw
  rate=$(awk -v n="$N" -v r="$RAMP_S" 'BEGIN { x = n / r; printf "%.3f", (x < 0.1 ? 0.1 : x) }')
  capture_start "$2" $(( $2 + SPAN - 1 )) "$UAC_MPORT" $(( UAC_MPORT + CSPAN - 1 )) "$WORK/$TARGET-prompts.pcap"
  C0=$(cpu_ticks "$3"); T0=$(date +%s)
  rss_watch "$3"
  log "$TARGET: $N callers at $rate calls/s, each about $(( (LEAD_MS + STREAM_MS) / 1000 )) s"
  callers "$1" uac_voicemail.xml calls.csv "$N" "$rate" $(( RAMP_S + (LEAD_MS + STREAM_MS) / 1000 + 60 )) "${SIPP_ARGS[@]}"
  RSS=$(rss_mb "$3")
  capture_stop
  CAP=$("$WORK/vmbench" rtp -pcap "$WORK/$TARGET-prompts.pcap")
  log "$TARGET: calls done in $(( $(date +%s) - T0 )) s: ok=$OK failed=$FAIL; prompts as received: $CAP (capture: $DROPPED dropped by the kernel)"
}

PVX_RESULT=""; AST_RESULT=""
# ---------------------------------------------------------------- Privox
if [ "$ONLY" != asterisk ]; then
  build_privox
  "$WORK/vmbench" smtp -ca "$WORK/smtp-ca.pem" -port-file "$WORK/smtp.port" -log "$WORK/mails.txt" 2>"$WORK/smtp.err" &
  SMTP_PID=$!
  PIDS+=("$SMTP_PID")
  for _ in $(seq 1 100); do [ -s "$WORK/smtp.port" ] && break; sleep 0.05; done
  SMTP_PORT=$(cat "$WORK/smtp.port" 2>/dev/null || true)
  [ -n "$SMTP_PORT" ] || { cat "$WORK/smtp.err" >&2; log "the SMTP server did not start"; exit 1; }
  pick_range RTP_MIN "$SPAN"
  pick_apart UAC_MPORT "$CSPAN" "$RTP_MIN" "$SPAN"
  start_privox "$RTP_MIN" $(( RTP_MIN + SPAN - 1 ))
  log "SMTP server (STARTTLS, private CA) on $HOST:$SMTP_PORT; callers' media from $UAC_MPORT"

  log "creating $N users, extensions, boxes and DIDs and the trunk through the API"
  api PUT /api/v1/tenants/1/trunks/bench-provider \
    "{\"kind\":\"ip\",\"transport\":\"udp\",\"server\":\"$HOST:$UAC_PORT\",\"allowed_sources\":[\"$HOST\"],\"did_from\":\"ruri\"}" >/dev/null \
    || { log "creating the trunk failed"; exit 1; }
  python3 - "$PVX_HTTP_PORT" "$PVX_TOKEN" "$BASE" "$N" "$PASSWORD" $(( CALL_SECS + 60 )) "$DID" <<'EOF' >"$WORK/boxes.txt"
import http.client, json, sys, threading
port, token, base, n, pw, maxsecs, did = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6]), sys.argv[7]
hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
errors, ids = [], {}
def call(c, method, path, body, want):
    c.request(method, path, json.dumps(body), hdr)
    r = c.getresponse(); data = r.read()
    if r.status not in want:
        raise RuntimeError("%s %s: %d %s" % (method, path, r.status, data[:200]))
    return json.loads(data) if data else None
def work(lo, hi):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        for i in range(lo, hi):
            num = str(base + i)
            ext = {"number": num, "sip_username": "b" + num, "sip_password": pw}
            box = {"enabled": True, "max_message_secs": min(3600, maxsecs)}
            if i > 0: # box 0 takes the calibration call: no owner, no e-mail
                u = call(c, "POST", "/api/v1/tenants/1/users", {"name": "Box " + num, "email": "vm%s@bench.test" % num, "language": "en"}, (201,))
                ext["user_id"] = u["id"]
                box.update({"email_copy": True, "email_attach": True})
            e = call(c, "POST", "/api/v1/tenants/1/extensions", ext, (201,))
            call(c, "PATCH", "/api/v1/tenants/1/extensions/%d/voicemail" % e["id"], box, (200,))
            call(c, "POST", "/api/v1/tenants/1/dids", {"number": did + num, "dest_kind": "mailbox", "dest_number": "*" + num}, (200, 201))
            if i > 0:
                ids[num] = e["id"]
    except Exception as ex:
        errors.append(str(ex))
k = 4; step = (n + 1 + k - 1) // k; ts = []
for j in range(k):
    lo = j * step; hi = min(n + 1, lo + step)
    if lo < hi:
        t = threading.Thread(target=work, args=(lo, hi)); t.start(); ts.append(t)
for t in ts: t.join()
if errors: sys.exit("setting up the boxes failed: " + errors[0])
for num in sorted(ids): print(num, ids[num])
EOF
  api PUT /api/v1/tenants/1/mail-relay "$(python3 -c 'import json, sys; print(json.dumps({"enabled": True, "host": "127.0.0.1", "port": int(sys.argv[1]), "mode": "starttls", "ca_pem": open(sys.argv[2]).read(), "from": "voicemail@bench.test"}))' "$SMTP_PORT" "$WORK/smtp-ca.pem")" >/dev/null \
    || { log "setting the tenant's SMTP relay failed"; exit 1; }
  # The system prompts are synthesised in the background at the first start: wait for them,
  # or the greeting would be the short silence that stands in for a missing prompt.
  for i in $(seq 1 600); do
    api GET /api/v1/tenants/1/prompts | python3 -c 'import json, sys; d = json.load(sys.stdin)["items"]; sys.exit(0 if d and all(p["generated"] or p["replaced"] for p in d) else 1)' && break
    [ "$i" -lt 600 ] || { log "the system prompts were not generated within 5 minutes"; exit 1; }
    sleep 0.5
  done

  TARGET=privox
  calibrate "$PVX_SIP_PORT" "$RTP_MIN" "$DID$BASE"
  { echo SEQUENTIAL; for i in $(seq 1 "$N"); do echo "$DID$(( BASE + i ));$(( BASE + i ))"; done; } >"$WORK/calls.csv"
  : >"$WORK/mails.txt"
  l0=$(metric privox_app_frames_late_total); s0=$(metric privox_app_frames_sent_total)
  load "$PVX_SIP_PORT" "$RTP_MIN" "$PVX_PID"
  l1=$(metric privox_app_frames_late_total); s1=$(metric privox_app_frames_sent_total)
  PVX_OK=$OK; PVX_FAIL=$FAIL; PVX_RSS=$RSS; PVX_CAP=$CAP; c0=$C0
  # every stored message of a box with e-mail copies is mailed: wait until the server has
  # them all (or MAIL_WAIT_S passed without a new one)
  last=0; idle=0
  while :; do
    m=$(wc -l <"$WORK/mails.txt")
    [ "$m" -ge "$PVX_OK" ] && break
    if [ "$m" -gt "$last" ]; then last=$m; idle=0; else idle=$(( idle + 1 )); fi
    [ "$idle" -lt $(( MAIL_WAIT_S * 2 )) ] || { log "no new e-mail for $MAIL_WAIT_S s ($m so far)"; break; }
    sleep 0.5
  done
  c1=$(cpu_ticks "$PVX_PID")
  PVX_HWM=$(rss_peak)
  python3 - "$PVX_HTTP_PORT" "$PVX_TOKEN" "$WORK/boxes.txt" >"$WORK/privox-msgs.txt" <<'EOF'
import http.client, json, sys
port, token = int(sys.argv[1]), sys.argv[2]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
for line in open(sys.argv[3]):
    num, eid = line.split()
    c.request("GET", "/api/v1/tenants/1/extensions/%s/voicemail/messages" % eid, headers={"Authorization": "Bearer " + token})
    r = c.getresponse(); body = json.loads(r.read())
    if r.status != 200: sys.exit("messages of %s: %d" % (num, r.status))
    for m in body.get("items") or []:
        print(num, m["duration_ms"])
EOF
  # the audio sent after the beep (the silent wait sends nothing)
  EXPECT_MS=$STREAM_MS
  read -r PVX_STORED PVX_DMIN PVX_DP50 PVX_DMAX PVX_TRUNC < <(awk '{ print $2 }' "$WORK/privox-msgs.txt" | durations "$EXPECT_MS")
  PVX_BOXES_OK=$(awk '{ c[$1]++ } END { for (b in c) if (c[b] == 1) n++; print n + 0 }' "$WORK/privox-msgs.txt")
  read -r PVX_MAIL < <("$WORK/vmbench" latency -byes "$WORK/byes.txt" -mails "$WORK/mails.txt")
  PVX_LATE=$(kv late "$PVX_CAP"); PVX_SCHED=$(kv late_sched "$PVX_CAP"); PVX_PKTS=$(kv packets "$PVX_CAP")
  PVX_PACER_LATE=$(( l1 - l0 )); PVX_PACER_SENT=$(( s1 - s0 ))
  PVX_CPU=$(cpu_s "$c0" "$c1")
  PVX_P50=$(kv p50_ms "$PVX_MAIL"); PVX_P99=$(kv p99_ms "$PVX_MAIL"); PVX_PMAX=$(kv max_ms "$PVX_MAIL"); PVX_MAILS=$(kv matched "$PVX_MAIL")
  PVX_WAV=$(kv wav_min_ms "$PVX_MAIL"); PVX_NOWAV=$(kv without_wav "$PVX_MAIL")
  log "privox pacer: sent=$PVX_PACER_SENT late=$PVX_PACER_LATE"
  log "privox e-mail: $PVX_MAIL"
  log "privox messages: stored=$PVX_STORED in $PVX_BOXES_OK boxes with one each, length min/p50/max $PVX_DMIN/$PVX_DP50/$PVX_DMAX ms (audio after the beep $EXPECT_MS ms), truncated=$PVX_TRUNC"
  PVX_WARN=$(grep -cE '"level":"(WARN|ERROR)"' "$WORK/privox.log" || true)
  [ "$PVX_WARN" -eq 0 ] || log "privox log: $PVX_WARN warnings and errors, the first: $(grep -E '"level":"(WARN|ERROR)"' "$WORK/privox.log" | head -3 | cut -c1-300)"
  PVX_PASS=$(awk -v n="$N" -v ok="$PVX_OK" -v st="$PVX_STORED" -v b="$PVX_BOXES_OK" -v tr="$PVX_TRUNC" -v late="$PVX_LATE" -v pk="$PVX_PKTS" \
      -v lm="$LATE_MAX" -v m="$PVX_MAILS" -v p99="$PVX_P99" -v pm="$MAIL_P99_MS" \
      -v w="$PVX_WAV" -v nw="$PVX_NOWAV" -v ex="$EXPECT_MS" -v tol="$TOL_MS" \
      'BEGIN { print (ok == n && st == n && b == n && tr == 0 && pk > 0 && late < lm * pk && m == n && p99 >= 0 && p99 <= pm && nw == 0 && w >= ex - tol) ? "PASS" : "FAIL" }')
  stop_pid "$PVX_PID"; stop_pid "$SMTP_PID"
  PVX_RESULT=1
fi

# ---------------------------------------------------------------- Asterisk
if [ "$ONLY" != privox ] && [ -x "$AST" ]; then
  pick_port AST_PORT
  pick_range AST_RTP "$SPAN"
  pick_apart UAC_MPORT "$CSPAN" "$AST_RTP" "$SPAN"
  RTP_START=$AST_RTP RTP_END=$(( AST_RTP + SPAN - 1 )) VERBOSE=0 "$AST" start "$WORK/ast" "$AST_PORT" >"$WORK/ast.start" 2>&1 \
    || { cat "$WORK/ast.start" >&2; log "asterisk did not start"; exit 1; }
  AST_PID=$(tail -1 "$WORK/ast.start" | awk '{ print $NF }')
  PIDS+=("$AST_PID")
  INBOX=$WORK/ast/spool/voicemail/default/2001/INBOX
  log "asterisk pid $AST_PID: sip udp:$HOST:$AST_PORT rtp $AST_RTP-$(( AST_RTP + SPAN - 1 )), VoiceMail at $AST_EXT"

  TARGET=asterisk
  calibrate "$AST_PORT" "$AST_RTP" "$AST_EXT"
  sleep 1; rm -f "$INBOX"/msg* # the calibration call's message
  { echo SEQUENTIAL; for i in $(seq 1 "$N"); do echo "$AST_EXT;$i"; done; } >"$WORK/calls.csv"
  load "$AST_PORT" "$AST_RTP" "$AST_PID"
  AST_OK=$OK; AST_FAIL=$FAIL; AST_RSS=$RSS; AST_CAP=$CAP; c0=$C0
  # Asterisk writes a message when the caller hangs up: wait until the count stops growing
  last=-1
  for _ in $(seq 1 60); do
    m=$( (ls "$INBOX"/msg*.txt 2>/dev/null || true) | wc -l)
    [ "$m" -ge "$AST_OK" ] && break
    [ "$m" -eq "$last" ] && break
    last=$m; sleep 1
  done
  c1=$(cpu_ticks "$AST_PID")
  AST_HWM=$(rss_peak)
  AST_EXPECT_MS=$STREAM_MS
  # format=wav: 16-bit linear PCM at 8 kHz
  read -r AST_STORED AST_DMIN AST_DP50 AST_DMAX AST_TRUNC < <(python3 - "$INBOX" <<'EOF' | durations "$AST_EXPECT_MS"
import glob, sys, wave
for f in sorted(glob.glob(sys.argv[1] + "/msg*.wav")):
    with wave.open(f) as w:
        print(w.getnframes() * 1000 // w.getframerate())
EOF
)
  AST_LATE=$(kv late "$AST_CAP"); AST_SCHED=$(kv late_sched "$AST_CAP"); AST_PKTS=$(kv packets "$AST_CAP")
  AST_CPU=$(cpu_s "$c0" "$c1")
  log "asterisk messages: stored=$AST_STORED, length min/p50/max $AST_DMIN/$AST_DP50/$AST_DMAX ms (audio after the beep $AST_EXPECT_MS ms), truncated=$AST_TRUNC"
  AST_PASS=$(awk -v n="$N" -v ok="$AST_OK" -v st="$AST_STORED" -v tr="$AST_TRUNC" -v late="$AST_LATE" -v pk="$AST_PKTS" -v lm="$LATE_MAX" \
      'BEGIN { print (ok == n && st == n && tr == 0 && pk > 0 && late < lm * pk) ? "PASS" : "FAIL" }')
  "$AST" stop "$WORK/ast" >/dev/null 2>&1 || true
  AST_RESULT=1
elif [ "$ONLY" != privox ]; then
  log "no Asterisk peer at $AST: Privox only"
fi

# ---------------------------------------------------------------- results
{
  printf '\n%-40s | %-32s | %-32s\n' "N=$N callers, ${CALL_SECS} s messages" "Privox" "Asterisk $AST_EXT"
  printf '%-40s-+-%-32s-+-%-32s\n' "----------------------------------------" "--------------------------------" "--------------------------------"
  row() { printf '%-40s | %-32s | %-32s\n' "$1" "$2" "$3"; }
  P() { [ -n "$PVX_RESULT" ] && echo "$1" || echo "not run"; }
  A() { [ -n "$AST_RESULT" ] && echo "$1" || echo "not run"; }
  row "calls completed / failed" "$(P "${PVX_OK:-}/${PVX_FAIL:-}")" "$(A "${AST_OK:-}/${AST_FAIL:-}")"
  row "messages stored" "$(P "${PVX_STORED:-}")" "$(A "${AST_STORED:-}")"
  row "length min/p50/max (ms)" "$(P "${PVX_DMIN:-}/${PVX_DP50:-}/${PVX_DMAX:-}")" "$(A "${AST_DMIN:-}/${AST_DP50:-}/${AST_DMAX:-}")"
  row "audio sent after the beep (ms)" "$(P "${EXPECT_MS:-}")" "$(A "${AST_EXPECT_MS:-}")"
  row "truncated (> ${TOL_MS} ms short)" "$(P "${PVX_TRUNC:-}")" "$(A "${AST_TRUNC:-}")"
  pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%d/%d (%.3f %%)", a, b, 100 * a / b; else print "-" }'; }
  row "late prompt packets, inter-arrival" "$(P "$(pct "${PVX_LATE:-0}" "${PVX_PKTS:-0}")")" "$(A "$(pct "${AST_LATE:-0}" "${AST_PKTS:-0}")")"
  row "late prompt packets, schedule" "$(P "$(pct "${PVX_SCHED:-0}" "${PVX_PKTS:-0}")")" "$(A "$(pct "${AST_SCHED:-0}" "${AST_PKTS:-0}")")"
  row "late frames, Privox's pacer (all)" "$(P "$(pct "${PVX_PACER_LATE:-0}" "${PVX_PACER_SENT:-0}")")" "not counted"
  row "e-mails accepted, shortest WAV (ms)" "$(P "${PVX_MAILS:-} (${PVX_NOWAV:-} without WAV), ${PVX_WAV:-}")" "not part of it (sendmail)"
  row "hang-up to e-mail p50/p99/max (ms)" "$(P "${PVX_P50:-}/${PVX_P99:-}/${PVX_PMAX:-}")" "not measured"
  row "server CPU s per deposit" "$(P "$(per "${PVX_CPU:-0}" "${PVX_STORED:-0}") (${PVX_CPU:-} s)")" "$(A "$(per "${AST_CPU:-0}" "${AST_STORED:-0}") (${AST_CPU:-} s)")"
  row "RSS at the end of the calls / peak (MB)" "$(P "${PVX_RSS:-}/${PVX_HWM:-}")" "$(A "${AST_RSS:-}/${AST_HWM:-}")"
  row "verdict" "$(P "${PVX_PASS:-}")" "$(A "${AST_PASS:-}")"
  echo
} >&2

if [ -n "$PVX_RESULT" ]; then
  echo "RESULT privox_vm_calls=$PVX_OK/$N calls"
  echo "RESULT privox_vm_stored=$PVX_STORED messages"
  echo "RESULT privox_vm_truncated=$PVX_TRUNC messages"
  echo "RESULT privox_vm_late_prompt_pct=$(awk -v a="$PVX_LATE" -v b="$PVX_PKTS" 'BEGIN { printf "%.3f", (b > 0 ? 100 * a / b : 0) }') %"
  echo "RESULT privox_vm_late_sched_pct=$(awk -v a="$PVX_SCHED" -v b="$PVX_PKTS" 'BEGIN { printf "%.3f", (b > 0 ? 100 * a / b : 0) }') %"
  echo "RESULT privox_vm_pacer_late_pct=$(awk -v a="$PVX_PACER_LATE" -v b="$PVX_PACER_SENT" 'BEGIN { printf "%.3f", (b > 0 ? 100 * a / b : 0) }') %"
  echo "RESULT privox_vm_mail_p50=$PVX_P50 ms"
  echo "RESULT privox_vm_mail_p99=$PVX_P99 ms"
  echo "RESULT privox_vm_mails=$PVX_MAILS/$N e-mails"
  echo "RESULT privox_vm_cpu_per_deposit=$(per "$PVX_CPU" "$PVX_STORED") s"
  echo "RESULT privox_vm_rss=$PVX_HWM MB"
  echo "RESULT privox_vm_verdict=$PVX_PASS"
fi
if [ -n "$AST_RESULT" ]; then
  echo "RESULT asterisk_vm_calls=$AST_OK/$N calls"
  echo "RESULT asterisk_vm_stored=$AST_STORED messages"
  echo "RESULT asterisk_vm_truncated=$AST_TRUNC messages"
  echo "RESULT asterisk_vm_late_prompt_pct=$(awk -v a="$AST_LATE" -v b="$AST_PKTS" 'BEGIN { printf "%.3f", (b > 0 ? 100 * a / b : 0) }') %"
  echo "RESULT asterisk_vm_late_sched_pct=$(awk -v a="$AST_SCHED" -v b="$AST_PKTS" 'BEGIN { printf "%.3f", (b > 0 ? 100 * a / b : 0) }') %"
  echo "RESULT asterisk_vm_cpu_per_deposit=$(per "$AST_CPU" "$AST_STORED") s"
  echo "RESULT asterisk_vm_rss=$AST_HWM MB"
  echo "RESULT asterisk_vm_verdict=$AST_PASS"
fi
