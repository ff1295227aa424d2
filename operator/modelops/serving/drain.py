"""How a serving pod stops without failing a request: its preStop hook and grace period. Pure.

A pod being deleted leaves its Service's endpoints at once, but every node's proxy (or the
gateway) takes a moment to notice: the hook first keeps the server answering for
CATCH_UP_SECONDS. A short request is done by then; an LLM generation may run for minutes, and
vLLM and llama-server drop open generations on SIGTERM. So for a preset that exports a gauge
of requests in flight, the hook then polls the server's own metrics until the gauge reads 0
(or the preset's drain budget passes), and only then does the kubelet send SIGTERM. The poller
is a few lines of Python: every such runtime's image has python3 (vLLM's, Triton's py3,
TorchServe's, ours).
"""

from __future__ import annotations

from typing import Any

from .presets import Preset

CATCH_UP_SECONDS = 5
# SIGTERM to SIGKILL: what the server needs after the hook to close cleanly.
STOP_SECONDS = 15

# argv[1]: metrics URL, argv[2]: gauge name, argv[3]: seconds to wait at most.
POLL = """import sys,time,urllib.request as u
url,name,end=sys.argv[1],sys.argv[2],time.time()+float(sys.argv[3])
while time.time()<end:
    try:text=u.urlopen(url,timeout=2).read().decode()
    except Exception:break
    busy=[l.split()[-1] for l in text.splitlines() if l.split('{')[0].split(' ')[0]==name]
    if sum(map(float,busy))<=0:break
    time.sleep(1)
"""


def pre_stop(eff: Preset) -> dict[str, Any]:
    """The container's preStop handler."""
    if not eff.busy_metric or not eff.drain_seconds:
        return {"sleep": {"seconds": CATCH_UP_SECONDS}}
    url = f"http://127.0.0.1:{eff.metrics_port or eff.port}{eff.metrics_path}"
    return {"exec": {"command": [
        "sh", "-c", f'sleep {CATCH_UP_SECONDS}; exec python3 -c "$0" "$@"',
        POLL, url, eff.busy_metric, str(eff.drain_seconds)]}}


def grace_seconds(eff: Preset) -> int:
    """terminationGracePeriodSeconds: the hook (catch-up and drain) plus a clean stop. Runtimes
    that drain themselves on SIGTERM (Triton's --exit-timeout-secs) need their budget after it."""
    return CATCH_UP_SECONDS + eff.drain_seconds + STOP_SECONDS
