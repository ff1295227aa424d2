"""A load generator that speaks OpenAI's completion API, on the real node: streamed
`/v1/completions` at a steady rate to a Service, each answer recorded from the client's side —
time to first token (the first streamed chunk that carries text), the whole answer's time, and
the tokens streamed (one chunk each: llama-server and vLLM stream token by token).

It is a pod (the llama-server image, for its Python) running the script below; requests are
sent open-loop (a thread each), so a slow server queues them as a real client's would. The
records are its log lines, read through the API server.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from typing import Any

from .kube import Kube
from .loadgen import log_records
from .node import helper_pod
from .waiting import wait_for

IMAGE = "localhost/modelops/llama-server:dev"

SCRIPT = r"""
import json, sys, threading, time, urllib.request
url, rate, prompt, n = sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
lock = threading.Lock()
def record(r):  # one write per line: print() from threads may interleave two lines
    with lock:
        sys.stdout.write(json.dumps(r) + "\n")
        sys.stdout.flush()
body = json.dumps({"prompt": prompt, "max_tokens": n, "temperature": 0, "stream": True,
                   "cache_prompt": False}).encode()
def one(t):
    first, tokens, code, err = None, 0, 0, None
    try:
        req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            code = r.status
            for line in r:
                if not line.startswith(b"data: ") or line.strip() == b"data: [DONE]":
                    continue
                if json.loads(line[6:])["choices"][0].get("text"):
                    tokens += 1
                    first = first or time.time()
    except urllib.error.HTTPError as e:
        code, err = e.code, e.read()[:160].decode(errors="replace")
    except Exception as e:
        err = f"{type(e).__name__}: {e}"[:160]
    done = time.time()
    record({"t": t, "ttft_ms": round(1000 * (first - t), 1) if first else None,
            "ms": round(1000 * (done - t), 1), "tokens": tokens, "code": code, "err": err})
gap, start = 1.0 / rate, time.time()
record({"start": start})
k = 0
while True:
    time.sleep(max(0.0, start + k * gap - time.time()))
    k += 1
    threading.Thread(target=one, args=(time.time(),), daemon=True).start()
"""


@dataclass(frozen=True)
class Completion:
    t: float  # when it was sent
    ttft_ms: float | None  # None: no token came
    ms: float
    tokens: int
    code: int  # 0: no HTTP answer
    error: str | None

    @property
    def tokens_per_second(self) -> float | None:
        """Output speed once the first token came (the decode rate a user sees)."""
        if self.ttft_ms is None or self.tokens < 2 or self.ms <= self.ttft_ms:
            return None
        return 1000 * (self.tokens - 1) / (self.ms - self.ttft_ms)


class LLMLoad:
    def __init__(self, kube: Kube, namespace: str, service: str, port: int, rate: float = 1.0,
                 max_tokens: int = 16, prompt: str = "Once upon a midnight dreary,",
                 name: str = "llmload") -> None:
        self.kube, self.ns, self.name = kube, namespace, name
        url = f"http://{service}.{namespace}.svc.cluster.local:{port}/v1/completions"
        kube.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": helper_pod({
                "restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "load", "image": IMAGE, "imagePullPolicy": "IfNotPresent",
                                "command": ["python3", "-u", "-c", SCRIPT, url, str(rate),
                                            prompt, str(max_tokens)],
                                "resources": {"requests": {"cpu": "50m", "memory": "64Mi"},
                                              "limits": {"memory": "256Mi"}}}]})}))
        wait_for(lambda: any("start" in line for line in self._lines()), timeout=90,
                 what=f"LLM load generator {name} sending")

    def _lines(self) -> list[str]:
        return log_records(self.kube, self.ns, self.name)

    def answers(self, since: float = 0.0, until: float | None = None) -> list[Completion]:
        out = []
        for line in self._lines():
            r: dict[str, Any] = json.loads(line)
            if "t" in r and r["t"] >= since and (until is None or r["t"] < until):
                out.append(Completion(r["t"], r["ttft_ms"], r["ms"], r["tokens"], r["code"],
                                      r["err"]))
        return out

    def stop(self) -> None:
        self.kube.kubectl("delete", "pod", self.name, "-n", self.ns, "--wait=false",
                          check=False)


def summary(answers: list[Completion]) -> dict[str, Any]:
    """Client-side figures of a run: count, failures, median and p90 TTFT, median tokens/s."""
    ok = [a for a in answers if a.code == 200 and a.ttft_ms is not None]
    ttft = sorted(a.ttft_ms for a in ok if a.ttft_ms is not None)
    speed = [s for a in ok if (s := a.tokens_per_second) is not None]
    return {"requests": len(answers), "failed": len(answers) - len(ok),
            "ttft_p50_ms": statistics.median(ttft) if ttft else None,
            "ttft_p90_ms": ttft[int(0.9 * (len(ttft) - 1))] if ttft else None,
            "tokens_per_s_p50": round(statistics.median(speed), 1) if speed else None}
