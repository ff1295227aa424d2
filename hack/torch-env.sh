#!/usr/bin/env bash
# A virtualenv with PyTorch for the real rendezvous test, cached outside the repo (~5 GB,
# about a minute from PyPI). PyPI's Linux wheel carries CUDA; on a machine without a GPU it
# runs on CPU, and the test uses gloo.
set -euo pipefail
TORCH_VERSION=${TORCH_VERSION:-2.15.0}
dir=${MODELOPS_TORCH_ENV:-${MODELOPS_CACHE:-$HOME/.cache/modelops}/torch-$TORCH_VERSION}
if [ -x "$dir/bin/torchrun" ]; then exit 0; fi
echo "[setup] installing torch $TORCH_VERSION into $dir (first run only)" >&2
rm -rf "$dir"
python3 -m venv "$dir"
"$dir/bin/pip" install -q --upgrade pip
"$dir/bin/pip" install -q "torch==$TORCH_VERSION" numpy
"$dir/bin/python" -c "import torch.distributed as d; assert d.is_gloo_available()"
