#!/usr/bin/env bash
# Builds the images the real node runs, without Docker or a registry: buildah (Debian's) builds
# each Dockerfile on a base made by debootstrap from Debian's packages, and writes an OCI
# archive to ${MODELOPS_CACHE:-~/.cache/modelops}/images/<name>.oci.tar, which `make
# cluster-up` loads into the node's containerd. Each image is keyed by the content of its
# inputs and rebuilt only when they change. Usage: build.sh [name ...] (default: all).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../cluster/versions.env
source "$root/hack/cluster/versions.env"
cache=${MODELOPS_CACHE:-$HOME/.cache/modelops}
out="$cache/images"
store="$cache/buildah"
suite=bookworm
mirror=${MODELOPS_DEBIAN_MIRROR:-$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)}
mirror=${mirror:-http://deb.debian.org/debian}
base_pkgs="python3,python3-pip,python3-venv,python-is-python3,ca-certificates"
BUILDAH=(buildah --root "$store/root" --runroot "$store/run" --storage-driver overlay)

say() { printf '[images %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
# shellcheck source=../timings.sh
source "$root/hack/timings.sh"
die() { say "ERROR: $*"; exit 1; }

for tool in buildah debootstrap gcc; do
  command -v "$tool" >/dev/null || die "$tool is missing; run bash hack/install-debs.sh"
done
[ "$(id -u)" = 0 ] || die "building images needs root (buildah's overlay storage, debootstrap)"
mkdir -p "$out" "$store"

# key NAME INPUT... : the sha256 of the inputs' contents (files or whole folders) and names.
key() {
  shift
  { for p in "$@"; do
      if [ -d "$p" ]; then find "$p" -type f -not -name '*.pyc' -not -path '*/__pycache__/*' | LC_ALL=C sort | xargs sha256sum
      elif [ -f "$p" ]; then sha256sum "$p"
      else echo "$p"; fi
    done; } | sed "s|$root/||" | sha256sum | cut -c1-16
}

fresh() {  # fresh NAME KEY: the archive exists and was built from this key
  [ -f "$out/$1.oci.tar" ] && [ "$(cat "$out/$1.key" 2>/dev/null)" = "$2" ]
}

export_image() {  # export_image NAME REF KEY
  rm -f "$out/$1.oci.tar.tmp"
  # zstd: several times faster than gzip for the multi-GB trainer; containerd reads it.
  "${BUILDAH[@]}" push -q --compression-format zstd "$2" "oci-archive:$out/$1.oci.tar.tmp:$2" >/dev/null
  mv "$out/$1.oci.tar.tmp" "$out/$1.oci.tar"
  echo "$3" > "$out/$1.key"
  say "$1: $(du -h "$out/$1.oci.tar" | cut -f1) at $out/$1.oci.tar"
  # From the start of this image's turn: a first image's time includes the base it needed.
  record_build "image-$1" $((SECONDS - t0))
}

# The base every Python image starts from: Debian bookworm (Python 3.11, as the project) with
# pip allowed to install system-wide, as in the python:*-slim images the Dockerfiles default to.
BASE=localhost/modelops/base:dev
# Bump when build_base changes what it makes; editing the rest of this script rebuilds nothing.
BASE_REVISION=1
base_key() { key base "$base_pkgs" "$suite" "$BASE_REVISION"; }
build_base() {
  local k; k=$(base_key)
  if [ "$("${BUILDAH[@]}" inspect --type image --format '{{index .ImageAnnotations "modelops.key"}}' "$BASE" 2>/dev/null)" = "$k" ]; then
    say "base: cached"; return
  fi
  say "base: debootstrap $suite from $mirror (about a minute)"
  local rootfs="$store/rootfs"
  rm -rf "$rootfs"
  debootstrap --variant=minbase --include="$base_pkgs" "$suite" "$rootfs" "$mirror" >"$store/debootstrap.log" 2>&1 \
    || die "debootstrap failed; see $store/debootstrap.log"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
         "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/* "$rootfs"/usr/lib/python3.11/EXTERNALLY-MANAGED
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\nno-cache-dir = true\n' > "$rootfs/etc/pip.conf"
  local c mnt
  c=$("${BUILDAH[@]}" from scratch)
  mnt=$("${BUILDAH[@]}" mount "$c")
  cp -a "$rootfs/." "$mnt/"
  "${BUILDAH[@]}" umount "$c" >/dev/null
  "${BUILDAH[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 --annotation "modelops.key=$k" --cmd python3 "$c"
  "${BUILDAH[@]}" commit -q --rm "$c" "$BASE" >/dev/null
  rm -rf "$rootfs"
  say "base: done"
}

# bud NAME CONTEXT DOCKERFILE INPUT...: build a Dockerfile on our base (ARG BASE).
bud() {
  local name=$1 context=$2 file=$3; shift 3
  local k; k=$(key "$name" "$file" "$@" "$(base_key)")
  if fresh "$name" "$k"; then say "$name: cached"; return; fi
  build_base
  say "$name: building $file"
  local began=$SECONDS
  # The build's pip trusts what this machine trusts (a proxy's CA, say) through a mount that
  # exists only while RUN steps run; nothing of it lands in a layer.
  "${BUILDAH[@]}" bud --quiet --isolation chroot --network host --layers \
    --volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro \
    --build-arg "BASE=$BASE" -f "$file" -t "localhost/modelops/$name:dev" "$context" >/dev/null \
    || die "$name: buildah bud failed"
  say "$name: built in $((SECONDS - began))s"
  export_image "$name" "localhost/modelops/$name:dev" "$k"
  # The image this build replaced is untagged now and nothing is built on it: without this
  # the store grows by an image per rebuild (15 GB after a few hundred operator builds). The
  # layers this build reuses are parents of tagged images and stay.
  "${BUILDAH[@]}" rmi --prune >/dev/null 2>&1 || true
}

# The sandbox ("pause") container: the program Kubernetes ships in its module, static.
pause_source() {
  local src
  src=$(cd "$root" && GOTOOLCHAIN=local go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')/build/pause/linux/pause.c
  [ -f "$src" ] || die "pause.c not found in k8s.io/kubernetes@$K8S_VERSION"
  echo "$src"
}

build_pause() {
  local src; src=$(pause_source)
  local k; k=$(key pause "$src")
  if fresh pause "$k"; then say "pause: cached"; return; fi
  local tmp; tmp=$(mktemp -d)
  gcc -Os -static -Wall -Werror -DVERSION="$K8S_VERSION-modelops" -o "$tmp/pause" "$src"
  strip "$tmp/pause"
  one_binary pause "$tmp/pause" /pause 65535 "$k"
  rm -rf "$tmp"
}

build_coredns() {
  local bin="$cache/coredns-$COREDNS_VERSION/bin/coredns"
  [ -x "$bin" ] || bash "$root/hack/cluster/build.sh" coredns
  local k; k=$(key coredns "$bin")
  if fresh coredns "$k"; then say "coredns: cached"; return; fi
  one_binary coredns "$bin" /coredns 0 "$k"
}

one_binary() {  # one_binary NAME FILE PATH USER KEY: an image holding one static program
  local c
  c=$("${BUILDAH[@]}" from scratch)
  "${BUILDAH[@]}" copy -q "$c" "$2" "$3" >/dev/null
  "${BUILDAH[@]}" config --entrypoint "[\"$3\"]" --user "$4" "$c"
  "${BUILDAH[@]}" commit -q --rm "$c" "localhost/modelops/$1:dev" >/dev/null
  export_image "$1" "localhost/modelops/$1:dev" "$5"
}

# KEDA's operator and metrics API server, as its release images hold them (/keda,
# /keda-adapter), from the binaries hack/cluster/build.sh keda makes.
build_keda() {
  local bin="$cache/keda-$KEDA_VERSION/bin"
  bash "$root/hack/cluster/build.sh" keda  # "cached" once built
  local k
  k=$(key keda "$bin/keda-operator")
  if fresh keda "$k"; then say "keda: cached"
  else t0=$SECONDS; one_binary keda "$bin/keda-operator" /keda 65532 "$k"; fi
  k=$(key keda-metrics-apiserver "$bin/keda-adapter")
  if fresh keda-metrics-apiserver "$k"; then say "keda-metrics-apiserver: cached"
  else t0=$SECONDS; one_binary keda-metrics-apiserver "$bin/keda-adapter" /keda-adapter 65532 "$k"; fi
}

# metrics-server (the resource metrics API an HPA on CPU reads), from the binary
# hack/cluster/build.sh metrics-server makes.
build_metrics_server() {
  local bin="$cache/metrics-server-$METRICS_SERVER_VERSION/bin/metrics-server"
  bash "$root/hack/cluster/build.sh" metrics-server  # "cached" once built
  local k; k=$(key metrics-server "$bin")
  if fresh metrics-server "$k"; then say "metrics-server: cached"; return; fi
  one_binary metrics-server "$bin" /metrics-server 65532 "$k"
}

# Traefik, the local cluster's Gateway API implementation, from the binary
# hack/cluster/build.sh traefik makes (its release image holds /traefik, as this one).
build_traefik() {
  local bin="$cache/traefik-$TRAEFIK_VERSION/bin/traefik"
  bash "$root/hack/cluster/build.sh" traefik  # "cached" once built
  local k; k=$(key traefik "$bin")
  if fresh traefik "$k"; then say "traefik: cached"; return; fi
  one_binary traefik "$bin" /traefik 65532 "$k"
}

# Kueue's manager, as its release image holds it (/manager), from the binary
# hack/cluster/build.sh kueue makes.
build_kueue() {
  local bin="$cache/kueue-$KUEUE_VERSION/bin/kueue"
  bash "$root/hack/cluster/build.sh" kueue  # "cached" once built
  local k; k=$(key kueue "$bin")
  if fresh kueue "$k"; then say "kueue: cached"; return; fi
  one_binary kueue "$bin" /manager 65532 "$k"
}

# A one-file image whose content is MODELOPS_PROBE_TOKEN: tests/integration/test_images.py
# rebuilds it to show that the node runs the image last built, not one loaded before.
build_probe() {
  local k tmp
  k=$(key probe "${MODELOPS_PROBE_TOKEN:?}")
  if fresh probe "$k"; then say "probe: cached"; return; fi
  tmp=$(mktemp -d)
  gcc -Os -static -o "$tmp/pause" "$(pause_source)" && strip "$tmp/pause"
  printf '%s\n' "$MODELOPS_PROBE_TOKEN" > "$tmp/token"
  local c
  c=$("${BUILDAH[@]}" from scratch)
  "${BUILDAH[@]}" copy -q "$c" "$tmp/pause" /pause >/dev/null
  "${BUILDAH[@]}" copy -q "$c" "$tmp/token" /token >/dev/null
  "${BUILDAH[@]}" config --entrypoint '["/pause"]' --user 65532 "$c"
  "${BUILDAH[@]}" commit -q --rm "$c" "localhost/modelops/probe:dev" >/dev/null
  export_image probe "localhost/modelops/probe:dev" "$k"
  rm -rf "$tmp"
}

want=${*:-pause coredns operator fetcher model-server trainer llama-server keda metrics-server traefik kueue}
for name in $want; do
  t0=$SECONDS
  case $name in
    pause) build_pause ;;
    coredns) build_coredns ;;
    base) build_base ;;
    probe) build_probe ;;
    keda) build_keda ;;
    metrics-server) build_metrics_server ;;
    traefik) build_traefik ;;
    kueue) build_kueue ;;
    operator) bud operator "$root" "$root/Dockerfile" "$root/pyproject.toml" "$root/README.md" "$root/operator" ;;
    *) [ -f "$root/images/$name/Dockerfile" ] || die "unknown image $name"
       bud "$name" "$root/images/$name" "$root/images/$name/Dockerfile" "$root/images/$name" ;;
  esac
done
