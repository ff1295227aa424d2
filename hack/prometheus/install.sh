#!/usr/bin/env bash
# Installs Debian's prometheus (the real Prometheus the analysis tests query) when missing.
set -euo pipefail
if command -v prometheus >/dev/null 2>&1; then exit 0; fi
echo "[setup] installing Debian's prometheus package" >&2
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# The package's service would start a system Prometheus; tests start their own on loopback.
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
$SUDO sh -c 'command -v systemctl >/dev/null && systemctl disable --now prometheus 2>/dev/null; pkill -x prometheus 2>/dev/null' || true
command -v prometheus >/dev/null || { echo "prometheus did not install" >&2; exit 1; }
