"""`kubectl modelops lineage`: a model's versions as a tree of parents with what each was
trained and evaluated on, by digest; and the lineage section of `compare`."""

from __future__ import annotations

from typing import Any

from modelops.cli.compare import compare_rows
from modelops.cli.lineage import facts, short, tree

D1, D2, E2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64, "sha256:" + "e" * 64
IMAGE = "localhost/modelops/trainer@sha256:" + "9" * 64


def mv(version: str, created: str, parent: str | None = None, data: str | None = None,
       accuracy: float | None = None, retrained: bool = False) -> dict[str, Any]:
    st: dict[str, Any] = {"phase": "Ready"}
    if data:
        st["training"] = {"data": {"uri": "s3://data/iris/train/", "digest": data},
                          "image": {"image": "trainer:dev", "imageID": IMAGE}}
    if accuracy is not None:
        st["evaluation"] = {"metrics": {"accuracy": accuracy}, "passed": accuracy >= 0.85,
                            "data": {"uri": "s3://data/iris/eval/", "digest": E2}}
    meta: dict[str, Any] = {"name": f"iris-{version}", "creationTimestamp": created}
    if retrained:
        meta["labels"] = {"modelops.io/retrained-by": "iris"}
    return {"metadata": meta, "spec": {"model": "iris", "version": version,
                                       **({"parentVersion": parent} if parent else {})},
            "status": st}


def test_versions_hang_under_their_parents_oldest_first() -> None:
    versions = [
        mv("r2", "2026-12-06T12:30:00Z", parent="r1", data=D2, accuracy=0.93, retrained=True),
        mv("1", "2026-12-06T10:00:00Z", data=D1, accuracy=0.99),
        mv("r1", "2026-12-06T12:00:00Z", parent="1", data=D2, accuracy=0.92, retrained=True),
        mv("2", "2026-12-06T11:00:00Z", parent="1"),
        mv("x", "2026-12-06T09:00:00Z", parent="gone"),
    ]
    lines = tree(versions)
    assert [line.lstrip("├└─│ ").split("  ")[0] for line in lines] == ["x", "1", "2", "r1",
                                                                          "r2"]
    assert lines[0].endswith("(parent gone: deleted)")
    assert lines[1].startswith("1  Ready  trained on s3://data/iris/train/ @111111111111")
    assert "image @999999999999" in lines[1]
    assert "eval passed accuracy=0.99 on @eeeeeeeeeeee" in lines[1]
    assert lines[2].startswith("├─ 2  Ready")  # 1's children: 2, then r1 (the last)
    assert lines[3].startswith("└─ r1  Ready  trained on s3://data/iris/train/ @222222222222")
    assert lines[3].endswith("retrained by iris")
    assert lines[4].startswith("   └─ r2  Ready")  # r1's child, under a last branch


def test_compare_shows_where_two_versions_came_from() -> None:
    rows = compare_rows(mv("1", "t1", data=D1, accuracy=0.99),
                        mv("r1", "t2", parent="1", data=D2, accuracy=0.92, retrained=True))
    lineage = {r["field"]: r for r in rows if r["section"] == "lineage"}
    assert lineage["trainingDataDigest"]["differs"] is True
    assert (lineage["parentVersion"]["a"], lineage["parentVersion"]["b"]) == (None, "1")
    assert lineage["trainerImageID"]["differs"] is False
    assert short(D1) == "111111111111" and short(None) == "-"
    assert facts({"spec": {}, "status": {}}) == {}
