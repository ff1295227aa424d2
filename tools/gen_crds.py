"""Write crds/*.yaml (and the chart's copies) from the pydantic models; --check only compares."""

from __future__ import annotations

import sys
from pathlib import Path

from modelops.api.crd import crds, peering_crds, render

ROOT = Path(__file__).resolve().parent.parent
TARGETS = [ROOT / "crds", ROOT / "charts" / "modelops" / "crds"]


def main() -> int:
    check = "--check" in sys.argv
    stale = []
    for name, obj in {**crds(), **peering_crds()}.items():
        text = render(obj)
        for folder in TARGETS:
            path = folder / name
            if check:
                if not path.exists() or path.read_text() != text:
                    stale.append(str(path.relative_to(ROOT)))
            else:
                folder.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    if stale:
        print("stale CRDs (run `make crds`): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
