#!/usr/bin/env bash
# Secrets never leak, listeners stay on loopback: `stompede check` and `stompede run` (embedded
# server) with a canary secret in the environment (the password, through ${VAR}), in the
# scenario file (a credential-like STOMP CONNECT header) and through --set (the STOMP passcode).
# The run must log in with the canary password (proof the secrets were used), and no canary may
# appear in stdout/stderr, `check` output, any file of the results folder, or /metrics scraped
# during the run. While the run goes on, every TCP socket the process listens on must be bound
# to 127.0.0.1 (the embedded server, the Prometheus exporter, the control endpoint).
# Usage: run_canary_test.sh path/to/stompede
set -u
stompede="$1"
work="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
pid=""
fail() { echo "canary FAIL: $*"; exit 1; }

suffix="$RANDOM$RANDOM"
env_canary="cnry-env-$suffix"
file_canary="cnry-file-$suffix"
set_canary="cnry-set-$suffix"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
  echo $((20000 + RANDOM % 20000)); }
metrics_port="$(free_port)"
control_port="$(free_port)"

cat >"$work/canary.toml" <<TOML
[target]
embedded = true
heartbeat = "0,0"
connect_headers = { "x-api-token" = "$file_canary" }

[auth]
mode = "login"
password = "\${CANARY_PASSWORD}"

[rooms]
members_per_room = 10

[[stage]]
name = "only"
users = 10
ramp = "500ms"
duration = "3s"

[behaviour]
interval = "200ms"

[control]
listen = "127.0.0.1:$control_port"

[output]
prometheus = "127.0.0.1:$metrics_port"
TOML

export CANARY_PASSWORD="$env_canary"
"$stompede" check "$work/canary.toml" --set "auth.stomp_passcode=$set_canary" \
  >"$work/check.out" 2>&1 || { cat "$work/check.out"; fail "check refused the scenario"; }

"$stompede" run "$work/canary.toml" --set "auth.stomp_passcode=$set_canary" --out "$work/out" \
  >"$work/run.out" 2>"$work/run.err" </dev/null &
pid=$!

# Scrape /metrics and look at the listening sockets while the run goes on (bounded: ~8 s).
http_get() { # port path -> body (bash's /dev/tcp; no curl needed)
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
  timeout 5 cat <&3
  exec 3<&- 3>&-
}
listeners=""
for _ in $(seq 1 40); do
  sleep 0.2
  kill -0 "$pid" 2>/dev/null || break
  body="$(http_get "$metrics_port" /metrics 2>/dev/null)"
  if echo "$body" | grep -q 'stomp_load_test_messages_sent_total'; then
    echo "$body" >>"$work/metrics.txt"
    # Inodes of this process's sockets, then their LISTEN (0A) rows in /proc/net/tcp{,6}.
    inodes="$(ls -l /proc/"$pid"/fd 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\].*/\1/p' | sort -u)"
    listeners="$(for f in /proc/"$pid"/net/tcp /proc/"$pid"/net/tcp6; do
      awk 'NR > 1 && $4 == "0A" { print $2, $10 }' "$f"; done |
      while read -r addr inode; do echo "$inodes" | grep -qx "$inode" && echo "$addr"; done)"
    [ "$(echo "$listeners" | grep -c .)" -ge 3 ] && break
  fi
done
wait "$pid"
code=$?
pid=""
[ "$code" -eq 0 ] || { cat "$work/run.out" "$work/run.err"; fail "run exited $code"; }
[ -s "$work/metrics.txt" ] || fail "no /metrics scraped during the run"

# The listeners: the embedded server, the exporter and the control endpoint, all on loopback.
[ "$(echo "$listeners" | grep -c .)" -ge 3 ] ||
  fail "expected at least 3 listening sockets, saw: $listeners"
while read -r addr; do
  case "$addr" in
  0100007F:*) ;;                                             # 127.0.0.1
  00000000000000000000000001000000:*) ;;                     # ::1
  *) fail "a socket listens on $addr, not on loopback" ;;
  esac
done <<<"$listeners"

# The canary password was used: every user logged in and connected.
grep -q '"stomp_connected": *[1-9]' "$work/out/summary.json" ||
  grep -q '"stomp_connected":[1-9]' "$work/out/summary.json" ||
  fail "no session connected: the canary password was not used"

# Not one canary anywhere.
for c in "$env_canary" "$file_canary" "$set_canary"; do
  hits="$(grep -rl -- "$c" "$work/check.out" "$work/run.out" "$work/run.err" "$work/metrics.txt" \
    "$work/out" 2>/dev/null)"
  [ -z "$hits" ] || fail "canary $c found in: $hits"
done
grep -q '\*\*\*' "$work/check.out" || fail "check output shows no redacted secret"
echo "canary OK: 3 canaries, 0 hits in check output, logs, $(ls "$work/out" | wc -l) report files and /metrics; $(echo "$listeners" | grep -c .) listeners, all on loopback"
