#!/usr/bin/env python3
"""The one bridge between the host's loopback and the real node's network namespace.

The control plane listens on the host's 127.0.0.1; the real node (kubelet, containerd,
kube-proxy, pods) lives in a network namespace of its own, so pod and Service addresses exist
nowhere else. Two ways cross, both through this process, which holds a socket on each side
(a socket keeps the namespace it was made in):
- into the node: an HTTP CONNECT proxy on a Unix socket, which the API server uses as its
  `cluster` egress (kubectl logs/exec/port-forward, the service proxy) and tests use to reach a
  pod or Service address; 127.0.0.0/8 targets stay on the host (kwok's kubelet endpoints);
- the same proxy on a loopback TCP port, also taking plain-HTTP proxy requests
  (`GET http://pod:port/path`), for clients that only know HTTP proxies: Prometheus scrapes
  pods through it (`proxy_url`);
- out of the node: listeners inside the namespace forwarded to servers on the host's
  loopback: the API server (kubelet, kube-proxy, and pods through the `kubernetes` Service)
  and the local S3 server.
Standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import ipaddress
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator
from urllib.parse import urlsplit

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


@contextlib.contextmanager
def netns(fd: int | None) -> Iterator[None]:
    """Sockets made inside the block belong to the namespace `fd` (None: stay where we are)."""
    if fd is None:
        yield
        return
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns into the node's network namespace")
        try:
            yield
        finally:
            if _libc.setns(home, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back to the host's network namespace")
    finally:
        os.close(home)


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def splice(a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                 b: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
    await asyncio.gather(pipe(a[0], b[1]), pipe(b[0], a[1]))


async def dial(host: str, port: int, ns: int | None) -> tuple[asyncio.StreamReader,
                                                             asyncio.StreamWriter]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with netns(ns):
        s = socket.socket(family, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(s, (host, port)), 10)
    except BaseException:
        s.close()
        raise
    return await asyncio.open_connection(sock=s)


def hostport(text: str) -> tuple[str, int]:
    host, port = text.rsplit(":", 1)
    return host, int(port)


class Link:
    def __init__(self, node_ns: int | None) -> None:
        self.node_ns = node_ns

    def _where(self, host: str) -> int | None:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:  # a name: only the node's own name is ever asked for
            loopback = False
        return None if loopback or self.node_ns is None else self.node_ns

    async def connect_proxy(self, reader: asyncio.StreamReader,
                            writer: asyncio.StreamWriter) -> None:
        first = b""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            line, rest = head.split(b"\r\n", 1)
            method, target, version = line.decode().split(" ", 2)
            if method != "CONNECT":
                # A plain-HTTP proxy request: one request to the target, in origin form, on a
                # connection that closes after it (it may not be reused for another target).
                url = urlsplit(target)
                if url.scheme != "http" or not url.hostname:
                    raise ValueError(f"only CONNECT and http:// requests are served: {line!r}")
                target = f"{url.hostname}:{url.port or 80}"
                path = (url.path or "/") + (f"?{url.query}" if url.query else "")
                headers = [h for h in rest.split(b"\r\n") if h and not h.lower().startswith(
                    (b"connection:", b"proxy-connection:", b"keep-alive:"))]
                first = (f"{method} {path} {version}\r\n".encode() + b"\r\n".join(headers)
                         + b"\r\nConnection: close\r\n\r\n")
            host, port = target.rsplit(":", 1)
            upstream = await dial(host.strip("[]"), int(port), self._where(host.strip("[]")))
        except (TimeoutError, ValueError, OSError, asyncio.IncompleteReadError) as e:
            with contextlib.suppress(Exception):
                writer.write(f"HTTP/1.1 502 Bad Gateway\r\n\r\n{e}".encode())
                await writer.drain()
                writer.close()
            return
        if first:
            upstream[1].write(first)
        else:
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
        await splice((reader, writer), upstream)

    def to_host(self, target: tuple[str, int]) -> Callable[..., Awaitable[None]]:
        async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                upstream = await dial(*target, None)
            except (TimeoutError, OSError):
                writer.close()
                return
            await splice((reader, writer), upstream)
        return forward


async def serve(a: argparse.Namespace) -> None:
    node_ns = os.open(a.netns, os.O_RDONLY) if a.netns else None
    link = Link(node_ns)
    servers = []
    if a.egress:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(a.egress)
        old = os.umask(0o077)  # the socket reaches every pod: root only
        try:
            servers.append(await asyncio.start_unix_server(link.connect_proxy, path=a.egress))
        finally:
            os.umask(old)
    if a.http_proxy:
        servers.append(await asyncio.start_server(link.connect_proxy, *hostport(a.http_proxy)))
    for rule in a.forward_in_node:
        if node_ns is None:
            break
        listen, target = rule.split("=", 1)
        with netns(node_ns):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(hostport(listen))
        s.listen(512)
        s.setblocking(False)
        servers.append(await asyncio.start_server(link.to_host(hostport(target)), sock=s))
    print(f"nodelink: egress {a.egress}; into the host {a.forward_in_node}", flush=True)
    await asyncio.gather(*(srv.serve_forever() for srv in servers))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--egress", help="Unix socket of the CONNECT proxy (none: only forward, "
                    "as tests do to show pods a server of theirs)")
    ap.add_argument("--http-proxy", help="HOST:PORT on the host's loopback for the same proxy "
                    "over TCP, with plain-HTTP proxy requests too")
    ap.add_argument("--netns", help="the node's network namespace (a /run/netns path)")
    ap.add_argument("--forward-in-node", action="append", default=[],
                    help="LISTEN=TARGET: HOST:PORT inside the node forwarded to HOST:PORT on "
                    "the host (repeatable)")
    a = ap.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(a))
    return 0


if __name__ == "__main__":
    sys.exit(main())
