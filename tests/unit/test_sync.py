"""Where the start-up count looks: the namespaces kopf was told to watch."""

from __future__ import annotations

from modelops.handlers.sync import kopf_namespaces


def test_namespaces_come_from_kopfs_own_options() -> None:
    assert kopf_namespaces(["kopf", "run", "-m", "modelops.handlers", "--all-namespaces"]) == []
    argv = ["kopf", "run", "--namespace", "a", "--namespace=b", "-n", "c", "-nd", "-n=e",
            "--standalone"]
    assert kopf_namespaces(argv) == ["a", "b", "c", "d", "e"]
    assert kopf_namespaces(["kopf", "run", "--namespace"]) == []  # kopf itself refuses that
