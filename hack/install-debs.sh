#!/usr/bin/env bash
# Installs the Debian packages the tests use, when missing: prometheus (the real Prometheus the
# analysis tests query) and lua5.4 (runs the Argo CD health scripts).
set -euo pipefail
need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v lua5.4 >/dev/null 2>&1 || need+=(lua5.4)
[ ${#need[@]} -eq 0 ] && exit 0
echo "[setup] installing Debian packages: ${need[*]}" >&2
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The package's service would start a system Prometheus; tests start their own on loopback.
$SUDO sh -c 'command -v systemctl >/dev/null && systemctl disable --now prometheus 2>/dev/null; pkill -x prometheus 2>/dev/null' || true
for cmd in prometheus lua5.4; do
  command -v "$cmd" >/dev/null || { echo "$cmd did not install" >&2; exit 1; }
done
