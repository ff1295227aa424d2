"""A real webhook receiver on loopback: records every JSON message POSTed to it, in arrival
order. It can be down (its port closed), answer 500, or take a message and answer late."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    def __init__(self, port: int | None = None, name: str = "team") -> None:
        self.name = name  # the receiver Secret's name, as policies subscribe to it
        self.port = port or free_port()
        self.messages: list[dict[str, Any]] = []
        self.mode = "ok"  # ok | fail | slow (takes it, answers after `delay`)
        self.delay = 5.0
        self.release = threading.Event()  # set at stop: late answers go at once
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                code = 500 if receiver.mode == "fail" else 200
                if code == 200:
                    receiver.messages.append({**json.loads(body), "_received": time.time()})
                if receiver.mode == "slow":
                    receiver.release.wait(receiver.delay)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def reasons(self) -> list[str]:
        return [m["reason"] for m in self.messages]
