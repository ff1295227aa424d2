"""The Argo CD health scripts, run by a real Lua interpreter on real objects from the cluster."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops.api.phases import TONES, PolicyPhase, VersionPhase
from tests.support.kube import Kube
from tests.support.manifests import model_version, served
from tests.support.operator import OperatorProcess
from tests.support.rollout import Model
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
HEALTH = Path(__file__).resolve().parents[2] / "deploy" / "argocd"


def lua_literal(value: Any) -> str:
    """JSON -> a Lua table constructor (Argo CD hands scripts the object as such a table)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{json.dumps(k)}] = {lua_literal(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "{" + ", ".join(lua_literal(v) for v in value) + "}"
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def health(kind: str, obj: dict[str, Any]) -> tuple[str, str]:
    lua = shutil.which("lua5.4")
    assert lua, "lua5.4 is not installed: run hack/install-debs.sh (make test does)"
    script = (HEALTH / "health" / f"modelops.io_{kind}.lua").read_text()
    program = (f"local obj = {lua_literal(obj)}\n"
               f"local hs = (function(obj)\n{script}\nend)(obj)\n"
               "io.write(hs.status, '\\t', hs.message or '')\n")
    r = subprocess.run([lua, "-"], input=program, capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    status, _, message = r.stdout.partition("\t")
    return status, message


def test_configmap_patch_embeds_the_scripts() -> None:
    cm = yaml.safe_load((HEALTH / "argocd-cm-patch.yaml").read_text())
    assert set(cm) == {"apiVersion", "kind", "metadata", "data"}
    assert cm["metadata"] == {"name": "argocd-cm"}  # a patch: no labels or other fields of it
    for kind in ("ModelVersion", "UpdatePolicy"):
        embedded = cm["data"][f"resource.customizations.health.modelops.io_{kind}"]
        assert embedded == (HEALTH / "health" / f"modelops.io_{kind}.lua").read_text()


def test_modelversion_health(kube: Kube, operator: OperatorProcess, namespace: str) -> None:
    assert health("ModelVersion", {"metadata": {"generation": 1}})[0] == "Progressing"
    kube.create(namespace, served("ok", "m", "1"))
    wait_for(lambda: ((kube.get_mv(namespace, "ok") or {}).get("status") or {}).get("phase")
             == "Ready", what="ok Ready")
    # creationTimestamp has whole seconds and ties go by name: created in the same second,
    # "dup" would be the holder and "ok" the duplicate.
    created = datetime.fromisoformat((kube.get_mv(namespace, "ok") or {})["metadata"][
        "creationTimestamp"].replace("Z", "+00:00"))
    wait_for(lambda: datetime.now(UTC) >= created + timedelta(seconds=1.05),
             what="a later second")
    kube.create(namespace, served("dup", "m", "1"))
    kube.create(namespace, model_version(
        "train", "t", "1", artifact=None,
        training={"image": "t", "command": ["x"], "outputURI": "s3://o",
                  "podAnnotations": {"pod-complete.stage.kwok.x-k8s.io/delay": "3600s"}}))

    def phase(name: str) -> str | None:
        return ((kube.get_mv(namespace, name) or {}).get("status") or {}).get("phase")
    wait_for(lambda: phase("ok") == "Ready" and phase("dup") == "Failed"
             and phase("train") == "Training", what="three phases")
    assert health("ModelVersion", kube.get_mv(namespace, "ok") or {}) == ("Healthy", "Ready")
    status, message = health("ModelVersion", kube.get_mv(namespace, "dup") or {})
    assert status == "Degraded" and message.startswith("Valid: version '1' of model 'm'")
    status, message = health("ModelVersion", kube.get_mv(namespace, "train") or {})
    assert status == "Progressing" and message == "Training: step train, attempt 1"


def test_updatepolicy_health(kube: Kube, operator: OperatorProcess, namespace: str) -> None:
    m = Model(kube, namespace)
    m.version("1")
    m.version("2")
    m.policy(targetVersion="1", replicas=2,
             strategy={"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}})
    m.wait("promoted", phase="Promoted")
    assert health("UpdatePolicy", kube.get_up(namespace, "m") or {})[0] == "Healthy"
    m.patch({"targetVersion": "2"})
    m.wait("paused", phase="Paused")
    assert health("UpdatePolicy", kube.get_up(namespace, "m") or {}) == (
        "Suspended", "step 2/2: paused until promoted")
    m.act("abort")
    m.wait("aborted", phase="Degraded")
    assert health("UpdatePolicy", kube.get_up(namespace, "m") or {})[0] == "Degraded"
    m.patch({"targetVersion": "1"})
    wait_for(lambda: health("UpdatePolicy", kube.get_up(namespace, "m") or {})[0] == "Healthy",
             what="healthy once the target is what serves")


def test_updatepolicy_health_pure_cases() -> None:
    promoted = {"phase": "Promoted", "stableVersion": "2", "observedGeneration": 5}
    behind = {"metadata": {"generation": 6}, "spec": {"targetVersion": "3"}, "status": promoted}
    assert health("UpdatePolicy", behind) == (
        "Progressing", "Waiting for the operator to see the latest spec")
    held = {"metadata": {"generation": 5}, "spec": {"targetVersion": "2"},
            "status": {**promoted, "phase": "RolledBack", "stableVersion": "1",
                       "hold": {"version": "1", "target": "2"}, "message": "held on 1 ..."}}
    assert health("UpdatePolicy", held) == ("Degraded", "held on 1 ...")


ARGO_HEALTH = {"ok": "Healthy", "idle": "Healthy", "busy": "Progressing", "bad": "Degraded"}


@pytest.mark.parametrize("kind", ["ModelVersion", "UpdatePolicy"])
def test_every_phase_of_the_enumeration_has_the_health_its_tone_says(kind: str) -> None:
    phases = VersionPhase if kind == "ModelVersion" else PolicyPhase
    # A version that waits is on its way (Progressing); a policy that waits waits for a
    # person (Suspended).
    waiting = "Progressing" if kind == "ModelVersion" else "Suspended"
    for phase in phases:
        obj = {"metadata": {"generation": 1}, "spec": {},
               "status": {"phase": str(phase), "observedGeneration": 1}}
        want = ARGO_HEALTH.get(TONES[phase], waiting)
        assert health(kind, obj)[0] == want, (phase, TONES[phase])
