"""A stand-in model server's metrics: request counters whose error rate a test sets.

Each emitter serves /metrics on loopback like a serving pod would; Prometheus scrapes it with
model, version and namespace labels. Counters grow with wall time at `rps`, so PromQL's rate()
sees real traffic.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Emitter:
    def __init__(self, rps: float = 50.0, error_rate: float = 0.0, latency: float = 0.05) -> None:
        self.rps, self.error_rate, self.latency = rps, error_rate, latency
        self._ok = self._err = 0.0
        self._last = time.monotonic()
        self._lock = threading.Lock()
        emitter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = emitter.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def set(self, error_rate: float | None = None, latency: float | None = None) -> None:
        with self._lock:
            self._advance()
            if error_rate is not None:
                self.error_rate = error_rate
            if latency is not None:
                self.latency = latency

    def _advance(self) -> None:
        now = time.monotonic()
        n = self.rps * (now - self._last)
        self._err += n * self.error_rate
        self._ok += n * (1 - self.error_rate)
        self._last = now

    def render(self) -> str:
        with self._lock:
            self._advance()
            return (
                "# TYPE http_requests_total counter\n"
                f'http_requests_total{{code="200"}} {self._ok:.3f}\n'
                f'http_requests_total{{code="500"}} {self._err:.3f}\n'
                "# TYPE http_request_latency_seconds gauge\n"
                f"http_request_latency_seconds {self.latency}\n")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
