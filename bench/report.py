"""Numbers into summaries, a markdown table, and docs/benchmarks.md."""

from __future__ import annotations

from typing import Any

from harness import ROOT, summary

DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def summarize_size(n: int, runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    op, base = runs["operator"], runs["baseline"]
    ratio = [o["total_s"] / b["total_s"] for o, b in zip(op, base, strict=True)]
    out: dict[str, Any] = {
        "n": n, "runs": runs,
        "operator_total_s": summary([r["total_s"] for r in op]),
        "baseline_total_s": summary([r["total_s"] for r in base]),
        "ratio": summary(ratio),
        "p50_s": summary([r["p50_s"] for r in op]), "p99_s": summary([r["p99_s"] for r in op]),
        "baseline_p50_s": summary([r["p50_s"] for r in base]),
        "cpu_s": summary([r["cpu_s"] for r in op]),
        "peak_rss_mib": summary([r["peak_rss_mib"] for r in op]),
        "reads_per_mv": summary([r["reads_per_mv"] for r in op]),
        "writes_per_mv": summary([r["writes_per_mv"] for r in op]),
        "startup_first_s": summary([r["startup"]["first_s"] or 0 for r in op]),
        "startup_all_s": summary([r["startup"]["all_s"] or 0 for r in op]),
        "startup_writes": summary([r["startup"]["writes"] for r in op]),
        "startup_peak_rss_mib": summary([r["startup"].get("peak_rss_mib") or 0 for r in op]),
    }
    if all("control_plane_cpu_s" in r for r in op + base):
        out["control_plane"] = {
            side: {proc: summary([r["control_plane_cpu_s"].get(proc, 0.0) for r in rs])
                   for proc in sorted({k for r in rs for k in r["control_plane_cpu_s"]})}
            for side, rs in (("operator", op), ("baseline", base))}
    idle = [r["idle"] for r in op if "idle" in r]
    if idle:
        out["idle"] = idle[0]
    return out


def _stamp(m: dict[str, Any] | None) -> str:
    if not m:
        return "before results were stamped"
    return f"{m['commit']}{'+' if m.get('dirty') else ''}, {m['date'][:10]}"


def fmt(s: dict[str, float], unit: str = "", digits: int = 1) -> str:
    if s["n"] == 1:
        return f"{s['median']:.{digits}f}{unit}"
    return f"{s['median']:.{digits}f}{unit} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


def markdown(r: dict[str, Any]) -> str:
    lines = [f"Machine: {r['machine']['cpus']} CPUs, Python {r['machine']['python']}; "
             f"{r['date']}"
             + (f"; suite wall time {r['wall_s'] / 60:.1f} min" if r.get("wall_s") else "")
             + ". Each file's commit and date are in bench/results/*.json. "
             "Median (min-max) over the runs.", ""]
    if r.get("scale"):
        lines += ["| N | runs | operator to all Ready | baseline | ratio | p50 / p99 create→Ready "
                  "| CPU s | peak RSS | API reads / writes per MV | restart: first / all "
                  "reconciled, peak RSS, writes | measured |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for n, s in sorted(r["scale"].items(), key=lambda kv: int(kv[0])):
            lines.append(
                f"| {n} | {s['ratio']['n']} | {fmt(s['operator_total_s'], ' s')} "
                f"| {fmt(s['baseline_total_s'], ' s')} | {fmt(s['ratio'], 'x', 2)} "
                f"| {s['p50_s']['median']:.1f} / {s['p99_s']['median']:.1f} s "
                f"| {fmt(s['cpu_s'])} | {fmt(s['peak_rss_mib'], ' MiB', 0)} "
                f"| {s['reads_per_mv']['median']:.2f} / {s['writes_per_mv']['median']:.2f} "
                f"| {s['startup_first_s']['median']:.1f} / {s['startup_all_s']['median']:.1f} s, "
                f"{s['startup_peak_rss_mib']['median']:.0f} MiB, "
                f"{s['startup_writes']['median']:.0f} | {_stamp(s.get('measured'))} |")
        lines.append("")
        for n, s in sorted(r["scale"].items(), key=lambda kv: int(kv[0])):
            if "idle" in s:
                i = s["idle"]
                lines.append(f"Idle with N={n} converged ({i['window_s']:.0f} s window): "
                             f"{i['requests_per_min']:.1f} requests/min, "
                             f"{i['writes_per_min']:.1f} writes/min, "
                             f"CPU {i['cpu_percent']:.1f}%, RSS {i['rss_mib']:.0f} MiB.")
        for n, s in sorted(r["scale"].items(), key=lambda kv: int(kv[0])):
            if "control_plane" in s:
                cp = s["control_plane"]
                total = {side: sum(v["median"] for v in cp[side].values()) for side in cp}
                parts = ", ".join(f"{k} {cp['operator'][k]['median']:.1f} / "
                                  f"{cp['baseline'].get(k, {'median': 0})['median']:.1f}"
                                  for k in cp["operator"])
                lines.append(f"Control-plane CPU s during the N={n} burst, operator run / "
                             f"baseline: {total['operator']:.1f} / {total['baseline']:.1f} "
                             f"({parts}).")
        lines.append("")
    if r.get("rollout"):
        ro = r["rollout"]
        per_step = summary([x["overhead_per_step_s"] for x in ro["steps"]])
        weights = summary([w for x in ro["steps"] for w in x["set_weight_s"]])
        status = summary([x["status_s"] for x in ro["rollback"]])
        traffic = summary([x["traffic_s"] for x in ro["rollback"]])
        lines += [
            "| rollout figure | median (min-max) |", "|---|---|",
            f"| overhead per step beyond configured pauses | {fmt(per_step, ' s', 2)} |",
            f"| a 6-step canary (3 x {ro['pause_s']:g} s pauses), target change → Promoted "
            f"| {fmt(summary([x['total_s'] for x in ro['steps']]), ' s', 2)} |",
            f"| a setWeight step (replicas scaled and Ready) | {fmt(weights, ' s', 2)} |",
            f"| rollback: regression visible in Prometheus → status RolledBack "
            f"(interval {ro['interval_s']:g} s) | {fmt(status, ' s', 2)} |",
            f"| rollback: regression visible → canary at 0 replicas | {fmt(traffic, ' s', 2)} |",
            ""]
    return "\n".join(lines)


def update_docs(table: str, start: str = START, end: str = END) -> None:
    text = DOC.read_text() if DOC.exists() else f"# Benchmarks\n\n{start}\n{end}\n"
    if start not in text:
        text += f"\n{start}\n{end}\n"
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    DOC.write_text(f"{head}{start}\n{table}\n{end}{tail}")
