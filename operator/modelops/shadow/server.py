"""The comparer, `python -m modelops.shadow.server`: where the gateway mirrors requests during a
setMirror step.

Each mirrored request is sent to the stable's and the canary's own Services at once (as
Diffy does: the gateway drops a mirror's answer, so the stable's answer for the same input is
asked again here), and their answers are compared (shadow.compare). Clients never wait for
any of it. What it sees is on :9090/metrics for analysis (`template: agreement`):
- modelops_shadow_requests_total: mirrored requests received;
- modelops_shadow_compared_total: those the stable answered (2xx), so there is a reference;
- modelops_shadow_agreed_total: those the canary answered alike;
- modelops_shadow_errors_total{side}: no 2xx answer from stable or canary;
- modelops_shadow_latency_seconds{side}: each side's answer time (histogram);
- modelops_shadow_latency_difference_seconds: canary minus stable, per compared request;
- modelops_shadow_overlap: the answers' word overlap (Jaccard), per compared request.
The pod's scrape labels (namespace, model, version: the canary's) tell policies apart.
Settings from MODELOPS_SHADOW_* (shadow.children writes them).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    Summary,
    generate_latest,
)

from .compare import agree, overlap, prediction

logger = logging.getLogger("modelops.shadow")
# Not forwarded: hop-by-hop headers, and what the client library sets for itself.
SKIP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                  "trailer", "trailers", "transfer-encoding", "upgrade", "host",
                  "content-length", "accept-encoding"})
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


@dataclass(frozen=True)
class Config:
    stable: str  # base URLs of the versions' own Services
    canary: str
    runtime: str = "custom"
    answer: str | None = None
    token_overlap: float | None = None
    timeout: float = 10.0
    port: int = 8080
    metrics_port: int = 9090

    @classmethod
    def from_env(cls) -> Config:
        e = os.environ.get
        overlap_ = e("MODELOPS_SHADOW_TOKEN_OVERLAP")
        return cls(stable=os.environ["MODELOPS_SHADOW_STABLE"],
                   canary=os.environ["MODELOPS_SHADOW_CANARY"],
                   runtime=e("MODELOPS_SHADOW_RUNTIME") or "custom",
                   answer=e("MODELOPS_SHADOW_ANSWER") or None,
                   token_overlap=float(overlap_) if overlap_ else None,
                   timeout=float(e("MODELOPS_SHADOW_TIMEOUT") or 10),
                   port=int(e("MODELOPS_SHADOW_PORT") or 8080),
                   metrics_port=int(e("MODELOPS_SHADOW_METRICS_PORT") or 9090))


@dataclass(frozen=True)
class Answer:
    ok: bool
    body: bytes
    seconds: float


class Comparer:
    def __init__(self, config: Config, registry: CollectorRegistry | None = None) -> None:
        self.config = config
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter("modelops_shadow_requests", "Mirrored requests received.",
                                registry=r)
        self.compared = Counter("modelops_shadow_compared", "Mirrored requests the stable "
                                "answered, so the canary's answer could be compared.", registry=r)
        self.agreed = Counter("modelops_shadow_agreed", "Compared requests the canary answered "
                              "alike.", registry=r)
        self.errors = Counter("modelops_shadow_errors", "Mirrored requests a side answered "
                              "with no 2xx.", ["side"], registry=r)
        self.latency = Histogram("modelops_shadow_latency_seconds", "Answer time per side.",
                                 ["side"], buckets=BUCKETS, registry=r)
        self.difference = Summary("modelops_shadow_latency_difference_seconds", "The canary's "
                                  "answer time minus the stable's, per compared request.",
                                  registry=r)
        self.overlap = Summary("modelops_shadow_overlap", "Word overlap (Jaccard) of the two "
                               "answers, per compared request.", registry=r)
        for side in ("stable", "canary"):  # every series from the start: rates read 0, not none
            self.errors.labels(side)
            self.latency.labels(side)
        self.session: ClientSession | None = None

    async def start(self) -> None:
        self.session = ClientSession(timeout=ClientTimeout(total=self.config.timeout),
                                     connector=TCPConnector(limit=256), auto_decompress=True)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def ask(self, base: str, side: str, request: web.Request, body: bytes) -> Answer:
        assert self.session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in SKIP}
        headers["X-Modelops-Shadow"] = side
        t0 = time.monotonic()
        try:
            async with self.session.request(request.method, base + request.path_qs,
                                            data=body, headers=headers) as r:
                out = await r.read()
                ok = 200 <= r.status < 300
        except Exception as e:
            out, ok = f"{type(e).__name__}: {e}".encode(), False
        seconds = time.monotonic() - t0
        self.latency.labels(side).observe(seconds)
        if not ok:
            self.errors.labels(side).inc()
        return Answer(ok, out, seconds)

    def judge(self, stable: Answer, canary: Answer) -> bool | None:
        """Record one comparison; whether they agreed (None: no reference to compare with)."""
        if not stable.ok:
            return None
        self.compared.inc()
        c = self.config
        a = prediction(stable.body, c.runtime, c.answer)
        b = prediction(canary.body, c.runtime, c.answer) if canary.ok else None
        same = canary.ok and agree(a, b, c.token_overlap)
        if same:
            self.agreed.inc()
        if canary.ok:
            self.difference.observe(canary.seconds - stable.seconds)
            self.overlap.observe(overlap(a, b))
        return same

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.inc()
        body = await request.read()
        stable, canary = await asyncio.gather(
            self.ask(self.config.stable, "stable", request, body),
            self.ask(self.config.canary, "canary", request, body))
        self.judge(stable, canary)
        return web.Response(status=204)

    async def metrics(self, _: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})


async def serve(config: Config) -> None:
    comparer = Comparer(config)
    await comparer.start()
    mirror = web.Application(client_max_size=64 * 1024 * 1024)
    mirror.router.add_route("*", "/{tail:.*}", comparer.handle)
    admin = web.Application()
    admin.router.add_get("/metrics", comparer.metrics)
    admin.router.add_get("/healthz", lambda _: _ok())
    runners = [web.AppRunner(mirror, access_log=None), web.AppRunner(admin, access_log=None)]
    for runner, port in zip(runners, (config.port, config.metrics_port), strict=True):
        await runner.setup()
        await web.TCPSite(runner, "0.0.0.0", port).start()
    logger.info("comparing %s with %s on :%d (metrics :%d)", config.canary, config.stable,
                config.port, config.metrics_port)
    try:
        await asyncio.Event().wait()
    finally:
        for runner in runners:
            await runner.cleanup()
        await comparer.close()


async def _ok() -> web.Response:
    return web.Response(text="ok")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(serve(Config.from_env()))


if __name__ == "__main__":
    main()
