#!/usr/bin/env bash
# Builds the local cluster's binaries from pinned releases through the Go module proxy and
# caches them under ${MODELOPS_CACHE:-~/.cache/modelops}/<part>-<version>/bin. A part whose
# binaries are already there is not rebuilt, so only the first run pays for the build.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
cache=${MODELOPS_CACHE:-$HOME/.cache/modelops}
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0

say() { printf '[build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
# shellcheck source=../timings.sh
source "$here/../timings.sh"
built() { say "$1: done in $((SECONDS - t0))s"; record_build "$part" $((SECONDS - t0)); }
die() { say "ERROR: $*"; exit 1; }
# shellcheck source=build-traefik.sh
source "$here/build-traefik.sh"

preflight() {
  command -v go >/dev/null || die "Go is not installed (need go >= 1.25 on PATH)."
  local avail
  avail=$(df -Pk "$cache" 2>/dev/null | awk 'NR==2 {print int($4/1024/1024)}')
  [ "${avail:-0}" -ge 8 ] || die "less than 8 GiB free under $cache (have ${avail:-?} GiB); the build needs about 6 GiB of module and build cache."
  go env GOPROXY | grep -qv '^off$' || die "GOPROXY is off; the binaries come from the Go module proxy."
}

# k8s.io/kubernetes pins its staging modules at v0.0.0 with local replaces, so a wrapper
# module must replace each one with its published v0.Y.Z (same minor and patch).
build_kubernetes() {
  local dir="$cache/kubernetes-$K8S_VERSION"
  local bins=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy)
  if all_present "$dir/bin" "${bins[@]}"; then say "kubernetes $K8S_VERSION: cached"; return; fi
  say "kubernetes $K8S_VERSION: resolving modules"
  mkdir -p "$dir/src" "$dir/bin"
  local gomod staging v0="v0.${K8S_VERSION#v1.}"
  gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [ -f "$gomod" ] || die "could not download k8s.io/kubernetes@$K8S_VERSION from $(go env GOPROXY)"
  staging=$(grep -E '^\s+k8s\.io/[a-z0-9-]+ v0\.0\.0$' "$gomod" | awk '{print $1}')
  {
    echo "module modelops.local/k8sbuild"
    echo
    echo "go 1.25"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "tool ("
    for b in "${bins[@]}"; do echo "	k8s.io/kubernetes/cmd/$b"; done
    echo ")"
    echo
    echo "replace ("
    for m in $staging; do echo "	$m => $m $v0"; done
    echo ")"
  } > "$dir/src/go.mod"
  (cd "$dir/src" && go mod tidy) || die "go mod tidy failed for the kubernetes wrapper module"
  local ld="-s -w" commit
  commit=$(printf '%040d' 0)
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    local major=${K8S_VERSION#v}; major=${major%%.*}
    local minor=${K8S_VERSION#v*.}; minor=${minor%%.*}
    ld+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ld+=" -X $pkg.gitCommit=$commit -X $pkg.gitTreeState=clean -X $pkg.buildDate=2026-01-01T00:00:00Z"
  done
  say "kubernetes $K8S_VERSION: compiling ${bins[*]} (cold: tens of minutes on 2 cores)"
  local pkgs=()
  for b in "${bins[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  (cd "$dir/src" && go build -v -trimpath -ldflags "$ld" -o "$dir/bin/" "${pkgs[@]}" 2>&1 |
     progress kubernetes)
  all_present "$dir/bin" "${bins[@]}" || die "kubernetes build did not produce all of ${bins[*]}"
  built "kubernetes $K8S_VERSION"
}

build_etcd() {
  local dir="$cache/etcd-$ETCD_VERSION"
  if all_present "$dir/bin" etcd; then say "etcd $ETCD_VERSION: cached"; return; fi
  say "etcd $ETCD_VERSION: building"
  mkdir -p "$dir/src" "$dir/bin"
  cat > "$dir/src/go.mod" <<MOD
module modelops.local/etcdbuild

go 1.25

require go.etcd.io/etcd/server/v3 $ETCD_VERSION

tool go.etcd.io/etcd/server/v3
MOD
  (cd "$dir/src" && go mod tidy && go build -trimpath -ldflags "-s -w" -o "$dir/bin/etcd" go.etcd.io/etcd/server/v3) \
    || die "etcd build failed"
  built "etcd $ETCD_VERSION"
}

build_gotool() {  # name version module-path cmd-path
  local name=$1 version=$2 cmdpath=$3
  local dir="$cache/$name-$version"
  if all_present "$dir/bin" "$name"; then say "$name $version: cached"; return; fi
  say "$name $version: building"
  mkdir -p "$dir/bin"
  GOBIN="$dir/bin" go install -trimpath -ldflags "-s -w" "$cmdpath@$version" || die "$name build failed"
  built "$name $version"
}

# The Gateway API CRDs (standard channel) come from the module's own config/crd.
fetch_gateway_api() {
  local dir="$cache/gateway-api-$GATEWAY_API_VERSION"
  if [ -f "$dir/crds/gateway.networking.k8s.io_httproutes.yaml" ]; then
    say "gateway-api $GATEWAY_API_VERSION: cached"; return
  fi
  say "gateway-api $GATEWAY_API_VERSION: fetching CRDs"
  local src
  src=$(module_dir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")
  [ -d "$src/config/crd/standard" ] || die "could not download sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION"
  mkdir -p "$dir/crds"
  cp "$src"/config/crd/standard/*.yaml "$dir/crds/"
}

# Prometheus with Kubernetes service discovery (Debian's build has none) and its promtool, as
# kube-prometheus-stack runs it: from its Go module, with only the Kubernetes SD plugin compiled
# in (Prometheus's own build tags) and no web UI assets (the API needs none).
build_prometheus() {
  local dir="$cache/prometheus-$PROMETHEUS_MODULE_VERSION"
  if all_present "$dir/bin" prometheus promtool; then say "prometheus $PROMETHEUS_MODULE_VERSION: cached"; return; fi
  say "prometheus $PROMETHEUS_MODULE_VERSION: building prometheus and promtool (about 3 min)"
  mkdir -p "$dir/bin"
  GOBIN="$dir/bin" go install -trimpath -ldflags "-s -w" -tags remove_all_sd,enable_kubernetes_sd \
    "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_MODULE_VERSION" \
    "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_MODULE_VERSION" || die "prometheus build failed"
  built "prometheus $PROMETHEUS_MODULE_VERSION"
}

# kube-router's network-policy controller (the one k3s embeds) enforces NetworkPolicies on the
# real node with iptables and ipset, beside its bridge CNI. kind's kube-network-policies would
# be the first choice, but it needs nftables' queue statement, which this machine's kernel lacks
# (CONFIG_NFT_QUEUE is off); kube-router needs only iptables' xt matches and ipset. The Go proxy
# serves kube-router v2 only at v2.1.0, whose pinned dependencies carry reported CVEs: the
# wrapper module raises them (golang.org/x/*, grpc, protobuf) to current releases.
kube_router_key() { printf '%s' "$KUBE_ROUTER_DEPS" | sha256sum | cut -c1-8; }
build_kube_router() {
  local dir; dir="$cache/kube-router-$KUBE_ROUTER_VERSION-$(kube_router_key)"
  if all_present "$dir/bin" kube-router; then say "kube-router $KUBE_ROUTER_VERSION: cached"; return; fi
  say "kube-router $KUBE_ROUTER_VERSION: building (about 2 min)"
  mkdir -p "$dir/src" "$dir/bin"
  cat > "$dir/src/go.mod" <<MOD
module modelops.local/kuberouterbuild

go 1.25

require github.com/cloudnativelabs/kube-router/v2 $KUBE_ROUTER_VERSION

tool github.com/cloudnativelabs/kube-router/v2/cmd/kube-router
MOD
  (cd "$dir/src" && go mod tidy && go get $KUBE_ROUTER_DEPS && go mod tidy) \
    || die "could not resolve kube-router's modules"
  (cd "$dir/src" && go build -trimpath -ldflags "-s -w" -o "$dir/bin/kube-router" \
    github.com/cloudnativelabs/kube-router/v2/cmd/kube-router) || die "kube-router build failed"
  built "kube-router $KUBE_ROUTER_VERSION"
}

# The SMI TrafficSplit CRD (split.smi-spec.io v1alpha4), for the smi traffic provider's tests:
# SMI's own module ships it only as apiextensions v1beta1, which Kubernetes no longer serves;
# Argo Rollouts' module carries the same schema as a v1 CRD for its own SMI tests.
fetch_smi() {
  local dir="$cache/smi-crds-$ARGO_ROLLOUTS_VERSION"
  if [ -f "$dir/split.yaml" ]; then say "smi CRDs (argo-rollouts $ARGO_ROLLOUTS_VERSION): cached"; return; fi
  say "smi CRDs: fetching github.com/argoproj/argo-rollouts@$ARGO_ROLLOUTS_VERSION"
  local src
  src=$(module_dir "github.com/argoproj/argo-rollouts@$ARGO_ROLLOUTS_VERSION")
  [ -f "$src/test/e2e/crds/split.yaml" ] || die "no split.yaml in argo-rollouts@$ARGO_ROLLOUTS_VERSION"
  mkdir -p "$dir"
  cp "$src/test/e2e/crds/split.yaml" "$dir/split.yaml"
}

# Argo CD for the GitOps tests: only the application controller and the repo server (the
# "core" install), from a copy of the release's module source with one patch, because the
# controller's metrics listener is hard-wired to 0.0.0.0 and nothing of ours may listen beyond
# loopback. Its CRDs and stock config come from the same module.
build_argocd() {
  local dir="$cache/argocd-$ARGOCD_VERSION"
  if all_present "$dir/bin" argocd && [ -f "$dir/manifests/core-install.yaml" ]; then
    say "argocd $ARGOCD_VERSION: cached"; return
  fi
  say "argocd $ARGOCD_VERSION: fetching the module"
  local mod
  mod=$(module_dir "github.com/argoproj/argo-cd/v3@$ARGOCD_VERSION")
  [ -f "$mod/go.mod" ] || die "could not download github.com/argoproj/argo-cd/v3@$ARGOCD_VERSION"
  rm -rf "$dir/src"
  mkdir -p "$dir/src" "$dir/bin" "$dir/manifests"
  cp -r "$mod/." "$dir/src/" && chmod -R u+w "$dir/src"
  local ctl="$dir/src/controller/appcontroller.go"
  sed -i 's|fmt.Sprintf("0.0.0.0:%d", metricsPort)|fmt.Sprintf("127.0.0.1:%d", metricsPort)|' "$ctl"
  grep -q '"127.0.0.1:%d", metricsPort' "$ctl" || die "argocd: the metrics-listener patch no longer applies to $ctl"
  mkdir -p "$dir/src/cmd/modelops-argocd"
  cat > "$dir/src/cmd/modelops-argocd/main.go" <<'GO'
// Only the two components a core install runs, picked by the name the binary is called by.
package main

import (
	"os"
	"path/filepath"

	appcontroller "github.com/argoproj/argo-cd/v3/cmd/argocd-application-controller/commands"
	reposerver "github.com/argoproj/argo-cd/v3/cmd/argocd-repo-server/commands"
	"github.com/spf13/cobra"
)

func main() {
	var command *cobra.Command
	switch filepath.Base(os.Args[0]) {
	case "argocd-application-controller":
		command = appcontroller.NewCommand()
	case "argocd-repo-server":
		command = reposerver.NewCommand()
	default:
		os.Stderr.WriteString("call me argocd-application-controller or argocd-repo-server\n")
		os.Exit(2)
	}
	if err := command.Execute(); err != nil {
		os.Exit(1)
	}
}
GO
  say "argocd $ARGOCD_VERSION: compiling the controller and repo server (cold: about 10 minutes on 2 cores)"
  (cd "$dir/src" && go build -v -trimpath -ldflags "-s -w -X github.com/argoproj/argo-cd/v3/common.version=${ARGOCD_VERSION#v}" \
      -o "$dir/bin/argocd" ./cmd/modelops-argocd 2>&1 | progress argocd)
  all_present "$dir/bin" argocd || die "argocd build did not produce a binary"
  ln -sf argocd "$dir/bin/argocd-application-controller"
  ln -sf argocd "$dir/bin/argocd-repo-server"
  cp "$mod/manifests/core-install.yaml" "$dir/manifests/"
  rm -rf "$dir/src"
  built "argocd $ARGOCD_VERSION"
}

# KEDA for autoscaling: its operator (the scalers, and the HPA it makes for a ScaledObject)
# and its external-metrics API server, from a copy of the release's module source trimmed to
# the scalers modelops uses (prometheus, cpu, memory). All of KEDA's 70-odd scalers live in
# one package that imports every cloud SDK: 3,712 packages to compile; trimmed, 1,960.
build_keda() {
  local dir="$cache/keda-$KEDA_VERSION"
  if all_present "$dir/bin" keda-operator keda-adapter && [ -d "$dir/config/default" ]; then
    say "keda $KEDA_VERSION: cached"; return
  fi
  say "keda $KEDA_VERSION: fetching the module"
  local mod
  mod=$(module_dir "github.com/kedacore/keda/v2@$KEDA_VERSION")
  [ -f "$mod/go.mod" ] || die "could not download github.com/kedacore/keda/v2@$KEDA_VERSION"
  rm -rf "$dir/src"
  mkdir -p "$dir/src" "$dir/bin"
  cp -r "$mod/." "$dir/src/" && chmod -R u+w "$dir/src"
  local scalers="$dir/src/pkg/scalers" builder="$dir/src/pkg/scaling/scalers_builder.go"
  find "$scalers" -maxdepth 1 -name '*.go' \( -name '*_test.go' -o \( -name '*_scaler.go' \
    -not -name prometheus_scaler.go -not -name cpu_memory_scaler.go \) \) -delete
  rm -rf "$scalers"/{kafka,liiklus,openstack,splunk,sumologic,externalscaler}
  # Defined beside a scaler that is gone, used by the prometheus scaler.
  printf 'package scalers\n\nconst externalMetricType = "External"\n' > "$scalers/modelops_kept.go"
  grep -q '// TRIGGERS-START' "$builder" && grep -q '// TRIGGERS-END' "$builder" ||
    die "keda: the scaler switch in $builder has moved; the trim no longer applies"
  python3 - "$builder" <<'PY'
import sys
path = sys.argv[1]
src = open(path).read()
head, rest = src.split("\t// TRIGGERS-START\n", 1)
_, tail = rest.split("\t// TRIGGERS-END\n", 1)
open(path, "w").write(head + """\t// TRIGGERS-START
\tswitch triggerType {
\tcase "cpu":
\t\treturn scalers.NewCPUMemoryScaler(corev1.ResourceCPU, config)
\tcase "memory":
\t\treturn scalers.NewCPUMemoryScaler(corev1.ResourceMemory, config)
\tcase "prometheus":
\t\treturn scalers.NewPrometheusScaler(config)
\tdefault:
\t\treturn nil, fmt.Errorf("no scaler found for type: %s (this build has prometheus, cpu and memory)", triggerType)
\t}
\t// TRIGGERS-END
""" + tail)
PY
  say "keda $KEDA_VERSION: compiling the operator and the metrics API server (trimmed)"
  (cd "$dir/src" && go build -v -trimpath \
      -ldflags "-s -w -X github.com/kedacore/keda/v2/version.Version=${KEDA_VERSION#v}" \
      -o "$dir/bin/" ./cmd/operator ./cmd/adapter 2>&1 | progress keda)
  [ -x "$dir/bin/operator" ] && [ -x "$dir/bin/adapter" ] || die "keda build did not produce its binaries"
  mv "$dir/bin/operator" "$dir/bin/keda-operator" && mv "$dir/bin/adapter" "$dir/bin/keda-adapter"
  # Its install manifests (kustomize), as the release's keda-X.yaml is made from them.
  rm -rf "$dir/config" && cp -r "$dir/src/config" "$dir/config"
  rm -rf "$dir/src"
  built "keda $KEDA_VERSION"
}

# metrics-server for CPU autoscaling (the resource metrics API the HPA reads), and its
# install manifests (kustomize) from the same module.
build_metrics_server() {
  local dir="$cache/metrics-server-$METRICS_SERVER_VERSION"
  if all_present "$dir/bin" metrics-server && [ -d "$dir/manifests/base" ]; then
    say "metrics-server $METRICS_SERVER_VERSION: cached"; return
  fi
  say "metrics-server $METRICS_SERVER_VERSION: building"
  mkdir -p "$dir/bin"
  GOBIN="$dir/bin" go install -trimpath -ldflags "-s -w" \
    "sigs.k8s.io/metrics-server/cmd/metrics-server@$METRICS_SERVER_VERSION" || die "metrics-server build failed"
  local mod
  mod=$(module_dir "sigs.k8s.io/metrics-server@$METRICS_SERVER_VERSION")
  rm -rf "$dir/manifests" && cp -r "$mod/manifests" "$dir/manifests" && chmod -R u+w "$dir/manifests"
  built "metrics-server $METRICS_SERVER_VERSION"
}

# Kueue's manager, and its kustomize manifests (config/) from the same module: queue.py
# renders them as its release does, with the image built here.
build_kueue() {
  local dir="$cache/kueue-$KUEUE_VERSION"
  if all_present "$dir/bin" kueue && [ -d "$dir/config/default" ]; then
    say "kueue $KUEUE_VERSION: cached"; return
  fi
  say "kueue $KUEUE_VERSION: building (about 3 min)"
  local mod
  mod=$(module_dir "sigs.k8s.io/kueue@$KUEUE_VERSION")
  [ -d "$mod/config/default" ] || die "could not download sigs.k8s.io/kueue@$KUEUE_VERSION"
  rm -rf "$dir" && mkdir -p "$dir/bin"
  GOBIN="$dir/bin" go install -v -trimpath -ldflags "-s -w" \
    "sigs.k8s.io/kueue/cmd/kueue@$KUEUE_VERSION" 2>&1 | progress kueue
  [ -x "$dir/bin/kueue" ] || die "kueue build did not produce its binary"
  cp -r "$mod/config" "$dir/config" && chmod -R u+w "$dir/config"
  built "kueue $KUEUE_VERSION"
}

# olah, a self-hosted Hugging Face hub mirror (PyPI), in a virtualenv of its own: the local
# hub that serves hf:// artifacts from git repositories.
build_olah() {
  local dir="$cache/olah-$OLAH_VERSION"
  if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c "import olah" 2>/dev/null; then
    say "olah $OLAH_VERSION: cached"; return
  fi
  say "olah $OLAH_VERSION: installing from PyPI"
  rm -rf "$dir"
  python3 -m venv "$dir" && "$dir/bin/pip" install -q "olah==$OLAH_VERSION" || die "olah install failed"
  built "olah $OLAH_VERSION"
}

module_dir() {  # module@version -> its directory in the module cache (downloaded if need be)
  go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p'
}

# go build -v prints a package per line: a line of progress every 200 of them.
progress() {
  awk -v name="$1" '{n++; if (n % 200 == 0) printf "[build] %s: %d packages compiled\n", name, n > "/dev/stderr"}'
}

all_present() {
  local d=$1; shift
  for b in "$@"; do [ -x "$d/$b" ] || return 1; done
}

mkdir -p "$cache"
preflight
want=${*:-etcd kwok kubernetes gateway-api smi}
for part in $want; do
  t0=$SECONDS
  case $part in
    etcd) build_etcd ;;
    kwok) build_gotool kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok ;;
    helm) build_gotool helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm ;;
    coredns) build_gotool coredns "$COREDNS_VERSION" github.com/coredns/coredns ;;
    versitygw) build_gotool versitygw "$VERSITYGW_VERSION" github.com/versity/versitygw/cmd/versitygw ;;
    olah) build_olah ;;
    gateway-api) fetch_gateway_api ;;
    smi) fetch_smi ;;
    prometheus) build_prometheus ;;
    kube-router) build_kube_router ;;
    kubernetes) build_kubernetes ;;
    argocd) build_argocd ;;
    keda) build_keda ;;
    metrics-server) build_metrics_server ;;
    traefik) build_traefik ;;
    kueue) build_kueue ;;
    *) die "unknown part $part" ;;
  esac
done
