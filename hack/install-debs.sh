#!/usr/bin/env bash
# Installs the Debian packages the local cluster and the tests use, when missing: the real
# node's containerd, runc, CNI plugins, iptables, ipset (kube-router's policies) and conntrack; buildah and debootstrap (the
# images); lua5.4 (runs the Argo CD health scripts outside Argo CD) and redis-server (Argo CD's
# cache). Prometheus is built from its module (hack/cluster/build.sh). The cluster starts its
# own instances with its own paths and sockets, so the packages' services are never started:
# a policy-rc.d answering 101 ("action forbidden") for the length of the install is Debian's
# own way to say so. Nothing already running is touched.
set -euo pipefail
need=()
command -v lua5.4 >/dev/null 2>&1 || need+=(lua5.4)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v containerd >/dev/null 2>&1 || need+=(containerd)
command -v runc >/dev/null 2>&1 || need+=(runc)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
command -v conntrack >/dev/null 2>&1 || need+=(conntrack)
command -v ipset >/dev/null 2>&1 || need+=(ipset)
command -v nsenter >/dev/null 2>&1 || need+=(util-linux)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v buildah >/dev/null 2>&1 || need+=(buildah)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
[ ${#need[@]} -eq 0 ] && exit 0
echo "[setup] installing Debian packages: ${need[*]}" >&2
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
ours=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# modelops install-debs.sh: no service starts during this install\nexit 101\n' |
    $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  ours=1
fi
cleanup() { [ -z "$ours" ] || $SUDO rm -f "$policy"; }
trap cleanup EXIT
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
for cmd in lua5.4 redis-server containerd runc iptables conntrack ipset buildah debootstrap; do
  command -v "$cmd" >/dev/null || { echo "$cmd did not install" >&2; exit 1; }
done
