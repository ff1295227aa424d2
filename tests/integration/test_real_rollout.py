"""A canary on the real node, where pods take seconds to fetch, load and pass their probe:
each weight step waits for ready replicas, the last step for the canary at full size, and the
stable Service answers only from the promoted version at the end."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.integration.test_real_serving import predict, serving
from tests.support import node
from tests.support.kube import Kube
from tests.support.manifests import model_version
from tests.support.rollout import Model
from tests.support.shipped import ShippedOperator
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.real_node]


@pytest.fixture
def operator(shipped_operator: ShippedOperator) -> ShippedOperator:
    """These run against the operator as users install it (Helm, its image, its pod)."""
    return shipped_operator


def test_a_canary_on_real_pods_waits_for_them_at_every_step(
        kube: Kube, namespace: str, operator: Any) -> None:
    url, data = node.serve_example_model(kube, namespace)
    artifact = {"uri": url, "digest": "sha256:" + hashlib.sha256(data).hexdigest()}
    for v in ("1", "2"):
        kube.create(namespace, model_version(f"iris-v{v}", "iris", v, artifact=artifact,
                                             serving=serving()))
    m = Model(kube, namespace, "iris")
    m.policy(targetVersion="1", replicas=2, service={"name": "iris", "port": 80},
             strategy={"canary": {"steps": [{"setWeight": 50}, {"pause": {"duration": "3s"}}]}})
    m.wait("v1 stable", timeout=180, stableVersion="1", phase="Promoted")
    m.patch({"targetVersion": "2"})
    seen: list[tuple[Any, ...]] = []

    def record() -> dict[str, Any] | None:
        st = m.status()
        mv2 = ((kube.get_mv(namespace, "iris-v2") or {}).get("status") or {}).get(
            "serving") or {}
        row = (st.get("phase"), st.get("currentStepIndex"), st.get("canaryWeight"),
               st.get("actualCanaryWeight"), mv2.get("readyReplicas"))
        if not seen or seen[-1] != row:
            seen.append(row)
        return st if st.get("phase") == "Promoted" and st.get("stableVersion") == "2" else None

    wait_for(record, timeout=240, interval=0.2, what="version 2 promoted")
    # The 50% step was left only once a canary pod was really ready (actual weight 50)...
    past_weight = [r for r in seen if r[0] == "Progressing" and (r[1] or 0) >= 1]
    assert past_weight and all(r[3] == 50 and (r[4] or 0) >= 1 for r in past_weight
                               if r[2] == 50), seen
    # ... then the implied last step ran the canary at full size, and it was promoted with
    # both of its replicas ready.
    assert any(r[2] == 100 for r in seen) and seen[-1][4] == 2, seen
    # The old stable's pods leave the Service's endpoints a moment after the promotion is
    # written (the scale-down, then kube-proxy), so until then some answers may still be
    # version 1; after that, every answer is version 2.
    answers: list[str] = []

    def only_v2() -> bool:
        answers.append(predict(kube, namespace, "iris", 80, "iris")["model_version"])
        return answers[-5:] == ["2"] * 5

    wait_for(only_v2, timeout=60, interval=0.2, what="only version 2 answering")
    assert set(answers) <= {"1", "2"}, answers
