"""Data read at run time (spec.training.data, spec.evaluation.data) and what each run records
of it: the fetcher's report and the image the kubelet ran (a version's lineage)."""

from __future__ import annotations

import json
from typing import Any

from modelops.training.output import JobOutput, job_output
from modelops.versions.plan import Observed, plan
from tests.unit.test_training_plan import NOW, S, cond, job, mv

DIGEST = "sha256:" + "ab" * 32
FETCHED = {"uri": "s3://data/iris/2026-12-06/", "digest": DIGEST, "files": 2}
EVAL = {"image": "e", "command": ["python", "eval.py"], "gates": [{"metric": "accuracy",
                                                                 "min": 0.9}]}


def pod(name: str, message: str, report: dict[str, Any] | None,
        image_id: str = "localhost/modelops/trainer@sha256:" + "cd" * 32) -> dict[str, Any]:

    init = [{"name": "fetch-data", "state": {"terminated": {
        "exitCode": 0, "message": json.dumps(report)}}}] if report else []
    return {"metadata": {"name": name}, "status": {
        "initContainerStatuses": init,
        "containerStatuses": [{"name": "c", "image": "localhost/x:1", "imageID": image_id,
                               "state": {"terminated": {"exitCode": 0, "message": message}}}]}}


def test_the_data_is_fetched_into_every_pod_of_the_gang_and_the_eval_pod() -> None:
    body = mv(nodes=2, data={"uri": "s3://data/iris/", "credentialsSecret": "data-creds"},
              credentialsSecret="s3", evaluation={**EVAL, "data": {
                  "uri": "s3://data/iris/latest/", "digest": DIGEST}, "queueName": "eval"})
    p = plan(body, Observed(), S, NOW)
    pod_spec = p.create[1]["spec"]["template"]["spec"]
    [fetch] = pod_spec["initContainers"]
    assert fetch["name"] == "fetch-data" and fetch["args"] == ["s3://data/iris/", "/mnt/data"]
    assert fetch["envFrom"] == [{"secretRef": {"name": "data-creds"}}]  # its own Secret
    assert fetch["securityContext"]["allowPrivilegeEscalation"] is False
    env = {e["name"]: e.get("value") for e in pod_spec["containers"][0]["env"]}
    assert (env["DATA_DIR"], env["DATA_URI"]) == ("/mnt/data", "s3://data/iris/")
    assert {"name": "data", "mountPath": "/mnt/data", "readOnly": True} in pod_spec[
        "containers"][0]["volumeMounts"]

    # Trained: the plan asks for the pods' output once, and records what the gang read.
    body = {**body, "status": p.status}
    jobs = {"llm-7-train-1": job("llm-7-train-1", "Complete")}
    p = plan(body, Observed(jobs=jobs), S, NOW)
    assert p.needs_output_of == "llm-7-train-1" and p.create == []
    out = job_output([pod("llm-7-train-1-1-x", "", FETCHED), pod("llm-7-train-1-0-x", "", {
        **FETCHED, "files": 3})])
    p = plan(body, Observed(jobs=jobs, output=out), S, NOW)
    t = p.status["training"]
    assert t["data"] == {**FETCHED, "files": 3}  # pod 0 speaks for the gang
    assert t["image"] == {"image": "t", "imageID": "localhost/modelops/trainer@sha256:"
                          + "cd" * 32}
    assert cond(p, "Trained")["status"] == "True"

    # The evaluation: its data pinned, its Job queued in Kueue (suspended, labelled).
    [ev_job] = p.create
    assert ev_job["spec"]["suspend"] is True
    assert ev_job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "eval"
    inits = ev_job["spec"]["template"]["spec"]["initContainers"]
    assert [c["name"] for c in inits] == ["fetch-model", "fetch-data"]
    assert {"name": "MODEL_DIGEST", "value": DIGEST} in inits[1]["env"]
    assert inits[1]["envFrom"] == [{"secretRef": {"name": "s3"}}]  # the model's, by default
    body = {**body, "status": p.status}
    jobs["llm-7-eval"] = {**job("llm-7-eval", None), "suspend": True, "workload": None}
    assert cond(plan(body, Observed(jobs=jobs), S, NOW), "Evaluated")["reason"] == "Queued"

    jobs["llm-7-eval"] = job("llm-7-eval", "Complete")
    p = plan(body, Observed(jobs=jobs, output=job_output([pod(
        "llm-7-eval-x", '{"accuracy": 0.95}', FETCHED)])), S, NOW)
    assert p.status["evaluation"]["data"] == FETCHED
    assert p.status["evaluation"]["passed"] is True


def test_data_on_a_claim_is_mounted_and_recorded_without_a_digest() -> None:
    p = plan(mv(data={"uri": "pvc://datasets/iris"}), Observed(), S, NOW)
    pod_spec = p.create[1]["spec"]["template"]["spec"]
    assert "initContainers" not in pod_spec
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "datasets",
                                                       "readOnly": True}} in pod_spec["volumes"]
    assert {"name": "data", "mountPath": "/mnt/data", "readOnly": True,
            "subPath": "iris"} in pod_spec["containers"][0]["volumeMounts"]


def test_the_output_of_pods_that_left_nothing_is_empty() -> None:
    assert job_output([]) == JobOutput([])
    bare = {"metadata": {"name": "p"}, "status": {"initContainerStatuses": [
        {"name": "fetch-data", "state": {"terminated": {"exitCode": 0, "message": "x"}}}]}}
    assert job_output([bare]) == JobOutput([], None, None)  # a report that is not JSON
