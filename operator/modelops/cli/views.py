"""Summaries (see summary.py) -> rich renderables and plain lines. Pure: nothing is printed here.

Tests render these into a recording Console and read the text back.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from ..api.phases import TONES
from .actions import Change
from .compare import show

TONE_STYLES = {"ok": "green", "busy": "cyan", "waiting": "yellow", "bad": "red", "idle": "dim"}
# The phases of both kinds take their colour from their tone (api.phases); the rest are the
# words of analysis, history outcomes and conditions.
PHASE_STYLES = {
    **{phase: TONE_STYLES[tone] for phase, tone in TONES.items()},
    "Successful": "green", "Succeeded": "green", "True": "green", "Running": "cyan",
    "InProgress": "cyan", "Inconclusive": "yellow", "Unknown": "yellow", "Aborted": "red",
    "Error": "red", "False": "red", "Failed": "red",
}


def styled(value: Any) -> Text:
    text = show(value)
    return Text(text, style=PHASE_STYLES.get(text, ""))


def _table(*columns: str) -> Table:
    t = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for c in columns:
        t.add_column(c, overflow="fold")
    return t


def weights(p: dict[str, Any]) -> str:
    if not p.get("canaryVersion"):
        return "-"
    return f"{p['canaryWeight']}% set / {p['actualCanaryWeight']}% actual"


def step_label(p: dict[str, Any]) -> str:
    s = p.get("step")
    if not s:
        return "-"
    return f"{min(s['index'] + 1, s['count'])}/{s['count']}" if s["count"] else "0/0"


def steps_bar(p: dict[str, Any], width: int = 30) -> ProgressBar | None:
    """Progress over the canary's steps: steps done out of all of them."""
    s = p.get("step")
    if not s:
        return None
    return ProgressBar(total=max(s["count"], 1), completed=min(s["index"], s["count"]),
                       width=width)


# -- list ----------------------------------------------------------------------------------
def list_view(summaries: list[dict[str, Any]], all_namespaces: bool) -> RenderableType:
    if not summaries:
        return Text("No models found.")
    cols = ["MODEL", "STABLE", "CANARY", "WEIGHT", "STEP", "PHASE", "VERSIONS"]
    t = _table(*(["NAMESPACE", *cols] if all_namespaces else cols))
    for s in summaries:
        p = s["policy"] or {}
        versions = Text(" ").join(Text(f"{v['version']}:{v['phase'] or '-'}",
                                       style=PHASE_STYLES.get(v["phase"] or "", ""))
                                  for v in s["versions"]) or Text("-")
        w = (f"{p['canaryWeight']}/{p['actualCanaryWeight']}%" if p.get("canaryVersion")
             else "-")
        row: list[RenderableType] = [s["model"], show(p.get("stableVersion")),
                                     show(p.get("canaryVersion")), w, step_label(p),
                                     styled(p.get("phase") if s["policy"] else "no policy"),
                                     versions]
        t.add_row(*([s["namespace"], *row] if all_namespaces else row))
    return t


# -- status --------------------------------------------------------------------------------
def status_view(s: dict[str, Any]) -> RenderableType:
    p = s["policy"]
    root = Tree(Text.assemble(("model ", "bold"), (s["model"], "bold cyan"),
                              f"  namespace {s['namespace']}"))
    if p:
        _policy_nodes(root, p)
    else:
        root.add(Text("no UpdatePolicy: each version serves its own replicas", style="dim"))
    versions = root.add(Text("versions", style="bold"))
    versions.add(_versions_table(s["versions"]))
    if p and p["conditions"]:
        conds = root.add(Text("conditions", style="bold"))
        t = _table("TYPE", "STATUS", "REASON", "MESSAGE", "AGE")
        for c in p["conditions"]:
            t.add_row(c["type"], styled(c["status"]), c.get("reason") or "",
                      c.get("message") or "", c["age"])
        conds.add(t)
    return root


def _policy_nodes(root: Tree, p: dict[str, Any]) -> None:
    head = Text.assemble(("policy ", "bold"), p["name"], "  phase ", styled(p["phase"]))
    if p["paused"]:
        head.append("  (spec.paused)", style="yellow")
    if not p["upToDate"]:
        head.append("  (operator has not seen the latest spec yet)", style="yellow")
    node = root.add(head)
    target = p["targetVersion"] or ("newest Ready (autoUpdate)" if p["autoUpdate"] else "-")
    node.add(f"stable {show(p['stableVersion'])}   canary {show(p['canaryVersion'])}   "
             f"target {target}   replicas {show(p['replicas'])}")
    if p["canaryVersion"]:
        node.add(f"canary weight {weights(p)}")
    if p["message"]:
        node.add(Text(p["message"], style="italic"))
    if p["pauseReason"]:
        node.add(Text(f"paused by the operator: {p['pauseReason']}", style="yellow"))
    out, inc = p.get("outgoing"), p.get("incoming")
    if out:
        node.add(Text(f"{out['version']} drains: it keeps its {out['replicas']} pod(s) and "
                      "their share until the stable is whole" if out.get("serving") else
                      f"{out['version']} stays warm ({out['replicas']} pod(s), no traffic) "
                      f"until {out.get('until') or 'its pods are gone'}", style="dim"))
    if inc:
        node.add(Text(f"rolling back to {inc['version']} once its pods are ready "
                      f"({inc['reason']}, since {inc['since']})", style="yellow"))
    if p["pendingAction"]:
        node.add(Text(f"action {p['pendingAction']!r} waits for the operator", style="yellow"))
    if p["steps"]:
        steps = node.add(_steps_header(p))
        current = (p["step"] or {}).get("index")
        for i, desc in enumerate(p["steps"]):
            if current is None:
                mark, style = " ", "dim"
            elif i < current:
                mark, style = "✓", "green"
            elif i == current:
                mark, style = "▶", "bold cyan"
            else:
                mark, style = " ", ""
            steps.add(Text(f"{mark} {i + 1}. {desc}", style=style))
    if p["analysis"]:
        node.add(_analysis(p["analysis"]))
    if p.get("monitoring"):
        node.add(_monitoring(p["monitoring"]))
    if p.get("notifications"):
        node.add(_notifications(p["notifications"]))
    run = p.get("retraining")
    if run:
        node.add(Text.assemble(("retraining ", "bold"), (run["version"], "bold"), " ",
                               styled(run["outcome"]), f" ({run['reason']}, started "
                               f"{run['startTime']}): {run['message']}"))


def _steps_header(p: dict[str, Any]) -> RenderableType:
    label = Text("steps", style="bold")
    bar = steps_bar(p)
    if bar is None:
        return label
    s = p["step"]
    grid = Table.grid(padding=(0, 1))
    grid.add_row(label, bar, Text(f"{min(s['index'], s['count'])}/{s['count']} done"))
    return grid


def _analysis(a: dict[str, Any]) -> RenderableType:
    counts = (f"  failures {show(a['failures'] or 0)}/{show(a['failureLimit'])}"
              f"  inconclusive {show(a['inconclusive'] or 0)}/{show(a['inconclusiveLimit'])}")
    if a["lastMeasurementTime"]:
        counts += f"  last measured {a['lastMeasurementAge']} ago"
    head = Text.assemble(("analysis ", "bold"), styled(a["phase"] or "not started"), counts)
    if not a["metrics"]:
        return head
    return Group(head, _metrics_table(a["metrics"]))


def _metrics_table(metrics: list[dict[str, Any]]) -> Table:
    t = _table("METRIC", "VALUE", "THRESHOLD", "RESULT", "NOTE")
    for m in metrics:
        bounds = " and ".join(x for x in (f">= {m['min']:g}" if "min" in m else "",
                                          f"<= {m['max']:g}" if "max" in m else "") if x)
        t.add_row(m.get("name", "?"), show(m.get("value")), bounds or "-",
                  styled(m.get("phase")), m.get("message") or "")
    return t


def _monitoring(mo: dict[str, Any]) -> RenderableType:
    counts = (f"  failures in a row {mo['consecutiveFailures']}/{show(mo['failureThreshold'])}"
              f"  every {show(mo['interval'])}  on regression {show(mo['action'])}")
    if mo["lastMeasurementAge"]:
        counts += f"  last measured {mo['lastMeasurementAge']} ago"
    head = Text.assemble(("monitoring ", "bold"), styled(mo["phase"] or "not started"),
                         f" {show(mo['version'])}" if mo["version"] else "", counts)
    # Newest last, as a trend reads: one mark per measurement.
    marks = {"Successful": ("✓", "green"), "Failed": ("✗", "red"),
             "Inconclusive": ("?", "yellow")}
    trend = Text("trend ")
    for phase in reversed(mo["trend"]):
        mark, style = marks.get(phase, ("·", "dim"))
        trend.append(mark, style=style)
    parts: list[RenderableType] = [head]
    if mo["trend"]:
        parts.append(trend)
    if mo["metrics"]:
        if mo.get("measuredVersion") and mo["measuredVersion"] != mo["version"]:
            parts.append(Text(f"last measured: {mo['measuredVersion']}, before it stopped "
                              "serving", style="dim"))
        parts.append(_metrics_table(mo["metrics"]))
    r = mo["lastRegression"]
    if r:
        done = f"rolled back to {r['to']}" if r.get("to") else "notified"
        parts.append(Text(f"last regression: {r['version']} at {r['time']}, {done}: "
                          f"{r['message']}", style="red"))
    return Group(*parts)


def _notifications(n: dict[str, Any]) -> Text:
    text = Text.assemble(("notifications ", "bold"), f"{n['sent']} sent")
    if n["dropped"]:
        text.append(f", {n['dropped']} dropped", style="red")
    oldest = n["oldest"]
    if oldest:
        why = f": {oldest['lastError']}" if oldest.get("lastError") else ""
        text.append(f", {n['pending']} pending (oldest: {oldest['reason']} to "
                    f"{oldest['receiver']}, {oldest.get('attempts', 0)} failed "
                    f"attempt(s){why})", style="yellow" if oldest.get("attempts") else "")
    return text


def _versions_table(versions: list[dict[str, Any]]) -> RenderableType:
    if not versions:
        return Text("none", style="dim")
    t = _table("VERSION", "NAME", "PHASE", "ROLE", "READY", "EVALUATION", "AGE", "NOTE")
    for v in versions:
        ready = (f"{show(v['readyReplicas'] or 0)}/{show(v['replicas'])}"
                 if v["replicas"] is not None else "-")
        latest = v.get("latestMetrics")
        metrics = ", ".join(f"{k}={show(x)}" for k, x in sorted((latest or v["metrics"]).items()))
        if v["evaluationPassed"] is False:
            metrics += " (gates failed)"
        if v.get("evaluationRuns"):  # scheduled runs while serving, newest last
            metrics += " runs " + "".join("✓" if ok else "✗" for ok in v["evaluationRuns"])
        t.add_row(show(v["version"]), v["name"], styled(v["phase"]), v["role"], ready,
                  metrics or "-", v["age"], v["problem"] or "")
    return t


def watch_line(s: dict[str, Any]) -> str:
    """One line per change when --watch does not write to a terminal (logs, CI)."""
    p = s["policy"] or {}
    parts = [f"{s['namespace']}/{s['model']}", f"phase={show(p.get('phase'))}",
             f"stable={show(p.get('stableVersion'))}", f"canary={show(p.get('canaryVersion'))}"]
    if p.get("canaryVersion"):
        parts += [f"step={step_label(p)}",
                  f"weight={p['canaryWeight']}/{p['actualCanaryWeight']}"]
    return " ".join(parts) + (f"  {p['message']}" if p.get("message") else "")


# -- history -------------------------------------------------------------------------------
def history_view(rows: list[dict[str, Any]]) -> RenderableType:
    if not rows:
        return Text("No rollouts yet.")
    t = _table("REVISION", "VERSION", "FROM", "OUTCOME", "REASON", "STARTED", "DURATION",
               "MESSAGE")
    for r in rows:
        t.add_row(show(r["revision"]), show(r["version"]), show(r["fromVersion"]),
                  styled(r["outcome"]), show(r["reason"]), show(r["startTime"]),
                  r["duration"], r["message"] or "")
    return t


# -- compare -------------------------------------------------------------------------------
def compare_view(v1: str, v2: str, rows: list[dict[str, Any]]) -> RenderableType:
    t = _table("", "FIELD", v1, v2, "Δ")
    section = None
    for r in rows:
        if r["section"] != section:
            section = r["section"]
            t.add_row("", Text(section, style="bold underline"), "", "", "")
        style = "yellow" if r["differs"] else "dim"
        t.add_row(Text("≠" if r["differs"] else "", style="bold yellow"),
                  Text(r["field"], style=style), show(r["a"]), show(r["b"]), r["delta"] or "")
    differ = sum(r["differs"] for r in rows)
    return Group(t, Text(f"\n{differ} of {len(rows)} field(s) differ (marked ≠)"))


# -- changes -------------------------------------------------------------------------------
def change_lines(namespace: str, name: str, change: Change) -> list[str]:
    if not change.patch:
        return [f"updatepolicy/{name} unchanged: {change.note}"]
    out = [f"updatepolicy/{name} patched (namespace {namespace}):"]
    out += [f"  {f}: {show(a)} -> {show(b)}" for f, a, b in change.changes]
    if change.note:
        out.append(change.note)
    return out
