#!/usr/bin/env bash
# bench/login-flood.sh — the HTTP attacks of issue 8 against a running Privox on loopback:
# FLOOD wrong passwords for admin@localhost at once from one address (each argon2id check
# holds 64 MiB), then one login whose body never comes.
#
# Privox is built from this repository (or PRIVOX_BIN=path runs a given binary, e.g. an older
# build for comparison) and started on free loopback ports with its defaults. Its memory is
# read from /proc before and after the flood (VmRSS, and VmHWM: the peak). The slow body: the
# headers of a login with Content-Length 1000 and ten bytes of body; the script waits up to
# SLOW_WAIT_S seconds for Privox to answer or close.
#
# Env knobs: FLOOD (40), SLOW_WAIT_S (60), PRIVOX_BIN, KEEP_WORK=1.
# Output: RESULT login_rss_before_mb, login_rss_after_mb, login_hwm_after_mb (MB);
#         RESULT login_answers_401, login_answers_429, login_answers_other (answers);
#         RESULT slow_body_closed_after_s=N s (or slow_body_open_after_s when never closed).
NAME=login-flood
source "$(dirname "$0")/lib.sh"

FLOOD=${FLOOD:-40}
SLOW_WAIT_S=${SLOW_WAIT_S:-60}
need_pkgs curl python3 procps iproute2

if [ -n "${PRIVOX_BIN:-}" ]; then cp "$PRIVOX_BIN" "$WORK/privox"; else build_privox; fi
start_privox 23000 23099
hwm_mb() { awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

echo "RESULT login_rss_before_mb=$(rss_mb "$PVX_PID") MB"
log "$FLOOD wrong logins at once"
for i in $(seq 1 "$FLOOD"); do
  curl -s -o /dev/null -w '%{http_code}\n' --max-time 300 -H 'Content-Type: application/json' \
    -d "{\"tenant\":\"default\",\"email\":\"admin@localhost\",\"password\":\"wrong-password\"}" \
    "http://$HOST:$PVX_HTTP_PORT/api/v1/login" >"$WORK/login.$i" &
done
wait_logins() { local i; for i in $(seq 1 "$FLOOD"); do while [ ! -s "$WORK/login.$i" ]; do sleep 0.2; done; done; }
wait_logins
echo "RESULT login_rss_after_mb=$(rss_mb "$PVX_PID") MB"
echo "RESULT login_hwm_after_mb=$(hwm_mb "$PVX_PID") MB"
cat "$WORK"/login.* | awk '{ c[$1]++ } END { printf "RESULT login_answers_401=%d answers\nRESULT login_answers_429=%d answers\nRESULT login_answers_other=%d answers\n", c["401"], c["429"], length(c) ? (NR - c["401"] - c["429"]) : 0 }'

log "a login whose body never comes"
python3 - "$HOST" "$PVX_HTTP_PORT" "$SLOW_WAIT_S" <<'PY'
import socket, sys, time
host, port, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.create_connection((host, port))
s.sendall(b"POST /api/v1/login HTTP/1.1\r\nHost: privox\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"tenant\":")
start = time.monotonic()
s.settimeout(wait)
try:
    while s.recv(4096):
        pass
    print("RESULT slow_body_closed_after_s=%.1f s" % (time.monotonic() - start))
except socket.timeout:
    print("RESULT slow_body_open_after_s=%.0f s" % wait)
PY
