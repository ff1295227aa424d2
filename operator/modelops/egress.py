"""Which URLs a user's spec may make the operator call: a user who may write an UpdatePolicy
must not turn the operator into a proxy to arbitrary addresses (cloud metadata endpoints
among them). Pure."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def address_allowed(address: str, allow: list[str]) -> bool:
    """Allowed prefixes from settings; without any, only loopback and in-cluster names.

    A user who may write an UpdatePolicy must not make the operator call arbitrary URLs. The
    default accepts `name`, `name.namespace` and `*.svc[.cluster.local]` host names and loopback
    addresses, and refuses every other IP literal (cloud metadata endpoints among them);
    production installs should set the allow-list.
    """
    if allow:
        return any(address.startswith(prefix) for prefix in allow)
    host = (urlsplit(address).hostname or "").rstrip(".")
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    labels = host.split(".")
    return bool(host) and (host == "localhost" or len(labels) <= 2 or "svc" in labels[2:])


def url_allowed(url: str, allow: list[str]) -> bool:
    """Prefixes from settings; without any, any http(s) URL but link-local addresses (cloud
    metadata endpoints)."""
    if allow:
        return any(url.startswith(prefix) for prefix in allow)
    parts = urlsplit(url)
    host = parts.hostname or ""
    return parts.scheme in ("http", "https") and bool(host) and not host.startswith("169.254.") \
        and host not in ("metadata.google.internal", "fd00:ec2::254")
