"""The local cluster's certificates and kubeconfigs, made with openssl (standard library only)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_certs(pki: Path) -> None:
    """A CA, the API server's serving cert, one client cert per component, the SA key pair."""
    pki.mkdir(parents=True, exist_ok=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
            "-keyout", str(pki / "ca.key"), "-out", str(pki / "ca.crt"),
            "-subj", "/CN=modelops-local-ca")
    clients = {
        "apiserver": ("/CN=kube-apiserver", "serverAuth"),
        "admin": ("/O=system:masters/CN=modelops-admin", "clientAuth"),
        "controller-manager": ("/CN=system:kube-controller-manager", "clientAuth"),
        "scheduler": ("/CN=system:kube-scheduler", "clientAuth"),
        # kwok plays every kubelet, so it writes all nodes' and pods' status.
        "kwok": ("/O=system:masters/CN=kwok", "clientAuth"),
        # The real node's kubelet and kube-proxy, and the API server calling that kubelet.
        "node": ("/O=system:nodes/CN=system:node:real-node", "clientAuth"),
        "kube-proxy": ("/CN=system:kube-proxy", "clientAuth"),
        "kubelet-client": ("/O=system:masters/CN=kube-apiserver-kubelet-client", "clientAuth"),
        # The aggregation layer: the API server calling an extension API server (KEDA's
        # external metrics, metrics-server) on a user's behalf; only this name may.
        "front-proxy-client": ("/CN=front-proxy-client", "clientAuth"),
    }
    for name, (subj, usage) in clients.items():
        ext = pki / f"{name}.ext"
        lines = [f"extendedKeyUsage={usage}", "keyUsage=critical,digitalSignature,keyEncipherment"]
        if name == "apiserver":
            lines.append("subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,"
                         "DNS:kubernetes.default,DNS:kubernetes.default.svc")
        ext.write_text("\n".join(lines) + "\n")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(pki / f"{name}.key"),
                "-out", str(pki / f"{name}.csr"), "-subj", subj)
        openssl("x509", "-req", "-in", str(pki / f"{name}.csr"), "-CA", str(pki / "ca.crt"),
                "-CAkey", str(pki / "ca.key"), "-CAcreateserial", "-days", "3650",
                "-out", str(pki / f"{name}.crt"), "-extfile", str(ext))
    openssl("genrsa", "-out", str(pki / "sa.key"), "2048")
    openssl("rsa", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))


def aggregation_flags(pki: Path) -> list[str]:
    """The API server's aggregation layer (the external and resource metrics APIs that
    autoscaling reads): it calls extension API servers as front-proxy-client, passing the
    caller in headers they trust from that name only."""
    return [f"--requestheader-client-ca-file={pki / 'ca.crt'}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={pki / 'front-proxy-client.crt'}",
            f"--proxy-client-key-file={pki / 'front-proxy-client.key'}"]


def kubeconfig(path: Path, server: str, pki: Path, user: str) -> None:
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "modelops-local",
                      "cluster": {"server": server, "certificate-authority": str(pki / "ca.crt")}}],
        "users": [{"name": user, "user": {"client-certificate": str(pki / f"{user}.crt"),
                                          "client-key": str(pki / f"{user}.key")}}],
        "contexts": [{"name": "modelops-local",
                      "context": {"cluster": "modelops-local", "user": user}}],
        "current-context": "modelops-local",
    }
    path.write_text(json.dumps(cfg, indent=2))  # JSON is YAML, and needs no PyYAML here
