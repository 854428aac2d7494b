#!/usr/bin/env bash
# Many users across worker processes against embedded servers in broker mode, on this machine.
# Starts SERVERS `stompede serve --mode broker` processes (each holds at most ~19,900 sessions:
# 20,000 open files per process), then one controller with WORKERS worker processes
# (`stompede run --workers W --targets ...`), each worker connecting from its own 127.0.0.x
# address. Samples every process from /proc once the ramp is over and prints: users connected,
# RSS per worker and per server, CPU, errors, round-trip percentiles. Bounded in time; asserts
# nothing.
#
#   bench/workers.sh [USERS]                      (default 50000)
#   WORKERS=6 SERVERS=3 HOLD=60 INTERVAL=30s bench/workers.sh 50000
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${STOMPEDE:-build/app/stompede}
users=${1:-50000}
workers=${WORKERS:-6}
servers=${SERVERS:-3}
hold=${HOLD:-60}
interval=${INTERVAL:-30s}
base=${PORT:-18100}
ramp=${RAMP:-$(( users / 1000 + 10 ))}
out=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
hz=$(getconf CLK_TCK)

targets=""
for i in $(seq 1 "$servers"); do
  port=$(( base + i ))
  printf 'io_threads = 1\nmax_sessions = 19500\n' >"$out/server.toml"
  "$bin" serve --mode broker --listen "127.0.0.1:$port" --config "$out/server.toml" \
    >"$out/server$i.log" 2>&1 &
  pids+=($!)
  targets+="${targets:+,}ws://127.0.0.1:$port/ws-stomp"
done
for i in $(seq 1 "$servers"); do
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$(( base + i ))/metrics" && break; sleep 0.1; done
done
server_pids=("${pids[@]}")

cat >"$out/scenario.toml" <<TOML
[target]
url = "ws://127.0.0.1:$(( base + 1 ))/ws-stomp"
connect_timeout = "30s"
handshake_timeout = "30s"
[auth]
mode = "none"
[destinations]
subscribe = "/topic/room.{room}"
send = "/topic/room.{room}"
[rooms]
members_per_room = 100
[[stage]]
name = "hold"
users = $users
ramp = "${ramp}s"
min_start_gap = "1ms"
duration = "${hold}s"
[behaviour]
interval = "$interval"
[control]
keys = false
[output]
prometheus = ""
TOML
"$bin" run "$out/scenario.toml" --quiet --workers "$workers" --targets "$targets" \
  --out "$out/results" >"$out/client.log" 2>&1 &
controller=$!
pids+=($controller)
sleep $(( ramp + 10 ))
worker_pids=$(pgrep -P "$controller" || true)
t0=$(date +%s.%N); c0=0; for p in $worker_pids; do c0=$(( c0 + $(cpu_ticks "$p") )); done
s0=0; for p in "${server_pids[@]}"; do s0=$(( s0 + $(cpu_ticks "$p") )); done
sleep $(( hold / 2 ))
t1=$(date +%s.%N); c1=0; for p in $worker_pids; do c1=$(( c1 + $(cpu_ticks "$p") )); done
s1=0; for p in "${server_pids[@]}"; do s1=$(( s1 + $(cpu_ticks "$p") )); done
echo "workers (pid: RSS KB):"; for p in $worker_pids; do echo "  $p: $(rss_kb "$p")"; done
echo "servers (pid: RSS KB):"; for p in "${server_pids[@]}"; do echo "  $p: $(rss_kb "$p")"; done
echo "controller RSS KB: $(rss_kb "$controller")"
secs=$(echo "$t1 - $t0" | bc)
echo "CPU over ${secs}s: workers $(echo "($c1 - $c0) / $hz / $secs * 100" | bc -l | cut -c1-5)% of a core, servers $(echo "($s1 - $s0) / $hz / $secs * 100" | bc -l | cut -c1-5)%"
wait "$controller" || echo "controller exit code $?"
python3 - "$out/results" <<'PY'
import csv, json, sys
res = sys.argv[1]
j = json.load(open(res + "/summary.json")); f = j["figures"]; c = j["counters"]
rows = [r for r in csv.DictReader(open(res + "/timeseries.csv"))]
peak = max((int(r["connected"]) for r in rows), default=0)
print(f"workers {j['run']['workers']}, lost {j['run']['lost_workers']}")
print(f"peak connected users {peak}; stomp_connected {c['stomp_connected']}, "
      f"sent {c['messages_sent']}, received {c['messages_received']}, round trips {c['round_trips']}, lost {c['lost']}, "
      f"errors {c['errors_total']} {dict((k, v) for k, v in c['errors'].items() if v)}")
print(f"round trip p50/p95/p99 {f['message_latency_p50_ms']:.2f}/{f['message_latency_p95_ms']:.2f}/"
      f"{f['message_latency_p99_ms']:.2f} ms")
a = j.get("accounting")
if a:
    p = a["pairs"]
    print(f"accounting: sent {a['sent']}, delivered_all {a['delivered_all']}, delivered_some "
          f"{a['delivered_some']}, lost {a['lost']}, duplicated {a['duplicated']}, out_of_order "
          f"{a['out_of_order']}, missed_reconnecting {a['missed_reconnecting']}, in_flight "
          f"{a['in_flight']}, pending {a['pending']}, balanced {a['balanced']}; pairs expected "
          f"{p['expected']}, delivered {p['delivered']}, lost {p['lost']}")
PY
echo "logs and reports: $out"
