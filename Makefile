# The project's command surface (see docs/ and README.md). Every target sets up what it needs.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export KUBECONFIG ?= $(CURDIR)/.localcluster/kubeconfig
export PYTHONPATH := $(CURDIR)/operator


.PHONY: torch-env help venv binaries images autoscalers-up autoscalers-down kueue-up kueue-down argocd-binaries cluster-up cluster-down cluster-status argocd-up argocd-down crds check-crds lint test \
        test-unit test-integration run demo bench bench-compare chaos clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

venv: $(STAMP)  ## the virtualenv with the package and test tools

binaries:  ## build etcd, kube-*, kubelet, kubectl, kwok, helm, CoreDNS, kube-router, Traefik and Kueue once (cached in ~/.cache/modelops)
	bash hack/cluster/build.sh etcd kwok kubernetes helm gateway-api smi coredns versitygw olah prometheus kube-router traefik kueue

images: binaries  ## the real node's images (buildah, no Docker), rebuilt when their sources change
	bash hack/install-debs.sh
	bash hack/images/build.sh

autoscalers-up: cluster-up  ## KEDA and metrics-server on the real node (docs/autoscaling.md)
	$(PY) hack/cluster/autoscalers.py up

kueue-up: cluster-up  ## Kueue on the real node, with the cluster's queues (docs/training.md)
	$(PY) hack/cluster/kueue.py up

kueue-down:
	$(PY) hack/cluster/kueue.py down

autoscalers-down:
	$(PY) hack/cluster/autoscalers.py down

argocd-binaries:  ## build Argo CD's controller and repo server once (the GitOps tests)
	bash hack/cluster/build.sh argocd

cluster-up: binaries images  ## start the local cluster (a real node beside kwok's); kubeconfig at .localcluster/kubeconfig
	$(PY) hack/cluster/localcluster.py up

cluster-down:  ## stop the local cluster
	$(PY) hack/cluster/localcluster.py down

cluster-status:
	$(PY) hack/cluster/localcluster.py status

argocd-up: cluster-up argocd-binaries  ## a real Argo CD (controller, repo server, redis, git daemon) beside the local cluster
	bash hack/install-debs.sh
	$(PY) hack/cluster/argocd.py up

argocd-down:  ## stop it (make cluster-down does too)
	$(PY) hack/cluster/argocd.py down

crds: $(STAMP)  ## regenerate crds/ (and the chart's copy) from the pydantic models
	$(BIN)/python tools/gen_crds.py

check-crds: $(STAMP)
	$(BIN)/python tools/gen_crds.py --check

lint: $(STAMP)  ## ruff and mypy
	$(BIN)/ruff check operator tests tools hack bench images
	$(BIN)/mypy

torch-env:  ## PyTorch for the real rendezvous test (cached in ~/.cache/modelops)
	bash hack/torch-env.sh

test: $(STAMP) binaries images argocd-binaries torch-env  ## everything from a fresh machine, then the whole suite
	bash hack/install-debs.sh
	$(MAKE) --no-print-directory lint check-crds
	$(BIN)/pytest tests --ignore=tests/chaos --durations=30

chaos: $(STAMP) binaries images  ## SIGKILL the operator mid-rollout/training (MODELOPS_CHAOS_TRIALS=30); faults on real pods under load
	bash hack/install-debs.sh
	$(BIN)/pytest tests/chaos -v --durations=10

test-unit: $(STAMP)
	$(BIN)/pytest tests/unit

test-integration: $(STAMP) binaries images argocd-binaries
	bash hack/install-debs.sh
	$(BIN)/pytest tests/integration

run: $(STAMP)  ## the operator against $$KUBECONFIG (default: the local cluster)
	@[ -f "$$KUBECONFIG" ] || $(MAKE) --no-print-directory cluster-up
	hack/cluster/kubectl apply --server-side -f crds/
	$(BIN)/kopf run -m modelops.handlers --all-namespaces --standalone --liveness=http://127.0.0.1:8081/healthz

demo: $(STAMP) cluster-up  ## a guided walkthrough on the local cluster (serving, training, canary, rollback, a regression in production caught and notified, an LLM trained, evaluated, served and rolled out as a canary judged on its tokens per second, and the closed loop: drift caught by an evaluation on fresh data, retrained, gated, rolled out)
	bash hack/install-debs.sh
	$(BIN)/python hack/demo.py

bench: $(STAMP) cluster-up  ## the benchmarks; results in bench/results/ (BENCH_ARGS="--big" adds N=5000)
	bash hack/install-debs.sh
	$(BIN)/python bench/builds.py
	$(BIN)/python bench/run.py $(BENCH_ARGS)
	$(BIN)/python bench/ha.py
	$(BIN)/python bench/realnode.py
	$(BIN)/python bench/traffic.py
	$(BIN)/python bench/llm.py
	$(BIN)/python bench/autoscaling.py
	$(BIN)/python bench/gateway.py
	$(BIN)/python bench/loop.py
	if [ -n "$(AGAINST)" ]; then $(BIN)/python bench/compare.py $(AGAINST); fi
	$(BIN)/python bench/figures.py

bench-compare: $(STAMP) cluster-up  ## this tree against another commit, side by side (AGAINST=REF)
	bash hack/install-debs.sh
	$(BIN)/python bench/compare.py $(or $(AGAINST),HEAD~1) $(COMPARE_ARGS)

clean: cluster-down
	rm -rf $(VENV) .localcluster
