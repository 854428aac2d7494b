#!/usr/bin/env bash
# The seed workload (rooms of 100, the 10/30/60 mix, 1 s interval) at N users against the
# embedded server running as a separate process. Samples both processes from /proc and prints,
# per run: steady-state RSS per connected user, CPU µs per message handled (client: sent +
# received; server: frames written), round-trip percentiles, errors. Bounded in time; it
# asserts nothing.
#
#   bench/seed_workload.sh [USERS...]        (default: 1000)
#   HOLD=60 bench/seed_workload.sh 1000 5000
#   SERVER_THREADS=2 bench/seed_workload.sh 5000     (IO threads of the server, default 1)
#   DELAYED_ACKS=true bench/seed_workload.sh 5000    ([target] delayed_acks, default false)
#   CLIENT_THREADS=1 bench/seed_workload.sh 1000     ([run] io_threads of the client, default 0 = cores)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${STOMPEDE:-build/app/stompede}
hold=${HOLD:-60}
port=${PORT:-18080}
users_list=("$@")
[ ${#users_list[@]} -gt 0 ] || users_list=(1000)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)

for users in "${users_list[@]}"; do
  out=$(mktemp -d)
  printf 'io_threads = %s\n' "${SERVER_THREADS:-1}" >"$out/server.toml"
  "$bin" serve --listen "127.0.0.1:$port" --config "$out/server.toml" >"$out/server.log" 2>&1 &
  server=$!
  trap 'kill $server 2>/dev/null || true' EXIT
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/metrics" && break; sleep 0.1; done
  ramp=$(( users / 500 + 5 ))
  cat >"$out/scenario.toml" <<TOML
[target]
url = "ws://127.0.0.1:$port/ws-stomp"
http_url = "http://127.0.0.1:$port"
delayed_acks = ${DELAYED_ACKS:-false}
[auth]
mode = "login"
password = "password123!"
[rooms]
members_per_room = 100
[[stage]]
name = "hold"
users = $users
ramp = "${ramp}s"
min_start_gap = "1ms"
duration = "${hold}s"
[behaviour]
interval = "1s"
[output]
prometheus = ""
[run]
io_threads = ${CLIENT_THREADS:-0}
TOML
  "$bin" run "$out/scenario.toml" --quiet --out "$out/results" >"$out/client.log" 2>&1 &
  client=$!
  # Steady state: from the end of the ramp + 5 s to 5 s before the end of the hold.
  sleep $(( ramp + 5 ))
  c0=$(cpu_ticks $client); s0=$(cpu_ticks $server); t0=$(date +%s.%N)
  sleep $(( hold - 10 ))
  c1=$(cpu_ticks $client); s1=$(cpu_ticks $server); t1=$(date +%s.%N)
  crss=$(rss_kb $client); srss=$(rss_kb $server)
  wait $client || true
  kill $server; wait $server 2>/dev/null || true
  trap - EXIT
  python3 - "$out/results" "$users" "$c0" "$c1" "$s0" "$s1" "$t0" "$t1" "$crss" "$srss" "$hz" <<'PY'
import csv, json, sys
res, users, c0, c1, s0, s1, t0, t1, crss, srss, hz = sys.argv[1:]
j = json.load(open(res + "/summary.json")); f = j["figures"]; c = j["counters"]
users = int(users); secs = float(t1) - float(t0); hz = float(hz)
rows = [r for r in csv.DictReader(open(res + "/timeseries.csv")) if r["phase"] == "steady"]
rows = rows[3:-3] or rows
rate = sum(float(r["sent_per_s"]) + float(r["received_per_s"]) for r in rows) / max(len(rows), 1)
sent = sum(float(r["sent_per_s"]) for r in rows) / max(len(rows), 1)
conn = sum(int(r["connected"]) for r in rows) / max(len(rows), 1)
ccpu = (int(c1) - int(c0)) / hz; scpu = (int(s1) - int(s0)) / hz
print(f"users {users} (connected {conn:.0f}): {sent:.0f} sent/s, {rate:.0f} handled/s")
print(f"  client: RSS {int(crss)/max(conn,1):.1f} KB/user, CPU {ccpu/secs*100:.0f}% of a core, "
      f"{ccpu*1e6/max(rate*secs,1):.2f} us per message handled (sent + received)")
print(f"  server: RSS {int(srss)/max(conn,1):.1f} KB/session, CPU {scpu/secs*100:.0f}% of a core, "
      f"{(rate-sent)/max(scpu/secs,1e-9):.0f} MESSAGE frames written per core-second")
print(f"  round trip p50/p95/p99 {f['message_latency_p50_ms']:.2f}/{f['message_latency_p95_ms']:.2f}/"
      f"{f['message_latency_p99_ms']:.2f} ms (uncorrected p99 {f['message_latency_uncorrected_p99_ms']:.2f}), "
      f"late sends {c['late_sends']}, lost {c['lost']}, errors {c['errors_total']}, "
      f"reconnects {c['reconnect_attempts']}, ws connect p95 {f['websocket_connect_p95_ms']:.1f} ms")
a = j.get("accounting")
if a:
    print(f"  accounting: sent {a['sent']}, delivered to all {a['delivered_all']}, "
          f"some {a['delivered_some']}, lost {a['lost']}, duplicated {a['duplicated']}, "
          f"out of order {a['out_of_order']}, missed reconnecting {a['missed_reconnecting']}, "
          f"in flight {a['in_flight']}, server seq gaps {a['server_seq_gaps']}")
errs = {k: v for k, v in c["errors"].items() if v}
if errs:
    print("  errors by type: " + ", ".join(f"{k} {v}" for k, v in sorted(errs.items())))
PY
  rm -rf "$out"
done
