"""The simulated nodes kwok keeps Ready: CPU nodes and GPU nodes (8 GPUs, tainted, labelled as
the NVIDIA GPU operator labels them), where scale tests and kwok-only tests run."""

from __future__ import annotations

import realnode


def node_list(nodes: int, gpu_nodes: int) -> dict:
    items = []
    for i in range(nodes):
        gpu = i >= nodes - gpu_nodes
        name = f"kwok-gpu-{i - (nodes - gpu_nodes)}" if gpu else f"kwok-cpu-{i}"
        capacity = {"cpu": "64", "memory": "512Gi", "pods": "500"}
        labels = {"type": "kwok", realnode.LABEL: "kwok", "kubernetes.io/hostname": name,
                  "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
        taints = []
        if gpu:
            capacity["nvidia.com/gpu"] = "8"
            labels["nvidia.com/gpu.present"] = "true"
            labels["nvidia.com/gpu.product"] = "NVIDIA-H100-80GB-HBM3"
            taints = [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]
        items.append({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels,
                         "annotations": {"kwok.x-k8s.io/node": "fake",
                                         "node.alpha.kubernetes.io/ttl": "0"}},
            "spec": {"taints": taints},
            "status": {"capacity": capacity, "allocatable": capacity},
        })
    return {"apiVersion": "v1", "kind": "List", "items": items}
