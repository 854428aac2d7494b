#!/usr/bin/env bash
# SIGINT and SIGTERM during a run with the embedded server (its IO threads run in the same
# process): the run drains, exits 130 / 143 and leaves complete reports. A signal taken by a
# thread that did not block it would end the process at once, with no reports. And a run that
# fails before its load (the login target refuses) still leaves its reports, with the reason.
# Usage: run_signal_test.sh path/to/stompede
set -u
stompede="$1"
work="$(mktemp -d)"
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "signal FAIL: $*"; exit 1; }
# A server on $port that accepts connections and never answers (60 s at most); its pid in $silent.
start_silent_server() {
  python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $port)); s.listen(64); held = []
end = time.time() + 60
s.settimeout(0.5)
while time.time() < end:
    try: held.append(s.accept()[0])
    except socket.timeout: pass
" &
  silent=$!
  sleep 0.5
}

cat >"$work/run.toml" <<'TOML'
[target]
embedded = true
heartbeat = "0,0"

[auth]
mode = "login"
password = "signal-test"

[rooms]
members_per_room = 10

[[stage]]
name = "only"
users = 20
ramp = "500ms"
duration = "60s"

[behaviour]
interval = "200ms"

[output]
prometheus = ""
TOML

one_signal() { # SIGNAL expected-exit
  local sig="$1" want="$2" out="$work/out-$1"
  "$stompede" run "$work/run.toml" --out "$out" >"$work/$sig.out" 2>"$work/$sig.err" </dev/null &
  pid=$!
  # Bounded wait for the run to be under way: three rows of timeseries.csv (~2 s).
  for _ in $(seq 1 100); do
    [ "$(wc -l 2>/dev/null <"$out/timeseries.csv" || echo 0)" -ge 4 ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null || { cat "$work/$sig.out" "$work/$sig.err"; fail "$sig: the run ended before the signal"; }
  kill -s "$sig" "$pid"
  # Bounded wait for the drain (20 s), then force.
  for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fail "$sig: still running 20 s after the signal"; fi
  wait "$pid"
  local code=$?
  pid=""
  [ "$code" -eq "$want" ] || { cat "$work/$sig.out" "$work/$sig.err"; fail "$sig: exit $code, expected $want"; }
  for f in summary.json load_test_result.csv timeseries.csv report.html scenario.toml; do
    [ -s "$out/$f" ] || fail "$sig: $f missing after the signal"
  done
  grep -q "\"ended\": *\"interrupted by $sig\"" "$out/summary.json" || fail "$sig: summary.json run.ended is not 'interrupted by $sig'"
  grep -q "draining" "$work/$sig.err" || fail "$sig: no drain announced on stderr"
  grep -Eq "^  ended +interrupted by $sig$" "$work/$sig.out" || { cat "$work/$sig.out"; fail "$sig: the summary table does not say the run was interrupted"; }
  grep -q '"stomp_connected": *20' "$out/summary.json" || fail "$sig: not every user connected before the signal"
}

one_signal SIGINT 130
one_signal SIGTERM 143

# A failure before the load: nothing listens on the login target.
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
sed -e 's/^embedded = true$/url = "ws:\/\/127.0.0.1:'"$port"'\/ws-stomp"\nhttp_url = "http:\/\/127.0.0.1:'"$port"'"/' \
  "$work/run.toml" >"$work/early.toml"
timeout 60 "$stompede" run "$work/early.toml" --out "$work/out-early" >"$work/early.out" 2>"$work/early.err" </dev/null
code=$?
[ "$code" -eq 1 ] || { cat "$work/early.out" "$work/early.err"; fail "early failure: exit $code, expected 1"; }
[ "$(grep -c . "$work/early.err")" -eq 1 ] || { cat "$work/early.err"; fail "early failure: not one line on stderr"; }
for f in summary.json load_test_result.csv timeseries.csv report.html scenario.toml; do
  [ -s "$work/out-early/$f" ] || fail "early failure: $f missing"
done
grep -q '"ended": *"stopped early: login failed' "$work/out-early/summary.json" ||
  fail "early failure: summary.json run.ended does not give the reason"

# --quiet still says where a port picked at run time (":0") is: nothing else tells it.
timeout 60 "$stompede" run "$work/run.toml" --quiet --set 'stage[0].duration=1s' \
  --set output.prometheus=127.0.0.1:0 --out "$work/out-quiet" >"$work/quiet.out" 2>"$work/quiet.err" </dev/null
code=$?
[ "$code" -eq 0 ] || { cat "$work/quiet.out" "$work/quiet.err"; fail "quiet run: exit $code, expected 0"; }
grep -Eq '^stompede: metrics on http://127\.0\.0\.1:[1-9][0-9]*/metrics$' "$work/quiet.out" ||
  { cat "$work/quiet.out"; fail "quiet run: the picked metrics port is not printed"; }

# An unknown command is named, with the ones there are.
"$stompede" frobnicate >"$work/cmd.out" 2>"$work/cmd.err"
code=$?
[ "$code" -eq 2 ] || fail "unknown command: exit $code, expected 2"
grep -q 'unknown command "frobnicate" (commands: run, ' "$work/cmd.err" || { cat "$work/cmd.err"; fail "unknown command: not named"; }

# A plan past the open-files limit stops before the load, with its reports.
( ulimit -n 40; timeout 60 "$stompede" run "$work/run.toml" --out "$work/out-nofile" >"$work/nofile.out" 2>"$work/nofile.err" </dev/null )
code=$?
[ "$code" -eq 1 ] || { cat "$work/nofile.out" "$work/nofile.err"; fail "open files: exit $code, expected 1"; }
[ "$(grep -c . "$work/nofile.err")" -eq 1 ] || { cat "$work/nofile.err"; fail "open files: not one line on stderr"; }
grep -q '"ended": *"stopped early: the plan needs' "$work/out-nofile/summary.json" ||
  fail "open files: summary.json run.ended does not give the reason"

# More worker processes than users (or than any machine needs) is refused at once.
timeout 30 "$stompede" run "$work/run.toml" --workers 21 --out "$work/out-workers" >"$work/workers.out" 2>"$work/workers.err" </dev/null
code=$?
[ "$code" -eq 2 ] || { cat "$work/workers.out" "$work/workers.err"; fail "--workers 21 for 20 users: exit $code, expected 2"; }
grep -q -- "--workers: 21 worker processes for 20 users" "$work/workers.err" || { cat "$work/workers.err"; fail "--workers: no reason given"; }
# A --targets URL is held to target.url's rules: a public host needs target.i_own_this_target.
timeout 30 "$stompede" run "$work/run.toml" --workers 2 --targets ws://example.com/ws-stomp --out "$work/out-targets" >"$work/targets.out" 2>"$work/targets.err" </dev/null
code=$?
[ "$code" -eq 2 ] || { cat "$work/targets.out" "$work/targets.err"; fail "--targets to a public host: exit $code, expected 2"; }
grep -q -- '--targets: host "example.com" is neither loopback nor private' "$work/targets.err" || { cat "$work/targets.err"; fail "--targets: no reason given"; }

# An upgrade answered 404 (a wrong path): the reason names the status.
mkdir -p "$work/www"
python3 -m http.server --bind 127.0.0.1 "$port" --directory "$work/www" >/dev/null 2>&1 &
web=$!
for _ in $(seq 1 50); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
  sleep 0.1
done
sed -e 's/^mode = "login"$/mode = "none"/' -e '/^password = /d' "$work/early.toml" >"$work/upgrade.toml"
timeout 60 "$stompede" run "$work/upgrade.toml" --out "$work/out-upgrade" >"$work/upgrade.out" 2>"$work/upgrade.err" </dev/null
code=$?
kill "$web" 2>/dev/null; wait "$web" 2>/dev/null
[ "$code" -eq 1 ] || { cat "$work/upgrade.out" "$work/upgrade.err"; fail "upgrade 404: exit $code, expected 1"; }
grep -q "upgrade_rejected: WebSocket upgrade answered HTTP 404" "$work/upgrade.err" ||
  { cat "$work/upgrade.err"; fail "upgrade 404: the status is not in the reason"; }
grep -q '"upgrade_refusal": *"WebSocket upgrade answered HTTP 404' "$work/out-upgrade/summary.json" ||
  fail "upgrade 404: summary.json run.upgrade_refusal does not name the status"
grep -q '"server_error": *""' "$work/out-upgrade/summary.json" ||
  fail "upgrade 404: summary.json run.server_error holds something other than an ERROR frame's text"
# A server that accepts connections and never answers: no error before the end, and still no
# completed run (nobody connected).
start_silent_server
sed -e 's/^duration = "60s"$/duration = "2s"/' "$work/upgrade.toml" >"$work/silent.toml"
timeout 60 "$stompede" run "$work/silent.toml" --out "$work/out-silent" >"$work/silent.out" 2>"$work/silent.err" </dev/null
code=$?
kill "$silent" 2>/dev/null; wait "$silent" 2>/dev/null
[ "$code" -eq 1 ] || { cat "$work/silent.out" "$work/silent.err"; fail "silent server: exit $code, expected 1"; }
grep -q "nothing can connect to ws://127.0.0.1:$port" "$work/silent.err" || { cat "$work/silent.err"; fail "silent server: no reason line"; }
grep -q '"ended": *"failed: no user connected during the run"' "$work/out-silent/summary.json" ||
  fail "silent server: summary.json run.ended does not say that nobody connected"
# A signal while the logins wait for a login server that never answers: the run ends at once
# (not after the logins' timeouts) as an interruption, with its reports.
start_silent_server
"$stompede" run "$work/early.toml" --out "$work/out-login-int" >"$work/login-int.out" 2>"$work/login-int.err" </dev/null &
pid=$!
for _ in $(seq 1 100); do grep -q "logging in" "$work/login-int.out" && break; sleep 0.1; done
sleep 1
kill -s SIGINT "$pid"
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; kill "$silent"; fail "login interrupted: still running 5 s after SIGINT"; fi
wait "$pid"
code=$?
pid=""
kill "$silent" 2>/dev/null; wait "$silent" 2>/dev/null
[ "$code" -eq 130 ] || { cat "$work/login-int.out" "$work/login-int.err"; fail "login interrupted: exit $code, expected 130"; }
for f in summary.json load_test_result.csv timeseries.csv report.html scenario.toml; do
  [ -s "$work/out-login-int/$f" ] || fail "login interrupted: $f missing"
done
grep -q '"ended": *"interrupted: interrupted while logging in (0 of 20 logged in)"' "$work/out-login-int/summary.json" ||
  { grep ended "$work/out-login-int/summary.json"; fail "login interrupted: summary.json run.ended does not say so"; }
echo "signals OK: SIGINT -> 130 and SIGTERM -> 143 with the embedded server, reports complete; a login failure and a plan past the open-files limit leave reports too; --workers is bounded; a refused upgrade names its status; a silent server fails the run; a signal during the logins ends them at once"
