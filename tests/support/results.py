"""Results of the chaos tests (`make chaos`), written one entry at a time into
bench/results/NAME.json with the commit and date of each entry: the docs' figures come from
these files (bench/figures.py), not from a test's printout."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"


def record(name: str, group: str, key: str, entry: dict[str, Any]) -> None:
    path = RESULTS / f"{name}.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    data.setdefault(group, {})[key] = {
        **entry, "commit": commit, "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
