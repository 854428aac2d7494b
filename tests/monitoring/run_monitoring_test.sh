#!/usr/bin/env bash
# The Grafana dashboard against a real Prometheus (check_dashboard.mjs). Exit 77 (skipped) when
# Debian's prometheus or node is not installed.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
command -v prometheus >/dev/null 2>&1 || { echo "monitoring SKIP: prometheus not installed"; exit 77; }
command -v node >/dev/null 2>&1 || { echo "monitoring SKIP: node not found"; exit 77; }
exec timeout 100 node "$here/check_dashboard.mjs" "$1"
