"""docs/reliability.md's table of faults on real pods, from bench/results/faults.json (which
`make chaos` writes: tests/chaos/test_real_faults.py). Run after a chaos run."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "faults.json"
DOC = ROOT / "docs" / "reliability.md"
START, END = "<!-- faults:start -->", "<!-- faults:end -->"
ORDER = ["delete a serving pod", "crash a serving pod", "restart containerd",
         "restart the kubelet", "SIGKILL the operator pod", "restart the API server"]


def table(faults: dict[str, dict[str, object]]) -> str:
    rows = ["| fault | requests | failed | fewest ready endpoints | rollout | measured |",
            "| --- | --- | --- | --- | --- | --- |"]
    for name in [n for n in ORDER if n in faults]:
        r: dict[str, object] = faults[name]
        detail: dict[str, object] = r.get("detail") or {}  # type: ignore[assignment]
        failed = str(r["failed"])
        if r.get("failed_window_s"):
            _, hi = r["failed_window_s"]  # type: ignore[misc]
            failed += f" (all in the {hi:.1f} s its endpoint was still listed)"
        if "away_s" in detail:
            name = f"{name} (serving again after {detail['away_s']} s)"
        history = " ".join(f"{v}:{o}" for _, v, o in r["history"])  # type: ignore[attr-defined]
        rows.append(f"| {name} | {r['answers']} | {failed} | {r['fewest_endpoints']} | "
                    f"Promoted after {r['promoted_after_s']} s; history {history} | "
                    f"{r['commit']}, {str(r['date'])[:10]} |")
    return "\n".join(rows)


def main() -> None:
    text = DOC.read_text()
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    faults = json.loads(RESULTS.read_text())["faults"]
    DOC.write_text(f"{head}{START}\n{table(faults)}\n{END}{tail}")
    print(table(faults))


if __name__ == "__main__":
    main()
