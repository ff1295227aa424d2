#!/usr/bin/env bash
# Renders dist/install.yaml (namespace, CRDs, operator) from the chart: one source for both.
# --check compares instead of writing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/hack/cluster/versions.env"
helm=${HELM:-${MODELOPS_CACHE:-$HOME/.cache/modelops}/helm-$HELM_VERSION/bin/helm}
[ -x "$helm" ] || bash "$root/hack/cluster/build.sh" helm
out=$(mktemp)
{
  echo "# modelops: kubectl apply --server-side -f install.yaml"
  echo "# Rendered from charts/modelops by tools/render_install.sh; do not edit."
  echo "apiVersion: v1"
  echo "kind: Namespace"
  echo "metadata:"
  echo "  name: modelops-system"
  echo "  labels: {pod-security.kubernetes.io/enforce: restricted}"
  "$helm" template modelops "$root/charts/modelops" --namespace modelops-system \
    --include-crds --skip-tests --kube-version "${K8S_VERSION#v}" | grep -v '^# Source:'
} > "$out"
if [ "${1:-}" = "--check" ]; then
  diff -q "$out" "$root/dist/install.yaml" >/dev/null || {
    echo "dist/install.yaml is stale: run tools/render_install.sh" >&2; rm -f "$out"; exit 1; }
  rm -f "$out"
else
  mv "$out" "$root/dist/install.yaml"
fi
