#!/usr/bin/env bash
# Starts stompede_test_server on an ephemeral port, runs one Node interop script against it,
# and always stops the server. Exit 77 (skipped) when the npm packages are not installed.
set -u
server_bin="$1"
script="$2"
here="$(cd "$(dirname "$0")" && pwd)"
if [ ! -d "$here/node_modules/@stomp/stompjs" ] || [ ! -d "$here/node_modules/ws" ]; then
  echo "interop SKIP: run scripts/install-deps (npm ci in tests/interop)"
  exit 77
fi
command -v node >/dev/null 2>&1 || { echo "interop SKIP: node not found"; exit 77; }

out="$(mktemp)"
"$server_bin" 60 >"$out" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -f "$out"' EXIT
port=""
for _ in $(seq 1 100); do
  port="$(sed -n 's/^PORT //p' "$out")"
  [ -n "$port" ] && break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "interop FAIL: the test server did not print its port"
  cat "$out"
  exit 1
fi
cd "$here" && timeout 30 node "$script" "http://127.0.0.1:$port"
