#!/usr/bin/env bash
# Runs a short scenario with stompede, then opens its report.html in headless chromium
# (check_report.mjs). Exit 77 (skipped) when chromium or the npm package is not installed.
# Usage: run_report_test.sh STOMPEDE_BINARY [SCREENSHOT.png]
set -u
stompede="$1"
here="$(cd "$(dirname "$0")" && pwd)"
if [ ! -d "$here/node_modules/playwright-core" ]; then
  echo "report SKIP: run scripts/install-deps (npm ci in tests/report)"
  exit 77
fi
command -v node >/dev/null 2>&1 || { echo "report SKIP: node not found"; exit 77; }
[ -x /usr/bin/chromium ] || { echo "report SKIP: chromium not installed"; exit 77; }

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
shot="${2:-$out/report.png}"
"$stompede" run "$here/report.toml" --out "$out/run" --quiet >"$out/run.log" 2>&1
code=$?
# The scenario has a failing threshold on purpose: 99 is the expected exit code.
if [ "$code" -ne 99 ]; then
  echo "report FAIL: stompede exited $code, expected 99 (a failed threshold)"
  cat "$out/run.log"
  exit 1
fi
[ -f "$out/run/report.html" ] || { echo "report FAIL: no report.html"; exit 1; }
cd "$here" && timeout 60 node check_report.mjs "$out/run/report.html" "$shot"
