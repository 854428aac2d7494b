#!/usr/bin/env bash
# `cmake --install` into a staging folder and a Debian package through CPack: the binary runs
# from where it was installed, the package holds it, the docs and the monitoring files, and its
# dependencies were worked out from the binary. Exit 77 (skipped) without dpkg-deb.
# Usage: run_package_test.sh BUILD_DIR
set -u
build="$1"
command -v dpkg-deb >/dev/null 2>&1 || { echo "package SKIP: dpkg-deb not found"; exit 77; }
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
fail() { echo "package FAIL: $*"; exit 1; }

DESTDIR="$out/stage" cmake --install "$build" --prefix /usr >"$out/install.log" 2>&1 ||
  { cat "$out/install.log"; fail "cmake --install"; }
"$out/stage/usr/bin/stompede" --version | grep -q '^stompede ' || fail "installed binary does not run"
for f in usr/share/doc/stompede/README.md usr/share/doc/stompede/reports.md \
         usr/share/stompede/monitoring/grafana-dashboard.json \
         usr/share/stompede/monitoring/prometheus.yml usr/share/stompede/scenarios/quickstart.toml; do
  [ -f "$out/stage/$f" ] || fail "missing /$f"
done

(cd "$out" && cpack -G DEB --config "$build/CPackConfig.cmake" >"$out/cpack.log" 2>&1) ||
  { cat "$out/cpack.log"; fail "cpack"; }
deb="$(ls "$out"/stompede_*.deb 2>/dev/null | head -1)"
[ -n "$deb" ] || { cat "$out/cpack.log"; fail "no stompede_*.deb"; }
info="$(dpkg-deb -I "$deb")"
echo "$info" | grep -q '^ Package: stompede$' || fail "package name"
echo "$info" | grep -q '^ Depends:.*libcaf' || { echo "$info"; fail "no dependency on libcaf"; }
dpkg-deb -c "$deb" | grep -q '\./usr/bin/stompede$' || fail "no /usr/bin/stompede in the package"
echo "package OK: $(basename "$deb")"
