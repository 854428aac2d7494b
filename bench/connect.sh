#!/usr/bin/env bash
# Time to connect N users: N listener users (one `stompede run`, REST logins, rooms of 100,
# heart-beats 10 s) ramped over RAMP seconds against `stompede serve` as a separate process.
# Prints the connected users per second from timeseries.csv, the time until every user was
# connected and subscribed, errors, the client's RSS in the middle of the hold and its peak.
# Bounded in time; asserts nothing.
#
#   bench/connect.sh [USERS]            (default 10000)
#   RAMP=5 HOLD=20 SERVER_THREADS=2 bench/connect.sh 10000
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${STOMPEDE:-build/app/stompede}
users=${1:-10000}
ramp=${RAMP:-5}
hold=${HOLD:-20}
port=${PORT:-18111}
out=$(mktemp -d)
printf 'io_threads = %s\nmax_sessions = %s\n' "${SERVER_THREADS:-2}" $((users + 1000)) >"$out/server.toml"
"$bin" serve --listen "127.0.0.1:$port" --config "$out/server.toml" >"$out/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/metrics" && break; sleep 0.1; done
cat >"$out/scenario.toml" <<TOML
[target]
url = "ws://127.0.0.1:$port/ws-stomp"
http_url = "http://127.0.0.1:$port"
heartbeat = "10s,10s"
[auth]
mode = "login"
password = "password123!"
concurrency = 100
[rooms]
members_per_room = 100
[[stage]]
name = "connect"
users = $users
ramp = "${ramp}s"
min_start_gap = "0ms"
duration = "${hold}s"
[behaviour]
kind = "listener"
[output]
prometheus = ""
TOML
start=$(date +%s.%N)
/usr/bin/time -f '%M' -o "$out/maxrss" timeout $((ramp + hold + 120)) \
  "$bin" run "$out/scenario.toml" --quiet --out "$out/results" >"$out/client.log" 2>&1 &
runner=$!
# The steady state: the client's RSS in the middle of the hold (logins take a few seconds more
# at 10,000 users, so this is at or after the end of the ramp).
sleep $((ramp + hold / 2))
hold_rss=0
if client=$(pgrep -f -- "^$bin run $out/scenario.toml" | head -1); then
  hold_rss=$(awk '/^VmRSS/ {print $2}' "/proc/$client/status" 2>/dev/null || echo 0)
fi
hold_connected=$(awk -F, 'NR > 1 && $3 != "done" { c = $5 } END { print c + 0 }' "$out/results/timeseries.csv" 2>/dev/null || echo 0)
wait $runner || true
end=$(date +%s.%N)
echo "connect bench: $users users, ramp ${ramp}s, server io_threads ${SERVER_THREADS:-2}"
echo "  second  connected (timeseries.csv)"
awk -F, 'NR > 1 && $3 != "done" { printf "  %6.1f  %s\n", $1, $5 }' "$out/results/timeseries.csv" | head -$((ramp + 5))
awk -F, -v n="$users" 'NR > 1 && $5 >= n { printf "all %d connected and subscribed %.1f s after the stage started\n", n, $1; exit }' \
  "$out/results/timeseries.csv"
python3 - "$out/results/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
c, h = s["counters"], s["histograms"]
print(f"errors {c['errors_total']}, websocket connect p95 {h['websocket_connect_ms']['p95']:.1f} ms, "
      f"stomp connect p95 {h['stomp_connect_ms']['p95']:.1f} ms")
PY
echo "client RSS mid-hold $((hold_rss / 1024)) MB with $hold_connected connected ($(awk -v r="$hold_rss" -v n="$hold_connected" 'BEGIN { if (n > 0) printf "%.1f", r / n; else printf "-" }') KB per user, everything included)"
echo "client peak RSS $(( $(cat "$out/maxrss") / 1024 )) MB (the drain at the end included); the whole run (logins included) $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s"
rm -rf "$out"
